"""One world, three faces, one clock: a friend's machine losing power (seed 004's night)."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest
from waiting import wait_for

from cockpit import labfile
from cockpit.lab.kube.meta import NODE_GRACE
from cockpit.lab.runner import RunningLab


@pytest.fixture
def lab():
    running = RunningLab(labfile.load("tailnet"), speed=5).start()
    yield running
    running.stop()


def node(lab: RunningLab, name: str) -> dict:
    return lab.kube.store.get("nodes", ("", name))


def ready(lab: RunningLab, name: str) -> str:
    return next(
        c["status"] for c in node(lab, name)["status"]["conditions"] if c["type"] == "Ready"
    )


def peers(lab: RunningLab) -> dict[str, bool]:
    transport = httpx.HTTPTransport(uds=lab.tailscale.socket_path)
    with httpx.Client(transport=transport, base_url="http://local-tailscaled.sock") as client:
        doc = client.get("/localapi/v0/status").json()
    return {p["HostName"]: p["Online"] for p in doc["Peer"].values()}


def coredns(lab: RunningLab) -> list[dict]:
    return [
        p
        for p in lab.kube.store.list("pods", "kube-system")[0]
        if p["metadata"]["name"].startswith("coredns-")
    ]


def test_host_power_loss_on_one_clock(lab):
    clock = lab.world.clock
    vms = [n for n, b in lab.lab.snapshot.backing.items() if b.host == "friend-pve"]
    assert sorted(vms) == ["x86-vm-1", "x86-vm-2"]
    [dns] = coredns(lab)
    assert dns["spec"]["nodeName"] in vms  # the seed's setup: the only CoreDNS on a VM

    lab.world.set_host_power("friend-pve", False)
    # Proxmox: the guests stop at once. Tailscale: their peers go offline at once.
    assert all(not lab.world.guests[lab.lab.snapshot.backing[n].vmid].running for n in vms)
    assert not any(peers(lab)[name] for name in vms)
    # Kubernetes: nothing yet; the node controller waits for its grace period.
    time.sleep(0.2)
    assert all(ready(lab, n) == "True" for n in vms)
    clock.advance(NODE_GRACE)
    wait_for(lambda: all(ready(lab, n) == "Unknown" for n in vms), what="nodes Unknown")
    taints = {t["key"] for t in node(lab, vms[0])["spec"]["taints"]}
    assert "node.kubernetes.io/unreachable" in taints
    # The pods are still there (and CoreDNS still "exists") until the toleration runs out:
    # that is the outage window of seed 004.
    assert not coredns(lab)[0]["metadata"].get("deletionTimestamp")
    clock.advance(300)
    wait_for(
        lambda: any(p["metadata"].get("deletionTimestamp") for p in coredns(lab)),
        what="the taint manager to evict CoreDNS",
    )
    # The ReplicaSet replaces it on a Pi; the old pod stays Terminating on the dead node.
    wait_for(
        lambda: any(
            not p["metadata"].get("deletionTimestamp")
            and p.get("status", {}).get("phase") == "Running"
            and p["spec"]["nodeName"] not in vms
            for p in coredns(lab)
        ),
        what="a new CoreDNS on a live node",
    )
    assert any(
        p["metadata"].get("deletionTimestamp") and p["spec"]["nodeName"] in vms
        for p in coredns(lab)
    )

    lab.world.set_host_power("friend-pve", True)
    assert all(peers(lab)[name] for name in vms)
    clock.advance(30)
    wait_for(lambda: all(ready(lab, n) == "True" for n in vms), what="nodes Ready again")
    # With its kubelet back, the old pod finally finishes terminating.
    wait_for(
        lambda: not any(p["metadata"].get("deletionTimestamp") for p in coredns(lab)),
        what="the Terminating pod to go",
    )


def test_a_migrated_vm_takes_its_node_to_the_new_host(lab):
    vmid = lab.lab.snapshot.backing["x86-vm-1"].vmid
    with lab.world.lock:  # as a finished `qm migrate` leaves it
        lab.world.guests[vmid] = replace(lab.world.guests[vmid], host="rpi5-home")
    lab.world.set_host_power("friend-pve", False)
    assert lab.world.backing_up("x86-vm-1")  # it no longer lives on the dead host
    assert not lab.world.backing_up("x86-vm-2")
