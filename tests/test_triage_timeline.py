"""The timeline: events, Proxmox tasks, tailnet changes and the journal in one list, newest
first, filtered by object and by the last N minutes."""

from __future__ import annotations

from dataclasses import replace

from test_triage_findings import NOW, world

from cockpit.actions.journal import Journal
from cockpit.model import Event, PveTask
from cockpit.triage.finding import ObjectRef
from cockpit.triage.timeline import build_timeline, recent


def lab_with_history():
    s = world(
        events=(
            Event(
                "default",
                "app-a.1",
                "Pod",
                "app-a",
                "default",
                "Warning",
                "BackOff",
                "Back-off restarting failed container",
                count=4,
                first_seen=NOW - 900,
                last_seen=NOW - 60,
            ),
            Event(
                "",
                "n1.1",
                "Node",
                "n1",
                "",
                "Normal",
                "NodeNotReady",
                "Node n1 status is now: NodeNotReady",
                last_seen=NOW - 300,
            ),
        ),
        tasks=(
            PveTask("UPID:a", "pve1", "qmshutdown", "101", "root@pam", "OK", NOW - 400, NOW - 390),
            PveTask(
                "UPID:b",
                "pve1",
                "qmstart",
                "101",
                "root@pam",
                "start failed: no disk",
                NOW - 30,
                NOW - 20,
            ),
        ),
    )
    before = s
    after = replace(
        s,
        peers=tuple(
            replace(p, online=False, last_seen="2027-01-15T07:55:00Z") if p.hostname == "n1" else p
            for p in s.peers
        ),
    )
    return before, after


def test_everything_merged_newest_first(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.write(
        {
            "event": "start",
            "id": "a1",
            "action": "cordon",
            "target": "node/n1",
            "user": "ops",
            "host": "box",
        }
    )
    journal.write({"event": "end", "id": "a1", "status": "succeeded"})
    before, after = lab_with_history()
    entries = build_timeline(after, before, journal.entries(), now=NOW)
    sources = [e.source for e in entries]
    assert set(sources) == {"kube", "proxmox", "tailnet", "journal"}
    times = [e.at for e in entries]
    assert times == sorted(times, reverse=True)
    texts = [e.text for e in entries]
    assert "cockpit cordon node/n1 succeeded" in texts
    assert "cockpit cordon node/n1 started by ops@box" in texts
    assert "peer n1 went offline" in texts
    assert "task qmstart 101 on pve1 by root@pam: failed: start failed: no disk" in texts
    assert "BackOff: Back-off restarting failed container (x4)" in texts
    warnings = {e.text for e in entries if e.level == "warning"}
    assert (
        "peer n1 went offline" in warnings
        and "NodeNotReady: Node n1 status is now: NodeNotReady" not in warnings
    )


def test_filtered_by_object_and_last_minutes():
    before, after = lab_with_history()
    entries = build_timeline(after, before, now=NOW)
    guest = recent(entries, about=ObjectRef("guest", "Guest", "vm1", id="101"), now=NOW)
    assert [e.text.split(" on ")[0] for e in guest] == ["task qmstart 101", "task qmshutdown 101"]
    assert [e.obj.name for e in recent(entries, about="node/n1", now=NOW)] == ["n1"]
    last_two = recent(entries, minutes=2, now=NOW)
    assert {e.source for e in last_two} == {"kube", "proxmox"}
    assert all(NOW - e.at <= 120 for e in last_two) and len(last_two) == 2
    assert [e.obj.name for e in recent(entries, about="n1", now=NOW, level="warning")] == ["n1"]


def test_a_peer_coming_back_is_seen_from_two_snapshots():
    before, after = lab_with_history()
    back = build_timeline(before, previous=after, now=NOW)
    assert [e.text for e in back if e.source == "tailnet"] == ["peer n1 came back online"]
