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
import gc
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.events import DescendantFocus, Resize
from textual.message import Message
from textual.message_pump import active_message_pump
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Static, Tab, Tabs
from textual.worker import WorkerFailed

from cockpit import detail
from cockpit.actions.base import Context
from cockpit.alloc.ledger import Ledger
from cockpit.alloc.live_ledger import LiveLedger
from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Thresholds
from cockpit.detail import peer_key
from cockpit.inventory import LAYERS, Listener
from cockpit.memory import release_free_memory
from cockpit.model import Snapshot
from cockpit.relations import KINDS, Kind, Relations, Selection
from cockpit.sources.health import Health, SourceError
from cockpit.topology import Links
from cockpit.triage.finding import Finding
from cockpit.triage.findings import find_findings, risk_findings
from cockpit.triage.incidents import build_incidents
from cockpit.triage.timeline import Entry, build_timeline
from cockpit.ui.action_keys import ActionKeys
from cockpit.ui.commands import (
    BY_NAME,
    CockpitCommands,
    CommandSuggester,
    available,
    completions,
    parse,
)
from cockpit.ui.frames import Coalescer, FramePending, update_if_changed
from cockpit.ui.host import FetchLog, FetchRaw, RunCommand, SelectObject, StartAction
from cockpit.ui.incident_strip import MAX_FIXES, IncidentStrip, Triage
from cockpit.ui.palette import DEFAULT_PALETTE, Palette
from cockpit.ui.risk_cache import RiskCache
from cockpit.ui.rows import COLUMNS, DEPENDS, FLEXIBLE, ROW_BUILDERS, Cells, PodRows, Rows
from cockpit.ui.screens.detail import DetailScreen
from cockpit.ui.screens.help import HelpScreen, KeyHelp
from cockpit.ui.screens.logs import LogsScreen
from cockpit.ui.screens.timeline import TimelineScreen
from cockpit.ui.screens.triage import TriageScreen
from cockpit.ui.status import (
    fit_line,
    gauge_line,
    health_parts,
    host_layers,
    is_starting,
    lab_layers,
)
from cockpit.ui.status_bar import StatusBar
from cockpit.ui.targets import command_line
from cockpit.ui.themes import DEFAULT_THEME, load_themes, palette_for
from cockpit.ui.virtual_table import Row, Section, VirtualTable

W = TypeVar("W", bound=Widget)
INLINE_TRIAGE_PODS = 2_000  # below this, triage takes a few ms: no thread needed
HISTORY_EVERY = 5.0  # seconds between usage samples (metrics-server scrapes every 15 s)
HISTORY_LENGTH = 24
AGE_EVERY = 60.0  # seconds between Age column ticks: an age is read in minutes
SETTLE_HEAP_FROM = 2_000  # pods from which the heap is frozen once synced (see _settle_heap)
# Seconds from one triage of a big lab to the next while it keeps changing: triage walks
# every pod (~0.1-0.3 s at 10,000) and, in a thread, competes with drawing for the one
# Python interpreter; one run after a burst of changes sees them all.
TRIAGE_GAP = 1.0
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
GROUPINGS = ("node", "namespace", "none")


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


# Messages whose handlers in the app are guarded (see CockpitApp._dispatch_message).
GUARDED = (
    SelectObject,
    RunCommand,
    StartAction,
    FetchRaw,
    Input.Submitted,
    Input.Changed,
    Tabs.TabActivated,
)


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


class CockpitApp(ActionKeys):
    TITLE = "Homelab Cockpit"
    COMMANDS = App.COMMANDS | {CockpitCommands}
    CSS = """
    VirtualTable { height: 1fr; border: round $panel; }
    VirtualTable:focus { border: round $accent; }
    #left { width: 1fr; }
    #right { width: 2fr; }
    #pod { height: 2fr; }
    #filter, #command, #completions { display: none; }
    #filter.shown, #command.shown, #completions.shown { display: block; }
    #completions { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    #gauge { height: auto; max-height: 2; padding: 0 1;
             text-wrap: nowrap; text-overflow: ellipsis; }
    #status { height: 1; padding: 0 1; }
    #tabs { display: none; }
    /* Toasts sit above the gauge, the status line and the footer, not on them. */
    ToastRack { margin-bottom: 5; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        # Priority: the Screen's own tab binding (plain focus_next) would win otherwise, and
        # in the tabbed layout the hidden panes are not in the focus chain.
        Binding("tab", "next_pane", "Next pane", show=False, priority=True),
        Binding("shift+tab", "previous_pane", "Previous pane", show=False, priority=True),
        Binding("r", "toggle_related", "Related only"),
        Binding("slash", "start_filter", "Filter"),
        Binding("escape", "back", "Back", show=False),
        Binding("enter", "drill", "Open"),
        Binding("colon", "start_command", "Command"),
        Binding("o", "cycle_grouping", "Group pods", show=False),
        Binding("ctrl+t", "cycle_theme", "Theme"),
        Binding("question_mark", "help", "Help"),
        Binding("d", "drain", "Drain"),
        Binding("X", "replace", "Replace node", show=False),
        Binding("c", "cordon", "Cordon", show=False),
        Binding("u", "uncordon", "Uncordon", show=False),
        Binding("R", "restart", "Restart"),
        Binding("H", "scale_ha", "Scale HA", show=False),
        Binding("p", "power", "Power", show=False),
        Binding("J", "journal", "Journal", show=False),
        Binding("t", "triage", "Triage"),
        Binding("T", "timeline", "Timeline", show=False),
        Binding("l", "logs", "Logs", show=False),
        *(Binding(str(n), f"fix({n})", f"Fix {n}", show=False) for n in range(1, MAX_FIXES + 1)),
        # In read-only mode the keys above are unbound; these say so instead of nothing.
        *(
            Binding(key, f"refuse('{name}')", f"{name} (read-only)", show=False)
            for key, name in (
                ("d", "drain"),
                ("c", "cordon"),
                ("u", "uncordon"),
                ("R", "restart"),
                ("H", "scale-ha"),
                ("p", "power"),
                ("X", "replace"),
            )
        ),
    ]

    def __init__(
        self,
        inventory: Feed,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        status_every: float = 1.0,
        theme_name: str = DEFAULT_THEME,
        themes_dir: Path | None = None,
        readonly: bool = False,
        action_context: Callable[[], Context] | None = None,
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
        self._pod_rows = PodRows()  # the pods pane's rows, updated key by key
        self._live_ledger = LiveLedger(thresholds)
        self._pod_view: tuple[Any, ...] | None = None  # what the pods pane was last given
        self._frames = Coalescer()  # publishes waiting for the next frame
        self._triage_due: Any = None  # the timer of the next triage after changes
        self._triage_started = float("-inf")
        self._heap_settled = False  # see _settle_heap
        self._risks = RiskCache()  # a big lab's standing risks, between triage runs
        # Per pane, per row: (filter, the cells it was asked of, whether they matched).
        self._filter_verdicts: dict[Kind, dict[str, tuple[str, Cells, bool]]] = {}
        self.selection: Selection | None = None
        self.related: dict[str, set[str]] = {}
        self.related_only = False
        self.readonly = readonly
        self.action_context = action_context  # None: a frozen snapshot, nothing to act on
        if readonly:
            self.sub_title = "READ-ONLY"
        self.grouping = "node"  # how the pods pane is sectioned
        self.filters: dict[Kind, str] = {}
        self._filter_target: Kind | None = None
        self._command_return: Any = None  # what had focus before the `:` box opened
        # Tab completion at `:`: (what was typed, the matching lines, which one is shown).
        self._completion: tuple[str, list[str], int] | None = None
        self._ui_thread: int | None = None
        self.theme_set = load_themes(themes_dir)
        self.theme_name = theme_name
        self.palette: Palette = DEFAULT_PALETTE
        # Said once in the status bar: broken theme files, an unknown theme name.
        self.notices: list[str] = list(self.theme_set.errors)
        self.narrow = False
        self.active_pane: Kind = "host"
        # Pods' memory use per gauge scope ("" = the whole lab), sampled for the sparkline.
        self.history: dict[str, deque[float]] = {}
        # The latest triage (made off the UI thread), the snapshot before the current one
        # (peers that changed state), and the source states it was made with.
        self.triage = Triage()
        self._previous: Snapshot | None = None
        self._triaged_health: tuple[str, ...] = ()

    # --- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        tabs = Tabs(*(Tab(TITLES[kind], id=f"tab-{kind}") for kind in PANE_ORDER), id="tabs")
        tabs.can_focus = False  # focus stays on the tables; tab/shift+tab switch tabs
        yield tabs
        yield IncidentStrip(id="incidents")
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
        yield Input(
            placeholder=":pods worker-1  :theme light  :drain NODE  (tab completes, escape closes)",
            id="command",
            suggester=CommandSuggester(self),
        )
        yield Static(id="completions")
        yield Static(id="gauge")
        yield StatusBar(id="status")
        yield Footer()

    def _make_table(self, kind: Kind) -> VirtualTable:
        return VirtualTable(
            kind, (MARK_COLUMN, *COLUMNS[kind]), TITLES[kind], FLEXIBLE.get(kind, {})
        )

    def table(self, kind: Kind) -> VirtualTable:
        return self._main(f"#{kind}", VirtualTable)

    def _main(self, selector: str, kind: type[W]) -> W:
        """A widget of the panes' screen, whichever screen is in front (timers and the
        inventory keep drawing it under a detail view)."""
        if not self.screen_stack:
            raise NoMatches(f"no screen for {selector}")
        return self.screen_stack[0].query_one(selector, kind)

    def on_mount(self) -> None:
        self._ui_thread = threading.get_ident()
        self._apply_theme_choice()
        self.apply(self.inventory.snapshot, frozenset(LAYERS))
        self.inventory.subscribe(self._on_inventory)
        # Health ages ("stale for N s") move with the clock, and a failing poll changes no
        # layer so it publishes nothing: the status bar has its own heartbeat.
        self.set_interval(self.status_every, self.refresh_status)
        self.set_interval(HISTORY_EVERY, self.sample_usage)
        self.set_interval(AGE_EVERY, self._tick_ages)
        self.table("host").focus()
        self._offer_resume()

    # --- what screens read (cockpit.ui.host.Host) -----------------------------------------

    @property
    def links(self) -> Links:
        return self.inventory.links

    def clock(self) -> float:
        """The sources' clock when they give one (a lab runs on its own), else ours."""
        return self.snapshot.clock or self.inventory.now()

    def relatives(self, selection: Selection) -> dict[str, set[str]]:
        """Per pane, the row keys related to `selection`. Relations name peers by
        hostname; the Peers pane keys them by ID (hostnames repeat), so translate."""
        if self.relations is None:
            return {}
        kind, key = selection
        by_key = {peer_key(p): p.hostname for p in self.snapshot.peers}
        out = self.relations.of((kind, by_key.get(key, key)) if kind == "peer" else selection)
        keys_by_name: dict[str, set[str]] = {}
        for row_key, name in by_key.items():
            keys_by_name.setdefault(name, set()).add(row_key)
        peers = set().union(*(keys_by_name.get(name, {name}) for name in out.get("peer", ())))
        if kind == "peer":  # not the other devices that merely share its hostname
            peers = (peers - keys_by_name.get(by_key.get(key, key), set())) | {key}
        out["peer"] = peers
        return out

    # --- what screens ask for (cockpit.ui.host messages) ---------------------------------

    def on_select_object(self, message: SelectObject) -> None:
        while len(self.screen_stack) > 1:  # back to the panes from any view
            self.pop_screen()
        self.select(message.kind, message.key)

    # --- errors: say them, keep running ---------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications carry names and messages from the servers and from the `:` line:
        never markup, so `[/x]` in them is shown, not parsed."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def report_error(self, error: BaseException) -> None:
        """An unexpected failure in a screen, a key or a worker: shown, logged, survived."""
        self.log.error(repr(error))
        what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        self.notify(what, title="error (the cockpit keeps running)", severity="error", timeout=15)

    async def _dispatch_action(self, namespace: Any, action_name: str, params: Any) -> bool:
        """Every key binding's action runs through here: an exception in one is reported
        and the key counts as handled, on any screen."""
        try:
            return await super()._dispatch_action(namespace, action_name, params)
        except Exception as error:
            self.report_error(error)
            return True

    async def _dispatch_message(self, message: Message) -> None:
        # The app's own handlers of what screens and boxes ask (a selection, a `:` line, a
        # fetch): a failure in one must not stop the app's message loop. Textual's own
        # messages (events, shutdown) pass untouched.
        if not isinstance(message, GUARDED) or self._closing or not self.is_running:
            await super()._dispatch_message(message)
            return
        try:
            await super()._dispatch_message(message)
        except Exception as error:
            self.report_error(error)

    def _handle_exception(self, error: Exception) -> None:
        """What escaped a worker or a screen: a failed worker is reported; a pushed screen
        whose handler raised is closed (its message loop has stopped) and reported. Only
        a failure in the main screen still ends the app."""
        if self.is_running and isinstance(error, WorkerFailed):
            self.report_error(error.error)
            return
        pump = active_message_pump.get(None)
        screen = getattr(pump, "screen", None) if pump is not None else None
        if (
            self.is_running
            and isinstance(screen, Screen)
            and len(self.screen_stack) > 1
            and screen is self.screen
        ):
            self.report_error(error)
            self.call_later(self.pop_screen)
            return
        super()._handle_exception(error)

    def on_run_command(self, message: RunCommand) -> None:
        self.run_command(message.line)

    def on_fetch_raw(self, message: FetchRaw) -> None:
        """The object as its source has it, fetched in a thread (it is an API call)."""
        kind, key, reply = message.kind, message.key, message.reply

        def fetch() -> None:
            record = detail.find(self.snapshot, kind, key)
            if record is None:
                return
            feed = self.inventory
            raw = detail.raw(
                kind, key, record, getattr(feed, "kube", None), getattr(feed, "proxmox", None)
            )
            with contextlib.suppress(RuntimeError):  # the app is closing
                self.call_from_thread(reply, raw)

        self.run_worker(fetch, thread=True, exclusive=True, group="fetch-raw")

    def on_fetch_log(self, message: FetchLog) -> None:
        kube = getattr(self.inventory, "kube", None)
        reply = message.reply

        def fetch() -> None:
            try:
                if kube is None:
                    raise SourceError("no Kubernetes connection: logs need a live cluster")
                text, ok = (
                    kube.pod_log(
                        message.namespace, message.pod, message.container, message.previous
                    ),
                    True,
                )
            except SourceError as exc:
                text, ok = exc.reason, False
            with contextlib.suppress(RuntimeError):
                self.call_from_thread(reply, text, ok)

        self.run_worker(fetch, thread=True, exit_on_error=False, group="fetch-log")

    def timeline(self) -> list[Entry]:
        """Every timeline entry now (read from a screen's worker thread)."""
        journal: list[dict[str, Any]] = []
        if self.action_context is not None:
            with contextlib.suppress(Exception):  # no journal yet, or unreadable: no entries
                journal = list(self.action_context().journal.entries())
        return build_timeline(self.snapshot, self._previous, journal, self.clock())

    # --- the command palette ------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands, without its theme picker and key panel: themes and
        keys are the cockpit's (`:theme`, ctrl+t, `?`)."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Theme", "Keys"):
                yield command
        yield SystemCommand("Keys", "Every key of this view, and the commands", self.action_help)

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
            self.content[kind] = ROW_BUILDERS[kind](
                self.snapshot, self.ledger, self.palette, self.clock()
            )
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
        # Narrow: the gauge gets one line (cut, not wrapped) so the pane keeps its rows.
        self.query_one("#gauge", Static).styles.max_height = 1 if narrow else 2
        self._render_gauge()
        if narrow and isinstance(self.focused, VirtualTable):
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
        box = self.focused
        if isinstance(box, Input) and box.id == "command":
            self._complete_command(box, step)
            return
        if self.screen is not self.screen_stack[0]:
            # Another screen (a detail view, the help): its own focus chain, not the panes.
            (self.screen.focus_next if step > 0 else self.screen.focus_previous)()
            return
        if not self.narrow:
            # Wide: the focus chain, as before (it also reaches the filter box).
            (self.screen.focus_next if step > 0 else self.screen.focus_previous)()
            return
        at = PANE_ORDER.index(self.active_pane)
        self.show_pane(PANE_ORDER[(at + step) % len(PANE_ORDER)])

    # --- data in -----------------------------------------------------------------------

    def _on_inventory(self, snapshot: Snapshot, changed: frozenset[str]) -> None:
        """Called by the inventory on its publishing thread (or on ours, from a test). From
        the inventory's thread the publish is parked and drawn with the next frame
        (cockpit.ui.frames); the publisher never waits for the screen."""
        if threading.get_ident() == self._ui_thread:
            self.apply(snapshot, changed)
            return
        if self._frames.offer(snapshot, changed):
            # post_message is thread-safe and returns at once; a closing app drops it.
            self.post_message(FramePending())

    def on_frame_pending(self, _: FramePending) -> None:
        wait = self._frames.wait()
        if wait > 0:
            self.set_timer(wait, self._draw_frame)
        else:
            self._draw_frame()

    def _draw_frame(self) -> None:
        pending = self._frames.take()
        if pending is not None:
            self.apply(*pending)

    def _tick_ages(self) -> None:
        if self._pod_rows.rows is self.content["pod"]:
            ticked = self._pod_rows.tick(self.clock())
            if ticked:
                self._render("pod", ticked)

    def apply(self, snapshot: Snapshot, changed: frozenset[str]) -> None:
        """Take a new snapshot; redraw only what the changed layers feed."""
        if snapshot is not self.snapshot:
            self._previous = self.snapshot
        self.snapshot = snapshot
        self.relations = self._relations_for(snapshot, changed)
        # By difference: only the nodes whose pods changed are summed again.
        self.ledger = self._live_ledger.apply(snapshot, changed)
        stale = [kind for kind in KINDS if DEPENDS[kind] & changed]
        only: dict[Kind, frozenset[str]] = {}  # panes whose rows changed at these keys only
        for kind in stale:
            if kind == "pod":
                only.update(self._update_pod_rows(snapshot, changed))
                continue
            self.content[kind] = ROW_BUILDERS[kind](
                snapshot, self.ledger, self.palette, self.clock()
            )
        if self.selection is not None and self.selection[1] not in self.content.get(
            self.selection[0], {}
        ):
            self.selection = None  # the selected object is gone
        before = self.related
        self.related = self._relatives()
        for kind in KINDS:  # rows whose mark (related or not) flipped
            flipped = self.related.get(kind, set()) ^ before.get(kind, set())
            if not flipped:
                continue
            if kind not in stale:
                stale.append(kind)
                only[kind] = frozenset(flipped)
            elif kind in only:
                only[kind] = only[kind] | flipped
        for kind in stale:
            self._render(kind, only.get(kind))
        self._render_gauge()
        self.refresh_status()
        self._risks.note(changed)
        self._triage_after_change()

    def _triage_after_change(self) -> None:
        """Triage now for a small lab; for a big one at most once per TRIAGE_GAP and never
        two at a time (a thread worker cannot be stopped half-way: they would pile up)."""
        if len(self.snapshot.pods) <= INLINE_TRIAGE_PODS:
            self.run_triage()
        elif self._triage_due is None:
            wait = self._triage_started + TRIAGE_GAP - time.monotonic()
            self._triage_due = self.set_timer(max(wait, 0.01), self._triage_when_free)

    def _triage_when_free(self) -> None:
        if any(w.group == "triage" and w.is_running for w in self.workers):
            self._triage_due = self.set_timer(TRIAGE_GAP / 4, self._triage_when_free)
            return
        self._triage_due = None
        self._triage_started = time.monotonic()
        self.run_triage()

    def _relations_for(self, snapshot: Snapshot, changed: frozenset[str]) -> Relations:
        """The relations by difference when only pods changed (and said which), else anew."""
        links = self.inventory.links
        delta = getattr(changed, "delta", {}).get("pods")
        old = self.relations
        if (
            old is not None
            and delta is not None
            and not changed & {"hosts", "guests", "nodes", "peers"}
            and old.links == links
        ):
            return old.with_pods(delta.removed, delta.records)
        return Relations(snapshot, links)

    def _update_pod_rows(
        self, snapshot: Snapshot, changed: frozenset[str]
    ) -> dict[Kind, frozenset[str]]:
        """The pods pane's rows by difference when the publish says which pods changed (and
        the rows are ours: a theme switch rebuilds them whole); else all of them."""
        delta = getattr(changed, "delta", {}).get("pods")
        rows, now = self._pod_rows, self.clock()
        if delta is not None and rows.rows is self.content["pod"]:
            self.content["pod"] = rows.update(delta.removed, delta.records, self.palette, now)
            return {"pod": delta.keys}
        self.content["pod"] = rows.rebuild(snapshot.pods, self.palette, now)
        return {}

    # --- triage ------------------------------------------------------------------------

    def run_triage(self) -> None:
        """Findings and incidents for the current snapshot. They walk every pod: a small
        lab is triaged at once, so the strip changes in the same frame as the panes; a big
        one in a thread, and a result older than the one shown is dropped."""
        snapshot, previous, now = self.snapshot, self._previous, self.clock()
        health = self.inventory.health()
        self._triaged_health = _health_states(health)

        def triage(risks: Sequence[Finding] | None = None) -> Triage:
            findings = find_findings(snapshot, now, health, previous, self.thresholds, risks=risks)
            incidents = tuple(build_incidents(snapshot, findings))
            return Triage(snapshot.version, incidents, tuple(findings))

        if len(snapshot.pods) <= INLINE_TRIAGE_PODS:
            self._show_triage(triage())
            return
        risks, epoch = self._risks.get(), self._risks.epoch

        def work() -> None:
            made = risk_findings(snapshot) if risks is None else None
            result = triage(risks if made is None else made)
            with contextlib.suppress(RuntimeError):  # the app is closing
                if made is not None:
                    self.call_from_thread(self._risks.keep, made, epoch)
                self.call_from_thread(self._show_triage, result)

        self.run_worker(work, thread=True, exclusive=True, group="triage", exit_on_error=False)

    def _show_triage(self, result: Triage) -> None:
        if result.version < self.triage.version:
            return
        if not self.is_mounted:
            return
        self.triage = result
        with contextlib.suppress(NoMatches):  # the app is closing
            self._main("#incidents", IncidentStrip).show(result, self.palette)
        for screen in self.screen_stack:
            if isinstance(screen, TriageScreen):
                screen.show(result)
        self.refresh_status()

    def _relatives(self) -> dict[str, set[str]]:
        if self.selection is None or self.relations is None:
            return {}
        return self.relatives(self.selection)

    # --- drawing -----------------------------------------------------------------------

    def _render(self, kind: Kind, only: frozenset[str] | set[str] | None = None) -> None:
        """Bring a pane's table up to date; `only`: the rows that can differ from what it
        shows (None: any row may)."""
        rows: dict[str, Row] = {}
        needle = self.filters.get(kind, "").lower()
        related = self.related.get(kind, set())
        hide_unrelated = (
            self.related_only and self.selection is not None and self.selection[0] != kind
        )
        selected = self.selection[1] if self.selection and self.selection[0] == kind else None
        view = (needle, hide_unrelated, self.grouping, selected)
        if kind == "pod" and only is not None and self._patch_pod_view(view, only):
            return
        content = self.content[kind]
        # What the filter said of each row, kept while the row's cells are the same object:
        # matching every cell's text of 10,000 rows was most of a redraw when a pod came.
        verdicts = self._filter_verdicts.setdefault(kind, {})
        if len(verdicts) > 2 * len(content) + 64:
            verdicts.clear()  # rows that went long ago
        for key, cells in content.items():
            if hide_unrelated and key not in related:
                continue
            if needle:
                kept = verdicts.get(key)
                if kept is not None and kept[1] is cells and kept[0] == needle:
                    shown = kept[2]
                else:
                    shown = _matches(needle, key, cells)
                    verdicts[key] = (needle, cells, shown)
                if not shown:
                    continue
            # As _mark says, inlined: this runs for every row of 10,000.
            mark = SELECTED if key == selected else RELATED if key in related else ""
            rows[key] = (mark, *cells)
        if kind == "pod" and self.grouping != "none":
            rows = self._grouped(rows)
        table = self.table(kind)
        title = Text(TITLES[kind])
        if needle:  # a filter hides rows: the pane says so, and by what
            title.append(f" /{self.filters[kind]}", style="bold")
        if hide_unrelated:
            title.append(" related only", style="italic")
        if table.border_title != title:
            table.border_title = title
        if kind == "pod":
            self._pod_view = (view, self._pod_rows.version, self.content["pod"], rows)
        table.sync(rows, only)

    def _patch_pod_view(self, view: tuple[Any, ...], only: frozenset[str] | set[str]) -> bool:
        """The pods pane by patching the rows it was last given, when no pod came, went or
        moved since and the view (filter, related-only, grouping; the selection too when
        only related rows show) is the same: a copy of the dict and the changed keys (which
        include an old and a new selection) instead of a pass over every row. False when
        that cannot be done; the caller then builds every row."""
        cached = self._pod_view
        content = self.content["pod"]
        needle, hide_unrelated, _, selected = view
        if (
            cached is None
            # The selection is a mark like any other, unless it decides which rows show.
            or cached[0][:3] != view[:3]
            or (hide_unrelated and cached[0][3] != selected)
            or cached[1] != self._pod_rows.version
            or self._pod_rows.rows is not content
        ):
            return False
        related = self.related.get("pod", set())
        rows = dict(cached[3])
        for key in only:
            cells = content.get(key)
            visible = (
                cells is not None
                and not (hide_unrelated and key not in related)
                and not (needle and not _matches(needle, key, cells))
            )
            if visible != (key in rows):
                return False  # a row appears or disappears: the sections change
            if cells is not None and visible:
                mark = SELECTED if key == selected else RELATED if key in related else ""
                rows[key] = (mark, *cells)
        self._pod_view = (view, self._pod_rows.version, content, rows)
        self.table("pod").sync(rows, only)
        return True

    def _grouped(self, rows: dict[str, Row]) -> dict[str, Row]:
        """Pods in sections by node (as the rows come) or by namespace (re-sorted)."""
        by_namespace = self.grouping == "namespace"
        keys = sorted(rows) if by_namespace else list(rows)
        # The group of a pod row: its namespace (the key's first part) or its Node cell.
        names = {k: k.split("/", 1)[0] if by_namespace else str(rows[k][2]) for k in keys}
        counts = Counter(names.values())
        out: dict[str, Row] = {}
        current = None
        for key in keys:
            name = names[key]
            if name != current:
                current = name
                label = "unscheduled" if name == "-" else name
                out[f"§{self.grouping}:{name}"] = Section(f"{label} ({counts[name]})")
            out[key] = rows[key]
        return out

    def _mark(self, kind: Kind, key: str) -> Text | str:
        if self.selection == (kind, key):
            return SELECTED
        return RELATED if key in self.related.get(kind, ()) else ""

    def _gauge_host(self) -> str | None:
        hosts = self.related.get("host", set())
        return next(iter(hosts)) if len(hosts) == 1 else None

    def _render_gauge(self) -> None:
        """The whole lab on one line; the selected object's physical host on a second."""
        if self.ledger is None:
            update_if_changed(self._main("#gauge", Static), gauge_line(None))
            return
        host = self._gauge_host()
        layers = host_layers(self.ledger, host) if host else None
        if self.narrow:  # one line: the selected host's ratios, else the lab's
            scope = layers if layers is not None else lab_layers(self.ledger)
            text = gauge_line(scope, self.palette, compact=True)
            text.no_wrap, text.overflow = True, "ellipsis"
        else:
            text = gauge_line(lab_layers(self.ledger), self.palette, self.history.get("", ()))
            if layers is not None and len(self.snapshot.hosts) > 1:
                text.append("\n")
                history = self.history.get(host or "", ())
                text.append_text(gauge_line(layers, self.palette, history))
        update_if_changed(self._main("#gauge", Static), text)

    def sample_usage(self) -> None:
        """Note the pods' memory use now, for the lab and each host, where metrics exist."""
        if self.ledger is None:
            return
        scopes = [("", lab_layers(self.ledger))]
        scopes += [(h.host.name, host_layers(self.ledger, h.host.name)) for h in self.ledger.hosts]
        for scope, layers in scopes:
            if layers is not None and layers.used_memory is not None:
                self.history.setdefault(scope, deque(maxlen=HISTORY_LENGTH)).append(
                    layers.used_memory
                )
        self._render_gauge()

    def _status_parts(self) -> list[Text]:
        health = self.inventory.health()
        if _health_states(health) != self._triaged_health and self.is_running:
            self.run_triage()  # a source went stale or came back: findings about it change
        counts = self.triage.counts()
        parts = [
            Text(f"{counts[severity]} {severity}", style=f"bold {style}")
            for severity, style in (("critical", self.palette.bad), ("warning", self.palette.warn))
            if counts[severity]
        ]
        parts += health_parts(health, self.inventory.now(), self.palette)
        parts.extend(Text(notice, style=self.palette.warn) for notice in self.notices)
        return parts

    def _status_line(self) -> Text:
        return fit_line(self._status_parts())

    def refresh_status(self) -> None:
        with contextlib.suppress(NoMatches):  # the app is closing
            self._main("#status", StatusBar).show(self._status_parts())
        if not self._heap_settled:
            self._settle_heap()

    def _settle_heap(self) -> None:
        """Once every source has synced, move what is alive to the permanent generation.
        The records of 10,000 pods live as long as the session and hold no cycles, yet every
        full collection walked them again: at 10,000 pods that was a few tenths of a second
        of CPU per idle minute. Records replaced later are still freed by their counts. A
        small lab is left alone: its collections cost nothing, and a process that runs many
        apps one after another (a test run) would keep each one's cycles for good."""
        if len(self.snapshot.pods) < SETTLE_HEAP_FROM:
            return
        health = self.inventory.health().values()
        if all(h.state in ("ok", "unconfigured") for h in health):
            gc.collect()
            gc.freeze()
            release_free_memory()
            self._heap_settled = True

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
        previous, before = self.selection, self.related
        self.selection = selection
        self.related = self._relatives()
        for kind in KINDS:
            if self.related_only:  # rows come and go with the selection: build them all
                self._render(kind)
                continue
            # Only the marks move: the rows whose mark flipped and the old and new
            # selection. A full pass over 10,000 pods per cursor step made keys lag.
            only = self.related.get(kind, set()) ^ before.get(kind, set())
            only |= {s[1] for s in (previous, selection) if s is not None and s[0] == kind}
            self._render(kind, frozenset(only))
        self._render_gauge()

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        # Rows added to an unfocused table move its cursor too; only the pane the user is
        # in may change the selection.
        if event.table is self.focused and event.key is not None:
            self._select((event.table.kind, event.key))  # type: ignore[arg-type]

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        widget = event.widget
        if isinstance(widget, VirtualTable) and widget.cursor_key is not None:
            self._select((widget.kind, widget.cursor_key))  # type: ignore[arg-type]

    # --- actions -----------------------------------------------------------------------

    def action_toggle_related(self) -> None:
        self.related_only = not self.related_only
        for kind in KINDS:
            self._render(kind)
        self.notify("related rows only" if self.related_only else "all rows", timeout=2)

    def action_start_filter(self) -> None:
        focused = self.focused
        if not isinstance(focused, VirtualTable):
            return
        self._filter_target = focused.kind  # type: ignore[assignment]
        box = self.query_one("#filter", Input)
        box.value = self.filters.get(focused.kind, "")  # type: ignore[call-overload]
        box.border_title = f"filter {TITLES[focused.kind]}"  # type: ignore[index]
        box.add_class("shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "command":
            self._command_edited(event.value)
        if event.input.id == "filter" and self._filter_target is not None:
            self.filters[self._filter_target] = event.value
            self._render(self._filter_target)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._close_filter()
        elif event.input.id == "command":
            self._close_command()
            self.run_command(event.value)

    def action_clear_filter(self) -> None:
        target = self._filter_target or (
            self.focused.kind if isinstance(self.focused, VirtualTable) else None
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

    def action_back(self) -> None:
        """Escape: close the open box, else leave related-only mode."""
        if self.query_one("#command", Input).has_class("shown"):
            self._close_command()
        elif self._filter_target is not None or self.filters:
            self.action_clear_filter()
        elif self.related_only:
            self.action_toggle_related()

    def action_drill(self) -> None:
        if self.selection is not None and isinstance(self.focused, VirtualTable):
            self.push_screen(DetailScreen(*self.selection))  # type: ignore[arg-type]

    def action_cycle_grouping(self) -> None:
        self.set_grouping(GROUPINGS[(GROUPINGS.index(self.grouping) + 1) % len(GROUPINGS)])

    def set_grouping(self, grouping: str) -> None:
        self.grouping = grouping
        self._render("pod")
        self.notify(
            f"pods grouped by {grouping}" if grouping != "none" else "pods ungrouped", timeout=2
        )

    # --- the command line --------------------------------------------------------------

    def action_start_command(self) -> None:
        box = self.query_one("#command", Input)
        self._command_return = self.focused
        box.value = ""
        self._completion = None
        box.add_class("shown")
        box.focus()

    def _complete_command(self, box: Input, step: int) -> None:
        """Tab: the line completed (a command gets its space), tab again: the next match,
        shift+tab: the previous one; the matches are listed under the line."""
        state = self._completion
        if state is not None and box.value == state[1][state[2]]:
            typed, matches, at = state
            at = (at + step) % len(matches)
        else:
            typed, matches, at = box.value, completions(self, box.value), 0
        listing = self.query_one("#completions", Static)
        if not matches:
            self._completion = None
            listing.update(Text(f"nothing completes {typed!r}", style="dim"))
            listing.add_class("shown")
            return
        self._completion = (typed, matches, at)
        box.value = matches[at]
        box.cursor_position = len(box.value)
        text = Text()
        for i, match in enumerate(matches):
            word = match.rstrip().rsplit(" ", 1)[-1]
            text.append(word, style="bold reverse" if i == at else "")
            text.append("  ")
        listing.update(text)
        listing.add_class("shown")

    def _command_edited(self, value: str) -> None:
        state = self._completion
        if state is not None and value not in state[1]:
            self._completion = None
            self.query_one("#completions", Static).remove_class("shown")

    def _close_command(self) -> None:
        box = self.query_one("#command", Input)
        box.remove_class("shown")
        self._completion = None
        self.query_one("#completions", Static).remove_class("shown")
        back = self._command_return
        if isinstance(back, VirtualTable) and back.display:
            back.focus()
        else:
            self.table(self.active_pane).focus()

    def run_command(self, line: str) -> bool:
        """Run one command line; False (and a notice saying why) when it makes no sense."""
        name, args = parse(line)
        command = BY_NAME.get(name)
        if command is not None and command not in available(self):
            self.notify(
                f"read-only: {name} is disabled (read-only mode)",
                severity="warning",
            )
            return False
        if command is None:
            known = " ".join(c.name for c in available(self))
            self.notify(f"unknown command {name!r}; try: {known}", severity="warning")
            return False
        if name in ("hosts", "guests", "peers", "nodes", "pods"):
            kind: Kind = name[:-1]  # type: ignore[assignment]
            self.show_pane(kind)
            self.filters[kind] = " ".join(args)
            self._render(kind)
        elif name == "group":
            if not args or args[0] not in GROUPINGS:
                self.notify(f"group by one of: {', '.join(GROUPINGS)}", severity="warning")
                return False
            self.set_grouping(args[0])
        elif name == "related":
            self.action_toggle_related()
        elif name == "theme":
            if not args or args[0] not in self.theme_set.names:
                self.notify(f"themes: {', '.join(self.theme_set.names)}", severity="warning")
                return False
            self.theme = args[0]
        elif name == "help":
            self.action_help()
        elif name == "triage":
            self.action_triage()
        elif name == "timeline":
            self.action_timeline(args[0] if args else None)
        elif name == "logs":
            if args:
                self.select("pod", args[0])
            self.action_logs()
        elif name == "quit":
            self.exit()
        else:
            return self.run_action_command(name, args)
        return True

    def action_triage(self) -> None:
        if not isinstance(self.screen, TriageScreen):
            self.push_screen(TriageScreen(self.triage))

    def action_timeline(self, about: str | None = None) -> None:
        self.push_screen(TimelineScreen(about))

    def action_logs(self) -> None:
        pod = None
        if self.selection is not None and self.selection[0] == "pod":
            namespace, _, name = self.selection[1].partition("/")
            pod = next(
                (p for p in self.snapshot.pods_by_namespace.get(namespace, ()) if p.name == name),
                None,
            )
        if pod is None:
            self.notify("select a pod first (l shows its log)", severity="warning")
            return
        self.push_screen(LogsScreen(pod))

    def action_fix(self, number: int) -> None:
        """A digit runs that fix of the top incident (the strip numbers them)."""
        top = self.triage.top
        if top is None or number > len(top.fixes):
            self.notify(f"no fix {number}: {'no incident' if top is None else 'see t'}")
            return
        fix = top.fixes[number - 1]
        line = command_line(fix)
        if line is None:
            self.notify(f"run it in a shell: {fix.command}", title=fix.title, timeout=15)
            return
        self.run_command(line)

    def action_help(self) -> None:
        """Every key of the view in front (from its bindings), the commands, the sources."""
        if isinstance(self.screen, HelpScreen):
            return
        screen = self.screen
        keys: list[KeyHelp] = []
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.action.startswith("refuse"):
                continue
            what = binding.description or binding.action.replace("_", " ")
            disabled = "" if active.enabled else "read-only" if self.readonly else "off"
            group = (
                "Everywhere"
                if active.node is self
                else "This view"
                if active.node is screen
                else "The focused list"
            )
            keys.append(KeyHelp(self.get_key_display(binding), what, disabled, group))
        order = {"This view": 0, "Everywhere": 1, "The focused list": 2}
        keys.sort(key=lambda k: order[k.group])  # stable: each group keeps its own order
        commands = [(c.usage(), c.help) for c in available(self)]
        sources = []
        for name, h in self.inventory.health().items():
            if h.state == "unconfigured":
                sources.append((name, f"not configured: {h.hint}"))
            elif is_starting(h):
                sources.append((name, "syncing (the first fetch is under way)"))
            else:
                sources.append((name, h.describe(self.inventory.now())))
        title = "keys: the panes" if self.screen is self.screen_stack[0] else "keys: this view"
        self.push_screen(HelpScreen(title, keys, commands, sources))


def _health_states(health: dict[str, Health]) -> tuple[str, ...]:
    return tuple(f"{name}:{h.state}" for name, h in sorted(health.items()))


def _matches(needle: str, key: str, cells: Cells) -> bool:
    if needle in key.lower():
        return True
    return any(needle in (c.plain if isinstance(c, Text) else c).lower() for c in cells)
