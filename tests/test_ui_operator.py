"""What an operator meets in the first hour, driven with Pilot over a frozen lab: fields in
words, `?` as a screen of keys, lists that show their cursor, pod columns that fit,
read-only keys that say why, a status line that keeps every source in view, `:` completion,
one theme system, peers keyed by ID, ages on the sources' clock, text from outside never
parsed as markup, and a failing screen that does not take the app down."""

from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cockpit.config import KubeSettings
from cockpit.model import Peer, Snapshot
from cockpit.relations import pod_key
from cockpit.sources.health import Health
from cockpit.sources.kube import KubeSource
from cockpit.ui.app import CockpitApp
from cockpit.ui.screens.detail import DetailScreen
from cockpit.ui.screens.help import HelpScreen
from cockpit.ui.static import StaticInventory

WIDE = (160, 48)
NARROW = (80, 24)
CLOCK = 1_796_087_131.0  # the lab's clock, years from this machine's


class Inventory(StaticInventory):
    """A frozen lab with the healths a test gives it."""

    def __init__(self, snapshot: Snapshot, health: dict[str, Health] | None = None) -> None:
        super().__init__(snapshot)
        self._health = health

    def health(self) -> dict[str, Health]:
        return self._health if self._health is not None else super().health()


def _snapshot(**changes) -> Snapshot:
    return dataclasses.replace(StaticInventory.from_lab("n100").snapshot, **changes)


def _app(snapshot: Snapshot | None = None, health=None, **kwargs) -> CockpitApp:
    return CockpitApp(Inventory(snapshot or _snapshot(), health), **kwargs)


def _said(app: CockpitApp) -> str:
    return " ".join(str(n.message) for n in app._notifications)


def _line(table, key: str) -> str:
    """A row of a table as drawn on screen."""
    row = table.order.index(key) - round(table.scroll_y) + 1
    return "".join(segment.text for segment in table.render_line(row))


async def _open(app: CockpitApp, pilot, kind: str, key: str) -> DetailScreen:
    app.select(kind, key)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, DetailScreen) and app.screen.key == key
    return app.screen


# --- the fields view ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_fields_view_shows_units_ages_and_dates_not_python_values():
    base = _snapshot()
    pod = dataclasses.replace(base.pods[0], created=CLOCK - 300)
    app = _app(dataclasses.replace(base, pods=(pod, *base.pods[1:]), clock=CLOCK))
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        screen = await _open(app, pilot, "pod", pod_key(pod))
        text = str(screen.query_one("#content").render())
        assert "5m ago (" in text and "UTC)" in text  # an age on the lab's clock, a date
        assert str(CLOCK - 300) not in text and "1796086831" not in text
        assert "None" not in text and "('" not in text and "Resources(" not in text
        assert not any(line.startswith("key ") for line in text.splitlines())
        assert "MiB" in text  # the container's requests, in binary units
        await pilot.press("escape")
        node = base.nodes[0]
        screen = await _open(app, pilot, "node", node.name)
        text = str(screen.query_one("#content").render())
        assert str(node.capacity.memory) not in text
        assert "GiB" in text
        assert "InternalIP 192.168.1.11" in text  # address pairs read as words


# --- `?` help ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_help_is_a_scrolling_screen_of_every_key_of_the_view():
    app = _app()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.text().plain
        # Every binding of the panes, the hidden ones too, from the bindings themselves.
        for description in ("Quit", "Filter", "Group pods", "Journal", "Scale HA", "Power"):
            assert description in text, description
        assert ":drain …" in text  # the commands
        scroll = app.screen.query_one("#help")
        assert scroll.max_scroll_y > 0  # taller than 80x24: it scrolls, nothing is cut
        await pilot.press("pagedown")
        await pilot.pause()
        assert scroll.scroll_y > 0
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        # In a detail view, the keys of that view.
        await _open(app, pilot, "node", "worker-1")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "Fields/YAML/JSON" in app.screen.text().plain
        assert "Go to in its pane" in app.screen.text().plain


# --- focusable lists -----------------------------------------------------------------


@pytest.mark.parametrize("size", [WIDE, NARROW], ids=["wide", "narrow"])
@pytest.mark.asyncio
async def test_the_related_list_shows_its_cursor_and_keys_work_after_tab(size):
    app = _app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = await _open(app, pilot, "node", "worker-1")
        links = screen.query_one("#links")
        assert links.highlighted == 0  # a cursor from the start
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is not None and app.focused.screen is screen  # not a hidden pane
        assert app.focused is screen.query_one("#body")
        await pilot.press("enter")  # still opens the relative under the cursor
        await pilot.pause()
        first = links.get_option_at_index(0).id.partition("|")[2]
        assert isinstance(app.screen, DetailScreen) and app.screen.key == first
        await pilot.press("escape", "tab")
        await pilot.pause()
        assert app.focused is links
        await pilot.press("down", "enter")
        await pilot.pause()
        second = links.get_option_at_index(1).id.partition("|")[2]
        assert isinstance(app.screen, DetailScreen) and app.screen.key == second


# --- the pods pane at 160 columns ----------------------------------------------------


@pytest.mark.asyncio
async def test_pod_columns_up_to_priority_are_visible_at_160_columns():
    app = _app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        pods = app.table("pod")
        labels = [label for _, label in pods.column_spec]
        shown_width = pods.scrollable_content_region.width
        right = 0
        for label, width in zip(labels, pods.widths, strict=True):
            right += width + 2
            if label == "Priority":
                break
        assert right - 2 <= shown_width
        key = next(k for k in pods.shown if "coredns" in k)
        line = _line(pods, key)
        assert "…" in line  # the long name is shortened in the middle …
        assert key[:8] in line and key[-5:] in line  # … keeping its start and its end
        for cell in ("k3s-master", "Running", "yes", "Burstable", "system-", "ritical"):
            assert cell in line, cell


# --- read-only -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_read_only_keys_and_commands_say_they_are_disabled():
    app = _app(readonly=True)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        app.select("node", "worker-1")
        await pilot.pause()
        for key in ("d", "R", "H", "p"):
            await pilot.press(key)
        await pilot.pause()
        said = _said(app)
        for name in ("drain", "restart", "scale-ha", "power"):
            assert f"read-only: {name} is disabled" in said, name
        assert not app.run_command("drain worker-1")
        assert "read-only: drain is disabled" in _said(app)
        assert "unknown command 'drain'" not in _said(app)


# --- the status line -----------------------------------------------------------------

LONG = "cannot reach the Kubernetes API at https://10.0.0.1:6443: " + "timed out " * 30


@pytest.mark.asyncio
async def test_the_status_line_says_syncing_and_keeps_every_source_in_view():
    starting = {
        "kube": Health("kube", "error", "still syncing", "wait a moment", since=0.0),
        "proxmox": Health.unconfigured(
            "proxmox", "add a [proxmox] url, token and secret to ~/.config/cockpit/config.toml"
        ),
        "tailscale": Health.ok("tailscale", 0.0),
    }
    app = _app(health=starting)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        shown = str(app.query_one("#status").render())
        assert "kube syncing" in shown and "error" not in shown
        assert "proxmox not configured" in shown and "tailscale ok" in shown
        await pilot.press("question_mark")  # the whole hint has a line of its own
        await pilot.pause()
        assert "add a [proxmox] url, token and secret" in app.screen.text().plain

    failing = {
        "kube": Health("kube", "stale", LONG, "is the cluster up?", last_ok=0.0, since=0.0),
        "proxmox": Health("proxmox", "stale", LONG, "", last_ok=0.0, since=0.0),
        "tailscale": Health.ok("tailscale", 0.0),
    }
    app = _app(health=failing)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        shown = str(app.query_one("#status").render())
        assert len(shown) <= 78
        assert "kube stale" in shown and "proxmox stale" in shown and "tailscale ok" in shown


# --- `:` completion ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_colon_completion_adds_a_space_cycles_and_lists():
    app = _app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        await pilot.press("colon")
        box = app.query_one("#command")
        await pilot.press("tab")  # nothing typed: every command, listed
        await pilot.pause()
        listing = str(app.query_one("#completions").render())
        assert app.query_one("#completions").display
        for name in ("hosts", "pods", "theme", "drain", "quit"):
            assert name in listing
        box.value = ""
        await pilot.press(*"drain", "tab")
        assert box.value == "drain "  # the command and its space
        await pilot.press("w", "tab")
        assert box.value == "drain worker-1"
        await pilot.press("tab")
        assert box.value == "drain worker-2"  # tab again: the next match
        await pilot.press("shift+tab")
        assert box.value == "drain worker-1"
        await pilot.press("escape")


# --- gauge, toasts, scrollbar, filter title ------------------------------------------


@pytest.mark.asyncio
async def test_gauge_one_line_toasts_above_it_header_clear_and_filter_in_the_title():
    app = _app()
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await pilot.pause()
        gauge = app.query_one("#gauge")
        assert gauge.region.height == 1
        app.notify("a toast")
        await pilot.pause(0.3)
        toasts = list(app.screen.query("Toast"))
        assert toasts
        for below in ("#gauge", "#status", "Footer"):
            region = app.query_one(below).region
            assert all(not t.region.overlaps(region) for t in toasts), below
        pods = app.table("pod")
        assert pods.vertical_scrollbar.display and pods.show_vertical_scrollbar
        header_y = pods.content_region.y
        assert pods.vertical_scrollbar.region.y > header_y  # the header line stays clear
        pods.focus()
        await pilot.press("slash", *"work", "enter")
        await pilot.pause()
        assert "/work" in str(pods.border_title)


# --- one theme system ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_palette_offers_the_cockpit_themes_only():
    app = _app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Theme" not in titles and "Quit" in titles
        keys = next(c for c in app.get_system_commands(app.screen) if c.title == "Keys")
        keys.callback()
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


# --- peers, ages ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_peers_sharing_a_hostname_each_keep_their_row():
    peers = (
        Peer("localhost", ips=("100.64.0.1",), id="nA1"),
        Peer("localhost", ips=("100.64.0.2",), id="nB2"),
        Peer("localhost", ips=("100.64.0.3",), node_key="nodekey:c3"),
        Peer("pve", ips=("100.64.0.9",)),
    )
    app = _app(_snapshot(peers=peers))
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        rows = app.table("peer").shown
        assert set(rows) == {"nA1", "nB2", "nodekey:c3", "pve"}
        app.select("peer", "nB2")
        await pilot.pause()
        assert app.marked("peer") == set()  # the other "localhost" devices are not it
        screen = await _open(app, pilot, "peer", "nB2")
        assert "100.64.0.2" in str(screen.query_one("#content").render())


@pytest.mark.asyncio
async def test_ages_are_measured_on_the_sources_clock():
    base = _snapshot()
    pod = dataclasses.replace(base.pods[0], created=CLOCK - 300)
    app = _app(dataclasses.replace(base, pods=(pod, *base.pods[1:]), clock=CLOCK))
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        age_column = [label for _, label in app.table("pod").column_spec].index("Age")
        assert app.table("pod").shown[pod_key(pod)][age_column] == "5m"


# --- text from outside, and failures -------------------------------------------------


@pytest.mark.asyncio
async def test_brackets_from_outside_are_shown_not_parsed_as_markup():
    base = _snapshot()
    guest = dataclasses.replace(base.guests[0], name="[/x]router[bold]")
    reason = "bad answer [/x] from the server [link=x]"
    health = {
        "kube": Health("kube", "stale", reason, "[/]", last_ok=0.0, since=0.0),
        "proxmox": Health.ok("proxmox", 0.0),
        "tailscale": Health.ok("tailscale", 0.0),
    }
    app = _app(dataclasses.replace(base, guests=(guest, *base.guests[1:])), health=health)
    async with app.run_test(size=WIDE, notifications=True) as pilot:  # toasts drawn
        await pilot.pause()
        assert "[/x]" in str(app.query_one("#status").render())
        await pilot.press("colon", *"[/x]", "enter")  # typed at `:`
        await pilot.pause()
        assert "unknown command '[/x]'" in _said(app)
        assert any("[/x]" in str(t.render()) for t in app.screen.query("Toast"))
        app.table("guest").focus()
        await pilot.press("slash", *"[/x]", "enter")  # typed as a filter: in the title
        await pilot.pause()
        assert "[/x]" in str(app.table("guest").border_title)
        await pilot.press("escape")
        screen = await _open(app, pilot, "guest", f"{guest.host}/{guest.vmid}")
        assert "[/x]router[bold]" in str(screen.query_one("#content").render())
        await pilot.pause()
        assert app.is_running


class _ListAnswers(BaseHTTPRequestHandler):
    """An API server that answers every GET with a JSON list, where an object belongs."""

    def do_GET(self) -> None:
        body = json.dumps([{"kind": "Pod"}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def list_server(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ListAnswers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: odd\n"
        f"clusters: [{{name: odd, cluster: {{server: 'http://127.0.0.1:{server.server_port}'}}}}]\n"
        "users: [{name: odd, user: {token: not-a-secret}}]\n"
        "contexts: [{name: odd, context: {cluster: odd, user: odd}}]\n"
    )
    try:
        yield str(kubeconfig)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.asyncio
async def test_a_screen_that_fails_is_reported_and_the_app_keeps_running(list_server):
    inventory = Inventory(_snapshot())
    # The raw view fetches the pod from this server, which answers with a list.
    inventory.kube = KubeSource(KubeSettings(kubeconfig=list_server))
    app = CockpitApp(inventory)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        key = next(iter(k for k in app.table("pod").shown if "coredns" in k))
        screen = await _open(app, pilot, "pod", key)
        await pilot.press("y")
        for _ in range(50):
            await pilot.pause(0.1)
            if any(n.severity == "error" for n in app._notifications):
                break
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "keeps running" in errors[0].title
        assert app.is_running and app.screen is screen
        await pilot.press("escape", "tab")
        await pilot.pause()
        assert not isinstance(app.screen, DetailScreen)
        assert app.focused is app.table("host")  # tab still moves on, from pods to hosts
