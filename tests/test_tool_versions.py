"""The tools check's version commands: started side by side, ended when they hang."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wizard.steps import prereqs


def _tool(bin_dir: Path, name: str, body: str) -> None:
    script = bin_dir / name
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)


def test_the_version_commands_run_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, marks = tmp_path / "bin", tmp_path / "marks"
    bin_dir.mkdir()
    marks.mkdir()
    names = ("terraform", "git", "ssh")
    # Each prints its version only once all three have started (one after the other, the first
    # would give up waiting and print none).
    for number, name in enumerate(names, start=1):
        _tool(
            bin_dir,
            name,
            f"touch {marks}/{name}\n"
            "for i in $(seq 100); do\n"
            f"  [ $(ls {marks} | wc -l) -eq {len(names)} ] && echo '{name} v1.{number}.0' && exit 0\n"
            "  sleep 0.1\n"
            "done\n"
            "echo 'gave up'\n",
        )
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + "/usr/bin:/bin")

    probes = {name: prereqs.VersionProbe(name) for name in names}
    versions = {name: probe.result() for name, probe in probes.items()}

    assert versions == {"terraform": "1.1.0", "git": "1.2.0", "ssh": "1.3.0"}


def test_a_version_command_that_hangs_is_ended_and_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pid_file = tmp_path / "pid"
    _tool(bin_dir, "git", f"echo $$ > {pid_file}\nexec sleep 60\n")
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + "/usr/bin:/bin")
    monkeypatch.setattr(prereqs, "TOOL_TIMEOUT", 1)

    assert prereqs.tool_version("git") == "found (its version did not print)"
    with pytest.raises(ProcessLookupError):  # ended and reaped, not left running
        os.kill(int(pid_file.read_text()), 0)


def test_a_tool_not_on_path_has_no_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert prereqs.tool_version("terraform") is None
