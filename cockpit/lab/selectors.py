"""labelSelector and fieldSelector query strings, parsed as the apiserver does."""

from __future__ import annotations

import re
from collections.abc import Callable

from cockpit.model import LabelSelector, Requirement

# Splits on commas that are not inside a "key in (a,b)" value list.
_TERMS = re.compile(r",(?![^(]*\))")
_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")


class SelectorError(ValueError):
    pass


def parse_label_selector(text: str) -> LabelSelector:
    """`app=web,tier!=db,env in (a,b),!legacy` -> LabelSelector."""
    reqs: list[Requirement] = []
    for term in _TERMS.split(text or ""):
        if not term.strip():
            continue
        if m := _SET.match(term):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(m.group(1), "In" if m.group(2) == "in" else "NotIn", values))
        elif m := _EQ.match(term):
            op = "NotIn" if m.group(2) == "!=" else "In"
            reqs.append(Requirement(m.group(1), op, (m.group(3),)))
        elif m := _EXISTS.match(term):
            reqs.append(Requirement(m.group(2), "DoesNotExist" if m.group(1) else "Exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {term.strip()!r}")
    return LabelSelector(match_expressions=tuple(reqs))


FIELDS: dict[str, Callable[[dict], str]] = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
    "spec.nodeName": lambda o: o.get("spec", {}).get("nodeName", ""),
    "status.phase": lambda o: o.get("status", {}).get("phase", ""),
    "spec.unschedulable": lambda o: str(bool(o.get("spec", {}).get("unschedulable"))).lower(),
    # The event fields the apiserver indexes (kubectl describe and kubectl events use them).
    **{
        f"involvedObject.{name}": (lambda o, name=name: o.get("involvedObject", {}).get(name, ""))
        for name in (
            "name",
            "kind",
            "namespace",
            "uid",
            "apiVersion",
            "resourceVersion",
            "fieldPath",
        )
    },
    "reason": lambda o: o.get("reason", ""),
    "type": lambda o: o.get("type", ""),
    "source": lambda o: o.get("source", {}).get("component", ""),
    "reportingComponent": lambda o: o.get("reportingComponent", ""),
}


def parse_field_selector(text: str) -> Callable[[dict], bool]:
    """`spec.nodeName=worker-1,status.phase!=Succeeded` -> a predicate over objects."""
    checks: list[tuple[Callable[[dict], str], bool, str]] = []
    for term in (text or "").split(","):
        if not term.strip():
            continue
        m = _EQ.match(term)
        if not m:
            raise SelectorError(f"invalid field selector: {term.strip()!r}")
        getter = FIELDS.get(m.group(1))
        if getter is None:
            raise SelectorError(f'field label not supported: "{m.group(1)}"')
        checks.append((getter, m.group(2) != "!=", m.group(3)))

    def matches(obj: dict) -> bool:
        return all((get(obj) == value) == equal for get, equal, value in checks)

    return matches
