"""The field being typed in when the terminal went away (SIGHUP): kept as a draft, shown again
on the next start (see wizard.drafts; a secret is never kept)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard import drafts
from wizard.drafts import Draft

from .step_form import StepForm

if TYPE_CHECKING:
    from .main import MainScreen


def keep_typed(screen: MainScreen) -> None:
    """Keep the focused field's unconfirmed text as a draft; confirm what else fits."""
    focused = screen.focused
    for form in screen.query(StepForm):
        for key, row in form.rows.items():
            if row.input is focused and row.input.value != form.saved[key]:
                # Not confirmed: the operator had not finished it (a secret is not kept).
                drafts.keep(form.session, Draft(form.step.name, key, row.input.value))
            else:
                form.confirm(row)


def restore(form: StepForm, draft: Draft) -> bool:
    """Put ``draft`` back in its field on ``form`` (unconfirmed, focused); False if not here."""
    row = form.rows.get(draft.key)
    if form.step.name != draft.step or row is None:
        return False
    row.input.value = draft.text
    row.show_error()
    # Typing goes on after the restored text (focus would select it, and a key replace it).
    row.input.select_on_focus = False
    row.input.focus()
    row.input.cursor_position = len(draft.text)
    form.call_after_refresh(setattr, row.input, "select_on_focus", True)
    form.say(
        f"{row.field.label}: what you were typing when the connection dropped is back; "
        "enter keeps it."
    )
    return True
