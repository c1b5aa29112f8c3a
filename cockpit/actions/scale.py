"""Scale one workload, or every Deployment of a namespace for HA, through the scale
subresource, and follow until the pods are ready.

`scale [NS/]KIND/NAME REPLICAS` works on any Deployment or StatefulSet. `scale-ha` takes the
proposal of cockpit.alloc.ha for a namespace (kube-system by default) and says what scaling
alone does not give. Each write is preceded by a server-side dry run and carries the
resourceVersion just read (a concurrent write is a 409, re-read and re-checked); the
object's UID and its replica count are checked against the plan first, so a recreated
object, or one someone scaled meanwhile, stops the action for a new plan.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from cockpit.actions.restart import (
    DEFAULT_TIMEOUT,
    NodeNames,
    PodInfo,
    PodTracker,
    Ref,
    covering_pdbs,
    describe_pdb,
    fetch_workload,
    list_pods,
    parse_ref,
    patch_with_preconditions,
    planned_pod,
    waiting_reasons,
)
from cockpit.alloc.ha import (
    HaReport,
    Layout,
    Placement,
    analyse,
    place_more,
    placement_findings,
    schedulable,
)
from cockpit.alloc.scheduler import Scheduler
from cockpit.model import Snapshot
from cockpit.sources.health import SourceError
from cockpit.topology import Links


def send_scale(
    kube: Any, ref: Ref, expected: dict[str, str], current: int, replicas: int, dry_run: bool
) -> dict:
    """PATCH the scale subresource, after checking the object is the planned one and still
    wants the replica count the plan saw."""

    def unchanged(live: dict) -> None:
        now = live.get("spec", {}).get("replicas", 1)
        if now != current:
            raise PlanChanged(f"{ref} now wants {now} replicas; the plan was made for {current}")

    def send(live: dict[str, Any], uid: str, resource_version: str) -> dict:
        # The scale subresource checks a resourceVersion; the UID was checked on the read.
        return kube.scale(ref.kind, ref.namespace, ref.name, replicas, dry_run, resource_version)

    return patch_with_preconditions(kube, ref, expected, send, unchanged)


@dataclass(frozen=True)
class Readiness:
    message: str
    done: bool


def scale_status(kind: str, obj: dict, want: int) -> Readiness:
    """Ready when the controller saw the new count, runs exactly that many pods and all are
    ready (and available, for a Deployment)."""
    meta, status = obj.get("metadata", {}), obj.get("status", {})
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        return Readiness("waiting for the new replica count to be observed", False)
    replicas = status.get("replicas", 0)
    ready = status.get("readyReplicas", 0)
    available = status.get("availableReplicas", ready) if kind == "Deployment" else ready
    if replicas > want:
        return Readiness(f"{replicas - want} extra pod(s) still stopping", False)
    if ready < want or available < want:
        return Readiness(f"{ready} of {want} ready", False)
    return Readiness(f"{ready} of {want} ready", True)


def hpas_for(kube: Any, namespace: str) -> dict[tuple[str, str], dict]:
    """HorizontalPodAutoscalers by (kind, name) of what they scale; {} when the API has none
    or the user may not read them."""
    try:
        doc = kube.request(
            "GET", f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers"
        )
    except SourceError:
        return {}
    out = {}
    for hpa in doc.get("items") or []:
        target = hpa.get("spec", {}).get("scaleTargetRef") or {}
        out[(target.get("kind", ""), target.get("name", ""))] = hpa
    return out


def hpa_warning(ref: Ref, hpa: dict) -> str:
    spec = hpa.get("spec", {})
    return (
        f"HPA {hpa['metadata']['name']} scales {ref} between {spec.get('minReplicas', 1)} and "
        f"{spec.get('maxReplicas', '?')}: it will move the count back into that range; change "
        "the HPA instead"
    )


def follow_ready(
    run: Run,
    kube: Any,
    targets: list[tuple[Ref, int, list[PodInfo]]],
    timeout: float,
    poll: float,
    where: Callable[[str], str],
) -> dict[str, str]:
    """Poll until every (ref, replicas, pods before the change) is ready; report pods coming and
    going. Returns each ref's final status; raises ActionFailed at the timeout."""
    deadline = time.monotonic() + timeout
    trackers = {str(ref): PodTracker(old, run.progress, where) for ref, _, old in targets}
    last: dict[str, str] = {}
    while True:
        pending: list[str] = []
        for ref, want, _ in targets:
            obj = kube_get(kube, ref.path)
            if obj is None:
                raise ActionFailed(f"{ref} was deleted while it was being scaled")
            tracker = trackers[str(ref)]
            tracker.update(list_pods(kube, ref.namespace, obj))
            status = scale_status(ref.kind, obj, want)
            if status.message != last.get(str(ref)):
                run.note(f"{ref}: {status.message}")
                last[str(ref)] = status.message
            if not status.done:
                stuck = waiting_reasons(tracker.seen.values())
                pending.append(f"{ref} {status.message}" + (f" ({stuck})" if stuck else ""))
        if not pending:
            return last
        if time.monotonic() >= deadline:
            raise ActionFailed(
                f"not ready within {timeout:g} s: {'; '.join(pending)}. The new count stays "
                "set; see `kubectl describe` of the pods that wait, or scale back"
            )
        run.wait(poll)


# --- scale one workload ----------------------------------------------------------------------


@register
class Scale(Action):
    name = "scale"
    help = "scale a Deployment or StatefulSet through the scale subresource"

    def __init__(
        self, ctx: Context, target: str, replicas: int, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__(ctx)
        self.target = target
        self.replicas = int(replicas)
        self.timeout = float(timeout)
        self.error = ""
        try:
            self.ref: Ref | None = parse_ref(target)
        except ValueError as exc:
            self.ref, self.error = None, str(exc)

    @classmethod
    def from_args(cls, ctx: Context, args: dict[str, Any]) -> Scale:
        return cls(
            ctx,
            str(args.get("target", "")),
            int(args.get("replicas", 0)),
            float(args.get("timeout") or DEFAULT_TIMEOUT),
        )

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "target",
            metavar="[NS/]KIND/NAME",
            help="a deployment or statefulset (NS defaults to kube-system)",
        )
        parser.add_argument("replicas", type=int, metavar="REPLICAS", help="the new count")
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            metavar="SECONDS",
            help=f"how long to wait for the pods to be ready (default {DEFAULT_TIMEOUT:g})",
        )

    @classmethod
    def args_from_cli(cls, ns: argparse.Namespace) -> dict[str, Any]:
        return {"target": ns.target, "replicas": ns.replicas, "timeout": ns.timeout}

    def plan(self) -> Plan:
        args = {"target": self.target, "replicas": self.replicas, "timeout": self.timeout}
        plan = Plan(self.name, self.target, args, endpoint=self.ctx.kube_endpoint)
        if self.ref is None:
            plan.blockers.append(self.error)
            return plan
        ref = self.ref
        plan.target = args["target"] = str(ref)
        if ref.kind == "DaemonSet":
            plan.blockers.append(
                f"{ref} is a DaemonSet: it runs one pod per eligible node and has no replica "
                "count; change its nodeSelector or tolerations instead"
            )
            return plan
        if self.replicas < 0:
            plan.blockers.append("REPLICAS must be 0 or more")
            return plan
        live = fetch_workload(self.ctx, ref, plan)
        if live is None:
            return plan
        snapshot, links = self.ctx.snapshot(), self.ctx.links()
        where = NodeNames(snapshot, links)
        meta = live["metadata"]
        current = live.get("spec", {}).get("replicas", 1)
        want = self.replicas
        pods = [p for p in list_pods(self.ctx.kube, ref.namespace, live) if not p.terminating]
        plan.preconditions[str(ref)] = {
            "uid": meta.get("uid", ""),
            "resourceVersion": str(meta.get("resourceVersion", "")),
            "replicas": str(current),
        }
        plan.summary.append(
            f"scale {ref}: {current} -> {want} replicas through the scale subresource, after "
            "a server-side dry run"
        )
        key = (ref.kind, ref.namespace, ref.name)
        template = next(
            (p for p in snapshot.pods_by_workload.get(key, ()) if p.node is not None), None
        )
        placement = [Placement(p.name, p.node) for p in pods]
        if want == current:
            plan.summary.append(f"{ref} already wants {want}: nothing to change")
        elif want > current and template is not None:
            scheduler = Scheduler(snapshot.nodes, [p for p in snapshot.pods if p.node is not None])
            extra = place_more(scheduler, template, want - current)
            for i, node in enumerate(extra.nodes):
                if node is not None:
                    plan.summary.append(f"new pod {i + 1} would likely land on {where(node)}")
                    placement.append(Placement(f"new pod {i + 1}", node, new=True))
            if extra.pending:
                plan.warnings.append(
                    f"{len(extra.pending)} new pod(s) would stay Pending: {extra.pending[0]}"
                )
            for pre in extra.preempted:
                plan.warnings.append(
                    f"a new pod would preempt {pre.victim.namespace}/{pre.victim.name} on "
                    f"{pre.node} (lower priority)"
                )
            eligible = [
                n.name
                for n in snapshot.nodes
                if schedulable(n)
                and scheduler.static_reason(template, scheduler.states[n.name]) is None
            ]
            if len(placement) >= 2:
                plan.warnings += [
                    f.text
                    for f in placement_findings(
                        ref.name, placement, eligible, Layout(snapshot, links)
                    )
                    if f.kind in ("same-box", "same-node", "one-site")
                ]
        elif want > current:
            plan.summary.append("no running pod of it is known: where new pods land is unknown")
        else:
            going = self._going(ref, pods, current - want)
            for p in going:
                plan.summary.append(f"pod {p.name} on {where(p.node)} would stop")
        if want == 0 and current > 0:
            plan.warnings.append(
                f"scaling to 0 stops every pod of {ref}: whatever it serves is down until it is "
                "scaled up again"
            )
            plan.confirm_word = ref.name
            plan.danger = f"every pod of {ref} stops"
        labels = (live.get("spec", {}).get("template", {}).get("metadata") or {}).get("labels")
        for pdb in covering_pdbs(snapshot, ref.namespace, labels or {}):
            if 0 < want <= pdb.desired_healthy(want):
                plan.warnings.append(
                    f"PDB {describe_pdb(pdb)} allows no disruption at {want} replica(s): a "
                    f"drain of a node holding a pod of {ref.name} would wait forever"
                )
        hpa = hpas_for(self.ctx.kube, ref.namespace).get((ref.kind, ref.name))
        if hpa is not None:
            plan.warnings.append(hpa_warning(ref, hpa))
        if want == 1 and current > 1:
            plan.warnings.append(f"one replica left: a restart of its node is an outage of {ref}")
        plan.summary.append(
            f"then wait until {want} pod(s) are ready, for up to {self.timeout:g} s"
        )
        plan.detail = {
            "ref": str(ref),
            "current": current,
            "replicas": want,
            "pods": [{"name": p.name, "uid": p.uid, "node": p.node} for p in pods],
            "placement": [{"pod": p.pod, "node": p.node, "new": p.new} for p in placement],
        }
        return plan

    @staticmethod
    def _going(ref: Ref, pods: list, count: int) -> list:
        """Which pods the controller removes first: a StatefulSet its highest ordinals; a
        ReplicaSet unscheduled, then not ready, then the youngest pods."""
        if ref.kind == "StatefulSet":

            def ordinal(p: Any) -> int:
                tail = p.name.rsplit("-", 1)[-1]
                return int(tail) if tail.isdigit() else -1

            return sorted(pods, key=ordinal, reverse=True)[:count]
        youngest_first = sorted(pods, key=lambda p: p.created, reverse=True)
        ranked = sorted(youngest_first, key=lambda p: (bool(p.node), p.ready))  # stable
        return ranked[:count]

    def execute(self, run: Run) -> str:
        assert self.ref is not None, "a plan with blockers is never executed"
        ref, kube = self.ref, self.ctx.kube
        expected = run.plan.preconditions.get(str(ref), {})
        current = int(expected.get("replicas", "0"))
        want = self.replicas
        key = f"scale:{ref}:{expected.get('uid', '')}:{want}"
        old = [planned_pod(p) for p in run.plan.detail.get("pods", [])]
        if key not in run.done:
            live = kube_get(kube, ref.path)
            require_same(str(ref), live, expected)
            assert live is not None
            old = [p for p in list_pods(kube, ref.namespace, live) if not p.terminating]
            now = live.get("spec", {}).get("replicas", 1)
            landed = key in run.in_flight and now == want
            if not landed and want != current:
                send_scale(kube, ref, expected, current, want, dry_run=True)
                run.note(f"server-side dry run of scaling {ref} to {want} accepted")

        def send() -> dict[str, Any]:
            live = kube_get(kube, ref.path)
            require_same(str(ref), live, expected)
            assert live is not None
            if live.get("spec", {}).get("replicas", 1) == want:
                return {"replicas": want, "sent": False}  # there already (or a resumed run)
            done = send_scale(kube, ref, expected, current, want, dry_run=False)
            return {"replicas": done.get("spec", {}).get("replicas")}

        run.step(key, f"scale {ref} from {current} to {want}", send)
        where = NodeNames(self.ctx.snapshot(), self.ctx.links())
        final = follow_ready(
            run, kube, [(ref, want, old)], self.timeout, self.ctx.poll_every, where
        )
        return f"{ref} scaled {current} -> {want}: {final[str(ref)]}"

    def cancelled(self, run: Run) -> str:
        if any(k.startswith("scale:") for k in run.done):
            return "stopped waiting; the new replica count is set and the controller goes on"
        return "cancelled before the scale was sent; nothing changed"


# --- scale a namespace for HA ----------------------------------------------------------------


@register
class ScaleHA(Action):
    name = "scale-ha"
    help = "scale every Deployment of a namespace (kube-system) out for HA"

    def __init__(
        self, ctx: Context, namespace: str = "kube-system", timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__(ctx)
        self.namespace = namespace
        self.timeout = float(timeout)

    @classmethod
    def from_args(cls, ctx: Context, args: dict[str, Any]) -> ScaleHA:
        return cls(
            ctx,
            str(args.get("namespace") or "kube-system"),
            float(args.get("timeout") or DEFAULT_TIMEOUT),
        )

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "-n",
            "--namespace",
            default="kube-system",
            help="whose Deployments to scale (default kube-system)",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            metavar="SECONDS",
            help=f"how long to wait for the pods to be ready (default {DEFAULT_TIMEOUT:g})",
        )

    @classmethod
    def args_from_cli(cls, ns: argparse.Namespace) -> dict[str, Any]:
        return {"namespace": ns.namespace, "timeout": ns.timeout}

    def analysis(self, snapshot: Snapshot, links: Links) -> tuple[HaReport, dict[str, dict]]:
        """The HA report over the snapshot, and the live Deployments by name."""
        kube = self.ctx.kube
        doc = kube.request("GET", f"/apis/apps/v1/namespaces/{self.namespace}/deployments")
        live = {d["metadata"]["name"]: d for d in doc.get("items") or []}
        strategies = {
            name: (d.get("spec", {}).get("strategy") or {}).get("type", "RollingUpdate")
            for name, d in live.items()
        }
        try:
            version = str(kube.request("GET", "/version").get("gitVersion", ""))
        except SourceError:
            version = ""
        report = analyse(
            snapshot,
            links,
            self.namespace,
            strategies=strategies,
            server_version=version,
        )
        return report, live

    def plan(self) -> Plan:
        ns = self.namespace
        args = {"namespace": ns, "timeout": self.timeout}
        plan = Plan(self.name, f"namespace/{ns}", args, endpoint=self.ctx.kube_endpoint)
        if self.ctx.kube is None:
            plan.blockers.append("Kubernetes is not configured: add a [kubernetes] section")
            return plan
        snapshot, links = self.ctx.snapshot(), self.ctx.links()
        report, live = self.analysis(snapshot, links)
        where = NodeNames(snapshot, links)
        hpas = hpas_for(self.ctx.kube, ns)
        plan.summary.append(
            f"scale the Deployments of {ns} for HA (distro: {report.distro}, from "
            f"{report.distro_evidence}); rule: {report.rule}"
        )
        for d in report.deployments:
            obj = live.get(d.name)
            if obj is None:
                plan.warnings.append(f"{d.name} is no longer in the cluster; it is left out")
                continue
            current = obj.get("spec", {}).get("replicas", 1)
            if d.changes and current == d.current:
                landing = ", ".join(where(n) for n in d.new_nodes) or "unknown"
                plan.summary.append(
                    f"{d.name}: {d.current} -> {d.proposed}; new replica(s) on {landing}"
                )
                plan.preconditions[f"{ns}/deployment/{d.name}"] = {
                    "uid": obj["metadata"].get("uid", ""),
                    "resourceVersion": str(obj["metadata"].get("resourceVersion", "")),
                    "replicas": str(d.current),
                    "proposed": str(d.proposed),
                }
            elif d.changes:
                plan.warnings.append(
                    f"{d.name} wants {current} replicas now, not the {d.current} the picture "
                    "shows: left out; plan again in a moment"
                )
            else:
                plan.summary.append(f"{d.name}: stays at {d.current}")
            plan.warnings += [f.text for f in d.findings]
            hpa = hpas.get(("Deployment", d.name))
            if hpa is not None and d.changes:
                plan.warnings.append(hpa_warning(Ref(ns, "Deployment", d.name), hpa))
        plan.warnings += [f.text for f in report.notes]
        if plan.preconditions:
            plan.summary.append(
                f"then wait until every scaled Deployment is ready, for up to {self.timeout:g} s"
            )
        else:
            plan.summary.append("nothing to scale: every Deployment is at its proposed count")
        plan.detail = {
            "namespace": ns,
            "distro": report.distro,
            "distro_evidence": report.distro_evidence,
            "rule": report.rule,
            "deployments": [
                {
                    "name": d.name,
                    "current": d.current,
                    "proposed": d.proposed,
                    "placement": [
                        {"pod": p.pod, "node": p.node, "new": p.new} for p in d.placement
                    ],
                    "findings": [{"kind": f.kind, "text": f.text} for f in d.findings],
                    "pods": [
                        {"name": p.name, "uid": p.uid, "node": p.node or ""}
                        for p in snapshot.pods_by_workload.get(d.workload.key, ())
                    ],
                }
                for d in report.deployments
            ],
            "notes": [{"kind": f.kind, "text": f.text} for f in report.notes],
        }
        return plan

    def execute(self, run: Run) -> str:
        kube = self.ctx.kube
        todo: list[tuple[Ref, dict[str, str], str]] = []
        for name, expected in sorted(run.plan.preconditions.items()):
            ref = parse_ref(name)
            todo.append((ref, expected, f"scale:{ref}:{expected['uid']}:{expected['proposed']}"))
        if not todo:
            return (
                f"nothing to scale in {self.namespace}: every Deployment is at its proposed count"
            )
        olds = {
            d["name"]: [planned_pod(p) for p in d.get("pods", [])]
            for d in run.plan.detail.get("deployments", [])
        }
        # Dry-run all first: nothing changes unless every write would be accepted.
        for ref, expected, key in todo:
            if key in run.done:
                continue
            live = kube_get(kube, ref.path)
            require_same(str(ref), live, expected)
            assert live is not None
            olds[ref.name] = [p for p in list_pods(kube, ref.namespace, live) if not p.terminating]
            want, current = int(expected["proposed"]), int(expected["replicas"])
            if key in run.in_flight and live.get("spec", {}).get("replicas") == want:
                continue
            send_scale(kube, ref, expected, current, want, dry_run=True)
        run.note(f"server-side dry runs of {len(todo)} scale(s) accepted")
        targets = []
        for ref, expected, key in todo:
            want, current = int(expected["proposed"]), int(expected["replicas"])

            def send(
                ref: Ref = ref, expected: dict = expected, want: int = want, current: int = current
            ) -> dict[str, Any]:
                live = kube_get(kube, ref.path)
                require_same(str(ref), live, expected)
                assert live is not None
                if live.get("spec", {}).get("replicas") == want:
                    return {"replicas": want, "sent": False}  # a resumed run: already there
                done = send_scale(kube, ref, expected, current, want, dry_run=False)
                return {"replicas": done.get("spec", {}).get("replicas")}

            run.step(key, f"scale {ref} from {current} to {want}", send)
            targets.append((ref, want, olds.get(ref.name, [])))
        where = NodeNames(self.ctx.snapshot(), self.ctx.links())
        follow_ready(run, kube, targets, self.timeout, self.ctx.poll_every, where)
        return self._summary(run.plan, targets)

    def _summary(self, plan: Plan, targets: list[tuple[Ref, int, list[PodInfo]]]) -> str:
        scaled = ", ".join(
            f"{ref.name} {plan.preconditions[str(ref)]['replicas']}->{want}"
            for ref, want, _ in targets
        )
        kept = [
            f"{d['name']} {d['current']}"
            for d in plan.detail.get("deployments", [])
            if d["proposed"] == d["current"]
        ]
        gaps: dict[str, list[str]] = {}
        for d in plan.detail.get("deployments", []):
            for f in d["findings"]:
                gaps.setdefault(f["kind"], []).append(d["name"])
        todo = []
        if "no-pdb" in gaps:
            todo.append(f"a PDB for {', '.join(gaps['no-pdb'])}")
        if "no-spread" in gaps:
            todo.append(f"a topology spread for {', '.join(gaps['no-spread'])}")
        if "same-box" in gaps:
            todo.append(f"replicas on other boxes for {', '.join(gaps['same-box'])}")
        text = f"{self.namespace} scaled for HA: {scaled}, all ready"
        if kept:
            text += f"; kept: {', '.join(kept)}"
        if todo:
            text += f". Scaling alone does not give: {'; '.join(todo)} (see the plan)"
        return text

    def cancelled(self, run: Run) -> str:
        done = [k.split(":")[1] for k in run.done if k.startswith("scale:")]
        if done:
            return (
                f"stopped; already scaled: {', '.join(done)} (the controllers go on); the "
                "rest was not sent"
            )
        return "cancelled before any scale was sent; nothing changed"
