"""One object in detail: its record, what it is linked to, and its raw form on demand.

The record comes from the snapshot (what the panes show); the raw form is fetched from the
source that owns the object when one is connected (the pod or node as the API server has
it, the guest's status as PVE reports it), and is otherwise the record itself, labelled
as such, so the operator always knows which one they are reading.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from typing import Any

from cockpit.model import Guest, Host, Node, Peer, Pod, Resources, Snapshot
from cockpit.relations import KINDS, Kind, guest_key, pod_key
from cockpit.sources.health import SourceError
from cockpit.units import format_bytes, format_cpu

Record = Host | Guest | Node | Pod | Peer


def find(snapshot: Snapshot, kind: Kind, key: str) -> Record | None:
    """The record behind a pane row (keys as in cockpit.relations)."""
    if kind == "host":
        return snapshot.host_by_name.get(key)
    if kind == "node":
        return snapshot.node_by_name.get(key)
    if kind == "guest":
        return next((g for g in snapshot.guests if guest_key(g) == key), None)
    if kind == "pod":
        return next((p for p in snapshot.pods if pod_key(p) == key), None)
    if kind == "peer":
        found = next((p for p in snapshot.peers if p.key == key), None)
        # A row keyed by hostname (before panes knew Peer.key) still finds a unique device.
        by_name = [p for p in snapshot.peers if p.hostname == key]
        return found or (by_name[0] if len(by_name) == 1 else None)
    raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def peer_key(peer: Peer) -> str:
    """A peer's row key: Peer.key (its stable ID, else its node key, else its hostname).
    Hostnames repeat on real tailnets (every iPhone calls itself "localhost")."""
    return peer.key


def as_plain(record: Record) -> dict[str, Any]:
    """The record as JSON-able data; empty fields left out so the useful ones stand out."""
    data = dataclasses.asdict(record)
    return {k: v for k, v in data.items() if v not in (None, "", (), [], {})}


def raw(
    kind: Kind, key: str, record: Record, kube: Any = None, proxmox: Any = None
) -> tuple[str, Any]:
    """(where it came from, the document): the live API object when its source is
    connected, else the snapshot's record. A failing fetch says why and falls back."""
    try:
        if kube is not None and kind == "pod":
            namespace, name = key.split("/", 1)
            return "Kubernetes API", _drop_managed_fields(
                kube.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
            )
        if kube is not None and kind == "node":
            return "Kubernetes API", _drop_managed_fields(
                kube.request("GET", f"/api/v1/nodes/{key}")
            )
        if proxmox is not None and isinstance(record, Guest):
            entry = proxmox.guest_status(record.host, record.vmid, record.kind)
            return "Proxmox VE API", dataclasses.asdict(entry)
    except SourceError as exc:
        return f"the cockpit's record (live fetch failed: {exc.reason})", as_plain(record)
    return "the cockpit's record", as_plain(record)


def _drop_managed_fields(doc: Mapping[str, Any]) -> Any:
    """managedFields is hundreds of lines nobody reads here (kubectl hides it too)."""
    meta = dict(doc.get("metadata") or {})
    meta.pop("managedFields", None)
    return {**doc, "metadata": meta}


def to_yaml(doc: Any) -> str:
    import yaml  # PyYAML comes with the kubernetes client; imported when first asked for

    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)


def to_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, default=str)


# --- the fields view: a record in words ------------------------------------------------

# Field names whose integers are bytes, and whose floats are unix times.
_BYTES = ("memory", "disk", "size", "balloon_min")
_TIMES = ("created", "started_at", "last_finished", "deleted_at", "last_ok", "since")


def fields(record: Record, now: float = 0.0) -> list[tuple[str, str]]:
    """(label, value) per non-empty field, as an operator reads them: sizes in binary
    units, CPU in cores or millicores, times as an age and a date (`now` = 0: the local
    clock), lists joined, no internal fields (a derived key, Python reprs)."""
    now = now or time.time()
    out: list[tuple[str, str]] = []
    for f in dataclasses.fields(record):
        if not f.init:  # derived once for look-ups (Pod.key): not data
            continue
        text = _value(f.name, getattr(record, f.name), now)
        if text:
            out.append((f.name.replace("_", " "), text))
    return out


def _value(name: str, value: Any, now: float) -> str:
    if value is None or value == "" or value == () or value == {}:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Resources):
        return _resources(value)
    if isinstance(value, int | float) and name.endswith(_TIMES):
        return when(float(value), now) if value else ""
    if isinstance(value, int) and name.endswith(_BYTES):
        return format_bytes(value)
    if isinstance(value, float):
        return f"{value:g}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = [
            f"{f.name.replace('_', ' ')} {text}"
            for f in dataclasses.fields(value)
            if f.init and (text := _value(f.name, getattr(value, f.name), now))
        ]
        return ", ".join(parts)
    if isinstance(value, Mapping) and name == "condition_details":
        return "; ".join(
            f"{kind}: "
            + " ".join(x for x in (reason, message) if x)
            + (f" ({when(at, now)})" if at else "")
            for kind, (reason, message, at) in value.items()
        )
    if isinstance(value, Mapping):
        return ", ".join(
            f"{k}={text}" if text else str(k)
            for k, v in value.items()
            for text in (_value(name, v, now),)
        )
    if isinstance(value, tuple | list | set | frozenset):
        items = [_value(name, v, now) for v in value]
        inner = "; " if any(dataclasses.is_dataclass(v) for v in value) else ", "
        if all(isinstance(v, tuple | list) for v in value):  # pairs: ("InternalIP", "10.0.0.5")
            inner = ", "
            items = [" ".join(x for x in (_value(name, y, now) for y in v) if x) for v in value]
        return inner.join(i for i in items if i)
    return str(value)


def _resources(r: Resources) -> str:
    parts = []
    if r.cpu is not None:
        parts.append(f"cpu {format_cpu(r.cpu)}")
    if r.memory is not None:
        parts.append(f"memory {format_bytes(r.memory)}")
    return ", ".join(parts)


def when(stamp: float, now: float) -> str:
    """`12m ago (2026-12-05 17:50 UTC)`: how long ago, then the date (UTC, as servers log)."""
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp))
    delta = now - stamp
    if delta < 0:
        return f"in {age(-delta)} ({date})"
    return f"{age(delta)} ago ({date})"


def age(seconds: float) -> str:
    """An age the way kubectl prints it: 45s, 12m, 5h, 3d (two units while they help)."""
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    return f"{d}d" if d < 365 * 2 else f"{d // 365}y"
