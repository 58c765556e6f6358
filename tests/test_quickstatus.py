"""Plain ``status`` answered from the record of the last one (wizard.quickstatus): the same
answer, byte for byte, as working it out — and worked out again whenever anything it read
changed."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PLANTED_PASSWORD, cli_env, complete_answers

from wizard import quickstatus
from wizard.answers import flatten
from wizard.engine import Session

VARS = "vars-analytics.yml"
# Runs the console entry point, then says on stderr which of the modules that work a status
# out (headless mode, the step modules) it loaded.
DRIVER = (
    "import sys\n"
    "from screens import entry\n"
    "try:\n"
    "    entry.main()\n"
    "finally:\n"
    "    loaded = sorted(m for m in sys.modules if m == 'wizard.headless'\n"
    "                    or m.startswith('wizard.steps.') and m != 'wizard.steps.base')\n"
    "    sys.stderr.write('\\nLOADED ' + ' '.join(loaded) + '\\n')\n"
)


def status(repo: Path, *args: str, columns: int = 120) -> tuple[int, str, bool]:
    """(exit code, stdout, whether it worked the answer out) of ``status [ARGS] REPO``."""
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, "status", *args, str(repo)],
        capture_output=True,
        text=True,
        env=cli_env(COLUMNS=str(columns)),
        timeout=120,
    )
    loaded = result.stderr.rsplit("LOADED", 1)[-1].split()
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, bool(loaded)


def settle() -> None:
    """Wait until what was just written is old enough for a status to record its answer."""
    time.sleep(quickstatus.SETTLED + 0.1)


def worked_out(repo: Path, *args: str, columns: int = 120) -> tuple[int, str]:
    """The answer worked out from scratch (the record set aside, then put back)."""
    memo = repo / quickstatus.MEMO
    aside = memo.with_name("aside")
    memo.rename(aside)
    try:
        code, out, computed = status(repo, *args, columns=columns)
    finally:
        if (repo / quickstatus.MEMO).exists():
            (repo / quickstatus.MEMO).unlink()
        aside.rename(memo)
    assert computed
    return code, out


@pytest.fixture
def done_repo(tmp_path: Path) -> Path:
    """A secure repo with the files step applied, its answer recorded by a first status."""
    repo = tmp_path / "secure-config"
    with Session.open(repo, write=True, command="test") as session:
        session.merge_answers(flatten(complete_answers(), "test answers"), "test answers")
        session.apply(session.plan("files"))
    settle()
    assert status(repo)[2]  # worked out, and recorded
    assert (repo / quickstatus.MEMO).is_file()
    return repo


def test_plain_status_again_is_the_same_answer_without_loading_any_step(done_repo: Path) -> None:
    code, out, computed = status(done_repo)
    assert not computed
    assert (code, out) == worked_out(done_repo)
    assert "│ files     │ done" in out and "│ terraform │ pending" in out and code == 1
    code, out, computed = status(done_repo, "--json")
    assert not computed
    assert (code, out) == worked_out(done_repo, "--json")
    doc = json.loads(out)
    assert doc["secure_repo"] == str(done_repo.resolve()) and doc["ok"] is False
    assert {s["name"]: s["state"] for s in doc["steps"]}["files"] == "done"


def test_another_terminal_gets_the_table_as_it_would_be_worked_out_there(
    done_repo: Path,
) -> None:
    code, out, computed = status(done_repo, columns=52)
    assert not computed
    assert (code, out) == worked_out(done_repo, columns=52)
    assert max(len(line) for line in out.splitlines()) <= 52
    assert status(done_repo, columns=52)[1:] == (out, False)  # kept for this width too
    assert status(done_repo)[1:] == (worked_out(done_repo)[1], False)


def test_a_damaged_record_is_worked_out_again(done_repo: Path) -> None:
    memo = done_repo / quickstatus.MEMO
    doc = json.loads(memo.read_text(encoding="utf-8"))
    del doc["result"]
    memo.write_text(json.dumps(doc), encoding="utf-8")
    code, out, computed = status(done_repo)
    assert computed and code == 1 and "│ files     │ done" in out


def _edit_vars(repo: Path) -> None:
    text = (repo / VARS).read_text(encoding="utf-8")
    (repo / VARS).write_text(text.replace("acme", "acne", 1), encoding="utf-8")


def _same_size_edit(repo: Path) -> None:
    # Same size, same inode: only the times tell.
    path = repo / "analytics-tasks" / "edxapp_creds"
    data = bytearray(path.read_bytes())
    data[-2] = ord("X") if data[-2] != ord("X") else ord("Y")
    with open(path, "r+b") as handle:
        handle.write(bytes(data))


def _chmod(repo: Path) -> None:
    os.chmod(repo / VARS, 0o644)


def _remove(repo: Path) -> None:
    (repo / "analytics-tasks" / "jenkins_env").unlink()


def _answer_changed(repo: Path) -> None:
    path = repo / ".wizard" / "answers.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("acme", "acmf", 1), encoding="utf-8")


def _ledger_changed(repo: Path, status: str = "failed") -> None:
    path = repo / ".wizard" / "state.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("status: done", f"status: {status}", 1), encoding="utf-8")


@pytest.mark.parametrize(
    "change", [_edit_vars, _same_size_edit, _chmod, _remove, _answer_changed, _ledger_changed]
)
def test_anything_status_read_changing_makes_it_work_the_answer_out_again(
    done_repo: Path, change: Callable[[Path], None]
) -> None:
    _, before, _ = status(done_repo)
    change(done_repo)
    code, out, computed = status(done_repo)
    assert computed
    assert out != before  # each change shows in the answer
    settle()
    assert (code, out) == worked_out(done_repo)


def test_a_copy_of_the_repo_works_out_its_own_answer(done_repo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(done_repo, copy, symlinks=True)
    _remove(copy)
    _, out, computed = status(copy)
    assert computed and "jenkins_env" in out


def test_the_record_is_private_ignored_by_git_and_holds_no_secret(done_repo: Path) -> None:
    memo = done_repo / quickstatus.MEMO
    assert stat.S_IMODE(memo.stat().st_mode) == 0o600
    assert stat.S_IMODE(memo.parent.stat().st_mode) == 0o700
    assert PLANTED_PASSWORD not in memo.read_text(encoding="utf-8")
    assert json.dumps(PLANTED_PASSWORD)[1:-1] not in memo.read_text(encoding="utf-8")
    porcelain = subprocess.run(
        ["git", "-C", str(done_repo), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert porcelain == ""


def test_verify_and_a_repo_without_state_record_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    assert status(repo)[0] == 1
    assert status(repo, "--verify")[0] == 1
    assert list(repo.iterdir()) == []  # status creates nothing


def test_a_status_that_read_files_changed_just_before_records_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "secure-config"
    with Session.open(repo, write=True, command="test") as session:
        session.merge_answers(flatten(complete_answers(), "test answers"), "test answers")
    # The answers' times say "changed just now" however slowly status starts: a second change
    # within the same clock tick could hide, so the answer is not kept.
    answers = repo / ".wizard" / "answers.yml"
    os.utime(answers, (time.time(), time.time() + 60))
    settle()
    assert status(repo)[2]
    assert not (repo / quickstatus.MEMO).exists()


def test_a_status_while_the_ledger_records_a_run_records_nothing(done_repo: Path) -> None:
    (done_repo / quickstatus.MEMO).unlink()
    _ledger_changed(done_repo, "running")
    settle()
    code, out, computed = status(done_repo)
    assert computed and code == 1 and "│ files     │ failed" in out
    assert not (done_repo / quickstatus.MEMO).exists()


def test_a_record_reached_through_a_link_is_not_used(done_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-cache"
    shutil.copytree(done_repo / quickstatus.MEMO.parent, outside)
    shutil.rmtree(done_repo / quickstatus.MEMO.parent)
    (done_repo / quickstatus.MEMO.parent).symlink_to(outside)
    assert quickstatus.answer(done_repo, as_json=False) is None
