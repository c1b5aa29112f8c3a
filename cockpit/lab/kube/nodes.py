"""Node lifecycle, the taint manager and the kubelets: what happens to nodes and their pods
when the machine under them stops or starts."""

from __future__ import annotations

import uuid

from cockpit.lab.kube.containers import container_id, image_id
from cockpit.lab.kube.meta import (
    NODE_BOOT,
    NODE_GRACE,
    NODES,
    NOT_READY,
    POD_START,
    POD_STOP,
    PODS,
    UNREACHABLE,
    ControllerState,
    _copy,
    _toleration_seconds,
    condition,
    is_ready,
    key_of,
    now_iso,
    parse_time,
    set_condition,
    terminating,
)

POD_GC_AFTER = 40.0  # the pod GC's quarantine before it deletes an orphaned pod
REREGISTER_AFTER = 30.0  # a kubelet notices its Node is gone at its next status update


class NodeControllers(ControllerState):
    kubelet_nodes: dict[str, dict]  # node -> the object its kubelet registers
    unregistered_since: dict[str, float]
    orphaned_since: dict[str, float]  # a deleted node -> when its pods were first seen
    # --- nodes ---------------------------------------------------------------------------

    def node_lifecycle(self, now: float) -> None:
        for node in self.store.items(NODES):
            name = node["metadata"]["name"]
            up = self.world.backing_up(name)
            ready = condition(node, "Ready")
            ready_now = ready is not None and ready.get("status") == "True"
            if up:
                self.down_since.pop(name, None)
                self.up_since.setdefault(name, now)
                if not ready_now and now - self.up_since[name] >= NODE_BOOT:
                    self._set_node_ready(name, now)
            else:
                self.up_since.pop(name, None)
                # The grace period runs from the kubelet's last heartbeat, not from when
                # this loop noticed.
                self.down_since.setdefault(name, min(now, self.world.went_down.get(name, now)))
                if ready_now and now - self.down_since[name] >= NODE_GRACE:
                    self._set_node_unknown(name, now)
        self.reregister(now)

    def reregister(self, now: float) -> None:
        """A running kubelet whose Node object was deleted registers it again, as it was
        first registered (labels from its flags; anything added by hand is gone)."""
        present = self.store.objects[NODES]
        for name, template in self.kubelet_nodes.items():
            if ("", name) in present or not self.world.backing_up(name):
                self.unregistered_since.pop(name, None)
                continue
            since = self.unregistered_since.setdefault(name, now)
            if now - since < REREGISTER_AFTER:
                continue
            obj = _copy(template)
            for field in ("uid", "resourceVersion", "creationTimestamp"):
                obj["metadata"].pop(field, None)
            obj["metadata"]["creationTimestamp"] = now_iso(now)
            set_condition(
                obj, "Ready", "True", "KubeletReady", "kubelet is posting ready status", now
            )
            created = self.store.create(NODES, obj)
            self.unregistered_since.pop(name, None)
            self.event(
                created,
                "Normal",
                "RegisteredNode",
                f"Node {name} event: Registered Node {name} in Controller",
                now,
            )

    def _set_node_ready(self, name: str, now: float) -> None:
        node = self.store.get(NODES, ("", name))
        was = dict(condition(node, "Ready") or {})
        set_condition(node, "Ready", "True", "KubeletReady", "kubelet is posting ready status", now)
        for kind, reason in (
            ("MemoryPressure", "KubeletHasSufficientMemory"),
            ("DiskPressure", "KubeletHasNoDiskPressure"),
            ("PIDPressure", "KubeletHasSufficientPID"),
        ):
            if (condition(node, kind) or {}).get("status") == "Unknown":
                set_condition(node, kind, "False", reason, "", now)
        taints = [
            t for t in node["spec"].get("taints") or [] if t["key"] not in (UNREACHABLE, NOT_READY)
        ]
        node["spec"]["taints"] = taints
        if not taints:
            node["spec"].pop("taints")
        node = self.store.update(NODES, node)
        if was.get("status") == "Unknown":
            # The machine came back: the kubelet sees a new boot id.
            boot = uuid.uuid5(uuid.NAMESPACE_URL, f"boot/{name}/{int(now)}")
            self.event(node, "Normal", "Starting", "Starting kubelet.", now, host=name)
            self.event(
                node,
                "Warning",
                "Rebooted",
                f"Node {name} has been rebooted, boot id: {boot}",
                now,
                host=name,
            )
        self.event(node, "Normal", "NodeReady", f"Node {name} status is now: NodeReady", now)

    def _set_node_unknown(self, name: str, now: float) -> None:
        node = self.store.get(NODES, ("", name))
        for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
            set_condition(
                node,
                kind,
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status.",
                now,
            )
        taints = node["spec"].setdefault("taints", [])
        for effect in ("NoSchedule", "NoExecute"):
            if not any(t["key"] == UNREACHABLE and t["effect"] == effect for t in taints):
                taints.append(
                    {
                        "key": UNREACHABLE,
                        "effect": effect,
                        **({"timeAdded": now_iso(now)} if effect == "NoExecute" else {}),
                    }
                )
        self.store.update(NODES, node)
        self.event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady", now)
        for pod in self.store.items(PODS):
            if pod.get("spec", {}).get("nodeName") == name and is_ready(pod):
                pod = self.store.get(PODS, key_of(pod))
                set_condition(pod, "Ready", "False", "NodeNotReady", "", now)
                pod = self.store.update(PODS, pod)
                self.event(pod, "Warning", "NodeNotReady", "Node is not ready", now)

    def taint_eviction(self, now: float) -> None:
        """The taint manager: NoExecute taints evict pods that do not tolerate them, after
        their tolerationSeconds."""
        nodes = {n["metadata"]["name"]: n for n in self.store.items(NODES)}
        for pod in self.store.items(PODS):
            node = nodes.get(pod.get("spec", {}).get("nodeName", ""))
            if node is None or terminating(pod):
                continue
            for taint in node["spec"].get("taints") or []:
                if taint.get("effect") != "NoExecute":
                    continue
                seconds = _toleration_seconds(pod, taint)
                if seconds is None:
                    continue  # tolerated for ever
                added = parse_time(taint.get("timeAdded")) or now
                if now - added >= seconds:
                    self.delete_pod(key_of(pod))
                    self.event(
                        pod,
                        "Normal",
                        "TaintManagerEviction",  # from taint-eviction-controller
                        f"Marking for deletion Pod {key_of(pod)[0]}/{key_of(pod)[1]}",
                        now,
                    )
                    break

    def pod_gc(self, now: float) -> None:
        """The pod garbage collector: pods bound to a node that no longer exists (a node
        deleted while its pods were stuck Terminating) are force-deleted after a while."""
        nodes = self.store.objects[NODES]
        gone = {
            pod.get("spec", {}).get("nodeName")
            for pod in self.store.items(PODS)
            if pod.get("spec", {}).get("nodeName") and ("", pod["spec"]["nodeName"]) not in nodes
        }
        for name in list(self.orphaned_since):
            if name not in gone:
                del self.orphaned_since[name]
        for name in gone:
            self.orphaned_since.setdefault(name, now)
        due = {n for n in gone if now - self.orphaned_since[n] >= POD_GC_AFTER}
        if not due:
            return
        for pod in self.store.items(PODS):
            if pod.get("spec", {}).get("nodeName") in due:
                self.store.delete(PODS, key_of(pod))

    # --- kubelets ------------------------------------------------------------------------

    def kubelets(self, now: float) -> None:
        # A kubelet back from a reboot starts its pods once it reports the node Ready.
        booted = {
            n["metadata"]["name"]
            for n in self.store.items(NODES)
            if (condition(n, "Ready") or {}).get("status") == "True"
        }
        for pod in self.store.items(PODS):
            node = pod.get("spec", {}).get("nodeName")
            if not node:
                if terminating(pod):
                    self.store.delete(PODS, key_of(pod))
                continue
            if not self.world.backing_up(node) or node in self.down_since:
                continue  # a dead kubelet neither starts nor stops anything
            if terminating(pod):
                since = parse_time(pod["metadata"]["deletionTimestamp"]) or now
                grace = pod["metadata"].get("deletionGracePeriodSeconds", 30)
                if now - since >= min(grace, POD_STOP):
                    for c in pod["spec"].get("containers", []):
                        self.event(
                            pod,
                            "Normal",
                            "Killing",
                            f"Stopping container {c['name']}",
                            now,
                            host=node,
                        )
                    self.store.delete(PODS, key_of(pod))
                continue
            if pod.get("status", {}).get("phase") in ("Failed", "Succeeded"):
                continue
            if self.owned_by_runtime(pod):
                continue  # crash-looping or failing to pull: the runtime's loop has it
            if node not in booted:
                continue
            if pod.get("status", {}).get("phase") == "Pending" or not is_ready(pod):
                scheduled = condition(pod, "PodScheduled")
                since = parse_time(scheduled.get("lastTransitionTime")) if scheduled else now
                if since is not None and now - since >= POD_START:
                    self._start(pod, now)

    def _start(self, pod: dict, now: float) -> None:
        pod = self.store.get(PODS, key_of(pod))
        status = pod.setdefault("status", {})
        status["phase"] = "Running"
        status.setdefault("startTime", now_iso(now))
        node = self.store.find(NODES, ("", pod["spec"]["nodeName"]))
        if node:
            status["hostIP"] = next(
                (
                    a["address"]
                    for a in node["status"].get("addresses", [])
                    if a["type"] == "InternalIP"
                ),
                "",
            )
        if "podIP" not in status:
            self.pod_ip_next += 1
            status["podIP"] = f"10.42.{self.pod_ip_next // 250}.{self.pod_ip_next % 250 + 2}"
            status["podIPs"] = [{"ip": status["podIP"]}]
        previous = {cs["name"]: cs for cs in status.get("containerStatuses") or []}
        status["containerStatuses"] = [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": image_id(c.get("image", "")) if c.get("image") else "",
                "ready": True,
                "started": True,
                # A container that was running before its node went away restarts.
                "restartCount": previous.get(c["name"], {}).get("restartCount", 0)
                + (1 if "running" in previous.get(c["name"], {}).get("state", {}) else 0),
                "state": {"running": {"startedAt": now_iso(now)}},
                "containerID": container_id(
                    pod["metadata"].get("uid", ""),
                    c["name"],
                    previous.get(c["name"], {}).get("restartCount", 0) + 1,
                ),
            }
            for c in pod["spec"].get("containers", [])
        ]
        specs = {c["name"]: c for c in pod["spec"].get("containers", [])}
        for cs in status["containerStatuses"]:
            crashed = self.crashed_at_start(pod, specs[cs["name"]], now)
            if crashed is not None:
                cs.update(crashed)
        ready = all(cs["ready"] for cs in status["containerStatuses"])
        if any(
            "waiting" in cs["state"] and cs["state"]["waiting"]["reason"] == "ErrImagePull"
            for cs in status["containerStatuses"]
        ):
            status["phase"] = "Pending"  # a container that could not be pulled never ran
        set_condition(pod, "Initialized", "True", "", "", now)
        for kind in ("ContainersReady", "Ready"):
            set_condition(
                pod,
                kind,
                "True" if ready else "False",
                "" if ready else "ContainersNotReady",
                "",
                now,
            )
        self.store.update(PODS, pod)
        host = pod["spec"]["nodeName"]
        if not previous:  # a first start pulls; a node coming back finds its images
            for c in pod["spec"].get("containers", []):
                image = c.get("image", "")
                self.event(pod, "Normal", "Pulling", f'Pulling image "{image}"', now, host=host)
                self.event(
                    pod, "Normal", "Pulled", f'Successfully pulled image "{image}"', now, host=host
                )
        for c in pod["spec"].get("containers", []):
            self.event(pod, "Normal", "Created", f"Created container {c['name']}", now, host=host)
            self.event(pod, "Normal", "Started", f"Started container {c['name']}", now, host=host)
