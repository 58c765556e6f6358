"""One ansible run read back from disk: its events in order, and what they add up to.

ansible-runner writes each event as ``<artifacts>/job_events/<counter>-<uuid>.json`` (atomically,
in counter order) and, once ansible has ended and every event is on disk, the files ``status``
and ``rc``. :func:`follow_events` hands the events to a callback from the first one on — a
wizard started again after a crash replays the run so far, then follows it; :class:`RunSummary`
turns them into what the operator watches: play, task n of m, per-host counts, elapsed time
and, on failure, the failing task's own error rather than ansible's closing lines.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

LOG_LINES = 200  # the log tail a summary keeps
STDOUT_TAIL = 20  # lines of a failed command's stdout shown with its error
FINAL_STATUSES = ("successful", "failed", "timeout", "canceled")
FACTS_ACTIONS = ("gather_facts", "setup", "ansible.builtin.gather_facts", "ansible.builtin.setup")


def _counter(name: str) -> int | None:
    head, _, rest = name.partition("-")
    if not rest.endswith(".json") or rest.endswith("-partial.json") or not head.isdigit():
        return None
    return int(head)


def read_events(artifacts_dir: Path, after: int = 0) -> list[dict[str, Any]]:
    """The events on disk whose counter is above ``after``, in order."""
    events_dir = artifacts_dir / "job_events"
    try:
        entries = list(os.scandir(events_dir))
    except FileNotFoundError:
        return []
    numbered = sorted(
        (counter, entry.path)
        for entry in entries
        if (counter := _counter(entry.name)) is not None and counter > after
    )
    events = []
    for _counter_value, path in numbered:
        try:
            with open(path, encoding="utf-8") as handle:
                events.append(json.load(handle))
        except (OSError, ValueError):
            break  # not there yet as a whole: the next look takes it
    return events


def run_result(artifacts_dir: Path) -> tuple[str, int] | None:
    """ansible-runner's final status and ansible's exit code, once the run has ended."""
    try:
        status = (artifacts_dir / "status").read_text(encoding="utf-8").strip()
        rc = int((artifacts_dir / "rc").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return (status, rc) if status in FINAL_STATUSES else None


def follow_events(
    artifacts_dir: Path,
    on_event: Callable[[dict[str, Any]], None],
    cancelled: Callable[[], bool] = lambda: False,
    *,
    running: Callable[[], bool] | None = None,
    poll: float = 0.1,
) -> tuple[str, int] | None:
    """Feed ``on_event`` every event from the first, then each new one, until the run ends.

    Returns ``(status, rc)`` once ansible-runner has recorded them (every event has been fed
    then), or None when ``cancelled()`` turns true (only the following stops) or when
    ``running()`` says the run's process is gone without having recorded an end."""
    last = 0
    seen_mtime = -1
    while True:
        mtime = _mtime(artifacts_dir / "job_events")
        if mtime != seen_mtime:
            seen_mtime = mtime
            for event in read_events(artifacts_dir, last):
                on_event(event)
                last = int(event["counter"])
                if cancelled():
                    return None
        result = run_result(artifacts_dir)
        if result is not None:
            for event in read_events(artifacts_dir, last):
                on_event(event)
                last = int(event["counter"])
            return result
        if cancelled():
            return None
        if running is not None and not running():
            for event in read_events(artifacts_dir, last):
                on_event(event)
                last = int(event["counter"])
            return run_result(artifacts_dir)
        time.sleep(poll)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return -1


# --- the summary --------------------------------------------------------------------------------


@dataclass
class HostCounts:
    """One host's results so far, as ansible's recap counts them (ok includes changed)."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    ignored: int = 0
    rescued: int = 0


@dataclass(frozen=True)
class Failure:
    """A task that failed on a host (or could not reach it), with the module's own message."""

    play: str
    task: str
    host: str
    action: str
    message: str  # msg, or the censored note of a no_log task
    stderr: str = ""  # stderr, or module_stderr when the module itself broke
    stdout_tail: str = ""  # the last lines of stdout / module_stdout
    rc: int | None = None
    unreachable: bool = False

    def describe(self) -> str:
        """The failure as the operator reads it: where, then the real error."""
        what = "could not reach" if self.unreachable else "failed on"
        lines = [f"task {self.task!r} {what} {self.host}"]
        if self.message:
            lines.append(self.message)
        if self.rc is not None:
            lines.append(f"exit code {self.rc}")
        if self.stderr:
            lines += ["stderr:", self.stderr]
        if self.stdout_tail:
            lines += ["stdout (last lines):", self.stdout_tail]
        return "\n".join(lines)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value).strip()


def _tail(text: str, lines: int = STDOUT_TAIL) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _failure(data: dict[str, Any], *, unreachable: bool) -> Failure:
    res = data.get("res") or {}
    if not isinstance(res, dict):
        res = {"msg": str(res)}
    failed_items = [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")]
    source = failed_items[0] if failed_items else res
    message = _text(source.get("msg") or res.get("msg") or source.get("censored"))
    stderr = _text(source.get("stderr") or source.get("module_stderr"))
    stdout = _text(source.get("stdout") or source.get("module_stdout"))
    rc = source.get("rc")
    return Failure(
        play=str(data.get("play") or ""),
        task=str(data.get("task") or ""),
        host=str(data.get("host") or ""),
        action=str(data.get("task_action") or ""),
        message=message,
        stderr=stderr,
        stdout_tail=_tail(stdout),
        rc=rc if isinstance(rc, int) else None,
        unreachable=unreachable,
    )


def _created(event: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event.get("created")))
    except ValueError:
        return None


@dataclass
class RunSummary:
    """What a run's events add up to; plain data, fed one event at a time (:meth:`feed`)."""

    task_total: int | None = None  # from --list-tasks (ansible.tasks_from); None: unknown
    play: str | None = None
    task: str | None = None
    task_number: int = 0  # tasks started, implicit fact gathering and handlers left out
    hosts: dict[str, HostCounts] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    started_at: datetime | None = None
    last_event_at: datetime | None = None
    finished: bool = False  # the recap (playbook_on_stats) has been seen
    events: int = 0
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))

    @classmethod
    def of(cls, events: Iterable[dict[str, Any]], task_total: int | None = None) -> RunSummary:
        summary = cls(task_total=task_total)
        for event in events:
            summary.feed(event)
        return summary

    @property
    def failure(self) -> Failure | None:
        """The first failure: the error to show (later ones are often its consequences)."""
        return self.failures[0] if self.failures else None

    @property
    def ok(self) -> bool:
        """Finished with no host failed or unreachable."""
        return self.finished and not any(c.failed or c.unreachable for c in self.hosts.values())

    @property
    def tasks_shown(self) -> str:
        """``task n of m`` as far as it is known (m grows when dynamic includes add tasks)."""
        if self.task_total is None:
            return f"task {self.task_number}"
        return f"task {self.task_number} of {max(self.task_total, self.task_number)}"

    def elapsed(self, now: datetime | None = None) -> float:
        """Seconds from the first event to ``now`` (while running) or to the last event."""
        if self.started_at is None:
            return 0.0
        end = self.last_event_at if (self.finished or now is None) else now
        return max(0.0, ((end or self.started_at) - self.started_at).total_seconds())

    def _host(self, name: str) -> HostCounts:
        return self.hosts.setdefault(name, HostCounts())

    def feed(self, event: dict[str, Any]) -> None:
        """Take one event into account."""
        self.events += 1
        created = _created(event)
        if created is not None:
            self.started_at = self.started_at or created
            self.last_event_at = created
        stdout = str(event.get("stdout") or "").replace("\r\n", "\n").replace("\r", "\n")
        self.log.extend(line for line in stdout.split("\n") if line.strip())
        kind = str(event.get("event", ""))
        data = event.get("event_data") or {}
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, data)

    def _play_start(self, data: dict[str, Any]) -> None:
        self.play = str(data.get("name") or data.get("play") or "")
        self.task = None

    def _task_start(self, data: dict[str, Any]) -> None:
        self.task = str(data.get("name") or data.get("task") or "")
        implicit_facts = data.get("task_action") in FACTS_ACTIONS and not data.get("task_path")
        handler = bool(data.get("is_conditional"))
        if not implicit_facts and not handler:
            self.task_number += 1

    def _ok(self, data: dict[str, Any]) -> None:
        counts = self._host(str(data.get("host", "")))
        counts.ok += 1
        res = data.get("res")
        if isinstance(res, dict) and res.get("changed"):
            counts.changed += 1

    def _failed(self, data: dict[str, Any]) -> None:
        counts = self._host(str(data.get("host", "")))
        if data.get("ignore_errors"):
            counts.ok += 1
            counts.ignored += 1
            return
        counts.failed += 1
        self.failures.append(_failure(data, unreachable=False))

    def _skipped(self, data: dict[str, Any]) -> None:
        self._host(str(data.get("host", ""))).skipped += 1

    def _unreachable(self, data: dict[str, Any]) -> None:
        self._host(str(data.get("host", ""))).unreachable += 1
        self.failures.append(_failure(data, unreachable=True))

    def _stats(self, data: dict[str, Any]) -> None:
        # The recap is ansible's own count: it replaces ours (rescues, retries, handlers).
        self.finished = True
        self.play = self.task = None
        names = {
            "ok": "ok",
            "changed": "changed",
            "failures": "failed",
            "dark": "unreachable",
            "skipped": "skipped",
            "ignored": "ignored",
            "rescued": "rescued",
        }
        hosts: dict[str, HostCounts] = {}
        for key, attribute in names.items():
            for host, count in (data.get(key) or {}).items():
                setattr(hosts.setdefault(host, HostCounts()), attribute, int(count))
        for host in data.get("processed") or {}:
            hosts.setdefault(host, HostCounts())
        self.hosts = hosts


_HANDLERS: dict[str, Callable[[RunSummary, dict[str, Any]], None]] = {
    "playbook_on_play_start": RunSummary._play_start,
    "playbook_on_task_start": RunSummary._task_start,
    "runner_on_ok": RunSummary._ok,
    "runner_on_async_ok": RunSummary._ok,
    "runner_on_failed": RunSummary._failed,
    "runner_on_async_failed": RunSummary._failed,
    "runner_on_skipped": RunSummary._skipped,
    "runner_on_unreachable": RunSummary._unreachable,
    "playbook_on_stats": RunSummary._stats,
}


def summarize(artifacts_dir: Path, task_total: int | None = None) -> RunSummary:
    """The summary of every event on disk so far (a replay)."""
    return RunSummary.of(read_events(artifacts_dir), task_total)


def iter_stdout(events: Iterable[dict[str, Any]]) -> Iterator[str]:
    """ansible's text output, line by line, as the events carry it (for a full log)."""
    for event in events:
        stdout = str(event.get("stdout") or "").replace("\r\n", "\n")
        if stdout:
            yield from stdout.split("\n")
