"""The step contract: what every step declares and does, and what a plan proposes.

A step is an object of a :class:`Step` subclass. The TUI, headless mode and the tests only ever
call what is declared here: they know no step by name. Planning shows the change (files, SQL,
terraform's plan, checks) before anything is changed; applying carries out exactly that plan;
probing says whether what the step did is still in place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..context import RunContext
from ..errors import WizardError

if TYPE_CHECKING:
    from ..aws import Aws
    from ..aws_choices import Choice
    from ..engine import Session
    from ..ledger import StepRecord

# Decisions on a value the operator changed by hand: ``decisions["<file>:<key>"]``.
KEEP, OVERWRITE = "keep", "overwrite"
# How a screen previews a step: a plan with diffs, SQL and notes, or a live table of checks.
PREVIEW, CHECKS = "preview", "checks"
# Decisions to go on despite a failing check: ``decisions["override:<check id>"] = "yes"``.
OVERRIDE = "override:"


class StepError(WizardError):
    """A step cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Action:
    """Something a step's form offers besides preview and run (e.g. testing a connection)."""

    name: str
    label: str  # on the form's button
    key: str  # the key binding, e.g. "f5"
    short: str = ""  # in the footer, if shorter than the label: an 80-column footer holds every key

    @property
    def key_label(self) -> str:
        return self.short or self.label


@dataclass
class Change:
    """One file the step will write (``old`` is None for a new file)."""

    path: str
    old: str | None
    new: str
    mode: int
    old_mode: int | None = None

    @property
    def changed(self) -> bool:
        return self.old != self.new or self.old_mode != self.mode

    def diff(self, redact: Callable[[str], str] = lambda s: s) -> str:
        import difflib  # only when a diff is shown, not at start-up

        # Diff first, mask after: a changed secret still shows as a changed (masked) line.
        before = (self.old or "").splitlines(keepends=True)
        after = self.new.splitlines(keepends=True)
        text = redact(
            "".join(
                difflib.unified_diff(
                    before,
                    after,
                    fromfile=f"a/{self.path}" if self.old is not None else "/dev/null",
                    tofile=f"b/{self.path}",
                )
            )
        )
        if not text and self.old_mode != self.mode:
            text = f"mode of {self.path}: {self.old_mode:o} -> {self.mode:o}\n"
        return text


@dataclass
class Conflict:
    """A value the operator changed by hand that the answers would now overwrite."""

    path: str
    key: str
    current: Any
    wizard: Any
    secret: bool = False

    @property
    def id(self) -> str:
        return f"{self.path}:{self.key}"


@dataclass
class Statement:
    """One SQL statement (or command) a step will run; ``shown`` has every password masked."""

    target: str  # where it runs, as the operator knows it
    shown: str
    sql: str = field(default="", repr=False)
    params: tuple[Any, ...] = field(default=(), repr=False)


PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass
class Check:
    """The result of one prerequisite check, by its stable id (see SPEC §4.1)."""

    id: str
    verdict: str  # PASS | WARN | FAIL
    finding: str
    fix: str = ""
    overridden: bool = False  # the operator chose to go on despite a failure

    @property
    def blocking(self) -> bool:
        return self.verdict == FAIL and not self.overridden

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "finding": self.finding,
            "fix": self.fix,
            "overridden": self.overridden,
        }


def checks_failure(
    checks: list[Check], noun: str = "prerequisite check", overridable: bool = True
) -> str | None:
    """Why the checks stop the step (those failing and not overridden); None when none do."""
    blocking = [c for c in checks if c.blocking]
    if not blocking:
        return None
    listed = "; ".join(f"{c.id}: {c.finding}" for c in blocking)
    override = ", or override a check you have dealt with another way" if overridable else ""
    return (
        f"{len(blocking)} {noun}(s) failed — {listed}. Fix them (each says how) and run "
        f"again{override}"
    )


@dataclass
class Plan:
    step: str
    changes: list[Change] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    statements: list[Statement] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    # What applying changes besides files and SQL, one line each (e.g. AWS resources).
    effects: list[str] = field(default_factory=list)
    # A word the operator must type before this plan may be applied (e.g. "destroy" when
    # terraform would delete resources); empty when nothing needs confirming.
    confirm: str = ""
    # Decisions the plan was made with (conflicts kept or overwritten, host keys trusted).
    decisions: dict[str, str] = field(default_factory=dict)

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.changed]


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class Step(ABC):
    """One step of the runbook. Subclasses declare what the UI needs and implement the three
    operations; one instance per step module, as its ``STEP``."""

    name: ClassVar[str]
    #: Answer keys the step reads (its form shows them; their digests decide "stale").
    inputs: ClassVar[tuple[str, ...]]
    #: What carrying the plan out is called, on buttons and in the confirmation.
    verb: ClassVar[str] = "Run"
    #: The form's preview button.
    preview_label: ClassVar[str] = "Preview"
    #: How the preview is shown (PREVIEW or CHECKS).
    view: ClassVar[str] = PREVIEW
    #: Whether the operator may stop a running apply (esc / ctrl+c).
    cancellable: ClassVar[bool] = False
    #: For a CHECKS view: the check ids, in the order shown, and whether a failing one may be
    #: overridden (recorded in the ledger).
    checks: ClassVar[tuple[str, ...]] = ()
    check_noun: ClassVar[str] = "check"
    overridable: ClassVar[bool] = False
    #: For a CHECKS view: the answers each check reads (an override stands while they are
    #: unchanged); a check not named here reads all of :attr:`inputs`.
    check_inputs: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: Extra actions of the form, run with :meth:`run_action`.
    actions: ClassVar[tuple[Action, ...]] = ()
    #: Answer keys whose value can be picked from a list AWS gives (key -> aws_choices lookup).
    choosers: ClassVar[Mapping[str, str]] = {}

    @abstractmethod
    def plan(
        self, session: Session, decisions: Mapping[str, str], force: bool, ctx: RunContext
    ) -> Plan:
        """What the step would do; changes nothing (a dry run must not even write answers)."""

    @abstractmethod
    def apply(self, session: Session, plan: Plan, ctx: RunContext) -> dict[str, Any]:
        """Carry out ``plan``; the outputs later steps read from the ledger."""

    @abstractmethod
    def probe(self, session: Session) -> str | None:
        """None while what the step did is still in place, else why it is not."""

    def verify(self, session: Session) -> str | None:
        """:meth:`probe`, then :meth:`verify_outside` (``status --verify``, the report)."""
        return self.probe(session) or self.verify_outside(session)

    def verify_outside(self, session: Session) -> str | None:
        """None while the outside world (AWS, the servers, Jenkins) still holds what the step
        did, else why not; asked only once the local probe passes."""
        return None

    # --- steps whose apply starts a run that outlives the wizard (terraform, ansible) ---------

    def run_state(self, session: Session, record: StepRecord) -> tuple[str, str]:
        """The state (``running`` / ``failed``) and why, of the run the ledger records."""
        return "failed", "the ledger records a run, but this step starts none; run it again"

    def follow(self, session: Session, record: StepRecord, ctx: RunContext) -> dict[str, Any]:
        """Follow the recorded run to its end (replaying it); the step's outputs."""
        raise StepError(f"the {self.name} step has no run to follow")

    def committed(self, outputs: Mapping[str, Any]) -> list[str]:
        """Files besides the plan's changes that belong in the step's commit."""
        return []

    def blocking(self, plan: Plan) -> str | None:
        """Why ``plan`` may not be applied as it is (failing checks), or None."""
        return checks_failure(plan.checks, self.check_noun, self.overridable)

    def question(self, plan: Plan) -> str:
        """The confirmation asked before :meth:`apply`."""
        if plan.statements:
            targets = ", ".join(dict.fromkeys(s.target for s in plan.statements))
            return f"Run {count(len(plan.statements), 'SQL statement')} on {targets}?"
        if plan.pending:
            return f"Write {count(len(plan.pending), 'file')} in the secure repo?"
        return "Everything already matches. Record the step as done?"

    def accepts(self, plan: Plan, word: str) -> bool:
        """Whether ``word`` is what the plan's confirmation (``plan.confirm``) asks for."""
        return word.strip().lower() == plan.confirm.lower()

    def details(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        """What was done, for ``--json`` beyond the outcome (no secrets; empty by default)."""
        return {}

    def outcome(self, plan: Plan, outputs: Mapping[str, Any]) -> str:
        """What carrying out ``plan`` did, in a few words."""
        parts = []
        if plan.pending:
            parts.append(f"wrote {count(len(plan.pending), 'file')}")
        if plan.statements:
            parts.append(f"ran {count(len(plan.statements), 'SQL statement')}")
        return ", ".join(parts) or "no changes"

    def recheck(
        self, session: Session, plan: Plan, cid: str, decisions: Mapping[str, str], ctx: RunContext
    ) -> Check:
        """Run one check of a CHECKS plan again; its new result is put into ``plan``."""
        raise StepError(f"the {self.name} step has no checks to run again")

    def choices(self, session: Session, key: str) -> list[Choice]:
        """What AWS offers for the answer ``key`` (one of :attr:`choosers`), best first."""
        from .. import aws_choices
        from ..aws import Target

        if key not in self.choosers:
            raise StepError(f"{key} has no list of choices")
        resolved = session.resolved
        target = Target.from_values(
            {k: resolved.get(k) for k in ("aws.profile", "aws.region", "aws.endpoint_url")}
        )
        lookup: Callable[[Aws], list[Choice]] = getattr(aws_choices, self.choosers[key])
        return lookup(session.backends.aws(target))

    def run_action(self, name: str, session: Session, decisions: Mapping[str, str]) -> list[str]:
        """Run one of :attr:`actions`; the lines to show."""
        raise StepError(f"the {self.name} step has no action {name!r}")
