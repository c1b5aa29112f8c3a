"""A small model of kube-scheduler: filters, a score, and preemption.

It answers "where would this pod go?" the way the default scheduler would for the rules a
homelab uses: resource requests against free allocatable, unschedulable nodes, taints and
tolerations, nodeSelector and required node affinity (so arm64/amd64 mixes are honoured),
required pod anti-affinity, topology spread with DoNotSchedule, and priority with
preemption of lower-priority pods. Reasons are worded like the scheduler's FitError so an
operator recognises them ("0/3 nodes are available: 1 Insufficient memory, ...").

Not modelled (and so never claimed): preferred affinities, volume topology, host ports,
pod affinity (only anti-affinity), extended resources. Scoring approximates the default
profile: spread replicas of one owner over nodes first, then prefer the least allocated node.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from cockpit.model import Node, Pod, Taint

HOSTNAME = "kubernetes.io/hostname"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node(s) were unschedulable"
AFFINITY = "node(s) didn't match Pod's node affinity/selector"
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
SPREAD = "node(s) didn't match pod topology spread constraints"
TOO_MANY_PODS = "Too many pods"
INSUFFICIENT_CPU = "Insufficient cpu"
INSUFFICIENT_MEMORY = "Insufficient memory"
RESOURCE_REASONS = frozenset({TOO_MANY_PODS, INSUFFICIENT_CPU, INSUFFICIENT_MEMORY})
Forbidden = dict[str, set[str]]  # topology key -> domains a pod may not join


def lifecycle_taints(node: Node) -> tuple[Taint, ...]:
    """The taints the node lifecycle controller adds to a node that is not Ready."""
    status = node.conditions.get("Ready", "True")
    if status == "True":
        return node.taints
    key = UNREACHABLE_TAINT if status == "Unknown" else NOT_READY_TAINT
    if any(t.key == key for t in node.taints):
        return node.taints
    return (*node.taints, Taint(key, "NoSchedule"), Taint(key, "NoExecute"))


def untolerated_taint(pod: Pod, taints: Sequence[Taint]) -> Taint | None:
    for taint in taints:
        if taint.effect == "PreferNoSchedule":
            continue
        if not any(tol.tolerates(taint) for tol in pod.tolerations):
            return taint
    return None


def matches_node_selection(pod: Pod, node: Node) -> bool:
    labels = node.labels
    for key, value in pod.node_selector.items():
        if labels.get(key) != value:
            return False
    if pod.node_affinity:
        return any(all(req.matches(labels) for req in term) for term in pod.node_affinity)
    return True


def static_signature(pod: Pod) -> tuple:
    """What the static filters (taints, cordons, node selection) read of a pod."""
    return (pod.tolerations, tuple(sorted(pod.node_selector.items())), pod.node_affinity)


def taint_reason(taint: Taint) -> str:
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


def owner_key(pod: Pod) -> tuple[str, str, str] | None:
    """Pods with one controller are siblings; the default scheduler spreads them."""
    owner = pod.owner
    return (pod.namespace, owner.kind, owner.name) if owner is not None else None


@dataclass
class NodeState:
    """A node's bookkeeping while pods are being placed."""

    node: Node
    taints: tuple[Taint, ...]
    free_cpu: int
    free_memory: int
    free_pods: int
    pods: dict[tuple[str, str], Pod] = field(default_factory=dict)
    # owner key -> pods here, for spreading; a plain dict (read with get) because a
    # Counter's lookups cost a tenth of a microsecond more, ten thousand times per what-if
    owners: dict[tuple[str, str, str] | None, int] = field(default_factory=dict)
    # The node's allocatable, read for every (pod, node) pair while scoring.
    allocatable_cpu: int = field(init=False)
    allocatable_memory: int = field(init=False)

    def __post_init__(self) -> None:
        self.allocatable_cpu = self.node.allocatable.cpu_or_zero
        self.allocatable_memory = self.node.allocatable.memory_or_zero

    def requested(self) -> tuple[int, int]:
        """CPU and memory requested by the pods placed here now."""
        return self.allocatable_cpu - self.free_cpu, self.allocatable_memory - self.free_memory

    def fits(self, cpu: int, memory: int) -> list[str]:
        reasons = []
        if self.free_pods < 1:
            reasons.append(TOO_MANY_PODS)
        if cpu > self.free_cpu:
            reasons.append(INSUFFICIENT_CPU)
        if memory > self.free_memory:
            reasons.append(INSUFFICIENT_MEMORY)
        return reasons


Rules = tuple[tuple[Forbidden, Forbidden], list["NodeState"]]


@dataclass(frozen=True)
class Preemption:
    victim: Pod
    node: str
    by: Pod


@dataclass
class ScheduleResult:
    placed: dict[tuple[str, str], str] = field(default_factory=dict)  # pod key -> node
    pending: dict[tuple[str, str], str] = field(default_factory=dict)  # pod key -> reason
    preempted: list[Preemption] = field(default_factory=list)


class Scheduler:
    """Places pods one at a time onto a set of nodes, tracking what each placement uses."""

    def __init__(self, nodes: Iterable[Node], bound_pods: Iterable[Pod] = ()) -> None:
        self.states: dict[str, NodeState] = {}
        for node in sorted(nodes, key=lambda n: n.name):
            self.states[node.name] = NodeState(
                node=node,
                taints=lifecycle_taints(node),
                free_cpu=node.allocatable.cpu_or_zero,
                free_memory=node.allocatable.memory_or_zero,
                free_pods=node.pods_allocatable,
            )
        self._requests: dict[tuple[str, str], tuple[int, int]] = {}
        # Anti-affinity is decided once per pod, not once per node: these indexes find the
        # bound pods a term selects, and the bound pods whose terms select the newcomer,
        # by (namespace, label, value); what they yield is a set of forbidden domains.
        # Built on first use, one label key at a time: only pods with anti-affinity terms
        # need it, and their terms name one or two keys ("app"), not every label.
        # label key -> (namespace, value) -> {pod key: node}
        self._by_label: dict[str, defaultdict[tuple[str, str], dict[tuple[str, str], str]]] = {}
        self._holders: dict[tuple[str, str, str], dict[tuple[str, str], str]] = {}
        self._holders_any: dict[tuple[str, str], str] = {}  # terms without matchLabels
        self._static: dict[tuple, tuple[list[NodeState], dict[str, str]]] = {}
        # best_fit's ranking of the nodes with room, per (cpu, memory, static signature),
        # and the log of nodes whose pods changed since, so a ranking is repaired rather
        # than recomputed: between two pods of one shape only a few nodes change.
        self._changed: list[str] = []
        self._ranked: dict[tuple, tuple[int, list[tuple[float, str, NodeState]]]] = {}
        self._load(bound_pods)

    def _load(self, bound_pods: Iterable[Pod]) -> None:
        """bind() for the pods already running, in one tight loop: a what-if starts from
        ten thousand of them and only moves a few hundred."""
        states, requests = self.states, self._requests
        for pod in bound_pods:
            node = pod.node
            state = states.get(node) if node is not None else None
            # Pod.counts_for_allocation, inlined: node is set here.
            if state is None or pod.phase not in ("Running", "Pending"):
                continue
            key = pod.key
            # Pod.requests, with cockpit.model.effective()'s own short cut for the usual
            # pod (one container, no init containers, no overhead) taken here, which saves
            # two calls per pod.
            containers, overhead = pod.containers, pod.overhead
            if (
                len(containers) == 1
                and not pod.init_containers
                and overhead.cpu is None
                and overhead.memory is None
            ):
                r = containers[0].requests
            else:
                r = pod.requests
            cpu, memory = r.cpu or 0, r.memory or 0
            requests[key] = (cpu, memory)
            state.free_cpu -= cpu
            state.free_memory -= memory
            state.free_pods -= 1
            state.pods[key] = pod
            owner = pod.owner
            owned = (pod.namespace, owner.kind, owner.name) if owner else None
            owners = state.owners
            owners[owned] = owners.get(owned, 0) + 1
            if pod.anti_affinity:
                for slot in self._holder_slots(pod):
                    slot[key] = state.node.name

    # -- bookkeeping ------------------------------------------------------------------

    def requests_of(self, pod: Pod) -> tuple[int, int]:
        cached = self._requests.get(pod.key)
        if cached is None:
            r = pod.requests
            cached = self._requests[pod.key] = (r.cpu_or_zero, r.memory_or_zero)
        return cached

    def bind(self, pod: Pod, node: str) -> None:
        state = self.states[node]
        cpu, memory = self.requests_of(pod)
        state.free_cpu -= cpu
        state.free_memory -= memory
        state.free_pods -= 1
        state.pods[pod.key] = pod
        owned = owner_key(pod)
        state.owners[owned] = state.owners.get(owned, 0) + 1
        self._changed.append(node)
        for label_key, index in self._by_label.items():
            value = pod.labels.get(label_key)
            if value is not None:
                index[(pod.namespace, value)][pod.key] = node
        for slot in self._holder_slots(pod):
            slot[pod.key] = node

    def unbind(self, pod: Pod, node: str) -> None:
        state = self.states[node]
        cpu, memory = self.requests_of(pod)
        state.free_cpu += cpu
        state.free_memory += memory
        state.free_pods += 1
        del state.pods[pod.key]
        state.owners[owner_key(pod)] -= 1
        self._changed.append(node)
        for label_key, index in self._by_label.items():
            value = pod.labels.get(label_key)
            if value is not None and (pod.namespace, value) in index:
                index[(pod.namespace, value)].pop(pod.key, None)
        for slot in self._holder_slots(pod):
            slot.pop(pod.key, None)

    def _labelled(self, namespace: str, key: str, value: str) -> dict[tuple[str, str], str]:
        """The placed pods of a namespace with label key=value, by pod key -> node. A label
        key is indexed on its first query and kept up to date by bind() and unbind()."""
        index = self._by_label.get(key)
        if index is None:
            index = self._by_label[key] = defaultdict(dict)
            for name, state in self.states.items():
                for pod_key, pod in state.pods.items():
                    found = pod.labels.get(key)
                    if found is not None:
                        index[(pod.namespace, found)][pod_key] = name
        return index.get((namespace, value), {})

    def _holder_slots(self, pod: Pod) -> list[dict[tuple[str, str], str]]:
        slots = []
        for term in pod.anti_affinity:
            if not term.selector.match_labels:
                slots.append(self._holders_any)
                continue
            label = next(iter(term.selector.match_labels.items()))
            for namespace in term.namespaces or (pod.namespace,):
                slots.append(self._holders.setdefault((namespace, *label), {}))
        return slots

    # -- filters ----------------------------------------------------------------------

    def static_reason(self, pod: Pod, state: NodeState) -> str | None:
        """Filters that no preemption can change: unschedulable, taints, node selection."""
        if state.node.unschedulable:
            # Like the NodeUnschedulable plugin: tolerating the unschedulable taint is the
            # only way past a cordon (DaemonSet pods carry that toleration).
            cordon = Taint("node.kubernetes.io/unschedulable", "NoSchedule")
            if not any(t.tolerates(cordon) for t in pod.tolerations):
                return UNSCHEDULABLE
        taint = untolerated_taint(pod, state.taints)
        if taint is not None:
            return taint_reason(taint)
        if not matches_node_selection(pod, state.node):
            return AFFINITY
        return None

    def _domain(self, state: NodeState, key: str) -> str | None:
        if key == HOSTNAME:
            return state.node.labels.get(key, state.node.name)
        return state.node.labels.get(key)

    def forbidden_domains(self, pod: Pod) -> tuple[Forbidden, Forbidden]:
        """Topology domains the pod may not join: those holding pods its own terms select,
        and those whose pods' terms select it (anti-affinity is symmetric)."""
        own: Forbidden = {}
        for term in pod.anti_affinity:
            for namespace in term.namespaces or (pod.namespace,):
                if term.selector.match_labels:
                    label = next(iter(term.selector.match_labels.items()))
                    candidates = self._labelled(namespace, *label)
                else:
                    candidates = {
                        k: name
                        for name, state in self.states.items()
                        for k, p in state.pods.items()
                        if p.namespace == namespace
                    }
                for key, node in candidates.items():
                    if term.selector.matches(self.states[node].pods[key].labels):
                        self._forbid(own, term.topology_key, node)
        theirs: Forbidden = {}
        holders: dict[tuple[str, str], str] = dict(self._holders_any)
        for label in pod.labels.items():
            holders.update(self._holders.get((pod.namespace, *label), {}))
        for key, node in holders.items():
            other = self.states[node].pods[key]
            for term in other.anti_affinity:
                namespaces = term.namespaces or (other.namespace,)
                if pod.namespace in namespaces and term.selector.matches(pod.labels):
                    self._forbid(theirs, term.topology_key, node)
        return own, theirs

    def _forbid(self, forbidden: Forbidden, key: str, node: str) -> None:
        domain = self._domain(self.states[node], key) if node in self.states else None
        if domain is not None:
            forbidden.setdefault(key, set()).add(domain)

    def anti_affinity_reason(
        self, state: NodeState, forbidden: tuple[Forbidden, Forbidden]
    ) -> str | None:
        own, theirs = forbidden
        for key, domains in own.items():
            if self._domain(state, key) in domains:
                return ANTI_AFFINITY
        for key, domains in theirs.items():
            if self._domain(state, key) in domains:
                return EXISTING_ANTI_AFFINITY
        return None

    def spread_reason(self, pod: Pod, state: NodeState, domains: list[NodeState]) -> str | None:
        """PodTopologySpread with the default policies: domains are the nodes that match the
        pod's node selection whatever their taints, so a dead node still counts (with no pods),
        which is exactly why maxSkew 1 on hostname can strand pods after a node loss."""
        for constraint in pod.spread:
            if constraint.when_unsatisfiable != "DoNotSchedule":
                continue
            key = constraint.topology_key
            counts: Counter[str] = Counter()
            for candidate in domains:
                domain = self._domain(candidate, key)
                if domain is None:
                    continue
                counts[domain] += sum(
                    1
                    for other in candidate.pods.values()
                    if other.namespace == pod.namespace
                    and constraint.selector.matches(other.labels)
                )
            domain = self._domain(state, key)
            if domain is None:
                return SPREAD
            self_match = 1 if constraint.selector.matches(pod.labels) else 0
            lowest = min(counts.values()) if counts else 0
            if counts[domain] + self_match - lowest > constraint.max_skew:
                return SPREAD
        return None

    # -- placement --------------------------------------------------------------------

    def feasible(self, pod: Pod) -> tuple[list[NodeState], dict[str, str]]:
        """Nodes that pass every filter, and for the rest the first reason they failed."""
        cpu, memory = self.requests_of(pod)
        passed_static, static_reasons = self._static_filter(pod)
        reasons = dict(static_reasons)
        rules = self._rules(pod)
        (own, theirs), _ = rules
        ruled = bool(own or theirs or pod.spread)  # most pods: no rule to check per node
        fits: list[NodeState] = []
        for state in passed_static:
            lacking = state.fits(cpu, memory)
            if lacking:
                reasons[state.node.name] = ", ".join(lacking)
                continue
            reason = self.placement_rule_reason(pod, state, rules) if ruled else None
            if reason is not None:
                reasons[state.node.name] = reason
            else:
                fits.append(state)
        return fits, reasons

    def _static_filter(self, pod: Pod) -> tuple[list[NodeState], dict[str, str]]:
        """Taints, cordons and node selection depend only on the pod's tolerations and node
        selection, which most pods share: work them out once per combination. Node taints
        and cordons do not change while a Scheduler places pods."""
        signature = static_signature(pod)
        cached = self._static.get(signature)
        if cached is None:
            passed: list[NodeState] = []
            reasons: dict[str, str] = {}
            for name, state in self.states.items():
                reason = self.static_reason(pod, state)
                if reason is None:
                    passed.append(state)
                else:
                    reasons[name] = reason
            cached = self._static[signature] = (passed, reasons)
        return cached

    def _spread_domains(self, pod: Pod) -> list[NodeState]:
        if not pod.spread:
            return []
        return [s for s in self.states.values() if matches_node_selection(pod, s.node)]

    def _rules(self, pod: Pod) -> Rules:
        """What the pod's placement rules need, computed once for all candidate nodes."""
        return self.forbidden_domains(pod), self._spread_domains(pod)

    def placement_rule_reason(self, pod: Pod, state: NodeState, rules: Rules) -> str | None:
        forbidden, domains = rules
        return self.anti_affinity_reason(state, forbidden) or self.spread_reason(
            pod, state, domains
        )

    def score(self, pod: Pod, states: list[NodeState]) -> NodeState:
        owner = owner_key(pod)
        cpu, memory = self.requests_of(pod)

        def rank(state: NodeState) -> tuple[int, float, str]:
            siblings = state.owners.get(owner, 0) if owner else 0
            alloc = state.node.allocatable
            free = 0.0
            if alloc.cpu_or_zero:
                free += (state.free_cpu - cpu) / alloc.cpu_or_zero
            if alloc.memory_or_zero:
                free += (state.free_memory - memory) / alloc.memory_or_zero
            return (siblings, -free, state.node.name)

        return min(states, key=rank)

    def best_fit(self, pod: Pod) -> NodeState | None:
        """score(pod, feasible(pod)[0]) without the per-node reasons that only a pod that
        fits nowhere needs, and without looking at every node: most pods of a what-if land
        on the first try, and this is the loop that runs once per (pod, node) pair.

        score() ranks by (siblings of the pod's owner, -free, name). The nodes with room are
        kept sorted by (-free, name) for each pod shape (ranked()), so the first of them that
        passes the placement rules with no sibling is the best; with siblings everywhere,
        the first one seen with the fewest is. Same filters, same order: the same node."""
        cpu, memory = self.requests_of(pod)
        rules = self._rules(pod)
        (own, theirs), _ = rules
        ruled = bool(own or theirs or pod.spread)
        owner = owner_key(pod)
        best: NodeState | None = None
        best_siblings = 0
        for _, _, state in self.ranked(pod, cpu, memory):
            if ruled and self.placement_rule_reason(pod, state, rules) is not None:
                continue
            siblings = state.owners.get(owner, 0) if owner else 0
            if siblings == 0:
                return state
            if best is None or siblings < best_siblings:
                best, best_siblings = state, siblings
        return best

    def ranked(self, pod: Pod, cpu: int, memory: int) -> list[tuple[float, str, NodeState]]:
        """The nodes that pass the static filters and have room for (cpu, memory) and one
        more pod, as (-free, name, state) sorted, where free is score()'s measure of what
        is left. Cached per shape and repaired for the nodes bound or unbound since."""
        signature = static_signature(pod)
        passed, failed = self._static_filter(pod)
        key = (cpu, memory, signature)
        cached = self._ranked.get(key)
        if cached is None:
            entries = sorted(
                self._rank_entry(s, cpu, memory) for s in passed if _room(s, cpu, memory)
            )
        else:
            seen, entries = cached
            if seen == len(self._changed):
                return entries
            dirty = set(self._changed[seen:])
            entries = [e for e in entries if e[1] not in dirty]
            for name in dirty:
                state = self.states[name]
                if name not in failed and _room(state, cpu, memory):
                    bisect.insort(entries, self._rank_entry(state, cpu, memory))
        self._ranked[key] = (len(self._changed), entries)
        return entries

    @staticmethod
    def _rank_entry(state: NodeState, cpu: int, memory: int) -> tuple[float, str, NodeState]:
        # The very expression score() uses, so the floats compare the same.
        free = 0.0
        if state.allocatable_cpu:
            free += (state.free_cpu - cpu) / state.allocatable_cpu
        if state.allocatable_memory:
            free += (state.free_memory - memory) / state.allocatable_memory
        return (-free, state.node.name, state)

    def preempt_for(self, pod: Pod, reasons: dict[str, str]) -> tuple[str, list[Pod]] | None:
        """Find a node where evicting lower-priority pods makes room, with the fewest and
        least important victims, as the scheduler's default preemption does."""
        if pod.preemption_policy == "Never":
            return None
        cpu, memory = self.requests_of(pod)
        rules = self._rules(pod)
        best: tuple[tuple[int, int, int, str], str, list[Pod]] | None = None
        for name, reason in reasons.items():
            if not set(reason.split(", ")) <= RESOURCE_REASONS:
                continue
            state = self.states[name]
            lower = [
                p for p in state.pods.values() if p.priority < pod.priority and not p.is_mirror
            ]
            if not lower or self.placement_rule_reason(pod, state, rules) is not None:
                continue
            free_cpu = state.free_cpu + sum(self.requests_of(p)[0] for p in lower)
            free_memory = state.free_memory + sum(self.requests_of(p)[1] for p in lower)
            free_pods = state.free_pods + len(lower)
            if cpu > free_cpu or memory > free_memory or free_pods < 1:
                continue
            free_cpu -= cpu
            free_memory -= memory
            free_pods -= 1
            victims = []
            # Reprieve the most important victims first; whoever no longer fits is evicted.
            for victim in sorted(lower, key=lambda p: (-p.priority, p.created, p.name)):
                v_cpu, v_memory = self.requests_of(victim)
                if v_cpu <= free_cpu and v_memory <= free_memory and free_pods >= 1:
                    free_cpu -= v_cpu
                    free_memory -= v_memory
                    free_pods -= 1
                else:
                    victims.append(victim)
            rank = (
                max(v.priority for v in victims) if victims else -(2**31),
                sum(v.priority for v in victims),
                len(victims),
                name,
            )
            if best is None or rank < best[0]:
                best = (rank, name, victims)
        if best is None:
            return None
        return best[1], best[2]

    def run(self, queue: Sequence[Pod]) -> ScheduleResult:
        """Schedule pods highest priority first (oldest first within a priority), preempting
        where allowed; preempted pods rejoin the queue and may land elsewhere."""
        result = ScheduleResult()
        heap: list[tuple[int, float, int, Pod]] = []
        counter = 0
        for pod in queue:
            heapq.heappush(heap, (-pod.priority, pod.created, counter, pod))
            counter += 1
        while heap:
            _, _, _, pod = heapq.heappop(heap)
            best = self.best_fit(pod)
            if best is not None:
                node = best.node.name
                self.bind(pod, node)
                result.placed[pod.key] = node
                result.pending.pop(pod.key, None)
                continue
            _, reasons = self.feasible(pod)  # nothing fits: why, node by node
            found = self.preempt_for(pod, reasons)
            if found is None:
                result.placed.pop(pod.key, None)
                result.pending[pod.key] = fit_error(len(self.states), reasons)
                continue
            node, victims = found
            for victim in victims:
                self.unbind(victim, node)
                result.placed.pop(victim.key, None)
                result.preempted.append(Preemption(victim, node, pod))
                unbound = replace(victim, node=None, phase="Pending")
                heapq.heappush(heap, (-victim.priority, victim.created, counter, unbound))
                counter += 1
            self.bind(pod, node)
            result.placed[pod.key] = node
            result.pending.pop(pod.key, None)
        return result


def _room(state: NodeState, cpu: int, memory: int) -> bool:
    """NodeState.fits() without its reasons."""
    return state.free_pods >= 1 and cpu <= state.free_cpu and memory <= state.free_memory


def fit_error(total: int, reasons: dict[str, str]) -> str:
    """The scheduler's FitError text: reason counts, sorted as strings."""
    histogram: Counter[str] = Counter()
    for reason in reasons.values():
        for part in reason.split(", "):
            histogram[part] += 1
    parts = sorted(f"{count} {reason}" for reason, count in histogram.items())
    return f"0/{total} nodes are available: {', '.join(parts)}."


def eligible_for_daemonset(pod: Pod, nodes: Iterable[Node]) -> list[Node]:
    """Nodes a DaemonSet pod would run on: taints and node selection only, no resources."""
    out = []
    for node in nodes:
        if untolerated_taint(pod, lifecycle_taints(node)) is None and matches_node_selection(
            pod, node
        ):
            out.append(node)
    return out
