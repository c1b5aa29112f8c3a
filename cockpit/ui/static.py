"""A frozen inventory for screenshots and snapshot tests: a lab file's snapshot with its
links and every source ok, no threads, no clock, so every render is byte-for-byte the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from cockpit import labfile
from cockpit.model import Snapshot
from cockpit.sources.health import Health
from cockpit.topology import Links, link

Listener = Callable[[Snapshot, frozenset[str]], None]
SOURCES = ("kube", "proxmox", "tailscale")


class StaticInventory:
    """What CockpitApp uses of an Inventory, over a fixed snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        # A lab file states which guest backs each node (its nodes carry no guest-agent IPs
        # to infer that from), so those links go in as overrides, as a config would.
        self.links: Links = link(
            snapshot.nodes, snapshot.guests, snapshot.hosts, snapshot.peers, snapshot.backing
        )
        self._snapshot = snapshot
        self.listeners: list[Listener] = []

    @classmethod
    def from_lab(cls, spec: str = "n100") -> StaticInventory:
        return cls(labfile.load(spec).snapshot)

    @classmethod
    def host_off(cls, spec: str, host: str) -> StaticInventory:
        """A lab frozen just after `host` lost power: its guests stopped, the nodes they
        backed Unknown, their tailnet peers offline (what the watches would show)."""
        s = labfile.load(spec).snapshot
        down = {n for n, b in s.backing.items() if b.host == host}
        return cls(
            replace(
                s,
                hosts=tuple(replace(h, online=h.name != host) for h in s.hosts),
                guests=tuple(
                    replace(g, status="stopped") if g.host == host else g for g in s.guests
                ),
                nodes=tuple(
                    replace(n, conditions={**n.conditions, "Ready": "Unknown"})
                    if n.name in down
                    else n
                    for n in s.nodes
                ),
                peers=tuple(replace(p, online=False) if p.hostname in down else p for p in s.peers),
            )
        )

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def now(self) -> float:
        return 0.0  # a fixed clock: health ages never move

    def health(self) -> dict[str, Health]:
        return {name: Health.ok(name, 0.0) for name in SOURCES}

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def publish(self) -> Snapshot:
        """Hand the same snapshot to the listeners again (as if every layer changed)."""
        for listener in list(self.listeners):
            listener(self._snapshot, frozenset({"hosts", "guests", "nodes", "pods", "peers"}))
        return self._snapshot
