"""Headless mode: the same steps as the TUI, driven by an answers file, with Rich output.

Progress and messages go to stderr; ``--json`` puts one JSON document on stdout.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from . import cli, yamlio
from .answers import AnswersError, flatten
from .engine import DONE, UNAVAILABLE, Session, StepStatus
from .errors import WizardError, explain
from .ledger import LedgerError
from .lock import LockedError
from .redact import MASK
from .steps import STEPS, Plan, StepError
from .steps.base import checks_failure

STATE_STYLE = {
    "done": "green",
    "stale": "yellow",
    "pending": "cyan",
    "failed": "red",
    "unavailable": "dim",
    "skipped": "dim",
    "planned": "cyan",
    "conflict": "yellow",
}


def err_console() -> Console:
    return Console(stderr=True, highlight=False)


def say_error(message: str, fix: str = "") -> None:
    console = err_console()
    console.print(f"[bold red]error:[/] {escape(message)}")
    if fix:
        console.print(f"  [dim]fix:[/] {escape(fix)}")


class UsageError(ValueError):
    """The command line asks for something that cannot be done; nothing was touched."""

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.fix = fix


def guarded(action: Callable[[], int]) -> int:
    """Run ``action``, turning every known failure into one sentence and an exit code."""
    try:
        return action()
    except UsageError as exc:
        say_error(str(exc), exc.fix)
        return cli.EXIT_USAGE
    except AnswersError as exc:
        say_error("the answers cannot be used:")
        for problem in exc.problems:
            err_console().print(f"  - {escape(problem)}")
        return cli.EXIT_USAGE
    except yamlio.YamlFileError as exc:
        say_error(str(exc), "correct the YAML (indentation, quotes) and run again")
        return cli.EXIT_STATE
    except LockedError as exc:
        say_error(str(exc))
        return cli.EXIT_LOCKED
    except LedgerError as exc:
        say_error(str(exc))
        return cli.EXIT_STATE
    except StepError as exc:
        say_error(str(exc))
        return cli.EXIT_FAILED
    except (WizardError, OSError) as exc:
        shown = explain(exc)
        say_error(shown.message, shown.fix)
        return shown.exit_code
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the last line of defence: no traceback reaches the operator
        if cli.debug():
            traceback.print_exc()
        say_error(
            f"internal error ({type(exc).__name__}); this is a bug in analytics-wizard",
            "run again with ANALYTICS_WIZARD_DEBUG=1 for details and report it",
        )
        return cli.EXIT_INTERNAL


def load_answers_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AnswersError([f"{path}: no such file (see 'analytics-wizard answers-template')"])
    try:
        data = yamlio.load_data(path)
    except OSError as exc:
        raise AnswersError([f"{path}: cannot be read ({exc.strerror})"]) from None
    except yamlio.YamlFileError as exc:
        raise AnswersError([str(exc)]) from None
    return flatten(data, str(path), validate=True)


def check_repo_path(repo: Path) -> None:
    if repo.exists() and not repo.is_dir():
        raise UsageError(
            f"the secure repo {repo} is not a directory",
            "give the path of the client's secure repo (a directory, created when missing)",
        )


def check_only(only: Sequence[str] | None) -> None:
    for step in STEPS:
        if only and step.name in only and not step.available:
            raise UsageError(
                f"the {step.name} step is not available in this version yet",
                "leave it out of --only (see 'analytics-wizard status')",
            )


def check_required(session: Session, only: Sequence[str] | None) -> None:
    """Every answer the selected steps need, checked up front: one error names them all."""
    problems: list[str] = []
    for step in STEPS:
        if not step.available or (only and step.name not in only):
            continue
        try:
            session.resolved.require(step.load().INPUTS)
        except AnswersError as exc:
            problems += [p for p in exc.problems if p not in problems]
        except ValueError as exc:  # a derived value that does not fit names its key
            problems.append(str(exc))
    if problems:
        raise AnswersError(problems)


def run(
    repo: Path,
    answers_file: Path,
    *,
    only: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    as_json: bool = False,
    confirm_destroy: bool = False,
) -> int:
    results: list[dict[str, Any]] = []
    console = err_console()

    def body() -> int:
        check_only(only)
        check_repo_path(repo)
        flat = load_answers_file(answers_file)
        with Session.open(repo, write=not dry_run, command="run") as session:
            for fix in session.repaired:
                console.print(f"[yellow]! fixed:[/] {escape(fix)}")
            session.merge_answers(flat, str(answers_file))
            check_required(session, only)
            code = _run_steps(
                session, only, dry_run, force, console, results, confirm_destroy=confirm_destroy
            )
            if session.log.path is not None:
                console.print(f"[dim]log: {session.log.path}[/]")
            return code

    code = guarded(body)
    if as_json:
        doc = {
            "command": "run",
            "dry_run": dry_run,
            "ok": code == cli.EXIT_OK,
            "exit_code": code,
            "steps": results,
            "checks": [check for result in results for check in result.pop("checks", [])],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    return code


def _run_steps(
    session: Session,
    only: Sequence[str] | None,
    dry_run: bool,
    force: bool,
    console: Console,
    results: list[dict[str, Any]],
    confirm_destroy: bool = False,
) -> int:
    # --force overwrites hand-edited files; deleting cloud resources needs its own yes.
    decisions = {"confirm": "destroy"} if confirm_destroy else {}
    selected = [step for step in STEPS if not only or step.name in only]
    for step in selected:
        if not step.available:
            if only:
                raise StepError(f"the {step.name} step is not available in this version yet")
            results.append(_result(step.name, "skipped", "not available in this version yet"))
            console.print(f"[dim]- {step.title}: not available in this version yet[/]")
            continue
        with console.status(f"{step.title}: planning…"):
            try:
                plan = session.plan(step.name, decisions, force=force)
            except StepError as exc:
                session.fail(step.name, str(exc))
                results.append(_result(step.name, "failed", session.redact(str(exc))))
                console.print(f"[red]✘ {step.title}:[/] {escape(session.redact(str(exc)))}")
                return cli.EXIT_FAILED
        for note in plan.notes:
            console.print(f"  [dim]{escape(note)}[/]")
        if plan.checks:
            _print_checks(console, plan)
            problem = checks_failure(plan.checks)
            if problem:
                if not dry_run:
                    session.fail(step.name, problem)
                results.append(_result(step.name, "failed", session.redact(problem), plan=plan))
                console.print(f"[red]✘ {step.title}:[/] {escape(session.redact(problem))}")
                return cli.EXIT_FAILED
        if plan.conflicts:
            _print_conflicts(console, plan, session)
            results.append(
                _result(step.name, "conflict", "hand-edited values need --force", plan=plan)
            )
            return cli.EXIT_CONFLICT
        if plan.confirm and not dry_run:
            reason = "the plan destroys or replaces resources: re-run with --confirm-destroy"
            results.append(_result(step.name, "confirm", reason, plan=plan))
            console.print(f"[yellow]! {step.title}:[/] {escape(reason)}; nothing was changed")
            return cli.EXIT_CONFLICT
        if dry_run:
            _print_diffs(console, plan, session)
            reason = _summary(plan, "would write", "would run") or "no changes"
            results.append(_result(step.name, "planned", reason, plan=plan))
            console.print(f"[cyan]• {step.title}:[/] {reason} (dry run)")
            continue
        plan.progress = lambda line: console.print(f"  {escape(session.redact(line))}")
        with console.status(f"{step.title}: writing…"):
            session.apply(plan)
        reason = _summary(plan, "wrote", "ran") or "no changes"
        results.append(_result(step.name, DONE, reason, plan=plan))
        console.print(f"[green]✔ {step.title}:[/] {reason}")
    return cli.EXIT_OK


def _result(name: str, state: str, reason: str, plan: Plan | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"name": name, "state": state, "reason": reason, "checks": []}
    if plan is not None:
        result["checks"] = [c.to_json() for c in plan.checks]
        result["changes"] = [c.path for c in plan.pending]
        result["conflicts"] = [{"file": c.path, "key": c.key} for c in plan.conflicts]
    return result


def _summary(plan: Plan, wrote: str, ran: str) -> str:
    parts = []
    if plan.pending:
        parts.append(f"{wrote} {len(plan.pending)} file(s)")
    if plan.statements:
        parts.append(f"{ran} {len(plan.statements)} SQL statement(s)")
    return ", ".join(parts)


VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "red"}


def _print_checks(console: Console, plan: Plan) -> None:
    from rich.table import Table

    table = Table(title="Checks", title_justify="left", show_header=True, header_style="bold")
    table.add_column("check")
    table.add_column("verdict")
    table.add_column("finding / fix")
    for c in plan.checks:
        verdict = f"[{VERDICT_STYLE.get(c.verdict, '')}]{c.verdict}[/]"
        if c.overridden:
            verdict += " (overridden)"
        text = escape(c.finding) + (
            f"\n[dim]fix: {escape(c.fix)}[/]" if c.fix and c.verdict != "pass" else ""
        )
        table.add_row(c.id, verdict, text)
    console.print(table)


def _print_diffs(console: Console, plan: Plan, session: Session) -> None:
    from rich.syntax import Syntax  # loads Pygments: only when there is a diff to show

    for change in plan.pending:
        diff = change.diff(session.redact)
        if diff:
            console.print(Syntax(diff, "diff", theme="ansi_dark", word_wrap=True))
    target = None
    for statement in plan.statements:  # passwords are masked in ``shown``; redact anyway
        if statement.target != target:
            target = statement.target
            console.print(f"[bold]-- on {escape(target)}[/]")
        console.print(escape(session.redact(statement.shown)), soft_wrap=True)


def _print_conflicts(console: Console, plan: Plan, session: Session) -> None:
    from rich.table import Table

    table = Table(title="Values changed by hand", title_justify="left")
    table.add_column("file")
    table.add_column("key")
    table.add_column("your value")
    table.add_column("from the answers")
    for c in plan.conflicts:
        mine = MASK if c.secret else session.redact(str(c.current))
        theirs = MASK if c.secret else session.redact(str(c.wizard))
        table.add_row(c.path, c.key, escape(mine), escape(theirs))
    console.print(table)
    console.print(
        "[yellow]These values were edited by hand since the wizard wrote them.[/] Nothing was "
        "written. Keep them by changing the answers to match, or overwrite them with --force."
    )


def status(repo: Path, *, as_json: bool = False) -> int:
    def body() -> int:
        check_repo_path(repo)
        if not (repo / ".wizard").is_dir():
            statuses = Session(repo, write=False).status()
        else:
            statuses = Session.open(repo, write=False).status()
        all_done = all(s.state in (DONE, UNAVAILABLE) for s in statuses)
        if as_json:
            doc = {
                "command": "status",
                "secure_repo": str(repo.expanduser().resolve()),
                "ok": all_done,
                "steps": [s.to_json() for s in statuses],
                "checks": [],
            }
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        else:
            _print_status(statuses)
        return cli.EXIT_OK if all_done else cli.EXIT_FAILED

    return guarded(body)


def _print_status(statuses: list[StepStatus]) -> None:
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    table.add_column("step")
    table.add_column("state")
    table.add_column("why")
    for s in statuses:
        style = STATE_STYLE.get(s.state, "")
        table.add_row(s.name, f"[{style}]{s.state}[/]", escape(s.reason))
    Console(highlight=False).print(table)
