"""One answer in a form: its label, its input, and what is allowed when the value does not fit."""

from __future__ import annotations

import textwrap
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.strip import Strip
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Input, Static

from wizard.fields import Field, FieldError, tunnel_text

from .inputs import InOrderInput


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


class FieldInput(InOrderInput):
    """An answer's input (its editing keys applied in order), whose styles are worked out
    once: when it is mounted.

    Textual works out a widget's styles again on every class change, even before it is
    mounted, and an input changes classes twice while it is created (compact, valid);
    mounting works them out anyway. That was most of the time creating a row took."""

    def update_node_styles(self, animate: bool = True) -> None:
        if self._parent is not None:  # mounted (or being mounted): its styles matter now
            super().update_node_styles(animate)

    def render_line(self, y: int) -> Strip:
        # Textual wraps a placeholder at its spaces and shows its first line: an example
        # longer than the field would show as a bare "e.g.". It shows cut, with an ellipsis.
        whole = self.placeholder
        width = self.scrollable_content_region.width
        if y or self.value or cell_len(whole) <= width:
            return super().render_line(y)
        cut = Text(whole)
        cut.truncate(width, overflow="ellipsis")
        self.set_reactive(Input.placeholder, cut.plain)  # for this line only: no refresh
        try:
            return super().render_line(y)
        finally:
            self.set_reactive(Input.placeholder, whole)


#: Columns of the labels' column: a label wraps within it, a space kept before its field.
LABEL_COLUMNS = 22


def label_lines(label: str) -> list[str]:
    """``label`` wrapped to the labels' column, a space kept before the field."""
    return textwrap.wrap(label, LABEL_COLUMNS - 1) or [""]


class FieldRow(Widget):
    """Label and input side by side, the validation message under the input.

    The row draws its label itself and mounts its message only while there is one: a step
    switch lays out, shows or hides every widget of two forms, so a row is two widgets."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"field-row--label"}

    def __init__(self, field: Field, value: str, placeholder: str) -> None:
        super().__init__(classes="field-row")
        self.field = field
        self.label = label_lines(field.label)
        self.styles.min_height = len(self.label)  # a label's every line shows
        self.shown_error: str | None = None
        self.input = FieldInput(
            value=value,
            placeholder=placeholder,
            password=field.secret,
            validators=[FieldValidator(field)],
            validate_on=("changed", "blur", "submitted"),
            id=input_id(field.key),
            compact=True,
        )

    def compose(self) -> ComposeResult:
        yield self.input

    def render(self) -> Text:
        """The label, in the column left of the input (which is drawn over the rest)."""
        return Text("\n".join(self.label), style=self.get_component_rich_style("field-row--label"))

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
        self.set_class(message is not None, "-invalid")
        shown = self.query(".field-error")
        if message is None:
            shown.remove()
        elif shown:
            shown.first(Static).update(Text(message))
        else:
            self.mount(Static(Text(message), classes="field-error"))
