"""The files step: six secure-repo files from the answers, through Session and through the CLI."""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PLANTED_PASSWORD, complete_answers, run_cli

from wizard import steps, yamlio
from wizard.answers import flatten
from wizard.documents import MISSING, is_placeholder, parse
from wizard.engine import Session
from wizard.ledger import Ledger, StepRecord
from wizard.steps import Plan, StepError
from wizard.steps import files as files_step

VARS = "vars-analytics.yml"
ENV = "analytics-tasks/jenkins_env"
EMR = "analytics-tasks/emr-vars.yml"
CFG = "analytics-tasks/analytics-override.cfg"
EDXAPP_CREDS = "analytics-tasks/edxapp_creds"
ANALYTICS_CREDS = "analytics-tasks/edxanalytics_creds"
SIX = (VARS, ENV, EMR, CFG, EDXAPP_CREDS, ANALYTICS_CREDS)
ES_HOST = "search-acme-analytics-abc123.us-east-1.es.amazonaws.com"
DB_HOST = "acme-analytics.abc123.us-east-1.rds.amazonaws.com"

WriteAnswers = Callable[..., Path]


# --- helpers ------------------------------------------------------------------------------


def session_run(
    repo: Path,
    data: dict[str, Any] | None = None,
    decisions: dict[str, str] | None = None,
    force: bool = False,
) -> Plan:
    """Plan and (when there is no conflict) apply the files step, as the TUI does."""
    flat = flatten(data if data is not None else complete_answers(), "answers.yml")
    with Session.open(repo, command="test") as session:
        session.merge_answers(flat, "answers.yml")
        plan = session.plan("files", decisions or {}, force)
        if not plan.conflicts:
            session.apply(plan)
        return plan


def cli_run(
    repo: Path, write_answers: WriteAnswers, data: dict[str, Any] | None = None, *extra: str
) -> subprocess.CompletedProcess[str]:
    answers = write_answers(data if data is not None else complete_answers())
    result = run_cli("run", "--answers", answers, repo, "--only", "files", *extra)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def snapshot(repo: Path) -> dict[str, tuple[bytes, int, int, int]]:
    """Bytes, mtime, mode and inode (an atomic rewrite is a new inode, whatever the clock says)
    of every file the wizard keeps (not git internals, logs or lock)."""
    found = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if rel.startswith((".git/", ".wizard/logs/")) or rel == ".wizard/lock":
            continue
        if path.is_file():
            st = path.stat()
            found[rel] = (path.read_bytes(), st.st_mtime_ns, st.st_mode & 0o777, st.st_ino)
    return found


def outputs(repo: Path) -> dict[str, tuple[bytes, int, int, int]]:
    return {k: v for k, v in snapshot(repo).items() if k in SIX}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")


def commit_count(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD"))


def operator_commit(repo: Path, message: str) -> None:
    git(repo, "add", "--all")
    git(
        repo,
        "-c",
        "user.name=Operator",
        "-c",
        "user.email=op@example.com",
        "commit",
        "-q",
        "-m",
        message,
    )


def edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} in {rel}:\n{text}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def read(repo: Path, rel: str) -> str:
    return (repo / rel).read_text(encoding="utf-8")


def doc_value(repo: Path, rel: str, key: str) -> Any:
    spec = next(s for s in files_step.FILES if s.path == rel)
    return parse(spec.kind, read(repo, rel), rel).get(key)


def owned_keys(repo: Path) -> dict[str, list[str]]:
    with Session.open(repo, write=False) as session:
        v = files_step.values(session)
        b = files_step.buckets(v, lambda name: session.ledger.output("terraform", name))
        return {spec.path: list(spec.owned(v, b)) for spec in files_step.FILES}


def age_ledger(repo: Path) -> None:
    """Make the last run look like yesterday's (committed), so a re-run cannot hide behind
    the clock: an unchanged ledger must keep these bytes."""
    edit_all(repo, ".wizard/state.yml", "finished_at: ", "finished_at: '2020-01-01T00:00:00+00:00'")
    operator_commit(repo, "yesterday")


def edit_all(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if old in line:
            line = line[: line.index(old)] + new + "\n"
        lines.append(line)
    path.write_text("".join(lines), encoding="utf-8")


def bash_env(path: Path, names: list[str]) -> dict[str, str]:
    script = 'set -a; . "$1"; shift; for v in "$@"; do printf "%s=%s\\0" "$v" "${!v}"; done'
    out = subprocess.run(
        ["bash", "-c", script, "_", str(path), *names],
        capture_output=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if item)


def yaml_plain(value: Any) -> Any:
    from ruamel.yaml.comments import TaggedScalar

    if isinstance(value, TaggedScalar):
        return str(value.value)
    if isinstance(value, dict):
        return {str(k): yaml_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [yaml_plain(v) for v in value]
    return value


Runner = Callable[[Path, WriteAnswers, dict[str, Any]], None]


def via_session(repo: Path, write_answers: WriteAnswers, data: dict[str, Any]) -> None:
    plan = session_run(repo, data)
    assert not plan.conflicts


def via_cli(repo: Path, write_answers: WriteAnswers, data: dict[str, Any]) -> None:
    result = cli_run(repo, write_answers, data)
    assert result.returncode == 0, result.stderr


RUNNERS = [pytest.param(via_session, id="session"), pytest.param(via_cli, id="cli")]


# --- what gets written --------------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_every_owned_key_gets_a_real_value(
    runner: Runner, repo: Path, write_answers: WriteAnswers
) -> None:
    runner(repo, write_answers, complete_answers())
    keys = owned_keys(repo)
    assert sorted(keys) == sorted(SIX)
    for rel, names in keys.items():
        assert names, rel
        text = read(repo, rel)
        assert "'x'" not in text and "TODO" not in text and "SET ME" not in text, rel
        for name in names:
            value = doc_value(repo, rel, name)
            assert value is not MISSING, f"{name} missing from {rel}"
            assert not is_placeholder(value), f"{name} in {rel} is {value!r}"
            assert value not in ("", [], {}), f"{name} in {rel} is empty"


@pytest.mark.parametrize("runner", RUNNERS)
def test_values_reach_each_consumer(
    runner: Runner, repo: Path, write_answers: WriteAnswers
) -> None:
    data = complete_answers(database__analytics_password=PLANTED_PASSWORD)
    runner(repo, write_answers, data)

    ansible = yaml_plain(yamlio.load(repo / VARS))
    assert ansible["EDXAPP_LMS_BASE"] == "lms.example.com"
    assert ansible["EDXAPP_CMS_BASE"] == "studio.example.com"
    assert ansible["EDXAPP_LMS_BASE_SCHEME"] == "https"
    assert ansible["COMMON_MYSQL_MIGRATE_USER"] == "edxapp001"
    assert ansible["COMMON_MYSQL_MIGRATE_PASS"] == PLANTED_PASSWORD
    assert ansible["ANALYTICS_MYSQL_PASSWORD"] == PLANTED_PASSWORD
    assert ansible["ANALYTICS_MYSQL_HOST"] == DB_HOST
    assert ansible["ANALYTICS_MYSQL_PORT"] == "3306"
    assert ansible["ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST"] == f"https://{ES_HOST}"
    assert ansible["ANALYTICS_API_ELASTICSEARCH_CONNECTION_DEFAULT_REGION"] == "us-east-1"
    assert ansible["INSIGHTS_BASE_URL"] == "https://insights.example.com"
    assert ansible["INSIGHTS_SOCIAL_AUTH_REDIRECT_IS_HTTPS"] is True
    assert ansible["ANALYTICS_SCHEDULE_SECURE_REPO_URL"] == "git@github.com:acme/secure-config.git"
    assert ansible["INSIGHTS_OAUTH2_KEY"] == ansible["INSIGHTS_SOCIAL_AUTH_EDX_OAUTH2_KEY"]
    # Jenkins reads the analytics key through a lookup of the key file's path, relative to the
    # secure repo (cloned onto the director): no path of the machine that wrote the file.
    key_lookup = ansible["JENKINS_ANALYTICS_CREDENTIALS"][0]["privatekey"]
    assert key_lookup.startswith("{{ lookup('file', ")
    assert ansible[files_step.KEY_FILE_VAR] == "analytics.pem"
    assert files_step.SECURE_REPO_VAR in key_lookup
    assert str(repo.resolve()) not in (repo / VARS).read_text()
    # The Jenkins vars the roles read (jenkins_master, jenkins_analytics, nginx).
    assert ansible["JENKINS_VERSION"] == "1.651.3" and "jenkins_version" not in ansible
    assert "-Djava.net.preferIPv4Stack=true" in ansible["jenkins_jvm_args"].split()
    assert ansible["jenkins_nginx_port"] == 8081
    assert ansible["jenkins_server_name"] == "jenkins.example.com"

    env = bash_env(
        repo / ENV,
        [
            "AWS_REGION",
            "CLUSTER_NAME",
            "TRACKING_LOGS_S3_BUCKET",
            "HADOOP_S3_BUCKET",
            "TASK_CONFIGURATION_S3_BUCKET",
            "EDXAPP_S3_BUCKET",
            "TASKS_BRANCH",
            "SCRIPT_RUNNER_JAR_S3_URL",
        ],
    )
    assert env == {
        "AWS_REGION": "us-east-1",
        "CLUSTER_NAME": "Acme Analytics Cluster",
        "TRACKING_LOGS_S3_BUCKET": "s3://acme-tracking-logs",
        "HADOOP_S3_BUCKET": "s3://acme-edxanalytics",
        "TASK_CONFIGURATION_S3_BUCKET": "s3://acme-analytics-emr",
        "EDXAPP_S3_BUCKET": "s3://acme-prod-edxapp-storage",
        "TASKS_BRANCH": "open-release/koa.3",
        "SCRIPT_RUNNER_JAR_S3_URL": "s3://us-east-1.elasticmapreduce/libs/script-runner/script-runner.jar",
    }

    emr = yaml_plain(yamlio.load(repo / EMR))
    assert emr["name"] == "{{ lookup('env', 'CLUSTER_NAME') }}"
    assert emr["region"] == "us-east-1"
    assert emr["keypair_name"] == "acme-analytics"
    assert emr["vpc_subnet_id"] == "subnet-0123456789abcdef0"
    assert emr["log_uri"] == "s3://acme-analytics-emr-logs"
    assert emr["release_label"] == "emr-4.9.6"
    classifications = [c["classification"] for c in emr["configurations"]]
    assert classifications == ["mapred-site", "yarn-site"]  # us-east-1: no core-site

    cfg = configparser.ConfigParser()
    cfg.read(repo / CFG, encoding="utf-8")
    assert json.loads(cfg.get("elasticsearch", "host")) == [f"https://{ES_HOST}"]
    assert json.loads(cfg.get("event-logs", "source")) == ["s3://acme-tracking-logs/logs/tracking/"]
    assert cfg.get("hive", "warehouse_path") == "s3://acme-edxanalytics/warehouse/hive/"
    assert cfg.get("manifest", "lib_jar") == "s3://acme-analytics-emr/edx-analytics-hadoop-util.jar"
    assert cfg.get("database-import", "credentials") == "s3://acme-edxanalytics/edxapp_creds"
    assert cfg.get("database-export", "credentials") == "s3://acme-edxanalytics/edxanalytics_creds"

    analytics = json.loads(read(repo, ANALYTICS_CREDS))
    assert analytics == {
        "host": DB_HOST,
        "port": "3306",
        "username": "analytics",
        "password": PLANTED_PASSWORD,
    }
    edxapp = json.loads(read(repo, EDXAPP_CREDS))
    assert edxapp["host"] == "edxapp-db.example.com"
    assert edxapp["username"] == "edxapp_ro"
    assert len(edxapp["password"]) == 40


def test_options_the_wizard_adds_sit_inside_their_section(repo: Path) -> None:
    session_run(repo)
    text = read(repo, CFG)
    assert "[hive]\nwarehouse_path = s3://acme-edxanalytics/warehouse/hive/\n\n[" in text
    assert "connection_type = aws\nhost = [" in text
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("[") and number > 0:
            assert lines[number - 1] == "", f"no blank line before {line}:\n{text}"


def test_outside_us_east_1_emr_gets_the_regional_s3_endpoint(repo: Path) -> None:
    session_run(repo, complete_answers(aws__region="eu-west-2"))
    emr = yaml_plain(yamlio.load(repo / EMR))
    assert emr["region"] == "eu-west-2"
    core = [c for c in emr["configurations"] if c["classification"] == "core-site"]
    assert core == [
        {
            "classification": "core-site",
            "properties": {"fs.s3n.endpoint": "s3.eu-west-2.amazonaws.com"},
        }
    ]
    assert "export AWS_REGION=eu-west-2" in read(repo, ENV)
    ansible = yamlio.load(repo / VARS)
    assert ansible["ANALYTICS_API_ELASTICSEARCH_CONNECTION_DEFAULT_REGION"] == "eu-west-2"


def test_terraform_outputs_feed_the_files(repo: Path) -> None:
    """After the terraform step: its outputs are the infrastructure values and bucket names."""
    (repo / ".wizard").mkdir(parents=True)
    Ledger(repo / ".wizard" / "state.yml").record(
        "terraform",
        StepRecord(
            status="done",
            outputs={
                "rds_host_name": "acme-tf.xyz.us-east-1.rds.amazonaws.com",
                "elasticsearch_learners_host": "search-acme-tf.us-east-1.es.amazonaws.com",
                "emr_subnet_id": "subnet-0ddddddddddddddd1",
                "pipeline_bucket": "acme-tf-edxanalytics",
                "emr_bucket": "acme-tf-emr",
                "emr_logs_bucket": "acme-tf-emr-logs",
                "emr_ec2_instance_profile_name": "acme-tf-emr-nodes",
            },
        ),
    )
    data = complete_answers()
    del data["infrastructure"]
    del data["database"]["host"]
    session_run(repo, data)
    assert (
        json.loads(read(repo, ANALYTICS_CREDS))["host"] == "acme-tf.xyz.us-east-1.rds.amazonaws.com"
    )
    assert "https://search-acme-tf.us-east-1.es.amazonaws.com" in read(repo, CFG)
    env = read(repo, ENV)
    assert "export HADOOP_S3_BUCKET=s3://acme-tf-edxanalytics" in env
    assert "export TASK_CONFIGURATION_S3_BUCKET=s3://acme-tf-emr" in env
    emr = yamlio.load(repo / EMR)
    assert emr["log_uri"] == "s3://acme-tf-emr-logs"
    assert emr["vpc_subnet_id"] == "subnet-0ddddddddddddddd1"
    assert emr["role"] == "acme-tf-emr-nodes"
    assert "s3://acme-tf-edxanalytics/warehouse/hive/" in read(repo, CFG)


def test_without_terraform_the_emr_role_follows_the_naming_rule(repo: Path) -> None:
    session_run(repo, complete_answers())
    assert yamlio.load(repo / EMR)["role"] == "acme-analytics-emr-ec2"


def test_interactive_and_headless_runs_write_identical_files(
    repo: Path, write_answers: WriteAnswers
) -> None:
    secrets = {
        "database__analytics_password": "A" * 40,
        "database__readonly_password": "B" * 40,
        "insights__secret_key": "C" * 40,
        "insights__oauth2_key": "D" * 40,
        "insights__oauth2_secret": "E" * 40,
        "analytics_api__auth_token": "F" * 40,
        "analytics_api__secret_key": "G" * 40,
    }
    data = complete_answers(**secrets)
    session_run(repo, data)
    by_session = {rel: read(repo, rel) for rel in SIX}
    subprocess.run(["rm", "-rf", str(repo)], check=True)
    assert cli_run(repo, write_answers, data).returncode == 0
    assert {rel: read(repo, rel) for rel in SIX} == by_session


def test_modes_secret_files_0600_and_private_dirs_0700(repo: Path) -> None:
    session_run(repo)
    mode = {rel: (repo / rel).stat().st_mode & 0o777 for rel in SIX}
    assert mode[VARS] == 0o600
    assert mode[EDXAPP_CREDS] == 0o600
    assert mode[ANALYTICS_CREDS] == 0o600
    assert (repo / "analytics-tasks").stat().st_mode & 0o777 == 0o700
    assert (repo / ".wizard").stat().st_mode & 0o777 == 0o700
    assert (repo / ".wizard" / "secrets.yml").stat().st_mode & 0o777 == 0o600
    for rel in (ENV, EMR, CFG):  # no secrets in these
        assert mode[rel] & 0o077 in (0o044, 0o000), rel


def test_loosened_modes_are_tightened_again(repo: Path) -> None:
    session_run(repo)
    os.chmod(repo / VARS, 0o644)
    os.chmod(repo / ANALYTICS_CREDS, 0o666)
    os.chmod(repo / "analytics-tasks", 0o755)
    session_run(repo)
    assert (repo / VARS).stat().st_mode & 0o777 == 0o600
    assert (repo / ANALYTICS_CREDS).stat().st_mode & 0o777 == 0o600
    assert (repo / "analytics-tasks").stat().st_mode & 0o777 == 0o700


def test_the_local_probe_of_untouched_files_renders_nothing(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """status and the sidebar compare digests; only a file that differs is rendered and parsed."""
    session_run(repo)

    def rendered(*args: Any) -> Plan:
        raise AssertionError("the probe rendered the files")

    with monkeypatch.context() as patched:
        patched.setattr(files_step.FilesStep, "plan", rendered)
        with Session.open(repo, write=False) as session:
            status = session.step_status(steps.by_name("files"))
        assert status.state == "done", status.reason
    os.chmod(repo / VARS, 0o644)
    with Session.open(repo, write=False) as session:
        status = session.step_status(steps.by_name("files"))
    assert status.state == "stale" and status.reason == f"out of date: {VARS}"


# --- cross-file rules ---------------------------------------------------------------------


def _region(repo: Path) -> dict[str, str]:
    edit(repo, ENV, "export AWS_REGION=us-east-1", "export AWS_REGION=eu-west-1")
    return {f"{ENV}:AWS_REGION": "keep"}


def _core_site(repo: Path) -> dict[str, str]:
    edit(
        repo,
        EMR,
        "  - classification: 'core-site'\n    properties:\n"
        "      fs.s3n.endpoint: 's3.eu-west-2.amazonaws.com'\n",
        "",
    )
    return {f"{EMR}:configurations": "keep"}


def _cluster(repo: Path) -> dict[str, str]:
    edit(repo, EMR, "name: \"{{ lookup('env', 'CLUSTER_NAME') }}\"", "name: 'Old Cluster'")
    return {f"{EMR}:name": "keep"}


def _es_mismatch(repo: Path) -> dict[str, str]:
    edit(
        repo, CFG, f'host = ["https://{ES_HOST}"]', 'host = ["https://search-old.es.amazonaws.com"]'
    )
    return {f"{CFG}:elasticsearch.host": "keep"}


def _es_scheme(repo: Path) -> dict[str, str]:
    edit(repo, VARS, f"'https://{ES_HOST}'", f"'http://{ES_HOST}'")
    edit(repo, CFG, f'host = ["https://{ES_HOST}"]', f'host = ["http://{ES_HOST}"]')
    return {
        f"{VARS}:ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST": "keep",
        f"{CFG}:elasticsearch.host": "keep",
    }


def _mysql_host(repo: Path) -> dict[str, str]:
    edit(repo, ANALYTICS_CREDS, f'"host": "{DB_HOST}"', '"host": "old-db.example.com"')
    return {f"{ANALYTICS_CREDS}:host": "keep"}


def _mysql_user(repo: Path) -> dict[str, str]:
    edit(repo, VARS, "ANALYTICS_MYSQL_USER: 'analytics'", "ANALYTICS_MYSQL_USER: 'insights'")
    return {f"{VARS}:ANALYTICS_MYSQL_USER": "keep"}


def _hadoop_bucket(repo: Path) -> dict[str, str]:
    edit(repo, ENV, "HADOOP_S3_BUCKET=s3://acme-edxanalytics", "HADOOP_S3_BUCKET=s3://acme-old")
    return {f"{ENV}:HADOOP_S3_BUCKET": "keep"}


def _tracking_bucket(repo: Path) -> dict[str, str]:
    edit(
        repo, CFG, '["s3://acme-tracking-logs/logs/tracking/"]', '["s3://acme-lms/logs/tracking/"]'
    )
    return {f"{CFG}:event-logs.source": "keep"}


def _emr_bucket(repo: Path) -> dict[str, str]:
    edit(repo, CFG, "s3://acme-analytics-emr/edx", "s3://acme-other-emr/edx")
    return {f"{CFG}:manifest.lib_jar": "keep"}


def _nginx_8080(repo: Path) -> dict[str, str]:
    # Not an owned key: the operator may change it, but not onto Jenkins' port.
    edit(repo, VARS, "INSIGHTS_NGINX_PORT: 80\n", "INSIGHTS_NGINX_PORT: 8080\n")
    return {}


def _nginx_8081(repo: Path) -> dict[str, str]:
    edit(repo, VARS, "INSIGHTS_NGINX_SSL_PORT: 443\n", "INSIGHTS_NGINX_SSL_PORT: 8081\n")
    return {}


def _nginx_same(repo: Path) -> dict[str, str]:
    edit(repo, VARS, "INSIGHTS_NGINX_SSL_PORT: 443\n", "INSIGHTS_NGINX_SSL_PORT: 80\n")
    return {}


RULES = [
    pytest.param(
        _region, {}, "one region everywhere: jenkins_env AWS_REGION is 'eu-west-1'", id="region"
    ),
    pytest.param(
        _core_site,
        {"aws__region": "eu-west-2"},
        "emr-vars.yml needs a core-site fs.s3n.endpoint classification in eu-west-2",
        id="core-site",
    ),
    pytest.param(
        _cluster, {}, "emr-vars.yml name 'Old Cluster' differs from CLUSTER_NAME", id="cluster"
    ),
    pytest.param(_es_mismatch, {}, "Elasticsearch endpoint differs", id="es-endpoint"),
    pytest.param(_es_scheme, {}, "must start with https://", id="es-https"),
    pytest.param(
        _mysql_host,
        {},
        "ANALYTICS_MYSQL_HOST in vars-analytics.yml and host in edxanalytics_creds differ",
        id="mysql-host",
    ),
    pytest.param(
        _mysql_user,
        {},
        "ANALYTICS_MYSQL_USER in vars-analytics.yml and username in edxanalytics_creds differ",
        id="mysql-user",
    ),
    pytest.param(
        _hadoop_bucket,
        {},
        "bucket differs: jenkins_env HADOOP_S3_BUCKET is 'acme-old'",
        id="hadoop-bucket",
    ),
    pytest.param(
        _tracking_bucket,
        {},
        "jenkins_env TRACKING_LOGS_S3_BUCKET is 'acme-tracking-logs'",
        id="tracking-bucket",
    ),
    pytest.param(_emr_bucket, {}, "TASK_CONFIGURATION_S3_BUCKET", id="emr-bucket"),
    pytest.param(_nginx_8080, {}, "Insights nginx port 8080 clashes with Jenkins", id="nginx-8080"),
    pytest.param(_nginx_8081, {}, "Insights nginx port 8081 clashes with Jenkins", id="nginx-8081"),
    pytest.param(
        _nginx_same,
        {},
        "INSIGHTS_NGINX_PORT and INSIGHTS_NGINX_SSL_PORT must differ",
        id="nginx-same",
    ),
]


@pytest.mark.parametrize(("break_rule", "overrides", "rule"), RULES)
def test_a_broken_cross_file_rule_stops_the_step_and_writes_nothing(
    repo: Path, break_rule: Callable[[Path], dict[str, str]], overrides: dict[str, Any], rule: str
) -> None:
    data = complete_answers(**overrides)
    session_run(repo, data)
    decisions = break_rule(repo)
    before, commit = snapshot(repo), head(repo)
    # A changed answer too: it must not be written either.
    data["edxapp"]["contact_email"] = "analytics@example.com"
    with pytest.raises(StepError) as caught:
        session_run(repo, data, decisions)
    message = str(caught.value)
    assert "the files would not fit together" in message
    assert rule in message, message
    after = snapshot(repo)
    assert {k: after[k] for k in SIX} == {k: before[k] for k in SIX}
    assert head(repo) == commit


def test_an_undecided_hand_edit_is_asked_about_before_the_rules(
    repo: Path, write_answers: WriteAnswers
) -> None:
    assert cli_run(repo, write_answers).returncode == 0
    edit(repo, ENV, "export AWS_REGION=us-east-1", "export AWS_REGION=eu-west-1")
    result = cli_run(repo, write_answers)
    assert result.returncode == 3  # a question, not a failure: overwriting would fit
    assert "AWS_REGION" in result.stderr
    assert "would not fit together" not in result.stderr
    assert cli_run(repo, write_answers, None, "--force").returncode == 0


def test_a_sigv4_only_region_needs_a_newer_emr_release(repo: Path) -> None:
    data = complete_answers(aws__region="eu-central-1", pipeline__emr_release_label="emr-4.7.2")
    with pytest.raises(StepError) as caught:
        session_run(repo, data)
    assert (
        "eu-central-1 accepts only SigV4, which needs EMR release emr-4.9.6 or newer (got emr-4.7.2)"
        in str(caught.value)
    )
    assert not (repo / VARS).exists()
    assert not (repo / "analytics-tasks" / "emr-vars.yml").exists()


@pytest.mark.parametrize(
    ("region", "release"),
    [
        ("us-east-1", "emr-4.7.2"),
        ("eu-west-1", "emr-4.7.2"),
        ("eu-central-1", "emr-4.9.6"),
        ("eu-central-1", "emr-5.36.0"),
    ],
)
def test_emr_release_fits_the_region(repo: Path, region: str, release: str) -> None:
    session_run(repo, complete_answers(aws__region=region, pipeline__emr_release_label=release))
    assert f"release_label: '{release}'" in read(repo, EMR)


def test_a_broken_rule_fails_the_headless_run(repo: Path, write_answers: WriteAnswers) -> None:
    data = complete_answers(aws__region="ap-northeast-2", pipeline__emr_release_label="emr-4.7.2")
    result = cli_run(repo, write_answers, data)
    assert result.returncode == 1
    assert "accepts only SigV4" in result.stderr
    assert not (repo / VARS).exists()
    status = run_cli("status", "--json", repo)
    files = next(s for s in json.loads(status.stdout)["steps"] if s["name"] == "files")
    assert files["state"] == "failed"
    assert "accepts only SigV4" in files["reason"]


# --- re-runs ------------------------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_second_run_with_the_same_answers_changes_nothing(
    runner: Runner, repo: Path, write_answers: WriteAnswers
) -> None:
    runner(repo, write_answers, complete_answers())
    age_ledger(repo)
    before, commit = snapshot(repo), head(repo)
    runner(repo, write_answers, complete_answers())
    assert snapshot(repo) == before  # bytes, mtimes and modes, the ledger included
    assert head(repo) == commit


@pytest.mark.parametrize(
    ("overrides", "affected"),
    [
        ({"edxapp__contact_email": "analytics@example.com"}, {VARS}),
        ({"aws__region": "eu-west-2"}, {VARS, ENV, EMR}),
        ({"infrastructure__elasticsearch_host": "search-new.es.amazonaws.com"}, {VARS, CFG}),
        ({"database__host": "new-db.example.com"}, {VARS, ANALYTICS_CREDS}),
        ({"edxapp__db_host": "new-edxapp-db.example.com"}, {EDXAPP_CREDS}),
        (
            {"client__name": "bigco", "edxapp__tracking_logs_bucket": "acme-tracking-logs"},
            {ENV, EMR, CFG},
        ),
    ],
)
def test_a_changed_answer_updates_only_what_it_affects_in_one_commit(
    repo: Path, overrides: dict[str, Any], affected: set[str]
) -> None:
    data = complete_answers()
    if "client__name" in overrides:  # keep every explicit name that is not derived
        data["pipeline"]["cluster_name"] = "Acme Analytics Cluster"
        data["terraform"]["key_pair_name"] = "acme-analytics"
    session_run(repo, data)
    before, commit, count = outputs(repo), head(repo), commit_count(repo)
    for dotted, value in overrides.items():
        group, key = dotted.split("__", 1)
        data[group][key] = value
    plan = session_run(repo, data)
    assert {c.path for c in plan.pending} == affected
    after = outputs(repo)
    assert {k for k in SIX if after[k] != before[k]} == affected
    assert commit_count(repo) == count + 1
    assert git(repo, "rev-parse", "HEAD~1") == commit
    changed = set(git(repo, "show", "--name-only", "--format=", "HEAD").splitlines())
    assert changed & set(SIX) == affected
    assert changed <= set(SIX) | {".wizard/answers.yml", ".wizard/state.yml", ".wizard/secrets.yml"}


OPERATOR_ADDITIONS = {
    VARS: ("SANDBOX_ENABLE_INSIGHTS: true\n", "MY_OWN_KEY: 'kept'  # my own key\n# my own note\n"),
    ENV: ("export TERMINATE=true\n", "export MY_VAR=mine  # my own variable\n# my own note\n"),
    EMR: ("role: 'acme-analytics-emr-ec2'\n", "tags:\n  team: data  # who pays\n"),
    CFG: ("[elasticsearch]\n", "# my own comment\ntimeout = 60\n"),
}


CFG_SECTION = "\n[my-section]\n# about my option\nmy_option = 42\n"


def _add_operator_content(repo: Path) -> None:
    for rel, (anchor, added) in OPERATOR_ADDITIONS.items():
        edit(repo, rel, anchor, anchor + added)
    with (repo / CFG).open("a", encoding="utf-8") as cfg:
        cfg.write(CFG_SECTION)
    for rel in (EDXAPP_CREDS, ANALYTICS_CREDS):
        data = json.loads(read(repo, rel))
        data["ssl_ca"] = "/etc/ssl/rds.pem"
        (repo / rel).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _assert_operator_content(repo: Path) -> None:
    for rel, (anchor, added) in OPERATOR_ADDITIONS.items():
        assert anchor + added in read(repo, rel), read(repo, rel)
    assert read(repo, CFG).endswith(CFG_SECTION)
    for rel in (EDXAPP_CREDS, ANALYTICS_CREDS):
        assert json.loads(read(repo, rel))["ssl_ca"] == "/etc/ssl/rds.pem"


@pytest.mark.parametrize("runner", RUNNERS)
def test_operator_keys_and_comments_survive_reruns(
    runner: Runner, repo: Path, write_answers: WriteAnswers
) -> None:
    data = complete_answers()
    runner(repo, write_answers, data)
    _add_operator_content(repo)
    # Same answers: nothing of the operator's is touched.
    runner(repo, write_answers, data)
    _assert_operator_content(repo)
    # Answers that rewrite all six files.
    data = complete_answers(
        aws__region="eu-west-2",
        infrastructure__elasticsearch_host="search-acme-new.eu-west-2.es.amazonaws.com",
        database__host="acme-new.eu-west-2.rds.amazonaws.com",
        edxapp__db_host="edxapp-new.example.com",
    )
    runner(repo, write_answers, data)
    _assert_operator_content(repo)
    assert "export AWS_REGION=eu-west-2" in read(repo, ENV)
    assert "search-acme-new" in read(repo, CFG)
    assert json.loads(read(repo, EDXAPP_CREDS))["host"] == "edxapp-new.example.com"
    assert json.loads(read(repo, ANALYTICS_CREDS))["host"] == "acme-new.eu-west-2.rds.amazonaws.com"


def test_equivalent_hand_quoting_is_not_a_change(repo: Path) -> None:
    session_run(repo)
    edit(
        repo,
        ENV,
        "export CLUSTER_NAME='Acme Analytics Cluster'",
        'export CLUSTER_NAME="Acme Analytics Cluster"',
    )
    edit(repo, VARS, "EDXAPP_LMS_BASE: 'lms.example.com'", 'EDXAPP_LMS_BASE: "lms.example.com"')
    before = outputs(repo)
    plan = session_run(repo)
    assert plan.conflicts == [] and plan.pending == []
    assert outputs(repo) == before


# --- hand-edited owned values -------------------------------------------------------------


def test_a_hand_edited_value_is_a_conflict(repo: Path) -> None:
    session_run(repo)
    edit(repo, VARS, "EDXAPP_LMS_BASE: 'lms.example.com'", "EDXAPP_LMS_BASE: 'courses.acme.org'")
    before = outputs(repo)
    plan = session_run(repo, complete_answers(edxapp__contact_email="analytics@example.com"))
    assert [(c.id, c.current, c.wizard) for c in plan.conflicts] == [
        (f"{VARS}:EDXAPP_LMS_BASE", "courses.acme.org", "lms.example.com")
    ]
    assert outputs(repo) == before
    with (
        Session.open(repo, command="test") as session,
        pytest.raises(StepError, match="keep or overwrite"),
    ):
        session.apply(session.plan("files"))
    assert outputs(repo) == before


def test_headless_conflict_exits_3_and_writes_nothing(
    repo: Path, write_answers: WriteAnswers
) -> None:
    assert cli_run(repo, write_answers).returncode == 0
    edit(repo, ENV, "export TASKS_BRANCH=open-release/koa.3", "export TASKS_BRANCH=my-fork")
    before, commit = outputs(repo), head(repo)
    result = cli_run(repo, write_answers, complete_answers(aws__region="eu-west-2"))
    assert result.returncode == 3
    assert "TASKS_BRANCH" in result.stderr and "jenkins_env" in result.stderr
    assert "my-fork" in result.stderr and "--force" in result.stderr
    assert outputs(repo) == before
    assert head(repo) == commit
    assert "TASKS_BRANCH=my-fork" in read(repo, ENV)
    as_json = cli_run(repo, write_answers, complete_answers(), "--json")
    assert as_json.returncode == 3
    files = next(s for s in json.loads(as_json.stdout)["steps"] if s["name"] == "files")
    assert files["state"] == "conflict"
    assert files["conflicts"] == [{"file": ENV, "key": "TASKS_BRANCH"}]


def test_force_overwrites_a_hand_edited_value(repo: Path, write_answers: WriteAnswers) -> None:
    assert cli_run(repo, write_answers).returncode == 0
    edit(repo, ENV, "export TASKS_BRANCH=open-release/koa.3", "export TASKS_BRANCH=my-fork")
    result = cli_run(repo, write_answers, complete_answers(), "--force")
    assert result.returncode == 0, result.stderr
    assert "export TASKS_BRANCH=open-release/koa.3" in read(repo, ENV)
    assert cli_run(repo, write_answers).returncode == 0  # and it is no conflict afterwards


def test_keep_keeps_a_hand_edited_value_and_is_remembered(
    repo: Path, write_answers: WriteAnswers
) -> None:
    session_run(repo)
    edit(
        repo,
        VARS,
        "EDXAPP_LMS_BASE: 'lms.example.com'",
        "EDXAPP_LMS_BASE: 'courses.acme.org'  # CDN",
    )
    data = complete_answers(edxapp__contact_email="analytics@example.com")
    plan = session_run(repo, data, {f"{VARS}:EDXAPP_LMS_BASE": "keep"})
    assert plan.conflicts == []
    assert "kept your value of EDXAPP_LMS_BASE in vars-analytics.yml" in plan.notes
    text = read(repo, VARS)
    assert "EDXAPP_LMS_BASE: 'courses.acme.org'  # CDN" in text
    assert "EDXAPP_CONTACT_EMAIL: 'analytics@example.com'" in text  # the rest was applied
    # Remembered: the next runs, in the session and headless, keep it without asking.
    plan = session_run(repo, data)
    assert plan.conflicts == [] and plan.pending == []
    result = cli_run(repo, write_answers, data)
    assert result.returncode == 0, result.stderr
    assert "kept your value of EDXAPP_LMS_BASE" in result.stderr
    assert "EDXAPP_LMS_BASE: 'courses.acme.org'" in read(repo, VARS)
    status = json.loads(run_cli("status", "--json", repo).stdout)
    assert next(s for s in status["steps"] if s["name"] == "files")["state"] == "done"
    # A different hand edit of the same key is a new question.
    edit(repo, VARS, "'courses.acme.org'", "'learn.acme.org'")
    assert [c.key for c in session_run(repo, data).conflicts] == ["EDXAPP_LMS_BASE"]


def test_overwrite_decision_takes_the_answer(repo: Path) -> None:
    session_run(repo)
    edit(repo, ENV, "export AWS_REGION=us-east-1", "export AWS_REGION=eu-west-1")
    plan = session_run(repo, complete_answers(), {f"{ENV}:AWS_REGION": "overwrite"})
    assert plan.conflicts == []
    assert "export AWS_REGION=us-east-1" in read(repo, ENV)


def test_a_deleted_file_is_written_again(repo: Path) -> None:
    session_run(repo)
    (repo / CFG).unlink()
    plan = session_run(repo)
    assert [c.path for c in plan.pending] == [CFG]
    assert "elasticsearch" in read(repo, CFG)


@pytest.mark.parametrize(
    ("rel", "broken", "problem"),
    [
        (VARS, "EDXAPP_LMS_BASE: 'a\n  - b: [\n", "vars-analytics.yml"),
        (EDXAPP_CREDS, '{"host": ', "not valid JSON"),
        (CFG, "[elasticsearch\nhost = x\n", "analytics-override.cfg"),
    ],
)
def test_an_unreadable_file_stops_the_step_naming_it(
    repo: Path, rel: str, broken: str, problem: str
) -> None:
    session_run(repo)
    (repo / rel).write_text(broken, encoding="utf-8")
    before = outputs(repo)
    with pytest.raises(StepError) as caught:
        session_run(repo, complete_answers(edxapp__contact_email="analytics@example.com"))
    assert problem in str(caught.value)
    assert "fix the file by hand or move it aside" in str(caught.value)
    assert outputs(repo) == before


# --- files pre-filled by hand in the runbook's placeholder style ---------------------------

PREFILLED = {
    VARS: (
        "---\n"
        "# acme analytics, filled in by hand\n"
        "EDXAPP_LMS_BASE_SCHEME: 'x'  # TODO: replace this\n"
        "EDXAPP_LMS_BASE: 'x'  # TODO: replace this\n"
        "COMMON_MYSQL_MIGRATE_PASS: 'x'  # TODO: replace this\n"
        "ANALYTICS_MYSQL_PASSWORD: 'x'  # TODO: replace this\n"
        "INSIGHTS_BASE_URL: 'x'  # TODO: replace this\n"
        "# Secrets, from the vault\n"
        "INSIGHTS_SECRET_KEY: ''\n"
        "OPENEDX_RELEASE: # TODO\n"
        "MY_FEATURE_FLAG: true  # keep me\n"
    ),
    ENV: (
        "# jenkins env, by hand\n"
        "export AWS_REGION=x\n"
        "export CONFIG_BRANCH=x\n"
        "export TASKS_BRANCH=x  # TODO: replace this\n"
        "export NUM_REDUCE_TASKS=4  # keep me\n"
    ),
    EMR: (
        "---\n"
        "region: 'x'  # TODO: replace this\n"
        "keypair_name: 'x'  # your key pair name\n"
        "vpc_subnet_id: 'subnet-SET ME'  # public subnet of the VPC\n"
        "release_label: 'x'  # TODO: replace this\n"
    ),
    CFG: "[hive]\nwarehouse_path = x\n\n[elasticsearch]\nhost = x\nconnection_type = aws\n",
    EDXAPP_CREDS: '{\n  "host": "x",\n  "port": "x",\n  "username": "x",\n  "password": "x"\n}\n',
}


def test_runbook_placeholders_are_replaced_without_conflict(repo: Path) -> None:
    (repo / "analytics-tasks").mkdir(parents=True)
    for rel, text in PREFILLED.items():
        (repo / rel).write_text(text, encoding="utf-8")
    plan = session_run(repo)
    assert plan.conflicts == []
    for rel in PREFILLED:
        text = read(repo, rel)
        assert "TODO" not in text and "SET ME" not in text, text
        assert "'x'" not in text and "=x\n" not in text and "= x\n" not in text, text
    vars_text = read(repo, VARS)
    assert "# acme analytics, filled in by hand" in vars_text
    assert "MY_FEATURE_FLAG: true  # keep me" in vars_text
    assert "INSIGHTS_BASE_URL: 'https://insights.example.com'\n# Secrets, from the vault\n" in (
        vars_text
    )
    assert "EDXAPP_LMS_BASE: 'lms.example.com'\n" in vars_text  # comment gone with the TODO
    assert "OPENEDX_RELEASE: 'open-release/koa.3'\n" in vars_text
    env_text = read(repo, ENV)
    assert "export TASKS_BRANCH=open-release/koa.3\n" in env_text
    assert "export NUM_REDUCE_TASKS=4  # keep me" in env_text
    emr_text = read(repo, EMR)
    assert re.search(
        r"vpc_subnet_id: 'subnet-0123456789abcdef0' +# public subnet of the VPC", emr_text
    )
    assert re.search(r"keypair_name: 'acme-analytics' +# your key pair name", emr_text)
    assert json.loads(read(repo, EDXAPP_CREDS))["host"] == "edxapp-db.example.com"
    # Afterwards these are the wizard's values: a re-run changes nothing.
    assert session_run(repo).pending == []


def test_a_real_value_in_a_hand_made_file_is_not_overwritten_silently(repo: Path) -> None:
    (repo / "analytics-tasks").mkdir(parents=True)
    (repo / ENV).write_text("export CLUSTER_NAME='Prod Analytics'\n", encoding="utf-8")
    plan = session_run(repo)
    assert [c.id for c in plan.conflicts] == [f"{ENV}:CLUSTER_NAME"]
    assert not (repo / VARS).exists()


# --- git ----------------------------------------------------------------------------------


def test_a_new_secure_repo_is_git_initialised_with_one_commit_per_step(repo: Path) -> None:
    session_run(repo)
    assert (repo / ".git").is_dir()
    assert commit_count(repo) == 1
    assert git(repo, "log", "-1", "--format=%s") == "analytics-wizard: files step done"
    tracked = set(git(repo, "ls-files").splitlines())
    assert set(SIX) <= tracked
    assert {".wizard/answers.yml", ".wizard/state.yml", ".gitignore"} <= tracked
    assert not any(t.startswith(".wizard/logs") or t == ".wizard/lock" for t in tracked)
    assert git(repo, "status", "--porcelain") == ""


def test_an_existing_git_repo_gets_commits_on_top_and_nothing_is_pushed(
    tmp_path: Path, repo: Path
) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README").write_text("acme secure config\n", encoding="utf-8")
    operator_commit(repo, "initial")
    git(repo, "remote", "add", "origin", str(remote))
    session_run(repo)
    assert commit_count(repo) == 2
    assert git(repo, "log", "-1", "--format=%s") == "analytics-wizard: files step done"
    refs = subprocess.run(
        ["git", "-C", str(remote), "for-each-ref"], capture_output=True, text=True, check=True
    ).stdout
    assert refs == ""  # never pushed


def test_no_commit_when_nothing_changed_even_with_unrelated_work_around(repo: Path) -> None:
    session_run(repo)
    age_ledger(repo)
    commit = head(repo)
    (repo / "notes.txt").write_text("operator's notes, not ready\n", encoding="utf-8")
    session_run(repo)
    assert head(repo) == commit
    assert "?? notes.txt" in git(repo, "status", "--porcelain")


def test_a_step_commit_holds_only_what_the_wizard_wrote(repo: Path) -> None:
    session_run(repo)
    (repo / "notes.txt").write_text("operator's notes, not ready\n", encoding="utf-8")
    session_run(repo, complete_answers(edxapp__contact_email="analytics@example.com"))
    changed = set(git(repo, "show", "--name-only", "--format=", "HEAD").splitlines())
    assert "notes.txt" not in changed
    assert VARS in changed
