"""`cockpit check [--json] [--all] [--lab LAB]`: the incidents without a screen, for cron and
monitoring.

Reads the configured sources once (or starts a built-in lab and reads it through the config
it writes, as `report --lab` does), runs the findings and groups them into incidents.

Exit codes (documented in docs/json.md too):
    0  healthy: no live finding of severity warning or critical (standing risks allowed)
    1  warnings only
    2  at least one critical incident
    3  nothing could be checked: the config is missing or broken, or no source answered;
       never read as "healthy"

Text output: a summary line, then one line per incident and one per live finding (warning
and worse; `--all` adds the info ones and the standing risks), each starting with a fixed
word ("incident", "finding", "risk") and the severity, grep-able, never wrapped, no colour.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cockpit.cli.common import CliError, dump_json, load_config, load_lab
from cockpit.model import Peer, Snapshot
from cockpit.statedir import state_dir, write_private

CHECK_SCHEMA = "cockpit.check/1"
EXIT_HEALTHY, EXIT_WARNING, EXIT_CRITICAL, EXIT_UNCHECKED = 0, 1, 2, 3


def add_parser(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser(
        "check",
        help="find what is wrong, root cause first (exit 0 healthy, 1 warnings, 2 critical, "
        "3 nothing could be checked)",
        description="Read the sources once, find what is wrong and group it into incidents, "
        "the root cause first, each with the commands that fix it.",
        epilog="exit codes: 0 healthy (standing risks allowed), 1 warnings only, 2 critical, "
        "3 nothing could be checked (no config, a broken one, or no source answered). "
        "JSON schema: cockpit.check/1 (docs/json.md).",
    )
    check.add_argument(
        "--lab", metavar="LAB", help="start this lab and check it through its own config"
    )
    check.add_argument("--speed", type=float, default=10.0, help="lab speed with --lab")
    check.add_argument(
        "--timeout", type=float, default=20.0, help="seconds to wait for the sources"
    )
    check.add_argument("--json", action="store_true", help=f"print JSON (schema {CHECK_SCHEMA})")
    check.add_argument(
        "--all", action="store_true", help="also list info findings and standing risks"
    )


def cmd_check(args: argparse.Namespace) -> int:
    running = None
    try:
        if args.lab:
            from cockpit.lab.runner import RunningLab

            running = RunningLab(load_lab(args.lab), args.speed).start()
            config_path: str | None = str(running.config_path)
        else:
            config_path = args.config
        config = load_config(config_path, args.context)
    except CliError as exc:
        if running is not None:
            running.stop()
        print(f"cockpit check: UNCHECKED: {exc}", file=sys.stderr)
        return EXIT_UNCHECKED
    try:
        return _check(config, args)
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        # A check that crashed has checked nothing: exit 3, never a code cron reads as
        # "warnings only".
        if os.environ.get("COCKPIT_DEBUG"):
            raise
        print(
            f"cockpit check: UNCHECKED: internal error: {type(exc).__name__}: {exc} "
            "(COCKPIT_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_UNCHECKED
    finally:
        if running is not None:
            running.stop()


def _check(config: Any, args: argparse.Namespace) -> int:
    from cockpit.inventory import from_config
    from cockpit.sources.health import Health
    from cockpit.triage.run import run_triage

    inventory = from_config(config)
    try:
        snapshot = inventory.refresh(timeout=args.timeout)
        health = dict(inventory.health())
    finally:
        inventory.stop()
    # Without a [tailscale] socket in the config, a machine without tailscaled is not a
    # failure: the source is simply not there.
    ts = health.get("tailscale")
    if ts is not None and ts.state == "error" and config.tailscale.socket is None:
        health["tailscale"] = Health.unconfigured(
            "tailscale", config.unconfigured_hint("tailscale")
        )
    now = snapshot.clock or time.time()
    # What the tailnet looked like at the last check: a peer relayed now that was direct
    # then has lost its path (a one-shot check has no other "before").
    previous = remembered_paths(config)
    result = run_triage(snapshot, now, health, previous, thresholds=config.thresholds)
    if health.get("tailscale") is not None and health["tailscale"].state == "ok":
        remember_paths(config, snapshot)
    findings, incidents = list(result.findings), list(result.incidents)
    checked = any(h.state == "ok" for h in health.values())
    code = _exit_code(checked, findings, incidents)
    if args.json:
        dump_json(check_json(code, now, health, findings, incidents))
    else:
        print_lines(check_lines(code, now, health, findings, incidents, args.all))
    return code


def _paths_file(config: Any) -> Path:
    """One file per tailscaled reached (a homelab and a lab do not mix)."""
    socket = str(getattr(config.tailscale, "socket", None) or "default")
    digest = hashlib.sha256(socket.encode()).hexdigest()[:12]
    return state_dir() / f"tailnet-paths-{digest}.json"


def remembered_paths(config: Any) -> Snapshot | None:
    """The peers' paths as the last check saw them, or None when there is no last check."""
    try:
        doc = json.loads(_paths_file(config).read_text())
        peers = tuple(
            Peer(hostname=str(p["hostname"]), id=str(p["id"]), cur_addr=str(p["cur_addr"]))
            for p in doc["peers"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: this check simply has no "before"
    return Snapshot(peers=peers)


def remember_paths(config: Any, snapshot: Snapshot) -> None:
    peers = [
        {"id": p.id, "hostname": p.hostname, "cur_addr": p.cur_addr}
        for p in snapshot.peers
        if p.online
    ]
    path = _paths_file(config)
    temporary = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        write_private(temporary, json.dumps({"peers": peers}))
        os.replace(temporary, path)
    except OSError:
        pass  # the state folder cannot be written: the next check has no "before", no more


SEVERITY_STYLE = {" CRITICAL ": "bold red", " WARNING ": "yellow", " INFO ": "dim"}


def print_lines(lines: list[str]) -> None:
    """Plain lines when piped (grep-able, no colour); on a terminal the severity colours the
    line, drawn through rich.Text so nothing in the data is read as markup."""
    if not sys.stdout.isatty():
        for line in lines:
            print(line)
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(soft_wrap=True, highlight=False)
    for line in lines:
        head = line.split(":", 1)[0] + " "
        style = next((v for k, v in SEVERITY_STYLE.items() if k in head), "")
        console.print(Text(line, style=style))


def _exit_code(checked: bool, findings: list, incidents: list) -> int:
    if not checked:
        return EXIT_UNCHECKED
    if any(i.severity == "critical" for i in incidents):
        return EXIT_CRITICAL
    if incidents:
        return EXIT_WARNING
    return EXIT_HEALTHY


STATUS = {
    EXIT_HEALTHY: "healthy",
    EXIT_WARNING: "warning",
    EXIT_CRITICAL: "critical",
    EXIT_UNCHECKED: "unchecked",
}


# --- JSON --------------------------------------------------------------------------------------


def _object(obj: Any) -> dict[str, str]:
    out = {"layer": obj.layer, "kind": obj.kind, "name": obj.name, "namespace": obj.namespace}
    if obj.id:
        out["id"] = obj.id
    out["ref"] = obj.ref
    return out


def finding_json(f: Any, incident: int | None = None) -> dict[str, Any]:
    from cockpit.triage.finding import CODES

    code = CODES.get(f.code)
    return {
        "code": f.code,
        "severity": f.severity,
        "risk": f.risk,
        "object": _object(f.obj),
        "text": f.text,
        "evidence": list(f.evidence),
        "fix": f.fix,
        "incident": incident,
        "popeye": code.popeye if code else "",
        "k8sgpt": code.k8sgpt if code else "",
    }


def check_json(
    code: int, now: float, health: Mapping[str, Any], findings: list, incidents: list
) -> dict[str, Any]:
    rank_of: dict[tuple, int] = {}
    out_incidents = []
    for rank, i in enumerate(incidents, 1):
        rank_of[i.root.key] = rank
        for s in i.symptoms:
            rank_of[s.key] = rank
        out_incidents.append(
            {
                "rank": rank,
                "severity": i.severity,
                "code": i.code,
                "root": _object(i.root.obj),
                "title": i.title,
                "text": i.root.text,
                "notes": list(i.notes),
                "symptoms": [finding_json(s, rank) for s in i.symptoms],
                "affected": i.affected.to_json(),
                "fixes": [
                    {"title": x.title, "command": x.command, "key": x.key, "action": x.action}
                    for x in i.fixes
                ],
            }
        )
    return {
        "schema": CHECK_SCHEMA,
        "status": STATUS[code],
        "exit_code": code,
        "checked_at": now,
        "sources": {
            name: {
                "state": h.state,
                "reason": h.reason,
                "hint": h.hint,
                "last_ok": h.last_ok,
            }
            for name, h in health.items()
        },
        "incidents": out_incidents,
        "findings": [finding_json(f, rank_of.get(f.key)) for f in findings],
    }


# --- text ---------------------------------------------------------------------------------------


def _flat(text: str) -> str:
    """One line whatever the data holds: a newline from an API message must not split it."""
    return " ".join(text.split())


def _affected_text(a: Any) -> str:
    parts = []
    for n, word in ((a.hosts, "host"), (a.guests, "guest"), (a.nodes, "node"), (a.pods, "pod")):
        if n:
            parts.append(f"{n} {word}{'' if n == 1 else 's'}")
    if a.workloads_down:
        parts.append(f"{a.workloads_down} workload{'' if a.workloads_down == 1 else 's'} down")
    if a.dns_pods:
        parts.append(f"DNS lost by {a.dns_pods} pods")
    return ", ".join(parts) or "-"


def check_lines(
    code: int,
    now: float,
    health: Mapping[str, Any],
    findings: list,
    incidents: list,
    everything: bool = False,
) -> list[str]:
    sources = ", ".join(f"{n} {h.state}" for n, h in health.items())
    live = [f for f in findings if not f.risk and f.severity != "info"]
    risks = sum(1 for f in findings if f.risk)
    if code == EXIT_UNCHECKED:
        head = "UNCHECKED: no source answered"
    elif code == EXIT_HEALTHY:
        head = "healthy: no incident"
    else:
        crit = sum(1 for i in incidents if i.severity == "critical")
        head = (
            f"{STATUS[code].upper()}: {len(incidents)} incident"
            f"{'' if len(incidents) == 1 else 's'} ({crit} critical), "
            f"{len(live)} finding{'' if len(live) == 1 else 's'}"
        )
    hint = "" if everything or not risks else " (--all lists them)"
    lines = [f"cockpit check: {head}; {risks} standing risks{hint}; sources: {sources}"]
    incident_of: dict[tuple, int] = {}
    for rank, i in enumerate(incidents, 1):
        incident_of[i.root.key] = rank
        for s in i.symptoms:
            incident_of[s.key] = rank
        fixes = "; ".join(x.command for x in i.fixes) or "-"
        notes = "".join(f" | {n}" for n in i.notes)
        lines.append(
            _flat(
                f"incident {rank} {i.severity.upper()} {i.code} {i.root.obj.ref}: {i.title}"
                f"{notes} | affected: {_affected_text(i.affected)} | fix: {fixes}"
            )
        )
    for f in findings:
        if not everything and (f.risk or f.severity == "info"):
            continue
        word = "risk" if f.risk else "finding"
        rank = incident_of.get(f.key)
        where = f" incident={rank}" if rank else ""
        lines.append(_flat(f"{word} {f.severity.upper()} {f.code} {f.obj.ref}{where}: {f.text}"))
    return lines
