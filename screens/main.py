"""The main screen: the step list beside the selected step, with key bindings in the footer.

It knows no step by name: every step gets the form its declaration describes, and
its preview is the screen its declared view asks for.

The wizard paints it before the secure repo is open (``WizardApp.open_repo``): opening needs
most of the wizard's own modules, which take longer to load than the frame takes to paint, so
this module imports none of them at the top, and the step's form comes once the repo is open.
"""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Header, Input, OptionList, Static

from wizard.states import DONE
from wizard.steps import NAMES, by_name

from .footer import KeysFooter
from .sidebar import STATES, StepList

if TYPE_CHECKING:
    from pathlib import Path

    from wizard.engine import Session, StepStatus
    from wizard.ledger import Ledger

    from .step_form import StepForm

#: Widgets mounted at a time when the forms of steps not visited yet are built while idle.
AHEAD_BATCH = 2
#: Seconds without a key before forms are built ahead of their visit.
QUIET = 0.3
#: Seconds the building waits when a key (or other news) is queued for the wizard.
AHEAD_WAIT = 0.02


class StatesChecked(Message):
    def __init__(self, statuses: list[StepStatus], verified: bool = False) -> None:
        super().__init__()
        self.statuses = statuses
        self.verified = verified  # checked with the outside world (AWS, MySQL, the hosts)


def verified_age(verified_at: float | None, now: float) -> str:
    """How long ago the steps were last verified with the outside world, in a few words."""
    if verified_at is None:
        return "not verified yet"
    minutes = int(max(now - verified_at, 0) // 60)
    if minutes < 1:
        return "verified just now"
    if minutes < 60:
        return f"verified {minutes} min ago"
    if minutes < 48 * 60:
        return f"verified {minutes // 60} h ago"
    return f"verified {minutes // (24 * 60)} days ago"


def first_step_to_do(ledger: Ledger) -> str:
    """The first step ``ledger`` does not record as done (the last one if all are)."""
    for name in NAMES:
        record = ledger.steps.get(name)
        if record is None or record.status != DONE:
            return name
    return NAMES[-1]


def step_form() -> type[StepForm]:
    """The form's class, imported once the repo is open (see the module's docstring)."""
    from .step_form import StepForm

    return StepForm


class MainScreen(Screen[None]):
    AUTO_FOCUS = ""  # the first field gets focus once the form is there, not the step list
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+p", "preview", "Preview"),
        Binding("ctrl+t", "toggle_secrets", "Secrets"),
        Binding("ctrl+r", "verify", "Verify"),
        # priority: focus moves before the keys typed right behind f2 are dispatched.
        Binding("f2", "focus_steps", "Steps", priority=True),
        # Named in the messages that say what to do next (the footer has no room left at 80).
        Binding("ctrl+n", "next_step", "Next step", show=False),
        Binding("escape", "back_to_form", show=False),  # from the step list (a form has its own)
    ]

    session: Session  # once open

    def __init__(self, session: Session | None, initial: str | None = None, repo: str = "") -> None:
        """On an open ``session``; None: the frame only, until the repo named ``repo`` is open
        (``WizardApp.open_repo``: glance, take, show_view)."""
        super().__init__()
        self.repo_name = repo
        self.initial = initial
        self.statuses: dict[str, StepStatus] = {}
        self.selected = self.highlighted = ""  # the step list's; its form follows
        self.checking = self.check_again = self.states_asked = False
        self.greeted = False  # the first form shown says what to do there
        self.focus_when_ready = ""  # a step chosen (enter) before its form's fields were there
        self.hint_when_ready = ""  # a step gone to with ctrl+n: what to do there, once it is there
        self.building_ahead = False
        self.last_key_at = 0.0  # a switch, or a letter typed: forms are built ahead when quiet
        # The sidebar's states are local (the ledger, digests, recorded outputs); ctrl+r checks
        # the outside world too. What it found wrong in a step stays shown until that step runs
        # again: step name -> (its record's finish time, the state verification gave it).
        self.verifying = False
        self.verified_at: float | None = None
        self.drift: dict[str, tuple[str, StepStatus]] = {}
        # The step's view (its form) is there: composed with the screen on an open session, or
        # mounted once the repo has opened (show_view).
        self.viewing = False
        self.glanced = ""  # the step highlighted from a glance at the ledger (glance)
        if session is not None:
            self.take(session)
            self.viewing = True

    @property
    def is_open(self) -> bool:
        """Whether the repo is open. Until the step list highlights the step to do (glance, or
        take), the app holds the keys (the footer's clicks too: Textual sends them as keys);
        then the list answers them, and the step's view follows once the repo is open."""
        return "session" in vars(self)

    def take(self, session: Session) -> None:
        """Work on ``session``, on the step the operator is to see first."""
        from wizard import drafts

        self.session = session
        # A step whose run an earlier wizard left is followed at once: show that step.
        running = session.running()
        # What was being typed when the connection dropped shows again, in its step.
        self.draft = drafts.take(session)
        draft_step = self.draft.step if self.draft and self.draft.step in NAMES else None
        self.selected = self.initial or (
            running[0] if running else draft_step or first_step_to_do(session.ledger)
        )
        if self.glanced and self.highlighted not in ("", self.glanced):
            self.selected = self.highlighted  # the operator's choice, made while it opened
        self.highlighted = self.selected
        if self.is_mounted:  # opened after the first frame: the list shows the step at once
            self.highlight(self.selected)

    def glance(self, repo: Path) -> bool:
        """Highlight the first step to do as the repo's ledger records it, read before the
        repo is opened (the session reads it again, with the lock held). False if it cannot
        be read: opening the repo will say why."""
        from wizard.ledger import Ledger

        try:
            ledger = Ledger.load(Ledger.path_in(repo))
        except Exception:
            return False
        self.glanced = first_step_to_do(ledger)
        self.highlight(self.glanced)
        return True

    def waiting_for(self, holder: str) -> None:
        """Another wizard holds the repo: say so while the opening waits for it."""
        said = f"Waiting for the other wizard on {self.repo_name} to quit ({holder}); ctrl+q quits."
        self.query_one("#step-heading", Static).update(Text(said, style="dim"))

    def highlight(self, name: str) -> None:
        steps = self.query_one(StepList)
        steps.highlighted = steps.get_option_index(name)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield StepList()
            with Vertical(id="step"):
                if self.is_open:
                    yield Static(id="step-heading")
                    yield self.step_view()
                else:
                    yield Static(Text(f"Opening {self.repo_name}…", style="dim"), id="step-heading")
        yield KeysFooter()

    def step_view(self) -> ContentSwitcher:
        # The first paint builds the shown step's form only (and imports only its step); each
        # other form is built on its step's first visit.
        return ContentSwitcher(self.new_form(self.selected), initial=self.selected, id="step-view")

    def prepare_view(self) -> None:
        """Import what the highlighted step's view needs: the forms' module, the step's."""
        step_form()
        by_name(self.highlighted).load()

    async def show_view(self) -> None:
        """The repo is open: show the step highlighted by now, as if it had been open from the
        start. One frame shows the form with its first rows: the frame that showed the step
        list (and any key moving its highlight meanwhile) has been painted already."""
        self.selected = self.highlighted
        with self.app.batch_update():
            await self.query_one("#step", Vertical).mount(self.step_view())
            self.viewing = True
            self.start()
            await self.shown_form().mount_fields()

    def new_form(self, name: str) -> StepForm:
        from .step_form import form_class

        step = by_name(name).load()
        return form_class(step)(self.session, step)

    def on_mount(self) -> None:
        if self.is_open:
            self.start()

    def start(self) -> None:
        wanted = self.highlighted  # moved since show_view began, perhaps
        self.show_step(self.selected)
        steps = self.query_one(StepList)
        steps.highlighted = steps.get_option_index(wanted)
        if wanted != self.selected:
            self.highlighted = wanted
            self.shown_form().held = True
            self.call_after_refresh(self.show_highlighted)
        self.show_verified_age()
        self.set_interval(30, self.show_verified_age)
        # A run an earlier wizard left (killed, or the connection dropped): follow it.
        for name in self.session.running():
            self.reattach(name)

    def reattach(self, name: str) -> None:
        """Follow step ``name``'s run; the step is selected so its outcome shows after."""
        from .views import preview_screen

        steps = self.query_one(StepList)
        steps.highlighted = steps.get_option_index(name)
        self.show_step(name)
        form = self.shown_form()
        self.app.push_screen(
            preview_screen(self.session, form.step, follow=True),
            lambda outcome: self.preview_closed(form, outcome),
        )

    def on_step_form_ready(self, event: StepForm.Ready) -> None:
        if not self.states_asked:
            # The states are checked in a thread, which takes turns with the wizard's own:
            # not before the first form is whole (keys typed meanwhile wait for it less).
            self.states_asked = True
            self.refresh_states()
        from .drafts import restore as restore_draft

        if self.draft is not None and restore_draft(event.form, self.draft):
            self.draft = None
            return
        if not event.form.display:
            return  # built ahead of its visit, or left before it was whole
        if not self.building_ahead:
            self.building_ahead = True
            self.set_timer(QUIET, self.build_ahead)
        hint = self.hint_when_ready == event.form.step.name
        if event.form is self.form and (not self.greeted or hint):
            self.greeted, self.hint_when_ready = True, ""
            event.form.say(self.start_hint())
        wanted = self.focus_when_ready == event.form.step.name
        if event.form is self.form and (self.focused is None or wanted):
            self.focus_when_ready = ""
            # At once: f2 pressed meanwhile (waiting in the queue) moves focus after this.
            self.set_focus(self.form.query_one(Input))

    async def build_ahead(self) -> None:
        """Build the next few widgets of a step's form not visited yet, then wait for the
        next quiet moment: a later switch to that step only shows it."""
        if time.monotonic() - self.last_key_at < QUIET or not self.is_current:
            self.set_timer(QUIET, self.build_ahead)  # keys (and a preview shown) come first
            return
        if self.app.message_queue_size:
            self.set_timer(AHEAD_WAIT, self.build_ahead)  # a key waits to be handled
            return
        switchers = self.query(ContentSwitcher)
        if not switchers or not switchers.first().is_attached:
            return  # the wizard is closing: its widgets are being taken down
        switcher = switchers.first()
        for name in NAMES:
            found = switcher.query_children(f"#{name}")
            if not found:
                form = self.new_form(name)
                form.display = False
                await switcher.mount(form)
                break
            if await found.first(step_form()).build_hidden(AHEAD_BATCH):
                break
        else:
            return  # every form is built
        self.call_after_refresh(self.build_ahead)

    @on(Input.Changed)
    def typed(self, event: Input.Changed) -> None:
        if event.input.has_focus:  # typed: not a field of a form being built, with its value
            self.last_key_at = time.monotonic()

    @property
    def form(self) -> StepForm:
        """The selected step's form."""
        self.show_highlighted()  # a key acting on the form acts on the step highlighted
        return self.shown_form()

    def shown_form(self) -> StepForm:
        """The form shown, though the list may highlight another step by now."""
        return self.query_one(f"#{self.selected}", step_form())

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
            from wizard.engine import Session

            statuses = Session.open(self.session.repo, write=False).status()
        except Exception:
            self.session.log.write("checking the step states failed:\n" + traceback.format_exc())
            statuses = []
        self.post_message(StatesChecked(statuses))

    @work(thread=True, exit_on_error=False, group="verify")
    def verify_states(self) -> None:
        try:
            from wizard.engine import Session

            statuses = Session.open(self.session.repo, write=False).status(verify=True)
        except Exception:
            self.session.log.write("verifying the steps failed:\n" + traceback.format_exc())
            statuses = []
        self.post_message(StatesChecked(statuses, verified=True))

    @on(StatesChecked)
    def states_checked(self, message: StatesChecked) -> None:
        if message.verified:
            self.verified(message.statuses)
        else:
            self.checking = False
            if self.check_again:
                self.check_again = False
                self.refresh_states()
        statuses = self.with_drift({s.name: s for s in message.statuses})
        if statuses and statuses != self.statuses:
            self.statuses = statuses
            self.query_one(StepList).show_states(statuses.values())
            self.show_heading()

    def verified(self, statuses: list[StepStatus]) -> None:
        """Verification came back: remember what it found, and say it in the form."""
        self.verifying = False
        if not statuses:
            self.form.say("Verifying failed (the run log says why); ctrl+r tries again.")
            self.show_verified_age()
            return
        self.verified_at = time.time()
        self.show_verified_age()
        checked, wrong = 0, []
        for status in statuses:
            record = self.session.ledger.steps.get(status.name)
            done = record is not None and record.status == DONE
            checked += done
            if record is not None and done and status.state != DONE:
                self.drift[status.name] = (record.finished_at, status)
                wrong.append(f"{status.title}: {status.reason}")
            else:
                self.drift.pop(status.name, None)
        from wizard.steps.base import count

        if not checked:
            self.form.say("No step is done yet: there is nothing to verify.")
        elif wrong:
            self.form.say(
                f"Verified {count(checked, 'done step')}; not as recorded — {'; '.join(wrong)}."
            )
        else:
            self.form.say(f"Verified {count(checked, 'done step')}: all as recorded.")

    def with_drift(self, statuses: dict[str, StepStatus]) -> dict[str, StepStatus]:
        """The local states, with what verification found wrong in steps not run since."""
        for name, (finished_at, found) in self.drift.items():
            local = statuses.get(name)
            record = self.session.ledger.steps.get(name)
            if local and local.state == DONE and record and record.finished_at == finished_at:
                statuses[name] = found
        return statuses

    def show_verified_age(self) -> None:
        age = "verifying…" if self.verifying else verified_age(self.verified_at, time.time())
        self.query_one(StepList).border_subtitle = age

    def show_heading(self) -> None:
        step = by_name(self.selected)
        status = self.statuses.get(step.name)
        heading = Text(step.title, style="bold")
        if status is not None:
            _, word, style = STATES[status.state]
            heading.append(f" · {word}", style=style)
            # "done" carries a timestamp; the rest say why.
            if status.state != DONE:
                heading.append(f" — {status.reason}")
        self.query_one("#step-heading", Static).update(heading)

    def show_step(self, name: str) -> None:
        self.selected = self.highlighted = name
        switcher = self.query_one(ContentSwitcher)
        if not switcher.query_children(f"#{name}"):
            switcher.mount(self.new_form(name))
        switcher.current = name
        self.shown_form().held = False
        self.show_heading()
        self.refresh_bindings()

    def show_highlighted(self) -> None:
        """Show the step the list highlights, if its form is not shown yet."""
        if self.highlighted != self.selected:
            self.show_step(self.highlighted)
        else:
            self.shown_form().resume_filling()  # the highlight came back before the switch

    @on(OptionList.OptionHighlighted, "#steps")
    def step_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None:
            # The highlight is painted first, the form in the frame after: a key gets its
            # answer at once, and keys that come faster than forms switch show the last step.
            self.highlighted = event.option.id
            self.last_key_at = time.monotonic()
            if not self.viewing:
                return  # the view comes on the step highlighted then (show_view)
            # The shown form's rows wait while another step is to be shown.
            self.shown_form().held = self.highlighted != self.selected
            self.call_after_refresh(self.show_highlighted)

    @on(OptionList.OptionSelected, "#steps")
    def step_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            if not self.viewing:  # its first field gets focus once the form is there
                self.focus_when_ready = event.option.id
                return
            self.focus_first_field()

    def on_step_form_answer_saved(self) -> None:
        self.sync_forms()
        self.refresh_states()

    def sync_forms(self) -> None:
        """One answer, one value: every form shows the answers as saved now."""
        for form in self.query(step_form()):
            form.sync()

    # --- actions ----------------------------------------------------------------------

    def action_next_step(self) -> None:
        """Show the step to do next, its first field focused."""
        if not self.viewing:
            return  # the repo is still opening
        name = self.next_to_do(self.selected)
        if not name:  # every other step is done: what to do on this one, or that all are
            self.form.say(self.start_hint())
            return
        self.show_step(name)
        self.highlight(name)
        if self.focus_first_field():
            self.form.say(self.start_hint())
        else:  # the hint comes with the focus too
            self.hint_when_ready = name

    def action_focus_steps(self) -> None:
        self.set_focus(self.query_one(StepList))  # at once, not after the queued keys

    def action_back_to_form(self) -> None:
        """esc on the step list: back to the form highlighted, in the field left there (its first
        field when there is none)."""
        if not self.viewing:
            return
        left = self.form.last_field
        if left is not None and left.is_attached:
            self.set_focus(left)
        else:
            self.focus_first_field()

    def focus_first_field(self) -> bool:
        """Focus the form's first field; False when its fields are still being mounted (the
        first one gets focus once they are there)."""
        inputs = self.form.query(Input)
        if inputs:
            self.set_focus(inputs.first())
            return True
        self.focus_when_ready = self.selected
        return False

    def action_verify(self) -> None:
        """Check every done step with the outside world, as ``status --verify`` does."""
        if not self.viewing:
            return  # the repo is still opening
        if self.verifying:
            self.form.say("Still verifying; the result shows here when it is in.")
            return
        self.verifying = True
        self.show_verified_age()
        self.form.say("Verifying the done steps with AWS, MySQL and the hosts…")
        self.verify_states()

    def action_toggle_secrets(self) -> None:
        if not self.viewing:
            return  # the repo is still opening
        form = self.form
        shown = form.toggle_secrets()
        form.say("Secrets are shown; ctrl+t hides them." if shown else "Secrets are hidden.")

    @on(Button.Pressed, "#preview-button")
    def action_preview(self) -> None:
        if not self.viewing:
            return  # the repo is still opening
        form = self.form
        form.confirm_pending()
        problems = form.problems()
        if problems:
            names = ", ".join(f"{row.field.label} ({why})" for row, why in problems)
            form.say(f"Fix these before the preview: {names}.")
            problems[0][0].input.focus()
            return
        form.say("")
        from .views import preview_screen  # Rich's syntax highlighting loads only when used

        step = form.step
        self.app.push_screen(
            preview_screen(self.session, step), lambda outcome: self.preview_closed(form, outcome)
        )

    def preview_closed(self, form: StepForm, outcome: str | None) -> None:
        form.reload()
        self.sync_forms()  # secrets a plan generated show in the other forms too
        if outcome:
            form.say(self.ran_message(form.step.name, outcome))
        self.refresh_states()

    def ran_message(self, name: str, outcome: str) -> str:
        """What a step's run did, led by the step to do next (an outcome can be long: the
        message area shows its first lines, ctrl+o the rest)."""
        title = by_name(name).title
        after = self.next_to_do(name)
        if not (after and self.done(name)):
            return f"{title}: {outcome}."
        said = outcome[:1].upper() + outcome[1:]
        return f"{title} is done; next: {by_name(after).title} (ctrl+n). {said}."

    def start_hint(self) -> str:
        """What to do on the step the wizard opens on, in a line."""
        step = self.form.step
        after = self.next_to_do(step.name)
        if not after and self.done(step.name):
            return "Every step is done; ctrl+r verifies them with AWS, MySQL and the hosts."
        if self.done(step.name):
            return f"This step is done. Next: {by_name(after).title} (ctrl+n goes there)."
        return (
            f"To do next: fill in the fields here (enter confirms each), then ctrl+p "
            f"({step.preview_label}) and ctrl+s ({step.verb})."
        )

    def done(self, name: str) -> bool:
        record = self.session.ledger.steps.get(name)
        return record is not None and record.status == DONE

    def next_to_do(self, current: str) -> str:
        """The step to do next from ``current``: the first, in order, that is not done (""
        when every other step is)."""
        return next((name for name in NAMES if name != current and not self.done(name)), "")

    def confirm_pending(self) -> None:
        for form in self.query(step_form()):
            form.confirm_pending()
