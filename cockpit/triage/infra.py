"""Findings about the machines under Kubernetes: physical hosts, the Proxmox cluster and its
guests and tasks."""

from __future__ import annotations

from collections.abc import Iterator

from cockpit.model import Host, PveTask
from cockpit.triage.finding import Facts, Finding, ObjectRef, plural

TASK_WINDOW = 24 * 3600  # a failed task older than a day is history, not news


def host_ref(host: Host | str) -> ObjectRef:
    return ObjectRef("host", "Host", host if isinstance(host, str) else host.name)


def guest_ref(vmid: int, name: str) -> ObjectRef:
    # The name is what people say; the VMID is what `cockpit guest` takes.
    return ObjectRef("guest", "Guest", name or str(vmid), id=str(vmid))


def _peers_on_host(f: Facts, host: str) -> list[tuple[str, bool]]:
    """Every tailnet peer that runs on the host: the host itself, its guests, their nodes."""
    keys: set[str] = set()  # the links name peers by key (node ID)
    if host in f.links.host_peer:
        keys.add(f.links.host_peer[host])
    for g in f.snapshot.guests_by_host.get(host, ()):
        if g.vmid in f.links.guest_peer:
            keys.add(f.links.guest_peer[g.vmid])
    for node in f.snapshot.nodes_by_host.get(host, ()):
        if node in f.links.node_peer:
            keys.add(f.links.node_peer[node])
    peers = [f.peer_by_key[k] for k in keys if k in f.peer_by_key]
    return sorted((p.hostname, p.online) for p in peers)


def answering_peers(f: Facts, host: str) -> list[str]:
    """Tailnet peers on a host that still answer: Proxmox lost the host, the machine runs."""
    return [name for name, online in _peers_on_host(f, host) if online]


def hosts_down(f: Facts) -> Iterator[Finding]:
    for host in f.snapshot.hosts:
        if host.online:
            continue
        peers = _peers_on_host(f, host.name)
        alive = answering_peers(f, host.name)
        said = "Proxmox reports it offline" if host.proxmox else "it is marked offline"
        evidence = [f"Host.online=False ({said})"]
        evidence += [f"peer {name} online={online}" for name, online in peers]
        guests = f.snapshot.guests_by_host.get(host.name, [])
        nodes = f.snapshot.nodes_by_host.get(host.name, [])
        carries = []
        if guests:
            carries.append(plural(len(guests), "guest"))
        if nodes:
            carries.append(plural(len(nodes), "Kubernetes node"))
        load = f" ({', '.join(carries)} on it)" if carries else ""
        if alive:
            yield Finding(
                "HOST-UNREACHABLE",
                "critical",
                host_ref(host),
                f"host {host.name} is unreachable from Proxmox{load}, but tailnet peer "
                f"{alive[0]} on it is still online: a network split, not a power loss",
                tuple(evidence),
                f"Check the link between {host.name} and the rest of the Proxmox cluster "
                "(corosync network, switch, cable); the guests may still be running.",
            )
        else:
            yield Finding(
                "HOST-OFF",
                "critical",
                host_ref(host),
                f"host {host.name} is powered off{load}",
                tuple(evidence),
                f"Power {host.name} on (power button, Wake-on-LAN or IPMI; at a friend's "
                "house, ask them), then start its guests.",
            )


def quorum(f: Facts) -> Iterator[Finding]:
    c = f.snapshot.pve_cluster
    if c is None or c.quorate is not False:
        return
    name = c.name or "the Proxmox cluster"
    yield Finding(
        "PVE-NO-QUORUM",
        "critical",
        ObjectRef("host", "PveCluster", c.name or "cluster"),
        f"{name} is not quorate ({c.nodes_online} of {c.nodes_total} nodes online): guests "
        "cannot be started, stopped or changed",
        (f"PveCluster.quorate=False, nodes_online={c.nodes_online}/{c.nodes_total}",),
        "Bring the offline Proxmox nodes back; as a last resort on the survivor, "
        "`pvecm expected 1` restores quorum for a 2-node cluster.",
    )


def stopped_guests(f: Facts) -> Iterator[Finding]:
    backs = {b.vmid: node for node, b in f.snapshot.backing.items() if b.vmid is not None}
    for g in f.snapshot.guests:
        if g.running or g.template or g.vmid not in backs:
            continue
        node = backs[g.vmid]
        kind = "VM" if g.kind == "qemu" else "container"
        host_down = g.host in f.down_hosts
        why = f" (its host {g.host} is down)" if host_down else ""
        yield Finding(
            "GUEST-STOPPED",
            "critical",
            guest_ref(g.vmid, g.name),
            f"{kind} {g.vmid} {g.name} on {g.host} is {_state(g.status)}{why}; "
            f"it backs node {node}",
            (f"Guest.status={g.status!r}", f"backing[{node}]=({g.host}, {g.vmid})"),
            f"Start it: cockpit guest start {g.vmid}"
            + (f" (once {g.host} is back)" if host_down else ""),
        )


def _state(status: str) -> str:
    # Proxmox says "unknown" for the guests of a node it cannot hear.
    return "in an unknown state" if status == "unknown" else status or "not running"


def _latest_tasks(tasks: tuple[PveTask, ...]) -> list[PveTask]:
    """The newest task of each (node, type, object): a failure a later success repaired is
    not news."""
    newest: dict[tuple[str, str, str], PveTask] = {}
    for t in tasks:
        key = (t.node, t.type, t.id)
        if key not in newest or t.start > newest[key].start:
            newest[key] = t
    return list(newest.values())


def failed_tasks(f: Facts) -> Iterator[Finding]:
    names = {str(g.vmid): g.name for g in f.snapshot.guests}
    for t in sorted(_latest_tasks(f.snapshot.tasks), key=lambda t: -t.start):
        if not t.failed:
            continue
        when = t.end or t.start
        if f.now and when and f.now - when > TASK_WINDOW:
            continue
        obj = guest_ref(int(t.id), names.get(t.id, "")) if t.id.isdigit() else host_ref(t.node)
        what = f"{t.type} {t.id}".strip()
        yield Finding(
            "GUEST-TASK-FAILED",
            "warning",
            obj,
            f"Proxmox task {what} on {t.node} failed: {t.status}",
            (f"PveTask {t.upid} status={t.status!r}",),
            f"Read the task log in the Proxmox UI (node {t.node}, Tasks) or "
            f"`pvenode task log {t.upid}`, fix the cause and run it again.",
        )


RULES = (hosts_down, quorum, stopped_guests, failed_tasks)
