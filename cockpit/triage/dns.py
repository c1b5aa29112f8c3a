"""Cluster DNS, found the way real clusters name it, and whether it can answer.

k3s and kubeadm both create the Service `kube-system/kube-dns` whose selector
(`k8s-app=kube-dns` on both) picks the CoreDNS pods; its EndpointSlices say which of them
are ready. That is what every pod's /etc/resolv.conf points at, so that is what is looked
at: never a pod name. When the Services are not known, pods or workloads labelled
`k8s-app=kube-dns` in kube-system stand in, and last the Deployment kube-system/coredns
(or kube-dns) by its name, the way both distributions install it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from cockpit.model import Endpoint, LabelSelector, Pod, Service, Snapshot, Workload
from cockpit.triage.finding import Facts, Finding, ObjectRef, plural

NAMESPACE = "kube-system"
SERVICE = "kube-dns"
LABEL = ("k8s-app", "kube-dns")
WORKLOAD_NAMES = ("coredns", "kube-dns")


@dataclass(frozen=True)
class ClusterDns:
    found_by: str  # how it was identified, for the evidence
    service: Service | None = None
    pods: tuple[Pod, ...] = ()
    workloads: tuple[Workload, ...] = ()
    # None when no EndpointSlice of the Service is known (the source does not list them).
    endpoints: tuple[Endpoint, ...] | None = None
    desired: int = field(default=0)

    @property
    def ref(self) -> ObjectRef:
        if self.service is not None:
            return ObjectRef("cluster", "Service", SERVICE, NAMESPACE)
        if self.workloads:
            w = self.workloads[0]
            return ObjectRef("workload", w.kind, w.name, w.namespace)
        return ObjectRef("cluster", "Service", SERVICE, NAMESPACE)

    @property
    def workload_ref(self) -> str:
        """What `cockpit restart` takes: the Deployment behind the Service."""
        w = next((w for w in self.workloads if w.kind == "Deployment"), None)
        return w.ref if w is not None else f"{NAMESPACE}/deployment/coredns"


def _selects(workload: Workload, selector: dict[str, str]) -> bool:
    """Would the Service select this workload's pods? True when every pair the Service asks
    for is fixed by the workload's own selector."""
    labels = workload.selector.match_labels
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _select(s: Snapshot, selector: LabelSelector) -> list[Pod]:
    # kube-system holds a few dozen pods: scanning them beats building the label index of
    # every pod in the cluster.
    return [p for p in s.pods_by_namespace.get(NAMESPACE, ()) if selector.matches(p.labels)]


def find_dns(s: Snapshot) -> ClusterDns | None:
    service = next((x for x in s.services if x.key == (NAMESPACE, SERVICE)), None)
    workloads = [w for w in s.workloads if w.namespace == NAMESPACE]
    if service is not None and service.selector:
        pods = _select(s, LabelSelector(dict(service.selector)))
        found = [w for w in workloads if _selects(w, dict(service.selector))]
        by = "Service kube-system/kube-dns selector " + ",".join(
            f"{k}={v}" for k, v in sorted(service.selector.items())
        )
    else:
        label = {LABEL[0]: LABEL[1]}
        pods = _select(s, LabelSelector(label))
        found = [w for w in workloads if w.labels.get(LABEL[0]) == LABEL[1] or _selects(w, label)]
        by = "label k8s-app=kube-dns in kube-system (no kube-dns Service known)"
        if not pods and not found:
            found = [w for w in workloads if w.kind == "Deployment" and w.name in WORKLOAD_NAMES]
            if not found:
                return None
            by = f"Deployment {found[0].ref} (no kube-dns Service or k8s-app label known)"
            pods = list(s.pods_by_workload.get(found[0].key, ()))
    # The workloads of the pods, when the selector comparison did not name them.
    owners = s.workload_of_pod
    for p in pods:
        key = owners.get(p.key)
        w = s.workload_by_key.get(key) if key else None
        if w is not None and w not in found:
            found.append(w)
    has_slices = any(
        sl.namespace == NAMESPACE and sl.service == SERVICE for sl in s.endpoint_slices
    )
    endpoints = tuple(s.endpoints_of(NAMESPACE, SERVICE)) if has_slices else None
    live = tuple(p for p in pods if p.phase not in ("Succeeded", "Failed"))
    desired = sum(w.replicas for w in found) if found else len(live)
    return ClusterDns(by, service, live, tuple(found), endpoints, desired)


def _dns(f: Facts) -> ClusterDns | None:
    if "dns" not in f.cache:
        f.cache["dns"] = find_dns(f.snapshot)
    return f.cache["dns"]


def serving_replicas(f: Facts, dns: ClusterDns) -> list[str]:
    """Names of the replicas that answer now. From the EndpointSlices when known (an
    endpoint on a node that is down does not count, whatever it still says), else from the
    pods themselves."""
    if dns.endpoints is not None:
        return [
            e.pod or e.address
            for e in dns.endpoints
            if e.ready and not (e.node and (e.node in f.dead_nodes))
        ]
    return [p.name for p in dns.pods if f.pod_serving(p)]


def dns_rules(f: Facts) -> Iterator[Finding]:
    dns = _dns(f)
    s = f.snapshot
    if dns is None:
        if s.services and s.nodes:
            yield Finding(
                "DNS-NOT-FOUND",
                "info",
                ObjectRef("cluster", "Service", SERVICE, NAMESPACE),
                "no cluster DNS found: no Service kube-system/kube-dns, no pod or workload "
                "labelled k8s-app=kube-dns",
                (f"{len(s.services)} Services known",),
                "If the cluster runs another DNS, nothing to do; else deploy CoreDNS.",
            )
        return
    serving = serving_replicas(f, dns)
    evidence = [f"found by {dns.found_by}"]
    if dns.endpoints is not None:
        ready = sum(1 for e in dns.endpoints if e.ready)
        evidence.append(f"EndpointSlices: {ready} of {len(dns.endpoints)} endpoints ready")
    evidence.append(
        "pods: "
        + (", ".join(f"{p.name} on {p.node or 'no node'} ({p.phase})" for p in dns.pods) or "none")
    )
    hosts = {s.host_of_node(p.node) for p in dns.pods if p.node}
    one_host = next(iter(hosts)) if len(hosts) == 1 and len(dns.pods) >= 2 else None
    if not serving:
        if not dns.pods and not dns.workloads:
            why = "the kube-dns Service selects no pod"
            fix = (
                "Deploy CoreDNS again (k3s: restart the server; kubeadm: "
                "kubeadm init phase addon coredns)"
            )
        elif not dns.pods and dns.desired == 0:
            why = f"{dns.workload_ref} is scaled to 0"
            fix = f"cockpit scale {dns.workload_ref} 2"
        else:
            dead = sorted({p.node for p in dns.pods if p.node and f.pod_dead(p)})
            only = "its only replica" if len(dns.pods) == 1 else f"its {len(dns.pods)} replicas"
            if dead:
                why = (
                    f"{only} {'is' if len(dns.pods) == 1 else 'are'} on {', '.join(dead)}, "
                    f"which {'is' if len(dead) == 1 else 'are'} down"
                )
            else:
                why = f"{plural(len(dns.pods), 'replica')}, none ready"
            fix = f"cockpit restart {dns.workload_ref}"
        yield Finding(
            "DNS-NO-ENDPOINT",
            "critical",
            dns.ref,
            f"cluster DNS has no ready endpoint ({why}): name resolution is down for every pod",
            tuple(evidence),
            fix,
        )
    if not serving and (one_host is None or one_host not in f.down_hosts):
        return
    if serving and dns.desired <= 1 and len(serving) <= 1:
        yield Finding(
            "DNS-SINGLE-REPLICA",
            "warning",
            dns.ref,
            f"cluster DNS runs one replica ({serving[0]}): when its node restarts, every "
            "pod loses name resolution (seed 004's outage)",
            tuple(evidence),
            "cockpit scale-ha",
            risk=True,
        )
    elif one_host is not None:
        down = one_host in f.down_hosts
        yield Finding(
            "DNS-ONE-HOST",
            "critical" if down else "warning",
            dns.ref,
            f"every cluster DNS replica runs on physical host {one_host}"
            + (", which is down" if down else ": one reboot of it and no pod resolves names"),
            tuple(evidence),
            "cockpit scale-ha (the plan spreads replicas over hosts), or add a "
            "topologySpreadConstraint on the host's zone label",
            risk=not down,
        )


RULES = (dns_rules,)
