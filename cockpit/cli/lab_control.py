"""Commands that drive a running lab from outside: `labctl` (power, reboot, drills, join),
`drills` (the list), and the `--drill NAME [--at SECONDS]` option of `demo` and `lab`.

`labctl` finds the lab through the config file `cockpit lab` wrote: the control file
(address and token) lies beside it. The token is read from that file and sent in a header;
it is never printed."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cockpit.cli.common import CliError, dump_json

CONTROL_FILE = "lab-control.json"  # the name cockpit.lab.control_server writes


def add_commands(sub: Any) -> None:
    ctl = sub.add_parser(
        "labctl",
        help="drive a running lab: power hosts off/on, reboot guests, run drills, join machines",
    )
    ctl.add_argument(
        "--config",
        dest="lab_config",
        metavar="CFG",
        help="the config file the lab wrote (its path is printed by `cockpit lab`)",
    )
    verbs = ctl.add_subparsers(dest="verb", metavar="VERB", required=True)
    off = verbs.add_parser("power-off", help="cut a physical host's power")
    off.add_argument("host")
    on = verbs.add_parser("power-on", help="power a host back on")
    on.add_argument("host")
    reboot = verbs.add_parser(
        "reboot", help="reboot a guest (VMID or name), or power-cycle a bare-metal host or node"
    )
    reboot.add_argument("target", metavar="GUEST")
    reconnect = verbs.add_parser(
        "reconnect",
        help="bring a tailnet peer back: what `tailscale up --force-reauth` on it does",
    )
    reconnect.add_argument("peer")
    free = verbs.add_parser(
        "free-disk", help="free a node's disk (prune images): the kubelet lifts DiskPressure"
    )
    free.add_argument("node")
    drill = verbs.add_parser("drill", help="start an outage drill (see `cockpit drills`)")
    drill.add_argument("name", metavar="NAME")
    add_drill_timing(drill)
    listing = verbs.add_parser("list", help="hosts, guests, nodes, peers, drills, what happened")
    listing.add_argument("--json", action="store_true", help="print the lab's answer as JSON")
    join = verbs.add_parser(
        "join", help="plug in a bare-metal machine that joins as a node and tailnet peer"
    )
    join.add_argument("name", metavar="NAME")
    join.add_argument("--arch", default="arm64", choices=("arm64", "amd64"))
    join.add_argument("--site", default="", help="the site it is in (a [sites] name)")
    join.add_argument("--ip", default="", help="its tailnet address (default: derived)")
    ctl.set_defaults(run=cmd_labctl)

    drills = sub.add_parser("drills", help="list the outage drills a lab can run")
    drills.set_defaults(run=cmd_drills)


def add_drill_timing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="start it this many lab seconds from now (default: now)",
    )
    parser.add_argument(
        "--target", default="", help="the host, node, peer or Deployment to hit (default: chosen)"
    )


def add_drill_options(parser: argparse.ArgumentParser) -> None:
    """`--drill NAME [--at SECONDS] [--target T]` for commands that start a lab."""
    parser.add_argument("--drill", metavar="NAME", help="start this outage drill in the lab")
    add_drill_timing(parser)


def start_drill(running: Any, args: argparse.Namespace) -> str | None:
    """Start the drill `--drill` names in a RunningLab; a clear error when it cannot."""
    name = getattr(args, "drill", None)
    if not name:
        return None
    from cockpit.lab.drills import DRILLS, run_drill
    from cockpit.lab.errors import ControlError

    if name not in DRILLS:
        raise CliError(f"no drill named {name!r}; `cockpit drills` lists them")
    if args.at < 0:
        raise CliError(f"--at must be zero or more lab seconds, got {args.at:g}")
    try:
        return run_drill(running.control, name, args.at, args.target)
    except ControlError as exc:
        raise CliError(f"drill {name}: {exc}") from None


def cmd_drills(args: argparse.Namespace) -> int:
    from cockpit.lab.drills import DRILLS

    width = max(len(name) for name in DRILLS)
    for drill in DRILLS.values():
        print(f"{drill.name:<{width}}  {drill.summary}")
    return 0


def _control(config: str | None) -> tuple[str, str]:
    if not config:
        raise CliError(
            "labctl needs --config CFG: the config file a running `cockpit lab` wrote "
            "(it prints the path)"
        )
    path = Path(config).expanduser().parent / CONTROL_FILE
    try:
        doc = json.loads(path.read_text())
        return str(doc["url"]), str(doc["token"])
    except FileNotFoundError:
        raise CliError(
            f"no lab control file at {path}: give the config that `cockpit lab` wrote, "
            "while that lab is running"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(f"cannot read the lab control file {path}: {exc}") from None


def _call(url: str, token: str, method: str, path: str, body: dict | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        raise CliError(str(message)) from None
    except (urllib.error.URLError, OSError) as exc:
        raise CliError(f"the lab at {url} does not answer ({exc}): has it stopped?") from None


def cmd_labctl(args: argparse.Namespace) -> int:
    url, token = _control(args.lab_config or args.config)
    verb = args.verb
    if verb == "list":
        doc = _call(url, token, "GET", "/v1/list")
        if getattr(args, "json", False):
            dump_json(doc)
        else:
            print("\n".join(_list_lines(doc)))
        return 0
    body: dict[str, Any]
    if verb in ("power-off", "power-on"):
        body = {"host": args.host}
    elif verb == "reboot":
        body = {"target": args.target}
    elif verb == "reconnect":
        body = {"peer": args.peer}
    elif verb == "free-disk":
        body = {"node": args.node}
    elif verb == "drill":
        if args.at < 0:
            raise CliError(f"--at must be zero or more lab seconds, got {args.at:g}")
        body = {"name": args.name, "at": args.at, "target": args.target}
    else:
        body = {"name": args.name, "arch": args.arch, "site": args.site, "ip": args.ip}
    doc = _call(url, token, "POST", f"/v1/{verb}", body)
    print(doc.get("message", ""))
    return 0


def _list_lines(doc: dict[str, Any]) -> list[str]:
    """One grep-able line per object: kind, name, state."""
    lines = [f"lab {doc['lab']} clock {doc['clock']}"]
    for h in doc["hosts"]:
        state = "on" if h["online"] else "off"
        lines.append(f"host  {h['name']}  {state}  {h['arch']}  {h['site'] or '-'}")
    for g in doc["guests"]:
        lines.append(f"guest {g['vmid']}  {g['name']}  {g['status']}  on {g['host']}")
    for n in doc["nodes"]:
        lines.append(f"node  {n['name']}  Ready={n['ready']}")
    for p in doc["peers"]:
        state = "online" if p["online"] else "offline"
        path = "direct" if p["direct"] else "relay"
        expired = "  key-expired" if p["expired"] else ""
        lines.append(f"peer  {p['hostname']}  {state}  {path}{expired}")
    for d in doc["drills"]:
        lines.append(f"drill {d['name']}  {d['summary']}")
    for item in doc["pending"]:
        lines.append(f"pending {item['at']}  {item['what']}")
    for item in doc["history"]:
        lines.append(f"done  {item['at']}  {item['what']}")
    return lines
