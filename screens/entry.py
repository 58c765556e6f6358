"""The ``analytics-wizard`` console script: headless commands never load Textual."""

from __future__ import annotations

import sys
from pathlib import Path

from wizard import cli
from wizard.backends import Backends


def open_tui(repo: Path, backends: Backends | None = None) -> int:
    """The wizard on ``repo``; with ``backends`` (demo mode) it says DEMO in every header."""
    from screens.app import run_app

    return run_app(repo, backends)


def main() -> None:
    sys.exit(cli.main(open_tui=open_tui))
