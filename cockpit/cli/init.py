"""`cockpit init`: write a commented config from what this machine can reach, then check
each source live and say what worked.

What it looks for: the kubeconfig (KUBECONFIG, else ~/.kube/config) and its current
context; a tailscaled socket at the standard places; a Proxmox API given by flags or asked
for on a terminal. A Proxmox token's secret is written as a reference (env:VAR or
file:PATH), never as the secret itself. An existing config is never overwritten without
--force.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.cli.common import CliError, console

CHECK_TIMEOUT = 15.0


def add_command(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser(
        "init",
        help="write a config from what this machine can reach, and check each source",
    )
    init.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="where to write it (default: $XDG_CONFIG_HOME/cockpit/config.toml)",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing config")
    init.add_argument("--kubeconfig", metavar="PATH", help="the kubeconfig to use")
    init.add_argument("--proxmox-url", metavar="URL", help="e.g. https://pve.lan:8006")
    init.add_argument("--proxmox-token", metavar="ID", help="API token id, USER@REALM!TOKENID")
    init.add_argument(
        "--proxmox-secret",
        metavar="REF",
        help="where the token's secret is: env:VARIABLE or file:PATH (never the secret)",
    )
    init.add_argument("--proxmox-ca", metavar="PATH", help="the PVE CA certificate")
    init.add_argument(
        "--proxmox-insecure", action="store_true", help="skip TLS verification (not advised)"
    )
    init.add_argument("--tailscale-socket", metavar="PATH", help="the tailscaled socket")
    init.add_argument(
        "--no-check", action="store_true", help="write the config without contacting anything"
    )
    init.add_argument(
        "--timeout",
        type=float,
        default=CHECK_TIMEOUT,
        help=f"seconds to wait for the sources when checking (default {CHECK_TIMEOUT:g})",
    )


@dataclass
class Found:
    """What init found, and why for what it did not."""

    kubeconfig: str | None = None
    context: str | None = None
    kube_note: str = ""
    proxmox: dict[str, str] = field(default_factory=dict)
    proxmox_note: str = ""
    socket: str | None = None
    socket_note: str = ""


def cmd_init(args: argparse.Namespace) -> int:
    from cockpit.config import default_path

    path = Path(args.config).expanduser() if args.config else default_path()
    if path.exists() and not args.force:
        raise CliError(
            f"{path} exists; nothing was written (read it, or run `cockpit init --force` to "
            "replace it)"
        )
    out = console()
    found = Found()
    _find_kube(found, args.kubeconfig)
    _find_proxmox(found, args, out)
    _find_tailscale(found, args.tailscale_socket)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(found), encoding="utf-8")
    out.print(_plain(f"wrote {path}", "bold"))
    if args.no_check:
        return 0
    return 0 if _check(path, args.timeout, out) else 1


# --- finding --------------------------------------------------------------------------------


def _find_kube(found: Found, given: str | None) -> None:
    import yaml

    candidates = (
        [given] if given else [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    )
    if not candidates:
        candidates = [str(Path.home() / ".kube" / "config")]
    for candidate in candidates:
        file = Path(candidate).expanduser()
        if not file.is_file():
            continue
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            found.kube_note = f"{file} could not be read: {exc}"
            continue
        found.kubeconfig = str(file.resolve())
        context = data.get("current-context") if isinstance(data, dict) else None
        found.context = context if isinstance(context, str) and context else None
        return
    shown = ", ".join(candidates)
    found.kube_note = found.kube_note or f"no kubeconfig at {shown}"


def _find_proxmox(found: Found, args: argparse.Namespace, out: Any) -> None:
    url, token, secret = args.proxmox_url, args.proxmox_token, args.proxmox_secret
    if url is None and sys.stdin is not None and sys.stdin.isatty():
        url = _ask(out, "Proxmox API URL, e.g. https://pve.lan:8006 (empty: no Proxmox): ")
        if url:
            token = token or _ask(out, "API token id, USER@REALM!TOKENID: ")
            secret = secret or _ask(out, "Where the token's secret is, env:VARIABLE or file:PATH: ")
    if not url:
        found.proxmox_note = "no Proxmox URL given (--proxmox-url, or run init on a terminal)"
        return
    if not token:
        raise CliError("--proxmox-token is needed with a Proxmox URL: USER@REALM!TOKENID")
    if not secret or secret.partition(":")[0] not in ("env", "file") or ":" not in secret:
        raise CliError(
            "--proxmox-secret takes where the secret is, env:VARIABLE or file:PATH, never "
            "the secret itself; nothing was written"
        )
    found.proxmox = {"url": url, "token": token, "secret": secret}
    if args.proxmox_ca:
        found.proxmox["ca_file"] = str(Path(args.proxmox_ca).expanduser().resolve())
    if args.proxmox_insecure:
        found.proxmox["insecure"] = "true"


def _find_tailscale(found: Found, given: str | None) -> None:
    from cockpit.sources.tailscale import default_socket_paths, discover

    explicit = given or os.environ.get("COCKPIT_TAILSCALE_SOCKET")
    if explicit:
        if Path(explicit).exists():
            found.socket = explicit
        else:
            found.socket_note = f"no tailscaled socket at {explicit}"
        return
    endpoint = discover(None)
    if endpoint is not None and endpoint.kind == "unix":
        found.socket = endpoint.where
    else:
        found.socket_note = "no tailscaled socket at " + ", ".join(default_socket_paths()[:2])


def _ask(out: Any, prompt: str) -> str:
    out.print(_plain(prompt, ""), end="")
    out.file.flush()
    return sys.stdin.readline().strip()


# --- writing --------------------------------------------------------------------------------


def _q(value: str) -> str:
    """A TOML basic string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(found: Found) -> str:
    lines = [
        f"# The cockpit's config, written by `cockpit init` on {time.strftime('%Y-%m-%d')}",
        "# from what this machine could reach. Edit freely: `cockpit init --force` rewrites it.",
        "# Every key is described in the README (Configuration).",
        "",
    ]
    if found.kubeconfig:
        lines += [
            "[kubernetes]",
            f"kubeconfig = {_q(found.kubeconfig)}",
        ]
        if found.context:
            lines.append(f"context = {_q(found.context)}      # the current context at init")
        else:
            lines.append('# context = "NAME"      # default: the kubeconfig\'s current context')
    else:
        lines += [
            f"# Kubernetes: {found.kube_note}.",
            "# [kubernetes]",
            '# kubeconfig = "~/.kube/config"',
            '# context = "home"',
        ]
    lines.append("")
    if found.proxmox:
        p = found.proxmox
        lines += [
            "[proxmox]",
            f"url = {_q(p['url'])}",
            f"token = {_q(p['token'])}",
            f"secret = {_q(p['secret'])}      # where the secret is: env:VAR or file:PATH",
        ]
        if "ca_file" in p:
            lines.append(f"ca_file = {_q(p['ca_file'])}")
        if "insecure" in p:
            lines.append("insecure = true      # TLS is not verified")
    else:
        lines += [
            f"# Proxmox: {found.proxmox_note}.",
            "# [proxmox]",
            '# url = "https://pve.lan:8006"',
            '# token = "cockpit@pve!monitor"     # a read-only API token (PVEAuditor)',
            '# secret = "env:PVE_TOKEN_SECRET"   # or "file:~/.config/cockpit/pve.secret"',
            '# ca_file = "/etc/pve/pve-root-ca.pem"',
        ]
    lines.append("")
    if found.socket:
        lines += ["[tailscale]", f"socket = {_q(found.socket)}"]
    else:
        lines += [
            f"# Tailscale: {found.socket_note}.",
            "# [tailscale]",
            '# socket = "/var/run/tailscale/tailscaled.sock"',
        ]
    lines += [
        "",
        "# Where each machine stands (Proxmox hosts and bare-metal machines, by name);",
        "# Kubernetes nodes say it with the topology.kubernetes.io/zone label.",
        "# [sites]",
        '# pve = "home"',
        "",
        "[ui]",
        'theme = "dark"',
        "readonly = false      # true: look, never touch",
        "",
    ]
    return "\n".join(lines)


# --- checking -------------------------------------------------------------------------------


def _check(path: Path, timeout: float, out: Any) -> bool:
    """Each source live, through the config just written: what worked, what did not."""
    from cockpit.config import ConfigError, load_config
    from cockpit.inventory import from_config

    try:
        config = load_config(path)
    except ConfigError as exc:
        out.print(_plain(f"the config does not load yet: {exc}", "bold red"))
        return False
    inventory = from_config(config)
    try:
        snapshot = inventory.refresh(timeout=timeout)
        health = inventory.health()
    finally:
        inventory.stop()
    counts = {
        "kube": f"{len(snapshot.nodes)} nodes, {len(snapshot.pods)} pods",
        "proxmox": f"{len(snapshot.hosts)} hosts, {len(snapshot.guests)} guests",
        "tailscale": f"{len(snapshot.peers)} peers",
    }
    now = time.time()
    worked = False
    for name, h in health.items():
        if h.state == "ok":
            worked = True
            out.print(_plain(f"  {name:<10} ok: {counts.get(name, '')}", "green"))
        else:
            style = "dim" if h.state in ("unconfigured", "not_found") else "bold red"
            out.print(_plain(f"  {name:<10} {h.describe(now)}", style))
    if worked:
        out.print(_plain("start the cockpit with `cockpit`; `cockpit report` prints it", ""))
    else:
        out.print(_plain("no source answered: fix the config, then `cockpit report`", "yellow"))
    return worked


def _plain(text: str, style: str) -> Any:
    from rich.text import Text

    return Text(text, style=style)
