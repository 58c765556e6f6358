"""The step list: every step of the runbook with the state the ledger gives it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from wizard.states import DONE, FAILED, PENDING, RUNNING, STALE
from wizard.steps import STEPS, StepInfo

if TYPE_CHECKING:
    from wizard.engine import StepStatus

# Marker and word per state; the glyph carries the state where colour is not shown (vt100).
STATES: dict[str, tuple[str, str, str]] = {
    DONE: ("✔", "done", "green"),
    STALE: ("!", "stale", "yellow"),
    PENDING: ("•", "pending", "cyan"),
    FAILED: ("✘", "failed", "red"),
    RUNNING: ("»", "running", "magenta"),
}
CHECKING = ("…", "checking", "dim")


def prompt(step: StepInfo, state: str | None) -> Text:
    marker, word, style = STATES.get(state or "", CHECKING)
    return Text.assemble((marker, style), " ", step.title, "\n", (f"  {word}", f"{style} italic"))


class StepList(OptionList):
    """One option per step (id = step name)."""

    def __init__(self) -> None:
        super().__init__(*(Option(prompt(s, None), id=s.name) for s in STEPS), id="steps")
        self.border_title = "Steps"

    def show_states(self, statuses: Iterable[StepStatus]) -> None:
        by_name = {s.name: s for s in STEPS}
        for status in statuses:
            self.replace_option_prompt(status.name, prompt(by_name[status.name], status.state))
