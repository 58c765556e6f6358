"""The Jenkins tunnel: the tests' sshd is the director, a Jenkins stand-in listens behind it.

The stand-in (wizard/demo/jenkins_standin.py) is an HTTP server on loopback, because no Jenkins can be
installed here; it answers with the ``X-Jenkins`` header like Jenkins does.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import web_standins
from jenkins_standin import JenkinsStandin
from services import SSHD, free_port

from wizard import jenkins_tunnel as jt
from wizard import ssh
from wizard.findings import FAIL, PASS

WAIT = 60  # seconds a state change may take on a loaded machine


# --- fixtures -----------------------------------------------------------------------------


def known_hosts(tmp_path: Path, sshd: SSHD, line: str | None = None) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sshd.known_hosts_line() if line is None else line)
    return path


def jump(sshd: SSHD, known: Path) -> ssh.JumpHost:
    return jt.director("127.0.0.1", sshd.port, sshd.user, str(sshd.client_key), str(known))


@pytest.fixture
def director(sshd: SSHD, tmp_path: Path) -> ssh.JumpHost:
    return jump(sshd, known_hosts(tmp_path, sshd))


class States:
    """Collects ``on_state`` calls from the tunnel's thread."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue()

    def __call__(self, state: str, detail: str) -> None:
        self.seen.append((state, detail))
        self._queue.put((state, detail))

    def wait_for(self, state: str, timeout: float = WAIT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {state!r} state; seen {self.seen}")
            try:
                got, detail = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if got == state:
                return detail

    @property
    def names(self) -> list[str]:
        return [state for state, _ in self.seen]


def port_is_free(port: int) -> bool:
    """Whether a new listener (a next tunnel) can take the port. Connections the tunnel closed
    may linger in TIME_WAIT on it, which SO_REUSEADDR listeners may ignore, as the tunnel does."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.headers["X-Jenkins"])


def drop_connections(sshd: SSHD) -> None:
    """Kill the sshd's per-connection processes (its children), as a reboot of the director
    would; stopping the listening sshd alone leaves established sessions running."""
    assert sshd.process is not None
    parent = sshd.process.pid
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def tunnel_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("jenkins-tunnel", "ssh-"))]


# --- the tunnel ---------------------------------------------------------------------------


def test_tunnel_up_shows_the_jenkins_version_and_closes_cleanly(
    director: ssh.JumpHost, jenkins: JenkinsStandin
) -> None:
    states = States()
    local = free_port()
    tunnel = jt.JenkinsTunnel(
        director, jt.JenkinsHost("127.0.0.1", jenkins.port), local, on_state=states
    )
    version = tunnel.open()
    try:
        assert version == jenkins.version
        assert tunnel.url == f"http://127.0.0.1:{local}/"
        assert get(tunnel.url) == jenkins.version  # the operator's browser gets Jenkins
        assert not port_is_free(local)
    finally:
        tunnel.close()
    assert states.names == [jt.CONNECTING, jt.UP, jt.CLOSED]
    assert jenkins.version in states.seen[1][1]
    assert port_is_free(local)
    assert tunnel_threads() == []
    tunnel.close()  # a second close is harmless and says nothing more
    assert states.names[-1] == jt.CLOSED and states.names.count(jt.CLOSED) == 1


def test_the_tunnel_comes_back_by_itself_after_the_director_restarts(
    sshd: SSHD, director: ssh.JumpHost, jenkins: JenkinsStandin
) -> None:
    states = States()
    tunnel = jt.JenkinsTunnel(
        director,
        jt.JenkinsHost("127.0.0.1", jenkins.port),
        free_port(),
        on_state=states,
        backoff=(0.2, 0.5),
        check_every=0.2,
    )
    tunnel.open()
    try:
        drop_connections(sshd)
        sshd.stop()
        assert "dropped" in states.wait_for(jt.DOWN)
        states.wait_for(jt.RECONNECTING)
        time.sleep(1)  # a few attempts fail while the director is down
        sshd.start()
        assert jenkins.version in states.wait_for(jt.UP)
        assert get(tunnel.url) == jenkins.version
    finally:
        tunnel.close()
    names = states.names
    assert names[:2] == [jt.CONNECTING, jt.UP]
    assert names.index(jt.DOWN) < names.index(jt.RECONNECTING) < len(names) - 2
    assert names[-2:] == [jt.UP, jt.CLOSED]


def test_a_changed_host_key_stops_the_reconnecting(
    sshd: SSHD, tmp_path: Path, jenkins: JenkinsStandin
) -> None:
    known = known_hosts(tmp_path, sshd)
    states = States()
    tunnel = jt.JenkinsTunnel(
        jump(sshd, known),
        jt.JenkinsHost("127.0.0.1", jenkins.port),
        free_port(),
        on_state=states,
        backoff=(0.2,),
        check_every=0.2,
    )
    tunnel.open()
    try:
        # known_hosts now remembers another key for the director (as after a man in the middle)
        other = ssh.load_private_key(sshd.client_key)
        known.write_text(f"[127.0.0.1]:{sshd.port} {other.get_name()} {other.get_base64()}\n")
        drop_connections(sshd)
        detail = states.wait_for(jt.CLOSED)
        assert "HAS CHANGED" in detail
        assert tunnel.wait(5)
    finally:
        tunnel.close()
    assert jt.UP not in states.names[2:]


def test_an_unknown_director_is_refused_headless_with_its_fingerprint(
    sshd: SSHD, tmp_path: Path, jenkins: JenkinsStandin
) -> None:
    known = known_hosts(tmp_path, sshd, line="")
    local = free_port()
    tunnel = jt.JenkinsTunnel(jump(sshd, known), jt.JenkinsHost("127.0.0.1", jenkins.port), local)
    with pytest.raises(ssh.HostKeyUnknown) as caught:
        tunnel.open()
    assert caught.value.fingerprint == sshd.fingerprint()
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1" in str(caught.value)
    assert known.read_text() == ""  # nothing recorded without the operator's yes
    assert port_is_free(local) and tunnel.state == jt.CLOSED


def test_an_unknown_director_is_trusted_once_the_operator_confirms(
    sshd: SSHD, tmp_path: Path, jenkins: JenkinsStandin
) -> None:
    known = known_hosts(tmp_path, sshd, line="")
    asked: list[str] = []

    def confirm(unknown: ssh.HostKeyUnknown) -> bool:
        asked.append(unknown.fingerprint)
        return True

    with jt.JenkinsTunnel(
        jump(sshd, known), jt.JenkinsHost("127.0.0.1", jenkins.port), free_port(), confirm=confirm
    ) as tunnel:
        assert tunnel.open() == jenkins.version
    assert asked == [sshd.fingerprint()]
    assert ssh.known_keys(known, "127.0.0.1", sshd.port)  # recorded for next time


def test_a_changed_director_key_is_refused_even_when_the_operator_would_say_yes(
    sshd: SSHD, tmp_path: Path, jenkins: JenkinsStandin
) -> None:
    other = ssh.load_private_key(sshd.client_key)
    line = f"[127.0.0.1]:{sshd.port} {other.get_name()} {other.get_base64()}\n"
    known = known_hosts(tmp_path, sshd, line=line)
    tunnel = jt.JenkinsTunnel(
        jump(sshd, known),
        jt.JenkinsHost("127.0.0.1", jenkins.port),
        free_port(),
        confirm=lambda unknown: True,
    )
    with pytest.raises(ssh.HostKeyChanged) as caught:
        tunnel.open()
    assert sshd.fingerprint() in str(caught.value)
    assert known.read_text() == line


def test_a_busy_local_port_is_named_with_the_next_free_one(
    director: ssh.JumpHost, jenkins: JenkinsStandin
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        tunnel = jt.JenkinsTunnel(director, jt.JenkinsHost("127.0.0.1", jenkins.port), busy)
        with pytest.raises(ssh.LocalPortBusy) as caught:
            tunnel.open()
    offered = caught.value.suggestion
    assert offered is not None and offered > busy
    assert f"port {busy} is already in use" in str(caught.value)
    assert f"next free one is {offered}" in str(caught.value)
    assert jenkins.requests == []  # nothing was tried


def test_jenkins_down_is_diagnosed_as_nothing_listening(sshd: SSHD, director: ssh.JumpHost) -> None:
    target = jt.JenkinsHost("127.0.0.1", free_port())  # nothing listens there
    local = free_port()
    with pytest.raises(jt.JenkinsUnreachable) as caught:
        jt.JenkinsTunnel(director, target, local).open()
    assert f"cannot reach Jenkins at 127.0.0.1:{target.port}" in str(caught.value)
    assert port_is_free(local)

    findings = {f.id: f for f in jt.diagnose(target, jump=director, analytics=director)}
    assert findings["jenkins.listening"].verdict == FAIL
    assert "nothing listens" in findings["jenkins.listening"].finding
    assert "systemctl start jenkins" in findings["jenkins.listening"].fix


def test_jenkins_bound_to_ipv6_only_is_diagnosed_with_the_jvm_fix(
    sshd: SSHD, director: ssh.JumpHost
) -> None:
    jenkins = JenkinsStandin(ipv6_only=True).start()
    port = jenkins.port
    try:
        target = jt.JenkinsHost("127.0.0.1", port)
        with pytest.raises(jt.JenkinsUnreachable):
            jt.JenkinsTunnel(director, target, free_port()).open()
        # The analytics host is reached through the director (both are the tests' sshd here).
        findings = {f.id: f for f in jt.diagnose(target, jump=director, analytics=director)}
    finally:
        jenkins.stop()
    assert findings["jenkins.listening"].verdict == PASS
    ipv4 = findings["jenkins.ipv4"]
    assert ipv4.verdict == FAIL
    assert f"[::1]:{port}" in ipv4.finding and "IPv6 only" in ipv4.finding
    assert "jenkins_jvm_args" in ipv4.fix and "-Djava.net.preferIPv4Stack=true" in ipv4.fix


def test_without_access_to_the_analytics_host_the_diagnosis_says_what_to_try(
    director: ssh.JumpHost,
) -> None:
    target = jt.JenkinsHost("127.0.0.1", free_port())
    findings = {f.id: f for f in jt.diagnose(target, jump=director, analytics=None)}
    listening = findings["jenkins.listening"]
    assert listening.verdict == "warn"
    assert f"curl -sI 'http://[::1]:{target.port}/'" in listening.fix
    assert "preferIPv4Stack" in listening.fix


def test_jenkins_served_on_the_insights_port_for_its_server_name_fails(
    director: ssh.JumpHost, jenkins: JenkinsStandin
) -> None:
    # nginx's jenkins site on port 80: Jenkins for Host: jenkins.example.com, 404 otherwise.
    nginx = JenkinsStandin(only_host="jenkins.example.com").start()
    try:
        target = jt.JenkinsHost("127.0.0.1", jenkins.port)
        clash = jt.diagnose(
            target,
            jump=director,
            analytics=None,
            server_name="jenkins.example.com",
            insights_port=nginx.port,
        )
        apart = jt.diagnose(
            target,
            jump=director,
            analytics=None,
            server_name="jenkins.other.org",
            insights_port=nginx.port,
        )
    finally:
        nginx.stop()
    found = {f.id: f for f in clash}["jenkins.nginx_port"]
    assert found.verdict == FAIL and "Host: jenkins.example.com" in found.finding
    assert "8081" in found.fix
    assert {f.id: f for f in apart}["jenkins.nginx_port"].verdict == PASS
    assert {f.id: f for f in clash}["jenkins.listening"].verdict == PASS


def test_nginx_port_clash_with_insights_is_refused() -> None:
    assert jt.nginx_port_clash(80).verdict == FAIL
    assert jt.nginx_port_clash(443).verdict == FAIL
    assert jt.nginx_port_clash(8081).verdict == PASS


# --- on the director ----------------------------------------------------------------------


def test_on_the_director_jenkins_is_checked_directly(jenkins: JenkinsStandin) -> None:
    assert jt.check_direct(jt.JenkinsHost("127.0.0.1", jenkins.port)) == jenkins.version
    with pytest.raises(jt.JenkinsUnreachable, match="nothing answers"):
        jt.check_direct(jt.JenkinsHost("127.0.0.1", free_port()))


def test_something_else_than_jenkins_is_named_as_such() -> None:
    nginx = JenkinsStandin(only_host="jenkins.example.com").start()
    try:
        with pytest.raises(jt.JenkinsError, match="no X-Jenkins header"):
            jt.check_direct(jt.JenkinsHost("127.0.0.1", nginx.port))
    finally:
        nginx.stop()


def test_the_laptop_line_is_the_runbooks_ssh_command() -> None:
    line = jt.laptop_command(
        "ubuntu", "203.0.113.7", "~/.ssh/director.pem", jt.JenkinsHost("10.0.1.23", 8080), 8080
    )
    assert line == "ssh -i ~/.ssh/director.pem -N -L 8080:10.0.1.23:8080 ubuntu@203.0.113.7"
    odd = jt.laptop_command(
        "ops", None, "/keys/my key.pem", jt.JenkinsHost("10.0.1.23", 8090), 9000, ssh_port=2222
    )
    assert odd == (
        "ssh -i '/keys/my key.pem' -p 2222 -N -L 9000:10.0.1.23:8090 ops@<director public address>"
    )


def test_the_metadata_lookup_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert jt.director_public_address() is None


def test_the_director_public_address_comes_from_the_instance_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """IMDSv2 as EC2 answers it (a token first), stood in for on 127.0.0.1."""
    metadata = web_standins.Site(
        {
            "/latest/api/token": (200, {}, "tok-123"),
            "/latest/meta-data/public-ipv4": (200, {}, "203.0.113.7"),
        }
    ).start()
    try:
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
        monkeypatch.setattr(jt, "IMDS", f"http://127.0.0.1:{metadata.port}/latest")
        assert jt.director_public_address() == "203.0.113.7"
        (put, token_path, _), (get, address_path, headers) = metadata.requests
        assert (put, token_path, get, address_path) == (
            "PUT",
            "/latest/api/token",
            "GET",
            "/latest/meta-data/public-ipv4",
        )
        assert {k.lower(): v for k, v in headers.items()}["x-aws-ec2-metadata-token"] == "tok-123"
        metadata.routes["/latest/meta-data/public-ipv4"] = (404, {}, "no public address")
        assert jt.director_public_address() is None  # a private-only director
    finally:
        metadata.stop()


def test_a_connection_dropped_while_data_flows_ends_quietly(
    sshd: SSHD, director: ssh.JumpHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The director going away mid-transfer ends the forwarded connection without a thread
    traceback on stderr (paramiko raises EOFError, not only OSError, from a dead transport)."""
    escaped: list[BaseException] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.thread is not None and args.thread.name.startswith("ssh-"):
            escaped.append(args.exc_value or RuntimeError())

    monkeypatch.setattr(threading, "excepthook", hook)
    sink = socket.create_server(("127.0.0.1", 0))
    sink.settimeout(WAIT)

    def swallow(peer: socket.socket) -> None:
        with peer, contextlib.suppress(OSError):
            while peer.recv(65536):
                pass

    def drain() -> None:
        with sink, contextlib.suppress(OSError):
            while True:
                peer, _ = sink.accept()
                threading.Thread(target=swallow, args=(peer,), daemon=True).start()

    threading.Thread(target=drain, daemon=True).start()
    for _ in range(3):
        tunnel = ssh.open_tunnel(director)
        try:
            _, port = tunnel.forward("127.0.0.1", sink.getsockname()[1])
            client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            pumps = [t for t in threading.enumerate() if t.name == "ssh-pump"]
            sent = 0
            with client:
                while sent < 4 << 20:
                    sent += client.send(b"x" * 65536)
                drop_connections(sshd)
                with contextlib.suppress(OSError):
                    for _ in range(200):
                        client.sendall(b"x" * 65536)
            for pump in threading.enumerate():
                if pump.name == "ssh-pump" and pump not in pumps:
                    pump.join(WAIT)
        finally:
            tunnel.close()
    assert not escaped, f"a tunnel thread died with {escaped!r}"
