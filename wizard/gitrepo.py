"""The secure repo as a git repository: init when new, one commit per completed step, no push.

Git keeps every committed secret in ``.git/objects``, so the repository is private like the
files: git runs under umask 077 and with ``core.sharedRepository=0600`` (git then writes
owner-only objects whatever the operator's umask is when they run git by hand).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import WizardError
from .fsutil import PRIVATE_UMASK, atomic_write, read_if_exists
from .redact import url_credentials, without_credentials

IGNORED = (
    ".wizard/lock",
    ".wizard/logs/",
    ".wizard/terraform-plan/",
    ".wizard/runs/",
    ".wizard/draft.json",
    ".wizard/cache/",
    ".wizard/*.tmp",
    "*.tmp",
    "terraform/.terraform/",
    # terraform's own copies (the state itself is committed; git keeps its history)
    "terraform/*.tfstate.backup",
    "terraform/errored.tfstate",
)
# In the git directory while the wizard's git commands that write run (its name from when only
# commits did); found later, a run was killed in one of them.
COMMITTING = "analytics-wizard-committing"
SHARED = "0600"  # core.sharedRepository: files 0600 (objects 0400), directories 0700


class GitError(WizardError):
    """A git command failed; the message is git's own reason in one sentence."""


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
        umask=PRIVATE_UMASK,
    )


def _failed(repo: Path, what: str, result: subprocess.CompletedProcess[str]) -> GitError:
    """git's multi-line complaint as one sentence and the fix."""
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    if any("index.lock" in line and "File exists" in line for line in lines):
        return GitError(
            f"{what} failed in {repo}: another git process is working in it "
            "(.git/index.lock exists)",
            "wait for that git command to finish (or, if none is running, delete "
            ".git/index.lock), then run again",
        )
    reason = next(
        (line for line in lines if line.lower().startswith(("fatal:", "error:"))),
        lines[0] if lines else f"exit status {result.returncode}",
    )
    for prefix in ("fatal:", "error:"):
        if reason.lower().startswith(prefix):
            reason = reason[len(prefix) :].strip()
    return GitError(
        f"{what} failed in {repo}: {reason.rstrip('.')}",
        "fix the repository (try 'git status' there), then run again",
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


def init(repo: Path) -> list[str]:
    """``git init`` a new secure repo (private) and ignore the wizard's runtime files.

    The ignore file comes first so a run killed in between still has it; ``git init`` completes
    a ``.git`` an earlier, killed ``git init`` left half-made. Returns what was fixed in an
    existing repo, for the operator."""
    fixes = []
    if ensure_ignored(repo):
        fixes.append(".gitignore: added the wizard's runtime files")
    if not available():
        return fixes
    git_dir = repo / ".git"
    if not _complete_git_dir(git_dir) and not is_repo(repo):
        if git_dir.is_dir():  # the wizard's git init was killed: its locks are nobody's
            _remove_stale_locks(git_dir)
        result = _git(repo, "init", "--quiet")
        if result.returncode != 0:
            raise _failed(repo, "git init", result)
    if git_dir.is_dir() and not writes_private(git_dir):
        with _writing(git_dir):
            result = _git(repo, "config", "core.sharedRepository", SHARED)
        if result.returncode != 0:
            raise _failed(repo, "git config", result)
    return fixes


def writes_private(git_dir: Path) -> bool:
    """``core.sharedRepository`` is 0600: git writes owner-only files (read from the config
    file: no git start-up)."""
    try:
        text = read_if_exists(git_dir / "config") or ""
    except (WizardError, OSError):
        return False
    return any(
        line.strip().replace(" ", "").lower() == f"sharedrepository={SHARED}"
        for line in text.splitlines()
    )


def ensure_ignored(repo: Path) -> bool:
    """The wizard's runtime files are in ``.gitignore``; missing lines are appended (the
    operator's own lines stay). Returns True when the file changed."""
    path = repo / ".gitignore"
    old = read_if_exists(path, repo)
    present = {line.strip() for line in (old or "").splitlines()}
    missing = [entry for entry in IGNORED if entry not in present]
    if not missing:
        return False
    text = old or ""
    if text and not text.endswith("\n"):
        text += "\n"
    if old:
        text += "# analytics-wizard runtime files\n"
    atomic_write(path, text + "\n".join(missing) + "\n", root=repo)
    return old is not None


def remote_url(repo: Path) -> str | None:
    """The origin remote's URL without credentials (see :func:`remote_credentials`)."""
    url = _origin(repo)
    return without_credentials(url) if url else None


def remote_credentials(repo: Path) -> str | None:
    """The password or token in the origin remote's URL, if someone put one there."""
    url = _origin(repo)
    return url_credentials(url) if url else None


def _origin(repo: Path) -> str | None:
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
        raise _failed(repo, "git rev-parse", found)
    with _writing(Path(found.stdout.strip())):
        return _commit(repo, message, paths)


@contextmanager
def _writing(git_dir: Path) -> Iterator[None]:
    """Mark the wizard's git commands that write, for the next run: a mark still there means
    one was killed, and the locks it held are removed first."""
    marker = git_dir / COMMITTING
    if marker.exists():
        _remove_stale_locks(git_dir)
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def _remove_stale_locks(git_dir: Path) -> None:
    """Remove the lock files of a git the wizard started and that was killed with it.

    Safe because the caller holds the secure repo's wizard lock (no other wizard runs git here)
    and the marker, or a half-made git directory, says the wizard's last git command never
    finished; git itself would refuse to run until someone removed them by hand."""
    names = ("index.lock", "HEAD.lock", "config.lock")
    stale = [*(git_dir / name for name in names), *(git_dir / "refs").rglob("*.lock")]
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
        raise _failed(repo, "git add", added)
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
        raise _failed(repo, "git commit", result)
    return _git(repo, "rev-parse", "--short", "HEAD").stdout.strip()
