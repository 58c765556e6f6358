"""The wizard in a real terminal: tmux runs ``python -m screens`` in an 80x24 pane.

What Pilot cannot show: the launcher, a real pty, TERM values seen on director hosts, and the
process exiting cleanly on ctrl+q. Each test has its own tmux server (private socket).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ROOT
from snapshot_apps.repos import fixed_answers, make_repo

from wizard import yamlio
from wizard.engine import Session
from wizard.lock import LockedError

TMUX = shutil.which("tmux") or "/usr/bin/tmux"
pytestmark = pytest.mark.skipif(not Path(TMUX).exists(), reason="tmux is not installed")

Tmux = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    """tmux on a socket of this test's own, with no status line: the pane is the full 80x24."""
    config = tmp_path / "tmux.conf"
    config.write_text("set -g status off\nset -g remain-on-exit on\n")
    socket = f"wizard-test-{uuid.uuid4().hex[:12]}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TMUX, "-u", "-L", socket, "-f", str(config), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    # A session of its own keeps the server up when a test kills its wizard's session: the
    # next new-session could otherwise reach a server still exiting ("server exited
    # unexpectedly").
    run("new-session", "-d", "-s", "keep", "sleep", "3600")
    yield run
    run("kill-server")


def screen(tmux: Tmux) -> str:
    return tmux("capture-pane", "-p", "-t", "wizard").stdout


def pane(tmux: Tmux, field: str) -> str:
    return tmux("display-message", "-p", "-t", "wizard", f"#{{{field}}}").stdout.strip()


def wait_until(check: Callable[[], bool], what: str, tmux: Tmux, tries: int = 300) -> None:
    """Poll (bounded) until ``check`` holds; on failure show the screen as it was."""
    for _ in range(tries):
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen; the pane shows:\n{screen(tmux)}")


@pytest.mark.parametrize("term", ["xterm-256color", "screen", "tmux-256color", "vt100"])
def test_wizard_in_a_real_terminal(tmux: Tmux, repo: Path, term: str) -> None:
    make_repo(repo, fixed_answers(client__name="globex"), files_done=True)
    # The exit status goes to a file: tmux may drop a dead pane before its status can be read.
    status_file = repo.parent / "exit-status"
    wizard = shlex.join([sys.executable, "-m", "screens", str(repo)])
    command = ["sh", "-c", f"{wizard}; echo $? > {shlex.quote(str(status_file))}; sleep 30"]
    env = [f"TERM={term}", f"PYTHONPATH={ROOT}", "LANG=C.UTF-8"]
    started = tmux(
        "new-session", "-d", "-s", "wizard", "-x", "80", "-y", "24", "env", *env, *command
    )
    assert started.returncode == 0, started.stderr
    assert pane(tmux, "pane_width") == "80" and pane(tmux, "pane_height") == "24"

    # It opens on the first step not done yet: the prerequisites (the files step is done).
    wait_until(lambda: "AWS profile" in screen(tmux), "the prerequisites form", tmux)
    wait_until(lambda: "done" in screen(tmux), "the step states", tmux)
    shown = screen(tmux)
    for title in ("Prerequisites", "Secure-repo files", "Verification", "pending", "Quit"):
        assert title in shown

    # Keyboard only: f2 to the step list, down to the files step, enter into its form, where
    # the client name field has focus (its help shows) with its text selected, so typing
    # replaces it. Each burst waits for its effect: Textual runs a bound key (end, enter) once
    # it has bubbled up to the app, so text sent right behind it can overtake it.
    tmux("send-keys", "-t", "wizard", "F2", "Down", "Down", "Down")
    wait_until(lambda: "Client name" in screen(tmux), "the files form", tmux)
    tmux("send-keys", "-t", "wizard", "Enter")
    wait_until(lambda: "client.name" in screen(tmux), "focus on the first field", tmux)
    tmux("send-keys", "-t", "wizard", "-l", "initech")
    wait_until(lambda: "initech" in screen(tmux), "the typed name", tmux)
    tmux("send-keys", "-t", "wizard", "Enter")
    wait_until(lambda: "stale" in screen(tmux), "the step turning stale", tmux)

    tmux("send-keys", "-t", "wizard", "C-q")
    wait_until(status_file.exists, "the wizard exiting", tmux)
    wait_until(lambda: status_file.read_text().strip() != "", "the exit status", tmux)
    assert status_file.read_text().strip() == "0"
    assert "Traceback" not in screen(tmux)
    saved = yamlio.load(repo / ".wizard" / "answers.yml")
    assert saved["client"]["name"] == "initech"
    Session.open(repo, write=True).close()  # the lock was released on the way out


def start_wizard(tmux: Tmux, repo: Path, term: str = "xterm-256color") -> Path:
    """The wizard on ``repo`` in an 80x24 pane; the file its exit status will be written to."""
    status_file = repo.parent / "exit-status"
    wizard = shlex.join([sys.executable, "-m", "screens", str(repo)])
    command = ["sh", "-c", f"{wizard}; echo $? > {shlex.quote(str(status_file))}; sleep 30"]
    env = [f"TERM={term}", f"PYTHONPATH={ROOT}", "LANG=C.UTF-8"]
    started = tmux(
        "new-session", "-d", "-s", "wizard", "-x", "80", "-y", "24", "env", *env, *command
    )
    assert started.returncode == 0, started.stderr
    return status_file


def released(repo: Path) -> bool:
    try:
        Session.open(repo, write=True).close()
    except LockedError:
        return False
    return True


def quit_wizard(tmux: Tmux, status_file: Path) -> None:
    tmux("send-keys", "-t", "wizard", "C-q")
    wait_until(status_file.exists, "the wizard exiting", tmux)
    wait_until(lambda: status_file.read_text().strip() != "", "the exit status", tmux)
    assert status_file.read_text().strip() == "0"


def test_keys_typed_ahead_with_their_corrections_land_in_the_fields_they_were_meant_for(
    tmux: Tmux, repo: Path
) -> None:
    make_repo(repo)
    status_file = start_wizard(tmux, repo)
    # A new repo opens on the prerequisites, the AWS profile field focused (its help shows).
    wait_until(lambda: "aws.profile" in screen(tmux), "focus on the AWS profile", tmux)
    # One send-keys call: as a fast typist over a laggy SSH link sends them, all at once.
    # Enter confirms and moves on too (past the optional endpoint with Tab). The editing keys
    # (backspace, ctrl+u, the arrows) apply where and when they were typed: Textual runs an
    # Input's own key bindings only once the key has gone up to the app, after the letters
    # behind it, and in whichever field has the focus by then.
    keys = [
        *("globex-opz", "BSpace", "s", "Tab", "C-u", "eu-west-1", "Enter", "Tab"),
        *("lms.globe.test", "Left", "Left", "Left", "Left", "Left", "x", "BTab"),
    ]
    tmux("send-keys", "-t", "wizard", *keys)
    wait_until(lambda: "lms.globex.test" in screen(tmux), "the typed LMS host", tmux)
    # The help under the form is the focused field's (the endpoint's, after the last shift+tab),
    # not that of the field whose keys were handled last.
    wait_until(lambda: "aws.endpoint_url" in screen(tmux), "the endpoint's help", tmux, 30)
    quit_wizard(tmux, status_file)
    saved = yamlio.load(repo / ".wizard" / "answers.yml")
    assert saved["aws"]["profile"] == "globex-ops"
    assert saved["aws"]["region"] == "eu-west-1"
    assert saved["edxapp"]["lms_host"] == "lms.globex.test"


def test_what_was_typed_when_the_connection_dropped_is_back_on_the_next_start(
    tmux: Tmux, repo: Path
) -> None:
    make_repo(repo)
    start_wizard(tmux, repo)
    wait_until(lambda: "aws.profile" in screen(tmux), "focus on the AWS profile", tmux)
    tmux("send-keys", "-t", "wizard", "-l", "globex-o")
    wait_until(lambda: "globex-o" in screen(tmux), "the typed text", tmux)
    # The pane goes away as an SSH session does: its processes get SIGHUP.
    pid = pane(tmux, "pane_pid")
    tmux("kill-session", "-t", "wizard")
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), "the pane's shell ending", tmux)
    draft = repo / ".wizard" / "draft.json"
    wait_until(draft.exists, "the draft written", tmux)
    wait_until(lambda: released(repo), "the wizard exiting (its lock released)", tmux)
    assert draft.stat().st_mode & 0o777 == 0o600
    answers = repo / ".wizard" / "answers.yml"
    assert not answers.exists() or "globex" not in answers.read_text()  # unfinished: no answer

    status_file = start_wizard(tmux, repo)
    wait_until(lambda: "connection dropped" in screen(tmux), "the draft restored", tmux)
    shown = screen(tmux)
    assert "globex-o" in shown
    assert not draft.exists()
    tmux("send-keys", "-t", "wizard", "-l", "ps")
    tmux("send-keys", "-t", "wizard", "Enter")
    wait_until(lambda: "globex-ops" in screen(tmux), "the finished text", tmux)
    quit_wizard(tmux, status_file)
    assert yamlio.load(repo / ".wizard" / "answers.yml")["aws"]["profile"] == "globex-ops"
