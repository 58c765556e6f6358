"""One wizard per secure repo: an fcntl lock on ``.wizard/lock`` that names its holder."""

from __future__ import annotations

import fcntl
import getpass
import os
import socket
from pathlib import Path
from types import TracebackType

from . import exit_codes
from .errors import WizardError
from .fsutil import ensure_private_dir, open_private


class LockedError(WizardError):
    """Another wizard holds the secure repo."""

    exit_code = exit_codes.LOCKED


class RepoLock:
    """Exclusive, non-blocking; released when the process exits, even if killed."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        ensure_private_dir(self.path.parent)
        # Never through a link: a linked lock would truncate whatever file it points at.
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise LockedError(
                f"another analytics-wizard is working on this secure repo ({holder}); "
                "finish or quit that one first"
            ) from None
        who = f"pid {os.getpid()}, {getpass.getuser()}@{socket.gethostname()}"
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, who.encode(), 0)
        except OSError:
            pass  # e.g. a full disk: the lock holds all the same, only its holder is unnamed
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RepoLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
