"""The what-if tells what a cluster would really do, through the command a user runs: a drain
a budget forbids blocks, the only control plane is missed, cluster DNS on one box is critical,
and a single-arch image does not run on the other arch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cockpit.lab.runner import RunningLab
from cockpit.labfile import load

HOSTS = """
[[hosts]]
name = "box"
cores = 8
memory = "32G"
disk = "256G"

[[guests]]
vmid = 100
name = "cp"
host = "box"
vcpus = 2
memory = "4G"

[[guests]]
vmid = 101
name = "w1"
host = "box"
vcpus = 4
memory = "8G"

[[guests]]
vmid = 102
name = "w2"
host = "box"
vcpus = 4
memory = "8G"

[[nodes]]
name = "cp"
guest = 100
roles = ["control-plane"]

[[nodes]]
name = "w1"
guest = 101

[[nodes]]
name = "w2"
guest = 102
"""

PDB_WALL = (
    '[lab]\nname = "pdb-wall"\n'
    + HOSTS
    + """
[[workloads]]
name = "api"
namespace = "apps"
replicas = 2
anti_affinity = "hostname"
nodes = ["w1", "w2"]
requests = { cpu = "100m", memory = "128Mi" }
pdb = { min_available = 2 }
"""
)


def cockpit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), **(env or {})},
        check=False,
    )


def test_whatif_drain_agrees_with_plan_and_the_drain_action(tmp_path: Path):
    lab_file = tmp_path / "pdb-wall.toml"
    lab_file.write_text(PDB_WALL)
    text = cockpit("whatif", str(lab_file), "--drain", "w1")
    assert text.returncode == 0, text.stderr
    summary = text.stdout.strip().splitlines()[-1]
    assert summary.startswith("0 pod(s) re-placed, 0 Pending")
    assert "the drain blocks" in summary and "apps/api-pdb" in summary
    assert "allows no disruption" in text.stdout

    doc = json.loads(cockpit("whatif", str(lab_file), "--drain", "w1", "--json").stdout)
    assert doc["drain_blocked"] is True and doc["moves"] == []
    assert [(b["namespace"], b["pdb"]) for b in doc["blocked"]] == [("apps", "apps/api-pdb")]

    plan = cockpit("plan", str(lab_file)).stdout
    assert any("apps/api-pdb" in line and "wait forever" in line for line in plan.splitlines())

    running = RunningLab(load(lab_file), speed=30, directory=tmp_path / "lab").start()
    try:
        env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
        action = cockpit("--config", str(running.config_path), "drain", "w1", "--plan", env=env)
    finally:
        running.stop()
    assert action.returncode == 0, action.stderr
    assert "waits: PDB apps/api-pdb allows no disruption" in action.stdout
    assert "PDB apps/api-pdb allows no disruption now" in action.stdout


def test_losing_the_only_control_plane_node_says_what_stops_and_what_keeps_running(
    tmp_path: Path,
):
    lab_file = tmp_path / "one-master.toml"
    lab_file.write_text(
        '[lab]\nname = "one-master"\n'
        + HOSTS
        + """
[[workloads]]
name = "api"
namespace = "apps"
replicas = 1
nodes = ["cp"]
requests = { cpu = "100m", memory = "128Mi" }
"""
    )
    result = cockpit("whatif", str(lab_file), "--lose", "cp")
    assert result.returncode == 0, result.stderr
    note = next(line for line in result.stdout.splitlines() if "control-plane node cp" in line)
    for stops in ("API server", "scheduler", "controllers stop"):
        assert stops in note
    assert "What keeps running" in note and "other nodes" in note
    assert "unreachable toleration" not in result.stdout  # nothing evicts without it
    doc = json.loads(cockpit("whatif", str(lab_file), "--lose", "cp", "--json").stdout)
    assert doc["control_plane_down"] is True and doc["moves"] == []
    assert [p["why"] for p in doc["lost"]] == [
        "nothing evicts or recreates it while the control plane is down"
    ]
    # A worker's loss leaves the control plane alone.
    worker = json.loads(cockpit("whatif", str(lab_file), "--lose", "w1", "--json").stdout)
    assert worker["control_plane_down"] is False
    assert not any("control-plane" in n for n in worker["notes"])


MIXED_ARCH = """
[lab]
name = "mixed"

[images]
"example/legacy-exporter:0.9" = ["amd64"]
"nginx:1.27" = ["amd64", "arm64"]

[[hosts]]
name = "x86"
cores = 4
memory = "16G"

[[hosts]]
name = "pi"
cores = 4
memory = "8G"
arch = "arm64"
proxmox = false

[[guests]]
vmid = 100
name = "vm-1"
host = "x86"
vcpus = 2
memory = "4G"

[[nodes]]
name = "vm-1"
guest = 100

[[nodes]]
name = "pi"
host = "pi"

[[workloads]]
name = "exporter"
namespace = "monitoring"
image = "example/legacy-exporter:0.9"
nodes = ["vm-1"]
requests = { cpu = "20m", memory = "32Mi" }

[[workloads]]
name = "web"
image = "nginx:1.27"
nodes = ["vm-1"]
requests = { cpu = "20m", memory = "32Mi" }
"""


def test_a_single_arch_image_moved_to_the_other_arch_is_a_crash(tmp_path: Path):
    lab_file = tmp_path / "mixed.toml"
    lab_file.write_text(MIXED_ARCH)
    lab = load(lab_file)
    exporter = next(p for p in lab.snapshot.pods if p.name.startswith("exporter"))
    assert exporter.annotations["cockpit.io/image-archs"] == "amd64"  # from [images]

    doc = json.loads(cockpit("whatif", str(lab_file), "--lose", "vm-1", "--json").stdout)
    notes = {m["pod"].split("-")[0]: m["note"] or "" for m in doc["moves"]}
    assert "exec format error" in notes["exporter"] and "amd64 only" in notes["exporter"]
    assert "exec format error" not in notes["web"]  # multi-arch: fine on the Pi
    outcome = {w["ref"]: w for w in doc["workloads"]}
    assert outcome["monitoring/deployment/exporter"]["ready_after"] == 0
    assert outcome["default/deployment/web"]["ready_after"] == 1
    text = cockpit("whatif", str(lab_file), "--lose", "vm-1").stdout
    assert "1 will crash on a node of the wrong arch (exec format error)" in text

    (tmp_path / "bad.toml").write_text(MIXED_ARCH.replace('["amd64"]', '["x86"]'))
    bad = cockpit("plan", str(tmp_path / "bad.toml"))
    assert bad.returncode == 2 and "images" in bad.stderr and "'x86'" in bad.stderr


def test_cluster_dns_on_vms_of_one_box_is_critical(tmp_path: Path):
    lab_file = tmp_path / "dns-box.toml"
    lab_file.write_text(
        '[lab]\nname = "dns-box"\n'
        + HOSTS
        + """
[[hosts]]
name = "pi"
cores = 4
memory = "8G"
arch = "arm64"
proxmox = false

[[nodes]]
name = "pi"
host = "pi"

[[workloads]]
name = "coredns"
namespace = "kube-system"
replicas = 2
nodes = ["w1", "w2"]
requests = { cpu = "100m", memory = "70Mi" }
pdb = { max_unavailable = 1 }

[[workloads]]
name = "web"
replicas = 2
nodes = ["w1", "w2"]
requests = { cpu = "100m", memory = "70Mi" }
pdb = { max_unavailable = 1 }
"""
    )
    doc = json.loads(cockpit("plan", str(lab_file), "--json").stdout)
    one_box = {r["subject"]: r for r in doc["risks"] if r["code"] == "replicas-one-host"}
    dns = one_box["kube-system/deployment/coredns"]
    assert dns["severity"] == "critical" and "name resolution" in dns["message"]
    assert one_box["default/deployment/web"]["severity"] == "warning"  # an app: a warning
