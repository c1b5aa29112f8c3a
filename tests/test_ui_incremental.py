"""The panes kept up to date key by key show what a screen built from scratch shows.

A running lab is changed through its Kubernetes API with the real kubectl (pods created,
deleted, their status patched, deployments scaled, nodes cordoned), the inventory publishes
what changed, and the app redraws only the changed rows. At the end a second app is built
from nothing over the very same snapshot, links and clock, and the five panes must match
row for row, cell for cell, in the same order, with the same sections and column widths.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from lab_clients import kubectl
from live_lab import live_lab

from cockpit.alloc.ledger import build_ledger
from cockpit.inventory import Inventory
from cockpit.lab.runner import RunningLab
from cockpit.model import Snapshot
from cockpit.relations import KINDS, Relations
from cockpit.ui.app import CockpitApp
from cockpit.ui.virtual_table import _face

SIZE = (160, 50)
CLOCK = 1_900_000_000.0  # both screens read ages against this one instant
PROBE_NS = "default"


class Frozen:
    """One snapshot and its links, as the live inventory had them, for the from-scratch
    screen."""

    def __init__(self, inventory: Inventory) -> None:
        self._snapshot = inventory.snapshot
        self.links = inventory.links
        self.listeners: list[Any] = []
        self._health = inventory.health()

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def health(self) -> dict[str, Any]:
        return self._health

    def now(self) -> float:
        return CLOCK

    def subscribe(self, listener: Any) -> None:
        self.listeners.append(listener)


def screen(app: CockpitApp) -> dict[str, Any]:
    """Every pane as the user sees it: rows in order, how each cell looks, the widths."""
    out = {}
    for kind in KINDS:
        t = app.table(kind)
        out[kind] = {
            "order": list(t.order),
            "sections": {k: s.title for k, s in t.sections.items()},
            "cells": {k: tuple(_face(c) for c in cells) for k, cells in t.shown.items()},
            "widths": list(t.widths),
            "cursor": t.cursor_key,
        }
    return out


async def publish_until(inventory: Inventory, done: Callable[[], bool], timeout: float = 15):
    """Publish (on the app's thread, as a test may) until `done` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inventory.publish()
        await asyncio.sleep(0.05)
        if done():
            return
    pytest.fail("the change never reached the screen")


def _run_pod(lab: RunningLab, name: str) -> None:
    kubectl(lab, "run", name, "-n", PROBE_NS, "--image=registry.k8s.io/pause:3.9")


def _fail_pod(lab: RunningLab, name: str) -> None:
    patch = json.dumps({"status": {"phase": "Failed"}})
    kubectl(lab, "patch", "pod", name, "-n", PROBE_NS, "--subresource=status",
            "--type=merge", "-p", patch)  # fmt: skip


def _delete_pod(lab: RunningLab, name: str) -> None:
    kubectl(lab, "delete", "pod", name, "-n", PROBE_NS, "--grace-period=0", "--wait=false")


@pytest.mark.asyncio
async def test_panes_after_random_changes_equal_a_screen_built_from_scratch():
    rng = random.Random(20261205)
    with live_lab("n100", speed=5) as (lab, inventory):
        inventory.now = lambda: CLOCK
        app = CockpitApp(inventory)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.select("node", "worker-1")  # pods of worker-1 carry the related mark
            probes: list[str] = []
            cordoned: set[str] = set()
            for step in range(18):
                change = rng.choice(("run", "run", "delete", "fail", "scale", "cordon", "select"))
                if change == "select":
                    # Only the marks move: the rows whose mark flipped are patched.
                    kind = rng.choice(("pod", "node", "host", "guest"))
                    app.select(kind, rng.choice(sorted(app.table(kind).shown)))
                    await pilot.pause()
                elif change == "run" or not probes:
                    name = f"probe-{step}"
                    _run_pod(lab, name)
                    probes.append(name)
                    key = f"{PROBE_NS}/{name}"
                    await publish_until(inventory, lambda k=key: k in app.table("pod").shown)
                elif change == "delete":
                    name = probes.pop(rng.randrange(len(probes)))
                    _delete_pod(lab, name)
                    key = f"{PROBE_NS}/{name}"
                    await publish_until(inventory, lambda k=key: k not in app.table("pod").shown)
                elif change == "fail":
                    name = rng.choice(probes)
                    _fail_pod(lab, name)
                    key = f"{PROBE_NS}/{name}"
                    await publish_until(
                        inventory, lambda k=key: "Failed" in str(app.table("pod").shown[k])
                    )
                elif change == "scale":
                    replicas = rng.choice((1, 3, 4))
                    kubectl(lab, "scale", "deployment/django-api", "-n", "apps",
                            f"--replicas={replicas}")  # fmt: skip
                    await publish_until(
                        inventory,
                        lambda r=replicas: (
                            sum(k.startswith("apps/django-api-") for k in app.table("pod").shown)
                            >= r
                        ),
                    )
                else:
                    node = rng.choice(("worker-1", "worker-2"))
                    verb = "uncordon" if node in cordoned else "cordon"
                    kubectl(lab, verb, node)
                    cordoned ^= {node}
                    await publish_until(
                        inventory,
                        lambda n=node, v=verb: (
                            ("SchedulingDisabled" in str(app.table("node").shown[n]))
                            == (v == "cordon")
                        ),
                    )
            # Whatever else the lab's controllers did meanwhile has been published too.
            inventory.publish()
            app.select("node", "worker-1")  # as the scratch screen below
            await pilot.pause()
            # Ages move once a minute on the live screen; the scratch screen reads them at
            # the last snapshot's clock, so bring the live one to the same minute first.
            app._tick_ages()
            await pilot.pause()
            kept = screen(app)
            # The ledger kept by difference adds up to the one summed from scratch.
            assert app.ledger == build_ledger(app.snapshot, app.thresholds)
            # So do the relations kept by difference, from every node and host.
            fresh_relations = Relations(app.snapshot, inventory.links)
            assert app.relations is not None
            for selection in [("node", n.name) for n in app.snapshot.nodes] + [
                ("host", h.name) for h in app.snapshot.hosts
            ]:
                assert app.relations.of(selection) == fresh_relations.of(selection)
            feed = Frozen(inventory)
            assert app.snapshot is feed.snapshot
        scratch = CockpitApp(feed)
        async with scratch.run_test(size=SIZE) as pilot:
            await pilot.pause()
            scratch.select("node", "worker-1")
            await pilot.pause()
            fresh = screen(scratch)
    for kind in KINDS:
        assert kept[kind]["order"] == fresh[kind]["order"], kind
        assert kept[kind]["sections"] == fresh[kind]["sections"], kind
        differ = {
            k: [
                (i, a, b)
                for i, (a, b) in enumerate(zip(v, fresh[kind]["cells"][k], strict=True))
                if a != b
            ]
            for k, v in kept[kind]["cells"].items()
            if k in fresh[kind]["cells"] and v != fresh[kind]["cells"][k]
        }
        assert kept[kind]["cells"] == fresh[kind]["cells"], (kind, differ)
        assert kept[kind]["widths"] == fresh[kind]["widths"], kind
    assert any(k.startswith(f"{PROBE_NS}/probe-") for k in kept["pod"]["cells"])


@pytest.mark.asyncio
async def test_a_removed_pod_leaves_and_a_modified_pod_changes_only_its_row():
    with live_lab("n100", speed=1) as (lab, inventory):
        inventory.now = lambda: CLOCK
        app = CockpitApp(inventory)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            pods = app.table("pod")
            _run_pod(lab, "probe-a")
            key = f"{PROBE_NS}/probe-a"
            await publish_until(inventory, lambda: "Running" in str(pods.shown.get(key)))
            before = pods.shown[key]
            others = {k: v for k, v in pods.shown.items() if k != key}

            _fail_pod(lab, "probe-a")
            await publish_until(inventory, lambda: "Failed" in str(pods.shown[key]))
            after = pods.shown[key]
            assert _face(after[3]) != _face(before[3])  # the Status cell (after the mark)
            assert after[1] == before[1] == key
            # The rows of pods that did not change are the very objects shown before: the
            # table did not build, compare or replace them.
            unchanged = [k for k, v in others.items() if pods.shown.get(k) is v]
            assert len(unchanged) >= len(others) - 3  # the lab's own controllers may move

            _delete_pod(lab, "probe-a")
            await publish_until(inventory, lambda: key not in pods.shown)
            assert key not in pods.order
            with pytest.raises(KeyError):
                pods.get_row_index(key)
