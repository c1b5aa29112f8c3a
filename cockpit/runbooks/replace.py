"""`cockpit replace NODE`: swap a Kubernetes node for a new machine, across Proxmox,
Kubernetes and the tailnet, as one checked and resumable procedure.

Stages (each journaled; see cockpit.runbooks.base):
 1. preflight   the what-if for losing the node; refuses when that is an outage now
                (unless --force); a single control-plane node is always refused, and an
                embedded-etcd server only while the others keep quorum without it
 2. drain       the drain action itself (cordon, evictions through PDBs); a node that is
                already NotReady is only cordoned: its kubelet cannot stop pods any more
 3. retire      Proxmox: the guest action shuts the VM down and follows the node to
                NotReady; bare metal: the person powers it off and the runbook watches
 4. provide     Proxmox: /cluster/nextid, full clone of a template, the old VM's cores and
                memory, cloud-init DHCP, start, wait for the guest agent; bare metal: a
                checklist
 5. join        the exact join command for the flavour; waits until the new node is Ready
                (and its tailnet peer online, for a cluster that runs over the tailnet)
 6. carry-over  the old node's hand-set labels and taints onto the new one; uncordon it
 7. clean-up    delete the old Node object (k3s frees its node-password secret with it, so
                the old name can join again), say how to remove the old tailnet machine,
                wait for the workloads to be ready again
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from cockpit.actions.base import (
    ActionFailed,
    Context,
    Plan,
    Run,
    kube_get,
    register,
    require_same,
)
from cockpit.actions.drain import Drain, node_path
from cockpit.actions.guest import GuestPower
from cockpit.alloc.ha import infer_distro
from cockpit.alloc.whatif import Scenario, WhatIfReport, what_if
from cockpit.model import Node, Snapshot
from cockpit.runbooks.base import Runbook, sub_run
from cockpit.runbooks.join import join_instructions, over_tailnet
from cockpit.triage.findings import find_findings
from cockpit.triage.incidents import build_incidents

CONTROL_PLANE_ROLES = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
ETCD_ROLE = "node-role.kubernetes.io/etcd"
K3S_ETCD_REMOVE = "etcd.k3s.cattle.io/remove"
# Labels the kubelet or the distribution sets by itself on a new node: never carried over.
AUTOMATIC_LABELS = re.compile(
    r"^(kubernetes\.io/(hostname|arch|os)|beta\.kubernetes\.io/.*|node\.kubernetes\.io/.*"
    r"|k3s\.io/.*|node-role\.kubernetes\.io/(control-plane|master|etcd))$"
)
# Taints the control plane manages (not-ready, unreachable, unschedulable ...).
AUTOMATIC_TAINTS = re.compile(r"^node\.kubernetes\.io/.*|^node-role\.kubernetes\.io/.*")
SYSTEM_CRITICAL = 2_000_000_000  # system-cluster-critical; system-node-critical is above
WAIT_AGENT = 600.0  # real seconds for a cloned VM's guest agent to answer
WAIT_JOIN = 1800.0  # for a person to run the join command and the node to be Ready
WAIT_POWER_OFF = 1800.0  # for a person to power off a bare-metal machine
WAIT_SETTLE = 300.0  # for the workloads to be ready again
TASK_BUDGET = 900.0  # a full clone copies every disk


def next_name(old: str, taken: set[str]) -> str:
    """worker-1 -> worker-3 when worker-2 exists; a name without a number gets "-2"."""
    match = re.match(r"^(.*?)(\d+)$", old)
    stem, number = (match.group(1), int(match.group(2))) if match else (old + "-", 1)
    while True:
        number += 1
        name = f"{stem}{number}"
        if name not in taken:
            return name


def carried_labels(node: Node) -> dict[str, str]:
    return {k: v for k, v in sorted(node.labels.items()) if not AUTOMATIC_LABELS.match(k)}


def carried_taints(node: Node) -> list[dict[str, str]]:
    return [
        {"key": t.key, "value": t.value, "effect": t.effect}
        for t in node.taints
        if not AUTOMATIC_TAINTS.match(t.key)
    ]


def is_control_plane(node: Node) -> bool:
    return any(role in node.labels for role in CONTROL_PLANE_ROLES)


@register
class ReplaceNode(Runbook):
    name = "replace"
    help = "replace a node with a new machine: drain, retire, provide, join, carry over, clean up"
    STAGES = (
        ("preflight", "Preflight", "make sure losing the node now is not an outage"),
        ("drain", "Cordon and drain", "move its pods off as kubectl drain does, PDBs respected"),
        ("retire", "Retire the old machine", "nothing may run on it while its successor joins"),
        ("provide", "Provide the new machine", "a machine like the old one, ready to join"),
        ("join", "Join the cluster", "the new machine registers as a node and is Ready"),
        ("carry-over", "Carry over labels and taints", "what was set by hand is not automatic"),
        ("clean-up", "Clean up", "the old Node object and tailnet machine go; pods settle"),
    )

    def __init__(
        self,
        ctx: Context,
        node: str,
        template: int | None = None,
        bare_metal: bool = False,
        new_name: str | None = None,
        force: bool = False,
        delete_emptydir_data: bool = False,
        evict_unmanaged: bool = False,
        cores: int | None = None,
        memory_mib: int | None = None,
    ) -> None:
        super().__init__(ctx)
        self.node = node
        self.template = template
        self.bare_metal = bare_metal
        self.new_name = new_name
        self.force = force
        self.delete_emptydir_data = delete_emptydir_data
        self.evict_unmanaged = evict_unmanaged
        self.cores = cores
        self.memory_mib = memory_mib

    # --- arguments -----------------------------------------------------------------------

    @classmethod
    def from_args(cls, ctx: Context, args: dict[str, Any]) -> ReplaceNode:
        return cls(
            ctx,
            str(args["node"]),
            args.get("template"),
            bool(args.get("bare_metal", False)),
            args.get("new_name"),
            bool(args.get("force", False)),
            bool(args.get("delete_emptydir_data", False)),
            bool(args.get("evict_unmanaged", False)),
            args.get("cores"),
            args.get("memory_mib"),
        )

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "node", nargs="?", metavar="NODE", help="the Kubernetes node to replace"
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="carry on with the unfinished replacement from its last verified stage",
        )
        parser.add_argument(
            "--template", type=int, metavar="VMID", help="the Proxmox template to clone"
        )
        parser.add_argument(
            "--bare-metal",
            action="store_true",
            help="the person powers the old machine off and sets up the new one",
        )
        parser.add_argument("--name", dest="new_name", metavar="NAME", help="the new node's name")
        parser.add_argument(
            "--force",
            action="store_true",
            help="go ahead even when the preflight predicts an outage",
        )
        parser.add_argument(
            "--delete-emptydir-data", action="store_true", help="passed to the drain"
        )
        parser.add_argument(
            "--evict-unmanaged",
            action="store_true",
            help="the drain also evicts pods no controller manages (kubectl drain --force)",
        )
        parser.add_argument("--cores", type=int, help="the new VM's cores (default: the old's)")
        parser.add_argument(
            "--memory", dest="memory_mib", type=int, metavar="MIB", help="the new VM's memory"
        )

    @classmethod
    def args_from_cli(cls, ns: argparse.Namespace) -> dict[str, Any]:
        return {key: getattr(ns, key) for key in cls._ARGS}

    _ARGS = (
        "node",
        "template",
        "bare_metal",
        "new_name",
        "force",
        "delete_emptydir_data",
        "evict_unmanaged",
        "cores",
        "memory_mib",
    )

    def args(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self._ARGS}

    # --- the plan ------------------------------------------------------------------------

    def plan(self) -> Plan:
        ctx = self.ctx
        plan = Plan(self.name, f"node/{self.node}", self.args(), endpoint=ctx.kube_endpoint)
        if not self.node:
            plan.blockers.append("name the node to replace (or --resume an unfinished one)")
            return plan
        if ctx.kube is None:
            plan.blockers.append("no Kubernetes connection: set [kubernetes] in the config")
            return plan
        snapshot = ctx.snapshot()
        node = snapshot.node_by_name.get(self.node)
        live = kube_get(ctx.kube, node_path(self.node))
        if node is None or live is None:
            known = ", ".join(sorted(snapshot.node_by_name)) or "none"
            plan.blockers.append(f"no node {self.node!r} in the cluster (nodes: {known})")
            return plan
        uid = str(live.get("metadata", {}).get("uid", ""))
        plan.preconditions[f"node/{self.node}"] = {"uid": uid}
        backing = snapshot.backing.get(self.node)
        guest = None
        if backing is not None and backing.vmid is not None and not self.bare_metal:
            guest = next((g for g in snapshot.guests if g.vmid == backing.vmid), None)
        mode = "proxmox" if guest is not None else "bare-metal"
        taken = {n.name for n in snapshot.nodes} | {g.name for g in snapshot.guests}
        new_name = self.new_name or next_name(self.node, taken)
        if new_name in snapshot.node_by_name:
            plan.blockers.append(f"a node named {new_name} exists already: pick --name")
        distro, evidence = infer_distro(snapshot)
        detail: dict[str, Any] = {
            "node": self.node,
            "node_uid": uid,
            "mode": mode,
            "new_name": new_name,
            "distro": distro,
            "distro_evidence": evidence,
            "ready": node.ready,
            "nodes_before": sorted(snapshot.node_by_name),
            "stages": [s.to_json() for s in self.stages],
        }
        plan.detail = detail
        self._preflight(plan, snapshot, node)
        self._plan_drain(plan, node)
        self._plan_retire(plan, snapshot, node, guest)
        if mode == "proxmox":
            self._plan_clone(plan, snapshot, guest, new_name)
        else:
            plan.summary.append(
                f"provide: set up the new machine {new_name} (OS installed, on the network"
                + (", Tailscale up" if over_tailnet(node.addresses) else "")
                + ", same architecture "
                + (node.arch or "as the old one")
                + ")"
            )
        self._plan_join(plan, node, new_name, distro)
        self._plan_carry_over(plan, node, new_name)
        plan.summary.append(
            f"clean up: delete the Node object {self.node}"
            + (" (k3s frees its node-password secret with it)" if distro == "k3s" else "")
            + "; remove the old machine from the tailnet admin console; wait for the "
            "workloads to be ready again"
        )
        plan.confirm_word = self.node
        plan.danger = (
            f"replaces node {self.node}: drains it, "
            + ("shuts down its VM, " if mode == "proxmox" else "waits for it to be powered off, ")
            + "and deletes its Node object"
        )
        return plan

    def _preflight(self, plan: Plan, snapshot: Snapshot, node: Node) -> None:
        report = what_if(snapshot, Scenario("lose-node", node.name))
        plan.detail["whatif"] = _prediction(report)
        outages = [w.ref for w in report.workloads if w.stays_down]
        critical = [
            f"{m.pod.namespace}/{m.pod.name}"
            for m in report.pending
            if m.pod.priority >= SYSTEM_CRITICAL
        ]
        brief = [w.ref for w in report.outages if not w.stays_down]
        plan.summary.append(
            f"preflight: losing {node.name} moves {len(report.placed)} pod(s), leaves "
            f"{len(report.pending)} Pending"
            + (f", down for good: {', '.join(outages)}" if outages else "")
        )
        problems = []
        if outages:
            problems.append(
                f"the other nodes cannot run {', '.join(outages)}: replacing {node.name} now "
                "is an outage until the new node joins"
            )
        if critical:
            problems.append(f"system-critical pods would stay Pending: {', '.join(critical)}")
        for problem in problems:
            if self.force:
                plan.warnings.append(f"{problem} (going ahead: --force)")
            else:
                plan.blockers.append(f"{problem}; add room first, or --force")
                _needs(plan, "--force")
        if brief:
            plan.warnings.append(
                f"{', '.join(brief)} run only on {node.name}: down while they move "
                "(`cockpit scale-ha` first keeps them up)"
            )
        for pdb in report.violated_pdbs:
            plan.warnings.append(
                f"PDB {pdb.namespace}/{pdb.name} is broken while {node.name} is gone"
            )
        if is_control_plane(node):
            self._preflight_control_plane(plan, snapshot, node)
        findings = find_findings(snapshot)
        incidents = build_incidents(snapshot, findings)
        plan.detail["incidents_now"] = [i.title for i in incidents]
        for incident in incidents[:3]:
            plan.warnings.append(f"triage now: {incident.severity}: {incident.title}")

    def _preflight_control_plane(self, plan: Plan, snapshot: Snapshot, node: Node) -> None:
        servers = [n for n in snapshot.nodes if is_control_plane(n)]
        if len(servers) == 1:
            plan.blockers.append(
                f"{node.name} is the only control-plane node: without it there is no API "
                "server, scheduler or controllers, and a new server cannot join a cluster "
                "that is gone. Add a second server first, or rebuild from a backup (k3s: "
                "`k3s etcd-snapshot save` or a copy of /var/lib/rancher/k3s/server; "
                "kubeadm: an etcd snapshot and /etc/kubernetes/pki)"
            )
            return
        plan.detail["control_plane"] = True
        if ETCD_ROLE in node.labels:
            members = [n for n in servers if ETCD_ROLE in n.labels]
            healthy_others = [n for n in members if n.name != node.name and n.ready]
            quorum = len(members) // 2 + 1
            if len(healthy_others) < quorum:
                plan.blockers.append(
                    f"etcd has {len(members)} members and needs {quorum} for quorum; without "
                    f"{node.name} only {len(healthy_others)} healthy remain: replace one "
                    "server at a time, after the others are Ready"
                )
            plan.detail["etcd_remove"] = True
            plan.summary.append(
                f"etcd: {node.name} is annotated {K3S_ETCD_REMOVE}=true before it goes, so "
                "k3s removes its member and the others keep quorum"
            )

    def _plan_drain(self, plan: Plan, node: Node) -> None:
        if not node.ready:
            plan.summary.append(
                f"drain: {node.name} is NotReady, so only a cordon is sent (its kubelet "
                "cannot stop pods; they are released when its Node object is deleted)"
            )
            return
        drain = Drain(
            self.ctx,
            node.name,
            force=self.evict_unmanaged,
            delete_emptydir_data=self.delete_emptydir_data,
        )
        inner = drain.plan()
        plan.detail["drain_plan"] = inner.to_json()
        plan.summary += [f"drain: {line}" for line in inner.summary]
        plan.warnings += [f"drain: {line}" for line in inner.warnings]
        for blocker in inner.blockers:
            if "--force" in blocker:
                blocker = blocker.replace("--force", "--evict-unmanaged")
            plan.blockers.append(f"drain: {blocker}")
        for flag in inner.detail.get("flags_needed", []):
            _needs(plan, "--evict-unmanaged" if flag == "--force" else flag)

    def _plan_retire(self, plan: Plan, snapshot: Snapshot, node: Node, guest: Any) -> None:
        if guest is None:
            plan.summary.append(
                f"retire: power off {node.name} yourself (bare metal); the runbook watches "
                "for it to go NotReady" + (" (it is NotReady already)" if not node.ready else "")
            )
            return
        if not guest.running:
            plan.summary.append(f"retire: VM {guest.name} ({guest.vmid}) is already stopped")
            return
        shutdown = GuestPower(self.ctx, "shutdown", guest.vmid)
        inner = shutdown.plan()
        plan.detail["retire_plan"] = inner.to_json()
        plan.summary.append(
            f"retire: shut down VM {guest.name} ({guest.vmid}) on {guest.host}; its node "
            "goes NotReady"
        )
        plan.blockers += [f"retire: {b}" for b in inner.blockers]

    def _plan_clone(self, plan: Plan, snapshot: Snapshot, old: Any, new_name: str) -> None:
        templates = [g for g in snapshot.guests if g.template and g.kind == "qemu"]
        template = None
        if self.template is not None:
            template = next((g for g in templates if g.vmid == self.template), None)
            if template is None:
                known = ", ".join(f"{g.vmid} ({g.name})" for g in templates) or "none"
                plan.blockers.append(f"{self.template} is not a VM template (templates: {known})")
        else:
            same_host = [g for g in templates if g.host == old.host] or templates
            if len(same_host) == 1:
                template = same_host[0]
            elif not same_host:
                plan.blockers.append(
                    "no VM template to clone: make one (`qm template VMID`) or use --bare-metal"
                )
            else:
                known = ", ".join(f"{g.vmid} ({g.name})" for g in same_host)
                plan.blockers.append(f"several templates ({known}): choose one with --template")
        cores = self.cores or old.vcpus
        memory_mib = self.memory_mib or old.memory // 2**20
        plan.detail["clone"] = {
            "template": template.vmid if template else None,
            "template_name": template.name if template else "",
            "host": template.host if template else old.host,
            "old_vmid": old.vmid,
            "name": new_name,
            "cores": cores,
            "memory_mib": memory_mib,
            "ipconfig0": "ip=dhcp",
        }
        if template is None:
            return
        plan.summary.append(
            f"provide: full-clone template {template.name} ({template.vmid}) on "
            f"{template.host} to a new VM {new_name} with {cores} cores and {memory_mib} MiB "
            "(the old VM's; --cores/--memory change them), DHCP by cloud-init; start it and "
            "wait for its guest agent"
        )
        if template.disk_total < old.disk_total:
            plan.warnings.append(
                f"the template's disks ({template.disk_total / 2**30:.0f} GiB) are smaller "
                f"than the old VM's ({old.disk_total / 2**30:.0f} GiB): grow the clone's disk "
                "afterwards (`qm disk resize NEWID scsi0 SIZE`)"
            )

    def _plan_join(self, plan: Plan, node: Node, new_name: str, distro: str) -> None:
        instructions = join_instructions(
            distro,
            self.ctx.kube_endpoint,
            new_name,
            over_tailnet(node.addresses),
            control_plane=is_control_plane(node),
        )
        plan.detail["join"] = instructions.to_json()
        plan.detail["tailnet"] = over_tailnet(node.addresses)
        plan.summary.append(
            f"join: {new_name} joins as a {instructions.flavour} "
            + ("server" if is_control_plane(node) else "agent")
            + " (the command is shown when it is time); the runbook waits until it is Ready"
        )

    def _plan_carry_over(self, plan: Plan, node: Node, new_name: str) -> None:
        labels, taints = carried_labels(node), carried_taints(node)
        plan.detail["carry"] = {"labels": labels, "taints": taints}
        if labels or taints:
            words = [f"{k}={v}" for k, v in labels.items()]
            words += [f"taint {t['key']}={t['value']}:{t['effect']}" for t in taints]
            plan.summary.append(f"carry over to {new_name}: {', '.join(words)}")
        else:
            plan.summary.append(f"carry over: {node.name} has no hand-set labels or taints")

    # --- execution -----------------------------------------------------------------------

    def execute(self, run: Run) -> str:
        results = self.run_stages(run)
        new = results.get("join", {}).get("node", "?")
        took = sum((s.seconds or 0.0) for s in self.stages)
        lines = [
            f"{s.title}: {s.seconds:.0f} s" if s.seconds is not None else s.title
            for s in self.stages
        ]
        return f"{self.node} replaced by {new} in {took:.0f} s ({'; '.join(lines)})"

    def stage_preflight(self, run: Run) -> dict[str, Any]:
        live = kube_get(self.ctx.kube, node_path(self.node))
        require_same(f"node/{self.node}", live, run.plan.preconditions[f"node/{self.node}"])
        return {"said": f"{self.node} is the node the plan was made for"}

    def stage_drain(self, run: Run) -> dict[str, Any]:
        detail = run.plan.detail
        saved = detail.get("drain_plan")
        if not saved:
            uid = detail["node_uid"]
            run.step(
                f"cordon node/{self.node} uid={uid}",
                f"cordon node {self.node}",
                lambda: _done(self.ctx.kube.cordon(self.node, True, uid=uid)),
            )
            return {"said": f"{self.node} cordoned (NotReady: nothing to evict)"}
        inner = Plan.from_json(saved)
        said = Drain.from_args(self.ctx, inner.args).execute(sub_run(run, inner))
        return {"said": said}

    def stage_retire(self, run: Run) -> dict[str, Any]:
        detail = run.plan.detail
        if detail.get("etcd_remove"):
            uid = detail["node_uid"]
            run.step(
                f"annotate node/{self.node} {K3S_ETCD_REMOVE} uid={uid}",
                f"ask k3s to remove {self.node}'s etcd member",
                lambda: _done(
                    self.ctx.kube.patch_node_metadata(
                        self.node, annotations={K3S_ETCD_REMOVE: "true"}, uid=uid
                    )
                ),
            )
        saved = detail.get("retire_plan")
        if saved:
            inner = Plan.from_json(saved)
            said = GuestPower.from_args(self.ctx, inner.args).execute(sub_run(run, inner))
            return {"said": said}
        if detail["mode"] == "proxmox":
            return {"said": "the VM was stopped already"}
        self.waiting_for(
            run,
            "retire",
            f"{self.node} to be powered off (NotReady)",
            lambda: True if self._node_down() else None,
            WAIT_POWER_OFF,
            f"power off {self.node} (unplug it, or `sudo poweroff` on it)",
        )
        return {"said": f"{self.node} is off"}

    def _node_down(self) -> bool:
        live = kube_get(self.ctx.kube, node_path(self.node))
        if live is None:
            return True
        for condition in live.get("status", {}).get("conditions", []):
            if condition.get("type") == "Ready":
                return condition.get("status") != "True"
        return False

    def stage_provide(self, run: Run) -> dict[str, Any]:
        detail = run.plan.detail
        if detail["mode"] != "proxmox":
            for line in (
                f"set up the new machine {detail['new_name']}: install the OS",
                "give it a network address the cluster can reach"
                + (" and bring Tailscale up (`tailscale up`)" if detail.get("tailnet") else ""),
                "the join command comes in the next step",
            ):
                run.note(f"checklist: {line}")
            return {"said": "checklist shown"}
        pve = self.ctx.proxmox
        spec = detail["clone"]
        host, template, name = spec["host"], int(spec["template"]), spec["name"]
        newid = int(run.step("nextid", "ask Proxmox for a free VMID", pve.next_vmid))
        clone_key = f"clone {template} -> {newid}"
        if clone_key in run.in_flight and self._guest_exists(newid):
            run.note(f"VM {newid} exists already: the clone was sent before the interruption")
            run.done[clone_key] = ""
        upid = run.step(
            clone_key,
            f"full-clone template {spec['template_name']} ({template}) to VM {newid} ({name})",
            lambda: pve.clone(host, template, newid, name, full=True),
        )
        if upid:
            self._follow_task(run, host, upid, f"clone to VM {newid}")
        run.step(
            f"config {newid}",
            f"give VM {newid} {spec['cores']} cores, {spec['memory_mib']} MiB, DHCP",
            lambda: _done(
                pve.set_config(
                    host,
                    newid,
                    cores=spec["cores"],
                    memory=spec["memory_mib"],
                    ipconfig0=spec["ipconfig0"],
                )
            ),
        )
        start_key = f"start {newid}"
        if start_key in run.in_flight and pve.guest_status(host, newid, "qemu").status == "running":
            run.done[start_key] = ""
        upid = run.step(
            start_key, f"start VM {newid}", lambda: pve.power(host, newid, "start", kind="qemu")
        )
        if upid:
            self._follow_task(run, host, upid, f"start of VM {newid}")
        self.waiting_for(
            run,
            "provide",
            f"the guest agent of VM {newid} ({name})",
            lambda: True if pve.agent_ping(host, newid) else None,
            WAIT_AGENT,
            "is qemu-guest-agent installed and enabled in the template?",
        )
        addresses = list(pve.agent_addresses(host, newid))
        return {"vmid": newid, "addresses": addresses, "said": f"VM {newid} up at {addresses}"}

    def _guest_exists(self, vmid: int) -> bool:
        return any(g.vmid == vmid for g in self.ctx.snapshot().guests)

    def _follow_task(self, run: Run, host: str, upid: str, what: str) -> None:
        status = self.ctx.proxmox.wait_task(host, upid, timeout=TASK_BUDGET)
        if not status.ok:
            tail = self.ctx.proxmox.task_log(host, upid)[-6:]
            raise ActionFailed(f"the {what} failed: {status.exitstatus}; log: {' | '.join(tail)}")
        run.note(f"{what}: task OK")

    def stage_join(self, run: Run) -> dict[str, Any]:
        detail = run.plan.detail
        join = detail["join"]
        run.note(f"on a server, mint a token: {join['mint']}")
        run.note(f"on {detail['new_name']}, run: {join['command']}")
        for note in join["notes"]:
            run.note(note)
        if detail["mode"] == "proxmox":
            run.note("a template with cloud-init that runs the join itself needs nothing more")
        before = set(detail["nodes_before"])
        wanted = detail["new_name"]
        name = self.waiting_for(
            run,
            "join",
            f"a new node ({wanted}) to be Ready",
            lambda: self._joined(before, wanted),
            WAIT_JOIN,
            "run the join command on the new machine (see above)",
        )
        if detail.get("tailnet"):
            self.waiting_for(
                run,
                "join",
                f"{name}'s tailnet peer to be online",
                lambda: self._peer_online(name),
                WAIT_JOIN,
                f"is Tailscale up on {name}?",
            )
        return {"node": name, "said": f"{name} is Ready"}

    def _joined(self, before: set[str], wanted: str) -> str | None:
        nodes = self.ctx.snapshot().node_by_name
        if wanted in nodes and nodes[wanted].ready:
            return wanted
        new = sorted(n for n, node in nodes.items() if n not in before and node.ready)
        if self.new_name is None and len(new) == 1:
            return new[0]  # a bare-metal machine may register under its own hostname
        return None

    def _peer_online(self, node: str) -> bool | None:
        snapshot = self.ctx.snapshot()
        peer = self.ctx.links().node_peer.get(node)
        online = any(peer in (p.key, p.hostname) and p.online for p in snapshot.peers)
        return True if peer and online else None

    def stage_carry_over(self, run: Run) -> dict[str, Any]:
        detail = run.plan.detail
        new = run.done["stage join"]["node"]
        live = kube_get(self.ctx.kube, node_path(new))
        if live is None:
            raise ActionFailed(f"{new} is gone again; check `kubectl get node {new}`")
        uid = str(live["metadata"].get("uid", ""))
        labels = {
            k: v
            for k, v in detail["carry"]["labels"].items()
            if live["metadata"].get("labels", {}).get(k) != v
        }
        have = live.get("spec", {}).get("taints") or []
        keys = {(t.get("key"), t.get("effect")) for t in have}
        taints = [t for t in detail["carry"]["taints"] if (t["key"], t["effect"]) not in keys]
        if labels or taints:
            run.step(
                f"label node/{new} uid={uid}",
                f"set on {new}: "
                + ", ".join([f"{k}={v}" for k, v in labels.items()] + [t["key"] for t in taints]),
                lambda: _done(
                    self.ctx.kube.patch_node_metadata(
                        new,
                        labels=labels or None,
                        taints=(have + taints) if taints else None,
                        uid=uid,
                    )
                ),
            )
        if live.get("spec", {}).get("unschedulable"):
            run.step(
                f"uncordon node/{new} uid={uid}",
                f"uncordon {new}",
                lambda: _done(self.ctx.kube.cordon(new, False, uid=uid)),
            )
        return {"said": f"{len(labels)} label(s), {len(taints)} taint(s) set on {new}"}

    def stage_clean_up(self, run: Run) -> dict[str, Any]:
        detail = run.plan.detail
        uid = detail["node_uid"]
        if kube_get(self.ctx.kube, node_path(self.node)) is not None:
            run.step(
                f"delete node/{self.node} uid={uid}",
                f"delete the Node object {self.node}",
                lambda: _done(self.ctx.kube.delete_node(self.node, uid=uid)),
            )
        self.waiting_for(
            run,
            "clean-up",
            f"{self.node} to leave the cockpit's view",
            lambda: True if self.node not in self.ctx.snapshot().node_by_name else None,
            60.0,
            "the watch may be behind; check `kubectl get nodes`",
        )
        peer = self.ctx.links().node_peer.get(self.node) or detail.get("old_peer")
        if detail.get("tailnet") or peer:
            run.note(
                f"remove the old machine {peer or self.node} from the tailnet: admin console "
                "→ Machines → its ⋯ menu → Remove (tailscaled's LocalAPI cannot do it); or "
                "`tailscale logout` on it before it is wiped"
            )
        settled = self.waiting_for(
            run,
            "clean-up",
            f"every workload to be ready again and {self.node}'s pods to be gone",
            self._settled,
            WAIT_SETTLE,
            "look at `cockpit check` for what is still down",
        )
        snapshot = self.ctx.snapshot()
        left = [f for f in find_findings(snapshot) if not f.risk and f.severity != "info"]
        for finding in left:
            run.note(f"still to look at: {finding.severity}: {finding.text}")
        if any(f.code == "NODE-MEMORY-USE" for f in left):
            run.note(
                "the pods the drain moved stay where they landed; restart the workloads on "
                "the busiest node to spread them onto the new one (`cockpit restart NS/KIND/NAME`)"
            )
        return {
            "said": f"{self.node} removed; {settled}; {len(left)} finding(s) left",
            "findings_left": [f"{f.code} {f.obj.ref}" for f in left],
        }

    def _settled(self) -> str | None:
        snapshot = self.ctx.snapshot()
        behind = [
            w.ref
            for w in snapshot.workloads
            if w.kind != "DaemonSet" and (w.ready_replicas or 0) < w.replicas
        ]
        stuck = snapshot.pods_by_node.get(self.node, [])
        if behind or stuck:
            return None
        return f"{len(snapshot.workloads)} workloads ready"

    def cancelled(self, run: Run) -> str:
        stage = next((s for s in self.stages if s.state in ("running", "waiting")), None)
        where = f"at '{stage.title}'" if stage else "between stages"
        return (
            f"cancelled {where}; what was done stays done ({self.node} stays cordoned). "
            "`cockpit resume` carries on from the last verified stage"
        )


def _needs(plan: Plan, flag: str) -> None:
    """A flag that would lift a blocker (the screen offers to plan again with it)."""
    needed = plan.detail.setdefault("flags_needed", [])
    if flag not in needed:
        needed.append(flag)


def _done(_: Any) -> str:
    """What a write step records: the fact it happened (the API's answer can be large)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def _prediction(report: WhatIfReport) -> dict[str, Any]:
    return {
        "moves": len(report.placed),
        "pending": [
            {"pod": f"{m.pod.namespace}/{m.pod.name}", "priority": m.pod.priority}
            for m in report.pending
        ],
        "outages": [w.ref for w in report.outages],
        "down_for_good": [w.ref for w in report.workloads if w.stays_down],
        "pdbs_broken": [f"{p.namespace}/{p.name}" for p in report.violated_pdbs],
    }
