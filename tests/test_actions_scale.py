"""`scale-ha` and `scale` against the running lab over real sockets: kube-system of `n100`
and `tailnet` is scaled to the proposed counts and its pods become ready, the plan's HA
warnings match each lab's physical layout (read from its lab file), kubectl agrees, a plain
scale goes up and down, and a workload scaled by someone else meanwhile stops the action."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest
from kubectl_cli import kubectl_ok
from live_lab import action_context, live_lab

from cockpit import labfile
from cockpit.actions.base import perform
from cockpit.actions.journal import Journal
from cockpit.actions.scale import Scale, ScaleHA
from cockpit.config import load_config
from cockpit.inventory import from_config
from cockpit.lab.runner import RunningLab


@pytest.fixture
def n100(tmp_path):
    with live_lab("n100") as (running, inventory):
        yield running, inventory, action_context(inventory, Journal(tmp_path / "journal.jsonl"))


def kubectl(running: RunningLab, *args: str, stdin: str | None = None) -> str:
    return kubectl_ok(running.kube.kubeconfig, *args, stdin=stdin)


def host_of_node(lab_name: str) -> dict[str, str]:
    """Which physical machine each node runs on, straight from the lab file."""
    return {n: b.host for n, b in labfile.load(lab_name).snapshot.backing.items()}


def shares_a_box(nodes: list[str], hosts: dict[str, str]) -> bool:
    """Two replicas on different nodes of one physical machine."""
    by_host: dict[str, set[str]] = {}
    for node in nodes:
        by_host.setdefault(hosts[node], set()).add(node)
    return any(len(on) >= 2 for on in by_host.values())


def running_pods(running: RunningLab, namespace: str, prefix: str) -> list[dict]:
    items, _ = running.kube.store.list("pods", namespace)
    return [
        p
        for p in items
        if p["metadata"]["name"].startswith(prefix) and not p["metadata"].get("deletionTimestamp")
    ]


def ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.mark.parametrize(
    ("lab_name", "expected"),
    [
        # One N100 box: three VMs, so 2 each; local-path-provisioner must stay single.
        (
            "n100",
            {"coredns": 2, "local-path-provisioner": 1, "metrics-server": 2, "traefik": 2},
        ),
        # Five nodes on four machines: 3, but metrics-server 2 (its HA manifest's count).
        (
            "tailnet",
            {"coredns": 3, "local-path-provisioner": 1, "metrics-server": 2, "traefik": 3},
        ),
    ],
)
def test_scale_ha_raises_kube_system_to_the_plan(tmp_path, lab_name, expected):
    with live_lab(lab_name) as (running, inventory):
        ctx = action_context(inventory, Journal(tmp_path / "journal.jsonl"))
        hosts = host_of_node(lab_name)
        action = ScaleHA(ctx)
        plan = action.plan()
        assert not plan.blockers
        detail = {d["name"]: d for d in plan.detail["deployments"]}
        assert {name: d["proposed"] for name, d in detail.items()} == expected
        assert plan.detail["distro"] == "k3s"
        # The same-box warning appears exactly when two replicas would share a machine.
        for name, d in detail.items():
            nodes = [p["node"] for p in d["placement"]]
            kinds = {f["kind"] for f in d["findings"]}
            assert ("same-box" in kinds) == shares_a_box(nodes, hosts), (name, nodes)
        boxes = set(hosts.values())
        if len(boxes) == 1:  # n100: nothing can avoid it, and the plan says so
            assert any(
                w.startswith("both coredns replicas would sit on VMs of the same box pve")
                for w in plan.warnings
            )
            assert any("every schedulable node runs on pve" in w for w in plan.warnings)
        assert any("traefik is a k3s HelmChart" in w for w in plan.warnings)
        assert any(
            "local-path-provisioner runs without leader election" in w for w in plan.warnings
        )
        # Preconditions: one per Deployment that changes, with its UID.
        changing = {n for n, d in detail.items() if d["proposed"] != d["current"]}
        assert {k.split("/")[-1] for k in plan.preconditions} == changing
        for name in changing:
            uid = running.kube.store.get("deployments.apps", ("kube-system", name))["metadata"][
                "uid"
            ]
            assert plan.preconditions[f"kube-system/deployment/{name}"]["uid"] == uid

        outcome = perform(action, plan)
        assert outcome.status == "succeeded", outcome.message
        assert outcome.message.startswith("kube-system scaled for HA")
        for name, want in expected.items():
            obj = running.kube.store.get("deployments.apps", ("kube-system", name))
            assert obj["spec"]["replicas"] == want, name
            pods = running_pods(running, "kube-system", f"{name}-")
            assert len(pods) == want and all(ready(p) for p in pods), name
            # What the plan predicted about sharing a box is what the cluster did.
            actual = [p["spec"]["nodeName"] for p in pods]
            kinds = {f["kind"] for f in detail[name]["findings"]}
            assert ("same-box" in kinds) == shares_a_box(actual, hosts), (name, actual)
        doc = orjson.loads(kubectl(running, "get", "deploy", "-n", "kube-system", "-o", "json"))
        seen = {
            d["metadata"]["name"]: (d["spec"]["replicas"], d["status"].get("readyReplicas"))
            for d in doc["items"]
        }
        assert seen == {name: (want, want) for name, want in expected.items()}
        # One journaled step per Deployment that changed, named with its UID.
        steps = {e["step"] for e in ctx.journal.entries() if e.get("event") == "done"}
        assert steps == {
            f"scale:kube-system/deployment/{n}:{plan.preconditions[f'kube-system/deployment/{n}']['uid']}:{expected[n]}"
            for n in changing
        }
        # Scaled once: a second plan has nothing left to do.
        again = ScaleHA(ctx).plan()
        assert not again.preconditions


def test_scale_up_and_down(n100):
    running, _, ctx = n100
    up = Scale(ctx, "apps/deploy/nginx", 3)
    plan = up.plan()
    assert plan.target == "apps/deployment/nginx" and not plan.blockers
    assert plan.summary[0].startswith("scale apps/deployment/nginx: 1 -> 3")
    landing = [s for s in plan.summary if s.startswith("new pod")]
    assert len(landing) == 2 and all("on pve" in s for s in landing)
    assert any("of the same box pve" in w for w in plan.warnings)
    outcome = perform(up, plan)
    assert outcome.status == "succeeded", outcome.message
    pods = running_pods(running, "apps", "nginx-")
    assert len(pods) == 3 and all(ready(p) for p in pods)
    assert "3/3" in kubectl(running, "get", "deployment", "nginx", "-n", "apps")
    # The dry run and the real write both went to the scale subresource.
    scale_path = "PATCH /apis/apps/v1/namespaces/apps/deployments/nginx/scale"
    assert running.kube.api.mutations[scale_path] == 2

    down = Scale(ctx, "apps/deployment/nginx", 1)
    plan = down.plan()
    assert sum(1 for s in plan.summary if s.endswith("would stop")) == 2
    assert any("one replica left" in w for w in plan.warnings)
    outcome = perform(down, plan)
    assert outcome.status == "succeeded", outcome.message
    assert len(running_pods(running, "apps", "nginx-")) == 1
    assert "1/1" in kubectl(running, "get", "deployment", "nginx", "-n", "apps")


def test_scale_a_statefulset_and_to_zero(n100):
    running, _, ctx = n100
    action = Scale(ctx, "data/sts/redis", 2)
    outcome = perform(action, action.plan())
    assert outcome.status == "succeeded", outcome.message
    assert {p["metadata"]["name"] for p in running_pods(running, "data", "redis-")} == {
        "redis-0",
        "redis-1",
    }
    zero = Scale(ctx, "logging/deployment/kibana", 0).plan()
    assert zero.confirm_word == "kibana" and any("down until" in w for w in zero.warnings)


def test_an_hpa_on_the_target_is_named(n100):
    running, _, ctx = n100
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "nginx", "namespace": "apps"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx"},
            "minReplicas": 2,
            "maxReplicas": 4,
        },
    }
    kubectl(running, "create", "--validate=false", "-f", "-", stdin=orjson.dumps(hpa).decode())
    plan = Scale(ctx, "apps/deployment/nginx", 5).plan()
    assert any(
        w.startswith("HPA nginx scales apps/deployment/nginx between 2 and 4")
        for w in plan.warnings
    )


def test_a_workload_scaled_meanwhile_stops_the_action(n100):
    running, _, ctx = n100
    action = Scale(ctx, "apps/deployment/nginx", 3)
    plan = action.plan()
    kubectl(running, "scale", "deployment/nginx", "-n", "apps", "--replicas=2")
    scale_path = "PATCH /apis/apps/v1/namespaces/apps/deployments/nginx/scale"
    sent = running.kube.api.mutations[scale_path]
    outcome = perform(action, plan)
    assert outcome.status == "changed"
    assert "now wants 2 replicas; the plan was made for 1" in outcome.message
    assert running.kube.api.mutations[scale_path] == sent


def test_scale_ha_in_readonly_mode_sends_nothing(n100):
    running, _, ctx = n100
    ro = from_config(replace(load_config(running.config_path), readonly=True))
    ro.refresh(timeout=30)
    try:
        before = sum(running.kube.api.mutations.values())
        action = ScaleHA(replace(ctx, kube=ro.kube, proxmox=ro.proxmox, readonly=True))
        plan = action.plan()
        assert plan.preconditions  # there is work to do ...
        outcome = perform(action, plan)
        assert outcome.status == "refused"  # ... and none of it is done
        assert sum(running.kube.api.mutations.values()) == before
    finally:
        ro.stop()


def test_a_daemonset_cannot_be_scaled(n100):
    _, _, ctx = n100
    plan = Scale(ctx, "ds/svclb-traefik", 2).plan()
    assert plan.blockers and "one pod per eligible node" in plan.blockers[0]
    assert perform(Scale(ctx, "ds/svclb-traefik", 2), plan).status == "refused"
