"""A step's files are written all together or not at all, and only over what the operator saw in
the preview; an error names the real file, never a temp file."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import complete_answers, run_cli

from wizard import fsutil
from wizard.engine import Session
from wizard.errors import ConflictError
from wizard.fsutil import FileWrite, WriteError, write_files

WriteAnswers = Callable[..., Path]
VARS = "vars-analytics.yml"
ENV = "analytics-tasks/jenkins_env"
EMR = "analytics-tasks/emr-vars.yml"


def snapshot(repo: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and inode of every file the wizard keeps (a rewrite is a new inode)."""
    return {
        str(p.relative_to(repo)): (p.read_bytes(), p.stat().st_ino)
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.parts and "logs" not in p.parts and p.name != "lock"
    }


def temp_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*.tmp") if ".git" not in p.parts]


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """``chattr +i`` (root, ext4 and the like); undone after the test."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr to make a file immutable")
    made: list[Path] = []

    def make(path: Path) -> None:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"this file system has no immutable flag: {done.stderr.strip()}")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_one_immutable_file_means_none_is_written(
    repo: Path, write_answers: WriteAnswers, immutable: Callable[[Path], None]
) -> None:
    first = write_answers(complete_answers())
    assert run_cli("run", "--answers", first, repo, "--only", "files").returncode == 0
    # Another region changes vars-analytics.yml, jenkins_env and emr-vars.yml.
    other = write_answers(complete_answers(aws__region="eu-west-1"))
    immutable(repo / EMR)
    before = snapshot(repo)
    result = run_cli("run", "--answers", other, repo, "--only", "files", COLUMNS="1000")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot write {repo / EMR} (Operation not permitted); nothing was written" in (
        result.stderr
    )
    assert ".tmp" not in result.stderr
    after = snapshot(repo)
    for rel in (VARS, ENV, EMR):
        assert after[rel] == before[rel], rel
    assert temp_files(repo) == []
    subprocess.run(["chattr", "-i", str(repo / EMR)], check=True)
    assert run_cli("run", "--answers", other, repo, "--only", "files").returncode == 0
    assert "eu-west-1" in (repo / EMR).read_text(encoding="utf-8")


def three(tmp_path: Path) -> list[FileWrite]:
    """Three files, two existing, one new, each with what the preview saw."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("old a\n", encoding="utf-8")
    (tmp_path / "sub" / "b.txt").write_text("old b\n", encoding="utf-8")
    return [
        FileWrite(tmp_path / "a.txt", "new a\n", 0o644, "old a\n"),
        FileWrite(tmp_path / "sub" / "b.txt", "new b\n", 0o600, "old b\n"),
        FileWrite(tmp_path / "sub" / "c.txt", "new c\n", 0o644, None),
    ]


def contents(tmp_path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(tmp_path)): p.read_text(encoding="utf-8")
        for p in sorted(tmp_path.rglob("*.txt"))
    }


def test_every_file_is_written_and_an_unchanged_one_is_left_alone(tmp_path: Path) -> None:
    changes = three(tmp_path)
    same = tmp_path / "same.txt"
    same.write_text("same\n", encoding="utf-8")
    os.chmod(same, 0o644)
    inode = same.stat().st_ino
    written = write_files([*changes, FileWrite(same, "same\n", 0o644, "same\n")], tmp_path)
    assert written == [c.path for c in changes]
    assert contents(tmp_path) == {
        "a.txt": "new a\n",
        "same.txt": "same\n",
        "sub/b.txt": "new b\n",
        "sub/c.txt": "new c\n",
    }
    assert (tmp_path / "sub" / "b.txt").stat().st_mode & 0o777 == 0o600
    assert same.stat().st_ino == inode
    assert temp_files(tmp_path) == []


def test_a_failed_rename_puts_the_old_files_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename that fails after others succeeded cannot be produced on demand here (an
    immutable or busy target already fails at the backup step, as the test above shows), so
    this one boundary, os.replace, fails on purpose at the third file."""
    changes = three(tmp_path)
    real_replace = os.replace
    calls: list[str] = []

    def replace(src: str | Path, dst: str | Path) -> None:
        calls.append(str(dst))
        if str(dst).endswith("c.txt"):
            raise OSError(errno.EIO, "Input/output error", str(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(WriteError) as caught:
        write_files(changes, tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)
    assert str(caught.value) == (
        f"cannot write {tmp_path / 'sub' / 'c.txt'} (Input/output error); nothing was written; "
        "check that path and run again"
    )
    assert contents(tmp_path) == {"a.txt": "old a\n", "sub/b.txt": "old b\n"}
    assert (tmp_path / "sub" / "b.txt").stat().st_mode & 0o777 == 0o644  # its old mode too
    assert temp_files(tmp_path) == []
    assert len([c for c in calls if c.endswith(".txt")]) >= 3


@pytest.mark.parametrize(
    "meddle, said",
    [
        (lambda p: (p / "sub" / "b.txt").write_text("edited\n"), "sub/b.txt changed on disk"),
        (lambda p: (p / "a.txt").unlink(), "a.txt changed on disk"),
        (lambda p: (p / "sub" / "c.txt").write_text("made\n"), "sub/c.txt was created"),
        (lambda p: (p / "sub" / "c.txt").mkdir(), "sub/c.txt was created"),
    ],
)
def test_a_file_changed_since_the_preview_stops_everything(
    tmp_path: Path, meddle: Callable[[Path], object], said: str
) -> None:
    changes = three(tmp_path)
    meddle(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.txt") if p.is_file()}
    with pytest.raises(ConflictError, match=f"{said} since the preview; nothing was written"):
        write_files(changes, tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.txt") if p.is_file()} == before
    assert temp_files(tmp_path) == []


def test_the_files_step_refuses_to_write_over_an_edit_made_after_the_preview(
    repo: Path,
) -> None:
    from wizard.answers import flatten

    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(complete_answers(), "a.yml"), "a.yml")
        session.apply(session.plan("files"))
        session.merge_answers({"aws.region": "eu-west-1"}, "a.yml")
        plan = session.plan("files")
        assert {c.path for c in plan.pending} >= {VARS, ENV, EMR}
        (repo / ENV).write_text((repo / ENV).read_text() + "export MINE=1\n")
        before = {rel: snapshot(repo)[rel] for rel in (VARS, ENV, EMR)}
        with pytest.raises(ConflictError) as caught:
            session.apply(plan)
        assert caught.value.exit_code == 3
        assert str(caught.value) == (
            f"{ENV} changed on disk since the preview; nothing was written; preview the step again"
        )
        assert {rel: snapshot(repo)[rel] for rel in (VARS, ENV, EMR)} == before
        again = session.plan("files")
        session.apply(again)
    assert "export MINE=1" in (repo / ENV).read_text()  # the operator's line survives


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_names_the_real_file_and_keeps_the_old_ones(small_disk: Path) -> None:
    changes = three(small_disk)
    big = FileWrite(small_disk / "sub" / "b.txt", "x" * 2_000_000, 0o600, "old b\n")
    with pytest.raises(WriteError) as caught:
        write_files([changes[0], big, changes[2]], small_disk)
    assert str(caught.value).startswith(
        f"cannot write {small_disk / 'sub' / 'b.txt'} (No space left on device); "
        "nothing was written; free some space"
    )
    assert contents(small_disk) == {"a.txt": "old a\n", "sub/b.txt": "old b\n"}
    assert temp_files(small_disk) == []


def test_atomic_write_names_the_real_file_too(small_disk: Path) -> None:
    with pytest.raises(WriteError, match=r"cannot write .*/big\.txt \(No space left on device\)"):
        fsutil.atomic_write(small_disk / "big.txt", "x" * 2_000_000)
    assert list(small_disk.iterdir()) == []
