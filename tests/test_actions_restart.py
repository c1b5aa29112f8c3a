"""`restart` against the running lab over real sockets: CoreDNS's pods are replaced and the
rollout reaches success (and kubectl agrees), StatefulSets and DaemonSets too, a recreated
Deployment stops the action, read-only sends nothing, a rollout that cannot progress times
out with the reason, cancel leaves it running, and a resumed restart does not patch twice."""

from __future__ import annotations

import threading
from dataclasses import replace

import orjson
import pytest
from kubectl_cli import kubectl_ok
from live_lab import action_context, live_lab
from waiting import wait_for

from cockpit.actions.base import perform, resume
from cockpit.actions.journal import Journal
from cockpit.actions.restart import Restart
from cockpit.config import load_config
from cockpit.inventory import from_config
from cockpit.lab.runner import RunningLab
from cockpit.sources.health import ReadOnlyError

DEPLOY_PATH = "/apis/apps/v1/namespaces/kube-system/deployments/coredns"


@pytest.fixture
def cockpit(tmp_path):
    """The n100 lab running, the inventory watching it through the config it wrote, and an
    action Context on top, as the cockpit builds it."""
    with live_lab("n100") as (running, inventory):
        yield running, inventory, action_context(inventory, Journal(tmp_path / "journal.jsonl"))


def kubectl(running: RunningLab, *args: str, stdin: str | None = None) -> str:
    return kubectl_ok(running.kube.kubeconfig, *args, stdin=stdin)


def live_pods(running: RunningLab, namespace: str, prefix: str) -> dict[str, dict]:
    """uid -> pod, for the pods of a workload that are not terminating."""
    items, _ = running.kube.store.list("pods", namespace)
    return {
        p["metadata"]["uid"]: p
        for p in items
        if p["metadata"]["name"].startswith(prefix) and not p["metadata"].get("deletionTimestamp")
    }


def is_ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def mutations(running: RunningLab) -> int:
    return sum(running.kube.api.mutations.values())


def test_restart_coredns_replaces_its_pods(cockpit):
    running, _, ctx = cockpit
    before = live_pods(running, "kube-system", "coredns-")
    deploy = running.kube.store.get("deployments.apps", ("kube-system", "coredns"))
    action = Restart(ctx)  # the default target
    plan = action.plan()
    assert plan.target == "kube-system/deployment/coredns" and not plan.blockers
    assert plan.preconditions[plan.target]["uid"] == deploy["metadata"]["uid"]
    [old] = before.values()
    node = old["spec"]["nodeName"]
    host = running.lab.snapshot.backing[node].host
    assert any(old["metadata"]["name"] in s and f"on {host}" in s for s in plan.summary)
    # One replica, maxUnavailable 25 % -> 0: the new pod must be Ready first. Explained.
    assert any("must be Ready before an old one stops" in s for s in plan.summary)
    assert any("one replica" in w for w in plan.warnings)
    lines: list[str] = []
    outcome = perform(action, plan, lines.append)
    assert outcome.status == "succeeded", outcome.message
    assert "successfully rolled out" in outcome.message
    after = live_pods(running, "kube-system", "coredns-")
    assert after and not set(after) & set(before)  # new UIDs, the old pod gone
    assert not {p["metadata"]["name"] for p in after.values()} & {
        p["metadata"]["name"] for p in before.values()
    }
    assert all(is_ready(p) for p in after.values())
    items, _ = running.kube.store.list("pods", "kube-system")
    assert old["metadata"]["uid"] not in {p["metadata"]["uid"] for p in items}
    assert any(line.startswith("new pod coredns-") for line in lines)
    assert any(
        line.startswith(f"old pod {old['metadata']['name']}") and "gone" in line for line in lines
    )
    # A dry run, then one real patch; kubectl sees the annotation and a finished rollout.
    assert running.kube.api.mutations[f"PATCH {DEPLOY_PATH}"] == 2
    status = kubectl(
        running, "rollout", "status", "deployment/coredns", "-n", "kube-system", "--timeout=20s"
    )
    assert "successfully rolled out" in status
    annotations = orjson.loads(
        kubectl(running, "get", "deployment", "coredns", "-n", "kube-system", "-o", "json")
    )["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    # The journal has the step, named with the Deployment's UID.
    steps = [e for e in ctx.journal.entries() if e.get("id") == outcome.id and "step" in e]
    key = f"restart:kube-system/deployment/coredns:{deploy['metadata']['uid']}"
    assert [(e["event"], e["step"]) for e in steps] == [("begin", key), ("done", key)]


def test_k3s_coredns_strategy_means_a_dns_outage_and_the_plan_says_so(cockpit):
    running, _, ctx = cockpit
    # k3s ships CoreDNS with maxUnavailable 1: with one replica the old pod may stop at once.
    patch = '{"spec":{"strategy":{"rollingUpdate":{"maxUnavailable":1}}}}'
    kubectl(running, "patch", "deployment", "coredns", "-n", "kube-system", "-p", patch)
    plan = Restart(ctx).plan()
    assert any("maxUnavailable 1" in s for s in plan.summary)
    assert any(
        w.startswith("every pod loses DNS while the only CoreDNS pod restarts")
        for w in plan.warnings
    )
    # Planning sent nothing but kubectl's own patch.
    assert running.kube.api.mutations[f"PATCH {DEPLOY_PATH}"] == 1


@pytest.mark.parametrize(
    ("target", "namespace", "prefix"),
    [
        ("data/sts/postgresql", "data", "postgresql-"),
        ("DaemonSet/svclb-traefik", "kube-system", "svclb-traefik-"),
    ],
)
def test_restart_statefulset_and_daemonset(cockpit, target, namespace, prefix):
    running, _, ctx = cockpit
    before = live_pods(running, namespace, prefix)
    action = Restart(ctx, target)
    plan = action.plan()
    assert not plan.blockers
    outcome = perform(action, plan)
    assert outcome.status == "succeeded", outcome.message
    after = live_pods(running, namespace, prefix)
    assert len(after) == len(before) and not set(after) & set(before)
    assert all(is_ready(p) for p in after.values())
    kind, name = plan.target.split("/")[1:]
    status = kubectl(
        running, "rollout", "status", f"{kind}/{name}", "-n", namespace, "--timeout=20s"
    )
    assert "complete" in status or "successfully rolled out" in status


def test_a_recreated_deployment_stops_the_restart(cockpit):
    running, _, ctx = cockpit
    action = Restart(ctx)
    plan = action.plan()
    doc = orjson.loads(
        kubectl(running, "get", "deployment", "coredns", "-n", "kube-system", "-o", "json")
    )
    for field in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
        doc["metadata"].pop(field, None)
    doc.pop("status", None)
    kubectl(running, "delete", "deployment", "coredns", "-n", "kube-system", "--wait=false")
    kubectl(running, "create", "--validate=false", "-f", "-", stdin=orjson.dumps(doc).decode())
    fresh = running.kube.store.get("deployments.apps", ("kube-system", "coredns"))
    assert fresh["metadata"]["uid"] != plan.preconditions[plan.target]["uid"]
    patches = running.kube.api.mutations[f"PATCH {DEPLOY_PATH}"]
    outcome = perform(action, plan)
    assert outcome.status == "changed"
    assert "replaced since the plan was made" in outcome.message and "plan again" in outcome.message
    assert running.kube.api.mutations[f"PATCH {DEPLOY_PATH}"] == patches  # nothing sent


def test_readonly_is_refused_and_sends_nothing(cockpit):
    running, _, ctx = cockpit
    ro = from_config(replace(load_config(running.config_path), readonly=True))
    ro.refresh(timeout=30)
    try:
        ctx_ro = replace(ctx, kube=ro.kube, proxmox=ro.proxmox, readonly=True)
        before = mutations(running)
        action = Restart(ctx_ro)
        plan = action.plan()  # planning only reads
        assert not plan.blockers
        outcome = perform(action, plan)
        assert outcome.status == "refused" and "read-only" in outcome.message
        with pytest.raises(ReadOnlyError):  # and below the action, the adapter refuses too
            ro.kube.rollout_restart("Deployment", "kube-system", "coredns", dry_run=True)
        assert mutations(running) == before
    finally:
        ro.stop()


def cordon_everything(running: RunningLab, inventory) -> None:
    for node in ("k3s-master", "worker-1", "worker-2"):
        kubectl(running, "cordon", node)
    wait_for(
        lambda: all(n.unschedulable for n in inventory.publish().nodes),
        what="the cockpit to see every node cordoned",
    )


def test_a_rollout_that_cannot_progress_times_out_with_the_reason(cockpit):
    running, inventory, ctx = cockpit
    cordon_everything(running, inventory)
    [old] = live_pods(running, "kube-system", "coredns-")
    action = Restart(ctx, "kube-system/deploy/coredns", timeout=1.0)
    plan = action.plan()
    assert any("would not fit anywhere" in w and "unschedulable" in w for w in plan.warnings)
    outcome = perform(action, plan)
    assert outcome.status == "failed"
    message = outcome.message
    assert "did not finish within 1 s" in message
    assert "1 old replicas are pending termination" in message
    assert "Pending (0/3 nodes are available: 3 node(s) were unschedulable.)" in message
    assert "kubectl rollout undo deployment/coredns -n kube-system" in message
    # maxUnavailable 0: the old pod kept serving the whole time.
    pods = live_pods(running, "kube-system", "coredns-")
    assert old in pods and is_ready(pods[old])


def test_cancel_stops_following_and_the_rollout_goes_on(cockpit):
    running, inventory, ctx = cockpit
    cordon_everything(running, inventory)
    action = Restart(ctx, timeout=60)
    plan = action.plan()
    cancel = threading.Event()
    lines: list[str] = []
    box: dict = {}
    worker = threading.Thread(
        target=lambda: box.update(o=perform(action, plan, lines.append, cancel))
    )
    worker.start()
    wait_for(
        lambda: any(line.startswith("rollout:") for line in lines),
        what="the rollout to be followed",
    )
    cancel.set()
    worker.join(timeout=10)
    outcome = box["o"]
    assert outcome.status == "cancelled"
    assert "continues server-side" in outcome.message
    kubectl(running, "uncordon", "worker-1")
    status = kubectl(
        running, "rollout", "status", "deployment/coredns", "-n", "kube-system", "--timeout=20s"
    )
    assert "successfully rolled out" in status


class Crash(BaseException):
    """Stands for the process dying (a lost SSH session) mid-action."""


def test_a_resumed_restart_does_not_patch_again(cockpit):
    running, _, ctx = cockpit
    action = Restart(ctx)
    plan = action.plan()

    def die_after_the_patch(line: str) -> None:
        if line.startswith("rollout:"):
            raise Crash()

    with pytest.raises(Crash):
        perform(action, plan, die_after_the_patch)
    [record] = ctx.journal.unfinished()
    assert record.action == "restart" and len(record.done) == 1
    lines: list[str] = []
    outcome = resume(record, ctx, lines.append)
    assert outcome.status == "succeeded", outcome.message
    assert any(line.startswith("already done: patch") for line in lines)
    assert running.kube.api.mutations[f"PATCH {DEPLOY_PATH}"] == 2  # dry run + one patch
    assert not ctx.journal.unfinished()
