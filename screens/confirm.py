"""A yes/no question before anything changes an existing file, AWS or a database."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Static

from wizard.steps import Plan

from .inputs import InOrderInput


def focus_first(screen: Screen[Any], selector: str) -> None:
    """Focus what ``selector`` finds, if anything: a dialog answered by a key typed ahead of it
    can be dismissed before it has mounted what it shows."""
    for widget in screen.query(selector):
        widget.focus()
        return


class ConfirmDialog(ModalScreen[bool]):
    """Dismisses with True only when the operator says yes; escape and "no" say no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        Binding("pageup", "scroll_question(-1)", show=False),
        Binding("pagedown", "scroll_question(1)", show=False),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            # A long question (a changed host key, a plan's list) scrolls; the buttons stay.
            with VerticalScroll(id="question-body"):
                yield Static(self.question, id="question", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="warning")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        focus_first(self, "#no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def action_scroll_question(self, pages: int) -> None:
        body = self.query_one("#question-body", VerticalScroll)
        if pages > 0:
            body.scroll_page_down(animate=False)
        else:
            body.scroll_page_up(animate=False)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class WordDialog(ModalScreen[str | None]):
    """For plans that destroy or replace resources: the operator types the word (or count)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            notes = [note for note in self.plan.notes if self.plan.confirm in note]
            yield Static("\n".join(notes[-1:]) or self.plan.confirm, id="question", markup=False)
            yield InOrderInput(placeholder=f"type {self.plan.confirm}", id="word")

    def on_mount(self) -> None:
        focus_first(self, "#word")

    @on(Input.Submitted, "#word")
    def typed(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


LEAVE, STOP = "leave", "stop"


class QuitDialog(ModalScreen[str | None]):
    """Quitting while a long run goes on: leave it running, stop it, or stay (None)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "answer('leave')", "Leave it running"),
        Binding("s", "answer('stop')", "Stop it"),
        Binding("escape,c", "answer('')", "Cancel"),
    ]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(
                f"{self.what} is running.\n\nLeave it running on its own (open the wizard "
                "again to follow it), stop it (gracefully; what it already did is kept), or "
                "stay?",
                id="question",
                markup=False,
            )
            with Horizontal(id="dialog-buttons"):
                yield Button("Leave running (l)", id=LEAVE, variant="primary")
                yield Button("Stop it (s)", id=STOP, variant="warning")
                yield Button("Cancel (c)", id="stay")

    def on_mount(self) -> None:
        focus_first(self, f"#{LEAVE}")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer or None)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id if event.button.id in (LEAVE, STOP) else None)
