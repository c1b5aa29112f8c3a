"""The cockpit's action keys and `:` action commands: from the selection to a plan, the
plan modal, the run modal, the journal view and the resume offer (cockpit.actions does the
work; cockpit.ui.screens.actions shows it).

A mixin of CockpitApp, kept apart so the app module stays about panes and data: it is part
of the app, and with app.py the only module that opens screens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App

from cockpit.actions.base import REGISTRY, Action, Context, Plan, abandon
from cockpit.actions.journal import Journal
from cockpit.model import Snapshot
from cockpit.relations import Selection
from cockpit.runbooks.base import Runbook
from cockpit.runbooks.catalog import everything as load_actions
from cockpit.ui.commands import BY_NAME
from cockpit.ui.host import StartAction
from cockpit.ui.screens.actions import (
    JournalScreen,
    PlanScreen,
    PowerMenu,
    ResumeScreen,
    RunScreen,
    flag_args,
)
from cockpit.ui.screens.runbook import RunbookScreen

# Keys that change the lab: unbound (and hidden) in read-only mode.
MUTATING = frozenset({"drain", "cordon", "uncordon", "restart", "scale_ha", "power", "replace"})


class ActionKeys(App[None]):
    # Provided by CockpitApp.
    readonly: bool
    action_context: Callable[[], Context] | None
    selection: Selection | None
    related: dict[str, set[str]]
    snapshot: Snapshot

    def run_action_command(self, name: str, args: list[str]) -> bool:
        """`:drain NODE`, `:restart NS/KIND/NAME`, `:guest stop 102`, …"""
        if name == "journal":
            self.action_journal()
        elif name == "resume":
            self._offer_resume(always=True)
        elif name in ("drain", "cordon", "uncordon", "replace") and len(args) == 1:
            self.start_action(name, {"node": args[0]})
        elif name == "restart" and len(args) <= 1:
            self.start_action("restart", {"target": args[0]} if args else {})
        elif name == "scale-ha":
            self.start_action("scale-ha", {})
        elif name == "scale" and len(args) == 2 and args[1].isdigit():
            self.start_action("scale", {"target": args[0], "replicas": int(args[1])})
        elif name == "guest" and len(args) == 2 and args[1].isdigit():
            self.start_action("guest", {"power": args[0], "vmid": int(args[1])})
        else:
            self.notify(f"usage: {BY_NAME[name].help}", severity="warning")
            return False
        return True

    # --- actions -----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only mode unbinds every key that would change the lab, and binds the same
        keys to a refusal that says so."""
        if action == "refuse":
            return self.readonly
        return not (self.readonly and action in MUTATING)

    def action_refuse(self, name: str) -> None:
        self.notify(f"read-only: {name} is disabled (started with --readonly)", severity="warning")

    def _live_context(self) -> Context | None:
        if self.action_context is None:
            self.notify(
                "nothing to act on: this screen shows a frozen snapshot (run `cockpit` or "
                "`cockpit demo` for live sources)",
                severity="warning",
            )
            return None
        return self.action_context()

    def on_start_action(self, message: StartAction) -> None:
        self.start_action(message.name, message.args)

    def start_action(self, name: str, args: dict[str, Any]) -> None:
        """Plan (in a thread: it reads the APIs), show the plan, run it once confirmed."""
        if self.readonly:
            self.notify(f"read-only: {name} is disabled (read-only mode)", severity="warning")
            return
        ctx = self._live_context()
        if ctx is None:
            return
        load_actions()
        action = REGISTRY[name].from_args(ctx, args)
        self.notify(f"planning {name}…", timeout=2)
        self.run_worker(lambda: self._plan(action), thread=True, exit_on_error=False)

    def _plan(self, action: Action) -> None:
        try:
            plan = action.plan()
        except Exception as exc:  # an unknown name, an unreachable API: say it, stay up
            self.call_from_thread(self.notify, f"cannot plan: {exc}", severity="error")
            return
        self.call_from_thread(self._show_plan, action, plan)

    def _show_plan(self, action: Action, plan: Plan) -> None:
        def answered(answer: str | None) -> None:
            if answer == "run":
                self.push_screen(_run_screen(action, plan))
            elif answer == "replan":
                self.start_action(action.name, flag_args(plan))

        self.push_screen(PlanScreen(plan), answered)

    def _selected_node(self) -> str | None:
        if self.selection is None:
            return None
        kind, key = self.selection
        if kind == "node":
            return key
        nodes = self.related.get("node", set())
        if kind in ("pod", "guest") and len(nodes) == 1:
            return next(iter(nodes))
        return None

    def _node_action(self, name: str) -> None:
        node = self._selected_node()
        if node is None:
            self.notify(f"select a node (or a pod or VM of one) to {name}", severity="warning")
            return
        self.start_action(name, {"node": node})

    def action_drain(self) -> None:
        self._node_action("drain")

    def action_replace(self) -> None:
        """The node-replacement runbook for the selected node (plan first, as every action)."""
        self._node_action("replace")

    def action_cordon(self) -> None:
        self._node_action("cordon")

    def action_uncordon(self) -> None:
        self._node_action("uncordon")

    def action_restart(self) -> None:
        """The selected pod's Deployment/StatefulSet/DaemonSet; CoreDNS otherwise."""
        target = None
        if self.selection is not None and self.selection[0] == "pod":
            namespace, _, name = self.selection[1].partition("/")
            owner = self.snapshot.workload_of_pod.get((namespace, name))
            if owner is not None:
                kind, ns, workload = owner
                target = f"{ns}/{kind.lower()}/{workload}"
        self.start_action("restart", {"target": target} if target else {})

    def action_scale_ha(self) -> None:
        self.start_action("scale-ha", {})

    def action_power(self) -> None:
        guests = self.related.get("guest", set())
        if self.selection is None or len(guests) != 1:
            self.notify("select a guest (or a node on one) to power it", severity="warning")
            return
        key = next(iter(guests))
        vmid = int(key.rsplit("/", 1)[1])

        def chosen(power: str | None) -> None:
            if power:
                self.start_action("guest", {"power": power, "vmid": vmid})

        self.push_screen(PowerMenu(key), chosen)

    def action_journal(self) -> None:
        ctx = self.action_context() if self.action_context else None
        self.push_screen(JournalScreen(ctx.journal if ctx else Journal()))

    def _offer_resume(self, always: bool = False) -> None:
        """At start-up (and on :resume), what a lost session left unfinished."""
        if self.action_context is None or self.readonly:
            return
        ctx = self.action_context()
        unfinished = ctx.journal.unfinished()
        if not unfinished:
            if always:
                self.notify("nothing to resume: every journaled action ended")
            return
        load_actions()

        def chosen(choice: tuple[str, Any] | None) -> None:
            if choice is None:
                return
            what, record = choice
            if what == "abandon":
                abandon(record, ctx.journal)
                self.notify(f"abandoned {record.action} {record.target}")
                return
            cls = REGISTRY.get(record.action)
            if cls is None:
                self.notify(f"unknown action {record.action!r} in the journal", severity="error")
                return
            plan = Plan.from_json(record.start.get("plan") or {})
            self.push_screen(_run_screen(cls.from_args(ctx, record.args), plan, record))

        self.push_screen(ResumeScreen(unfinished), chosen)


def _run_screen(action: Action, plan: Plan, record: Any = None) -> RunScreen:
    """A runbook gets its stages shown beside the progress lines."""
    if isinstance(action, Runbook):
        return RunbookScreen(action, plan, record)
    return RunScreen(action, plan, record)
