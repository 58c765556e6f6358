"""What the operator can pick from in their AWS account: key pairs, security groups, hosted
zones, recent Ubuntu LTS images and S3 buckets. Each returns :class:`Choice` items, best first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .aws import Aws

CANONICAL = "099720109477"  # the owner of the official Ubuntu images
UBUNTU_NAME = "ubuntu/images/*ubuntu-*-amd64-server-*"
_UBUNTU_VERSION = re.compile(r"ubuntu-[a-z]+-(\d\d)\.(\d\d)-amd64-server-")


@dataclass(frozen=True)
class Choice:
    """A value to store in the answers and the label the operator sees for it."""

    value: str
    label: str


def key_pairs(aws: Aws) -> list[Choice]:
    pairs = aws.call("ec2", "describe_key_pairs").get("KeyPairs", [])
    names = sorted(str(p["KeyName"]) for p in pairs)
    return [Choice(name, name) for name in names]


def security_groups(aws: Aws) -> list[Choice]:
    found = []
    for page in aws.pages("ec2", "describe_security_groups"):
        for group in page.get("SecurityGroups", []):
            label = f"{group['GroupId']}  {group.get('GroupName', '')}"
            if group.get("VpcId"):
                label += f"  ({group['VpcId']})"
            found.append(Choice(str(group["GroupId"]), label))
    return sorted(found, key=lambda c: c.label.split("  ", 1)[-1].lower())


def hosted_zones(aws: Aws) -> list[Choice]:
    """Public hosted zones by domain (the answer is the domain, without the trailing dot)."""
    found = []
    for page in aws.pages("route53", "list_hosted_zones"):
        for zone in page.get("HostedZones", []):
            if zone.get("Config", {}).get("PrivateZone"):
                continue
            domain = str(zone["Name"]).rstrip(".")
            found.append(Choice(domain, f"{domain}  ({str(zone['Id']).split('/')[-1]})"))
    return sorted(found, key=lambda c: c.value)


def is_lts(name: str) -> bool:
    """Ubuntu LTS releases are the April releases of even years (14.04, 16.04, … 24.04)."""
    match = _UBUNTU_VERSION.search(name)
    return bool(match) and match[2] == "04" and int(match[1]) % 2 == 0  # type: ignore[index]


def ubuntu_amis(aws: Aws, limit: int = 10) -> list[Choice]:
    """The newest official Ubuntu LTS server images (amd64) of the region, newest first."""
    images = aws.call(
        "ec2",
        "describe_images",
        Owners=[CANONICAL],
        Filters=[
            {"Name": "name", "Values": [UBUNTU_NAME]},
            {"Name": "state", "Values": ["available"]},
        ],
    ).get("Images", [])
    lts = [i for i in images if is_lts(str(i.get("Name", "")))]
    lts.sort(key=lambda i: str(i.get("CreationDate", "")), reverse=True)
    return [Choice(str(i["ImageId"]), f"{i['ImageId']}  {i.get('Name', '')}") for i in lts[:limit]]


def buckets(aws: Aws) -> list[Choice]:
    names = sorted(str(b["Name"]) for b in aws.call("s3", "list_buckets").get("Buckets", []))
    return [Choice(name, name) for name in names]
