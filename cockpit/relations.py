"""What is related to one selected object across the four layers.

The cockpit's panes are linked: pick a host and its guests, the Kubernetes nodes they run,
the pods on those nodes and the tailnet peers of all of them light up. The rule is a walk
along the physical chain host -> guest -> node -> pod: from the selection, everything below
it (what it carries) and everything above it (what carries it), but never sideways, so a
pod relates to its node, guest and host and not to the other pods of that node. Peers are
attached to whichever host, guest or node of that chain they are linked to.

Keys are plain strings so a UI can use them as row keys: host and node names, "host/vmid"
for guests, "namespace/name" for pods and `Peer.key` for peers (hostnames repeat on a real
tailnet).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Literal

from cockpit.model import Guest, Pod, Snapshot
from cockpit.topology import Links

Kind = Literal["host", "guest", "node", "pod", "peer"]
KINDS: tuple[Kind, ...] = ("host", "guest", "node", "pod", "peer")
Selection = tuple[str, str]  # (kind, key)


def guest_key(guest: Guest) -> str:
    return f"{guest.host}/{guest.vmid}"


def pod_key(pod: Pod) -> str:
    return f"{pod.namespace}/{pod.name}"


class Relations:
    """Indexes over one snapshot and its links, built once so that following the cursor
    through thousands of pods costs a few dictionary look-ups per move."""

    def __init__(self, snapshot: Snapshot, links: Links) -> None:
        self.links = links
        self.hosts = {h.name for h in snapshot.hosts}
        self.guest_by_key = {guest_key(g): g for g in snapshot.guests}
        self.guest_keys_by_host: dict[str, list[str]] = defaultdict(list)
        for g in snapshot.guests:
            self.guest_keys_by_host[g.host].append(guest_key(g))
        # Proxmox vmids are unique within a cluster, and Links keys guest peers by vmid.
        self.guest_key_by_vmid = {g.vmid: guest_key(g) for g in snapshot.guests}
        self.nodes = {n.name for n in snapshot.nodes}
        self.nodes_by_host: dict[str, list[str]] = defaultdict(list)
        self.nodes_by_guest: dict[str, list[str]] = defaultdict(list)
        for node, b in links.backing.items():
            self.nodes_by_host[b.host].append(node)
            if b.vmid is not None:
                self.nodes_by_guest[f"{b.host}/{b.vmid}"].append(node)
        self.pod_node: dict[str, str | None] = {pod_key(p): p.node for p in snapshot.pods}
        self.pods_by_node: dict[str, list[str]] = defaultdict(list)
        for p in snapshot.pods:
            if p.node is not None:
                self.pods_by_node[p.node].append(pod_key(p))
        self.peers = {p.key for p in snapshot.peers}
        # A peer can stand for several objects at once (a bare-metal host and its node).
        self.linked_to_peer: dict[str, list[Selection]] = defaultdict(list)
        for host, peer in links.host_peer.items():
            self.linked_to_peer[peer].append(("host", host))
        for vmid, peer in links.guest_peer.items():
            if vmid in self.guest_key_by_vmid:
                self.linked_to_peer[peer].append(("guest", self.guest_key_by_vmid[vmid]))
        for node, peer in links.node_peer.items():
            self.linked_to_peer[peer].append(("node", node))

    def with_pods(self, removed: Iterable[str], changed: Mapping[str, Pod]) -> Relations:
        """These relations after some pods went, came or changed (keyed "namespace/name"),
        without walking the others: the two pod indexes are copied and the touched nodes'
        lists replaced; everything else is shared, so it holds only while hosts, guests,
        nodes, peers and links are as they were."""
        new = copy.copy(self)
        new.pod_node = dict(self.pod_node)
        new.pods_by_node = defaultdict(list, self.pods_by_node)  # lists replaced, not changed
        for key in (*removed, *changed):
            node = new.pod_node.pop(key, None)
            if node is not None:
                new.pods_by_node[node] = [k for k in new.pods_by_node[node] if k != key]
        for key, pod in changed.items():
            new.pod_node[key] = pod.node
            if pod.node is not None:
                new.pods_by_node[pod.node] = [*new.pods_by_node[pod.node], key]
        return new

    def of(self, selected: Selection) -> dict[str, set[str]]:
        kind, key = selected
        out: dict[str, set[str]] = {k: set() for k in KINDS}
        if kind == "peer":
            out["peer"].add(key)
            for linked in self.linked_to_peer.get(key, ()):
                for k, keys in self.of(linked).items():
                    out[k] |= keys
            return out
        if kind == "pod":
            out["pod"].add(key)
            node = self.pod_node.get(key)
            if node is not None:
                self._up_from_node(node, out)
        elif kind == "node":
            self._up_from_node(key, out)
            out["pod"].update(self.pods_by_node.get(key, ()))
        elif kind == "guest":
            self._up_from_guest(key, out)
            self._down(self.nodes_by_guest.get(key, ()), out)
        elif kind == "host":
            out["host"].add(key)
            out["guest"].update(self.guest_keys_by_host.get(key, ()))
            self._down(self.nodes_by_host.get(key, ()), out)
        else:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        self._attach_peers(out)
        return out

    def _up_from_node(self, node: str, out: dict[str, set[str]]) -> None:
        out["node"].add(node)
        b = self.links.backing.get(node)
        if b is None:
            return
        if b.vmid is not None:
            self._up_from_guest(f"{b.host}/{b.vmid}", out)
        else:
            out["host"].add(b.host)

    def _up_from_guest(self, key: str, out: dict[str, set[str]]) -> None:
        out["guest"].add(key)
        guest = self.guest_by_key.get(key)
        out["host"].add(guest.host if guest is not None else key.split("/", 1)[0])

    def _down(self, nodes: list[str] | tuple[str, ...], out: dict[str, set[str]]) -> None:
        for node in nodes:
            out["node"].add(node)
            out["pod"].update(self.pods_by_node.get(node, ()))

    def _attach_peers(self, out: dict[str, set[str]]) -> None:
        links = self.links
        for host in out["host"]:
            if host in links.host_peer:
                out["peer"].add(links.host_peer[host])
        for key in out["guest"]:
            guest = self.guest_by_key.get(key)
            if guest is not None and guest.vmid in links.guest_peer:
                out["peer"].add(links.guest_peer[guest.vmid])
        for node in out["node"]:
            if node in links.node_peer:
                out["peer"].add(links.node_peer[node])


def relatives(snapshot: Snapshot, links: Links, selected: Selection) -> dict[str, set[str]]:
    """Per kind, the keys related to `selected` (itself included in its own kind)."""
    return Relations(snapshot, links).of(selected)
