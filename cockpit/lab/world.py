"""The physical side of the simulated homelab: hosts, Proxmox guests and their tasks, and
the tailnet peers that live on them, all on one lab clock.

Powering a host off stops its guests; a stopped guest takes down the Kubernetes node it
backs and the tailnet peer it is. The Kubernetes face asks `backing_up(node)` to drive node
lifecycle, so all three faces tell one story on one clock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cockpit.lab.clock import LabClock
from cockpit.labfile import Lab
from cockpit.model import Backing, Guest, Host, Peer

# How long each kind of guest task takes, in lab seconds (what a small VM takes on PVE).
TASK_SECONDS = {"start": 4.0, "shutdown": 12.0, "stop": 1.5, "reboot": 16.0}
# The lab keeps its own copy of PVE's names (cockpit.sources.proxmox has the adapter's):
# a test double that shared them could not catch the adapter getting one wrong.
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


# A guest's OS takes this long to come back after a reboot (firmware, kernel, k3s agent).
GUEST_BOOT_SECONDS = 60.0


@dataclass(frozen=True)
class PeerFault:
    """What the tailnet does to a peer whose machine keeps running: cut off (a firewall, a
    dead uplink), relayed through DERP only, or its node key expiring at a lab time."""

    cut: bool = False
    relayed: bool = False
    key_expiry: float | None = None


class WorldError(Exception):
    """An action the world refuses, with the message Proxmox would give."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Task:
    upid: str
    node: str
    type: str
    id: str
    user: str
    starttime: float
    ends_at: float
    effect: Callable[[], str | None] | None = None  # runs at the end; returns an error or None
    status: str = "running"
    exitstatus: str | None = None
    log: list[str] = field(default_factory=list)
    endtime: float | None = None


class World:
    def __init__(self, lab: Lab, clock: LabClock | None = None) -> None:
        self.lab = lab
        self.clock = clock or LabClock()
        self.lock = threading.RLock()
        snap = lab.snapshot
        self.hosts: dict[str, Host] = {h.name: h for h in snap.hosts}
        self.guests: dict[int, Guest] = {g.vmid: g for g in snap.guests}
        now = self.clock.now()
        self.started_at: dict[int, float] = {g.vmid: now - 3600 for g in snap.guests}
        self.host_started_at: dict[str, float] = {h.name: now - 86400 for h in snap.hosts}
        self.tasks: dict[str, Task] = {}
        self.offline_since: dict[str, float] = {}  # peer hostname -> lab time it went away
        self.shutdown_seconds: dict[int, float] = {}  # per-guest override (a slow guest)
        self.listeners: list[Callable[[], None]] = []
        self.on_start: list[Callable[[Guest], None]] = []  # a guest was powered on
        self._pid = 4000
        # What changes as the lab runs (machines joined, peers cut), beside the plan.
        self.backing: dict[str, Backing] = dict(snap.backing)
        self.node_ips: dict[str, tuple[str, ...]] = {
            n.name: tuple(addr for kind, addr in n.addresses if kind == "InternalIP")
            for n in snap.nodes
        }
        self.peer_list: list[Peer] = list(snap.peers)
        self.peer_faults: dict[str, PeerFault] = {}  # hostname -> what is wrong with it
        self.rebooting: dict[int, float] = {}  # vmid -> lab time its OS is back up
        self.backend_state = "Running"  # tailscaled's own state on the cockpit's machine
        self.health: list[str] = []  # tailscaled's Health warnings
        self._peer_online_last = {p.hostname: self._peer_up(p) for p in snap.peers}
        # node -> lab time its machine last went down: its kubelet's last heartbeat.
        self.went_down: dict[str, float] = {}
        self._backing_was = {node: self.backing_up(node) for node in self.backing}

    # --- queries ---------------------------------------------------------------------

    def guest(self, vmid: int) -> Guest:
        try:
            return self.guests[vmid]
        except KeyError:
            raise WorldError(
                500, f"Configuration file 'nodes/*/qemu-server/{vmid}.conf' does not exist"
            ) from None

    def backing_up(self, node: str) -> bool:
        """Whether the machine under a Kubernetes node is running. A guest is found by vmid,
        wherever it runs now: a migrated VM takes its node along to the new host."""
        with self.lock:
            backing = self.backing.get(node)
            if backing is None:
                return True
            if backing.vmid is None:
                return self.hosts[backing.host].online
            guest = self.guests.get(backing.vmid)
            if guest is not None and self.rebooting.get(guest.vmid, 0.0) > self.clock.now():
                return False  # PVE says running; the OS inside is still booting
            return guest is not None and guest.running and self.hosts[guest.host].online

    def peers(self) -> list[Peer]:
        with self.lock:
            self._refresh_peers()
            return [self._peer_view(p) for p in self.peer_list]

    def _peer_view(self, p: Peer) -> Peer:
        fault = self.peer_faults.get(p.hostname, PeerFault())
        out = replace(
            p, online=self._peer_up(p), last_seen=_iso(self.offline_since.get(p.hostname))
        )
        if fault.relayed:
            out = replace(out, cur_addr="")
        if fault.key_expiry is not None:
            expired = fault.key_expiry <= self.clock.now()
            out = replace(out, key_expiry=_iso(fault.key_expiry), expired=expired)
        return out

    def _peer_up(self, peer: Peer) -> bool:
        fault = self.peer_faults.get(peer.hostname)
        if fault is not None and (
            fault.cut or (fault.key_expiry is not None and fault.key_expiry <= self.clock.now())
        ):
            return False  # the machine runs; the tailnet cannot reach it
        node = self._node_with_ip(peer.ips)
        if node is not None:
            return self.backing_up(node)
        if peer.hostname in self.hosts:
            return self.hosts[peer.hostname].online
        guest = next((g for g in self.guests.values() if g.name == peer.hostname), None)
        if guest is not None:
            return guest.running and self.hosts[guest.host].online
        return peer.online

    def _node_with_ip(self, ips: tuple[str, ...]) -> str | None:
        for node, addresses in self.node_ips.items():
            if any(addr in ips for addr in addresses):
                return node
        return None

    def _refresh_backing(self) -> None:
        now = self.clock.now()
        for node in self.backing:
            up = self.backing_up(node)
            if self._backing_was.get(node, True) and not up:
                self.went_down[node] = now
            self._backing_was[node] = up

    def _refresh_peers(self) -> None:
        self._refresh_backing()
        now = self.clock.now()
        for peer in self.peer_list:
            up = self._peer_up(peer)
            if self._peer_online_last.get(peer.hostname, True) and not up:
                self.offline_since[peer.hostname] = now
            elif up:
                self.offline_since.pop(peer.hostname, None)
            self._peer_online_last[peer.hostname] = up

    # --- power -----------------------------------------------------------------------

    def set_host_power(self, name: str, on: bool) -> None:
        """A host loses power (or comes back): its guests stop with it and, like PVE's
        onboot guests, start again when it returns."""
        with self.lock:
            host = self.hosts[name]
            if host.online == on:
                return
            self.hosts[name] = replace(host, online=on)
            now = self.clock.now()
            for vmid, g in self.guests.items():
                if g.host != name:
                    continue
                if not on:
                    self.guests[vmid] = replace(g, status="stopped")
                elif not g.template:
                    self.guests[vmid] = replace(g, status="running")
                    self.started_at[vmid] = now
            if on:
                self.host_started_at[name] = now
                if host.proxmox:
                    # PVE starts its onboot guests in one "startall" task at boot.
                    self.start_task(name, "startall", "", "root@pam", 2.0, None)
            self._refresh_peers()
        self.notify()

    def set_peer_fault(self, hostname: str, **change: object) -> None:
        """Cut a peer off, relay it, or expire its key (see PeerFault); the machine runs on."""
        with self.lock:
            if not any(p.hostname == hostname for p in self.peer_list):
                names = ", ".join(p.hostname for p in self.peer_list)
                raise WorldError(404, f"no tailnet peer named {hostname!r} (peers: {names})")
            current = self.peer_faults.get(hostname, PeerFault())
            self.peer_faults[hostname] = replace(current, **change)  # type: ignore[arg-type]
            self._refresh_peers()
        self.notify()

    def booted(self, vmid: int) -> bool:
        """Whether a guest's OS is up (its guest agent answers): running, and a boot past
        its start or reboot."""
        with self.lock:
            g = self.guests.get(vmid)
            if g is None or not g.running or not self.hosts[g.host].online:
                return False
            now = self.clock.now()
            if self.rebooting.get(vmid, 0.0) > now:
                return False
            return now - self.started_at.get(vmid, now) >= GUEST_BOOT_SECONDS

    def add_guest_node(self, vmid: int, node: str, ips: tuple[str, ...], peer: Peer) -> None:
        """A guest whose OS joined the cluster and the tailnet (what cloud-init does)."""
        with self.lock:
            g = self.guest(vmid)
            self.backing[node] = Backing(g.host, vmid)
            self.node_ips[node] = ips
            self._backing_was[node] = self.backing_up(node)
            if not any(p.hostname == peer.hostname for p in self.peer_list):
                self.peer_list.append(peer)
                self._peer_online_last[peer.hostname] = True
        self.notify()

    def add_bare_metal(self, host: Host, node: str, ips: tuple[str, ...], peer: Peer) -> None:
        """A machine plugged in: a host that backs a Kubernetes node and is a tailnet peer."""
        with self.lock:
            old = self.hosts.get(host.name)
            if old is not None and (old.online or node not in self.backing):
                raise WorldError(
                    409,
                    f"a machine named {host.name!r} is already in the lab "
                    "(power it off and delete its node to replace it under that name)",
                )
            # New hardware under a retired machine's name: it replaces the old machine, and
            # its tailnet device replaces the old one (as once the old one is removed).
            self.peer_list = [p for p in self.peer_list if p.hostname != peer.hostname]
            self.peer_faults.pop(peer.hostname, None)
            self.offline_since.pop(peer.hostname, None)
            self.hosts[host.name] = host
            self.host_started_at[host.name] = self.clock.now()
            self.backing[node] = Backing(host.name)
            self.node_ips[node] = ips
            self.peer_list.append(peer)
            self._peer_online_last[peer.hostname] = True
            self._backing_was[node] = True
        self.notify()

    def guest_action(
        self,
        vmid: int,
        action: str,
        user: str = "root@pam",
        timeout: float | None = None,
        force_stop: bool = False,
    ) -> Task:
        """Start a Proxmox task that changes a guest's power state on the lab clock."""
        with self.lock:
            g = self.guest(vmid)
            if not self.hosts[g.host].online:
                raise WorldError(595, f"no route to host {g.host}")
            if action not in TASK_SECONDS:
                raise WorldError(501, f"Method 'POST /status/{action}' not implemented")
            if g.template and action == "start":
                raise WorldError(500, f"you can't start VM {vmid} if it's a template")
            if action == "start" and g.running:
                raise WorldError(500, f"VM {vmid} already running")
            if action in ("shutdown", "reboot") and not g.running:
                raise WorldError(500, f"VM {vmid} not running")
            duration = TASK_SECONDS[action]
            if action in ("shutdown", "reboot"):
                duration = self.shutdown_seconds.get(vmid, duration)
            if action == "reboot":
                # The OS goes down at once and is back a boot after the task ends.
                self.rebooting[vmid] = self.clock.now() + duration + GUEST_BOOT_SECONDS
                self._refresh_backing()
            effect = self._effect(vmid, action, duration, timeout, force_stop)
            if timeout is not None:
                duration = min(duration, timeout + TASK_SECONDS["stop"])
            return self.start_task(
                g.host, TASK_TYPES[(g.kind, action)], str(vmid), user, duration, effect
            )

    def _effect(
        self, vmid: int, action: str, duration: float, timeout: float | None, force_stop: bool
    ) -> Callable[[], str | None]:
        def apply() -> str | None:
            g = self.guests[vmid]
            if action == "start":
                self.guests[vmid] = replace(g, status="running")
                self.started_at[vmid] = self.clock.now()
                for hook in list(self.on_start):
                    hook(self.guests[vmid])
                return None
            timed_out = timeout is not None and duration > timeout
            if action in ("shutdown", "reboot") and timed_out and not force_stop:
                return "VM quit/powerdown failed - got timeout"
            if action == "reboot":
                self.started_at[vmid] = self.clock.now()
                return None
            self.guests[vmid] = replace(g, status="stopped")
            return None

        return apply

    def start_task(
        self,
        node: str,
        kind: str,
        ident: str,
        user: str,
        duration: float,
        effect: Callable[[], str | None] | None,
    ) -> Task:
        self._pid += 1
        start = self.clock.now()
        upid = (
            f"UPID:{node}:{self._pid:08X}:{os.getpid() & 0xFFFFFFFF:08X}:{int(start):08X}:"
            f"{kind}:{ident}:{user}:"
        )
        task = Task(
            upid,
            node,
            kind,
            ident,
            user,
            start,
            start + duration,
            effect,
            log=[f"starting task {upid}"],
        )
        self.tasks[upid] = task
        return task

    def tick(self) -> None:
        """Finish every task whose time has come."""
        finished = False
        with self.lock:
            now = self.clock.now()
            for task in self.tasks.values():
                if task.status == "running" and task.ends_at <= now:
                    error = task.effect() if task.effect else None
                    task.status = "stopped"
                    task.endtime = now
                    task.exitstatus = "OK" if error is None else error
                    task.log.append("TASK OK" if error is None else f"TASK ERROR: {error}")
                    finished = True
            if finished:
                self._refresh_peers()
        if finished:
            self.notify()

    def task(self, upid: str) -> Task:
        self.tick()
        try:
            return self.tasks[upid]
        except KeyError:
            raise WorldError(500, f"unable to parse worker upid '{upid}'") from None

    def notify(self) -> None:
        """Tell listeners the world changed (powers, tasks, guests)."""
        for listener in list(self.listeners):
            listener()


def _iso(ts: float | None) -> str:
    if ts is None:
        return ""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
