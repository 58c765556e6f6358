"""Pick a value from a list AWS gave (key pairs, security groups, zones, AMIs, buckets)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from wizard.aws_choices import Choice

from .confirm import focus_first


class ChoicesDialog(ModalScreen[str | None]):
    """Dismisses with the chosen value, or None on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[Choice]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="question", markup=False)
            yield OptionList(*(Option(c.label, id=c.value) for c in self.choices), id="choices")

    def on_mount(self) -> None:
        focus_first(self, "OptionList")

    @on(OptionList.OptionSelected, "#choices")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
