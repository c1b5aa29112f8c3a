"""What each pane shows: one row of cells per object, keyed like cockpit.relations keys.

Pure functions of a Snapshot and its Ledger (rich Text for colour, no Textual), so the
table code only has to diff rows and the wording can be tested on its own.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Mapping

from rich.text import Text

from cockpit.alloc.ledger import Ledger, Ratio
from cockpit.detail import age, peer_key
from cockpit.model import Pod, Resources, Snapshot
from cockpit.relations import Kind, guest_key, pod_key
from cockpit.ui.palette import DEFAULT_PALETTE, Palette
from cockpit.units import format_cpu, format_gb, format_ratio

Cell = str | Text
Cells = tuple[Cell, ...]
Rows = dict[str, Cells]

# (column key, header) per pane; the marker column the app adds comes before these.
COLUMNS: dict[Kind, tuple[tuple[str, str], ...]] = {
    "host": (
        ("name", "Host"),
        ("site", "Site"),
        ("threads", "Threads"),
        ("memory", "Memory"),
        ("vcpu_ratio", "vCPU ratio"),
        ("memory_ratio", "Mem ratio"),
    ),
    "guest": (
        ("vmid", "VMID"),
        ("name", "Name"),
        ("host", "Host"),
        ("status", "Status"),
        ("vcpus", "vCPU"),
        ("memory", "Memory"),
    ),
    "peer": (
        ("hostname", "Peer"),
        ("online", "Online"),
        ("path", "Path"),
        ("ips", "IPs"),
        ("last_seen", "Last seen"),
    ),
    "node": (
        ("name", "Node"),
        ("host", "Host"),
        ("status", "Status"),
        ("pods", "Pods"),
        ("cpu_requests", "CPU req"),
        ("memory_requests", "Mem req"),
        ("memory_used", "Mem used"),
    ),
    "pod": (
        ("name", "Pod"),
        ("node", "Node"),
        ("status", "Status"),
        ("ready", "Ready"),
        ("restarts", "Restarts"),
        ("age", "Age"),
        ("qos", "QoS"),
        ("priority", "Priority"),
        ("requests", "Requests"),
        ("usage", "Usage"),
    ),
}

# Columns that give up width when a pane is too narrow for all of them (shortened in the
# middle), in the order they give it up, with the narrowest each may get: Node, Status,
# Ready, Restarts, Age, QoS and Priority stay in view beside the pod name.
FLEXIBLE: dict[Kind, dict[str, int]] = {
    "pod": {"priority": 15, "name": 16},
    "peer": {"hostname": 12, "ips": 15},
    "guest": {"name": 10},
}

# Which snapshot layers each pane is drawn from: a pane is recomputed only when one of
# these changed (host ratios count the guests, node sums count the pods).
DEPENDS: dict[Kind, frozenset[str]] = {
    "host": frozenset({"hosts", "guests"}),
    "guest": frozenset({"guests"}),
    "peer": frozenset({"peers"}),
    "node": frozenset({"nodes", "pods"}),
    "pod": frozenset({"pods"}),
}


def ratio_text(r: Ratio, palette: Palette = DEFAULT_PALETTE) -> Text:
    if r.verdict is None:  # hardware unknown: no ratio, no verdict
        return Text(format_ratio(r.ratio), style="dim")
    return Text(f"{format_ratio(r.ratio)} {r.verdict}", style=palette.verdict(r.verdict))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _resources(r: Resources | None) -> str:
    if r is None or (r.cpu is None and r.memory is None):
        return "-"
    cpu = "-" if r.cpu is None else format_cpu(r.cpu)
    memory = "-" if r.memory is None else format_gb(r.memory)
    return f"{cpu} / {memory}"


def host_rows(
    snapshot: Snapshot, ledger: Ledger, palette: Palette = DEFAULT_PALETTE, now: float = 0.0
) -> Rows:
    by_name = {h.host.name: h for h in ledger.hosts}
    rows: Rows = {}
    for host in sorted(snapshot.hosts, key=lambda h: h.name):
        h = by_name.get(host.name)
        carries = h is not None and h.guests > 0  # bare metal promises nothing to guests
        rows[host.name] = (
            host.name,
            host.site or "-",
            str(host.threads),
            format_gb(host.memory),
            ratio_text(h.cpu, palette) if carries and h else "-",
            ratio_text(h.memory, palette) if carries and h else "-",
        )
    return rows


def guest_rows(
    snapshot: Snapshot, ledger: Ledger, palette: Palette = DEFAULT_PALETTE, now: float = 0.0
) -> Rows:
    rows: Rows = {}
    for g in sorted(snapshot.guests, key=lambda g: (g.host, g.vmid)):
        status = Text(g.status, style=palette.ok if g.running else palette.warn)
        rows[guest_key(g)] = (
            str(g.vmid),
            g.name,
            g.host,
            status,
            str(g.vcpus),
            format_gb(g.memory),
        )
    return rows


def peer_rows(
    snapshot: Snapshot, ledger: Ledger, palette: Palette = DEFAULT_PALETTE, now: float = 0.0
) -> Rows:
    rows: Rows = {}
    for p in sorted(snapshot.peers, key=lambda p: (not p.is_self, p.hostname)):
        online = Text("yes", style=palette.ok) if p.online else Text("no", style=palette.bad)
        # An empty CurAddr means traffic goes through a DERP relay.
        path = "direct" if p.cur_addr else (f"relay {p.relay}" if p.relay else "-")
        name = f"{p.hostname} (self)" if p.is_self else p.hostname
        rows[peer_key(p)] = (name, online, path, ", ".join(p.ips) or "-", p.last_seen or "-")
    return rows


def node_rows(
    snapshot: Snapshot, ledger: Ledger, palette: Palette = DEFAULT_PALETTE, now: float = 0.0
) -> Rows:
    by_name = {n.name: n for n in ledger.nodes}
    rows: Rows = {}
    for node in sorted(snapshot.nodes, key=lambda n: n.name):
        n = by_name[node.name]
        status = (
            Text("Ready", style=palette.ok)
            if n.ready
            else Text("NotReady", style=f"bold {palette.bad}")
        )
        if n.unschedulable:
            status.append(",SchedulingDisabled", style=palette.warn)
        rows[node.name] = (
            node.name,
            n.host or "-",
            status,
            f"{n.sums.pods}/{n.allocatable_pods}",
            _pct(n.requests_cpu_percent),
            _pct(n.requests_memory_percent),
            _pct(n.used_memory_percent),
        )
    return rows


def pod_order(p: Pod) -> tuple[str, str, str]:
    """Where a pod's row goes: by node, then namespace and name."""
    return (p.node or "", p.namespace, p.name)


AGE_COLUMN = 5  # the Age cell's place in a pod row


def pod_age(p: Pod, now: float) -> str:
    return age(now - p.created) if now and p.created else "-"


def pod_row(p: Pod, palette: Palette = DEFAULT_PALETTE, now: float = 0.0) -> Cells:
    phase_style = {"Running": palette.ok, "Pending": palette.warn, "Failed": palette.bad}.get(
        p.phase, ""
    )
    return (
        pod_key(p),
        p.node or "-",
        Text(p.phase, style=phase_style),
        "yes" if p.ready else Text("no", style=palette.warn),
        str(p.restarts),
        pod_age(p, now),
        p.qos,
        p.priority_class or str(p.priority),  # the number is in the detail view
        _resources(p.requests),
        _resources(p.usage),
    )


def pod_rows(
    snapshot: Snapshot, ledger: Ledger, palette: Palette = DEFAULT_PALETTE, now: float = 0.0
) -> Rows:
    """`now` (unix seconds) gives the Age column; 0 leaves it out (a frozen snapshot)."""
    return {pod_key(p): pod_row(p, palette, now) for p in sorted(snapshot.pods, key=pod_order)}


class PodRows:
    """The pods pane's rows, kept up to date key by key: a change to three pods of 10,000
    builds three rows and moves at most three keys in the order, instead of building and
    sorting every row again. `rows` is always what pod_rows would build from the same
    snapshot, but for the Age column, which moves only when the app ticks it."""

    def __init__(self) -> None:
        self.rows: Rows = {}
        self._pods: dict[str, Pod] = {}
        self._order: list[tuple[tuple[str, str, str], str]] = []  # (pod_order, key), sorted
        self.version = 0  # moves on whenever a row came, went or changed place

    def rebuild(self, pods: Collection[Pod], palette: Palette, now: float) -> Rows:
        self._pods = {pod_key(p): p for p in pods}
        self._order = sorted((pod_order(p), key) for key, p in self._pods.items())
        self.rows = {key: pod_row(self._pods[key], palette, now) for _, key in self._order}
        self.version += 1
        return self.rows

    def update(
        self,
        removed: Collection[str],
        changed: Mapping[str, Pod],
        palette: Palette,
        now: float,
    ) -> Rows:
        """Drop `removed`, (re)build the rows of `changed` (added or modified pods); a new
        dict, so whoever holds the old one keeps a consistent picture. Only the rows of
        `removed` and `changed` differ from the last ones, and unless `version` moved on
        every other row is where it was."""
        moved = False
        for key in removed:
            old = self._pods.pop(key, None)
            if old is not None:
                self._remove((pod_order(old), key))
                moved = True
        rows = dict(self.rows)
        for key in removed:
            rows.pop(key, None)
        for key, pod in changed.items():
            old = self._pods.get(key)
            self._pods[key] = pod
            if old is None or pod_order(old) != pod_order(pod):
                if old is not None:
                    self._remove((pod_order(old), key))
                bisect.insort(self._order, (pod_order(pod), key))
                moved = True
            rows[key] = pod_row(pod, palette, now)
        if moved:
            rows = {key: rows[key] for _, key in self._order}
            self.version += 1
        self.rows = rows
        return rows

    def tick(self, now: float) -> set[str]:
        """Move the Age column to `now` (in place: rows keep their places); the keys whose
        age text changed."""
        ticked: set[str] = set()
        rows = self.rows
        for key, cells in rows.items():
            text = pod_age(self._pods[key], now)
            if text != cells[AGE_COLUMN]:
                rows[key] = (*cells[:AGE_COLUMN], text, *cells[AGE_COLUMN + 1 :])
                ticked.add(key)
        return ticked

    def _remove(self, entry: tuple[tuple[str, str, str], str]) -> None:
        at = bisect.bisect_left(self._order, entry)
        if at < len(self._order) and self._order[at] == entry:
            del self._order[at]


ROW_BUILDERS: Mapping[Kind, Callable[[Snapshot, Ledger, Palette, float], Rows]] = {
    "host": host_rows,
    "guest": guest_rows,
    "peer": peer_rows,
    "node": node_rows,
    "pod": pod_rows,
}
