"""The ``report`` step: verify the deployment item by item, and keep the report in the repo.

Each item (see :data:`wizard.report.ITEMS`) is a check with a stable id and a pass / warn / fail
verdict, shown live like the prerequisites. Applying saves ``.wizard/report.md`` and records the
step; a failing item leaves the step failed (the report says what to fix).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import report, ssh
from ..context import RunContext
from ..fsutil import FileWrite, file_mode, read_if_exists, write_files
from ..report import REPORT_FILE
from .base import CHECKS, Change, Check, Plan, Step, StepError, checks_failure

if TYPE_CHECKING:
    from ..engine import Session

NAME = "report"

INPUTS: tuple[str, ...] = (
    "client.name",
    "client.environment",
    "aws.profile",
    "aws.region",
    "aws.endpoint_url",
    "edxapp.lms_host",
    "insights.base_url",
    "analytics_api.port",
    "infrastructure.analytics_private_ips",
    "infrastructure.analytics_public_ips",
    "director.host",
    "director.port",
    "director.user",
    "director.key_file",
    "director.known_hosts",
    "jenkins.port",
    "jenkins.nginx_port",
    "jenkins.server_name",
)


def findings(session: Session, decisions: Mapping[str, str], ctx: RunContext) -> list[Check]:
    """Every item, as checks (each also sent as a ``check`` event)."""
    from .. import access

    found = access.collect_report(session, accept=ssh.accepted_host_keys(decisions))
    checks = [Check(f.id, f.verdict, f.finding, f.fix) for f in found]
    for check in checks:
        ctx.event("check", check=check)
    return checks


class ReportStep(Step):
    name = NAME
    inputs = INPUTS
    verb = "Save report"
    preview_label = "Verify"
    view = CHECKS
    checks = report.ITEMS
    check_noun = "report item"

    def plan(
        self, session: Session, decisions: Mapping[str, str], force: bool, ctx: RunContext
    ) -> Plan:
        """Check every item (changes nothing); the plan proposes the report file."""
        from ..findings import Finding

        checks = findings(session, decisions, ctx)
        text = report.to_markdown(
            [Finding(c.id, c.verdict, c.finding, c.fix) for c in checks], session.repo.name
        )
        old = read_if_exists(session.repo / REPORT_FILE, session.repo)
        old_mode = file_mode(session.repo / REPORT_FILE) if old is not None else None
        result = Plan(
            step=NAME,
            inputs=_values(session),
            checks=checks,
            decisions=dict(decisions),
        )
        result.changes.append(Change(REPORT_FILE, old, text, 0o644, old_mode))
        result.outputs = {"checks": [c.to_json() for c in checks]}
        return result

    def blocking(self, plan: Plan) -> str | None:
        return None  # the report is saved whatever it says; applying then fails on a failing item

    def recheck(
        self, session: Session, plan: Plan, cid: str, decisions: Mapping[str, str], ctx: RunContext
    ) -> Check:
        """The items share their connections, so all run again; ``cid``'s result is returned."""
        fresh = self.plan(session, decisions, False, ctx)
        plan.checks, plan.changes, plan.outputs = fresh.checks, fresh.changes, fresh.outputs
        return next(c for c in fresh.checks if c.id == cid)

    def apply(self, session: Session, plan: Plan, ctx: RunContext) -> dict[str, Any]:
        writes = [
            FileWrite(session.repo / c.path, c.new, c.mode, expected_old=c.old)
            for c in plan.changes
        ]
        write_files(writes, session.repo)
        ctx.progress(f"saved {REPORT_FILE}")
        problem = checks_failure(plan.checks, self.check_noun, overridable=False)
        if problem:
            raise StepError(problem)
        return plan.outputs

    def probe(self, session: Session) -> str | None:
        if read_if_exists(session.repo / REPORT_FILE, session.repo) is None:
            return f"{REPORT_FILE} is missing"
        return None

    def verify_outside(self, session: Session) -> str | None:
        """Every item still passes now (``status --verify`` runs the report again)."""
        from .. import access

        failing = [f for f in access.collect_report(session) if f.verdict == "fail"]
        if failing:
            return "report items fail now: " + "; ".join(f"{f.id}: {f.finding}" for f in failing)
        return None

    def question(self, plan: Plan) -> str:
        return f"Save the report as {REPORT_FILE} and record the step?"

    def outcome(self, plan: Plan, outputs: Mapping[str, Any]) -> str:
        passed = sum(c.verdict == "pass" for c in plan.checks)
        return f"{passed} of {len(plan.checks)} items pass; saved {REPORT_FILE}"


def _values(session: Session) -> dict[str, Any]:
    """The inputs that have a value (the report judges missing ones item by item)."""
    found: dict[str, Any] = {}
    for key in INPUTS:
        try:
            found[key] = session.resolved.get(key)
        except ValueError:
            found[key] = None
    return found


STEP = ReportStep()
