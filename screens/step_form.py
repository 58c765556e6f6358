"""A step's form: every answer the step needs, grouped as in the answers file, and the actions
the step declares (a connection test, lists of choices from AWS).

A value is checked as it is typed and saved (as confirmed) when the operator leaves the field or
presses enter, so quitting at any point loses nothing that was typed and fits. One form class
serves every step: what differs is read from the step's declaration.
"""

from __future__ import annotations

import gc
import traceback
from collections.abc import Iterator
from itertools import islice
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from wizard.engine import Session
from wizard.errors import NeedsDecision
from wizard.fields import FIELDS, GROUP_TITLES, Field, FieldError
from wizard.steps import Step, by_name

from .field_row import FieldRow, as_text
from .problems import explained

#: Answers a form also asks where another of its answers is derived from them, so the operator
#: can give the source where the value is needed (the LMS URL comes from the LMS host).
ASKED_WITH: dict[str, tuple[str, ...]] = {"edxapp.lms_url": ("edxapp.lms_host",)}
#: Lines of the message area; a longer message says how to read all of it.
MESSAGE_LINES = 3
#: Widgets (field rows, group titles) mounted per frame when a form fills in: a key pressed
#: then waits for the frame that paints them.
MOUNT_BATCH = 2


def form_keys(step: Step) -> tuple[str, ...]:
    """The answers ``step``'s form shows: its inputs and the answers they are derived from."""
    keys = list(step.inputs)
    for key in step.inputs:
        keys += [k for k in ASKED_WITH.get(key, ()) if k not in keys]
    return tuple(keys)


def grouped(keys: tuple[str, ...]) -> Iterator[tuple[str, list[Field]]]:
    """The fields of ``keys`` in declaration order, one list per group."""
    groups: dict[str, list[Field]] = {}
    for f in FIELDS:
        if f.key in keys:
            groups.setdefault(f.group, []).append(f)
    yield from groups.items()


class ActionDone(Message):
    """A step action or a list of choices came back from its worker."""

    def __init__(self, lines: list[str], error: str = "", decision: NeedsDecision | None = None):
        super().__init__()
        self.lines, self.error, self.decision = lines, error, decision


class Listed(Message):
    def __init__(self, key: str, choices: list[Any], error: str = "") -> None:
        super().__init__()
        self.key, self.choices, self.error = key, choices, error


def form_class(step: Step) -> type[StepForm]:
    """The form of ``step``: its actions and its choice lists bound to their keys."""
    bindings: list[BindingType] = [
        Binding(action.key, f"run_action('{action.name}')", action.key_label)
        for action in step.actions
    ]
    if step.choosers:
        bindings.append(Binding("f6", "choose", "From AWS"))
    return type(f"{step.name.title()}Form", (StepForm,), {"BINDINGS": bindings})


class StepForm(Vertical):
    """Inputs for a step's ``inputs``, its action buttons, a message line and the field's help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+o", "read_message", "Whole message", show=False),
        # Keys that act on other screens say where they do, rather than nothing.
        Binding("ctrl+s", "hint_run", show=False),
        Binding("escape", "hint_back", show=False),
        # priority: enter confirms the field and moves on before the keys typed right behind
        # it are dispatched (an Input's own enter posts a message handled after them).
        Binding("enter", "confirm_and_next", show=False, priority=True),
    ]

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

    def __init__(self, session: Session, step: Step) -> None:
        super().__init__(id=step.name)
        self.session = session
        self.step = step
        self.last_action: tuple[str, dict[str, str]] = ("", {})
        self.rows: dict[str, FieldRow] = {}
        self.to_mount: Iterator[Widget] = iter(())  # the fields' widgets not mounted yet
        self.saved: dict[str, str] = {}
        self.secrets_shown = False
        self.message = ""
        self.last_field: Input | None = None  # the field focused last (esc on the list is back)
        # The fields: being mounted (started), all there (mounted), filling in frame by frame.
        self.fields_started = self.fields_mounted = self.filling = False
        # Another step is highlighted: its form comes first, and filling this one waits.
        self.held = False

    def compose(self) -> ComposeResult:
        fields = VerticalScroll(classes="form-fields")
        fields.can_focus = False  # tab goes straight to the fields; focus scrolls them in view
        yield fields
        yield Static(id="form-message")
        yield Static("… ctrl+o (or a click) shows the whole message", id="form-more")
        yield Static("tab: next field · enter: confirm", id="field-help")

    def on_mount(self) -> None:
        # The fields are most of what start-up lays out: paint the step list first, and a
        # step's fields only once that step is shown (or, hidden, while the wizard is idle).
        more = self.query_children("#form-more")
        if not more:
            return  # the wizard is closing: the form's own widgets were not mounted
        more.first().display = False
        if self.display:
            self.call_after_refresh(self.mount_fields)

    def on_show(self) -> None:
        if not self.fields_mounted:
            self.call_after_refresh(self.mount_fields)

    async def mount_fields(self) -> None:
        """Mount the fields batch by batch, one per frame, while the form is shown."""
        # The switcher hides the other steps' forms only after they mounted: check again here.
        if self.fields_mounted or self.filling or not self.display:
            return
        self.filling = True
        await self.mount_batch()

    async def build_hidden(self, size: int) -> bool:
        """Mount the next ``size`` widgets of a form not shown; False if there was none to."""
        if self.fields_mounted or self.filling or self.display:
            return False  # done, or filling in frame by frame as it is shown
        await self.mount_next(size)
        return True

    async def mount_next(self, size: int) -> None:
        if not self.fields_started:
            self.fields_started = True
            self.to_mount = self.widgets()
        fields = self.query_one(".form-fields", VerticalScroll)
        if not fields.is_attached:
            return  # the wizard is closing
        batch = list(islice(self.to_mount, size))
        if batch:
            await fields.mount_all(batch)
        if len(batch) < size:
            self.fields_mounted = True
            if not self.display:
                self.call_after_refresh(self.lay_out_hidden)
            # The form lives as long as the wizard: the collector's full passes (~100 ms each,
            # a key's paint waited for them) need not walk its thousands of objects again.
            gc.freeze()
            self.post_message(self.Ready(self))

    def lay_out_hidden(self) -> None:
        """Give the widgets of a form built hidden the sizes they will have when it is shown.

        A widget's first layout asks for another (its size changes from nothing), so a form's
        first showing cost two layouts of the whole screen; laid out here, while the wizard is
        idle, its first showing costs what any other does. Textual has no public call for
        this: its compositor lays out the form alone, at the size the shown form has, until
        the sizes settle."""
        from textual._compositor import Compositor

        switcher = self.parent
        if self.display or not isinstance(switcher, Widget) or not switcher.content_size:
            return
        try:
            for _ in range(3):  # again while sizes change (the first one shows the scrollbar)
                compositor = Compositor()
                compositor.reflow(self, switcher.content_size)
                changed = [
                    widget._size_updated(
                        geometry.region.size, geometry.virtual_size, geometry.container_size
                    )
                    for widget, geometry in compositor.layers
                ]
                if not any(changed):
                    return
        except Exception:  # a Textual whose internals differ: the first showing lays it out
            self.session.log.write("laying out a hidden form failed:\n" + traceback.format_exc())

    def widgets(self) -> Iterator[Widget]:
        """The group titles, field rows and buttons, each built only when its batch is due."""
        for group, fields in grouped(form_keys(self.step)):
            yield Static(GROUP_TITLES.get(group, group), classes="group-title")
            for f in fields:
                text = as_text(self.session.answers.values.get(f.key))
                self.saved[f.key] = text
                row = self.rows[f.key] = FieldRow(f, text, self.placeholder(f))
                yield row
        yield from self.actions()

    async def mount_batch(self) -> None:
        """Mount the next few rows; the rest after the screen is painted again.

        A key pressed meanwhile (the first form fills in right after start-up) is answered
        between two batches instead of after the whole form."""
        if not self.display or self.held:
            # Left for another step: that step's form fills in first; the wizard finishes
            # this one while idle (MainScreen.build_ahead), when it is shown again, or when
            # the highlight comes back to it (resume_filling).
            self.filling = False
            return
        if self.app.message_queue_size:
            self.call_after_refresh(self.mount_batch)  # a key waits: answered first
            return
        await self.mount_next(MOUNT_BATCH)
        if self.fields_mounted:
            self.filling = False
        else:
            self.call_after_refresh(self.mount_batch)

    def resume_filling(self) -> None:
        """Go on filling in the fields, if that was held while another step was highlighted."""
        self.held = False
        if self.display and not self.fields_mounted and not self.filling:
            self.call_after_refresh(self.mount_fields)

    def actions(self) -> list[Widget]:
        """The buttons under the fields: the preview, then the step's own actions."""
        buttons = [Button(f"{self.step.preview_label}  ctrl+p", id="preview-button", compact=True)]
        buttons += [
            Button(f"{action.label}  {action.key}", name=action.name, compact=True)
            for action in self.step.actions
        ]
        return buttons

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

    def sync(self) -> None:
        """Show answers saved elsewhere (another form, a plan), leaving alone a field whose
        text the operator changed and has not confirmed."""
        for key, row in self.rows.items():
            text = as_text(self.session.answers.values.get(key))
            if text != self.saved[key] and row.input.value == self.saved[key]:
                self.saved[key] = text
                row.input.value = text
                row.show_error()
        self.refresh_placeholders()

    def say(self, message: str) -> None:
        self.message = message
        self.query_one("#form-message", Static).update(Text(message))
        from .message import wrapped_lines

        self.query_one("#form-more").display = wrapped_lines(self, message) > MESSAGE_LINES

    def action_read_message(self) -> None:
        if not self.message:
            self.say("No message to show; ctrl+o shows a long message in full.")
            return
        from .message import MessageScreen

        self.app.push_screen(MessageScreen(by_name(self.step.name).title, self.message))

    def on_click(self, event: events.Click) -> None:
        if event.widget is not None and event.widget.id in ("form-message", "form-more"):
            self.action_read_message()

    def action_hint_run(self) -> None:
        label, verb = self.step.preview_label, self.step.verb
        self.say(f"ctrl+s works in the preview: ctrl+p ({label}), then ctrl+s ({verb}).")

    def action_hint_back(self) -> None:
        self.say("Each answer is saved as you leave its field; f2: the step list, ctrl+q: quit.")

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

    def action_confirm_and_next(self) -> None:
        focused = self.screen.focused
        row = self.row_of(focused) if isinstance(focused, Input) else None
        if row is None:
            raise SkipAction()  # enter on a button or a choice does what it does there
        if row.input.message_queue_size:
            # Keys typed ahead have not reached the field yet, so its value is not whole: move
            # on now (the keys behind enter are the next field's); leaving confirms the value.
            self.screen.focus_next()
        elif self.confirm(row):
            self.screen.focus_next()

    @on(events.DescendantFocus)
    def show_help(self, event: events.DescendantFocus) -> None:
        # The field focused now: with keys typed ahead, a field left already may say it was
        # focused after the next one did (each says so once it gets to its queued keys).
        focused = self.screen.focused
        row = self.row_of(focused) if isinstance(focused, Input) else None
        if row is not None:
            self.last_field = row.input
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
            elif key not in self.step.inputs:
                continue  # asked here for convenience (ASKED_WITH); the step needs the other
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

    # --- the step's actions -------------------------------------------------------------

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        if event.button.name and any(a.name == event.button.name for a in self.step.actions):
            event.stop()
            self.action_run_action(event.button.name)

    def action_run_action(self, name: str, decisions: dict[str, str] | None = None) -> None:
        self.confirm_pending()
        action = next(a for a in self.step.actions if a.name == name)
        for row in self.rows.values():
            error = row.error  # shown, never saved: the action would use the saved value
            if error is not None:
                self.say(
                    f"{row.field.label}: {error}. Fix it first: {action.label} uses what the "
                    "form shows."
                )
                row.input.focus()
                return
        self.say(f"{action.label}…")
        self.last_action = (name, decisions or {})
        self.run_step_action(name, decisions or {})

    @work(thread=True, exit_on_error=False, group="step-action")
    def run_step_action(self, name: str, decisions: dict[str, str]) -> None:
        try:
            lines = self.step.run_action(name, self.session, decisions)
        except NeedsDecision as exc:
            self.post_message(ActionDone([], explained(self.session, exc), exc))
        except Exception as exc:
            self.post_message(ActionDone([], explained(self.session, exc)))
        else:
            self.post_message(ActionDone([self.session.redact(line) for line in lines]))

    @on(ActionDone)
    def action_done(self, message: ActionDone) -> None:
        decision = message.decision
        if decision is None:
            self.say(message.error or "\n".join(message.lines))
            return
        name, decisions = self.last_action

        def answered(yes: bool | None) -> None:
            if yes:
                self.action_run_action(name, {**decisions, decision.key: decision.value})
            else:
                self.say(message.error)

        from .confirm import ConfirmDialog  # dialogs load when first needed, not at start-up

        question = f"{message.error}\n\n{self.session.redact(decision.question)}"
        self.app.push_screen(ConfirmDialog(question, yes=decision.yes), answered)

    # --- choices from AWS ---------------------------------------------------------------

    def action_choose(self) -> None:
        focused = self.screen.focused
        row = self.row_of(focused) if isinstance(focused, Input) else None
        if row is None or row.field.key not in self.step.choosers:
            names = ", ".join(
                self.rows[k].field.label for k in self.step.choosers if k in self.rows
            )
            self.say(f"f6 lists choices from AWS for: {names}.")
            return
        self.confirm_pending()  # profile, region and endpoint as typed so far
        self.say(f"Asking AWS for {row.field.label.lower()} choices…")
        self.list_choices(row.field.key)

    @work(thread=True, exit_on_error=False, group="aws-choices")
    def list_choices(self, key: str) -> None:
        try:
            choices = self.step.choices(self.session, key)
        except Exception as exc:
            self.post_message(Listed(key, [], explained(self.session, exc)))
        else:
            self.post_message(Listed(key, choices))

    @on(Listed)
    def listed(self, message: Listed) -> None:
        row = self.rows[message.key]
        if message.error or not message.choices:
            self.say(message.error or f"AWS lists no {row.field.label.lower()} here.")
            return
        self.say("")

        def picked(value: str | None) -> None:
            if value:
                row.input.value = value
                row.show_error()
                self.confirm(row)
                row.input.focus()

        from .choices import ChoicesDialog

        self.app.push_screen(
            ChoicesDialog(f"{row.field.label}: choose one", message.choices), picked
        )
