"""An Input whose editing keys apply in the order they were typed, in the field they were
typed in.

Textual inserts a letter as soon as the input reads it, but runs the input's own key bindings
(backspace, ctrl+u, the arrows, home, enter…) only once the key has gone up to the app. In a
burst of keys typed ahead (a fast typist over a laggy SSH link, or a paste of keys) the letters
behind a backspace were inserted before it was applied, and after a tab it applied in the next
field: ``opz`` backspace ``s`` gave ``opzs``; shift+tab ctrl+u cleared the field just left.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class InOrderInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        # Runs before Input's own handler (Textual calls each class's, subclass first).
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if await self.app.run_action(binding.action, self):
                event.stop()  # not up to the app, which would run the binding again
                event.prevent_default()  # nor to Input's handler
                return
