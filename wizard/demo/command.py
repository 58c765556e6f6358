"""``analytics-wizard demo [DIR]``: the whole flow against local stand-ins.

Headless (``--headless``) it runs every step and ends with the report; otherwise it opens the
wizard on the demo repo. Either way the stand-ins are stopped when it ends (and save what they
hold, so the next ``demo DIR`` resumes), except when the wizard's terminal hangs up.
``--stop`` stops a demo left running, ``--reset`` deletes the demo repo and starts over.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import exit_codes
from . import core

OpenDemoTui = Callable[..., int]  # (repo, backends=...)


def demo_command(
    directory: Path,
    *,
    headless: bool = False,
    as_json: bool = False,
    stop: bool = False,
    reset: bool = False,
    open_tui: OpenDemoTui | None = None,
) -> int:
    """The ``demo`` subcommand; the exit code."""
    from ..headless import err_console, guarded, run

    console = err_console()

    def say(line: str) -> None:
        console.print(f"[magenta]demo:[/] {line}", highlight=False, markup=True)

    if stop:

        def stop_only() -> int:
            core.require_demo(directory)
            stopped = core.stop(directory)
            say(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
            return exit_codes.OK

        return guarded(stop_only)
    if reset:

        def reset_only() -> int:
            core.reset(directory)
            say(f"deleted {directory}")
            return exit_codes.OK

        code = guarded(reset_only)
        if code != exit_codes.OK:
            return code
    started: list[core.Demo] = []

    def begin() -> int:
        started.append(core.start(directory, say))
        return exit_codes.OK

    code = exit_codes.INTERNAL
    try:
        code = guarded(begin)
        if code != exit_codes.OK:
            return code
        demo = started[0]
        backends = core.pinned_backends(demo.directory)
        with core.demo_environment(demo):
            if headless:
                say(f"running every step on {directory} (answers: {demo.answers})")
                code = run(demo.directory, demo.answers, as_json=as_json, backends=backends)
                return code
            if open_tui is None:
                say("this entry point runs headless only: use --headless")
                return exit_codes.USAGE
            code = guarded(lambda: core.merge_answers(demo, backends))
            if code != exit_codes.OK:
                return code
            code = guarded(lambda: open_tui(demo.directory, backends=backends))
            return code
    finally:
        # A dropped connection is not a quit, and a step left running on its own still needs
        # the stand-ins: the next 'demo DIR' reuses them ('demo DIR --stop' stops them).
        if started and code != exit_codes.HUNG_UP:
            going = still_running(started[0].directory)
            if going:
                say(
                    f"the {', '.join(going)} run goes on, so the stand-ins keep running: "
                    f"'demo {directory}' follows it, 'demo {directory} --stop' stops them"
                )
            else:
                stopped = core.stop(started[0].directory)
                if stopped:
                    say(f"stopped the stand-ins ({', '.join(stopped)}); 'demo {directory}' resumes")


def still_running(directory: Path) -> list[str]:
    """The steps of the demo repo whose detached run (terraform, ansible) still goes on."""
    from .. import detached

    return [run.step for run in detached.running(directory / ".wizard" / "runs")]
