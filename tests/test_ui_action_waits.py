"""Actions that cannot go ahead, against a running lab: a blocked plan puts its blockers
first, beside the button that fixes them; a drain held up by a PodDisruptionBudget says in
its status line what it waits for and since when, instead of "running…"."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from cockpit import labfile
from cockpit.actions.base import REGISTRY
from cockpit.actions.catalog import actions as load_actions
from cockpit.actions.connect import context_for
from cockpit.config import load_config
from cockpit.inventory import from_config
from cockpit.lab.runner import RunningLab
from cockpit.ui.app import CockpitApp
from cockpit.ui.screens.actions import PlanScreen, RunScreen, flag_args

SIZE = (160, 50)
LABS = labfile.__file__.rsplit("/", 1)[0] + "/labs"


@pytest.fixture
def guarded_lab(tmp_path, monkeypatch):
    """n100 with a PodDisruptionBudget on its single nginx pod: it allows no disruption,
    so a drain of worker-1 waits for it (as kubectl drain would)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    text = Path(LABS, "n100.toml").read_text(encoding="utf-8")
    marker = 'name = "nginx"\nnamespace = "apps"\n'
    assert marker in text
    path = tmp_path / "guarded.toml"
    path.write_text(text.replace(marker, marker + "pdb = { min_available = 1 }\n"))
    lab = RunningLab(labfile.load(str(path)), speed=20).start()
    inventory = None
    try:
        inventory = from_config(load_config(lab.config_path))
        inventory.refresh(timeout=30)
        inventory.start()
        yield lab, inventory
    finally:
        if inventory is not None:
            inventory.stop()
        lab.stop()


async def _until(pilot, check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


@pytest.mark.asyncio
async def test_blockers_first_and_a_waiting_drain_says_what_and_since_when(guarded_lab):
    _, inventory = guarded_lab
    app = CockpitApp(inventory, action_context=lambda: context_for(inventory))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # worker-2 runs jupyter with emptyDir scratch data: the drain is blocked until
        # --delete-emptydir-data is given, and the button that gives it sits beside that.
        app.select("node", "worker-2")
        await pilot.press("d")
        await _until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan")
        screen = app.screen
        assert screen.plan.blockers
        text = screen.query_one("#plan-text").render().plain
        assert text.index("✖") < text.index("•")  # what stops it before what it does
        replan = screen.query_one("#replan")
        body = screen.query_one("#plan-body")
        assert replan.region.y < body.region.y  # the button that fixes it comes first
        first_blocker_row = body.region.y + text[: text.index("✖")].count("\n")
        assert first_blocker_row < body.region.bottom  # on screen, not below the fold
        await pilot.press("escape")
        await pilot.pause()

        # worker-1's nginx is guarded by a budget that allows nothing: the drain waits.
        load_actions()
        ctx = context_for(inventory)
        action = REGISTRY["drain"].from_args(ctx, {"node": "worker-1"})
        plan = await asyncio.to_thread(action.plan)
        if plan.blockers and flag_args(plan):
            action = REGISTRY["drain"].from_args(ctx, flag_args(plan))
            plan = await asyncio.to_thread(action.plan)
        assert not plan.blockers, plan.blockers
        run = RunScreen(action, plan)
        app.push_screen(run)
        await _until(pilot, lambda: "refused" in run.last_line, "the refusal", timeout=60)
        status = str(run.query_one("#outcome").render())
        assert "refused" in status and "nginx" in status  # what it waits for
        since = re.search(r"since (\d\d:\d\d:\d\d)", status)
        assert since, status  # and since when
        # The next retry says the same again: "since" stays when the waiting began.
        log = run.query_one("#progress")
        await _until(
            pilot,
            lambda: sum("refused" in line for line in log.lines) >= 2,
            "a second refusal",
            timeout=30,
        )
        await pilot.pause(0.2)
        status = str(run.query_one("#outcome").render())
        assert "refused" in status and f"since {since.group(1)}" in status, status
        await pilot.press("x")
        await _until(pilot, lambda: run.outcome is not None, "the cancel", timeout=30)
        assert run.outcome.status == "cancelled", run.outcome.message
