"""Jenkins on the analytics host, reached through an SSH tunnel via the director.

Jenkins listens on ``<analytics private ip>:<jenkins.port>``, which only the director's security
group may reach. From a laptop the wizard opens an SSH connection to the director (host key
verified by :mod:`wizard.ssh`), forwards ``127.0.0.1:<jenkins.local_port>`` to Jenkins, checks the
``X-Jenkins`` header, and keeps the tunnel up: when the connection drops it reconnects with
backoff and reports each state change through ``on_state(state, detail)``. On the director itself
there is no tunnel: Jenkins is checked directly and the operator gets the ``ssh -L`` line for their
laptop. When Jenkins does not answer, :func:`diagnose` looks from the analytics host itself and says
which of the runbook's known causes it is.
"""

from __future__ import annotations

import os
import shlex
import socket
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from . import ssh
from .errors import WizardError
from .findings import Finding, failed, passed, warned
from .webprobe import HTTP_TIMEOUT, fetch, http_head, reason

CONNECTING, UP, DOWN, RECONNECTING, CLOSED = "connecting", "up", "down", "reconnecting", "closed"
STATES = (CONNECTING, UP, DOWN, RECONNECTING, CLOSED)
# Seconds before each reconnect attempt; the last one repeats until the director is back.
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
CHECK_EVERY = 1.0  # seconds between looks at the SSH connection
IPV4_FIX = (
    "add -Djava.net.preferIPv4Stack=true to jenkins_jvm_args in vars-analytics.yml and run the "
    "Jenkins playbook again (playbooks step); then restart Jenkins (sudo systemctl restart jenkins)"
)

OnState = Callable[[str, str], None]


class JenkinsError(WizardError):
    """Jenkins cannot be reached or does not answer as Jenkins."""


class JenkinsUnreachable(JenkinsError):
    """Nothing answers at Jenkins' address; :func:`diagnose` says why."""


@dataclass(frozen=True)
class JenkinsHost:
    """Where Jenkins runs: the analytics instance's private address and Jenkins' port."""

    address: str
    port: int = 8080

    @property
    def label(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


def director(
    host: str, port: int, user: str, key_file: str, known_hosts: str, answer: str = "director"
) -> ssh.JumpHost:
    """The ``director.*`` answers as the jump host of the tunnel."""
    return ssh.JumpHost(host, port, user, key_file, known_hosts, answer=answer)


# --- talking HTTP to Jenkins --------------------------------------------------------------


def jenkins_version(url: str, timeout: float = HTTP_TIMEOUT) -> str:
    """The version Jenkins announces at ``url`` (its ``X-Jenkins`` header)."""
    try:
        headers = http_head(url, timeout=timeout)
    except TimeoutError:
        raise JenkinsUnreachable(
            f"Jenkins did not answer at {url} within {timeout:g} s",
            "check that Jenkins is running on the analytics host (sudo systemctl status jenkins)",
        ) from None
    except OSError as exc:
        raise JenkinsUnreachable(
            f"nothing answers at {url} ({reason(exc)})",
            "check that Jenkins is running on the analytics host and listens on jenkins.port",
        ) from None
    version = headers.get("x-jenkins")
    if not version:
        raise JenkinsError(
            f"something answers at {url} (HTTP {headers[':status']}) but it is not Jenkins: "
            "there is no X-Jenkins header",
            "check jenkins.port: it must be the port Jenkins itself listens on (8080), not "
            "nginx's or another service's",
        )
    return version


# --- the tunnel ---------------------------------------------------------------------------


def _keep_alive(tunnel: ssh.Tunnel) -> None:
    """Notice a dead director within seconds, not at the next write (TCP and SSH keepalives)."""
    tunnel.transport.set_keepalive(15)
    sock = getattr(tunnel.transport, "sock", None)
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", 15), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


class JenkinsTunnel:
    """127.0.0.1:``local_port`` → director → ``jenkins``, kept up until :meth:`close`.

    ``on_state`` is called from the tunnel's own thread (after :meth:`open`) with one of
    :data:`STATES` and a line of detail; it must be thread-safe (post a message, print a line).
    """

    def __init__(
        self,
        jump: ssh.JumpHost,
        jenkins: JenkinsHost,
        local_port: int,
        *,
        on_state: OnState | None = None,
        accept: Collection[str] = (),
        confirm: Callable[[ssh.HostKeyUnknown], bool] | None = None,
        record: bool = True,
        backoff: Sequence[float] = BACKOFF,
        check_every: float = CHECK_EVERY,
        timeout: float = HTTP_TIMEOUT,
    ) -> None:
        self.jump = jump
        self.jenkins = jenkins
        self.local_port = local_port
        self.version: str | None = None
        self.state = CLOSED
        self._on_state = on_state
        self._accept = set(accept)
        self._confirm = confirm
        self._record = record
        self._backoff = tuple(backoff) or BACKOFF
        self._check_every = check_every
        self._timeout = timeout
        self._tunnel: ssh.Tunnel | None = None
        self._closed = threading.Event()
        self._monitor: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.local_port}/"

    def _emit(self, state: str, detail: str) -> None:
        self.state = state
        if self._on_state is not None:
            self._on_state(state, detail)

    def open(self) -> str:
        """Connect, forward, check Jenkins; return its version. Raises when any of it fails."""
        if self._monitor is not None:
            raise RuntimeError("the tunnel is already open")
        self._closed.clear()
        if ssh.next_free_port(self.local_port, tries=1) != self.local_port:
            raise ssh.LocalPortBusy(self.local_port, ssh.next_free_port(self.local_port + 1))
        self._emit(CONNECTING, f"connecting to {self.jump.label}")
        try:
            self._connect(first=True)
        except BaseException:
            self._emit(CLOSED, "not connected")
            raise
        self._monitor = threading.Thread(target=self._watch, name="jenkins-tunnel", daemon=True)
        self._monitor.start()
        assert self.version is not None
        return self.version

    def _connect(self, first: bool = False) -> None:
        # The first time the operator may confirm an unknown key; afterwards only the key they
        # accepted (recorded in known_hosts, or remembered here) lets the tunnel back up.
        tunnel = ssh.open_tunnel(
            self.jump,
            accept=self._accept,
            confirm=self._confirm if first else None,
            record=self._record,
        )
        try:
            self._accept.add(ssh.fingerprint(tunnel.transport.get_remote_server_key()))
            _keep_alive(tunnel)
            if not tunnel.reaches(self.jenkins.address, self.jenkins.port):
                raise JenkinsUnreachable(
                    f"the director {self.jump.label} cannot reach Jenkins at {self.jenkins.label}",
                    "see the diagnostics: nothing listening there, Jenkins bound to IPv6 only, "
                    "or the analytics security group not admitting the director on that port",
                )
            tunnel.forward(self.jenkins.address, self.jenkins.port, self.local_port)
            self.version = jenkins_version(self.url, self._timeout)
        except BaseException:
            tunnel.close()
            raise
        with self._lock:
            self._tunnel = tunnel
        self._emit(UP, f"Jenkins {self.version} at {self.url} (through {self.jump.label})")

    def _alive(self) -> bool:
        with self._lock:
            tunnel = self._tunnel
        return tunnel is not None and bool(tunnel.transport.is_active())

    def _drop(self) -> None:
        with self._lock:
            tunnel, self._tunnel = self._tunnel, None
        if tunnel is not None:
            tunnel.close()

    def _watch(self) -> None:
        while not self._closed.wait(self._check_every):
            if self._alive():
                continue
            self._drop()
            if self._closed.is_set():
                return
            self._emit(DOWN, f"the SSH connection to {self.jump.label} dropped")
            self._reconnect()

    def _reconnect(self) -> None:
        attempt, last = 0, ""
        while not self._closed.is_set():
            delay = self._backoff[min(attempt, len(self._backoff) - 1)]
            attempt += 1
            why = f" (last try: {last})" if last else ""
            self._emit(RECONNECTING, f"attempt {attempt} in {delay:g} s{why}")
            if self._closed.wait(delay):
                return
            try:
                self._connect()
                return
            except ssh.HostKeyChanged as exc:
                # Never reconnect to a host that now presents another key.
                self._closed.set()
                self._emit(CLOSED, str(exc))
                return
            except (ssh.SSHError, WizardError, OSError) as exc:
                last = str(exc)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the tunnel is closed (by :meth:`close` or a changed host key)."""
        return self._closed.wait(timeout)

    def close(self) -> None:
        """Stop reconnecting, close the listener and the SSH connection, join the threads."""
        already = self._closed.is_set() and self._monitor is None
        self._closed.set()
        monitor, self._monitor = self._monitor, None
        if monitor is not None and monitor is not threading.current_thread():
            monitor.join(timeout=10)  # (an on_state callback may close from the tunnel's thread)
        self._drop()
        if not already and self.state != CLOSED:
            self._emit(CLOSED, "tunnel closed")

    def __enter__(self) -> JenkinsTunnel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- on the director: no tunnel -----------------------------------------------------------


def check_direct(jenkins: JenkinsHost, timeout: float = HTTP_TIMEOUT) -> str:
    """Jenkins' version, asked directly (the wizard runs on the director)."""
    host = f"[{jenkins.address}]" if ":" in jenkins.address else jenkins.address
    return jenkins_version(f"http://{host}:{jenkins.port}/", timeout)


def laptop_command(
    jump_user: str,
    director_address: str | None,
    key_file: str,
    jenkins: JenkinsHost,
    local_port: int,
    ssh_port: int = 22,
) -> str:
    """The ``ssh -L`` line that gives the operator's laptop Jenkins at 127.0.0.1:local_port."""
    # A leading ~/ stays unquoted: the laptop's shell expands it.
    home = key_file.startswith("~/")
    key = "~/" + shlex.quote(key_file[2:]) if home else shlex.quote(key_file)
    port = f" -p {ssh_port}" if ssh_port != 22 else ""
    target = director_address or "<director public address>"
    forward = f"{local_port}:{jenkins.address}:{jenkins.port}"
    return f"ssh -i {key}{port} -N -L {forward} {shlex.quote(jump_user)}@{target}"


IMDS = "http://169.254.169.254/latest"


def director_public_address(timeout: float = 1.0) -> str | None:
    """This EC2 instance's public IPv4 from the instance metadata (IMDSv2), or None.

    ``AWS_EC2_METADATA_DISABLED=true`` (botocore's own switch) skips the lookup.
    """
    if os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        return None
    try:
        token = fetch(
            f"{IMDS}/api/token",
            timeout=timeout,
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        )
        if token.status != 200:
            return None
        answer = fetch(
            f"{IMDS}/meta-data/public-ipv4",
            timeout=timeout,
            headers={"X-aws-ec2-metadata-token": token.body.decode("ascii").strip()},
        )
        address = answer.body.decode("ascii").strip() if answer.status == 200 else ""
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return address or None


# --- diagnostics --------------------------------------------------------------------------


@contextmanager
def _connections(
    jump: ssh.JumpHost | None, analytics: ssh.JumpHost | None, accept: Collection[str]
) -> Iterator[tuple[ssh.Tunnel | None, ssh.Tunnel | None, str]]:
    """The director's SSH connection (None on the director) and the analytics host's (None
    when it cannot be opened: the reason comes third)."""
    via = ssh.open_tunnel(jump, accept=accept, record=False) if jump is not None else None
    hop: ssh.Tunnel | None = None
    why = "" if analytics is not None else "no SSH access to the analytics host was given"
    try:
        if analytics is not None:
            try:
                sock = via.channel(analytics.host, analytics.port) if via is not None else None
                hop = ssh.open_tunnel(analytics, accept=accept, record=False, sock=sock)
            except ssh.SSHError as exc:
                why = str(exc)
        yield via, hop, why
    finally:
        if hop is not None:
            hop.close()
        if via is not None:
            via.close()


def _reaches(via: ssh.Tunnel | None, host: str, port: int, timeout: float) -> bool:
    if via is not None:
        return via.reaches(host, port, timeout)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _served_as_jenkins(
    via: ssh.Tunnel | None, address: str, port: int, host_header: str, timeout: float
) -> bool | None:
    """Whether ``address:port`` answers as Jenkins for ``Host: host_header`` (None: no answer)."""
    if via is not None:
        if not via.reaches(address, port, timeout):
            return None
        local_host, local_port = via.forward(address, port)
        url = f"http://{local_host}:{local_port}/"
    else:
        url = f"http://{address}:{port}/"
    try:
        headers = http_head(url, host=host_header, timeout=timeout)
    except OSError:
        return None
    return "x-jenkins" in headers


def nginx_port_clash(jenkins_nginx_port: int, insights_ports: Sequence[int] = (80, 443)) -> Finding:
    """``jenkins.nginx_port``: Jenkins' nginx site must not share a port with Insights."""
    if jenkins_nginx_port in insights_ports:
        return failed(
            "jenkins.nginx_port",
            f"Jenkins' nginx site would listen on {jenkins_nginx_port}, a public Insights port: "
            "anyone sending its server name reaches the unprotected Jenkins",
            "set jenkins.nginx_port to 8081 (the files step writes jenkins_nginx_port) and run "
            "the Jenkins playbook again",
        )
    return passed(
        "jenkins.nginx_port",
        f"Jenkins' nginx site uses port {jenkins_nginx_port}, apart from Insights "
        f"({', '.join(map(str, insights_ports))})",
    )


def diagnose(
    jenkins: JenkinsHost,
    *,
    jump: ssh.JumpHost | None,
    analytics: ssh.JumpHost | None,
    server_name: str | None = None,
    insights_port: int = 80,
    accept: Collection[str] = (),
    timeout: float = HTTP_TIMEOUT,
) -> list[Finding]:
    """Why Jenkins does (not) answer, as findings: ``jenkins.listening``, ``jenkins.ipv4``,
    ``jenkins.nginx_port``.

    ``jump`` is the director (None when running on it); ``analytics`` is SSH access to the
    analytics host (reached through the director), from where Jenkins is tried on 127.0.0.1 and
    on [::1] as the runbook's troubleshooting does. Host keys must already be known (or in
    ``accept``): a diagnosis never records one.
    """
    findings: list[Finding] = []
    with _connections(jump, analytics, accept) as (via, hop, why):
        seen = "from the director" if jump is not None else "from here"
        outside = _reaches(via, jenkins.address, jenkins.port, timeout)
        inside_v4 = hop.reaches("127.0.0.1", jenkins.port, timeout) if hop else None
        inside_v6 = hop.reaches("::1", jenkins.port, timeout) if hop else None
        if outside:
            findings.append(passed("jenkins.listening", f"Jenkins' port {jenkins.label} answers"))
            findings.append(passed("jenkins.ipv4", "Jenkins accepts IPv4 connections"))
        elif hop is None:
            findings.append(
                warned(
                    "jenkins.listening",
                    f"nothing answers at {jenkins.label} {seen}, and the wizard could not look "
                    f"on the analytics host itself ({why})",
                    f"on the analytics host run: curl -sI http://127.0.0.1:{jenkins.port}/ and "
                    f"curl -sI 'http://[::1]:{jenkins.port}/'. No answer on either: start "
                    "Jenkins (sudo systemctl start jenkins). Only [::1] answers: " + IPV4_FIX,
                )
            )
        elif inside_v6 and not inside_v4:
            findings.append(
                passed("jenkins.listening", f"Jenkins listens on port {jenkins.port} (IPv6)")
            )
            findings.append(
                failed(
                    "jenkins.ipv4",
                    f"Jenkins answers on [::1]:{jenkins.port} but not on 127.0.0.1:"
                    f"{jenkins.port}: it is bound to IPv6 only, so neither the director nor "
                    "nginx can reach it",
                    IPV4_FIX,
                )
            )
        elif inside_v4:
            findings.append(
                passed("jenkins.listening", f"Jenkins listens on 127.0.0.1:{jenkins.port}")
            )
            findings.append(
                failed(
                    "jenkins.ipv4",
                    f"Jenkins answers on the analytics host itself but not at {jenkins.label} "
                    f"{seen}",
                    "Jenkins must listen on all addresses (check --httpListenAddress in "
                    "/etc/default/jenkins), and the analytics security group must admit "
                    f"port {jenkins.port} from the director's security group",
                )
            )
        else:
            findings.append(
                failed(
                    "jenkins.listening",
                    f"nothing listens on port {jenkins.port} of the analytics host (neither "
                    "127.0.0.1 nor [::1] answers)",
                    "start Jenkins (sudo systemctl start jenkins; the Jenkins playbook installs "
                    "it) and check jenkins.port is the port it listens on",
                )
            )
        if server_name:
            served = _served_as_jenkins(via, jenkins.address, insights_port, server_name, timeout)
            if served:
                findings.append(
                    failed(
                        "jenkins.nginx_port",
                        f"port {insights_port} of the analytics host (Insights) serves Jenkins "
                        f"to requests for Host: {server_name}: the unprotected Jenkins is "
                        "public",
                        "set jenkins.nginx_port to 8081 (jenkins_nginx_port in "
                        "vars-analytics.yml), run the Jenkins playbook again, and remove nginx's "
                        "jenkins site from port 80 (sudo rm /etc/nginx/sites-enabled/jenkins; "
                        "sudo systemctl reload nginx)",
                    )
                )
            else:
                findings.append(
                    passed(
                        "jenkins.nginx_port",
                        f"port {insights_port} does not serve Jenkins for Host: {server_name}",
                    )
                )
    return findings
