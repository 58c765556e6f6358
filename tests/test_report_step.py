"""The report step: headless, in-process and in the TUI.

Insights and the Analytics API are local HTTP stand-ins (wizard/demo/web_standins.py), Jenkins is the
stand-in of wizard/demo/jenkins_standin.py behind the tests' sshd as the director (none of the three can
be installed here); the creds bucket is on moto.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import web_standins
from conftest import PLANTED_PASSWORD, run_cli
from jenkins_standin import JenkinsStandin
from services import SSHD
from snapshot_apps.repos import form_ready, open_app, settle
from test_jenkins_step import jenkins_answers, known
from textual.widgets import DataTable, Static

from screens.checks import ChecksScreen
from wizard import jenkins_jobs, report, yamlio
from wizard.answers import flatten
from wizard.engine import Session, StepStatus
from wizard.states import DONE, FAILED, STALE
from wizard.steps import STEPS

REPORT = ".wizard/report.md"


@contextmanager
def deployment(
    repo: Path, tmp_path: Path, sshd: SSHD, moto: Any, *, api_works: bool
) -> Iterator[dict[str, Any]]:
    """A secure repo whose files are written, its creds in the bucket, its Jenkins jobs in the
    stand-in, Insights answering, and the API answering well or (``api_works=False``) with its
    database down. Yields the answers."""
    insights = web_standins.insights(lms_host="lms.example.com").start()
    api = web_standins.analytics_api(database=api_works).start()
    jenkins = JenkinsStandin().start()
    try:
        answers = jenkins_answers(
            sshd,
            known(tmp_path, sshd),
            jenkins.port,
            aws__endpoint_url=moto.url,
            insights__base_url=insights.url.rstrip("/"),
            analytics_api__port=api.port,
        )
        with Session.open(repo, command="test") as session:
            session.merge_answers(flatten(answers, "test"), "test")
            session.apply(session.plan("files"))
            values = jenkins_jobs.values_from(session.resolved.get)
        for name, xml in jenkins_jobs.render(jenkins_jobs.default_jobs_yaml(values)).items():
            jenkins.add_job(name, xml)
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="acme-edxanalytics")
        for name in report.CREDS:
            body = (repo / "analytics-tasks" / name).read_bytes()
            s3.put_object(
                Bucket="acme-edxanalytics", Key=name, Body=body, ServerSideEncryption="AES256"
            )
        yield answers
    finally:
        insights.stop()
        api.stop()
        jenkins.stop()


def report_state(repo: Path) -> tuple[str, str]:
    with Session.open(repo, write=False) as session:
        status = next(s for s in session.status() if s.name == "report")
    return status.state, status.reason


def test_headless_report_fails_on_an_item_and_saves_the_report(
    sshd: SSHD, tmp_path: Path, repo: Path, aws: Any, moto: Any
) -> None:
    with deployment(repo, tmp_path, sshd, moto, api_works=False) as answers:
        path = tmp_path / "answers.yml"
        path.write_text(yamlio.dumps(answers))
        result = run_cli("run", "--answers", path, repo, "--only", "report", "--json")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    (step,) = doc["steps"]
    assert step["name"] == "report" and step["state"] == "failed"
    assert "report item(s) failed" in step["reason"] and "api.health" in step["reason"]
    checks = {c["id"]: c for c in doc["checks"]}
    assert list(checks) == list(report.ITEMS)
    assert checks["api.health"]["verdict"] == "fail"
    assert "ANALYTICS_MYSQL_HOST" in checks["api.health"]["fix"]
    assert checks["insights.answers"]["verdict"] == "pass"
    assert checks["jenkins.jobs"]["verdict"] == "pass"
    saved = (repo / REPORT).read_text()
    assert "| `api.health` | FAIL |" in saved and "## What to fix" in saved
    assert report_state(repo)[0] == FAILED
    assert PLANTED_PASSWORD not in result.stdout + result.stderr + saved


def test_the_report_step_is_done_when_no_item_fails(
    sshd: SSHD, tmp_path: Path, repo: Path, aws: Any, moto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with deployment(repo, tmp_path, sshd, moto, api_works=True):
        session = Session.open(repo, command="test")
        # Running the earlier steps for real (terraform and the prerequisites against moto,
        # the playbooks) is their own tests' work: here the ledger item is given their result.
        earlier = [StepStatus(s.name, s.title, DONE, "done") for s in STEPS if s.name != "report"]
        monkeypatch.setattr(session, "status", lambda verify=False: earlier)
        try:
            plan = session.plan("report")
            verdicts = {c.id: c.verdict for c in plan.checks}
            assert verdicts.pop("jenkins.not_public") == "warn"  # no public address answered
            assert set(verdicts.values()) == {"pass"}, plan.checks
            outputs = session.apply(plan)
            outcome = session.step("report").outcome(plan, outputs)
        finally:
            session.close()
    assert outcome == f"7 of 8 items pass; saved {REPORT}"
    assert (
        REPORT
        in subprocess.run(
            ["git", "-C", str(repo), "ls-files"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert report_state(repo)[0] == DONE
    assert "Everything checked works" not in (repo / REPORT).read_text()  # one warning left
    (repo / REPORT).unlink()
    assert report_state(repo) == (STALE, f"{REPORT} is missing")


def test_the_report_in_the_tui_shows_each_item_and_a_failing_one_fails_the_step(
    sshd: SSHD, tmp_path: Path, repo: Path, aws: Any, moto: Any
) -> None:
    seen: dict[str, Any] = {}
    with deployment(repo, tmp_path, sshd, moto, api_works=False):
        app = open_app(repo, "report")

        def status(pilot: Any) -> str:
            return str(pilot.app.screen.query_one("#checks-status", Static).render())

        async def main() -> None:
            async with app.run_test(size=(120, 40)) as pilot:
                await form_ready(pilot)
                await settle(pilot)
                await pilot.press("ctrl+p")
                await settle(pilot)
                screen = pilot.app.screen
                assert isinstance(screen, ChecksScreen)
                table = screen.query_one(DataTable)
                seen["verdicts"] = {
                    str(row.value): str(table.get_cell(row, "verdict")) for row in table.rows
                }
                seen["before"] = status(pilot)
                await pilot.press("ctrl+s")
                await settle(pilot)
                seen["after"] = status(pilot)
                seen["screen"] = pilot.app.screen

        try:
            asyncio.run(main())
        finally:
            app.session.close()
    assert list(seen["verdicts"]) == list(report.ITEMS)
    assert seen["verdicts"]["api.health"] == "fail"
    assert seen["verdicts"]["jenkins.tunnel"] == "pass"
    assert "ctrl+s to save report anyway" in seen["before"], seen["before"]
    assert "report item(s) failed" in seen["after"] and "api.health" in seen["after"]
    assert isinstance(seen["screen"], ChecksScreen)  # still there, saying what to fix
    assert "| `api.health` | FAIL |" in (repo / REPORT).read_text()
    assert report_state(repo)[0] == FAILED
