"""Cluster-wide findings: autoscaling without metrics or requests, disruption budgets that
allow nothing, the cockpit's own sources failing, and the allocation engine's static risks
(cockpit/alloc/risks.py) carried over as standing-risk findings."""

from __future__ import annotations

from collections.abc import Iterator

from cockpit.alloc.risks import RULES as RISK_RULES
from cockpit.alloc.risks import Facts as RiskFacts
from cockpit.alloc.risks import Risk
from cockpit.model import Pod
from cockpit.triage.finding import Facts, Finding, ObjectRef, Severity, plural

WORKLOAD_KINDS = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "daemonset": "DaemonSet",
}
# Risks a live rule already reports better (with the state of the moment).
SUPERSEDED = frozenset({"pdb-blocks-drain"})


def metrics_missing(f: Facts) -> Iterator[Finding]:
    s = f.snapshot
    if not s.hpas or s.metrics_available is not False:
        return
    names = ", ".join(f"{h.namespace}/{h.name}" for h in s.hpas[:5])
    yield Finding(
        "METRICS-MISSING",
        "warning",
        ObjectRef("cluster", "APIService", "v1beta1.metrics.k8s.io"),
        f"metrics.k8s.io does not answer but {plural(len(s.hpas), 'HPA')} scale on it "
        f"({names}): they read <unknown> and cannot scale (seed 002)",
        ("metrics.k8s.io unavailable", f"{len(s.hpas)} HorizontalPodAutoscalers"),
        "Check the metrics-server pod in kube-system (kubectl -n kube-system logs "
        "deploy/metrics-server); on k3s it is a packaged add-on.",
    )


def _pods_of_target(f: Facts, namespace: str, kind: str, name: str) -> list[Pod]:
    w = f.snapshot.workload_by_key.get((kind, namespace, name))
    return list(f.snapshot.pods_by_workload.get(w.key, ())) if w is not None else []


def hpa_without_requests(f: Facts) -> Iterator[Finding]:
    for hpa in f.snapshot.hpas:
        pods = _pods_of_target(f, hpa.namespace, hpa.target_kind, hpa.target_name)
        if not pods:
            continue
        sample = pods[0]
        for metric in hpa.metrics:
            if metric.target_utilization is None or metric.resource not in ("cpu", "memory"):
                continue
            missing = [
                c.name for c in sample.containers if getattr(c.requests, metric.resource) is None
            ]
            if not missing:
                continue
            target = f"{hpa.namespace}/{hpa.target_kind.lower()}/{hpa.target_name}"
            yield Finding(
                "HPA-NO-REQUESTS",
                "warning",
                ObjectRef("cluster", "HorizontalPodAutoscaler", hpa.name, hpa.namespace),
                f"HPA {hpa.namespace}/{hpa.name} scales {target} on {metric.resource} "
                f"utilization ({metric.target_utilization} %) but container(s) "
                f"{', '.join(missing)} request no {metric.resource}: utilization is "
                "undefined and the HPA cannot act",
                (f"{sample.name}: resources.requests.{metric.resource} unset",),
                f"Set requests.{metric.resource} on {target}: kubectl -n {hpa.namespace} set "
                f"resources {hpa.target_kind.lower()}/{hpa.target_name} "
                f"--requests={metric.resource}=...",
            )


def pdb_no_disruption(f: Facts) -> Iterator[Finding]:
    s = f.snapshot
    for pdb in s.pdbs:
        pods = [
            p
            for p in s.select_pods(pdb.namespace, pdb.selector)
            if p.phase not in ("Succeeded", "Failed")
        ]
        if not pods:
            continue
        expected = len(pods)
        healthy = sum(1 for p in pods if f.pod_serving(p))
        desired = pdb.desired_healthy(expected)
        allowed = healthy - desired
        if allowed > 0:
            continue
        static = desired >= expected  # zero even when every pod is healthy
        why = (
            "even with every pod healthy"
            if static
            else f"because only {healthy} of {expected} pods are healthy"
        )
        yield Finding(
            "PDB-NO-DISRUPTION",
            "warning",
            ObjectRef("cluster", "PodDisruptionBudget", pdb.name, pdb.namespace),
            f"PodDisruptionBudget {pdb.namespace}/{pdb.name} allows no disruption ({why}; "
            f"needs {desired} healthy): a drain of their nodes waits",
            (f"{healthy} healthy, desiredHealthy={desired}, expected={expected}",),
            f"kubectl -n {pdb.namespace} edit pdb {pdb.name} (maxUnavailable: 1), or bring "
            "the missing pods back first",
            risk=static,
        )


def sources(f: Facts) -> Iterator[Finding]:
    for name, h in sorted(f.health.items()):
        if h.state not in ("stale", "error"):
            continue
        age = ""
        if h.state == "stale" and h.last_ok is not None and f.now:
            age = f" for {int(f.now - h.last_ok)} s"
        # Without Kubernetes there is no cluster to judge: as serious as what it hides.
        severity: Severity = "critical" if name == "kube" and h.state == "error" else "warning"
        yield Finding(
            "SOURCE-DOWN",
            severity,
            ObjectRef("source", "Source", name),
            f"source {name} is {h.state}{age}: {h.reason}; what the cockpit shows of it "
            "is old or missing",
            (f"Health.state={h.state}", f"reason={h.reason}"),
            h.hint or "check the source's address and credentials in the config",
        )


def _risk_object(subject: str) -> ObjectRef:
    if subject.startswith("pod "):
        namespace, _, name = subject[4:].partition("/")
        return ObjectRef("pod", "Pod", name, namespace)
    if subject.startswith("node "):
        return ObjectRef("node", "Node", subject[5:])
    parts = subject.split("/")
    if len(parts) == 3:
        namespace, kind, name = parts
        if kind == "pdb":
            return ObjectRef("cluster", "PodDisruptionBudget", name, namespace)
        return ObjectRef("workload", WORKLOAD_KINDS.get(kind, kind.capitalize()), name, namespace)
    return ObjectRef("cluster", "Cluster", subject)


def risk_finding(risk: Risk) -> Finding:
    return Finding(
        "RISK-" + risk.code.upper(),
        risk.severity,
        _risk_object(risk.subject),
        risk.message,
        (f"cockpit/alloc/risks.py rule {risk.code}",),
        risk.fix,
        risk=True,
    )


def static_risks(f: Facts) -> Iterator[Finding]:
    facts = RiskFacts.of(f.snapshot)
    for rule in RISK_RULES:
        for risk in rule(facts):
            if risk.code not in SUPERSEDED:
                yield risk_finding(risk)


RULES = (metrics_missing, hpa_without_requests, pdb_no_disruption, sources, static_risks)
