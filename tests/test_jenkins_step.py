"""The jenkins step, headless and in-process: the tests' sshd is the director, the Jenkins
stand-in of wizard/demo/jenkins_standin.py listens behind it (no Jenkins can be installed here; the
stand-in answers the REST calls python-jenkins makes and keeps jobs re-serialised as Jenkins does).

The stand-in cannot run Groovy: the script console's reply (``script_output``) is set by each test,
and a test that needs Jenkins to hold the executors the script set says so and sets them itself.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PLANTED_PASSWORD, complete_answers, run_cli
from jenkins_standin import JenkinsStandin
from services import SSHD, free_port

from wizard import jenkins_jobs, ssh
from wizard.answers import flatten
from wizard.engine import Session
from wizard.jenkins_jobs import JOBS_FILE
from wizard.states import DONE, FAILED, STALE
from wizard.steps.base import KEEP, OVERWRITE
from wizard.steps.jenkins import JOB_CONFLICT, LOCAL_PORT, TUNNEL, JenkinsDown, LocalPortTaken

DEFAULT_JOBS = (
    "Enrollments",
    "Enrollments by country",
    "Engagement",
    "Learner engagement",
    "Performance",
    "Videos",
)
NAMES = [f"insights.example.com {title}" for title in DEFAULT_JOBS]
ENROLLMENTS = NAMES[0]
#: What Jenkins prints for the settings script; the conftest's stand-in replies with it.
JENKINS_SCRIPT_OUTPUT = SETTINGS_REPLY = "executors=3 admin=ops@example.com\n"
HAND_MADE = """<?xml version='1.1' encoding='UTF-8'?>
<project>
  <description>made in the Jenkins UI</description>
  <builders><hudson.tasks.Shell><command>echo mine</command></hudson.tasks.Shell></builders>
</project>
"""


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    """The laptop line asks EC2's metadata service for the director's address: never here."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def known(tmp_path: Path, sshd: SSHD, line: str | None = None) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sshd.known_hosts_line() if line is None else line)
    return path


def jenkins_answers(
    sshd: SSHD | None, known_hosts: Path | None, jenkins_port: int, **overrides: Any
) -> dict[str, Any]:
    """Everything the jenkins step reads; without ``sshd`` the wizard runs on the director."""
    answers = complete_answers(**overrides)
    answers["infrastructure"]["analytics_private_ips"] = ["127.0.0.1"]
    answers.setdefault("jenkins", {})["port"] = jenkins_port
    if sshd is not None:
        answers["director"] = {
            "host": "127.0.0.1",
            "port": sshd.port,
            "user": sshd.user,
            "key_file": str(sshd.client_key),
            "known_hosts": str(known_hosts),
        }
    return answers


def make_repo(repo: Path, answers: dict[str, Any]) -> Path:
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(answers, "test"), "test")
    return repo


def apply_once(repo: Path, decisions: dict[str, str] | None = None) -> dict[str, Any]:
    with Session.open(repo, command="test") as session:
        return session.apply(session.plan("jenkins", decisions))


def run_jenkins(repo: Path, answers: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    result = run_cli("run", "--answers", answers, repo, "--only", "jenkins", *extra)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def words(text: str) -> str:
    return " ".join(text.split())


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def state_of(repo: Path) -> dict[str, str]:
    with Session.open(repo, write=False) as session:
        status = next(s for s in session.status() if s.name == "jenkins")
    return {"state": status.state, "reason": status.reason}


def rendered(repo: Path) -> dict[str, str]:
    return jenkins_jobs.render((repo / JOBS_FILE).read_text())


# --- headless -----------------------------------------------------------------------------


def test_headless_run_creates_the_jobs_and_a_second_run_changes_nothing(
    sshd: SSHD,
    tmp_path: Path,
    repo: Path,
    jenkins: JenkinsStandin,
    write_answers: Callable[[dict[str, Any]], Path],
) -> None:
    answers = write_answers(jenkins_answers(sshd, known(tmp_path, sshd), jenkins.port))
    first = run_jenkins(repo, answers)
    assert first.returncode == 0, first.stderr
    text = words(first.stderr)
    assert "Jenkins 2.426.3: create 6 jobs, set executors 2 -> 3" in text
    assert "Jenkins access: Jenkins 2.426.3: created 6 jobs; open it with" in text

    # jobs.yml: the runbook's jobs from the answers, written 0644 and committed with the step
    jobs_yml = repo / JOBS_FILE
    assert (jobs_yml.stat().st_mode & 0o777) == 0o644
    with Session.open(repo, write=False) as session:
        values = jenkins_jobs.values_from(session.resolved.get)
    assert jobs_yml.read_text() == jenkins_jobs.default_jobs_yaml(values)
    assert JOBS_FILE in git(repo, "ls-files")
    assert "jenkins step done" in git(repo, "log", "-1", "--format=%B")

    # What was sent is exactly what jenkins-job-builder renders for jobs.yml.
    assert sorted(jenkins.jobs) == sorted(NAMES)
    assert sorted(jenkins.posts_to("/createItem")) == sorted(rendered(repo).values())
    (script,) = jenkins.scripts
    assert "setNumExecutors(3)" in script and "'ops@example.com'" in script
    assert state_of(repo)["state"] == DONE

    # The stand-in cannot run the Groovy: hold the executors it set, as Jenkins would.
    jenkins.executors = 3
    head, ledger = git(repo, "rev-parse", "HEAD"), (repo / ".wizard/state.yml").read_bytes()
    posted = len(jenkins.posted)
    second = run_jenkins(repo, answers)
    assert second.returncode == 0, second.stderr
    assert "the 6 jobs already match" in words(second.stderr)
    assert len(jenkins.posted) == posted  # nothing created, updated or set
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / ".wizard/state.yml").read_bytes() == ledger
    assert PLANTED_PASSWORD not in first.stderr + second.stderr


def test_an_edited_job_shows_its_diff_in_a_dry_run_and_is_applied(
    sshd: SSHD,
    tmp_path: Path,
    repo: Path,
    jenkins: JenkinsStandin,
    write_answers: Callable[[dict[str, Any]], Path],
) -> None:
    answers_data = jenkins_answers(sshd, known(tmp_path, sshd), jenkins.port)
    make_repo(repo, answers_data)
    apply_once(repo)
    jenkins.executors = 3  # what the settings script did (the stand-in runs no Groovy)
    jobs_yml = repo / JOBS_FILE
    edited = jobs_yml.read_text().replace("timed: H 0 * * *", "timed: H 2 * * *")
    assert edited != jobs_yml.read_text()
    jobs_yml.write_text(edited)
    assert state_of(repo) == {
        "state": STALE,
        "reason": f"{JOBS_FILE} changed since the jobs were applied: run the step to apply it",
    }

    answers = write_answers(answers_data)
    posted = len(jenkins.posted)
    dry = run_jenkins(repo, answers, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "update 1 job" in words(dry.stderr)
    diff = [words(line) for line in dry.stderr.splitlines() if "<spec>" in line]
    assert diff == ["- <spec>H 0 * * *</spec>", "+ <spec>H 2 * * *</spec>"]
    assert len(jenkins.posted) == posted  # a dry run changes nothing

    result = run_jenkins(repo, answers)
    assert result.returncode == 0, result.stderr
    assert "Jenkins access: Jenkins 2.426.3: updated 1 job;" in words(result.stderr)
    assert "<spec>H 2 * * *</spec>" in jenkins.jobs[ENROLLMENTS]
    assert jobs_yml.read_text() == edited  # the operator's file is kept as it is
    assert state_of(repo)["state"] == DONE


def test_a_job_changed_in_jenkins_is_shown_and_set_back(
    sshd: SSHD, tmp_path: Path, repo: Path, jenkins: JenkinsStandin
) -> None:
    make_repo(repo, jenkins_answers(sshd, known(tmp_path, sshd), jenkins.port))
    apply_once(repo)
    jenkins.executors = 3
    jenkins.jobs[ENROLLMENTS] = jenkins.jobs[ENROLLMENTS].replace("H 0 * * *", "H 4 * * *")
    with Session.open(repo, command="test") as session:
        step = session.step("jenkins")
        assert step.verify(session) == (
            f"changed in Jenkins since the wizard set them: {ENROLLMENTS}"
        )
        plan = session.plan("jenkins")
        assert plan.effects == ["Jenkins 2.426.3: update 1 job"]
        (note,) = [n for n in plan.notes if n.startswith("to update:")]
        head, _, diff = note.partition("\n")
        assert head == f"to update: {ENROLLMENTS} (changed in Jenkins since the wizard set it)"
        assert "-      <spec>H 4 * * *</spec>" in diff and "+      <spec>H 0 * * *</spec>" in diff
        assert step.question(plan) == "Jenkins 2.426.3: update 1 job?"
        session.apply(plan)
    assert "<spec>H 0 * * *</spec>" in jenkins.jobs[ENROLLMENTS]


def test_jobs_yml_follows_the_answers_until_edited(
    sshd: SSHD, tmp_path: Path, repo: Path, jenkins: JenkinsStandin
) -> None:
    make_repo(repo, jenkins_answers(sshd, known(tmp_path, sshd), jenkins.port))
    apply_once(repo)
    jenkins.executors = 3
    with Session.open(repo, command="test") as session:
        session.set_answer("jenkins.problem_response_reports", True)
        plan = session.plan("jenkins")
        (change,) = plan.pending  # never edited: regenerated from the answers
        assert "Problem response reports" in change.new
        assert plan.effects == ["Jenkins 2.426.3: create 1 job"]
        session.apply(plan)
        assert "insights.example.com Problem response reports" in jenkins.jobs
        # The operator edits the file: from then on it is theirs.
        (repo / JOBS_FILE).write_text((repo / JOBS_FILE).read_text() + "# mine\n")
        session.set_answer("jenkins.problem_response_reports", False)
        plan = session.plan("jenkins")
        assert not plan.pending and not plan.effects
        assert any("was edited by hand" in note for note in plan.notes)


def test_jobs_made_by_hand_are_never_touched_unless_taken_over(
    sshd: SSHD,
    tmp_path: Path,
    repo: Path,
    jenkins: JenkinsStandin,
    write_answers: Callable[[dict[str, Any]], Path],
) -> None:
    jenkins.add_job("Nightly backup", HAND_MADE)
    jenkins.add_job(ENROLLMENTS, HAND_MADE)  # by hand, with a name jobs.yml declares
    mine = dict(jenkins.jobs)
    answers_data = jenkins_answers(sshd, known(tmp_path, sshd), jenkins.port)
    result = run_jenkins(repo, write_answers(answers_data))
    assert result.returncode == 3, result.stderr  # headless: decide with --force
    assert ENROLLMENTS in words(result.stderr)
    assert jenkins.jobs == mine and not jenkins.posts_to("/createItem")

    with Session.open(repo, command="test") as session:
        plan = session.plan("jenkins")
        (conflict,) = plan.conflicts
        assert conflict.id == f"{JOB_CONFLICT}:{ENROLLMENTS}"
        plan = session.plan("jenkins", {conflict.id: KEEP})
        assert not plan.conflicts
        session.apply(plan)
        assert jenkins.jobs[ENROLLMENTS] == mine[ENROLLMENTS]
        assert jenkins.jobs["Nightly backup"] == mine["Nightly backup"]
        assert len(jenkins.posts_to("/createItem")) == 5
        jenkins.executors = 3
        again = session.plan("jenkins")  # the choice is remembered
        assert not again.conflicts and not again.effects
        taken = session.plan("jenkins", {conflict.id: OVERWRITE})
        assert taken.effects == ["Jenkins 2.426.3: update 1 job"]
        session.apply(taken)
    assert jenkins.jobs[ENROLLMENTS] != mine[ENROLLMENTS]
    assert jenkins.jobs["Nightly backup"] == mine["Nightly backup"]
    assert not [p for p in jenkins.posted if "Nightly" in p[0]]


def test_an_unknown_director_is_refused_headless_with_its_fingerprint(
    sshd: SSHD,
    tmp_path: Path,
    repo: Path,
    jenkins: JenkinsStandin,
    write_answers: Callable[[dict[str, Any]], Path],
) -> None:
    known_hosts = known(tmp_path, sshd, line="")
    answers = write_answers(jenkins_answers(sshd, known_hosts, jenkins.port))
    result = run_jenkins(repo, answers, "--json")
    assert result.returncode == 1
    (step,) = json.loads(result.stdout)["steps"]
    assert step["state"] == "failed"
    assert sshd.fingerprint() in step["reason"] and "ssh-keyscan" in step["reason"]
    assert known_hosts.read_text() == ""
    assert jenkins.requests == []
    assert state_of(repo)["state"] == FAILED


def test_a_changed_director_key_is_refused(
    sshd: SSHD, tmp_path: Path, repo: Path, jenkins: JenkinsStandin
) -> None:
    # known_hosts names another key for the director (the client key stands in for it).
    other = sshd.client_key.with_suffix(".pub").read_text().split()[:2]
    line = f"[127.0.0.1]:{sshd.port} {' '.join(other)}\n"
    make_repo(repo, jenkins_answers(sshd, known(tmp_path, sshd, line), jenkins.port))
    with (
        Session.open(repo, command="test") as session,
        pytest.raises(ssh.HostKeyChanged, match="HAS CHANGED"),
    ):
        session.plan("jenkins")
    assert jenkins.requests == []


def test_jenkins_down_gives_the_diagnostics(
    sshd: SSHD,
    tmp_path: Path,
    repo: Path,
    write_answers: Callable[[dict[str, Any]], Path],
) -> None:
    answers = write_answers(jenkins_answers(sshd, known(tmp_path, sshd), free_port()))
    result = run_jenkins(repo, answers)
    assert result.returncode == 1
    text = words(result.stderr)
    assert "cannot reach Jenkins at 127.0.0.1" in text
    assert "jenkins.listening (warn): nothing answers" in text
    assert "curl -sI" in text  # the fix says what to try on the analytics host
    with Session.open(repo, command="test") as session, pytest.raises(JenkinsDown) as down:
        session.plan("jenkins")
    ids = {f.id: f.verdict for f in down.value.findings}
    assert ids == {"jenkins.listening": "warn", "jenkins.nginx_port": "pass"}


def test_on_the_director_jenkins_is_reached_directly(repo: Path, jenkins: JenkinsStandin) -> None:
    make_repo(repo, jenkins_answers(None, None, jenkins.port))
    with Session.open(repo, command="test") as session:
        plan = session.plan("jenkins")
        assert any("directly (the wizard runs on the director)" in n for n in plan.notes)
        outputs = session.apply(plan)
        lines = session.step("jenkins").run_action("open_tunnel", session, {})
    assert outputs["url"] == f"http://127.0.0.1:{jenkins.port}/"
    assert sorted(jenkins.jobs) == sorted(NAMES)
    assert lines[0].startswith(f"Jenkins 2.426.3 answers at http://127.0.0.1:{jenkins.port}/")
    assert lines[1] == (
        f"  ssh -i ~/.ssh/director.pem -N -L 8080:127.0.0.1:{jenkins.port} "
        "ubuntu@<director public address>"
    )


# --- the form's action: a tunnel kept while the wizard runs --------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_open_jenkins_keeps_a_tunnel_until_the_session_closes(
    sshd: SSHD, tmp_path: Path, repo: Path, jenkins: JenkinsStandin
) -> None:
    known_hosts = known(tmp_path, sshd, line="")
    local = free_port()
    answers = jenkins_answers(sshd, known_hosts, jenkins.port)
    answers["jenkins"]["local_port"] = local
    make_repo(repo, answers)
    session = Session.open(repo, command="test")
    try:
        step = session.step("jenkins")
        with pytest.raises(ssh.HostKeyUnknown) as unknown:  # the form asks the operator
            step.run_action("open_tunnel", session, {})
        trusted = {unknown.value.key: unknown.value.value}
        with socket.socket() as holder:  # the local port is taken: the next free one is offered
            holder.bind(("127.0.0.1", local))
            holder.listen(1)
            with pytest.raises(LocalPortTaken) as taken:
                step.run_action("open_tunnel", session, trusted)
            assert taken.value.key == LOCAL_PORT
            offered = int(taken.value.value)
            assert offered != local and f"127.0.0.1:{offered}" in taken.value.question
            decisions = {**trusted, LOCAL_PORT: str(offered)}
            (line,) = step.run_action("open_tunnel", session, decisions)
        url = f"http://127.0.0.1:{offered}/"
        assert line.startswith(f"Jenkins 2.426.3 is at {url} through ")
        assert f"[127.0.0.1]:{sshd.port}" in known_hosts.read_text()  # trusted: recorded
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.headers["X-Jenkins"] == "2.426.3"
        (again,) = step.run_action("open_tunnel", session, decisions)
        assert "already open" in again
        assert session.kept(TUNNEL) is not None
    finally:
        session.close()
    assert port_is_free(offered)
