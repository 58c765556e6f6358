"""What the stand-ins keep across a stop: moto's AWS account and the Jenkins stand-in's state.

moto keeps its resources in memory, in one ``BackendDict`` per service. On a graceful stop the
stand-ins process pickles every loaded one in a single dump (objects that refer to each other
across services stay the same object), and on the next start loads it back into the live
``BackendDict`` objects before the server answers. The Jenkins stand-in's jobs and settings go
to a JSON file. Both live in the demo's state directory (0700), written 0600 and atomically.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

MOTO_FILE = "aws-standin.pickle"
JENKINS_FILE = "jenkins-standin.json"


class Unreadable(Exception):
    """A saved state file is missing or cannot be loaded."""


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600) through a temp file beside it, fsync and rename."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def has_saved(state: Path) -> bool:
    """Whether ``state`` holds what a gracefully stopped demo saved."""
    return (state / MOTO_FILE).is_file() and (state / JENKINS_FILE).is_file()


def forget(state: Path) -> None:
    """Delete the saved state (once loaded: a stand-in killed later must not resume from it)."""
    for name in (MOTO_FILE, JENKINS_FILE):
        with contextlib.suppress(FileNotFoundError):
            (state / name).unlink()


# --- moto ------------------------------------------------------------------------------------


def _live_backends() -> dict[tuple[str, str], Any]:
    """Every moto ``BackendDict`` bound in a loaded moto module: (module, name) -> it, once each."""
    from moto.core.base_backend import BackendDict

    found: dict[tuple[str, str], Any] = {}
    seen: set[int] = set()
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("moto.") or module is None:
            continue
        for name, value in sorted(vars(module).items()):
            if isinstance(value, BackendDict) and id(value) not in seen:
                seen.add(id(value))
                found[(module_name, name)] = value
    return found


def _private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, password=None)


def _public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_public_key(pem)


class _Pickler(pickle.Pickler):
    """Pickles moto's objects; the keys some of them hold (cryptography's, which do not pickle)
    as PEM."""

    def reducer_override(self, obj: Any) -> Any:
        if not type(obj).__module__.startswith("cryptography.hazmat"):
            return NotImplemented
        from cryptography.hazmat.primitives import serialization

        if hasattr(obj, "private_bytes"):
            pem = obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return _private_key, (pem,)
        if hasattr(obj, "public_bytes"):
            pem = obj.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return _public_key, (pem,)
        return NotImplemented


def _dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def save_moto(state: Path) -> int:
    """Pickle every moto service holding resources into ``state``; how many services."""
    from moto.core.base_backend import backend_lock

    with backend_lock:
        used = {where: dict(backends) for where, backends in _live_backends().items() if backends}
        try:
            data = _dumps(used)
        except Exception as exc:
            failing = []
            for (module_name, name), accounts in used.items():
                try:
                    _dumps(accounts)
                except Exception:
                    failing.append(f"{module_name}.{name}")
            raise Unreadable(
                f"moto's account cannot be saved ({exc}; in {', '.join(failing) or '?'})"
            ) from None
    write_private(state / MOTO_FILE, data)
    return len(used)


def restore_moto(state: Path) -> int:
    """Load the saved account into moto's live backends (before the server starts); how many
    services. :class:`Unreadable` when the file is missing or cannot be loaded."""
    from moto.core.base_backend import BackendDict, backend_lock

    try:
        data = (state / MOTO_FILE).read_bytes()
        # The only pickle ever loaded: written by the demo's own stand-ins process into its own
        # 0700 state directory (never data from elsewhere).
        used = pickle.loads(data)
        if not isinstance(used, dict):
            raise TypeError(f"a {type(used).__name__}, not the saved services")
        with backend_lock:
            for (module_name, name), accounts in used.items():
                live = getattr(importlib.import_module(module_name), name)
                if not isinstance(live, BackendDict):
                    raise TypeError(f"{module_name}.{name} is not a moto backend")
                live.clear()
                live.update(accounts)
                # moto's reset API resets only the services it lists as in use
                in_use: list[Any] = BackendDict._instances  # type: ignore[misc]
                if live not in in_use:
                    in_use.append(live)
    except Exception as exc:
        raise Unreadable(f"{MOTO_FILE}: {exc.__class__.__name__}: {exc}") from None
    return len(used)


# --- Jenkins ---------------------------------------------------------------------------------

JENKINS_FIELDS = ("jobs", "executors", "admin_email")


def save_jenkins(state: Path, jenkins: Any) -> None:
    """The Jenkins stand-in's jobs and settings into ``state`` (JSON)."""
    with jenkins._lock:
        kept = {field: getattr(jenkins, field) for field in JENKINS_FIELDS}
    write_private(state / JENKINS_FILE, (json.dumps(kept, indent=2) + "\n").encode())


def restore_jenkins(state: Path, jenkins: Any) -> None:
    """Put the saved jobs and settings back into ``jenkins``; :class:`Unreadable` if they are
    missing or not what :func:`save_jenkins` wrote."""
    try:
        kept = json.loads((state / JENKINS_FILE).read_text(encoding="utf-8"))
        jobs, executors, email = (kept[field] for field in JENKINS_FIELDS)
        if not (isinstance(jobs, dict) and isinstance(executors, int) and isinstance(email, str)):
            raise ValueError("unexpected values")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Unreadable(f"{JENKINS_FILE}: {exc}") from None
    jenkins.jobs = {str(name): str(xml) for name, xml in jobs.items()}
    jenkins.executors = executors
    jenkins.admin_email = email
