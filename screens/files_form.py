"""A step's form: every answer the step needs, grouped as in the answers file.

A value is checked as it is typed and saved (as confirmed) when the operator leaves the field or
presses enter, so quitting at any point loses nothing that was typed and fits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from wizard.engine import Session
from wizard.fields import FIELDS, GROUP_TITLES, Field, FieldError
from wizard.steps import by_name

from .field_row import FieldRow, as_text


def grouped(keys: tuple[str, ...]) -> Iterator[tuple[str, list[Field]]]:
    """The fields of ``keys`` in declaration order, one list per group."""
    groups: dict[str, list[Field]] = {}
    for f in FIELDS:
        if f.key in keys:
            groups.setdefault(f.group, []).append(f)
    yield from groups.items()


class StepForm(Vertical):
    """Inputs for a step's ``INPUTS``, a message line and the focused field's help."""

    STEP = ""
    PREVIEW_LABEL = "Preview  ctrl+p"

    class AnswerSaved(Message):
        """An answer was confirmed and saved; step states may have changed."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class Ready(Message):
        """The fields are on screen."""

        def __init__(self, form: StepForm) -> None:
            super().__init__()
            self.form = form

    def __init__(self, session: Session, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.rows: dict[str, FieldRow] = {}
        self.saved: dict[str, str] = {}
        self.secrets_shown = False

    def compose(self) -> ComposeResult:
        fields = VerticalScroll(classes="form-fields")
        fields.can_focus = False  # tab goes straight to the fields; focus scrolls them in view
        yield fields
        yield Static(id="form-message")
        yield Static("tab: next field · enter: confirm", id="field-help")

    def on_mount(self) -> None:
        # The fields are most of what start-up lays out: paint the step list first, and a
        # step's fields only once that step is shown.
        self.fields_mounted = False
        if self.display:
            self.call_after_refresh(self.mount_fields)

    def on_show(self) -> None:
        if not self.fields_mounted:
            self.call_after_refresh(self.mount_fields)

    async def mount_fields(self) -> None:
        if self.fields_mounted:
            return
        self.fields_mounted = True
        # The step's module (templates, parsers, drivers) loads after the first paint.
        inputs = by_name(self.STEP).load().INPUTS
        widgets: list[Widget] = []
        for group, fields in grouped(inputs):
            widgets.append(Static(GROUP_TITLES.get(group, group), classes="group-title"))
            for f in fields:
                text = as_text(self.session.answers.values.get(f.key))
                self.saved[f.key] = text
                row = self.rows[f.key] = FieldRow(f, text, self.placeholder(f))
                widgets.append(row)
        widgets.extend(self.actions())
        await self.query_one(".form-fields", VerticalScroll).mount_all(widgets)
        self.post_message(self.Ready(self))

    def actions(self) -> list[Widget]:
        """The buttons under the fields."""
        return [Button(self.PREVIEW_LABEL, id="preview-button", compact=True)]

    # --- what the fields show ---------------------------------------------------------

    def resolved(self, key: str) -> Any:
        """The value used when the field is left empty; None when it cannot be worked out yet."""
        try:
            return self.session.resolved.get(key)
        except ValueError:
            return None

    def placeholder(self, f: Field) -> str:
        if f.generated:
            return "generated"
        if f.secret:  # never show a secret, not even a derived one
            return "derived" if f.derive else "required" if f.required else "optional"
        value = self.resolved(f.key)
        if value not in (None, "", []):
            return as_text(value)
        if f.example is not None:
            return f"e.g. {as_text(f.example)}"
        return "required" if f.required else "optional"

    def refresh_placeholders(self) -> None:
        """Derived defaults follow other answers (e.g. bucket names from the client name)."""
        for row in self.rows.values():
            if not row.input.value:  # a placeholder only shows in an empty field
                row.input.placeholder = self.placeholder(row.field)

    def reload(self) -> None:
        """Show the saved answers again (a plan may have generated secrets)."""
        for key, row in self.rows.items():
            text = as_text(self.session.answers.values.get(key))
            self.saved[key] = text
            row.input.value = text
            row.show_error()
        self.refresh_placeholders()

    def say(self, message: str) -> None:
        self.query_one("#form-message", Static).update(Text(message))

    # --- events -----------------------------------------------------------------------

    def row_of(self, widget: Input) -> FieldRow | None:
        return next((row for row in self.rows.values() if row.input is widget), None)

    @on(Input.Changed)
    def check(self, event: Input.Changed) -> None:
        row = self.row_of(event.input)
        if row is not None:
            row.show_error()

    @on(Input.Blurred)
    def confirm_on_leave(self, event: Input.Blurred) -> None:
        row = self.row_of(event.input)
        if row is not None:
            self.confirm(row)

    @on(Input.Submitted)
    def confirm_and_next(self, event: Input.Submitted) -> None:
        row = self.row_of(event.input)
        if row is not None and self.confirm(row):
            self.screen.focus_next()

    @on(events.DescendantFocus)
    def show_help(self, event: events.DescendantFocus) -> None:
        row = self.row_of(event.widget) if isinstance(event.widget, Input) else None
        if row is not None:
            help_line = self.query_one("#field-help", Static)
            help_line.update(Text.assemble((row.field.key, "bold"), "  ", row.field.help))

    # --- confirming -------------------------------------------------------------------

    def confirm(self, row: FieldRow) -> bool:
        """Save the row's value if it fits and changed; False when it does not fit."""
        key, text = row.field.key, row.input.value
        if row.error is not None:
            return False
        if text == self.saved[key]:
            return True
        try:
            self.session.set_answer(key, text)
        except (FieldError, OSError) as exc:
            self.say(f"{row.field.label} not saved: {self.session.redact(str(exc))}")
            return False
        self.saved[key] = text
        self.refresh_placeholders()
        self.post_message(self.AnswerSaved(key))
        return True

    def confirm_pending(self) -> None:
        for row in self.rows.values():
            self.confirm(row)

    def problems(self) -> list[tuple[FieldRow, str]]:
        """Rows that block a preview, each with why: invalid, or required and empty."""
        found = []
        for key, row in self.rows.items():
            f = row.field
            if row.error is not None:
                found.append((row, "invalid"))
            elif f.required and not f.generated and self.resolved(key) in (None, "", []):
                found.append((row, "required"))
        return found

    def toggle_secrets(self) -> bool:
        """Show or hide every secret field at once; True when they are now shown."""
        self.secrets_shown = not self.secrets_shown
        for row in self.rows.values():
            if row.field.secret:
                row.input.password = not self.secrets_shown
        return self.secrets_shown


class FilesForm(StepForm):
    STEP = "files"
    PREVIEW_LABEL = "Preview files  ctrl+p"
