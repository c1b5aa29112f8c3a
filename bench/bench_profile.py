"""Where the running cockpit spends its CPU: the real `cockpit` in tmux (160x48) against a
synthetic lab in another process, idle or under the side-by-side harness's load, with the
CPU from /proc over the window and, with --out, a py-spy profile of every thread.

    .venv/bin/pip install -e '.[bench]'       # py-spy
    .venv/bin/python -u bench/bench_profile.py --pods 10000 --seconds 30 [--load 100]
        [--out /tmp/cockpit.raw]

Idle: the window starts 10 s after all three sources are ok. --load N: N annotation patches
a second on pods (as bench_live.py sends them), and a probe pod created then deleted in
turn, each timed from the API's answer to the screen. The raw profile (py-spy's `raw`
format, one stack per line with its count) is summed per thread and function at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_live import COCKPIT, COCKPIT_SETUP, Api, Load, tmux
from bench_ui import serve

PY_SPY = Path(sys.executable).parent / "py-spy"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(raw: Path, top: int = 25) -> None:
    threads: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        threads[frames[0]] += int(count)
        for frame in set(frames[1:]):
            if "cockpit/" in frame:
                functions[frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1]] += int(count)
    print("samples per thread:", threads.most_common(8))
    for name, count in functions.most_common(top):
        print(f"{count:6d} {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--load", type=float, default=0.0, help="patches/s (0: idle)")
    parser.add_argument("--out", type=Path, help="write py-spy's raw profile here")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp())
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    lab = multiprocessing.Process(target=serve, args=(args.pods, str(home), ready, stop))
    lab.start()
    ready.wait()
    name = f"bench-profile-{time.monotonic_ns()}"
    env = f"-u COLUMNS -u LINES XDG_STATE_HOME={home}/state"
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48",
         f"exec env {env} {COCKPIT} --config {home / 'config.toml'} --readonly")  # fmt: skip
    pid = int(tmux("display", "-p", "-t", name, "#{pane_pid}"))
    try:
        screen = lambda: tmux("capture-pane", "-t", name, "-p")  # noqa: E731
        started = time.perf_counter()
        while "Homelab Cockpit" not in screen():
            time.sleep(0.05)
        for keys in COCKPIT_SETUP:
            if keys[0] == "until":
                for _ in range(15):
                    tmux("send-keys", "-t", name, "-l", keys[1])
                    time.sleep(0.3)
                    if keys[2] in screen():
                        break
            else:
                tmux("send-keys", "-t", name, *keys)
        while not all(m in screen() for m in ("kube ok", "proxmox ok", "tailscale ok")):
            time.sleep(0.1)
        print(f"all sources ok after {time.perf_counter() - started:.1f} s")
        time.sleep(10)
        api = Api(next(home.rglob("kubeconfig*")))
        load = Load(api, args.load)
        load.start()
        spy = None
        if args.out:
            spy = subprocess.Popen(
                [str(PY_SPY), "record", "-p", str(pid), "-d", str(args.seconds), "-o",
                 str(args.out), "-f", "raw", "-r", "100", "--threads", "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        cpu, end = cpu_seconds(pid), time.perf_counter() + args.seconds
        added, deleted = [], []
        i = 0
        while args.load and time.perf_counter() < end - 3:
            probe = f"profile-probe-{i}"
            i += 1
            api.create_pod(probe)
            t = time.perf_counter()
            while probe not in screen() and time.perf_counter() - t < 10:
                time.sleep(0.005)
            added.append(time.perf_counter() - t)
            api.delete_pod(probe)
            t = time.perf_counter()
            while probe in screen() and time.perf_counter() - t < 10:
                time.sleep(0.005)
            deleted.append(time.perf_counter() - t)
        time.sleep(max(0.0, end - time.perf_counter()))
        print(f"CPU in {args.seconds} s: {cpu_seconds(pid) - cpu:.2f} s")
        for what, values in (("added", added), ("deleted", deleted)):
            if values:
                values.sort()
                print(f"pod {what} -> screen: median {values[len(values) // 2]:.2f} s, "
                      f"max {values[-1]:.2f} s, n={len(values)}")  # fmt: skip
        load.stop.set()
        if spy is not None:
            spy.wait()
            summary(args.out)
    finally:
        tmux("kill-session", "-t", name)
        stop.set()
        lab.join(10)


if __name__ == "__main__":
    main()
