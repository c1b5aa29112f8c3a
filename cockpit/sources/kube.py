"""The Kubernetes adapter: the official client for kubeconfig and auth, raw JSON for data.

Each resource kind gets a watcher thread that lists, then watches from the list's
resourceVersion. A 410 Gone (as a watch event or as the answer to the watch request) means
a relist; any other failure (a cut connection, a truncated or garbled answer, an answer too
large, a bug) is shown in the health with its reason and retried after a backoff with
jitter, and the retry lists again, so the data shown is proven current before the source is
"ok" again. An object that does not parse is skipped and counted, never fatal for the rest.

A watch on a quiet resource can stay silent for minutes, and a hung API server looks just
like that, so a heartbeat thread asks for /version every few seconds with a short deadline:
"ok" means every kind is synced, no watch is failing, *and* the API answered within
HEARTBEAT_DEADLINE seconds. A failed heartbeat cuts the open watches (they hang on the same
server) and a recovered one wakes the watchers, so recovery does not wait out a backoff.
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
import random
import socket
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
HEARTBEAT_EVERY = 3.0  # seconds between /version requests that prove the API answers
HEARTBEAT_TIMEOUT = 5.0  # connect and read bound of one heartbeat
# No good heartbeat for this long: the data is no longer provably current. Worst case a hung
# API is noticed HEARTBEAT_EVERY + HEARTBEAT_TIMEOUT after its last answer, well inside this.
HEARTBEAT_DEADLINE = 10.0
MAX_BODY = 64 * 2**20  # one answer (a page of 500 objects is a few MiB; metrics a few more)
LIST_DEADLINE = 60.0  # one list page, headers to last byte
# A watch that stayed open this long was a real one, even without an event (a proxy that
# closes idle connections ends quiet watches early); one that ends sooner with nothing is
# a failure and backs off, so an empty 200 cannot make the adapter reconnect in a loop.
WATCH_PROOF = 5.0


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
    # In a copy from records(take_pod_changes=True): the pod keys added, changed or removed
    # since the last such copy, or None when the table was replaced whole (a list).
    pod_changes: set[tuple[str, str]] | None = None


RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


class KubeSource:
    def __init__(
        self,
        settings: KubeSettings,
        on_change: Callable[[], None] | None = None,
        request_timeout: float = 10.0,
        metrics_every: float = 15.0,
        readonly: bool = False,
        max_body: int = MAX_BODY,
    ) -> None:
        self.settings = settings
        self.readonly = readonly  # every verb but GET is refused before it leaves
        self.on_change = on_change or (lambda: None)
        self.request_timeout = request_timeout
        self.metrics_every = metrics_every
        self.max_body = max_body
        self.state = KubeState()
        # Pod keys changed since the inventory last took them; None: take the table whole.
        self._pod_changes: set[tuple[str, str]] | None = None
        self.lock = threading.Lock()
        self.synced: dict[str, bool] = {k.name: False for k in KINDS}
        self.errors: dict[str, SourceError | None] = {k.name: None for k in KINDS}
        self.events_seen = 0  # watch events applied, for the benchmarks
        self.last_ok: float | None = None  # when the data was last proven current
        self.failing_since: float | None = None
        # Objects that did not parse, per kind: key -> why (skipped, shown in the health).
        self.unreadable: dict[str, dict[tuple[str, str], str]] = {k.name: {} for k in KINDS}
        self.metrics_unreadable: dict[str, str] = {}  # metrics entries skipped, name -> why
        # The metrics entries last parsed, by (namespace, name): see _parse_metrics.
        self._node_metrics_seen: dict[Any, tuple[Any, Any, Resources]] = {}
        self._pod_metrics_seen: dict[Any, tuple[Any, Any, Resources]] = {}
        self._metrics_parsing = threading.Lock()
        self.metrics_error: SourceError | None = None
        self.heartbeat_at: float | None = None  # time.monotonic() of the last good heartbeat
        self.heartbeat_error: SourceError | None = None
        self._started_at: float | None = None
        self._client: Any = None
        self._stop = threading.Event()
        self._wake = threading.Condition()  # backoffs wait on it; a recovered API wakes them
        self._threads: list[threading.Thread] = []
        self._responses: set[Any] = set()
        self.missing: dict[str, str] = {}  # optional kinds the cluster does not serve -> why
        # The API server's clock from its Date headers: (its time, our time) at the last
        # answer, and how fast it runs against ours (a lab may run many times real time).
        self._server_time: tuple[float, float] | None = None
        self._clock_anchor: tuple[float, float] | None = None
        self._clock_rate = 1.0
        self.clock_span = CLOCK_SPAN

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
        from kubernetes.client import ApiClient, Configuration

        where = self.settings.kubeconfig or "in-cluster service account"
        try:
            configuration = Configuration()
            if self.settings.kubeconfig is None:
                kconfig.load_incluster_config(client_configuration=configuration)
            else:
                kconfig.load_kube_config(
                    config_file=self.settings.kubeconfig,
                    context=self.settings.context,
                    client_configuration=configuration,
                )
            # No silent retries below us: a request that fails says so at once, and the
            # watch loop retries with its own backoff (urllib3 would retry a hung GET 3 times).
            configuration.retries = False
            self._client = ApiClient(configuration)
        except ConfigException as exc:
            raise SourceError(*_config_words(str(exc), where, self.settings.context)) from None
        except OSError as exc:
            raise SourceError(
                f"cannot use kubeconfig {where}: {exc.strerror or type(exc).__name__}",
                "check the path ([kubernetes] kubeconfig in the config, or $KUBECONFIG)",
            ) from None
        except Exception as exc:  # YAML, auth plugins ...: all mean "unusable"
            raise SourceError(
                f"cannot use kubeconfig {where}: {_short(exc)}",
                "check the file (kubectl config view), or pick a context with --context",
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
        limit = timeout or self.request_timeout
        timeout = (limit, WATCH_TIMEOUT + 30) if stream else limit
        started = time.monotonic()
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
        except ApiException as exc:  # the client reports TLS failures as status 0
            raise SourceError(*_transport_words(str(exc.reason), self.server, limit)) from None
        except (Urllib3Error, OSError) as exc:
            raise SourceError(*_transport_words(_cause(exc), self.server, limit)) from None
        if not 200 <= resp.status < 300:
            try:
                body_bytes = self._read_body(resp, path, started + LIST_DEADLINE, 64 * 1024)
            except SourceError:
                body_bytes = b""  # the status says enough
            finally:
                resp.release_conn()
            error = _api_error(resp.status, body_bytes, path)
            raise error
        if stream:
            return resp
        try:
            data = self._read_body(resp, path, started + max(LIST_DEADLINE, limit))
        finally:
            resp.release_conn()
        try:
            return orjson.loads(data) if data else {}
        except orjson.JSONDecodeError:
            raise SourceError(
                f"the Kubernetes API answered {path} with something that is not "
                f"JSON ({_preview(data)})",
                "a proxy in between? check the kubeconfig's server address",
            ) from None

    def _read_body(self, resp: Any, path: str, deadline: float, cap: int | None = None) -> bytes:
        """The whole body, or a SourceError: cut off, over the size cap, or past the
        deadline (a server trickling bytes never trips a per-read timeout)."""
        from urllib3.exceptions import HTTPError as Urllib3Error

        cap = self.max_body if cap is None else cap
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _too_large(path, int(declared), cap)
        body = bytearray()
        try:
            for chunk in resp.stream(2**16, decode_content=True):
                body += chunk
                if len(body) > cap:
                    raise _too_large(path, len(body), cap)
                if time.monotonic() > deadline:
                    raise SourceError(
                        f"the answer to GET {path} from {self.server} was still coming after "
                        f"{LIST_DEADLINE:g} s ({len(body)} bytes so far)",
                        "the API server or a proxy in between is trickling; retrying",
                    )
        except (Urllib3Error, OSError) as exc:
            raise SourceError(
                f"the answer to GET {path} from {self.server} was cut off after "
                f"{len(body)} bytes ({_short_reason(_cause(exc))})",
                "the connection dropped mid-answer; retrying",
            ) from None
        return bytes(body)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._started_at = time.monotonic()
        t = threading.Thread(target=self._heartbeat, daemon=True, name="kube-heartbeat")
        t.start()
        self._threads.append(t)
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
        with self._wake:
            self._wake.notify_all()
        self._cut_watches()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()

    # --- list + watch ------------------------------------------------------------------

    def list_kind(self, kind: Kind) -> tuple[dict, str]:
        """A full list, paginated, parsed into records; returns (records, resourceVersion).
        Objects that do not parse are left out and recorded in `unreadable`."""
        records: dict = kind.table()
        unreadable: dict[tuple[str, str], str] = {}
        token = ""
        while True:
            query: dict[str, Any] = {"limit": 500}
            if token:
                query["continue"] = token
            doc = self.request("GET", kind.path, query)
            if not isinstance(doc, dict):
                raise SourceError(
                    f"the Kubernetes API answered GET {kind.path} with a JSON "
                    f"{type(doc).__name__}, not a list object",
                    "a proxy in between? check the kubeconfig's server address",
                )
            items = doc.get("items") or []
            for index, item in enumerate(items if isinstance(items, list) else ()):
                key, record, problem = _parse_one(kind, item, f"items[{len(records) + index}]")
                if problem:
                    unreadable[key] = problem
                else:
                    records[key] = record
            meta = doc.get("metadata")
            meta = meta if isinstance(meta, dict) else {}
            token = meta.get("continue") or ""
            if not token:
                with self.lock:
                    self.unreadable[kind.name] = unreadable
                return records, str(meta.get("resourceVersion", ""))

    def _watch_kind(self, kind: Kind) -> None:
        """List, then watch, forever; no failure ends this thread (it shows in the health)."""
        attempt = 0
        rv = ""
        while not self._stop.is_set():
            try:
                if not rv:
                    records, rv = self.list_kind(kind)
                    with self.lock:
                        setattr(self.state, kind.name, records)
                        if kind.name == "pods":
                            self._pod_changes = None
                    self._mark(kind, None)  # a fresh list proves the data current
                rv, proven = self._follow(kind, rv)
                if proven:
                    attempt = 0
                    continue  # the server ended a good watch: carry on from its rv
                raise SourceError(
                    f"the {kind.name} watch ended without sending anything",
                    "a proxy in between may be cutting long requests; retrying",
                )
            except _Gone:
                rv = ""  # our resourceVersion is too old: relist, as a reflector does
                if attempt == 0:
                    attempt = 1
                    continue  # at once the first time; a server that keeps saying 410 waits
                error: SourceError = SourceError(
                    f"the {kind.name} watch keeps answering 410 Gone", "relisting"
                )
            except SourceError as exc:
                error = exc
            except Exception as exc:  # a bug must show in the health, not end the watcher
                error = SourceError(
                    f"the {kind.name} watcher failed: {type(exc).__name__}: {_short(exc)}",
                    "retrying; please report this with COCKPIT_DEBUG=1 output",
                )
            if self._stop.is_set():
                return
            self._mark(kind, error)
            rv = ""  # after a failure the data is proven current again only by a list
            self._backoff(attempt)
            attempt += 1

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
                        if kind.name == "pods":
                            self._pod_changes = None
                    self._mark(kind, None)
                    self._stop.wait(MISSING_RECHECK)
                    continue
                # Any other failure is the connection's: the watch loop reports and retries.
            with self.lock:
                self.missing.pop(kind.name, None)
            self._watch_kind(kind)
            return

    def _backoff(self, attempt: int) -> None:
        """Wait BACKOFF[attempt] with jitter (so watchers do not retry in lockstep), or
        less when the heartbeat sees the API answer again."""
        delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
        with self._wake:
            if not self._stop.is_set():
                self._wake.wait(random.uniform(delay / 2, delay))

    def _follow(self, kind: Kind, rv: str) -> tuple[str, bool]:
        """Apply watch events until the server ends the watch; return the last rv and
        whether the watch proved itself (an event or bookmark, or it lasted)."""
        query = {
            "watch": "true",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": WATCH_TIMEOUT,
        }
        started = time.monotonic()
        try:
            resp = self.request("GET", kind.path, query, stream=True)
        except SourceError as exc:
            if exc.status == 410:  # the watch request itself: too old a resourceVersion
                raise _Gone() from None
            raise
        self._responses.add(resp)
        proven = False
        try:
            for line in self._lines(resp, kind):
                if self._stop.is_set():
                    break
                if not line.strip():
                    continue
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise SourceError(
                        f"a {kind.name} watch sent something that is not JSON ({_preview(line)})",
                        "a proxy in between? check the kubeconfig's server address",
                    ) from None
                rv = self._apply(kind, event, rv)
                proven = True
        except (SourceError, _Gone):
            raise
        except Exception as exc:  # a dropped stream surfaces as many exception types
            raise SourceError(
                f"the {kind.name} watch was cut ({_short_reason(_cause(exc))})", "reconnecting"
            ) from None
        finally:
            self._responses.discard(resp)
            with contextlib.suppress(Exception):
                resp.release_conn()
        return rv, proven or time.monotonic() - started >= WATCH_PROOF

    def _lines(self, resp: Any, kind: Kind) -> Any:
        """The watch's lines as they come; an unterminated last line is an error, not
        dropped (a stream that ends mid-event was cut, whatever its status said)."""
        pending = bytearray()
        for chunk in resp.stream(2**16, decode_content=True):
            pending += chunk
            while (end := pending.find(b"\n")) >= 0:
                line = bytes(pending[:end])
                del pending[: end + 1]
                yield line
            if len(pending) > self.max_body:
                raise _too_large(f"{kind.path} (one watch event)", len(pending), self.max_body)
        if pending.strip():
            raise SourceError(
                f"the {kind.name} watch ended in the middle of an event ({_preview(pending)})",
                "a proxy in between cut the stream or sent something else; retrying",
            )

    def _apply(self, kind: Kind, event: Any, rv: str) -> str:
        if not isinstance(event, dict):
            raise SourceError(
                f"a {kind.name} watch sent a JSON {type(event).__name__}, not an event",
                "a proxy in between? check the kubeconfig's server address",
            )
        kind_of = event.get("type")
        obj = event.get("object")
        obj = obj if isinstance(obj, dict) else {}
        if kind_of == "ERROR":
            if obj.get("code") == 410:
                raise _Gone()
            code = obj.get("code")
            raise _api_error(code if isinstance(code, int) else 500, orjson.dumps(obj), kind.path)
        meta = obj.get("metadata")
        new_rv = (meta.get("resourceVersion") if isinstance(meta, dict) else None) or rv
        if kind_of == "BOOKMARK":
            return str(new_rv)
        if kind_of not in ("ADDED", "MODIFIED", "DELETED"):
            raise SourceError(
                f"a {kind.name} watch sent an event of unknown type {str(kind_of)[:40]!r}",
                "a proxy in between? check the kubeconfig's server address",
            )
        with self.lock:
            table = getattr(self.state, kind.name)
            unreadable = self.unreadable[kind.name]
            if kind_of == "DELETED":
                key, _, _ = _parse_one(kind, obj, "", parse=False)
                changed = table.pop(key, None) is not None
                changed = unreadable.pop(key, None) is not None or changed
            else:
                key, record, problem = _parse_one(kind, obj, "")
                if problem:
                    # What it was is no longer true; what it is, unknown.
                    changed = table.pop(key, None) is not None
                    changed = unreadable.get(key) != problem or changed
                    unreadable[key] = problem
                else:
                    # Most updates touch what no record holds (a resourceVersion, a
                    # managedFields time, a lease): the record kept as it was is the same
                    # object, so nothing downstream wakes up or redraws for it.
                    changed = table.get(key) != record or key in unreadable
                    if changed:
                        table[key] = record
                    unreadable.pop(key, None)
            self.events_seen += 1
            if changed and kind.name == "pods" and self._pod_changes is not None:
                self._pod_changes.add(key)
        if changed:
            self.on_change()
        return str(new_rv)

    def _mark(self, kind: Kind, error: SourceError | None) -> None:
        now = time.time()
        with self.lock:
            if error is None:
                self.synced[kind.name] = True
            self.errors[kind.name] = error
            failing = any(e is not None for e in self.errors.values())
            if not failing and all(self.synced.values()) and self._beating():
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
            elif local - anchor[1] >= self.clock_span:
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

    # --- heartbeat -----------------------------------------------------------------------

    def _heartbeat(self) -> None:
        """Prove the API answers; see the module docstring."""
        failed = False
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.request("GET", "/version", timeout=HEARTBEAT_TIMEOUT)
                error = None
            except SourceError as exc:
                error = exc
            except Exception as exc:
                error = SourceError(
                    f"the heartbeat failed: {type(exc).__name__}: {_short(exc)}",
                    "retrying; please report this with COCKPIT_DEBUG=1 output",
                )
            if self._stop.is_set():
                return
            with self.lock:
                self.heartbeat_error = error
                if error is None:
                    self.heartbeat_at = started
                    failing = any(e is not None for e in self.errors.values())
                    if not failing and all(self.synced.values()):
                        self.last_ok, self.failing_since = time.time(), None
                elif self.failing_since is None:
                    self.failing_since = time.time()
            if error is not None and not failed:
                self._cut_watches()  # they hang on the same server; let them fail and relist
            if error is None and failed:
                with self._wake:
                    self._wake.notify_all()  # the API is back: retry now, not after a backoff
            if (error is None) == failed:
                self.on_change()
            failed = error is not None
            self._stop.wait(HEARTBEAT_EVERY)

    def _beating(self, now: float | None = None) -> bool:
        """Whether the API answered a heartbeat recently enough (call with the lock held)."""
        now = time.monotonic() if now is None else now
        if self.heartbeat_error is not None:
            return False
        last = self.heartbeat_at if self.heartbeat_at is not None else self._started_at
        return last is None or now - last <= HEARTBEAT_DEADLINE

    def _cut_watches(self) -> None:
        """Shut the open watches' sockets: a thread blocked reading one wakes up at once
        (closing the response would not wake it)."""
        for resp in list(self._responses):
            conn = getattr(resp, "connection", None) or getattr(resp, "_connection", None)
            sock = getattr(conn, "sock", None)
            with contextlib.suppress(Exception):  # already closed: nothing to wake
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(Exception):
                resp.close()

    # --- metrics -------------------------------------------------------------------------

    def _poll_metrics(self) -> None:
        while not self._stop.is_set():
            # The watches and the heartbeat report the connection; metrics stay as they were
            # and a failure is kept for the health's note.
            try:
                self.fetch_metrics()
            except SourceError as exc:
                with self.lock:
                    self.metrics_error = exc
            except Exception as exc:  # fetch_metrics raises SourceError only; belt and braces
                with self.lock:
                    self.metrics_error = SourceError(
                        f"metrics failed: {type(exc).__name__}: {_short(exc)}"
                    )
            self._stop.wait(self.metrics_every)

    def fetch_metrics(self) -> None:
        """Node and pod usage from metrics.k8s.io. Entries that do not parse are skipped
        and counted; only a failed request raises (a SourceError)."""
        try:
            nodes = self.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
            pods = self.request("GET", "/apis/metrics.k8s.io/v1beta1/pods")
        except SourceError as exc:
            if exc.status in (404, 503):
                with self.lock:
                    self.state.metrics = "absent"
                    self.state.node_usage, self.state.pod_usage = {}, {}
                    self.metrics_error = None
                    self.metrics_unreadable = {}
                self.on_change()
                return
            raise
        unreadable: dict[str, str] = {}
        with self._metrics_parsing:  # one-shot refresh() and the poller may overlap
            node_usage = _parse_metrics(
                nodes, parse_node_metrics, "NodeMetrics", unreadable, self._node_metrics_seen
            )
            pod_usage = _parse_metrics(
                pods, parse_pod_metrics, "PodMetrics", unreadable, self._pod_metrics_seen
            )
        with self.lock:
            s = self.state
            # Unchanged figures are the same objects (see _parse_metrics): the comparison
            # is by identity, and a scrape that moved nothing publishes nothing.
            same = (
                s.metrics == "present"
                and node_usage == s.node_usage
                and pod_usage == s.pod_usage
                and unreadable == self.metrics_unreadable
                and self.metrics_error is None
            )
            self.metrics_error = None
            self.metrics_unreadable = unreadable
            s.metrics = "present"
            s.node_usage, s.pod_usage = node_usage, pod_usage
        if not same:
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
            beating = self._beating()
            silent = self.heartbeat_error
            if not beating and silent is None:
                since_beat = time.monotonic() - (self.heartbeat_at or self._started_at or 0)
                silent = SourceError(
                    f"the Kubernetes API at {self.server} has not answered for {since_beat:.0f} s",
                    "the API server is hung or unreachable; the data shown may be out of date",
                )
            note = self._note()
        if silent is not None:
            errors.insert(0, silent)  # the root cause: the watches fail because of it
        if not errors:
            if synced:
                return Health("kube", "ok", last_ok=last_ok, since=since or last_ok, note=note)
            return Health("kube", "error", "still syncing", "wait a moment", since=now, note=note)
        first = errors[0]
        state = "stale" if last_ok is not None else "error"
        return Health("kube", state, first.reason, first.hint, last_ok, since or now, note=note)

    def _note(self) -> str:
        """What the health adds while the source is otherwise current (lock held)."""
        parts = []
        count = sum(len(u) for u in self.unreadable.values())
        if count:
            first = next(why for u in self.unreadable.values() for why in u.values())
            parts.append(f"{count} object{'s' if count > 1 else ''} unreadable ({first})")
        if self.metrics_unreadable:
            n = len(self.metrics_unreadable)
            first = next(iter(self.metrics_unreadable.values()))
            parts.append(f"{n} metrics entr{'ies' if n > 1 else 'y'} unreadable ({first})")
        if self.metrics_error is not None:
            parts.append(f"metrics: {self.metrics_error.reason}")
        return "; ".join(parts)

    def records(self, take_pod_changes: bool = False) -> KubeState:
        """A consistent copy of everything known. With take_pod_changes, it also says which
        pods changed since the last copy taken so (and starts counting afresh): the one
        reader that keeps its own copy up to date (the inventory) patches only those.
        pod_usage is handed out as it is: it is replaced whole, never changed in place."""
        with self.lock:
            s = self.state
            events = s.events
            changes: set[tuple[str, str]] | None = None
            if take_pod_changes:
                changes, self._pod_changes = self._pod_changes, set()
            return KubeState(
                dict(s.nodes),
                dict(s.pods),
                dict(s.deployments),
                dict(s.statefulsets),
                dict(s.daemonsets),
                dict(s.pdbs),
                dict(s.priorityclasses),
                dict(s.node_usage),
                s.pod_usage,
                s.metrics,
                services=dict(s.services),
                endpointslices=dict(s.endpointslices),
                hpas=dict(s.hpas),
                events_newest=events.newest()
                if isinstance(events, EventTable)
                else tuple(events.values()),
                events_version=getattr(events, "version", 0),
                pod_changes=changes,
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
        body["metadata"] = {**body.get("metadata", {}), **meta}  # labels in a patch stay


LOG_LIMIT = 4 * 2**20  # bytes of log shown at once: a tail, not an archive


class _Gone(Exception):
    """The watch's resourceVersion is older than the server remembers (410)."""


def _dry(dry_run: bool) -> dict[str, str]:
    return {"dryRun": "All"} if dry_run else {}


def _plural(kind: str) -> str:
    return {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}[
        kind
    ]


def _parse_one(
    kind: Kind, obj: Any, where: str, parse: bool = True
) -> tuple[tuple[str, str], Any, str]:
    """(key, record, "") or (key, None, why it is unreadable): one object that does not
    parse never costs the rest of the list."""
    try:
        key = kind.key(obj)
    except Exception:
        what = where or "an object"
        return ("", f"<{what} without metadata.name>"), None, f"{what} has no usable metadata"
    if not parse:
        return key, None, ""
    try:
        return key, kind.parse(obj), ""
    except Exception as exc:  # the parsers raise ValueError; anything else is a bug, skipped too
        return key, None, _short(exc)


def _parse_metrics(
    doc: Any,
    parse: Callable[[dict], tuple[Any, Resources]],
    what: str,
    unreadable: dict,
    seen: dict[Any, tuple[Any, Any, Resources]],
) -> dict:
    """Usage by key from a metrics list. `seen` holds each entry's raw usage part (its
    containers, or its usage) as last parsed, with what it gave: an entry whose part is the
    same is not parsed again. metrics-server answers with the same figures until its next
    scrape, and parsing 10,000 quantities every poll would cost more than the rest of the
    idle cockpit. `seen` is refilled with this answer's entries."""
    usage = {}
    last = dict(seen)
    seen.clear()
    items = doc.get("items") if isinstance(doc, dict) else None
    for index, item in enumerate(items if isinstance(items, list) else ()):
        ident = _metrics_ident(item)
        if ident is not None:
            raw = item.get("containers", item.get("usage"))
            kept = last.get(ident)
            if kept is not None and kept[0] == raw:
                seen[ident] = kept
                usage[kept[1]] = kept[2]
                continue
        try:
            key, value = parse(item)
        except Exception as exc:
            meta = item.get("metadata") if isinstance(item, dict) else None
            name = meta.get("name") if isinstance(meta, dict) else None
            unreadable[f"{what} {name or index}"] = f"{what} {name or index}: {_short(exc)}"
            continue
        if ident is not None:
            seen[ident] = (raw, key, value)
        usage[key] = value
    return usage


def _metrics_ident(item: Any) -> tuple[Any, Any] | None:
    """(namespace, name) of a metrics entry as given, or None when it is not plainly there
    (such an entry is parsed, and reported, every time)."""
    meta = item.get("metadata") if isinstance(item, dict) else None
    if not isinstance(meta, dict):
        return None
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, (str, type(None))):
        return None
    return namespace, name


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _preview(data: bytes | bytearray) -> str:
    return f"{len(data)} bytes starting {bytes(data[:48])!r}"


def _too_large(path: str, size: int, cap: int) -> SourceError:
    return SourceError(
        f"the answer to GET {path} is larger than {cap // 2**20} MiB ({size} bytes so far); "
        "it was dropped",
        "a proxy in between, or a list far larger than a homelab's: check the server "
        "address, or raise the cap if the cluster is really this big",
    )


def _cause(exc: BaseException) -> BaseException:
    """The failure under urllib3's wrappers (MaxRetryError -> NewConnectionError ...)."""
    for _ in range(5):
        reason = getattr(exc, "reason", None)
        if not isinstance(reason, BaseException):
            break
        exc = reason
    return exc


def _short_reason(exc: BaseException | str) -> str:
    """A transport failure in a few words, not urllib3's repr of its objects."""
    text = str(exc)
    low = text.lower()
    for needle, words in (
        ("refused", "connection refused"),
        ("reset", "connection reset"),
        ("broken pipe", "connection closed"),
        ("timed out", "timed out"),
        ("prematurely", "the answer ended early"),
        ("incompleteread", "the answer ended early"),
        ("invalidchunklength", "a broken chunk"),
        ("connection aborted", "connection closed"),
        ("remote end closed", "connection closed by the server"),
        ("bad file descriptor", "connection closed"),
    ):
        if needle in low:
            return words
    if isinstance(exc, BaseException):
        return type(exc).__name__
    return text[:80]


def _transport_words(exc: BaseException | str, server: str, timeout: float) -> tuple[str, str]:
    """(reason, hint) for a request that got no answer, by what actually went wrong."""
    text = str(exc)
    low = text.lower()
    name = type(exc).__name__ if isinstance(exc, BaseException) else ""
    if "certificate verify failed" in low or "certificate_verify_failed" in low:
        if "hostname" in low or "mismatch" in low or "not valid for" in low:
            return (
                f"the certificate of the Kubernetes API at {server} is for another name",
                "use the server name the certificate was made for in the kubeconfig, or fetch "
                "a fresh kubeconfig from the cluster",
            )
        return (
            f"the Kubernetes API at {server} presented a certificate the kubeconfig's CA "
            "does not trust",
            "the kubeconfig's certificate-authority-data is not this cluster's (a rebuilt "
            "cluster?): fetch a fresh kubeconfig from it",
        )
    if "ssl" in low or "tls" in low or "SSL" in name:
        return (
            f"the TLS handshake with the Kubernetes API at {server} failed",
            "is the kubeconfig's server address an HTTPS Kubernetes API (usually port 6443)?",
        )
    if "ConnectTimeout" in name or "connect timeout" in low:
        return (
            f"cannot reach the Kubernetes API at {server}: no connection within {timeout:g} s",
            "the host is down or a firewall drops the port: check the address and network",
        )
    if "ReadTimeout" in name or "read timed out" in low:
        return (
            f"the Kubernetes API at {server} did not answer within {timeout:g} s",
            "the API server is overloaded or hung (or its host is): check it",
        )
    if "NameResolution" in name or "name or service not known" in low or "resolve" in low:
        return (
            f"cannot reach the Kubernetes API at {server}: its host name does not resolve",
            "check the server name in the kubeconfig (and DNS)",
        )
    if "refused" in low:
        return (
            f"cannot reach the Kubernetes API at {server}: connection refused",
            "is the cluster up? check the kubeconfig's server address and port",
        )
    return (
        f"cannot reach the Kubernetes API at {server}: {_short_reason(exc)}",
        "is the cluster up? check the kubeconfig's server address and the network",
    )


def _config_words(text: str, where: str, context: str | None) -> tuple[str, str]:
    """(reason, hint) for a kubeconfig the client refuses."""
    if "Expected object with name  in" in text or "current-context" in text:
        return (
            f"cannot use kubeconfig {where}: it has no current context",
            "pick one with --context NAME (kubectl config get-contexts lists them), or set "
            "[kubernetes] context in the config",
        )
    if context and f"Expected object with name {context} in" in text:
        return (
            f"cannot use kubeconfig {where}: it has no context named {context!r}",
            "kubectl config get-contexts lists the ones it has",
        )
    if "Invalid kube-config file" in text or "No configuration found" in text:
        return (
            f"cannot use kubeconfig {where}: it holds no usable configuration",
            "check the file (kubectl config view), or point at another with --kubeconfig",
        )
    return (
        f"cannot use kubeconfig {where}: {text[:200]}",
        "check the file (kubectl config view), or pick a context with --context",
    )


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
