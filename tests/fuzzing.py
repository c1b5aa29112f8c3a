"""Hypothesis strategies that turn real captures into hostile ones.

A mutation walks to one spot of a JSON document (a dict key or a list index, at any depth)
and does what a broken server, a proxy or a hand-edited file does there: drops the key,
swaps the value's type, puts a number beyond any range (1e400 reads as inf, 10**400 is an
int no float can hold), an empty string, a null, a nested null, or an arbitrary JSON value.
Several mutations can stack. Random JSON documents are fed too, for the shapes no capture
suggests.

The CI profile is derandomized (the same cases on every run, so the suite cannot flake)
and bounded in examples; COCKPIT_FUZZ_EXAMPLES raises the count and, with it, lets
hypothesis pick new cases (a longer hunt on a workstation).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"

HUGE_INT = 10**400
# What a hostile or broken answer puts where a value belongs.
NASTY: tuple[Any, ...] = (
    None,
    "",
    " ",
    0,
    -1,
    1,
    True,
    False,
    float("inf"),  # JSON 1e400, as json.loads and requests read it
    float("-inf"),
    float("nan"),
    HUGE_INT,
    -HUGE_INT,
    2**64,
    1e308,
    1.5,
    "1e400",
    "10" + "0" * 400,
    "127.3.3.40:" + "9" * 5000,  # beyond int()'s 4300 digits
    "9" * 5000,
    "-1",
    "NaN",
    "inf",
    "x" * 200,
    "[/x]",
    "\x00",
    "é",
    [],
    {},
    [None],
    {"": None},
    {"a": {"b": None}},
    [[None]],
    "0001-01-01T00:00:00Z",
    "2026-13-45T99:99:99Z",
)

EXAMPLES = int(os.environ.get("COCKPIT_FUZZ_EXAMPLES", "0") or 0)

settings.register_profile(
    "fuzz-ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-deep",
    max_examples=max(EXAMPLES, 1),
    deadline=None,
    derandomize=False,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = "fuzz-deep" if EXAMPLES else "fuzz-ci"


def fuzz_settings(examples: int = 150) -> settings:
    """The profile for one test; `examples` is its CI budget."""
    base = settings.get_profile(PROFILE)
    return settings(base, max_examples=EXAMPLES or examples)


def load_fixture(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(NASTY).map(copy.deepcopy),
)
random_json = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _spots(doc: Any, limit: int = 4000) -> list[tuple[Any, Any]]:
    """(container, key) for every value in doc, breadth first, at most `limit` of them."""
    out: list[tuple[Any, Any]] = []
    queue = [doc]
    while queue and len(out) < limit:
        node = queue.pop(0)
        if isinstance(node, dict):
            for key, value in node.items():
                out.append((node, key))
                queue.append(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                out.append((node, index))
                queue.append(value)
    return out


def _swapped(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return 0


MUTATIONS = ("drop", "nasty", "swap", "random", "null-inside", "duplicate")


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any], max_mutations: int = 4) -> Any:
    """One of `seeds`, copied, with one to `max_mutations` mutations at random spots."""
    doc = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, max_mutations))):
        spots = _spots(doc)
        if not spots:
            return draw(random_json)
        container, key = spots[draw(st.integers(0, len(spots) - 1))]
        action = draw(st.sampled_from(MUTATIONS))
        if action == "drop":
            if isinstance(container, dict):
                del container[key]
            else:
                container.pop(key)
        elif action == "nasty":
            container[key] = copy.deepcopy(draw(st.sampled_from(NASTY)))
        elif action == "swap":
            container[key] = _swapped(container[key])
        elif action == "random":
            container[key] = draw(random_json)
        elif action == "null-inside":
            value = container[key]
            if isinstance(value, dict) and value:
                value[next(iter(value))] = None
            elif isinstance(value, list) and value:
                value[0] = None
            else:
                container[key] = {"": None}
        else:  # the same value again where a list item was: a duplicated entry
            if isinstance(container, list):
                container.append(copy.deepcopy(container[key]))
    return doc


def seeds_or_random(seeds: list[Any]) -> st.SearchStrategy[Any]:
    """Mostly mutated captures (they reach deep code), sometimes unseeded random JSON."""
    return st.one_of(mutated(seeds), mutated(seeds), mutated(seeds), random_json)


# --- TOML: lab files and the config ---------------------------------------------------------


def _toml_key(key: str) -> str:
    return json.dumps(key)  # a quoted key is always valid


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None
            )
            + "}"
        )
    return '""'


def to_toml(doc: dict[str, Any]) -> str:
    """A dict as TOML text (nulls, which TOML cannot say, are left out): tables as
    [headers] and [[arrays]] so line numbers mean something, the rest inline."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in doc.items():
        if isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        ):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in tables:
        if isinstance(value, dict):
            lines.append(f"[{_toml_key(key)}]")
            lines += [
                f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None
            ]
        else:
            for item in value:
                lines.append(f"[[{_toml_key(key)}]]")
                lines += [
                    f"{_toml_key(k)} = {_toml_value(v)}" for k, v in item.items() if v is not None
                ]
    return "\n".join(lines) + "\n"


@st.composite
def mutated_text(draw: st.DrawFn, texts: list[str]) -> str:
    """Line-level damage to a text file: a line dropped, cut, doubled or replaced."""
    lines = draw(st.sampled_from(texts)).splitlines()
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(("drop", "cut", "double", "replace")))
        if action == "drop":
            lines.pop(i)
        elif action == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif action == "double":
            lines.insert(i, lines[i])
        else:
            lines[i] = draw(st.text(max_size=30))
    return "\n".join(lines) + "\n"
