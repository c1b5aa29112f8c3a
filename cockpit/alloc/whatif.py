"""What if node N is drained, node N is lost, or physical host H is lost?

The displaced pods are re-placed on what remains by the scheduler model (requests, taints,
node selection including arch, anti-affinity, topology spread, priority and preemption).
The report says where each pod lands, what goes Pending and why, what is preempted, each
node's new requests and peak-usage level, which PDBs are broken, and which workloads lose
every ready replica.

Semantics follow Kubernetes, including the parts that surprise people:
* drain: DaemonSet and mirror pods stay; other pods are evicted and their controllers
  recreate them elsewhere; bare pods are deleted for good (kubectl needs --force); a pod
  whose PodDisruptionBudget allows no disruption now is never evicted (the Eviction API
  answers 429 for ever), so it stays and the drain blocks on it, as kubectl drain does;
* loss: the node goes NotReady, its pods are evicted after the unreachable toleration
  (300 s by default) and recreated elsewhere -- except StatefulSet pods, which stay
  Terminating until the node is deleted or marked out-of-service, because a StatefulSet
  never runs two copies of one identity. We still show where they would go, flagged.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import Literal

from cockpit.alloc.ledger import percent
from cockpit.alloc.risks import IMAGE_ARCHS_ANNOTATION, image_archs
from cockpit.alloc.scheduler import Preemption, Scheduler
from cockpit.alloc.settle import Budgets, PodKey, Settled, Tally, budget_members, workload_keys
from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Level, Thresholds
from cockpit.model import Node, Pod, Snapshot

ScenarioKind = Literal["drain", "lose-node", "lose-host"]
# Controllers that recreate their pods when a pod is evicted or deleted.
RECREATING_OWNERS = frozenset({"ReplicaSet", "StatefulSet", "ReplicationController", "Job"})
STATEFULSET_NOTE = "StatefulSet: waits until the lost node is removed (see notes)"
CONTROL_PLANE_ROLES = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
NO_CONTROL_PLANE = "nothing evicts or recreates it while the control plane is down"


@dataclass(frozen=True, slots=True)
class Scenario:
    kind: ScenarioKind
    target: str

    def describe(self) -> str:
        return {
            "drain": f"node {self.target} is drained",
            "lose-node": f"node {self.target} is lost",
            "lose-host": f"host {self.target} is lost",
        }[self.kind]


@dataclass(frozen=True, slots=True)
class Move:
    pod: Pod
    source: str
    target: str | None  # None: Pending
    reason: str = ""  # why it is Pending
    note: str = ""


@dataclass(frozen=True, slots=True)
class NodeAfter:
    name: str
    lost: bool
    requests_cpu_before: int
    requests_cpu_after: int
    requests_memory_before: int
    requests_memory_after: int
    allocatable_cpu: int
    allocatable_memory: int
    peak_memory_after: int
    requests_memory_percent: float | None
    peak_memory_percent: float | None
    peak_memory_level: Level | None


@dataclass(frozen=True, slots=True)
class PdbImpact:
    namespace: str
    name: str
    expected: int
    desired_healthy: int
    healthy_before: int
    healthy_during: int  # right after the disruption, before anything is recreated
    healthy_after: int  # once the re-placement settles

    @property
    def disrupted(self) -> bool:
        """Below the budget while replacements start (a drain waits on 429s here)."""
        return self.healthy_during < self.desired_healthy

    @property
    def violated(self) -> bool:
        """Still below the budget once everything that can run is running."""
        return self.healthy_after < self.desired_healthy


@dataclass(frozen=True, slots=True)
class WorkloadImpact:
    ref: str
    replicas: int
    ready_before: int
    ready_during: int
    ready_after: int

    @property
    def outage(self) -> bool:
        """Every ready replica gone at once: the service is down until a replacement runs."""
        return self.ready_before > 0 and self.ready_during == 0

    @property
    def stays_down(self) -> bool:
        return self.ready_before > 0 and self.ready_after == 0


@dataclass(frozen=True)
class WhatIfReport:
    scenario: Scenario
    affected_nodes: tuple[str, ...]
    moves: tuple[Move, ...]  # displaced pods: placed or Pending
    preempted: tuple[Preemption, ...]
    stays: tuple[tuple[Pod, str], ...]  # pods not moved (DaemonSet, mirror), with why
    lost: tuple[tuple[Pod, str], ...]  # pods nobody recreates
    nodes: tuple[NodeAfter, ...]
    pdbs: tuple[PdbImpact, ...]
    workloads: tuple[WorkloadImpact, ...]
    notes: tuple[str, ...] = field(default=())
    # drain only: pods a PDB allowing no disruption keeps where they are, with its "ns/name"
    blocked: tuple[tuple[Pod, str], ...] = field(default=())
    # every control-plane node is gone: no API server, scheduler or controllers
    control_plane_down: bool = False

    @property
    def drain_blocked(self) -> bool:
        """The drain never finishes: some pod can never be evicted."""
        return bool(self.blocked)

    @property
    def placed(self) -> list[Move]:
        return [m for m in self.moves if m.target is not None]

    @property
    def pending(self) -> list[Move]:
        return [m for m in self.moves if m.target is None]

    @property
    def outages(self) -> list[WorkloadImpact]:
        return [w for w in self.workloads if w.outage]

    @property
    def violated_pdbs(self) -> list[PdbImpact]:
        return [p for p in self.pdbs if p.violated]


class UnknownTarget(ValueError):
    """The scenario names a node or host that is not in the snapshot."""


def affected_nodes(snapshot: Snapshot, scenario: Scenario) -> list[str]:
    if scenario.kind == "lose-host":
        if scenario.target not in snapshot.host_by_name:
            known = ", ".join(sorted(snapshot.host_by_name)) or "none"
            raise UnknownTarget(f"unknown host {scenario.target!r} (hosts: {known})")
        return list(snapshot.nodes_by_host.get(scenario.target, []))
    if scenario.target not in snapshot.node_by_name:
        known = ", ".join(sorted(snapshot.node_by_name)) or "none"
        raise UnknownTarget(f"unknown node {scenario.target!r} (nodes: {known})")
    return [scenario.target]


def what_if(
    snapshot: Snapshot,
    scenario: Scenario,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    honour_pdbs: bool = True,
) -> WhatIfReport:
    """honour_pdbs=False: a drain as if every budget let its pods go, which is where they
    land once a blocking budget is relaxed (the drain action's expected nodes)."""
    affected = affected_nodes(snapshot, scenario)
    hit = set(affected)
    losing = scenario.kind != "drain"
    nodes = [_disrupted(n, losing) if n.name in hit else n for n in snapshot.nodes]

    displaced: list[Pod] = []
    stays: list[tuple[Pod, str]] = []
    lost: list[tuple[Pod, str]] = []
    bound: list[Pod] = []  # every pod that keeps its node, wherever that is
    on_hit: list[Pod] = []  # every pod of the affected nodes
    budgets = budget_members(snapshot)
    stuck = _blocked_by_pdb(budgets, hit) if honour_pdbs and not losing else {}
    masters = control_plane_nodes(snapshot)
    headless = losing and bool(masters) and set(masters) <= hit
    blocked: list[tuple[Pod, str]] = []
    for pod in snapshot.pods:
        if pod.node not in hit:
            if pod.node is not None:
                bound.append(pod)
            continue
        on_hit.append(pod)
        if pod.key in stuck:
            blocked.append((pod, stuck[pod.key]))
            bound.append(pod)  # it keeps its place on the cordoned node
            continue
        if pod.is_mirror:
            (lost if losing else stays).append((pod, "mirror pod (static, managed by kubelet)"))
            if not losing:
                bound.append(pod)
        elif pod.is_daemonset:
            (lost if losing else stays).append((pod, "DaemonSet pod (runs on every node)"))
            if not losing:
                bound.append(pod)
        elif pod.phase in ("Succeeded", "Failed"):
            continue
        elif pod.owner is None or pod.owner.kind not in RECREATING_OWNERS:
            why = "no controller recreates it" + ("" if losing else " (drain needs --force)")
            lost.append((pod, why))
        elif headless:
            lost.append((pod, NO_CONTROL_PLANE))
        else:
            displaced.append(replace(pod, node=None, phase="Pending"))

    scheduler = Scheduler(nodes, bound)
    # What the pods that stay request of each node, before anything moves.
    loaded = {name: state.requested() for name, state in scheduler.states.items()}
    result = scheduler.run(displaced)
    source = {p.key: p.node for p in on_hit}
    moves = []
    crashing: set[tuple[str, str]] = set()
    for pod in displaced:
        target = result.placed.get(pod.key)
        note = STATEFULSET_NOTE if losing and pod.owner and pod.owner.kind == "StatefulSet" else ""
        crash = _exec_format_error(pod, snapshot.node_by_name.get(target or ""))
        if crash:
            crashing.add(pod.key)
            note = f"{note}; {crash}" if note else crash
        moves.append(
            Move(pod, source[pod.key] or "", target, result.pending.get(pod.key, ""), note)
        )
    # Victims of preemption that ended up nowhere are Pending too; say so as moves.
    listed = {m.pod.key for m in moves}
    for pre in result.preempted:
        if pre.victim.key in result.pending and pre.victim.key not in listed:
            listed.add(pre.victim.key)
            moves.append(
                Move(
                    pre.victim,
                    pre.node,
                    None,
                    result.pending[pre.victim.key],
                    f"preempted by {pre.by.namespace}/{pre.by.name}",
                )
            )

    kept = {pod.key for pod, _ in blocked}
    settled = Settled.of(hit, losing, kept, displaced, result.placed, result.preempted)
    tally = Tally.of(bound, on_hit, settled, scheduler.requests_of)
    # Without a control plane nothing is evicted: the eviction notes would mislead.
    evicting = losing and not headless
    notes = _notes(scenario, affected, evicting, moves) + _blocked_notes(budgets, blocked)
    if losing:
        notes = _control_plane_notes(snapshot, masters, hit) + notes
    return WhatIfReport(
        scenario=scenario,
        affected_nodes=tuple(affected),
        moves=tuple(moves),
        preempted=tuple(result.preempted),
        stays=tuple(stays),
        lost=tuple(lost),
        nodes=_nodes_after(snapshot, scheduler, loaded, on_hit, settled, tally, thresholds),
        pdbs=_pdb_impacts(budgets, settled),
        workloads=_workload_impacts(snapshot, settled, tally, crashing),
        notes=notes,
        blocked=tuple(blocked),
        control_plane_down=headless,
    )


def _exec_format_error(pod: Pod, node: Node | None) -> str:
    """The scheduler knows nothing of image architectures: it places a single-arch image
    on a node of another arch as readily as anywhere, and the container then dies with
    "exec format error" on every start. Say so instead of calling it a new home."""
    archs = image_archs(pod)
    if node is None or not node.arch or not archs or node.arch in archs:
        return ""
    return (
        f"CrashLoopBackOff: exec format error (the image is built for "
        f"{', '.join(sorted(archs))} only, {node.name} is {node.arch}; "
        f"{IMAGE_ARCHS_ANNOTATION})"
    )


def control_plane_nodes(snapshot: Snapshot) -> list[str]:
    """Nodes labelled as the control plane (kubeadm, k3s servers; "master" on old ones)."""
    return [n.name for n in snapshot.nodes if any(r in n.labels for r in CONTROL_PLANE_ROLES)]


def _control_plane_notes(snapshot: Snapshot, masters: list[str], hit: set[str]) -> tuple:
    gone = [m for m in masters if m in hit]
    if not gone:
        return ()
    if len(gone) == len(masters):
        which = (
            f"the only control-plane node {gone[0]} is"
            if len(masters) == 1
            else f"every control-plane node ({', '.join(gone)}) is"
        )
        return (
            f"{which} gone: the API server, the scheduler and the controllers stop. Nothing "
            "is scheduled, evicted or recreated, kubectl (and this cockpit's Kubernetes view) "
            "get no answer, and the pods of the lost node stay down until it returns. What "
            "keeps running: every container already running on the other nodes (the kubelet "
            "keeps them, and restarts them when they crash), Service traffic through the "
            "kube-proxy rules already in place, and cluster DNS where CoreDNS runs elsewhere "
            "(answering from what it last read). Add control-plane nodes (3 for an etcd "
            "quorum) to survive this.",
        )
    if len(gone) * 2 >= len(masters):
        return (
            f"{len(gone)} of {len(masters)} control-plane nodes are gone: if etcd runs on them "
            "(kubeadm's stacked etcd, k3s' embedded etcd) it loses its quorum and the API "
            "server stops accepting writes until enough of them return.",
        )
    return ()


def _blocked_by_pdb(budgets: Budgets, hit: set[str]) -> dict[tuple[str, str], str]:
    """Pods on the drained nodes that no eviction can move: a budget that selects them
    allows no disruption now (healthy pods not above the desired count), so the Eviction API
    refuses every attempt and nothing else ever frees a disruption. The drain action reads
    the same budgets (cockpit.actions.drain) and says the drain waits on these pods."""
    out: dict[tuple[str, str], str] = {}
    for pdb, members in budgets:
        healthy = sum(1 for p in members if p.node and p.phase == "Running" and p.ready)
        if healthy - pdb.desired_healthy(len(members)) > 0:
            continue
        for pod in members:
            evicted = not (pod.is_daemonset or pod.is_mirror)
            if pod.node in hit and evicted and pod.phase not in ("Succeeded", "Failed"):
                out.setdefault(pod.key, f"{pdb.namespace}/{pdb.name}")
    return out


def _blocked_notes(budgets: Budgets, blocked: list[tuple[Pod, str]]) -> tuple[str, ...]:
    by_pdb: dict[str, list[str]] = defaultdict(list)
    for pod, ref in blocked:
        by_pdb[ref].append(f"{pod.namespace}/{pod.name}")
    notes = []
    for ref, pods in by_pdb.items():
        namespace, _, name = ref.partition("/")
        pdb, members = next(b for b in budgets if (b[0].namespace, b[0].name) == (namespace, name))
        notes.append(
            f"the drain blocks: PodDisruptionBudget {ref} allows no disruption (needs "
            f"{pdb.desired_healthy(len(members))} healthy of {len(members)}), so "
            f"{', '.join(pods)} {'stays' if len(pods) == 1 else 'stay'} and kubectl drain "
            "retries the eviction for ever "
            "(relax the budget, or add a replica first)"
        )
    return tuple(notes)


def _disrupted(node: Node, losing: bool) -> Node:
    if losing:
        return replace(node, conditions={**node.conditions, "Ready": "Unknown"})
    return replace(node, unschedulable=True)


def _nodes_after(
    snapshot: Snapshot,
    scheduler: Scheduler,
    loaded: dict[str, tuple[int, int]],
    on_hit: list[Pod],
    settled: Settled,
    tally: Tally,
    t: Thresholds,
) -> tuple[NodeAfter, ...]:
    """Each node's requests and peak before and after, from the scheduler's per-node sums
    (what it placed and preempted is already in them) and the tally: no pass over every pod.
    An affected node's "before" adds up its own pods, which the scheduler never saw."""
    requests_of = scheduler.requests_of
    hit_before: dict[str, list[int]] = {}
    for pod in on_hit:
        if pod.counts_for_allocation:
            cpu, memory = requests_of(pod)
            sums = hit_before.setdefault(pod.node or "", [0, 0])
            sums[0] += cpu
            sums[1] += memory
    out = []
    for node in snapshot.nodes:
        name = node.name
        lost = name in settled.hit
        cpu_before, mem_before = hit_before.get(name, (0, 0)) if lost else loaded[name]
        cpu_after, req_mem_after = scheduler.states[name].requested()
        cpu_after += tally.uncounted_cpu[name]
        req_mem_after += tally.uncounted_memory[name]
        alloc_mem = node.allocatable.memory or 0
        peak = tally.peak[name]
        peak_pct = percent(peak, alloc_mem)
        out.append(
            NodeAfter(
                name=name,
                lost=lost,
                requests_cpu_before=cpu_before,
                requests_cpu_after=cpu_after,
                requests_memory_before=mem_before,
                requests_memory_after=req_mem_after,
                allocatable_cpu=node.allocatable.cpu or 0,
                allocatable_memory=alloc_mem,
                peak_memory_after=peak,
                requests_memory_percent=percent(req_mem_after, alloc_mem),
                peak_memory_percent=peak_pct,
                peak_memory_level=t.usage_level("memory", peak_pct)
                if peak_pct is not None
                else None,
            )
        )
    return tuple(out)


def _pdb_impacts(budgets: Budgets, settled: Settled) -> tuple[PdbImpact, ...]:
    out = []
    hit, kept = settled.hit, settled.kept
    for pdb, members in budgets:
        expected = len(members)
        healthy_before = during = healthy_after = 0
        for p in members:
            runs = settled.runs(p)
            healthy_after += runs
            if p.node and p.phase == "Running" and p.ready:
                healthy_before += 1
                if (p.node not in hit or p.key in kept) and runs:
                    during += 1
        out.append(
            PdbImpact(
                pdb.namespace,
                pdb.name,
                expected,
                pdb.desired_healthy(expected),
                healthy_before,
                during,
                healthy_after,
            )
        )
    return tuple(out)


def _workload_impacts(
    snapshot: Snapshot, settled: Settled, tally: Tally, crashing: set[PodKey]
) -> tuple[WorkloadImpact, ...]:
    """Ready replicas per workload: before, during (nothing recreated yet, preempted pods
    gone) and after (the pods that kept their node plus the placed ones that do not crash,
    as a crash loop is never ready)."""
    after = Counter(tally.bound)
    workload_of = workload_keys()
    for key in settled.placed:
        workload = workload_of(settled.moved[key])
        if workload is not None and key not in crashing:
            after[workload] += 1
    before, during = tally.running_before, tally.running_during
    out = []
    for w in snapshot.workloads:
        if w.kind == "DaemonSet":
            continue  # one per node by design; losing a node's copy is not an outage
        key = w.key
        out.append(
            WorkloadImpact(
                w.ref, w.replicas, before.get(key, 0), during.get(key, 0), after.get(key, 0)
            )
        )
    return tuple(out)


def _notes(scenario: Scenario, affected: list[str], losing: bool, moves: list[Move]) -> tuple:
    notes = []
    if not affected:
        notes.append(f"no Kubernetes node runs on {scenario.target}; nothing moves")
    if losing:
        notes.append(
            "pods on a lost node are evicted after the unreachable toleration "
            "(300 s by default) and only then recreated elsewhere"
        )
        if any(m.note == STATEFULSET_NOTE for m in moves):
            notes.append(
                "StatefulSet pods stay Terminating on a lost node until you delete "
                "the node or taint it node.kubernetes.io/out-of-service=nodeshutdown:"
                "NoExecute; their placement below assumes you do"
            )
    return tuple(notes)
