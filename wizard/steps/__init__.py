"""The seven steps, in order. Each implemented step is one module whose ``STEP`` is a
:class:`~wizard.steps.base.Step`; the list here holds what is shown before any step module is
loaded (names, titles, summaries), so start-up imports none of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Change, Check, Conflict, Plan, Statement, Step, StepError

__all__ = [
    "STEPS",
    "Change",
    "Check",
    "Conflict",
    "Plan",
    "Statement",
    "Step",
    "StepError",
    "StepInfo",
    "by_name",
]


#: What this package hands on from :mod:`.base`, imported on first use: the wizard's first
#: frame needs the list below only, and the step contract's classes would delay it.
_FROM_BASE = frozenset(("Change", "Check", "Conflict", "Plan", "Statement", "Step", "StepError"))


def __getattr__(name: str) -> Any:
    if name in _FROM_BASE:
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class StepInfo:
    name: str
    title: str
    summary: str
    module: str

    def load(self) -> Step:
        step: Step = importlib.import_module(self.module).STEP
        return step


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
    StepInfo(
        "playbooks",
        "Playbooks",
        "Runs the Insights/API and Jenkins playbooks, then installs the Jenkins files.",
        "wizard.steps.playbooks",
    ),
    StepInfo(
        "jenkins",
        "Jenkins access",
        "Creates the pipeline's Jenkins jobs through an SSH tunnel via the director.",
        "wizard.steps.jenkins",
    ),
    StepInfo(
        "report",
        "Verification",
        "Checks everything answers and writes a report.",
        "wizard.steps.report",
    ),
)

NAMES = tuple(step.name for step in STEPS)


def by_name(name: str) -> StepInfo:
    for step in STEPS:
        if step.name == name:
            return step
    from .base import StepError

    raise StepError(f"unknown step {name!r}; steps are: {', '.join(NAMES)}")
