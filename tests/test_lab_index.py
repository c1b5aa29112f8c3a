"""The lab controllers' pod indexes under a client that patches pods: an update that keeps a
pod in its groups takes the old object's place (no rebuild over every pod), one that moves it
between groups is seen by the controllers at once. Writes go through the real kubectl."""

from __future__ import annotations

import json

import pytest
from kubectl_cli import kubectl_ok
from waiting import wait_for

from cockpit import labfile
from cockpit.lab.clock import LabClock
from cockpit.lab.kube.lab import KubeLab
from cockpit.lab.kube.meta import PODS, RS, controller_uid
from cockpit.lab.world import World


@pytest.fixture
def lab(tmp_path):
    world = World(labfile.load("n100"), LabClock(speed=30))
    kube = KubeLab(world).start(tmp_path / "kubeconfig")
    yield kube
    kube.stop()


def coredns(lab: KubeLab) -> dict:
    items, _ = lab.store.list("pods", "kube-system")
    [pod] = [p for p in items if p["metadata"]["name"].startswith("coredns-")]
    return pod


def owned_by_its_replicaset(lab: KubeLab, pod: dict) -> list[dict]:
    items, _ = lab.store.list(RS, "kube-system")
    [rs] = [r for r in items if r["metadata"]["uid"] == controller_uid(pod)]
    with lab.controllers.lock:
        return lab.controllers._owned(PODS, rs)


def test_an_annotated_pod_takes_its_old_place_in_the_index(lab):
    pod = coredns(lab)
    key = ("kube-system", pod["metadata"]["name"])
    owned_by_its_replicaset(lab, pod)  # the index is built
    with lab.controllers.lock:
        built = lab.controllers._indexes[(PODS, "owner")][1]
    for tick in range(5):
        kubectl_ok(lab.kubeconfig, "annotate", "pod", "-n", "kube-system",
                   key[1], f"bench/tick={tick}", "--overwrite")  # fmt: skip
    [indexed] = [p for p in owned_by_its_replicaset(lab, pod) if p["metadata"]["name"] == key[1]]
    assert indexed["metadata"]["annotations"]["bench/tick"] == "4"
    assert indexed is lab.store.objects[PODS][key]  # the live object, not a stale copy
    with lab.controllers.lock:
        assert lab.controllers._indexes[(PODS, "owner")][1] is built  # patched, not rebuilt


def test_a_relabelled_pod_leaves_its_service_at_once(lab):
    pod = coredns(lab)
    name = pod["metadata"]["name"]
    kubectl_ok(lab.kubeconfig, "annotate", "pod", "-n", "kube-system", name, "a=b")

    def endpoints() -> list[dict]:
        out = kubectl_ok(lab.kubeconfig, "get", "endpointslices", "-n", "kube-system",
                         "-l", "kubernetes.io/service-name=kube-dns", "-o", "json")  # fmt: skip
        [slice_] = json.loads(out)["items"]
        return slice_.get("endpoints") or []

    assert [e["targetRef"]["name"] for e in endpoints()] == [name]
    kubectl_ok(lab.kubeconfig, "label", "pod", "-n", "kube-system", name,
               "k8s-app=not-dns", "--overwrite")  # fmt: skip
    wait_for(lambda: endpoints() == [], what="the relabelled pod gone from kube-dns's endpoints")
    # Still owned by its ReplicaSet, which keeps counting it (a label is not an owner).
    assert [p["metadata"]["name"] for p in owned_by_its_replicaset(lab, pod)] == [name]
