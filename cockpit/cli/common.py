"""What every subcommand shares: the error a user can fix, loading a lab or the config,
printing a rich renderable, and the one JSON dump."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

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


# Wide enough that no cell of a real report is ever cut, small enough that rich's layout
# arithmetic stays cheap (it never pads a table or a line of text out to this width).
PIPE_WIDTH = 100_000


def console(file: IO[str] | None = None) -> Any:  # returns a rich Console
    """The one console every command prints through.

    On a terminal it is rich's own (colour, the terminal's width). Anywhere else (a pipe, a
    file, `watch`, cron) it prints as kubectl does: every cell in full, one table row per
    line, no wrapping, no ellipsis and no colour, so `cockpit plan n100 | grep worker-1`
    finds the node row. Strings from data or config must still reach it as `Text(...)` or
    through `rich.markup.escape`, never as markup.
    """
    from rich.console import Console

    stream = file if file is not None else sys.stdout
    if _is_terminal(stream):
        return Console(file=stream, highlight=False)
    return Console(
        file=stream,
        width=PIPE_WIDTH,
        color_system=None,
        no_color=True,
        highlight=False,
        soft_wrap=True,
        emoji=False,
    )


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: not a terminal
        return False


def plain_row(table: Any, *cells: object, **options: Any) -> None:
    """Add a table row whose str cells are plain text: rich would read "[kubernetes]" in a
    hint, or a bracket in a pod name, as markup and drop it."""
    from rich.text import Text

    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells), **options)


def print_renderable(renderable: object) -> None:
    console().print(renderable)


def dump_json(document: dict[str, Any]) -> None:
    # default=str: journal records carry datetimes and paths.
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
