"""Files in the secure repo: atomic writes, all-or-nothing multi-file writes, private modes, and
no symbolic links followed.

A crash leaves either the old file or the new one, never half of either. The wizard never reads
or writes through a symbolic link in the secure repo: a link someone placed (or committed) there
could point at a file outside it, which would then be read, overwritten or committed.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConflictError, StateError, WizardError

SECRET_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
# Children the wizard starts (git, terraform) create files holding secrets: owner-only.
PRIVATE_UMASK = 0o077


class LinkError(StateError):
    """A path the wizard owns in the secure repo is a symbolic link."""

    def __init__(self, path: Path, *, directory: bool = False) -> None:
        try:
            target = os.readlink(path)
        except OSError:
            target = "somewhere else"
        kind = "directory" if directory else "file"
        super().__init__(
            f"{path} is a symbolic link to {target}; the wizard does not follow links in the "
            "secure repo",
            f"replace it with a regular {kind} (move the link away), then run again",
        )
        self.path = path


class WriteError(WizardError):
    """A file could not be written; names the real file, never a temp file."""

    def __init__(self, path: Path, exc: OSError, *, nothing_written: bool = True) -> None:
        reason = exc.strerror or str(exc)
        done = "; nothing was written" if nothing_written else ""
        super().__init__(f"cannot write {path} ({reason}){done}", _write_fix(exc.errno))
        self.path = path
        self.errno = exc.errno


def _write_fix(code: int | None) -> str:
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "free some space on that disk and run again"
    if code in (errno.EACCES, errno.EPERM):
        return "check the owner, mode and attributes (lsattr) of that file and its directory"
    if code == errno.EROFS:
        return "run the wizard on a writable secure repo"
    return "check that path and run again"


# --- links --------------------------------------------------------------------------------


def _components(path: Path, root: Path | None) -> list[Path]:
    """``path`` and its parents below ``root`` (``root`` itself is trusted), outermost first."""
    if root is None:
        return [path]
    try:
        relative = path.relative_to(root)
    except ValueError:
        return [path]
    found = [root.joinpath(*relative.parts[: i + 1]) for i in range(len(relative.parts))]
    return found


def refuse_links(path: Path, root: Path | None = None) -> None:
    """Raise :class:`LinkError` when ``path``, or a directory between ``root`` and it, is a
    symbolic link. Parts that do not exist yet are fine."""
    parts = _components(path, root)
    for number, part in enumerate(parts):
        try:
            st = os.lstat(part)
        except FileNotFoundError:
            return
        except NotADirectoryError:
            return
        if stat.S_ISLNK(st.st_mode):
            raise LinkError(part, directory=number < len(parts) - 1)


def _open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP and os.path.islink(path):
            raise LinkError(path, directory=bool(flags & os.O_DIRECTORY)) from None
        raise


def safe_read_bytes(path: Path, root: Path | None = None) -> bytes:
    """The bytes of ``path``, refusing a symbolic link (raises FileNotFoundError when missing)."""
    refuse_links(path.parent, root)
    fd = _open_nofollow(path, os.O_RDONLY)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def safe_read_text(path: Path, root: Path | None = None) -> str:
    """The UTF-8 text of ``path``, refusing a symbolic link (FileNotFoundError when missing)."""
    data = safe_read_bytes(path, root)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StateError(
            f"{path} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})",
            "fix the file by hand or move it aside, then run again",
        ) from None


def read_if_exists(path: Path, root: Path | None = None) -> str | None:
    """The text of ``path``, or None when it does not exist; never through a link."""
    try:
        return safe_read_text(path, root)
    except FileNotFoundError:
        return None


def file_mode(path: Path) -> int | None:
    """Permission bits of ``path`` itself (not a link's target); None when it does not exist."""
    try:
        return os.lstat(path).st_mode & 0o777
    except FileNotFoundError:
        return None


def open_private(path: Path, flags: int, root: Path | None = None) -> int:
    """``os.open`` for a file of the wizard's own (lock, run log): 0600, never through a link."""
    refuse_links(path.parent, root)
    return _open_nofollow(path, flags, SECRET_FILE_MODE)


# --- directories --------------------------------------------------------------------------


def ensure_private_dir(path: Path, root: Path | None = None) -> Path:
    """Create ``path`` (and parents) 0700, or make the existing directory 0700; a symbolic link
    (at ``path`` or between ``root`` and it) is refused, never followed or chmodded."""
    refuse_links(path, root)
    try:
        path.mkdir(parents=True, mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        pass
    fd = _open_nofollow(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_DIR_MODE:
            os.fchmod(fd, PRIVATE_DIR_MODE)
    finally:
        os.close(fd)
    return path


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- writing ------------------------------------------------------------------------------


def _unchanged(path: Path, data: bytes, mode: int) -> bool:
    try:
        fd = _open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or stat.S_IMODE(st.st_mode) != mode:
        os.close(fd)
        return False
    with os.fdopen(fd, "rb") as handle:
        return handle.read() == data


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    """``data`` in a new temp file beside ``path``, fsynced; errors name ``path``."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise WriteError(path, exc) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        _discard(Path(tmp))
        raise WriteError(path, exc) from None
    except BaseException:
        _discard(Path(tmp))
        raise
    return Path(tmp)


def _discard(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def atomic_write(path: Path, text: str, *, mode: int = 0o644, root: Path | None = None) -> bool:
    """Write ``text`` to ``path`` via a temp file in the same directory, fsync and rename.

    Returns False (and touches nothing) when the file already holds exactly ``text`` with the
    wanted mode, so repeated runs change nothing. A symbolic link at ``path``, at its directory,
    or anywhere below ``root`` on the way, is refused.
    """
    refuse_links(path, root if root is not None else path.parent.parent)
    data = text.encode("utf-8")
    if _unchanged(path, data, mode):
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(path, exc) from None
    tmp = _write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise WriteError(path, exc) from None
    except BaseException:
        _discard(tmp)
        raise
    _fsync_dir(path.parent)
    return True


@dataclass(frozen=True)
class FileWrite:
    """One file of a multi-file write: its new text and mode, and what the operator previewed
    (``expected_old``: the text seen then; None when it did not exist)."""

    path: Path
    text: str
    mode: int
    expected_old: str | None


def _check_preview(change: FileWrite, root: Path | None) -> None:
    try:
        current = read_if_exists(change.path, root)
    except LinkError:
        raise
    except (IsADirectoryError, StateError):  # a directory, or no longer text, is a change too
        current = "\0"
    if current != change.expected_old:
        shown = change.path.relative_to(root) if root is not None else change.path
        what = "was created" if change.expected_old is None else "changed on disk"
        raise ConflictError(
            f"{shown} {what} since the preview; nothing was written",
            "preview the step again",
        )


def write_files(changes: Sequence[FileWrite], root: Path | None = None) -> list[Path]:
    """Write every file of ``changes`` or none: each to a temp file beside it first, then all
    renamed; if a rename fails, the files already renamed get their old content back.

    Every file must still hold what was previewed (re-checked right before the renames), else
    :class:`ConflictError`. Returns the paths that changed (an identical file is left alone).
    """
    for change in changes:
        refuse_links(change.path, root if root is not None else change.path.parent.parent)
    pending = [c for c in changes if not _unchanged(c.path, c.text.encode("utf-8"), c.mode)]
    temps: dict[Path, Path] = {}
    backups: dict[Path, Path | None] = {}
    try:
        for change in pending:
            try:
                change.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WriteError(change.path, exc) from None
            temps[change.path] = _write_temp(change.path, change.text.encode("utf-8"), change.mode)
        for change in changes:
            _check_preview(change, root)
        for change in pending:
            backups[change.path] = _backup(change.path)
        _rename_all(pending, temps, backups)
    finally:
        for leftover in [*temps.values(), *(b for b in backups.values() if b is not None)]:
            _discard(leftover)
    for directory in dict.fromkeys(c.path.parent for c in pending):
        _fsync_dir(directory)
    return [c.path for c in pending]


def _backup(path: Path) -> Path | None:
    """A hard link to the current file (kept to put it back); None when there is none."""
    if not os.path.lexists(path):
        return None
    while True:
        backup = path.parent / f".{path.name}.{os.urandom(4).hex()}.tmp"
        try:
            os.link(path, backup, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteError(path, exc) from None
        return backup


def _rename_all(
    pending: Sequence[FileWrite], temps: dict[Path, Path], backups: dict[Path, Path | None]
) -> None:
    done: list[Path] = []
    for change in pending:
        try:
            os.replace(temps[change.path], change.path)
        except OSError as exc:
            _put_back(done, backups)
            raise WriteError(change.path, exc) from None
        except BaseException:
            _put_back(done, backups)
            raise
        done.append(change.path)


def _put_back(done: Sequence[Path], backups: dict[Path, Path | None]) -> None:
    for path in reversed(done):
        backup = backups.get(path)
        try:
            if backup is None:
                os.unlink(path)
            else:
                os.replace(backup, path)
        except OSError:
            pass  # the error raised next names the file that failed; this one stays new


def remove_stale_temp_files(directory: Path) -> None:
    """Delete temp files a killed run left behind (``.name.*.tmp``); never inside a link."""
    try:
        if stat.S_ISLNK(os.lstat(directory).st_mode) or not directory.is_dir():
            return
    except FileNotFoundError:
        return
    for tmp in directory.glob(".*.tmp"):
        try:
            if stat.S_ISREG(os.lstat(tmp).st_mode):
                tmp.unlink()
        except OSError:
            pass


def walk_no_links(directory: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Every path under ``directory`` with its lstat, not descending into links."""
    stack = [directory]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            path = Path(entry.path)
            yield path, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(path)
