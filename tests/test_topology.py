from builders import GI, node

from cockpit.model import Backing, Guest, Host, Peer
from cockpit.topology import keep_known, link

HOST = Host("pve1", cores=4, threads=8, memory=32 * GI, disk=0)
METAL = Host("xeon", cores=12, threads=24, memory=32 * GI, disk=0, proxmox=False)


def vm(vmid, name, ips=()):
    return Guest(vmid, name, "pve1", ips=tuple(ips))


def with_ip(name, ip, **kw):
    return node(name, addresses=(("InternalIP", ip), ("Hostname", name)), **kw)


def test_links_by_strength_of_evidence():
    nodes = [
        with_ip("a", "10.0.0.1", provider_id="proxmox://home/101"),  # providerID wins
        with_ip("b", "10.0.0.2"),  # guest agent IP
        with_ip("k8s-c.lan", "10.0.0.9"),  # name, ignoring the domain
        with_ip("xeon", "10.0.0.20"),  # bare metal by host name
        with_ip("mystery", "10.9.9.9"),
    ]
    guests = [
        vm(101, "something-else", ["10.0.0.2"]),
        vm(102, "vm-b", ["10.0.0.2"]),
        vm(103, "k8s-c"),
    ]
    links = link(nodes, guests, [HOST, METAL], [])
    assert links.backing["a"] == Backing("pve1", 101)
    assert links.how["node a"] == "by providerID proxmox://home/101"
    assert links.backing["b"].vmid in (101, 102) and links.how["node b"].startswith("by IP")
    assert links.backing["k8s-c.lan"] == Backing("pve1", 103)
    assert links.backing["xeon"] == Backing("xeon")
    assert links.unlinked_nodes == ("mystery",)


def test_config_override_beats_everything():
    nodes = [with_ip("a", "10.0.0.1", provider_id="proxmox://home/101")]
    links = link(nodes, [vm(101, "a")], [HOST], [], {"a": Backing("pve1", 999)})
    assert links.backing["a"] == Backing("pve1", 999)
    assert links.how["node a"] == "by config override"


def test_peers_by_tailscale_ip_then_by_name():
    nodes = [with_ip("rpi-1", "100.64.0.1"), with_ip("rpi-2", "192.168.1.2")]
    peers = [
        Peer("phone-of-rpi", ips=("100.64.0.1",)),
        Peer("rpi-2", dns_name="rpi-2.ts.net."),
        Peer("pve1"),
        Peer("laptop", is_self=True),
        Peer("stranger"),
    ]
    links = link(
        nodes,
        [vm(105, "box", ["100.64.0.9"])],
        [HOST],
        [*peers, Peer("box-peer", ips=("100.64.0.9",))],
    )
    assert links.node_peer == {"rpi-1": "phone-of-rpi", "rpi-2": "rpi-2"}
    assert links.how["peer of node rpi-1"] == "by Tailscale IP"
    assert links.how["peer of node rpi-2"] == "by name"
    assert links.host_peer == {"pve1": "pve1"}
    assert links.guest_peer == {105: "box-peer"}
    assert links.unlinked_peers == ("stranger",)  # self is never "unlinked"


def test_a_stopped_vm_keeps_its_node_until_it_is_gone_or_running_again():
    nodes = [with_ip("worker", "10.0.0.2")]
    running = [Guest(102, "vm-w", "pve1", ips=("10.0.0.2",))]
    before = link(nodes, running, [HOST], [])
    assert before.backing["worker"] == Backing("pve1", 102)
    # Stopped: the guest agent reports no address, so the IP evidence is gone.
    stopped = [Guest(102, "vm-w", "pve1", status="stopped")]
    kept = keep_known(link(nodes, stopped, [HOST], []), before, stopped)
    assert kept.backing["worker"] == Backing("pve1", 102)
    assert kept.how["node worker"] == "kept while guest 102 is stopped" and not kept.unlinked_nodes
    # A guest that is deleted, or runs again without the address, is not linked from memory.
    assert "worker" not in keep_known(link(nodes, [], [HOST], []), kept, []).backing
    bare = [Guest(102, "vm-w", "pve1")]
    assert "worker" not in keep_known(link(nodes, bare, [HOST], []), kept, bare).backing
