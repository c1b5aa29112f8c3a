"""One object in detail: its record, what it is linked to, and its raw form on demand.

The record comes from the snapshot (what the panes show); the raw form is fetched from the
source that owns the object when one is connected (the pod or node as the API server has
it, the guest's status as PVE reports it), and is otherwise the record itself, labelled
as such, so the operator always knows which one they are reading.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from cockpit.model import Guest, Host, Node, Peer, Pod, Snapshot
from cockpit.relations import KINDS, Kind, guest_key, pod_key
from cockpit.sources.health import SourceError

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
