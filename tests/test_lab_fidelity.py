"""What the lab serves for triage, read with real clients: the distros' labels and the
kube-dns Service, EndpointSlices, Events (list and watch), pod logs, HPAs, the container
status shapes, Date headers on the lab clock, Proxmox tasks and quorum, tailscaled's
per-peer fields."""

from __future__ import annotations

import contextlib
import email.utils
import queue
import select
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
from kubectl_cli import KUBECTL
from lab_clients import (
    dns_endpoints,
    kubectl,
    kubectl_json,
    proxmox,
    tailscale_status,
)
from waiting import wait_for

from cockpit import labfile
from cockpit.lab.runner import RunningLab


@pytest.fixture
def tailnet(tmp_path: Path) -> Iterator[RunningLab]:
    lab = RunningLab(labfile.load("tailnet"), speed=20, directory=tmp_path / "lab").start()
    try:
        yield lab
    finally:
        lab.stop()


def test_cluster_dns_is_found_the_way_real_clusters_name_it(tailnet: RunningLab) -> None:
    svc = kubectl_json(tailnet, "get", "service", "kube-dns", "-n", "kube-system")
    assert svc["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert svc["spec"]["clusterIP"] == "10.43.0.10"  # k3s' service range
    pods = kubectl_json(tailnet, "get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")
    assert len(pods["items"]) == 1  # k3s ships one replica
    dns_pod = pods["items"][0]
    endpoints = dns_endpoints(tailnet)
    assert [e["targetRef"]["name"] for e in endpoints] == [dns_pod["metadata"]["name"]]
    assert endpoints[0]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert endpoints[0]["nodeName"] == dns_pod["spec"]["nodeName"]
    assert endpoints[0]["addresses"] == [dns_pod["status"]["podIP"]]
    printed = kubectl(tailnet, "get", "endpointslices", "-n", "kube-system")
    line = next(row for row in printed.splitlines() if row.startswith("kube-dns-"))
    assert dns_pod["status"]["podIP"] in line and "53,53,9153" in line
    metrics = kubectl_json(
        tailnet, "get", "pods", "-n", "kube-system", "-l", "k8s-app=metrics-server"
    )
    assert len(metrics["items"]) == 1


def test_kubeadm_lab_has_its_dns_address_and_two_endpoints(tmp_path: Path) -> None:
    with RunningLab(labfile.load("xeon"), speed=20, directory=tmp_path / "lab") as lab:
        svc = kubectl_json(lab, "get", "service", "kube-dns", "-n", "kube-system")
        assert svc["spec"]["clusterIP"] == "10.96.0.10"
        ready = [e for e in dns_endpoints(lab) if e["conditions"]["ready"]]
        assert len(ready) == 2
        static = kubectl_json(lab, "get", "pods", "-n", "kube-system", "-l", "component=etcd")
        assert static["items"], "kubeadm's static pods carry component=..."


def test_events_are_listed_and_watched_with_their_sources(tailnet: RunningLab) -> None:
    assert KUBECTL is not None
    env_home = str(Path(tailnet.kube.kubeconfig).parent)
    watch = subprocess.Popen(
        [KUBECTL, "get", "events", "-A", "--watch-only", "-o",
         "custom-columns=REASON:.reason,SOURCE:.source.component,OBJ:.involvedObject.name"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"KUBECONFIG": str(tailnet.kube.kubeconfig), "HOME": env_home, "PATH": "/usr/bin"},
    )  # fmt: skip
    try:
        time.sleep(1.0)  # the watch is open
        kubectl(tailnet, "scale", "deployment/cnpg-controller-manager", "-n", "cnpg-system",
                "--replicas=2")  # fmt: skip
        # A reader thread: select() on a buffered text pipe misses lines already read ahead.
        lines: queue.Queue[str] = queue.Queue()
        assert watch.stdout is not None
        threading.Thread(
            target=lambda: [lines.put(line) for line in watch.stdout],
            daemon=True,  # type: ignore[union-attr]
        ).start()
        seen: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(s.startswith("Started") for s in seen):
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=0.5))
        assert any(s.startswith("SuccessfulCreate") and "replicaset-controller" in s for s in seen)
        assert any(s.startswith("Scheduled") and "default-scheduler" in s for s in seen)
        assert any(s.startswith("Started") and "kubelet" in s for s in seen), seen
    finally:
        watch.kill()
        watch.wait()
    listed = kubectl_json(tailnet, "get", "events", "-n", "cnpg-system")
    reasons = {e["reason"] for e in listed["items"]}
    assert {"SuccessfulCreate", "Scheduled", "Pulling", "Pulled", "Created", "Started"} <= reasons
    printed = kubectl(tailnet, "get", "events", "-n", "cnpg-system")
    assert printed.split()[:5] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT"]


def test_kubectl_logs_tail_timestamps_and_follow(tailnet: RunningLab) -> None:
    lines = kubectl(tailnet, "logs", "-n", "kube-system", "deploy/coredns", "--tail=3")
    assert len(lines.splitlines()) == 3 and all("[INFO]" in x for x in lines.splitlines())
    stamped = kubectl(tailnet, "logs", "-n", "kube-system", "deploy/coredns", "--tail=1",
                      "--timestamps")  # fmt: skip
    stamp = stamped.split()[0]
    assert stamp.endswith("Z") and stamp[:4].isdigit()
    no_previous = subprocess.run(
        [KUBECTL or "kubectl", "logs", "-n", "kube-system", "deploy/coredns", "--previous"],
        capture_output=True, text=True, timeout=20,
        env={"KUBECONFIG": str(tailnet.kube.kubeconfig), "HOME": str(tailnet.dir)},
    )  # fmt: skip
    assert no_previous.returncode != 0
    assert "previous terminated container" in no_previous.stderr
    follow = subprocess.Popen(
        [KUBECTL or "kubectl", "logs", "-f", "--tail=0", "-n", "kube-system", "deploy/coredns"],
        stdout=subprocess.PIPE, text=True,
        env={"KUBECONFIG": str(tailnet.kube.kubeconfig), "HOME": str(tailnet.dir)},
    )  # fmt: skip
    try:
        assert follow.stdout is not None
        ready, _, _ = select.select([follow.stdout], [], [], 15)
        assert ready, "kubectl logs -f printed nothing new"
        assert "[INFO]" in follow.stdout.readline()
    finally:
        follow.kill()
        follow.wait()


def test_date_headers_tell_the_lab_clock(tailnet: RunningLab) -> None:
    tailnet.world.clock.advance(7200)
    lab_now = tailnet.world.clock.now()

    def skew(header: str | None) -> float:
        assert header, "no Date header"
        return abs(email.utils.parsedate_to_datetime(header).timestamp() - lab_now)

    kube = httpx.get(f"{tailnet.kube.face.url}/version", timeout=5)
    assert skew(kube.headers.get("date")) < 30
    pve = requests.get(f"{tailnet.pve_url}/api2/json/version", verify=str(tailnet.tls.ca_file),
                       timeout=5)  # fmt: skip
    assert skew(pve.headers.get("date")) < 30
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(tailnet.tailscale.socket_path))) as c:
        ts = c.get("http://local-tailscaled.sock/localapi/v0/status")
    assert skew(ts.headers.get("date")) < 30
    assert abs(email.utils.parsedate_to_datetime(kube.headers["date"]).timestamp()
               - time.time()) > 3600  # fmt: skip


def test_hpa_status_from_the_lab_metrics(tailnet: RunningLab) -> None:
    def target() -> str:
        printed = kubectl(tailnet, "get", "hpa", "-n", "yodangang")
        row = next(r for r in printed.splitlines() if r.startswith("yodangang-web"))
        return row if "%/70%" in row and "<unknown>" not in row else ""

    row = wait_for(target, 20, "the HPA to report cpu utilization")
    assert "Deployment/yodangang-web" in row
    hpa = kubectl_json(tailnet, "get", "hpa", "yodangang-web", "-n", "yodangang")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["status"]["currentMetrics"][0]["resource"]["name"] == "cpu"
    active = next(c for c in hpa["status"]["conditions"] if c["type"] == "ScalingActive")
    assert active["status"] == "True"


def test_proxmox_tasks_quorum_and_nextid_with_proxmoxer(tailnet: RunningLab) -> None:
    pve = proxmox(tailnet)
    upid = pve.nodes("friend-pve").qemu(100).status.reboot.post()
    tailnet.world.clock.advance(30)
    tasks = pve.cluster.tasks.get()
    mine = next(t for t in tasks if t["upid"] == upid)
    assert mine["status"] == "OK" and mine["endtime"] >= mine["starttime"]
    assert mine["type"] == "qmreboot" and mine["id"] == "100"
    assert int(pve.cluster.nextid.get()) == 102
    status = pve.cluster.status.get()
    nodes = {n["name"]: n for n in status if n["type"] == "node"}
    assert nodes["friend-pve"]["online"] == 1
    tailnet.control.power_off("friend-pve")
    listed = {n["node"]: n for n in pve.nodes.get()}
    assert listed["friend-pve"]["status"] == "offline"
    tailnet.control.power_on("friend-pve")
    startall = [t for t in pve.cluster.tasks.get() if t["type"] == "startall"]
    assert startall and startall[0]["node"] == "friend-pve"


def test_tailscale_peer_fields_over_the_socket(tailnet: RunningLab) -> None:
    status = tailscale_status(tailnet)
    assert status["BackendState"] == "Running" and status["Health"] == []
    peers = {p["HostName"]: p for p in status["Peer"].values()}
    direct, relayed = peers["rpi5-kr1"], peers["rpi5-kr2"]
    assert direct["CurAddr"] and direct["Relay"] and direct["Online"] and direct["Active"]
    assert relayed["CurAddr"] == "" and relayed["Relay"] == "tok"
    assert all(p["ID"] and p["KeyExpiry"] for p in peers.values())
    assert "Expired" not in direct
    tailnet.world.health.append("not connected to home DERP region 1")
    assert tailscale_status(tailnet)["Health"] == ["not connected to home DERP region 1"]


def test_a_failed_task_carries_its_error_text(tailnet: RunningLab) -> None:
    pve = proxmox(tailnet)
    tailnet.world.shutdown_seconds[100] = 120.0  # a guest that ignores ACPI for two minutes
    upid = pve.nodes("friend-pve").qemu(100).status.shutdown.post(timeout=10)
    tailnet.world.clock.advance(30)
    task = next(t for t in pve.cluster.tasks.get() if t["upid"] == upid)
    assert task["status"] == "VM quit/powerdown failed - got timeout"
    assert task["endtime"] >= task["starttime"]


def test_events_expire_after_an_hour(tailnet: RunningLab) -> None:
    kubectl(tailnet, "scale", "deployment/cnpg-controller-manager", "-n", "cnpg-system",
            "--replicas=2")  # fmt: skip

    def started() -> bool:
        events = kubectl_json(tailnet, "get", "events", "-n", "cnpg-system")["items"]
        return any(e["reason"] == "Started" for e in events)

    wait_for(started, 10, "the new pod's events")
    tailnet.world.clock.advance(3700)
    wait_for(lambda: not kubectl_json(tailnet, "get", "events", "-n", "cnpg-system")["items"],
             10, "the events to expire")  # fmt: skip


def test_a_deleted_node_whose_kubelet_runs_registers_again(tailnet: RunningLab) -> None:
    before = kubectl_json(tailnet, "get", "node", "rpi5-kr1")
    kubectl(tailnet, "label", "node", "rpi5-kr1", "added-by-hand=yes")
    kubectl(tailnet, "delete", "node", "rpi5-kr1")
    tailnet.world.clock.advance(35)

    def back() -> dict:
        nodes = kubectl_json(tailnet, "get", "nodes")["items"]
        return next((n for n in nodes if n["metadata"]["name"] == "rpi5-kr1"), {})

    node = wait_for(back, 10, "rpi5-kr1 registered again")
    assert node["metadata"]["uid"] != before["metadata"]["uid"]
    assert "added-by-hand" not in node["metadata"]["labels"]
    assert node["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"


THREE_NODE_PVE = """
[lab]
name = "trio"
[[hosts]]
name = "pve1"
cores = 4
memory = "16G"
[[hosts]]
name = "pve2"
cores = 4
memory = "16G"
[[hosts]]
name = "pve3"
cores = 4
memory = "16G"
"""


def test_a_cluster_that_loses_its_majority_is_not_quorate(tmp_path: Path) -> None:
    lab = labfile.loads(THREE_NODE_PVE, "trio.toml")
    with RunningLab(lab, speed=20, directory=tmp_path / "lab") as running:
        pve = proxmox(running)

        def cluster() -> dict:
            return next(e for e in pve.cluster.status.get() if e["type"] == "cluster")

        assert cluster()["quorate"] == 1 and cluster()["nodes"] == 3
        running.control.power_off("pve3")
        assert cluster()["quorate"] == 1  # two of three still vote
        running.control.power_off("pve2")
        assert cluster()["quorate"] == 0
        online = {e["name"]: e["online"] for e in pve.cluster.status.get() if e["type"] == "node"}
        assert online == {"pve1": 1, "pve2": 0, "pve3": 0}
