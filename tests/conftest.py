"""Shared fixtures: a complete answers file, a fresh secure repo, the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from wizard import yamlio

if TYPE_CHECKING:
    import services
    from jenkins_standin import JenkinsStandin
    from moto_service import Moto

    from wizard.aws import Aws

# Under CI, tests skipped because terraform (or another required tool) is missing fail the run.
pytest_plugins = ["ci_required"]

# The longest modules first: with pytest-xdist (`make test` runs two workers, a module per
# worker at a time) they start at once on separate workers instead of ending the run on one.
LONGEST_FIRST = (
    "test_demo_tmux.py",
    "test_playbooks_step.py",
    "test_terraform_step.py",
    "test_terraform_reattach.py",
    "test_demo.py",
    "test_kill.py",
    "test_terraform_detached.py",
    "test_private_terraform.py",
    "test_tui.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept inside


ROOT = Path(__file__).resolve().parent.parent

# A recognisable password with every character class that has bitten a consumer before.
PLANTED_PASSWORD = "Pl4nted'pw\"#%$\\{{x}}ü😀-7734"


def complete_answers(**overrides: Any) -> dict[str, Any]:
    """Answers for every key the files step needs (SPEC §8 format)."""
    answers: dict[str, Any] = {
        "client": {"name": "acme", "environment": "analytics"},
        "aws": {"profile": "acme-analytics", "region": "us-east-1"},
        "edxapp": {
            "lms_host": "lms.example.com",
            "cms_host": "studio.example.com",
            "scheme": "https",
            "contact_email": "ops@example.com",
            "openedx_release": "open-release/koa.3",
            "tracking_logs_bucket": "acme-tracking-logs",
            "grades_bucket": "acme-prod-edxapp-storage",
            "grades_bucket_user_arn": "arn:aws:iam::123456789012:user/acme-prod-edxapp-s3",
            "db_host": "edxapp-db.example.com",
            "db_port": 3306,
            "migrate_user": "edxapp001",
            "migrate_password": PLANTED_PASSWORD,
        },
        "terraform": {
            "image_id": "ami-0123456789abcdef0",
            "key_pair_name": "acme-analytics",
            "hosted_zone_domain": "example.com",
            "director_security_group_id": "sg-0123456789abcdef0",
        },
        "infrastructure": {
            "elasticsearch_host": "search-acme-analytics-abc123.us-east-1.es.amazonaws.com",
            "emr_subnet_id": "subnet-0123456789abcdef0",
        },
        "database": {"host": "acme-analytics.abc123.us-east-1.rds.amazonaws.com", "port": 3306},
        "insights": {"base_url": "https://insights.example.com"},
        "pipeline": {
            "cluster_name": "Acme Analytics Cluster",
            "secure_repo_url": "git@github.com:acme/secure-config.git",
        },
    }
    for dotted, value in overrides.items():
        group, key = dotted.split("__", 1) if "__" in dotted else dotted.split(".", 1)
        answers.setdefault(group, {})[key] = value
    return answers


@pytest.fixture
def answers() -> dict[str, Any]:
    return complete_answers()


@pytest.fixture
def write_answers(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def write(data: dict[str, Any], name: str = "answers.yml") -> Path:
        path = tmp_path / name
        path.write_text(yamlio.dumps(data), encoding="utf-8")
        return path

    return write


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tmp_path / "secure-config"


def wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float = 300.0,
    shown: Callable[[], str] = lambda: "",
) -> None:
    """Poll until ``condition()``; past ``timeout`` (a hang guard) fail saying what was awaited
    and what ``shown()`` shows (e.g. a pane)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f}s\n{shown()}")
        time.sleep(0.05)


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120", **extra})
    return env


def run_cli(
    *args: str | Path, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess (``python -m screens``)."""
    return subprocess.run(
        [sys.executable, "-m", "screens", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(**env),
        timeout=600,  # a bound for a hung run, not a measure: terraform applies under load
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.MariaDB]:
    """One throwaway MariaDB for the whole run (tests reset it through ``db``)."""
    import services

    yield from services.mariadb_service(tmp_path_factory.mktemp("mariadb"))


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.SSHD]:
    """One second sshd on 127.0.0.1 for the whole run."""
    import services

    yield from services.sshd_service(tmp_path_factory.mktemp("sshd"))


@pytest.fixture
def sshd(sshd_server: services.SSHD) -> Iterator[services.SSHD]:
    """The session's sshd, running (a test that stops or restarts it leaves it running)."""
    if sshd_server.process is None:
        sshd_server.start()
    yield sshd_server
    if sshd_server.process is None:
        sshd_server.start()


@pytest.fixture
def jenkins(request: pytest.FixtureRequest) -> Iterator[JenkinsStandin]:
    """A Jenkins stand-in on 127.0.0.1; its script console replies with the test module's
    ``JENKINS_SCRIPT_OUTPUT`` (nothing when the module sets none)."""
    from jenkins_standin import JenkinsStandin

    output = getattr(request.module, "JENKINS_SCRIPT_OUTPUT", "")
    standin = JenkinsStandin(script_output=output).start()
    yield standin
    standin.stop()


@pytest.fixture
def db(mariadb_server: services.MariaDB) -> Iterator[services.MariaDB]:
    """The MariaDB, running and without anything an earlier test created."""
    if mariadb_server.process is None:
        mariadb_server.start()
    mariadb_server.reset()
    yield mariadb_server
    if mariadb_server.process is None:
        mariadb_server.start()
    mariadb_server.reset()


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    """A moto server on 127.0.0.1 for the module's tests (reset them with ``moto.reset()``)."""
    import moto_service

    server = moto_service.start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The AWS adapter on a fresh moto, through a named profile in a private config file."""
    import moto_service

    from wizard.aws import Aws, Target

    moto.reset()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = moto_service.write_profile(tmp_path / "aws", "acme-analytics", "AKIAANY", "any")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Aws(Target("acme-analytics", moto_service.REGION, moto.url))
