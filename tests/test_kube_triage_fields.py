"""What triage reads from Kubernetes: container states, Terminating, why Pending, node
condition details, Events, Services, EndpointSlices and HPAs, parsed from real captures and
watched against the lab's API over a real socket; kinds a cluster does not serve; the API
server's clock from its Date headers."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_for

from cockpit import labfile
from cockpit.config import KubeSettings
from cockpit.lab.clock import LabClock
from cockpit.lab.kube.lab import KubeLab
from cockpit.lab.world import World
from cockpit.model import Endpoint, Event
from cockpit.sources.kube import EventTable, KubeSource
from cockpit.sources.kube_parse import (
    parse_endpoint_slice,
    parse_event,
    parse_hpa,
    parse_list,
    parse_node,
    parse_pod,
    parse_service,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "kube"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# --- the captures, one by one ----------------------------------------------------------------


def test_crashloop_capture_says_crashloopbackoff_and_how_it_last_ended():
    pod = parse_pod(fixture("k8rs-crashloop.json"))
    (c,) = pod.container_states
    assert (c.name, c.init, c.state, c.reason) == ("quitter", False, "waiting", "CrashLoopBackOff")
    assert c.message.startswith("back-off 5m0s restarting failed container=quitter")
    assert (c.last_reason, c.last_exit_code) == ("Error", 1)
    assert c.last_finished == ts("2026-08-20T23:09:38Z")
    assert "connection refused" in c.last_message
    assert (c.restarts, c.ready, pod.restarts) == (10, False, 10)
    assert pod.deleted_at is None and pod.unscheduled_reason == "" and pod.reason == ""


def test_oom_capture_says_oomkilled_with_exit_137():
    pod = parse_pod(fixture("k8rs-oom.json"))
    (c,) = pod.container_states
    assert (c.state, c.reason, c.exit_code) == ("terminated", "OOMKilled", 137)
    assert c.started_at == ts("2026-08-20T23:09:34Z")
    assert (c.last_reason, c.last_exit_code) == ("OOMKilled", 137)
    assert c.last_finished == ts("2026-08-20T23:04:32Z")
    assert pod.restarts == 10
    # The limit that killed it is on the container spec, next to the state.
    assert pod.containers[0].limits.memory is not None


def test_kube_system_capture_is_all_running_and_scheduled():
    pods, _, _ = parse_list(fixture("k8rs-kube-system-pods.json"), parse_pod)
    assert len(pods) == 14
    for pod in pods:
        assert pod.container_states, pod.name
        assert all(c.state == "running" and c.ready for c in pod.container_states), pod.name
        assert all(c.started_at is not None for c in pod.container_states), pod.name
        assert pod.restarts == sum(c.restarts for c in pod.container_states if not c.init)
        assert (pod.unscheduled_reason, pod.deleted_at, pod.reason) == ("", None, "")
    coredns = [p for p in pods if p.name.startswith("coredns-")]
    assert [c.started_at for p in coredns for c in p.container_states] == [
        ts("2026-08-20T22:42:48Z")
    ] * 2


def test_event_capture():
    event = parse_event(fixture("k9s-event-single.json"))
    assert event == Event(
        namespace="default",
        name="hello-1567197780-mn4mv.15bfce150bd764dd",
        object_kind="Pod",
        object_name="hello-1567197780-mn4mv",
        object_namespace="default",
        type="Normal",
        reason="Pulled",
        message='Successfully pulled image "blang/busybox-bash"',
        count=1,
        first_seen=ts("2019-08-30T20:43:05Z"),
        last_seen=ts("2019-08-30T20:43:05Z"),
        source="kubelet",
        uid="c443d4b3-cb66-11e9-990f-42010a800218",
    )


def test_nodes_capture_keeps_why_and_since_when():
    nodes = {n.name: n for n in parse_list(fixture("k8rs-nodes.json"), parse_node)[0]}
    dead = nodes["k8rs-worker3"]
    assert dead.conditions["Ready"] == "Unknown"
    assert dead.condition_details["Ready"] == (
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
        ts("2026-08-20T23:12:59Z"),
    )
    assert {t.time_added for t in dead.taints} == {ts("2026-08-20T23:12:59Z")}
    (cordon,) = nodes["k8rs-worker"].taints
    assert (cordon.key, cordon.time_added) == (
        "node.kubernetes.io/unschedulable",
        ts("2026-08-20T23:12:08Z"),
    )
    assert nodes["k8rs-control-plane"].taints[0].time_added is None
    ready = nodes["k8rs-control-plane"].condition_details["Ready"]
    assert ready[0] == "KubeletReady" and ready[2] == ts("2026-08-20T22:42:47Z")


# --- what no capture shows, written in the API's shape ------------------------------------------

T = "2026-08-20T23:00:00Z"


def pod_doc(status: dict, spec: dict | None = None, **meta: Any) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "creationTimestamp": T, **meta},
        "spec": spec or {"containers": [{"name": "app", "image": "app:1"}]},
        "status": status,
    }


def waiting(reason: str, message: str = "", restarts: int = 0, last: dict | None = None) -> dict:
    return {
        "name": "app",
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}},
        "lastState": {"terminated": last} if last else {},
    }


def test_pending_pod_says_why_the_scheduler_left_it():
    message = "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available"
    pod = parse_pod(
        pod_doc(
            {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": message,
                        "lastTransitionTime": T,
                    }
                ],
            }
        )
    )
    assert (pod.phase, pod.unscheduled_reason, pod.unscheduled_message) == (
        "Pending",
        "Unschedulable",
        message,
    )


def test_evicted_and_terminating_pods():
    evicted = parse_pod(
        pod_doc(
            {
                "phase": "Failed",
                "reason": "Evicted",
                "message": "The node was low on resource: memory. Threshold quantity: 100Mi.",
            }
        )
    )
    assert (evicted.reason, evicted.message.split(":")[0]) == (
        "Evicted",
        "The node was low on resource",
    )
    gone = parse_pod(pod_doc({"phase": "Running"}, deletionTimestamp="2026-08-20T23:05:00Z"))
    assert gone.deleted_at == ts("2026-08-20T23:05:00Z") and gone.phase == "Running"


@pytest.mark.parametrize(
    ("status", "reason", "last"),
    [
        (waiting("ImagePullBackOff", 'Back-off pulling image "app:1"'), "ImagePullBackOff", ""),
        (waiting("ErrImagePull", "manifest unknown"), "ErrImagePull", ""),
        (
            waiting("CreateContainerConfigError", 'secret "db-password" not found'),
            "CreateContainerConfigError",
            "",
        ),
        (
            waiting(
                "CrashLoopBackOff",
                "back-off 40s restarting failed container=app",
                restarts=4,
                last={
                    "reason": "StartError",
                    "exitCode": 128,
                    "finishedAt": T,
                    "message": 'exec: "/app": exec format error: unknown',
                },
            ),
            "CrashLoopBackOff",
            "StartError",
        ),
    ],
)
def test_waiting_reasons(status, reason, last):
    pod = parse_pod(pod_doc({"phase": "Pending", "containerStatuses": [status]}))
    (c,) = pod.container_states
    assert (c.state, c.reason, c.last_reason) == ("waiting", reason, last)
    assert c.message == status["state"]["waiting"]["message"]
    if last:
        assert c.last_exit_code == 128 and "exec format error" in c.last_message


def init_status(name: str, restarts: int, state: dict) -> dict:
    return {"name": name, "restartCount": restarts, "ready": False, "state": state}


DONE = {"terminated": {"exitCode": 0, "reason": "Completed"}}
INIT_SPEC = {
    "initContainers": [{"name": "migrate"}, {"name": "proxy", "restartPolicy": "Always"}],
    "containers": [{"name": "app"}],
}


def test_restarts_leave_out_finished_init_containers_as_kubectl_does():
    initialized = {"type": "Initialized", "status": "True"}
    status = {
        "phase": "Running",
        "conditions": [initialized],
        "initContainerStatuses": [
            init_status("migrate", 5, DONE),  # finished: history, not counted
            {**init_status("proxy", 2, {"running": {"startedAt": T}}), "started": True},
        ],
        "containerStatuses": [init_status("app", 3, {"running": {"startedAt": T}})],
    }
    pod = parse_pod(pod_doc(status, INIT_SPEC))
    assert pod.restarts == 5  # the app's 3 and the sidecar's 2, not the migration's 5
    assert [(c.name, c.init, c.state) for c in pod.container_states] == [
        ("migrate", True, "terminated"),
        ("proxy", True, "running"),
        ("app", False, "running"),
    ]
    assert pod.container_states[0].exit_code == 0


def test_a_sidecar_that_has_not_started_holds_up_initialization():
    status = {
        "phase": "Pending",
        "initContainerStatuses": [
            init_status("migrate", 1, DONE),
            {
                **init_status("proxy", 3, {"waiting": {"reason": "CrashLoopBackOff"}}),
                "started": False,
            },
        ],
        "containerStatuses": [init_status("app", 0, {"waiting": {"reason": "PodInitializing"}})],
    }
    assert parse_pod(pod_doc(status, INIT_SPEC)).restarts == 4  # kubectl: migrate + proxy


def test_restarts_of_a_pod_still_initializing_are_its_init_containers():
    status = {
        "phase": "Pending",
        "conditions": [{"type": "Initialized", "status": "False"}],
        "initContainerStatuses": [
            init_status("migrate", 4, {"waiting": {"reason": "CrashLoopBackOff"}}),
            init_status("proxy", 0, {"waiting": {"reason": "PodInitializing"}}),
        ],
        "containerStatuses": [init_status("app", 0, {"waiting": {"reason": "PodInitializing"}})],
    }
    assert parse_pod(pod_doc(status, INIT_SPEC)).restarts == 4


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "kube-dns",
        "namespace": "kube-system",
        "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"},
    },
    "spec": {
        "clusterIP": "10.43.0.10",
        "selector": {"k8s-app": "kube-dns"},
        "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}],
    },
}
SLICE = {
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {
        "name": "kube-dns-x7k2p",
        "namespace": "kube-system",
        "labels": {"kubernetes.io/service-name": "kube-dns"},
    },
    "addressType": "IPv4",
    "endpoints": [
        {
            "addresses": ["10.42.0.5"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "nodeName": "worker-1",
            "targetRef": {"kind": "Pod", "namespace": "kube-system", "name": "coredns-a"},
        },
        {
            "addresses": ["10.42.1.7"],
            "conditions": {"ready": False, "serving": False, "terminating": True},
            "nodeName": "worker-2",
            "targetRef": {"kind": "Pod", "namespace": "kube-system", "name": "coredns-b"},
        },
        {"addresses": ["192.168.1.50"], "conditions": {}},  # unknown reads as ready
    ],
    "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}],
}
HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "apps"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2,
        "maxReplicas": 6,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70},
                },
            },
            {
                "type": "Resource",
                "resource": {
                    "name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "500Mi"},
                },
            },
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "rps"},
                    "target": {"type": "AverageValue", "averageValue": "10"},
                },
            },
        ],
    },
    "status": {
        "currentReplicas": 2,
        "desiredReplicas": 2,
        "currentMetrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "current": {"averageUtilization": 35, "averageValue": "175m"},
                },
            }
        ],
        "conditions": [
            {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
            {
                "type": "ScalingActive",
                "status": "False",
                "reason": "FailedGetResourceMetric",
                "message": "the HPA was unable to compute the replica count: unable to get "
                "metrics for resource memory",
            },
        ],
    },
}


def test_service_slice_and_hpa_in_the_apis_shape():
    service = parse_service(SERVICE)
    assert (service.key, service.cluster_ip, dict(service.selector)) == (
        ("kube-system", "kube-dns"),
        "10.43.0.10",
        {"k8s-app": "kube-dns"},
    )
    eps = parse_endpoint_slice(SLICE)
    assert eps.service == "kube-dns"
    assert eps.endpoints == (
        Endpoint("10.42.0.5", True, "worker-1", "coredns-a"),
        Endpoint("10.42.1.7", False, "worker-2", "coredns-b"),
        Endpoint("192.168.1.50", True),
    )
    hpa = parse_hpa(HPA)
    assert (hpa.target_kind, hpa.target_name, hpa.min_replicas, hpa.max_replicas) == (
        "Deployment",
        "web",
        2,
        6,
    )
    cpu, memory = hpa.metrics  # the Pods metric is not a resource one
    assert (cpu.resource, cpu.target_utilization, cpu.current_utilization) == ("cpu", 70, 35)
    assert (memory.resource, memory.target_utilization, memory.current_utilization) == (
        "memory",
        None,
        None,
    )
    assert hpa.conditions["ScalingActive"][:2] == ("False", "FailedGetResourceMetric")


def test_new_style_event_reads_like_an_old_one():
    doc = {
        "metadata": {"name": "web.17f", "namespace": "apps", "creationTimestamp": T},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "apps"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container",
        "type": "Warning",
        "eventTime": "2026-08-20T23:00:00.123456Z",
        "series": {"count": 7, "lastObservedTime": "2026-08-20T23:10:00.000000Z"},
        "reportingComponent": "kubelet",
        "firstTimestamp": None,
        "lastTimestamp": None,
    }
    event = parse_event(doc)
    assert (event.count, event.type, event.source) == (7, "Warning", "kubelet")
    assert event.first_seen == ts("2026-08-20T23:00:00.123456Z")
    assert event.last_seen == ts("2026-08-20T23:10:00Z")


def test_event_table_keeps_the_newest():
    table = EventTable(limit=4)
    for i in range(12):
        table[("ns", f"e{i}")] = Event("ns", f"e{i}", "Pod", "p", last_seen=float(i))
    newest = table.newest()
    assert [e.name for e in newest] == ["e11", "e10", "e9", "e8"]
    assert len(table) <= 5  # trimmed in batches: never more than a quarter over
    before = table.version
    assert table.newest() is newest  # unchanged: the very same tuple
    table.pop(("ns", "e11"))
    assert table.version != before and [e.name for e in table.newest()][:1] == ["e10"]


# --- against the lab's API --------------------------------------------------------------------


@contextmanager
def lab_source(tmp_path, hide: tuple[str, ...] = (), deny: tuple[str, ...] = ()) -> Iterator:
    world = World(labfile.load("n100"), LabClock(speed=30))
    lab = KubeLab(world).start(tmp_path / "kubeconfig")
    lab.api.hidden_groups.update(hide)
    lab.api.denied.update(deny)
    source = KubeSource(KubeSettings(str(lab.kubeconfig)), metrics_every=0.2)
    source.start()
    try:
        wait_for(lambda: all(source.synced.values()), what="the first sync")
        yield lab, source
    finally:
        source.stop()
        lab.stop()


def test_new_kinds_are_listed_and_watched(tmp_path):
    with lab_source(tmp_path) as (lab, source):
        state = source.records()
        assert ("kube-system", "kube-dns") in state.services
        slices = [s for s in state.endpointslices.values() if s.service == "kube-dns"]
        assert slices and any(e.ready and e.pod for s in slices for e in s.endpoints)
        items, _ = lab.store.list("endpointslices.discovery.k8s.io")
        assert len(state.endpointslices) == len(items)
        assert source.missing == {} and source.health().state == "ok"
        # A write through the API shows up through the watch.
        body = {**HPA, "metadata": {"name": "nginx", "namespace": "apps"}}
        body["spec"] = {**HPA["spec"], "scaleTargetRef": {"kind": "Deployment", "name": "nginx"}}
        del body["status"]
        source.request(
            "POST", "/apis/autoscaling/v2/namespaces/apps/horizontalpodautoscalers", body=body
        )
        hpa = wait_for(
            lambda: source.records().hpas.get(("apps", "nginx")), what="the HPA to be watched"
        )
        assert (hpa.target_name, hpa.max_replicas, hpa.metrics[0].target_utilization) == (
            "nginx",
            6,
            70,
        )
        source.scale("Deployment", "apps", "nginx", 3)
        wait_for(
            lambda: any(
                e.reason == "Scheduled" and e.object_name.startswith("nginx-")
                for e in source.records().events_newest
            ),
            what="the scheduler's events",
        )
        newest = source.records().events_newest
        assert [e.last_seen for e in newest] == sorted((e.last_seen for e in newest), reverse=True)
        wait_for(lambda: source.records().metrics == "present", what="metrics")


def test_a_cluster_without_a_group_leaves_the_kind_empty_and_the_source_healthy(tmp_path):
    hidden = ("discovery.k8s.io", "autoscaling")
    with lab_source(tmp_path, hide=hidden, deny=("events",)) as (_, source):
        state = source.records()
        assert state.endpointslices == {} and state.hpas == {} and state.events_newest == ()
        assert state.pods and state.services  # everything else is there
        assert set(source.missing) == {"endpointslices", "hpas", "events"}
        assert source.missing["hpas"].startswith("not served")
        assert source.missing["events"].startswith("not allowed")
        assert source.health().state == "ok"


# --- the API server's clock ----------------------------------------------------------------------


class _Skewed(http.server.BaseHTTPRequestHandler):
    """Answers everything with an empty list and a Date on a clock of its own."""

    origin = time.time()
    start = origin - 86_400.0  # a day behind
    speed = 1.0

    def do_GET(self) -> None:
        body = b'{"kind":"List","items":[],"metadata":{"resourceVersion":"1"}}'
        self.send_response(200)  # its Date comes from date_time_string below
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        now = self.start + (time.time() - self.origin) * self.speed
        return format_datetime(datetime.fromtimestamp(now, UTC), usegmt=True)


@contextmanager
def skewed_server(speed: float) -> Iterator[tuple[str, type[_Skewed]]]:
    handler = type("Handler", (_Skewed,), {"origin": time.time(), "speed": speed})
    handler.start = handler.origin - 86_400.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig_for(tmp_path, server: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return str(path)


def test_clock_follows_the_servers_date_header(tmp_path):
    with skewed_server(speed=1.0) as (url, handler):
        source = KubeSource(KubeSettings(kubeconfig_for(tmp_path, url)))
        assert source.clock() is None  # nothing heard yet: the caller falls back
        source.request("GET", "/api/v1/pods")
        expected = handler.start + (time.time() - handler.origin)
        assert abs(source.clock() - expected) < 1.5


def test_clock_runs_at_the_servers_speed(tmp_path):
    with skewed_server(speed=30.0) as (url, handler):
        source = KubeSource(KubeSettings(kubeconfig_for(tmp_path, url)))
        source.clock_span = 1.0
        source.request("GET", "/api/v1/pods")
        time.sleep(1.2)
        source.request("GET", "/api/v1/pods")
        time.sleep(0.5)  # no answer since: the clock keeps running at the server's pace
        expected = handler.start + (time.time() - handler.origin) * 30
        assert abs(source.clock() - expected) < 3 * 1.5
