"""The main screen: the step list beside the selected step, with key bindings in the footer."""

from __future__ import annotations

import traceback
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Header, Input, OptionList, Static

from wizard.engine import DONE, UNAVAILABLE, Session, StepStatus
from wizard.steps import by_name

from .database_form import DatabaseForm
from .files_form import FilesForm, StepForm
from .prereqs_form import PrereqsForm
from .sidebar import STATES, StepList
from .summary import StepSummary
from .terraform_form import TerraformForm

FILES = "files"
# Steps with a form of their own here; the others show their summary.
FORMS: dict[str, type[StepForm]] = {
    "files": FilesForm,
    "prereqs": PrereqsForm,
    "terraform": TerraformForm,
    "database": DatabaseForm,
}


class StatesChecked(Message):
    def __init__(self, statuses: list[StepStatus]) -> None:
        super().__init__()
        self.statuses = statuses


class MainScreen(Screen[None]):
    AUTO_FOCUS = ""  # the first field gets focus once the form is there, not the step list
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+p", "preview", "Preview"),
        Binding("ctrl+t", "toggle_secrets", "Secrets"),
        Binding("f5", "test_connection", "Test connection"),
        Binding("f2", "focus_steps", "Steps"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.statuses: dict[str, StepStatus] = {}
        self.selected = FILES
        self.checking = self.check_again = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield StepList()
            with Vertical(id="step"):
                yield Static(id="step-heading")
                with ContentSwitcher(initial=FILES, id="step-view"):
                    for name, form in FORMS.items():
                        if by_name(name).available:
                            yield form(self.session, id=name)
                    yield StepSummary(id="summary")
        yield Footer()

    def on_mount(self) -> None:
        steps = self.query_one(StepList)
        steps.highlighted = steps.get_option_index(FILES)
        self.show_step(FILES)
        self.refresh_states()

    @on(StepForm.Ready)
    def form_ready(self, event: StepForm.Ready) -> None:
        if self.focused is None and event.form is self.form:
            self.form.query_one(Input).focus()

    @property
    def form(self) -> StepForm:
        """The selected step's form (the files form while another step is shown)."""
        name = self.selected if self.has_form(self.selected) else FILES
        return self.query_one(f"#{name}", StepForm)

    def has_form(self, name: str) -> bool:
        return name in FORMS and by_name(name).available

    # --- steps ------------------------------------------------------------------------

    def refresh_states(self) -> None:
        """Check each step's state again; one check at a time, the last request always runs."""
        if self.checking:
            self.check_again = True
            return
        self.checking = True
        self.check_states()

    @work(thread=True, exit_on_error=False, group="states")
    def check_states(self) -> None:
        # Probes may be slow (files now; AWS or MySQL later), so they run here, on a read-only
        # session of their own: nothing is shared with the form's session on the UI thread.
        try:
            statuses = Session.open(self.session.repo, write=False).status()
        except Exception:
            self.session.log.write("checking the step states failed:\n" + traceback.format_exc())
            statuses = []
        self.post_message(StatesChecked(statuses))

    @on(StatesChecked)
    def states_checked(self, message: StatesChecked) -> None:
        self.checking = False
        if self.check_again:
            self.check_again = False
            self.refresh_states()
        statuses = {s.name: s for s in message.statuses}
        if statuses and statuses != self.statuses:
            self.statuses = statuses
            self.query_one(StepList).show_states(statuses.values())
            self.show_heading()

    def show_heading(self) -> None:
        step = by_name(self.selected)
        status = self.statuses.get(step.name)
        heading = Text(step.title, style="bold")
        if status is not None:
            _, word, style = STATES[status.state]
            heading.append(f" · {word}", style=style)
            # "done" carries a timestamp and "unavailable" is said below; the rest say why.
            if status.state not in (DONE, UNAVAILABLE):
                heading.append(f" — {status.reason}")
        self.query_one("#step-heading", Static).update(heading)

    def show_step(self, name: str) -> None:
        step = by_name(name)
        self.selected = name
        switcher = self.query_one(ContentSwitcher)
        if self.has_form(name):
            switcher.current = name
        else:
            self.query_one(StepSummary).show(step)
            switcher.current = "summary"
        self.show_heading()
        self.refresh_bindings()

    @on(OptionList.OptionHighlighted, "#steps")
    def step_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None:
            self.show_step(event.option.id)

    @on(OptionList.OptionSelected, "#steps")
    def step_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None and self.has_form(event.option.id):
            inputs = self.form.query(Input)
            if inputs:
                inputs.first().focus()

    @on(StepForm.AnswerSaved)
    def answer_saved(self) -> None:
        self.refresh_states()

    # --- actions ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("preview", "toggle_secrets"):
            return self.has_form(self.selected)
        if action == "test_connection":
            return self.selected == "database" and self.has_form("database")
        return True

    def action_focus_steps(self) -> None:
        self.query_one(StepList).focus()

    def action_test_connection(self) -> None:
        form = self.form
        if isinstance(form, DatabaseForm):
            form.test_connection()

    def action_toggle_secrets(self) -> None:
        shown = self.form.toggle_secrets()
        self.form.say("Secrets are shown; ctrl+t hides them." if shown else "Secrets are hidden.")

    @on(Button.Pressed, "#preview-button")
    def action_preview(self) -> None:
        form = self.form
        form.confirm_pending()
        problems = form.problems()
        if problems:
            names = ", ".join(f"{row.field.label} ({why})" for row, why in problems)
            form.say(f"Fix these before the preview: {names}.")
            problems[0][0].input.focus()
            return
        form.say("")
        from .preview import PreviewScreen  # Rich's syntax highlighting loads only when used

        step = form.STEP
        if step == "prereqs":
            from .checks import ChecksScreen

            screen: Screen[str | None] = ChecksScreen(self.session)
        else:
            screen = PreviewScreen(self.session, step)
        self.app.push_screen(screen, lambda outcome: self.preview_closed(step, outcome))

    def preview_closed(self, step: str, outcome: str | None) -> None:
        form = self.query_one(f"#{step}", StepForm)
        form.reload()
        if outcome:
            form.say(f"{by_name(step).title}: {outcome}.")
        self.refresh_states()

    def confirm_pending(self) -> None:
        for form in self.query(StepForm):
            form.confirm_pending()
