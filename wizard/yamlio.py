"""YAML with ruamel.yaml: round-trip for files people edit (comments and order survive), and a
fast plain loader (libyaml through ruamel.yaml.clib when present) for the wizard's own state."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


class YamlFileError(ValueError):
    """A YAML file that cannot be read; the message names the file and the line."""


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold long values onto a second line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def loads(text: str, source: str = "<text>") -> Any:
    """Parse YAML text keeping comments and quoting; errors name ``source`` and the line."""
    return _load(_yaml(), text, source)


def load_data(path: Path) -> Any:
    """Plain data from a YAML file (no comments kept): the ledger and the answers, read at
    start-up, where the round-trip loader would cost a visible fraction of a second."""
    return _load(YAML(typ="safe"), path.read_text(encoding="utf-8"), str(path))


def _load(yaml: YAML, text: str, source: str) -> Any:
    try:
        return yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise YamlFileError(f"{source}{where}: {problem}") from None


def load(path: Path) -> Any:
    return loads(path.read_text(encoding="utf-8"), str(path))


def dumps(data: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(data, stream)
    return stream.getvalue()
