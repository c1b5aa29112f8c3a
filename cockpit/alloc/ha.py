"""How many replicas each Deployment of a namespace should run for HA, and what else HA
needs that scaling alone does not give. Pure: one Snapshot and its Links in, dataclasses out.

The proposal rule (per Deployment, never lower than what runs now):

* 1 (leave it) when fewer than two Ready, uncordoned nodes can run its pods (taints, node
  selection): a second replica would share the first one's fate, so scaling buys nothing;
* 3 when at least three such nodes sit on at least three physical machines: one box down
  and one drained for maintenance still leaves a replica, and three is what CoreDNS's own
  autoscaler ladder and most HA charts start at;
* 2 otherwise: two nodes, or several VMs of fewer than three boxes. A third replica on a
  box that already holds one adds little against that box's loss, while it costs memory
  on the small machines homelabs run.

The count is then capped by what fits: never more than the number of those nodes that
have room for one more replica (or already hold one), and the extra replicas are placed
with the scheduler model (cockpit.alloc.scheduler) in the cluster as it is, each
Deployment's on top of the previous ones', so a replica that would stay Pending is never
proposed. Known singletons keep their count: a Deployment with strategy Recreate (it asks
for one pod at a time), one that mounts a PersistentVolumeClaim (the model does not know
the access mode; local-path and most homelab volumes are ReadWriteOnce and a second pod on
another node cannot attach them), and local-path-provisioner, which runs no leader election,
so two copies race over the same claims. metrics-server is capped at 2, as its upstream
high-availability manifest is.

What scaling does not give is said as Findings: nothing keeping replicas on different nodes
(no required anti-affinity or DoNotSchedule spread on the hostname), no PodDisruptionBudget
or one that allows no disruption, replicas that would sit on VMs of the same physical box or
at one site, single-node clusters, and the distribution's own caveats (k3s re-applies its
packaged manifests; Helm owns chart-made Deployments).

The distro is taken as given, else inferred from the snapshot (see infer_distro): the
model has no kubelet version, so the evidence is what k3s and kubeadm leave behind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from cockpit.alloc.risks import PdbIndex
from cockpit.alloc.scheduler import HOSTNAME, Preemption, Scheduler
from cockpit.model import Node, Pdb, Pod, Snapshot, Workload
from cockpit.topology import Links

ZONE = "topology.kubernetes.io/zone"
METRICS_SERVER_MAX = 2
BIG_CLUSTER_NODES = 3
BIG_CLUSTER_HOSTS = 3
K3S_MANIFESTS = "/var/lib/rancher/k3s/server/manifests"
K3S_PACKAGED = frozenset({"coredns", "local-path-provisioner", "metrics-server", "traefik"})
RULE = (
    "at least 2 replicas where two or more nodes can run the pods; 3 when three or more such "
    "nodes sit on three or more physical machines; never more than the nodes with room for "
    "one, never fewer than now; singletons keep their count"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the operator should know. kind is stable, for tests and the UI:
    same-box, same-node, one-site, no-spread, no-pdb, pdb-blocks, no-fit, preempts,
    singleton, single-node, zero, no-pods, k3s, helm, metrics-server."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Placement:
    pod: str  # an existing pod's name, or "new replica N"
    node: str
    new: bool = False


@dataclass(frozen=True)
class DeploymentHA:
    workload: Workload
    current: int
    proposed: int
    placement: tuple[Placement, ...]  # every replica once scaled, existing ones first
    eligible_nodes: tuple[str, ...]  # Ready, uncordoned nodes its pods may run on
    findings: tuple[Finding, ...]
    pdbs: tuple[Pdb, ...] = ()

    @property
    def name(self) -> str:
        return self.workload.name

    @property
    def changes(self) -> bool:
        return self.proposed != self.current

    @property
    def new_nodes(self) -> tuple[str, ...]:
        return tuple(p.node for p in self.placement if p.new)

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}


@dataclass(frozen=True)
class HaReport:
    namespace: str
    distro: str  # "k3s", "kubeadm" or "unknown"
    distro_evidence: str
    rule: str
    deployments: tuple[DeploymentHA, ...]
    notes: tuple[Finding, ...]  # about the cluster as a whole

    def deployment(self, name: str) -> DeploymentHA:
        for d in self.deployments:
            if d.name == name:
                return d
        raise KeyError(name)

    @property
    def changing(self) -> list[DeploymentHA]:
        return [d for d in self.deployments if d.changes]


# --- where things run ---------------------------------------------------------------------


class Layout:
    """Node -> physical host and site, from the Links (else the snapshot's own backing)."""

    def __init__(self, snapshot: Snapshot, links: Links | None) -> None:
        self.snapshot = snapshot
        self.backing = dict(snapshot.backing)
        if links is not None:
            self.backing.update(links.backing)

    def host(self, node: str) -> str | None:
        b = self.backing.get(node)
        return b.host if b is not None else None

    def is_vm(self, node: str) -> bool:
        b = self.backing.get(node)
        return b is not None and b.vmid is not None

    def box(self, node: str) -> str:
        """The machine a node dies with; an unlinked node counts as its own."""
        return self.host(node) or f"node {node}"

    def site(self, node: str) -> str:
        host = self.snapshot.host_by_name.get(self.host(node) or "")
        if host is not None and host.site:
            return host.site
        n = self.snapshot.node_by_name.get(node)
        return n.labels.get(ZONE, "") if n is not None else ""


def schedulable(node: Node) -> bool:
    return node.ready and not node.unschedulable


# --- the distro ---------------------------------------------------------------------------


def infer_distro(snapshot: Snapshot, server_version: str = "") -> tuple[str, str]:
    """("k3s" | "kubeadm" | "unknown", the evidence in words).

    kubeadm runs the control plane as static pods, so mirror pods named kube-apiserver-* are
    decisive. k3s runs it inside its own process and leaves: "+k3s" in the server version,
    k3s:// providerIDs, role labels set to "true" (kubeadm sets them empty), rancher/ images
    and local-path-provisioner in kube-system, svclb-* DaemonSets.
    """
    apiservers = [
        p.name
        for p in snapshot.pods_by_namespace.get("kube-system", ())
        if p.is_mirror and p.name.startswith("kube-apiserver")
    ]
    if apiservers:
        return "kubeadm", f"control plane runs as static pods ({apiservers[0]})"
    evidence: list[str] = []
    if "+k3s" in server_version:
        evidence.append(f"server version {server_version}")
    if any(n.provider_id.startswith("k3s://") for n in snapshot.nodes):
        evidence.append("k3s:// providerIDs")
    roles = [
        v
        for n in snapshot.nodes
        for k, v in n.labels.items()
        if k.startswith("node-role.kubernetes.io/")
    ]
    if roles and all(v == "true" for v in roles):
        evidence.append('node role labels set to "true"')
    system = snapshot.pods_by_namespace.get("kube-system", ())
    if any(c.image.startswith("rancher/") for p in system for c in p.containers):
        evidence.append("rancher/ images in kube-system")
    names = {w.name for w in snapshot.workloads if w.namespace == "kube-system"}
    if "local-path-provisioner" in names:
        evidence.append("local-path-provisioner in kube-system")
    if any(n.startswith("svclb-") for n in names):
        evidence.append("svclb DaemonSets")
    if len(evidence) >= 2 or (evidence and "server version" in evidence[0]):
        return "k3s", ", ".join(evidence)
    if roles and all(v == "" for v in roles):
        return "kubeadm", 'node role labels set to ""'
    return "unknown", "no distribution-specific marks found"


# --- the analysis -------------------------------------------------------------------------


def analyse(
    snapshot: Snapshot,
    links: Links | None = None,
    namespace: str = "kube-system",
    distro: str | None = None,
    strategies: Mapping[str, str] | None = None,
    server_version: str = "",
) -> HaReport:
    """The HA plan for every Deployment of `namespace`. `strategies` maps a Deployment's name
    to its strategy type when the caller read it from the API (the model does not carry it).
    """
    layout = Layout(snapshot, links)
    if distro is None:
        distro, evidence = infer_distro(snapshot, server_version)
    else:
        evidence = "as configured"
    strategies = strategies or {}
    scheduler = Scheduler(snapshot.nodes, [p for p in snapshot.pods if p.node is not None])
    pdbs = PdbIndex(snapshot.pdbs)
    deployments = sorted(
        (w for w in snapshot.workloads if w.kind == "Deployment" and w.namespace == namespace),
        key=lambda w: w.name,
    )
    out = [
        _deployment(snapshot, layout, scheduler, pdbs, w, distro, strategies.get(w.name, ""))
        for w in deployments
    ]
    return HaReport(
        namespace, distro, evidence, RULE, tuple(out), _notes(snapshot, layout, distro, namespace)
    )


def _deployment(
    snapshot: Snapshot,
    layout: Layout,
    scheduler: Scheduler,
    pdb_index: PdbIndex,
    w: Workload,
    distro: str,
    strategy: str,
) -> DeploymentHA:
    name = w.name
    current = w.replicas
    pods = sorted(
        (p for p in snapshot.pods_by_workload.get(w.key, ()) if p.node is not None),
        key=lambda p: p.name,
    )
    findings: list[Finding] = []
    findings += _distro_findings(w, distro)
    if current == 0:
        findings.append(Finding("zero", f"{name} is scaled to 0, on purpose it seems: left as is"))
        return DeploymentHA(w, 0, 0, (), (), tuple(findings))
    if not pods:
        findings.append(
            Finding(
                "no-pods",
                f"no running pod of {name} is known, so nothing says where more would fit: "
                "left as is",
            )
        )
        return DeploymentHA(w, current, current, (), (), tuple(findings))
    template = pods[0]
    eligible = [
        n.name
        for n in snapshot.nodes
        if schedulable(n) and scheduler.static_reason(template, scheduler.states[n.name]) is None
    ]
    covering = tuple(pdb_index.matching(w.namespace, template.labels))
    singleton = _singleton(w, template, strategy)
    target = _target(eligible, layout)
    if name == "metrics-server":
        target = min(target, METRICS_SERVER_MAX)
    cpu, memory = scheduler.requests_of(template)
    holding = {p.node for p in pods}
    roomy = [n for n in eligible if n in holding or not scheduler.states[n].fits(cpu, memory)]
    proposed = current
    if singleton:
        findings.append(Finding("singleton", singleton))
    elif len(eligible) < 2:
        where = f"only {eligible[0]} can" if eligible else "no Ready node can"
        findings.append(
            Finding(
                "single-node",
                f"{where} run {name}: a second replica would share its fate, so scaling "
                "gives nothing; HA needs another node that can run it",
            )
        )
    else:
        proposed = max(current, min(target, len(roomy)))
        if proposed < target and current < target:
            findings.append(
                Finding(
                    "no-fit",
                    f"only {len(roomy)} of the {len(eligible)} nodes that may run {name} "
                    f"have room for a replica ({_names(roomy)}): proposing {proposed}",
                )
            )
    placement = [Placement(p.name, p.node or "") for p in pods]
    if proposed > current:
        extra = place_more(scheduler, template, proposed - current)
        placement += [
            Placement(f"new replica {i + 1}", node, new=True)
            for i, node in enumerate(extra.nodes)
            if node is not None
        ]
        if extra.pending:
            proposed -= len(extra.pending)
            findings.append(
                Finding(
                    "no-fit",
                    f"{len(extra.pending)} more {name} replica(s) would stay Pending "
                    f"({extra.pending[0]}): proposing {proposed}",
                )
            )
        findings += [
            Finding(
                "preempts",
                f"a new {name} replica would preempt {pre.victim.namespace}/{pre.victim.name} "
                f"on {pre.node} (it has a higher priority)",
            )
            for pre in extra.preempted
        ]
    total = len(placement)
    if max(total, proposed) >= 2:
        findings += placement_findings(name, placement, eligible, layout)
        findings += _spread_findings(name, template)
        findings += _pdb_findings(name, covering, proposed)
    return DeploymentHA(
        w, current, proposed, tuple(placement), tuple(eligible), tuple(findings), covering
    )


@dataclass(frozen=True)
class Extra:
    """Where `count` more pods like a template would go, in order; None for one that would
    stay Pending (its reason in pending), and what placing them would preempt."""

    nodes: tuple[str | None, ...]
    pending: tuple[str, ...]
    preempted: tuple[Preemption, ...]


def place_more(scheduler: Scheduler, template: Pod, count: int) -> Extra:
    """Place `count` copies of `template` (new pods of its owner) with the scheduler model,
    binding them, so later placements see the room they take."""
    clones = [
        replace(
            template,
            name=f"{template.name}-new-{i + 1}",
            uid="",
            node=None,
            phase="Pending",
            created=template.created + 1e9 + i,  # after every pod that exists
        )
        for i in range(count)
    ]
    result = scheduler.run(clones)
    return Extra(
        tuple(result.placed.get(c.key) for c in clones),
        tuple(result.pending[c.key] for c in clones if c.key in result.pending),
        tuple(result.preempted),
    )


def _target(eligible: Sequence[str], layout: Layout) -> int:
    if len(eligible) < 2:
        return 1
    boxes = {layout.box(n) for n in eligible}
    if len(eligible) >= BIG_CLUSTER_NODES and len(boxes) >= BIG_CLUSTER_HOSTS:
        return 3
    return 2


def _singleton(w: Workload, template: Pod, strategy: str) -> str:
    """Why this Deployment must keep its count, or ""."""
    if w.name == "local-path-provisioner":
        return (
            "local-path-provisioner runs without leader election: two copies would race over "
            "the same claims, and a local-path volume dies with its node anyway; keep 1"
        )
    if strategy == "Recreate":
        return (
            f"{w.name} uses strategy Recreate, which says only one pod may run at a time: "
            "keep its count"
        )
    if "persistentVolumeClaim" in template.volume_kinds:
        return (
            f"{w.name} mounts a PersistentVolumeClaim; if it is ReadWriteOnce (local-path "
            "volumes always are) a second pod on another node cannot attach it: keep its count"
        )
    return ""


def placement_findings(
    name: str, placement: Sequence[Placement], eligible: Sequence[str], layout: Layout
) -> list[Finding]:
    out: list[Finding] = []
    total = len(placement)
    per_node = Counter(p.node for p in placement)
    for node, count in sorted(per_node.items()):
        if count >= 2:
            out.append(
                Finding(
                    "same-node",
                    f"{_share(count, total)} {name} replicas would sit on node {node}: "
                    f"losing it leaves {total - count}",
                )
            )
    nodes_by_box: dict[str, set[str]] = {}
    for p in placement:
        nodes_by_box.setdefault(layout.box(p.node), set()).add(p.node)
    per_box = Counter(layout.box(p.node) for p in placement)
    eligible_boxes = sorted({layout.box(n) for n in eligible})
    for box, count in sorted(per_box.items()):
        nodes = sorted(nodes_by_box[box])
        if count < 2 or len(nodes) < 2 or layout.host(nodes[0]) is None:
            continue  # one node: the same-node finding says it
        kind = "VMs" if all(layout.is_vm(n) for n in nodes) else "nodes"
        text = (
            f"{_share(count, total)} {name} replicas would sit on {kind} of the same box "
            f"{box} ({', '.join(nodes)}): losing {box} "
            + (f"leaves {total - count}" if count < total else "takes them all")
        )
        others = [b for b in eligible_boxes if b != box]
        if others:
            text += (
                f"; {_names(others)} can run it too: spread on {ZONE} (or a label naming the "
                "physical host) so the scheduler keeps them apart"
            )
        else:
            text += f"; every node that can run it is on {box}: that needs a second machine"
        out.append(Finding("same-box", text))
    sites = {layout.site(n) for n in eligible} - {""}
    used = {layout.site(p.node) for p in placement}
    if len(sites) >= 2 and len(used) == 1 and "" not in used:
        site = next(iter(used))
        out.append(
            Finding(
                "one-site",
                f"every {name} replica would be at site {site} although nodes at "
                f"{_names(sorted(sites - {site}))} can run it: spread on {ZONE}",
            )
        )
    return out


def _spread_findings(name: str, template: Pod) -> list[Finding]:
    kept_apart = any(
        t.topology_key == HOSTNAME and t.selector.matches(template.labels)
        for t in template.anti_affinity
    ) or any(
        c.topology_key == HOSTNAME
        and c.when_unsatisfiable == "DoNotSchedule"
        and c.selector.matches(template.labels)
        for c in template.spread
    )
    if kept_apart:
        return []
    return [
        Finding(
            "no-spread",
            f"nothing keeps {name} replicas on different nodes (no required pod "
            "anti-affinity or DoNotSchedule topology spread on kubernetes.io/hostname): the "
            "scheduler only prefers to spread them; add a topologySpreadConstraint",
        )
    ]


def _pdb_findings(name: str, covering: Sequence[Pdb], replicas: int) -> list[Finding]:
    if not covering:
        return [
            Finding(
                "no-pdb",
                f"no PodDisruptionBudget covers {name}: a drain may evict every replica at "
                "once; add one with maxUnavailable 1",
            )
        ]
    out = []
    for pdb in covering:
        if pdb.desired_healthy(replicas) >= replicas:
            out.append(
                Finding(
                    "pdb-blocks",
                    f"PDB {pdb.name} allows no disruption at {replicas} replicas: a drain of a "
                    f"node holding {name} would wait forever",
                )
            )
    return out


def _distro_findings(w: Workload, distro: str) -> list[Finding]:
    out = []
    helm = w.labels.get("app.kubernetes.io/managed-by") == "Helm" or (
        "meta.helm.sh/release-name" in w.annotations
    )
    if distro == "k3s" and w.namespace == "kube-system" and w.name in K3S_PACKAGED:
        out.append(Finding("k3s", K3S_CAVEATS[w.name]))
    elif helm:
        release = w.annotations.get("meta.helm.sh/release-name", w.name)
        out.append(
            Finding(
                "helm",
                f"{w.name} belongs to Helm release {release}: the next upgrade sets replicas "
                "back to the chart's value; set it in the release's values too",
            )
        )
    if w.name == "metrics-server":
        out.append(
            Finding(
                "metrics-server",
                "metrics-server runs fine as 2 (its upstream high-availability manifest does) "
                "with required pod anti-affinity on the hostname and a PDB; for the API "
                "server to balance between them, enable --enable-aggregator-routing=true on "
                "kube-apiserver",
            )
        )
    return out


# From k3s' docs (packaged components, auto-deploying manifests), its manifests and k3s issue
# #1606: the deploy controller applies the files "in a manner similar to kubectl apply" at
# every start, so what a manifest sets comes back and what it leaves out is left alone.
K3S_CAVEATS = {
    "coredns": (
        f"k3s re-applies its packaged coredns manifest from {K3S_MANIFESTS} at every start: "
        "recent releases leave replicas out of it, so a scaled count survives (older ones "
        "could reset it to 1), but what the manifest sets (strategy, tolerations, topology "
        "spread) is put back; keep additions in objects of your own (a PDB is one), or start "
        "k3s with --disable coredns and deploy your own manifest"
    ),
    "local-path-provisioner": (
        f"k3s re-applies local-storage.yaml from {K3S_MANIFESTS} at every start, and it "
        "pins replicas: 1"
    ),
    "metrics-server": (
        f"k3s re-applies its packaged metrics-server manifest from {K3S_MANIFESTS} at every "
        "start: what it sets is put back; for a lasting HA setup start k3s with --disable "
        "metrics-server and deploy your own (e.g. the upstream high-availability manifest)"
    ),
    "traefik": (
        "traefik is a k3s HelmChart: helm-controller owns the Deployment and puts replicas "
        "back when the chart is reconciled (at k3s start or upgrade); make it stick with a "
        "HelmChartConfig named traefik in kube-system whose valuesContent sets "
        "deployment.replicas"
    ),
}


def _notes(snapshot: Snapshot, layout: Layout, distro: str, namespace: str) -> tuple:
    notes: list[Finding] = []
    ready = [n.name for n in snapshot.nodes if schedulable(n)]
    if len(ready) == 1:
        notes.append(
            Finding(
                "single-node",
                f"{ready[0]} is the only schedulable node: replicas cannot protect against "
                "its loss, only against a crashing pod",
            )
        )
    boxes = {layout.box(n) for n in ready}
    if len(ready) >= 2 and len(boxes) == 1 and layout.host(ready[0]) is not None:
        box = next(iter(boxes))
        notes.append(
            Finding(
                "same-box",
                f"every schedulable node runs on {box}: no replica count survives losing "
                f"{box}; that needs a second physical machine",
            )
        )
    sites = {layout.site(n) for n in ready}
    if len(ready) >= 2 and len(sites) == 1 and "" not in sites:
        notes.append(
            Finding(
                "one-site",
                f"every node is at site {next(iter(sites))}: a power or network cut there "
                "takes the whole cluster down, whatever the replicas",
            )
        )
    unlinked = sorted(n for n in ready if layout.host(n) is None)
    if unlinked:
        notes.append(
            Finding(
                "unlinked",
                f"not linked to a physical machine: {_names(unlinked)}; each counts as a "
                "box of its own here",
            )
        )
    if distro == "k3s" and namespace == "kube-system":
        notes.append(
            Finding(
                "k3s",
                "k3s writes its packaged manifests (coredns, local-storage, metrics-server, "
                f"traefik) to {K3S_MANIFESTS} at every start and re-applies them: what the "
                "manifest sets comes back; use a HelmChartConfig for traefik, or --disable "
                "NAME (or a NAME.yaml.skip file there) and a manifest of your own",
            )
        )
    return tuple(notes)


def _share(count: int, total: int) -> str:
    if count == total:
        return "both" if total == 2 else f"all {total}"
    return f"{count} of {total}"


def _names(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
