"""The verification report: each item a function of explicit inputs, returning a :class:`Finding`.

Item ids are stable (they appear in ``--json``): ``insights.answers``, ``api.health``,
``jenkins.tunnel``, ``jenkins.jobs``, ``jenkins.not_public``, ``files.present``,
``creds.bucket``, ``ledger.complete``. :func:`to_markdown` and :func:`to_json` render a list of
findings; :func:`save` writes ``.wizard/report.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from .aws import Aws, AwsError
from .documents import PLACEHOLDER_NOTE, is_placeholder
from .findings import FAIL, PASS, WARN, Finding, failed, passed, warned
from .fsutil import atomic_write
from .jenkins_tunnel import JenkinsError, jenkins_version
from .webprobe import HTTP_TIMEOUT, fetch, reason

REPORT_FILE = ".wizard/report.md"
ITEMS = (
    "insights.answers",
    "api.health",
    "jenkins.tunnel",
    "jenkins.jobs",
    "jenkins.not_public",
    "files.present",
    "creds.bucket",
    "ledger.complete",
)
CREDS = ("edxapp_creds", "edxanalytics_creds")
OUTSIDE_TIMEOUT = 5.0  # a port closed by a security group drops packets: wait this long at most
MAX_LOGIN_HOPS = 5


# --- Insights -----------------------------------------------------------------------------


def insights_answers(base_url: str, lms_host: str, timeout: float = HTTP_TIMEOUT) -> Finding:
    """``insights.answers``: Insights answers at its URL and sends logins to the LMS."""
    item = "insights.answers"
    service_fix = (
        "on the analytics host check the insights service (sudo /edx/bin/supervisorctl status "
        "insights) and nginx; from outside, the DNS record and that the security group opens "
        "80/443"
    )
    try:
        home = fetch(base_url, timeout=timeout, proxies=True)
    except OSError as exc:
        return failed(item, f"Insights does not answer at {base_url} ({reason(exc)})", service_fix)
    if home.status >= 500:
        return failed(
            item,
            f"Insights answers at {base_url} with HTTP {home.status} (its application is down "
            "behind nginx)",
            "see /edx/var/log/insights/ on the analytics host and restart it (sudo "
            "/edx/bin/supervisorctl restart insights)",
        )
    if home.status >= 400:
        return failed(
            item,
            f"Insights answers at {base_url} with HTTP {home.status}",
            "check insights.base_url (INSIGHTS_BASE_URL) and nginx's insights site",
        )
    url = urljoin(base_url.rstrip("/") + "/", "login/")
    origin = urlsplit(base_url).netloc
    for _ in range(MAX_LOGIN_HOPS):
        try:
            answer = fetch(url, timeout=timeout, proxies=True)
        except OSError as exc:
            return failed(
                item, f"Insights' login {url} does not answer ({reason(exc)})", service_fix
            )
        target = answer.location
        if answer.status not in (301, 302, 303, 307, 308) or not target:
            break
        target = urljoin(url, target)
        where = urlsplit(target)
        if where.hostname == lms_host:
            return passed(
                item,
                f"Insights answers at {base_url} (HTTP {home.status}) and sends logins to the "
                f"LMS ({lms_host})",
            )
        if where.netloc != origin:
            return warned(
                item,
                f"Insights answers, but its login goes to {where.netloc}, not the LMS {lms_host}",
                "check INSIGHTS_LMS_BASE / INSIGHTS_OAUTH2_URL_ROOT in vars-analytics.yml "
                "(edxapp.lms_host, edxapp.scheme) and run the services playbook again",
            )
        url = target
    return warned(
        item,
        f"Insights answers at {base_url}, but its login does not lead to the LMS ({lms_host})",
        "check the OAuth2 settings (INSIGHTS_OAUTH2_*; the Insights client must be registered "
        "in the LMS) and that INSIGHTS_ENABLE_AUTO_AUTH is false",
    )


# --- Analytics API ------------------------------------------------------------------------


def api_health(url: str, timeout: float = HTTP_TIMEOUT) -> Finding:
    """``api.health``: the Analytics API's health endpoint says OK."""
    item = "api.health"
    try:
        answer = fetch(url, timeout=timeout)
    except OSError as exc:
        return failed(
            item,
            f"the Analytics API does not answer at {url} ({reason(exc)})",
            "on the analytics host check the API (sudo /edx/bin/supervisorctl status "
            "analytics_api) and nginx; analytics_api.port must be its nginx port (18100)",
        )
    try:
        data = json.loads(answer.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        data = None
    status = data.get("overall_status") if isinstance(data, dict) else None
    details = data.get("detailed_status") if isinstance(data, dict) else None
    if answer.status == 200 and status == "OK":
        return passed(item, f"the Analytics API is healthy ({url})")
    if status is None:
        return failed(
            item,
            f"{url} answers HTTP {answer.status} without the API's health status",
            "check analytics_api.port: it must reach the Analytics API's nginx site",
        )
    broken = (
        ", ".join(f"{k}: {v}" for k, v in details.items() if v != "OK")
        if isinstance(details, dict)
        else ""
    )
    database = isinstance(details, dict) and details.get("database_connection") not in (None, "OK")
    return failed(
        item,
        f"the Analytics API reports {status} (HTTP {answer.status})"
        + (f": {broken}" if broken else ""),
        "the API cannot reach its database: check ANALYTICS_MYSQL_HOST/USER/PASSWORD in "
        "vars-analytics.yml against the database step, and that the RDS security group admits "
        "the analytics instance"
        if database
        else "see /edx/var/log/analytics_api/ on the analytics host",
    )


# --- Jenkins ------------------------------------------------------------------------------


def jenkins_tunnel(url: str | None, problem: str = "", timeout: float = HTTP_TIMEOUT) -> Finding:
    """``jenkins.tunnel``: Jenkins answers at the tunnel's URL with its ``X-Jenkins`` header.

    ``url`` is None when no tunnel could be opened; ``problem`` then says why (one sentence and
    the fix, as :func:`wizard.errors.explain` gives it)."""
    item = "jenkins.tunnel"
    if url is None:
        return failed(item, problem or "no tunnel to Jenkins could be opened", "see the finding")
    try:
        version = jenkins_version(url, timeout)
    except JenkinsError as exc:
        return failed(item, exc.message, exc.fix)
    return passed(item, f"Jenkins {version} answers at {url}")


def jenkins_jobs(
    declared: Sequence[str], existing: Iterable[str] | None, problem: str = ""
) -> Finding:
    """``jenkins.jobs``: every job declared in jenkins/jobs.yml exists in Jenkins."""
    item = "jenkins.jobs"
    if existing is None:
        return failed(item, problem or "the job list could not be read", "see jenkins.tunnel")
    have = set(existing)
    missing = [name for name in declared if name not in have]
    if missing:
        return failed(
            item,
            f"{len(missing)} of the {len(declared)} declared job(s) are missing in Jenkins: "
            + ", ".join(missing),
            "run the jenkins step (it creates the jobs of jenkins/jobs.yml)",
        )
    if not declared:
        return warned(item, "jenkins/jobs.yml declares no job", "run the jenkins step")
    return passed(item, f"all {len(declared)} declared jobs exist in Jenkins")


@dataclass(frozen=True)
class OutsideProbe:
    """One way the world could reach Jenkins: ``http://address:port/`` with ``Host: host``."""

    address: str
    port: int
    host: str | None = None

    @property
    def label(self) -> str:
        shown = f"[{self.address}]" if ":" in self.address else self.address
        return f"{shown}:{self.port}" + (f" (Host: {self.host})" if self.host else "")


def outside_probes(
    public_addresses: Iterable[str],
    jenkins_port: int,
    nginx_port: int,
    server_name: str | None,
    insights_ports: Sequence[int] = (80,),
) -> list[OutsideProbe]:
    """Jenkins' own port and its nginx port on each public address, and the Insights port with
    Jenkins' server name (nginx would route that to Jenkins)."""
    probes = []
    for address in public_addresses:
        probes.append(OutsideProbe(address, jenkins_port))
        probes.append(OutsideProbe(address, nginx_port, server_name))
        if server_name:
            probes.extend(OutsideProbe(address, port, server_name) for port in insights_ports)
    return probes


def jenkins_not_public(probes: Sequence[OutsideProbe], timeout: float = OUTSIDE_TIMEOUT) -> Finding:
    """``jenkins.not_public``: the unprotected Jenkins does not answer from outside."""
    item = "jenkins.not_public"
    if not probes:
        return warned(
            item,
            "no public address of the analytics instance is known, so nothing was tried",
            "set infrastructure.analytics_public_ips (or run the terraform step)",
        )
    exposed = []
    for probe in probes:
        host = f"[{probe.address}]" if ":" in probe.address else probe.address
        try:
            answer = fetch(f"http://{host}:{probe.port}/", host=probe.host, timeout=timeout)
        except OSError:
            continue  # refused or dropped: not reachable, as it should be
        if "x-jenkins" in answer.headers:
            exposed.append(probe)
    if not exposed:
        tried = ", ".join(p.label for p in probes)
        return passed(item, f"Jenkins does not answer from outside (tried {tried})")
    fixes = []
    if any(p.host is None for p in exposed):
        fixes.append(
            "remove the world-open rule for Jenkins' port from the analytics security group "
            "(the playbooks step's Jenkins gate offers to)"
        )
    if any(p.host is not None for p in exposed):
        fixes.append(
            "move nginx's jenkins site off public ports: set jenkins.nginx_port to 8081, run the "
            "Jenkins playbook again and remove /etc/nginx/sites-enabled/jenkins if it stays"
        )
    return failed(
        item,
        "the unprotected Jenkins answers from outside at " + ", ".join(p.label for p in exposed),
        "; ".join(fixes) + " — right away: anyone can run anything on it",
    )


# --- the secure repo ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedFile:
    """A file the files step writes: its path in the secure repo and whether it holds secrets."""

    path: str
    secret: bool


_VALUE_X = re.compile(r"""(?:^|[:=]\s*)(['"]?)x\1\s*(?:#.*)?$""")
_KEY = re.compile(r"""^\s*(?:export\s+)?["']?([A-Za-z0-9_.-]+)["']?\s*[:=]""")


def placeholders(text: str, kind: str) -> list[str]:
    """Where ``text`` still holds a value left for the operator (the runbook's ``'x'  # TODO``),
    as "line N (KEY)" — never the value itself."""
    found = []
    if kind == "json":
        try:
            data = json.loads(text)
        except ValueError:
            return ["the file is not valid JSON"]
        if isinstance(data, dict):
            return [key for key, value in data.items() if is_placeholder(value)]
        return ["the file is not a JSON object"]
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if PLACEHOLDER_NOTE.search(line) or _VALUE_X.search(stripped) or "SET ME" in line:
            key = _KEY.match(line)
            found.append(f"line {number}" + (f" ({key.group(1)})" if key else ""))
    return found


def _kind(path: str) -> str:
    if path.endswith(("_creds", ".json")):
        return "json"
    return "text"


def files_present(repo: Path, expected: Sequence[ExpectedFile]) -> Finding:
    """``files.present``: the secure-repo files exist, secrets are 0600 in 0700 directories, and
    no placeholder is left."""
    item = "files.present"
    problems: list[str] = []
    fixes: set[str] = set()
    for spec in expected:
        path = repo / spec.path
        if not path.is_file():
            problems.append(f"{spec.path} is missing")
            fixes.add("run the files step")
            continue
        mode = path.stat().st_mode & 0o777
        if spec.secret and mode & 0o077:
            problems.append(f"{spec.path} is readable by others (mode {mode:o})")
            fixes.add(f"chmod 600 {spec.path}")
        parent = path.parent
        if spec.secret and parent != repo and parent.stat().st_mode & 0o077:
            problems.append(f"{parent.relative_to(repo)}/ is open to others")
            fixes.add(f"chmod 700 {parent.relative_to(repo)}")
        left = placeholders(path.read_text(encoding="utf-8", errors="replace"), _kind(spec.path))
        if left:
            problems.append(f"{spec.path} still has placeholders: {', '.join(left)}")
            fixes.add("answer those values and run the files step (or edit the file)")
    if problems:
        return failed(item, "; ".join(problems), "; ".join(sorted(fixes)))
    return passed(
        item, f"all {len(expected)} files are present, private where they hold secrets, filled in"
    )


# --- the creds in the pipeline bucket -------------------------------------------------------


def creds_bucket(aws: Aws, bucket: str, local_dir: Path | None = None) -> Finding:
    """``creds.bucket``: edxapp_creds and edxanalytics_creds are in the pipeline bucket,
    server-side encrypted, and (when comparable) the same as the secure repo's."""
    item = "creds.bucket"
    upload = (
        f"upload them encrypted: aws s3 cp analytics-tasks/<name> s3://{bucket}/<name> --sse "
        "AES256 (the playbooks step does it)"
    )
    try:
        aws.call("s3", "head_bucket", Bucket=bucket)
    except AwsError as exc:
        if exc.code in ("404", "NoSuchBucket"):
            return failed(
                item,
                f"the pipeline bucket {bucket} does not exist",
                "run the terraform step (it creates the bucket)",
            )
        return failed(item, exc.message, exc.fix)
    problems, warnings = [], []
    for name in CREDS:
        try:
            head = aws.call("s3", "head_object", Bucket=bucket, Key=name)
        except AwsError as exc:
            if exc.code in ("404", "NoSuchKey"):
                problems.append(f"{name} is not in s3://{bucket}/")
                continue
            return failed(item, exc.message, exc.fix)
        encryption = head.get("ServerSideEncryption")
        if not encryption:
            problems.append(f"s3://{bucket}/{name} is not encrypted")
            continue
        # A single-part SSE-S3 object's ETag is its MD5: compare without downloading secrets.
        local = local_dir / name if local_dir is not None else None
        etag = str(head.get("ETag", "")).strip('"')
        comparable = encryption == "AES256" and "-" not in etag
        if comparable and local is not None and local.is_file() and _md5(local) != etag:
            warnings.append(f"s3://{bucket}/{name} differs from analytics-tasks/{name}")
    if problems:
        return failed(item, "; ".join(problems), upload)
    if warnings:
        return warned(item, "; ".join(warnings), upload.replace("upload them", "upload them again"))
    return passed(item, f"{' and '.join(CREDS)} are in s3://{bucket}/, server-side encrypted")


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


# --- the ledger -----------------------------------------------------------------------------


class StepState(Protocol):
    """A step's state as ``Session.status()`` gives it."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def reason(self) -> str: ...


def ledger_complete(states: Iterable[StepState], exclude: Sequence[str] = ("report",)) -> Finding:
    """``ledger.complete``: every earlier step is done (and still in place)."""
    item = "ledger.complete"
    undone = [s for s in states if s.name not in exclude and s.state != "done"]
    if undone:
        return failed(
            item,
            "not done: " + "; ".join(f"{s.name} ({s.state}: {s.reason})" for s in undone),
            "run those steps (analytics-wizard status shows why each is not done)",
        )
    return passed(item, "every earlier step is done")


# --- rendering ------------------------------------------------------------------------------

LABEL = {PASS: "PASS", WARN: "WARN", FAIL: "FAIL"}


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {verdict: sum(f.verdict == verdict for f in findings) for verdict in (PASS, WARN, FAIL)}


def to_json(findings: Sequence[Finding], generated: dt.datetime | None = None) -> dict[str, Any]:
    """The report as one JSON document (the same check shape as ``run``/``status --json``)."""
    tally = counts(findings)
    return {
        "ok": tally[FAIL] == 0,
        "generated": (generated or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "passed": tally[PASS],
        "warnings": tally[WARN],
        "failed": tally[FAIL],
        "checks": [f.to_json() for f in findings],
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(
    findings: Sequence[Finding], title: str = "", generated: dt.datetime | None = None
) -> str:
    """The report as markdown: a table of every item, then what to fix."""
    tally = counts(findings)
    when = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Verification report{f' — {title}' if title else ''}",
        "",
        f"{when} · {tally[PASS]} passed, {tally[WARN]} warnings, {tally[FAIL]} failed",
        "",
        "| item | verdict | finding |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{f.id}` | {LABEL[f.verdict]} | {_cell(f.finding)} |" for f in findings]
    todo = [f for f in findings if f.verdict != PASS]
    if todo:
        lines += ["", "## What to fix", ""]
        lines += [f"- **`{f.id}`** ({LABEL[f.verdict]}): {f.finding}. Fix: {f.fix}" for f in todo]
    else:
        lines += ["", "Everything checked works."]
    return "\n".join(lines) + "\n"


def save(repo: Path, findings: Sequence[Finding], title: str = "") -> Path:
    """Write ``.wizard/report.md`` (atomically) and return its path."""
    path = repo / REPORT_FILE
    atomic_write(path, to_markdown(findings, title))
    return path
