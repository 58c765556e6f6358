"""Real services on 127.0.0.1 only: a throwaway MariaDB and a second sshd.

The tests start them for their session (tests/services.py) and demo mode for a demo repo
(:mod:`wizard.demo.standins`). A missing binary is :class:`ToolMissing`, naming the Debian
package; ``make`` installs them (``SYSTEM_TOOLS`` in the Makefile).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WizardError

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 60  # seconds a service may take to come up on a loaded machine


class ToolMissing(WizardError):
    """A binary a stand-in needs is not installed."""

    def __init__(self, binary: str, package: str) -> None:
        super().__init__(
            f"{binary} is not installed",
            f"install the Debian package {package} (make installs it: apt-get install {package})",
        )


def require(binary: str, package: str) -> str:
    """The path of ``binary``; :class:`ToolMissing` names the package to install."""
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/bin")
    if found:
        return found
    raise ToolMissing(binary, package)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited early:\n{tail(log)}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the service did not listen on {port}:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(process: subprocess.Popen[bytes] | None, *, kill: bool = False) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- MariaDB ------------------------------------------------------------------------------


@dataclass
class MariaDB:
    """A private MariaDB: own datadir, socket and port; root and an admin over TCP on 127.0.0.1."""

    base: Path
    port: int = field(default_factory=free_port)
    admin_user: str = "wizardadmin"
    admin_password: str = "admin-Pw-0451"
    process: subprocess.Popen[bytes] | None = None
    detach: bool = False  # a session of its own: it outlives the command that started it

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "mariadbd.log"

    @property
    def tmpdir(self) -> Path:
        """Its temporary tables: under its base, not in /tmp shared with every other process."""
        return self.base / "tmp"

    def install(self) -> None:
        install_db = require("mariadb-install-db", "mariadb-server")
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        args = [
            install_db,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--tmpdir={self.tmpdir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        if os.geteuid() == 0:
            args.append("--user=root")
        result = subprocess.run(args, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        mariadbd = require("mariadbd", "mariadb-server")
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        args = [
            mariadbd,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--tmpdir={self.tmpdir}",
            # Relative to where it runs (its base): a unix socket's path may not exceed 107
            # bytes, and a demo directory or a test's temporary one can be deeper than that.
            "--socket=mysqld.sock",
            f"--port={self.port}",
            f"--bind-address={LOOPBACK}",
            f"--pid-file={self.base / 'mariadbd.pid'}",
            f"--log-error={self.log}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=16M",
            "--max-connections=60",
        ]
        if os.geteuid() == 0:
            args.append("--user=root")
        self.process = subprocess.Popen(
            args,
            cwd=self.base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.detach,
        )
        wait_for_port(self.port, self.process, self.log)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.root().close()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, *, kill: bool = False) -> None:
        stop(self.process, kill=kill)
        self.process = None

    def root(self) -> Any:
        """A connection as root (no password here: mariadb-install-db's root@127.0.0.1)."""
        import pymysql  # type: ignore[import-untyped]

        return pymysql.connect(
            host=LOOPBACK,
            port=self.port,
            user="root",
            password=b"",
            charset="utf8mb4",
            autocommit=True,
        )

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self.root()
        try:
            with conn.cursor() as cursor:
                cursor.execute(statement, params or None)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def create_admin(self) -> None:
        self.sql(
            "CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s",
            (self.admin_user, self.admin_password),
        )
        self.sql("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (self.admin_user,))

    def reset(self, keep: tuple[str, ...] = ()) -> None:
        """Drop what the tests created (the wizard itself never drops anything)."""
        for (name,) in self.sql("SHOW DATABASES"):
            if name not in ("mysql", "information_schema", "performance_schema", "sys"):
                self.sql(f"DROP DATABASE `{name}`")
        system = {"root", "mariadb.sys", "mysql", self.admin_user, *keep}
        for user, host in self.sql("SELECT User, Host FROM mysql.user"):
            if user not in system:
                self.sql("DROP USER %s@%s", (user, host))


def mariadb_service(base: Path) -> Iterator[MariaDB]:
    server = MariaDB(base)
    server.install()
    server.start()
    try:
        server.create_admin()
        yield server
    finally:
        server.stop()


# --- sshd ---------------------------------------------------------------------------------


@dataclass
class SSHD:
    """A second sshd on 127.0.0.1 with its own host key, config and authorized key."""

    base: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    detach: bool = False  # a session of its own: it outlives the command that started it

    @property
    def host_key(self) -> Path:
        return self.base / "ssh_host_ed25519_key"

    @property
    def client_key(self) -> Path:
        return self.base / "client_ed25519"

    @property
    def log(self) -> Path:
        return self.base / "sshd.log"

    @property
    def user(self) -> str:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name

    def fingerprint(self) -> str:
        keygen = require("ssh-keygen", "openssh-client")
        out = subprocess.run(
            [keygen, "-l", "-E", "sha256", "-f", f"{self.host_key}.pub"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.split()[1]

    def known_hosts_line(self) -> str:
        kind, key = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[{LOOPBACK}]:{self.port} {kind} {key}\n"

    def authorize(self, key: Path) -> None:
        """Also let ``key`` (a private key beside its .pub) log in."""
        authorized = self.base / "authorized_keys"
        with authorized.open("a", encoding="utf-8") as handle:
            handle.write(key.with_suffix(".pub").read_text())

    def setup(self, *, extra_keys: tuple[Path, ...] = ()) -> None:
        """Host and client keys (and ``extra_keys``, all without passphrase), the config."""
        keygen = require("ssh-keygen", "openssh-client")
        self.base.mkdir(parents=True, exist_ok=True)
        for key in (self.host_key, self.client_key, *extra_keys):
            subprocess.run(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "wizard-test", "-f", str(key)],
                check=True,
            )
        authorized = self.base / "authorized_keys"
        authorized.write_text(
            "".join(k.with_suffix(".pub").read_text() for k in (self.client_key, *extra_keys))
        )
        os.chmod(authorized, 0o600)
        self.configure()

    def configure(self) -> None:
        """Write the config (listening on ``port``); the keys of :meth:`setup` stay as they are."""
        authorized = self.base / "authorized_keys"
        (self.base / "sshd_config").write_text(
            "\n".join(
                [
                    f"ListenAddress {LOOPBACK}",
                    f"Port {self.port}",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.base / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    "UsePAM no",
                    "StrictModes no",
                    "AllowTcpForwarding yes",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitTTY yes",
                    # ansible copies files over sftp, as to a real host
                    "Subsystem sftp internal-sftp",
                    # bash skips ~/.bashrc at SHLVL 2: a slow one (e.g. pyenv init) would
                    # otherwise run for every command ansible sends
                    "SetEnv SHLVL=1",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )

    def start(self) -> None:
        sshd = require("sshd", "openssh-server")
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # its privilege-separation dir
        self.process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(self.base / "sshd_config"), "-E", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.detach,
        )
        wait_for_port(self.port, self.process, self.log)

    def stop(self) -> None:
        stop(self.process)
        self.process = None


def sshd_service(base: Path) -> Iterator[SSHD]:
    server = SSHD(base)
    server.setup()
    server.start()
    try:
        yield server
    finally:
        server.stop()
