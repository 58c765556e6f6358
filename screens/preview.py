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
from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Log, RadioSet, Static
from textual.worker import Worker, get_current_worker

from wizard.context import RunContext
from wizard.engine import Session
from wizard.errors import ConflictError, NeedsDecision
from wizard.steps import Plan, Step, by_name
from wizard.steps.base import count

from .confirm import ConfirmDialog, WordDialog
from .conflicts import ConflictChoice
from .problems import explained

LOG_LINES = 2000  # the live log keeps this many lines; the run log keeps them all
FRAME = 1 / 30  # seconds between two drains of the progress queue


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
    def __init__(self, reason: str, changed_since: bool = False) -> None:
        super().__init__()
        self.reason, self.changed_since = reason, changed_since


class PreviewScreen(Screen[str | None]):
    """Dismisses with what happened ("wrote 6 files", "no changes"), or None when left."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "run", "Run"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, session: Session, step: Step) -> None:
        super().__init__()
        self.session = session
        self.step = step
        self.decided: dict[str, str] = {}  # host keys trusted, rules revoked, …
        self.plan: Plan | None = None
        self.busy = False
        self.replan = False
        self.conflicts_shown = False
        self.worker: Worker[None] | None = None
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()

    def compose(self) -> ComposeResult:
        yield Header()
        title = by_name(self.step.name).title
        yield Static(Text(f"Preview · {title}", style="bold"), id="preview-heading")
        yield Static(id="preview-status")
        with VerticalScroll(id="preview-body"):
            yield Vertical(id="conflicts")
            yield Vertical(id="diffs")
        yield Log(max_lines=LOG_LINES, id="progress")
        with Horizontal(id="preview-buttons"):
            yield Button(f"{self.step.verb}  ctrl+s", id="run", variant="primary", compact=True)
            yield Button("Back  esc", id="back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#progress", Log).display = False
        self.set_interval(FRAME, self.drain)
        self.start_plan()

    def say(self, message: str, error: bool = False) -> None:
        status = self.query_one("#preview-status", Static)
        status.update(Text(message))
        status.set_class(error, "-error")

    # --- workers (no widget is touched from these threads) ----------------------------

    def context(self) -> RunContext:
        """Progress into the queue; cancelled when the operator stops this worker."""
        worker = get_current_worker()
        return RunContext(on_progress=self.lines.put, is_cancelled=lambda: worker.is_cancelled)

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
            self.post_message(Failed(explained(self.session, exc), changed_since=changed))
        else:
            self.post_message(Applied(self.session.redact(self.step.outcome(plan, outputs))))

    def drain(self) -> None:
        """Move what the worker said since the last frame into the log, in one update."""
        lines = []
        while True:
            try:
                lines.append(self.lines.get_nowait())
            except queue.Empty:
                break
        if lines:
            self.query_one("#progress", Log).write_lines(lines)
            self.say(lines[-1])

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
        self.say("Planning…")
        self.worker = self.run_plan(self.decisions())

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
        if len(plan.notes) <= 3:  # a long list (terraform's resources) goes in the body
            lines.extend(self.session.redact(note) for note in plan.notes)
        return "\n".join(lines)

    async def show_diffs(self, plan: Plan) -> None:
        diffs = self.query_one("#diffs", Vertical)
        await diffs.remove_children()
        widgets: list[Static] = []
        if len(plan.notes) > 3:
            notes = "\n".join(self.session.redact(note) for note in plan.notes)
            widgets.append(Static(Text(notes), classes="notes"))
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
        question = self.session.redact(self.step.question(self.plan))
        self.app.push_screen(ConfirmDialog(question, yes=self.step.verb), self.confirmed)

    def confirmed(self, yes: bool | None) -> None:
        if yes and self.plan is not None and self.plan.confirm:
            self.app.push_screen(WordDialog(self.plan), self.word_typed)
            return
        if yes and self.plan is not None and not self.busy:
            self.busy = True
            self.say(f"{self.step.verb}…")
            self.query_one("#preview-body").display = False
            self.query_one("#progress", Log).display = True
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
        self.dismiss(message.outcome)

    @on(Failed)
    def failed(self, message: Failed) -> None:
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

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        if self.busy:
            if self.step.cancellable and self.worker is not None:
                self.worker.cancel()  # the step stops gracefully and says what it left
                self.say("Stopping…")
            else:
                self.say("Still working; one moment.")
            return
        self.dismiss(None)
