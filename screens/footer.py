"""The footer of key bindings, rebuilt only when the keys it shows change.

Textual's footer rebuilds all its keys (a dozen widgets, each styled anew) whenever any
binding may have changed: on every focus move and every step switched in the list, most often
to show the same keys again. That rebuild was the largest part of a key's cost.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


def shown_keys(screen: Screen[Any]) -> tuple[Hashable, ...]:
    """What the footer of ``screen`` would show: each visible binding as its words and state."""
    return tuple(
        (binding.key, binding.key_display, binding.description, binding.action, enabled, tooltip)
        for _, binding, enabled, tooltip in screen.active_bindings.values()
        if binding.show
    )


class KeysFooter(Footer):
    """A :class:`Footer` that skips the rebuild when the keys shown would stay the same."""

    shown: tuple[Hashable, ...] | None = None

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self.shown = shown_keys(self.screen)
        yield from super().compose()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if (
            self.shown is not None
            and self.is_attached
            and screen is self.screen
            and shown_keys(screen) == self.shown
        ):
            return
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        # Changes that come faster than the rebuild (f2, then a step switched at start-up)
        # each asked for one: the first shows the keys as they are now, the others are skipped.
        if self.shown is not None and self.is_attached and shown_keys(self.screen) == self.shown:
            return
        await super().recompose()
