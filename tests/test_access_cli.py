"""``analytics-wizard tunnel`` and ``analytics-wizard report`` as the operator runs them: the real
console entry point in a subprocess, the tests' sshd as the director, stand-ins behind it for
Jenkins, Insights and the API (none can be installed here), moto for the bucket."""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import web_standins
from conftest import PLANTED_PASSWORD, cli_env, complete_answers, run_cli
from jenkins_standin import JenkinsStandin
from services import SSHD, free_port

from wizard import jenkins_jobs
from wizard.answers import flatten
from wizard.engine import Session

WAIT = 60


def make_repo(repo: Path, answers: dict[str, Any], files: bool = False) -> Path:
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(answers, "test"), "test")
        if files:
            session.apply(session.plan("files"))
    return repo


def director_answers(sshd: SSHD, known_hosts: Path, jenkins_port: int) -> dict[str, Any]:
    return {
        "director": {
            "host": "127.0.0.1",
            "port": sshd.port,
            "user": sshd.user,
            "key_file": str(sshd.client_key),
            "known_hosts": str(known_hosts),
        },
        "infrastructure": {"analytics_private_ips": ["127.0.0.1"]},
        "jenkins": {"port": jenkins_port},
    }


def known(tmp_path: Path, sshd: SSHD, line: str | None = None) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sshd.known_hosts_line() if line is None else line)
    return path


def port_is_free(port: int) -> bool:
    """Whether a new listener (a next tunnel) can take the port. Connections the tunnel closed
    may linger in TIME_WAIT on it, which SO_REUSEADDR listeners may ignore, as the tunnel does."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Running:
    """The CLI running in the foreground, its stdout read line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "screens", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(AWS_EC2_METADATA_DISABLED="true"),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def line(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.lines.get(timeout=WAIT))
        except queue.Empty:
            self.process.kill()
            _, err = self.process.communicate()
            raise AssertionError(f"no line from the tunnel; stderr: {err}") from None
        return data

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, list[dict[str, Any]], str]:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=WAIT)
        assert self.process.stderr is not None
        err = self.process.stderr.read()
        rest = []
        while not self.lines.empty():
            rest.append(json.loads(self.lines.get()))
        return code, rest, err


# --- tunnel -------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl+c", "kill"])
def test_tunnel_json_first_line_once_up_and_ctrl_c_closes_it(
    sshd: SSHD, tmp_path: Path, repo: Path, jenkins: JenkinsStandin, sig: int
) -> None:
    make_repo(repo, director_answers(sshd, known(tmp_path, sshd), jenkins.port))
    local = free_port()
    running = Running("tunnel", str(repo), "--json", "--local-port", str(local))
    first = running.line()
    assert first == {
        "state": "up",
        "url": f"http://127.0.0.1:{local}/",
        "local_port": local,
        "jenkins_version": jenkins.version,
        "via": f"{sshd.user}@127.0.0.1:{sshd.port}",
    }
    with urllib.request.urlopen(first["url"], timeout=10) as response:
        assert response.headers["X-Jenkins"] == jenkins.version
    code, rest, err = running.stop(sig)
    assert code == 0, err
    assert rest[-1]["state"] == "closed"
    assert "Traceback" not in err
    assert port_is_free(local)


def test_tunnel_prints_the_url_for_people(
    sshd: SSHD, tmp_path: Path, repo: Path, jenkins: JenkinsStandin
) -> None:
    make_repo(repo, director_answers(sshd, known(tmp_path, sshd), jenkins.port))
    local = free_port()
    running = Running("tunnel", str(repo), "--local-port", str(local))
    text = running.lines.get(timeout=WAIT)
    assert text == (
        f"Jenkins {jenkins.version} is at http://127.0.0.1:{local}/ (through "
        f"{sshd.user}@127.0.0.1:{sshd.port}); ctrl+c closes the tunnel\n"
    )
    code, _, err = running.stop()
    assert code == 0 and "closed" in err


def test_on_the_director_the_tunnel_command_gives_the_laptop_line(
    repo: Path, jenkins: JenkinsStandin
) -> None:
    make_repo(
        repo,
        {
            "infrastructure": {"analytics_private_ips": ["127.0.0.1"]},
            "jenkins": {"port": jenkins.port},
        },
    )
    result = run_cli("tunnel", repo, AWS_EC2_METADATA_DISABLED="true")
    assert result.returncode == 0, result.stderr
    assert f"Jenkins {jenkins.version} answers at http://127.0.0.1:{jenkins.port}/" in result.stdout
    line = f"ssh -i ~/.ssh/director.pem -N -L 8080:127.0.0.1:{jenkins.port} ubuntu@"
    assert f"  {line}<director public address>\n" in result.stdout


def test_tunnel_to_a_jenkins_that_is_down_shows_the_diagnosis(
    sshd: SSHD, tmp_path: Path, repo: Path
) -> None:
    make_repo(repo, director_answers(sshd, known(tmp_path, sshd), free_port()))
    result = run_cli("tunnel", repo, "--json", "--local-port", str(free_port()))
    assert result.returncode == 1
    (doc,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert doc["state"] == "failed" and "cannot reach Jenkins" in doc["error"]
    checks = {c["id"]: c for c in doc["checks"]}
    assert checks["jenkins.nginx_port"]["verdict"] == "pass"  # 8081, apart from Insights
    assert checks["jenkins.listening"]["verdict"] == "warn"  # no analytics key: what to try
    assert "Secsh" not in result.stderr and "Traceback" not in result.stderr


def test_tunnel_on_a_busy_port_names_the_next_free_one(
    sshd: SSHD, tmp_path: Path, repo: Path, jenkins: JenkinsStandin
) -> None:
    make_repo(repo, director_answers(sshd, known(tmp_path, sshd), jenkins.port))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        result = run_cli("tunnel", repo, "--local-port", str(busy))
    assert result.returncode == 1
    text = " ".join(result.stderr.split())
    assert f"port {busy} is already in use" in text and "run again with --local-port" in text


def test_tunnel_refuses_an_unknown_director_headless(
    sshd: SSHD, tmp_path: Path, repo: Path, jenkins: JenkinsStandin
) -> None:
    known_hosts = known(tmp_path, sshd, line="")
    make_repo(repo, director_answers(sshd, known_hosts, jenkins.port))
    result = run_cli("tunnel", repo, "--local-port", str(free_port()))
    assert result.returncode == 1
    text = " ".join(result.stderr.split())
    assert sshd.fingerprint() in text and "ssh-keyscan" in text
    assert known_hosts.read_text() == ""


def test_tunnel_without_the_analytics_address_is_a_usage_error(repo: Path) -> None:
    make_repo(repo, {"client": {"name": "acme"}})
    result = run_cli("tunnel", repo)
    assert result.returncode == 2
    assert "private IP is not known" in " ".join(result.stderr.split())


# --- report -------------------------------------------------------------------------------


def test_report_json_item_by_item(
    sshd: SSHD,
    tmp_path: Path,
    repo: Path,
    jenkins: JenkinsStandin,
    aws: Any,
    moto: Any,
) -> None:
    insights = web_standins.insights(lms_host="lms.example.com").start()
    api = web_standins.analytics_api(database=False).start()  # the one answering wrongly
    try:
        answers = complete_answers(
            aws__endpoint_url=moto.url,
            insights__base_url=insights.url.rstrip("/"),
            analytics_api__port=api.port,
        )
        for group, values in director_answers(sshd, known(tmp_path, sshd), jenkins.port).items():
            answers.setdefault(group, {}).update(values)
        make_repo(repo, answers, files=True)
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="acme-edxanalytics")
        for name in ("edxapp_creds", "edxanalytics_creds"):
            body = (repo / "analytics-tasks" / name).read_bytes()
            s3.put_object(
                Bucket="acme-edxanalytics", Key=name, Body=body, ServerSideEncryption="AES256"
            )
        with Session.open(repo, write=False) as session:
            values = jenkins_jobs.values_from(session.resolved.get)
        rendered = jenkins_jobs.render(jenkins_jobs.default_jobs_yaml(values))
        for name, xml in rendered.items():
            jenkins.add_job(name, xml)
        result = run_cli("report", repo, "--json")
    finally:
        insights.stop()
        api.stop()
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    verdicts = {c["id"]: c["verdict"] for c in doc["checks"]}
    assert verdicts == {
        "insights.answers": "pass",
        "api.health": "fail",
        "jenkins.tunnel": "pass",
        "jenkins.jobs": "pass",
        "jenkins.not_public": "warn",  # no public address in these answers
        "files.present": "pass",
        "creds.bucket": "pass",
        "ledger.complete": "fail",  # prereqs, terraform, database never ran here
    }
    api_check = next(c for c in doc["checks"] if c["id"] == "api.health")
    assert "UNAVAILABLE" in api_check["finding"] and "ANALYTICS_MYSQL_HOST" in api_check["fix"]
    assert doc["ok"] is False and doc["failed"] == 2
    assert not (repo / ".wizard" / "report.md").exists()  # the command changes nothing
    assert PLANTED_PASSWORD not in result.stdout + result.stderr
