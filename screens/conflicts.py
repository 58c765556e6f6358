"""One value changed by hand in a written file: what is there, what the answers say, and a choice."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RadioButton, RadioSet, Static

from wizard.redact import MASK
from wizard.steps import Conflict
from wizard.steps.base import KEEP, OVERWRITE


class ConflictChoice(Vertical):
    """Keep the hand-edited value or overwrite it; secret values are shown masked."""

    def __init__(self, conflict: Conflict, redact: Callable[[str], str]) -> None:
        super().__init__(classes="conflict")
        self.conflict = conflict
        self.current = MASK if conflict.secret else redact(str(conflict.current))
        self.wizard = MASK if conflict.secret else redact(str(conflict.wizard))

    def compose(self) -> ComposeResult:
        c = self.conflict
        yield Static(
            Text.assemble(
                (c.key, "bold"),
                f" in {c.path}\n",
                ("  in the file:  ", "dim"),
                self.current,
                "\n",
                ("  the answers:  ", "dim"),
                self.wizard,
            )
        )
        with RadioSet(classes="conflict-choice"):
            yield RadioButton("keep my value", name=KEEP)
            yield RadioButton("overwrite", name=OVERWRITE)

    @property
    def decision(self) -> str | None:
        pressed = self.query_one(RadioSet).pressed_button
        return pressed.name if pressed is not None else None
