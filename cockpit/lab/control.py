"""Lab control: what a person (or a drill) can do to a running lab's hardware and network,
on the lab clock, from inside the process or from outside through ControlServer.

Every verb acts on the world the way the thing it stands for would: power-off cuts a host's
power (its guests stop, its nodes go NotReady after the grace period), reboot restarts a
guest through a Proxmox task or power-cycles a bare-metal machine, join plugs in a new
machine that boots, registers as a Kubernetes node and comes up on the tailnet. Kubernetes
changes go through the lab's own API, as a client's would. Nothing here writes a diagnosis:
what is wrong must be found from the data the faces serve.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from cockpit.lab.errors import ControlError
from cockpit.lab.kube.api import Request
from cockpit.lab.kube.meta import NODE_BOOT, NODES, PODS, now_iso
from cockpit.lab.kube.objects import node_object
from cockpit.lab.world import GUEST_BOOT_SECONDS, WorldError
from cockpit.model import Guest, Host, Node, Peer, Resources

if TYPE_CHECKING:
    from cockpit.lab.runner import RunningLab

# A bare-metal machine that is power-cycled is gone this long (POST, boot, k3s agent).
POWER_CYCLE_SECONDS = 90.0
# A machine plugged in by hand: a Raspberry Pi 5 unless told otherwise.
JOIN_SPECS = {
    "arm64": {"cores": 4, "memory": 8 * 2**30, "disk": 128 * 10**9, "model": "Raspberry Pi 5"},
    "amd64": {"cores": 4, "memory": 16 * 2**30, "disk": 512 * 10**9, "model": "Intel N100"},
}


@dataclass(order=True)
class Scheduled:
    due: float  # lab time
    label: str = field(compare=False)
    action: Callable[[], str] = field(compare=False)


@dataclass
class Happened:
    at: float  # lab time
    what: str


class LabControl:
    """Verbs on a RunningLab, and a timer that runs them at a lab time."""

    def __init__(self, lab: RunningLab) -> None:
        self.lab = lab
        self.world = lab.world
        self.clock = lab.world.clock
        self.pending: list[Scheduled] = []
        self.history: list[Happened] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.world.on_start.append(self._guest_started)

    # --- the timer -----------------------------------------------------------------------

    def start(self) -> LabControl:
        self._thread = threading.Thread(target=self._loop, name="lab-control", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def at(self, lab_seconds_from_now: float, label: str, action: Callable[[], str]) -> float:
        """Run `action` when the lab clock has moved on by that much; returns the lab time."""
        due = self.clock.now() + max(0.0, lab_seconds_from_now)
        with self._lock:
            self.pending.append(Scheduled(due, label, action))
            self.pending.sort()
        return due

    def _loop(self) -> None:
        while not self._stop.wait(0.02):
            self.run_due()

    def run_due(self) -> None:
        now = self.clock.now()
        with self._lock:
            due = [s for s in self.pending if s.due <= now]
            self.pending = [s for s in self.pending if s.due > now]
        for item in due:
            try:
                what = item.action()
            except (ControlError, WorldError) as exc:
                what = f"{item.label} failed: {exc}"
            self._record(what)

    def _record(self, what: str) -> None:
        with self._lock:
            self.history.append(Happened(self.clock.now(), what))

    # --- verbs -----------------------------------------------------------------------------

    def power_off(self, host: str) -> str:
        self._host(host)
        self.world.set_host_power(host, False)
        self._record(f"host {host} powered off")
        return f"host {host} powered off"

    def power_on(self, host: str) -> str:
        self._host(host)
        self.world.set_host_power(host, True)
        self._record(f"host {host} powered on")
        return f"host {host} powered on"

    def reboot(self, target: str, down: float | None = None) -> str:
        """A guest (vmid or name) through a Proxmox reboot task; a bare-metal host or the
        machine under a Kubernetes node by a power cycle. `down`: lab seconds until the OS
        is back (a reboot that hangs on a file-system check or an update)."""
        guest = self._find_guest(target)
        if guest is None and target in self.world.backing:
            vmid = self.world.backing[target].vmid
            guest = self.world.guests.get(vmid) if vmid is not None else None
        if guest is not None:
            task = self.world.guest_action(guest.vmid, "reboot")
            if down is not None:
                with self.world.lock:
                    self.world.rebooting[guest.vmid] = self.clock.now() + down
            what = f"guest {guest.vmid} ({guest.name}) rebooting: {task.upid}"
            self._record(what)
            return what
        host = self._host_of(target)
        if host is None:
            raise ControlError(
                f"no guest, host or node named {target!r} (guests: "
                f"{', '.join(f'{g.vmid} {g.name}' for g in self.world.guests.values()) or '-'})"
            )
        return self.power_cycle(host, POWER_CYCLE_SECONDS if down is None else down)

    def power_cycle(self, host: str, seconds: float) -> str:
        self.world.set_host_power(host, False)
        self.at(seconds, f"power on {host}", lambda: self.power_on(host))
        what = f"host {host} power-cycled: back in {seconds:g} lab seconds"
        self._record(what)
        return what

    def reconnect(self, peer: str) -> str:
        """What a person does on a peer's machine: `tailscale up --force-reauth` (a new node
        key, no expiry) and a path back, direct where it was."""
        from cockpit.lab.world import PeerFault

        try:
            self.world.set_peer_fault(peer, **vars(PeerFault()))
        except WorldError as exc:
            raise ControlError(str(exc)) from None
        what = f"tailnet peer {peer} re-authenticated and back on the tailnet"
        self._record(what)
        return what

    def free_disk(self, node: str) -> str:
        """What a person does on a node whose disk filled up (prune images, delete old
        logs): the kubelet sees room again, lifts DiskPressure and its taint."""
        from cockpit.lab.drills import DISK_PRESSURE_TAINT
        from cockpit.lab.kube.meta import set_condition

        controllers = self.lab.kube.controllers
        store = self.lab.kube.store
        with controllers.lock:
            obj = store.find(NODES, ("", node))
            if obj is None:
                raise ControlError(f"no node {node!r}")
            now = self.clock.now()
            set_condition(
                obj, "DiskPressure", "False", "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure", now,
            )  # fmt: skip
            taints = obj["spec"].get("taints") or []
            obj["spec"]["taints"] = [t for t in taints if t.get("key") != DISK_PRESSURE_TAINT]
            obj = store.update(NODES, obj)
            controllers.event(
                obj, "Normal", "NodeHasNoDiskPressure",
                f"Node {node} status is now: NodeHasNoDiskPressure", now, host=node,
            )  # fmt: skip
        what = f"node {node}: disk freed, DiskPressure lifted"
        self._record(what)
        return what

    def join(self, name: str, arch: str = "arm64", site: str = "", ip: str = "") -> str:
        """Plug in a bare-metal machine: it boots, its k3s agent registers the node (Ready
        after the kubelet's first status), and it comes up on the tailnet."""
        if arch not in JOIN_SPECS:
            raise ControlError(f"--arch must be one of {', '.join(JOIN_SPECS)}, got {arch!r}")
        sites = self.world.lab.snapshot.sites
        if site and sites and site not in sites:
            raise ControlError(f"unknown site {site!r} (sites: {', '.join(sites)})")
        if self.lab.kube.store.find(NODES, ("", name)) is not None:
            raise ControlError(
                f"a node named {name!r} already exists (delete it first to rejoin under that name)"
            )
        spec = JOIN_SPECS[arch]
        ip = ip or _tailnet_ip(name)
        host = Host(
            name=name,
            cores=spec["cores"],
            threads=spec["cores"],
            memory=spec["memory"],
            disk=spec["disk"],
            arch=arch,
            site=site,
            cpu_model=spec["model"],
            proxmox=False,
        )
        peer = Peer(
            hostname=name,
            dns_name=f"{name}.tailnet.ts.net.",
            ips=(ip,),
            os="linux",
            site=site,
            relay=next((p.relay for p in self.world.peer_list if p.site == site and p.relay), ""),
        )
        self.world.add_bare_metal(host, name, (ip,), peer)
        self.at(NODE_BOOT, f"register node {name}", lambda: self._register(name, arch, site, ip))
        what = f"machine {name} ({arch}) plugged in at {site or 'no site'}, tailnet {ip}"
        self._record(what)
        return what

    # --- cloud-init: a VM cloned from a k3s-agent template joins when it boots -------------

    def _guest_started(self, guest: Guest) -> None:
        if not _k3s_agent(guest.tags) or any(
            b.vmid == guest.vmid for b in self.world.backing.values()
        ):
            return
        self.at(
            GUEST_BOOT_SECONDS,
            f"cloud-init on {guest.name}",
            lambda: self._cloud_init(guest.vmid),
        )

    def _cloud_init(self, vmid: int) -> str:
        """What the template's cloud-init does once the VM has booted: bring tailscale up
        (a new peer) and run the k3s agent, which registers the node."""
        guest = self.world.guests.get(vmid)
        if guest is None or not self.world.booted(vmid):
            return f"guest {vmid} did not boot: it did not join"
        name = guest.name
        if self.lab.kube.store.find(NODES, ("", name)) is not None:
            return f"guest {vmid}: a node named {name} already exists; k3s refused to join"
        host = self.world.hosts[guest.host]
        ip = _tailnet_ip(name)
        peer = Peer(
            hostname=name,
            dns_name=f"{name}.tailnet.ts.net.",
            ips=(ip,),
            os="linux",
            site=host.site,
            relay=next(
                (p.relay for p in self.world.peer_list if p.site == host.site and p.relay), ""
            ),
        )
        self.world.add_guest_node(vmid, name, (ip,), peer)
        self._register(name, host.arch, host.site, ip, Resources(guest.vcpus * 1000, guest.memory))
        what = f"guest {vmid} ({name}) booted, joined the tailnet as {ip} and the cluster"
        self._record(what)
        return what

    def _register(
        self, name: str, arch: str, site: str, ip: str, capacity: Resources | None = None
    ) -> str:
        spec = JOIN_SPECS.get(arch, JOIN_SPECS["amd64"])
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": arch,
            "beta.kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": "k3s",
        }
        if site:
            labels["topology.kubernetes.io/zone"] = site
        capacity = capacity or Resources(spec["cores"] * 1000, spec["memory"])
        node = Node(
            name=name,
            capacity=capacity,
            allocatable=Resources(capacity.cpu, (capacity.memory or 0) - 100 * 2**20),
            conditions={"Ready": "True"},
            labels=labels,
            addresses=(("InternalIP", ip), ("Hostname", name)),
            provider_id=f"k3s://{name}",
        )
        now = self.clock.now()
        obj = node_object(node, created=now)
        controllers = self.lab.kube.controllers
        with controllers.lock:
            created = self.lab.kube.store.create(NODES, obj)
            controllers.kubelet_nodes[name] = obj
            controllers.up_since[name] = now - NODE_BOOT
            controllers.event(created, "Normal", "Starting", "Starting kubelet.", now, host=name)
            controllers.event(
                created,
                "Normal",
                "RegisteredNode",
                f"Node {name} event: Registered Node {name} in Controller",
                now,
            )
        return f"node {name} registered"

    # --- Kubernetes through the lab's API ---------------------------------------------------

    def kube(self, method: str, path: str, body: Any = None, patch: str = "strategic") -> Any:
        """One request to the lab apiserver, as a client makes it; errors are raised."""
        ctype = {
            "strategic": "application/strategic-merge-patch+json",
            "merge": "application/merge-patch+json",
        }[patch]
        resp = self.lab.kube.api.handle(
            Request(
                method,
                path,
                {},
                {"content-type": ctype if method == "PATCH" else "application/json"},
                orjson.dumps(body) if body is not None else b"",
            )
        )
        if resp.status >= 400:
            message = resp.body.get("message") if isinstance(resp.body, dict) else resp.body
            raise ControlError(f"{method} {path}: {resp.status} {message}")
        return resp.body

    def pods(self, selector: Callable[[dict], bool] | None = None) -> list[dict]:
        return [p for p in self.lab.kube.store.items(PODS) if selector is None or selector(p)]

    def nodes(self) -> list[dict]:
        return self.lab.kube.store.items(NODES)

    # --- what is there ---------------------------------------------------------------------

    def listing(self) -> dict[str, Any]:
        from cockpit.lab.drills import DRILLS

        self.world.tick()
        with self.world.lock:
            hosts = [
                {"name": h.name, "online": h.online, "arch": h.arch, "site": h.site,
                 "proxmox": h.proxmox}
                for h in self.world.hosts.values()
            ]  # fmt: skip
            guests = [
                {"vmid": g.vmid, "name": g.name, "host": g.host, "status": g.status}
                for g in sorted(self.world.guests.values(), key=lambda g: g.vmid)
            ]
        peers = [
            {"hostname": p.hostname, "online": p.online, "direct": bool(p.cur_addr),
             "expired": p.expired}
            for p in self.world.peers()
        ]  # fmt: skip
        nodes = []
        for n in self.nodes():
            ready = next(
                (c["status"] for c in n.get("status", {}).get("conditions", [])
                 if c["type"] == "Ready"),
                "Unknown",
            )  # fmt: skip
            nodes.append({"name": n["metadata"]["name"], "ready": ready})
        with self._lock:
            pending = [{"at": now_iso(s.due), "what": s.label} for s in self.pending]
            history = [{"at": now_iso(h.at), "what": h.what} for h in self.history]
        return {
            "schema": "cockpit.labctl/1",
            "lab": self.world.lab.name,
            "clock": now_iso(self.clock.now()),
            "hosts": hosts,
            "guests": guests,
            "nodes": nodes,
            "peers": peers,
            "drills": [{"name": d.name, "summary": d.summary} for d in DRILLS.values()],
            "pending": pending,
            "history": history,
        }

    # --- lookups ---------------------------------------------------------------------------

    def _host(self, name: str) -> Host:
        host = self.world.hosts.get(name)
        if host is None:
            raise ControlError(f"no host named {name!r} (hosts: {', '.join(self.world.hosts)})")
        return host

    def _find_guest(self, target: str) -> Any:
        with self.world.lock:
            if target.isdigit() and int(target) in self.world.guests:
                return self.world.guests[int(target)]
            return next((g for g in self.world.guests.values() if g.name == target), None)

    def _host_of(self, target: str) -> str | None:
        """A bare-metal host by name, or the bare-metal host under a node."""
        if target in self.world.hosts:
            return target
        backing = self.world.backing.get(target)
        if backing is not None and backing.vmid is None:
            return backing.host
        return None


def _k3s_agent(tags: tuple[str, ...]) -> bool:
    """A template (and so its clones) tagged for k3s agents: "k3s-agent", or "k3s" and
    "agent" as the lab's VMs are tagged."""
    return "k3s-agent" in tags or {"k3s", "agent"} <= set(tags)


def _tailnet_ip(name: str) -> str:
    digest = hashlib.sha256(f"join/{name}".encode()).digest()
    return f"100.{64 + digest[0] % 64}.{digest[1]}.{1 + digest[2] % 254}"
