"""An overall deadline and a size cap for one HTTP request, for clients that bound each read.

requests (under proxmoxer) and httpx time out per socket operation, so a server that
trickles one byte every two seconds never trips them, and an answer of any size is read
into memory. Two adapters close the gap:

* `DeadlineAdapter`, a requests transport adapter: it remembers every socket its
  connections open and, when a request's deadline passes, shuts them down. A thread blocked
  in a read wakes at once (closing a socket would not wake it) and the request fails as
  `DeadlineExceeded`, a requests Timeout. The body is read here, chunk by chunk, so the cap
  applies before the whole answer is in memory. One adapter serves one session at a time
  (the Proxmox adapter holds a lock around each request), so cutting every socket it opened
  cuts only the request that is late.
* `DeadlineBackend`, an httpcore network backend: each read's timeout is clamped to what is
  left of the deadline, and the bytes read are counted against the cap. No timer needed:
  httpcore reads whatever the socket has, so every read returns or times out in time.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import httpcore
import requests
from requests.adapters import HTTPAdapter


class DeadlineExceeded(requests.exceptions.Timeout):
    """The whole request (connect, headers and body) took longer than its deadline."""


class TooLarge(requests.exceptions.RequestException):
    """The answer is larger than the cap; `size` is what was seen (or declared)."""

    def __init__(self, size: int, cap: int) -> None:
        super().__init__(f"answer of {size} bytes or more, over the cap of {cap}")
        self.size, self.cap = size, cap


def _pool_classes(register: Callable[[socket.socket], None]) -> dict[str, type]:
    """urllib3 pool classes whose connections report each socket they open."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Connection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            register(sock)
            return sock

    class TlsConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            register(sock)  # before the TLS handshake, so a trickled handshake is cut too
            return sock

        def connect(self) -> None:
            super().connect()
            # Wrapping for TLS detaches the plain socket object: the wrapped one is new.
            if self.sock is not None:
                register(self.sock)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = TlsConnection

    return {"http": Pool, "https": TlsPool}


class DeadlineAdapter(HTTPAdapter):
    def __init__(self, deadline: float, max_body: int, **kwargs: Any) -> None:
        self.deadline = deadline
        self.max_body = max_body
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._sockets_lock = threading.Lock()
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self._register)

    def _register(self, sock: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets.add(sock)

    def _cut(self) -> None:
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def send(self, request: Any, stream: bool = False, **kwargs: Any) -> Any:  # type: ignore[override]
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            self._cut()

        timer = threading.Timer(self.deadline, expire)
        timer.daemon = True
        timer.start()
        try:
            try:
                response = super().send(request, stream=True, **kwargs)
            except requests.exceptions.RequestException:
                if expired.is_set():
                    raise self._late(request) from None
                raise
            if not stream:
                self._read_body(request, response, expired)
            return response
        finally:
            timer.cancel()

    def _late(self, request: Any) -> DeadlineExceeded:
        return DeadlineExceeded(f"no complete answer within {self.deadline:g} s", request=request)

    def _read_body(self, request: Any, response: Any, expired: threading.Event) -> None:
        from urllib3.exceptions import HTTPError as Urllib3Error

        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            response.close()
            raise TooLarge(int(declared), self.max_body)
        body = bytearray()
        try:
            for chunk in response.raw.stream(2**16, decode_content=True):
                body += chunk
                if len(body) > self.max_body:
                    response.close()
                    raise TooLarge(len(body), self.max_body)
        except (Urllib3Error, OSError) as exc:
            response.close()
            if expired.is_set():
                raise self._late(request) from None
            raise requests.exceptions.ConnectionError(exc, request=request) from None
        if expired.is_set():  # cut at the deadline where no length said the body was short
            response.close()
            raise self._late(request)
        response._content = bytes(body)
        response._content_consumed = True


class BodyTooLarge(Exception):
    def __init__(self, size: int, cap: int) -> None:
        super().__init__(f"answer of {size} bytes or more, over the cap of {cap}")
        self.size, self.cap = size, cap


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend with a deadline over the whole exchange and a byte cap.
    Start the clock with `start()` right before the request."""

    def __init__(self, deadline: float, max_body: int) -> None:
        self.deadline = deadline
        self.max_body = max_body
        self.ends_at = time.monotonic() + deadline
        self.received = 0
        self.expired = False
        self._inner = httpcore.SyncBackend()

    def start(self) -> None:
        self.ends_at = time.monotonic() + self.deadline
        self.received = 0
        self.expired = False

    def clamp(self, timeout: float | None, error: type[Exception]) -> float:
        left = self.ends_at - time.monotonic()
        if left <= 0:
            self.expired = True
            raise error(f"no complete answer within {self.deadline:g} s")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        timeout = self.clamp(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _Stream(stream, self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        timeout = self.clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options), self)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, backend: DeadlineBackend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        b = self._backend
        data = self._inner.read(max_bytes, b.clamp(timeout, httpcore.ReadTimeout))
        b.received += len(data)
        if b.received > b.max_body:
            raise BodyTooLarge(b.received, b.max_body)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._backend.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(*args, **kwargs), self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)
