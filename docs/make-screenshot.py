#!/usr/bin/env python3
"""Regenerate docs/main-screen.svg: the main screen on a secure repo whose files step is done.

Usage (from the project root): .venv/bin/python docs/make-screenshot.py

The repo is built in a temporary directory named like a real one (``secure-config``) from the
tests' example answers; nothing on the screen shows the path, a date or a secret.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.widgets import Input  # noqa: E402

from screens.app import WizardApp  # noqa: E402
from tests.conftest import complete_answers  # noqa: E402
from wizard.answers import flatten  # noqa: E402
from wizard.engine import Session  # noqa: E402

SIZE = (100, 30)
OUTPUT = ROOT / "docs" / "main-screen.svg"


def make_repo(repo: Path) -> None:
    with Session.open(repo, write=True, command="screenshot") as session:
        session.merge_answers(flatten(complete_answers(), "example answers"), "example answers")
        session.apply(session.plan("files"))


async def shoot(repo: Path) -> None:
    with Session.open(repo, write=True, command="screenshot") as session:
        app = WizardApp(session)
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(100):  # the form mounts its fields just after the first paint
                if app.screen.query(Input) and app.focused is not None:
                    break
                await pilot.pause()
            for widget in app.screen.query(Input):
                widget.cursor_blink = False  # the same picture every time
            await app.workers.wait_for_complete()  # the step states
            await pilot.pause()
            app.save_screenshot(OUTPUT.name, str(OUTPUT.parent))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "secure-config"
        make_repo(repo)
        asyncio.run(shoot(repo))
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
