"""The database step in the TUI, against a real MariaDB: test the connection, preview the SQL
with passwords masked, run it with live progress, and find the users in place afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import services
from snapshot_apps.repos import fixed_answers, form_ready, make_repo, open_app, settle
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from screens.main import MainScreen
from screens.preview import PreviewScreen
from screens.step_form import StepForm

ANALYTICS_PW = "Tui'db\"pw#%{{x}}ü-1"


@pytest.fixture
def mariadb(db: services.MariaDB) -> services.MariaDB:
    return db


def db_repo(path: Path, server: services.MariaDB) -> Path:
    answers = fixed_answers(
        database__host=services.LOOPBACK,
        database__port=server.port,
        database__admin_user=server.admin_user,
        database__admin_password=server.admin_password,
        database__analytics_password=ANALYTICS_PW,
        edxapp__db_host=services.LOOPBACK,
        edxapp__db_port=server.port,
        edxapp__admin_user=server.admin_user,
        edxapp__admin_password=server.admin_password,
    )
    return make_repo(path, answers)


def screen_text(pilot: Pilot[None]) -> str:
    return "\n".join(str(w.render()) for w in pilot.app.screen.query(Static))


async def show_database(pilot: Pilot[None]) -> StepForm:
    steps_list = pilot.app.screen.query_one("#steps", OptionList)
    steps_list.focus()
    steps_list.highlighted = steps_list.get_option_index("database")
    await pilot.pause()
    await pilot.press("enter")
    form = pilot.app.screen.query_one("#database", StepForm)
    for _ in range(100):  # its fields mount after it is first shown
        if form.rows and form.display:
            break
        await pilot.pause()
    assert form.rows, "the database form never showed its fields"
    return form


def test_connection_test_preview_and_run_create_the_users(
    mariadb: services.MariaDB, tmp_path: Path
) -> None:
    mariadb.reset()
    repo = db_repo(tmp_path / "secure", mariadb)
    app = open_app(repo)
    seen: dict[str, str] = {}

    async def main() -> None:
        async with app.run_test(size=(100, 40)) as pilot:
            await form_ready(pilot)
            await settle(pilot)
            form = await show_database(pilot)
            await pilot.press("f5")  # test connection
            await settle(pilot)
            seen["test"] = str(form.query_one("#form-message", Static).render())
            await pilot.press("ctrl+p")
            await settle(pilot)
            assert isinstance(pilot.app.screen, PreviewScreen)
            seen["preview"] = screen_text(pilot)
            await pilot.press("ctrl+s")
            await pilot.pause()
            await pilot.press("y")
            await settle(pilot)
            assert isinstance(pilot.app.screen, MainScreen)
            seen["after"] = str(form.query_one("#form-message", Static).render())
            # Someone changes a password by hand: the local states cannot know; ctrl+r asks
            # MySQL, and what it finds stays shown until the step runs again.
            steps = pilot.app.screen.query_one("#steps", OptionList)
            seen["age before"] = str(steps.border_subtitle)
            mariadb.sql("ALTER USER 'analytics'@'%' IDENTIFIED BY 'changed-by-hand-1'")
            await pilot.press("ctrl+r")
            await settle(pilot)
            seen["verified"] = str(form.query_one("#form-message", Static).render())
            seen["age after"] = str(steps.border_subtitle)
            screen = pilot.app.screen
            assert isinstance(screen, MainScreen)
            screen.refresh_states()  # a local check (as after any saved answer) keeps it
            await settle(pilot)
            seen["sidebar"] = str(steps.get_option("database").prompt)
            seen["heading"] = str(screen.query_one("#step-heading", Static).render())

    try:
        asyncio.run(main())
    finally:
        app.session.close()

    assert "logged in as" in seen["test"], seen["test"]
    assert "CREATE DATABASE IF NOT EXISTS `analytics-api`" in seen["preview"]
    assert "CREATE USER" in seen["preview"] and "GRANT ALL PRIVILEGES" in seen["preview"]
    assert ANALYTICS_PW not in seen["preview"] and "****" in seen["preview"]
    assert "Database is done; next: " in seen["after"], seen["after"]
    assert "Ran 13 SQL statements and verified the grants." in seen["after"], seen["after"]
    assert seen["age before"] == "not verified yet"
    assert "Verified 1 done step; not as recorded — Database:" in seen["verified"], seen["verified"]
    assert "'analytics' cannot log in" in seen["verified"], seen["verified"]
    assert seen["age after"] == "verified just now"
    assert "stale" in seen["sidebar"] and "cannot log in" in seen["heading"], seen
    created = {row[0] for row in mariadb.sql("SELECT User FROM mysql.user")}
    assert {"analytics", "edxapp001", "edxapp_ro"} <= created
    schemas = {row[0] for row in mariadb.sql("SHOW DATABASES")}
    assert {"dashboard", "analytics-api", "reports"} <= schemas
    state = (repo / ".wizard" / "state.yml").read_text()
    assert "database:" in state and ANALYTICS_PW not in state


def test_a_server_that_is_down_is_one_sentence_in_the_form(
    mariadb: services.MariaDB, tmp_path: Path
) -> None:
    repo = db_repo(tmp_path / "secure", mariadb)
    mariadb.stop()
    app = open_app(repo)
    seen: dict[str, str] = {}

    async def main() -> None:
        async with app.run_test(size=(100, 40)) as pilot:
            await form_ready(pilot)
            await settle(pilot)
            form = await show_database(pilot)
            await pilot.press("f5")
            await settle(pilot)
            seen["test"] = str(form.query_one("#form-message", Static).render())

    try:
        asyncio.run(main())
    finally:
        app.session.close()
        mariadb.start()
    assert "Traceback" not in seen["test"]
    assert "127.0.0.1" in seen["test"] and "cannot" in seen["test"].lower(), seen["test"]


def test_an_action_refuses_while_a_field_shows_a_value_that_was_not_saved(
    mariadb: services.MariaDB, tmp_path: Path
) -> None:
    """f5 tests what the form shows: with an invalid port on screen (never saved), testing the
    saved one instead would pass and mislead."""
    repo = db_repo(tmp_path / "secure", mariadb)
    app = open_app(repo)
    seen: dict[str, object] = {}

    async def main() -> None:
        async with app.run_test(size=(100, 40)) as pilot:
            await form_ready(pilot)
            await settle(pilot)
            form = await show_database(pilot)
            port = form.rows["edxapp.db_port"].input
            port.focus()
            port.value = "99999"
            form.rows["edxapp.db_host"].input.focus()  # left invalid: shown, not saved
            await settle(pilot)
            await pilot.press("f5")
            await settle(pilot)
            seen["said"] = str(form.query_one("#form-message", Static).render())
            seen["focused"] = pilot.app.screen.focused is port

    try:
        asyncio.run(main())
    finally:
        app.session.close()
    said = str(seen["said"])
    assert "logged in" not in said, said
    assert "edxapp DB port" in said and "1 to 65535" in said and "Test connection" in said, said
    assert seen["focused"]
