"""Every check over one Snapshot, in one call.

    findings = find_findings(snapshot, now, health=inventory.health())

Pure: a function of the Snapshot, the time, the sources' health and (for "it used to be
direct") an optional previous Snapshot. The rules live by layer: infra (hosts, Proxmox,
guests), nodes, pods (and workloads), network (tailnet), dns, cluster (HPA, PDB, sources,
the engine's static risks). The codes and what Popeye and k8sgpt call the same check are
in cockpit/triage/finding.py (CODES).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Thresholds
from cockpit.model import Snapshot
from cockpit.sources.health import Health
from cockpit.triage import cluster, dns, infra, network, nodes, pods
from cockpit.triage.finding import SEVERITY_ORDER, Facts, Finding

Rule = Callable[[Facts], Iterable[Finding]]
RULES: tuple[Rule, ...] = (
    *infra.RULES,
    *nodes.RULES,
    *pods.RULES,
    *network.RULES,
    *dns.RULES,
    *cluster.RULES,
)
# Risk codes a DNS finding already says better of the cluster DNS workload.
DNS_RISKS = frozenset({"RISK-SINGLE-REPLICA", "RISK-REPLICAS-ONE-NODE", "RISK-REPLICAS-ONE-HOST"})


def facts_of(
    snapshot: Snapshot,
    now: float | None = None,
    health: Mapping[str, Health] | None = None,
    previous: Snapshot | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Facts:
    return Facts(
        snapshot,
        now if now is not None else snapshot.clock,
        dict(health or {}),
        previous,
        thresholds,
    )


def find_findings(
    snapshot: Snapshot,
    now: float | None = None,
    health: Mapping[str, Health] | None = None,
    previous: Snapshot | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    facts: Facts | None = None,
    risks: Sequence[Finding] | None = None,
) -> list[Finding]:
    """Live faults first (critical, warning, info), then the standing risks; `now` defaults
    to the snapshot's clock (ages are unknown when both are 0).

    The engine's static risks change only with the configuration; a caller that refreshes
    often may compute them once (`risk_findings`) and pass them as `risks`."""
    f = facts or facts_of(snapshot, now, health, previous, thresholds)
    rules = RULES if risks is None else tuple(r for r in RULES if r is not cluster.static_risks)
    found = [finding for rule in rules for finding in rule(f)]
    if risks is not None:
        found += risks
    dns_refs = {x.obj.ref for x in found if x.code.startswith("DNS-")}
    cluster_dns = f.cache.get("dns")
    if dns_refs and cluster_dns is not None:
        workloads = {("workload", w.kind, w.name, w.namespace) for w in cluster_dns.workloads}
        found = [
            x
            for x in found
            if not (
                x.code in DNS_RISKS
                and (x.obj.layer, x.obj.kind, x.obj.name, x.obj.namespace) in workloads
            )
        ]
    found.sort(key=lambda x: (x.risk, SEVERITY_ORDER[x.severity], x.code, x.obj.ref, x.text))
    return found


def risk_findings(snapshot: Snapshot) -> list[Finding]:
    """The engine's static risks as findings (cockpit/alloc/risks.py), on their own."""
    return list(cluster.static_risks(facts_of(snapshot)))
