"""The ``prereqs`` step: everything the runbook assumes before anything is created.

Each check has a stable id (SPEC §4.1) and answers pass / warn / fail with a short finding and
the fix. They run at the same time in a thread pool, so the step takes as long as its slowest
check. The plan carries the results; applying records them in the ledger and fails while a check
fails, unless the operator overrode that check (decision ``override:<id>`` = ``yes``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .. import mysql, webprobe, yamlio
from ..aws import Aws, AwsError, Target
from ..context import QUIET, RunContext
from ..errors import WizardError
from ..fields import BY_KEY, FieldError
from .base import CHECKS as CHECKS_VIEW
from .base import FAIL, OVERRIDE, PASS, WARN, Check, Plan, Step, StepError, checks_failure

if TYPE_CHECKING:
    from ..engine import Session

NAME = "prereqs"
ADMIN_POLICY = ":iam::aws:policy/AdministratorAccess"  # any partition (aws, aws-cn, aws-us-gov)
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
TRACKING_PREFIX = "logs/tracking/"
TRACKING_LOG = re.compile(r"(?:^|/)tracking\.log-(\d{8})-(\d+)\.gz$")
EMR_ROLES = ("EMR_DefaultRole", "EMR_EC2_DefaultRole")
EMR_GROUPS = ("ElasticMapReduce-master", "ElasticMapReduce-slave")
TOOL_TIMEOUT = 30

INPUTS: tuple[str, ...] = (
    "aws.profile",
    "aws.region",
    "aws.endpoint_url",
    "edxapp.tracking_logs_bucket",
    "edxapp.db_host",
    "edxapp.db_port",
    "edxapp.admin_user",
    "edxapp.admin_password",
    "edxapp.lms_url",
    "edxapp.lms_config_file",
    "edxapp.oauth2_provider_confirmed",
    "ansible.configuration_dir",
    "ansible.private_key",
    "director.key_file",
    "database.tunnel",
)


class Missing(Exception):
    """A check cannot run: an answer it needs is not given."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class NotChecked(Exception):
    """A check cannot run because another one failed first (e.g. the AWS credentials)."""


# --- context shared by the checks of one run --------------------------------------------------


class Context:
    """The answers, the AWS session and the caller's identity, shared by the check threads."""

    def __init__(self, session: Session, values: Mapping[str, Any], decisions: Mapping[str, str]):
        self.session = session
        self.values = values
        self.decisions = decisions
        self._lock = threading.Lock()  # the AWS session
        self._asking = threading.Lock()  # the caller's identity
        self._aws: Aws | None = None
        self._identity: dict[str, Any] | AwsError | None = None
        self._asker: threading.Thread | None = None

    def need(self, key: str) -> Any:
        value = self.values.get(key)
        if value in (None, ""):
            raise Missing(key)
        return value

    def path(self, key: str) -> Path:
        """An answer that names a file: ``~`` expanded, relative to the secure repo."""
        path = Path(str(self.need(key))).expanduser()
        return path if path.is_absolute() else self.session.repo / path

    def aws(self) -> Aws:
        with self._lock:
            if self._aws is None:
                self.need("aws.region")
                self._aws = self.session.backends.aws(Target.from_values(self.values))
            return self._aws

    def identity(self) -> dict[str, Any]:
        """``sts get_caller_identity``, asked once per run (failures too)."""
        aws = self.aws()
        with self._asking:
            if self._identity is None:
                try:
                    self._identity = aws.call("sts", "get_caller_identity")
                except AwsError as exc:
                    self._identity = exc
            found = self._identity
        if isinstance(found, AwsError):
            raise found
        return found

    def ask_identity_soon(self) -> None:
        """Start asking for the caller's identity in the background (once per run)."""
        with self._lock:
            if self._asker is not None:
                return
            self._asker = threading.Thread(
                target=self._ask_quietly, name="prereq-identity", daemon=True
            )
        self._asker.start()

    def settle(self) -> None:
        """Wait for the identity asked in the background (a check that stopped early, for a
        missing answer, did not wait for it): nothing of the run goes on after it."""
        if self._asker is not None:
            self._asker.join()

    def _ask_quietly(self) -> None:
        with suppress(Exception):  # kept for credentials_work, or asked again there
            self.identity()

    def credentials_work(self) -> None:
        """Raises :class:`NotChecked` when the credentials do not work (see aws.credentials)."""
        try:
            self.identity()
        except AwsError:
            raise NotChecked("the AWS credentials do not work (see aws.credentials)") from None


T = TypeVar("T")


def at_once(*calls: Callable[[], T]) -> list[T]:
    """Each call in a thread of its own (AWS round trips that do not depend on each other);
    their results in order. The first call's failure, in that order, is raised."""
    if not calls:
        return []
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="prereq-call") as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


def of_the_account(check: Callable[[Context], Check]) -> Callable[[Context], Check]:
    """A check of the AWS account. Its calls go out at once, beside the credentials check's
    ``sts`` call rather than after it; when the credentials do not work it is not checked,
    whatever its own calls said."""

    @functools.wraps(check)
    def run(ctx: Context) -> Check:
        ctx.need("aws.profile")
        ctx.ask_identity_soon()
        try:
            result = check(ctx)
        except AwsError:
            ctx.credentials_work()
            raise
        ctx.credentials_work()
        return result

    return run


# --- the checks -------------------------------------------------------------------------------


def check_credentials(ctx: Context) -> Check:
    ctx.need("aws.profile")
    who = ctx.identity()
    return Check("aws.credentials", PASS, f"account {who['Account']} as {who['Arn']}")


def _attached(aws: Aws, operation: str, **kwargs: Any) -> list[str]:
    return [
        str(policy["PolicyArn"])
        for page in aws.pages("iam", operation, **kwargs)
        for policy in page.get("AttachedPolicies", [])
    ]


def _is_admin(arns: list[str]) -> bool:
    return any(arn.endswith(ADMIN_POLICY) for arn in arns)


@of_the_account
def check_admin(ctx: Context) -> Check:
    aws = ctx.aws()
    arn = str(ctx.identity()["Arn"])
    cid = "aws.admin"
    if arn.endswith(":root"):
        return Check(
            cid,
            WARN,
            "running as the account's root user (it has every permission)",
            "AWS advises against using the root user: use an IAM user or role with "
            "AdministratorAccess",
        )
    if ":user/" in arn:
        user = arn.split(":user/", 1)[1].rsplit("/", 1)[-1]
        attached, groups = at_once(
            lambda: _attached(aws, "list_attached_user_policies", UserName=user),
            lambda: [
                str(g["GroupName"])
                for page in aws.pages("iam", "list_groups_for_user", UserName=user)
                for g in page.get("Groups", [])
            ],
        )
        if _is_admin(attached):
            return Check(cid, PASS, f"AdministratorAccess is attached to user {user}")
        through = at_once(
            *(
                functools.partial(_attached, aws, "list_attached_group_policies", GroupName=group)
                for group in groups
            )
        )
        for group, policies in zip(groups, through, strict=True):
            if _is_admin(policies):
                return Check(
                    cid, PASS, f"user {user} has AdministratorAccess through group {group}"
                )
        where = (
            f" nor to its groups ({', '.join(groups)})" if groups else " (and it is in no group)"
        )
        return Check(
            cid,
            FAIL,
            f"user {user} lacks AdministratorAccess: not attached to the user{where}",
            f"aws iam attach-user-policy --user-name {user} --policy-arn {ADMIN_POLICY_ARN}",
        )
    if ":assumed-role/" in arn:
        role = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
        if _is_admin(_attached(aws, "list_attached_role_policies", RoleName=role)):
            return Check(cid, PASS, f"AdministratorAccess through the assumed role {role}")
        return Check(
            cid,
            FAIL,
            f"the assumed role {role} lacks AdministratorAccess",
            f"aws iam attach-role-policy --role-name {role} --policy-arn {ADMIN_POLICY_ARN}, "
            "or use a profile whose role has it",
        )
    return Check(
        cid,
        WARN,
        f"cannot tell the permissions of {arn} (not an IAM user, an assumed role or root)",
        "make sure it has AdministratorAccess, or use an IAM user or role profile",
    )


@of_the_account
def check_tracking_logs(ctx: Context) -> Check:
    bucket = ctx.need("edxapp.tracking_logs_bucket")
    aws = ctx.aws()
    cid = "aws.tracking_logs"
    newest: tuple[str, int] | None = None
    logs = others = 0
    try:
        for page in aws.pages("s3", "list_objects_v2", Bucket=bucket, Prefix=TRACKING_PREFIX):
            for item in page.get("Contents", []):
                match = TRACKING_LOG.search(str(item["Key"]))
                if not match or not _is_date(match[1]):
                    others += 1
                    continue
                logs += 1
                found = (match[1], int(match[2]))
                if newest is None or found > newest:
                    newest = found
    except AwsError as exc:
        if exc.code in ("404", "NoSuchBucket", "NotFound"):
            return Check(
                cid,
                FAIL,
                f"the tracking logs bucket {bucket} does not exist",
                "set edxapp.tracking_logs_bucket to the bucket the LMS rotates its tracking "
                "logs into",
            )
        raise
    if newest is None:
        extra = f" ({others} other object(s) there)" if others else ""
        return Check(
            cid,
            WARN,
            f"s3://{bucket}/{TRACKING_PREFIX} holds no tracking.log-YYYYMMDD-<epoch>.gz{extra}",
            "check that the LMS's log rotation uploads to that prefix; the pipeline has nothing "
            "to process until it does",
        )
    day = newest[0]
    return Check(
        cid,
        PASS,
        f"{logs} tracking log(s) in s3://{bucket}; newest: {day[:4]}-{day[4:6]}-{day[6:]}",
    )


def _is_date(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return False
    return True


@contextmanager
def _edxapp_route(ctx: Context, server: mysql.Server) -> Iterator[tuple[str, int] | None]:
    """Directly, or through ``database.tunnel`` as the database step goes."""
    tunnel = ctx.values.get("database.tunnel")
    if not tunnel:
        yield None
        return
    from .. import ssh

    accepted = ssh.accepted_host_keys(ctx.decisions)
    jump = ssh.JumpHost.from_answer(tunnel)
    with ctx.session.backends.tunnel(jump, accept=accepted, record=ctx.session.write) as opened:
        yield opened.forward(server.host, server.port)


def check_edxapp_database(ctx: Context) -> Check:
    host, port = ctx.need("edxapp.db_host"), int(ctx.need("edxapp.db_port"))
    user, password = ctx.need("edxapp.admin_user"), ctx.need("edxapp.admin_password")
    server = mysql.Server(host, port, f"the edxapp DB server {host}:{port}")
    with _edxapp_route(ctx, server) as via, mysql.session(server, user, password, via=via) as conn:
        rows = mysql.query(
            conn,
            server,
            user,
            password,
            "SELECT VERSION(), (SELECT COUNT(*) FROM information_schema.SCHEMATA "
            "WHERE SCHEMA_NAME = 'edxapp')",
        )
    version, found = rows[0]
    if not found:
        return Check(
            "edxapp.database",
            FAIL,
            f"{server.label} has no edxapp database (logged in as {user!r})",
            "check edxapp.db_host and edxapp.db_port point at the edxapp MySQL, and that the "
            "user can see the edxapp database",
        )
    return Check(
        "edxapp.database",
        PASS,
        f"edxapp database on {host}:{port} (server {version}), logged in as {user!r}",
    )


OAUTH_FIX = (
    "set FEATURES: ENABLE_OAUTH2_PROVIDER: true in lms.yml (lms.env.json before Ironwood) and "
    "restart the LMS"
)


def _lms_feature(path: Path) -> Any:
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
    else:
        data = yamlio.load(path)
    features = data.get("FEATURES") if isinstance(data, Mapping) else None
    return features.get("ENABLE_OAUTH2_PROVIDER") if isinstance(features, Mapping) else None


def http_status(url: str) -> int:
    """The HTTP status ``url`` answers with (redirects are not followed); OSError if none."""
    return webprobe.fetch(url, proxies=True).status


def check_oauth2_provider(ctx: Context) -> Check:
    cid = "edxapp.oauth2_provider"
    if ctx.values.get("edxapp.lms_config_file"):
        path = ctx.path("edxapp.lms_config_file")
        try:
            value = _lms_feature(path)
        except (OSError, ValueError, yamlio.YamlFileError) as exc:
            reason = "no such file" if isinstance(exc, FileNotFoundError) else str(exc)
            return Check(
                cid,
                FAIL,
                f"cannot read {path}: {reason}",
                "correct edxapp.lms_config_file, or leave it empty to check the LMS URL instead",
            )
        if value is True:
            return Check(cid, PASS, f"FEATURES.ENABLE_OAUTH2_PROVIDER is true in {path.name}")
        return Check(
            cid, FAIL, f"FEATURES.ENABLE_OAUTH2_PROVIDER is {value!r} in {path.name}", OAUTH_FIX
        )
    why = "no LMS URL to try"
    url = ctx.values.get("edxapp.lms_url")
    if url:
        target = str(url).rstrip("/") + "/oauth2/"
        try:
            status = http_status(target)
        except OSError as exc:
            why = f"{target} did not answer ({exc})"
        else:
            if status == 404:
                return Check(
                    cid, FAIL, f"{target} answers 404: the LMS's OAuth2 provider is off", OAUTH_FIX
                )
            return Check(cid, PASS, f"{target} answers HTTP {status} (not 404)")
    if ctx.values.get("edxapp.oauth2_provider_confirmed"):
        return Check(cid, PASS, f"confirmed by the operator ({why})")
    return Check(
        cid,
        FAIL,
        f"cannot check ENABLE_OAUTH2_PROVIDER: {why}",
        "give edxapp.lms_config_file (a copy of lms.yml), or check it on the LMS and set "
        "edxapp.oauth2_provider_confirmed: true",
    )


_VERSION = re.compile(r"v?(\d+\.\d+(?:\.\d+)?(?:p\d+)?)")
TOOLS: dict[str, list[str]] = {
    "terraform": ["version"],
    "git": ["--version"],
    "ssh": ["-V"],
}


# terraform would otherwise ask HashiCorp's checkpoint service whether it is out of date (a
# network round trip whose answer goes after the first line, the only one read, and a
# ~/.terraform.d left behind), and collect garbage while it starts (a fifth of its CPU;
# printing its version allocates next to nothing).
_QUIET_GO = {"CHECKPOINT_DISABLE": "1", "GOGC": "off"}


class VersionProbe:
    """``name``'s version command, started at once; :meth:`result` waits for what it prints."""

    NO_OUTPUT = "found (its version did not print)"

    def __init__(self, name: str):
        self.found = shutil.which(name)
        self.process: subprocess.Popen[str] | None = None
        self.deadline = time.monotonic() + TOOL_TIMEOUT
        if self.found is None:
            return
        env = {**os.environ, **_QUIET_GO} if name == "terraform" else None
        try:
            self.process = subprocess.Popen(
                [self.found, *TOOLS[name]],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        except OSError:
            self.process = None

    def result(self) -> str | None:
        """The version (or "found" when it prints none); None when ``name`` is not on PATH."""
        if self.found is None:
            return None
        if self.process is None:
            return self.NO_OUTPUT
        try:
            out, err = self.process.communicate(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            return self.NO_OUTPUT
        first = (out.strip() or err.strip()).splitlines()[:1]
        match = _VERSION.search(first[0]) if first else None
        return match[1] if match else "found"

    def stop(self) -> None:
        """End the command if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def tool_version(name: str) -> str | None:
    """``name``'s version (or "found" when it prints none); None when it is not on PATH."""
    return VersionProbe(name).result()


def playbooks_ansible(ctx: Context) -> str | None:
    """The ansible-playbook the playbooks step will use, with its version; None if none."""
    from ..ansible import AnsibleError, find_ansible_playbook

    answer = ctx.session.resolved.get("ansible.ansible_playbook")
    chosen = Path(str(answer)).expanduser() if answer else None
    if chosen is not None and not chosen.is_absolute():
        chosen = ctx.session.repo / chosen
    try:
        found = find_ansible_playbook(chosen, ctx.path("ansible.configuration_dir"))
    except (AnsibleError, Missing):
        return None
    return f"ansible-playbook {found.path} ({found.version})"


#: How to install each tool the ``tools`` check looks for; its fix names only those missing.
INSTALL = {
    "terraform": "install terraform (developer.hashicorp.com/terraform/install)",
    "git": "install git (apt-get install git)",
    "ssh": "install ssh (apt-get install openssh-client)",
    "ansible-playbook": "clone edx/configuration with its virtualenv (pip install -r "
    "requirements.txt) at ansible.configuration_dir",
}


def check_tools(ctx: Context) -> Check:
    # The version commands run side by side while this thread looks for ansible-playbook.
    probes = {name: VersionProbe(name) for name in TOOLS}
    try:
        which = playbooks_ansible(ctx)
        versions = {name: probe.result() for name, probe in probes.items()}
    finally:
        for probe in probes.values():
            probe.stop()
    found = [f"{name} {version}" for name, version in versions.items() if version]
    missing = [name for name in ("terraform", "git", "ssh") if not versions[name]]
    if which:
        found.append(which)
    else:
        checkout = ctx.path("ansible.configuration_dir")
        playbook = checkout / "playbooks" / "analytics_single.yml"
        if playbook.is_file():
            found.append(f"configuration checkout {checkout} (analytics_single.yml)")
        else:
            missing.append(f"ansible-playbook (nor {playbook})")
    if missing:
        return Check(
            "tools",
            FAIL,
            f"not found on PATH: {', '.join(missing)}"
            + (f"; found {', '.join(found)}" if found else ""),
            "; ".join(INSTALL[name.split(" ", 1)[0]] for name in missing),
        )
    return Check("tools", PASS, ", ".join(found))


def key_fingerprint(path: Path) -> str:
    """OpenSSH's SHA256 fingerprint of a key file (StepError when ssh-keygen cannot read it)."""
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        raise StepError("ssh-keygen is not on PATH; install openssh-client")
    try:
        result = subprocess.run(
            [keygen, "-l", "-E", "sha256", "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # never prompt on the terminal for a passphrase
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StepError(f"ssh-keygen could not read {path} ({exc})") from None
    match = re.search(r"SHA256:[A-Za-z0-9+/]+", result.stdout)
    if result.returncode != 0 or not match:
        raise StepError(f"{path} is not a key ssh-keygen can read; use an OpenSSH private key")
    return match[0]


def check_ssh_keys(ctx: Context) -> Check:
    cid = "ssh.keys"
    key = ctx.path("ansible.private_key")
    if not key.is_file():
        return Check(
            cid,
            FAIL,
            f"the analytics key {key} does not exist",
            "put the private key of the analytics instances' key pair there (chmod 600 it)",
        )
    mode = stat.S_IMODE(key.stat().st_mode)
    if mode & 0o077:
        return Check(
            cid,
            FAIL,
            f"the analytics key {key} is mode {mode:o} (others can read it; ssh refuses it)",
            f"chmod 600 {key}",
        )
    mine = key_fingerprint(key)
    director = ctx.path("director.key_file")
    if not director.is_file():
        return Check(
            cid,
            WARN,
            f"analytics key {mine} (mode {mode:o}); the director key {director} is not here, so "
            "the two could not be compared",
            "set director.key_file to the director's key to compare them",
        )
    theirs = key_fingerprint(director)
    if theirs == mine:
        return Check(
            cid,
            FAIL,
            f"the analytics key and the director key are the same key ({mine})",
            "create a separate key pair for the analytics instances (each instance set has its "
            "own) and point terraform.key_pair_name and ansible.private_key at it",
        )
    return Check(
        cid, PASS, f"analytics key {mine} (mode {mode:o}), not the director's key ({theirs})"
    )


def _role_exists(aws: Aws, role: str) -> bool:
    try:
        aws.call("iam", "get_role", RoleName=role)
    except AwsError as exc:
        if exc.code == "NoSuchEntity":
            return False
        raise
    return True


@of_the_account
def check_collisions(ctx: Context) -> Check:
    aws = ctx.aws()
    *roles, groups = at_once(
        *(functools.partial(_role_exists, aws, role) for role in EMR_ROLES),
        lambda: aws.call(
            "ec2",
            "describe_security_groups",
            Filters=[{"Name": "group-name", "Values": list(EMR_GROUPS)}],
        ).get("SecurityGroups", []),
    )
    existing = [f"role {role}" for role, exists in zip(EMR_ROLES, roles, strict=True) if exists]
    existing += [f"security group {g['GroupName']} ({g['GroupId']})" for g in groups]
    if existing:
        return Check(
            "aws.collisions",
            WARN,
            f"already in the account: {', '.join(existing)}; terraform would try to create them",
            "import them into the terraform state (terraform import …), or delete them when "
            "nothing uses them (aws iam delete-role / aws ec2 delete-security-group)",
        )
    return Check(
        "aws.collisions",
        PASS,
        f"none of {', '.join(EMR_ROLES)}, {', '.join(EMR_GROUPS)} exists yet",
    )


@of_the_account
def check_vpc(ctx: Context) -> Check:
    aws = ctx.aws()
    region = aws.target.region
    vpcs = aws.call(
        "ec2", "describe_vpcs", Filters=[{"Name": "isDefault", "Values": ["true"]}]
    ).get("Vpcs", [])
    if not vpcs:
        return Check(
            "aws.vpc",
            FAIL,
            f"no default VPC in {region} (EMR runs in it)",
            f"create one: aws ec2 create-default-vpc --region {region}",
        )
    vpc = str(vpcs[0]["VpcId"])
    hostnames, gateways = at_once(
        lambda: aws.call(
            "ec2", "describe_vpc_attribute", VpcId=vpc, Attribute="enableDnsHostnames"
        ),
        lambda: aws.call(
            "ec2",
            "describe_internet_gateways",
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}],
        ).get("InternetGateways", []),
    )
    problems, fixes = [], []
    if not hostnames.get("EnableDnsHostnames", {}).get("Value"):
        problems.append("DNS hostnames are off")
        fixes.append(
            f"aws ec2 modify-vpc-attribute --region {region} --vpc-id {vpc} --enable-dns-hostnames"
        )
    if not gateways:
        problems.append("it has no internet gateway")
        fixes.append(
            f"aws ec2 create-internet-gateway --region {region}, then aws ec2 "
            f"attach-internet-gateway --region {region} --vpc-id {vpc} "
            "--internet-gateway-id <the new igw id>"
        )
    if problems:
        return Check(
            "aws.vpc", FAIL, f"default VPC {vpc}: {' and '.join(problems)}", "; ".join(fixes)
        )
    gateway = gateways[0]["InternetGatewayId"]
    return Check(
        "aws.vpc", PASS, f"default VPC {vpc}: DNS hostnames on, internet gateway {gateway}"
    )


CHECKS: dict[str, Callable[[Context], Check]] = {
    "aws.credentials": check_credentials,
    "aws.admin": check_admin,
    "aws.tracking_logs": check_tracking_logs,
    "edxapp.database": check_edxapp_database,
    "edxapp.oauth2_provider": check_oauth2_provider,
    "tools": check_tools,
    "ssh.keys": check_ssh_keys,
    "aws.collisions": check_collisions,
    "aws.vpc": check_vpc,
}
IDS = tuple(CHECKS)
#: The order the checks start in: those that wait on AWS (the longest chains of requests: the
#: VPC's, the caller's policies) and on the version commands first. Starting a thread needs the
#: interpreter lock the running checks hold, so the last started can wait tens of milliseconds.
START_ORDER = (
    "aws.credentials",
    "aws.vpc",
    "aws.admin",
    "tools",
    "aws.collisions",
    "aws.tracking_logs",
    "ssh.keys",
    "edxapp.oauth2_provider",
    "edxapp.database",
)
_AWS = ("aws.profile", "aws.region", "aws.endpoint_url")
#: The answers each check reads: an override stands while they are unchanged.
CHECK_INPUTS: dict[str, tuple[str, ...]] = {
    "aws.credentials": _AWS,
    "aws.admin": _AWS,
    "aws.tracking_logs": (*_AWS, "edxapp.tracking_logs_bucket"),
    "edxapp.database": (
        "edxapp.db_host",
        "edxapp.db_port",
        "edxapp.admin_user",
        "edxapp.admin_password",
        "database.tunnel",
    ),
    "edxapp.oauth2_provider": (
        "edxapp.lms_url",
        "edxapp.lms_config_file",
        "edxapp.oauth2_provider_confirmed",
    ),
    "tools": ("ansible.configuration_dir",),
    "ssh.keys": ("ansible.private_key", "director.key_file"),
    "aws.collisions": _AWS,
    "aws.vpc": _AWS,
}


def run_one(ctx: Context, cid: str) -> Check:
    """One check; whatever goes wrong becomes its verdict, never an exception."""
    try:
        result = CHECKS[cid](ctx)
    except Missing as exc:
        f = BY_KEY[exc.key]
        result = Check(
            cid, FAIL, f"not checked: no answer for {exc.key}", f"answer {exc.key} ({f.help})"
        )
    except NotChecked as exc:
        result = Check(cid, WARN, f"not checked: {exc}", "fix that check first")
    except AwsError as exc:
        result = Check(cid, FAIL, exc.message, exc.fix)
    except WizardError as exc:  # mysql, ssh: what went wrong, and what to do
        finding, _, fix = exc.message.partition("; ")
        result = Check(cid, FAIL, finding, exc.fix or fix)
    except Exception as exc:  # a check must not take the others down
        result = Check(
            cid,
            FAIL,
            f"the check itself failed ({type(exc).__name__}: {exc})",
            "run again with ANALYTICS_WIZARD_DEBUG=1 and report it",
        )
    redact = ctx.session.redact
    overridden = result.verdict == FAIL and ctx.decisions.get(OVERRIDE + cid) == "yes"
    return Check(cid, result.verdict, redact(result.finding), redact(result.fix), overridden)


# --- the step interface -----------------------------------------------------------------------


def values(session: Session) -> dict[str, Any]:
    """Every input that has a value; one that cannot be derived counts as not given."""
    found: dict[str, Any] = {}
    for key in INPUTS:
        try:
            found[key] = session.resolved.get(key)
        except (FieldError, ValueError):
            found[key] = None
    return found


def run_checks(
    session: Session,
    decisions: Mapping[str, str] | None = None,
    *,
    only: tuple[str, ...] = IDS,
    ctx: RunContext = QUIET,
) -> list[Check]:
    """Run the checks ``only`` at the same time; results in :data:`IDS` order.

    Each result is also sent as a ``check`` event (from the worker threads) as it arrives.
    """
    shared = Context(session, values(session), decisions or {})
    results: dict[str, Check] = {}
    with ThreadPoolExecutor(max_workers=len(only), thread_name_prefix="prereq") as pool:
        futures = {
            pool.submit(run_one, shared, cid): cid for cid in sorted(only, key=START_ORDER.index)
        }
        for future in as_completed(futures):
            result = future.result()
            results[result.id] = result
            ctx.event("check", check=result)
    shared.settle()
    return [results[cid] for cid in IDS if cid in results]


def outputs(checks: list[Check]) -> dict[str, Any]:
    return {
        "checks": [c.to_json() for c in checks],
        "overrides": [c.id for c in checks if c.overridden],
    }


class PrereqsStep(Step):
    name = NAME
    inputs = INPUTS
    verb = "Continue"
    preview_label = "Run checks"
    view = CHECKS_VIEW
    checks = IDS
    check_noun = "prerequisite check"
    overridable = True
    check_inputs = CHECK_INPUTS

    def plan(
        self, session: Session, decisions: Mapping[str, str], force: bool, ctx: RunContext
    ) -> Plan:
        """Run every check; the plan carries the results (nothing is changed by this step)."""
        checks = run_checks(session, decisions, ctx=ctx)
        result = Plan(step=NAME, inputs=values(session), checks=checks, decisions=dict(decisions))
        result.notes += [
            f"{c.id}: failing, overridden by the operator ({c.finding})"
            for c in checks
            if c.overridden
        ]
        result.outputs = outputs(checks)
        return result

    def recheck(
        self, session: Session, plan: Plan, cid: str, decisions: Mapping[str, str], ctx: RunContext
    ) -> Check:
        """Run one check again and put its new result into ``plan``."""
        if cid not in CHECKS:
            raise StepError(f"unknown check {cid!r}; checks are: {', '.join(IDS)}")
        (result,) = run_checks(session, decisions, only=(cid,), ctx=ctx)
        plan.checks = [result if c.id == cid else c for c in plan.checks]
        plan.outputs = outputs(plan.checks)
        return result

    def apply(self, session: Session, plan: Plan, ctx: RunContext) -> dict[str, Any]:
        """Record the results; fail while a check fails that the operator did not override."""
        for c in plan.checks:
            mark = " (overridden)" if c.overridden else ""
            session.log.write(f"{NAME}: {c.id}: {c.verdict}{mark}: {c.finding}")
        problem = self.blocking(plan)
        if problem:
            raise StepError(problem)
        return outputs(plan.checks)

    def probe(self, session: Session) -> str | None:
        """Local: the recorded checks stand while the answers they ran on are unchanged (the
        engine compares them); running them again is :meth:`verify_outside`'s (``status --verify``)."""
        return None

    def verify_outside(self, session: Session) -> str | None:
        """No check fails now that was not overridden when the step ran."""
        record = session.ledger.steps.get(NAME)
        overrides = record.outputs.get("overrides", []) if record else []
        decisions = {OVERRIDE + cid: "yes" for cid in overrides}
        problem = checks_failure(run_checks(session, decisions))
        return problem

    def question(self, plan: Plan) -> str:
        return "Record the checks in the ledger and continue?"

    def outcome(self, plan: Plan, outputs: Mapping[str, Any]) -> str:
        return "checks recorded"


STEP = PrereqsStep()
