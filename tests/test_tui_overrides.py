"""An overridden prerequisite check stays overridden while the answers it reads are unchanged
(issue 13, item 5): on the next ctrl+p, and after a restart once the step recorded it.

Every check here fails (or is not run) on loopback without a network: the AWS profile does not
exist, nothing listens on the edxapp DB port or the LMS URL, the analytics key is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import complete_answers
from snapshot_apps.repos import choose_step, make_repo, settle
from test_tui import drive, enter
from textual.pilot import Pilot
from textual.widgets import DataTable

from screens.checks import ChecksScreen
from screens.main import MainScreen
from wizard import yamlio

__all__ = ["drive"]  # the fixture, shared with test_tui
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing answers, at once


@pytest.fixture
def no_aws_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Empty AWS config files: the answered profile does not exist (no network is tried)."""
    for name, variable in (
        ("config", "AWS_CONFIG_FILE"),
        ("credentials", "AWS_SHARED_CREDENTIALS_FILE"),
    ):
        path = tmp_path / "aws" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("")
        monkeypatch.setenv(variable, str(path))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    yield


def failing_answers(repo: Path) -> dict[str, Any]:
    return complete_answers(
        aws__endpoint_url=CLOSED,
        aws__profile="nobody-here",
        edxapp__db_host="127.0.0.1",
        edxapp__db_port=9,
        edxapp__lms_url=CLOSED,
        ansible__private_key=str(repo.parent / "missing.pem"),
        ansible__configuration_dir=str(repo.parent / "configuration"),
        director__key_file=str(repo.parent / "director.pem"),
    )


def verdicts(pilot: Pilot[None]) -> dict[str, str]:
    table = pilot.app.screen.query_one(DataTable)
    return {str(row.value): str(table.get_cell(row, "verdict")) for row in table.rows}


async def open_checks(pilot: Pilot[None]) -> ChecksScreen:
    await pilot.press("ctrl+p")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ChecksScreen)
    return screen


async def override(pilot: Pilot[None], screen: ChecksScreen, cid: str) -> None:
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(cid))
    await pilot.pause()
    await pilot.press("o")
    await pilot.pause()
    await pilot.press("y")
    await settle(pilot)


async def back(pilot: Pilot[None]) -> None:
    await pilot.press("escape")
    await settle(pilot)
    assert isinstance(pilot.app.screen, MainScreen)


def test_an_override_stays_until_the_answers_its_check_reads_change(
    drive, repo: Path, no_aws_profiles: None
) -> None:
    make_repo(repo, failing_answers(repo))
    seen: dict[str, dict[str, str]] = {}

    async def scenario(pilot: Pilot[None]) -> None:
        await choose_step(pilot, "prereqs")
        screen = await open_checks(pilot)
        seen["first"] = verdicts(pilot)
        await override(pilot, screen, "ssh.keys")
        seen["overridden"] = verdicts(pilot)
        await back(pilot)
        await open_checks(pilot)
        seen["again"] = verdicts(pilot)
        await back(pilot)
        await enter(pilot, "edxapp.lms_url", "http://127.0.0.1:10")  # not read by ssh.keys
        await open_checks(pilot)
        seen["other answer changed"] = verdicts(pilot)
        await back(pilot)
        await enter(pilot, "ansible.private_key", str(repo.parent / "other.pem"))
        await open_checks(pilot)
        seen["its answer changed"] = verdicts(pilot)

    drive(repo, scenario, initial="files")
    assert seen["first"]["ssh.keys"] == "fail"
    assert seen["overridden"]["ssh.keys"] == "fail (overridden)"
    assert seen["again"]["ssh.keys"] == "fail (overridden)"
    assert seen["other answer changed"]["ssh.keys"] == "fail (overridden)"
    assert seen["its answer changed"]["ssh.keys"] == "fail"


def test_overrides_recorded_by_the_step_hold_after_a_restart(
    drive, repo: Path, no_aws_profiles: None
) -> None:
    make_repo(repo, failing_answers(repo))
    seen: dict[str, Any] = {}

    async def override_all_and_continue(pilot: Pilot[None]) -> None:
        await choose_step(pilot, "prereqs")
        screen = await open_checks(pilot)
        for cid, verdict in verdicts(pilot).items():
            if verdict == "fail":
                await override(pilot, screen, cid)
        seen["overridden"] = {c for c, v in verdicts(pilot).items() if v == "fail (overridden)"}
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(pilot.app.screen, MainScreen)

    drive(repo, override_all_and_continue, initial="prereqs")
    assert "ssh.keys" in seen["overridden"] and "edxapp.database" in seen["overridden"]
    ledger = yamlio.load_data(repo / ".wizard" / "state.yml")["steps"]["prereqs"]
    assert set(ledger["outputs"]["overrides"]) == seen["overridden"]

    async def restarted(pilot: Pilot[None]) -> None:
        await open_checks(pilot)
        seen["restarted"] = verdicts(pilot)
        await back(pilot)
        await enter(pilot, "ansible.private_key", str(repo.parent / "other.pem"))
        await open_checks(pilot)
        seen["key changed"] = verdicts(pilot)

    drive(repo, restarted, initial="prereqs")
    assert {c for c, v in seen["restarted"].items() if v == "fail (overridden)"} == seen[
        "overridden"
    ]
    assert seen["key changed"]["ssh.keys"] == "fail"
    still = seen["overridden"] - {"ssh.keys"}
    assert {c for c, v in seen["key changed"].items() if v == "fail (overridden)"} == still


def test_each_check_names_the_answers_it_reads_among_the_steps_inputs() -> None:
    from wizard.steps import prereqs

    assert set(prereqs.CHECK_INPUTS) == set(prereqs.IDS)
    for cid, keys in prereqs.CHECK_INPUTS.items():
        assert keys and set(keys) <= set(prereqs.INPUTS), cid
