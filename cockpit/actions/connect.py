"""The Context an action runs in, from a running Inventory: its live adapters, its picture
of the lab, and a journal that knows every token it must scrub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cockpit.actions.base import Context
from cockpit.actions.journal import Journal
from cockpit.secret import Secret


def secrets_of(inventory: Any) -> list[Secret]:
    """The PVE token from the config and the bearer token the kube client sends."""
    found: list[Secret] = []
    proxmox = getattr(inventory.config, "proxmox", None)
    if proxmox is not None:
        found.append(proxmox.token_value)
    client = getattr(inventory.kube, "_client", None)
    keys = getattr(getattr(client, "configuration", None), "api_key", None) or {}
    for value in keys.values():
        if isinstance(value, str) and value:
            found.append(Secret(value.removeprefix("Bearer ").strip()))
    return found


def context_for(inventory: Any, journal_path: Path | None = None, fresh: bool = False) -> Context:
    """Plans see the inventory's latest snapshot (`fresh`: one built at that moment, for a
    one-shot command); build a Context per action so a kube client connected after
    start-up still has its token scrubbed."""
    return Context(
        snapshot=inventory.publish if fresh else (lambda: inventory.snapshot),
        links=lambda: inventory.links,
        journal=Journal(journal_path, secrets_of(inventory)),
        kube=inventory.kube,
        proxmox=inventory.proxmox,
        readonly=bool(getattr(inventory.config, "readonly", False)),
    )
