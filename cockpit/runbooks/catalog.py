"""Every runbook, loaded into the action registry (they resume like any action)."""

from __future__ import annotations

import importlib

from cockpit.actions.base import REGISTRY, Action
from cockpit.actions.catalog import actions

MODULES = ("replace",)


def everything() -> dict[str, type[Action]]:
    """The actions and the runbooks: what the shell and the screen offer and resume."""
    actions()
    for module in MODULES:
        importlib.import_module(f"cockpit.runbooks.{module}")
    return REGISTRY
