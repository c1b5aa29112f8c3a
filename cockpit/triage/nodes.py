"""Findings about Kubernetes nodes: readiness, kubelet pressure, cordons, memory use; and
about host memory use, measured against the same levels (seed 000)."""

from __future__ import annotations

from collections.abc import Iterator

from cockpit.model import Node
from cockpit.triage.finding import Facts, Finding, Severity, node_ref, plural
from cockpit.triage.infra import host_ref
from cockpit.units import format_bytes

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
# A cordon younger than this is most likely a drain or an upgrade in progress.
CORDON_GRACE = 15 * 60
PRESSURES = {
    "MemoryPressure": "NODE-MEMORY-PRESSURE",
    "DiskPressure": "NODE-DISK-PRESSURE",
    "PIDPressure": "NODE-PID-PRESSURE",
}
LEVEL_SEVERITY: dict[str, Severity] = {
    "caution": "info",
    "warning": "warning",
    "critical": "critical",
}


def _condition_evidence(node: Node, kind: str) -> str:
    status = node.conditions.get(kind, "")
    text = f"Node.conditions[{kind}]={status}"
    detail = node.condition_details.get(kind)
    if detail is not None and (detail[0] or detail[1]):
        text += f" ({detail[0]}: {detail[1]})" if detail[1] else f" ({detail[0]})"
    return text


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{int(seconds // 86400)} days"


def not_ready(f: Facts) -> Iterator[Finding]:
    for node in f.snapshot.nodes:
        status = node.conditions.get("Ready", "True")
        if status == "True":
            continue
        word = "NotReady" if status == "False" else "Unknown (NotReady)"
        pods = [p for p in f.snapshot.pods_by_node.get(node.name, ()) if p.phase == "Running"]
        since = ""
        detail = node.condition_details.get("Ready")
        if detail is not None and detail[2] and f.now:
            since = f" for {_ago(max(0.0, f.now - detail[2]))}"
        yield Finding(
            "NODE-NOTREADY",
            "critical",
            node_ref(node),
            f"node {node.name} is {word}{since}; {plural(len(pods), 'pod')} on it serve nothing",
            (_condition_evidence(node, "Ready"),),
            "Find out why the kubelet stopped reporting (machine off, network, kubelet "
            f"crashed); to move its pods now: cockpit drain {node.name}",
        )


def gone(f: Facts) -> Iterator[Finding]:
    """Pods bound to a node the API no longer lists (the node object was deleted)."""
    known = f.snapshot.node_by_name
    for name, pods in sorted(f.snapshot.pods_by_node.items()):
        if name in known or not f.snapshot.nodes:
            continue
        yield Finding(
            "NODE-GONE",
            "critical",
            node_ref(name),
            f"node {name} no longer exists but {plural(len(pods), 'pod')} are still bound to it",
            (f"Pod.spec.nodeName={name}, no Node object named {name}",),
            "Force-delete the pods so their controllers recreate them elsewhere: "
            "kubectl delete pod --force --grace-period=0 ...",
        )


def pressure(f: Facts) -> Iterator[Finding]:
    for node in f.snapshot.nodes:
        if not node.ready:
            continue  # a dead kubelet's last word on pressure is stale
        for condition, code in PRESSURES.items():
            if node.conditions.get(condition) != "True":
                continue
            what = condition.removesuffix("Pressure").replace("PID", "PID").lower()
            yield Finding(
                code,
                "warning",
                node_ref(node),
                f"node {node.name} is under {what} pressure: the kubelet evicts pods and "
                "the scheduler avoids it",
                (_condition_evidence(node, condition),),
                f"Free {what} on {node.name} or move pods off it: cockpit drain {node.name}",
            )


def cordoned(f: Facts) -> Iterator[Finding]:
    for node in f.snapshot.nodes:
        if not node.unschedulable:
            continue
        taint = next((t for t in node.taints if t.key == UNSCHEDULABLE_TAINT), None)
        evidence = ["Node.spec.unschedulable=True"]
        age = None
        if taint is not None and taint.time_added is not None and f.now:
            age = max(0.0, f.now - taint.time_added)
            evidence.append(f"taint {UNSCHEDULABLE_TAINT} added {_ago(age)} ago")
        elif f.now:
            # Kubernetes stamps timeAdded on NoExecute taints only; the kubelet's
            # NodeNotSchedulable event says when a cordon began.
            seen = max(
                (
                    e.last_seen or e.first_seen
                    for e in f.snapshot.events
                    if e.object_kind == "Node"
                    and e.object_name == node.name
                    and e.reason == "NodeNotSchedulable"
                ),
                default=None,
            )
            if seen:
                age = max(0.0, f.now - seen)
                evidence.append(f"event NodeNotSchedulable {_ago(age)} ago")
        fresh = age is not None and age < CORDON_GRACE
        how_long = f" for {_ago(age)}" if age is not None else ""
        yield Finding(
            "NODE-CORDONED",
            "info" if fresh else "warning",
            node_ref(node),
            f"node {node.name} has been cordoned{how_long}: no new pod lands on it"
            + (" (a drain may be in progress)" if fresh else ""),
            tuple(evidence),
            f"If the maintenance is over: cockpit uncordon {node.name}",
        )


def _percent(used: int, total: int) -> float:
    return 100.0 * used / total if total else 0.0


def memory_use(f: Facts) -> Iterator[Finding]:
    t = f.thresholds
    for node in f.snapshot.nodes:
        if node.usage is None or node.usage.memory is None or not node.ready:
            continue
        total = node.allocatable.memory_or_zero or node.capacity.memory_or_zero
        pct = _percent(node.usage.memory, total)
        level = t.usage_level("memory", pct)
        if level == "ok":
            continue
        yield Finding(
            "NODE-MEMORY-USE",
            LEVEL_SEVERITY[level],
            node_ref(node),
            f"node {node.name} uses {pct:.0f} % of its allocatable memory "
            f"({format_bytes(node.usage.memory)} of {format_bytes(total)}): {level}",
            (
                f"metrics.k8s.io node memory {node.usage.memory} B, allocatable {total} B",
                f"levels {t.memory_usage.caution:g}/{t.memory_usage.warning:g}/"
                f"{t.memory_usage.critical:g} %",
            ),
            f"Find the biggest pods (kubectl top pods -A --sort-by=memory) or move some: "
            f"cockpit drain {node.name}",
        )
    for host in f.snapshot.hosts:
        if not host.online or host.usage is None or host.usage.memory is None:
            continue
        pct = _percent(host.usage.memory, host.memory)
        level = t.usage_level("memory", pct)
        if level == "ok":
            continue
        yield Finding(
            "HOST-MEMORY-USE",
            LEVEL_SEVERITY[level],
            host_ref(host),
            f"host {host.name} uses {pct:.0f} % of its memory "
            f"({format_bytes(host.usage.memory)} of {format_bytes(host.memory)}): {level}",
            (f"Host.usage.memory={host.usage.memory} B, Host.memory={host.memory} B",),
            "Lower guests' memory or balloon floors, enable KSM, or move a guest to another host.",
        )


RULES = (not_ready, gone, pressure, cordoned, memory_use)
