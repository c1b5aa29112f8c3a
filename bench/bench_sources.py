"""Times the live path on the lab: start to a full Snapshot through config -> adapters ->
inventory, and how many watch events per second the Kubernetes adapter absorbs.

    .venv/bin/python bench/bench_sources.py [--pods 1000] [--events 5000]

The lab is a synthetic one (bench/synthetic.py) seeded into the lab apiserver. For the
snapshot it runs in a forked process, as a cluster would; for the watch rate its
controllers are paused so the figure measures the adapter.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import synthetic_lab

from cockpit.config import load_config
from cockpit.inventory import from_config
from cockpit.lab.runner import RunningLab
from cockpit.labfile import Lab


def serve_lab(pods: int, directory: str, ready: Any, stop: Any) -> None:
    """The lab in its own process, as a real cluster would be: its threads do not share the
    measured interpreter."""
    snap = synthetic_lab(nodes=max(10, pods // 50), pods=pods)
    running = RunningLab(
        Lab("synthetic", f"{pods} pods", snap), speed=1, directory=Path(directory)
    ).start()
    ready.set()
    stop.wait()
    running.stop()


def time_snapshot(pods: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        ready, stop = multiprocessing.Event(), multiprocessing.Event()
        child = multiprocessing.get_context("fork").Process(
            target=serve_lab, args=(pods, directory, ready, stop), daemon=True
        )
        t0 = time.perf_counter()
        child.start()
        ready.wait(600)
        print(
            f"lab with {pods} pods started (separate process) in {time.perf_counter() - t0:.2f} s"
        )
        try:
            t0 = time.perf_counter()
            inventory = from_config(load_config(Path(directory) / "config.toml"))
            snapshot = inventory.refresh(timeout=300)
            elapsed = time.perf_counter() - t0
            print(
                f"start -> full snapshot (kube list+watch, proxmox, tailscale, topology): "
                f"{elapsed:.2f} s  ({len(snapshot.pods)} pods, {len(snapshot.guests)} "
                f"guests, health {[h.state for h in inventory.health().values()]})"
            )
            inventory.stop()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS of the cockpit process: {rss:.0f} MiB")
        finally:
            stop.set()
            child.join(30)


def time_watch(pods: int, events: int) -> None:
    """Cut the adapter's watches, write a burst, let it reconnect: it receives the whole
    burst from the watch history at once, so the rate is the adapter's own."""
    snap = synthetic_lab(nodes=max(10, pods // 50), pods=pods)
    running = RunningLab(Lab("synthetic", f"{pods} pods", snap), speed=1).start()
    running.kube.controllers.stop()  # a still cluster: only the adapter is measured
    try:
        inventory = from_config(load_config(running.config_path))
        inventory.refresh(timeout=300)
        kube, store = inventory.kube, running.kube.store
        count = min(events, 4000)  # the lab keeps 4096 events of history per resource
        running.kube.face.faults.cut_watches.set()
        while kube.errors["pods"] is None:
            time.sleep(0.01)
        for i, pod in enumerate(store.items("pods")[:count]):
            fresh = store.get("pods", (pod["metadata"]["namespace"], pod["metadata"]["name"]))
            fresh["metadata"].setdefault("annotations", {})["bench"] = str(i)
            store.update("pods", fresh)
        seen = kube.events_seen
        running.kube.face.faults.cut_watches.clear()
        while kube.events_seen == seen:
            time.sleep(0.0005)
        first = time.perf_counter()
        while kube.events_seen < seen + count:
            time.sleep(0.0005)
        rate = (count - 1) / (time.perf_counter() - first)
        print(
            f"watch: a burst of {count} pod updates absorbed at {rate:,.0f} events/s "
            "(parsed into records; the lab serves from the same process)"
        )
        inventory.stop()
    finally:
        running.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--events", type=int, default=4000)
    args = parser.parse_args()
    time_snapshot(args.pods)
    time_watch(args.pods, args.events)


if __name__ == "__main__":
    main()
