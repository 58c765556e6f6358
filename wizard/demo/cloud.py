"""A moto server on 127.0.0.1 standing in for AWS, what is seeded into it, and terraform's
provider mirror: shared by the tests and demo mode.

boto3 reaches it over HTTP through ``endpoint_url`` (no in-process mocking). The wizard's own
calls use a named profile from a private ``AWS_CONFIG_FILE`` / ``AWS_SHARED_CREDENTIALS_FILE``.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIRROR = Path("/opt/tf-plugins")  # the AWS provider, installed without the registry
REGION = "us-east-1"
ACCOUNT = "123456789012"
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
SEED_KEYS = {"aws_access_key_id": "AKIASEEDSEEDSEED0001", "aws_secret_access_key": "seed"}


@dataclass
class Moto:
    server: Any
    url: str

    def stop(self) -> None:
        self.server.stop()

    def reset(self) -> None:
        """Forget every resource (moto's own reset API)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def client(self, service: str, **creds: str) -> Any:
        """A boto3 client the test seeds with (not the wizard's profile)."""
        import boto3  # type: ignore[import-untyped]

        return boto3.client(
            service, region_name=REGION, endpoint_url=self.url, **(creds or SEED_KEYS)
        )


class _OneAtATime:
    """A WSGI app that lets one request at a time into ``app``, its whole answer included.

    moto's backends are dicts and lists without locks, and moto does not support concurrent
    access; terraform sends up to ten requests at once."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


class _Server:
    """moto's WSGI app served by werkzeug on a daemon thread, one request at a time."""

    def __init__(self, port: int) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
        self.http = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.http.shutdown()
        self.thread.join()


def start(port: int = 0, *, fresh: bool = True) -> Moto:
    """A moto server on 127.0.0.1 (``port`` 0: any free one); ``fresh=False`` keeps the
    resources already in this process's moto (a demo's restored account)."""
    # Before the server starts, or AdministratorAccess does not exist.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    server = _Server(port)
    started = Moto(server, f"http://127.0.0.1:{server.http.server_port}")
    if fresh:
        # moto keeps its resources per process, not per server: an earlier module's are there
        started.reset()
    return started


def write_profile(
    directory: Path, profile: str, key: str, secret: str, token: str | None = None
) -> dict[str, str]:
    """An AWS config and credentials file with ``profile``; the env vars that point at them."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config"
    credentials = directory / "credentials"
    config.write_text(f"[profile {profile}]\nregion = {REGION}\n", encoding="utf-8")
    lines = [f"[{profile}]", f"aws_access_key_id = {key}", f"aws_secret_access_key = {secret}"]
    if token:
        lines.append(f"aws_session_token = {token}")
    credentials.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}


def user_keys(moto: Moto, user: str) -> tuple[str, str]:
    key = moto.client("iam").create_access_key(UserName=user)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def admin_user(moto: Moto, name: str = "operator") -> tuple[str, str]:
    iam = moto.client("iam")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY_ARN)
    return user_keys(moto, name)


def ready_account(moto: Moto, bucket: str) -> None:
    """What a prepared account has: tracking logs, an internet gateway on the default VPC."""
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=bucket)
    for key in (
        "logs/tracking/10.0.0.5/tracking.log-20261119-1763510400.gz",
        "logs/tracking/10.0.0.5/tracking.log-20261120-1763596800.gz",
        "logs/tracking/10.0.0.6/tracking.log-20261118-1763424000.gz",
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=b"\x1f\x8b")
    ec2 = moto.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc["VpcId"])


def has_mirror() -> bool:
    """Whether the local provider mirror holds the AWS provider."""
    return (MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir()


def cli_config(directory: Path) -> dict[str, str]:
    """A terraform CLI configuration that installs providers from the mirror only; its env var."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "terraform.rc"
    path.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n',
        encoding="utf-8",
    )
    return {"TF_CLI_CONFIG_FILE": str(path)}
