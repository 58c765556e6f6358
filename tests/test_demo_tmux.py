"""Demo mode end to end in a real 80x24 terminal: ``analytics-wizard demo DIR`` in tmux, driven
by keys only through every step to a report that passes everywhere, quitting half-way.

One walk (terraform applies against moto take minutes): the prerequisites and terraform, quit
(the stand-ins stop and save what they hold), ``demo DIR`` again resumes where it was (terraform
sees no change), the remaining steps to the report; then the terminal hangs up (the stand-ins
stay), ``--stop``, and a saved state that cannot be read makes the demo start over.
"""

from __future__ import annotations

import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from ci_required import skip_missing
from conftest import ROOT, run_cli, wait_for
from terraform_service import missing
from test_tui_terminal import Tmux, released, screen, tmux  # noqa: F401

from wizard import yamlio
from wizard.demo import core, saved
from wizard.steps import NAMES

STEP_WAIT = 600.0  # a bound for a hung step, not a measure: terraform under load takes minutes


def open_demo(tmux: Tmux, directory: Path, home: Path) -> Path:
    """``analytics-wizard demo DIR`` in an 80x24 pane; the file its exit status goes to."""
    status = directory.parent / "exit-status"
    status.unlink(missing_ok=True)
    tmux("kill-session", "-t", "wizard")  # the last one's pane, kept by remain-on-exit
    wizard = shlex.join([sys.executable, "-m", "screens", "demo", str(directory)])
    command = ["sh", "-c", f"{wizard}; echo $? > {shlex.quote(str(status))}; sleep 60"]
    env = ["TERM=xterm-256color", f"PYTHONPATH={ROOT}", "LANG=C.UTF-8", f"HOME={home}"]
    started = tmux(
        "new-session", "-d", "-s", "wizard", "-x", "80", "-y", "24", "env", *env, *command
    )
    assert started.returncode == 0, started.stderr
    # Starting MariaDB and seeding moto take a while on a loaded machine. It opens on the
    # first step not done yet.
    wait_for(lambda: "Steps" in header(tmux), "the demo's wizard", 300, shown(tmux))
    wait_for(lambda: " · " in header(tmux), "the step's state", 60, shown(tmux))
    return status


def shown(tmux: Tmux) -> Any:
    return lambda: screen(tmux)


def header(tmux: Tmux) -> str:
    """The title line of the step form (below the app's header)."""
    lines = screen(tmux).splitlines()
    return lines[1] if len(lines) > 1 else ""


def keys(tmux: Tmux, *names: str) -> None:
    tmux("send-keys", "-t", "wizard", *names)


def select(tmux: Tmux, title: str, key: str = "Down") -> None:
    """f2 to the step list, one step down (or up) to ``title``, enter into its form."""
    keys(tmux, "F2", key)
    wait_for(lambda: f"{title} · " in header(tmux), f"{title} selected", 60, shown(tmux))
    keys(tmux, "Enter")


def carry_out(tmux: Tmux, title: str, ready: str, yes: str | None) -> None:
    """Preview the selected step (ctrl+p), wait for ``ready``, run it (ctrl+s), answer the
    confirmation whose button says ``yes``, and wait until the step is done."""
    keys(tmux, "C-p")
    wait_for(lambda: ready in screen(tmux), f"the {title} preview", STEP_WAIT, shown(tmux))
    keys(tmux, "C-s")
    if yes is not None:
        wait_for(lambda: yes in screen(tmux), f"the {title} question", 60, shown(tmux))
        keys(tmux, "y")
    wait_for(lambda: f"{title} · done" in header(tmux), f"{title} done", STEP_WAIT, shown(tmux))


def exited(status: Path) -> bool:
    return status.exists() and status.read_text().strip() != ""


def gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            if b"zombie" not in Path(f"/proc/{pid}/status").read_bytes().lower():
                return False
        except OSError:
            continue
    return True


def wizard_pid(directory: Path) -> int:
    """The pid of the ``analytics-wizard demo DIR`` process."""
    wanted = f"screens\0demo\0{directory}\0".encode()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and wanted in (proc / "cmdline").read_bytes():
                return int(proc.name)
        except OSError:
            continue
    raise AssertionError(f"no wizard running on {directory}")


def test_the_demo_walked_by_keys_quit_half_way_resumes_and_reports_pass_everywhere(
    tmux: Tmux, tmp_path: Path
) -> None:
    why = missing()
    if why:
        skip_missing(why)
    directory, home = tmp_path / "demo-repo", tmp_path / "home"
    home.mkdir()
    status = open_demo(tmux, directory, home)
    assert "DEMO" in screen(tmux).splitlines()[0]
    assert "Prerequisites · pending" in header(tmux)
    wait_for(lambda: "AWS endpoint URL" in screen(tmux), "the form's fields", 60, shown(tmux))
    assert "http://127.0.0.1:" in screen(tmux)  # the moto stand-in

    # --- the first two steps, then quit ----------------------------------------------------
    carry_out(tmux, "Prerequisites", "Nothing blocks", None)
    select(tmux, "Terraform")
    carry_out(tmux, "Terraform", "to create", "Apply (y)")
    state = directory / core.STATE
    answers_before = yamlio.load(state / core.ANSWERS)
    pids = list(core.running(directory).values())
    assert len(pids) == 3
    keys(tmux, "C-q")
    wait_for(lambda: exited(status), "the demo exiting", 120, shown(tmux))
    assert status.read_text().strip() == "0"
    assert core.running(directory) == {}
    assert gone(pids)
    for name in (saved.MOTO_FILE, saved.JENKINS_FILE):
        assert (state / name).stat().st_mode & 0o777 == 0o600
    assert state.stat().st_mode & 0o777 == 0o700

    # --- again: it resumes, on the same ports but one that is taken now ---------------------
    insights_port = int(answers_before["insights"]["base_url"].rsplit(":", 1)[1])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", insights_port))
        taken.listen()
        status = open_demo(tmux, directory, home)
        answers = yamlio.load(state / core.ANSWERS)
    wait_for(lambda: "Database · " in header(tmux), "the first step not done", 60, shown(tmux))
    wait_for(lambda: "✔ Terraform" in screen(tmux), "the done steps listed", 60, shown(tmux))
    assert "✔ Prerequisites" in screen(tmux)
    assert answers["aws"] == answers_before["aws"]  # terraform's endpoint did not move
    assert answers["database"] == answers_before["database"]
    assert answers["ansible"]["ssh_port"] == answers_before["ansible"]["ssh_port"]
    assert answers["insights"]["base_url"] != answers_before["insights"]["base_url"]
    assert not saved.has_saved(state)  # loaded: a stand-in killed now does not resume from it

    # moto kept the account: terraform finds every resource it made, unchanged
    select(tmux, "Terraform", "Up")
    keys(tmux, "C-p")
    wait_for(lambda: "terraform plan" in screen(tmux), "the terraform plan", STEP_WAIT, shown(tmux))
    assert "No changes" in screen(tmux)
    keys(tmux, "Escape")
    wait_for(lambda: "Terraform · done" in header(tmux), "back in the form", 60, shown(tmux))

    # --- the rest, to the report ----------------------------------------------------------
    select(tmux, "Database")
    carry_out(tmux, "Database", "SQL statements will run", "Run (y)")
    select(tmux, "Secure-repo files")
    carry_out(tmux, "Secure-repo files", "files will be written", "Write (y)")
    select(tmux, "Playbooks")
    carry_out(tmux, "Playbooks", "analytics_single.yml on 1 host", "Run (y)")
    select(tmux, "Jenkins access")
    carry_out(tmux, "Jenkins access", "jobs: 6 to create", "Apply jobs (y)")
    select(tmux, "Verification")
    carry_out(tmux, "Verification", "Nothing blocks", None)
    final = screen(tmux)
    assert "8 of 8 items pass" in " ".join(final.split())
    assert "Traceback" not in final
    report = (directory / ".wizard" / "report.md").read_text()
    assert "8 passed, 0 warnings, 0 failed" in report
    assert "| `insights.answers` | PASS |" in report
    ledger = yamlio.load(directory / ".wizard" / "state.yml")
    assert {name: ledger["steps"][name]["status"] for name in NAMES} == dict.fromkeys(NAMES, "done")

    # --- the terminal hangs up: the stand-ins stay for the next 'demo DIR' -----------------
    running = core.running(directory)
    assert set(running) == {"standins", "mariadb", "sshd"}
    wizard = wizard_pid(directory)
    tmux("kill-session", "-t", "wizard")
    # its lock is released before it decides about the stand-ins: wait for the process itself
    wait_for(lambda: gone([wizard]), "the wizard exiting on the hang-up", 60)
    assert released(directory)
    assert core.running(directory) == running
    stopped = run_cli("demo", directory, "--stop", HOME=str(home))
    assert stopped.returncode == 0 and "stopped" in stopped.stderr, stopped.stderr
    assert core.running(directory) == {}
    assert list(home.iterdir()) == []  # nothing written outside the demo's directory

    # --- a saved state that cannot be read: said, and the demo starts over ----------------
    (state / saved.MOTO_FILE).write_bytes(b"not a pickle")
    said: list[str] = []
    try:
        core.start(directory, said.append)
    finally:
        core.stop(directory)
    assert any("saved state cannot be loaded" in line for line in said), said
    assert any("starting over" in line for line in said), said
    assert not (directory / ".wizard").exists()  # a new demo repo


@pytest.fixture(autouse=True)
def _no_demo_left(tmp_path: Path) -> Any:
    """Whatever the walk's outcome, no stand-in of it outlives the test."""
    yield
    core.stop(tmp_path / "demo-repo")
