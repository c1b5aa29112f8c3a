"""A fault-injecting proxy on loopback, between the lab and the cockpit.

One proxy stands in front of one lab face (TCP with or without TLS, or a unix socket) and
forwards one request per connection (it asks the upstream for `Connection: close` and says
the same to the client, so no pooled connection outlives a change of fault). `set(fault)`
switches what it does to every request from then on, and to the connections already open:
a "hang" freezes them where they are (a hung server, not a closed one), any other fault cuts
them so the client reconnects into the fault. `set(None)` ends the fault.

Faults (see FAULTS): refuse, hang, trickle, reset, reset_mid, 401, 403, 404_group (only
paths under `group`), 410, 429, 500, 503, 595 (Proxmox's "no response from node"), garbage,
truncated, huge, tls_other_ca and tls_other_name (TLS proxies only), logged_out (a LocalAPI
status whose BackendState is NeedsLogin).

Bounded: at most MAX_CONNECTIONS at once (more are reset), a huge answer is HUGE_BYTES
streamed from one buffer, and the proxy stops itself after `lifetime` seconds.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import orjson

STATUS_FAULTS = {
    "401": (401, "Unauthorized"),
    "403": (403, "Forbidden"),
    "404_group": (404, "Not Found"),
    "410": (410, "Gone"),
    "429": (429, "Too Many Requests"),
    "500": (500, "Internal Server Error"),
    "503": (503, "Service Unavailable"),
    "595": (595, "Connection timed out"),
}
NETWORK_FAULTS = ("refuse", "hang", "trickle", "reset", "reset_mid")
BODY_FAULTS = ("garbage", "truncated", "huge")
TLS_FAULTS = ("tls_other_ca", "tls_other_name")
FAULTS = (*NETWORK_FAULTS, *STATUS_FAULTS, *BODY_FAULTS, *TLS_FAULTS, "logged_out")
MAX_CONNECTIONS = 64
HUGE_BYTES = 48 * 2**20
TRICKLE_EVERY = 1.0  # seconds between two bytes of a trickled answer
# No newline in it: a line-reading client sees one endless, unterminated line.
GARBAGE = b"\x89PNG\x1a<html>proxy error</html>\x00\xff{[not json" * 40


@dataclass
class Upstream:
    """Where the real face listens: a TCP port (TLS when `tls` is a client context) or a
    unix socket path."""

    port: int = 0
    unix: str = ""
    tls: ssl.SSLContext | None = None

    def connect(self, timeout: float = 5.0) -> socket.socket:
        if self.unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(self.unix)
            return sock
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_hostname="127.0.0.1")
        return sock


@dataclass
class TlsFaces:
    """The server contexts a TLS proxy can present: the right one, one from a CA the client
    does not trust, one from the trusted CA but for another name."""

    good: ssl.SSLContext
    other_ca: ssl.SSLContext
    other_name: ssl.SSLContext


@dataclass
class FaultProxy:
    upstream: Upstream
    listen_unix: str = ""  # a unix socket path; else TCP on 127.0.0.1
    tls: TlsFaces | None = None
    group: str = ""  # the path prefix the 404_group fault answers for
    lifetime: float = 900.0
    # With lists_heal_410, the 410 fault is a server that forgot every resourceVersion below
    # gone_before: a watch from one is answered 410, lists pass (a relist heals).
    lists_heal_410: bool = False
    gone_before: int = 0
    port: int = 0
    fault: str | None = None
    _generation: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _listener: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _open: set[socket.socket] = field(default_factory=set)
    _threads: list[threading.Thread] = field(default_factory=list)

    # --- control ---------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._listen()
        timer = threading.Timer(self.lifetime, self.stop)
        timer.daemon = True
        timer.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._close_listener()
        with self._changed:
            self._generation += 1
            self._changed.notify_all()
            for sock in list(self._open):
                _close(sock)
        for t in list(self._threads):
            t.join(timeout=2)

    def set(self, fault: str | None) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        with self._changed:
            previous, self.fault = self.fault, fault
            self._generation += 1
            self._changed.notify_all()
        if fault == "refuse":
            self._close_listener()
        elif previous == "refuse":
            self._listen()

    # --- listening -------------------------------------------------------------------------

    def _listen(self) -> None:
        if self.listen_unix:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.listen_unix)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(self.listen_unix)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.port))
            self.port = sock.getsockname()[1]
        sock.listen(16)
        sock.settimeout(0.2)
        self._listener = sock
        t = threading.Thread(target=self._accept, args=(sock,), daemon=True, name="faultproxy")
        t.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [t]

    def _close_listener(self) -> None:
        sock, self._listener = self._listener, None
        if sock is not None:
            _close(sock)
            # A unix socket file left behind would still refuse (ECONNREFUSED), like a dead
            # tailscaled's; leaving it is the realistic case.

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop.is_set() and self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if len(self._open) >= MAX_CONNECTIONS:
                _reset(client)
                continue
            t = threading.Thread(target=self._serve, args=(client,), daemon=True)
            t.start()

    # --- one connection ------------------------------------------------------------------

    def _serve(self, client: socket.socket) -> None:
        with self._changed:
            generation, fault = self._generation, self.fault
        raw = client
        self._open.add(raw)
        try:
            if fault == "reset":
                _reset(client)
                return
            client.settimeout(10)
            if self.tls is not None:
                context = {
                    "tls_other_ca": self.tls.other_ca,
                    "tls_other_name": self.tls.other_name,
                }.get(fault or "", self.tls.good)
                try:
                    client = context.wrap_socket(client, server_side=True)
                except (ssl.SSLError, OSError):
                    return
            head, body = _read_request(client)
            if head is None:
                return
            with self._changed:  # the fault may have changed during the handshake
                generation, fault = self._generation, self.fault
            path = head.split(b" ", 2)[1].decode("latin-1") if b" " in head else "/"
            if fault == "hang":
                self._wait_change(generation)
                return
            if fault == "410" and self.lists_heal_410 and not self._forgotten(path):
                fault = None
            if fault in STATUS_FAULTS and (fault != "404_group" or path.startswith(self.group)):
                client.sendall(_status_answer(*STATUS_FAULTS[fault], path))
                return
            if fault == "garbage":
                client.sendall(_answer(200, "OK", GARBAGE, "application/json"))
                return
            if fault == "huge":
                _send_huge(client)
                return
            self._forward(client, head, body, generation, fault)
        except OSError:
            pass
        finally:
            self._open.discard(raw)
            _close(client)

    def _forgotten(self, path: str) -> bool:
        """Whether this is a watch from a resourceVersion the server no longer has."""
        query = dict(parse_qsl(urlsplit(path).query))
        if query.get("watch") not in ("true", "1"):
            return False
        try:
            return int(query.get("resourceVersion", "0")) < self.gone_before
        except ValueError:
            return True

    def _wait_change(self, generation: int) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._generation != generation or self._stop.is_set())

    def _forward(
        self, client: socket.socket, head: bytes, body: bytes, generation: int, fault: str | None
    ) -> None:
        upstream = self.upstream.connect()
        self._open.add(upstream)
        try:
            upstream.sendall(_with_close(head) + body)
            upstream.settimeout(0.2)
            reply_head, rest = _read_head(upstream, generation, self)
            if reply_head is None:
                return
            reply_head = _with_close(reply_head)
            if fault == "logged_out":
                reply_head, rest = _logged_out(upstream, reply_head, rest, generation, self)
            length = _content_length(reply_head)
            cut = None
            if fault in ("truncated", "reset_mid"):
                cut = max(1, (length or 64) // 2)
            sent = 0
            self._send(client, reply_head, fault)
            while True:
                if rest:
                    chunk = rest if cut is None else rest[: max(0, cut - sent)]
                    self._send(client, chunk, fault)
                    sent += len(chunk)
                    if cut is not None and sent >= cut:
                        if fault == "reset_mid":
                            _reset(client)
                        return
                if self._generation != generation:
                    # An answer under way: a hang freezes it, a trickle slows it down, any
                    # other fault cuts it.
                    if self.fault == "hang":
                        self._wait_change(self._generation)
                        return
                    if self.fault != "trickle":
                        return
                    generation, fault = self._generation, "trickle"
                try:
                    rest = upstream.recv(65536)
                except TimeoutError:
                    rest = b""
                    continue
                if not rest:
                    return
        finally:
            self._open.discard(upstream)
            _close(upstream)

    def _send(self, client: socket.socket, data: bytes, fault: str | None) -> None:
        if fault != "trickle":
            client.sendall(data)
            return
        for i in range(len(data)):
            if self._stop.wait(TRICKLE_EVERY) or self.fault != "trickle":
                raise OSError("the trickle ended")
            client.sendall(data[i : i + 1])


# --- HTTP pieces ---------------------------------------------------------------------------


def _read_request(sock: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, body = data.split(b"\r\n\r\n", 1)
    head += b"\r\n\r\n"
    length = _content_length(head) or 0
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def _read_head(
    sock: socket.socket, generation: int, proxy: FaultProxy
) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        if proxy._generation != generation or proxy._stop.is_set():
            return None, b""
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return None, b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head + b"\r\n\r\n", rest


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            with contextlib.suppress(ValueError):
                return int(value.strip())
    return None


def _with_close(head: bytes) -> bytes:
    """The same head, saying Connection: close (and keep-alive nowhere)."""
    lines = [
        line
        for line in head.rstrip(b"\r\n").split(b"\r\n")
        if line.partition(b":")[0].strip().lower() not in (b"connection", b"keep-alive")
    ]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


def _logged_out(
    upstream: socket.socket, head: bytes, rest: bytes, generation: int, proxy: FaultProxy
) -> tuple[bytes, bytes]:
    """The whole answer, with tailscaled's BackendState turned to NeedsLogin."""
    length = _content_length(head)
    while length is not None and len(rest) < length and proxy._generation == generation:
        try:
            chunk = upstream.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        rest += chunk
    rest = re.sub(rb'"BackendState"\s*:\s*"Running"', b'"BackendState":"NeedsLogin"', rest)
    lines = [
        line
        for line in head.rstrip(b"\r\n").split(b"\r\n")
        if line.partition(b":")[0].strip().lower() != b"content-length"
    ]
    return b"\r\n".join([*lines, f"Content-Length: {len(rest)}".encode()]) + b"\r\n\r\n", rest


def _answer(status: int, reason: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _status_answer(status: int, reason: str, path: str) -> bytes:
    """An error as each API shapes it: a Kubernetes Status, PVE's {"data": null, ...}."""
    message = f"injected {status} for {path}"
    body = orjson.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": message,
            "reason": reason.replace(" ", ""),
            "code": status,
            "data": None,
            "errors": {},
        }
    )
    return _answer(status, reason, body, "application/json")


def _send_huge(client: socket.socket) -> None:
    """A well-formed JSON document of HUGE_BYTES: only a size cap can say no to it."""
    opening = b'{"data": [], "items": [], "metadata": {}, "Peer": {}, "pad": "'
    closing = b'"}'
    block = b"x" * 2**20
    total = len(opening) + HUGE_BYTES + len(closing)
    client.sendall(
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {total}\r\n"
        "Connection: close\r\n\r\n".encode()
        + opening
    )
    for _ in range(HUGE_BYTES // len(block)):
        client.sendall(block)
    client.sendall(closing)


def _reset(sock: socket.socket) -> None:
    """Close with an RST, as a crashed peer or a firewall does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


# --- TLS faces -----------------------------------------------------------------------------


def make_tls_faces(directory: Path) -> tuple[TlsFaces, Path]:
    """Server contexts for a TLS proxy and the CA file the client should trust."""
    from cockpit.lab.tls import make_lab_tls

    trusted = _ca_with_certs(directory / "trusted", ("127.0.0.1", "pve.elsewhere.example"))
    other = make_lab_tls(directory / "other-ca")
    return (
        TlsFaces(
            good=_server_context(trusted["127.0.0.1"]),
            other_ca=_server_context((other.cert_file, other.key_file)),
            other_name=_server_context(trusted["pve.elsewhere.example"]),
        ),
        directory / "trusted" / "ca.pem",
    )


def _server_context(files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*files)
    return context


def _ca_with_certs(directory: Path, names: tuple[str, ...]) -> dict[str, tuple[Path, Path]]:
    """One CA (ca.pem) and a certificate for each name, all signed by it."""
    import datetime

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from cockpit.lab import tls

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    lifetime = datetime.timedelta(hours=6)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = tls._ca_certificate(ca_key, now, lifetime)
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    out = {}
    for i, name in enumerate(names):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = tls._server_certificate(key, ca_key, ca_cert, [name], now, lifetime)
        cert_file, key_file = directory / f"cert{i}.pem", directory / f"key{i}.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        out[name] = (cert_file, key_file)
    return out


def wait_until(predicate, timeout: float, step: float = 0.1) -> float | None:
    """Seconds until predicate() held, or None when it never did within timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(step)
    return None
