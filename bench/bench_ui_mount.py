"""Times the screen alone: mounting the app in-process (Textual's headless test driver) on a
frozen synthetic lab, so no sources, threads or terminal are involved.

    .venv/bin/python bench/bench_ui_mount.py [--pods 10000] [--profile]

--profile prints where the time goes (cProfile, by own time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import synthetic_lab

from cockpit.labfile import Lab
from cockpit.ui.app import CockpitApp
from cockpit.ui.static import StaticInventory


async def mount(app: CockpitApp) -> float:
    started = time.perf_counter()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    lab = Lab(
        "synthetic",
        f"{args.pods} pods",
        synthetic_lab(nodes=max(10, args.pods // 50), pods=args.pods),
    )
    app = CockpitApp(StaticInventory(lab.snapshot))
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    seconds = asyncio.run(mount(app))
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    print(f"{args.pods} pods: mounted with every pane filled in {seconds:.2f} s")


if __name__ == "__main__":
    main()
