"""Where a triage object is on the screen: the pane and row key of a finding's object, and
the `:` command line of a fix. No textual here: it is a mapping, tested on its own."""

from __future__ import annotations

from cockpit.model import Snapshot
from cockpit.relations import Kind, guest_key, pod_key
from cockpit.triage.finding import ObjectRef
from cockpit.triage.incidents import Fix

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def pane_of(obj: ObjectRef, snapshot: Snapshot) -> tuple[Kind, str] | None:
    """The pane row that shows `obj`, or the row of what stands for it (a workload's first
    pod, cluster DNS's first pod); None when nothing on screen does."""
    kind = obj.kind
    if kind == "Host":
        return ("host", obj.name) if obj.name in snapshot.host_by_name else None
    if kind == "Guest":
        guest = next((g for g in snapshot.guests if str(g.vmid) == (obj.id or obj.name)), None)
        guest = guest or next((g for g in snapshot.guests if g.name == obj.name), None)
        return ("guest", guest_key(guest)) if guest else None
    if kind == "Node":
        return ("node", obj.name) if obj.name in snapshot.node_by_name else None
    if kind == "Pod":
        return ("pod", f"{obj.namespace}/{obj.name}")
    if kind == "Peer":
        peer = next((p for p in snapshot.peers if obj.id and p.key == obj.id), None)
        peer = peer or next((p for p in snapshot.peers if p.hostname == obj.name), None)
        return ("peer", peer_row_key(peer)) if peer else None
    if kind in WORKLOAD_KINDS:
        pods = snapshot.pods_by_workload.get((kind, obj.namespace, obj.name), [])
        return ("pod", pod_key(sorted(pods, key=pod_key)[0])) if pods else None
    if kind == "Service":
        service = next(
            (s for s in snapshot.services if (s.namespace, s.name) == (obj.namespace, obj.name)),
            None,
        )
        if service is not None and service.selector:
            pods = [
                p
                for p in snapshot.pods_by_namespace.get(service.namespace, [])
                if all(p.labels.get(k) == v for k, v in service.selector.items())
            ]
            if pods:
                return ("pod", pod_key(sorted(pods, key=pod_key)[0]))
    return None


def peer_row_key(peer: object) -> str:
    """The Peers pane keys rows by the peer's stable key when it has one."""
    return str(getattr(peer, "key", "") or getattr(peer, "hostname", ""))


def command_line(fix: Fix) -> str | None:
    """The `:` command that runs a fix in the cockpit, or None when it is not a cockpit
    action (the person runs it in a shell)."""
    if not fix.action or not fix.command.startswith("cockpit "):
        return None
    return fix.command.removeprefix("cockpit ")
