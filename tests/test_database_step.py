"""The database step against a real MariaDB, directly and through a real sshd tunnel.

Reads like the runbook's "MySQL database" section: the three databases, the analytics and
migration users, edxapp_ro; a second run changes nothing; a changed password is applied; the
planted password never leaks.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import services
from conftest import PLANTED_PASSWORD, complete_answers

from wizard import headless, mysql, ssh, steps
from wizard.answers import flatten
from wizard.context import RunContext
from wizard.engine import Session
from wizard.errors import WizardError
from wizard.mysql import Server
from wizard.redact import variants
from wizard.steps import Plan
from wizard.steps import database as database_step

ANALYTICS_PW = "an'al\"y\\tics%#{{pw}}ü😀-x"
READONLY_PW = "r0'\"\\%#{% raw %}ßü😀"
DATABASES = ("dashboard", "analytics-api", "reports")


# --- helpers ------------------------------------------------------------------------------


def db_answers(server: services.MariaDB, **overrides: Any) -> dict[str, Any]:
    """Complete answers whose analytics and edxapp DB servers are both the test MariaDB."""
    values: dict[str, Any] = {
        "database__host": services.LOOPBACK,
        "database__port": server.port,
        "database__admin_user": server.admin_user,
        "database__admin_password": server.admin_password,
        "database__analytics_password": ANALYTICS_PW,
        "database__readonly_password": READONLY_PW,
        "edxapp__db_host": services.LOOPBACK,
        "edxapp__db_port": server.port,
        "edxapp__admin_user": server.admin_user,
        "edxapp__admin_password": server.admin_password,
    }
    return complete_answers(**{**values, **overrides})


def plan_step(repo: Path, data: dict[str, Any], decisions: dict[str, str] | None = None) -> Plan:
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(data, "answers.yml"), "answers.yml")
        return session.plan("database", decisions or {})


def run_step(
    repo: Path,
    data: dict[str, Any],
    decisions: dict[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Plan, dict[str, Any]]:
    """Plan and apply the database step, as the TUI and headless mode do."""
    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(data, "answers.yml"), "answers.yml")
        plan = session.plan("database", decisions or {})
        return plan, session.apply(plan, RunContext(on_progress=progress or (lambda line: None)))


def logs_in(server: services.MariaDB, user: str, password: str, port: int | None = None) -> bool:
    target = Server(services.LOOPBACK, port or server.port)
    return mysql.can_log_in(target, user, password, via=None)


def grants_of(server: services.MariaDB, user: str) -> str:
    return "\n".join(row[0] for row in server.sql("SHOW GRANTS FOR %s@'%%'", (user,)))


def users(server: services.MariaDB) -> set[str]:
    return {row[0] for row in server.sql("SELECT User FROM mysql.user")}


def schemas(server: services.MariaDB) -> dict[str, str]:
    rows = server.sql(
        "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA"
    )
    return {name: charset for name, charset in rows}


def assert_no_secret(repo: Path, *texts: str) -> None:
    """The planted password (in any quoting) is in no log, no ledger, no message."""
    forms = variants(PLANTED_PASSWORD) | variants(ANALYTICS_PW) | variants(READONLY_PW)
    files = [repo / ".wizard" / "state.yml", *(repo / ".wizard" / "logs").glob("*.log")]
    for path in files:
        if path.exists():
            content = path.read_text(encoding="utf-8")
            for form in forms:
                assert form not in content, f"a password leaked into {path.name}"
    for text in texts:
        for form in forms:
            assert form not in text, "a password leaked into a message"


def ledger(repo: Path) -> dict[str, Any]:
    with Session.open(repo, write=False) as session:
        record = session.ledger.steps["database"]
        return dataclasses.asdict(record)


# --- creating everything --------------------------------------------------------------------


def test_creates_the_databases_users_and_grants_from_scratch(
    db: services.MariaDB, repo: Path
) -> None:
    plan, outputs = run_step(repo, db_answers(db))

    shown = [s.shown for s in plan.statements]
    assert "CREATE DATABASE IF NOT EXISTS `analytics-api` DEFAULT CHARACTER SET utf8;" in shown
    assert "CREATE USER 'analytics'@'%' IDENTIFIED BY '********';" in shown
    assert "GRANT ALL PRIVILEGES ON `reports`.* TO 'edxapp001'@'%';" in shown
    assert "GRANT SELECT ON *.* TO 'edxapp_ro'@'%';" in shown
    assert len(plan.statements) == 3 + 2 * 4 + 2

    found = schemas(db)
    for name in DATABASES:
        assert found[name].startswith("utf8")
    assert {"analytics", "edxapp001", "edxapp_ro"} <= users(db)
    for user in ("analytics", "edxapp001"):
        text = grants_of(db, user)
        for name in DATABASES:
            assert f"GRANT ALL PRIVILEGES ON `{name}`.* TO `{user}`@`%`" in text
    assert "GRANT SELECT ON *.* TO `edxapp_ro`@`%`" in grants_of(db, "edxapp_ro")

    # Passwords with quotes, backslash, %, #, {{, unicode and an emoji log in afterwards.
    assert logs_in(db, "analytics", ANALYTICS_PW)
    assert logs_in(db, "edxapp001", PLANTED_PASSWORD)
    assert logs_in(db, "edxapp_ro", READONLY_PW)

    assert outputs == {
        "host": services.LOOPBACK,
        "port": db.port,
        "databases": list(DATABASES),
        "users": ["analytics", "edxapp001"],
        "edxapp_host": services.LOOPBACK,
        "edxapp_port": db.port,
        "readonly_user": "edxapp_ro",
    }
    assert ledger(repo)["status"] == "done"
    assert_no_secret(repo, str(plan.statements), str(outputs))


def test_a_second_run_changes_nothing_and_says_so(db: services.MariaDB, repo: Path) -> None:
    run_step(repo, db_answers(db))
    before = ledger(repo)
    grants_before = {u: grants_of(db, u) for u in ("analytics", "edxapp001", "edxapp_ro")}

    again, _ = run_step(repo, db_answers(db))

    assert again.statements == []
    assert "the analytics databases, users and grants are already in place" in again.notes
    assert ledger(repo) == before  # not even the date moved
    assert {u: grants_of(db, u) for u in grants_before} == grants_before
    with Session.open(repo, write=False) as session:
        status = session.step_status(steps.by_name("database"))
    assert status.state == "done", status.reason


def test_a_changed_password_is_applied_with_alter_user(db: services.MariaDB, repo: Path) -> None:
    run_step(repo, db_answers(db))
    new_password = "n3w'\"pw\\%#{{ü😀"

    plan, _ = run_step(repo, db_answers(db, database__analytics_password=new_password))

    assert [s.shown for s in plan.statements] == [
        "ALTER USER 'analytics'@'%' IDENTIFIED BY '********';"
    ]
    assert logs_in(db, "analytics", new_password)
    assert not logs_in(db, "analytics", ANALYTICS_PW)
    assert logs_in(db, "edxapp001", PLANTED_PASSWORD)


def test_verify_notices_a_user_whose_password_was_changed_by_hand(
    db: services.MariaDB, repo: Path
) -> None:
    run_step(repo, db_answers(db))
    db.sql("ALTER USER 'edxapp_ro'@'%' IDENTIFIED BY 'someone-else'")

    with Session.open(repo, write=False) as session:
        local = session.step_status(steps.by_name("database"))
        status = session.step_status(steps.by_name("database"), verify=True)

    assert local.state == "done"  # plain status reads the ledger: it logs in nowhere
    assert status.state == "stale"
    assert "edxapp_ro" in status.reason and "cannot log in" in status.reason


def test_a_missing_grant_is_added_back_and_nothing_else(db: services.MariaDB, repo: Path) -> None:
    run_step(repo, db_answers(db))
    db.sql("REVOKE ALL PRIVILEGES ON `reports`.* FROM 'analytics'@'%'")

    plan, _ = run_step(repo, db_answers(db))

    assert [s.shown for s in plan.statements] == [
        "GRANT ALL PRIVILEGES ON `reports`.* TO 'analytics'@'%';"
    ]


# --- failures an operator meets ---------------------------------------------------------------


def test_an_admin_without_grant_option_is_refused_before_any_change(
    db: services.MariaDB, repo: Path
) -> None:
    db.sql("CREATE USER 'limited'@'%' IDENTIFIED BY 'limited-pw-1'")
    db.sql("GRANT SELECT, CREATE, CREATE USER ON *.* TO 'limited'@'%'")
    data = db_answers(
        db,
        database__admin_user="limited",
        database__admin_password="limited-pw-1",
        edxapp__admin_user="limited",
        edxapp__admin_password="limited-pw-1",
    )

    with pytest.raises(WizardError) as caught:
        run_step(repo, data)

    message = str(caught.value)
    assert "'limited'" in message and "lacks GRANT OPTION" in message
    assert "nothing was changed" in message
    assert not set(DATABASES) & set(schemas(db))
    assert "analytics" not in users(db)
    assert ledger(repo)["status"] == "failed"
    assert_no_secret(repo, message)


def test_a_statement_refused_midway_reports_what_was_already_done(
    db: services.MariaDB, repo: Path
) -> None:
    # CREATE USER and GRANT OPTION, but not ALL on the databases: the GRANTs fail after the
    # CREATEs ran. The operator is told exactly which statements already took effect.
    db.sql("CREATE USER 'partial'@'%' IDENTIFIED BY 'partial-pw-1'")
    db.sql("GRANT SELECT, CREATE, CREATE USER ON *.* TO 'partial'@'%' WITH GRANT OPTION")
    data = db_answers(db, database__admin_user="partial", database__admin_password="partial-pw-1")

    with pytest.raises(WizardError) as caught:
        run_step(repo, data)

    message = str(caught.value)
    assert "'partial' lacks a privilege" in message
    assert "stopped at statement 5 of 13 (GRANT ALL PRIVILEGES ON `dashboard`.*" in message
    assert "already done (kept, not repeated on a re-run): CREATE DATABASE" in message
    assert "CREATE USER 'analytics'@'%' IDENTIFIED BY '********'" in message
    assert_no_secret(repo, message)

    # With a capable admin the re-run does only what is left.
    plan, _ = run_step(repo, db_answers(db))
    assert not any(s.sql.startswith("CREATE DATABASE") for s in plan.statements)
    assert logs_in(db, "analytics", ANALYTICS_PW)


def test_the_server_going_down_midway_is_a_clear_error_and_a_rerun_completes(
    db: services.MariaDB, repo: Path
) -> None:
    def pull_the_plug(line: str) -> None:
        if line.startswith("[6/"):
            db.stop(kill=True)

    with pytest.raises(WizardError) as caught:
        run_step(repo, db_answers(db), progress=pull_the_plug)

    message = str(caught.value)
    assert "cannot reach the analytics DB server" in message
    assert "stopped at statement 6 of 13" in message
    assert "already done" in message and "Run the step again" in message
    assert_no_secret(repo, message)

    db.start()
    plan, _ = run_step(repo, db_answers(db))
    assert 0 < len(plan.statements) < 13
    assert logs_in(db, "analytics", ANALYTICS_PW)
    assert logs_in(db, "edxapp_ro", READONLY_PW)


def test_connection_errors_are_one_sentence_with_the_fix_and_no_password(
    db: services.MariaDB,
) -> None:
    nobody = Server(services.LOOPBACK, services.free_port(), "the analytics DB server")
    with pytest.raises(mysql.DatabaseError) as unreachable:
        mysql.connect(nobody, "analytics", PLANTED_PASSWORD)
    assert "cannot reach the analytics DB server" in str(unreachable.value)
    assert "check the host and port" in str(unreachable.value)

    server = Server(services.LOOPBACK, db.port, "the analytics DB server")
    with pytest.raises(mysql.DatabaseError) as denied:
        mysql.connect(server, db.admin_user, PLANTED_PASSWORD)
    assert denied.value.access_denied
    assert "refused the login of 'wizardadmin' (access denied)" in str(denied.value)

    with pytest.raises(mysql.DatabaseError) as unknown:
        mysql.connect(server, db.admin_user, db.admin_password, database="nope")
    assert "has no database 'nope'" in str(unknown.value)

    for caught in (unreachable, denied, unknown):
        assert_no_secret(Path("/nonexistent"), str(caught.value), repr(caught.value))


@pytest.mark.parametrize("name", ["bad`name", "a b", "x;DROP", "", "ü", "a" * 65])
def test_identifiers_outside_the_safe_alphabet_are_refused(name: str) -> None:
    with pytest.raises(WizardError, match="only letters, digits"):
        mysql.identifier(name)


def test_identifiers_are_backtick_quoted() -> None:
    assert mysql.identifier("analytics-api") == "`analytics-api`"


# --- through an SSH tunnel --------------------------------------------------------------------


def tunnel_answer(sshd: services.SSHD, known_hosts: Path, key: Path | None = None) -> Any:
    return {
        "host": services.LOOPBACK,
        "port": sshd.port,
        "user": sshd.user,
        "key_file": str(key or sshd.client_key),
        "known_hosts": str(known_hosts),
    }


def known_hosts_with(sshd: services.SSHD, tmp_path: Path) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sshd.known_hosts_line())
    return path


def new_key(tmp_path: Path, name: str, passphrase: str = "") -> Path:
    path = tmp_path / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)], check=True
    )
    return path


def test_everything_works_through_the_ssh_tunnel(
    db: services.MariaDB, sshd_server: services.SSHD, repo: Path, tmp_path: Path
) -> None:
    known = known_hosts_with(sshd_server, tmp_path)
    data = db_answers(db, database__tunnel=tunnel_answer(sshd_server, known))

    plan, outputs = run_step(repo, data)

    assert len(plan.statements) == 13
    assert outputs["host"] == services.LOOPBACK and outputs["port"] == db.port
    with Session.open(repo, write=False) as session:
        lines = database_step.check_connection(session)
    assert len(lines) == 2 and all("logged in as 'wizardadmin' through" in x for x in lines)
    assert logs_in(db, "analytics", ANALYTICS_PW)
    assert logs_in(db, "edxapp001", PLANTED_PASSWORD)
    again, _ = run_step(repo, data)
    assert again.statements == []
    with Session.open(repo, write=False) as session:
        assert session.step_status(steps.by_name("database")).state == "done"
    assert_no_secret(repo)


def test_an_unknown_host_key_needs_its_fingerprint_confirmed(
    db: services.MariaDB, sshd_server: services.SSHD, repo: Path, tmp_path: Path
) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    data = db_answers(db, database__tunnel=tunnel_answer(sshd_server, known))
    fingerprint = sshd_server.fingerprint()

    with pytest.raises(WizardError) as refused:
        plan_step(repo, data)
    assert fingerprint in str(refused.value)
    assert "is not in" in str(refused.value)
    assert not known.exists()

    wrong = "SHA256:" + "A" * 43
    with pytest.raises(WizardError):
        plan_step(repo, data, {ssh.HOST_KEY: wrong})
    assert not known.exists()

    with Session.open(repo, command="test") as session:
        session.merge_answers(flatten(data, "answers.yml"), "answers.yml")
        with pytest.raises(ssh.HostKeyUnknown) as asked:
            database_step.check_connection(session)
    assert asked.value.fingerprint == fingerprint  # what the TUI shows before asking

    plan = plan_step(repo, data, {ssh.HOST_KEY: fingerprint})
    assert len(plan.statements) == 13
    assert known.read_text() == sshd_server.known_hosts_line()
    assert (known.stat().st_mode & 0o777) == 0o600
    plan_step(repo, data)  # now known: no confirmation needed


def test_a_changed_host_key_is_refused_loudly(
    db: services.MariaDB, sshd_server: services.SSHD, repo: Path, tmp_path: Path
) -> None:
    impostor = new_key(tmp_path, "impostor")
    kind, key = impostor.with_suffix(".pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[{services.LOOPBACK}]:{sshd_server.port} {kind} {key}\n")
    data = db_answers(db, database__tunnel=tunnel_answer(sshd_server, known))

    with pytest.raises(WizardError) as refused:
        plan_step(repo, data, {ssh.HOST_KEY: sshd_server.fingerprint()})

    message = str(refused.value)
    assert "WARNING: THE SSH HOST KEY" in message and "HAS CHANGED" in message
    assert sshd_server.fingerprint() in message
    assert "nothing was sent" in message
    assert known.read_text().count("\n") == 1  # the old entry is not replaced


def test_a_wrong_ssh_key_is_refused(
    db: services.MariaDB, sshd_server: services.SSHD, repo: Path, tmp_path: Path
) -> None:
    known = known_hosts_with(sshd_server, tmp_path)
    stranger = new_key(tmp_path, "stranger")
    data = db_answers(db, database__tunnel=tunnel_answer(sshd_server, known, stranger))

    with pytest.raises(WizardError, match=r"refused the key .*authorized_keys"):
        plan_step(repo, data)


def test_ssh_key_files_with_open_permissions_or_a_passphrase_are_explained(
    db: services.MariaDB, sshd_server: services.SSHD, repo: Path, tmp_path: Path
) -> None:
    known = known_hosts_with(sshd_server, tmp_path)
    loose = new_key(tmp_path, "loose")
    loose.chmod(0o644)
    data = db_answers(db, database__tunnel=tunnel_answer(sshd_server, known, loose))
    with pytest.raises(WizardError, match=r"readable by others \(mode 644\).*chmod 600"):
        plan_step(repo, data)

    locked = new_key(tmp_path, "locked", passphrase="secret phrase")
    data = db_answers(db, database__tunnel=tunnel_answer(sshd_server, known, locked))
    with pytest.raises(WizardError, match="protected by a passphrase"):
        plan_step(repo, data)


# --- headless ---------------------------------------------------------------------------------


def test_headless_dry_run_shows_masked_sql_and_changes_nothing(
    db: services.MariaDB,
    repo: Path,
    write_answers: Callable[[dict[str, Any]], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers = write_answers(db_answers(db))

    code = headless.run(repo, answers, only=["database"], dry_run=True)

    err = capsys.readouterr().err
    assert code == 0, err
    assert "CREATE USER 'analytics'@'%' IDENTIFIED BY '********';" in err
    assert "GRANT SELECT ON *.* TO 'edxapp_ro'@'%';" in err
    assert "would run 13 SQL statement(s)" in err
    assert "analytics" not in users(db)
    assert not (repo / ".wizard" / "state.yml").exists()
    assert_no_secret(repo, err)


def test_headless_run_only_database_creates_then_reports_already_in_place(
    db: services.MariaDB,
    repo: Path,
    write_answers: Callable[[dict[str, Any]], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers = write_answers(db_answers(db))

    assert headless.run(repo, answers, only=["database"]) == 0
    first = capsys.readouterr().err
    assert "ran 13 SQL statements and verified the grants" in first
    assert logs_in(db, "analytics", ANALYTICS_PW)

    assert headless.run(repo, answers, only=["database"]) == 0
    second = capsys.readouterr().err
    assert "already in place" in second
    assert_no_secret(repo, first, second)


def test_the_files_step_takes_the_database_host_and_port_from_the_database_step(
    db: services.MariaDB, repo: Path
) -> None:
    data = db_answers(db)
    run_step(repo, data)
    with Session.open(repo, command="test") as session:
        del session.answers.values["database.host"]
        del session.answers.values["database.port"]
        assert session.resolved.get("database.host") == services.LOOPBACK
        assert session.resolved.get("database.port") == db.port
