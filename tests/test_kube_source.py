"""The Kubernetes adapter against the lab's API over a real socket: sync, watch, writes, and
the faults a real cluster produces (410, 403, garbage, a cut watch, no metrics-server)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from kubectl_cli import kubectl_ok
from waiting import wait_for

from cockpit import labfile
from cockpit.config import KubeSettings
from cockpit.lab.clock import LabClock
from cockpit.lab.kube.lab import KubeLab
from cockpit.lab.world import World
from cockpit.sources.health import SourceError
from cockpit.sources.kube import KINDS, KubeSource, _parse_metrics
from cockpit.sources.kube_parse import parse_node_metrics

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def start_lab(tmp_path, metrics: bool = True) -> KubeLab:
    world = World(labfile.load("n100"), LabClock(speed=30))
    return KubeLab(world, metrics=metrics).start(tmp_path / "kubeconfig")


@pytest.fixture
def lab(tmp_path):
    kube = start_lab(tmp_path)
    yield kube
    kube.stop()


@pytest.fixture
def source(lab):
    src = KubeSource(KubeSettings(str(lab.kubeconfig)), metrics_every=0.2)
    src.start()
    wait_for(lambda: all(src.synced.values()), what="the first sync")
    yield src
    src.stop()


def test_first_sync_matches_the_lab(lab, source):
    state = source.records()
    items, _ = lab.store.list("pods")
    assert len(state.pods) == len(items) == 24
    assert set(state.nodes) == {("", "k3s-master"), ("", "worker-1"), ("", "worker-2")}
    assert state.deployments[("kube-system", "coredns")].replicas == 1
    assert state.statefulsets[("data", "postgresql")].kind == "StatefulSet"
    assert ("apps", "django-api-pdb") in state.pdbs
    assert state.priorityclasses[("", "system-critical")].value == 1_000_000
    wait_for(lambda: source.records().metrics == "present", what="metrics")
    assert source.records().pod_usage
    assert source.health().state == "ok"


def test_watch_follows_changes_and_writes_go_through(lab, source):
    source.cordon("worker-2")
    wait_for(lambda: source.records().nodes[("", "worker-2")].unschedulable, what="cordon")
    source.scale("Deployment", "apps", "nginx", 3)
    wait_for(
        lambda: (
            len(
                [
                    p
                    for p in source.records().pods.values()
                    if p.name.startswith("nginx-") and p.phase == "Running"
                ]
            )
            == 3
        ),
        what="three nginx pods",
    )
    source.rollout_restart("Deployment", "kube-system", "coredns")
    deploy = lab.store.get("deployments.apps", ("kube-system", "coredns"))
    assert (
        "kubectl.kubernetes.io/restartedAt" in deploy["spec"]["template"]["metadata"]["annotations"]
    )
    source.evict("logging", "kibana-284pqgsvpr-bqc45")
    wait_for(
        lambda: ("logging", "kibana-284pqgsvpr-bqc45") not in source.records().pods,
        what="the evicted pod to go",
    )
    assert source.events_seen > 0


def test_dry_run_changes_nothing(lab, source):
    source.cordon("worker-1", dry_run=True)
    source.scale("Deployment", "apps", "nginx", 5, dry_run=True)
    assert not lab.store.get("nodes", ("", "worker-1"))["spec"].get("unschedulable")
    assert lab.store.get("deployments.apps", ("apps", "nginx"))["spec"]["replicas"] == 1


def test_eviction_blocked_by_a_pdb_is_a_readable_error(lab, source):
    lab.store.get("poddisruptionbudgets.policy", ("apps", "django-api-pdb"))
    pods = [p for p in source.records().pods.values() if p.name.startswith("django-api-")]
    source.evict("apps", pods[0].name)  # one may go: 2 healthy, 1 needed
    with pytest.raises(SourceError) as info:
        wait_for(
            lambda: (
                lab.store.get("poddisruptionbudgets.policy", ("apps", "django-api-pdb"))["status"][
                    "disruptionsAllowed"
                ]
                == 0
            ),
            what="the budget to be spent",
        )
        source.evict("apps", pods[1].name)
    assert info.value.reason.startswith("429 from ")
    assert "disruption budget" in info.value.reason


def test_relists_after_410_gone(lab, source):
    lists_before = lab.api.calls["GET /api/v1/pods"]
    # While the adapter's watches are cut, pods change and the server forgets that part of
    # history: the reconnect's resourceVersion is too old, the answer is 410, and the adapter
    # must list again.
    lab.face.faults.cut_watches.set()
    wait_for(lambda: source.errors["pods"] is not None, what="the pods watch to drop")
    lab.controllers.delete_pod(("logging", "kibana-284pqgsvpr-bqc45"), grace=0)
    with lab.store.changed:
        lab.store.oldest["pods"] = lab.store.rv
    lab.face.faults.cut_watches.clear()
    gone = ("logging", "kibana-284pqgsvpr-bqc45")
    wait_for(lambda: gone not in source.records().pods, what="the relist to drop the pod")
    assert lab.api.calls["GET /api/v1/pods"] > lists_before  # a list, not only watches
    pods = source.records().pods
    assert any(p.name.startswith("kibana-") for p in pods.values())  # its replacement
    wait_for(lambda: source.health().state == "ok", what="health to recover")


def test_cut_watch_reconnects_and_keeps_the_data(lab, source):
    lab.face.faults.cut_watches.set()
    wait_for(lambda: any(e is not None for e in source.errors.values()), what="an error")
    health = source.health()
    assert health.state == "stale" and "watch was cut" in health.reason
    assert len(source.records().pods) == 24  # stale data is kept, not blanked
    lab.face.faults.cut_watches.clear()
    wait_for(lambda: source.health().state == "ok", timeout=20, what="reconnection")


def test_forbidden_resource_is_named_with_the_rbac_hint(tmp_path):
    kube = start_lab(tmp_path)
    kube.api.denied.add("pods")
    src = KubeSource(KubeSettings(str(kube.kubeconfig)))
    try:
        with pytest.raises(SourceError) as info:
            src.list_kind(next(k for k in KINDS if k.name == "pods"))
        assert info.value.reason.startswith("403 from /api/v1/pods")
        assert 'cannot list resource "pods"' in info.value.reason
        assert "RBAC" in info.value.hint
        src.start()
        wait_for(
            lambda: src.synced["nodes"] and src.errors["pods"] is not None,
            what="nodes synced while pods fail",
        )
        assert src.health().state == "error"
    finally:
        src.stop()
        kube.stop()


def test_garbage_and_unreachable(tmp_path):
    kube = start_lab(tmp_path)
    src = KubeSource(KubeSettings(str(kube.kubeconfig)))
    try:
        kube.face.faults.garbage = 1
        with pytest.raises(SourceError, match="not JSON"):
            src.request("GET", "/api/v1/nodes")
    finally:
        kube.stop()
    with pytest.raises(SourceError, match="cannot reach the Kubernetes API") as info:
        src.request("GET", "/api/v1/nodes", timeout=2)
    assert "kubeconfig" in info.value.hint


def test_no_metrics_server_is_absent_not_an_error(tmp_path):
    kube = start_lab(tmp_path, metrics=False)
    src = KubeSource(KubeSettings(str(kube.kubeconfig)))
    try:
        src.fetch_metrics()
        assert src.records().metrics == "absent"
    finally:
        kube.stop()


def test_broken_kubeconfig(tmp_path):
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nclusters: [[[\n")
    with pytest.raises(SourceError, match="cannot use kubeconfig"):
        KubeSource(KubeSettings(str(bad))).connect()
    with pytest.raises(SourceError, match="cannot use kubeconfig"):
        KubeSource(KubeSettings(str(tmp_path / "missing"))).connect()


def test_eviction_rules_for_two_budgets_and_pods_not_running(lab, source):
    second = lab.store.get("poddisruptionbudgets.policy", ("apps", "django-api-pdb"))
    second["metadata"] = {"name": "django-api-extra", "namespace": "apps"}
    second.pop("status", None)
    lab.store.create("poddisruptionbudgets.policy", second)
    django = next(p for p in source.records().pods.values() if p.name.startswith("django-api-"))
    with pytest.raises(SourceError) as info:
        source.evict("apps", django.name)
    assert info.value.reason.startswith("500 from ")
    assert "more than one PodDisruptionBudget" in info.value.reason
    # A pod that is not running is deleted without asking any budget: make one Pending,
    # with the controllers paused so no kubelet starts it again first.
    lab.controllers.stop()
    key = ("apps", django.name)
    pod = lab.store.get("pods", key)
    pod["status"]["phase"] = "Pending"
    lab.store.update("pods", pod)
    source.evict("apps", django.name)
    wait_for(
        lambda: (
            lab.store.find("pods", key) is None
            or lab.store.get("pods", key)["metadata"].get("deletionTimestamp")
        ),
        what="the pending pod to be deleted",
    )


def test_an_update_that_changes_no_record_keeps_the_record(lab, source):
    """An update that touches nothing the cockpit reads (an annotation of a PDB) leaves the
    record as the same object, so nothing downstream redraws for it; one that does
    (minAvailable) replaces it."""
    key = ("apps", "django-api-pdb")
    before = source.records().pdbs[key]
    seen = source.events_seen
    kubectl_ok(lab.kubeconfig, "annotate", "pdb", "-n", "apps", "django-api-pdb", "note=x")
    wait_for(lambda: source.events_seen > seen, what="the annotation's watch event")
    assert source.records().pdbs[key] is before
    patch = '{"spec":{"minAvailable":0}}'
    kubectl_ok(lab.kubeconfig, "patch", "pdb", "-n", "apps", "django-api-pdb", "-p", patch)
    wait_for(lambda: source.records().pdbs[key].min_available == 0, what="the patch")
    assert source.records().pdbs[key] is not before


def test_metrics_entries_are_parsed_again_only_when_they_changed():
    """Unchanged entries give back the same objects (a scrape that moved nothing is cheap
    and publishes nothing); a changed entry gives its new figures, never the old ones."""
    doc = json.loads((FIXTURES / "kube" / "kyverno-docs-k3d-nodemetrics.json").read_text())
    name = doc["items"][0]["metadata"]["name"]
    seen: dict = {}
    first = _parse_metrics(doc, parse_node_metrics, "NodeMetrics", {}, seen)
    again = _parse_metrics(copy.deepcopy(doc), parse_node_metrics, "NodeMetrics", {}, seen)
    assert again == first and again[name] is first[name]
    moved = copy.deepcopy(doc)
    moved["items"][0]["usage"]["memory"] = "2Gi"
    after = _parse_metrics(moved, parse_node_metrics, "NodeMetrics", {}, seen)
    assert after[name].memory == 2 * 1024**3 and after[name].cpu == first[name].cpu
    gone = _parse_metrics({"items": []}, parse_node_metrics, "NodeMetrics", {}, seen)
    assert gone == {} and seen == {}
    broken = copy.deepcopy(doc)
    broken["items"][0]["usage"]["memory"] = "lots"
    unreadable: dict = {}
    assert _parse_metrics(broken, parse_node_metrics, "NodeMetrics", unreadable, seen) == {}
    assert list(unreadable) == [f"NodeMetrics {name}"]
