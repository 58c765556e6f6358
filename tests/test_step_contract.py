"""The step contract: what every step declares, the run context, and the defects a review found
where the screens and headless mode used to decide things per step.

Each defect test failed before the contract existed.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, complete_answers, run_cli
from snapshot_apps.repos import drive, fixed_answers, make_repo, settle
from textual.pilot import Pilot

from screens.checks import ChecksScreen
from screens.main import MainScreen
from screens.preview import LOG_LINES, PreviewScreen
from wizard import yamlio
from wizard.answers import flatten
from wizard.context import RunContext
from wizard.engine import Session
from wizard.errors import ConflictError, WizardError
from wizard.states import FAILED
from wizard.steps import STEPS, Step
from wizard.steps.base import CHECKS, PREVIEW

VARS = "vars-analytics.yml"


# --- the declaration ------------------------------------------------------------------------


def test_every_step_declares_the_contract() -> None:
    for info in STEPS:
        step = info.load()
        assert isinstance(step, Step) and step.name == info.name
        assert step.inputs and step.verb and step.preview_label
        assert step.view in (PREVIEW, CHECKS)
        assert len({a.key for a in step.actions}) == len(step.actions)
        if step.view == CHECKS:
            assert step.checks, f"{step.name} shows checks but declares none"


def test_the_screens_name_no_step() -> None:
    """Adding a step touches no screen: no screen module names one or imports a step module."""
    names = [info.name for info in STEPS]
    for module in (ROOT / "screens").glob("*.py"):
        text = module.read_text()
        assert "wizard.steps." not in text.replace("wizard.steps.base", ""), module.name
        for name in names:
            assert f'"{name}"' not in text and f"'{name}'" not in text, (module.name, name)


def test_importing_the_core_loads_no_ui_and_the_layers_hold() -> None:
    """The import-linter contracts of pyproject.toml (also run by ``make test``)."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# --- defects --------------------------------------------------------------------------------


def test_a_step_failing_during_apply_is_in_the_json_results(repo: Path, write_answers: Any) -> None:
    """An immutable file (chattr +i: even root cannot replace it) fails the files step while it
    writes, after planning went fine."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr to make a file that cannot be replaced")
    make_repo(repo, fixed_answers(), files_done=True)
    target = repo / "analytics-tasks" / "emr-vars.yml"
    answers = write_answers(fixed_answers(aws__region="eu-west-1"))  # emr-vars.yml changes
    subprocess.run(["chattr", "+i", str(target)], check=True)
    try:
        result = run_cli("run", "--answers", answers, repo, "--only", "files", "--json")
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=True)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    (files,) = doc["steps"]
    assert files["name"] == "files" and files["state"] == "failed"
    assert "emr-vars.yml" in files["reason"]


def test_a_file_edited_while_the_preview_was_open_is_not_overwritten(repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    with Session.open(repo, command="test") as session:
        session.merge_answers({"edxapp.contact_email": "team@acme.test"}, "test")
        plan = session.plan("files")
        assert plan.pending
        edited = (repo / VARS).read_text() + "# the operator's note, typed meanwhile\n"
        (repo / VARS).write_text(edited)
        with pytest.raises(ConflictError, match=f"{VARS} changed on disk since the preview"):
            session.apply(plan)
        assert session.ledger.steps["files"].status != FAILED  # nothing was done
    assert (repo / VARS).read_text() == edited


def test_the_tui_shows_a_file_changed_since_the_preview_and_plans_again(repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    with Session.open(repo, command="test") as session:
        session.merge_answers({"edxapp.contact_email": "team@acme.test"}, "test")
    seen: dict[str, str] = {}

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(pilot.app.screen, PreviewScreen)
        edited = (repo / VARS).read_text() + "# typed while the preview was open\n"
        (repo / VARS).write_text(edited)
        await pilot.press("ctrl+s", "y")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, PreviewScreen)
        seen["status"] = str(screen.query_one("#preview-status").render())
        seen["file"] = (repo / VARS).read_text()

    drive(repo, scenario, size=(100, 30))
    assert seen["file"].endswith("# typed while the preview was open\n")
    assert "team@acme.test" not in seen["file"]


def test_a_git_failure_after_the_work_is_one_sentence_and_the_step_is_not_done(
    repo: Path, write_answers: Any
) -> None:
    answers = write_answers(complete_answers())
    assert run_cli("status", repo).returncode == 1  # creates nothing
    make_repo(repo)
    (repo / ".git" / "index.lock").write_text("held by another git\n")  # a live lock
    result = run_cli("run", "--answers", answers, repo, "--only", "files")
    assert result.returncode == 1, result.stderr
    said = " ".join(result.stderr.split())
    assert "git could not commit" in said and "internal error" not in said
    assert "Traceback" not in result.stderr
    ledger = yamlio.load(repo / ".wizard" / "state.yml")
    assert ledger["steps"]["files"]["status"] == "failed"
    assert "git could not commit" in ledger["steps"]["files"]["reason"]


class SlowLMS(http.server.BaseHTTPRequestHandler):
    """An LMS whose /oauth2/ answers only when the test says so: the checks' first run is
    still going while the test presses keys."""

    requests: list[float] = []  # noqa: RUF012
    release = threading.Event()

    def do_GET(self) -> None:
        self.requests.append(time.monotonic())
        self.release.wait(timeout=60)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_lms() -> Iterator[tuple[str, type[SlowLMS]]]:
    handler = type("Handler", (SlowLMS,), {"requests": [], "release": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    handler.release.set()
    server.shutdown()
    server.server_close()


def test_the_first_run_of_the_checks_is_busy_no_second_run_and_no_leaving(
    repo: Path, slow_lms: tuple[str, type[SlowLMS]]
) -> None:
    url, lms = slow_lms
    make_repo(repo, fixed_answers(edxapp__lms_url=url))
    seen: dict[str, Any] = {}

    async def scenario(pilot: Pilot[None]) -> None:
        session = pilot.app.session
        await pilot.app.push_screen(ChecksScreen(session, session.step("prereqs")))
        await pilot.pause()
        await pilot.press("ctrl+r", "escape")  # while the first run is going
        await pilot.pause()
        seen["screen"] = pilot.app.screen
        lms.release.set()
        await settle(pilot)
        seen["requests"] = len(lms.requests)

    drive(repo, scenario, size=(100, 30))
    assert isinstance(seen["screen"], ChecksScreen)  # esc did not leave the running checks
    assert seen["requests"] == 1  # ctrl+r did not start a second run


def test_the_live_log_is_bounded_and_fed_once_per_frame(repo: Path) -> None:
    make_repo(repo, fixed_answers())
    seen: dict[str, int] = {}

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+p")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, PreviewScreen)
        for n in range(3 * LOG_LINES):
            screen.lines.put(f"line {n}")
        await pilot.pause(0.2)
        log = screen.query_one("#progress")
        seen["lines"] = log.line_count  # type: ignore[attr-defined]
        seen["last"] = int(str(log.lines[-1]).split()[-1])  # type: ignore[attr-defined]

    drive(repo, scenario, size=(100, 30))
    assert seen["lines"] <= LOG_LINES
    assert seen["last"] == 3 * LOG_LINES - 1


def test_a_cancelled_run_leaves_other_runs_alone(repo: Path) -> None:
    """Cancellation belongs to one run's context, never to the step: a stopped run does not
    stop the next plan or the sidebar's probe."""
    make_repo(repo, fixed_answers(), files_done=True)
    stopped = RunContext(is_cancelled=lambda: True)
    with Session.open(repo, command="test") as session:
        session.plan("files", ctx=stopped)
        assert session.step("files").probe(session) is None
        assert session.plan("files").step == "files"


def test_errors_of_every_adapter_are_wizard_errors() -> None:
    from wizard import aws, mysql, ssh, terraform

    for error in (aws.AwsError, mysql.DatabaseError, ssh.SSHError, terraform.TerraformError):
        assert issubclass(error, WizardError)


def test_the_main_screen_opens_on_the_first_step_not_done(repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    with Session.open(repo, command="test") as session:
        first = MainScreen(session).selected
    assert first == "prereqs"  # files is done, prereqs is not
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(fixed_answers(), "test"), "test")
        assert MainScreen(session, "files").selected == "files"


def test_ctrl_t_reveals_both_values_of_a_secret_conflict(repo: Path) -> None:
    from snapshot_apps.repos import hand_edit

    from screens.conflicts import ConflictChoice

    make_repo(repo, fixed_answers(), files_done=True)
    hand_edit(repo, "COMMON_MYSQL_MIGRATE_PASS", "Hand-typed-S3cret-4411")
    seen: dict[str, str] = {}

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+p")
        await settle(pilot)

        def values() -> str:
            (choice,) = pilot.app.screen.query(ConflictChoice)
            return str(choice.query_one(".conflict-values").render())

        seen["masked"] = values()
        await pilot.press("ctrl+t")
        await pilot.pause()
        seen["shown"] = values()
        await pilot.press("ctrl+t")
        await pilot.pause()
        seen["hidden"] = values()

    drive(repo, scenario, size=(100, 40))
    assert "Hand-typed-S3cret-4411" not in seen["masked"]
    assert "Hand-typed-S3cret-4411" in seen["shown"]
    assert "Hand-typed-S3cret-4411" not in seen["hidden"]
