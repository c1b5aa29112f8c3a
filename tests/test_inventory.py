"""The inventory over the whole running lab, reached through the config file the lab writes:
the same path a real homelab takes. One source failing must not take the others down."""

from __future__ import annotations

import time

import pytest

from cockpit import labfile
from cockpit.config import load_config
from cockpit.inventory import from_config
from cockpit.lab.runner import RunningLab


@pytest.fixture(scope="module")
def running():
    lab = RunningLab(labfile.load("tailnet"), speed=20).start()
    yield lab
    lab.stop()


def test_all_four_layers_linked(running):
    inventory = from_config(load_config(running.config_path))
    try:
        snap = inventory.refresh(timeout=30)
        health = inventory.health()
    finally:
        inventory.stop()
    assert {h: v.state for h, v in health.items()} == {
        "kube": "ok",
        "proxmox": "ok",
        "tailscale": "ok",
    }
    planned = running.lab.snapshot
    assert {n.name for n in snap.nodes} == {n.name for n in planned.nodes}
    assert len(snap.pods) == len(planned.pods)
    assert {g.vmid for g in snap.guests} == {g.vmid for g in planned.guests}
    # The two VMs are linked to their guests, and every node to its tailnet peer by IP.
    links = inventory.links
    for name in ("x86-vm-1", "x86-vm-2"):
        assert links.backing[name] == planned.backing[name]
    assert set(links.node_peer) == {n.name for n in planned.nodes}
    assert all(
        how == "by Tailscale IP" for key, how in links.how.items() if key.startswith("peer of")
    )
    assert any(p.is_self for p in snap.peers)


def test_a_dead_source_is_stale_and_the_others_keep_working(tmp_path):
    lab = RunningLab(labfile.load("n100"), speed=20, directory=tmp_path / "lab").start()
    try:
        inventory = from_config(load_config(lab.config_path))
        inventory.proxmox.timeout = 2
        first = inventory.refresh(timeout=30)
        assert inventory.health()["proxmox"].state == "ok" and len(first.guests) == 4
        lab.proxmox.stop()  # Proxmox goes away; Kubernetes and Tailscale stay
        inventory.poll("proxmox", inventory.proxmox)
        inventory.poll("tailscale", inventory.tailscale)
        later = inventory.publish()
        health = inventory.health()
        assert health["proxmox"].state == "stale"
        assert "cannot" in health["proxmox"].reason or "connect" in health["proxmox"].reason
        assert health["kube"].state == "ok" and health["tailscale"].state in ("ok", "error")
        assert len(later.guests) == 4  # the last good data stays, marked stale
        assert len(later.pods) == len(first.pods)
        assert lab.secret.reveal() not in repr(health) + health["proxmox"].reason
    finally:
        inventory.stop()
        lab.stop()


def test_unconfigured_sources_say_how_to_configure(tmp_path):
    config = load_config(
        env={
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path),
            "COCKPIT_TAILSCALE_SOCKET": str(tmp_path / "none.sock"),
        }
    )
    inventory = from_config(config)
    inventory.tailscale.cli = str(tmp_path / "no-tailscale-cli")
    snap = inventory.refresh(timeout=5)
    health = inventory.health()
    assert health["kube"].state == "unconfigured" and "KUBECONFIG" in health["kube"].hint
    assert health["proxmox"].state == "unconfigured"
    # A socket the config names that is not there is an error (not "not installed").
    assert health["tailscale"].state == "error" and "none.sock" in health["tailscale"].reason
    assert snap.nodes == () and snap.version == 1


def test_subscribers_hear_what_changed(running):
    inventory = from_config(load_config(running.config_path))
    heard: list[frozenset[str]] = []
    inventory.subscribe(lambda snap, changed: heard.append(changed))
    try:
        inventory.refresh(timeout=30)
        assert heard and {"nodes", "pods", "guests", "peers"} <= heard[0]
        running.kube.controllers.delete_pod(
            next(
                (p["metadata"]["namespace"], p["metadata"]["name"])
                for p in running.kube.store.list("pods", "monitoring")[0]
            ),
            grace=0,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("pods" in c for c in heard[1:]):
            inventory.publish()
            time.sleep(0.05)
        assert any("pods" in c for c in heard[1:])
    finally:
        inventory.stop()
