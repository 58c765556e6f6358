"""Every value reaches its real consumer literally (SPEC §4.4).

The files are written by a real headless run with values that have bitten consumers before, then
read the way production reads them: ansible templates the YAML (``-e @file``), bash sources
``jenkins_env``, the pipeline reads the ``.cfg`` with ConfigParser interpolation, and the creds are
JSON. Property-based tests push arbitrary accepted text through each encoder of
``wizard/documents.py`` and the same consumers.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PLANTED_PASSWORD, complete_answers, run_cli
from wizard import assets, yamlio
from wizard.documents import (
    CfgDocument,
    EnvDocument,
    JsonDocument,
    Literal,
    Template,
    YamlDocument,
)
from wizard.fields import FieldError, secret_text, text

ANSIBLE = Path(sys.executable).with_name("ansible")
JINJA_ATTACK = "{{ lookup('pipe', 'touch PWNED') }}"
SHELL_ATTACK = "$(touch PWNED) `touch PWNED`"

# What an operator may type (each value passes its field's validator), with every character
# class the SPEC names: quotes, #, %, $, backslashes, {{ }}, {% %}, unicode and emoji.
HOSTILE: dict[str, str] = {
    "edxapp__migrate_password": PLANTED_PASSWORD,
    "database__analytics_password": (
        "q'uo\"te #h %p %(x)s %% $HOME ${X} \\b\\\\s {{ x }} "
        "{% if true %}y{% endif %} {# c #} " + JINJA_ATTACK + " ü 😀"
    ),
    "database__readonly_password": " spaces around {%raw%} '\" ",
    "pipeline__cluster_name": (
        'Acme\'s "Cluster" #1 100% $HOME ${AWS_REGION} ' + SHELL_ATTACK + " \\n {{ x }} ü 😀"
    ),
    "edxapp__contact_email": "o'p\"s#%$\\{{x}}ü😀@example.com",
    "insights__secret_key": JINJA_ATTACK,
    "insights__oauth2_key": "{% for x in range(3) %}{{ x }}{% endfor %}",
    "insights__oauth2_secret": "{# comment #}%s%%$'\"\\",
    "analytics_api__auth_token": "tok {{ ANALYTICS_MYSQL_PASSWORD }}",
    "analytics_api__secret_key": "\\x00 \\u0000 \\N !unsafe &a *a",
    "terraform__key_pair_name": "acme {{x}} #1 $HOME & (a)",
    "pipeline__secure_repo_url": "git@github.com:acme/{{x}}'%$.git",
    "ansible__private_key": 'keys/it\'s a "key" #1 %{{x}}}} \\ ü.pem',
}
KEY_CONTENT = "-----BEGIN KEY-----\n{{ not a template }} ü\n-----END KEY-----"


def typed(name: str) -> str:
    return HOSTILE[name]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A secure repo written by a real headless run with the hostile answers."""
    base = tmp_path_factory.mktemp("consumers")
    answers = base / "answers.yml"
    answers.write_text(yamlio.dumps(complete_answers(**HOSTILE)), encoding="utf-8")
    repo = base / "secure-config"
    result = run_cli("run", "--answers", answers, repo, "--only", "files")
    assert result.returncode == 0, result.stderr
    key = repo / typed("ansible__private_key")
    key.parent.mkdir()
    key.write_text(KEY_CONTENT + "\n", encoding="utf-8")
    return repo


# --- running the consumers --------------------------------------------------------------


def ansible_env(workdir: Path, **extra: str) -> dict[str, str]:
    """ansible isolated from this machine's configuration, with plain, parseable output."""
    for name in ("home", "tmp-local", "tmp-remote"):
        (workdir / name).mkdir(exist_ok=True)
    config = workdir / "ansible.cfg"
    config.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            "LC_ALL": "C.UTF-8",
            "HOME": str(workdir / "home"),
            "ANSIBLE_CONFIG": str(config),
            "ANSIBLE_HOME": str(workdir / "home"),
            "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp-local"),
            "ANSIBLE_REMOTE_TEMP": str(workdir / "tmp-remote"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_STDOUT_CALLBACK": "minimal",
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
        }
    )
    env.update(extra)
    return env


def ansible_vars(
    workdir: Path,
    var_files: list[Path],
    names: list[str],
    *,
    extra_vars: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    source: Path | None = None,
) -> dict[str, Any]:
    """``names`` as ansible templates them with ``-e @file`` for each of ``var_files``.

    With ``source``, ansible runs from a bash that sourced that file first (how the pipeline's
    Jenkins jobs run the EMR playbook with jenkins_env)."""
    probe = workdir / "probe.yml"
    probe.write_text(yamlio.dumps({"probe": {n: "{{ " + n + " }}" for n in names}}), "utf-8")
    command = [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local"]
    command += ["-m", "ansible.builtin.debug", "-a", "var=probe"]
    for path in var_files:
        command += ["-e", f"@{path}"]
    command += ["-e", f"@{probe}"]
    for key, value in (extra_vars or {}).items():
        command += ["-e", json.dumps({key: value})]
    if source is not None:
        command = ["bash", "-c", 'set -eu; source "$0"; exec "$@"', str(source), *command]
    result = subprocess.run(
        command,
        cwd=workdir,
        env=ansible_env(workdir, **(env or {})),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    head, sep, body = result.stdout.partition(" => ")
    assert sep and "SUCCESS" in head, result.stdout
    probed: dict[str, Any] = json.loads(body)["probe"]
    return probed


def sourced(env_file: Path, names: list[str], cwd: Path) -> dict[str, str]:
    """``names`` as bash has them after ``set -eu; source env_file``."""
    script = 'set -eu; source "$0"; for n in "$@"; do printf "%s\\0" "${!n}"; done'
    result = subprocess.run(
        ["bash", "-c", script, str(env_file), *names],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8"},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b"", result.stderr.decode()
    values = result.stdout.decode("utf-8").split("\0")[:-1]
    return dict(zip(names, values, strict=True))


def pipeline_config(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=configparser.BasicInterpolation())
    assert parser.read(path, encoding="utf-8") == [str(path)]
    return parser


# --- the files of a real run, read by their consumers -----------------------------------


def test_ansible_templates_vars_analytics_to_what_was_typed(written: Path, tmp_path: Path) -> None:
    vars_file = written / "vars-analytics.yml"
    names = [str(k) for k in yamlio.load(vars_file)]
    got = ansible_vars(
        tmp_path,
        [vars_file],
        names,
        extra_vars={
            "ANALYTICS_SCHEDULE_MASTER_SSH_CREDENTIAL_ID": "analytics-ssh",
            "ANALYTICS_SCHEDULE_MASTER_SSH_CREDENTIAL_USER": "ubuntu",
            "ANALYTICS_SCHEDULE_MASTER_SSH_CREDENTIAL_PASSPHRASE": "",
            "ANALYTICS_SCHEDULE_SECURE_REPO_DEST": "/home/jenkins/secure",
            # What the playbooks step passes: where the secure repo is on this machine.
            "ANALYTICS_WIZARD_SECURE_REPO": str(written),
        },
    )
    analytics_password = typed("database__analytics_password")
    email = typed("edxapp__contact_email")
    oauth2_key, oauth2_secret = typed("insights__oauth2_key"), typed("insights__oauth2_secret")
    token = typed("analytics_api__auth_token")
    assert got["COMMON_MYSQL_MIGRATE_PASS"] == PLANTED_PASSWORD
    assert got["ANALYTICS_MYSQL_PASSWORD"] == analytics_password
    for databases, name in (
        ("ANALYTICS_API_DATABASES", "default"),
        ("ANALYTICS_API_DATABASES", "reports"),
        ("INSIGHTS_DATABASES", "default"),
    ):
        database = got[databases][name]
        assert database["PASSWORD"] == analytics_password, (databases, name)
        assert database["USER"] == "analytics"
        assert database["HOST"] == "acme-analytics.abc123.us-east-1.rds.amazonaws.com"
        assert str(database["PORT"]) == "3306"
    assert got["INSIGHTS_LMS_BASE"] == "https://lms.example.com"
    assert got["INSIGHTS_CMS_BASE"] == "https://studio.example.com"
    assert got["INSIGHTS_OAUTH2_URL_ROOT"] == "https://lms.example.com/oauth2"
    assert got["INSIGHTS_PRIVACY_POLICY_URL"] == "https://lms.example.com/privacy"
    for key in ("EDXAPP_CONTACT_EMAIL", "INSIGHTS_FEEDBACK_EMAIL", "AWS_S3_LOGS_NOTIFY_EMAIL"):
        assert got[key] == email, key
    assert got["INSIGHTS_SECRET_KEY"] == typed("insights__secret_key")
    for prefix in ("INSIGHTS", "INSIGHTS_SOCIAL_AUTH_EDX", "INSIGHTS_BACKEND_SERVICE_EDX"):
        assert got[f"{prefix}_OAUTH2_KEY"] == oauth2_key, prefix
        assert got[f"{prefix}_OAUTH2_SECRET"] == oauth2_secret, prefix
    assert got["ANALYTICS_API_AUTH_TOKEN"] == token
    assert got["INSIGHTS_DATA_API_AUTH_TOKEN"] == token
    assert got["ANALYTICS_API_USERS"] == {"analytics_api_user": token}
    assert got["ANALYTICS_API_SECRET_KEY"] == typed("analytics_api__secret_key")
    assert got["ANALYTICS_SCHEDULE_SECURE_REPO_URL"] == typed("pipeline__secure_repo_url")
    assert got["ANALYTICS_API_VERSION"] == "open-release/koa.3"
    assert got["ANALYTICS_MYSQL_PORT"] == "3306"
    assert got["INSIGHTS_SOCIAL_AUTH_REDIRECT_IS_HTTPS"] is True
    assert (
        got["ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST"]
        == "https://search-acme-analytics-abc123.us-east-1.es.amazonaws.com"
    )
    assert got["ANALYTICS_SCHEDULE_COMMON_VARS"] == (
        "@/home/jenkins/secure/analytics-tasks/common-config.yml"
    )
    # The one value the wizard writes as Jinja2 on purpose: the key file, looked up by its path.
    [credential] = got["JENKINS_ANALYTICS_CREDENTIALS"]
    assert credential["privatekey"] == KEY_CONTENT
    assert credential["id"] == "analytics-ssh"
    assert not (tmp_path / "PWNED").exists(), "an operator's value was run as a template"


def test_ansible_reads_emr_vars_with_the_environment_of_jenkins_env(
    written: Path, tmp_path: Path
) -> None:
    tasks = written / "analytics-tasks"
    names = ["name", "region", "keypair_name", "vpc_subnet_id", "log_uri", "release_label"]
    names += ["instance_groups", "steps", "configurations"]
    got = ansible_vars(tmp_path, [tasks / "emr-vars.yml"], names, source=tasks / "jenkins_env")
    assert got["name"] == typed("pipeline__cluster_name")
    assert got["region"] == "us-east-1"
    assert got["keypair_name"] == typed("terraform__key_pair_name")
    assert got["vpc_subnet_id"] == "subnet-0123456789abcdef0"
    assert got["log_uri"] == "s3://acme-analytics-emr-logs"
    assert got["release_label"] == "emr-4.9.6"
    jar = "s3://us-east-1.elasticmapreduce/libs/script-runner/script-runner.jar"
    assert [step["jar"] for step in got["steps"]] == [jar, jar]
    assert got["steps"][1]["step_args"] == [
        "s3://acme-analytics-emr/install-sqoop",
        "s3://acme-analytics-emr",
    ]
    assert int(got["instance_groups"]["task"]["num_instances"]) == 2
    assert "core-site" not in [c["classification"] for c in got["configurations"]]
    assert not (tmp_path / "PWNED").exists()


def test_ansible_gets_the_cluster_name_from_whatever_the_environment_holds(
    written: Path, tmp_path: Path
) -> None:
    """``name`` is looked up, never templated again: a Jinja2 cluster name stays text."""
    emr_vars = written / "analytics-tasks" / "emr-vars.yml"
    cluster = "{{ 7 * 6 }} {% raw %}" + JINJA_ATTACK
    got = ansible_vars(tmp_path, [emr_vars], ["name"], env={"CLUSTER_NAME": cluster})
    assert got["name"] == cluster
    assert not (tmp_path / "PWNED").exists()


def test_bash_sources_jenkins_env_to_what_was_typed(written: Path, tmp_path: Path) -> None:
    names = [
        "AWS_REGION",
        "CLUSTER_NAME",
        "CONFIG_REPO",
        "CONFIG_BRANCH",
        "TASKS_REPO",
        "TASKS_BRANCH",
        "TRACKING_LOGS_S3_BUCKET",
        "HADOOP_S3_BUCKET",
        "TASK_CONFIGURATION_S3_BUCKET",
        "EDXAPP_S3_BUCKET",
        "SCRIPT_RUNNER_JAR_S3_URL",
        "EXTRA_VARS",
        "VIRTUALENV_EXTRA_ARGS",
    ]
    got = sourced(written / "analytics-tasks" / "jenkins_env", names, tmp_path)
    assert got == {
        "AWS_REGION": "us-east-1",
        "CLUSTER_NAME": typed("pipeline__cluster_name"),
        "CONFIG_REPO": "https://github.com/openedx/edx-analytics-configuration.git",
        "CONFIG_BRANCH": "open-release/koa.3",
        "TASKS_REPO": "https://github.com/openedx/edx-analytics-pipeline.git",
        "TASKS_BRANCH": "open-release/koa.3",
        "TRACKING_LOGS_S3_BUCKET": "s3://acme-tracking-logs",
        "HADOOP_S3_BUCKET": "s3://acme-edxanalytics",
        "TASK_CONFIGURATION_S3_BUCKET": "s3://acme-analytics-emr",
        "EDXAPP_S3_BUCKET": "s3://acme-prod-edxapp-storage",
        # The one value written to expand: it follows AWS_REGION.
        "SCRIPT_RUNNER_JAR_S3_URL": (
            "s3://us-east-1.elasticmapreduce/libs/script-runner/script-runner.jar"
        ),
        "EXTRA_VARS": "@/home/jenkins/emr-vars.yml",
        "VIRTUALENV_EXTRA_ARGS": "--system-site-packages",
    }
    assert not (tmp_path / "PWNED").exists(), "sourcing jenkins_env ran an operator's value"


def test_script_runner_url_follows_the_region(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text(
        yamlio.dumps(complete_answers(aws__region="eu-central-1")),
        encoding="utf-8",
    )
    repo = tmp_path / "secure-config"
    result = run_cli("run", "--answers", answers, repo, "--only", "files")
    assert result.returncode == 0, result.stderr
    got = sourced(repo / "analytics-tasks" / "jenkins_env", ["SCRIPT_RUNNER_JAR_S3_URL"], tmp_path)
    assert got["SCRIPT_RUNNER_JAR_S3_URL"] == (
        "s3://eu-central-1.elasticmapreduce/libs/script-runner/script-runner.jar"
    )


def test_configparser_reads_the_pipeline_config_as_intended(written: Path) -> None:
    config = pipeline_config(written / "analytics-tasks" / "analytics-override.cfg")
    # Every option interpolates (a stray % would raise here).
    everything = {s: dict(config.items(s)) for s in config.sections()}
    pipeline = "s3://acme-edxanalytics"
    assert everything["database-export"]["credentials"] == f"{pipeline}/edxanalytics_creds"
    assert everything["database-import"]["credentials"] == f"{pipeline}/edxapp_creds"
    assert everything["database-import"]["destination"] == f"{pipeline}/warehouse/hive/"
    assert everything["hive"]["warehouse_path"] == f"{pipeline}/warehouse/hive/"
    assert everything["manifest"]["path"] == f"{pipeline}/map-reduce/manifests/"
    assert everything["manifest"]["lib_jar"] == (
        "s3://acme-analytics-emr/edx-analytics-hadoop-util.jar"
    )
    assert everything["map-reduce"]["marker"] == f"{pipeline}/map-reduce/marker/"
    assert everything["enrollments"]["blacklist_path"] == f"{pipeline}/enrollments-blacklist/"
    assert everything["geolocation"]["geolocation_data"] == f"{pipeline}/GeoIP.dat"
    # luigi reads list parameters as JSON.
    assert json.loads(everything["event-logs"]["source"]) == [
        "s3://acme-tracking-logs/logs/tracking/"
    ]
    assert json.loads(everything["elasticsearch"]["host"]) == [
        "https://search-acme-analytics-abc123.us-east-1.es.amazonaws.com"
    ]
    assert json.loads(everything["event-logs"]["pattern"]) == [".*tracking.log-(?P<date>[0-9]+).*"]


def test_creds_files_are_json_with_what_was_typed(written: Path) -> None:
    tasks = written / "analytics-tasks"
    edxapp = json.loads((tasks / "edxapp_creds").read_text(encoding="utf-8"))
    analytics = json.loads((tasks / "edxanalytics_creds").read_text(encoding="utf-8"))
    assert edxapp == {
        "host": "edxapp-db.example.com",
        "port": "3306",
        "username": "edxapp_ro",
        "password": typed("database__readonly_password"),
    }
    assert analytics == {
        "host": "acme-analytics.abc123.us-east-1.rds.amazonaws.com",
        "port": "3306",
        "username": "analytics",
        "password": typed("database__analytics_password"),
    }


def test_explicit_worst_cases_through_real_ansible(tmp_path: Path) -> None:
    """The encoder's worst cases, side by side in one vars file, templated by real ansible."""
    worst = [
        "{% raw %}{{ x }}{% endraw %}'\"\\#%$ü😀",
        "{{ lookup('env', 'HOME') }}} {#}",
        "!unsafe '' \"\" \\' {%- if -%} ${X} %(x)s",
    ]
    doc = YamlDocument(assets.text("templates", "vars-analytics.yml"), "vars-analytics.yml")
    for i, value in enumerate(worst):
        doc.set(f"WORST_{i}", Literal(value))
        doc.set(f"USES_WORST_{i}", Template(f"{{{{ WORST_{i} }}}}"))
    vars_file = tmp_path / "worst.yml"
    vars_file.write_text(doc.render(), encoding="utf-8")
    names = [f"{prefix}_{i}" for i in range(len(worst)) for prefix in ("WORST", "USES_WORST")]
    got = ansible_vars(tmp_path, [vars_file], names)
    for i, value in enumerate(worst):
        assert got[f"WORST_{i}"] == value
        assert got[f"USES_WORST_{i}"] == value


# --- property-based: any accepted text survives each encoder and consumer ----------------


def _accepted(validator: Any) -> Any:
    def check(value: str) -> bool:
        try:
            validator(value)
        except FieldError:
            return False
        return True

    return check


PIECES = [
    "{{", "}}", "{%", "%}", "{#", "#}", "{%raw%}", "{% endraw %}", "'", '"', "\\", "\\\\", "$",
    "${X}", "$(id)", "`", "%", "%%", "%(x)s", "#", " #", ";", "!unsafe ", "&a", "*a", "- ",
    ": ", "[", "]", "{", "}", " ", "ü", "😀", "\u00a0", "\u200b", "null", "true", "0x1", "~",
    "\u2028", "\u0085", "\ufeff",
]  # fmt: skip
_raw = st.one_of(
    st.text(min_size=1, max_size=30),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), min_size=1, max_size=10).map(
        "".join
    ),
)
# Single-line text without control characters or surrounding spaces (fields.text) ...
single_line = _raw.filter(_accepted(text))
# ... and passwords, which may also start or end with spaces (fields.secret_text).
password = _raw.filter(_accepted(secret_text))
PROPERTY = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="consumers-") as directory:
        yield Path(directory)


@settings(deadline=None, max_examples=40)
@given(value=password)
def test_any_value_survives_bash_sourcing_jenkins_env(scratch: Path, value: str) -> None:
    through_bash(scratch, value)


def through_bash(scratch: Path, value: str) -> None:
    doc = EnvDocument(assets.text("templates", "jenkins_env"), "jenkins_env")
    doc.set("CLUSTER_NAME", Literal(value))
    env_file = scratch / "jenkins_env"
    env_file.write_text(doc.render(), encoding="utf-8")
    assert sourced(env_file, ["CLUSTER_NAME"], scratch) == {"CLUSTER_NAME": value}
    # The wizard reads back what it wrote (how it notices hand edits).
    again = EnvDocument(env_file.read_text(encoding="utf-8"), "jenkins_env")
    assert again.get("CLUSTER_NAME") == value


@PROPERTY
@given(value=single_line)
def test_any_value_survives_configparser_interpolation(scratch: Path, value: str) -> None:
    doc = CfgDocument(assets.text("templates", "analytics-override.cfg"), "analytics-override.cfg")
    doc.set("hive.warehouse_path", Literal(value))
    doc.set("event-logs.source", [Literal(value), Literal("s3://b/logs/")])
    doc.set("new-section.option", Literal(value))
    cfg = scratch / "analytics-override.cfg"
    cfg.write_text(doc.render(), encoding="utf-8")
    config = pipeline_config(cfg)
    assert config.get("hive", "warehouse_path") == value
    assert json.loads(config.get("event-logs", "source")) == [value, "s3://b/logs/"]
    assert config.get("new-section", "option") == value
    again = CfgDocument(cfg.read_text(encoding="utf-8"), "analytics-override.cfg")
    assert again.get("hive.warehouse_path") == doc.canonical(Literal(value))


@PROPERTY
@given(value=password, user=single_line)
def test_any_value_survives_json(value: str, user: str) -> None:
    doc = JsonDocument(assets.text("templates", "creds.json"), "edxapp_creds")
    doc.set("username", Literal(user))
    doc.set("password", Literal(value))
    assert json.loads(doc.render()) == {"username": user, "password": value}


@PROPERTY
@given(value=password)
def test_any_value_survives_ansible_templating(scratch: Path, value: str) -> None:
    through_ansible(scratch, value)


def through_ansible(scratch: Path, value: str) -> None:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    doc = YamlDocument(assets.text("templates", "vars-analytics.yml"), "vars-analytics.yml")
    doc.set("ANALYTICS_MYSQL_PASSWORD", Literal(value))
    doc.set("COMMON_MYSQL_MIGRATE_PASS", Literal(value))
    vars_file = scratch / "vars-analytics.yml"
    vars_file.write_text(doc.render(), encoding="utf-8")

    # As ansible loads an extra-vars file: templates in it are trusted, !unsafe values are not.
    loader = DataLoader()
    data = loader.load_from_file(str(vars_file), cache="none", trusted_as_template=True)
    templar = Templar(loader=loader, variables=data)
    assert templar.template(data["COMMON_MYSQL_MIGRATE_PASS"]) == value
    databases = templar.template(data["ANALYTICS_API_DATABASES"])
    assert databases["default"]["PASSWORD"] == value
    assert databases["reports"]["PASSWORD"] == value
    # The wizard reads back what it wrote.
    again = YamlDocument(vars_file.read_text(encoding="utf-8"), "vars-analytics.yml")
    assert again.get("ANALYTICS_MYSQL_PASSWORD") == doc.canonical(Literal(value))


@pytest.mark.parametrize("value", ["a\x85b", "a\u2028b {{ x }}", "\u2029"])
def test_line_break_characters_reach_yaml_and_bash_literally(scratch: Path, value: str) -> None:
    """The validators refuse these, but the encoders must not depend on it (a hand edit, an
    output of another step): YAML 1.1 and str.splitlines read them as line breaks."""
    through_ansible(scratch, value)
    through_bash(scratch, value)


@PROPERTY
@given(secret=password, name=single_line)
def test_any_value_survives_the_wizards_own_answers_files(
    scratch: Path, secret: str, name: str
) -> None:
    """The wizard is a consumer of its own files too: what it saved is what a resume reads."""
    from wizard.answers import Answers

    answers = Answers()
    answers.set("edxapp.migrate_password", secret)
    answers.set("pipeline.cluster_name", name)
    answers.save(scratch / "answers.yml", scratch / "secrets.yml")
    again = Answers.load(scratch / "answers.yml", scratch / "secrets.yml")
    assert again.values["edxapp.migrate_password"] == secret
    assert again.values["pipeline.cluster_name"] == name
