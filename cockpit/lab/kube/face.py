"""The lab's Kubernetes API on 127.0.0.1: plain HTTP, chunked watch streams, and a
kubeconfig so that kubectl, the official client and the cockpit reach it the normal way."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import orjson

from cockpit.lab.kube.api import KubeApi, Request, Response


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the lab is quiet; tests read state, not access logs

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header tells the lab clock: clients measure ages against the server.
        return formatdate(self.server.api.now() if timestamp is None else timestamp, usegmt=True)

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(
            self.command,
            url.path,
            dict(parse_qsl(url.query)),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        if self.server.faults.take_drop():
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        resp = self.server.api.handle(req)
        if isinstance(resp.body, Iterator):
            self._stream(resp)
        else:
            self._send(resp)

    def _send(self, resp: Response) -> None:
        if resp.content_type == "application/json":
            payload = orjson.dumps(resp.body)
        else:
            payload = str(resp.body).encode()
        garbage = self.server.faults.take_garbage()
        if garbage:
            payload = b"<html>502 Bad Gateway" + payload[: len(payload) // 3]
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, resp: Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        try:
            for line in resp.body:
                if self.server.stopping.is_set() or self.server.faults.cut_watches.is_set():
                    # A killed connection mid-watch: no terminating chunk, just gone.
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if not line:
                    continue
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class Faults:
    """Switches a test flips to break the API the way networks and proxies break."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.garbage = 0  # answer the next N requests with a broken body
        self.drops = 0  # close the next N connections without answering
        self.cut_watches = threading.Event()  # kill every open watch stream

    def take_garbage(self) -> bool:
        with self.lock:
            if self.garbage:
                self.garbage -= 1
                return True
            return False

    def take_drop(self) -> bool:
        with self.lock:
            if self.drops:
                self.drops -= 1
                return True
            return False


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, api: KubeApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api
        self.faults = Faults()
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()  # open keep-alive connections


class KubeFace:
    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self.server = _Server(api)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        api.address = f"127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> Faults:
        return self.server.faults

    def start(self) -> KubeFace:
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name="lab-kube-api",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        # A stopped server is gone for its clients too, keep-alive connections included.
        for conn in list(self.server.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def write_kubeconfig(self, path: Path, context: str = "cockpit-lab") -> Path:
        """A kubeconfig like k3s writes, pointing at this face (no TLS: loopback only)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": f"{context}-admin", "user": {"token": "lab-admin"}}],
            "contexts": [
                {"name": context, "context": {"cluster": context, "user": f"{context}-admin"}}
            ],
            "current-context": context,
        }
        path.write_text(orjson.dumps(config, option=orjson.OPT_INDENT_2).decode())
        path.chmod(0o600)
        return path
