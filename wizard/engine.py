"""A working session on one secure repo: answers, ledger, lock, and running steps.

The TUI, headless mode and the tests all go through :class:`Session`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from . import gitrepo, privacy
from .answers import Answers, Resolved
from .backends import REAL, Backends
from .context import QUIET, RunContext
from .errors import ConflictError, Detached, WizardError, explain
from .fsutil import ensure_private_dir, remove_stale_temp_files
from .ledger import Ledger, StepRecord, input_digests
from .lock import RepoLock
from .lock import path_in as lock_path
from .redact import Redactor
from .runlog import RunLog
from .states import DONE, FAILED, PENDING, RUNNING, STALE
from .steps import STEPS, Check, Plan, Step, StepError, StepInfo, by_name

LEDGER_KEY = "ledger_key"


class Closeable(Protocol):
    def close(self) -> None: ...


@dataclass
class StepStatus:
    name: str
    title: str
    state: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "title": self.title, "state": self.state, "reason": self.reason}


class Session:
    """Open with :meth:`open`; use as a context manager so the lock is released."""

    def __init__(
        self, repo: Path, *, write: bool, command: str = "session", backends: Backends = REAL
    ):
        self.repo = repo.expanduser().resolve()
        self.backends = backends
        self.write = write
        self.state_dir = self.repo / ".wizard"
        self.lock = RepoLock(lock_path(self.repo))
        self.answers = Answers()
        self.ledger = Ledger(Ledger.path_in(self.repo))
        self.redact = Redactor()
        self.command = command
        self.log = RunLog(None, command, self.redact)
        # What opening fixed in an existing repo (modes, .gitignore), for the operator to see.
        self.repaired: list[str] = []
        # Things a step opened for the rest of the session (a Jenkins tunnel), by name.
        self._kept: dict[str, Closeable] = {}
        # Checks the operator overrode in this session, with the digests of the answers each
        # reads (wizard.overrides); the ledger keeps those of a recorded step.
        self.overrides: dict[str, dict[str, dict[str, str]]] = {}

    # --- lifecycle ----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        repo: Path,
        *,
        write: bool = True,
        command: str = "session",
        backends: Backends = REAL,
    ) -> Session:
        """Open ``repo``. ``write=False`` (status, dry runs) creates and locks nothing."""
        session = cls(repo, write=write, command=command, backends=backends)
        if write:
            session.repaired = privacy.make_private(session.repo)
            ensure_private_dir(session.state_dir, session.repo)
            session.lock.acquire()
            try:
                session.repaired += gitrepo.init(session.repo)
                for directory in (
                    session.repo,
                    session.repo / "analytics-tasks",
                    session.state_dir,
                ):
                    remove_stale_temp_files(directory)
                session.log = RunLog(session.state_dir / "logs", command, session.redact)
                if session.repaired:
                    session.log.write(
                        "made the secure repo private: " + "; ".join(session.repaired)
                    )
                session.load()
            except BaseException:
                session.lock.release()
                raise
        elif session.repo.is_dir():
            session.load()
        return session

    def load(self) -> None:
        self.answers = Answers.load(self.answers_path, self.secrets_path)
        self.ledger = Ledger.load(self.ledger.path)
        self.redact.add(self.answers.secret_values())

    def keep(self, name: str, resource: Closeable) -> None:
        """Keep ``resource`` open until the session closes; one kept before as ``name`` is
        closed now."""
        previous = self._kept.pop(name, None)
        if previous is not None and previous is not resource:
            self._close_quietly(name, previous)
        self._kept[name] = resource

    def kept(self, name: str) -> Closeable | None:
        """What :meth:`keep` holds as ``name`` (None: nothing)."""
        return self._kept.get(name)

    def release(self, name: str) -> None:
        """Close and forget what is kept as ``name`` (nothing kept: nothing to do)."""
        resource = self._kept.pop(name, None)
        if resource is not None:
            self._close_quietly(name, resource)

    def _close_quietly(self, name: str, resource: Closeable) -> None:
        # Closing is the end of the session's use of it: a failure there is logged, not raised,
        # so the other resources and the lock are still released.
        try:
            resource.close()
        except Exception as exc:
            self.log.write(f"closing {name} failed: {explain(exc, self.redact)}")

    def close(self) -> None:
        """Close what steps kept open, then release the lock."""
        try:
            for name in list(reversed(self._kept)):
                self.release(name)
        finally:
            self.lock.release()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def answers_path(self) -> Path:
        return self.state_dir / "answers.yml"

    @property
    def secrets_path(self) -> Path:
        return self.state_dir / "secrets.yml"

    def state_files(self) -> list[Path]:
        """The wizard's own files that belong in the secure repo's history."""
        return [self.answers_path, self.secrets_path, self.ledger.path]

    # --- answers ------------------------------------------------------------------------

    @property
    def resolved(self) -> Resolved:
        return Resolved(self.answers, self.ledger.output, lambda: gitrepo.remote_url(self.repo))

    def set_answer(self, key: str, value: Any) -> Any:
        """Validate, store and save one confirmed answer (raises FieldError)."""
        cleaned = self.answers.set(key, value)
        self.redact.add(self.answers.secret_values())
        self.save_answers()
        return cleaned

    def merge_answers(self, flat: Mapping[str, Any], source: str) -> None:
        self.answers.merge(flat, source)
        self.redact.add(self.answers.secret_values())
        self.save_answers()

    def save_answers(self) -> None:
        if self.write:
            self.answers.save(self.answers_path, self.secrets_path, self.repo)

    def ensure_generated(self, keys: Iterable[str]) -> list[str]:
        """Generate missing secrets among ``keys`` (kept from then on)."""
        created = self.resolved.generate_missing(keys)
        if created:
            self.redact.add(self.answers.secret_values())
            self.save_answers()
        return created

    def input_digests(self, values: Mapping[str, Any]) -> dict[str, str]:
        key = self.answers.internal_secret(LEDGER_KEY)
        self.redact.add([key])
        return input_digests(key, values)

    # --- steps --------------------------------------------------------------------------

    def step(self, name: str) -> Step:
        return by_name(name).load()

    def _context(self, name: str, ctx: RunContext) -> RunContext:
        """``ctx`` with each progress line masked and written to the run log first."""

        def shown(line: str) -> str:
            line = self.redact(line)
            self.log.write(f"{name}: {line}")
            return line

        return ctx.wrap(shown)

    def plan(
        self,
        name: str,
        decisions: Mapping[str, str] | None = None,
        force: bool = False,
        ctx: RunContext = QUIET,
    ) -> Plan:
        return self.step(name).plan(self, decisions or {}, force, self._context(name, ctx))

    def recheck(
        self, plan: Plan, cid: str, decisions: Mapping[str, str], ctx: RunContext = QUIET
    ) -> Check:
        """Run one check of a checks plan again (its result replaces the old one in ``plan``)."""
        step = self.step(plan.step)
        return step.recheck(self, plan, cid, decisions, self._context(plan.step, ctx))

    def confirm(self, plan: Plan, word: str) -> bool:
        """Whether ``word`` confirms ``plan`` (e.g. ``destroy``); a confirmed plan may be applied."""
        if plan.confirm and self.step(plan.step).accepts(plan, word):
            plan.confirm = ""
            return True
        return not plan.confirm

    def apply(self, plan: Plan, ctx: RunContext = QUIET) -> dict[str, Any]:
        """Carry out ``plan``, commit the secure repo, and record the step as done.

        A step that fails (or a commit that fails) is recorded as failed with the reason."""
        if not self.write:
            raise StepError("this session is read-only (dry run)")
        step = self.step(plan.step)
        self.check_unchanged(plan)
        self.log.write(f"{plan.step}: applying {len(plan.pending)} change(s)")
        outputs = self._guard(
            plan.step, lambda: step.apply(self, plan, self._context(plan.step, ctx)), plan.checks
        )
        digests = self.input_digests(plan.inputs)
        wrote = [c.path for c in plan.pending]
        self._done(step, digests, outputs, [c.path for c in plan.changes], wrote)
        return outputs

    def _guard(
        self, name: str, work: Callable[[], dict[str, Any]], checks: Sequence[Check] = ()
    ) -> dict[str, Any]:
        """``work()``; a failure is recorded as the step's (a run left running is not one)."""
        try:
            return work()
        except Detached:
            raise  # the ledger keeps saying "running"; a later wizard picks the run up
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            reason = "interrupted" if interrupted else str(explain(exc, self.redact))
            self.fail(name, reason, checks)
            raise

    def _done(
        self,
        step: Step,
        digests: dict[str, str],
        outputs: dict[str, Any],
        paths: list[str],
        wrote: list[str],
    ) -> None:
        """Record ``step`` as done with ``outputs``, then commit; a failed commit fails it."""
        self.save_answers()  # the ledger key and generated secrets before the ledger cites them
        previous = self.ledger.steps.get(step.name)
        unchanged = (
            previous is not None
            and previous.status == DONE
            and previous.inputs == digests
            and previous.outputs == outputs
        )
        if not unchanged:  # a re-run that changed nothing keeps the ledger (and its date)
            self.ledger.record(step.name, StepRecord(status=DONE, inputs=digests, outputs=outputs))
        message = f"analytics-wizard: {step.name} step done"
        if wrote:
            message += "\n\n" + "\n".join(f"- wrote {path}" for path in wrote)
        state = [".gitignore", *(str(p.relative_to(self.repo)) for p in self.state_files())]
        committed = [*state, *paths, *step.committed(outputs)]
        try:
            commit = gitrepo.commit(self.repo, message, committed)
        except (WizardError, RuntimeError) as exc:
            error = exc if isinstance(exc, WizardError) else StepError(str(exc))
            reason = f"the step's work is done but git could not commit it: {error.message}"
            self.fail(step.name, reason)
            raise StepError(
                reason, error.fix or "fix the secure repo's git (see the message) and run again"
            ) from None
        self.log.write(f"{step.name}: done" + (f" (commit {commit})" if commit else ""))

    # --- runs that outlive the wizard ---------------------------------------------------

    def record_running(self, plan: Plan, outputs: dict[str, Any]) -> None:
        """A step started a detached run: the ledger says so (with ``outputs`` so far, e.g.
        the run's id and the files written), so a wizard started later finds it."""
        digests = self.input_digests(plan.inputs)
        self.save_answers()
        self.ledger.record(plan.step, StepRecord(status=RUNNING, inputs=digests, outputs=outputs))

    def running(self) -> list[str]:
        """The steps the ledger says have a run going (or ended while nobody watched)."""
        return [name for name, rec in self.ledger.steps.items() if rec.status == RUNNING]

    def resume(self, name: str, ctx: RunContext = QUIET) -> dict[str, Any]:
        """Follow step ``name``'s run to its end (replaying what it printed so far), then
        record it as done and commit; a run that failed or was interrupted fails the step."""
        if not self.write:
            raise StepError("this session is read-only")
        step = self.step(name)
        record = self.ledger.steps[name]
        outputs = self._guard(name, lambda: step.follow(self, record, self._context(name, ctx)))
        self._done(step, dict(record.inputs), outputs, [], [])
        return outputs

    def check_unchanged(self, plan: Plan) -> None:
        """Refuse when a file the plan writes changed on disk since it was previewed."""
        changed = []
        for change in plan.changes:
            target = self.repo / change.path
            try:
                now: str | None = target.read_text(encoding="utf-8")
            except FileNotFoundError:
                now = None
            if now != change.old:
                changed.append(change.path)
        if changed:
            raise ConflictError(
                f"{', '.join(changed)} changed on disk since the preview; nothing was written",
                "preview the step again",
            )

    def fail(self, name: str, reason: str, checks: Sequence[Check] = ()) -> None:
        """Record ``name`` as failed; ``checks`` (those that failed it) replace the recorded
        ones, so ``status`` shows why."""
        reason = self.redact(reason)
        self.log.write(f"{name}: failed: {reason}")
        if self.write:
            previous = self.ledger.steps.get(name)
            outputs = dict(previous.outputs) if previous else {}
            if checks:
                outputs["checks"] = [c.to_json() for c in checks]
                outputs["overrides"] = [c.id for c in checks if c.overridden]
            self.ledger.record(
                name,
                StepRecord(
                    status=FAILED,
                    inputs=previous.inputs if previous else {},
                    outputs=outputs,
                    reason=reason,
                ),
            )

    def status(self, verify: bool = False) -> list[StepStatus]:
        """Each step's state; ``verify`` also checks the outside world (AWS drift and such)."""
        return [self.step_status(step, verify) for step in STEPS]

    def step_status(self, step: StepInfo, verify: bool = False) -> StepStatus:
        def make(state: str, reason: str) -> StepStatus:
            return StepStatus(step.name, step.title, state, self.redact(reason))

        record = self.ledger.steps.get(step.name)
        if record is None:
            return make(PENDING, "not run yet")
        if record.status == FAILED:
            return make(FAILED, record.reason or "failed")
        module = step.load()
        if record.status == RUNNING:
            state, reason = module.run_state(self, record)
            return make(state, reason)
        try:
            current = self.resolved.require(module.inputs)
        except WizardError as exc:
            return make(STALE, str(exc))
        except ValueError as exc:
            return make(STALE, f"answers incomplete: {exc}")
        digests = self.input_digests(current)
        changed = sorted(
            name
            for name in set(digests) | set(record.inputs)
            if digests.get(name) != record.inputs.get(name)
        )
        if changed:
            labels = ", ".join(changed[:4]) + (
                f" and {len(changed) - 4} more" if len(changed) > 4 else ""
            )
            return make(STALE, f"answers changed since it ran: {labels}")
        try:
            problem = module.verify(self) if verify else module.probe(self)
        except (WizardError, ValueError) as exc:
            problem = str(exc)
        if problem:
            return make(STALE, problem)
        return make(DONE, f"done {record.finished_at}")
