"""Every secret masked in every form the wizard's writers give it: a byte-order mark that YAML
escapes, three-character secrets, quotes, ``%``, characters outside the BMP, hand-typed values
under secret keys. Planted in odd forms, none shows up in the output, ``--json``, the logs, the
ledger or the git history outside the files that hold secrets by design.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import complete_answers, run_cli
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from wizard import yamlio
from wizard.documents import Literal, parse
from wizard.redact import MASK, Redactor

WriteAnswers = Callable[..., Path]

ODD = {
    "edxapp.migrate_password": "\ufeffBom'Pw\"%d😀",  # YAML writes the BOM as \uFEFF
    "database.analytics_password": "q%7",  # three characters
    "database.readonly_password": "i'x",  # three characters, a quote
    "insights.secret_key": "nb\xa0sp-Secret\xa0%%",
    "insights.oauth2_key": "Ky😀",  # three characters, one outside the BMP
    "analytics_api.auth_token": "%tok'\"en%",
}
HAND_TYPED = "Hk3"  # typed by hand under INSIGHTS_OAUTH2_KEY
# The files that hold secrets by design (and so their git history).
SECRET_FILES = (
    ".wizard/secrets.yml",
    "vars-analytics.yml",
    "analytics-tasks/edxapp_creds",
    "analytics-tasks/edxanalytics_creds",
)


def yaml_renderings(secret: str) -> set[str]:
    found = set()
    for value in (secret, SingleQuotedScalarString(secret), DoubleQuotedScalarString(secret)):
        line = yamlio.dumps({"k": value}).rstrip("\n").removeprefix("k: ")
        found |= {line, line.strip("'\"")}
    return found


def spellings(secret: str) -> set[str]:
    """How the secret could be spelled anywhere, computed here without the redactor."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        shlex.quote(secret),
        secret.replace("%", "%%"),
        repr(secret)[1:-1],
        *yaml_renderings(secret),
    }
    return {f for f in forms if f}


def leaks(text: str, secret: str) -> list[str]:
    """Spellings of ``secret`` in ``text``; short ones count only as whole tokens."""
    found = []
    for form in spellings(secret):
        if len(form) >= 4:
            hit = form in text
        else:
            hit = re.search(rf"(?<![^\W_]){re.escape(form)}(?![^\W_])", text) is not None
        if hit:
            found.append(form)
    return sorted(found)


# --- the redactor alone --------------------------------------------------------------------


@pytest.mark.parametrize("secret", [*ODD.values(), HAND_TYPED, "\U0001f600\u00e9\u00df"])
def test_every_writer_rendering_is_masked(secret: str) -> None:
    redact = Redactor([secret])
    renderings = [
        *(yamlio.dumps({"k": v}) for v in (secret, SingleQuotedScalarString(secret))),
        yamlio.dumps({"k": DoubleQuotedScalarString(secret)}),
        json.dumps({"k": secret}),
        json.dumps({"k": secret}, ensure_ascii=False),
        f"export K={shlex.quote(secret)}\n",
        "k = " + secret.replace("%", "%%") + "\n",
        f"ValueError({secret!r})",
    ]
    for kind in ("yaml", "env", "cfg", "json"):  # the documents as the files step writes them
        doc = parse(kind, "", "test")
        doc.set("k" if kind != "cfg" else "s.k", Literal(secret))
        renderings.append(doc.render())
    for text in renderings:
        masked = redact(text)
        assert leaks(masked, secret) == [], (text, masked)
        assert MASK in masked, text


def test_a_short_secret_is_masked_as_a_token_only() -> None:
    redact = Redactor(["ab1"])
    assert redact("password ab1, again 'ab1'") == f"password {MASK}, again '{MASK}'"
    assert redact("xab1 ab12 tab1e") == "xab1 ab12 tab1e"  # inside a longer word: left alone


def test_masking_is_longest_first_and_idempotent() -> None:
    redact = Redactor(["abcd", "abcdefgh"])
    assert redact("abcdefgh abcd") == f"{MASK} {MASK}"
    assert redact(redact("abcdefgh")) == MASK


# --- planted through the CLI ---------------------------------------------------------------


def odd_answers(**overrides: Any) -> dict[str, Any]:
    data = complete_answers(**overrides)
    for key, secret in ODD.items():
        group, name = key.split(".")
        data.setdefault(group, {})[name] = secret
    return data


class Runs:
    """Every output of the CLI during a test."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def cli(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, COLUMNS="1000")
        self.texts += [result.stdout, result.stderr]
        assert "Traceback" not in result.stderr
        return result


@pytest.fixture
def runs() -> Iterator[Runs]:
    yield Runs()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def kept_texts(repo: Path) -> Iterator[tuple[str, str]]:
    """Logs, ledger, answers.yml, the non-secret files, and git history outside secret files."""
    logs = sorted((repo / ".wizard" / "logs").glob("*.log"))
    assert logs
    for path in [*logs, repo / ".wizard" / "state.yml", repo / ".wizard" / "answers.yml"]:
        yield str(path), path.read_text(encoding="utf-8")
    for path in sorted((repo / "analytics-tasks").iterdir()):
        if f"analytics-tasks/{path.name}" not in SECRET_FILES:
            yield str(path), path.read_text(encoding="utf-8")
    excluded = [f":(exclude){p}" for p in SECRET_FILES]
    yield "git log -p", git(repo, "log", "-p", "--all", "--", ".", *excluded)
    yield "git log messages", git(repo, "log", "--all", "--format=%B")


def test_planted_odd_secrets_never_show(
    repo: Path, write_answers: WriteAnswers, runs: Runs
) -> None:
    first = write_answers(odd_answers())
    only = ("--only", "files")
    assert runs.cli("run", "--answers", first, repo, *only).returncode == 0
    assert runs.cli("run", "--answers", first, repo, *only, "--json").returncode == 0
    # New values for every odd secret: the dry run's diff shows the lines change, masked.
    rotated = {key: value[::-1] + "~" for key, value in ODD.items()}
    second = write_answers({**odd_answers()})
    data = yamlio.load_data(second)
    for key, value in rotated.items():
        group, name = key.split(".")
        data[group][name] = value
    second.write_text(yamlio.dumps(data), encoding="utf-8")
    dry = runs.cli("run", "--answers", second, repo, *only, "--dry-run")
    assert dry.returncode == 0 and MASK in dry.stderr
    assert runs.cli("run", "--answers", second, repo, *only, "--json").returncode == 0
    assert runs.cli("status", repo).returncode in (0, 1)
    assert runs.cli("status", "--json", repo).returncode in (0, 1)
    for secret in [*ODD.values(), *rotated.values()]:
        for text in runs.texts:
            assert leaks(text, secret) == [], f"{secret!r} in output:\n{text}"
        for name, text in kept_texts(repo):
            assert leaks(text, secret) == [], f"{secret!r} in {name}"
    stored = yamlio.load_data(repo / ".wizard" / "secrets.yml")
    assert stored["insights"]["oauth2_key"] == rotated["insights.oauth2_key"]  # kept where due


def test_hand_typed_short_values_under_secret_keys_are_masked_in_conflicts(
    repo: Path, write_answers: WriteAnswers, runs: Runs
) -> None:
    answers = write_answers(odd_answers())
    assert runs.cli("run", "--answers", answers, repo, "--only", "files").returncode == 0
    vars_file = repo / "vars-analytics.yml"
    text = vars_file.read_text(encoding="utf-8")
    for key in (
        "INSIGHTS_OAUTH2_KEY",
        "INSIGHTS_SOCIAL_AUTH_EDX_OAUTH2_KEY",
        "INSIGHTS_BACKEND_SERVICE_EDX_OAUTH2_KEY",
    ):
        text, count = re.subn(rf"^{key}: .*$", f"{key}: {HAND_TYPED}", text, flags=re.M)
        assert count == 1, key
    vars_file.write_text(text, encoding="utf-8")
    for extra in ((), ("--json",), ("--dry-run",)):
        result = runs.cli("run", "--answers", answers, repo, "--only", "files", *extra)
        assert result.returncode == 3
        assert "INSIGHTS_OAUTH2_KEY" in result.stdout + result.stderr
    for secret in (HAND_TYPED, *ODD.values()):
        for output in runs.texts:
            assert leaks(output, secret) == [], f"{secret!r} in output:\n{output}"
        for name, kept in kept_texts(repo):
            assert leaks(kept, secret) == [], f"{secret!r} in {name}"


def test_a_failure_quoting_a_secret_is_masked_on_the_console_and_in_json(
    repo: Path, write_answers: WriteAnswers, runs: Runs
) -> None:
    answers = write_answers(odd_answers())
    assert runs.cli("run", "--answers", answers, repo, "--only", "files").returncode == 0
    secret = ODD["analytics_api.auth_token"]
    creds = repo / "analytics-tasks" / "edxapp_creds"
    creds.write_text(f'{{"password": {json.dumps(secret)}, oops\n', encoding="utf-8")
    for extra in ((), ("--json",)):
        result = runs.cli("run", "--answers", answers, repo, "--only", "files", *extra)
        assert result.returncode == 1
    doc = json.loads(runs.texts[-2])
    assert doc["steps"][0]["state"] == "failed"
    for text in runs.texts:
        assert leaks(text, secret) == []
    for name, kept in kept_texts(repo):
        assert leaks(kept, secret) == [], name
