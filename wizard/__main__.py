"""``python -m wizard``: the headless commands only; the core never loads the TUI. The whole
program (TUI included) is the ``analytics-wizard`` console script, or ``python -m screens``."""

import sys

from wizard import cli

sys.exit(cli.main())
