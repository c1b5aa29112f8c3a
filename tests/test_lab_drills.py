"""Each outage drill against a running lab, checked only through the public APIs with
clients nobody here wrote: kubectl, proxmoxer and the Tailscale LocalAPI. A drill causes
the fault; these tests read its consequences the way the cockpit (or a person) would."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubectl_cli import KUBECTL
from lab_clients import (
    dns_endpoints,
    kubectl,
    kubectl_json,
    peer,
    proxmox,
    ready_dns,
    tailscale_status,
)
from waiting import wait_for

from cockpit import labfile
from cockpit.lab.drills import DRILLS, run_drill
from cockpit.lab.errors import ControlError
from cockpit.lab.runner import RunningLab


@pytest.fixture
def tailnet(tmp_path: Path) -> Iterator[RunningLab]:
    lab = RunningLab(labfile.load("tailnet"), speed=20, directory=tmp_path / "lab").start()
    try:
        yield lab
    finally:
        lab.stop()


def node_ready(lab: RunningLab, name: str) -> str:
    node = kubectl_json(lab, "get", "node", name)
    return next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")


def pods(lab: RunningLab, *selector: str) -> list[dict]:
    scope = () if "-n" in selector else ("-A",)
    return kubectl_json(lab, "get", "pods", *scope, *selector)["items"]


def kubectl_fails(lab: RunningLab, *args: str) -> str:
    result = subprocess.run(
        [KUBECTL or "kubectl", *args], capture_output=True, text=True, timeout=30,
        env={"KUBECONFIG": str(lab.kube.kubeconfig), "HOME": str(lab.dir)},
    )  # fmt: skip
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_every_drill_has_a_one_line_summary() -> None:
    assert len(DRILLS) >= 12
    assert all(d.summary and "\n" not in d.summary for d in DRILLS.values())


def test_host_power_loss(tailnet: RunningLab) -> None:
    what = run_drill(tailnet.control, "host-power-loss")
    assert "friend-pve" in what  # the box under two nodes
    listed = {n["node"]: n for n in proxmox(tailnet).nodes.get()}
    assert listed["friend-pve"]["status"] == "offline"
    assert not peer(tailnet, "x86-vm-1")["Online"]
    tailnet.world.clock.advance(45)  # past the node grace period
    wait_for(lambda: node_ready(tailnet, "x86-vm-1") == "Unknown", 10, "x86-vm-1 Unknown")
    printed = kubectl(tailnet, "get", "nodes")
    assert (
        next(r for r in printed.splitlines() if r.startswith("x86-vm-2")).split()[1] == "NotReady"
    )
    victim = next(p for p in pods(tailnet) if p["spec"].get("nodeName") == "x86-vm-1")
    ns, name = victim["metadata"]["namespace"], victim["metadata"]["name"]
    assert "no route to host" in kubectl_fails(tailnet, "logs", "-n", ns, name)
    tailnet.world.clock.advance(310)  # past the pods' unreachable toleration

    def terminating() -> list[dict]:
        return [p for p in pods(tailnet) if p["spec"].get("nodeName") == "x86-vm-1"
                and p["metadata"].get("deletionTimestamp")]  # fmt: skip

    stuck = wait_for(terminating, 10, "pods on the dead node Terminating")
    printed = kubectl(tailnet, "get", "pods", "-n", stuck[0]["metadata"]["namespace"])
    assert f"{stuck[0]['metadata']['name']} " in printed and "Terminating" in printed

    # The amd64-only exporter has nowhere left to go: Pending, in the scheduler's words.
    def pending() -> list[dict]:
        return [p for p in pods(tailnet, "-n", "monitoring") if p["status"]["phase"] == "Pending"]

    replacement = wait_for(pending, 10, "the exporter's replacement Pending")[0]
    scheduled = next(c for c in replacement["status"]["conditions"]
                     if c["type"] == "PodScheduled")  # fmt: skip
    assert scheduled["status"] == "False" and scheduled["reason"] == "Unschedulable"
    assert scheduled["message"].startswith("0/5 nodes are available")
    events = kubectl(tailnet, "get", "events", "-n", "monitoring")
    assert "FailedScheduling" in events
    # What a person does for a box that is not coming back: delete the node; the pod
    # garbage collector then removes the pods stuck on it.
    kubectl(tailnet, "delete", "node", "x86-vm-1")
    tailnet.world.clock.advance(45)
    wait_for(lambda: not terminating(), 10, "the orphaned pods collected")


def test_coredns_node_reboot_leaves_dns_without_a_ready_endpoint(tailnet: RunningLab) -> None:
    dns_node = dns_endpoints(tailnet)[0]["nodeName"]
    dns_pod_name = dns_endpoints(tailnet)[0]["targetRef"]["name"]
    what = run_drill(tailnet.control, "coredns-node-reboot")
    assert dns_node in what
    tailnet.world.clock.advance(45)
    wait_for(lambda: ready_dns(tailnet) == 0, 10, "kube-dns without a ready endpoint")
    assert [e["nodeName"] for e in dns_endpoints(tailnet)] == [dns_node]  # listed, not ready
    vmid = next(g for g in tailnet.world.guests.values() if g.name == dns_node).vmid
    tasks = proxmox(tailnet).cluster.tasks.get()
    assert any(t["type"] == "qmreboot" and t["id"] == str(vmid) for t in tasks)
    # Still down when the pod's 300 s unreachable toleration runs out: CoreDNS is
    # evicted and rescheduled on a live node, and DNS is back from there.
    tailnet.world.clock.advance(320)

    def rescheduled() -> str:
        ready = [e for e in dns_endpoints(tailnet) if e["conditions"]["ready"]]
        return ready[0]["nodeName"] if ready else ""

    elsewhere = wait_for(rescheduled, 20, "CoreDNS ready on another node")
    assert elsewhere != dns_node
    tailnet.world.clock.advance(300)  # the VM is back and its kubelet reports Ready
    wait_for(lambda: node_ready(tailnet, dns_node) == "True", 15, "the node back")
    events = kubectl_json(tailnet, "get", "events", "-A")["items"]
    reasons = {(e["reason"], e["involvedObject"]["name"]) for e in events}
    assert ("Rebooted", dns_node) in reasons
    assert ("TaintManagerEviction", dns_pod_name) in reasons


def test_rpi_thermal_dies_and_comes_back(tailnet: RunningLab) -> None:
    what = run_drill(tailnet.control, "rpi-thermal", target="rpi5-kr2")
    assert "rpi5-kr2" in what
    assert not peer(tailnet, "rpi5-kr2")["Online"]
    tailnet.world.clock.advance(45)
    wait_for(lambda: node_ready(tailnet, "rpi5-kr2") == "Unknown", 10, "rpi5-kr2 Unknown")
    tailnet.world.clock.advance(240)
    wait_for(lambda: peer(tailnet, "rpi5-kr2")["Online"], 10, "the Pi back on the tailnet")
    tailnet.world.clock.advance(25)
    wait_for(lambda: node_ready(tailnet, "rpi5-kr2") == "True", 10, "rpi5-kr2 Ready again")


def test_peer_cut_keeps_the_node_running(tailnet: RunningLab) -> None:
    run_drill(tailnet.control, "peer-cut", target="rpi5-kr1")
    cut = peer(tailnet, "rpi5-kr1")
    assert not cut["Online"] and not cut["Active"] and cut["LastSeen"] != "0001-01-01T00:00:00Z"
    tailnet.world.clock.advance(60)
    assert node_ready(tailnet, "rpi5-kr1") == "True"


def test_peer_relayed_loses_its_direct_address(tailnet: RunningLab) -> None:
    assert peer(tailnet, "x86-vm-1")["CurAddr"]
    what = run_drill(tailnet.control, "peer-relayed", target="x86-vm-1")
    assert "DERP" in what
    relayed = peer(tailnet, "x86-vm-1")
    assert relayed["Online"] and relayed["CurAddr"] == "" and relayed["Relay"] == "sfo"


def test_key_expiry(tailnet: RunningLab) -> None:
    run_drill(tailnet.control, "key-expiry", target="rpi5-kr1")
    expired = peer(tailnet, "rpi5-kr1")
    assert expired["Expired"] is True and not expired["Online"]
    assert expired["KeyExpiry"] < "9999"  # an RFC 3339 time, in the past of the lab clock


def test_tailscaled_logged_out(tailnet: RunningLab) -> None:
    run_drill(tailnet.control, "tailscaled-logged-out")
    status = tailscale_status(tailnet)
    assert status["BackendState"] == "NeedsLogin"
    assert any("logged out" in h for h in status["Health"])
    assert not status["Peer"]
    assert node_ready(tailnet, "rpi5-home") == "True"  # the machine itself runs on


def test_disk_pressure_evicts_pods(tailnet: RunningLab) -> None:
    what = run_drill(tailnet.control, "disk-pressure", target="rpi5-kr1")
    node = kubectl_json(tailnet, "get", "node", "rpi5-kr1")
    pressure = next(c for c in node["status"]["conditions"] if c["type"] == "DiskPressure")
    assert pressure["status"] == "True"
    assert any(t["key"] == "node.kubernetes.io/disk-pressure" for t in node["spec"]["taints"])
    evicted = [p for p in pods(tailnet) if p["status"].get("reason") == "Evicted"]
    assert evicted and all(p["status"]["phase"] == "Failed" for p in evicted)
    assert all(p["metadata"]["name"] in what for p in evicted)
    events = kubectl(tailnet, "get", "events", "-A")
    assert "Evicted" in events and "EvictionThresholdMet" in events


def test_oom_loop(tailnet: RunningLab) -> None:
    run_drill(tailnet.control, "oom-loop", target="yodangang/yodangang-web")
    tailnet.world.clock.advance(10)

    def oom_killed() -> list[dict]:
        tailnet.world.clock.advance(10)
        return [
            p for p in pods(tailnet, "-l", "app.kubernetes.io/name=yodangang-web")
            for cs in p["status"].get("containerStatuses") or []
            if cs.get("lastState", {}).get("terminated", {}).get("reason") == "OOMKilled"
        ]  # fmt: skip

    victim = wait_for(oom_killed, 20, "an OOMKilled container")[0]
    cs = victim["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    assert cs["restartCount"] >= 1
    limit = victim["spec"]["containers"][0]["resources"]["limits"]["memory"]
    assert limit.endswith("Mi") and int(limit[:-2]) < 450


def test_crashloop_and_rollback(tailnet: RunningLab) -> None:
    what = run_drill(tailnet.control, "crashloop", target="yodangang/yodangang-web")
    assert "broken-release" in what

    def crashing() -> list[dict]:
        tailnet.world.clock.advance(3)
        return [
            p for p in pods(tailnet, "-l", "app.kubernetes.io/name=yodangang-web")
            if (p["status"].get("containerStatuses") or [{}])[0].get("state", {})
            .get("waiting", {}).get("reason") == "CrashLoopBackOff"
        ]  # fmt: skip

    pod = wait_for(crashing, 20, "a pod in CrashLoopBackOff")[0]
    name = pod["metadata"]["name"]
    cs = pod["status"]["containerStatuses"][0]
    # The kubelet's own shapes, as in the captured crash loop (fixtures/kube/k8rs-crashloop).
    assert re.fullmatch(
        r"back-off (\d+m)?\d+s restarting failed container=yodangang-web "
        rf"pod={name}_yodangang\({pod['metadata']['uid']}\)",
        cs["state"]["waiting"]["message"],
    )
    last = cs["lastState"]["terminated"]
    assert last["reason"] == "Error" and last["exitCode"] == 1
    assert "FATAL" in last["message"] and last["containerID"].startswith("containerd://")
    assert "CrashLoopBackOff" in kubectl(tailnet, "get", "pods", "-n", "yodangang")
    described = kubectl(tailnet, "describe", "pod", "-n", "yodangang", name)
    assert "Back-off restarting failed container" in described  # events by field selector
    assert "FATAL: cannot reach the database" in described  # the termination message
    logs = kubectl(tailnet, "logs", "-n", "yodangang", name, "--previous")
    assert "FATAL: cannot reach the database" in logs.splitlines()[-1]
    kubectl(tailnet, "rollout", "undo", "deployment/yodangang-web", "-n", "yodangang")

    def healed() -> bool:
        tailnet.world.clock.advance(5)
        web = pods(tailnet, "-l", "app.kubernetes.io/name=yodangang-web")
        live = [p for p in web if not p["metadata"].get("deletionTimestamp")]
        return bool(live) and all(
            ":broken" not in p["spec"]["containers"][0]["image"]
            and (p["status"].get("containerStatuses") or [{}])[0].get("ready") for p in live
        )  # fmt: skip

    wait_for(healed, 30, "the rollback to bring healthy pods")


def test_image_pull_failure_stalls_the_rollout(tailnet: RunningLab) -> None:
    what = run_drill(tailnet.control, "image-pull", target="yodangang/yodangang-web")
    bad = what.split(" set to ")[1].split(",")[0]

    def waiting(reason: str) -> list[dict]:
        tailnet.world.clock.advance(2)
        return [
            p for p in pods(tailnet, "-l", "app.kubernetes.io/name=yodangang-web")
            if p["spec"]["containers"][0]["image"] == bad
            and (p["status"].get("containerStatuses") or [{}])[0].get("state", {})
            .get("waiting", {}).get("reason") == reason
        ]  # fmt: skip

    pod = wait_for(lambda: waiting("ErrImagePull"), 15, "ErrImagePull")[0]
    assert pod["status"]["phase"] == "Pending"
    assert "not found" in pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    wait_for(lambda: waiting("ImagePullBackOff"), 15, "ImagePullBackOff")
    assert "ImagePullBackOff" in kubectl(tailnet, "get", "pods", "-n", "yodangang")
    web = pods(tailnet, "-l", "app.kubernetes.io/name=yodangang-web")
    old = [p for p in web if p["spec"]["containers"][0]["image"] != bad
           and p["status"]["phase"] == "Running"]  # fmt: skip
    assert len(old) == 3  # maxUnavailable 25% of 3 rounds down: the old pods all stay


def test_arch_mismatch_is_an_exec_format_error(tailnet: RunningLab) -> None:
    what = run_drill(tailnet.control, "arch-mismatch")
    assert "legacy-exporter" in what and "arm64" in what

    def crashed() -> list[dict]:
        tailnet.world.clock.advance(3)
        return [
            p for p in pods(tailnet, "-n", "monitoring") if p["spec"].get("nodeSelector", {})
            .get("kubernetes.io/arch") == "arm64" and p["status"].get("containerStatuses")
            and p["status"]["containerStatuses"][0].get("lastState", {}).get("terminated")
        ]  # fmt: skip

    pod = wait_for(crashed, 20, "the arm64 pod to have crashed")[0]
    logs = kubectl(tailnet, "logs", "-n", "monitoring", pod["metadata"]["name"])
    assert "exec format error" in logs
    # The old amd64 pod keeps running: the new one never became Ready.
    running = [p for p in pods(tailnet, "-n", "monitoring") if p["status"]["phase"] == "Running"
               and (p["status"].get("containerStatuses") or [{}])[0].get("ready")]  # fmt: skip
    assert len(running) == 1


def test_arch_mismatch_on_a_single_arch_lab_creates_its_own_workload(tmp_path: Path) -> None:
    with RunningLab(labfile.load("n100"), speed=20, directory=tmp_path / "lab") as lab:
        what = run_drill(lab.control, "arch-mismatch")
        assert "arm64-only" in what

        def crashed() -> bool:
            lab.world.clock.advance(3)
            found = pods(lab, "-n", "default", "-l", "app.kubernetes.io/name=image-resizer")
            if not found:
                return False
            try:
                log = kubectl(lab, "logs", "-n", "default", found[0]["metadata"]["name"])
            except AssertionError:  # still ContainerCreating: no log yet, ask again
                return False
            return "exec format error" in log

        wait_for(crashed, 20, "exec format error in the new workload's log")


def test_metrics_server_gone(tailnet: RunningLab) -> None:
    run_drill(tailnet.control, "metrics-server-gone")

    def blind() -> str:
        tailnet.world.clock.advance(16)
        printed = kubectl(tailnet, "get", "hpa", "-n", "yodangang")
        return printed if "cpu: <unknown>/70%" in printed else ""

    wait_for(blind, 20, "the HPA to read <unknown>")
    error = kubectl_fails(tailnet, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods")
    assert "ServiceUnavailable" in error or "unable to handle the request" in error
    hpa = kubectl_json(tailnet, "get", "hpa", "yodangang-web", "-n", "yodangang")
    active = next(c for c in hpa["status"]["conditions"] if c["type"] == "ScalingActive")
    assert active["status"] == "False" and active["reason"] == "FailedGetResourceMetric"
    assert "currentMetrics" not in hpa["status"]


def test_pdb_blocks_all_makes_drain_wait(tailnet: RunningLab) -> None:
    run_drill(tailnet.control, "pdb-blocks-all", target="yodangang/yodangang-web")
    tailnet.world.clock.advance(2)

    def blocked() -> bool:
        pdb = kubectl_json(tailnet, "get", "pdb", "yodangang-web-pdb", "-n", "yodangang")
        return pdb["spec"].get("maxUnavailable") == 0 and pdb["status"]["disruptionsAllowed"] == 0

    wait_for(blocked, 10, "the budget to allow no disruption")
    web = pods(tailnet, "-l", "app.kubernetes.io/name=yodangang-web")[0]
    error = kubectl_fails(
        tailnet, "drain", web["spec"]["nodeName"], "--ignore-daemonsets",
        "--delete-emptydir-data", "--timeout=3s", "--pod-selector",
        "app.kubernetes.io/name=yodangang-web",
    )  # fmt: skip
    assert "disruption budget" in error


def test_a_drill_waits_for_its_lab_time(tailnet: RunningLab) -> None:
    said = run_drill(tailnet.control, "peer-cut", at=30, target="rpi5-kr1")
    assert "in 30 lab seconds" in said
    assert peer(tailnet, "rpi5-kr1")["Online"]
    assert tailnet.control.listing()["pending"]
    tailnet.world.clock.advance(31)
    wait_for(lambda: not peer(tailnet, "rpi5-kr1")["Online"], 5, "the scheduled cut")
    history = tailnet.control.listing()["history"]
    assert any("peer-cut" in h["what"] for h in history)


def test_a_drill_that_does_not_fit_says_why(tailnet: RunningLab) -> None:
    with pytest.raises(ControlError, match="no drill named"):
        run_drill(tailnet.control, "meteor-strike")
    with pytest.raises(ControlError, match="no tailnet peer"):
        run_drill(tailnet.control, "peer-cut", target="nosuch")
