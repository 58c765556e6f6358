"""The database step's form: the two MySQL servers, the users it owns, and a connection test.

The test logs in as both admin users (through the SSH tunnel when one is set) in a thread
worker; an SSH host the known_hosts file does not know is shown by fingerprint and trusted only
when the operator says yes.
"""

from __future__ import annotations

from textual import on, work
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button

from .confirm import ConfirmDialog
from .files_form import StepForm


class Tested(Message):
    def __init__(self, lines: list[str], error: str = "", fingerprint: str = "") -> None:
        super().__init__()
        self.lines, self.error, self.fingerprint = lines, error, fingerprint


class DatabaseForm(StepForm):
    STEP = "database"
    PREVIEW_LABEL = "Preview SQL  ctrl+p"

    def actions(self) -> list[Widget]:
        return [
            *super().actions(),
            Button("Test connection  f5", id="test-connection", compact=True),
        ]

    @on(Button.Pressed, "#test-connection")
    def test_connection(self) -> None:
        self.confirm_pending()
        self.say("Connecting…")
        self.run_test({})

    @work(thread=True, exit_on_error=False, group="database-test")
    def run_test(self, decisions: dict[str, str]) -> None:
        from wizard import ssh
        from wizard.steps import database

        try:
            lines = database.check_connection(self.session, decisions)
        except ssh.HostKeyUnknown as exc:
            self.post_message(Tested([], self.session.redact(str(exc)), exc.fingerprint))
        except (ValueError, OSError, RuntimeError) as exc:
            self.post_message(Tested([], self.session.redact(str(exc))))
        else:
            self.post_message(Tested(lines))

    @on(Tested)
    def tested(self, message: Tested) -> None:
        if message.fingerprint:
            question = (
                f"{message.error}\n\nTrust this host key ({message.fingerprint}) and record "
                "it in known_hosts?"
            )
            self.app.push_screen(
                ConfirmDialog(question, yes="Trust"),
                lambda yes: self.trusted(message.fingerprint) if yes else self.say(message.error),
            )
            return
        self.say(message.error or "\n".join(message.lines))

    def trusted(self, fingerprint: str) -> None:
        from wizard.steps.database import HOST_KEY

        self.say("Connecting…")
        self.run_test({HOST_KEY: fingerprint})
