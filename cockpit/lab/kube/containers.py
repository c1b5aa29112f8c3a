"""What a kubelet's container runtime does when a container cannot stay up: crash loops with
the kubelet's exponential back-off, the kernel's OOM killer, an image built for another
CPU ("exec format error"), an image that cannot be pulled.

Nothing here is scripted per pod. Each failure follows from the pod's own spec, as it
would on a real node:
* an image the lab registry knows as broken exits with its error a few seconds after start;
* an image whose `cockpit.io/image-archs` annotation does not list the node's arch exits at
  once with "exec format error";
* a container whose memory limit is below what its workload normally uses is OOMKilled
  (exit code 137) once it has grown to the limit;
* an image the registry does not have never starts (ErrImagePull, then ImagePullBackOff).
The status written is the kubelet's: state.waiting{reason, message}, lastState.terminated
{reason, exitCode, startedAt, finishedAt}, restartCount, and the matching events.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cockpit.lab.kube.meta import (
    NODES,
    PODS,
    ControllerState,
    key_of,
    now_iso,
    parse_time,
    set_condition,
    terminating,
)
from cockpit.units import parse_bytes

BACKOFF_START = 10.0  # the kubelet's first restart back-off
BACKOFF_MAX = 300.0  # and its cap (MaxContainerBackOff)
OOM_AFTER = 45.0  # lab seconds a leaking container takes to grow to its limit
EXEC_FORMAT_AFTER = 0.5
ARCHS_ANNOTATION = "cockpit.io/image-archs"
APP_LABEL = "app.kubernetes.io/name"


@dataclass(frozen=True)
class ImageFault:
    """How a known-bad image behaves: it exits after `run_for` lab seconds with `exit_code`,
    its last log lines saying why; or, when `missing`, it cannot be pulled at all."""

    exit_code: int = 1
    run_for: float = 5.0
    log_tail: tuple[str, ...] = ()
    missing: bool = False


@dataclass(frozen=True)
class Exit:
    reason: str  # Error | OOMKilled
    exit_code: int
    after: float  # lab seconds after the container started
    log_tail: tuple[str, ...] = ()


PULL_RETRY = 10.0  # ErrImagePull turns into ImagePullBackOff after the first retry


def _not_found(image: str) -> str:
    return (
        f'failed to pull and unpack image "{image}": failed to resolve reference '
        f'"{image}": {image}: not found'
    )


def pull_failure(image: str) -> dict:
    return {"waiting": {"reason": "ErrImagePull", "message": _not_found(image)}}


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration prints it ("10s", "2m40s", "5m0s"), which is how
    the kubelet writes the back-off in its message."""
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def container_id(uid: str, name: str, restarts: int) -> str:
    """A containerd ID: a new one for every restart of the container."""
    return "containerd://" + hashlib.sha256(f"{uid}/{name}/{restarts}".encode()).hexdigest()


def image_id(image: str) -> str:
    head, _, tail = image.rpartition("/")
    repo = (f"{head}/" if head else "") + tail.partition("@")[0].partition(":")[0]
    return f"{repo}@sha256:" + hashlib.sha256(f"image/{image}".encode()).hexdigest()


def backoff(restarts: int) -> float:
    """CrashLoopBackOff's wait before restart number `restarts` + 1: 10 s doubling to 5 min."""
    return min(BACKOFF_MAX, BACKOFF_START * 2 ** max(0, restarts - 1))


class ContainerControllers(ControllerState):
    # Filled by Controllers: image -> how it fails (the lab's registry of bad images).
    image_faults: dict[str, ImageFault]
    _pull_failed: dict[tuple[str, str], float]  # (pod uid, container) -> when a pull failed

    def container_exit(self, pod: dict, container: dict) -> Exit | None:
        """Why this container cannot stay up on its node, or None when it can."""
        image = container.get("image", "")
        fault = self.image_faults.get(image)
        if fault is not None and not fault.missing:
            return Exit("Error", fault.exit_code, fault.run_for, fault.log_tail)
        archs = (pod["metadata"].get("annotations") or {}).get(ARCHS_ANNOTATION)
        node_arch = self._node_arch(pod.get("spec", {}).get("nodeName", ""))
        if archs and node_arch and node_arch not in archs.split(","):
            binary = (container.get("command") or [f"/usr/local/bin/{container['name']}"])[0]
            return Exit("Error", 255, EXEC_FORMAT_AFTER, (f"exec {binary}: exec format error",))
        # The workload's usage profile is per pod: the pod leaks past its limits when its
        # normal use exceeds them all together, and the first container takes the kill.
        containers = pod.get("spec", {}).get("containers", [])
        limits = [
            _memory(c.get("resources", {}).get("limits", {}).get("memory")) for c in containers
        ]
        if containers and container["name"] == containers[0]["name"] and None not in limits:
            app = (pod["metadata"].get("labels") or {}).get(APP_LABEL, "")
            profile = self.profiles.get((pod["metadata"].get("namespace", ""), app))
            normal = profile.normal.memory if profile is not None else None
            if normal is not None and normal > sum(x or 0 for x in limits):
                return Exit("OOMKilled", 137, OOM_AFTER)
        return None

    def crashed_at_start(self, pod: dict, container: dict, now: float) -> dict | None:
        """The status of a container that never runs (its image cannot be pulled) or dies
        as it starts (exec format error): the kubelet never sees it running, so the pod
        is never Ready."""
        if self.cannot_pull(container):
            self._pull_failed[(pod["metadata"].get("uid", ""), container["name"])] = now
            return {"ready": False, "started": False, "state": pull_failure(container["image"])}
        exit_ = self.container_exit(pod, container)
        if exit_ is None or exit_.after > EXEC_FORMAT_AFTER:
            return None
        where = f"{pod['metadata']['name']}_{pod['metadata']['namespace']}"
        tail = {"message": "\n".join(exit_.log_tail) + "\n"} if exit_.log_tail else {}
        return {
            "ready": False,
            "started": False,
            "restartCount": 1,
            "lastState": {
                "terminated": {
                    "exitCode": exit_.exit_code,
                    "reason": exit_.reason,
                    "startedAt": now_iso(now),
                    "finishedAt": now_iso(now + exit_.after),
                    "containerID": container_id(
                        pod["metadata"].get("uid", ""), container["name"], 0
                    ),
                    **tail,
                }
            },
            "state": {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {go_duration(backoff(1))} restarting failed "
                    f"container={container['name']} pod={where}({pod['metadata'].get('uid', '')})",
                }
            },
        }

    def log_tail(self, pod: dict, container: dict) -> tuple[str, ...]:
        """The last words of a container that exits (for its terminated run's log)."""
        exit_ = self.container_exit(pod, container)
        return exit_.log_tail if exit_ is not None else ()

    def kubelet_reachable(self, node: str) -> bool:
        """Whether the apiserver can reach the node's kubelet (for logs and exec)."""
        return self.world.backing_up(node) and node not in self.down_since

    def cannot_pull(self, container: dict) -> bool:
        fault = self.image_faults.get(container.get("image", ""))
        return fault is not None and fault.missing

    def _node_arch(self, node: str) -> str:
        obj = self.store.objects[NODES].get(("", node))
        return ((obj or {}).get("metadata", {}).get("labels") or {}).get("kubernetes.io/arch", "")

    def _may_fail(self, pod: dict) -> tuple[str, ...]:
        """Index key: the pods that could fail at all (most cannot, and are skipped)."""
        containers = pod.get("spec", {}).get("containers", [])
        if any(c.get("image", "") in self.image_faults for c in containers):
            return ("x",)
        if (pod["metadata"].get("annotations") or {}).get(ARCHS_ANNOTATION):
            return ("x",)
        if any(c.get("resources", {}).get("limits", {}).get("memory") for c in containers):
            app = (pod["metadata"].get("labels") or {}).get(APP_LABEL, "")
            if (pod["metadata"].get("namespace", ""), app) in self.profiles:
                return ("x",)
        return ()

    def owned_by_runtime(self, pod: dict) -> bool:
        """A pod whose containers the failure loop looks after: the plain start path leaves it
        alone (it would otherwise "start" a crash-looping pod every pass)."""
        for cs in pod.get("status", {}).get("containerStatuses") or []:
            if cs.get("lastState", {}).get("terminated"):
                return True
            if (cs.get("state", {}).get("waiting") or {}).get("reason") in (
                "CrashLoopBackOff",
                "ErrImagePull",
                "ImagePullBackOff",
            ):
                return True
        return False

    def container_runtime(self, now: float) -> None:
        """One pass of every node's runtime over the pods that can fail."""
        candidates = self._index(PODS, "may-fail", self._may_fail).get("x", [])
        for pod in candidates:
            node = pod.get("spec", {}).get("nodeName")
            if not node or terminating(pod) or node in self.down_since:
                continue
            if not self.world.backing_up(node):
                continue
            if pod.get("status", {}).get("phase") not in ("Running", "Pending"):
                continue
            statuses = pod.get("status", {}).get("containerStatuses")
            if not statuses:
                continue  # not started yet: the kubelet's start path goes first
            self._step(pod, now)

    def _step(self, pod: dict, now: float) -> None:
        pod = self.store.get(PODS, key_of(pod))
        spec_containers = {c["name"]: c for c in pod["spec"].get("containers", [])}
        changed = False
        for cs in pod["status"].get("containerStatuses", []):
            container = spec_containers.get(cs["name"])
            if container is None:
                continue
            changed |= self._step_container(pod, container, cs, now)
        if not changed:
            return
        if any(self.cannot_pull(c) for c in spec_containers.values()):
            pod["status"]["phase"] = "Pending"  # never started: a pull failure stays Pending
        ready = all(cs.get("ready") for cs in pod["status"]["containerStatuses"])
        for kind in ("ContainersReady", "Ready"):
            set_condition(
                pod,
                kind,
                "True" if ready else "False",
                "" if ready else "ContainersNotReady",
                ""
                if ready
                else "containers with unready status: ["
                + " ".join(
                    cs["name"] for cs in pod["status"]["containerStatuses"] if not cs.get("ready")
                )
                + "]",
                now,
            )
        self.store.update(PODS, pod)

    def _step_container(self, pod: dict, container: dict, cs: dict, now: float) -> bool:
        name, pod_name = container["name"], pod["metadata"]["name"]
        ns = pod["metadata"]["namespace"]
        where = f"{pod_name}_{ns}({pod['metadata'].get('uid', '')})"
        host = pod["spec"].get("nodeName", "")
        image = container.get("image", "")
        if self.cannot_pull(container):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            pulled_at = self._pull_failed.get((pod["metadata"].get("uid", ""), name))
            if waiting.get("reason") == "ImagePullBackOff":
                return False
            if waiting.get("reason") == "ErrImagePull" and (
                pulled_at is None or now - pulled_at < PULL_RETRY
            ):
                return False
            if waiting.get("reason") == "ErrImagePull":
                message = f'Back-off pulling image "{image}"'
                cs.update(state={"waiting": {"reason": "ImagePullBackOff", "message": message}})
                self.event(pod, "Normal", "BackOff", message, now, host=host)
                self.event(pod, "Warning", "Failed", "Error: ImagePullBackOff", now, host=host)
                return True
            cs.update(ready=False, started=False, state=pull_failure(image))
            self._pull_failed[(pod["metadata"].get("uid", ""), name)] = now
            self.event(pod, "Normal", "Pulling", f'Pulling image "{image}"', now, host=host)
            self.event(
                pod,
                "Warning",
                "Failed",
                f'Failed to pull image "{image}": {_not_found(image)}',
                now,
                host=host,
            )
            self.event(pod, "Warning", "Failed", "Error: ErrImagePull", now, host=host)
            return True
        exit_ = self.container_exit(pod, container)
        state = cs.get("state") or {}
        if "running" in state:
            if exit_ is None:
                return False
            started = parse_time(state["running"].get("startedAt")) or now
            if now - started < exit_.after:
                return False
            restarts = cs.get("restartCount", 0) + 1
            wait = backoff(restarts)
            cs.update(
                ready=False,
                started=False,
                restartCount=restarts,
                lastState={
                    "terminated": {
                        "exitCode": exit_.exit_code,
                        "reason": exit_.reason,
                        "startedAt": state["running"].get("startedAt"),
                        "finishedAt": now_iso(now),
                        "containerID": cs.get("containerID", ""),
                        # terminationMessagePolicy FallbackToLogsOnError: the log's tail.
                        **({"message": "\n".join(exit_.log_tail) + "\n"} if exit_.log_tail else {}),
                    }
                },
                state={
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {go_duration(wait)} restarting failed "
                        f"container={name} pod={where}",
                    }
                },
            )
            self.event(pod, "Warning", "BackOff",
                       f"Back-off restarting failed container {name} in pod {where}", now,
                       host=host)  # fmt: skip
            return True
        waiting = state.get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            finished = parse_time(cs.get("lastState", {}).get("terminated", {}).get("finishedAt"))
            if finished is not None and now - finished < backoff(cs.get("restartCount", 0)):
                return False
            cs.update(
                ready=exit_ is None or exit_.reason == "OOMKilled",
                started=True,
                state={"running": {"startedAt": now_iso(now)}},
                containerID=container_id(
                    pod["metadata"].get("uid", ""), name, cs.get("restartCount", 0)
                ),
            )
            self.event(pod, "Normal", "Pulled",
                       f'Container image "{image}" already present on machine', now,
                       host=host)  # fmt: skip
            self.event(pod, "Normal", "Created", f"Created container {name}", now, host=host)
            self.event(pod, "Normal", "Started", f"Started container {name}", now, host=host)
            return True
        return False


def _memory(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return parse_bytes(text)
    except ValueError:
        return None
