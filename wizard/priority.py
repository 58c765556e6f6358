"""The long runs the wizard starts (terraform, ansible) yield the CPU to the wizard's keys.

On a 2-core director, a terraform plan or an ansible run keeps the cores busy; at the same
priority as the wizard, a key waited for its share of them (bench/keys: p99 up to 150 ms with
both cores busy; with that load 10 steps nicer, under 100). A nicer run loses nothing while the
cores are free: the priority only counts when something else wants them.
"""

from __future__ import annotations

import contextlib
import os

#: How many steps nicer than the wizard its runs are.
STEPS = 10


def nicer() -> int:
    """The nice value for a run: ``STEPS`` more than the wizard's own, at most 19."""
    return min(19, os.getpriority(os.PRIO_PROCESS, 0) + STEPS)


def lower_group(pgid: int) -> None:
    """Make every thread of process group ``pgid`` (a run started in a session of its own)
    nicer. All threads: on Linux a nice value is per thread, and a run that started its threads
    before this call (Go starts several at once) would keep them otherwise; threads started later
    take their creator's value."""
    with contextlib.suppress(OSError):  # gone already, or a system that refuses: no matter
        os.setpriority(os.PRIO_PGRP, pgid, nicer())


def lower_self() -> None:
    """Make this (single-threaded) process nicer, with what it starts from now on."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, nicer())
