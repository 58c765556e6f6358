"""The jenkins step in the TUI (Pilot): the tests' sshd is the director and the Jenkins stand-in
(wizard/demo/jenkins_standin.py; no Jenkins can be installed here) listens behind it."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from jenkins_standin import JenkinsStandin
from services import SSHD, free_port
from snapshot_apps.repos import form_ready, open_app, settle
from test_jenkins_step import ENROLLMENTS, NAMES, SETTINGS_REPLY, jenkins_answers, known, make_repo
from textual.pilot import Pilot
from textual.widgets import Static

from screens.confirm import ConfirmDialog
from screens.main import MainScreen
from screens.preview import PreviewScreen
from screens.step_form import StepForm

JENKINS_SCRIPT_OUTPUT = SETTINGS_REPLY  # the conftest's stand-in replies with it


def text(widget: Static) -> str:
    shown: Any = widget.content
    return str(getattr(shown, "code", shown))  # a diff is a Syntax: its text is ``code``


def preview_text(pilot: Pilot[None]) -> str:
    return "\n".join(text(w) for w in pilot.app.screen.query(Static))


async def wait_for(pilot: Pilot[None], kind: type, what: str) -> None:
    for _ in range(200):
        # Mounted too: what it shows is there to read (and keys go to a dialog that is drawn).
        if isinstance(pilot.app.screen, kind) and pilot.app.screen.is_mounted:
            return
        await pilot.pause(0.05)
    raise AssertionError(f"{what} never showed")


def form_message(pilot: Pilot[None]) -> str:
    form = pilot.app.screen.query_one("#jenkins", StepForm)
    return text(form.query_one("#form-message", Static))


def test_trust_the_director_preview_apply_then_open_jenkins(
    sshd: SSHD, tmp_path: Path, jenkins: JenkinsStandin
) -> None:
    known_hosts = known(tmp_path, sshd, line="")
    local = free_port()
    answers = jenkins_answers(sshd, known_hosts, jenkins.port)
    answers["jenkins"]["local_port"] = local
    repo = make_repo(tmp_path / "secure", answers)
    app = open_app(repo, "jenkins")
    seen: dict[str, str] = {}

    async def main() -> None:
        async with app.run_test(size=(100, 40)) as pilot:
            await form_ready(pilot)
            await settle(pilot)
            await pilot.press("ctrl+p")
            await wait_for(pilot, ConfirmDialog, "the host key question")
            seen["asked"] = text(pilot.app.screen.query_one("#question", Static))
            await pilot.press("y")  # trust the director's key
            await settle(pilot)
            assert isinstance(pilot.app.screen, PreviewScreen)
            seen["preview"] = preview_text(pilot)
            await pilot.press("ctrl+s")
            await wait_for(pilot, ConfirmDialog, "the confirmation")
            seen["question"] = text(pilot.app.screen.query_one("#question", Static))
            await pilot.press("y")
            await settle(pilot)
            assert isinstance(pilot.app.screen, MainScreen)
            seen["done"] = form_message(pilot)

            # A job edited in Jenkins since: the preview shows its config.xml diff.
            jenkins.executors = 3  # what the settings script did (the stand-in runs no Groovy)
            changed = jenkins.jobs[ENROLLMENTS].replace("H 0 * * *", "H 4 * * *")
            jenkins.jobs[ENROLLMENTS] = changed
            await pilot.press("ctrl+p")
            await settle(pilot)
            seen["changed"] = preview_text(pilot)
            await pilot.press("escape")
            await settle(pilot)

            await pilot.press("f5")  # open Jenkins: a tunnel kept while the wizard runs
            await settle(pilot)
            seen["opened"] = form_message(pilot)
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as response:
                seen["header"] = response.headers["X-Jenkins"]

    try:
        asyncio.run(main())
    finally:
        app.session.close()

    assert sshd.fingerprint() in seen["asked"] and "Trust" in seen["asked"]
    assert f"[127.0.0.1]:{sshd.port}" in known_hosts.read_text()
    assert "Jenkins 2.426.3: create 6 jobs" in seen["preview"]
    assert "to create: " + ", ".join(NAMES) in seen["preview"]
    assert seen["question"].startswith("Jenkins 2.426.3: create 6 jobs")
    assert "write jenkins/jobs.yml" in seen["question"]
    assert "created 6 jobs" in seen["done"], seen["done"]
    assert sorted(jenkins.jobs) == sorted(NAMES)
    assert "Jenkins 2.426.3: update 1 job" in seen["changed"]
    assert "-      <spec>H 4 * * *</spec>" in seen["changed"]
    assert "+      <spec>H 0 * * *</spec>" in seen["changed"]
    assert f"Jenkins 2.426.3 is at http://127.0.0.1:{local}/" in seen["opened"], seen["opened"]
    assert seen["header"] == "2.426.3"
    with pytest.raises(OSError):  # quitting the wizard closed the tunnel
        urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=5)


def test_jenkins_down_shows_the_diagnostics_in_the_preview(sshd: SSHD, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "secure", jenkins_answers(sshd, known(tmp_path, sshd), free_port()))
    app = open_app(repo, "jenkins")
    seen: dict[str, str] = {}

    async def main() -> None:
        async with app.run_test(size=(100, 40)) as pilot:
            await form_ready(pilot)
            await settle(pilot)
            await pilot.press("ctrl+p")
            await settle(pilot)
            assert isinstance(pilot.app.screen, PreviewScreen)
            seen["status"] = text(pilot.app.screen.query_one("#preview-status", Static))

    try:
        asyncio.run(main())
    finally:
        app.session.close()
    status = " ".join(seen["status"].split())
    assert "cannot reach Jenkins at 127.0.0.1" in status, status
    assert "jenkins.listening (warn)" in status and "curl -sI" in status
    assert "Traceback" not in status
