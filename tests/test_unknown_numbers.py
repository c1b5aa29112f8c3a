"""Unknown is "n/a", never infinity: a powered-off Proxmox node reports no hardware, and a
cluster read without Proxmox has no hosts at all. Read through the lab's real faces."""

from __future__ import annotations

from pathlib import Path

from live_lab import live_lab
from rich.console import Console

from cockpit.alloc.ledger import build_ledger
from cockpit.cli import jsonout
from cockpit.cli.present import host_table
from cockpit.cli.report import inventory_tree
from cockpit.config import load_config
from cockpit.inventory import from_config
from cockpit.labfile import Lab
from cockpit.ui.status import gauge_line, host_layers, lab_layers
from cockpit.units import format_ratio

LAB = """
[lab]
name = "dark-box"

[[hosts]]
name = "pve1"
cores = 4
memory = "16G"
disk = "256G"

[[hosts]]
name = "pve2"
cores = 4
memory = "16G"
disk = "256G"
online = false

[[guests]]
vmid = 100
name = "k3s-1"
host = "pve1"
vcpus = 2
memory = "4G"
disks = ["32G"]

[[guests]]
vmid = 101
name = "k3s-2"
host = "pve2"
vcpus = 2
memory = "4G"
disks = ["32G"]

[[nodes]]
name = "k3s-1"
guest = 100

[[nodes]]
name = "k3s-2"
guest = 101
"""


def text(renderable: object) -> str:
    console = Console(width=300, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def test_a_powered_off_host_reads_n_a_not_inf(tmp_path: Path):
    path = tmp_path / "dark-box.toml"
    path.write_text(LAB)
    with live_lab(str(path)) as (_, inventory):
        snapshot = inventory.refresh(timeout=30)
        links = inventory.links
    tree = text(inventory_tree(snapshot, links))
    assert "pve2  hardware n/a  OFFLINE" in tree and "pve1  4 threads, 16.00 GB" in tree
    ledger = build_ledger(snapshot)
    dark = ledger.host("pve2")
    assert dark.host.threads == 0 and not dark.host.online  # PVE sends no figures for it
    assert dark.cpu.ratio is None and dark.cpu.verdict is None
    assert dark.memory.ratio is None and dark.disk.ratio is None
    shown = text(host_table(ledger))
    row = next(line for line in shown.splitlines() if "pve2" in line)
    assert "n/a" in row and "inf" not in shown and "over" not in row
    gauge = gauge_line(host_layers(ledger, "pve2")).plain
    assert "inf" not in gauge and "n/a" in gauge and "0 thr" not in gauge
    doc = jsonout.host(dark)
    assert doc["cpu"]["ratio"] is None and doc["cpu"]["verdict"] is None
    live = ledger.host("pve1")
    assert live.cpu.ratio == 0.5 and live.cpu.verdict == "ample"  # known figures unchanged


def test_without_proxmox_the_requests_are_n_a(tmp_path: Path):
    with live_lab("n100") as (running, _):
        # The same cluster read through a config that names only its kubeconfig.
        config = tmp_path / "kube-only.toml"
        config.write_text(f'[kubernetes]\nkubeconfig = "{running.dir / "kubeconfig"}"\n')
        inventory = from_config(load_config(config))
        try:
            snapshot = inventory.refresh(timeout=30)
        finally:
            inventory.stop()
    assert not snapshot.hosts and snapshot.nodes
    ledger = build_ledger(snapshot)
    gauge = gauge_line(lab_layers(ledger)).plain
    assert "requests cpu n/a mem n/a" in gauge and "inf" not in gauge
    assert "hardware n/a" in gauge and "0 thr" not in gauge
    lab = Lab("live", "live sources", snapshot)
    totals = jsonout.plan(lab, ledger, [])["totals"]
    assert totals["cpu"]["ratio"] is None and totals["cpu"]["verdict"] is None


def test_format_ratio_of_an_unknown_ratio():
    assert format_ratio(None) == "n/a"
