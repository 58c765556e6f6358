"""A message too long for the form's message area, read in full in a scrollable window."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static


def wrapped_lines(widget: Widget, message: str) -> int:
    """How many lines ``message`` takes in ``widget``'s width (the app's, before a layout)."""
    if not message:
        return 0
    width = widget.content_region.width or widget.app.size.width
    return len(Text(message).wrap(widget.app.console, max(width, 1)))


class MessageScreen(ModalScreen[None]):
    """The whole message; arrows and page keys scroll it, esc or enter closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="message-dialog") as dialog:
            dialog.border_title = self.title_text
            dialog.border_subtitle = "esc: close · ↑↓ PgUp PgDn: scroll"
            with VerticalScroll(id="message-body"):
                yield Static(Text(self.message), id="message-text")

    def on_mount(self) -> None:
        from .confirm import focus_first  # the forms load this module; the dialogs come later

        focus_first(self, "#message-body")

    def action_close(self) -> None:
        self.dismiss(None)
