"""The cockpit: hosts, guests, peers, nodes and pods as linked panes over a live Inventory.

The inventory publishes from a background thread; its listener hops onto the UI thread
with call_from_thread and hands over the snapshot and the set of layers that changed. Only
panes drawn from a changed layer are recomputed, and every table is brought up to date by
diffing row keys, so a quiet lab costs nothing and the cursor never jumps.

Below WIDE columns the panes share the screen as tabs; the tables are the same widgets in
both layouts (only shown or hidden), so cursors, filters and row diffs survive a resize.
Themes come from themes/*.toml (cockpit.ui.themes); ctrl+t cycles them.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any, ClassVar, Protocol

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.events import DescendantFocus, Resize
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input, Static, Tab, Tabs

from cockpit.alloc.ledger import Ledger, build_ledger
from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Thresholds
from cockpit.inventory import LAYERS, Listener
from cockpit.model import Snapshot
from cockpit.relations import KINDS, Kind, Relations, Selection
from cockpit.sources.health import Health
from cockpit.topology import Links
from cockpit.ui.palette import DEFAULT_PALETTE, Palette
from cockpit.ui.rows import COLUMNS, DEPENDS, ROW_BUILDERS, Cells, Rows
from cockpit.ui.status import gauge_line, health_line
from cockpit.ui.synced_table import SyncedTable
from cockpit.ui.themes import DEFAULT_THEME, load_themes, palette_for

WIDE = 120  # columns from which all five panes fit side by side
PANE_ORDER: tuple[Kind, ...] = ("host", "guest", "peer", "node", "pod")  # as on screen
LEFT: tuple[Kind, ...] = ("host", "guest", "peer")
TITLES: dict[Kind, str] = {
    "host": "Hosts",
    "guest": "Guests",
    "peer": "Peers",
    "node": "Nodes",
    "pod": "Pods",
}
MARK_COLUMN = ("mark", " ")
SELECTED = Text("◆", style="bold reverse magenta")
RELATED = Text("●", style="bold magenta")
HELP = (
    "tab / shift+tab  next / previous pane\n"
    "up / down        move; the row under the cursor is the selection\n"
    "◆ / ●            the selection / what is related to it in the other panes\n"
    "r                show only related rows in the other panes\n"
    "/                filter the focused pane by text (escape clears)\n"
    "ctrl+t           next colour theme (themes/*.toml)\n"
    "q                quit"
)


class Feed(Protocol):
    """What the app uses of an Inventory (cockpit.ui.static.StaticInventory is another)."""

    listeners: list[Listener]

    @property
    def snapshot(self) -> Snapshot: ...
    @property
    def links(self) -> Links: ...
    def health(self) -> dict[str, Health]: ...
    def now(self) -> float: ...
    def subscribe(self, listener: Listener) -> None: ...


class PaneGrid(Horizontal):
    """The panes' container; it says when its width changes. The App's own Resize is
    stopped by Textual before a subclass handler reliably sees it in a real terminal, and
    the grid always spans the screen, so its width is the terminal's."""

    class Resized(Message):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.width = width

    def on_resize(self, event: Resize) -> None:
        self.post_message(self.Resized(event.size.width))


class CockpitApp(App[None]):
    TITLE = "Homelab Cockpit"
    CSS = """
    SyncedTable { height: 1fr; border: round $panel; }
    SyncedTable:focus { border: round $accent; }
    #left { width: 1fr; }
    #right { width: 1fr; }
    #pod { height: 2fr; }
    #filter { display: none; }
    #filter.shown { display: block; }
    #gauge, #status { height: 1; padding: 0 1; }
    #tabs { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        # Priority: the Screen's own tab binding (plain focus_next) would win otherwise, and
        # in the tabbed layout the hidden panes are not in the focus chain.
        Binding("tab", "next_pane", "Next pane", show=False, priority=True),
        Binding("shift+tab", "previous_pane", "Previous pane", show=False, priority=True),
        Binding("r", "toggle_related", "Related only"),
        Binding("slash", "start_filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("ctrl+t", "cycle_theme", "Theme"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        inventory: Feed,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        status_every: float = 1.0,
        theme_name: str = DEFAULT_THEME,
        themes_dir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.inventory = inventory
        self.thresholds = thresholds
        self.status_every = status_every
        self.snapshot = Snapshot()
        self.ledger: Ledger | None = None
        self.relations: Relations | None = None
        self.content: dict[Kind, Rows] = {kind: {} for kind in KINDS}
        self.selection: Selection | None = None
        self.related: dict[str, set[str]] = {}
        self.related_only = False
        self.filters: dict[Kind, str] = {}
        self._filter_target: Kind | None = None
        self._ui_thread: int | None = None
        self.theme_set = load_themes(themes_dir)
        self.theme_name = theme_name
        self.palette: Palette = DEFAULT_PALETTE
        # Said once in the status bar: broken theme files, an unknown theme name.
        self.notices: list[str] = list(self.theme_set.errors)
        self.narrow = False
        self.active_pane: Kind = "host"

    # --- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        tabs = Tabs(*(Tab(TITLES[kind], id=f"tab-{kind}") for kind in PANE_ORDER), id="tabs")
        tabs.can_focus = False  # focus stays on the tables; tab/shift+tab switch tabs
        yield tabs
        with PaneGrid(id="grid"):
            with Vertical(id="left"):
                for kind in ("host", "guest", "peer"):
                    yield self._make_table(kind)
            with Vertical(id="right"):
                for kind in ("node", "pod"):
                    yield self._make_table(kind)
        yield Input(
            placeholder="filter the focused pane; enter keeps it, escape clears", id="filter"
        )
        yield Static(id="gauge")
        yield Static(id="status")
        yield Footer()

    def _make_table(self, kind: Kind) -> SyncedTable:
        return SyncedTable(kind, (MARK_COLUMN, *COLUMNS[kind]), TITLES[kind])

    def table(self, kind: Kind) -> SyncedTable:
        return self.query_one(f"#{kind}", SyncedTable)

    def on_mount(self) -> None:
        self._ui_thread = threading.get_ident()
        self._apply_theme_choice()
        self.apply(self.inventory.snapshot, frozenset(LAYERS))
        self.inventory.subscribe(self._on_inventory)
        # Health ages ("stale for N s") move with the clock, and a failing poll changes no
        # layer so it publishes nothing: the status bar has its own heartbeat.
        self.set_interval(self.status_every, self.refresh_status)
        self.table("host").focus()

    def on_unmount(self) -> None:
        with contextlib.suppress(ValueError):
            self.inventory.listeners.remove(self._on_inventory)

    # --- themes ------------------------------------------------------------------------

    def _apply_theme_choice(self) -> None:
        for theme in self.theme_set.themes.values():
            self.register_theme(theme)
        name = self.theme_name
        if name not in self.theme_set.themes:
            known = ", ".join(self.theme_set.names)
            self.notices.append(f"unknown theme {name!r}, using {DEFAULT_THEME} (known: {known})")
            name = DEFAULT_THEME
        self.theme = name

    def watch_theme(self, name: str) -> None:
        # Row colours are rich styles baked into cells, not CSS: rebuild them from the new
        # theme; the table diff then touches only the coloured cells.
        self.palette = palette_for(self.current_theme)
        if self.ledger is None:
            return
        for kind in KINDS:
            self.content[kind] = ROW_BUILDERS[kind](self.snapshot, self.ledger, self.palette)
            self._render(kind)
        self._render_gauge()
        self.refresh_status()

    def action_cycle_theme(self) -> None:
        names = self.theme_set.names
        at = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(at + 1) % len(names)]
        self.notify(f"theme {self.theme}", timeout=2)

    # --- responsive layout -------------------------------------------------------------

    def on_pane_grid_resized(self, event: PaneGrid.Resized) -> None:
        self._set_narrow(event.width < WIDE)

    def _set_narrow(self, narrow: bool) -> None:
        try:
            tabs = self.query_one("#tabs", Tabs)
        except NoMatches:  # a resize can arrive before the screen is composed
            return
        self.narrow = narrow
        tabs.display = narrow
        if narrow and isinstance(self.focused, SyncedTable):
            self.active_pane = self.focused.kind  # type: ignore[assignment]
        self._show_panes()

    def _show_panes(self) -> None:
        """Wide: every pane. Narrow: only the active tab's pane (and its column)."""
        for kind in KINDS:
            self.table(kind).display = not self.narrow or kind == self.active_pane
        self.query_one("#left").display = not self.narrow or self.active_pane in LEFT
        self.query_one("#right").display = not self.narrow or self.active_pane not in LEFT
        if self.narrow:
            self.query_one("#tabs", Tabs).active = f"tab-{self.active_pane}"

    def show_pane(self, kind: Kind) -> None:
        """Bring a pane forward (a no-op for the layout when wide) and focus it."""
        self.active_pane = kind
        if self.narrow:
            self._show_panes()
        self.table(kind).focus()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        kind = (event.tab.id or "").removeprefix("tab-")
        if self.narrow and kind in TITLES and kind != self.active_pane:
            self.show_pane(kind)  # type: ignore[arg-type]

    def action_next_pane(self) -> None:
        self._step_pane(1)

    def action_previous_pane(self) -> None:
        self._step_pane(-1)

    def _step_pane(self, step: int) -> None:
        if not self.narrow:
            # Wide: the focus chain, as before (it also reaches the filter box).
            (self.screen.focus_next if step > 0 else self.screen.focus_previous)()
            return
        at = PANE_ORDER.index(self.active_pane)
        self.show_pane(PANE_ORDER[(at + step) % len(PANE_ORDER)])

    # --- data in -----------------------------------------------------------------------

    def _on_inventory(self, snapshot: Snapshot, changed: frozenset[str]) -> None:
        """Called by the inventory on its publishing thread (or on ours, from a test)."""
        if threading.get_ident() == self._ui_thread:
            self.apply(snapshot, changed)
            return
        # The app may be shutting down while the inventory still publishes; losing that
        # last snapshot is harmless, taking the inventory's thread down is not.
        with contextlib.suppress(RuntimeError):
            self.call_from_thread(self.apply, snapshot, changed)

    def apply(self, snapshot: Snapshot, changed: frozenset[str]) -> None:
        """Take a new snapshot; redraw only what the changed layers feed."""
        self.snapshot = snapshot
        self.relations = Relations(snapshot, self.inventory.links)
        if self.ledger is None or changed & {"hosts", "guests", "nodes", "pods"}:
            self.ledger = build_ledger(snapshot, self.thresholds)
        stale = [kind for kind in KINDS if DEPENDS[kind] & changed]
        for kind in stale:
            self.content[kind] = ROW_BUILDERS[kind](snapshot, self.ledger, self.palette)
        if self.selection is not None and self.selection[1] not in self.content.get(
            self.selection[0], {}
        ):
            self.selection = None  # the selected object is gone
        before = self.related
        self.related = self._relatives()
        redraw = KINDS if self.related != before else stale
        for kind in redraw:
            self._render(kind)
        self._render_gauge()
        self.refresh_status()

    def _relatives(self) -> dict[str, set[str]]:
        if self.selection is None or self.relations is None:
            return {}
        return self.relations.of(self.selection)

    # --- drawing -----------------------------------------------------------------------

    def _render(self, kind: Kind) -> None:
        rows: dict[str, Cells] = {}
        needle = self.filters.get(kind, "").lower()
        related = self.related.get(kind, set())
        hide_unrelated = (
            self.related_only and self.selection is not None and self.selection[0] != kind
        )
        for key, cells in self.content[kind].items():
            if hide_unrelated and key not in related:
                continue
            if needle and not _matches(needle, key, cells):
                continue
            rows[key] = (self._mark(kind, key), *cells)
        self.table(kind).sync(rows)

    def _mark(self, kind: Kind, key: str) -> Text | str:
        if self.selection == (kind, key):
            return SELECTED
        return RELATED if key in self.related.get(kind, ()) else ""

    def _render_gauge(self) -> None:
        hosts = self.related.get("host", set())
        host = next(iter(hosts)) if len(hosts) == 1 else None
        self.query_one("#gauge", Static).update(gauge_line(self.ledger, host, self.palette))

    def _status_line(self) -> Text:
        line = health_line(self.inventory.health(), self.inventory.now(), self.palette)
        for notice in self.notices:
            line.append(" │ ", style="dim")
            line.append(notice, style=self.palette.warn)
        return line

    def refresh_status(self) -> None:
        self.query_one("#status", Static).update(self._status_line())

    def status_text(self) -> str:
        """The status bar as plain text (what a test or a screen reader would read)."""
        return self._status_line().plain

    def marked(self, kind: Kind) -> set[str]:
        """Keys of the rows marked as related (not the selection itself) in a pane."""
        return {key for key, cells in self.table(kind).shown.items() if cells[0] == RELATED}

    # --- selection ---------------------------------------------------------------------

    def select(self, kind: Kind, key: str) -> None:
        """Focus a pane and put its cursor on a row, as the keyboard would."""
        table = self.table(kind)
        self.show_pane(kind)
        table.move_cursor(row=table.get_row_index(key))
        self._select((kind, key))

    def _select(self, selection: Selection) -> None:
        if selection == self.selection:
            return
        self.selection = selection
        self.related = self._relatives()
        for kind in KINDS:
            self._render(kind)
        self._render_gauge()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Rows added to an unfocused table move its cursor too; only the pane the user is
        # in may change the selection.
        table = event.data_table
        if isinstance(table, SyncedTable) and table is self.focused and event.row_key.value:
            self._select((table.kind, event.row_key.value))  # type: ignore[arg-type]

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        widget = event.widget
        if isinstance(widget, SyncedTable) and widget.cursor_key is not None:
            self._select((widget.kind, widget.cursor_key))  # type: ignore[arg-type]

    # --- actions -----------------------------------------------------------------------

    def action_toggle_related(self) -> None:
        self.related_only = not self.related_only
        for kind in KINDS:
            self._render(kind)
        self.notify("related rows only" if self.related_only else "all rows", timeout=2)

    def action_start_filter(self) -> None:
        focused = self.focused
        if not isinstance(focused, SyncedTable):
            return
        self._filter_target = focused.kind  # type: ignore[assignment]
        box = self.query_one("#filter", Input)
        box.value = self.filters.get(focused.kind, "")  # type: ignore[call-overload]
        box.border_title = f"filter {TITLES[focused.kind]}"  # type: ignore[index]
        box.add_class("shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter" and self._filter_target is not None:
            self.filters[self._filter_target] = event.value
            self._render(self._filter_target)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._close_filter()

    def action_clear_filter(self) -> None:
        target = self._filter_target or (
            self.focused.kind if isinstance(self.focused, SyncedTable) else None
        )
        if target is not None and self.filters.pop(target, ""):  # type: ignore[arg-type]
            self._render(target)  # type: ignore[arg-type]
        self._close_filter()

    def _close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("shown")
        if self._filter_target is not None:
            self.table(self._filter_target).focus()
        self._filter_target = None

    def action_help(self) -> None:
        self.notify(HELP, title="Keys", timeout=10)


def _matches(needle: str, key: str, cells: Cells) -> bool:
    if needle in key.lower():
        return True
    return any(needle in (c.plain if isinstance(c, Text) else c).lower() for c in cells)
