"""The ansible version read from package metadata: the quick probe agrees with importlib.metadata."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from wizard import ansible


def _script(tmp_path: Path) -> Path:
    script = tmp_path / "ansible-playbook"
    script.write_text(f"#!{sys.executable} -S\n")
    script.chmod(0o755)
    return script


def _dist(where: Path, entry: str, version: str, *, egg_file: bool = False) -> None:
    headers = f"Metadata-Version: 2.1\nName: {entry.split('-')[0]}\nVersion: {version}\n\nbody\n"
    if egg_file:
        (where / entry).write_text(headers)
        return
    (where / entry).mkdir(parents=True)
    name = "PKG-INFO" if entry.endswith(".egg-info") else "METADATA"
    (where / entry / name).write_text(headers)


def _both() -> tuple[str | None, str | None]:
    interpreter = [sys.executable, "-S"]  # no site-packages: only the test's PYTHONPATH
    return (
        ansible._run_probe(interpreter, ansible.quick_probe()),
        ansible._run_probe(interpreter, ansible._METADATA_PROBE),
    )


@pytest.mark.parametrize(
    ("entries", "shadowed", "expected"),
    [
        # ansible-core with the collections package: the header's version, not the dir name's
        (
            [("ansible_core-0.0.0.dist-info", "2.15.3"), ("ansible-8.3.0.dist-info", "8.3.0")],
            "ansible_core-9.9.9.dist-info",
            "2.15.3 (ansible 8.3.0)",
        ),
        # 2.10's ansible-base as an egg-info directory, spelled in mixed case
        (
            [("Ansible.Base-2.10.17-py3.8.egg-info", "2.10.17")],
            "ansible_base-9.9.9.dist-info",
            "2.10.17",
        ),
        # an egg-info that is a file, and a package whose name only starts with ansible
        (
            [("ansible-2.9.27-py3.8.egg-info", "2.9.27"), ("ansible_lint-6.0.dist-info", "6.0")],
            "ansible-9.9.9.dist-info",
            "2.9.27",
        ),
    ],
)
def test_the_quick_probe_reads_what_importlib_metadata_reads(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    entries: list[tuple[str, str]],
    shadowed: str,
    expected: str,
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for entry, version in entries:
        _dist(first, entry, version, egg_file=entry.startswith("ansible-2.9"))
    # a later path entry never wins over an earlier one
    _dist(second, shadowed, "9.9.9")
    monkeypatch.setenv("PYTHONPATH", f"{first}:{second}")

    quick, metadata = _both()

    assert quick == metadata
    assert ansible.ansible_version(_script(tmp_path)) == expected


def test_without_ansible_both_probes_find_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dist(tmp_path, "ansible_lint-6.0.dist-info", "6.0")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))

    quick, metadata = _both()

    assert quick == metadata == " \n"
    assert ansible.ansible_version(_script(tmp_path)) is None


def test_a_zip_on_the_path_falls_back_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "packages.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(
            "ansible_core-3.1.4.dist-info/METADATA", "Metadata-Version: 2.1\nVersion: 3.1.4\n\n"
        )
    monkeypatch.setenv("PYTHONPATH", str(archive))

    quick, metadata = _both()

    assert quick is None  # it does not read zips: it says so by failing
    assert metadata == "3.1.4 \n"
    assert ansible.ansible_version(_script(tmp_path)) == "3.1.4"


def _venv(tmp_path: Path, python: str, config: str = "home = /usr/bin\n") -> Path:
    """A virtualenv's layout: pyvenv.cfg, bin/python (a script running ``python``), one
    site-packages, and an ansible-playbook whose shebang names that bin/python."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(config)
    interpreter = venv / "bin" / "python"
    interpreter.write_text(f'#!/bin/sh\nexec {python} "$@"\n')
    interpreter.chmod(0o755)
    playbook = venv / "bin" / "ansible-playbook"
    playbook.write_text(f"#!{interpreter}\n")
    playbook.chmod(0o755)
    return venv


def test_a_virtualenvs_ansible_is_read_without_starting_its_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONPATH", raising=False)
    venv = _venv(tmp_path, "/bin/false")  # a probe would fail: only reading the files works
    site = venv / "lib" / "python3.11" / "site-packages"
    _dist(site, "ansible_core-2.15.3.dist-info", "2.15.3")
    _dist(site, "ansible-8.3.0.dist-info", "8.3.0")

    assert ansible.ansible_version(venv / "bin" / "ansible-playbook") == "2.15.3 (ansible 8.3.0)"


@pytest.mark.parametrize("config", ["include-system-site-packages = true\n", None])
def test_a_virtualenv_that_reads_more_than_its_site_packages_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str | None
) -> None:
    # The system's site-packages, or (no pyvenv.cfg) not a virtualenv at all: its own Python
    # says which ansible it loads (here the one on PYTHONPATH, as the system's would be).
    outside = tmp_path / "outside"
    _dist(outside, "ansible_core-2.16.0.dist-info", "2.16.0")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    venv = _venv(tmp_path, f"env PYTHONPATH={outside} {sys.executable} -S", config or "")
    if config is None:
        (venv / "pyvenv.cfg").unlink()
    _dist(venv / "lib" / "python3.11" / "site-packages", "ansible_core-1.0.0.dist-info", "1.0.0")

    assert ansible.ansible_version(venv / "bin" / "ansible-playbook") == "2.16.0"


def test_the_read_agrees_with_the_probe_on_the_real_virtualenvs() -> None:
    root = Path(__file__).resolve().parent.parent
    for venv in (".venv", ".venv-ansible210"):  # ansible-core 2.19, ansible-base 2.10 + ansible
        interpreter = ansible._interpreter(root / venv / "bin" / "ansible-playbook")
        assert interpreter is not None
        probed = ansible._run_probe(interpreter, ansible.quick_probe())
        assert probed is not None
        assert ansible._read_venv(interpreter) == probed.rstrip("\n")
