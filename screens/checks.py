"""A step whose plan is a list of checks (the prerequisites), live: a row per check filling in as
each finishes, its finding and fix under the table, rerun one or all, override a failure (when
the step allows it), and continue when nothing blocks.

The checks run in a thread worker; each result arrives as a message (the worker never touches a
widget).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from wizard import overrides
from wizard.context import Event, RunContext
from wizard.engine import Session
from wizard.steps import Check, Plan, Step, by_name
from wizard.steps.base import OVERRIDE

from .confirm import ConfirmDialog
from .problems import explained

VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


class CheckDone(Message):
    def __init__(self, check: Check) -> None:
        super().__init__()
        self.check = check


class ChecksDone(Message):
    def __init__(self, plan: Plan | None, error: str = "") -> None:
        super().__init__()
        self.plan, self.error = plan, error


class Recorded(Message):
    def __init__(self, error: str = "") -> None:
        super().__init__()
        self.error = error


class ChecksScreen(Screen[str | None]):
    """Dismisses with what happened ("all checks recorded"), or None when left."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rerun_one", "Rerun check"),
        Binding("ctrl+r", "rerun_all", "Rerun all"),
        Binding("o", "override", "Override"),
        Binding("ctrl+s", "record", "Continue"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, session: Session, step: Step) -> None:
        super().__init__()
        self.session = session
        self.step = step
        self.plan: Plan | None = None
        self.results: dict[str, Check] = {}
        # Overrides decided earlier stand while the answers their checks read are unchanged.
        self.decisions: dict[str, str] = overrides.standing(session, step)
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        title = by_name(self.step.name).title
        yield Static(Text(f"{title} · checks", style="bold"), id="checks-heading")
        table: DataTable[Text] = DataTable(id="checks", cursor_type="row", zebra_stripes=True)
        table.add_column("check", key="check")
        table.add_column("verdict", key="verdict")
        table.add_column("finding", key="finding")
        for cid in self.step.checks:
            table.add_row(Text(cid), Text("…", style="dim"), Text("checking…"), key=cid)
        yield table
        yield Static(id="check-detail", markup=False)
        yield Static(id="checks-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.busy = True  # until the first run is over: no second run, no leaving mid-way
        self.run_all()

    # --- workers ------------------------------------------------------------------------

    def context(self) -> RunContext:
        """Each check's result is posted as it arrives (a handful: one message each)."""

        def arrived(event: Event) -> None:
            if event.kind == "check":
                self.post_message(CheckDone(event.data["check"]))

        return RunContext(on_event=arrived)

    @work(thread=True, exit_on_error=False, group="checks")
    def run_all(self) -> None:
        try:
            plan = self.session.plan(self.step.name, dict(self.decisions), False, self.context())
        except Exception as exc:
            self.post_message(ChecksDone(None, explained(self.session, exc)))
        else:
            self.post_message(ChecksDone(plan))

    @work(thread=True, exit_on_error=False, group="checks")
    def run_one(self, plan: Plan, cid: str) -> None:
        try:
            check = self.session.recheck(plan, cid, dict(self.decisions))
        except Exception as exc:
            self.post_message(ChecksDone(None, explained(self.session, exc)))
        else:
            self.post_message(CheckDone(check))
            self.post_message(ChecksDone(plan))

    @work(thread=True, exit_on_error=False, group="checks")
    def run_record(self, plan: Plan) -> None:
        try:
            self.session.apply(plan)
        except Exception as exc:
            self.post_message(Recorded(explained(self.session, exc)))
        else:
            self.post_message(Recorded())

    # --- results ------------------------------------------------------------------------

    def say(self, message: str) -> None:
        self.query_one("#checks-status", Static).update(message)

    @on(CheckDone)
    def check_done(self, message: CheckDone) -> None:
        check = message.check
        self.results[check.id] = check
        verdict = check.verdict + (" (overridden)" if check.overridden else "")
        table = self.query_one(DataTable)
        style = VERDICT_STYLE[check.verdict]
        table.update_cell(check.id, "verdict", Text(verdict, style=style), update_width=True)
        finding = Text(self.session.redact(check.finding))
        table.update_cell(check.id, "finding", finding, update_width=True)
        self.show_detail()

    @on(ChecksDone)
    def checks_done(self, message: ChecksDone) -> None:
        self.busy = False
        if message.plan is None:
            self.say(message.error)
            return
        self.plan = message.plan
        blocking = self.step.blocking(self.plan)
        warned = sum(c.verdict == "warn" for c in self.plan.checks)
        if blocking:
            override = (
                ", or override one you have dealt with another way (o)"
                if self.step.overridable
                else ""
            )
            self.say(f"Failing checks block continuing: fix them and rerun (r / ctrl+r){override}.")
        else:
            failing = sum(c.verdict == "fail" for c in self.plan.checks)
            note = f" ({warned} warning(s))" if warned else ""
            verb = self.step.verb.lower()
            if failing:
                self.say(
                    f"{failing} failing: fix them and rerun (r / ctrl+r); ctrl+s to {verb} "
                    "anyway (the step stays failed until they pass)."
                )
            else:
                self.say(f"Nothing blocks{note}: ctrl+s to {verb}.")

    @on(DataTable.RowHighlighted)
    def show_detail(self) -> None:
        cid = self.selected()
        check = self.results.get(cid) if cid else None
        detail = self.query_one("#check-detail", Static)
        if check is None:
            detail.update(f"{cid}: still checking…" if cid else "")
            return
        text = f"{check.id}: {check.finding}"
        if check.fix:
            text += f"\nfix: {check.fix}"
        detail.update(self.session.redact(text))

    def selected(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    # --- actions ------------------------------------------------------------------------

    def action_rerun_all(self) -> None:
        if self.busy:
            return
        self.busy = True
        self.say("Checking…")
        self.run_all()

    def action_rerun_one(self) -> None:
        cid = self.selected()
        if self.busy or self.plan is None or cid is None:
            return
        self.busy = True
        self.say(f"Checking {cid} again…")
        self.run_one(self.plan, cid)

    def action_override(self) -> None:
        cid = self.selected()
        check = self.results.get(cid) if cid else None
        if not self.step.overridable:
            self.say("These checks cannot be overridden: fix what they report.")
            return
        if self.busy or self.plan is None or check is None or check.verdict != "fail":
            self.say("Only a failing check can be overridden.")
            return
        question = (
            f"Go on although {check.id} fails?\n\n{check.finding}\n\nThe override is recorded "
            "in the ledger."
        )

        def answered(yes: bool | None) -> None:
            if yes and self.plan is not None:
                self.decisions[OVERRIDE + check.id] = "yes"
                overrides.remember(self.session, self.step, check.id)
                self.busy = True
                self.run_one(self.plan, check.id)

        self.app.push_screen(ConfirmDialog(self.session.redact(question), yes="Override"), answered)

    def action_record(self) -> None:
        if self.busy or self.plan is None:
            return
        problem = self.step.blocking(self.plan)
        if problem:
            self.say(self.session.redact(problem))
            return
        self.busy = True
        self.run_record(self.plan)

    @on(Recorded)
    def recorded(self, message: Recorded) -> None:
        self.busy = False
        if message.error:
            self.say(message.error)
            return
        assert self.plan is not None
        self.dismiss(self.step.outcome(self.plan, self.plan.outputs))

    def action_back(self) -> None:
        if self.busy:
            self.say("Still checking; one moment.")
            return
        self.dismiss(None)
