"""One answer in a form: its label, its input, and what is allowed when the value does not fit."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Static

from wizard.fields import Field, FieldError, tunnel_text


def input_id(key: str) -> str:
    """A widget id for an answer key (ids cannot hold dots)."""
    return "answer-" + key.replace(".", "--")


def as_text(value: Any) -> str:
    """An answer as the operator would type it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):  # the SSH tunnel, in its one-line form
        return tunnel_text(value)
    return str(value)


class FieldValidator(Validator):
    """The field's own validator, so the form says exactly what headless mode would."""

    def __init__(self, field: Field) -> None:
        super().__init__()
        self.field = field

    def validate(self, value: str) -> ValidationResult:
        try:
            self.field.clean(value)
        except FieldError as exc:
            return self.failure(str(exc))
        return self.success()


class FieldRow(Vertical):
    """Label and input side by side, the validation message under them."""

    def __init__(self, field: Field, value: str, placeholder: str) -> None:
        super().__init__(classes="field-row")
        self.field = field
        self.shown_error: str | None = None
        self.input = Input(
            value=value,
            placeholder=placeholder,
            password=field.secret,
            validators=[FieldValidator(field)],
            validate_on=("changed", "blur", "submitted"),
            id=input_id(field.key),
            compact=True,
        )

    def compose(self) -> ComposeResult:
        # A two-column grid (label | input, message across both) keeps the widget count low:
        # a long form relays out on every focus change.
        yield Label(self.field.label, classes="field-label")
        yield self.input
        yield Static(classes="field-error")

    @property
    def error(self) -> str | None:
        """The validation message of the current value, or None when it fits."""
        try:
            self.field.clean(self.input.value)
        except FieldError as exc:
            return str(exc)
        return None

    def show_error(self) -> None:
        message = self.error
        if message == self.shown_error:
            return  # most keystrokes change nothing here; a relayout per key would
        self.shown_error = message
        self.query_one(".field-error", Static).update(Text(message or ""))
        self.set_class(message is not None, "-invalid")
