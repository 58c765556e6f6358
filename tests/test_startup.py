"""Start-up: the wizard paints its frame, then opens the secure repo; keys typed meanwhile are
not lost. The launcher keeps the cyclic collector off until then, and the wizard switches it
back on once the first form's frame is painted (a wizard left without it would grow for good)."""

from __future__ import annotations

import asyncio
import gc
import getpass
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from snapshot_apps.repos import drive, fixed_answers, make_repo
from textual import events
from textual.pilot import Pilot
from textual.widgets import Static

from screens.app import Opening, WizardApp
from screens.main import MainScreen
from screens.sidebar import StepList
from screens.step_form import StepForm
from wizard.engine import Session
from wizard.lock import LockedError
from wizard.steps import NAMES


def test_the_collector_runs_again_once_the_wizard_has_painted(repo: Path) -> None:
    make_repo(repo, fixed_answers())
    seen: list[bool] = []

    async def look(pilot: Pilot[None]) -> None:
        seen.append(gc.isenabled())
        await pilot.press("ctrl+q")

    was_enabled = gc.isenabled()
    gc.disable()  # as the launcher (screens.entry.open_tui) leaves it
    try:
        drive(repo, look)
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()
    assert seen == [True]


# --- the frame first, then the repo opens ---------------------------------------------------


def opening_app(repo: Path, before: Callable[[WizardApp], None]) -> WizardApp:
    """The wizard as ``run_app`` starts it: the frame, then ``repo`` opened, with ``before``
    called (on the app) just before the repo opens."""

    def open_repo() -> Session:
        before(app)
        return Session.open(repo, write=True, command="tui")

    app = WizardApp(Opening(repo, open_repo))
    return app


def heading_of(app: WizardApp) -> str:
    return str(app.screen.query_one("#step-heading", Static).render())


async def until(pilot: Pilot[None], done: Callable[[], bool]) -> None:
    for _ in range(500):  # bounded: 10 s
        if done():
            return
        await pilot.pause(0.02)


def test_keys_typed_while_the_repo_opens_reach_the_wizard_in_order(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(repo, fixed_answers(), files_done=True)  # the wizard opens on Prerequisites
    seen: dict[str, object] = {}
    glance = MainScreen.glance

    def typed_ahead(screen: MainScreen, path: Path) -> bool:
        # Keys come in as the wizard reads its ledger: held until the list has the step to do.
        for key in ("f2", "down", "down"):
            screen.app.post_message(events.Key(key, None))
        return glance(screen, path)

    def as_it_opens(app: WizardApp) -> None:
        # What the operator sees while the repo opens: the frame, with every step listed, and
        # the keys already answered by the step list.
        steps = app.screen.query_one(StepList)
        seen["screen"] = type(app.screen).__name__
        seen["heading"] = heading_of(app)
        seen["steps"] = steps.option_count
        seen["highlighted"] = NAMES[steps.highlighted or 0]
        seen["focused"] = app.focused is steps
        seen["collector"] = gc.isenabled()

    monkeypatch.setattr(MainScreen, "glance", typed_ahead)
    app = opening_app(repo, as_it_opens)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(500):  # until the form is shown, and the frame after it painted
                main_screen = app.main_screen
                if main_screen is not None and main_screen.viewing and gc.isenabled():
                    form = main_screen.query(StepForm).filter("#database")
                    if form and form.first().display:
                        break
                await pilot.pause(0.02)
            assert app.screen is app.main_screen
            steps = app.screen.query_one(StepList)
            assert app.focused is steps
            # Opening kept the step the operator chose meanwhile: it shows it.
            assert steps.highlighted == NAMES.index("database")
            assert app.main_screen.selected == "database"
            seen["collector after"] = gc.isenabled()

    was_enabled = gc.isenabled()
    gc.disable()  # as the launcher (screens.entry.open_tui) leaves it
    try:
        asyncio.run(main())
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()
        app.session.close()
    assert seen == {
        "screen": "MainScreen",
        "heading": f"Opening {repo.name}…",
        "steps": len(NAMES),
        "highlighted": "database",  # f2, then both downs, in order, before the repo opened
        "focused": True,
        "collector": False,  # opening is part of start-up
        "collector after": True,
    }


def test_a_repo_that_cannot_be_opened_ends_the_wizard_with_its_error(repo: Path) -> None:
    make_repo(repo, fixed_answers())
    app = opening_app(repo, lambda app: None)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: not app.is_running)

    with Session.open(repo, write=True, command="test"):  # another wizard holds the lock
        asyncio.run(main())
    # run_app raises it once the terminal is back, for the CLI to say (see test_tui's
    # test_second_wizard_on_a_held_repo_exits_4_with_a_sentence).
    assert isinstance(app.open_error, LockedError)
    assert app.main_screen is not None and not app.main_screen.is_open
    assert "session" not in vars(app)


def test_a_repo_another_wizard_holds_is_waited_for_with_the_frame_live(repo: Path) -> None:
    make_repo(repo, fixed_answers(), files_done=True)
    other = Session.open(repo, write=True, command="test")  # a wizard letting go of the repo
    app = opening_app(repo, lambda app: None)
    seen: dict[str, object] = {}

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "Waiting" in heading_of(app))
            seen["heading"] = heading_of(app)
            await pilot.press("f2", "down")  # the frame answers keys meanwhile
            await pilot.pause()
            seen["highlighted"] = NAMES[app.screen.query_one(StepList).highlighted or 0]
            other.close()  # it lets go: this wizard opens the repo
            await until(pilot, lambda: app.main_screen is not None and app.main_screen.viewing)
            seen["open"] = app.main_screen is not None and app.main_screen.is_open

    try:
        asyncio.run(main())
    finally:
        other.close()
        if "session" in vars(app):
            app.session.close()
    assert seen == {
        "heading": f"Waiting for the other wizard on {repo.name} to quit "
        f"(pid {os.getpid()}, {getpass.getuser()}@{socket.gethostname()}); ctrl+q quits.",
        "highlighted": "terraform",  # the glance's prereqs, then down
        "open": True,
    }


def test_ctrl_q_while_another_wizard_holds_the_repo_quits(repo: Path) -> None:
    make_repo(repo, fixed_answers())
    app = opening_app(repo, lambda app: None)

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "Waiting" in heading_of(app))
            await pilot.press("ctrl+q")
            await until(pilot, lambda: not app.is_running)

    with Session.open(repo, write=True, command="test"):  # held all along
        asyncio.run(main())
    assert not app.is_running and app.open_error is None  # it quit: no error to say
    assert "session" not in vars(app)
