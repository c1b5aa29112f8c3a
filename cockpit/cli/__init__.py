"""The `cockpit` command.

Errors a user can fix (a broken lab file, an unknown node) go to stderr as one clear
message with exit code 2, never as a traceback. A bug exits 1 with one line and the path of
a crash log holding the traceback (cockpit.cli.crash); COCKPIT_DEBUG=1 raises it instead,
and COCKPIT_DEBUG_CRASH=command|screen provokes one on purpose to check that path.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cockpit.cli.check import add_parser as add_check
from cockpit.cli.check import cmd_check
from cockpit.cli.common import EXIT_USAGE, CliError
from cockpit.cli.crash import debug_crash, deliberate_crash
from cockpit.cli.init import cmd_init
from cockpit.cli.live import cmd_demo, cmd_lab, cmd_report, cmd_ui
from cockpit.cli.plans import cmd_labs, cmd_plan, cmd_whatif


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
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not check the Proxmox API's TLS certificate (also insecure = true under "
        "[proxmox], or COCKPIT_PROXMOX_INSECURE=1); anyone on the path can then read the "
        "API token: prefer ca_file",
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

    add_check(sub)
    from cockpit.cli.init import add_command as add_init

    add_init(sub)

    from cockpit.cli import lab_control
    from cockpit.cli.actions import add_commands

    add_commands(sub)  # drain, cordon, ... (one per action), resume, journal
    lab_control.add_commands(sub)  # labctl, drills
    lab_control.add_drill_options(demo)
    lab_control.add_drill_options(lab)
    from cockpit.cli.serve import add_command as add_serve

    add_serve(sub)  # the screen in a browser
    return parser


COMMANDS = {
    "plan": cmd_plan,
    "whatif": cmd_whatif,
    "labs": cmd_labs,
    "lab": cmd_lab,
    "report": cmd_report,
    "demo": cmd_demo,
    "check": cmd_check,
    "init": cmd_init,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # The action commands carry their own handler (cockpit.cli.actions).
    command = COMMANDS.get(args.command) or getattr(args, "run", cmd_ui)
    if getattr(args, "insecure", False):
        # The config reads the same switch from the environment, and warns when it loads.
        os.environ["COCKPIT_PROXMOX_INSECURE"] = "1"
    try:
        if debug_crash() == "command":
            deliberate_crash()
        return command(args)
    except CliError as exc:
        print(f"cockpit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line, the traceback goes to a crash log
        if os.environ.get("COCKPIT_DEBUG"):
            raise
        from cockpit.cli.crash import report_crash

        return report_crash(exc, "the command")


if __name__ == "__main__":
    sys.exit(main())
