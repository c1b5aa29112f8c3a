"""The timeline (`T`, `:timeline`): Kubernetes events, Proxmox tasks, tailnet peers going
offline or coming back and the cockpit's own journal in one list, newest first.

`/` filters by text, 1 / 2 / 3 keep the last 5 / 15 / 60 minutes ("what changed?"), 0 shows
everything, w keeps only warnings, enter jumps to the object in its pane. Ages are measured
against the sources' clock, so a lab running faster than real time reads right."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from cockpit.detail import age
from cockpit.triage.timeline import Entry, recent
from cockpit.ui.host import SelectObject, host_of
from cockpit.ui.screens.text_filter import TextFilter
from cockpit.ui.targets import pane_of

WINDOWS = {"1": 5.0, "2": 15.0, "3": 60.0, "0": None}
REFRESH = 2.0  # seconds between re-reads while the view is open
SOURCE_WORDS = {
    "kube": "kubernetes",
    "proxmox": "proxmox",
    "tailnet": "tailnet",
    "journal": "cockpit",
}


class TimelineScreen(TextFilter, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter"),
        Binding("w", "warnings", "Warnings only"),
        *(Binding(k, f"window('{k}')", "All" if m is None else f"{m:g} min", show=True)
          for k, m in WINDOWS.items()),
    ]  # fmt: skip
    DEFAULT_CSS = """
    TimelineScreen #title { height: 1; padding: 0 1; }
    TimelineScreen DataTable { height: 1fr; }
    TimelineScreen #filter { display: none; }
    TimelineScreen #filter.shown { display: block; }
    """

    def __init__(self, about: str | None = None) -> None:
        super().__init__()
        self.about = about  # an object ref such as node/worker-1: its entries only
        self.minutes: float | None = None
        self.warnings_only = False
        self.entries: list[Entry] = []
        self.now = 0.0

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Input(placeholder="filter the timeline; escape clears", id="filter")
        table: DataTable[Any] = DataTable(id="timeline", cursor_type="row", zebra_stripes=True)
        table.add_columns("When", "Age", "Source", "Object", "What")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(REFRESH, self.reload)
        self.query_one(DataTable).focus()

    def reload(self) -> None:
        host = host_of(self)

        def read() -> None:
            entries = host.timeline()
            now = host.snapshot.clock or time.time()
            self.app.call_from_thread(self._loaded, entries, now)

        self.run_worker(read, thread=True, exclusive=True, group="timeline", exit_on_error=False)

    def _loaded(self, entries: list[Entry], now: float) -> None:
        self.entries, self.now = entries, now
        self.draw()

    def shown(self) -> list[Entry]:
        rows = recent(
            self.entries,
            about=self.about,
            minutes=self.minutes,
            now=self.now,
            level="warning" if self.warnings_only else None,
        )
        needle = self.needle.lower()
        if needle:
            rows = [e for e in rows if needle in f"{e.obj.ref} {e.text} {e.source}".lower()]
        return rows

    def draw(self) -> None:
        table: DataTable[Any] = self.query_one(DataTable)
        rows = self.shown()
        keep = table.cursor_row
        table.clear()
        palette = host_of(self).palette
        for entry in rows:
            style = palette.warn if entry.level == "warning" else ""
            table.add_row(
                time.strftime("%H:%M:%S", time.localtime(entry.at)),
                age(self.now - entry.at),
                SOURCE_WORDS.get(entry.source, entry.source),
                Text(entry.obj.ref),
                Text(entry.text, style=style),
            )
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1))
        window = "everything" if self.minutes is None else f"the last {self.minutes:g} min"
        title = Text(f"Timeline: {len(rows)} of {len(self.entries)} entries, {window}", "bold")
        for word, on in (
            (f" · about {self.about}", self.about),
            (" · warnings only", self.warnings_only),
            (f" · filter {self.needle!r}", self.needle),
        ):
            if on:
                title.append(Text(word))
        self.query_one("#title", Static).update(title)

    # --- keys ------------------------------------------------------------------------------

    def action_window(self, key: str) -> None:
        self.minutes = WINDOWS[key]
        self.draw()

    def action_warnings(self) -> None:
        self.warnings_only = not self.warnings_only
        self.draw()

    def filtered_widget(self) -> DataTable[Any]:
        return self.query_one(DataTable)

    def refilter(self) -> None:
        self.draw()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        rows = self.shown()
        if not 0 <= event.cursor_row < len(rows):
            return
        target = pane_of(rows[event.cursor_row].obj, host_of(self).snapshot)
        if target is None:
            self.notify(f"{rows[event.cursor_row].obj.ref} has no row in the panes")
            return
        self.post_message(SelectObject(*target))

    def action_back(self) -> None:
        if not self.clear_filter():
            self.app.pop_screen()
