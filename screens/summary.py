"""What the main area shows for a step that has no screen here: what it does, and why not here."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from wizard.steps import StepInfo


class StepSummary(Vertical):
    """The step's summary and a plain statement of what this version offers: nothing is faked."""

    def compose(self) -> ComposeResult:
        yield Static(id="step-summary", markup=False)
        yield Static(id="step-note", markup=False)

    def show(self, step: StepInfo) -> None:
        self.query_one("#step-summary", Static).update(step.summary)
        note = (
            "This step has no screen in this version yet; run it headless with "
            f"'analytics-wizard run --answers FILE --only {step.name}'."
            if step.available
            else "This step is not available in this version yet."
        )
        self.query_one("#step-note", Static).update(note)
