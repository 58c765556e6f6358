"""Long runs that outlive the wizard: a command started in its own session, output to files.

A run lives in ``<runs dir>/<id>/`` (0700): ``stdout`` and ``stderr`` (0600) and ``run.json``,
a small record (the command as shown — the caller keeps secrets out of it —, pids, start
times, the exit status). Nothing the command needs depends on the wizard: no pipe to it, stdin
is /dev/null, and it is in a session of its own, so a SIGKILL of the wizard or a dropped SSH
connection (SIGHUP) does not reach it. A small supervisor (``python -m wizard.detached``, this
module) starts the command, waits for it and writes its exit status into the record, so a run
that ends while nobody watches is still known to have ended, and how.

A reattached wizard finds the run (:func:`find`, :func:`running`), replays and follows its
output (:meth:`Run.follow`) and, once it has used the result, marks it picked up. A run whose
supervisor died before recording an exit status, and whose command is gone, is *interrupted*.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import priority
from .errors import WizardError
from .fsutil import PRIVATE_DIR_MODE, SECRET_FILE_MODE, atomic_write

RECORD = "run.json"
STDOUT = "stdout"
STDERR = "stderr"
RUNNING, FINISHED, INTERRUPTED = "running", "finished", "interrupted"
START_TIMEOUT = 30.0  # seconds for the supervisor to start the command (a loaded machine)
KILL_WAIT = 10.0  # after SIGKILL, how long the supervisor may take to record the exit

_STEP_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,40}")
_RUN_ID = re.compile(r"\d{8}T\d{6}Z-[a-z0-9][a-z0-9_-]{0,40}-[0-9a-f]{4}")
_RUN_FILES = (RECORD, STDOUT, STDERR)


class RunError(WizardError):
    """A detached run could not be started, read or stopped."""


class RunInterrupted(RunError):
    """The run ended without an exit status: its supervisor was killed along with it."""


# --- processes ------------------------------------------------------------------------------


def process_start(pid: int | None) -> int | None:
    """The start time of ``pid`` (clock ticks since boot, from /proc); None if gone or a zombie.

    With the pid it tells a live process from a later one that reuses the pid."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields follow the last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _same_process(pid: Any, start: Any) -> bool:
    return isinstance(pid, int) and start is not None and process_start(pid) == start


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# --- the record -----------------------------------------------------------------------------


def _read_record(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(
            f"the run record {directory / RECORD} cannot be read ({exc})",
            "remove that run directory if the run is over",
        ) from None
    if not isinstance(data, dict):
        raise RunError(f"the run record {directory / RECORD} is not a JSON object")
    return data


def _write_record(directory: Path, record: Mapping[str, Any]) -> None:
    atomic_write(directory / RECORD, json.dumps(record, indent=2) + "\n", mode=SECRET_FILE_MODE)


def _update_record(directory: Path, **changes: Any) -> dict[str, Any]:
    record = _read_record(directory)
    record.update(changes)
    _write_record(directory, record)
    return record


@dataclass
class Run:
    """One detached run, as its directory says it is (the record is re-read on every question)."""

    directory: Path
    record: dict[str, Any]

    @classmethod
    def load(cls, directory: Path) -> Run:
        return cls(directory, _read_record(directory))

    def reload(self) -> Run:
        self.record = _read_record(self.directory)
        return self

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def step(self) -> str:
        return str(self.record["step"])

    @property
    def shown(self) -> str:
        return str(self.record.get("shown", ""))

    @property
    def stdout(self) -> Path:
        return self.directory / STDOUT

    @property
    def stderr(self) -> Path:
        return self.directory / STDERR

    @property
    def pid(self) -> int | None:
        pid = self.record.get("pid")
        return pid if isinstance(pid, int) else None

    def alive(self) -> bool:
        """The command is still running: its pid exists and is the same process (start time)."""
        self.reload()
        return _same_process(self.record.get("pid"), self.record.get("pid_start"))

    def supervised(self) -> bool:
        """The supervisor is still there (it records the exit status when the command ends)."""
        return _same_process(self.record.get("supervisor_pid"), self.record.get("supervisor_start"))

    @property
    def exit_code(self) -> int | None:
        """The exit status the supervisor recorded (negative: killed by that signal)."""
        self.reload()
        code = self.record.get("exit_code")
        return code if isinstance(code, int) else None

    @property
    def finished(self) -> bool:
        return self.exit_code is not None

    @property
    def state(self) -> str:
        """RUNNING, FINISHED (an exit status was recorded) or INTERRUPTED (ended without one)."""
        if self.finished:
            return FINISHED
        # A live supervisor without an exit status is about to record one.
        if self.alive() or self.supervised():
            return RUNNING
        # Read again: the supervisor may have recorded the exit just before it went.
        return FINISHED if self.finished else INTERRUPTED

    @property
    def picked_up(self) -> bool:
        return bool(self.reload().record.get("picked_up_at"))

    def pick_up(self) -> None:
        """Mark the result as used by the wizard (outputs read, ledger updated), not to redo."""
        self.annotate(picked_up_at=_now())

    def annotate(self, **fields: Any) -> None:
        """Add ``fields`` to the record of a run that has ended (the supervisor writes no more)."""
        if self.state == RUNNING:
            raise RunError(f"run {self.id} is still going; its record is the supervisor's")
        self.record = _update_record(self.directory, **fields)

    def elapsed(self, now: float | None = None) -> float:
        """Seconds from the start to the end (or to ``now`` while it runs)."""
        started = datetime.fromisoformat(str(self.record["started_at"])).timestamp()
        ended = self.record.get("finished_at")
        end = datetime.fromisoformat(ended).timestamp() if ended else (now or time.time())
        return max(0.0, end - started)

    def lines(self) -> list[str]:
        """Every line the command has written to stdout so far (for a replay)."""
        return _text(self.stdout).splitlines()

    def error_lines(self) -> list[str]:
        return _text(self.stderr).splitlines()

    def follow(
        self,
        on_line: Callable[[str], None],
        *,
        cancelled: Callable[[], bool] = lambda: False,
        poll: float = 0.1,
    ) -> int | None:
        """Feed ``on_line`` every stdout line from the start, then each new one as it comes.

        Returns the exit status once the supervisor has recorded it, or None as soon as
        ``cancelled()`` is true (only the following stops; the run goes on). Raises
        :class:`RunInterrupted` if the run ended without an exit status."""
        pending = b""
        with open(self.stdout, "rb") as handle:
            while True:
                chunk = handle.read(1 << 16)
                if chunk:
                    pending = _deliver(pending + chunk, on_line)
                    if cancelled():
                        return None
                    continue
                state = self.state
                if state != RUNNING:
                    # Everything the command wrote is in the file by now.
                    pending = _deliver(pending + handle.read(), on_line)
                    if pending:
                        on_line(pending.decode("utf-8", "replace"))
                    if state == FINISHED:
                        return self.exit_code
                    raise RunInterrupted(
                        f"{self.shown or self.step} (run {self.id}) ended without an exit status: "
                        "it was killed with its supervisor",
                        "check what it left behind before running it again",
                    )
                if cancelled():
                    return None
                time.sleep(poll)

    def stop(self, grace: float) -> int | None:
        """SIGINT to the run's process group, up to ``grace`` seconds to end, then SIGKILL.

        Returns the exit status (None if the run had already ended without one)."""
        if self.state != RUNNING:
            return self.exit_code
        group = self._group()
        if group is not None:
            _signal_group(group, signal.SIGINT)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self.state == RUNNING:
            time.sleep(0.1)
        if self.state != RUNNING:
            return self.exit_code
        pid = self.pid
        if pid is not None and _same_process(pid, self.record.get("pid_start")):
            # Descendants in sessions of their own (ansible-runner starts ansible-playbook so)
            # do not get the group's signals: found first, they die with the command.
            for child in [pid, *descendants(pid)]:
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + KILL_WAIT
        while time.monotonic() < deadline and not self.finished and self.supervised():
            time.sleep(0.1)
        if not self.finished:  # the supervisor is gone too: say what happened ourselves
            self.record = _update_record(
                self.directory, exit_code=-signal.SIGKILL, finished_at=_now(), stopped="killed"
            )
        return self.exit_code

    def _group(self) -> int | None:
        """The process group to signal, only while the command is the process recorded."""
        pid = self.pid
        if pid is None or not _same_process(pid, self.record.get("pid_start")):
            return None
        try:
            return os.getpgid(pid)
        except ProcessLookupError:
            return None


def _deliver(data: bytes, on_line: Callable[[str], None]) -> bytes:
    """Hand each complete line of ``data`` to ``on_line``; return the incomplete rest."""
    *complete, rest = data.split(b"\n")
    for line in complete:
        on_line(line.decode("utf-8", "replace"))
    return rest


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def children(pid: int) -> list[int]:
    """The pids of ``pid``'s children (every thread's), from /proc."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as handle:
                found += [int(p) for p in handle.read().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), whatever session each is in."""
    found: list[int] = []
    pending = children(pid)
    while pending:
        child = pending.pop(0)
        if child not in found:
            found.append(child)
            pending += children(child)
    return found


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass


# --- starting and finding runs --------------------------------------------------------------


def new_id(step: str) -> str:
    """A run id that sorts by start time: ``20261128T010203Z-terraform-ab12``."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{step}-{secrets.token_hex(2)}"


def start(
    runs_dir: Path,
    step: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    shown: str,
    umask: int = 0o077,
    run_id: str | None = None,
) -> Run:
    """Start ``argv`` detached (own session, output to the run's files) and return its run.

    ``shown`` is the command as the operator may see it: it goes into the record, so it must
    hold no secret (``argv`` itself is handed to the supervisor through a pipe, never written).
    The command runs under ``umask`` (files it creates, e.g. a state with a password, are
    private). ``run_id`` (from :func:`new_id`) names a run directory the caller prepared for
    the command (e.g. ansible's private data dir inside it); it must not hold a run yet."""
    if not _STEP_NAME.fullmatch(step):
        raise RunError(f"{step!r} is not a usable step name for a run directory")
    runs_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(runs_dir, PRIVATE_DIR_MODE)
    if run_id is not None and not _RUN_ID.fullmatch(run_id):
        raise RunError(f"{run_id!r} is not a run id made by new_id()")
    run_id = run_id or new_id(step)
    directory = runs_dir / run_id
    directory.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    if directory.is_symlink() or any((directory / name).exists() for name in _RUN_FILES):
        raise RunError(f"the run directory {directory} already holds a run")
    os.chmod(directory, PRIVATE_DIR_MODE)
    for name in (STDOUT, STDERR):
        os.close(os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE))
    _write_record(
        directory,
        {
            "id": run_id,
            "step": step,
            "shown": shown,
            "cwd": str(cwd),
            "started_at": _now(),
            "supervisor_pid": None,
            "supervisor_start": None,
            "pid": None,
            "pid_start": None,
            "finished_at": None,
            "exit_code": None,
            "picked_up_at": None,
        },
    )
    spec = json.dumps({"argv": list(argv), "cwd": str(cwd), "umask": umask}).encode("utf-8")
    # Started from the directory that holds this package, so -m finds this very version.
    package_parent = Path(__file__).resolve().parent.parent
    with (
        open(directory / STDOUT, "ab") as out,
        open(directory / STDERR, "ab") as err,
    ):
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "wizard.detached", str(directory)],
            cwd=package_parent,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            start_new_session=True,
            close_fds=True,
        )
    assert supervisor.stdin is not None
    try:
        supervisor.stdin.write(spec)
        supervisor.stdin.close()
    except BrokenPipeError:
        pass
    # While this wizard lives it reaps the supervisor when it ends (no zombie); if the wizard
    # dies first, the supervisor simply carries on.
    threading.Thread(target=supervisor.wait, daemon=True).start()
    run = Run(directory, {})
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        run.reload()
        if run.record.get("error"):
            raise RunError(str(run.record["error"]), "check that the program is installed")
        if run.record.get("pid") is not None:
            return run
        if supervisor.poll() is not None or time.monotonic() > deadline:
            tail = " ".join(run.error_lines()[-3:]) or "no message"
            raise RunError(
                f"could not start {shown} in the background ({tail})",
                f"see {directory / STDERR}",
            )
        time.sleep(0.01)


def runs(runs_dir: Path) -> list[Run]:
    """Every readable run in ``runs_dir``, oldest first."""
    found = []
    if not runs_dir.is_dir():
        return []
    for directory in runs_dir.iterdir():
        if not (directory / RECORD).is_file():
            continue
        try:
            found.append(Run.load(directory))
        except RunError:
            continue
    return sorted(found, key=lambda run: (str(run.record.get("started_at")), run.id))


def find(runs_dir: Path, step: str) -> Run | None:
    """The newest run of ``step``, whatever its state."""
    mine = [run for run in runs(runs_dir) if run.step == step]
    return mine[-1] if mine else None


def running(runs_dir: Path) -> list[Run]:
    """The runs still going, oldest first."""
    return [run for run in runs(runs_dir) if run.state == RUNNING]


def prune(runs_dir: Path, keep: int = 10) -> None:
    """Delete the oldest picked-up runs of each step beyond the newest ``keep``."""
    import shutil

    by_step: dict[str, list[Run]] = {}
    for run in runs(runs_dir):
        by_step.setdefault(run.step, []).append(run)
    for step_runs in by_step.values():
        for run in step_runs[:-keep] if keep else step_runs:
            if run.record.get("picked_up_at"):
                shutil.rmtree(run.directory, ignore_errors=True)


# --- the supervisor -------------------------------------------------------------------------


def _ignore(signum: int, frame: Any) -> None:
    """A handler, not SIG_IGN: a caught signal is reset to default in the command at exec."""


def supervise(directory: Path) -> int:
    """Start the command the pipe on stdin describes, wait, record its exit status."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, _ignore)
    spec = json.loads(sys.stdin.buffer.read() or b"{}")
    os.umask(int(spec.get("umask", 0o077)))
    priority.lower_self()  # the command takes it on: the wizard's keys come first
    me = os.getpid()
    try:
        command = subprocess.Popen(
            spec["argv"], cwd=spec["cwd"], stdin=subprocess.DEVNULL, close_fds=True
        )
    except (OSError, KeyError, TypeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        program = Path(str((spec.get("argv") or ["?"])[0])).name
        _update_record(
            directory,
            supervisor_pid=me,
            supervisor_start=process_start(me),
            error=f"cannot start {program}: {reason}",
            exit_code=127,
            finished_at=_now(),
        )
        return 127
    _update_record(
        directory,
        supervisor_pid=me,
        supervisor_start=process_start(me),
        pid=command.pid,
        pid_start=process_start(command.pid),
    )
    code = command.wait()
    _update_record(directory, exit_code=code, finished_at=_now())
    return 0


if __name__ == "__main__":
    sys.exit(supervise(Path(sys.argv[1])))
