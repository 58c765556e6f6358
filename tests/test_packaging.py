"""The package works installed from its wheel, not only from the source tree (SPEC §6: assets are
found both in an editable install and in an installed wheel).

A wheel is built from the project, installed with ``pip install --target`` into an empty
directory, and used from there by a fresh interpreter whose working directory is outside the
project.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, complete_answers, run_cli
from wizard import assets, yamlio

pytestmark = pytest.mark.slow

OUTPUTS = (
    "vars-analytics.yml",
    "analytics-tasks/jenkins_env",
    "analytics-tasks/emr-vars.yml",
    "analytics-tasks/analytics-override.cfg",
    "analytics-tasks/edxapp_creds",
    "analytics-tasks/edxanalytics_creds",
)
# Everything the files step would generate, and a key path outside the repo, so two runs in
# different repos write the same bytes.
FIXED_ANSWERS = {
    "database__analytics_password": "an'alytics\"pw#%$\\{{ x }}ü😀",
    "database__readonly_password": "read-only %(x)s ${HOME}",
    "insights__secret_key": "insights-secret-key-0001",
    "insights__oauth2_key": "insights-oauth2-key-0002",
    "insights__oauth2_secret": "insights-oauth2-secret-0003",
    "analytics_api__auth_token": "analytics-api-token-0004",
    "analytics_api__secret_key": "analytics-api-secret-0005",
    "ansible__private_key": "~/.ssh/acme-analytics.pem",
}


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def build_wheel(out: Path) -> Path:
    """``pip wheel`` of the project; with build isolation (hatchling comes from the index), or
    without it when isolation is not possible here but hatchling is installed."""
    built = pip("wheel", "--no-deps", "--wheel-dir", str(out), str(ROOT))
    if built.returncode != 0 and importlib.util.find_spec("hatchling") is not None:
        built = pip(
            "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(ROOT)
        )
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = out.glob("analytics_wizard-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into an empty target directory."""
    base = tmp_path_factory.mktemp("packaging")
    wheel = build_wheel(base / "dist")
    target = base / "site"
    result = pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def outside_env(pythonpath: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({"NO_COLOR": "1", "COLUMNS": "120"})
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def where_from(pythonpath: Path | None, cwd: Path) -> dict[str, str]:
    """Where a fresh interpreter imports the package and its assets from."""
    probe = (
        "import json, wizard, wizard.assets as a, screens.entry as e;"
        "print(json.dumps({'package': wizard.__file__, 'assets': str(a.root()),"
        " 'entry': e.__file__}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=cwd,
        env=outside_env(pythonpath),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, str] = json.loads(result.stdout)
    return found


def shipped_assets() -> dict[str, bytes]:
    """The source tree's assets that belong in a wheel (what git would not ignore)."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return {
        name.removeprefix("assets/"): (ROOT / name).read_bytes()
        for name in listed
        if name.startswith("assets/") and (ROOT / name).is_file()
    }


def tree(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_installed_package_finds_its_assets_inside_itself(
    installed: Path, tmp_path: Path
) -> None:
    found = where_from(installed, tmp_path)
    assert Path(found["package"]).is_relative_to(installed), found
    assert Path(found["entry"]).is_relative_to(installed), found
    assert Path(found["assets"]) == installed / "wizard" / "assets"
    packaged = tree(installed / "wizard" / "assets")
    assert packaged == shipped_assets()
    for template in ("vars-analytics.yml", "jenkins_env", "emr-vars.yml", "creds.json"):
        assert f"templates/{template}" in packaged
    assert "templates/analytics-override.cfg" in packaged
    if (ROOT / "assets" / "wizard.tcss").exists():
        assert "wizard.tcss" in packaged


def test_the_source_tree_uses_the_top_level_assets(tmp_path: Path) -> None:
    # This interpreter (the editable install or the checkout on sys.path) ...
    assert assets.root() == ROOT / "assets"
    # ... and a fresh one started elsewhere, through the venv's editable install.
    found = where_from(None, tmp_path)
    assert Path(found["package"]) == ROOT / "wizard" / "__init__.py", found
    assert Path(found["assets"]) == ROOT / "assets"


def test_the_installed_console_script_writes_the_same_files_as_the_source_tree(
    installed: Path, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text(yamlio.dumps(complete_answers(**FIXED_ANSWERS)), encoding="utf-8")
    from_source = tmp_path / "from-source"
    result = run_cli("run", "--answers", answers, from_source, "--only", "files")
    assert result.returncode == 0, result.stderr

    script = installed / "bin" / "analytics-wizard"
    assert script.is_file(), sorted(p.name for p in installed.iterdir())
    from_wheel = tmp_path / "from-wheel"
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = outside_env(installed)
    version = subprocess.run(
        [str(script), "--version"], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("analytics-wizard "), version.stdout
    ran = subprocess.run(
        [str(script), "run", "--answers", str(answers), str(from_wheel), "--only", "files"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    for name in OUTPUTS:
        assert (from_wheel / name).read_bytes() == (from_source / name).read_bytes(), name
        assert (from_wheel / name).stat().st_mode == (from_source / name).stat().st_mode, name
    status = subprocess.run(
        [str(script), "status", "--json", str(from_wheel)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    states = {s["name"]: s["state"] for s in json.loads(status.stdout)["steps"]}
    assert states["files"] == "done", status.stdout
