"""Incidents: causes before symptoms, one per root, ranked by impact, with their fixes as
cockpit command lines. Seed 004's outage on the tailnet lab, and the cases around it."""

from __future__ import annotations

from dataclasses import replace

from builders import container_state, pod
from test_triage_findings import NOW, down_host, set_node, world

from cockpit import labfile
from cockpit.model import Snapshot, Taint
from cockpit.triage.findings import facts_of, find_findings
from cockpit.triage.incidents import Incident, build_incidents


def incidents(s: Snapshot) -> list[Incident]:
    facts = facts_of(s, NOW)
    return build_incidents(s, find_findings(s, facts=facts), facts)


def tailnet() -> Snapshot:
    return replace(labfile.load("tailnet").snapshot, clock=NOW)


def friend_pve_off(s: Snapshot) -> Snapshot:
    """Seed 004: the friend's box is powered off; the VMs read "unknown", their nodes go
    Unknown after the grace period and their tailnet peers offline."""
    s = down_host(s, "friend-pve")
    for name in ("x86-vm-1", "x86-vm-2"):
        s = set_node(s, name, conditions={"Ready": "Unknown"})
    peers = tuple(replace(p, online=False) if p.hostname.startswith("x86") else p for p in s.peers)
    return replace(s, peers=peers)


def commands(i: Incident) -> list[str]:
    return [f.command for f in i.fixes]


def test_the_tailnet_lab_is_healthy_before_the_outage():
    assert incidents(tailnet()) == []


def test_seed_004_the_powered_off_box_comes_first_with_dns_and_its_fixes():
    s = friend_pve_off(tailnet())
    first, *rest = incidents(s)
    assert first.severity == "critical"
    assert (first.root.code, first.root.obj.layer, first.root.obj.name) == (
        "HOST-OFF",
        "host",
        "friend-pve",
    )
    pods_there = sum(
        1
        for n in ("x86-vm-1", "x86-vm-2")
        for p in s.pods_by_node.get(n, ())
        if p.phase == "Running"
    )
    assert first.title == (
        f"host friend-pve is powered off -> 2 VMs stopped -> 2 nodes NotReady -> {pods_there} pods"
    )
    assert first.notes == ("CoreDNS had its only replica there: cluster DNS is down for every pod",)
    assert commands(first) == [
        "cockpit restart kube-system/deployment/coredns",
        "cockpit scale-ha",
        "cockpit guest start 100",
        "cockpit guest start 101",
    ]
    assert [f.title for f in first.fixes][:2] == [
        "restart CoreDNS elsewhere",
        "scale kube-system for HA",
    ]
    a = first.affected
    assert (a.hosts, a.guests, a.nodes, a.pods) == (1, 2, 2, pods_there)
    assert a.dns_pods == sum(1 for p in s.pods if p.phase not in ("Succeeded", "Failed"))
    assert a.by_priority["system-cluster-critical"] >= 1  # CoreDNS itself
    symptoms = {(f.code, f.obj.name) for f in first.symptoms}
    assert {
        ("GUEST-STOPPED", "x86-vm-1"),
        ("GUEST-STOPPED", "x86-vm-2"),
        ("NODE-NOTREADY", "x86-vm-1"),
        ("NODE-NOTREADY", "x86-vm-2"),
        ("DNS-NO-ENDPOINT", "coredns"),  # no Services in a lab file: found by name
        ("PEER-OFFLINE", "x86-vm-1"),
        ("WORKLOAD-DOWN", "coredns"),
    } <= symptoms
    # Everything the outage caused is beneath it: no other incident of its own.
    assert rest == []


def test_a_host_off_with_coredns_elsewhere_is_not_a_dns_incident():
    lab = tailnet()
    # CoreDNS runs on a Pi this time.
    pods = tuple(
        replace(p, node="rpi5-home") if p.namespace == "kube-system" and "coredns" in p.name else p
        for p in lab.pods
    )
    [first] = incidents(friend_pve_off(replace(lab, pods=pods)))
    assert first.root.code == "HOST-OFF"
    assert first.notes == ()
    assert first.affected.dns_pods == 0
    assert not any("DNS" in f.code for f in first.symptoms)
    assert "cockpit restart kube-system/deployment/coredns" not in commands(first)
    assert commands(first) == ["cockpit guest start 100", "cockpit guest start 101"]


def test_a_cordoned_node_alone_is_a_warning_with_uncordon():
    taint = Taint("node.kubernetes.io/unschedulable", "NoSchedule", time_added=NOW - 7200)
    [only] = incidents(set_node(world(), "n2", unschedulable=True, taints=(taint,)))
    assert (only.severity, only.root.code, only.root.obj.name) == ("warning", "NODE-CORDONED", "n2")
    assert commands(only) == ["cockpit uncordon n2"]
    assert only.fixes[0].key == "u"


def test_a_stopped_vm_on_a_running_host_is_the_root_and_start_comes_first():
    s = replace(
        world(),
        guests=tuple(replace(g, status="stopped") if g.vmid == 101 else g for g in world().guests),
    )
    s = set_node(s, "n1", conditions={"Ready": "Unknown"})
    [first] = incidents(s)
    assert (first.root.code, first.root.obj.id) == ("GUEST-STOPPED", "101")
    assert first.title == "VM 101 vm1 is stopped -> 1 node NotReady -> 1 pod"
    assert commands(first)[:3] == [
        "cockpit guest start 101",
        "cockpit restart kube-system/deployment/coredns",
        "cockpit scale-ha",
    ]


def test_coredns_scaled_to_zero_is_its_own_root_with_the_scale_back():
    from test_triage_findings import DNS_LABELS, deployment

    from cockpit.model import LabelSelector

    s = replace(
        world(),
        pods=world().pods[1:],
        workloads=(
            replace(deployment("coredns", 0, "kube-system"), selector=LabelSelector(DNS_LABELS)),
            deployment("app", 2),
        ),
    )
    [first] = incidents(s)
    assert first.root.code == "DNS-NO-ENDPOINT" and first.severity == "critical"
    assert commands(first) == ["cockpit scale kube-system/deployment/coredns 2", "cockpit scale-ha"]
    assert first.affected.dns_pods == 2


def test_incidents_rank_by_severity_then_blast_radius():
    taint = Taint("node.kubernetes.io/unschedulable", "NoSchedule", time_added=NOW - 7200)
    s = set_node(world(), "n2", unschedulable=True, taints=(taint,))
    s = replace(s, pods=(*s.pods, pod("web-a", "n0"), pod("web-b", "n0"), pod("web-c", "n0")))
    s = set_node(s, "n0", conditions={"Ready": "False"})  # 4 pods down on n0
    s = replace(s, pods=(*s.pods, pod("solo-a", "n1", namespace="x")))
    order = [(i.severity, i.root.code, i.root.obj.name) for i in incidents(s)]
    assert order[0] == ("critical", "NODE-NOTREADY", "n0")
    assert order[-1] == ("warning", "NODE-CORDONED", "n2")
    # Bigger blast radius first among equals: lose n1 as well, with DNS on it.
    both = set_node(s, "n1", conditions={"Ready": "False"})
    ranked = incidents(both)
    assert ranked[0].root.obj.name == "n1" and ranked[0].affected.dns_pods > 0
    assert ranked[1].root.obj.name == "n0"


def test_a_pod_stuck_terminating_on_a_gone_node_offers_the_forced_delete():
    s = replace(world(), pods=(*world().pods, pod("app-c", "n9", deleted_at=NOW - 900)))
    [first] = [i for i in incidents(s) if i.root.code == "NODE-GONE"]
    assert first.root.obj.name == "n9"
    delete = [f for f in first.fixes if not f.action]
    assert [f.command for f in delete] == [
        "kubectl -n default delete pod app-c --force --grace-period=0"
    ]


def test_a_node_down_takes_its_peer_offline_as_a_symptom_not_a_second_incident():
    s = set_node(world(), "n2", conditions={"Ready": "Unknown"})
    s = replace(
        s, peers=tuple(replace(p, online=False) if p.hostname == "n2" else p for p in s.peers)
    )
    [only] = incidents(s)
    assert only.root.code == "NODE-NOTREADY"
    assert [f.code for f in only.symptoms if f.code.startswith("PEER")] == ["PEER-OFFLINE"]
    assert "cockpit drain n2" in commands(only)


def test_a_host_that_is_off_carries_no_capacity_and_says_offline():
    from cockpit.triage.capacity import host_capacity, online_totals

    before = online_totals(tailnet())
    s = friend_pve_off(tailnet())
    caps = {c.name: c for c in host_capacity(s)}
    friend = caps["friend-pve"]
    assert friend.status == "OFFLINE" and (friend.threads, friend.memory, friend.disk) == (0, 0, 0)
    assert friend.promised_vcpus == 12  # its two VMs still exist
    assert friend.cpu_ratio() is None and friend.memory_ratio() is None  # n/a, never inf
    after = online_totals(s)
    assert (after.hosts_online, after.hosts_down) == (before.hosts_online - 1, 1)
    assert after.threads == before.threads - 16
    # Proxmox cannot hear it, but its tailnet peer answers: a split, not a power loss.
    split = replace(
        s, peers=tuple(replace(p, online=True) if p.hostname == "x86-vm-1" else p for p in s.peers)
    )
    assert {c.name: c for c in host_capacity(split)}["friend-pve"].status == "UNREACHABLE"


def test_lost_quorum_is_a_symptom_of_the_proxmox_node_that_went_away():
    from cockpit.model import PveCluster, PveTask

    s = down_host(world(), "pve1")
    s = replace(
        s,
        pve_cluster=PveCluster("home", quorate=False, nodes_online=1, nodes_total=2),
        tasks=(
            PveTask(
                "UPID:x",
                "pi",
                "vzdump",
                "",
                status="cluster not ready - no quorum?",
                start=NOW - 30,
                end=NOW - 29,
            ),
        ),
    )
    [first] = incidents(s)
    assert first.root.code == "HOST-OFF"
    assert {"PVE-NO-QUORUM", "GUEST-TASK-FAILED"} <= {f.code for f in first.symptoms}


def test_run_triage_counts_incidents_by_severity_for_a_status_bar():
    from cockpit.triage.run import run_triage

    assert run_triage(tailnet(), NOW).worst is None
    result = run_triage(friend_pve_off(tailnet()), NOW)
    assert result.worst == "critical" and result.counts() == {"critical": 1}
    assert result.incidents[0].root.obj.name == "friend-pve"
    assert result.risks and all(f.risk for f in result.risks)


def test_pods_stuck_terminating_get_one_forced_delete_per_namespace():
    stuck = (pod("app-c", "n2", deleted_at=NOW - 900), pod("app-d", "n2", deleted_at=NOW - 900))
    s = set_node(
        replace(world(), pods=(*world().pods, *stuck)), "n2", conditions={"Ready": "False"}
    )
    [first] = incidents(s)
    assert first.root.code == "NODE-NOTREADY"
    [delete] = [f for f in first.fixes if not f.action]
    assert delete.command == "kubectl -n default delete pod app-c app-d --force --grace-period=0"
    assert delete.title == "delete 2 pods in default stuck Terminating"


def test_a_peer_is_linked_by_its_node_id_not_its_hostname():
    # A real tailscaled gives every peer a stable node ID, and the topology links nodes to
    # peers by it: the peer of a dead node is still its symptom, and a peer cut off while
    # its node runs is a warning about that node's peer, fixed on the machine.
    with_ids = tuple(replace(p, id=f"nID{p.hostname}") for p in world().peers)
    s = set_node(world(peers=with_ids), "n2", conditions={"Ready": "Unknown"})
    s = replace(s, peers=tuple(replace(p, online=p.hostname != "n2") for p in s.peers))
    [only] = incidents(s)
    assert only.root.code == "NODE-NOTREADY"
    assert [(f.code, f.obj.id) for f in only.symptoms] == [("PEER-OFFLINE", "nIDn2")]

    cut = world(peers=tuple(replace(p, online=p.hostname != "n1") for p in with_ids))
    [only] = incidents(cut)
    assert (only.severity, only.root.code, only.root.obj.name) == ("warning", "PEER-OFFLINE", "n1")
    assert only.root.text.startswith("tailnet peer n1 (node n1) is offline")
    assert [(f.command, f.action) for f in only.fixes] == [("tailscale up", False)]


def test_pods_of_one_workload_failing_alike_are_one_incident_with_the_rollback():
    def crashing(name: str):
        return pod(
            name,
            "n0",
            app="app",
            container_states=(
                container_state(
                    state="waiting", reason="CrashLoopBackOff", restarts=4, last_exit_code=1
                ),
            ),
        )

    s = replace(world(), pods=(*world().pods, crashing("app-x"), crashing("app-y")))
    [only] = incidents(s)
    assert (only.root.code, only.root.obj.name) == ("POD-CRASHLOOP", "app-x")
    assert [(f.code, f.obj.name) for f in only.symptoms] == [("POD-CRASHLOOP", "app-y")]
    assert only.affected.pods == 2
    assert [(f.command, f.action) for f in only.fixes] == [
        ("kubectl -n default rollout undo deployment/app", False)
    ]
