"""The cockpit and its peers, measured side by side as a person meets them: real processes in
tmux at 160x48, against one lab served by another process, in the same run, alternating.

    .venv/bin/python -u bench/bench_live.py [--pods 10000] [--runs 3] [--load 100]
        [--tools cockpit,korvid,kutop,kuno] [--idle 30]

The peers (korvid, kutop, kuno: Python Kubernetes TUIs from PyPI) are installed on first use,
each into its own venv (bench/.peers/NAME, ignored by git), never into the project's. kuno
is started through bench/kuno_launch.py (see there: its splash screen ends the app when the
pods come within 0.5 s).

Before any tool starts, the harness creates ROWS pods `bench-row-N` in namespace `default`:
the list every tool's cursor moves through. The peers start in `default`; the cockpit gets
`:pods default/` typed once it has drawn itself (its pods pane, filtered to that namespace:
at 10,000 pods a probe's row would otherwise be off screen). Each round measures every tool
once, in the order given (cockpit, korvid, kutop, kuno, then again).

For each tool and run:
  first frame      launch -> anything of the tool on the screen
  pods on screen   launch -> a known pod row shown (a probe pod created just before launch;
                   for the cockpit this includes opening its command box and typing the
                   filter, as a person would have to)
  sources ok       launch -> all three sources ok (the cockpit only)
  RSS              VmRSS 10 s after the pods were shown, and the peak (VmHWM)
  key -> cursor    Down, then Up, in turn, KEYS times, in the tool's list of the pods of
                   `default`: from the key to the screen showing the cursor on the next
                   (previous) row. The cursor row is read from the screen's colours (the one
                   row of that list whose background differs from all the others); a press
                   is counted only once the cursor is seen on the row it should reach, and
                   the run says how many of KEYS did (all, or the figure means nothing).
                   Under the background load
  event -> screen  the harness creates a pod (and later deletes it) through the API and
                   watches the screen for its name, from the API's answer (the lab's own
                   write time is shown apart: at 50,000 pods the lab may hold a write while
                   its controllers pass), median and p95 of --events, under load
  idle             CPU seconds (utime+stime from /proc) and bytes written to the terminal
                   (tmux pipe-pane) in --idle seconds with no object changing
The background load patches an annotation of existing pods (outside `default`) at --load
events/s (0: none), from LOAD_WORKERS connections; the rate it reached is in the table.

Sizes: --pods 0 (the built-in n100 lab), or a synthetic lab of N pods (1000, 10000, 50000:
the 50,000-pod lab serves after ~20 s). The table gives each measure's median over the runs
with [min–max], and for each peer its median as a multiple of the cockpit's (x2.0: twice).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import re
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
PEERS_DIR = HERE / ".peers"  # one venv per peer: bench/.peers/NAME
# Each peer with the dependencies it asks for: korvid textual>=8.0, kuno textual>=8.2.8,
# kutop textual==8.2.8 and rich==15.0.0 (8.2.8 is the newest Textual: kuno can have no other).
PEERS = {"korvid": "0.6.0", "kutop": "0.6.0", "kuno": "0.2.2"}
COCKPIT = str(Path(sys.executable).parent / "cockpit")
SIZE = ("160", "48")
PROBE_NS = "default"
ROWS = 6  # pods `bench-row-N` in PROBE_NS: the list the key test moves a cursor through
KEYS = 20
LOAD_WORKERS = 4
# Setup steps, each one of:
#   ("until", key, text)  that key (typed literally) every 2 s until the screen shows text
#                         (a key sent before the app listens is lost)
#   ("keys", key, ...)    tmux send-keys as given
#   ("wait", text)        until the screen shows text (at most 300 s)
COCKPIT_SETUP = (
    ("until", ":", ":pods worker-1"),  # the command box's placeholder: it is open
    ("keys", "-l", f"pods {PROBE_NS}/"),
    ("keys", "Enter"),
    ("wait", f"Pods /{PROBE_NS}/"),  # the pods pane, focused and filtered
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
            # A big lab may hold a write for a whole controller pass (seconds at 50,000 pods).
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
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
    """Annotation patches at a steady rate: changes every watcher has to take in. Sent from
    LOAD_WORKERS connections at once: one alone waits for each answer, and a big lab's
    answers are slow enough (tens of ms at 50,000 pods) to hold it far below the rate."""

    def __init__(self, api: Api, rate: float) -> None:
        super().__init__(daemon=True)
        self.api, self.rate = api, rate
        self.stop = threading.Event()
        self.sent = 0
        self._count = threading.Lock()

    def run(self) -> None:
        if self.rate <= 0:
            return
        refs = self.api.pod_refs()
        workers = [
            threading.Thread(target=self._patch, args=(refs, w), daemon=True)
            for w in range(LOAD_WORKERS)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _patch(self, refs: list[tuple[str, str]], worker: int) -> None:
        interval = LOAD_WORKERS / self.rate
        due, tick = time.perf_counter() + worker / self.rate, worker
        while not self.stop.wait(max(0.0, due - time.perf_counter())):
            ns, name = refs[tick % len(refs)]
            patch = {"metadata": {"annotations": {"bench/tick": str(tick)}}}
            # A pod deleted under us: the next one will do.
            with contextlib.suppress(OSError, RuntimeError, http.client.HTTPException):
                self.api.call(
                    "PATCH",
                    f"/api/v1/namespaces/{ns}/pods/{name}",
                    patch,
                    "application/merge-patch+json",
                )
            with self._count:
                self.sent += 1
            tick += LOAD_WORKERS
            due += interval


# --- one tool in tmux ------------------------------------------------------------------------


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


@dataclass
class Tool:
    name: str
    command: list[str]
    first_marker: str  # shown once the tool has drawn itself
    splash: str = ""  # or this, from a splash screen drawn before it
    ok_markers: tuple[str, ...] = ()
    env: str = ""  # extra environment, "NAME=value ..."
    # Typed once the tool has drawn itself (see COCKPIT_SETUP).
    setup: tuple[tuple[str, ...], ...] = ()
    # Typed before the key test, to put the focus on the list of pods and its cursor on
    # the list's first row.
    key_setup: tuple[str, ...] = ()
    key_note: str = ""  # what the key test's Down and Up do in this tool


def peer_bin(name: str, command: str) -> str:
    return str(PEERS_DIR / name / "bin" / command)


def cockpit_tool(name: str, command: list[str], config: Path, env: str = "") -> Tool:
    return Tool(
        name,
        [*command, "--config", str(config), "--readonly"],
        "Homelab Cockpit",
        ok_markers=("kube ok", "proxmox ok", "tailscale ok"),
        env=env,
        setup=COCKPIT_SETUP,
        key_setup=("Home",),
        key_note="moves the cursor (◆) of the pods pane, filtered to default/",
    )


def tools(names: list[str], config: Path, baseline: str | None = None) -> list[Tool]:
    out = []
    for name in names:
        if name == "cockpit":
            out.append(cockpit_tool("cockpit", [COCKPIT], config))
        elif name == "baseline":
            # Another checkout of the cockpit (e.g. `git archive` of an older commit), run
            # by this venv's Python: before/after figures from one run on one machine.
            command = [sys.executable, "-m", "cockpit"]
            out.append(cockpit_tool("baseline", command, config, f"PYTHONPATH={baseline}"))
        elif name == "korvid":
            out.append(
                Tool(
                    "korvid",
                    [peer_bin("korvid", "korvid"), "-n", PROBE_NS, "--readonly"],
                    "korvid",
                    key_note="moves the highlighted row of its pods table (namespace default)",
                )
            )
        elif name == "kutop":
            # kutop starts with the focus in its sidebar (Down scrolls the sidebar); Escape
            # there hands the focus to the pods table, as its sidebar's own binding says.
            out.append(
                Tool(
                    "kutop",
                    [peer_bin("kutop", "kutop"), PROBE_NS],
                    "kutop",
                    key_setup=("Escape",),
                    key_note="Escape (focus to the pods table) once, then moves its row cursor",
                )
            )
        elif name == "kuno":
            launcher = str(HERE / "kuno_launch.py")
            out.append(
                Tool(
                    "kuno",
                    [peer_bin("kuno", "python"), launcher, "-n", PROBE_NS],
                    "kuno",
                    splash="╚═╝  ╚═╝ ╚═════╝",  # the foot of its block-letter logo
                    key_note="moves the highlighted row of its pods table (namespace default)",
                )
            )
        else:
            sys.exit(f"unknown tool {name!r}: cockpit, baseline, {', '.join(PEERS)}")
    return out


def install_peers(names: list[str]) -> None:
    for name in names:
        if name not in PEERS or Path(peer_bin(name, name)).exists():
            continue
        venv = PEERS_DIR / name
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = peer_bin(name, "pip")
        subprocess.run([pip, "install", "-q", f"{name}=={PEERS[name]}"], check=True)


@dataclass
class Result:
    first: float = 0.0
    pods: float = 0.0
    ok: float = 0.0
    rss: float = 0.0
    peak: float = 0.0
    keys: list[float] = field(default_factory=list)  # presses seen to move the cursor
    keys_sent: int = 0
    added: list[float] = field(default_factory=list)
    deleted: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)  # the lab's answer to each write
    idle_cpu: float = 0.0
    idle_bytes: int = 0
    load_rate: float = 0.0  # the background load reached, patches/s (a big lab answers slower)


# --- where a tool's cursor is, read from its screen ------------------------------------------

SGR = re.compile(r"\x1b\[([0-9;:]*)m")
ROW_NAME = re.compile(r"bench-[a-z0-9-]*[a-z0-9]")


def _background(codes: list[str], bg: str) -> str:
    """The background after one SGR sequence's codes, starting from bg."""
    i = 0
    while i < len(codes):
        code = codes[i]
        if code in ("", "0", "49"):
            bg = ""
        elif code == "7":  # reverse video: a cursor drawn that way is a background too
            bg += "+reverse"
        elif code in ("38", "58") and codes[i + 1 : i + 2] == ["5"]:
            i += 2  # a foreground (or underline) colour: its number is no background
        elif code in ("38", "58") and codes[i + 1 : i + 2] == ["2"]:
            i += 4
        elif code == "48" and codes[i + 1 : i + 2] == ["5"]:
            bg, i = "5;" + "".join(codes[i + 2 : i + 3]), i + 2
        elif code == "48" and codes[i + 1 : i + 2] == ["2"]:
            bg, i = "2;" + ";".join(codes[i + 2 : i + 5]), i + 4
        elif code.isdigit() and (40 <= int(code) <= 47 or 100 <= int(code) <= 107):
            bg = code
        i += 1
    return bg


def probe_rows(screen: str) -> list[tuple[str, str]]:
    """The harness's pods in the order the list shows them, each with the background its
    name is drawn on. The list is the column where most of the names stand (a tool may
    name a pod elsewhere too: an incident line, an events pane), each name's first line
    there. tmux's `capture-pane -e` writes an attribute only where it changes, so the
    state runs on from one line to the next."""
    found: list[tuple[int, str, str]] = []  # (column, name, background)
    bg = ""
    for line in screen.splitlines():
        at = 0
        for m in ROW_NAME.finditer(line):
            for sgr in SGR.finditer(line, at, m.start()):
                bg = _background(sgr.group(1).split(";"), bg)
            at = m.start()
            found.append((len(SGR.sub("", line[: m.start()])), m.group(0), bg))
        for sgr in SGR.finditer(line, at):
            bg = _background(sgr.group(1).split(";"), bg)
    by_column: dict[int, set[str]] = {}
    for column, name, _ in found:
        by_column.setdefault(column, set()).add(name)
    if not by_column:
        return []
    column = max(by_column, key=lambda c: len(by_column[c]))
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for col, name, background in found:
        if col == column and name not in seen:
            seen.add(name)
            rows.append((name, background))
    return rows


def cursor_at(screen: str) -> tuple[str | None, list[str]]:
    """The row the cursor is on (the one row drawn on a background no other row has: a
    tool's zebra stripes give two backgrounds to many rows, its cursor one to one row) and
    the rows in screen order. None when no single row stands out."""
    rows = probe_rows(screen)
    counts: dict[str, int] = {}
    for _, bg in rows:
        counts[bg] = counts.get(bg, 0) + 1
    alone = [name for name, bg in rows if counts[bg] == 1]
    return (alone[0] if len(alone) == 1 and len(rows) >= 3 else None), [n for n, _ in rows]


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

    def colours(self) -> str:
        """The screen with its attributes: a cursor is often a background alone."""
        return tmux("capture-pane", "-t", self.name, "-p", "-e")

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


def run_setup(s: Session, steps: tuple[tuple[str, ...], ...]) -> None:
    for step in steps:
        if step[0] == "until":
            for _ in range(15):
                tmux("send-keys", "-t", s.name, "-l", step[1])
                if s.wait(lambda sc, text=step[2]: text in sc, 2):
                    break
        elif step[0] == "wait":
            s.wait(lambda sc, text=step[1]: text in sc, 300)
        else:
            tmux("send-keys", "-t", s.name, *step[1:])


def key_test(s: Session, r: Result) -> None:
    """Down and Up in turn between the list's first two rows; each press timed until the
    screen shows the cursor on the row it should reach."""
    for key in s.tool.key_setup:
        tmux("send-keys", "-t", s.name, key)
    # The cursor on the first row before the first press (a tool may take a moment to
    # take in the setup key).
    s.wait(lambda sc: (lambda at, order: at is not None and at == order[0])(*cursor_at(sc)), 10)
    for i in range(KEYS):
        at, order = cursor_at(s.colours())
        if at is None or len(order) < 2:
            time.sleep(0.2)  # no cursor to be seen: the press is sent and not counted
            tmux("send-keys", "-t", s.name, "Up" if i % 2 else "Down")
            r.keys_sent += 1
            continue
        down = at == order[0]
        goal = order[1] if down else order[0]
        start = time.perf_counter()
        tmux("send-keys", "-t", s.name, "Down" if down else "Up")
        r.keys_sent += 1
        while time.perf_counter() - start < 2:
            now, _ = cursor_at(s.colours())
            if now == goal:
                r.keys.append(time.perf_counter() - start)
                break
            time.sleep(0.005)
        time.sleep(0.05)  # a person's pace, not a burst


def event_test(s: Session, api: Api, name: str, r: Result) -> None:
    """A pod created, then deleted, each timed from the API's answer to the screen."""
    start = time.perf_counter()
    api.create_pod(name)
    answered = time.perf_counter()
    r.writes.append(answered - start)
    if s.wait(lambda sc: name in sc, 10):
        r.added.append(time.perf_counter() - answered)
    start = time.perf_counter()
    api.delete_pod(name)
    answered = time.perf_counter()
    r.writes.append(answered - start)
    if s.wait(lambda sc: name not in sc, 10):
        r.deleted.append(time.perf_counter() - answered)


def measure(tool: Tool, api: Api, kubeconfig: Path, home: Path, args: Any) -> Result:
    r = Result()
    probe = f"bench-probe-{time.monotonic_ns() % 10**8}"
    api.create_pod(probe)  # a row every tool shows from the start
    s = Session(tool, kubeconfig, home)
    try:
        marks = [m for m in (tool.first_marker, tool.splash) if m]
        r.first = s.wait(lambda sc: any(m in sc for m in marks), 60)
        run_setup(s, tool.setup)  # counted in what follows: from the launch, setup and all
        if s.wait(lambda sc: probe in sc, 300):
            r.pods = time.perf_counter() - s.started
        if tool.ok_markers and s.wait(lambda sc: all(m in sc for m in tool.ok_markers), 300):
            r.ok = time.perf_counter() - s.started
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
        loaded = time.perf_counter()
        try:
            key_test(s, r)
            print(f"  {tool.name}: {len(r.keys)} of {r.keys_sent} key presses moved the cursor")
            for i in range(args.events):
                name = f"{probe}-{i}"
                try:
                    event_test(s, api, name, r)
                except (OSError, RuntimeError, http.client.HTTPException) as exc:
                    print(f"  {tool.name}: probe {name} failed: {exc}", flush=True)
        finally:
            load.stop.set()
            load.join(5)
            r.load_rate = load.sent / (time.perf_counter() - loaded)
    finally:
        s.close()
        with contextlib.suppress(OSError, RuntimeError, http.client.HTTPException):
            api.delete_pod(probe)
    return r


# --- the run ---------------------------------------------------------------------------------


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """Median and [min–max] over the runs."""
    if not values:
        return "n/a"
    low, mid, high = (fmt.format(f(values)) for f in (min, statistics.median, max))
    return f"{mid} [{low}–{high}]" if len(values) > 1 else mid


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0


def _median(values: list[float]) -> list[float]:
    return [statistics.median(values)] if values else []


def _p95(values: list[float]) -> list[float]:
    return [p95(values)] if values else []


ROWS_OF_TABLE: list[tuple[str, Any]] = [
    ("first frame, s", lambda r: [r.first] if r.first else []),
    ("pods on screen, s", lambda r: [r.pods] if r.pods else []),
    ("all sources ok, s", lambda r: [r.ok] if r.ok else []),
    ("RSS 10 s after data, MiB", lambda r: [r.rss]),
    ("peak RSS, MiB", lambda r: [r.peak]),
    ("event -> screen, pod added, median s", lambda r: _median(r.added)),
    ("event -> screen, pod added, p95 s", lambda r: _p95(r.added)),
    ("event -> screen, pod deleted, median s", lambda r: _median(r.deleted)),
    ("event -> screen, pod deleted, p95 s", lambda r: _p95(r.deleted)),
    ("key -> cursor moved, median s", lambda r: _median(r.keys)),
    ("key -> cursor moved, p95 s", lambda r: _p95(r.keys)),
    ("idle CPU, s per window", lambda r: [r.idle_cpu]),
    ("idle bytes to terminal, KiB per window", lambda r: [r.idle_bytes / 1024]),
]  # fmt: skip


def table(results: dict[str, list[Result]]) -> list[str]:
    """Each cell the median over the runs with [min–max]; a peer's cell also its median as a
    multiple of the cockpit's (x2.0: twice the cockpit's time, bytes or MiB)."""
    names = list(results)
    ref = "cockpit" if "cockpit" in names else names[0]
    out = ["| measure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, pick in ROWS_OF_TABLE:
        cells = []
        base = [v for r in results[ref] for v in pick(r)]
        for n in names:
            values = [v for r in results[n] for v in pick(r)]
            cell = spread(values)
            if n != ref and values and base and statistics.median(base) > 0:
                cell += f" (x{statistics.median(values) / statistics.median(base):.1f})"
            cells.append(cell)
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    moved = [
        f"{sum(len(r.keys) for r in results[n])}/{sum(r.keys_sent for r in results[n])}"
        for n in names
    ]
    out.append("| key presses seen to move the cursor | " + " | ".join(moved) + " |")
    writes = [spread(_p95([w for r in results[n] for w in r.writes])) for n in names]
    out.append("| lab's answer to a write, p95 s (not the tool's) | " + " | ".join(writes) + " |")
    rates = [spread([r.load_rate for r in results[n]], "{:.0f}") for n in names]
    out.append("| background load reached, patches/s | " + " | ".join(rates) + " |")
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
    install_peers(names)
    notes = {t.name: t.key_note for t in tools(names, Path("config.toml"))}
    with tempfile.TemporaryDirectory() as directory:
        ready, stop = multiprocessing.Event(), multiprocessing.Event()
        child = multiprocessing.get_context("fork").Process(
            target=serve, args=(args.pods, directory, ready, stop), daemon=True
        )
        started = time.perf_counter()
        child.start()
        if not ready.wait(900):
            sys.exit("the lab did not start")
        print(f"the lab serves after {time.perf_counter() - started:.0f} s", flush=True)
        kubeconfig = Path(directory) / "kubeconfig"
        api = Api(kubeconfig)
        home = Path(directory) / "home"
        home.mkdir()
        for i in range(ROWS):  # the list every tool's cursor moves through
            api.create_pod(f"bench-row-{i}")
        results: dict[str, list[Result]] = {n: [] for n in names}
        for run in range(args.runs):
            for tool in tools(names, Path(directory) / "config.toml", args.baseline):
                print(f"run {run + 1}/{args.runs}: {tool.name}", flush=True)
                began = time.perf_counter()
                results[tool.name].append(measure(tool, api, kubeconfig, home, args))
                print(f"  took {time.perf_counter() - began:.0f} s", flush=True)
                if args.json:  # kept as it goes: a later tool's failure loses nothing
                    raw = {n: [r.__dict__ for r in rs] for n, rs in results.items()}
                    Path(args.json).write_text(json.dumps(raw, indent=1))
        stop.set()
        child.join(30)
    label = f"{args.pods} pods" if args.pods else "the n100 lab"
    print(f"\n{label}, {args.runs} runs, load {args.load:g} events/s, idle window {args.idle:g} s")
    print("\n".join(table(results)))
    print("\nThe key test: Down, then Up, in turn, in the pods of `default`, each tool:")
    for name, note in notes.items():
        print(f"  {name}: {note}")
    if args.json:
        raw = {n: [r.__dict__ for r in rs] for n, rs in results.items()}
        Path(args.json).write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
