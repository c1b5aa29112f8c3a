"""Guest power: start, shut down, stop or reboot a Proxmox VM or container.

The plan says what the guest is to Kubernetes: the node it backs, the pods on that node,
and, for anything that takes the guest down, what the allocation engine predicts when the
node is lost (pods that move, go Pending or are lost, PDBs broken, workloads left without
a ready replica, as seed 004's single CoreDNS was). A hard stop of a guest under a Ready
node asks for the guest's name to be typed.

PVE has no UIDs, so the guest is pinned by VMID, node and name: a guest that moved to
another node or was replaced by another with the same VMID stops the action (PlanChanged).

Execution is one journaled step, the power call, whose result is the task's UPID; then the
task is followed to its end (its log is shown as it grows, and quoted when it fails), the
guest's status is verified, and the Kubernetes node is followed until it is NotReady (after
a shutdown or stop) or Ready (after a start or reboot). A resumed action never sends the
call twice: a recorded UPID is followed again, and a call that was in flight when the
process died is looked for among the node's recent tasks before anything is re-sent.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
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
)
from cockpit.alloc.whatif import Scenario, WhatIfReport, what_if
from cockpit.model import Guest, Node, Pod, Snapshot
from cockpit.sources.health import SourceError
from cockpit.sources.proxmox import POWER_ACTIONS, TASK_TYPES

GOING_DOWN = ("shutdown", "stop", "reboot")
# The status a guest must have for the action, and the one it has after it.
NEEDS = {"start": "stopped", "shutdown": "running", "stop": "running", "reboot": "running"}
RESULT = {"start": "running", "shutdown": "stopped", "stop": "stopped", "reboot": "running"}
KIND_WORDS = {"qemu": "VM", "lxc": "container"}
VERBS = {"start": "start", "shutdown": "shut down", "stop": "stop", "reboot": "reboot"}
# Real seconds a task may take before we stop following it (it goes on on the node).
TASK_BUDGET = {"start": 300.0, "stop": 120.0, "shutdown": 600.0, "reboot": 600.0}
# A task of ours may carry a start time a little before ours: the node's clock is not ours.
CLOCK_SLACK = 30.0
LOG_TAIL = 12  # task log lines quoted when a task fails
LISTED = 8  # names listed in one summary line before "and N more"


@register
class GuestPower(Action):
    name = "guest"
    help = "start, shut down, stop or reboot a Proxmox guest (VM or container)"
    node_timeout = 300.0  # real seconds to wait for the Kubernetes node to follow the guest

    def __init__(
        self,
        ctx: Context,
        power: str,
        vmid: int,
        timeout: int | None = None,
        force_stop: bool = False,
    ) -> None:
        super().__init__(ctx)
        self.power = power
        self.vmid = int(vmid)
        self.timeout = timeout
        self.force_stop = force_stop
        # What a cancel leaves behind depends on how far execution got.
        self._node = ""
        self._upid = ""
        self._following = ""  # the Kubernetes node being followed, once the task is done

    # --- arguments ---------------------------------------------------------------------

    @classmethod
    def from_args(cls, ctx: Context, args: dict[str, Any]) -> GuestPower:
        timeout = args.get("timeout")
        return cls(
            ctx,
            str(args["power"]),
            int(args["vmid"]),
            None if timeout is None else int(timeout),
            bool(args.get("force_stop", False)),
        )

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("power", choices=POWER_ACTIONS, help="what to do with the guest")
        parser.add_argument("vmid", type=int, help="the guest's VMID (qm list / pct list)")
        parser.add_argument(
            "--timeout",
            type=int,
            metavar="S",
            help="shutdown/reboot: seconds the guest OS gets to shut down (default: PVE's)",
        )
        parser.add_argument(
            "--force-stop",
            action="store_true",
            help="shutdown: stop the guest hard if it is still running when the timeout ends",
        )

    @classmethod
    def args_from_cli(cls, ns: argparse.Namespace) -> dict[str, Any]:
        return {
            "power": ns.power,
            "vmid": ns.vmid,
            "timeout": ns.timeout,
            "force_stop": bool(ns.force_stop),
        }

    def args(self) -> dict[str, Any]:
        return {
            "power": self.power,
            "vmid": self.vmid,
            "timeout": self.timeout,
            "force_stop": self.force_stop,
        }

    def _argument_problems(self) -> list[str]:
        problems = []
        if self.power not in POWER_ACTIONS:
            problems.append(f"unknown power action {self.power!r}: use {', '.join(POWER_ACTIONS)}")
        if self.timeout is not None and self.power not in ("shutdown", "reboot"):
            problems.append("--timeout applies to shutdown and reboot only")
        if self.timeout is not None and self.timeout < 1:
            problems.append(f"--timeout must be at least 1 s, got {self.timeout}")
        if self.force_stop and self.power != "shutdown":
            problems.append("--force-stop applies to shutdown only (stop is always hard)")
        return problems

    @property
    def _ref(self) -> str:
        return f"guest/{self.vmid}"

    # --- the plan ----------------------------------------------------------------------

    def plan(self) -> Plan:
        plan = Plan(self.name, self._ref, self.args(), endpoint=self.ctx.proxmox_endpoint)
        plan.blockers += self._argument_problems()
        snapshot = self.ctx.snapshot()
        guest = next((g for g in snapshot.guests if g.vmid == self.vmid), None)
        if guest is None:
            plan.blockers.insert(0, self._unknown_guest(snapshot))
            return plan
        plan.target = f"{guest.kind}/{self.vmid}"
        name, status, lock = guest.name, guest.status, ""
        live = self._live_status(guest, plan)
        if live is not None:
            if live.name != guest.name:
                plan.warnings.append(
                    f"VMID {self.vmid} is now called {live.name!r} (the inventory still says "
                    f"{guest.name!r}): the plan is for the guest as it is now"
                )
            name, status, lock = live.name, live.status, live.lock
        label = f"{KIND_WORDS[guest.kind]} {name} ({self.vmid})"
        plan.summary.append(self._what(label, guest.host))
        plan.blockers += self._state_problems(guest, label, status, lock)
        if self.ctx.proxmox is None:
            plan.blockers.append(
                "no Proxmox connection: add a [proxmox] url, token and secret to the config"
            )
        plan.preconditions[self._ref] = {
            "vmid": str(self.vmid),
            "node": guest.host,
            "name": name,
            "kind": guest.kind,
            "status": status,
        }
        nodes = self._backed_nodes(snapshot, guest, name, status, plan)
        plan.detail = {
            "guest": {
                "vmid": self.vmid,
                "name": name,
                "node": guest.host,
                "kind": guest.kind,
                "status": status,
                "lock": lock,
            },
            "power": self.power,
            "timeout": self.timeout,
            "force_stop": self.force_stop,
            "k8s_nodes": [n.name for n in nodes],
            "pods": {},
            "prediction": {},
        }
        if not nodes:
            plan.summary.append(f"{label} runs no Kubernetes node the cockpit knows of")
        for node in nodes:
            self._plan_node(plan, snapshot, node, label)
        plan.summary.append(self._afterwards(nodes))
        self._danger(plan, label, name, nodes, snapshot)
        return plan

    def _unknown_guest(self, snapshot: Snapshot) -> str:
        if not snapshot.guests:
            if self.ctx.proxmox is None:
                return (
                    f"no guest {self.vmid}: Proxmox is not configured (add a [proxmox] url, "
                    "token and secret to the config)"
                )
            return (
                f"no guest {self.vmid}: Proxmox has not listed any guests yet; check the "
                "Proxmox source's health and try again"
            )
        known = _names((f"{g.vmid} {g.name}" for g in sorted(snapshot.guests, key=_vmid)), 12)
        return (
            f"no guest with VMID {self.vmid} in the Proxmox inventory (there are: {known}); "
            "check the VMID (qm list / pct list on a node)"
        )

    def _live_status(self, guest: Guest, plan: Plan) -> Any:
        """The guest as PVE sees it now (the inventory may be a poll behind); None when it
        cannot be read, with a warning that the plan rests on the inventory."""
        pve = self.ctx.proxmox
        if pve is None:
            return None
        try:
            return pve.guest_status(guest.host, guest.vmid, guest.kind)
        except SourceError as exc:
            plan.warnings.append(
                f"could not read guest {self.vmid}'s live status ({exc}); this plan uses the "
                "inventory's last poll"
            )
            return None

    def _what(self, label: str, host: str) -> str:
        if self.power == "start":
            return f"start {label} on {host}"
        if self.power == "stop":
            return (
                f"stop {label} on {host} at once, like pulling its plug: the guest OS gets no "
                "chance to shut down cleanly"
            )
        limit = (
            f"within {self.timeout} s" if self.timeout is not None else "within PVE's default time"
        )
        if self.power == "reboot":
            return f"reboot {label} on {host} (the guest OS is asked to restart {limit})"
        after = (
            "then stop it hard if it is still running"
            if self.force_stop
            else "else the task fails and the guest keeps running"
        )
        return f"shut down {label} on {host}: the guest OS is asked to power off {limit}, {after}"

    def _state_problems(self, guest: Guest, label: str, status: str, lock: str) -> list[str]:
        if self.power not in POWER_ACTIONS:
            return []
        if guest.template:
            return [f"{label} is a template: templates are cloned, not powered on"]
        if status not in ("running", "stopped"):
            return [
                f"{label} is in state {status!r}: its node {guest.host} is offline or not "
                f"answering, so nothing can be sent to it; check {guest.host}'s power and "
                "network, then plan again"
            ]
        problems = []
        if self.power == "start" and status == "running":
            problems.append(f"{label} is already running: nothing to start")
        elif self.power in ("shutdown", "stop") and status == "stopped":
            problems.append(f"{label} is already stopped: nothing to {VERBS[self.power]}")
        elif self.power == "reboot" and status == "stopped":
            problems.append(f"{label} is stopped: start it instead of rebooting it")
        if lock:
            problems.append(
                f"{label} is locked ({lock}): wait for that {lock} to finish, or clear a "
                f"stale lock with `qm unlock {self.vmid}` on {guest.host}"
            )
        return problems

    def _backed_nodes(
        self, snapshot: Snapshot, guest: Guest, name: str, status: str, plan: Plan
    ) -> list[Node]:
        backing = {**snapshot.backing, **self.ctx.links().backing}
        names = sorted(n for n, b in backing.items() if b.vmid == guest.vmid)
        if not names and status != "running":
            names = self._remembered_nodes(name)
            if names:
                plan.warnings.append(
                    f"node {', '.join(names)} is this guest's by the action journal (its last "
                    "power action); a stopped guest reports no addresses to link it by"
                )
        return [snapshot.node_by_name[n] for n in names if n in snapshot.node_by_name]

    def _remembered_nodes(self, name: str) -> list[str]:
        """The nodes the last power action on this guest (same VMID and name) found on it.
        Links by address need the guest agent, which a stopped guest does not run, so the
        start that follows a shutdown would otherwise not know which node comes back."""
        try:
            records = self.ctx.journal.records()
        except OSError:
            return []
        for record in reversed(records):
            saved = record.start.get("plan")
            if record.action != self.name or not isinstance(saved, dict):
                continue
            detail = saved.get("detail") or {}
            guest = detail.get("guest") or {}
            nodes = detail.get("k8s_nodes") or []
            if guest.get("vmid") == self.vmid and guest.get("name") == name and nodes:
                return [str(n) for n in nodes]
        return []

    def _plan_node(self, plan: Plan, snapshot: Snapshot, node: Node, label: str) -> None:
        pods = [p for p in snapshot.pods_by_node.get(node.name, ()) if _alive(p)]
        plan.detail["pods"][node.name] = [f"{p.namespace}/{p.name}" for p in pods]
        state = "Ready" if node.ready else "NotReady"
        if node.unschedulable:
            state += ", cordoned"
        listed = _names(f"{p.namespace}/{p.name}" for p in pods) if pods else "none"
        plan.summary.append(
            f"{label} is Kubernetes node {node.name} ({state}); {len(pods)} pod(s) on it: {listed}"
        )
        if self.power == "start":
            self._plan_start(plan, snapshot, node, pods)
        elif self.power in GOING_DOWN:
            self._plan_loss(plan, snapshot, node)

    def _plan_start(self, plan: Plan, snapshot: Snapshot, node: Node, pods: list[Pod]) -> None:
        plan.summary.append(
            f"node {node.name} should report Ready once the guest has booted and its kubelet "
            "posts status again"
        )
        kept = [p for p in pods if not (p.is_daemonset or p.is_mirror)]
        if kept and not node.ready:
            plan.summary.append(
                f"{len(kept)} pod(s) still bound to it start there again: "
                + _names(f"{p.namespace}/{p.name}" for p in kept)
            )
        pending = [p for p in snapshot.pods if p.node is None and p.phase == "Pending"]
        if pending:
            plan.summary.append(
                f"{len(pending)} Pending pod(s) in the cluster may be scheduled on it once it is "
                "Ready: " + _names(f"{p.namespace}/{p.name}" for p in pending)
            )
        if not node.ready:
            plan.warnings.append(
                "pods moved elsewhere while it was down stay where they are: Kubernetes does "
                "not move them back by itself"
            )
        if node.unschedulable:
            plan.warnings.append(
                f"node {node.name} is cordoned: nothing new is scheduled there until "
                f"`cockpit uncordon {node.name}`"
            )

    def _plan_loss(self, plan: Plan, snapshot: Snapshot, node: Node) -> None:
        report = what_if(snapshot, Scenario("lose-node", node.name))
        plan.detail["prediction"][node.name] = _prediction(report)
        lead = (
            f"if {node.name} does not come back from the reboot"
            if self.power == "reboot"
            else f"with {node.name} down"
        )
        lines: list[str] = []
        if report.placed:
            lines.append(
                f"{len(report.placed)} pod(s) are recreated elsewhere once the unreachable "
                "toleration runs out: "
                + _names(f"{_pod(m.pod)} → {m.target}" for m in report.placed)
            )
        if report.pending:
            first = report.pending[0].reason or "no node fits"
            lines.append(
                f"{len(report.pending)} pod(s) would go Pending: "
                + _names(_pod(m.pod) for m in report.pending)
                + f" ({first})"
            )
        gone = [p for p, _ in report.lost if not (p.is_daemonset or p.is_mirror)]
        if gone:
            lines.append(
                f"{len(gone)} pod(s) are lost for good (no controller recreates them): "
                + _names(_pod(p) for p in gone)
            )
        if report.preempted:
            lines.append(
                f"{len(report.preempted)} pod(s) elsewhere would be preempted to make room: "
                + _names(f"{_pod(x.victim)} on {x.node}" for x in report.preempted)
            )
        for pdb in report.pdbs:
            if pdb.disrupted:
                lasting = "and stays below it" if pdb.violated else "until replacements run"
                lines.append(
                    f"PDB {pdb.namespace}/{pdb.name} drops to {pdb.healthy_during} healthy of "
                    f"the {pdb.desired_healthy} it requires, {lasting}"
                )
        if not lines:
            lines.append("no pod needs to move (only DaemonSet or mirror pods run there)")
        plan.summary += [f"engine, {lead}: {line}" for line in lines]
        for w in report.outages:
            after = (
                "it stays down: no other node can run a replacement"
                if w.stays_down
                else "it is down until a replacement runs elsewhere"
            )
            plan.warnings.append(
                f"{w.ref} loses every ready replica ({w.ready_before} of {w.replicas}, all on "
                f"{node.name}): {after}"
            )
        plan.warnings += list(report.notes)
        if node.ready and (report.moves or gone):
            plan.warnings.append(
                f"drain it first (`cockpit drain {node.name}`): its pods then move while it is "
                "still up, PDBs respected, instead of after the node is declared lost"
            )

    def _afterwards(self, nodes: list[Node]) -> str:
        text = (
            "then: follow the PVE task to its end (its log is quoted if it fails) and check "
            f"the guest is {RESULT.get(self.power, '?')}"
        )
        if nodes and self.ctx.kube is not None:
            names = ", ".join(n.name for n in nodes)
            want = "NotReady" if self.power in ("shutdown", "stop") else "Ready"
            text += f", then follow node {names} until it reports {want}"
        return text

    def _danger(
        self, plan: Plan, label: str, name: str, nodes: list[Node], snapshot: Snapshot
    ) -> None:
        hard = self.power == "stop" or (self.power == "shutdown" and self.force_stop)
        ready = [n for n in nodes if n.ready]
        if not hard or not ready:
            return
        node = ready[0]
        pods = [p for p in snapshot.pods_by_node.get(node.name, ()) if _alive(p)]
        how = "a hard stop" if self.power == "stop" else "a shutdown that may end in a hard stop"
        outages = plan.detail["prediction"].get(node.name, {}).get("outages", [])
        plan.confirm_word = name
        plan.danger = (
            f"{how} of {label}, which runs the Ready Kubernetes node {node.name}: its "
            f"{len(pods)} pod(s) go down with it, undrained"
        )
        if outages:
            lost = _names(o["workload"] for o in outages)
            plan.danger += f"; {lost}: every ready replica lost"

    # --- execution ---------------------------------------------------------------------

    def execute(self, run: Run) -> str:
        pve = self.ctx.proxmox
        if pve is None:
            raise ActionFailed(
                "no Proxmox connection: add a [proxmox] url, token and secret to the config"
            )
        pinned = run.plan.preconditions.get(self._ref)
        if not pinned:
            raise PlanChanged(f"the plan does not say which guest {self.vmid} it was made for")
        node, name, kind = pinned["node"], pinned["name"], pinned["kind"]
        self._node = node
        label = f"{KIND_WORDS.get(kind, 'guest')} {name} ({self.vmid})"
        ident = f"{kind}/{self.vmid} {name!r} on {node}"
        check_key = f"check {ident}"
        power_key = f"{self.power} {ident}"

        what = f"{VERBS[self.power]} {label} on {node}"
        found: str | None = None
        if power_key not in run.done:
            if power_key in run.in_flight:
                since = (run.done.get(check_key) or {}).get("at")
                found = self._sent_before(pve, node, kind, since)
            if found is not None:
                what = f"pick up task {found}, sent before the interruption"
            elif check_key in run.done:
                self._check(pve, node, name, kind, label)  # the world may have moved since
            else:
                run.step(
                    check_key,
                    f"check {label} is still {NEEDS[self.power]} on {node}",
                    lambda: self._check(pve, node, name, kind, label),
                )

        def send() -> str:
            if found is not None:  # sent by the interrupted run: record it, send nothing
                return found
            return pve.power(node, self.vmid, self.power, self.timeout, self.force_stop, kind)

        upid = str(run.step(power_key, what, send))
        self._upid = upid

        run.progress(f"PVE task {upid}: following it")
        task = self._follow_task(run, pve, node, upid, label)
        if not task.ok:
            raise ActionFailed(self._task_failure(pve, node, upid, task, label, kind))
        run.note(f"task {task.type} of {label} ended: {task.exitstatus}", upid=upid)

        live = pve.guest_status(node, self.vmid, kind)
        expected = RESULT[self.power]
        if live.status != expected:
            raise ActionFailed(
                f"the task ended {task.exitstatus} but {label} is {live.status}, not {expected}; "
                f"look at its task log on {node} (task {upid}) and at the guest's console"
            )
        run.note(f"{label} is {live.status}")
        message = f"{label} is {live.status} (task {upid} {task.exitstatus})"
        nodes = run.plan.detail.get("k8s_nodes") or []
        if nodes and self.ctx.kube is not None:
            ready = self.power in ("start", "reboot")
            for k8s in nodes:
                message += "; " + self._follow_node(run, str(k8s), ready)
        return message

    def _check(self, pve: Any, node: str, name: str, kind: str, label: str) -> dict[str, Any]:
        """The guest is still the one the plan was made for, where it was, in the state the
        action needs; returns what was seen, and when (a resume looks for tasks after it)."""
        try:
            live = pve.guest_status(node, self.vmid, kind)
        except SourceError as exc:
            if exc.status in (400, 500) and "does not exist" in str(exc):
                raise PlanChanged(
                    f"guest {self.vmid} is no longer on {node} (migrated or deleted)"
                ) from None
            raise
        if live.name != name:
            raise PlanChanged(
                f"VMID {self.vmid} on {node} is now {live.name!r}, not {name!r}: the guest was "
                "replaced or renamed"
            )
        if live.status != NEEDS[self.power]:
            raise PlanChanged(f"{label} is {live.status} now, not {NEEDS[self.power]}")
        if live.lock:
            raise ActionFailed(
                f"{label} is locked ({live.lock}); nothing was sent: wait for the {live.lock} to "
                f"finish, or clear a stale lock with `qm unlock {self.vmid}` on {node}"
            )
        return {"status": live.status, "at": time.time()}

    def _sent_before(self, pve: Any, node: str, kind: str, since: Any) -> str | None:
        """The task a run that died with the call in flight may have started: ours (same
        type, same token), started after that run's last check. None when there is none."""
        wanted = TASK_TYPES[(kind, self.power)]
        user = getattr(pve, "user", "")
        token = getattr(pve, "token_name", "")
        me = f"{user}!{token}" if user and token else ""
        for task in pve.tasks(node, self.vmid):
            if task.type != wanted or task.id != str(self.vmid):
                continue
            if me and task.user != me:
                continue
            if since is None:
                if task.running:
                    return str(task.upid)
            elif task.starttime >= float(since) - CLOCK_SLACK:
                return str(task.upid)
        return None

    def _follow_task(self, run: Run, pve: Any, node: str, upid: str, label: str) -> Any:
        budget = TASK_BUDGET[self.power]
        if self.timeout is not None:
            budget = float(self.timeout) + 120.0
        deadline = time.monotonic() + budget
        shown = 0
        while True:
            try:
                task = pve.task_status(node, upid)
            except SourceError as exc:
                raise ActionFailed(
                    f"lost track of PVE task {upid}: {exc}. The task goes on on {node}: resume "
                    "this action to follow it again, or see it in the web UI (Task History)"
                ) from None
            shown = self._show_log(run, pve, node, upid, shown)
            if not task.running:
                return task
            if time.monotonic() >= deadline:
                raise ActionFailed(
                    f"PVE task {upid} for {label} is still running after {budget:g} s; it goes "
                    f"on on {node}: follow it in the web UI ({node} → Task History) or with "
                    f"`pvenode task status {upid}` on {node}"
                )
            run.wait(self.ctx.poll_every)

    def _show_log(self, run: Run, pve: Any, node: str, upid: str, shown: int) -> int:
        """Print the task log's new lines; the log is for the eye, a failure to read it is
        no reason to stop following the task."""
        try:
            lines = pve.task_log(node, upid)
        except SourceError:
            return shown
        for line in lines[shown:]:
            run.progress(f"  {line}")
        return max(shown, len(lines))

    def _task_failure(
        self, pve: Any, node: str, upid: str, task: Any, label: str, kind: str
    ) -> str:
        try:
            tail = list(pve.task_log(node, upid))[-LOG_TAIL:]
        except SourceError as exc:
            tail = [f"(the log could not be read: {exc})"]
        try:
            now = f"{label} is {pve.guest_status(node, self.vmid, kind).status} now"
        except SourceError:
            now = f"the status of {label} could not be read"
        hint = f"see the task in the web UI ({node} → Task History)"
        if self.power in ("shutdown", "reboot") and "timeout" in (task.exitstatus or ""):
            hint = (
                "the guest OS did not shut down in time: retry with a longer --timeout"
                + (", add --force-stop," if self.power == "shutdown" else "")
                + " or check that the guest reacts to ACPI (qemu-guest-agent / acpid)"
            )
        log = "\n".join(f"  {line}" for line in tail)
        return (
            f"PVE task {task.type} of {label} failed: {task.exitstatus}; {now}; {hint}.\n"
            f"task log (last {len(tail)} lines):\n{log}"
        )

    def _follow_node(self, run: Run, name: str, ready: bool) -> str:
        """Follow the Kubernetes node until it agrees with the guest. The guest's state is
        already verified, so a node that is slow to follow is reported, not a failure."""
        self._following = name
        want = "Ready" if ready else "NotReady"
        deadline = time.monotonic() + self.node_timeout
        last = None
        while True:
            try:
                obj = kube_get(self.ctx.kube, f"/api/v1/nodes/{name}")
            except SourceError as exc:
                return f"could not follow node {name} ({exc}); check it with kubectl get node"
            if obj is None:
                return f"node {name} is no longer in the cluster"
            status = _ready(obj)
            if status != last:
                run.progress(f"node {name}: Ready={status or 'not reported'}")
                last = status
            if ready and status == "True":
                run.note(f"node {name} is Ready")
                return f"node {name} is Ready"
            if not ready and status in ("False", "Unknown"):
                run.note(f"node {name} is NotReady (Ready={status})")
                return f"node {name} reports NotReady (Ready={status})"
            if time.monotonic() >= deadline:
                why = (
                    "check the kubelet (k3s/kubelet service) on the guest"
                    if ready
                    else "the node controller has not noticed yet (node-monitor-grace-period)"
                )
                text = (
                    f"node {name} still reports Ready={status or '?'} after "
                    f"{self.node_timeout:g} s, not {want}: {why}"
                )
                run.note(text)
                return text
            run.wait(self.ctx.poll_every)

    def cancelled(self, run: Run) -> str:
        if not self._upid:
            return "cancelled before anything was sent to Proxmox"
        if self._following:
            return (
                f"the PVE task {self._upid} finished; stopped following node {self._following} "
                "(kubectl get node shows where it is)"
            )
        return (
            f"stopped following; the PVE task keeps running on {self._node}: see it in the "
            f"web UI ({self._node} → Task History) or with `pvenode task status {self._upid}` "
            f"on {self._node}"
        )


# --- helpers ---------------------------------------------------------------------------------


def _vmid(guest: Guest) -> int:
    return guest.vmid


def _alive(pod: Pod) -> bool:
    return pod.phase not in ("Succeeded", "Failed")


def _pod(pod: Pod) -> str:
    return f"{pod.namespace}/{pod.name}"


def _names(items: Iterable[str], limit: int = LISTED) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _ready(node: dict[str, Any]) -> str:
    for cond in node.get("status", {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return str(cond.get("status", ""))
    return ""


def _prediction(report: WhatIfReport) -> dict[str, Any]:
    """The engine's report for --json: plain names and numbers."""
    return {
        "moves": [
            {"pod": _pod(m.pod), "from": m.source, "to": m.target, "note": m.note}
            for m in report.placed
        ],
        "pending": [{"pod": _pod(m.pod), "reason": m.reason} for m in report.pending],
        "lost": [{"pod": _pod(p), "why": why} for p, why in report.lost],
        "preempted": [
            {"pod": _pod(x.victim), "node": x.node, "by": _pod(x.by)} for x in report.preempted
        ],
        "pdbs": [
            {
                "pdb": f"{p.namespace}/{p.name}",
                "desired_healthy": p.desired_healthy,
                "healthy_during": p.healthy_during,
                "healthy_after": p.healthy_after,
            }
            for p in report.pdbs
            if p.disrupted
        ],
        "outages": [
            {"workload": w.ref, "ready_before": w.ready_before, "stays_down": w.stays_down}
            for w in report.outages
        ],
        "notes": list(report.notes),
    }
