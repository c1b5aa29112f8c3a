"""What one check says about one object: the Finding, the object it names, the table of
codes (with the Popeye code or k8sgpt analyzer each corresponds to) and the facts every
rule shares, computed once per snapshot.

A code is stable: scripts, cron jobs and the screen key on it, so a code is never reused
for another meaning. Severity: critical (something is down now), warning (degraded, or
down at the next reboot), info (worth knowing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Thresholds
from cockpit.model import Guest, Node, Peer, Pod, Snapshot
from cockpit.sources.health import Health
from cockpit.topology import Links, link

Severity = Literal["critical", "warning", "info"]
SEVERITY_ORDER: Mapping[str, int] = {"critical": 0, "warning": 1, "info": 2}
# Where an object lives in the four layers, plus the tailnet, cluster-wide services and the
# cockpit's own sources.
Layer = Literal["host", "guest", "node", "pod", "workload", "network", "cluster", "source"]


@dataclass(frozen=True, slots=True)
class ObjectRef:
    layer: Layer
    kind: str  # Host, Guest, Node, Pod, Deployment, Peer, Service, Pdb, Hpa ...
    name: str
    namespace: str = ""
    id: str = ""  # what commands take when the name is not unique: a guest's VMID

    @property
    def ref(self) -> str:
        """How the cockpit names it on a command line: kube-system/deployment/coredns,
        node/worker-1, host/pve."""
        kind = self.kind.lower()
        return f"{self.namespace}/{kind}/{self.name}" if self.namespace else f"{kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    obj: ObjectRef
    text: str  # one line, for the operator
    evidence: tuple[str, ...] = ()  # which fields said so ("Node.conditions[Ready]=Unknown")
    fix: str = ""  # a hint; incidents turn the ones that fit into cockpit commands
    # A standing risk (true of the configuration, nothing is down because of it yet): shown
    # and reported, but it makes no incident and no failing exit code.
    risk: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.code, self.obj.ref, self.text)


@dataclass(frozen=True, slots=True)
class Code:
    layer: Layer
    meaning: str
    popeye: str = ""  # Popeye's code, e.g. "POP-702"
    k8sgpt: str = ""  # the k8sgpt analyzer that looks at the same thing


# Every code the rules emit. A test checks each rule's codes are listed here.
CODES: Mapping[str, Code] = {
    # hosts and Proxmox
    "HOST-OFF": Code("host", "a physical host is powered off (Proxmox and the tailnet agree)"),
    "HOST-UNREACHABLE": Code("host", "Proxmox cannot reach a host that the tailnet still sees"),
    "PVE-NO-QUORUM": Code("host", "the Proxmox cluster is not quorate: guests cannot be changed"),
    "GUEST-STOPPED": Code("guest", "a stopped guest backs a Kubernetes node"),
    "GUEST-TASK-FAILED": Code("guest", "a recent Proxmox task failed"),
    # Kubernetes nodes
    "NODE-NOTREADY": Code("node", "a node is NotReady or Unknown", "POP-702/701", "Node"),
    "NODE-GONE": Code("node", "pods are bound to a node that no longer exists", "", "Pod"),
    "NODE-MEMORY-PRESSURE": Code("node", "the kubelet reports MemoryPressure", "POP-704", "Node"),
    "NODE-DISK-PRESSURE": Code("node", "the kubelet reports DiskPressure", "POP-705", "Node"),
    "NODE-PID-PRESSURE": Code("node", "the kubelet reports PIDPressure", "POP-706", "Node"),
    "NODE-CORDONED": Code("node", "a node has been cordoned for a long time", "POP-711"),
    "NODE-MEMORY-USE": Code("node", "node memory use over seed 000's levels", "POP-710"),
    "HOST-MEMORY-USE": Code("host", "host memory use over seed 000's levels"),
    # pods and workloads
    "POD-CRASHLOOP": Code("pod", "a container is in CrashLoopBackOff", "POP-203/205", "Pod"),
    "POD-OOMKILLED": Code("pod", "a container was OOMKilled at its memory limit", "POP-205", "Pod"),
    "POD-IMAGE-PULL": Code("pod", "an image cannot be pulled", "POP-203", "Pod"),
    "POD-CONFIG-ERROR": Code(
        "pod", "CreateContainerConfigError: a missing ConfigMap/Secret", "POP-203/304", "Pod"
    ),
    "POD-EXEC-FORMAT": Code("pod", "exec format error: the image is built for another CPU"),
    "POD-PENDING": Code("pod", "the scheduler leaves a pod Pending", "POP-207", "Pod"),
    "POD-TERMINATING-DEAD-NODE": Code(
        "pod", "a pod is stuck Terminating on a node that is down or gone", "POP-200/201"
    ),
    "POD-EVICTED": Code("pod", "a pod was evicted", "POP-207", "Pod"),
    "WORKLOAD-DOWN": Code(
        "workload", "a workload has 0 of N replicas ready", "POP-501/1120", "Deployment"
    ),
    # tailnet
    "PEER-OFFLINE": Code("network", "a tailnet peer is offline"),
    "PEER-KEY-EXPIRED": Code("network", "a tailnet peer's node key has expired"),
    "PEER-KEY-EXPIRING": Code("network", "a tailnet peer's node key expires within 7 days"),
    "PEER-RELAYED": Code("network", "traffic to a peer goes through a DERP relay"),
    "TAILSCALE-NOT-RUNNING": Code("network", "tailscaled is not in the Running state"),
    "TAILSCALE-HEALTH": Code("network", "tailscaled reports health warnings"),
    # cluster DNS
    "DNS-NO-ENDPOINT": Code(
        "cluster",
        "cluster DNS has no ready endpoint: every pod loses name resolution",
        "POP-1105",
        "Service",
    ),
    "DNS-SINGLE-REPLICA": Code("cluster", "cluster DNS runs one replica", "POP-1109", "Service"),
    "DNS-ONE-HOST": Code("cluster", "every cluster DNS replica runs on one physical box"),
    "DNS-NOT-FOUND": Code("cluster", "no cluster DNS Service kube-system/kube-dns was found"),
    # cluster-wide configuration
    "METRICS-MISSING": Code(
        "cluster",
        "HPAs exist but metrics.k8s.io does not answer (<unknown>/70%)",
        "POP-402",
        "HorizontalPodAutoScaler",
    ),
    "HPA-NO-REQUESTS": Code(
        "cluster",
        "an HPA scales on utilization of a target that sets no requests",
        "",
        "HorizontalPodAutoScaler",
    ),
    "PDB-NO-DISRUPTION": Code(
        "cluster",
        "a PodDisruptionBudget allows no disruption now",
        "POP-901",
        "PodDisruptionBudget",
    ),
    # the cockpit's own sources
    "SOURCE-DOWN": Code("source", "a source fails: what it shows is stale or missing"),
    # the allocation engine's static risks (cockpit/alloc/risks.py), one code each
    "RISK-SINGLE-REPLICA": Code("cluster", "one replica: one node restart is an outage", "POP-500"),
    "RISK-REPLICAS-ONE-NODE": Code("cluster", "every replica on one node"),
    "RISK-REPLICAS-ONE-HOST": Code("cluster", "every replica on one physical host"),
    "RISK-REPLICAS-ONE-SITE": Code("cluster", "every replica at one site"),
    "RISK-NO-PDB": Code("cluster", "a replicated workload has no PDB", "POP-206"),
    "RISK-PDB-BLOCKS-DRAIN": Code("cluster", "a PDB allows zero disruptions", "POP-901"),
    "RISK-BEST-EFFORT": Code("cluster", "pods without requests or limits", "POP-106"),
    "RISK-NO-MEMORY-LIMIT": Code("cluster", "containers without a memory limit", "POP-107"),
    "RISK-LIMITS-FAR-ABOVE-REQUESTS": Code("cluster", "limits far above requests"),
    "RISK-ARCH-MISMATCH": Code("cluster", "images or selectors do not fit the nodes' arch"),
    "RISK-UNSCHEDULABLE-PENDING": Code("cluster", "pods Pending with no node", "POP-207", "Pod"),
    "RISK-SINGLE-CONTROL-PLANE": Code("cluster", "one control-plane node", "POP-712"),
}


def _peer_ref(peer: Peer) -> ObjectRef:
    # The hostname is what people say; the key (node ID) is what the topology links by,
    # since hostnames repeat.
    return ObjectRef("network", "Peer", peer.hostname, id=peer.key)


@dataclass
class Facts:
    """What several rules need, computed once per snapshot (lazily)."""

    snapshot: Snapshot
    now: float
    health: Mapping[str, Health] = field(default_factory=dict)
    previous: Snapshot | None = None
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    cache: dict = field(default_factory=dict)

    @cached_property
    def links(self) -> Links:
        s = self.snapshot
        return link(s.nodes, s.guests, s.hosts, s.peers, s.backing)

    @cached_property
    def peer_by_name(self) -> dict[str, Peer]:
        return {p.hostname: p for p in self.snapshot.peers}

    @cached_property
    def peer_by_key(self) -> dict[str, Peer]:
        """The topology's links name peers by key (node ID), not by hostname."""
        return {p.key: p for p in self.snapshot.peers}

    def peer_of_node(self, node: str) -> Peer | None:
        key = self.links.node_peer.get(node)
        return self.peer_by_key.get(key) if key else None

    @cached_property
    def pod_by_key(self) -> dict[tuple[str, str], Pod]:
        return {p.key: p for p in self.snapshot.pods}

    @cached_property
    def guest_by_vmid(self) -> dict[int, Guest]:
        return {g.vmid: g for g in self.snapshot.guests}

    def guest_of_node(self, node: str) -> Guest | None:
        b = self.snapshot.backing.get(node)
        return self.guest_by_vmid.get(b.vmid) if b is not None and b.vmid is not None else None

    @cached_property
    def down_hosts(self) -> frozenset[str]:
        return frozenset(h.name for h in self.snapshot.hosts if not h.online)

    @cached_property
    def dead_nodes(self) -> frozenset[str]:
        """Nodes that run nothing now: NotReady/Unknown, or their guest or host is down."""
        out = set()
        for n in self.snapshot.nodes:
            if not n.ready or self.backing_down(n.name):
                out.add(n.name)
        return frozenset(out)

    def backing_down(self, node: str) -> bool:
        b = self.snapshot.backing.get(node)
        if b is None:
            return False
        if b.host in self.down_hosts:
            return True
        guest = self.guest_of_node(node)
        return guest is not None and not guest.running

    def pod_dead(self, pod: Pod) -> bool:
        """Bound to a node that is down or gone: whatever its status says, it serves nothing."""
        if pod.node is None:
            return False
        return pod.node in self.dead_nodes or pod.node not in self.snapshot.node_by_name

    def pod_serving(self, pod: Pod) -> bool:
        return (
            pod.phase == "Running"
            and pod.ready
            and pod.deleted_at is None
            and not self.pod_dead(pod)
        )


def node_ref(node: Node | str) -> ObjectRef:
    return ObjectRef("node", "Node", node if isinstance(node, str) else node.name)


def pod_ref(pod: Pod) -> ObjectRef:
    return ObjectRef("pod", "Pod", pod.name, pod.namespace)


def peer_ref(peer: Peer) -> ObjectRef:
    return _peer_ref(peer)


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"
