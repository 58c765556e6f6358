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


# Nesting deeper than this is no answers or state file; libyaml's constructor even crashes the
# interpreter on a few ten thousand levels, so such a file is refused before it is built.
MAX_DEPTH = 50


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
    return loads_data(decode(path.read_bytes(), str(path)), str(path))


def decode(data: bytes, source: str) -> str:
    """``data`` as UTF-8 text; anything else (binary content) is a YamlFileError."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError(
            f"{source} is not a UTF-8 text file (byte {data[exc.start]:#04x} at offset {exc.start})"
        ) from None


def loads_data(text: str, source: str = "<text>") -> Any:
    """Plain data from YAML text, refusing aliases (``*name``) and absurd nesting.

    The plain loader expands aliases, so a few lines of them (a "billion laughs") make an
    object graph that hangs whatever walks it; answers and state never need one."""
    yaml = YAML(typ="safe")
    _check_structure(yaml, text, source)
    return _load(yaml, text, source)


def _check_structure(yaml: YAML, text: str, source: str) -> None:
    from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent

    depth = 0
    try:
        for event in yaml.parse(text):
            if isinstance(event, AliasEvent):
                raise YamlFileError(
                    f"{source} line {event.start_mark.line + 1}: uses a YAML alias "
                    f"(*{event.anchor}); aliases are not allowed here, write the value out"
                )
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlFileError(
                        f"{source} line {event.start_mark.line + 1}: nested more than "
                        f"{MAX_DEPTH} levels deep"
                    )
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError as exc:
        raise _error(exc, source) from None


def _load(yaml: YAML, text: str, source: str) -> Any:
    try:
        return yaml.load(text)
    except YAMLError as exc:
        raise _error(exc, source) from None


def _error(exc: YAMLError, source: str) -> YamlFileError:
    """One line naming the file and the line; never the offending text (it may be a secret)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" line {mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None)
    if problem is None and getattr(exc, "reason", None):  # the reader: a character YAML refuses
        character = getattr(exc, "character", None)
        shown = f" #x{character:04x}" if isinstance(character, int) else ""
        problem = f"not a YAML text file (unacceptable character{shown})"
    if problem and problem.startswith("found duplicate key"):
        problem = problem.split(" with value ", 1)[0]  # the values may be secrets
    return YamlFileError(f"{source}{where}: {problem or 'not valid YAML'}")


def load(path: Path) -> Any:
    return loads(path.read_text(encoding="utf-8"), str(path))


def dumps(data: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(data, stream)
    return stream.getvalue()
