"""Secure repos with fixed content for the TUI tests: nothing shown depends on time or place.

Every generated secret is supplied, so two repos built from the same answers hold the same
files, and the key file is an absolute path so no temporary directory reaches a file or a diff.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from conftest import complete_answers
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from screens.app import WizardApp
from screens.field_row import FieldRow
from wizard.answers import flatten
from wizard.engine import Session

GENERATED = {
    "database.analytics_password": "Analytics0db0password0for0the0tui0tests",
    "database.readonly_password": "Readonly0db0password0for0the0tui0tests0",
    "insights.secret_key": "Insights0django0secret0key0for0tui0tests",
    "insights.oauth2_key": "Insights0oauth20client0id0for0tui0tests0",
    "insights.oauth2_secret": "Insights0oauth20secret0for0the0tui0tests",
    "analytics_api.auth_token": "Analytics0api0token0for0the0tui0tests00",
    "analytics_api.secret_key": "Analytics0api0secret0key0for0tui0tests0",
}
KEY_FILE = "/srv/acme/analytics.pem"
VARS = "vars-analytics.yml"


def fixed_answers(**overrides: Any) -> dict[str, Any]:
    """The conftest answers plus every generated secret and an absolute key file."""
    keys = {key.replace(".", "__"): value for key, value in GENERATED.items()}
    return complete_answers(**{"ansible__private_key": KEY_FILE, **keys, **overrides})


def make_repo(path: Path, answers: dict[str, Any] | None = None, files_done: bool = False) -> Path:
    """A secure repo at ``path`` holding ``answers``; with the files step applied if asked."""
    with Session.open(path, write=True, command="test") as session:
        if answers:
            session.merge_answers(flatten(answers, "test answers"), "test answers")
        if files_done:
            session.apply(session.plan("files"))
    return path


def hand_edit(repo: Path, key: str, value: str, path: str = VARS) -> None:
    """Change one top-level ``KEY: value`` line of a written file, as an operator would."""
    target = repo / path
    text, count = re.subn(
        rf"^{re.escape(key)}: .*$", f"{key}: '{value}'", target.read_text(), flags=re.M
    )
    assert count == 1, f"{key} not found in {path}"
    target.write_text(text)


def open_app(repo: Path, initial: str | None = "files") -> WizardApp:
    """The wizard on ``repo`` as ``run_app`` starts it, on step ``initial`` (None: where the
    wizard itself would start); close ``app.session`` afterwards."""
    return WizardApp(Session.open(repo, write=True, command="tui"), initial)


def drive(
    repo: Path,
    scenario: Callable[[Pilot[None]], Awaitable[None]],
    size: tuple[int, int] = (80, 24),
    initial: str | None = "files",
) -> WizardApp:
    """Run ``scenario`` against the wizard on ``repo`` once its first form is there; the
    session is released afterwards."""
    app = open_app(repo, initial)

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await form_ready(pilot)
            await settle(pilot)
            await scenario(pilot)

    try:
        asyncio.run(main())
    finally:
        app.session.close()
    return app


async def form_ready(pilot: Pilot[None]) -> None:
    """Wait (bounded) for the fields and the first focus: the form fills in after the first
    paint, a few rows a frame, and its first field is focused once it is whole."""
    for _ in range(1000):
        if pilot.app.screen.query(FieldRow) and pilot.app.focused is not None:
            return
        await pilot.pause(0.02)
    raise AssertionError("the files form never appeared")


async def settle(pilot: Pilot[None]) -> None:
    """Wait (bounded) until no worker runs: one finishing may start another (a state check)."""
    for _ in range(50):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            return
    raise AssertionError("workers kept running")


def steady_cursor(app: WizardApp) -> None:
    """A blinking cursor would make a snapshot depend on when it is taken."""
    for widget in app.screen.query(Input):
        widget.cursor_blink = False


async def choose_step(pilot: Pilot[None], name: str) -> None:
    """Select step ``name`` in the sidebar from the keyboard, then wait for its form."""
    steps = pilot.app.screen.query_one("#steps", OptionList)
    steps.focus()
    steps.highlighted = steps.get_option_index(name)
    await pilot.press("enter")
    await settle(pilot)
