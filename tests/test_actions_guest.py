"""Guest power against the running lab: the real adapters over real sockets, PVE tasks and
the Kubernetes node lifecycle on one fast lab clock, and the real kubectl as a witness."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from kubectl_cli import kubectl_ok

from cockpit import labfile
from cockpit.actions.base import Context, perform, resume
from cockpit.actions.guest import GuestPower
from cockpit.actions.journal import Journal
from cockpit.alloc.whatif import Scenario, what_if
from cockpit.config import load_config
from cockpit.inventory import Inventory, from_config
from cockpit.lab.kube.meta import NODE_GRACE, parse_time
from cockpit.lab.runner import RunningLab

SPEED = 40  # lab seconds per real second: a 40 s node grace period passes in one second


class Crash(BaseException):
    """The process dying mid-action (a lost SSH session, a kill): nothing catches it."""


@dataclass
class Cockpit:
    """A running lab and a cockpit connected to it through the config file the lab wrote."""

    lab: RunningLab
    inventory: Inventory
    ctx: Context
    lines: list[str] = field(default_factory=list)

    def action(self, power: str, vmid: int, **options: Any) -> GuestPower:
        return GuestPower(self.ctx, power, vmid, **options)

    def vmid(self, node: str) -> int:
        vmid = self.inventory.links.backing[node].vmid
        assert vmid is not None, f"node {node} runs on no guest"
        return vmid

    def refresh(self) -> None:
        """Poll Proxmox again, as the cockpit does every few seconds."""
        self.inventory.poll("proxmox", self.inventory.proxmox)
        self.inventory.publish()

    def posts(self, suffix: str = "") -> list[str]:
        return self.lab.proxmox.paths("POST", suffix)

    def no_token(self, *texts: str) -> None:
        secret = self.lab.secret.reveal()
        journal = self.ctx.journal.path.read_text() if self.ctx.journal.path.exists() else ""
        assert secret not in journal, "the PVE token is in the journal"
        assert not any(secret in t for t in (*texts, *self.lines)), "the PVE token was shown"


@pytest.fixture
def open_lab(tmp_path: Path) -> Iterator[Callable[..., Cockpit]]:
    opened: list[Cockpit] = []

    def open_(name: str, readonly: bool = False) -> Cockpit:
        lab = RunningLab(labfile.load(name), speed=SPEED, directory=tmp_path / "lab").start()
        config = replace(load_config(lab.config_path), readonly=readonly)
        inventory = from_config(config)
        inventory.refresh(timeout=30)
        ctx = Context(
            snapshot=lambda: inventory.snapshot,
            links=lambda: inventory.links,
            # No secrets to scrub: a leak must show up in the file, not be hidden by it.
            journal=Journal(tmp_path / "state" / "journal.jsonl"),
            kube=inventory.kube,
            proxmox=inventory.proxmox,
            readonly=readonly,
            poll_every=0.05,
        )
        opened.append(Cockpit(lab, inventory, ctx))
        return opened[-1]

    yield open_
    for c in opened:
        c.inventory.stop()
        c.lab.stop()


def ready(lab: RunningLab, node: str) -> dict:
    conditions = lab.kube.store.get("nodes", ("", node))["status"]["conditions"]
    return next(c for c in conditions if c["type"] == "Ready")


def kubectl_status(lab: RunningLab, node: str) -> str:
    return kubectl_ok(lab.kube.kubeconfig, "get", "node", node, "--no-headers").split()[1]


def task_of(lab: RunningLab, kind: str, vmid: int) -> Any:
    [task] = [t for t in lab.world.tasks.values() if t.type == kind and t.id == str(vmid)]
    return task


def test_shutdown_of_a_worker_vm_takes_its_node_down_and_start_brings_it_back(open_lab):
    c = open_lab("n100")
    vmid = c.vmid("worker-1")
    shutdown = c.action("shutdown", vmid, timeout=120)
    plan = shutdown.plan()
    assert plan.blockers == []
    assert plan.confirm_word is None  # a clean shutdown asks for no typed name
    assert "Kubernetes node worker-1 (Ready)" in "\n".join(plan.summary)

    outcome = perform(shutdown, plan, c.lines.append)

    assert outcome.status == "succeeded", outcome.message
    assert c.posts("/status/shutdown") == [f"/nodes/pve/qemu/{vmid}/status/shutdown"]
    task = task_of(c.lab, "qmshutdown", vmid)
    assert (task.status, task.exitstatus) == ("stopped", "OK")
    assert "  TASK OK" in c.lines  # the log was shown as the task ran
    assert not c.lab.world.guests[vmid].running
    # The node went NotReady through the node controller, a grace period after the guest
    # stopped (lab time), and the action waited for it.
    condition = ready(c.lab, "worker-1")
    assert condition["status"] == "Unknown"
    assert parse_time(condition["lastTransitionTime"]) - task.endtime >= NODE_GRACE - 1
    assert "node worker-1 reports NotReady" in outcome.message
    assert kubectl_status(c.lab, "worker-1") == "NotReady"

    c.refresh()
    start = c.action("start", vmid)
    plan = start.plan()
    assert plan.blockers == []
    assert "node worker-1 should report Ready" in "\n".join(plan.summary)
    # Stopped, the guest reports no addresses to link it by: the inventory keeps the link it
    # had (a freshly started cockpit would take it from the journal instead).
    assert c.inventory.links.how["node worker-1"].startswith("kept while guest")
    outcome = perform(start, plan, c.lines.append)

    assert outcome.status == "succeeded", outcome.message
    assert c.posts("/status/start") == [f"/nodes/pve/qemu/{vmid}/status/start"]
    assert c.lab.world.guests[vmid].running
    assert ready(c.lab, "worker-1")["status"] == "True"
    assert "node worker-1 is Ready" in outcome.message
    assert kubectl_status(c.lab, "worker-1") == "Ready"
    c.no_token(outcome.message)


def test_stop_plan_of_the_coredns_vm_names_node_pods_prediction_and_confirm_word(open_lab):
    c = open_lab("tailnet")
    snap = c.inventory.snapshot
    [dns] = [p for p in snap.pods if p.name.startswith("coredns-")]
    node = dns.node
    assert node is not None
    vmid = c.vmid(node)  # seed 004: the only CoreDNS runs on one of the friend's VMs
    guest = next(g for g in snap.guests if g.vmid == vmid)

    plan = c.action("stop", vmid).plan()

    assert plan.blockers == []
    assert plan.confirm_word == guest.name
    assert node in plan.danger and "kube-system/deployment/coredns" in plan.danger
    summary = "\n".join(plan.summary)
    assert f"Kubernetes node {node} (Ready)" in summary
    for pod in snap.pods_by_node[node]:
        assert f"{pod.namespace}/{pod.name}" in summary
    # The plan shows the engine's prediction for losing the node, move by move.
    report = what_if(snap, Scenario("lose-node", node))
    assert any(m.pod.name == dns.name and m.target not in (None, node) for m in report.placed)
    for move in report.placed:
        assert f"{move.pod.namespace}/{move.pod.name} → {move.target}" in summary
    assert any(
        w.startswith("kube-system/deployment/coredns loses every ready replica")
        for w in plan.warnings
    )
    assert any(f"`cockpit drain {node}`" in w for w in plan.warnings)
    outages = plan.detail["prediction"][node]["outages"]
    assert "kube-system/deployment/coredns" in [o["workload"] for o in outages]
    # A shutdown asks for no typed name; one that may end in a hard stop does.
    assert c.action("shutdown", vmid).plan().confirm_word is None
    assert c.action("shutdown", vmid, force_stop=True).plan().confirm_word == guest.name
    assert c.posts() == []  # planning sends nothing


def test_a_shutdown_that_times_out_fails_with_the_task_log(open_lab):
    c = open_lab("n100")
    vmid = c.vmid("worker-2")
    c.lab.world.shutdown_seconds[vmid] = 600.0  # a guest OS that ignores the ACPI request
    action = c.action("shutdown", vmid, timeout=5)

    outcome = perform(action, action.plan(), c.lines.append)

    assert outcome.status == "failed"
    assert "VM quit/powerdown failed - got timeout" in outcome.message
    upid = task_of(c.lab, "qmshutdown", vmid).upid
    # PVE's log, quoted: what the operator would read in the web UI's task viewer.
    assert f"starting task {upid}" in outcome.message
    assert "TASK ERROR: VM quit/powerdown failed - got timeout" in outcome.message
    assert "--force-stop" in outcome.message
    assert "is running now" in outcome.message
    assert c.lab.world.guests[vmid].running
    [record] = c.ctx.journal.records()
    assert record.status == "failed"
    c.no_token(outcome.message)


def test_read_only_refuses_and_pve_sees_no_post(open_lab):
    c = open_lab("n100", readonly=True)
    vmid = c.vmid("worker-1")
    action = c.action("stop", vmid)
    plan = action.plan()
    assert plan.confirm_word  # planning works read-only

    outcome = perform(action, plan, c.lines.append)
    assert outcome.status == "refused"
    assert "read-only" in outcome.message
    # Below the action layer, the adapter refuses the write too.
    writable = replace(c.ctx, readonly=False)
    outcome = perform(GuestPower(writable, "stop", vmid), plan, c.lines.append)
    assert outcome.status == "failed"
    assert "read-only" in outcome.message

    assert c.posts() == []
    assert c.lab.world.guests[vmid].running


def test_resume_after_the_call_was_sent_follows_the_recorded_task(open_lab):
    c = open_lab("n100")
    vmid = c.vmid("worker-1")
    c.lab.world.shutdown_seconds[vmid] = 80.0  # 2 real seconds: running at the crash
    action = c.action("shutdown", vmid)

    def dies_once_sent(line: str) -> None:
        c.lines.append(line)
        if line.startswith("PVE task UPID:"):
            raise Crash()

    with pytest.raises(Crash):
        perform(action, action.plan(), dies_once_sent)
    sent = c.posts("/status/shutdown")
    assert len(sent) == 1
    [record] = c.ctx.journal.unfinished()
    [upid] = [v for k, v in record.done.items() if k.startswith("shutdown ")]
    assert c.lab.world.tasks[upid].status == "running"  # the task goes on without us
    polled = len(c.lab.proxmox.paths("GET", f"/tasks/{upid}/status"))

    outcome = resume(record, c.ctx, c.lines.append)

    assert outcome.status == "succeeded", outcome.message
    assert c.posts("/status/shutdown") == sent  # not sent a second time
    assert len(c.lab.proxmox.paths("GET", f"/tasks/{upid}/status")) > polled
    assert upid in outcome.message
    assert not c.lab.world.guests[vmid].running
    assert c.ctx.journal.unfinished() == []
    c.no_token(outcome.message)


class DiesWithTheCallInFlight(Journal):
    """The process dies after the power call went out, before its result was recorded."""

    def write(self, entry: Any) -> dict[str, Any]:
        if entry.get("event") == "done" and str(entry.get("step", "")).startswith("stop "):
            raise Crash()
        return super().write(entry)


class DiesBeforeTheCall(Journal):
    """The process dies after the step's begin line, before the call left."""

    def write(self, entry: Any) -> dict[str, Any]:
        line = super().write(entry)
        if entry.get("event") == "begin" and str(entry.get("step", "")).startswith("stop "):
            raise Crash()
        return line


def test_resume_with_the_call_in_flight_looks_for_the_task_before_sending(open_lab):
    c = open_lab("n100")
    path = c.ctx.journal.path
    opnsense = 100  # a guest under no Kubernetes node
    action = GuestPower(replace(c.ctx, journal=DiesWithTheCallInFlight(path)), "stop", opnsense)
    with pytest.raises(Crash):
        perform(action, action.plan(), c.lines.append)
    sent = c.posts("/status/stop")
    assert len(sent) == 1
    [record] = c.ctx.journal.unfinished()
    assert len(record.in_flight) == 1

    outcome = resume(record, c.ctx, c.lines.append)

    assert outcome.status == "succeeded", outcome.message
    assert c.posts("/status/stop") == sent  # found among the node's tasks, not re-sent
    assert any(line.startswith("pick up task UPID:") for line in c.lines)
    assert not c.lab.world.guests[opnsense].running

    # Died before the call left: nothing in the node's tasks, so resume sends it once.
    master = c.vmid("k3s-master")
    action = GuestPower(replace(c.ctx, journal=DiesBeforeTheCall(path)), "stop", master)
    with pytest.raises(Crash):
        perform(action, action.plan(), c.lines.append)
    assert c.posts(f"/{master}/status/stop") == []
    [record] = c.ctx.journal.unfinished()

    outcome = resume(record, c.ctx, c.lines.append)

    assert outcome.status == "succeeded", outcome.message
    assert len(c.posts(f"/{master}/status/stop")) == 1
    assert not c.lab.world.guests[master].running


def test_blockers_and_a_guest_replaced_under_the_plan(open_lab):
    c = open_lab("n100")
    vmid = c.vmid("worker-1")
    start = c.action("start", vmid)
    plan = start.plan()
    assert plan.blockers == ["VM k3s-worker-1 (102) is already running: nothing to start"]
    assert perform(start, plan).status == "refused"

    [unknown] = c.action("shutdown", 999).plan().blockers
    assert "no guest with VMID 999" in unknown and "102 k3s-worker-1" in unknown
    assert "--force-stop applies to shutdown only (stop is always hard)" in (
        c.action("stop", vmid, force_stop=True).plan().blockers
    )
    c.lab.proxmox.locks[vmid] = "backup"
    assert any("is locked (backup)" in b for b in c.action("shutdown", vmid).plan().blockers)
    del c.lab.proxmox.locks[vmid]

    shutdown = c.action("shutdown", vmid)
    plan = shutdown.plan()
    with c.lab.world.lock:  # VMID 102 destroyed and re-created as another guest
        c.lab.world.guests[vmid] = replace(c.lab.world.guests[vmid], name="scratch")
    outcome = perform(shutdown, plan, c.lines.append)
    assert outcome.status == "changed"
    assert "'scratch', not 'k3s-worker-1'" in outcome.message
    assert c.posts() == []
    c.no_token(unknown, outcome.message)


def test_cancel_stops_following_and_says_the_task_runs_on(open_lab):
    c = open_lab("n100")
    vmid = c.vmid("worker-2")
    c.lab.world.shutdown_seconds[vmid] = 600.0  # 15 real seconds: running when cancelled
    action = c.action("shutdown", vmid)
    cancel = threading.Event()

    def cancel_once_sent(line: str) -> None:
        c.lines.append(line)
        if line.startswith("PVE task UPID:"):
            cancel.set()

    outcome = perform(action, action.plan(), cancel_once_sent, cancel)

    assert outcome.status == "cancelled"
    task = task_of(c.lab, "qmshutdown", vmid)
    assert task.status == "running"
    assert "keeps running" in outcome.message and task.upid in outcome.message
