"""Causes before symptoms: findings grouped into incidents by the topology the Snapshot
carries, one incident per root cause, ranked by impact.

The links followed, from cause to symptom:

    host down -> its guests -> the nodes they back (Snapshot.backing) -> the pods on them
    tailscaled not Running -> every peer;  a node's key expired -> its peer -> its node
    a node down -> its tailnet peer offline (the peer is the symptom, the node the cause)
    cluster DNS with no endpoint -> every pod; its replicas' dead node -> cluster DNS
    a workload with no ready replica -> its pods' own findings

Every live finding (not a standing risk) of severity warning or worse belongs to exactly
one incident. Its blast radius counts what is down from the topology, not only from the
findings: a host that is off takes down every pod on every node of every guest on it,
whether or not each of them has been reported yet. Ranked by severity, then blast radius
(every pod when DNS is gone), then the highest priority of what is down.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cockpit.model import Pod, Snapshot
from cockpit.triage.dns import ClusterDns, find_dns
from cockpit.triage.finding import SEVERITY_ORDER, Facts, Finding, ObjectRef, Severity, plural

NODE_CODES = ("NODE-NOTREADY", "NODE-GONE")
# Failures that a change to the pod template brings (image, limit, selector): undone by
# rolling the workload back.
POD_FAILURE_CODES = ("POD-CRASHLOOP", "POD-OOMKILLED", "POD-IMAGE-PULL", "POD-EXEC-FORMAT")
HOST_CODES = ("HOST-OFF", "HOST-UNREACHABLE")


@dataclass(frozen=True, slots=True)
class Fix:
    title: str
    command: str  # the exact command line
    key: str = ""  # the screen's key for the same action, when there is one
    action: bool = True  # a cockpit action (plan, confirm, journal); else run it yourself


@dataclass(frozen=True)
class Affected:
    hosts: int = 0
    guests: int = 0
    nodes: int = 0
    pods: int = 0  # pods down: on a dead node, or of a workload with nothing ready
    workloads_down: int = 0
    dns_pods: int = 0  # pods that lost name resolution (every pod when cluster DNS is down)
    by_priority: Mapping[str, int] = field(default_factory=dict)  # class -> pods down
    top_priority: int = 0  # the highest priority value among the pods down

    def to_json(self) -> dict:
        return {
            "hosts": self.hosts,
            "guests": self.guests,
            "nodes": self.nodes,
            "pods": self.pods,
            "workloads_down": self.workloads_down,
            "dns_pods": self.dns_pods,
            "by_priority_class": dict(self.by_priority),
        }


@dataclass(frozen=True)
class Incident:
    severity: Severity
    root: Finding
    title: str  # one line: the root and the chain of what it took down
    symptoms: tuple[Finding, ...]
    affected: Affected
    fixes: tuple[Fix, ...]
    notes: tuple[str, ...] = ()  # e.g. "CoreDNS had its only replica there: ..."

    @property
    def code(self) -> str:
        return self.root.code


# --- who caused whom ---------------------------------------------------------------------


class _Causes:
    """Indexes of the live findings by the object they are about, and the parent of each."""

    def __init__(self, f: Facts, findings: list[Finding], dns: ClusterDns | None) -> None:
        self.f = f
        self.dns = dns
        by: dict[tuple[str, str], Finding] = {}
        for x in findings:
            by.setdefault((x.code, x.obj.ref), x)
        self.host = {x.obj.name: x for x in findings if x.code in HOST_CODES}
        self.guest = {x.obj.id: x for x in findings if x.code == "GUEST-STOPPED"}
        self.node = {x.obj.name: x for x in findings if x.code in NODE_CODES}
        self.key_expired = {x.obj.id: x for x in findings if x.code == "PEER-KEY-EXPIRED"}
        self.workload = {
            (x.obj.kind, x.obj.namespace, x.obj.name): x
            for x in findings
            if x.code == "WORKLOAD-DOWN"
        }
        self.dns_down = next((x for x in findings if x.code == "DNS-NO-ENDPOINT"), None)
        self.tailscaled = next((x for x in findings if x.code == "TAILSCALE-NOT-RUNNING"), None)
        self.quorum = next((x for x in findings if x.code == "PVE-NO-QUORUM"), None)
        self.dns_workloads = {w.key for w in dns.workloads} if dns else set()
        # A bad release fails every new pod the same way: one incident per workload and
        # reason, rooted at its first pod, not one per pod.
        self.pod_group: dict[tuple, Finding] = {}
        for x in sorted(findings, key=lambda x: x.obj.ref):
            key = self._pod_group_key(x)
            if key is not None:
                self.pod_group.setdefault(key, x)

    def _pod_group_key(self, x: Finding) -> tuple | None:
        if x.code not in POD_FAILURE_CODES:
            return None
        workload = self.f.snapshot.workload_of_pod.get((x.obj.namespace, x.obj.name))
        return (x.code, workload) if workload else None

    def below_host(self, host: str | None) -> Finding | None:
        return self.host.get(host) if host else None

    def below_guest(self, vmid: int | str | None, host: str | None) -> Finding | None:
        if vmid is not None and str(vmid) in self.guest:
            return self.guest[str(vmid)]
        return self.below_host(host)

    def of_node(self, node: str) -> Finding | None:
        """The nearest finding that explains why a node is down."""
        if node in self.node:
            return self.node[node]
        return self.behind_node(node)

    def behind_node(self, node: str) -> Finding | None:
        """What is under a node: its guest, its host, its tailnet key."""
        b = self.f.snapshot.backing.get(node)
        if b is not None:
            below = self.below_guest(b.vmid, b.host)
            if below is not None:
                return below
        peer = self.f.links.node_peer.get(node)
        return self.key_expired.get(peer) if peer else None

    def of_pods(self, pods: Iterable[Pod]) -> Finding | None:
        for p in pods:
            if p.node and self.f.pod_dead(p):
                cause = self.of_node(p.node)
                if cause is not None:
                    return cause
        return None

    def parent(self, x: Finding) -> Finding | None:
        s, code, obj = self.f.snapshot, x.code, x.obj
        if code in HOST_CODES or code == "SOURCE-DOWN":
            return None
        if code == "GUEST-STOPPED":
            guest = self.f.guest_by_vmid.get(int(obj.id)) if obj.id.isdigit() else None
            return self.below_host(guest.host if guest else None)
        if code == "GUEST-TASK-FAILED":
            return self.guest.get(obj.id) or self.quorum
        if code == "PVE-NO-QUORUM":
            # Quorum is lost because Proxmox nodes went away, not the other way round.
            return next(iter(self.host.values()), None)
        if code in NODE_CODES:
            return self.behind_node(obj.name)
        if code.startswith("PEER-") and code != "PEER-KEY-EXPIRED":
            # The links name peers by key (the ref's id), not by hostname.
            for node, peer in self.f.links.node_peer.items():
                if peer == obj.id:
                    cause = self.of_node(node) if code == "PEER-OFFLINE" else None
                    if cause is not None:
                        return cause
            for host, peer in self.f.links.host_peer.items():
                if peer == obj.id and host in self.host:
                    return self.host[host]
            for vmid, peer in self.f.links.guest_peer.items():
                if peer == obj.id:
                    guest = self.f.guest_by_vmid.get(vmid)
                    cause = self.below_guest(vmid, guest.host if guest else None)
                    if cause is not None:
                        return cause
            return self.tailscaled
        if code == "PEER-KEY-EXPIRED":
            return self.tailscaled
        if obj.layer == "pod":
            pod = self.f.pod_by_key.get((obj.namespace, obj.name))
            if pod is None:
                return None
            cause = self.of_pods([pod])
            if cause is not None:
                return cause
            key = s.workload_of_pod.get(pod.key)
            if key and key in self.workload:
                return self.workload[key]
            group = self._pod_group_key(x)
            first = self.pod_group.get(group) if group else None
            return first if first is not None and first is not x else None
        if code == "WORKLOAD-DOWN":
            key = (obj.kind, obj.namespace, obj.name)
            if key in self.dns_workloads and self.dns_down is not None:
                return self.dns_down
            return self.of_pods(s.pods_by_workload.get(key, ()))
        if code in ("DNS-NO-ENDPOINT", "DNS-ONE-HOST"):
            if self.dns is None:
                return None
            cause = self.of_pods(self.dns.pods)
            if cause is None and code == "DNS-ONE-HOST":
                hosts = {s.host_of_node(p.node) for p in self.dns.pods if p.node}
                cause = next((self.host[h] for h in hosts if h in self.host), None)
            return cause
        if code == "METRICS-MISSING":
            # The metrics API is served by metrics-server: a dead node under it is the cause.
            pods = [
                p
                for p in s.pods_by_namespace.get("kube-system", ())
                if p.labels.get("k8s-app") == "metrics-server"
                or p.name.startswith("metrics-server")
            ]
            return self.of_pods(pods) or self.workload.get(
                ("Deployment", "kube-system", "metrics-server")
            )
        if code == "PDB-NO-DISRUPTION":
            pdb = next(
                (p for p in s.pdbs if (p.namespace, p.name) == (obj.namespace, obj.name)), None
            )
            return self.of_pods(s.select_pods(pdb.namespace, pdb.selector)) if pdb else None
        return None

    def root(self, x: Finding) -> Finding:
        seen = {x.key}
        while True:
            up = self.parent(x)
            if up is None or up.key in seen:
                return x
            seen.add(up.key)
            x = up


# --- blast radius, titles and fixes ----------------------------------------------------------


def _down_nodes(f: Facts, root: Finding, members: list[Finding]) -> set[str]:
    s = f.snapshot
    nodes: set[str] = set()
    if root.code in HOST_CODES:
        nodes.update(n for n in s.nodes_by_host.get(root.obj.name, ()))
    if root.code == "GUEST-STOPPED":
        nodes.update(n for n, b in s.backing.items() if str(b.vmid) == root.obj.id)
    nodes.update(x.obj.name for x in members if x.code in NODE_CODES)
    for x in members:
        if x.code == "GUEST-STOPPED":
            nodes.update(n for n, b in s.backing.items() if str(b.vmid) == x.obj.id)
    return nodes


def _affected(f: Facts, root: Finding, members: list[Finding], dns_down: bool) -> Affected:
    s = f.snapshot
    nodes = _down_nodes(f, root, members)
    hosts = {x.obj.name for x in members if x.code in HOST_CODES}
    guests = {x.obj.id for x in members if x.code == "GUEST-STOPPED"}
    if root.code in HOST_CODES:
        guests.update(str(g.vmid) for g in s.guests_by_host.get(root.obj.name, ()) if not g.running)
    down: dict[tuple[str, str], Pod] = {}
    for n in nodes:
        for p in s.pods_by_node.get(n, ()):
            if p.phase not in ("Succeeded", "Failed"):
                down[p.key] = p
    workloads = {
        (x.obj.kind, x.obj.namespace, x.obj.name) for x in members if x.code == "WORKLOAD-DOWN"
    }
    for key in workloads:
        for p in s.pods_by_workload.get(key, ()):
            down[p.key] = p
    for x in members:
        if x.obj.layer == "pod" and x.code != "POD-EVICTED":
            pod = f.pod_by_key.get((x.obj.namespace, x.obj.name))
            if pod is not None:
                down.setdefault(pod.key, pod)
    # Workloads with no serving replica left outside what went down.
    if nodes:
        for w in s.workloads:
            if w.replicas < 1 or w.key in workloads:
                continue
            pods = s.pods_by_workload.get(w.key, ())
            if (
                pods
                and any(p.key in down for p in pods)
                and not any(f.pod_serving(p) for p in pods if p.key not in down)
            ):
                workloads.add(w.key)
    priorities = Counter((p.priority_class or "(none)") for p in down.values())
    top = max((p.priority for p in down.values()), default=0)
    live_pods = sum(1 for p in s.pods if p.phase not in ("Succeeded", "Failed"))
    return Affected(
        hosts=len(hosts),
        guests=len(guests),
        nodes=len(nodes),
        pods=len(down),
        workloads_down=len(workloads),
        dns_pods=live_pods if dns_down else 0,
        by_priority=dict(sorted(priorities.items())),
        top_priority=top,
    )


def _chain(f: Facts, root: Finding, a: Affected) -> str:
    s = f.snapshot
    if root.code in HOST_CODES:
        kinds = Counter(g.kind for g in s.guests_by_host.get(root.obj.name, ()) if not g.running)
        head = root.text.split(" (")[0]
        parts = [head]
        if a.guests:
            word = "VM" if set(kinds) <= {"qemu"} else "guest"
            parts.append(f"{plural(a.guests, word)} stopped")
    elif root.code == "GUEST-STOPPED":
        guest = f.guest_by_vmid.get(int(root.obj.id)) if root.obj.id.isdigit() else None
        kind = "VM" if guest is None or guest.kind == "qemu" else "container"
        parts = [f"{kind} {root.obj.id} {root.obj.name} is {guest.status if guest else 'stopped'}"]
    elif root.code in NODE_CODES:
        parts = [root.text.split(";")[0]]
    else:
        return root.text
    if a.nodes and root.code not in NODE_CODES:
        dead = _down_nodes(f, root, [])
        ready = [n for n in dead if s.node_by_name.get(n) is not None and s.node_by_name[n].ready]
        state = "NotReady" if not ready else "down (not yet NotReady)"
        parts.append(f"{plural(a.nodes, 'node')} {state}")
    if a.pods:
        parts.append(plural(a.pods, "pod"))
    return " -> ".join(parts)


def _dns_note(dns: ClusterDns | None, root: Finding) -> str:
    name = "CoreDNS" if dns and any(w.name == "coredns" for w in dns.workloads) else "cluster DNS"
    count = len(dns.pods) if dns else 0
    where = {"HOST-OFF": "there", "HOST-UNREACHABLE": "there", "GUEST-STOPPED": "there"}.get(
        root.code, "there"
    )
    if count == 1:
        return f"{name} had its only replica {where}: cluster DNS is down for every pod"
    if count > 1:
        return f"all {count} {name} replicas were {where}: cluster DNS is down for every pod"
    return "cluster DNS has no ready replica: name resolution is down for every pod"


def _fixes(
    f: Facts, root: Finding, members: list[Finding], dns: ClusterDns | None
) -> tuple[Fix, ...]:
    s = f.snapshot
    fixes: list[Fix] = []
    codes = {x.code for x in members}
    dns_ref = dns.workload_ref if dns else "kube-system/deployment/coredns"
    guests = sorted(
        {x.obj.id: x for x in members if x.code == "GUEST-STOPPED"}.items(), key=lambda kv: kv[0]
    )
    start_guests = [
        Fix(
            f"start guest {vmid} {x.obj.name}"
            + (f" (once {root.obj.name} is on)" if root.code in HOST_CODES else ""),
            f"cockpit guest start {vmid}",
            "p",
        )
        for vmid, x in guests
    ]
    if root.code == "GUEST-STOPPED":
        fixes += start_guests
    if "DNS-NO-ENDPOINT" in codes:
        scaled_to_zero = dns is not None and dns.desired == 0 and not dns.pods
        if scaled_to_zero:
            fixes.append(Fix("scale CoreDNS back up", f"cockpit scale {dns_ref} 2"))
        else:
            where = " elsewhere" if root.code != "DNS-NO-ENDPOINT" else ""
            fixes.append(Fix(f"restart CoreDNS{where}", f"cockpit restart {dns_ref}", "R"))
        fixes.append(Fix("scale kube-system for HA", "cockpit scale-ha", "H"))
    if root.code in HOST_CODES:
        fixes += start_guests
    if root.code in NODE_CODES and root.obj.name in s.node_by_name:
        fixes.append(
            Fix(
                f"drain {root.obj.name} (its pods start elsewhere)",
                f"cockpit drain {root.obj.name}",
                "d",
            )
        )
    if root.code == "NODE-CORDONED":
        fixes.append(Fix(f"uncordon {root.obj.name}", f"cockpit uncordon {root.obj.name}", "u"))
    if root.code == "NODE-DISK-PRESSURE":
        # The kubelet lifts the pressure once the disk has room again; draining only moves
        # the pods away. Run on the node itself.
        fixes.append(
            Fix(
                f"free disk space on {root.obj.name} (unused images)",
                "crictl rmi --prune",
                action=False,
            )
        )
    if root.code in (
        "NODE-MEMORY-PRESSURE",
        "NODE-DISK-PRESSURE",
        "NODE-PID-PRESSURE",
        "NODE-MEMORY-USE",
    ):
        fixes.append(Fix(f"drain {root.obj.name}", f"cockpit drain {root.obj.name}", "d"))
    if root.code == "DNS-ONE-HOST":
        fixes.append(Fix("scale kube-system for HA", "cockpit scale-ha", "H"))
    fixes += _person_fixes(f, root)
    dns_keys = {w.key for w in dns.workloads} if dns else set()
    for x in members:
        if x.code == "WORKLOAD-DOWN" and x.obj.kind in ("Deployment", "DaemonSet"):
            if (x.obj.kind, x.obj.namespace, x.obj.name) in dns_keys:
                continue
            if x is root or not root.code.startswith(("HOST", "GUEST", "NODE")):
                fixes.append(Fix(f"restart {x.obj.ref}", f"cockpit restart {x.obj.ref}", "R"))
    # One forced delete per namespace, naming every pod stuck there.
    stuck: dict[str, list[str]] = {}
    for x in members:
        if x.code == "POD-TERMINATING-DEAD-NODE":
            stuck.setdefault(x.obj.namespace, []).append(x.obj.name)
    for namespace, names in sorted(stuck.items()):
        what = (
            f"pod {namespace}/{names[0]}"
            if len(names) == 1
            else f"{len(names)} pods in {namespace}"
        )
        fixes.append(
            Fix(
                f"delete {what} stuck Terminating",
                f"kubectl -n {namespace} delete pod {' '.join(sorted(names))} "
                "--force --grace-period=0",
                action=False,
            )
        )
    unique: dict[str, Fix] = {}
    for fix in fixes:
        unique.setdefault(fix.command, fix)
    return tuple(unique.values())


def _person_fixes(f: Facts, root: Finding) -> list[Fix]:
    """Fixes no cockpit action can do: a step on the peer's machine, a rollback of the
    change that broke a workload, the metrics API brought back."""
    s = f.snapshot
    obj = root.obj
    if root.code == "PEER-KEY-EXPIRED":
        return [
            Fix(
                f"re-authenticate {obj.name} (on {obj.name})",
                "tailscale up --force-reauth",
                action=False,
            )
        ]
    if root.code == "PEER-OFFLINE":
        return [Fix(f"bring {obj.name} back on the tailnet (on {obj.name})", "tailscale up",
                    action=False)]  # fmt: skip
    if root.code == "METRICS-MISSING":
        server = next(
            (w for w in s.workloads if w.key == ("Deployment", "kube-system", "metrics-server")),
            None,
        )
        if server is None:
            return []
        if server.replicas < 1:
            return [Fix("scale metrics-server back up", f"cockpit scale {server.ref} 1")]
        return [Fix("restart metrics-server", f"cockpit restart {server.ref}", "R")]
    if root.code in POD_FAILURE_CODES:
        key = s.workload_of_pod.get((obj.namespace, obj.name))
        if key is None or key[0] not in ("Deployment", "StatefulSet", "DaemonSet"):
            return []
        kind, namespace, name = key
        return [
            Fix(
                f"roll {namespace}/{kind.lower()}/{name} back to its last working revision",
                f"kubectl -n {namespace} rollout undo {kind.lower()}/{name}",
                action=False,
            )
        ]
    return []


# --- grouping and ranking --------------------------------------------------------------------


def _worst(findings: Iterable[Finding]) -> Severity:
    return min((x.severity for x in findings), key=lambda s: SEVERITY_ORDER[s])


def build_incidents(
    snapshot: Snapshot, findings: list[Finding], facts: Facts | None = None
) -> list[Incident]:
    """One incident per root cause among the live findings (warning or worse), ranked."""
    f = facts or Facts(snapshot, snapshot.clock)
    dns = f.cache["dns"] if "dns" in f.cache else find_dns(snapshot)
    live = [x for x in findings if not x.risk and x.severity != "info"]
    causes = _Causes(f, live, dns)
    groups: dict[tuple, list[Finding]] = {}
    roots: dict[tuple, Finding] = {}
    for x in live:
        r = causes.root(x)
        roots[r.key] = r
        groups.setdefault(r.key, [])
        if x is not r:
            groups[r.key].append(x)
    incidents = []
    for key, root in roots.items():
        members = [root, *groups[key]]
        dns_down = any(x.code == "DNS-NO-ENDPOINT" for x in members)
        affected = _affected(f, root, members, dns_down)
        notes = []
        if dns_down and root.code != "DNS-NO-ENDPOINT":
            notes.append(_dns_note(dns, root))
        symptoms = sorted(
            groups[key],
            key=lambda x: (
                SEVERITY_ORDER[x.severity],
                _LAYER_ORDER.get(x.obj.layer, 9),
                x.code,
                x.obj.ref,
            ),
        )
        incidents.append(
            Incident(
                severity=_worst(members),
                root=root,
                title=_chain(f, root, affected),
                symptoms=tuple(symptoms),
                affected=affected,
                fixes=_fixes(f, root, members, dns),
                notes=tuple(notes),
            )
        )
    incidents.sort(key=_rank)
    return incidents


_LAYER_ORDER = {
    "host": 0,
    "guest": 1,
    "node": 2,
    "network": 3,
    "cluster": 4,
    "workload": 5,
    "pod": 6,
    "source": 7,
}


def _rank(i: Incident) -> tuple:
    a = i.affected
    return (
        SEVERITY_ORDER[i.severity],
        -max(a.dns_pods, a.pods),
        -a.workloads_down,
        -a.nodes,
        -a.guests,
        -a.hosts,
        -a.top_priority,
        _LAYER_ORDER.get(i.root.obj.layer, 9),
        i.root.code,
        i.root.obj.ref,
    )


def incident_ref(obj: ObjectRef) -> dict:
    return {"layer": obj.layer, "kind": obj.kind, "name": obj.name, "namespace": obj.namespace}
