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
    # The old worker's size and cloud-init settings, as a node replacement sets them.
    vm = pve.nodes("pve").qemu(newid)
    digest = vm.config.get()["digest"]
    vm.config.put(cores=6, memory=9216, ciuser="k3s", cipassword="hunter2",
                  ipconfig0="ip=dhcp", sshkeys="ssh-ed25519%20AAAA", digest=digest)  # fmt: skip
    with pytest.raises(ResourceException, match="modified configuration"):
        vm.config.put(cores=2, digest=digest)  # the digest of the config before the edit
    vm.resize.put(disk="scsi0", size="+68G")
    with pytest.raises(ResourceException, match="shrinking"):
        vm.resize.put(disk="scsi0", size="10G")
    config = vm.config.get()
    assert (config["cores"], config["memory"]) == (6, "9216")
    assert config["ciuser"] == "k3s" and config["cipassword"] == "**********"
    assert config["ipconfig0"] == "ip=dhcp" and "size=100G" in config["scsi0"]
    vm.status.start.post()
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
    cpu = kubectl(lab, "get", "node", "k3s-worker-3", "-o", "jsonpath={.status.capacity.cpu}")
    assert cpu == "6"  # the cores it was given before it booted
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


def test_cores_of_a_running_vm_wait_for_its_next_start(lab: RunningLab) -> None:
    vm = proxmox(lab).nodes("pve").qemu(102)
    vm.config.put(cores=8)
    assert vm.config.get()["cores"] == 6
    pending = {p["key"]: p for p in vm.pending.get()}
    assert pending["cores"]["pending"] == 8
    vm.status.stop.post()
    lab.world.clock.advance(5)
    wait_for(lambda: vm.status.current.get()["status"] == "stopped", 10, "the VM stopped")
    vm.status.start.post()
    lab.world.clock.advance(10)
    wait_for(lambda: vm.config.get()["cores"] == 8, 10, "the pending cores applied")
