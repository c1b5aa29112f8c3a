"""The offline commands: `plan`, `whatif` and `labs` read a lab or plan file and ask the
allocation engine; nothing is contacted."""

from __future__ import annotations

import argparse

from cockpit.cli.common import CliError, dump_json, load_lab, print_renderable


def cmd_plan(args: argparse.Namespace) -> int:
    from cockpit.alloc.ledger import build_ledger
    from cockpit.alloc.risks import find_risks
    from cockpit.cli import jsonout

    lab = load_lab(args.lab)
    ledger = build_ledger(lab.snapshot, lab.thresholds)
    risks = find_risks(lab.snapshot)
    if args.json:
        dump_json(jsonout.plan(lab, ledger, risks))
    else:
        from cockpit.cli.present import plan_view

        print_renderable(plan_view(lab, ledger, risks))
    return 0


def cmd_whatif(args: argparse.Namespace) -> int:
    from cockpit.alloc.whatif import Scenario, UnknownTarget, what_if
    from cockpit.cli import jsonout

    lab = load_lab(args.lab)
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
        dump_json(jsonout.whatif(lab, report))
    else:
        from cockpit.cli.present import whatif_view

        print_renderable(whatif_view(lab, report))
    return 0


def cmd_labs(_: argparse.Namespace) -> int:
    from cockpit.labfile import BUILTIN_LABS, load

    for name in BUILTIN_LABS:
        print(f"{name:10} {load(name).description}")
    return 0
