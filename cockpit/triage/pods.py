"""Findings about pods (what the kubelet and the scheduler say of each container) and
about workloads with no ready replica."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from cockpit.alloc.risks import image_archs, owner_of, subject_of
from cockpit.model import ContainerState, Pod
from cockpit.triage.finding import Facts, Finding, ObjectRef, plural, pod_ref
from cockpit.units import format_bytes

IMAGE_PULL = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}
)
CONFIG_ERRORS = frozenset({"CreateContainerConfigError", "CreateContainerError"})
EXEC_FORMAT = "exec format error"


def _limit_of(pod: Pod, container: str) -> int | None:
    for c in (*pod.containers, *pod.init_containers):
        if c.name == container:
            return c.limits.memory
    return None


def _exec_format(pod: Pod, cs: ContainerState) -> bool:
    return EXEC_FORMAT in cs.message or EXEC_FORMAT in cs.last_message


def _last_line(message: str, limit: int = 160) -> str:
    """What a dying process said last (a panic, an error): the last non-empty line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return last if len(last) <= limit else last[: limit - 3] + "..."


def _workload_text(pod: Pod) -> str:
    key = owner_of(pod)
    return "" if key[0] == "Pod" else f" ({subject_of(key)})"


def container_problems(f: Facts) -> Iterator[Finding]:
    for pod in f.snapshot.pods:
        if not pod.container_states or pod.deleted_at is not None:
            continue
        for cs in pod.container_states:
            finding = _container_finding(f, pod, cs)
            if finding is not None:
                yield finding


def _container_finding(f: Facts, pod: Pod, cs: ContainerState) -> Finding | None:
    where = f"pod {pod.namespace}/{pod.name}{_workload_text(pod)}, container {cs.name}"
    state = f"state {cs.state}"
    evidence = [f"containerStatuses[{cs.name}].{state}.reason={cs.reason!r}"] if cs.reason else []
    if cs.last_reason:
        evidence.append(
            f"containerStatuses[{cs.name}].lastState.terminated.reason={cs.last_reason!r}"
            + (f" exitCode={cs.last_exit_code}" if cs.last_exit_code is not None else "")
        )
    if cs.restarts:
        evidence.append(f"restartCount={cs.restarts}")
    ref = pod_ref(pod)
    node = f.snapshot.node_by_name.get(pod.node or "")
    archs = sorted(image_archs(pod))
    # The kubelet rarely puts "exec format error" in the status (it is in the container's
    # log); a container that keeps failing on a node whose arch its image lacks says it too.
    failing = cs.reason in ("CrashLoopBackOff", "Error") or cs.last_reason == "Error"
    wrong_arch = node is not None and bool(node.arch) and bool(archs) and node.arch not in archs
    if _exec_format(pod, cs) or (failing and wrong_arch):
        arch = f" on {node.arch} node {node.name}" if node is not None and node.arch else ""
        built = f"; the image is built for {', '.join(archs)}" if archs else ""
        if _exec_format(pod, cs):
            evidence.append(f"message contains {EXEC_FORMAT!r}")
            how = "fails with 'exec format error'"
        else:
            evidence.append(f"node arch {node.arch if node else '?'} not in image archs {archs}")
            how = "keeps failing"
        return Finding(
            "POD-EXEC-FORMAT",
            "warning",
            ref,
            f"{where} {how}{arch}{built}: the image is for another CPU architecture",
            tuple(evidence),
            "Pin the workload to nodes of the image's arch (nodeSelector kubernetes.io/arch) "
            "or use a multi-arch image.",
        )
    if cs.reason == "OOMKilled" or cs.last_reason == "OOMKilled":
        limit = _limit_of(pod, cs.name)
        at = (
            f" at its {format_bytes(limit)} memory limit"
            if limit
            else " (no memory limit: the node ran out)"
        )
        looping = ", now in CrashLoopBackOff" if cs.reason == "CrashLoopBackOff" else ""
        if limit:
            evidence.append(f"resources.limits.memory={limit} B")
        return Finding(
            "POD-OOMKILLED",
            "warning",
            ref,
            f"{where} was OOMKilled{at}, restarted {cs.restarts} times{looping}",
            tuple(evidence),
            "Raise the memory limit above the real peak (kubectl top pod), or find the "
            "leak; seed 002 keeps limits at 2-5x requests.",
        )
    if cs.reason == "CrashLoopBackOff":
        last = (
            f", last exit {cs.last_reason or 'code'} {cs.last_exit_code}"
            if cs.last_exit_code is not None
            else ""
        )
        return Finding(
            "POD-CRASHLOOP",
            "warning",
            ref,
            f"{where} is in CrashLoopBackOff after {cs.restarts} restarts{last}"
            + (f": {_last_line(cs.last_message)}" if cs.last_message.strip() else ""),
            tuple(evidence),
            f"Read why it exits: kubectl -n {pod.namespace} logs {pod.name} -c {cs.name} "
            "--previous",
        )
    if cs.reason in IMAGE_PULL:
        return Finding(
            "POD-IMAGE-PULL",
            "warning",
            ref,
            f"{where} cannot pull its image ({cs.reason})"
            + (f": {cs.message}" if cs.message else ""),
            tuple(evidence),
            "Check the image name and tag, the registry's reachability from the node and "
            "the imagePullSecrets.",
        )
    if cs.reason in CONFIG_ERRORS:
        return Finding(
            "POD-CONFIG-ERROR",
            "warning",
            ref,
            f"{where} cannot be created ({cs.reason})" + (f": {cs.message}" if cs.message else ""),
            tuple(evidence),
            "Create the ConfigMap or Secret (or the key) the pod references, or fix the "
            "reference in its manifest.",
        )
    return None


def pending(f: Facts) -> Iterator[Finding]:
    for pod in f.snapshot.pods:
        if pod.phase != "Pending" or pod.node is not None or pod.deleted_at is not None:
            continue
        reason = pod.unscheduled_reason or "no node yet"
        message = f": {pod.unscheduled_message}" if pod.unscheduled_message else ""
        evidence = ["Pod.status.phase=Pending", "Pod.spec.nodeName unset"]
        if pod.unscheduled_reason:
            evidence.append(f"PodScheduled=False reason={pod.unscheduled_reason!r}")
        yield Finding(
            "POD-PENDING",
            "warning",
            pod_ref(pod),
            f"pod {pod.namespace}/{pod.name}{_workload_text(pod)} is Pending ({reason}){message}",
            tuple(evidence),
            "Free capacity (or add a node), relax its selectors/affinity/taints, or lower "
            "its requests; `cockpit whatif` shows where pods would land.",
        )


def terminating_on_dead_node(f: Facts) -> Iterator[Finding]:
    for pod in f.snapshot.pods:
        if pod.deleted_at is None or pod.node is None or not f.pod_dead(pod):
            continue
        state = "gone" if pod.node not in f.snapshot.node_by_name else "down"
        yield Finding(
            "POD-TERMINATING-DEAD-NODE",
            "warning",
            pod_ref(pod),
            f"pod {pod.namespace}/{pod.name}{_workload_text(pod)} is stuck Terminating on "
            f"node {pod.node}, which is {state}: the kubelet that would finish it is not there",
            (f"metadata.deletionTimestamp set, spec.nodeName={pod.node} ({state})",),
            f"kubectl -n {pod.namespace} delete pod {pod.name} --force --grace-period=0 "
            "(only once the node is really off: a StatefulSet pod may otherwise run twice)",
        )


def evicted(f: Facts) -> Iterator[Finding]:
    groups: dict[tuple[str, str, str], list[Pod]] = defaultdict(list)
    for pod in f.snapshot.pods:
        if pod.phase == "Failed" and pod.reason == "Evicted":
            groups[owner_of(pod)].append(pod)
    for key, pods in groups.items():
        first = pods[0]
        obj = pod_ref(first) if key[0] == "Pod" else ObjectRef("workload", key[0], key[2], key[1])
        yield Finding(
            "POD-EVICTED",
            "info",
            obj,
            f"{plural(len(pods), 'pod')} of {subject_of(key)} "
            f"{'was' if len(pods) == 1 else 'were'} evicted: {first.message or 'no message'}",
            (f"Pod.status.reason=Evicted ({first.name})",),
            f"The message says which resource ran short; delete the leftovers with "
            f"kubectl -n {key[1]} delete pod --field-selector=status.phase=Failed",
        )


def workloads_down(f: Facts) -> Iterator[Finding]:
    s = f.snapshot
    for w in s.workloads:
        if w.replicas < 1:
            continue  # scaled to zero on purpose
        pods = s.pods_by_workload.get(w.key, [])
        serving = sum(1 for p in pods if f.pod_serving(p))
        ready = serving if w.ready_replicas is None else min(serving, w.ready_replicas)
        if ready > 0:
            continue
        evidence = [
            f"{sum(1 for p in pods if p.phase == 'Running')} pods Running, "
            f"{serving} ready on a live node"
        ]
        if w.ready_replicas is not None:
            evidence.append(f"status.readyReplicas={w.ready_replicas}")
        on_dead = sorted({p.node for p in pods if p.node and f.pod_dead(p)})
        why = f"; its pods are on {', '.join(on_dead)}, which is down" if on_dead else ""
        yield Finding(
            "WORKLOAD-DOWN",
            "critical",
            ObjectRef("workload", w.kind, w.name, w.namespace),
            f"{w.ref} has 0 of {w.replicas} replicas ready{why}",
            tuple(evidence),
            f"cockpit restart {w.ref}"
            if w.kind != "StatefulSet" or not on_dead
            else "Bring its node back; a StatefulSet pod on a dead node is not replaced "
            "until that pod is force-deleted.",
        )


RULES = (container_problems, pending, terminating_on_dead_node, evicted, workloads_down)
