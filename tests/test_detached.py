"""Detached runs outlive the wizard: a SIGKILL of the wizard or a hang-up of its terminal does not
reach the command, its exit status is recorded with nobody watching, and a wizard started later
replays and follows the output from the start.

The commands are small Python scripts; the "wizard" is a Python process of the test's own that
starts a run and is then killed (real processes, real signals, a real pseudo-terminal).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PLANTED_PASSWORD, cli_env, wait_for

from wizard import detached

# Prints "line N" every ``pause`` seconds, then exits with ``code``; stops cleanly on SIGINT.
COUNTER = """
import signal, sys, time
count, pause, code = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
def stop(signum, frame):
    print("stopping on SIGINT", flush=True)
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
for i in range(count):
    print(f"line {i}", flush=True)
    time.sleep(pause)
print("error output", file=sys.stderr, flush=True)
sys.exit(code)
"""

# A "wizard": starts a run and waits forever. With a tty path, it first makes that terminal its
# controlling terminal (as a login shell over SSH does), so closing the terminal hangs it up.
WIZARD = """
import json, os, sys, time
from pathlib import Path
from wizard import detached
runs, tty, argv = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
if tty:
    fd = os.open(tty, os.O_RDWR)  # a session leader opening a tty: its controlling terminal
    for target in (0, 1, 2):
        os.dup2(fd, target)
run = detached.start(runs, "demo", argv, cwd=runs, env=dict(os.environ), shown="counter")
(runs / "started").write_text(str(run.directory))
while True:
    time.sleep(1)
"""


def counter(count: int, pause: float, code: int = 0) -> list[str]:
    return [sys.executable, "-c", COUNTER, str(count), str(pause), str(code)]


def start(runs: Path, argv: list[str], **kwargs: object) -> detached.Run:
    env = {**os.environ, **kwargs.pop("extra_env", {})}  # type: ignore[dict-item]
    return detached.start(runs, "demo", argv, cwd=runs, env=env, shown="counter", **kwargs)  # type: ignore[arg-type]


def start_wizard(
    runs: Path, argv: list[str], tty: str = ""
) -> tuple[subprocess.Popen[bytes], Path]:
    """The fake wizard in its own session; returns it and the run directory it started."""
    runs.mkdir(parents=True, exist_ok=True)
    wizard = subprocess.Popen(
        [sys.executable, "-c", WIZARD, str(runs), tty, json.dumps(argv)],
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    marker = runs / "started"
    wait_for(lambda: marker.exists() or wizard.poll() is not None, "the wizard to start the run")
    assert wizard.poll() is None, "the wizard died before starting the run"
    return wizard, Path(marker.read_text())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_run_directory_is_private_and_the_record_holds_no_secret(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    argv = [*counter(30, 0.1), PLANTED_PASSWORD]  # as if the command needed a secret argument
    run = start(runs, argv, extra_env={"THE_SECRET": PLANTED_PASSWORD})
    try:
        assert mode(runs) == 0o700 and mode(run.directory) == 0o700
        for name in (detached.RECORD, detached.STDOUT, detached.STDERR):
            assert mode(run.directory / name) == 0o600, name
        record = json.loads((run.directory / detached.RECORD).read_text())
        assert record["step"] == "demo" and record["shown"] == "counter"
        assert record["cwd"] == str(runs) and record["exit_code"] is None
        assert isinstance(record["pid"], int) and isinstance(record["pid_start"], int)
        assert run.id.split("-", 1)[1].startswith("demo-")
        # The real command line goes to the supervisor through a pipe: nowhere on disk, and not
        # on the supervisor's own command line.
        supervisor = Path(f"/proc/{record['supervisor_pid']}/cmdline").read_bytes()
        assert PLANTED_PASSWORD.encode() not in supervisor
        assert b"wizard.detached" in supervisor
        for path in run.directory.iterdir():
            assert PLANTED_PASSWORD not in path.read_text(errors="replace"), path.name
    finally:
        run.stop(5)


def test_exit_status_is_recorded_with_nobody_watching(tmp_path: Path) -> None:
    run = start(tmp_path / "runs", counter(3, 0.05, code=7))
    assert run.state == detached.RUNNING
    wait_for(lambda: run.finished, "the supervisor to record the exit status")
    assert run.state == detached.FINISHED and run.exit_code == 7
    assert run.record["finished_at"] >= run.record["started_at"]
    assert run.lines() == ["line 0", "line 1", "line 2"]
    assert run.error_lines() == ["error output"]
    assert not run.alive()


def test_the_command_survives_a_sigkill_of_the_wizard(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    wizard, directory = start_wizard(runs, counter(20, 0.1, code=3))
    os.killpg(wizard.pid, signal.SIGKILL)  # the wizard and everything in its process group
    assert wizard.wait(timeout=30) == -signal.SIGKILL
    run = detached.Run.load(directory)
    assert run.state == detached.RUNNING and run.alive()
    seen: list[str] = []
    assert run.follow(seen.append) == 3
    assert seen == [f"line {i}" for i in range(20)]


def test_the_command_survives_the_wizards_terminal_hanging_up(tmp_path: Path) -> None:
    """The operator's SSH connection or tmux session drops: the terminal hangs up (SIGHUP)."""
    runs = tmp_path / "runs"
    master, slave = os.openpty()
    try:
        wizard, directory = start_wizard(runs, counter(20, 0.1, code=4), os.ttyname(slave))
    finally:
        os.close(slave)
    os.close(master)  # the terminal goes away
    assert wizard.wait(timeout=30) == -signal.SIGHUP, "the wizard did not get the hang-up"
    run = detached.Run.load(directory)
    assert run.state == detached.RUNNING
    lines: list[str] = []
    assert run.follow(lines.append) == 4
    assert len(lines) == 20


def test_follow_replays_from_the_start_after_a_reattach(tmp_path: Path) -> None:
    run = start(tmp_path / "runs", counter(12, 0.05, code=0))
    first: list[str] = []
    assert run.follow(first.append, cancelled=lambda: len(first) >= 3) is None
    assert first[:3] == ["line 0", "line 1", "line 2"]
    assert run.state == detached.RUNNING  # only the following stopped

    again = detached.find(tmp_path / "runs", "demo")  # a wizard started later
    assert again is not None and again.id == run.id
    replayed: list[str] = []
    assert again.follow(replayed.append) == 0
    assert replayed == [f"line {i}" for i in range(12)]


def test_a_run_whose_supervisor_was_killed_is_interrupted(tmp_path: Path) -> None:
    run = start(tmp_path / "runs", counter(600, 0.1))
    os.kill(run.record["supervisor_pid"], signal.SIGKILL)
    wait_for(lambda: not run.supervised(), "the supervisor to die")
    assert run.state == detached.RUNNING  # the command itself still runs
    os.kill(run.pid or 0, signal.SIGKILL)
    wait_for(lambda: not run.alive(), "the command to die")
    assert run.state == detached.INTERRUPTED
    assert run.exit_code is None and not run.finished
    with pytest.raises(detached.RunInterrupted, match="ended without an exit status"):
        run.follow(lambda line: None)


def test_a_reused_pid_is_not_taken_for_the_run(tmp_path: Path) -> None:
    run = start(tmp_path / "runs", counter(1, 0.0))
    wait_for(lambda: run.finished, "the run to end")
    me = os.getpid()
    real_start = detached.process_start(me)
    assert real_start is not None
    # The record now names a live process (this test) that started at another time.
    run.annotate(
        pid=me, pid_start=real_start + 1, exit_code=None, supervisor_pid=me, supervisor_start=1
    )
    assert not run.alive() and run.state == detached.INTERRUPTED
    run.annotate(pid_start=real_start)
    assert run.alive() and run.state == detached.RUNNING


def test_stop_interrupts_then_kills(tmp_path: Path) -> None:
    polite = start(tmp_path / "runs", counter(600, 0.1))
    wait_for(lambda: len(polite.lines()) >= 1, "the first line")
    assert polite.stop(grace=20) == 130  # it handled SIGINT and stopped on its own
    assert polite.lines()[-1] == "stopping on SIGINT"

    stubborn = start(
        tmp_path / "runs",
        [
            sys.executable,
            "-c",
            "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "print('ready', flush=True)\ntime.sleep(600)",
        ],
    )
    wait_for(lambda: stubborn.lines() == ["ready"], "the command to ignore SIGINT")
    assert stubborn.stop(grace=0.5) == -signal.SIGKILL
    assert stubborn.state == detached.FINISHED and not stubborn.alive()


def test_the_command_runs_under_the_given_umask(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    target = tmp_path / "state.json"
    run = start(runs, [sys.executable, "-c", f"open({str(target)!r}, 'w').write('x')"])
    wait_for(lambda: run.finished, "the run to end")
    assert run.exit_code == 0 and mode(target) == 0o600


def test_find_running_and_picking_up(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    old = start(runs, counter(1, 0.0))
    wait_for(lambda: old.finished, "the first run")
    new = start(runs, counter(600, 0.1))
    other = detached.start(runs, "other", counter(1, 0.0), cwd=runs, env=os.environ, shown="x")
    wait_for(lambda: other.finished, "the other run")
    try:
        found = detached.find(runs, "demo")
        assert found is not None and found.id == new.id
        assert [r.id for r in detached.running(runs)] == [new.id]
        assert detached.find(runs, "nothing") is None
        assert not old.picked_up
        old.pick_up()
        assert old.picked_up and detached.Run.load(old.directory).picked_up
        with pytest.raises(detached.RunError, match="still going"):
            new.pick_up()
    finally:
        new.stop(5)
    assert [r.id for r in detached.runs(runs)] == [old.id, new.id, other.id]


def test_a_missing_program_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(detached.RunError, match="cannot start no-such-program: No such file"):
        start(tmp_path / "runs", ["/nonexistent/no-such-program"])


def test_prune_keeps_the_newest_and_every_unused_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    made = []
    for _ in range(4):
        run = start(runs, counter(1, 0.0))
        wait_for(lambda run=run: run.finished, "the run to end")
        made.append(run)
    for run in made[:3]:
        run.pick_up()
    unused = made[0].directory
    detached.Run.load(unused).annotate(picked_up_at=None)  # its result was never used
    detached.prune(runs, keep=1)
    assert [r.id for r in detached.runs(runs)] == [made[0].id, made[3].id]


def test_a_run_can_start_in_a_directory_the_caller_prepared(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run_id = detached.new_id("demo")
    prepared = runs / run_id / "data"
    prepared.mkdir(parents=True)
    (prepared / "input").write_text("prepared\n")

    read = f"print(open({str(prepared / 'input')!r}).read().strip())"
    run = start(runs, [sys.executable, "-c", read], run_id=run_id)

    assert run.id == run_id and run.directory == runs / run_id
    wait_for(lambda: run.finished, "the run to end")
    assert run.exit_code == 0 and run.lines() == ["prepared"]
    assert mode(run.directory) == 0o700
    with pytest.raises(detached.RunError, match="already holds a run"):
        start(runs, counter(1, 0.0), run_id=run_id)
    with pytest.raises(detached.RunError, match="not a run id"):
        start(runs, counter(1, 0.0), run_id="../elsewhere")


# Starts a grandchild in a session of its own (as ansible-runner starts ansible-playbook) that
# ignores SIGINT, writes its pid, then sleeps; the command itself ignores SIGINT too.
SPAWNER = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
child = subprocess.Popen(
    [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
     "time.sleep(600)"],
    start_new_session=True,
)
print(child.pid, flush=True)
time.sleep(600)
"""


def test_a_stop_that_kills_leaves_no_descendant_in_another_session(tmp_path: Path) -> None:
    run = start(tmp_path / "runs", [sys.executable, "-c", SPAWNER])
    wait_for(lambda: len(run.lines()) == 1, "the grandchild to start")
    grandchild = int(run.lines()[0])
    assert os.getsid(grandchild) != os.getsid(run.pid or 0)
    assert grandchild in detached.descendants(run.pid or 0)

    assert run.stop(grace=0.5) == -signal.SIGKILL

    wait_for(lambda: detached.process_start(grandchild) is None, "the grandchild to be gone", 10)
