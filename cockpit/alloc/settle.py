"""What runs once a what-if's re-placement settles, and the sums its report needs, without
listing every pod of the lab.

A what-if at ten thousand pods moves a few hundred. Rather than building the set of every
pod running afterwards and adding it up node by node, budget by budget and workload by
workload, each question is answered from what the scheduler already knows (its per-node
sums), the few pods that moved, and one tally over the pods that keep their node.
tests/test_whatif_reference.py checks every report against that plain computation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cockpit.alloc.scheduler import Preemption
from cockpit.model import Pdb, Pod, Snapshot, workload_key_of

PodKey = tuple[str, str]
Budgets = list[tuple[Pdb, list[Pod]]]  # every PDB with the pods it selects
TEMPLATE_HASH = "pod-template-hash"


@dataclass(frozen=True)
class Settled:
    """Which pods run once the re-placement settles, without listing every pod: each pod
    that keeps its node (everything off the affected nodes, and on a drained node what
    stays) unless it was preempted, and each pod the scheduler placed, where it went."""

    hit: frozenset[str]
    losing: bool
    kept: frozenset[PodKey]  # pods a budget keeps on a drained node
    placed: dict[PodKey, str]  # pod -> where it runs now: displaced pods and moved victims
    preempted: dict[PodKey, Pod]  # every preempted pod, as it was first taken off its node
    moved: dict[PodKey, Pod]  # every placed pod, by key

    @classmethod
    def of(
        cls,
        hit: set[str],
        losing: bool,
        kept: set[PodKey],
        displaced: list[Pod],
        placed: dict[PodKey, str],
        preempted: Iterable[Preemption],
    ) -> Settled:
        victims: dict[PodKey, Pod] = {}
        for pre in preempted:
            victims.setdefault(pre.victim.key, pre.victim)
        moving = {p.key: p for p in displaced}
        moved = {key: moving.get(key) or victims[key] for key in placed}
        return cls(frozenset(hit), losing, frozenset(kept), placed, victims, moved)

    def keeps_node(self, pod: Pod) -> bool:
        """The pod was not displaced: it stays bound where it is (preempted or not)."""
        node = pod.node
        if node is None:
            return False
        if node in self.hit:
            return not self.losing and (pod.is_daemonset or pod.is_mirror or pod.key in self.kept)
        return True

    def runs(self, pod: Pod) -> bool:
        """A pod of the snapshot runs once things settle (on its node or a new one)."""
        if pod.key in self.placed:
            return True
        return pod.key not in self.preempted and self.keeps_node(pod)

    def preempted_in_place(self) -> list[Pod]:
        """Preempted pods that had kept their node (the others were displaced anyway)."""
        return [p for p in self.preempted.values() if p.node is not None and self.keeps_node(p)]


@dataclass
class Tally:
    """Sums over the pods that keep their node, taken in one pass: per node the peak memory
    and the requests of pods the scheduler does not count (finished ones still bound); per
    workload the pods running before, those still running during the disruption and those
    bound once it settles (a finished or pending pod too, as the report always counted)."""

    peak: Counter  # node -> peak memory of the pods that keep it
    uncounted_cpu: Counter  # node -> requests of bound pods outside the scheduler's sums
    uncounted_memory: Counter
    running_before: Counter  # workload key -> Running pods bound to a node
    running_during: Counter  # ... of which neither on an affected node (unless kept)
    bound: Counter  # workload key -> pods that keep their node, whatever their phase

    @classmethod
    def of(
        cls,
        bound: list[Pod],
        on_hit: list[Pod],
        settled: Settled,
        requests_of: Callable[[Pod], tuple[int, int]],
    ) -> Tally:
        """bound: every pod that keeps its node; on_hit: every pod of the affected nodes."""
        # The loop below sees every pod of the lab, so it keeps to plain dicts read with get()
        # (a Counter's += calls __missing__ for every new key) and counts pods per owner first,
        # mapping each owner to its workload once afterwards.
        peak: dict[str, int] = {}
        uncounted_cpu: Counter = Counter()
        uncounted_memory: Counter = Counter()
        by_owner: dict[tuple, list] = {}  # owner -> [bound, running, running during, a pod]
        hit, kept = settled.hit, settled.kept
        for pod in bound:
            node: str = pod.node  # type: ignore[assignment]  # bound pods have one
            profile = pod.profile  # peak_memory(), inlined
            if profile is not None and profile.peak.memory is not None:
                memory = profile.peak.memory
            elif pod.usage is not None and pod.usage.memory is not None:
                memory = pod.usage.memory
            else:
                memory = requests_of(pod)[1]
            peak[node] = peak.get(node, 0) + memory
            phase = pod.phase
            if phase not in ("Running", "Pending"):  # not Pod.counts_for_allocation
                cpu, memory = requests_of(pod)
                uncounted_cpu[node] += cpu
                uncounted_memory[node] += memory
            owner = pod.owner
            if owner is None:
                continue
            signature = (pod.namespace, owner.kind, owner.name, pod.labels.get(TEMPLATE_HASH))
            counts = by_owner.get(signature)
            if counts is None:
                counts = by_owner[signature] = [0, 0, 0, pod]
            counts[0] += 1
            if phase == "Running":
                counts[1] += 1
                if node not in hit or pod.key in kept:
                    counts[2] += 1
        kept_bound: dict[tuple[str, str, str], int] = {}
        before: dict[tuple[str, str, str], int] = {}
        during: dict[tuple[str, str, str], int] = {}
        for owned, running, still, pod in by_owner.values():
            workload = workload_key_of(pod)
            if workload is not None:
                kept_bound[workload] = kept_bound.get(workload, 0) + owned
                before[workload] = before.get(workload, 0) + running
                during[workload] = during.get(workload, 0) + still
        t = cls(
            Counter(peak),
            uncounted_cpu,
            uncounted_memory,
            running_before=Counter(before),
            running_during=Counter(during),
            bound=Counter(kept_bound),
        )
        # The few pods outside that loop: those displaced from the affected nodes (running
        # before), the preempted (gone from their node and workload) and the placed.
        workload_of = workload_keys()
        for pod in on_hit:
            if not settled.keeps_node(pod) and pod.phase == "Running":
                workload = workload_of(pod)
                if workload is not None:
                    t.running_before[workload] += 1
        for pod in settled.preempted_in_place():
            t.peak[pod.node] -= peak_memory(pod, requests_of)
            workload = workload_of(pod)
            if workload is not None:
                t.bound[workload] -= 1
                if pod.phase == "Running" and (pod.node not in hit or pod.key in kept):
                    t.running_during[workload] -= 1
        for key, node in settled.placed.items():
            t.peak[node] += peak_memory(settled.moved[key], requests_of)
        return t


def workload_keys() -> Callable[[Pod], tuple[str, str, str] | None]:
    """workload_key_of, remembered per owner: the replicas of one workload share it."""
    memo: dict[tuple, tuple[str, str, str] | None] = {}

    def key_of(pod: Pod) -> tuple[str, str, str] | None:
        owner = pod.owner
        if owner is None:
            return None
        signature = (pod.namespace, owner.kind, owner.name, pod.labels.get(TEMPLATE_HASH))
        try:
            return memo[signature]
        except KeyError:
            found = memo[signature] = workload_key_of(pod)
            return found

    return key_of


def peak_memory(pod: Pod, requests_of: Callable[[Pod], tuple[int, int]]) -> int:
    if pod.profile is not None and pod.profile.peak.memory is not None:
        return pod.profile.peak.memory
    if pod.usage is not None and pod.usage.memory is not None:
        return pod.usage.memory
    return requests_of(pod)[1]


def budget_members(snapshot: Snapshot) -> Budgets:
    """Every PDB with the pods it selects, as Snapshot.select_pods finds them (same pods, same
    order), from an index of only the label keys the budgets' selectors start with: one
    pass over the pods instead of indexing every label of every pod."""
    keys = {next(iter(p.selector.match_labels)) for p in snapshot.pdbs if p.selector.match_labels}
    index: dict[str, defaultdict[tuple[str, str], list[Pod]]] = {}
    for key in keys:  # usually one: "app" or "app.kubernetes.io/name"
        pods_by_value = index[key] = defaultdict(list)
        for pod in snapshot.pods:
            value = pod.labels.get(key)
            if value is not None:
                pods_by_value[(pod.namespace, value)].append(pod)
    out = []
    for pdb in snapshot.pdbs:
        selector = pdb.selector
        if selector.match_labels:
            key, value = next(iter(selector.match_labels.items()))
            candidates = index[key].get((pdb.namespace, value), [])
            if len(selector.match_labels) == 1 and not selector.match_expressions:
                members = list(candidates)  # the index matched the selector's only label
            else:
                members = [p for p in candidates if selector.matches(p.labels)]
        else:
            members = snapshot.select_pods(pdb.namespace, selector)
        out.append((pdb, members))
    return out
