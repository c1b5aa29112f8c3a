"""How long each source stays "ok" after its server stops answering, and how long it takes
to be "ok" again once the server is back, with the default settings.

    .venv/bin/python bench/bench_liveness.py [--lab n100] [--rounds 3]

The lab runs in its own process, reached through the config it writes (config -> adapters
-> inventory, the path a real homelab takes). Each round SIGSTOPs the lab process (a hung
server: connections open, nothing answers), measures until every source's health leaves
"ok", SIGCONTs it and measures until all three are "ok" again. The last round SIGKILLs it
(a stopped server: connections refused) and measures until every source leaves "ok".
Health is read the way the status line reads it, every 50 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cockpit import labfile
from cockpit.config import load_config
from cockpit.inventory import from_config
from cockpit.lab.runner import RunningLab

SOURCES = ("kube", "proxmox", "tailscale")


def serve_lab(name: str, directory: str, ready: Any) -> None:
    RunningLab(labfile.load(name), speed=1, directory=Path(directory)).start()
    ready.set()
    while True:
        time.sleep(3600)


def wait_states(inventory: Any, ok: bool, limit: float = 120.0) -> dict[str, float]:
    """Seconds until each source is ok (or, with ok=False, not ok)."""
    started = time.monotonic()
    seen: dict[str, float] = {}
    while len(seen) < len(SOURCES) and time.monotonic() - started < limit:
        health = inventory.health()
        for name in SOURCES:
            if name not in seen and (health[name].state == "ok") == ok:
                seen[name] = time.monotonic() - started
        time.sleep(0.05)
    return {n: seen.get(n, float("inf")) for n in SOURCES}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", default="n100")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="cockpit-liveness-")
    ready = multiprocessing.Event()
    lab = multiprocessing.Process(target=serve_lab, args=(args.lab, directory, ready))
    lab.start()
    ready.wait(60)
    inventory = from_config(load_config(Path(directory) / "config.toml"))
    inventory.start()
    try:
        first = wait_states(inventory, ok=True)
        print(f"first sync: {max(first.values()):.1f} s")
        hung: dict[str, list[float]] = {n: [] for n in SOURCES}
        back: dict[str, list[float]] = {n: [] for n in SOURCES}
        for _ in range(args.rounds):
            time.sleep(2)
            os.kill(lab.pid, signal.SIGSTOP)
            for name, took in wait_states(inventory, ok=False).items():
                hung[name].append(took)
            time.sleep(1)
            os.kill(lab.pid, signal.SIGCONT)
            for name, took in wait_states(inventory, ok=True).items():
                back[name].append(took)
        time.sleep(2)
        os.kill(lab.pid, signal.SIGKILL)
        stopped = wait_states(inventory, ok=False)
        print(f"{'source':10} {'hung: not ok after':>22} {'resumed: ok after':>20} "
              f"{'killed: not ok after':>22}")  # fmt: skip
        for name in SOURCES:
            print(
                f"{name:10} {_span(hung[name]):>22} {_span(back[name]):>20} "
                f"{stopped[name]:>20.1f} s"
            )
    finally:
        inventory.stop()
        if lab.is_alive():
            os.kill(lab.pid, signal.SIGKILL)
        lab.join(5)
    return 0


def _span(values: list[float]) -> str:
    return f"{min(values):.1f}-{max(values):.1f} s (median {statistics.median(values):.1f})"


if __name__ == "__main__":
    sys.exit(main())
