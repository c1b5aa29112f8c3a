"""`cockpit labctl` as a real process against a `cockpit lab` process: the control file
beside the config, every verb, join of a bare-metal machine, errors without tracebacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubectl_cli import kubectl_ok
from waiting import wait_for

COCKPIT = [str(Path(sys.executable).parent / "cockpit")]


def cockpit(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COCKPIT, *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COCKPIT_DEBUG": ""},
    )  # fmt: skip


@pytest.fixture
def lab_process(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "lab"
    proc = subprocess.Popen(
        [*COCKPIT, "lab", "tailnet", "--speed", "20", "--dir", str(where), "--for", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: (where / "lab-control.json").exists(), 30, "the lab's control file")
        yield where / "config.toml"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def labctl(config: Path, *args: str) -> str:
    result = cockpit("labctl", "--config", str(config), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_lab_prints_its_control_address(tmp_path: Path) -> None:
    result = cockpit("lab", "tailnet", "--speed", "20", "--dir", str(tmp_path / "l"), "--for",
                     "1", "--drill", "peer-cut", "--target", "rpi5-kr1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    control = next(x for x in result.stdout.splitlines() if x.startswith("control"))
    assert "http://127.0.0.1:" in control and "labctl --config" in control
    assert "drill peer-cut: tailnet peer rpi5-kr1 cut off" in result.stdout
    assert (tmp_path / "l" / "lab-control.json").stat().st_mode & 0o077 == 0
    token = json.loads((tmp_path / "l" / "lab-control.json").read_text())["token"]
    assert token not in result.stdout + result.stderr


def test_labctl_drives_a_running_lab(lab_process: Path) -> None:
    listed = labctl(lab_process, "list")
    assert "host  friend-pve  on" in listed and "drill coredns-node-reboot" in listed
    assert "powered off" in labctl(lab_process, "power-off", "friend-pve")
    assert "host  friend-pve  off" in labctl(lab_process, "list")
    assert "guest 100  x86-vm-1  stopped" in labctl(lab_process, "list")
    labctl(lab_process, "power-on", "friend-pve")
    wait_for(lambda: "guest 100  x86-vm-1  running" in labctl(lab_process, "list"), 10,
             "the guest back")  # fmt: skip
    assert "rebooting: UPID:" in labctl(lab_process, "reboot", "x86-vm-2")
    # 200 lab seconds are 10 real ones at 20x: time for a `list` before it runs.
    said = labctl(lab_process, "drill", "peer-relayed", "--at", "200", "--target", "x86-vm-1")
    assert "in 200 lab seconds" in said
    assert "pending" in labctl(lab_process, "list")
    wait_for(lambda: "peer  x86-vm-1  online  relay" in labctl(lab_process, "list"), 20,
             "the drill to run at its lab time")  # fmt: skip
    doc = json.loads(labctl(lab_process, "list", "--json"))
    assert doc["schema"] == "cockpit.labctl/1"
    assert any("peer-relayed" in h["what"] for h in doc["history"])


def test_join_plugs_in_a_node_and_a_peer(lab_process: Path) -> None:
    said = labctl(lab_process, "join", "rpi5-new", "--arch", "arm64", "--site", "home")
    assert "rpi5-new (arm64) plugged in at home" in said
    kubeconfig = lab_process.parent / "kubeconfig"

    def registered() -> str:
        nodes = kubectl_ok(kubeconfig, "get", "nodes", "-L", "kubernetes.io/arch")
        return next((r for r in nodes.splitlines() if r.startswith("rpi5-new")), "")

    row = wait_for(registered, 15, "the new node registered")
    assert row.split()[1] == "Ready" and row.split()[-1] == "arm64"
    listed = labctl(lab_process, "list")
    assert "peer  rpi5-new  online" in listed and "node  rpi5-new  Ready=True" in listed
    # The DaemonSet controller gives the new node its svclb pod, as on a real join.
    wait_for(lambda: "rpi5-new" in kubectl_ok(kubeconfig, "get", "pods", "-A", "-o", "wide"),
             15, "a pod on the new node")  # fmt: skip


def test_a_dead_pi_is_replaced_under_its_name(lab_process: Path) -> None:
    kubeconfig = lab_process.parent / "kubeconfig"
    refused = cockpit("labctl", "--config", str(lab_process), "join", "rpi5-kr2")
    assert refused.returncode == 2 and "delete it first" in refused.stderr
    labctl(lab_process, "power-off", "rpi5-kr2")
    kubectl_ok(kubeconfig, "delete", "node", "rpi5-kr2")
    said = labctl(lab_process, "join", "rpi5-kr2", "--arch", "arm64", "--site", "friend-kr-2")
    assert "plugged in" in said

    def back() -> bool:
        rows = kubectl_ok(kubeconfig, "get", "nodes").splitlines()
        return any(r.split()[:2] == ["rpi5-kr2", "Ready"] for r in rows)

    wait_for(back, 15, "the new Pi registered under the old name")
    listed = labctl(lab_process, "list")
    assert "host  rpi5-kr2  on" in listed and "peer  rpi5-kr2  online" in listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("power-off", "nosuch"), "no host named 'nosuch'"),
        (("drill", "meteor"), "no drill named 'meteor'"),
        (("reboot", "nothing"), "no guest, host or node named"),
        (("join", "rpi5-home"), "already"),
        (("reconnect", "nosuch"), "no tailnet peer named 'nosuch'"),
        (("free-disk", "nosuch"), "no node 'nosuch'"),
    ],
)
def test_labctl_errors_are_clear(lab_process: Path, args: tuple[str, ...], message: str) -> None:
    result = cockpit("labctl", "--config", str(lab_process), *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_labctl_without_a_lab_says_what_to_do(tmp_path: Path) -> None:
    result = cockpit("labctl", "--config", str(tmp_path / "config.toml"), "list")
    assert result.returncode == 2 and "no lab control file" in result.stderr
    (tmp_path / "lab-control.json").write_text('{"url": "http://127.0.0.1:9", "token": "x"}')
    result = cockpit("labctl", "--config", str(tmp_path / "config.toml"), "list")
    assert result.returncode == 2 and "does not answer" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_refuses_an_unknown_drill_before_opening_the_screen() -> None:
    result = cockpit("demo", "tailnet", "--drill", "meteor")
    assert result.returncode == 2
    assert "no drill named 'meteor'" in result.stderr and "Traceback" not in result.stderr


def test_drills_lists_one_line_each() -> None:
    result = cockpit("drills")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) >= 12 and lines[0].split()[0] == "host-power-loss"
