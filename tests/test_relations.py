"""Which objects light up together across hosts, guests, nodes, pods and peers."""

from __future__ import annotations

import pytest

from cockpit import labfile, topology
from cockpit.model import Backing, Guest, Host, Node, Peer, Pod, Snapshot
from cockpit.relations import Relations, relatives


def _linked(name: str):
    snap = labfile.load(name).snapshot
    # The lab's planned backing is the truth; lab nodes carry no providerID to infer it from.
    links = topology.link(snap.nodes, snap.guests, snap.hosts, snap.peers, snap.backing)
    return snap, links


@pytest.fixture(scope="module")
def n100():
    return _linked("n100")


@pytest.fixture(scope="module")
def tailnet():
    return _linked("tailnet")


def test_a_host_relates_everything_it_carries(n100):
    snap, links = n100
    rel = relatives(snap, links, ("host", "pve"))
    assert rel["host"] == {"pve"}
    assert rel["guest"] == {"pve/100", "pve/101", "pve/102", "pve/103"}
    assert rel["node"] == {"k3s-master", "worker-1", "worker-2"}
    assert rel["pod"] == {f"{p.namespace}/{p.name}" for p in snap.pods if p.node is not None}
    assert rel["peer"] == set()


def test_a_pod_relates_up_its_chain_and_not_to_its_neighbours(n100):
    snap, links = n100
    pg = next(p for p in snap.pods if p.name == "postgresql-0")
    rel = relatives(snap, links, ("pod", f"{pg.namespace}/{pg.name}"))
    assert rel == {
        "host": {"pve"},
        "guest": {"pve/102"},
        "node": {"worker-1"},
        "pod": {f"{pg.namespace}/postgresql-0"},
        "peer": set(),
    }
    assert len(snap.pods_by_node["worker-1"]) > 1  # so "not the other pods" means something


def test_a_guest_relates_its_host_node_and_pods_but_not_sibling_guests(n100):
    snap, links = n100
    rel = relatives(snap, links, ("guest", "pve/103"))
    assert rel["host"] == {"pve"} and rel["guest"] == {"pve/103"}
    assert rel["node"] == {"worker-2"}
    assert rel["pod"] == {f"{p.namespace}/{p.name}" for p in snap.pods_by_node["worker-2"]}
    # The firewall VM runs no node: it relates to its host only.
    assert relatives(snap, links, ("guest", "pve/100"))["node"] == set()


def test_a_raspberry_pi_relates_its_node_pods_and_peer_not_the_x86_vms(tailnet):
    snap, links = tailnet
    rel = relatives(snap, links, ("host", "rpi5-home"))
    assert rel["host"] == {"rpi5-home"}
    assert rel["guest"] == set()
    assert rel["node"] == {"rpi5-home"}
    assert rel["pod"] == {f"{p.namespace}/{p.name}" for p in snap.pods_by_node["rpi5-home"]}
    assert rel["peer"] == {"rpi5-home"}
    assert not {"x86-vm-1", "x86-vm-2"} & (rel["node"] | rel["peer"])


def test_a_peer_relates_what_it_is_linked_to_and_up_and_down_from_there(tailnet):
    snap, links = tailnet
    rel = relatives(snap, links, ("peer", "x86-vm-1"))
    assert rel["peer"] == {"x86-vm-1"}
    assert rel["node"] == {"x86-vm-1"}
    assert rel["guest"] == {"friend-pve/100"}
    assert rel["host"] == {"friend-pve"}
    assert rel["pod"] == {f"{p.namespace}/{p.name}" for p in snap.pods_by_node["x86-vm-1"]}
    # A device linked to nothing (the laptop) relates only to itself.
    lonely = relatives(snap, links, ("peer", "operator-laptop"))
    assert {k: v for k, v in lonely.items() if v} == {"peer": {"operator-laptop"}}


def test_a_node_relates_its_peer_by_tailscale_ip_even_when_names_differ():
    snap = Snapshot(
        hosts=(Host("box", 4, 8, 2**34, 2**40),),
        guests=(Guest(200, "vm-a", "box", ips=("10.0.0.7",)),),
        nodes=(Node("k8s-a", addresses=(("InternalIP", "100.64.0.9"),)),),
        pods=(Pod("web", "api-1", node="k8s-a"), Pod("web", "api-2", node=None)),
        peers=(Peer("tailnet-device-9", ips=("100.64.0.9",)),),
    )
    links = topology.link(
        snap.nodes, snap.guests, snap.hosts, snap.peers, {"k8s-a": Backing("box", 200)}
    )
    rel = Relations(snap, links).of(("node", "k8s-a"))
    assert rel == {
        "host": {"box"},
        "guest": {"box/200"},
        "node": {"k8s-a"},
        "pod": {"web/api-1"},  # the unscheduled pod belongs to no node
        "peer": {"tailnet-device-9"},
    }
    # An unbound pod is related to nothing but itself.
    alone = Relations(snap, links).of(("pod", "web/api-2"))
    assert {k: v for k, v in alone.items() if v} == {"pod": {"web/api-2"}}


def test_an_unknown_kind_is_refused(n100):
    snap, links = n100
    with pytest.raises(ValueError, match="unknown kind"):
        relatives(snap, links, ("cluster", "x"))
