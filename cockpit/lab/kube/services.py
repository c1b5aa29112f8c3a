"""The scheduler, the disruption controller, Service endpoints, metrics-server and events."""

from __future__ import annotations

import hashlib
import math
from typing import Any

from cockpit.alloc.scheduler import Scheduler
from cockpit.lab.kube.meta import (
    ALPHABET,
    DAY,
    EVENTS,
    NODES,
    PDBS,
    PODS,
    ControllerState,
    _label_keys,
    condition,
    is_ready,
    key_of,
    now_iso,
    parse_time,
    set_condition,
    terminating,
)
from cockpit.lab.kube.objects import node_metrics_object, pod_metrics_object
from cockpit.model import Resources
from cockpit.sources.kube_parse import parse_node, parse_pod

EVENT_TTL = 3600.0
# Who reports each event (source.component), as in a real cluster.
EVENT_SOURCES = {
    "Scheduled": "default-scheduler",
    "FailedScheduling": "default-scheduler",
    "Preempted": "default-scheduler",
    "NodeNotReady": "node-controller",
    "NodeReady": "kubelet",
    "RegisteredNode": "node-controller",
    "TaintManagerEviction": "taint-eviction-controller",
    "SuccessfulCreate": "replicaset-controller",
    "SuccessfulDelete": "replicaset-controller",
    "ScalingReplicaSet": "deployment-controller",
    "SuccessfulRescale": "horizontal-pod-autoscaler",
    "FailedGetResourceMetric": "horizontal-pod-autoscaler",
    "FailedComputeMetricsReplicas": "horizontal-pod-autoscaler",
    "NoPods": "controllermanager",
    "Rebooted": "kubelet",
    "Starting": "kubelet",
    "EvictionThresholdMet": "kubelet",
    "NodeHasDiskPressure": "kubelet",
    "NodeHasNoDiskPressure": "kubelet",
}


def _stable_suffix(namespace: str, name: str) -> str:
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:5])


def _serving(pod: dict) -> bool:
    """Ready as the kubelet says, even while terminating (EndpointSlice's serving)."""
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


class ServiceControllers(ControllerState):
    # --- scheduler ---------------------------------------------------------------------

    def schedule(self, now: float) -> None:
        pending = [
            p
            for p in self.store.items(PODS)
            if not p.get("spec", {}).get("nodeName") and not terminating(p)
        ]
        if not pending:
            return
        nodes = [parse_node(n) for n in self.store.items(NODES)]
        bound = [
            parse_pod(p)
            for p in self.store.items(PODS)
            if p.get("spec", {}).get("nodeName") and not terminating(p)
        ]
        scheduler = Scheduler(nodes, bound)
        queue = [parse_pod(p) for p in pending]
        result = scheduler.run(queue)
        for victim in result.preempted:
            if victim.victim.node:  # a running pod loses its place
                self.delete_pod(victim.victim.key)
        for pod in pending:
            key = key_of(pod)
            node = result.placed.get(key)
            current = self.store.get(PODS, key)
            if node is not None:
                current["spec"]["nodeName"] = node
                set_condition(current, "PodScheduled", "True", "", "", now)
                self.store.update(PODS, current)
                self.event(
                    current,
                    "Normal",
                    "Scheduled",
                    f"Successfully assigned {key[0]}/{key[1]} to {node}",
                    now,
                )
            else:
                message = result.pending.get(key, "")
                old = condition(current, "PodScheduled")
                if old is None or old.get("message") != message:
                    set_condition(current, "PodScheduled", "False", "Unschedulable", message, now)
                    self.store.update(PODS, current)
                    self.event(current, "Warning", "FailedScheduling", message, now)

    # --- disruption budgets, endpoints, metrics, events --------------------------------

    def disruption(self, now: float) -> None:
        by_label = self._index(PODS, "label", _label_keys)
        for pdb in self.store.items(PDBS):
            ns = pdb["metadata"]["namespace"]
            wanted = pdb["spec"].get("selector", {}).get("matchLabels") or {}
            first = next(iter(wanted.items()), None)
            candidates = by_label.get((ns, *first) if first else (ns,), [])
            members = [p for p in candidates if self._selects(pdb, p) and not terminating(p)]
            expected = len(members)
            healthy = sum(1 for p in members if is_ready(p))
            desired = self._pdb(pdb).desired_healthy(expected)
            allowed = max(0, healthy - desired)
            self._set_status(
                PDBS,
                pdb,
                {
                    "observedGeneration": pdb["metadata"].get("generation", 1),
                    "expectedPods": expected,
                    "currentHealthy": healthy,
                    "desiredHealthy": desired,
                    "disruptionsAllowed": allowed,
                    "disruptedPods": {},
                    "conditions": [
                        {
                            "type": "DisruptionAllowed",
                            "status": "True" if allowed else "False",
                            "reason": "SufficientPods" if allowed else "InsufficientPods",
                            "message": "",
                            "observedGeneration": pdb["metadata"].get("generation", 1),
                            "lastTransitionTime": (condition(pdb, "DisruptionAllowed") or {}).get(
                                "lastTransitionTime", now_iso(now)
                            ),
                        }
                    ],
                },
            )

    def endpoints(self) -> None:
        """The endpoints and endpoint-slice controllers: every pod a Service selects that
        has an IP is an endpoint, ready only while the pod is Ready and not terminating.
        One slice per Service, named after it with a generated suffix, owned by it and
        labelled kubernetes.io/service-name, as the real controller writes it."""
        by_label = self._index(PODS, "label", _label_keys)
        for svc in self.store.items("services"):
            selector = svc.get("spec", {}).get("selector")
            if not selector:
                continue
            ns, name = key_of(svc)
            first = next(iter(selector.items()))
            members = sorted(
                (
                    p
                    for p in by_label.get((ns, *first), [])
                    if p.get("status", {}).get("podIP")
                    and p.get("status", {}).get("phase") not in ("Failed", "Succeeded")
                    and all(
                        (p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items()
                    )
                ),
                key=lambda p: p["metadata"]["name"],
            )
            ports = [
                {
                    "name": p.get("name", ""),
                    "port": p.get("targetPort", p["port"]),
                    "protocol": p.get("protocol", "TCP"),
                }
                for p in svc["spec"].get("ports", [])
            ]
            ports = [{**p, "port": p["port"] if isinstance(p["port"], int) else 443} for p in ports]

            def ref(pod: dict) -> dict:
                return {
                    "kind": "Pod",
                    "namespace": pod["metadata"]["namespace"],
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"].get("uid", ""),
                }

            def address(pod: dict) -> dict:
                return {
                    "ip": pod["status"]["podIP"],
                    "nodeName": pod["spec"].get("nodeName", ""),
                    "targetRef": ref(pod),
                }

            ready = [address(p) for p in members if is_ready(p)]
            not_ready = [address(p) for p in members if not is_ready(p)]
            subset: dict = {"ports": ports}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            ep = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": dict(svc["metadata"].get("labels") or {}),
                },
                "subsets": [subset] if members else [],
            }
            self._upsert("endpoints", ep, ("subsets",))
            slice_name = f"{name}-{_stable_suffix(ns, name)}"
            eps = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": slice_name,
                    "namespace": ns,
                    "generateName": f"{name}-",
                    "labels": {
                        **(svc["metadata"].get("labels") or {}),
                        "kubernetes.io/service-name": name,
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                    },
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "kind": "Service",
                            "name": name,
                            "uid": svc["metadata"].get("uid", ""),
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "addressType": "IPv4",
                "endpoints": [
                    {
                        "addresses": [p["status"]["podIP"]],
                        "conditions": {
                            "ready": is_ready(p),
                            "serving": _serving(p),
                            "terminating": terminating(p),
                        },
                        "nodeName": p["spec"].get("nodeName", ""),
                        "targetRef": ref(p),
                        **(
                            {"zone": zone}
                            if (zone := self._node_zone(p["spec"].get("nodeName", "")))
                            else {}
                        ),
                    }
                    for p in members
                ],
                "ports": ports,
            }
            self._upsert("endpointslices.discovery.k8s.io", eps, ("endpoints", "ports"))

    def _node_zone(self, node: str) -> str:
        obj = self.store.objects[NODES].get(("", node))
        labels = (obj or {}).get("metadata", {}).get("labels") or {}
        return labels.get("topology.kubernetes.io/zone", "")

    def _upsert(self, resource: str, obj: dict, fields: tuple[str, ...]) -> None:
        current = self.store.find(resource, key_of(obj))
        if current is None:
            self.store.create(resource, obj)
        elif any(current.get(f) != obj.get(f) for f in fields):
            for f in fields:
                current[f] = obj[f]
            self.store.update(resource, current)

    def metrics(self, now: float) -> None:
        """metrics-server's view: each pod's use follows its workload's normal/peak profile
        along a daily wave (peaks at different hours per workload, as seed 000 describes)."""
        per_node: dict[str, list[int]] = {}
        for pod in self.store.items(PODS):
            node = pod.get("spec", {}).get("nodeName")
            if not node or pod.get("status", {}).get("phase") != "Running":
                continue
            if not self.world.backing_up(node):
                continue
            model = self._parsed(pod)
            usage = self.usage_of(model, now)
            self._upsert_metrics("pods.metrics.k8s.io", pod_metrics_object(model, usage, now))
            totals = per_node.setdefault(node, [0, 0])
            totals[0] += usage.cpu or 0
            totals[1] += usage.memory or 0
        for node in self.store.items(NODES):
            name = node["metadata"]["name"]
            if not self.world.backing_up(name):
                continue  # metrics-server cannot scrape a dead kubelet
            cpu, memory = per_node.get(name, [0, 0])
            # The OS and kubelet use something too.
            usage = Resources(cpu + 150, memory + 600 * 2**20)
            self._upsert_metrics("nodes.metrics.k8s.io", node_metrics_object(name, usage, now))

    def _parsed(self, pod: dict) -> Any:
        """parse_pod, remembered per resourceVersion: metrics passes see mostly unchanged pods."""
        key = pod["metadata"].get("uid", "")
        rv = pod["metadata"].get("resourceVersion")
        cached = self._parse_cache.get(key)
        if cached is None or cached[0] != rv:
            cached = self._parse_cache[key] = (rv, parse_pod(pod))
        return cached[1]

    def usage_of(self, pod: Any, now: float) -> Resources:
        app = pod.labels.get("app.kubernetes.io/name", pod.name)
        profile = self.profiles.get((pod.namespace, app))
        req = pod.requests
        if profile is None:
            return Resources((req.cpu or 10) // 2, (req.memory or 32 * 2**20) // 2)
        phase = (int(hashlib.sha256(app.encode()).hexdigest()[:4], 16) % 24) * 3600
        wave = (1 + math.sin(2 * math.pi * (now + phase) / DAY)) / 2
        wave = wave**4  # peaks are short: most of the day sits near normal

        def between(normal: int | None, peak: int | None, fallback: int) -> int:
            low = normal if normal is not None else fallback
            high = peak if peak is not None else low
            return int(low + (high - low) * wave)

        return Resources(
            between(profile.normal.cpu, profile.peak.cpu, (req.cpu or 10) // 2),
            between(profile.normal.memory, profile.peak.memory, (req.memory or 2**25) // 2),
        )

    def _upsert_metrics(self, resource: str, obj: dict) -> None:
        current = self.store.find(resource, key_of(obj))
        if current is None:
            self.store.create(resource, obj)
        else:
            obj["metadata"]["uid"] = current["metadata"]["uid"]
            obj["metadata"]["creationTimestamp"] = current["metadata"]["creationTimestamp"]
            self.store.update(resource, obj)

    def expire_events(self, now: float) -> None:
        """kube-apiserver's --event-ttl (1 h): old events go, so a long demo stays small."""
        for ev in self.store.items(EVENTS):
            last = parse_time(ev.get("lastTimestamp"))
            if last is not None and now - last > EVENT_TTL:
                self.store.delete(EVENTS, key_of(ev))
                uid = ev.get("involvedObject", {}).get("uid", "")
                self._event_names.pop((uid, ev.get("reason", ""), ev.get("message", "")), None)

    def event(
        self, obj: dict, kind: str, reason: str, message: str, now: float, host: str = ""
    ) -> None:
        """A core/v1 Event from the component that would report it. A repeat of the same
        reason and message for the same object bumps count and lastTimestamp, as the
        kubelet's event correlator does, instead of adding an event."""
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        uid = meta.get("uid", "")
        seen = self._event_names.get((uid, reason, message))
        if seen is not None:
            current = self.store.find(EVENTS, (ns, seen))
            if current is not None:
                current["count"] = current.get("count", 1) + 1
                current["lastTimestamp"] = now_iso(now)
                self.store.update(EVENTS, current)
                return
        # Named like the recorder names them: the object and UnixNano in hex.
        self._event_seq = getattr(self, "_event_seq", 0) + 1
        name = f"{meta['name']}.{int(now * 1e9) + self._event_seq:x}"
        self._event_names[(uid, reason, message)] = name
        component = EVENT_SOURCES.get(reason, "kubelet" if host else "cockpit-lab")
        kind_of = obj.get("kind") or ("Pod" if "containers" in obj.get("spec", {}) else "Node")
        involved = {
            "kind": kind_of,
            "name": meta["name"],
            "uid": uid,
            "apiVersion": obj.get("apiVersion", "v1"),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if meta.get("namespace"):
            involved["namespace"] = meta["namespace"]
        if kind_of == "Pod" and component == "kubelet" and "containers" in obj.get("spec", {}):
            first = obj["spec"]["containers"][0]["name"]
            involved["fieldPath"] = f"spec.containers{{{first}}}"
        source = {"component": component}
        if host:
            source["host"] = host
        self.store.create(
            EVENTS,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": kind,
                "count": 1,
                "firstTimestamp": now_iso(now),
                "lastTimestamp": now_iso(now),
                "source": source,
                "reportingComponent": component,
                "reportingInstance": host,
                "eventTime": None,
            },
        )
