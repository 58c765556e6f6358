"""The one error base, and the one place that decides what the operator sees of any error.

Adapters (AWS, MySQL, SSH, terraform, git, ansible) and steps raise subclasses of
:class:`WizardError`: one sentence of what went wrong and, apart, the fix. Headless mode and the
screens both go through :func:`explain`, so they agree on which errors are the operator's to fix
(shown as they are, secrets masked) and which are bugs (one sentence; the traceback goes to the
run log only).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from . import exit_codes


class WizardError(RuntimeError):
    """Something the operator can act on; ``str()`` is the message and, after "; ", the fix."""

    exit_code = exit_codes.FAILED

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(f"{message}; {fix}" if fix else message)
        self.message = message
        self.fix = fix


class UsageError(WizardError):
    """The command line asks for something that cannot be done; nothing was touched."""

    exit_code = exit_codes.USAGE


class StateError(WizardError):
    """The secure repo's own state (ledger, answers kept there) cannot be used as it is."""

    exit_code = exit_codes.STATE


class ConflictError(WizardError):
    """Going on would overwrite the operator's work or delete resources: they must say so."""

    exit_code = exit_codes.CONFLICT


class Cancelled(WizardError):
    """The operator stopped a running step."""

    exit_code = exit_codes.INTERRUPTED


class Detached(WizardError):
    """The operator left a long run going on its own; a later wizard picks it up."""

    exit_code = exit_codes.INTERRUPTED


@dataclass(frozen=True)
class Explained:
    """An error as the operator sees it."""

    message: str
    fix: str
    exit_code: int
    bug: bool  # not the operator's to fix: the caller logs the traceback

    def __str__(self) -> str:
        return f"{self.message}; {self.fix}" if self.fix else self.message


BUG_FIX = "run again with ANALYTICS_WIZARD_DEBUG=1 for details and report it"


def explain(exc: BaseException, redact: Callable[[str], str] = str) -> Explained:
    """What to show for ``exc``: every known failure as one sentence and its fix, masked."""
    if isinstance(exc, WizardError):
        return Explained(redact(exc.message), redact(exc.fix), exc.exit_code, bug=False)
    if isinstance(exc, OSError) and exc.errno is not None:
        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno in (errno.EACCES, errno.EPERM):
            return Explained(
                redact(f"permission denied{where}"),
                "check the owner and mode of that path",
                exit_codes.FAILED,
                bug=False,
            )
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return Explained(
                redact(f"the disk is full{where}; nothing half-written was kept"),
                "free some space and run again",
                exit_codes.FAILED,
                bug=False,
            )
        if exc.errno == errno.EROFS:
            return Explained(
                redact(f"the file system is read-only{where}"),
                "run the wizard on a writable secure repo",
                exit_codes.FAILED,
                bug=False,
            )
        return Explained(
            redact(f"{exc.strerror or 'input/output error'}{where}"),
            "check that path and run again",
            exit_codes.FAILED,
            bug=False,
        )
    return Explained(
        f"internal error ({type(exc).__name__}); this is a bug in analytics-wizard",
        BUG_FIX,
        exit_codes.INTERNAL,
        bug=True,
    )


class NeedsDecision(WizardError):
    """The step cannot go on until the operator decides (trust a host key, revoke a rule).

    A screen asks ``question`` and, on yes, plans again with ``decisions[key] = value``;
    headless mode stops with the message and the fix (how to decide on the command line).
    """

    def __init__(self, message: str, fix: str, *, key: str, value: str, question: str, yes: str):
        super().__init__(message, fix)
        self.key, self.value = key, value
        self.question, self.yes = question, yes
