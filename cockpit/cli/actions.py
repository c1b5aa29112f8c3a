"""The actions from the shell: one subcommand per registered action, plus `resume` and
`journal`.

    cockpit drain NODE [--force] [--delete-emptydir-data] [--timeout 5m]
    cockpit cordon NODE | cockpit uncordon NODE | cockpit restart ... | cockpit scale-ha ...
    cockpit resume [ID] [--abandon]       carry on with an action a crash interrupted
    cockpit journal [--json] [-n N]       recent actions and how they ended

Every action subcommand also takes:
    --plan            print the plan and exit 0 without acting (read-only mode allowed)
    --json            print the plan as JSON (schema cockpit.action-plan/1) and exit 0
    --yes, -y         do not ask "Go ahead? [y/N]"
    --confirm WORD    the word a dangerous plan asks for (the node or guest name); with
                      --yes it is required, without --yes it is asked for interactively
    --readonly        open the adapters read-only: the plan is printed, the action refused
    --config, --context, --sync-timeout

The flow: load the config, start the inventory and wait until Kubernetes is synced (and
Proxmox fetched once, if configured), plan, print the plan (warnings yellow, blockers
red), refuse if there are blockers (exit 1) or if read-only (exit 2), check the journal
can be written, confirm, then perform with progress lines as they come. Ctrl-C (or
SIGTERM) cancels: the action stops at its next step and says what it leaves behind.

Exit codes: 0 succeeded (or --plan/--json/nothing to do), 1 the action did not succeed
(blockers, not confirmed, failed, cancelled, changed under us), 2 a usage or
environment error (bad config, sources not reachable, journal not writable, read-only).

`--json` prints, under "schema": "cockpit.action-plan/1", the plan as the journal keeps
it: action, target ("node/worker-1"), args (what rebuilds the action), endpoint,
summary/warnings/blockers (lists of lines), confirm_word (null or the word), danger,
preconditions ({ref: {uid, resourceVersion}}), detail (action-specific, e.g. a drain's
"evict" list with each pod's expected_node), plus "readonly" (whether it could run).
`journal --json` prints "schema": "cockpit.journal/1" with one object per action.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from cockpit.cli.common import CliError, console, dump_json, plain_row

PLAN_SCHEMA = "cockpit.action-plan/1"
JOURNAL_SCHEMA = "cockpit.journal/1"
SYNC_TIMEOUT = 30.0
FAIL_FAST = 5.0  # a source that keeps failing this long is reported, not waited for


# --- the parser ------------------------------------------------------------------------------


def add_commands(sub: argparse._SubParsersAction) -> None:
    """One subcommand per registered action, and `resume` and `journal`."""
    for name, cls in sorted(_registry().items()):
        parser = sub.add_parser(name, help=cls.help or f"the {name} action")
        cls.add_arguments(parser)
        _common(parser)
        parser.add_argument("--plan", action="store_true", help="print the plan and exit")
        parser.add_argument(
            "--json", action="store_true", help=f"print the plan as JSON ({PLAN_SCHEMA})"
        )
        parser.add_argument(
            "--confirm",
            metavar="WORD",
            help="the word a dangerous plan asks for (required with --yes)",
        )
        parser.set_defaults(run=run_action)

    resume_parser = sub.add_parser("resume", help="resume an action a crash interrupted")
    resume_parser.add_argument("id", nargs="?", metavar="ID", help="the action's journal id")
    resume_parser.add_argument(
        "--abandon", action="store_true", help="close it without resuming (never offered again)"
    )
    _common(resume_parser)
    resume_parser.set_defaults(run=run_resume)

    journal_parser = sub.add_parser("journal", help="recent actions from the journal")
    journal_parser.add_argument(
        "--json", action="store_true", help=f"print JSON ({JOURNAL_SCHEMA})"
    )
    journal_parser.add_argument(
        "-n", type=int, default=20, metavar="N", help="how many (default 20)"
    )
    journal_parser.set_defaults(run=run_journal)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    # SUPPRESS: given here it wins, absent it leaves the value given before the command.
    parser.add_argument(
        "--readonly",
        action="store_true",
        default=argparse.SUPPRESS,
        help="send no change (the action is refused)",
    )
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    parser.add_argument(
        "--context", metavar="NAME", default=argparse.SUPPRESS, help="kubeconfig context"
    )
    parser.add_argument(
        "--sync-timeout",
        type=float,
        default=SYNC_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the sources (default {SYNC_TIMEOUT:g})",
    )


def _registry() -> dict[str, type]:
    from cockpit.runbooks.catalog import everything

    return dict(everything())


# --- commands ----------------------------------------------------------------------------------


def run_action(args: argparse.Namespace) -> int:
    from cockpit.actions.base import Action, perform

    cls: type[Action] = _registry()[args.command]
    if getattr(args, "resume", False):
        return _resume_latest(args)
    config = _load_config(args)
    out = _console()
    with _connected(config, args.sync_timeout, out) as ctx:
        action = cls.from_args(ctx, cls.args_from_cli(args))
        plan = _plan(action)
        if args.json:
            dump_json({"schema": PLAN_SCHEMA, **plan.to_json(), "readonly": ctx.readonly})
            return 0
        print_plan(out, plan)
        _mention_unfinished(out, ctx.journal)
        if args.plan:
            return 0
        if plan.blockers:
            out.print(_styled("cannot run as asked: nothing was sent", "bold red"))
            return 1
        if ctx.readonly:
            raise CliError(_readonly_reason(plan.action, plan.target))
        _check_journal(ctx.journal)
        if not _confirmed(plan, args, out):
            out.print(_styled("not confirmed: nothing was sent", ""))
            return 1
        outcome = _run(out, lambda progress, cancel: perform(action, plan, progress, cancel))
    return 0 if outcome.status == "succeeded" else 1


def run_resume(args: argparse.Namespace) -> int:
    from cockpit.actions.base import Plan, abandon, resume
    from cockpit.actions.journal import Journal

    out = _console()
    journal = Journal()
    unfinished = _read_journal(journal, lambda: journal.unfinished())
    if not unfinished:
        out.print(_styled(f"nothing to resume: every action in {journal.path} has ended", ""))
        return 0
    if args.id is None and len(unfinished) > 1:
        out.print(
            _styled(
                f"{len(unfinished)} unfinished actions; resume one with `cockpit resume ID`:", ""
            )
        )
        for record in unfinished:
            out.print(_styled(f"  {record.id}  {record.describe()}", ""))
        return 0
    record = _pick(unfinished, args.id)
    saved = record.start.get("plan")
    plan = (
        Plan.from_json(saved) if isinstance(saved, dict) else Plan(record.action, record.target, {})
    )
    out.print(_styled(f"unfinished: {record.id}  {record.describe()}", "bold"))
    print_plan(out, plan)
    for step in sorted(record.done):
        out.print(_styled(f"  done: {step}", "green"))
    for step in sorted(record.in_flight):
        out.print(_styled(f"  in flight when it stopped (checked before resending): {step}", ""))
    config = _load_config(args)
    if args.abandon:
        if not args.yes and not _ask(out, "Abandon it (it will not be offered again)? [y/N] "):
            out.print(_styled("not confirmed: the action stays unfinished", ""))
            return 1
        abandon(record, Journal(journal.path, _config_secrets(config)))
        out.print(_styled(f"abandoned {record.id}: nothing was sent", ""))
        return 0
    if config.readonly:
        raise CliError(_readonly_reason(f"resume {plan.action}", plan.target))
    if not args.yes and not _ask(out, "Resume it? [y/N] "):
        out.print(_styled("not confirmed: nothing was sent", ""))
        return 1
    with _connected(config, args.sync_timeout, out, journal.path) as ctx:
        if plan.endpoint and plan.endpoint not in (ctx.kube_endpoint, ctx.proxmox_endpoint):
            raise CliError(
                f"{record.id} acts on {plan.endpoint}, but the config reaches "
                f"{ctx.kube_endpoint or ctx.proxmox_endpoint or 'nothing'}: use the config "
                "it was started with (--config, --context); nothing was sent"
            )
        _check_journal(ctx.journal)
        outcome = _run(out, lambda progress, cancel: resume(record, ctx, progress, cancel))
    return 0 if outcome.status == "succeeded" else 1


def _resume_latest(args: argparse.Namespace) -> int:
    """`cockpit replace --resume`: the newest unfinished action of this kind."""
    from cockpit.actions.journal import Journal

    journal = Journal()
    mine = [r for r in _read_journal(journal, journal.unfinished) if r.action == args.command]
    if not mine:
        print(f"nothing to resume: no unfinished {args.command} in {journal.path}")
        return 0
    args.id, args.abandon = mine[-1].id, False
    return run_resume(args)


def run_journal(args: argparse.Namespace) -> int:
    from cockpit.actions.journal import Journal

    journal = Journal()
    records = _read_journal(journal, lambda: journal.records())
    records = records[-args.n :] if args.n > 0 else []
    if args.json:
        dump_json(
            {
                "schema": JOURNAL_SCHEMA,
                "path": str(journal.path),
                "actions": [_record_json(r) for r in records],
            }
        )
        return 0
    from rich.table import Table

    out = _console()
    if not records:
        out.print(_styled(f"no action in {journal.path} yet", ""))
        return 0
    table = Table(title=_styled(f"Actions ({journal.path})", ""), title_justify="left")
    # Only the message may wrap: rich shrinks the wrappable columns first, and short ones
    # (Steps, By) would otherwise be squeezed to nothing beside one long message.
    for column in ("ID", "Started", "Action", "Target", "Status", "Steps", "By"):
        table.add_column(column, no_wrap=True)
    table.add_column("Message", overflow="fold", ratio=1)
    colours = {"succeeded": "green", "unfinished": "yellow", "refused": "yellow"}
    for r in records:
        doc = _record_json(r)
        plain_row(
            table,
            r.id,
            doc["started"],
            r.action,
            r.target,
            _styled(r.status, colours.get(r.status, "red")),
            str(len(r.done)) + (f" (+{len(r.in_flight)} in flight)" if r.in_flight else ""),
            f"{doc['user']}@{doc['host']}",
            _styled(doc["message"].split(";")[0], ""),  # `--json` has all of it
        )
    out.print(table)
    return 0


# --- pieces ------------------------------------------------------------------------------------


def print_plan(out: Any, plan: Any) -> None:
    """The plan as the operator reads it before saying yes."""
    where = f"  ({plan.endpoint})" if plan.endpoint else ""
    out.print(_styled(f"{plan.action} {plan.target}{where}", "bold"))
    for line in plan.summary:
        out.print(_styled(f"  {line}", ""))
    for line in plan.warnings:
        out.print(_styled(f"  ! {line}", "yellow"))
    for line in plan.blockers:
        out.print(_styled(f"  x {line}", "bold red"))
    if plan.confirm_word:
        out.print(_styled(f"  dangerous: {plan.danger}", "bold red"))


def _mention_unfinished(out: Any, journal: Any) -> None:
    try:
        unfinished = journal.unfinished()
    except OSError:
        return  # only a hint; whether the journal can be written is checked before acting
    if unfinished:
        what = "; ".join(r.describe() for r in unfinished[-3:])
        out.print(
            _styled(
                f"{len(unfinished)} unfinished action(s) in the journal ({what}): "
                "`cockpit resume` carries on, `cockpit resume ID --abandon` closes one",
                "yellow",
            )
        )


def _plan(action: Any) -> Any:
    from cockpit.sources.health import SourceError

    try:
        return action.plan()
    except SourceError as exc:
        raise CliError(f"cannot make the plan: {exc}") from None


def _confirmed(plan: Any, args: argparse.Namespace, out: Any) -> bool:
    word = plan.confirm_word
    if word:
        if args.confirm is not None:
            if args.confirm != word:
                raise CliError(
                    f"--confirm {args.confirm!r} does not match: this plan asks for {word!r}"
                )
        elif args.yes:
            raise CliError(
                f"this {plan.action} is dangerous ({plan.danger}); with --yes, confirm it "
                f"with --confirm {word}"
            )
        else:
            answer = _read(out, f"Dangerous. Type {word} to go ahead: ")
            return answer.strip() == word
    return args.yes or _ask(out, "Go ahead? [y/N] ")


def _ask(out: Any, prompt: str) -> bool:
    return _read(out, prompt).strip().lower() in ("y", "yes")


def _read(out: Any, prompt: str) -> str:
    out.print(_styled(prompt, ""), end="")
    out.file.flush()
    if sys.stdin is None:  # started without any input: nobody can say yes
        out.print()
        return ""
    line = sys.stdin.readline()  # "" at end of input: no
    if not sys.stdin.isatty():
        out.print()  # nobody typed the newline: end the prompt's line
    return line


def _readonly_reason(action: str, target: str) -> str:
    from cockpit.sources.health import ReadOnlyError

    error = ReadOnlyError(f"{action} {target}")
    return f"{error.reason}: nothing was sent; {error.hint}"


def _check_journal(journal: Any) -> None:
    from cockpit.actions.journal import JournalError

    try:
        journal.check_writable()
    except JournalError as exc:
        raise CliError(f"{exc} (nothing was sent)") from None


def _run(out: Any, call: Callable[[Callable[[str], None], threading.Event], Any]) -> Any:
    """Perform in a worker thread so that Ctrl-C or SIGTERM become a clean cancel."""
    from cockpit.actions.journal import JournalError

    cancel = threading.Event()
    result: dict[str, Any] = {}
    last: list[str] = []

    def progress(line: str) -> None:
        last[:] = [line]
        out.print(_styled(f"  {time.strftime('%H:%M:%S')} {line}", ""))

    def work() -> None:
        try:
            result["outcome"] = call(progress, cancel)
        except BaseException as exc:  # handed to the main thread
            result["error"] = exc

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt

    worker = threading.Thread(target=work, name="action", daemon=True)
    main = threading.current_thread() is threading.main_thread()  # where signals are handled
    previous = signal.signal(signal.SIGTERM, on_term) if main else None
    try:
        worker.start()
        while worker.is_alive():
            try:
                worker.join(0.2)
            except KeyboardInterrupt:
                if not cancel.is_set():
                    out.print(
                        _styled("cancelling: the action stops at its next step ...", "yellow")
                    )
                    cancel.set()
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    error = result.get("error")
    if isinstance(error, JournalError):
        raise CliError(str(error)) from None
    if error is not None:
        raise error
    outcome = result["outcome"]
    line = f"{outcome.status}: {outcome.message}"
    if last != [line]:  # perform reports its end itself; a refusal does not
        out.print(_styled(line, ""))
    colour = "green" if outcome.status == "succeeded" else "bold red"
    out.print(_styled(f"{outcome.status} ({outcome.id or 'not journaled'})", colour))
    return outcome


def _load_config(args: argparse.Namespace) -> Any:
    from cockpit.cli.common import load_config

    config = load_config(getattr(args, "config", None), getattr(args, "context", None))
    if getattr(args, "readonly", False) and not config.readonly:
        config = replace(config, readonly=True)
    return config


@contextlib.contextmanager
def _connected(config: Any, timeout: float, out: Any, journal_path: Any = None) -> Iterator[Any]:
    """An inventory synced with the sources, and the Context an action runs in."""
    from cockpit.actions.connect import context_for
    from cockpit.inventory import from_config

    inventory = from_config(config)
    inventory.start()
    try:
        _wait_synced(inventory, config, timeout, out)
        inventory.publish()
        yield context_for(inventory, journal_path, fresh=True)
    finally:
        _stop(inventory)


def _stop(inventory: Any, wait: float = 0.5) -> None:
    """Stop the sources without making the operator wait: a watch stream only lets go
    when its next chunk arrives, and the process is about to exit, which closes them."""
    stopper = threading.Thread(target=inventory.stop, name="inventory-stop", daemon=True)
    stopper.start()
    stopper.join(wait)


def _wait_synced(inventory: Any, config: Any, timeout: float, out: Any) -> None:
    started = time.monotonic()
    while True:
        kube = inventory.kube
        kube_ok = kube is None or all(kube.synced.values())
        pve = inventory.polled["proxmox"].health
        pve_answered = inventory.proxmox is None or inventory.polled["proxmox"].polls > 0
        if pve_answered and inventory.proxmox is not None and pve.state == "error":
            # Refused (401, an untrusted certificate ...): waiting longer changes nothing.
            raise CliError(f"Proxmox: {pve.describe(time.time())} (config {config.path})")
        if kube_ok and pve_answered:
            break
        waited = time.monotonic() - started
        failing = kube is not None and not kube_ok and any(kube.errors.values())
        if waited >= timeout or (failing and waited >= min(FAIL_FAST, timeout)):
            now = time.time()
            problems = []
            if not kube_ok:
                problems.append(f"Kubernetes: {inventory.health()['kube'].describe(now)}")
            if not pve_answered:
                problems.append("Proxmox: no answer yet")
            raise CliError(
                f"the sources are not ready after {waited:.0f} s: {'; '.join(problems)} "
                f"(config {config.path}; --sync-timeout waits longer)"
            )
        time.sleep(0.05)
    if inventory.proxmox is not None and pve.state != "ok":
        out.print(_styled(f"Proxmox: {pve.describe(time.time())}", "yellow"))


def _config_secrets(config: Any) -> list[Any]:
    return [config.proxmox.token_value] if config.proxmox is not None else []


def _read_journal(journal: Any, read: Callable[[], list[Any]]) -> list[Any]:
    try:
        return read()
    except OSError as exc:
        raise CliError(
            f"cannot read the action journal {journal.path}: {exc.strerror or exc}; fix the "
            "path or its permissions (or set XDG_STATE_HOME)"
        ) from None


def _pick(unfinished: list[Any], wanted: str | None) -> Any:
    if wanted is None:
        return unfinished[0]
    matches = [r for r in unfinished if r.id == wanted] or [
        r for r in unfinished if r.id.startswith(wanted)
    ]
    if len(matches) != 1:
        known = ", ".join(r.id for r in unfinished)
        raise CliError(f"no single unfinished action {wanted!r} (unfinished: {known})")
    return matches[0]


def _record_json(record: Any) -> dict[str, Any]:
    start, end = record.start, record.end or {}
    return {
        "id": record.id,
        "action": record.action,
        "target": record.target,
        "status": record.status,
        "started": _when(start.get("at")),
        "ended": _when(end.get("at")) if end else None,
        "user": str(start.get("user", "?")),
        "host": str(start.get("host", "?")),
        "endpoint": str(start.get("endpoint", "")),
        "steps_done": sorted(record.done),
        "in_flight": sorted(record.in_flight),
        "message": str(end.get("message", "")),
    }


def _when(at: Any) -> str:
    if not isinstance(at, int | float):
        return "?"
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def _console() -> Any:
    return console()


def _styled(text: str, style: str) -> Any:
    """Plain text (never rich markup: pod names and messages may hold brackets)."""
    from rich.text import Text

    return Text(text, style=style)
