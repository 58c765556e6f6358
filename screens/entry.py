"""The ``analytics-wizard`` console script: headless commands never load Textual."""

from __future__ import annotations

import sys
from pathlib import Path

from wizard import cli


def open_tui(repo: Path) -> int:
    from screens.app import run_app

    return run_app(repo)


def main() -> None:
    sys.exit(cli.main(open_tui=open_tui))
