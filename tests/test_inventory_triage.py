"""The snapshot carries what triage reads, from the whole running lab through the config it
writes, and the publish loop notices when that changes (cheaply for events)."""

from __future__ import annotations

from waiting import wait_for

from cockpit import labfile
from cockpit.config import load_config
from cockpit.inventory import LAYERS, from_config
from cockpit.lab.runner import RunningLab


def test_triage_records_reach_the_snapshot_and_changes_are_published(tmp_path):
    lab = RunningLab(labfile.load("tailnet"), speed=20, directory=tmp_path / "lab").start()
    inventory = from_config(load_config(lab.config_path))
    try:
        snap = inventory.refresh(timeout=30)
        assert inventory.health()["kube"].state == "ok"
        assert ("kube-system", "kube-dns") in {s.key for s in snap.services}
        dns = snap.endpoints_of("kube-system", "kube-dns")
        assert dns and all(e.ready for e in dns)
        assert {e.pod for e in dns} <= {p.name for p in snap.pods}
        assert snap.metrics_available is True
        assert snap.tailnet is not None and snap.tailnet.running
        assert snap.pve_cluster is not None and snap.pve_cluster.nodes_total == len(snap.hosts)
        assert len({p.key for p in snap.peers}) == len(snap.peers)
        # The API server's clock, from its Date headers: the same a second look gives.
        assert inventory.kube.clock() is not None
        assert abs(snap.clock - inventory.clock()) < 120  # lab seconds at 20x real time

        again = inventory.publish()  # nothing happened: same snapshot, same event tuple
        assert again.version == snap.version and again.events is snap.events

        heard: list[frozenset[str]] = []
        inventory.subscribe(lambda _, changed: heard.append(changed))
        inventory.kube.scale("Deployment", "yodangang", "yodangang-web", 4)
        wait_for(
            lambda: any(
                e.reason == "Scheduled" and e.object_name.startswith("yodangang-web-")
                for e in inventory.publish().events
            ),
            timeout=30,
            what="the scheduler's events in the snapshot",
        )
        assert any("events" in changed for changed in heard)
        assert set(LAYERS) >= {"events", "services", "endpoint_slices", "hpas", "tasks"}
    finally:
        inventory.stop()
        lab.stop()
