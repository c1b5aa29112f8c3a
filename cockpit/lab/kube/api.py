"""The lab apiserver's REST semantics, independent of HTTP: discovery, list (selectors,
limit/continue, resourceVersion), watch, get, create, delete, patch, update, and the scale
and eviction subresources — the parts kubectl and the cockpit use, answered the way a real
apiserver answers them, Status objects and all."""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from cockpit.lab.kube import logs as kube_logs
from cockpit.lab.kube import tables as kube_tables
from cockpit.lab.kube.store import ApiError, Key, Store, not_found
from cockpit.lab.patch import PatchError, json_patch, merge_patch
from cockpit.lab.selectors import SelectorError, parse_field_selector, parse_label_selector

SERVER_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4+k3s1",
    "gitCommit": "lab",
    "gitTreeState": "clean",
    "buildDate": "2024-12-01T00:00:00Z",
    "goVersion": "go1.22.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("get", "list", "watch", "create", "delete", "patch", "update")
    subresources: tuple[str, ...] = ()
    readonly: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def store_key(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


READ = ("get", "list", "watch")
RESOURCES = (
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",)),
    Resource("", "v1", "nodes", "Node", False, ("no",), subresources=("status",)),
    Resource("", "v1", "pods", "Pod", True, ("po",), subresources=("eviction", "status", "log")),
    Resource("", "v1", "events", "Event", True, ("ev",)),
    Resource("", "v1", "services", "Service", True, ("svc",)),
    Resource("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    Resource(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        ("deploy",),
        subresources=("scale", "status"),
    ),
    Resource(
        "apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), subresources=("scale", "status")
    ),
    Resource(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        True,
        ("sts",),
        subresources=("scale", "status"),
    ),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), subresources=("status",)),
    Resource("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    Resource(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        ("pdb",),
        subresources=("status",),
    ),
    Resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",)),
    Resource(
        "autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("hpa",)
    ),
    Resource(
        "metrics.k8s.io",
        "v1beta1",
        "nodes",
        "NodeMetrics",
        False,
        verbs=("get", "list"),
        readonly=True,
    ),
    Resource(
        "metrics.k8s.io",
        "v1beta1",
        "pods",
        "PodMetrics",
        True,
        verbs=("get", "list"),
        readonly=True,
    ),
)
BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WATCH_BOOKMARK_SECONDS = 1.0


@dataclass
class Response:
    status: int = 200
    body: Any = None  # a dict (JSON) or, for watches, an iterator of byte lines
    content_type: str = "application/json"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def json(self) -> Any:
        try:
            return orjson.loads(self.body) if self.body else {}
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "BadRequest", f"invalid JSON in request body: {exc}") from None


class KubeApi:
    def __init__(self, store: Store, now: Any, controllers: Any = None) -> None:
        self.store = store
        self.now = now
        self.controllers = controllers  # for eviction and scale checks that need them
        self.mutations: Counter[str] = Counter()  # "PATCH nodes" -> count, for read-only proofs
        self.address = "127.0.0.1:6443"
        self.hidden_groups: set[str] = set()
        self.calls: Counter[str] = Counter()  # "GET /api/v1/pods", "WATCH ..." -> count
        self.denied: set[str] = set()  # plurals this lab's user may not touch (an RBAC test)

    def disable_metrics(self) -> None:
        """A cluster without metrics-server: the group is simply not there."""
        self.hidden_groups.add("metrics.k8s.io")

    def _metrics_up(self) -> bool:
        if "metrics.k8s.io" in self.hidden_groups or self.controllers is None:
            return True  # hidden groups answer 404 further on
        return bool(self.controllers.metrics_backend_up())

    def _served(self) -> list[Resource]:
        return [r for r in RESOURCES if r.group not in self.hidden_groups]

    # --- entry -------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        watching = req.query.get("watch") in ("true", "1")
        self.calls[f"{'WATCH' if watching else req.method} {req.path}"] += 1
        try:
            if req.method in MUTATING:
                self.mutations[f"{req.method} {req.path}"] += 1
            return self._route(req)
        except ApiError as exc:
            return Response(exc.code, exc.status())
        except (SelectorError, PatchError) as exc:
            return Response(400, ApiError(400, "BadRequest", str(exc)).status())

    def _route(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if req.path in ("/version", "/version/"):
            return Response(body=SERVER_VERSION)
        if req.path in ("/healthz", "/livez", "/readyz"):
            return Response(body="ok", content_type="text/plain")
        if parts == ["api"]:
            return Response(
                body={
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": self.address}
                    ],
                }
            )
        if parts == ["apis"]:
            return Response(body=self._group_list())
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[:1] == ["apis"] and len(parts) == 2:
            return Response(body=self._group(parts[1]))
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            if group == "metrics.k8s.io" and not self._metrics_up():
                raise ApiError(
                    503,
                    "ServiceUnavailable",
                    "the server is currently unable to handle the request",
                )
            return Response(body=self._resource_list(group, version))
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if group == "metrics.k8s.io" and not self._metrics_up():
            # An aggregated API whose backend is down: the apiserver's own 503.
            raise ApiError(
                503, "ServiceUnavailable", "the server is currently unable to handle the request"
            )
        resource = BY_PATH.get((group, version, rest[0]))
        if resource is None or group in self.hidden_groups:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if resource.plural in self.denied:
            verb = {
                "GET": "list" if name is None else "get",
                "POST": "create",
                "DELETE": "delete",
                "PATCH": "patch",
                "PUT": "update",
            }[req.method]
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            raise ApiError(
                403,
                "Forbidden",
                f"{resource.plural} is forbidden: User "
                f'"lab-viewer" cannot {verb} resource "{resource.plural}" in API '
                f'group "{resource.group}" {scope}',
            )
        return self._dispatch(req, resource, namespace, name, sub)

    # --- discovery ---------------------------------------------------------------------

    def _group_list(self) -> dict:
        groups: dict[str, list[str]] = {}
        for r in self._served():
            if r.group and r.version not in groups.setdefault(r.group, []):
                groups[r.group].append(r.version)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self._group(g, versions) for g, versions in groups.items()],
        }

    def _group(self, group: str, versions: list[str] | None = None) -> dict:
        versions = versions or sorted({r.version for r in self._served() if r.group == group})
        if not versions:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": listed,
            "preferredVersion": listed[0],
        }

    def _resource_list(self, group: str, version: str) -> dict:
        found = [r for r in self._served() if r.group == group and r.version == version]
        if not found:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        listed = []
        for r in found:
            listed.append(
                {
                    "name": r.plural,
                    "singularName": r.kind.lower(),
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": list(r.verbs),
                    **({"shortNames": list(r.short)} if r.short else {}),
                }
            )
            for sub in r.subresources:
                kind = {"scale": "Scale", "eviction": "Eviction"}.get(sub, r.kind)
                verbs = {
                    "eviction": ["create"],
                    "log": ["get"],
                    "scale": ["get", "patch", "update"],
                }.get(sub, ["get", "patch", "update"])
                listed.append(
                    {
                        "name": f"{r.plural}/{sub}",
                        "singularName": "",
                        "namespaced": r.namespaced,
                        "kind": kind,
                        "verbs": verbs,
                        **({"group": "policy", "version": "v1"} if sub == "eviction" else {}),
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": listed,
        }

    # --- verbs -------------------------------------------------------------------------

    def _dispatch(
        self, req: Request, r: Resource, namespace: str | None, name: str | None, sub: str | None
    ) -> Response:
        if r.namespaced and name is not None and namespace is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        key: Key = (namespace or "", name or "")
        if sub == "scale":
            return self._scale(req, r, key)
        if sub == "eviction":
            if req.method != "POST":
                raise ApiError(405, "MethodNotAllowed", "eviction only accepts POST")
            return self._evict(req, key)
        if sub == "log" and r.plural == "pods":
            if req.method != "GET":
                raise ApiError(405, "MethodNotAllowed", "log only accepts GET")
            return self._log(req, key)
        if r.readonly and req.method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{r.plural} is read-only")
        if name is None:
            if req.method == "GET":
                if req.query.get("watch") in ("true", "1"):
                    return self._watch(req, r, namespace)
                return self._list(req, r, namespace)
            if req.method == "POST":
                body = req.json()
                if not isinstance(body, dict) or not body.get("metadata", {}).get("name"):
                    raise ApiError(422, "Invalid", f"{r.kind} in body must have metadata.name")
                if r.namespaced:
                    body["metadata"]["namespace"] = namespace or "default"
                if req.query.get("dryRun") == "All":
                    return Response(201, body)
                return Response(201, self.store.create(r.store_key, self._admit(r, body)))
            raise ApiError(405, "MethodNotAllowed", f"{req.method} is not supported on lists")
        if req.method == "GET":
            obj = self._with_kind(r, self.store.get(r.store_key, key))
            if "as=Table" in req.headers.get("accept", ""):
                meta = {"resourceVersion": obj["metadata"]["resourceVersion"]}
                return Response(
                    body=kube_tables.table(
                        r.plural,
                        [obj],
                        meta,
                        self.now(),
                        wide="wide" in req.query.get("output", ""),
                    )
                )
            return Response(body=obj)
        if req.method == "DELETE":
            return Response(body=self._delete(r, key, req))
        if req.method in ("PATCH", "PUT"):
            return Response(body=self._with_kind(r, self._write(req, r, key, sub)))
        raise ApiError(405, "MethodNotAllowed", f"{req.method} is not supported")

    def _with_kind(self, r: Resource, obj: dict) -> dict:
        obj.setdefault("apiVersion", r.api_version)
        obj.setdefault("kind", r.kind)
        return obj

    def _admit(self, r: Resource, obj: dict) -> dict:
        """The admission defaults a real cluster applies to new pods."""
        self._with_kind(r, obj)
        if r.plural == "pods" and self.controllers is not None:
            return self.controllers.admit_pod(obj)
        return obj

    def _list(self, req: Request, r: Resource, namespace: str | None) -> Response:
        label_text = req.query.get("labelSelector", "")
        field_text = req.query.get("fieldSelector", "")
        limit = int(req.query.get("limit") or 0)
        start, rv = 0, None
        if req.query.get("continue"):
            start, rv = _decode_continue(req.query["continue"])
        if not label_text and not field_text:
            # The common paginated full list: only this page's objects are touched.
            items, current, total = self.store.page(r.store_key, namespace, start, limit)
        else:
            labels = parse_label_selector(label_text)
            fields = parse_field_selector(field_text)
            everything, current = self.store.list(r.store_key, namespace)
            matched = [
                i
                for i in everything
                if labels.matches(i["metadata"].get("labels") or {}) and fields(i)
            ]
            total = len(matched)
            items = matched[start : start + limit] if limit else matched[start:]
        rv = rv or current
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and start + limit < total:
            meta["continue"] = _encode_continue(start + limit, rv)
            meta["remainingItemCount"] = total - start - limit
        for item in items:
            self._with_kind(r, item)
        if "as=Table" in req.headers.get("accept", ""):
            return Response(
                body=kube_tables.table(
                    r.plural, items, meta, self.now(), wide="wide" in req.query.get("output", "")
                )
            )
        return Response(
            body={
                "kind": f"{r.kind}List",
                "apiVersion": r.api_version,
                "metadata": meta,
                "items": items,
            }
        )

    def _watch(self, req: Request, r: Resource, namespace: str | None) -> Response:
        labels = parse_label_selector(req.query.get("labelSelector", ""))
        fields = parse_field_selector(req.query.get("fieldSelector", ""))
        timeout = float(req.query.get("timeoutSeconds") or 1800)
        bookmarks = req.query.get("allowWatchBookmarks") in ("true", "1")
        since = req.query.get("resourceVersion") or ""
        # Checked before the stream starts so the client sees the 410 as a watch event, as
        # it would from a real apiserver.
        start_rv = int(since) if since.isdigit() and since != "0" else None

        def wanted(obj: dict) -> bool:
            meta = obj["metadata"]
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            return labels.matches(meta.get("labels") or {}) and fields(obj)

        initial = req.query.get("sendInitialEvents") in ("true", "1")

        def stream() -> Iterator[bytes]:
            rv = start_rv
            if rv is None or initial:
                # No resourceVersion, or a streaming list (WatchList, what client-go >= 1.32
                # uses): the current state as ADDED events first.
                items, current = self.store.list(r.store_key, namespace)
                for obj in items:
                    if wanted(obj):
                        yield _event("ADDED", self._with_kind(r, obj))
                rv = current
                if initial:
                    # The client waits for this bookmark before it trusts the list.
                    yield _event(
                        "BOOKMARK",
                        {
                            "kind": r.kind,
                            "apiVersion": r.api_version,
                            "metadata": {
                                "resourceVersion": str(rv),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    )
            deadline = time.monotonic() + timeout
            last_bookmark = time.monotonic()
            while time.monotonic() < deadline:
                try:
                    events = self.store.events_since(r.store_key, rv)
                except ApiError as exc:
                    yield _event("ERROR", exc.status())
                    return
                for e in events:
                    obj = orjson.loads(e.obj)
                    rv = e.rv
                    if wanted(obj):
                        yield _event(e.type, self._with_kind(r, obj))
                if bookmarks and time.monotonic() - last_bookmark > WATCH_BOOKMARK_SECONDS:
                    last_bookmark = time.monotonic()
                    yield _event(
                        "BOOKMARK",
                        {
                            "kind": r.kind,
                            "apiVersion": r.api_version,
                            "metadata": {"resourceVersion": str(rv)},
                        },
                    )
                if not events:
                    self.store.wait(min(0.5, max(0.0, deadline - time.monotonic())))
                    yield b""  # nothing to send: lets the server notice a stop or a cut

        return Response(200, stream())

    def _delete(self, r: Resource, key: Key, req: Request) -> dict:
        if req.query.get("dryRun") == "All":
            return self.store.get(r.store_key, key)
        if r.plural == "pods" and self.controllers is not None:
            body = req.json() if req.body else {}
            grace = body.get("gracePeriodSeconds") if isinstance(body, dict) else None
            if req.query.get("gracePeriodSeconds"):
                grace = int(req.query["gracePeriodSeconds"])
            return self.controllers.delete_pod(key, grace)
        obj = self.store.delete(r.store_key, key)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": key[1], "kind": r.plural, "uid": obj["metadata"]["uid"]},
        }

    def _write(self, req: Request, r: Resource, key: Key, sub: str | None) -> dict:
        current = self.store.get(r.store_key, key)
        body = req.json()
        if req.method == "PUT":
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the body must be an object")
            updated = body
            expect = body.get("metadata", {}).get("resourceVersion")
        else:
            ctype = req.headers.get("content-type", "")
            if "json-patch" in ctype:
                updated = json_patch(current, body)
            elif "strategic-merge-patch" in ctype:
                updated = merge_patch(current, body, strategic=True)
            elif "merge-patch" in ctype:
                updated = merge_patch(current, body)
            elif "apply-patch" in ctype:
                raise ApiError(
                    415, "UnsupportedMediaType", "server-side apply is not served by the lab"
                )
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format: {ctype}",
                )
            precondition = body.get("metadata", {}) if isinstance(body, dict) else {}
            expect = precondition.get("resourceVersion")
            uid = precondition.get("uid")
            if uid and uid != current["metadata"]["uid"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f"Precondition failed: UID in precondition: "
                    f"{uid}, UID in object meta: {current['metadata']['uid']}",
                )
        updated.setdefault("metadata", {})
        updated["metadata"]["name"], updated["metadata"]["namespace"] = key[1], key[0]
        if not key[0]:
            updated["metadata"].pop("namespace")
        if sub != "status" and r.plural not in ("nodes",):
            updated["status"] = current.get("status", {})  # status only via /status
        if req.query.get("dryRun") == "All":
            return updated
        return self.store.update(r.store_key, updated, expect_rv=expect)

    # --- subresources ------------------------------------------------------------------

    def _scale(self, req: Request, r: Resource, key: Key) -> Response:
        obj = self.store.get(r.store_key, key)
        if req.method in ("PUT", "PATCH"):
            body = req.json()
            if req.method == "PATCH":
                if "json-patch" in req.headers.get("content-type", ""):
                    body = json_patch(_scale_of(r, obj), body)
                else:
                    body = merge_patch(_scale_of(r, obj), body)
            replicas = body.get("spec", {}).get("replicas") if isinstance(body, dict) else None
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(
                    422,
                    "Invalid",
                    f'Scale.autoscaling "{key[1]}" is invalid: '
                    "spec.replicas: Invalid value: must be greater than or equal to 0",
                )
            expect = body.get("metadata", {}).get("resourceVersion") or None
            if req.query.get("dryRun") != "All":
                obj["spec"]["replicas"] = replicas
                obj = self.store.update(r.store_key, obj, expect_rv=expect)
            else:
                obj["spec"]["replicas"] = replicas
        return Response(body=_scale_of(r, obj))

    def _log(self, req: Request, key: Key) -> Response:
        """pods/{name}/log: container, previous, follow, tailLines, sinceSeconds,
        timestamps, limitBytes, answered as the apiserver relays the kubelet."""
        pod = self.store.get("pods", key)
        containers = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
        container = req.query.get("container")
        if not container:
            if len(containers) != 1:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {key[1]}, choose one of: "
                    f"[{' '.join(containers)}]",
                )
            container = containers[0]
        node = pod.get("spec", {}).get("nodeName")
        if self.controllers is not None and node and not self.controllers.kubelet_reachable(node):
            ip = next(
                (
                    a["address"]
                    for a in (self.store.find("nodes", ("", node)) or {})
                    .get("status", {})
                    .get("addresses", [])
                    if a.get("type") == "InternalIP"
                ),
                node,
            )
            raise ApiError(
                500,
                "InternalError",
                f'Get "https://{ip}:10250/containerLogs/{key[0]}/{key[1]}/{container}": '
                f"dial tcp {ip}:10250: connect: no route to host",
            )
        previous = req.query.get("previous") in ("true", "1")
        timestamps = req.query.get("timestamps") in ("true", "1")
        tail = int(req.query["tailLines"]) if req.query.get("tailLines", "").isdigit() else None
        since = req.query.get("sinceSeconds", "")
        spec = next(c for c in pod["spec"]["containers"] if c["name"] == container)
        ending = self.controllers.log_tail(pod, spec) if self.controllers is not None else ()
        now = self.now()
        lines = kube_logs.container_log(pod, container, previous, now, ending)
        if since.isdigit():
            lines = [(ts, t) for ts, t in lines if ts >= now - int(since)]
        if tail is not None:
            lines = lines[-tail:] if tail else []
        text = "".join(kube_logs.render(lines, timestamps))
        if req.query.get("limitBytes", "").isdigit():
            text = text[: int(req.query["limitBytes"])]
        if req.query.get("follow") not in ("true", "1") or previous:
            return Response(body=text, content_type="text/plain")
        last = lines[-1][0] if lines else now

        def follow() -> Iterator[bytes]:
            nonlocal last
            yield text.encode()
            while True:
                time.sleep(0.2)
                try:
                    current = self.store.get("pods", key)
                except ApiError:
                    return  # the pod is gone: kubectl's stream ends
                try:
                    fresh = kube_logs.container_log(current, container, False, self.now())
                except ApiError:
                    return  # the container stopped
                new = [(ts, t) for ts, t in fresh if ts > last]
                if new:
                    last = new[-1][0]
                    yield "".join(kube_logs.render(new, timestamps)).encode()
                else:
                    yield b""

        return Response(200, follow(), content_type="text/plain")

    def _evict(self, req: Request, key: Key) -> Response:
        if self.controllers is None:
            raise ApiError(500, "InternalError", "no controllers")
        self.controllers.evict(key, dry_run=req.query.get("dryRun") == "All")
        return Response(
            201,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            },
        )


def _scale_of(r: Resource, obj: dict) -> dict:
    meta = obj["metadata"]
    selector = obj.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in selector.items()),
        },
    }


def _event(kind: str, obj: dict) -> bytes:
    return orjson.dumps({"type": kind, "object": obj}) + b"\n"


def _encode_continue(offset: int, rv: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset, "rv": rv})).decode()


def _decode_continue(token: str) -> tuple[int, int]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["o"]), int(data["rv"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise ApiError(400, "BadRequest", "continue key is not valid") from None


__all__ = [
    "RESOURCES",
    "ApiError",
    "KubeApi",
    "Request",
    "Resource",
    "Response",
    "not_found",
]
