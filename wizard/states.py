"""The states a step can be in, as the ledger and the status checks give them.

A module of its own, so the step list can be drawn before the engine is imported.
"""

from __future__ import annotations

DONE, STALE, PENDING, FAILED = "done", "stale", "pending", "failed"
RUNNING = "running"  # a detached run (terraform, ansible) is going, or ended unrecorded
