"""A planted password must stay where it belongs: secrets.yml and the files that need it.

PLANTED_PASSWORD is both edxapp.migrate_password and database.analytics_password. After normal,
dry, conflicting and failing runs it must not show up in logs, the ledger, answers.yml, any
output of the CLI or any exception message, in any of the encodings the files use.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PLANTED_PASSWORD, complete_answers, run_cli

from wizard import yamlio
from wizard.answers import AnswersError, flatten
from wizard.engine import Session
from wizard.lock import LockedError
from wizard.redact import MASK
from wizard.steps import StepError

WriteAnswers = Callable[..., Path]
VARS = "vars-analytics.yml"
CFG = "analytics-tasks/analytics-override.cfg"
ANALYTICS_CREDS = "analytics-tasks/edxanalytics_creds"
HAND_TYPED = "HandTyped-S3cret-0042"  # a password the operator types into a file by hand


def forms(secret: str) -> set[str]:
    """The secret as the files, the consoles and Python could spell it."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        secret.replace("'", "''"),  # YAML single-quoted
        secret.replace("\\", "\\\\").replace('"', '\\"'),  # YAML double-quoted
        shlex.quote(secret),
        repr(secret)[1:-1],
        secret.replace("%", "%%"),
        secret[:8],  # a recognisable piece, in case of a form not listed here
    }


def leaks(text: str, secret: str = PLANTED_PASSWORD) -> list[str]:
    return sorted(form for form in forms(secret) if form in text)


def answers(**overrides: Any) -> dict[str, Any]:
    return complete_answers(database__analytics_password=PLANTED_PASSWORD, **overrides)


class Outputs:
    """Everything the CLI printed during a test."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def cli(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        if args[0] == "run" and "--only" not in args:
            args = (*args, "--only", "files")  # other steps would reach real services
        result = run_cli(*args, COLUMNS="1000")
        self.texts += [result.stdout, result.stderr]
        assert "Traceback" not in result.stdout + result.stderr
        return result


@pytest.fixture
def outputs() -> Outputs:
    return Outputs()


def state_texts(repo: Path) -> Iterator[tuple[str, str]]:
    """The files that must never hold a secret: logs, ledger, answers.yml."""
    logs = sorted((repo / ".wizard" / "logs").glob("*"))
    assert logs, "no run log was written"
    for path in [*logs, repo / ".wizard" / "state.yml", repo / ".wizard" / "answers.yml"]:
        yield str(path.relative_to(repo)), path.read_text(encoding="utf-8")


def assert_kept_secret(repo: Path, outputs: Outputs, *secrets: str) -> None:
    for secret in (PLANTED_PASSWORD, *secrets):
        for name, text in state_texts(repo):
            assert leaks(text, secret) == [], f"{secret!r} in {name}"
        for text in outputs.texts:
            assert leaks(text, secret) == [], f"{secret!r} in output:\n{text}"


def assert_stored_where_needed(repo: Path) -> None:
    secrets_file = repo / ".wizard" / "secrets.yml"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    stored = yamlio.load(secrets_file)
    assert stored["edxapp"]["migrate_password"] == PLANTED_PASSWORD
    assert stored["database"]["analytics_password"] == PLANTED_PASSWORD
    ansible = yamlio.load(repo / VARS)
    assert str(ansible["COMMON_MYSQL_MIGRATE_PASS"].value) == PLANTED_PASSWORD  # !unsafe
    assert str(ansible["ANALYTICS_MYSQL_PASSWORD"].value) == PLANTED_PASSWORD
    creds = json.loads((repo / ANALYTICS_CREDS).read_text(encoding="utf-8"))
    assert creds["password"] == PLANTED_PASSWORD
    for rel in (VARS, ANALYTICS_CREDS):
        assert (repo / rel).stat().st_mode & 0o777 == 0o600, rel


def edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- through the CLI ----------------------------------------------------------------------


def test_normal_and_repeated_runs(
    repo: Path, write_answers: WriteAnswers, outputs: Outputs
) -> None:
    path = write_answers(answers())
    assert outputs.cli("run", "--answers", path, repo).returncode == 0
    assert outputs.cli("run", "--answers", path, repo, "--json").returncode == 0
    assert outputs.cli("status", repo).returncode in (0, 1)
    assert outputs.cli("status", "--json", repo).returncode in (0, 1)
    changed = write_answers(answers(edxapp__contact_email="analytics@example.com"))
    assert outputs.cli("run", "--answers", changed, repo).returncode == 0
    assert_stored_where_needed(repo)
    assert_kept_secret(repo, outputs)


def test_dry_runs_show_masked_diffs(
    repo: Path, write_answers: WriteAnswers, outputs: Outputs
) -> None:
    fresh = outputs.cli("run", "--answers", write_answers(answers()), repo, "--dry-run")
    assert fresh.returncode == 0
    assert MASK in fresh.stderr
    assert not repo.exists()
    assert outputs.cli("run", "--answers", write_answers(answers()), repo).returncode == 0
    # A new password: the diff shows that it changes, never what it was or becomes.
    new = "N3w'Pass\"#%$\\{{y}}ö-5150"
    changed = write_answers(answers(edxapp__migrate_password=new))
    dry = outputs.cli("run", "--answers", changed, repo, "--dry-run")
    assert dry.returncode == 0
    assert f"-COMMON_MYSQL_MIGRATE_PASS: !unsafe '{MASK}'" in dry.stderr
    assert f"+COMMON_MYSQL_MIGRATE_PASS: !unsafe '{MASK}'" in dry.stderr
    assert outputs.cli("run", "--answers", changed, repo, "--dry-run", "--json").returncode == 0
    assert_kept_secret(repo, outputs, new)
    assert_stored_where_needed(repo)  # the dry runs changed nothing


def test_conflicts_show_no_secret(
    repo: Path, write_answers: WriteAnswers, outputs: Outputs
) -> None:
    path = write_answers(answers())
    assert outputs.cli("run", "--answers", path, repo).returncode == 0
    edit(
        repo,
        VARS,
        f"ANALYTICS_MYSQL_PASSWORD: !unsafe '{PLANTED_PASSWORD.replace(chr(39), chr(39) * 2)}'",
        f"ANALYTICS_MYSQL_PASSWORD: '{HAND_TYPED}'",
    )
    edit(repo, ANALYTICS_CREDS, '"host": "acme', '"host": "hand-edited-acme')
    conflict = outputs.cli("run", "--answers", path, repo)
    assert conflict.returncode == 3
    assert "ANALYTICS_MYSQL_PASSWORD" in conflict.stderr
    assert conflict.stderr.count(MASK) >= 2  # the hand-typed value and the answer
    assert outputs.cli("run", "--answers", path, repo, "--json").returncode == 3
    assert outputs.cli("status", repo).returncode == 1
    assert outputs.cli("status", "--json", repo).returncode == 1
    assert outputs.cli("run", "--answers", path, repo, "--dry-run").returncode == 3
    assert outputs.cli("run", "--answers", path, repo, "--force").returncode == 0
    assert_kept_secret(repo, outputs, HAND_TYPED)
    assert_stored_where_needed(repo)


def test_failing_runs_show_no_secret(
    repo: Path, write_answers: WriteAnswers, outputs: Outputs
) -> None:
    assert outputs.cli("run", "--answers", write_answers(answers()), repo).returncode == 0
    # A cross-file rule fails.
    sigv4 = write_answers(
        answers(aws__region="eu-central-1", pipeline__emr_release_label="emr-4.7.2")
    )
    assert outputs.cli("run", "--answers", sigv4, repo).returncode == 1
    assert outputs.cli("run", "--answers", sigv4, repo, "--json").returncode == 1
    # Invalid answers, the password among them.
    bad = answers(aws__region="mars", edxapp__migrate_password=PLANTED_PASSWORD + "\nline two")
    assert outputs.cli("run", "--answers", write_answers(bad), repo).returncode == 2
    # A file broken by hand, on the line that holds the password.
    cfg = repo / CFG
    original = cfg.read_text(encoding="utf-8")
    cfg.write_text(original + f"\n[mysql]\n{PLANTED_PASSWORD}\n", encoding="utf-8")
    assert outputs.cli("run", "--answers", write_answers(answers()), repo).returncode == 1
    assert outputs.cli("run", "--answers", write_answers(answers()), repo, "--json").returncode == 1
    assert outputs.cli("status", repo).returncode == 1
    assert outputs.cli("status", "--json", repo).returncode == 1
    broken = repo / VARS
    broken.write_text(broken.read_text(encoding="utf-8") + "  - [unbalanced\n", encoding="utf-8")
    assert outputs.cli("run", "--answers", write_answers(answers()), repo).returncode == 1
    assert_kept_secret(repo, outputs)


def test_internal_state_files_never_hold_it_even_after_many_runs(
    repo: Path, write_answers: WriteAnswers, outputs: Outputs
) -> None:
    path = write_answers(answers())
    for extra in ([], ["--dry-run"], ["--json"], ["--only", "files"]):
        assert outputs.cli("run", "--answers", path, repo, *extra).returncode == 0
    ledger = (repo / ".wizard" / "state.yml").read_text(encoding="utf-8")
    assert "password" not in ledger.lower() or "Pl4nted" not in ledger
    assert leaks(ledger) == []
    committed = subprocess.run(
        ["git", "-C", str(repo), "show", "HEAD:.wizard/answers.yml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert leaks(committed) == []
    assert_kept_secret(repo, outputs)


# --- through Session: exception messages --------------------------------------------------


def test_exception_messages_hold_no_secret(repo: Path) -> None:
    messages: list[str] = []
    flat = flatten(answers(), "answers.yml")
    with Session.open(repo, command="test") as session:
        session.merge_answers(flat, "answers.yml")
        session.apply(session.plan("files"))

        # Invalid: a password with a newline.
        try:
            session.merge_answers(
                {"edxapp.migrate_password": PLANTED_PASSWORD + "\n2", "aws.region": "x"}, "a.yml"
            )
        except AnswersError as exc:
            messages.append(str(exc))
        # A hand-edited secret, then applying the conflicting plan.
        edit(
            repo,
            ANALYTICS_CREDS,
            json.dumps(PLANTED_PASSWORD, ensure_ascii=False),
            json.dumps(HAND_TYPED),
        )
        plan = session.plan("files")
        assert [c.key for c in plan.conflicts] == ["password"]
        assert plan.conflicts[0].secret
        try:
            session.apply(plan)
        except StepError as exc:
            messages.append(str(exc))
        # A broken rule.
        session.set_answer("aws.region", "eu-central-1")
        session.set_answer("pipeline.emr_release_label", "emr-4.7.2")
        try:
            session.plan("files", force=True)
        except StepError as exc:
            messages.append(str(exc))
        # Broken files.
        (repo / ANALYTICS_CREDS).write_text(
            '{"password": ' + json.dumps(PLANTED_PASSWORD) + ",", encoding="utf-8"
        )
        try:
            session.plan("files", force=True)
        except StepError as exc:
            messages.append(str(exc))
        (repo / CFG).write_text(f"[mysql]\n{PLANTED_PASSWORD}\n", encoding="utf-8")
        try:
            session.plan("files", force=True)
        except StepError as exc:
            messages.append(str(exc))
        # Locked.
        try:
            Session.open(repo, command="test")
        except LockedError as exc:
            messages.append(str(exc))
    assert len(messages) == 6, messages
    for message in messages:
        assert leaks(message) == [], message
        assert leaks(message, HAND_TYPED) == [], message


def test_the_redactor_masks_every_form_of_the_password(repo: Path) -> None:
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(answers(), "a.yml"), "a.yml")
        for form in forms(PLANTED_PASSWORD) - {PLANTED_PASSWORD[:8]}:
            assert leaks(session.redact(f"before {form} after")) == [], form
