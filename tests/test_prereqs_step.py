"""The prerequisites step: each check of SPEC §4.1 against real things on loopback — a moto
server for AWS, a throwaway MariaDB for the edxapp database, an http.server for the LMS, real
ssh-keygen keys and the real tools on PATH."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import moto_service
import pytest
import services
from conftest import complete_answers
from moto_service import Moto

from wizard import headless, steps, yamlio
from wizard.answers import flatten
from wizard.context import RunContext
from wizard.engine import Session
from wizard.steps import Check, StepError, prereqs

PROFILE = "acme-analytics"
BUCKET = "acme-tracking-logs"
VENV_BIN = str(Path(sys.executable).parent)


# --- services -------------------------------------------------------------------------------


@pytest.fixture
def db(db: services.MariaDB) -> services.MariaDB:
    """The shared MariaDB as an edxapp server: it has an ``edxapp`` database."""
    db.sql("CREATE DATABASE edxapp")
    return db


class LMS(http.server.BaseHTTPRequestHandler):
    oauth2_status = 200

    def do_GET(self) -> None:
        status = self.oauth2_status if self.path.startswith("/oauth2/") else 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def lms() -> Iterator[tuple[str, type[LMS]]]:
    handler = type("Handler", (LMS,), {"oauth2_status": 200})
    server = http.server.ThreadingHTTPServer((services.LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{services.LOOPBACK}:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def aws_profile(moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Reset moto; ``use(key, secret, token)`` makes them the credentials of the profile."""
    moto.reset()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)

    def use(key: str, secret: str, token: str | None = None) -> None:
        env = moto_service.write_profile(tmp_path / "aws", PROFILE, key, secret, token)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return use


def keypair(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@pytest.fixture
def keys(tmp_path: Path, repo: Path) -> tuple[Path, Path]:
    """The analytics key in the secure repo and a different director key, both 0600."""
    repo.mkdir(parents=True, exist_ok=True)
    return keypair(repo / "analytics.pem"), keypair(tmp_path / "director.pem")


def answers(moto: Moto, db: services.MariaDB | None = None, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "aws__profile": PROFILE,
        "aws__endpoint_url": moto.url,
        "edxapp__tracking_logs_bucket": BUCKET,
        "edxapp__lms_url": "http://127.0.0.1:9",
    }
    if db is not None:
        values.update(
            edxapp__db_host=services.LOOPBACK,
            edxapp__db_port=db.port,
            edxapp__admin_user=db.admin_user,
            edxapp__admin_password=db.admin_password,
        )
    return complete_answers(**{**values, **overrides})


def run(
    repo: Path,
    data: dict[str, Any],
    *only: str,
    decisions: dict[str, str] | None = None,
) -> dict[str, Check]:
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(data, "answers.yml"), "answers.yml")
        found = prereqs.run_checks(session, decisions, only=only or prereqs.IDS)
    return {c.id: c for c in found}


def check(repo: Path, data: dict[str, Any], cid: str) -> Check:
    return run(repo, data, cid)[cid]


# --- AWS: credentials and AdministratorAccess ------------------------------------------------


def test_admin_through_a_user_policy(moto: Moto, aws_profile: Any, repo: Path) -> None:
    aws_profile(*moto_service.admin_user(moto))
    found = run(repo, answers(moto), "aws.credentials", "aws.admin")
    assert found["aws.credentials"].verdict == "pass"
    assert ":user/operator" in found["aws.credentials"].finding
    assert found["aws.admin"].verdict == "pass"
    assert found["aws.admin"].finding == "AdministratorAccess is attached to user operator"


def test_admin_through_a_group(moto: Moto, aws_profile: Any, repo: Path) -> None:
    iam = moto.client("iam")
    iam.create_user(UserName="operator")
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=moto_service.ADMIN_POLICY_ARN)
    iam.add_user_to_group(GroupName="admins", UserName="operator")
    aws_profile(*moto_service.user_keys(moto, "operator"))
    found = check(repo, answers(moto), "aws.admin")
    assert (found.verdict, found.finding) == (
        "pass",
        "user operator has AdministratorAccess through group admins",
    )


def test_admin_through_an_assumed_role(moto: Moto, aws_profile: Any, repo: Path) -> None:
    iam = moto.client("iam")
    role = iam.create_role(RoleName="analytics-admin", AssumeRolePolicyDocument="{}")["Role"]
    iam.attach_role_policy(RoleName="analytics-admin", PolicyArn=moto_service.ADMIN_POLICY_ARN)
    creds = moto.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="operator")
    c = creds["Credentials"]
    aws_profile(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    found = check(repo, answers(moto), "aws.admin")
    assert (found.verdict, found.finding) == (
        "pass",
        "AdministratorAccess through the assumed role analytics-admin",
    )


def test_a_user_without_admin_fails_with_the_command_that_grants_it(
    moto: Moto, aws_profile: Any, repo: Path
) -> None:
    iam = moto.client("iam")
    iam.create_user(UserName="intern")
    iam.create_group(GroupName="readers")
    iam.add_user_to_group(GroupName="readers", UserName="intern")
    aws_profile(*moto_service.user_keys(moto, "intern"))
    found = check(repo, answers(moto), "aws.admin")
    assert found.verdict == "fail"
    assert "user intern lacks AdministratorAccess" in found.finding
    assert "readers" in found.finding
    assert found.fix.startswith("aws iam attach-user-policy --user-name intern")


def test_a_user_in_no_group_without_admin_is_told_so(
    moto: Moto, aws_profile: Any, repo: Path
) -> None:
    moto.client("iam").create_user(UserName="loner")
    aws_profile(*moto_service.user_keys(moto, "loner"))
    found = check(repo, answers(moto), "aws.admin")
    assert (found.verdict, found.finding) == (
        "fail",
        "user loner lacks AdministratorAccess: not attached to the user (and it is in no group)",
    )


def test_calls_made_at_once_answer_in_order_and_the_first_failure_is_raised() -> None:
    def fails(text: str) -> str:
        raise ValueError(text)

    assert prereqs.at_once(lambda: 1, lambda: 2, lambda: 3) == [1, 2, 3]
    assert prereqs.at_once() == []
    with pytest.raises(ValueError, match="first"):
        prereqs.at_once(lambda: 1, lambda: fails("first"), lambda: fails("second"))


def test_broken_credentials_fail_once_and_the_other_aws_checks_are_not_checked(
    moto: Moto, aws_profile: Any, repo: Path
) -> None:
    aws_profile("AKIAANY", "any")
    data = answers(moto, aws__profile="acme-typo")
    found = run(repo, data, "aws.credentials", "aws.admin", "aws.vpc", "aws.collisions")
    assert found["aws.credentials"].verdict == "fail"
    assert "'acme-typo' is not in ~/.aws/config" in found["aws.credentials"].finding
    assert "aws configure --profile acme-typo" in found["aws.credentials"].fix
    for cid in ("aws.admin", "aws.vpc", "aws.collisions"):
        assert found[cid].verdict == "warn"
        assert "not checked: the AWS credentials do not work" in found[cid].finding


# --- AWS: tracking logs, collisions, VPC -----------------------------------------------------


def test_tracking_logs_show_the_newest_date(moto: Moto, aws_profile: Any, repo: Path) -> None:
    aws_profile(*moto_service.admin_user(moto))
    moto_service.ready_account(moto, BUCKET)
    moto.client("s3").put_object(Bucket=BUCKET, Key="logs/tracking/README", Body=b"x")
    found = check(repo, answers(moto), "aws.tracking_logs")
    assert found.verdict == "pass"
    assert found.finding == f"3 tracking log(s) in s3://{BUCKET}; newest: 2026-11-20"


def test_an_empty_tracking_logs_bucket_is_a_warning(
    moto: Moto, aws_profile: Any, repo: Path
) -> None:
    aws_profile(*moto_service.admin_user(moto))
    moto.client("s3").create_bucket(Bucket=BUCKET)
    found = check(repo, answers(moto), "aws.tracking_logs")
    assert found.verdict == "warn"
    assert "holds no tracking.log-YYYYMMDD-<epoch>.gz" in found.finding


def test_a_missing_tracking_logs_bucket_fails(moto: Moto, aws_profile: Any, repo: Path) -> None:
    aws_profile(*moto_service.admin_user(moto))
    found = check(repo, answers(moto), "aws.tracking_logs")
    assert found.verdict == "fail"
    assert found.finding == f"the tracking logs bucket {BUCKET} does not exist"
    assert "edxapp.tracking_logs_bucket" in found.fix


def test_existing_emr_roles_and_groups_are_a_warning_with_the_fix(
    moto: Moto, aws_profile: Any, repo: Path
) -> None:
    aws_profile(*moto_service.admin_user(moto))
    assert check(repo, answers(moto), "aws.collisions").verdict == "pass"
    iam, ec2 = moto.client("iam"), moto.client("ec2")
    for role in ("EMR_DefaultRole", "EMR_EC2_DefaultRole"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    ec2.create_security_group(GroupName="ElasticMapReduce-master", Description="emr")
    found = check(repo, answers(moto), "aws.collisions")
    assert found.verdict == "warn"
    for name in ("role EMR_DefaultRole", "role EMR_EC2_DefaultRole", "ElasticMapReduce-master"):
        assert name in found.finding
    assert "ElasticMapReduce-slave" not in found.finding
    assert "terraform import" in found.fix


def test_the_default_vpc_needs_dns_hostnames_and_an_internet_gateway(
    moto: Moto, aws_profile: Any, repo: Path
) -> None:
    aws_profile(*moto_service.admin_user(moto))
    ec2 = moto.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    found = check(repo, answers(moto), "aws.vpc")
    assert found.verdict == "fail"
    assert "no internet gateway" in found.finding
    assert "attach-internet-gateway" in found.fix
    # in the wizard's region, whatever the operator's CLI defaults to (a VPC is regional)
    region = f"--region {moto_service.REGION}"
    assert found.fix.count(region) == found.fix.count("aws ec2 ") == 2
    moto_service.ready_account(moto, BUCKET)
    assert check(repo, answers(moto), "aws.vpc").verdict == "pass"
    ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsHostnames={"Value": False})
    found = check(repo, answers(moto), "aws.vpc")
    assert (found.verdict, "DNS hostnames are off" in found.finding) == ("fail", True)
    assert "--enable-dns-hostnames" in found.fix and region in found.fix


# --- edxapp database --------------------------------------------------------------------------


def test_the_edxapp_database_is_found(moto: Moto, db: services.MariaDB, repo: Path) -> None:
    found = check(repo, answers(moto, db), "edxapp.database")
    assert found.verdict == "pass"
    assert found.finding.startswith(f"edxapp database on 127.0.0.1:{db.port}")


def test_a_server_without_an_edxapp_database_fails(
    moto: Moto, db: services.MariaDB, repo: Path
) -> None:
    db.sql("DROP DATABASE edxapp")
    found = check(repo, answers(moto, db), "edxapp.database")
    assert found.verdict == "fail"
    assert "has no edxapp database" in found.finding
    assert "edxapp.db_host" in found.fix


def test_a_wrong_password_fails_without_showing_it(
    moto: Moto, db: services.MariaDB, repo: Path
) -> None:
    wrong = "Wr0ng'pw-7734"
    found = check(repo, answers(moto, db, edxapp__admin_password=wrong), "edxapp.database")
    assert found.verdict == "fail"
    assert "access denied" in found.finding
    assert wrong not in found.finding + found.fix


def test_a_server_that_is_down_fails_with_how_to_reach_it(
    moto: Moto, db: services.MariaDB, repo: Path
) -> None:
    db.stop()
    try:
        found = check(repo, answers(moto, db), "edxapp.database")
    finally:
        db.start()
    assert found.verdict == "fail"
    assert found.finding.startswith("cannot reach the edxapp DB server")


# --- ENABLE_OAUTH2_PROVIDER ---------------------------------------------------------------------


def test_oauth2_provider_read_from_lms_yml_or_lms_env_json(moto: Moto, repo: Path) -> None:
    repo.mkdir(parents=True)
    (repo / "lms.yml").write_text("FEATURES:\n  ENABLE_OAUTH2_PROVIDER: true\n")
    (repo / "lms.env.json").write_text(json.dumps({"FEATURES": {"ENABLE_OAUTH2_PROVIDER": False}}))
    found = check(repo, answers(moto, edxapp__lms_config_file="lms.yml"), "edxapp.oauth2_provider")
    assert (found.verdict, found.finding) == (
        "pass",
        "FEATURES.ENABLE_OAUTH2_PROVIDER is true in lms.yml",
    )
    data = answers(moto, edxapp__lms_config_file="lms.env.json")
    found = check(repo, data, "edxapp.oauth2_provider")
    assert found.verdict == "fail" and "is False in lms.env.json" in found.finding
    assert "ENABLE_OAUTH2_PROVIDER: true" in found.fix


def test_oauth2_provider_from_the_lms_url(
    moto: Moto, repo: Path, lms: tuple[str, type[LMS]]
) -> None:
    url, handler = lms
    found = check(repo, answers(moto, edxapp__lms_url=url), "edxapp.oauth2_provider")
    assert (found.verdict, found.finding) == ("pass", f"{url}/oauth2/ answers HTTP 200 (not 404)")
    handler.oauth2_status = 404
    found = check(repo, answers(moto, edxapp__lms_url=url), "edxapp.oauth2_provider")
    assert found.verdict == "fail" and "answers 404" in found.finding


def test_an_lms_that_cannot_be_reached_needs_the_operators_word(moto: Moto, repo: Path) -> None:
    url = f"http://127.0.0.1:{services.free_port()}"
    found = check(repo, answers(moto, edxapp__lms_url=url), "edxapp.oauth2_provider")
    assert found.verdict == "fail"
    assert "edxapp.oauth2_provider_confirmed: true" in found.fix
    data = answers(moto, edxapp__lms_url=url, edxapp__oauth2_provider_confirmed=True)
    found = check(repo, data, "edxapp.oauth2_provider")
    assert found.verdict == "pass" and found.finding.startswith("confirmed by the operator")


# --- tools and keys ---------------------------------------------------------------------------


def test_tools_on_path_with_their_versions(
    moto: Moto, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not shutil.which("terraform"):
        pytest.skip("terraform is not installed here")
    monkeypatch.setenv("PATH", VENV_BIN + os.pathsep + os.environ["PATH"])
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    found = check(repo, answers(moto), "tools")
    assert found.verdict == "pass", found.finding
    for name in ("terraform ", "ansible-playbook ", "git ", "ssh "):
        assert name in found.finding
    # `terraform version` asks HashiCorp's checkpoint service for news (a network call the
    # director host may not allow) and leaves ~/.terraform.d behind: neither for a check.
    assert list(home.iterdir()) == []


def test_a_missing_tool_is_named_and_a_configuration_checkout_stands_in_for_ansible(
    moto: Moto, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("git", "ssh"):
        (bin_dir / name).symlink_to(shutil.which(name) or name)
    monkeypatch.setenv("PATH", str(bin_dir))
    checkout = tmp_path / "configuration"
    data = answers(moto, ansible__configuration_dir=str(checkout))
    found = check(repo, data, "tools")
    assert found.verdict == "fail"
    assert "terraform" in found.finding and "ansible-playbook" in found.finding
    (checkout / "playbooks").mkdir(parents=True)
    (checkout / "playbooks" / "analytics_single.yml").write_text("- hosts: all\n")
    found = check(repo, data, "tools")
    assert found.finding.startswith("not found on PATH: terraform;")
    assert "analytics_single.yml" in found.finding
    # The fix installs what is missing, and only that.
    assert "terraform" in found.fix
    for found_here in ("git", "ssh", "configuration", "ansible"):
        assert found_here not in found.fix, found.fix


def test_the_analytics_key_must_be_private_and_not_the_directors(
    moto: Moto, repo: Path, keys: tuple[Path, Path]
) -> None:
    analytics, director = keys
    data = answers(moto, director__key_file=str(director))
    found = check(repo, data, "ssh.keys")
    assert found.verdict == "pass" and "not the director's key" in found.finding
    same = answers(moto, director__key_file=str(analytics))
    found = check(repo, same, "ssh.keys")
    assert found.verdict == "fail" and "are the same key" in found.finding
    analytics.chmod(0o644)
    found = check(repo, data, "ssh.keys")
    assert found.verdict == "fail" and found.fix == f"chmod 600 {analytics}"


def test_without_the_director_key_the_keys_cannot_be_compared(
    moto: Moto, repo: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    data = answers(moto, director__key_file=str(tmp_path / "absent.pem"))
    found = check(repo, data, "ssh.keys")
    assert found.verdict == "warn" and "could not be compared" in found.finding


def test_an_account_check_without_its_answer_leaves_nothing_running(
    moto: Moto, aws_profile: Any, repo: Path
) -> None:
    aws_profile(*moto_service.admin_user(moto))
    data = answers(moto, edxapp__tracking_logs_bucket="", client__name="")  # none derived
    found = check(repo, data, "aws.tracking_logs")
    assert found.finding == "not checked: no answer for edxapp.tracking_logs_bucket"
    # It stopped before its requests; the caller's identity, asked beside them, is answered.
    assert not [t.name for t in threading.enumerate() if t.name.startswith("prereq")]


def test_a_check_without_its_answer_says_which_key_is_missing(moto: Moto, repo: Path) -> None:
    data = answers(moto)
    del data["edxapp"]["db_host"]
    found = check(repo, data, "edxapp.database")
    assert (found.verdict, found.finding) == ("fail", "not checked: no answer for edxapp.db_host")
    assert found.fix.startswith("answer edxapp.db_host")


# --- the whole step ---------------------------------------------------------------------------


@pytest.fixture
def ready(
    moto: Moto,
    aws_profile: Any,
    db: services.MariaDB,
    keys: tuple[Path, Path],
    lms: tuple[str, type[LMS]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    """Answers and an account for which every check passes."""
    if not shutil.which("terraform"):
        pytest.skip("terraform is not installed here")
    monkeypatch.setenv("PATH", VENV_BIN + os.pathsep + os.environ["PATH"])
    aws_profile(*moto_service.admin_user(moto))
    moto_service.ready_account(moto, BUCKET)
    return answers(moto, db, edxapp__lms_url=lms[0], director__key_file=str(keys[1]))


def test_every_check_passes_and_the_ledger_records_them(
    moto: Moto, repo: Path, ready: dict[str, Any]
) -> None:
    seen: list[str] = []
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(ready, "answers.yml"), "answers.yml")
        ctx = RunContext(on_event=lambda event: seen.append(event.data["check"].id))
        plan = session.plan("prereqs", ctx=ctx)
        assert [c.id for c in plan.checks] == list(prereqs.IDS)
        assert sorted(seen) == sorted(prereqs.IDS)
        assert {c.id: c.verdict for c in plan.checks if c.verdict != "pass"} == {}
        outputs = session.apply(plan)
        assert session.step_status(steps.by_name("prereqs")).state == "done"
    assert [c["id"] for c in outputs["checks"]] == list(prereqs.IDS)
    assert outputs["overrides"] == []

    # AWS changes afterwards: plain status reads the ledger (no check runs), --verify notices.
    remove_tracking_logs(moto)
    with Session.open(repo, write=False) as session:
        assert session.step_status(steps.by_name("prereqs")).state == "done"
        verified = session.step_status(steps.by_name("prereqs"), verify=True)
    assert verified.state == "stale" and "aws.tracking_logs" in verified.reason, verified


def remove_tracking_logs(moto: Moto) -> None:
    s3 = moto.client("s3")
    keys = [{"Key": o["Key"]} for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=BUCKET)


def test_a_failing_check_fails_the_step_unless_overridden(
    moto: Moto, repo: Path, ready: dict[str, Any]
) -> None:
    remove_tracking_logs(moto)
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(ready, "answers.yml"), "answers.yml")
        plan = session.plan("prereqs")
        with pytest.raises(StepError, match="1 prerequisite check"):
            session.apply(plan)
        assert session.ledger.steps["prereqs"].status == "failed"
        plan = session.plan("prereqs", {"override:aws.tracking_logs": "yes"})
        outputs = session.apply(plan)
    assert outputs["overrides"] == ["aws.tracking_logs"]
    assert session.ledger.steps["prereqs"].outputs["overrides"] == ["aws.tracking_logs"]


def test_rerunning_one_check_updates_the_plan(
    moto: Moto, repo: Path, ready: dict[str, Any]
) -> None:
    moto.client("iam").create_role(RoleName="EMR_DefaultRole", AssumeRolePolicyDocument="{}")
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(ready, "answers.yml"), "answers.yml")
        plan = session.plan("prereqs")
        assert {c.id: c.verdict for c in plan.checks}["aws.collisions"] == "warn"
        moto.client("iam").delete_role(RoleName="EMR_DefaultRole")
        assert session.recheck(plan, "aws.collisions", {}).verdict == "pass"
        assert {c.id: c.verdict for c in plan.checks}["aws.collisions"] == "pass"


def test_headless_json_lists_every_check_and_exits_non_zero_on_failure(
    moto: Moto,
    repo: Path,
    ready: dict[str, Any],
    write_answers: Callable[[dict[str, Any]], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_answers(ready)
    assert headless.run(repo, path, only=["prereqs"], as_json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in doc["checks"]] == list(prereqs.IDS)
    assert {c["verdict"] for c in doc["checks"]} == {"pass"}
    ec2 = moto.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsHostnames={"Value": False})
    assert headless.run(repo, path, only=["prereqs"], as_json=True) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    verdicts = {c["id"]: c["verdict"] for c in doc["checks"]}
    assert verdicts["aws.vpc"] == "fail"
    assert doc["steps"][0]["state"] == "failed"
    assert "aws.vpc" in captured.err and "--enable-dns-hostnames" in captured.err


# --- in the TUI -------------------------------------------------------------------------------


def test_tui_checks_fill_in_block_on_failure_and_continue_after_an_override(
    moto: Moto, repo: Path, ready: dict[str, Any]
) -> None:
    """The live table gets a verdict per check; a failure blocks ctrl+s until overridden."""
    import asyncio

    from snapshot_apps.repos import choose_step, form_ready, make_repo, open_app, settle
    from textual.widgets import DataTable, Static

    from screens.checks import ChecksScreen
    from screens.main import MainScreen

    s3 = moto.client("s3")
    for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]:
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)  # aws.tracking_logs fails
    make_repo(repo, ready)
    app = open_app(repo)
    seen: dict[str, Any] = {}

    def status(pilot: Any) -> str:
        return str(pilot.app.screen.query_one("#checks-status", Static).render())

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await form_ready(pilot)
            await settle(pilot)
            await choose_step(pilot, "prereqs")
            await pilot.press("ctrl+p")
            await settle(pilot)
            screen = pilot.app.screen
            assert isinstance(screen, ChecksScreen)
            table = screen.query_one(DataTable)
            seen["verdicts"] = {
                str(row.value): str(table.get_cell(row, "verdict")) for row in table.rows
            }
            seen["blocked"] = status(pilot)
            await pilot.press("ctrl+s")  # refused while a check fails
            await settle(pilot)
            seen["refused"] = status(pilot)
            table.move_cursor(row=table.get_row_index("aws.tracking_logs"))
            await pilot.pause()
            seen["detail"] = str(screen.query_one("#check-detail", Static).render())
            await pilot.press("o")
            await pilot.pause()
            await pilot.press("y")  # the override dialog
            await settle(pilot)
            seen["overridden"] = str(table.get_cell("aws.tracking_logs", "verdict"))
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(pilot.app.screen, MainScreen)

    try:
        asyncio.run(main())
    finally:
        app.session.close()
    verdicts = seen["verdicts"]
    assert set(verdicts) == set(prereqs.IDS)
    assert verdicts["aws.tracking_logs"] == "fail"
    assert {v for k, v in verdicts.items() if k != "aws.tracking_logs"} == {"pass"}
    assert "Failing checks block continuing" in seen["blocked"]
    assert "1 prerequisite check(s) failed" in seen["refused"]
    assert "aws.tracking_logs" in seen["detail"] and "fix:" in seen["detail"]
    assert seen["overridden"] == "fail (overridden)"
    ledger = yamlio.load_data(repo / ".wizard" / "state.yml")["steps"]["prereqs"]
    assert ledger["status"] == "done" and ledger["outputs"]["overrides"] == ["aws.tracking_logs"]


def test_every_check_has_its_place_in_the_start_order() -> None:
    assert sorted(prereqs.START_ORDER) == sorted(prereqs.IDS)
