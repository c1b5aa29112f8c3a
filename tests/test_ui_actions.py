"""Actions from the cockpit's keys, against a running lab: plan, confirm, follow, journal;
read-only sends nothing at all; an unfinished action is offered for resume at start-up."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from cockpit import labfile
from cockpit.actions.base import Plan
from cockpit.actions.connect import context_for
from cockpit.actions.journal import Journal, new_id
from cockpit.config import load_config
from cockpit.inventory import from_config
from cockpit.lab.runner import RunningLab
from cockpit.ui.app import CockpitApp
from cockpit.ui.screens.actions import PlanScreen, ResumeScreen, RunScreen

SIZE = (160, 50)


@pytest.fixture
def live(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the journal goes here
    lab = RunningLab(labfile.load("n100"), speed=20).start()
    inventory = None
    try:
        config = load_config(lab.config_path)
        yield lab, config
    finally:
        if inventory is not None:
            inventory.stop()
        lab.stop()


def _app(config, readonly: bool = False) -> tuple[CockpitApp, object]:
    if readonly:
        config = dataclasses.replace(config, readonly=True)
    inventory = from_config(config)
    inventory.refresh(timeout=30)
    inventory.start()
    app = CockpitApp(
        inventory,
        config.thresholds,
        readonly=config.readonly,
        action_context=lambda: context_for(inventory),
    )
    return app, inventory


async def _until(pilot, check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


@pytest.mark.asyncio
async def test_a_read_only_session_sends_no_mutating_request(live):
    lab, config = live
    app, inventory = _app(config, readonly=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.sub_title == "READ-ONLY"
            app.select("node", "worker-1")
            for key in ("d", "c", "u", "R", "H", "p", "enter", "escape", "J", "escape"):
                await pilot.press(key)
                await pilot.pause(0.05)
            app.select("guest", "pve/102")
            await pilot.press("p", "enter", "y")
            for line in ("drain worker-1", "guest stop 102", "scale-ha", "restart", "resume"):
                app.run_command(line)
            app.start_action("drain", {"node": "worker-1"})  # even asked directly
            await pilot.pause(0.5)
            assert not isinstance(app.screen, PlanScreen | RunScreen)
            assert "Drain" not in str(app.screen.query_one("Footer").render())
    finally:
        inventory.stop()
    assert sum(lab.kube.api.mutations.values()) == 0, lab.kube.api.mutations
    assert lab.proxmox.paths("POST") == []


@pytest.mark.asyncio
async def test_drain_from_the_keyboard_plans_confirms_runs_and_journals(live):
    lab, config = live
    app, inventory = _app(config)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.select("node", "worker-2")
            await pilot.press("d")
            await _until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan")
            plan = app.screen.plan
            assert plan.action == "drain" and plan.target.endswith("worker-2")
            # jupyter keeps scratch data in an emptyDir: kubectl's flag is needed, and offered.
            assert plan.blockers and plan.detail["flags_needed"] == ["--delete-emptydir-data"]
            shown = str(app.screen.query_one("#plan-text").render())
            assert "worker-2" in shown and "delete-emptydir-data" in shown
            before = sum(lab.kube.api.mutations.values())
            await pilot.press("escape")  # no: nothing is sent
            await pilot.pause()
            assert sum(lab.kube.api.mutations.values()) == before
            await pilot.press("d")
            await _until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan again")
            await pilot.click("#replan")
            await _until(
                pilot,
                lambda: isinstance(app.screen, PlanScreen) and not app.screen.plan.blockers,
                "the plan with the flag",
            )
            assert app.screen.plan.args["delete_emptydir_data"] is True
            if app.screen.plan.confirm_word:  # emptyDir data is lost: the name is asked for
                await pilot.click("#confirm-word")
                await pilot.press(*app.screen.plan.confirm_word)
            await pilot.click("#run")
            await _until(pilot, lambda: isinstance(app.screen, RunScreen), "the run")
            run = app.screen
            await _until(pilot, lambda: run.outcome is not None, "the drain", timeout=90)
            assert run.outcome.status == "succeeded", run.outcome.message
            screen_text = app.export_screenshot()
            for secret in (lab.secret.reveal(), lab.readonly_secret.reveal()):
                assert secret not in screen_text
            await pilot.press("escape")
            await pilot.pause()
            node = lab.kube.store.get("nodes", ("", "worker-2"))
            assert node["spec"].get("unschedulable") is True
            journal = Journal()
            (record,) = journal.records()
            assert record.action == "drain" and record.status == "succeeded"
            text = journal.path.read_text()
            assert lab.secret.reveal() not in text
    finally:
        inventory.stop()


@pytest.mark.asyncio
async def test_an_unfinished_action_is_offered_for_resume_at_start(live):
    lab, config = live
    journal = Journal()
    plan = Plan("cordon", "node/worker-1", {"node": "worker-1"})
    action_id = new_id()
    journal.write(
        {
            "id": action_id,
            "event": "start",
            "action": "cordon",
            "target": plan.target,
            "args": plan.args,
            "plan": plan.to_json(),
        }
    )
    app, inventory = _app(config)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: isinstance(app.screen, ResumeScreen), "the offer")
            await pilot.press("r")
            await _until(pilot, lambda: isinstance(app.screen, RunScreen), "the resume")
            run = app.screen
            await _until(pilot, lambda: run.outcome is not None, "the cordon")
            assert run.outcome.status == "succeeded", run.outcome.message
            await asyncio.sleep(0)
    finally:
        inventory.stop()
    assert journal.unfinished() == []
    assert lab.kube.store.get("nodes", ("", "worker-1"))["spec"].get("unschedulable") is True
