"""The verification report's items, each against real things on loopback: small HTTP servers
standing in for Insights, the Analytics API and Jenkins (none can be installed here), a secure
repo written by the files step, and a moto bucket."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import web_standins
from conftest import PLANTED_PASSWORD, complete_answers
from jenkins_standin import JenkinsStandin
from services import free_port

from wizard import report
from wizard.answers import flatten
from wizard.aws import Aws
from wizard.engine import Session
from wizard.findings import FAIL, PASS, WARN, Finding
from wizard.steps import files as files_step

LMS = web_standins.LMS


@pytest.fixture
def site() -> Iterator[list[web_standins.Site]]:
    started: list[web_standins.Site] = []
    yield started
    for s in started:
        s.stop()


def start(sites: list[web_standins.Site], s: web_standins.Site) -> web_standins.Site:
    sites.append(s.start())
    return s


# --- Insights and the API -----------------------------------------------------------------


def test_insights_answering_and_sending_logins_to_the_lms_passes(
    site: list[web_standins.Site],
) -> None:
    insights = start(site, web_standins.insights())
    found = report.insights_answers(insights.url, LMS)
    assert found.verdict == PASS and LMS in found.finding
    assert insights.seen == ["/", "/login/", "/auth/login/edx-oauth2/?next=%2Fcourses%2F"]


def test_insights_down_behind_nginx_fails_with_the_fix(site: list[web_standins.Site]) -> None:
    insights = start(site, web_standins.insights(broken=True))
    found = report.insights_answers(insights.url, LMS)
    assert found.verdict == FAIL and "HTTP 502" in found.finding
    assert "supervisorctl restart insights" in found.fix


def test_insights_not_answering_at_all_fails() -> None:
    found = report.insights_answers(f"http://127.0.0.1:{free_port()}/", LMS)
    assert found.verdict == FAIL and "connection refused" in found.finding
    assert "security group" in found.fix


def test_insights_logging_in_without_the_lms_is_a_warning(site: list[web_standins.Site]) -> None:
    insights = start(site, web_standins.insights(auto_auth=True))
    assert report.insights_answers(insights.url, LMS).verdict == WARN
    elsewhere = start(site, web_standins.insights(lms_host="other.example.test"))
    found = report.insights_answers(elsewhere.url, LMS)
    assert found.verdict == WARN and "other.example.test" in found.finding
    assert "INSIGHTS_OAUTH2_URL_ROOT" in found.fix


def test_api_health(site: list[web_standins.Site]) -> None:
    healthy = start(site, web_standins.analytics_api())
    assert report.api_health(f"{healthy.url}health/").verdict == PASS
    sick = start(site, web_standins.analytics_api(database=False))
    found = report.api_health(f"{sick.url}health/")
    assert found.verdict == FAIL
    assert "UNAVAILABLE" in found.finding and "database_connection" in found.finding
    assert "ANALYTICS_MYSQL_HOST" in found.fix
    wrong = report.api_health(f"{healthy.url}nothing-here/")
    assert wrong.verdict == FAIL and "analytics_api.port" in wrong.fix
    down = report.api_health(f"http://127.0.0.1:{free_port()}/health/")
    assert down.verdict == FAIL and "does not answer" in down.finding


# --- Jenkins ------------------------------------------------------------------------------


def test_jenkins_through_the_tunnel_and_its_jobs(jenkins: JenkinsStandin) -> None:
    found = report.jenkins_tunnel(jenkins.url)
    assert found.verdict == PASS and jenkins.version in found.finding
    assert report.jenkins_tunnel(None, "the director refused the key").verdict == FAIL
    declared = ["insights.example.com Enrollments", "insights.example.com Videos"]
    assert report.jenkins_jobs(declared, [*declared, "mine"]).verdict == PASS
    missing = report.jenkins_jobs(declared, ["insights.example.com Videos"])
    assert missing.verdict == FAIL and "insights.example.com Enrollments" in missing.finding
    assert "jenkins step" in missing.fix


def test_jenkins_answering_from_outside_fails(jenkins: JenkinsStandin) -> None:
    # Jenkins' port open to the world: the "public address" is loopback here.
    probes = [report.OutsideProbe("127.0.0.1", jenkins.port)]
    found = report.jenkins_not_public(probes)
    assert found.verdict == FAIL and f"127.0.0.1:{jenkins.port}" in found.finding
    assert "security group" in found.fix


def test_jenkins_behind_the_insights_port_for_its_server_name_fails() -> None:
    nginx = JenkinsStandin(only_host="jenkins.example.com").start()
    try:
        clash = report.jenkins_not_public(
            report.outside_probes(
                ["127.0.0.1"], free_port(), free_port(), "jenkins.example.com", (nginx.port,)
            )
        )
        other = report.jenkins_not_public(
            report.outside_probes(
                ["127.0.0.1"], free_port(), free_port(), "jenkins.other.org", (nginx.port,)
            )
        )
    finally:
        nginx.stop()
    assert clash.verdict == FAIL and "Host: jenkins.example.com" in clash.finding
    assert "jenkins.nginx_port" in clash.fix
    assert other.verdict == PASS  # the Insights port answers, but not as Jenkins


def test_nothing_answering_from_outside_passes_and_no_address_warns() -> None:
    probes = report.outside_probes(["127.0.0.1"], free_port(), free_port(), "jenkins.x.org")
    assert [p.port for p in probes][-1] == 80
    closed = report.jenkins_not_public(probes[:2])
    assert closed.verdict == PASS and "tried" in closed.finding
    assert report.jenkins_not_public([]).verdict == WARN


# --- the secure repo ----------------------------------------------------------------------

EXPECTED = [report.ExpectedFile(f.path, f.secret) for f in files_step.FILES]


@pytest.fixture
def written(repo: Path) -> Path:
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(complete_answers(), "test"), "test")
        session.apply(session.plan("files"))
    return repo


def test_files_written_by_the_files_step_pass(written: Path) -> None:
    found = report.files_present(written, EXPECTED)
    assert found.verdict == PASS, found


def test_a_secret_file_readable_by_others_fails(written: Path) -> None:
    os.chmod(written / "vars-analytics.yml", 0o644)
    found = report.files_present(written, EXPECTED)
    assert found.verdict == FAIL and "vars-analytics.yml is readable by others" in found.finding
    assert "chmod 600 vars-analytics.yml" in found.fix


def test_a_placeholder_is_named_by_line_and_key_never_by_value(written: Path) -> None:
    path = written / "vars-analytics.yml"
    path.write_text(path.read_text() + "AWS_S3_LOGS_SECRET_KEY: 'x'  # TODO: replace this\n")
    creds = written / "analytics-tasks" / "edxapp_creds"
    creds.write_text(json.dumps({**json.loads(creds.read_text()), "password": "x"}))
    found = report.files_present(written, EXPECTED)
    assert found.verdict == FAIL
    assert "(AWS_S3_LOGS_SECRET_KEY)" in found.finding
    assert "edxapp_creds still has placeholders: password" in found.finding
    assert PLANTED_PASSWORD not in found.finding + found.fix


def test_a_missing_file_fails(written: Path) -> None:
    (written / "analytics-tasks" / "emr-vars.yml").unlink()
    found = report.files_present(written, EXPECTED)
    assert found.verdict == FAIL and "emr-vars.yml is missing" in found.finding
    assert "files step" in found.fix


def test_placeholders_of_the_runbooks_kind_are_found_in_every_format() -> None:
    yaml_text = (
        "# comment: 'x'  # TODO: not a value\n"
        "EDXAPP_LMS_BASE: 'x'  # TODO: replace this\n"
        "ANALYTICS_MYSQL_HOST: 'db.example.com'\n"
        'ANALYTICS_MYSQL_PASSWORD: "x"\n'
        "# jenkins_server_name: 'x'  # TODO: replace this\n"
        "SUBNET: subnet-SET ME\n"
    )
    assert report.placeholders(yaml_text, "text") == [
        "line 2 (EDXAPP_LMS_BASE)",
        "line 4 (ANALYTICS_MYSQL_PASSWORD)",
        "line 6 (SUBNET)",
    ]
    assert report.placeholders("export CLUSTER_NAME=x\nexport A=box\n", "text") == [
        "line 1 (CLUSTER_NAME)"
    ]
    assert report.placeholders("[hive]\nwarehouse_path = x\n", "text") == [
        "line 2 (warehouse_path)"
    ]
    assert report.placeholders('{"host": "db", "password": ""}', "json") == ["password"]


# --- the creds in the bucket --------------------------------------------------------------


def test_creds_in_the_bucket(aws: Aws, moto: Any, written: Path) -> None:
    s3 = moto.client("s3")
    local = written / "analytics-tasks"
    assert report.creds_bucket(aws, "acme-edxanalytics", local).verdict == FAIL  # no bucket
    s3.create_bucket(Bucket="acme-edxanalytics")
    found = report.creds_bucket(aws, "acme-edxanalytics", local)
    assert (
        found.verdict == FAIL and "edxapp_creds is not in s3://acme-edxanalytics/" in found.finding
    )
    assert "--sse AES256" in found.fix
    for name in report.CREDS:
        s3.put_object(Bucket="acme-edxanalytics", Key=name, Body=(local / name).read_bytes())
    plain = report.creds_bucket(aws, "acme-edxanalytics", local)
    assert plain.verdict == FAIL and "is not encrypted" in plain.finding
    for name in report.CREDS:
        s3.put_object(
            Bucket="acme-edxanalytics",
            Key=name,
            Body=(local / name).read_bytes(),
            ServerSideEncryption="AES256",
        )
    good = report.creds_bucket(aws, "acme-edxanalytics", local)
    assert good.verdict == PASS, good
    s3.put_object(
        Bucket="acme-edxanalytics", Key="edxapp_creds", Body=b"{}", ServerSideEncryption="AES256"
    )
    stale = report.creds_bucket(aws, "acme-edxanalytics", local)
    assert stale.verdict == WARN and "edxapp_creds differs" in stale.finding


# --- the ledger and rendering -------------------------------------------------------------


@dataclass
class State:
    name: str
    state: str
    reason: str = ""


def test_ledger_complete() -> None:
    done = [State(n, "done") for n in ("prereqs", "terraform", "database", "files")]
    assert report.ledger_complete([*done, State("report", "pending")]).verdict == PASS
    stale = report.ledger_complete([*done, State("jenkins", "stale", "answers changed")])
    assert stale.verdict == FAIL and "jenkins (stale: answers changed)" in stale.finding
    pending = report.ledger_complete([*done, State("playbooks", "pending", "not run yet")])
    assert pending.verdict == FAIL and "playbooks (pending: not run yet)" in pending.finding


def test_markdown_and_json() -> None:
    findings = [
        Finding("insights.answers", PASS, "Insights answers | fine"),
        Finding("api.health", FAIL, "the API reports UNAVAILABLE", "check the database"),
    ]
    when = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    text = report.to_markdown(findings, "acme", when)
    assert text.startswith("# Verification report — acme\n\n2026-05-01 12:00 UTC · 1 passed")
    assert "| `insights.answers` | PASS | Insights answers \\| fine |" in text
    assert "- **`api.health`** (FAIL): the API reports UNAVAILABLE. Fix: check the database" in text
    data = report.to_json(findings, when)
    assert data["ok"] is False and data["failed"] == 1
    assert data["checks"][1] == {
        "id": "api.health",
        "verdict": "fail",
        "finding": "the API reports UNAVAILABLE",
        "fix": "check the database",
    }


def test_save_writes_the_report_atomically(tmp_path: Path) -> None:
    path = report.save(tmp_path, [Finding("files.present", PASS, "ok")])
    assert path == tmp_path / ".wizard" / "report.md"
    assert "`files.present`" in path.read_text()
