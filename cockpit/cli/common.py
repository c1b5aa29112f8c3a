"""What every subcommand shares: the error a user can fix, loading a lab or the config,
printing a rich renderable, and the one JSON dump."""

from __future__ import annotations

import json
import sys
from typing import Any

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; its message says how."""


def load_lab(spec: str) -> Any:  # returns a Lab
    from cockpit.labfile import LabFileError, load

    try:
        return load(spec)
    except LabFileError as exc:
        raise CliError(str(exc)) from None


def load_config(path: str | None, context: str | None = None) -> Any:  # returns a Config
    from dataclasses import replace

    from cockpit.config import ConfigError
    from cockpit.config import load_config as read_config

    try:
        config = read_config(path)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    for warning in config.warnings:
        print(f"cockpit: warning: {warning}", file=sys.stderr)
    if context and config.kube is not None:
        config = replace(config, kube=replace(config.kube, context=context))
    return config


def print_renderable(renderable: object) -> None:
    from rich.console import Console

    Console(soft_wrap=False).print(renderable)


def dump_json(document: dict[str, Any]) -> None:
    # default=str: journal records carry datetimes and paths.
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
