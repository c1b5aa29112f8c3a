"""What every mutating action shares: a plan, then (once confirmed) journaled steps.

An Action makes a Plan from what the cockpit knows (the snapshot and the allocation
engine), and its `execute` does the work through `Run.step`, which writes a step's
"begin" line to the journal before the request goes out and its "done" line after. A
resumed action gets the steps that were done last time and skips them; a step that was
in flight when the process died is re-checked by the action before it is sent again.

The plan records the identity of what it was made for (UIDs, resourceVersions); actions
compare them with the live objects before touching anything and raise PlanChanged when
the world moved, so nothing acts on a different object that happens to share a name.
"""

from __future__ import annotations

import argparse
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from cockpit.actions.journal import ActionRecord, Journal, JournalError, new_id, who
from cockpit.model import Snapshot
from cockpit.sources.health import ReadOnlyError, SourceError
from cockpit.topology import Links

Status = Literal["succeeded", "failed", "cancelled", "changed", "refused"]
Progress = Callable[[str], None]


class Cancelled(Exception):
    """The operator cancelled; the action says what state it leaves behind."""


class PlanChanged(Exception):
    """The objects the plan was made for are not the ones there now: re-plan."""


class ActionFailed(Exception):
    """The action could not reach its goal; the message says what happened and what next."""


@dataclass
class Plan:
    action: str  # "drain"
    target: str  # "node/worker-1"
    args: dict[str, Any]  # enough to rebuild the action (Action.from_args) on resume
    endpoint: str = ""  # the cluster or PVE endpoint it acts on
    summary: list[str] = field(default_factory=list)  # what will happen, in order
    warnings: list[str] = field(default_factory=list)  # what the operator should know
    blockers: list[str] = field(default_factory=list)  # why it cannot run as asked
    confirm_word: str | None = None  # dangerous: the operator types this to confirm
    danger: str = ""  # why the confirm word is asked for
    preconditions: dict[str, dict[str, str]] = field(default_factory=dict)  # ref -> uid, rv
    detail: dict[str, Any] = field(default_factory=dict)  # structured, for --json

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Context:
    """The live connections and the cockpit's current picture of the lab."""

    snapshot: Callable[[], Snapshot]
    links: Callable[[], Links]
    journal: Journal
    kube: Any = None  # cockpit.sources.kube.KubeSource
    proxmox: Any = None  # cockpit.sources.proxmox.ProxmoxSource
    readonly: bool = False
    poll_every: float = 1.0  # how often progress is checked
    retry_every: float = 5.0  # kubectl's pause between evictions refused by a PDB

    @property
    def kube_endpoint(self) -> str:
        return str(getattr(self.kube, "server", "") or "")

    @property
    def proxmox_endpoint(self) -> str:
        return str(getattr(self.proxmox, "endpoint", "") or "")


@dataclass(frozen=True)
class Outcome:
    id: str
    status: Status
    message: str


class Run:
    """One execution of an action: its journaled steps, progress and cancellation."""

    def __init__(
        self,
        action_id: str,
        journal: Journal,
        plan: Plan,
        progress: Progress,
        cancel: threading.Event,
        done: dict[str, Any] | None = None,
        in_flight: set[str] | None = None,
    ) -> None:
        self.id = action_id
        self.journal = journal
        self.plan = plan
        self.progress = progress
        self.cancel = cancel
        self.done: dict[str, Any] = dict(done or {})
        self.in_flight: set[str] = set(in_flight or ())  # begun when the last run died

    def step(self, key: str, what: str, do: Callable[[], Any]) -> Any:
        """Run `do` once per action, journaled ahead; a step done before is skipped and
        its recorded result returned. `key` must name the object (and UID) it acts on."""
        if key in self.done:
            self.progress(f"already done: {what}")
            return self.done[key]
        self.check()
        self.journal.write({"id": self.id, "event": "begin", "step": key, "what": what})
        self.progress(what)
        try:
            result = do()
        except Exception as exc:
            self.journal.write({"id": self.id, "event": "failed", "step": key, "error": str(exc)})
            raise
        self.journal.write({"id": self.id, "event": "done", "step": key, "result": result})
        self.done[key] = result
        self.in_flight.discard(key)
        return result

    def note(self, text: str, **data: Any) -> None:
        """A progress line that is also kept in the journal (waits, retries, checks)."""
        self.journal.write({"id": self.id, "event": "note", "text": text, **data})
        self.progress(text)

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def wait(self, seconds: float) -> None:
        """Sleep, but wake up at once (and stop) when the operator cancels."""
        if self.cancel.wait(seconds):
            raise Cancelled()


class Action(ABC):
    """A mutating action. Subclasses register themselves under `name`."""

    name: ClassVar[str]  # the journal's name for it, and its CLI subcommand
    help: ClassVar[str] = ""  # one line for `cockpit --help`

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @classmethod
    @abstractmethod
    def from_args(cls, ctx: Context, args: dict[str, Any]) -> Action:
        """Rebuild the action from Plan.args (the journal's copy, on resume)."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The subcommand's own arguments (the shell adds --yes, --plan, --json...)."""
        return None  # most actions take none

    @classmethod
    def args_from_cli(cls, ns: argparse.Namespace) -> dict[str, Any]:
        """The parsed command line as from_args' dict."""
        return {}

    @abstractmethod
    def plan(self) -> Plan: ...

    @abstractmethod
    def execute(self, run: Run) -> str:
        """Do it, through run.step; returns what was achieved and verified."""

    def cancelled(self, run: Run) -> str:
        """What a cancel leaves behind, in the operator's words."""
        return "cancelled; nothing more was sent"


REGISTRY: dict[str, type[Action]] = {}


def register(cls: type[Action]) -> type[Action]:
    REGISTRY[cls.name] = cls
    return cls


def perform(
    action: Action,
    plan: Plan,
    progress: Progress = lambda _: None,
    cancel: threading.Event | None = None,
    record: ActionRecord | None = None,
) -> Outcome:
    """Execute a confirmed plan (or resume the journaled action `record`).

    Never raises for a failure of the action itself: the Outcome says what happened, and
    the journal has every step. It raises JournalError only when the journal cannot be
    written before anything was sent.
    """
    ctx = action.ctx
    cancel = cancel or threading.Event()
    if ctx.readonly:
        return Outcome("", "refused", ReadOnlyError(f"{plan.action} {plan.target}").reason)
    if plan.blockers:
        return Outcome("", "refused", "; ".join(plan.blockers))
    journal = ctx.journal
    if record is None:
        action_id = new_id()
        journal.write(
            {
                "id": action_id,
                "event": "start",
                "action": plan.action,
                "target": plan.target,
                "args": plan.args,
                "endpoint": plan.endpoint,
                "plan": plan.to_json(),
                **who(),
            }
        )
        run = Run(action_id, journal, plan, progress, cancel)
    else:
        action_id = record.id
        journal.write({"id": action_id, "event": "resume", **who()})
        run = Run(action_id, journal, plan, progress, cancel, record.done, record.in_flight)
    status: Status
    try:
        message = action.execute(run)
        status = "succeeded"
    except Cancelled:
        status, message = "cancelled", action.cancelled(run)
    except PlanChanged as exc:
        status, message = "changed", f"{exc}; nothing more was sent, plan again"
    except JournalError as exc:
        # Nothing more can be recorded, so nothing more may be sent; the start line is
        # there, so the next start offers to resume.
        return Outcome(action_id, "failed", str(exc))
    except (ActionFailed, SourceError) as exc:
        status, message = "failed", str(exc)
    journal.write({"id": action_id, "event": "end", "status": status, "message": message})
    progress(f"{status}: {message}")
    return Outcome(action_id, status, message)


def resume(
    record: ActionRecord,
    ctx: Context,
    progress: Progress = lambda _: None,
    cancel: threading.Event | None = None,
) -> Outcome:
    """Carry on with an unfinished action from the journal, skipping its done steps.

    The plan is the journal's (the operator confirmed that one); its preconditions are
    checked against the live objects by the action as on the first run.
    """
    cls = REGISTRY.get(record.action)
    if cls is None:
        return Outcome(record.id, "refused", f"unknown action {record.action!r} in the journal")
    action = cls.from_args(ctx, record.args)
    saved = record.start.get("plan")
    if isinstance(saved, dict):
        plan = Plan.from_json(saved)
    else:
        plan = Plan(record.action, record.target, record.args)
    return perform(action, plan, progress, cancel, record)


def abandon(record: ActionRecord, journal: Journal, why: str = "abandoned by the operator") -> None:
    """Close an unfinished action without resuming it, so it is not offered again."""
    journal.write({"id": record.id, "event": "end", "status": "abandoned", "message": why})


def kube_get(kube: Any, path: str) -> dict[str, Any] | None:
    """GET one object; None when it does not exist (any other failure raises)."""
    try:
        return kube.request("GET", path)
    except SourceError as exc:
        if exc.status == 404:
            return None
        raise


def require_same(ref: str, live: dict[str, Any] | None, expected: dict[str, str]) -> None:
    """Raise PlanChanged unless `live` is the object the plan was made for (same UID)."""
    if live is None:
        raise PlanChanged(f"{ref} is gone since the plan was made")
    uid = live.get("metadata", {}).get("uid")
    if expected.get("uid") and uid != expected["uid"]:
        raise PlanChanged(f"{ref} was replaced since the plan was made (UID {uid})")
