"""Demo mode end to end: ``demo DIR --headless --json`` starts the stand-ins (moto, MariaDB, sshd,
Jenkins, Insights, the Analytics API), runs every step for real against them (terraform with the
provider mirror, ansible over the demo sshd) and ends with the report.

The run is slow (minutes), so it runs once per module and the tests read what it left: its JSON
document, the demo directory, an empty HOME that must stay empty.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ci_required import skip_missing
from conftest import run_cli
from terraform_service import missing
from test_demo_tmux import open_demo
from test_tui_terminal import screen, tmux, wait_until  # noqa: F401

from wizard.aws import Target
from wizard.demo import core
from wizard.errors import UsageError
from wizard.report import ITEMS
from wizard.steps import NAMES


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One headless demo in a fresh working directory, with a HOME of its own."""
    why = missing()
    if why:
        skip_missing(why)
    base = tmp_path_factory.mktemp("demo")
    home, cwd = base / "home", base / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = {"HOME": str(home), "CI": os.environ.get("CI", "")}
    result = run_cli("demo", "demo-repo", "--headless", "--json", cwd=cwd, **env)
    return {"result": result, "dir": cwd / "demo-repo", "home": home, "cwd": cwd, "env": env}


def test_the_headless_demo_runs_every_step_to_a_passing_report(demo_run: dict[str, Any]) -> None:
    result = demo_run["result"]
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert [s["name"] for s in doc["steps"]] == list(NAMES)
    assert {s["state"] for s in doc["steps"]} == {"done"}, doc["steps"]
    verdicts = {c["id"]: c["verdict"] for c in doc["checks"]}
    assert set(ITEMS) <= set(verdicts)  # the report's items, and the nine prerequisites
    assert len(verdicts) == len(ITEMS) + 9
    assert set(verdicts.values()) == {"pass"}, verdicts
    saved = (demo_run["dir"] / ".wizard" / "report.md").read_text()
    assert "| `api.health` | PASS |" in saved


def test_the_playbooks_ran_on_the_demo_host_and_jenkins_got_its_files(
    demo_run: dict[str, Any],
) -> None:
    host = demo_run["dir"] / ".demo" / "hosts" / "analytics"
    assert (host / "analytics_single.done").is_file()
    assert (host / "analytics-jenkins.done").is_file()
    seen = json.loads((host / "analytics_single-127.0.0.1.json").read_text())
    assert seen["INSIGHTS_BASE_URL"].startswith("http://127.0.0.1:")
    jenkins_home = host / "jenkins-home"
    assert {p.name for p in jenkins_home.iterdir()} >= {"jenkins_env", "emr-vars.yml"}


def test_the_demo_stops_every_stand_in_and_writes_nothing_outside_its_directory(
    demo_run: dict[str, Any],
) -> None:
    directory: Path = demo_run["dir"]
    assert not (directory / ".demo" / core.PIDS).exists()
    marker = str(directory.resolve() / ".demo").encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            assert marker not in cmdline, cmdline.replace(b"\0", b" ")
    assert list(demo_run["home"].iterdir()) == []
    assert [p.name for p in demo_run["cwd"].iterdir()] == ["demo-repo"]
    assert core.is_demo_repo(directory)
    ignored = subprocess.run(
        ["git", "-C", str(directory), "status", "--porcelain", "--ignored"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "!! .demo/" in ignored  # the stand-ins' state never reaches a commit


def test_run_and_the_wizard_say_a_demo_repo_is_one(demo_run: dict[str, Any]) -> None:
    directory: Path = demo_run["dir"]
    answers = directory / ".demo" / core.ANSWERS
    result = run_cli("run", "--answers", answers, directory, **demo_run["env"])
    assert result.returncode == 2, result.stderr
    assert "is a demo secure repo" in " ".join(result.stderr.split())
    assert "analytics-wizard demo" in result.stderr
    stopped = run_cli("demo", directory, "--stop", **demo_run["env"])
    assert stopped.returncode == 0 and "nothing was running" in stopped.stderr


def test_a_demo_repo_never_reaches_an_endpoint_but_its_own(demo_run: dict[str, Any]) -> None:
    directory: Path = demo_run["dir"]
    backends = core.pinned_backends(directory)
    for endpoint in (None, "https://ec2.us-east-1.amazonaws.com", "http://127.0.0.1:1/"):
        with pytest.raises(UsageError, match="a demo never reaches real AWS"):
            backends.aws(Target("demo", "us-east-1", endpoint))


def test_reset_and_stop_touch_only_a_demo_repo(tmp_path: Path) -> None:
    mine = tmp_path / "secure-config"
    mine.mkdir()
    (mine / "vars-analytics.yml").write_text("mine\n")
    reset = run_cli("demo", mine, "--reset")
    assert reset.returncode == 2 and "is not a demo repo" in reset.stderr
    stop = run_cli("demo", mine, "--stop")
    assert stop.returncode == 5 and "is not a demo repo" in stop.stderr
    start = run_cli("demo", mine, "--headless")
    assert start.returncode == 2 and "is not a demo repo" in " ".join(start.stderr.split())
    assert (mine / "vars-analytics.yml").read_text() == "mine\n"


def test_the_demo_wizard_says_demo_and_quitting_stops_the_stand_ins(
    tmux: Any, tmp_path: Path
) -> None:
    directory = tmp_path / "demo-repo"
    status_file = open_demo(tmux, directory, home=tmp_path)  # waits for the demo's stand-ins
    wait_until(lambda: "AWS endpoint URL" in screen(tmux), "the first step's form", tmux)
    shown = screen(tmux)
    assert "DEMO" in shown.splitlines()[0]
    assert "http://127.0.0.1:" in shown  # the answers point at the stand-ins
    assert set(core.running(directory)) == {"standins", "mariadb", "sshd"}
    pids = list(core.running(directory).values())
    tmux("send-keys", "-t", "wizard", "C-q")
    wait_until(status_file.exists, "the demo exiting", tmux, tries=600)
    assert status_file.read_text().strip() == "0"
    assert core.running(directory) == {}
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists()
            or b"zombie" in Path(f"/proc/{pid}/status").read_bytes().lower()
        )


def test_the_private_mariadb_starts_under_a_deep_directory(tmp_path: Path) -> None:
    """A unix socket's path may not exceed 107 bytes; a demo directory (or a worker's temporary
    one) can be deeper than that, and MariaDB refused to start there."""
    from wizard.demo import services

    base = tmp_path / ("d" * 60) / ("e" * 60) / "mariadb"
    assert len(str(base / "mysqld.sock")) > 107
    server = services.MariaDB(base)
    server.install()
    server.start()
    try:
        assert server.sql("SELECT 1") == [(1,)]
    finally:
        server.stop()
