"""What a step proposes before it changes anything: file changes, conflicts, notes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class StepError(RuntimeError):
    """A step cannot go on; the message says why and what to do."""


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


def checks_failure(checks: list[Check]) -> str | None:
    """Why the checks stop the step (those failing and not overridden); None when none do."""
    blocking = [c for c in checks if c.blocking]
    if not blocking:
        return None
    listed = "; ".join(f"{c.id}: {c.finding}" for c in blocking)
    return (
        f"{len(blocking)} prerequisite check(s) failed — {listed}. Fix them (each check says "
        "how) and run again, or override a check you have dealt with another way"
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
    # A word the operator must type before this plan may be applied (e.g. "destroy" when
    # terraform would delete resources); empty when nothing needs confirming.
    confirm: str = ""
    # Called with one line (masked) as each statement starts and finishes, for live progress.
    progress: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.changed]
