"""The four file formats of the secure repo, edited key by key so everything else survives.

Each document reads and writes the values the wizard owns, encoded so the consumer gets them
literally:

- YAML read by ansible: strings with Jinja2 markers are tagged ``!unsafe`` (never templated);
- ``jenkins_env`` sourced by bash: single-quoted words;
- the pipeline's ``.cfg`` read by ConfigParser with interpolation: ``%`` doubled;
- JSON creds files: JSON strings.

A :class:`Literal` is operator or generated text and must arrive unchanged; a :class:`Template`
is wizard-authored consumer syntax (a Jinja2 expression, a ``${VAR}`` reference) meant to be
evaluated. Values are compared in their canonical (decoded) form, so an equivalent hand-written
quoting is not mistaken for a change.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import yamlio


@dataclass(frozen=True)
class Literal:
    """Text that must reach the consumer exactly as given."""

    text: str


@dataclass(frozen=True)
class Template:
    """Consumer syntax written by the wizard on purpose (Jinja2, shell ``${VAR}``)."""

    text: str


@dataclass(frozen=True)
class Unsafe:
    """Canonical form of a YAML string tagged ``!unsafe``."""

    text: str


@dataclass(frozen=True)
class ShellExpansion:
    """Canonical form of a shell word that expands variables or commands."""

    raw: str


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
JINJA_MARKERS = ("{{", "{%", "{#")
PLACEHOLDER_NOTE = re.compile(r"#.*\b(TODO|SET ME|FIXME)\b", re.IGNORECASE)
PLACEHOLDER_VALUES = frozenset({"x", "", "TODO", "SET ME"})


def is_placeholder(value: Any) -> bool:
    """A value left for the operator to fill in, like the runbook's ``'x'  # TODO``."""
    if isinstance(value, str):
        return value.strip() in PLACEHOLDER_VALUES or "SET ME" in value
    return value is None or value is MISSING


class DocumentError(ValueError):
    """An existing file that cannot be parsed; the message names the file and the problem."""


class Document(Protocol):
    def get(self, key: str) -> Any:
        """Canonical value of ``key``, or MISSING."""
        ...

    def set(self, key: str, value: Any) -> None: ...

    def canonical(self, value: Any) -> Any:
        """What ``get`` would return after ``set(key, value)``."""
        ...

    def render(self) -> str: ...


# --- YAML --------------------------------------------------------------------------------


class YamlDocument:
    """A YAML mapping edited with ruamel's round-trip loader; comments and order survive."""

    def __init__(self, text: str, source: str):
        try:
            data = yamlio.loads(text, source) if text.strip() else None
        except yamlio.YamlFileError as exc:
            raise DocumentError(str(exc)) from None
        if data is None:
            data = yamlio.loads("{}\n")
        if not isinstance(data, Mapping):
            raise DocumentError(f"{source}: expected a mapping of variables at the top level")
        self.data: Any = data
        self.explicit_start = text.lstrip().startswith("---")

    def get(self, key: str) -> Any:
        if key not in self.data:
            return MISSING
        return _yaml_canonical(self.data[key])

    def set(self, key: str, value: Any) -> None:
        # Assigning in place keeps the key's position and its end-of-line comment, except a
        # "TODO: replace this" note, which is answered now.
        self.data[key] = _yaml_encode(value)
        comment = self.data.ca.items.get(key, [None, None, None])[2]
        if comment is not None and PLACEHOLDER_NOTE.search(comment.value.partition("\n")[0]):
            _, newline, rest = comment.value.partition("\n")
            comment.value = newline + rest

    def canonical(self, value: Any) -> Any:
        return _yaml_canonical(_yaml_encode(value))

    def render(self) -> str:
        text = yamlio.dumps(self.data)
        if self.explicit_start and not text.startswith("---"):
            text = "---\n" + text
        return text


def _needs_unsafe(text: str) -> bool:
    return any(marker in text for marker in JINJA_MARKERS)


_YAML_BREAKS = ("\x85", "\u2028", "\u2029")


def _yaml_encode(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if isinstance(value, Literal):
        # YAML 1.1 (ansible's PyYAML) reads NEL and the Unicode line and paragraph separators
        # as line breaks and folds them into a space inside single quotes; double quotes
        # escape them.
        style = '"' if any(ch in value.text for ch in _YAML_BREAKS) else "'"
        if _needs_unsafe(value.text):
            return TaggedScalar(value.text, style=style, tag="!unsafe")
        if style == '"':
            return DoubleQuotedScalarString(value.text)
        return SingleQuotedScalarString(value.text)
    if isinstance(value, Template):
        if "'" in value.text:
            return DoubleQuotedScalarString(value.text)
        return SingleQuotedScalarString(value.text)
    if isinstance(value, Mapping):
        mapping = CommentedMap()
        for k, v in value.items():
            mapping[k] = _yaml_encode(v)
        return mapping
    if isinstance(value, list | tuple):
        seq = CommentedSeq()
        seq.extend(_yaml_encode(v) for v in value)
        return seq
    if isinstance(value, str):
        return SingleQuotedScalarString(value)
    return value


def _yaml_canonical(value: Any) -> Any:
    from ruamel.yaml.comments import TaggedScalar

    if isinstance(value, TaggedScalar):
        tag = str(value.tag.value if hasattr(value.tag, "value") else value.tag)
        if tag == "!unsafe":
            return Unsafe(str(value.value))
        return (tag, str(value.value))
    if isinstance(value, Mapping):
        return {str(k): _yaml_canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_canonical(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


# --- shell environment file ---------------------------------------------------------------

_ASSIGNMENT = re.compile(
    r"^(?P<lead>\s*(?:export\s+)?)(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<rest>.*)$"
)


class EnvDocument:
    """``export NAME=value`` lines as bash sources them; other lines are kept as they are."""

    def __init__(self, text: str, source: str):
        self.source = source
        # Lines as bash reads them: only a newline ends one (str.splitlines would also split
        # at characters such as U+2028 that a quoted value may hold).
        self.lines = text.split("\n")
        if self.lines[-1] == "":
            self.lines.pop()
        self.index: dict[str, int] = {}
        for number, line in enumerate(self.lines):
            match = _ASSIGNMENT.match(line)
            if match:
                self.index[match["name"]] = number

    def _split(self, line: str) -> tuple[str, str, str, str]:
        match = _ASSIGNMENT.match(line)
        assert match is not None
        word, tail = _shell_word(match["rest"])
        return match["lead"], match["name"], word, tail

    def get(self, key: str) -> Any:
        if key not in self.index:
            return MISSING
        _, _, word, _ = self._split(self.lines[self.index[key]])
        return _shell_canonical(word)

    def set(self, key: str, value: Any) -> None:
        word = _shell_encode(value)
        if key in self.index:
            lead, name, _, tail = self._split(self.lines[self.index[key]])
            if PLACEHOLDER_NOTE.search(tail):
                tail = ""
            self.lines[self.index[key]] = f"{lead}{name}={word}{tail}"
        else:
            self.index[key] = len(self.lines)
            self.lines.append(f"export {key}={word}")

    def canonical(self, value: Any) -> Any:
        return _shell_canonical(_shell_encode(value))

    def render(self) -> str:
        return "\n".join(self.lines) + "\n"


def _shell_encode(value: Any) -> str:
    if isinstance(value, Template):
        return f'"{value.text}"'
    text = value.text if isinstance(value, Literal) else str(value)
    return shlex.quote(text)


def _shell_word(rest: str) -> tuple[str, str]:
    """Split the right-hand side of an assignment into the word and what follows it."""
    i = 0
    quote = ""
    while i < len(rest):
        ch = rest[i]
        if quote == "'":
            if ch == "'":
                quote = ""
        elif quote == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            i += 1
        elif ch.isspace() or ch == ";":
            break
        i += 1
    return rest[:i], rest[i:]


def _shell_canonical(word: str) -> Any:
    """The value bash gives ``word``, or ShellExpansion when it would expand something."""
    out = []
    i = 0
    quote = ""
    while i < len(word):
        ch = word[i]
        if quote == "'":
            if ch == "'":
                quote = ""
            else:
                out.append(ch)
        elif quote == '"':
            if ch == "\\" and i + 1 < len(word) and word[i + 1] in '$`"\\':
                out.append(word[i + 1])
                i += 1
            elif ch == '"':
                quote = ""
            elif ch in "$`":
                return ShellExpansion(word)
            else:
                out.append(ch)
        elif ch in "'\"":
            quote = ch
        elif ch == "\\" and i + 1 < len(word):
            out.append(word[i + 1])
            i += 1
        elif ch in "$`":
            return ShellExpansion(word)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


# --- ConfigParser .cfg --------------------------------------------------------------------


class CfgDocument:
    """A luigi/ConfigParser file edited with ConfigUpdater; comments and order survive.

    Keys are ``section.option``.
    """

    def __init__(self, text: str, source: str):
        from configupdater import ConfigUpdater

        self.updater = ConfigUpdater(allow_no_value=False, strict=False)
        try:
            self.updater.read_string(text, source=source)
        except Exception as exc:  # configparser raises several unrelated error types
            raise DocumentError(f"{source}: {exc}") from None

    @staticmethod
    def _split(key: str) -> tuple[str, str]:
        section, _, option = key.partition(".")
        return section, option

    def get(self, key: str) -> Any:
        section, option = self._split(key)
        if not self.updater.has_option(section, option):
            return MISSING
        value = self.updater[section][option].value
        return "" if value is None else str(value).strip()

    def set(self, key: str, value: Any) -> None:
        section, option = self._split(key)
        if not self.updater.has_section(section):
            if self.updater.sections():
                last = self.updater[self.updater.sections()[-1]]
                last.add_after.space().section(section)
            else:
                self.updater.add_section(section)
        target = self.updater[section]
        encoded = _cfg_encode(value)
        if target.has_option(option):
            target[option] = encoded
            return
        # A new option goes after the section's last option (or before its trailing blank
        # lines), not after the blank line that separates it from the next section.
        blocks = list(target.iter_blocks())
        options = target.option_blocks()
        if options:
            options[-1].add_after.option(option, encoded)
            return
        trailing = len(blocks)
        while trailing > 0 and type(blocks[trailing - 1]).__name__ == "Space":
            trailing -= 1
        if trailing < len(blocks):
            blocks[trailing].add_before.option(option, encoded)
        else:
            target[option] = encoded

    def canonical(self, value: Any) -> Any:
        return _cfg_encode(value)

    def render(self) -> str:
        return str(self.updater)


def _cfg_encode(value: Any) -> str:
    if isinstance(value, Template):
        return value.text
    if isinstance(value, Literal):
        return value.text.replace("%", "%%")
    if isinstance(value, list):
        # luigi reads list parameters as JSON.
        return json.dumps([_plain_text(v) for v in value], ensure_ascii=False).replace("%", "%%")
    return str(value)


def _plain_text(value: Any) -> Any:
    return value.text if isinstance(value, Literal | Template) else value


# --- JSON ---------------------------------------------------------------------------------


class JsonDocument:
    """A JSON object; keys the wizard does not own are kept."""

    def __init__(self, text: str, source: str):
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise DocumentError(
                f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})"
            ) from None
        if not isinstance(data, dict):
            raise DocumentError(f"{source}: expected a JSON object")
        self.data: dict[str, Any] = data

    def get(self, key: str) -> Any:
        return self.data.get(key, MISSING)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = _plain_text(value)

    def canonical(self, value: Any) -> Any:
        return _plain_text(value)

    def render(self) -> str:
        return json.dumps(self.data, indent=2, ensure_ascii=False) + "\n"


FORMATS: dict[
    str, type[YamlDocument] | type[EnvDocument] | type[CfgDocument] | type[JsonDocument]
] = {
    "yaml": YamlDocument,
    "env": EnvDocument,
    "cfg": CfgDocument,
    "json": JsonDocument,
}


def parse(kind: str, text: str, source: str) -> Document:
    return FORMATS[kind](text, source)
