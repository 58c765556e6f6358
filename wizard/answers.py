"""The operator's answers: loading, validating, saving, deriving defaults, generating secrets.

Non-secret answers live in ``.wizard/answers.yml`` (shareable for review), secret ones and the
secrets the wizard generated in ``.wizard/secrets.yml`` (0600). Both use the answers-file format
of SPEC §8, grouped by step.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import yamlio
from .errors import UsageError
from .fields import BY_KEY, FIELDS, GROUP_TITLES, GROUPS, Field, FieldError
from .fsutil import SECRET_FILE_MODE, atomic_write, safe_read_bytes
from .redact import mask_credentials

# Letters and digits only: nothing YAML, JSON, a shell, SQL, ConfigParser or Jinja2 treats specially.
SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 40
INTERNAL_GROUP = "_wizard"


def generate_secret(length: int = SECRET_LENGTH) -> str:
    import secrets  # hashlib behind it: loaded when a secret is made, not at start-up

    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(length))


class AnswersError(UsageError, ValueError):
    """Answers that cannot be used; ``problems`` lists one sentence per key (exit 2).

    Still a ValueError, which callers catch for "the answers are not complete"."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def flatten(data: Any, source: str, *, validate: bool = False) -> dict[str, Any]:
    """Turn the grouped answers mapping into ``{"group.key": value}``; check the shape.

    With ``validate``, every value is checked too, so one error lists every problem."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise AnswersError([f"{source}: expected groups such as 'client:' at the top level"])
    flat: dict[str, Any] = {}
    problems = []
    for group, values in data.items():
        if group == INTERNAL_GROUP:
            continue
        if group not in GROUPS:
            problems.append(f"{source}: unknown group {group!r}{_suggest(str(group), GROUPS)}")
            continue
        if values is None:
            continue
        if not isinstance(values, Mapping):
            problems.append(f"{source}: {group} must be a mapping of keys to values")
            continue
        for name, value in values.items():
            key = f"{group}.{name}"
            if key not in BY_KEY:
                names = [f.name for f in FIELDS if f.group == group]
                problems.append(f"{source}: unknown key {key!r}{_suggest(str(name), names)}")
                continue
            flat[key] = _plain(value)
            if validate:
                try:
                    BY_KEY[key].clean(flat[key])
                except FieldError as exc:
                    shown = _shown(BY_KEY[key], flat[key])
                    problems.append(f"{source}: {key}: {exc} (got {shown})")
    if problems:
        raise AnswersError(problems)
    return flat


def _plain(value: Any) -> Any:
    """ruamel's commented containers and scalar strings as plain Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def nest(flat: Mapping[str, Any], keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Group ``{"group.key": value}`` back into the answers-file shape, in declaration order."""
    nested: dict[str, dict[str, Any]] = {}
    for key in keys:
        if key in flat:
            group, name = key.split(".", 1)
            nested.setdefault(group, {})[name] = flat[key]
    return nested


@dataclass
class Answers:
    """Confirmed answers (flat keys) and the secrets beside them."""

    values: dict[str, Any] = field(default_factory=dict)
    internal: dict[str, Any] = field(default_factory=dict)

    # --- persistence ------------------------------------------------------------------

    @classmethod
    def load(cls, answers_path: Path, secrets_path: Path) -> Answers:
        """The answers kept in the secure repo (never read through a symbolic link)."""
        values: dict[str, Any] = {}
        internal: dict[str, Any] = {}
        for path in (answers_path, secrets_path):
            try:
                raw = safe_read_bytes(path)
            except FileNotFoundError:
                continue
            data = yamlio.loads_data(yamlio.decode(raw, str(path)), str(path))
            # Validated like typed answers: a hand edit of these files cannot sneak a value
            # past its validator.
            flat = flatten(data, str(path), validate=True)
            cleaned = {key: BY_KEY[key].clean(value) for key, value in flat.items()}
            values.update({k: v for k, v in cleaned.items() if v is not None})
            if isinstance(data, Mapping) and isinstance(data.get(INTERNAL_GROUP), Mapping):
                internal.update(_plain(data[INTERNAL_GROUP]))
        return cls(values, internal)

    def save(self, answers_path: Path, secrets_path: Path, root: Path | None = None) -> None:
        """Write answers.yml and secrets.yml (0600); each is left alone when unchanged."""
        order = [f.key for f in FIELDS]
        plain = {k: v for k, v in self.values.items() if not BY_KEY[k].secret}
        hidden = {k: v for k, v in self.values.items() if BY_KEY[k].secret}
        header = "# analytics-wizard answers (secrets are kept in secrets.yml)\n"
        atomic_write(answers_path, header + yamlio.dumps(nest(plain, order) or {}), root=root)
        secret_doc: dict[str, Any] = dict(nest(hidden, order))
        if self.internal:
            secret_doc[INTERNAL_GROUP] = dict(self.internal)
        atomic_write(
            secrets_path,
            "# analytics-wizard secrets: keep private (mode 0600)\n" + yamlio.dumps(secret_doc),
            mode=SECRET_FILE_MODE,
            root=root,
        )

    # --- editing ----------------------------------------------------------------------

    def set(self, key: str, value: Any) -> Any:
        """Validate and store one answer; None/blank removes it. Raises FieldError."""
        cleaned = BY_KEY[key].clean(value)
        if cleaned is None:
            self.values.pop(key, None)
        else:
            self.values[key] = cleaned
        return cleaned

    def merge(self, flat: Mapping[str, Any], source: str) -> None:
        """Validate every answer of ``flat`` and store them; all problems are reported at once.

        An answers file's ``null`` (or empty value) means "not given", like a missing key: the
        answer kept in the secure repo stays, so a re-run with the template's ``null``s never
        changes a secret that was generated or typed before."""
        problems = []
        cleaned: dict[str, Any] = {}
        for key, value in flat.items():
            try:
                cleaned[key] = BY_KEY[key].clean(value)
            except FieldError as exc:
                problems.append(f"{source}: {key}: {exc} (got {_shown(BY_KEY[key], value)})")
        if problems:
            raise AnswersError(problems)
        self.values.update({key: value for key, value in cleaned.items() if value is not None})

    def secret_values(self) -> list[str]:
        """Every secret the wizard knows, for redaction."""
        found = [str(v) for k, v in self.values.items() if BY_KEY[k].secret and v]
        found += [str(v) for v in self.internal.values() if v]
        return found

    def internal_secret(self, name: str) -> str:
        """A secret of the wizard's own (e.g. the ledger's HMAC key), generated once."""
        if name not in self.internal:
            self.internal[name] = generate_secret(48)
        return str(self.internal[name])


def _shown(f: Field, value: Any) -> str:
    if f.secret:
        return "a hidden value"
    return repr(mask_credentials(value) if isinstance(value, str) else value)


class MissingAnswers(AnswersError):
    """Required answers that are neither given nor derivable."""


@dataclass
class Resolved:
    """Answers with defaults and derivations applied; what a step reads its values from."""

    answers: Answers
    outputs: Callable[[str, str], Any]
    remote_url: Callable[[], str | None] = lambda: None

    def get(self, key: str) -> Any:
        f = BY_KEY[key]
        if key in self.answers.values:
            return self.answers.values[key]
        if f.derive is not None:
            derived = f.derive(self)
            if derived not in (None, "", []):
                try:
                    return f.clean(derived)
                except FieldError as exc:
                    raise FieldError(
                        f"{key}: the derived value {_shown(f, derived)} does not fit: {exc}; "
                        f"answer {key} yourself"
                    ) from None
        return f.default

    def output(self, step: str, name: str) -> Any:
        return self.outputs(step, name)

    def git_remote_url(self) -> str | None:
        return self.remote_url()

    def require(self, keys: Iterable[str]) -> dict[str, Any]:
        """Values of ``keys``; missing required ones raise one error naming every key."""
        values: dict[str, Any] = {}
        missing = []
        for key in keys:
            value = self.get(key)
            f = BY_KEY[key]
            if value in (None, "") and f.required and not f.generated:
                missing.append(f"{key} ({f.label}) is required: {f.help}")
            values[key] = value
        if missing:
            raise MissingAnswers(missing)
        return values

    def generate_missing(self, keys: Iterable[str]) -> list[str]:
        """Create the generated secrets among ``keys`` that have no value yet; once, kept after."""
        created = []
        for key in keys:
            f = BY_KEY[key]
            if f.generated and key not in self.answers.values:
                self.answers.values[key] = generate_secret()
                created.append(key)
        return created


def template() -> str:
    """A complete, commented answers file (``analytics-wizard answers-template``).

    A key without a default is left empty, its example in the comment: a template run untouched
    fails naming every required key, instead of deploying the examples."""
    lines = [
        "# analytics-wizard answers file. Use with: analytics-wizard run --answers FILE",
        "# Every key is optional unless marked REQUIRED; an empty value means not given (a",
        "# missing secret is generated, a derived value is taken from the earlier steps).",
        "",
    ]
    for group in GROUPS:
        lines.append(f"{group}:  # {GROUP_TITLES.get(group, group)}")
        for f in (f for f in FIELDS if f.group == group):
            value = f.default  # an empty list would be an answer: it hides the derived one
            if value is not None:
                rendered = yamlio.dumps({f.name: value}).rstrip("\n")
            else:
                rendered = f"{f.name}: null" if f.secret else f"{f.name}:"
            required = f.required and f.default is None and f.derive is None and not f.generated
            example = f", e.g. {f.example}" if f.example is not None and value is None else ""
            if required:
                note = f"REQUIRED{example}. {f.help}"
            else:
                note = f.help
                if f.derive is not None and value is None:
                    note += " (derived when empty"
                    note += f"{example})" if example else ")"
                elif example:
                    note += f" (e.g. {f.example})"
            lines.append(f"  {rendered}  # {note}")
        lines.append("")
    return "\n".join(lines)
