"""terraform apply outlives the wizard: killed followers, a killed terraform, recovery, drift.

Real terraform throughout. The AWS scenarios apply the shipped configuration to moto on
127.0.0.1, targeted at the analytics instances and the buckets (with what they depend on: the
security group, the role and instance profile) — the resources an interrupted apply duplicates,
without the minutes the provider spends waiting on RDS. One plan serves both scenarios (it was
made against an empty state; each scenario applies it in a fresh copy after clearing what the
previous one created). The quick ones (cancel, file modes, command lines) use terraform's
built-in ``terraform_data`` resource and need no AWS at all.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import terraform_service as ts
from ci_required import skip_missing
from conftest import cli_env, wait_for

from wizard import detached
from wizard import terraform as tf

STREAM = Path(__file__).parent / "data" / "terraform_apply.jsonl"
TARGETS = ("aws_instance.analytics", "aws_s3_bucket.pipeline")
INSTANCES = 3
SEED = 20261128
KILLS = 3
PLANFILE = "analytics.tfplan"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the progress model, from a recorded stream -----------------------------------------------
# tests/data/terraform_apply.jsonl is the -json stream of a real apply of the shipped
# configuration (two instances, RDS, no Elasticsearch) against moto, recorded unchanged.


def recorded() -> list[str]:
    return STREAM.read_text(encoding="utf-8").splitlines()


def progress_until(text: str) -> tf.ApplyProgress:
    """The model fed with the stream up to and including the first message containing ``text``."""
    model = tf.ApplyProgress()
    for line in recorded():
        model.feed_line(line)
        if text in json.loads(line)["@message"]:
            return model
    raise AssertionError(f"{text!r} is not in the recorded stream")


def test_progress_counts_the_plans_resources_and_what_is_done() -> None:
    model = tf.ApplyProgress()
    for line in recorded():
        model.feed_line(line)
    assert model.total == 32  # "Plan to create" 32 times; the two data sources are not counted
    assert len(model.done) == 32 and model.fraction == 1.0
    assert model.in_flight == {} and model.failed == [] and model.errors == []
    assert model.finished
    assert model.summary == "Apply complete! Resources: 32 added, 0 changed, 0 destroyed."
    assert model.headline() == "32 of 32 resources done"


def test_progress_while_the_instances_and_rds_are_in_flight() -> None:
    model = progress_until("aws_instance.analytics[0]: Creating...")
    assert model.total == 32 and not model.finished
    assert set(model.in_flight) == {
        "aws_db_instance.analytics",
        "aws_instance.analytics[1]",
        "aws_instance.analytics[0]",
        "aws_iam_instance_profile.emr_ec2",
    }
    assert len(model.done) == 27  # and the Insights DNS record still waits for an instance
    assert model.headline() == "27 of 32 resources done, 4 in progress"
    assert model.current == "aws_instance.analytics[0]: Creating..."


def test_progress_says_rds_takes_minutes_with_its_elapsed_time() -> None:
    model = progress_until("aws_db_instance.analytics: Still creating... [40s elapsed]")
    assert list(model.in_flight) == ["aws_db_instance.analytics"]
    assert len(model.done) == 31
    rds = model.in_flight["aws_db_instance.analytics"]
    assert rds.seconds() == 40.0  # terraform's own last report
    assert model.in_flight_lines() == [
        "aws_db_instance.analytics: creating, 40s (RDS usually takes 5-15 minutes)"
    ]
    # Between terraform's reports the clock keeps going from the start it announced.
    assert rds.started is not None
    assert model.in_flight_lines(now=rds.started + 200) == [
        "aws_db_instance.analytics: creating, 3m 20s (RDS usually takes 5-15 minutes)"
    ]


def test_progress_records_failures_and_their_diagnostics() -> None:
    model = progress_until("aws_security_group.analytics: Creating...")
    errored = {
        "@message": "aws_security_group.analytics: Creation errored after 1s",
        "@timestamp": "2026-11-28T01:16:55.000000Z",
        "type": "apply_errored",
        "hook": {
            "resource": {"addr": "aws_security_group.analytics", "resource_type": "x"},
            "action": "create",
            "elapsed_seconds": 1,
        },
    }
    diagnostic = {
        "@message": "Error: creating Security Group",
        "type": "diagnostic",
        "diagnostic": {"severity": "error", "summary": "creating Security Group", "detail": "x"},
    }
    model.feed(errored)
    model.feed(diagnostic)
    assert model.failed == ["aws_security_group.analytics"]
    assert "aws_security_group.analytics" not in model.in_flight
    assert model.errors == ["creating Security Group: x"]
    assert "1 failed" in model.headline()


def test_a_plans_stream_summarises_like_show() -> None:
    summary = tf.summary_from_stream(json.loads(line) for line in recorded())
    assert summary.create == 32 and not summary.destructive
    assert "aws_db_instance.analytics" in {r.address for r in summary.resources}


# --- terraform's own resources: cancel, modes, command lines ----------------------------------

LOCAL_CONFIG = """
variable "secret" {
  type      = string
  sensitive = true
}

variable "pause" {
  type    = number
  default = 0
}

variable "generation" {
  type    = number
  default = 1
}

resource "terraform_data" "holder" {
  input            = var.secret
  triggers_replace = [var.generation]

  provisioner "local-exec" {
    command = "sleep ${var.pause}"
  }
}
"""


def tool_or_skip() -> None:
    reason = ts.missing()
    if reason:
        skip_missing(reason)


@pytest.fixture(scope="module")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Providers from the mirror only; AWS credentials through a profile in a private file."""
    tool_or_skip()
    import moto_service

    home = tmp_path_factory.mktemp("tf-env")
    env = {
        **ts.cli_config(home),
        **moto_service.write_profile(home / "aws", "acme-analytics", "testing", "testing"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        mp.delenv("TF_LOG", raising=False)
        yield env


def local_workdir(path: Path, **variables: Any) -> Path:
    """A secure-repo-like ``terraform/`` holding the local configuration and its variables."""
    (path.parent / ".wizard").mkdir(parents=True, exist_ok=True)
    path.mkdir()
    (path / "main.tf").write_text(LOCAL_CONFIG, encoding="utf-8")
    write_variables(path, **variables)
    return path


def write_variables(workdir: Path, **variables: Any) -> None:
    target = workdir / "terraform.tfvars.json"
    target.write_text(json.dumps({"secret": ts.RDS_PASSWORD, **variables}), encoding="utf-8")
    target.chmod(0o600)


def plan_in(workdir: Path) -> Path:
    runner = tf.Terraform(workdir)
    runner.init()
    runner.plan(workdir / PLANFILE)
    return workdir / PLANFILE


def cmdline(pid: int | None) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_cancelling_a_detached_apply_stops_terraform_gracefully(
    tf_env: dict[str, str], tmp_path: Path
) -> None:
    workdir = local_workdir(tmp_path / "repo" / "terraform", pause=120)
    planfile = plan_in(workdir)
    lines: list[str] = []
    runner = tf.Terraform(workdir, cancelled=lambda: any("Creating..." in x for x in lines))
    with pytest.raises(tf.TerraformCancelled, match="stopped cleanly and released its state lock"):
        runner.apply(planfile, progress=lines.append)
    run = detached.find(tmp_path / "repo" / ".wizard" / "runs", tf.APPLY_RUN)
    assert run is not None and run.state == detached.FINISHED
    assert run.exit_code == 1  # terraform's own exit after an interrupt, not a kill
    assert run.picked_up  # the caller was told; nothing is left to pick up
    assert not (workdir / tf.LOCK_FILE).exists() and not tf.lock_held(workdir)
    assert tf.interrupted(workdir, run) is None


def test_state_files_are_private_and_secrets_stay_off_command_lines(
    tf_env: dict[str, str], tmp_path: Path
) -> None:
    workdir = local_workdir(tmp_path / "repo" / "terraform", pause=3)
    runner = tf.Terraform(workdir)
    runner.apply(plan_in(workdir))
    state = workdir / tf.STATE_FILE
    assert ts.RDS_PASSWORD in state.read_text()  # terraform keeps the secret in its state
    assert mode(state) == 0o600
    state.chmod(0o644)  # as an older version of the wizard left it

    write_variables(workdir, pause=3, generation=2)  # a replacement: a second apply, a backup
    planfile = plan_in(workdir)
    run = runner.start_apply(planfile)
    seen: dict[str, bytes] = {}
    wait_for(lambda: "Creating..." in "\n".join(run.lines()), "terraform to start creating")
    seen["terraform"] = cmdline(run.pid)
    seen["supervisor"] = cmdline(run.record["supervisor_pid"])
    assert runner.follow(run) is not None

    assert b"apply" in seen["terraform"] and b"wizard.detached" in seen["supervisor"]
    for name, line in seen.items():
        assert ts.RDS_PASSWORD.encode() not in line, name
    present = [name for name in tf.STATE_FILES if (workdir / name).exists()]
    assert present == [tf.STATE_FILE, f"{tf.STATE_FILE}.backup"]
    for name in present:
        assert mode(workdir / name) == 0o600, name
    assert mode(run.directory) == 0o700
    for path in run.directory.iterdir():
        assert mode(path) == 0o600, path.name
        assert ts.RDS_PASSWORD not in path.read_text(), path.name


def test_a_failed_apply_reports_terraforms_diagnostics(
    tf_env: dict[str, str], tmp_path: Path
) -> None:
    workdir = local_workdir(tmp_path / "repo" / "terraform")
    stale = workdir / "stale.tfplan"
    shutil.copyfile(plan_in(workdir), stale)
    write_variables(workdir, generation=2)
    tf.Terraform(workdir).apply(plan_in(workdir))  # the state moves on without that plan
    with pytest.raises(tf.TerraformError, match="terraform apply failed: Saved plan is stale"):
        tf.Terraform(workdir).apply(stale)


# --- the AWS scenarios ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_stack(tf_env: dict[str, str]) -> Iterator[Any]:
    import moto_service

    server = moto_service.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seeded(moto_stack: Any) -> dict[str, str]:
    return ts.seed(moto_stack)


@pytest.fixture(scope="module")
def planned(seeded: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped configuration, initialised, with a saved plan (from an empty state) that
    creates the instances and the buckets."""
    workdir = ts.workdir(
        tmp_path_factory.mktemp("planned") / "terraform", seeded, number_of_instances=INSTANCES
    )
    runner = tf.Terraform(workdir)
    runner.init()
    runner.run(
        [
            "plan",
            "-input=false",
            "-no-color",
            "-json",
            f"-out={PLANFILE}",
            *(f"-target={target}" for target in TARGETS),
        ],
        json_stream=True,
    )
    return workdir


def fresh_repo(planned: Path, path: Path) -> Path:
    """A secure repo whose terraform/ holds the planned configuration and no state yet."""
    (path / ".wizard").mkdir(parents=True)
    workdir = path / "terraform"
    shutil.copytree(planned, workdir, symlinks=True)
    return workdir


def aws_adapter(moto: Any) -> Any:
    from wizard.aws import Aws, Target

    return Aws(Target("acme-analytics", "us-east-1", moto.url))


def live_instances(moto: Any) -> set[str]:
    reservations = moto.client("ec2").describe_instances(
        Filters=[{"Name": "tag:analytics:customer", "Values": ["acme"]}]
    )["Reservations"]
    return {
        i["InstanceId"]
        for r in reservations
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    }


def client_buckets(moto: Any) -> set[str]:
    return {
        b["Name"]
        for b in moto.client("s3").list_buckets()["Buckets"]
        if b["Name"].startswith("acme-")
    }


def clear_stack(moto: Any) -> None:
    """Remove what an earlier scenario created, so the shared plan applies again."""
    ec2, iam, s3 = moto.client("ec2"), moto.client("iam"), moto.client("s3")
    instances = live_instances(moto)
    if instances:
        ec2.terminate_instances(InstanceIds=sorted(instances))
    for bucket in client_buckets(moto):
        s3.delete_bucket(Bucket=bucket)
    name = "acme-analytics-analytics"
    for profile in iam.list_instance_profiles()["InstanceProfiles"]:
        if profile["InstanceProfileName"] == name:
            for role in profile["Roles"]:
                iam.remove_role_from_instance_profile(
                    InstanceProfileName=name, RoleName=role["RoleName"]
                )
            iam.delete_instance_profile(InstanceProfileName=name)
    if name in {r["RoleName"] for r in iam.list_roles()["Roles"]}:
        iam.delete_role(RoleName=name)
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
    for group in groups["SecurityGroups"]:
        ec2.delete_security_group(GroupId=group["GroupId"])


def state_ids(workdir: Path, resource_type: str) -> set[str]:
    return set(tf.tracked(tf.read_state(workdir), resource_type))


# A wizard that follows the terraform run of its secure repo, or starts it if there is none;
# it prints every line it is given (and first, which run it follows).
FOLLOWER = """
import sys
from pathlib import Path
from wizard import detached, terraform as tf
workdir, planfile, out = Path(sys.argv[1]), Path(sys.argv[2]), open(sys.argv[3], "w")
runner = tf.Terraform(workdir)
run = detached.find(runner.runs, tf.APPLY_RUN) or runner.start_apply(planfile)
print("following", run.id, file=out, flush=True)
def say(line):
    print(line, file=out, flush=True)
runner.follow(run, say)
print("followed to the end", file=out, flush=True)
"""


def start_follower(workdir: Path, output: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", FOLLOWER, str(workdir), str(workdir / PLANFILE), str(output)],
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # as the wizard in its terminal: killed with its group
    )


@pytest.fixture(scope="module")
def killed_followers(planned: Path, moto_stack: Any, tmp_path_factory: pytest.TempPathFactory):
    """The apply, its followers SIGKILLed at seeded random moments, then followed to the end."""
    clear_stack(moto_stack)
    base = tmp_path_factory.mktemp("followers")
    workdir = fresh_repo(planned, base / "repo")
    runs = base / "repo" / ".wizard" / "runs"
    rng = random.Random(SEED)
    outputs: list[list[str]] = []
    states: list[str] = []
    command_lines: list[bytes] = []
    run: detached.Run | None = None
    for number in range(KILLS):
        output = base / f"follower-{number}.txt"
        follower = start_follower(workdir, output)
        wait_for(
            lambda output=output: output.exists() and "following" in output.read_text(),
            "the follower to start following",
        )
        time.sleep(rng.uniform(0.5, 6.0))
        run = detached.find(runs, tf.APPLY_RUN)
        assert run is not None
        if not command_lines:
            command_lines = [cmdline(run.pid), cmdline(run.record["supervisor_pid"])]
        states.append(run.state)
        os.killpg(follower.pid, signal.SIGKILL)
        assert follower.wait(timeout=60) == -signal.SIGKILL
        outputs.append(output.read_text().splitlines())
        assert run.state != detached.INTERRUPTED, f"kill {number} took terraform down with it"
    assert run is not None
    model = tf.ApplyProgress()
    replayed: list[str] = []
    result = tf.Terraform(workdir).follow(run, replayed.append, model=model)
    run.pick_up()
    return {
        "workdir": workdir,
        "run": run,
        "result": result,
        "model": model,
        "replayed": replayed,
        "outputs": outputs,
        "states": states,
        "command_lines": command_lines,
    }


def test_killing_the_wizard_mid_apply_leaves_terraform_to_finish(
    killed_followers: dict[str, Any], moto_stack: Any
) -> None:
    run: detached.Run = killed_followers["run"]
    assert killed_followers["states"][0] == detached.RUNNING, "the first kill came too late"
    assert run.state == detached.FINISHED and run.exit_code == 0
    assert killed_followers["result"] is not None
    model: tf.ApplyProgress = killed_followers["model"]
    assert model.finished and len(model.done) == model.total == 8 + INSTANCES
    # One run only: every follower after the first reattached to it.
    ids = {lines[0] for lines in killed_followers["outputs"]}
    assert ids == {f"following {run.id}"}

    workdir = killed_followers["workdir"]
    assert state_ids(workdir, "aws_instance") == live_instances(moto_stack)
    assert len(live_instances(moto_stack)) == INSTANCES
    assert state_ids(workdir, "aws_s3_bucket") == client_buckets(moto_stack)
    assert tf.untracked(aws_adapter(moto_stack), tf.read_state(workdir), "acme", "analytics") == []
    assert tf.interrupted(workdir, run) is None
    assert tf.Terraform(workdir).drift(TARGETS) is None  # a new plan changes nothing


def test_a_reattached_follower_replays_from_the_start(killed_followers: dict[str, Any]) -> None:
    first, *later = killed_followers["outputs"]
    replayed = killed_followers["replayed"]
    assert replayed[0] == "terraform_data.instance_iteration: Plan to create"
    for lines in [first, *later]:
        shown = lines[1:]
        assert shown == replayed[: len(shown)], "a follower did not see the run from its start"
    assert any(line.startswith("Apply complete! Resources: 11 added") for line in replayed)


def test_the_killed_followers_apply_left_private_files_and_clean_command_lines(
    killed_followers: dict[str, Any],
) -> None:
    workdir = killed_followers["workdir"]
    terraform_line, supervisor_line = killed_followers["command_lines"]
    assert b"apply" in terraform_line and b"wizard.detached" in supervisor_line
    for line in (terraform_line, supervisor_line):
        assert ts.RDS_PASSWORD.encode() not in line
    for name in tf.STATE_FILES:
        if (workdir / name).exists():
            assert mode(workdir / name) == 0o600, name
    run: detached.Run = killed_followers["run"]
    assert mode(run.directory) == 0o700 and mode(run.directory.parent) == 0o700


def test_terraform_killed_mid_apply_is_reported_and_recovered(
    killed_followers: dict[str, Any],  # runs first: this scenario clears what it created
    planned: Path,
    moto_stack: Any,
    tmp_path: Path,
) -> None:
    clear_stack(moto_stack)
    workdir = fresh_repo(planned, tmp_path / "repo")
    runner = tf.Terraform(workdir)
    model = tf.ApplyProgress()
    run = runner.start_apply(workdir / PLANFILE)

    def instances_in_flight() -> bool:
        return sum(a.startswith("aws_instance.") for a in model.in_flight) == INSTANCES

    assert runner.follow(run, model=model, detach=instances_in_flight) is None
    group = os.getpgid(run.pid or 0)
    # The instances exist in AWS; terraform is waiting for them to run and has not recorded them.
    wait_for(lambda: len(live_instances(moto_stack)) == INSTANCES, "the instances in AWS")
    os.killpg(group, signal.SIGKILL)  # terraform, its provider and the supervisor
    wait_for(lambda: run.state == detached.INTERRUPTED, "the run to be seen as interrupted")
    # The supervisor may be seen gone while the kernel still closes terraform's files.
    wait_for(lambda: not tf.lock_held(workdir), "the killed terraform's lock to be released")

    why = tf.interrupted(workdir, run)
    assert why is not None
    assert "ended without an exit status (terraform was killed)" in why
    assert f"terraform left its state lock ({tf.LOCK_FILE})" in why
    with pytest.raises(tf.TerraformInterrupted, match="terraform apply was interrupted"):
        runner.follow(run)

    in_aws = live_instances(moto_stack)
    assert len(in_aws) == INSTANCES
    assert state_ids(workdir, "aws_instance") == set()  # terraform died before recording them
    aws = aws_adapter(moto_stack)
    lines = tf.untracked(aws, tf.read_state(workdir), "acme", "analytics")
    assert len(lines) == INSTANCES
    for instance in in_aws:
        line = next(x for x in lines if instance in x)
        assert "exists in AWS but not in the terraform state" in line
        assert f"aws ec2 terminate-instances --instance-ids {instance}" in line
        assert "terraform import 'aws_instance.analytics[" in line

    # terraform could not save its state at the end: it leaves it as errored.tfstate instead
    # (stood in for here by moving the state there; terraform writes it the same way).
    tracked_buckets = state_ids(workdir, "aws_s3_bucket")
    (workdir / tf.STATE_FILE).rename(workdir / tf.ERRORED_STATE)
    (workdir / tf.ERRORED_STATE).chmod(0o644)
    assert "left errored.tfstate" in (tf.interrupted(workdir, run) or "")

    done = runner.recover(run)
    assert done[0].startswith("pushed errored.tfstate")
    assert any(line.startswith("refreshed the state from AWS") for line in done), done
    copies = list(run.directory.glob(f"*-{tf.ERRORED_STATE}"))
    assert len(copies) == 1 and mode(copies[0]) == 0o600
    assert not (workdir / tf.ERRORED_STATE).exists()
    assert not (workdir / tf.LOCK_FILE).exists()
    assert state_ids(workdir, "aws_s3_bucket") == tracked_buckets == client_buckets(moto_stack)
    for name in tf.STATE_FILES:
        if (workdir / name).exists():
            assert mode(workdir / name) == 0o600, name
    assert tf.interrupted(workdir, detached.Run.load(run.directory)) is None

    # The refresh cannot know what terraform never recorded: those are listed for the operator.
    after = tf.untracked(aws, tf.read_state(workdir), "acme", "analytics")
    assert sorted(after) == sorted(lines)

    # Adopted (the wizard's f7 / --adopt-untracked): each goes to the address its name gives.
    for stray in tf.strays(aws, tf.read_state(workdir), "acme", "analytics"):
        runner.import_resource(stray.address, stray.ident)
    assert state_ids(workdir, "aws_instance") == in_aws
    assert tf.untracked(aws, tf.read_state(workdir), "acme", "analytics") == []
    assert mode(workdir / tf.STATE_FILE) == 0o600
