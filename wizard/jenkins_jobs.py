"""The analytics pipeline's Jenkins jobs, declared as data and applied through the tunnel.

The runbook (jenkins_jobs.md) has the operator create one free-style job per pipeline task by
hand. Here the jobs live in the secure repo as ``jenkins/jobs.yml`` in Jenkins Job Builder's YAML
format: :func:`default_jobs_yaml` writes the runbook's set from the answers, the operator may edit
it, :func:`render` turns it into config.xml with the jenkins-job-builder library, and
:func:`plan` / :func:`apply` create or update the jobs with python-jenkins (crumb handled):
an unchanged job is left alone, a changed one is updated after its diff is shown, and a job not
declared in jobs.yml is never touched. Jenkins' executors count and admin e-mail are set through
its script console (the only interface Jenkins has for them).

jenkins-job-builder and python-jenkins are imported inside the functions that use them.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import shlex
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from . import assets, yamlio
from .errors import WizardError

JOBS_FILE = "jenkins/jobs.yml"
DEFAULTS_NAME = "analytics-pipeline"
MANAGED_MARK = "<!-- Managed by Jenkins Job Builder -->"  # JJB appends it to each description
TIMEOUT_MINUTES = 300
KEEP_BUILDS = 50
HTTP_TIMEOUT = 30  # seconds for one Jenkins API call
CREATE, UPDATE, UNCHANGED, CONFLICT = "create", "update", "unchanged", "conflict"
# Characters Jenkins refuses in a job name (and "/" would address a folder).
BAD_NAME = re.compile(r"[/\\?*%!@#$^&|<>\[\]:;]")


class JobsError(WizardError):
    """jobs.yml cannot be rendered, or Jenkins refused a call."""


# --- the runbook's jobs, as data ----------------------------------------------------------


@dataclass(frozen=True)
class StandardJob:
    """One pipeline task run on a schedule (runbook jenkins_jobs.md)."""

    title: str
    schedule: str
    description: str
    task: str
    arguments: tuple[str, ...]
    setup: tuple[str, ...] = ()  # shell lines before the task (dates, timestamps)
    opt_in: str | None = None  # the answer key that adds this job; None: always there


_TO_DATE = "TO_DATE=$(date +%Y-%m-%d)"
_NOW = "NOW=$(date +%s)"

STANDARD_JOBS: tuple[StandardJob, ...] = (
    StandardJob(
        "Enrollments",
        "H 0 * * *",
        "Enrollment counts and demographics for Insights (run it first: most jobs use its data).",
        "ImportEnrollmentsIntoMysql",
        ('--interval "$START_DATE-$TO_DATE"', "--n-reduce-tasks $NUM_REDUCE_TASKS"),
        (_TO_DATE,),
    ),
    StandardJob(
        "Enrollments by country",
        "H 5 * * *",
        "Enrollments by learners' country (geolocation of their last IP address).",
        "InsertToMysqlLastCountryPerCourseTask",
        ('--interval-end "$TO_DATE"', "--n-reduce-tasks $NUM_REDUCE_TASKS", "--overwrite"),
        (_TO_DATE,),
    ),
    StandardJob(
        "Engagement",
        "H 1 * * 1",
        "Weekly course activity (active learners, video and problem activity).",
        "InsertToMysqlCourseActivityTask",
        (
            '--end-date "$TO_DATE"',
            "--weeks 24",
            "--n-reduce-tasks $NUM_REDUCE_TASKS",
            "--overwrite-mysql",
        ),
        (_TO_DATE,),
    ),
    StandardJob(
        "Learner engagement",
        "H 3 * * *",
        "Per-learner module engagement for the Learners view (Elasticsearch and MySQL).",
        "ModuleEngagementWorkflowTask",
        (
            '--date "$TO_DATE"',
            "--indexing-tasks 5",
            "--throttle 0.5",
            "--n-reduce-tasks $NUM_REDUCE_TASKS",
        ),
        (_TO_DATE,),
    ),
    StandardJob(
        "Performance",
        "H 7 * * *",
        "Answer distribution of graded and ungraded problems (fresh timestamped output each run).",
        "AnswerDistributionWorkflow",
        (
            '--src "\'[\\"$TRACKING_LOGS_S3_BUCKET/logs/tracking\\"]\'"',
            '--dest "$RUN_ROOT"',
            "--name AnswerDistributionWorkflow",
            '--output-root "$HADOOP_S3_BUCKET/grading_reports/"',
            '--include "\'[\\"*tracking.log*.gz\\"]\'"',
            '--manifest "$RUN_ROOT/manifest.txt"',
            '--base-input-format "org.edx.hadoop.input.ManifestTextInputFormat"',
            '--lib-jar "\'[\\"$TASK_CONFIGURATION_S3_BUCKET/edx-analytics-hadoop-util.jar\\"]\'"',
            "--n-reduce-tasks $NUM_REDUCE_TASKS",
            '--marker "$RUN_ROOT/marker"',
        ),
        (_NOW, 'RUN_ROOT="$HADOOP_S3_BUCKET/intermediate/answer_dist/$NOW"'),
    ),
    StandardJob(
        "Videos",
        "H 9 * * *",
        "Video views and drop-off for Insights.",
        "InsertToMysqlAllVideoTask",
        ('--interval "$START_DATE-$TO_DATE"', "--n-reduce-tasks $NUM_REDUCE_TASKS"),
        (_TO_DATE,),
    ),
    StandardJob(
        "Student engagement daily",
        "H 11 * * *",
        "Daily Student Engagement CSV reports, downloadable from the instructor dashboard.",
        "StudentEngagementCsvFileTask",
        (
            '--output-root "$EDXAPP_S3_BUCKET/grades-download/"',
            '--marker "$HADOOP_S3_BUCKET/intermediate/student_engagement/$NOW/marker"',
            '--interval "$FROM_DATE-$TO_DATE"',
            "--n-reduce-tasks $NUM_REDUCE_TASKS",
        ),
        ("FROM_DATE=$(date +%Y-%m-%d --date='-1 day')", _TO_DATE, _NOW),
        opt_in="jenkins.student_engagement_daily",
    ),
    StandardJob(
        "Student engagement weekly",
        "H 13 * * 1",
        "Weekly Student Engagement CSV reports, downloadable from the instructor dashboard.",
        "StudentEngagementCsvFileTask",
        (
            '--output-root "$EDXAPP_S3_BUCKET/grades-download/"',
            '--marker "$HADOOP_S3_BUCKET/intermediate/student_engagement/$NOW/marker"',
            "--interval-type weekly",
            '--interval "$FROM_DATE-$TO_DATE"',
            "--n-reduce-tasks $NUM_REDUCE_TASKS",
        ),
        ("FROM_DATE=$(date +%Y-%m-%d --date='-7 days')", _TO_DATE, _NOW),
        opt_in="jenkins.student_engagement_weekly",
    ),
    StandardJob(
        "Problem response reports",
        "H 20 * * *",
        "Learners' problem responses as CSV reports (needs the API reports bucket and the "
        "Insights enable_problem_response_download waffle flag).",
        "ProblemResponseReportWorkflow",
        (
            '--marker "$HADOOP_S3_BUCKET/intermediate/problem_response/marker$NOW"',
            '--interval-end "$TOMORROW"',
            "--overwrite",
            "--n-reduce-tasks $NUM_REDUCE_TASKS",
        ),
        ("TOMORROW=$(date +%Y-%m-%d --date=tomorrow)", _NOW),
        opt_in="jenkins.problem_response_reports",
    ),
)
OPT_IN_KEYS = tuple(job.opt_in for job in STANDARD_JOBS if job.opt_in)


@dataclass(frozen=True)
class JobValues:
    """What the default jobs.yml is made from (see :func:`values_from`)."""

    insights_host: str
    cluster_name: str
    jenkins_home: str
    notify_email: str
    ssh_credential_id: str
    opted_in: frozenset[str] = frozenset()  # answer keys of the optional jobs wanted


INPUTS: tuple[str, ...] = (
    "insights.base_url",
    "pipeline.cluster_name",
    "jenkins.home",
    "edxapp.contact_email",
    "jenkins.ssh_credential_id",
    *OPT_IN_KEYS,
)


def values_from(get: Callable[[str], Any]) -> JobValues:
    """The job values from resolved answers (``session.resolved.get``)."""
    host = urlsplit(str(get("insights.base_url"))).hostname or str(get("insights.base_url"))
    return JobValues(
        insights_host=host,
        cluster_name=str(get("pipeline.cluster_name")),
        jenkins_home=str(get("jenkins.home")),
        notify_email=str(get("edxapp.contact_email")),
        ssh_credential_id=str(get("jenkins.ssh_credential_id")),
        opted_in=frozenset(key for key in OPT_IN_KEYS if get(key)),
    )


def job_name(values: JobValues, job: StandardJob) -> str:
    """The runbook's naming: the Insights host first, so failure e-mails say where they come from."""
    return f"{values.insights_host} {job.title}"


def cluster_name(values: JobValues, job: StandardJob) -> str:
    """Each job's own EMR cluster name, so jobs running at once never share a cluster."""
    return f"{values.cluster_name} {job.title}"


def shell_script(values: JobValues, job: StandardJob) -> str:
    """The job's build step: source jenkins_env, name the cluster, run the task on EMR."""
    home = values.jenkins_home.rstrip("/") or "/"
    lines = [
        f". {shlex.quote(home + '/jenkins_env')}",
        f"export CLUSTER_NAME={shlex.quote(cluster_name(values, job))}",
        f"cd {shlex.quote(home)}",
        *job.setup,
        f"analytics-configuration/automation/run-automated-task.sh {job.task} --local-scheduler \\",
    ]
    arguments = list(job.arguments)
    for index, argument in enumerate(arguments):
        end = " \\" if index < len(arguments) - 1 else ""
        lines.append(f"    {argument}{end}")
    return "\n".join(lines) + "\n"


def _jjb_text(text: str) -> str:
    """Jenkins Job Builder formats job strings with ``{param}``: literal braces are doubled."""
    return text.replace("{", "{{").replace("}", "}}")


def default_jobs_yaml(values: JobValues) -> str:
    """The runbook's jobs (and the opted-in ones) as a jobs.yml the operator may edit."""
    from ruamel.yaml.scalarstring import LiteralScalarString

    defaults = {
        "name": DEFAULTS_NAME,
        "project-type": "freestyle",
        "concurrent": False,
        "properties": [
            {"build-discarder": {"num-to-keep": KEEP_BUILDS, "artifact-num-to-keep": KEEP_BUILDS}}
        ],
        "wrappers": [
            {"timeout": {"type": "absolute", "timeout": TIMEOUT_MINUTES, "fail": True}},
            {"ssh-agent-credentials": {"users": [_jjb_text(values.ssh_credential_id)]}},
        ],
        "publishers": [
            {
                # A task that logs a Python traceback has failed even when its exit code is 0.
                "post-tasks": [
                    {
                        "matches": [{"log-text": "Traceback", "operator": "AND"}],
                        "run-if-job-successful": True,
                        "escalate-status": True,
                        "script": "exit 1",
                    }
                ]
            },
            {
                "email": {
                    "recipients": _jjb_text(values.notify_email),
                    "notify-every-unstable-build": True,
                    "send-to-individuals": False,
                }
            },
        ],
    }
    documents: list[Any] = [{"defaults": defaults}]
    for job in STANDARD_JOBS:
        if job.opt_in is not None and job.opt_in not in values.opted_in:
            continue
        documents.append(
            {
                "job": {
                    "name": _jjb_text(job_name(values, job)),
                    "defaults": DEFAULTS_NAME,
                    "description": _jjb_text(job.description),
                    "triggers": [{"timed": job.schedule}],
                    "builders": [
                        {"shell": LiteralScalarString(_jjb_text(shell_script(values, job)))}
                    ],
                }
            }
        )
    header = (
        "# The analytics pipeline's Jenkins jobs, in Jenkins Job Builder's YAML format.\n"
        "# analytics-wizard wrote this file from your answers and applies it through the tunnel\n"
        "# (jenkins step): edit schedules or commands here; jobs you create in Jenkins yourself\n"
        "# are never touched. In job strings, write literal braces doubled: {{ and }}.\n"
    )
    return header + yamlio.dumps(documents)


# --- rendering with jenkins-job-builder ----------------------------------------------------


def _quiet_jjb() -> None:
    # JJB reports through logging; without a handler Python would print its warnings raw.
    logger = logging.getLogger("jenkins_jobs")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def render(text: str, source: str = JOBS_FILE) -> dict[str, str]:
    """Every job of a JJB YAML document as config.xml, by job name (jenkins-job-builder)."""
    _quiet_jjb()
    from jenkins_jobs.config import JJBConfig  # type: ignore[import-untyped]
    from jenkins_jobs.errors import JenkinsJobsException  # type: ignore[import-untyped]
    from jenkins_jobs.loader import load_files  # type: ignore[import-untyped]
    from jenkins_jobs.registry import ModuleRegistry  # type: ignore[import-untyped]
    from jenkins_jobs.roots import Roots  # type: ignore[import-untyped]
    from jenkins_jobs.xml_config import XmlJobGenerator  # type: ignore[import-untyped]

    try:
        config = JJBConfig(str(assets.path("jenkins", "jenkins_jobs.ini")))
        config.validate()
        roots = Roots(config)
        stream = io.StringIO(text)
        stream.name = source  # JJB names the file in its errors
        load_files(config, roots, [stream])
        registry = ModuleRegistry(config, config.builder["plugins_info"])
        registry.set_macros(roots.macros)
        jobs = roots.generate_jobs()
        registry.amend_job_dicts(jobs)
        generated = XmlJobGenerator(registry).generateXML(jobs)
    except (JenkinsJobsException, ValueError, TypeError, KeyError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise JobsError(
            f"{source} cannot be rendered by Jenkins Job Builder: {message}",
            f"correct {source} (Jenkins Job Builder YAML), or move it aside to get the default",
        ) from None
    except Exception as exc:  # yaml's own errors carry their position
        if type(exc).__module__.startswith("yaml"):
            raise JobsError(
                f"{source} is not valid YAML: {' '.join(str(exc).split())}",
                f"correct {source} (indentation, quotes)",
            ) from None
        raise
    rendered: dict[str, str] = {}
    for job in generated:
        name = str(job.name)
        if BAD_NAME.search(name) or name != name.strip() or not name:
            raise JobsError(
                f"{source}: the job name {name!r} is not one Jenkins accepts",
                "use letters, digits, spaces, dots and hyphens in job names (no / \\ ? * % ! @ "
                "# $ ^ & | < > [ ] : ;)",
            )
        if name in rendered:
            raise JobsError(f"{source}: two jobs are named {name!r}", "give each job its own name")
        rendered[name] = job.output().decode("utf-8")
    return rendered


# --- comparing what Jenkins has with what jobs.yml says ------------------------------------


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _tree(xml: str) -> Any:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", xml).encode("utf-8"))
    for element in root.iter():
        plugin = element.get("plugin")
        if plugin is not None:  # Jenkins stamps the plugin's version: mailer -> mailer@1.18
            element.set("plugin", plugin.split("@", 1)[0])
        if element.text is not None and not element.text.strip() and len(element):
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    return root


def _contains(ours: Any, theirs: Any) -> bool:
    """Whether ``theirs`` holds every element, attribute and text of ``ours``, in order;
    elements Jenkins adds on saving (its defaults) are allowed in between."""
    if ours.tag != theirs.tag or ours.attrib != theirs.attrib:
        return False
    if (ours.text or "").strip() != (theirs.text or "").strip():
        return False
    candidates = iter(list(theirs))  # consumed in order: each match starts after the last
    return all(any(_contains(child, candidate) for candidate in candidates) for child in ours)


def same_job(ours: str, theirs: str) -> bool:
    """Whether Jenkins' config.xml already says what the rendered config.xml says."""
    try:
        return _contains(_tree(ours), _tree(theirs))
    except Exception:  # unparsable XML in Jenkins: not the same
        return False


def _pretty(config: str) -> list[str]:
    import xml.etree.ElementTree as ET
    from xml.dom import minidom

    try:
        text = minidom.parseString(ET.tostring(_tree(config))).toprettyxml(indent="  ")
    except Exception:
        text = config
    return [line + "\n" for line in text.splitlines()[1:] if line.strip()]


def job_diff(name: str, current: str | None, new: str) -> str:
    """A unified diff of a job's config.xml (declaration and plugin versions left out)."""
    import difflib

    before = _pretty(current) if current is not None else []
    where = f"job/{name}/config.xml"
    return "".join(
        difflib.unified_diff(
            before,
            _pretty(new),
            fromfile=f"a/{where}" if current is not None else "/dev/null",
            tofile=f"b/{where}",
        )
    )


@dataclass(frozen=True)
class JobChange:
    """What :func:`apply` will do to one declared job."""

    name: str
    action: str  # CREATE | UPDATE | UNCHANGED | CONFLICT
    xml: str  # the rendered config.xml (what is sent)
    current: str | None  # Jenkins' config.xml now (None: no such job)
    diff: str  # unified diff from current to xml; empty when unchanged
    reason: str = ""


@dataclass
class JobsPlan:
    changes: list[JobChange] = field(default_factory=list)
    untouched: list[str] = field(default_factory=list)  # in Jenkins, not in jobs.yml

    @property
    def pending(self) -> list[JobChange]:
        return [c for c in self.changes if c.action in (CREATE, UPDATE)]

    @property
    def conflicts(self) -> list[JobChange]:
        return [c for c in self.changes if c.action == CONFLICT]

    def summary(self) -> str:
        counts = {a: sum(c.action == a for c in self.changes) for a in (CREATE, UPDATE, CONFLICT)}
        parts = [f"{counts[CREATE]} to create", f"{counts[UPDATE]} to update"]
        parts.append(f"{len(self.changes) - len(self.pending) - counts[CONFLICT]} unchanged")
        if counts[CONFLICT]:
            parts.append(f"{counts[CONFLICT]} made by hand with a declared name (left alone)")
        if self.untouched:
            parts.append(f"{len(self.untouched)} other job(s) in Jenkins left alone")
        return ", ".join(parts)


Records = Mapping[str, Mapping[str, str]]


# --- python-jenkins ------------------------------------------------------------------------


def connect(url: str, timeout: float = HTTP_TIMEOUT) -> Any:
    """A python-jenkins client for ``url`` (the tunnel's local end)."""
    import jenkins  # type: ignore[import-untyped]

    server = jenkins.Jenkins(url, timeout=timeout)
    # The URL is the tunnel on 127.0.0.1: never send it through a proxy from the environment.
    server._session.trust_env = False
    return server


def _call(what: str, action: Callable[[], Any]) -> Any:
    import jenkins
    import requests

    try:
        return action()
    except jenkins.TimeoutException:
        raise JobsError(
            f"Jenkins did not answer in time ({what})",
            "check the tunnel (analytics-wizard tunnel) and that Jenkins is not overloaded",
        ) from None
    except (jenkins.JenkinsException, requests.RequestException) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise JobsError(
            f"Jenkins refused {what}: {detail}",
            "check that Jenkins answers through the tunnel; if it asks for a login, the "
            "analytics Jenkins was set up with authentication the wizard does not use",
        ) from None


def _decide(name: str, xml: str, current: str, record: Mapping[str, str]) -> tuple[str, str]:
    """UNCHANGED / UPDATE / CONFLICT for a declared job Jenkins already has, and why."""
    if record and record.get("sent") == digest(xml):
        # jobs.yml says what it said when the wizard last applied it.
        if record.get("stored") == digest(current) or same_job(xml, current):
            return UNCHANGED, ""  # untouched, or only re-serialised / added to in Jenkins
        return UPDATE, "changed in Jenkins since the wizard set it"
    if record:
        # jobs.yml changed: a removal must reach Jenkins too, so only equality counts as no change.
        if same_job(xml, current) and same_job(current, xml):
            return UNCHANGED, ""
        return UPDATE, "jobs.yml changed"
    if same_job(xml, current):
        return UNCHANGED, ""
    if MANAGED_MARK not in current:
        return CONFLICT, (
            f"a job named {name!r} exists that the wizard did not create; rename one of them "
            "(in jenkins/jobs.yml or in Jenkins), or let the wizard take it over"
        )
    return UPDATE, "differs from jobs.yml"


def plan(server: Any, rendered: Mapping[str, str], records: Records | None = None) -> JobsPlan:
    """What :func:`apply` would do: create / update (with the diff) / unchanged / conflict.

    ``records`` are the digests :func:`apply` returned last time (kept in the ledger): with them
    a job changed in Jenkins since is told apart from one Jenkins merely re-serialised.
    """
    records = records or {}
    existing = {
        str(job["name"])
        for job in _call("the job list", lambda: server.get_jobs(folder_depth=0))
        if "name" in job
    }
    result = JobsPlan(untouched=sorted(existing - set(rendered)))
    for name, xml in rendered.items():
        if name not in existing:
            result.changes.append(JobChange(name, CREATE, xml, None, job_diff(name, None, xml)))
            continue
        current = str(_call(f"the config of {name!r}", partial(server.get_job_config, name)))
        record = records.get(name) or {}
        action, why = _decide(name, xml, current, record)
        diff = "" if action == UNCHANGED else job_diff(name, current, xml)
        result.changes.append(JobChange(name, action, xml, current, diff, why))
    return result


def apply(
    server: Any,
    jobs: JobsPlan,
    *,
    take_over: Collection[str] = (),
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, dict[str, str]]:
    """Create and update the planned jobs; return their digests for the ledger.

    A conflicting (hand-made) job is left alone unless its name is in ``take_over``.
    """
    records: dict[str, dict[str, str]] = {}
    for change in jobs.changes:
        action = change.action
        if action == CONFLICT and change.name in take_over:
            action = UPDATE
        if action == CREATE:
            _call(f"creating {change.name!r}", partial(server.create_job, change.name, change.xml))
            progress(f"created {change.name}")
        elif action == UPDATE:
            _call(
                f"updating {change.name!r}", partial(server.reconfig_job, change.name, change.xml)
            )
            progress(f"updated {change.name}")
        elif action == CONFLICT:
            progress(f"left alone {change.name} (made by hand)")
            continue
        stored = (
            change.current
            if action == UNCHANGED and change.current is not None
            else str(
                _call(f"reading back {change.name!r}", partial(server.get_job_config, change.name))
            )
        )
        records[change.name] = {"sent": digest(change.xml), "stored": digest(stored)}
    return records


def job_names(server: Any) -> list[str]:
    """The names of Jenkins' top-level jobs."""
    jobs = _call("the job list", lambda: server.get_jobs(folder_depth=0))
    return sorted(str(job["name"]) for job in jobs if "name" in job)


# --- executors and the admin e-mail ---------------------------------------------------------


def _groovy(text: str) -> str:
    """A Groovy single-quoted string literal (no ${} interpolation in those)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def settings_script(executors: int, admin_email: str) -> str:
    """Groovy for the script console: the runbook's "# of executors" and "System Admin e-mail
    address", saved only when different, then both printed back."""
    email = _groovy(admin_email)
    return "\n".join(
        [
            "import jenkins.model.Jenkins",
            "import jenkins.model.JenkinsLocationConfiguration",
            "def instance = Jenkins.getInstance()",
            f"if (instance.getNumExecutors() != {int(executors)}) {{",
            f"    instance.setNumExecutors({int(executors)})",
            "    instance.save()",
            "}",
            "def location = JenkinsLocationConfiguration.get()",
            f"if (location.getAdminAddress() != {email}) {{",
            f"    location.setAdminAddress({email})",
            "    location.save()",
            "}",
            'println("executors=" + instance.getNumExecutors() + " admin=" + location.getAdminAddress())',
        ]
    )


def current_executors(server: Any) -> int | None:
    """Jenkins' executors on its built-in node (``numExecutors`` of its API)."""
    info = _call("its settings", lambda: server.get_info())
    value = info.get("numExecutors") if isinstance(info, Mapping) else None
    return int(value) if isinstance(value, int) else None


def apply_settings(server: Any, executors: int, admin_email: str) -> None:
    """Set the executors count and admin e-mail through the script console, and check that
    Jenkins reports them back."""
    output = str(
        _call(
            "the script console (executors, admin e-mail)",
            lambda: server.run_script(settings_script(executors, admin_email)),
        )
    )
    expected = f"executors={int(executors)} admin={admin_email}"
    if expected not in output.splitlines():
        raise JobsError(
            f"Jenkins did not confirm the executors count and admin e-mail (it printed "
            f"{output.strip()[:200]!r})",
            "set them by hand: Manage Jenkins > Configure System (# of executors; Jenkins "
            "Location > System Admin e-mail address)",
        )


def declared_missing(declared: Iterable[str], existing: Iterable[str]) -> list[str]:
    """Declared jobs Jenkins does not have."""
    have = set(existing)
    return [name for name in declared if name not in have]
