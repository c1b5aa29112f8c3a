"""Proxmox and tailscaled through a byte-level proxy that trickles their answers: each request
fails within its overall deadline (a per-read timeout never trips on a trickle), the detail
view's fetch does not queue behind a stuck one for long, answers over the size cap are
refused, and a tailscaled that answers but is logged out is not "ok"."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from pathlib import Path

import orjson
import pytest
from fault_proxy import TcpFaultProxy
from proxmox_helpers import RW_SECRET, start_lab
from tailscale_helpers import fixed_answer, short_dir

from cockpit import labfile
from cockpit.config import load_config
from cockpit.inventory import Inventory
from cockpit.lab.clock import LabClock
from cockpit.lab.tailscale_face import TailscaleFace
from cockpit.lab.tls import make_lab_tls
from cockpit.lab.world import World
from cockpit.secret import Secret
from cockpit.sources.health import SourceError
from cockpit.sources.proxmox import ProxmoxSource
from cockpit.sources.tailscale import TailscaleSource

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "tailscale"


def timed(call, limit: float = 30.0):
    """(what call raised or returned, seconds it took); fails if it is still going at limit,
    so a test of a missing deadline fails instead of hanging."""
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = call()
        except Exception as exc:
            result["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still waiting after {limit} s: no deadline"
    return result.get("error", result.get("value")), time.monotonic() - started


@pytest.fixture
def pve(tmp_path):
    lab = start_lab(labfile.load("n100"), make_lab_tls(tmp_path / "tls"))
    yield lab
    lab.face.stop()


class TricklingPve:
    """A misbehaving HTTPS server with the lab's certificate: a well-formed PVE answer, one
    byte per TLS record every `every` seconds, so no single read is ever late."""

    def __init__(self, tls, every: float, body: bytes = b'{"data": []}') -> None:
        self.every, self.body = every, body
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.context = context
        self.stopping = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            with self.context.wrap_socket(raw, server_side=True) as conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                answer = (
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(self.body)}\r\n\r\n".encode()
                    + self.body
                )
                for i in range(len(answer)):
                    if self.stopping.is_set():
                        return
                    conn.sendall(answer[i : i + 1])
                    time.sleep(self.every)
        except OSError:
            return

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()


@pytest.fixture
def trickling(pve):
    server = TricklingPve(pve.tls, every=0.1)
    yield server
    server.stop()


def at(pve, port: int, **kw):
    return ProxmoxSource(
        "127.0.0.1",
        port,
        user="root@pam",
        token_name="cockpit",
        token_value=Secret(RW_SECRET),
        verify=str(pve.tls.ca_file),
        **kw,
    )


def test_a_trickling_proxmox_fails_within_its_deadline(pve, trickling):
    assert at(pve, pve.face.port, timeout=1.0).fetch().hosts  # the real one answers
    source = at(pve, trickling.port, timeout=1.0)  # 1 s per read, 2 s for the whole request
    error, took = timed(source.fetch)  # ~100 bytes at 10 a second: every read is in time
    assert isinstance(error, SourceError), error
    assert "no complete answer" in error.reason and "within 2 s" in error.reason
    assert took <= 2 + 1.5, f"{took:.1f} s"


def test_the_detail_fetch_does_not_queue_behind_a_trickle(pve, trickling):
    source = at(pve, trickling.port, timeout=1.0)
    poller = threading.Thread(target=lambda: timed(source.fetch), daemon=True)
    poller.start()
    time.sleep(0.3)  # the poll holds the session now
    error, took = timed(lambda: source.guest_status("pve", 100, "qemu"))
    assert isinstance(error, SourceError), error
    # At most one deadline for the session, one for its own request (was 40 s and more).
    assert took <= 2 * 2 + 1, f"the detail view waited {took:.1f} s"
    poller.join(10)


def test_a_proxmox_answer_over_the_cap_is_refused(pve):
    source = pve.source(max_body=256)
    with pytest.raises(SourceError) as info:
        source.fetch()
    assert "larger than 256 bytes" in info.value.reason and "dropped" in info.value.reason


def test_the_untrusted_certificate_hint_names_real_settings(pve):
    with pytest.raises(SourceError) as info:
        pve.source(verify=True).fetch()
    hint = info.value.hint
    assert "ca_file under [proxmox]" in hint and "insecure = true" in hint


@pytest.fixture
def world():
    return World(labfile.load("n100"), LabClock(speed=30))


def test_a_trickling_tailscaled_fails_within_its_deadline(world):
    with short_dir() as directory, TailscaleFace(world, directory / "real.sock"):
        proxy = TcpFaultProxy(str(directory / "real.sock"), listen=str(directory / "ts.sock"))
        proxy.start()
        try:
            source = TailscaleSource(str(directory / "ts.sock"), timeout=1.0)
            assert source.fetch().self_peer
            proxy.trickle = 0.3
            error, took = timed(source.fetch)
            assert isinstance(error, SourceError), error
            assert "did not finish answering" in error.reason and "within 2 s" in error.reason
            assert took <= 2 + 1.5, f"{took:.1f} s"
            proxy.trickle = 0
            assert source.fetch().self_peer
        finally:
            proxy.stop()


def test_a_tailscaled_that_hangs_up_is_not_called_a_protocol_mismatch():
    with short_dir() as directory:
        path = directory / "ts.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(4)

        def hang_up() -> None:  # reads the request, closes without a word (a crash)
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = listener.accept()
                    conn.recv(65536)
                    conn.close()

        threading.Thread(target=hang_up, daemon=True).start()
        try:
            with pytest.raises(SourceError) as info:
                TailscaleSource(str(path), timeout=1.0, cli="no-such-cli").fetch()
        finally:
            listener.close()
    assert "does not speak HTTP" not in info.value.reason
    assert "closed the connection" in info.value.reason
    assert "systemctl status tailscaled" in info.value.hint


def test_a_tailscaled_answer_over_the_cap_is_refused(world):
    with short_dir() as directory, TailscaleFace(world, directory / "ts.sock"):
        source = TailscaleSource(str(directory / "ts.sock"), max_body=512)
        with pytest.raises(SourceError) as info:
            source.fetch()
        assert "larger than 512 bytes" in info.value.reason


@pytest.mark.parametrize(
    ("state", "words", "fix"),
    [
        ("NeedsLogin", "logged out", "tailscale up"),
        ("Stopped", "stopped", "tailscale up"),
        ("NeedsMachineAuth", "approval", "admin console"),
    ],
)
def test_a_disconnected_tailscaled_is_not_ok(tmp_path, state, words, fix):
    capture = orjson.loads((FIXTURES / "dgx-control-status.json").read_bytes())
    capture["BackendState"] = state
    capture["Health"] = ["You are logged out."]
    (tmp_path / "empty.toml").write_text("")
    config = load_config(tmp_path / "empty.toml", env={})
    with short_dir() as directory:
        path = directory / "ts.sock"
        with fixed_answer(path, 200, orjson.dumps(capture), "application/json"):
            inventory = Inventory(config, tailscale=TailscaleSource(str(path)))
            inventory.poll("tailscale", inventory.tailscale)
            health = inventory.health()["tailscale"]
            assert health.state == "error"
            assert words in health.reason and state in health.reason
            assert fix in health.hint
            assert inventory.polled["tailscale"].data.peers  # the last answer is kept
            capture["BackendState"] = "Running"
        path.unlink()
        with fixed_answer(path, 200, orjson.dumps(capture), "application/json"):
            inventory.poll("tailscale", inventory.tailscale)
            health = inventory.health()["tailscale"]
            assert health.state == "ok"
            assert "You are logged out." in health.note  # tailscaled's own warning
