"""Fields: validators, derivations, answers files, required answers and generated secrets."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PLANTED_PASSWORD, complete_answers

from wizard import fields, yamlio
from wizard.answers import (
    SECRET_ALPHABET,
    SECRET_LENGTH,
    Answers,
    AnswersError,
    MissingAnswers,
    Resolved,
    flatten,
)
from wizard.engine import Session
from wizard.fields import BY_KEY, FIELDS, FieldError
from wizard.ledger import Ledger, StepRecord
from wizard.steps import StepError
from wizard.steps import files as files_step

# --- validators ---------------------------------------------------------------------------

# (validator, accepted values, rejected values, what the error message must say is allowed)
VALIDATORS: list[tuple[str, Callable[[Any], Any], list[Any], list[Any], str]] = [
    (
        "slug",
        fields.slug,
        ["acme", "big-school-2", "ab"],
        ["Acme", "a", "1acme", "acme-", "ac_me", "a" * 41, "acme corp"],
        "lowercase letters, digits and hyphens",
    ),
    (
        "hostname",
        fields.hostname,
        ["lms.example.com", "localhost", "10.0.0.1", "db.abc123.us-east-1.rds.amazonaws.com"],
        [
            "https://lms.example.com",
            "lms.example.com:443",
            "lms.example.com/path",
            "-lms.example.com",
            "lms..example.com",
            "lms example.com",
        ],
        "host name",
    ),
    (
        "domain",
        fields.domain,
        ["example.com", "sub.example.co.uk"],
        ["Example.com", "example", "https://example.com", "example.com."],
        "DNS domain",
    ),
    (
        "region",
        fields.region,
        ["us-east-1", "eu-central-1", "us-gov-west-1", "ap-southeast-2"],
        ["US-EAST-1", "us-east", "useast1", "eu-central-1a", "europe"],
        "AWS region",
    ),
    (
        "aws_profile",
        fields.aws_profile,
        ["acme-analytics", "default", "ops@acme.analytics"],
        ["has space", "a/b", "x" * 65],
        "AWS profile name",
    ),
    (
        "bucket",
        fields.bucket,
        ["acme-tracking-logs", "a.b-c", "abc"],
        ["ab", "Acme-logs", "acme..logs", "-acme", "acme-", "xn--acme", "a" * 64, "acme_logs"],
        "S3 bucket name",
    ),
    (
        "iam_arn",
        fields.iam_arn,
        [
            "arn:aws:iam::123456789012:user/acme-prod-edxapp-s3",
            "arn:aws:iam::123456789012:role/service/acme",
        ],
        ["arn:aws:iam::1234:user/x", "arn:aws:iam::123456789012:group/x", "acme-edxapp-s3"],
        "IAM user or role ARN",
    ),
    (
        "ami_id",
        fields.ami_id,
        ["ami-0123456789abcdef0", "ami-12345678"],
        ["ami-123", "AMI-12345678", "ami-0123456789ABCDEF0", "0123456789abcdef0"],
        "AMI id",
    ),
    (
        "security_group_id",
        fields.security_group_id,
        ["sg-0123456789abcdef0", "sg-12345678"],
        ["sg-xyz", "sg-0123", "subnet-12345678"],
        "security group id",
    ),
    (
        "subnet_id",
        fields.subnet_id,
        ["subnet-0123456789abcdef0", "subnet-12345678"],
        ["subnet-SET ME", "sg-12345678", "subnet-123"],
        "subnet id",
    ),
    (
        "instance_type",
        fields.instance_type,
        ["t3.medium", "m5.large", "c6g.xlarge"],
        ["t3", "T3.medium", "t3 medium"],
        "instance type",
    ),
    (
        "rds_class",
        fields.rds_class,
        ["db.t3.medium", "db.r5.large"],
        ["t3.medium", "db.t3"],
        "RDS class",
    ),
    (
        "key_pair",
        fields.key_pair,
        ["acme-analytics", "my key (2)"],
        ["x" * 256, "a|b", "a%b"],
        "up to 255",
    ),
    (
        "mysql_user",
        fields.mysql_user,
        ["analytics", "edxapp_ro", "edxapp001", "a-b"],
        ["a b", "a'b", "x" * 33, "user@host", "`x`"],
        "MySQL user name",
    ),
    (
        "git_ref",
        fields.git_ref,
        ["main", "open-release/koa.3", "v1.2.3"],
        ["a..b", "/main", "main/", "a//b", "x.lock", "has space", "ref~1", "ref^", "ref:x"],
        "git branch or tag",
    ),
    (
        "emr_release",
        fields.emr_release,
        ["emr-4.9.6", "emr-6.15.0"],
        ["4.9.6", "emr-5", "emr-4.9.x", "EMR-4.9.6"],
        "EMR release label",
    ),
    (
        "email",
        fields.email,
        ["ops@example.com", "a.b+c@sub.example.org"],
        ["opsexample.com", "ops@", "ops@example", "a b@example.com", "a@b@example.com"],
        "e-mail address",
    ),
    (
        "url",
        fields.url,
        ["https://insights.example.com", "http://10.0.0.1:8080/x"],
        ["insights.example.com", "ftp://x.example.com", "https://", "https://a b.com"],
        "http:// or https:// URL",
    ),
    (
        "repo_url",
        fields.repo_url,
        [
            "https://github.com/openedx/edx-analytics-pipeline.git",
            "git@github.com:acme/secure-config.git",
            "ssh://git@git.example.com/acme/secure.git",
        ],
        ["github.com/org/repo", "/local/path", "acme"],
        "git repository URL",
    ),
    ("scheme", fields.scheme, ["http", "https"], ["ftp", "HTTPS", "https://"], "http or https"),
    (
        "absolute_path",
        fields.absolute_path,
        ["/home/jenkins", "/srv/jenkins home"],
        ["home/jenkins", "~/jenkins", "./jenkins"],
        "absolute path",
    ),
    (
        "unix_user",
        fields.unix_user,
        ["jenkins", "_svc", "ci-user1"],
        ["Jenkins", "1user", "a b", "x" * 33],
        "Unix user name",
    ),
    (
        "jenkins_id",
        fields.jenkins_id,
        ["ssh-access-key", "hadoop_key.2"],
        ["a b", "key/1", "x" * 65],
        "credentials id",
    ),
    (
        "ipv4",
        fields.ipv4,
        ["10.0.1.23", "127.0.0.1"],
        ["10.0.1.300", "::1", "host.example.com"],
        "IPv4 address",
    ),
    (
        "port",
        fields.port,
        [1, 3306, "3306", 65535],
        [0, 65536, -1, "http", True, 3.5],
        "whole number from 1 to 65535",
    ),
    (
        "jenkins_version",
        fields.jenkins_version,
        ["1.651.3", "2.426", "2.426.1.2"],
        ["latest", "2", "v2.426.1", "2.426.1-1"],
        "a Jenkins version",
    ),
    (
        "boolean",
        fields.boolean,
        [True, False, "yes", "no", "true", "off"],
        ["maybe", "2", "ja"],
        "yes or no",
    ),
    (
        "text",
        fields.text,
        ["It's #1: 100% $HOME \\ {{ x }} ü 😀", "Acme Analytics Cluster", 42],
        ["two\nlines", "tab\there", "bell\x07", " leading", "trailing ", ""],
        "single line",
    ),
    (
        "secret_text",
        fields.secret_text,
        [PLANTED_PASSWORD, " spaces are fine ", "x"],
        ["two\nlines", "nul\x00"],
        "single line",
    ),
]
# Every validator the fields use is covered above.
_COVERED = {v[1] for v in VALIDATORS}

CASES = [pytest.param(fn, good, bad, hint, id=name) for name, fn, good, bad, hint in VALIDATORS]


@pytest.mark.parametrize(("validator", "good", "bad", "hint"), CASES)
def test_validator_accepts_good_values(
    validator: Callable[[Any], Any], good: list[Any], bad: list[Any], hint: str
) -> None:
    for value in good:
        validator(value)  # no FieldError


@pytest.mark.parametrize(("validator", "good", "bad", "hint"), CASES)
def test_validator_rejects_bad_values_saying_what_is_allowed(
    validator: Callable[[Any], Any], good: list[Any], bad: list[Any], hint: str
) -> None:
    for value in bad:
        with pytest.raises(FieldError) as caught:
            validator(value)
        message = str(caught.value)
        # "single line" stands for the text rules: each message names its own rule.
        if hint == "single line" and "single line" not in message:
            assert any(w in message for w in ("spaces", "empty")), message
        else:
            assert hint in message, f"{value!r}: {message!r}"


def test_every_field_validator_is_tested() -> None:
    ints = {f.validate for f in FIELDS if f.kind == "int"}
    used = {f.validate for f in FIELDS} - ints - {fields.relative_or_home_path, fields.tunnel}
    assert used <= _COVERED, sorted(getattr(v, "__name__", "?") for v in used - _COVERED)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("yes", True), ("Y", True), ("on", True), ("no", False), ("FALSE", False), ("0", False)],
)
def test_boolean_values(typed: str, expected: bool) -> None:
    assert fields.boolean(typed) is expected


def test_port_from_text_is_a_number() -> None:
    assert fields.port(" 3306 ") == 3306


@pytest.mark.parametrize(
    ("key", "bad", "hint"),
    [
        ("terraform.number_of_instances", 0, "from 1 to 10"),
        ("terraform.number_of_instances", 11, "from 1 to 10"),
        ("terraform.rds_allocated_storage", 10, "from 20 to 65536"),
        ("terraform.instance_iteration", "first", "from 1 to 999"),
    ],
)
def test_integer_fields_say_their_range(key: str, bad: Any, hint: str) -> None:
    with pytest.raises(FieldError, match=hint):
        BY_KEY[key].clean(bad)


def test_secret_text_must_be_quoted_text() -> None:
    with pytest.raises(FieldError, match="quote it in YAML"):
        fields.secret_text(12345)


def test_surrounding_spaces_are_named_as_the_problem() -> None:
    with pytest.raises(FieldError, match="must not start or end with spaces"):
        fields.slug(" acme")


def test_text_rejects_non_text_values() -> None:
    for value in ([], {}, True, None):
        with pytest.raises(FieldError, match="expected text"):
            fields.text(value)


def test_tunnel_fills_defaults() -> None:
    assert fields.tunnel({"host": "bastion.example.com"}) == {
        "host": "bastion.example.com",
        "port": 22,
        "user": "ubuntu",
        "key_file": "~/.ssh/id_rsa",
        "known_hosts": "~/.ssh/known_hosts",
    }


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        (42, "a mapping with host, port, user, key_file and known_hosts"),
        ("bastion.example.com:22 passphrase=x", "unexpected 'passphrase=x'"),
        ("key=~/.ssh/k", "start with the host"),
        ("ops@bastion.example.com:0", "whole number from 1 to 65535"),
        ({"host": "b.example.com", "password": "x"}, "allowed: host, port, user"),
        ({"port": 22}, "needs at least host"),
        ({"host": "b.example.com", "port": 0}, "whole number from 1 to 65535"),
        ({"host": "https://b.example.com"}, "host name"),
    ],
)
def test_tunnel_rejects(value: Any, hint: str) -> None:
    with pytest.raises(FieldError, match=hint):
        fields.tunnel(value)


def test_tunnel_typed_on_one_line_round_trips() -> None:
    typed = "ops@bastion.example.com:2222 key=~/.ssh/bastion.pem"
    value = fields.tunnel(typed)
    assert value == {
        "host": "bastion.example.com",
        "port": 2222,
        "user": "ops",
        "key_file": "~/.ssh/bastion.pem",
        "known_hosts": "~/.ssh/known_hosts",
    }
    assert fields.tunnel(fields.tunnel_text(value)) == value
    assert fields.tunnel("bastion.example.com")["user"] == "ubuntu"


def test_clean_treats_empty_as_not_given() -> None:
    assert BY_KEY["edxapp.lms_host"].clean(None) is None
    assert BY_KEY["edxapp.lms_host"].clean("") is None


def test_list_fields_split_typed_text_and_validate_each_item() -> None:
    f = BY_KEY["infrastructure.analytics_private_ips"]
    assert f.clean("10.0.0.1, 10.0.0.2") == ["10.0.0.1", "10.0.0.2"]
    assert f.clean(["10.0.0.3"]) == ["10.0.0.3"]
    with pytest.raises(FieldError, match="IPv4"):
        f.clean("10.0.0.1, 10.0.0.999")


def test_every_field_has_label_help_and_a_way_to_a_value() -> None:
    for f in FIELDS:
        assert f.label and f.help, f.key
        assert f.group in fields.GROUP_TITLES, f.key
        if f.secret:
            assert f.validate is fields.secret_text, f.key


def test_spec_section_8_keys_exist() -> None:
    spec_keys = [
        "client.name",
        "client.environment",
        "aws.profile",
        "aws.region",
        "aws.endpoint_url",
        "edxapp.lms_host",
        "edxapp.cms_host",
        "edxapp.scheme",
        "edxapp.contact_email",
        "edxapp.openedx_release",
        "edxapp.tracking_logs_bucket",
        "edxapp.grades_bucket",
        "edxapp.grades_bucket_user_arn",
        "edxapp.db_host",
        "edxapp.db_port",
        "edxapp.migrate_user",
        "edxapp.migrate_password",
        "edxapp.admin_user",
        "edxapp.admin_password",
        "edxapp.oauth2_provider_confirmed",
        "terraform.image_id",
        "terraform.instance_type",
        "terraform.key_pair_name",
        "terraform.number_of_instances",
        "terraform.instance_iteration",
        "terraform.rds_instance_class",
        "terraform.rds_allocated_storage",
        "terraform.rds_root_username",
        "terraform.rds_root_password",
        "terraform.hosted_zone_domain",
        "terraform.director_security_group_id",
        "infrastructure.elasticsearch_host",
        "infrastructure.analytics_private_ips",
        "infrastructure.analytics_public_ips",
        "database.host",
        "database.port",
        "database.admin_user",
        "database.admin_password",
        "database.analytics_user",
        "database.analytics_password",
        "database.readonly_user",
        "database.readonly_password",
        "database.tunnel",
        "insights.base_url",
        "pipeline.cluster_name",
        "pipeline.tasks_repo",
        "pipeline.tasks_branch",
        "pipeline.config_repo",
        "pipeline.config_branch",
        "ansible.configuration_dir",
        "ansible.ssh_user",
        "ansible.private_key",
        "ansible.extra_vars_files",
        "director.host",
        "director.port",
        "director.user",
        "director.key_file",
        "director.known_hosts",
        "jenkins.port",
        "jenkins.local_port",
        "jenkins.home",
        "jenkins.user",
    ]
    assert [k for k in spec_keys if k not in BY_KEY] == []


def test_jenkins_keys_are_declared_with_their_defaults() -> None:
    """The Jenkins tunnel, jobs and report read these (issue 12); the defaults are the runbook's."""
    defaults = {key: f.default for key, f in BY_KEY.items() if key.startswith("jenkins.")}
    assert defaults == {
        "jenkins.port": 8080,
        "jenkins.local_port": 8080,
        "jenkins.version": "1.651.3",  # JENKINS_VERSION, as the runbook's vars file sets it
        "jenkins.home": "/home/jenkins",
        "jenkins.user": "jenkins",
        "jenkins.server_name": None,  # derived: jenkins.<hosted zone>
        "jenkins.nginx_port": 8081,
        "jenkins.executors": 3,
        "jenkins.admin_email": None,  # derived: the contact e-mail
        "jenkins.ssh_credential_id": "ssh-access-key",
        "jenkins.student_engagement_daily": False,
        "jenkins.student_engagement_weekly": False,
        "jenkins.problem_response_reports": False,
    }
    assert BY_KEY["analytics_api.port"].default == 18100
    r = resolved(
        {"terraform": {"hosted_zone_domain": "example.com"}, "edxapp": {"contact_email": "o@x.org"}}
    )
    assert r.get("jenkins.server_name") == "jenkins.example.com"
    assert r.get("jenkins.admin_email") == "o@x.org"
    # Without a hosted zone: a name beside the Insights host, else beside the LMS.
    beside = resolved({"insights": {"base_url": "https://insights.acme.org:8443/x"}})
    assert beside.get("jenkins.server_name") == "jenkins.acme.org"
    assert resolved({"edxapp": {"lms_host": "lms.acme.org"}}).get("jenkins.server_name") == (
        "jenkins.acme.org"
    )


# --- derivations --------------------------------------------------------------------------


def resolved(data: dict[str, Any] | None = None, ledger: Ledger | None = None) -> Resolved:
    answers = Answers()
    answers.merge(flatten(data or {}, "test"), "test")
    outputs = ledger.output if ledger is not None else (lambda step, name: None)
    return Resolved(answers, outputs)


def terraform_ledger(tmp_path: Path, status: str = "done", **outputs: Any) -> Ledger:
    ledger = Ledger(tmp_path / "state.yml")
    ledger.record("terraform", StepRecord(status=status, outputs=dict(outputs)))
    return Ledger.load(tmp_path / "state.yml")  # as a later run reads it


def test_names_derive_from_client_and_environment() -> None:
    r = resolved({"client": {"name": "big-school", "environment": "prod"}})
    assert r.get("aws.profile") == "big-school-prod"
    assert r.get("terraform.key_pair_name") == "big-school-prod"
    assert r.get("edxapp.tracking_logs_bucket") == "big-school-tracking-logs"
    assert r.get("pipeline.cluster_name") == "Big School Analytics Cluster"


def test_environment_defaults_to_analytics() -> None:
    r = resolved({"client": {"name": "acme"}})
    assert r.get("client.environment") == "analytics"
    assert r.get("aws.profile") == "acme-analytics"
    assert r.get("pipeline.cluster_name") == "Acme Analytics Cluster"


def test_insights_url_derives_from_hosted_zone() -> None:
    assert resolved({"terraform": {"hosted_zone_domain": "acme.org"}}).get("insights.base_url") == (
        "https://insights.acme.org"
    )
    assert resolved().get("insights.base_url") is None


def test_release_branches_follow_the_open_edx_release() -> None:
    r = resolved({"edxapp": {"openedx_release": "open-release/palm.4"}})
    assert r.get("pipeline.tasks_branch") == "open-release/palm.4"
    assert r.get("pipeline.config_branch") == "open-release/palm.4"
    assert resolved().get("pipeline.tasks_branch") == "open-release/koa.3"  # default release


def test_database_admin_defaults_to_the_rds_root_user() -> None:
    r = resolved()
    assert r.get("database.admin_user") == "analyticsroot"
    assert r.get("database.admin_password") is None  # nothing generated yet
    r.generate_missing(["terraform.rds_root_password"])
    root_password = r.get("terraform.rds_root_password")
    assert root_password and r.get("database.admin_password") == root_password
    r2 = resolved({"terraform": {"rds_root_username": "root2", "rds_root_password": "s3cret!"}})
    assert r2.get("database.admin_user") == "root2"
    assert r2.get("database.admin_password") == "s3cret!"


def test_edxapp_admin_defaults_to_the_migration_user() -> None:
    r = resolved({"edxapp": {"migrate_user": "edxapp001", "migrate_password": PLANTED_PASSWORD}})
    assert r.get("edxapp.admin_user") == "edxapp001"
    assert r.get("edxapp.admin_password") == PLANTED_PASSWORD


def test_infrastructure_values_come_from_the_terraform_ledger(tmp_path: Path) -> None:
    ledger = terraform_ledger(
        tmp_path,
        elasticsearch_learners_host="search-acme-x.eu-west-2.es.amazonaws.com",
        analytics_instance_private_ips=["10.0.1.5", "10.0.1.6"],
        analytics_instance_public_ips=["203.0.113.7"],
        emr_subnet_id="subnet-0aaaaaaaaaaaaaaaa",
        rds_host_name="acme-analytics.xyz.eu-west-2.rds.amazonaws.com",
    )
    r = resolved(ledger=ledger)
    assert r.get("infrastructure.elasticsearch_host") == (
        "search-acme-x.eu-west-2.es.amazonaws.com"
    )
    assert r.get("infrastructure.analytics_private_ips") == ["10.0.1.5", "10.0.1.6"]
    assert r.get("infrastructure.analytics_public_ips") == ["203.0.113.7"]
    assert r.get("infrastructure.emr_subnet_id") == "subnet-0aaaaaaaaaaaaaaaa"
    assert r.get("database.host") == "acme-analytics.xyz.eu-west-2.rds.amazonaws.com"


def test_a_failed_terraform_run_provides_no_outputs(tmp_path: Path) -> None:
    ledger = terraform_ledger(tmp_path, status="failed", rds_host_name="half.example.com")
    assert resolved(ledger=ledger).get("database.host") is None


def test_explicit_answers_beat_derivations(tmp_path: Path) -> None:
    ledger = terraform_ledger(
        tmp_path,
        elasticsearch_learners_host="search-from-terraform.es.amazonaws.com",
        rds_host_name="from-terraform.rds.amazonaws.com",
        emr_subnet_id="subnet-0aaaaaaaaaaaaaaaa",
    )
    r = resolved(
        {
            "client": {"name": "acme"},
            "aws": {"profile": "my-own-profile"},
            "edxapp": {"tracking_logs_bucket": "acme-lms-logs", "openedx_release": "main"},
            "terraform": {"hosted_zone_domain": "example.com", "key_pair_name": "director-key"},
            "infrastructure": {
                "elasticsearch_host": "search-existing.es.amazonaws.com",
                "emr_subnet_id": "subnet-0bbbbbbbbbbbbbbbb",
            },
            "database": {"host": "existing-db.example.com", "admin_user": "dba"},
            "insights": {"base_url": "https://stats.acme.org"},
            "pipeline": {"cluster_name": "Nightly", "tasks_branch": "my-fork"},
        },
        ledger,
    )
    assert r.get("aws.profile") == "my-own-profile"
    assert r.get("edxapp.tracking_logs_bucket") == "acme-lms-logs"
    assert r.get("terraform.key_pair_name") == "director-key"
    assert r.get("infrastructure.elasticsearch_host") == "search-existing.es.amazonaws.com"
    assert r.get("infrastructure.emr_subnet_id") == "subnet-0bbbbbbbbbbbbbbbb"
    assert r.get("database.host") == "existing-db.example.com"
    assert r.get("database.admin_user") == "dba"
    assert r.get("insights.base_url") == "https://stats.acme.org"
    assert r.get("pipeline.cluster_name") == "Nightly"
    assert r.get("pipeline.tasks_branch") == "my-fork"
    assert r.get("pipeline.config_branch") == "main"  # still derived, from the explicit release


def test_secure_repo_url_derives_from_the_origin_remote(repo: Path) -> None:
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "remote", "add", "origin", "git@github.com:acme/secure.git"],
        check=True,
    )
    with Session.open(repo, command="test") as session:
        assert session.resolved.get("pipeline.secure_repo_url") == (
            "git@github.com:acme/secure.git"
        )
        session.set_answer("pipeline.secure_repo_url", "https://git.example.com/acme/sec.git")
        assert session.resolved.get("pipeline.secure_repo_url") == (
            "https://git.example.com/acme/sec.git"
        )


def test_a_derivation_with_a_missing_source_gives_no_value() -> None:
    """Without client.name nothing is derived from it (no "None-analytics" profile)."""
    r = resolved()
    for key in (
        "aws.profile",
        "terraform.key_pair_name",
        "edxapp.tracking_logs_bucket",
        "pipeline.cluster_name",
    ):
        assert r.get(key) is None, key


def test_a_bad_derived_value_names_its_key(tmp_path: Path) -> None:
    # An RDS endpoint is host:port; the host field takes the host only.
    ledger = terraform_ledger(tmp_path, rds_host_name="acme.abc.rds.amazonaws.com:3306")
    with pytest.raises(FieldError) as caught:
        resolved(ledger=ledger).get("database.host")
    assert "database.host" in str(caught.value)
    assert "host name" in str(caught.value)


# --- answers files ------------------------------------------------------------------------


def test_unknown_group_is_reported_with_a_suggestion() -> None:
    with pytest.raises(AnswersError) as caught:
        flatten({"clinet": {"name": "acme"}}, "answers.yml")
    assert caught.value.problems == ["answers.yml: unknown group 'clinet' (did you mean 'client'?)"]


def test_unknown_keys_are_all_reported_with_suggestions() -> None:
    data = complete_answers(client__nmae="acme", edxapp__lms_hots="lms.example.com")
    data["databse"] = {"port": 3306}
    with pytest.raises(AnswersError) as caught:
        flatten(data, "answers.yml")
    problems = caught.value.problems
    assert len(problems) == 3, problems
    text = "\n".join(problems)
    assert "unknown key 'client.nmae' (did you mean 'name'?)" in text
    assert "unknown key 'edxapp.lms_hots' (did you mean 'lms_host'?)" in text
    assert "unknown group 'databse' (did you mean 'database'?)" in text


def test_unknown_key_without_a_close_match_has_no_suggestion() -> None:
    with pytest.raises(AnswersError) as caught:
        flatten({"client": {"zzzzzz": 1}}, "a.yml")
    assert caught.value.problems == ["a.yml: unknown key 'client.zzzzzz'"]


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        (["client", "acme"], "expected groups such as 'client:'"),
        ({"client": "acme"}, "client must be a mapping"),
    ],
)
def test_answers_of_the_wrong_shape(data: Any, hint: str) -> None:
    with pytest.raises(AnswersError, match=hint):
        flatten(data, "a.yml")


def test_invalid_answers_are_all_reported_at_once_without_secret_values() -> None:
    answers = Answers()
    flat = flatten(
        complete_answers(
            aws__region="Frankfurt",
            edxapp__contact_email="nobody",
            edxapp__migrate_password=f"{PLANTED_PASSWORD}\nsecond line",
            database__port=70000,
        ),
        "a.yml",
    )
    with pytest.raises(AnswersError) as caught:
        answers.merge(flat, "a.yml")
    text = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 4, text
    assert "aws.region: an AWS region name" in text and "'Frankfurt'" in text
    assert "edxapp.contact_email: an e-mail address" in text
    assert "database.port: a whole number from 1 to 65535" in text
    assert "edxapp.migrate_password" in text and "a hidden value" in text
    assert "Pl4nted" not in text
    assert answers.values == {}  # nothing half-merged


def test_a_hand_edited_state_file_with_an_unknown_key_is_reported(tmp_path: Path) -> None:
    answers_path = tmp_path / "answers.yml"
    answers_path.write_text("client:\n  name: acme\n  enviroment: prod\n", encoding="utf-8")
    with pytest.raises(AnswersError, match=r"unknown key 'client\.enviroment' \(did you mean"):
        Answers.load(answers_path, tmp_path / "secrets.yml")


def test_a_hand_edited_state_file_with_an_invalid_value_is_reported(tmp_path: Path) -> None:
    answers_path = tmp_path / "answers.yml"
    answers_path.write_text(
        "edxapp:\n  lms_host: https://lms.example.com/x y\n  db_port: '3307'\n", encoding="utf-8"
    )
    with pytest.raises(AnswersError) as caught:
        Answers.load(answers_path, tmp_path / "secrets.yml")
    assert caught.value.problems == [
        f"{answers_path}: edxapp.lms_host: a host name such as lms.example.com, or an IP "
        "address (no scheme, port or path) (got 'https://lms.example.com/x y')"
    ]
    answers_path.write_text("edxapp:\n  db_port: '3307'\n", encoding="utf-8")
    loaded = Answers.load(answers_path, tmp_path / "secrets.yml")
    assert loaded.values == {"edxapp.db_port": 3307}  # cleaned like a typed answer


def test_answers_and_secrets_are_saved_apart(tmp_path: Path) -> None:
    answers = Answers()
    answers.merge(flatten(complete_answers(), "a.yml"), "a.yml")
    answers.save(tmp_path / "answers.yml", tmp_path / "secrets.yml")
    plain = yamlio.load(tmp_path / "answers.yml")
    hidden = yamlio.load(tmp_path / "secrets.yml")
    assert plain["edxapp"]["lms_host"] == "lms.example.com"
    assert "migrate_password" not in plain["edxapp"]
    assert hidden["edxapp"]["migrate_password"] == PLANTED_PASSWORD
    assert (tmp_path / "secrets.yml").stat().st_mode & 0o777 == 0o600
    again = Answers.load(tmp_path / "answers.yml", tmp_path / "secrets.yml")
    assert again.values == answers.values


# --- required answers ---------------------------------------------------------------------

# What the files step cannot do without when nothing has been answered and terraform has not run.
MISSING_WHEN_EMPTY = [
    "client.name",
    "edxapp.lms_host",
    "edxapp.cms_host",
    "edxapp.contact_email",
    "edxapp.tracking_logs_bucket",  # derived from client.name
    "edxapp.grades_bucket",
    "edxapp.db_host",
    "edxapp.migrate_user",
    "edxapp.migrate_password",
    "terraform.key_pair_name",  # derived from client.name
    "infrastructure.elasticsearch_host",  # terraform output
    "infrastructure.emr_subnet_id",  # terraform output
    "database.host",  # terraform output
    "insights.base_url",  # derived from the hosted zone
    "pipeline.cluster_name",  # derived from client.name
    "pipeline.secure_repo_url",  # derived from the git remote
    "jenkins.server_name",  # derived from the hosted zone, or the Insights or LMS host
]


def test_missing_required_answers_raise_one_error_naming_every_key() -> None:
    with pytest.raises(MissingAnswers) as caught:
        resolved().require(files_step.INPUTS)
    problems = caught.value.problems
    assert [p.split(" ", 1)[0] for p in problems] == MISSING_WHEN_EMPTY, problems
    text = "\n".join(problems)
    # Generated secrets and fields with a default are never "missing".
    assert "database.analytics_password" not in text
    assert "aws.region" not in text


def test_missing_answers_name_only_what_is_missing() -> None:
    data = complete_answers()
    del data["edxapp"]["lms_host"]
    del data["edxapp"]["migrate_password"]
    with pytest.raises(MissingAnswers) as caught:
        resolved(data).require(files_step.INPUTS)
    assert len(caught.value.problems) == 2
    text = str(caught.value)
    assert "edxapp.lms_host (LMS host) is required" in text
    assert "edxapp.migrate_password (Migration password) is required" in text


def test_missing_answers_in_the_files_step_name_every_key(repo: Path) -> None:
    with Session.open(repo, command="test") as session:
        session.merge_answers({"client.name": "acme"}, "test")
        with pytest.raises(StepError) as caught:
            session.plan("files")
    text = str(caught.value)
    for key in ("edxapp.lms_host", "edxapp.migrate_password", "infrastructure.emr_subnet_id"):
        assert key in text


# --- generated secrets --------------------------------------------------------------------

GENERATED_FILE_INPUTS = [k for k in files_step.INPUTS if BY_KEY[k].generated]


def test_generated_secrets_are_long_and_safe_everywhere() -> None:
    r = resolved()
    created = r.generate_missing(files_step.INPUTS)
    assert sorted(created) == sorted(GENERATED_FILE_INPUTS)
    assert len(created) >= 7
    values = [r.get(k) for k in created]
    assert len(set(values)) == len(values)
    for value in values:
        assert len(value) == SECRET_LENGTH == 40
        assert set(value) <= set(SECRET_ALPHABET)
    assert set(SECRET_ALPHABET) == set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    )


def test_a_given_secret_is_never_replaced_by_a_generated_one() -> None:
    r = resolved({"database": {"analytics_password": PLANTED_PASSWORD}})
    created = r.generate_missing(files_step.INPUTS)
    assert "database.analytics_password" not in created
    assert r.get("database.analytics_password") == PLANTED_PASSWORD


def test_generated_secrets_are_generated_once_and_kept(repo: Path) -> None:
    with Session.open(repo, command="test") as session:
        created = session.ensure_generated(files_step.INPUTS)
        assert sorted(created) == sorted(GENERATED_FILE_INPUTS)
        first = {k: session.resolved.get(k) for k in GENERATED_FILE_INPUTS}
        assert session.ensure_generated(files_step.INPUTS) == []
    secrets_file = repo / ".wizard" / "secrets.yml"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    saved = secrets_file.read_text(encoding="utf-8")
    answers_file = (repo / ".wizard" / "answers.yml").read_text(encoding="utf-8")
    for value in first.values():
        assert value in saved
        assert value not in answers_file
    with Session.open(repo, command="test") as session:
        assert session.ensure_generated(files_step.INPUTS) == []
        assert {k: session.resolved.get(k) for k in GENERATED_FILE_INPUTS} == first


def test_generated_secrets_are_kept_over_full_runs(repo: Path) -> None:
    flat = flatten(complete_answers(), "a.yml")
    seen = []
    for _ in range(2):
        with Session.open(repo, command="test") as session:
            session.merge_answers(flat, "a.yml")
            session.apply(session.plan("files"))
            seen.append({k: session.resolved.get(k) for k in GENERATED_FILE_INPUTS})
    assert seen[0] == seen[1]
    creds = (repo / "analytics-tasks" / "edxanalytics_creds").read_text(encoding="utf-8")
    assert seen[0]["database.analytics_password"] in creds


def test_a_dry_run_generates_in_memory_only(repo: Path) -> None:
    flat = flatten(complete_answers(), "a.yml")
    with Session.open(repo, write=False, command="test") as session:
        session.merge_answers(flat, "a.yml")
        session.plan("files")
        assert session.resolved.get("database.analytics_password")
    assert not repo.exists()
