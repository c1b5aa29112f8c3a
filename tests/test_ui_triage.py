"""Triage on the screen, against the running lab over real sockets: the incident strip with
the root cause first and its fixes on digits, the Triage view (jump to the object, run a
fix through the action framework), the timeline and a pod's log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubectl_cli import kubectl_ok
from live_lab import action_context, live_lab

from cockpit.actions.journal import Journal
from cockpit.inventory import Inventory
from cockpit.lab.runner import RunningLab
from cockpit.ui.app import CockpitApp
from cockpit.ui.incident_strip import IncidentStrip
from cockpit.ui.screens.actions import PlanScreen
from cockpit.ui.screens.logs import LogsScreen
from cockpit.ui.screens.timeline import TimelineScreen
from cockpit.ui.screens.triage import TriageScreen
from cockpit.ui.static import StaticInventory


@pytest.fixture
def friend_box_off(tmp_path: Path) -> Iterator[tuple[RunningLab, Inventory]]:
    """Seed 004's outage: the friend's Proxmox box, with the only CoreDNS on one of its VMs,
    loses power."""
    # Speed 5: NotReady after 8 s, and CoreDNS stays lost for a minute (its 300 s toleration).
    with live_lab("tailnet", 5, tmp_path / "lab") as (lab, inventory):
        inventory.start()
        lab.world.set_host_power("friend-pve", False)
        yield lab, inventory


def _app(inventory: Inventory, tmp_path: Path, readonly: bool = False) -> CockpitApp:
    journal = Journal(tmp_path / "journal.jsonl")
    return CockpitApp(
        inventory,
        readonly=readonly,
        action_context=lambda: action_context(inventory, journal),
    )


async def _until(pilot, test, what: str, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if test():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _host_off_on_top(app: CockpitApp) -> bool:
    top = app.triage.top
    return top is not None and top.root.code == "HOST-OFF" and "nodes NotReady" in top.title


@pytest.mark.asyncio
async def test_the_strip_names_the_box_first_and_offers_the_fix_on_a_digit(
    friend_box_off, tmp_path
):
    _, inventory = friend_box_off
    app = _app(inventory, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: _host_off_on_top(app), "the host-off incident")
        strip = str(app.query_one(IncidentStrip).render())
        first = strip.splitlines()[0]
        assert "CRITICAL" in first and "host friend-pve is powered off" in first
        assert "cluster DNS is down for every pod" in strip
        assert "[1] restart CoreDNS elsewhere" in strip
        assert app.status_text().startswith("1 critical")
        await pilot.press("1")
        await _until(pilot, lambda: isinstance(app.screen, PlanScreen), "the restart plan")
        assert app.screen.plan.action == "restart"
        assert "coredns" in app.screen.plan.target


@pytest.mark.asyncio
async def test_the_triage_view_jumps_to_a_symptom_and_runs_a_fix(friend_box_off, tmp_path):
    _, inventory = friend_box_off
    app = _app(inventory, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: _host_off_on_top(app), "the host-off incident")
        await pilot.press("t")
        assert isinstance(app.screen, TriageScreen)
        tree = app.screen.query_one("Tree")
        # Walk down to the first symptom about node x86-vm-1 and press enter on it.
        for _ in range(60):
            node = tree.cursor_node
            data = getattr(node, "data", None)
            if getattr(getattr(data, "obj", None), "name", "") == "x86-vm-1" and (
                data.obj.kind == "Node"
            ):
                break
            await pilot.press("down")
        else:
            raise AssertionError("no symptom about node x86-vm-1 in the Triage view")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, TriageScreen)
        assert app.selection == ("node", "x86-vm-1")
        await _until(
            pilot,
            lambda: any(f.command == "cockpit scale-ha" for f in app.triage.top.fixes),
            "scale-ha among the fixes (once cluster DNS is seen down)",
        )
        number = 1 + [f.command for f in app.triage.top.fixes].index("cockpit scale-ha")
        await pilot.press("t", str(number))  # that fix of the incident under the cursor
        await _until(pilot, lambda: isinstance(app.screen, PlanScreen), "the scale-ha plan")
        assert app.screen.plan.action == "scale-ha"


@pytest.mark.asyncio
async def test_read_only_refuses_the_fix_and_sends_nothing(friend_box_off, tmp_path):
    lab, inventory = friend_box_off
    app = _app(inventory, tmp_path, readonly=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: _host_off_on_top(app), "the host-off incident")
        before = dict(lab.kube.api.mutations)
        await pilot.press("1", "2", "3")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, PlanScreen)
        assert dict(lab.kube.api.mutations) == before
        assert [r for r in lab.proxmox.requests if r[0] == "POST"] == []


@pytest.mark.asyncio
async def test_the_timeline_shows_peers_going_offline_and_node_events(friend_box_off, tmp_path):
    _, inventory = friend_box_off
    app = _app(inventory, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await _until(pilot, lambda: _host_off_on_top(app), "the host-off incident")
        await pilot.press("T")
        screen = app.screen
        assert isinstance(screen, TimelineScreen)

        def texts() -> list[str]:
            return [f"{e.obj.ref} {e.text}" for e in screen.shown()]

        await _until(pilot, lambda: any("went offline" in t for t in texts()), "peer offline")
        await _until(pilot, lambda: any("NodeNotReady" in t for t in texts()), "NodeNotReady")
        await pilot.press("w")  # warnings only
        assert all(e.level == "warning" for e in screen.shown())
        await pilot.press("w", "slash", *"x86-vm-2")
        assert texts() and all("x86-vm-2" in t for t in texts())


@pytest.mark.asyncio
async def test_l_shows_the_selected_pods_log(tmp_path):
    with live_lab("n100", 30, tmp_path / "lab") as (_, inventory):
        inventory.start()
        app = _app(inventory, tmp_path)
        async with app.run_test(size=(160, 48)) as pilot:
            await _until(pilot, lambda: bool(app.snapshot.pods), "pods")
            pod = next(p for p in app.snapshot.pods if p.name.startswith("postgresql"))
            app.select("pod", f"{pod.namespace}/{pod.name}")
            await pilot.press("l")
            screen = app.screen
            assert isinstance(screen, LogsScreen)
            await _until(pilot, lambda: bool(screen.lines()), "log lines")
            assert not screen.error
            await pilot.press("slash", *"zzz-no-such-line")
            assert screen.lines() == []


@pytest.mark.asyncio
async def test_a_healthy_plan_shows_its_standing_risks_before_any_outage():
    app = CockpitApp(StaticInventory.from_lab("n100"))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert app.triage.incidents == ()
        strip = str(app.query_one(IncidentStrip).render())
        assert "no incident" in strip and "standing risk" in strip
        assert "critical" not in app.status_text()


def test_the_triage_view_on_a_frozen_outage(snap_compare):
    # The tailnet plan with the friend's box marked off in the snapshot itself: every render
    # is the same, so the view is pinned byte for byte.
    app = CockpitApp(StaticInventory.host_off("tailnet", "friend-pve"))
    assert snap_compare(app, terminal_size=(160, 48), press=["t"])


@pytest.mark.asyncio
async def test_the_detail_view_shows_the_objects_own_events(tmp_path):
    from cockpit.ui.screens.detail import DetailScreen

    with live_lab("n100", 30, tmp_path / "lab") as (lab, inventory):
        inventory.start()
        # A pod the StatefulSet recreates: the scheduler and the kubelet report on it.
        kubectl_ok(lab.kube.kubeconfig, "-n", "data", "delete", "pod", "postgresql-0")
        app = _app(inventory, tmp_path)
        async with app.run_test(size=(160, 48)) as pilot:
            await _until(
                pilot,
                lambda: any(e.object_name == "postgresql-0" for e in app.snapshot.events),
                "events about postgresql-0",
            )
            pod = next(p for p in app.snapshot.pods if p.name == "postgresql-0")
            mine = [e for e in app.snapshot.events if e.object_name == pod.name]
            assert mine  # the lab's scheduler and kubelet said something about it
            app.select("pod", f"{pod.namespace}/{pod.name}")
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, DetailScreen)
            shown = str(screen.query_one("#content").render())
            events = shown.split("\nevents\n", 1)[1]
            assert any(e.reason in events for e in mine)
            others = [e for e in app.snapshot.events if e.object_name != pod.name]
            assert not [e for e in others if e.message and e.message in events]
