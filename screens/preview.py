"""A step's preview: each file's diff and each SQL statement (secrets masked), hand-edited
values, then carrying it out with live progress.

Planning and writing run in thread workers that only post messages; the handlers here own every
widget change. One worker at a time: a decision made while planning asks for one more plan.
"""

from __future__ import annotations

import traceback
from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, RadioSet, Static

from wizard.engine import Session
from wizard.steps import Plan, StepError, by_name

from .confirm import ConfirmDialog, WordDialog
from .conflicts import ConflictChoice


class Planned(Message):
    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan


class Written(Message):
    def __init__(self, outcome: str) -> None:
        super().__init__()
        self.outcome = outcome


class Progress(Message):
    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class HostKeyAsked(Message):
    def __init__(self, question: str, fingerprint: str) -> None:
        super().__init__()
        self.question, self.fingerprint = question, fingerprint


class Failed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# Terraform outputs worth showing once the stack is applied (the rest is in the ledger).
SHOWN_OUTPUTS = (
    "rds_host_name",
    "elasticsearch_learners_host",
    "analytics_instance_public_ips",
    "insights_host",
)


def outcome(plan: Plan, outputs: dict[str, object] | None = None) -> str:
    """What carrying out ``plan`` did, in a few words."""
    parts = []
    if plan.step == "terraform":
        shown = [f"{k} = {outputs[k]}" for k in SHOWN_OUTPUTS if outputs and outputs.get(k)]
        return "applied" + ("; " + "; ".join(shown) if shown else "")
    if plan.pending:
        parts.append(f"wrote {count(len(plan.pending), 'file')}")
    if plan.statements:
        parts.append(f"ran {count(len(plan.statements), 'SQL statement')} and verified the grants")
    return ", ".join(parts) or "no changes"


class PreviewScreen(Screen[str | None]):
    """Dismisses with what happened ("wrote 6 files", "no changes"), or None when left."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "write", "Write"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, session: Session, step: str = "files") -> None:
        super().__init__()
        self.session = session
        self.step = step
        self.trusted: dict[str, str] = {}  # an SSH host key the operator accepted
        self.plan: Plan | None = None
        self.busy = False
        self.replan = False
        self.conflicts_shown = False

    def compose(self) -> ComposeResult:
        yield Header()
        title = by_name(self.step).title
        yield Static(Text(f"Preview · {title}", style="bold"), id="preview-heading")
        yield Static(id="preview-status")
        with VerticalScroll(id="preview-body"):
            yield Vertical(id="conflicts")
            yield Vertical(id="diffs")
            yield Static(id="progress", markup=False)
        with Horizontal(id="preview-buttons"):
            label = "Write  ctrl+s" if self.step == "files" else "Run  ctrl+s"
            yield Button(label, id="write", variant="primary", compact=True)
            yield Button("Back  esc", id="back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.start_plan()

    def say(self, message: str, error: bool = False) -> None:
        status = self.query_one("#preview-status", Static)
        status.update(Text(message))
        status.set_class(error, "-error")

    # --- workers (no widget is touched from these threads) ----------------------------

    def explain(self, exc: Exception) -> str:
        if isinstance(exc, StepError | ValueError | OSError):
            return self.session.redact(str(exc))
        self.session.log.write(traceback.format_exc())
        return (
            f"internal error ({type(exc).__name__}); this is a bug in analytics-wizard — "
            "the details are in .wizard/logs/"
        )

    @work(thread=True, exit_on_error=False, group="preview")
    def run_plan(self, decisions: dict[str, str]) -> None:
        from wizard import ssh

        try:
            plan = self.session.plan(self.step, decisions)
        except ssh.HostKeyUnknown as exc:
            self.post_message(HostKeyAsked(self.session.redact(str(exc)), exc.fingerprint))
        except Exception as exc:
            self.post_message(Failed(self.explain(exc)))
        else:
            self.post_message(Planned(plan))

    @work(thread=True, exit_on_error=False, group="preview")
    def run_apply(self, plan: Plan) -> None:
        # Each statement's line (masked by the step) arrives while it runs.
        def progress(line: str) -> None:
            self.post_message(Progress(self.session.redact(line)))

        plan.progress = progress
        try:
            outputs = self.session.apply(plan)
        except Exception as exc:
            self.post_message(Failed(self.explain(exc)))
        else:
            self.post_message(Written(self.session.redact(outcome(plan, outputs))))

    # --- planning ---------------------------------------------------------------------

    def decisions(self) -> dict[str, str]:
        chosen = {
            choice.conflict.id: choice.decision
            for choice in self.query(ConflictChoice)
            if choice.decision is not None
        }
        return {**self.trusted, **chosen}

    def start_plan(self) -> None:
        if self.busy:
            self.replan = True
            return
        self.busy = True
        self.plan = None
        self.say("Planning…")
        self.run_plan(self.decisions())

    @on(RadioSet.Changed)
    def decided(self) -> None:
        self.start_plan()

    def worker_done(self) -> bool:
        """True when a decision changed meanwhile and another plan was started for it."""
        self.busy = False
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
        if plan.pending:
            lines.append(f"{count(len(plan.pending), 'file')} will be written.")
        if plan.statements:
            lines.append(f"{count(len(plan.statements), 'SQL statement')} will run.")
        if not (plan.pending or plan.statements or plan.conflicts):
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

    # --- writing ----------------------------------------------------------------------

    @on(Button.Pressed, "#write")
    def action_write(self) -> None:
        if self.busy or self.plan is None:
            self.say("Wait for the preview to finish, or fix what it reports.")
            return
        if self.plan.conflicts:
            keys = ", ".join(c.key for c in self.plan.conflicts)
            self.say(f"Choose keep or overwrite first for: {keys}.", error=True)
            return
        pending, statements = len(self.plan.pending), len(self.plan.statements)
        title = by_name(self.step).title
        if statements:
            targets = ", ".join(dict.fromkeys(s.target for s in self.plan.statements))
            question = f"Run {count(statements, 'SQL statement')} on {targets}?"
        elif pending:
            question = (
                f"Write {count(pending, 'file')} in the secure repo {self.session.repo.name}?"
            )
        else:
            question = f"Everything already matches. Record the {title} step as done?"
        yes = "Write" if self.step == "files" else "Run"
        self.app.push_screen(ConfirmDialog(question, yes=yes), self.confirmed)

    def confirmed(self, yes: bool | None) -> None:
        if yes and self.plan is not None and self.plan.confirm:
            self.app.push_screen(WordDialog(self.plan), self.word_typed)
            return
        if yes and self.plan is not None and not self.busy:
            self.busy = True
            self.say("Working…")
            self.run_apply(self.plan)

    def word_typed(self, word: str | None) -> None:
        from wizard.steps import terraform

        if self.plan is None or word is None:
            return
        if not terraform.confirm(self.plan, word):
            self.say(f"{word!r} does not confirm it; nothing was changed.", error=True)
            return
        self.confirmed(True)

    @on(Progress)
    def progressed(self, message: Progress) -> None:
        self.say(message.line)
        shown = self.query_one("#progress", Static)
        shown.update(f"{shown.content}\n{message.line}".strip("\n"))

    @on(HostKeyAsked)
    def host_key_asked(self, message: HostKeyAsked) -> None:
        self.busy = self.replan = False
        self.say(message.question, error=True)
        question = f"{message.question}\n\nTrust this host key ({message.fingerprint})?"

        def answered(yes: bool | None) -> None:
            if yes:
                from wizard.steps.database import HOST_KEY

                self.trusted[HOST_KEY] = message.fingerprint
                self.start_plan()

        self.app.push_screen(ConfirmDialog(question, yes="Trust"), answered)

    @on(Written)
    def written(self, message: Written) -> None:
        self.busy = self.replan = False
        self.dismiss(message.outcome)

    @on(Failed)
    def failed(self, message: Failed) -> None:
        if self.worker_done():
            return
        self.plan = None
        self.say(message.reason, error=True)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        if self.busy:
            if self.step == "terraform":
                from wizard.steps import terraform

                terraform.cancel()  # SIGINT, then terraform releases its state lock
                self.say("Stopping terraform…")
            else:
                self.say("Still working; one moment.")
            return
        self.dismiss(None)
