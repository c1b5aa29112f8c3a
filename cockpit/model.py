"""Slim, immutable records of the four layers: physical hosts, Proxmox guests, Kubernetes
objects and tailnet peers, plus the Snapshot that holds one consistent view of them all.

Quantities are plain ints (CPU in millicores, memory and disk in bytes) so the allocation
engine does integer arithmetic only; parsing happens once, at the edges (lab files, adapters).
Mappings inside records are never mutated after construction; records are frozen so a
Snapshot can be shared between threads and compared by value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

# --- small shared pieces ------------------------------------------------------------------

EMPTY: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class Resources:
    """CPU (millicores) and memory (bytes); None means "not set", which QoS must tell from 0."""

    cpu: int | None = None
    memory: int | None = None

    @property
    def cpu_or_zero(self) -> int:
        return self.cpu or 0

    @property
    def memory_or_zero(self) -> int:
        return self.memory or 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_or_zero + other.cpu_or_zero, self.memory_or_zero + other.memory_or_zero
        )


ZERO = Resources(0, 0)
UNSET = Resources()


@dataclass(frozen=True, slots=True)
class Requirement:
    """One label-selector expression: key In/NotIn/Exists/DoesNotExist (Gt/Lt for node affinity)."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op == "In":
            return labels.get(self.key) in self.values
        if op == "NotIn":
            return labels.get(self.key) not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        value = labels.get(self.key)
        if value is None or not self.values:
            return False
        try:
            actual, bound = int(value), int(self.values[0])
        except ValueError:
            return False
        return actual > bound if op == "Gt" else actual < bound


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """metav1.LabelSelector. An empty selector matches everything, as in Kubernetes."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels.items():
            if labels.get(key) != value:
                return False
        return all(req.matches(labels) for req in self.match_expressions)


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
    value: str = ""
    # When the taint was added (unix seconds): tells "cordoned for hours" from "just now".
    time_added: float | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""  # empty key with operator Exists tolerates every taint
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str = ""
    effect: str = ""  # empty effect tolerates every effect
    toleration_seconds: int | None = None

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if not self.key:
            return self.operator == "Exists"
        if self.key != taint.key:
            return False
        return self.operator == "Exists" or self.value == taint.value


@dataclass(frozen=True, slots=True)
class UsageProfile:
    """Planning figures: what a workload uses normally and at its peak (seed 000's table)."""

    normal: Resources = UNSET
    peak: Resources = UNSET


# --- physical and Proxmox layers ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Host:
    """A physical machine: a Proxmox node, or a bare-metal Kubernetes node (seed 003)."""

    name: str
    cores: int
    threads: int
    memory: int  # bytes the OS sees (MemTotal), which is what guests are carved from
    disk: int  # bytes of local storage
    arch: str = "amd64"
    site: str = ""
    cpu_model: str = ""
    online: bool = True
    proxmox: bool = True  # False for bare metal that only runs a Kubernetes node
    usage: Resources | None = None  # cpu millicores busy, memory bytes used, when known


@dataclass(frozen=True, slots=True)
class Disk:
    name: str  # scsi0, virtio1, rootfs, mp0 ...
    size: int  # bytes
    storage: str = ""


@dataclass(frozen=True, slots=True)
class Guest:
    """A Proxmox VM (qemu) or container (lxc)."""

    vmid: int
    name: str
    host: str  # the Proxmox node it runs on; equals Host.name
    kind: Literal["qemu", "lxc"] = "qemu"
    status: str = "running"
    vcpus: int = 1
    memory: int = 0  # maximum (bytes)
    balloon_min: int | None = None  # the balloon floor; None when ballooning is off
    disks: tuple[Disk, ...] = ()
    tags: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    usage: Resources | None = None
    template: bool = False

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def disk_total(self) -> int:
        return sum(d.size for d in self.disks)

    @property
    def memory_min(self) -> int:
        """What the guest is guaranteed: the balloon floor, or all of it without ballooning."""
        return self.memory if self.balloon_min is None else self.balloon_min


# --- Kubernetes layer ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    capacity: Resources = ZERO
    allocatable: Resources = ZERO
    pods_allocatable: int = 110
    conditions: Mapping[str, str] = field(default_factory=dict)  # type -> "True"/"False"/"Unknown"
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    addresses: tuple[tuple[str, str], ...] = ()  # (type, address), e.g. ("InternalIP", "10.0.0.5")
    provider_id: str = ""
    usage: Resources | None = None
    # type -> (reason, message, lastTransitionTime), for the conditions that say why.
    condition_details: Mapping[str, tuple[str, str, float | None]] = field(
        default_factory=dict, compare=False
    )

    @property
    def arch(self) -> str:
        return self.labels.get("kubernetes.io/arch", "")

    @property
    def ready(self) -> bool:
        return self.conditions.get("Ready", "True") == "True"


ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"


def node_site_label(labels: Mapping[str, str]) -> str:
    """The site a node's well-known topology labels give: its zone, else its region."""
    return labels.get(ZONE_LABEL) or labels.get(REGION_LABEL) or ""


@dataclass(frozen=True, slots=True)
class Container:
    name: str
    image: str = ""
    requests: Resources = UNSET
    limits: Resources = UNSET
    restart_policy: str = ""  # "Always" on an init container makes it a sidecar (k8s 1.29+)


@dataclass(frozen=True, slots=True)
class ContainerState:
    """One container's status as the kubelet reports it: what it is doing now (state) and
    how it last ended (lastState.terminated), which is where OOMKilled and exit codes live."""

    name: str
    init: bool = False
    state: Literal["waiting", "running", "terminated", ""] = ""
    reason: str = ""  # CrashLoopBackOff, ImagePullBackOff, ErrImagePull, Completed, Error ...
    message: str = ""
    exit_code: int | None = None
    ready: bool = False
    restarts: int = 0
    started_at: float | None = None
    last_reason: str = ""  # OOMKilled, Error ...
    last_exit_code: int | None = None
    last_finished: float | None = None
    last_message: str = ""


@dataclass(frozen=True, slots=True)
class OwnerRef:
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A required pod (anti-)affinity term."""

    selector: LabelSelector
    topology_key: str = "kubernetes.io/hostname"
    namespaces: tuple[str, ...] = ()  # empty: the pod's own namespace


@dataclass(frozen=True, slots=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"]
    selector: LabelSelector


QoS = Literal["Guaranteed", "Burstable", "BestEffort"]


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    node: str | None = None
    phase: str = "Running"
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    overhead: Resources = UNSET
    owner: OwnerRef | None = None
    priority: int = 0
    priority_class: str = ""
    preemption_policy: str = "PreemptLowerPriority"
    tolerations: tuple[Toleration, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    node_affinity: tuple[tuple[Requirement, ...], ...] = ()  # required terms, ORed; ANDed inside
    anti_affinity: tuple[AffinityTerm, ...] = ()  # required pod anti-affinity
    spread: tuple[SpreadConstraint, ...] = ()
    volume_kinds: tuple[str, ...] = ()  # emptyDir, persistentVolumeClaim, hostPath ...
    ready: bool = True
    restarts: int = 0
    created: float = 0.0  # unix seconds
    usage: Resources | None = None  # metrics.k8s.io, when present
    profile: UsageProfile | None = None  # planned normal/peak, from a lab file
    container_states: tuple[ContainerState, ...] = ()  # init containers first, as listed
    deleted_at: float | None = None  # metadata.deletionTimestamp: the pod is Terminating
    reason: str = ""  # status.reason: Evicted, NodeLost, UnexpectedAdmissionError ...
    message: str = ""  # status.message
    # The PodScheduled condition when it is not True: why the scheduler left it Pending.
    unscheduled_reason: str = ""
    unscheduled_message: str = ""

    # Derived once: the what-if and the scheduler look pods up by key hundreds of thousands
    # of times.
    key: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.namespace, self.name))

    @property
    def requests(self) -> Resources:
        return effective(self, "requests")

    @property
    def limits(self) -> Resources:
        return effective(self, "limits")

    @property
    def qos(self) -> QoS:
        return qos_class(self)

    @property
    def is_daemonset(self) -> bool:
        return self.owner is not None and self.owner.kind == "DaemonSet"

    @property
    def is_mirror(self) -> bool:
        return "kubernetes.io/config.mirror" in self.annotations

    @property
    def counts_for_allocation(self) -> bool:
        """kubectl-view-allocations counts running pods and pending ones already bound."""
        return self.node is not None and self.phase in ("Running", "Pending")


def effective(pod: Pod, which: Literal["requests", "limits"]) -> Resources:
    """What the scheduler charges a pod: max(sum of app containers and sidecars, largest
    init container plus the sidecars started before it) + overhead, per resource.

    A resource left unset on every container stays unset (None), so a BestEffort pod's
    limits read as "no limit" rather than as zero.
    """
    overhead = pod.overhead
    if (
        len(pod.containers) == 1
        and not pod.init_containers
        and overhead.cpu is None
        and overhead.memory is None
    ):
        return getattr(pod.containers[0], which)  # most pods; keeps the ledger's loop cheap
    out: list[int | None] = []
    for attr in ("cpu", "memory"):
        total: int | None = None
        for c in pod.containers:
            v = getattr(getattr(c, which), attr)
            if v is not None:
                total = (total or 0) + v
        sidecars = 0
        init_peak: int | None = None
        for c in pod.init_containers:
            v = getattr(getattr(c, which), attr)
            if c.restart_policy == "Always":
                if v is not None:
                    sidecars += v
                    total = (total or 0) + v
                continue
            if v is not None:
                candidate = v + sidecars
                init_peak = candidate if init_peak is None else max(init_peak, candidate)
        if init_peak is not None:
            total = init_peak if total is None else max(total, init_peak)
        extra = getattr(overhead, attr)
        if extra is not None and total is not None:
            total += extra
        out.append(total)
    return Resources(out[0], out[1])


def qos_class(pod: Pod) -> QoS:
    """The QoS class exactly as the kubelet assigns it (init containers count too)."""
    everything = pod.containers + pod.init_containers
    any_set = False
    guaranteed = True
    for c in everything:
        for attr in ("cpu", "memory"):
            req = getattr(c.requests, attr)
            lim = getattr(c.limits, attr)
            if req is not None or lim is not None:
                any_set = True
            # An unset request defaults to the limit, so only the limit must be present.
            if lim is None or (req is not None and req != lim):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet"]


@dataclass(frozen=True, slots=True)
class Workload:
    kind: WorkloadKind
    namespace: str
    name: str
    replicas: int = 1  # desired; for a DaemonSet, the number of eligible nodes
    selector: LabelSelector = field(default_factory=LabelSelector)
    ready_replicas: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.kind.lower()}/{self.name}"


@dataclass(frozen=True, slots=True)
class Pdb:
    namespace: str
    name: str
    selector: LabelSelector
    min_available: int | str | None = None  # int or "50%"
    max_unavailable: int | str | None = None

    def desired_healthy(self, expected: int) -> int:
        """minAvailable, or expected - maxUnavailable; percentages round up as the
        disruption controller does."""
        if self.min_available is not None:
            return _scaled(self.min_available, expected)
        if self.max_unavailable is not None:
            return max(0, expected - _scaled(self.max_unavailable, expected))
        return 0


def _scaled(value: int | str, total: int) -> int:
    if isinstance(value, int):
        return value
    percent = int(value.rstrip("%"))
    return -(-percent * total // 100)  # ceiling, like intstr.GetScaledValueFromIntOrPercent


@dataclass(frozen=True, slots=True)
class PriorityClass:
    name: str
    value: int
    global_default: bool = False
    preemption_policy: str = "PreemptLowerPriority"
    description: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """A core/v1 Event, reduced to what triage and the timeline show."""

    namespace: str
    name: str
    object_kind: str  # involvedObject.kind
    object_name: str
    object_namespace: str = ""
    type: str = "Normal"  # Normal | Warning
    reason: str = ""
    message: str = ""
    count: int = 1
    first_seen: float = 0.0
    last_seen: float = 0.0
    source: str = ""  # reportingController, or source.component
    uid: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    selector: Mapping[str, str] = field(default_factory=dict)
    cluster_ip: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    ready: bool
    node: str = ""
    pod: str = ""  # targetRef name when it is a Pod


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """discovery.k8s.io/v1 EndpointSlice; `service` is its kubernetes.io/service-name label."""

    namespace: str
    name: str
    service: str
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class HpaMetric:
    """One resource metric of an HPA: target and current average utilization (percent of
    the request). current is None when the metrics API does not answer (`<unknown>/70%`)."""

    resource: str  # cpu | memory
    target_utilization: int | None = None
    current_utilization: int | None = None


@dataclass(frozen=True, slots=True)
class Hpa:
    namespace: str
    name: str
    target_kind: str
    target_name: str
    min_replicas: int = 1
    max_replicas: int = 1
    current_replicas: int = 0
    desired_replicas: int = 0
    metrics: tuple[HpaMetric, ...] = ()
    # type -> (status, reason, message): AbleToScale, ScalingActive, ScalingLimited
    conditions: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


# --- Proxmox cluster state ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PveTask:
    """A Proxmox task from /cluster/tasks: status is "" while running, "OK" when it
    succeeded, else the error text ("command 'qm start 101' failed: ...")."""

    upid: str
    node: str
    type: str  # qmstart, qmshutdown, vzdump ...
    id: str = ""  # the VMID or object the task acted on
    user: str = ""
    status: str = ""
    start: float = 0.0
    end: float | None = None

    @property
    def failed(self) -> bool:
        return bool(self.status) and self.status != "OK"


@dataclass(frozen=True, slots=True)
class PveCluster:
    """/cluster/status: None for quorate when the node is not in a cluster."""

    name: str = ""
    quorate: bool | None = None
    nodes_online: int = 0
    nodes_total: int = 0


# --- tailnet layer ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Peer:
    """A tailnet device as ipnstate.Status describes it."""

    hostname: str
    dns_name: str = ""
    ips: tuple[str, ...] = ()
    online: bool = True
    os: str = ""
    relay: str = ""  # home DERP region code
    cur_addr: str = ""  # empty when traffic goes through DERP
    last_seen: str = ""
    is_self: bool = False
    exit_node: bool = False
    key_expiry: str = ""
    site: str = ""
    node_key: str = ""
    id: str = ""  # the stable node ID: hostnames repeat (every iPhone is "localhost")
    active: bool = False  # traffic in the last few minutes
    expired: bool = False  # the node key has expired: it can no longer talk to the tailnet
    peer_relay: str = ""  # when set, a peer relay carries the traffic

    @property
    def direct(self) -> bool:
        return bool(self.cur_addr)

    @property
    def key(self) -> str:
        """What tells one device from another: the stable node ID, else the node key; the
        hostname only for a peer that has neither (a lab file, a scrubbed capture)."""
        return self.id or self.node_key or self.hostname


@dataclass(frozen=True, slots=True)
class TailnetStatus:
    """What tailscaled says of itself: BackendState (Running, NeedsLogin, Stopped ...) and
    its Health warnings."""

    backend_state: str = ""
    health: tuple[str, ...] = ()
    tailnet: str = ""

    @property
    def running(self) -> bool:
        return self.backend_state == "Running"


# --- links and the snapshot ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backing:
    """What a Kubernetes node runs on: a guest (host + vmid) or the host itself (bare metal)."""

    host: str
    vmid: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of the lab. Indexes are derived lazily and cached."""

    hosts: tuple[Host, ...] = ()
    guests: tuple[Guest, ...] = ()
    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()
    workloads: tuple[Workload, ...] = ()
    pdbs: tuple[Pdb, ...] = ()
    priority_classes: tuple[PriorityClass, ...] = ()
    peers: tuple[Peer, ...] = ()
    backing: Mapping[str, Backing] = field(default_factory=dict)  # node name -> backing
    sites: Mapping[str, str] = field(default_factory=dict)  # site name -> description
    # machine (physical host or bare-metal node) name -> site, from the config's [sites]:
    # how a bare-metal node with no Proxmox host record still gets its site
    machine_sites: Mapping[str, str] = field(default_factory=dict)
    name: str = ""
    version: int = 0
    events: tuple[Event, ...] = ()
    services: tuple[Service, ...] = ()
    endpoint_slices: tuple[EndpointSlice, ...] = ()
    hpas: tuple[Hpa, ...] = ()
    tasks: tuple[PveTask, ...] = ()
    pve_cluster: PveCluster | None = None
    tailnet: TailnetStatus | None = None
    # The sources' clock (unix seconds) when the snapshot was built: the API server's Date
    # for Kubernetes, else the local clock. Ages are measured against it, so a lab running
    # faster than real time still shows honest ages. 0.0 when unknown.
    clock: float = 0.0
    # Whether a metrics.k8s.io API answered (HPAs read `<unknown>` without it).
    metrics_available: bool | None = None

    @cached_property
    def host_by_name(self) -> dict[str, Host]:
        return {h.name: h for h in self.hosts}

    @cached_property
    def guests_by_host(self) -> dict[str, list[Guest]]:
        out: dict[str, list[Guest]] = defaultdict(list)
        for g in self.guests:
            out[g.host].append(g)
        return dict(out)

    @cached_property
    def node_by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    @cached_property
    def pods_by_node(self) -> dict[str, list[Pod]]:
        out: dict[str, list[Pod]] = defaultdict(list)
        for p in self.pods:
            if p.node is not None:
                out[p.node].append(p)
        return dict(out)

    @cached_property
    def nodes_by_host(self) -> dict[str, list[str]]:
        """Physical host -> the Kubernetes nodes that run on it, directly or in a guest."""
        out: dict[str, list[str]] = defaultdict(list)
        for node in self.nodes:
            b = self.backing.get(node.name)
            if b is not None:
                out[b.host].append(node.name)
        return dict(out)

    def host_of_node(self, node: str) -> str | None:
        b = self.backing.get(node)
        return b.host if b is not None else None

    def site_of_node(self, node: str) -> str:
        """The site of the node's physical host, else the config's site for its machine,
        else its topology.kubernetes.io/zone label, else its region label."""
        machine = self.host_of_node(node) or ""
        host = self.host_by_name.get(machine)
        if host is not None and host.site:
            return host.site
        site = self.machine_sites.get(machine) or self.machine_sites.get(node)
        if site:
            return site
        n = self.node_by_name.get(node)
        return node_site_label(n.labels) if n else ""

    @cached_property
    def pods_by_namespace(self) -> dict[str, list[Pod]]:
        out: dict[str, list[Pod]] = defaultdict(list)
        for p in self.pods:
            out[p.namespace].append(p)
        return dict(out)

    @cached_property
    def _pods_by_label(self) -> dict[tuple[str, str, str], list[Pod]]:
        out: dict[tuple[str, str, str], list[Pod]] = defaultdict(list)
        for p in self.pods:
            for key, value in p.labels.items():
                out[(p.namespace, key, value)].append(p)
        return dict(out)

    def select_pods(self, namespace: str, selector: LabelSelector) -> list[Pod]:
        """Pods of a namespace matched by a selector, starting from the label index so that
        hundreds of PDBs over ten thousand pods stay cheap."""
        if selector.match_labels:
            key, value = next(iter(selector.match_labels.items()))
            candidates = self._pods_by_label.get((namespace, key, value), [])
        else:
            candidates = self.pods_by_namespace.get(namespace, [])
        return [p for p in candidates if selector.matches(p.labels)]

    def endpoints_of(self, namespace: str, service: str) -> list[Endpoint]:
        return [
            e
            for s in self.endpoint_slices
            if s.namespace == namespace and s.service == service
            for e in s.endpoints
        ]

    @cached_property
    def workload_by_key(self) -> dict[tuple[str, str, str], Workload]:
        return {w.key: w for w in self.workloads}

    @cached_property
    def workload_of_pod(self) -> dict[tuple[str, str], tuple[str, str, str]]:
        """Pod key -> the key of the workload that owns it, for pods that have one."""
        out = {}
        for p in self.pods:
            key = workload_key_of(p)
            if key is not None:
                out[p.key] = key
        return out

    @cached_property
    def pods_by_workload(self) -> dict[tuple[str, str, str], list[Pod]]:
        out: dict[tuple[str, str, str], list[Pod]] = defaultdict(list)
        owners = self.workload_of_pod
        for p in self.pods:
            key = owners.get(p.key)
            if key is not None and key in self.workload_by_key:
                out[key].append(p)
        return dict(out)


def workload_key_of(pod: Pod) -> tuple[str, str, str] | None:
    """The Deployment/StatefulSet/DaemonSet a pod belongs to, from its controller reference.

    A ReplicaSet is named "<deployment>-<pod-template-hash>"; the hash label says where to
    cut, so a Deployment whose own name contains dashes is still found.
    """
    owner = pod.owner
    if owner is None:
        return None
    if owner.kind in ("StatefulSet", "DaemonSet"):
        return (owner.kind, pod.namespace, owner.name)
    if owner.kind == "ReplicaSet":
        digest = pod.labels.get("pod-template-hash")
        if digest and owner.name.endswith("-" + digest):
            return ("Deployment", pod.namespace, owner.name[: -len(digest) - 1])
        head, sep, _ = owner.name.rpartition("-")
        return ("Deployment", pod.namespace, head) if sep else None
    return None
