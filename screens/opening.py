"""The wizard's frame (header, step list, the step's view, keys), and the screen that shows it
while the secure repo opens.

Opening the repo (its lock, answers and ledger) needs most of the wizard's own modules, which
take longer to load than Textual takes to paint. The frame needs none of them, so it is painted
first; the main screen, drawn in the same frame, takes its place once the repo is open
(``WizardApp.open_repo``).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header, Static

from .footer import KeysFooter
from .sidebar import StepList


class StepsFrame(Screen[None]):
    """The step list beside the step's view, under the header and over the keys."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield StepList()
            with Vertical(id="step"):
                yield Static(self.heading(), id="step-heading")
                yield from self.compose_view()
        yield KeysFooter()

    def heading(self) -> Text:
        return Text()

    def compose_view(self) -> ComposeResult:
        """The widgets under the step's heading."""
        return iter(())


class OpeningScreen(StepsFrame):
    """The frame, until the repo is open."""

    AUTO_FOCUS = ""  # as on the main screen: nothing has focus before the first form is there

    def __init__(self, repo_name: str) -> None:
        super().__init__()
        self.repo_name = repo_name

    def heading(self) -> Text:
        return Text(f"Opening {self.repo_name}…", style="dim")
