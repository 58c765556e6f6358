"""What each screen looks like at 80x24, compared with the approved SVGs in __snapshots__/.

Repos are built from fixed answers (every secret supplied), so nothing shown depends on the time,
the temporary directory or a random value. Update with ``pytest --snapshot-update`` and review.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from snapshot_apps.repos import (
    fixed_answers,
    form_ready,
    hand_edit,
    make_repo,
    open_app,
    settle,
    steady_cursor,
)
from textual.pilot import Pilot

from screens.app import WizardApp
from screens.field_row import input_id


@pytest.fixture
def wizard() -> Iterator[Callable[[Path], WizardApp]]:
    apps: list[WizardApp] = []

    def start(repo: Path) -> WizardApp:
        apps.append(open_app(repo))
        return apps[-1]

    yield start
    for app in apps:
        app.session.close()


def keys(*pressed: str) -> Callable[[Pilot[None]], object]:
    """Press ``pressed`` once the first states are shown, then wait for every worker."""

    async def run_before(pilot: Pilot[None]) -> None:
        await form_ready(pilot)
        steady_cursor(pilot.app)
        await pilot.press(*pressed)
        await settle(pilot)

    return run_before


class TestMainScreen:
    def test_files_step_done(self, snap_compare, wizard, repo: Path) -> None:
        """Sidebar states from the ledger; the files form holds the saved answers."""
        make_repo(repo, fixed_answers(), files_done=True)
        assert snap_compare(wizard(repo), run_before=keys())

    def test_playbooks_step_selected(self, snap_compare, wizard, repo: Path) -> None:
        """The playbooks step selected from the keyboard: its heading says it has not run yet
        and its form shows."""
        make_repo(repo, fixed_answers(), files_done=True)
        assert snap_compare(wizard(repo), run_before=keys("f2", "end", "up", "up"))


class TestForm:
    def test_validation_error(self, snap_compare, wizard, repo: Path) -> None:
        """The field says what is allowed; the preview is refused with the field named."""
        make_repo(repo, fixed_answers(), files_done=True)

        async def run_before(pilot: Pilot[None]) -> None:
            await form_ready(pilot)
            steady_cursor(pilot.app)
            await pilot.click(f"#{input_id('client.name')}")
            await pilot.press("end", "space", *"Corp")
            await keys("tab", "ctrl+p")(pilot)

        assert snap_compare(wizard(repo), run_before=run_before)


class TestPreview:
    def test_diff_of_new_files(self, snap_compare, wizard, repo: Path) -> None:
        """Six new files; the first diff at the top, secrets masked."""
        make_repo(repo, fixed_answers())
        assert snap_compare(wizard(repo), run_before=keys("ctrl+p"))

    def test_conflicts(self, snap_compare, wizard, repo: Path) -> None:
        """Two values edited by hand, one of them a secret shown masked, each with a choice."""
        make_repo(repo, fixed_answers(), files_done=True)
        hand_edit(repo, "EDXAPP_CONTACT_EMAIL", "admin@acme.test")
        hand_edit(repo, "COMMON_MYSQL_MIGRATE_PASS", "Hand-typed-S3cret-4411")
        assert snap_compare(wizard(repo), run_before=keys("ctrl+p"))


class TestChecks:
    def test_passing_warning_and_failing_rows(self, snap_compare, wizard, repo: Path) -> None:
        """Each check's verdict; the failing row's finding and fix under the table."""
        from snapshot_apps.checks import FixedChecksScreen

        make_repo(repo, fixed_answers())
        app = wizard(repo)

        async def run_before(pilot: Pilot[None]) -> None:
            await form_ready(pilot)
            steady_cursor(pilot.app)
            session = pilot.app.session
            await pilot.app.push_screen(FixedChecksScreen(session, session.step("prereqs")))
            await settle(pilot)
            await pilot.press("down", "down")  # to aws.tracking_logs
            await pilot.pause()

        assert snap_compare(app, run_before=run_before)
