"""The actions from the shell, as an operator runs them: a real `cockpit` process against
the running lab's config, its stdout, stderr and exit code, and what the lab received."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit import labfile
from cockpit.lab.runner import RunningLab

NODES, PODS = "nodes", "pods"
COCKPIT = (sys.executable, "-m", "cockpit")


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[RunningLab]:
    where = tmp_path_factory.mktemp("shell-lab")
    running = RunningLab(labfile.load("tailnet"), speed=40, directory=where).start()
    yield running
    running.stop()


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A clean environment: the journal under tmp_path, no COCKPIT_* from the caller."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "COLUMNS": "200",
    }


def cockpit(lab: RunningLab, env: dict, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COCKPIT, "--config", str(lab.config_path), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def mutations(lab: RunningLab) -> Counter:
    return Counter(lab.kube.api.mutations)


def movable(lab: RunningLab, node: str) -> dict[str, str]:
    """name -> uid of the pods a drain evicts (not DaemonSet pods)."""
    out = {}
    for pod in lab.kube.store.list(PODS, None)[0]:
        owners = {r["kind"] for r in pod["metadata"].get("ownerReferences") or []}
        if pod["spec"].get("nodeName") == node and "DaemonSet" not in owners:
            out[pod["metadata"]["name"]] = pod["metadata"]["uid"]
    return out


def journal_path(env: dict) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "cockpit" / "journal.jsonl"


def schedulable(lab: RunningLab, node: str) -> bool:
    return not lab.kube.store.get(NODES, ("", node))["spec"].get("unschedulable")


def test_plan_prints_the_plan_and_sends_nothing(lab, env):
    before = mutations(lab)
    result = cockpit(lab, env, "drain", "x86-vm-1", "--plan")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "drain node/x86-vm-1" in out and "cordon node x86-vm-1" in out
    for name in movable(lab, "x86-vm-1"):
        assert name in out
    # metrics-server keeps data in an emptyDir: the blocker says which flag it needs.
    assert "x cannot delete pods with local storage (use --delete-emptydir-data" in out
    assert "! kube-system/deployment/metrics-server loses every ready replica" in out
    assert mutations(lab) == before
    assert not journal_path(env).exists()  # a plan is not an action


def test_json_plan_follows_its_schema(lab, env):
    before = mutations(lab)
    result = cockpit(lab, env, "drain", "x86-vm-1", "--delete-emptydir-data", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "cockpit.action-plan/1"
    assert (doc["action"], doc["target"]) == ("drain", "node/x86-vm-1")
    assert doc["args"]["delete_emptydir_data"] is True and doc["args"]["node"] == "x86-vm-1"
    assert doc["blockers"] == [] and doc["readonly"] is False
    assert doc["confirm_word"] == "x86-vm-1" and "emptyDir" in doc["danger"]
    assert doc["endpoint"].startswith("http://127.0.0.1:")
    evict = {e["name"]: e["uid"] for e in doc["detail"]["evict"]}
    assert evict == movable(lab, "x86-vm-1")
    for name, uid in evict.items():
        assert {"uid": uid} in doc["preconditions"].values(), name
    legacy = next(e for e in doc["detail"]["evict"] if e["name"].startswith("legacy-exporter"))
    assert legacy["expected_node"] == "x86-vm-2"
    readonly = cockpit(lab, env, "cordon", "x86-vm-1", "--json", "--readonly")
    assert readonly.returncode == 0 and json.loads(readonly.stdout)["readonly"] is True
    assert mutations(lab) == before


def test_a_declined_confirmation_sends_nothing(lab, env):
    before = mutations(lab)
    result = cockpit(lab, env, "cordon", "x86-vm-1", stdin="n\n")
    assert result.returncode == 1, result.stderr
    assert "Go ahead? [y/N]" in result.stdout
    assert "not confirmed: nothing was sent" in result.stdout
    # A dangerous plan wants the node's name typed, not a y.
    result = cockpit(lab, env, "drain", "x86-vm-1", "--delete-emptydir-data", stdin="y\n")
    assert result.returncode == 1
    assert "Type x86-vm-1 to go ahead" in result.stdout and "not confirmed" in result.stdout
    # With --yes, the word must be on the command line.
    result = cockpit(lab, env, "drain", "x86-vm-1", "--delete-emptydir-data", "--yes")
    assert result.returncode == 2
    assert "--confirm x86-vm-1" in result.stderr and "Traceback" not in result.stderr
    assert mutations(lab) == before and schedulable(lab, "x86-vm-1")


def test_read_only_refuses_with_exit_2(lab, env):
    before = mutations(lab)
    result = cockpit(lab, env, "cordon", "x86-vm-1", "--yes", "--readonly")
    assert result.returncode == 2
    assert "read-only mode" in result.stderr and "nothing was sent" in result.stderr
    assert "cordon node/x86-vm-1" in result.stdout  # the plan is still shown
    result = cockpit(lab, {**env, "COCKPIT_READONLY": "1"}, "uncordon", "x86-vm-1", "-y")
    assert result.returncode == 2 and "read-only" in result.stderr
    assert mutations(lab) == before and schedulable(lab, "x86-vm-1")


def test_blockers_refuse_with_exit_1(lab, env):
    before = mutations(lab)
    result = cockpit(lab, env, "drain", "x86-vm-1", "--yes")
    assert result.returncode == 1
    assert "cannot run as asked: nothing was sent" in result.stdout
    assert mutations(lab) == before


def test_an_action_runs_and_the_journal_lists_it(lab, env):
    before = mutations(lab)
    result = cockpit(lab, env, "cordon", "rpi5-kr2", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cordon node rpi5-kr2" in result.stdout
    assert "succeeded: node rpi5-kr2 is cordoned (unschedulable)" in result.stdout
    assert not schedulable(lab, "rpi5-kr2")
    assert cockpit(lab, env, "uncordon", "rpi5-kr2", "-y").returncode == 0
    assert schedulable(lab, "rpi5-kr2")
    sent = mutations(lab)
    sent.subtract(before)
    assert +sent == Counter({"PATCH /api/v1/nodes/rpi5-kr2": 2})

    listing = cockpit(lab, env, "journal")
    assert listing.returncode == 0, listing.stderr
    rows = [line for line in listing.stdout.splitlines() if "node/rpi5-kr2" in line]
    assert len(rows) == 2
    assert "cordon" in rows[0] and "succeeded" in rows[0]
    assert "uncordon" in rows[1] and "succeeded" in rows[1]
    doc = json.loads(cockpit(lab, env, "journal", "--json", "-n", "1").stdout)
    assert doc["schema"] == "cockpit.journal/1"
    [last] = doc["actions"]
    assert (last["action"], last["target"], last["status"]) == (
        "uncordon",
        "node/rpi5-kr2",
        "succeeded",
    )
    assert last["steps_done"] and last["steps_done"][0].startswith("uncordon node/rpi5-kr2 uid=")
    nothing = cockpit(lab, env, "resume")
    assert nothing.returncode == 0 and "nothing to resume" in nothing.stdout


def test_errors_are_one_clear_line(lab, env, tmp_path):
    result = subprocess.run(
        [*COCKPIT, "--config", str(tmp_path / "missing.toml"), "cordon", "x86-vm-1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("cockpit: error:") and "file not found" in result.stderr
    dead = tmp_path / "dead.toml"
    kubeconfig = json.loads(lab.kube.kubeconfig.read_text())
    kubeconfig["clusters"][0]["cluster"]["server"] = "http://127.0.0.1:9"  # nobody listens
    (tmp_path / "kubeconfig").write_text(json.dumps(kubeconfig))
    dead.write_text(f'[kubernetes]\nkubeconfig = "{tmp_path / "kubeconfig"}"\n')
    result = subprocess.run(
        [*COCKPIT, "--config", str(dead), "cordon", "x86-vm-1", "--sync-timeout", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert "the sources are not ready" in result.stderr and "Kubernetes" in result.stderr
    assert "Traceback" not in result.stderr
