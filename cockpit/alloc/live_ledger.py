"""The ledger kept by difference while the cluster changes.

build_ledger adds up every pod of every node; at 10,000 pods that is tens of milliseconds,
paid again for each watch event when the screen rebuilds it per change. The sums are plain
additions, so a changed pod can be taken out of its node's sums and put back in: only the
nodes whose pods (or own records) changed get a new NodeLedger, and the few hundred records
around them (hosts, roll-ups, totals) are recomputed from those. The result equals
build_ledger on the same snapshot (tests/test_ui_incremental.py checks it after random
changes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cockpit.alloc.ledger import Ledger, PodSums, ledger_of_nodes, node_ledger_of_sums, sum_pods
from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Thresholds
from cockpit.model import Pod, Snapshot

# A pod's part of its node's sums: PodSums' twelve numbers (used as 0 when absent) and 1 if
# it has metrics, so a node whose last measured pod leaves says "no metrics" again.
Vector = tuple[int, ...]
USED_CPU, USED_MEMORY, HAS_USAGE = 6, 7, 12


def _vector(pod: Pod) -> Vector:
    s = sum_pods((pod,))
    return (
        s.pods, s.requests_cpu, s.requests_memory, s.limits_cpu, s.limits_memory,
        s.unlimited_memory, s.used_cpu or 0, s.used_memory or 0, s.normal_cpu,
        s.normal_memory, s.peak_cpu, s.peak_memory, int(pod.usage is not None),
    )  # fmt: skip


def _sums(v: list[int]) -> PodSums:
    measured = v[HAS_USAGE] > 0
    return PodSums(
        *v[:USED_CPU],
        v[USED_CPU] if measured else None,
        v[USED_MEMORY] if measured else None,
        *v[USED_MEMORY + 1 : HAS_USAGE],
    )


class LiveLedger:
    def __init__(self, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self.thresholds = thresholds
        self.ledger: Ledger | None = None
        self._parts: dict[str, tuple[str, Vector]] = {}  # pod key -> (node, its part)
        self._sums: dict[str, list[int]] = {}  # node -> the sum of its pods' parts
        self._backing: object = None

    def apply(self, snapshot: Snapshot, changed: frozenset[str]) -> Ledger:
        """The ledger of `snapshot`, given what changed since the last call (a
        cockpit.inventory.Changes; a layer without a key delta is taken whole)."""
        delta = getattr(changed, "delta", {})
        if self.ledger is None or ("pods" in changed and "pods" not in delta):
            return self.rebuild(snapshot)
        touched: set[str] = set()
        if "pods" in changed:
            d = delta["pods"]
            touched = self._update(d.removed, d.records)
        if "nodes" in changed or snapshot.backing != self._backing:
            touched = {n.name for n in snapshot.nodes}  # a few hundred at most
        if not touched and not changed & {"hosts", "guests"}:
            return self.ledger
        return self._assemble(snapshot, touched)

    def rebuild(self, snapshot: Snapshot) -> Ledger:
        self._parts, self._sums = {}, {}
        self._update((), {f"{p.namespace}/{p.name}": p for p in snapshot.pods})
        return self._assemble(snapshot, None)

    def _update(self, removed: Iterable[str], changed: Mapping[str, Pod]) -> set[str]:
        """Take removed and changed pods out of their nodes' sums and put the changed ones
        back in; the nodes touched."""
        touched: set[str] = set()
        for key in (*removed, *changed):
            old = self._parts.pop(key, None)
            if old is not None:
                node, part = old
                sums = self._sums[node]
                for i, value in enumerate(part):
                    sums[i] -= value
                touched.add(node)
        for key, pod in changed.items():
            if pod.node is None or not pod.counts_for_allocation:
                continue
            part = _vector(pod)
            self._parts[key] = (pod.node, part)
            sums = self._sums.setdefault(pod.node, [0] * len(part))
            for i, value in enumerate(part):
                sums[i] += value
            touched.add(pod.node)
        return touched

    def _assemble(self, snapshot: Snapshot, touched: set[str] | None) -> Ledger:
        """New NodeLedgers for the touched nodes (None: all), the others as they were."""
        t = self.thresholds
        kept = {n.name: n for n in self.ledger.nodes} if self.ledger and touched is not None else {}
        empty = [0] * (HAS_USAGE + 1)
        nodes = tuple(
            kept[n.name]
            if n.name in kept and n.name not in (touched or ())
            else node_ledger_of_sums(snapshot, n.name, _sums(self._sums.get(n.name, empty)), t)
            for n in snapshot.nodes
        )
        self._backing = dict(snapshot.backing)
        self.ledger = ledger_of_nodes(snapshot, nodes, t)
        return self.ledger
