"""The step ledger, ``.wizard/state.yml``: what each step did, with which inputs, and its outputs.

The ledger never holds a secret. Inputs are recorded as keyed digests (HMAC-SHA256 with a key kept
in secrets.yml), one per input, so ``status`` can name which answer changed without the ledger
revealing any value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import yamlio
from .errors import StateError
from .fsutil import atomic_write, safe_read_bytes

SCHEMA_VERSION = 2


class LedgerError(StateError):
    """A ledger this version cannot use (exit 5)."""


FIX = "move it aside (the steps then count as not run) or restore it from git, then run again"


def digest(key: str, value: Any) -> str:
    """Keyed digest of one input value; equal values give equal digests in one secure repo."""
    # Loaded when first needed (the step states are worked out after the first paint):
    # hashlib sets up OpenSSL's digests, a visible share of the start-up's time and memory.
    import hashlib
    import hmac

    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hmac.new(key.encode(), canonical.encode(), hashlib.sha256).hexdigest()[:32]


def input_digests(key: str, inputs: Mapping[str, Any]) -> dict[str, str]:
    return {name: digest(key, value) for name, value in sorted(inputs.items())}


@dataclass
class StepRecord:
    """One step's entry in the ledger."""

    status: str  # done | failed
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    finished_at: str = ""
    reason: str = ""

    @property
    def input_hash(self) -> str:
        """One hash over all input digests (what SPEC §3 calls the hash of its inputs)."""
        import hashlib

        return hashlib.sha256(json.dumps(self.inputs, sort_keys=True).encode()).hexdigest()[:16]

    def to_yaml(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "status": self.status,
            "finished_at": self.finished_at,
            "input_hash": self.input_hash,
            "inputs": dict(self.inputs),
            "outputs": dict(self.outputs),
        }
        if self.reason:
            data["reason"] = self.reason
        return data


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class Ledger:
    path: Path
    steps: dict[str, StepRecord] = field(default_factory=dict)

    @staticmethod
    def path_in(repo: Path) -> Path:
        """Where the ledger of the secure repo ``repo`` is."""
        return repo / ".wizard" / "state.yml"

    @classmethod
    def load(cls, path: Path) -> Ledger:
        """The ledger at ``path`` (empty when missing); one of the wrong shape is a LedgerError
        naming the file, never half-read."""
        try:
            raw_bytes = safe_read_bytes(path)
        except FileNotFoundError:
            return cls(path)
        try:
            data = yamlio.loads_data(yamlio.decode(raw_bytes, str(path)), str(path))
        except yamlio.YamlFileError as exc:
            raise LedgerError(str(exc), FIX) from None
        data = {} if data is None else data
        _expect(path, "the file", data, Mapping, "a mapping (schema_version, steps)")
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise LedgerError(f"{path}: schema_version must be a whole number", FIX)
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"{path} was written by a newer analytics-wizard (ledger schema {version}, this "
                f"version reads up to {SCHEMA_VERSION})",
                "upgrade analytics-wizard to continue",
            )
        _expect(path, "steps", data.get("steps") or {}, Mapping, "a mapping of step names")
        for name, raw in (data.get("steps") or {}).items():
            _expect(path, f"steps.{name}", raw, Mapping, "a mapping (status, inputs, outputs)")
            for part in ("inputs", "outputs"):
                _expect(path, f"steps.{name}.{part}", raw.get(part) or {}, Mapping, "a mapping")
        if version < 2:
            data = _migrate_v1(data)
        steps = {}
        for name, raw in (data.get("steps") or {}).items():
            steps[str(name)] = StepRecord(
                status=str(raw.get("status", "failed")),
                inputs={str(k): str(v) for k, v in (raw.get("inputs") or {}).items()},
                outputs=_plain(raw.get("outputs") or {}),
                finished_at=str(raw.get("finished_at", "")),
                reason=str(raw.get("reason", "")),
            )
        return cls(path, steps)

    def save(self) -> None:
        doc = {
            "schema_version": SCHEMA_VERSION,
            "steps": {name: rec.to_yaml() for name, rec in self.steps.items()},
        }
        atomic_write(self.path, "# analytics-wizard step ledger (no secrets)\n" + yamlio.dumps(doc))

    def record(self, step: str, rec: StepRecord) -> None:
        rec.finished_at = rec.finished_at or now()
        self.steps[step] = rec
        self.save()

    def output(self, step: str, name: str) -> Any:
        rec = self.steps.get(step)
        if rec is None or rec.status != "done":
            return None
        return rec.outputs.get(name)


def _expect(path: Path, where: str, value: Any, kind: type, wanted: str) -> None:
    if not isinstance(value, kind):
        raise LedgerError(f"{path}: {where} must be {wanted}, not {type(value).__name__}", FIX)


def _migrate_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """Schema 1 kept one opaque ``input_hash`` per step; it cannot name changed inputs, so the
    step is treated as changed (stale) and re-verified, but nothing is lost."""
    steps = {}
    for name, raw in (data.get("steps") or {}).items():
        migrated = dict(raw)
        migrated["inputs"] = {"(schema 1 input hash)": str(raw.get("input_hash", ""))}
        steps[name] = migrated
    return {"schema_version": 2, "steps": steps}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value
