"""Which guest is which Kubernetes node, and which tailnet peer is which machine.

Nothing in a live homelab says so explicitly, so links are inferred, strongest evidence
first, and each link says how it was found:

  node -> guest/host: a config override; a providerID naming the vmid (`proxmox://...`,
                      what the Proxmox cloud controller managers write); a node address that
                      the guest agent reports for a guest; the same name; for bare metal, the
                      name of a physical host.
  node -> peer:       a node address among the peer's TailscaleIPs (k3s over Tailscale uses
                      them as node IPs); else the same host name.
  host/guest -> peer: an address in common; else the same name.

Peers are named by `Peer.key` (the stable node ID), never by hostname: a tailnet has several
devices all called "localhost", and a name that several peers share links none of them.
Whatever cannot be linked is listed as unlinked rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cockpit.model import Backing, Guest, Host, Node, Peer

PROVIDER_VMID = re.compile(r"^proxmox://[^/]*/(?:[^/]+/)?(\d+)$")


@dataclass(frozen=True)
class Links:
    backing: Mapping[str, Backing] = field(default_factory=dict)  # node -> guest or host
    node_peer: Mapping[str, str] = field(default_factory=dict)  # node -> Peer.key
    host_peer: Mapping[str, str] = field(default_factory=dict)  # host -> Peer.key
    guest_peer: Mapping[int, str] = field(default_factory=dict)  # vmid -> Peer.key
    how: Mapping[str, str] = field(default_factory=dict)  # "node worker-1" -> "by IP 10.0.0.5"
    unlinked_nodes: tuple[str, ...] = ()
    unlinked_peers: tuple[str, ...] = ()  # Peer.key of each


def _short(name: str) -> str:
    """`worker-1.lan.` and `Worker-1` are the same machine as `worker-1`."""
    return name.lower().rstrip(".").split(".")[0]


def _node_ips(node: Node) -> set[str]:
    return {addr for kind, addr in node.addresses if kind in ("InternalIP", "ExternalIP")}


def link(
    nodes: Iterable[Node],
    guests: Iterable[Guest],
    hosts: Iterable[Host],
    peers: Iterable[Peer],
    overrides: Mapping[str, Backing] | None = None,
) -> Links:
    nodes, guests, hosts, peers = list(nodes), list(guests), list(hosts), list(peers)
    by_vmid = {g.vmid: g for g in guests}
    by_ip = {ip: g for g in guests for ip in g.ips}
    guest_by_name = {_short(g.name): g for g in guests}
    host_by_name = {_short(h.name): h for h in hosts}
    backing: dict[str, Backing] = {}
    how: dict[str, str] = {}

    for node in nodes:
        found = _backing(node, overrides or {}, by_vmid, by_ip, guest_by_name, host_by_name)
        if found is not None:
            backing[node.name], how[f"node {node.name}"] = found

    peer_by_ip = {ip: p for p in peers for ip in p.ips}
    peer_by_name = _unique_names(peers)
    node_peer: dict[str, str] = {}
    for node in nodes:
        peer = next((peer_by_ip[ip] for ip in sorted(_node_ips(node)) if ip in peer_by_ip), None)
        reason = "by Tailscale IP"
        if peer is None:
            peer, reason = peer_by_name.get(_short(node.name)), "by name"
        if peer is not None:
            node_peer[node.name] = peer.key
            how[f"peer of node {node.name}"] = reason
    host_peer = {
        h.name: peer_by_name[_short(h.name)].key for h in hosts if _short(h.name) in peer_by_name
    }
    guest_peer: dict[int, str] = {}
    for g in guests:
        peer = next((peer_by_ip[ip] for ip in g.ips if ip in peer_by_ip), None) or peer_by_name.get(
            _short(g.name)
        )
        if peer is not None:
            guest_peer[g.vmid] = peer.key
    linked_peers = {*node_peer.values(), *host_peer.values(), *guest_peer.values()}
    return Links(
        backing=backing,
        node_peer=node_peer,
        host_peer=host_peer,
        guest_peer=guest_peer,
        how=how,
        unlinked_nodes=tuple(n.name for n in nodes if n.name not in backing),
        unlinked_peers=tuple(p.key for p in peers if p.key not in linked_peers and not p.is_self),
    )


def _unique_names(peers: Iterable[Peer]) -> dict[str, Peer]:
    """Short name -> peer, for the names exactly one peer answers to (by hostname or
    MagicDNS name); a name several devices share ("localhost") tells nothing."""
    owners: dict[str, dict[str, Peer]] = {}
    for p in peers:
        for n in (p.hostname, p.dns_name):
            if n:
                owners.setdefault(_short(n), {})[p.key] = p
    return {
        name: next(iter(by_key.values())) for name, by_key in owners.items() if len(by_key) == 1
    }


def _backing(
    node: Node,
    overrides: Mapping[str, Backing],
    by_vmid: Mapping[int, Guest],
    by_ip: Mapping[str, Guest],
    guest_by_name: Mapping[str, Guest],
    host_by_name: Mapping[str, Host],
) -> tuple[Backing, str] | None:
    if node.name in overrides:
        return overrides[node.name], "by config override"
    m = PROVIDER_VMID.match(node.provider_id)
    if m and int(m.group(1)) in by_vmid:
        g = by_vmid[int(m.group(1))]
        return Backing(g.host, g.vmid), f"by providerID {node.provider_id}"
    for ip in sorted(_node_ips(node)):
        if ip in by_ip:
            g = by_ip[ip]
            return Backing(g.host, g.vmid), f"by IP {ip} (guest agent)"
    g = guest_by_name.get(_short(node.name))
    if g is not None:
        return Backing(g.host, g.vmid), "by name"
    host = host_by_name.get(_short(node.name))
    if host is not None:
        return Backing(host.name), "by name (bare metal)"
    return None


def keep_known(new: Links, old: Links, guests: Iterable[Guest]) -> Links:
    """Carry over node -> guest links that the new evidence can no longer show.

    A stopped VM's guest agent reports no addresses, so a link found by IP vanishes exactly
    when it matters most (the node behind a VM that was just shut down). While the same
    guest (vmid and name) is still there, the link it had stays, and says so.
    """
    by_vmid = {g.vmid: g for g in guests}
    backing = dict(new.backing)
    how = dict(new.how)
    kept = []
    for node, b in old.backing.items():
        if node in backing or node not in new.unlinked_nodes or b.vmid is None:
            continue
        guest = by_vmid.get(b.vmid)
        if guest is None or guest.running:
            continue
        backing[node] = b
        how[f"node {node}"] = f"kept while guest {b.vmid} is {guest.status}"
        kept.append(node)
    if not kept:
        return new
    unlinked = tuple(n for n in new.unlinked_nodes if n not in kept)
    return Links(
        backing, new.node_peer, new.host_peer, new.guest_peer, how, unlinked, new.unlinked_peers
    )
