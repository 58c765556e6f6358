"""The tests' MariaDB and sshd: the ones demo mode runs (wizard/demo/services.py).

A missing binary skips the tests that need it, except under CI (``CI=true``) where they fail: a
CI run must not pass by skipping them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ci_required import skip_missing

from wizard.demo import services as _services
from wizard.demo.services import (
    LOOPBACK,
    SSHD,
    MariaDB,
    ToolMissing,
    free_port,
    stop,
    tail,
    wait_for_port,
)

__all__ = [
    "LOOPBACK",
    "SSHD",
    "MariaDB",
    "free_port",
    "mariadb_service",
    "require",
    "sshd_service",
    "stop",
    "tail",
    "wait_for_port",
]


def require(binary: str, package: str) -> str:
    """The path of ``binary``; skip (or fail under CI) with the package to install."""
    try:
        return _services.require(binary, package)
    except ToolMissing as exc:
        skip_missing(str(exc))
        raise


def mariadb_service(base: Path) -> Iterator[MariaDB]:
    try:
        yield from _services.mariadb_service(base)
    except ToolMissing as exc:
        skip_missing(str(exc))


def sshd_service(base: Path) -> Iterator[SSHD]:
    try:
        yield from _services.sshd_service(base)
    except ToolMissing as exc:
        skip_missing(str(exc))
