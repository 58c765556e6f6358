"""The ``analytics-wizard`` console script: headless commands never load Textual."""

from __future__ import annotations

import gc

# Importing makes tens of thousands of objects that live as long as the process: the cyclic
# collector's passes over them (a full one among them) only delay the first paint.
gc.disable()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

from wizard import cli  # noqa: E402

if TYPE_CHECKING:
    from wizard.backends import Backends


def settle_imports() -> None:
    """What imports made is kept out of the collector's passes from now on; collect again."""
    gc.freeze()
    gc.enable()


def open_tui(repo: Path, backends: Backends | None = None) -> int:
    """The wizard on ``repo``; with ``backends`` (demo mode) it says DEMO in every header."""
    gc.disable()  # until the first frame is painted (WizardApp collects again then)
    try:
        from screens.app import run_app

        return run_app(repo, backends)
    finally:
        gc.enable()  # had the wizard ended before its first frame


def main() -> None:
    arguments = sys.argv[1:]
    first = next((a for a in arguments if not a.startswith("-")), None)
    if first in cli.COMMANDS:
        settle_imports()
    else:  # the wizard itself: the collector stays off until its first frame (open_tui)
        gc.freeze()
    sys.exit(cli.main(open_tui=open_tui))
