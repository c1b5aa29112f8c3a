"""The lab cluster's control loop: what kube-controller-manager, kube-scheduler and the
kubelets do, reduced to what a homelab operator can observe.

One reconcile pass runs every few real milliseconds on the lab clock:
node lifecycle (a node whose machine stops goes Ready=Unknown after the grace period and
gets the unreachable taints; its pods are evicted after their toleration), kubelets (bound
pods start, terminating pods go away, never on a dead node), the scheduler (cockpit's own
scheduler model, so the lab and the what-if engine agree), ReplicaSets, Deployments with
rolling updates, StatefulSets, DaemonSets, the disruption controller for PDB status,
CoreDNS endpoints, and metrics following each workload's normal/peak profile.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from cockpit.lab.kube.autoscaling import AutoscalingControllers
from cockpit.lab.kube.containers import ContainerControllers, ImageFault
from cockpit.lab.kube.meta import (
    METRICS_EVERY,
    NOT_READY,
    PDBS,
    PODS,
    UNREACHABLE,
    key_of,
    now_iso,
    terminating,
)
from cockpit.lab.kube.nodes import NodeControllers
from cockpit.lab.kube.services import ServiceControllers
from cockpit.lab.kube.store import ApiError, Key, Store
from cockpit.lab.kube.workloads import WorkloadControllers
from cockpit.lab.world import World
from cockpit.model import Pdb, UsageProfile
from cockpit.sources.kube_parse import parse_pdb, parse_pod


class Controllers(
    NodeControllers,
    WorkloadControllers,
    ServiceControllers,
    ContainerControllers,
    AutoscalingControllers,
):
    def __init__(self, store: Store, world: World) -> None:
        self.store = store
        self.world = world
        self.clock = world.clock
        self.lock = threading.RLock()
        self.down_since: dict[str, float] = {}
        self.up_since: dict[str, float] = {}
        self.profiles: dict[tuple[str, str], UsageProfile] = {}  # (namespace, app) -> profile
        self.pod_ip_next = 10
        self.last_metrics = 0.0
        self.metrics_enabled = True
        self.hpa_scaling = False  # see cockpit.lab.kube.autoscaling
        self.image_faults: dict[str, ImageFault] = {}
        self.orphaned_since: dict[str, float] = {}
        self.kubelet_nodes: dict[str, dict] = {}  # filled once the nodes are seeded
        self.unregistered_since: dict[str, float] = {}
        self._pull_failed: dict[tuple[str, str], float] = {}
        self._event_names: dict[tuple[str, str, str], str] = {}  # (uid, reason, message) -> name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._indexes: dict[tuple[str, str], tuple[int, dict, dict]] = {}
        self._parse_cache: dict[str, tuple[str | None, Any]] = {}
        self._pdb_cache: dict[str, tuple[str | None, Pdb]] = {}

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lab-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            # A client's write can race a pass and conflict; the next pass sees the new state.
            started = time.monotonic()
            with contextlib.suppress(ApiError):
                self.reconcile()
            # Rest at least as long as the pass took: a 10,000-pod lab keeps its API and the
            # cockpit responsive instead of spinning a core.
            self._stop.wait(max(0.02, time.monotonic() - started))

    def reconcile(self) -> None:
        with self.lock:
            self.world.tick()
            now = self.clock.now()
            self.node_lifecycle(now)
            self.taint_eviction(now)
            self.pod_gc(now)
            self.kubelets(now)
            self.container_runtime(now)
            self.deployments(now)
            self.replicasets(now)
            self.statefulsets(now)
            self.daemonsets(now)
            self.schedule(now)
            self.disruption(now)
            self.endpoints()
            if now - self.last_metrics >= METRICS_EVERY:
                if self.metrics_backend_up():
                    self.metrics(now)
                self.autoscalers(now)
                self.expire_events(now)
                self.last_metrics = now

    # --- admission and deletion (called by the API) ----------------------------------

    def admit_pod(self, pod: dict) -> dict:
        """DefaultTolerationSeconds and Priority admission, and a fresh Pending status."""
        spec = pod.setdefault("spec", {})
        tolerations = spec.setdefault("tolerations", [])
        for key in (NOT_READY, UNREACHABLE):
            if not any(
                t.get("key") == key and t.get("effect") in ("NoExecute", None, "")
                for t in tolerations
            ):
                tolerations.append(
                    {
                        "key": key,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }
                )
        pc_name = spec.get("priorityClassName")
        if pc_name and "priority" not in spec:
            pc = self.store.find("priorityclasses.scheduling.k8s.io", ("", pc_name))
            if pc is None:
                raise ApiError(
                    403,
                    "Forbidden",
                    f'pods "{pod["metadata"]["name"]}" is '
                    f"forbidden: no PriorityClass with name {pc_name} was found",
                )
            spec["priority"] = pc["value"]
        pod["status"] = {"phase": "Pending", "qosClass": parse_pod(pod).qos}
        return pod

    def delete_pod(self, key: Key, grace: int | None = None) -> dict:
        """Graceful deletion: the pod is marked and its kubelet removes it once it has
        stopped; a pod on a dead node stays Terminating, as it does in a real cluster."""
        with self.lock:
            pod = self.store.get(PODS, key)
            node = pod.get("spec", {}).get("nodeName")
            if not node or grace == 0:
                return self.store.delete(PODS, key)
            if not terminating(pod):
                now = self.clock.now()
                grace = (
                    pod["spec"].get("terminationGracePeriodSeconds", 30) if grace is None else grace
                )
                pod["metadata"]["deletionTimestamp"] = now_iso(now)
                pod["metadata"]["deletionGracePeriodSeconds"] = grace
                pod = self.store.update(PODS, pod)
            return pod

    def evict(self, key: Key, dry_run: bool = False) -> None:
        """The Eviction API's rules, as the real apiserver applies them."""
        with self.lock:
            pod = self.store.get(PODS, key)
            phase = pod.get("status", {}).get("phase")
            # A pod that is not running can go without asking any budget.
            if terminating(pod) or phase in ("Pending", "Succeeded", "Failed"):
                if not dry_run:
                    self.delete_pod(key)
                return
            pdbs = [
                p
                for p in self.store.items(PDBS)
                if p["metadata"]["namespace"] == key[0] and self._selects(p, pod)
            ]
            if len(pdbs) > 1:
                raise ApiError(
                    500,
                    "InternalError",
                    "This pod has more than one "
                    "PodDisruptionBudget, which the eviction subresource does not "
                    "support.",
                )
            if pdbs:
                pdb = self.store.get(PDBS, key_of(pdbs[0]))
                status = pdb.get("status", {})
                if status.get("disruptionsAllowed", 0) <= 0:
                    name = pdb["metadata"]["name"]
                    raise ApiError(
                        429,
                        "TooManyRequests",
                        "Cannot evict pod as it would violate the pod's disruption budget.",
                        {
                            "causes": [
                                {
                                    "reason": "DisruptionBudget",
                                    "message": f"The disruption budget {name} needs "
                                    f"{status.get('desiredHealthy', 0)} healthy pods and has "
                                    f"{status.get('currentHealthy', 0)} currently",
                                }
                            ]
                        },
                    )
                if dry_run:
                    return
                status["disruptionsAllowed"] -= 1
                status.setdefault("disruptedPods", {})[key[1]] = now_iso(self.clock.now())
                self.store.update(PDBS, pdb)
            if not dry_run:
                self.delete_pod(key)

    def _selects(self, pdb: dict, pod: dict) -> bool:
        return self._pdb(pdb).selector.matches(pod["metadata"].get("labels") or {})

    def _pdb(self, pdb: dict) -> Pdb:
        """The model's view of a PDB (its selector and arithmetic), per resourceVersion."""
        key = (pdb["metadata"].get("uid", ""), pdb["metadata"].get("resourceVersion"))
        cached = self._pdb_cache.get(key[0])
        if cached is None or cached[0] != key[1]:
            cached = self._pdb_cache[key[0]] = (key[1], parse_pdb(pdb))
        return cached[1]
