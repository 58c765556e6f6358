"""The prerequisite checks screen with fixed results, for its snapshot.

A live run's findings carry a moto server's port and today's date, which a snapshot cannot hold,
so this replaces only the worker that runs the checks with one that posts fixed results; every
widget, message handler and style is the real screen's. The live screen is tested against moto
in test_prereqs_step.py.
"""

from __future__ import annotations

from screens.checks import CheckDone, ChecksDone, ChecksScreen
from wizard.steps import Check, Plan

FIXED = [
    Check("aws.credentials", "pass", "caller arn:aws:iam::123456789012:user/ops"),
    Check("aws.admin", "pass", "AdministratorAccess through a group policy (admins)"),
    Check(
        "aws.tracking_logs",
        "fail",
        "bucket acme-tracking-logs does not exist",
        "point edxapp.tracking_logs_bucket at the bucket the LMS rotates its logs into",
    ),
    Check("edxapp.database", "pass", "edxapp database found on edxapp-db.example.com:3306"),
    Check("edxapp.oauth2_provider", "pass", "ENABLE_OAUTH2_PROVIDER is true in lms.yml"),
    Check("tools", "pass", "terraform 1.11.4, ansible-playbook 2.19.14, git 2.39.5, ssh 9.2"),
    Check("ssh.keys", "pass", "analytics.pem is 0600 and differs from the director's key"),
    Check(
        "aws.collisions",
        "warn",
        "EMR_DefaultRole already exists",
        "nothing to do: terraform names its EMR roles per client",
    ),
    Check("aws.vpc", "pass", "default VPC with DNS hostnames and an internet gateway"),
]


class FixedChecksScreen(ChecksScreen):
    def run_all(self) -> None:  # type: ignore[override]
        for check in FIXED:
            self.post_message(CheckDone(check))
        self.post_message(ChecksDone(Plan(step="prereqs", checks=list(FIXED))))
