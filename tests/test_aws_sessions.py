"""Each run of the checks opens a new AWS session: the service models are parsed once per
process, the credentials are read afresh by each session, and the clients made for the same
credentials are used again (against a moto server on 127.0.0.1)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import moto_service
import pytest
from moto_service import Moto

from wizard.aws import Aws, Target

opened: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and args and isinstance(args[0], str) and "/botocore/data/" in args[0]:
        opened.append(args[0])


sys.addaudithook(_audit)  # cannot be removed; it only notes botocore's model files


@pytest.fixture
def profile(moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The profile ``acme-analytics`` of a fresh moto's admin user; its credentials file."""
    moto.reset()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = moto_service.write_profile(
        tmp_path / "aws", "acme-analytics", *moto_service.admin_user(moto, "first")
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Path(env["AWS_SHARED_CREDENTIALS_FILE"])


def test_a_new_session_reads_no_service_model_again(moto: Moto, profile: Path) -> None:
    target = Target("acme-analytics", moto_service.REGION, moto.url)
    first = Aws(target)
    first.call("ec2", "describe_vpcs")
    first.call("sts", "get_caller_identity")
    opened.clear()
    for _ in range(2):  # a re-run of the checks, then a recheck
        again = Aws(target)
        again.call("ec2", "describe_vpcs")
        again.call("sts", "get_caller_identity")
    assert opened == [], opened


def test_each_session_reads_the_credentials_afresh(moto: Moto, profile: Path) -> None:
    target = Target("acme-analytics", moto_service.REGION, moto.url)
    first = Aws(target).call("sts", "get_caller_identity")["Arn"]
    # The operator fixes the profile (here: another user's keys), then runs the checks again.
    moto_service.write_profile(
        profile.parent, "acme-analytics", *moto_service.admin_user(moto, "second")
    )
    second = Aws(target).call("sts", "get_caller_identity")["Arn"]
    assert first.endswith("user/first") and second.endswith("user/second")


def test_the_same_credentials_use_the_same_clients_and_new_ones_new_clients(
    moto: Moto, profile: Path
) -> None:
    target = Target("acme-analytics", moto_service.REGION, moto.url)
    first = Aws(target).client("ec2")
    assert Aws(target).client("ec2") is first
    assert Aws(target).client("iam") is not first
    elsewhere = Target("acme-analytics", "eu-west-1", moto.url)
    assert Aws(elsewhere).client("ec2") is not first
    moto_service.write_profile(
        profile.parent, "acme-analytics", *moto_service.admin_user(moto, "third")
    )
    renewed = Aws(target)
    assert renewed.client("ec2") is not first
    assert renewed.call("sts", "get_caller_identity")["Arn"].endswith("user/third")
