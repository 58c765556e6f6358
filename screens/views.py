"""Which screen previews a step, by the view its declaration asks for (never by its name)."""

from __future__ import annotations

from textual.screen import Screen

from wizard.engine import Session
from wizard.steps import Step
from wizard.steps.base import CHECKS


def preview_screen(session: Session, step: Step) -> Screen[str | None]:
    if step.view == CHECKS:
        from .checks import ChecksScreen

        return ChecksScreen(session, step)
    from .preview import PreviewScreen

    return PreviewScreen(session, step)
