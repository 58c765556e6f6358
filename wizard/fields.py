"""Every answer the wizard asks for, declared once.

The TUI renders these as form inputs, headless mode reads them from the answers file and
``answers-template`` prints them; all three share the same label, help, default and validator.
A validator takes what the operator typed (or the YAML value) and returns the clean value, or
raises :class:`FieldError` whose message says what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .redact import url_credentials, without_credentials


class FieldError(ValueError):
    """A value that does not fit its field; the message says what is allowed."""


class Resolver(Protocol):
    """What a derived default may look at: other answers and earlier steps' outputs."""

    def get(self, key: str) -> Any: ...

    def output(self, step: str, name: str) -> Any: ...

    def git_remote_url(self) -> str | None: ...


Validator = Callable[[Any], Any]
Default = Callable[[Resolver], Any]


@dataclass(frozen=True)
class Field:
    """One answer: where it lives in the answers file and how to ask for it."""

    key: str
    label: str
    help: str
    validate: Validator
    default: Any = None
    derive: Default | None = None
    secret: bool = False
    generated: bool = False
    required: bool = True
    kind: str = "text"  # text | int | bool | list | mapping
    example: Any = None
    choices: tuple[str, ...] = field(default=())
    produced_by: str = ""  # the step whose outputs give the default (a run has it come first)

    @property
    def group(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    def clean(self, value: Any) -> Any:
        """Validate ``value`` (typed text or a YAML value); None/blank means "not given"."""
        if value is None or (isinstance(value, str) and value == ""):
            return None
        if self.kind == "list":
            items = value if isinstance(value, list) else _split_list(str(value))
            return [self.validate(item) for item in items]
        if self.kind == "mapping":
            return self.validate(value)
        return self.validate(value)


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# --- validators ---------------------------------------------------------------------------

# C0 and C1 control characters (NEL, U+0085, is one) and the Unicode line and paragraph
# separators: YAML, bash and Python's splitlines would each see some of them as a line break.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def text(value: Any) -> str:
    """Any single-line text; quotes, #, %, $, backslashes, {{ and unicode are all fine."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError("expected text")
    cleaned = str(value)
    if _CONTROL.search(cleaned):
        raise FieldError("must be a single line without control characters (no newline or tab)")
    if cleaned != cleaned.strip():
        raise FieldError("must not start or end with spaces")
    if not cleaned:
        raise FieldError("must not be empty")
    return cleaned


def secret_text(value: Any) -> str:
    """A password: any single line; it is masked and never logged."""
    if not isinstance(value, str):
        raise FieldError("expected text (quote it in YAML)")
    if _CONTROL.search(value):
        raise FieldError("must be a single line without control characters (no newline or tab)")
    if not value:
        raise FieldError("must not be empty")
    return value


def _pattern(regex: str, allowed: str) -> Validator:
    # Compiled on first use (re keeps it cached): compiling them all cost start-up time.
    def check(value: Any) -> str:
        cleaned = text(value)
        if not re.fullmatch(regex, cleaned):
            raise FieldError(allowed)
        return cleaned

    check.__doc__ = allowed
    return check


slug = _pattern(
    r"[a-z][a-z0-9-]{0,38}[a-z0-9]",
    "lowercase letters, digits and hyphens; 2-40 characters, starting with a letter, "
    "not ending with a hyphen",
)
hostname = _pattern(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
    "a host name such as lms.example.com, or an IP address (no scheme, port or path)",
)
domain = _pattern(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    "a lowercase DNS domain such as example.com",
)
region = _pattern(
    r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d",
    "an AWS region name such as us-east-1 or eu-central-1",
)
aws_profile = _pattern(
    r"[A-Za-z0-9_.+=,@-]{1,64}", "an AWS profile name: letters, digits and _ . + = , @ -"
)
bucket = _pattern(
    r"(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
    "an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens",
)
iam_arn = _pattern(
    r"arn:aws[a-z-]*:iam::\d{12}:(user|role)/[A-Za-z0-9+=,.@_/-]+",
    "an IAM user or role ARN such as arn:aws:iam::123456789012:user/acme-edxapp-s3",
)
ami_id = _pattern(r"ami-([0-9a-f]{8}|[0-9a-f]{17})", "an AMI id: ami- then 8 or 17 hex digits")
security_group_id = _pattern(
    r"sg-([0-9a-f]{8}|[0-9a-f]{17})", "a security group id: sg- then 8 or 17 hex digits"
)
subnet_id = _pattern(
    r"subnet-([0-9a-f]{8}|[0-9a-f]{17})", "a subnet id: subnet- then 8 or 17 hex digits"
)
instance_type = _pattern(
    r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an EC2 instance type such as t3.medium or m5.large"
)
rds_class = _pattern(r"db\.[a-z][a-z0-9-]*\.[a-z0-9]+", "an RDS class such as db.t3.medium")
key_pair = _pattern(
    r"[A-Za-z0-9 ._:/()#,@\[\]+=&;{}!$*-]{1,255}",
    "an EC2 key pair name: up to 255 letters, digits, spaces and ._:/()#,@[]+=&;{}!$*-",
)
mysql_user = _pattern(
    r"[A-Za-z0-9_-]{1,32}", "a MySQL user name: letters, digits, _ and -; at most 32 characters"
)
git_ref = _pattern(
    r"(?!.*\.\.)(?!/)(?!.*//)[A-Za-z0-9._/+-]+(?<!/)(?<!\.lock)",
    "a git branch or tag such as open-release/koa.3",
)
emr_release = _pattern(r"emr-\d+\.\d+\.\d+", "an EMR release label such as emr-4.9.6")
email = _pattern(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address such as ops@example.com")
relative_or_home_path = _pattern(r"[^\0]+", "a file or directory path")
absolute_path = _pattern(
    r"/[^\0]*", "an absolute path on the analytics host, such as /home/jenkins"
)
unix_user = _pattern(
    r"[a-z_][a-z0-9_-]{0,31}",
    "a Unix user name: lowercase letters, digits, _ and -; at most 32 characters",
)
jenkins_version = _pattern(r"\d+(\.\d+){1,3}", "a Jenkins version such as 1.651.3 or 2.426.1")
jenkins_id = _pattern(
    r"[A-Za-z0-9_.-]{1,64}", "a Jenkins credentials id: letters, digits, _ . and -"
)


def url(value: Any) -> str:
    """An http(s) URL without spaces."""
    cleaned = text(value)
    if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", cleaned):
        raise FieldError("an http:// or https:// URL such as https://insights.example.com")
    return cleaned


def repo_url(value: Any) -> str:
    """A git remote: https://, ssh:// or scp-like git@host:path; no credentials in it."""
    cleaned = text(value)
    if not re.fullmatch(r"(https?|ssh|git)://\S+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+", cleaned):
        raise FieldError(
            "a git repository URL such as https://github.com/org/repo.git or git@github.com:org/repo.git"
        )
    if url_credentials(cleaned) is not None:
        # It would be written into vars-analytics.yml and committed.
        raise FieldError(
            "must not hold a password or token (user:token@): the URL is written into the "
            "secure repo's files; give it without them, e.g. "
            f"{without_credentials(cleaned)}, and let Jenkins use its own credentials"
        )
    return cleaned


def scheme(value: Any) -> str:
    cleaned = text(value)
    if cleaned not in ("http", "https"):
        raise FieldError("http or https")
    return cleaned


def ipv4(value: Any) -> str:
    cleaned = text(value)
    try:
        return str(ipaddress.IPv4Address(cleaned))
    except ValueError:
        raise FieldError("an IPv4 address such as 10.0.1.23") from None


def integer(low: int, high: int) -> Validator:
    def check(value: Any) -> int:
        if isinstance(value, bool):
            raise FieldError(f"a whole number from {low} to {high}")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise FieldError(f"a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise FieldError(f"a whole number from {low} to {high}")
        return number

    return check


port = integer(1, 65535)


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("yes", "true", "y", "1", "on"):
        return True
    if lowered in ("no", "false", "n", "0", "off"):
        return False
    raise FieldError("yes or no")


TUNNEL_TEXT = "user@host:port key=PATH known_hosts=PATH (only host is needed)"


def tunnel(value: Any) -> dict[str, Any]:
    """An SSH host that reaches the database: {host, port, user, key_file, known_hosts}, or
    the same typed on one line as ``user@host:port key=PATH known_hosts=PATH``."""
    if isinstance(value, str):
        value = _tunnel_from_text(value)
    if not isinstance(value, Mapping):
        raise FieldError("a mapping with host, port, user, key_file and known_hosts")
    unknown = set(value) - {"host", "port", "user", "key_file", "known_hosts"}
    if unknown:
        raise FieldError(
            f"unknown keys {sorted(unknown)}; allowed: host, port, user, key_file, known_hosts"
        )
    if "host" not in value:
        raise FieldError("needs at least host")
    return {
        "host": hostname(value["host"]),
        "port": port(value.get("port", 22)),
        "user": text(value.get("user", "ubuntu")),
        "key_file": text(value.get("key_file", "~/.ssh/id_rsa")),
        "known_hosts": text(value.get("known_hosts", "~/.ssh/known_hosts")),
    }


def _tunnel_from_text(line: str) -> dict[str, Any]:
    words = line.split()
    if not words:
        raise FieldError(TUNNEL_TEXT)
    found: dict[str, Any] = {}
    target = words[0]
    if "=" in target:
        raise FieldError(f"start with the host: {TUNNEL_TEXT}")
    if "@" in target:
        found["user"], target = target.rsplit("@", 1)
    if ":" in target:
        target, found["port"] = target.rsplit(":", 1)
    found["host"] = target
    for word in words[1:]:
        name, sep, path = word.partition("=")
        if not sep or name not in ("key", "known_hosts") or not path:
            raise FieldError(f"unexpected {word!r}: {TUNNEL_TEXT}")
        found["key_file" if name == "key" else "known_hosts"] = path
    return found


def tunnel_text(value: Mapping[str, Any]) -> str:
    """A tunnel answer as typed on one line (the inverse of the one-line form)."""
    return (
        f"{value['user']}@{value['host']}:{value['port']} key={value['key_file']} "
        f"known_hosts={value['known_hosts']}"
    )


# --- derivations --------------------------------------------------------------------------

# Regions launched after January 2014 accept only Signature Version 4.
SIGV2_REGIONS = frozenset(
    {
        "us-east-1",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "ap-northeast-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "sa-east-1",
    }
)
MIN_SIGV4_EMR_RELEASE = (4, 9, 6)


def _client_env(r: Resolver) -> str | None:
    """``<client>-<environment>``, or None while the client name is not known."""
    client, env = r.get("client.name"), r.get("client.environment")
    return f"{client}-{env}" if client and env else None


def _tracking_logs_bucket(r: Resolver) -> str | None:
    client = r.get("client.name")
    return f"{client}-tracking-logs" if client else None


def _lms_url(r: Resolver) -> str | None:
    host = r.get("edxapp.lms_host")
    return f"{r.get('edxapp.scheme') or 'https'}://{host}" if host else None


def _cluster_name(r: Resolver) -> str | None:
    client = r.get("client.name")
    return f"{client.replace('-', ' ').title()} Analytics Cluster" if client else None


def _insights_url(r: Resolver) -> str | None:
    zone = r.get("terraform.hosted_zone_domain")
    return f"https://insights.{zone}" if zone else None


def _jenkins_server_name(r: Resolver) -> str | None:
    """``jenkins.<hosted zone>``, else beside the Insights (or LMS) host: a name of the client's."""
    zone = r.get("terraform.hosted_zone_domain")
    if zone:
        return f"jenkins.{zone}"
    url = r.get("insights.base_url")
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] if url else None
    host = host or r.get("edxapp.lms_host")
    if host and host.count(".") >= 2:
        return f"jenkins.{host.split('.', 1)[1]}"
    return None


def _database_host(r: Resolver) -> Any:
    # An explicit database.host answer never reaches here (Resolved.get prefers answers).
    # Terraform's output first, so a changed RDS makes the database step stale; then what the
    # database step set up (e.g. when a later run's answers leave the host out).
    return r.output("terraform", "rds_host_name") or r.output("database", "host")


F = Field
FIELDS: tuple[Field, ...] = (
    # client
    F(
        "client.name",
        "Client name",
        "Short name of the client; prefixes buckets and resources.",
        slug,
        example="acme",
    ),
    F(
        "client.environment",
        "Environment",
        "Environment name used in resource and bucket names.",
        slug,
        default="analytics",
    ),
    # aws
    F(
        "aws.profile",
        "AWS profile",
        "Named profile in ~/.aws/config used for every AWS call.",
        aws_profile,
        derive=_client_env,
    ),
    F(
        "aws.region",
        "AWS region",
        "One region for everything: EMR, Elasticsearch and pipeline.",
        region,
        default="us-east-1",
    ),
    F(
        "aws.endpoint_url",
        "AWS endpoint URL",
        "A local AWS-compatible endpoint for testing or a demo; leave empty for real AWS.",
        url,
        required=False,
    ),
    # edxapp
    F(
        "edxapp.lms_host",
        "LMS host",
        "The LMS host name (EDXAPP_LMS_BASE), without scheme.",
        hostname,
        example="lms.example.com",
    ),
    F(
        "edxapp.cms_host",
        "Studio host",
        "The Studio host name (EDXAPP_CMS_BASE), without scheme.",
        hostname,
        example="studio.example.com",
    ),
    F(
        "edxapp.scheme",
        "LMS scheme",
        "http or https, as the LMS is served (EDXAPP_LMS_BASE_SCHEME).",
        scheme,
        default="https",
        choices=("https", "http"),
    ),
    F(
        "edxapp.contact_email",
        "Contact e-mail",
        "Where Insights feedback and S3 log alerts go.",
        email,
        example="ops@example.com",
    ),
    F(
        "edxapp.openedx_release",
        "Open edX release",
        "The release tag to deploy (OPENEDX_RELEASE).",
        git_ref,
        default="open-release/koa.3",
    ),
    F(
        "edxapp.tracking_logs_bucket",
        "Tracking logs bucket",
        "S3 bucket the LMS rotates its tracking logs into.",
        bucket,
        derive=_tracking_logs_bucket,
    ),
    F(
        "edxapp.grades_bucket",
        "Grades bucket",
        "The edxapp S3 bucket that holds grade and engagement reports.",
        bucket,
        example="acme-prod-edxapp-storage",
    ),
    F(
        "edxapp.grades_bucket_user_arn",
        "Grades bucket user ARN",
        "IAM user (or role) of edxapp that writes to the grades bucket.",
        iam_arn,
        example="arn:aws:iam::123456789012:user/acme-prod-edxapp-s3",
    ),
    F(
        "edxapp.db_host",
        "edxapp DB host",
        "MySQL host of the edxapp databases.",
        hostname,
        example="edxapp-db.example.com",
    ),
    F(
        "edxapp.db_port",
        "edxapp DB port",
        "MySQL port of the edxapp databases.",
        port,
        default=3306,
        kind="int",
    ),
    F(
        "edxapp.migrate_user",
        "Migration user",
        "COMMON_MYSQL_MIGRATE_USER of the edxapp setup.",
        mysql_user,
        example="edxapp001",
    ),
    F(
        "edxapp.migrate_password",
        "Migration password",
        "COMMON_MYSQL_MIGRATE_PASS of edxapp.",
        secret_text,
        secret=True,
    ),
    F(
        "edxapp.admin_user",
        "edxapp DB admin user",
        "A user on the edxapp DB server allowed to CREATE USER and GRANT (creates edxapp_ro).",
        mysql_user,
        derive=lambda r: r.get("edxapp.migrate_user"),
    ),
    F(
        "edxapp.admin_password",
        "edxapp DB admin password",
        "Password of the edxapp DB admin user; default: the migration password.",
        secret_text,
        secret=True,
        derive=lambda r: r.get("edxapp.migrate_password"),
    ),
    F(
        "edxapp.oauth2_provider_confirmed",
        "OAuth2 provider confirmed",
        "Confirm ENABLE_OAUTH2_PROVIDER is true on the LMS when it cannot be checked.",
        boolean,
        default=False,
        kind="bool",
    ),
    F(
        "edxapp.lms_config_file",
        "LMS config file",
        "A copy of the LMS's lms.yml (or lms.env.json) to read ENABLE_OAUTH2_PROVIDER from.",
        relative_or_home_path,
        required=False,
    ),
    F(
        "edxapp.lms_url",
        "LMS URL",
        "Where the prerequisites check reaches the LMS; default: scheme://LMS host.",
        url,
        derive=_lms_url,
    ),
    # terraform
    F(
        "terraform.image_id",
        "AMI",
        "Ubuntu LTS AMI for the analytics instance(s).",
        ami_id,
        example="ami-0123456789abcdef0",
    ),
    F(
        "terraform.instance_type",
        "Instance type",
        "EC2 type of the analytics instance(s).",
        instance_type,
        default="t3.medium",
    ),
    F(
        "terraform.key_pair_name",
        "Key pair",
        "EC2 key pair of the analytics instances (analytics.pem).",
        key_pair,
        derive=_client_env,
    ),
    F(
        "terraform.number_of_instances",
        "Instances",
        "How many analytics instances to create.",
        integer(1, 10),
        default=1,
        kind="int",
    ),
    F(
        "terraform.instance_iteration",
        "Instance iteration",
        "Bump to replace the instances with new ones.",
        integer(1, 999),
        default=1,
        kind="int",
    ),
    F(
        "terraform.rds_instance_class",
        "RDS class",
        "Instance class of the analytics RDS.",
        rds_class,
        default="db.t3.medium",
    ),
    F(
        "terraform.rds_allocated_storage",
        "RDS storage (GiB)",
        "Allocated storage of the RDS.",
        integer(20, 65536),
        default=20,
        kind="int",
    ),
    F(
        "terraform.rds_root_username",
        "RDS root user",
        "Master user of the analytics RDS.",
        mysql_user,
        default="analyticsroot",
    ),
    F(
        "terraform.rds_root_password",
        "RDS root password",
        "Generated when left empty.",
        secret_text,
        secret=True,
        generated=True,
    ),
    F(
        "terraform.hosted_zone_domain",
        "Hosted zone",
        "Route 53 zone that gets the Insights record.",
        domain,
        example="example.com",
    ),
    F(
        "terraform.director_security_group_id",
        "Director security group",
        "Security group of the director; only it may reach SSH and Jenkins.",
        security_group_id,
        example="sg-0123456789abcdef0",
    ),
    F(
        "terraform.create_elasticsearch",
        "Create Elasticsearch",
        "Create the learners Elasticsearch domain (10-20 minutes); no: use an existing one.",
        boolean,
        default=True,
        kind="bool",
    ),
    F(
        "terraform.existing_elasticsearch_host",
        "Existing Elasticsearch host",
        "Endpoint host of an existing domain (no https://), when not creating one.",
        hostname,
        required=False,
    ),
    F(
        "terraform.create_rds",
        "Create the RDS",
        "Create the analytics RDS MySQL instance; no: use an existing MySQL server.",
        boolean,
        default=True,
        kind="bool",
    ),
    F(
        "terraform.existing_rds_host",
        "Existing MySQL host",
        "Host of an existing MySQL server for the analytics databases, when not creating one.",
        hostname,
        required=False,
    ),
    # infrastructure (terraform outputs, or existing infrastructure)
    F(
        "infrastructure.elasticsearch_host",
        "Elasticsearch host",
        "Endpoint host of the Elasticsearch domain, without https://; default: terraform output.",
        hostname,
        derive=lambda r: r.output("terraform", "elasticsearch_learners_host"),
        produced_by="terraform",
        example="search-acme-analytics-abc123.us-east-1.es.amazonaws.com",
    ),
    F(
        "infrastructure.analytics_private_ips",
        "Analytics private IPs",
        "Private IPs of the analytics instances, comma separated; default: terraform output.",
        ipv4,
        kind="list",
        required=False,
        derive=lambda r: r.output("terraform", "analytics_instance_private_ips"),
        produced_by="terraform",
    ),
    F(
        "infrastructure.analytics_public_ips",
        "Analytics public IPs",
        "Public IPs of the analytics instances, comma separated; default: terraform output.",
        ipv4,
        kind="list",
        required=False,
        derive=lambda r: r.output("terraform", "analytics_instance_public_ips"),
        produced_by="terraform",
    ),
    F(
        "infrastructure.emr_subnet_id",
        "EMR subnet",
        "A public subnet of the VPC where EMR clusters start; default: terraform output.",
        subnet_id,
        derive=lambda r: r.output("terraform", "emr_subnet_id"),
        produced_by="terraform",
        example="subnet-0123456789abcdef0",
    ),
    # database
    F(
        "database.host",
        "Analytics DB host",
        "MySQL host of the analytics databases, without :port; default: terraform output.",
        hostname,
        derive=_database_host,
        produced_by="terraform",
        example="acme-analytics.abc.us-east-1.rds.amazonaws.com",
    ),
    F(
        "database.port",
        "Analytics DB port",
        "MySQL port of the analytics databases.",
        port,
        default=3306,
        derive=lambda r: r.output("database", "port"),
        kind="int",
    ),
    F(
        "database.admin_user",
        "Analytics DB admin",
        "Admin user; default: the RDS root user.",
        mysql_user,
        derive=lambda r: r.get("terraform.rds_root_username"),
    ),
    F(
        "database.admin_password",
        "Analytics DB admin password",
        "Default: the RDS root password.",
        secret_text,
        secret=True,
        derive=lambda r: r.get("terraform.rds_root_password"),
    ),
    F(
        "database.analytics_user",
        "Analytics DB user",
        "Read-write user of Insights and the API.",
        mysql_user,
        default="analytics",
    ),
    F(
        "database.analytics_password",
        "Analytics DB password",
        "Generated when left empty.",
        secret_text,
        secret=True,
        generated=True,
    ),
    F(
        "database.readonly_user",
        "edxapp read-only user",
        "Read-only user the pipeline imports with.",
        mysql_user,
        default="edxapp_ro",
    ),
    F(
        "database.readonly_password",
        "edxapp read-only password",
        "Generated when left empty.",
        secret_text,
        secret=True,
        generated=True,
    ),
    F(
        "database.tunnel",
        "DB tunnel",
        "An SSH host that reaches the DB (the director or an analytics instance), as "
        "user@host:port key=PATH known_hosts=PATH; empty to connect directly.",
        tunnel,
        kind="mapping",
        required=False,
    ),
    # insights / analytics api
    F(
        "insights.base_url",
        "Insights URL",
        "Public URL of the Insights dashboard.",
        url,
        derive=_insights_url,
        example="https://insights.example.com",
    ),
    F(
        "insights.secret_key",
        "Insights secret key",
        "Django SECRET_KEY; generated when empty.",
        secret_text,
        secret=True,
        generated=True,
    ),
    F(
        "insights.oauth2_key",
        "Insights OAuth2 client id",
        "Client id registered in the LMS for Insights SSO; generated when empty.",
        secret_text,
        secret=True,
        generated=True,
    ),
    F(
        "insights.oauth2_secret",
        "Insights OAuth2 client secret",
        "Generated when empty.",
        secret_text,
        secret=True,
        generated=True,
    ),
    F(
        "analytics_api.auth_token",
        "Analytics API token",
        "Token Insights uses to call the API.",
        secret_text,
        secret=True,
        generated=True,
    ),
    F(
        "analytics_api.secret_key",
        "Analytics API secret key",
        "Django SECRET_KEY of the API.",
        secret_text,
        secret=True,
        generated=True,
    ),
    F(
        "analytics_api.port",
        "Analytics API port",
        "Port of the API's nginx on the analytics host (ANALYTICS_API_NGINX_PORT).",
        port,
        default=18100,
        kind="int",
    ),
    # pipeline
    F(
        "pipeline.cluster_name",
        "EMR cluster name",
        "CLUSTER_NAME of the pipeline's EMR clusters.",
        text,
        derive=_cluster_name,
    ),
    F(
        "pipeline.tasks_repo",
        "Pipeline repo",
        "Repository of edx-analytics-pipeline.",
        repo_url,
        default="https://github.com/openedx/edx-analytics-pipeline.git",
    ),
    F(
        "pipeline.tasks_branch",
        "Pipeline branch",
        "Branch or tag of the pipeline.",
        git_ref,
        derive=lambda r: r.get("edxapp.openedx_release"),
    ),
    F(
        "pipeline.config_repo",
        "Pipeline config repo",
        "Repository of edx-analytics-configuration.",
        repo_url,
        default="https://github.com/openedx/edx-analytics-configuration.git",
    ),
    F(
        "pipeline.config_branch",
        "Pipeline config branch",
        "Branch or tag of the configuration.",
        git_ref,
        derive=lambda r: r.get("edxapp.openedx_release"),
    ),
    F(
        "pipeline.emr_release_label",
        "EMR release",
        "EMR release label of the pipeline clusters.",
        emr_release,
        default="emr-4.9.6",
    ),
    F(
        "pipeline.secure_repo_url",
        "Secure repo URL",
        "Git URL Jenkins clones this secure repo from; default: its origin remote.",
        repo_url,
        derive=lambda r: r.git_remote_url(),
        example="git@github.com:acme/secure-config.git",
    ),
    F(
        "pipeline.secure_repo_version",
        "Secure repo branch",
        "Branch Jenkins checks out.",
        git_ref,
        default="main",
    ),
    # ansible
    F(
        "ansible.configuration_dir",
        "edx/configuration checkout",
        "Path of the edx/configuration checkout whose playbooks/ the playbooks come from.",
        relative_or_home_path,
        default="~/configuration",
    ),
    F(
        "ansible.ansible_playbook",
        "ansible-playbook",
        "The configuration virtualenv's ansible-playbook; found (edx-configuration venv) when empty.",
        relative_or_home_path,
        required=False,
    ),
    F(
        "ansible.services_playbook",
        "Services playbook",
        "Insights and the API: a playbook in the checkout's playbooks/, or a path.",
        relative_or_home_path,
        default="analytics_single.yml",
    ),
    F(
        "ansible.jenkins_playbook",
        "Jenkins playbook",
        "The Jenkins scheduler, run with --skip-tags jenkins-seed-job; in playbooks/ or a path.",
        relative_or_home_path,
        default="analytics-jenkins.yml",
    ),
    F(
        "ansible.ssh_user",
        "SSH user",
        "User ansible logs in as on the analytics instances.",
        text,
        default="ubuntu",
    ),
    F(
        "ansible.ssh_port",
        "SSH port",
        "SSH port of the analytics instances.",
        port,
        default=22,
        kind="int",
    ),
    F(
        "ansible.private_key",
        "Analytics key file",
        "Key of the analytics instances, relative to the secure repo.",
        relative_or_home_path,
        default="analytics.pem",
    ),
    F(
        "ansible.known_hosts",
        "Analytics known_hosts",
        "known_hosts that ansible checks the analytics instances' host keys against (always).",
        relative_or_home_path,
        default="~/.ssh/known_hosts",
    ),
    F(
        "ansible.extra_vars_files",
        "Extra vars files",
        "More -e @file for the playbooks, e.g. the edxapp vars.yml; comma separated.",
        relative_or_home_path,
        kind="list",
        required=False,
    ),
    F(
        "ansible.start_at_task",
        "Start at task",
        "The next run starts at this task (e.g. the one that failed); 'beginning' runs it all "
        "again. Cleared once that run starts.",
        text,
        required=False,
    ),
    # director
    F(
        "director.host",
        "Director host",
        "Public host of the director; empty when running on it.",
        hostname,
        required=False,
    ),
    F(
        "director.port",
        "Director SSH port",
        "SSH port of the director.",
        port,
        default=22,
        kind="int",
    ),
    F("director.user", "Director user", "SSH user on the director.", text, default="ubuntu"),
    F(
        "director.key_file",
        "Director key",
        "SSH key for the director.",
        relative_or_home_path,
        default="~/.ssh/director.pem",
    ),
    F(
        "director.known_hosts",
        "Known hosts",
        "known_hosts file used to verify host keys.",
        relative_or_home_path,
        default="~/.ssh/known_hosts",
    ),
    # jenkins
    F(
        "jenkins.port",
        "Jenkins port",
        "Where Jenkins listens on the analytics host.",
        port,
        default=8080,
        kind="int",
    ),
    F(
        "jenkins.local_port",
        "Local Jenkins port",
        "Local end of the Jenkins tunnel.",
        port,
        default=8080,
        kind="int",
    ),
    F(
        "jenkins.version",
        "Jenkins version",
        "The Jenkins release analytics-jenkins.yml installs (JENKINS_VERSION).",
        jenkins_version,
        default="1.651.3",
    ),
    F(
        "jenkins.home",
        "Jenkins home",
        "Home of the Jenkins user on the analytics host; jenkins_env and the EMR files go there.",
        absolute_path,
        default="/home/jenkins",
    ),
    F(
        "jenkins.user",
        "Jenkins user",
        "The Unix user Jenkins runs as on the analytics host.",
        unix_user,
        default="jenkins",
    ),
    F(
        "jenkins.server_name",
        "Jenkins server name",
        "Host name of Jenkins' nginx site (jenkins_server_name); it must not answer publicly.",
        hostname,
        derive=_jenkins_server_name,
        example="jenkins.example.com",
    ),
    F(
        "jenkins.nginx_port",
        "Jenkins nginx port",
        "Port of Jenkins' nginx site (jenkins_nginx_port); never Insights' 80 or 443.",
        port,
        default=8081,
        kind="int",
    ),
    F(
        "jenkins.executors",
        "Jenkins executors",
        "How many pipeline jobs may run at once (each on its own EMR cluster).",
        integer(1, 20),
        default=3,
        kind="int",
    ),
    F(
        "jenkins.admin_email",
        "Jenkins admin e-mail",
        "Sender of Jenkins' failure e-mails; must be allowed by the analytics host's SMTP relay.",
        email,
        derive=lambda r: r.get("edxapp.contact_email"),
    ),
    F(
        "jenkins.ssh_credential_id",
        "Jenkins SSH credential",
        "Id of the Jenkins credential that logs in to the EMR clusters (hadoop user).",
        jenkins_id,
        default="ssh-access-key",
    ),
    F(
        "jenkins.student_engagement_daily",
        "Daily student engagement job",
        "Add the job that writes daily Student Engagement CSV reports.",
        boolean,
        default=False,
        kind="bool",
    ),
    F(
        "jenkins.student_engagement_weekly",
        "Weekly student engagement job",
        "Add the job that writes weekly Student Engagement CSV reports.",
        boolean,
        default=False,
        kind="bool",
    ),
    F(
        "jenkins.problem_response_reports",
        "Problem response reports job",
        "Add the job that writes problem response reports (needs the API reports bucket).",
        boolean,
        default=False,
        kind="bool",
    ),
)
del F

BY_KEY: dict[str, Field] = {f.key: f for f in FIELDS}
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(f.group for f in FIELDS))

GROUP_TITLES: dict[str, str] = {
    "client": "Client",
    "aws": "AWS",
    "edxapp": "Existing Open edX (edxapp)",
    "terraform": "Terraform",
    "infrastructure": "Infrastructure (terraform outputs)",
    "database": "Analytics database",
    "insights": "Insights",
    "analytics_api": "Analytics API",
    "pipeline": "Pipeline (EMR, Jenkins jobs)",
    "ansible": "Ansible",
    "director": "Director host",
    "jenkins": "Jenkins",
}


def lookup(key: str) -> Field:
    """The field declared for ``key``; KeyError names the unknown key."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown answer key {key!r}") from None
