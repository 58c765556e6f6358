"""The AWS layer against a moto server on 127.0.0.1: errors in one sentence, and the choices
the operator picks from (key pairs, security groups, zones, Ubuntu images, buckets)."""

from __future__ import annotations

import pytest
import services
from moto_service import Moto

from wizard import aws_choices
from wizard.aws import Aws, AwsError, Target, explain


def no_traceback(error: AwsError) -> None:
    text = str(error)
    assert "Traceback" not in text and "botocore" not in text
    assert text.count("\n") == 0


# --- errors ---------------------------------------------------------------------------------


def test_a_profile_that_is_not_configured_names_it_and_how_to_add_it(aws: Aws) -> None:
    wrong = Aws(Target("acme-typo", aws.target.region, aws.target.endpoint_url))
    with pytest.raises(AwsError) as caught:
        wrong.call("sts", "get_caller_identity")
    assert "'acme-typo' is not in ~/.aws/config" in caught.value.message
    assert "aws configure --profile acme-typo" in caught.value.fix
    no_traceback(caught.value)


def test_an_endpoint_that_does_not_answer_says_so(aws: Aws) -> None:
    url = f"http://127.0.0.1:{services.free_port()}"
    down = Aws(Target("acme-analytics", aws.target.region, url))
    with pytest.raises(AwsError) as caught:
        down.call("sts", "get_caller_identity")
    assert caught.value.message.startswith(f"cannot reach the AWS endpoint {url}")
    assert "aws.endpoint_url" in caught.value.fix
    no_traceback(caught.value)


def client_error(code: str, message: str = "no") -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, "AnyOperation")


def test_aws_refusals_become_the_cause_and_the_fix() -> None:
    target = Target("acme-analytics", "us-east-1")
    expired = explain(client_error("ExpiredToken"), "sts:GetCallerIdentity", target)
    assert "credentials of profile 'acme-analytics' have expired" in expired.message
    assert "aws sso login --profile acme-analytics" in expired.fix
    denied = explain(client_error("AccessDenied"), "iam:ListAttachedUserPolicies", target)
    assert (
        denied.message
        == "access denied on iam:ListAttachedUserPolicies for profile 'acme-analytics'"
    )
    assert "AdministratorAccess" in denied.fix
    bad = explain(client_error("InvalidClientTokenId"), "sts:GetCallerIdentity", target)
    assert "does not accept the credentials" in bad.message


def test_a_region_aws_does_not_answer_in_points_at_the_region_answer() -> None:
    from botocore.exceptions import EndpointConnectionError

    error = EndpointConnectionError(endpoint_url="https://sts.us-east-9.amazonaws.com/")
    found = explain(error, "sts:GetCallerIdentity", Target("acme-analytics", "us-east-9"))
    assert found.message.startswith("cannot reach AWS in region 'us-east-9'")
    assert "aws.region" in found.fix


# --- choices --------------------------------------------------------------------------------


def test_key_pairs_buckets_and_zones_are_listed(aws: Aws, moto: Moto) -> None:
    ec2, s3, route53 = moto.client("ec2"), moto.client("s3"), moto.client("route53")
    for name in ("acme-analytics", "acme-director"):
        ec2.create_key_pair(KeyName=name)
    for name in ("acme-tracking-logs", "acme-prod-edxapp-storage"):
        s3.create_bucket(Bucket=name)
    route53.create_hosted_zone(Name="example.com.", CallerReference="one")
    assert [c.value for c in aws_choices.key_pairs(aws)] == ["acme-analytics", "acme-director"]
    assert [c.value for c in aws_choices.buckets(aws)] == [
        "acme-prod-edxapp-storage",
        "acme-tracking-logs",
    ]
    assert [c.value for c in aws_choices.hosted_zones(aws)] == ["example.com"]


def test_security_groups_come_with_their_names(aws: Aws, moto: Moto) -> None:
    ec2 = moto.client("ec2")
    group = ec2.create_security_group(GroupName="director", Description="the director")
    found = {c.value: c.label for c in aws_choices.security_groups(aws)}
    assert "director" in found[group["GroupId"]]


def test_only_official_ubuntu_lts_images_newest_first(aws: Aws) -> None:
    images = aws_choices.ubuntu_amis(aws)
    assert images, "moto's region has Canonical's Ubuntu images"
    for image in images:
        assert image.value.startswith("ami-")
        assert aws_choices.is_lts(image.label)
    assert aws_choices.is_lts("ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240101")
    assert not aws_choices.is_lts("ubuntu/images/hvm-ssd/ubuntu-mantic-23.10-amd64-server-2024")
    assert not aws_choices.is_lts("ubuntu/images/hvm-ssd/ubuntu-lunar-23.04-amd64-server-2023")
