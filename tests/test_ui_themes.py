"""Themes are data: themes/*.toml load into Textual themes, a broken file is named and
skipped, an unknown name falls back to dark, and ctrl+t cycles them live."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.ui.app import CockpitApp
from cockpit.ui.palette import DEFAULT_PALETTE
from cockpit.ui.static import StaticInventory
from cockpit.ui.themes import THEMES_DIR, ThemeFileError, load_theme, load_themes, palette_for

SIZE = (160, 48)


def test_the_shipped_themes_load_with_dark_first():
    found = load_themes()
    assert found.errors == []
    assert found.names[0] == "dark"
    assert {"dark", "light", "ansi16"} <= set(found.names)
    assert found.themes["light"].dark is False
    assert found.themes["ansi16"].ansi is True


def test_ansi16_uses_only_ansi_colours():
    theme = load_themes().themes["ansi16"]
    colours = [theme.primary, theme.secondary, theme.accent, theme.success, theme.error]
    assert all(c and c.startswith("ansi_") for c in colours)
    # Rich spells them without the prefix; the palette must be something rich can parse.
    assert palette_for(theme).ok == "green"


def test_light_palette_is_not_the_default_bright_colours():
    palette = palette_for(load_themes().themes["light"])
    assert palette.ok.startswith("#") and palette != DEFAULT_PALETTE


def test_a_missing_folder_still_gives_the_builtin_dark(tmp_path: Path):
    found = load_themes(tmp_path / "nowhere")
    assert found.names == ["dark"] and found.errors == []


def _broken(tmp_path: Path, old: str, new: str, name: str = "broken.toml") -> Path:
    text = (THEMES_DIR / "light.toml").read_text().replace(old, new)
    path = tmp_path / name
    path.write_text(text.replace('name = "light"', 'name = "broken"'))
    return path


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('primary = "#1f5fa8"', 'primary = "not-a-colour"', "primary"),
        ('error = "#b3261e"', "", "error"),
        ("dark = false", 'dark = "no"', "dark"),
        ('accent = "#b0560f"', 'acent = "#b0560f"', "acent"),
    ],
)
def test_a_broken_file_names_the_file_and_the_key(tmp_path: Path, old, new, key):
    path = _broken(tmp_path, old, new)
    with pytest.raises(ThemeFileError) as caught:
        load_theme(path)
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert f"broken.toml: {key}:" in str(caught.value)


def test_invalid_toml_is_reported_not_raised(tmp_path: Path):
    (tmp_path / "bad.toml").write_text("name = [unclosed")
    (tmp_path / "light.toml").write_text((THEMES_DIR / "light.toml").read_text())
    found = load_themes(tmp_path)
    assert set(found.names) == {"dark", "light"}
    assert len(found.errors) == 1 and "bad.toml" in found.errors[0]


@pytest.mark.asyncio
async def test_the_app_starts_on_dark_despite_a_broken_theme_file(tmp_path: Path):
    _broken(tmp_path, 'primary = "#1f5fa8"', 'primary = "nope"')
    app = CockpitApp(StaticInventory.from_lab(), themes_dir=tmp_path, theme_name="broken")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "dark"
        status = app.status_text()
        assert "broken.toml: primary" in status
        assert "unknown theme 'broken', using dark" in status
        assert len(app.table("pod").shown) > 0  # the panes filled all the same


@pytest.mark.asyncio
async def test_an_unknown_theme_name_falls_back_to_dark():
    app = CockpitApp(StaticInventory.from_lab(), theme_name="solarized-nope")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "dark"
        assert "unknown theme 'solarized-nope', using dark" in app.status_text()


@pytest.mark.asyncio
async def test_a_known_theme_is_applied_without_a_notice():
    app = CockpitApp(StaticInventory.from_lab(), theme_name="light")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "light"
        assert app.current_theme.dark is False
        assert "unknown theme" not in app.status_text()


@pytest.mark.asyncio
async def test_ctrl_t_cycles_the_themes_and_recolours_the_rows():
    app = CockpitApp(StaticInventory.from_lab())
    names = load_themes().names
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == names[0]
        ready = app.table("node").shown["worker-1"][3]  # the Status cell (after the mark)
        seen = [app.theme]
        for _ in names:
            await pilot.press("ctrl+t")
            await pilot.pause()
            seen.append(app.theme)
        assert seen == [*names, names[0]]  # every theme once, then round again
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.palette == palette_for(app.current_theme)
        recoloured = app.table("node").shown["worker-1"][3]
        assert recoloured.plain == ready.plain and recoloured.style != ready.style


@pytest.mark.asyncio
async def test_cells_are_drawn_in_their_colours_on_every_theme():
    """What reaches the terminal: the drawn line of worker-1 has Ready in the theme's "ok"
    colour and the section title of the pods pane has the pane's background."""
    from rich.style import Style

    app = CockpitApp(StaticInventory.from_lab())
    async with app.run_test(size=SIZE) as pilot:
        for name in load_themes().names:
            app.theme = name
            await pilot.pause()
            nodes = app.table("node")
            row = nodes.get_row_index("worker-1") + 1  # +1: the header line
            drawn = {seg.text.strip(): seg.style for seg in nodes.render_line(row)}
            ok = Style.parse(app.palette.ok).color
            assert drawn["Ready"].color == ok, name
            pods = app.table("pod")
            title = next(iter(pods.render_line(1)))  # the first section title
            assert title.text.startswith("── ") and title.style.bgcolor == pods.rich_style.bgcolor
