"""Where themes come from: the shipped ones (package data, or the checkout's themes/), then
the operator's own under $XDG_CONFIG_HOME/cockpit/themes/. A fresh process each time, as the
cockpit starts. (scripts/check_wheel.sh checks the shipped themes from a built wheel.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NAMES = "from cockpit.ui.themes import load_themes; print(' '.join(load_themes().names))"


def names(env: dict[str, str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", NAMES], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.split()


def test_user_themes_under_xdg_config_home_are_loaded(tmp_path: Path):
    mine = tmp_path / "cockpit" / "themes"
    mine.mkdir(parents=True)
    shipped = (Path(__file__).parents[1] / "themes" / "light.toml").read_text()
    (mine / "solar.toml").write_text(shipped.replace('name = "light"', 'name = "solar"'))
    found = names({"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "PATH": ""})
    assert "solar" in found
    assert {"dark", "light", "ansi16"} <= set(found)  # the shipped ones stay


def test_without_user_themes_the_shipped_ones_are_there(tmp_path: Path):
    found = names({"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "PATH": ""})
    assert sorted(found) == ["ansi16", "dark", "light"]
