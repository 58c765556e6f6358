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


class ChoiceButton(RadioButton):
    """A radio button whose choice shows in its glyph, not only in colour (TERM=vt100)."""

    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "●" if self.value else " "
        super().watch_value()


class ConflictChoice(Vertical):
    """Keep the hand-edited value or overwrite it; secret values are masked until revealed."""

    def __init__(self, conflict: Conflict, redact: Callable[[str], str]) -> None:
        super().__init__(classes="conflict")
        self.conflict = conflict
        self.redact = redact
        self.revealed = False

    def compose(self) -> ComposeResult:
        yield Static(self.values(), classes="conflict-values")
        with RadioSet(classes="conflict-choice"):
            yield ChoiceButton("keep my value", name=KEEP)
            yield ChoiceButton("overwrite", name=OVERWRITE)

    def shown(self, value: object) -> str:
        if not self.conflict.secret:
            return self.redact(str(value))
        return str(value) if self.revealed else MASK

    @property
    def current(self) -> str:
        """The value in the file, as shown."""
        return self.shown(self.conflict.current)

    @property
    def wizard(self) -> str:
        """The value the answers give, as shown."""
        return self.shown(self.conflict.wizard)

    def values(self) -> Text:
        c = self.conflict
        return Text.assemble(
            (c.key, "bold"),
            f" in {c.path}\n",
            ("  in the file:  ", "dim"),
            self.current,
            "\n",
            ("  the answers:  ", "dim"),
            self.wizard,
        )

    def reveal(self, revealed: bool) -> None:
        """Show (ctrl+t) or mask again a secret's two values: deciding needs to see them."""
        self.revealed = revealed
        self.query_one(".conflict-values", Static).update(self.values())

    @property
    def decision(self) -> str | None:
        pressed = self.query_one(RadioSet).pressed_button
        return pressed.name if pressed is not None else None
