"""After the terraform step too, another local user reads no secret: not the RDS root password in
``terraform.tfvars.json``, ``terraform.tfstate`` or its backup, not the staged plan, not git's
objects — and the state is owner-only during the apply, not only after it.

Applies the stack once against moto (about a minute and a half), in a directory anyone may enter.
"""

from __future__ import annotations

import re
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from test_private_repo import assert_nothing_readable, shared_dir
from test_terraform_step import RDS_PASSWORD, aws, moto, open_session, stack_answers, tf_env

from wizard.terraform import TerraformError

__all__ = ["aws", "moto", "shared_dir", "tf_env"]  # fixtures used by name


# The provider's security-group calls, as its debug log records them: in this test, and only
# here in the suite, CI's apply twice found the default egress rule of emr_master already
# authorized (InvalidPermission.Duplicate) or already revoked (.NotFound). The cause is not
# found yet; a failure prints these calls and any retried one (method, attempt, status; no
# request bodies).
SG_CALLS = re.compile(r"rpc\.method=\w*SecurityGroup|attempt=(?!1;)\d+")  # and any retry
SG_FIELDS = re.compile(
    r"(rpc\.method=\w+|amz_sdk_request=\"[^\"]*\"|http\.status_code=\d+|http\.duration=\d+"
    r"|timestamp=\S+|request failed[^:]*|InvalidPermission\.\w+|tf_req_id=[\w-]+)"
)


def sg_calls(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return f"(no provider log: {exc})"
    calls = [" ".join(SG_FIELDS.findall(line)) for line in lines if SG_CALLS.search(line)]
    return "\n".join(calls[-200:])


def test_after_the_terraform_step_nobody_reads_a_secret(
    shared_dir: Path, aws: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider_log = tmp_path / "provider.log"  # private to root: request bodies hold passwords
    monkeypatch.setenv("TF_LOG_PROVIDER", "DEBUG")
    monkeypatch.setenv("TF_LOG_PATH", str(provider_log))
    repo = shared_dir / "secure-config"
    states = [
        repo / "terraform" / name for name in ("terraform.tfstate", "terraform.tfstate.backup")
    ]
    seen: dict[str, set[int]] = {str(p): set() for p in states}
    done = threading.Event()

    def watch() -> None:  # the modes the state files have while terraform writes them
        while not done.is_set():
            for path in states:
                try:
                    seen[str(path)].add(stat.S_IMODE(path.lstat().st_mode))
                except FileNotFoundError:
                    pass
            done.wait(0.05)

    answers: dict[str, Any] = stack_answers(aws)
    watcher = threading.Thread(target=watch, daemon=True)
    with open_session(repo, answers) as session:
        plan = session.plan("terraform")
        watcher.start()
        try:
            session.apply(plan)
        except TerraformError as exc:
            raise AssertionError(
                f"{exc}\nthe provider's security-group calls:\n{sg_calls(provider_log)}"
            ) from exc
        finally:
            done.set()
            watcher.join()
    state = repo / "terraform" / "terraform.tfstate"
    assert RDS_PASSWORD in state.read_text(encoding="utf-8")  # what there is to protect
    assert seen[str(state)] == {0o600}
    assert all(modes <= {0o600} for modes in seen.values())
    assert_nothing_readable(shared_dir, repo, at_least=3)  # migrate + RDS passwords, ledger key
