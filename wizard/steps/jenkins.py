"""The ``jenkins`` step: the analytics pipeline's Jenkins jobs, applied through the tunnel.

The jobs are declared in the secure repo's ``jenkins/jobs.yml`` (Jenkins Job Builder YAML): the
step writes the runbook's set from the answers when the file is missing, and regenerates it when
the answers change as long as nobody edited it; an edited file is the operator's and is kept.
Planning reaches Jenkins (through an SSH tunnel via the director, or directly on the director),
reads its version and compares every declared job with what Jenkins has: the preview lists what
is created and updated, with each update's config.xml diff. Applying reaches Jenkins again, checks
nothing changed since the preview, creates and updates the jobs, and sets the executors count and
admin e-mail through the script console (the answers have no playbook variable for the e-mail,
so both are set the same way). Jobs Jenkins has that jobs.yml does not declare are never touched;
a hand-made job with a declared name is left alone unless the operator chooses to take it over.

The form's action opens a tunnel that stays up while the wizard runs (kept on the session), or on
the director gives the ``ssh -L`` line for the operator's laptop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import jenkins_jobs, ssh
from ..context import RunContext
from ..errors import ConflictError, NeedsDecision, WizardError
from ..findings import PASS, Finding
from ..fsutil import FileWrite, file_mode, read_if_exists, write_files
from ..jenkins_jobs import CONFLICT, CREATE, JOBS_FILE, UPDATE, JobsPlan, digest
from ..jenkins_tunnel import JenkinsTunnel, JenkinsUnreachable, check_direct, jenkins_version
from .base import KEEP, OVERWRITE, Action, Change, Conflict, Plan, Step, StepError, count

if TYPE_CHECKING:
    from ..engine import Session

NAME = "jenkins"
OPEN_JENKINS = Action("open_tunnel", "Open Jenkins", "f5")
TUNNEL = "jenkins tunnel"  # what the session keeps the action's tunnel as
# Decisions: the local port to use instead of a busy jenkins.local_port; a hand-made job with
# a declared name kept (KEEP) or taken over (OVERWRITE), as ``decisions["Jenkins job:<name>"]``.
LOCAL_PORT = "jenkins-local-port"
JOB_CONFLICT = "Jenkins job"

INPUTS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            "director.host",
            "director.port",
            "director.user",
            "director.key_file",
            "director.known_hosts",
            "infrastructure.analytics_private_ips",
            "jenkins.port",
            "jenkins.executors",
            "jenkins.admin_email",
            *jenkins_jobs.INPUTS,
        )
    )
)


class JenkinsDown(StepError):
    """Jenkins does not answer; ``findings`` are the diagnostics (each with its fix)."""

    def __init__(self, message: str, fix: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message, fix)
        self.findings = list(findings)


class LocalPortTaken(NeedsDecision):
    """jenkins.local_port is busy here: the operator may take the next free port instead."""

    def __init__(self, busy: ssh.LocalPortBusy, suggestion: int) -> None:
        super().__init__(
            str(busy),
            f"set jenkins.local_port to a free port, or use {suggestion}",
            key=LOCAL_PORT,
            value=str(suggestion),
            question=f"Open the tunnel on 127.0.0.1:{suggestion} instead?",
            yes=f"Use {suggestion}",
        )


def values(session: Session) -> dict[str, Any]:
    try:
        return session.resolved.require(INPUTS)
    except ValueError as exc:
        if isinstance(exc, WizardError):  # missing answers keep their own exit code
            raise
        raise StepError(str(exc)) from None


def previous(session: Session) -> Mapping[str, Any]:
    """The outputs of the last run (kept by a failed run too): job records, settings."""
    record = session.ledger.steps.get(NAME)
    return record.outputs if record is not None else {}


# --- jenkins/jobs.yml ----------------------------------------------------------------------


def jobs_file(session: Session) -> tuple[Change, str | None, list[str]]:
    """The jobs.yml the step applies, as a change (pending only when written or regenerated);
    the digest of the text the wizard generated, while the file is still that (None once the
    operator edited it); notes."""
    path = session.repo / JOBS_FILE
    default = jenkins_jobs.default_jobs_yaml(jenkins_jobs.values_from(session.resolved.get))
    old = read_if_exists(path, session.repo)
    if old is None:
        return Change(JOBS_FILE, None, default, 0o644), digest(default), []
    mode = file_mode(path) or 0o644
    if old == default:
        return Change(JOBS_FILE, old, old, mode, mode), digest(default), []
    if previous(session).get("jobs_yml_default") == digest(old):
        # Still exactly what the wizard generated: the answers changed, so regenerate it.
        return Change(JOBS_FILE, old, default, mode, mode), digest(default), []
    note = (
        f"{JOBS_FILE} was edited by hand, so it is applied as it is (the answers alone would "
        "give other jobs; move the file aside to get those)"
    )
    return Change(JOBS_FILE, old, old, mode, mode), None, [note]


# --- reaching Jenkins ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reached:
    """Jenkins as this run talks to it."""

    url: str  # where the wizard's HTTP calls go now (a tunnel's local end, or Jenkins itself)
    version: str
    where: str  # "through ubuntu@director", "directly"
    address: str  # Jenkins' own URL on the analytics host


def down(session: Session, exc: WizardError, accept: Sequence[str]) -> JenkinsDown:
    """Jenkins does not answer: ``exc`` with the diagnostics' findings and fixes."""
    from .. import access

    try:
        findings = access.diagnose_jenkins(session, accept=accept)
    except (WizardError, OSError) as problem:
        return JenkinsDown(
            f"{exc.message} (the diagnosis could not run: {problem})",
            exc.fix or "check that Jenkins runs on the analytics host",
        )
    bad = [f for f in findings if f.verdict != PASS]
    found = "; ".join(f"{f.id} ({f.verdict}): {f.finding}" for f in bad)
    message = f"{exc.message}. What the wizard found: {found}" if found else exc.message
    fix = " Then: ".join(dict.fromkeys(f.fix for f in bad if f.fix)) or exc.fix
    return JenkinsDown(message, fix, findings)


@contextmanager
def reach(session: Session, decisions: Mapping[str, str]) -> Iterator[Reached]:
    """Jenkins, through a tunnel of its own (any free local port, so an open ``tunnel``
    command or the form's tunnel is no obstacle), or directly on the director."""
    from .. import access

    host = access.jenkins_host(session)
    address = f"http://{host.label}/"
    accepted = ssh.accepted_host_keys(decisions)
    jump = access.director_jump(session)
    if jump is None:
        try:
            version = check_direct(host)
        except JenkinsUnreachable as exc:
            raise down(session, exc, accepted) from None
        yield Reached(address, version, "directly (the wizard runs on the director)", address)
        return
    # ssh.HostKeyUnknown asks the operator (a NeedsDecision); a changed key is refused.
    with session.backends.tunnel(jump, accept=accepted, record=session.write) as tunnel:
        if not tunnel.reaches(host.address, host.port):
            unreachable = JenkinsUnreachable(
                f"the director {jump.label} cannot reach Jenkins at {host.label}",
                "check that Jenkins runs on the analytics host and that its security group "
                "admits the director on jenkins.port",
            )
            raise down(session, unreachable, accepted)
        local_host, local_port = tunnel.forward(host.address, host.port)
        url = f"http://{local_host}:{local_port}/"
        try:
            version = jenkins_version(url)
        except JenkinsUnreachable as exc:
            raise down(session, exc, accepted) from None
        yield Reached(url, version, f"through {jump.label}", address)


# --- planning ------------------------------------------------------------------------------


def _shape(jobs: JobsPlan) -> list[list[str]]:
    """What the preview showed of each job, to tell whether Jenkins changed since."""
    return [[c.name, c.action, digest(c.xml), digest(c.current or "")] for c in jobs.changes]


def _decide_conflicts(
    jobs: JobsPlan, decisions: Mapping[str, str], force: bool, kept_before: Sequence[str]
) -> tuple[list[str], list[str], list[Conflict]]:
    """Hand-made jobs with a declared name: taken over, kept, or still to decide."""
    take_over: list[str] = []
    kept: list[str] = []
    undecided: list[Conflict] = []
    for change in jobs.conflicts:
        decision = decisions.get(f"{JOB_CONFLICT}:{change.name}")
        if force or decision == OVERWRITE:
            take_over.append(change.name)
        elif decision == KEEP or change.name in kept_before:
            kept.append(change.name)
        else:
            undecided.append(
                Conflict(
                    JOB_CONFLICT,
                    change.name,
                    "a job made by hand in Jenkins (keep leaves it alone)",
                    f"the job {JOBS_FILE} declares (overwrite takes it over)",
                )
            )
    return take_over, kept, undecided


@dataclass(frozen=True)
class Settings:
    """The executors count and admin e-mail: what Jenkins has, what the answers want."""

    executors_now: int | None
    executors: int
    admin_email: str
    admin_email_before: str | None

    @property
    def changes(self) -> list[str]:
        found = []
        if self.executors_now != self.executors:
            now = "?" if self.executors_now is None else str(self.executors_now)
            found.append(f"executors {now} -> {self.executors}")
        if self.admin_email_before != self.admin_email:
            found.append(f"admin e-mail {self.admin_email}")
        return found


def settings(server: Any, v: Mapping[str, Any], before: Mapping[str, Any]) -> Settings:
    return Settings(
        jenkins_jobs.current_executors(server),
        int(v["jenkins.executors"]),
        str(v["jenkins.admin_email"]),
        before.get("admin_email"),
    )


def _effect(reached: Reached, jobs: JobsPlan, taken: int, wanted: Settings) -> str | None:
    parts = []
    creating = sum(c.action == CREATE for c in jobs.changes)
    updating = sum(c.action == UPDATE for c in jobs.changes) + taken
    if creating:
        parts.append(f"create {count(creating, 'job')}")
    if updating:
        parts.append(f"update {count(updating, 'job')}")
    if wanted.changes:
        parts.append("set " + " and ".join(wanted.changes))
    if not parts:
        return None
    return f"Jenkins {reached.version}: " + ", ".join(parts)


def _notes(reached: Reached, jobs: JobsPlan, take_over: list[str], kept: list[str]) -> list[str]:
    notes = [f"Jenkins {reached.version} answers {reached.where}; jobs: {jobs.summary()}"]
    created = [c.name for c in jobs.changes if c.action == CREATE]
    if created:
        notes.append("to create: " + ", ".join(created))
    for change in jobs.changes:
        if change.action == UPDATE:
            why = f" ({change.reason})" if change.reason else ""
            notes.append(f"to update: {change.name}{why}\n{change.diff}")
        elif change.action == CONFLICT and change.name in take_over:
            notes.append(f"to take over (made by hand): {change.name}\n{change.diff}")
    if kept:
        notes.append("made by hand with a declared name, left alone: " + ", ".join(kept))
    if jobs.untouched:
        notes.append("other jobs in Jenkins, never touched: " + ", ".join(jobs.untouched))
    return notes


# --- the step ------------------------------------------------------------------------------


class JenkinsStep(Step):
    name = NAME
    inputs = INPUTS
    verb = "Apply jobs"
    preview_label = "Preview jobs"
    actions = (OPEN_JENKINS,)

    def plan(
        self, session: Session, decisions: Mapping[str, str], force: bool, ctx: RunContext
    ) -> Plan:
        """Reach Jenkins and compare each job jobs.yml declares with what Jenkins has."""
        v = values(session)
        change, default_digest, notes = jobs_file(session)
        rendered = jenkins_jobs.render(change.new)
        before = previous(session)
        result = Plan(step=NAME, inputs=dict(v), decisions=dict(decisions))
        result.changes.append(change)
        ctx.progress(f"reaching Jenkins for {count(len(rendered), 'declared job')}")
        with reach(session, decisions) as reached:
            server = jenkins_jobs.connect(reached.url)
            jobs = jenkins_jobs.plan(server, rendered, before.get("jobs") or {})
            wanted = settings(server, v, before)
        take_over, kept, undecided = _decide_conflicts(
            jobs, decisions, force, before.get("kept") or []
        )
        result.conflicts = undecided
        effect = _effect(reached, jobs, len(take_over), wanted)
        if effect:
            result.effects.append(effect)
        result.notes = notes + _notes(reached, jobs, take_over, kept)
        result.outputs = {
            "_jobs": _shape(jobs),
            "_take_over": take_over,
            "_kept": kept,
            "_settings": wanted.changes,
            "_default": default_digest,
            "_version": reached.version,
        }
        return result

    def apply(self, session: Session, plan: Plan, ctx: RunContext) -> dict[str, Any]:
        """Check Jenkins is as previewed, write jobs.yml, create/update the jobs, set the
        executors and admin e-mail; the outputs are the records the next plan compares with."""
        v = values(session)
        change = plan.changes[0]
        rendered = jenkins_jobs.render(change.new)
        before = previous(session)
        take_over = list(plan.outputs.get("_take_over") or [])
        with reach(session, plan.decisions) as reached:
            ctx.progress(f"Jenkins {reached.version} answers {reached.where}")
            server = jenkins_jobs.connect(reached.url)
            jobs = jenkins_jobs.plan(server, rendered, before.get("jobs") or {})
            if _shape(jobs) != plan.outputs.get("_jobs"):
                raise ConflictError(
                    "Jenkins' jobs changed since the preview; nothing was changed in Jenkins",
                    "preview the step again",
                )
            write_files(
                [FileWrite(session.repo / change.path, change.new, change.mode, change.old)],
                session.repo,
            )
            if change.changed:
                ctx.progress(f"wrote {change.path}")
            records = jenkins_jobs.apply(server, jobs, take_over=take_over, progress=ctx.progress)
            wanted = settings(server, v, before)
            if wanted.changes:
                jenkins_jobs.apply_settings(server, wanted.executors, wanted.admin_email)
                ctx.progress("set " + " and ".join(wanted.changes))
        if not jobs.pending and not take_over:
            ctx.progress(f"the {count(len(rendered), 'job')} already match {JOBS_FILE}")
        return {
            "jobs": records,
            "kept": sorted(plan.outputs.get("_kept") or []),
            "jobs_yml": digest(change.new),
            "jobs_yml_default": plan.outputs.get("_default"),
            "jenkins_version": reached.version,
            "url": reached.address,
            "executors": wanted.executors,
            "admin_email": wanted.admin_email,
        }

    def probe(self, session: Session) -> str | None:
        """Local: jobs.yml is still what was applied (the inputs are compared by the session)."""
        text = read_if_exists(session.repo / JOBS_FILE, session.repo)
        if text is None:
            return f"{JOBS_FILE} is missing"
        if digest(text) != previous(session).get("jobs_yml"):
            return f"{JOBS_FILE} changed since the jobs were applied: run the step to apply it"
        return None

    def verify_outside(self, session: Session) -> str | None:
        """Jenkins answers and has every declared job, as the wizard last set it."""
        text = read_if_exists(session.repo / JOBS_FILE, session.repo) or ""
        rendered = jenkins_jobs.render(text)
        with reach(session, {}) as reached:
            server = jenkins_jobs.connect(reached.url)
            jobs = jenkins_jobs.plan(server, rendered, previous(session).get("jobs") or {})
        missing = [c.name for c in jobs.changes if c.action == CREATE]
        if missing:
            return f"Jenkins lacks {count(len(missing), 'declared job')}: {', '.join(missing)}"
        changed = [c.name for c in jobs.changes if c.action == UPDATE]
        if changed:
            return f"changed in Jenkins since the wizard set them: {', '.join(changed)}"
        return None

    def question(self, plan: Plan) -> str:
        write = f"write {JOBS_FILE}" if plan.pending else ""
        if plan.effects:
            return "; ".join(plan.effects) + (f", and {write}" if write else "") + "?"
        if write:
            return f"Jenkins already has every job as declared. Write {JOBS_FILE}?"
        return "Jenkins already has every job as declared. Record the step as done?"

    def outcome(self, plan: Plan, outputs: Mapping[str, Any]) -> str:
        shape = plan.outputs.get("_jobs") or []
        made = sum(row[1] == CREATE for row in shape)
        updated = sum(row[1] == UPDATE for row in shape) + len(plan.outputs.get("_take_over") or [])
        version = outputs.get("jenkins_version")
        if made or updated:
            done = [(made, "created"), (updated, "updated")]
            did = ", ".join(f"{verb} {count(n, 'job')}" for n, verb in done if n)
        else:
            did = f"the {count(len(outputs.get('jobs') or {}), 'job')} already match"
        return f"Jenkins {version}: {did}; open it with analytics-wizard tunnel"

    def run_action(self, name: str, session: Session, decisions: Mapping[str, str]) -> list[str]:
        if name != OPEN_JENKINS.name:
            return super().run_action(name, session, decisions)
        return open_jenkins(session, decisions)


# --- the form's action: Jenkins for the operator's browser ---------------------------------


def open_jenkins(session: Session, decisions: Mapping[str, str]) -> list[str]:
    """Open a tunnel kept until the wizard quits (or, on the director, check Jenkins and give
    the laptop's ``ssh -L`` line); the lines to show."""
    from .. import access
    from ..jenkins_tunnel import UP

    accepted = ssh.accepted_host_keys(decisions)
    local = int(decisions.get(LOCAL_PORT) or session.resolved.get("jenkins.local_port"))
    if access.director_jump(session) is None:
        host = access.jenkins_host(session)
        try:
            version = check_direct(host)
        except JenkinsUnreachable as exc:
            raise down(session, exc, accepted) from None
        return [
            f"Jenkins {version} answers at http://{host.label}/ (this is the director: no "
            "tunnel needed). On your laptop run:",
            f"  {access.laptop_line(session)}",
            f"then open http://127.0.0.1:{session.resolved.get('jenkins.local_port')}/",
        ]
    open_now = session.kept(TUNNEL)
    if isinstance(open_now, JenkinsTunnel) and open_now.state == UP:
        return [
            f"Jenkins {open_now.version} is at {open_now.url} through {open_now.jump.label}; "
            "the tunnel is already open and stays open until you quit"
        ]
    session.release(TUNNEL)

    def on_state(state: str, detail: str) -> None:
        session.log.write(f"jenkins tunnel: {state}: {detail}")

    try:
        tunnel = access.open_jenkins_tunnel(
            session, on_state=on_state, local_port=local, accept=accepted
        )
    except ssh.LocalPortBusy as exc:
        if exc.suggestion is None:
            raise
        raise LocalPortTaken(exc, exc.suggestion) from None
    except JenkinsUnreachable as exc:
        raise down(session, exc, accepted) from None
    session.keep(TUNNEL, tunnel)
    return [
        f"Jenkins {tunnel.version} is at {tunnel.url} through {tunnel.jump.label}; the tunnel "
        "stays open (reconnecting) until you quit"
    ]


STEP = JenkinsStep()
