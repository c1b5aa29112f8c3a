"""Pieces for the Tailscale tests: a small lab, short socket directories, and real servers
that misbehave in the ways a broken tailscaled (or something else on its socket) does."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import ThreadingUnixStreamServer
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "tailscale"

# Two Proxmox hosts, a k3s node in each of four guests, their tailnet peers (node IPs are
# the Tailscale IPs, as with k3s --node-ip on a tailnet), a host peer and this laptop.
LAB_TOML = """
[lab]
name = "tailnet-test"

[[hosts]]
name = "pve1"
cores = 4
memory = "16G"

[[hosts]]
name = "pve2"
cores = 4
memory = "16G"

[[guests]]
vmid = 101
name = "k3s-server"
host = "pve1"
memory = "4G"

[[guests]]
vmid = 102
name = "worker-1"
host = "pve1"
memory = "8G"

[[guests]]
vmid = 201
name = "worker-2"
host = "pve2"
memory = "8G"

[[guests]]
vmid = 202
name = "worker-3"
host = "pve2"
memory = "8G"

[[nodes]]
name = "k3s-server"
guest = 101
ips = ["100.64.0.11"]

[[nodes]]
name = "worker-1"
guest = 102
ips = ["100.64.0.12"]

[[nodes]]
name = "worker-2"
guest = 201
ips = ["100.64.0.13"]

[[nodes]]
name = "worker-3"
guest = 202
ips = ["100.64.0.14"]

[[peers]]
hostname = "k3s-server"
ips = ["100.64.0.11"]
cur_addr = "192.168.1.11:41641"

[[peers]]
hostname = "worker-1"
ips = ["100.64.0.12"]
cur_addr = "192.168.1.12:41641"

[[peers]]
hostname = "worker-2"
ips = ["100.64.0.13"]
relay = "ams"

[[peers]]
hostname = "worker-3"
ips = ["100.64.0.14"]
relay = "ams"

[[peers]]
hostname = "pve1"
ips = ["100.64.0.21"]
exit_node = true

[[peers]]
hostname = "laptop"
ips = ["100.64.0.2"]
os = "macOS"
self = true
"""


@contextmanager
def short_dir() -> Iterator[Path]:
    """A world-traversable temp dir with a short path: AF_UNIX paths stop at 107 bytes,
    which pytest's tmp_path can exceed, and 0755 lets another uid reach a socket in it."""
    path = Path(tempfile.mkdtemp(prefix="ts-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stale_socket(path: Path) -> Path:
    """A socket file nobody listens on, as a crashed tailscaled leaves behind."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()
    assert stat.S_ISSOCK(path.stat().st_mode)
    return path


@contextmanager
def silent_socket(path: Path) -> Iterator[Path]:
    """A socket that accepts connections (the kernel's backlog does) but never answers."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(8)
    try:
        yield path
    finally:
        sock.close()


@contextmanager
def fixed_answer(path: Path, status: int, body: bytes, content_type: str) -> Iterator[Path]:
    """An HTTP server on a unix socket that answers every request the same way."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def address_string(self) -> str:
            return "local"

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingUnixStreamServer(str(path), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fake_cli(directory: Path, script: str) -> Path:
    """An executable named `tailscale` running a POSIX shell script."""
    directory.mkdir(parents=True, exist_ok=True)
    cli = directory / "tailscale"
    cli.write_text("#!/bin/sh\n" + script)
    cli.chmod(0o755)
    return cli


FETCH_AS_CHILD = """
import json, os, sys
from cockpit.sources.health import SourceError
from cockpit.sources.tailscale import TailscaleSource

source = TailscaleSource(socket_path=sys.argv[1])
try:  # warm up while still root: the interpreter and site-packages may be root-only
    TailscaleSource(socket_path=sys.argv[2]).fetch()
except SourceError:
    pass
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
try:
    status = source.fetch()
    print(json.dumps({"uid": os.getuid(), "peers": len(status.peers)}))
except SourceError as exc:
    print(json.dumps({"uid": os.getuid(), "reason": exc.reason, "hint": exc.hint}))
"""


def fetch_as_nobody(socket_path: Path, empty_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run TailscaleSource.fetch() in a child that drops to uid/gid 65534 (nobody) with
    os.setuid before it connects, so the kernel decides about the socket's mode (root
    would ignore it). Must be called as root."""
    return subprocess.run(
        [sys.executable, "-c", FETCH_AS_CHILD, str(socket_path), str(empty_dir / "none.sock")],
        cwd=REPO,
        env={
            "PATH": str(empty_dir),  # no `tailscale` CLI to fall back on
            "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": str(empty_dir),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
