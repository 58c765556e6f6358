"""Plain ``status`` answered again from its last answer while nothing it looked at has changed.

Working a status out imports every step module, parses the YAML answers and ledger and builds
a Rich table (about 0.3 s); an operator asks the same question many times with nothing changed
in between. So plain ``status`` records what it looked at while working its answer out (every
file opened, listed or stat'ed, and the code that ran), with each file's inode, mode, size and
times, in ``.wizard/cache/status.json``. The next plain ``status`` lstat()s those paths and,
when every one is as recorded, prints the recorded answer without importing any of it.

Like git's racy-clean index entries, an answer is not recorded when a file it read changed
less than :data:`SETTLED` seconds before status started (a later change in the same clock tick
could leave its times unchanged); nor when status ran a program, opened a connection, or found
a run going (those answers depend on more than files).
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import __version__, exit_codes
from .errors import WizardError

MEMO = Path(".wizard") / "cache" / "status.json"
FORMAT = 1
SETTLED = 1.0  # seconds
#: Packages whose code works out or renders the answer: their files count as read.
CODE = ("wizard", "rich", "ruamel", "markdown_it", "pygments")
#: What Rich reads to choose the table's width and colours (besides the streams themselves).
RICH_ENV = (
    "COLUMNS",
    "LINES",
    "JUPYTER_COLUMNS",
    "JUPYTER_LINES",
    "NO_COLOR",
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "COLORTERM",
    "TERM",
)
RENDERS = 4  # renderings kept (one per terminal set-up the operator uses)
STATE_STYLE = {
    "done": "green",
    "stale": "yellow",
    "pending": "cyan",
    "failed": "red",
    "planned": "cyan",
    "conflict": "yellow",
}
# Programs and connections: an answer that used one depends on more than files.
_OUTSIDE = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork", "socket.connect"}
)
_SKIPPED = ("/proc/", "/dev/", "/sys/")
_lstat = os.lstat
_stat = os.stat

Signature = list[int]
LISTED = "/"  # a directory whose listing was read is recorded as "DIR/"


def _meta(st: os.stat_result, listed: bool) -> Signature:
    # A directory's times change with its entries, which matter only when it was listed.
    if stat.S_ISDIR(st.st_mode) and not listed:
        return [st.st_dev, st.st_ino, st.st_mode]
    return [st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def signature(key: str) -> Signature | None:
    """What tells a change of the path ``key`` names (itself, and its target when a link; a
    directory's times only when ``key`` ends with :data:`LISTED`); None when it is absent."""
    listed = key.endswith(LISTED) and len(key) > 1
    path = key[:-1] if listed else key
    try:
        st = _lstat(path)
    except (OSError, ValueError):
        return None
    sig = _meta(st, listed)
    if stat.S_ISLNK(st.st_mode):
        try:
            sig += [-1, *_meta(_stat(path), listed)]
        except (OSError, ValueError):
            sig.append(-2)
    return sig


def _newest(sig: Signature) -> int:
    """The latest time (ns) a signature holds (0: none, e.g. a directory's)."""
    parts = [sig]
    if -1 in sig:  # the link, then its target (stat fields are never negative)
        at = sig.index(-1)
        parts = [sig[:at], sig[at + 1 :]]
    return max([0, *(max(part[4], part[5]) for part in parts if len(part) >= 6)])


class Reads:
    """What a status looked at, and what it found (filled in by :func:`recording`)."""

    def __init__(self, repo: Path, keep: bool) -> None:
        self.repo = repo
        # Resolving the repo's path stats the directories above it; the answer is for the
        # path it resolved to (the record says which), so they are not part of it.
        self.above = {str(parent) for parent in repo.parents}
        # The interpreter's own directories, which imports list (the code is checked apart).
        self.interpreter = tuple(
            os.path.join(prefix, "") for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}
        )
        self.keep = keep  # False: record nothing (status --verify)
        self.started = time.time()
        self.paths: set[str] = set()
        self.listed: set[str] = set()
        self.outside = ""  # a program or connection used (then nothing is recorded)
        self.result: dict[str, Any] | None = None
        self.text: str | None = None

    def saw(self, path: Any, listed: bool = False) -> None:
        if isinstance(path, str | bytes | os.PathLike):
            name = os.path.abspath(os.fsdecode(path))
            if name.startswith(_SKIPPED) or name.endswith(".pyc") or name in self.above:
                return
            if listed and name.startswith(self.interpreter):
                return
            (self.listed if listed else self.paths).add(name)

    def save(self) -> None:
        """Record the answer with what it read; best effort (a repo it cannot write keeps
        the full status)."""
        if not self.keep or self.outside or self.result is None:
            return
        state_dir = self.repo / ".wizard"
        if not state_dir.is_dir() or state_dir.is_symlink():
            return
        deps = {path: signature(path) for path in sorted(self.paths)}
        for directory in sorted(self.listed):
            deps[directory + LISTED] = signature(directory + LISTED)
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            for name in names:  # a file's content can be read off a listing's stat()
                deps.setdefault(path := os.path.join(directory, name), signature(path))
        deps.update(code_files())
        settled = int((self.started - SETTLED) * 1e9)
        if any(sig is not None and _newest(sig) >= settled for sig in deps.values()):
            return
        renders = {console_key(): self.text} if self.text is not None else {}
        _write(self.repo, {"deps": deps, "result": self.result, "renders": renders})


def code_files() -> dict[str, Signature | None]:
    """The source files of the code loaded now that works out or renders the answer."""
    found: dict[str, Signature | None] = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and name.partition(".")[0] in CODE:
            found[os.path.abspath(path)] = signature(path)
    return found


_active: Reads | None = None
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    reads = _active
    if reads is None:
        return
    try:
        if event == "open" and args:
            reads.saw(args[0])
        elif event in ("os.listdir", "os.scandir") and args:
            reads.saw(args[0] if args[0] is not None else ".", listed=True)
        elif event in _OUTSIDE:
            reads.outside = event
    except Exception:  # an audit hook that raises would fail the open itself
        reads.outside = "unreadable audit event"


@contextmanager
def recording(repo: Path, *, keep: bool = True) -> Iterator[Reads]:
    """Note every path the block opens, lists or stats (single-threaded callers only: the
    stat functions are wrapped while it runs)."""
    global _active, _hooked
    reads = Reads(repo.expanduser().resolve(), keep)
    if not keep:
        yield reads
        return
    if not _hooked:  # audit hooks cannot be removed: one for the process, idle when not recording
        sys.addaudithook(_audit)
        _hooked = True
    real_stat, real_lstat = os.stat, os.lstat

    # Path.exists(), is_file(), os.path.* and the wizard's link checks stat without opening;
    # an answer may hang on a file being absent, so those paths count as read too.
    def seen_stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        reads.saw(path)
        return real_stat(path, *args, **kwargs)

    def seen_lstat(path: Any, *args: Any, **kwargs: Any) -> Any:
        reads.saw(path)
        return real_lstat(path, *args, **kwargs)

    _active = reads
    os.stat, os.lstat = seen_stat, seen_lstat
    try:
        yield reads
    finally:
        os.stat, os.lstat = real_stat, real_lstat
        _active = None


def _version() -> str:
    return f"{FORMAT} {__version__} {sys.version}"


def _write(repo: Path, memo: dict[str, Any]) -> None:
    from .fsutil import SECRET_FILE_MODE, atomic_write, ensure_private_dir

    try:
        text = json.dumps({"format": _version(), "repo": str(repo), **memo})
    except (TypeError, ValueError):  # a hand-edited ledger's odd value: nothing to record
        return
    try:
        ensure_private_dir((repo / MEMO).parent, repo)
        atomic_write(repo / MEMO, text, mode=SECRET_FILE_MODE, root=repo)
    except (OSError, WizardError):  # a link, a repo it may not write: the full status stays
        pass


def _read(repo: Path) -> dict[str, Any] | None:
    """The recorded answer for ``repo`` (never through a link); None when there is none."""
    try:
        for part in (repo / ".wizard", repo / MEMO.parent):
            if not stat.S_ISDIR(_lstat(part).st_mode):
                return None
        fd = os.open(repo / MEMO, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            memo = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(memo, dict) or memo.get("format") != _version():
        return None
    if memo.get("repo") != str(repo):  # a copy of the repo elsewhere works its own out
        return None
    return memo


def _still_holds(memo: dict[str, Any]) -> bool:
    deps = memo.get("deps")
    if not isinstance(deps, dict) or not deps:
        return False
    return all(signature(path) == sig for path, sig in deps.items())


def console_key() -> str:
    """The terminal set-up Rich renders the table for (streams, size, encoding, environment)."""
    out = sys.stdout
    try:
        tty = out.isatty()
    except (AttributeError, ValueError, OSError):
        tty = None
    size = None
    for stream in (sys.__stdin__, sys.__stdout__, sys.__stderr__):
        try:
            size = list(os.get_terminal_size(stream.fileno() if stream else -1))
            break
        except (AttributeError, ValueError, OSError):
            continue
    environ = [os.environ.get(name) for name in RICH_ENV]
    return json.dumps([tty, getattr(out, "encoding", None), size, environ])


def render(steps: list[dict[str, str]]) -> str:
    """The plain status table, as Rich prints it on this terminal."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    table.add_column("step")
    table.add_column("state")
    table.add_column("why")
    for step in steps:
        style = STATE_STYLE.get(step["state"], "")
        table.add_row(step["name"], f"[{style}]{step['state']}[/]", escape(step["reason"]))
    console = Console(highlight=False)
    with console.capture() as captured:
        console.print(table)
    return captured.get()


def json_document(repo: Path, result: dict[str, Any]) -> str:
    """``status --json``'s document."""
    doc = {
        "command": "status",
        "secure_repo": str(repo),
        "ok": result["ok"],
        "steps": result["steps"],
        "checks": result["checks"],
    }
    return json.dumps(doc, indent=2) + "\n"


def answer(repo: Path, *, as_json: bool) -> int | None:
    """Print the recorded status of ``repo`` and return its exit code; None when no recorded
    answer still holds (the full status is then worked out)."""
    try:
        root = repo.expanduser().resolve()
    except (OSError, RuntimeError):
        return None
    memo = _read(root)
    if memo is None or not _still_holds(memo):
        return None
    try:
        result = memo["result"]
        ok = result["ok"] is True
        if as_json:
            text = json_document(root, result)
        else:
            key = console_key()
            renders: dict[str, str] = memo.get("renders") or {}
            text = renders.get(key) or render(result["steps"])
            if key not in renders:  # kept for the next status on this terminal
                kept = [(k, v) for k, v in renders.items() if k != key][-(RENDERS - 1) :]
                _write(root, {**memo, "renders": {**dict(kept), key: text}})
    except (KeyError, TypeError, AttributeError):  # not a record this version wrote
        return None
    sys.stdout.write(text)
    return exit_codes.OK if ok else exit_codes.FAILED
