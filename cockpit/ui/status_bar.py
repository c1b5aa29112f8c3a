"""The status line as a widget that knows its width: every source keeps a share of it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from cockpit.ui.status import fit_line


class StatusBar(Widget):
    DEFAULT_CSS = "StatusBar { height: 1; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.parts: list[Text] = []

    def show(self, parts: Sequence[Text]) -> None:
        if [(p.plain, p.spans, p.style) for p in parts] == [
            (p.plain, p.spans, p.style) for p in self.parts
        ]:
            return  # nothing changed: nothing is written to the terminal
        self.parts = list(parts)
        self.refresh()

    def render(self) -> Text:
        width = self.content_region.width or None
        return fit_line(self.parts, width)
