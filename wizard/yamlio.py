"""YAML reading and writing with ruamel.yaml (round-trip, so comments and order survive)."""

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
    """Parse YAML text; errors name ``source`` and the line."""
    try:
        return _yaml().load(text)
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
