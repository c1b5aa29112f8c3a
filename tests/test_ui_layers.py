"""The UI's own layering, read from the source with ast: screens and widgets never import the
app (they read it through cockpit.ui.host.Host and post messages), not even for type
checking, and only the app's modules open the screens."""

from __future__ import annotations

import ast
from pathlib import Path

import cockpit.ui

UI = Path(cockpit.ui.__file__).parent
APP = "cockpit.ui.app"
SCREENS = "cockpit.ui.screens"
# The app and its mixin of action keys: the modules allowed to know every screen.
APP_MODULES = {"cockpit.ui.app", "cockpit.ui.action_keys"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(UI.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module name an import statement anywhere in `source` can bind (under `if
    TYPE_CHECKING:` or inside a function too): `from a.b import c` gives a.b and a.b.c;
    relative imports are resolved against `module`. A string passed to a call (importlib)
    counts too."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            names.update(
                arg.value
                for arg in node.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return names


def _ui_modules() -> dict[str, set[str]]:
    return {
        _module_name(path): imported(
            path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py"
        )
        for path in sorted(UI.rglob("*.py"))
    }


def _hits(names: set[str], target: str) -> bool:
    return any(n == target or n.startswith(f"{target}.") for n in names)


def test_the_checker_sees_every_way_of_importing_the_app():
    planted = [
        "import cockpit.ui.app",
        "from cockpit.ui.app import CockpitApp",
        "from cockpit.ui import app",
        "from .. import app",
        "from ..app import CockpitApp",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cockpit.ui.app import X",
        "def f():\n    import importlib\n    return importlib.import_module('cockpit.ui.app')",
    ]
    for source in planted:
        assert _hits(imported(source, "cockpit.ui.screens.x"), APP), source
    assert not _hits(imported("from cockpit.ui.host import Host", "cockpit.ui.screens.x"), APP)


def test_no_ui_module_but_the_app_imports_the_app():
    modules = _ui_modules()
    assert "cockpit.ui.screens.detail" in modules  # the walk reaches the screens
    offenders = sorted(m for m, names in modules.items() if m != APP and _hits(names, APP))
    assert offenders == []


def test_screens_never_import_the_app_even_for_type_checking():
    modules = _ui_modules()
    screens = {m: names for m, names in modules.items() if m.startswith(SCREENS)}
    assert len(screens) >= 3
    assert sorted(m for m, names in screens.items() if _hits(names, APP)) == []


def test_only_the_app_opens_the_screens():
    modules = _ui_modules()
    importers = {
        m for m, names in modules.items() if not m.startswith(SCREENS) and _hits(names, SCREENS)
    }
    assert importers <= APP_MODULES
    assert APP in importers
