"""One Snapshot from three feeds: Kubernetes (watched), Proxmox and Tailscale (polled).

Each feed keeps its last good data when it fails, so the other layers stay on screen and
the failing one is marked stale with its age; a source that is not configured says how to
configure it. Subscribers get the new Snapshot and the names of the layers that changed
(a `Changes`, a frozenset of layer names that also says, for the keyed layers, which keys were
added, removed and modified), so a screen can redraw what changed and nothing else.

Besides the four layers the snapshot carries what triage reads: Kubernetes Events, Services,
EndpointSlices and HPAs, Proxmox tasks and quorum, tailscaled's own state, whether
metrics.k8s.io answered, and the sources' clock (the API server's, from its Date headers).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cockpit.config import Config
from cockpit.model import (
    Backing,
    EndpointSlice,
    Event,
    Guest,
    Host,
    Hpa,
    Node,
    Peer,
    Pod,
    PveCluster,
    PveTask,
    Service,
    Snapshot,
    TailnetStatus,
    node_site_label,
)
from cockpit.pod_table import PodTable
from cockpit.relations import guest_key
from cockpit.sources.health import Health, SourceError
from cockpit.topology import Links, keep_known, link

# Seconds to gather a burst of watch events into one snapshot. Publishing costs a pass over
# the records (a few ms at 10,000 pods) and the screen coalesces what it is handed into one
# redraw per frame, so a short burst keeps an event's way to the screen short.
BURST = 0.03
LAYERS = (
    "hosts",
    "guests",
    "nodes",
    "pods",
    "workloads",
    "pdbs",
    "peers",
    "events",
    "services",
    "endpoint_slices",
    "hpas",
    "tasks",
    "pve_cluster",
    "tailnet",
    "metrics_available",
)
# The clock moves on every build, so it is no reason to publish; a snapshot carries the
# clock of when it was built (Inventory.clock() is the live one).

# The layers whose records have a key (the same keys as cockpit.relations and the panes):
# for these a publish says which keys changed. Pods are keyed by their precomputed
# (namespace, name) tuple here and named "namespace/name" in the delta.
KEYED: dict[str, Callable[[Any], Hashable]] = {
    "hosts": lambda h: h.name,
    "guests": guest_key,
    "nodes": lambda n: n.name,
    "pods": lambda p: p.key,
    "peers": lambda p: p.key,
}


@dataclass(frozen=True, slots=True)
class LayerDelta:
    """The keys of one layer that came, went or changed between two publishes."""

    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    modified: frozenset[str] = frozenset()
    # The new records of the added and modified keys, so a screen need not search the
    # snapshot for them.
    records: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)

    @property
    def keys(self) -> frozenset[str]:
        """Every key whose row has to be built again or dropped."""
        return self.added | self.removed | self.modified


class Changes(frozenset[str]):
    """The names of the layers that changed: a frozenset, as listeners have always been
    handed. `delta` adds, for the keyed layers, which keys changed; a changed layer without
    an entry there (the first publish, an unkeyed layer) is to be taken whole."""

    delta: Mapping[str, LayerDelta]

    def __new__(cls, layers: Iterable[str] = (), delta: Mapping[str, LayerDelta] | None = None):
        changes = super().__new__(cls, layers)
        changes.delta = dict(delta or {})
        return changes

    def merge(self, later: frozenset[str]) -> Changes:
        """This change followed by `later` (what a screen that skipped a frame must draw)."""
        later_delta = getattr(later, "delta", {})
        delta: dict[str, LayerDelta] = {}
        for layer in self | later:
            first = self.delta.get(layer) if layer in self else LayerDelta()
            second = later_delta.get(layer) if layer in later else LayerDelta()
            if first is None or second is None:
                continue  # one of them says "the whole layer": so does the merge
            delta[layer] = _merge(first, second)
        return Changes(self | later, delta)


def _merge(a: LayerDelta, b: LayerDelta) -> LayerDelta:
    # A key added then removed is simply gone; removed then added is a modification.
    added = (a.added - b.removed) | (b.added - a.removed)
    removed = (a.removed - b.added) | (b.removed - a.added)
    modified = ((a.modified | b.modified) | (a.removed & b.added)) - added - removed
    records = {**a.records, **b.records}
    records = {key: records[key] for key in added | modified if key in records}
    return LayerDelta(frozenset(added), frozenset(removed), frozenset(modified), records)


Listener = Callable[[Snapshot, frozenset[str]], None]
WHOLE_FROM = 64  # keys changed from which (and from half a layer) a layer is handed whole


@dataclass
class _Keyed:
    """The last published records of one keyed layer, by key, to diff the next against."""

    records: dict[Hashable, Any] = field(default_factory=dict)


@dataclass
class _Polled:
    """A polled source's last good answer and its health."""

    health: Health
    data: Any = None
    polls: int = 0  # finished polls, good or not: "answered at all" for whoever waits


class Inventory:
    def __init__(
        self,
        config: Config,
        kube: Any = None,
        proxmox: Any = None,
        tailscale: Any = None,
        poll_every: float = 10.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.kube, self.proxmox, self.tailscale = kube, proxmox, tailscale
        self.poll_every = poll_every
        self.now = now
        self.lock = threading.RLock()
        self.listeners: list[Listener] = []
        self.polled = {
            "proxmox": _Polled(
                Health("proxmox", "error", "not fetched yet")
                if proxmox
                else Health.unconfigured("proxmox", config.unconfigured_hint("proxmox"))
            ),
            "tailscale": _Polled(Health("tailscale", "error", "not fetched yet")),
        }
        self.version = 0
        self.links = Links()
        self._snapshot = Snapshot()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._dirty = threading.Event()
        self._keyed: dict[str, _Keyed] = {}
        self._pods = PodTable()  # patched by the pods that changed, publish after publish
        self._pod_changes: tuple[list, list, list] = ([], [], [])  # of the last build
        self._publishing = threading.Lock()  # one build and diff at a time

    # --- running -----------------------------------------------------------------------

    def start(self) -> None:
        if self.kube is not None:
            self.kube.on_change = self._dirty.set
            self.kube.start()
        for name, source in (("proxmox", self.proxmox), ("tailscale", self.tailscale)):
            if source is not None:
                t = threading.Thread(
                    target=self._poll_loop, args=(name, source), daemon=True, name=f"poll-{name}"
                )
                t.start()
                self._threads.append(t)
        t = threading.Thread(target=self._publish_loop, daemon=True, name="inventory")
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        if self.kube is not None:
            self.kube.stop()
        for t in self._threads:
            t.join(timeout=5)

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def _poll_loop(self, name: str, source: Any) -> None:
        while not self._stop.is_set():
            # An answer equal to the last one changes nothing on screen: publishing it would
            # only rebuild a 10,000-pod snapshot to find that out. The health is read apart
            # (the status line asks for it), so a failure still shows at once.
            if self.poll(name, source):
                self._dirty.set()
            self._stop.wait(self.poll_every)

    def poll(self, name: str, source: Any) -> bool:
        """One fetch; on failure the last good data stays and the health says why. An
        answer can itself say the source is not ok (a logged-out tailscaled): its data is
        kept, and the health says what is wrong and how to fix it. True when the data
        differs from the last answer's, or the fetch failed."""
        entry = self.polled[name]
        try:
            data = source.fetch()
            problem = source.problem(data) if hasattr(source, "problem") else None
            note = source.note(data) if hasattr(source, "note") else ""
        except SourceError as exc:
            with self.lock:
                entry.health = entry.health.failed(exc, self.now())
                entry.polls += 1
            return True  # a failure is rare and worth a look: the screen asks what changed
        except Exception as exc:  # a bug in an adapter must not take the other panes down
            text = str(exc)[:160] or "no message"
            error = SourceError(
                f"the {name} adapter failed: {type(exc).__name__}: {text}",
                "please report this with COCKPIT_DEBUG=1 output",
            )
            with self.lock:
                entry.health = entry.health.failed(error, self.now())
                entry.polls += 1
            return True
        with self.lock:
            changed = data != entry.data
            entry.data = data
            entry.polls += 1
            if problem is not None:
                entry.health = replace(entry.health.failed(problem, self.now()), note=note)
            else:
                entry.health = replace(Health.ok(name, self.now()), note=note)
        return changed

    def _publish_loop(self) -> None:
        cost = 0.0  # how long the last publish took, listeners (the screen) included
        while not self._stop.is_set():
            # Only a change is worth a build: at 10,000 pods one costs ~10-30 ms, and
            # building every second "just in case" was most of an idle cockpit's CPU.
            if not self._dirty.wait(1.0) or self._stop.is_set():
                continue
            # Watch events come in bursts; gather a burst into one snapshot. A publish that
            # was slow (an initial sync of 10,000 pods) waits as long again, so the time goes
            # to taking events in. The screen no longer counts here: listeners only hand the
            # change over, and the screen draws at most once per frame on its own thread.
            time.sleep(max(BURST, cost))
            self._dirty.clear()
            started = time.monotonic()
            self.publish()
            cost = time.monotonic() - started

    # --- one-shot use (report, tests) --------------------------------------------------

    def refresh(self, timeout: float = 15.0) -> Snapshot:
        """Fetch everything once and wait for Kubernetes to sync (or fail) within timeout."""
        workers = []
        for name, source in (("proxmox", self.proxmox), ("tailscale", self.tailscale)):
            if source is not None:
                t = threading.Thread(target=self.poll, args=(name, source), daemon=True)
                t.start()
                workers.append(t)
        if self.kube is not None:
            self.kube.start()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not all(self.kube.synced.values()):
                if any(e is not None for e in self.kube.errors.values()):
                    break
                time.sleep(0.05)
            with contextlib.suppress(SourceError):
                self.kube.fetch_metrics()
        for t in workers:
            t.join(timeout)
        return self.publish()

    # --- the snapshot --------------------------------------------------------------------

    def health(self) -> dict[str, Health]:
        now = self.now()
        if self.kube is not None:
            kube = self.kube.health(now)
        else:
            kube = Health.unconfigured("kube", self.config.unconfigured_hint("kube"))
        with self.lock:
            polled = {n: self._current(e.health, now) for n, e in self.polled.items()}
        return {"kube": kube, **polled}

    def _current(self, health: Health, now: float) -> Health:
        """An "ok" that is older than a few polls is not ok any more: the poller is stuck
        (every request has a deadline, so this is a last line of defence)."""
        limit = 3 * self.poll_every + 60
        if health.state != "ok" or health.last_ok is None or now - health.last_ok <= limit:
            return health
        error = SourceError(
            f"no answer for {now - health.last_ok:.0f} s",
            "the poller is stuck; please report this with COCKPIT_DEBUG=1 output",
        )
        return replace(health.failed(error, now), since=health.last_ok + limit)

    def clock(self) -> float:
        """The sources' clock now: the Kubernetes API server's when it has answered, else
        the local one."""
        server = self.kube.clock() if self.kube is not None else None
        return server if server is not None else self.now()

    def build(self) -> Snapshot:
        hosts: tuple[Host, ...] = ()
        guests: tuple[Guest, ...] = ()
        tasks: tuple[PveTask, ...] = ()
        pve_cluster: PveCluster | None = None
        with self.lock:
            pve = self.polled["proxmox"].data
            ts = self.polled["tailscale"].data
        if pve is not None:
            hosts, guests = tuple(pve.hosts), tuple(pve.guests)
            tasks, pve_cluster = tuple(pve.tasks), pve.pve_cluster
        sites = self.config.sites
        peers: tuple[Peer, ...] = ()
        tailnet: TailnetStatus | None = None
        if ts is not None:
            peers = ((ts.self_peer,) if ts.self_peer else ()) + tuple(ts.peers)
            tailnet = ts.daemon
        nodes, pods, workloads, pdbs, classes = (), (), (), (), ()
        events: tuple[Event, ...] = ()
        services: tuple[Service, ...] = ()
        endpoint_slices: tuple[EndpointSlice, ...] = ()
        hpas: tuple[Hpa, ...] = ()
        metrics_available: bool | None = None
        if self.kube is not None:
            k = self.kube.records(take_pod_changes=True)
            nodes = tuple(
                replace(n, usage=k.node_usage.get(n.name)) if n.name in k.node_usage else n
                for n in k.nodes.values()
            )
            self._pod_changes = self._pods.update(k.pods, k.pod_usage, k.pod_changes)
            pods = tuple(self._pods.records.values())
            workloads = (*k.deployments.values(), *k.statefulsets.values(), *k.daemonsets.values())
            pdbs = tuple(k.pdbs.values())
            classes = tuple(k.priorityclasses.values())
            # The same tuple while the event table is unchanged: publish compares identity.
            events = k.events_newest
            services = tuple(k.services.values())
            endpoint_slices = tuple(k.endpointslices.values())
            hpas = tuple(k.hpas.values())
            metrics_available = {"present": True, "absent": False}.get(k.metrics)
        with self.lock:
            links = keep_known(
                link(nodes, guests, hosts, peers, self.config.links), self.links, guests
            )
            self.links = links
        return Snapshot(
            hosts=with_sites(hosts, nodes, links.backing, sites),
            guests=guests,
            nodes=nodes,
            pods=pods,
            workloads=tuple(workloads),
            pdbs=pdbs,
            priority_classes=classes,
            peers=peers,
            backing=dict(links.backing),
            events=events,
            services=services,
            endpoint_slices=endpoint_slices,
            hpas=hpas,
            tasks=tasks,
            pve_cluster=pve_cluster,
            tailnet=tailnet,
            clock=self.clock(),
            metrics_available=metrics_available,
            machine_sites=dict(sites),
        )

    def publish(self) -> Snapshot:
        with self._publishing:
            return self._publish()

    def _publish(self) -> Snapshot:
        new = self.build()
        with self.lock:
            old = self._snapshot
            first = self.version == 0
            delta: dict[str, LayerDelta] = {}
            layers = set()
            for layer in LAYERS:
                if layer in KEYED:
                    records = getattr(new, layer)
                    if layer == "pods":
                        d = _pod_delta(*self._pod_changes, self._pods.records)
                    else:
                        d = self._diff_keyed(layer, records)
                    if d:
                        layers.add(layer)
                        # Most of a layer changed (a metrics scrape moves every pod's
                        # usage): taking it whole is cheaper than patching key by key.
                        if len(d.added) + len(d.removed) + len(d.modified) <= max(
                            WHOLE_FROM, len(records) // 2
                        ):
                            delta[layer] = d
                elif _differs(old, new, layer):
                    layers.add(layer)
            # The first publish hands over everything whole: nothing was drawn before it.
            changed = Changes(layers, {} if first else delta)
            if changed or first:
                self.version += 1
                self._snapshot = replace(new, version=self.version)
            snapshot = self._snapshot
        if changed:
            for listener in list(self.listeners):
                listener(snapshot, changed)
        return snapshot

    @property
    def snapshot(self) -> Snapshot:
        with self.lock:
            return self._snapshot

    def _diff_keyed(self, layer: str, records: tuple[Any, ...]) -> LayerDelta:
        """Which keys of a layer changed since the last publish; records are compared by
        identity first, then by value. (Pods have their own way: PodTable.)"""
        key_of = KEYED[layer]
        before = self._keyed.get(layer, _Keyed()).records
        now = {key_of(r): r for r in records}
        added, modified = [], []
        for key, record in now.items():
            old = before.get(key)
            if old is None:
                added.append(key)
            elif old is not record and old != record:
                modified.append(key)
        removed = before.keys() - now.keys() if len(before) + len(added) != len(now) else ()
        self._keyed[layer] = _Keyed(now)
        return LayerDelta(
            frozenset(map(str, added)),
            frozenset(map(str, removed)),
            frozenset(map(str, modified)),
            {str(key): now[key] for key in (*added, *modified)},
        )


def _pod_delta(
    added: list[Any], modified: list[Any], removed: list[Any], records: Mapping[Any, Pod]
) -> LayerDelta:
    return LayerDelta(
        frozenset(map(_pod_name, added)),
        frozenset(map(_pod_name, removed)),
        frozenset(map(_pod_name, modified)),
        {_pod_name(key): records[key] for key in (*added, *modified)},
    )


def _pod_name(key: Any) -> str:
    return f"{key[0]}/{key[1]}"


def _differs(old: Snapshot, new: Snapshot, layer: str) -> bool:
    # Identity first: an unchanged event table hands out the very same tuple, so thousands
    # of events cost nothing to compare when nothing happened.
    before, after = getattr(old, layer), getattr(new, layer)
    return before is not after and before != after


def with_sites(
    hosts: tuple[Host, ...],
    nodes: tuple[Node, ...],
    backing: Mapping[str, Backing],
    sites: Mapping[str, str],
) -> tuple[Host, ...]:
    """Proxmox says nothing of where a host stands: take the config's [sites], else the zone
    (or region) label its Kubernetes nodes agree on."""
    labelled: dict[str, set[str]] = {}
    for node in nodes:
        b = backing.get(node.name)
        if b is not None:
            labelled.setdefault(b.host, set()).add(node_site_label(node.labels))
    out = []
    for host in hosts:
        site = host.site or sites.get(host.name, "")
        zones = labelled.get(host.name, set())
        if not site and len(zones) == 1:
            site = next(iter(zones))
        out.append(replace(host, site=site) if site != host.site else host)
    return tuple(out)


def from_config(config: Config) -> Inventory:
    """The adapters a config asks for; an unconfigured source is simply absent."""
    from cockpit.sources.kube import KubeSource
    from cockpit.sources.proxmox import ProxmoxSource
    from cockpit.sources.tailscale import TailscaleSource

    # Read-only is enforced in the adapters themselves, below any key binding or command.
    kube = KubeSource(config.kube, readonly=config.readonly) if config.kube is not None else None
    proxmox = None
    if config.proxmox is not None:
        p = config.proxmox
        proxmox = ProxmoxSource(
            p.host,
            p.port,
            user=p.user,
            token_name=p.token_name,
            token_value=p.token_value,
            verify=p.verify,
            timeout=p.timeout,
            readonly=config.readonly,
        )
    tailscale = TailscaleSource(config.tailscale.socket, config.tailscale.cli)
    return Inventory(config, kube, proxmox, tailscale)
