"""The secure repo as a git repository: init when new, one commit per completed step, no push."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .fsutil import atomic_write

# Runtime files: the lock, logs, detached runs (terraform's output), the staged terraform plan
# (it holds the variables, the RDS password among them).
IGNORED = (
    ".wizard/lock",
    ".wizard/logs/",
    ".wizard/runs/",
    ".wizard/terraform-plan/",
    ".wizard/*.tmp",
    "*.tmp",
    "terraform/.terraform/",
)
# In the git directory while the wizard's git commands run; found later, a run was killed mid-commit.
COMMITTING = "analytics-wizard-committing"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def available() -> bool:
    return shutil.which("git") is not None


def is_repo(repo: Path) -> bool:
    """``repo`` is a working git repository of its own (not the half-made ``.git`` of a killed
    ``git init``, nor a repository in a parent directory)."""
    if not (repo / ".git").exists():
        return False
    result = _git(repo, "rev-parse", "--show-toplevel")
    return result.returncode == 0 and Path(result.stdout.strip()).resolve() == repo.resolve()


def _complete_git_dir(git_dir: Path) -> bool:
    """What ``git init`` leaves when it finishes; checked without starting git (start-up time)."""
    return all((git_dir / name).exists() for name in ("HEAD", "config", "objects", "refs"))


def init(repo: Path) -> None:
    """``git init`` a new secure repo and ignore the wizard's runtime files.

    The ignore file comes first so a run killed in between still has it; ``git init`` completes
    a ``.git`` an earlier, killed ``git init`` left half-made."""
    if _complete_git_dir(repo / ".git") or not available() or is_repo(repo):
        return
    gitignore = repo / ".gitignore"
    if not gitignore.exists():
        atomic_write(gitignore, "\n".join(IGNORED) + "\n")
    _git(repo, "init", "--quiet")


def remote_url(repo: Path) -> str | None:
    if not available() or not is_repo(repo):
        return None
    result = _git(repo, "remote", "get-url", "origin")
    return result.stdout.strip() or None if result.returncode == 0 else None


def commit(repo: Path, message: str, paths: Sequence[str] | None = None) -> str | None:
    """Commit ``paths`` (default: everything changed); returns the commit id, or None when
    nothing changed. With ``paths``, the operator's other work in the repo stays out of it."""
    if not available() or not is_repo(repo):
        return None
    found = _git(repo, "rev-parse", "--absolute-git-dir")
    if found.returncode != 0:
        raise RuntimeError(f"git cannot read the repository in {repo}: {found.stderr.strip()}")
    git_dir = Path(found.stdout.strip())
    marker = git_dir / COMMITTING
    if marker.exists():
        _remove_stale_locks(git_dir)
    marker.touch()
    try:
        return _commit(repo, message, paths)
    finally:
        marker.unlink(missing_ok=True)


def _remove_stale_locks(git_dir: Path) -> None:
    """Remove the lock files of a git the wizard started and that was killed with it.

    Safe because the caller holds the secure repo's wizard lock (no other wizard commits) and
    the marker says the last wizard commit never finished; git itself would refuse to run
    until someone removed them by hand."""
    stale = [git_dir / "index.lock", git_dir / "HEAD.lock", *(git_dir / "refs").rglob("*.lock")]
    for lock in stale:
        lock.unlink(missing_ok=True)


def _commit(repo: Path, message: str, paths: Sequence[str] | None) -> str | None:
    scope: list[str] = []
    if paths is None:
        added = _git(repo, "add", "--all")
    else:
        scope = ["--", *dict.fromkeys(p for p in paths if (repo / p).exists())]
        if len(scope) == 1:
            return None
        added = _git(repo, "add", "--all", *scope)
    if added.returncode != 0:
        raise RuntimeError(f"git add failed in {repo}: {added.stderr.strip()}")
    if _git(repo, "diff", "--cached", "--quiet", *scope).returncode == 0:
        return None
    identity: list[str] = []
    if not _git(repo, "config", "user.email").stdout.strip():
        # The operator's own identity wins; this only keeps a fresh machine from failing.
        identity = [
            "-c",
            "user.name=analytics-wizard",
            "-c",
            "user.email=analytics-wizard@localhost",
        ]
    result = _git(repo, *identity, "commit", "--quiet", "--no-verify", "-m", message, *scope)
    if result.returncode != 0:
        raise RuntimeError(f"git commit failed in {repo}: {result.stderr.strip()}")
    return _git(repo, "rev-parse", "--short", "HEAD").stdout.strip()
