"""Server-side printing: the meta.k8s.io Table that `kubectl get` asks for, with the columns
a real apiserver prints for nodes, pods and workloads (NAME and AGE for the rest)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Column = tuple[str, str, int]  # name, type, priority (1: only with -o wide)


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery's duration.HumanDuration, which kubectl's AGE column uses."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def _age(obj: dict, now: float) -> str:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return "<unknown>"
    ts = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return human_duration(now - ts)


def _node_row(o: dict, now: float) -> list[Any]:
    status = o.get("status", {})
    ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
    state = {"True": "Ready", "False": "NotReady"}.get(ready.get("status"), "NotReady")
    if o.get("spec", {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = o["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    info = status.get("nodeInfo", {})
    internal = next(
        (a["address"] for a in status.get("addresses", []) if a.get("type") == "InternalIP"),
        "<none>",
    )
    return [
        o["metadata"]["name"],
        state,
        ",".join(roles) or "<none>",
        _age(o, now),
        info.get("kubeletVersion", ""),
        internal,
        "<none>",
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def pod_status(o: dict) -> str:
    """The STATUS column: the reason a person cares about, not just the phase."""
    status = o.get("status", {})
    if o["metadata"].get("deletionTimestamp"):
        return "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    for cs in status.get("containerStatuses") or []:
        waiting = cs.get("state", {}).get("waiting")
        if waiting and waiting.get("reason"):
            return waiting["reason"]
        terminated = cs.get("state", {}).get("terminated")
        if terminated and terminated.get("reason"):
            return terminated["reason"]
    return status.get("reason") or status.get("phase", "Unknown")


def _pod_row(o: dict, now: float) -> list[Any]:
    status = o.get("status", {})
    statuses = status.get("containerStatuses") or []
    total = len(o.get("spec", {}).get("containers", []))
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(cs.get("restartCount", 0) for cs in statuses)
    return [
        o["metadata"]["name"],
        f"{ready}/{total}",
        pod_status(o),
        restarts,
        _age(o, now),
        status.get("podIP", "<none>"),
        o.get("spec", {}).get("nodeName", "<none>"),
        "<none>",
        "<none>",
    ]


def _deployment_row(o: dict, now: float) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    containers = spec.get("template", {}).get("spec", {}).get("containers", [])
    selector = spec.get("selector", {}).get("matchLabels", {})
    return [
        o["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(o, now),
        ",".join(c["name"] for c in containers),
        ",".join(c.get("image", "") for c in containers),
        ",".join(f"{k}={v}" for k, v in selector.items()),
    ]


def _statefulset_row(o: dict, now: float) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    return [
        o["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        _age(o, now),
    ]


def _daemonset_row(o: dict, now: float) -> list[Any]:
    s = o.get("status", {})
    selector = o.get("spec", {}).get("template", {}).get("spec", {}).get("nodeSelector", {})
    return [
        o["metadata"]["name"],
        s.get("desiredNumberScheduled", 0),
        s.get("currentNumberScheduled", 0),
        s.get("numberReady", 0),
        s.get("updatedNumberScheduled", 0),
        s.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in selector.items()) or "<none>",
        _age(o, now),
    ]


def _since(stamp: str | None, now: float) -> str:
    if not stamp:
        return "<unknown>"
    ts = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return human_duration(now - ts)


def _event_row(o: dict, now: float) -> list[Any]:
    """The event printer's columns: the object as kind/name, the newest time first."""
    involved = o.get("involvedObject", {})
    source = o.get("source", {})
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    first = o.get("firstTimestamp") or last
    return [
        _since(last, now),
        o.get("type", ""),
        o.get("reason", ""),
        f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        ", ".join(v for v in (source.get("component"), source.get("host")) if v),
        o.get("message", ""),
        _since(first, now),
        o.get("count", 1),
        o["metadata"]["name"],
    ]


def _service_row(o: dict, now: float) -> list[Any]:
    spec = o.get("spec", {})
    ports = ",".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", []))
    selector = spec.get("selector") or {}
    return [
        o["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "<none>"),
        "<none>",
        ports or "<none>",
        _age(o, now),
        ",".join(f"{k}={v}" for k, v in selector.items()) or "<none>",
    ]


def _endpointslice_row(o: dict, now: float) -> list[Any]:
    """ENDPOINTS lists the ready addresses, as the real printer does (at most three)."""
    ready = [
        a
        for e in o.get("endpoints") or []
        if (e.get("conditions") or {}).get("ready", True) is not False
        for a in e.get("addresses", [])
    ]
    shown = ",".join(ready[:3]) + (f" + {len(ready) - 3} more..." if len(ready) > 3 else "")
    ports = ",".join(str(p.get("port", "")) for p in o.get("ports") or [])
    return [o["metadata"]["name"], o.get("addressType", ""), ports or "<unset>",
            shown or "<unset>", _age(o, now)]  # fmt: skip


def _hpa_row(o: dict, now: float) -> list[Any]:
    """TARGETS as kubectl prints it: "cpu: 45%/70%", "<unknown>" for a metric the
    metrics API did not answer."""
    spec, status = o.get("spec", {}), o.get("status", {})
    ref = spec.get("scaleTargetRef", {})
    current = {
        m.get("resource", {}).get("name"): m.get("resource", {}).get("current", {})
        for m in status.get("currentMetrics") or []
        if m.get("type") == "Resource"
    }
    targets = []
    for m in spec.get("metrics") or []:
        if m.get("type") != "Resource":
            continue
        name = m["resource"]["name"]
        want = m["resource"].get("target", {}).get("averageUtilization")
        have = current.get(name, {}).get("averageUtilization")
        have_text = "<unknown>" if have is None else f"{have}%"
        targets.append(f"{name}: {have_text}/{want}%")
    return [
        o["metadata"]["name"],
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        ", ".join(targets) or "<none>",
        spec.get("minReplicas", 1),
        spec.get("maxReplicas", 0),
        status.get("currentReplicas", 0),
        _age(o, now),
    ]


def _default_row(o: dict, now: float) -> list[Any]:
    return [o["metadata"]["name"], _age(o, now)]


PRINTERS: dict[str, tuple[list[Column], Callable[[dict, float], list[Any]]]] = {
    "nodes": (
        [
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        _node_row,
    ),
    "pods": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "integer", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        _pod_row,
    ),
    "deployments": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _deployment_row,
    ),
    "events": (
        [
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ],
        _event_row,
    ),
    "services": (
        [
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        _service_row,
    ),
    "endpointslices": (
        [
            ("Name", "string", 0),
            ("AddressType", "string", 0),
            ("Ports", "string", 0),
            ("Endpoints", "string", 0),
            ("Age", "string", 0),
        ],
        _endpointslice_row,
    ),
    "horizontalpodautoscalers": (
        [
            ("Name", "string", 0),
            ("Reference", "string", 0),
            ("Targets", "string", 0),
            ("MinPods", "string", 0),
            ("MaxPods", "string", 0),
            ("Replicas", "string", 0),
            ("Age", "string", 0),
        ],
        _hpa_row,
    ),
    "statefulsets": (
        [("Name", "string", 0), ("Ready", "string", 0), ("Age", "string", 0)],
        _statefulset_row,
    ),
    "daemonsets": (
        [
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Node Selector", "string", 0),
            ("Age", "string", 0),
        ],
        _daemonset_row,
    ),
}


def table(plural: str, items: list[dict], meta: dict, now: float, wide: bool = False) -> dict:
    columns, row = PRINTERS.get(
        plural, ([("Name", "string", 0), ("Age", "string", 0)], _default_row)
    )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": [
            {
                "name": n,
                "type": t,
                "format": "name" if n == "Name" else "",
                "description": "",
                "priority": p,
            }
            for n, t, p in columns
        ],
        "rows": [{"cells": row(o, now), "object": o} for o in items],
    }
