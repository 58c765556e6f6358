"""Talking to MySQL/MariaDB: connecting, quoting, and errors an operator can act on.

PyMySQL is imported when first used. Passwords go to the driver as UTF-8 bytes (PyMySQL would
encode a str password as latin-1: a non-latin-1 password fails, and the error text would quote
it). Identifiers are validated and backtick-quoted; user names, hosts and passwords are always
query parameters. No message built here ever contains a password.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .errors import WizardError

Connection = Any  # pymysql.connections.Connection (PyMySQL ships no type information)

CONNECT_TIMEOUT = 10
QUERY_TIMEOUT = 60
IDENTIFIER = re.compile(r"[A-Za-z0-9_-]{1,64}")

# MySQL/MariaDB error numbers the wizard explains.
ACCESS_DENIED = 1045
DB_ACCESS_DENIED = 1044
UNKNOWN_DATABASE = 1049
NO_SUCH_GRANT = 1141
COMMAND_DENIED = 1142
SPECIFIC_ACCESS_DENIED = 1227
CANNOT_USER = 1396
NO_PERMISSION_TO_CREATE_USER = 1410
CANT_CONNECT = 2003
UNKNOWN_HOST = 2005
SERVER_GONE = 2006
LOST_CONNECTION = 2013
PRIVILEGE_ERRORS = frozenset(
    {DB_ACCESS_DENIED, COMMAND_DENIED, SPECIFIC_ACCESS_DENIED, NO_PERMISSION_TO_CREATE_USER}
)
CONNECTION_LOST = frozenset({SERVER_GONE, LOST_CONNECTION})


class DatabaseError(WizardError):
    """A database operation failed; the message is one sentence plus the fix.

    ``code`` is the MySQL error number when the server gave one.
    """

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code

    @property
    def access_denied(self) -> bool:
        return self.code == ACCESS_DENIED

    @property
    def lost_connection(self) -> bool:
        return self.code in CONNECTION_LOST or self.code == CANT_CONNECT


@dataclass(frozen=True)
class Server:
    """Where a MySQL server answers, and how the operator knows it (for messages)."""

    host: str
    port: int
    name: str = ""  # e.g. "the analytics DB acme.rds.amazonaws.com:3306"

    @property
    def label(self) -> str:
        return self.name or f"the MySQL server {self.host}:{self.port}"


# --- identifiers and display --------------------------------------------------------------


def identifier(name: str) -> str:
    """``name`` backtick-quoted, after checking it only holds ``[A-Za-z0-9_-]``."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise DatabaseError(
            f"{name!r} cannot be used as a database name: only letters, digits, '_' and '-' "
            "(1-64 characters) are allowed"
        )
    return f"`{name}`"


def shown(sql: str, params: Sequence[Any], secret: Sequence[int] = ()) -> str:
    """``sql`` with its ``%s`` parameters written in, those at ``secret`` indexes masked."""
    from .redact import MASK

    values = []
    for index, value in enumerate(params):
        text = MASK if index in secret else str(value)
        values.append("'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'")
    parts = sql.split("%s")
    if len(parts) != len(values) + 1:
        raise ValueError("parameter count does not match the placeholders")
    out = parts[0]
    for value, rest in zip(values, parts[1:], strict=True):
        out += value + rest
    return out + ";"


# --- connecting and running ---------------------------------------------------------------


def connect(
    server: Server,
    user: str,
    password: str,
    *,
    database: str | None = None,
    timeout: int = CONNECT_TIMEOUT,
    via: tuple[str, int] | None = None,
) -> Connection:
    """A connection as ``user`` (autocommit, utf8mb4). ``via`` is a local tunnel end.

    Raises :class:`DatabaseError` with a message that names the server and the fix.
    """
    host, port = via or (server.host, server.port)
    try:
        conn: Connection = _connection_class()(
            host=host,
            port=port,
            user=user,
            password=password.encode("utf-8"),
            database=database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=timeout,
            read_timeout=QUERY_TIMEOUT,
            write_timeout=QUERY_TIMEOUT,
        )
    except Exception as exc:
        raise explain(exc, server, user, password, database=database) from None
    return conn


_connection_type: Any = None
_preferred_tls: Any = None
_tls_lock = threading.Lock()


def _connection_class() -> Any:
    """PyMySQL's connection, sharing its TLS context of the default "preferred" mode."""
    global _connection_type
    if _connection_type is not None:
        return _connection_type
    import pymysql  # type: ignore[import-untyped]

    class SharedTLSConnection(pymysql.connections.Connection):  # type: ignore[misc]
        # With no TLS options PyMySQL builds a fresh default context for every connection
        # (encrypt if the server offers it, no verification); loading the system CA store for
        # it costs ~60 ms of CPU each time. The context is the same every time, so one serves.
        def _create_ssl_ctx(self, sslp: Any) -> Any:
            global _preferred_tls
            if sslp != {}:
                return super()._create_ssl_ctx(sslp)
            with _tls_lock:
                if _preferred_tls is None:
                    _preferred_tls = super()._create_ssl_ctx({})
                return _preferred_tls

    _connection_type = SharedTLSConnection
    return _connection_type


@contextmanager
def session(
    server: Server,
    user: str,
    password: str,
    *,
    timeout: int = CONNECT_TIMEOUT,
    via: tuple[str, int] | None = None,
) -> Iterator[Connection]:
    """A connection closed on exit (see :func:`connect`)."""
    conn = connect(server, user, password, timeout=timeout, via=via)
    try:
        yield conn
    finally:
        try:
            conn.close()
        except Exception:
            pass  # the server may already be gone; nothing left to release


def query(
    conn: Connection,
    server: Server,
    user: str,
    password: str,
    sql: str,
    params: Sequence[Any] = (),
) -> list[tuple[Any, ...]]:
    """Run one statement; its rows. ``password`` is only used to keep it out of messages."""
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, tuple(params))
            return list(cursor.fetchall())
    except Exception as exc:
        raise explain(exc, server, user, password) from None


def can_log_in(server: Server, user: str, password: str, *, via: tuple[str, int] | None) -> bool:
    """True when ``user`` logs in with ``password``; False when the server says access denied."""
    try:
        with session(server, user, password, via=via):
            return True
    except DatabaseError as exc:
        if exc.access_denied:
            return False
        raise


def grants(
    conn: Connection, server: Server, admin: str, admin_password: str, user: str, host: str
) -> list[str] | None:
    """The ``SHOW GRANTS`` lines of ``user@host`` (password hashes cut off); None: no such user."""
    try:
        rows = query(conn, server, admin, admin_password, "SHOW GRANTS FOR %s@%s", (user, host))
    except DatabaseError as exc:
        if exc.code == NO_SUCH_GRANT:
            return None
        raise
    return [_without_hash(str(row[0])) for row in rows]


def own_grants(conn: Connection, server: Server, user: str, password: str) -> list[str]:
    """``SHOW GRANTS`` of the logged-in user (password hashes cut off)."""
    rows = query(conn, server, user, password, "SHOW GRANTS")
    return [_without_hash(str(row[0])) for row in rows]


def _without_hash(line: str) -> str:
    return re.sub(r"\s+IDENTIFIED BY PASSWORD\s+'[^']*'", "", line)


_GRANT = re.compile(r"GRANT (?P<privs>.+?) ON (?P<target>\S+) TO ", re.IGNORECASE)


def parse_grants(lines: Sequence[str]) -> dict[str, set[str]]:
    """``{"`db`.*" or "*.*": {"ALL PRIVILEGES", "SELECT", …}}`` from ``SHOW GRANTS`` lines."""
    found: dict[str, set[str]] = {}
    for line in lines:
        match = _GRANT.match(line)
        if not match:
            continue  # GRANT role TO user, PROXY grants
        target = match["target"].replace("'", "`").replace('"', "`")
        privs = {p.strip().upper() for p in match["privs"].split(",")}
        if "ALL" in privs:
            privs = (privs - {"ALL"}) | {"ALL PRIVILEGES"}
        found.setdefault(target, set()).update(privs)
    return found


def has_privilege(lines: Sequence[str], target: str, privilege: str) -> bool:
    """Whether the grants give ``privilege`` on ``target`` (``*.*`` grants count everywhere)."""
    parsed = parse_grants(lines)
    for where in {target, "*.*"}:
        privs = parsed.get(where, set())
        if privilege in privs or "ALL PRIVILEGES" in privs:
            return True
    return False


def missing_admin_rights(
    conn: Connection, server: Server, user: str, password: str, needed: Sequence[str]
) -> list[str] | None:
    """Global privileges among ``needed`` (and GRANT OPTION) the logged-in user lacks.

    None when the server does not say (e.g. privileges come through a role): then the
    statements themselves find out.
    """
    rows = query(
        conn,
        server,
        user,
        password,
        "SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES "
        "WHERE GRANTEE = CONCAT(\"'\", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), \"'@'\", "
        "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), \"'\")",
    )
    try:
        role = query(conn, server, user, password, "SELECT CURRENT_ROLE()")
    except DatabaseError:
        role = []
    if role and role[0][0] not in (None, "NONE"):
        return None
    privileges = {str(p).upper() for p, _ in rows}
    grantable = any(str(g).upper() == "YES" for _, g in rows)
    missing = [p for p in needed if p not in privileges]
    if not grantable:
        missing.append("GRANT OPTION")
    return missing


# --- errors -------------------------------------------------------------------------------


def explain(
    exc: BaseException,
    server: Server,
    user: str,
    password: str,
    *,
    database: str | None = None,
) -> DatabaseError:
    """One sentence plus the fix for a driver error; the password never appears in it."""
    code: int | None = None
    detail = ""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        code = args[0]
        detail = str(args[1]) if len(args) > 1 else ""
    elif not isinstance(exc, UnicodeError):
        detail = str(exc)
    where = server.label
    if code in (CANT_CONNECT, UNKNOWN_HOST):
        if "timed out" in detail.lower():
            message = (
                f"{where} did not answer in time (connection timed out); check that the host "
                "name is right and that a security group or firewall lets this machine reach "
                "the port (or set database.tunnel to go through a host that can)"
            )
        elif "name or service not known" in detail.lower() or code == UNKNOWN_HOST:
            message = (
                f"the host name of {where} does not resolve; check the host name (without a "
                "port or scheme)"
            )
        else:
            message = (
                f"cannot reach {where} (nothing accepts connections there); check the host and "
                "port, that the server is running, and that a security group lets this machine in"
            )
    elif code in CONNECTION_LOST:
        message = (
            f"lost the connection to {where} (the server went away or the network dropped); "
            "check that it is running and run again — what was already done is kept"
        )
    elif code == ACCESS_DENIED:
        message = (
            f"{where} refused the login of {user!r} (access denied); check the user name and "
            "password in the answers"
        )
    elif code == UNKNOWN_DATABASE:
        message = f"{where} has no database {database!r}; check the name or create it first"
    elif code in PRIVILEGE_ERRORS:
        message = (
            f"{user!r} lacks a privilege on {where} ({_scrub(detail, password)}); connect as a "
            "user with CREATE USER and GRANT OPTION (e.g. the RDS root user), or grant them"
        )
    elif isinstance(exc, TimeoutError) or "timed out" in detail.lower():
        message = f"{where} did not answer in time; check that it is running and reachable"
    else:
        kind = type(exc).__name__
        text = _scrub(detail, password) if detail else kind
        message = f"{where} reported an error: {text}"
    return DatabaseError(message, code)


def _scrub(text: str, password: str) -> str:
    """Driver text with the password (in any form the driver may quote it) removed."""
    from .redact import Redactor

    return Redactor([password] if password else [])(text)
