"""The terminal driver: Textual's own, made safe for a terminal that goes away.

A dropped SSH connection (or a killed tmux session) hangs the terminal up: every write to it
fails with EIO, and when the wizard leads the terminal's session, SIGCONT comes right behind
SIGHUP. With Textual's Linux driver (8.x) as it is, the first failed write ends its writer
thread without a word while the app goes on queuing frames, and blocks for good on the 31st,
still holding the repo's lock; SIGCONT makes it start drawing again on the dead terminal,
which ends the new writer thread the same way. Here output to a terminal that is gone is
dropped, and a SIGCONT without a terminal is not taken as "back from ctrl+z".
"""

from __future__ import annotations

import os
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver


class Gone:
    """The terminal's output stream; once a write or flush fails, the rest is dropped."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except OSError:  # EIO: hung up
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except OSError:
                self.gone = True

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return not self.gone and self.stream.isatty()


class Driver(LinuxDriver):
    """Textual's Linux driver whose output survives a hang-up (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._file = Gone(self._file)

    def _sigcont_application(self, *args: Any) -> None:
        # After a hang-up the terminal answers EIO: there is nothing to resume on.
        if os.isatty(self.fileno):
            super()._sigcont_application(*args)
