"""The ``playbooks`` step: Insights/API and Jenkins through ansible, then the runbook's follow-ups.

In order: the services playbook (``analytics_single.yml``), the Jenkins gate (no security group
of the analytics instances may open Jenkins — 8080, or its nginx site's port — to the world),
the Jenkins playbook with ``--skip-tags jenkins-seed-job``, the Jenkins files installed in
Jenkins' home on each host (a playbook of the wizard's own), the creds uploaded to the pipeline
bucket (encrypted), and the EMR bucket checked for the pipeline's runtime files.

Each playbook is a detached run (:mod:`wizard.detached`, ansible-runner in
:mod:`wizard.ansible_child`) with its private data dir under ``.wizard/runs/<id>/ansible``: it
goes on when the wizard is killed or the operator's SSH connection drops. The ledger says
``running`` with the phase and the run; a wizard started later follows that run from its first
event and carries on with the next phase (:meth:`PlaybooksStep.follow`), never starting a second
run of the same playbook. Nothing secret is on a command line: vars go by file.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import ansible, detached, followups, jenkins_gate, ssh
from ..ansible import FoundAnsible, Playbook, PlayTasks, SSHHost, Targets
from ..ansible_events import RunSummary, follow_events, read_events, summarize
from ..aws import Aws, AwsError, Target
from ..context import QUIET, RunContext
from ..errors import Cancelled, Detached, NeedsDecision, WizardError
from ..fsutil import SECRET_FILE_MODE, atomic_write, ensure_private_dir
from ..ledger import StepRecord, digest
from .base import Plan, Step, StepError, count
from .files import SECURE_REPO_VAR, buckets

if TYPE_CHECKING:
    from ..engine import Session

NAME = "playbooks"
SERVICES, JENKINS, FILES = "services", "jenkins", "files"
PHASES = (SERVICES, JENKINS, FILES)
SEED_JOB_TAG = "jenkins-seed-job"
FILES_TASK = "Install the pipeline files"  # the one task of the wizard's Jenkins-files playbook
START_KEY = "ansible.start_at_task"
BEGINNING = "beginning"  # ansible.start_at_task: run everything again
# Decisions: revoke the world-open rules at the gate (yes); where to start (headless flag).
REVOKE = "revoke-jenkins-ports"
START_AT = "start-at-task"
STOP_GRACE = 120.0  # seconds ansible gets to end its current task once asked to stop
FAILURE_LINES = 12  # lines of a failed task's stderr / stdout kept in the step's error
RUNNING = "running"  # the ledger's state of a step with a run going (see wizard.engine)
DONE, FAILED = "done", "failed"

INPUTS: tuple[str, ...] = (
    "client.name",
    "client.environment",
    "aws.profile",
    "aws.region",
    "aws.endpoint_url",
    "infrastructure.analytics_private_ips",
    "ansible.configuration_dir",
    "ansible.ansible_playbook",
    "ansible.services_playbook",
    "ansible.jenkins_playbook",
    "ansible.ssh_user",
    "ansible.ssh_port",
    "ansible.private_key",
    "ansible.known_hosts",
    "ansible.extra_vars_files",
    START_KEY,
    "director.host",
    "director.port",
    "director.user",
    "director.key_file",
    "director.known_hosts",
    "jenkins.port",
    "jenkins.nginx_port",
    "jenkins.home",
    "jenkins.user",
)
VARS_FILE = "vars-analytics.yml"


class PlaybookFailed(StepError):
    """A playbook ended with a failed (or unreachable) host; ``details`` goes into ``--json``."""

    def __init__(self, message: str, fix: str, details: dict[str, Any]):
        super().__init__(message, fix)
        self.details = details


# --- what the step works with ---------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """Everything a run of the step needs, from the answers (no secret in it)."""

    repo: Path
    runs_dir: Path
    ansible: FoundAnsible
    targets: Targets
    configuration_dir: Path
    services: str
    jenkins: str
    extra_vars: tuple[Path, ...]
    jenkins_home: str
    jenkins_user: str
    gate_ports: tuple[int, ...]
    aws: Target
    pipeline_bucket: str
    emr_bucket: str

    @property
    def vars_analytics(self) -> Path:
        return self.repo / VARS_FILE

    @property
    def hosts(self) -> tuple[str, ...]:
        return self.targets.hosts

    def playbook_name(self, phase: str) -> str:
        return {SERVICES: self.services, JENKINS: self.jenkins}.get(phase, "jenkins-files.yml")


def repo_path(repo: Path, value: Any) -> Path:
    """A path answer: ``~`` expanded, relative ones taken from the secure repo."""
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else repo / path


def values(session: Session) -> dict[str, Any]:
    """Every input, resolved; missing answers raise one error naming them all."""
    try:
        return session.resolved.require(INPUTS)
    except ValueError as exc:
        raise StepError(str(exc)) from None


def _director(v: Mapping[str, Any], repo: Path) -> SSHHost | None:
    if not v["director.host"]:
        return None
    return SSHHost(
        str(v["director.host"]),
        int(v["director.port"]),
        str(v["director.user"]),
        repo_path(repo, v["director.key_file"]),
        repo_path(repo, v["director.known_hosts"]),
    )


def job_of(session: Session, v: Mapping[str, Any]) -> Job:
    """The run's settings; finds ansible-playbook and refuses what cannot run."""
    repo = session.repo
    configuration = repo_path(repo, v["ansible.configuration_dir"])
    found = ansible.find_ansible_playbook(
        repo_path(repo, v["ansible.ansible_playbook"]) if v["ansible.ansible_playbook"] else None,
        configuration,
    )
    hosts = tuple(str(ip) for ip in v["infrastructure.analytics_private_ips"] or ())
    targets = Targets(
        hosts=hosts,
        user=str(v["ansible.ssh_user"]),
        key_file=repo_path(repo, v["ansible.private_key"]),
        known_hosts=repo_path(repo, v["ansible.known_hosts"]),
        port=int(v["ansible.ssh_port"]),
        jump=_director(v, repo),
    )
    if not (repo / VARS_FILE).is_file():
        raise StepError(
            f"{VARS_FILE} is not in the secure repo yet",
            "run the files step first: the playbooks read their variables from it",
        )
    named = buckets(
        {
            "client.name": v["client.name"],
            "client.environment": v["client.environment"],
            "edxapp.tracking_logs_bucket": "",
            "edxapp.grades_bucket": "",
        },
        lambda name: session.ledger.output("terraform", name),
    )
    return Job(
        repo=repo,
        runs_dir=session.state_dir / "runs",
        ansible=found,
        targets=targets,
        configuration_dir=configuration,
        services=str(v["ansible.services_playbook"]),
        jenkins=str(v["ansible.jenkins_playbook"]),
        extra_vars=tuple(repo_path(repo, p) for p in v["ansible.extra_vars_files"] or ()),
        jenkins_home=str(v["jenkins.home"]),
        jenkins_user=str(v["jenkins.user"]),
        gate_ports=tuple(dict.fromkeys((int(v["jenkins.port"]), int(v["jenkins.nginx_port"])))),
        aws=Target.from_values(v),
        pipeline_bucket=named["pipeline"],
        emr_bucket=named["emr"],
    )


def playbook(job: Job, phase: str, wizard_vars: Path, *, start_at: str | None = None) -> Playbook:
    """The ansible run of ``phase``; ``wizard_vars`` is the run's own vars file (last: it wins)."""
    if phase == FILES:
        return Playbook(
            job.configuration_dir,
            str(followups.playbook_path()),
            (*job.extra_vars, wizard_vars),
        )
    return Playbook(
        job.configuration_dir,
        job.playbook_name(phase),
        (*job.extra_vars, job.vars_analytics, wizard_vars),
        skip_tags=(SEED_JOB_TAG,) if phase == JENKINS else (),
        start_at_task=start_at,
    )


def wizard_vars(job: Job, phase: str) -> dict[str, Any]:
    """What the wizard adds to a run's vars: where the secure repo is here (the key file in
    vars-analytics.yml is relative to it); for the files playbook, what to install where."""
    data: dict[str, Any] = {SECURE_REPO_VAR: str(job.repo)}
    if phase == FILES:
        data.update(
            followups.jenkins_files_vars(
                job.repo / followups.TASKS_DIR, job.jenkins_home, job.jenkins_user, job.targets.user
            )
        )
    return data


def command_shown(job: Job, phase: str, start_at: str | None = None) -> str:
    """The command a phase runs, as the preview shows it (the run's directory named <run>)."""
    run = job.runs_dir / "<run>"
    book = playbook(job, phase, run / "wizard-vars.yml", start_at=start_at)
    args = ansible.playbook_args(job.targets, book)
    return shlex.join([str(job.ansible.path), *args, "-i", str(run / "ansible" / "inventory")])


# --- runs -----------------------------------------------------------------------------------


def start_run(job: Job, phase: str, start_at: str | None) -> detached.Run:
    """Prepare the run's directory (0700) and start ansible in it, detached."""
    run_id = detached.new_id(NAME)
    directory = ensure_private_dir(job.runs_dir / run_id)
    try:
        extra = directory / "wizard-vars.yml"
        atomic_write(extra, followups.literal_vars(wizard_vars(job, phase)), mode=SECRET_FILE_MODE)
        book = playbook(job, phase, extra, start_at=start_at)
        prepared = ansible.prepare_run(directory / "ansible", job.ansible.path, book, job.targets)
        # The package's parent, as the supervisor's: ``-m wizard.ansible_child`` finds this version.
        here = Path(__file__).resolve().parent.parent.parent
        return detached.start(
            job.runs_dir,
            NAME,
            prepared.child_argv(),
            cwd=here,
            env=dict(os.environ),
            shown=prepared.shown,
            run_id=run_id,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def find_run(runs_dir: Path, run_id: Any) -> detached.Run | None:
    return next((r for r in detached.runs(runs_dir) if r.id == run_id), None)


def artifacts(run: detached.Run) -> Path:
    return ansible.artifacts_dir(run.directory / "ansible")


def _minutes(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def headline(book: str, summary: RunSummary) -> str:
    """``analytics_single.yml · task 12 of 80 · play … · task …`` for the live view."""
    parts = [book, summary.tasks_shown]
    if summary.play:
        parts.append(f"play {summary.play}")
    if summary.task:
        parts.append(summary.task)
    if summary.finished:
        parts.append("recap")
    return " · ".join(parts)


def host_lines(summary: RunSummary) -> list[str]:
    """Per-host counts, as ansible's recap names them."""
    return [
        f"{host}: ok {c.ok}  changed {c.changed}  failed {c.failed}  unreachable {c.unreachable}"
        f"  skipped {c.skipped}"
        for host, c in sorted(summary.hosts.items())
    ]


def summary_json(book: str, run: detached.Run, summary: RunSummary) -> dict[str, Any]:
    """One playbook run for the ledger and ``--json`` (counts; the failure when there is one)."""
    failure = summary.failure
    return {
        "playbook": book,
        "run": run.id,
        "ok": summary.ok,
        "tasks": summary.task_number,
        "task_total": summary.task_total,
        "elapsed_s": round(summary.elapsed(), 1),
        "hosts": {host: asdict(c) for host, c in sorted(summary.hosts.items())},
        "failure": asdict(failure) if failure is not None else None,
    }


def _tail(text: str, lines: int = FAILURE_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def failure_message(book: str, summary: RunSummary) -> str:
    """The failing task, host and the module's own message (not ansible's closing lines)."""
    failure = summary.failure
    if failure is None:
        return f"{book} did not finish cleanly (no task failed; see the run log)"
    what = "could not reach" if failure.unreachable else "failed on"
    lines = [f"{book} failed: task {failure.task!r} {what} {failure.host}"]
    if failure.message:
        lines.append(_tail(failure.message))
    if failure.rc is not None:
        lines.append(f"exit code {failure.rc}")
    if failure.stderr:
        lines += ["stderr:", _tail(failure.stderr)]
    if failure.stdout_tail:
        lines += ["stdout (last lines):", _tail(failure.stdout_tail)]
    return "\n".join(lines)


def _retry_fix(failure_task: str | None) -> str:
    if not failure_task:
        return "fix the cause and run the step again"
    return (
        "fix the cause and run the step again: from the start, or from the failed task (set "
        f"{START_KEY} to {failure_task!r}; headless: --start-at-task {shlex.quote(failure_task)})"
    )


@dataclass
class Follower:
    """Follows one run's events to its end: the live view's progress, every line to the log."""

    book: str
    run: detached.Run
    summary: RunSummary
    ctx: RunContext

    def on_event(self, event: dict[str, Any]) -> None:
        self.summary.feed(event)
        stdout = str(event.get("stdout") or "").replace("\r\n", "\n")
        for line in stdout.split("\n"):
            if line.strip():
                self.ctx.progress(line)
        self.emit()

    def emit(self) -> None:
        summary = self.summary
        total = summary.task_total or 0
        fraction = 1.0 if summary.finished else (summary.task_number / total if total else 0.0)
        now = datetime.now(UTC)
        self.ctx.event(
            "progress",
            headline=headline(self.book, summary),
            fraction=min(1.0, fraction),
            lines=[*host_lines(summary), f"elapsed {_minutes(summary.elapsed(now))}"],
        )

    def stopped(self) -> bool:
        return self.ctx.cancelled() or self.ctx.detached()

    def running(self) -> bool:
        return self.run.state == detached.RUNNING

    def follow(self) -> tuple[str, int] | None:
        """Replay and follow; ``(status, rc)``, or None when the operator stopped following."""
        return follow_events(artifacts(self.run), self.on_event, self.stopped, running=self.running)


def follow_run(
    job: Job, phase: str, run: detached.Run, total: int | None, ctx: RunContext
) -> dict[str, Any]:
    """Follow ``run`` to its end; its summary, or the step's error (failed, stopped, left)."""
    book = job.playbook_name(phase)
    follower = Follower(book, run, RunSummary(task_total=total), ctx)
    result = follower.follow()
    if result is None and ctx.detached():
        raise Detached(
            f"{book} left running on its own (run {run.id})",
            "open the wizard again (or run) to follow it, record the result and go on",
        )
    if result is None and ctx.cancelled():
        ctx.progress(f"stopping {book}: ansible ends its current task, then stops")
        run.stop(STOP_GRACE)
        follower.ctx = QUIET  # take in what was written before it stopped
        follow_events(artifacts(run), follower.on_event, running=lambda: False)
        where = f" at task {follower.summary.task!r}" if follower.summary.task else ""
        raise Cancelled(
            f"{book} was stopped{where}, as asked; the hosts are as that task left them",
            _retry_fix(follower.summary.task),
        )
    summary = follower.summary
    if result is None:  # the run's process ended without ansible-runner's status
        code = run.exit_code
        said = " ".join(run.error_lines()[-3:]) or "no message"
        raise StepError(
            f"the run of {book} ended without a result (exit {code}): {said}",
            "see the run's files in " + str(run.directory) + ", then run the step again",
        )
    status, rc = result
    if status != "successful" or rc != 0 or not summary.ok:
        failure = summary.failure
        raise PlaybookFailed(
            failure_message(book, summary),
            _retry_fix(failure.task if failure else None),
            {"playbooks": [summary_json(book, run, summary)]},
        )
    return summary_json(book, run, summary)


# --- the gate and the follow-ups -------------------------------------------------------------


def gate(aws: Aws, job: Job) -> list[jenkins_gate.OpenRule]:
    """The world-open rules reaching Jenkins on the target instances (found by private IP)."""
    try:
        return jenkins_gate.find_open(aws, job.hosts, job.gate_ports)
    except AwsError as exc:
        raise StepError(
            f"the Jenkins gate cannot check the analytics instances: {exc.message}",
            "the gate reads the security groups of the instances with these private IPs: check "
            "infrastructure.analytics_private_ips, aws.profile and aws.region",
        ) from None


def gate_message(rules: list[jenkins_gate.OpenRule], region: str) -> tuple[str, str]:
    """Why the Jenkins playbook may not run, and how to revoke the rules by hand."""
    ports = " / ".join(str(p) for p in dict.fromkeys(p for r in rules for p in r.reaches))
    message = f"Jenkins ({ports}) would be open to the internet, and it has no login: " + "; ".join(
        r.describe() for r in rules
    )
    commands = "; ".join(r.revoke_command(region) for r in rules)
    return message, f"revoke the rule(s) (the wizard offers to), or by hand: {commands}"


def _jenkins_gate(session: Session, job: Job, revoke: bool, ctx: RunContext) -> list[str]:
    """Before the Jenkins playbook: refuse a world-open Jenkins, or revoke it when decided."""
    aws = session.backends.aws(job.aws)
    rules = gate(aws, job)
    if not rules:
        ctx.progress(f"Jenkins gate: no security group opens {_ports(job)} to the world")
        return []
    if not revoke:
        message, fix = gate_message(rules, job.aws.region)
        raise StepError(message, fix)
    done = jenkins_gate.revoke(aws, rules)
    for line in done:
        ctx.progress(f"Jenkins gate: {line}")
    return done


def _ports(job: Job) -> str:
    return " or ".join(str(p) for p in job.gate_ports)


def _file_digests(session: Session, job: Job) -> dict[str, str]:
    """Keyed digests of what the runs used and installed: vars files and the Jenkins files."""
    key = session.answers.internal_secret("ledger_key")
    paths = {VARS_FILE: job.vars_analytics}
    paths.update(
        {
            f"{followups.TASKS_DIR}/{n}": job.repo / followups.TASKS_DIR / n
            for n in followups.JENKINS_FILES
        }
    )
    found = {}
    for name, path in paths.items():
        try:
            found[name] = digest(key, path.read_bytes().decode("utf-8", "surrogateescape"))
        except FileNotFoundError:
            found[name] = "missing"
    return found


def after_playbooks(session: Session, job: Job, ctx: RunContext) -> dict[str, Any]:
    """The creds into the pipeline bucket, the EMR bucket's runtime files checked."""
    aws = session.backends.aws(job.aws)
    tasks = job.repo / followups.TASKS_DIR
    creds = followups.upload_creds(aws, job.pipeline_bucket, tasks)
    for line in creds:
        ctx.progress(line)
    warnings = followups.missing_emr_files(aws, job.emr_bucket)
    for line in warnings:
        ctx.progress(f"warning: {line}")
    return {"creds": creds, "warnings": warnings}


# --- the phases, from the one the ledger records on -----------------------------------------


def _picked_up(run: detached.Run, wait: float = 60.0) -> None:
    """Mark a run's result as used, once its process has ended (ansible-runner writes its
    status before the child closes its ssh connections and exits)."""
    import time

    deadline = time.monotonic() + wait
    while run.state == detached.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
    if run.state != detached.RUNNING:
        run.pick_up()


def _record(session: Session, digests: Mapping[str, str], state: Mapping[str, Any]) -> None:
    """The ledger says the step is running, with where it is (a later wizard carries on)."""
    session.save_answers()
    session.ledger.record(
        NAME, StepRecord(status=RUNNING, inputs=dict(digests), outputs=dict(state))
    )


def proceed(
    session: Session, job: Job, state: dict[str, Any], digests: Mapping[str, str], ctx: RunContext
) -> dict[str, Any]:
    """Run (or follow) the phases from ``state["phase"]`` on; the step's outputs."""
    done: list[dict[str, Any]] = list(state.get("playbooks") or [])
    start = PHASES.index(state["phase"])
    for phase in PHASES[start:]:
        if phase == JENKINS and not state.get("gate_passed"):
            state["revoked"] = _jenkins_gate(session, job, bool(state.get("revoke")), ctx)
            state["gate_passed"] = True
        run = find_run(job.runs_dir, state["run"]) if state.get("phase") == phase else None
        if run is None:
            start_at = (state.get("start_at") or {}).get(phase)
            book = job.playbook_name(phase)
            if ctx.cancelled():
                raise Cancelled(f"stopped before {book} started, as asked", _retry_fix(None))
            ctx.progress(f"starting {book}" + (f" at task {start_at!r}" if start_at else ""))
            run = start_run(job, phase, start_at)
            state.update(phase=phase, run=run.id, playbook=book)
            _record(session, digests, state)
        else:
            ctx.progress(f"following {job.playbook_name(phase)} (run {run.id}) from its start")
        total = (state.get("tasks") or {}).get(phase)
        result = follow_run(job, phase, run, total, ctx)
        _picked_up(run)
        done.append(result)
        state["playbooks"] = done
        ctx.progress(f"{result['playbook']}: done ({count(result['tasks'], 'task')})")
    outputs = after_playbooks(session, job, ctx)
    detached.prune(job.runs_dir, keep=12)
    return {
        "playbooks": done,
        "hosts": list(job.hosts),
        "revoked": state.get("revoked") or [],
        "installed": _file_digests(session, job),
        **outputs,
    }


# --- planning helpers -----------------------------------------------------------------------


def start_point(
    start_at: str | None,
    services: list[PlayTasks],
    jenkins: list[PlayTasks],
    job: Job,
    failed_phase: str | None,
) -> tuple[str, str | None]:
    """The phase to begin with and the task to start it at."""
    if not start_at or start_at == BEGINNING:
        return SERVICES, None
    if start_at == FILES_TASK:  # only the follow-ups: after a failure past both playbooks
        return FILES, None
    in_services = ansible.tasks_from(services, start_at) > 0
    in_jenkins = ansible.tasks_from(jenkins, start_at) > 0
    if in_jenkins and (not in_services or failed_phase == JENKINS):
        return JENKINS, start_at
    if in_services:
        return SERVICES, start_at
    raise StepError(
        f"there is no task {start_at!r} in {job.services} or {job.jenkins}",
        f"set {START_KEY} to a task as the preview lists it ('role : task' or the task alone), "
        f"or to {BEGINNING!r}",
    )


def last_failure(session: Session, record: StepRecord | None) -> tuple[str | None, str | None]:
    """The phase and failed task of the last run, when it failed."""
    if record is None or record.status != FAILED:
        return None, None
    phase = record.outputs.get("phase")
    run = find_run(session.state_dir / "runs", record.outputs.get("run"))
    if run is None or phase not in PHASES:
        return None, None
    if phase == FILES:  # the files playbook, or the uploads after it: both playbooks were done
        return FILES, FILES_TASK
    failure = summarize(artifacts(run)).failure
    return str(phase), failure.task if failure else None


def list_plays(job: Job) -> tuple[list[PlayTasks], list[PlayTasks]]:
    """The plays and tasks of both playbooks (``--list-tasks``: no host is contacted)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="aw-plays-") as scratch:
        extra = Path(scratch) / "wizard-vars.yml"
        atomic_write(
            extra, followups.literal_vars(wizard_vars(job, SERVICES)), mode=SECRET_FILE_MODE
        )
        return (
            ansible.list_tasks(job.ansible.path, playbook(job, SERVICES, extra), job.targets),
            ansible.list_tasks(job.ansible.path, playbook(job, JENKINS, extra), job.targets),
        )


def plays_lines(book: str, plays: list[PlayTasks]) -> list[str]:
    return [f"  play {p.name!r} ({p.pattern}): {count(len(p.tasks), 'task')}" for p in plays]


# --- the step -------------------------------------------------------------------------------


class PlaybooksStep(Step):
    name = NAME
    inputs = INPUTS
    verb = "Run"
    preview_label = "Preview"
    cancellable = True

    def plan(
        self, session: Session, decisions: Mapping[str, str], force: bool, ctx: RunContext
    ) -> Plan:
        """The commands, hosts, plays, the gate's verdict and the follow-ups; changes nothing
        (an accepted host key is recorded in known_hosts, except on a dry run)."""
        v = values(session)
        record = session.ledger.steps.get(NAME)
        if record is not None and record.status == RUNNING:
            raise StepError(
                f"a playbook run is going ({record.outputs.get('playbook')}, run "
                f"{record.outputs.get('run')}); nothing new is planned while it runs",
                "wait for it: the wizard follows it when opened, and 'run' waits for it",
            )
        job = job_of(session, v)
        result = Plan(step=NAME, inputs={**v, START_KEY: None}, decisions=dict(decisions))
        start_at = decisions.get(START_AT) or v[START_KEY]
        result.outputs["_start_answer"] = bool(v[START_KEY]) and not decisions.get(START_AT)
        if not start_at and not force and self._current(session, record, result):
            assert record is not None
            result.notes.append(
                f"the playbooks ran with these answers ({record.finished_at}) and the Jenkins "
                "files still match: nothing to run. To run them again set "
                f"{START_KEY} to {BEGINNING!r} (or a task; headless: --start-at-task {BEGINNING})"
            )
            result.outputs["_nothing"] = dict(record.outputs)
            return result

        result.notes.append(f"ansible-playbook: {job.ansible.path} ({job.ansible.version})")
        via = f" through the director {job.targets.jump.label}" if job.targets.jump else ""
        result.notes.append(f"hosts: {', '.join(job.hosts)}{via}")
        keys = ansible.host_keys(
            job.targets, accept=ssh.accepted_host_keys(decisions), record=session.write
        )
        result.notes.append(
            f"host keys checked against {job.targets.known_hosts}: "
            + ", ".join(f"{k.host}:{k.port} {k.fingerprint}" for k in keys)
        )
        services_plays, jenkins_plays = list_plays(job)
        failed_phase, failed_task = last_failure(session, record)
        phase, task = start_point(start_at, services_plays, jenkins_plays, job, failed_phase)
        starts = {phase: task} if task else {}
        tasks = {
            SERVICES: ansible.tasks_from(services_plays, starts.get(SERVICES)),
            JENKINS: ansible.tasks_from(jenkins_plays, starts.get(JENKINS)),
            FILES: 1,
        }
        if failed_task and not start_at:
            where = (
                "in the follow-ups, after both playbooks"
                if failed_phase == FILES
                else f"at task {failed_task!r}"
            )
            result.notes.append(
                f"the last run failed {where}: this run starts from the beginning; to start at "
                f"that task set {START_KEY} to {failed_task!r} (headless: --start-at-task "
                f"{shlex.quote(failed_task)})"
            )

        for each, plays in ((SERVICES, services_plays), (JENKINS, jenkins_plays)):
            book = job.playbook_name(each)
            if PHASES.index(each) < PHASES.index(phase):
                result.notes.append(f"{book}: not run (the run starts at a later task)")
                continue
            result.notes.append(f"$ {command_shown(job, each, starts.get(each))}")
            result.notes += plays_lines(book, plays)
        result.notes.append(f"$ {command_shown(job, FILES)}")

        aws = session.backends.aws(job.aws)
        revoke = decisions.get(REVOKE) == "yes"
        try:
            rules = gate(aws, job)
        except StepError as exc:
            result.outputs["_blocked"] = str(exc)
            result.notes.append(f"Jenkins gate: {exc}")
            rules = []
        if rules and not revoke:
            message, fix = gate_message(rules, job.aws.region)
            if session.write:
                raise NeedsDecision(
                    message,
                    fix,
                    key=REVOKE,
                    value="yes",
                    question=f"Revoke {count(len(rules), 'world-open rule')} just before the "
                    f"Jenkins playbook runs? ({'; '.join(r.describe() for r in rules)})",
                    yes="Revoke",
                )
            result.outputs["_blocked"] = f"{message}; {fix}"
            result.notes.append(f"Jenkins gate: {message}")
        elif rules:
            result.notes.append(f"Jenkins gate: {len(rules)} world-open rule(s), revoked first")
        elif "_blocked" not in result.outputs:
            result.notes.append(f"Jenkins gate: no security group opens {_ports(job)} to the world")
        warnings = _emr_warnings(aws, job)
        result.notes += [f"warning: {w}" for w in warnings]

        hosts = count(len(job.hosts), "host")
        for each in PHASES[PHASES.index(phase) : PHASES.index(FILES)]:
            skip = ", skipping the seed job" if each == JENKINS else ""
            result.effects.append(
                f"runs {job.playbook_name(each)} on {hosts}{skip}: {count(tasks[each], 'task')}"
                + (f" from {starts[each]!r}" if each in starts else "")
            )
        result.effects += [f"revokes: {r.describe()}" for r in rules if revoke]
        result.effects.append(
            f"installs {', '.join(followups.JENKINS_FILES)} in {job.jenkins_home} on each host "
            f"(owner {job.jenkins_user}, mode 0600)"
        )
        result.effects.append(
            f"uploads {' and '.join(followups.CREDS)} to s3://{job.pipeline_bucket}/ "
            "(server-side encrypted)"
        )
        result.outputs["_books"] = [
            job.playbook_name(p) for p in PHASES[PHASES.index(phase) : PHASES.index(FILES)]
        ]
        result.outputs["_state"] = {
            "phase": phase,
            "run": None,
            "start_at": starts,
            "tasks": tasks,
            "revoke": revoke,
        }
        return result

    def _current(self, session: Session, record: StepRecord | None, plan: Plan) -> bool:
        """Done with these very inputs, and the installed files still match."""
        if record is None or record.status != DONE:
            return False
        if record.inputs != session.input_digests(plan.inputs):
            return False
        return self.probe(session) is None

    def apply(self, session: Session, plan: Plan, ctx: RunContext) -> dict[str, Any]:
        """Run the playbooks (detached), the gate between them, then the follow-ups."""
        nothing = plan.outputs.get("_nothing")
        if nothing is not None:
            return dict(nothing)
        blocked = self.blocking(plan)
        if blocked:
            raise StepError(blocked)
        job = job_of(session, values(session))
        if plan.outputs.get("_start_answer"):
            session.set_answer(START_KEY, None)  # used once: the next run starts normally
        state = dict(plan.outputs["_state"])
        digests = session.input_digests(plan.inputs)
        return proceed(session, job, state, digests, ctx)

    def follow(self, session: Session, record: StepRecord, ctx: RunContext) -> dict[str, Any]:
        """Carry on from the run the ledger records: follow it, then the phases after it."""
        state = dict(record.outputs)
        if state.get("phase") not in PHASES:
            raise StepError(
                "the ledger records a playbook run it cannot place",
                "run the step again (it starts from the beginning)",
            )
        job = job_of(session, values(session))
        return proceed(session, job, state, dict(record.inputs), ctx)

    def run_state(self, session: Session, record: StepRecord) -> tuple[str, str]:
        """Local only (the run's files): which playbook, task n of m, or ended unrecorded."""
        outputs = record.outputs
        book = str(outputs.get("playbook") or "the playbook")
        run = find_run(session.state_dir / "runs", outputs.get("run"))
        if run is None:
            return "failed", f"the ledger records a run of {book} that is gone; run the step again"
        state = run.state
        if state == detached.RUNNING:
            total = (outputs.get("tasks") or {}).get(outputs.get("phase"))
            summary = summarize(artifacts(run), total)
            return "running", f"{headline(book, summary)}, {_minutes(run.elapsed())} so far"
        if state == detached.INTERRUPTED:
            return "failed", f"the run of {book} was interrupted; run the step again"
        return (
            "running",
            f"{book} ended while nobody watched; open the wizard (or run) to record it and go on",
        )

    def probe(self, session: Session) -> str | None:
        """None while the vars and Jenkins files the runs used still equal the secure repo's."""
        record = session.ledger.steps.get(NAME)
        installed: Mapping[str, str] = (record.outputs.get("installed") or {}) if record else {}
        if not installed:
            return "the ledger records no playbook run"
        key = session.answers.internal_secret("ledger_key")
        for name, expected in installed.items():
            try:
                text = (session.repo / name).read_bytes().decode("utf-8", "surrogateescape")
            except FileNotFoundError:
                return f"{name} is missing from the secure repo"
            if digest(key, text) != expected:
                what = "the playbooks ran with" if name == VARS_FILE else "was installed"
                return f"{name} changed since {what} it; run the step again"
        return None

    def verify_outside(self, session: Session) -> str | None:
        """Whether the Jenkins files on the hosts still match (ansible --check)."""
        job = job_of(session, values(session))
        differ = check_installed(job)
        if differ:
            return "; ".join(differ) + "; run the step again"
        return None

    def blocking(self, plan: Plan) -> str | None:
        blocked = plan.outputs.get("_blocked")
        return str(blocked) if blocked else None

    def question(self, plan: Plan) -> str:
        if plan.outputs.get("_nothing") is not None:
            return "The playbooks already ran with these answers. Record the step as done?"
        books = plan.outputs.get("_books") or []
        if not books:
            return "Install the Jenkins files on the hosts and upload the creds?"
        return (
            f"Run {' and '.join(books)}, then install the Jenkins files and upload the creds? "
            "(It takes a while; closing the wizard leaves it running.)"
        )

    def outcome(self, plan: Plan, outputs: Mapping[str, Any]) -> str:
        if plan.outputs.get("_nothing") is not None:
            return "already done; nothing ran"
        ran = [
            f"{p['playbook']} ({count(p['tasks'], 'task')})" for p in outputs.get("playbooks") or []
        ]
        parts = [f"ran {', '.join(ran)}"] if ran else []
        hosts = outputs.get("hosts") or []
        parts.append(f"Jenkins files installed on {count(len(hosts), 'host')}")
        parts.append("creds uploaded (encrypted)")
        warnings = outputs.get("warnings") or []
        if warnings:
            parts.append(f"{count(len(warnings), 'warning')}: " + "; ".join(warnings))
        return "; ".join(parts)

    def details(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "playbooks": list(outputs.get("playbooks") or []),
            "warnings": list(outputs.get("warnings") or []),
            "revoked": list(outputs.get("revoked") or []),
        }


def _emr_warnings(aws: Aws, job: Job) -> list[str]:
    try:
        return followups.missing_emr_files(aws, job.emr_bucket)
    except WizardError as exc:
        return [f"the EMR bucket could not be checked: {exc}"]


def check_installed(job: Job, timeout: float = 600) -> list[str]:
    """The Jenkins files on the hosts that differ from the secure repo's (ansible --check)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="aw-verify-") as scratch:
        base = Path(scratch)
        extra = base / "wizard-vars.yml"
        atomic_write(extra, followups.literal_vars(wizard_vars(job, FILES)), mode=SECRET_FILE_MODE)
        book = Playbook(
            job.configuration_dir,
            str(followups.playbook_path()),
            (*job.extra_vars, extra),
            check=True,
        )
        prepared = ansible.prepare_run(base / "run", job.ansible.path, book, job.targets)
        subprocess.run(
            prepared.child_argv(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        events = read_events(prepared.artifacts_dir)
    summary = RunSummary.of(events)
    if summary.failure is not None:
        return [failure_message("the check of the Jenkins files", summary).replace("\n", " ")]
    differ = []
    for event in events:
        data = event.get("event_data") or {}
        res = data.get("res") or {}
        if (
            event.get("event") == "runner_item_on_ok"
            and isinstance(res, dict)
            and res.get("changed")
        ):
            item = res.get("item") or {}
            dest = item.get("dest") if isinstance(item, dict) else None
            differ.append(
                f"{dest or 'a Jenkins file'} on {data.get('host')} differs from the secure repo's"
            )
    if not summary.finished:
        differ.append("the check of the Jenkins files on the hosts did not finish")
    return differ


STEP = PlaybooksStep()
