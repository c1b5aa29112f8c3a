"""`cockpit check` as a real process: against a healthy built-in lab, with nothing to check,
and against a running lab where a fault was caused through the public APIs (a VM stopped
through the Proxmox API, CoreDNS scaled to 0 and a node cordoned with the real kubectl), read
through the config file the lab wrote, as cron would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from kubectl_cli import kubectl_ok

from cockpit import labfile
from cockpit.lab.runner import PVE_TOKEN_ID, RunningLab

SPEED = 20  # the 40 s node grace period passes in 2 s; pod eviction (300 s) takes 15 s


def check(*args: str, config: Path | None = None, timeout: float = 120) -> tuple[int, str]:
    head = ["--config", str(config)] if config else []
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", *head, "check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout


def check_json(lab: RunningLab) -> tuple[int, dict]:
    code, out = check("--json", config=lab.config_path)
    doc = json.loads(out)
    assert doc["schema"] == "cockpit.check/1"
    assert doc["exit_code"] == code
    return code, doc


def wait_for(what: str, condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def run_fix(lab: RunningLab, command: str, state: Path, *extra: str) -> None:
    """Run a fix exactly as `check` printed it, through the cockpit's own action (plan,
    confirmation by --yes, journal), against the lab's config."""
    program, *args = command.split()
    assert program == "cockpit", command
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", str(lab.config_path), *args, *extra, "--yes"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"


def codes_of(doc: dict) -> set[str]:
    return {f["code"] for f in doc["findings"] if not f["risk"]}


@pytest.fixture
def tailnet(tmp_path: Path) -> Iterator[RunningLab]:
    lab = RunningLab(labfile.load("tailnet"), speed=SPEED, directory=tmp_path / "lab").start()
    try:
        yield lab
    finally:
        lab.stop()


def test_a_healthy_lab_prints_one_summary_line_and_exits_0():
    code, out = check("--lab", "tailnet")
    assert code == 0, out
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("cockpit check: healthy: no incident;")
    assert "sources: kube ok, proxmox ok, tailscale ok" in lines[0]


def test_nothing_to_check_is_exit_3_never_healthy(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("# nothing configured\n")
    code, out = check(config=config)
    assert code == 3
    assert out.startswith("cockpit check: UNCHECKED")
    broken = tmp_path / "broken.toml"
    broken.write_text("[kubernetes\n")
    code, _ = check(config=broken)
    assert code == 3


def test_seed_004_the_friends_box_powered_off(tailnet: RunningLab, tmp_path: Path):
    # The lab's power button (what a drill presses); the diagnosis comes from what the three
    # APIs then say, read by the cockpit's own adapters in another process.
    tailnet.world.set_host_power("friend-pve", False)
    wait_for(
        "x86-vm-2 NotReady",
        lambda: (
            "NotReady"
            in kubectl_ok(tailnet.kube.kubeconfig, "get", "node", "x86-vm-2", "--no-headers")
        ),
    )
    code, out = check(config=tailnet.config_path)
    assert code == 2
    lines = out.splitlines()
    assert lines[1].startswith(
        "incident 1 CRITICAL HOST-OFF host/friend-pve: host friend-pve is powered off -> "
        "2 VMs stopped -> 2 nodes NotReady -> "
    )
    assert "| CoreDNS had its only replica there: cluster DNS is down for every pod |" in lines[1]
    # The cockpit's own fixes first; kubectl commands for pods stuck Terminating may follow.
    assert (
        "| fix: cockpit restart kube-system/deployment/coredns; cockpit scale-ha; "
        "cockpit guest start 100; cockpit guest start 101" in lines[1]
    )
    assert not [line for line in lines if line.startswith("incident 2 ")]

    # "restart CoreDNS elsewhere": the new replica starts on a Pi and DNS is back, while the
    # box stays off. (The old pod stays Terminating on the dead node: the short timeout
    # keeps the action from waiting for it.)
    run_fix(
        tailnet, "cockpit restart kube-system/deployment/coredns", tmp_path / "s", "--timeout", "5"
    )
    code, doc = check_json(tailnet)
    assert code == 2
    first = doc["incidents"][0]
    assert (first["code"], first["root"]["name"], first["notes"]) == ("HOST-OFF", "friend-pve", [])
    assert "DNS-NO-ENDPOINT" not in codes_of(doc)
    assert first["affected"]["dns_pods"] == 0


def test_a_vm_stopped_through_the_proxmox_api(tailnet: RunningLab, tmp_path: Path):
    # x86-vm-2 (VMID 101, on friend-pve) runs the only CoreDNS replica.
    response = requests.post(
        f"{tailnet.pve_url}/api2/json/nodes/friend-pve/qemu/101/status/stop",
        headers={"Authorization": f"PVEAPIToken={PVE_TOKEN_ID}={tailnet.secret.reveal()}"},
        verify=str(tailnet.tls.ca_file),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    kubeconfig = tailnet.kube.kubeconfig
    wait_for(
        "x86-vm-2 NotReady",
        lambda: (
            "NotReady"
            in kubectl_ok(kubeconfig, "get", "node", "x86-vm-2", "--no-headers").split()[1]
        ),
    )
    code, doc = check_json(tailnet)
    assert code == 2
    first = doc["incidents"][0]
    assert first["severity"] == "critical" and first["code"] == "GUEST-STOPPED"
    assert first["root"]["layer"] == "guest"
    assert (first["root"]["name"], first["root"]["id"]) == ("x86-vm-2", "101")
    assert first["title"].startswith("VM 101 x86-vm-2 is stopped -> 1 node NotReady -> ")
    assert first["affected"]["guests"] == 1 and first["affected"]["nodes"] == 1
    assert first["affected"]["pods"] >= 1
    assert first["notes"] == [
        "CoreDNS had its only replica there: cluster DNS is down for every pod"
    ]
    commands = [f["command"] for f in first["fixes"]]
    assert commands[:3] == [
        "cockpit guest start 101",
        "cockpit restart kube-system/deployment/coredns",
        "cockpit scale-ha",
    ]
    symptoms = {(s["code"], s["object"]["name"]) for s in first["symptoms"]}
    assert ("NODE-NOTREADY", "x86-vm-2") in symptoms
    assert ("DNS-NO-ENDPOINT", "kube-dns") in symptoms
    assert doc["sources"]["proxmox"]["state"] == "ok"

    # The first fix, run as printed, clears the incident.
    run_fix(tailnet, commands[0], tmp_path / "state")
    wait_for(
        "x86-vm-2 Ready again",
        lambda: (
            kubectl_ok(kubeconfig, "get", "node", "x86-vm-2", "--no-headers").split()[1] == "Ready"
        ),
    )
    code, doc = check_json(tailnet)
    assert code in (0, 1), doc["incidents"]
    assert not {"GUEST-STOPPED", "NODE-NOTREADY"} & codes_of(doc)


def test_coredns_scaled_to_zero_with_kubectl(tailnet: RunningLab, tmp_path: Path):
    kubeconfig = tailnet.kube.kubeconfig
    kubectl_ok(kubeconfig, "-n", "kube-system", "scale", "deployment/coredns", "--replicas=0")
    wait_for(
        "the CoreDNS pods to go",
        lambda: (
            "coredns"
            not in kubectl_ok(kubeconfig, "-n", "kube-system", "get", "pods", "-o", "name")
        ),
    )
    code, doc = check_json(tailnet)
    assert code == 2
    first = doc["incidents"][0]
    assert (first["severity"], first["code"]) == ("critical", "DNS-NO-ENDPOINT")
    assert "kube-system/deployment/coredns is scaled to 0" in first["title"]
    assert first["affected"]["dns_pods"] > 0
    assert [f["command"] for f in first["fixes"]] == [
        "cockpit scale kube-system/deployment/coredns 2",
        "cockpit scale-ha",
    ]

    run_fix(tailnet, first["fixes"][0]["command"], tmp_path / "state")
    code, doc = check_json(tailnet)
    assert code == 0, doc["incidents"]
    assert "DNS-NO-ENDPOINT" not in codes_of(doc)


def test_a_node_cordoned_by_hand_with_kubectl(tailnet: RunningLab, tmp_path: Path):
    kubectl_ok(tailnet.kube.kubeconfig, "cordon", "rpi5-kr1")
    code, doc = check_json(tailnet)
    assert code == 1
    [only] = doc["incidents"]
    assert (only["severity"], only["code"]) == ("warning", "NODE-CORDONED")
    assert only["root"] == {
        "layer": "node",
        "kind": "Node",
        "name": "rpi5-kr1",
        "namespace": "",
        "ref": "node/rpi5-kr1",
    }
    assert only["fixes"] == [
        {
            "title": "uncordon rpi5-kr1",
            "command": "cockpit uncordon rpi5-kr1",
            "key": "u",
            "action": True,
        }
    ]
    code, out = check(config=tailnet.config_path)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("cockpit check: WARNING: 1 incident (0 critical), 1 finding;")
    assert lines[1].startswith("incident 1 WARNING NODE-CORDONED node/rpi5-kr1: node rpi5-kr1")
    assert lines[1].endswith("| fix: cockpit uncordon rpi5-kr1")
    assert lines[2].startswith("finding WARNING NODE-CORDONED node/rpi5-kr1 incident=1: ")
    assert len(lines) == 3
    assert "\x1b[" not in out  # piped: no colour
    # On a terminal the same lines, coloured by severity.
    shown = on_a_terminal(
        sys.executable, "-m", "cockpit", "--config", str(tailnet.config_path), "check"
    )
    assert "\x1b[33mincident 1 WARNING NODE-CORDONED node/rpi5-kr1" in shown

    run_fix(tailnet, only["fixes"][0]["command"], tmp_path / "state")
    assert check(config=tailnet.config_path)[0] == 0


def on_a_terminal(*command: str) -> str:
    import os
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(command, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert process.wait(timeout=60) == 1
    return out.decode(errors="replace")


def test_a_source_that_does_not_answer_is_never_healthy(tailnet: RunningLab):
    tailnet.proxmox.stop()  # pveproxy down: Kubernetes and the tailnet still answer
    code, doc = check_json(tailnet)
    assert code == 1
    assert doc["sources"]["proxmox"]["state"] == "error"
    [only] = doc["incidents"]
    assert (only["code"], only["root"]["layer"], only["root"]["name"]) == (
        "SOURCE-DOWN",
        "source",
        "proxmox",
    )
