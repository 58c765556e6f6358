"""The ``files`` step: vars-analytics.yml and the analytics-tasks files, from the answers.

For each file the wizard owns a set of keys. Existing files are edited key by key (everything else
survives). A value the operator changed by hand since the wizard wrote it is a conflict: it is
overwritten only when the operator says so (``--force`` headless), or kept when they choose to
keep it, and that choice is remembered. Cross-file rules are checked on the final content before
anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import assets, gitrepo
from ..context import QUIET, RunContext
from ..documents import (
    MISSING,
    Document,
    DocumentError,
    Literal,
    ShellExpansion,
    Template,
    Unsafe,
    is_placeholder,
    parse,
)
from ..fields import MIN_SIGV4_EMR_RELEASE, SIGV2_REGIONS
from ..fsutil import (
    SECRET_FILE_MODE,
    FileWrite,
    ensure_private_dir,
    file_mode,
    read_if_exists,
    write_files,
)
from ..ledger import digest
from .base import KEEP, OVERWRITE, Change, Conflict, Plan, Step, StepError

if TYPE_CHECKING:
    from ..engine import Session

NAME = "files"

INPUTS: tuple[str, ...] = (
    "client.name",
    "client.environment",
    "aws.region",
    "edxapp.lms_host",
    "edxapp.cms_host",
    "edxapp.scheme",
    "edxapp.contact_email",
    "edxapp.openedx_release",
    "edxapp.tracking_logs_bucket",
    "edxapp.grades_bucket",
    "edxapp.db_host",
    "edxapp.db_port",
    "edxapp.migrate_user",
    "edxapp.migrate_password",
    "terraform.key_pair_name",
    "infrastructure.elasticsearch_host",
    "infrastructure.emr_subnet_id",
    "database.host",
    "database.port",
    "database.analytics_user",
    "database.analytics_password",
    "database.readonly_user",
    "database.readonly_password",
    "insights.base_url",
    "insights.secret_key",
    "insights.oauth2_key",
    "insights.oauth2_secret",
    "analytics_api.auth_token",
    "analytics_api.secret_key",
    "pipeline.cluster_name",
    "pipeline.tasks_repo",
    "pipeline.tasks_branch",
    "pipeline.config_repo",
    "pipeline.config_branch",
    "pipeline.emr_release_label",
    "pipeline.secure_repo_url",
    "pipeline.secure_repo_version",
    "ansible.private_key",
    "jenkins.version",
    "jenkins.server_name",
    "jenkins.nginx_port",
)

# Values are dicts of answer key -> value.
Values = Mapping[str, Any]


@dataclass(frozen=True)
class SecureFile:
    path: str
    kind: str  # yaml | env | cfg | json
    template: str
    secret: bool
    owned: Callable[[Values, Mapping[str, str]], dict[str, Any]]


def buckets(v: Values, outputs: Callable[[str], Any]) -> dict[str, str]:
    """The pipeline's bucket names: terraform's outputs when it ran, else the naming rule."""
    client, env = v["client.name"], v["client.environment"]
    named = {
        "pipeline": f"{client}-edx{env}",
        "emr": f"{client}-{env}-emr",
        "emr_logs": f"{client}-{env}-emr-logs",
        "api_reports": f"{client}-{env}-api-reports",
    }
    for name in named:
        found = outputs(f"{name}_bucket")
        if found:
            named[name] = str(found)
    named["tracking_logs"] = v["edxapp.tracking_logs_bucket"]
    named["grades"] = v["edxapp.grades_bucket"]
    # Not a bucket, but named by the same rule: the EMR nodes' instance profile terraform makes.
    named["emr_ec2_profile"] = str(
        outputs("emr_ec2_instance_profile_name") or f"{client}-{env}-emr-ec2"
    )
    return named


KEY_FILE_VAR = "ANALYTICS_WIZARD_KEY_FILE"
# Where the secure repo is on the machine that runs ansible: the playbooks step passes it (the
# file itself names no path of the machine that wrote it; the repo is cloned onto the director).
SECURE_REPO_VAR = "ANALYTICS_WIZARD_SECURE_REPO"
# The key file as written (relative to the secure repo unless the answer is absolute or ~/…),
# looked up through a variable of its own: inside the lookup's Jinja2 it would be templated.
KEY_LOOKUP = (
    f"{{{{ lookup('file', {KEY_FILE_VAR} if {KEY_FILE_VAR}[:1] in ['/', '~'] "
    f"else {SECURE_REPO_VAR} ~ '/' ~ {KEY_FILE_VAR}) }}}}"
)
# Jenkins must reach the EMR clusters over IPv4 (the runbook's fix for a JVM bound to IPv6 only).
JENKINS_JVM_ARGS = "-Djava.net.preferIPv4Stack=true"


def _vars_analytics(v: Values, b: Mapping[str, str]) -> dict[str, Any]:
    lit = Literal
    return {
        "EDXAPP_LMS_BASE_SCHEME": lit(v["edxapp.scheme"]),
        "EDXAPP_LMS_BASE": lit(v["edxapp.lms_host"]),
        "EDXAPP_CMS_BASE": lit(v["edxapp.cms_host"]),
        "EDXAPP_CONTACT_EMAIL": lit(v["edxapp.contact_email"]),
        "COMMON_MYSQL_MIGRATE_USER": lit(v["edxapp.migrate_user"]),
        "COMMON_MYSQL_MIGRATE_PASS": lit(v["edxapp.migrate_password"]),
        "OPENEDX_RELEASE": lit(v["edxapp.openedx_release"]),
        "AWS_S3_LOGS_NOTIFY_EMAIL": lit(v["edxapp.contact_email"]),
        "AWS_S3_LOGS_FROM_EMAIL": lit(v["edxapp.contact_email"]),
        "ANALYTICS_MYSQL_USER": lit(v["database.analytics_user"]),
        "ANALYTICS_MYSQL_PASSWORD": lit(v["database.analytics_password"]),
        "ANALYTICS_MYSQL_HOST": lit(v["database.host"]),
        "ANALYTICS_MYSQL_PORT": lit(str(v["database.port"])),
        "ANALYTICS_API_AUTH_TOKEN": lit(v["analytics_api.auth_token"]),
        "ANALYTICS_API_SECRET_KEY": lit(v["analytics_api.secret_key"]),
        "ANALYTICS_API_ELASTICSEARCH_CONNECTION_DEFAULT_REGION": lit(v["aws.region"]),
        "ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST": lit(
            f"https://{v['infrastructure.elasticsearch_host']}"
        ),
        "INSIGHTS_BASE_URL": lit(v["insights.base_url"]),
        "INSIGHTS_SECRET_KEY": lit(v["insights.secret_key"]),
        "INSIGHTS_OAUTH2_KEY": lit(v["insights.oauth2_key"]),
        "INSIGHTS_OAUTH2_SECRET": lit(v["insights.oauth2_secret"]),
        "INSIGHTS_SOCIAL_AUTH_EDX_OAUTH2_KEY": lit(v["insights.oauth2_key"]),
        "INSIGHTS_SOCIAL_AUTH_EDX_OAUTH2_SECRET": lit(v["insights.oauth2_secret"]),
        "INSIGHTS_BACKEND_SERVICE_EDX_OAUTH2_KEY": lit(v["insights.oauth2_key"]),
        "INSIGHTS_BACKEND_SERVICE_EDX_OAUTH2_SECRET": lit(v["insights.oauth2_secret"]),
        "INSIGHTS_SOCIAL_AUTH_REDIRECT_IS_HTTPS": v["insights.base_url"].startswith("https://"),
        "JENKINS_VERSION": lit(v["jenkins.version"]),
        "jenkins_jvm_args": lit(JENKINS_JVM_ARGS),
        # Jenkins' nginx site: off Insights' public ports, on one no security group opens.
        "jenkins_nginx_port": v["jenkins.nginx_port"],
        "jenkins_server_name": lit(v["jenkins.server_name"]),
        KEY_FILE_VAR: lit(v["ansible.private_key"]),
        "JENKINS_ANALYTICS_CREDENTIALS": [
            {
                "id": Template("{{ ANALYTICS_SCHEDULE_MASTER_SSH_CREDENTIAL_ID }}"),
                "scope": "GLOBAL",
                "username": Template("{{ ANALYTICS_SCHEDULE_MASTER_SSH_CREDENTIAL_USER }}"),
                "type": "ssh-private-key",
                "passphrase": Template("{{ ANALYTICS_SCHEDULE_MASTER_SSH_CREDENTIAL_PASSPHRASE }}"),
                "description": "ssh key of the analytics instances, from the secure repo",
                "privatekey": Template(KEY_LOOKUP),
            }
        ],
        "ANALYTICS_SCHEDULE_SECURE_REPO_URL": lit(v["pipeline.secure_repo_url"]),
        "ANALYTICS_SCHEDULE_SECURE_REPO_VERSION": lit(v["pipeline.secure_repo_version"]),
    }


def _jenkins_env(v: Values, b: Mapping[str, str]) -> dict[str, Any]:
    lit = Literal
    return {
        "AWS_REGION": lit(v["aws.region"]),
        "CLUSTER_NAME": lit(v["pipeline.cluster_name"]),
        "CONFIG_REPO": lit(v["pipeline.config_repo"]),
        "CONFIG_BRANCH": lit(v["pipeline.config_branch"]),
        "TASKS_REPO": lit(v["pipeline.tasks_repo"]),
        "TASKS_BRANCH": lit(v["pipeline.tasks_branch"]),
        "TRACKING_LOGS_S3_BUCKET": lit(f"s3://{b['tracking_logs']}"),
        "HADOOP_S3_BUCKET": lit(f"s3://{b['pipeline']}"),
        "TASK_CONFIGURATION_S3_BUCKET": lit(f"s3://{b['emr']}"),
        "EDXAPP_S3_BUCKET": lit(f"s3://{b['grades']}"),
    }


def _emr_configurations(region: str) -> list[dict[str, Any]]:
    configurations: list[dict[str, Any]] = [
        {
            "classification": "mapred-site",
            "properties": {
                "mapreduce.framework.name": "yarn",
                "mapreduce.jobtracker.retiredjobs.cache.size": "50",
                "mapreduce.reduce.shuffle.input.buffer.percent": "0.20",
            },
        },
        {
            "classification": "yarn-site",
            "properties": {"yarn.resourcemanager.max-completed-applications": "5"},
        },
    ]
    if region != "us-east-1":
        # Hadoop's s3n defaults to us-east-1; other regions need their own endpoint.
        configurations.append(
            {
                "classification": "core-site",
                "properties": {"fs.s3n.endpoint": f"s3.{region}.amazonaws.com"},
            }
        )
    return configurations


def _emr_vars(v: Values, b: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": Template("{{ lookup('env', 'CLUSTER_NAME') }}"),
        "region": Literal(v["aws.region"]),
        "role": Literal(b["emr_ec2_profile"]),
        "keypair_name": Literal(v["terraform.key_pair_name"]),
        "vpc_subnet_id": Literal(v["infrastructure.emr_subnet_id"]),
        "log_uri": Literal(f"s3://{b['emr_logs']}"),
        "release_label": Literal(v["pipeline.emr_release_label"]),
        "configurations": _emr_configurations(v["aws.region"]),
    }


def _override_cfg(v: Values, b: Mapping[str, str]) -> dict[str, Any]:
    pipeline = f"s3://{b['pipeline']}"
    return {
        "database-export.credentials": Literal(f"{pipeline}/edxanalytics_creds"),
        "database-import.destination": Literal(f"{pipeline}/warehouse/hive/"),
        "database-import.credentials": Literal(f"{pipeline}/edxapp_creds"),
        "event-logs.source": [Literal(f"s3://{b['tracking_logs']}/logs/tracking/")],
        "hive.warehouse_path": Literal(f"{pipeline}/warehouse/hive/"),
        "manifest.path": Literal(f"{pipeline}/map-reduce/manifests/"),
        "manifest.lib_jar": Literal(f"s3://{b['emr']}/edx-analytics-hadoop-util.jar"),
        "map-reduce.marker": Literal(f"{pipeline}/map-reduce/marker/"),
        "enrollments.blacklist_path": Literal(f"{pipeline}/enrollments-blacklist/"),
        "geolocation.geolocation_data": Literal(f"{pipeline}/GeoIP.dat"),
        "elasticsearch.host": [Literal(f"https://{v['infrastructure.elasticsearch_host']}")],
    }


def _creds(host: str, port: str, user: str, password: str) -> Callable[..., dict[str, Any]]:
    def owned(v: Values, b: Mapping[str, str]) -> dict[str, Any]:
        return {
            "host": Literal(v[host]),
            "port": Literal(str(v[port])),
            "username": Literal(v[user]),
            "password": Literal(v[password]),
        }

    return owned


FILES: tuple[SecureFile, ...] = (
    SecureFile("vars-analytics.yml", "yaml", "vars-analytics.yml", True, _vars_analytics),
    SecureFile("analytics-tasks/jenkins_env", "env", "jenkins_env", False, _jenkins_env),
    SecureFile("analytics-tasks/emr-vars.yml", "yaml", "emr-vars.yml", False, _emr_vars),
    SecureFile(
        "analytics-tasks/analytics-override.cfg",
        "cfg",
        "analytics-override.cfg",
        False,
        _override_cfg,
    ),
    SecureFile(
        "analytics-tasks/edxapp_creds",
        "json",
        "creds.json",
        True,
        _creds(
            "edxapp.db_host",
            "edxapp.db_port",
            "database.readonly_user",
            "database.readonly_password",
        ),
    ),
    SecureFile(
        "analytics-tasks/edxanalytics_creds",
        "json",
        "creds.json",
        True,
        _creds(
            "database.host",
            "database.port",
            "database.analytics_user",
            "database.analytics_password",
        ),
    ),
)
PATHS = tuple(f.path for f in FILES)


# --- planning -----------------------------------------------------------------------------


def values(session: Session) -> dict[str, Any]:
    """Every input, resolved and validated; missing answers raise one error naming them all."""
    return session.resolved.require(INPUTS)


def _text(value: Any) -> str:
    if isinstance(value, Unsafe):
        return value.text
    if isinstance(value, ShellExpansion):
        return value.raw
    return "" if value is MISSING or value is None else str(value)


def _shown(value: Any) -> str:
    if value is MISSING:
        return "(removed)"
    return _text(value) if isinstance(value, str | Unsafe | ShellExpansion) else repr(value)


def _secret_owned_keys() -> set[str]:
    return {
        "COMMON_MYSQL_MIGRATE_PASS",
        "ANALYTICS_MYSQL_PASSWORD",
        "ANALYTICS_API_AUTH_TOKEN",
        "ANALYTICS_API_SECRET_KEY",
        "INSIGHTS_SECRET_KEY",
        "INSIGHTS_OAUTH2_KEY",
        "INSIGHTS_OAUTH2_SECRET",
        "INSIGHTS_SOCIAL_AUTH_EDX_OAUTH2_KEY",
        "INSIGHTS_BACKEND_SERVICE_EDX_OAUTH2_KEY",
        "INSIGHTS_SOCIAL_AUTH_EDX_OAUTH2_SECRET",
        "INSIGHTS_BACKEND_SERVICE_EDX_OAUTH2_SECRET",
        "password",
    }


# --- cross-file rules ---------------------------------------------------------------------


def _bucket_of(url: str) -> str:
    return url.removeprefix("s3://").split("/", 1)[0]


def _first(value: Any) -> str:
    import json

    text = _text(value)
    try:
        parsed = json.loads(text.replace("%%", "%"))
    except ValueError:
        return text
    return str(parsed[0]) if isinstance(parsed, list) and parsed else text


def _release(label: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in label.removeprefix("emr-").split("."))
    except ValueError:
        return (0,)


def check_rules(docs: Mapping[str, Document]) -> list[str]:
    """Rules that span files (SPEC §4.4), checked on the content about to be written."""
    vars_ = docs["vars-analytics.yml"]
    env = docs["analytics-tasks/jenkins_env"]
    emr = docs["analytics-tasks/emr-vars.yml"]
    cfg = docs["analytics-tasks/analytics-override.cfg"]
    creds = docs["analytics-tasks/edxanalytics_creds"]
    problems = []

    regions = {
        "jenkins_env AWS_REGION": _text(env.get("AWS_REGION")),
        "emr-vars.yml region": _text(emr.get("region")),
        "vars-analytics.yml Elasticsearch region": _text(
            vars_.get("ANALYTICS_API_ELASTICSEARCH_CONNECTION_DEFAULT_REGION")
        ),
    }
    if len(set(regions.values())) > 1:
        problems.append(
            "one region everywhere: " + ", ".join(f"{k} is {v!r}" for k, v in regions.items())
        )
    region = regions["emr-vars.yml region"]
    configurations = emr.get("configurations")
    has_endpoint = isinstance(configurations, list) and any(
        isinstance(c, Mapping)
        and c.get("classification") == "core-site"
        and "fs.s3n.endpoint" in (c.get("properties") or {})
        for c in configurations
    )
    if region != "us-east-1" and not has_endpoint:
        problems.append(
            f"emr-vars.yml needs a core-site fs.s3n.endpoint classification in {region}"
        )
    release = _text(emr.get("release_label"))
    if region not in SIGV2_REGIONS and _release(release) < MIN_SIGV4_EMR_RELEASE:
        problems.append(
            f"{region} accepts only SigV4, which needs EMR release emr-4.9.6 or newer (got {release})"
        )

    cluster = _text(env.get("CLUSTER_NAME"))
    name = _text(emr.get("name"))
    if not cluster:
        problems.append("jenkins_env must set CLUSTER_NAME")
    elif "lookup('env', 'CLUSTER_NAME')" not in name and name != cluster:
        problems.append(f"emr-vars.yml name {name!r} differs from CLUSTER_NAME {cluster!r}")

    es_vars = _text(vars_.get("ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST"))
    es_cfg = _first(cfg.get("elasticsearch.host"))
    if not es_vars.startswith("https://"):
        problems.append("ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST must start with https://")
    if es_vars != es_cfg:
        problems.append(
            f"Elasticsearch endpoint differs: vars-analytics.yml {es_vars!r}, analytics-override.cfg {es_cfg!r}"
        )

    for var, cred in (
        ("ANALYTICS_MYSQL_HOST", "host"),
        ("ANALYTICS_MYSQL_PORT", "port"),
        ("ANALYTICS_MYSQL_USER", "username"),
        ("ANALYTICS_MYSQL_PASSWORD", "password"),
    ):
        if _text(vars_.get(var)) != _text(creds.get(cred)):
            problems.append(f"{var} in vars-analytics.yml and {cred} in edxanalytics_creds differ")

    bucket_pairs = (
        ("HADOOP_S3_BUCKET", "hive.warehouse_path"),
        ("HADOOP_S3_BUCKET", "database-import.credentials"),
        ("TASK_CONFIGURATION_S3_BUCKET", "manifest.lib_jar"),
        ("TRACKING_LOGS_S3_BUCKET", "event-logs.source"),
    )
    for env_key, cfg_key in bucket_pairs:
        env_bucket = _bucket_of(_text(env.get(env_key)))
        cfg_bucket = _bucket_of(_first(cfg.get(cfg_key)))
        if env_bucket != cfg_bucket:
            problems.append(
                f"bucket differs: jenkins_env {env_key} is {env_bucket!r}, "
                f"analytics-override.cfg {cfg_key} is {cfg_bucket!r}"
            )

    insights_ports = [vars_.get("INSIGHTS_NGINX_PORT"), vars_.get("INSIGHTS_NGINX_SSL_PORT")]
    nginx = vars_.get("jenkins_nginx_port")
    nginx_port = 8081 if nginx is MISSING else _as_int(nginx)
    jenkins_ports = {8080, nginx_port}
    for port in insights_ports:
        if port is not MISSING and _as_int(port) in jenkins_ports:
            problems.append(
                f"Insights nginx port {_text(port)} clashes with Jenkins (8080, nginx "
                f"{nginx_port}): set jenkins.nginx_port to a port of its own (8081)"
            )
    if len({_as_int(p) for p in insights_ports if p is not MISSING}) < len(
        [p for p in insights_ports if p is not MISSING]
    ):
        problems.append("INSIGHTS_NGINX_PORT and INSIGHTS_NGINX_SSL_PORT must differ")
    return problems


def _as_int(value: Any) -> int | None:
    try:
        return int(_text(value))
    except ValueError:
        return None


# --- applying and verifying ---------------------------------------------------------------


# --- the step ----------------------------------------------------------------------------


BUCKET_KEYS = ("pipeline", "emr", "emr_logs", "api_reports")


class FilesStep(Step):
    name = NAME
    inputs = INPUTS
    verb = "Write"
    preview_label = "Preview files"

    def plan(
        self, session: Session, decisions: Mapping[str, str], force: bool, ctx: RunContext
    ) -> Plan:
        """What the step would write. ``decisions`` maps a conflict id to keep/overwrite."""
        # Generated secrets are created once here (in memory only on a dry run) and kept after.
        session.ensure_generated(INPUTS)
        try:
            v = values(session)
        except ValueError as exc:
            raise StepError(str(exc)) from None
        b = buckets(v, lambda name: session.ledger.output("terraform", name))
        origin_secret = gitrepo.remote_credentials(session.repo)
        if origin_secret:
            session.redact.add([origin_secret])  # an older file may still hold it: diffs show it
        record = session.ledger.steps.get(NAME)
        written: Mapping[str, Any] = (record.outputs.get("written") or {}) if record else {}
        kept: Mapping[str, Any] = (record.outputs.get("kept") or {}) if record else {}
        dkey = session.answers.internal_secret("ledger_key")

        result = Plan(step=NAME, inputs={k: v[k] for k in INPUTS}, decisions=dict(decisions))
        if origin_secret and "pipeline.secure_repo_url" not in session.answers.values:
            result.notes.append(
                "pipeline.secure_repo_url: the origin remote's URL holds a password or token; it "
                "was left out (Jenkins needs credentials of its own to clone the secure repo)"
            )
        docs: dict[str, Document] = {}
        new_written: dict[str, dict[str, str]] = {}
        new_kept: dict[str, dict[str, str]] = {}
        secret_keys = _secret_owned_keys()
        for spec in FILES:
            target = session.repo / spec.path
            old = read_if_exists(target, session.repo)
            try:
                doc = parse(
                    spec.kind,
                    old if old is not None else assets.text("templates", spec.template),
                    spec.path,
                )
            except DocumentError as exc:
                # A parser may quote the offending line, which can hold a secret.
                raise StepError(
                    session.redact(f"{exc}; fix the file by hand or move it aside, then run again")
                ) from None
            file_written = written.get(spec.path) or {}
            file_kept = kept.get(spec.path) or {}
            for key, desired in spec.owned(v, b).items():
                want = doc.canonical(desired)
                new_written.setdefault(spec.path, {})[key] = digest(dkey, want)
                current = doc.get(key) if old is not None else MISSING
                if key in secret_keys and current is not MISSING:
                    # Whatever a secret key holds is a secret, even a value typed in by hand.
                    session.redact.add([_text(current)])
                if current == want:
                    continue
                current_digest = digest(dkey, current)
                conflict_id = f"{spec.path}:{key}"
                untouched = old is None or current_digest == file_written.get(key)
                untouched = untouched or (key not in file_written and is_placeholder(current))
                if untouched:
                    doc.set(key, desired)
                    continue
                decision = OVERWRITE if force else decisions.get(conflict_id)
                if decision is None and file_kept.get(key) == current_digest:
                    decision = KEEP  # the operator chose to keep this exact value before
                if decision == OVERWRITE:
                    doc.set(key, desired)
                elif decision == KEEP:
                    new_kept.setdefault(spec.path, {})[key] = current_digest
                    result.notes.append(f"kept your value of {key} in {spec.path}")
                else:
                    result.conflicts.append(
                        Conflict(
                            spec.path, key, _shown(current), _shown(want), secret=key in secret_keys
                        )
                    )
            docs[spec.path] = doc
            mode = SECRET_FILE_MODE if spec.secret else 0o644
            old_mode = file_mode(target) if old is not None else None
            result.changes.append(Change(spec.path, old, doc.render(), mode, old_mode))

        # Undecided conflicts come first: until the operator keeps or overwrites those values, the
        # final content (and so whether the files fit together) is not known.
        problems = [] if result.conflicts else check_rules(docs)
        if problems:
            raise StepError(
                "the files would not fit together: " + "; ".join(problems) + ". Change the answers "
                "(or the hand-edited values) so they agree, then run again"
            )
        result.outputs = {
            "written": new_written,
            "kept": new_kept,
            # Whole files as written: while each still has its digest, the local probe is done
            # without parsing a file (status and the sidebar in milliseconds).
            "files": {c.path: digest(dkey, c.new) for c in result.changes},
            "buckets": {k: b[k] for k in BUCKET_KEYS},
        }
        return result

    def apply(self, session: Session, plan: Plan, ctx: RunContext) -> dict[str, Any]:
        if plan.conflicts:
            raise StepError(
                f"{len(plan.conflicts)} hand-edited value(s) need a decision (keep or overwrite) first"
            )
        ensure_private_dir(session.repo / "analytics-tasks", session.repo)
        writes = [
            FileWrite(session.repo / c.path, c.new, c.mode, expected_old=c.old)
            for c in plan.changes
        ]
        for path in write_files(writes, session.repo):
            session.log.write(f"files: wrote {path.relative_to(session.repo)}")
        return plan.outputs

    def probe(self, session: Session) -> str | None:
        """None while every file still holds what the answers say (or what the operator kept)."""
        if self._as_written(session):
            return None
        current = self.plan(session, {}, False, QUIET)
        missing = [c.path for c in current.changes if c.old is None]
        if missing:
            return f"missing: {', '.join(missing)}"
        if current.conflicts:
            edited = ", ".join(f"{c.key} in {c.path}" for c in current.conflicts[:3])
            return f"changed by hand: {edited}"
        differing = [c.path for c in current.pending]
        if differing:
            return f"out of date: {', '.join(differing)}"
        return None

    def _as_written(self, session: Session) -> bool:
        """Every file is byte for byte (and mode) what the step wrote, from the same buckets (the
        answers were compared by the engine): nothing to render or parse."""
        record = session.ledger.steps.get(NAME)
        files: Mapping[str, str] = (record.outputs.get("files") or {}) if record else {}
        if record is None or set(files) != {spec.path for spec in FILES}:
            return False
        try:
            b = buckets(values(session), lambda name: session.ledger.output("terraform", name))
        except ValueError:
            return False
        if record.outputs.get("buckets") != {k: b[k] for k in BUCKET_KEYS}:
            return False
        key = session.answers.internal_secret("ledger_key")
        for spec in FILES:
            target = session.repo / spec.path
            text = read_if_exists(target, session.repo)
            if text is None or digest(key, text) != files[spec.path]:
                return False
            if file_mode(target) != (SECRET_FILE_MODE if spec.secret else 0o644):
                return False
        return True


STEP = FilesStep()
