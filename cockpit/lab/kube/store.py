"""The lab apiserver's storage: Kubernetes objects as JSON dicts, like etcd holds them, with
one resourceVersion counter and a bounded event history per resource for watches: a watch
from before the history begins gets 410 Gone, exactly the case clients must relist on."""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

import orjson

from cockpit.lab.kube.objects import rfc3339

Key = tuple[str, str]  # (namespace or "", name)


class ApiError(Exception):
    """An apiserver error answered as a metav1.Status."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            out["details"] = self.details
        return out


def not_found(resource: str, name: str) -> ApiError:
    kind = resource.split(".")[0]
    return ApiError(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": kind})


@dataclass(frozen=True, slots=True)
class WatchEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    obj: bytes  # serialized once, sent to every watcher


def copy_obj(obj: dict) -> dict:
    return orjson.loads(orjson.dumps(obj))


class Store:
    def __init__(self, now: Any, history: int = 4096) -> None:
        self._now = now  # the lab clock's now()
        self.changed = threading.Condition()
        self.rv = 100
        self.objects: dict[str, dict[Key, dict]] = defaultdict(dict)
        self.events: dict[str, deque[WatchEvent]] = defaultdict(lambda: deque(maxlen=history))
        self.oldest: dict[str, int] = defaultdict(int)  # rv before which history is gone
        self.versions: dict[str, int] = defaultdict(int)  # resource -> rv of its last change
        self._sorted: dict[str, tuple[int, list[Key]]] = {}

    # --- reads -------------------------------------------------------------------------

    def get(self, resource: str, key: Key) -> dict:
        with self.changed:
            obj = self.objects[resource].get(key)
            if obj is None:
                raise not_found(resource, key[1])
            return copy_obj(obj)

    def find(self, resource: str, key: Key) -> dict | None:
        with self.changed:
            obj = self.objects[resource].get(key)
            return copy_obj(obj) if obj is not None else None

    def list(self, resource: str, namespace: str | None = None) -> tuple[list[dict], int]:
        """Shallow copies, sorted by key: callers may set top-level fields (kind) but must
        not change nested ones. Lists of 10,000 pods are served in pages; deep-copying every
        object for every page is what made large labs slow."""
        with self.changed:
            items = [
                dict(o)
                for k, o in sorted(self.objects[resource].items())
                if namespace is None or k[0] == namespace
            ]
            return items, self.rv

    def page(
        self, resource: str, namespace: str | None, start: int, limit: int
    ) -> tuple[list[dict], int, int]:
        """One page of a list, in key order, without touching the other objects: the
        sorted keys are kept until the resource changes. Returns (items, rv, total)."""
        with self.changed:
            version = self.versions[resource]
            cached = self._sorted.get(resource)
            if cached is None or cached[0] != version:
                cached = self._sorted[resource] = (version, sorted(self.objects[resource]))
            keys = cached[1]
            if namespace is not None:
                keys = [k for k in keys if k[0] == namespace]
            chosen = keys[start : start + limit] if limit else keys[start:]
            table = self.objects[resource]
            return [dict(table[k]) for k in chosen], self.rv, len(keys)

    def items(self, resource: str) -> list[dict]:
        """Live objects for controllers (read-only by convention; write through update)."""
        with self.changed:
            return list(self.objects[resource].values())

    def events_since(self, resource: str, rv: int) -> list[WatchEvent]:
        with self.changed:
            if rv < self.oldest[resource]:
                raise ApiError(
                    410, "Expired", f"too old resource version: {rv} ({self.oldest[resource]})"
                )
            return [e for e in self.events[resource] if e.rv > rv]

    def recent_events(self, resource: str, rv: int) -> list[WatchEvent] | None:
        """The events after rv, read from the newest back (a caller that asks often, with
        few events since, does not walk the whole history); None when the history no
        longer reaches back to rv."""
        with self.changed:
            if rv < self.oldest[resource]:
                return None
            newer: list[WatchEvent] = []
            for event in reversed(self.events[resource]):
                if event.rv <= rv:
                    break
                newer.append(event)
            newer.reverse()
            return newer

    def wait(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)

    # --- writes ------------------------------------------------------------------------

    def _bump(self, resource: str, kind: str, obj: dict) -> dict:
        self.rv += 1
        self.versions[resource] = self.rv
        obj["metadata"]["resourceVersion"] = str(self.rv)
        history = self.events[resource]
        if len(history) == history.maxlen:
            self.oldest[resource] = history[0].rv
        history.append(WatchEvent(self.rv, kind, orjson.dumps(obj)))
        self.changed.notify_all()
        return copy_obj(obj)

    def create(self, resource: str, obj: dict) -> dict:
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", ""), meta["name"])
        with self.changed:
            if key in self.objects[resource]:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{resource} "{key[1]}" already exists',
                    {"name": key[1], "kind": resource},
                )
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", rfc3339(self._now()))
            if "spec" in obj:
                meta.setdefault("generation", 1)
            obj = copy_obj(obj)
            self.objects[resource][key] = obj
            return self._bump(resource, "ADDED", obj)

    def update(self, resource: str, obj: dict, expect_rv: str | None = None) -> dict:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        with self.changed:
            current = self.objects[resource].get(key)
            if current is None:
                raise not_found(resource, key[1])
            if expect_rv and expect_rv != current["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f"Operation cannot be fulfilled on {resource} "
                    f'"{key[1]}": the object has been modified; please apply your '
                    "changes to the latest version and try again",
                )
            obj = copy_obj(obj)
            for immutable in ("uid", "creationTimestamp"):
                obj["metadata"][immutable] = current["metadata"][immutable]
            if "spec" in obj and obj.get("spec") != current.get("spec"):
                obj["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
            else:
                obj["metadata"]["generation"] = current["metadata"].get("generation", 1)
            if obj == current:
                return copy_obj(current)  # no-op writes do not bump the resourceVersion
            self.objects[resource][key] = obj
            return self._bump(resource, "MODIFIED", obj)

    def delete(self, resource: str, key: Key) -> dict:
        with self.changed:
            obj = self.objects[resource].pop(key, None)
            if obj is None:
                raise not_found(resource, key[1])
            return self._bump(resource, "DELETED", obj)
