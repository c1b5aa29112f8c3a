"""Drain, cordon and uncordon a Kubernetes node, with kubectl's semantics.

The drain plan comes from the engine's drain what-if: which pods move and where they will
likely land, what goes Pending and why, which PodDisruptionBudgets make the drain wait,
and which pods block it the way they block `kubectl drain` (no controller: --force, and
the pod is gone for good; emptyDir volumes: --delete-emptydir-data, and the data is gone;
DaemonSet pods: skipped, or refused with --no-ignore-daemonsets; mirror pods: skipped).

Execution: cordon (skipped if the node already is), then evict every pod but DaemonSet
and mirror pods through the Eviction API, then wait for each one to be gone (404, or a
new pod with another UID under the same name), then verify from a fresh list that the
node is unschedulable and holds only DaemonSet and mirror pods.

Evictions are sent one at a time, in passes: a pass asks once for every pod not yet
evicted; the ones a PDB refuses (429) are noted with their budget and asked again after
`Context.retry_every` seconds (kubectl's 5 s). kubectl runs one goroutine per pod; passes
give the same progress (a pod held by its budget never holds up the others) while every
request stays one journaled step, begun on disk before it is sent.

Before each eviction is (re)sent the pod is read back: gone, replaced (another UID) or
already terminating means the step is done without sending anything. That is what makes
a resume after a crash safe: the cordon is skipped because the node is unschedulable,
and a pod whose eviction went out just before the crash is not evicted twice. The
eviction itself carries the pod's UID as a precondition, so a StatefulSet pod recreated
under the same name in between is never the one evicted.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
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
from cockpit.alloc.whatif import RECREATING_OWNERS, Scenario, WhatIfReport, what_if
from cockpit.model import Pod, Snapshot
from cockpit.sources.health import SourceError
from cockpit.sources.kube_parse import parse_pod

WAIT_REMINDER = 30.0  # seconds between "still waiting" lines while pods take their time

# --- shared pieces -------------------------------------------------------------------------


def node_path(node: str) -> str:
    return f"/api/v1/nodes/{node}"


def pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def _need_kube(ctx: Context, plan: Plan) -> bool:
    if ctx.kube is None:
        plan.blockers.append(
            "Kubernetes is not configured: set [kubernetes] kubeconfig in the config "
            "or export KUBECONFIG"
        )
        return False
    return True


def _live_node(ctx: Context, plan: Plan, node: str) -> dict[str, Any] | None:
    """The node as the API has it now, recorded as the plan's precondition."""
    live = kube_get(ctx.kube, node_path(node))
    if live is None:
        known = ", ".join(sorted(n.name for n in ctx.snapshot().nodes)) or "none"
        plan.blockers.append(f"node {node} does not exist (nodes: {known})")
        return None
    meta = live.get("metadata", {})
    plan.preconditions[f"node/{node}"] = {
        "uid": str(meta.get("uid", "")),
        "resourceVersion": str(meta.get("resourceVersion", "")),
    }
    if not _ready(live):
        plan.warnings.append(
            f"node {node} is not Ready: its kubelet cannot stop pods, so evicted pods stay "
            "Terminating until it comes back"
        )
    return live


def _ready(node: dict[str, Any]) -> bool:
    for cond in node.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return True


def _unschedulable(node: dict[str, Any]) -> bool:
    return bool(node.get("spec", {}).get("unschedulable"))


def _check_node(ctx: Context, plan: Plan, node: str) -> dict[str, Any]:
    """The live node, or PlanChanged if it is not the one the plan was made for."""
    ref = f"node/{node}"
    live = kube_get(ctx.kube, node_path(node))
    require_same(ref, live, plan.preconditions.get(ref, {}))
    assert live is not None  # require_same raised otherwise
    return live


def _set_unschedulable(ctx: Context, node: str, uid: str, value: bool) -> None:
    """kubectl's cordon/uncordon patch, with the node's UID as a precondition so a node
    deleted and re-registered under the same name is never the one changed."""
    try:
        ctx.kube.cordon(node, value, uid=uid)
    except SourceError as exc:
        if exc.status in (404, 409):
            raise PlanChanged(f"node/{node} was replaced since the plan was made") from None
        raise


def _cordon_step(ctx: Context, node: str, uid: str, value: bool) -> dict[str, Any]:
    """One cordon or uncordon, sent only if the node is not already in that state."""
    live = kube_get(ctx.kube, node_path(node))
    require_same(f"node/{node}", live, {"uid": uid})
    assert live is not None
    if _unschedulable(live) == value:
        return {"sent": False, "why": "already " + ("cordoned" if value else "schedulable")}
    _set_unschedulable(ctx, node, uid, value)
    return {"sent": True}


def _pods_on(ctx: Context, node: str) -> list[dict[str, Any]]:
    """Every pod bound to the node, fresh from the API (what kubectl drain lists)."""
    doc = ctx.kube.request("GET", "/api/v1/pods", {"fieldSelector": f"spec.nodeName={node}"})
    return list(doc.get("items") or [])


def _ref(pod: Pod) -> str:
    return f"{pod.namespace}/{pod.name}"


def _node_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("node", metavar="NODE", help="the Kubernetes node")


def _duration(text: str) -> float:
    """Seconds, as kubectl writes them: 90, 90s, 5m, 1h."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    scale = units.get(text[-1:], 1.0)
    number = text[:-1] if text[-1:] in units else text
    try:
        value = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 90, 90s, 5m or 1h, got {text!r}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the timeout must be positive, got {text!r}")
    return value


# --- drain -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One pod the drain evicts, as the plan (and the journal's copy of it) records it."""

    namespace: str
    name: str
    uid: str
    expected: str | None  # the node the what-if puts its replacement on
    pdb: str | None  # "ns/name" of the budget that selects it

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def key(self) -> str:
        return f"evict pod/{self.ref} uid={self.uid}"

    @classmethod
    def of(cls, data: dict[str, Any]) -> _Entry:
        return cls(
            data["namespace"], data["name"], data["uid"], data.get("expected_node"), data.get("pdb")
        )


@register
class Drain(Action):
    name = "drain"
    help = "cordon a node and evict its pods as kubectl drain does (PDBs respected)"

    def __init__(
        self,
        ctx: Context,
        node: str,
        force: bool = False,
        delete_emptydir_data: bool = False,
        timeout: float | None = None,
        ignore_daemonsets: bool = True,
    ) -> None:
        super().__init__(ctx)
        self.node = node
        self.force = force
        self.delete_emptydir_data = delete_emptydir_data
        self.timeout = timeout
        self.ignore_daemonsets = ignore_daemonsets

    @classmethod
    def from_args(cls, ctx: Context, args: dict[str, Any]) -> Drain:
        return cls(
            ctx,
            str(args["node"]),
            bool(args.get("force", False)),
            bool(args.get("delete_emptydir_data", False)),
            args.get("timeout"),
            bool(args.get("ignore_daemonsets", True)),
        )

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        _node_arg(parser)
        parser.add_argument(
            "--force",
            action="store_true",
            help="also evict pods no controller manages (they are deleted for good)",
        )
        parser.add_argument(
            "--delete-emptydir-data",
            action="store_true",
            help="also evict pods with emptyDir volumes (their data is deleted)",
        )
        parser.add_argument(
            "--timeout",
            type=_duration,
            metavar="DURATION",
            help="give up after this long (90, 90s, 5m; default: wait for ever)",
        )
        parser.add_argument(
            "--ignore-daemonsets",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="skip DaemonSet pods (default); --no-ignore-daemonsets refuses to drain "
            "a node that has some, as plain kubectl does",
        )

    @classmethod
    def args_from_cli(cls, ns: argparse.Namespace) -> dict[str, Any]:
        return {
            "node": ns.node,
            "force": ns.force,
            "delete_emptydir_data": ns.delete_emptydir_data,
            "timeout": ns.timeout,
            "ignore_daemonsets": ns.ignore_daemonsets,
        }

    def _args(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "force": self.force,
            "delete_emptydir_data": self.delete_emptydir_data,
            "timeout": self.timeout,
            "ignore_daemonsets": self.ignore_daemonsets,
        }

    # --- the plan ------------------------------------------------------------------------

    def plan(self) -> Plan:
        ctx, node = self.ctx, self.node
        plan = Plan("drain", f"node/{node}", self._args(), endpoint=ctx.kube_endpoint)
        if not _need_kube(ctx, plan):
            return plan
        live = _live_node(ctx, plan, node)
        if live is None:
            return plan
        snapshot = ctx.snapshot()
        if node not in snapshot.node_by_name:
            plan.blockers.append(
                f"node {node} exists but is not in the cockpit's view yet; try again in a moment"
            )
            return plan
        # Where each pod lands once evicted, even one a budget holds for now (its eviction
        # goes through when the budget is relaxed); and which ones a budget holds.
        report = what_if(snapshot, Scenario("drain", node), honour_pdbs=False)
        blocked = {p.key: ref for p, ref in what_if(snapshot, Scenario("drain", node)).blocked}
        already = _unschedulable(live)
        evict, skip = self._sort_pods(snapshot, report, plan, blocked)
        self._summary(plan, evict, skip, already)
        self._warnings(plan, snapshot, report, evict)
        plan.detail = {
            "node": node,
            "node_uid": plan.preconditions[f"node/{node}"]["uid"],
            "already_cordoned": already,
            "evict": evict,
            "skip": skip,
            "preempted": [
                {
                    "namespace": p.victim.namespace,
                    "name": p.victim.name,
                    "node": p.node,
                    "by": _ref(p.by),
                }
                for p in report.preempted
            ],
            "pdbs": self._pdbs(snapshot, report),
            "flags_needed": sorted(
                {"--force" for e in evict if e["unreplicated"]}
                | {"--delete-emptydir-data" for e in evict if e["emptydir"]}
            ),
        }
        for pdb in plan.detail["pdbs"]:
            if pdb["allowed"] == 0:
                plan.warnings.append(
                    f"PDB {pdb['ref']} allows no disruption now (needs "
                    f"{pdb['desired_healthy']} healthy, has {pdb['healthy']}): the drain waits "
                    f"on {', '.join(pdb['pods_on_node'])} until it does (relax the budget, or "
                    "let its other pods become ready)"
                )
            elif pdb["waits"]:
                plan.warnings.append(
                    f"PDB {pdb['ref']} allows {pdb['allowed']} disruption(s) at a time for "
                    f"{len(pdb['pods_on_node'])} pod(s) here: the drain waits for replacements "
                    "to become ready"
                )
            if pdb["violated"]:
                plan.warnings.append(
                    f"PDB {pdb['ref']} stays below its budget once things settle (its "
                    "replacements cannot all be scheduled): the drain may wait for ever; "
                    "set --timeout"
                )
        return plan

    def _sort_pods(
        self,
        snapshot: Snapshot,
        report: WhatIfReport,
        plan: Plan,
        blocked: dict[tuple[str, str], str],
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """kubectl's filters, in its order: DaemonSet, mirror, local storage, unreplicated."""
        moves = {m.pod.key: m for m in report.moves if m.source == self.node}
        evict: list[dict[str, Any]] = []
        skip: list[dict[str, Any]] = []
        daemonsets, unreplicated, emptydir = [], [], []
        for pod in snapshot.pods_by_node.get(self.node, ()):
            if pod.is_mirror:
                skip.append({"namespace": pod.namespace, "name": pod.name, "why": "mirror pod"})
                continue
            if pod.is_daemonset:
                skip.append({"namespace": pod.namespace, "name": pod.name, "why": "DaemonSet"})
                daemonsets.append(_ref(pod))
                continue
            finished = pod.phase in ("Succeeded", "Failed")
            move = moves.get(pod.key)
            entry = {
                "namespace": pod.namespace,
                "name": pod.name,
                "uid": pod.uid,
                "owner": f"{pod.owner.kind}/{pod.owner.name}" if pod.owner else None,
                "expected_node": move.target if move else None,
                "pending_reason": move.reason if move and move.target is None else "",
                "unreplicated": pod.owner is None and not finished,
                "emptydir": "emptyDir" in pod.volume_kinds and not finished,
                "finished": finished,
                "pdb": _pdb_of(snapshot, pod),
                "blocked_by": blocked.get(pod.key),  # a budget that allows no eviction
            }
            plan.preconditions[f"pod/{_ref(pod)}"] = {"uid": pod.uid}
            if entry["unreplicated"]:
                unreplicated.append(_ref(pod))
            if entry["emptydir"]:
                emptydir.append(_ref(pod))
            if pod.owner is not None and pod.owner.kind not in RECREATING_OWNERS | {"DaemonSet"}:
                plan.warnings.append(
                    f"{_ref(pod)} is owned by {pod.owner.kind}/{pod.owner.name}, which the "
                    "cockpit does not know to recreate its pods elsewhere"
                )
            evict.append(entry)
        if daemonsets and not self.ignore_daemonsets:
            plan.blockers.append(
                "cannot delete DaemonSet-managed pods (drop --no-ignore-daemonsets to skip "
                f"them): {', '.join(daemonsets)}"
            )
        if unreplicated and not self.force:
            plan.blockers.append(
                "cannot delete pods that declare no controller (use --force; nothing "
                f"recreates them, they are gone for good): {', '.join(unreplicated)}"
            )
        if emptydir and not self.delete_emptydir_data:
            plan.blockers.append(
                "cannot delete pods with local storage (use --delete-emptydir-data; their "
                f"emptyDir data is deleted): {', '.join(emptydir)}"
            )
        dangers = []
        if unreplicated and self.force:
            dangers.append(
                f"{len(unreplicated)} pod(s) without a controller are deleted for good: "
                + ", ".join(unreplicated)
            )
        if emptydir and self.delete_emptydir_data:
            dangers.append(
                f"the emptyDir data of {len(emptydir)} pod(s) is deleted: " + ", ".join(emptydir)
            )
        if dangers:
            plan.confirm_word = self.node
            plan.danger = "; ".join(dangers)
        return evict, skip

    def _summary(
        self,
        plan: Plan,
        evict: list[dict[str, Any]],
        skip: list[dict[str, Any]],
        already: bool,
    ) -> None:
        node = self.node
        plan.summary.append(
            f"node {node} is already cordoned: no cordon is sent"
            if already
            else f"cordon node {node}: the scheduler places no new pods there"
        )
        if evict:
            plan.summary.append(
                f"evict {len(evict)} pod(s) through the Eviction API, retrying those a "
                f"PDB refuses every {self.ctx.retry_every:g} s:"
            )
        else:
            plan.summary.append("no pod to evict")
        for e in evict:
            if e["finished"]:
                where = "deleted (it has finished)"
            elif e["unreplicated"]:
                where = "deleted for good (no controller recreates it)"
            elif e.get("blocked_by"):
                where = f"waits: PDB {e['blocked_by']} allows no disruption"
                if e["expected_node"]:
                    where += f" (then likely lands on {e['expected_node']})"
            elif e["expected_node"]:
                where = f"likely lands on {e['expected_node']}"
            else:
                where = "goes Pending"
            owner = f" ({e['owner']})" if e["owner"] else ""
            plan.summary.append(f"  {e['namespace']}/{e['name']}{owner} -> {where}")
        if skip:
            kinds = Counter(s["why"] for s in skip)
            what = ", ".join(f"{n} {why}" for why, n in sorted(kinds.items()))
            plan.summary.append(f"leave {what} pod(s) in place")
        wait = "wait for each evicted pod to be gone"
        if self.timeout:
            wait += f", giving up after {self.timeout:g} s (the node stays cordoned)"
        plan.summary.append(wait)
        plan.summary.append(
            f"verify: {node} is unschedulable and holds only DaemonSet and mirror pods"
        )

    def _warnings(
        self,
        plan: Plan,
        snapshot: Snapshot,
        report: WhatIfReport,
        evict: list[dict[str, Any]],
    ) -> None:
        for e in evict:
            if e["pending_reason"] and not e["unreplicated"]:
                plan.warnings.append(
                    f"{e['namespace']}/{e['name']} will go Pending: {e['pending_reason']}"
                )
        for m in report.moves:
            if "exec format error" in m.note:
                plan.warnings.append(f"{_ref(m.pod)} would land on {m.target}: {m.note}")
        for p in report.preempted:
            plan.warnings.append(
                f"{_ref(p.victim)} on {p.node} would be preempted by {_ref(p.by)} to make room"
            )
        for w in report.outages:
            plan.warnings.append(f"{w.ref} loses every ready replica until a replacement runs")

    def _pdbs(self, snapshot: Snapshot, report: WhatIfReport) -> list[dict[str, Any]]:
        impacts = {(i.namespace, i.name): i for i in report.pdbs}
        out = []
        for pdb in snapshot.pdbs:
            members = snapshot.select_pods(pdb.namespace, pdb.selector)
            here = [
                _ref(p)
                for p in members
                if p.node == self.node and not (p.is_daemonset or p.is_mirror)
            ]
            if not here:
                continue
            healthy = sum(1 for p in members if p.node and p.phase == "Running" and p.ready)
            desired = pdb.desired_healthy(len(members))
            allowed = max(0, healthy - desired)
            impact = impacts.get((pdb.namespace, pdb.name))
            out.append(
                {
                    "ref": f"{pdb.namespace}/{pdb.name}",
                    "desired_healthy": desired,
                    "healthy": healthy,
                    "allowed": allowed,
                    "pods_on_node": here,
                    "waits": allowed < len(here),
                    "violated": bool(impact and impact.violated),
                }
            )
        return out

    # --- execution -----------------------------------------------------------------------

    def execute(self, run: Run) -> str:
        ctx, node, plan = self.ctx, self.node, run.plan
        deadline = time.monotonic() + self.timeout if self.timeout else None
        entries = [_Entry.of(e) for e in plan.detail.get("evict", [])]
        uid = plan.preconditions.get(f"node/{node}", {}).get("uid", "")
        _check_node(ctx, plan, node)
        self._check_arrivals(entries)
        run.step(
            f"cordon node/{node} uid={uid}",
            f"cordon node {node}",
            lambda: _cordon_step(ctx, node, uid, True),
        )
        try:
            # Nothing new is scheduled on a cordoned node; anything that arrived just before
            # the cordon was not in the plan, so stop here rather than evict it unannounced.
            self._check_arrivals(entries)
            self._evict_all(run, entries, deadline)
            self._wait_gone(run, entries, deadline)
            return self._verify(run, entries)
        except SourceError as exc:
            # The API failed midway: say what was done, not only what went wrong.
            raise ActionFailed(f"{exc}; {self._left_behind(run)}") from None

    def _left_behind(self, run: Run) -> str:
        evicted = sum(1 for k in run.done if k.startswith("evict "))
        total = len(run.plan.detail.get("evict", []))
        return (
            f"node {self.node} is left cordoned and partly drained ({evicted} of {total} "
            f"pod(s) evicted): `cockpit drain {self.node}` carries on once the API answers "
            f"again, `cockpit uncordon {self.node}` puts it back in service"
        )

    def _check_arrivals(self, entries: list[_Entry]) -> None:
        planned = {e.uid for e in entries}
        new = []
        for item in _pods_on(self.ctx, self.node):
            pod = parse_pod(item)
            if pod.is_daemonset or pod.is_mirror or pod.uid in planned:
                continue
            new.append(_ref(pod))
        if new:
            raise PlanChanged(
                f"pod(s) {', '.join(sorted(new))} arrived on node {self.node} since the plan "
                f"was made (`cockpit uncordon {self.node}` if it is cordoned and you want it "
                "back as it was)"
            )

    def _evict_all(self, run: Run, entries: list[_Entry], deadline: float | None) -> None:
        waiting = list(entries)
        attempt = 0
        while waiting:
            attempt += 1
            refused: list[tuple[_Entry, SourceError]] = []
            for entry in waiting:
                what = f"evict pod {entry.ref}"
                if attempt > 1:
                    what += f" (attempt {attempt})"
                elif entry.expected:
                    what += f" (likely lands on {entry.expected})"
                try:
                    run.step(entry.key, what, lambda e=entry: self._evict_one(e))
                except SourceError as exc:
                    if exc.status != 429:
                        raise
                    refused.append((entry, exc))
            waiting = [e for e, _ in refused]
            for entry, exc in refused:
                self._note_refusal(run, entry, exc)
            if waiting:
                self._check_deadline(deadline, "evicted", waiting)
                run.wait(self.ctx.retry_every)

    def _evict_one(self, entry: _Entry) -> dict[str, Any]:
        """Read the pod back, then evict it unless it is already on its way out."""
        kube = self.ctx.kube
        live = kube_get(kube, pod_path(entry.namespace, entry.name))
        if live is None:
            return {"sent": False, "why": "already gone"}
        meta = live.get("metadata", {})
        if meta.get("uid") != entry.uid:
            return {"sent": False, "why": f"replaced by a new pod (UID {meta.get('uid')})"}
        if meta.get("deletionTimestamp"):
            return {"sent": False, "why": "already terminating"}
        try:
            # Only this very pod: one recreated under its name in between is left alone.
            kube.evict(entry.namespace, entry.name, uid=entry.uid)
        except SourceError as exc:
            if exc.status == 404:
                return {"sent": True, "why": "gone before the eviction"}
            if exc.status == 409 and "precondition" in (exc.message or "").lower():
                return {"sent": True, "why": "replaced by a new pod before the eviction"}
            raise
        return {"sent": True}

    def _note_refusal(self, run: Run, entry: _Entry, exc: SourceError) -> None:
        budget = ""
        if entry.pdb:
            namespace, _, name = entry.pdb.partition("/")
            budget = f" by PodDisruptionBudget {entry.pdb}"
            try:
                doc = kube_get(
                    self.ctx.kube,
                    f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/{name}",
                )
            except SourceError:
                doc = None  # the note still names the budget; its numbers are a bonus
            if doc is not None:
                status = doc.get("status", {})
                budget += (
                    f" (needs {status.get('desiredHealthy', '?')} healthy, has "
                    f"{status.get('currentHealthy', '?')}, allows "
                    f"{status.get('disruptionsAllowed', '?')} disruption(s))"
                )
        message = exc.message or exc.reason
        run.note(
            f"eviction of {entry.ref} refused{budget}: {message} Retrying in "
            f"{self.ctx.retry_every:g} s.",
            pod=entry.ref,
            pdb=entry.pdb,
        )

    def _wait_gone(self, run: Run, entries: list[_Entry], deadline: float | None) -> None:
        left = {e.uid: e for e in entries}
        told: list[str] | None = None
        since = told_at = time.monotonic()
        while True:
            here = {item.get("metadata", {}).get("uid") for item in _pods_on(self.ctx, self.node)}
            left = {uid: e for uid, e in left.items() if uid in here}
            if not left:
                return
            names = sorted(e.ref for e in left.values())
            if names != told:
                run.note(f"waiting for {len(names)} pod(s) to be gone: {', '.join(names)}")
                told, told_at = names, time.monotonic()
            elif time.monotonic() - told_at >= WAIT_REMINDER:
                # A pod on a dead node can take minutes to go: say it is still the wait.
                run.progress(
                    f"still waiting for {', '.join(names)} to be gone "
                    f"({int(time.monotonic() - since)} s so far)"
                )
                told_at = time.monotonic()
            self._check_deadline(deadline, "gone", list(left.values()))
            run.wait(self.ctx.poll_every)

    def _check_deadline(self, deadline: float | None, state: str, left: list[_Entry]) -> None:
        if deadline is None or time.monotonic() < deadline:
            return
        names = ", ".join(sorted(e.ref for e in left))
        raise ActionFailed(
            f"timed out after {self.timeout:g} s with {len(left)} pod(s) not yet {state}: "
            f"{names}; node {self.node} stays cordoned: run `cockpit drain {self.node}` again "
            f"to carry on, or `cockpit uncordon {self.node}` to put it back in service"
        )

    def _verify(self, run: Run, entries: list[_Entry]) -> str:
        live = _check_node(self.ctx, run.plan, self.node)
        if not _unschedulable(live):
            raise ActionFailed(
                f"node {self.node} is schedulable again: something uncordoned it during the "
                f"drain; run `cockpit drain {self.node}` again"
            )
        stays, others = [], []
        for item in _pods_on(self.ctx, self.node):
            pod = parse_pod(item)
            (stays if pod.is_daemonset or pod.is_mirror else others).append(_ref(pod))
        if others:
            raise ActionFailed(
                f"node {self.node} still holds {len(others)} pod(s) that are not DaemonSet or "
                f"mirror pods: {', '.join(sorted(others))}; run `cockpit drain {self.node}` "
                "again"
            )
        results = [run.done.get(e.key) or {} for e in entries]
        sent = sum(1 for r in results if r.get("sent"))
        targets = Counter(e.expected for e in entries if e.expected)
        where = [f"{n} on {target}" for target, n in targets.most_common()]
        elsewhere = sum(1 for e in entries if not e.expected)
        if elsewhere:
            where.append(f"{elsewhere} Pending or deleted")
        gone = len(entries) - sent
        also = f" ({gone} already on their way out)" if gone else ""
        return (
            f"node {self.node} drained: {sent} pod(s) evicted{also}; the plan expected "
            f"{', '.join(where) or 'nothing to move'}. It stays cordoned with {len(stays)} "
            f"DaemonSet/mirror pod(s): `cockpit uncordon {self.node}` puts it back in service"
        )

    def cancelled(self, run: Run) -> str:
        cordoned = any(k.startswith(f"cordon node/{self.node} ") for k in run.done)
        if not cordoned:
            return f"cancelled before node {self.node} was cordoned: nothing was changed"
        evicted = sum(1 for k in run.done if k.startswith("evict "))
        total = len(run.plan.detail.get("evict", []))
        return (
            f"cancelled: node {self.node} is left cordoned with {evicted} of {total} pod(s) "
            f"evicted; `cockpit uncordon {self.node}` makes it schedulable again, or "
            f"`cockpit drain {self.node}` finishes the drain"
        )


def _pdb_of(snapshot: Snapshot, pod: Pod) -> str | None:
    for pdb in snapshot.pdbs:
        if pdb.namespace == pod.namespace and pdb.selector.matches(pod.labels):
            return f"{pdb.namespace}/{pdb.name}"
    return None


# --- cordon and uncordon -------------------------------------------------------------------


class _Schedulable(Action):
    """Cordon (unschedulable = True) or uncordon (False) one node."""

    value: bool

    def __init__(self, ctx: Context, node: str) -> None:
        super().__init__(ctx)
        self.node = node

    @classmethod
    def from_args(cls, ctx: Context, args: dict[str, Any]) -> _Schedulable:
        return cls(ctx, str(args["node"]))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        _node_arg(parser)

    @classmethod
    def args_from_cli(cls, ns: argparse.Namespace) -> dict[str, Any]:
        return {"node": ns.node}

    def plan(self) -> Plan:
        ctx, node = self.ctx, self.node
        plan = Plan(self.name, f"node/{node}", {"node": node}, endpoint=ctx.kube_endpoint)
        if not _need_kube(ctx, plan):
            return plan
        live = _live_node(ctx, plan, node)
        if live is None:
            return plan
        pods = sorted(_ref(p) for p in ctx.snapshot().pods_by_node.get(node, ()))
        now = _unschedulable(live)
        if now == self.value:
            plan.summary.append(
                f"node {node} is already {'cordoned' if now else 'schedulable'}: nothing is sent"
            )
        elif self.value:
            plan.summary.append(
                f"mark node {node} unschedulable: the scheduler places no new pods there; "
                f"its {len(pods)} pod(s) keep running (`cockpit drain {node}` moves them)"
            )
        else:
            plan.summary.append(
                f"mark node {node} schedulable again: new pods may land there (nothing that "
                "moved away comes back by itself)"
            )
        plan.summary.append(f"verify: {node} is {'un' if self.value else ''}schedulable")
        plan.detail = {
            "node": node,
            "node_uid": plan.preconditions[f"node/{node}"]["uid"],
            "unschedulable_now": now,
            "pods": pods,
        }
        return plan

    def execute(self, run: Run) -> str:
        ctx, node = self.ctx, self.node
        uid = run.plan.preconditions.get(f"node/{node}", {}).get("uid", "")
        _check_node(ctx, run.plan, node)
        result = run.step(
            f"{self.name} node/{node} uid={uid}",
            f"{self.name} node {node}",
            lambda: _cordon_step(ctx, node, uid, self.value),
        )
        live = _check_node(ctx, run.plan, node)
        if _unschedulable(live) != self.value:
            raise ActionFailed(
                f"node {node} is still {'schedulable' if self.value else 'cordoned'} after "
                f"the {self.name}: something changed it back; check who else manages it"
            )
        state = "cordoned (unschedulable)" if self.value else "schedulable"
        if not (result or {}).get("sent"):
            return f"node {node} was already {state}; nothing was sent"
        return f"node {node} is {state}"


@register
class Cordon(_Schedulable):
    name = "cordon"
    help = "mark a node unschedulable (its pods keep running)"
    value = True


@register
class Uncordon(_Schedulable):
    name = "uncordon"
    help = "mark a node schedulable again"
    value = False
