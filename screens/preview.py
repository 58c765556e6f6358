"""A step's preview: each file's diff, each SQL statement and what changes elsewhere (secrets
masked), hand-edited values with a choice each, then carrying it out with a live log.

Planning and applying run in thread workers that only post messages; the handlers here own every
widget change. Progress lines go into a queue that a timer drains into a bounded ``Log`` (one
update per frame however many lines arrive). One worker at a time: a decision made while
planning asks for one more plan. Nothing here knows a step by name: what differs is declared by
the step (its verb, its confirmation, whether it can be stopped, its outcome).
"""

from __future__ import annotations

import queue
from typing import Any, ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Log, ProgressBar, RadioSet, Static
from textual.worker import Worker, get_current_worker

from wizard.context import Event, RunContext
from wizard.engine import Session
from wizard.errors import ConflictError, Detached, NeedsDecision
from wizard.steps import Plan, Step, by_name
from wizard.steps.base import count

from .confirm import ConfirmDialog, WordDialog
from .conflicts import ConflictChoice
from .message import MessageScreen, wrapped_lines
from .problems import explained

LOG_LINES = 2000  # the live log keeps this many lines; the run log keeps them all
FRAME = 1 / 30  # seconds between two drains of the progress queue
STATUS_LINES = 6  # the status area's height (wizard.tcss); longer ones end in "… ctrl+o"


class Planned(Message):
    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan


class Applied(Message):
    def __init__(self, outcome: str) -> None:
        super().__init__()
        self.outcome = outcome


class DecisionAsked(Message):
    def __init__(self, message: str, decision: NeedsDecision) -> None:
        super().__init__()
        self.message, self.decision = message, decision


class Failed(Message):
    def __init__(self, reason: str, changed_since: bool = False, left: bool = False) -> None:
        super().__init__()
        self.reason, self.changed_since, self.left = reason, changed_since, left


class PreviewScreen(Screen[str | None]):
    """Dismisses with what happened ("wrote 6 files", "no changes"), or None when left."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "run", "Run"),
        Binding("ctrl+t", "toggle_secrets", "Secrets"),
        Binding("escape", "back", "Back"),
        Binding("ctrl+o", "read_status", "Whole status", show=False),  # the area says so
    ]

    def __init__(self, session: Session, step: Step, follow: bool = False) -> None:
        super().__init__()
        self.session = session
        self.step = step
        self.follow = follow  # reattach to the step's run instead of planning
        self.leaving = False  # the operator quits and leaves the run going on its own
        self.stopping = False  # the operator stops the step (esc, or quit and stop)
        self.quitting = False  # the app exits once the worker has ended
        self.decided: dict[str, str] = {}  # host keys trusted, rules revoked, …
        self.plan: Plan | None = None
        self.busy = False
        self.status = ""  # what the status area says, whole
        self.replan = False
        self.conflicts_shown = False
        self.worker: Worker[None] | None = None
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()

    def compose(self) -> ComposeResult:
        yield Header()
        title = by_name(self.step.name).title
        what = "Following the run" if self.follow else "Preview"
        yield Static(Text(f"{what} · {title}", style="bold"), id="preview-heading")
        yield Static(id="preview-status")
        yield Static("… ctrl+o (or a click) shows the whole status", id="preview-more")
        yield ProgressBar(id="run-progress", show_eta=False)
        yield Static(id="in-flight", markup=False)
        with VerticalScroll(id="preview-body"):
            yield Vertical(id="conflicts")
            yield Vertical(id="diffs")
        yield Log(max_lines=LOG_LINES, id="progress")
        with Horizontal(id="preview-buttons"):
            yield Button(f"{self.step.verb}  ctrl+s", id="run", variant="primary", compact=True)
            yield Button("Back  esc", id="back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        for live in ("#preview-more", "#progress", "#run-progress", "#in-flight"):
            self.query_one(live).display = False
        self.set_interval(FRAME, self.drain)
        if self.follow:
            self.busy = True
            self.show_live()
            self.say("Following the run from its start…")
            self.worker = self.run_resume()
        else:
            self.start_plan()

    def show_live(self) -> None:
        """Swap the preview for the live log while the step is carried out."""
        self.query_one("#preview-body").display = False
        self.query_one("#progress", Log).display = True

    def say(self, message: str, error: bool = False) -> None:
        self.status = message
        status = self.query_one("#preview-status", Static)
        status.update(Text(message))
        status.set_class(error, "-error")
        self.query_one("#preview-more").display = wrapped_lines(status, message) > STATUS_LINES

    def action_read_status(self) -> None:
        if self.status:
            title = by_name(self.step.name).title
            self.app.push_screen(MessageScreen(f"{title} · status", self.status))

    def on_click(self, event: events.Click) -> None:
        if event.widget is not None and event.widget.id in ("preview-status", "preview-more"):
            self.action_read_status()

    # --- workers (no widget is touched from these threads) ----------------------------

    def context(self) -> RunContext:
        """Progress into the queue. Only the operator stops a step (esc, or quit and stop);
        when the app goes away otherwise (a crash, the worker cancelled on exit), a long run
        is left going on its own for a later wizard, never stopped."""
        worker = get_current_worker()
        return RunContext(
            on_progress=self.lines.put,
            on_event=self.events.put,
            is_cancelled=lambda: self.stopping,
            is_detached=lambda: self.leaving or worker.is_cancelled,
        )

    @work(thread=True, exit_on_error=False, group="preview")
    def run_plan(self, decisions: dict[str, str]) -> None:
        try:
            plan = self.session.plan(self.step.name, decisions, False, self.context())
        except NeedsDecision as exc:
            self.post_message(DecisionAsked(explained(self.session, exc), exc))
        except Exception as exc:
            self.post_message(Failed(explained(self.session, exc)))
        else:
            self.post_message(Planned(plan))

    @work(thread=True, exit_on_error=False, group="preview")
    def run_apply(self, plan: Plan) -> None:
        try:
            outputs = self.session.apply(plan, self.context())
        except NeedsDecision as exc:
            self.post_message(DecisionAsked(explained(self.session, exc), exc))
        except Exception as exc:
            changed = isinstance(exc, ConflictError)
            left = isinstance(exc, Detached)
            self.post_message(Failed(explained(self.session, exc), changed, left))
        else:
            self.post_message(Applied(self.session.redact(self.step.outcome(plan, outputs))))

    @work(thread=True, exit_on_error=False, group="preview")
    def run_resume(self) -> None:
        try:
            self.session.resume(self.step.name, self.context())
        except Exception as exc:
            left = isinstance(exc, Detached)
            self.post_message(Failed(explained(self.session, exc), left=left))
        else:
            self.post_message(Applied("the run ended and is recorded"))

    def drain(self) -> None:
        """Move what the worker said since the last frame into the view, in one update: every
        line into the log, and only the newest progress event (done of total, in flight)."""
        lines = drained(self.lines)
        if lines:
            self.query_one("#progress", Log).write_lines(lines)
            self.say(lines[-1])
        progress = [e for e in drained(self.events) if e.kind == "progress"]
        if progress:
            latest = progress[-1].data
            bar = self.query_one("#run-progress", ProgressBar)
            bar.display = True
            bar.update(total=100, progress=round(100 * float(latest.get("fraction", 0))))
            in_flight = self.query_one("#in-flight", Static)
            in_flight.display = True
            in_flight.update("\n".join([str(latest.get("headline", "")), *latest.get("lines", [])]))

    # --- planning ---------------------------------------------------------------------

    def decisions(self) -> dict[str, str]:
        chosen = {
            choice.conflict.id: choice.decision
            for choice in self.query(ConflictChoice)
            if choice.decision is not None
        }
        return {**self.decided, **chosen}

    def start_plan(self) -> None:
        if self.busy:
            self.replan = True
            return
        self.busy = True
        self.plan = None
        self.stopping = False
        self.say("Planning…")
        self.worker = self.run_plan(self.decisions())

    def action_toggle_secrets(self) -> None:
        choices = list(self.query(ConflictChoice))
        secret = [choice for choice in choices if choice.conflict.secret]
        if not secret:
            self.say("No secret value to show here.")
            return
        revealed = not secret[0].revealed
        for choice in secret:
            choice.reveal(revealed)
        self.say("Secret values are shown; ctrl+t hides them." if revealed else "Hidden again.")

    @on(RadioSet.Changed)
    def conflict_decided(self) -> None:
        self.start_plan()

    def worker_done(self) -> bool:
        """True when a decision changed meanwhile and another plan was started for it."""
        self.busy = False
        self.worker = None
        if self.replan:
            self.replan = False
            self.start_plan()
            return True
        return False

    @on(Planned)
    async def planned(self, message: Planned) -> None:
        if self.worker_done():
            return
        plan = self.plan = message.plan
        if not self.conflicts_shown and plan.conflicts:
            # The first plan lists every hand-edited value; later plans carry the decisions.
            self.conflicts_shown = True
            conflicts = self.query_one("#conflicts", Vertical)
            await conflicts.mount(
                Static(Text("Values changed by hand", style="bold"), classes="section"),
                *(ConflictChoice(c, self.session.redact) for c in plan.conflicts),
            )
        await self.show_diffs(plan)
        self.say(self.summary(plan))

    def summary(self, plan: Plan) -> str:
        lines = []
        if plan.conflicts:
            lines.append(
                f"{count(len(plan.conflicts), 'value')} in the files changed by hand: choose "
                "keep or overwrite for each."
            )
        lines.extend(self.session.redact(effect) + "." for effect in plan.effects)
        if plan.pending:
            lines.append(f"{count(len(plan.pending), 'file')} will be written.")
        if plan.statements:
            lines.append(f"{count(len(plan.statements), 'SQL statement')} will run.")
        if not (plan.pending or plan.statements or plan.conflicts or plan.effects):
            lines.append("No changes: everything already matches the answers.")
        short = one_line_notes(plan)
        if len(short) <= 3:  # a long list (terraform's resources) goes in the body
            lines.extend(self.session.redact(note) for note in short)
        return "\n".join(lines)

    async def show_diffs(self, plan: Plan) -> None:
        diffs = self.query_one("#diffs", Vertical)
        await diffs.remove_children()
        widgets: list[Static] = []
        short = one_line_notes(plan)
        if len(short) > 3:
            notes = "\n".join(self.session.redact(note) for note in short)
            widgets.append(Static(Text(notes), classes="notes"))
        for note in plan.notes:
            if "\n" not in note:
                continue
            # A note with a body (e.g. a changed job's config.xml diff): its line, then the diff.
            head, _, body = self.session.redact(note).partition("\n")
            widgets.append(Static(Text(head, style="bold"), classes="section"))
            widgets.append(
                Static(Syntax(body, "diff", theme="ansi_dark", word_wrap=True), classes="diff")
            )
        for change in plan.pending:
            widgets.append(Static(Text(change.path, style="bold"), classes="section"))
            diff = change.diff(self.session.redact)
            widgets.append(
                Static(Syntax(diff, "diff", theme="ansi_dark", word_wrap=True), classes="diff")
            )
        target = None
        for statement in plan.statements:  # ``shown`` has every password masked
            if statement.target != target:
                target = statement.target
                widgets.append(Static(Text(f"on {target}", style="bold"), classes="section"))
            widgets.append(Static(Text(self.session.redact(statement.shown)), classes="statement"))
        await diffs.mount_all(widgets)

    # --- carrying it out --------------------------------------------------------------

    @on(Button.Pressed, "#run")
    def action_run(self) -> None:
        if self.busy or self.plan is None:
            self.say("Wait for the preview to finish, or fix what it reports.")
            return
        if self.plan.conflicts:
            keys = ", ".join(c.key for c in self.plan.conflicts)
            self.say(f"Choose keep or overwrite first for: {keys}.", error=True)
            return
        problem = self.step.blocking(self.plan)
        if problem:
            self.say(self.session.redact(problem), error=True)
            return
        question = self.session.redact(self.step.question(self.plan))
        self.app.push_screen(ConfirmDialog(question, yes=self.step.verb), self.confirmed)

    def confirmed(self, yes: bool | None) -> None:
        if yes and self.plan is not None and self.plan.confirm:
            self.app.push_screen(WordDialog(self.plan), self.word_typed)
            return
        if yes and self.plan is not None and not self.busy:
            self.busy = True
            self.say(f"{self.step.verb}…")
            self.show_live()
            self.worker = self.run_apply(self.plan)

    def word_typed(self, word: str | None) -> None:
        if self.plan is None or word is None:
            return
        if not self.session.confirm(self.plan, word):
            self.say(f"{word!r} does not confirm it; nothing was changed.", error=True)
            return
        self.confirmed(True)

    @on(DecisionAsked)
    def decision_asked(self, message: DecisionAsked) -> None:
        self.busy = self.replan = False
        self.worker = None
        self.say(message.message, error=True)
        decision = message.decision

        def answered(yes: bool | None) -> None:
            if yes:
                self.decided[decision.key] = decision.value
                self.start_plan()

        question = f"{message.message}\n\n{self.session.redact(decision.question)}"
        self.app.push_screen(ConfirmDialog(question, yes=decision.yes), answered)

    @on(Applied)
    def applied(self, message: Applied) -> None:
        self.busy = self.replan = False
        self.worker = None
        if self.quitting:
            self.app.exit()
            return
        self.dismiss(message.outcome)

    @on(Failed)
    def failed(self, message: Failed) -> None:
        if self.quitting:
            self.app.exit()  # left running, a later wizard picks it up; or stopped as asked
            return
        if self.worker_done():
            return
        self.plan = None
        self.say(message.reason, error=True)
        if message.changed_since:
            # A file changed on disk while the preview was open: show the new state.
            self.query_one("#preview-body").display = True
            self.query_one("#progress", Log).display = False
            self.start_plan()
            self.say(message.reason, error=True)

    @property
    def running(self) -> bool:
        """A step that can be stopped is being carried out (quitting asks first)."""
        applying = self.step.cancellable and self.plan is not None
        return self.busy and (self.follow or applying)

    def leave_running(self) -> None:
        """Quit, leaving the run going on its own: following stops, then the app exits."""
        self.leaving = self.quitting = True
        self.say("Leaving it running; open the wizard again to follow it.")

    def stop_and_quit(self) -> None:
        """Quit once the run has stopped (gracefully: the step says what it left)."""
        self.quitting = self.stopping = True
        self.say("Stopping, then quitting…")

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        if self.busy:
            if self.step.cancellable and self.worker is not None:
                self.stopping = True  # the step stops gracefully and says what it left
                self.say("Stopping…")
            else:
                self.say("Still working; one moment.")
            return
        self.dismiss(None)


def one_line_notes(plan: Plan) -> list[str]:
    """The plan's notes of one line (a note with a body is shown in the preview's body)."""
    return [note for note in plan.notes if "\n" not in note]


def drained(source: queue.SimpleQueue[Any]) -> list[Any]:
    """Everything in ``source`` now, without waiting."""
    found = []
    while True:
        try:
            found.append(source.get_nowait())
        except queue.Empty:
            return found
