"""The HA analysis (cockpit.alloc.ha) on lab files: how many replicas each kube-system
Deployment should run, and what scaling alone does not give, for the physical layouts a
homelab has: one node, VMs of one box, two boxes, two sites, and the shipped labs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cockpit import labfile
from cockpit.alloc.ha import analyse, infer_distro
from cockpit.model import Backing, Pdb
from cockpit.topology import Links


def lab(hosts: list[tuple[str, str]], nodes: list[tuple[str, str]], extra: str = "") -> str:
    """A k3s lab: hosts as (name, site); nodes as (name, host). A node whose host name starts
    with "pve" is a VM on it, any other is the host itself (bare metal)."""
    sites = sorted({site for _, site in hosts})
    text = '[lab]\nname = "t"\ndistro = "k3s"\n'
    for site in sites:
        text += f'[sites.{site}]\ndescription = "{site}"\n'
    for name, site in hosts:
        text += (
            f'[[hosts]]\nname = "{name}"\ncores = 8\nmemory = "32G"\ndisk = "1T"\nsite = "{site}"\n'
        )
    vmid = 100
    for name, host in nodes:
        if host.startswith("pve"):
            text += (
                f'[[guests]]\nvmid = {vmid}\nname = "{name}"\nhost = "{host}"\nvcpus = 4\n'
                f'memory = "8G"\n[[nodes]]\nname = "{name}"\nguest = {vmid}\n'
            )
            vmid += 1
        else:
            text += f'[[nodes]]\nname = "{name}"\nhost = "{host}"\n'
    return text + extra


def kinds(report, name: str) -> set[str]:
    return report.deployment(name).kinds()


def texts(report, name: str, kind: str) -> list[str]:
    return [f.text for f in report.deployment(name).findings if f.kind == kind]


def test_single_node_scaling_gives_nothing():
    report = analyse(labfile.loads(lab([("box", "home")], [("box", "box")])).snapshot)
    for d in report.deployments:
        assert d.proposed == d.current == 1, d.name
    assert "single-node" in kinds(report, "coredns")
    assert "only box can run coredns" in texts(report, "coredns", "single-node")[0]
    assert "single-node" in {n.kind for n in report.notes}
    assert not report.changing


def test_two_vms_of_one_box():
    text = lab([("pve", "home")], [("vm-a", "pve"), ("vm-b", "pve")])
    report = analyse(labfile.loads(text).snapshot)
    dns = report.deployment("coredns")
    assert (dns.current, dns.proposed) == (1, 2)
    assert sorted(p.node for p in dns.placement) == ["vm-a", "vm-b"]  # spread kept them apart
    [same_box] = texts(report, "coredns", "same-box")
    assert same_box.startswith("both coredns replicas would sit on VMs of the same box pve")
    assert "needs a second machine" in same_box
    assert "same-box" in {n.kind for n in report.notes}
    # CoreDNS spreads on the hostname; traefik has nothing that keeps its replicas apart.
    assert "no-spread" not in kinds(report, "coredns")
    assert "no-spread" in kinds(report, "traefik")
    assert {"no-pdb", "k3s"} <= kinds(report, "coredns")


def test_two_boxes_at_one_site():
    text = lab([("a", "home"), ("b", "home")], [("a", "a"), ("b", "b")])
    report = analyse(labfile.loads(text).snapshot)
    dns = report.deployment("coredns")
    assert (dns.current, dns.proposed) == (1, 2)
    assert {p.node for p in dns.placement} == {"a", "b"}
    assert "same-box" not in kinds(report, "coredns")
    assert "one-site" not in kinds(report, "coredns")  # nothing else to spread to
    assert "one-site" in {n.kind for n in report.notes}
    assert "same-box" not in {n.kind for n in report.notes}


def test_two_sites():
    text = lab([("a", "home"), ("b", "away")], [("a", "a"), ("b", "b")])
    report = analyse(labfile.loads(text).snapshot)
    assert "one-site" not in {n.kind for n in report.notes}
    dns = report.deployment("coredns")
    assert {p.node for p in dns.placement} == {"a", "b"}
    assert not {"one-site", "same-box"} & kinds(report, "coredns")


def test_three_boxes_get_three_replicas_and_metrics_server_two():
    text = lab([("a", "x"), ("b", "y"), ("c", "z")], [("a", "a"), ("b", "b"), ("c", "c")])
    report = analyse(labfile.loads(text).snapshot)
    dns = report.deployment("coredns")
    assert dns.proposed == 3
    assert sorted(p.node for p in dns.placement) == ["a", "b", "c"]
    assert report.deployment("metrics-server").proposed == 2
    assert "metrics-server" in kinds(report, "metrics-server")


def test_three_vms_on_two_boxes_get_two():
    text = lab([("pve1", "h"), ("pve2", "h")], [("v1", "pve1"), ("v2", "pve1"), ("v3", "pve2")])
    report = analyse(labfile.loads(text).snapshot)
    assert report.deployment("coredns").proposed == 2


def test_singletons_keep_their_count():
    extra = """
[[workloads]]
name = "gitea"
namespace = "kube-system"
volumes = ["persistentVolumeClaim"]
requests = { cpu = "100m", memory = "128Mi" }

[[workloads]]
name = "one-at-a-time"
namespace = "kube-system"
requests = { cpu = "100m", memory = "128Mi" }
"""
    text = lab([("a", "x"), ("b", "y")], [("a", "a"), ("b", "b")], extra)
    report = analyse(labfile.loads(text).snapshot, strategies={"one-at-a-time": "Recreate"})
    for name, why in (
        ("gitea", "PersistentVolumeClaim"),
        ("one-at-a-time", "Recreate"),
        ("local-path-provisioner", "leader election"),
    ):
        d = report.deployment(name)
        assert d.proposed == d.current == 1, name
        assert why in texts(report, name, "singleton")[0]
    assert report.deployment("coredns").proposed == 2


def test_never_proposes_more_than_fits():
    # The second box is too small for another CoreDNS (70Mi requested).
    text = lab([("a", "x"), ("b", "y")], [("a", "a"), ("b", "b")])
    text = text.replace('name = "b"\nhost = "b"\n', 'name = "b"\nhost = "b"\nmemory = "150Mi"\n')
    snap = labfile.loads(text).snapshot
    assert next(p.node for p in snap.pods if p.name.startswith("coredns-")) == "a"
    report = analyse(snap)
    dns = report.deployment("coredns")
    assert dns.eligible_nodes == ("a", "b")  # b may run it, but has no room
    assert (dns.current, dns.proposed) == (1, 1)
    assert not dns.new_nodes
    assert "have room for a replica (a): proposing 1" in texts(report, "coredns", "no-fit")[0]


def test_cordoned_and_not_ready_nodes_do_not_count():
    text = lab([("a", "x"), ("b", "y"), ("c", "z")], [("a", "a"), ("b", "b"), ("c", "c")])
    snap = labfile.loads(text).snapshot
    nodes = tuple(
        replace(n, unschedulable=True)
        if n.name == "b"
        else replace(n, conditions={"Ready": "Unknown"})
        if n.name == "c"
        else n
        for n in snap.nodes
    )
    report = analyse(replace(snap, nodes=nodes))
    dns = report.deployment("coredns")
    assert dns.eligible_nodes == ("a",)
    assert dns.proposed == dns.current
    assert "single-node" in kinds(report, "coredns")


def test_links_decide_the_physical_box():
    # Two bare-metal nodes in the lab file, but the links say both are VMs of one box.
    text = lab([("a", "x"), ("b", "y")], [("a", "a"), ("b", "b")])
    snap = labfile.loads(text).snapshot
    assert "same-box" not in kinds(analyse(snap), "coredns")
    links = Links(backing={"a": Backing("bigbox", 100), "b": Backing("bigbox", 101)})
    report = analyse(snap, links)
    [same_box] = texts(report, "coredns", "same-box")
    assert "VMs of the same box bigbox" in same_box


def test_a_pdb_that_allows_nothing_is_flagged():
    text = lab([("a", "x"), ("b", "y")], [("a", "a"), ("b", "b")])
    snap = labfile.loads(text).snapshot
    dns = next(w for w in snap.workloads if w.name == "coredns")
    strict = Pdb("kube-system", "coredns-pdb", dns.selector, min_available=2)
    report = analyse(replace(snap, pdbs=(strict,)))
    assert "no-pdb" not in kinds(report, "coredns")
    assert "allows no disruption at 2" in texts(report, "coredns", "pdb-blocks")[0]
    assert report.deployment("coredns").pdbs == (strict,)


def test_n100_every_replica_on_pve():
    report = analyse(labfile.load("n100").snapshot)
    assert report.distro == "k3s"
    # Three nodes, all VMs of one box: 2 where it can scale, and each says so.
    for d in report.changing:
        assert d.proposed == 2
        assert "same-box" in d.kinds(), d.name
    assert {d.name for d in report.changing} == {"coredns", "metrics-server", "traefik"}
    assert "traefik is a k3s HelmChart" in texts(report, "traefik", "k3s")[0]
    assert "HelmChartConfig" in texts(report, "traefik", "k3s")[0]
    # In apps, flutter-web's two replicas are both on worker-2 already.
    apps = analyse(labfile.load("n100").snapshot, namespace="apps")
    assert texts(apps, "flutter-web", "same-node")[0].startswith(
        "both flutter-web replicas would sit on node worker-2"
    )


def test_tailnet_same_box_exactly_when_two_replicas_share_friend_pve():
    planned = labfile.load("tailnet")
    report = analyse(planned.snapshot)
    host_of = {n: b.host for n, b in planned.snapshot.backing.items()}
    assert report.deployment("coredns").proposed == 3  # 5 nodes on 4 boxes
    for d in report.deployments:
        boxes = [host_of[p.node] for p in d.placement]
        shared = len(boxes) >= 2 and any(boxes.count(b) >= 2 for b in set(boxes))
        assert ("same-box" in d.kinds()) == shared, d.name
    # The only CoreDNS runs on x86-vm-2 and the other VM is the roomiest node left, so the
    # scheduler puts a new replica there: two of three on the friend's one computer.
    [same_box] = texts(report, "coredns", "same-box")
    assert same_box.startswith("2 of 3 coredns replicas would sit on VMs of the same box")
    assert "friend-pve (x86-vm-1, x86-vm-2): losing friend-pve leaves 1" in same_box
    assert "spread on topology.kubernetes.io/zone" in same_box


@pytest.mark.parametrize(
    ("name", "distro"),
    [("n100", "k3s"), ("tailnet", "k3s"), ("arm-cloud", "k3s"), ("xeon", "kubeadm")],
)
def test_distro_inferred_from_what_it_leaves_behind(name, distro):
    planned = labfile.load(name)
    assert planned.distro == distro  # what the lab file says
    assert infer_distro(planned.snapshot)[0] == distro  # what the cluster shows


def test_distro_unknown_without_marks_and_from_the_server_version():
    text = lab([("a", "x")], [("a", "a")]).replace('distro = "k3s"', 'distro = "none"')
    snap = labfile.loads(text).snapshot
    assert infer_distro(snap)[0] == "unknown"
    distro, evidence = infer_distro(snap, "v1.31.4+k3s1")
    assert distro == "k3s" and "v1.31.4+k3s1" in evidence
    # Given explicitly, it is not inferred.
    assert analyse(snap, distro="kubeadm").distro == "kubeadm"
