"""The lab's Proxmox VE API: a `World` served over HTTPS on loopback, answering the way
pveproxy on PVE 9 answers, so the real adapter (proxmoxer over requests) is tested against
real sockets, real TLS and PVE's own status codes, wording and field types.

What a client sees:

* API tokens only (``Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET``). A token may
  read everything; only a token made with ``may_modify`` holds VM.PowerMgmt, VM.Clone,
  VM.Migrate and VM.Allocate. Refusals are PVE's: 401 "authentication failure", 403
  "Permission check failed (/vms/101, VM.PowerMgmt)".
* Every answer is ``{"data": ...}``; errors put PVE's message in the HTTP reason phrase
  (which is what proxmoxer reports) and in ``message``, with per-field ``errors`` on 400.
* Numbers, booleans (0/1) and units (bytes, MiB in configs, cpu as a fraction of the
  guest's or node's CPUs) follow the PVE 9 API schema; configs carry a ``digest``.
* A powered-off host shows "offline" in /nodes and /cluster/resources, its guests
  "unknown", and anything under /nodes/<it>/ answers 595 "No route to host", as pveproxy
  does when it cannot reach the node that owns the request.
* Power actions, clone and migrate are world tasks with real UPIDs that finish on the lab
  clock and keep a log in PVE's {n, t} form.

Storage is simplified: each host has "local" (its root filesystem, at most 100 GiB) and
"local-lvm" (an LVM-thin pool holding the rest of the host's disk), so root + thin pool
adds up to the lab's figure for the host.

`faults` lets a test make the next requests answer garbage, hang, or fail with 595.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.server
import json
import logging
import math
import re
import shutil
import socket
import ssl
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cockpit.lab.proxmox_config import ConfigEdits, ConfigError
from cockpit.lab.tls import LabTls, make_lab_tls
from cockpit.lab.world import Task, World, WorldError
from cockpit.model import Disk, Guest, Host
from cockpit.secret import Secret

log = logging.getLogger(__name__)

API = "/api2/json"
MiB = 2**20
GiB = 2**30
PVE_VERSION = {"version": "9.0.10", "release": "9.0", "repoid": "deb1ca707ec72a89"}
PVE_MANAGER = "pve-manager/9.0.10/deb1ca707ec72a89"
KERNEL_RELEASE = "6.14.11-2-pve"
KERNEL_BUILD = "#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-2 (2025-09-12T09:46Z)"
MODIFY_PRIVILEGES = frozenset(
    {"VM.PowerMgmt", "VM.Clone", "VM.Migrate", "VM.Allocate", "VM.Config.Options",
     "VM.Config.Disk"}
)  # fmt: skip
POWER_ACTIONS = ("start", "shutdown", "stop", "reboot")
ROOTFS_MAX = 100 * GiB  # the PVE installer's default root LV size (hdsize/4, at most 100G)
# RRD steps by timeframe, as pvestatd's RRAs keep them; 70 rows is what the API returns.
RRD_STEPS = {"hour": 60, "day": 1800, "week": 10800, "month": 43200, "year": 604800}
RRD_ROWS = 70
CLUSTER_TASKS = 50  # how many recent tasks /cluster/tasks lists
# How long tasks the world does not time itself take, in lab seconds.
CLONE_SECONDS_BASE = 3.0
CLONE_SECONDS_PER_GIB = 0.25
MIGRATE_SECONDS_BASE = 5.0
MIGRATE_SECONDS_PER_GIB = 2.0
HANDSHAKE_SECONDS = 5.0
IDLE_SECONDS = 30.0  # a keep-alive connection nobody uses is closed after this
MAX_RECORDED = 10_000
GARBAGE = b'\x89PNG\r\n\x1a\n<html><body>502 Bad Gateway</body>{"data": [truncated'


# --- tokens and faults ---------------------------------------------------------------------


@dataclass(frozen=True)
class ApiToken:
    """One API token the face accepts; `may_modify` grants the power, clone and migrate
    privileges (a token without it is a PVEAuditor)."""

    secret: Secret
    may_modify: bool = False


@dataclass
class _Fault:
    kind: str  # "garbage" | "hang" | "unreachable"
    remaining: int
    seconds: float = 0.0


class Faults:
    """Trouble for the next requests, whoever sends them, before authentication (as network
    trouble would): garbage bytes, no answer at all, or 595 from a proxy that lost the node."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Fault] = []

    def garbage(self, times: int = 1) -> None:
        """Answer 200 with bytes that are not JSON."""
        self._add(_Fault("garbage", times))

    def hang(self, times: int = 1, seconds: float = 30.0) -> None:
        """Read the request, then say nothing for `seconds` (or until the face stops)."""
        self._add(_Fault("hang", times, seconds))

    def unreachable(self, times: int = 1) -> None:
        """Answer 595 "No route to host", as pveproxy does when the node is gone."""
        self._add(_Fault("unreachable", times))

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._queue)

    def take(self) -> _Fault | None:
        with self._lock:
            if not self._queue:
                return None
            fault = self._queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._queue.pop(0)
            return fault

    def _add(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError(f"times must be at least 1, got {fault.remaining}")
        with self._lock:
            self._queue.append(fault)


# --- requests and answers ------------------------------------------------------------------


class ApiError(WorldError):
    """A refusal with PVE's status and message, plus per-parameter errors for a 400."""

    def __init__(self, status: int, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(status, message)
        self.errors = dict(errors or {})


def _bad_params(errors: Mapping[str, str]) -> ApiError:
    return ApiError(400, "Parameter verification failed.", errors)


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    body: bytes
    content_type: str = "application/json;charset=UTF-8"


def _ok(data: Any) -> Reply:
    return Reply(200, "OK", json.dumps({"data": data}).encode())


def _error(exc: WorldError) -> Reply:
    # The reason phrase is what proxmoxer (and most clients) report; one line, bounded.
    reason = exc.message.splitlines()[0][:200] if exc.message else "error"
    body: dict[str, Any] = {"data": None, "message": exc.message + "\n"}
    errors = getattr(exc, "errors", None)
    if errors:
        body["errors"] = errors
    return Reply(exc.status, reason, json.dumps(body).encode())


class Params:
    """Request parameters (query and form) read with PVE's type checks and wording."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.errors: dict[str, str] = {}

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None and required:
            self.errors[name] = "property is missing and it is not optional"
        return value

    def integer(self, name: str, minimum: int | None = None, required: bool = False) -> int | None:
        raw = self.text(name, required)
        if raw is None:
            return None
        if not re.fullmatch(r"[+-]?\d+", raw):
            self.errors[name] = f"type check ('integer') failed - got '{raw}'"
            return None
        value = int(raw)
        if minimum is not None and value < minimum:
            self.errors[name] = f"value must have a minimum value of {minimum}"
            return None
        return value

    def boolean(self, name: str) -> bool | None:
        raw = self.text(name)
        if raw is None:
            return None
        text = raw.lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        self.errors[name] = f"type check ('boolean') failed - got '{raw}'"
        return None

    def choice(self, name: str, allowed: tuple[str, ...], required: bool = False) -> str | None:
        value = self.text(name, required)
        if value is not None and value not in allowed:
            self.errors[name] = (
                f"value '{value}' does not have a value in the enumeration '{', '.join(allowed)}'"
            )
            return None
        return value

    def check(self) -> None:
        if self.errors:
            raise _bad_params(self.errors)


@dataclass
class Request:
    method: str
    path: str  # below /api2/json, percent-decoded per segment
    params: Params
    user: str = ""  # the token id, USER@REALM!TOKENID
    may_modify: bool = False
    groups: dict[str, str] = field(default_factory=dict)


# --- what the API shows of the world -------------------------------------------------------


def pve_status(g: Guest) -> str:
    """PVE's status of a guest: a paused VM is "running" (its qmpstatus says "paused")."""
    return "stopped" if g.status == "stopped" else "running"


def guest_load(g: Guest) -> tuple[float, int]:
    """(cpu as a fraction of the guest's vCPUs, memory bytes in use) of a guest.

    The lab file's figures when it has them, else a steady plausible load: a few percent of
    CPU and a bit over half the memory, as an idle Linux guest with page cache shows.
    """
    if not g.running:
        return 0.0, 0
    usage = g.usage
    if usage is not None and usage.cpu is not None:
        cpu = min(1.0, usage.cpu / (max(g.vcpus, 1) * 1000))
    else:
        cpu = 0.02 + (g.vmid % 7) / 100
    if usage is not None and usage.memory is not None:
        mem = min(usage.memory, g.memory)
    else:
        mem = g.memory * 55 // 100
    return cpu, mem


def host_load(h: Host, guests: list[Guest]) -> tuple[float, int]:
    """(cpu fraction of all host threads, memory bytes used) from the host's own figures or
    its running guests plus about a GiB for PVE itself; never more than the host has."""
    running = [g for g in guests if g.running]
    usage = h.usage
    if usage is not None and usage.cpu is not None:
        cpu = usage.cpu / (max(h.threads, 1) * 1000)
    else:
        busy = sum(guest_load(g)[0] * g.vcpus for g in running)
        cpu = 0.01 + busy / max(h.threads, 1)
    if usage is not None and usage.memory is not None:
        mem = usage.memory
    else:
        mem = GiB + sum(guest_load(g)[1] for g in running)
    return min(cpu, 1.0), min(mem, h.memory * 97 // 100)


def rootfs_of(h: Host) -> tuple[int, int]:
    """(total, used) bytes of the host's root filesystem."""
    total = min(ROOTFS_MAX, h.disk // 4)
    used = min(3 * GiB + total // 50, total * 9 // 10)
    return total, used


def thin_pool_of(h: Host, guests: list[Guest]) -> tuple[int, int]:
    """(total, used) bytes of local-lvm: the rest of the disk; thin volumes fill ~30 %."""
    total = max(0, h.disk - rootfs_of(h)[0])
    used = sum(d.size for g in guests for d in g.disks) * 3 // 10
    return total, min(used, total)


def swap_of(h: Host) -> int:
    return min(8 * GiB, h.memory // 8)


def pve_size(n: int) -> str:
    """Bytes as PVE writes a volume size: the largest unit that divides it exactly."""
    for unit, factor in (("T", 2**40), ("G", GiB), ("M", MiB), ("K", 2**10)):
        if n and n % factor == 0:
            return f"{n // factor}{unit}"
    return str(n)


def _mac(vmid: int, index: int = 0) -> str:
    digest = hashlib.sha256(f"{vmid}/{index}".encode()).digest()
    return "BC:24:11:" + ":".join(f"{b:02X}" for b in digest[:3])


def _uuid(vmid: int, what: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cockpit-lab/pve/{vmid}/{what}"))


_QEMU_DISK = re.compile(r"(?:scsi|virtio|sata|ide)\d+|efidisk0|tpmstate0")
_LXC_DISK = re.compile(r"rootfs|mp\d+")


def disk_keys(g: Guest) -> list[tuple[str, Disk]]:
    """The config key of each disk: the lab's name when it is one PVE knows for the guest's
    kind, else the next free scsiN (qemu) or rootfs/mpN (lxc)."""
    pattern = _QEMU_DISK if g.kind == "qemu" else _LXC_DISK
    used: set[str] = set()
    out = []
    for d in g.disks:
        key = d.name if pattern.fullmatch(d.name) and d.name not in used else _free_key(g, used)
        used.add(key)
        out.append((key, d))
    return out


def _free_key(g: Guest, used: set[str]) -> str:
    if g.kind == "lxc" and "rootfs" not in used:
        return "rootfs"
    prefix = "mp" if g.kind == "lxc" else "scsi"
    n = 0
    while f"{prefix}{n}" in used:
        n += 1
    return f"{prefix}{n}"


def _volume(g: Guest, key: str, index: int, d: Disk) -> str:
    storage = d.storage or "local-lvm"
    volume = f"{storage}:vm-{g.vmid}-disk-{index}"
    if key == "rootfs":
        return f"{volume},size={pve_size(d.size)}"
    if key.startswith("mp"):
        return f"{volume},mp=/mnt/{key},backup=1,size={pve_size(d.size)}"
    if key == "efidisk0":
        return f"{volume},efitype=4m,pre-enrolled-keys=1,size={pve_size(d.size)}"
    if key.startswith("scsi"):
        return f"{volume},iothread=1,size={pve_size(d.size)}"
    return f"{volume},size={pve_size(d.size)}"


def guest_config(
    g: Guest, lock: str | None, ctime: int, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The guest's config as GET .../config shows it, with the digest PVE computes over it;
    `extra`: options set through the API (cloud-init and the like)."""
    cfg = _qemu_config(g, ctime) if g.kind == "qemu" else _lxc_config(g)
    cfg.update(extra or {})
    for index, (key, d) in enumerate(disk_keys(g)):
        cfg[key] = _volume(g, key, index, d)
    if g.tags:
        cfg["tags"] = ";".join(g.tags)
    if g.template:
        cfg["template"] = 1
    if lock:
        cfg["lock"] = lock
    blob = json.dumps(cfg, sort_keys=True).encode()
    cfg["digest"] = hashlib.sha1(blob, usedforsecurity=False).hexdigest()
    return cfg


def _qemu_config(g: Guest, ctime: int) -> dict[str, Any]:
    keys = [k for k, _ in disk_keys(g)]
    cfg: dict[str, Any] = {
        "name": g.name,
        "cores": g.vcpus,
        "sockets": 1,
        # PVE 9 sends memory as a string ("[current=]<MiB>"), unlike cores and balloon.
        "memory": str(g.memory // MiB),
        "cpu": "x86-64-v2-AES",
        "agent": "1",
        "ostype": "l26",
        "scsihw": "virtio-scsi-single",
        "numa": 0,
        "onboot": 0 if g.template else 1,
        "boot": "order=" + ";".join([*keys[:1], "net0"]),
        "net0": f"virtio={_mac(g.vmid)},bridge=vmbr0,firewall=1",
        "smbios1": f"uuid={_uuid(g.vmid, 'smbios')}",
        "vmgenid": _uuid(g.vmid, "vmgenid"),
        "meta": f"creation-qemu=9.2.0,ctime={ctime}",
    }
    if "ide2" not in keys:
        cfg["ide2"] = "none,media=cdrom"  # an empty CD drive, as the installer leaves it
    if g.balloon_min is not None:
        cfg["balloon"] = g.balloon_min // MiB
    return cfg


def _lxc_config(g: Guest) -> dict[str, Any]:
    return {
        "hostname": g.name,
        "cores": g.vcpus,
        "memory": g.memory // MiB,
        "swap": 512,
        "arch": "amd64",
        "ostype": "debian",
        "unprivileged": 1,
        "onboot": 0 if g.template else 1,
        "net0": f"name=eth0,bridge=vmbr0,hwaddr={_mac(g.vmid)},ip=dhcp,type=veth",
    }


def guest_ips(world: World, g: Guest) -> tuple[str, ...]:
    """The guest's addresses: the lab's, else those of the Kubernetes node it backs."""
    if g.ips:
        return g.ips
    for node, b in world.backing.items():
        if b.vmid == g.vmid:
            return world.node_ips.get(node, ())
    return ()


# --- the face ------------------------------------------------------------------------------


Handler = Callable[[Request], Any]


class ProxmoxFace:
    """A World's Proxmox VE API on https://127.0.0.1:<random port>/api2/json."""

    def __init__(
        self,
        world: World,
        tokens: Mapping[str, ApiToken],
        tls: LabTls | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        for tokenid in tokens:
            if not re.fullmatch(r"[^@!\s]+@[^@!\s]+![A-Za-z][A-Za-z0-9._-]*", tokenid):
                raise ValueError(f"expected a token id like root@pam!cockpit, got {tokenid!r}")
        self.world = world
        self.tokens = dict(tokens)
        self.faults = Faults()
        self.locks: dict[int, str] = {}  # vmid -> PVE config lock ("clone", "migrate")
        self._ctimes: dict[int, int] = {}  # vmid -> when its config was made (meta ctime)
        self.edits = ConfigEdits(world)  # options and pending changes set through the API
        self.requests: list[tuple[str, str]] = []  # (method, path) seen, for tests
        self._tls = tls
        self._tmp: str | None = None
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._routes = self._build_routes()

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> ProxmoxFace:
        if self._server is not None:
            return self
        if self._tls is None:
            self._tmp = tempfile.mkdtemp(prefix="cockpit-pve-")
            self._tls = make_lab_tls(self._tmp)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self._tls.cert_file, self._tls.key_file)
        self._fingerprint = self._tls.fingerprint()
        self._stopping.clear()
        self._server = _Server((self._host, self._port), self, ctx)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pve-face", kwargs={"poll_interval": 0.1}
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # releases hanging requests
        server.shutdown()
        server.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:  # keep-alive connections would otherwise idle until IDLE_SECONDS
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp, self._tls = None, None

    def __enter__(self) -> ProxmoxFace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the face is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"https://{self._host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        if self._tls is None:
            raise RuntimeError("the face is not started")
        return self._tls.ca_file

    def paths(self, method: str | None = None, suffix: str = "") -> list[str]:
        """Paths requested so far (optionally one method, ending in `suffix`)."""
        with self._conns_lock:
            seen = list(self.requests)
        return [p for m, p in seen if (method is None or m == method) and p.endswith(suffix)]

    # --- dispatch -----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one request (everything but faults and the socket)."""
        parts = urlsplit(target)
        if not parts.path.startswith(API + "/") and parts.path != API:
            return _error(ApiError(501, f"Unknown format '{parts.path}'"))
        path = "/".join(unquote(seg) for seg in parts.path[len(API) :].split("/")) or "/"
        with self._conns_lock:
            self.requests.append((method, path))
            del self.requests[:-MAX_RECORDED]
        try:
            user, may_modify = self._authenticate(headers)
            self._check_node(path)
            handler, groups = self._route(method, path)
            params = Params(dict(parse_qsl(parts.query)) | _form(headers, body))
            req = Request(method, path, params, user, may_modify, groups)
            return _ok(handler(req))
        except WorldError as exc:
            return _error(exc)

    def _authenticate(self, headers: Mapping[str, str]) -> tuple[str, bool]:
        auth = headers.get("authorization", "")
        if not auth:
            raise ApiError(401, "No ticket")
        m = re.fullmatch(r"PVEAPIToken=([^=\s]+)=(\S+)", auth.strip())
        token = self.tokens.get(m.group(1)) if m else None
        # compare_digest: the time to refuse must not tell how much of a secret was right.
        if (
            m is None
            or token is None
            or not hmac.compare_digest(m.group(2).encode(), token.secret.reveal().encode())
        ):
            raise ApiError(401, "authentication failure")
        return m.group(1), token.may_modify

    def _check_node(self, path: str) -> None:
        m = re.match(r"/nodes/([^/]+)/", path)
        if m is None:
            return
        node = m.group(1)
        with self.world.lock:
            host = self.world.hosts.get(node)
            if host is None:
                raise ApiError(
                    500,
                    f"hostname lookup '{node}' failed - failed to get address info for: "
                    f"{node}: Name or service not known",
                )
            if not host.online:
                raise ApiError(595, "No route to host")

    def _route(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for verb, pattern, handler in self._routes:
            m = pattern.fullmatch(path)
            if m is not None and verb == method:
                return handler, m.groupdict()
        raise ApiError(501, f"Method '{method} {path}' not implemented")

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        node = r"/nodes/(?P<node>[^/]+)"
        guest = node + r"/(?P<kind>qemu|lxc)/(?P<vmid>[^/]+)"
        task = node + r"/tasks/(?P<upid>[^/]+)"
        table: list[tuple[str, str, Handler]] = [
            ("GET", r"/version", self._version),
            ("GET", r"/cluster/status", self._cluster_status),
            ("GET", r"/cluster/resources", self._cluster_resources),
            ("GET", r"/cluster/tasks", self._cluster_tasks),
            ("GET", r"/cluster/nextid", self._nextid),
            ("GET", r"/nodes", self._nodes),
            ("GET", node + r"/status", self._node_status),
            ("GET", node + r"/storage", self._storage),
            ("GET", node + r"/rrddata", self._rrddata),
            ("GET", node + r"/tasks", self._tasks),
            ("GET", task + r"/status", self._task_status),
            ("GET", task + r"/log", self._task_log),
            ("GET", node + r"/(?P<kind>qemu|lxc)", self._guest_list),
            ("GET", guest + r"/config", self._config),
            ("GET", guest + r"/status/current", self._status_current),
            ("POST", guest + r"/status/(?P<action>[^/]+)", self._power),
            ("POST", node + r"/(?P<kind>qemu)/(?P<vmid>[^/]+)/clone", self._clone),
            ("POST", guest + r"/migrate", self._migrate),
            ("GET", node + r"/(?P<kind>qemu)/(?P<vmid>[^/]+)/agent/network-get-interfaces",
             self._agent_interfaces),
            ("GET", node + r"/(?P<kind>lxc)/(?P<vmid>[^/]+)/interfaces", self._lxc_interfaces),
            ("POST", node + r"/(?P<kind>qemu)/(?P<vmid>[^/]+)/agent/ping", self._agent_ping),
            ("PUT", node + r"/(?P<kind>qemu)/(?P<vmid>[^/]+)/config", self._set_config),
            ("POST", node + r"/(?P<kind>qemu)/(?P<vmid>[^/]+)/config", self._set_config),
            ("GET", node + r"/(?P<kind>qemu)/(?P<vmid>[^/]+)/pending", self._pending),
            ("PUT", node + r"/(?P<kind>qemu)/(?P<vmid>[^/]+)/resize", self._resize),
        ]  # fmt: skip
        return [(verb, re.compile(pattern), handler) for verb, pattern, handler in table]

    # --- helpers ------------------------------------------------------------------------

    def _now(self) -> float:
        return self.world.clock.now()

    def _require(self, req: Request, path: str, privilege: str) -> None:
        if privilege in MODIFY_PRIVILEGES and not req.may_modify:
            raise ApiError(403, f"Permission check failed ({path}, {privilege})")

    def _guest(self, req: Request) -> Guest:
        """The guest the path names, on the node the path names, or PVE's refusal."""
        node, kind, raw = req.groups["node"], req.groups["kind"], req.groups["vmid"]
        if not re.fullmatch(r"\d+", raw) or int(raw) < 100:
            raise _bad_params({"vmid": f"type check ('integer') failed - got '{raw}'"})
        g = self.world.guests.get(int(raw))
        if g is None or g.host != node or g.kind != kind:
            folder = "qemu-server" if kind == "qemu" else "lxc"
            raise ApiError(
                500, f"Configuration file 'nodes/{node}/{folder}/{raw}.conf' does not exist"
            )
        return g

    def _guests_on(self, node: str) -> list[Guest]:
        return [g for g in self.world.guests.values() if g.host == node]

    def _uptime(self, g: Guest) -> int:
        if pve_status(g) != "running":
            return 0
        return max(0, int(self._now() - self.world.started_at.get(g.vmid, self._now())))

    def _check_lock(self, g: Guest) -> None:
        lock = self.locks.get(g.vmid)
        if lock:
            raise ApiError(500, f"{'VM' if g.kind == 'qemu' else 'CT'} is locked ({lock})")

    # --- cluster ------------------------------------------------------------------------

    def _version(self, req: Request) -> Any:
        return dict(PVE_VERSION)

    def _cluster_status(self, req: Request) -> Any:
        with self.world.lock:
            hosts = list(self.world.hosts.values())
        out: list[dict[str, Any]] = []
        if len(hosts) > 1:  # a standalone node reports itself only, as in the captured data
            online = sum(h.online for h in hosts)
            out.append(
                {
                    "type": "cluster",
                    "id": "cluster",
                    "name": self.world.lab.name,
                    "nodes": len(hosts),
                    "quorate": int(online * 2 > len(hosts)),
                    "version": len(hosts),
                }
            )
        for index, h in enumerate(hosts, 1):
            out.append(
                {
                    "type": "node",
                    "id": f"node/{h.name}",
                    "name": h.name,
                    "nodeid": index,
                    "ip": f"192.0.2.{10 + index}",
                    "level": "",
                    "local": int(index == 1),
                    "online": int(h.online),
                }
            )
        return out

    def _cluster_resources(self, req: Request) -> Any:
        kind = req.params.choice("type", ("vm", "storage", "node", "sdn"))
        req.params.check()
        self.world.tick()
        out: list[dict[str, Any]] = []
        with self.world.lock:
            if kind in (None, "vm"):
                out += [
                    self._guest_resource(g)
                    for g in sorted(self.world.guests.values(), key=lambda g: g.vmid)
                ]
            if kind in (None, "node"):
                out += [self._node_entry(h) for h in self.world.hosts.values()]
            if kind in (None, "storage"):
                for h in self.world.hosts.values():
                    out += [self._storage_resource(h, s) for s in self._storages(h)]
        return out

    def _node_entry(self, h: Host) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": f"node/{h.name}",
            "type": "node",
            "node": h.name,
            "status": "online" if h.online else "offline",
            "level": "",
        }
        if not h.online:  # pmxcfs has no fresh figures for a node it cannot hear
            return entry
        cpu, mem = host_load(h, self._guests_on(h.name))
        root_total, root_used = rootfs_of(h)
        entry.update(
            {
                "cgroup-mode": 2,
                "cpu": round(cpu, 6),
                "maxcpu": h.threads,
                "mem": mem,
                "maxmem": h.memory,
                "disk": root_used,
                "maxdisk": root_total,
                "uptime": int(self._now() - self.world.host_started_at.get(h.name, self._now())),
            }
        )
        return entry

    def _guest_resource(self, g: Guest) -> dict[str, Any]:
        online = self.world.hosts[g.host].online
        entry: dict[str, Any] = {
            "id": f"{g.kind}/{g.vmid}",
            "type": g.kind,
            "node": g.host,
            "vmid": g.vmid,
            "name": g.name,
            "status": pve_status(g) if online else "unknown",
            "template": int(g.template),
            "maxcpu": g.vcpus,
            "maxmem": g.memory,
            "maxdisk": g.disks[0].size if g.disks else 0,
        }
        if g.tags:
            entry["tags"] = ";".join(g.tags)
        if g.vmid in self.locks:
            entry["lock"] = self.locks[g.vmid]
        if online:
            entry.update(self._guest_usage(g))
        return entry

    def _guest_usage(self, g: Guest) -> dict[str, Any]:
        cpu, mem = guest_load(g)
        usage: dict[str, Any] = {
            "cpu": round(cpu, 6),
            "mem": mem,
            "disk": (g.disks[0].size * 3 // 10) if g.kind == "lxc" and g.running and g.disks else 0,
            "diskread": 0,
            "diskwrite": 0,
            "netin": 0,
            "netout": 0,
            "uptime": self._uptime(g),
        }
        if g.kind == "qemu":
            usage["memhost"] = mem
        if g.running:  # counters since start, growing with uptime like a real guest's
            up = usage["uptime"]
            usage.update(diskread=up * 40_000, diskwrite=up * 25_000, netin=up * 3_000,
                         netout=up * 1_500)  # fmt: skip
        return usage

    def _nodes(self, req: Request) -> Any:
        self.world.tick()
        with self.world.lock:
            return [
                {**self._node_entry(h), "ssl_fingerprint": self._fingerprint}
                for h in self.world.hosts.values()
            ]

    # --- one node -----------------------------------------------------------------------

    def _node_status(self, req: Request) -> Any:
        self.world.tick()
        with self.world.lock:
            h = self.world.hosts[req.groups["node"]]
            cpu, mem = host_load(h, self._guests_on(h.name))
            uptime = int(self._now() - self.world.host_started_at.get(h.name, self._now()))
        root_total, root_used = rootfs_of(h)
        swap = swap_of(h)
        load = cpu * h.threads
        return {
            "cpu": round(cpu, 6),
            "wait": 0.0011,
            "idle": 0,
            "uptime": uptime,
            "loadavg": [f"{load:.2f}", f"{load * 0.9:.2f}", f"{load * 0.8:.2f}"],
            "kversion": f"Linux {KERNEL_RELEASE} {KERNEL_BUILD}",
            "pveversion": PVE_MANAGER,
            "cpuinfo": _cpuinfo(h),
            "memory": {"total": h.memory, "used": mem, "free": h.memory - mem,
                       "available": h.memory - mem},
            "swap": {"total": swap, "used": 0, "free": swap},
            "ksm": {"shared": 0},
            "rootfs": {"total": root_total, "used": root_used, "free": root_total - root_used,
                       "avail": root_total - root_used},
            "current-kernel": {"sysname": "Linux", "release": KERNEL_RELEASE,
                               "version": KERNEL_BUILD, "machine": _machine(h)},
            "boot-info": {"mode": "efi", "secureboot": 0},
        }  # fmt: skip

    def _storages(self, h: Host) -> list[dict[str, Any]]:
        """The host's storages as /nodes/{node}/storage lists them."""
        root_total, root_used = rootfs_of(h)
        pool_total, pool_used = thin_pool_of(h, self._guests_on(h.name))
        out = [
            {"storage": "local", "type": "dir", "content": "backup,iso,vztmpl", "shared": 0,
             "total": root_total, "used": root_used},
        ]  # fmt: skip
        if pool_total:
            out.append({"storage": "local-lvm", "type": "lvmthin", "content": "images,rootdir",
                        "shared": 0, "total": pool_total, "used": pool_used})  # fmt: skip
        for s in out:
            fraction = round(s["used"] / s["total"], 6) if s["total"] else 0.0
            s.update(active=1, enabled=1, avail=s["total"] - s["used"], used_fraction=fraction)
        return out

    def _storage_resource(self, h: Host, s: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": f"storage/{h.name}/{s['storage']}",
            "type": "storage",
            "node": h.name,
            "storage": s["storage"],
            "plugintype": s["type"],
            "content": s["content"],
            "shared": s["shared"],
            "status": "available" if h.online else "unknown",
        }
        if h.online:
            entry.update(disk=s["used"], maxdisk=s["total"])
        return entry

    def _storage(self, req: Request) -> Any:
        with self.world.lock:
            return self._storages(self.world.hosts[req.groups["node"]])

    def _rrddata(self, req: Request) -> Any:
        timeframe = req.params.choice("timeframe", tuple(RRD_STEPS), required=True)
        req.params.choice("cf", ("AVERAGE", "MAX"))
        req.params.check()
        assert timeframe is not None
        self.world.tick()
        with self.world.lock:
            h = self.world.hosts[req.groups["node"]]
            cpu, mem = host_load(h, self._guests_on(h.name))
        return rrd_series(h, cpu, mem, self._now(), RRD_STEPS[timeframe])

    # --- tasks --------------------------------------------------------------------------

    def _tasks(self, req: Request) -> Any:
        p = req.params
        start = p.integer("start", minimum=0) or 0
        limit = p.integer("limit", minimum=0)
        vmid = p.integer("vmid", minimum=100)
        source = p.choice("source", ("archive", "active", "all")) or "archive"
        errors_only = p.boolean("errors") or False
        typefilter = p.text("typefilter")
        p.check()
        self.world.tick()
        node = req.groups["node"]
        with self.world.lock:
            tasks = [t for t in self.world.tasks.values() if t.node == node]
        # archive: finished tasks; active: running ones; all: both (PVE's three sources).
        wanted = {"archive": ("stopped",), "active": ("running",), "all": ("running", "stopped")}
        tasks = [
            t
            for t in tasks
            if t.status in wanted[source]
            and (vmid is None or t.id == str(vmid))
            and (typefilter is None or t.type == typefilter)
            and not (errors_only and t.exitstatus == "OK")
        ]
        tasks.sort(key=lambda t: -t.starttime)
        return [task_view(t, listing=True) for t in tasks[start : start + (limit or 50)]]

    def _cluster_tasks(self, req: Request) -> Any:
        """The cluster's recent tasks, newest first, running ones included (no status yet),
        as pmxcfs keeps them for every node."""
        req.params.check()
        self.world.tick()
        with self.world.lock:
            tasks = sorted(self.world.tasks.values(), key=lambda t: -t.starttime)
            return [task_view(t, listing=True) for t in tasks[:CLUSTER_TASKS]]

    def _nextid(self, req: Request) -> Any:
        wanted = req.params.integer("vmid", minimum=100)
        req.params.check()
        with self.world.lock:
            taken = set(self.world.guests)
        if wanted is not None:
            if wanted in taken:
                raise _bad_params({"vmid": f"VM {wanted} already exists"})
            return str(wanted)
        return str(next(n for n in range(100, 1_000_000_000) if n not in taken))

    def _task(self, req: Request) -> Task:
        upid = req.groups["upid"]
        fields = upid.split(":")
        if len(fields) != 9 or fields[0] != "UPID":
            raise _bad_params({"upid": "unable to parse worker upid"})
        with self.world.lock:
            task = self.world.tasks.get(upid)
        if task is None or task.node != req.groups["node"]:
            raise _bad_params({"upid": "no such task"})
        self.world.tick()
        return task

    def _task_status(self, req: Request) -> Any:
        task = self._task(req)
        with self.world.lock:
            return task_view(task, listing=False)

    def _task_log(self, req: Request) -> Any:
        start = req.params.integer("start", minimum=0) or 0
        limit = req.params.integer("limit", minimum=0)
        req.params.check()
        task = self._task(req)
        with self.world.lock:
            lines = list(task.log)
        rows = [{"n": n, "t": line} for n, line in enumerate(lines, 1)]
        return rows[start : start + (limit or 50)]

    # --- guests -------------------------------------------------------------------------

    def _guest_list(self, req: Request) -> Any:
        self.world.tick()
        node, kind = req.groups["node"], req.groups["kind"]
        with self.world.lock:
            guests = sorted(
                (g for g in self._guests_on(node) if g.kind == kind), key=lambda g: g.vmid
            )
            return [self._list_entry(g) for g in guests]

    def _list_entry(self, g: Guest) -> dict[str, Any]:
        entry = {k: v for k, v in self._guest_resource(g).items() if k not in ("id", "node")}
        entry["cpus"] = entry.pop("maxcpu")
        if g.kind == "lxc":
            entry["maxswap"] = 512 * MiB
        if pve_status(g) == "running":
            entry["pid"] = 10_000 + g.vmid
        if not g.template:
            entry.pop("template")
        entry.pop("type")
        if g.kind == "lxc":
            entry["type"] = "lxc"
        return entry

    def _config(self, req: Request) -> Any:
        with self.world.lock:
            g = self._guest(req)
            # Fixed per guest: a restart must not change the config, nor so its digest.
            ctime = self._ctimes.setdefault(g.vmid, int(self._now()) - 30 * 86400)
            return guest_config(g, self.locks.get(g.vmid), ctime, self.edits.shown(g.vmid))

    def _set_config(self, req: Request) -> Any:
        """PUT applies at once (null); POST does it in a qmconfig task (its UPID)."""
        self._require(req, f"/vms/{req.groups['vmid']}", "VM.Config.Options")
        with self.world.lock:
            g = self._guest(req)
            self._check_lock(g)
            ctime = self._ctimes.setdefault(g.vmid, int(self._now()) - 30 * 86400)

            def digest() -> str:
                cfg = guest_config(g, None, ctime, self.edits.shown(g.vmid))
                return str(cfg["digest"])

            try:
                self.edits.edit(g, dict(req.params.values), digest)
            except ConfigError as exc:
                if exc.errors:
                    raise _bad_params(exc.errors) from None
                raise ApiError(exc.status, exc.message) from None
            if req.method == "PUT":
                return None
            task = self.world.start_task(g.host, "qmconfig", str(g.vmid), req.user, 0.5, None)
        return task.upid

    def _pending(self, req: Request) -> Any:
        with self.world.lock:
            g = self._guest(req)
            pending = self.edits.pending_of(g.vmid)
        current = {"cores": g.vcpus, "memory": g.memory // MiB}
        return [
            {"key": key, "value": value, **({"pending": pending[key]} if key in pending else {})}
            for key, value in current.items()
        ]

    def _resize(self, req: Request) -> Any:
        self._require(req, f"/vms/{req.groups['vmid']}", "VM.Config.Disk")
        p = req.params
        disk = p.text("disk", required=True)
        size = p.text("size", required=True)
        p.check()
        assert disk is not None and size is not None
        with self.world.lock:
            g = self._guest(req)
            self._check_lock(g)
            try:
                self.edits.resize(g, disk, size, [k for k, _ in disk_keys(g)])
            except ConfigError as exc:
                if exc.errors:
                    raise _bad_params(exc.errors) from None
                raise ApiError(exc.status, exc.message) from None
            task = self.world.start_task(g.host, "qmresize", str(g.vmid), req.user, 1.0, None)
        return task.upid

    def _status_current(self, req: Request) -> Any:
        self.world.tick()
        with self.world.lock:
            g = self._guest(req)
            entry = self._list_entry(g)
        entry["ha"] = {"managed": 0}
        if g.kind == "lxc":
            return entry
        entry.update(
            qmpstatus="paused" if g.status == "paused" else entry["status"],
            agent=1,
            clipboard=None,
            serial=0,
        )
        if g.running:
            entry["balloon"] = g.memory
            entry["running-qemu"] = "9.2.0"
            entry["running-machine"] = "pc-i440fx-9.2+pve1"
        return entry

    def _agent_interfaces(self, req: Request) -> Any:
        with self.world.lock:
            g = self._guest(req)
            if not g.running:
                raise ApiError(500, "QEMU guest agent is not running")
            ips = guest_ips(self.world, g)
        eth0 = [{"ip-address": ip, "ip-address-type": _family(ip), "prefix": _prefix(ip)}
                for ip in ips]  # fmt: skip
        return {
            "result": [
                {"name": "lo", "hardware-address": "00:00:00:00:00:00",
                 "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4",
                                   "prefix": 8}]},
                {"name": "eth0", "hardware-address": _mac(g.vmid).lower(), "ip-addresses": eth0},
            ]
        }  # fmt: skip

    def _agent_ping(self, req: Request) -> Any:
        """The guest agent answers once the OS has booted (qemu-guest-agent is up)."""
        with self.world.lock:
            g = self._guest(req)
        if not self.world.booted(g.vmid):
            raise ApiError(500, "QEMU guest agent is not running")
        return {"result": {}}

    def _lxc_interfaces(self, req: Request) -> Any:
        with self.world.lock:
            g = self._guest(req)
            if not g.running:
                return None  # PVE answers null for a stopped container
            ips = guest_ips(self.world, g)
        eth0: dict[str, Any] = {"name": "eth0", "hwaddr": _mac(g.vmid).lower()}
        v4 = [ip for ip in ips if ":" not in ip]
        v6 = [ip for ip in ips if ":" in ip]
        if v4:
            eth0["inet"] = f"{v4[0]}/24"
        if v6:
            eth0["inet6"] = f"{v6[0]}/64"
        lo = {
            "name": "lo",
            "hwaddr": "00:00:00:00:00:00",
            "inet": "127.0.0.1/8",
            "inet6": "::1/128",
        }
        return [lo, eth0]

    # --- actions ------------------------------------------------------------------------

    def _power(self, req: Request) -> Any:
        action = req.groups["action"]
        vmid = req.groups["vmid"]
        if action not in POWER_ACTIONS:
            raise ApiError(501, f"Method 'POST {req.path}' not implemented")
        self._require(req, f"/vms/{vmid}", "VM.PowerMgmt")
        p = req.params
        timeout = (
            p.integer("timeout", minimum=0) if action in ("shutdown", "reboot", "stop") else None
        )
        force = p.boolean("forceStop") if action == "shutdown" else None
        p.check()
        self.world.tick()
        with self.world.lock:
            g = self._guest(req)
            self._check_lock(g)
            # A stop's timeout bounds the kill, not a graceful wait: the world ignores it.
            wait = float(timeout) if timeout is not None and action != "stop" else None
            task = self.world.guest_action(g.vmid, action, req.user, wait, bool(force))
        return task.upid

    def _clone(self, req: Request) -> Any:
        vmid = req.groups["vmid"]
        self._require(req, f"/vms/{vmid}", "VM.Clone")
        p = req.params
        newid = p.integer("newid", minimum=100, required=True)
        name = p.text("name")
        full = p.boolean("full")
        target = p.text("target")
        p.check()
        assert newid is not None
        self._require(req, f"/vms/{newid}", "VM.Allocate")
        with self.world.lock:
            g = self._guest(req)
            node = g.host
            if target in (node, "localhost"):
                target = None
            if target is not None and target not in self.world.hosts:
                raise ApiError(500, f"no such cluster node '{target}'")
            self._check_lock(g)
            full_copy = (not g.template) if full is None else full
            if target is not None:  # every lab storage is local to its node
                raise ApiError(500, f"can't clone VM to node '{target}' (VM uses local storage)")
            if newid in self.world.guests:
                raise ApiError(500, f"unable to create VM {newid}: config file already exists")
            if not full_copy and not g.template and g.disks:
                key, _ = disk_keys(g)[0]
                volume = f"{g.disks[0].storage or 'local-lvm'}:vm-{g.vmid}-disk-0"
                raise ApiError(500, f"Linked clone feature is not supported for '{volume}' ({key})")
            task = self._start_clone(req, g, newid, name, full_copy)
        self.world.notify()
        return task.upid

    def _start_clone(
        self, req: Request, g: Guest, newid: int, name: str | None, full: bool
    ) -> Task:
        # PVE writes the new config at once, locked "clone", and copies disks in the task.
        copy = replace(
            g,
            vmid=newid,
            name=name or f"Copy-of-VM-{g.name}",
            status="stopped",
            template=False,
            usage=None,
            ips=(),
        )
        self.world.guests[newid] = copy
        self.world.started_at[newid] = self._now()
        self.locks[newid] = "clone"
        self._ctimes[newid] = int(self._now())
        gib = sum(d.size for d in g.disks) / GiB
        seconds = CLONE_SECONDS_BASE + (CLONE_SECONDS_PER_GIB * gib if full else 0.0)

        def finish() -> str | None:
            self.locks.pop(newid, None)
            return None

        return self.world.start_task(g.host, "qmclone", str(g.vmid), req.user, seconds, finish)

    def _migrate(self, req: Request) -> Any:
        vmid = req.groups["vmid"]
        self._require(req, f"/vms/{vmid}", "VM.Migrate")
        p = req.params
        target = p.text("target", required=True)
        online = p.boolean("online") or False
        p.check()
        assert target is not None
        self.world.tick()
        with self.world.lock:
            g = self._guest(req)
            if target == g.host:
                raise _bad_params({"target": "target is local node."})
            if target not in self.world.hosts:
                raise ApiError(500, f"no such cluster node '{target}'")
            self._check_lock(g)
            if g.running and not online:
                what = "VM" if g.kind == "qemu" else "container"
                extra = "" if g.kind == "qemu" else " or --restart"
                raise ApiError(500, f"can't migrate running {what} without --online{extra}")
            task = self._start_migration(req, g, target)
        return task.upid

    def _start_migration(self, req: Request, g: Guest, target: str) -> Task:
        self.locks[g.vmid] = "migrate"
        size = g.memory if g.running else sum(d.size for d in g.disks)
        seconds = MIGRATE_SECONDS_BASE + MIGRATE_SECONDS_PER_GIB * size / GiB
        source = g.host
        made: list[Task] = []  # the task itself, for its log, once it exists

        def finish() -> str | None:
            self.locks.pop(g.vmid, None)
            current = self.world.guests.get(g.vmid)
            if current is None or current.host != source:
                return "migration aborted"
            if not (self.world.hosts[source].online and self.world.hosts[target].online):
                return "migration aborted"
            self.world.guests[g.vmid] = replace(current, host=target)
            made[0].log.append(f"migration finished successfully ({seconds:.0f} s lab time)")
            return None

        kind = "qmigrate" if g.kind == "qemu" else "vzmigrate"
        task = self.world.start_task(source, kind, str(g.vmid), req.user, seconds, finish)
        task.log.append(f"starting migration of {g.kind.upper()} {g.vmid} to node '{target}'")
        made.append(task)
        return task

    # --- connections (used by the server) -----------------------------------------------

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)


# --- module helpers ------------------------------------------------------------------------


def task_view(t: Task, listing: bool) -> dict[str, Any]:
    """A task as /tasks lists it (exit status in `status`, with endtime) or as
    /tasks/{upid}/status shows it (status running|stopped, plus exitstatus)."""
    fields = t.upid.split(":")
    out: dict[str, Any] = {
        "upid": t.upid,
        "node": t.node,
        "pid": int(fields[2], 16),
        "pstart": int(fields[3], 16),
        "starttime": int(t.starttime),
        "type": t.type,
        "id": t.id,
        "user": t.user,
    }
    if "!" in t.user:
        out["tokenid"] = t.user.split("!", 1)[1]
    if listing:
        if t.status == "stopped":
            out["status"] = t.exitstatus
            out["endtime"] = int(t.endtime or t.ends_at)
        return out
    out["status"] = t.status
    if t.status == "stopped":
        out["exitstatus"] = t.exitstatus
    return out


def rrd_series(h: Host, cpu: float, mem: int, now: float, step: int) -> list[dict[str, Any]]:
    """70 rows ending now: the current load with a slow, deterministic wobble."""
    end = int(now) // step * step
    root_total, root_used = rootfs_of(h)
    swap = swap_of(h)
    rows = []
    for i in range(RRD_ROWS):
        t = end - (RRD_ROWS - 1 - i) * step
        wobble = 1 + 0.15 * math.sin(t / (step * 9))
        c = min(1.0, cpu * wobble)
        rows.append(
            {
                "time": t,
                "cpu": round(c, 6),
                "maxcpu": h.threads,
                "iowait": round(0.002 * wobble, 6),
                "loadavg": round(c * h.threads, 2),
                "memused": float(min(h.memory, int(mem * (1 + 0.02 * math.sin(t / step))))),
                "memtotal": float(h.memory),
                "swapused": 0.0,
                "swaptotal": float(swap),
                "rootused": float(root_used),
                "roottotal": float(root_total),
                "netin": round(12_000 * wobble, 2),
                "netout": round(6_000 * wobble, 2),
            }
        )
    return rows


def _cpuinfo(h: Host) -> dict[str, Any]:
    model = h.cpu_model or "unknown"
    vendor = (
        "GenuineIntel" if "intel" in model.lower()
        else "AuthenticAMD" if "amd" in model.lower()
        else "unknown"
    )  # fmt: skip
    virt = "svm" if vendor == "AuthenticAMD" else "vmx"
    return {
        "model": model,
        # PVE's cores is the sum over sockets (read_cpuinfo adds "cpu cores" per physical id)
        "cores": h.cores,
        "cpus": h.threads,
        "sockets": 1,
        "mhz": "2400.000",
        "hvm": "1",
        "user_hz": 100,
        "vendor": vendor,
        "flags": f"fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge {virt} sse4_2 avx2 aes",
    }


def _machine(h: Host) -> str:
    return "aarch64" if h.arch == "arm64" else "x86_64"


def _family(ip: str) -> str:
    return "ipv6" if ":" in ip else "ipv4"


def _prefix(ip: str) -> int:
    return 64 if ":" in ip else 24


def _form(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    if not body:
        return {}
    ctype = headers.get("content-type", "")
    try:
        if ctype.startswith("application/json"):
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return {k: _scalar(v) for k, v in data.items()}
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError):
        raise _bad_params({"body": "malformed request body"}) from None


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


# --- HTTP plumbing -------------------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], face: ProxmoxFace, ssl_ctx: ssl.SSLContext
    ) -> None:
        self.face = face
        self.ssl_ctx = ssl_ctx
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens here, in the connection's own thread, so one client that
        # connects and never speaks cannot stall the accept loop for everyone else.
        request.settimeout(HANDSHAKE_SECONDS)
        # Small answers written as they are ready; Nagle would hold each for a delayed ACK.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        self.face._track(conn, True)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except OSError as exc:  # the client went away mid-answer
            log.debug("connection from %s ended: %s", client_address, exc)
        finally:
            self.face._track(conn, False)
            conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("error serving %s", client_address, exc_info=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pve-api-daemon/3.0"

    def version_string(self) -> str:
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        # pveproxy's Date is the node's clock, which in the lab is the lab clock.
        now = self.server.face.world.clock.now() if timestamp is None else timestamp
        return formatdate(now, usegmt=True)

    timeout = IDLE_SECONDS
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        face = self.server.face
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = face.faults.take()
        if fault is not None and fault.kind == "hang":
            face._stopping.wait(fault.seconds)
            self.close_connection = True
            return
        if fault is not None and fault.kind == "garbage":
            self._send(Reply(200, "OK", GARBAGE))
            return
        if fault is not None:
            self._send(_error(ApiError(595, "No route to host")))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._send(face.handle(self.command, self.path, headers, body))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status, reply.reason)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "max-age=0")
        self.send_header("Pragma", "no-cache")
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        # The request line only: headers (and so tokens) never reach a log.
        log.debug("%s " + format, self.address_string(), *args)
