"""The seven steps, in order. Each implemented step is one module with the same interface:

``INPUTS`` (answer keys it reads), ``plan(session, decisions, force)`` → :class:`Plan`,
``apply(session, plan)`` → outputs for the ledger, and ``probe(session)`` → None when what the
step did is still in place, else the reason it is not.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from .base import Change, Check, Conflict, Plan, Statement, StepError

__all__ = [
    "STEPS",
    "Change",
    "Check",
    "Conflict",
    "Plan",
    "Statement",
    "StepError",
    "StepInfo",
    "by_name",
]


@dataclass(frozen=True)
class StepInfo:
    name: str
    title: str
    summary: str
    module: str | None = None  # None: not available in this version yet

    @property
    def available(self) -> bool:
        return self.module is not None

    def load(self) -> ModuleType:
        if self.module is None:
            raise StepError(f"the {self.name} step is not available in this version yet")
        return importlib.import_module(self.module)


STEPS: tuple[StepInfo, ...] = (
    StepInfo(
        "prereqs",
        "Prerequisites",
        "Checks AWS access, tracking logs, edxapp DB, tools, keys.",
        "wizard.steps.prereqs",
    ),
    StepInfo(
        "terraform",
        "Terraform",
        "Creates the instances, RDS, Elasticsearch, buckets, roles.",
        "wizard.steps.terraform",
    ),
    StepInfo(
        "database",
        "Database",
        "Creates the analytics databases, users and grants.",
        "wizard.steps.database",
    ),
    StepInfo(
        "files",
        "Secure-repo files",
        "Writes vars-analytics.yml and the analytics-tasks files from your answers.",
        "wizard.steps.files",
    ),
    StepInfo("playbooks", "Playbooks", "Runs the Insights/API and Jenkins playbooks."),
    StepInfo("jenkins", "Jenkins access", "Opens Jenkins through an SSH tunnel via the director."),
    StepInfo("report", "Verification", "Checks everything answers and writes a report."),
)

NAMES = tuple(step.name for step in STEPS)


def by_name(name: str) -> StepInfo:
    for step in STEPS:
        if step.name == name:
            return step
    raise StepError(f"unknown step {name!r}; steps are: {', '.join(NAMES)}")
