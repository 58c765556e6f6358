"""The baseline for bench/startup: a minimal Textual app, a Screen with a few Inputs."""

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.widgets import Footer, Header, Input, Label


class MinimalApp(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Minimal baseline")
        for name in ("client", "region", "host", "password"):
            yield Input(placeholder=name, password=name == "password")
        yield Footer()


if __name__ == "__main__":
    MinimalApp().run()
