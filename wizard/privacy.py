"""The secure repo private at rest: owner-only directories and secret files, ``.git`` included.

Another local user of a shared director host must not read a single secret: not through the
working tree, and not through git's objects, which hold every secret ever committed.
:func:`make_private` fixes the modes of an existing repo when the wizard opens it for writing
and says what it changed; the directories it owns must be real directories, never links.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from . import gitrepo
from .fsutil import (
    PRIVATE_DIR_MODE,
    SECRET_FILE_MODE,
    LinkError,
    refuse_links,
    walk_no_links,
)

# Directories that hold a secret (or the wizard's state); "" is the secure repo itself.
PRIVATE_DIRS = (
    "",
    ".wizard",
    ".wizard/logs",
    ".wizard/terraform-plan",
    ".wizard/runs",
    "analytics-tasks",
    "terraform",
)
# Files that hold a secret: passwords, tokens, Django keys, the RDS root password.
SECRET_FILES = (
    ".wizard/secrets.yml",
    "vars-analytics.yml",
    "analytics-tasks/edxapp_creds",
    "analytics-tasks/edxanalytics_creds",
    "terraform/terraform.tfvars.json",
    "terraform/terraform.tfstate",
    "terraform/terraform.tfstate.backup",
)
# Paths the wizard reads or writes: a link at any of them is refused.
OWNED = (
    *PRIVATE_DIRS[1:],
    ".wizard/lock",
    ".wizard/answers.yml",
    ".wizard/state.yml",
    ".gitignore",
    "analytics-tasks/jenkins_env",
    "analytics-tasks/emr-vars.yml",
    "analytics-tasks/analytics-override.cfg",
    "terraform/.terraform.lock.hcl",
    "terraform/.terraform",
    *SECRET_FILES,
)
_OTHERS = 0o077


def refuse_owned_links(repo: Path) -> None:
    """Raise :class:`LinkError` naming the first path the wizard owns that is a symbolic link."""
    for relative in OWNED:
        refuse_links(repo / relative, repo)


def make_private(repo: Path) -> list[str]:
    """Create ``repo`` (0700) or make an existing one private; returns one line per fix.

    Links are checked before anything is changed, so a link is refused, never chmodded."""
    refuse_owned_links(repo)
    fixes: list[str] = []
    try:
        repo.mkdir(parents=True, mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        pass
    for relative in PRIVATE_DIRS:
        fixes += _tighten(repo, relative, PRIVATE_DIR_MODE, stat.S_ISDIR)
    for relative in SECRET_FILES:
        fixes += _tighten(repo, relative, SECRET_FILE_MODE, stat.S_ISREG)
    fixes += _private_git_dir(repo)
    return fixes


def _tighten(repo: Path, relative: str, wanted: int, kind: object) -> list[str]:
    path = repo / relative if relative else repo
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return []
    if stat.S_ISLNK(st.st_mode):
        raise LinkError(path, directory=kind is stat.S_ISDIR)
    mode = stat.S_IMODE(st.st_mode)
    if mode == wanted:
        return []
    os.chmod(path, wanted)
    return [f"{relative or 'the secure repo'}: mode {mode:o} -> {wanted:o}"]


def _private_git_dir(repo: Path) -> list[str]:
    """Strip group and other permissions from everything in ``.git`` (a ``.git`` file, as in a
    worktree, is left alone)."""
    git_dir = repo / ".git"
    try:
        st = os.lstat(git_dir)
    except FileNotFoundError:
        return []
    if not stat.S_ISDIR(st.st_mode):
        return []
    if not stat.S_IMODE(st.st_mode) & _OTHERS and gitrepo.writes_private(git_dir):
        return []  # made private before, and git has written owner-only files since
    opened = 0
    for path, entry in [(git_dir, st), *walk_no_links(git_dir)]:
        if stat.S_ISLNK(entry.st_mode):
            continue
        mode = stat.S_IMODE(entry.st_mode)
        if mode & _OTHERS:
            os.chmod(path, mode & ~_OTHERS)
            opened += 1
    if not opened:
        return []
    return [f".git: {opened} file(s) and directories other users could read are now owner-only"]
