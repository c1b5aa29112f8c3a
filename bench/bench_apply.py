"""Times what one change costs the screen: the app mounted in-process (Textual's headless
driver) on a frozen synthetic lab, then handed snapshots that differ from the last by one
modified pod, either with the keys that changed (what the inventory publishes now) or as a
whole changed layer (what it published before, and what a theme switch still does).

    .venv/bin/python bench/bench_apply.py [--pods 10000] [--changes 50] [--profile]
        [--change modified|added|removed] [--filter TEXT]

--change: what each snapshot does to one pod (a pod that comes or goes changes the rows'
order and the sections, a modified one does not). --filter: the pods pane's filter, as
typed after `/` (the side-by-side harness shows the cockpit's pods filtered by namespace).

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
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import synthetic_lab

from cockpit.inventory import Changes, LayerDelta
from cockpit.labfile import Lab
from cockpit.model import Snapshot
from cockpit.relations import pod_key
from cockpit.ui.app import CockpitApp
from cockpit.ui.static import StaticInventory


def changed_pod(snapshot: Snapshot, i: int, change: str) -> tuple[Snapshot, Changes]:
    pods = list(snapshot.pods)
    at = (i * 7919) % len(pods)
    if change == "removed":
        key = pod_key(pods.pop(at))
        delta = LayerDelta(removed=frozenset({key}))
    elif change == "added":
        pod = dataclasses.replace(pods[at], name=f"{pods[at].name}-{i}")
        pods.append(pod)
        key = pod_key(pod)
        delta = LayerDelta(added=frozenset({key}), records={key: pod})
    else:
        pod = dataclasses.replace(pods[at], restarts=pods[at].restarts + 1)
        pods[at] = pod
        key = pod_key(pod)
        delta = LayerDelta(modified=frozenset({key}), records={key: pod})
    new = dataclasses.replace(snapshot, pods=tuple(pods), version=snapshot.version + 1)
    return new, Changes({"pods"}, {"pods": delta})


async def run(app: CockpitApp, args: argparse.Namespace, keyed: bool, profiler: Any) -> list:
    times = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        app.select("pod", next(iter(app.table("pod").shown)))
        if args.filter:
            app.filters["pod"] = args.filter
            app._render("pod")
        await pilot.pause()
        snapshot = app.snapshot
        for i in range(args.changes):
            snapshot, change = changed_pod(snapshot, i, args.change)
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
    parser.add_argument("--change", choices=("modified", "added", "removed"), default="modified")
    parser.add_argument("--filter", default="")
    args = parser.parse_args()
    lab = Lab(
        "synthetic",
        f"{args.pods} pods",
        synthetic_lab(nodes=max(10, args.pods // 50), pods=args.pods),
    )
    for keyed in (False, True):
        profiler = cProfile.Profile() if args.profile and keyed else None
        app = CockpitApp(StaticInventory(lab.snapshot))
        times = asyncio.run(run(app, args, keyed, profiler))
        label = "keys that changed" if keyed else "whole pods layer"
        ms = sorted(t * 1000 for t in times)
        print(
            f"{args.pods} pods, one pod {args.change}, {label}:"
            f" median {statistics.median(ms):.1f} ms,"
            f" p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, min {ms[0]:.1f} ms"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
