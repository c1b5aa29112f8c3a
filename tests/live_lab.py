"""A built-in lab running on loopback with an inventory synced to it through the config the
lab wrote (the path a real homelab takes), and the action Context the cockpit would build."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cockpit import labfile
from cockpit.actions.base import Context
from cockpit.actions.journal import Journal
from cockpit.config import load_config
from cockpit.inventory import Inventory, from_config
from cockpit.lab.runner import RunningLab
from cockpit.lab.templates import with_agent_template


def with_template(name: str, directory: Path) -> str:
    """A built-in lab's file plus a k3s-agent template, written into `directory`."""
    return str(with_agent_template(name, directory))


@contextmanager
def live_lab(
    name: str, speed: float = 30, directory: Path | None = None
) -> Iterator[tuple[RunningLab, Inventory]]:
    """Both stopped afterwards, also when the first sync fails."""
    lab = RunningLab(labfile.load(name), speed=speed, directory=directory).start()
    inventory = None
    try:
        inventory = from_config(load_config(lab.config_path))
        inventory.refresh(timeout=30)
        yield lab, inventory
    finally:
        if inventory is not None:
            inventory.stop()
        lab.stop()


def action_context(
    inventory: Inventory,
    journal: Journal,
    kube: Any = None,
    readonly: bool = False,
    retry_every: float = 0.1,
) -> Context:
    """Fast polling and retries: the lab clock runs many times real time."""
    return Context(
        snapshot=inventory.publish,
        links=lambda: inventory.links,
        journal=journal,
        kube=kube or inventory.kube,
        proxmox=inventory.proxmox,
        readonly=readonly,
        poll_every=0.05,
        retry_every=retry_every,
    )
