"""The ansible adapter: which ansible-playbook, how it reaches the analytics hosts, one run's files.

The playbooks come from the operator's edx/configuration checkout and run with the
``ansible-playbook`` of its virtualenv (it pins the ansible whose collections the roles need),
driven by ansible-runner in a process of its own (:mod:`wizard.ansible_child`) that writes the
run's events under a private data dir; :mod:`wizard.ansible_events` reads them back.

Host keys are always checked. edx/configuration's ``ansible.cfg`` turns checking off and shares
one control socket per host across runs; the environment of every run turns checking back on and
points ssh at a config file of the run's own (known_hosts, strict checking, a control socket
directory of its own, the director as jump host). Nothing secret goes on a command line: vars
travel as ``-e @file`` paths. ansible_runner and paramiko are imported where they are used.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from . import distscan, ssh
from .detached import children
from .errors import WizardError
from .fsutil import PRIVATE_DIR_MODE, SECRET_FILE_MODE, atomic_write, ensure_private_dir

IDENT = "run"  # ansible-runner's artifacts go to <private data dir>/artifacts/run/
SPEC = "wizard-run.json"  # what the child runs, written by prepare_run
SSH_CONFIG = "ssh_config"
STOPPED = "stopped"  # written by the child when it was told to stop (the signal's name)
CONTROL_PERSIST = "60s"
VERSION_TIMEOUT = 20
LIST_TASKS_TIMEOUT = 120

# The wizard's own environment may hold credentials (AWS keys, tokens); a run keeps only what
# ansible and ssh need. ansible-runner writes the environment into the run's artifacts.
KEPT_ENVIRONMENT = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR")
KEPT_PREFIXES = ("LC_",)
KEPT_AGENT = "SSH_AUTH_SOCK"

# Where edx/configuration's docs and the runbook put the virtualenv (``workon edx-configuration``
# is virtualenvwrapper's ~/.virtualenvs; edx's own installer uses /edx/app/edx_ansible).
HOME_VENVS = ("~/.virtualenvs/edx-configuration", "~/venvs/edx-configuration")
SYSTEM_VENVS = ("/edx/app/edx_ansible/venvs/edx_ansible",)
CHECKOUT_VENVS = ("venv", ".venv", "../venvs/edx-configuration", "../venv")

# A vars file that sets one of these would switch host-key checking off again.
_CHECKING_OFF = re.compile(
    r"^\s*ansible_(?:ssh_)?host_key_checking\s*:|StrictHostKeyChecking\s*[= ]\s*['\"]?no\b",
    re.IGNORECASE | re.MULTILINE,
)


class AnsibleError(WizardError):
    """ansible cannot be found, prepared or run as asked."""


# --- which ansible-playbook -------------------------------------------------------------------


class FoundAnsible(NamedTuple):
    """The ansible-playbook the playbooks run with, and the ansible version behind it."""

    path: Path
    version: str


def _interpreter(script: Path) -> list[str] | None:
    try:
        with open(script, "rb") as handle:
            first = handle.readline(512).decode("utf-8", "replace")
    except OSError:
        return None
    return first[2:].split() if first.startswith("#!") else None


_METADATA_PROBE = """\
from importlib.metadata import version, PackageNotFoundError
def v(n):
    try: return version(n)
    except PackageNotFoundError: return None
core = v("ansible-core") or v("ansible-base")
full = v("ansible")
print(core or full or "", full or "")
"""


def quick_probe() -> str:
    """:mod:`wizard.distscan`'s text, for ``python -c``: prints nothing when it cannot tell."""
    return Path(distscan.__file__).read_text(encoding="utf-8")


def ansible_version(script: Path) -> str | None:
    """The ansible version of ``script``'s own Python: package metadata, read without loading
    ansible (2.10 ships as ``ansible-base``, later as ``ansible-core``; the ``ansible`` package
    of collections is named too)."""
    interpreter = _interpreter(script)
    if interpreter is None:
        return None
    printed = _read_venv(interpreter)
    if printed is None:
        printed = _run_probe(interpreter, quick_probe())
    if printed is None:
        printed = _run_probe(interpreter, _METADATA_PROBE)
    words = (printed or "").split()
    if not words:
        return None
    core, full = words[0], words[1] if len(words) > 1 else ""
    return f"{core} (ansible {full})" if full and full != core else core


_SYSTEM_SITE = re.compile(r"^\s*include-system-site-packages\s*=\s*true\s*$", re.I | re.M)


def _read_venv(interpreter: list[str]) -> str | None:
    """What the quick probe would print, read without starting the interpreter: when it is a
    virtualenv's python run without options or PYTHONPATH, its sys.path holds one site-packages
    and the standard library (which has no distributions). None when that cannot be told here,
    or when ansible is not in that site-packages (a ``.pth`` file may add a directory after it).
    """
    if len(interpreter) != 1 or os.environ.get("PYTHONPATH"):
        return None
    venv = Path(interpreter[0]).parent.parent  # unresolved, as Python finds its pyvenv.cfg
    try:
        config = (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    sites = {site.resolve() for site in venv.glob("lib/python3*/site-packages")}
    if _SYSTEM_SITE.search(config) or len(sites) != 1:
        return None
    found = distscan.scan([str(sites.pop())])
    return found if found and found.strip() else None


def _run_probe(interpreter: list[str], probe: str) -> str | None:
    """What ``probe`` prints, run by ``interpreter``; None when it fails."""
    try:
        result = subprocess.run(
            [*interpreter, "-c", probe],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def _candidates(configuration_dir: Path | None) -> list[Path]:
    venvs: list[Path] = []
    workon = os.environ.get("WORKON_HOME")
    if workon:
        venvs.append(Path(workon).expanduser() / "edx-configuration")
    venvs += [Path(p).expanduser() for p in HOME_VENVS]
    if configuration_dir is not None:
        venvs += [(configuration_dir.expanduser() / p) for p in CHECKOUT_VENVS]
    venvs += [Path(p) for p in SYSTEM_VENVS]
    return [Path(os.path.normpath(v / "bin" / "ansible-playbook")) for v in venvs]


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_ansible_playbook(
    answer: str | Path | None, configuration_dir: Path | None
) -> FoundAnsible:
    """The answer ``ansible.ansible_playbook`` if set; else the configuration virtualenv; else PATH."""
    if answer:
        path = Path(answer).expanduser()
        if not _runnable(path):
            raise AnsibleError(
                f"ansible.ansible_playbook is {path}, which is not an executable file",
                "point it at the ansible-playbook of your edx/configuration virtualenv "
                "(e.g. ~/venvs/edx-configuration/bin/ansible-playbook), or leave it empty",
            )
        return FoundAnsible(path, _version_of(path))
    looked = _candidates(configuration_dir)
    for path in looked:
        if _runnable(path):
            return FoundAnsible(path, _version_of(path))
    on_path = shutil.which("ansible-playbook")
    if on_path:
        return FoundAnsible(Path(on_path), _version_of(Path(on_path)))
    checkout = configuration_dir or Path("~/configuration")
    raise AnsibleError(
        "no ansible-playbook found: not in " + ", ".join(str(p) for p in looked) + ", nor on PATH",
        f"create the edx/configuration virtualenv (python3 -m venv ~/venvs/edx-configuration, "
        f"then ~/venvs/edx-configuration/bin/pip install -r {checkout}/requirements.txt), "
        "or set ansible.ansible_playbook to its ansible-playbook",
    )


def _version_of(path: Path) -> str:
    quick = ansible_version(path)
    if quick:
        return quick
    try:
        result = subprocess.run(
            [str(path), "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(r"(\d+\.\d+\.\d+)", result.stdout)
    return match[1] if match else "unknown"


# --- the hosts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SSHHost:
    """An SSH login: the director (jump host)."""

    host: str
    port: int
    user: str
    key_file: Path
    known_hosts: Path

    @property
    def label(self) -> str:
        return f"{self.user}@{ssh.host_label(self.host, self.port)}"


@dataclass(frozen=True)
class Targets:
    """The analytics instances ansible configures, and how it reaches them."""

    hosts: tuple[str, ...]  # private IPs
    user: str
    key_file: Path
    known_hosts: Path
    port: int = 22
    jump: SSHHost | None = None  # the director, when the wizard runs elsewhere
    python_interpreter: str | None = None  # None: ansible discovers it on the host

    def __post_init__(self) -> None:
        if not self.hosts:
            raise AnsibleError(
                "there is no analytics host to run the playbooks on",
                "apply the terraform step, or set infrastructure.analytics_private_ips",
            )


@dataclass(frozen=True)
class HostKey:
    """A host key that matched known_hosts (or was just accepted and recorded)."""

    host: str
    port: int
    key_type: str
    fingerprint: str
    via: str | None = None  # the jump host's label, for a target behind it


class TargetHostKeyUnknown(ssh.HostKeyUnknown):
    """A host behind the director is not in known_hosts; the fix runs ssh-keyscan there."""

    def __init__(
        self,
        host: str,
        port: int,
        key_type: str,
        fingerprint: str,
        known_hosts: Path,
        jump: SSHHost,
    ):
        super().__init__(host, port, key_type, fingerprint, known_hosts)
        scan = shlex.join(["ssh-keyscan", "-p", str(port), host])
        on_director = shlex.join(
            [
                "ssh",
                "-i",
                str(jump.key_file),
                "-p",
                str(jump.port),
                f"{jump.user}@{jump.host}",
                scan,
            ]
        )
        # What the operator sees (explain() reads message and fix): the scan runs on the director.
        self.message = (
            f"the SSH host {ssh.host_label(host, port)} (reached through {jump.label}) is not "
            f"in {known_hosts}; it presents the {key_type} key {fingerprint}"
        )
        self.fix = (
            "check that fingerprint with the host's owner (on the host: ssh-keygen -lf "
            "/etc/ssh/ssh_host_*_key.pub) and accept it to continue (headless: run again with "
            f"{ssh.TRUST_OPTION} {fingerprint}, or add it to known_hosts, e.g. {on_director} >> "
            f"{known_hosts})"
        )
        self.args = (f"{self.message}. {self.fix[0].upper()}{self.fix[1:]}",)


def _prefer_known(transport: Any, known: dict[str, Any]) -> None:
    # Ask for the key type known_hosts holds, as OpenSSH does, so a host with several keys is
    # not mistaken for a changed one.
    options = transport.get_security_options()
    preferred = [t for t in known if t in options.key_types]
    options.key_types = preferred + [t for t in options.key_types if t not in preferred]


def _check_key(
    sock: Any,
    host: str,
    port: int,
    known_hosts: Path,
    *,
    accept: Collection[str],
    confirm: Callable[[ssh.HostKeyUnknown], bool] | None,
    record: bool,
    timeout: float,
    jump: SSHHost | None,
) -> HostKey:
    """Read the host key over ``sock`` and hold it against known_hosts (as ssh.open_tunnel)."""
    import paramiko  # type: ignore[import-untyped]

    known = ssh.known_keys(known_hosts, host, port)
    transport = paramiko.Transport(sock)
    try:
        if known:
            _prefer_known(transport, known)
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise AnsibleError(
                f"{ssh.host_label(host, port)} does not speak SSH as expected ({exc})",
                "check the analytics hosts' IPs and ansible.ssh_port",
            ) from None
        key = transport.get_remote_server_key()
    finally:
        transport.close()
    presented = ssh.fingerprint(key)
    if known:
        same_type = known.get(key.get_name())
        if same_type is None or same_type.asbytes() != key.asbytes():
            expected = ", ".join(ssh.fingerprint(k) for k in known.values())
            raise ssh.HostKeyChanged(host, port, expected, presented, known_hosts)
    else:
        unknown: ssh.HostKeyUnknown
        if jump is None:
            unknown = ssh.HostKeyUnknown(host, port, key.get_name(), presented, known_hosts)
        else:
            unknown = TargetHostKeyUnknown(host, port, key.get_name(), presented, known_hosts, jump)
        ssh.note_presented(unknown)
        if presented not in accept and not (confirm is not None and confirm(unknown)):
            raise unknown
        if record:
            ssh.record_host_key(known_hosts, host, port, key)
    return HostKey(host, port, key.get_name(), presented, jump.label if jump else None)


def host_keys(
    targets: Targets,
    *,
    accept: Collection[str] = (),
    confirm: Callable[[ssh.HostKeyUnknown], bool] | None = None,
    record: bool = True,
    timeout: float = ssh.CONNECT_TIMEOUT,
) -> list[HostKey]:
    """Check the host key of the director (if any) and of every target against known_hosts.

    Raises ``ssh.HostKeyUnknown`` (with the SHA256 fingerprint and the command that adds it) or
    ``ssh.HostKeyChanged``. An unknown key whose fingerprint is in ``accept``, or that
    ``confirm`` says yes to, is recorded in known_hosts (unless ``record`` is false)."""
    found: list[HostKey] = []

    def check(sock: Any, host: str, jump: SSHHost | None) -> None:
        found.append(
            _check_key(
                sock,
                host,
                targets.port,
                targets.known_hosts.expanduser(),
                accept=accept,
                confirm=confirm,
                record=record,
                timeout=timeout,
                jump=jump,
            )
        )

    if targets.jump is None:
        for host in targets.hosts:
            check(_connect(host, targets.port, timeout), host, None)
        return found
    jump = targets.jump
    director = ssh.JumpHost(
        host=jump.host,
        port=jump.port,
        user=jump.user,
        key_file=str(jump.key_file),
        known_hosts=str(jump.known_hosts),
    )
    with ssh.open_tunnel(
        director, accept=accept, confirm=confirm, record=record, timeout=int(timeout)
    ) as tunnel:
        key = tunnel.transport.get_remote_server_key()
        found.append(HostKey(jump.host, jump.port, key.get_name(), ssh.fingerprint(key)))
        for host in targets.hosts:
            check(_channel(tunnel, jump, host, targets.port, timeout), host, jump)
    return found


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise AnsibleError(
            f"cannot reach the analytics host {ssh.host_label(host, port)} over SSH "
            f"({getattr(exc, 'strerror', None) or exc})",
            "check its IP and that its security group admits SSH from this machine "
            "(from a laptop, set director.host so ansible goes through the director)",
        ) from None


def _channel(tunnel: ssh.Tunnel, jump: SSHHost, host: str, port: int, timeout: float) -> Any:
    import paramiko

    try:
        return tunnel.transport.open_channel(
            "direct-tcpip", (host, port), ("127.0.0.1", 0), timeout=timeout
        )
    except (paramiko.ChannelException, paramiko.SSHException, OSError) as exc:
        raise AnsibleError(
            f"the director {jump.label} cannot reach the analytics host "
            f"{ssh.host_label(host, port)} ({exc})",
            "check the analytics IPs and that the analytics security group admits SSH from "
            "the director's (AllowTcpForwarding must be on in the director's sshd)",
        ) from None


# --- one run's private data dir ---------------------------------------------------------------


@dataclass(frozen=True)
class Playbook:
    """Which playbook of the configuration checkout to run, and how."""

    configuration_dir: Path
    name: str  # e.g. analytics_single.yml (in <checkout>/playbooks) or a path of the operator's
    vars_files: tuple[Path, ...]  # -e @file, in this order (later files win)
    skip_tags: tuple[str, ...] = ()
    start_at_task: str | None = None
    limit: str | None = None
    check: bool = False  # --check: report what would change, change nothing

    @property
    def playbooks_dir(self) -> Path:
        return self.configuration_dir.expanduser().absolute() / "playbooks"

    @property
    def path(self) -> Path:
        given = Path(self.name).expanduser()
        return given.absolute() if given.is_absolute() else self.playbooks_dir / given


@dataclass(frozen=True)
class PreparedRun:
    """A private data dir ready for :func:`run_prepared` (in :mod:`wizard.ansible_child`)."""

    private_data_dir: Path
    ansible_playbook: Path
    argv: tuple[str, ...]  # the ansible-playbook command as ansible-runner will start it

    @property
    def artifacts_dir(self) -> Path:
        return artifacts_dir(self.private_data_dir)

    @property
    def shown(self) -> str:
        """The command for the preview and the run record (it holds no secret: vars are files)."""
        return shlex.join(self.argv)

    def child_argv(self) -> list[str]:
        """The command that runs it: a process of its own, e.g. through wizard.detached."""
        return child_argv(self.private_data_dir)


def artifacts_dir(private_data_dir: Path) -> Path:
    """Where ansible-runner writes the run's events, stdout, status and rc."""
    return private_data_dir / "artifacts" / IDENT


def child_argv(private_data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "wizard.ansible_child", str(private_data_dir)]


def _ssh_value(value: str | Path) -> str:
    """A path as ssh_config reads it: quoted, ``%`` doubled (ssh expands tokens in it)."""
    text = str(value)
    if '"' in text or "\n" in text:
        raise AnsibleError(
            f"the path {text!r} holds a double quote or a line break, which ssh cannot use",
            "move the file to a plain path",
        )
    return '"' + text.replace("%", "%%") + '"'


JUMP_ALIAS = "analytics-wizard-director"


def ssh_config(targets: Targets, control_dir: Path) -> str:
    """The run's ssh configuration: strict host keys, its own control sockets, the jump host."""
    lines = ["# Written by analytics-wizard for one ansible run; ansible uses it with -F."]
    if targets.jump is not None:
        jump = targets.jump
        # The first value ssh reads wins, so the director's block comes before "Host *".
        lines += [
            f"Host {JUMP_ALIAS}",
            f"  HostName {jump.host}",
            f"  Port {jump.port}",
            f"  User {jump.user}",
            f"  IdentityFile {_ssh_value(jump.key_file.expanduser())}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {_ssh_value(jump.known_hosts.expanduser())}",
            "  ControlMaster no",
            "  ControlPath none",
            "  ProxyJump none",  # or "Host *" below would send it through itself
        ]
    lines += [
        "Host *",
        "  StrictHostKeyChecking yes",
        f"  UserKnownHostsFile {_ssh_value(targets.known_hosts.expanduser())}",
        "  GlobalKnownHostsFile /dev/null",
        "  BatchMode yes",
        "  ServerAliveInterval 30",
        "  ControlMaster auto",
        f"  ControlPersist {CONTROL_PERSIST}",
        f"  ControlPath {_ssh_value(control_dir)}/%C",
    ]
    if targets.jump is not None:
        lines.append(f"  ProxyJump {JUMP_ALIAS}")
    return "\n".join(lines) + "\n"


def inventory(targets: Targets) -> dict[str, Any]:
    """The inventory: every target in ``all`` (the real playbooks' pattern) and ``analytics``."""
    host_vars: dict[str, Any] = {}
    if targets.port != 22:
        host_vars["ansible_port"] = targets.port
    if targets.python_interpreter:
        host_vars["ansible_python_interpreter"] = targets.python_interpreter
    hosts = {host: dict(host_vars) for host in targets.hosts}
    return {"all": {"children": {"analytics": {"hosts": hosts}}}}


def check_vars_files(files: Sequence[Path]) -> None:
    """Refuse vars files that would turn host-key checking off (extra vars beat everything)."""
    for path in files:
        try:
            text = path.expanduser().read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise AnsibleError(
                f"the vars file {path} does not exist",
                "run the files step first, or fix ansible.extra_vars_files",
            ) from None
        except OSError as exc:
            raise AnsibleError(f"cannot read the vars file {path} ({exc.strerror})") from None
        if _CHECKING_OFF.search(text):
            raise AnsibleError(
                f"the vars file {path} switches SSH host-key checking off",
                "remove ansible_host_key_checking / StrictHostKeyChecking=no from it: the "
                "wizard checks every host key against ansible.known_hosts",
            )


def _control_dir() -> Path:
    """A fresh name for the run's control socket directory, short enough for a socket path.

    The child creates it (and refuses one it did not create), so a run that is prepared but
    never started leaves nothing behind."""
    base = tempfile.gettempdir()
    if len(base) > 40:  # a unix socket path holds ~107 bytes; %C alone takes 40
        base = "/tmp"
    path = Path(tempfile.mkdtemp(prefix="aw-ssh-", dir=base))
    path.rmdir()
    return path


def environment(private_data_dir: Path, playbook: Playbook) -> dict[str, str]:
    """The ANSIBLE_* settings of a run; they beat the checkout's ansible.cfg."""
    env = {
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_ARGS": shlex.join(["-F", str(private_data_dir / SSH_CONFIG)]),
        "ANSIBLE_HOME": str(private_data_dir / "home"),
        "ANSIBLE_LOCAL_TEMP": str(private_data_dir / "tmp"),
        "ANSIBLE_LOG_PATH": str(private_data_dir / "ansible.log"),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_FORCE_COLOR": "False",
    }
    config = playbook.playbooks_dir / "ansible.cfg"
    if config.is_file():
        # Also read from the working directory; named so a world-writable checkout (ansible
        # then ignores the file in the current directory) still gets its settings.
        env["ANSIBLE_CONFIG"] = str(config)
    return env


def playbook_args(targets: Targets, playbook: Playbook) -> list[str]:
    """ansible-playbook's arguments before ansible-runner adds ``-i <inventory>``."""
    key = str(targets.key_file.expanduser().absolute())
    args = [str(playbook.path), "-u", targets.user, "--private-key", key]
    for path in playbook.vars_files:
        args += ["-e", f"@{path.expanduser()}"]
    if playbook.skip_tags:
        args += ["--skip-tags", ",".join(playbook.skip_tags)]
    if playbook.start_at_task:
        args += ["--start-at-task", playbook.start_at_task]
    if playbook.limit:
        args += ["--limit", playbook.limit]
    if playbook.check:
        args.append("--check")
    return args


def prepare_run(
    private_data_dir: Path, ansible_playbook: Path, playbook: Playbook, targets: Targets
) -> PreparedRun:
    """Write the private data dir (0700) of one run: inventory, env, cmdline, ssh config, spec."""
    if not playbook.path.is_file():
        raise AnsibleError(
            f"the playbook {playbook.path} does not exist",
            "point ansible.configuration_dir at your edx/configuration checkout (with "
            "playbooks/analytics_single.yml), or fix the playbook name",
        )
    if not targets.key_file.expanduser().is_file():
        raise AnsibleError(
            f"the analytics key file {targets.key_file} does not exist",
            "put the instances' private key there (ansible.private_key)",
        )
    check_vars_files(playbook.vars_files)
    ensure_private_dir(private_data_dir)
    for sub in ("inventory", "env", "home", "tmp"):
        ensure_private_dir(private_data_dir / sub)
    control_dir = _control_dir()
    args = playbook_args(targets, playbook)
    env = environment(private_data_dir, playbook)
    write = _writer(private_data_dir)
    write(SSH_CONFIG, ssh_config(targets, control_dir))
    write("inventory/hosts.yml", json.dumps(inventory(targets), indent=2) + "\n")
    write("env/envvars", json.dumps(env, indent=2) + "\n")
    write("env/cmdline", shlex.join(args) + "\n")
    # Nothing of ansible's output on the child's own stdout: the events and artifacts/stdout
    # hold it already.
    write("env/settings", json.dumps({"suppress_ansible_output": True}, indent=2) + "\n")
    spec = {
        "binary": str(ansible_playbook),
        "project_dir": str(playbook.playbooks_dir),
        "control_dir": str(control_dir),
    }
    write(SPEC, json.dumps(spec, indent=2) + "\n")
    inventory_dir = str(private_data_dir / "inventory")
    argv = (str(ansible_playbook), *args, "-i", inventory_dir)
    return PreparedRun(private_data_dir, ansible_playbook, argv)


def _writer(base: Path) -> Callable[[str, str], None]:
    def write(name: str, text: str) -> None:
        atomic_write(base / name, text, mode=SECRET_FILE_MODE)

    return write


# --- the child: ansible-runner in a process of its own ----------------------------------------


def clean_environment(environ: dict[str, str]) -> dict[str, str]:
    """What a run inherits of ``environ``: locale, paths, the ssh agent; no credentials."""
    kept = {
        name: value
        for name, value in environ.items()
        if name in KEPT_ENVIRONMENT or name == KEPT_AGENT or name.startswith(KEPT_PREFIXES)
    }
    kept.setdefault("PATH", os.defpath)
    return kept


def _forward(signum: int, private_data_dir: Path) -> bool:
    """Pass a stop request on to ansible-playbook (ansible-runner starts it in its own session);
    False when it is not running (yet)."""
    try:
        atomic_write(private_data_dir / STOPPED, signal.Signals(signum).name + "\n", mode=0o600)
    except OSError:
        pass
    forwarded = False
    for child in children(os.getpid()):
        try:
            os.killpg(os.getpgid(child), signal.SIGINT)
            forwarded = True
        except (ProcessLookupError, PermissionError):
            continue
    return forwarded


def _close_control_sockets(control_dir: Path) -> None:
    """Stop the run's ssh masters now rather than after ControlPersist, then drop the dir."""
    if not control_dir.is_dir():
        return
    try:
        for sock in control_dir.iterdir():
            subprocess.run(
                ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "analytics-wizard"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
                check=False,
            )
    except (OSError, subprocess.TimeoutExpired):
        pass  # a master that does not answer ends by itself after ControlPersist
    finally:
        shutil.rmtree(control_dir, ignore_errors=True)


def _own_control_dir(path: Path) -> None:
    """Create the run's control socket directory; one that is already there may not be ours."""
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        raise AnsibleError(
            f"the ssh control directory {path} already exists (another run, or someone else's)",
            "start the playbook again: each run prepares a new one",
        ) from None
    os.chmod(path, PRIVATE_DIR_MODE)


def run_prepared(private_data_dir: Path) -> int:
    """Run a prepared private data dir with ansible-runner, in this process; ansible's exit code.

    SIGINT, SIGTERM and SIGHUP ask ansible-playbook to stop (SIGINT to its process group: it
    ends the current task and exits); the signal's name is written to ``stopped``."""
    spec = json.loads((private_data_dir / SPEC).read_text(encoding="utf-8"))
    control_dir = Path(spec["control_dir"])
    _own_control_dir(control_dir)
    inherited = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean_environment(inherited))
    stop = {"asked": False, "forwarded": False}

    def on_signal(signum: int, _frame: object) -> None:
        stop["asked"] = True
        stop["forwarded"] = _forward(signum, private_data_dir) or stop["forwarded"]

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    import ansible_runner  # type: ignore[import-untyped]

    os.umask(0o077)
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            ident=IDENT,
            binary=spec["binary"],
            project_dir=spec["project_dir"],
            quiet=True,
            suppress_env_files=True,
            # ansible's default (facts in memory): facts are not written into the artifacts.
            fact_cache_type="memory",
            # Asked to stop before ansible-playbook was there to hear it: runner ends it.
            cancel_callback=lambda: stop["asked"] and not stop["forwarded"],
        )
    finally:
        _close_control_sockets(control_dir)
    rc = runner.rc
    return rc if isinstance(rc, int) else 1


# --- --list-tasks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlayTasks:
    """One play as ``ansible-playbook --list-tasks`` lists it."""

    name: str
    pattern: str
    tasks: tuple[str, ...]  # "role : task" or "task", tasks skipped by tag left out


_PLAY = re.compile(r"^\s+play #\d+ \((?P<pattern>.*?)\): (?P<name>.*?)\s*\tTAGS: \[.*\]\s*$")
_TASK = re.compile(r"^\s{6,}(?P<name>\S.*?)\s*\tTAGS: \[.*\]\s*$")


def parse_list_tasks(text: str) -> list[PlayTasks]:
    """The plays and their tasks from ``--list-tasks`` output (ansible 2.10 to 2.19)."""
    plays: list[PlayTasks] = []
    name = pattern = ""
    tasks: list[str] = []
    in_play = False
    for line in text.splitlines():
        play = _PLAY.match(line)
        if play:
            if in_play:
                plays.append(PlayTasks(name, pattern, tuple(tasks)))
            name, pattern, tasks, in_play = play["name"], play["pattern"], [], True
            continue
        task = _TASK.match(line)
        if task and in_play:
            tasks.append(task["name"])
    if in_play:
        plays.append(PlayTasks(name, pattern, tuple(tasks)))
    return plays


def tasks_from(plays: Sequence[PlayTasks], start_at_task: str | None) -> int:
    """How many tasks a run will start: all of them, or those from ``--start-at-task`` on."""
    names = [task for play in plays for task in play.tasks]
    if not start_at_task:
        return len(names)
    import fnmatch

    for index, task in enumerate(names):
        short = task.split(" : ", 1)[-1]
        if start_at_task in (task, short) or fnmatch.fnmatch(task, start_at_task):
            return len(names) - index
    return 0


def list_tasks(
    ansible_playbook: Path,
    playbook: Playbook,
    targets: Targets,
    *,
    timeout: float = LIST_TASKS_TIMEOUT,
) -> list[PlayTasks]:
    """``ansible-playbook --list-tasks`` (no host is contacted) parsed into plays and tasks."""
    with tempfile.TemporaryDirectory(prefix="aw-list-") as scratch:
        prepared = prepare_run(Path(scratch) / "run", ansible_playbook, playbook, targets)
        env = clean_environment(dict(os.environ))
        env.update(environment(prepared.private_data_dir, playbook))
        cwd = playbook.playbooks_dir if playbook.playbooks_dir.is_dir() else Path(scratch)
        try:
            result = subprocess.run(
                [*prepared.argv, "--list-tasks"],
                capture_output=True,
                text=True,
                env=env,
                cwd=cwd,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise AnsibleError(
                f"ansible-playbook --list-tasks {playbook.name} did not finish in {timeout:.0f} s",
                "run it by hand in the checkout's playbooks directory to see why",
            ) from None
        except OSError as exc:
            raise AnsibleError(
                f"cannot start {ansible_playbook} ({exc.strerror})",
                "check ansible.ansible_playbook",
            ) from None
    if result.returncode != 0:
        raise AnsibleError(
            f"ansible-playbook --list-tasks {playbook.name} failed: {_last_error(result)}",
            "the playbook must load with this ansible (edx/configuration needs the ansible its "
            "requirements.txt pins, in its own virtualenv: see ansible.ansible_playbook)",
        )
    return parse_list_tasks(result.stdout)


def _last_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines()]
    errors = [line for line in lines if line.startswith(("ERROR", "[ERROR]"))]
    chosen = errors[:1] or [line for line in lines if line][-1:] or ["no message"]
    return chosen[0][:400]
