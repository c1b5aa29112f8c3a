"""Times the cockpit as a person starts it: a real process in tmux, reaching a lab that runs
in another process through the config file the lab writes.

    .venv/bin/python -u bench/bench_ui.py [--pods 1000] [--runs 3]

Measured from launching `cockpit --config ...` to: the first frame (the header is on the
screen), and a full screen of data (every source ok and the pods pane filled). RSS is read
from /proc once the data is shown. --pods 0 uses the built-in n100 lab (the demo).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import synthetic_lab

from cockpit import labfile
from cockpit.lab.runner import RunningLab
from cockpit.labfile import Lab

COCKPIT = str(Path(sys.executable).parent / "cockpit")


def serve(pods: int, directory: str, ready: Any, stop: Any) -> None:
    if pods:
        lab = Lab("synthetic", f"{pods} pods", synthetic_lab(nodes=max(10, pods // 50), pods=pods))
    else:
        lab = labfile.load("n100")
    running = RunningLab(lab, speed=1, directory=Path(directory)).start()
    ready.set()
    stop.wait()
    running.stop()


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def one_run(config: Path, pod_marker: str) -> tuple[float, float, float]:
    name = f"bench-{time.monotonic_ns()}"
    start = time.perf_counter()
    tmux(
        "new-session",
        "-d",
        "-s",
        name,
        "-x",
        "160",
        "-y",
        "48",
        f"exec {COCKPIT} --config {config}",
    )
    first = full = 0.0
    rss_mib = 0.0
    deadline = start + 300
    while time.perf_counter() < deadline:
        screen = tmux("capture-pane", "-t", name, "-p")
        now = time.perf_counter() - start
        if not first and "Homelab Cockpit" in screen:
            first = now
        if (
            "kube ok" in screen
            and "proxmox ok" in screen
            and "tailscale ok" in screen
            and pod_marker in screen
        ):
            full = now
            pid = tmux("display", "-p", "-t", name, "#{pane_pid}").strip()
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    rss_mib = int(line.split()[1]) / 1024
            break
        time.sleep(0.02)
    tmux("send-keys", "-t", name, "q")
    time.sleep(0.5)
    tmux("kill-session", "-t", name)
    return first, full, rss_mib


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed: apt-get install tmux")
    with tempfile.TemporaryDirectory() as directory:
        ready, stop = multiprocessing.Event(), multiprocessing.Event()
        child = multiprocessing.get_context("fork").Process(
            target=serve, args=(args.pods, directory, ready, stop), daemon=True
        )
        child.start()
        ready.wait(600)
        marker = "team-" if args.pods else "postgresql-0"  # any pod row on screen
        runs = [one_run(Path(directory) / "config.toml", marker) for _ in range(args.runs)]
        stop.set()
        child.join(30)
    label = f"{args.pods} pods" if args.pods else "the n100 demo lab"
    firsts, fulls, rss = zip(*runs, strict=True)
    print(
        f"{label}: first frame {statistics.median(firsts):.2f} s (best {min(firsts):.2f}), "
        f"full screen of data {statistics.median(fulls):.2f} s (best {min(fulls):.2f}), "
        f"peak RSS {max(rss):.0f} MiB  [{args.runs} runs]"
    )


if __name__ == "__main__":
    main()
