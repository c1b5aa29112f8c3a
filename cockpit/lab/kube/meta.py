"""What the lab's controllers share: timings, and small functions over Kubernetes JSON
(conditions, owners, template hashes) that every controller reads the cluster with."""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING, Any

import orjson

from cockpit.lab.kube.objects import rfc3339
from cockpit.lab.kube.store import Key
from cockpit.sources.kube_parse import parse_time as _parse_time

if TYPE_CHECKING:
    import threading

    from cockpit.lab.kube.store import Store
    from cockpit.lab.world import World
    from cockpit.model import Pdb, UsageProfile

NODE_GRACE = 40.0  # node-monitor-grace-period: silence before a node goes Unknown
NODE_BOOT = 20.0  # a machine that powers on needs this long before its kubelet reports Ready
POD_START = 3.0  # image already present: container start to Ready
POD_STOP = 2.0  # a well-behaved container exits this long after SIGTERM
METRICS_EVERY = 15.0  # metrics-server's resolution
DAY = 86400.0
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

PODS, NODES = "pods", "nodes"
DEPLOY, RS = "deployments.apps", "replicasets.apps"
STS, DS = "statefulsets.apps", "daemonsets.apps"
PDBS, EVENTS = "poddisruptionbudgets.policy", "events"


def now_iso(ts: float) -> str:
    return rfc3339(ts)


def parse_time(text: str | None) -> float | None:
    return _parse_time(text) if text else None


def template_hash(template: dict) -> str:
    """A stable pod-template-hash for a pod template (the label a ReplicaSet carries)."""
    clean = _without_hash(template)
    digest = hashlib.sha256(repr(sorted(_flatten(clean))).encode()).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:10])


def _without_hash(template: dict) -> dict:
    labels = dict(template.get("metadata", {}).get("labels") or {})
    labels.pop("pod-template-hash", None)
    labels.pop("controller-revision-hash", None)
    return {**template, "metadata": {**template.get("metadata", {}), "labels": labels}}


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _flatten(v, f"{prefix}/{k}")]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _flatten(v, f"{prefix}[{i}]")]
    return [(prefix, repr(value))]


def same_template(a: dict, b: dict) -> bool:
    return _without_hash(a) == _without_hash(b)


def suffix(n: int = 5) -> str:
    return "".join(random.choice(ALPHABET) for _ in range(n))


def owner_ref(obj: dict, kind: str, api_version: str = "apps/v1") -> dict:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _label_keys(obj: dict) -> list[tuple[str, ...]]:
    """A pod under its namespace and under each (namespace, label, value) it carries."""
    ns = obj["metadata"].get("namespace", "")
    return [(ns,), *((ns, k, v) for k, v in (obj["metadata"].get("labels") or {}).items())]


def controller_uid(obj: dict) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def condition(obj: dict, kind: str) -> dict | None:
    return next(
        (c for c in obj.get("status", {}).get("conditions") or [] if c.get("type") == kind), None
    )


def is_ready(pod: dict) -> bool:
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True") and not pod["metadata"].get("deletionTimestamp")


def terminating(pod: dict) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def key_of(obj: dict) -> Key:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def set_condition(obj: dict, kind: str, status: str, reason: str, message: str, now: float) -> None:
    conditions = obj.setdefault("status", {}).setdefault("conditions", [])
    for c in conditions:
        if c["type"] == kind:
            if c.get("status") != status:
                c["lastTransitionTime"] = now_iso(now)
            c.update(status=status, reason=reason, message=message)
            return
    conditions.append(
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now_iso(now),
        }
    )


def _ordinal(pod_name: str, sts_name: str) -> int:
    tail = pod_name[len(sts_name) + 1 :]
    return int(tail) if tail.isdigit() else -1


def _toleration_seconds(pod: dict, taint: dict) -> float | None:
    """None: tolerated for ever; 0: not tolerated; else the seconds it is tolerated."""
    best: float | None = 0
    for tol in pod.get("spec", {}).get("tolerations") or []:
        if tol.get("effect") and tol["effect"] != taint["effect"]:
            continue
        key = tol.get("key", "")
        if key and key != taint["key"]:
            continue
        if not key and tol.get("operator") != "Exists":
            continue
        if (
            tol.get("operator", "Equal") == "Equal"
            and key
            and tol.get("value", "") != taint.get("value", "")
        ):
            continue
        seconds = tol.get("tolerationSeconds")
        if seconds is None:
            return None
        best = max(best or 0, seconds)
    return best


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


class ControllerState:
    """The state every controller group works on; Controllers provides it."""

    store: Store
    world: World
    lock: threading.RLock
    down_since: dict[str, float]
    up_since: dict[str, float]
    profiles: dict[tuple[str, str], UsageProfile]
    pod_ip_next: int
    _indexes: dict[tuple[str, str], tuple[int, dict, dict]]
    _parse_cache: dict[str, tuple[str | None, Any]]
    _pdb_cache: dict[str, tuple[str | None, Pdb]]

    # Provided by Controllers: the API's own deletion and admission paths.
    def delete_pod(self, key: Key, grace: int | None = None) -> dict:
        raise NotImplementedError

    def admit_pod(self, pod: dict) -> dict:
        raise NotImplementedError

    def _selects(self, pdb: dict, pod: dict) -> bool:
        raise NotImplementedError

    def _pdb(self, pdb: dict) -> Pdb:
        raise NotImplementedError

    def event(
        self, obj: dict, kind: str, reason: str, message: str, now: float, host: str = ""
    ) -> None:
        raise NotImplementedError

    def owned_by_runtime(self, pod: dict) -> bool:
        raise NotImplementedError

    def _parsed(self, pod: dict) -> Any:
        raise NotImplementedError

    def usage_of(self, pod: Any, now: float) -> Any:
        raise NotImplementedError

    def crashed_at_start(self, pod: dict, container: dict, now: float) -> dict | None:
        raise NotImplementedError

    def _index(self, resource: str, name: str, keys: Any) -> dict:
        raise NotImplementedError
