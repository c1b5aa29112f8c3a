from dataclasses import replace

import pytest
from builders import deployment, node, pod, proxmox_lab, snapshot

from cockpit import labfile
from cockpit.alloc.whatif import Scenario, UnknownTarget, what_if
from cockpit.model import (
    AffinityTerm,
    Backing,
    LabelSelector,
    OwnerRef,
    Pdb,
    Workload,
)

SYSTEM, BUSINESS, MONITORING = "system-critical", "business-critical", "monitoring"


@pytest.fixture(scope="module")
def n100():
    return labfile.load("n100")


def services(moves):
    return {m.pod.labels["app.kubernetes.io/name"] for m in moves}


def test_seed_000_scenario_3_worker_1_lost(n100):
    report = what_if(n100.snapshot, Scenario("lose-node", "worker-1"), n100.thresholds)
    placed, pending = services(report.placed), services(report.pending)
    # Seed 000: PostgreSQL and Redis (system-critical), Django (business) and Prometheus
    # (monitoring) are kept; development tools go Pending; optional services go Pending.
    assert {"postgresql", "redis", "django-api", "nginx", "prometheus"} <= placed
    assert {"jenkins", "harbor", "elasticsearch", "kibana"} <= pending
    assert all(m.target == "worker-2" for m in report.placed)
    assert not {m.pod.priority_class for m in report.pending} & {SYSTEM, BUSINESS, MONITORING}
    # Room is made by preempting a development tool already on worker-2.
    assert [p.victim.labels["app.kubernetes.io/name"] for p in report.preempted] == ["argocd"]
    assert {p.by.priority_class for p in report.preempted} <= {SYSTEM, BUSINESS, MONITORING}
    # Nothing system-, business- or monitoring-critical stays down.
    down = {w.ref for w in report.workloads if w.stays_down}
    assert down == {
        "devtools/statefulset/jenkins",
        "devtools/deployment/harbor",
        "devtools/deployment/argocd",
        "logging/statefulset/elasticsearch",
        "logging/deployment/kibana",
    }
    worker2 = next(n for n in report.nodes if n.name == "worker-2")
    # worker-2 is filled to the brim by requests and its peak would be far beyond 100 %:
    # the seed's "Worker-2 would need ~15 GB of 9 GB".
    assert worker2.requests_memory_percent > 95
    assert worker2.peak_memory_level == "critical"
    assert 14 * 2**30 < worker2.peak_memory_after < 16 * 2**30
    assert "Insufficient memory" in report.pending[0].reason
    assert any("unreachable toleration" in n for n in report.notes)


def test_pending_reasons_name_every_node(n100):
    report = what_if(n100.snapshot, Scenario("lose-node", "worker-1"), n100.thresholds)
    reason = next(m.reason for m in report.pending if m.pod.name == "jenkins-0")
    assert reason == (
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated "
        "taint {CriticalAddonsOnly: true}, 1 node(s) had untolerated taint "
        "{node.kubernetes.io/unreachable: }."
    )


def test_drain_keeps_daemonsets_and_cordons(n100):
    report = what_if(n100.snapshot, Scenario("drain", "worker-1"), n100.thresholds)
    assert [p.name.rsplit("-", 1)[0] for p, _ in report.stays] == ["svclb-traefik"]
    assert not report.lost
    assert not any("StatefulSet" in m.note for m in report.moves)  # no such caveat in a drain
    reason = next(m.reason for m in report.pending if m.pod.name == "jenkins-0")
    assert "1 node(s) were unschedulable" in reason


def test_losing_the_only_host_takes_every_node(n100):
    report = what_if(n100.snapshot, Scenario("lose-host", "pve"), n100.thresholds)
    assert sorted(report.affected_nodes) == ["k3s-master", "worker-1", "worker-2"]
    assert not report.placed
    assert all(w.stays_down for w in report.workloads)


def two_host_lab():
    """Two Proxmox hosts; pve1 runs n0 and n1, pve2 runs n2."""
    base = proxmox_lab(vms=3)
    backing = {"n0": Backing("pve1", 100), "n1": Backing("pve1", 101), "n2": Backing("pve2", 102)}
    host2 = replace(base.hosts[0], name="pve2")
    return replace(base, hosts=(*base.hosts, host2), backing=backing)


def test_anti_affinity_across_vms_of_one_box_is_not_ha():
    term = (AffinityTerm(LabelSelector({"app": "db"}), "kubernetes.io/hostname"),)
    pods = [
        pod("db-0", "n0", app="db", owner="StatefulSet/db", anti_affinity=term),
        pod("db-1", "n1", app="db", owner="StatefulSet/db", anti_affinity=term),
    ]
    db = Workload("StatefulSet", "default", "db", 2, LabelSelector({"app": "db"}))
    snap = replace(two_host_lab(), pods=tuple(pods), workloads=(db,))
    report = what_if(snap, Scenario("lose-host", "pve1"))
    assert sorted(report.affected_nodes) == ["n0", "n1"]
    impact = report.workloads[0]
    assert impact.outage and impact.ready_during == 0
    # One replica can go to n2; the second would share n2 and anti-affinity forbids it.
    assert impact.ready_after == 1 and not impact.stays_down
    assert "didn't match pod anti-affinity rules" in report.pending[0].reason
    assert all(m.note for m in report.moves)  # StatefulSet pods wait for the node's removal


def test_daemonset_and_mirror_and_bare_pods_on_a_lost_node():
    ds = pod("agent-x", "a", owner="DaemonSet/agent")
    mirror = pod("etcd-a", "a", owner="Node/a", annotations={"kubernetes.io/config.mirror": "x"})
    bare = pod("debug", "a", owner=None)
    web = pod("web-1", "a")
    snap = snapshot([node("a"), node("b")], [ds, mirror, bare, web], [deployment("web", 1)])
    report = what_if(snap, Scenario("lose-node", "a"))
    assert [m.pod.name for m in report.placed] == ["web-1"]
    assert {p.name for p, _ in report.lost} == {"agent-x", "etcd-a", "debug"}
    drained = what_if(snap, Scenario("drain", "a"))
    assert {p.name for p, _ in drained.stays} == {"agent-x", "etcd-a"}
    assert [why for p, why in drained.lost if p.name == "debug"] == [
        "no controller recreates it (drain needs --force)"
    ]


def test_arch_is_honoured_when_re_placing():
    nodes = [node("pi1", arch="arm64"), node("pi2", arch="arm64"), node("x86", arch="amd64")]
    legacy = pod("exporter-1", "x86", node_selector={"kubernetes.io/arch": "amd64"})
    app = pod("app-1", "pi1", node_selector={"kubernetes.io/arch": "arm64"})
    snap = snapshot(nodes, [legacy, app])
    assert what_if(snap, Scenario("lose-node", "pi1")).placed[0].target == "pi2"
    stranded = what_if(snap, Scenario("lose-node", "x86")).pending[0]
    assert "3 node(s)" not in stranded.reason
    assert "2 node(s) didn't match Pod's node affinity/selector" in stranded.reason


def test_pdb_violation_when_replacements_cannot_run():
    nodes = [node("a", "2", "2Gi"), node("b", "2", "2Gi")]
    pods = [pod("web-1", "a", memory="1500Mi"), pod("web-2", "b", memory="1500Mi")]
    pdb = Pdb("default", "web", LabelSelector({"app": "web"}), min_available=2)
    snap = snapshot(nodes, pods, [deployment("web", 2)], pdbs=(pdb,))
    # A lost node (a drain of this pair blocks instead: test_drain_blocked_by_a_pdb...).
    impact = what_if(snap, Scenario("lose-node", "a")).pdbs[0]
    assert (impact.expected, impact.desired_healthy) == (2, 2)
    assert (impact.healthy_before, impact.healthy_during, impact.healthy_after) == (2, 1, 1)
    assert impact.disrupted and impact.violated


def test_drain_blocked_by_a_pdb_that_allows_no_disruption():
    nodes = [node("a", "2", "4Gi"), node("b", "2", "4Gi"), node("c", "2", "4Gi")]
    pods = [pod("web-1", "a", memory="1Gi"), pod("web-2", "b", memory="1Gi")]
    pdb = Pdb("default", "web", LabelSelector({"app": "web"}), min_available=2)
    snap = snapshot(nodes, pods, [deployment("web", 2)], pdbs=(pdb,))
    report = what_if(snap, Scenario("drain", "a"))
    # The eviction is refused for ever: the pod stays, nothing moves, nothing is Pending.
    assert [(p.name, ref) for p, ref in report.blocked] == [("web-1", "default/web")]
    assert report.drain_blocked and not report.moves
    impact = report.pdbs[0]
    assert (impact.healthy_during, impact.healthy_after) == (2, 2) and not impact.disrupted
    assert not report.outages
    assert any("the drain blocks" in n and "default/web" in n for n in report.notes)
    # Losing the node is another matter: the budget cannot stop a power cut.
    assert not what_if(snap, Scenario("lose-node", "a")).blocked


def test_pdb_survives_when_a_replacement_fits():
    nodes = [node("a", "2", "4Gi"), node("b", "2", "4Gi")]
    pods = [pod("web-1", "a", memory="1Gi"), pod("web-2", "b", memory="1Gi")]
    pdb = Pdb("default", "web", LabelSelector({"app": "web"}), max_unavailable=1)
    snap = snapshot(nodes, pods, [deployment("web", 2)], pdbs=(pdb,))
    report = what_if(snap, Scenario("lose-node", "a"))
    impact = report.pdbs[0]
    assert not impact.disrupted and not impact.violated
    assert not report.outages


def test_single_replica_outage_like_seed_004_coredns():
    nodes = [node("a"), node("b")]
    dns = pod("coredns-1", "a", namespace="kube-system", app="coredns")
    snap = snapshot(nodes, [dns], [deployment("coredns", 1, "kube-system")])
    report = what_if(snap, Scenario("lose-node", "a"))
    [impact] = report.outages
    assert impact.ref == "kube-system/deployment/coredns"
    assert impact.ready_during == 0 and impact.ready_after == 1 and not impact.stays_down


def test_preempted_pods_count_against_their_workload():
    nodes = [node("a", "2", "2Gi"), node("b", "2", "2Gi")]
    pods = [
        pod("vip-1", "a", memory="2Gi", app="vip", priority=100),
        pod("cheap-1", "b", memory="2Gi", app="cheap", priority=1),
    ]
    snap = snapshot(nodes, pods, [deployment("vip", 1), deployment("cheap", 1)])
    report = what_if(snap, Scenario("lose-node", "a"))
    assert report.placed[0].target == "b"
    assert [p.victim.name for p in report.preempted] == ["cheap-1"]
    cheap = next(w for w in report.workloads if w.ref == "default/deployment/cheap")
    assert cheap.outage and cheap.stays_down
    assert any(m.pod.name == "cheap-1" and m.target is None for m in report.moves)


def test_unknown_targets_are_clear_errors():
    snap = snapshot([node("a")], [])
    with pytest.raises(UnknownTarget, match=r"unknown node 'zz' \(nodes: a\)"):
        what_if(snap, Scenario("drain", "zz"))
    with pytest.raises(UnknownTarget, match="unknown host"):
        what_if(snap, Scenario("lose-host", "pve"))


def test_a_host_without_nodes_moves_nothing():
    snap = replace(two_host_lab(), backing={})
    report = what_if(snap, Scenario("lose-host", "pve2"))
    assert not report.moves and any("nothing moves" in n for n in report.notes)


def test_job_pods_are_recreated_but_other_owners_are_not():
    job = replace(pod("backup-x", "a", owner=None), owner=OwnerRef("Job", "backup"))
    snap = snapshot([node("a"), node("b")], [job])
    assert what_if(snap, Scenario("drain", "a")).placed[0].target == "b"
