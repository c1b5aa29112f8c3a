"""Loopback proxies that break traffic on purpose, between a source and the lab.

`HttpFaultProxy` sits in front of a plain-HTTP server (the lab's Kubernetes API) and, per
request, forwards it or answers with a fault: a status, garbage, a truncated or mutated
body, a huge body, or a hang. `freeze()` stops it answering anything and stops relaying open
streams, the way a SIGSTOPped API server behaves; `thaw()` resumes.

`TcpFaultProxy` relays raw bytes (TLS included, so the client still checks the real
certificate) and can trickle the server's bytes, one every `trickle` seconds, or hang.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, str]

    @property
    def watch(self) -> bool:
        return self.query.get("watch") in ("true", "1")


@dataclass
class Fault:
    """What to do instead of (or to) the upstream answer.

    kind: "status" (answer `status` with `body`), "garbage" (200 with `body` raw),
    "truncate" (the real answer cut after `keep` of its bytes, then the connection closed),
    "mutate" (the real JSON answer, or each watch event, passed through `change`),
    "huge" (200 with `size` bytes of JSON whitespace, with or without a Content-Length),
    "hang" (never answer).
    """

    kind: str
    status: int = 200
    body: bytes = b""
    keep: float = 0.5
    change: Callable[[Any], Any] | None = None
    size: int = 0
    declare: bool = True  # "huge": send a Content-Length (else the body ends at close)


Rule = Callable[[Req], Fault | None]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.open.add(self.connection)

    def finish(self) -> None:
        self.server.open.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self) -> None:
        proxy = self.server.proxy
        url = urlsplit(self.path)
        req = Req(self.command, url.path, dict(parse_qsl(url.query)))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        proxy.seen.append(req)
        proxy.wait_thawed()
        fault = proxy.rule(req) if proxy.rule else None
        if fault is not None:
            proxy.faulted.append(req)
        if fault is not None and fault.kind == "hang":
            proxy.stopping.wait()
            self.close_connection = True
            return
        if fault is not None and fault.kind == "status":
            self._answer(fault.status, fault.body or b'{"kind":"Status","message":"injected"}')
            return
        if fault is not None and fault.kind == "garbage":
            self._answer(fault.status, fault.body)
            self.close_connection = True
            return
        if fault is not None and fault.kind == "huge":
            self._huge(fault.size, fault.declare)
            return
        upstream = http.client.HTTPConnection(proxy.host, proxy.upstream_port, timeout=600)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            upstream.request(self.command, self.path, body or None, headers)
            resp = upstream.getresponse()
            if resp.getheader("Transfer-Encoding", "").lower() == "chunked":
                self._relay_stream(resp, fault)
            else:
                self._relay_whole(resp, fault)
        finally:
            upstream.close()

    def _answer(self, status: int, payload: bytes, content_length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header(
            "Content-Length", str(len(payload) if content_length is None else content_length)
        )
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _huge(self, size: int, declare: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if declare:
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        block = b" " * 2**20
        sent = 0
        try:
            while sent < size:
                n = min(len(block), size - sent)
                self.wfile.write(block[:n])
                sent += n
        except OSError:
            return  # the client gave up, as it should

    def _relay_whole(self, resp: http.client.HTTPResponse, fault: Fault | None) -> None:
        payload = resp.read()
        if fault is not None and fault.kind == "mutate" and fault.change is not None:
            payload = orjson.dumps(fault.change(orjson.loads(payload)))
        if fault is not None and fault.kind == "truncate":
            cut = payload[: int(len(payload) * fault.keep)]
            self.send_response(resp.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(cut)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._answer(resp.status, payload)

    def _relay_stream(self, resp: http.client.HTTPResponse, fault: Fault | None) -> None:
        proxy = self.server.proxy
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        try:
            while True:
                line = resp.readline()
                if not line:
                    break
                proxy.wait_thawed()
                if proxy.stopping.is_set():
                    return
                if proxy.end_streams.is_set():
                    break  # a clean end, as a server ends a watch at its timeoutSeconds
                if fault is not None and fault.kind == "mutate" and fault.change and line.strip():
                    line = orjson.dumps(fault.change(orjson.loads(line))) + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            return

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: HttpFaultProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy
        self.open: set[socket.socket] = set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer is what these tests are about


class HttpFaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rule: Rule | None = None
        self.seen: list[Req] = []
        self.faulted: list[Req] = []
        self.stopping = threading.Event()
        self.end_streams = threading.Event()  # end relayed streams cleanly at their next line
        self._thawed = threading.Event()
        self._thawed.set()
        self.server = _Server(self)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def start(self) -> HttpFaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._thawed.set()
        self.server.shutdown()
        self.server.server_close()
        self.cut()

    def cut(self) -> None:
        """Drop every open client connection."""
        for conn in list(self.server.open):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def freeze(self) -> None:
        self._thawed.clear()

    def thaw(self) -> None:
        self._thawed.set()

    def wait_thawed(self) -> None:
        while not self._thawed.wait(0.1):
            if self.stopping.is_set():
                return

    def count(self, predicate: Callable[[Req], bool]) -> int:
        return sum(1 for r in list(self.seen) if predicate(r))


class TcpFaultProxy:
    """Raw bytes both ways; `trickle` > 0 sends the server's bytes one at a time that many
    seconds apart, `hang` stops relaying the server's bytes at all."""

    def __init__(self, target: tuple[str, int] | str, listen: str | None = None) -> None:
        """target: (host, port) or a unix socket path; listen: a unix socket path to listen
        on (else a loopback TCP port, in `port`)."""
        self.target = target
        self.trickle = 0.0
        self.hang = False
        self.stopping = threading.Event()
        if listen is None:
            self.listener = socket.create_server(("127.0.0.1", 0))
            self.port = self.listener.getsockname()[1]
        else:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(listen)
            self.listener.listen(16)
            self.port = 0
        self._open: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> TcpFaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        for sock in list(self._open):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                if isinstance(self.target, str):
                    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    server.connect(self.target)
                else:
                    server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self._open.update((client, server))
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while not self.stopping.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if from_server and self.hang:
                    while self.hang and not self.stopping.is_set():
                        time.sleep(0.05)
                if from_server and self.trickle > 0:
                    for i in range(len(data)):
                        if self.stopping.is_set():
                            return
                        dst.sendall(data[i : i + 1])
                        time.sleep(self.trickle)
                else:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
