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
        ansible._run_probe(interpreter, ansible._QUICK_PROBE),
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
