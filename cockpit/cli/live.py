"""The commands that run sources: `lab` serves a simulated homelab, `report` prints what the
configured sources (or a lab) say, `demo` and plain `cockpit` open the screen."""

from __future__ import annotations

import argparse
from typing import Any

from cockpit.cli.common import (
    EXIT_USAGE,
    CliError,
    dump_json,
    load_config,
    load_lab,
    print_renderable,
)
from cockpit.cli.crash import debug_crash, deliberate_crash
from cockpit.cli.lab_control import start_drill


def cmd_lab(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from cockpit.lab.runner import RunningLab

    if args.speed <= 0:
        raise CliError(f"--speed must be positive, got {args.speed}")
    running = RunningLab(load_lab(args.lab), args.speed, Path(args.dir) if args.dir else None)
    running.start()
    try:
        print("\n".join(running.describe()), flush=True)
        drill = start_drill(running, args)
        if drill:
            print(drill, flush=True)
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
    from cockpit.cli import report
    from cockpit.inventory import from_config

    running = None
    if args.lab:
        from cockpit.lab.runner import RunningLab

        running = RunningLab(load_lab(args.lab), args.speed).start()
        config_path: str | None = str(running.config_path)
    else:
        config_path = args.config
    try:
        config = load_config(config_path, args.context)
        inventory = from_config(config)
        snapshot = inventory.refresh(timeout=args.timeout)
        health = inventory.health()
        inventory.stop()
        name = running.lab.name if running else "live"
        lab, ledger, risks = report.build(snapshot, name, config.thresholds)
        if args.json:
            dump_json(report.report_json(lab, inventory.links, health, ledger, risks))
        else:
            print_renderable(report.report_view(lab, inventory.links, health, ledger, risks))
    finally:
        if running is not None:
            running.stop()
    # "No risks found" about nothing is the worst kind of green: a cron job must notice.
    return 0 if report.checked(health) else EXIT_USAGE


def _run_app(
    config: Any, theme: str | None = None, readonly: bool = False, journal_path: Any = None
) -> int:
    from dataclasses import replace

    from cockpit.actions.connect import context_for
    from cockpit.inventory import from_config
    from cockpit.memory import limit_arenas
    from cockpit.ui.app import CockpitApp  # textual is imported here and only here

    if readonly:
        config = replace(config, readonly=True)
    limit_arenas()  # before the source threads: see cockpit.memory
    inventory = from_config(config)
    inventory.start()
    try:
        app = CockpitApp(
            inventory,
            config.thresholds,
            theme_name=theme or config.theme,
            readonly=config.readonly,
            action_context=lambda: context_for(inventory, journal_path),
        )
        # Textual would print the traceback with every frame's locals on exit; the crash
        # log below keeps it instead, scrubbed of secrets, and the terminal gets one line.
        app._print_error_renderables = app._exit_renderables.clear  # type: ignore[method-assign]
        if debug_crash() == "screen":
            app.call_after_refresh(deliberate_crash)
        app.run()
    finally:
        inventory.stop()
    if app.return_code:  # the app ended by an exception (Textual records it, run() returns)
        from cockpit.cli.crash import report_crash

        return report_crash(getattr(app, "_exception", None), "the screen")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cockpit.lab.runner import RunningLab

    if args.speed <= 0:
        raise CliError(f"--speed must be positive, got {args.speed}")
    running = RunningLab(load_lab(args.lab), args.speed).start()
    try:
        start_drill(running, args)
        config = load_config(str(running.config_path), args.context)
        # The demo's actions are make-believe: they go to a journal in the lab's own
        # folder, never into the operator's real one ($XDG_STATE_HOME/cockpit/).
        journal = demo_journal_path(running.dir)
        return _run_app(config, args.theme, getattr(args, "readonly", False), journal)
    finally:
        running.stop()


def demo_journal_path(lab_dir: Any) -> Any:
    from pathlib import Path

    from cockpit.actions.journal import FILE_NAME

    return Path(lab_dir) / "state" / FILE_NAME


def cmd_ui(args: argparse.Namespace) -> int:
    """Plain `cockpit`: the screen on the configured sources."""
    config = load_config(args.config, args.context)
    if config.kube is None and config.proxmox is None:
        # Empty panes teach nothing: say what to do instead.
        raise CliError(first_run_hint(config.path))
    return _run_app(config, args.theme, getattr(args, "readonly", False))


def first_run_hint(path: str) -> str:
    return (
        f"nothing to show: no Kubernetes cluster or Proxmox host is configured ({path} "
        "names none, there is no ~/.kube/config and KUBECONFIG is not set).\n"
        "  cockpit demo    the cockpit on a simulated homelab, nothing to set up\n"
        "  cockpit init    write a config from what this machine can reach "
        "(kubeconfig, tailscaled, Proxmox) and check each source"
    )
