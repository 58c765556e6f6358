"""``python -m wizard.ansible_child <private data dir>``: one prepared ansible run, in this process.

Started detached (see wizard.detached) so the run outlives the wizard; it exits with
ansible-playbook's exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .ansible import run_prepared
from .errors import WizardError


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m wizard.ansible_child PRIVATE_DATA_DIR", file=sys.stderr)
        return 2
    try:
        return run_prepared(Path(argv[0]))
    except WizardError as exc:
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
