"""A pytest plugin: under CI (``CI`` set), tests skipped for a missing required tool fail the run.

Tests skip with :func:`skip_missing` (a reason starting with ``REQUIRED``) when terraform or
its provider mirror is absent; a developer's laptop then still runs the rest. ``.ci/run`` runs
``make test`` only, so the check lives here: at the end of the session such skips turn the
exit status into a failure and the summary says which tool is missing.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

PREFIX = "REQUIRED tool missing: "


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_missing(reason: str) -> None:
    pytest.skip(PREFIX + reason)


def _required_skips(terminalreporter: Any) -> list[str]:
    found = []
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""
        if PREFIX in str(reason):
            found.append(f"{report.nodeid}: {reason}")
    return found


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    skipped = _required_skips(terminalreporter)
    if skipped and under_ci():
        terminalreporter.section("required tests skipped under CI", sep="=", red=True)
        for line in skipped:
            terminalreporter.write_line(line)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and under_ci() and _required_skips(reporter):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
