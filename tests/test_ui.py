"""The cockpit app over a running lab, driven with Textual's Pilot: the panes fill from the
inventory, the cursor links them, and a dead source shows as stale without emptying them."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from cockpit import labfile
from cockpit.config import load_config
from cockpit.inventory import from_config
from cockpit.lab.runner import RunningLab
from cockpit.ui.app import CockpitApp

SIZE = (160, 50)


def _start() -> RunningLab:
    return RunningLab(labfile.load("n100"), speed=10).start()


def _inventory(lab: RunningLab):
    inv = from_config(load_config(lab.config_path))
    inv.proxmox.timeout = 2  # the failure test waits for a refused connection, not a hang
    inv.refresh(timeout=30)
    return inv


@pytest.fixture(scope="module")
def inventory():
    """One lab for the tests that only read it."""
    lab = _start()
    inv = None
    try:
        inv = _inventory(lab)
        yield inv
    finally:
        if inv is not None:
            inv.stop()
        lab.stop()


@pytest.fixture
def own_lab():
    """A lab of its own, for the test that breaks it."""
    lab = _start()
    inv = None
    try:
        inv = _inventory(lab)
        yield lab, inv
    finally:
        if inv is not None:
            inv.stop()
        lab.stop()


def _postgres(app: CockpitApp) -> str:
    return next(k for k in app.table("pod").shown if k.endswith("/postgresql-0"))


@pytest.mark.asyncio
async def test_panes_fill_and_the_cursor_links_them(inventory):
    app = CockpitApp(inventory)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "pve" in app.table("host").shown
        assert len(app.table("guest").shown) == 4
        assert set(app.table("node").shown) == {"k3s-master", "worker-1", "worker-2"}
        assert len(app.table("pod").shown) == len(inventory.snapshot.pods)

        # The hosts pane has focus at start, so its cursor row (the only host) is selected.
        assert app.selection == ("host", "pve")
        assert app.marked("guest") == {"pve/100", "pve/101", "pve/102", "pve/103"}
        assert app.marked("node") == {"k3s-master", "worker-1", "worker-2"}
        assert app.marked("pod") == set(app.table("pod").shown)

        # Tab over to the pods pane; its cursor row becomes the selection.
        await pilot.press("tab", "tab", "tab", "tab")
        pods = app.table("pod")
        assert app.focused is pods
        assert app.selection == ("pod", pods.cursor_key)
        # One key down moves the selection along, then the cursor jumps to postgresql-0
        # (pressing "down" row by row gets the same result, only slower).
        first = pods.cursor_key
        await pilot.press("down")
        assert app.selection == ("pod", pods.cursor_key) != ("pod", first)
        pods.move_cursor(row=pods.get_row_index(_postgres(app)))
        await pilot.pause()
        assert app.selection == ("pod", _postgres(app))
        assert app.marked("node") == {"worker-1"}
        assert app.marked("guest") == {"pve/102"}
        assert app.marked("host") == {"pve"}
        assert app.marked("pod") == set()  # its neighbours on worker-1 are not related

        # "r" hides what is unrelated in the other panes; pressing it again brings it back.
        await pilot.press("r")
        assert set(app.table("guest").shown) == {"pve/102"}
        assert set(app.table("node").shown) == {"worker-1"}
        assert len(app.table("pod").shown) == len(inventory.snapshot.pods)  # its own pane
        await pilot.press("r")
        assert len(app.table("guest").shown) == 4


@pytest.mark.asyncio
async def test_filter_narrows_the_focused_pane_only(inventory):
    app = CockpitApp(inventory)
    async with app.run_test(size=SIZE) as pilot:
        app.select("guest", "pve/100")
        await pilot.pause()
        await pilot.press("slash", *"work", "enter")
        assert set(app.table("guest").shown) == {"pve/102", "pve/103"}
        assert len(app.table("node").shown) == 3
        await pilot.press("escape")
        assert len(app.table("guest").shown) == 4


@pytest.mark.asyncio
async def test_unchanged_layers_are_not_touched(inventory):
    app = CockpitApp(inventory)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        writes = {kind: app.table(kind).writes for kind in ("host", "guest", "node", "pod")}
        snap = inventory.snapshot
        # A new guest arrives, but the inventory says only the peers changed: the guests
        # pane must trust that and stay as it is; then told the truth, it adds one row.
        extra = dataclasses.replace(snap.guests[0], vmid=999, name="ghost")
        grown = dataclasses.replace(snap, guests=(*snap.guests, extra))
        app.apply(grown, frozenset({"peers"}))
        assert {kind: app.table(kind).writes for kind in writes} == writes
        app.apply(grown, frozenset({"guests"}))
        assert "pve/999" in app.table("guest").shown
        assert app.table("guest").writes - writes["guest"] == 1  # one row added, marked
        assert app.table("pod").writes == writes["pod"]


@pytest.mark.asyncio
async def test_a_dead_source_is_stale_and_the_panes_keep_their_rows(own_lab):
    lab, inventory = own_lab
    app = CockpitApp(inventory, status_every=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "proxmox ok" in app.status_text()
        lab.proxmox.stop()
        # Blocking network calls and the listener hop belong off the UI thread, as in the app.
        await asyncio.to_thread(inventory.poll, "proxmox", inventory.proxmox)
        await asyncio.to_thread(inventory.publish)
        await pilot.pause(0.3)
        status = str(app.query_one("#status").render())
        assert "proxmox stale for" in status
        assert "kube ok" in status
        assert len(app.table("guest").shown) == 4
        assert "pve" in app.table("host").shown
        assert len(app.table("node").shown) == 3
