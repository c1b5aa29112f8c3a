"""The fault matrix: every fault of tests/faultproxy.py against each of the three sources,
with the lab behind a fault proxy and the cockpit's inventory in front, built from a config
file the way a real homelab's is.

For each (source, fault): no thread of the cockpit dies; the source is marked not-ok within
DETECT_BOUND seconds of the fault starting and stays so while it lasts (checked for HOLD
seconds); a cockpit started while the fault is on does not show the source ok either; the
other two sources stay ok; and when the fault ends the source is ok again by itself within
RECOVER_BOUND seconds, with data proven current (a change made in the lab after the fault
is seen), in both cockpits. A sample of faults also runs under the real screen (Pilot),
where a key press must be answered within a second.

The cases run concurrently (CONCURRENT at a time, each with its own three proxies in front
of one shared lab, so a fault reaches only its own cockpit): nearly all of a case's time is
waiting. Each parametrised test then checks its own case's result.

The polled sources (Proxmox, Tailscale) are polled every POLL_EVERY seconds here instead of
the default 10; with the default, add the difference to the bound.

Cases marked xfail(strict=True) are known defects, named in their reason; when a fix lands
the case passes, strict xfail turns that into a failure, and the mark is to be removed.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from faultproxy import FaultProxy, Upstream, make_tls_faces, wait_until

from cockpit import labfile
from cockpit.config import load_config
from cockpit.inventory import Inventory, from_config
from cockpit.lab.runner import PVE_TOKEN_ID, RunningLab

POLL_EVERY = 2.0
CONCURRENT = 8
DETECT_BOUND = 15.0  # a fault is shown as not-ok within this many seconds
HOLD = 3.0  # and stays not-ok for as long as it lasts (checked for this long)
RECOVER_BOUND = 40.0  # and ok again, with current data, within this after it ends
SOURCES = ("kube", "proxmox", "tailscale")
COMMON = (
    "refuse",
    "hang",
    "trickle",
    "reset",
    "reset_mid",
    "401",
    "403",
    "404_group",
    "410",
    "429",
    "500",
    "503",
    "garbage",
    "truncated",
    "huge",
)
ONLY = {
    "kube": ("tls_other_ca", "tls_other_name"),
    "proxmox": ("595", "tls_other_ca", "tls_other_name"),
    "tailscale": ("logged_out",),
}
# Known defects: (source, fault) -> what is wrong. Each is a strict xfail.
KNOWN: dict[tuple[str, str], str] = {}


def _cases() -> list:
    cases = []
    for source in SOURCES:
        for fault in (*COMMON, *ONLY[source]):
            marks = []
            if (source, fault) in KNOWN:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN[source, fault]))
            cases.append(pytest.param(source, fault, marks=marks, id=f"{source}-{fault}"))
    return cases


@dataclass
class Case:
    source: str
    fault: str
    detected: float | None = None
    late_state: str = ""
    during: dict[str, str] = field(default_factory=dict)
    recovered: float | None = None
    after: list[str] = field(default_factory=list)
    dead_threads: list[str] = field(default_factory=list)
    error: str = ""


class Rig:
    """One lab; per case, a kube, a Proxmox and a Tailscale proxy and a config through them."""

    def __init__(self, lab: RunningLab, directory: Path) -> None:
        self.lab = lab
        self.dir = directory
        self.faces, self.ca_file = make_tls_faces(directory / "tls")
        self.to_pve = ssl.create_default_context(cafile=str(lab.tls.ca_file))
        self.lock = threading.Lock()
        self.changes = 0
        self.pve_tags: tuple[str, ...] = ()
        self.ts_version = "1.90.0"

    def proxies(self, name: str) -> tuple[dict[str, FaultProxy], Path]:
        directory = self.dir / name
        directory.mkdir()
        lab = self.lab
        proxies = {
            "kube": FaultProxy(
                Upstream(port=urlsplit(lab.kube.face.url).port),
                tls=self.faces,
                group="/apis/apps/",
                lists_heal_410=True,
            ).start(),
            "proxmox": FaultProxy(
                Upstream(port=lab.proxmox.port, tls=self.to_pve),
                tls=self.faces,
                group="/api2/json/nodes/",
            ).start(),
            "tailscale": FaultProxy(
                Upstream(unix=lab.tailscale.socket_path),
                listen_unix=str(directory / "tailscaled.sock"),
                group="/localapi/",
            ).start(),
        }
        kubeconfig = orjson.loads(lab.kube.kubeconfig.read_bytes())
        cluster = kubeconfig["clusters"][0]["cluster"]
        cluster["server"] = f"https://127.0.0.1:{proxies['kube'].port}"
        cluster["certificate-authority"] = str(self.ca_file)
        (directory / "kubeconfig").write_bytes(orjson.dumps(kubeconfig))
        secret = directory / "pve.secret"
        secret.write_text(lab.secret.reveal())
        secret.chmod(0o600)
        config = directory / "config.toml"
        config.write_text(
            f'[kubernetes]\nkubeconfig = "{directory / "kubeconfig"}"\n\n'
            f'[proxmox]\nurl = "https://127.0.0.1:{proxies["proxmox"].port}"\n'
            f'token = "{PVE_TOKEN_ID}"\nsecret = "file:{secret}"\n'
            f'ca_file = "{self.ca_file}"\n\n'
            f'[tailscale]\nsocket = "{directory / "tailscaled.sock"}"\n'
        )
        return proxies, config

    # --- a change in the lab, and whether a cockpit has seen it --------------------------

    def change(self, source: str) -> str:
        """Change something the source reports, in the lab itself (not through a proxy);
        returns the token to look for. Tokens add up, so concurrent cases do not undo
        each other's changes."""
        with self.lock:
            self.changes += 1
            token = f"fresh{self.changes}"
            if source == "kube":
                store = self.lab.kube.store
                node = store.get("nodes", ("", "worker-1"))
                node["metadata"].setdefault("labels", {})[f"cockpit-test/{token}"] = "1"
                store.update("nodes", node)
            elif source == "proxmox":
                world = self.lab.world
                self.pve_tags = (*self.pve_tags, token)
                with world.lock:
                    vmid = min(world.guests)
                    world.guests[vmid] = replace(world.guests[vmid], tags=self.pve_tags)
            else:
                self.ts_version += f"-{token}"
                self.lab.tailscale.tailnet.version = self.ts_version
            return token

    @staticmethod
    def seen(inventory: Inventory, source: str, token: str) -> bool:
        if source == "kube":
            node = inventory.kube.records().nodes.get(("", "worker-1"))
            return node is not None and f"cockpit-test/{token}" in node.labels
        data = inventory.polled[source].data
        if data is None:
            return False
        if source == "proxmox":
            return any(token in g.tags for g in data.guests)
        return token in data.version.split("-")


def _inventory(config: Path) -> Inventory:
    inventory = from_config(load_config(config))
    inventory.poll_every = POLL_EVERY
    inventory.start()
    return inventory


def _states(inventory: Inventory) -> dict[str, str]:
    return {name: h.state for name, h in inventory.health().items()}


def _dead_threads(inventory: Inventory) -> list[str]:
    """The cockpit's threads that ended on their own: each one is a crash."""
    threads = list(inventory._threads)
    if inventory.kube is not None:
        threads += inventory.kube._threads
    return [t.name for t in threads if not t.is_alive()]


# A fault that the right behaviour heals while it lasts: a watch answered 410 is followed by
# a relist (as client-go's reflector does), after which the source is ok and current again.
HEALED_BY_RELIST = {("kube", "410")}


def run_case(rig: Rig, case: Case) -> None:
    source, fault = case.source, case.fault
    proxies, config = rig.proxies(f"{source}-{fault}")
    proxy = proxies[source]
    running = _inventory(config)
    late = None
    try:
        ready = wait_until(lambda: set(_states(running).values()) == {"ok"}, 60)
        if ready is None:
            case.error = f"not all ok before the fault: {running.health()}"
            return
        proxy.gone_before = rig.lab.kube.store.rv + 1
        proxy.set(fault)
        try:
            during_token = rig.change(source)
            late = _inventory(config)  # a cockpit started while the fault is on
            if (source, fault) in HEALED_BY_RELIST:
                case.detected = wait_until(
                    lambda: (
                        running.health()[source].state == "ok"
                        and rig.seen(running, source, during_token)
                    ),
                    DETECT_BOUND,
                )
                case.late_state = "n/a"
            else:
                case.detected = wait_until(
                    lambda: running.health()[source].state != "ok", DETECT_BOUND
                )
                if case.detected is not None and (
                    wait_until(lambda: running.health()[source].state == "ok", HOLD) is not None
                ):
                    case.detected = None  # not-ok for a moment, then "ok" again in the fault
                case.late_state = late.health()[source].state
            case.during = _states(running)
        finally:
            proxy.set(None)
        if case.detected is None:
            return  # failed already; no need to spend the recovery bound
        token = rig.change(source)
        both = (running, late)
        case.recovered = wait_until(
            lambda: all(
                i.health()[source].state == "ok" and rig.seen(i, source, token) for i in both
            ),
            RECOVER_BOUND,
        )
        case.after = [f"{i.health()[source].state} {i.health()[source].reason}" for i in both]
        case.dead_threads = _dead_threads(running) + _dead_threads(late)
    finally:
        running.stop()
        if late is not None:
            late.stop()
        for p in proxies.values():
            p.stop()


@pytest.fixture(scope="module")
def matrix(request, tmp_path_factory):
    """Every selected case, run CONCURRENT at a time; (source, fault) -> Case."""
    directory = tmp_path_factory.mktemp("faults")
    escaped: list[str] = []

    def hook(args: threading.ExceptHookArgs) -> None:  # counted per case by thread liveness
        escaped.append(f"{args.thread.name if args.thread else '?'}: {args.exc_value!r}")

    previous, threading.excepthook = threading.excepthook, hook
    lab = RunningLab(labfile.load("n100"), speed=10).start()
    try:
        rig = Rig(lab, directory)
        selected = {
            (item.callspec.params["source"], item.callspec.params["fault"])
            for item in request.session.items
            if getattr(item, "originalname", "") == "test_fault" and item.module is request.module
        }
        cases = {key: Case(*key) for key in selected}
        with ThreadPoolExecutor(CONCURRENT) as pool:
            for future in [pool.submit(run_case, rig, c) for c in cases.values()]:
                future.result()
        yield cases
    finally:
        threading.excepthook = previous
        lab.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize(("source", "fault"), _cases())
def test_fault(matrix, source, fault):
    case = matrix[source, fault]
    assert not case.error, case.error
    if (source, fault) in HEALED_BY_RELIST:
        assert case.detected is not None, f"{source} not current {DETECT_BOUND:g} s into {fault}"
    else:
        assert case.detected is not None, (
            f"{source} still ok {DETECT_BOUND:g} s into {fault}, or ok again within {HOLD:g} s"
        )
        assert case.late_state != "ok", f"a cockpit started into {fault} shows {source} ok"
    others = {name: state for name, state in case.during.items() if name != source}
    assert set(others.values()) == {"ok"}, f"{fault} on {source} touched the others: {case.during}"
    assert case.recovered is not None, (
        f"{source} did not recover with current data within {RECOVER_BOUND:g} s after {fault}: "
        + "; ".join(case.after)
    )
    assert case.dead_threads == [], f"threads died: {case.dead_threads}"


# --- under the real screen --------------------------------------------------------------------

UI_SAMPLE = [
    pytest.param("proxmox", "hang", id="proxmox-hang"),
    pytest.param("kube", "refuse", id="kube-refuse"),
    pytest.param("tailscale", "trickle", id="tailscale-trickle"),
    pytest.param("kube", "garbage", id="kube-garbage"),
    pytest.param("proxmox", "garbage", id="proxmox-garbage"),
]


@pytest.mark.parametrize(("source", "fault"), UI_SAMPLE)
@pytest.mark.asyncio
async def test_keys_are_answered_within_a_second_during_a_fault(tmp_path, source, fault):
    from cockpit.ui.app import CockpitApp
    from cockpit.ui.screens.detail import DetailScreen

    lab = await asyncio.to_thread(lambda: RunningLab(labfile.load("n100"), speed=10).start())
    rig = Rig(lab, tmp_path)
    proxies, config = rig.proxies("ui")
    proxy = proxies[source]
    inventory = await asyncio.to_thread(_inventory, config)
    app = CockpitApp(inventory, load_config(config).thresholds, readonly=True)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            proxy.set(fault)
            await asyncio.sleep(3)  # the fault is in full swing: requests stuck or failing
            times: list[tuple[str, float]] = []
            for _ in range(3):
                focused = app.focused
                for key, done in (
                    ("tab", lambda f=focused: app.focused is not f),
                    ("enter", lambda: isinstance(app.screen, DetailScreen)),
                    ("escape", lambda: not isinstance(app.screen, DetailScreen)),
                ):
                    times.append((key, await _answered(pilot, key, done)))
                    await pilot.pause()  # the screen change settles before the next key
            slowest = max(t for _, t in times)
            assert slowest < 1.0, f"a key took {slowest:.2f} s: {times}"
    finally:
        proxy.set(None)
        await asyncio.to_thread(inventory.stop)
        for p in proxies.values():
            p.stop()
        await asyncio.to_thread(lab.stop)


KEY_CHARACTERS = {"tab": "\t", "enter": "\r", "escape": "\x1b"}


async def _answered(pilot, key: str, done) -> float:
    """Seconds from a key reaching the app (as the terminal driver hands it over) until
    done() holds; at most a little over 1.5 s. Not Pilot.press, which also waits for the
    whole process to go idle."""
    from textual import events

    app = pilot.app
    event = events.Key(key, KEY_CHARACTERS[key])
    event.set_sender(app)
    started = time.monotonic()
    app._driver.send_message(event)
    while not done() and time.monotonic() - started < 1.5:
        await asyncio.sleep(0.01)
    return round(time.monotonic() - started, 3)
