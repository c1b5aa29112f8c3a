"""The ledger: capacity vs promised vs used at every layer of one Snapshot.

Three views, all pure arithmetic over the snapshot:

* per physical host, what its guests are given (vCPU, memory maximum and balloon floor,
  disks) against its hardware threads, RAM and disk — the Proxmox overcommit;
* per Kubernetes node, pod requests, limits and usage against allocatable, counting pods
  the way kubectl-view-allocations does (running pods and pending pods already bound);
* per physical host again, the cross-layer roll-up: requests, limits and usage of every pod
  on every node that runs on that box, against the box's real threads and RAM. A cluster
  of three VMs on one mini PC can look half empty to Kubernetes while the box is full.

CPU is counted in millicores and compared to hardware threads (a vCPU is scheduled on a
thread, and Proxmox counts threads as its CPUs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Level, Resource, Thresholds, Verdict
from cockpit.model import Guest, Host, Pod, Snapshot


@dataclass(frozen=True, slots=True)
class Ratio:
    """What is promised against what exists, with the verdict for that ratio."""

    resource: Resource
    physical: float  # threads for CPU, bytes otherwise
    allocated: float  # vCPUs for CPU, bytes otherwise
    ratio: float | None  # None: unknown (nothing physical is known to divide by)
    verdict: Verdict | None  # None with the ratio

    @property
    def known(self) -> bool:
        return self.ratio is not None


def ratio_of(resource: Resource, physical: float, allocated: float, t: Thresholds) -> Ratio:
    """allocated / physical with its verdict. A physical size of zero means the hardware is
    unknown (a powered-off Proxmox node reports none; without Proxmox there are no hosts),
    not that it is infinitely overcommitted: the ratio and verdict are then None, "n/a"."""
    if physical <= 0:
        return Ratio(resource, physical, allocated, None, None)
    ratio = allocated / physical
    return Ratio(resource, physical, allocated, ratio, t.ratio_verdict(resource, ratio))


def percent(part: float | None, whole: float) -> float | None:
    if part is None or whole <= 0:
        return None
    return 100.0 * part / whole


@dataclass(frozen=True, slots=True)
class PodSums:
    """Totals over a set of pods. `used` is None when no pod has metrics; `normal` and `peak`
    fall back per pod to metrics, then to requests, so a plan without profiles still adds up."""

    pods: int
    requests_cpu: int
    requests_memory: int
    limits_cpu: int
    limits_memory: int
    unlimited_memory: int  # pods with a container that sets no memory limit
    used_cpu: int | None
    used_memory: int | None
    normal_cpu: int
    normal_memory: int
    peak_cpu: int
    peak_memory: int


def combine(parts: Iterable[PodSums]) -> PodSums:
    """Add up sums of disjoint pod sets (a host's nodes, the whole cluster) without
    touching a pod twice."""
    parts = list(parts)
    used = [p for p in parts if p.used_memory is not None or p.used_cpu is not None]
    return PodSums(
        pods=sum(p.pods for p in parts),
        requests_cpu=sum(p.requests_cpu for p in parts),
        requests_memory=sum(p.requests_memory for p in parts),
        limits_cpu=sum(p.limits_cpu for p in parts),
        limits_memory=sum(p.limits_memory for p in parts),
        unlimited_memory=sum(p.unlimited_memory for p in parts),
        used_cpu=sum(p.used_cpu or 0 for p in used) if used else None,
        used_memory=sum(p.used_memory or 0 for p in used) if used else None,
        normal_cpu=sum(p.normal_cpu for p in parts),
        normal_memory=sum(p.normal_memory for p in parts),
        peak_cpu=sum(p.peak_cpu for p in parts),
        peak_memory=sum(p.peak_memory for p in parts),
    )


def sum_pods(pods: Iterable[Pod]) -> PodSums:
    n = rc = rm = lc = lm = unlimited = nc = nm = pc = pm = 0
    uc = um = 0
    have_usage = False
    for pod in pods:
        n += 1
        req = pod.requests
        lim = pod.limits
        req_cpu, req_mem = req.cpu or 0, req.memory or 0
        rc += req_cpu
        rm += req_mem
        lc += lim.cpu or 0
        lm += lim.memory or 0
        if any(c.limits.memory is None for c in pod.containers):
            unlimited += 1
        usage = pod.usage
        if usage is not None:
            have_usage = True
            uc += usage.cpu or 0
            um += usage.memory or 0
        profile = pod.profile
        base_cpu = usage.cpu if usage is not None and usage.cpu is not None else req_cpu
        base_mem = usage.memory if usage is not None and usage.memory is not None else req_mem
        if profile is not None:
            nc += profile.normal.cpu if profile.normal.cpu is not None else base_cpu
            nm += profile.normal.memory if profile.normal.memory is not None else base_mem
            pc += profile.peak.cpu if profile.peak.cpu is not None else base_cpu
            pm += profile.peak.memory if profile.peak.memory is not None else base_mem
        else:
            nc += base_cpu
            nm += base_mem
            pc += base_cpu
            pm += base_mem
    return PodSums(
        n,
        rc,
        rm,
        lc,
        lm,
        unlimited,
        uc if have_usage else None,
        um if have_usage else None,
        nc,
        nm,
        pc,
        pm,
    )


# --- physical hosts and their guests ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostLedger:
    host: Host
    guests: int
    running: int
    cpu: Ratio  # vCPU of every guest / hardware threads
    memory: Ratio  # guest memory maximum / RAM
    memory_min: Ratio  # balloon floors (what guests are guaranteed) / RAM
    disk: Ratio  # guest disk sizes / local disk
    running_cpu: Ratio  # the same, for running guests only: today's load, not the plan
    running_memory: Ratio
    used_memory_percent: float | None
    memory_level: Level | None


def host_ledger(host: Host, guests: Iterable[Guest], t: Thresholds) -> HostLedger:
    guests = [g for g in guests if not g.template]
    running = [g for g in guests if g.running]
    used = host.usage.memory if host.usage is not None else None
    if used is None and running and all(g.usage is not None for g in running):
        used = sum(g.usage.memory or 0 for g in running if g.usage is not None)
    used_percent = percent(used, host.memory)
    return HostLedger(
        host=host,
        guests=len(guests),
        running=len(running),
        cpu=ratio_of("cpu", host.threads, sum(g.vcpus for g in guests), t),
        memory=ratio_of("memory", host.memory, sum(g.memory for g in guests), t),
        memory_min=ratio_of("memory", host.memory, sum(g.memory_min for g in guests), t),
        disk=ratio_of("disk", host.disk, sum(g.disk_total for g in guests), t),
        running_cpu=ratio_of("cpu", host.threads, sum(g.vcpus for g in running), t),
        running_memory=ratio_of("memory", host.memory, sum(g.memory for g in running), t),
        used_memory_percent=used_percent,
        memory_level=t.usage_level("memory", used_percent) if used_percent is not None else None,
    )


# --- Kubernetes nodes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeLedger:
    name: str
    host: str | None
    site: str
    ready: bool
    unschedulable: bool
    allocatable_cpu: int
    allocatable_memory: int
    allocatable_pods: int
    sums: PodSums
    requests_cpu_percent: float | None
    requests_memory_percent: float | None
    limits_memory: Ratio  # limits are promises that can exceed 100 %: an overcommit ratio
    peak_memory_percent: float | None
    peak_memory_level: Level | None
    used_memory_percent: float | None
    used_memory_level: Level | None
    used_cpu_percent: float | None


def node_ledger(snapshot: Snapshot, name: str, pods: Iterable[Pod], t: Thresholds) -> NodeLedger:
    return node_ledger_of_sums(
        snapshot, name, sum_pods(p for p in pods if p.counts_for_allocation), t
    )


def node_ledger_of_sums(snapshot: Snapshot, name: str, sums: PodSums, t: Thresholds) -> NodeLedger:
    """A node's ledger from the sums of the pods it counts (kept by difference elsewhere)."""
    node = snapshot.node_by_name[name]
    alloc_cpu = node.allocatable.cpu or 0
    alloc_mem = node.allocatable.memory or 0
    used_mem = node.usage.memory if node.usage is not None else sums.used_memory
    used_cpu = node.usage.cpu if node.usage is not None else sums.used_cpu
    peak_pct = percent(sums.peak_memory, alloc_mem)
    used_pct = percent(used_mem, alloc_mem)
    return NodeLedger(
        name=name,
        host=snapshot.host_of_node(name),
        site=snapshot.site_of_node(name),
        ready=node.ready,
        unschedulable=node.unschedulable,
        allocatable_cpu=alloc_cpu,
        allocatable_memory=alloc_mem,
        allocatable_pods=node.pods_allocatable,
        sums=sums,
        requests_cpu_percent=percent(sums.requests_cpu, alloc_cpu),
        requests_memory_percent=percent(sums.requests_memory, alloc_mem),
        limits_memory=ratio_of("memory", alloc_mem, sums.limits_memory, t),
        peak_memory_percent=peak_pct,
        peak_memory_level=t.usage_level("memory", peak_pct) if peak_pct is not None else None,
        used_memory_percent=used_pct,
        used_memory_level=t.usage_level("memory", used_pct) if used_pct is not None else None,
        used_cpu_percent=percent(used_cpu, alloc_cpu),
    )


# --- the cross-layer roll-up --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostRollup:
    """Every pod on every node that runs on one physical host, against that host."""

    host: str
    nodes: tuple[str, ...]
    threads: int
    memory: int
    sums: PodSums
    requests_cpu: Ratio  # pod CPU requests (in cores) / hardware threads
    requests_memory: Ratio
    limits_memory: Ratio
    peak_memory: Ratio
    peak_memory_level: Level | None  # None when the host's memory is unknown


def host_rollup(host: Host, nodes: list[NodeLedger], t: Thresholds) -> HostRollup:
    sums = combine(n.sums for n in nodes)
    peak_pct = percent(sums.peak_memory, host.memory)
    return HostRollup(
        host=host.name,
        nodes=tuple(n.name for n in nodes),
        threads=host.threads,
        memory=host.memory,
        sums=sums,
        requests_cpu=ratio_of("cpu", host.threads, sums.requests_cpu / 1000, t),
        requests_memory=ratio_of("memory", host.memory, sums.requests_memory, t),
        limits_memory=ratio_of("memory", host.memory, sums.limits_memory, t),
        peak_memory=ratio_of("memory", host.memory, sums.peak_memory, t),
        peak_memory_level=t.usage_level("memory", peak_pct) if peak_pct is not None else None,
    )


# --- the whole lab ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Totals:
    threads: int
    memory: int
    disk: int
    guest_vcpus: int
    guest_memory: int
    guest_disk: int
    allocatable_cpu: int
    allocatable_memory: int
    pods: PodSums
    cpu: Ratio
    memory_ratio: Ratio
    disk_ratio: Ratio


@dataclass(frozen=True, slots=True)
class Ledger:
    hosts: tuple[HostLedger, ...]
    nodes: tuple[NodeLedger, ...]
    rollups: tuple[HostRollup, ...]
    totals: Totals
    unbacked_nodes: tuple[str, ...]  # nodes whose physical host is unknown
    thresholds: Thresholds

    def host(self, name: str) -> HostLedger:
        return next(h for h in self.hosts if h.host.name == name)

    def node(self, name: str) -> NodeLedger:
        return next(n for n in self.nodes if n.name == name)

    def rollup(self, name: str) -> HostRollup:
        return next(r for r in self.rollups if r.host == name)


def build_ledger(snapshot: Snapshot, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Ledger:
    pods_by_node = snapshot.pods_by_node
    nodes = tuple(
        node_ledger(snapshot, n.name, pods_by_node.get(n.name, ()), thresholds)
        for n in snapshot.nodes
    )
    return ledger_of_nodes(snapshot, nodes, thresholds)


def ledger_of_nodes(
    snapshot: Snapshot, nodes: tuple[NodeLedger, ...], thresholds: Thresholds
) -> Ledger:
    """The ledger around the nodes' own ledgers: hosts, roll-ups, totals (a few hundred
    records at most, so this part is cheap enough to do again on every change)."""
    t = thresholds
    guests_by_host = snapshot.guests_by_host
    hosts = tuple(host_ledger(h, guests_by_host.get(h.name, ()), t) for h in snapshot.hosts)
    by_name = {n.name: n for n in nodes}
    rollups = []
    for host in snapshot.hosts:
        names = snapshot.nodes_by_host.get(host.name, [])
        if names:
            rollups.append(host_rollup(host, [by_name[name] for name in names], t))
    threads = sum(h.threads for h in snapshot.hosts)
    memory = sum(h.memory for h in snapshot.hosts)
    disk = sum(h.disk for h in snapshot.hosts)
    guests = [g for g in snapshot.guests if not g.template]
    vcpus = sum(g.vcpus for g in guests)
    guest_memory = sum(g.memory for g in guests)
    guest_disk = sum(g.disk_total for g in guests)
    totals = Totals(
        threads=threads,
        memory=memory,
        disk=disk,
        guest_vcpus=vcpus,
        guest_memory=guest_memory,
        guest_disk=guest_disk,
        allocatable_cpu=sum(n.allocatable_cpu for n in nodes),
        allocatable_memory=sum(n.allocatable_memory for n in nodes),
        pods=combine(n.sums for n in nodes),
        # Only hosts that carry guests take part: a bare-metal node's board is not promised
        # to anyone, and counting it would dilute the Proxmox overcommit.
        cpu=ratio_of("cpu", sum(h.host.threads for h in hosts if h.guests), vcpus, t),
        memory_ratio=ratio_of(
            "memory", sum(h.host.memory for h in hosts if h.guests), guest_memory, t
        ),
        disk_ratio=ratio_of("disk", sum(h.host.disk for h in hosts if h.guests), guest_disk, t),
    )
    unbacked = tuple(n.name for n in snapshot.nodes if n.name not in snapshot.backing)
    return Ledger(hosts, nodes, tuple(rollups), totals, unbacked, t)
