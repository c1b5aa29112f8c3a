"""The stable JSON forms of the plan and what-if reports (documented in docs/json.md).

Every document carries a "schema" name with a version; fields are only ever added within a
version. Bytes are integers in bytes, CPU integers in millicores, ratios and percentages
floats rounded to 4 and 2 decimals so that output is stable across platforms.
"""

from __future__ import annotations

from typing import Any

from cockpit.alloc.ledger import HostLedger, HostRollup, Ledger, NodeLedger, PodSums, Ratio
from cockpit.alloc.risks import Risk
from cockpit.alloc.thresholds import Thresholds
from cockpit.alloc.whatif import WhatIfReport
from cockpit.labfile import Lab
from cockpit.model import Pod, workload_key_of

PLAN_SCHEMA = "cockpit.plan/1"
WHATIF_SCHEMA = "cockpit.whatif/1"


def _r(value: float | None, digits: int = 4) -> float | None:
    if value is None:
        return None
    if value in (float("inf"), float("-inf")) or value != value:
        return None  # JSON has no infinity or NaN: null, like an unknown ratio
    return round(value, digits)


def ratio(r: Ratio) -> dict[str, Any]:
    return {
        "physical": r.physical,
        "allocated": r.allocated,
        "ratio": _r(r.ratio),
        "verdict": r.verdict,
    }


def thresholds(t: Thresholds) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for group in ("cpu_ratio", "memory_ratio", "disk_ratio"):
        bands = getattr(t, group)
        out[group] = {n: getattr(bands, n) for n in ("ample", "safe", "balanced", "tight")}
    for group in ("cpu_usage", "memory_usage", "disk_usage"):
        levels = getattr(t, group)
        out[group] = {n: getattr(levels, n) for n in ("caution", "warning", "critical")}
    return out


def pod_sums(s: PodSums) -> dict[str, Any]:
    return {
        "pods": s.pods,
        "requests": {"cpu_millicores": s.requests_cpu, "memory_bytes": s.requests_memory},
        "limits": {
            "cpu_millicores": s.limits_cpu,
            "memory_bytes": s.limits_memory,
            "pods_without_memory_limit": s.unlimited_memory,
        },
        "used": None
        if s.used_memory is None and s.used_cpu is None
        else {"cpu_millicores": s.used_cpu, "memory_bytes": s.used_memory},
        "normal": {"cpu_millicores": s.normal_cpu, "memory_bytes": s.normal_memory},
        "peak": {"cpu_millicores": s.peak_cpu, "memory_bytes": s.peak_memory},
    }


def host(h: HostLedger) -> dict[str, Any]:
    return {
        "name": h.host.name,
        "site": h.host.site,
        "arch": h.host.arch,
        "cpu_model": h.host.cpu_model,
        "cores": h.host.cores,
        "threads": h.host.threads,
        "memory_bytes": h.host.memory,
        "disk_bytes": h.host.disk,
        "guests": h.guests,
        "running_guests": h.running,
        "cpu": ratio(h.cpu),
        "memory": ratio(h.memory),
        "memory_min": ratio(h.memory_min),
        "disk": ratio(h.disk),
        "running_cpu": ratio(h.running_cpu),
        "running_memory": ratio(h.running_memory),
        "memory_used_percent": _r(h.used_memory_percent, 2),
        "memory_level": h.memory_level,
    }


def node(n: NodeLedger) -> dict[str, Any]:
    return {
        "name": n.name,
        "host": n.host,
        "site": n.site,
        "ready": n.ready,
        "unschedulable": n.unschedulable,
        "allocatable": {
            "cpu_millicores": n.allocatable_cpu,
            "memory_bytes": n.allocatable_memory,
            "pods": n.allocatable_pods,
        },
        **pod_sums(n.sums),
        "requests_cpu_percent": _r(n.requests_cpu_percent, 2),
        "requests_memory_percent": _r(n.requests_memory_percent, 2),
        "limits_memory": ratio(n.limits_memory),
        "peak_memory_percent": _r(n.peak_memory_percent, 2),
        "peak_memory_level": n.peak_memory_level,
        "used_memory_percent": _r(n.used_memory_percent, 2),
        "used_memory_level": n.used_memory_level,
        "used_cpu_percent": _r(n.used_cpu_percent, 2),
    }


def rollup(r: HostRollup) -> dict[str, Any]:
    return {
        "host": r.host,
        "nodes": list(r.nodes),
        "threads": r.threads,
        "memory_bytes": r.memory,
        **pod_sums(r.sums),
        "requests_cpu": ratio(r.requests_cpu),
        "requests_memory": ratio(r.requests_memory),
        "limits_memory": ratio(r.limits_memory),
        "peak_memory": ratio(r.peak_memory),
        "peak_memory_level": r.peak_memory_level,
    }


def risk(r: Risk) -> dict[str, Any]:
    return {
        "code": r.code,
        "severity": r.severity,
        "subject": r.subject,
        "message": r.message,
        "fix": r.fix,
    }


def plan(lab: Lab, ledger: Ledger, risks: list[Risk]) -> dict[str, Any]:
    t = ledger.totals
    return {
        "schema": PLAN_SCHEMA,
        "lab": {"name": lab.name, "description": lab.description, "source": lab.source},
        "thresholds": thresholds(ledger.thresholds),
        "hosts": [host(h) for h in ledger.hosts],
        "nodes": [node(n) for n in ledger.nodes],
        "rollups": [rollup(r) for r in ledger.rollups],
        "totals": {
            "threads": t.threads,
            "memory_bytes": t.memory,
            "disk_bytes": t.disk,
            "guest_vcpus": t.guest_vcpus,
            "guest_memory_bytes": t.guest_memory,
            "guest_disk_bytes": t.guest_disk,
            "allocatable_cpu_millicores": t.allocatable_cpu,
            "allocatable_memory_bytes": t.allocatable_memory,
            **pod_sums(t.pods),
            "cpu": ratio(t.cpu),
            "memory": ratio(t.memory_ratio),
            "disk": ratio(t.disk_ratio),
        },
        "unbacked_nodes": list(ledger.unbacked_nodes),
        "risks": [risk(r) for r in risks],
    }


def _pod_ref(pod: Pod) -> dict[str, Any]:
    key = workload_key_of(pod)
    return {
        "namespace": pod.namespace,
        "pod": pod.name,
        "workload": f"{key[1]}/{key[0].lower()}/{key[2]}" if key else None,
        "priority_class": pod.priority_class,
        "priority": pod.priority,
        "requests": {
            "cpu_millicores": pod.requests.cpu or 0,
            "memory_bytes": pod.requests.memory or 0,
        },
    }


def whatif(lab: Lab, report: WhatIfReport) -> dict[str, Any]:
    s = report.scenario
    return {
        "schema": WHATIF_SCHEMA,
        "lab": {"name": lab.name, "source": lab.source},
        "scenario": {"kind": s.kind, "target": s.target, "description": s.describe()},
        "affected_nodes": list(report.affected_nodes),
        "moves": [
            {
                **_pod_ref(m.pod),
                "from": m.source,
                "to": m.target,
                "pending_reason": m.reason or None,
                "note": m.note or None,
            }
            for m in report.moves
        ],
        "preempted": [
            {**_pod_ref(p.victim), "node": p.node, "by": f"{p.by.namespace}/{p.by.name}"}
            for p in report.preempted
        ],
        "not_moved": [{**_pod_ref(p), "why": why} for p, why in report.stays],
        "blocked": [{**_pod_ref(p), "pdb": ref} for p, ref in report.blocked],
        "drain_blocked": report.drain_blocked,
        "control_plane_down": report.control_plane_down,
        "lost": [{**_pod_ref(p), "why": why} for p, why in report.lost],
        "nodes": [
            {
                "name": n.name,
                "lost": n.lost,
                "allocatable": {
                    "cpu_millicores": n.allocatable_cpu,
                    "memory_bytes": n.allocatable_memory,
                },
                "requests_before": {
                    "cpu_millicores": n.requests_cpu_before,
                    "memory_bytes": n.requests_memory_before,
                },
                "requests_after": {
                    "cpu_millicores": n.requests_cpu_after,
                    "memory_bytes": n.requests_memory_after,
                },
                "requests_memory_percent": _r(n.requests_memory_percent, 2),
                "peak_memory_bytes": n.peak_memory_after,
                "peak_memory_percent": _r(n.peak_memory_percent, 2),
                "peak_memory_level": n.peak_memory_level,
            }
            for n in report.nodes
        ],
        "pdbs": [
            {
                "namespace": p.namespace,
                "name": p.name,
                "expected": p.expected,
                "desired_healthy": p.desired_healthy,
                "healthy_before": p.healthy_before,
                "healthy_during": p.healthy_during,
                "healthy_after": p.healthy_after,
                "disrupted": p.disrupted,
                "violated": p.violated,
            }
            for p in report.pdbs
        ],
        "workloads": [
            {
                "ref": w.ref,
                "replicas": w.replicas,
                "ready_before": w.ready_before,
                "ready_during": w.ready_during,
                "ready_after": w.ready_after,
                "outage": w.outage,
                "stays_down": w.stays_down,
            }
            for w in report.workloads
        ],
        "notes": list(report.notes),
    }
