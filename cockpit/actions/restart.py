"""Rollout restart of a Deployment, StatefulSet or DaemonSet (CoreDNS by default), followed
the way `kubectl rollout status` follows it.

The restart is what `kubectl rollout restart` sends: a strategic merge patch that sets the
pod template's kubectl.kubernetes.io/restartedAt annotation, so the controller rolls every
pod by its own update strategy. The patch carries the plan's object identity as preconditions
the API server enforces: metadata.uid (a Deployment deleted and recreated under the same name
is refused) and the resourceVersion just read (a concurrent write makes it a 409, re-read
and re-checked). A server-side dry run of the same patch goes first.

This module also holds what the scale actions share with it: parsing `[NS/]KIND/NAME`,
reading a workload's pods from the API, naming a node with the guest and box behind it, and
reporting pods as they come and go.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cockpit.actions.base import (
    Action,
    ActionFailed,
    Context,
    Plan,
    PlanChanged,
    Run,
    kube_get,
    register,
    require_same,
)
from cockpit.alloc.ha import Layout
from cockpit.alloc.risks import PdbIndex
from cockpit.alloc.scheduler import Scheduler
from cockpit.model import Pdb, Snapshot
from cockpit.sources.health import SourceError
from cockpit.sources.kube import RESTARTED_AT
from cockpit.topology import Links

DEFAULT_TARGET = "kube-system/deployment/coredns"
DEFAULT_TIMEOUT = 300.0
KIND_NAMES = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "sts": "StatefulSet",
    "daemonset": "DaemonSet",
    "daemonsets": "DaemonSet",
    "ds": "DaemonSet",
}
PLURALS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
CONFLICT_RETRIES = 3


# --- naming a workload --------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    namespace: str
    kind: str  # Deployment, StatefulSet or DaemonSet
    name: str

    @property
    def path(self) -> str:
        return f"/apis/apps/v1/namespaces/{self.namespace}/{PLURALS[self.kind]}/{self.name}"

    @property
    def kubectl(self) -> str:
        """How kubectl names it: `deployment/coredns -n kube-system`."""
        return f"{self.kind.lower()}/{self.name} -n {self.namespace}"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.kind.lower()}/{self.name}"


def parse_ref(text: str, default_namespace: str = "kube-system") -> Ref:
    """`[NS/]KIND/NAME`, KIND case-insensitive, with kubectl's short forms (deploy, sts, ds)
    and an optional `.apps` group. Raises ValueError saying what is expected."""
    parts = text.strip().split("/")
    if len(parts) == 2:
        namespace, (kind, name) = default_namespace, parts
    elif len(parts) == 3:
        namespace, kind, name = parts
    else:
        raise ValueError(
            f"expected [NAMESPACE/]KIND/NAME such as kube-system/deployment/coredns, got {text!r}"
        )
    kind_key = kind.lower().removesuffix(".apps")
    if kind_key not in KIND_NAMES:
        raise ValueError(
            f"unknown kind {kind!r}: expected deployment (deploy), statefulset (sts) or "
            "daemonset (ds)"
        )
    if not namespace or not name:
        raise ValueError(f"expected [NAMESPACE/]KIND/NAME, got {text!r}")
    return Ref(namespace, KIND_NAMES[kind_key], name)


# --- pods, read from the API ----------------------------------------------------------------


@dataclass(frozen=True)
class PodInfo:
    name: str
    uid: str
    node: str
    phase: str
    ready: bool
    terminating: bool
    waiting: str = ""  # why a Pending pod is not scheduled, as the scheduler said
    created: str = ""

    @property
    def state(self) -> str:
        if self.terminating:
            return "Terminating"
        if self.phase == "Pending" and not self.node:
            return f"Pending ({self.waiting})" if self.waiting else "Pending"
        if self.phase == "Running":
            return "Running, ready" if self.ready else "Running, not ready"
        return self.phase


def pod_info(obj: dict) -> PodInfo:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status", {})
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    scheduled = conditions.get("PodScheduled", {})
    return PodInfo(
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        node=spec.get("nodeName", "") or "",
        phase=status.get("phase", "Pending"),
        ready=conditions.get("Ready", {}).get("status") == "True",
        terminating=bool(meta.get("deletionTimestamp")),
        waiting=scheduled.get("message", "") if scheduled.get("status") == "False" else "",
        created=meta.get("creationTimestamp", ""),
    )


def selector_query(selector: dict) -> str:
    """A metav1.LabelSelector as the labelSelector query parameter."""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for req in selector.get("matchExpressions") or []:
        key, op, values = req.get("key", ""), req.get("operator", ""), req.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


def list_pods(kube: Any, namespace: str, workload: dict) -> list[PodInfo]:
    selector = selector_query(workload.get("spec", {}).get("selector") or {})
    doc = kube.request(
        "GET",
        f"/api/v1/namespaces/{namespace}/pods",
        {"labelSelector": selector} if selector else {},
    )
    return sorted((pod_info(p) for p in doc.get("items") or []), key=lambda p: p.name)


class NodeNames:
    """`worker-1 (VM 102 k3s-worker-1 on pve)`: a node with what it dies with."""

    def __init__(self, snapshot: Snapshot, links: Links | None) -> None:
        self.layout = Layout(snapshot, links)
        self.guests = {g.vmid: g for g in snapshot.guests}

    def __call__(self, node: str) -> str:
        if not node:
            return "no node yet"
        b = self.layout.backing.get(node)
        if b is None:
            return node
        if b.vmid is None:
            return f"{node} (bare metal)"
        guest = self.guests.get(b.vmid)
        name = f" {guest.name}" if guest is not None and guest.name != node else ""
        return f"{node} (VM {b.vmid}{name} on {b.host})"


class PodTracker:
    """Reports pods of a workload as they come, change and go: old ones (there before the
    action) going, new ones coming, with their nodes."""

    def __init__(
        self,
        old: Iterable[PodInfo],
        say: Callable[[str], None],
        where: Callable[[str], str],
    ) -> None:
        old = list(old)
        self.old = {p.uid for p in old}
        self.say = say
        self.where = where
        self.seen: dict[str, PodInfo] = {p.uid: p for p in old}

    def update(self, pods: list[PodInfo]) -> None:
        now = {p.uid: p for p in pods}
        for uid, pod in now.items():
            before = self.seen.get(uid)
            label = "old pod" if uid in self.old else "new pod"
            if before is None and uid not in self.old:
                self.say(f"new pod {pod.name} on {self.where(pod.node)}: {pod.state}")
            elif before is not None and (before.state, before.node) != (pod.state, pod.node):
                going = " going" if pod.terminating and uid in self.old else ""
                self.say(f"{label} {pod.name} on {self.where(pod.node)}{going}: {pod.state}")
        for uid, pod in self.seen.items():
            if uid not in now:
                label = "old pod" if uid in self.old else "new pod"
                self.say(f"{label} {pod.name} on {self.where(pod.node)} is gone")
        self.seen = now

    def old_left(self) -> list[PodInfo]:
        return [p for uid, p in self.seen.items() if uid in self.old]

    def new(self) -> list[PodInfo]:
        return [p for uid, p in self.seen.items() if uid not in self.old]


def planned_pod(saved: dict) -> PodInfo:
    """A pod as a plan recorded it (plan.detail), for a run that starts from the journal."""
    return PodInfo(
        name=saved.get("name", ""),
        uid=saved.get("uid", ""),
        node=saved.get("node", ""),
        phase="Running",
        ready=True,
        terminating=False,
    )


def waiting_reasons(pods: Iterable[PodInfo]) -> str:
    stuck = [f"{p.name} is {p.state}" for p in pods if not p.ready and not p.terminating]
    return "; ".join(stuck[:3])


# --- rollout status, as kubectl computes it ---------------------------------------------------


@dataclass(frozen=True)
class Rollout:
    message: str
    done: bool
    failed: str = ""  # a condition that means it will not finish (ProgressDeadlineExceeded)


def rollout_status(kind: str, obj: dict) -> Rollout:
    """kubectl's DeploymentStatusViewer, StatefulSetStatusViewer and DaemonSetStatusViewer."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status", {})
    name = meta.get("name", "")
    generation = meta.get("generation", 0)
    observed = status.get("observedGeneration", 0)
    if kind == "Deployment":
        if generation > observed:
            return Rollout("waiting for the deployment spec update to be observed", False)
        for c in status.get("conditions") or []:
            if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
                return Rollout(
                    f'deployment "{name}" exceeded its progress deadline',
                    False,
                    c.get("message", "") or "ProgressDeadlineExceeded",
                )
        want = spec.get("replicas", 1)
        updated = status.get("updatedReplicas", 0)
        replicas = status.get("replicas", 0)
        available = status.get("availableReplicas", 0)
        if updated < want:
            return Rollout(f"{updated} out of {want} new replicas have been updated", False)
        if replicas > updated:
            return Rollout(f"{replicas - updated} old replicas are pending termination", False)
        if available < updated:
            return Rollout(f"{available} of {updated} updated replicas are available", False)
        return Rollout(f'deployment "{name}" successfully rolled out', True)
    if kind == "StatefulSet":
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return Rollout("", False, "rollout status is only available for RollingUpdate")
        if observed == 0 or generation > observed:
            return Rollout("waiting for the statefulset spec update to be observed", False)
        want = spec.get("replicas", 1)
        ready = status.get("readyReplicas", 0)
        if ready < want:
            return Rollout(f"waiting for {want - ready} pods to be ready", False)
        rolling = strategy.get("rollingUpdate")
        if rolling is not None:
            # kubectl treats any RollingUpdate with its (defaulted) parameters as partitioned,
            # partition 0 included, and then looks at updatedReplicas, not the revisions.
            partition = rolling.get("partition", 0) or 0
            updated = status.get("updatedReplicas", 0)
            if updated < want - partition:
                return Rollout(
                    f"waiting for partitioned roll out to finish: {updated} out of "
                    f"{want - partition} new pods have been updated",
                    False,
                )
            return Rollout(
                f"partitioned roll out complete: {updated} new pods have been updated", True
            )
        if status.get("updateRevision") != status.get("currentRevision"):
            return Rollout(
                f"waiting for the rolling update to complete {status.get('updatedReplicas', 0)} "
                f"pods at revision {status.get('updateRevision')}",
                False,
            )
        return Rollout(
            f"statefulset rolling update complete {ready} pods at revision "
            f"{status.get('currentRevision')}",
            True,
        )
    if generation > observed:
        return Rollout("waiting for the daemon set spec update to be observed", False)
    desired = status.get("desiredNumberScheduled", 0)
    updated = status.get("updatedNumberScheduled", 0)
    available = status.get("numberAvailable", 0)
    if updated < desired:
        return Rollout(f"{updated} out of {desired} new pods have been updated", False)
    if available < desired:
        return Rollout(f"{available} of {updated} updated pods are available", False)
    return Rollout(f'daemon set "{name}" successfully rolled out', True)


# --- the update strategy in words ----------------------------------------------------------


@dataclass(frozen=True)
class Strategy:
    kind: str  # "RollingUpdate", "Recreate", "OnDelete"
    text: str  # as written in the spec
    surge: int  # resolved for the current replica count
    unavailable: int
    partition: int = 0


def _scaled(value: Any, total: int, round_up: bool, default: str) -> int:
    value = default if value is None else value
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def strategy_of(kind: str, obj: dict) -> Strategy:
    spec = obj.get("spec", {})
    replicas = spec.get("replicas", 1) if kind != "DaemonSet" else 1
    if kind == "Deployment":
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            return Strategy("Recreate", "Recreate", 0, replicas)
        rolling = strategy.get("rollingUpdate") or {}
        surge_v, unavail_v = rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")
        surge = _scaled(surge_v, replicas, True, "25%")
        unavailable = _scaled(unavail_v, replicas, False, "25%")
        if surge == 0 and unavailable == 0:
            unavailable = 1  # the controller's fencepost rule
        text = f"RollingUpdate, maxSurge {surge_v}, maxUnavailable {unavail_v}"
        return Strategy("RollingUpdate", text, surge, unavailable)
    strategy = spec.get("updateStrategy") or {}
    kind_of = strategy.get("type", "RollingUpdate")
    rolling = strategy.get("rollingUpdate") or {}
    if kind == "StatefulSet":
        partition = rolling.get("partition", 0) or 0
        text = kind_of + (f", partition {partition}" if partition else "")
        return Strategy(kind_of, text, 0, 1, partition)
    unavail_v = rolling.get("maxUnavailable", 1)
    surge_v = rolling.get("maxSurge", 0)
    text = f"{kind_of}, maxUnavailable {unavail_v}, maxSurge {surge_v}"
    return Strategy(kind_of, text, _scaled(surge_v, 1, True, "0"), 1)


def covering_pdbs(snapshot: Snapshot, namespace: str, labels: dict) -> list[Pdb]:
    return PdbIndex(snapshot.pdbs).matching(namespace, labels)


def describe_pdb(pdb: Pdb) -> str:
    if pdb.min_available is not None:
        return f"{pdb.name} (minAvailable {pdb.min_available})"
    return f"{pdb.name} (maxUnavailable {pdb.max_unavailable})"


def is_dns(ref: Ref, obj: dict) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return ref.name in ("coredns", "kube-dns") or labels.get("k8s-app") == "kube-dns"


# --- writes with preconditions ------------------------------------------------------------


def patch_with_preconditions(
    kube: Any,
    ref: Ref,
    expected: dict[str, str],
    send: Callable[[dict[str, Any], str, str], dict],
    check: Callable[[dict], None],
) -> dict:
    """Read the object, check it is the planned one (UID, and `check`), then `send(live,
    uid, resourceVersion)` with the live values as the write's preconditions. A 409 from a
    concurrent write re-reads and re-checks; a UID mismatch is PlanChanged."""
    for _ in range(CONFLICT_RETRIES):
        live = kube_get(kube, ref.path)
        require_same(str(ref), live, expected)
        assert live is not None
        check(live)
        meta = live["metadata"]
        try:
            return send(live, meta["uid"], meta["resourceVersion"])
        except SourceError as exc:
            if exc.status != 409:
                raise
            if "UID" in (exc.message or ""):
                raise PlanChanged(f"{ref} was replaced since the plan was made") from None
            continue  # someone else wrote in between: read again
    raise ActionFailed(
        f"{ref} kept changing under the write ({CONFLICT_RETRIES} conflicts in a row): "
        "something else is writing it; find out what, then plan again"
    )


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template_annotation(obj: dict) -> str:
    template = obj.get("spec", {}).get("template", {})
    return (template.get("metadata", {}).get("annotations") or {}).get(RESTARTED_AT, "")


# --- the action ------------------------------------------------------------------------------


def fetch_workload(ctx: Context, ref: Ref, plan: Plan) -> dict[str, Any] | None:
    """The live object a workload plan is made for; None (with the blocker said in the
    plan) when Kubernetes is not configured or the object does not exist."""
    if ctx.kube is None:
        plan.blockers.append("Kubernetes is not configured: add a [kubernetes] section")
        return None
    live = kube_get(ctx.kube, ref.path)
    if live is None:
        plan.blockers.append(
            f"{ref} not found: check the name with `kubectl get {PLURALS[ref.kind]} "
            f"-n {ref.namespace}`"
        )
    return live


@register
class Restart(Action):
    name = "restart"
    help = "rollout restart a Deployment/StatefulSet/DaemonSet (CoreDNS by default)"

    def __init__(
        self, ctx: Context, target: str = DEFAULT_TARGET, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__(ctx)
        self.target = target
        self.timeout = float(timeout)
        self.error = ""
        try:
            self.ref: Ref | None = parse_ref(target)
        except ValueError as exc:
            self.ref, self.error = None, str(exc)

    @classmethod
    def from_args(cls, ctx: Context, args: dict[str, Any]) -> Restart:
        return cls(
            ctx,
            str(args.get("target") or DEFAULT_TARGET),
            float(args.get("timeout") or DEFAULT_TIMEOUT),
        )

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "target",
            nargs="?",
            default=DEFAULT_TARGET,
            metavar="[NS/]KIND/NAME",
            help="what to restart; KIND is deployment, statefulset or daemonset "
            f"(default {DEFAULT_TARGET}; NS defaults to kube-system)",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            metavar="SECONDS",
            help=f"how long to follow the rollout (default {DEFAULT_TIMEOUT:g})",
        )

    @classmethod
    def args_from_cli(cls, ns: argparse.Namespace) -> dict[str, Any]:
        return {"target": ns.target, "timeout": ns.timeout}

    # --- plan ---------------------------------------------------------------------------

    def plan(self) -> Plan:
        args = {"target": self.target, "timeout": self.timeout}
        plan = Plan(self.name, self.target, args, endpoint=self.ctx.kube_endpoint)
        if self.ref is None:
            plan.blockers.append(self.error)
            return plan
        ref = self.ref
        plan.target = str(ref)
        args["target"] = str(ref)
        live = fetch_workload(self.ctx, ref, plan)
        if live is None:
            return plan
        snapshot, links = self.ctx.snapshot(), self.ctx.links()
        where = NodeNames(snapshot, links)
        meta, spec = live["metadata"], live.get("spec", {})
        strategy = strategy_of(ref.kind, live)
        pods = list_pods(self.ctx.kube, ref.namespace, live)
        template_labels = (spec.get("template", {}).get("metadata") or {}).get("labels") or {}
        pdbs = covering_pdbs(snapshot, ref.namespace, template_labels)
        replicas = (
            live.get("status", {}).get("desiredNumberScheduled", len(pods))
            if ref.kind == "DaemonSet"
            else spec.get("replicas", 1)
        )
        if strategy.kind == "OnDelete":
            plan.blockers.append(
                f"{ref} uses updateStrategy OnDelete: a restart changes its template but no "
                "pod until each is deleted by hand; delete them one at a time instead"
            )
        plan.summary.append(
            f"rollout restart {ref}: set the pod template annotation {RESTARTED_AT}, as "
            "`kubectl rollout restart` does, after a server-side dry run"
        )
        plan.summary.append(f"replicas: {replicas}; update strategy: {strategy.text}")
        plan.summary.append(self._how(ref, strategy, replicas))
        for pod in pods:
            plan.summary.append(f"pod now: {pod.name} on {where(pod.node)}, {pod.state}")
        if pdbs:
            plan.summary.append(
                "PDB: "
                + ", ".join(describe_pdb(p) for p in pdbs)
                + " (a rollout does not consult PDBs; only evictions such as drains do)"
            )
        else:
            plan.summary.append("PDB: none covers it")
        plan.summary.append(
            f"then follow the rollout like `kubectl rollout status {ref.kubectl}`, "
            f"for up to {self.timeout:g} s"
        )
        plan.warnings += self._warnings(ref, live, strategy, replicas, pods, snapshot)
        plan.preconditions[str(ref)] = {
            "uid": meta.get("uid", ""),
            "resourceVersion": str(meta.get("resourceVersion", "")),
            "generation": str(meta.get("generation", "")),
        }
        plan.detail = {
            "ref": str(ref),
            "kind": ref.kind,
            "replicas": replicas,
            "strategy": {
                "type": strategy.kind,
                "text": strategy.text,
                "surge": strategy.surge,
                "unavailable": strategy.unavailable,
                "partition": strategy.partition,
            },
            "pods": [
                {
                    "name": p.name,
                    "uid": p.uid,
                    "node": p.node,
                    "where": where(p.node),
                    "state": p.state,
                }
                for p in pods
            ],
            "pdbs": [p.name for p in pdbs],
            "restarted_at_before": template_annotation(live),
        }
        return plan

    def _how(self, ref: Ref, strategy: Strategy, replicas: int) -> str:
        if ref.kind == "StatefulSet":
            return (
                "the StatefulSet replaces its pods one at a time from the highest ordinal, "
                "each deleted before its replacement (same name) starts"
                + (f"; pods below ordinal {strategy.partition} stay" if strategy.partition else "")
            )
        if ref.kind == "DaemonSet":
            if strategy.surge:
                return "each node's pod is replaced by surging: the new pod starts first"
            return (
                "each node's pod is deleted and then replaced, one node at a time "
                "(maxUnavailable 1): that node is without it meanwhile"
            )
        if strategy.kind == "Recreate":
            return "Recreate: every pod stops before any new one starts"
        if strategy.unavailable == 0:
            return (
                f"maxUnavailable resolves to 0 and maxSurge to {strategy.surge} for {replicas} "
                f"replica(s): each new pod starts and must be Ready before an old one stops"
            )
        return (
            f"up to {strategy.unavailable} old pod(s) may stop before their replacements are "
            f"Ready, and up to {strategy.surge} extra pod(s) may start"
        )

    def _warnings(
        self,
        ref: Ref,
        live: dict,
        strategy: Strategy,
        replicas: int,
        pods: list[PodInfo],
        snapshot: Snapshot,
    ) -> list[str]:
        out = []
        dns = is_dns(ref, live)
        whole = ref.kind != "DaemonSet" and (
            strategy.kind == "Recreate" or strategy.unavailable >= replicas
        )
        if ref.kind == "StatefulSet" and replicas == 1:
            whole = True
        if whole and replicas >= 1:
            if dns:
                out.append(
                    "every pod loses DNS while the only CoreDNS pod restarts: the old one "
                    "stops before the new one is Ready (a short outage); scale it to 2 first "
                    "(cockpit scale-ha)"
                    if replicas == 1
                    else "every CoreDNS pod may be down at once during the restart: DNS fails "
                    "cluster-wide until a new one is Ready"
                )
            else:
                out.append(
                    f"{ref} is down while it restarts: its old pod(s) stop before new ones "
                    "are Ready"
                )
        elif replicas == 1 and ref.kind == "Deployment":
            out.append(
                "one replica: there is no redundancy, and if the new pod cannot start the "
                "rollout stalls with the old one still serving"
            )
        elif ref.kind == "StatefulSet":
            out.append("each StatefulSet pod is down while it is replaced (one at a time)")
        unready = [p for p in pods if not p.ready and not p.terminating]
        if unready:
            out.append(
                f"{len(unready)} of {len(pods)} pod(s) are not Ready now "
                f"({', '.join(p.name for p in unready[:3])}): the rollout counts them as "
                "unavailable and may stall"
            )
        fit = self._surge_fits(ref, strategy, snapshot)
        if fit:
            out.append(fit)
        return out

    def _surge_fits(self, ref: Ref, strategy: Strategy, snapshot: Snapshot) -> str:
        """Ask the scheduler model whether the first new pod has somewhere to go while the
        old ones still hold their room (a surge, or a DaemonSet/StatefulSet pod in place)."""
        if ref.kind != "Deployment" or strategy.surge == 0:
            return ""
        key = (ref.kind, ref.namespace, ref.name)
        pods = [p for p in snapshot.pods_by_workload.get(key, ()) if p.node is not None]
        if not pods:
            return ""
        scheduler = Scheduler(snapshot.nodes, [p for p in snapshot.pods if p.node is not None])
        clone = replace(pods[0], name=f"{ref.name}-surge", uid="", node=None, phase="Pending")
        clone = replace(clone, created=max(p.created for p in snapshot.pods) + 1)
        result = scheduler.run([clone])
        if clone.key in result.pending:
            return (
                f"the new pod would not fit anywhere ({result.pending[clone.key]}): the "
                "rollout would stall with the old pod(s) still running"
            )
        return ""

    # --- execute ------------------------------------------------------------------------

    def execute(self, run: Run) -> str:
        assert self.ref is not None, "a plan with blockers is never executed"
        ref, kube = self.ref, self.ctx.kube
        expected = run.plan.preconditions.get(str(ref), {})
        detail = run.plan.detail
        key = f"restart:{ref}:{expected.get('uid', '')}"
        old = {p["uid"]: planned_pod(p) for p in detail.get("pods", [])}
        before = detail.get("restarted_at_before", "")
        stamp = now_stamp()

        def restart(dry_run: bool = False) -> Callable[[dict[str, Any], str, str], dict]:
            def send(live: dict[str, Any], uid: str, resource_version: str) -> dict:
                return kube.rollout_restart(
                    ref.kind, ref.namespace, ref.name, dry_run, uid, resource_version, stamp
                )

            return send

        def same_spec(live: dict) -> None:
            planned = expected.get("generation", "")
            now = str(live["metadata"].get("generation", ""))
            if planned and now != planned:
                raise PlanChanged(
                    f"{ref}'s spec changed since the plan was made (generation {planned} -> {now})"
                )

        if key not in run.done:
            live = kube_get(kube, ref.path)
            require_same(str(ref), live, expected)
            assert live is not None
            old.update((p.uid, p) for p in list_pods(kube, ref.namespace, live))
            landed = key in run.in_flight and template_annotation(live) not in ("", before)
            if not landed:
                same_spec(live)
                patch_with_preconditions(kube, ref, expected, restart(dry_run=True), same_spec)
                run.note(f"server-side dry run of the restart patch for {ref} accepted")

        def send() -> dict[str, Any]:
            live = kube_get(kube, ref.path)
            require_same(str(ref), live, expected)
            assert live is not None
            if key in run.in_flight and template_annotation(live) not in ("", before):
                # The last run died after sending: the patch is there, do not send it again.
                return {"restartedAt": template_annotation(live), "resent": False}
            done = patch_with_preconditions(kube, ref, expected, restart(), same_spec)
            return {
                "restartedAt": template_annotation(done),
                "generation": done["metadata"].get("generation"),
            }

        run.step(key, f"patch {ref}: {RESTARTED_AT}={stamp}", send)
        where = NodeNames(self.ctx.snapshot(), self.ctx.links())
        return follow_rollout(
            run, kube, ref, list(old.values()), self.timeout, self.ctx.poll_every, where
        )

    def cancelled(self, run: Run) -> str:
        if any(k.startswith("restart:") for k in run.done) and self.ref is not None:
            return (
                f"stopped following; the rollout of {self.ref} continues server-side "
                f"(`kubectl rollout status {self.ref.kubectl}` follows it)"
            )
        return "cancelled before the restart was sent; nothing changed"


def follow_rollout(
    run: Run,
    kube: Any,
    ref: Ref,
    old: list[PodInfo],
    timeout: float,
    poll: float,
    where: Callable[[str], str],
) -> str:
    """Poll like `kubectl rollout status` until success, a failed condition, or the timeout;
    say which old pods go and which new pods come. Succeeds once the status is complete and
    the old pods are gone (one still Terminating past the deadline is reported, not failed)."""
    deadline = time.monotonic() + timeout
    tracker = PodTracker(old, run.progress, where)
    last = ""
    while True:
        obj = kube_get(kube, ref.path)
        if obj is None:
            raise ActionFailed(f"{ref} was deleted while its rollout was followed")
        partitioned = strategy_of(ref.kind, obj).partition
        pods = list_pods(kube, ref.namespace, obj)
        tracker.update(pods)
        status = rollout_status(ref.kind, obj)
        if status.failed:
            raise ActionFailed(
                f"the rollout of {ref} failed: {status.failed}. {waiting_reasons(tracker.new())}"
                f" Look at `kubectl describe {ref.kubectl}`; `kubectl rollout undo "
                f"{ref.kubectl}` goes back"
            )
        if status.message != last:
            run.note(f"rollout: {status.message}")
            last = status.message
        lingering = [] if partitioned else tracker.old_left()
        expired = time.monotonic() >= deadline
        if status.done and (not lingering or expired):
            new = ", ".join(f"{p.name} on {p.node}" for p in tracker.new()) or "none"
            text = f"{ref} restarted: {status.message}; new pods: {new}"
            if lingering:
                text += "; still Terminating: " + ", ".join(
                    f"{p.name} on {p.node}" for p in lingering
                )
            elif old:
                text += "; every old pod is gone"
            return text
        if expired:
            stuck = waiting_reasons(tracker.new())
            raise ActionFailed(
                f"the rollout of {ref} did not finish within {timeout:g} s: {status.message}"
                + (f"; {stuck}" if stuck else "")
                + f". It goes on server-side: fix what holds it, follow it with `kubectl "
                f"rollout status {ref.kubectl}`, or go back with `kubectl rollout undo "
                f"{ref.kubectl}`"
            )
        run.wait(poll)
