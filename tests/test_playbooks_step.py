"""The playbooks step end to end, against real components on 127.0.0.1.

The tests' sshd is the analytics instance (and, for the jump-host path, the director too); the
playbooks are the stand-ins in assets/demo/configuration run by ansible 2.10.7 (the version
edx/configuration pins); AWS is a moto server where a VPC 127.0.0.0/16 holds an instance at
127.0.0.1, so the Jenkins gate finds the loopback target's security group. Jenkins' home is a
directory of the test's own and the Jenkins user is the test's user (no ``jenkins`` account
here). One moto, one sshd and one secure repo layout are shared by the module.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import services
from ci_required import skip_missing
from conftest import PLANTED_PASSWORD, ROOT, cli_env, complete_answers, wait_for
from test_tui_terminal import released, tmux  # noqa: F401

from wizard import yamlio
from wizard.answers import flatten
from wizard.context import Event, RunContext
from wizard.engine import Session
from wizard.errors import Cancelled, NeedsDecision
from wizard.ssh import HostKeyUnknown
from wizard.steps import playbooks

CONFIGURATION = ROOT / "assets" / "demo" / "configuration"
ANSIBLE_210 = ROOT / ".venv-ansible210" / "bin" / "ansible-playbook"
LEAK_MARK = b"Pl4nted"  # every encoding of the planted password keeps this part
PIPELINE_BUCKET, EMR_BUCKET = "acme-edxanalytics", "acme-analytics-emr"
SERVICES, JENKINS = "analytics_single.yml", "analytics-jenkins.yml"
TIMEOUT = 600


@pytest.fixture(scope="module")
def aws_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The wizard's AWS calls go through a named profile in a private config file."""
    import moto_service

    env = moto_service.write_profile(
        tmp_path_factory.mktemp("aws"), "acme-analytics", "testing", "testing"
    )
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            mp.delenv(name, raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        yield env


@pytest.fixture(scope="module")
def moto(aws_env: dict[str, str]) -> Iterator[Any]:
    import moto_service

    server = moto_service.start()
    yield server
    server.stop()


@pytest.fixture
def cloud(moto: Any) -> dict[str, Any]:
    """A fresh AWS: the loopback analytics instance in a VPC 127.0.0.0/16, its security group
    (SSH from the director only), the pipeline bucket and an EMR bucket lacking one file."""
    moto.reset()
    ec2 = moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.0.0.0/24")["Subnet"]["SubnetId"]
    director = ec2.create_security_group(GroupName="director", Description="d", VpcId=vpc)
    group = ec2.create_security_group(GroupName="analytics", Description="a", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "UserIdGroupPairs": [{"GroupId": director["GroupId"]}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
        ],
    )
    image = ec2.describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
    ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        PrivateIpAddress=services.LOOPBACK,
        SecurityGroupIds=[group],
    )
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=PIPELINE_BUCKET)
    s3.create_bucket(Bucket=EMR_BUCKET)
    s3.put_object(Bucket=EMR_BUCKET, Key="edx-analytics-hadoop-util.jar", Body=b"jar")
    s3.put_object(Bucket=EMR_BUCKET, Key="mysql-connector-java-5.1.29.tar.gz", Body=b"tgz")
    return {"ec2": ec2, "s3": s3, "group": group, "url": moto.url}


@pytest.fixture(scope="module")
def ansible_playbook() -> Path:
    if not ANSIBLE_210.is_file():
        skip_missing(f"{ANSIBLE_210} (make test installs it: make .venv-ansible210/bin/.installed)")
    return ANSIBLE_210


@pytest.fixture
def known_hosts(tmp_path: Path, sshd_server: services.SSHD) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sshd_server.known_hosts_line())
    return path


def standin_vars(base: Path, **extra: Any) -> Path:
    """The stand-in playbooks' vars: where they write, which vars they report; the interpreter
    (discovery would find this machine's pyenv shims)."""
    path = base / "standin.yml"
    data = {
        "standin_output_dir": str(base / "out"),
        "standin_vars": [
            "COMMON_MYSQL_MIGRATE_PASS",
            "ANALYTICS_MYSQL_PASSWORD",
            "JENKINS_VERSION",
        ],
        "ansible_python_interpreter": "/usr/bin/python3",
        **extra,
    }
    path.write_text(yamlio.dumps(data))
    return path


def step_answers(
    base: Path,
    cloud: dict[str, Any],
    sshd: services.SSHD,
    known_hosts: Path,
    ansible_playbook: Path,
    *,
    director: bool = False,
    **standin: Any,
) -> dict[str, Any]:
    """Answers for the files and playbooks steps against the test's own components."""
    home = base / "jenkins-home"
    home.mkdir(exist_ok=True)
    answers = complete_answers(database__analytics_password=PLANTED_PASSWORD)
    answers["aws"]["endpoint_url"] = cloud["url"]
    answers["infrastructure"]["analytics_private_ips"] = [services.LOOPBACK]
    answers["ansible"] = {
        "configuration_dir": str(CONFIGURATION),
        "ansible_playbook": str(ansible_playbook),
        "ssh_user": sshd.user,
        "ssh_port": sshd.port,
        "private_key": str(sshd.client_key),
        "known_hosts": str(known_hosts),
        "extra_vars_files": [str(standin_vars(base, **standin))],
    }
    answers["jenkins"] = {"home": str(home), "user": sshd.user}
    if director:
        director_known = base / "director_known_hosts"
        director_known.write_text(sshd.known_hosts_line())
        answers["director"] = {
            "host": services.LOOPBACK,
            "port": sshd.port,
            "user": sshd.user,
            "key_file": str(sshd.client_key),
            "known_hosts": str(director_known),
        }
    return answers


def prepared_repo(repo: Path, answers: dict[str, Any]) -> Path:
    """A secure repo whose earlier steps are done: the files step wrote its files."""
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(answers, "test answers"), "test answers")
        session.apply(session.plan("files"))
    return repo


@pytest.fixture
def setup(
    tmp_path: Path,
    cloud: dict[str, Any],
    sshd_server: services.SSHD,
    known_hosts: Path,
    ansible_playbook: Path,
) -> Callable[..., tuple[Path, dict[str, Any]]]:
    def make(**options: Any) -> tuple[Path, dict[str, Any]]:
        answers = step_answers(
            tmp_path, cloud, sshd_server, known_hosts, ansible_playbook, **options
        )
        return prepared_repo(tmp_path / "secure-config", answers), answers

    return make


def write_answers(path: Path, answers: dict[str, Any]) -> Path:
    path.write_text(yamlio.dumps(answers))
    return path


def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "screens", *map(str, args)],
        capture_output=True,
        text=True,
        # Wide enough that no temporary path is folded across lines (xdist's are longer).
        env=cli_env(**{"COLUMNS": "1000", **(env or {})}),
        timeout=TIMEOUT,
    )


def ledger(repo: Path) -> dict[str, Any]:
    steps = yamlio.load(repo / ".wizard" / "state.yml").get("steps") or {}
    return dict(steps.get("playbooks") or {})


def playbook_runs(repo: Path, name: str) -> list[dict[str, Any]]:
    """The records of the detached runs of playbook ``name`` in the secure repo."""
    found = []
    for record in sorted((repo / ".wizard" / "runs").glob("*-playbooks-*/run.json")):
        data = json.loads(record.read_text())
        if f"/{name} " in data["shown"] or data["shown"].split()[1].endswith(name):
            found.append(data)
    return found


def holding_secret(directory: Path) -> list[Path]:
    return [
        path
        for path in directory.rglob("*")
        if path.is_file() and not path.is_symlink() and LEAK_MARK in path.read_bytes()
    ]


def recording() -> tuple[RunContext, list[str], list[Event]]:
    lines: list[str] = []
    events: list[Event] = []
    return RunContext(on_progress=lines.append, on_event=events.append), lines, events


# --- the preview ------------------------------------------------------------------------------


def test_the_preview_shows_commands_hosts_plays_gate_and_follow_ups_and_changes_nothing(
    setup: Callable[..., tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    repo, _ = setup()
    before = sorted(p.name for p in (repo / ".wizard").iterdir())

    with Session.open(repo, write=False) as session:
        plan = session.plan("playbooks")

    notes = "\n".join(plan.notes)
    assert f"hosts: {services.LOOPBACK}" in notes
    commands = [n.removeprefix("$ ") for n in plan.notes if n.startswith("$ ")]
    assert len(commands) == 3
    services_cmd, jenkins_cmd, files_cmd = (shlex.split(c) for c in commands)
    assert services_cmd[0] == str(ANSIBLE_210) and services_cmd[1].endswith(SERVICES)
    assert f"@{repo / 'vars-analytics.yml'}" in services_cmd
    assert jenkins_cmd[jenkins_cmd.index("--skip-tags") + 1] == "jenkins-seed-job"
    assert files_cmd[1].endswith("jenkins-files.yml")
    assert "play 'Deploy all analytics services to a single node' (all): 7 tasks" in notes
    assert "play 'Configure instance(s)' (all): 3 tasks" in notes
    assert "Jenkins gate: no security group opens 8080 or 8081 to the world" in notes
    assert "host keys checked" in notes
    # The one file the stand-in EMR bucket lacks is a warning, with the command that fixes it.
    assert "lacks install-sqoop" in notes and f"s3://{EMR_BUCKET}/install-sqoop" in notes
    effects = "\n".join(plan.effects)
    assert f"runs {SERVICES} on 1 host: 8 tasks" in effects
    assert f"runs {JENKINS} on 1 host, skipping the seed job: 3 tasks" in effects
    assert "owner " in effects and "mode 0600" in effects and PIPELINE_BUCKET in effects
    assert playbooks.STEP.blocking(plan) is None
    assert PLANTED_PASSWORD not in notes + effects
    assert sorted(p.name for p in (repo / ".wizard").iterdir()) == before
    assert not (tmp_path / "out").exists()


# --- a whole run ------------------------------------------------------------------------------


def test_a_headless_run_through_the_director_runs_both_playbooks_and_the_follow_ups(
    setup: Callable[..., tuple[Path, dict[str, Any]]],
    cloud: dict[str, Any],
    sshd_server: services.SSHD,
    tmp_path: Path,
) -> None:
    repo, answers = setup(director=True)
    answers_file = write_answers(tmp_path / "answers.yml", answers)

    done = cli("run", "--answers", answers_file, repo, "--only", "playbooks", "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    [step] = result["steps"]
    assert step["state"] == "done"
    ran = step["details"]["playbooks"]
    assert [(p["playbook"], p["ok"]) for p in ran] == [
        (SERVICES, True),
        (JENKINS, True),
        ("jenkins-files.yml", True),
    ]
    assert ran[0]["hosts"][services.LOOPBACK]["failed"] == 0
    # The vars of vars-analytics.yml arrived literally (quotes, {{, %, $ and all).
    received = json.loads((tmp_path / "out" / "analytics_single-127.0.0.1.json").read_text())
    assert received["COMMON_MYSQL_MIGRATE_PASS"] == PLANTED_PASSWORD
    assert received["ANALYTICS_MYSQL_PASSWORD"] == PLANTED_PASSWORD
    jenkins_vars = json.loads((tmp_path / "out" / "analytics-jenkins-127.0.0.1.json").read_text())
    assert jenkins_vars["JENKINS_VERSION"] == "1.651.3"
    # The seed job was skipped: the stand-in's seed-job task fails whenever it runs.
    assert (tmp_path / "out" / "analytics-jenkins.done").is_file()
    # Through the director: ansible's ssh went through it as a jump host.
    jenkins_run = playbook_runs(repo, JENKINS)[0]
    ssh_config = (
        repo / ".wizard" / "runs" / jenkins_run["id"] / "ansible" / "ssh_config"
    ).read_text()
    assert "ProxyJump analytics-wizard-director" in ssh_config
    # The Jenkins files, byte for byte, owned by the Jenkins user, 0600.
    home = Path(answers["jenkins"]["home"])
    for name in ("jenkins_env", "emr-vars.yml", "analytics-override.cfg"):
        installed = home / name
        assert installed.read_bytes() == (repo / "analytics-tasks" / name).read_bytes(), name
        assert installed.stat().st_mode & 0o777 == 0o600, name
        assert installed.stat().st_uid == os.geteuid(), name
    # The creds in the pipeline bucket, encrypted; the missing EMR file is a warning.
    for name in ("edxapp_creds", "edxanalytics_creds"):
        head = cloud["s3"].head_object(Bucket=PIPELINE_BUCKET, Key=name)
        assert head["ServerSideEncryption"] == "AES256", name
        body = cloud["s3"].get_object(Bucket=PIPELINE_BUCKET, Key=name)["Body"].read()
        assert body == (repo / "analytics-tasks" / name).read_bytes()
    assert any("install-sqoop" in w for w in step["details"]["warnings"])
    assert "install-sqoop" in step["reason"]
    # Nothing secret on the way: output, ledger, logs, the runs' files.
    assert PLANTED_PASSWORD not in done.stdout + done.stderr
    assert holding_secret(repo / ".wizard" / "runs") == []
    assert holding_secret(repo / ".wizard" / "logs") == []
    assert LEAK_MARK not in (repo / ".wizard" / "state.yml").read_bytes()
    for run_dir in (repo / ".wizard" / "runs").iterdir():
        assert run_dir.stat().st_mode & 0o777 == 0o700

    status = cli("status", "--json", repo)
    states = {s["name"]: s for s in json.loads(status.stdout)["steps"]}
    assert states["playbooks"]["state"] == "done", states["playbooks"]

    # Again: nothing changed, so nothing runs.
    again = cli("run", "--answers", answers_file, repo, "--only", "playbooks")
    assert again.returncode == 0, again.stderr
    assert "nothing to run" in " ".join(again.stderr.split())
    assert len(playbook_runs(repo, SERVICES)) == 1

    # status --verify looks at the hosts: an installed file changed there is named.
    (home / "jenkins_env").write_text("export TAMPERED=1\n")
    verified = cli("status", "--json", "--verify", repo)
    playbooks_state = {s["name"]: s for s in json.loads(verified.stdout)["steps"]}["playbooks"]
    assert playbooks_state["state"] == "stale"
    assert f"{home / 'jenkins_env'} on {services.LOOPBACK} differs" in playbooks_state["reason"]
    # A Jenkins file the files step rewrote in the secure repo makes the step stale (locally).
    with (repo / "analytics-tasks" / "jenkins_env").open("a") as handle:
        handle.write("# edited\n")
    states = {s["name"]: s for s in json.loads(cli("status", "--json", repo).stdout)["steps"]}
    assert states["playbooks"]["state"] == "stale"
    assert "analytics-tasks/jenkins_env changed" in states["playbooks"]["reason"]


# --- failures -----------------------------------------------------------------------------------


def test_a_failing_task_shows_its_own_error_and_the_next_run_can_start_at_it(
    setup: Callable[..., tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    repo, answers = setup(standin_variant="fail")
    answers_file = write_answers(tmp_path / "answers.yml", answers)

    failed = cli("run", "--answers", answers_file, repo, "--only", "playbooks", "--json")

    assert failed.returncode == 1, failed.stderr
    said = failed.stderr
    assert "task 'Install the analytics API requirements' failed on 127.0.0.1" in said
    assert "E: Unable to locate package libmysqlclient-standin" in said
    assert "exit code 100" in said
    assert "all hosts have already failed" not in said.lower()
    [step] = json.loads(failed.stdout)["steps"]
    assert step["state"] == "failed"
    failure = step["details"]["playbooks"][0]["failure"]
    assert failure["task"] == "Install the analytics API requirements"
    assert failure["host"] == services.LOOPBACK
    assert "libmysqlclient-standin" in failure["stderr"]
    assert "libmysqlclient-standin" in step["reason"]
    assert not playbook_runs(repo, JENKINS)  # nothing after the failed playbook ran
    status = {s["name"]: s for s in json.loads(cli("status", "--json", repo).stdout)["steps"]}
    assert status["playbooks"]["state"] == "failed"
    assert "libmysqlclient-standin" in status["playbooks"]["reason"]

    # The next preview names the failed task and how to start there.
    with Session.open(repo, write=False) as session:
        plan = session.plan("playbooks")
    assert any("failed at task 'Install the analytics API requirements'" in n for n in plan.notes)
    assert any("--start-at-task 'Install the analytics API requirements'" in n for n in plan.notes)

    # Starting at a later task (the failing one is before it) runs the rest and both
    # playbooks; then the follow-ups fail: Jenkins' home is not there.
    home = Path(answers["jenkins"]["home"])
    home.rmdir()
    later = "Mark the services as deployed"
    resumed = cli(
        "run", "--answers", answers_file, repo, "--only", "playbooks", "--start-at-task", later
    )
    assert resumed.returncode == 1
    second = playbook_runs(repo, SERVICES)[-1]
    assert f"--start-at-task '{later}'" in second["shown"]
    assert len(playbook_runs(repo, JENKINS)) == 1
    assert f"Destination directory {home} does not exist" in resumed.stderr

    # Only the follow-ups again, once the directory is there.
    home.mkdir()
    with Session.open(repo, write=False) as session:
        plan = session.plan("playbooks")
    note = next(n for n in plan.notes if "the last run failed" in n)
    assert "in the follow-ups, after both playbooks" in note
    assert f"--start-at-task '{playbooks.FILES_TASK}'" in note
    rest = cli(
        "run",
        "--answers",
        answers_file,
        repo,
        "--only",
        "playbooks",
        "--start-at-task",
        playbooks.FILES_TASK,
    )
    assert rest.returncode == 0, rest.stderr
    assert len(playbook_runs(repo, SERVICES)) == 2 and len(playbook_runs(repo, JENKINS)) == 1
    assert (home / "jenkins_env").is_file()
    assert ledger(repo)["status"] == "done"


# --- the Jenkins gate -----------------------------------------------------------------------------


def test_a_world_open_jenkins_port_blocks_until_revoked(
    setup: Callable[..., tuple[Path, dict[str, Any]]],
    cloud: dict[str, Any],
    moto: Any,
    tmp_path: Path,
) -> None:
    repo, answers = setup()
    world = {
        "IpProtocol": "tcp",
        "FromPort": 8080,
        "ToPort": 8081,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
    }
    cloud["ec2"].authorize_security_group_ingress(GroupId=cloud["group"], IpPermissions=[world])

    with Session.open(repo, write=False) as session:
        dry = session.plan("playbooks")
    blocked = playbooks.STEP.blocking(dry)
    assert blocked is not None
    assert f"{cloud['group']} (analytics) admits tcp 8080-8081 from 0.0.0.0/0" in blocked
    assert (
        f"aws ec2 revoke-security-group-ingress --region us-east-1 --group-id {cloud['group']}"
        in blocked
    )

    with Session.open(repo, command="test") as session, pytest.raises(NeedsDecision) as asked:
        session.plan("playbooks")
    assert asked.value.key == playbooks.REVOKE and "Revoke" in asked.value.question

    refused = cli(
        "run", "--answers", write_answers(tmp_path / "a.yml", answers), repo, "--only", "playbooks"
    )
    assert refused.returncode == 1
    assert "Jenkins (8080 / 8081) would be open to the internet" in " ".join(refused.stderr.split())
    assert "revoke-security-group-ingress" in refused.stderr
    assert not (repo / ".wizard" / "runs").exists() or not playbook_runs(repo, SERVICES)

    # Yes: the rule is revoked at the gate, just before the Jenkins playbook (started at its
    # first task here, so the services playbook is not run again for this test).
    ctx, lines, _ = recording()
    (tmp_path / "out").mkdir()  # the stand-in's first tasks (skipped here) would make it
    with Session.open(repo, command="test") as session:
        plan = session.plan(
            "playbooks", {playbooks.REVOKE: "yes", playbooks.START_AT: "Install Jenkins"}
        )
        assert any(e.startswith("revokes: ") for e in plan.effects)
        assert not any(e.startswith(f"runs {SERVICES}") for e in plan.effects)
        session.apply(plan, ctx)
    said = "\n".join(lines)
    assert "Jenkins gate: revoked tcp 8080-8081 from 0.0.0.0/0" in said
    assert said.index("Jenkins gate: revoked") < said.index(f"starting {JENKINS}")
    permissions = cloud["ec2"].describe_security_groups(GroupIds=[cloud["group"]])[
        "SecurityGroups"
    ][0]["IpPermissions"]
    assert not any(p.get("FromPort") == 8080 for p in permissions)
    assert any(p.get("FromPort") == 80 for p in permissions)  # Insights' rule is untouched
    assert (tmp_path / "out" / "analytics-jenkins.done").is_file()
    assert not (tmp_path / "out" / "analytics_single.done").exists()

    # An analytics IP that AWS does not know blocks with a clear message.
    moto.reset()
    with Session.open(repo, write=False) as session:
        session.answers.set("ansible.start_at_task", "beginning")
        unknown = session.plan("playbooks")
    blocked = playbooks.STEP.blocking(unknown)
    assert (
        blocked is not None and "the Jenkins gate cannot check the analytics instances" in blocked
    )
    assert "no instance 127.0.0.1" in blocked


# --- host keys --------------------------------------------------------------------------------


def test_an_unknown_host_key_is_asked_about_with_its_fingerprint(
    setup: Callable[..., tuple[Path, dict[str, Any]]],
    sshd_server: services.SSHD,
    known_hosts: Path,
    tmp_path: Path,
) -> None:
    repo, answers = setup()
    known_hosts.write_text("")

    refused = cli(
        "run", "--answers", write_answers(tmp_path / "a.yml", answers), repo, "--only", "playbooks"
    )
    assert refused.returncode == 1
    said = " ".join(refused.stderr.split())
    assert sshd_server.fingerprint() in said
    assert f"ssh-keyscan -p {sshd_server.port} 127.0.0.1 >> {known_hosts}" in said

    with Session.open(repo, command="test") as session:
        with pytest.raises(HostKeyUnknown) as asked:
            session.plan("playbooks")
        assert asked.value.fingerprint == sshd_server.fingerprint()
        assert known_hosts.read_text() == ""
        plan = session.plan("playbooks", {asked.value.key: asked.value.value})
    assert any(sshd_server.fingerprint() in note for note in plan.notes)
    assert f"[127.0.0.1]:{sshd_server.port}" in known_hosts.read_text()  # trusted: recorded
    assert not playbook_runs(repo, SERVICES) if (repo / ".wizard" / "runs").exists() else True


# --- stopping, and runs that outlive the wizard -----------------------------------------------


def _processes() -> list[tuple[int, bytes]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((int(entry.name), (entry / "cmdline").read_bytes()))
            except OSError:
                continue
    return found


def test_stopping_a_run_stops_ansible_and_records_the_step_failed(
    setup: Callable[..., tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    repo, _ = setup(standin_variant="slow", standin_slow_steps=120)
    lines: list[str] = []
    events: list[Event] = []

    def slow_task_started() -> bool:
        return any("Run the slow migrations" in str(e.data.get("headline")) for e in events[-3:])

    ctx = RunContext(
        on_progress=lines.append, on_event=events.append, is_cancelled=slow_task_started
    )
    with Session.open(repo, command="test") as session:
        plan = session.plan("playbooks")
        with pytest.raises(Cancelled) as stopped:
            session.apply(plan, ctx)

    assert "analytics_single.yml was stopped at task 'Run the slow migrations'" in str(
        stopped.value
    )
    record = ledger(repo)
    assert record["status"] == "failed" and "was stopped" in record["reason"]
    [run] = playbook_runs(repo, SERVICES)
    assert run["exit_code"] is not None and run["exit_code"] != 0
    private = str(repo / ".wizard" / "runs" / run["id"]).encode()
    assert not [
        pid for pid, line in _processes() if b"ansible-playbook" in line and private in line
    ]
    assert (
        repo / ".wizard" / "runs" / run["id"] / "ansible" / "stopped"
    ).read_text().strip() == "SIGINT"
    assert not (tmp_path / "out" / "analytics_single.done").exists()
    # The live view was fed what it shows: task n of m, the play, per-host counts, elapsed.
    shown = [e.data for e in events if e.kind == "progress"]
    assert any(d["headline"].startswith(f"{SERVICES} · task 4 of 8 · play ") for d in shown)
    assert any(line.startswith("127.0.0.1: ok ") for d in shown for line in d["lines"])
    assert any(line.startswith("elapsed ") for d in shown for line in d["lines"])
    assert 0 < shown[-1]["fraction"] < 1


def _run_stdout(repo: Path, run: dict[str, Any]) -> str:
    path = repo / ".wizard" / "runs" / run["id"] / "ansible" / "artifacts" / "run" / "stdout"
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def test_a_wizard_killed_mid_playbook_is_followed_by_the_next_one_and_ansible_runs_once(
    setup: Callable[..., tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    repo, answers = setup(standin_variant="slow", standin_slow_steps=15)
    answers_file = write_answers(tmp_path / "answers.yml", answers)
    command = ["run", "--answers", answers_file, repo, "--only", "playbooks"]
    wizard = subprocess.Popen(
        [sys.executable, "-m", "screens", *map(str, command)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env(),
    )
    try:
        wait_for(lambda: ledger(repo).get("status") == "running", "the playbook starting")
        wait_for(
            lambda: (
                "Run the slow migrations" in _run_stdout(repo, playbook_runs(repo, SERVICES)[0])
            ),
            "the slow task",
        )
        # While the run goes on, no process has a password on its command line.
        leaks = [line for _, line in _processes() if LEAK_MARK in line]
        assert leaks == []
        wizard.send_signal(signal.SIGKILL)
        wizard.wait(timeout=30)
    finally:
        if wizard.poll() is None:
            wizard.kill()

    status = cli("status", "--json", repo)
    state = {s["name"]: s for s in json.loads(status.stdout)["steps"]}["playbooks"]
    assert state["state"] == "running", state
    assert state["reason"].startswith(f"{SERVICES} · task ") and " of 8" in state["reason"]

    resumed = cli("run", "--answers", answers_file, repo, "--only", "playbooks")

    assert resumed.returncode == 0, resumed.stderr
    assert "following it" in resumed.stderr
    assert len(playbook_runs(repo, SERVICES)) == 1  # followed, never started again
    assert len(playbook_runs(repo, JENKINS)) == 1
    assert ledger(repo)["status"] == "done"
    assert (tmp_path / "out" / "analytics_single.done").is_file()
    assert PLANTED_PASSWORD not in resumed.stderr


class Wizards:
    """Wizards on one repo, each in a tmux session of its own at 80x24 (the tests' AWS)."""

    def __init__(self, tmux: Any, repo: Path, aws_env: dict[str, str]) -> None:
        self.tmux = tmux
        self.command = shlex.join([sys.executable, "-m", "screens", str(repo)])
        self.env = [f"PYTHONPATH={ROOT}", "TERM=xterm-256color", "LANG=C.UTF-8"]
        self.env += [f"{name}={value}" for name, value in aws_env.items()]

    def start(self, session: str) -> None:
        made = self.tmux(
            "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
            "env", *self.env, "sh", "-c", self.command,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr

    def shown(self, session: str) -> str:
        return str(self.tmux("capture-pane", "-p", "-t", session).stdout)

    def keys(self, session: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", session, *keys)

    def exited(self, session: str) -> bool:
        shown = self.tmux("display-message", "-p", "-t", session, "#{pane_dead}").stdout
        return shown.strip() == "1"


def test_quit_leaves_the_run_going_and_the_next_wizards_follow_it_even_after_a_dropped_terminal(
    setup: Callable[..., tuple[Path, dict[str, Any]]],
    aws_env: dict[str, str],
    tmp_path: Path,
    tmux: Any,
) -> None:
    repo, _ = setup(standin_variant="slow", standin_slow_steps=25)
    wizards = Wizards(tmux, repo, aws_env)
    wizards.start("first")
    wait_for(lambda: "AWS profile" in wizards.shown("first"), "the wizard on its first step")
    wizards.keys("first", "F2", "Down", "Down", "Down", "Down")
    wait_for(lambda: "Playbooks ·" in wizards.shown("first"), "the playbooks form")
    wizards.keys("first", "C-p")
    wait_for(lambda: f"runs {SERVICES}" in wizards.shown("first"), "the preview")
    wizards.keys("first", "C-s")
    wait_for(
        lambda: f"Run {SERVICES} and {JENKINS}" in " ".join(wizards.shown("first").split()),
        "the question",
    )
    wizards.keys("first", "y")
    wait_for(lambda: " of 8 · play " in wizards.shown("first"), "the live view of the run")
    wait_for(lambda: "Run the slow migrations" in wizards.shown("first"), "the slow task")
    # ctrl+q while it runs asks; "leave it running" quits the wizard, not the run.
    wizards.keys("first", "C-q")
    wait_for(lambda: "Leave running (l)" in wizards.shown("first"), "the quit question")
    wizards.keys("first", "l")
    wait_for(
        lambda: wizards.exited("first"),
        "the first wizard quitting",
        shown=lambda: wizards.shown("first"),
    )
    assert ledger(repo).get("status") == "running"

    # The next wizard follows the run; its terminal goes away (a dropped SSH connection) …
    wizards.start("second")
    wait_for(lambda: "Following the run" in wizards.shown("second"), "the second wizard following")
    wizards.tmux("kill-session", "-t", "second")
    wait_for(lambda: released(repo), "the second wizard letting go of the repo")

    # … and the one after follows it to its end.
    wizards.start("third")
    wait_for(
        lambda: (
            "Following the run" in wizards.shown("third") or ledger(repo).get("status") == "done"
        ),
        "the third wizard following the run",
        shown=lambda: wizards.shown("third"),
    )
    wait_for(
        lambda: ledger(repo).get("status") == "done",
        "the run recorded as done",
        120,
        lambda: wizards.shown("third"),
    )
    wait_for(
        lambda: "Playbooks is done; next:" in wizards.shown("third"),
        "the outcome on the form",
        shown=lambda: wizards.shown("third"),
    )
    wizards.keys("third", "C-q")
    assert len(playbook_runs(repo, SERVICES)) == 1
    assert (tmp_path / "out" / "analytics_single.done").is_file()
    assert "Traceback" not in wizards.shown("third")
