"""The Jenkins gate: no security group of the analytics instances may open Jenkins to the world.

The default Jenkins the playbook installs has no login. Before that playbook runs, every
security group attached to the target instances is read; each rule that admits a Jenkins port
(8080, and the port of Jenkins' own nginx site) from ``0.0.0.0/0`` or ``::/0`` — a rule for the
port, a port range covering it, or all traffic — is reported, and can be revoked (only that
world-open part of the rule; the caller confirms first).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .aws import Aws, AwsError

JENKINS_PORT = 8080
JENKINS_NGINX_PORT = 8081


@dataclass(frozen=True)
class OpenRule:
    """One world-open source range of one ingress rule that reaches port 8080."""

    group_id: str
    group_name: str
    protocol: str  # "tcp", "6" or "-1" (all traffic)
    from_port: int | None
    to_port: int | None
    cidr: str  # 0.0.0.0/0 or ::/0
    instances: tuple[str, ...]
    reaches: tuple[int, ...] = (JENKINS_PORT,)  # the Jenkins ports it opens

    @property
    def ipv6(self) -> bool:
        return ":" in self.cidr

    @property
    def ports(self) -> str:
        if self.protocol == "-1":
            return "all traffic"
        if self.from_port == self.to_port:
            return f"tcp {self.from_port}"
        return f"tcp {self.from_port}-{self.to_port}"

    def describe(self) -> str:
        ports = " and ".join(str(p) for p in self.reaches)
        return (
            f"{self.group_id} ({self.group_name}) admits {self.ports} from {self.cidr}, "
            f"so Jenkins on {ports} is open to the internet (instances: "
            f"{', '.join(self.instances)})"
        )

    def revoke_command(self, region: str) -> str:
        """The AWS CLI command that revokes exactly this range."""
        import json
        import shlex

        permission = json.dumps([self.permission()], separators=(",", ":"))
        return shlex.join(
            [
                "aws",
                "ec2",
                "revoke-security-group-ingress",
                "--region",
                region,
                "--group-id",
                self.group_id,
                "--ip-permissions",
                permission,
            ]
        )

    def permission(self) -> dict[str, Any]:
        """The ``IpPermissions`` item that revokes exactly this range."""
        item: dict[str, Any] = {"IpProtocol": self.protocol}
        if self.protocol != "-1":
            item["FromPort"] = self.from_port
            item["ToPort"] = self.to_port
        if self.ipv6:
            item["Ipv6Ranges"] = [{"CidrIpv6": self.cidr}]
        else:
            item["IpRanges"] = [{"CidrIp": self.cidr}]
        return item


def _is_world(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def _reached(permission: dict[str, Any], ports: Sequence[int]) -> tuple[int, ...]:
    """Which of ``ports`` the rule admits (TCP, a range covering it, or all traffic)."""
    protocol = str(permission.get("IpProtocol", ""))
    if protocol == "-1":
        return tuple(ports)
    if protocol not in ("tcp", "6"):
        return ()
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None or (int(low) == -1 and int(high) == -1):
        return tuple(ports)
    return tuple(p for p in ports if int(low) <= p <= int(high))


def _looks_like_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def instances(aws: Aws, targets: Sequence[str]) -> list[dict[str, Any]]:
    """The instances named by id (``i-…``) or by private or public IP address."""
    ids = [t for t in targets if t.startswith("i-")]
    ips = [t for t in targets if _looks_like_ip(t)]
    unknown = [t for t in targets if t not in ids and t not in ips]
    if unknown:
        raise AwsError(
            f"{', '.join(unknown)} is neither an instance id nor an IP address",
            "give the analytics instance ids (i-…) or their IP addresses",
        )
    found: dict[str, dict[str, Any]] = {}
    queries: list[dict[str, Any]] = []
    if ids:
        queries.append({"InstanceIds": ids})
    if ips:
        queries.append({"Filters": [{"Name": "private-ip-address", "Values": ips}]})
        queries.append({"Filters": [{"Name": "ip-address", "Values": ips}]})
    for query in queries:
        try:
            for page in aws.pages("ec2", "describe_instances", **query):
                for reservation in page.get("Reservations", []):
                    for instance in reservation.get("Instances", []):
                        found[str(instance["InstanceId"])] = instance
        except AwsError as exc:
            if not (exc.code or "").startswith("InvalidInstanceID"):
                raise
            raise AwsError(
                f"no instance {', '.join(ids)} in {aws.target.region} ({exc.message})",
                "check the instance ids or IP addresses (and aws.region)",
                exc.code,
            ) from None
    seen = {
        value
        for instance in found.values()
        for value in (
            instance.get("InstanceId"),
            instance.get("PrivateIpAddress"),
            instance.get("PublicIpAddress"),
        )
        if value
    }
    missing = [t for t in targets if t not in seen]
    if missing:
        raise AwsError(
            f"no instance {', '.join(missing)} in {aws.target.region}",
            "check the instance ids or IP addresses (and aws.region)",
        )
    return list(found.values())


def find_open(
    aws: Aws, targets: Sequence[str], ports: Sequence[int] = (JENKINS_PORT,)
) -> list[OpenRule]:
    """Every world-open range reaching one of ``ports`` in the security groups of ``targets``."""
    ports = tuple(dict.fromkeys(ports))
    users: dict[str, list[str]] = {}
    for instance in instances(aws, targets):
        groups = list(instance.get("SecurityGroups", []))
        for interface in instance.get("NetworkInterfaces", []):
            groups += interface.get("Groups", [])
        for group in groups:
            names = users.setdefault(str(group["GroupId"]), [])
            if instance["InstanceId"] not in names:
                names.append(str(instance["InstanceId"]))
    if not users:
        return []
    found = []
    for page in aws.pages("ec2", "describe_security_groups", GroupIds=sorted(users)):
        for group in page.get("SecurityGroups", []):
            group_id = str(group["GroupId"])
            for permission in group.get("IpPermissions", []):
                reached = _reached(permission, ports)
                if not reached:
                    continue
                ranges = [r["CidrIp"] for r in permission.get("IpRanges", [])]
                ranges += [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])]
                for cidr in ranges:
                    if _is_world(cidr):
                        protocol = str(permission["IpProtocol"])
                        found.append(
                            OpenRule(
                                group_id,
                                str(group.get("GroupName", "")),
                                protocol,
                                None if protocol == "-1" else permission.get("FromPort"),
                                None if protocol == "-1" else permission.get("ToPort"),
                                str(cidr),
                                tuple(users[group_id]),
                                reached,
                            )
                        )
    return found


def revoke(aws: Aws, findings: Sequence[OpenRule]) -> list[str]:
    """Revoke exactly the world-open ranges in ``findings``; one line per revoked range."""
    done = []
    for rule in findings:
        aws.call(
            "ec2",
            "revoke_security_group_ingress",
            GroupId=rule.group_id,
            IpPermissions=[rule.permission()],
        )
        done.append(f"revoked {rule.ports} from {rule.cidr} on {rule.group_id} ({rule.group_name})")
    return done
