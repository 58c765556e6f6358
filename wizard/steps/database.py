"""The ``database`` step: the analytics databases, their users and grants, and edxapp_ro.

On the analytics server (the RDS terraform made, or one the operator names): the databases
``dashboard``, ``analytics-api`` and ``reports`` (utf8), the ``analytics`` user and the edxapp
migration user with ALL on the three. On the edxapp DB server: the read-only user with
``SELECT ON *.*``. The plan looks first and proposes only what is missing, so a re-run changes
nothing; a user whose password no longer works gets ``ALTER USER``. Nothing is ever dropped.
Both servers can be reached through one SSH tunnel (``database.tunnel``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import mysql, ssh
from ..context import RunContext
from ..errors import WizardError
from ..mysql import Server
from .base import Action, Plan, Statement, Step, StepError, count

if TYPE_CHECKING:
    from ..engine import Session

NAME = "database"
DATABASES = ("dashboard", "analytics-api", "reports")
USER_HOST = "%"  # the runbook's 'user'@'%': the analytics instances and EMR connect from anywhere
ANALYTICS, EDXAPP = "analytics", "edxapp"
TEST_CONNECTION = Action("test_connection", "Test connection", "f5")

INPUTS: tuple[str, ...] = (
    "database.host",
    "database.port",
    "database.admin_user",
    "database.admin_password",
    "database.analytics_user",
    "database.analytics_password",
    "database.readonly_user",
    "database.readonly_password",
    "database.tunnel",
    "edxapp.db_host",
    "edxapp.db_port",
    "edxapp.admin_user",
    "edxapp.admin_password",
    "edxapp.migrate_user",
    "edxapp.migrate_password",
)


@dataclass(frozen=True)
class Account:
    """A user the step owns on one server, and the grants it must have."""

    server: str  # ANALYTICS | EDXAPP
    user: str
    password: str
    role: str  # in the operator's words, for messages
    grants: tuple[tuple[str, str], ...]  # (target such as `dashboard`.*, privilege)


@dataclass(frozen=True)
class Target:
    """One server as this run reaches it (directly or through the tunnel)."""

    server: Server
    admin: str
    admin_password: str
    via: tuple[str, int] | None


def accounts(v: Mapping[str, Any]) -> list[Account]:
    every_db = tuple((f"{mysql.identifier(db)}.*", "ALL PRIVILEGES") for db in DATABASES)
    owned = [
        Account(
            ANALYTICS,
            v["database.analytics_user"],
            v["database.analytics_password"],
            "the analytics user",
            every_db,
        )
    ]
    if v["edxapp.migrate_user"] == v["database.analytics_user"]:
        if v["edxapp.migrate_password"] != v["database.analytics_password"]:
            raise StepError(
                "edxapp.migrate_user and database.analytics_user are the same user with two "
                "different passwords; give them different names or the same password"
            )
    else:
        owned.append(
            Account(
                ANALYTICS,
                v["edxapp.migrate_user"],
                v["edxapp.migrate_password"],
                "the migration user",
                every_db,
            )
        )
    owned.append(
        Account(
            EDXAPP,
            v["database.readonly_user"],
            v["database.readonly_password"],
            "the edxapp read-only user",
            (("*.*", "SELECT"),),
        )
    )
    return owned


def values(session: Session) -> dict[str, Any]:
    try:
        return session.resolved.require(INPUTS)
    except ValueError as exc:
        raise StepError(str(exc)) from None


def servers(v: Mapping[str, Any]) -> dict[str, tuple[Server, str, str]]:
    """Each server with its admin user and password."""
    analytics = Server(
        v["database.host"],
        int(v["database.port"]),
        f"the analytics DB server {v['database.host']}:{v['database.port']}",
    )
    edxapp = Server(
        v["edxapp.db_host"],
        int(v["edxapp.db_port"]),
        f"the edxapp DB server {v['edxapp.db_host']}:{v['edxapp.db_port']}",
    )
    return {
        ANALYTICS: (analytics, v["database.admin_user"], v["database.admin_password"]),
        EDXAPP: (edxapp, v["edxapp.admin_user"], v["edxapp.admin_password"]),
    }


@contextmanager
def reach(
    session: Session, v: Mapping[str, Any], decisions: Mapping[str, str] | None = None
) -> Iterator[dict[str, Target]]:
    """Both servers, through the SSH tunnel when ``database.tunnel`` is set."""
    found = servers(v)
    if not v.get("database.tunnel"):
        yield {
            name: Target(server, admin, password, None)
            for name, (server, admin, password) in found.items()
        }
        return
    jump = ssh.JumpHost.from_answer(v["database.tunnel"])
    accepted = ssh.accepted_host_keys(decisions)
    # ssh.HostKeyUnknown (a StepError) carries the fingerprint for the TUI to ask about.
    with session.backends.tunnel(jump, accept=accepted, record=session.write) as tunnel:
        targets = {}
        for name, (server, admin, password) in found.items():
            targets[name] = Target(
                server, admin, password, tunnel.forward(server.host, server.port)
            )
        yield targets


def check_connection(session: Session, decisions: Mapping[str, str] | None = None) -> list[str]:
    """Log in to both servers as their admin users; one line per server (the TUI's "Test").

    Raises the same errors as :func:`plan` (``ssh.HostKeyUnknown`` when a fingerprint needs
    confirming). Changes nothing, except recording a confirmed host key.
    """
    v = values(session)
    lines = []
    with reach(session, v, decisions) as targets:
        for target in targets.values():
            with mysql.session(
                target.server, target.admin, target.admin_password, via=target.via
            ) as conn:
                rows = mysql.query(
                    conn, target.server, target.admin, target.admin_password, "SELECT VERSION()"
                )
            how = f" through {v['database.tunnel']['host']}" if target.via else ""
            lines.append(
                f"{target.server.label}: logged in as {target.admin!r}{how} (server {rows[0][0]})"
            )
    return lines


# --- planning -------------------------------------------------------------------------------


def _database_statements(target: Target, notes: list[str]) -> list[Statement]:
    server = target.server
    with mysql.session(server, target.admin, target.admin_password, via=target.via) as conn:
        placeholders = ", ".join(["%s"] * len(DATABASES))
        rows = mysql.query(
            conn,
            server,
            target.admin,
            target.admin_password,
            "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA "
            f"WHERE SCHEMA_NAME IN ({placeholders})",
            DATABASES,
        )
    existing = {str(name): str(charset) for name, charset in rows}
    statements = []
    for db in DATABASES:
        if db in existing:
            if not existing[db].lower().startswith("utf8"):
                notes.append(
                    f"database {db} exists with character set {existing[db]} (the runbook uses "
                    "utf8); it is left as it is"
                )
            continue
        sql = f"CREATE DATABASE IF NOT EXISTS {mysql.identifier(db)} DEFAULT CHARACTER SET utf8"
        statements.append(Statement(server.label, sql + ";", sql))
    return statements


def _statement(
    target: Target, sql: str, params: tuple[Any, ...], secret: tuple[int, ...] = ()
) -> Statement:
    return Statement(target.server.label, mysql.shown(sql, params, secret), sql, params)


def _account_statements(target: Target, account: Account) -> list[Statement]:
    server = target.server
    with mysql.session(server, target.admin, target.admin_password, via=target.via) as conn:
        lines = mysql.grants(
            conn, server, target.admin, target.admin_password, account.user, USER_HOST
        )
    statements = []
    who = (account.user, USER_HOST)
    if lines is None:
        statements.append(
            _statement(target, "CREATE USER %s@%s IDENTIFIED BY %s", (*who, account.password), (2,))
        )
    elif not mysql.can_log_in(server, account.user, account.password, via=target.via):
        statements.append(
            _statement(target, "ALTER USER %s@%s IDENTIFIED BY %s", (*who, account.password), (2,))
        )
    for on, privilege in account.grants:
        if lines is None or not mysql.has_privilege(lines, on, privilege):
            statements.append(_statement(target, f"GRANT {privilege} ON {on} TO %s@%s", who))
    return statements


def outputs(v: Mapping[str, Any], owned: list[Account]) -> dict[str, Any]:
    """What later steps need: where the databases are and who uses them (no passwords)."""
    return {
        "host": v["database.host"],
        "port": int(v["database.port"]),
        "databases": list(DATABASES),
        "users": [a.user for a in owned if a.server == ANALYTICS],
        "edxapp_host": v["edxapp.db_host"],
        "edxapp_port": int(v["edxapp.db_port"]),
        "readonly_user": v["database.readonly_user"],
    }


# --- applying and verifying -----------------------------------------------------------------


def _check_admins(plan: Plan, by_target: Mapping[str, Target]) -> None:
    """Refuse before any change when an admin user plainly cannot create users and grant."""
    for label in dict.fromkeys(s.target for s in plan.statements):
        target = by_target[label]
        needed = ["CREATE USER"]
        if any(s.sql.startswith("CREATE DATABASE") for s in plan.statements if s.target == label):
            needed.append("CREATE")
        with mysql.session(
            target.server, target.admin, target.admin_password, via=target.via
        ) as conn:
            missing = mysql.missing_admin_rights(
                conn, target.server, target.admin, target.admin_password, needed
            )
        if missing:
            raise StepError(
                f"the admin user {target.admin!r} on {label} lacks {' and '.join(missing)}, which "
                f"creating the users and grants needs; nothing was changed. Use a user that has "
                "them (e.g. the RDS root user) or grant them: GRANT CREATE USER ON *.* TO "
                f"'{target.admin}'@'…' WITH GRANT OPTION"
            )


def _stopped(
    exc: WizardError, statement: Statement, index: int, plan: Plan, done: list[Statement]
) -> str:
    total = len(plan.statements)
    if done:
        made = "; ".join(s.shown.rstrip(";") for s in done)
        already = f"already done (kept, not repeated on a re-run): {made}"
    else:
        already = "nothing was changed"
    return (
        f"{exc} — stopped at statement {index} of {total} ({statement.shown.rstrip(';')}); "
        f"{already}. Run the step again once fixed to finish the remaining {total - index + 1}"
    )


def verify(targets: Mapping[str, Target], owned: list[Account]) -> list[str]:
    """Problems found logging in as each user and reading its ``SHOW GRANTS``."""
    problems = []
    for account in owned:
        target = targets[account.server]
        try:
            with mysql.session(
                target.server, account.user, account.password, via=target.via
            ) as conn:
                lines = mysql.own_grants(conn, target.server, account.user, account.password)
        except mysql.DatabaseError as exc:
            if exc.access_denied:
                problems.append(
                    f"{account.role} {account.user!r} cannot log in to {target.server.label}"
                )
                continue
            raise
        lacking = [
            f"{privilege} ON {on}"
            for on, privilege in account.grants
            if not mysql.has_privilege(lines, on, privilege)
        ]
        if lacking:
            problems.append(
                f"{account.role} {account.user!r} lacks {', '.join(lacking)} on "
                f"{target.server.label}"
            )
    return problems


# --- the step -------------------------------------------------------------------------------


class DatabaseStep(Step):
    name = NAME
    inputs = INPUTS
    preview_label = "Preview SQL"
    actions = (TEST_CONNECTION,)

    def plan(
        self, session: Session, decisions: Mapping[str, str], force: bool, ctx: RunContext
    ) -> Plan:
        """Look at both servers and propose only the statements that are missing."""
        session.ensure_generated(INPUTS)
        v = values(session)
        owned = accounts(v)
        result = Plan(step=NAME, inputs=dict(v), decisions=dict(decisions))
        with reach(session, v, decisions) as targets:
            analytics = targets[ANALYTICS]
            result.statements += _database_statements(analytics, result.notes)
            for account in owned:
                result.statements += _account_statements(targets[account.server], account)
        if not result.statements:
            result.notes.append("the analytics databases, users and grants are already in place")
        result.outputs = outputs(v, owned)
        return result

    def apply(self, session: Session, plan: Plan, ctx: RunContext) -> dict[str, Any]:
        """Run the planned statements, then log in as each user and check its grants."""
        v = values(session)
        owned = accounts(v)
        with reach(session, v, plan.decisions) as targets:
            by_target = {t.server.label: t for t in targets.values()}
            _check_admins(plan, by_target)
            done: list[Statement] = []
            for index, statement in enumerate(plan.statements, start=1):
                target = by_target[statement.target]
                line = f"[{index}/{len(plan.statements)}] {statement.target}: {statement.shown}"
                ctx.progress(line)  # the session logs it too
                try:
                    with mysql.session(
                        target.server, target.admin, target.admin_password, via=target.via
                    ) as conn:
                        mysql.query(
                            conn,
                            target.server,
                            target.admin,
                            target.admin_password,
                            statement.sql,
                            statement.params,
                        )
                except WizardError as exc:
                    raise StepError(_stopped(exc, statement, index, plan, done)) from None
                done.append(statement)
            if not plan.statements:
                ctx.progress("already in place: nothing to change")
            problems = verify(targets, owned)
        if problems:
            raise StepError(
                "the statements ran but the check failed: " + "; ".join(problems) + ". Fix the "
                "users by hand (or remove them) and run again"
            )
        ctx.progress("verified: each user logs in and has its grants")
        return outputs(v, owned)

    def probe(self, session: Session) -> str | None:
        """Local: the ledger's record stands while the answers it ran on are unchanged (the
        engine compares them); logging in is :meth:`verify_outside`'s (``status --verify``)."""
        return None

    def verify_outside(self, session: Session) -> str | None:
        """Every user still logs in and has its grants (this logs in to the servers)."""
        v = values(session)
        owned = accounts(v)
        try:
            with reach(session, v) as targets:
                problems = verify(targets, owned)
        except WizardError as exc:
            return str(exc)
        return "; ".join(problems) or None

    def run_action(self, name: str, session: Session, decisions: Mapping[str, str]) -> list[str]:
        if name != TEST_CONNECTION.name:
            return super().run_action(name, session, decisions)
        return check_connection(session, decisions)

    def outcome(self, plan: Plan, outputs: Mapping[str, Any]) -> str:
        if not plan.statements:
            return "already in place; the grants are verified"
        return f"ran {count(len(plan.statements), 'SQL statement')} and verified the grants"


STEP = DatabaseStep()
