"""What a running step is handed: where its progress goes, and whether the operator stopped it.

The TUI builds a :class:`RunContext` over its worker (cancelled when the operator presses esc),
headless mode over a SIGINT flag, tests over plain lists. Steps and adapters never keep global
state for this: two runs (a plan and a probe, say) each have their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """A structured happening for live views (a check result, a resource applied, a task)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def _ignore(_: Any) -> None:
    return None


def _never() -> bool:
    return False


@dataclass(frozen=True)
class RunContext:
    """Callbacks of one run; every one of them may be called from a worker thread."""

    on_progress: Callable[[str], None] = _ignore
    on_event: Callable[[Event], None] = _ignore
    is_cancelled: Callable[[], bool] = _never
    # The operator leaves a detached run going on its own (quitting the TUI while it runs).
    is_detached: Callable[[], bool] = _never

    def progress(self, line: str) -> None:
        """One line for the operator (the session masks secrets before it gets here)."""
        self.on_progress(line)

    def event(self, kind: str, **data: Any) -> None:
        self.on_event(Event(kind, data))

    def cancelled(self) -> bool:
        return self.is_cancelled()

    def detached(self) -> bool:
        return self.is_detached()

    def with_cancel(self, cancelled: Callable[[], bool]) -> RunContext:
        """The same context, also cancelled when ``cancelled()`` says so."""
        mine = self.is_cancelled
        return RunContext(
            self.on_progress, self.on_event, lambda: mine() or cancelled(), self.is_detached
        )

    def wrap(self, progress: Callable[[str], str]) -> RunContext:
        """The same context with every progress line passed through ``progress`` first."""
        outer = self.on_progress
        return RunContext(
            lambda line: outer(progress(line)), self.on_event, self.is_cancelled, self.is_detached
        )


QUIET = RunContext()
