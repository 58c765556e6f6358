"""No file outside the secure repo can be read or written through it: every path the wizard owns,
replaced by a symbolic link to a file or directory elsewhere, is refused, naming the link, and
the link's target is left exactly as it was (bytes, mode, and for a directory its entries).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import complete_answers, run_cli

from wizard import fsutil
from wizard.engine import Session
from wizard.errors import StateError
from wizard.lock import RepoLock

WriteAnswers = Callable[..., Path]

FILES = (
    ".wizard/lock",
    ".wizard/answers.yml",
    ".wizard/secrets.yml",
    ".wizard/state.yml",
    ".gitignore",
    "vars-analytics.yml",
    "analytics-tasks/jenkins_env",
    "analytics-tasks/emr-vars.yml",
    "analytics-tasks/analytics-override.cfg",
    "analytics-tasks/edxapp_creds",
    "analytics-tasks/edxanalytics_creds",
    "terraform/terraform.tfvars.json",
    "terraform/terraform.tfstate",
    "terraform/.terraform.lock.hcl",
)
DIRECTORIES = (
    ".wizard",
    ".wizard/logs",
    ".wizard/terraform-plan",
    "analytics-tasks",
    "terraform",
    "terraform/.terraform",
)
# Paths a dry run or `status` reads (they change nothing, but must not read through a link).
READ_BY_DRY_RUN = (
    ".wizard/answers.yml",
    ".wizard/secrets.yml",
    ".wizard/state.yml",
    "vars-analytics.yml",
    "analytics-tasks/edxapp_creds",
    "analytics-tasks/edxanalytics_creds",
    ".wizard",
    "analytics-tasks",
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A secure repo after one files run, with terraform files beside (copied per test)."""
    base = tmp_path_factory.mktemp("template")
    answers = base / "answers.yml"
    from wizard import yamlio

    answers.write_text(yamlio.dumps(complete_answers()), encoding="utf-8")
    repo = base / "secure-config"
    result = cli("run", "--answers", answers, repo, "--only", "files")
    assert result.returncode == 0, result.stderr
    (repo / "terraform" / ".terraform").mkdir(parents=True)
    for name in ("terraform.tfvars.json", "terraform.tfstate", ".terraform.lock.hcl"):
        (repo / "terraform" / name).write_text("{}\n", encoding="utf-8")
    (repo / ".wizard" / "terraform-plan").mkdir()
    return base


@pytest.fixture
def setup(template: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(secure repo, answers file, a directory outside the repo with a file and a directory)."""
    shutil.copytree(template, tmp_path / "t", symlinks=True)
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "target.json").write_text('{"token": "kube-secret-0042"}\n', encoding="utf-8")
    os.chmod(outside / "target.json", 0o640)
    (outside / "dir" / "keep.txt").write_text("the operator's\n", encoding="utf-8")
    (outside / "dir" / ".jenkins_env.abc.tmp").write_text("looks like ours\n", encoding="utf-8")
    os.chmod(outside / "dir", 0o755)
    return tmp_path / "t" / "secure-config", tmp_path / "t" / "answers.yml", outside


def fingerprint(path: Path) -> dict[str, Any]:
    """Bytes, mode and mtime of ``path`` and (for a directory) everything in it."""
    found: dict[str, Any] = {}
    for p in [path, *(sorted(path.rglob("*")) if path.is_dir() else [])]:
        st = p.lstat()
        data = p.read_bytes() if p.is_file() else None
        found[str(p.relative_to(path.parent))] = (data, stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return found


def plant_link(repo: Path, relative: str, target: Path) -> Path:
    link = repo / relative
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    elif os.path.lexists(link):
        link.unlink()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def cli(*args: str | Path) -> Any:
    return run_cli(*args, COLUMNS="1000")  # one error per line, whatever the path lengths


def assert_refused(result: Any, link: Path, target: Path) -> None:
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{link} is a symbolic link to {target}" in result.stderr
    assert "the wizard does not follow links in the secure repo" in result.stderr


@pytest.mark.parametrize("relative", FILES)
def test_an_owned_file_as_a_link_is_refused_and_its_target_untouched(
    setup: tuple[Path, Path, Path], relative: str
) -> None:
    repo, answers, outside = setup
    target = outside / "target.json"
    before = fingerprint(outside)
    link = plant_link(repo, relative, target)
    result = cli("run", "--answers", answers, repo, "--only", "files")
    assert_refused(result, link, target)
    assert fingerprint(outside) == before
    assert link.is_symlink()  # not replaced by a file holding the target's content either


@pytest.mark.parametrize("relative", DIRECTORIES)
def test_an_owned_directory_as_a_link_is_refused_and_its_target_untouched(
    setup: tuple[Path, Path, Path], relative: str
) -> None:
    repo, answers, outside = setup
    target = outside / "dir"
    before = fingerprint(outside)
    link = plant_link(repo, relative, target)
    result = cli("run", "--answers", answers, repo, "--only", "files")
    assert_refused(result, link, target)
    assert fingerprint(outside) == before  # not chmodded, temp-like files not deleted


@pytest.mark.parametrize("relative", READ_BY_DRY_RUN)
def test_a_dry_run_and_status_do_not_read_through_a_link(
    setup: tuple[Path, Path, Path], relative: str
) -> None:
    repo, answers, outside = setup
    directory = relative in (".wizard", "analytics-tasks")
    target = outside / "dir" if directory else outside / "target.json"
    before = fingerprint(outside)
    link = plant_link(repo, relative, target)
    dry = cli("run", "--answers", answers, repo, "--only", "files", "--dry-run")
    assert_refused(dry, link, target)
    assert "kube-secret-0042" not in dry.stdout + dry.stderr
    if relative.startswith(".wizard"):
        assert_refused(cli("status", repo), link, target)
    assert fingerprint(outside) == before


def test_a_dangling_link_is_refused_too(setup: tuple[Path, Path, Path]) -> None:
    repo, answers, outside = setup
    missing = outside / "not-there-yet"
    link = plant_link(repo, "analytics-tasks/edxapp_creds", missing)
    assert_refused(cli("run", "--answers", answers, repo, "--only", "files"), link, missing)
    assert not missing.exists()  # not created through the link


def test_the_lock_never_truncates_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("someone's file\n", encoding="utf-8")
    state = tmp_path / "repo" / ".wizard"
    state.mkdir(parents=True)
    (state / "lock").symlink_to(victim)
    with pytest.raises(StateError, match="is a symbolic link to"):
        RepoLock(state / "lock").acquire()
    assert victim.read_text(encoding="utf-8") == "someone's file\n"


def test_a_link_inside_an_owned_path_is_refused_by_the_write_primitives(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    repo.mkdir()
    (repo / "analytics-tasks").symlink_to(outside)
    with pytest.raises(fsutil.LinkError, match="analytics-tasks is a symbolic link"):
        fsutil.atomic_write(repo / "analytics-tasks" / "x", "secret", root=repo)
    with pytest.raises(fsutil.LinkError):
        fsutil.ensure_private_dir(repo / "analytics-tasks", repo)
    with pytest.raises(fsutil.LinkError):
        fsutil.read_if_exists(repo / "analytics-tasks" / "x", repo)
    change = fsutil.FileWrite(repo / "analytics-tasks" / "x", "secret", 0o600, None)
    with pytest.raises(fsutil.LinkError):
        fsutil.write_files([change], repo)
    assert list(outside.iterdir()) == []
    assert stat.S_IMODE(outside.stat().st_mode) == 0o755  # not made private through the link


def test_opening_a_repo_with_a_linked_state_dir_changes_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "secure-config"
    repo.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    (repo / ".wizard").symlink_to(elsewhere)
    with pytest.raises(StateError, match=r"\.wizard is a symbolic link"):
        Session.open(repo, command="test")
    assert list(elsewhere.iterdir()) == []
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755
