"""Raw Kubernetes API JSON to cockpit model records.

This is the hot path of every refresh: a list of ten thousand pods arrives as bytes,
``orjson.loads`` turns it into dicts and lists, and the functions here turn those into
frozen model records. So they read the dicts directly (never the kubernetes client's model
classes, which cost far more per object), parse quantities with the cached
``cockpit.units`` parsers, and check types with ``isinstance`` instead of per-field
try/except.

Tolerant of missing fields (an apiserver omits empty ones, and test fixtures trim more),
strict about values the allocation engine relies on: a quantity that does not parse, a
priority that is not a whole number or an operator the model cannot evaluate raises
``ValueError`` naming the object and the field, e.g.
``Pod default/web-0: spec.containers[1].resources.limits.memory: invalid ...``.

What the model cannot hold is dropped on purpose:

* required node affinity ``matchFields`` (the DaemonSet controller pins every DaemonSet pod
  with ``metadata.name In [node]``): ``Requirement`` evaluates labels only, so a term's
  field requirements are left out, and a term made of fields only is dropped.
* required pod *affinity*, every preferred term, ``namespaceSelector``, ``matchLabelKeys``,
  ``minDomains`` and the spread constraint's node policies.
* a required anti-affinity term or a spread constraint whose ``labelSelector`` is null: it
  selects no pod in Kubernetes, while an empty ``LabelSelector`` selects every pod, so the
  term is dropped rather than turned into its opposite.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from cockpit.model import (
    UNSET,
    AffinityTerm,
    Container,
    ContainerState,
    Endpoint,
    EndpointSlice,
    Event,
    Hpa,
    HpaMetric,
    LabelSelector,
    Node,
    OwnerRef,
    Pdb,
    Pod,
    PriorityClass,
    Requirement,
    Resources,
    Service,
    SpreadConstraint,
    Taint,
    Toleration,
    Workload,
)
from cockpit.units import parse_bytes, parse_cpu

__all__ = [
    "WORKLOAD_KINDS",
    "parse_endpoint_slice",
    "parse_event",
    "parse_hpa",
    "parse_list",
    "parse_node",
    "parse_node_metrics",
    "parse_pdb",
    "parse_pod",
    "parse_pod_metrics",
    "parse_priority_class",
    "parse_service",
    "parse_time",
    "parse_workload",
]

T = TypeVar("T")

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
_NODE_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"})
_LABEL_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})
_TOLERATION_OPERATORS = frozenset({"Equal", "Exists"})
_EFFECTS = frozenset({"NoSchedule", "PreferNoSchedule", "NoExecute"})
_WHEN_UNSATISFIABLE = frozenset({"DoNotSchedule", "ScheduleAnyway"})
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_INT64 = 2**63


# --- errors -------------------------------------------------------------------------------


class _FieldError(Exception):
    """A field that cannot be read. The public parser that catches it adds which object
    it was in; the field path is only formatted here, on the error path."""

    def __init__(self, field: str, problem: str, index: int | None = None) -> None:
        super().__init__(field, problem)
        self.field = field.format(index) if index is not None else field
        self.problem = problem


def _located(kind: str, obj: Any, problem: str) -> ValueError:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = namespace = None
    if isinstance(meta, dict):
        name, namespace = meta.get("name"), meta.get("namespace")
    ref = f"{namespace}/{name}" if namespace else str(name or "<unnamed>")
    return ValueError(f"{kind} {ref}: {problem}")


def _guarded(kind: str, parse: Callable[..., T], obj: Any, *args: Any) -> T:
    # One try per object, not per field: the fields raise _FieldError with their path,
    # and an unexpected shape (a string where a list belongs) still names the object.
    try:
        return parse(obj, *args)
    except _FieldError as err:
        where = f"{err.field}: " if err.field else ""
        raise _located(kind, obj, where + err.problem) from None
    except (TypeError, AttributeError) as err:
        raise _located(kind, obj, f"unexpected shape: {err}") from None


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# --- typed getters (cheap checks, no try) ----------------------------------------------------


def _dict(value: Any, field: str, index: int | None = None) -> dict:
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    raise _FieldError(field, f"expected an object, got {_type_name(value)}", index)


def _list(value: Any, field: str, index: int | None = None) -> list:
    if isinstance(value, list):
        return value
    if value is None:
        return []
    raise _FieldError(field, f"expected a list, got {_type_name(value)}", index)


def _str(value: Any, field: str, default: str = "", index: int | None = None) -> str:
    if type(value) is str:
        return value
    if value is None:
        return default
    raise _FieldError(field, f"expected a string, got {_type_name(value)} {value!r}", index)


def _int(value: Any, field: str, default: int, index: int | None = None) -> int:
    if type(value) is int:  # not isinstance: True is not one replica
        if -_INT64 <= value < _INT64:  # the API's integers are int32 or int64
            return value
        raise _FieldError(field, "out of range: beyond 64 bits", index)
    if value is None:
        return default
    raise _FieldError(field, f"expected a whole number, got {_type_name(value)} {value!r}", index)


def _bool(value: Any, field: str) -> bool:
    if value is None:
        return False
    if type(value) is bool:
        return value
    raise _FieldError(field, f"expected true or false, got {_type_name(value)} {value!r}")


def _str_map(value: Any, field: str) -> dict[str, str]:
    if not value:
        if value is None or isinstance(value, dict):
            return {}
        raise _FieldError(field, f"expected an object of strings, got {_type_name(value)}")
    if not isinstance(value, dict):
        raise _FieldError(field, f"expected an object of strings, got {_type_name(value)}")
    for key, item in value.items():
        if type(item) is not str:
            raise _FieldError(f"{field}.{key}", f"expected a string, got {_type_name(item)}")
    return dict(value)  # a copy: the record must not change when the raw dict does


def _strings(value: Any, field: str) -> tuple[str, ...]:
    items = _list(value, field)
    for i, item in enumerate(items):
        if type(item) is not str:
            raise _FieldError(field + "[{}]", f"expected a string, got {_type_name(item)}", i)
    return tuple(items)


# --- quantities and times -------------------------------------------------------------------


def _quantity(parse: Callable[[Any], int], value: Any, field: str, index: int | None) -> int:
    if value is None:  # only the slow path of _resources asks about an absent one
        return 0
    if type(value) is bool:  # parse_cpu raises TypeError for it, but say it plainly
        raise _FieldError(field, f"expected a quantity, got {value!r}", index)
    try:
        return parse(value)
    except (ValueError, TypeError) as exc:
        raise _FieldError(field, str(exc), index) from None


def _resources(value: Any, field: str, index: int | None = None) -> Resources:
    """cpu and memory of a requests/limits/usage map; a missing key stays None (unset)."""
    if not isinstance(value, dict):
        if value is None:
            return UNSET
        raise _FieldError(
            field, f"expected an object of quantities, got {_type_name(value)}", index
        )
    if not value:
        return UNSET
    cpu, memory = value.get("cpu"), value.get("memory")
    try:
        return _resources_of(cpu, memory)
    except (ValueError, TypeError):  # the slow path says which quantity and why
        _quantity(parse_cpu, cpu, field + ".cpu", index)
        _quantity(parse_bytes, memory, field + ".memory", index)
        raise  # not reached: one of the two raised a _FieldError


@lru_cache(maxsize=4096, typed=True)  # typed: True == 1 must not hit 1's entry
def _resources_of(cpu: Any, memory: Any) -> Resources:
    # A cluster has a few dozen distinct request/limit pairs over thousands of containers;
    # the records are immutable, so one instance can serve them all.
    if type(cpu) is bool or type(memory) is bool:
        raise TypeError("a boolean is not a quantity")
    return Resources(
        None if cpu is None else parse_cpu(cpu), None if memory is None else parse_bytes(memory)
    )


@lru_cache(maxsize=4096)
def _timestamp(text: str) -> float:
    # Pods created by one rollout share their creationTimestamp to the second, so a small
    # cache saves most of the datetime work on a large list.
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # the apiserver always writes Z; be explicit
    return parsed.timestamp()


def parse_time(value: Any, field: str = "timestamp") -> float | None:
    """An RFC 3339 timestamp ("2026-08-20T22:42:54Z", fractions allowed) as unix seconds;
    None when absent. Raises ValueError naming `field` when it is not a timestamp."""
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise ValueError(f"{field}: expected an RFC 3339 timestamp, got {_type_name(value)}")
    try:
        return _timestamp(value)
    except ValueError:
        raise ValueError(f"{field}: expected an RFC 3339 timestamp, got {value!r}") from None


def _optional_time(value: Any, field: str, index: int | None = None) -> float | None:
    """A timestamp that may be absent (None); `field` is formatted only on the error path."""
    if value is None or value == "":
        return None
    if type(value) is str:
        try:
            return _timestamp(value)
        except ValueError:
            pass
        got = repr(value)
    else:
        got = _type_name(value)
    raise _FieldError(field, f"expected an RFC 3339 timestamp, got {got}", index)


def _time(value: Any, field: str) -> float:
    if value is None:
        return 0.0
    try:
        result = parse_time(value, field)
    except ValueError as exc:
        raise _FieldError(field, str(exc).partition(": ")[2]) from None
    return 0.0 if result is None else result


# --- shared pieces ----------------------------------------------------------------------------


def _metadata(obj: Any, kind: str) -> dict:
    if not isinstance(obj, dict):
        raise _FieldError("", f"expected a {kind} object, got {_type_name(obj)}")
    meta = _dict(obj.get("metadata"), "metadata")
    name = meta.get("name")
    if type(name) is not str or not name:
        raise _FieldError("metadata.name", f"expected a non-empty string, got {name!r}")
    return meta


def _requirement(value: Any, field: str, index: int, operators: frozenset[str]) -> Requirement:
    expr = _dict(value, field, index)
    operator = expr.get("operator")
    if operator not in operators:
        raise _FieldError(
            field + ".operator",
            f"expected one of {', '.join(sorted(operators))}, got {operator!r}",
            index,
        )
    return Requirement(
        _str(expr.get("key"), field + ".key", "", index),
        operator,
        _strings(expr.get("values"), field.format(index) + ".values"),
    )


def _selector(value: Any, field: str) -> LabelSelector:
    sel = _dict(value, field)
    expressions = _list(sel.get("matchExpressions"), field + ".matchExpressions")
    return LabelSelector(
        _str_map(sel.get("matchLabels"), field + ".matchLabels"),
        tuple(
            _requirement(e, field + ".matchExpressions[{}]", i, _LABEL_OPERATORS)
            for i, e in enumerate(expressions)
        ),
    )


def _selector_or_none(value: Any, field: str) -> LabelSelector | None:
    return None if value is None else _selector(value, field)


# --- nodes ------------------------------------------------------------------------------------


def parse_node(obj: Any) -> Node:
    """A v1 Node: capacity and allocatable (cpu, memory, pods), conditions, taints,
    cordon, labels, addresses and providerID. Usage comes from parse_node_metrics."""
    return _guarded("Node", _node, obj)


def _node(obj: dict) -> Node:
    meta = _metadata(obj, "Node")
    spec = _dict(obj.get("spec"), "spec")
    status = _dict(obj.get("status"), "status")
    capacity = _dict(status.get("capacity"), "status.capacity")
    allocatable = _dict(status.get("allocatable"), "status.allocatable")
    pods = allocatable.get("pods")
    return Node(
        name=meta["name"],
        capacity=_node_resources(capacity, "status.capacity"),
        allocatable=_node_resources(allocatable, "status.allocatable"),
        pods_allocatable=110
        if pods is None
        else _quantity(parse_bytes, pods, "status.allocatable.pods", None),
        conditions=_conditions(status.get("conditions")),
        condition_details=_condition_details(status.get("conditions")),
        taints=tuple(_taint(t, i) for i, t in enumerate(_list(spec.get("taints"), "spec.taints"))),
        unschedulable=_bool(spec.get("unschedulable"), "spec.unschedulable"),
        labels=_str_map(meta.get("labels"), "metadata.labels"),
        addresses=tuple(
            _address(a, i) for i, a in enumerate(_list(status.get("addresses"), "status.addresses"))
        ),
        provider_id=_str(spec.get("providerID"), "spec.providerID"),
    )


def _node_resources(values: dict, field: str) -> Resources:
    # A node always has both; a trimmed capture without them reads as zero, not "unset".
    r = _resources(values, field)
    return Resources(r.cpu_or_zero, r.memory_or_zero)


def _conditions(value: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, c in enumerate(_list(value, "status.conditions")):
        c = _dict(c, "status.conditions[{}]", i)
        out[_str(c.get("type"), "status.conditions[{}].type", "", i)] = _str(
            c.get("status"), "status.conditions[{}].status", "Unknown", i
        )
    return out


def _condition_details(value: Any) -> dict[str, tuple[str, str, float | None]]:
    # _conditions has checked the shape already; this only reads what says why.
    out: dict[str, tuple[str, str, float | None]] = {}
    at = "status.conditions[{}]"
    for i, c in enumerate(_list(value, "status.conditions")):
        c = _dict(c, at, i)
        out[_str(c.get("type"), at + ".type", "", i)] = (
            _str(c.get("reason"), at + ".reason", "", i),
            _str(c.get("message"), at + ".message", "", i),
            _optional_time(c.get("lastTransitionTime"), at + ".lastTransitionTime", i),
        )
    return out


def _taint(value: Any, i: int) -> Taint:
    t = _dict(value, "spec.taints[{}]", i)
    effect = t.get("effect")
    if effect not in _EFFECTS:
        raise _FieldError(
            "spec.taints[{}].effect",
            f"expected NoSchedule, PreferNoSchedule or NoExecute, got {effect!r}",
            i,
        )
    return Taint(
        _str(t.get("key"), "spec.taints[{}].key", "", i),
        effect,
        _str(t.get("value"), "spec.taints[{}].value", "", i),
        _optional_time(t.get("timeAdded"), "spec.taints[{}].timeAdded", i),
    )


def _address(value: Any, i: int) -> tuple[str, str]:
    a = _dict(value, "status.addresses[{}]", i)
    return (
        _str(a.get("type"), "status.addresses[{}].type", "", i),
        _str(a.get("address"), "status.addresses[{}].address", "", i),
    )


# --- pods -------------------------------------------------------------------------------------


def parse_pod(obj: Any) -> Pod:
    """A v1 Pod. The phase is returned as the apiserver reports it: a pod being deleted
    (metadata.deletionTimestamp, kept as `deleted_at`) is still "Running" here, and callers
    that care say "Terminating" themselves. `ready` is the Ready condition; `restarts` is
    kubectl's RESTARTS column (see _restarts). `container_states` holds every init and app
    container's state and last termination (where CrashLoopBackOff, OOMKilled and exit
    codes are); `reason`/`message` are status.reason (Evicted ...) and status.message;
    `unscheduled_reason`/`unscheduled_message` the PodScheduled condition when it is not
    True, i.e. why the scheduler left the pod Pending."""
    return _guarded("Pod", _pod, obj)


def _pod(obj: dict) -> Pod:
    meta = _metadata(obj, "Pod")
    spec = _dict(obj.get("spec"), "spec")
    status = _dict(obj.get("status"), "status")
    affinity = _dict(spec.get("affinity"), "spec.affinity")
    init_containers = _containers(spec.get("initContainers"), "spec.initContainers")
    conditions = status.get("conditions")
    unscheduled_reason, unscheduled_message = _unscheduled(conditions)
    return Pod(
        # The apiserver puts an object created without a namespace in "default".
        namespace=_str(meta.get("namespace"), "metadata.namespace", "default"),
        name=meta["name"],
        node=_str(spec.get("nodeName"), "spec.nodeName") or None,
        phase=_str(status.get("phase"), "status.phase", "Pending"),
        uid=_str(meta.get("uid"), "metadata.uid"),
        labels=_str_map(meta.get("labels"), "metadata.labels"),
        annotations=_str_map(meta.get("annotations"), "metadata.annotations"),
        containers=_containers(spec.get("containers"), "spec.containers"),
        init_containers=init_containers,
        overhead=_resources(spec.get("overhead"), "spec.overhead"),
        owner=_controller(meta.get("ownerReferences")),
        priority=_int(spec.get("priority"), "spec.priority", 0),
        priority_class=_str(spec.get("priorityClassName"), "spec.priorityClassName"),
        preemption_policy=_str(
            spec.get("preemptionPolicy"), "spec.preemptionPolicy", "PreemptLowerPriority"
        ),
        tolerations=_tolerations(spec.get("tolerations")),
        node_selector=_str_map(spec.get("nodeSelector"), "spec.nodeSelector"),
        node_affinity=_node_affinity(affinity.get("nodeAffinity")),
        anti_affinity=_anti_affinity(affinity.get("podAntiAffinity")),
        spread=_spread(spec.get("topologySpreadConstraints")),
        volume_kinds=_volume_kinds(spec.get("volumes")),
        ready=_ready(conditions),
        restarts=_restarts(status, init_containers, conditions),
        created=_time(meta.get("creationTimestamp"), "metadata.creationTimestamp"),
        container_states=_container_states(status),
        deleted_at=_optional_time(meta.get("deletionTimestamp"), "metadata.deletionTimestamp"),
        reason=_str(status.get("reason"), "status.reason"),
        message=_str(status.get("message"), "status.message"),
        unscheduled_reason=unscheduled_reason,
        unscheduled_message=unscheduled_message,
    )


def _containers(value: Any, field: str) -> tuple[Container, ...]:
    if not value:
        _list(value, field)  # still reject a non-list such as ""
        return ()
    out = []
    at = field + "[{}]"
    for i, c in enumerate(_list(value, field)):
        if not isinstance(c, dict):
            raise _FieldError(at, f"expected an object, got {_type_name(c)}", i)
        resources = c.get("resources")
        if resources:
            resources = _dict(resources, at + ".resources", i)
            requests = _resources(resources.get("requests"), at + ".resources.requests", i)
            limits = _resources(resources.get("limits"), at + ".resources.limits", i)
        else:
            requests = limits = UNSET
        out.append(
            Container(
                name=_str(c.get("name"), at + ".name", "", i),
                image=_str(c.get("image"), at + ".image", "", i),
                requests=requests,
                limits=limits,
                restart_policy=_str(c.get("restartPolicy"), at + ".restartPolicy", "", i),
            )
        )
    return tuple(out)


def _controller(value: Any) -> OwnerRef | None:
    for i, ref in enumerate(_list(value, "metadata.ownerReferences")):
        ref = _dict(ref, "metadata.ownerReferences[{}]", i)
        if ref.get("controller") is True:
            return OwnerRef(
                _str(ref.get("kind"), "metadata.ownerReferences[{}].kind", "", i),
                _str(ref.get("name"), "metadata.ownerReferences[{}].name", "", i),
            )
    return None


def _tolerations(value: Any) -> tuple[Toleration, ...]:
    if not value:
        return ()
    items = _list(value, "spec.tolerations")
    try:
        # Every pod of a workload repeats the same few tolerations: build each once.
        return tuple(
            _toleration_of(
                t.get("key"),
                t.get("operator"),
                t.get("value"),
                t.get("effect"),
                t.get("tolerationSeconds"),
            )
            for t in items
        )
    except (ValueError, TypeError, AttributeError):  # the slow path names the field
        return tuple(_toleration(t, i) for i, t in enumerate(items))


@lru_cache(maxsize=1024, typed=True)
def _toleration_of(key: Any, operator: Any, value: Any, effect: Any, seconds: Any) -> Toleration:
    fields = (key, value, effect)
    if not all(f is None or type(f) is str for f in fields):
        raise TypeError("not a string")
    if operator is None:
        operator = "Equal"
    if operator not in _TOLERATION_OPERATORS or not (seconds is None or type(seconds) is int):
        raise ValueError("invalid toleration")
    return Toleration(key or "", operator, value or "", effect or "", seconds)


def _toleration(value: Any, i: int) -> Toleration:
    at = "spec.tolerations[{}]"
    t = _dict(value, at, i)
    operator = t.get("operator", "Equal")
    if operator not in _TOLERATION_OPERATORS:
        raise _FieldError(at + ".operator", f"expected Equal or Exists, got {operator!r}", i)
    seconds = t.get("tolerationSeconds")
    return Toleration(
        _str(t.get("key"), at + ".key", "", i),
        operator,
        _str(t.get("value"), at + ".value", "", i),
        _str(t.get("effect"), at + ".effect", "", i),
        None if seconds is None else _int(seconds, at + ".tolerationSeconds", 0, i),
    )


def _node_affinity(value: Any) -> tuple[tuple[Requirement, ...], ...]:
    if not value:
        return ()
    base = "spec.affinity.nodeAffinity." + _REQUIRED
    required = _dict(_dict(value, "spec.affinity.nodeAffinity").get(_REQUIRED), base)
    terms = []
    at = base + ".nodeSelectorTerms[{}]"
    for i, term in enumerate(_list(required.get("nodeSelectorTerms"), base + ".nodeSelectorTerms")):
        term = _dict(term, at, i)
        expressions = _list(term.get("matchExpressions"), at + ".matchExpressions", i)
        if not expressions and term.get("matchFields"):
            continue  # fields only (a DaemonSet pod's pin): the model reads labels only
        where = at.format(i) + ".matchExpressions[{}]"
        terms.append(
            tuple(_requirement(e, where, j, _NODE_OPERATORS) for j, e in enumerate(expressions))
        )
    return tuple(terms)


def _anti_affinity(value: Any) -> tuple[AffinityTerm, ...]:
    if not value:
        return ()
    base = "spec.affinity.podAntiAffinity." + _REQUIRED
    terms = _list(_dict(value, "spec.affinity.podAntiAffinity").get(_REQUIRED), base)
    out = []
    for i, term in enumerate(terms):
        term = _dict(term, base + "[{}]", i)
        at = f"{base}[{i}]"
        selector = _selector_or_none(term.get("labelSelector"), at + ".labelSelector")
        if selector is None:
            continue  # a null selector matches no pod: the term keeps nothing away
        out.append(
            AffinityTerm(
                selector,
                _str(term.get("topologyKey"), at + ".topologyKey", "kubernetes.io/hostname"),
                _strings(term.get("namespaces"), at + ".namespaces"),
            )
        )
    return tuple(out)


def _spread(value: Any) -> tuple[SpreadConstraint, ...]:
    if not value:
        return ()
    out = []
    for i, c in enumerate(_list(value, "spec.topologySpreadConstraints")):
        at = f"spec.topologySpreadConstraints[{i}]"
        c = _dict(c, at)
        when = c.get("whenUnsatisfiable", "DoNotSchedule")
        if when not in _WHEN_UNSATISFIABLE:
            raise _FieldError(
                at + ".whenUnsatisfiable", f"expected DoNotSchedule or ScheduleAnyway, got {when!r}"
            )
        selector = _selector_or_none(c.get("labelSelector"), at + ".labelSelector")
        if selector is None:
            continue  # counts no pod, so it never limits placement by skew
        out.append(
            SpreadConstraint(
                _int(c.get("maxSkew"), at + ".maxSkew", 1),
                _str(c.get("topologyKey"), at + ".topologyKey"),
                when,
                selector,
            )
        )
    return tuple(out)


def _volume_kinds(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    kinds = []
    for i, v in enumerate(_list(value, "spec.volumes")):
        if not isinstance(v, dict):
            raise _FieldError("spec.volumes[{}]", f"expected an object, got {_type_name(v)}", i)
        # The source is the one key besides "name"; a volume without one is defaulted to
        # emptyDir by the apiserver.
        kind = "emptyDir"
        for key in v:
            if key != "name":
                kind = key
                break
        kinds.append(kind)
    return tuple(kinds)


def _ready(value: Any) -> bool:
    for i, c in enumerate(_list(value, "status.conditions")):
        c = _dict(c, "status.conditions[{}]", i)
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _condition_true(value: Any, kind: str) -> bool:
    for c in value or ():
        if isinstance(c, dict) and c.get("type") == kind:
            return c.get("status") == "True"
    return False


def _unscheduled(value: Any) -> tuple[str, str]:
    """The PodScheduled condition's reason and message when it is not True."""
    for i, c in enumerate(_list(value, "status.conditions")):
        c = _dict(c, "status.conditions[{}]", i)
        if c.get("type") == "PodScheduled":
            if c.get("status") == "True":
                return "", ""
            return (
                _str(c.get("reason"), "status.conditions[{}].reason", "", i),
                _str(c.get("message"), "status.conditions[{}].message", "", i),
            )
    return "", ""


def _restarts(status: dict, init_containers: tuple[Container, ...], conditions: Any) -> int:
    """kubectl's RESTARTS (printPod in kubectl's printers): while the pod is still
    initializing, the restarts of the init containers up to the one it waits on; once
    initialized, the app containers plus the restartable (sidecar) init containers. The
    restarts of an init container that has finished are history and no longer count."""
    init_statuses = _list(status.get("initContainerStatuses"), "status.initContainerStatuses")
    sidecars = {c.name for c in init_containers if c.restart_policy == "Always"}
    at = "status.initContainerStatuses[{}]"
    during_init = sidecar_restarts = 0
    initializing = False
    for i, cs in enumerate(init_statuses):
        cs = _dict(cs, at, i)
        count = _int(cs.get("restartCount"), at + ".restartCount", 0, i)
        during_init += count
        sidecar = cs.get("name") in sidecars
        if sidecar:
            sidecar_restarts += count
        terminated = _dict(cs.get("state"), at + ".state", i).get("terminated")
        if isinstance(terminated, dict) and terminated.get("exitCode", 0) == 0:
            continue  # finished
        if sidecar and cs.get("started") is True:
            continue  # a sidecar that has started: the next init container may run
        initializing = True
        break
    if initializing and not _condition_true(conditions, "Initialized"):
        return during_init
    total = sidecar_restarts
    at = "status.containerStatuses[{}]"
    for i, cs in enumerate(_list(status.get("containerStatuses"), "status.containerStatuses")):
        total += _int(_dict(cs, at, i).get("restartCount"), at + ".restartCount", 0, i)
    return total


_STATES = ("waiting", "running", "terminated")


def _container_states(status: dict) -> tuple[ContainerState, ...]:
    out: list[ContainerState] = []
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        statuses = status.get(key)
        if not statuses:
            continue
        at = f"status.{key}[{{}}]"
        for i, cs in enumerate(_list(statuses, f"status.{key}")):
            out.append(_container_state(_dict(cs, at, i), at, i, init))
    return tuple(out)


def _container_state(cs: dict, at: str, i: int, init: bool) -> ContainerState:
    state_doc = _dict(cs.get("state"), at + ".state", i)
    state = ""
    now: dict = {}
    for name in _STATES:  # the kubelet sets exactly one of them
        if state_doc.get(name) is not None:
            state, now = name, _dict(state_doc[name], f"{at}.state.{name}", i)
            break
    last_doc = _dict(cs.get("lastState"), at + ".lastState", i)
    last = _dict(last_doc.get("terminated"), at + ".lastState.terminated", i)
    exit_code = now.get("exitCode")
    last_exit = last.get("exitCode")
    return ContainerState(
        name=_str(cs.get("name"), at + ".name", "", i),
        init=init,
        state=state,  # type: ignore[arg-type]  # one of _STATES or ""
        reason=_str(now.get("reason"), at + ".state.reason", "", i),
        message=_str(now.get("message"), at + ".state.message", "", i),
        exit_code=None if exit_code is None else _int(exit_code, at + ".state.exitCode", 0, i),
        ready=cs.get("ready") is True,
        restarts=_int(cs.get("restartCount"), at + ".restartCount", 0, i),
        started_at=_optional_time(now.get("startedAt"), at + ".state.startedAt", i),
        last_reason=_str(last.get("reason"), at + ".lastState.terminated.reason", "", i),
        last_exit_code=None
        if last_exit is None
        else _int(last_exit, at + ".lastState.terminated.exitCode", 0, i),
        last_finished=_optional_time(
            last.get("finishedAt"), at + ".lastState.terminated.finishedAt", i
        ),
        last_message=_str(last.get("message"), at + ".lastState.terminated.message", "", i),
    )


# --- workloads, budgets, priority classes ----------------------------------------------------


def parse_workload(obj: Any, kind: str | None = None) -> Workload:
    """A Deployment, StatefulSet or DaemonSet. Items of a raw API list carry no "kind", so
    it can be given; when both are present they must agree.

    replicas: spec.replicas (the apiserver's default is 1), or for a DaemonSet the
    controller's status.desiredNumberScheduled. ready_replicas: status.readyReplicas or
    numberReady, 0 when the controller has written a status without it (the field is
    omitted when zero), None when there is no status yet.
    """
    own = obj.get("kind") if isinstance(obj, dict) else None
    if own is not None and type(own) is not str:
        raise _located(kind or "workload", obj, f"kind: expected a string, got {_type_name(own)}")
    resolved = own or kind
    if own and kind and own != kind:
        raise _located(kind, obj, f"kind: the object says {own!r}")
    if resolved not in WORKLOAD_KINDS:
        raise _located(
            "workload",
            obj,
            f"kind: expected Deployment, StatefulSet or DaemonSet, got {resolved!r}",
        )
    return _guarded(resolved, _workload, obj, resolved)


def _workload(obj: dict, kind: str) -> Workload:
    meta = _metadata(obj, kind)
    spec = _dict(obj.get("spec"), "spec")
    status = _dict(obj.get("status"), "status")
    if kind == "DaemonSet":
        replicas = _int(status.get("desiredNumberScheduled"), "status.desiredNumberScheduled", 0)
        ready_key = "numberReady"
    else:
        replicas = _int(spec.get("replicas"), "spec.replicas", 1)
        ready_key = "readyReplicas"
    ready = _int(status.get(ready_key), "status." + ready_key, 0) if status else None
    return Workload(
        kind=kind,  # type: ignore[arg-type]  # checked against WORKLOAD_KINDS above
        namespace=_str(meta.get("namespace"), "metadata.namespace", "default"),
        name=meta["name"],
        replicas=replicas,
        selector=_selector(spec.get("selector"), "spec.selector"),
        ready_replicas=ready,
        labels=_str_map(meta.get("labels"), "metadata.labels"),
        annotations=_str_map(meta.get("annotations"), "metadata.annotations"),
    )


def parse_pdb(obj: Any) -> Pdb:
    """A policy/v1 PodDisruptionBudget; minAvailable/maxUnavailable as int or "N%"."""
    return _guarded("PodDisruptionBudget", _pdb, obj)


def _pdb(obj: dict) -> Pdb:
    meta = _metadata(obj, "PodDisruptionBudget")
    spec = _dict(obj.get("spec"), "spec")
    return Pdb(
        namespace=_str(meta.get("namespace"), "metadata.namespace", "default"),
        name=meta["name"],
        selector=_selector(spec.get("selector"), "spec.selector"),
        min_available=_int_or_percent(spec.get("minAvailable"), "spec.minAvailable"),
        max_unavailable=_int_or_percent(spec.get("maxUnavailable"), "spec.maxUnavailable"),
    )


def _int_or_percent(value: Any, field: str) -> int | str | None:
    if value is None or (type(value) is int and value >= 0):
        return value
    if type(value) is str and value.endswith("%") and value[:-1].isdigit() and value.isascii():
        return value
    raise _FieldError(field, f'expected a whole number or a percentage like "50%", got {value!r}')


def parse_priority_class(obj: Any) -> PriorityClass:
    """A scheduling.k8s.io/v1 PriorityClass. Its value is required: a class without one is
    not something the scheduler could use."""
    return _guarded("PriorityClass", _priority_class, obj)


def _priority_class(obj: dict) -> PriorityClass:
    meta = _metadata(obj, "PriorityClass")
    value = obj.get("value")
    if value is None:
        raise _FieldError("value", "is required")
    return PriorityClass(
        name=meta["name"],
        value=_int(value, "value", 0),
        global_default=_bool(obj.get("globalDefault"), "globalDefault"),
        preemption_policy=_str(
            obj.get("preemptionPolicy"), "preemptionPolicy", "PreemptLowerPriority"
        ),
        description=_str(obj.get("description"), "description"),
    )


# --- events, services, endpoint slices, autoscalers --------------------------------------------


def parse_event(obj: Any) -> Event:
    """A core/v1 Event. Old-style events (kubelet, most controllers) carry firstTimestamp,
    lastTimestamp and count; new-style ones (written through events.k8s.io/v1) carry
    eventTime and a series {count, lastObservedTime} instead, with the others empty. Both
    come out the same: first and last seen, and how many times."""
    return _guarded("Event", _event, obj)


def _event(obj: dict) -> Event:
    meta = _metadata(obj, "Event")
    involved = _dict(obj.get("involvedObject"), "involvedObject")
    series = _dict(obj.get("series"), "series")
    source = _dict(obj.get("source"), "source")
    created = _optional_time(meta.get("creationTimestamp"), "metadata.creationTimestamp")
    event_time = _optional_time(obj.get("eventTime"), "eventTime")
    first = _optional_time(obj.get("firstTimestamp"), "firstTimestamp")
    first = first or event_time or created or 0.0
    last = (
        _optional_time(obj.get("lastTimestamp"), "lastTimestamp")
        or _optional_time(series.get("lastObservedTime"), "series.lastObservedTime")
        or first
    )
    count = _int(obj.get("count"), "count", 0) or _int(series.get("count"), "series.count", 1)
    return Event(
        namespace=_str(meta.get("namespace"), "metadata.namespace", "default"),
        name=meta["name"],
        object_kind=_str(involved.get("kind"), "involvedObject.kind"),
        object_name=_str(involved.get("name"), "involvedObject.name"),
        object_namespace=_str(involved.get("namespace"), "involvedObject.namespace"),
        type=_str(obj.get("type"), "type", "Normal") or "Normal",
        reason=_str(obj.get("reason"), "reason"),
        message=_str(obj.get("message"), "message"),
        count=max(count, 1),
        first_seen=first,
        last_seen=last,
        source=_str(obj.get("reportingComponent"), "reportingComponent")
        or _str(source.get("component"), "source.component"),
        uid=_str(meta.get("uid"), "metadata.uid"),
    )


def parse_service(obj: Any) -> Service:
    """A core/v1 Service: its selector (empty for a Service without one, whose endpoints
    are managed by hand), cluster IP and labels."""
    return _guarded("Service", _service, obj)


def _service(obj: dict) -> Service:
    meta = _metadata(obj, "Service")
    spec = _dict(obj.get("spec"), "spec")
    return Service(
        namespace=_str(meta.get("namespace"), "metadata.namespace", "default"),
        name=meta["name"],
        selector=_str_map(spec.get("selector"), "spec.selector"),
        cluster_ip=_str(spec.get("clusterIP"), "spec.clusterIP"),
        labels=_str_map(meta.get("labels"), "metadata.labels"),
    )


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def parse_endpoint_slice(obj: Any) -> EndpointSlice:
    """A discovery.k8s.io/v1 EndpointSlice. Its Service is the kubernetes.io/service-name
    label. An endpoint's `ready` condition left unset means "unknown", which the API says
    consumers should read as ready (kube-proxy does)."""
    return _guarded("EndpointSlice", _endpoint_slice, obj)


def _endpoint_slice(obj: dict) -> EndpointSlice:
    meta = _metadata(obj, "EndpointSlice")
    labels = _str_map(meta.get("labels"), "metadata.labels")
    at = "endpoints[{}]"
    endpoints = []
    for i, e in enumerate(_list(obj.get("endpoints"), "endpoints")):
        e = _dict(e, at, i)
        addresses = _strings(e.get("addresses"), at.format(i) + ".addresses")
        conditions = _dict(e.get("conditions"), at + ".conditions", i)
        ready = conditions.get("ready")
        target = _dict(e.get("targetRef"), at + ".targetRef", i)
        endpoints.append(
            Endpoint(
                address=addresses[0] if addresses else "",
                ready=ready is not False,
                node=_str(e.get("nodeName"), at + ".nodeName", "", i),
                pod=_str(target.get("name"), at + ".targetRef.name", "", i)
                if target.get("kind") == "Pod"
                else "",
            )
        )
    return EndpointSlice(
        namespace=_str(meta.get("namespace"), "metadata.namespace", "default"),
        name=meta["name"],
        service=labels.get(SERVICE_NAME_LABEL, ""),
        endpoints=tuple(endpoints),
    )


def parse_hpa(obj: Any) -> Hpa:
    """An autoscaling/v2 HorizontalPodAutoscaler: its target, bounds, replica counts,
    Resource metrics (target averageUtilization from the spec, current from
    status.currentMetrics; None while the metrics API does not answer, which kubectl shows
    as `<unknown>/70%`) and conditions. Other metric types are left out."""
    return _guarded("HorizontalPodAutoscaler", _hpa, obj)


def _hpa(obj: dict) -> Hpa:
    meta = _metadata(obj, "HorizontalPodAutoscaler")
    spec = _dict(obj.get("spec"), "spec")
    status = _dict(obj.get("status"), "status")
    target = _dict(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
    current: dict[str, int | None] = {}
    at = "status.currentMetrics[{}]"
    for i, m in enumerate(_list(status.get("currentMetrics"), "status.currentMetrics")):
        m = _dict(m, at, i)
        if m.get("type") != "Resource":
            continue
        resource = _dict(m.get("resource"), at + ".resource", i)
        value = _dict(resource.get("current"), at + ".resource.current", i)
        current[_str(resource.get("name"), at + ".resource.name", "", i)] = (
            _int(value.get("averageUtilization"), at + ".resource.current.averageUtilization", 0, i)
            if value.get("averageUtilization") is not None
            else None
        )
    metrics = []
    at = "spec.metrics[{}]"
    for i, m in enumerate(_list(spec.get("metrics"), "spec.metrics")):
        m = _dict(m, at, i)
        if m.get("type") != "Resource":
            continue
        resource = _dict(m.get("resource"), at + ".resource", i)
        goal = _dict(resource.get("target"), at + ".resource.target", i)
        name = _str(resource.get("name"), at + ".resource.name", "", i)
        utilization = goal.get("averageUtilization")
        metrics.append(
            HpaMetric(
                resource=name,
                target_utilization=None
                if utilization is None
                else _int(utilization, at + ".resource.target.averageUtilization", 0, i),
                current_utilization=current.get(name),
            )
        )
    conditions: dict[str, tuple[str, str, str]] = {}
    at = "status.conditions[{}]"
    for i, c in enumerate(_list(status.get("conditions"), "status.conditions")):
        c = _dict(c, at, i)
        conditions[_str(c.get("type"), at + ".type", "", i)] = (
            _str(c.get("status"), at + ".status", "Unknown", i),
            _str(c.get("reason"), at + ".reason", "", i),
            _str(c.get("message"), at + ".message", "", i),
        )
    return Hpa(
        namespace=_str(meta.get("namespace"), "metadata.namespace", "default"),
        name=meta["name"],
        target_kind=_str(target.get("kind"), "spec.scaleTargetRef.kind"),
        target_name=_str(target.get("name"), "spec.scaleTargetRef.name"),
        min_replicas=_int(spec.get("minReplicas"), "spec.minReplicas", 1),
        max_replicas=_int(spec.get("maxReplicas"), "spec.maxReplicas", 1),
        current_replicas=_int(status.get("currentReplicas"), "status.currentReplicas", 0),
        desired_replicas=_int(status.get("desiredReplicas"), "status.desiredReplicas", 0),
        metrics=tuple(metrics),
        conditions=conditions,
    )


# --- metrics.k8s.io ----------------------------------------------------------------------------


def parse_node_metrics(obj: Any) -> tuple[str, Resources]:
    """A metrics.k8s.io NodeMetrics: (node name, usage). CPU rounds up to whole millicores
    ("298952967n" is 299m), as Kubernetes' MilliValue does."""
    return _guarded("NodeMetrics", _node_metrics, obj)


def _node_metrics(obj: dict) -> tuple[str, Resources]:
    meta = _metadata(obj, "NodeMetrics")
    return meta["name"], _resources(obj.get("usage"), "usage")


def parse_pod_metrics(obj: Any) -> tuple[tuple[str, str], Resources]:
    """A metrics.k8s.io PodMetrics: ((namespace, name), the sum of its containers' usage).
    A resource no container reports stays None."""
    return _guarded("PodMetrics", _pod_metrics, obj)


def _pod_metrics(obj: dict) -> tuple[tuple[str, str], Resources]:
    meta = _metadata(obj, "PodMetrics")
    cpu: int | None = None
    memory: int | None = None
    for i, c in enumerate(_list(obj.get("containers"), "containers")):
        usage = _resources(_dict(c, "containers[{}]", i).get("usage"), "containers[{}].usage", i)
        if usage.cpu is not None:
            cpu = (cpu or 0) + usage.cpu
        if usage.memory is not None:
            memory = (memory or 0) + usage.memory
    namespace = _str(meta.get("namespace"), "metadata.namespace", "default")
    return (namespace, meta["name"]), Resources(cpu, memory)


# --- lists ---------------------------------------------------------------------------------------


def parse_list(
    doc: Any, parse_item: Callable[..., T], kind: str | None = None
) -> tuple[list[T], str, str]:
    """A List document (PodList, a kubectl "List", a NodeMetricsList ...):
    (records, metadata.resourceVersion, metadata.continue).

    `kind` is passed on to `parse_item` (``parse_list(doc, parse_workload, "Deployment")``),
    because the items of a raw API list carry no kind of their own. Raises ValueError when
    the document is a single object rather than a list, so a wrong URL does not read as an
    empty cluster.
    """
    if not isinstance(doc, dict):
        raise ValueError(f"expected a List document, got {_type_name(doc)}")
    items = doc.get("items")
    if items is None:
        doc_kind = doc.get("kind")
        if doc_kind and not str(doc_kind).endswith("List"):
            raise ValueError(f"expected a List document, got a single {doc_kind}")
        items = []
    elif not isinstance(items, list):
        raise ValueError(f"List items: expected a list, got {_type_name(items)}")
    meta = doc.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise ValueError(f"List metadata: expected an object, got {_type_name(meta)}")
    meta = meta or {}
    resource_version = meta.get("resourceVersion") or ""
    token = meta.get("continue") or ""
    if type(resource_version) is not str or type(token) is not str:
        raise ValueError("List metadata: resourceVersion and continue must be strings")
    if kind is None:
        records = [parse_item(item) for item in items]
    else:
        records = [parse_item(item, kind) for item in items]
    return records, resource_version, token
