"""Per-run logs in ``.wizard/logs/``, with every known secret masked before it is written."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from .fsutil import WriteError, ensure_private_dir, open_private
from .redact import Redactor


class RunLog:
    def __init__(self, directory: Path | None, command: str, redact: Redactor):
        self.redact = redact
        self.path: Path | None = None
        if directory is not None:
            ensure_private_dir(directory)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            self.path = directory / f"{stamp}-{command}-{os.getpid()}.log"

    def write(self, message: str) -> None:
        if self.path is None:
            return
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        line = self.redact(f"{stamp} {message}")
        try:
            fd = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line.rstrip("\n") + "\n")
        except OSError as exc:
            raise WriteError(self.path, exc, nothing_written=False) from None
