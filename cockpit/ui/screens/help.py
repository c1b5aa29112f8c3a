"""`?`: every key of the view it was opened from (generated from that view's bindings),
the `:` commands and what each source says, in full, on a screen that scrolls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


@dataclass(frozen=True)
class KeyHelp:
    key: str  # as the footer shows it
    what: str
    disabled: str = ""  # why the key does nothing here ("read-only"), else ""
    group: str = "Keys"  # where the key works: everywhere, this view, the focused list


class HelpScreen(ModalScreen[None]):
    """Modal: the keys behind it do nothing while it is open, only its own."""

    CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help { width: 100%; height: 1fr; border: round $accent; padding: 0 1;
                       background: $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Close"),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
    ]

    def __init__(
        self,
        title: str,
        keys: Sequence[KeyHelp],
        commands: Sequence[tuple[str, str]],
        sources: Sequence[tuple[str, str]],
    ) -> None:
        super().__init__()
        self.title_text = title
        self.keys = list(keys)
        self.commands = list(commands)
        self.sources = list(sources)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self.text(), id="help-text")
        yield Footer()

    def on_mount(self) -> None:
        box = self.query_one("#help", VerticalScroll)
        box.border_title = self.title_text
        box.border_subtitle = "escape closes"
        box.focus()

    def action_scroll(self, step: int) -> None:
        self.query_one("#help", VerticalScroll).scroll_relative(y=step, animate=False)

    def text(self) -> Text:
        width = max((len(k.key) for k in self.keys), default=4) + 2
        text = Text()
        group = None
        for k in self.keys:
            if k.group != group:
                text.append("\n" if group is not None else "")
                text.append(f"{k.group}\n", style="bold underline")
                group = k.group
            text.append(f"{k.key:<{width}}", style="bold")
            text.append(k.what, style="dim" if k.disabled else "")
            if k.disabled:
                text.append(f"  ({k.disabled}: disabled)", style="dim italic")
            text.append("\n")
        if self.commands:
            text.append("\nCommands (: then tab completes)\n", style="bold underline")
            cwidth = max(len(c) for c, _ in self.commands) + 2
            for usage, what in self.commands:
                text.append(f"{usage:<{cwidth}}", style="bold")
                text.append(f"{what}\n")
        if self.sources:
            text.append("\nSources\n", style="bold underline")
            for name, says in self.sources:
                text.append(f"{name:<10}", style="bold")
                text.append(f"{says}\n")
        return text
