"""Real terraform for the tests: the provider from the local mirror, the AWS provider on moto.

Helpers only (no fixtures), so a test module and a child process it starts can share them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from wizard.demo.cloud import MIRROR, cli_config, has_mirror

__all__ = ["MIRROR", "cli_config"]

ROOT = Path(__file__).resolve().parent.parent
ES_HOST = "search-acme-analytics-existing.us-east-1.es.amazonaws.com"
# RDS accepts it; recognisable wherever it must not appear.
RDS_PASSWORD = "Tfroot8pw" + "y" * 20
ENDPOINT_SERVICES = ("ec2", "iam", "opensearch", "rds", "route53", "s3", "sts")


def missing() -> str | None:
    """Why real terraform cannot run here, or None."""
    if shutil.which("terraform") is None:
        return "terraform is not on PATH (install terraform 1.5+)"
    if not has_mirror():
        return f"the AWS provider mirror {MIRROR} is missing"
    return None


def seed(moto: Any) -> dict[str, str]:
    """What exists in the account before terraform: the director's group, a key pair, an AMI,
    the hosted zone."""
    ec2 = moto.client("ec2")
    director = ec2.create_security_group(GroupName="director", Description="director")
    ec2.create_key_pair(KeyName="acme-analytics")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    moto.client("route53").create_hosted_zone(Name="example.com", CallerReference="tests")
    return {"director_sg": director["GroupId"], "ami": ami, "url": moto.url}


def tfvars(seeded: dict[str, str], **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "customer_name": "acme",
        "environment": "analytics",
        "aws_region": "us-east-1",
        "aws_profile": "acme-analytics",
        "analytics_image_id": seeded["ami"],
        "analytics_key_pair_name": "acme-analytics",
        "number_of_instances": 1,
        "director_security_group_id": seeded["director_sg"],
        "hosted_zone_domain": "example.com",
        "rds_root_password": RDS_PASSWORD,
        "create_elasticsearch": False,
        "existing_elasticsearch_host": ES_HOST,
        "tracking_logs_bucket": "acme-tracking-logs",
        "edxapp_s3_grade_bucket_id": "acme-prod-edxapp-storage",
        "edxapp_s3_grade_user_arn": "arn:aws:iam::123456789012:user/acme-prod-edxapp-s3",
    }
    values.update(overrides)
    return values


def endpoints_override(url: str) -> dict[str, Any]:
    return {
        "provider": {
            "aws": {
                "endpoints": [dict.fromkeys(ENDPOINT_SERVICES, url)],
                "skip_credentials_validation": True,
                "skip_requesting_account_id": True,
                "skip_metadata_api_check": True,
                "s3_use_path_style": True,
            }
        }
    }


def workdir(path: Path, seeded: dict[str, str], **overrides: Any) -> Path:
    """The shipped configuration in ``path`` with its variables (0600) and the moto endpoint."""
    shutil.copytree(ROOT / "assets" / "terraform", path)
    variables = path / "terraform.tfvars.json"
    variables.write_text(json.dumps(tfvars(seeded, **overrides), indent=2), encoding="utf-8")
    variables.chmod(0o600)
    (path / "endpoints_override.tf.json").write_text(
        json.dumps(endpoints_override(seeded["url"]), indent=2), encoding="utf-8"
    )
    return path
