"""Masking secrets in anything shown or logged, in every encoding the files use."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable

MASK = "********"


def variants(secret: str) -> set[str]:
    """The ways ``secret`` can appear in our files: raw, JSON, YAML and shell quoting, cfg ``%%``."""
    forms = {
        secret,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
        secret.replace("'", "''"),
        secret.replace("\\", "\\\\").replace('"', '\\"'),
        secret.replace("%", "%%"),
        shlex.quote(secret),
        secret.replace("'", "'\"'\"'"),
        secret.replace("'", "'\\''"),
        repr(secret)[1:-1],  # Python's quoting, e.g. a parser quoting the line it choked on
    }
    return {form for form in forms if len(form) >= 4}


class Redactor:
    """Replaces every known secret (longest first) with a mask."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._forms: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        forms = set(self._forms)
        for secret in secrets:
            if secret:
                forms |= variants(secret)
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text
