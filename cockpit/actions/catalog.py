"""Every action the cockpit offers, loaded into the registry (cockpit.actions.base)."""

from __future__ import annotations

import importlib

from cockpit.actions.base import REGISTRY, Action

MODULES = ("drain", "restart", "scale", "guest")


def actions() -> dict[str, type[Action]]:
    for module in MODULES:
        importlib.import_module(f"cockpit.actions.{module}")
    return REGISTRY
