"""The node-replacement runbook from the cockpit's keys, against the running lab: X on a node,
the plan with its blockers and the flags that lift them, the typed confirm word, then the
runbook screen following every stage to the end; the join command copied with OSC 52."""

from __future__ import annotations

import time

import pytest
from live_lab import with_template

from cockpit import labfile
from cockpit.actions.connect import context_for
from cockpit.config import load_config
from cockpit.inventory import from_config
from cockpit.lab.runner import RunningLab
from cockpit.ui.app import CockpitApp
from cockpit.ui.screens.actions import PlanScreen
from cockpit.ui.screens.runbook import RunbookScreen


async def _until(pilot, check, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


@pytest.mark.asyncio
async def test_x_replaces_the_selected_node_through_the_runbook_screen(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    lab = RunningLab(labfile.load(with_template("n100", tmp_path)), speed=30).start()
    inventory = from_config(load_config(lab.config_path))
    try:
        inventory.refresh(timeout=30)
        inventory.start()
        app = CockpitApp(inventory, action_context=lambda: context_for(inventory))
        async with app.run_test(size=(160, 50)) as pilot:
            await _until(pilot, lambda: "worker-1" in app.snapshot.node_by_name, "the nodes")
            app.select("node", "worker-1")
            await pilot.press("X")
            await _until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan")
            plan = app.screen.plan
            assert plan.action == "replace" and plan.blockers
            assert plan.detail["flags_needed"] == ["--force", "--delete-emptydir-data"]
            await pilot.click("#replan")
            await _until(
                pilot,
                lambda: isinstance(app.screen, PlanScreen) and not app.screen.plan.blockers,
                "the plan made again with the flags",
            )
            await pilot.press(*"worker-1")
            await pilot.click("#run")
            await _until(pilot, lambda: isinstance(app.screen, RunbookScreen), "the runbook")
            screen = app.screen
            await _until(pilot, lambda: screen.outcome is not None, "the runbook to end")
            assert screen.outcome.status == "succeeded", screen.outcome.message
            assert [s.state for s in screen.runbook.stages] == ["done"] * 7
            shown = str(screen.query_one("#stages").render())
            assert "✓ 7. Clean up" in shown
            await pilot.press("c")
            assert "K3S_TOKEN=<token> sh -s - agent --node-name worker-3" in app.clipboard
        assert lab.kube.store.find("nodes", ("", "worker-1")) is None
        assert lab.kube.store.find("nodes", ("", "worker-3")) is not None
    finally:
        inventory.stop()
        lab.stop()
