"""`cockpit replace` end to end, as real processes against the running lab: a Proxmox-backed
worker replaced from a template (killed with SIGKILL after every stage and resumed), and a
Raspberry Pi replaced with the person's steps done through `cockpit labctl`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from kubectl_cli import kubectl_ok
from live_lab import live_lab, with_template

from cockpit.runbooks.replace import ReplaceNode

COCKPIT = [sys.executable, "-m", "cockpit"]
STAGES = [key for key, _, _ in ReplaceNode.STAGES]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "COLUMNS": "200"}


def _done_stages(journal: Path) -> list[str]:
    if not journal.exists():
        return []
    out = []
    for line in journal.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by the kill
        step = str(entry.get("step", ""))
        if entry.get("event") == "done" and step.startswith("stage "):
            out.append(step.removeprefix("stage "))
    return out


def _wait(test, what: str, proc: subprocess.Popen | None = None, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if test():
            return
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"cockpit ended ({proc.returncode}) before {what}:\n{out}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_proxmox_worker_is_replaced_from_the_template_through_kills(tmp_path):
    with live_lab(with_template("n100", tmp_path), 30, tmp_path / "lab") as (lab, _):
        config, kubeconfig = str(lab.config_path), lab.kube.kubeconfig
        kubectl_ok(kubeconfig, "label", "node", "worker-1", "disktype=ssd")
        before = Counter(lab.kube.api.mutations)
        env = _env(tmp_path)
        journal = tmp_path / "state" / "cockpit" / "journal.jsonl"
        first = [*COCKPIT, "--config", config, "replace", "worker-1", "--force"]
        first += ["--delete-emptydir-data", "--yes", "--confirm", "worker-1"]
        resume = [*COCKPIT, "--config", config, "replace", "--resume", "--yes"]
        proc = subprocess.Popen(first, env=env, stdout=subprocess.PIPE, text=True)
        killed = []
        for stage in STAGES[:-1]:
            _wait(lambda s=stage: s in _done_stages(journal), f"stage {stage}", proc)
            proc.kill()  # SIGKILL: no handler runs, as when the SSH session's box dies
            proc.wait()
            killed.append(stage)
            proc = subprocess.Popen(resume, env=env, stdout=subprocess.PIPE, text=True)
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        assert killed == STAGES[:-1]
        assert "worker-1 replaced by worker-3" in out
        assert _done_stages(journal) == STAGES

        # The end state, as kubectl sees it.
        nodes = json.loads(kubectl_ok(kubeconfig, "get", "nodes", "-o", "json"))["items"]
        by_name = {n["metadata"]["name"]: n for n in nodes}
        assert "worker-1" not in by_name
        new = by_name["worker-3"]
        ready = {c["type"]: c["status"] for c in new["status"]["conditions"]}["Ready"]
        assert ready == "True"
        assert new["metadata"]["labels"]["disktype"] == "ssd"
        assert not new["spec"].get("unschedulable")
        pods = json.loads(kubectl_ok(kubeconfig, "get", "pods", "-A", "-o", "json"))["items"]
        assert not [p for p in pods if p["spec"].get("nodeName") == "worker-1"]
        assert [p for p in pods if p["spec"].get("nodeName") == "worker-3"]

        # Linked: the new node runs in the cloned VM and has its tailnet peer.
        report = subprocess.run(
            [*COCKPIT, "--config", config, "report", "--json"],
            env=env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        links = json.loads(report.stdout)["links"]["nodes"]["worker-3"]
        assert links["host"] == "pve" and links["vmid"] == 104

        # Not one mutating request twice, for all the kills.
        kube = Counter(lab.kube.api.mutations) - before
        assert kube["PATCH /api/v1/nodes/worker-1"] == 1  # the cordon
        assert kube["DELETE /api/v1/nodes/worker-1"] == 1
        assert kube["PATCH /api/v1/nodes/worker-3"] == 1  # the labels carried over
        evictions = {k: v for k, v in kube.items() if k.endswith("/eviction")}
        assert evictions and set(evictions.values()) == {1}
        posts = Counter(p for m, p in lab.proxmox.requests if m == "POST" and "agent" not in p)
        assert posts == Counter(
            {
                "/nodes/pve/qemu/102/status/shutdown": 1,
                "/nodes/pve/qemu/9000/clone": 1,
                "/nodes/pve/qemu/104/config": 1,
                "/nodes/pve/qemu/104/status/start": 1,
            }
        )

        # What is left for `cockpit check` is the seed's own story (worker-2 carries what
        # the drain moved to it), never the replacement: no gone node, nothing down.
        check = subprocess.run(
            [*COCKPIT, "--config", config, "check", "--json"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        codes = {i["code"] for i in json.loads(check.stdout)["incidents"]}
        assert not codes & {"NODE-GONE", "NODE-NOTREADY", "WORKLOAD-DOWN", "DNS-NO-ENDPOINT"}


def test_a_raspberry_pi_is_replaced_with_the_persons_steps(tmp_path):
    with live_lab("tailnet", 30, tmp_path / "lab") as (lab, _):
        config, kubeconfig = str(lab.config_path), lab.kube.kubeconfig
        env = _env(tmp_path)
        journal = tmp_path / "state" / "cockpit" / "journal.jsonl"
        labctl = [*COCKPIT, "labctl", "--config", config]
        cmd = [*COCKPIT, "--config", config, "replace", "rpi5-kr1", "--bare-metal"]
        cmd += ["--name", "rpi5-kr3", "--yes", "--confirm", "rpi5-kr1", "--force"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        # The person pulls the plug when the runbook asks for it ...
        _wait(lambda: "drain" in _done_stages(journal), "the drain", proc)
        subprocess.run([*labctl, "power-off", "rpi5-kr1"], env=env, check=True, timeout=60)
        # ... and plugs in the new Pi once the join command is shown.
        _wait(lambda: "provide" in _done_stages(journal), "the checklist", proc)
        subprocess.run(
            [*labctl, "join", "rpi5-kr3", "--arch", "arm64", "--site", "friend-kr-1"],
            env=env, check=True, timeout=60,
        )  # fmt: skip
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        assert "power off rpi5-kr1" in out or "rpi5-kr1 to be powered off" in out
        assert "K3S_TOKEN=<token> sh -s - server --server" in out  # a server joins a server
        assert "--flannel-iface tailscale0" in out
        nodes = json.loads(kubectl_ok(kubeconfig, "get", "nodes", "-o", "json"))["items"]
        names = {n["metadata"]["name"] for n in nodes}
        assert "rpi5-kr1" not in names and "rpi5-kr3" in names
        kube = lab.kube.api.mutations
        assert kube["PATCH /api/v1/nodes/rpi5-kr1"] == 2  # the cordon, the etcd removal
        assert kube["DELETE /api/v1/nodes/rpi5-kr1"] == 1
