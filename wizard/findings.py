"""One verified item: a stable id, a pass / warn / fail verdict, what was found and the fix.

The same shape as a prerequisite check (``wizard.steps.base.Check``), in a leaf module so that
adapters (the Jenkins tunnel, the report) can produce it without importing the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PASS, WARN, FAIL = "pass", "warn", "fail"
VERDICTS = (PASS, WARN, FAIL)


@dataclass(frozen=True)
class Finding:
    """One item's verdict; ``fix`` is empty when there is nothing to do."""

    id: str
    verdict: str  # PASS | WARN | FAIL
    finding: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")

    @property
    def failed(self) -> bool:
        return self.verdict == FAIL

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "verdict": self.verdict, "finding": self.finding, "fix": self.fix}


def passed(id: str, finding: str) -> Finding:
    return Finding(id, PASS, finding)


def warned(id: str, finding: str, fix: str) -> Finding:
    return Finding(id, WARN, finding, fix)


def failed(id: str, finding: str, fix: str) -> Finding:
    return Finding(id, FAIL, finding, fix)
