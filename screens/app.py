"""The wizard's Textual application and its launcher.

The session (lock, ledger, answers) is opened before Textual starts, so a held lock or an
unreadable ledger is reported by the CLI as one clear sentence instead of inside a screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import traceback
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import App
from textual.binding import Binding, BindingType

from wizard import assets, exit_codes
from wizard.backends import Backends
from wizard.engine import Session

from .main import MainScreen


class InternalError(Exception):
    """What the operator sees of a bug: one sentence; the redacted traceback is in the run log."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(type(error).__name__)
        self.__cause__ = error

    def __rich__(self) -> Text:
        return Text.assemble(
            ("error: ", "bold red"),
            f"internal error ({self}); this is a bug in analytics-wizard. The details are in "
            ".wizard/logs/ of the secure repo.",
        )


def collect_again() -> None:
    """The start-up's objects are kept out of the collector's passes, which start again."""
    gc.freeze()
    gc.enable()


class WizardApp(App[None]):
    """The whole TUI over one open :class:`Session`; the caller opens and closes it."""

    TITLE = "analytics-wizard"
    # ctrl+p previews the files; the command palette would take that key.
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        # Keys typed ahead (a burst over a slow SSH link) land in the field they were meant
        # for: with priority, focus moves when tab is read, before the keys behind it are
        # handed to the focused field (SPEC §7); the field left confirms its value on blur.
        Binding("tab", "focus_next", show=False, priority=True),
        Binding("shift+tab", "focus_previous", show=False, priority=True),
    ]

    def __init__(self, session: Session, initial: str | None = None) -> None:
        from .terminal import Driver  # the real terminal's (Pilot runs its own headless one)

        super().__init__(css_path=assets.path("wizard.tcss"), driver_class=Driver)
        self.session = session
        self.initial = initial
        self.sub_title = session.repo.name
        self.terminal_gone = False

    def get_default_screen(self) -> MainScreen:
        self.main_screen = MainScreen(self.session, self.initial)
        return self.main_screen

    def on_mount(self) -> None:
        # The launcher keeps the cyclic collector off through start-up: what start-up built
        # lives on, so it is frozen out of the collector's passes, which start again now.
        self.call_after_refresh(collect_again)
        # A dropped SSH connection sends SIGHUP, whose default ends the process at once:
        # instead the field being typed in is kept as a draft and the rest confirmed.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.hung_up)

    def on_unmount(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        gc.unfreeze()  # what the forms froze (step_form) is the collector's again once they go

    def hung_up(self) -> None:
        """The terminal is gone: keep what was typed, then leave."""
        from .drafts import keep_typed

        self.terminal_gone = True
        try:
            keep_typed(self.main_screen)
        finally:
            self.exit()

    def _handle_exception(self, error: Exception) -> None:
        # Textual would print a traceback with local variables, and a local may hold a password
        # being typed: the run log (which masks secrets) gets the traceback without locals.
        # Textual (8.x) has no public hook for an unhandled exception, hence this override.
        self.session.log.write("".join(traceback.format_exception(error)))
        super()._handle_exception(InternalError(error))

    async def action_quit(self) -> None:
        # A valid value still being typed counts as confirmed: quitting loses nothing typed.
        self.main_screen.confirm_pending()
        from .confirm import LEAVE, STOP, QuitDialog  # not needed for the first paint
        from .preview import PreviewScreen  # loaded by then if a step is running

        screen = self.screen
        if isinstance(screen, PreviewScreen) and screen.running:
            what = screen.step.verb.lower()

            def answered(choice: str | None) -> None:
                if choice == LEAVE:
                    screen.leave_running()
                elif choice == STOP:
                    screen.stop_and_quit()

            self.push_screen(QuitDialog(f"The {screen.step.name} step ({what})"), answered)
            return
        self.exit()


def run_app(repo: Path, demo_backends: Backends | None = None) -> int:
    """Open ``repo`` for writing, run the wizard on it, release it; the exit code.

    ``demo_backends`` (demo mode): the session uses them and every header says DEMO."""
    if demo_backends is None:
        session = Session.open(repo, write=True, command="tui")
    else:
        session = Session.open(repo, write=True, command="demo", backends=demo_backends)
    app = WizardApp(session)
    if demo_backends is not None:
        app.title = f"{WizardApp.TITLE} · DEMO"
        app.sub_title = f"{session.repo.name} · local stand-ins"
    try:
        app.run()
    finally:
        session.close()
    if app.terminal_gone:
        return exit_codes.HUNG_UP
    return exit_codes.OK if not app.return_code else exit_codes.INTERNAL
