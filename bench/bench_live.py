"""The cockpit and its peers, measured side by side as a person meets them: real processes in
tmux at 160x48, against one lab served by another process, in the same run, alternating.

    .venv/bin/python -u bench/bench_live.py [--pods 10000] [--runs 3] [--load 100]
        [--tools cockpit,korvid,kutop,kuno] [--idle 30]

The peers (korvid, kutop, kuno: Python Kubernetes TUIs from PyPI) are installed on first use
into their own venv (bench/.peers, ignored by git), never into the project's.

For each tool and run:
  first frame      launch -> anything of the tool on the screen
  pods on screen   launch -> a known pod row shown (the peers start in namespace `default`,
                   where the harness keeps its probe pods; the cockpit shows every pod)
  sources ok       launch -> all three sources ok (the cockpit only)
  RSS              VmRSS 10 s after the pods were shown, and the peak (VmHWM)
  key -> screen    a Down (then Up, in turn) key to the first change of the screen, p95
                   of 20, under the background load
  event -> screen  the harness creates a pod (and later deletes it) through the API and
                   watches the screen for its name, median and p95 of --events, under load
  idle             CPU seconds (utime+stime from /proc) and bytes written to the terminal
                   (tmux pipe-pane) in --idle seconds with no object changing
The background load patches an annotation of existing pods at --load events/s (0: none).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))

from bench_ui import serve  # the lab in a forked process, as a cluster would be

HERE = Path(__file__).parent
PEERS_VENV = HERE / ".peers"
PEERS = {"korvid": "0.6.0", "kutop": "0.6.0", "kuno": "0.2.2"}
COCKPIT = str(Path(sys.executable).parent / "cockpit")
SIZE = ("160", "48")
PROBE_NS = "default"
# Keys to send, or ("until", key, text): that key again every 2 s until the screen shows
# text (the command box opened: a key sent before the app listens is lost).
COCKPIT_SETUP = (
    ("until", ":", ":pods worker-1"),
    ("-l", f"pods {PROBE_NS}/"),
    ("Enter",),
    ("BTab",),
    ("Home",),
)


# --- the lab's API, spoken directly (no client library on the measured path) ------------------


class Api:
    def __init__(self, kubeconfig: Path) -> None:
        doc = json.loads(kubeconfig.read_text())
        parts = urlsplit(doc["clusters"][0]["cluster"]["server"])
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token = doc["users"][0]["user"]["token"]
        self._local = threading.local()

    def call(
        self, method: str, path: str, body: Any = None, ctype: str = "application/json"
    ) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": ctype}
        data = json.dumps(body).encode() if body is not None else None
        try:
            conn.request(method, path, data, headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self._local.conn = None
            raise
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:200]!r}")
        return json.loads(raw) if raw else None

    def create_pod(self, name: str) -> None:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": PROBE_NS, "labels": {"app": "bench-probe"}},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]},
        }
        self.call("POST", f"/api/v1/namespaces/{PROBE_NS}/pods", pod)

    def delete_pod(self, name: str) -> None:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
        self.call("DELETE", f"/api/v1/namespaces/{PROBE_NS}/pods/{name}", body)

    def pod_refs(self, limit: int = 500) -> list[tuple[str, str]]:
        items = self.call("GET", f"/api/v1/pods?limit={limit}")["items"]
        return [
            (p["metadata"]["namespace"], p["metadata"]["name"])
            for p in items
            if p["metadata"]["namespace"] != PROBE_NS
        ]


class Load(threading.Thread):
    """Annotation patches at a steady rate: changes every watcher has to take in."""

    def __init__(self, api: Api, rate: float) -> None:
        super().__init__(daemon=True)
        self.api, self.rate = api, rate
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        if self.rate <= 0:
            return
        refs = self.api.pod_refs()
        interval, due = 1.0 / self.rate, time.perf_counter()
        while not self.stop.is_set():
            ns, name = refs[self.sent % len(refs)]
            patch = {"metadata": {"annotations": {"bench/tick": str(self.sent)}}}
            # A pod deleted under us: the next one will do.
            with contextlib.suppress(OSError, RuntimeError, http.client.HTTPException):
                self.api.call(
                    "PATCH",
                    f"/api/v1/namespaces/{ns}/pods/{name}",
                    patch,
                    "application/merge-patch+json",
                )
            self.sent += 1
            due += interval
            self.stop.wait(max(0.0, due - time.perf_counter()))


# --- one tool in tmux ------------------------------------------------------------------------


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


@dataclass
class Tool:
    name: str
    command: list[str]
    first_marker: str  # shown once the tool has drawn itself
    ok_markers: tuple[str, ...] = ()
    env: str = ""  # extra environment, "NAME=value ..."
    # Typed once the tool has drawn itself: the cockpit's pods pane filtered to the probes'
    # namespace, as the peers are started in it (at 10,000 pods a probe's row would
    # otherwise be off screen, and "gone from the screen" would prove nothing); then
    # shift+tab to the nodes pane, where the Down keys of the key test move the selection.
    setup: tuple[tuple[str, ...], ...] = ()


def tools(names: list[str], config: Path, baseline: str | None = None) -> list[Tool]:
    out = []
    for name in names:
        if name == "cockpit":
            out.append(
                Tool(
                    "cockpit",
                    [COCKPIT, "--config", str(config), "--readonly"],
                    "Homelab Cockpit",
                    ("kube ok", "proxmox ok", "tailscale ok"),
                    setup=COCKPIT_SETUP,
                )
            )
        elif name == "baseline":
            # Another checkout of the cockpit (e.g. `git archive` of an older commit), run
            # by this venv's Python: before/after figures from one run on one machine.
            out.append(
                Tool(
                    "baseline",
                    [sys.executable, "-m", "cockpit", "--config", str(config), "--readonly"],
                    "Homelab Cockpit",
                    ("kube ok", "proxmox ok", "tailscale ok"),
                    env=f"PYTHONPATH={baseline}",
                    setup=COCKPIT_SETUP,
                )
            )
        else:
            binary = str(PEERS_VENV / "bin" / name)
            args = {"korvid": ["-n", PROBE_NS, "--readonly"], "kuno": ["-n", PROBE_NS]}
            if name == "kutop":
                args["kutop"] = [PROBE_NS]
            out.append(Tool(name, [binary, *args[name]], name if name != "korvid" else "korvid"))
    return out


def install_peers() -> None:
    if all((PEERS_VENV / "bin" / name).exists() for name in PEERS):
        return
    subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    pins = [f"{name}=={version}" for name, version in PEERS.items()]
    subprocess.run([str(PEERS_VENV / "bin" / "pip"), "install", "-q", *pins], check=True)


@dataclass
class Result:
    first: float = 0.0
    pods: float = 0.0
    ok: float = 0.0
    rss: float = 0.0
    peak: float = 0.0
    keys: list[float] = field(default_factory=list)
    added: list[float] = field(default_factory=list)
    deleted: list[float] = field(default_factory=list)
    idle_cpu: float = 0.0
    idle_bytes: int = 0


class Session:
    def __init__(self, tool: Tool, kubeconfig: Path, home: Path) -> None:
        self.tool = tool
        self.name = f"bench-{tool.name}-{time.monotonic_ns()}"
        self.out = home / f"{self.name}.bytes"
        # COLUMNS/LINES from the tmux server's own environment (a shared server may carry
        # 80x24) would win over the window's size in every tool that asks
        # shutil.get_terminal_size(): they must go, or the tools draw at 80x24.
        env = (
            f"-u COLUMNS -u LINES KUBECONFIG={kubeconfig} HOME={home} "
            f"XDG_STATE_HOME={home}/state TERM=xterm-256color {tool.env}"
        )
        command = " ".join(tool.command)
        self.started = time.perf_counter()
        tmux("new-session", "-d", "-s", self.name, "-x", SIZE[0], "-y", SIZE[1],
             f"exec env {env} {command}")  # fmt: skip
        self.pid = int(tmux("display", "-p", "-t", self.name, "#{pane_pid}").strip() or 0)

    def screen(self) -> str:
        return tmux("capture-pane", "-t", self.name, "-p")

    def wait(self, test: Any, timeout: float) -> float:
        """Seconds from now until test(screen) holds; 0.0 if it never did."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if test(self.screen()):
                return time.perf_counter() - start
            time.sleep(0.005)
        return 0.0

    def status(self, key: str) -> float:
        try:
            lines = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        except OSError:  # the tool has exited: nothing to read
            return 0.0
        for line in lines:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the tool has exited
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        tmux("send-keys", "-t", self.name, "q")
        time.sleep(0.5)
        tmux("kill-session", "-t", self.name)


def measure(tool: Tool, api: Api, kubeconfig: Path, home: Path, args: Any) -> Result:
    r = Result()
    probe = f"bench-probe-{time.monotonic_ns() % 10**8}"
    api.create_pod(probe)  # a row every tool shows from the start
    s = Session(tool, kubeconfig, home)
    try:
        r.first = s.wait(lambda sc: tool.first_marker in sc, 60)
        for keys in tool.setup:
            if keys[0] == "until":
                for _ in range(15):
                    tmux("send-keys", "-t", s.name, "-l", keys[1])
                    if s.wait(lambda sc, text=keys[2]: text in sc, 2):
                        break
            else:
                tmux("send-keys", "-t", s.name, *keys)
        r.pods = r.first + s.wait(lambda sc: probe in sc, 300)
        if tool.ok_markers:
            r.ok = s.wait(lambda sc: all(m in sc for m in tool.ok_markers), 300) + r.pods
        time.sleep(10)
        r.rss, r.peak = s.status("VmRSS"), s.status("VmHWM")
        # Idle: nothing changes in the lab (no load, no probe).
        tmux("pipe-pane", "-o", "-t", s.name, f"cat >> {s.out}")
        cpu0 = s.cpu_seconds()
        time.sleep(args.idle)
        r.idle_cpu = s.cpu_seconds() - cpu0
        tmux("pipe-pane", "-t", s.name)
        r.idle_bytes = s.out.stat().st_size if s.out.exists() else 0
        load = Load(api, args.load)
        load.start()
        try:
            for i in range(20):
                before = s.screen()
                # Down and Up in turn: the cursor always has somewhere to go, even in a
                # list of three (a key that moves nothing would time the next redraw).
                tmux("send-keys", "-t", s.name, "Up" if i % 2 else "Down")
                took = s.wait(lambda sc, b=before: sc != b, 2)
                if took:
                    r.keys.append(took)
            for i in range(args.events):
                name = f"{probe}-{i}"
                start = time.perf_counter()
                api.create_pod(name)
                if s.wait(lambda sc, n=name: n in sc, 10):
                    r.added.append(time.perf_counter() - start)
                start = time.perf_counter()
                api.delete_pod(name)
                if s.wait(lambda sc, n=name: n not in sc, 10):
                    r.deleted.append(time.perf_counter() - start)
        finally:
            load.stop.set()
            load.join(5)
    finally:
        s.close()
        api.delete_pod(probe)
    return r


# --- the run ---------------------------------------------------------------------------------


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    if not values:
        return "n/a"
    low, mid, high = (fmt.format(f(values)) for f in (min, statistics.median, max))
    return f"{mid} [{low}-{high}]"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0


def _median(values: list[float]) -> list[float]:
    return [statistics.median(values)] if values else []


def _p95(values: list[float]) -> list[float]:
    return [p95(values)] if values else []


def table(results: dict[str, list[Result]]) -> list[str]:
    names = list(results)
    rows = [
        ("first frame, s", lambda r: [r.first]),
        ("pods on screen, s", lambda r: [r.pods]),
        ("all sources ok, s", lambda r: [r.ok] if r.ok else []),
        ("RSS 10 s after data, MiB", lambda r: [r.rss]),
        ("peak RSS, MiB", lambda r: [r.peak]),
        ("event -> screen, pod added, median s", lambda r: _median(r.added)),
        ("event -> screen, pod added, p95 s", lambda r: _p95(r.added)),
        ("event -> screen, pod deleted, median s", lambda r: _median(r.deleted)),
        ("event -> screen, pod deleted, p95 s", lambda r: _p95(r.deleted)),
        ("key -> screen p95, s", lambda r: _p95(r.keys)),
        ("idle CPU, s per window", lambda r: [r.idle_cpu]),
        ("idle bytes to terminal, KiB per window", lambda r: [r.idle_bytes / 1024]),
    ]  # fmt: skip
    out = ["| measure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, pick in rows:
        cells = [spread([v for r in results[n] for v in pick(r)]) for n in names]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=0, help="synthetic lab size (0: n100)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default="cockpit,korvid,kutop,kuno")
    parser.add_argument("--load", type=float, default=100.0, help="background events/s")
    parser.add_argument("--events", type=int, default=10, help="probe pods per run")
    parser.add_argument("--idle", type=float, default=30.0, help="idle window, seconds")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results here")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="a directory holding another cockpit/ package (and themes/), measured as the "
        "tool `baseline` (add it to --tools)",
    )
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed: apt-get install tmux")
    names = [t.strip() for t in args.tools.split(",") if t.strip()]
    if "baseline" in names and not args.baseline:
        sys.exit("--tools baseline needs --baseline DIR (a checkout holding cockpit/)")
    if any(n in PEERS for n in names):
        install_peers()
    with tempfile.TemporaryDirectory() as directory:
        ready, stop = multiprocessing.Event(), multiprocessing.Event()
        child = multiprocessing.get_context("fork").Process(
            target=serve, args=(args.pods, directory, ready, stop), daemon=True
        )
        child.start()
        if not ready.wait(900):
            sys.exit("the lab did not start")
        kubeconfig = Path(directory) / "kubeconfig"
        api = Api(kubeconfig)
        home = Path(directory) / "home"
        home.mkdir()
        results: dict[str, list[Result]] = {n: [] for n in names}
        for run in range(args.runs):
            for tool in tools(names, Path(directory) / "config.toml", args.baseline):
                print(f"run {run + 1}/{args.runs}: {tool.name}", flush=True)
                results[tool.name].append(measure(tool, api, kubeconfig, home, args))
                if args.json:  # kept as it goes: a later tool's failure loses nothing
                    raw = {n: [r.__dict__ for r in rs] for n, rs in results.items()}
                    Path(args.json).write_text(json.dumps(raw, indent=1))
        stop.set()
        child.join(30)
    label = f"{args.pods} pods" if args.pods else "the n100 lab"
    print(f"\n{label}, {args.runs} runs, load {args.load:g} events/s, idle window {args.idle:g} s")
    print("\n".join(table(results)))
    if args.json:
        raw = {n: [r.__dict__ for r in rs] for n, rs in results.items()}
        Path(args.json).write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
