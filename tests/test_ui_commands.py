"""The `:` command line, its completion and the palette; enter/escape drill-in; pod grouping."""

from __future__ import annotations

import pytest

from cockpit.ui.app import CockpitApp
from cockpit.ui.commands import complete
from cockpit.ui.screens.detail import DetailScreen
from cockpit.ui.static import StaticInventory
from cockpit.ui.virtual_table import Section

SIZE = (160, 48)


def _app(**kwargs) -> CockpitApp:
    return CockpitApp(StaticInventory.from_lab("n100"), **kwargs)


@pytest.mark.asyncio
async def test_colon_jumps_to_a_pane_filtered_and_tab_completes():
    app = _app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("colon")
        box = app.query_one("#command")
        assert app.focused is box
        await pilot.press(*"pods work")
        await pilot.pause()
        await pilot.press("tab")  # takes the completion: the first node starting "work"
        assert box.value == "pods worker-1"
        await pilot.press("enter")
        await pilot.pause()
        pods = app.table("pod")
        assert app.focused is pods
        nodes = {cells[2] for cells in pods.shown.values()}
        assert nodes == {"worker-1"}
        await pilot.press("escape")  # clears the filter again
        await pilot.pause()
        assert len(pods.shown) == len(app.snapshot.pods)


def test_completion_follows_the_lab_and_the_mode():
    app = _app()
    app.snapshot = app.inventory.snapshot
    assert complete(app, ":th") == ":theme"
    assert complete(app, "theme li") == "theme light"
    assert complete(app, "drain worker-") == "drain worker-1"
    assert complete(app, "dr") == "drain"
    readonly = _app(readonly=True)
    readonly.snapshot = readonly.inventory.snapshot
    assert complete(readonly, "dr") is None  # mutating commands are not offered


@pytest.mark.asyncio
async def test_unknown_and_readonly_commands_say_why():
    app = _app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.run_command("theme light") and app.theme == "light"
        assert not app.run_command("drain worker-1")
        assert not app.run_command("frobnicate")
        await pilot.pause()
        said = " ".join(str(n.message) for n in app._notifications)
        assert "read-only mode" in said and "unknown command 'frobnicate'" in said


@pytest.mark.asyncio
async def test_enter_drills_in_and_escape_backs_out():
    app = _app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.select("node", "worker-1")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DetailScreen) and screen.key == "worker-1"
        links = screen.query_one("#links")
        ids = {o.id for o in links._options}
        assert "host|pve" in ids and "guest|pve/102" in ids
        assert any(i.startswith("pod|") for i in ids)
        await pilot.press("y")  # YAML: no live source here, so the record, labelled
        await pilot.pause(0.3)
        assert "record" in str(screen.query_one("#body").border_title)
        assert "name: worker-1" in str(screen.query_one("#content").render())
        links.highlighted = [o.id for o in links._options].index("guest|pve/102")
        await pilot.press("enter")  # drill into the guest behind the node
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen) and app.screen.key == "pve/102"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailScreen)


@pytest.mark.asyncio
async def test_pods_are_grouped_by_node_then_namespace_then_not():
    app = _app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pods = app.table("pod")
        titles = [s.title for s in pods.sections.values()]
        assert titles[0].startswith("k3s-master (") and any("worker-1" in t for t in titles)
        await pilot.press("o")
        await pilot.pause()
        titles = [s.title for s in pods.sections.values()]
        assert any(t.startswith("kube-system (") for t in titles)
        await pilot.press("o")
        await pilot.pause()
        assert not pods.sections and len(pods.shown) == len(app.snapshot.pods)
        # The cursor never rests on a section title.
        app.table("pod").focus()
        await pilot.press("o", "home")
        await pilot.pause()
        assert pods.cursor_key in pods.shown and not isinstance(pods.cursor_key, Section)
