"""One wizard per secure repo: an fcntl lock on ``.wizard/lock`` that names its holder."""

from __future__ import annotations

import fcntl
import getpass
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from . import exit_codes
from .errors import WizardError
from .fsutil import ensure_private_dir, open_private


class LockedError(WizardError):
    """Another wizard holds the secure repo."""

    exit_code = exit_codes.LOCKED


# A wizard whose connection dropped takes a moment to let go (its run is left going on its own,
# then it exits): the operator who reconnects at once waits that long rather than being refused.
GRACE = 3.0  # seconds


def path_in(repo: Path) -> Path:
    """The lock of the secure repo ``repo``."""
    return repo / ".wizard" / "lock"


def locked(holder: str) -> LockedError:
    return LockedError(
        f"another analytics-wizard is working on this secure repo "
        f"({holder or 'another process'}); finish or quit that one first"
    )


def holder(path: Path) -> str | None:
    """Who holds the lock at ``path`` as it names itself ("" if unnamed); None if nobody does
    (or it cannot be read: taking it will say why). Takes nothing and creates nothing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # refused while a wizard holds it
        except BlockingIOError:
            return os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class RepoLock:
    """Exclusive; released when the process exits, even if killed."""

    def __init__(self, path: Path, grace: float = GRACE):
        self.path = path
        self.grace = grace
        self._fd: int | None = None

    def acquire(self) -> None:
        ensure_private_dir(self.path.parent)
        # Never through a link: a linked lock would truncate whatever file it points at.
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        deadline = time.monotonic() + self.grace
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                named = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
                os.close(fd)
                raise locked(named) from None
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
