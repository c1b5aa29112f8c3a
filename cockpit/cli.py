"""The `cockpit` command.

Errors a user can fix (a broken lab file, an unknown node) go to stderr as one clear
message with exit code 2, never as a traceback. COCKPIT_DEBUG=1 shows the traceback of an
unexpected failure for a bug report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; its message says how."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cockpit",
        description="Homelab Cockpit: Proxmox hosts, guests, Kubernetes and the tailnet, "
        "with one allocation engine.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="the config file (default: $XDG_CONFIG_HOME/cockpit/config.toml)",
    )
    parser.add_argument("--context", metavar="NAME", help="the kubeconfig context to use")
    parser.add_argument(
        "--theme",
        help="colour theme, a name from themes/*.toml (default: "
        "[ui] theme in the config, then dark)",
    )
    parser.add_argument(
        "--readonly",
        action="store_true",
        default=argparse.SUPPRESS,
        help="look, never touch: no key or command changes anything, the adapters refuse "
        "writes (also [ui] readonly in the config, or COCKPIT_READONLY=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    plan = sub.add_parser("plan", help="capacity, overcommit and risks of a lab or a plan")
    plan.add_argument("lab", metavar="FILE|LAB", help="a lab TOML file or a built-in lab name")
    plan.add_argument("--json", action="store_true", help="print JSON (schema cockpit.plan/1)")

    whatif = sub.add_parser("whatif", help="what happens if a node or a host goes away")
    whatif.add_argument("lab", metavar="FILE|LAB", help="a lab TOML file or a built-in lab name")
    target = whatif.add_mutually_exclusive_group(required=True)
    target.add_argument("--lose", metavar="NODE", help="the Kubernetes node dies")
    target.add_argument("--lose-host", metavar="HOST", help="the physical host dies")
    target.add_argument("--drain", metavar="NODE", help="the node is drained")
    whatif.add_argument("--json", action="store_true", help="print JSON (schema cockpit.whatif/1)")

    sub.add_parser("labs", help="list the built-in labs")

    demo = sub.add_parser("demo", help="run a lab and open the cockpit on it")
    demo.add_argument(
        "lab",
        nargs="?",
        default="n100",
        metavar="LAB",
        help="a built-in lab or a lab file (default n100)",
    )
    demo.add_argument("--speed", type=float, default=10.0, help="lab seconds per real second")
    # SUPPRESS: given after `demo` it sets the theme, absent it leaves the top-level value.
    demo.add_argument("--theme", default=argparse.SUPPRESS, help="colour theme")
    demo.add_argument(
        "--readonly", action="store_true", default=argparse.SUPPRESS, help="change nothing"
    )

    lab = sub.add_parser(
        "lab", help="run the simulated homelab on loopback and say how to reach it"
    )
    lab.add_argument(
        "lab",
        nargs="?",
        default="n100",
        metavar="LAB",
        help="a built-in lab or a lab file (default n100)",
    )
    lab.add_argument("--speed", type=float, default=1.0, help="lab seconds per real second")
    lab.add_argument(
        "--dir",
        metavar="DIR",
        help="where to write the kubeconfig, CA, socket "
        "and config (default: a new temporary folder)",
    )
    lab.add_argument(
        "--for",
        dest="duration",
        type=float,
        metavar="SECONDS",
        help="stop after this long (default: until Ctrl-C)",
    )

    report = sub.add_parser(
        "report",
        help="linked inventory, source health, ledger and "
        "risks from the configured sources (or a lab)",
    )
    report.add_argument(
        "--lab",
        metavar="LAB",
        help="start this lab and report on it through "
        "its own config, as a real homelab would be reached",
    )
    report.add_argument("--speed", type=float, default=10.0, help="lab speed with --lab")
    report.add_argument(
        "--timeout", type=float, default=20.0, help="seconds to wait for the sources"
    )
    report.add_argument("--json", action="store_true", help="print JSON (schema cockpit.report/1)")

    from cockpit.actions.shell import add_commands

    add_commands(sub)  # drain, cordon, ... (one per action), resume, journal
    return parser


def _load(spec: str):
    from cockpit.labfile import LabFileError, load

    try:
        return load(spec)
    except LabFileError as exc:
        raise CliError(str(exc)) from None


def _print(renderable: object) -> None:
    from rich.console import Console

    Console(soft_wrap=False).print(renderable)


def _dump(document: dict) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def cmd_plan(args: argparse.Namespace) -> int:
    from cockpit import jsonout
    from cockpit.alloc.ledger import build_ledger
    from cockpit.alloc.risks import find_risks

    lab = _load(args.lab)
    ledger = build_ledger(lab.snapshot, lab.thresholds)
    risks = find_risks(lab.snapshot)
    if args.json:
        _dump(jsonout.plan(lab, ledger, risks))
    else:
        from cockpit.present import plan_view

        _print(plan_view(lab, ledger, risks))
    return 0


def cmd_whatif(args: argparse.Namespace) -> int:
    from cockpit import jsonout
    from cockpit.alloc.whatif import Scenario, UnknownTarget, what_if

    lab = _load(args.lab)
    if args.lose:
        scenario = Scenario("lose-node", args.lose)
    elif args.lose_host:
        scenario = Scenario("lose-host", args.lose_host)
    else:
        scenario = Scenario("drain", args.drain)
    try:
        report = what_if(lab.snapshot, scenario, lab.thresholds)
    except UnknownTarget as exc:
        raise CliError(f"{lab.source}: {exc}") from None
    if args.json:
        _dump(jsonout.whatif(lab, report))
    else:
        from cockpit.present import whatif_view

        _print(whatif_view(lab, report))
    return 0


def cmd_labs(_: argparse.Namespace) -> int:
    from cockpit.labfile import BUILTIN_LABS, load

    for name in BUILTIN_LABS:
        print(f"{name:10} {load(name).description}")
    return 0


def _config(path: str | None, context: str | None = None):  # returns a Config
    from dataclasses import replace

    from cockpit.config import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    if context and config.kube is not None:
        config = replace(config, kube=replace(config.kube, context=context))
    return config


def cmd_lab(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from cockpit.lab.runner import RunningLab

    if args.speed <= 0:
        raise CliError(f"--speed must be positive, got {args.speed}")
    running = RunningLab(_load(args.lab), args.speed, Path(args.dir) if args.dir else None)
    running.start()
    try:
        print("\n".join(running.describe()), flush=True)
        print(
            "Ctrl-C stops the lab."
            if args.duration is None
            else f"The lab stops in {args.duration:g} s.",
            flush=True,
        )
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from cockpit import report
    from cockpit.inventory import from_config

    running = None
    if args.lab:
        from cockpit.lab.runner import RunningLab

        running = RunningLab(_load(args.lab), args.speed).start()
        config_path: str | None = str(running.config_path)
    else:
        config_path = args.config
    try:
        config = _config(config_path, args.context)
        inventory = from_config(config)
        snapshot = inventory.refresh(timeout=args.timeout)
        health = inventory.health()
        inventory.stop()
        name = running.lab.name if running else "live"
        lab, ledger, risks = report.build(snapshot, name, config.thresholds)
        if args.json:
            _dump(report.report_json(lab, inventory.links, health, ledger, risks))
        else:
            _print(report.report_view(lab, inventory.links, health, ledger, risks))
    finally:
        if running is not None:
            running.stop()
    return 0


def _run_app(config: Any, theme: str | None = None, readonly: bool = False) -> int:
    from dataclasses import replace

    from cockpit.actions.connect import context_for
    from cockpit.inventory import from_config
    from cockpit.ui.app import CockpitApp  # textual is imported here and only here

    if readonly:
        config = replace(config, readonly=True)
    inventory = from_config(config)
    inventory.start()
    try:
        CockpitApp(
            inventory,
            config.thresholds,
            theme_name=theme or config.theme,
            readonly=config.readonly,
            action_context=lambda: context_for(inventory),
        ).run()
    finally:
        inventory.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cockpit.lab.runner import RunningLab

    if args.speed <= 0:
        raise CliError(f"--speed must be positive, got {args.speed}")
    running = RunningLab(_load(args.lab), args.speed).start()
    try:
        config = _config(str(running.config_path), args.context)
        return _run_app(config, args.theme, getattr(args, "readonly", False))
    finally:
        running.stop()


def cmd_ui(args: argparse.Namespace) -> int:
    """Plain `cockpit`: the screen on the configured sources."""
    return _run_app(
        _config(args.config, args.context), args.theme, getattr(args, "readonly", False)
    )


COMMANDS = {
    "plan": cmd_plan,
    "whatif": cmd_whatif,
    "labs": cmd_labs,
    "lab": cmd_lab,
    "report": cmd_report,
    "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # The action commands carry their own handler (cockpit.actions.shell).
    command = COMMANDS.get(args.command) or getattr(args, "run", cmd_ui)
    try:
        return command(args)
    except CliError as exc:
        print(f"cockpit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so briefly, keep the traceback for those who ask
        if os.environ.get("COCKPIT_DEBUG"):
            raise
        print(
            f"cockpit: internal error: {type(exc).__name__}: {exc}\n"
            "Run again with COCKPIT_DEBUG=1 for the full traceback and report it.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
