"""Each finding on a hand-made snapshot: the fault makes it appear (with its code, severity,
object and evidence), the healthy world shows none of it."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from builders import container_state, deployment, guest, host, node, peer, pod, res

from cockpit.model import (
    Backing,
    Endpoint,
    EndpointSlice,
    Hpa,
    HpaMetric,
    LabelSelector,
    Pdb,
    PveCluster,
    PveTask,
    Service,
    Snapshot,
    TailnetStatus,
    Taint,
)
from cockpit.sources.health import Health
from cockpit.triage.finding import CODES, Finding
from cockpit.triage.findings import find_findings

NOW = 1_800_000_000.0
GI = 2**30
DNS_LABELS = {"k8s-app": "kube-dns"}


def ip_of(n: str) -> str:
    return f"100.64.0.{int(n[1:]) + 1}"


def world(**changes) -> Snapshot:
    """pve1 runs VMs 100 and 101 (nodes n0 and n1); n2 is bare metal on host pi. CoreDNS
    (one replica) runs on n1; app (2 replicas) on n0 and n2. Every node is a tailnet peer."""
    nodes = tuple(node(n, addresses=(("InternalIP", ip_of(n)),)) for n in ("n0", "n1", "n2"))
    pods = (
        pod("coredns-a", "n1", namespace="kube-system", app="coredns", labels=DNS_LABELS),
        pod("app-a", "n0"),
        pod("app-b", "n2"),
    )
    base = Snapshot(
        hosts=(host("pve1"), host("pi", proxmox=False, arch="arm64")),
        guests=(guest(100, "vm0", "pve1"), guest(101, "vm1", "pve1")),
        nodes=nodes,
        pods=pods,
        workloads=(deployment("coredns", 1, "kube-system"), deployment("app", 2)),
        peers=(
            peer("me", "100.64.0.99", is_self=True),
            *tuple(peer(n, ip_of(n), cur_addr="198.51.100.1:41641") for n in ("n0", "n1", "n2")),
        ),
        backing={"n0": Backing("pve1", 100), "n1": Backing("pve1", 101), "n2": Backing("pi")},
        services=(Service("kube-system", "kube-dns", DNS_LABELS),),
        clock=NOW,
    )
    return replace(base, **changes)


def with_pods(s: Snapshot, *pods) -> Snapshot:
    return replace(s, pods=s.pods + tuple(pods))


def findings(s: Snapshot, **kw) -> list[Finding]:
    return find_findings(s, **kw)


def codes(s: Snapshot, **kw) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in findings(s, **kw):
        out.setdefault(f.code, []).append(f)
    return out


def live(s: Snapshot, **kw) -> set[str]:
    return {f.code for f in findings(s, **kw) if not f.risk and f.severity != "info"}


def test_the_healthy_world_has_no_live_fault():
    assert live(world()) == set()
    # ...but its standing risks are there: one CoreDNS replica.
    assert "DNS-SINGLE-REPLICA" in codes(world())


# --- hosts and Proxmox ---------------------------------------------------------------------


def down_host(s: Snapshot, name: str, peers_online: bool = False) -> Snapshot:
    hosts = tuple(replace(h, online=False) if h.name == name else h for h in s.hosts)
    guests = tuple(replace(g, status="unknown") if g.host == name else g for g in s.guests)
    on_it = set(s.nodes_by_host.get(name, ()))
    peers = tuple(replace(p, online=peers_online) if p.hostname in on_it else p for p in s.peers)
    return replace(s, hosts=hosts, guests=guests, peers=peers)


def test_a_host_that_is_off_is_critical_and_names_what_runs_on_it():
    [f] = codes(down_host(world(), "pve1"))["HOST-OFF"]
    assert f.severity == "critical"
    assert (f.obj.layer, f.obj.kind, f.obj.name) == ("host", "Host", "pve1")
    assert "powered off (2 guests, 2 Kubernetes nodes on it)" in f.text
    assert "Host.online=False (Proxmox reports it offline)" in f.evidence
    assert "HOST-UNREACHABLE" not in codes(down_host(world(), "pve1"))


def test_a_host_proxmox_lost_while_its_peers_are_online_is_unreachable_not_off():
    found = codes(down_host(world(), "pve1", peers_online=True))
    assert "HOST-OFF" not in found
    [f] = found["HOST-UNREACHABLE"]
    assert "network split" in f.text


def test_a_cluster_without_quorum():
    s = world(pve_cluster=PveCluster("home", quorate=False, nodes_online=1, nodes_total=3))
    [f] = codes(s)["PVE-NO-QUORUM"]
    assert "1 of 3 nodes online" in f.text
    assert "PVE-NO-QUORUM" not in codes(world(pve_cluster=PveCluster("home", quorate=True)))


def test_a_stopped_guest_that_backs_a_node():
    s = world(guests=(guest(100, "vm0", "pve1", status="stopped"), guest(101, "vm1", "pve1")))
    [f] = codes(s)["GUEST-STOPPED"]
    assert (f.obj.kind, f.obj.name, f.obj.id) == ("Guest", "vm0", "100")
    assert "backs node n0" in f.text and "cockpit guest start 100" in f.fix
    # A stopped guest that backs no node is nobody's outage.
    spare = world(guests=(*world().guests, guest(102, "spare", "pve1", status="stopped")))
    assert "GUEST-STOPPED" not in codes(spare)


def test_a_failed_task_unless_a_later_one_succeeded():
    failed = PveTask(
        "UPID:1",
        "pve1",
        "qmstart",
        "100",
        status="command failed: no disk",
        start=NOW - 60,
        end=NOW - 59,
    )
    [f] = codes(world(tasks=(failed,)))["GUEST-TASK-FAILED"]
    assert f.obj.id == "100" and "no disk" in f.text
    later = PveTask("UPID:2", "pve1", "qmstart", "100", status="OK", start=NOW - 10, end=NOW - 9)
    assert "GUEST-TASK-FAILED" not in codes(world(tasks=(failed, later)))
    old = replace(failed, start=NOW - 3 * 86400, end=NOW - 3 * 86400)
    assert "GUEST-TASK-FAILED" not in codes(world(tasks=(old,)))


# --- nodes -----------------------------------------------------------------------------------


def set_node(s: Snapshot, name: str, **changes) -> Snapshot:
    return replace(s, nodes=tuple(replace(n, **changes) if n.name == name else n for n in s.nodes))


@pytest.mark.parametrize("status", ["False", "Unknown"])
def test_a_node_that_is_not_ready(status):
    s = set_node(
        world(),
        "n2",
        conditions={"Ready": status},
        condition_details={
            "Ready": ("NodeStatusUnknown", "Kubelet stopped posting node status.", NOW - 300)
        },
    )
    [f] = codes(s)["NODE-NOTREADY"]
    assert f.severity == "critical" and f.obj.name == "n2"
    assert "for 5 min" in f.text
    assert (
        f"Node.conditions[Ready]={status} (NodeStatusUnknown: Kubelet stopped posting node status.)"
        in f.evidence
    )


@pytest.mark.parametrize(
    "condition, code",
    [
        ("MemoryPressure", "NODE-MEMORY-PRESSURE"),
        ("DiskPressure", "NODE-DISK-PRESSURE"),
        ("PIDPressure", "NODE-PID-PRESSURE"),
    ],
)
def test_kubelet_pressure(condition, code):
    s = set_node(world(), "n0", conditions={"Ready": "True", condition: "True"})
    [f] = codes(s)[code]
    assert f.obj.name == "n0" and f.severity == "warning"
    # A NotReady node's last word on pressure is stale: not reported.
    dead = set_node(world(), "n0", conditions={"Ready": "Unknown", condition: "True"})
    assert code not in codes(dead)


def test_a_node_cordoned_for_hours_is_a_warning_a_fresh_cordon_is_info():
    taint = Taint("node.kubernetes.io/unschedulable", "NoSchedule", time_added=NOW - 3 * 3600)
    [f] = codes(set_node(world(), "n0", unschedulable=True, taints=(taint,)))["NODE-CORDONED"]
    assert f.severity == "warning" and "for 3.0 h" in f.text
    assert "cockpit uncordon n0" in f.fix
    fresh = replace(taint, time_added=NOW - 60)
    [g] = codes(set_node(world(), "n0", unschedulable=True, taints=(fresh,)))["NODE-CORDONED"]
    assert g.severity == "info"


def test_a_cordon_without_a_taint_time_is_dated_by_its_event():
    from cockpit.model import Event

    cordoned = set_node(world(), "n0", unschedulable=True)
    [f] = codes(cordoned)["NODE-CORDONED"]
    assert f.severity == "warning" and " for " not in f.text  # age unknown: not "fresh"
    event = Event("", "n0.1", "Node", "n0", reason="NodeNotSchedulable", last_seen=NOW - 120)
    [g] = codes(replace(cordoned, events=(event,)))["NODE-CORDONED"]
    assert g.severity == "info" and "for 2 min" in g.text


@pytest.mark.parametrize(
    "used, severity", [("6.2Gi", "info"), ("7Gi", "warning"), ("7.8Gi", "critical")]
)
def test_node_memory_use_against_seed_000_levels(used, severity):
    # 8 GiB allocatable: 77 % caution, 87 % warning, 97 % critical.
    [f] = codes(set_node(world(), "n0", usage=res("1", used)))["NODE-MEMORY-USE"]
    assert f.severity == severity
    assert "NODE-MEMORY-USE" not in codes(set_node(world(), "n0", usage=res("1", "5Gi")))


def test_host_memory_use_and_an_offline_host_has_none():
    hot = world(hosts=(host("pve1", usage=res("1", "30Gi")), host("pi", proxmox=False)))
    [f] = codes(hot)["HOST-MEMORY-USE"]
    assert f.severity == "warning" and "94 %" in f.text  # 30 of 32 GiB
    off = world(
        hosts=(host("pve1", online=False, usage=res("1", "30Gi")), host("pi", proxmox=False))
    )
    assert "HOST-MEMORY-USE" not in codes(off)


# --- tailnet ------------------------------------------------------------------------------------


def set_peer(s: Snapshot, name: str, **changes) -> Snapshot:
    return replace(
        s, peers=tuple(replace(p, **changes) if p.hostname == name else p for p in s.peers)
    )


def test_a_peer_offline_names_its_node():
    [f] = codes(set_peer(world(), "n2", online=False, last_seen="2027-01-15T08:00:00Z"))[
        "PEER-OFFLINE"
    ]
    assert f.severity == "warning" and "(node n2)" in f.text and "last seen" in f.text
    laptop = replace(world(), peers=(*world().peers, peer("laptop", "100.64.9.9", online=False)))
    [g] = codes(laptop)["PEER-OFFLINE"]
    assert g.severity == "info"  # a laptop asleep is nobody's outage


def test_key_expired_and_expiring():
    [f] = codes(set_peer(world(), "n0", expired=True))["PEER-KEY-EXPIRED"]
    assert f.severity == "critical"
    soon = "2027-01-18T08:00:00Z"  # NOW is 2027-01-15T08:00:00Z
    [g] = codes(set_peer(world(), "n0", key_expiry=soon))["PEER-KEY-EXPIRING"]
    assert "3.0 days" in g.text
    assert "PEER-KEY-EXPIRING" not in codes(
        set_peer(world(), "n0", key_expiry="2027-03-01T00:00:00Z")
    )


def test_relayed_is_info_unless_it_used_to_be_direct():
    relayed = set_peer(world(), "n1", cur_addr="", relay="tok")
    [f] = codes(relayed)["PEER-RELAYED"]
    assert f.severity == "info" and "DERP relay tok" in f.text
    [g] = codes(relayed, previous=world())["PEER-RELAYED"]
    assert g.severity == "warning" and "where it was direct (198.51.100.1:41641)" in g.text


def test_tailscaled_not_running_and_its_health_messages():
    s = world(tailnet=TailnetStatus("NeedsLogin", ("not logged in",)))
    found = codes(s)
    assert found["TAILSCALE-NOT-RUNNING"][0].severity == "critical"
    assert "not logged in" in found["TAILSCALE-HEALTH"][0].text
    assert not {"TAILSCALE-NOT-RUNNING", "TAILSCALE-HEALTH"} & set(
        codes(world(tailnet=TailnetStatus("Running")))
    )


# --- pods ---------------------------------------------------------------------------------


def test_crashloop():
    p = pod(
        "web-a",
        "n0",
        container_states=(
            container_state(
                state="waiting",
                reason="CrashLoopBackOff",
                restarts=7,
                last_reason="Error",
                last_exit_code=1,
            ),
        ),
    )
    [f] = codes(with_pods(world(), p))["POD-CRASHLOOP"]
    assert f.text.endswith("after 7 restarts, last exit Error 1")
    said = replace(p.container_states[0], last_message="starting\npanic: dial tcp db:5432\n")
    [g] = codes(with_pods(world(), replace(p, container_states=(said,))))["POD-CRASHLOOP"]
    assert g.text.endswith("last exit Error 1: panic: dial tcp db:5432")
    assert "logs web-a -c main --previous" in f.fix


def test_oomkilled_names_the_limit_that_killed_it():
    p = pod(
        "web-a",
        "n0",
        limits=res(None, "256Mi"),
        container_states=(
            container_state(
                state="waiting",
                reason="CrashLoopBackOff",
                restarts=3,
                last_reason="OOMKilled",
                last_exit_code=137,
            ),
        ),
    )
    found = codes(with_pods(world(), p))
    [f] = found["POD-OOMKILLED"]
    assert "OOMKilled at its 256.0 MiB memory limit" in f.text
    assert "POD-CRASHLOOP" not in found  # one finding, the more precise one


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull"])
def test_image_pull(reason):
    p = pod(
        "web-a",
        "n0",
        container_states=(container_state(state="waiting", reason=reason, message="not found"),),
    )
    [f] = codes(with_pods(world(), p))["POD-IMAGE-PULL"]
    assert reason in f.text


def test_create_container_config_error():
    p = pod(
        "web-a",
        "n0",
        container_states=(
            container_state(
                state="waiting",
                reason="CreateContainerConfigError",
                message='secret "db" not found',
            ),
        ),
    )
    [f] = codes(with_pods(world(), p))["POD-CONFIG-ERROR"]
    assert 'secret "db" not found' in f.text


def test_exec_format_error_names_the_arch_mismatch():
    p = pod(
        "exporter-a",
        "n2",
        annotations={"cockpit.io/image-archs": "amd64"},
        container_states=(
            container_state(
                state="waiting",
                reason="CrashLoopBackOff",
                last_reason="Error",
                last_exit_code=255,
                last_message="exec /bin/exporter: exec format error",
            ),
        ),
    )
    s = with_pods(set_node(world(), "n2", labels={"kubernetes.io/arch": "arm64"}), p)
    [f] = codes(s)["POD-EXEC-FORMAT"]
    assert "on arm64 node n2; the image is built for amd64" in f.text


def test_an_arch_mismatch_without_the_message_is_inferred_from_a_failing_container():
    failing = container_state(
        state="waiting", reason="CrashLoopBackOff", last_reason="Error", last_exit_code=1
    )
    p = pod(
        "exporter-a",
        "n2",
        annotations={"cockpit.io/image-archs": "amd64"},
        container_states=(failing,),
    )
    arm = set_node(world(), "n2", labels={"kubernetes.io/arch": "arm64"})
    [f] = codes(with_pods(arm, p))["POD-EXEC-FORMAT"]
    assert "keeps failing on arm64 node n2; the image is built for amd64" in f.text
    # The same failure on a node of the image's arch is a plain crash loop.
    found = codes(with_pods(world(), p))
    assert "POD-EXEC-FORMAT" not in found and "POD-CRASHLOOP" in found


def test_pending_with_the_schedulers_reason():
    p = pod(
        "big-a",
        None,
        unscheduled_reason="Unschedulable",
        unscheduled_message="0/3 nodes are available: 3 Insufficient memory.",
    )
    [f] = codes(with_pods(world(), p))["POD-PENDING"]
    assert "(Unschedulable): 0/3 nodes are available: 3 Insufficient memory." in f.text


def test_terminating_on_a_dead_node_but_not_on_a_live_one():
    p = pod("app-c", "n2", deleted_at=NOW - 600)
    dead = set_node(with_pods(world(), p), "n2", conditions={"Ready": "Unknown"})
    [f] = codes(dead)["POD-TERMINATING-DEAD-NODE"]
    assert "--force --grace-period=0" in f.fix and "which is down" in f.text
    assert "POD-TERMINATING-DEAD-NODE" not in codes(with_pods(world(), p))
    gone = replace(with_pods(world(), p), nodes=tuple(n for n in world().nodes if n.name != "n2"))
    assert "which is gone" in codes(gone)["POD-TERMINATING-DEAD-NODE"][0].text


def test_evicted_pods_are_grouped_by_workload():
    evicted = [
        pod(
            f"app-{i}",
            "n0",
            phase="Failed",
            reason="Evicted",
            message="The node was low on resource: memory.",
        )
        for i in "xyz"
    ]
    [f] = codes(with_pods(world(), *evicted))["POD-EVICTED"]
    assert f.text.startswith("3 pods of default/deployment/app were evicted: The node was low")


def test_a_workload_with_no_ready_replica():
    s = set_node(world(), "n1", conditions={"Ready": "Unknown"})
    down = codes(s)["WORKLOAD-DOWN"]
    assert [f.obj.ref for f in down] == ["kube-system/deployment/coredns"]
    assert "0 of 1 replicas ready; its pods are on n1, which is down" in down[0].text
    # Scaled to zero on purpose is not down.
    zero = replace(
        world(),
        workloads=(deployment("coredns", 0, "kube-system"), deployment("app", 2)),
        pods=world().pods[1:],
    )
    assert "WORKLOAD-DOWN" not in codes(zero)


# --- cluster DNS ----------------------------------------------------------------------------------


def slice_(*ready: bool, node: str = "n1") -> EndpointSlice:
    eps = tuple(Endpoint(f"10.42.0.{i}", r, node, f"coredns-{i}") for i, r in enumerate(ready))
    return EndpointSlice("kube-system", "kube-dns-abc", "kube-dns", eps)


def test_dns_with_no_ready_endpoint_is_critical_and_reads_the_endpointslices():
    [f] = codes(world(endpoint_slices=(slice_(False),)))["DNS-NO-ENDPOINT"]
    assert f.severity == "critical" and f.obj.ref == "kube-system/service/kube-dns"
    assert "EndpointSlices: 0 of 1 endpoints ready" in f.evidence
    assert "DNS-NO-ENDPOINT" not in codes(world(endpoint_slices=(slice_(True),)))


def test_dns_is_found_by_the_service_selector_not_by_pod_name():
    # The pod is called "coredns-a" either way; only its labels make it the cluster DNS.
    impostor = replace(
        world(),
        pods=(
            pod("coredns-a", "n1", namespace="kube-system", app="dns-impostor"),
            *world().pods[1:],
        ),
        workloads=(deployment("dns-impostor", 1, "kube-system"), deployment("app", 2)),
    )
    down = {"conditions": {"Ready": "Unknown"}}
    # The Service selects nothing: whatever the pods are called, cluster DNS has no endpoint.
    [f] = codes(set_node(impostor, "n1", **down))["DNS-NO-ENDPOINT"]
    assert "the kube-dns Service selects no pod" in f.text
    # Without the Service and the label, a pod name proves nothing: no DNS finding at all.
    assert not {
        c
        for c in codes(set_node(replace(impostor, services=()), "n1", **down))
        if c.startswith("DNS-")
    }
    [g] = codes(set_node(world(), "n1", **down))["DNS-NO-ENDPOINT"]
    assert "found by Service kube-system/kube-dns selector k8s-app=kube-dns" in g.evidence
    assert "its only replica is on n1, which is down" in g.text


def test_dns_without_services_falls_back_to_the_k8s_app_label():
    s = set_node(world(services=()), "n1", conditions={"Ready": "Unknown"})
    [f] = codes(s)["DNS-NO-ENDPOINT"]
    assert "label k8s-app=kube-dns" in f.evidence[0]


def test_dns_scaled_to_zero_says_so_and_offers_the_scale():
    s = replace(
        world(),
        pods=world().pods[1:],
        workloads=(
            replace(deployment("coredns", 0, "kube-system"), selector=LabelSelector(DNS_LABELS)),
            deployment("app", 2),
        ),
    )
    [f] = codes(s)["DNS-NO-ENDPOINT"]
    assert "kube-system/deployment/coredns is scaled to 0" in f.text
    assert f.fix == "cockpit scale kube-system/deployment/coredns 2"


def test_dns_on_one_physical_box_is_a_warning_and_critical_when_the_box_is_down():
    two = with_pods(
        replace(world(), workloads=(deployment("coredns", 2, "kube-system"), deployment("app", 2))),
        pod("coredns-b", "n0", namespace="kube-system", app="coredns", labels=DNS_LABELS),
    )
    [f] = codes(two)["DNS-ONE-HOST"]
    assert (f.severity, f.risk) == ("warning", True) and "physical host pve1" in f.text
    off = codes(
        down_host(
            set_node(
                set_node(two, "n0", conditions={"Ready": "Unknown"}),
                "n1",
                conditions={"Ready": "Unknown"},
            ),
            "pve1",
        )
    )
    assert off["DNS-ONE-HOST"][0].severity == "critical" and not off["DNS-ONE-HOST"][0].risk
    assert "DNS-NO-ENDPOINT" in off
    spread = with_pods(
        replace(world(), workloads=two.workloads),
        pod("coredns-b", "n2", namespace="kube-system", app="coredns", labels=DNS_LABELS),
    )
    assert "DNS-ONE-HOST" not in codes(spread) and "DNS-SINGLE-REPLICA" not in codes(spread)


# --- HPA, PDB, sources, risks -------------------------------------------------------------------


def hpa(**kw) -> Hpa:
    return Hpa("default", "app", "Deployment", "app", 2, 5, metrics=(HpaMetric("cpu", 70),), **kw)


def test_metrics_server_missing_while_hpas_exist():
    [f] = codes(world(hpas=(hpa(),), metrics_available=False))["METRICS-MISSING"]
    assert "<unknown>" in f.text
    assert "METRICS-MISSING" not in codes(world(hpas=(hpa(),), metrics_available=True))
    assert "METRICS-MISSING" not in codes(world(metrics_available=False))


def test_hpa_whose_target_has_no_requests():
    no_cpu = replace(
        world(),
        pods=(*world().pods[:1], pod("app-a", "n0", cpu=None), pod("app-b", "n2", cpu=None)),
    )
    [f] = codes(replace(no_cpu, hpas=(hpa(),)))["HPA-NO-REQUESTS"]
    assert "request no cpu" in f.text
    assert "HPA-NO-REQUESTS" not in codes(world(hpas=(hpa(),)))


def test_pdb_that_allows_no_disruption_now_or_ever():
    strict = Pdb("default", "app", LabelSelector({"app": "app"}), min_available=2)
    [f] = codes(world(pdbs=(strict,)))["PDB-NO-DISRUPTION"]
    assert f.risk and "even with every pod healthy" in f.text
    loose = Pdb("default", "app", LabelSelector({"app": "app"}), min_available=1)
    assert "PDB-NO-DISRUPTION" not in codes(world(pdbs=(loose,)))
    degraded = set_node(world(pdbs=(loose,)), "n2", conditions={"Ready": "Unknown"})
    [g] = codes(degraded)["PDB-NO-DISRUPTION"]
    assert not g.risk and "only 1 of 2 pods are healthy" in g.text


def test_a_stale_source_is_a_finding():
    health = {
        "kube": Health.ok("kube", NOW),
        "proxmox": Health(
            "proxmox", "stale", "connection refused", "is pveproxy up?", last_ok=NOW - 90
        ),
    }
    [f] = codes(world(), health=health)["SOURCE-DOWN"]
    assert "source proxmox is stale for 90 s: connection refused" in f.text
    assert f.fix == "is pveproxy up?" and f.severity == "warning"
    blind = {"kube": Health("kube", "error", "connection refused")}
    [g] = codes(world(), health=blind)["SOURCE-DOWN"]
    assert g.severity == "critical"


def test_the_engines_static_risks_are_findings_marked_as_risks():
    solo = replace(
        world(),
        workloads=(*world().workloads, deployment("db", 1)),
        pods=(*world().pods, pod("db-a", "n0")),
    )
    [f] = [x for x in codes(solo)["RISK-SINGLE-REPLICA"] if x.obj.name == "db"]
    assert f.risk and f.obj.ref == "default/deployment/db"
    # The DNS finding says it better than the generic single-replica risk.
    assert not [x for x in codes(solo)["RISK-SINGLE-REPLICA"] if x.obj.name == "coredns"]


def test_every_code_a_rule_emits_is_in_the_table():
    source = Path(__file__).resolve().parents[1] / "cockpit" / "triage"
    emitted = set()
    for path in source.glob("*.py"):
        for n in ast.walk(ast.parse(path.read_text())):
            if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Finding" and n.args:
                first = n.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    emitted.add(first.value)
    emitted |= {"NODE-MEMORY-PRESSURE", "NODE-DISK-PRESSURE", "NODE-PID-PRESSURE"}
    assert emitted and emitted <= set(CODES), emitted - set(CODES)


def test_triage_imports_only_what_sits_below_it():
    allowed = (
        "cockpit.model",
        "cockpit.units",
        "cockpit.topology",
        "cockpit.alloc",
        "cockpit.sources.health",
        "cockpit.triage",
    )
    source = Path(__file__).resolve().parents[1] / "cockpit" / "triage"
    for path in source.glob("*.py"):
        for n in ast.walk(ast.parse(path.read_text())):
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("cockpit"):
                assert n.module.startswith(allowed), f"{path.name} imports {n.module}"
    code = (
        "import sys, cockpit.triage.findings, cockpit.triage.incidents, cockpit.triage.timeline\n"
        "heavy = ('textual', 'rich', 'kubernetes')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
