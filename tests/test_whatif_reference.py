"""The what-if's fast paths give exactly the answers of a plain, pod-by-pod reference.

The what-if and its scheduler take short cuts so that ten thousand pods stay fast: the
scheduler filters and ranks nodes in one pass (best_fit) and indexes only the label keys
that anti-affinity terms name; the report reads per-node sums off the scheduler and counts
workloads over the pods that keep their node, instead of listing every pod that runs
afterwards. The reference below is the straightforward computation: a scheduler that
filters every node (feasible), ranks them (score) and finds anti-affinity partners by
looking at every placed pod, and a report that builds the full set of pods running once
things settle and adds it up node by node, budget by budget and workload by workload.
Every report must be equal, field by field, on random labs built to reach the corners
(preemption, Pending, blocked drains, finished pods still bound, unknown nodes), on the
built-in labs and on a synthetic lab of the benchmark's shape.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest
from random_labs import random_lab, scenarios_of

from cockpit import labfile
from cockpit.alloc.ledger import percent
from cockpit.alloc.scheduler import NodeState, Preemption, Scheduler
from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Thresholds
from cockpit.alloc.whatif import (
    NO_CONTROL_PLANE,
    RECREATING_OWNERS,
    STATEFULSET_NOTE,
    Move,
    NodeAfter,
    PdbImpact,
    Scenario,
    WhatIfReport,
    WorkloadImpact,
    _control_plane_notes,
    _disrupted,
    _exec_format_error,
    _notes,
    affected_nodes,
    control_plane_nodes,
    what_if,
)
from cockpit.model import Pod, Snapshot

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
from synthetic import synthetic_lab

PodKey = tuple[str, str]


class ReferenceScheduler(Scheduler):
    """The scheduler without its short cuts."""

    def best_fit(self, pod: Pod) -> NodeState | None:
        fits, _ = self.feasible(pod)
        return self.score(pod, fits) if fits else None

    def _labelled(self, namespace: str, key: str, value: str) -> dict[PodKey, str]:
        return {
            k: name
            for name, state in self.states.items()
            for k, p in state.pods.items()
            if p.namespace == namespace and p.labels.get(key) == value
        }


def reference_what_if(
    snapshot: Snapshot,
    scenario: Scenario,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    honour_pdbs: bool = True,
) -> WhatIfReport:
    affected = affected_nodes(snapshot, scenario)
    hit = set(affected)
    losing = scenario.kind != "drain"
    nodes = [_disrupted(n, losing) if n.name in hit else n for n in snapshot.nodes]
    displaced: list[Pod] = []
    stays: list[tuple[Pod, str]] = []
    lost: list[tuple[Pod, str]] = []
    bound: list[Pod] = []
    stuck = blocked_by_pdb(snapshot, hit) if honour_pdbs and not losing else {}
    masters = control_plane_nodes(snapshot)
    headless = losing and bool(masters) and set(masters) <= hit
    blocked: list[tuple[Pod, str]] = []
    for pod in snapshot.pods:
        if pod.node not in hit:
            if pod.node is not None:
                bound.append(pod)
            continue
        if pod.key in stuck:
            blocked.append((pod, stuck[pod.key]))
            bound.append(pod)
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
    scheduler = ReferenceScheduler(nodes, bound)
    result = scheduler.run(displaced)
    source = {p.key: p.node for p in snapshot.pods}
    moves = []
    crashing: set[PodKey] = set()
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
    for pre in result.preempted:
        if pre.victim.key in result.pending and pre.victim.key not in {m.pod.key for m in moves}:
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
    after = pods_after(snapshot, hit, losing, result.placed, displaced, result.preempted, kept)
    evicting = losing and not headless
    notes = _notes(scenario, affected, evicting, moves) + blocked_notes(snapshot, blocked)
    if losing:
        notes = _control_plane_notes(snapshot, masters, hit) + notes
    return WhatIfReport(
        scenario=scenario,
        affected_nodes=tuple(affected),
        moves=tuple(moves),
        preempted=tuple(result.preempted),
        stays=tuple(stays),
        lost=tuple(lost),
        nodes=nodes_after(snapshot, hit, after, scheduler, thresholds),
        pdbs=pdb_impacts(snapshot, hit, after, kept),
        workloads=workload_impacts(snapshot, hit, after, result.preempted, kept, crashing),
        notes=notes,
        blocked=tuple(blocked),
        control_plane_down=headless,
    )


def blocked_by_pdb(snapshot: Snapshot, hit: set[str]) -> dict[PodKey, str]:
    out: dict[PodKey, str] = {}
    for pdb in snapshot.pdbs:
        members = snapshot.select_pods(pdb.namespace, pdb.selector)
        healthy = sum(1 for p in members if p.node and p.phase == "Running" and p.ready)
        if healthy - pdb.desired_healthy(len(members)) > 0:
            continue
        for pod in members:
            evicted = not (pod.is_daemonset or pod.is_mirror)
            if pod.node in hit and evicted and pod.phase not in ("Succeeded", "Failed"):
                out.setdefault(pod.key, f"{pdb.namespace}/{pdb.name}")
    return out


def blocked_notes(snapshot: Snapshot, blocked: list[tuple[Pod, str]]) -> tuple[str, ...]:
    by_pdb: dict[str, list[str]] = defaultdict(list)
    for pod, ref in blocked:
        by_pdb[ref].append(f"{pod.namespace}/{pod.name}")
    notes = []
    for ref, pods in by_pdb.items():
        namespace, _, name = ref.partition("/")
        pdb = next(p for p in snapshot.pdbs if (p.namespace, p.name) == (namespace, name))
        members = snapshot.select_pods(pdb.namespace, pdb.selector)
        notes.append(
            f"the drain blocks: PodDisruptionBudget {ref} allows no disruption (needs "
            f"{pdb.desired_healthy(len(members))} healthy of {len(members)}), so "
            f"{', '.join(pods)} {'stays' if len(pods) == 1 else 'stay'} and kubectl drain "
            "retries the eviction for ever "
            "(relax the budget, or add a replica first)"
        )
    return tuple(notes)


def pods_after(
    snapshot: Snapshot,
    hit: set[str],
    losing: bool,
    placed: dict[PodKey, str],
    displaced: list[Pod],
    preempted: Iterable[Preemption],
    kept: set[PodKey],
) -> dict[PodKey, Pod]:
    """Every pod that runs once things settle, with its node."""
    victims = {p.victim.key for p in preempted}
    out: dict[PodKey, Pod] = {}
    for pod in snapshot.pods:
        if pod.node is None or pod.key in victims:
            continue
        stays = pod.is_daemonset or pod.is_mirror or pod.key in kept
        if pod.node in hit and (losing or not stays):
            continue
        out[pod.key] = pod
    for pod in displaced:
        node = placed.get(pod.key)
        if node is not None:
            out[pod.key] = replace(pod, node=node, phase="Running")
    for key, node in placed.items():
        if key not in out:
            original = next((p.victim for p in preempted if p.victim.key == key), None)
            if original is not None:
                out[key] = replace(original, node=node, phase="Running")
    return out


def peak_memory(pod: Pod, scheduler: Scheduler) -> int:
    if pod.profile is not None and pod.profile.peak.memory is not None:
        return pod.profile.peak.memory
    if pod.usage is not None and pod.usage.memory is not None:
        return pod.usage.memory
    return scheduler.requests_of(pod)[1]


def nodes_after(
    snapshot: Snapshot,
    hit: set[str],
    after: dict[PodKey, Pod],
    scheduler: Scheduler,
    t: Thresholds,
) -> tuple[NodeAfter, ...]:
    by_node: dict[str, list[Pod]] = defaultdict(list)
    for pod in after.values():
        by_node[pod.node or ""].append(pod)
    out = []
    for node in snapshot.nodes:
        before = [p for p in snapshot.pods_by_node.get(node.name, ()) if p.counts_for_allocation]
        now = by_node.get(node.name, [])
        alloc_mem = node.allocatable.memory or 0
        peak = sum(peak_memory(p, scheduler) for p in now)
        peak_pct = percent(peak, alloc_mem)
        req_mem_after = sum(scheduler.requests_of(p)[1] for p in now)
        out.append(
            NodeAfter(
                name=node.name,
                lost=node.name in hit,
                requests_cpu_before=sum(scheduler.requests_of(p)[0] for p in before),
                requests_cpu_after=sum(scheduler.requests_of(p)[0] for p in now),
                requests_memory_before=sum(scheduler.requests_of(p)[1] for p in before),
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


def pdb_impacts(
    snapshot: Snapshot, hit: set[str], after: dict[PodKey, Pod], kept: set[PodKey]
) -> tuple[PdbImpact, ...]:
    out = []
    for pdb in snapshot.pdbs:
        members = snapshot.select_pods(pdb.namespace, pdb.selector)
        healthy = [p for p in members if p.node and p.phase == "Running" and p.ready]
        during = [p for p in healthy if (p.node not in hit or p.key in kept) and p.key in after]
        expected = len(members)
        out.append(
            PdbImpact(
                pdb.namespace,
                pdb.name,
                expected,
                pdb.desired_healthy(expected),
                len(healthy),
                len(during),
                sum(1 for p in members if p.key in after),
            )
        )
    return tuple(out)


def workload_impacts(
    snapshot: Snapshot,
    hit: set[str],
    after: dict[PodKey, Pod],
    preempted: Iterable[Preemption],
    kept: set[PodKey],
    crashing: set[PodKey],
) -> tuple[WorkloadImpact, ...]:
    victims = {p.victim.key for p in preempted}
    before: Counter = Counter()
    during: Counter = Counter()
    settled: Counter = Counter()
    owners = snapshot.workload_of_pod
    for pod in snapshot.pods:
        key = owners.get(pod.key)
        if key is None or pod.node is None or pod.phase != "Running":
            continue
        before[key] += 1
        if (pod.node not in hit or pod.key in kept) and pod.key not in victims:
            during[key] += 1
    for pod in after.values():
        key = owners.get(pod.key)
        if key is not None and pod.key not in crashing:
            settled[key] += 1
    return tuple(
        WorkloadImpact(w.ref, w.replicas, before[w.key], during[w.key], settled[w.key])
        for w in snapshot.workloads
        if w.kind != "DaemonSet"
    )


def compare(snapshot: Snapshot, kind: str, target: str, **kw) -> WhatIfReport:
    scenario = Scenario(kind, target)  # type: ignore[arg-type]
    fast = what_if(snapshot, scenario, **kw)
    slow = reference_what_if(snapshot, scenario, **kw)
    where = f"{kind} {target} {kw}"
    # Field by field first, so a failure names the part that differs.
    assert fast.moves == slow.moves, where
    assert fast.preempted == slow.preempted, where
    assert fast.nodes == slow.nodes, where
    assert fast.pdbs == slow.pdbs, where
    assert fast.workloads == slow.workloads, where
    assert fast == slow, where
    return fast


@pytest.mark.parametrize("seed", range(24))
def test_random_labs_match_the_reference(seed):
    snapshot = random_lab(seed, nodes=6 + seed % 8, workloads=15 + 2 * seed)
    for kind, target in scenarios_of(snapshot):
        compare(snapshot, kind, target)
        if kind == "drain":
            compare(snapshot, kind, target, honour_pdbs=False)


def test_the_random_labs_reach_the_corners():
    """The comparison above is only worth something if the labs make the scheduler preempt,
    leave pods Pending, re-place preempted pods, block drains and keep finished pods bound."""
    seen: Counter = Counter()
    for seed in range(24):
        snapshot = random_lab(seed, nodes=6 + seed % 8, workloads=15 + 2 * seed)
        seen["finished pods on a node"] += sum(
            1 for p in snapshot.pods if p.node and not p.counts_for_allocation
        )
        for kind, target in scenarios_of(snapshot):
            report = what_if(snapshot, Scenario(kind, target))  # type: ignore[arg-type]
            seen["pending"] += len(report.pending)
            seen["preempted"] += len(report.preempted)
            seen["blocked"] += len(report.blocked)
            seen["outages"] += len(report.outages)
            seen["violated budgets"] += len(report.violated_pdbs)
            victims = {p.victim.key for p in report.preempted}
            pending = {m.pod.key for m in report.pending}
            seen["preempted pods placed again"] += len(victims - pending)
    assert all(seen[k] > 0 for k in seen), seen
    assert len(seen) == 7


@pytest.mark.parametrize("name", ["n100", "xeon", "arm-cloud", "tailnet"])
def test_built_in_labs_match_the_reference(name):
    lab = labfile.load(name)
    for kind, target in scenarios_of(lab.snapshot):
        compare(lab.snapshot, kind, target, thresholds=lab.thresholds)


def test_a_synthetic_lab_of_the_benchmark_shape_matches_the_reference():
    snapshot = synthetic_lab(24, 600)
    for kind, target in (("lose-host", "pve0"), ("drain", "node-001"), ("lose-node", "node-005")):
        report = compare(snapshot, kind, target)
        assert report.placed
