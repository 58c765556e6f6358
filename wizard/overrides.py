"""Overrides of failing checks that stand while the answers each check reads are unchanged.

An override is kept with the keyed digests (never the values) of the answers its check reads:
those of the overrides the step recorded in the ledger, and those decided in this session and
not recorded yet. A changed answer means the operator's earlier judgement was about something
else, so the override no longer applies and the check shows failing again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .fields import FieldError
from .steps.base import OVERRIDE

if TYPE_CHECKING:
    from .engine import Session
    from .steps import Step


def check_inputs(step: Step, cid: str) -> tuple[str, ...]:
    """The answers check ``cid`` reads (all the step's inputs when the step does not say)."""
    return tuple(step.check_inputs.get(cid, step.inputs))


def _value(session: Session, key: str) -> Any:
    # As the step's plan records its inputs: an answer that cannot be worked out is None.
    try:
        return session.resolved.get(key)
    except (FieldError, ValueError):
        return None


def fingerprint(session: Session, step: Step, cid: str) -> dict[str, str]:
    """The digests of the answers check ``cid`` reads, as they are now."""
    keys = check_inputs(step, cid)
    return session.input_digests({key: _value(session, key) for key in keys})


def remember(session: Session, step: Step, cid: str) -> None:
    """Keep the operator's override of ``cid`` for the answers as they are now."""
    session.overrides.setdefault(step.name, {})[cid] = fingerprint(session, step, cid)


def standing(session: Session, step: Step) -> dict[str, str]:
    """The override decisions (``override:<id>`` = ``yes``) whose answers are unchanged."""
    kept: dict[str, Mapping[str, str]] = {}
    record = session.ledger.steps.get(step.name)
    if record is not None:
        for cid in record.outputs.get("overrides", []):
            keys = check_inputs(step, cid)
            kept[cid] = {key: record.inputs.get(key, "") for key in keys}
    kept.update(session.overrides.get(step.name, {}))
    return {
        OVERRIDE + cid: "yes"
        for cid, digests in kept.items()
        if digests == fingerprint(session, step, cid)
    }
