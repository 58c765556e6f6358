"""SSH tunnels through a jump host (the director or an analytics instance), host keys verified.

paramiko is imported when first used. The server's host key is checked against a known_hosts
file before anything is sent: a known key must match (a changed key is refused, loudly); an
unknown key is accepted only when the operator confirmed its SHA256 fingerprint, and is then
recorded in known_hosts. There is no "add automatically" policy anywhere.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import logging
import os
import select
import socket
import stat
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import NeedsDecision, WizardError

CONNECT_TIMEOUT = 10
# Decisions (see wizard.errors.NeedsDecision) naming a host key the operator accepted:
# ``ssh-host-key:<host>:<port>`` (or plain ``ssh-host-key``) = its SHA256 fingerprint;
# headless ``run --trust-host-key`` gives ``ssh-host-key:trusted:<n>`` (any host presenting it).
HOST_KEY = "ssh-host-key"
TRUST_OPTION = "--trust-host-key"

# paramiko logs refused channels and dropped connections itself; without a handler Python would
# print those raw lines on stderr. The wizard reports them as its own sentences instead.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


def accepted_host_keys(decisions: Mapping[str, str] | None) -> list[str]:
    """The fingerprints the operator accepted in ``decisions``."""
    return [
        value
        for key, value in (decisions or {}).items()
        if key == HOST_KEY or key.startswith(HOST_KEY + ":")
    ]


def trusted_host_keys(fingerprints: Iterable[str]) -> dict[str, str]:
    """The decisions that accept an unknown host key presenting one of ``fingerprints``."""
    return {f"{HOST_KEY}:trusted:{n}": fp for n, fp in enumerate(dict.fromkeys(fingerprints))}


# Whoever wants to hear of each unknown host key presented, accepted or not (headless mode, to
# say which --trust-host-key matched nothing); called from the thread that checked the key.
_listeners: list[Callable[[HostKeyUnknown], None]] = []


@contextmanager
def unknown_keys_presented() -> Iterator[list[HostKeyUnknown]]:
    """Collect every unknown host key presented while the block runs."""
    seen: list[HostKeyUnknown] = []
    listener = seen.append
    _listeners.append(listener)
    try:
        yield seen
    finally:
        _listeners.remove(listener)


def note_presented(unknown: HostKeyUnknown) -> None:
    """Tell the listeners that a host presented a key known_hosts does not hold."""
    for listener in tuple(_listeners):
        listener(unknown)


class SSHError(WizardError):
    """The tunnel could not be opened; the message is one sentence plus the fix."""


class HostKeyUnknown(SSHError, NeedsDecision):
    """The host is not in known_hosts; the operator must confirm ``fingerprint``."""

    def __init__(self, host: str, port: int, key_type: str, fingerprint: str, known_hosts: Path):
        self.host, self.port = host, port
        self.key_type, self.fingerprint = key_type, fingerprint
        self.known_hosts = known_hosts
        NeedsDecision.__init__(
            self,
            f"the SSH host {host_label(host, port)} is not in {known_hosts}; it presents the "
            f"{key_type} key {fingerprint}",
            "check that fingerprint with the host's owner (on the host: ssh-keygen -lf "
            f"/etc/ssh/ssh_host_*_key.pub) and accept it to continue (headless: run again with "
            f"{TRUST_OPTION} "
            f"{fingerprint}, or add it to known_hosts, e.g. ssh-keyscan -p {port} {host} >> "
            f"{known_hosts})",
            key=f"{HOST_KEY}:{host}:{port}",
            value=fingerprint,
            question=f"Trust the {key_type} key {fingerprint} of {host_label(host, port)} and "
            f"record it in {known_hosts}?",
            yes="Trust",
        )


class LocalPortBusy(SSHError):
    """The chosen local port is taken; ``suggestion`` is the next free one (None if none near)."""

    def __init__(self, port: int, suggestion: int | None):
        self.port, self.suggestion = port, suggestion
        offer = f"; the next free one is {suggestion}" if suggestion else ""
        super().__init__(
            f"the local port {port} is already in use on this machine (another tunnel or "
            f"program listens there){offer}: use that port, or stop what holds {port}"
        )


def next_free_port(start: int, tries: int = 100) -> int | None:
    """The first port from ``start`` on that 127.0.0.1 can listen on."""
    for candidate in range(start, min(start + tries, 65536)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    return None


class HostKeyChanged(SSHError):
    """The jump host presents a different key from the one in known_hosts."""

    def __init__(self, host: str, port: int, expected: str, presented: str, known_hosts: Path):
        self.host, self.port = host, port
        self.expected, self.presented = expected, presented
        super().__init__(
            f"WARNING: THE SSH HOST KEY OF {host_label(host, port)} HAS CHANGED. known_hosts "
            f"({known_hosts}) has {expected}, the host now presents {presented}. Someone may be "
            "intercepting the connection; nothing was sent. If the host was rebuilt and the new "
            f"fingerprint is right, remove the old entry (ssh-keygen -R "
            f"'{known_hosts_name(host, port)}' -f {known_hosts}) and run again"
        )


def host_label(host: str, port: int) -> str:
    return host if port == 22 else f"{host}:{port}"


def known_hosts_name(host: str, port: int) -> str:
    """How OpenSSH names the host in known_hosts."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: Any) -> str:
    """OpenSSH's ``SHA256:…`` fingerprint of a paramiko key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class JumpHost:
    """An SSH host that reaches a target: the ``database.tunnel`` answer, or the director."""

    host: str
    port: int
    user: str
    key_file: str
    known_hosts: str
    answer: str = "database.tunnel"  # where the operator sets it, named in error messages
    key_answer: str = ""  # the answer holding the key file, when not ``<answer>.key_file``

    @classmethod
    def from_answer(cls, value: dict[str, Any]) -> JumpHost:
        return cls(
            host=str(value["host"]),
            port=int(value.get("port", 22)),
            user=str(value.get("user", "ubuntu")),
            key_file=str(value.get("key_file", "~/.ssh/id_rsa")),
            known_hosts=str(value.get("known_hosts", "~/.ssh/known_hosts")),
        )

    @property
    def key_path(self) -> Path:
        return Path(self.key_file).expanduser()

    @property
    def known_hosts_path(self) -> Path:
        return Path(self.known_hosts).expanduser()

    @property
    def label(self) -> str:
        return f"{self.user}@{host_label(self.host, self.port)}"


# --- keys -------------------------------------------------------------------------------


def load_private_key(path: Path, answer: str = "database.tunnel.key_file") -> Any:
    """The private key at ``path``; refuses group/world-readable files and passphrases."""
    import paramiko  # type: ignore[import-untyped]

    if not path.is_file():
        raise SSHError(f"the SSH key file {path} does not exist; check {answer}")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SSHError(
            f"the SSH key file {path} is readable by others (mode {mode:o}); ssh refuses such "
            f"keys — run: chmod 600 {path}"
        )
    try:
        return paramiko.PKey.from_path(path)
    except (paramiko.PasswordRequiredException, TypeError):
        # paramiko 4+ raises TypeError("Key is password-protected, …") from from_path.
        raise SSHError(
            f"the SSH key file {path} is protected by a passphrase, which the wizard does not "
            "ask for; use a key without a passphrase for the tunnel (or a copy: ssh-keygen -p)"
        ) from None
    except (paramiko.SSHException, ValueError, OSError) as exc:
        raise SSHError(
            f"the file {path} is not a private key the wizard can read ({exc}); point "
            f"{answer} at an OpenSSH private key (ed25519, ecdsa or RSA)"
        ) from None


def known_keys(path: Path, host: str, port: int) -> dict[str, Any]:
    """``{key_type: key}`` known for the host (hashed entries included)."""
    import paramiko

    if not path.is_file():
        return {}
    keys = paramiko.HostKeys()
    try:
        keys.load(str(path))
    except (OSError, paramiko.SSHException) as exc:
        raise SSHError(f"cannot read {path} ({exc}); fix or move the file") from None
    found = keys.lookup(known_hosts_name(host, port))
    return dict(found) if found else {}


def record_host_key(path: Path, host: str, port: int, key: Any) -> None:
    """Append the host's key to known_hosts (created 0600, its directory 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = f"{known_hosts_name(host, port)} {key.get_name()} {key.get_base64()}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as handle:
        if handle.tell() > 0 and not path.read_bytes().endswith(b"\n"):
            handle.write("\n")
        handle.write(line)


# --- the tunnel -------------------------------------------------------------------------


@dataclass
class Tunnel:
    """An authenticated SSH connection with local forwards (127.0.0.1 only)."""

    jump: JumpHost
    transport: Any
    _listeners: list[socket.socket] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _closed: threading.Event = field(default_factory=threading.Event)

    def forward(self, host: str, port: int, local_port: int = 0) -> tuple[str, int]:
        """Listen on 127.0.0.1:``local_port`` (0: any free one) and carry each connection to
        ``host:port``.

        The target is tried once first, so an unreachable one fails here with a clear message;
        a taken local port raises :class:`LocalPortBusy` naming the next free one.
        """
        self._check_target(host, port)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", local_port))
        except OSError as exc:
            listener.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise LocalPortBusy(local_port, next_free_port(local_port + 1)) from None
            raise
        listener.listen(8)
        listener.settimeout(0.5)
        self._listeners.append(listener)
        thread = threading.Thread(
            target=self._accept, args=(listener, host, port), name="ssh-forward", daemon=True
        )
        thread.start()
        self._threads.append(thread)
        local: tuple[str, int] = listener.getsockname()
        return local

    def _open_channel(
        self, host: str, port: int, origin: tuple[str, int], timeout: float | None = None
    ) -> Any:
        return self.transport.open_channel("direct-tcpip", (host, port), origin, timeout=timeout)

    def reaches(self, host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
        """Whether the SSH host can open a TCP connection to ``host:port`` (then closed)."""
        import paramiko

        try:
            channel = self._open_channel(host, port, ("127.0.0.1", 0), timeout)
        except (paramiko.ChannelException, paramiko.SSHException, OSError, EOFError):
            return False
        channel.close()
        return True

    def channel(self, host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> Any:
        """A socket-like channel to ``host:port`` through the SSH host (e.g. for the next hop)."""
        import paramiko

        try:
            return self._open_channel(host, port, ("127.0.0.1", 0), timeout)
        except (paramiko.ChannelException, paramiko.SSHException, OSError, EOFError) as exc:
            raise SSHError(
                f"the SSH host {self.jump.label} cannot reach {host}:{port} ({exc}); check the "
                "address and that the security groups let it through"
            ) from None

    def _check_target(self, host: str, port: int) -> None:
        import paramiko

        try:
            channel = self._open_channel(host, port, ("127.0.0.1", 0))
        except (paramiko.ChannelException, paramiko.SSHException, OSError) as exc:
            raise SSHError(
                f"the SSH host {self.jump.label} cannot reach {host}:{port} ({exc}); check the "
                "database host and port, and that the jump host's security group is admitted "
                "by the database's (AllowTcpForwarding must be on in its sshd)"
            ) from None
        channel.close()

    def _accept(self, listener: socket.socket, host: str, port: int) -> None:
        while not self._closed.is_set():
            try:
                client, origin = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                channel = self._open_channel(host, port, origin)
            except Exception:
                client.close()
                continue
            pump = threading.Thread(
                target=self._pump, args=(client, channel), name="ssh-pump", daemon=True
            )
            pump.start()

    def _pump(self, client: socket.socket, channel: Any) -> None:
        import paramiko

        try:
            while not self._closed.is_set():
                ready, _, _ = select.select([client, channel], [], [], 0.5)
                if client in ready:
                    data = client.recv(65536)
                    if not data:
                        break
                    channel.sendall(data)
                if channel in ready:
                    data = channel.recv(65536)
                    if not data:
                        break
                    client.sendall(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass  # either side closed (a dead transport raises EOFError): the connection is over
        finally:
            try:
                channel.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass  # the tunnel was closed under this connection: nothing left to tell
            client.close()

    def close(self) -> None:
        self._closed.set()
        for listener in self._listeners:
            listener.close()
        self.transport.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_tunnel(
    jump: JumpHost,
    *,
    accept: Collection[str] = (),
    confirm: Callable[[HostKeyUnknown], bool] | None = None,
    record: bool = True,
    timeout: int = CONNECT_TIMEOUT,
    sock: Any = None,
) -> Tunnel:
    """Connect and authenticate to ``jump``, verifying its host key.

    An unknown host key is accepted when its fingerprint is in ``accept`` or ``confirm`` says
    yes; it is then appended to known_hosts (unless ``record`` is false, e.g. on a dry run).
    ``sock`` is an already open connection to the host (a channel through another SSH host).
    """
    import paramiko

    pkey = load_private_key(jump.key_path, jump.key_answer or f"{jump.answer}.key_file")
    known = known_keys(jump.known_hosts_path, jump.host, jump.port)
    try:
        if sock is None:
            sock = socket.create_connection((jump.host, jump.port), timeout=timeout)
    except TimeoutError:
        raise SSHError(
            f"the SSH host {jump.label} did not answer in time; check the host, port and that "
            "a security group lets this machine reach it"
        ) from None
    except OSError as exc:
        raise SSHError(
            f"cannot reach the SSH host {jump.label} ({exc.strerror or exc}); check the host and "
            f"port answers ({jump.answer}.host, {jump.answer}.port)"
        ) from None
    transport = paramiko.Transport(sock)
    try:
        if known:
            # Ask for the key type known_hosts holds, as OpenSSH does, so a host with several
            # keys is not mistaken for a changed one.
            options = transport.get_security_options()
            preferred = [t for t in known if t in options.key_types]
            options.key_types = preferred + [t for t in options.key_types if t not in preferred]
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise SSHError(
                f"{jump.label} does not speak SSH as expected ({exc}); check the host and port"
            ) from None
        key = transport.get_remote_server_key()
        presented = fingerprint(key)
        if known:
            same_type = known.get(key.get_name())
            if same_type is None or same_type.asbytes() != key.asbytes():
                expected = ", ".join(fingerprint(k) for k in known.values())
                raise HostKeyChanged(
                    jump.host, jump.port, expected, presented, jump.known_hosts_path
                )
        else:
            unknown = HostKeyUnknown(
                jump.host, jump.port, key.get_name(), presented, jump.known_hosts_path
            )
            note_presented(unknown)
            if presented not in accept and not (confirm is not None and confirm(unknown)):
                raise unknown
            if record:
                record_host_key(jump.known_hosts_path, jump.host, jump.port, key)
        try:
            transport.auth_publickey(jump.user, pkey)
        except paramiko.AuthenticationException:
            raise SSHError(
                f"the SSH host {jump.label} refused the key {jump.key_path}; check the user name "
                "and that its public key is in that user's ~/.ssh/authorized_keys"
            ) from None
        except paramiko.SSHException as exc:
            raise SSHError(f"SSH login to {jump.label} failed ({exc})") from None
        if not transport.is_authenticated():
            raise SSHError(f"SSH login to {jump.label} did not complete; check the user and key")
    except BaseException:
        transport.close()
        raise
    return Tunnel(jump, transport)
