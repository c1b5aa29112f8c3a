"""Templates in the lab file, and what a VM cloned from a k3s-agent template does in the
lab: boots on the lab clock, its guest agent answers, and it joins the cluster and the
tailnet like cloud-init would, all seen through proxmoxer, kubectl and the LocalAPI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_clients import kubectl, peer, proxmox
from proxmoxer import ResourceException
from waiting import wait_for

from cockpit import labfile
from cockpit.lab.runner import RunningLab

TEMPLATE = """
[[guests]]
vmid = 9000
name = "k3s-agent-template"
host = "pve"
vcpus = 2
memory = "4G"
disks = ["32G"]
tags = ["k3s-agent"]
template = true
"""


def n100_with_template(tmp_path: Path) -> Path:
    text = labfile.builtin_lab_path("n100").read_text()
    # Guests must come before the nodes that use them; a template backs none.
    head, sep, tail = text.partition("[[nodes]]")
    path = tmp_path / "n100-template.toml"
    path.write_text(head + TEMPLATE + "\n" + sep + tail)
    return path


def test_a_template_guest_is_read_stopped(tmp_path: Path) -> None:
    lab = labfile.load(n100_with_template(tmp_path))
    template = next(g for g in lab.snapshot.guests if g.vmid == 9000)
    assert template.template and template.status == "stopped"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RunningLab]:
    running = RunningLab(
        labfile.load(n100_with_template(tmp_path)), speed=20, directory=tmp_path / "lab"
    ).start()
    try:
        yield running
    finally:
        running.stop()


def test_a_clone_of_a_k3s_agent_template_joins_when_it_boots(lab: RunningLab) -> None:
    pve = proxmox(lab)
    with pytest.raises(ResourceException, match="template"):
        pve.nodes("pve").qemu(9000).status.start.post()
    newid = int(pve.cluster.nextid.get())
    assert newid == 104
    upid = pve.nodes("pve").qemu(9000).clone.post(newid=newid, name="k3s-worker-3", full=1)

    def finished() -> bool:
        lab.world.clock.advance(5)
        return pve.nodes("pve").tasks(upid).status.get()["status"] == "stopped"

    wait_for(finished, 10, "the clone task")
    assert pve.nodes("pve").tasks(upid).status.get()["exitstatus"] == "OK"
    pve.nodes("pve").qemu(newid).status.start.post()
    lab.world.clock.advance(10)  # started, still booting
    wait_for(lambda: pve.nodes("pve").qemu(newid).status.current.get()["status"] == "running",
             10, "the VM running")  # fmt: skip
    with pytest.raises(ResourceException, match="guest agent is not running"):
        pve.nodes("pve").qemu(newid).agent.ping.post()
    lab.world.clock.advance(60)
    wait_for(lambda: _pings(pve, newid), 10, "the guest agent")

    def joined() -> str:
        rows = kubectl(lab, "get", "nodes").splitlines()
        return next((r for r in rows if r.startswith("k3s-worker-3 ")), "")

    row = wait_for(joined, 15, "the clone registered as a node")
    assert row.split()[1] == "Ready"
    new_peer = peer(lab, "k3s-worker-3")
    assert new_peer["Online"] and new_peer["TailscaleIPs"][0].startswith("100.")
    internal = kubectl(lab, "get", "node", "k3s-worker-3", "-o",
                       "jsonpath={.status.addresses[?(@.type=='InternalIP')].address}")  # fmt: skip
    assert internal == new_peer["TailscaleIPs"][0]  # node and peer link by address
    # It stops with its host like every other guest-backed node.
    lab.control.power_off("pve")
    assert not peer(lab, "k3s-worker-3")["Online"]


def _pings(pve: object, vmid: int) -> bool:
    try:
        pve.nodes("pve").qemu(vmid).agent.ping.post()  # type: ignore[attr-defined]
    except ResourceException:
        return False
    return True
