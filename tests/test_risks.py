from dataclasses import replace

import pytest
from builders import deployment, node, pod, res, snapshot

from cockpit import labfile
from cockpit.alloc.risks import (
    IMAGE_ARCHS_ANNOTATION,
    RISK_CODES,
    Risk,
    find_risks,
    required_archs,
)
from cockpit.model import (
    Backing,
    Container,
    Host,
    LabelSelector,
    Node,
    OwnerRef,
    Pdb,
    Pod,
    Requirement,
    Resources,
    Snapshot,
    Workload,
)

GI = 2**30
MI = 2**20
ARCH = "kubernetes.io/arch"


def risks(snap: Snapshot, code: str) -> list[Risk]:
    return [r for r in find_risks(snap) if r.code == code]


def by_subject(snap: Snapshot, code: str) -> dict[str, Risk]:
    found = risks(snap, code)
    subjects = {r.subject: r for r in found}
    assert len(subjects) == len(found), "one risk per subject"
    return subjects


def replicas(
    name: str, nodes: list[str | None], namespace: str = "default", **kw
) -> tuple[Workload, list[Pod]]:
    """A Deployment with one pod per entry of `nodes` (None: Pending)."""
    pods = [pod(f"{name}-{i}", n, namespace=namespace, app=name, **kw) for i, n in enumerate(nodes)]
    return deployment(name, len(nodes), namespace), pods


def statefulset(name: str, count: int, namespace: str = "default") -> Workload:
    return Workload("StatefulSet", namespace, name, count, LabelSelector({"app": name}))


def hosted(hosts: dict[str, tuple[str, list[str]]]) -> dict:
    """Hosts {name: (site, [node names])} as the hosts/nodes/backing of a Snapshot."""
    host_records, nodes, backing = [], [], {}
    vmid = 100
    for name, (site, node_names) in hosts.items():
        host_records.append(Host(name, cores=4, threads=8, memory=32 * GI, disk=0, site=site))
        for n in node_names:
            nodes.append(node(n))
            backing[n] = Backing(name, vmid)
            vmid += 1
    return {"hosts": tuple(host_records), "nodes": nodes, "backing": backing}


# --- the catalogue and the ordering ---------------------------------------------------------


def test_every_code_has_a_one_line_description():
    assert len(RISK_CODES) == 12
    for code, text in RISK_CODES.items():
        assert code == code.lower() and " " not in code
        assert text and "\n" not in text


def test_empty_snapshot_has_no_risks():
    assert find_risks(Snapshot()) == []


def test_sorted_by_severity_then_code_then_subject():
    dns = replace(deployment("coredns", 1, "kube-system"), labels={"k8s-app": "kube-dns"})
    snap = snapshot(
        nodes=[node("a"), node("cp", labels={"node-role.kubernetes.io/control-plane": "true"})],
        pods=[
            pod(n, "a", namespace=ns, limits=res("100m", "128Mi"))
            for ns, n in [
                ("kube-system", "coredns-1"),
                ("default", "zeta-1"),
                ("default", "alpha-1"),
            ]
        ],
        workloads=[deployment("zeta", 1), dns, deployment("alpha", 1)],
    )
    found = find_risks(snap)
    keys = [(r.severity, r.code, r.subject) for r in found]
    assert keys == [
        ("critical", "single-replica", "kube-system/deployment/coredns"),
        ("warning", "single-replica", "default/deployment/alpha"),
        ("warning", "single-replica", "default/deployment/zeta"),
        ("info", "single-control-plane", "node cp"),
    ]
    assert all(r.code in RISK_CODES for r in found)


# --- single-replica -------------------------------------------------------------------------


def test_single_replica_user_workload_is_a_warning_naming_its_node():
    snap = snapshot(nodes=[node("w1")], pods=[pod("web-1", "w1")], workloads=[deployment("web", 1)])
    (risk,) = risks(snap, "single-replica")
    assert (risk.severity, risk.subject) == ("warning", "default/deployment/web")
    assert "w1" in risk.message
    assert "kubectl -n default scale deployment/web --replicas=2" in risk.fix


def test_single_replica_in_kube_system_is_critical():
    snap = snapshot(workloads=[deployment("metrics-server", 1, "kube-system")])
    (risk,) = risks(snap, "single-replica")
    assert risk.severity == "critical"


@pytest.mark.parametrize(
    "workload",
    [
        deployment("coredns", 1, "dns"),
        replace(deployment("resolver", 1, "infra"), labels={"k8s-app": "kube-dns"}),
        Workload("Deployment", "infra", "resolver", 1, LabelSelector({"k8s-app": "kube-dns"})),
    ],
)
def test_single_replica_dns_is_critical_in_any_namespace(workload):
    (risk,) = risks(snapshot(workloads=[workload]), "single-replica")
    assert risk.severity == "critical"
    assert "name resolution" in risk.message
    assert "--disable=coredns" in risk.fix


def test_single_replica_skips_scaled_down_daemonsets_and_multi_replica():
    snap = snapshot(
        workloads=[
            deployment("parked", 0),
            Workload("DaemonSet", "default", "agent", 1, LabelSelector({"app": "agent"})),
            deployment("web", 3),
        ]
    )
    assert risks(snap, "single-replica") == []


def test_single_replica_statefulset_fix_is_about_replication():
    (risk,) = risks(snapshot(workloads=[statefulset("postgres", 1)]), "single-replica")
    assert risk.subject == "default/statefulset/postgres"
    assert "replicat" in risk.fix


# --- replicas-one-node ----------------------------------------------------------------------


def test_replicas_all_on_one_node():
    w, pods = replicas("web", ["w2", "w2"])
    snap = snapshot(nodes=[node("w1"), node("w2")], pods=pods, workloads=[w])
    (risk,) = risks(snap, "replicas-one-node")
    assert (risk.severity, risk.subject) == ("warning", "default/deployment/web")
    assert "Both" in risk.message and "w2" in risk.message
    assert "topologySpreadConstraint" in risk.fix


def test_replicas_one_node_in_kube_system_is_critical():
    w, pods = replicas("dns", ["w1", "w1", "w1"], namespace="kube-system")
    snap = snapshot(nodes=[node("w1")], pods=pods, workloads=[w])
    (risk,) = risks(snap, "replicas-one-node")
    assert risk.severity == "critical"
    assert "All 3" in risk.message


def test_replicas_on_two_nodes_or_single_replica_are_not_one_node():
    w, pods = replicas("web", ["w1", "w2"])
    single = deployment("solo", 1)
    snap = snapshot(
        nodes=[node("w1"), node("w2")], pods=[*pods, pod("solo-1", "w1")], workloads=[w, single]
    )
    assert risks(snap, "replicas-one-node") == []


def test_replicas_one_node_ignores_pending_and_finished_pods():
    w, pods = replicas("web", ["w1", None])
    done = pod("web-9", "w2", app="web", phase="Succeeded")
    snap = snapshot(nodes=[node("w1"), node("w2")], pods=[*pods, done], workloads=[w])
    (risk,) = risks(snap, "replicas-one-node")
    assert "1 of 2" in risk.message


# --- replicas-one-host ----------------------------------------------------------------------


def test_replicas_on_vms_of_one_host_warn_when_another_host_could_help():
    lab = hosted({"pve1": ("", ["a1", "a2"]), "pve2": ("", ["b1"])})
    w, pods = replicas("web", ["a1", "a2"])
    snap = snapshot(pods=pods, workloads=[w], **lab)
    (risk,) = risks(snap, "replicas-one-host")
    assert (risk.severity, risk.subject) == ("warning", "default/deployment/web")
    assert "pve1" in risk.message and "a1, a2" in risk.message
    assert "pve2" in risk.fix


def test_replicas_one_host_is_info_when_the_whole_cluster_is_one_host():
    lab = hosted({"pve": ("", ["w1", "w2"])})
    w, pods = replicas("web", ["w1", "w2"])
    (risk,) = risks(snapshot(pods=pods, workloads=[w], **lab), "replicas-one-host")
    assert risk.severity == "info"
    assert "whole cluster" in risk.message


def test_replicas_one_host_does_not_repeat_one_node():
    lab = hosted({"pve1": ("", ["a1", "a2"]), "pve2": ("", ["b1"])})
    w, pods = replicas("web", ["a1", "a1"])
    snap = snapshot(pods=pods, workloads=[w], **lab)
    assert len(risks(snap, "replicas-one-node")) == 1
    assert risks(snap, "replicas-one-host") == []


def test_replicas_one_host_needs_known_hosts_and_one_host():
    lab = hosted({"pve1": ("", ["a1"]), "pve2": ("", ["b1"])})
    spread, spread_pods = replicas("web", ["a1", "b1"])
    unknown, unknown_pods = replicas("api", ["a1", "bare"])
    snap = snapshot(
        pods=[*spread_pods, *unknown_pods],
        workloads=[spread, unknown],
        **{**lab, "nodes": [*lab["nodes"], node("bare")]},
    )
    assert risks(snap, "replicas-one-host") == []


# --- replicas-one-site ----------------------------------------------------------------------


def test_replicas_on_hosts_of_one_site_warn_when_there_is_another_site():
    lab = hosted({"pve1": ("home", ["a1"]), "pve2": ("home", ["b1"]), "vps": ("cloud", ["c1"])})
    w, pods = replicas("web", ["a1", "b1"])
    snap = snapshot(pods=pods, workloads=[w], **lab)
    (risk,) = risks(snap, "replicas-one-site")
    assert (risk.severity, risk.subject) == ("warning", "default/deployment/web")
    assert "home" in risk.message and "pve1, pve2" in risk.message
    assert "cloud" in risk.fix


def test_replicas_one_site_quiet_for_spread_sites_single_site_labs_and_one_host():
    two_sites = hosted({"pve1": ("home", ["a1", "a2"]), "vps": ("cloud", ["c1"])})
    spread, spread_pods = replicas("web", ["a1", "c1"])
    one_host, one_host_pods = replicas("api", ["a1", "a2"])
    snap = snapshot(pods=[*spread_pods, *one_host_pods], workloads=[spread, one_host], **two_sites)
    assert risks(snap, "replicas-one-site") == []
    assert [r.subject for r in risks(snap, "replicas-one-host")] == ["default/deployment/api"]

    one_site = hosted({"pve1": ("home", ["a1"]), "pve2": ("home", ["b1"])})
    w, pods = replicas("web", ["a1", "b1"])
    assert risks(snapshot(pods=pods, workloads=[w], **one_site), "replicas-one-site") == []


def test_replicas_one_site_uses_zone_labels_without_backing():
    zone = "topology.kubernetes.io/zone"
    nodes = [
        node("n1", labels={zone: "eu-1a"}),
        node("n2", labels={zone: "eu-1a"}),
        node("n3", labels={zone: "eu-1b"}),
    ]
    w, pods = replicas("web", ["n1", "n2"])
    (risk,) = risks(snapshot(nodes=nodes, pods=pods, workloads=[w]), "replicas-one-site")
    assert "eu-1a" in risk.message and "n1, n2" in risk.message


# --- no-pdb ---------------------------------------------------------------------------------


def test_no_pdb_for_multi_replica_workload():
    w, pods = replicas("web", ["w1", "w2"])
    (risk,) = risks(snapshot(pods=pods, workloads=[w]), "no-pdb")
    assert (risk.severity, risk.subject) == ("warning", "default/deployment/web")
    assert risk.fix == (
        "kubectl -n default create poddisruptionbudget web --selector=app=web --max-unavailable=1"
    )


def test_no_pdb_quiet_when_a_pdb_in_the_namespace_matches():
    w, pods = replicas("web", ["w1", "w2"])
    api, api_pods = replicas("api", ["w1", "w2"])
    pdbs = (
        Pdb("default", "web", LabelSelector({"app": "web"}), max_unavailable=1),
        Pdb(
            "default",
            "api",
            LabelSelector(match_expressions=(Requirement("app", "In", ("api", "other")),)),
            min_available=1,
        ),
    )
    snap = snapshot(pods=[*pods, *api_pods], workloads=[w, api], pdbs=pdbs)
    assert risks(snap, "no-pdb") == []


def test_no_pdb_ignores_pdbs_of_other_namespaces_and_single_replicas():
    w, pods = replicas("web", ["w1", "w2"])
    elsewhere = Pdb("other", "web", LabelSelector({"app": "web"}), max_unavailable=1)
    snap = snapshot(pods=pods, workloads=[w, deployment("solo", 1)], pdbs=(elsewhere,))
    assert [r.subject for r in risks(snap, "no-pdb")] == ["default/deployment/web"]


def test_no_pdb_uses_the_selector_when_no_pod_exists_and_is_info_in_kube_system():
    covered = deployment("web", 2)
    system = deployment("dns", 2, "kube-system")
    pdb = Pdb("default", "web", LabelSelector({"app": "web"}), max_unavailable=1)
    found = by_subject(snapshot(workloads=[covered, system], pdbs=(pdb,)), "no-pdb")
    assert list(found) == ["kube-system/deployment/dns"]
    assert found["kube-system/deployment/dns"].severity == "info"


# --- pdb-blocks-drain -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "budget",
    [
        {"min_available": 2},
        {"min_available": 3},
        {"max_unavailable": 0},
        {"min_available": "100%"},
        {"max_unavailable": "0%"},
    ],
)
def test_pdb_that_allows_no_disruption_blocks_drain(budget):
    w, pods = replicas("web", ["w1", "w2"])
    pdb = Pdb("default", "web-pdb", LabelSelector({"app": "web"}), **budget)
    (risk,) = risks(snapshot(pods=pods, workloads=[w], pdbs=(pdb,)), "pdb-blocks-drain")
    assert (risk.severity, risk.subject) == ("warning", "default/pdb/web-pdb")
    assert "2 pods" in risk.message and "drain" in risk.message


@pytest.mark.parametrize(
    "budget",
    [
        {"min_available": 1},
        {"max_unavailable": 1},
        {"min_available": "50%"},
    ],
)
def test_pdb_with_room_does_not_block(budget):
    w, pods = replicas("web", ["w1", "w2"])
    pdb = Pdb("default", "web-pdb", LabelSelector({"app": "web"}), **budget)
    assert risks(snapshot(pods=pods, workloads=[w], pdbs=(pdb,)), "pdb-blocks-drain") == []


def test_pdb_counts_only_live_pods_of_its_namespace():
    w, pods = replicas("web", ["w1", "w2"])
    other = pod("web-x", "w1", namespace="other", app="web")
    finished = pod("web-y", "w1", app="web", phase="Succeeded")
    empty = Pdb("default", "nothing", LabelSelector({"app": "ghost"}), min_available=1)
    pdb = Pdb("default", "web-pdb", LabelSelector({"app": "web"}), min_available=2)
    snap = snapshot(pods=[*pods, other, finished], workloads=[w], pdbs=(pdb, empty))
    (risk,) = risks(snap, "pdb-blocks-drain")
    assert risk.subject == "default/pdb/web-pdb"
    assert "2 healthy of the 2 pods" in risk.message


# --- best-effort ----------------------------------------------------------------------------


def test_best_effort_is_one_risk_per_workload_and_per_bare_pod():
    w, pods = replicas("web", ["w1", "w2"], cpu=None, memory=None)
    bare = pod("debug", "w1", cpu=None, memory=None, owner=None)
    sized = pod("api-1", "w1")
    snap = snapshot(pods=[*pods, bare, sized], workloads=[w, deployment("api", 1)])
    found = by_subject(snap, "best-effort")
    assert set(found) == {"default/deployment/web", "pod default/debug"}
    assert found["default/deployment/web"].severity == "warning"
    assert found["default/deployment/web"].message.startswith("2 pods of default/deployment/web")
    assert found["pod default/debug"].message.startswith("pod default/debug runs BestEffort")


def test_best_effort_in_kube_system_is_info():
    agent = pod(
        "agent-x", "w1", cpu=None, memory=None, namespace="kube-system", owner="DaemonSet/agent"
    )
    (risk,) = risks(snapshot(pods=[agent]), "best-effort")
    assert (risk.severity, risk.subject) == ("info", "kube-system/daemonset/agent")


def test_mirror_pods_count_as_bare_pods():
    mirrors = [
        replace(
            pod(f"etcd-cp{i}", f"cp{i}", cpu=None, memory=None, namespace="ops", owner=None),
            owner=OwnerRef("Node", f"cp{i}"),
            annotations={"kubernetes.io/config.mirror": "x"},
        )
        for i in range(2)
    ]
    found = by_subject(snapshot(pods=mirrors), "best-effort")
    assert set(found) == {"pod ops/etcd-cp0", "pod ops/etcd-cp1"}


# --- no-memory-limit ------------------------------------------------------------------------


def test_no_memory_limit_names_the_containers():
    p = replace(
        pod("web-1", "w1"),
        containers=(
            Container("app", requests=res("100m", "256Mi")),
            Container("proxy", requests=res("10m", "32Mi"), limits=res(None, "64Mi")),
        ),
    )
    (risk,) = risks(snapshot(pods=[p], workloads=[deployment("web", 1)]), "no-memory-limit")
    assert (risk.severity, risk.subject) == ("info", "default/deployment/web")
    assert "container app " in risk.message and "proxy" not in risk.message


def test_no_memory_limit_skips_kube_system_and_limited_pods():
    system = pod("dns-1", "w1", namespace="kube-system")
    limited = pod("web-1", "w1", limits=res("1", "512Mi"))
    assert risks(snapshot(pods=[system, limited]), "no-memory-limit") == []


# --- limits-far-above-requests --------------------------------------------------------------


def test_memory_limit_over_4x_request_is_a_warning():
    p = pod("web-1", "w1", cpu="100m", memory="256Mi", limits=res("200m", "2Gi"))
    (risk,) = risks(snapshot(pods=[p]), "limits-far-above-requests")
    assert (risk.severity, risk.subject) == ("warning", "default/deployment/web")
    assert "2.0 GiB" in risk.message and "8.0x" in risk.message and "256.0 MiB" in risk.message


def test_cpu_limit_over_10x_request_alone_is_info():
    p = pod("web-1", "w1", cpu="100m", memory="256Mi", limits=res("2", "512Mi"))
    (risk,) = risks(snapshot(pods=[p]), "limits-far-above-requests")
    assert risk.severity == "info"
    assert "CPU limit of 2 is 20.0x its 100m request" in risk.message


def test_limits_within_the_checklist_are_fine():
    pods = [
        pod("a-1", "w1", cpu="100m", memory="256Mi", limits=res("1", "1Gi")),
        pod("b-1", "w1", cpu="100m", memory=None, limits=res(None, "1Gi")),
        pod("c-1", "w1", cpu="100m", memory="256Mi"),
    ]
    assert risks(snapshot(pods=pods), "limits-far-above-requests") == []


# --- arch-mismatch --------------------------------------------------------------------------


def amd64_only(p: Pod) -> Pod:
    return replace(p, annotations={IMAGE_ARCHS_ANNOTATION: "amd64"})


def test_pod_on_a_node_its_images_cannot_run_on():
    nodes = [node("pi1", arch="arm64"), node("x1")]
    pods = [amd64_only(pod("web-1", "pi1")), amd64_only(pod("web-2", "x1"))]
    (risk,) = risks(
        snapshot(nodes=nodes, pods=pods, workloads=[deployment("web", 2)]), "arch-mismatch"
    )
    assert (risk.severity, risk.subject) == ("critical", "default/deployment/web")
    assert risk.message.startswith("1 pod of default/deployment/web runs on arm64 node pi1")
    assert f"{ARCH}=amd64" in risk.fix


def test_multi_arch_images_unannotated_and_pending_pods_are_fine():
    nodes = [node("pi1", arch="arm64")]
    multi = replace(pod("a-1", "pi1"), annotations={IMAGE_ARCHS_ANNOTATION: "amd64, arm64"})
    plain = pod("b-1", "pi1")
    pending = amd64_only(pod("c-1", None))
    unknown = amd64_only(pod("d-1", "ghost"))
    snap = snapshot(nodes=nodes, pods=[multi, plain, pending, unknown])
    assert risks(snap, "arch-mismatch") == []


def test_arch_selector_no_node_satisfies_is_critical():
    nodes = [node("x1"), node("pi1", arch="arm64")]
    want = pod("web-1", None, node_selector={ARCH: "riscv64"})
    (risk,) = risks(snapshot(nodes=nodes, pods=[want]), "arch-mismatch")
    assert risk.severity == "critical"
    assert "riscv64" in risk.message and "amd64, arm64" in risk.message
    assert "never be scheduled" in risk.message


def test_arch_affinity_counts_only_when_every_term_limits_arch():
    nodes = [node("x1")]
    impossible = pod(
        "a-1",
        None,
        node_affinity=(
            (Requirement(ARCH, "In", ("arm64",)),),
            (Requirement(ARCH, "In", ("s390x",)),),
        ),
    )
    open_term = pod(
        "b-1",
        None,
        node_affinity=(
            (Requirement(ARCH, "In", ("arm64",)),),
            (Requirement("disk", "In", ("ssd",)),),
        ),
    )
    found = by_subject(snapshot(nodes=nodes, pods=[impossible, open_term]), "arch-mismatch")
    assert list(found) == ["default/deployment/a"]
    assert required_archs(impossible) == frozenset({"arm64", "s390x"})
    assert required_archs(open_term) is None


def test_arch_rules_need_node_arch_labels():
    unlabelled = Node("n1", labels={})
    want = pod("web-1", None, node_selector={ARCH: "arm64"})
    assert risks(snapshot(nodes=[unlabelled], pods=[want]), "arch-mismatch") == []


# --- unschedulable-pending ------------------------------------------------------------------


def test_pending_pods_are_counted_per_workload():
    w, pods = replicas("web", [None, None, None, "w1"])
    bare = pod("debug", None, owner=None)
    found = by_subject(snapshot(pods=[*pods, bare], workloads=[w]), "unschedulable-pending")
    assert set(found) == {"default/deployment/web", "pod default/debug"}
    web = found["default/deployment/web"]
    assert web.severity == "warning"
    assert web.message.startswith("3 pods of default/deployment/web are Pending")
    assert "describe pod web-0" in web.fix
    assert found["pod default/debug"].message.startswith("pod default/debug is Pending")


def test_bound_pending_and_failed_pods_are_not_unschedulable():
    pods = [pod("a-1", "w1", phase="Pending"), pod("b-1", None, phase="Failed")]
    assert risks(snapshot(pods=pods), "unschedulable-pending") == []


# --- single-control-plane -------------------------------------------------------------------


@pytest.mark.parametrize(
    "label", ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"]
)
def test_single_control_plane(label):
    nodes = [node("cp", labels={label: ""}), node("w1")]
    (risk,) = risks(snapshot(nodes=nodes), "single-control-plane")
    assert (risk.severity, risk.subject) == ("info", "node cp")
    assert "stops every change" in risk.message


def test_three_or_no_control_plane_nodes_are_fine():
    label = {"node-role.kubernetes.io/control-plane": "true"}
    ha = [node(f"cp{i}", labels=label) for i in range(3)]
    assert risks(snapshot(nodes=ha), "single-control-plane") == []
    assert risks(snapshot(nodes=[node("w1")]), "single-control-plane") == []


# --- the seed lab and scale -----------------------------------------------------------------


def test_n100_lab():
    found = find_risks(labfile.load("n100").snapshot)
    codes = {(r.code, r.subject): r for r in found}
    dns = codes[("single-replica", "kube-system/deployment/coredns")]
    assert dns.severity == "critical" and found[0] == dns
    flutter = codes[("replicas-one-node", "apps/deployment/flutter-web")]
    assert flutter.severity == "warning" and "worker-2" in flutter.message
    assert codes[("no-pdb", "apps/deployment/flutter-web")].severity == "warning"
    assert ("no-pdb", "apps/deployment/django-api") not in codes  # it has a PDB
    django = codes[("replicas-one-host", "apps/deployment/django-api")]
    assert django.severity == "info" and "pve" in django.message
    assert codes[("single-control-plane", "node k3s-master")].severity == "info"
    assert not [
        r for r in found if r.code in ("arch-mismatch", "unschedulable-pending", "pdb-blocks-drain")
    ]


def synthetic(nodes: int = 200, workloads: int = 2000, per: int = 5) -> Snapshot:
    """`workloads` Deployments of `per` pods over 20 namespaces; every tenth one has all
    its pods on one node, every even one has a PDB."""
    hosts = tuple(
        Host(f"pve{h}", cores=16, threads=32, memory=128 * GI, disk=0, site=f"site{h % 2}")
        for h in range(nodes // 4)
    )
    node_list = tuple(node(f"n{i}", "32", "64Gi") for i in range(nodes))
    backing = {f"n{i}": Backing(f"pve{i // 4}", 100 + i) for i in range(nodes)}
    container = (
        Container("main", requests=Resources(100, 128 * MI), limits=Resources(500, 256 * MI)),
    )
    pods, wls, pdbs = [], [], []
    for w in range(workloads):
        ns, name = f"ns{w % 20}", f"app{w}"
        wls.append(Workload("Deployment", ns, name, per, LabelSelector({"app": name})))
        if w % 2 == 0:
            pdbs.append(Pdb(ns, name, LabelSelector({"app": name}), max_unavailable=1))
        for j in range(per):
            target = w % nodes if w % 10 == 0 else (w * per + j * 41) % nodes
            pods.append(
                Pod(
                    ns,
                    f"{name}-h-{j}",
                    node=f"n{target}",
                    labels={"app": name, "pod-template-hash": "h"},
                    containers=container,
                    owner=OwnerRef("ReplicaSet", f"{name}-h"),
                )
            )
    return Snapshot(
        hosts=hosts,
        nodes=node_list,
        pods=tuple(pods),
        workloads=tuple(wls),
        pdbs=tuple(pdbs),
        backing=backing,
    )


def test_ten_thousand_pods_stay_cheap():
    snap = synthetic()
    assert len(snap.pods) == 10_000
    found = find_risks(snap)
    count = {code: sum(1 for r in found if r.code == code) for code in RISK_CODES}
    assert count["replicas-one-node"] == 200
    assert count["no-pdb"] == 1000
    assert count["pdb-blocks-drain"] == 0
