"""Another local user cannot read a single secret of the secure repo: not in the working tree,
not in git's objects, not while terraform writes its state.

The second user is the real ``nobody`` account (``runuser``, so these tests need root); the
secure repo sits in a directory anyone may enter, so only the repo's own modes protect it. A
control file beside the repo proves that ``nobody`` does read what is readable.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PLANTED_PASSWORD, complete_answers, run_cli

from wizard import gitrepo, privacy, yamlio
from wizard import terraform as tf
from wizard.engine import Session
from wizard.fsutil import PRIVATE_UMASK

WriteAnswers = Callable[..., Path]

# Run by nobody: read every path it is given or can find, inflate git objects, report secrets.
PROBE = r"""
import json, os, sys, zlib
root = sys.argv[1]
given = json.loads(sys.stdin.read())
paths = set(given["paths"])
for dirpath, dirnames, filenames in os.walk(root):
    paths.update(os.path.join(dirpath, name) for name in filenames)
readable, found = [], []
for path in sorted(paths):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        continue
    readable.append(path)
    texts = [data]
    try:
        texts.append(zlib.decompress(data))
    except Exception:
        pass
    for secret in given["secrets"]:
        if any(secret.encode() in text for text in texts):
            found.append([path, secret[:6]])
print(json.dumps({"readable": readable, "found": found}))
"""


def _nobody_available() -> None:
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to act as a second, unprivileged user")
    try:
        import pwd

        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' account on this machine")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every user may enter (pytest's tmp_path is private to root)."""
    _nobody_available()
    base = Path(tempfile.mkdtemp(prefix="wizard-shared-", dir="/tmp"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def as_nobody(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )


def nobody_reads(directory: Path, secrets: list[str]) -> dict[str, Any]:
    """What ``nobody`` can read under ``directory`` (listing it, and by every known name)."""
    paths = [str(p) for p in directory.rglob("*") if p.is_file() or p.is_symlink()]
    result = as_nobody(
        "/usr/bin/python3",
        "-c",
        PROBE,
        str(directory),
        stdin=json.dumps({"paths": paths, "secrets": secrets}),
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def stored_secrets(repo: Path, at_least: int = 8) -> list[str]:
    """Every secret the wizard keeps: typed and generated, from secrets.yml (read as root).

    After the files step: migrate + analytics passwords, generated keys, tokens, ledger key."""
    data = yamlio.load_data(repo / ".wizard" / "secrets.yml")
    found = sorted({str(v) for group in data.values() for v in group.values() if v})
    assert PLANTED_PASSWORD in found
    assert len(found) >= at_least
    return found


def assert_nothing_readable(base: Path, repo: Path, at_least: int = 8) -> None:
    secrets = stored_secrets(repo, at_least)
    control = base / "control.txt"
    control.write_text(f"readable by anyone: {PLANTED_PASSWORD}\n", encoding="utf-8")
    os.chmod(control, 0o644)
    seen = nobody_reads(base, secrets)
    assert seen["found"] == [[str(control), PLANTED_PASSWORD[:6]]]  # the probe works...
    assert [p for p in seen["readable"] if p != str(control)] == []  # ...and the repo is shut
    git = as_nobody(
        "git",
        "-c",
        "safe.directory=*",
        "-C",
        str(repo),
        "cat-file",
        "-p",
        "HEAD:.wizard/secrets.yml",
    )
    assert git.returncode != 0
    assert PLANTED_PASSWORD not in git.stdout


def files_answers(**overrides: Any) -> dict[str, Any]:
    return complete_answers(database__analytics_password=PLANTED_PASSWORD, **overrides)


def modes(repo: Path) -> dict[str, int]:
    return {
        str(p.relative_to(repo)): stat.S_IMODE(p.lstat().st_mode) for p in [repo, *repo.rglob("*")]
    }


# --- the files step, through the CLI ---------------------------------------------------------


def test_after_the_files_step_nobody_reads_a_secret(
    shared_dir: Path, write_answers: WriteAnswers
) -> None:
    repo = shared_dir / "secure-config"
    answers = write_answers(files_answers())
    result = run_cli("run", "--answers", answers, repo, "--only", "files")
    assert result.returncode == 0, result.stderr
    assert_nothing_readable(shared_dir, repo)
    changed = write_answers(files_answers(edxapp__contact_email="analytics@example.com"))
    assert run_cli("run", "--answers", changed, repo, "--only", "files").returncode == 0
    assert_nothing_readable(shared_dir, repo)
    found = modes(repo)
    assert found["."] == 0o700 and found[".git"] == 0o700
    objects = {k: v for k, v in found.items() if k.startswith(".git/objects/")}
    assert objects and all(v & 0o077 == 0 for v in objects.values()), objects


def test_even_an_opened_repo_keeps_git_objects_private(shared_dir: Path) -> None:
    """Defence in depth: the operator opens the repo (or clones it elsewhere with the same
    permissions); git's objects and the secret files themselves stay owner-only."""
    repo = shared_dir / "secure-config"
    with Session.open(repo, command="test") as session:
        session.merge_answers(
            {f"{g}.{k}": v for g, vals in files_answers().items() for k, v in vals.items()},
            "test",
        )
        session.apply(session.plan("files"))
    for directory in [repo, *(p for p in repo.rglob("*") if p.is_dir())]:
        os.chmod(directory, stat.S_IMODE(directory.stat().st_mode) | 0o055)
    secrets = stored_secrets(repo)
    seen = nobody_reads(shared_dir, secrets)
    assert seen["found"] == []
    readable = {str(Path(p).relative_to(repo)) for p in seen["readable"]}
    assert not any(p.startswith(".git/objects/") for p in readable), readable
    for secret_file in privacy.SECRET_FILES:
        assert secret_file not in readable


def test_git_the_operator_runs_by_hand_writes_private_objects(shared_dir: Path) -> None:
    repo = shared_dir / "secure-config"
    with Session.open(repo, command="test"):
        pass
    (repo / "notes.txt").write_text("operator's notes\n", encoding="utf-8")
    for args in (
        ["add", "notes.txt"],
        ["-c", "user.email=o@x", "-c", "user.name=o", "commit", "-qm", "n"],
    ):
        subprocess.run(
            ["git", "-C", str(repo), *args],
            check=True,
            preexec_fn=lambda: os.umask(0o022),  # the operator's loose umask
        )
    objects = [p for p in (repo / ".git" / "objects").rglob("*") if p.is_file()]
    assert objects
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in objects)


# --- an existing repo made private when opened ------------------------------------------------


def loosen(repo: Path) -> None:
    """The modes an earlier version (or a plain git init with umask 022) left."""
    subprocess.run(
        ["git", "-C", str(repo), "config", "--unset", "core.sharedRepository"], check=False
    )
    for path in [repo, *repo.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        os.chmod(path, mode | (0o055 if path.is_dir() else 0o044))


def test_an_existing_repo_is_made_private_on_open_and_says_so(
    shared_dir: Path, write_answers: WriteAnswers
) -> None:
    repo = shared_dir / "secure-config"
    answers = write_answers(files_answers())
    assert run_cli("run", "--answers", answers, repo, "--only", "files").returncode == 0
    loosen(repo)
    assert nobody_reads(shared_dir, stored_secrets(repo))["found"]  # the leak this fixes
    result = run_cli("run", "--answers", answers, repo, "--only", "files")
    assert result.returncode == 0, result.stderr
    assert "fixed: the secure repo: mode 755 -> 700" in result.stderr
    assert "fixed: vars-analytics.yml: mode 644 -> 600" in result.stderr
    assert "fixed: .git:" in result.stderr
    assert_nothing_readable(shared_dir, repo)
    logs = sorted((repo / ".wizard" / "logs").glob("*.log"))
    said = [
        line for line in logs[-1].read_text().splitlines() if "made the secure repo private" in line
    ]
    assert len(said) == 1 and "vars-analytics.yml" in said[0]
    again = run_cli("run", "--answers", answers, repo, "--only", "files")
    assert again.returncode == 0 and "fixed:" not in again.stderr  # once, not every run


def test_make_private_returns_what_it_fixed(tmp_path: Path) -> None:
    repo = tmp_path / "secure-config"
    assert privacy.make_private(repo) == []
    assert stat.S_IMODE(repo.stat().st_mode) == 0o700
    (repo / "terraform").mkdir(mode=0o755)
    state = repo / "terraform" / "terraform.tfstate"
    state.write_text("{}", encoding="utf-8")
    os.chmod(state, 0o644)
    (repo / "terraform" / "main.tf").write_text("", encoding="utf-8")
    os.chmod(repo / "terraform" / "main.tf", 0o644)
    assert privacy.make_private(repo) == [
        "terraform: mode 755 -> 700",
        "terraform/terraform.tfstate: mode 644 -> 600",
    ]
    assert stat.S_IMODE((repo / "terraform" / "main.tf").stat().st_mode) == 0o644  # no secret
    assert privacy.make_private(repo) == []


def test_the_secret_files_list_matches_the_files_step() -> None:
    from wizard.steps import files

    secret = {f.path for f in files.FILES if f.secret}
    assert secret <= set(privacy.SECRET_FILES)
    assert {f.path for f in files.FILES} <= set(privacy.OWNED)


# --- .gitignore ----------------------------------------------------------------------------


def test_an_existing_gitignore_gains_the_missing_entries(tmp_path: Path) -> None:
    repo = tmp_path / "secure-config"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    mine = "# operator's\n*.bak\n.wizard/lock\n.wizard/logs/"  # no final newline
    (repo / ".gitignore").write_text(mine, encoding="utf-8")
    with Session.open(repo, command="test") as session:
        assert ".gitignore: added the wizard's runtime files" in session.repaired
    text = (repo / ".gitignore").read_text(encoding="utf-8")
    assert text.startswith(mine + "\n")
    lines = text.splitlines()
    for entry in gitrepo.IGNORED:
        assert lines.count(entry) == 1, entry
    assert ".wizard/terraform-plan/" in lines and ".wizard/runs/" in lines
    with Session.open(repo, command="test") as session:
        assert session.repaired == []
    assert (repo / ".gitignore").read_text(encoding="utf-8") == text


# --- child processes under umask 077 ---------------------------------------------------------


def test_terraform_writes_its_state_owner_only(tmp_path: Path) -> None:
    """terraform creates terraform.tfstate (and its backup) with the process umask: a state
    with the RDS password was 0644 while an apply ran. No provider is needed for this."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    work = tmp_path / "tf"
    work.mkdir()
    (work / "main.tf").write_text(
        'variable "v" {\n  type = string\n}\n'
        'resource "terraform_data" "secret" {\n  input = var.v\n}\n',
        encoding="utf-8",
    )
    runner = tf.Terraform(work)
    old = os.umask(0o022)
    try:
        runner.init()
        for value in ("first", "second"):  # the second apply writes a backup too
            runner.run(["apply", "-auto-approve", "-input=false", "-no-color", f"-var=v={value}"])
    finally:
        os.umask(old)
    state = work / "terraform.tfstate"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert stat.S_IMODE((work / "terraform.tfstate.backup").stat().st_mode) == 0o600
    assert PRIVATE_UMASK == 0o077


def test_git_runs_under_umask_077(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    old = os.umask(0o022)
    try:
        gitrepo.init(repo)
        (repo / "a.txt").write_text("x\n", encoding="utf-8")
        gitrepo.commit(repo, "a", ["a.txt"])
    finally:
        os.umask(old)
    written = [p for p in (repo / ".git").rglob("*") if p.is_file()]
    assert written
    loose = [str(p) for p in written if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert loose == []
