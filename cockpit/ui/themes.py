"""Themes as data: every `*.toml` in a themes folder becomes a textual.theme.Theme.

A broken file must never keep the cockpit from starting: it is skipped and reported with
the file and key, and the built-in dark theme is always there to fall back on.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

import cockpit
from cockpit.ui.palette import Palette

# The shipped themes: package data (cockpit/themes/ in a wheel, mapped from the repository's
# themes/ folder), or the repository's themes/ itself in an editable install or a checkout.
_PACKAGE = Path(cockpit.__file__).resolve().parent
THEMES_DIR = next(
    (d for d in (_PACKAGE / "themes", _PACKAGE.parent / "themes") if d.is_dir()),
    _PACKAGE / "themes",
)


def user_themes_dir(env: Mapping[str, str] = os.environ) -> Path:
    """$XDG_CONFIG_HOME/cockpit/themes/: the operator's own themes, beside the config."""
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cockpit" / "themes"


def theme_dirs(env: Mapping[str, str] = os.environ) -> list[Path]:
    """Where themes are looked for, later folders overriding a theme of the same name."""
    return [THEMES_DIR, user_themes_dir(env)]


DEFAULT_THEME = "dark"
COLOURS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "success",
    "warning",
    "error",
)
# Same values as themes/dark.toml, so a missing or broken dark.toml changes nothing.
BUILTIN_DARK = Theme(
    name=DEFAULT_THEME,
    dark=True,
    primary="#4f9dde",
    secondary="#7f8fa6",
    accent="#f0a04b",
    foreground="#e0e0e0",
    background="#121417",
    surface="#1b1e23",
    panel="#2a2f37",
    success="#5fbf6f",
    warning="#e0c050",
    error="#e05a5a",
)


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and the key."""

    def __init__(self, file: Path | str, key: str, message: str) -> None:
        where = f"{file}: {key}" if key else str(file)
        super().__init__(f"{where}: {message}")
        self.file, self.key = str(file), key


@dataclass
class ThemeSet:
    """The usable themes by name (dark first) and one message per broken file."""

    themes: dict[str, Theme] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return list(self.themes)


def load_theme(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(path, "", f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(path, "", f"not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"name", "dark", "ansi", "variables", *COLOURS})
    if unknown:  # a typo like "primay" would otherwise silently fall back to a default
        raise ThemeFileError(path, unknown[0], "unknown key")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ThemeFileError(path, "name", "must be a non-empty string")
    for key in ("dark", "ansi"):
        if key in data and not isinstance(data[key], bool):
            raise ThemeFileError(path, key, "must be true or false")
    if "dark" not in data:
        raise ThemeFileError(path, "dark", "missing (true or false)")
    colours: dict[str, str] = {}
    for key in COLOURS:
        value = data.get(key)
        if not isinstance(value, str):
            raise ThemeFileError(path, key, "missing colour" if value is None else "not a string")
        try:
            Color.parse(value)
        except ColorParseError as exc:
            raise ThemeFileError(path, key, f"not a colour: {value!r} ({exc})") from None
        colours[key] = value
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError(path, "variables", "must be a table of name = value")
    for key, value in variables.items():
        if not isinstance(value, str):
            raise ThemeFileError(path, f"variables.{key}", "must be a string")
    return Theme(
        name=name,
        dark=data["dark"],
        ansi=data.get("ansi", False),
        variables=dict(variables),
        **colours,
    )


def load_themes(folder: Path | None = None) -> ThemeSet:
    """Every theme in `folder` (default: the shipped themes, then the user's), the built-in
    dark one always included."""
    found = ThemeSet({DEFAULT_THEME: BUILTIN_DARK})
    for place in theme_dirs() if folder is None else [folder]:
        if not place.is_dir():
            continue
        for path in sorted(place.glob("*.toml")):
            try:
                theme = load_theme(path)
            except ThemeFileError as exc:
                found.errors.append(str(exc))
                continue
            found.themes[theme.name] = theme
    return found


def rich_colour(value: str | None, fallback: str) -> str:
    """A theme colour as something rich understands ("ansi_green" is Textual's spelling)."""
    if not value:
        return fallback
    if value.startswith("ansi_"):
        return value.removeprefix("ansi_")
    try:
        return Color.parse(value).hex
    except ColorParseError:
        return fallback


def palette_for(theme: Theme) -> Palette:
    return Palette(
        ok=rich_colour(theme.success, "green"),
        warn=rich_colour(theme.warning, "yellow"),
        bad=rich_colour(theme.error, "red"),
        info=rich_colour(theme.secondary, "cyan"),
    )
