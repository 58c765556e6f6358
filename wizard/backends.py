"""The outside systems a session's steps reach, chosen once per session.

Steps never build an AWS session, a terraform runner or an SSH tunnel themselves: they ask the
session's :class:`Backends`. Tests and demo mode swap a backend here, in one place, instead of
an ``if`` in every step. MySQL servers are reached by address (the answers name them), so they
need no entry of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .aws import Aws, Target
    from .ssh import HostKeyUnknown, JumpHost, Tunnel
    from .terraform import Terraform


def _aws(target: Target) -> Aws:
    from .aws import Aws

    return Aws(target)


def _terraform(
    workdir: Path, cancelled: Callable[[], bool], log: Callable[[str], None]
) -> Terraform:
    from .terraform import Terraform

    return Terraform(workdir, cancelled=cancelled, log=log)


def _tunnel(
    jump: JumpHost,
    *,
    accept: Collection[str] = (),
    confirm: Callable[[HostKeyUnknown], bool] | None = None,
    record: bool = True,
) -> Tunnel:
    from .ssh import open_tunnel

    return open_tunnel(jump, accept=accept, confirm=confirm, record=record)


@dataclass(frozen=True)
class Backends:
    """Factories for the adapters steps use; the defaults are the real ones."""

    aws: Callable[[Target], Aws] = _aws
    terraform: Callable[[Path, Callable[[], bool], Callable[[str], None]], Terraform] = _terraform
    tunnel: Callable[..., Tunnel] = _tunnel


REAL = Backends()
