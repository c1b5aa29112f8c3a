"""Render the cockpit to SVG, for every theme at 80x24 (tabs) and 160x48 (grid).

    .venv/bin/python scripts/screenshots.py [--lab n100] [--out screenshots]

The data is a built-in lab's snapshot with fixed healths (cockpit.ui.static), not a running
lab, so the files only change when the UI does.
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


async def main(lab: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for theme in load_themes().names:
        for size in SIZES:
            print(await render(lab, theme, size, out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="n100", help="a built-in lab or a lab file")
    parser.add_argument("--out", type=Path, default=OUT, help="where the SVG files go")
    args = parser.parse_args()
    asyncio.run(main(args.lab, args.out))
