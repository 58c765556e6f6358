"""The core never loads the UI or the heavy adapters' libraries just by being imported."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, cli_env

HEAVY = (
    "textual",
    "boto3",
    "botocore",
    "paramiko",
    "sshtunnel",
    "pymysql",
    "ansible_runner",
    "jenkins",
    "jenkins_jobs",
)

WALK = """
import importlib, json, pkgutil, sys
import wizard

names = []
for info in pkgutil.walk_packages(wizard.__path__, "wizard."):
    if info.name == "wizard.__main__":
        continue  # running it is the CLI itself; see test_the_cli_entry_loads_none
    importlib.import_module(info.name)
    names.append(info.name)
heavy = %r
print(json.dumps({
    "imported": names,
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in heavy),
}))
"""


def python(code: str) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, list[str]] = json.loads(result.stdout)
    return data


def test_importing_every_wizard_module_loads_no_ui_or_heavy_library() -> None:
    found = python(WALK % (HEAVY,))
    assert "wizard.engine" in found["imported"]
    assert "wizard.steps.files" in found["imported"]
    assert "wizard.headless" in found["imported"]
    assert len(found["imported"]) >= 15
    assert found["loaded"] == []


def test_the_screens_package_and_entry_load_no_textual() -> None:
    found = python(
        "import json, sys\n"
        "import screens, screens.entry\n"
        "print(json.dumps({'loaded': sorted(m for m in sys.modules"
        " if m.split('.')[0] == 'textual')}))"
    )
    assert found["loaded"] == []


#: What opening the secure repo needs, and the first frame does not (see screens.main).
OPENING = (
    "ruamel",
    "wizard.engine",
    "wizard.answers",
    "wizard.ledger",
    "wizard.fields",
    "wizard.headless",
    "wizard.steps.base",
    "screens.step_form",
)


def test_the_wizards_first_frame_loads_nothing_opening_the_repo_needs() -> None:
    """The launcher, the CLI's parser and the main screen before the repo is open: the repo
    opens after the frame is painted, and so do the modules it takes (the first paint waited
    ~70 ms for them)."""
    found = python(
        "import json, sys\n"
        "import screens.entry, screens.app, screens.main\n"
        "from wizard import cli\n"
        "cli.build_parser().parse_args(['/some/secure-config'])\n"
        "screens.main.MainScreen(None, repo='secure-config')\n"
        f"opening = {OPENING!r}\n"
        "print(json.dumps({'loaded': sorted(m for m in sys.modules"
        " if m.startswith(opening))}))"
    )
    assert found["loaded"] == []


def test_the_cli_entry_loads_none() -> None:
    """``python -m screens`` (the console script's path) on a headless command."""
    for args in (["--version"], ["answers-template"], ["status", "/nonexistent/secure-config"]):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "screens", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=cli_env(),
            timeout=120,
        )
        assert "Traceback" not in result.stderr
        imported = {
            line.split("|")[-1].strip().split(".")[0]
            for line in result.stderr.splitlines()
            if line.startswith("import time:") and "|" in line
        }
        assert "wizard" in imported, args
        assert imported.isdisjoint(HEAVY), (args, sorted(imported & set(HEAVY)))


def test_python_m_wizard_runs_headless_commands_and_never_the_tui(tmp_path) -> None:
    """The core's own entry point: headless commands work; the TUI is the console script's."""
    version = subprocess.run(
        [sys.executable, "-m", "wizard", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(),
        timeout=120,
    )
    assert version.returncode == 0 and version.stdout.startswith("analytics-wizard ")
    tui = subprocess.run(
        [sys.executable, "-m", "wizard", str(tmp_path / "secure-config")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=cli_env(),
        timeout=120,
    )
    assert tui.returncode == 2
    assert "headless commands only" in tui.stderr and "analytics-wizard" in tui.stderr
    assert "Traceback" not in tui.stderr
