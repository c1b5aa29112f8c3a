"""A frozen inventory for screenshots and snapshot tests: a lab file's snapshot with its
links and every source ok, no threads, no clock, so every render is byte-for-byte the same.
"""

from __future__ import annotations

from collections.abc import Callable

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
