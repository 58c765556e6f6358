"""What a screen shows of an error: the same decision headless mode makes (wizard.errors)."""

from __future__ import annotations

import traceback

from wizard.engine import Session
from wizard.errors import explain


def explained(session: Session, exc: BaseException) -> str:
    """One sentence and the fix, secrets masked; a bug's traceback goes to the run log only."""
    shown = explain(exc, session.redact)
    if shown.bug:
        session.log.write("".join(traceback.format_exception(exc)))
        return f"{shown.message}; the details are in .wizard/logs/"
    return str(shown)
