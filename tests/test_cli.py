"""The command line: help, version, answers-template, run, status, exit codes and the lock."""

from __future__ import annotations

import getpass
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, cli_env, complete_answers, run_cli

from wizard import __version__, lock, yamlio
from wizard.answers import AnswersError, flatten
from wizard.engine import Session
from wizard.fields import BY_KEY, FIELDS
from wizard.headless import check_required
from wizard.ledger import SCHEMA_VERSION
from wizard.lock import LockedError
from wizard.steps import NAMES, STEPS
from wizard.steps.files import INPUTS as FILES_INPUTS

WriteAnswers = Callable[..., Path]
VARS = "vars-analytics.yml"
ENV = "analytics-tasks/jenkins_env"


def cli(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess; no output of it may ever be a traceback."""
    result = run_cli(*args, **env)
    assert "Traceback" not in result.stdout, result.stdout
    assert "Traceback" not in words(result.stderr), result.stderr
    return result


def words(text: str) -> str:
    """Output with the console's line wrapping undone."""
    return " ".join(text.split())


def run(repo: Path, answers: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """A headless run of the files step (other steps would reach real services)."""
    only = [] if "--only" in extra else ["--only", "files"]
    return cli("run", "--answers", answers, repo, *only, *extra)


def status_json(repo: Path) -> tuple[int, dict[str, Any]]:
    result = cli("status", "--json", repo)
    return result.returncode, json.loads(result.stdout)


def assert_status_code(code: int, doc: dict[str, Any]) -> None:
    """status exits 0 exactly when every step is done."""
    all_done = all(s["state"] == "done" for s in doc["steps"])
    assert code == (0 if all_done else 1), doc
    assert doc["ok"] is all_done


def files_status(repo: Path) -> dict[str, str]:
    _, doc = status_json(repo)
    return next(s for s in doc["steps"] if s["name"] == "files")


def tree(path: Path) -> dict[str, tuple[bytes, int, int, int]]:
    """Everything under ``path``, git internals included (an atomic rewrite is a new inode)."""
    found: dict[str, tuple[bytes, int, int, int]] = {}
    if not path.exists():
        return found
    for item in sorted(path.rglob("*")):
        st = item.lstat()
        data = item.read_bytes() if item.is_file() else b""
        found[item.relative_to(path).as_posix()] = (data, st.st_mtime_ns, st.st_mode, st.st_ino)
    return found


def outside_cache(found: dict[str, tuple[bytes, int, int, int]]) -> dict[str, Any]:
    """A tree without status's record of its answer (and the mtime of the directory holding it)."""
    kept: dict[str, Any] = {k: v for k, v in found.items() if not k.startswith(".wizard/cache")}
    if ".wizard" in kept:
        data, _, mode, inode = kept[".wizard"]
        kept[".wizard"] = (data, mode, inode)
    return kept


def edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- help and version ---------------------------------------------------------------------

EXIT_CODE_LINES = ["0", "1", "2", "3", "4", "5"]


def _assert_exit_codes(text: str) -> None:
    assert "exit codes:" in text
    section = text[text.index("exit codes:") :]
    for code in EXIT_CODE_LINES:
        assert f"\n  {code} " in section, section
    assert "hand-edited values" in section
    assert "another analytics-wizard holds the secure repo" in section
    assert "newer version" in section


def test_help_lists_commands_and_exit_codes() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("run", "status", "answers-template", "tunnel", "report"):
        assert f"  {command} " in result.stdout
    _assert_exit_codes(result.stdout)


def test_version() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"analytics-wizard {__version__}"


@pytest.mark.parametrize("command", ["run", "status", "tunnel", "report"])
def test_command_help_lists_exit_codes(command: str) -> None:
    result = cli(command, "--help")
    assert result.returncode == 0
    _assert_exit_codes(result.stdout)


def test_run_help_lists_its_options_and_steps() -> None:
    text = cli("run", "--help").stdout
    for option in ("--answers", "--dry-run", "--only", "--force", "--json"):
        assert option in text
    for name in NAMES:
        assert name in text


@pytest.mark.parametrize(
    "args",
    [
        ["run"],  # --answers missing
        ["run", "--answers", "a.yml", "--only", "everything"],
        ["status", "--bogus"],
        ["frobnicate", "--now"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert "error:" in words(result.stderr)


@pytest.mark.parametrize("command", ["tunnel", "report"])
def test_tunnel_and_report_need_a_secure_repo(command: str) -> None:
    result = cli(command, "/nonexistent/secure-config")
    assert result.returncode == 2
    assert "is not a secure repo the wizard has worked on" in words(result.stderr)


# --- answers-template ---------------------------------------------------------------------

# What an operator must answer: required, with no default, not derived, not generated.
REQUIRED = [
    f.key
    for f in FIELDS
    if f.required and f.default is None and f.derive is None and not f.generated
]
# What the terraform step would give the files step (here: existing infrastructure), and the
# secure repo's remote (the test repo has none).
INFRASTRUCTURE = (
    "infrastructure.elasticsearch_host",
    "infrastructure.emr_subnet_id",
    "database.host",
    "pipeline.secure_repo_url",
)


def test_answers_template_is_yaml_with_every_key() -> None:
    result = cli("answers-template")
    assert result.returncode == 0
    data = yamlio.loads(result.stdout)
    flat = flatten(data, "template")  # no unknown group or key
    for f in FIELDS:
        assert f.name in data[f.group], f.key
    assert set(flat) == {f.key for f in FIELDS}
    for line in result.stdout.splitlines():
        if line.startswith("  ") and ":" in line:
            assert "  # " in line, f"no help on {line!r}"
    for f in FIELDS:
        if f.default is None:  # an example is never a value: only in the comment
            assert flat[f.key] is None, f.key
            if f.example is not None:
                line = next(x for x in result.stdout.splitlines() if x.startswith(f"  {f.name}:"))
                assert f"e.g. {f.example}" in line.partition("  # ")[2], line


def required_in(text: str) -> list[str]:
    """The keys the template marks REQUIRED, in its order."""
    found, group = [], ""
    for line in text.splitlines():
        if line and not line.startswith((" ", "#")):
            group = line.partition(":")[0]
        elif "# REQUIRED" in line:
            found.append(f"{group}.{line.strip().partition(':')[0]}")
    return found


def test_an_untouched_template_fails_naming_every_required_key(tmp_path: Path, repo: Path) -> None:
    text = cli("answers-template").stdout
    assert required_in(text) == REQUIRED
    assert {"client.name", "terraform.hosted_zone_domain", "terraform.image_id"} <= set(REQUIRED)
    untouched = tmp_path / "answers.yml"
    untouched.write_text(text, encoding="utf-8")
    for only in ([], ["--only", "files"]):
        result = cli("run", "--answers", untouched, repo, "--dry-run", *only)
        assert result.returncode == 2, result.stderr
        said = words(result.stderr)
        assert "the answers cannot be used" in said
        needed = REQUIRED if not only else [k for k in REQUIRED if k in FILES_INPUTS]
        for key in needed:
            assert f"{key} ({BY_KEY[key].label}) is required" in said, key
    assert not (repo / VARS).exists()


def test_answers_template_filled_in_makes_a_valid_run(tmp_path: Path, repo: Path) -> None:
    text = cli("answers-template").stdout
    data = yamlio.loads(text)
    given = {
        f"{group}.{name}": value
        for group, values in complete_answers().items()
        for name, value in values.items()
    }
    for key in [*required_in(text), *INFRASTRUCTURE]:
        group, name = key.split(".")
        data[group][name] = given[key]
    answers = tmp_path / "filled.yml"
    answers.write_text(yamlio.dumps(data), encoding="utf-8")
    dry = run(repo, answers, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    result = run(repo, answers)
    assert result.returncode == 0, result.stderr
    assert (repo / VARS).is_file()
    code, doc = status_json(repo)
    assert_status_code(code, doc)
    assert files_status(repo)["state"] == "done"


# --- run: dry run, json -------------------------------------------------------------------


def test_dry_run_on_a_missing_repo_creates_nothing(
    tmp_path: Path, repo: Path, write_answers: WriteAnswers
) -> None:
    answers = write_answers(complete_answers())
    before = tree(tmp_path)
    result = run(repo, answers, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert not repo.exists()
    assert tree(tmp_path) == before
    out = result.stdout + result.stderr
    assert "+++ b/vars-analytics.yml" in out
    assert "+++ b/analytics-tasks/edxanalytics_creds" in out
    assert "COMMON_MYSQL_MIGRATE_PASS: !unsafe '********'" in out
    assert "ANALYTICS_MYSQL_PASSWORD: '********'" in out  # generated, masked too
    assert '"password": "********"' in out
    assert "Pl4nted" not in out
    assert "dry run" in out


def test_dry_run_on_an_existing_repo_changes_nothing(
    repo: Path, write_answers: WriteAnswers
) -> None:
    assert run(repo, write_answers(complete_answers())).returncode == 0
    before = tree(repo)
    changed = complete_answers(edxapp__contact_email="analytics@example.com")
    result = run(repo, write_answers(changed), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert tree(repo) == before  # files, answers, ledger, logs, git: all untouched
    out = result.stdout + result.stderr
    assert "-EDXAPP_CONTACT_EMAIL: 'ops@example.com'" in out
    assert "+EDXAPP_CONTACT_EMAIL: 'analytics@example.com'" in out
    assert "jenkins_env" not in out  # only what would change is shown
    assert "Pl4nted" not in out


def test_run_json_is_one_document(repo: Path, write_answers: WriteAnswers) -> None:
    result = run(repo, write_answers(complete_answers()), "--json")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["command"] == "run" and doc["ok"] is True and doc["exit_code"] == 0
    assert doc["dry_run"] is False
    assert [s["name"] for s in doc["steps"]] == ["files"]
    for step in doc["steps"]:
        assert {"name", "state", "reason"} <= set(step)
    assert doc["steps"][0]["state"] == "done"
    assert isinstance(doc["checks"], list)
    files = next(s for s in doc["steps"] if s["name"] == "files")
    assert len(files["changes"]) == 6
    again = json.loads(run(repo, write_answers(complete_answers()), "--json").stdout)
    assert next(s for s in again["steps"] if s["name"] == "files")["reason"] == "no changes"


def test_run_json_on_failure_is_still_one_document(repo: Path, write_answers: WriteAnswers) -> None:
    result = run(repo, write_answers(complete_answers(aws__region="mars")), "--json")
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 2
    assert "aws.region" in words(result.stderr)


def test_dry_run_json(repo: Path, write_answers: WriteAnswers) -> None:
    result = run(repo, write_answers(complete_answers()), "--dry-run", "--json", "--only", "files")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is True
    assert doc["steps"] == [
        {
            "name": "files",
            "state": "planned",
            "reason": "would write 6 file(s)",
            "changes": [
                VARS,
                ENV,
                "analytics-tasks/emr-vars.yml",
                "analytics-tasks/analytics-override.cfg",
                "analytics-tasks/edxapp_creds",
                "analytics-tasks/edxanalytics_creds",
            ],
            "conflicts": [],
        }
    ]
    assert not repo.exists()


# --- --only -------------------------------------------------------------------------------


@pytest.mark.parametrize("only", [["jenkin"], ["files,jenkin"], ["files", "--only", "jenkin"]])
def test_only_an_unknown_step_is_a_usage_error(
    repo: Path, write_answers: WriteAnswers, only: list[str]
) -> None:
    result = run(repo, write_answers(complete_answers()), "--only", *only)
    assert result.returncode == 2
    said = words(result.stderr)
    assert "argument --only: invalid choice: 'jenkin'" in said
    assert f"(choose from {', '.join(NAMES)})" in said  # what is allowed
    assert "Traceback" not in result.stderr
    assert not repo.exists()  # refused before anything was touched


def test_only_files_runs_just_that_step(repo: Path, write_answers: WriteAnswers) -> None:
    result = run(repo, write_answers(complete_answers()), "--only", "files", "--json")
    assert result.returncode == 0
    assert [s["name"] for s in json.loads(result.stdout)["steps"]] == ["files"]


@pytest.mark.parametrize(
    "order",
    [
        ["--answers", "{answers}", "--only", "files", "{repo}"],  # issue 13: REPO taken as a step
        ["--only", "files", "{repo}", "--answers", "{answers}"],
        ["{repo}", "--only", "files", "--answers", "{answers}"],
        ["--answers", "{answers}", "{repo}", "--only", "files"],
    ],
)
def test_the_secure_repo_may_come_before_or_after_the_options(
    repo: Path, write_answers: WriteAnswers, order: list[str]
) -> None:
    answers = write_answers(complete_answers())
    args = [a.format(answers=answers, repo=repo) for a in order]
    result = cli("run", *args, "--json")
    assert result.returncode == 0, result.stderr
    assert [s["name"] for s in json.loads(result.stdout)["steps"]] == ["files"]
    assert (repo / VARS).is_file()  # the repo given, not ./secure-config


def with_database(db: Any) -> dict[str, Any]:
    """Complete answers whose analytics and edxapp DB servers are the test MariaDB."""
    values = {"host": "127.0.0.1", "port": db.port, "admin_user": db.admin_user}
    return complete_answers(
        **{f"database__{k}": v for k, v in values.items()},
        database__admin_password=db.admin_password,
        **{f"edxapp__db_{k}": v for k, v in values.items() if k != "admin_user"},
        edxapp__admin_user=db.admin_user,
        edxapp__admin_password=db.admin_password,
    )


@pytest.mark.parametrize(
    "only", [["--only", "files,database"], ["--only", "files", "--only", "database"]]
)
def test_only_takes_a_comma_list_or_repeats_and_runs_in_the_wizards_order(
    repo: Path, write_answers: WriteAnswers, db: Any, only: list[str]
) -> None:
    answers = write_answers(with_database(db))
    result = cli("run", "--answers", answers, *only, "--dry-run", "--json", repo)
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)["steps"]
    assert [(s["name"], s["state"]) for s in steps] == [
        ("database", "planned"),  # the database step comes before the files in the wizard
        ("files", "planned"),
    ]


# --- invalid answers ----------------------------------------------------------------------


def test_invalid_answers_exit_2_listing_every_problem(
    repo: Path, write_answers: WriteAnswers
) -> None:
    data = complete_answers(
        aws__region="Frankfurt", edxapp__contact_email="nobody", database__port="db"
    )
    data["client"]["nmae"] = "acme"
    result = run(repo, write_answers(data))
    assert result.returncode == 2
    err = words(result.stderr)
    assert "the answers cannot be used" in err
    assert "unknown key 'client.nmae' (did you mean 'name'?)" in err
    assert "aws.region: an AWS region name" in err
    assert "edxapp.contact_email: an e-mail address" in err
    assert "database.port: a whole number from 1 to 65535" in err
    assert not repo.exists()


def test_missing_required_answers_exit_2_naming_every_key(
    repo: Path, write_answers: WriteAnswers
) -> None:
    data = complete_answers()
    del data["edxapp"]["lms_host"]
    del data["edxapp"]["migrate_password"]
    del data["infrastructure"]
    result = run(repo, write_answers(data))
    assert result.returncode == 2, result.stderr
    for key in (
        "edxapp.lms_host",
        "edxapp.migrate_password",
        "infrastructure.elasticsearch_host",
        "infrastructure.emr_subnet_id",
    ):
        assert key in words(result.stderr)
    assert not (repo / VARS).exists()


def test_an_answers_file_that_is_not_yaml(tmp_path: Path, repo: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("client:\n  name: [acme\n", encoding="utf-8")
    result = run(repo, bad)
    assert result.returncode == 2
    assert f"{bad} line" in words(result.stderr)


def test_an_answers_file_that_does_not_exist(tmp_path: Path, repo: Path) -> None:
    result = run(repo, tmp_path / "nope.yml")
    assert result.returncode == 2
    assert "no such file" in words(result.stderr) and "answers-template" in words(result.stderr)


def test_a_secure_repo_path_that_is_a_file(tmp_path: Path, write_answers: WriteAnswers) -> None:
    not_a_dir = tmp_path / "secure-config"
    not_a_dir.write_text("oops\n", encoding="utf-8")
    result = run(not_a_dir, write_answers(complete_answers()))
    assert result.returncode == 2
    assert "not a directory" in words(result.stderr)
    assert "internal error" not in words(result.stderr)


# --- status -------------------------------------------------------------------------------


def test_status_of_a_new_repo_is_pending(repo: Path) -> None:
    code, doc = status_json(repo)
    assert code == 1
    assert doc["command"] == "status" and doc["ok"] is False
    assert [s["name"] for s in doc["steps"]] == list(NAMES)
    for step in doc["steps"]:
        assert set(step) >= {"name", "state", "reason"}
    files = next(s for s in doc["steps"] if s["name"] == "files")
    assert files["state"] == "pending" and files["reason"] == "not run yet"
    assert doc["checks"] == []
    assert not repo.exists()


def test_status_done_exits_0(repo: Path, write_answers: WriteAnswers) -> None:
    assert run(repo, write_answers(complete_answers())).returncode == 0
    before = tree(repo)
    code, doc = status_json(repo)
    assert_status_code(code, doc)
    states = {s["name"]: s["state"] for s in doc["steps"]}
    assert states["files"] == "done"
    assert code == 1  # only the files step ran
    assert all(states[step.name] == "pending" for step in STEPS if step.name != "files")
    text = cli("status", repo, COLUMNS="200")
    assert text.returncode == code
    assert "files" in text.stdout and "done" in text.stdout
    # status only reads — but for the record of its own answer (.wizard/cache, git-ignored)
    assert outside_cache(tree(repo)) == outside_cache(before)


def test_status_stale_when_an_answer_changed(repo: Path, write_answers: WriteAnswers) -> None:
    assert run(repo, write_answers(complete_answers())).returncode == 0
    with Session.open(repo, command="test") as session:  # what the TUI does on confirm
        session.set_answer("edxapp.lms_host", "courses.acme.org")
    files = files_status(repo)
    assert files["state"] == "stale"
    assert files["reason"] == "answers changed since it ran: edxapp.lms_host"
    text = cli("status", repo, COLUMNS="200")
    assert text.returncode == 1
    assert "stale" in text.stdout and "edxapp.lms_host" in text.stdout


def test_an_invalid_hand_edit_of_the_saved_answers_is_reported(
    repo: Path, write_answers: WriteAnswers
) -> None:
    answers = write_answers(complete_answers())
    assert run(repo, answers).returncode == 0
    edit(repo, ".wizard/answers.yml", "cms_host: studio.example.com", "cms_host: studio/x")
    for args in (["status", repo], ["run", "--answers", answers, repo, "--only", "files"]):
        result = cli(*args)
        assert result.returncode == 2
        assert "answers.yml: edxapp.cms_host: a host name" in words(result.stderr)


def test_status_stale_when_a_file_was_changed_by_hand(
    repo: Path, write_answers: WriteAnswers
) -> None:
    assert run(repo, write_answers(complete_answers())).returncode == 0
    edit(repo, VARS, "EDXAPP_LMS_BASE: 'lms.example.com'", "EDXAPP_LMS_BASE: 'x.acme.org'")
    files = files_status(repo)
    assert files["state"] == "stale"
    assert files["reason"] == "changed by hand: EDXAPP_LMS_BASE in vars-analytics.yml"
    assert status_json(repo)[0] == 1


def test_status_stale_when_a_file_is_missing(repo: Path, write_answers: WriteAnswers) -> None:
    assert run(repo, write_answers(complete_answers())).returncode == 0
    (repo / ENV).unlink()
    files = files_status(repo)
    assert files["state"] == "stale"
    assert files["reason"] == f"missing: {ENV}"


def test_status_stays_done_with_the_operators_own_additions(
    repo: Path, write_answers: WriteAnswers
) -> None:
    assert run(repo, write_answers(complete_answers())).returncode == 0
    with (repo / VARS).open("a", encoding="utf-8") as handle:
        handle.write("MY_OWN_KEY: 'mine'  # not the wizard's\n")
    with (repo / ENV).open("a", encoding="utf-8") as handle:
        handle.write("export MY_VAR=1\n")
    assert files_status(repo)["state"] == "done"


def test_status_failed_with_the_reason(repo: Path, write_answers: WriteAnswers) -> None:
    data = complete_answers(aws__region="eu-central-1", pipeline__emr_release_label="emr-4.7.2")
    assert run(repo, write_answers(data)).returncode == 1
    files = files_status(repo)
    assert files["state"] == "failed"
    assert "eu-central-1 accepts only SigV4" in files["reason"]
    text = cli("status", repo, COLUMNS="250")
    assert text.returncode == 1
    assert "failed" in text.stdout and "SigV4" in text.stdout
    # Fixed answers make it done again.
    assert run(repo, write_answers(complete_answers())).returncode == 0
    assert files_status(repo)["state"] == "done"
    assert_status_code(*status_json(repo))


# --- the ledger's schema ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "run"])
def test_a_newer_ledger_is_refused_clearly(
    command: str, repo: Path, write_answers: WriteAnswers
) -> None:
    (repo / ".wizard").mkdir(parents=True)
    (repo / ".wizard" / "state.yml").write_text(
        f"schema_version: {SCHEMA_VERSION + 1}\nsteps: {{}}\n", encoding="utf-8"
    )
    args = (
        ["status", repo]
        if command == "status"
        else ["run", "--answers", write_answers(complete_answers()), repo, "--only", "files"]
    )
    result = cli(*args)
    assert result.returncode == 5
    assert "written by a newer analytics-wizard" in words(result.stderr)
    assert "upgrade analytics-wizard" in words(result.stderr)
    assert not (repo / VARS).exists()
    assert "schema_version: 3" in (repo / ".wizard" / "state.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("version_line", ["schema_version: 1\n", ""])
def test_an_older_ledger_is_migrated(
    version_line: str, repo: Path, write_answers: WriteAnswers
) -> None:
    answers = write_answers(complete_answers())
    assert run(repo, answers).returncode == 0
    (repo / ".wizard" / "state.yml").write_text(
        version_line + "steps:\n  files:\n    status: done\n    input_hash: 0123abcd\n"
        "    finished_at: '2020-01-01T00:00:00+00:00'\n    outputs: {}\n",
        encoding="utf-8",
    )
    code, doc = status_json(repo)
    assert code == 1
    files = next(s for s in doc["steps"] if s["name"] == "files")
    assert files["state"] == "stale"  # cannot tell what changed: offered again
    result = run(repo, answers)
    assert result.returncode == 0, result.stderr
    ledger = yamlio.load(repo / ".wizard" / "state.yml")
    assert ledger["schema_version"] == SCHEMA_VERSION
    assert ledger["steps"]["files"]["status"] == "done"
    assert files_status(repo)["state"] == "done"
    assert_status_code(*status_json(repo))


def test_a_corrupt_ledger_is_a_clear_error(repo: Path) -> None:
    (repo / ".wizard").mkdir(parents=True)
    (repo / ".wizard" / "state.yml").write_text("steps: [\n", encoding="utf-8")
    result = cli("status", repo)
    assert result.returncode == 5
    assert "state.yml" in words(result.stderr)


# --- the lock -----------------------------------------------------------------------------


def test_a_second_session_is_refused_naming_the_holder(repo: Path) -> None:
    with Session.open(repo, command="test"):
        with pytest.raises(LockedError) as caught:
            Session.open(repo, command="test")
        assert f"pid {os.getpid()}" in str(caught.value)
        assert "another analytics-wizard is working on this secure repo" in str(caught.value)
    with Session.open(repo, command="test"):  # released on exit
        pass


def test_the_cli_is_refused_while_a_session_holds_the_repo(
    repo: Path, write_answers: WriteAnswers
) -> None:
    answers = write_answers(complete_answers())
    with Session.open(repo, command="test"):
        result = run(repo, answers)
        assert result.returncode == 4
        assert f"pid {os.getpid()}" in words(result.stderr)
        assert not (repo / VARS).exists()
        assert cli("status", repo).returncode == 1  # reading needs no lock
    assert run(repo, answers).returncode == 0


def test_who_holds_a_repo_is_asked_without_taking_or_making_the_lock(
    repo: Path, tmp_path: Path
) -> None:
    path = lock.path_in(repo)
    assert lock.holder(path) is None and not path.exists()  # no repo yet: nobody, nothing made
    with Session.open(repo, command="test"):
        assert lock.holder(path) == f"pid {os.getpid()}, {getpass.getuser()}@{socket.gethostname()}"
    assert lock.holder(path) is None  # let go: free, and asking took nothing
    with Session.open(repo, command="test"):
        pass
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("")
    path.unlink()
    path.symlink_to(elsewhere)
    assert lock.holder(path) is None  # never through a link: opening the repo says why


HOLDER = """
import sys, time
from pathlib import Path
from wizard.engine import Session
from wizard.headless import check_required
session = Session.open(Path(sys.argv[1]), command="holder")
print("held", flush=True)
time.sleep(120)
"""


def test_a_killed_holder_frees_the_lock(repo: Path, write_answers: WriteAnswers) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(repo)],
        stdout=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        answers = write_answers(complete_answers())
        refused = run(repo, answers)
        assert refused.returncode == 4
        assert f"pid {holder.pid}" in words(refused.stderr)
        with pytest.raises(LockedError, match=f"pid {holder.pid}"):
            Session.open(repo, command="test")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    with Session.open(repo, command="test"):
        pass
    assert run(repo, answers).returncode == 0


def test_answers_terraform_gives_are_not_required_up_front_when_terraform_runs_first(
    repo: Path,
) -> None:
    """A whole run on a new repo needs no Elasticsearch host or EMR subnet in the answers:
    terraform, which runs first, outputs them. Only a run without terraform needs them."""
    data = complete_answers()
    del data["infrastructure"]
    del data["database"]["host"]
    del data["edxapp"]["lms_host"]
    with Session.open(repo, write=True, command="test") as session:
        session.merge_answers(flatten(data, "test answers"), "test answers")
        with pytest.raises(AnswersError) as only_files:
            check_required(session, ["files"])
        with pytest.raises(AnswersError) as whole_run:
            check_required(session, None)
    for key in (
        "infrastructure.emr_subnet_id",
        "infrastructure.elasticsearch_host",
        "database.host",
    ):
        assert key in str(only_files.value)
        assert key not in str(whole_run.value)
    assert "edxapp.lms_host" in str(whole_run.value)  # an answer only the operator can give


def test_a_wizard_quitting_as_the_next_one_opens_lets_it_in(repo: Path) -> None:
    """A dropped connection's wizard takes a moment to let go of the repo; the operator who
    reconnects at once is let in when it does, not refused."""
    Session.open(repo, command="test").close()
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time; from pathlib import Path; from wizard.lock import RepoLock\n"
            "lock = RepoLock(Path(sys.argv[1])); lock.acquire(); print('held', flush=True)\n"
            "time.sleep(0.5); lock.release(); time.sleep(30)"
        ), str(repo / ".wizard" / "lock")],
        stdout=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with Session.open(repo, command="test") as session:
            assert session.write
    finally:
        holder.kill()
        holder.wait()
