"""The `/` box a list screen shares: type to narrow what it shows, enter keeps the text and
goes back to the list, escape clears it (a second escape leaves the screen)."""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Input


class TextFilter:
    """Mixed into a Screen that has an `Input(id="filter")`; the screen says what to focus
    after the box (`filtered_widget`) and how to redraw (`refilter`)."""

    needle: str = ""

    def filtered_widget(self) -> Widget:
        raise NotImplementedError

    def refilter(self) -> None:
        raise NotImplementedError

    def _box(self) -> Input:
        return self.query_one("#filter", Input)  # type: ignore[attr-defined]

    def action_filter(self) -> None:
        box = self._box()
        box.value = self.needle
        box.add_class("shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.needle = event.value
        self.refilter()

    def on_input_submitted(self, _: Input.Submitted) -> None:
        self._box().remove_class("shown")
        self.filtered_widget().focus()

    def clear_filter(self) -> bool:
        """Escape's first job: close and clear the box; False when there was nothing to."""
        box = self._box()
        if not (box.has_class("shown") or self.needle):
            return False
        self.needle = ""
        box.remove_class("shown")
        self.filtered_widget().focus()
        self.refilter()
        return True
