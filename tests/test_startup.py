"""Start-up: the launcher keeps the cyclic collector off until the first frame, and the wizard
switches it back on once that frame is painted (a wizard left without it would grow for good)."""

from __future__ import annotations

import gc
from pathlib import Path

from snapshot_apps.repos import drive, fixed_answers, make_repo
from textual.pilot import Pilot


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
