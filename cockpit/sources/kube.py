"""The Kubernetes adapter: the official client for kubeconfig and auth, raw JSON for data.

Each resource kind gets a watcher thread that lists, then watches from the list's
resourceVersion, relists on 410 Gone, and reconnects with backoff when the connection dies.
Responses are read with `_preload_content=False` and parsed with orjson straight into slim
model records, so the client's model classes (seconds of CPU for a thousand pods) are never
built. metrics.k8s.io is polled; a cluster without metrics-server is "metrics absent", not
an error. Events, Services, EndpointSlices and HorizontalPodAutoscalers are watched like
the rest, but a cluster that does not serve one of them (404) or does not let us read it
(403) leaves that kind empty and the source healthy (`missing` says which and why). The
`Date` header of the API server's answers gives its clock (`clock()`), so ages are measured
on the cluster's time, which in a lab running faster than real time is not the local one.
The `kubernetes` package is imported on first connect, not at import, so the UI can paint
before it loads.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from cockpit.config import KubeSettings
from cockpit.model import (
    EndpointSlice,
    Event,
    Hpa,
    Node,
    Pdb,
    Pod,
    PriorityClass,
    Resources,
    Service,
    Workload,
)
from cockpit.sources.health import Health, ReadOnlyError, SourceError
from cockpit.sources.kube_parse import (
    parse_endpoint_slice,
    parse_event,
    parse_hpa,
    parse_node,
    parse_node_metrics,
    parse_pdb,
    parse_pod,
    parse_pod_metrics,
    parse_priority_class,
    parse_service,
    parse_workload,
)

Parser = Callable[[dict], Any]


@dataclass(frozen=True)
class Kind:
    name: str  # what the health and the snapshot call it
    path: str  # the cluster-wide list path
    parse: Parser
    key: Callable[[dict], tuple[str, str]] = lambda o: (
        o["metadata"].get("namespace", ""),
        o["metadata"]["name"],
    )
    # Served by every cluster the cockpit needs (False), or a kind it can do without: a
    # 404 or 403 then leaves it empty instead of failing the source.
    optional: bool = False
    table: Callable[[], dict] = dict  # what holds the kind's records


# Events are the one kind that grows with time rather than with the cluster: a busy
# cluster writes thousands an hour (the API server keeps them an hour by default), and a
# crash-looping pod adds one every few minutes forever. Triage and the timeline read recent
# ones only, and every snapshot copies the table, so only the newest are kept.
MAX_EVENTS = 2000
_versions = itertools.count(1)  # one sequence for every table, so a relist never repeats one


class EventTable(dict):
    """Events by (namespace, name), the newest MAX_EVENTS by last seen. `version` changes
    with every write, so a reader can tell "unchanged" without comparing thousands of
    events. Trimmed in batches (a quarter over the limit), so a burst costs one sort."""

    def __init__(self, limit: int = MAX_EVENTS) -> None:
        super().__init__()
        self.limit = limit
        self.version = next(_versions)
        self._newest: tuple[int, tuple[Event, ...]] | None = None

    def __setitem__(self, key: Any, value: Event) -> None:
        super().__setitem__(key, value)
        self.version = next(_versions)
        if len(self) > self.limit + self.limit // 4:
            keep = self.newest()
            self.clear()
            self.update((e.key, e) for e in keep)  # update() does not come back here

    def pop(self, key: Any, default: Any = None) -> Any:
        if key in self:
            self.version = next(_versions)
        return super().pop(key, default)

    def newest(self) -> tuple[Event, ...]:
        """Newest first; sorted once per version, since every snapshot asks."""
        cached = self._newest
        if cached is None or cached[0] != self.version:
            ordered = sorted(self.values(), key=lambda e: (e.last_seen, e.key), reverse=True)
            cached = self._newest = (self.version, tuple(ordered[: self.limit]))
        return cached[1]


KINDS = (
    Kind("nodes", "/api/v1/nodes", parse_node),
    Kind("pods", "/api/v1/pods", parse_pod),
    Kind("deployments", "/apis/apps/v1/deployments", lambda o: parse_workload(o, "Deployment")),
    Kind("statefulsets", "/apis/apps/v1/statefulsets", lambda o: parse_workload(o, "StatefulSet")),
    Kind("daemonsets", "/apis/apps/v1/daemonsets", lambda o: parse_workload(o, "DaemonSet")),
    Kind("pdbs", "/apis/policy/v1/poddisruptionbudgets", parse_pdb),
    Kind("priorityclasses", "/apis/scheduling.k8s.io/v1/priorityclasses", parse_priority_class),
    Kind("events", "/api/v1/events", parse_event, optional=True, table=EventTable),
    Kind("services", "/api/v1/services", parse_service, optional=True),
    Kind(
        "endpointslices",
        "/apis/discovery.k8s.io/v1/endpointslices",
        parse_endpoint_slice,
        optional=True,
    ),
    Kind("hpas", "/apis/autoscaling/v2/horizontalpodautoscalers", parse_hpa, optional=True),
)
CLOCK_SPAN = 10.0  # seconds of our clock over which the API server's clock rate is measured
MISSING_RECHECK = 300.0  # seconds between asking again for a kind the cluster did not serve
WATCH_TIMEOUT = 300  # ask the server to end each watch after this, then rewatch
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


@dataclass
class KubeState:
    nodes: dict[tuple[str, str], Node] = field(default_factory=dict)
    pods: dict[tuple[str, str], Pod] = field(default_factory=dict)
    deployments: dict[tuple[str, str], Workload] = field(default_factory=dict)
    statefulsets: dict[tuple[str, str], Workload] = field(default_factory=dict)
    daemonsets: dict[tuple[str, str], Workload] = field(default_factory=dict)
    pdbs: dict[tuple[str, str], Pdb] = field(default_factory=dict)
    priorityclasses: dict[tuple[str, str], PriorityClass] = field(default_factory=dict)
    node_usage: dict[str, Resources] = field(default_factory=dict)
    pod_usage: dict[tuple[str, str], Resources] = field(default_factory=dict)
    metrics: str = "unknown"  # "present", "absent" or "unknown"
    events: dict[tuple[str, str], Event] = field(default_factory=EventTable)
    services: dict[tuple[str, str], Service] = field(default_factory=dict)
    endpointslices: dict[tuple[str, str], EndpointSlice] = field(default_factory=dict)
    hpas: dict[tuple[str, str], Hpa] = field(default_factory=dict)
    # In a copy from records(): the events newest first, and the version of the table they
    # came from (the same version means the same events).
    events_newest: tuple[Event, ...] = ()
    events_version: int = 0


RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


class KubeSource:
    def __init__(
        self,
        settings: KubeSettings,
        on_change: Callable[[], None] | None = None,
        request_timeout: float = 10.0,
        metrics_every: float = 15.0,
        readonly: bool = False,
    ) -> None:
        self.settings = settings
        self.readonly = readonly  # every verb but GET is refused before it leaves
        self.on_change = on_change or (lambda: None)
        self.request_timeout = request_timeout
        self.metrics_every = metrics_every
        self.state = KubeState()
        self.lock = threading.Lock()
        self.synced: dict[str, bool] = {k.name: False for k in KINDS}
        self.errors: dict[str, SourceError | None] = {k.name: None for k in KINDS}
        self.events_seen = 0  # watch events applied, for the benchmarks
        self.last_ok: float | None = None  # when every kind was last in sync
        self.failing_since: float | None = None
        self._client: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._responses: set[Any] = set()
        self.missing: dict[str, str] = {}  # optional kinds the cluster does not serve -> why
        # The API server's clock from its Date headers: (its time, our time) at the last
        # answer, and how fast it runs against ours (a lab may run many times real time).
        self._server_time: tuple[float, float] | None = None
        self._clock_anchor: tuple[float, float] | None = None
        self._clock_rate = 1.0

    # --- connection --------------------------------------------------------------------

    def connect(self) -> None:
        """Load the kubeconfig and build an API client (imports the kubernetes package)."""
        try:
            from kubernetes import config as kconfig
            from kubernetes.config.config_exception import ConfigException
        except ImportError as exc:  # pragma: no cover - a broken install
            raise SourceError(
                f"the kubernetes client is not installed: {exc}", "reinstall the cockpit"
            ) from None
        try:
            if self.settings.kubeconfig is None:
                kconfig.load_incluster_config()
                from kubernetes.client import ApiClient

                self._client = ApiClient()
            else:
                self._client = kconfig.new_client_from_config(
                    config_file=self.settings.kubeconfig, context=self.settings.context
                )
        except (
            ConfigException,
            OSError,
            ValueError,
            TypeError,
            KeyError,
            ImportError,
            Exception,
        ) as exc:  # YAML, auth plugins ...: all mean "unusable"
            where = self.settings.kubeconfig or "in-cluster service account"
            raise SourceError(
                f"cannot use kubeconfig {where}: {exc}",
                "check the file, or pick a context with --context",
            ) from None

    @property
    def server(self) -> str:
        return self._client.configuration.host if self._client else ""

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        stream: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """One raw API call; the response body parsed with orjson (or the open response
        when streaming). Every failure becomes a SourceError."""
        if self.readonly and method != "GET":
            raise ReadOnlyError(f"{method} {path}")
        if self._client is None:
            self.connect()
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        headers = {"Accept": "application/json", "Content-Type": content_type}
        timeout = (
            (self.request_timeout, WATCH_TIMEOUT + 30)
            if stream
            else (timeout or self.request_timeout)
        )
        try:
            call = self._client.param_serialize(
                method,
                path,
                query_params=list((query or {}).items()),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            resp = self._client.call_api(*call, _request_timeout=timeout).response
            self._note_date(resp)
        except ApiException as exc:  # the client reports transport failures as status 0
            raise SourceError(
                f"cannot reach the Kubernetes API at {self.server}: {exc.reason}",
                "is the cluster up? check the kubeconfig's server address",
            ) from None
        except (Urllib3Error, OSError) as exc:
            raise SourceError(
                f"cannot reach the Kubernetes API at {self.server}: {_reason(exc)}",
                "is the cluster up? check the kubeconfig's server address",
            ) from None
        if not 200 <= resp.status < 300:
            body_bytes = resp.data
            resp.release_conn()
            raise _api_error(resp.status, body_bytes, path)
        if stream:
            return resp
        data = resp.data
        try:
            return orjson.loads(data) if data else {}
        except orjson.JSONDecodeError:
            raise SourceError(
                f"the Kubernetes API answered {path} with something that is not "
                f"JSON: {data[:80]!r}",
                "a proxy in between? check the kubeconfig's server address",
            ) from None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        for kind in KINDS:
            t = threading.Thread(
                target=self._watch_optional if kind.optional else self._watch_kind,
                args=(kind,),
                daemon=True,
                name=f"kube-watch-{kind.name}",
            )
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._poll_metrics, daemon=True, name="kube-metrics")
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for resp in list(self._responses):
            with contextlib.suppress(Exception):  # closing is best effort
                resp.close()  # unblocks a thread waiting on a watch
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()

    # --- list + watch ------------------------------------------------------------------

    def list_kind(self, kind: Kind) -> tuple[dict, str]:
        """A full list, paginated, parsed into records; returns (records, resourceVersion)."""
        records: dict = kind.table()
        token = ""
        while True:
            query: dict[str, Any] = {"limit": 500}
            if token:
                query["continue"] = token
            doc = self.request("GET", kind.path, query)
            for item in doc.get("items") or []:
                records[kind.key(item)] = kind.parse(item)
            meta = doc.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                return records, str(meta.get("resourceVersion", ""))

    def _watch_kind(self, kind: Kind) -> None:
        attempt = 0
        rv = ""
        while not self._stop.is_set():
            try:
                if not rv:
                    records, rv = self.list_kind(kind)
                    with self.lock:
                        setattr(self.state, kind.name, records)
                    self._mark(kind, None)
                rv = self._follow(kind, rv)
                attempt = 0
            except _Gone:
                rv = ""  # our resourceVersion is too old: relist, as a reflector does
            except SourceError as exc:
                self._mark(kind, exc)
                rv = "" if not self.synced[kind.name] else rv
                delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
                attempt += 1
                self._stop.wait(delay)

    def _watch_optional(self, kind: Kind) -> None:
        """A kind the cockpit can do without: when the cluster does not serve it (404: the
        API group is not installed) or does not let us list it (403), it stays empty, counts
        as synced and is asked for again every few minutes; otherwise it is watched."""
        while not self._stop.is_set():
            try:
                self.request("GET", kind.path, {"limit": 1})
            except SourceError as exc:
                if exc.status in (404, 403):
                    why = "not served" if exc.status == 404 else "not allowed"
                    with self.lock:
                        self.missing[kind.name] = f"{why} ({kind.path})"
                        setattr(self.state, kind.name, kind.table())
                    self._mark(kind, None)
                    self._stop.wait(MISSING_RECHECK)
                    continue
                # Any other failure is the connection's: the watch loop reports and retries.
            with self.lock:
                self.missing.pop(kind.name, None)
            self._watch_kind(kind)
            return

    def _follow(self, kind: Kind, rv: str) -> str:
        """Apply watch events until the server ends the watch; return the last rv."""
        query = {
            "watch": "true",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": WATCH_TIMEOUT,
        }
        resp = self.request("GET", kind.path, query, stream=True)
        if self.errors[kind.name] is not None:
            self._mark(kind, None)  # the watch is back: so is the source
        self._responses.add(resp)
        try:
            from kubernetes.watch.watch import iter_resp_lines

            for line in iter_resp_lines(resp):
                if self._stop.is_set():
                    break
                if not line:
                    continue
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise SourceError(
                        f"a {kind.name} watch sent something that is not JSON: {line[:80]!r}",
                        "a proxy in between?",
                    ) from None
                rv = self._apply(kind, event, rv)
        except (SourceError, _Gone):
            raise
        except Exception as exc:  # a dropped stream surfaces as many exception types
            raise SourceError(
                f"the {kind.name} watch was cut: {_reason(exc)}", "reconnecting"
            ) from None
        finally:
            self._responses.discard(resp)
            resp.release_conn()
        return rv

    def _apply(self, kind: Kind, event: dict, rv: str) -> str:
        kind_of = event.get("type")
        obj = event.get("object") or {}
        if kind_of == "ERROR":
            if obj.get("code") == 410:
                raise _Gone()
            raise _api_error(obj.get("code", 500), orjson.dumps(obj), kind.path)
        new_rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
        if kind_of == "BOOKMARK":
            return new_rv
        key = kind.key(obj)
        with self.lock:
            table = getattr(self.state, kind.name)
            if kind_of == "DELETED":
                table.pop(key, None)
            else:
                table[key] = kind.parse(obj)
            self.events_seen += 1
        self.on_change()
        return new_rv

    def _mark(self, kind: Kind, error: SourceError | None) -> None:
        now = time.time()
        with self.lock:
            if error is None:
                self.synced[kind.name] = True
            self.errors[kind.name] = error
            failing = any(e is not None for e in self.errors.values())
            if not failing and all(self.synced.values()):
                self.last_ok, self.failing_since = now, None
            elif failing and self.failing_since is None:
                self.failing_since = now
        self.on_change()

    # --- the API server's clock ----------------------------------------------------------

    def _note_date(self, resp: Any) -> None:
        """Remember the API server's time from an answer's Date header."""
        headers = getattr(resp, "headers", None)
        date = headers.get("Date") if headers is not None else None
        if not date:
            return
        try:
            server = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return  # a proxy's odd header: the last good one, or the local clock, stands in
        local = time.time()
        with self.lock:
            self._server_time = (server, local)
            anchor = self._clock_anchor
            if anchor is None:
                self._clock_anchor = (server, local)
            elif local - anchor[1] >= CLOCK_SPAN:
                # Date has whole seconds, so the rate is measured over several seconds and
                # believed only when it is clearly not 1: a lab's clock, not a server's jitter.
                rate = (server - anchor[0]) / (local - anchor[1])
                self._clock_rate = rate if rate > 0 and abs(rate - 1.0) > 0.25 else 1.0
                self._clock_anchor = (server, local)

    def clock(self, now: float | None = None) -> float | None:
        """The API server's time now (unix seconds), from the last Date header it sent and
        how fast its clock runs; None before any answer."""
        now = time.time() if now is None else now
        with self.lock:
            if self._server_time is None:
                return None
            server, local = self._server_time
            return server + (now - local) * self._clock_rate

    # --- metrics -------------------------------------------------------------------------

    def _poll_metrics(self) -> None:
        while not self._stop.is_set():
            # The watches report the connection's health; metrics stay as they were.
            with contextlib.suppress(SourceError):
                self.fetch_metrics()
            self._stop.wait(self.metrics_every)

    def fetch_metrics(self) -> None:
        try:
            nodes = self.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
            pods = self.request("GET", "/apis/metrics.k8s.io/v1beta1/pods")
        except SourceError as exc:
            if "404" in exc.reason or "503" in exc.reason:
                with self.lock:
                    self.state.metrics = "absent"
                    self.state.node_usage, self.state.pod_usage = {}, {}
                self.on_change()
                return
            raise
        node_usage = dict(parse_node_metrics(i) for i in nodes.get("items") or [])
        pod_usage = dict(parse_pod_metrics(i) for i in pods.get("items") or [])
        with self.lock:
            self.state.metrics = "present"
            self.state.node_usage, self.state.pod_usage = node_usage, pod_usage
        self.on_change()

    # --- what the inventory reads ------------------------------------------------------

    def health(self, now: float | None = None) -> Health:
        """ok when every kind is synced and watched; stale (data kept, marked with its age)
        when a watch is down after a good sync; error when there never was good data."""
        now = time.time() if now is None else now
        with self.lock:
            errors = [e for e in self.errors.values() if e is not None]
            synced = all(self.synced.values())
            last_ok, since = self.last_ok, self.failing_since
        if not errors:
            if synced:
                return Health("kube", "ok", last_ok=last_ok, since=last_ok)
            return Health("kube", "error", "still syncing", "wait a moment", since=now)
        first = errors[0]
        state = "stale" if last_ok is not None else "error"
        return Health("kube", state, first.reason, first.hint, last_ok, since)

    def records(self) -> KubeState:
        """A consistent copy of everything known, usage merged into the records."""
        with self.lock:
            s = self.state
            events = s.events
            return KubeState(
                dict(s.nodes),
                dict(s.pods),
                dict(s.deployments),
                dict(s.statefulsets),
                dict(s.daemonsets),
                dict(s.pdbs),
                dict(s.priorityclasses),
                dict(s.node_usage),
                dict(s.pod_usage),
                s.metrics,
                services=dict(s.services),
                endpointslices=dict(s.endpointslices),
                hpas=dict(s.hpas),
                events_newest=events.newest()
                if isinstance(events, EventTable)
                else tuple(events.values()),
                events_version=getattr(events, "version", 0),
            )

    # --- writes (used by the actions) ----------------------------------------------------

    # Each write can carry preconditions: the UID (and resourceVersion where the API checks
    # it in a patch body) of the object the plan was made for, so a write never lands on an
    # object recreated under the same name, or one changed since it was read.

    def cordon(
        self,
        node: str,
        unschedulable: bool = True,
        dry_run: bool = False,
        uid: str | None = None,
    ) -> dict:
        """kubectl's cordon (or uncordon) patch."""
        body: dict[str, Any] = {"spec": {"unschedulable": True if unschedulable else None}}
        _preconditions(body, uid)
        return self.request(
            "PATCH",
            f"/api/v1/nodes/{node}",
            _dry(dry_run),
            body,
            "application/strategic-merge-patch+json",
        )

    def evict(
        self, namespace: str, pod: str, dry_run: bool = False, uid: str | None = None
    ) -> dict:
        """An Eviction (the API server checks PDBs and answers 429 when one says no)."""
        body: dict[str, Any] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod, "namespace": namespace},
        }
        if uid:
            body["deleteOptions"] = {"preconditions": {"uid": uid}}
        return self.request(
            "POST", f"/api/v1/namespaces/{namespace}/pods/{pod}/eviction", _dry(dry_run), body
        )

    def rollout_restart(
        self,
        kind: str,
        namespace: str,
        name: str,
        dry_run: bool = False,
        uid: str | None = None,
        resource_version: str | None = None,
        stamp: str | None = None,
    ) -> dict:
        """What `kubectl rollout restart` sends: a new restartedAt annotation (`stamp`, so a
        dry run and the real patch carry the same one)."""
        stamp = stamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body: dict[str, Any] = {
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}
        }
        _preconditions(body, uid, resource_version)
        return self.request(
            "PATCH",
            f"/apis/apps/v1/namespaces/{namespace}/{_plural(kind)}/{name}",
            _dry(dry_run),
            body,
            "application/strategic-merge-patch+json",
        )

    def scale(
        self,
        kind: str,
        namespace: str,
        name: str,
        replicas: int,
        dry_run: bool = False,
        resource_version: str | None = None,
    ) -> dict:
        """Through the scale subresource (which checks a resourceVersion, not a UID)."""
        body: dict[str, Any] = {"spec": {"replicas": replicas}}
        _preconditions(body, None, resource_version)
        return self.request(
            "PATCH",
            f"/apis/apps/v1/namespaces/{namespace}/{_plural(kind)}/{name}/scale",
            _dry(dry_run),
            body,
            "application/merge-patch+json",
        )

    def patch_node_metadata(
        self,
        node: str,
        labels: dict[str, str | None] | None = None,
        annotations: dict[str, str | None] | None = None,
        taints: list[dict[str, Any]] | None = None,
        uid: str | None = None,
    ) -> dict:
        """Labels and annotations merged in (None removes one, as `kubectl label k-`);
        taints, when given, replace the node's whole list (what `kubectl taint` sends)."""
        body: dict[str, Any] = {"metadata": {}}
        if labels:
            body["metadata"]["labels"] = labels
        if annotations:
            body["metadata"]["annotations"] = annotations
        if taints is not None:
            body["spec"] = {"taints": taints}
        _preconditions(body, uid)
        return self.request(
            "PATCH", f"/api/v1/nodes/{node}", None, body, "application/merge-patch+json"
        )

    def pod_log(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail: int = 500,
    ) -> str:
        """A container's log as text (`kubectl logs --tail`); `previous` is the container
        that ran before the last restart (`kubectl logs -p`)."""
        query: dict[str, Any] = {"tailLines": tail}
        if container:
            query["container"] = container
        if previous:
            query["previous"] = "true"
        resp = self.request(
            "GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query, stream=True
        )
        try:
            data = resp.read(LOG_LIMIT + 1)
        finally:
            resp.release_conn()
        text = data[:LOG_LIMIT].decode("utf-8", errors="replace")
        return text + ("\n[log cut at 4 MiB]" if len(data) > LOG_LIMIT else "")

    def delete_node(self, node: str, uid: str | None = None) -> dict:
        """`kubectl delete node`, pinned to the UID the plan saw."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if uid:
            body["preconditions"] = {"uid": uid}
        return self.request("DELETE", f"/api/v1/nodes/{node}", None, body)


def _preconditions(
    body: dict[str, Any], uid: str | None, resource_version: str | None = None
) -> None:
    meta = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
    if meta:
        body["metadata"] = meta


LOG_LIMIT = 4 * 2**20  # bytes of log shown at once: a tail, not an archive


class _Gone(Exception):
    """The watch's resourceVersion is older than the server remembers (410)."""


def _dry(dry_run: bool) -> dict[str, str]:
    return {"dryRun": "All"} if dry_run else {}


def _plural(kind: str) -> str:
    return {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}[
        kind
    ]


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc) or type(exc).__name__


def _api_error(status: int, body: Any, path: str) -> SourceError:
    message = ""
    try:
        doc = orjson.loads(body) if body else {}
        message = doc.get("message", "") if isinstance(doc, dict) else ""
    except (orjson.JSONDecodeError, TypeError):
        message = (
            (body or b"")[:120].decode("utf-8", "replace")
            if isinstance(body, bytes)
            else str(body)[:120]
        )
    hints = {
        401: "the kubeconfig's credentials were rejected: an expired token or certificate?",
        403: "the user lacks RBAC rights: grant get/list/watch on this resource (a "
        "cluster-wide ClusterRole such as `view`)",
        404: "the resource is not served by this cluster",
        429: "the API is rate limiting; retrying",
        503: "the API server (or an aggregated API) is unavailable",
    }
    return SourceError(
        f"{status} from {path}: {message or 'no message'}",
        hints.get(status, "see the API server's logs"),
        status,
        message,
    )
