"""Times the ledger, a host-loss what-if, a drain what-if and the risk scan on a synthetic
lab (200 nodes / 10,000 pods by default).

    .venv/bin/python bench/bench_engine.py [--nodes 200] [--pods 10000] [--repeat 5]

Each figure is the best (and the median and range) of --repeat runs on a fresh Snapshot
(cached indexes cleared), so lazily built indexes are paid for in every run, as they would
be after a refresh.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import synthetic_lab

from cockpit.alloc.ledger import build_ledger
from cockpit.alloc.risks import find_risks
from cockpit.alloc.whatif import Scenario, what_if
from cockpit.model import Snapshot


def fresh(snap: Snapshot) -> Snapshot:
    # A new Snapshot object shares the records but none of the cached indexes.
    return Snapshot(**{f: getattr(snap, f) for f in Snapshot.__dataclass_fields__})


def timed(label: str, fn, snap: Snapshot, repeat: int) -> float:
    runs = []
    result = None
    for _ in range(repeat):
        s = fresh(snap)
        start = time.perf_counter()
        result = fn(s)
        runs.append((time.perf_counter() - start) * 1000)
    print(
        f"{label:38} best {min(runs):8.1f} ms   median {statistics.median(runs):8.1f} ms"
        f"   range {min(runs):.1f}-{max(runs):.1f} ms   {describe(result)}"
    )
    return min(runs)


def describe(result: object) -> str:
    if hasattr(result, "moves"):
        return (
            f"({len(result.placed)} placed, {len(result.pending)} pending, "
            f"{len(result.preempted)} preempted)"
        )
    if isinstance(result, list):
        return f"({len(result)} risks)"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    snap = synthetic_lab(args.nodes, args.pods)
    print(
        f"synthetic lab: {len(snap.hosts)} hosts, {len(snap.nodes)} nodes, {len(snap.pods)} pods,"
        f" {len(snap.workloads)} workloads (built in {(time.perf_counter() - start):.2f} s)"
    )
    timed("ledger", build_ledger, snap, args.repeat)
    timed(
        "what-if: host pve0 lost (4 nodes)",
        lambda s: what_if(s, Scenario("lose-host", "pve0")),
        snap,
        args.repeat,
    )
    timed(
        "what-if: node node-001 drained",
        lambda s: what_if(s, Scenario("drain", "node-001")),
        snap,
        args.repeat,
    )
    timed("risks", find_risks, snap, args.repeat)


if __name__ == "__main__":
    main()
