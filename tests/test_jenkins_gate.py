"""The Jenkins gate against a moto server: every security group rule that opens 8080 to the
world is found — exact port, a range, all traffic, IPv6 — and only those are revoked."""

from __future__ import annotations

from typing import Any

import pytest
from moto_service import Moto

from wizard import jenkins_gate
from wizard.aws import Aws, AwsError

WORLD4, WORLD6 = "0.0.0.0/0", "::/0"


def group(ec2: Any, name: str, *permissions: dict[str, Any]) -> str:
    group_id: str = ec2.create_security_group(GroupName=name, Description=name)["GroupId"]
    if permissions:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(permissions))
    return group_id


def tcp(low: int, high: int, *cidrs: str) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": low,
        "ToPort": high,
        "IpRanges": [{"CidrIp": c} for c in cidrs if ":" not in c],
        "Ipv6Ranges": [{"CidrIpv6": c} for c in cidrs if ":" in c],
    }


@pytest.fixture
def fleet(moto: Moto, aws: Aws) -> dict[str, Any]:
    """Two analytics instances; their groups open 8080 in every shape, plus closed ones."""
    ec2 = moto.client("ec2")
    director = group(ec2, "director")
    g = {
        "exact": group(ec2, "jenkins-exact", tcp(8080, 8080, WORLD4)),
        "range": group(ec2, "jenkins-range", tcp(8000, 9000, WORLD4, "10.0.0.0/8")),
        "all": group(ec2, "all-traffic", {"IpProtocol": "-1", "IpRanges": [{"CidrIp": WORLD4}]}),
        "ipv6": group(ec2, "jenkins-ipv6", tcp(8080, 8080, WORLD6)),
        "closed": group(
            ec2,
            "closed",
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": director}],
            },
            tcp(22, 22, WORLD4),
            tcp(8080, 8080, "10.0.0.0/8"),
            {
                "IpProtocol": "udp",
                "FromPort": 8080,
                "ToPort": 8080,
                "IpRanges": [{"CidrIp": WORLD4}],
            },
        ),
    }
    image = ec2.describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]

    def launch(*groups: str) -> dict[str, Any]:
        instance: dict[str, Any] = ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, SecurityGroupIds=list(groups)
        )["Instances"][0]
        return instance

    one = launch(g["exact"], g["range"], g["closed"])
    two = launch(g["all"], g["ipv6"])
    return {"groups": g, "one": one, "two": two, "ec2": ec2, "director": director}


def found(rules: list[jenkins_gate.OpenRule]) -> set[tuple[str, str]]:
    return {(r.group_id, r.cidr) for r in rules}


def test_every_world_open_rule_reaching_8080_is_found_and_no_other(
    aws: Aws, fleet: dict[str, Any]
) -> None:
    g = fleet["groups"]
    ids = [fleet["one"]["InstanceId"], fleet["two"]["InstanceId"]]
    rules = jenkins_gate.find_open(aws, ids)
    assert found(rules) == {
        (g["exact"], WORLD4),
        (g["range"], WORLD4),
        (g["all"], WORLD4),
        (g["ipv6"], WORLD6),
    }
    shapes = {r.group_id: r.ports for r in rules}
    assert shapes[g["range"]] == "tcp 8000-9000"
    assert shapes[g["all"]] == "all traffic"
    assert all("open to the internet" in r.describe() for r in rules)


def test_instances_can_be_named_by_their_ip_address(aws: Aws, fleet: dict[str, Any]) -> None:
    g = fleet["groups"]
    rules = jenkins_gate.find_open(aws, [fleet["one"]["PrivateIpAddress"]])
    assert found(rules) == {(g["exact"], WORLD4), (g["range"], WORLD4)}


def test_revoking_removes_only_the_world_open_ranges(aws: Aws, fleet: dict[str, Any]) -> None:
    g, ec2 = fleet["groups"], fleet["ec2"]
    ids = [fleet["one"]["InstanceId"], fleet["two"]["InstanceId"]]
    closed_before = ec2.describe_security_groups(GroupIds=[g["closed"]])["SecurityGroups"][0]
    lines = jenkins_gate.revoke(aws, jenkins_gate.find_open(aws, ids))
    assert len(lines) == 4
    assert jenkins_gate.find_open(aws, ids) == []
    # The range rule keeps its private source; the closed group is untouched.
    ranged = ec2.describe_security_groups(GroupIds=[g["range"]])["SecurityGroups"][0]
    assert [r["CidrIp"] for p in ranged["IpPermissions"] for r in p["IpRanges"]] == ["10.0.0.0/8"]
    closed_after = ec2.describe_security_groups(GroupIds=[g["closed"]])["SecurityGroups"][0]
    assert closed_after["IpPermissions"] == closed_before["IpPermissions"]


def test_an_unknown_instance_is_a_clear_error(aws: Aws, fleet: dict[str, Any]) -> None:
    with pytest.raises(AwsError) as caught:
        jenkins_gate.find_open(aws, ["i-0123456789abcdef0"])
    assert "check the instance ids" in str(caught.value)
    with pytest.raises(AwsError, match="neither an instance id nor an IP address"):
        jenkins_gate.find_open(aws, ["jenkins.example.com"])


def test_the_jenkins_nginx_port_is_gated_too(moto: Moto, aws: Aws) -> None:
    ec2 = moto.client("ec2")
    nginx = group(ec2, "jenkins-nginx", tcp(8081, 8081, WORLD4))
    both = group(ec2, "both", tcp(8080, 8081, WORLD6))
    insights = group(ec2, "insights", tcp(80, 80, WORLD4), tcp(443, 443, WORLD4))
    image = ec2.describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, SecurityGroupIds=[nginx, both, insights]
    )["Instances"][0]["InstanceId"]

    assert {r.group_id for r in jenkins_gate.find_open(aws, [instance])} == {both}
    rules = jenkins_gate.find_open(aws, [instance], ports=(8080, 8081))

    assert {(r.group_id, r.reaches) for r in rules} == {(nginx, (8081,)), (both, (8080, 8081))}
    assert (
        "Jenkins on 8080 and 8081 is open"
        in next(r for r in rules if r.group_id == both).describe()
    )
    command = next(r for r in rules if r.group_id == nginx).revoke_command("us-east-1")
    assert command.startswith(
        f"aws ec2 revoke-security-group-ingress --region us-east-1 --group-id {nginx}"
    )
    assert '"FromPort":8081' in command
    jenkins_gate.revoke(aws, rules)
    assert jenkins_gate.find_open(aws, [instance], ports=(8080, 8081)) == []
