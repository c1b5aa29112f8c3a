"""Model records to Kubernetes JSON, for the simulated lab's apiserver.

The reverse of ``cockpit.sources.kube_parse``: every object has the shape a real apiserver
returns (apiVersion, kind, metadata with uid and an RFC 3339 creationTimestamp, spec,
status), so kubectl, the official client and the cockpit's own parser read the lab exactly
as they read a cluster. ``parse(render(record))`` gives the record back for every field the
render carries; the exceptions are listed where they happen and in the test module.

Quantities are written the way the apiserver canonicalises them (resource.Quantity's
String()): CPU as whole cores or millicores ("2", "250m", "1500m"), memory with the
largest binary suffix that is exact ("8Gi", "8148384Ki") and plain bytes otherwise.

Pods are rendered as stored *after* admission by default (``admitted=True``): the
DefaultTolerationSeconds plugin's 300 s not-ready/unreachable tolerations and the
limits-to-requests defaulting are applied, as they are to every pod in a real cluster.
``apiserver_defaults`` says exactly what that changes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from cockpit.labfile import DAEMONSET_TOLERATIONS
from cockpit.model import (
    AffinityTerm,
    Container,
    LabelSelector,
    Node,
    Pdb,
    Pod,
    PriorityClass,
    Requirement,
    Resources,
    SpreadConstraint,
    Taint,
    Toleration,
    Workload,
    qos_class,
    workload_key_of,
)

__all__ = [
    "DEFAULT_TOLERATION_SECONDS",
    "apiserver_defaults",
    "format_cpu_quantity",
    "format_memory_quantity",
    "namespace_object",
    "node_conditions",
    "node_metrics_object",
    "node_object",
    "owner_uid",
    "pdb_object",
    "pod_metrics_object",
    "pod_object",
    "priority_class_object",
    "rfc3339",
    "workload_object",
]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300  # kube-apiserver --default-not-ready-toleration-seconds
METRICS_API = "metrics.k8s.io/v1beta1"

# Labels the controllers put on each pod, never on the template they made it from.
_PER_POD_LABELS = (
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
)
_OWNER_API = MappingProxyType(
    {
        "ReplicaSet": "apps/v1",
        "Deployment": "apps/v1",
        "StatefulSet": "apps/v1",
        "DaemonSet": "apps/v1",
        "Job": "batch/v1",
        "CronJob": "batch/v1",
        "Node": "v1",
    }
)
_BINARY_SUFFIXES = ((60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki"))


# --- quantities, times, names ------------------------------------------------------------------


def format_cpu_quantity(millicores: int) -> str:
    """Millicores as resource.Quantity prints them: "2" for whole cores, else "1500m"
    (never "1.5", which is the same value but not what the apiserver writes back)."""
    if type(millicores) is not int:
        raise TypeError(f"expected millicores as int, got {type(millicores).__name__}")
    cores, milli = divmod(millicores, 1000)
    return str(cores) if milli == 0 else f"{millicores}m"


def format_memory_quantity(n: int) -> str:
    """Bytes with the largest exact binary suffix ("8Gi", "8148384Ki"), else plain bytes,
    which is how the apiserver canonicalises a BinarySI quantity."""
    if type(n) is not int:
        raise TypeError(f"expected bytes as int, got {type(n).__name__}")
    if n == 0:
        return "0"
    magnitude = abs(n)
    for shift, suffix in _BINARY_SUFFIXES:
        if magnitude & ((1 << shift) - 1) == 0:
            return f"{n >> shift if n > 0 else -(magnitude >> shift)}{suffix}"
    return str(n)


def _quantities(r: Resources) -> dict[str, str]:
    out: dict[str, str] = {}
    if r.cpu is not None:
        out["cpu"] = format_cpu_quantity(r.cpu)
    if r.memory is not None:
        out["memory"] = format_memory_quantity(r.memory)
    return out


def rfc3339(ts: float) -> str:
    """Unix seconds as metav1.Time writes them: whole seconds, UTC, "Z". The fraction is
    dropped, as it is by the apiserver."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(*parts: str) -> str:
    # Stable uids, so the same lab always renders the same objects and a pod's owner
    # reference agrees with the owner rendered separately.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "cockpit-lab/" + "/".join(parts)))


def owner_uid(kind: str, namespace: str, name: str) -> str:
    """The uid this module gives an object (a Node: namespace ""), and so the uid a pod's
    owner reference carries unless the caller knows the owner's real one."""
    return _uid(kind, namespace, name)


def _hex(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _metadata(
    name: str,
    *,
    namespace: str | None = None,
    uid: str = "",
    created: float | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if uid:
        meta["uid"] = uid
    if created is not None:
        meta["creationTimestamp"] = rfc3339(created)
    if labels:  # the apiserver omits empty maps
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


# --- selectors and scheduling constraints ------------------------------------------------------


def _requirement(r: Requirement) -> dict[str, Any]:
    out: dict[str, Any] = {"key": r.key, "operator": r.operator}
    if r.values:
        out["values"] = list(r.values)
    return out


def _selector(s: LabelSelector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if s.match_labels:
        out["matchLabels"] = dict(s.match_labels)
    if s.match_expressions:
        out["matchExpressions"] = [_requirement(r) for r in s.match_expressions]
    return out


def _toleration(t: Toleration) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if t.key:
        out["key"] = t.key
    out["operator"] = t.operator
    if t.value:
        out["value"] = t.value
    if t.effect:
        out["effect"] = t.effect
    if t.toleration_seconds is not None:
        out["tolerationSeconds"] = t.toleration_seconds
    return out


def _taint(t: Taint) -> dict[str, Any]:
    out: dict[str, Any] = {"key": t.key, "effect": t.effect}
    if t.value:
        out["value"] = t.value
    return out


def _affinity_term(term: AffinityTerm) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labelSelector": _selector(term.selector),
        "topologyKey": term.topology_key,
    }
    if term.namespaces:
        out["namespaces"] = list(term.namespaces)
    return out


def _spread(c: SpreadConstraint) -> dict[str, Any]:
    return {
        "maxSkew": c.max_skew,
        "topologyKey": c.topology_key,
        "whenUnsatisfiable": c.when_unsatisfiable,
        "labelSelector": _selector(c.selector),
    }


def _affinity(pod: Pod) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if pod.node_affinity:
        terms = [{"matchExpressions": [_requirement(r) for r in t]} for t in pod.node_affinity]
        out["nodeAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
        }
    if pod.anti_affinity:
        out["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                _affinity_term(t) for t in pod.anti_affinity
            ]
        }
    return out


# --- pods --------------------------------------------------------------------------------------


def apiserver_defaults(pod: Pod) -> Pod:
    """The pod as a real apiserver stores it after defaulting and admission:

    * DefaultTolerationSeconds: not-ready and unreachable NoExecute tolerations for 300 s,
      unless the pod already tolerates those taints (an empty key or effect counts).
    * SetDefaults_Pod: a container's request left unset where its limit is set defaults to
      the limit (on pods only, never on a workload's template).
    """
    tolerations = pod.tolerations
    for key in (NOT_READY, UNREACHABLE):
        if not any(t.key in ("", key) and t.effect in ("", "NoExecute") for t in pod.tolerations):
            tolerations += (
                Toleration(
                    key, "Exists", effect="NoExecute", toleration_seconds=DEFAULT_TOLERATION_SECONDS
                ),
            )
    containers = tuple(_default_requests(c) for c in pod.containers)
    init_containers = tuple(_default_requests(c) for c in pod.init_containers)
    if (
        tolerations == pod.tolerations
        and containers == pod.containers
        and init_containers == pod.init_containers
    ):
        return pod
    return replace(
        pod, tolerations=tolerations, containers=containers, init_containers=init_containers
    )


def _default_requests(c: Container) -> Container:
    req, lim = c.requests, c.limits
    cpu = lim.cpu if req.cpu is None else req.cpu
    memory = lim.memory if req.memory is None else req.memory
    if cpu == req.cpu and memory == req.memory:
        return c
    return replace(c, requests=Resources(cpu, memory))


def _pull_policy(image: str) -> str:
    # The apiserver's default: Always for ":latest" or no tag, IfNotPresent otherwise.
    if "@" in image:
        return "IfNotPresent"
    tail = image.rsplit("/", 1)[-1]
    tag = tail.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _container(c: Container, mounts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name}
    if c.image:
        out["image"] = c.image
        out["imagePullPolicy"] = _pull_policy(c.image)
    resources: dict[str, Any] = {}
    if requests := _quantities(c.requests):
        resources["requests"] = requests
    if limits := _quantities(c.limits):
        resources["limits"] = limits
    out["resources"] = resources
    if c.restart_policy:
        out["restartPolicy"] = c.restart_policy
    out["terminationMessagePath"] = "/dev/termination-log"
    out["terminationMessagePolicy"] = "File"
    if mounts:
        out["volumeMounts"] = mounts
    return out


def _volume(kind: str, index: int, pod: Pod, base: str) -> dict[str, Any]:
    """A volume named vol-N with the smallest body that is valid for its source."""
    name = f"vol-{index}"
    body: dict[str, Any]
    if kind == "persistentVolumeClaim":
        owner = pod.owner
        # A StatefulSet's claims are "<claim template>-<pod>"; other pods share one claim.
        if owner is not None and owner.kind == "StatefulSet":
            body = {"claimName": f"{name}-{pod.name}"}
        else:
            body = {"claimName": f"{base}-{name}"}
    elif kind == "hostPath":
        body = {"path": f"/var/lib/{base}/{name}", "type": ""}
    elif kind == "configMap":
        body = {"name": f"{base}-config", "defaultMode": 420}
    elif kind == "secret":
        body = {"secretName": f"{base}-secret", "defaultMode": 420}
    elif kind in ("projected", "downwardAPI"):
        body = {"defaultMode": 420, "sources" if kind == "projected" else "items": []}
    elif kind == "nfs":
        body = {"server": "nas.lan", "path": f"/export/{base}"}
    elif kind == "csi":
        body = {"driver": "driver.lab.invalid"}
    else:
        body = {}  # emptyDir and anything else: no required fields
    return {"name": name, kind: body}


def _base_name(pod: Pod) -> str:
    key = workload_key_of(pod)
    return key[2] if key is not None else pod.name


def _pod_spec(
    pod: Pod, *, template: bool = False, claims_from_templates: bool = False
) -> dict[str, Any]:
    """spec of a pod or of a pod template (no nodeName: the caller adds it).

    template: leave out what Priority admission fills in on each pod (priority, and
    preemptionPolicy unless it differs from the default), as a real template does.
    claims_from_templates: leave the claim volumes out, as a StatefulSet's template does
    (its controller adds one per volumeClaimTemplate); the mounts still name them.
    """
    base = _base_name(pod)
    volumes = [_volume(kind, i, pod, base) for i, kind in enumerate(pod.volume_kinds)]
    mounts = [{"name": v["name"], "mountPath": f"/mnt/{v['name']}"} for v in volumes]
    if claims_from_templates:
        volumes = [v for v in volumes if "persistentVolumeClaim" not in v]
    spec: dict[str, Any] = {
        "containers": [
            _container(c, mounts if i == 0 else None) for i, c in enumerate(pod.containers)
        ],
    }
    if pod.init_containers:
        spec["initContainers"] = [_container(c) for c in pod.init_containers]
    spec.update(
        restartPolicy="Always",
        terminationGracePeriodSeconds=30,
        dnsPolicy="ClusterFirst",
        serviceAccountName="default",
        serviceAccount="default",
        securityContext={},
        schedulerName="default-scheduler",
        enableServiceLinks=True,
    )
    if not template:
        spec["priority"] = pod.priority
    if not template or pod.preemption_policy != "PreemptLowerPriority":
        spec["preemptionPolicy"] = pod.preemption_policy
    if pod.priority_class:
        spec["priorityClassName"] = pod.priority_class
    if pod.tolerations:
        spec["tolerations"] = [_toleration(t) for t in pod.tolerations]
    if pod.node_selector:
        spec["nodeSelector"] = dict(pod.node_selector)
    if affinity := _affinity(pod):
        spec["affinity"] = affinity
    if pod.spread:
        spec["topologySpreadConstraints"] = [_spread(c) for c in pod.spread]
    if volumes:
        spec["volumes"] = volumes
    if overhead := _quantities(pod.overhead):
        spec["overhead"] = overhead
    return spec


def _owner_reference(pod: Pod, uid_of_owner: str) -> dict[str, Any] | None:
    owner = pod.owner
    if owner is None:
        return None
    api = _OWNER_API.get(owner.kind, "v1")
    namespace = "" if owner.kind == "Node" else pod.namespace
    ref: dict[str, Any] = {
        "apiVersion": api,
        "kind": owner.kind,
        "name": owner.name,
        "uid": uid_of_owner or owner_uid(owner.kind, namespace, owner.name),
        "controller": True,
    }
    if owner.kind != "Node":  # the kubelet's mirror-pod reference has no blockOwnerDeletion
        ref["blockOwnerDeletion"] = True
    return ref


def _pod_ip(pod: Pod) -> str:
    # Deterministic, inside k3s' default 10.42.0.0/16 cluster CIDR, and in the upper half
    # so it does not collide with addresses the lab's kubelets hand out from the bottom.
    h = int(_hex(pod.namespace, pod.name)[:8], 16)
    return f"10.42.{128 + h % 120}.{2 + (h >> 8) % 250}"


def pod_object(
    pod: Pod,
    *,
    uid_of_owner: str = "",
    host_ip: str = "",
    pod_ip: str | None = None,
    admitted: bool = True,
) -> dict[str, Any]:
    """A v1 Pod as the apiserver returns it.

    uid_of_owner: the controller's real uid, when the caller created it; otherwise the
    stable uid ``owner_uid`` gives. host_ip: the node's InternalIP, when known. pod_ip:
    defaults to a stable address for a bound, started pod. admitted: apply
    ``apiserver_defaults`` first (see the module docstring).

    Lossy on purpose: `usage` (see pod_metrics_object) and `profile` (a lab-file planning
    figure) are not rendered; `created` keeps whole seconds; `ready` is rendered only for a
    bound Running pod (nothing else can be Ready); all restarts are counted on the first
    container.
    """
    if admitted:
        pod = apiserver_defaults(pod)
    meta = _metadata(
        pod.name,
        namespace=pod.namespace,
        uid=pod.uid,
        created=pod.created,
        labels=pod.labels,
        annotations=pod.annotations,
    )
    if pod.owner is not None and pod.owner.kind in ("ReplicaSet", "DaemonSet", "Job"):
        meta["generateName"] = f"{pod.owner.name}-"
    ref = _owner_reference(pod, uid_of_owner)
    if ref is not None:
        meta["ownerReferences"] = [ref]
    spec = _pod_spec(pod)
    if pod.node is not None:
        spec["nodeName"] = pod.node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": _pod_status(pod, host_ip, pod_ip),
    }


def _condition(kind: str, status: bool | str, at: str, reason: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": kind,
        "status": status if isinstance(status, str) else ("True" if status else "False"),
        "lastProbeTime": None,
        "lastTransitionTime": at,
    }
    if reason:
        out["reason"] = reason
    return out


def _pod_status(pod: Pod, host_ip: str, pod_ip: str | None) -> dict[str, Any]:
    at = rfc3339(pod.created)
    status: dict[str, Any] = {"phase": pod.phase}
    if pod.node is None:
        # Unbound: the scheduler has looked and found no place (the lab's plan placed all
        # it could), which is the only condition such a pod has.
        status["conditions"] = [_condition("PodScheduled", False, at, "Unschedulable")]
        status["qosClass"] = qos_class(pod)
        return status
    started = pod.phase in ("Running", "Succeeded", "Failed")
    ready = pod.ready and pod.phase == "Running"
    status["conditions"] = [
        _condition("PodReadyToStartContainers", started, at),
        _condition("Initialized", started or not pod.init_containers, at),
        _condition("Ready", ready, at, "" if ready else _not_ready_reason(pod)),
        _condition("ContainersReady", ready, at, "" if ready else _not_ready_reason(pod)),
        _condition("PodScheduled", True, at),
    ]
    if host_ip:
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
    if pod.phase == "Running":
        address = pod_ip or _pod_ip(pod)
        status["podIP"] = address
        status["podIPs"] = [{"ip": address}]
    status["startTime"] = at
    if pod.init_containers:
        status["initContainerStatuses"] = [
            _container_status(pod, c, restarts=0, ready=ready, init=True)
            for c in pod.init_containers
        ]
    status["containerStatuses"] = [
        _container_status(pod, c, restarts=pod.restarts if i == 0 else 0, ready=ready)
        for i, c in enumerate(pod.containers)
    ]
    status["qosClass"] = qos_class(pod)
    return status


def _not_ready_reason(pod: Pod) -> str:
    return "PodCompleted" if pod.phase in ("Succeeded", "Failed") else "ContainersNotReady"


def _container_status(
    pod: Pod, c: Container, *, restarts: int, ready: bool, init: bool = False
) -> dict[str, Any]:
    at = rfc3339(pod.created)
    sidecar = init and c.restart_policy == "Always"
    state: dict[str, Any]
    if pod.phase == "Pending":
        state = {"waiting": {"reason": "PodInitializing" if init else "ContainerCreating"}}
    elif pod.phase == "Running" and (sidecar or not init):
        state = {"running": {"startedAt": at}}
    else:
        failed = pod.phase == "Failed" and not init
        state = {
            "terminated": {
                "exitCode": 1 if failed else 0,
                "reason": "Error" if failed else "Completed",
                "startedAt": at,
                "finishedAt": at,
                "containerID": _container_id(pod, c),
            }
        }
    running = "running" in state
    image = c.image
    return {
        "name": c.name,
        "image": image,
        "imageID": f"{_repository(image)}@sha256:{_hex('image', image)}" if image else "",
        "containerID": _container_id(pod, c) if pod.phase != "Pending" else "",
        "ready": ready if (sidecar or not init) else False,  # a finished init is not ready
        "started": running,
        "restartCount": restarts,
        "state": state,
        "lastState": {},
    }


def _container_id(pod: Pod, c: Container) -> str:
    return "containerd://" + _hex(pod.uid or pod.namespace, pod.name, c.name)


def _repository(image: str) -> str:
    head, _, tail = image.rpartition("/")
    name = tail.partition("@")[0].partition(":")[0]
    return f"{head}/{name}" if head else name


# --- nodes -------------------------------------------------------------------------------------


_PRESSURE = MappingProxyType(
    {
        # condition: (reason when False, message when False, reason when True, message when True)
        "MemoryPressure": (
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            "KubeletHasInsufficientMemory",
            "kubelet has insufficient memory available",
        ),
        "DiskPressure": (
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
            "KubeletHasDiskPressure",
            "kubelet has disk pressure",
        ),
        "PIDPressure": (
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            "KubeletHasInsufficientPID",
            "kubelet has insufficient PID available",
        ),
    }
)


def node_conditions(node: Node) -> dict[str, str]:
    """The conditions node_object writes: the record's own, plus the three pressure
    conditions a kubelet always reports (Unknown once the node stopped reporting, as the
    node lifecycle controller sets them; False otherwise)."""
    ready = node.conditions.get("Ready", "True")
    filler = "Unknown" if ready == "Unknown" else "False"
    out = {kind: node.conditions.get(kind, filler) for kind in _PRESSURE}
    out["Ready"] = ready
    for kind, status in node.conditions.items():
        out.setdefault(kind, status)
    return out


def _node_condition(kind: str, status: str, heartbeat: str, transition: str) -> dict[str, Any]:
    if status == "Unknown":
        reason, message = "NodeStatusUnknown", "Kubelet stopped posting node status."
    elif kind == "Ready":
        reason, message = (
            ("KubeletReady", "kubelet is posting ready status")
            if status == "True"
            else ("KubeletNotReady", "container runtime is down")
        )
    elif kind in _PRESSURE:
        texts = _PRESSURE[kind]
        reason, message = (texts[2], texts[3]) if status == "True" else (texts[0], texts[1])
    else:
        reason, message = kind, ""
    return {
        "type": kind,
        "status": status,
        "lastHeartbeatTime": heartbeat,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }


def node_object(
    node: Node,
    *,
    created: float,
    kubelet_version: str = "v1.31.4+k3s1",
    os_image: str = "Ubuntu 24.04.1 LTS",
    kernel_version: str = "6.8.0-51-generic",
    container_runtime: str = "containerd://1.7.23-k3s2",
    heartbeat: float | None = None,
) -> dict[str, Any]:
    """A v1 Node as its kubelet reports it. The architecture and OS in nodeInfo come from
    the node's kubernetes.io/arch and kubernetes.io/os labels.

    Lossy on purpose: `usage` (see node_metrics_object). Conditions gain the pressure
    conditions a kubelet always reports (see ``node_conditions``).
    """
    beat = rfc3339(created if heartbeat is None else heartbeat)
    since = rfc3339(created)
    labels = node.labels
    spec: dict[str, Any] = {}
    if node.provider_id:
        spec["providerID"] = node.provider_id
    if node.taints:
        spec["taints"] = [_taint(t) for t in node.taints]
    if node.unschedulable:
        spec["unschedulable"] = True
    capacity = _node_quantities(node.capacity, node.pods_allocatable)
    allocatable = _node_quantities(node.allocatable, node.pods_allocatable)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _metadata(
            node.name,
            uid=owner_uid("Node", "", node.name),
            created=created,
            labels=labels,
            annotations={
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        ),
        "spec": spec,
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [
                _node_condition(kind, status, beat, since)
                for kind, status in node_conditions(node).items()
            ],
            "addresses": [{"type": kind, "address": addr} for kind, addr in node.addresses],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": _hex("machine", node.name)[:32],
                "systemUUID": str(uuid.UUID(_hex("system", node.name)[:32])),
                "bootID": str(uuid.UUID(_hex("boot", node.name, str(created))[:32])),
                "kernelVersion": kernel_version,
                "osImage": os_image,
                "containerRuntimeVersion": container_runtime,
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": kubelet_version,
                "operatingSystem": labels.get("kubernetes.io/os", "linux"),
                "architecture": labels.get("kubernetes.io/arch", "amd64"),
            },
            "images": [],
        },
    }


def _node_quantities(r: Resources, pods: int) -> dict[str, str]:
    return {
        "cpu": format_cpu_quantity(r.cpu_or_zero),
        "memory": format_memory_quantity(r.memory_or_zero),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "pods": str(pods),
    }


# --- workloads ---------------------------------------------------------------------------------


def _template(workload: Workload, pod: Pod) -> dict[str, Any]:
    """The pod template a workload's pods were made from: the per-pod labels, the
    DaemonSet controller's tolerations and (for a StatefulSet) the claim volumes are the
    controller's additions, not the template's."""
    labels = {k: v for k, v in pod.labels.items() if k not in _PER_POD_LABELS}
    annotations = {k: v for k, v in pod.annotations.items() if k != "kubernetes.io/config.mirror"}
    if workload.kind == "DaemonSet":
        pod = replace(
            pod, tolerations=tuple(t for t in pod.tolerations if t not in DAEMONSET_TOLERATIONS)
        )
    meta: dict[str, Any] = {"labels": labels} if labels else {}
    if annotations:
        meta["annotations"] = annotations
    return {
        "metadata": meta,
        "spec": _pod_spec(pod, template=True, claims_from_templates=workload.kind == "StatefulSet"),
    }


def _claim_templates(pod: Pod) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"vol-{i}"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Pending"},
        }
        for i, kind in enumerate(pod.volume_kinds)
        if kind == "persistentVolumeClaim"
    ]


def workload_object(workload: Workload, template: Pod, *, created: float) -> dict[str, Any]:
    """A Deployment, StatefulSet or DaemonSet with the defaults the apiserver fills in,
    its pod template taken from one of its pods, and the status its controller last wrote
    (from the record's ready_replicas; none when that is unknown)."""
    kind = workload.kind
    spec: dict[str, Any] = {
        "selector": _selector(workload.selector),
        "template": _template(workload, template),
        "revisionHistoryLimit": 10,
    }
    if kind == "Deployment":
        spec.update(
            replicas=workload.replicas,
            strategy={
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            progressDeadlineSeconds=600,
        )
    elif kind == "StatefulSet":
        spec.update(
            replicas=workload.replicas,
            serviceName=workload.name,
            podManagementPolicy="OrderedReady",
            updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            persistentVolumeClaimRetentionPolicy={
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
        )
        if claims := _claim_templates(template):
            spec["volumeClaimTemplates"] = claims
    else:
        spec["updateStrategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
        }
    meta = _metadata(
        workload.name,
        namespace=workload.namespace,
        uid=owner_uid(kind, workload.namespace, workload.name),
        created=created,
        labels=workload.labels,
        annotations=workload.annotations,
    )
    meta["generation"] = 1
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": meta,
        "spec": spec,
        "status": _workload_status(workload),
    }


def _workload_status(w: Workload) -> dict[str, Any]:
    ready = w.ready_replicas
    if ready is None:
        return {}
    status: dict[str, Any] = {"observedGeneration": 1}
    if w.kind == "DaemonSet":
        status.update(
            desiredNumberScheduled=w.replicas,
            currentNumberScheduled=w.replicas,
            numberMisscheduled=0,
            numberReady=ready,
            numberAvailable=ready,
            updatedNumberScheduled=w.replicas,
        )
        if w.replicas > ready:
            status["numberUnavailable"] = w.replicas - ready
        return status
    status["replicas"] = w.replicas
    if ready:  # the apps/v1 types omit these when zero
        status.update(readyReplicas=ready, availableReplicas=ready)
    if w.kind == "StatefulSet":
        status.update(currentReplicas=w.replicas, updatedReplicas=w.replicas, collisionCount=0)
        return status
    status["updatedReplicas"] = w.replicas
    if w.replicas > ready:
        status["unavailableReplicas"] = w.replicas - ready
    status["conditions"] = [
        {
            "type": "Available",
            "status": "True" if ready >= w.replicas else "False",
            "reason": "MinimumReplicasAvailable"
            if ready >= w.replicas
            else "MinimumReplicasUnavailable",
        }
    ]
    return status


# --- budgets, priority classes, namespaces ------------------------------------------------------


def pdb_object(pdb: Pdb) -> dict[str, Any]:
    """A policy/v1 PodDisruptionBudget with the zeroed status a new budget has until the
    disruption controller counts its pods."""
    spec: dict[str, Any] = {"selector": _selector(pdb.selector)}
    if pdb.min_available is not None:
        spec["minAvailable"] = pdb.min_available
    if pdb.max_unavailable is not None:
        spec["maxUnavailable"] = pdb.max_unavailable
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(
            pdb.name,
            namespace=pdb.namespace,
            uid=owner_uid("PodDisruptionBudget", pdb.namespace, pdb.name),
        ),
        "spec": spec,
        "status": {
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "disruptionsAllowed": 0,
            "expectedPods": 0,
        },
    }


def priority_class_object(pc: PriorityClass) -> dict[str, Any]:
    """A scheduling.k8s.io/v1 PriorityClass (globalDefault and description are omitted
    when false/empty, as the apiserver does)."""
    out: dict[str, Any] = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": _metadata(pc.name, uid=owner_uid("PriorityClass", "", pc.name)),
        "value": pc.value,
        "preemptionPolicy": pc.preemption_policy,
    }
    if pc.global_default:
        out["globalDefault"] = True
    if pc.description:
        out["description"] = pc.description
    return out


def namespace_object(name: str) -> dict[str, Any]:
    """A v1 Namespace, Active, with the label the apiserver adds to every namespace."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _metadata(
            name,
            uid=owner_uid("Namespace", "", name),
            labels={"kubernetes.io/metadata.name": name},
        ),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


# --- metrics.k8s.io ----------------------------------------------------------------------------


def node_metrics_object(
    name: str,
    usage: Resources,
    timestamp: float,
    *,
    labels: Mapping[str, str] | None = None,
    window: str = "15s",
) -> dict[str, Any]:
    """A NodeMetrics as metrics-server serves it (creationTimestamp is the time of the
    request, and the node's labels are copied when given)."""
    return {
        "kind": "NodeMetrics",
        "apiVersion": METRICS_API,
        "metadata": _metadata(name, created=timestamp, labels=labels),
        "timestamp": rfc3339(timestamp),
        "window": window,
        "usage": _usage(usage),
    }


def _usage(r: Resources) -> dict[str, str]:
    # metrics-server always reports both; an unknown one reads as zero.
    return {
        "cpu": format_cpu_quantity(r.cpu_or_zero),
        "memory": format_memory_quantity(r.memory_or_zero),
    }


def pod_metrics_object(
    pod: Pod, usage: Resources, timestamp: float, *, window: str = "15s"
) -> dict[str, Any]:
    """A PodMetrics as metrics-server serves it: the pod's usage split over its running
    containers (app containers and sidecars) in proportion to their requests, so the sum
    is exactly `usage`."""
    running = [*pod.containers, *(c for c in pod.init_containers if c.restart_policy == "Always")]
    names = [c.name for c in running] or [pod.name]
    cpu = _split(usage.cpu_or_zero, [c.requests.cpu_or_zero for c in running] or [1])
    memory = _split(usage.memory_or_zero, [c.requests.memory_or_zero for c in running] or [1])
    return {
        "kind": "PodMetrics",
        "apiVersion": METRICS_API,
        "metadata": _metadata(
            pod.name, namespace=pod.namespace, created=timestamp, labels=pod.labels
        ),
        "timestamp": rfc3339(timestamp),
        "window": window,
        "containers": [
            {"name": n, "usage": _usage(Resources(c, m))}
            for n, c, m in zip(names, cpu, memory, strict=True)
        ],
    }


def _split(total: int, weights: list[int]) -> list[int]:
    """total in whole parts proportional to weights (equal when all are zero); the
    rounding remainder goes to the first part so the parts add up exactly."""
    if not any(weights):
        weights = [1] * len(weights)
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    parts[0] += total - sum(parts)
    return parts
