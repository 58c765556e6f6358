"""The terraform step: the shipped configuration, applied for real against moto on 127.0.0.1.

One moto server and one applied stack serve the module (an apply takes ~1.5 minutes, mostly the
provider waiting on the RDS instance). Elasticsearch is off here (``create_elasticsearch: no``,
an existing host instead): ``aws_opensearch_domain`` takes ~10 minutes against moto because the
provider keeps polling the domain's processing state. Everything else the configuration creates
is applied and checked with boto3.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ci_required import skip_missing
from conftest import PLANTED_PASSWORD, ROOT, complete_answers, run_cli

from wizard import terraform as tf
from wizard import yamlio
from wizard.context import RunContext
from wizard.engine import Session
from wizard.errors import WizardError
from wizard.states import DONE, STALE
from wizard.steps import StepError, by_name
from wizard.steps import terraform as step

MIRROR = Path("/opt/tf-plugins")
ES_HOST = "search-acme-analytics-existing.us-east-1.es.amazonaws.com"
RDS_PASSWORD = "Tfroot8pw" + "x" * 20  # recognisable; RDS allows it


def _tool_or_skip() -> None:
    if shutil.which("terraform") is None:
        skip_missing("terraform is not on PATH (install terraform 1.5+)")
    if not (MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        skip_missing(f"the AWS provider mirror {MIRROR} is missing")


@pytest.fixture(scope="module")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """terraform installs the provider from the local mirror only; AWS creds via a profile."""
    _tool_or_skip()
    import moto_service

    home = tmp_path_factory.mktemp("tf-env")
    cli_config = home / "terraform.rc"
    cli_config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n',
        encoding="utf-8",
    )
    env = {
        "TF_CLI_CONFIG_FILE": str(cli_config),
        **moto_service.write_profile(home / "aws", "acme-analytics", "testing", "testing"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        yield env


@pytest.fixture(scope="module")
def moto(tf_env: dict[str, str]) -> Iterator[Any]:
    import moto_service

    server = moto_service.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws(moto: Any) -> dict[str, str]:
    """What exists before terraform: the director's group, the key pair, an AMI, the zone."""
    ec2 = moto.client("ec2")
    director = ec2.create_security_group(GroupName="director", Description="director")
    ec2.create_key_pair(KeyName="acme-analytics")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    moto.client("route53").create_hosted_zone(Name="example.com", CallerReference="tests")
    return {"director_sg": director["GroupId"], "ami": ami, "url": moto.url}


def stack_answers(aws: dict[str, str], **overrides: Any) -> dict[str, Any]:
    answers = complete_answers(**overrides)
    answers["aws"]["endpoint_url"] = aws["url"]
    answers["terraform"].update(
        {
            "image_id": aws["ami"],
            "director_security_group_id": aws["director_sg"],
            "rds_root_password": RDS_PASSWORD,
            "create_elasticsearch": False,
            "existing_elasticsearch_host": ES_HOST,
        }
    )
    # Later steps must find these in terraform's outputs, not in the answers.
    del answers["infrastructure"]
    del answers["database"]
    for key, value in overrides.items():
        group, name = key.split("__", 1)
        answers.setdefault(group, {})[name] = value
    return answers


def open_session(repo: Path, answers: dict[str, Any]) -> Session:
    session = Session.open(repo, command="test")
    session.merge_answers(_flat(answers), "test")
    return session


def _flat(answers: dict[str, Any]) -> dict[str, Any]:
    return {f"{g}.{k}": v for g, values in answers.items() for k, v in values.items()}


@pytest.fixture(scope="module")
def stack(aws: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The configuration applied once through the step, as the wizard does it."""
    repo = tmp_path_factory.mktemp("stack") / "secure-config"
    progress: list[str] = []
    with open_session(repo, stack_answers(aws)) as session:
        plan = session.plan("terraform")
        first_notes = list(plan.notes)
        outputs = session.apply(plan, RunContext(on_progress=progress.append))
    return {"repo": repo, "outputs": outputs, "progress": progress, "notes": first_notes}


# --- the shipped configuration ----------------------------------------------------------------


def test_shipped_configuration_validates(tf_env: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "config"
    shutil.copytree(ROOT / "assets" / "terraform", work)
    runner = tf.Terraform(work)
    runner.run(["init", "-input=false", "-backend=false", "-no-color"])
    runner.validate()
    fmt = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(work)], capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout


def test_every_variable_is_documented_and_typed() -> None:
    text = (ROOT / "assets" / "terraform" / "variables.tf").read_text()
    blocks = re.findall(r'variable "(\w+)" \{(.*?)\n\}', text, re.S)
    assert len(blocks) >= 20
    for name, body in blocks:
        assert "description" in body and "type" in body, name
    tfvars_keys = set(step.tfvars(_every_input_value()))
    assert tfvars_keys <= {name for name, _ in blocks}


def _every_input_value() -> dict[str, Any]:
    return dict.fromkeys(step.INPUTS, "x")


# --- output parsing -------------------------------------------------------------------------


def test_rds_endpoint_port_is_stripped_and_missing_outputs_are_named() -> None:
    raw = {name: {"sensitive": False, "value": f"v-{name}"} for name in tf.REQUIRED_OUTPUTS}
    raw["rds_host_name"] = {"value": "acme.abc.us-east-1.rds.amazonaws.com:3306"}
    raw["a_secret"] = {"sensitive": True, "value": "hidden"}
    values = tf.read_outputs(raw)
    assert values["rds_host_name"] == "acme.abc.us-east-1.rds.amazonaws.com"
    assert "a_secret" not in values
    del raw["emr_subnet_id"], raw["pipeline_bucket"]
    with pytest.raises(WizardError, match="lack emr_subnet_id, pipeline_bucket"):
        tf.read_outputs(raw)


def test_plan_summary_counts_each_action() -> None:
    show = {
        "resource_changes": [
            {"address": "a.new", "mode": "managed", "change": {"actions": ["create"]}},
            {"address": "a.same", "mode": "managed", "change": {"actions": ["no-op"]}},
            {"address": "a.edit", "mode": "managed", "change": {"actions": ["update"]}},
            {"address": "a.swap", "mode": "managed", "change": {"actions": ["delete", "create"]}},
            {"address": "a.gone", "mode": "managed", "change": {"actions": ["delete"]}},
            {"address": "data.x", "mode": "data", "change": {"actions": ["read"]}},
        ]
    }
    summary = tf.summarize(show)
    assert (summary.create, summary.update, summary.replace, summary.destroy) == (1, 1, 1, 1)
    assert [r.address for r in summary.destructive] == ["a.swap", "a.gone"]
    assert not tf.confirmed(summary, "yes") and not tf.confirmed(summary, "")
    assert tf.confirmed(summary, "destroy") and tf.confirmed(summary, "2")


# --- against moto -----------------------------------------------------------------------------


def test_apply_creates_the_stack(stack: dict[str, Any], moto: Any, aws: dict[str, str]) -> None:
    out = stack["outputs"]
    assert any("to create" in note and "0 to destroy" in note for note in stack["notes"])
    assert any("Creation complete" in line for line in stack["progress"])

    ec2 = moto.client("ec2")
    reservations = ec2.describe_instances(InstanceIds=out["analytics_instance_ids"])
    instance = reservations["Reservations"][0]["Instances"][0]
    assert instance["PrivateIpAddress"] == out["analytics_instance_private_ips"][0]
    assert instance["KeyName"] == "acme-analytics"
    group = ec2.describe_security_groups(GroupIds=[out["analytics_security_group_id"]])
    rules = {p["FromPort"]: p for p in group["SecurityGroups"][0]["IpPermissions"]}
    assert set(rules) == {80, 443, 22, 8080}
    for public in (80, 443):
        assert {r["CidrIp"] for r in rules[public]["IpRanges"]} == {"0.0.0.0/0"}
    for private in (22, 8080):  # never open to the world: the director's group only
        assert rules[private]["IpRanges"] == [] and rules[private].get("Ipv6Ranges", []) == []
        assert [g["GroupId"] for g in rules[private]["UserIdGroupPairs"]] == [aws["director_sg"]]

    db = moto.client("rds").describe_db_instances(DBInstanceIdentifier="acme-analytics")
    db = db["DBInstances"][0]
    assert db["Engine"] == "mysql" and db["EngineVersion"].startswith("8.0")
    assert out["rds_host_name"] == db["Endpoint"]["Address"] and ":" not in out["rds_host_name"]
    assert out["emr_rds_security_group_id"] in {
        g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]
    }

    buckets = {b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]}
    assert {
        "acme-analytics-emr",
        "acme-analytics-emr-logs",
        "acme-edxanalytics",
        "acme-analytics-api-reports",
    } <= buckets
    assert out["pipeline_bucket"] == "acme-edxanalytics"

    iam = moto.client("iam")
    for role in (
        "acme-analytics-analytics",
        "acme-analytics-emr-service",
        "acme-analytics-emr-ec2",
    ):
        iam.get_role(RoleName=role)
    profile = iam.get_instance_profile(InstanceProfileName="acme-analytics-emr-ec2")
    assert profile["InstanceProfile"]["Roles"][0]["RoleName"] == "acme-analytics-emr-ec2"

    subnets = ec2.describe_subnets(SubnetIds=[out["emr_subnet_id"]])["Subnets"]
    vpc = ec2.describe_vpcs(VpcIds=[subnets[0]["VpcId"]])["Vpcs"][0]
    assert vpc["IsDefault"]

    route53 = moto.client("route53")
    zone = route53.list_hosted_zones()["HostedZones"][0]["Id"]
    records = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    insights = [r for r in records if r["Name"].rstrip(".") == "insights.example.com"]
    assert insights[0]["ResourceRecords"][0]["Value"] == out["analytics_instance_public_ips"][0]
    assert out["elasticsearch_learners_host"] == ES_HOST


def test_secure_repo_holds_the_configuration_and_private_variables(stack: dict[str, Any]) -> None:
    repo = stack["repo"]
    shipped = sorted(p.name for p in (ROOT / "assets" / "terraform").glob("*.tf"))
    for name in shipped:
        assert (repo / "terraform" / name).read_text() == (
            ROOT / "assets" / "terraform" / name
        ).read_text()
    tfvars = repo / "terraform" / "terraform.tfvars.json"
    assert tfvars.stat().st_mode & 0o777 == 0o600
    assert json.loads(tfvars.read_text())["rds_root_password"] == RDS_PASSWORD
    assert (repo / "terraform" / "terraform.tfstate").stat().st_mode & 0o777 == 0o600
    assert (repo / "terraform" / "endpoints_override.tf.json").exists()
    # The password is in the variables file only, never in the ledger, logs or answers.
    for path in [repo / ".wizard" / "state.yml", repo / ".wizard" / "answers.yml"]:
        assert RDS_PASSWORD not in path.read_text()
    for log in (repo / ".wizard" / "logs").iterdir():
        assert RDS_PASSWORD not in log.read_text() and PLANTED_PASSWORD not in log.read_text()
    committed = subprocess.run(
        ["git", "-C", str(repo), "ls-files"], capture_output=True, text=True
    ).stdout.split()
    assert "terraform/terraform.tfstate" in committed
    assert "terraform/instances.tf" in committed and "terraform/terraform.tfvars.json" in committed


def test_second_plan_changes_nothing_and_status_is_done(
    stack: dict[str, Any], aws: dict[str, str]
) -> None:
    with open_session(stack["repo"], stack_answers(aws)) as session:
        plan = session.plan("terraform")
        assert plan.pending == [] and plan.confirm == ""
        assert "terraform plan: no changes: the infrastructure matches the configuration" in (
            plan.notes
        )
        assert session.step_status(by_name("terraform")).state == DONE


def test_a_changed_variable_shows_an_update(stack: dict[str, Any], aws: dict[str, str]) -> None:
    answers = stack_answers(aws)
    answers["terraform"]["instance_type"] = "t3.large"
    with open_session(stack["repo"], answers) as session:
        plan = session.plan("terraform")
        # The public IP changes with a stop/start, so the Insights record is updated too.
        assert "terraform plan: 0 to create, 2 to update, 0 to replace, 0 to destroy" in plan.notes
        assert "~ update aws_instance.analytics[0]" in plan.notes
        assert plan.confirm == ""  # an in-place update needs no confirmation word
        assert [c.path for c in plan.pending] == ["terraform/terraform.tfvars.json"]
        session.merge_answers({"terraform.instance_type": "t3.medium"}, "test")  # put it back


def test_a_replacement_demands_the_confirmation_word(
    stack: dict[str, Any], aws: dict[str, str], moto: Any, write_answers: Any
) -> None:
    repo = stack["repo"]
    before = stack["outputs"]["analytics_instance_ids"]
    answers = stack_answers(aws)
    answers["terraform"]["instance_iteration"] = 2
    with open_session(repo, answers) as session:
        plan = session.plan("terraform", force=True)  # --force alone is not a confirmation
        assert plan.confirm == "destroy"
        assert "-/+ replace aws_instance.analytics[0]" in plan.notes
        with pytest.raises(StepError, match="destroys or replaces"):
            session.apply(plan)
        assert not session.confirm(plan, "yes")

    path = write_answers(answers)
    refused = run_cli("run", "--answers", path, repo, "--only", "terraform", "--force")
    assert refused.returncode == 3, refused.stderr
    assert "--confirm-destroy" in refused.stderr
    assert moto.client("ec2").describe_instances(InstanceIds=before)["Reservations"]

    done = run_cli("run", "--answers", path, repo, "--only", "terraform", "--confirm-destroy")
    assert done.returncode == 0, done.stderr
    after = yamlio.load(repo / ".wizard" / "state.yml")["steps"]["terraform"]["outputs"]
    assert after["analytics_instance_ids"] != before
    states = moto.client("ec2").describe_instances(InstanceIds=before)["Reservations"]
    assert states[0]["Instances"][0]["State"]["Name"] == "terminated"


def test_later_steps_take_terraforms_outputs(stack: dict[str, Any], aws: dict[str, str]) -> None:
    with open_session(stack["repo"], stack_answers(aws)) as session:
        assert session.resolved.get("database.host") == session.ledger.output(
            "terraform", "rds_host_name"
        )
        plan = session.plan("files")  # no infrastructure: or database.host answers at all
    texts = {c.path: c.new for c in plan.changes}
    outputs = yamlio.load(stack["repo"] / ".wizard" / "state.yml")["steps"]["terraform"]["outputs"]
    assert outputs["rds_host_name"] in texts["vars-analytics.yml"]
    assert f"https://{ES_HOST}" in texts["analytics-tasks/analytics-override.cfg"]
    assert outputs["emr_subnet_id"] in texts["analytics-tasks/emr-vars.yml"]
    assert f"s3://{outputs['emr_logs_bucket']}" in texts["analytics-tasks/emr-vars.yml"]


def test_a_hand_edited_file_is_a_conflict_and_makes_the_step_stale(
    stack: dict[str, Any], aws: dict[str, str]
) -> None:
    target = stack["repo"] / "terraform" / "storage.tf"
    original = target.read_text()
    target.write_text(original + "# my note\n")
    try:
        with open_session(stack["repo"], stack_answers(aws)) as session:
            status = session.step_status(by_name("terraform"))
            assert status.state == STALE and "terraform/storage.tf" in status.reason
            plan = session.plan("terraform")
            assert [c.path for c in plan.conflicts] == ["terraform/storage.tf"]
    finally:
        target.write_text(original)


def test_terraform_errors_are_summary_and_detail(aws: dict[str, str], tmp_path: Path) -> None:
    answers = stack_answers(aws)
    answers["terraform"]["hosted_zone_domain"] = "no-such-zone.example"
    with (
        open_session(tmp_path / "repo", answers) as session,
        pytest.raises(WizardError) as caught,
    ):
        session.plan("terraform")
    message = str(caught.value)
    assert message.startswith("terraform plan failed: ")
    assert "no matching Route 53 Hosted Zone found" in message


def test_cancel_stops_terraform_and_reports_the_lock(aws: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "config"
    shutil.copytree(ROOT / "assets" / "terraform", work)
    answers = _flat(stack_answers(aws))
    values = {key: answers.get(key) for key in step.INPUTS}
    values["aws.profile"] = "acme-analytics"
    values.update({"client.name": "acme", "client.environment": "analytics"})
    (work / "terraform.tfvars.json").write_text(json.dumps(step.tfvars(values)))
    (work / "endpoints_override.tf.json").write_text(
        json.dumps(step.endpoints_override(aws["url"]))
    )
    cancel = threading.Event()

    def log(line: str) -> None:
        if line.startswith("$ terraform plan"):
            cancel.set()  # as the UI would, while terraform plan runs

    runner = tf.Terraform(work, cancelled=cancel.is_set, log=log)
    runner.init()
    with pytest.raises(tf.TerraformCancelled) as caught:
        runner.plan(work / "x.tfplan")
    assert "cancelled" in str(caught.value)
    assert "released its state lock" in str(caught.value)
    assert not (work / tf.LOCK_FILE).exists()


def test_dry_run_plans_without_touching_the_repo(
    aws: dict[str, str], tmp_path: Path, write_answers: Any
) -> None:
    repo = tmp_path / "dry"
    # A client of its own: the module's stack (client acme) is not this repo's, and a plan
    # over another repo's resources would rightly stop at them.
    path = write_answers(stack_answers(aws, client__name="dryrun"))
    result = run_cli("run", "--answers", path, repo, "--only", "terraform", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "to create" in result.stderr
    assert not (repo / "terraform").exists()
    assert RDS_PASSWORD not in result.stderr + result.stdout


def test_missing_terraform_is_one_clear_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(tf.TerraformMissing, match="terraform is not installed"):
        tf.binary()


def test_ci_turns_required_skips_into_a_failure(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "from ci_required import skip_missing\n"
        "def test_needs_tool():\n    skip_missing('terraform is not on PATH')\n"
    )
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["ci_required"]\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"))
    base = ["-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    import sys

    env.pop("CI", None)
    local = subprocess.run([sys.executable, *base], env=env, capture_output=True, text=True)
    assert local.returncode == 0, local.stdout
    env["CI"] = "true"
    ci = subprocess.run([sys.executable, *base], env=env, capture_output=True, text=True)
    assert ci.returncode == 1, ci.stdout
    assert "required tests skipped under CI" in ci.stdout


# --- in the TUI -------------------------------------------------------------------------------


def test_tui_plans_shows_the_summary_and_asks_for_the_word(
    stack: dict[str, Any], aws: dict[str, str], tmp_path: Path
) -> None:
    """Form → plan summary → a replacement asks for the word → a wrong word changes nothing."""
    import asyncio

    from snapshot_apps.repos import choose_step, form_ready, open_app, settle
    from textual.widgets import Input, Static

    from screens.confirm import WordDialog
    from screens.preview import PreviewScreen

    repo = tmp_path / "secure-config"
    shutil.copytree(stack["repo"], repo, symlinks=True)
    # The copy keeps the answers the stack was last applied with (a replacement test may
    # already have raised the iteration); one more forces a replacement.
    with Session.open(repo, command="test") as session:
        iteration = session.resolved.get("terraform.instance_iteration")
        session.merge_answers({"terraform.instance_iteration": iteration + 1}, "test")
    state_before = (repo / "terraform" / "terraform.tfstate").read_bytes()
    app = open_app(repo)
    seen: dict[str, str] = {}

    def screen_text(pilot: Any) -> str:
        return "\n".join(str(w.render()) for w in pilot.app.screen.query(Static))

    async def main() -> None:
        async with app.run_test(size=(100, 40)) as pilot:
            await form_ready(pilot)
            await settle(pilot)
            await choose_step(pilot, "terraform")
            await pilot.press("ctrl+p")  # terraform plan, in a worker
            await settle(pilot)
            assert isinstance(pilot.app.screen, PreviewScreen), screen_text(pilot)
            seen["preview"] = screen_text(pilot)
            await pilot.press("ctrl+s")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            assert isinstance(pilot.app.screen, WordDialog)
            pilot.app.screen.query_one("#word", Input).value = "yes"
            await pilot.press("enter")
            await settle(pilot)
            seen["refused"] = screen_text(pilot)
            await pilot.press("escape")
            await settle(pilot)

    try:
        asyncio.run(main())
    finally:
        app.session.close()
    assert "terraform plan:" in seen["preview"]
    assert "-/+ replace aws_instance.analytics[0]" in seen["preview"]
    assert RDS_PASSWORD not in seen["preview"]
    assert "'yes' does not confirm it; nothing was changed." in seen["refused"]
    assert (repo / "terraform" / "terraform.tfstate").read_bytes() == state_before


def test_tui_offers_choices_from_aws(aws: dict[str, str], tmp_path: Path) -> None:
    """f6 on the director security group lists the account's groups; picking one saves it."""
    import asyncio

    from snapshot_apps.repos import choose_step, form_ready, make_repo, open_app, settle
    from textual.widgets import Input, OptionList

    from screens.choices import ChoicesDialog
    from screens.field_row import input_id

    answers = stack_answers(aws)
    del answers["terraform"]["director_security_group_id"]
    repo = make_repo(tmp_path / "secure-config", answers)
    app = open_app(repo)
    seen: dict[str, Any] = {}

    async def main() -> None:
        async with app.run_test(size=(100, 40)) as pilot:
            await form_ready(pilot)
            await settle(pilot)
            await choose_step(pilot, "terraform")
            field = pilot.app.screen.query_one(
                f"#{input_id('terraform.director_security_group_id')}", Input
            )
            field.focus()
            await pilot.press("f6")
            await settle(pilot)
            dialog = pilot.app.screen
            assert isinstance(dialog, ChoicesDialog)
            options = dialog.query_one(OptionList)
            seen["offered"] = [
                options.get_option_at_index(i).id for i in range(options.option_count)
            ]
            options.highlighted = seen["offered"].index(aws["director_sg"])
            await pilot.press("enter")
            await settle(pilot)
            seen["value"] = field.value

    try:
        asyncio.run(main())
    finally:
        app.session.close()
    assert aws["director_sg"] in seen["offered"]
    assert seen["value"] == aws["director_sg"]
    saved = yamlio.load_data(repo / ".wizard" / "answers.yml")
    assert saved["terraform"]["director_security_group_id"] == aws["director_sg"]


def test_tui_apply_shows_the_outputs(
    stack: dict[str, Any], aws: dict[str, str], tmp_path: Path
) -> None:
    """Plan with nothing to change, apply from the preview: the form shows the key outputs."""
    import asyncio

    from snapshot_apps.repos import choose_step, form_ready, open_app, settle
    from textual.widgets import Static

    from screens.main import MainScreen

    repo = tmp_path / "secure-config"
    shutil.copytree(stack["repo"], repo, symlinks=True)
    app = open_app(repo)
    seen: dict[str, str] = {}

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await form_ready(pilot)
            await settle(pilot)
            await choose_step(pilot, "terraform")
            await pilot.press("ctrl+p")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await pilot.pause()
            await pilot.press("y")
            await settle(pilot)
            assert isinstance(pilot.app.screen, MainScreen)
            seen["message"] = str(
                pilot.app.screen.query_one("#terraform #form-message", Static).render()
            )

    try:
        asyncio.run(main())
    finally:
        app.session.close()
    outputs = yamlio.load_data(repo / ".wizard" / "state.yml")["steps"]["terraform"]["outputs"]
    assert f"rds_host_name = {outputs['rds_host_name']}" in seen["message"], seen["message"]
    assert RDS_PASSWORD not in seen["message"]


def test_adopting_before_any_plan_says_there_is_nothing_to_adopt(
    aws: dict[str, str], tmp_path: Path
) -> None:
    """f7 on a fresh form: the RDS password is not generated yet and nothing was applied."""
    answers = stack_answers(aws, client__name="fresh")
    del answers["terraform"]["rds_root_password"]  # generated by the first plan
    session = open_session(tmp_path / "fresh", answers)
    try:
        lines = session.step("terraform").run_action("adopt_untracked", session, {})
    finally:
        session.close()
    assert lines == ["AWS holds nothing of this client that terraform's state lacks"]
