"""Headless equivalents of the TUI's decisions, through the real CLI: ``run --accept CHECK_ID``
(an override of a failing prerequisite check) and ``run --trust-host-key SHA256:…`` (an unknown
SSH host key the operator checked), against moto, MariaDB and a real sshd; and ``status --json``
listing the checks the prerequisites recorded."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import services
from conftest import complete_answers, run_cli
from moto_service import Moto
from test_database_step import db_answers, tunnel_answer
from test_prereqs_step import (  # noqa: F401  (fixtures)
    aws_profile,
    db,
    keys,
    lms,
    ready,
)

from wizard.engine import Session
from wizard.steps import prereqs

WriteAnswers = Callable[..., Path]


@pytest.fixture
def passing(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Answers and an account for which every prerequisite check passes (test_prereqs_step)."""
    answers: dict[str, Any] = request.getfixturevalue("ready")
    return answers


@pytest.fixture
def server(request: pytest.FixtureRequest) -> services.MariaDB:
    """The test MariaDB (with an edxapp database) as the analytics and edxapp DB server."""
    found: services.MariaDB = request.getfixturevalue("db")
    return found


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def words(text: str) -> str:
    return " ".join(text.split())


def ledger_outputs(repo: Path, step: str) -> tuple[str, dict[str, Any]]:
    with Session.open(repo, write=False) as session:
        record = session.ledger.steps[step]
        return record.status, record.outputs


def dns_hostnames(moto: Moto, on: bool) -> None:
    """DNS hostnames on the default VPC (off: the aws.vpc check fails)."""
    ec2 = moto.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsHostnames={"Value": on})


def dns_hostnames_off(moto: Moto) -> None:
    dns_hostnames(moto, False)


def dns_hostnames_on(moto: Moto) -> None:
    dns_hostnames(moto, True)


# --- --accept ---------------------------------------------------------------------------------


def test_accept_overrides_a_failing_check_and_only_a_failing_one(
    moto: Moto, repo: Path, passing: dict[str, Any], write_answers: WriteAnswers
) -> None:
    answers = write_answers(passing)
    dns_hostnames_off(moto)

    refused = cli("run", "--answers", answers, repo, "--only", "prereqs")
    assert refused.returncode == 1
    assert "--accept CHECK_ID" in words(refused.stderr)  # the fix names the option
    assert ledger_outputs(repo, "prereqs")[0] == "failed"

    result = cli(
        "run", "--answers", answers, "--only", "prereqs", "--accept", "aws.vpc",
        "--accept", "aws.collisions", "--json", repo,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    overridden = {c["id"]: c["overridden"] for c in doc["checks"]}
    assert overridden["aws.vpc"] is True
    assert overridden["aws.collisions"] is False  # it passes: nothing to override
    said = words(result.stderr)
    assert "--accept aws.collisions: the check did not fail (pass)" in said
    assert doc["warnings"] == [w for w in doc["warnings"] if "aws.collisions" in w]
    status, outputs = ledger_outputs(repo, "prereqs")
    assert status == "done"
    assert outputs["overrides"] == ["aws.vpc"]


def test_accept_of_an_unknown_check_is_a_usage_error_listing_the_ids(
    repo: Path, write_answers: WriteAnswers
) -> None:
    answers = write_answers(complete_answers())
    result = cli("run", "--answers", answers, repo, "--accept", "aws.vcp")
    assert result.returncode == 2
    said = words(result.stderr)
    assert "--accept aws.vcp: not a check that can be accepted" in said
    for cid in prereqs.IDS:
        assert cid in said
    assert not repo.exists()  # refused before anything was touched


# --- status --json lists the recorded checks ---------------------------------------------------


def test_status_json_lists_the_checks_the_prerequisites_recorded(
    moto: Moto, repo: Path, passing: dict[str, Any], write_answers: WriteAnswers
) -> None:
    answers = write_answers(passing)

    def run_then_status() -> tuple[str, dict[str, str]]:
        cli("run", "--answers", answers, repo, "--only", "prereqs")
        doc = json.loads(cli("status", "--json", repo).stdout)
        state = next(s for s in doc["steps"] if s["name"] == "prereqs")["state"]
        verdicts = {c["id"]: c["verdict"] for c in doc["checks"]}
        assert list(verdicts) == list(prereqs.IDS)
        return state, verdicts

    dns_hostnames_off(moto)  # the first run fails: status shows the checks that failed it
    state, verdicts = run_then_status()
    assert state == "failed" and verdicts["aws.vpc"] == "fail"

    dns_hostnames_on(moto)
    state, verdicts = run_then_status()
    assert state == "done" and set(verdicts.values()) == {"pass"}

    dns_hostnames_off(moto)  # failing again: the new findings, not the last run's passes
    state, verdicts = run_then_status()
    assert state == "failed" and verdicts["aws.vpc"] == "fail"


# --- --trust-host-key ---------------------------------------------------------------------------


def test_trust_host_key_accepts_only_the_fingerprint_presented(
    server: services.MariaDB,
    sshd_server: services.SSHD,
    repo: Path,
    tmp_path: Path,
    write_answers: WriteAnswers,
) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    answers = write_answers(db_answers(server, database__tunnel=tunnel_answer(sshd_server, known)))
    fingerprint = sshd_server.fingerprint()

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return cli("run", "--answers", answers, repo, "--only", "database", *extra)

    refused = run()
    assert refused.returncode == 1
    said = words(refused.stderr)
    assert fingerprint in said
    assert f"--trust-host-key {fingerprint}" in said  # the fix says how, headless
    assert not known.exists()

    wrong = "SHA256:" + "A" * 43
    still = run("--trust-host-key", wrong, "--json")
    assert still.returncode == 1
    said = words(still.stderr)
    assert "is not in" in said and fingerprint in said
    warning = f"--trust-host-key {wrong}: no SSH host presented this key"
    assert warning in said
    assert f"127.0.0.1:{sshd_server.port} presented {fingerprint}" in said
    assert any(w.startswith(warning) for w in json.loads(still.stdout)["warnings"])
    assert not known.exists()

    trusted = run("--trust-host-key", wrong, "--trust-host-key", fingerprint)
    assert trusted.returncode == 0, trusted.stderr
    assert known.read_text() == sshd_server.known_hosts_line()  # recorded, as the TUI's yes
    assert ledger_outputs(repo, "database")[0] == "done"

    again = run("--trust-host-key", fingerprint)  # the same command line, the key now known
    assert again.returncode == 0, again.stderr
    assert "a key already in known_hosts needs no trust" in words(again.stderr)


def test_trust_host_key_must_be_a_sha256_fingerprint(
    repo: Path, write_answers: WriteAnswers
) -> None:
    answers = write_answers(complete_answers())
    result = cli("run", "--answers", answers, repo, "--trust-host-key", "MD5:ab:cd")
    assert result.returncode == 2
    assert "is not a SHA256 host key fingerprint" in words(result.stderr)
    assert not repo.exists()
