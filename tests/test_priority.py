"""The long runs the wizard starts yield the CPU to its keys: terraform (attached) and the
detached runs (ansible, terraform apply) run nicer than the wizard, every thread of them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_for

from wizard import detached, priority
from wizard import terraform as tf

# A run that starts threads, then says the nice value of each, its main thread's and that of
# a thread started later (threads already running when the wizard lowers the priority: below).
THREADED = """
import json, os, threading, time
seen = {}
def look(name):
    time.sleep(0.5)
    seen[name] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
threads = [threading.Thread(target=look, args=(f"thread {n}",)) for n in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
late = threading.Thread(target=look, args=("started later",))
late.start()
late.join()
seen["main"] = os.getpriority(os.PRIO_PROCESS, 0)
print(json.dumps(seen), flush=True)
"""

THREAD_NAMES = {"main", "started later", *(f"thread {n}" for n in range(4))}


# Its threads are running before it is told to go on (a line on stdin): they are there when
# the wizard lowers the priority, as a Go program's are.
RUNNING = """
import json, os, sys, threading
go = threading.Event()
seen = {}
def look(name):
    go.wait()
    seen[name] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
threads = [threading.Thread(target=look, args=(f"thread {n}",)) for n in range(4)]
for thread in threads:
    thread.start()
print("running", flush=True)
sys.stdin.readline()
go.set()
for thread in threads:
    thread.join()
print(json.dumps(seen), flush=True)
"""


def test_lowering_a_run_reaches_the_threads_it_runs_already() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", RUNNING],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert child.stdin is not None and child.stdout is not None
    assert child.stdout.readline() == "running\n"
    priority.lower_group(child.pid)
    child.stdin.write("go\n")
    child.stdin.close()
    seen = json.loads(child.stdout.readline())
    child.wait(timeout=10)
    assert len(seen) == 4 and set(seen.values()) == {priority.nicer()}, seen


def test_a_terraform_run_is_nicer_than_the_wizard_in_every_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for the terraform binary (found on PATH as the real one is): what is checked
    # is how the wizard starts it, and a real terraform cannot be asked its threads' priority.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "terraform"
    stand_in.write_text(f"#!{sys.executable}\n{THREADED}")
    stand_in.chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    code, _, text = tf.Terraform(tmp_path).run(["version"])
    assert code == 0
    seen = json.loads(text[-1])
    assert set(seen) == THREAD_NAMES
    wanted = priority.nicer()
    assert wanted > os.getpriority(os.PRIO_PROCESS, 0)  # this very test runs at the wizard's
    assert set(seen.values()) == {wanted}, seen


def test_a_detached_run_is_nicer_than_the_wizard(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    argv = [sys.executable, "-c", THREADED]
    run = detached.start(runs, "demo", argv, cwd=tmp_path, env=dict(os.environ), shown="nice")
    output = run.directory / detached.STDOUT
    wait_for(lambda: output.read_text().strip() != "", "the run's output")
    seen = json.loads(output.read_text().splitlines()[-1])
    assert set(seen) == THREAD_NAMES
    assert set(seen.values()) == {priority.nicer()}, seen


def test_a_wizard_as_nice_as_can_be_starts_its_runs_no_nicer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "getpriority", lambda which, who: 15)
    assert priority.nicer() == 19
