"""The secure repo as a git repository: init when new, one commit per completed step, no push."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

IGNORED = (".wizard/lock", ".wizard/logs/", ".wizard/*.tmp", "*.tmp", "terraform/.terraform/")


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
    return (repo / ".git").exists()


def init(repo: Path) -> None:
    """``git init`` a new secure repo and ignore the wizard's runtime files."""
    if not available() or is_repo(repo):
        return
    _git(repo, "init", "--quiet")
    gitignore = repo / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("\n".join(IGNORED) + "\n", encoding="utf-8")


def remote_url(repo: Path) -> str | None:
    if not available() or not is_repo(repo):
        return None
    result = _git(repo, "remote", "get-url", "origin")
    return result.stdout.strip() or None if result.returncode == 0 else None


def commit(repo: Path, message: str) -> str | None:
    """Commit everything changed; returns the commit id, or None when nothing changed."""
    if not available() or not is_repo(repo):
        return None
    _git(repo, "add", "--all")
    if not _git(repo, "status", "--porcelain").stdout.strip():
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
    result = _git(repo, *identity, "commit", "--quiet", "--no-verify", "-m", message)
    if result.returncode != 0:
        raise RuntimeError(f"git commit failed in {repo}: {result.stderr.strip()}")
    return _git(repo, "rev-parse", "--short", "HEAD").stdout.strip()
