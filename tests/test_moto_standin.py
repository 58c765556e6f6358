"""The moto server standing in for AWS (tests and demo) answers one request at a time.

moto's backends are plain dicts and lists with no locking, and moto says it does not support
concurrent access; terraform sends up to ten requests at once.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from moto_service import Moto


def test_moto_serves_one_request_at_a_time(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.ec2.models import EC2Backend

    inside = 0
    most = 0
    count = threading.Lock()
    describe = EC2Backend.describe_vpcs

    def slow_describe(self: EC2Backend, *args: object, **kwargs: object) -> object:
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        time.sleep(0.2)  # long enough for the other requests to arrive meanwhile
        with count:
            inside -= 1
        return describe(self, *args, **kwargs)

    monkeypatch.setattr(EC2Backend, "describe_vpcs", slow_describe)
    clients = [moto.client("ec2") for _ in range(4)]
    with ThreadPoolExecutor(len(clients)) as pool:
        answers = list(pool.map(lambda ec2: ec2.describe_vpcs()["Vpcs"], clients))
    assert all(answers)  # every request was answered (the default VPC)
    assert most == 1
