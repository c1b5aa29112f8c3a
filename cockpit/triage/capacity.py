"""What the hardware can carry right now: a host that is powered off or unreachable carries
nothing, and says so (OFFLINE), instead of lending its last-known size to the totals or
dividing its guests by a capacity of zero ("inf over").

Proxmox reports 0 CPUs and 0 bytes for a node it cannot hear when it has never seen it up,
so the ratio of such a host is undefined (None, shown "n/a"), never infinite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cockpit.model import Host, Snapshot
from cockpit.triage.finding import Facts
from cockpit.triage.infra import answering_peers

Status = Literal["online", "OFFLINE", "UNREACHABLE"]


@dataclass(frozen=True, slots=True)
class HostCapacity:
    name: str
    status: Status
    threads: int  # what it contributes now: 0 unless online
    memory: int
    disk: int
    promised_vcpus: int  # what its guests are given, running or not
    promised_memory: int

    @property
    def online(self) -> bool:
        return self.status == "online"

    def cpu_ratio(self) -> float | None:
        return self.promised_vcpus / self.threads if self.threads else None

    def memory_ratio(self) -> float | None:
        return self.promised_memory / self.memory if self.memory else None


def host_status(f: Facts, host: Host) -> Status:
    """OFFLINE when Proxmox (or the lab file) says so; UNREACHABLE when Proxmox cannot hear
    it but a tailnet peer on it (the host, a guest, a node) still answers."""
    if host.online:
        return "online"
    return "UNREACHABLE" if answering_peers(f, host.name) else "OFFLINE"


def host_capacity(s: Snapshot) -> list[HostCapacity]:
    f = Facts(s, s.clock)
    out = []
    for h in s.hosts:
        status = host_status(f, h)
        guests = s.guests_by_host.get(h.name, ())
        up = status == "online"
        out.append(
            HostCapacity(
                h.name,
                status,
                h.threads if up else 0,
                h.memory if up else 0,
                h.disk if up else 0,
                sum(g.vcpus for g in guests if not g.template),
                sum(g.memory for g in guests if not g.template),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Totals:
    hosts_online: int
    hosts_down: int
    threads: int
    memory: int
    disk: int


def online_totals(s: Snapshot) -> Totals:
    caps = host_capacity(s)
    return Totals(
        sum(1 for c in caps if c.online),
        sum(1 for c in caps if not c.online),
        sum(c.threads for c in caps),
        sum(c.memory for c in caps),
        sum(c.disk for c in caps),
    )
