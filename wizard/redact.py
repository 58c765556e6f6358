"""Masking secrets in anything shown or logged, in every form the wizard's writers give them.

The forms are not guessed: each secret is rendered by the writers the secure repo's files use
(ruamel.yaml in its plain, single- and double-quoted styles, JSON with and without
``ensure_ascii``, shell quoting, ConfigParser's ``%%``, Python's repr) and every rendering is
masked. A secret shorter than :data:`MIN_SUBSTRING` characters is masked only as a whole token
(not inside a longer run of letters and digits): masking ``ab1`` wherever it occurs would
mangle every other line of output.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "********"
MIN_SUBSTRING = 4


def _yaml_forms(secrets: Iterable[str]) -> dict[str, set[str]]:
    """Each secret as ruamel.yaml writes it in each style the files use, quotes removed.

    One dump for all of them: the round-trip writer costs milliseconds per call."""
    forms: dict[str, set[str]] = {}
    odd = []
    for secret in secrets:
        forms[secret] = {secret}
        if not (secret.isascii() and secret.isalnum()):
            odd.append(secret)  # letters and digits are written as they are in every style
    if not odd:
        return forms
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    from . import yamlio

    styles = (str, SingleQuotedScalarString, DoubleQuotedScalarString)
    doc = {f"k{i}-{j}": style(s) for i, s in enumerate(odd) for j, style in enumerate(styles)}
    for line in yamlio.dumps(doc).split("\n"):
        key, sep, scalar = line.partition(": ")
        if not sep or not key.startswith("k") or key not in doc:
            continue  # a continuation line of a folded value: not worth guessing pieces
        if len(scalar) >= 2 and scalar[0] == scalar[-1] and scalar[0] in "'\"":
            scalar = scalar[1:-1]
        forms[str(doc[key])].add(scalar)
    return forms


def variants(secret: str, yaml_forms: set[str] | None = None) -> set[str]:
    """Every way ``secret`` can appear in our files, the consoles and Python's messages."""
    if yaml_forms is None:
        yaml_forms = _yaml_forms([secret])[secret]
    json_forms = {json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]}
    forms = {
        secret,
        *json_forms,
        *(form.replace("%", "%%") for form in json_forms),  # a JSON list in the .cfg
        *yaml_forms,
        secret.replace("%", "%%"),
        shlex.quote(secret),
        secret.replace("'", "'\"'\"'"),
        secret.replace("'", "'\\''"),
        repr(secret)[1:-1],  # Python's quoting, e.g. a parser quoting the line it choked on
    }
    return {form for form in forms if form}


def _token_pattern(form: str) -> str:
    """``form`` not inside a longer run of letters or digits."""
    return rf"(?<![^\W_]){re.escape(form)}(?![^\W_])"


class Redactor:
    """Replaces every known secret (longest form first) with a mask."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._forms: list[str] = []
        self._short: re.Pattern[str] | None = None
        self._short_forms: set[str] = set()
        self._seen: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        fresh = {s for s in secrets if s and s not in self._seen}
        if not fresh:
            return
        self._seen |= fresh
        forms = set(self._forms)
        rendered = _yaml_forms(fresh)
        for secret in fresh:
            for form in variants(secret, rendered[secret]):
                if len(form) >= MIN_SUBSTRING:
                    forms.add(form)
                else:
                    self._short_forms.add(form)
        self._forms = sorted(forms, key=len, reverse=True)
        if self._short_forms:
            ordered = sorted(self._short_forms, key=len, reverse=True)
            self._short = re.compile("|".join(_token_pattern(f) for f in ordered))

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        if self._short is not None:
            text = self._short.sub(MASK, text)
        return text


# --- credentials in URLs ----------------------------------------------------------------------


def url_credentials(url: str) -> str | None:
    """The secret part of ``url``'s user info: the password, or for http(s), where a lone user
    name is usually a token, the whole user info. None when there is none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or "@" not in parts.netloc:
        return None
    userinfo = parts.netloc.rpartition("@")[0]
    _, colon, password = userinfo.partition(":")
    if colon and password:
        return password
    if parts.scheme.lower() in ("http", "https") and userinfo:
        return userinfo
    return None


def without_credentials(url: str) -> str:
    """``url`` without the user info :func:`url_credentials` finds (user names of ssh kept)."""
    if url_credentials(url) is None:
        return url
    parts = urlsplit(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    keep = user if colon and parts.scheme.lower() not in ("http", "https") else ""
    netloc = f"{keep}@{host}" if keep else host
    return parts._replace(netloc=netloc).geturl()


def mask_credentials(url: str) -> str:
    """``url`` with the secret part of its user info masked, for messages."""
    secret = url_credentials(url)
    return url.replace(secret, MASK) if secret else url
