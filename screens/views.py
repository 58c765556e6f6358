"""Which screen previews a step, by the view its declaration asks for (never by its name), with
the step's own verb on its run key."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen

from wizard.engine import Session
from wizard.steps import Step
from wizard.steps.base import CHECKS


def preview_screen(session: Session, step: Step, follow: bool = False) -> Screen[str | None]:
    """The step's preview; with ``follow``, the live view of its run going on (reattached)."""
    if step.view == CHECKS and not follow:
        from .checks import ChecksScreen

        base: type[Screen[str | None]] = ChecksScreen
        action = "record"
    else:
        from .preview import PreviewScreen

        base, action = PreviewScreen, "run"
    # The footer says what the button says: "Write", "Apply", "Continue"…
    bindings = [Binding("ctrl+s", action, step.verb)]
    screen = type(base.__name__, (base,), {"BINDINGS": bindings})
    if follow:
        return screen(session, step, follow=True)  # type: ignore[call-arg]
    return screen(session, step)  # type: ignore[call-arg]
