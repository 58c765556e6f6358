"""The wizard's Textual application and its launcher.

The wizard paints its frame first and opens the secure repo (lock, answers, ledger) right
after: opening needs most of the wizard's modules, which load slower than the frame paints.
Keys typed before the step list has the step to do are kept and handed on in order. A held
lock or an unreadable ledger ends the app, and the CLI says it as one clear sentence once the
terminal is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events
from textual.app import App
from textual.binding import Binding, BindingType

from wizard import assets, exit_codes

from .main import MainScreen

if TYPE_CHECKING:
    from wizard.backends import Backends
    from wizard.engine import Session


@dataclass(frozen=True)
class Opening:
    """A secure repo to open once the wizard's frame is painted: ``open`` opens it."""

    repo: Path
    open: Callable[[], Session]


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
    """The whole TUI over one :class:`Session`: one the caller opened, or one it opens itself
    after the first frame (``Opening``, as ``run_app`` starts it); the caller closes it."""

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

    session: Session  # once open

    def __init__(self, session: Session | Opening, initial: str | None = None) -> None:
        """On an open ``session``, or on a repo to open after the first frame (``Opening``)."""
        from .terminal import Driver  # the real terminal's (Pilot runs its own headless one)

        super().__init__(css_path=assets.path("wizard.tcss"), driver_class=Driver)
        self.initial = initial
        self.terminal_gone = False
        self.main_screen: MainScreen | None = None  # the default screen, once made
        # Opening: the repo to open, the keys typed before it is (None: not opening), and
        # what failed to open it (for the CLI to say).
        self.opening: Opening | None = None
        self.typed_ahead: list[events.Event] | None = None
        self.open_error: Exception | None = None
        if isinstance(session, Opening):
            self.opening, self.typed_ahead = session, []
            self.repo_name = session.repo.expanduser().resolve().name
        else:
            self.session = session
            self.repo_name = session.repo.name
        self.sub_title = self.repo_name

    def get_default_screen(self) -> MainScreen:
        opened = None if self.opening is not None else self.session
        self.main_screen = MainScreen(opened, self.initial, repo=self.repo_name)
        return self.main_screen

    async def on_event(self, event: events.Event) -> None:
        if self.typed_ahead is not None and isinstance(event, (events.Key, events.Paste)):
            self.typed_ahead.append(event)  # until the step list has the step to do
            return
        await super().on_event(event)

    def on_ready(self) -> None:
        # Textual's Ready comes right after the first frame is painted; waiting for the screen
        # to be idle instead (call_after_refresh) waited for three more frames that repaint it.
        if self.opening is not None:
            self.run_worker(self.open_repo(), name="opening the secure repo", exit_on_error=False)

    async def open_repo(self) -> None:
        """Open the repo, hand the main screen the keys typed meanwhile, then show the step.

        The step list takes the keys (the ones held so far first) as soon as it highlights the
        step to do: after a glance at the ledger, before the repo is opened (or once it is, if
        the glance failed). Between the steps here, the keys are handled and painted."""
        assert self.opening is not None and self.main_screen is not None
        screen = self.main_screen
        repo = self.opening.repo.expanduser().resolve()
        if screen.glance(repo):
            self.call_next(self.hand_on_typed_ahead)
            await self.breathe()
        try:
            await self.let_go(repo)
            self.session = self.opening.open()
        except Exception as error:  # said by the CLI once the terminal is back (run_app)
            self.open_error = error
            self.exit()
            return
        try:
            screen.take(self.session)
            if self.typed_ahead is not None:
                self.call_next(self.hand_on_typed_ahead)
            await self.breathe()
            screen.prepare_view()
            await self.breathe()
            await screen.show_view()
        except Exception as error:
            self._handle_exception(error)
            return
        self.call_after_refresh(collect_again)

    async def let_go(self, repo: Path) -> None:
        """While another wizard holds ``repo`` (one whose connection just dropped takes a
        moment to let go), wait for it as opening would, but with the frame live: it says
        whom it waits for, and ctrl+q quits. LockedError if it still holds the repo then."""
        from wizard import lock

        path = lock.path_in(repo)
        held = lock.holder(path)
        if held is None:
            return
        assert self.main_screen is not None
        self.main_screen.waiting_for(held or "another process")
        if self.typed_ahead is not None:  # no glance (no ledger yet): the keys go on now
            self.call_next(self.hand_on_typed_ahead)
        deadline = time.monotonic() + lock.GRACE
        while held is not None:
            if time.monotonic() >= deadline:
                raise lock.locked(held)
            await asyncio.sleep(0.1)
            held = lock.holder(path)

    async def breathe(self) -> None:
        """Let what came in meanwhile (keys) be handled and painted."""
        for _ in range(2):  # the keys reach the app, then the widget they are for
            await asyncio.sleep(0)
            await self.screen.wait_for_refresh()

    async def hand_on_typed_ahead(self) -> None:
        # On the app's own turn: keys that came in since are held too, and go on in order.
        while self.typed_ahead:
            await super().on_event(self.typed_ahead.pop(0))
        self.typed_ahead = None

    def on_mount(self) -> None:
        # The launcher keeps the cyclic collector off through start-up (opening the repo is
        # part of it): what start-up built lives on, so it is frozen out of the collector's
        # passes, which start again once the first frame is painted (or the repo opened).
        if self.opening is None:
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
            if self.main_screen is not None:
                keep_typed(self.main_screen)
        finally:
            self.exit()

    def _handle_exception(self, error: Exception) -> None:
        # Textual would print a traceback with local variables, and a local may hold a password
        # being typed: the run log (which masks secrets) gets the traceback without locals.
        # Textual (8.x) has no public hook for an unhandled exception, hence this override.
        if "session" in vars(self):  # open
            self.session.log.write("".join(traceback.format_exception(error)))
        super()._handle_exception(InternalError(error))

    async def action_quit(self) -> None:
        # A valid value still being typed counts as confirmed: quitting loses nothing typed.
        if self.main_screen is not None:
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

    def open_session() -> Session:
        from wizard.engine import Session

        if demo_backends is None:
            return Session.open(repo, write=True, command="tui")
        return Session.open(repo, write=True, command="demo", backends=demo_backends)

    app = WizardApp(Opening(repo, open_session))
    if demo_backends is not None:
        app.title = f"{WizardApp.TITLE} · DEMO"
        app.sub_title = f"{app.sub_title} · local stand-ins"
    try:
        app.run()
    finally:
        if "session" in vars(app):
            app.session.close()
    if app.open_error is not None:
        raise app.open_error
    if app.terminal_gone:
        return exit_codes.HUNG_UP
    return exit_codes.OK if not app.return_code else exit_codes.INTERNAL
