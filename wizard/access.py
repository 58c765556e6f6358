"""The Jenkins tunnel and the verification report wired to a secure repo's answers, and the
``analytics-wizard tunnel`` and ``analytics-wizard report`` commands.

The jenkins and report steps call the same functions (:func:`open_jenkins_tunnel`,
:func:`diagnose_jenkins`, :func:`jobs_yaml`, :func:`collect_report`), so the commands and the steps
read the answers the same way.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from . import exit_codes, jenkins_jobs, report, ssh
from .answers import AnswersError
from .aws import Target
from .engine import Session
from .errors import UsageError, WizardError, explain
from .findings import FAIL, Finding, failed
from .jenkins_tunnel import (
    CLOSED,
    UP,
    JenkinsHost,
    JenkinsTunnel,
    JenkinsUnreachable,
    OnState,
    check_direct,
    diagnose,
    director,
    director_public_address,
    laptop_command,
    nginx_port_clash,
)
from .steps.base import StepError

INSIGHTS_PORTS = (80,)  # where Insights' nginx serves HTTP (the Jenkins site must stay off it)


# --- answers ------------------------------------------------------------------------------


def _get(session: Session, key: str) -> Any:
    return session.resolved.get(key)


def analytics_address(session: Session) -> str:
    """The analytics instance Jenkins runs on: the first private IP (terraform's output, or
    ``infrastructure.analytics_private_ips``)."""
    ips = _get(session, "infrastructure.analytics_private_ips") or []
    if not ips:
        raise UsageError(
            "the analytics instance's private IP is not known",
            "run the terraform step, or set infrastructure.analytics_private_ips in the answers",
        )
    return str(ips[0])


def jenkins_host(session: Session) -> JenkinsHost:
    return JenkinsHost(analytics_address(session), int(_get(session, "jenkins.port")))


def director_jump(session: Session) -> ssh.JumpHost | None:
    """The director as the tunnel's jump host; None when the wizard runs on the director."""
    host = _get(session, "director.host")
    if not host:
        return None
    return director(
        str(host),
        int(_get(session, "director.port")),
        str(_get(session, "director.user")),
        str(_get(session, "director.key_file")),
        str(_get(session, "director.known_hosts")),
    )


def analytics_ssh(session: Session) -> ssh.JumpHost | None:
    """SSH access to the analytics host (for diagnostics), or None without its key file."""
    key = Path(str(_get(session, "ansible.private_key"))).expanduser()
    if not key.is_absolute():
        key = session.repo / key
    if not key.is_file():
        return None
    return ssh.JumpHost(
        analytics_address(session),
        int(_get(session, "ansible.ssh_port")),
        str(_get(session, "ansible.ssh_user")),
        str(key),
        str(_get(session, "ansible.known_hosts")),
        answer="ansible",
        key_answer="ansible.private_key",
    )


# --- the tunnel ---------------------------------------------------------------------------


def open_jenkins_tunnel(
    session: Session,
    *,
    on_state: OnState | None = None,
    local_port: int | None = None,
    confirm: Callable[[ssh.HostKeyUnknown], bool] | None = None,
    accept: Collection[str] = (),
) -> JenkinsTunnel:
    """The tunnel to this repo's Jenkins, opened (raises as :meth:`JenkinsTunnel.open`).

    Needs ``director.host``; on the director use :func:`check_jenkins_direct`."""
    jump = director_jump(session)
    if jump is None:
        raise UsageError(
            "director.host is not set, so there is no tunnel to open (the wizard runs on the "
            "director)",
            "use Jenkins directly from here, or set director.host to tunnel from a laptop",
        )
    port = int(local_port or _get(session, "jenkins.local_port"))
    tunnel = JenkinsTunnel(
        jump,
        jenkins_host(session),
        port,
        on_state=on_state,
        accept=accept,
        confirm=confirm,
        record=session.write or confirm is not None,
    )
    tunnel.open()
    return tunnel


def diagnose_jenkins(session: Session, accept: Collection[str] = ()) -> list[Finding]:
    """Why Jenkins does not answer (see :func:`wizard.jenkins_tunnel.diagnose`)."""
    findings = diagnose(
        jenkins_host(session),
        jump=director_jump(session),
        analytics=analytics_ssh(session),
        server_name=_get(session, "jenkins.server_name"),
        insights_port=INSIGHTS_PORTS[0],
        accept=accept,
    )
    # What the answers say about nginx's port counts too when the live look found nothing.
    planned = nginx_port_clash(int(_get(session, "jenkins.nginx_port")), (80, 443))
    live = [f for f in findings if f.id == planned.id]
    if not live:
        findings.append(planned)
    elif planned.verdict == FAIL and live[0].verdict != FAIL:
        findings[findings.index(live[0])] = planned
    return findings


def laptop_line(session: Session) -> str:
    """On the director: the ``ssh -L`` line for the operator's laptop."""
    return laptop_command(
        str(_get(session, "director.user")),
        director_public_address(),
        str(_get(session, "director.key_file")),
        jenkins_host(session),
        int(_get(session, "jenkins.local_port")),
        int(_get(session, "director.port")),
    )


# --- jobs ---------------------------------------------------------------------------------


def jobs_yaml(session: Session) -> str:
    """The secure repo's jenkins/jobs.yml, or the default one from the answers if none yet."""
    path = session.repo / jenkins_jobs.JOBS_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8")
    session.resolved.require(jenkins_jobs.INPUTS)
    return jenkins_jobs.default_jobs_yaml(jenkins_jobs.values_from(session.resolved.get))


# --- the report ---------------------------------------------------------------------------


def _problem(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, WizardError):
        return exc.message, exc.fix
    return str(exc), ""


def _item(item: str, check: Callable[[], Finding]) -> Finding:
    """One report item; an error on the way is that item's failure, not the report's."""
    try:
        return check()
    except AnswersError as exc:
        return failed(
            item,
            "; ".join(exc.problems),
            "add those answers (analytics-wizard answers-template lists every key)",
        )
    except (WizardError, StepError, ValueError, OSError) as exc:
        message, fix = _problem(exc)
        return failed(item, message, fix or "fix the cause and run the report again")


def expected_files() -> list[report.ExpectedFile]:
    from .steps import files

    return [report.ExpectedFile(f.path, f.secret) for f in files.FILES]


def pipeline_bucket(session: Session) -> str:
    found = session.ledger.output("terraform", "pipeline_bucket")
    if found:
        return str(found)
    return f"{_get(session, 'client.name')}-edx{_get(session, 'client.environment')}"


@contextmanager
def _reach(session: Session, accept: Collection[str]) -> Iterator[Callable[[int], str]]:
    """``url_of(port)``: a URL for ``<analytics ip>:<port>`` from here — a forward through the
    director, or the address itself on the director."""
    address = analytics_address(session)
    jump = director_jump(session)
    via = ssh.open_tunnel(jump, accept=accept, record=False) if jump is not None else None
    try:

        def url_of(port: int) -> str:
            if via is None:
                return f"http://{address}:{port}/"
            local_host, local_port = via.forward(address, port)
            return f"http://{local_host}:{local_port}/"

        yield url_of
    finally:
        if via is not None:
            via.close()


def collect_report(
    session: Session, *, states: Any = None, accept: Collection[str] = ()
) -> list[Finding]:
    """Every report item for this secure repo, in :data:`report.ITEMS` order.

    ``states`` defaults to ``session.status()`` (the ledger)."""
    get = session.resolved.get
    need = session.resolved.require
    found: dict[str, Finding] = {}

    def insights() -> Finding:
        values = need(["insights.base_url", "edxapp.lms_host"])
        return report.insights_answers(values["insights.base_url"], values["edxapp.lms_host"])

    found["insights.answers"] = _item("insights.answers", insights)
    try:
        with _reach(session, accept) as url_of:
            found["api.health"] = _item(
                "api.health",
                lambda: report.api_health(url_of(int(get("analytics_api.port"))) + "health/"),
            )
            jenkins_url = url_of(int(get("jenkins.port")))
            found["jenkins.tunnel"] = _item(
                "jenkins.tunnel", lambda: report.jenkins_tunnel(jenkins_url)
            )

            def jobs() -> Finding:
                declared = list(jenkins_jobs.render(jobs_yaml(session)))
                if found["jenkins.tunnel"].verdict == FAIL:
                    return report.jenkins_jobs(declared, None, "Jenkins does not answer")
                names = jenkins_jobs.job_names(jenkins_jobs.connect(jenkins_url))
                return report.jenkins_jobs(declared, names)

            found["jenkins.jobs"] = _item("jenkins.jobs", jobs)
    except (WizardError, StepError, OSError) as exc:
        message, fix = _problem(exc)
        for item in ("api.health", "jenkins.tunnel", "jenkins.jobs"):
            found.setdefault(item, failed(item, message, fix or "check the director answers"))
    found["jenkins.not_public"] = _item(
        "jenkins.not_public",
        lambda: report.jenkins_not_public(
            report.outside_probes(
                get("infrastructure.analytics_public_ips") or [],
                int(get("jenkins.port")),
                int(get("jenkins.nginx_port")),
                get("jenkins.server_name"),
                INSIGHTS_PORTS,
            )
        ),
    )
    found["files.present"] = _item(
        "files.present", lambda: report.files_present(session.repo, expected_files())
    )

    def creds() -> Finding:
        need(["client.name", "aws.profile", "aws.region"])
        target = Target(get("aws.profile"), str(get("aws.region")), get("aws.endpoint_url"))
        local = session.repo / "analytics-tasks"
        return report.creds_bucket(session.backends.aws(target), pipeline_bucket(session), local)

    found["creds.bucket"] = _item("creds.bucket", creds)
    found["ledger.complete"] = _item(
        "ledger.complete",
        lambda: report.ledger_complete(states if states is not None else session.status()),
    )
    redact = session.redact
    return [
        Finding(f.id, f.verdict, redact(f.finding), redact(f.fix))
        for f in (found[item] for item in report.ITEMS)
    ]


# --- the commands -------------------------------------------------------------------------


def _guard(action: Callable[[], int]) -> int:
    """Errors of these commands as one sentence and the fix (headless' guard for the rest)."""
    from . import headless

    def body() -> int:
        try:
            return action()
        except WizardError as exc:
            shown = explain(exc)
            headless.say_error(shown.message, shown.fix)
            return shown.exit_code

    return headless.guarded(body)


def _open_session(repo: Path) -> Session:
    from .headless import check_repo_path

    check_repo_path(repo)
    if not (repo / ".wizard").is_dir():
        raise UsageError(
            f"{repo} is not a secure repo the wizard has worked on (it has no .wizard/)",
            "give the client's secure repo, e.g. analytics-wizard tunnel path/to/secure-config",
        )
    return Session.open(repo, write=False, command="tunnel")


class _Lines:
    """One JSON object per line on stdout, flushed, from any thread."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lock = threading.Lock()

    def __call__(self, doc: dict[str, Any]) -> None:
        with self.lock:
            self.out.write(json.dumps(doc) + "\n")
            self.out.flush()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A kill (SIGTERM) closes the tunnel as cleanly as ctrl+c does."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def tunnel_command(repo: Path, *, as_json: bool = False, local_port: int | None = None) -> int:
    """``analytics-wizard tunnel``: Jenkins through the director until ctrl+c; on the director,
    Jenkins checked directly and the ``ssh -L`` line for the laptop."""
    from rich.markup import escape

    from .headless import err_console

    def body() -> int:
        session = _open_session(repo)
        emit = _Lines(sys.stdout)
        console = err_console()
        if director_jump(session) is None:
            return _direct(session, emit, as_json)
        started = threading.Event()
        base: dict[str, Any] = {"local_port": None, "url": None}

        def on_state(state: str, detail: str) -> None:
            if not started.is_set():  # --json: the first line is the tunnel up (or failed)
                if not as_json:
                    console.print(f"[dim]{state}: {escape(detail)}[/]", highlight=False)
                return
            if as_json:
                emit({"state": state, "detail": session.redact(detail), **base})
            else:
                style = {UP: "green", CLOSED: "dim"}.get(state, "yellow")
                shown = escape(session.redact(detail))
                console.print(f"[{style}]{state}:[/] {shown}", highlight=False)

        try:
            tunnel = open_jenkins_tunnel(session, on_state=on_state, local_port=local_port)
        except ssh.LocalPortBusy as exc:
            offer = f" --local-port {exc.suggestion}" if exc.suggestion else ""
            fix = f"run again with{offer} (or set jenkins.local_port)" if offer else ""
            return _fail(emit, as_json, str(exc), fix)
        except JenkinsUnreachable as exc:
            return _fail(emit, as_json, exc.message, exc.fix, diagnose_jenkins(session))
        base.update(local_port=tunnel.local_port, url=tunnel.url)
        with _sigterm_as_interrupt():
            try:
                if as_json:
                    emit(
                        {
                            "state": UP,
                            "url": tunnel.url,
                            "local_port": tunnel.local_port,
                            "jenkins_version": tunnel.version,
                            "via": tunnel.jump.label,
                        }
                    )
                else:
                    sys.stdout.write(
                        f"Jenkins {tunnel.version} is at {tunnel.url} (through "
                        f"{tunnel.jump.label}); ctrl+c closes the tunnel\n"
                    )
                    sys.stdout.flush()
                started.set()
                while not tunnel.wait(0.5):
                    pass
            except KeyboardInterrupt:
                tunnel.close()
                return exit_codes.OK
            finally:
                tunnel.close()
        # Closed by itself: the director's host key changed (the state line said so).
        return exit_codes.FAILED

    return _guard(body)


def _fail(
    emit: _Lines, as_json: bool, message: str, fix: str, checks: list[Finding] | None = None
) -> int:
    from .headless import err_console, say_error

    if as_json:
        emit(
            {
                "state": "failed",
                "error": message,
                "fix": fix,
                "checks": [c.to_json() for c in checks or []],
            }
        )
    else:
        say_error(message, fix)
        _print_findings(err_console(), checks or [])
    return exit_codes.FAILED


def _direct(session: Session, emit: _Lines, as_json: bool) -> int:
    """On the director: ask Jenkins directly and give the laptop's ssh line."""
    host = jenkins_host(session)
    line = laptop_line(session)
    try:
        version = check_direct(host)
    except JenkinsUnreachable as exc:
        return _fail(emit, as_json, exc.message, exc.fix, diagnose_jenkins(session))
    url = f"http://{host.label}/"
    local = int(_get(session, "jenkins.local_port"))
    if as_json:
        emit({"state": "direct", "url": url, "jenkins_version": version, "ssh_command": line})
    else:
        sys.stdout.write(
            f"Jenkins {version} answers at {url} (this is the director: no tunnel needed).\n"
            f"On your laptop, run:\n  {line}\nthen open http://127.0.0.1:{local}/\n"
        )
    return exit_codes.OK


def _print_findings(console: Any, findings: list[Finding]) -> None:
    from rich.markup import escape

    style = {"pass": "green", "warn": "yellow", "fail": "red"}
    for f in findings:
        console.print(
            f"[{style[f.verdict]}]{f.verdict:4}[/] {f.id}: {escape(f.finding)}", highlight=False
        )
        if f.fix and f.verdict != "pass":
            console.print(f"     [dim]fix:[/] {escape(f.fix)}", highlight=False)


def report_command(repo: Path, *, as_json: bool = False) -> int:
    """``analytics-wizard report``: verify the deployment item by item (nothing is written)."""

    def body() -> int:
        session = _open_session(repo)
        findings = collect_report(session)
        if as_json:
            doc = {
                "command": "report",
                "secure_repo": str(session.repo),
                **report.to_json(findings),
            }
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        else:
            title = os.path.basename(session.repo)
            sys.stdout.write(report.to_markdown(findings, title))
        failed_any = any(f.verdict == FAIL for f in findings)
        return exit_codes.FAILED if failed_any else exit_codes.OK

    return _guard(body)
