"""The three patch types kubectl sends: JSON merge patch (RFC 7386), strategic merge patch
(merge patch whose lists of named objects merge by name) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    pass


def merge_patch(target: Any, patch: Any, strategic: bool = False) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # strategic directives ($patch, $retainKeys...) are not needed here
        if value is None:
            out.pop(key, None)
        elif strategic and isinstance(value, list) and _named(value) and _named(out.get(key)):
            out[key] = _merge_named(out[key], value)
        else:
            out[key] = merge_patch(out.get(key), value, strategic)
    return out


def _named(items: Any) -> bool:
    return (
        isinstance(items, list)
        and bool(items)
        and all(isinstance(i, dict) and "name" in i for i in items)
    )


def _merge_named(current: list, patch: list) -> list:
    """Containers, volumes, env...: patchMergeKey is `name` for all the lists we serve."""
    out = [dict(i) for i in current]
    index = {i["name"]: n for n, i in enumerate(out)}
    for item in patch:
        if item.get("$patch") == "delete":
            out = [i for i in out if i["name"] != item["name"]]
            index = {i["name"]: n for n, i in enumerate(out)}
        elif item["name"] in index:
            out[index[item["name"]]] = merge_patch(out[index[item["name"]]], item, True)
        else:
            out.append(item)
            index[item["name"]] = len(out) - 1
    return out


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchError("a JSON patch is a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}")
        doc = _apply(doc, op)
    return doc


def _apply(doc: Any, op: dict) -> Any:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    if not parts:
        return copy.deepcopy(op.get("value"))
    parent = doc
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent.get(part)
        if parent is None:
            raise PatchError(f"path {op['path']!r} does not exist")
    last = parts[-1]
    kind = op["op"]
    if kind in ("add", "replace"):
        if isinstance(parent, list):
            if last == "-":
                parent.append(op["value"])
            elif kind == "add":
                parent.insert(int(last), op["value"])
            else:
                parent[int(last)] = op["value"]
        else:
            if kind == "replace" and last not in parent:
                raise PatchError(f"path {op['path']!r} does not exist")
            parent[last] = op["value"]
    elif kind == "remove":
        try:
            del parent[int(last) if isinstance(parent, list) else last]
        except (KeyError, IndexError):
            raise PatchError(f"path {op['path']!r} does not exist") from None
    elif kind == "test":
        actual = parent[int(last)] if isinstance(parent, list) else parent.get(last)
        if actual != op.get("value"):
            raise PatchError(f"test failed at {op['path']!r}")
    else:
        raise PatchError(f"unsupported JSON patch operation {kind!r}")
    return doc
