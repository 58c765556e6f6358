"""Bad input is a clear exit 2 (the answers) or 5 (the secure repo's state), never 70, and comes
before anything slow is started (a refusal that hangs is killed at a generous bound; speed itself
is bench/'s to measure). A full disk and a busy git are one sentence and the fix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import complete_answers, run_cli

from wizard import yamlio

WriteAnswers = Callable[..., Path]
WITHIN = 120  # seconds: a hang guard, not a speed check
FILES_ONLY = ("--only", "files")


def bounded(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The headless CLI, killed (failing the test) if it takes longer than WITHIN seconds."""
    from conftest import cli_env

    try:
        return subprocess.run(
            [sys.executable, "-m", "wizard", *map(str, args)],
            capture_output=True,
            text=True,
            env=cli_env(COLUMNS="1000"),
            timeout=WITHIN,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"not refused within {WITHIN} s (hung?): {args}")


def assert_clear(result: subprocess.CompletedProcess[str], code: int, *said: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode == code, out
    assert "Traceback" not in out and "internal error" not in out
    for text in said:
        assert text in out, out


def bomb(levels: int = 9) -> str:
    """A "billion laughs": nine levels of nine aliases, 9**9 strings once expanded."""
    lines = ["client:", "  a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"  a{level}: &a{level} [{refs}]")
    lines.append(f"  name: *a{levels - 1}")
    return "\n".join(lines) + "\n"


BAD_ANSWERS = {
    "invalid UTF-8": (b"client:\n  name: acme\xff\xfe\n", "is not a UTF-8 text file"),
    "binary": (b"\x00\x01\x02\x03PK\x03\x04" + bytes(range(32)), "not a YAML text file"),
    "a recursive alias": (b"client:\n  name: &a [*a]\n", "aliases are not allowed here"),
    "a billion laughs": (bomb().encode(), "aliases are not allowed here"),
    "deep nesting": (b"client:\n  name: " + b"[" * 100000 + b"]" * 100000, "nested more than"),
}


@pytest.mark.parametrize("case", BAD_ANSWERS)
def test_a_bad_answers_file_is_exit_2_naming_it(tmp_path: Path, case: str) -> None:
    content, said = BAD_ANSWERS[case]
    answers = tmp_path / "answers.yml"
    answers.write_bytes(content)
    repo = tmp_path / "secure-config"
    result = bounded("run", "--answers", answers, repo, *FILES_ONLY)
    assert_clear(result, 2, str(answers), said)
    dry = bounded("run", "--answers", answers, repo, "--dry-run", *FILES_ONLY)
    assert_clear(dry, 2, str(answers), said)


def test_the_real_console_entry_point_says_the_same(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_bytes(bomb().encode())
    result = run_cli("run", "--answers", answers, tmp_path / "repo", *FILES_ONLY, COLUMNS="1000")
    assert_clear(result, 2, "aliases are not allowed here")


@pytest.fixture
def done_repo(tmp_path: Path, write_answers: WriteAnswers) -> tuple[Path, Path]:
    """A secure repo after one files run, and its answers file."""
    repo = tmp_path / "secure-config"
    answers = write_answers(complete_answers())
    assert run_cli("run", "--answers", answers, repo, *FILES_ONLY).returncode == 0
    return repo, answers


BAD_STATE = {
    "steps as a list": "schema_version: 2\nsteps: [1, 2]\n",
    "a step as text": "schema_version: 2\nsteps:\n  files: oops\n",
    "inputs as a list": "schema_version: 2\nsteps:\n  files:\n    status: done\n    inputs: [1]\n",
    "the file as a list": "- 1\n- 2\n",
    "schema as text": "schema_version: two\nsteps: {}\n",
    "an alias bomb": "schema_version: 2\nsteps:\n  files:\n    outputs:\n"
    + "".join("      " + line + "\n" for line in bomb().splitlines()[1:]),
    "invalid UTF-8": "schema_version: 2\nsteps: {}\n# \udcff\n",
}


@pytest.mark.parametrize("case", BAD_STATE)
def test_a_state_file_of_the_wrong_shape_is_exit_5_naming_it(
    done_repo: tuple[Path, Path], case: str
) -> None:
    repo, answers = done_repo
    state = repo / ".wizard" / "state.yml"
    state.write_bytes(BAD_STATE[case].encode("utf-8", "surrogateescape"))
    for args in (
        ("run", "--answers", answers, repo, *FILES_ONLY),
        ("run", "--answers", answers, repo, "--dry-run", *FILES_ONLY),
        ("status", repo),
    ):
        assert_clear(bounded(*args), 5, str(state))


def test_secrets_yml_that_is_not_text_is_exit_5(done_repo: tuple[Path, Path]) -> None:
    repo, _ = done_repo
    secrets = repo / ".wizard" / "secrets.yml"
    secrets.write_bytes(secrets.read_bytes() + b"\xff")
    assert_clear(bounded("status", repo), 5, str(secrets), "not a UTF-8 text file")


# --- a busy git, a full disk ----------------------------------------------------------------


def test_a_live_index_lock_is_one_sentence_and_the_fix(done_repo: tuple[Path, Path]) -> None:
    repo, _ = done_repo
    (repo / ".git" / "index.lock").write_text("", encoding="utf-8")  # someone's git commit
    answers = repo.parent / "changed.yml"
    answers.write_text(
        yamlio.dumps(complete_answers(edxapp__contact_email="analytics@example.com")),
        encoding="utf-8",
    )
    result = run_cli("run", "--answers", answers, repo, *FILES_ONLY, COLUMNS="1000")
    assert_clear(result, 1, "another git process is working in it (.git/index.lock exists)")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("error:", "✘"))]
    assert len(errors) == 1 and "fatal:" not in result.stderr
    assert "fix: wait for that git command to finish" in result.stderr
    assert "Another git process seems to be running" not in result.stderr  # git's paragraph
    assert (repo / ".git" / "index.lock").exists()  # not the wizard's to remove
    (repo / ".git" / "index.lock").unlink()
    assert run_cli("run", "--answers", answers, repo, *FILES_ONLY).returncode == 0
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout == ""  # the next run committed what the busy git held up


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs: a real file system that fills up (needs root, and mount permission)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write until the file system says ENOSPC, in big chunks and then in small ones."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (65536, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def wizard_files(repo: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(repo)): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.parts and "logs" not in p.parts
    }


@pytest.mark.parametrize("change", ["answers", "files"])
def test_a_full_disk_is_one_sentence_and_the_fix(
    small_disk: Path, write_answers: WriteAnswers, change: str
) -> None:
    repo = small_disk / "secure-config"
    answers = write_answers(complete_answers())
    first = run_cli("run", "--answers", answers, repo, *FILES_ONLY)
    assert first.returncode == 0, first.stderr
    if change == "answers":  # the answers file says something new: answers.yml is written
        answers = write_answers(complete_answers(edxapp__contact_email="new@example.com"))
    else:  # same answers, a file to write again
        (repo / "analytics-tasks" / "jenkins_env").unlink()
    before = wizard_files(repo)
    filler = fill(small_disk)
    result = run_cli("run", "--answers", answers, repo, *FILES_ONLY, COLUMNS="1000")
    assert_clear(result, 1, "No space left on device", "fix: free some space")
    assert ".tmp" not in result.stderr  # the real file is named, never a temp file
    assert wizard_files(repo) == before
    assert not [p for p in repo.rglob("*.tmp") if ".git" not in p.parts]
    filler.unlink()
    again = run_cli("run", "--answers", answers, repo, *FILES_ONLY)
    assert again.returncode == 0, again.stderr
