"""What the operator was typing when the terminal went away (SIGHUP), kept for the next start.

One draft at most: the focused field's unconfirmed text, in ``.wizard/draft.json`` (0600, not
committed). A secret is never written as a draft: half a password is not worth a file that
holds it, so a secret being typed is lost with the connection and typed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import WizardError
from .fields import BY_KEY
from .fsutil import atomic_write, read_if_exists

if TYPE_CHECKING:
    from .engine import Session

NAME = "draft.json"


@dataclass(frozen=True)
class Draft:
    """Text typed in field ``key`` of step ``step``'s form, not confirmed."""

    step: str
    key: str
    text: str


def path(session: Session) -> Path:
    return session.state_dir / NAME


def keep(session: Session, draft: Draft) -> bool:
    """Write ``draft`` for the next start; False (nothing written) for a secret field."""
    field = BY_KEY.get(draft.key)
    if field is None or field.secret:
        return False
    data = {"step": draft.step, "key": draft.key, "text": draft.text}
    atomic_write(path(session), json.dumps(data) + "\n", mode=0o600, root=session.repo)
    return True


def take(session: Session) -> Draft | None:
    """The draft a dropped connection left, removed from disk; None when there is none (or it
    cannot be read: a draft is a convenience, never a reason to fail)."""
    target = path(session)
    try:
        text = read_if_exists(target, session.repo)
        if text is None:
            return None
        target.unlink()
        data = json.loads(text)
        draft = Draft(str(data["step"]), str(data["key"]), str(data["text"]))
    except (OSError, WizardError, ValueError, KeyError, TypeError):
        return None
    field = BY_KEY.get(draft.key)
    return draft if field is not None and not field.secret else None
