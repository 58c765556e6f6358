"""The tests' moto server and what they seed into it: demo mode's (wizard/demo/cloud.py)."""

from wizard.demo.cloud import (
    ACCOUNT,
    ADMIN_POLICY_ARN,
    REGION,
    SEED_KEYS,
    Moto,
    admin_user,
    ready_account,
    start,
    user_keys,
    write_profile,
)

__all__ = [
    "ACCOUNT",
    "ADMIN_POLICY_ARN",
    "REGION",
    "SEED_KEYS",
    "Moto",
    "admin_user",
    "ready_account",
    "start",
    "user_keys",
    "write_profile",
]
