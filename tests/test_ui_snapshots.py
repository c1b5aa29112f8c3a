"""What the cockpit looks like, pinned with pytest-textual-snapshot over a frozen lab
(cockpit.ui.static), plus the layout switch between tabs (narrow) and the grid (wide).

After an intended UI change: `.venv/bin/pytest tests/test_ui_snapshots.py --snapshot-update`
and review the SVGs in tests/__snapshots__/.
"""

from __future__ import annotations

import pytest

from cockpit import labfile
from cockpit.alloc.ledger import build_ledger
from cockpit.ui.app import CockpitApp
from cockpit.ui.static import StaticInventory
from cockpit.ui.themes import load_themes
from cockpit.units import format_ratio


def _app(theme: str = "dark") -> CockpitApp:
    return CockpitApp(StaticInventory.from_lab("n100"), theme_name=theme)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_main_screen(snap_compare, size):
    assert snap_compare(_app(), terminal_size=size)


@pytest.mark.parametrize("theme", load_themes().names)
def test_each_theme_wide(snap_compare, theme):
    assert snap_compare(_app(theme), terminal_size=(160, 48))


def test_narrow_tab_moves_to_the_guests_tab(snap_compare):
    assert snap_compare(_app(), terminal_size=(80, 24), press=["tab"])


@pytest.mark.asyncio
async def test_narrow_shows_one_pane_as_tabs_and_resizing_switches_live():
    app = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = {
            kind for kind in ("host", "guest", "peer", "node", "pod") if app.table(kind).display
        }
        assert app.narrow and shown == {"host"}
        assert app.query_one("#tabs").display
        assert app.query_one("#gauge").region.height == 1  # gauge and status stay on screen
        assert app.query_one("#status").region.height == 1

        await pilot.press("shift+tab")  # wraps round to the last tab
        assert app.focused is app.table("pod") and app.table("pod").display
        assert not app.table("host").display

        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert not app.narrow and not app.query_one("#tabs").display
        assert all(app.table(k).display for k in ("host", "guest", "peer", "node", "pod"))
        assert app.focused is app.table("pod")  # the pane in use stays in use

        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert app.narrow and app.table("pod").display and not app.table("guest").display


@pytest.mark.asyncio
async def test_selecting_a_row_in_a_hidden_tab_brings_the_tab_forward():
    app = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.select("guest", "pve/102")
        await pilot.pause()
        assert app.active_pane == "guest" and app.table("guest").display
        assert app.marked("node") == {"worker-1"}


@pytest.mark.asyncio
async def test_the_gauge_says_what_the_ledger_says():
    lab = labfile.load("n100")
    host = build_ledger(lab.snapshot, lab.thresholds).host("pve")
    app = _app()
    async with app.run_test(size=(160, 48)) as pilot:
        app.select("host", "pve")
        await pilot.pause()
        gauge = str(app.query_one("#gauge").render())
        for ratio in (host.cpu, host.memory, host.disk):
            assert f"{format_ratio(ratio.ratio)} {ratio.verdict}" in gauge
        assert gauge.count("x ") >= 3
