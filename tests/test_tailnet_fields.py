"""Tailnet peers as triage needs them: every device kept and told apart by its stable ID
(real tailnets have several called "localhost"), Active, Expired, KeyExpiry and the path
(direct or DERP); tailscaled's own state; links and relations keyed the same way."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tailscale_helpers import FIXTURES, fixed_answer, short_dir

from cockpit.model import Backing, Guest, Host, Node, Peer, Snapshot, TailnetStatus
from cockpit.relations import relatives
from cockpit.sources.tailscale import TailscaleSource
from cockpit.topology import link

CAPTURES = ("dgx-control-status.json", "jq-exporter-status.json", "yclaw-status.json")


def capture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def served(name: str, doc: dict[str, Any]):
    """The status through a real unix socket and the LocalAPI client."""
    body = json.dumps(doc).encode()
    with short_dir() as d, fixed_answer(d / "ts.sock", 200, body, "application/json") as sock:
        return TailscaleSource(socket_path=str(sock)).fetch()


@pytest.mark.parametrize("name", CAPTURES)
def test_every_peer_of_every_capture_is_kept_and_distinct(name):
    doc = capture(name)
    status = served(name, doc)
    assert len(status.peers) == len(doc["Peer"])
    assert len({p.key for p in status.peers}) == len(doc["Peer"])
    for p in status.peers:
        raw = next(v for k, v in doc["Peer"].items() if p.node_key in (k, v.get("PublicKey")))
        assert p.id == (raw.get("ID") or "")
        assert p.active is bool(raw.get("Active"))
        assert p.expired is bool(raw.get("Expired"))
        assert p.cur_addr == (raw.get("CurAddr") or "")
        assert p.peer_relay == (raw.get("PeerRelay") or "")
    assert status.daemon == TailnetStatus(
        doc["BackendState"],
        tuple(doc.get("Health") or ()),
        (doc.get("CurrentTailnet") or {}).get("Name", ""),
    )


def test_yclaw_capture_ids_expiry_and_paths():
    status = served("yclaw", capture("yclaw-status.json"))
    by_name = {p.hostname: p for p in status.peers}
    assert status.daemon == TailnetStatus("Running", (), "user@example.com")
    assert status.self_peer is not None and status.self_peer.id == "npLDpy8PGh11CNTRL"
    hermes = by_name["hermes"]
    assert (hermes.id, hermes.expired, hermes.key_expiry) == (
        "n1DPfJRRr511CNTRL",
        True,
        "2025-11-23T17:41:07Z",
    )
    assert {p.hostname for p in status.peers if p.expired} == {
        "hermes",
        "redacted-3",
        "redacted-4",
    }
    metal = by_name["metal"]
    assert (metal.active, metal.direct, metal.cur_addr) == (True, True, "192.168.1.64:41814")
    assert metal.key_expiry == "" and metal.last_seen == ""  # key expiry disabled; zero time
    one = by_name["redacted-1"]
    assert (one.active, one.direct, one.relay) == (True, False, "sfo")  # through DERP
    assert one.key == "n55uYfw9g411CNTRL"


def test_several_devices_called_localhost_are_all_kept():
    # The jq-exporter capture has one iPhone-style "localhost"; a real tailnet has several,
    # each with its own node key and stable ID.
    doc = capture("jq-exporter-status.json")
    (key, phone) = next((k, v) for k, v in doc["Peer"].items() if v.get("HostName") == "localhost")
    for i in (1, 2):
        doc["Peer"][f"{key}-{i}"] = {
            **phone,
            "ID": f"nPhone{i}CNTRL",
            "DNSName": f"iphone-{i}.tailc2865.ts.net.",
            "TailscaleIPs": [f"100.64.0.{50 + i}"],
            "Online": i == 1,
        }
    status = served("jq", doc)
    phones = [p for p in status.peers if p.hostname == "localhost"]
    assert len(phones) == 3
    assert len({p.key for p in phones}) == 3
    assert sorted(p.online for p in phones) == [False, True, True]


def test_links_and_relations_tell_same_named_devices_apart():
    peers = (
        Peer("localhost", id="nA", ips=("100.64.0.1",)),
        Peer("localhost", id="nB", ips=("100.64.0.2",)),
        Peer("box", id="nC", dns_name="box.tail.ts.net.", ips=("100.64.0.3",)),
    )
    nodes = (
        Node("k3s-a", addresses=(("InternalIP", "100.64.0.2"),)),  # by IP: the second phone
        Node("localhost"),  # by name: ambiguous, so not linked to either
    )
    hosts = (Host("box", 4, 4, 1, 1),)
    guests = (Guest(100, "k3s-a", "box"),)
    links = link(nodes, guests, hosts, peers, {"k3s-a": Backing("box", 100)})
    assert links.node_peer == {"k3s-a": "nB"}
    assert links.host_peer == {"box": "nC"}
    assert links.unlinked_peers == ("nA",)
    snap = Snapshot(hosts=hosts, guests=guests, nodes=nodes, peers=peers, backing=links.backing)
    assert relatives(snap, links, ("node", "k3s-a"))["peer"] == {"nB", "nC"}
    assert relatives(snap, links, ("peer", "nA")) == {
        "host": set(),
        "guest": set(),
        "node": set(),
        "pod": set(),
        "peer": {"nA"},
    }
