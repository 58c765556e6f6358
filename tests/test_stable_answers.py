"""Re-running never changes a secret nobody asked to change: the answers-template's ``null``s (or
a secret left out) keep what the secure repo holds; an explicit value changes it. And no git
credentials travel from the origin remote into the files.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PLANTED_PASSWORD, complete_answers, run_cli

from wizard import yamlio
from wizard.answers import AnswersError, flatten
from wizard.engine import Session
from wizard.fields import BY_KEY, FIELDS, FieldError
from wizard.redact import MASK

WriteAnswers = Callable[..., Path]
SECRETS = ".wizard/secrets.yml"
TOKEN = "ghp_Zx81TokenInTheRemote0042"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def filled_template(tmp_path: Path, **values: Any) -> Path:
    """``answers-template`` as printed, with only what the files step cannot do without: the
    keys it leaves empty that the test answers give (no generated secret is among them)."""
    printed = run_cli("answers-template")
    assert printed.returncode == 0
    data = yamlio.loads(printed.stdout)
    for group, given in complete_answers().items():
        for key, value in given.items():
            if data[group][key] is None:
                data[group][key] = value
    assert data["edxapp"]["migrate_password"] == PLANTED_PASSWORD
    for dotted, value in values.items():
        group, key = dotted.split("__", 1)
        data[group][key] = value
    path = tmp_path / "answers.yml"
    path.write_text(yamlio.dumps(data), encoding="utf-8")
    return path


def run_files(repo: Path, answers: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    result = run_cli("run", "--answers", answers, repo, "--only", "files", *extra)
    assert "Traceback" not in result.stderr
    return result


def test_the_template_nulls_never_rotate_a_secret(tmp_path: Path, repo: Path) -> None:
    answers = filled_template(tmp_path)
    template = yamlio.load_data(answers)
    assert template["database"]["analytics_password"] is None
    assert template["terraform"]["rds_root_password"] is None
    assert run_files(repo, answers).returncode == 0
    secrets_before = (repo / SECRETS).read_bytes()
    head = git(repo, "rev-parse", "HEAD")
    generated = yamlio.load_data(repo / SECRETS)
    assert generated["database"]["analytics_password"]  # generated on the first run
    result = run_files(repo, answers)
    assert result.returncode == 0, result.stderr
    assert (repo / SECRETS).read_bytes() == secrets_before
    assert git(repo, "rev-parse", "HEAD") == head  # no new commit
    assert "no changes" in result.stderr


def test_a_secret_left_out_is_kept_too(tmp_path: Path, repo: Path) -> None:
    assert run_files(repo, filled_template(tmp_path)).returncode == 0
    secrets_before = (repo / SECRETS).read_bytes()
    data = yamlio.load_data(tmp_path / "answers.yml")
    del data["edxapp"]["migrate_password"]
    del data["insights"]
    (tmp_path / "answers.yml").write_text(yamlio.dumps(data), encoding="utf-8")
    assert run_files(repo, tmp_path / "answers.yml").returncode == 0
    assert (repo / SECRETS).read_bytes() == secrets_before


def test_an_explicit_value_changes_the_secret(tmp_path: Path, repo: Path) -> None:
    assert run_files(repo, filled_template(tmp_path)).returncode == 0
    head = git(repo, "rev-parse", "HEAD")
    changed = filled_template(tmp_path, database__analytics_password="N3w-Analytics-Pass")
    assert run_files(repo, changed).returncode == 0
    stored = yamlio.load_data(repo / SECRETS)
    assert stored["database"]["analytics_password"] == "N3w-Analytics-Pass"
    assert git(repo, "rev-parse", "HEAD") != head
    assert "N3w-Analytics-Pass" in (repo / "analytics-tasks" / "edxanalytics_creds").read_text()


@pytest.mark.parametrize("key", [f.key for f in FIELDS if f.generated])
def test_null_keeps_every_generated_secret(tmp_path: Path, key: str) -> None:
    """The RDS root password, the Django keys, the OAuth2 client, the API token: all alike."""
    with Session.open(tmp_path / "repo", command="test") as session:
        session.ensure_generated([key])
        first = session.answers.values[key]
        session.merge_answers({key: None}, "answers.yml")
        session.merge_answers({key: ""}, "answers.yml")
        assert session.ensure_generated([key]) == []
        assert session.answers.values[key] == first


def test_null_keeps_a_non_secret_answer_too(tmp_path: Path) -> None:
    """One rule for every key: null means "not given"; the stored answer stays."""
    with Session.open(tmp_path / "repo", command="test") as session:
        session.merge_answers({"insights.base_url": "https://stats.example.com"}, "a.yml")
        session.merge_answers({"insights.base_url": None}, "a.yml")
        assert session.answers.values["insights.base_url"] == "https://stats.example.com"
        session.merge_answers({"insights.base_url": "https://insights.example.com"}, "a.yml")
        assert session.answers.values["insights.base_url"] == "https://insights.example.com"


# --- credentials in git URLs --------------------------------------------------------------


def test_the_origin_remotes_token_is_left_out_and_a_note_says_so(
    repo: Path, write_answers: WriteAnswers
) -> None:
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "remote", "add", "origin", f"https://x-access-token:{TOKEN}@github.com/acme/sc.git")
    data = complete_answers()
    del data["pipeline"]["secure_repo_url"]  # derived from the origin remote
    answers = write_answers(data)
    dry = run_files(repo, answers, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert TOKEN not in dry.stdout + dry.stderr
    assert "holds a password or token; it was left out" in " ".join(dry.stderr.split())
    assert run_files(repo, answers).returncode == 0
    written = (repo / "vars-analytics.yml").read_text(encoding="utf-8")
    assert "ANALYTICS_SCHEDULE_SECURE_REPO_URL: 'https://github.com/acme/sc.git'" in written
    history = git(repo, "log", "-p", "--all")
    assert TOKEN not in history and "x-access-token" not in history


def test_an_old_file_holding_the_token_is_masked_in_the_diff(
    repo: Path, write_answers: WriteAnswers
) -> None:
    """What an earlier version wrote: the dry run's diff shows the line go, not the token."""
    data = complete_answers()
    url = f"https://x-access-token:{TOKEN}@github.com/acme/sc.git"
    assert run_files(repo, write_answers(data)).returncode == 0
    vars_file = repo / "vars-analytics.yml"
    vars_file.write_text(
        vars_file.read_text().replace("git@github.com:acme/secure-config.git", url)
    )
    git(repo, "remote", "add", "origin", url)
    del data["pipeline"]["secure_repo_url"]
    dry = run_files(repo, write_answers(data), "--dry-run", "--force")
    assert TOKEN not in dry.stdout + dry.stderr
    assert MASK in dry.stderr


@pytest.mark.parametrize(
    "url",
    [
        f"https://x-access-token:{TOKEN}@github.com/acme/sc.git",
        f"https://{TOKEN}@github.com/acme/sc.git",
        f"ssh://git:{TOKEN}@github.com/acme/sc.git",
    ],
)
def test_an_answer_with_credentials_is_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(FieldError, match="must not hold a password or token"):
        BY_KEY["pipeline.secure_repo_url"].clean(url)
    with pytest.raises(AnswersError) as caught:
        flatten({"pipeline": {"secure_repo_url": url}}, "answers.yml", validate=True)
    assert TOKEN not in str(caught.value)
    assert "github.com/acme/sc.git" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "git@github.com:acme/sc.git",
        "ssh://git@github.com/acme/sc.git",
        "https://github.com/acme/sc.git",
    ],
)
def test_urls_without_credentials_are_fine(url: str) -> None:
    assert BY_KEY["pipeline.secure_repo_url"].clean(url) == url


def test_the_cli_refuses_a_url_with_a_token_with_exit_2(
    repo: Path, write_answers: WriteAnswers
) -> None:
    url = f"https://x-access-token:{TOKEN}@github.com/acme/sc.git"
    answers = write_answers(complete_answers(pipeline__secure_repo_url=url))
    result = run_files(repo, answers, "--json")
    assert result.returncode == 2
    assert TOKEN not in result.stdout + result.stderr
    assert "pipeline.secure_repo_url" in result.stderr
