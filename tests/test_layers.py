"""Who may import whom, read from the source with `ast` (every import counts: top-level,
inside functions and under TYPE_CHECKING, because a lazy import is still a dependency).

No cycle may run at import time (imports under `if TYPE_CHECKING:` are for the type checker
only and are left out of that check; the direction rules count them).

Layers, top to bottom; a module imports only from its own package or from layers below it:

    cli > ui > runbooks > triage | actions > inventory | detail | labfile > alloc | sources > core

Modules of one layer separated by `|` are independent of each other. `inventory`, `detail`
and `labfile` assemble Snapshots out of adapters or files (labfile places the planned pods
with the engine's scheduler), so they sit above `alloc | sources`. Two leaf modules of
records, `alloc.thresholds` and `sources.health`, belong to the core: the config reads
thresholds and every layer reports health; the test keeps them leaves. The simulated
homelab (`cockpit.lab`) stands beside the product: it may use the layers up to the
assemblers, and only the command line starts it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "cockpit"

# (rank, group) by module prefix; the longest matching prefix wins.
LAYER_OF_PREFIX: dict[str, tuple[int, str]] = {
    "cockpit.cli": (8, "cli"),
    "cockpit.__main__": (8, "cli"),
    "cockpit.ui": (7, "ui"),
    "cockpit.runbooks": (6, "runbooks"),
    "cockpit.triage": (5, "triage"),
    "cockpit.actions": (5, "actions"),
    "cockpit.inventory": (4, "inventory"),
    "cockpit.detail": (4, "detail"),
    "cockpit.labfile": (4, "labfile"),
    "cockpit.alloc": (3, "alloc"),
    "cockpit.sources": (3, "sources"),
    "cockpit.alloc.thresholds": (0, "core"),
    "cockpit.sources.health": (0, "core"),
    "cockpit.lab": (4, "lab"),
}
CORE = (0, "core")
LEAVES = ("cockpit.alloc.thresholds", "cockpit.sources.health")


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def layer(module: str) -> tuple[int, str]:
    best = ""
    for prefix in LAYER_OF_PREFIX:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return LAYER_OF_PREFIX[best] if best else CORE


def _type_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (never executed)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


def imports(module: str, runtime_only: bool = False) -> Iterator[str]:
    """Every module `module` imports; `from pkg import sub` counts as importing pkg.sub only
    when sub is a module, else as importing pkg. `runtime_only` leaves out the imports under
    `if TYPE_CHECKING:`, which never run."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            subs = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in MODULES]
            yield from subs if len(subs) == len(node.names) else [source, *subs]


def _edges() -> list[tuple[str, str]]:
    return [
        (module, target)
        for module in sorted(MODULES)
        for target in imports(module)
        if target.split(".")[0] == "cockpit" and target != module
    ]


EDGES = _edges()


def _allowed(source: str, target: str) -> bool:
    (src_rank, src_group), (dst_rank, dst_group) = layer(source), layer(target)
    if target == "cockpit":  # the package root holds only the version
        return True
    if dst_group == "lab":
        return src_group in ("lab", "cli")
    if src_group == "lab":
        return dst_rank <= 4 and dst_group not in ("inventory", "detail")
    if src_group == dst_group:
        return True
    return dst_rank < src_rank


def test_every_import_points_down_the_layers():
    wrong = [f"{s} -> {t}" for s, t in EDGES if not _allowed(s, t)]
    assert wrong == []


def test_the_core_leaves_import_nothing_of_the_cockpit():
    for leaf in LEAVES:
        assert [t for s, t in EDGES if s == leaf and t != "cockpit"] == []


def test_no_import_cycle_between_modules():
    # Imports that run, at module level or inside functions; type-only ones cannot loop.
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for source in MODULES:
        for target in imports(source, runtime_only=True):
            if target in graph and target != source:
                graph[source].add(target)
    cycles = _strongly_connected(graph)
    assert [sorted(c) for c in cycles if len(c) > 1] == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            out.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return out


@pytest.mark.parametrize(
    ("library", "allowed"),
    [("textual", ("ui",)), ("rich", ("ui", "cli"))],
)
def test_terminal_libraries_stay_in_the_front_ends(library: str, allowed: tuple[str, ...]):
    users = sorted(
        module
        for module in MODULES
        for target in imports(module)
        if target.split(".")[0] == library and layer(module)[1] not in allowed
    )
    assert users == []


def test_the_rules_see_the_modules_they_judge():
    # A rule over an empty graph passes whatever the code does.
    assert len(MODULES) > 60
    assert ("cockpit.cli.actions", "cockpit.actions.base") in EDGES
    assert not _allowed("cockpit.actions.drain", "cockpit.cli.common")
    assert not _allowed("cockpit.model", "cockpit.sources.kube")
    assert not _allowed("cockpit.alloc.ledger", "cockpit.sources.kube")
    assert not _allowed("cockpit.sources.kube", "cockpit.lab.runner")
