"""The drill-in view: one object's fields, its relatives (enter goes into one of them,
escape comes back) and its raw YAML or JSON (`y` cycles), which the app fetches off the UI
thread when asked."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from cockpit import detail
from cockpit.detail import age
from cockpit.relations import Kind
from cockpit.triage.finding import ObjectRef
from cockpit.triage.timeline import build_timeline, recent
from cockpit.ui.host import FetchRaw, Host, RawObject, SelectObject, host_of

VIEWS = ("fields", "yaml", "json")
EVENTS_SHOWN = 12  # the newest; `T` on the panes has the whole timeline
TITLES = {"host": "Host", "guest": "Guest", "node": "Node", "pod": "Pod", "peer": "Peer"}


class DetailScreen(Screen[None]):
    CSS = """
    DetailScreen #title { height: 1; padding: 0 1; text-style: bold; }
    DetailScreen #body { width: 2fr; border: round $panel; }
    DetailScreen #body:focus { border: round $accent; }
    DetailScreen #links { width: 1fr; border: round $panel; }
    DetailScreen #links:focus { border: round $accent; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("y", "cycle_view", "Fields/YAML/JSON"),
        Binding("g", "go_to", "Go to in its pane"),
        # Wherever the focus is on this screen (the fields after a tab), enter opens the
        # relative under the list's cursor.
        Binding("enter", "open_related", "Open the related object", show=False),
    ]

    def __init__(self, kind: Kind, key: str) -> None:
        super().__init__()
        self.kind = kind
        self.key = key
        self.view = "fields"
        self.raw: tuple[str, Any] | None = None

    @property
    def cockpit(self) -> Host:
        return host_of(self)

    def compose(self) -> ComposeResult:
        yield Static(Text(f"{TITLES[self.kind]} {self.key}"), id="title")
        with Horizontal():
            with VerticalScroll(id="body"):
                yield Static(id="content")
            yield OptionList(id="links")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#body").border_title = "fields"
        links = self.query_one("#links", OptionList)
        links.border_title = "related (enter: open)"
        relatives = self.cockpit.relatives((self.kind, self.key))
        for kind in ("host", "guest", "node", "peer", "pod"):
            for key in sorted(relatives.get(kind, ())):
                if (kind, key) != (self.kind, self.key):
                    links.add_option(Option(Text(f"{kind:<5} {key}"), id=f"{kind}|{key}"))
        if links.option_count:
            links.highlighted = 0  # a visible cursor from the start: enter opens that row
        links.focus()
        self.show()

    def record(self) -> detail.Record | None:
        return detail.find(self.cockpit.snapshot, self.kind, self.key)

    def show(self) -> None:
        content = self.query_one("#content", Static)
        body = self.query_one("#body")
        record = self.record()
        if record is None:
            content.update(Text("this object is gone from the lab", style="dim"))
            return
        if self.view == "fields":
            body.border_title = "fields"
            text = Text()
            for name, value in detail.fields(record, self.cockpit.clock()):
                text.append(f"{name:<18}", style="bold")
                text.append(f"{value}\n")
            self._append_events(text, record)
            content.update(text)
            return
        if self.raw is None:
            body.border_title = f"{self.view}: fetching…"
            content.update(Text("fetching…", style="dim"))
            self.post_message(FetchRaw(self.kind, self.key, self._fetched))
            return
        source, doc = self.raw
        body.border_title = Text(f"{self.view} from {source}")  # may quote a server
        dump = detail.to_yaml(doc) if self.view == "yaml" else detail.to_json(doc)
        content.update(Text(dump))

    def _append_events(self, text: Text, record: Any) -> None:
        """What happened to this object lately: its Kubernetes events, Proxmox tasks and
        tailnet changes, newest first (the timeline, kept to this object)."""
        about = timeline_ref(self.kind, record)
        snapshot = self.cockpit.snapshot
        now = self.cockpit.clock()
        entries = recent(build_timeline(snapshot, now=now), about=about)[:EVENTS_SHOWN]
        text.append("\nevents\n", style="bold")
        if not entries:
            text.append("  none known\n", style="dim")
        for entry in entries:
            style = "yellow" if entry.level == "warning" else ""
            text.append(f"  {age(now - entry.at):>4} ago  ", style="dim")
            text.append(Text(entry.text, style=style))
            text.append("\n")

    def _fetched(self, raw: RawObject) -> None:
        self.raw = raw
        self.show()

    def action_cycle_view(self) -> None:
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        self.show()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_go_to(self) -> None:
        """Leave every detail view and put the pane cursor on this object."""
        self.post_message(SelectObject(self.kind, self.key))

    def action_open_related(self) -> None:
        links = self.query_one("#links", OptionList)
        if links.highlighted is not None:
            self._open(links.get_option_at_index(links.highlighted).id or "")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._open(event.option.id or "")

    def _open(self, option_id: str) -> None:
        kind, _, key = option_id.partition("|")
        self.app.push_screen(DetailScreen(kind, key))  # type: ignore[arg-type]


def timeline_ref(kind: Kind, record: Any) -> ObjectRef:
    """The object as the timeline names it."""
    if kind == "pod":
        return ObjectRef("pod", "Pod", record.name, record.namespace)
    if kind == "node":
        return ObjectRef("node", "Node", record.name)
    if kind == "guest":
        return ObjectRef("guest", "Guest", record.name, id=str(record.vmid))
    if kind == "peer":
        return ObjectRef("network", "Peer", record.hostname, id=record.key)
    return ObjectRef("host", "Host", record.name)
