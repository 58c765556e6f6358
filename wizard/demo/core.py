"""Demo mode: every outside system a deployment needs, stood up on 127.0.0.1 for one demo repo.

``start(DIR)`` starts the stand-ins as processes of their own (MariaDB, a second sshd, and one
process for moto, Jenkins, Insights and the Analytics API), records their pids in
``DIR/.demo/pids.json``, seeds the moto account as a prepared AWS account would be, and writes
the demo answers file. ``stop(DIR)`` stops exactly those pids; the stand-ins then save what they
hold (:mod:`wizard.demo.saved`) and the next ``start(DIR)`` resumes. Everything the demo keeps is
under ``DIR``: the secure repo is ``DIR`` itself and the stand-ins' state ``DIR/.demo/`` (0700,
ignored by git). The repo is marked (``.demo/demo.json``) with the one endpoint its AWS calls may
reach; :func:`refuse_demo_repo` keeps ``run`` and the wizard off it outside demo mode.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import yamlio
from ..errors import StateError, UsageError, WizardError
from ..fsutil import atomic_write
from .standins import RESUME_FAILED

STATE = ".demo"
MARK = "demo.json"
PIDS = "pids.json"
ANSWERS = "answers.yml"
PROFILE = "demo"
CLIENT = "acme"
LMS_HOST = "lms.example.com"
ZONE = "example.com"
TRACKING_BUCKET = "acme-tracking-logs"
KEY_PAIR = "acme-analytics"
ANALYTICS_HOST = "127.0.0.1"  # the loopback "analytics instance" (the demo sshd)
PUBLIC_ADDRESS = "127.0.0.2"  # where "outside" probes go: nothing of the demo listens there
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_DIR = "demo-secure-config"
ELASTICSEARCH = "search-acme-analytics-demo.us-east-1.es.amazonaws.com"  # never reached


class DemoError(WizardError):
    """A stand-in could not be started or stopped."""


@dataclass(frozen=True)
class Demo:
    """A running demo: its directory, the answers file and where the stand-ins listen."""

    directory: Path
    answers: Path
    endpoint_url: str
    env: dict[str, str]

    @property
    def state(self) -> Path:
        return self.directory / STATE


# --- the mark -------------------------------------------------------------------------------


def state_dir(directory: Path) -> Path:
    return directory / STATE


def is_demo_repo(directory: Path) -> bool:
    """Whether ``directory`` is a secure repo made by ``analytics-wizard demo``."""
    return (directory / STATE / MARK).is_file()


def is_loopback_url(url: str | None) -> bool:
    """Whether ``url`` is an http(s) URL on this machine's loopback."""
    if not url:
        return False
    parts = urlsplit(str(url))
    return parts.scheme in ("http", "https") and (parts.hostname or "") in LOOPBACK_HOSTS


def refuse_demo_repo(directory: Path) -> None:
    """Outside demo mode: a demo repo is named as what it is (UsageError)."""
    if is_demo_repo(directory):
        raise UsageError(
            f"{directory} is a demo secure repo: its answers point at local stand-ins "
            "(made by 'analytics-wizard demo')",
            f"open it with 'analytics-wizard demo {directory}' (or --headless), or give the "
            "client's real secure repo",
        )


def check_endpoint(directory: Path, endpoint_url: str | None) -> None:
    """A demo repo's AWS calls go to its own local endpoint and nowhere else."""
    pinned = _read_json(directory / STATE / MARK).get("endpoint_url")
    if not is_loopback_url(endpoint_url) or endpoint_url != pinned:
        raise UsageError(
            f"the demo repo {directory} would reach AWS at {endpoint_url or 'real AWS'}, not "
            f"its local stand-in {pinned}; a demo never reaches real AWS",
            f"set aws.endpoint_url back to {pinned}, or start over with "
            f"'analytics-wizard demo --reset {directory}'",
        )


def pinned_backends(directory: Path) -> Any:
    """The real backends, except that AWS and terraform refuse any endpoint but the demo's."""
    from dataclasses import replace

    from ..backends import REAL

    def aws(target: Any) -> Any:
        check_endpoint(directory, target.endpoint_url)
        return REAL.aws(target)

    def terraform(workdir: Path, cancelled: Callable[[], bool], log: Callable[[str], None]) -> Any:
        override = _read_json(workdir / "endpoints_override.tf.json")
        endpoints = override.get("provider", {}).get("aws", {}).get("endpoints", [{}])
        urls = {url for block in endpoints for url in block.values()} or {None}
        for url in urls:
            check_endpoint(directory, url)
        return REAL.terraform(workdir, cancelled, log)

    return replace(REAL, aws=aws, terraform=terraform)


# --- processes ------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _alive(pid: int, directory: Path) -> bool:
    """Whether ``pid`` is still one of this demo's processes (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(directory.resolve() / STATE).encode() in cmdline


def running(directory: Path) -> dict[str, int]:
    """The recorded stand-ins of ``directory`` that still run: name -> pid."""
    pids = _read_json(directory / STATE / PIDS)
    return {
        name: pid for name, pid in pids.items() if isinstance(pid, int) and _alive(pid, directory)
    }


def _record(directory: Path, name: str, pid: int) -> None:
    pids = _read_json(directory / STATE / PIDS)
    pids[name] = pid
    atomic_write(directory / STATE / PIDS, json.dumps(pids, indent=2) + "\n", mode=0o600)


def stop(directory: Path) -> list[str]:
    """Stop the stand-ins recorded for ``directory`` (by pid, gracefully); the names stopped."""
    stopped = []
    for name, pid in running(directory).items():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        stopped.append(name)
    deadline = time.monotonic() + STOP_TIMEOUT
    while running(directory) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.1)
    for pid in running(directory).values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _reap()
    for name in (PIDS, "ports.json"):
        if (directory / STATE / name).exists():
            (directory / STATE / name).unlink()
    return stopped


def _reap() -> None:
    """Collect stand-ins this process started that have exited (no zombies left behind)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def reset(directory: Path) -> None:
    """Stop the demo and delete the demo repo (only a demo repo is ever deleted)."""
    if directory.exists() and not is_demo_repo(directory):
        raise UsageError(
            f"{directory} is not a demo repo; --reset deletes only what 'analytics-wizard demo' "
            "made",
            "give the demo's directory (default ./demo-secure-config)",
        )
    stop(directory)
    if directory.exists():
        shutil.rmtree(directory)


@contextlib.contextmanager
def _failing(what: str) -> Iterator[None]:
    try:
        yield
    except WizardError:
        raise
    except Exception as exc:
        raise DemoError(
            f"the demo could not start {what} ({exc})", "see the logs in .demo/"
        ) from None


def start(directory: Path, say: Callable[[str], None] = lambda _line: None) -> Demo:
    """Start the stand-ins of ``directory`` (reuse them when they run; resume a stopped demo
    from what it saved); the demo."""
    directory = directory.expanduser().absolute()
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is not a directory", "give a directory for the demo")
    if directory.exists() and any(directory.iterdir()) and not is_demo_repo(directory):
        raise UsageError(
            f"{directory} exists and is not a demo repo; the demo makes a repo of its own",
            f"give a new directory (default ./{DEFAULT_DIR})",
        )
    state = directory / STATE
    answers = state / ANSWERS
    if is_demo_repo(directory) and running(directory).keys() >= {"standins", "mariadb", "sshd"}:
        say("the demo's stand-ins are already running")
        ports = _read_json(state / "ports.json")
        return Demo(directory, answers, str(ports["moto_url"]), environment(directory))
    if is_demo_repo(directory):
        stop(directory)  # what is left of it (a stand-in killed by hand)
        resumed = _resume_or_say_why_not(directory, state, answers, say)
        if resumed is not None:
            return resumed
        reset(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    state.mkdir(mode=0o700, exist_ok=True)
    (directory / ".gitignore").write_text(f"/{STATE}/\n", encoding="utf-8")
    try:
        return _start(directory, state, answers, say)
    except BaseException:
        stop(directory)
        raise


class ResumeFailed(DemoError):
    """The state a stopped demo saved cannot be loaded."""


def _resume_or_say_why_not(
    directory: Path, state: Path, answers: Path, say: Callable[[str], None]
) -> Demo | None:
    """Resume a stopped demo where it stopped; None (having said why) when it cannot."""
    from . import saved

    if not (saved.has_saved(state) and answers.is_file()):
        say(
            "the demo's saved state is missing (its stand-ins were not stopped by the demo): "
            "starting over"
        )
        return None
    say("resuming the demo where it was stopped")
    try:
        return _resume(directory, state, answers, say)
    except ResumeFailed as exc:
        stop(directory)
        say(f"{exc.message}: starting over")
    except BaseException:
        stop(directory)
        raise
    return None


def _port_of(url: Any) -> int:
    port = urlsplit(str(url or "")).port
    return port or 0


def _resume(directory: Path, state: Path, answers: Path, say: Callable[[str], None]) -> Demo:
    from . import services
    from .standins import bindable

    try:
        data = yamlio.load(answers)
        wanted = {
            "moto": _port_of(data["aws"]["endpoint_url"]),
            "jenkins": int(data["jenkins"]["port"]),
            "insights": _port_of(data["insights"]["base_url"]),
            "api": int(data["analytics_api"]["port"]),
        }
        db_port, ssh_port = int(data["database"]["port"]), int(data["ansible"]["ssh_port"])
        admin_password = str(data["database"]["admin_password"])
    except (WizardError, OSError, LookupError, TypeError, ValueError) as exc:
        raise ResumeFailed(
            f"the demo's answers ({answers}) cannot be read ({exc.__class__.__name__})",
            "start over with --reset",
        ) from None
    web = _start_standins(directory, state, say, wanted)
    say("starting MariaDB again (its databases are on disk)")
    db = services.MariaDB(
        state / "mariadb",
        port=bindable(db_port) or services.free_port(),
        admin_password=admin_password,
        detach=True,
    )
    with _failing("MariaDB"):
        db.start()
    assert db.process is not None
    _record(directory, "mariadb", db.process.pid)
    say("starting sshd again")
    ssh = state / "ssh"
    sshd = services.SSHD(ssh, port=bindable(ssh_port) or services.free_port(), detach=True)
    with _failing("sshd"):
        sshd.configure()
        sshd.start()
    assert sshd.process is not None
    _record(directory, "sshd", sshd.process.pid)
    atomic_write(ssh / "known_hosts", sshd.known_hosts_line(), mode=0o644)
    ports = _wait_for_ports(state, web)
    url = str(ports["moto_url"])
    atomic_write(state / MARK, json.dumps({"endpoint_url": url}, indent=2) + "\n", mode=0o600)
    moved = _follow_ports(data, ports, db.port, sshd.port)
    if moved:
        # the answers change with them: the steps that use them show as changed
        say(f"{', '.join(moved)} had to move to new ports (the old ones are taken)")
        atomic_write(answers, yamlio.dumps(data), mode=0o600)
    return Demo(directory, answers, url, environment(directory))


def _follow_ports(data: dict[str, Any], ports: dict[str, Any], db: int, ssh: int) -> list[str]:
    """Point the answers ``data`` at where the stand-ins listen now; the ones that moved."""
    # Each stand-in: its name, where it listens now, and the answers that say so (the first
    # one tells whether it moved).
    where: list[tuple[str, Any, list[tuple[str, str]]]] = [
        ("the AWS stand-in", str(ports["moto_url"]), [("aws", "endpoint_url")]),
        ("Jenkins", ports["jenkins"], [("jenkins", "port")]),
        ("Insights", f"http://127.0.0.1:{ports['insights']}", [("insights", "base_url")]),
        ("the Analytics API", ports["api"], [("analytics_api", "port")]),
        ("MariaDB", db, [("database", "port"), ("edxapp", "db_port")]),
        ("sshd", ssh, [("ansible", "ssh_port"), ("director", "port")]),
    ]
    moved = []
    for name, now, keys in where:
        group, key = keys[0]
        if data[group][key] != now:
            for group, key in keys:
                data[group][key] = now
            moved.append(name)
    return moved


def _start_standins(
    directory: Path, state: Path, say: Callable[[str], None], wanted: dict[str, int] | None
) -> subprocess.Popen[bytes]:
    """The stand-ins' process (resuming from the saved state with ``wanted``), recorded."""
    say("starting the AWS, Jenkins, Insights and Analytics API stand-ins")
    with contextlib.suppress(FileNotFoundError):
        (state / "ports.json").unlink()  # the last run's: not a sign that this one listens
    argv = [sys.executable, "-m", "wizard.demo.standins", str(state), LMS_HOST]
    if wanted is not None:
        argv.append(json.dumps(wanted))
    log = (state / "standins.log").open("ab")
    web = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": _package_parent()},
    )
    log.close()
    _record(directory, "standins", web.pid)
    return web


def _start(directory: Path, state: Path, answers: Path, say: Callable[[str], None]) -> Demo:
    from . import services

    web = _start_standins(directory, state, say, None)
    say("starting MariaDB (the edxapp and analytics database server)")
    db = services.MariaDB(state / "mariadb", admin_password=secrets.token_urlsafe(18), detach=True)
    with _failing("MariaDB"):
        db.install()
        db.start()
        db.create_admin()
    assert db.process is not None
    _record(directory, "mariadb", db.process.pid)
    say("starting sshd (the director and the analytics host)")
    ssh = state / "ssh"
    sshd = services.SSHD(ssh, detach=True)
    with _failing("sshd"):
        sshd.setup(extra_keys=(ssh / "analytics-key",))
        sshd.start()
    assert sshd.process is not None
    _record(directory, "sshd", sshd.process.pid)
    (ssh / "known_hosts").write_text(sshd.known_hosts_line(), encoding="utf-8")
    ports = _wait_for_ports(state, web)
    url = str(ports["moto_url"])
    atomic_write(state / MARK, json.dumps({"endpoint_url": url}, indent=2) + "\n", mode=0o600)
    env = environment(directory)
    say("seeding the AWS stand-in: an admin user, the tracking logs, a key pair, a VPC")
    with _failing("the AWS stand-in"):
        seeded = seed(url, state, ssh / "analytics-key.pub")
    with _failing("the edxapp database"):
        migrate_password = secrets.token_urlsafe(18)
        db.sql("CREATE DATABASE IF NOT EXISTS edxapp")
        db.sql("CREATE USER IF NOT EXISTS 'edxapp001'@'%%' IDENTIFIED BY %s", (migrate_password,))
        db.sql("GRANT ALL PRIVILEGES ON edxapp.* TO %s@'%%'", ("edxapp001",))
    data = demo_answers(directory, seeded, ports, db, sshd, migrate_password)
    atomic_write(answers, yamlio.dumps(data), mode=0o600)
    return Demo(directory, answers, url, env)


def _package_parent() -> str:
    """Where ``wizard`` is importable from (the stand-ins process runs it by module name)."""
    return str(Path(__file__).resolve().parent.parent.parent)


def _wait_for_ports(state: Path, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        ports = _read_json(state / "ports.json")
        if ports:
            return ports
        if process.poll() == RESUME_FAILED:
            raise ResumeFailed(
                f"the demo's saved state cannot be loaded ({_last_line(state / 'standins.log')})",
                "start over with --reset",
            )
        if process.poll() is not None:
            raise DemoError(
                "the stand-ins' process exited at start",
                f"see {state / 'standins.log'} (is moto[server] installed? make demo installs it)",
            )
        time.sleep(0.1)
    raise DemoError("the stand-ins did not start in time", f"see {state / 'standins.log'}")


def _last_line(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return lines[-1] if lines else "no log"


def environment(directory: Path) -> dict[str, str]:
    """The variables demo mode runs under: its own AWS profile files, terraform's mirror, no
    metadata service, ansible's files under the demo directory."""
    state = directory.absolute() / STATE
    env = {
        "AWS_CONFIG_FILE": str(state / "aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(state / "aws" / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "CHECKPOINT_DISABLE": "1",  # terraform would keep a signature in ~/.terraform.d
        "ANSIBLE_HOME": str(state / "ansible"),
        "ANSIBLE_LOCAL_TEMP": str(state / "ansible" / "tmp"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    from . import cloud

    if cloud.has_mirror():
        env["TF_CLI_CONFIG_FILE"] = str(state / "terraform.rc")
    return env


@contextlib.contextmanager
def demo_environment(demo: Demo) -> Iterator[None]:
    """Run with the demo's environment (and no AWS credentials from this shell's)."""
    saved = dict(os.environ)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(demo.env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --- seeding --------------------------------------------------------------------------------


def tracking_log(day: dt.date, count: int = 20) -> bytes:
    """A small gzipped tracking log of ``day`` (page views and video plays of a demo course)."""
    events = []
    for n in range(count):
        at = dt.datetime.combine(day, dt.time(9, 0), dt.UTC) + dt.timedelta(minutes=7 * n)
        events.append(
            {
                "username": f"learner{n % 5}",
                "event_type": "play_video" if n % 3 else "/courses/course-v1:Demo+D101+2026/",
                "event_source": "browser" if n % 3 else "server",
                "time": at.isoformat(),
                "context": {"course_id": "course-v1:Demo+D101+2026", "org_id": "Demo"},
                "event": {},
            }
        )
    return gzip.compress("".join(json.dumps(e) + "\n" for e in events).encode())


def seed(url: str, state: Path, analytics_public_key: Path) -> dict[str, str]:
    """Make the moto account at ``url`` a prepared one; the ids the answers need."""
    from . import cloud

    moto = cloud.Moto(None, url)
    key, secret = cloud.admin_user(moto, "demo-operator")
    cloud.write_profile(state / "aws", PROFILE, key, secret)
    if cloud.has_mirror():
        cloud.cli_config(state)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=TRACKING_BUCKET)
    today = dt.datetime.now(dt.UTC).date()
    for back in (3, 2, 1):
        day = today - dt.timedelta(days=back)
        epoch = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())
        name = f"logs/tracking/10.0.0.5/tracking.log-{day:%Y%m%d}-{epoch}.gz"
        s3.put_object(Bucket=TRACKING_BUCKET, Key=name, Body=tracking_log(day))
    ec2 = moto.client("ec2")
    default = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=default["VpcId"])
    ec2.import_key_pair(KeyName=KEY_PAIR, PublicKeyMaterial=analytics_public_key.read_bytes())
    director = ec2.create_security_group(GroupName="director", Description="the director")
    moto.client("route53").create_hosted_zone(Name=ZONE, CallerReference="demo")
    image = ec2.describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
    # The analytics host is this machine: an instance at 127.0.0.1 in a VPC 127.0.0.0/16 whose
    # security group the playbooks step's Jenkins gate reads (SSH from the director only).
    vpc = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName="demo-analytics-host", Description="the demo analytics host", VpcId=vpc
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "UserIdGroupPairs": [{"GroupId": director["GroupId"]}],
            }
        ],
    )
    ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        PrivateIpAddress=ANALYTICS_HOST,
        SecurityGroupIds=[group],
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "demo analytics host"}]}
        ],
    )
    # What terraform will output too (its network.tf picks the first default subnet, sorted):
    # given up front, so that `run` finds every answer of the later steps before terraform.
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default["VpcId"]]}])
    emr_subnet = sorted(s["SubnetId"] for s in subnets["Subnets"])[0]
    return {"image": image, "director_sg": director["GroupId"], "emr_subnet": emr_subnet}


def demo_answers(
    directory: Path,
    seeded: dict[str, str],
    ports: dict[str, Any],
    db: Any,
    sshd: Any,
    migrate_password: str,
) -> dict[str, Any]:
    """The answers of the demo: every value pointing at a stand-in."""
    state = directory / STATE
    hosts = state / "hosts" / "analytics"
    jenkins_home = hosts / "jenkins-home"
    jenkins_home.mkdir(parents=True, exist_ok=True)
    lms = state / "lms.yml"
    lms.write_text("FEATURES:\n  ENABLE_OAUTH2_PROVIDER: true\n", encoding="utf-8")
    standin_vars = state / "standin-vars.yml"
    standin_vars.write_text(
        yamlio.dumps(
            {
                "standin_output_dir": str(hosts),
                "standin_vars": ["INSIGHTS_BASE_URL", "JENKINS_VERSION"],
                "ansible_python_interpreter": sys.executable,
            }
        ),
        encoding="utf-8",
    )
    from .. import assets

    ansible_playbook = Path(sys.executable).parent / "ansible-playbook"
    return {
        "client": {"name": CLIENT, "environment": "analytics"},
        "aws": {"profile": PROFILE, "region": "us-east-1", "endpoint_url": ports["moto_url"]},
        "edxapp": {
            "lms_host": LMS_HOST,
            "cms_host": "studio.example.com",
            "scheme": "https",
            "contact_email": "ops@example.com",
            "tracking_logs_bucket": TRACKING_BUCKET,
            "grades_bucket": "acme-prod-edxapp-storage",
            "grades_bucket_user_arn": "arn:aws:iam::123456789012:user/acme-prod-edxapp-s3",
            "db_host": "127.0.0.1",
            "db_port": db.port,
            "migrate_user": "edxapp001",
            "migrate_password": migrate_password,
            "admin_user": db.admin_user,
            "admin_password": db.admin_password,
            "lms_config_file": str(lms),
        },
        "terraform": {
            "image_id": seeded["image"],
            "instance_type": "t3.medium",
            "key_pair_name": KEY_PAIR,
            "hosted_zone_domain": ZONE,
            "director_security_group_id": seeded["director_sg"],
            "create_elasticsearch": False,
            "existing_elasticsearch_host": ELASTICSEARCH,
            "create_rds": False,
            "existing_rds_host": "127.0.0.1",
        },
        "infrastructure": {
            "analytics_private_ips": [ANALYTICS_HOST],
            "analytics_public_ips": [PUBLIC_ADDRESS],
            "elasticsearch_host": ELASTICSEARCH,
            "emr_subnet_id": seeded["emr_subnet"],
        },
        "database": {
            "host": "127.0.0.1",
            "port": db.port,
            "admin_user": db.admin_user,
            "admin_password": db.admin_password,
        },
        "insights": {"base_url": f"http://127.0.0.1:{ports['insights']}"},
        "analytics_api": {"port": ports["api"]},
        "pipeline": {
            "cluster_name": "Acme Analytics Cluster",
            "secure_repo_url": "git@github.com:acme/demo-secure-config.git",
        },
        "ansible": {
            "configuration_dir": str(assets.path("demo", "configuration")),
            "ansible_playbook": str(ansible_playbook),
            "ssh_user": sshd.user,
            "ssh_port": sshd.port,
            "private_key": f"{STATE}/ssh/analytics-key",
            "known_hosts": str(state / "ssh" / "known_hosts"),
            "extra_vars_files": [str(standin_vars)],
        },
        "director": {
            "host": "127.0.0.1",
            "port": sshd.port,
            "user": sshd.user,
            "key_file": str(sshd.client_key),
            "known_hosts": str(state / "ssh" / "known_hosts"),
        },
        "jenkins": {
            "port": ports["jenkins"],
            "local_port": _free_port(),
            "home": str(jenkins_home),
            "user": sshd.user,
            "server_name": f"jenkins.{ZONE}",
        },
    }


def _free_port() -> int:
    from .services import free_port

    return free_port()


def merge_answers(demo: Demo, backends: Any) -> int:
    """Put the demo answers into the demo repo (the wizard then opens on them); exit code 0."""
    from ..engine import Session
    from ..headless import load_answers_file

    flat = load_answers_file(demo.answers)
    check_endpoint(demo.directory, flat.get("aws.endpoint_url"))
    with Session.open(demo.directory, command="demo", backends=backends) as session:
        session.merge_answers(flat, str(demo.answers))
    return 0


def require_demo(directory: Path) -> None:
    """StateError unless ``directory`` is a demo repo (for --stop)."""
    if not is_demo_repo(directory):
        raise StateError(
            f"{directory} is not a demo repo (no {STATE}/{MARK})",
            f"give the demo's directory (default ./{DEFAULT_DIR})",
        )
