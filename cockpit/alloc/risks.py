"""Single points of failure and configuration risks visible in one Snapshot.

Every rule is a pure function over the snapshot (no I/O, no cluster calls), so the same
report comes out of a live cluster and of a lab file that is still only a plan. Each finding
is a Risk with a stable code (RISK_CODES), a severity, the object it is about, a sentence
for the operator and a sentence on the fix.

Rules run on indexes built once per call (pods grouped by owner, PDBs indexed by label), so
a cluster of 10,000 pods and 2,000 workloads costs a few passes over its pods, never a
pods x workloads selector loop.

Image architectures: the model's Container carries no architecture, so a pod declares what
its images are built for with the annotation ``cockpit.io/image-archs`` set to
comma-separated GOARCH names (e.g. ``"amd64"`` or ``"amd64,arm64"``). Without it a pod's
images are assumed to run anywhere and only its arch nodeSelector/affinity is checked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cockpit.model import LabelSelector, Pdb, Pod, Snapshot, Workload, workload_key_of
from cockpit.units import format_bytes, format_cpu

Severity = Literal["critical", "warning", "info"]

RISK_CODES: Mapping[str, str] = {
    "single-replica": "a Deployment/StatefulSet runs one replica, so one node restart is an outage",
    "replicas-one-node": "every running replica of a workload sits on the same node",
    "replicas-one-host": "replicas are on different nodes that all run on one physical host",
    "replicas-one-site": "replicas are on different hosts that all sit at one site",
    "no-pdb": "a multi-replica workload has no PodDisruptionBudget, so a drain may evict all",
    "pdb-blocks-drain": "a PodDisruptionBudget allows zero disruptions, so kubectl drain hangs",
    "best-effort": "pods set no requests or limits (QoS BestEffort) and are evicted first",
    "no-memory-limit": "containers request memory but set no memory limit",
    "limits-far-above-requests": "limits far above requests overcommit the node when pods burst",
    "arch-mismatch": "a pod's images or arch selector do not fit the nodes' CPU architecture",
    "unschedulable-pending": "pods are Pending with no node",
    "single-control-plane": "the cluster has exactly one control-plane node",
}

SEVERITY_ORDER: Mapping[str, int] = {"critical": 0, "warning": 1, "info": 2}
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
IMAGE_ARCHS_ANNOTATION = "cockpit.io/image-archs"
ARCH_LABEL = "kubernetes.io/arch"
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
REPLICATED_KINDS = frozenset({"Deployment", "StatefulSet"})
# Seed 002's checklist wants limits at 2-5x requests; past these factors a burst of a few
# pods together can ask the node for far more than the scheduler reserved.
MEMORY_LIMIT_FACTOR = 4
CPU_LIMIT_FACTOR = 10

OwnerKey = tuple[str, str, str]  # (kind, namespace, name); kind "Pod" for a pod on its own


@dataclass(frozen=True, slots=True)
class Risk:
    code: str
    severity: Severity
    subject: str
    message: str
    fix: str


# --- shared indexes ---------------------------------------------------------------------


def owner_of(pod: Pod) -> OwnerKey:
    """The workload a pod belongs to, else its other controller (a Job ...), else itself.

    Mirror pods are owned by their Node; each is its own thing, so they count as bare pods.
    """
    key = workload_key_of(pod)
    if key is not None:
        return key
    if pod.owner is not None and pod.owner.kind != "Node":
        return (pod.owner.kind, pod.namespace, pod.owner.name)
    return ("Pod", pod.namespace, pod.name)


def subject_of(key: OwnerKey) -> str:
    kind, namespace, name = key
    return f"pod {namespace}/{name}" if kind == "Pod" else f"{namespace}/{kind.lower()}/{name}"


def is_live(pod: Pod) -> bool:
    """Finished pods (a Job's, an evicted one's) hold nothing and protect nothing."""
    return pod.phase not in ("Succeeded", "Failed")


class PdbIndex:
    """PDBs by namespace and one of their matchLabels pairs, so finding the PDBs that cover
    a pod looks only at PDBs sharing one of its labels (plus the few expression-only ones)."""

    def __init__(self, pdbs: Iterable[Pdb]) -> None:
        self.by_label: dict[tuple[str, str, str], list[Pdb]] = defaultdict(list)
        self.loose: dict[str, list[Pdb]] = defaultdict(list)
        for pdb in pdbs:
            labels = pdb.selector.match_labels
            if labels:
                key = min(labels)  # any one pair is required of every matching pod
                self.by_label[(pdb.namespace, key, labels[key])].append(pdb)
            else:
                self.loose[pdb.namespace].append(pdb)

    def matching(self, namespace: str, labels: Mapping[str, str]) -> list[Pdb]:
        found = [p for p in self.loose.get(namespace, ()) if p.selector.matches(labels)]
        for key, value in labels.items():
            for pdb in self.by_label.get((namespace, key, value), ()):
                if pdb.selector.matches(labels):
                    found.append(pdb)
        return found


@dataclass(frozen=True)
class Facts:
    """What several rules need, computed once per snapshot."""

    snapshot: Snapshot
    groups: dict[OwnerKey, list[Pod]]  # live pods per owner, in snapshot order
    pdbs: PdbIndex
    pdb_pods: dict[tuple[str, str], int]  # (namespace, PDB name) -> live pods it covers

    @classmethod
    def of(cls, snapshot: Snapshot) -> Facts:
        groups: dict[OwnerKey, list[Pod]] = defaultdict(list)
        index = PdbIndex(snapshot.pdbs)
        covered: dict[tuple[str, str], int] = defaultdict(int)
        for pod in snapshot.pods:
            if not is_live(pod):
                continue
            groups[owner_of(pod)].append(pod)
            if snapshot.pdbs:
                for pdb in index.matching(pod.namespace, pod.labels):
                    covered[(pdb.namespace, pdb.name)] += 1
        return cls(snapshot, dict(groups), index, dict(covered))

    def replicated(self) -> Iterator[tuple[Workload, list[str]]]:
        """Deployments/StatefulSets wanting >= 2 replicas, with the distinct nodes of their
        bound pods (sorted)."""
        for w in self.snapshot.workloads:
            if w.kind in REPLICATED_KINDS and w.replicas >= 2:
                nodes = {p.node for p in self.groups.get(w.key, ()) if p.node is not None}
                yield w, sorted(nodes)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _names(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def _pods_of(key: OwnerKey, pods: Sequence[Pod]) -> str:
    """How a message names a group: "pod ns/x" or "3 pods of ns/deployment/x"."""
    if key[0] == "Pod":
        return subject_of(key)
    return f"{_plural(len(pods), 'pod')} of {subject_of(key)}"


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _all(n: int) -> str:
    return "both" if n == 2 else f"all {n}"


def _is_system(namespace: str) -> bool:
    return namespace in SYSTEM_NAMESPACES


def _is_dns(w: Workload) -> bool:
    """The cluster DNS: what the kube-dns Service selects (k8s-app=kube-dns, kubeadm and
    k3s alike), or CoreDNS/kube-dns by name (kube-system, or wherever it was installed)."""
    return (
        w.name in ("coredns", "kube-dns")
        or w.labels.get("k8s-app") == "kube-dns"
        or w.selector.match_labels.get("k8s-app") == "kube-dns"
    )


def _selector_text(selector: LabelSelector) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.match_labels.items()))


# --- replicas and placement -------------------------------------------------------------


def single_replica(f: Facts) -> Iterator[Risk]:
    for w in f.snapshot.workloads:
        if w.kind not in REPLICATED_KINDS or w.replicas != 1:
            continue  # 0 is scaled down on purpose; DaemonSets run one per node by design
        nodes = sorted({p.node for p in f.groups.get(w.key, ()) if p.node})
        where = f" on {nodes[0]}" if nodes else ""
        node = nodes[0] if nodes else "its node"
        dns = _is_dns(w)
        if dns:
            message = (
                f"{w.ref} is the cluster DNS and runs a single replica{where}: when "
                f"{node} restarts, every pod loses name resolution until it is back."
            )
        elif _is_system(w.namespace):
            message = (
                f"{w.ref} is a cluster add-on with a single replica{where}: when {node} "
                "restarts, it is gone for the whole cluster until rescheduled."
            )
        else:
            message = (
                f"{w.ref} runs a single replica{where}: when {node} restarts or is "
                "drained, it is down until the pod starts elsewhere."
            )
        scale = f"kubectl -n {w.namespace} scale {w.kind.lower()}/{w.name} --replicas=2"
        if dns:
            fix = (
                f"Run 2+ replicas on different nodes ({scale}); on k3s start the server with "
                "--disable=coredns and deploy CoreDNS yourself, because k3s rewrites and "
                "re-applies its one-replica manifest on every start."
            )
        elif w.kind == "StatefulSet":
            fix = (
                "Enable the chart's replication/HA mode (scaling a StatefulSet alone does not "
                "replicate its data), or accept the downtime and keep tested backups."
            )
        else:
            fix = f"Run at least 2 replicas spread over nodes: {scale}."
        severity: Severity = "critical" if dns or _is_system(w.namespace) else "warning"
        yield Risk("single-replica", severity, w.ref, message, fix)


def replicas_one_node(f: Facts) -> Iterator[Risk]:
    for w, nodes in f.replicated():
        if len(nodes) != 1:
            continue
        bound = sum(1 for p in f.groups.get(w.key, ()) if p.node is not None)
        message = (
            f"{_all(bound).capitalize()} running replicas of {w.ref} ({bound} of "
            f"{w.replicas} desired) are on node {nodes[0]}: when it restarts or is "
            "drained, the workload is down."
        )
        if bound == 1:
            message = (
                f"The only running replica of {w.ref} (1 of {w.replicas} desired) is on "
                f"node {nodes[0]}: when it restarts or is drained, the workload is down."
            )
        fix = (
            "Add a topologySpreadConstraint on kubernetes.io/hostname (maxSkew 1) or a "
            "podAntiAffinity to the pod template, then "
            f"kubectl -n {w.namespace} rollout restart {w.kind.lower()}/{w.name}."
        )
        severity: Severity = "critical" if _is_system(w.namespace) else "warning"
        yield Risk("replicas-one-node", severity, w.ref, message, fix)


def replicas_one_host(f: Facts) -> Iterator[Risk]:
    s = f.snapshot
    for w, nodes in f.replicated():
        if len(nodes) < 2:
            continue  # one node is replicas-one-node's finding
        hosts = {s.host_of_node(n) for n in nodes}
        if len(hosts) != 1 or None in hosts:
            continue  # spread over hosts, or a node whose machine is unknown
        host = next(iter(hosts))
        assert host is not None
        others = sorted(h for h in s.nodes_by_host if h != host)
        head = f"The {len(nodes)} nodes running {w.ref} ({_names(nodes)})"
        if others:
            message = (
                f"{head} all run on physical host {host}: a reboot of {host} takes every "
                "replica down at once (anti-affinity across VMs of one box is not HA)."
            )
            fix = (
                "Label each node with its physical host (e.g. topology.kubernetes.io/zone="
                "<host>) and spread on that key so a replica runs on "
                f"{_names(others, 3)}."
            )
            severity: Severity = "warning"
            if _is_dns(w):
                # Seed 004's outage: the box went down and every pod on every other
                # machine lost name resolution with it.
                message += (
                    f" It is the cluster DNS: while {host} is down, every pod on every "
                    "other machine loses name resolution too."
                )
                severity = "critical"
        else:
            message = (
                f"{head} all run on {host}, and so does the whole cluster: a reboot of "
                f"{host} takes every replica down at once."
            )
            fix = (
                f"Only a node on a second physical machine removes this; until then treat a "
                f"reboot of {host} as a full outage and plan it."
            )
            severity = "info"
        yield Risk("replicas-one-host", severity, w.ref, message, fix)


def replicas_one_site(f: Facts) -> Iterator[Risk]:
    s = f.snapshot
    sites = {s.site_of_node(n.name) for n in s.nodes} - {""}
    if len(sites) < 2:
        return
    for w, nodes in f.replicated():
        if len(nodes) < 2:
            continue
        hosts = {s.host_of_node(n) for n in nodes}
        if len(hosts) == 1 and None not in hosts:
            continue  # replicas-one-host's finding
        used = {s.site_of_node(n) for n in nodes}
        if len(used) != 1 or "" in used:
            continue
        site = next(iter(used))
        known = sorted(h for h in hosts if h is not None)
        spread = f"hosts {_names(known)}" if len(known) >= 2 else f"nodes {_names(nodes)}"
        message = (
            f"The replicas of {w.ref} run on {spread}, all at site {site}: a power or "
            f"uplink failure at {site} takes the workload down."
        )
        fix = (
            "Label nodes with their site (topology.kubernetes.io/zone) and add a "
            "topologySpreadConstraint on it so a replica runs at "
            f"{_names(sorted(sites - {site}), 3)}."
        )
        yield Risk("replicas-one-site", "warning", w.ref, message, fix)


# --- disruption budgets -----------------------------------------------------------------


def no_pdb(f: Facts) -> Iterator[Risk]:
    for w in f.snapshot.workloads:
        if w.kind not in REPLICATED_KINDS or w.replicas < 2:
            continue
        pods = f.groups.get(w.key)
        # Without pods, the selector's labels are what every future pod must carry.
        labels = pods[0].labels if pods else w.selector.match_labels
        if f.pdbs.matching(w.namespace, labels):
            continue
        selector = _selector_text(w.selector) or "<labels of its pods>"
        message = (
            f"{w.ref} has {w.replicas} replicas but no PodDisruptionBudget: a node drain "
            "or cluster upgrade may evict all of them at the same time."
        )
        fix = (
            f"kubectl -n {w.namespace} create poddisruptionbudget {w.name} "
            f"--selector={selector} --max-unavailable=1"
        )
        severity: Severity = "info" if _is_system(w.namespace) else "warning"
        yield Risk("no-pdb", severity, w.ref, message, fix)


def _budget_text(pdb: Pdb) -> str:
    if pdb.min_available is not None:
        return f"minAvailable={pdb.min_available}"
    return f"maxUnavailable={pdb.max_unavailable}"


def pdb_blocks_drain(f: Facts) -> Iterator[Risk]:
    for pdb in f.snapshot.pdbs:
        expected = f.pdb_pods.get((pdb.namespace, pdb.name), 0)
        if expected == 0:
            continue  # covers nothing, blocks nothing
        healthy = pdb.desired_healthy(expected)
        if healthy < expected:
            continue
        message = (
            f"PodDisruptionBudget {pdb.namespace}/{pdb.name} ({_budget_text(pdb)}) needs "
            f"{healthy} healthy of the {_plural(expected, 'pod')} it covers, so it allows "
            "0 disruptions even when all are healthy: kubectl drain will wait forever."
        )
        fix = (
            "Use maxUnavailable: 1 (or a minAvailable below the replica count, adding a "
            f"replica if needed): kubectl -n {pdb.namespace} edit pdb {pdb.name}."
        )
        yield Risk("pdb-blocks-drain", "warning", f"{pdb.namespace}/pdb/{pdb.name}", message, fix)


# --- resources ---------------------------------------------------------------------------


def best_effort(f: Facts) -> Iterator[Risk]:
    for key, pods in f.groups.items():
        loose = [p for p in pods if p.qos == "BestEffort"]
        if not loose:
            continue
        message = (
            f"{_pods_of(key, loose)} {_verb(len(loose), 'runs', 'run')} BestEffort (no "
            "requests or limits): the scheduler reserves nothing for "
            f"{_verb(len(loose), 'it', 'them')} and the kubelet evicts "
            f"{_verb(len(loose), 'it', 'them')} first under memory pressure."
        )
        if key[0] in REPLICATED_KINDS or key[0] == "DaemonSet":
            target = f"{key[0].lower()}/{key[2]}"
            fix = (
                f"Set requests from observed usage: kubectl -n {key[1]} set resources "
                f"{target} --requests=cpu=50m,memory=64Mi (adjust to real use)."
            )
        else:
            fix = "Set resources.requests (and a memory limit) in its manifest or Helm values."
        severity: Severity = "info" if _is_system(key[1]) else "warning"
        yield Risk("best-effort", severity, subject_of(key), message, fix)


def no_memory_limit(f: Facts) -> Iterator[Risk]:
    for key, pods in f.groups.items():
        if _is_system(key[1]):
            continue
        for pod in pods:
            names = [
                c.name
                for c in pod.containers
                if c.requests.memory is not None and c.limits.memory is None
            ]
            if names:
                break
        else:
            continue
        what = "container" if len(names) == 1 else "containers"
        message = (
            f"{subject_of(key)}: {what} {_names(names)} request memory but set no memory "
            "limit, so a leak can grow until the node runs out of memory."
        )
        fix = (
            "Add resources.limits.memory at 2-5x the request (seed 002's checklist), e.g. "
            "via the Helm values or kubectl set resources --limits=memory=..."
        )
        yield Risk("no-memory-limit", "info", subject_of(key), message, fix)


def limits_far_above_requests(f: Facts) -> Iterator[Risk]:
    for key, pods in f.groups.items():
        worst_memory: tuple[float, int, int] | None = None
        worst_cpu: tuple[float, int, int] | None = None
        for pod in pods:
            req, lim = pod.requests, pod.limits
            if req.memory and lim.memory and lim.memory > MEMORY_LIMIT_FACTOR * req.memory:
                ratio = lim.memory / req.memory
                if worst_memory is None or ratio > worst_memory[0]:
                    worst_memory = (ratio, req.memory, lim.memory)
            if req.cpu and lim.cpu and lim.cpu > CPU_LIMIT_FACTOR * req.cpu:
                ratio = lim.cpu / req.cpu
                if worst_cpu is None or ratio > worst_cpu[0]:
                    worst_cpu = (ratio, req.cpu, lim.cpu)
        if worst_memory is None and worst_cpu is None:
            continue
        parts = []
        if worst_memory is not None:
            ratio, req_m, lim_m = worst_memory
            parts.append(
                f"a memory limit of {format_bytes(lim_m)} is {ratio:.1f}x its "
                f"{format_bytes(req_m)} request"
            )
        if worst_cpu is not None:
            ratio, req_c, lim_c = worst_cpu
            parts.append(
                f"a CPU limit of {format_cpu(lim_c)} is {ratio:.1f}x its "
                f"{format_cpu(req_c)} request"
            )
        message = (
            f"In {subject_of(key)}, {' and '.join(parts)}: pods bursting together can "
            "ask a node for far more than the scheduler reserved (memory gets OOM-killed, "
            "CPU throttled)."
        )
        fix = (
            "Keep limits at 2-5x requests (seed 002's checklist): raise the request toward "
            "real peak use or lower the limit in the Helm values / kubectl set resources."
        )
        severity: Severity = "warning" if worst_memory is not None else "info"
        yield Risk("limits-far-above-requests", severity, subject_of(key), message, fix)


# --- architecture ------------------------------------------------------------------------


def image_archs(pod: Pod) -> frozenset[str]:
    """The architectures the pod's images support; empty when the pod does not say."""
    raw = pod.annotations.get(IMAGE_ARCHS_ANNOTATION, "")
    return frozenset(a.strip() for a in raw.split(",") if a.strip())


def required_archs(pod: Pod) -> frozenset[str] | None:
    """The archs a pod's nodeSelector and required node affinity allow; None if unlimited.

    Affinity terms are ORed, so it limits arch only when every term has an In on it.
    """
    allowed: frozenset[str] | None = None
    if ARCH_LABEL in pod.node_selector:
        allowed = frozenset({pod.node_selector[ARCH_LABEL]})
    if pod.node_affinity:
        union: set[str] = set()
        for term in pod.node_affinity:
            ins = [r for r in term if r.key == ARCH_LABEL and r.operator == "In"]
            if not ins:
                return allowed
            values = frozenset(ins[0].values)
            for r in ins[1:]:
                values &= frozenset(r.values)
            union |= values
        allowed = frozenset(union) if allowed is None else allowed & union
    return allowed


def arch_mismatch(f: Facts) -> Iterator[Risk]:
    s = f.snapshot
    known = frozenset(n.arch for n in s.nodes if n.arch)
    cluster = sorted(known)
    for key, pods in f.groups.items():
        wrong: list[Pod] = []
        impossible: frozenset[str] | None = None
        for pod in pods:
            if cluster and impossible is None:
                allowed = required_archs(pod)
                if allowed is not None and not allowed & known:
                    impossible = allowed
            node = s.node_by_name.get(pod.node) if pod.node else None
            archs = image_archs(pod)
            if node is not None and node.arch and archs and node.arch not in archs:
                wrong.append(pod)
        if impossible is not None:
            wanted = ", ".join(sorted(impossible)) or "no architecture"
            message = (
                f"{subject_of(key)} requires {ARCH_LABEL} {wanted} but the cluster's "
                f"nodes are {', '.join(cluster)}: its pods can never be scheduled."
            )
            fix = (
                f"Change its nodeSelector/affinity to one of {', '.join(cluster)} (with an "
                f"image built for it), or add a {wanted} node."
            )
            yield Risk("arch-mismatch", "critical", subject_of(key), message, fix)
        if wrong:
            nodes = sorted({p.node for p in wrong if p.node})
            archs = sorted(image_archs(wrong[0]))
            node_archs = sorted({s.node_by_name[n].arch for n in nodes})
            message = (
                f"{_pods_of(key, wrong)} {_verb(len(wrong), 'runs', 'run')} on "
                f"{'/'.join(node_archs)} {_verb(len(nodes), 'node', 'nodes')} {_names(nodes)} "
                f"but {IMAGE_ARCHS_ANNOTATION} says the images are built for "
                f"{', '.join(archs)} only: their containers fail with 'exec format error'."
            )
            fix = (
                f"Pin it with nodeSelector {ARCH_LABEL}={archs[0]}, or switch to a multi-arch "
                "image and update the annotation."
            )
            yield Risk("arch-mismatch", "critical", subject_of(key), message, fix)


# --- scheduling and the control plane ---------------------------------------------------


def unschedulable_pending(f: Facts) -> Iterator[Risk]:
    for key, pods in f.groups.items():
        pending = [p for p in pods if p.node is None and p.phase == "Pending"]
        if not pending:
            continue
        first = pending[0]
        message = (
            f"{_pods_of(key, pending)} {_verb(len(pending), 'is', 'are')} Pending with "
            "no node: the scheduler found no node that fits."
        )
        fix = (
            f"kubectl -n {first.namespace} describe pod {first.name} shows the scheduler's "
            "reason: free capacity, relax selectors/taints, or lower the requests."
        )
        yield Risk("unschedulable-pending", "warning", subject_of(key), message, fix)


def single_control_plane(f: Facts) -> Iterator[Risk]:
    planes = [n for n in f.snapshot.nodes if any(k in n.labels for k in CONTROL_PLANE_LABELS)]
    if len(planes) != 1:
        return  # none: a managed control plane we cannot see; several: already redundant
    name = planes[0].name
    message = (
        f"{name} is the only control-plane node: losing it stops every change to the "
        "cluster (no deploys, scaling or rescheduling; running pods keep running)."
    )
    fix = (
        "Add control-plane nodes to reach 3 (an etcd quorum; on k3s join servers with "
        "--server), or keep tested backups of the datastore."
    )
    yield Risk("single-control-plane", "info", f"node {name}", message, fix)


RULES: tuple[Callable[[Facts], Iterable[Risk]], ...] = (
    single_replica,
    replicas_one_node,
    replicas_one_host,
    replicas_one_site,
    no_pdb,
    pdb_blocks_drain,
    best_effort,
    no_memory_limit,
    limits_far_above_requests,
    arch_mismatch,
    unschedulable_pending,
    single_control_plane,
)


def find_risks(snapshot: Snapshot) -> list[Risk]:
    """Every risk the rules find, critical first, then by code and subject."""
    facts = Facts.of(snapshot)
    risks = [risk for rule in RULES for risk in rule(facts)]
    risks.sort(key=lambda r: (SEVERITY_ORDER[r.severity], r.code, r.subject, r.message))
    return risks
