"""Headless mode: the same steps as the TUI, driven by an answers file, with Rich output.

Progress and messages go to stderr; ``--json`` puts one JSON document on stdout.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from . import exit_codes, quickstatus, yamlio
from .answers import AnswersError, flatten
from .backends import REAL, Backends
from .context import RunContext
from .engine import Session
from .errors import ConflictError, UsageError, WizardError, explain
from .fields import BY_KEY
from .redact import MASK
from .states import DONE
from .steps import STEPS, Plan
from .steps.base import OVERRIDE

if TYPE_CHECKING:
    from .ssh import HostKeyUnknown


def err_console() -> Console:
    return Console(stderr=True, highlight=False)


def say_error(message: str, fix: str = "") -> None:
    console = err_console()
    console.print(f"[bold red]error:[/] {escape(message)}")
    if fix:
        console.print(f"  [dim]fix:[/] {escape(fix)}")


def report(exc: BaseException, redact: Callable[[str], str] = str) -> int:
    """Say what went wrong (one sentence and the fix, secrets masked); the exit code."""
    if isinstance(exc, AnswersError):
        say_error("the answers cannot be used:")
        for problem in exc.problems:
            err_console().print(f"  - {escape(redact(problem))}")
        return exc.exit_code
    if isinstance(exc, yamlio.YamlFileError):
        say_error(redact(str(exc)), "correct the YAML (indentation, quotes) and run again")
        return exit_codes.STATE
    explained = explain(exc, redact)
    if explained.bug and debug():
        traceback.print_exception(exc)
    say_error(explained.message, explained.fix)
    return explained.exit_code


def guarded(action: Callable[[], int], redact: Callable[[str], str] = str) -> int:
    """Run ``action``, turning every failure into one sentence and an exit code."""
    try:
        return action()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the last line of defence: no traceback reaches the operator
        return report(exc, redact)


def debug() -> bool:
    return os.environ.get("ANALYTICS_WIZARD_DEBUG") == "1"


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


def check_required(session: Session, only: Sequence[str] | None) -> None:
    """Every answer the selected steps need, checked up front: one error names them all."""
    problems: list[str] = []
    earlier: set[str] = set()  # steps this run does first: what they output is not asked for
    for step in STEPS:
        if only and step.name not in only:
            continue
        inputs = [key for key in step.load().inputs if BY_KEY[key].produced_by not in earlier]
        earlier.add(step.name)
        try:
            session.resolved.require(inputs)
        except AnswersError as exc:
            problems += [p for p in exc.problems if p not in problems]
        except ValueError as exc:  # a derived value that does not fit names its key
            problems.append(str(exc))
    if problems:
        raise AnswersError(problems)


ACCEPT_HINT = (
    "fix each failing check as it says and run again; a check you have dealt with another way "
    "can be accepted with --accept CHECK_ID (recorded as an override)"
)


def overridable_checks() -> tuple[str, ...]:
    """The ids of the checks --accept may name (those of steps whose failures can be
    overridden: the prerequisites)."""
    return tuple(cid for info in STEPS if (step := info.load()).overridable for cid in step.checks)


def operator_decisions(
    accept: Sequence[str], trust_host_keys: Sequence[str], only: Sequence[str] | None
) -> dict[str, str]:
    """The decisions --accept and --trust-host-key make; an unknown check id is a usage error."""
    if not accept and not trust_host_keys:
        return {}
    from . import ssh  # paramiko is not loaded: only the names of decisions

    ids = overridable_checks()
    unknown = [cid for cid in accept if cid not in ids]
    if unknown:
        raise UsageError(
            f"--accept {', '.join(unknown)}: not a check that can be accepted",
            f"name one of the prerequisite checks: {', '.join(ids)}",
        )
    decisions = {OVERRIDE + cid: "yes" for cid in accept}
    decisions.update(ssh.trusted_host_keys(trust_host_keys))
    return decisions


def unused_decisions(
    accept: Sequence[str],
    trust_host_keys: Sequence[str],
    results: Sequence[Mapping[str, Any]],
    presented: Sequence[HostKeyUnknown],
) -> list[str]:
    """What to tell about an --accept or --trust-host-key that changed nothing in this run.

    A warning, not an error: the same command line is run again once the key is recorded in
    known_hosts or the check is fixed, and must not start failing for that."""
    from . import ssh

    found: list[str] = []
    checks = {c["id"]: c for r in results for c in r.get("checks", []) if "id" in c}
    for cid in dict.fromkeys(accept):
        check = checks.get(cid)
        if check is None:
            found.append(f"--accept {cid}: the check did not run in this run; nothing accepted")
        elif not check.get("overridden"):
            found.append(
                f"--accept {cid}: the check did not fail ({check.get('verdict')}); nothing was "
                "overridden"
            )
    asked = {unknown.fingerprint for unknown in presented}
    for fingerprint in dict.fromkeys(trust_host_keys):
        if fingerprint in asked:
            continue
        others = "; ".join(
            f"{ssh.host_label(u.host, u.port)} presented {u.fingerprint}"
            for u in {u.fingerprint: u for u in presented}.values()
        )
        found.append(
            f"{ssh.TRUST_OPTION} {fingerprint}: no SSH host presented this key as unknown in this "
            "run (a key already in known_hosts needs no trust); nothing was trusted with it"
            + (f" — {others}" if others else "")
        )
    return found


def run(
    repo: Path,
    answers_file: Path,
    *,
    only: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    as_json: bool = False,
    confirm_destroy: bool = False,
    start_at_task: str | None = None,
    adopt_untracked: bool = False,
    accept: Sequence[str] = (),
    trust_host_keys: Sequence[str] = (),
    backends: Backends = REAL,
) -> int:
    results: list[dict[str, Any]] = []
    warnings: list[str] = []
    console = err_console()
    redact: Callable[[str], str] = str

    def body() -> int:
        nonlocal redact
        given = operator_decisions(accept, trust_host_keys, only)
        check_repo_path(repo)
        flat = load_answers_file(answers_file)
        with Session.open(repo, write=not dry_run, command="run", backends=backends) as session:
            redact = session.redact
            for fix in session.repaired:
                console.print(f"[yellow]! fixed:[/] {escape(fix)}")
            session.merge_answers(flat, str(answers_file))
            check_required(session, only)
            from . import ssh

            with ssh.unknown_keys_presented() as presented:
                try:
                    code = _run_steps(
                        session,
                        only,
                        dry_run,
                        force,
                        console,
                        results,
                        confirm_destroy=confirm_destroy,
                        start_at_task=start_at_task,
                        given=given,
                        actions=["adopt_untracked"] if adopt_untracked and not dry_run else [],
                    )
                finally:
                    warnings.extend(unused_decisions(accept, trust_host_keys, results, presented))
                    for warning in warnings:
                        console.print(f"[yellow]! warning:[/] {escape(warning)}")
            if session.log.path is not None:
                console.print(f"[dim]log: {session.log.path}[/]")
            return code

    code = guarded(body, lambda text: redact(text))
    if as_json:
        doc = {
            "command": "run",
            "dry_run": dry_run,
            "ok": code == exit_codes.OK,
            "exit_code": code,
            "steps": results,
            "checks": [check for result in results for check in result.pop("checks", [])],
            "warnings": warnings,
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
    start_at_task: str | None = None,
    actions: Sequence[str] = (),
    given: Mapping[str, str] | None = None,
) -> int:
    # --force overwrites hand-edited files; deleting cloud resources needs its own yes.
    decisions = {"confirm": "destroy"} if confirm_destroy else {}
    if start_at_task:
        decisions["start-at-task"] = start_at_task
    decisions.update(given or {})  # --accept, --trust-host-key
    selected = [step for step in STEPS if not only or step.name in only]
    for info in selected:
        step = info.load()
        title = info.title
        ctx = RunContext(on_progress=lambda line: console.print(f"  {escape(line)}"))
        if info.name in session.running() and not dry_run:
            # A run a killed wizard (or a dropped connection) left: wait for it, never start
            # a second one; a run that ended meanwhile is recorded now.
            console.print(f"[cyan]• {title}:[/] a run is going (or ended unrecorded): following it")
            with interruptible(step.cancellable) as stop:
                try:
                    session.resume(info.name, ctx.with_cancel(stop))
                except Exception as exc:
                    return _failed(session, console, results, info.name, title, exc)
        for action in step.actions:
            if action.name in actions:  # what the operator asked for, before planning
                try:
                    lines = step.run_action(action.name, session, decisions)
                except WizardError as exc:
                    return _failed(session, console, results, info.name, title, exc)
                for line in lines:
                    console.print(f"  {escape(session.redact(line))}")
        with console.status(f"{title}: planning…"), interruptible(step.cancellable) as stop:
            try:
                plan = session.plan(info.name, decisions, force, ctx.with_cancel(stop))
            except WizardError as exc:
                if not dry_run:
                    session.fail(info.name, str(explain(exc, session.redact)))
                return _failed(session, console, results, info.name, title, exc)
        for effect in plan.effects:
            console.print(f"  {escape(session.redact(effect))}")
        for note in plan.notes:
            console.print(f"  [dim]{escape(session.redact(note))}[/]")
        if plan.checks:
            _print_checks(console, plan)
        problem = step.blocking(plan)
        if problem:
            if not dry_run:
                session.fail(info.name, problem, checks=plan.checks)
            results.append(_result(info.name, "failed", session.redact(problem), plan=plan))
            console.print(f"[red]✘ {title}:[/] {escape(session.redact(problem))}")
            if step.overridable:
                console.print(f"  [dim]fix:[/] {escape(ACCEPT_HINT)}")
            return exit_codes.FAILED
        if plan.conflicts:
            _print_conflicts(console, plan, session)
            results.append(
                _result(info.name, "conflict", "hand-edited values need --force", plan=plan)
            )
            return exit_codes.CONFLICT
        if plan.confirm and not dry_run:
            reason = "the plan destroys or replaces resources: re-run with --confirm-destroy"
            results.append(_result(info.name, "confirm", reason, plan=plan))
            console.print(f"[yellow]! {title}:[/] {escape(reason)}; nothing was changed")
            return exit_codes.CONFLICT
        if dry_run:
            _print_diffs(console, plan, session)
            reason = _summary(plan, "would write", "would run")
            reason = reason or session.redact("; ".join(plan.effects)) or "no changes"
            results.append(_result(info.name, "planned", reason, plan=plan))
            console.print(f"[cyan]• {title}:[/] {reason} (dry run)")
            continue
        with (
            console.status(f"{title}: {step.verb.lower()}…"),
            interruptible(step.cancellable) as stop,
        ):
            try:
                outputs = session.apply(plan, ctx.with_cancel(stop))
            except Exception as exc:  # every failure is a result in --json, bugs included
                return _failed(session, console, results, info.name, title, exc, plan)
        reason = session.redact(step.outcome(plan, outputs))
        results.append(_result(info.name, DONE, reason, plan=plan))
        details = step.details(outputs)
        if details:
            results[-1]["details"] = _masked(details, session.redact)
        console.print(f"[green]✔ {title}:[/] {escape(reason)}")
    return exit_codes.OK


def _failed(
    session: Session,
    console: Console,
    results: list[dict[str, Any]],
    name: str,
    title: str,
    exc: Exception,
    plan: Plan | None = None,
) -> int:
    """A step stopped: its result (masked) for --json, one line for the console; the code."""
    explained = explain(exc, session.redact)
    if explained.bug:
        session.log.write("".join(traceback.format_exception(exc)))
        if debug():
            traceback.print_exception(exc)
    state = "conflict" if isinstance(exc, ConflictError) else "failed"
    results.append(_result(name, state, str(explained), plan=plan))
    details = getattr(exc, "details", None)  # e.g. a failed playbook's summary and failure
    if isinstance(details, dict):
        results[-1]["details"] = _masked(details, session.redact)
    console.print(f"[red]✘ {title}:[/] {escape(explained.message)}")
    if explained.fix:
        console.print(f"  [dim]fix:[/] {escape(explained.fix)}")
    return explained.exit_code


@contextmanager
def interruptible(enabled: bool) -> Iterator[Callable[[], bool]]:
    """While a step that can stop gracefully runs, the first ctrl+c asks it to stop (it says
    what it left); a second one interrupts at once. Yields whether a stop was asked."""
    asked = False

    def stop() -> bool:
        return asked

    main = threading.current_thread() is threading.main_thread()
    if not (enabled and main) or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield stop
        return

    def handler(signum: int, frame: object) -> None:
        nonlocal asked
        if asked:
            raise KeyboardInterrupt
        asked = True
        err_console().print("[yellow]stopping… (ctrl+c again to stop at once)[/]")

    signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _result(name: str, state: str, reason: str, plan: Plan | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"name": name, "state": state, "reason": reason, "checks": []}
    if plan is not None:
        result["checks"] = [c.to_json() for c in plan.checks]
        result["changes"] = [c.path for c in plan.pending]
        result["conflicts"] = [{"file": c.path, "key": c.key} for c in plan.conflicts]
    return result


def _masked(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` (JSON data) with every secret masked in its strings."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _masked(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v, redact) for v in value]
    return value


def _summary(plan: Plan, wrote: str, ran: str) -> str:
    parts = []
    if plan.pending:
        parts.append(f"{wrote} {len(plan.pending)} file(s)")
    if plan.statements:
        parts.append(f"{ran} {len(plan.statements)} SQL statement(s)")
    parts += plan.effects  # e.g. "Jenkins 2.426.3: create 6 jobs"
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


def status(repo: Path, *, as_json: bool = False, verify: bool = False) -> int:
    def body() -> int:
        check_repo_path(repo)
        # Plain status records its answer with what it read (wizard.quickstatus).
        with quickstatus.recording(repo, keep=not verify) as reads:
            if not (repo / ".wizard").is_dir():
                session = Session(repo, write=False)
            else:
                session = Session.open(repo, write=False)
            statuses = session.status(verify)
            if session.running():  # its state hangs on processes, not only on files
                reads.keep = False
            # The checks steps recorded (the prerequisites'), as they were when recorded.
            checks = [
                check
                for record in session.ledger.steps.values()
                for check in record.outputs.get("checks") or []
            ]
        all_done = all(s.state == DONE for s in statuses)
        steps = [s.to_json() for s in statuses]
        result = {"ok": all_done, "steps": steps, "checks": checks}
        reads.result = result
        if as_json:
            sys.stdout.write(quickstatus.json_document(reads.repo, result))
        else:
            reads.text = quickstatus.render(steps)
            sys.stdout.write(reads.text)
        reads.save()
        return exit_codes.OK if all_done else exit_codes.FAILED

    return guarded(body)
