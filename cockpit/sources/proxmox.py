"""The Proxmox VE adapter: hosts and guests from a PVE node or cluster, power actions and
their tasks, through proxmoxer's HTTPS backend with an API token.

One fetch costs 1 request for /cluster/resources (nodes, guests and storages at once), 1 for
/cluster/status (quorum and which nodes are members and online), 1 for /cluster/tasks (the
recent tasks of every node, with their exit status), 1 per online node for
/nodes/{node}/status, 1 per guest whose config may have changed, 1 per running guest with an
agent when addresses are wanted and its last ones are older than `addresses_ttl` (or it
restarted, or had none), and every few minutes /version. PVE lists no config
digests in bulk, so a guest's config is fetched when the guest is new, when what
/cluster/resources shows of it (name, node, vCPUs, memory, boot disk, tags, template)
changed, or when the cached copy is older than `config_ttl`; the digest PVE returns says
whether anything changed at all.

Units: PVE gives bytes everywhere except guest memory and balloon in configs (MiB) and disk
sizes in configs ("32G", 1024-based); CPU usage is a fraction of the guest's or node's CPUs
and becomes millicores here. Booleans arrive as 0/1 and some numbers as strings.

Host.disk is the node's root filesystem plus its local LVM and LVM-thin pools, read from the
storage entries /cluster/resources already carries. ZFS, btrfs and directory storages are
not added: on a default install they live on the root filesystem or the same pool, and
counting them would count the same space twice.

Every failure is a SourceError saying what is wrong and how to fix it. The token's secret
travels only in the Authorization header proxmoxer builds; it is never in a message, a
repr or a log line this module writes.

`timeout` bounds each socket operation, as requests does; on top of that every request has
an overall deadline (DEADLINE_FACTOR times the timeout, connect to last byte) and a size
cap, enforced by cockpit.sources.deadline, so a pveproxy that trickles its answer or sends
far too much fails in bounded time and memory. Waiting for the session (one request at a
time) is bounded by the same deadline, so a detail view never queues behind a stuck fetch.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import requests
from proxmoxer import ProxmoxAPI, ResourceException

from cockpit.model import Disk, Guest, Host, PveCluster, PveTask, Resources
from cockpit.secret import Secret
from cockpit.sources.deadline import DeadlineAdapter, DeadlineExceeded, TooLarge
from cockpit.sources.health import ReadOnlyError, SourceError
from cockpit.units import parse_pve_size

MiB = 2**20
POWER_ACTIONS = ("start", "shutdown", "stop", "reboot")
# PVE's task types, as /nodes/{node}/tasks lists them.
TASK_TYPES = {
    ("qemu", "start"): "qmstart",
    ("qemu", "shutdown"): "qmshutdown",
    ("qemu", "stop"): "qmstop",
    ("qemu", "reboot"): "qmreboot",
    ("lxc", "start"): "vzstart",
    ("lxc", "shutdown"): "vzshutdown",
    ("lxc", "stop"): "vzstop",
    ("lxc", "reboot"): "vzreboot",
}
CA_HINT = (
    "set ca_file under [proxmox] in the config to the cluster's CA (a copy of "
    "/etc/pve/pve-root-ca.pem from any node), or, only if you accept the risk of talking to "
    "an impostor, run with --insecure (or insecure = true under [proxmox])"
)
DEADLINE_FACTOR = 2.0  # a whole request may take this many times the per-read timeout
MAX_BODY = 32 * 2**20  # /cluster/resources of a large cluster is well under a MiB
GuestKind = Literal["qemu", "lxc"]
T = TypeVar("T")


class ProxmoxError(SourceError):
    """A SourceError that also keeps PVE's HTTP status, when there was one."""

    def __init__(self, reason: str, hint: str = "", status: int | None = None) -> None:
        super().__init__(reason, hint, status)


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProxmoxState:
    """One fetch: every node as a Host, every VM and container as a Guest, the cluster's
    quorum and the recent tasks (newest first)."""

    hosts: tuple[Host, ...]
    guests: tuple[Guest, ...]
    cluster: str  # the cluster's name; "" for a standalone node
    version: str  # PVE's version, e.g. "9.0.10"
    pve_cluster: PveCluster | None = None  # None when /cluster/status could not be read
    tasks: tuple[PveTask, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeEntry:
    """A node as /cluster/resources and /nodes list it (no figures when offline)."""

    name: str
    status: str  # online | offline | unknown
    maxcpu: int | None = None
    maxmem: int | None = None
    maxdisk: int | None = None
    cpu: float | None = None
    mem: int | None = None
    uptime: int = 0
    arch: str = ""  # "amd64"/"arm64" when PVE says (host-arch), else ""

    @property
    def online(self) -> bool:
        return self.status == "online"


@dataclass(frozen=True, slots=True)
class GuestEntry:
    """A guest as /cluster/resources, /nodes/{n}/{qemu,lxc} or .../status/current show it."""

    vmid: int
    kind: GuestKind
    node: str
    name: str
    status: str  # running | stopped | unknown (node offline)
    template: bool = False
    tags: tuple[str, ...] = ()
    maxcpu: int | None = None
    maxmem: int | None = None
    maxdisk: int | None = None
    cpu: float | None = None  # fraction of its CPUs
    mem: int | None = None
    uptime: int = 0
    lock: str = ""
    qmpstatus: str = ""
    pid: int | None = None

    @property
    def shape(self) -> tuple[object, ...]:
        """What a config change would change here; a different shape means refetch."""
        return (self.name, self.node, self.maxcpu, self.maxmem, self.maxdisk, self.tags,
                self.template)  # fmt: skip

    @property
    def usage(self) -> Resources | None:
        if self.status == "unknown" or self.cpu is None or self.maxcpu is None:
            return None
        return Resources(round(self.cpu * self.maxcpu * 1000), self.mem or 0)


@dataclass(frozen=True, slots=True)
class StorageEntry:
    node: str
    storage: str
    plugintype: str
    shared: bool
    status: str
    maxdisk: int | None = None
    disk: int | None = None


@dataclass(frozen=True, slots=True)
class Inventory:
    """/cluster/resources, sorted by kind; pools, SDN and network entries are dropped."""

    nodes: tuple[NodeEntry, ...]
    guests: tuple[GuestEntry, ...]
    storage: tuple[StorageEntry, ...]


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """/nodes/{node}/status. `cores` is PVE's: physical cores over all sockets."""

    cpu_model: str
    cores: int
    threads: int
    sockets: int
    memory_total: int
    memory_used: int
    rootfs_total: int
    rootfs_used: int
    cpu: float
    uptime: int
    pveversion: str = ""
    kversion: str = ""
    loadavg: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class GuestConfig:
    """What the cockpit needs of a guest's config."""

    name: str
    vcpus: int | None  # None: not limited (a container without cores)
    memory: int  # bytes
    balloon_min: int | None
    disks: tuple[Disk, ...]
    tags: tuple[str, ...]
    template: bool
    agent: bool
    digest: str


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    name: str  # "" for a standalone node
    quorate: bool | None
    nodes: tuple[tuple[str, bool], ...]  # (name, online)


@dataclass(frozen=True, slots=True)
class Upid:
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str


@dataclass(frozen=True, slots=True)
class TaskStatus:
    upid: str
    node: str
    type: str
    id: str
    user: str
    status: str  # running | stopped
    exitstatus: str | None  # "OK", "WARNINGS: n" or the error; None while running
    starttime: int
    endtime: int | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def ok(self) -> bool:
        """Finished without error (PVE counts warnings as success)."""
        text = self.exitstatus or ""
        return not self.running and (text == "OK" or text.startswith("WARNINGS"))


# --- value helpers ---------------------------------------------------------------------------


def _int(value: Any, default: int | None = None) -> int | None:
    """An integer PVE may send as int, float or string ("2048", "1102.866")."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return _in_range(value)
    if isinstance(value, float):
        return int(_in_range(value))
    return int(_in_range(float(str(value))))


def _float(value: Any, default: float | None = None) -> float | None:
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        _in_range(value)  # before float(): 10**400 has no float
    return _in_range(float(value))


# PVE's numbers are Perl's: 64-bit integers or doubles. Anything beyond is a broken answer,
# and refusing it here keeps every sum and ratio built from it finite.
_PVE_NUMBER_LIMIT = 2**63


def _in_range(value: T) -> T:
    if not -_PVE_NUMBER_LIMIT < value < _PVE_NUMBER_LIMIT:  # False for NaN too
        shown = "beyond 64 bits" if isinstance(value, int) else f"{value!r:.40}"
        raise ValueError(f"number out of range: {shown}")
    return value


def _answer(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A parser of one PVE answer raises ValueError and nothing else: an answer of the wrong
    shape (a key missing, a list where an object belongs) says so with `what` it was."""

    def wrap(parse: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(parse)
        def guarded(*args: Any, **kwargs: Any) -> T:
            try:
                return parse(*args, **kwargs)
            except KeyError as exc:
                raise ValueError(f"{what}: {exc.args[0]!r} is missing") from None
            except (TypeError, AttributeError, IndexError, OverflowError) as exc:
                raise ValueError(f"{what}: unexpected shape ({exc})") from None

        return guarded

    return wrap


def _bool(value: Any) -> bool:
    """PVE's booleans: 0/1, "0"/"1", and in some places true/false or yes/no."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _tags(value: Any) -> tuple[str, ...]:
    # PVE stores ";" but accepts "," and spaces when tags are written.
    if not value:
        return ()
    return tuple(t for t in re.split(r"[;,\s]+", str(value)) if t)


def _dict(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"{what}: expected an object, got {type(data).__name__}")
    return data


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise ValueError(f"{what}: expected a list, got {type(data).__name__}")
    return data


def _arch(host_arch: Any) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(str(host_arch or ""), "")


# --- parsers (pure: the same code reads live answers and captured fixtures) -----------------
# Each raises ValueError, and only ValueError, for an answer it cannot read (see _answer);
# ProxmoxSource._parse turns that into a SourceError.


@_answer("/version")
def parse_version(data: Any) -> str:
    return str(_dict(data, "/version").get("version", ""))


@_answer("/cluster/status")
def parse_cluster_status(data: Any) -> ClusterStatus:
    name, quorate, nodes = "", None, []
    for item in _list(data, "/cluster/status"):
        item = _dict(item, "/cluster/status entry")
        if item.get("type") == "cluster":
            name, quorate = str(item.get("name", "")), _bool(item.get("quorate"))
        elif item.get("type") == "node":
            nodes.append((str(item["name"]), _bool(item.get("online"))))
    return ClusterStatus(name, quorate, tuple(nodes))


def pve_cluster(status: ClusterStatus) -> PveCluster:
    """The model's view of /cluster/status: quorate is None for a node in no cluster (its
    status lists only itself, with no "cluster" entry)."""
    return PveCluster(
        name=status.name,
        quorate=status.quorate,
        nodes_online=sum(1 for _, online in status.nodes if online),
        nodes_total=len(status.nodes),
    )


def parse_cluster_tasks(data: Any) -> tuple[PveTask, ...]:
    """/cluster/tasks: the recent tasks of every node. A finished task carries its exit
    status in `status` ("OK", "WARNINGS: n" or the error) and an endtime; a running one has
    neither. Newest first, as PVE lists them."""
    out = []
    for item in _list(data, "/cluster/tasks"):
        task = parse_task_status(item)
        out.append(
            PveTask(
                upid=task.upid,
                node=task.node,
                type=task.type,
                id=task.id,
                user=task.user,
                status=task.exitstatus or "",
                start=float(task.starttime),
                end=None if task.endtime is None else float(task.endtime),
            )
        )
    return tuple(sorted(out, key=lambda t: t.start, reverse=True))


@_answer("node entry")
def parse_node_entry(item: Mapping[str, Any]) -> NodeEntry:
    return NodeEntry(
        name=str(item["node"]),
        status=str(item.get("status", "unknown")),
        maxcpu=_int(item.get("maxcpu")),
        maxmem=_int(item.get("maxmem")),
        maxdisk=_int(item.get("maxdisk")),
        cpu=_float(item.get("cpu")),
        mem=_int(item.get("mem")),
        uptime=_int(item.get("uptime"), 0) or 0,
        arch=_arch(item.get("host-arch")),
    )


@_answer("/nodes")
def parse_nodes(data: Any) -> tuple[NodeEntry, ...]:
    """/nodes."""
    return tuple(parse_node_entry(_dict(n, "/nodes entry")) for n in _list(data, "/nodes"))


@_answer("guest entry")
def parse_guest_entry(
    item: Mapping[str, Any], kind: str | None = None, node: str | None = None
) -> GuestEntry:
    """A guest from /cluster/resources, a /nodes/{node}/{qemu,lxc} list or status/current;
    the last two do not name the node or (qemu) the kind, so the caller passes them."""
    kind = str(item.get("type") or kind or "qemu")
    if kind not in ("qemu", "lxc"):
        raise ValueError(f"not a guest: type {kind!r}")
    vmid = _int(item.get("vmid"))
    if vmid is None:
        raise ValueError(f"{kind} guest without a vmid")
    return GuestEntry(
        vmid=vmid,
        kind=kind,  # type: ignore[arg-type]
        node=str(item.get("node") or node or ""),
        name=str(item.get("name") or f"VM {vmid}"),
        status=str(item.get("status", "unknown")),
        template=_bool(item.get("template")),
        tags=_tags(item.get("tags")),
        maxcpu=_int(item.get("maxcpu", item.get("cpus"))),
        maxmem=_int(item.get("maxmem")),
        maxdisk=_int(item.get("maxdisk")),
        cpu=_float(item.get("cpu")),
        mem=_int(item.get("mem")),
        uptime=_int(item.get("uptime"), 0) or 0,
        lock=str(item.get("lock") or ""),
        qmpstatus=str(item.get("qmpstatus") or ""),
        pid=_int(item.get("pid")),
    )


@_answer("guest list")
def parse_guest_list(data: Any, node: str, kind: GuestKind) -> tuple[GuestEntry, ...]:
    """/nodes/{node}/qemu or /nodes/{node}/lxc."""
    return tuple(
        parse_guest_entry(_dict(g, "guest list entry"), kind, node)
        for g in _list(data, f"/nodes/{node}/{kind}")
    )


@_answer("storage entry")
def parse_storage_entry(item: Mapping[str, Any]) -> StorageEntry:
    return StorageEntry(
        node=str(item.get("node", "")),
        storage=str(item.get("storage", "")),
        plugintype=str(item.get("plugintype", "")),
        shared=_bool(item.get("shared")),
        status=str(item.get("status", "")),
        maxdisk=_int(item.get("maxdisk")),
        disk=_int(item.get("disk")),
    )


@_answer("/cluster/resources")
def parse_cluster_resources(data: Any) -> Inventory:
    nodes, guests, storage = [], [], []
    for item in _list(data, "/cluster/resources"):
        item = _dict(item, "/cluster/resources entry")
        kind = item.get("type")
        if kind == "node":
            nodes.append(parse_node_entry(item))
        elif kind in ("qemu", "lxc"):
            guests.append(parse_guest_entry(item))
        elif kind == "storage":
            storage.append(parse_storage_entry(item))
    return Inventory(tuple(nodes), tuple(guests), tuple(storage))


@_answer("node status")
def parse_node_status(data: Any) -> NodeStatus:
    data = _dict(data, "/nodes/{node}/status")
    cpuinfo = data.get("cpuinfo") or {}
    memory = data.get("memory") or {}
    rootfs = data.get("rootfs") or {}
    loads = []
    for value in data.get("loadavg") or ():
        try:
            loads.append(float(value))
        except (TypeError, ValueError):
            continue  # a load average PVE could not read; the rest still count
    return NodeStatus(
        cpu_model=str(cpuinfo.get("model") or ""),
        cores=_int(cpuinfo.get("cores"), 0) or 0,
        threads=_int(cpuinfo.get("cpus"), 0) or 0,
        sockets=_int(cpuinfo.get("sockets"), 1) or 1,
        memory_total=_int(memory.get("total"), 0) or 0,
        memory_used=_int(memory.get("used"), 0) or 0,
        rootfs_total=_int(rootfs.get("total"), 0) or 0,
        rootfs_used=_int(rootfs.get("used"), 0) or 0,
        cpu=_float(data.get("cpu"), 0.0) or 0.0,
        uptime=_int(data.get("uptime"), 0) or 0,
        pveversion=str(data.get("pveversion") or ""),
        kversion=str(data.get("kversion") or ""),
        loadavg=tuple(loads),
    )


_DISK_KEY = re.compile(r"(?:scsi|virtio|sata|ide|mp)\d+|efidisk\d+|tpmstate\d+|rootfs")


@_answer("disk")
def parse_disk(key: str, value: Any) -> Disk | None:
    """A disk of a config, or None for what is not one: other keys, CD/DVD drives (the
    cloud-init drive included), volumes without a size (passthrough, bind mounts), and
    unusedN volumes, which take space on a storage but belong to no running guest."""
    if not _DISK_KEY.fullmatch(key) or not isinstance(value, str):
        return None
    volume, _, rest = value.partition(",")
    options = dict(opt.split("=", 1) for opt in rest.split(",") if "=" in opt)
    if volume.startswith(("file=", "volume=")):  # the key is optional before the volume
        volume = volume.split("=", 1)[1]
    if options.get("media") == "cdrom" or "size" not in options:
        return None
    storage = volume.split(":", 1)[0] if ":" in volume else ""
    return Disk(key, parse_pve_size(options["size"]), storage)


def _memory_mib(value: Any, default: int) -> int:
    # PVE 9 writes qemu memory as "[current=]<MiB>" (a string); containers as an integer.
    if value is None or value == "":
        return default
    text = str(value)
    m = re.search(r"(?:^|,)current=(\d+)", text)
    return int(m.group(1)) if m else int(text.split(",")[0])


@_answer("guest config")
def parse_guest_config(data: Any, kind: GuestKind) -> GuestConfig:
    data = _dict(data, "guest config")
    if kind == "qemu":
        vcpus = _int(data.get("vcpus"), 0) or (
            (_int(data.get("sockets"), 1) or 1) * (_int(data.get("cores"), 1) or 1)
        )
        balloon = _int(data.get("balloon"))
        # balloon unset: the device is there but the floor is all memory; 0: no balloon.
        balloon_min = balloon * MiB if balloon else None
        name = data.get("name")
    else:
        vcpus = _int(data.get("cores"))
        balloon_min = None
        name = data.get("hostname")
    disks = tuple(d for key, value in sorted(data.items()) if (d := parse_disk(key, value)))
    return GuestConfig(
        name=str(name or ""),
        vcpus=vcpus,
        memory=_memory_mib(data.get("memory"), 512) * MiB,
        balloon_min=balloon_min,
        disks=disks,
        tags=_tags(data.get("tags")),
        template=_bool(data.get("template")),
        agent=kind == "qemu" and _bool(str(data.get("agent", "0")).split(",")[0].split("=")[-1]),
        digest=str(data.get("digest") or ""),
    )


@_answer("task id")
def parse_upid(upid: str) -> Upid:
    """UPID:node:pid:pstart:starttime:type:id:user: (pid, pstart and starttime in hex)."""
    fields = str(upid).split(":")
    if len(fields) != 9 or fields[0] != "UPID":
        raise ValueError(f"not a PVE task id: {str(upid)[:80]!r}")
    try:
        return Upid(fields[1], int(fields[2], 16), int(fields[3], 16), int(fields[4], 16),
                    fields[5], fields[6], fields[7])  # fmt: skip
    except ValueError:
        raise ValueError(f"not a PVE task id: {str(upid)[:80]!r}") from None


@_answer("task")
def parse_task_status(data: Any) -> TaskStatus:
    """A task from /tasks/{upid}/status (status running|stopped plus exitstatus) or from a
    /tasks listing (the exit status in `status`, with endtime, once it has finished)."""
    data = _dict(data, "task")
    status = str(data.get("status") or "")
    if "exitstatus" in data or status in ("running", "stopped"):
        state, exitstatus = status or "stopped", data.get("exitstatus")
    elif status or data.get("endtime") is not None:
        state, exitstatus = "stopped", status or None
    else:
        state, exitstatus = "running", None
    return TaskStatus(
        upid=str(data["upid"]),
        node=str(data.get("node", "")),
        type=str(data.get("type", "")),
        id=str(data.get("id", "")),
        user=str(data.get("user", "")),
        status=state,
        exitstatus=None if exitstatus is None else str(exitstatus),
        starttime=_int(data.get("starttime"), 0) or 0,
        endtime=_int(data.get("endtime")),
    )


@_answer("task list")
def parse_task_list(data: Any) -> tuple[TaskStatus, ...]:
    return tuple(parse_task_status(t) for t in _list(data, "/nodes/{node}/tasks"))


@_answer("task log")
def parse_task_log(data: Any) -> tuple[str, ...]:
    """PVE's log rows {n, t} as lines, in order."""
    rows = [_dict(r, "task log row") for r in _list(data, "task log")]
    return tuple(str(r.get("t", "")) for r in sorted(rows, key=lambda r: _int(r.get("n"), 0) or 0))


def _usable_ip(address: str) -> bool:
    return not (address.startswith(("127.", "fe80:", "169.254.")) or address in ("::1", ""))


@_answer("agent interfaces")
def parse_agent_interfaces(data: Any) -> tuple[str, ...]:
    """Addresses from the qemu guest agent's network-get-interfaces, loopback and
    link-local left out."""
    if isinstance(data, dict):
        data = data.get("result", [])
    out: list[str] = []
    for iface in _list(data, "agent interfaces"):
        iface = _dict(iface, "agent interface")
        if iface.get("name") == "lo":
            continue
        for addr in iface.get("ip-addresses") or ():
            ip = str(addr.get("ip-address", ""))
            if _usable_ip(ip) and ip not in out:
                out.append(ip)
    return tuple(out)


@_answer("container interfaces")
def parse_lxc_interfaces(data: Any) -> tuple[str, ...]:
    """Addresses from /nodes/{node}/lxc/{vmid}/interfaces (null while stopped)."""
    out: list[str] = []
    for iface in _list(data or [], "container interfaces"):
        iface = _dict(iface, "container interface")
        if iface.get("name") == "lo":
            continue
        for key in ("inet", "inet6"):
            ip = str(iface.get(key) or "").split("/")[0]
            if _usable_ip(ip) and ip not in out:
                out.append(ip)
    return tuple(out)


# --- building model records ------------------------------------------------------------------


def local_pool_bytes(storage: Iterable[StorageEntry], node: str) -> int:
    """Bytes of the node's own LVM and LVM-thin pools (see the module docstring)."""
    return sum(
        s.maxdisk or 0
        for s in storage
        if s.node == node and not s.shared and s.plugintype in ("lvm", "lvmthin")
    )


def build_host(
    entry: NodeEntry,
    status: NodeStatus | None,
    storage: Iterable[StorageEntry] = (),
    known: Host | None = None,
) -> Host:
    """A Host from what the node said; an offline node keeps the shape last seen (`known`)
    or what /cluster/resources still knows, and has no usage."""
    if status is None:
        if known is not None:
            return replace(known, online=entry.online, usage=None)
        threads = entry.maxcpu or 0
        return Host(
            name=entry.name,
            cores=threads,
            threads=threads,
            memory=entry.maxmem or 0,
            disk=(entry.maxdisk or 0) + local_pool_bytes(storage, entry.name),
            arch=entry.arch or "amd64",
            online=entry.online,
            usage=_node_usage(entry, threads) if entry.online else None,
        )
    # Fakes and trimmed answers can say 0; /cluster/resources has the same figures.
    threads = status.threads or entry.maxcpu or 0
    memory = status.memory_total or entry.maxmem or 0
    rootfs = status.rootfs_total or entry.maxdisk or 0
    return Host(
        name=entry.name,
        cores=status.cores or threads,
        threads=threads,
        memory=memory,
        disk=rootfs + local_pool_bytes(storage, entry.name),
        arch=entry.arch or "amd64",
        cpu_model=status.cpu_model,
        online=True,
        # /cluster/resources is read at every poll; /status may be minutes old.
        usage=_node_usage(entry, threads)
        or Resources(round(status.cpu * threads * 1000), status.memory_used),
    )


def _node_usage(entry: NodeEntry, threads: int) -> Resources | None:
    if entry.cpu is None or entry.mem is None:
        return None
    return Resources(round(entry.cpu * threads * 1000), entry.mem)


def build_guest(entry: GuestEntry, config: GuestConfig | None, ips: tuple[str, ...] = ()) -> Guest:
    """A Guest from its resource entry and, when we have it, its config; without a config
    (node offline before we ever saw it) the entry's maxima stand in."""
    if config is None:
        disks = (Disk("maxdisk", entry.maxdisk),) if entry.maxdisk else ()
        vcpus, memory, balloon, tags = entry.maxcpu or 1, entry.maxmem or 0, None, entry.tags
        name, template = entry.name, entry.template
    else:
        disks = config.disks
        vcpus = config.vcpus or entry.maxcpu or 1
        memory, balloon, tags = config.memory, config.balloon_min, config.tags or entry.tags
        name, template = config.name or entry.name, config.template or entry.template
    return Guest(
        vmid=entry.vmid,
        name=name,
        host=entry.node,
        kind=entry.kind,
        status=entry.status,
        vcpus=vcpus,
        memory=memory,
        balloon_min=balloon,
        disks=disks,
        tags=tags,
        ips=ips,
        usage=entry.usage,
        template=template,
    )


# --- the source ------------------------------------------------------------------------------


# A guest up for less than this may still be starting its agent: no addresses yet is asked
# again at the next poll, not taken for an answer.
BOOTING = 180


@dataclass
class _Cached:
    digest: str
    shape: tuple[object, ...]
    config: GuestConfig
    fetched: float  # time.monotonic()


class ProxmoxSource:
    """A PVE node or cluster, read and driven with an API token (USER@REALM!TOKEN_NAME)."""

    def __init__(
        self,
        host: str,
        port: int = 8006,
        *,
        user: str,
        token_name: str,
        token_value: Secret,
        verify: str | bool = True,
        timeout: float = 5.0,
        guest_ips: bool = True,
        config_ttl: float = 600.0,
        meta_ttl: float = 300.0,
        addresses_ttl: float = 60.0,
        readonly: bool = False,
        max_body: int = MAX_BODY,
    ) -> None:
        if not isinstance(token_value, Secret):
            # The message names the type only: the value may be the token itself.
            raise TypeError(
                f"token_value must be a cockpit.secret.Secret, not {type(token_value).__name__}"
            )
        self.host, self.port = host, port
        self.user, self.token_name = user, token_name
        self.verify, self.timeout = verify, timeout
        self.guest_ips, self.config_ttl, self.meta_ttl = guest_ips, config_ttl, meta_ttl
        self.addresses_ttl = addresses_ttl
        self._token = token_value
        self.readonly = readonly  # every POST is refused before it leaves
        self._api = ProxmoxAPI(
            host,
            port=port,
            backend="https",
            user=user,
            token_name=token_name,
            token_value=token_value.reveal(),
            verify_ssl=verify,
            timeout=timeout,
        )
        self.deadline = DEADLINE_FACTOR * timeout
        # proxmoxer builds its requests.Session at construction and keeps it in _store; the
        # adapter mounted on it gives every request its overall deadline and size cap.
        self._api._store["session"].mount("https://", DeadlineAdapter(self.deadline, max_body))
        self._lock = threading.Lock()
        self._configs: dict[tuple[str, int], _Cached] = {}
        # A running guest's addresses: (its pid, uptime, when asked, the addresses).
        self._ips: dict[tuple[str, int], tuple[int | None, int, float, tuple[str, ...]]] = {}
        self._hosts: dict[str, Host] = {}
        self._statuses: dict[str, tuple[float, NodeStatus]] = {}  # name -> (when, status)
        self._kinds: dict[int, GuestKind] = {}
        self._meta: str | None = None  # PVE's version, asked for every meta_ttl seconds
        self._meta_at = 0.0

    def __repr__(self) -> str:
        return (
            f"ProxmoxSource(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"token_name={self.token_name!r}, token_value={self._token!r}, verify={self.verify!r})"
        )

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    # --- reading ------------------------------------------------------------------------

    def fetch(self) -> ProxmoxState:
        """Every node and guest of the cluster, as one consistent-enough snapshot."""
        inventory = self._parse(parse_cluster_resources, self._get("cluster/resources"))
        version = self._version()
        status = self._cluster_status()
        tasks = self._cluster_tasks()
        hosts = tuple(self._host(n, inventory.storage) for n in inventory.nodes)
        online = {h.name for h in hosts if h.online}
        guests = tuple(self._guest(g, g.node in online) for g in inventory.guests)
        self._kinds = {g.vmid: g.kind for g in inventory.guests}
        live = {(g.node, g.vmid) for g in inventory.guests}
        self._configs = {k: v for k, v in self._configs.items() if k in live}
        self._ips = {k: v for k, v in self._ips.items() if k in live}
        cluster = status.name if status is not None else ""
        return ProxmoxState(
            hosts,
            guests,
            cluster,
            version,
            pve_cluster(status) if status is not None else None,
            tasks,
        )

    def _host(self, entry: NodeEntry, storage: tuple[StorageEntry, ...]) -> Host:
        status = None
        if entry.online:
            try:
                status = self._node_status(entry)
            except ProxmoxError as exc:
                # 595: the node dropped out since /cluster/resources; 403: the token may
                # not audit the node. Either way the resource entry still describes it.
                if exc.status not in (403, 595):
                    raise
                if exc.status == 595:
                    entry = replace(entry, status="offline")
        host = build_host(entry, status, storage, self._hosts.get(entry.name))
        if status is not None:
            self._hosts[entry.name] = host
        return host

    def _node_status(self, entry: NodeEntry) -> NodeStatus:
        """A node's /status, asked again when older than meta_ttl or from before a reboot.
        What it adds to /cluster/resources (CPU model, cores, totals) does not move while
        the node runs, and its usage is taken from /cluster/resources (see build_host):
        one request per host per poll was half the Proxmox poll on a 50-host lab."""
        kept = self._statuses.get(entry.name)
        now = time.monotonic()
        if kept is not None and now - kept[0] < self.meta_ttl and entry.uptime >= kept[1].uptime:
            return kept[1]
        status = self._parse(parse_node_status, self._get(f"nodes/{entry.name}/status"))
        self._statuses[entry.name] = (now, status)
        return status

    def _guest(self, entry: GuestEntry, node_online: bool) -> Guest:
        if not node_online and entry.status != "unknown":
            entry = replace(entry, status="unknown", cpu=None, mem=None)
        config = self._config(entry, node_online)
        ips: tuple[str, ...] = ()
        if node_online and self.guest_ips and entry.status == "running" and config is not None:
            ips = self._addresses(entry, config)
        else:
            self._ips.pop((entry.node, entry.vmid), None)  # it starts afresh, maybe elsewhere
        return build_guest(entry, config, ips)

    def _config(self, entry: GuestEntry, node_online: bool) -> GuestConfig | None:
        key = (entry.node, entry.vmid)
        cached = self._configs.get(key)
        fresh = cached is not None and time.monotonic() - cached.fetched < self.config_ttl
        if cached is not None and (not node_online or (fresh and cached.shape == entry.shape)):
            return cached.config
        if not node_online:
            return None
        try:
            data = self._get(f"nodes/{entry.node}/{entry.kind}/{entry.vmid}/config")
        except ProxmoxError as exc:
            # 403: not ours to read; 500: deleted since /cluster/resources; 595: its node
            # just went away. None of these should sink the whole fetch.
            if exc.status in (403, 500, 595):
                return cached.config if cached else None
            raise
        config = self._parse(lambda d: parse_guest_config(d, entry.kind), data)
        if cached is not None and cached.digest == config.digest:
            config = cached.config  # same digest, same config: keep the parsed one
        self._configs[key] = _Cached(config.digest, entry.shape, config, time.monotonic())
        return config

    def _addresses(self, entry: GuestEntry, config: GuestConfig) -> tuple[str, ...]:
        """A running guest's addresses, asked again only when the last answer is older
        than addresses_ttl or came from before a restart, or was empty while the guest is
        still booting (its agent may be about to answer): asking 200 agents every poll was
        most of an idle cockpit's work."""
        key = (entry.node, entry.vmid)
        kept = self._ips.get(key)
        now = time.monotonic()
        if (
            kept is not None
            and (kept[3] or entry.uptime > BOOTING)
            and kept[0] == entry.pid
            and entry.uptime >= kept[1]
            and now - kept[2] < self.addresses_ttl
        ):
            return kept[3]
        ips = self._ask_addresses(entry, config)
        self._ips[key] = (entry.pid, entry.uptime, now, ips)
        return ips

    def _ask_addresses(self, entry: GuestEntry, config: GuestConfig) -> tuple[str, ...]:
        base = f"nodes/{entry.node}/{entry.kind}/{entry.vmid}"
        try:
            if entry.kind == "qemu":
                if not config.agent:
                    return ()
                return parse_agent_interfaces(self._get(f"{base}/agent/network-get-interfaces"))
            return parse_lxc_interfaces(self._get(f"{base}/interfaces"))
        except ProxmoxError as exc:
            if exc.status is None:  # the connection itself failed: that is not optional
                raise
            return ()  # no agent running, or not allowed to ask it: addresses are optional
        except (ValueError, TypeError, KeyError, AttributeError):
            return ()

    def _version(self) -> str:
        now = time.monotonic()
        if self._meta is not None and now - self._meta_at < self.meta_ttl:
            return self._meta
        self._meta, self._meta_at = self._parse(parse_version, self._get("version")), now
        return self._meta

    def _cluster_status(self) -> ClusterStatus | None:
        """Quorum and membership, read on every fetch: it is what changes in an outage."""
        try:
            return self._parse(parse_cluster_status, self._get("cluster/status"))
        except ProxmoxError as exc:
            if exc.status != 403:  # Sys.Audit on / is needed; quorum is not worth failing
                raise
            return None

    def _cluster_tasks(self) -> tuple[PveTask, ...]:
        try:
            return self._parse(parse_cluster_tasks, self._get("cluster/tasks"))
        except ProxmoxError as exc:
            if exc.status is None:  # the connection itself failed: that is not optional
                raise
            return ()  # not allowed, or not served: the tasks are optional

    def guest_status(self, node: str, vmid: int, kind: GuestKind | None = None) -> GuestEntry:
        """One guest's live status (status/current)."""
        kind = kind or self._kind_of(vmid)
        data = self._get(f"nodes/{node}/{kind}/{vmid}/status/current")
        return self._parse(lambda d: parse_guest_entry(_dict(d, "status"), kind, node), data)

    # --- power and tasks ----------------------------------------------------------------

    def power(
        self,
        node: str,
        vmid: int,
        action: str,
        timeout: int | None = None,
        force_stop: bool = False,
        kind: GuestKind | None = None,
    ) -> str:
        """Start, shut down, stop or reboot a guest; returns the task's UPID at once.

        `timeout` (seconds) bounds a shutdown or reboot; with `force_stop` a shutdown that
        runs out of time stops the guest hard instead of ending in TASK ERROR.
        """
        if action not in POWER_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(POWER_ACTIONS)}, got {action!r}")
        if force_stop and action != "shutdown":
            raise ValueError("force_stop applies to shutdown only")
        kind = kind or self._kind_of(vmid)
        params: dict[str, Any] = {}
        if timeout is not None and action in ("shutdown", "reboot"):
            params["timeout"] = int(timeout)
        if force_stop:
            params["forceStop"] = 1
        upid = self._post(f"nodes/{node}/{kind}/{vmid}/status/{action}", **params)
        self._parse(parse_upid, upid)
        return str(upid)

    def tasks(self, node: str, vmid: int | None = None, limit: int = 50) -> tuple[TaskStatus, ...]:
        """The node's recent tasks, running and finished, newest first."""
        params: dict[str, Any] = {"limit": limit, "source": "all"}
        if vmid is not None:
            params["vmid"] = vmid
        return self._parse(parse_task_list, self._get(f"nodes/{node}/tasks", **params))

    def task_status(self, node: str, upid: str) -> TaskStatus:
        return self._parse(parse_task_status, self._get(f"nodes/{node}/tasks/{upid}/status"))

    def wait_task(
        self, node: str, upid: str, timeout: float = 60.0, poll: float = 1.0
    ) -> TaskStatus:
        """Poll until the task has finished; its exit status says whether it worked. Raises
        SourceError if it is still running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.task_status(node, upid)
            if not status.running:
                return status
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProxmoxError(
                    f"task {status.type} of {status.id or node} still running after {timeout:g} s",
                    f"it goes on on {node}; follow it with task_status or in the web UI "
                    f"(task {upid})",
                )
            time.sleep(min(poll, remaining))

    def task_log(self, node: str, upid: str, page: int = 500) -> tuple[str, ...]:
        """Every line of the task's log (PVE serves it in pages)."""
        lines: list[str] = []
        for _ in range(100):  # 50 000 lines is more than any power task writes
            rows = self._get(f"nodes/{node}/tasks/{upid}/log", start=len(lines), limit=page)
            chunk = self._parse(parse_task_log, rows)
            lines += chunk
            if len(chunk) < page:
                break
        return tuple(lines)

    # --- provisioning (the node-replacement runbook) -------------------------------------

    def next_vmid(self) -> int:
        """The VMID /cluster/nextid offers (free cluster-wide at the time of asking)."""
        return self._parse(lambda d: int(str(d)), self._get("cluster/nextid"))

    def clone(self, node: str, vmid: int, newid: int, name: str, full: bool = True) -> str:
        """Clone a VM (a template, for the runbook) to `newid`; returns the task's UPID."""
        upid = self._post(f"nodes/{node}/qemu/{vmid}/clone", newid=newid, name=name, full=int(full))
        self._parse(parse_upid, upid)
        self._kinds[newid] = "qemu"
        return str(upid)

    def set_config(self, node: str, vmid: int, **options: Any) -> Any:
        """POST a VM's config (cores, memory in MiB, cloud-init keys ...); PVE applies it
        at once on a stopped VM."""
        return self._post(f"nodes/{node}/qemu/{vmid}/config", **options)

    def guest_config(self, node: str, vmid: int, kind: GuestKind | None = None) -> GuestConfig:
        kind = kind or self._kind_of(vmid)
        data = self._get(f"nodes/{node}/{kind}/{vmid}/config")
        return self._parse(lambda d: parse_guest_config(d, kind), data)

    def agent_ping(self, node: str, vmid: int) -> bool:
        """Whether the guest agent answers (the OS has booted); False while it does not."""
        try:
            self._post(f"nodes/{node}/qemu/{vmid}/agent/ping")
        except SourceError as exc:
            if exc.status == 500:  # "QEMU guest agent is not running"
                return False
            raise
        return True

    def agent_addresses(self, node: str, vmid: int) -> tuple[str, ...]:
        """The guest agent's addresses; raises SourceError while the agent does not answer."""
        data = self._get(f"nodes/{node}/qemu/{vmid}/agent/network-get-interfaces")
        return self._parse(parse_agent_interfaces, data)

    def _kind_of(self, vmid: int) -> GuestKind:
        if vmid not in self._kinds:
            vms = self._parse(parse_cluster_resources, self._get("cluster/resources", type="vm"))
            self._kinds.update({g.vmid: g.kind for g in vms.guests})
        if vmid not in self._kinds:
            raise ProxmoxError(
                f"no guest {vmid} in the cluster at {self.endpoint}",
                "check the vmid (qm list / pct list on the node)",
            )
        return self._kinds[vmid]

    # --- transport and errors -----------------------------------------------------------

    def _get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params)

    def _post(self, path: str, **data: Any) -> Any:
        if self.readonly:
            raise ReadOnlyError(f"POST /{path}")
        return self._call("POST", path, data)

    def _call(self, method: str, path: str, args: dict[str, Any]) -> Any:
        what = f"{method} /{path}"
        data, error = self._send(method, path, args, what)
        # Raised here, outside the except blocks, so the SourceError carries no __context__:
        # requests' exceptions hold the prepared request, Authorization header and all.
        if error is not None:
            raise error
        if isinstance(data, dict) and set(data) == {"errors"} and isinstance(data["errors"], bytes):
            raise self._garbled(what, _preview(data["errors"]))  # proxmoxer's "not JSON"
        return data

    def _send(
        self, method: str, path: str, args: dict[str, Any], what: str
    ) -> tuple[Any, ProxmoxError | None]:
        resource = self._api(path)
        # One requests.Session; it is not made for concurrent use. A request ahead of us
        # ends within its deadline, so waiting longer than one deadline means it is stuck.
        if not self._lock.acquire(timeout=self.deadline):
            return None, self._scrub(ProxmoxError(
                f"{what} waited {self.deadline:g} s for an earlier request to {self.endpoint} "
                "to finish",
                "pveproxy is answering very slowly: check the node (systemctl status pveproxy)",
            ))  # fmt: skip
        try:
            if method == "GET":
                return resource.get(**args), None
            return resource.post(**args), None
        except ResourceException as exc:
            return None, self._http_error(what, exc)
        except requests.exceptions.RequestException as exc:
            return None, self._transport_error(what, exc)
        except OSError as exc:  # e.g. a CA file that does not exist
            return None, self._scrub(ProxmoxError(
                f"cannot use the CA file {self.verify!r}: {exc.strerror or exc}",
                "point ca_file at a PEM copy of /etc/pve/pve-root-ca.pem",
            ))  # fmt: skip
        except (KeyError, TypeError, AttributeError):  # JSON without the {"data": ...} wrapper
            return None, self._garbled(what, "JSON without a data member")
        finally:
            self._lock.release()

    def _parse(self, parse: Callable[[Any], Any], data: Any) -> Any:
        try:
            return parse(data)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            error = self._scrub(ProxmoxError(
                f"unexpected answer from {self.endpoint}: {exc}",
                "is this a Proxmox VE node of version 7 or later? check host and port",
            ))  # fmt: skip
        raise error

    def _garbled(self, what: str, detail: str) -> ProxmoxError:
        return self._scrub(ProxmoxError(
            f"garbled answer to {what} from {self.endpoint}: not PVE's JSON ({detail})",
            "something other than pveproxy answered (a proxy, a captive portal, another "
            "service on this port?): check host and port, and retry",
        ))  # fmt: skip

    def _http_error(self, what: str, exc: ResourceException) -> ProxmoxError:
        code = int(exc.status_code)
        said = str(exc.content or exc.status_message or "").strip()
        token = f"{self.user}!{self.token_name}"
        if code == 401:
            reason = f"authentication failed (401 {said}) for {what} at {self.endpoint}"
            hint = (
                f"the API token {token} is wrong, expired or deleted: check user, token "
                "name and secret (Datacenter → Permissions → API Tokens)"
            )
        elif code == 403:
            reason = f"permission denied (403 {said}) for {what}"
            hint = _privilege_hint(said, token)
        elif code in (595, 596):
            reason = f"node unreachable ({code} {said}) for {what}"
            hint = (
                f"pveproxy on {self.host} cannot reach the node that owns this: is it powered "
                "on and in the cluster? (pvecm status)"
            )
        elif code == 400:
            detail = "; ".join(f"{k}: {v}" for k, v in (exc.errors or {}).items()
                               if isinstance(v, str))  # fmt: skip
            reason = f"PVE rejected {what} (400 {said}{': ' + detail if detail else ''})"
            hint = "a parameter was refused: see the message"
        else:
            reason = f"PVE refused {what} ({code} {said})"
            hint = "the message is PVE's own; the node's syslog (journalctl -u pvedaemon) has more"
        return self._scrub(ProxmoxError(reason, hint, code))

    def _transport_error(
        self, what: str, exc: requests.exceptions.RequestException
    ) -> ProxmoxError:
        text = str(exc)
        where = self.endpoint
        if isinstance(exc, TooLarge):
            return self._scrub(ProxmoxError(
                f"the answer to {what} from {where} is larger than {_size(exc.cap)} "
                f"({exc.size} bytes or more); it was dropped",
                "something other than pveproxy answered (a proxy?): check host and port",
            ))  # fmt: skip
        if isinstance(exc, DeadlineExceeded):
            return self._scrub(ProxmoxError(
                f"timed out: no complete answer to {what} from {where} within "
                f"{self.deadline:g} s",
                "pveproxy (or something in between) is answering a trickle at a time: check "
                "the node and the network, or raise [proxmox] timeout if the cluster is slow",
            ))  # fmt: skip
        if isinstance(exc, requests.exceptions.SSLError):
            if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
                if "mismatch" in text or "not valid for" in text or "doesn't match" in text:
                    return self._scrub(ProxmoxError(
                        f"certificate of {where} is for another name",
                        f"connect by a name in the node's certificate, or {CA_HINT}",
                    ))  # fmt: skip
                return self._scrub(ProxmoxError(f"certificate not trusted by {where}", CA_HINT))
            return self._scrub(ProxmoxError(
                f"TLS handshake with {where} failed", "is this the PVE API port (8006)?"
            ))  # fmt: skip
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return self._scrub(ProxmoxError(
                f"timed out connecting to {where} after {self.timeout:g} s",
                "the host is down or a firewall drops port 8006: check the address and network",
            ))  # fmt: skip
        if isinstance(exc, requests.exceptions.Timeout):
            return self._scrub(ProxmoxError(
                f"timed out: no answer to {what} from {where} within {self.timeout:g} s",
                "the node is overloaded or pveproxy hangs (systemctl status pveproxy); "
                "raise the timeout if the cluster is just slow",
            ))  # fmt: skip
        return self._scrub(ProxmoxError(*_connection_words(text, where)))

    def _scrub(self, error: ProxmoxError) -> ProxmoxError:
        """Defence in depth: whatever a message quotes, the secret never appears in it."""
        secret = self._token.reveal()
        if secret and (secret in error.reason or secret in error.hint):
            return ProxmoxError(
                error.reason.replace(secret, "***"), error.hint.replace(secret, "***"), error.status
            )
        return error


def _size(cap: int) -> str:
    return f"{cap // 2**20} MiB" if cap >= 2**20 else f"{cap} bytes"


def _preview(raw: bytes) -> str:
    return f"{len(raw)} bytes starting {raw[:32]!r}"


def _privilege_hint(said: str, token: str) -> str:
    m = re.search(r"\(([^,()]*),\s*([^()]+)\)", said)
    if m is None:
        return f"the token {token} lacks a privilege this needs: check its ACL (pveum acl list)"
    path, privilege = m.group(1) or "/", m.group(2)
    return (
        f"the token {token} lacks {privilege} on {path}: grant a role that has it, e.g. "
        f"pveum acl modify {path} --tokens '{token}' --roles PVEVMAdmin (a privilege-"
        "separated token needs its own ACL entry, its user's is not enough)"
    )


def _connection_words(text: str, where: str) -> tuple[str, str]:
    low = text.lower()
    if "refused" in low:
        return (
            f"connection refused by {where}",
            "is pveproxy running (systemctl status pveproxy) and is the port right (8006)?",
        )
    if "name or service not known" in low or "nameresolution" in low or "getaddrinfo" in low:
        return (f"cannot resolve {where.rsplit(':', 1)[0]}", "check the host name, or use its IP")
    if "no route to host" in low or "unreachable" in low:
        return (f"{where} is unreachable", "check the host is up and the network/VPN route to it")
    if "timed out" in low:
        return (
            f"timed out talking to {where}",
            "the node is overloaded or the network drops packets: check it, or raise the timeout",
        )
    if "reset" in low or "aborted" in low or "remote end closed" in low:
        return (
            f"connection to {where} dropped mid-answer",
            "retry; if it persists a proxy or firewall is cutting connections",
        )
    detail = text.rsplit("(Caused by ", 1)[-1]
    # urllib3 quotes its objects ("<...HTTPSConnection object at 0x7f...>: "): drop them.
    detail = re.sub(r"<[^<>]* object at 0x[0-9a-f]+>:?\s*", "", detail)
    detail = re.sub(r"^\w+\(['\"]?|['\"]?\)+$", "", detail).strip() or "no details"
    hint = "check the host, the port and the network"
    return (f"cannot connect to {where}: {detail[:120]}", hint)
