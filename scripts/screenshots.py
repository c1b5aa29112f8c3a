"""Render the cockpit to SVG, for every theme at 80x24 (tabs) and 160x48 (grid), plus the
outage triage and the node-replacement runbook.

    .venv/bin/python scripts/screenshots.py [--lab n100] [--out screenshots] [--runbook]

The panes and the triage view come from a built-in lab's snapshot with fixed healths
(cockpit.ui.static), not a running lab, so those files only change when the UI does. The
runbook screen (--runbook) is taken at the end of a real replacement against a running lab.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from cockpit.ui.app import CockpitApp
from cockpit.ui.static import StaticInventory
from cockpit.ui.themes import load_themes

SIZES = ((80, 24), (160, 48))
OUT = Path(__file__).resolve().parents[1] / "screenshots"


async def render(lab: str, theme: str, size: tuple[int, int], out: Path) -> Path:
    app = CockpitApp(StaticInventory.from_lab(lab), theme_name=theme)
    name = f"{lab}-{theme}-{size[0]}x{size[1]}.svg"
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.save_screenshot(filename=name, path=str(out))
    return out / name


async def render_outage(out: Path) -> list[Path]:
    """Seed 004 at 2 a.m.: the tailnet lab with the friend's Proxmox box powered off; the
    panes with the incident strip, then the Triage view."""
    shots = []
    for press, name in (((), "tailnet-outage-160x48.svg"), (("t",), "tailnet-triage-160x48.svg")):
        app = CockpitApp(StaticInventory.host_off("tailnet", "friend-pve"))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            if press:
                await pilot.press(*press)
                await pilot.pause()
            app.save_screenshot(filename=name, path=str(out))
        shots.append(out / name)
    return shots


async def render_runbook(out: Path) -> Path:
    """`cockpit replace worker-1` on the n100 lab with a k3s-agent template, to the end."""
    import tempfile

    from cockpit import labfile
    from cockpit.actions.connect import context_for
    from cockpit.config import load_config
    from cockpit.inventory import from_config
    from cockpit.lab.runner import RunningLab
    from cockpit.lab.templates import with_agent_template
    from cockpit.ui.screens.actions import PlanScreen
    from cockpit.ui.screens.runbook import RunbookScreen

    with tempfile.TemporaryDirectory() as tmp:
        path = with_agent_template("n100", Path(tmp))
        lab = RunningLab(labfile.load(str(path)), speed=30, directory=Path(tmp) / "lab").start()
        inventory = from_config(load_config(lab.config_path))
        journal = Path(tmp) / "journal.jsonl"
        try:
            inventory.refresh(timeout=30)
            inventory.start()
            app = CockpitApp(inventory, action_context=lambda: context_for(inventory, journal))
            async with app.run_test(size=(160, 48)) as pilot:
                app.start_action(
                    "replace", {"node": "worker-1", "force": True, "delete_emptydir_data": True}
                )
                while not isinstance(app.screen, PlanScreen):
                    await pilot.pause(0.1)
                await pilot.press(*"worker-1")
                await pilot.click("#run")
                while not (isinstance(app.screen, RunbookScreen) and app.screen.outcome):
                    await pilot.pause(0.2)
                app.save_screenshot(filename="n100-replace-160x48.svg", path=str(out))
        finally:
            inventory.stop()
            lab.stop()
    return out / "n100-replace-160x48.svg"


async def main(lab: str, out: Path, runbook: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for theme in load_themes().names:
        for size in SIZES:
            print(await render(lab, theme, size, out))
    for shot in await render_outage(out):
        print(shot)
    if runbook:
        print(await render_runbook(out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="n100", help="a built-in lab or a lab file")
    parser.add_argument("--out", type=Path, default=OUT, help="where the SVG files go")
    parser.add_argument(
        "--runbook", action="store_true", help="also run a node replacement in a lab (~1 min)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.lab, args.out, args.runbook))
