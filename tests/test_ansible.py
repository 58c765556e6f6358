"""The ansible adapter against the tests' own sshd, with edx/configuration's ansible and ours.

The sshd on 127.0.0.1 is the analytics instance (and, for the jump-host path, the director
too). The playbooks are the stand-ins in assets/demo/configuration, run with ansible 2.10.7 (the
version edx/configuration pins, installed by ``make`` in .venv-ansible210) and with the
wizard's own ansible-core.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import services
from ci_required import skip_missing
from conftest import PLANTED_PASSWORD, ROOT, complete_answers

from wizard import ansible, ssh, yamlio
from wizard.ansible import Playbook, PreparedRun, SSHHost, Targets
from wizard.ansible_events import RunSummary, follow_events, run_result, summarize
from wizard.answers import flatten
from wizard.engine import Session

CONFIGURATION = ROOT / "assets" / "demo" / "configuration"
ANSIBLE_210 = ROOT / ".venv-ansible210" / "bin" / "ansible-playbook"
ANSIBLE_CORE = Path(sys.executable).parent / "ansible-playbook"
LEAK_MARK = b"Pl4nted"  # every encoding of the planted password keeps this part
SECRET_VARS = ("COMMON_MYSQL_MIGRATE_PASS", "ANALYTICS_MYSQL_PASSWORD")
RUN_TIMEOUT = 300


@pytest.fixture(params=["ansible-2.10", "ansible-core"])
def ansible_playbook(request: pytest.FixtureRequest) -> Path:
    """Each ansible the playbooks must run with."""
    if request.param == "ansible-core":
        return ANSIBLE_CORE
    if not ANSIBLE_210.is_file():
        skip_missing(f"{ANSIBLE_210} (make test installs it: make .venv-ansible210/bin/.installed)")
    return ANSIBLE_210


@pytest.fixture(scope="module")
def secure_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A secure repo whose files step wrote vars-analytics.yml with the planted passwords."""
    path = tmp_path_factory.mktemp("ansible") / "secure-config"
    answers = complete_answers(
        **{
            "database__analytics_password": PLANTED_PASSWORD,
            "ansible__private_key": "analytics.pem",
        }
    )
    with Session.open(path, write=True, command="test") as session:
        session.merge_answers(flatten(answers, "test answers"), "test answers")
        session.apply(session.plan("files"))
    return path


@pytest.fixture
def known_hosts(tmp_path: Path, sshd_server: services.SSHD) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sshd_server.known_hosts_line())
    return path


def targets_for(sshd: services.SSHD, known_hosts: Path, **changes: Any) -> Targets:
    values: dict[str, Any] = {
        "hosts": (services.LOOPBACK,),
        "user": sshd.user,
        "key_file": sshd.client_key,
        "known_hosts": known_hosts,
        "port": sshd.port,
        # Interpreter discovery would find this machine's pyenv shims first.
        "python_interpreter": "/usr/bin/python3",
    }
    values.update(changes)
    return Targets(**values)


def standin_vars(tmp_path: Path, sshd: services.SSHD, **extra: Any) -> Path:
    """The stand-in playbooks' own vars file: where to write, which vars to report."""
    path = tmp_path / "standin.yml"
    data = {
        "standin_output_dir": str(tmp_path / "out"),
        "standin_vars": [*SECRET_VARS, "ANALYTICS_API_DATABASES", "INSIGHTS_LMS_BASE"],
        "standin_public_key": sshd.client_key.with_suffix(".pub").read_text().strip(),
        "standin_key_user": sshd.user,
        **extra,
    }
    path.write_text(yamlio.dumps(data))
    return path


def playbook(name: str, *vars_files: Path, **options: Any) -> Playbook:
    return Playbook(CONFIGURATION, name, tuple(vars_files), **options)


def child_env() -> dict[str, str]:
    """The wizard's environment, with a credential that must not reach the run's files."""
    return {**os.environ, "AWS_SECRET_ACCESS_KEY": PLANTED_PASSWORD}


def run(prepared: PreparedRun) -> tuple[int, RunSummary]:
    """Run the child to the end, as the detached supervisor would; its exit code and summary."""
    done = subprocess.run(
        prepared.child_argv(), env=child_env(), timeout=RUN_TIMEOUT, capture_output=True
    )
    assert LEAK_MARK not in done.stdout + done.stderr
    return done.returncode, summarize(prepared.artifacts_dir)


def files_holding_secret(directory: Path) -> list[Path]:
    return [
        path
        for path in directory.rglob("*")
        if path.is_file() and not path.is_symlink() and LEAK_MARK in path.read_bytes()
    ]


# --- running the stand-in playbooks -------------------------------------------------------------


def test_vars_from_the_files_step_arrive_literally(
    ansible_playbook: Path,
    secure_repo: Path,
    sshd_server: services.SSHD,
    known_hosts: Path,
    tmp_path: Path,
) -> None:
    targets = targets_for(sshd_server, known_hosts)
    book = playbook(
        "analytics_single.yml",
        secure_repo / "vars-analytics.yml",
        standin_vars(tmp_path, sshd_server),
    )
    prepared = ansible.prepare_run(tmp_path / "run", ansible_playbook, book, targets)

    rc, summary = run(prepared)

    assert rc == 0, summary.failure and summary.failure.describe()
    received = json.loads((tmp_path / "out" / "analytics_single-127.0.0.1.json").read_text())
    for name in SECRET_VARS:
        assert received[name] == PLANTED_PASSWORD
    assert received["ANALYTICS_API_DATABASES"]["default"]["PASSWORD"] == PLANTED_PASSWORD
    assert received["INSIGHTS_LMS_BASE"] == "https://lms.example.com"
    assert summary.ok and summary.finished
    counts = summary.hosts[services.LOOPBACK]
    assert (counts.failed, counts.unreachable, counts.ignored) == (0, 0, 1)
    assert (tmp_path / "out" / "analytics_single.done").is_file()
    if ansible_playbook == ANSIBLE_210:  # the collections the real roles need are there
        authorized = (tmp_path / "out" / "authorized_keys").read_text()
        assert sshd_server.client_key.with_suffix(".pub").read_text().split()[1] in authorized
    # ansible-runner started exactly the command the preview shows.
    command = json.loads((prepared.artifacts_dir / "command").read_text())
    assert command["command"] == list(prepared.argv)
    assert "AWS_SECRET_ACCESS_KEY" not in command["env"]
    assert command["env"]["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    # The run's own control sockets, not the shared ones the checkout's ansible.cfg names.
    assert not list((Path.home() / ".ansible" / "tmp").glob("standin-ssh-*"))
    assert files_holding_secret(prepared.private_data_dir) == []


def test_the_jenkins_seed_job_is_skipped(
    ansible_playbook: Path,
    secure_repo: Path,
    sshd_server: services.SSHD,
    known_hosts: Path,
    tmp_path: Path,
) -> None:
    book = playbook(
        "analytics-jenkins.yml",
        secure_repo / "vars-analytics.yml",
        standin_vars(tmp_path, sshd_server),
        skip_tags=("jenkins-seed-job",),
    )
    prepared = ansible.prepare_run(
        tmp_path / "run", ansible_playbook, book, targets_for(sshd_server, known_hosts)
    )

    rc, summary = run(prepared)

    assert rc == 0 and summary.ok, summary.failure and summary.failure.describe()
    assert (tmp_path / "out" / "analytics-jenkins.done").is_file()
    started = [e["event_data"].get("task") for e in _events(prepared)]
    assert "Create the seed job" not in started
    assert "--skip-tags" in prepared.argv


def test_a_failure_shows_the_failing_task_and_its_own_error(
    ansible_playbook: Path,
    secure_repo: Path,
    sshd_server: services.SSHD,
    known_hosts: Path,
    tmp_path: Path,
) -> None:
    book = playbook(
        "analytics_single.yml",
        secure_repo / "vars-analytics.yml",
        standin_vars(tmp_path, sshd_server, standin_variant="fail"),
    )
    prepared = ansible.prepare_run(
        tmp_path / "run", ansible_playbook, book, targets_for(sshd_server, known_hosts)
    )

    rc, summary = run(prepared)

    assert rc != 0
    assert run_result(prepared.artifacts_dir) == ("failed", rc)
    assert not summary.ok and summary.finished
    failure = summary.failure
    assert failure is not None and len(summary.failures) == 1  # the ignored check is not one
    assert failure.task == "Install the analytics API requirements"
    assert failure.host == services.LOOPBACK
    assert failure.rc == 100
    assert "E: Unable to locate package libmysqlclient-standin" in failure.stderr
    assert failure.stdout_tail.splitlines()[-1] == "noise line 50"
    assert "all hosts" not in failure.describe().lower()
    assert summary.hosts[services.LOOPBACK].failed == 1
    assert not (tmp_path / "out" / "analytics_single.done").exists()


# --- host keys ----------------------------------------------------------------------------------


def test_an_unknown_host_key_is_refused_with_its_fingerprint(
    ansible_playbook: Path, sshd_server: services.SSHD, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    targets = targets_for(sshd_server, empty)

    with pytest.raises(ssh.HostKeyUnknown) as refused:
        ansible.host_keys(targets)

    assert refused.value.fingerprint == sshd_server.fingerprint()
    assert f"ssh-keyscan -p {sshd_server.port} 127.0.0.1 >> {empty}" in str(refused.value)
    assert empty.read_text() == ""
    # ansible itself refuses too: the run's environment beats ansible.cfg's
    # host_key_checking = False.
    book = playbook("analytics-jenkins.yml", standin_vars(tmp_path, sshd_server))
    prepared = ansible.prepare_run(tmp_path / "run", ansible_playbook, book, targets)
    rc, summary = run(prepared)
    assert rc != 0 and summary.failure is not None and summary.failure.unreachable
    assert "Host key verification failed" in summary.failure.message
    assert empty.read_text() == ""
    assert not (tmp_path / "out").exists()


def test_an_accepted_host_key_is_recorded(sshd_server: services.SSHD, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    asked: list[str] = []

    def confirm(unknown: ssh.HostKeyUnknown) -> bool:
        asked.append(unknown.fingerprint)
        return True

    found = ansible.host_keys(targets_for(sshd_server, known), confirm=confirm)

    assert asked == [sshd_server.fingerprint()]
    assert [key.fingerprint for key in found] == asked
    assert ansible.host_keys(targets_for(sshd_server, known))[0].fingerprint == asked[0]


def test_a_changed_host_key_is_refused(sshd_server: services.SSHD, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, key = other.with_suffix(".pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[{services.LOOPBACK}]:{sshd_server.port} {kind} {key}\n")
    targets = targets_for(sshd_server, known)

    with pytest.raises(ssh.HostKeyChanged) as refused:
        ansible.host_keys(targets)

    assert refused.value.presented == sshd_server.fingerprint()
    book = playbook("analytics-jenkins.yml", standin_vars(tmp_path, sshd_server))
    prepared = ansible.prepare_run(tmp_path / "run", ANSIBLE_CORE, book, targets)
    rc, summary = run(prepared)
    assert rc != 0 and summary.failure is not None and summary.failure.unreachable
    assert not (tmp_path / "out").exists()


def test_through_the_director_as_jump_host(
    sshd_server: services.SSHD, known_hosts: Path, secure_repo: Path, tmp_path: Path
) -> None:
    director_known = tmp_path / "director_known_hosts"
    director_known.write_text(sshd_server.known_hosts_line())
    director = SSHHost(
        services.LOOPBACK,
        sshd_server.port,
        sshd_server.user,
        sshd_server.client_key,
        director_known,
    )
    targets = targets_for(sshd_server, known_hosts, jump=director)

    found = ansible.host_keys(targets)

    assert [(key.host, key.via) for key in found] == [
        (services.LOOPBACK, None),
        (services.LOOPBACK, director.label),
    ]
    book = playbook(
        "analytics-jenkins.yml",
        secure_repo / "vars-analytics.yml",
        standin_vars(tmp_path, sshd_server),
        skip_tags=("jenkins-seed-job",),
    )
    prepared = ansible.prepare_run(tmp_path / "run", ANSIBLE_CORE, book, targets)
    rc, summary = run(prepared)
    assert rc == 0 and summary.ok, summary.failure and summary.failure.describe()
    assert (tmp_path / "out" / "analytics-jenkins.done").is_file()

    # The director really is on the way: with its key unknown, nothing reaches the target.
    director_known.write_text("")
    with pytest.raises(ssh.HostKeyUnknown):
        ansible.host_keys(targets)
    (tmp_path / "out" / "analytics-jenkins.done").unlink()
    prepared = ansible.prepare_run(tmp_path / "run2", ANSIBLE_CORE, book, targets)
    rc, summary = run(prepared)
    assert rc != 0 and summary.failure is not None and summary.failure.unreachable
    assert not (tmp_path / "out" / "analytics-jenkins.done").exists()


def test_a_target_behind_the_director_with_an_unknown_key_names_the_scan_to_run_there(
    sshd_server: services.SSHD, tmp_path: Path
) -> None:
    director_known = tmp_path / "director_known_hosts"
    director_known.write_text(sshd_server.known_hosts_line())
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    director = SSHHost(
        services.LOOPBACK,
        sshd_server.port,
        sshd_server.user,
        sshd_server.client_key,
        director_known,
    )

    with pytest.raises(ssh.HostKeyUnknown) as refused:
        ansible.host_keys(targets_for(sshd_server, empty, jump=director))

    assert refused.value.fingerprint == sshd_server.fingerprint()
    message = str(refused.value)
    assert f"reached through {director.label}" in message
    assert f"'ssh-keyscan -p {sshd_server.port} 127.0.0.1' >> {empty}" in message


# --- while a run is going ------------------------------------------------------------------------


def _cmdlines() -> list[bytes]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes())
            except OSError:
                continue
    return found


def test_a_running_playbook_keeps_passwords_off_command_lines_and_replays_the_same(
    secure_repo: Path, sshd_server: services.SSHD, known_hosts: Path, tmp_path: Path
) -> None:
    book = playbook(
        "analytics_single.yml",
        secure_repo / "vars-analytics.yml",
        standin_vars(tmp_path, sshd_server, standin_variant="slow", standin_slow_steps=4),
    )
    targets = targets_for(sshd_server, known_hosts)
    plays = ansible.list_tasks(ANSIBLE_CORE, book, targets)
    total = ansible.tasks_from(plays, None)
    prepared = ansible.prepare_run(tmp_path / "run", ANSIBLE_CORE, book, targets)
    child = subprocess.Popen(prepared.child_argv(), env=child_env())
    live = RunSummary(task_total=total)
    leaks: list[bytes] = []
    seen_running = []

    def on_event(event: dict[str, Any]) -> None:
        live.feed(event)
        seen_running.append(live.task)
        leaks.extend(line for line in _cmdlines() if LEAK_MARK in line)

    try:
        result = follow_events(
            prepared.artifacts_dir, on_event, running=lambda: child.poll() is None
        )
    finally:
        child.wait(timeout=RUN_TIMEOUT)

    assert leaks == []
    assert result == ("successful", 0)
    assert "Run the slow migrations" in seen_running
    replayed = summarize(prepared.artifacts_dir, total)
    assert replayed == live
    assert live.ok and live.task_number == total == 8
    assert live.tasks_shown == "task 8 of 8"
    assert live.elapsed() >= 4


def test_stopping_a_run_stops_ansible(
    sshd_server: services.SSHD, known_hosts: Path, tmp_path: Path
) -> None:
    book = playbook(
        "analytics_single.yml",
        standin_vars(
            tmp_path, sshd_server, standin_variant="slow", standin_slow_steps=60, standin_vars=[]
        ),
    )
    prepared = ansible.prepare_run(
        tmp_path / "run", ANSIBLE_CORE, book, targets_for(sshd_server, known_hosts)
    )
    child = subprocess.Popen(prepared.child_argv(), env=child_env(), start_new_session=True)
    try:
        follow_events(
            prepared.artifacts_dir,
            lambda event: None,
            lambda: summarize(prepared.artifacts_dir).task == "Run the slow migrations",
            running=lambda: child.poll() is None,
        )
        mine = str(prepared.private_data_dir).encode()
        players = [
            pid for pid, line in _processes() if b"ansible-playbook" in line and mine in line
        ]
        assert players
        os.killpg(child.pid, signal.SIGINT)  # what the detached module's stop sends
        rc = child.wait(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert rc != 0
    assert (prepared.private_data_dir / ansible.STOPPED).read_text().strip() == "SIGINT"
    deadline = time.monotonic() + 10
    while any(pid in players for pid, _ in _processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid in players for pid, _ in _processes())
    assert not (tmp_path / "out" / "analytics_single.done").exists()


def _processes() -> list[tuple[int, bytes]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((int(entry.name), (entry / "cmdline").read_bytes()))
            except OSError:
                continue
    return found


def _events(prepared: PreparedRun) -> list[dict[str, Any]]:
    from wizard.ansible_events import read_events

    return read_events(prepared.artifacts_dir)


# --- the preview: --list-tasks ------------------------------------------------------------------


def test_list_tasks_counts_each_play_without_contacting_a_host(
    ansible_playbook: Path, secure_repo: Path, tmp_path: Path
) -> None:
    nowhere = Targets(
        hosts=("192.0.2.1",),  # TEST-NET: nothing answers there, and nothing must try
        user="ubuntu",
        key_file=tmp_path / "analytics.pem",
        known_hosts=tmp_path / "known_hosts",
    )
    nowhere.key_file.write_text("not used\n")
    services_book = playbook("analytics_single.yml", secure_repo / "vars-analytics.yml")
    jenkins_book = playbook(
        "analytics-jenkins.yml",
        secure_repo / "vars-analytics.yml",
        skip_tags=("jenkins-seed-job",),
    )

    plays = ansible.list_tasks(ansible_playbook, services_book, nowhere)
    jenkins = ansible.list_tasks(ansible_playbook, jenkins_book, nowhere)

    assert [(p.name, len(p.tasks)) for p in plays] == [
        ("Deploy all analytics services to a single node", 7),
        ("A second play, as the real roles have after the first failure", 1),
    ]
    assert ansible.tasks_from(plays, None) == 8
    assert ansible.tasks_from(plays, "Run the slow migrations") == 4
    assert [p.tasks for p in jenkins] == [
        ("Make the output directory", "Write the vars this playbook received", "Install Jenkins")
    ]


def test_list_tasks_of_a_playbook_this_ansible_cannot_load_says_so(tmp_path: Path) -> None:
    checkout = tmp_path / "configuration"
    (checkout / "playbooks").mkdir(parents=True)
    (checkout / "playbooks" / "broken.yml").write_text(
        "- hosts: all\n  tasks:\n    - nosuch_module_x: {}\n"
    )
    key = tmp_path / "analytics.pem"
    key.write_text("not used\n")
    nowhere = Targets(("192.0.2.1",), "ubuntu", key, tmp_path / "known_hosts")

    with pytest.raises(ansible.AnsibleError) as failed:
        ansible.list_tasks(ANSIBLE_CORE, Playbook(checkout, "broken.yml", ()), nowhere)

    assert "nosuch_module_x" in str(failed.value)
    assert "ansible.ansible_playbook" in failed.value.fix


def test_the_list_tasks_output_of_roles_is_parsed() -> None:
    text = (
        "\nplaybook: analytics_single.yml\n\n"
        "  play #1 (all): Deploy all analytics services to a single node\tTAGS: []\n"
        "    tasks:\n"
        "      aws : Gather ec2 facts for use in other roles\tTAGS: [aws]\n"
        "      analytics_api : install read-only ssh key\tTAGS: [analytics_api, install]\n"
        "\n  play #2 (jenkins-scheduler): Configure instance(s)\tTAGS: []\n"
        "    tasks:\n"
    )

    plays = ansible.parse_list_tasks(text)

    assert plays == [
        ansible.PlayTasks(
            "Deploy all analytics services to a single node",
            "all",
            (
                "aws : Gather ec2 facts for use in other roles",
                "analytics_api : install read-only ssh key",
            ),
        ),
        ansible.PlayTasks("Configure instance(s)", "jenkins-scheduler", ()),
    ]
    assert ansible.tasks_from(plays, "install read-only ssh key") == 1


# --- preparing a run ------------------------------------------------------------------------------


def test_a_prepared_run_is_private_and_holds_no_secret(
    secure_repo: Path, sshd_server: services.SSHD, known_hosts: Path, tmp_path: Path
) -> None:
    director = SSHHost("director.example.com", 2222, "ubuntu", Path("/keys/dir%1.pem"), known_hosts)
    book = playbook(
        "analytics_single.yml",
        secure_repo / "vars-analytics.yml",
        start_at_task="Run the slow migrations",
        limit="127.0.0.1",
    )
    targets = targets_for(sshd_server, known_hosts, jump=director)

    prepared = ansible.prepare_run(tmp_path / "run", ANSIBLE_CORE, book, targets)

    base = prepared.private_data_dir
    assert oct(base.stat().st_mode & 0o777) == "0o700"
    assert all((p.stat().st_mode & 0o077) == 0 for p in base.rglob("*") if not p.is_symlink())
    assert files_holding_secret(base) == []
    assert f"@{secure_repo / 'vars-analytics.yml'}" in prepared.argv
    assert prepared.argv[-2:] == ("-i", str(base / "inventory"))
    assert "--start-at-task" in prepared.argv and "--limit" in prepared.argv
    config = (base / ansible.SSH_CONFIG).read_text()
    assert config.index("Host analytics-wizard-director") < config.index("Host *")
    assert '"/keys/dir%%1.pem"' in config
    assert "StrictHostKeyChecking yes" in config and "ProxyJump analytics-wizard-director" in config
    envvars = json.loads((base / "env" / "envvars").read_text())
    assert envvars["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert envvars["ANSIBLE_SSH_ARGS"] == f"-F {base / ansible.SSH_CONFIG}"


def test_a_vars_file_that_turns_host_key_checking_off_is_refused(
    sshd_server: services.SSHD, known_hosts: Path, tmp_path: Path
) -> None:
    sneaky = tmp_path / "extra.yml"
    sneaky.write_text("ansible_ssh_common_args: '-o StrictHostKeyChecking=no'\n")
    book = playbook("analytics_single.yml", sneaky)

    with pytest.raises(ansible.AnsibleError) as refused:
        ansible.prepare_run(
            tmp_path / "run", ANSIBLE_CORE, book, targets_for(sshd_server, known_hosts)
        )

    assert str(sneaky) in str(refused.value)
    assert not (tmp_path / "run").exists()


def test_the_child_environment_keeps_no_credentials() -> None:
    kept = ansible.clean_environment(
        {
            "PATH": "/usr/bin",
            "HOME": "/root",
            "LC_ALL": "C.UTF-8",
            "SSH_AUTH_SOCK": "/tmp/agent",
            "AWS_SECRET_ACCESS_KEY": PLANTED_PASSWORD,
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "MYSQL_PWD": PLANTED_PASSWORD,
        }
    )

    assert kept == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "LC_ALL": "C.UTF-8",
        "SSH_AUTH_SOCK": "/tmp/agent",
    }


# --- which ansible-playbook ------------------------------------------------------------------------


def test_the_answer_names_the_ansible_playbook(tmp_path: Path) -> None:
    found = ansible.find_ansible_playbook(str(ANSIBLE_CORE), tmp_path)

    assert found.path == ANSIBLE_CORE
    assert found.version.startswith("2.")


def test_a_virtualenv_inside_the_checkout_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKON_HOME", raising=False)
    checkout = tmp_path / "configuration"
    (checkout / "venv" / "bin").mkdir(parents=True)
    (checkout / "venv" / "bin" / "ansible-playbook").symlink_to(ANSIBLE_CORE)

    found = ansible.find_ansible_playbook(None, checkout)

    assert found.path == checkout / "venv" / "bin" / "ansible-playbook"
    assert found.version == ansible.ansible_version(ANSIBLE_CORE)


def test_the_edx_configuration_virtualenv_is_found_with_its_ansible_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not ANSIBLE_210.is_file():
        skip_missing(f"{ANSIBLE_210} (make .venv-ansible210/bin/.installed)")
    home = tmp_path / "home"
    (home / "venvs" / "edx-configuration" / "bin").mkdir(parents=True)
    (home / "venvs" / "edx-configuration" / "bin" / "ansible-playbook").symlink_to(ANSIBLE_210)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("WORKON_HOME", raising=False)

    found = ansible.find_ansible_playbook(None, tmp_path / "configuration")

    assert found.path == home / "venvs" / "edx-configuration" / "bin" / "ansible-playbook"
    assert found.version == "2.10.17 (ansible 2.10.7)"


def test_no_ansible_playbook_anywhere_names_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("WORKON_HOME", raising=False)

    with pytest.raises(ansible.AnsibleError) as missing:
        ansible.find_ansible_playbook(None, tmp_path / "configuration")
    with pytest.raises(ansible.AnsibleError) as wrong:
        ansible.find_ansible_playbook(str(tmp_path / "nope"), None)

    assert str(tmp_path / "configuration" / "venv" / "bin" / "ansible-playbook") in str(
        missing.value
    )
    assert "requirements.txt" in missing.value.fix
    assert "ansible.ansible_playbook" in str(wrong.value)
