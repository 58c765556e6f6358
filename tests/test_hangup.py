"""A hang-up while the screen is busy drawing: the wizard still lets go of the repo.

The wizard runs on a real pty and leads its session, as with ``ssh -t host analytics-wizard
DIR``; the test holds the pty's other end and closes it, as a dropped connection does. The
kernel then sends SIGHUP and SIGCONT, and every write to the terminal fails. Regression (CI,
stop 16): Textual's writer thread ended on the first failed write, the app kept queuing frames
and blocked for good on a full queue, holding the repo's lock.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

from conftest import ROOT, wait_for
from snapshot_apps.repos import make_repo
from test_tui_terminal import released

# The wizard's app, with a screen that redraws all the time (as the live view of a run does)
# and a hang-up that takes a moment to act on (as letting go of a followed run does): frames
# keep coming after the terminal is gone.
BUSY_WIZARD = """
import sys
from pathlib import Path

from screens.app import WizardApp
from wizard.engine import Session


class Busy(WizardApp):
    def on_mount(self):
        super().on_mount()
        self.frames = 0
        self.set_interval(0.005, self.tick)

    def tick(self):
        self.frames += 1
        self.sub_title = f"frame {self.frames}"

    def hung_up(self):
        self.set_timer(1, super().hung_up)


session = Session.open(Path(sys.argv[1]), write=True, command="tui")
try:
    Busy(session).run()
finally:
    session.close()
"""


def read_until(fd: int, marker: bytes) -> None:
    seen = b""
    deadline = time.monotonic() + 120  # a hang guard
    while marker not in seen[-4096:]:
        assert time.monotonic() < deadline, f"{marker!r} never drawn"
        if select.select([fd], [], [], 1)[0]:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # EIO: the child is gone
                raise AssertionError(f"the wizard ended early: {seen[-2000:]!r}") from None


def test_a_hang_up_while_frames_are_drawn_lets_go_of_the_repo(repo: Path) -> None:
    make_repo(repo)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the wizard, leading the pty's session
        try:
            os.execve(sys.executable, [sys.executable, "-c", BUSY_WIZARD, str(repo)], env)
        finally:
            os._exit(127)
    ended: list[int] = []

    def exited() -> bool:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            ended.append(status)
        return bool(ended)

    try:
        read_until(fd, b"frame 20")
        assert not released(repo)
        os.close(fd)  # the connection drops
        fd = -1
        wait_for(exited, "the wizard ending after the hang-up", 60)
        assert released(repo)
        assert os.waitstatus_to_exitcode(ended[0]) == 0
    finally:
        if fd >= 0:
            os.close(fd)
        if not ended and not exited():  # hung: do not leave it behind
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
