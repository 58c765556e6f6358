"""A headless run killed with SIGKILL at any moment leaves nothing half-written, and a re-run
finishes the job with exactly the files an uninterrupted run writes (SPEC §3: every write is
atomic; resume starts where it stopped).

Each scenario runs the real CLI in a subprocess, kills its whole process group (the wizard and any
git it started) after a random delay spread over the measured length of an uninterrupted run, and
looks at the secure repo after every kill.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PLANTED_PASSWORD, cli_env, complete_answers, run_cli
from wizard import yamlio

pytestmark = pytest.mark.slow

OUTPUTS: dict[str, int] = {
    "vars-analytics.yml": 0o600,
    "analytics-tasks/jenkins_env": 0o644,
    "analytics-tasks/emr-vars.yml": 0o644,
    "analytics-tasks/analytics-override.cfg": 0o644,
    "analytics-tasks/edxapp_creds": 0o600,
    "analytics-tasks/edxanalytics_creds": 0o600,
}
STATE_FILES: dict[str, int | None] = {
    ".wizard/answers.yml": None,
    ".wizard/secrets.yml": 0o600,
    ".wizard/state.yml": None,
}

# Every secret the files step would otherwise generate, so two runs are comparable byte for byte.
SUPPLIED_SECRETS: dict[str, str] = {
    "database__analytics_password": "an'alytics\"pw#%$\\{{ x }}ü😀",
    "database__readonly_password": "read-only pw %(x)s ${HOME}",
    "terraform__rds_root_password": "rds root {% if %}",
    "insights__secret_key": "insights-secret-key-0001",
    "insights__oauth2_key": "insights-oauth2-key-0002",
    "insights__oauth2_secret": "insights-oauth2-secret-0003",
    "analytics_api__auth_token": "analytics-api-token-0004",
    "analytics_api__secret_key": "analytics-api-secret-0005",
}

# The second scenario changes answers that reach every one of the six files.
UPDATED: dict[str, Any] = {
    "pipeline__cluster_name": 'Acme\'s "New" Cluster #2 100% $HOME',
    "database__analytics_password": "changed'pw\"#%$\\{% raw %}ü",
    "database__readonly_password": "changed read-only %% pw",
    "aws__region": "eu-west-1",
    "infrastructure__elasticsearch_host": "search-acme-new.eu-west-1.es.amazonaws.com",
}

SEED = 20240611
ROUNDS = 8
MAX_KILLS_PER_ROUND = 3


def answers_data(**overrides: Any) -> dict[str, Any]:
    # A key path outside the repo, so the files do not depend on where the repo is.
    fixed = {**SUPPLIED_SECRETS, "ansible__private_key": "~/.ssh/acme-analytics.pem"}
    return complete_answers(**{**fixed, **overrides})


def write_answers_file(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yamlio.dumps(data), encoding="utf-8")
    return path


def snapshot(repo: Path) -> dict[str, bytes | None]:
    return {
        name: (repo / name).read_bytes() if (repo / name).exists() else None for name in OUTPUTS
    }


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def start_run(answers: Path, repo: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "screens", "run", "--answers", str(answers), str(repo)),
            *("--only", "files"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env(**env),
        start_new_session=True,
    )


def kill_after(answers: Path, repo: Path, delay: float) -> bool:
    """Start a run, SIGKILL its process group after ``delay``; True if it was still running."""
    proc = start_run(answers, repo)
    time.sleep(delay)
    alive = proc.poll() is None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)
    # Children that outlived the leader (a git it started) die with the group too.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return alive


def complete_run(answers: Path, repo: Path) -> None:
    result = run_cli("run", "--answers", answers, repo, "--only", "files")
    assert result.returncode == 0, result.stderr


def measured_duration(answers: Path, repo: Path) -> float:
    """How long an uninterrupted run takes here (to spread the kills over it; never asserted)."""
    started = time.monotonic()
    complete_run(answers, repo)
    return time.monotonic() - started


def temp_files(repo: Path) -> list[Path]:
    return sorted(p for p in repo.rglob("*.tmp"))


def check_after_kill(
    repo: Path, previous: dict[str, bytes | None], final: dict[str, bytes | None], where: str
) -> None:
    """Each output is absent, its previous bytes or its final bytes, with the right mode."""
    for name, wanted_mode in OUTPUTS.items():
        path = repo / name
        if not path.exists():
            assert previous[name] is None, f"{where}: {name} disappeared"
            continue
        data = path.read_bytes()
        assert data in (previous[name], final[name]), f"{where}: {name} is half-written"
        assert mode_of(path) == wanted_mode, f"{where}: {name} has mode {mode_of(path):o}"
    for name, wanted in STATE_FILES.items():
        path = repo / name
        if path.exists():
            yamlio.load(path)  # never half-written: it parses
            if wanted is not None:
                assert mode_of(path) == wanted, f"{where}: {name} has mode {mode_of(path):o}"
    # A temp file a kill left behind must be where the next run cleans up.
    cleaned = {repo, repo / "analytics-tasks", repo / ".wizard"}
    for tmp in temp_files(repo):
        if ".git" in tmp.relative_to(repo).parts:
            continue
        assert tmp.parent in cleaned, f"{where}: {tmp} would never be cleaned up"


def lock_is_free(repo: Path) -> bool:
    fd = os.open(repo / ".wizard" / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def check_completed(repo: Path, final: dict[str, bytes | None], where: str) -> None:
    assert snapshot(repo) == final, f"{where}: the files differ from an uninterrupted run"
    for name, wanted_mode in OUTPUTS.items():
        assert mode_of(repo / name) == wanted_mode, f"{where}: {name}"
    assert mode_of(repo / "analytics-tasks") == 0o700, where
    assert mode_of(repo / ".wizard") == 0o700, where
    assert mode_of(repo / ".wizard" / "secrets.yml") == 0o600, where
    assert temp_files(repo) == [], f"{where}: temp files left: {temp_files(repo)}"
    assert lock_is_free(repo), f"{where}: the lock is still held"
    status = run_cli("status", "--json", repo)
    states = {s["name"]: s for s in json.loads(status.stdout)["steps"]}
    assert states["files"]["state"] == "done", f"{where}: {states['files']}"
    git = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
    )
    assert git.returncode == 0, f"{where}: {git.stderr}"
    assert git.stdout == "", f"{where}: the secure repo has uncommitted changes:\n{git.stdout}"
    log = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%s"], capture_output=True, text=True
    )
    assert "analytics-wizard: files step done" in log.stdout.splitlines(), f"{where}: {log}"


def reference_files(workdir: Path, *answer_files: Path) -> dict[str, bytes | None]:
    """The six files after uninterrupted runs with ``answer_files`` in turn, in a fresh repo at
    the path the killed runs use (the key path inside vars-analytics.yml names the repo)."""
    repo = workdir / "secure-config"
    shutil.rmtree(repo, ignore_errors=True)
    for answers in answer_files:
        complete_run(answers, repo)
    files = snapshot(repo)
    shutil.rmtree(repo)
    assert all(data is not None for data in files.values())
    return files


def delays(rng: random.Random, duration: float) -> list[float]:
    return [rng.uniform(0.0, duration * 1.15) for _ in range(rng.randint(1, MAX_KILLS_PER_ROUND))]


def test_killed_first_run_resumes_to_the_same_files(tmp_path: Path) -> None:
    answers = write_answers_file(tmp_path / "answers.yml", answers_data())
    final = reference_files(tmp_path, answers)
    repo = tmp_path / "secure-config"
    duration = min(measured_duration(answers, tmp_path / f"timing-{i}") for i in range(2))
    rng = random.Random(SEED)
    kills = landed = 0
    for round_no in range(ROUNDS):
        shutil.rmtree(repo, ignore_errors=True)
        previous = snapshot(repo)
        for delay in delays(rng, duration):
            where = f"round {round_no}, kill after {delay:.3f}s"
            landed += kill_after(answers, repo, delay)
            kills += 1
            check_after_kill(repo, previous, final, where)
            previous = snapshot(repo)
        complete_run(answers, repo)
        check_completed(repo, final, f"round {round_no}")
    assert kills >= ROUNDS
    assert landed >= kills // 4, "too few kills landed while the run was still going"


def test_killed_update_of_existing_files_resumes_to_the_same_files(tmp_path: Path) -> None:
    first = write_answers_file(tmp_path / "first.yml", answers_data())
    second = write_answers_file(tmp_path / "second.yml", answers_data(**UPDATED))
    before = reference_files(tmp_path, first)
    final = reference_files(tmp_path, first, second)
    assert all(before[name] != final[name] for name in OUTPUTS), "every file should change"

    # A secure repo after an uninterrupted first run, copied afresh for every round.
    prepared = tmp_path / "prepared" / "secure-config"
    complete_run(first, prepared)
    duration = min(measured_duration(second, tmp_path / f"timing-{i}") for i in range(2))
    repo = tmp_path / "secure-config"
    rng = random.Random(SEED + 1)
    kills = landed = 0
    for round_no in range(ROUNDS):
        shutil.rmtree(repo, ignore_errors=True)
        shutil.copytree(prepared, repo, symlinks=True)
        previous = snapshot(repo)
        assert previous == before
        for delay in delays(rng, duration):
            where = f"round {round_no}, kill after {delay:.3f}s"
            landed += kill_after(second, repo, delay)
            kills += 1
            check_after_kill(repo, previous, final, where)
            previous = snapshot(repo)
        complete_run(second, repo)
        check_completed(repo, final, f"round {round_no}")
    assert kills >= ROUNDS
    assert landed >= kills // 4, "too few kills landed while the run was still going"


def test_the_compared_files_carry_the_hostile_values(tmp_path: Path) -> None:
    """The comparisons above only mean something if the files hold values that need quoting."""
    answers = write_answers_file(tmp_path / "answers.yml", answers_data(**UPDATED))
    files = reference_files(tmp_path, answers)
    creds = json.loads(files["analytics-tasks/edxanalytics_creds"] or b"{}")
    assert creds["password"] == UPDATED["database__analytics_password"]
    assert b"!unsafe" in (files["vars-analytics.yml"] or b"")
    assert answers_data()["edxapp"]["migrate_password"] == PLANTED_PASSWORD


# --- kills at the moments git holds its own locks ------------------------------------------

# Stands in for git on PATH: at the chosen subcommand it leaves what a git killed there leaves
# (a half-made .git, the config's lock, or the index lock) and SIGKILLs the whole run; otherwise
# it is real git.
GIT_KILLER = """#!/bin/bash
args=("$@")
i=0
repo=.
while [ $i -lt ${#args[@]} ]; do
  case "${args[$i]}" in
    -C) repo="${args[$((i + 1))]}"; i=$((i + 2)) ;;
    -c) i=$((i + 2)) ;;
    *) break ;;
  esac
done
if [ "${args[$i]}" = "$KILL_AT_GIT" ]; then
  if [ "$KILL_AT_GIT" = init ]; then
    mkdir -p "$repo/.git/hooks" && echo unnamed > "$repo/.git/description"
    : > "$repo/.git/config.lock"
  elif [ "$KILL_AT_GIT" = config ]; then
    : > "$repo/.git/config.lock"
  else
    : > "$repo/.git/index.lock"
  fi
  kill -KILL 0
fi
exec REAL_GIT "$@"
"""


def git_killer(directory: Path) -> dict[str, str]:
    real = shutil.which("git")
    assert real is not None, "git is needed on PATH"
    directory.mkdir()
    script = directory / "git"
    script.write_text(GIT_KILLER.replace("REAL_GIT", real), encoding="utf-8")
    script.chmod(0o755)
    return {"PATH": f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.parametrize(
    ("scenario", "kill_at"),
    [
        ("first run", "init"),
        ("first run", "config"),  # making git write owner-only files (core.sharedRepository)
        ("first run", "add"),
        ("first run", "commit"),
        ("update", "add"),
        ("update", "commit"),
    ],
)
def test_run_killed_inside_git_resumes_and_commits(
    tmp_path: Path, scenario: str, kill_at: str
) -> None:
    first = write_answers_file(tmp_path / "first.yml", answers_data())
    second = write_answers_file(tmp_path / "second.yml", answers_data(**UPDATED))
    answer_files = [first] if scenario == "first run" else [first, second]
    final = reference_files(tmp_path, *answer_files)
    repo = tmp_path / "secure-config"
    if scenario == "update":
        complete_run(first, repo)
    previous = snapshot(repo)
    env = {**git_killer(tmp_path / "bin"), "KILL_AT_GIT": kill_at}

    proc = start_run(answer_files[-1], repo, **env)
    assert proc.wait(timeout=120) == -signal.SIGKILL, f"git {kill_at} was never reached"
    check_after_kill(repo, previous, final, f"killed in git {kill_at}")

    complete_run(answer_files[-1], repo)
    check_completed(repo, final, f"after a kill in git {kill_at}")
