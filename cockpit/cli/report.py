"""`cockpit report`: the linked inventory, each source's health, the ledger and the risks,
as text or JSON, from live sources or from the lab."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from cockpit.alloc.ledger import Ledger, build_ledger
from cockpit.alloc.risks import Risk, find_risks
from cockpit.cli import jsonout
from cockpit.cli.common import plain_row
from cockpit.cli.present import host_table, node_table, risk_table, rollup_table
from cockpit.labfile import Lab
from cockpit.model import Snapshot
from cockpit.sources.health import Health
from cockpit.topology import Links
from cockpit.units import format_gb

REPORT_SCHEMA = "cockpit.report/1"
HEALTH_STYLE = {"ok": "green", "stale": "yellow", "error": "bold red"}


def health_table(health: dict[str, Health], now: float) -> Table:
    table = Table(title="Sources", title_justify="left")
    table.add_column("Source")
    table.add_column("State")
    table.add_column("Detail", overflow="fold")
    for name, h in health.items():
        plain_row(
            table,
            name,
            Text(h.state.replace("_", " "), style=HEALTH_STYLE.get(h.state, "dim")),
            h.describe(now),
        )
    return table


def inventory_tree(snap: Snapshot, links: Links) -> Tree:
    """host -> guest -> node (pods) <-> peer: the four layers as one tree."""
    tree = Tree(Text("Linked inventory", style="bold"))
    pods_on = {name: len(pods) for name, pods in snap.pods_by_node.items()}
    node_of_guest = {(b.host, b.vmid): n for n, b in snap.backing.items() if b.vmid is not None}
    node_of_host = {b.host: n for n, b in snap.backing.items() if b.vmid is None}
    peer_tag = _peer_tags(snap)
    for host in snap.hosts:
        label = Text(f"{host.name}", style="bold")
        known = host.threads or host.memory  # a powered-off node reports no hardware
        size = f"{host.threads} threads, {format_gb(host.memory)}" if known else "hardware n/a"
        label.append(
            f"  {size}{'' if host.online else '  OFFLINE'}",
            style="" if host.online else "red",
        )
        label.append(peer_tag(links.host_peer.get(host.name)))
        branch = tree.add(label)
        if host.name in node_of_host:
            branch.add(_node_label(snap, node_of_host[host.name], pods_on, links, peer_tag))
        for guest in snap.guests_by_host.get(host.name, []):
            g = branch.add(
                Text(
                    f"{guest.kind} {guest.vmid} {guest.name}  {guest.status}, "
                    f"{guest.vcpus} vCPU, {format_gb(guest.memory)}",
                    style="" if guest.running else "dim",
                )
                + peer_tag(links.guest_peer.get(guest.vmid))
            )
            node = node_of_guest.get((host.name, guest.vmid))
            if node is not None:
                g.add(_node_label(snap, node, pods_on, links, peer_tag))
    if links.unlinked_nodes:
        branch = tree.add(Text("nodes with no known machine", style="yellow"))
        for node in links.unlinked_nodes:
            branch.add(_node_label(snap, node, pods_on, links, peer_tag))
    if links.unlinked_peers:
        names = _peer_names(snap)
        unlinked = ", ".join(names.get(key, key) for key in links.unlinked_peers)
        tree.add(Text("peers linked to nothing: " + unlinked, style="dim"))
    return tree


def _peer_names(snap: Snapshot) -> dict[str, str]:
    """Peer.key (what the links name) -> the hostname a reader knows the device by."""
    return {p.key: p.hostname for p in snap.peers}


def _peer_tags(snap: Snapshot) -> Callable[[str | None], Text]:
    peers = {p.key: p for p in snap.peers}

    def tag(key: str | None) -> Text:
        peer = peers.get(key or "")
        if peer is None:
            return Text("")
        path = "direct" if peer.cur_addr else (f"relay {peer.relay}" if peer.relay else "")
        state = "online" if peer.online else "offline"
        return Text(
            f"  <-> peer {peer.hostname} ({state}{', ' + path if path else ''})",
            style="cyan" if peer.online else "red",
        )

    return tag


def _node_label(
    snap: Snapshot, name: str, pods_on: dict, links: Links, peer_tag: Callable[[str | None], Text]
) -> Text:
    node = snap.node_by_name.get(name)
    ready = node is not None and node.ready
    text = Text(
        f"node {name}  {'Ready' if ready else 'NotReady'}"
        f"{', cordoned' if node is not None and node.unschedulable else ''}, "
        f"{pods_on.get(name, 0)} pods",
        style="green" if ready else "red",
    )
    how = links.how.get(f"node {name}")
    if how:
        text.append(f"  [{how}]", style="dim")
    return text + peer_tag(links.node_peer.get(name))


def report_view(
    lab: Lab, links: Links, health: dict[str, Health], ledger: Ledger, risks: list[Risk]
) -> Group:
    now = time.time()
    parts: list[RenderableType] = [health_table(health, now), inventory_tree(lab.snapshot, links)]
    if ledger.hosts and any(h.guests for h in ledger.hosts):
        parts.append(host_table(ledger))
    if ledger.nodes:
        parts.append(node_table(ledger))
    if ledger.rollups:
        parts.append(rollup_table(ledger))
    if not checked(health):
        parts.append(Text(nothing_checked(health), style="bold red"))
    elif health.get("kube") is not None and health["kube"].state not in CHECKED:
        parts.append(risk_table(risks))
        parts.append(
            Text(
                "Kubernetes was not checked: its workloads' risks are unknown, not absent.",
                style="yellow",
            )
        )
    else:
        parts.append(risk_table(risks))
    return Group(*parts)


# A source in one of these states answered at least once: what the report says about it is
# based on data, not on silence.
CHECKED = frozenset({"ok", "stale"})


def checked(health: dict[str, Health]) -> bool:
    """Whether any source answered; without one the report has checked nothing."""
    return any(h.state in CHECKED for h in health.values())


def nothing_checked(health: dict[str, Health]) -> str:
    states = ", ".join(f"{name} {h.state.replace('_', ' ')}" for name, h in health.items())
    return (
        f"Nothing was checked: no source answered ({states}). Run `cockpit init` to write a "
        "config from what this machine can reach, or `cockpit report --lab n100` to see a "
        "report on the built-in demo lab."
    )


def report_json(
    lab: Lab, links: Links, health: dict[str, Health], ledger: Ledger, risks: list[Risk]
) -> dict[str, Any]:
    plan = jsonout.plan(lab, ledger, risks)
    snap = lab.snapshot
    names = _peer_names(snap)
    return {
        "schema": REPORT_SCHEMA,
        "checked": checked(health),
        "health": {
            name: {
                "state": h.state,
                "reason": h.reason,
                "hint": h.hint,
                "last_ok": h.last_ok,
                "since": h.since,
                "note": h.note,
            }
            for name, h in health.items()
        },
        "links": {
            "nodes": {
                n: {"host": b.host, "vmid": b.vmid, "how": links.how.get(f"node {n}")}
                for n, b in links.backing.items()
            },
            "node_peers": {n: names.get(k, k) for n, k in links.node_peer.items()},
            "host_peers": {h: names.get(k, k) for h, k in links.host_peer.items()},
            "guest_peers": {str(v): names.get(k, k) for v, k in links.guest_peer.items()},
            "unlinked_nodes": list(links.unlinked_nodes),
            "unlinked_peers": [names.get(k, k) for k in links.unlinked_peers],
        },
        "counts": {
            "hosts": len(snap.hosts),
            "guests": len(snap.guests),
            "nodes": len(snap.nodes),
            "pods": len(snap.pods),
            "peers": len(snap.peers),
        },
        "ledger": {k: plan[k] for k in ("thresholds", "hosts", "nodes", "rollups", "totals")},
        "risks": plan["risks"],
    }


def build(snapshot: Snapshot, name: str, thresholds: Any) -> tuple[Lab, Ledger, list[Risk]]:
    lab = Lab(name, "live sources", snapshot, thresholds)
    return lab, build_ledger(snapshot, thresholds), find_risks(snapshot)
