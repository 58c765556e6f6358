"""Long runs survive the wizard: terraform applies detached, and a wizard killed (or whose
terminal went away) mid-apply leaves no AWS resource the state does not know.

Real terraform against moto on 127.0.0.1, driven the way an operator would: the headless CLI
killed with SIGKILL, terraform itself killed, and the TUI in tmux whose session is killed.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, cli_env, wait_for
from test_terraform_step import RDS_PASSWORD, aws, moto, stack_answers, tf_env  # noqa: F401
from test_tui_terminal import screen, tmux  # noqa: F401

from wizard import yamlio
from wizard.context import RunContext
from wizard.engine import Session
from wizard.errors import WizardError

SEED = int(os.environ.get("REATTACH_SEED", "7734"))
TIMEOUT = 900  # seconds a whole apply may take on a loaded 2-core machine


def cli(*args: str | Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "screens", *map(str, args)],
        capture_output=True,
        text=True,
        env=cli_env(**extra),
        timeout=TIMEOUT,
    )


def start_cli(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "screens", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cli_env(),
    )


def answers_for(aws: dict[str, str], moto: Any, client: str, **overrides: Any) -> dict[str, Any]:
    """Stack answers for a client of the test's own, with its own hosted zone: tests share
    one moto, and what one test left must not be another's (the Insights record, buckets)."""
    zone = f"{client}.example.com"
    moto.client("route53").create_hosted_zone(Name=zone, CallerReference=client)
    return stack_answers(
        aws,
        client__name=client,
        terraform__hosted_zone_domain=zone,
        # These tests are about runs, not the RDS, whose waiter is most of an apply's time;
        # the step's own tests create one.
        terraform__create_rds=False,
        terraform__existing_rds_host="analytics-db.example.com",
        **overrides,
    )


def ledger_state(repo: Path, step: str = "terraform") -> str | None:
    try:
        steps = yamlio.load(repo / ".wizard" / "state.yml").get("steps") or {}
    except (OSError, ValueError):
        return None
    return (steps.get(step) or {}).get("status")


def run_record(repo: Path) -> dict[str, Any]:
    """The newest terraform run's record (run.json)."""
    runs = sorted((repo / ".wizard" / "runs").glob("*-terraform-*"))
    return dict(json.loads((runs[-1] / "run.json").read_text()))


def run_output(repo: Path) -> str:
    runs = sorted((repo / ".wizard" / "runs").glob("*-terraform-*"))
    return (runs[-1] / "stdout").read_text(errors="replace")


def live_instances(moto: Any, client: str) -> set[str]:
    """The client's instances AWS runs (each test deploys a client of its own)."""
    found = set()
    pages = (
        moto.client("ec2")
        .get_paginator("describe_instances")
        .paginate(
            Filters=[
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
                {"Name": "tag:Name", "Values": [f"{client}-analytics-*"]},
            ]
        )
    )
    for page in pages:
        for reservation in page["Reservations"]:
            found |= {i["InstanceId"] for i in reservation["Instances"]}
    return found


def state_instances(repo: Path) -> set[str]:
    text = (repo / "terraform" / "terraform.tfstate").read_text()
    state = json.loads(text) if text.strip() else {}  # empty: terraform killed as it began
    return {
        instance["attributes"]["id"]
        for resource in state.get("resources", [])
        if resource["type"] == "aws_instance"
        for instance in resource["instances"]
    }


def test_a_wizard_killed_mid_apply_leaves_terraform_to_finish_and_the_next_run_records_it(
    aws: dict[str, str], moto: Any, tmp_path: Path, write_answers: Any
) -> None:
    repo, client = tmp_path / "secure-config", "killed"
    answers = write_answers(answers_for(aws, moto, client, terraform__number_of_instances=3))
    wizard = start_cli("run", "--answers", answers, repo, "--only", "terraform")
    wait_for(lambda: ledger_state(repo) == "running", "the apply starting")
    time.sleep(random.Random(SEED).uniform(0.5, 4.0))  # a seeded point of the apply
    wizard.send_signal(signal.SIGKILL)
    wizard.wait(timeout=30)

    status = cli("status", "--json", repo)
    terraform = {s["name"]: s for s in json.loads(status.stdout)["steps"]}["terraform"]
    assert terraform["state"] in ("running", "failed") and "interrupted" not in terraform["reason"]

    resumed = cli("run", "--answers", answers, repo, "--only", "terraform")
    assert resumed.returncode == 0, resumed.stderr
    assert "following it" in resumed.stderr
    assert ledger_state(repo) == "done"
    assert live_instances(moto, client) == state_instances(repo) and len(state_instances(repo)) == 3

    again = cli("run", "--answers", answers, repo, "--only", "terraform")
    assert again.returncode == 0, again.stderr
    assert (
        live_instances(moto, client) == state_instances(repo)
        and len(live_instances(moto, client)) == 3
    )
    assert (
        subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
        ).stdout.strip()
        == ""
    )
    for name in ("terraform.tfstate", "terraform.tfstate.backup", "terraform.tfvars.json"):
        path = repo / "terraform" / name
        if path.exists():
            assert path.stat().st_mode & 0o077 == 0, name
    assert RDS_PASSWORD not in resumed.stderr + again.stderr

    # AWS drifts (a bucket deleted by hand): plain status stays local and says done; --verify
    # sees it; the plan says what it would create although the answers did not change.
    moto.client("s3").delete_bucket(Bucket=f"{client}-analytics-emr-logs")
    plain = json.loads(cli("status", "--json", repo).stdout)
    assert {s["name"]: s["state"] for s in plain["steps"]}["terraform"] == "done"
    verified = json.loads(cli("status", "--json", "--verify", repo).stdout)
    terraform = {s["name"]: s for s in verified["steps"]}["terraform"]
    assert terraform["state"] == "stale" and "no longer matches" in terraform["reason"]
    with Session.open(repo, command="test") as session:
        plan = session.plan("terraform")
        assert len(plan.effects) == 1 and plan.effects[0].startswith("AWS: 3 to create")
        assert '+ create aws_s3_bucket.pipeline["emr_logs"]' in plan.notes
        question = session.step("terraform").question(plan)
        assert question.startswith("Create 3, change ")  # the bucket, its access block, its SSE


def test_terraform_killed_mid_apply_is_reported_and_nothing_new_is_planned_over_it(
    aws: dict[str, str], moto: Any, tmp_path: Path, write_answers: Any
) -> None:
    repo, client = tmp_path / "secure-config", "stranded"
    answers = write_answers(answers_for(aws, moto, client, terraform__number_of_instances=3))
    wizard = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "screens",
            "run",
            "--answers",
            str(answers),
            str(repo),
            "--only",
            "terraform",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    wait_for(lambda: ledger_state(repo) == "running", "the apply starting")
    wait_for(lambda: "aws_instance.analytics" in run_output(repo), "the instances being created")
    os.kill(int(run_record(repo)["pid"]), signal.SIGKILL)  # terraform itself, not the wizard
    _, err = wizard.communicate(timeout=TIMEOUT)
    assert wizard.returncode == 1
    assert "terraform apply was interrupted" in " ".join(err.split())

    status = cli("status", "--json", repo)
    assert status.stdout.startswith("{"), status.stderr
    terraform = {s["name"]: s for s in json.loads(status.stdout)["steps"]}["terraform"]
    assert terraform["state"] == "failed" and "interrupted" in terraform["reason"]

    stranded = live_instances(moto, client) - state_instances(repo)
    refused = cli("run", "--answers", answers, repo, "--only", "terraform")
    said = " ".join(refused.stderr.split())
    if stranded:  # terraform was killed after AWS made an instance, before the state had it
        assert refused.returncode == 1, refused.stderr
        assert "the state does not know" in said
        assert all(instance in said for instance in stranded)
        assert "run --adopt-untracked headless" in said
        adopted = cli("run", "--answers", answers, repo, "--only", "terraform", "--adopt-untracked")
        assert adopted.returncode == 0, adopted.stderr
        for instance in stranded:
            assert f"adopted EC2 instance {instance}" in " ".join(adopted.stderr.split())
        assert stranded <= state_instances(repo)  # adopted, not replaced by new ones
    else:
        assert refused.returncode == 0, refused.stderr
    assert "repairing the state first" in said
    assert live_instances(moto, client) == state_instances(repo) and len(state_instances(repo)) == 3


def test_the_tui_reattaches_after_its_terminal_went_away_mid_apply(
    aws: dict[str, str], moto: Any, tf_env: dict[str, str], tmp_path: Path, tmux: Any
) -> None:
    from snapshot_apps.repos import make_repo

    client = "hungup"
    repo = make_repo(tmp_path / "secure-config", answers_for(aws, moto, client))
    wizard = shlex.join([sys.executable, "-m", "screens", str(repo)])
    env = [f"PYTHONPATH={ROOT}", "TERM=xterm-256color", "LANG=C.UTF-8"]
    env += [f"{name}={value}" for name, value in tf_env.items()]

    def start(session: str) -> None:
        command = ["env", *env, "sh", "-c", wizard]
        made = tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", *command)
        assert made.returncode == 0, made.stderr

    def shown(session: str) -> str:
        return tmux("capture-pane", "-p", "-t", session).stdout

    start("first")
    wait_for(lambda: "AWS profile" in shown("first"), "the wizard on its first step")
    tmux("send-keys", "-t", "first", "F2", "Down")
    wait_for(lambda: "Terraform ·" in shown("first"), "the terraform form")
    tmux("send-keys", "-t", "first", "C-p")
    wait_for(lambda: "AWS:" in shown("first") and "to create" in shown("first"), "the plan")
    tmux("send-keys", "-t", "first", "C-s")
    wait_for(lambda: "Create " in shown("first"), "the confirmation")
    tmux("send-keys", "-t", "first", "y")
    wait_for(lambda: ledger_state(repo) == "running", "the apply starting")
    tmux("kill-session", "-t", "first")  # the operator's connection is gone

    start("second")
    wait_for(
        lambda: "Following the run" in shown("second") or ledger_state(repo) == "done",
        "the second wizard following the run",
        shown=lambda: shown("second"),
    )
    wait_for(lambda: ledger_state(repo) == "done", "the run recorded as done", TIMEOUT)
    wait_for(
        lambda: "Terraform is done; next:" in shown("second"),
        "the outcome on the form",
        shown=lambda: shown("second"),
    )
    tmux("send-keys", "-t", "second", "C-q")
    assert live_instances(moto, client) == state_instances(repo) and len(state_instances(repo)) == 1
    assert "Traceback" not in shown("second")


def test_a_stopped_apply_leaves_no_self_made_conflict(
    aws: dict[str, str], moto: Any, tmp_path: Path
) -> None:
    """esc (a cancelled run) stops terraform gracefully; the files the wizard wrote for that
    apply are known as its own, so the next preview asks nothing about them."""
    from snapshot_apps.repos import make_repo

    repo = make_repo(tmp_path / "secure-config", answers_for(aws, moto, "stopped"))
    stopped = False

    def stop_soon(line: str) -> None:
        nonlocal stopped
        stopped = stopped or "Creating..." in line

    with Session.open(repo, command="test") as session:
        plan = session.plan("terraform")
        ctx = RunContext(on_progress=stop_soon, is_cancelled=lambda: stopped)
        with pytest.raises(WizardError, match="cancelled"):
            session.apply(plan, ctx)
        assert session.ledger.steps["terraform"].status == "failed"
        again = session.plan("terraform")
    assert again.conflicts == []
