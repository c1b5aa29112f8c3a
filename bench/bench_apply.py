"""Times what one change costs the screen: the app mounted in-process (Textual's headless
driver) on a frozen synthetic lab, then handed snapshots that differ from the last by one
modified pod, either with the keys that changed (what the inventory publishes now) or as a
whole changed layer (what it published before, and what a theme switch still does).

    .venv/bin/python bench/bench_apply.py [--pods 10000] [--changes 50] [--profile]

--profile prints where the keyed path spends its time (cProfile, by cumulative time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import synthetic_lab

from cockpit.inventory import Changes, LayerDelta
from cockpit.labfile import Lab
from cockpit.model import Snapshot
from cockpit.relations import pod_key
from cockpit.ui.app import CockpitApp
from cockpit.ui.static import StaticInventory


def changed_pod(snapshot: Snapshot, i: int) -> tuple[Snapshot, Changes]:
    pods = list(snapshot.pods)
    at = (i * 7919) % len(pods)
    pod = dataclasses.replace(pods[at], restarts=pods[at].restarts + 1)
    pods[at] = pod
    new = dataclasses.replace(snapshot, pods=tuple(pods), version=snapshot.version + 1)
    key = pod_key(pod)
    delta = LayerDelta(modified=frozenset({key}), records={key: pod})
    return new, Changes({"pods"}, {"pods": delta})


async def run(app: CockpitApp, changes: int, keyed: bool, profiler: cProfile.Profile | None):
    times = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        app.select("pod", next(iter(app.table("pod").shown)))
        await pilot.pause()
        snapshot = app.snapshot
        for i in range(changes):
            snapshot, change = changed_pod(snapshot, i)
            layers = change if keyed else frozenset(change)
            if profiler:
                profiler.enable()
            started = time.perf_counter()
            app.apply(snapshot, layers)
            await pilot.pause()  # the frame: Textual renders the refreshed lines
            times.append(time.perf_counter() - started)
            if profiler:
                profiler.disable()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    lab = Lab(
        "synthetic",
        f"{args.pods} pods",
        synthetic_lab(nodes=max(10, args.pods // 50), pods=args.pods),
    )
    for keyed in (False, True):
        profiler = cProfile.Profile() if args.profile and keyed else None
        app = CockpitApp(StaticInventory(lab.snapshot))
        times = asyncio.run(run(app, args.changes, keyed, profiler))
        label = "keys that changed" if keyed else "whole pods layer"
        ms = sorted(t * 1000 for t in times)
        print(
            f"{args.pods} pods, one pod modified, {label}: median {statistics.median(ms):.1f} ms,"
            f" p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, min {ms[0]:.1f} ms"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
