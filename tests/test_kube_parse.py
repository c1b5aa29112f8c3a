"""Tests for cockpit.sources.kube_parse (Kubernetes JSON -> model) and cockpit.lab.kube.objects
(model -> Kubernetes JSON): real captures with values read off the files, a round trip over
the built-in n100 lab, cross-checks against the official kubernetes client, a property test
for quantities, error wording, and a 10,000-pod list.

Fields the render deliberately does not carry (``carried`` below applies them):

* Pod.usage and Node.usage: served by the metrics objects, not by the Pod/Node.
* Pod.profile: a lab-file planning figure with no Kubernetes field.
* Pod.created: metav1.Time keeps whole seconds, so a fraction is dropped.
* Pod.ready: only a bound, Running pod can carry Ready=True.
* Node.conditions: the render adds the pressure conditions every kubelet reports.
* restarts: all on the first container, so only the sum survives; kubectl (and the parser)
  reads a pod that is still initializing as the init containers' restarts.
* admitted pods (the default) gain the apiserver's defaults (``apiserver_defaults``).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes.client import ApiClient
from kubernetes.utils import parse_quantity as k8s_quantity

from cockpit import labfile
from cockpit.lab.kube.objects import (
    DEFAULT_TOLERATION_SECONDS,
    apiserver_defaults,
    format_cpu_quantity,
    format_memory_quantity,
    namespace_object,
    node_conditions,
    node_metrics_object,
    node_object,
    owner_uid,
    pdb_object,
    pod_metrics_object,
    pod_object,
    priority_class_object,
    rfc3339,
    workload_object,
)
from cockpit.labfile import DAEMONSET_TOLERATIONS
from cockpit.model import (
    AffinityTerm,
    Container,
    LabelSelector,
    Node,
    OwnerRef,
    Pdb,
    Pod,
    PriorityClass,
    Requirement,
    Resources,
    SpreadConstraint,
    Taint,
    Toleration,
    UsageProfile,
    Workload,
    qos_class,
    workload_key_of,
)
from cockpit.sources.kube_parse import (
    parse_list,
    parse_node,
    parse_node_metrics,
    parse_pdb,
    parse_pod,
    parse_pod_metrics,
    parse_priority_class,
    parse_time,
    parse_workload,
)
from cockpit.units import parse_bytes, parse_cpu

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "kube"
Ki, Mi, Gi = 2**10, 2**20, 2**30
T0 = 1_760_000_000.0  # when the rendered lab objects were "created"


def load(name: str) -> Any:
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"fixture capture {path} is missing (see /work/shared/fixtures/SOURCES.md)")
    return orjson.loads(path.read_bytes())


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def wire(obj: dict) -> dict:
    """Through JSON bytes and back, as the objects travel between apiserver and cockpit."""
    return orjson.loads(orjson.dumps(obj))


@pytest.fixture(scope="module")
def snapshot():
    return labfile.load("n100").snapshot


@pytest.fixture(scope="module")
def api():
    client = ApiClient()
    yield client
    client.close()


def client_model(api: ApiClient, obj: dict, klass: str) -> Any:
    """The official client's reading of our JSON (its model classes validate required
    fields, so an incomplete ownerReference or container status raises here)."""
    return api.deserialize(json.dumps(obj), klass, "application/json")


# ============================================================ real captures


def check_nodes(doc: dict) -> None:
    nodes, rv, token = parse_list(doc, parse_node)
    assert (rv, token) == ("", "")
    by = {n.name: n for n in nodes}
    assert list(by) == ["k8rs-control-plane", "k8rs-worker", "k8rs-worker2", "k8rs-worker3"]
    cp = by["k8rs-control-plane"]
    assert cp.capacity == cp.allocatable == Resources(12_000, 24_277_416 * Ki)
    assert cp.pods_allocatable == 110
    assert cp.taints == (Taint("node-role.kubernetes.io/control-plane", "NoSchedule"),)
    assert cp.labels["node-role.kubernetes.io/control-plane"] == ""
    assert cp.arch == "amd64" and cp.ready and not cp.unschedulable
    assert cp.provider_id == "kind://docker/k8rs/k8rs-control-plane"
    assert cp.addresses == (("InternalIP", "REDACTED-IP"), ("Hostname", "k8rs-control-plane"))
    assert cp.conditions == {
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
        "Ready": "True",
    }
    cordoned = by["k8rs-worker"]
    assert cordoned.unschedulable is True
    assert cordoned.taints == (Taint("node.kubernetes.io/unschedulable", "NoSchedule"),)
    assert by["k8rs-worker2"].taints == (Taint("dedicated", "NoExecute", "gpu"),)
    lost = by["k8rs-worker3"]
    assert not lost.ready and set(lost.conditions.values()) == {"Unknown"}
    assert lost.taints == (
        Taint("node.kubernetes.io/unreachable", "NoSchedule"),
        Taint("node.kubernetes.io/unreachable", "NoExecute"),
    )


def check_kube_system(doc: dict) -> None:
    pods, _, _ = parse_list(doc, parse_pod)
    assert len(pods) == 14
    by = {p.name: p for p in pods}
    dns = by["coredns-589f44dc88-hdrv5"]
    assert dns.namespace == "kube-system" and dns.node == "k8rs-control-plane"
    assert dns.containers[0].requests == Resources(100, 70 * Mi)
    assert dns.containers[0].limits == Resources(None, 170 * Mi)
    assert dns.owner == OwnerRef("ReplicaSet", "coredns-589f44dc88")
    assert workload_key_of(dns) == ("Deployment", "kube-system", "coredns")
    assert (dns.priority, dns.priority_class) == (2_000_000_000, "system-cluster-critical")
    assert dns.node_selector == {"kubernetes.io/os": "linux"}
    assert dns.volume_kinds == ("configMap", "projected")
    assert dns.anti_affinity == ()  # its anti-affinity is only preferred
    assert dns.created == utc(2026, 8, 20, 22, 42, 35)
    # a toleration without an operator is an Equal one
    assert Toleration("node-role.kubernetes.io/control-plane", "Equal", "", "NoSchedule") in (
        dns.tolerations
    )
    etcd = by["etcd-k8rs-control-plane"]
    assert etcd.owner == OwnerRef("Node", "k8rs-control-plane")
    assert etcd.requests == Resources(100, 100 * Mi) and etcd.priority == 2_000_001_000
    assert etcd.tolerations == (Toleration("", "Exists", effect="NoExecute"),)
    kindnet = by["kindnet-bhzgd"]
    assert kindnet.is_daemonset and kindnet.qos == "Guaranteed"
    assert kindnet.volume_kinds == ("hostPath",) * 4 + ("projected",)
    # the DaemonSet controller's matchFields pin cannot be held by the model: dropped
    assert kindnet.node_affinity == ()
    assert by["kube-apiserver-k8rs-control-plane"].requests == Resources(250, None)
    assert all(p.ready and p.phase == "Running" and p.restarts == 0 for p in pods)


def check_crashloop(doc: dict) -> None:
    pod = parse_pod(doc)
    assert pod.key == ("default", "broken-crashloop")
    assert pod.uid == "eadf8a2f-4b9a-412a-8d50-ca98e8461183"
    assert pod.restarts == 10 and pod.ready is False and pod.phase == "Running"
    assert pod.node == "k8rs-worker" and pod.owner is None
    assert pod.containers == (Container("quitter", "busybox"),)
    assert pod.qos == "BestEffort" and pod.labels == {"demo": "broken"}
    assert pod.created == utc(2026, 8, 20, 22, 42, 54)
    assert {t.toleration_seconds for t in pod.tolerations} == {300}


def check_oom(doc: dict) -> None:
    pod = parse_pod(doc)
    assert pod.name == "broken-oom" and pod.node == "k8rs-worker3"
    (hog,) = pod.containers
    assert (hog.name, hog.image) == ("hog", "polinux/stress")
    assert hog.limits == hog.requests == Resources(None, 64 * Mi)
    assert pod.restarts == 10 and not pod.ready
    assert pod.qos == "Burstable"  # no CPU limit, so not Guaranteed


def check_deployments(doc: dict) -> None:
    workloads, _, _ = parse_list(doc, parse_workload)
    by = {w.name: w for w in workloads}
    assert len(workloads) == 6 and all(w.kind == "Deployment" for w in workloads)
    dns = by["coredns"]
    assert dns.key == ("Deployment", "kube-system", "coredns")
    assert (dns.replicas, dns.ready_replicas) == (2, 2)
    assert dns.selector == LabelSelector({"k8s-app": "kube-dns"})
    assert dns.labels == {"k8s-app": "kube-dns"}
    # the controller omits readyReplicas when it is zero
    assert (by["broken-quota"].replicas, by["broken-quota"].ready_replicas) == (1, 0)
    assert by["broken-rollout"].replicas == 2  # spec, not status.replicas (3 mid-rollout)
    assert by["local-path-provisioner"].labels == {}
    # items of a raw API list have no kind: the caller names it
    bare = {**doc, "items": [{k: v for k, v in i.items() if k != "kind"} for i in doc["items"]]}
    assert parse_list(bare, parse_workload, "Deployment")[0] == workloads


def check_pdbs(doc: dict) -> None:
    pdbs, _, _ = parse_list(doc, parse_pdb)
    floor, room = pdbs
    assert floor == Pdb("default", "broken-pdb-floor", LabelSelector({"app": "healthy-deploy"}), 2)
    assert room.min_available == 1 and room.max_unavailable is None
    # the disruption controller's own figures agree with the model's arithmetic
    for pdb, raw in zip(pdbs, doc["items"], strict=True):
        status = raw["status"]
        assert pdb.desired_healthy(status["expectedPods"]) == status["desiredHealthy"]


def check_node_metrics(doc: dict) -> None:
    usage, rv, token = parse_list(doc, parse_node_metrics)
    # 298952967n is 298.95m, rounded up to whole millicores as MilliValue() does
    assert usage == [("k3d-kyv180rc1-server-0", Resources(299, 1_311_340 * Ki))]
    assert (rv, token) == ("", "")


def check_event(doc: dict) -> None:
    # No model record holds an Event; what must hold is that it is not mistaken for a list.
    with pytest.raises(ValueError, match="expected a List document, got a single Event"):
        parse_list(doc, parse_pod)


CAPTURES = {
    "k8rs-nodes.json": check_nodes,
    "k8rs-kube-system-pods.json": check_kube_system,
    "k8rs-crashloop.json": check_crashloop,
    "k8rs-oom.json": check_oom,
    "k8rs-deployments.json": check_deployments,
    "k8rs-poddisruptionbudgets.json": check_pdbs,
    "kyverno-docs-k3d-nodemetrics.json": check_node_metrics,
    "k9s-event-single.json": check_event,
}


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_capture(name):
    CAPTURES[name](load(name))


def test_every_capture_in_the_folder_is_checked():
    if not FIXTURES.is_dir():
        pytest.fail(f"fixture folder {FIXTURES} is missing")
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(CAPTURES)


def all_capture_pods() -> list[dict]:
    doc = load("k8rs-kube-system-pods.json")
    return [*doc["items"], load("k8rs-crashloop.json"), load("k8rs-oom.json")]


def test_qos_of_captured_pods_matches_the_apiserver():
    pods = all_capture_pods()
    assert {p["status"]["qosClass"] for p in pods} == {"BestEffort", "Burstable", "Guaranteed"}
    for raw in pods:
        assert qos_class(parse_pod(raw)) == raw["status"]["qosClass"], raw["metadata"]["name"]


def test_captured_quantities_agree_with_the_official_client():
    seen = 0
    for raw in all_capture_pods():
        pod = parse_pod(raw)
        for c, spec in zip(pod.containers, raw["spec"]["containers"], strict=True):
            for which in ("requests", "limits"):
                for key, text in spec.get("resources", {}).get(which, {}).items():
                    exact = k8s_quantity(text)
                    ours = getattr(getattr(c, which), key)
                    assert ours == (math.ceil(exact * 1000) if key == "cpu" else exact)
                    seen += 1
    assert seen > 20


def test_captured_tolerations_are_what_admission_adds():
    """The captures are real apiserver output, so they show what apiserver_defaults must
    add: the 300 s pair for a plain pod, nothing for pods that tolerate those taints."""
    captured = [parse_pod(p) for p in all_capture_pods()]
    crashloop = next(p for p in captured if p.name == "broken-crashloop")
    assert apiserver_defaults(replace(crashloop, tolerations=())) == crashloop
    for pod in captured:  # already admitted: applying the defaults again changes nothing
        assert apiserver_defaults(pod) == pod, pod.name


def test_captured_node_conditions_read_like_ours():
    """Reasons and messages of the render are the kubelet's and the lifecycle controller's."""
    doc = load("k8rs-nodes.json")
    for raw in (doc["items"][0], doc["items"][3]):  # Ready, and stopped posting status
        node = parse_node(raw)
        ours = node_object(node, created=T0)["status"]["conditions"]
        shape = lambda cs: {(c["type"], c["status"], c["reason"], c["message"]) for c in cs}  # noqa: E731
        assert shape(ours) == shape(raw["status"]["conditions"])


def test_metrics_objects_have_the_metrics_server_shape():
    captured = load("kyverno-docs-k3d-nodemetrics.json")
    item = captured["items"][0]
    ours = node_metrics_object(
        "n1", Resources(299, 1_311_340 * Ki), T0, labels={"kubernetes.io/os": "linux"}
    )
    assert set(ours) == set(item) | {"kind", "apiVersion"}
    assert ours["apiVersion"] == captured["apiVersion"]
    assert set(ours["metadata"]) == set(item["metadata"])
    assert ours["usage"] == {"cpu": "299m", "memory": item["usage"]["memory"]}
    pod = Pod("ns", "p", containers=(Container("a"),), labels={"app": "p"})
    pod_metrics = pod_metrics_object(pod, Resources(5, Mi), T0)
    assert set(pod_metrics) == {
        "kind",
        "apiVersion",
        "metadata",
        "timestamp",
        "window",
        "containers",
    }
    assert pod_metrics["kind"] == "PodMetrics" and pod_metrics["metadata"]["namespace"] == "ns"


# ============================================================ round trips over the n100 lab


def carried(pod: Pod) -> Pod:
    """The pod as parse(pod_object(pod, admitted=False)) gives it back (see the docstring)."""
    # A bound Pending pod is rendered still initializing (its first init container waits):
    # kubectl's RESTARTS then counts the init containers only, and the render puts none there.
    initializing = (
        pod.phase == "Pending"
        and pod.node is not None
        and any(c.restart_policy != "Always" for c in pod.init_containers)
    )
    return replace(
        pod,
        restarts=0 if initializing else pod.restarts,
        usage=None,
        profile=None,
        created=float(math.floor(pod.created)),
        ready=pod.ready and pod.node is not None and pod.phase == "Running",
    )


def without_triage(pod: Pod) -> Pod:
    """A parsed pod without what parse derives from the rendered status (container states,
    the scheduler's reason), which a lab-file Pod does not carry; checked on their own."""
    return replace(pod, container_states=(), unscheduled_reason="", unscheduled_message="")


def test_n100_pods_round_trip(snapshot):
    assert len(snapshot.pods) > 20
    for pod in snapshot.pods:
        parsed = parse_pod(wire(pod_object(pod, admitted=False)))
        assert without_triage(parsed) == carried(pod), pod.name
        admitted = parse_pod(wire(pod_object(pod)))
        assert without_triage(admitted) == carried(apiserver_defaults(pod)), pod.name
        names = [c.name for c in parsed.container_states if not c.init]
        assert names == [c.name for c in pod.containers], pod.name


def test_n100_pods_are_admitted_like_a_real_apiserver(snapshot):
    for pod in snapshot.pods:
        added = apiserver_defaults(pod).tolerations[len(pod.tolerations) :]
        if pod.is_daemonset:
            assert added == ()  # the DaemonSet tolerations already cover both taints
        else:
            assert [(t.key, t.toleration_seconds) for t in added] == [
                ("node.kubernetes.io/not-ready", DEFAULT_TOLERATION_SECONDS),
                ("node.kubernetes.io/unreachable", DEFAULT_TOLERATION_SECONDS),
            ], pod.name


def test_n100_nodes_round_trip(snapshot):
    for node in snapshot.nodes:
        back = parse_node(wire(node_object(node, created=T0)))
        assert back == replace(node, conditions=node_conditions(node), usage=None)
        assert set(back.conditions) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}


def test_n100_workloads_round_trip(snapshot):
    kinds = set()
    for workload in snapshot.workloads:
        template = snapshot.pods_by_workload[workload.key][0]
        obj = wire(workload_object(workload, template, created=T0))
        assert parse_workload(obj) == workload
        assert parse_workload({**obj, "kind": None}, workload.kind) == workload
        kinds.add(workload.kind)
    assert kinds == {"Deployment", "StatefulSet", "DaemonSet"}


def test_n100_templates_carry_the_pods_spec(snapshot):
    for workload in snapshot.workloads:
        pod = snapshot.pods_by_workload[workload.key][0]
        obj = workload_object(workload, pod, created=T0)
        template = obj["spec"]["template"]
        meta = {"name": "t", "namespace": workload.namespace, **template["metadata"]}
        back = parse_pod(wire({"metadata": meta, "spec": template["spec"]}))
        tolerations = pod.tolerations
        if workload.kind == "DaemonSet":  # the controller adds these to each pod
            tolerations = tuple(t for t in tolerations if t not in DAEMONSET_TOLERATIONS)
        assert back.containers == pod.containers and back.tolerations == tolerations
        assert back.priority_class == pod.priority_class and back.spread == pod.spread
        assert back.node_selector == pod.node_selector
        assert back.labels == {
            k: v
            for k, v in pod.labels.items()
            if k not in ("pod-template-hash", "statefulset.kubernetes.io/pod-name")
        }
        assert workload.selector.matches(back.labels)
        if workload.kind == "StatefulSet":  # claims come from volumeClaimTemplates
            claims = [c["metadata"]["name"] for c in obj["spec"].get("volumeClaimTemplates", [])]
            pod_claims = [
                v["name"]
                for v in pod_object(pod)["spec"].get("volumes", [])
                if "persistentVolumeClaim" in v
            ]
            assert claims == pod_claims
            assert "persistentVolumeClaim" not in back.volume_kinds
        else:
            assert back.volume_kinds == pod.volume_kinds


def test_n100_pdbs_and_priority_classes_round_trip(snapshot):
    assert snapshot.pdbs and snapshot.priority_classes
    for pdb in snapshot.pdbs:
        assert parse_pdb(wire(pdb_object(pdb))) == pdb
    for pc in snapshot.priority_classes:
        assert parse_priority_class(wire(priority_class_object(pc))) == pc
    assert any(pc.global_default for pc in snapshot.priority_classes)


# ============================================================ round trips of what n100 lacks

SELECTOR = LabelSelector(
    {"app": "sink"},
    (Requirement("tier", "In", ("web", "api")), Requirement("canary", "DoesNotExist")),
)
SINK = Pod(
    namespace="lab",
    name="sink-7f9c6-abcde",
    node="worker-1",
    phase="Running",
    uid="0b9c1f7e-0000-4000-8000-000000000001",
    labels={"app": "sink", "tier": "web", "pod-template-hash": "7f9c6"},
    annotations={"prometheus.io/scrape": "true"},
    containers=(
        Container("app", "ghcr.io/lab/app:1.2", Resources(250, 512 * Mi), Resources(1500, Gi)),
        Container("logs", "fluent/fluent-bit", Resources(10, None), Resources(None, 64 * Mi)),
    ),
    init_containers=(
        Container("migrate", "ghcr.io/lab/app:1.2", Resources(500, Gi), Resources(500, Gi)),
        Container(
            "proxy", "envoyproxy/envoy:v1.31", Resources(50, 32 * Mi), restart_policy="Always"
        ),
    ),
    overhead=Resources(10, 20 * Mi),
    owner=OwnerRef("ReplicaSet", "sink-7f9c6"),
    priority=1000,
    priority_class="apps",
    preemption_policy="Never",
    tolerations=(
        Toleration("dedicated", "Equal", "gpu", "NoSchedule"),
        Toleration("", "Exists", effect="NoExecute", toleration_seconds=60),
    ),
    node_selector={"kubernetes.io/os": "linux"},
    node_affinity=(
        (
            Requirement("kubernetes.io/arch", "In", ("amd64", "arm64")),
            Requirement("cores", "Gt", ("3",)),
        ),
        (Requirement("lab/spare", "Exists"),),
    ),
    anti_affinity=(AffinityTerm(SELECTOR, "kubernetes.io/hostname", ("lab", "other")),),
    spread=(SpreadConstraint(2, "topology.kubernetes.io/zone", "ScheduleAnyway", SELECTOR),),
    volume_kinds=(
        "emptyDir",
        "persistentVolumeClaim",
        "hostPath",
        "configMap",
        "secret",
        "projected",
        "downwardAPI",
        "nfs",
        "csi",
        "ephemeral",
    ),
    ready=True,
    restarts=7,
    created=T0 + 0.75,
    usage=Resources(120, 300 * Mi),
    profile=UsageProfile(Resources(100, 200 * Mi), Resources(900, 900 * Mi)),
)

VARIANTS = {
    "kitchen-sink": SINK,
    "unbound-pending": replace(SINK, node=None, phase="Pending", ready=True, restarts=0),
    "bound-pending": replace(SINK, phase="Pending", ready=False),
    "running-not-ready": replace(SINK, ready=False),
    "succeeded": replace(SINK, phase="Succeeded", owner=OwnerRef("Job", "nightly")),
    "failed": replace(SINK, phase="Failed", owner=None, uid=""),
    "mirror": Pod(
        "kube-system",
        "etcd-cp-1",
        node="cp-1",
        owner=OwnerRef("Node", "cp-1"),
        annotations={"kubernetes.io/config.mirror": "abc"},
        containers=(Container("etcd", "registry.k8s.io/etcd:3.5.16-0", Resources(100, 100 * Mi)),),
        tolerations=(Toleration("", "Exists", effect="NoExecute"),),
        priority=2_000_001_000,
        priority_class="system-node-critical",
        volume_kinds=("hostPath", "hostPath"),
        created=T0,
    ),
    "best-effort-statefulset": Pod(
        "data",
        "db-2",
        node="worker-2",
        owner=OwnerRef("StatefulSet", "db"),
        containers=(Container("db", "postgres:16"),),
        volume_kinds=("persistentVolumeClaim", "emptyDir"),
        created=T0,
    ),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_pods_round_trip(name):
    pod = VARIANTS[name]
    assert without_triage(parse_pod(wire(pod_object(pod, admitted=False)))) == carried(pod)
    assert without_triage(parse_pod(wire(pod_object(pod)))) == carried(apiserver_defaults(pod))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_pods_load_into_the_official_client(api, name):
    pod = VARIANTS[name]
    obj = pod_object(pod, host_ip="192.168.1.12")
    v1 = client_model(api, obj, "V1Pod")
    assert v1.metadata.name == pod.name and v1.metadata.namespace == pod.namespace
    assert v1.metadata.creation_timestamp == datetime.fromtimestamp(math.floor(pod.created), UTC)
    assert v1.spec.node_name == pod.node
    assert [c.name for c in v1.spec.containers] == [c.name for c in pod.containers]
    assert v1.status.qos_class == qos_class(apiserver_defaults(pod))
    assert v1.status.phase == pod.phase
    if pod.owner is not None:
        (ref,) = v1.metadata.owner_references
        assert (ref.kind, ref.name, ref.controller) == (pod.owner.kind, pod.owner.name, True)


def test_pod_object_details():
    obj = pod_object(SINK, host_ip="192.168.1.12", uid_of_owner="rs-uid")
    meta, spec, status = obj["metadata"], obj["spec"], obj["status"]
    assert meta["creationTimestamp"] == rfc3339(T0) and meta["generateName"] == "sink-7f9c6-"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "sink-7f9c6",
            "uid": "rs-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert spec["containers"][0]["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1500m", "memory": "1Gi"},
    }
    # admitted: the unset memory request of "logs" defaults to its limit
    assert spec["containers"][1]["resources"]["requests"] == {"cpu": "10m", "memory": "64Mi"}
    assert spec["initContainers"][1]["restartPolicy"] == "Always"
    assert spec["overhead"] == {"cpu": "10m", "memory": "20Mi"}
    assert spec["containers"][1]["imagePullPolicy"] == "Always"  # no tag
    assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    volumes = {next(k for k in v if k != "name"): v for v in spec["volumes"]}
    assert volumes["persistentVolumeClaim"]["persistentVolumeClaim"] == {"claimName": "sink-vol-1"}
    assert [v["name"] for v in spec["volumes"]] == [f"vol-{i}" for i in range(10)]
    assert status["hostIP"] == "192.168.1.12" and status["podIP"].startswith("10.42.")
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    assert status["containerStatuses"][0]["restartCount"] == 7
    assert status["containerStatuses"][0]["state"] == {"running": {"startedAt": rfc3339(T0)}}
    init = {s["name"]: s for s in status["initContainerStatuses"]}
    assert init["migrate"]["state"]["terminated"]["reason"] == "Completed"
    assert "running" in init["proxy"]["state"]  # a sidecar keeps running
    assert status["qosClass"] == "Burstable"


def test_unbound_and_mirror_pods_look_like_the_apiservers():
    unbound = pod_object(VARIANTS["unbound-pending"])
    assert "nodeName" not in unbound["spec"] and "podIP" not in unbound["status"]
    assert unbound["status"]["conditions"] == [
        {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": rfc3339(T0),
            "reason": "Unschedulable",
        }
    ]
    mirror = pod_object(VARIANTS["mirror"])
    (ref,) = mirror["metadata"]["ownerReferences"]
    # the kubelet's reference: core/v1, no blockOwnerDeletion, the Node's uid
    assert ref == {
        "apiVersion": "v1",
        "kind": "Node",
        "name": "cp-1",
        "uid": owner_uid("Node", "", "cp-1"),
        "controller": True,
    }
    node = node_object(Node("cp-1"), created=T0)
    assert node["metadata"]["uid"] == ref["uid"]


def test_statefulset_claims_are_named_like_the_controllers():
    pod = VARIANTS["best-effort-statefulset"]
    (claim,) = [v for v in pod_object(pod)["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert claim == {"name": "vol-0", "persistentVolumeClaim": {"claimName": "vol-0-db-2"}}
    sts = workload_object(Workload("StatefulSet", "data", "db", 3), pod, created=T0)
    assert [c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]] == ["vol-0"]
    assert [v["name"] for v in sts["spec"]["template"]["spec"]["volumes"]] == ["vol-1"]
    assert sts["spec"]["serviceName"] == "db"
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"


NODE = Node(
    name="edge-arm",
    capacity=Resources(4000, 8_148_384 * Ki),
    allocatable=Resources(3800, 8_148_384 * Ki - 100 * Mi),
    pods_allocatable=55,
    conditions={"Ready": "Unknown", "NetworkUnavailable": "False"},
    taints=(
        Taint("node.kubernetes.io/unreachable", "NoExecute"),
        Taint("gpu", "NoSchedule", "yes"),
    ),
    unschedulable=True,
    labels={"kubernetes.io/arch": "arm64", "kubernetes.io/os": "linux"},
    addresses=(("InternalIP", "100.64.0.7"), ("Hostname", "edge-arm")),
    provider_id="k3s://edge-arm",
    usage=Resources(900, Gi),
)


def test_node_variant_round_trips_and_loads(api):
    obj = node_object(NODE, created=T0, heartbeat=T0 + 60)
    back = parse_node(wire(obj))
    assert back == replace(NODE, conditions=node_conditions(NODE), usage=None)
    assert back.conditions["MemoryPressure"] == "Unknown"  # stopped reporting: all Unknown
    assert back.conditions["NetworkUnavailable"] == "False"
    status = obj["status"]
    assert status["capacity"]["memory"] == "8148384Ki" and status["capacity"]["cpu"] == "4"
    assert status["allocatable"]["cpu"] == "3800m" and status["allocatable"]["pods"] == "55"
    assert status["nodeInfo"]["architecture"] == "arm64"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "NodeStatusUnknown"
    assert ready["lastHeartbeatTime"] == rfc3339(T0 + 60)
    v1 = client_model(api, obj, "V1Node")
    assert v1.spec.unschedulable is True and v1.spec.provider_id == "k3s://edge-arm"
    assert v1.status.node_info.architecture == "arm64"
    assert {c.type for c in v1.status.conditions} == set(back.conditions)


def test_lab_objects_load_into_the_official_client(api, snapshot):
    for pod in snapshot.pods:
        v1 = client_model(api, pod_object(pod), "V1Pod")
        assert v1.status.qos_class == qos_class(apiserver_defaults(pod))
        assert v1.metadata.uid == pod.uid
    for node in snapshot.nodes:
        v1 = client_model(api, node_object(node, created=T0), "V1Node")
        assert v1.status.allocatable["memory"] == format_memory_quantity(node.allocatable.memory)
    klass = {
        "Deployment": "V1Deployment",
        "StatefulSet": "V1StatefulSet",
        "DaemonSet": "V1DaemonSet",
    }
    for w in snapshot.workloads:
        template = snapshot.pods_by_workload[w.key][0]
        v1 = client_model(api, workload_object(w, template, created=T0), klass[w.kind])
        assert v1.metadata.name == w.name and v1.spec.selector.match_labels == dict(
            w.selector.match_labels
        )
        ready = v1.status.number_ready if w.kind == "DaemonSet" else v1.status.ready_replicas
        assert ready == w.ready_replicas
    for pdb in snapshot.pdbs:
        v1 = client_model(api, pdb_object(pdb), "V1PodDisruptionBudget")
        assert v1.spec.min_available == pdb.min_available
    for pc in snapshot.priority_classes:
        v1 = client_model(api, priority_class_object(pc), "V1PriorityClass")
        assert (v1.value, bool(v1.global_default)) == (pc.value, pc.global_default)
    v1 = client_model(api, namespace_object("apps"), "V1Namespace")
    assert v1.status.phase == "Active"
    assert v1.metadata.labels == {"kubernetes.io/metadata.name": "apps"}


def quantities(value: Any, parent: str = "") -> list[tuple[str, str]]:
    """Every (resource name, quantity string) under a resources-like map."""
    out = []
    if isinstance(value, dict):
        for key, item in value.items():
            if parent in ("requests", "limits", "capacity", "allocatable", "usage", "overhead"):
                out.append((key, item))
            else:
                out.extend(quantities(item, key))
    elif isinstance(value, list):
        for item in value:
            out.extend(quantities(item, parent))
    return out


def test_every_emitted_quantity_parses_the_same_in_the_official_client(snapshot):
    objects = [pod_object(p) for p in (*snapshot.pods, *VARIANTS.values())]
    objects += [node_object(n, created=T0) for n in (*snapshot.nodes, NODE)]
    objects += [
        workload_object(w, snapshot.pods_by_workload[w.key][0], created=T0)
        for w in snapshot.workloads
    ]
    objects += [pod_metrics_object(SINK, Resources(1234, 5 * Gi + 3), T0)]
    objects += [node_metrics_object("n", Resources(2500, 3 * Gi), T0)]
    found = [q for obj in objects for q in quantities(obj)]
    assert {name for name, _ in found} >= {"cpu", "memory", "pods", "storage", "hugepages-2Mi"}
    for name, text in found:
        exact = k8s_quantity(text)
        if name == "cpu":
            assert exact * 1000 == parse_cpu(text), text
        else:
            assert exact == parse_bytes(text), text


# ============================================================ quantities

AMOUNTS = st.one_of(
    st.integers(0, 2**63 - 1),
    st.builds(lambda m, k: m << (10 * k), st.integers(0, 2**20), st.integers(0, 5)),
)


@given(cpu=st.none() | st.integers(0, 10**15), memory=st.none() | AMOUNTS)
def test_random_resources_survive_rendering(cpu, memory):
    r = Resources(cpu, memory)
    pod = Pod("ns", "p", containers=(Container("c", requests=r, limits=r),))
    container = pod_object(pod, admitted=False)["spec"]["containers"][0]
    for which in ("requests", "limits"):
        rendered = container["resources"].get(which, {})
        if cpu is not None:
            assert parse_cpu(rendered["cpu"]) == cpu
            assert k8s_quantity(rendered["cpu"]) * 1000 == cpu
        if memory is not None:
            assert parse_bytes(rendered["memory"]) == memory
            assert k8s_quantity(rendered["memory"]) == memory
    assert parse_pod(wire(pod_object(pod, admitted=False))).containers[0].requests == r


@given(amount=AMOUNTS, negative=st.booleans())
def test_memory_formatting_is_exact(amount, negative):
    n = -amount if negative else amount
    text = format_memory_quantity(n)
    assert k8s_quantity(text) == Decimal(n) and parse_bytes(text) == n


@pytest.mark.parametrize(
    ("millicores", "text"),
    [
        (0, "0"),
        (1, "1m"),
        (250, "250m"),
        (1000, "1"),
        (1500, "1500m"),
        (64000, "64"),
        (-250, "-250m"),
    ],
)
def test_format_cpu_quantity(millicores, text):
    assert format_cpu_quantity(millicores) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (1023, "1023"),
        (1024, "1Ki"),
        (1536 * Ki, "1536Ki"),
        (8 * Gi, "8Gi"),
        (8_148_384 * Ki, "8148384Ki"),
        (858_993_460, "858993460"),
        (5 * 2**60, "5Ei"),
        (-Gi, "-1Gi"),
    ],
)
def test_format_memory_quantity(n, text):
    assert format_memory_quantity(n) == text


@pytest.mark.parametrize("bad", [1.5, True, "1Gi", None])
def test_formatters_take_whole_numbers_only(bad):
    with pytest.raises(TypeError):
        format_cpu_quantity(bad)
    with pytest.raises(TypeError):
        format_memory_quantity(bad)


# ============================================================ metrics


def test_pod_metrics_split_and_sum_back():
    usage = Resources(1001, 3 * Gi + 7)
    obj = wire(pod_metrics_object(SINK, usage, T0))
    names = [c["name"] for c in obj["containers"]]
    assert names == ["app", "logs", "proxy"]  # app containers and the running sidecar
    cpus = [parse_cpu(c["usage"]["cpu"]) for c in obj["containers"]]
    assert cpus[0] > cpus[2] > cpus[1]  # in proportion to the CPU requests 250, 10, 50
    assert parse_pod_metrics(obj) == (("lab", SINK.name), usage)
    assert obj["metadata"]["labels"] == dict(SINK.labels)
    assert obj["timestamp"] == rfc3339(T0)


def test_pod_metrics_without_requests_split_evenly():
    pod = Pod("ns", "p", containers=(Container("a"), Container("b")))
    obj = pod_metrics_object(pod, Resources(7, 9), T0)
    assert [c["usage"] for c in obj["containers"]] == [
        {"cpu": "4m", "memory": "5"},
        {"cpu": "3m", "memory": "4"},
    ]
    assert parse_pod_metrics(obj)[1] == Resources(7, 9)


def test_node_metrics_round_trip():
    obj = wire(node_metrics_object("worker-1", Resources(2150, 5 * Gi + 12 * Mi), T0))
    assert parse_node_metrics(obj) == ("worker-1", Resources(2150, 5 * Gi + 12 * Mi))
    assert obj["usage"] == {"cpu": "2150m", "memory": "5132Mi"}


def test_pod_metrics_keep_unreported_resources_unset():
    obj = {"metadata": {"name": "p", "namespace": "x"}, "containers": [{"usage": {"cpu": "5m"}}]}
    assert parse_pod_metrics(obj) == (("x", "p"), Resources(5, None))


# ============================================================ tolerance and defaults


def test_minimal_objects_parse_with_defaults():
    pod = parse_pod({"metadata": {"name": "p"}})
    assert (pod.namespace, pod.phase, pod.ready, pod.node, pod.created) == (
        "default",
        "Pending",
        False,
        None,
        0.0,
    )
    assert pod.preemption_policy == "PreemptLowerPriority" and pod.owner is None
    node = parse_node({"metadata": {"name": "n"}})
    assert node.capacity == Resources(0, 0) and node.pods_allocatable == 110 and node.ready
    w = parse_workload({"metadata": {"name": "d"}}, "Deployment")
    assert (w.replicas, w.ready_replicas, w.selector) == (1, None, LabelSelector())
    ds = parse_workload({"kind": "DaemonSet", "metadata": {"name": "d"}, "status": {}})
    assert (ds.replicas, ds.ready_replicas) == (0, None)
    assert parse_priority_class({"metadata": {"name": "x"}, "value": 5}) == PriorityClass("x", 5)


def test_terminating_pod_keeps_its_phase():
    raw = load("k8rs-crashloop.json")
    raw["metadata"]["deletionTimestamp"] = "2026-08-20T23:30:00Z"
    assert parse_pod(raw).phase == "Running"


def test_owner_is_the_controller_reference_only():
    refs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "1"},
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "rs",
            "uid": "2",
            "controller": True,
        },
    ]
    assert parse_pod({"metadata": {"name": "p", "ownerReferences": refs}}).owner == OwnerRef(
        "ReplicaSet", "rs"
    )
    assert parse_pod({"metadata": {"name": "p", "ownerReferences": refs[:1]}}).owner is None


def test_affinity_terms_the_model_cannot_hold_are_dropped_not_inverted():
    spec = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": ["a"]}
                            ]
                        },
                        {
                            "matchExpressions": [
                                {"key": "zone", "operator": "In", "values": ["b"]}
                            ],
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": ["b"]}
                            ],
                        },
                    ]
                }
            },
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "zone"}]
            },
        },
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
        ],
        "volumes": [{"name": "scratch"}],
    }
    pod = parse_pod({"metadata": {"name": "p"}, "spec": spec})
    assert pod.node_affinity == ((Requirement("zone", "In", ("b",)),),)
    assert pod.anti_affinity == () and pod.spread == ()
    assert pod.volume_kinds == ("emptyDir",)  # a volume without a source is an emptyDir


def test_apiserver_defaults():
    limits_only = Pod("ns", "p", containers=(Container("c", limits=Resources(500, Gi)),))
    admitted = apiserver_defaults(limits_only)
    assert admitted.containers[0].requests == Resources(500, Gi)
    assert qos_class(limits_only) == qos_class(admitted) == "Guaranteed"
    assert {(t.key, t.effect, t.toleration_seconds) for t in admitted.tolerations} == {
        ("node.kubernetes.io/not-ready", "NoExecute", 300),
        ("node.kubernetes.io/unreachable", "NoExecute", 300),
    }
    everything = replace(limits_only, tolerations=(Toleration(operator="Exists"),))
    assert apiserver_defaults(everything).tolerations == everything.tolerations
    own = Toleration(
        "node.kubernetes.io/unreachable", "Exists", effect="NoExecute", toleration_seconds=5
    )
    mine = apiserver_defaults(replace(limits_only, tolerations=(own,))).tolerations
    assert [t.key for t in mine] == [
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/not-ready",
    ]
    assert mine[0].toleration_seconds == 5


def test_time_parsing():
    assert parse_time("2026-08-20T22:42:54Z") == utc(2026, 8, 20, 22, 42, 54)
    assert parse_time("2026-08-20T22:42:54.25Z") == utc(2026, 8, 20, 22, 42, 54) + 0.25
    assert parse_time(None) is None
    assert rfc3339(utc(2026, 8, 20, 22, 42, 54) + 0.9) == "2026-08-20T22:42:54Z"


def test_parse_list_metadata_and_kind():
    doc = {
        "kind": "PodList",
        "metadata": {"resourceVersion": "4711", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"},
        "items": [{"metadata": {"name": "a"}}],
    }
    pods, rv, token = parse_list(doc, parse_pod)
    assert [p.name for p in pods] == ["a"]
    assert (rv, token) == ("4711", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ")
    assert parse_list({"kind": "PodList", "items": None}, parse_pod) == ([], "", "")


# ============================================================ errors name object and field


def pod_with(**spec: Any) -> dict:
    return {"metadata": {"name": "bad", "namespace": "default"}, "spec": spec}


BAD_CONTAINER = [{"name": "ok"}, {"name": "x", "resources": {"limits": {"memory": "lots"}}}]

ERRORS = [
    (
        parse_pod,
        pod_with(containers=BAD_CONTAINER),
        "Pod default/bad: spec.containers[1].resources.limits.memory",
    ),
    (
        parse_pod,
        pod_with(containers=[{"resources": {"requests": {"cpu": True}}}]),
        "spec.containers[0].resources.requests.cpu",
    ),
    (
        parse_pod,
        pod_with(initContainers=[{"resources": {"requests": {"cpu": "1x"}}}]),
        "spec.initContainers[0].resources.requests.cpu",
    ),
    (parse_pod, pod_with(overhead={"memory": "-"}), "spec.overhead.memory"),
    (parse_pod, pod_with(priority="high"), "spec.priority: expected a whole number"),
    (parse_pod, pod_with(containers="nginx"), "spec.containers: expected a list"),
    (
        parse_pod,
        pod_with(tolerations=[{"key": "a", "operator": "Maybe"}]),
        "spec.tolerations[0].operator",
    ),
    (
        parse_pod,
        pod_with(tolerations=[{"key": "a", "tolerationSeconds": "5"}]),
        "spec.tolerations[0].tolerationSeconds",
    ),
    (parse_pod, pod_with(nodeSelector={"a": 1}), "spec.nodeSelector.a: expected a string"),
    (
        parse_pod,
        pod_with(topologySpreadConstraints=[{"whenUnsatisfiable": "Sometimes"}]),
        "spec.topologySpreadConstraints[0].whenUnsatisfiable",
    ),
    (
        parse_pod,
        pod_with(
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "a", "operator": "Near"}]}
                        ]
                    }
                }
            }
        ),
        "nodeSelectorTerms[0].matchExpressions[0].operator",
    ),
    (
        parse_pod,
        {"metadata": {"name": "bad", "namespace": "default", "labels": ["a"]}},
        "metadata.labels",
    ),
    (
        parse_pod,
        {"metadata": {"name": "bad", "creationTimestamp": "yesterday"}},
        "metadata.creationTimestamp",
    ),
    (parse_pod, {"metadata": {"namespace": "default"}}, "metadata.name"),
    (
        parse_pod,
        {"metadata": {"name": "bad"}, "status": {"containerStatuses": [{"restartCount": 1.5}]}},
        "status.containerStatuses[0].restartCount",
    ),
    (
        parse_node,
        {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "many"}}},
        "Node n1: status.capacity.cpu",
    ),
    (
        parse_node,
        {"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "a", "effect": "Never"}]}},
        "spec.taints[0].effect",
    ),
    (
        parse_node,
        {"metadata": {"name": "n1"}, "spec": {"unschedulable": "yes"}},
        "spec.unschedulable",
    ),
    (
        parse_workload,
        {
            "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "a"},
            "spec": {"replicas": "3"},
        },
        "Deployment a/d: spec.replicas",
    ),
    (
        parse_workload,
        {"kind": "CronJob", "metadata": {"name": "d"}},
        "expected Deployment, StatefulSet or DaemonSet",
    ),
    (parse_workload, {"metadata": {"name": "d"}}, "got None"),
    (
        parse_pdb,
        {"metadata": {"name": "b", "namespace": "a"}, "spec": {"minAvailable": "two"}},
        "PodDisruptionBudget a/b: spec.minAvailable",
    ),
    (
        parse_pdb,
        {"metadata": {"name": "b", "namespace": "a"}, "spec": {"maxUnavailable": True}},
        "spec.maxUnavailable",
    ),
    (parse_priority_class, {"metadata": {"name": "p"}}, "PriorityClass p: value: is required"),
    (
        parse_node_metrics,
        {"metadata": {"name": "n"}, "usage": {"memory": "1Q"}},
        "NodeMetrics n: usage.memory",
    ),
    (
        parse_pod_metrics,
        {"metadata": {"name": "p", "namespace": "x"}, "containers": [{"usage": {"cpu": "?"}}]},
        "PodMetrics x/p: containers[0].usage.cpu",
    ),
]


@pytest.mark.parametrize(("parse", "obj", "fragment"), ERRORS)
def test_nonsense_is_a_value_error_naming_object_and_field(parse, obj, fragment):
    with pytest.raises(ValueError) as caught:
        parse(obj)
    assert fragment in str(caught.value)


def test_workload_kind_must_agree():
    with pytest.raises(ValueError, match="the object says 'StatefulSet'"):
        parse_workload({"kind": "StatefulSet", "metadata": {"name": "s"}}, "Deployment")


@pytest.mark.parametrize("doc", [{"kind": "Pod", "metadata": {"name": "p"}}, {"items": "x"}, []])
def test_parse_list_rejects_what_is_not_a_list(doc):
    with pytest.raises(ValueError):
        parse_list(doc, parse_pod)


# ============================================================ size and hygiene


def test_ten_thousand_pod_list(snapshot):
    pods = [
        replace(
            p := snapshot.pods[i % len(snapshot.pods)],
            name=f"{p.name}-{i}",
            uid=f"uid-{i}",
            created=T0 + i // 10,
            restarts=i % 4,
        )
        for i in range(10_000)
    ]
    doc = {
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": {"resourceVersion": "98765"},
        "items": [pod_object(p) for p in pods],
    }
    records, rv, token = parse_list(orjson.loads(orjson.dumps(doc)), parse_pod)
    assert (len(records), rv, token) == (10_000, "98765", "")
    assert [r.name for r in records] == [p.name for p in pods]
    for i in (0, 1234, 9999):
        assert without_triage(records[i]) == carried(apiserver_defaults(pods[i]))
    assert sum(r.restarts for r in records) == sum(i % 4 for i in range(10_000))


def test_parser_and_renderer_import_neither_textual_nor_the_kubernetes_client():
    code = (
        "import sys\n"
        "import cockpit.sources.kube_parse, cockpit.lab.kube.objects\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'kubernetes'))\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_restarts_count_init_and_sidecar_containers_like_kubectl():
    # The init container is a sidecar (restartPolicy Always): kubectl counts its restarts.
    spec = {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}]}
    status = {
        "containerStatuses": [{"restartCount": 3}, {"restartCount": 1}],
        "initContainerStatuses": [{"name": "proxy", "restartCount": 2, "started": True}],
    }
    assert parse_pod({"metadata": {"name": "p"}, "spec": spec, "status": status}).restarts == 6


def test_caches_do_not_confuse_true_with_one():
    ok = pod_with(containers=[{"resources": {"requests": {"cpu": 1}}}])
    assert parse_pod(ok).containers[0].requests == Resources(1000, None)
    with pytest.raises(ValueError, match=r"spec.containers\[0\].resources.requests.cpu"):
        parse_pod(pod_with(containers=[{"resources": {"requests": {"cpu": True}}}]))
    tolerated = pod_with(tolerations=[{"key": "k", "tolerationSeconds": 1}])
    assert parse_pod(tolerated).tolerations[0].toleration_seconds == 1
    with pytest.raises(ValueError, match=r"spec.tolerations\[0\].tolerationSeconds"):
        parse_pod(pod_with(tolerations=[{"key": "k", "tolerationSeconds": True}]))


def test_a_non_object_is_named_plainly():
    with pytest.raises(ValueError, match=r"^Pod <unnamed>: expected a Pod object, got list$"):
        parse_pod([])
