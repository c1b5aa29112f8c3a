"""What happened, newest first, in one list: Kubernetes events, Proxmox tasks, tailnet
peers going offline or coming back, and the cockpit's own journal (what was done).

Pure: a function of a Snapshot, an optional previous Snapshot (to see peers change state),
the journal's entries (plain dicts, as cockpit/actions/journal.py writes them) and `now`.
`recent()` keeps what touches one object and what happened in the last N minutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cockpit.model import Event, PveTask, Snapshot
from cockpit.triage.finding import Layer, ObjectRef
from cockpit.triage.network import parse_time

Source = Literal["kube", "proxmox", "tailnet", "journal"]
Level = Literal["warning", "normal"]

EVENT_LAYERS: Mapping[str, Layer] = {
    "Pod": "pod",
    "Node": "node",
    "Deployment": "workload",
    "StatefulSet": "workload",
    "DaemonSet": "workload",
    "ReplicaSet": "workload",
}


@dataclass(frozen=True, slots=True)
class Entry:
    at: float  # unix seconds
    source: Source
    obj: ObjectRef
    text: str
    level: Level = "normal"

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "source": self.source,
            "level": self.level,
            "object": {
                "layer": self.obj.layer,
                "kind": self.obj.kind,
                "name": self.obj.name,
                "namespace": self.obj.namespace,
            },
            "text": self.text,
        }


def _event(e: Event) -> Entry:
    layer = EVENT_LAYERS.get(e.object_kind, "cluster")
    count = f" (x{e.count})" if e.count > 1 else ""
    return Entry(
        e.last_seen or e.first_seen,
        "kube",
        ObjectRef(layer, e.object_kind, e.object_name, e.object_namespace),
        f"{e.reason}: {e.message}{count}" if e.message else f"{e.reason}{count}",
        "warning" if e.type == "Warning" else "normal",
    )


def _task(t: PveTask, names: Mapping[str, str]) -> Entry:
    if t.id.isdigit():
        obj = ObjectRef("guest", "Guest", names.get(t.id) or t.id, id=t.id)
    else:
        obj = ObjectRef("host", "Host", t.node)
    state = "running" if not t.status else ("OK" if t.status == "OK" else f"failed: {t.status}")
    return Entry(
        t.end or t.start,
        "proxmox",
        obj,
        f"task {t.type} {t.id} on {t.node} by {t.user or '?'}: {state}".replace("  ", " "),
        "warning" if t.failed else "normal",
    )


def _peers(s: Snapshot, previous: Snapshot | None, now: float) -> list[Entry]:
    out = []
    before = {p.id or p.hostname: p for p in previous.peers} if previous else {}
    for p in s.peers:
        if p.is_self:
            continue
        obj = ObjectRef("network", "Peer", p.hostname)
        old = before.get(p.id or p.hostname)
        seen = parse_time(p.last_seen)
        if not p.online and seen is not None:
            out.append(Entry(seen, "tailnet", obj, f"peer {p.hostname} went offline", "warning"))
        elif not p.online and old is not None and old.online:
            out.append(Entry(now, "tailnet", obj, f"peer {p.hostname} went offline", "warning"))
        elif p.online and old is not None and not old.online:
            out.append(Entry(now, "tailnet", obj, f"peer {p.hostname} came back online"))
    return out


def _journal(entries: Iterable[Mapping[str, Any]]) -> list[Entry]:
    out = []
    started: dict[str, Mapping[str, Any]] = {}
    for e in entries:
        event, at = e.get("event"), e.get("at")
        if not isinstance(at, int | float):
            continue
        action_id = str(e.get("id", ""))
        if event == "start":
            started[action_id] = e
        if event not in ("start", "end"):
            continue
        head = started.get(action_id, e)
        action, target = str(head.get("action", "?")), str(head.get("target", "?"))
        kind, _, name = target.partition("/")
        obj = ObjectRef("source", kind.capitalize() or "Action", name or target)
        if event == "start":
            who = f" by {e.get('user')}@{e.get('host')}" if e.get("user") else ""
            text = f"cockpit {action} {target} started{who}"
            level: Level = "normal"
        else:
            status = str(e.get("status", "?"))
            text = f"cockpit {action} {target} {status}"
            message = e.get("message")
            if message:
                text += f": {message}"
            level = "normal" if status == "succeeded" else "warning"
        out.append(Entry(float(at), "journal", obj, text, level))
    return out


def build_timeline(
    snapshot: Snapshot,
    previous: Snapshot | None = None,
    journal: Iterable[Mapping[str, Any]] = (),
    now: float | None = None,
) -> list[Entry]:
    """Every entry, newest first (ties: by source, then text, so the order is stable)."""
    when = now if now is not None else snapshot.clock
    names = {str(g.vmid): g.name for g in snapshot.guests}
    entries = [_event(e) for e in snapshot.events]
    entries += [_task(t, names) for t in snapshot.tasks]
    entries += _peers(snapshot, previous, when)
    entries += _journal(journal)
    entries.sort(key=lambda x: (-x.at, x.source, x.text))
    return entries


def recent(
    entries: Iterable[Entry],
    about: str | ObjectRef | None = None,
    minutes: float | None = None,
    now: float = 0.0,
    level: Level | None = None,
) -> list[Entry]:
    """The entries about one object (an ObjectRef, a ref such as "node/worker-1", or a bare
    name) within the last `minutes` before `now`, optionally only warnings."""
    since = now - minutes * 60 if minutes is not None else None
    out = []
    for x in entries:
        if since is not None and x.at < since:
            continue
        if level is not None and x.level != level:
            continue
        if about is not None and not _matches(x.obj, about):
            continue
        out.append(x)
    return out


def _matches(obj: ObjectRef, about: str | ObjectRef) -> bool:
    if isinstance(about, ObjectRef):
        return (obj.kind, obj.name, obj.namespace) == (about.kind, about.name, about.namespace) or (
            bool(about.id) and obj.id == about.id
        )
    if "/" in about:
        return obj.ref == about or f"{obj.kind.lower()}/{obj.name}" == about
    return about in (obj.name, obj.id)
