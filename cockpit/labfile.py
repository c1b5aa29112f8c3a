"""The lab description format: one TOML file describes a whole homelab, built or planned.

A lab file has these tables (every one optional but `hosts`):

    [lab]            name, description, distro ("k3s" | "kubeadm" | "none")
    [sites.NAME]     description
    [[hosts]]        physical machines
    [[guests]]       Proxmox VMs/LXCs and the host they run on
    [[nodes]]        Kubernetes nodes, each backed by a guest (vmid) or a host (bare metal)
    [priority_classes]  NAME = value, or NAME = { value, description, global_default }
    [[workloads]]    Deployments/StatefulSets/DaemonSets with their pod template, placement,
                     PDB and planned normal/peak usage
    [[peers]]        tailnet devices
    [thresholds]     verdict bands and alert levels (see cockpit.alloc.thresholds)

Sizes follow the layer they describe: hosts and guests use Proxmox sizes ("32G", "1.5T",
1024-based), anything Kubernetes uses Kubernetes quantities ("512Mi", "250m", "1.5Gi").
The distro adds that distribution's own kube-system workloads from labs/system/DISTRO.toml,
so every lab shows, for example, k3s' single CoreDNS replica.

Errors are LabFileError: the file, the line where it can be found, the key path, and what
was expected.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cockpit import units
from cockpit.alloc.scheduler import Scheduler, eligible_for_daemonset, matches_node_selection
from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Thresholds, thresholds_from_table
from cockpit.model import (
    AffinityTerm,
    Backing,
    Container,
    Disk,
    Guest,
    Host,
    LabelSelector,
    Node,
    OwnerRef,
    Pdb,
    Peer,
    Pod,
    PriorityClass,
    Resources,
    Snapshot,
    SpreadConstraint,
    Taint,
    Toleration,
    UsageProfile,
    Workload,
    workload_key_of,
)
from cockpit.tomlread import Context, Table, TomlFileError, parse_toml

BUILTIN_LABS = ("n100", "tailnet", "arm-cloud", "xeon")
DISTROS = ("k3s", "kubeadm", "none")
# Priority classes every cluster has, whatever the lab says.
BUILTIN_PRIORITY = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
# Tolerations the DaemonSet controller adds to every DaemonSet pod.
DAEMONSET_TOLERATIONS = (
    Toleration("node.kubernetes.io/not-ready", "Exists", effect="NoExecute"),
    Toleration("node.kubernetes.io/unreachable", "Exists", effect="NoExecute"),
    Toleration("node.kubernetes.io/disk-pressure", "Exists", effect="NoSchedule"),
    Toleration("node.kubernetes.io/memory-pressure", "Exists", effect="NoSchedule"),
    Toleration("node.kubernetes.io/pid-pressure", "Exists", effect="NoSchedule"),
    Toleration("node.kubernetes.io/unschedulable", "Exists", effect="NoSchedule"),
)
# kubelet's default hard eviction threshold (memory.available<100Mi) comes off allocatable.
DEFAULT_RESERVED = Resources(0, 100 * 2**20)
MAX_LAB_PODS = 20_000  # twice the largest cluster the benchmarks measure


class LabFileError(TomlFileError):
    """A lab file that cannot be used."""


@dataclass(frozen=True)
class Lab:
    name: str
    description: str
    snapshot: Snapshot
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    source: str = ""
    distro: str = "none"


# --- public entry points --------------------------------------------------------------------


LABS_DIR = Path(__file__).parent / "labs"


def builtin_lab_path(name: str) -> Path:
    return LABS_DIR / f"{name}.toml"


def resolve(spec: str) -> Path:
    """A lab given as a path, or as the name of a lab shipped with the cockpit."""
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        return path
    if spec in BUILTIN_LABS:
        return builtin_lab_path(spec)
    raise LabFileError(
        spec, "", f"no such file, and not a built-in lab (built-in labs: {', '.join(BUILTIN_LABS)})"
    )


def load(spec: str | Path) -> Lab:
    path = resolve(str(spec))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LabFileError(str(path), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabFileError(str(path), "", f"cannot read: {exc}") from None
    return loads(text, str(path))


def loads(text: str, file: str = "<lab>") -> Lab:
    data = parse_toml(text, file, LabFileError)
    return _LabReader(Context(file, text, LabFileError)).read(data)


# --- the reader ------------------------------------------------------------------------------


@dataclass
class _Draft:
    """Everything read so far; turned into a Snapshot at the end."""

    hosts: dict[str, Host] = field(default_factory=dict)
    guests: dict[int, Guest] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    backing: dict[str, Backing] = field(default_factory=dict)
    priority: dict[str, PriorityClass] = field(default_factory=dict)
    workloads: list[Workload] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    pinned: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # pod key -> nodes
    pdbs: list[Pdb] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    sites: dict[str, str] = field(default_factory=dict)


class _LabReader:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.draft = _Draft()
        self.created = 0.0

    def read(self, data: dict) -> Lab:
        root = Table(data, (), self.ctx)
        meta = root.sub("lab")
        name = description = ""
        distro = "none"
        if meta is not None:
            name = meta.str("name")
            description = meta.str("description")
            distro = meta.str("distro", "none")
            if distro not in DISTROS:
                raise meta.error("distro", f"expected one of {', '.join(DISTROS)}, got {distro!r}")
            meta.done()
        sites = root.sub("sites")
        if sites is not None:
            for site_name in list(sites.data):
                site = sites.sub(site_name)
                assert site is not None
                self.draft.sites[site_name] = site.str("description")
                site.done()
            sites.done()
        hosts = root.items("hosts")
        if not hosts:
            raise root.error("hosts", "a lab needs at least one [[hosts]] entry")
        for t in hosts:
            self.read_host(t)
        for t in root.items("guests"):
            self.read_guest(t)
        for t in root.items("nodes"):
            self.read_node(t, distro)
        self.read_priority_classes(root.sub("priority_classes"))
        thresholds = DEFAULT_THRESHOLDS
        if root.has("thresholds"):
            raw = root.raw("thresholds")
            if not isinstance(raw, dict):
                raise root.error("thresholds", "expected a table")
            try:
                thresholds = thresholds_from_table(raw)
            except ValueError as exc:
                where, _, message = str(exc).partition(": ")
                raise self.ctx.error(tuple(where.split(".")), message) from None
        if distro != "none":
            self.read_system_workloads(distro)
        for t in root.items("workloads"):
            self.read_workload(t)
        for t in root.items("peers"):
            self.read_peer(t)
        root.done()
        snapshot = self.place()
        return Lab(
            name or Path(self.ctx.file).stem,
            description,
            snapshot,
            thresholds,
            self.ctx.file,
            distro,
        )

    # -- physical and Proxmox layers ------------------------------------------------------

    def read_host(self, t: Table) -> None:
        name = t.required("name")
        if not isinstance(name, str) or not name:
            raise t.error("name", "expected a non-empty string")
        if name in self.draft.hosts:
            raise t.error("name", f"host {name!r} is defined twice")
        cores = t.int("cores")
        if cores is None or cores < 1:
            raise t.error("cores", "is required: the number of physical CPU cores (>= 1)")
        threads = t.int("threads", cores)
        if threads < cores:
            raise t.error("threads", f"cannot be fewer than cores ({cores})")
        memory = t.pve_size("memory")
        if memory is None:
            raise t.error("memory", "is required: RAM the OS sees, as a Proxmox size like 15.41G")
        site = t.str("site")
        if site and self.draft.sites and site not in self.draft.sites:
            raise t.error("site", f"unknown site {site!r} (sites: {', '.join(self.draft.sites)})")
        used_memory = t.pve_size("memory_used")
        busy_cpu = t.cpu("cpu_used")
        usage = Resources(busy_cpu, used_memory) if (used_memory or busy_cpu) else None
        self.draft.hosts[name] = Host(
            name=name,
            cores=cores,
            threads=threads,
            memory=memory,
            disk=t.pve_size("disk", 0),
            arch=_arch(t),
            site=site,
            cpu_model=t.str("cpu_model"),
            online=t.bool("online", True),
            proxmox=t.bool("proxmox", True),
            usage=usage,
        )
        t.done()

    def read_guest(self, t: Table) -> None:
        vmid = t.int("vmid")
        if vmid is None or vmid < 100:
            raise t.error("vmid", "is required: the Proxmox VM id (100 or more)")
        if vmid in self.draft.guests:
            raise t.error("vmid", f"vmid {vmid} is used twice (vmids are unique in a cluster)")
        host = t.str("host")
        if host not in self.draft.hosts:
            raise t.error("host", f"expected the name of a [[hosts]] entry, got {host!r}")
        kind = t.str("kind", "qemu")
        if kind not in ("qemu", "lxc"):
            raise t.error("kind", f"expected qemu or lxc, got {kind!r}")
        memory = t.pve_size("memory")
        if memory is None:
            raise t.error("memory", "is required: the guest's memory, as a Proxmox size like 4G")
        disks = []
        raw_disks = t.raw("disks", [])
        if not isinstance(raw_disks, list):
            raise t.error("disks", "expected a list of sizes or tables")
        for i, d in enumerate(raw_disks):
            if isinstance(d, str | int):
                size = _parse_at(t, ("disks", i), d, units.parse_pve_size, "a Proxmox size")
                default_name = "rootfs" if kind == "lxc" and i == 0 else f"scsi{i}"
                disks.append(Disk(default_name, size))
            else:
                dt = Table(d, (*t.path, "disks", i), self.ctx)
                size = dt.pve_size("size")
                if size is None:
                    raise dt.error("size", "is required")
                disks.append(Disk(dt.str("name", f"scsi{i}"), size, dt.str("storage")))
                dt.done()
        status = t.str("status", "running")
        if status not in ("running", "stopped", "paused"):
            raise t.error("status", f"expected running, stopped or paused, got {status!r}")
        if not self.draft.hosts[host].online:
            status = "stopped"
        used_memory = t.pve_size("memory_used")
        busy_cpu = t.cpu("cpu_used")
        self.draft.guests[vmid] = Guest(
            vmid=vmid,
            name=t.str("name", f"vm{vmid}"),
            host=host,
            kind=kind,
            status=status,
            vcpus=t.int("vcpus", 1),
            memory=memory,
            balloon_min=t.pve_size("balloon_min"),
            disks=tuple(disks),
            tags=t.strings("tags"),
            ips=t.strings("ips"),
            usage=Resources(busy_cpu, used_memory) if (used_memory or busy_cpu) else None,
        )
        t.done()

    # -- Kubernetes layer -------------------------------------------------------------------

    def read_node(self, t: Table, distro: str) -> None:
        name = t.str("name")
        if not name:
            raise t.error("name", "is required")
        if name in self.draft.nodes:
            raise t.error("name", f"node {name!r} is defined twice")
        if t.has("guest") == t.has("host"):
            raise t.error(
                "guest",
                "give exactly one of guest = VMID (a Proxmox guest) or host = NAME (bare metal)",
            )
        if t.has("guest"):
            vmid = t.int("guest")
            guest = self.draft.guests.get(vmid)
            if guest is None:
                raise t.error("guest", f"expected the vmid of a [[guests]] entry, got {vmid!r}")
            backing = Backing(guest.host, vmid)
            cpu, memory, up = guest.vcpus * 1000, guest.memory, guest.running
            arch = self.draft.hosts[guest.host].arch
        else:
            host_name = t.str("host")
            host = self.draft.hosts.get(host_name)
            if host is None:
                raise t.error("host", f"expected the name of a [[hosts]] entry, got {host_name!r}")
            backing = Backing(host.name)
            cpu, memory, up, arch = host.threads * 1000, host.memory, host.online, host.arch
        cpu = t.cpu("cpu", cpu)
        memory = t.k8s_bytes("memory", memory)
        reserved = DEFAULT_RESERVED
        rt = t.sub("reserved")
        if rt is not None:
            reserved = Resources(rt.cpu("cpu", 0), rt.k8s_bytes("memory", 0))
            rt.done()
        roles = t.strings("roles")
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": arch,
        }
        for role in roles:
            # k3s labels roles "true", kubeadm leaves them empty.
            labels[f"node-role.kubernetes.io/{role}"] = "true" if distro == "k3s" else ""
        labels.update(t.string_map("labels"))
        taints = tuple(_parse_taint(t, i, s) for i, s in enumerate(t.strings("taints")))
        ready = t.bool("ready", True) and up
        addresses = [("InternalIP", ip) for ip in t.strings("ips")]
        addresses.append(("Hostname", name))
        node = Node(
            name=name,
            capacity=Resources(cpu, memory),
            allocatable=Resources(
                max(0, cpu - reserved.cpu_or_zero), max(0, memory - reserved.memory_or_zero)
            ),
            pods_allocatable=t.int("max_pods", 110),
            conditions={"Ready": "True" if ready else "Unknown"},
            taints=taints,
            unschedulable=t.bool("unschedulable"),
            labels=labels,
            addresses=tuple(addresses),
            provider_id=t.str("provider_id"),
        )
        t.done()
        self.draft.nodes[name] = node
        self.draft.backing[name] = backing

    def read_priority_classes(self, t: Table | None) -> None:
        for name, value in BUILTIN_PRIORITY.items():
            self.draft.priority[name] = PriorityClass(name, value)
        if t is None:
            return
        for name in list(t.data):
            raw = t.raw(name)
            if isinstance(raw, int) and not isinstance(raw, bool):
                self.draft.priority[name] = PriorityClass(name, raw)
                continue
            pt = Table(raw, (*t.path, name), self.ctx)
            value = pt.int("value")
            if value is None:
                raise pt.error("value", "is required: the class's priority, a whole number")
            self.draft.priority[name] = PriorityClass(
                name,
                value,
                pt.bool("global_default"),
                pt.str("preemption_policy", "PreemptLowerPriority"),
                pt.str("description"),
            )
            pt.done()

    def read_system_workloads(self, distro: str) -> None:
        path = LABS_DIR / "system" / f"{distro}.toml"
        text = path.read_text(encoding="utf-8")
        inner = _LabReader(Context(str(path), text, LabFileError))
        inner.draft = self.draft  # system pods land in the same lab
        inner.created = self.created
        root = Table(tomllib.loads(text), (), inner.ctx)
        for t in root.items("workloads"):
            inner.read_workload(t)
        root.done()
        self.created = inner.created

    def read_workload(self, t: Table) -> None:
        name = t.str("name")
        if not name:
            raise t.error("name", "is required")
        namespace = t.str("namespace", "default")
        kind = t.str("kind", "Deployment")
        if kind not in ("Deployment", "StatefulSet", "DaemonSet", "StaticPod"):
            raise t.error(
                "kind", f"expected Deployment, StatefulSet, DaemonSet or StaticPod, got {kind!r}"
            )
        if any(w.key == (kind, namespace, name) for w in self.draft.workloads):
            raise t.error("name", f"{namespace}/{kind.lower()}/{name} is defined twice")
        replicas = t.int("replicas", 1)
        if replicas < 0:
            raise t.error("replicas", "cannot be negative")
        if len(self.draft.pods) + replicas > MAX_LAB_PODS:
            # Every replica is a pod the lab builds and schedules: a million takes a minute
            # and gigabytes, so a typo's extra zeros get an error instead.
            raise t.error(
                "replicas",
                f"{replicas} is too many: a lab holds at most {MAX_LAB_PODS} pods "
                f"({len(self.draft.pods)} before this workload)",
            )
        labels = {"app.kubernetes.io/name": name, **t.string_map("labels")}
        selector = LabelSelector({"app.kubernetes.io/name": name})
        class_name = t.str("priority_class")
        priority = 0
        if class_name:
            pc = self.draft.priority.get(class_name)
            if pc is None:
                raise t.error(
                    "priority_class",
                    f"unknown priority class {class_name!r} "
                    f"(defined: {', '.join(sorted(self.draft.priority))})",
                )
            priority = pc.value
        else:
            default = next((pc for pc in self.draft.priority.values() if pc.global_default), None)
            if default is not None:
                class_name, priority = default.name, default.value
        containers = self.read_containers(t, name)
        init_containers = tuple(
            self.read_container(c, f"init-{i}") for i, c in enumerate(t.items("init_containers"))
        )
        tolerations = tuple(self.read_toleration(x) for x in t.items("tolerations"))
        if kind == "DaemonSet":
            tolerations += DAEMONSET_TOLERATIONS
        anti = ()
        anti_key = t.str("anti_affinity")
        if anti_key:
            if anti_key == "hostname":
                anti_key = "kubernetes.io/hostname"
            anti = (AffinityTerm(selector, anti_key),)
        spread = tuple(self.read_spread(x, selector) for x in t.items("spread"))
        profile = None
        ut = t.sub("usage")
        if ut is not None:
            profile = UsageProfile(
                self.read_resources(ut.sub("normal")), self.read_resources(ut.sub("peak"))
            )
            ut.done()
        pinned = t.strings("nodes")
        for node in pinned:
            if node not in self.draft.nodes:
                raise t.error(
                    "nodes", f"unknown node {node!r} (nodes: {', '.join(self.draft.nodes)})"
                )
        template = Pod(
            namespace=namespace,
            name=name,
            labels=labels,
            annotations=t.string_map("annotations"),
            containers=containers,
            init_containers=init_containers,
            overhead=self.read_resources(t.sub("overhead")),
            priority=priority,
            priority_class=class_name,
            tolerations=tolerations,
            node_selector=t.string_map("node_selector"),
            anti_affinity=anti,
            spread=spread,
            volume_kinds=t.strings("volumes"),
            profile=profile,
        )
        pdb = t.sub("pdb")
        if pdb is not None:
            min_available = _int_or_percent(pdb, "min_available")
            max_unavailable = _int_or_percent(pdb, "max_unavailable")
            if (min_available is None) == (max_unavailable is None):
                raise pdb.error(None, "give exactly one of min_available or max_unavailable")
            self.draft.pdbs.append(
                Pdb(
                    namespace,
                    pdb.str("name", f"{name}-pdb"),
                    selector,
                    min_available,
                    max_unavailable,
                )
            )
            pdb.done()
        t.done()
        if kind == "StaticPod":
            # A kubelet manifest: one mirror pod per matching node, owned by the Node, and
            # no controller that could recreate it elsewhere.
            mirror = {**template.annotations, "kubernetes.io/config.mirror": "lab"}
            for node in self.draft.nodes.values():
                if matches_node_selection(template, node):
                    self.add_pod(
                        replace(template, annotations=mirror),
                        "Node",
                        name,
                        node.name,
                        [node.name],
                        owner_name=node.name,
                    )
            return
        if kind == "DaemonSet":
            nodes = eligible_for_daemonset(template, self.draft.nodes.values())
            replicas = len(nodes)
            for node in nodes:
                self.add_pod(
                    template, kind, name, _suffix(f"{namespace}/{name}/{node.name}"), [node.name]
                )
        else:
            template_hash = _suffix(f"{namespace}/{name}", 10)
            if kind == "Deployment":
                template = replace(template, labels={**labels, "pod-template-hash": template_hash})
            for i in range(replicas):
                if kind == "StatefulSet":
                    pod_name = str(i)
                else:
                    pod_name = f"{template_hash}-{_suffix(f'{namespace}/{name}/{i}')}"
                target = [pinned[i % len(pinned)]] if pinned else []
                self.add_pod(
                    template,
                    kind,
                    name,
                    pod_name,
                    target,
                    owner_name=f"{name}-{template_hash}" if kind == "Deployment" else name,
                )
        self.draft.workloads.append(
            Workload(kind, namespace, name, replicas, selector, labels=labels)
        )

    def add_pod(
        self,
        template: Pod,
        kind: str,
        workload: str,
        suffix: str,
        target: list[str],
        owner_name: str | None = None,
    ) -> None:
        self.created += 1
        name = f"{workload}-{suffix}"
        owner_kind = "ReplicaSet" if kind == "Deployment" else kind
        pod = replace(
            template,
            name=name,
            uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"cockpit-lab/{template.namespace}/{name}")),
            owner=OwnerRef(owner_kind, owner_name or workload),
            created=self.created,
            node=None,
            phase="Pending",
        )
        if kind == "StatefulSet":
            pod = replace(pod, labels={**pod.labels, "statefulset.kubernetes.io/pod-name": name})
        self.draft.pods.append(pod)
        if target:
            self.draft.pinned[pod.key] = target

    def read_containers(self, t: Table, name: str) -> tuple[Container, ...]:
        listed = t.items("containers")
        if listed:
            if t.has("requests") or t.has("limits"):
                raise t.error(
                    "requests",
                    "give requests/limits inside [[workloads.containers]] "
                    "when containers are listed",
                )
            return tuple(self.read_container(c, f"c{i}") for i, c in enumerate(listed))
        limits = self.read_resources(t.sub("limits"))
        requests = _defaulted(self.read_resources(t.sub("requests")), limits)
        return (Container(name=name, image=t.str("image"), requests=requests, limits=limits),)

    def read_container(self, t: Table, default_name: str) -> Container:
        limits = self.read_resources(t.sub("limits"))
        c = Container(
            name=t.str("name", default_name),
            image=t.str("image"),
            requests=_defaulted(self.read_resources(t.sub("requests")), limits),
            limits=limits,
            restart_policy=t.str("restart_policy"),
        )
        t.done()
        return c

    def read_resources(self, t: Table | None) -> Resources:
        if t is None:
            return Resources()
        r = Resources(t.cpu("cpu"), t.k8s_bytes("memory"))
        t.done()
        return r

    def read_toleration(self, t: Table) -> Toleration:
        operator = t.str("operator", "Equal" if t.has("value") else "Exists")
        if operator not in ("Equal", "Exists"):
            raise t.error("operator", f"expected Equal or Exists, got {operator!r}")
        tol = Toleration(
            t.str("key"), operator, t.str("value"), t.str("effect"), t.int("toleration_seconds")
        )
        t.done()
        return tol

    def read_spread(self, t: Table, selector: LabelSelector) -> SpreadConstraint:
        key = t.str("topology_key", "kubernetes.io/hostname")
        when = t.str("when_unsatisfiable", "DoNotSchedule")
        if when not in ("DoNotSchedule", "ScheduleAnyway"):
            raise t.error(
                "when_unsatisfiable", f"expected DoNotSchedule or ScheduleAnyway, got {when!r}"
            )
        c = SpreadConstraint(t.int("max_skew", 1), key, when, selector)
        t.done()
        return c

    # -- tailnet ----------------------------------------------------------------------------

    def read_peer(self, t: Table) -> None:
        hostname = t.str("hostname")
        if not hostname:
            raise t.error("hostname", "is required")
        site = t.str("site")
        if site and self.draft.sites and site not in self.draft.sites:
            raise t.error("site", f"unknown site {site!r}")
        self.draft.peers.append(
            Peer(
                hostname=hostname,
                dns_name=t.str("dns_name", f"{hostname}.tailnet.ts.net."),
                ips=t.strings("ips"),
                online=t.bool("online", True),
                os=t.str("os", "linux"),
                relay=t.str("relay"),
                cur_addr=t.str("cur_addr"),
                is_self=t.bool("self"),
                exit_node=t.bool("exit_node"),
                site=site,
            )
        )
        t.done()

    # -- placement ----------------------------------------------------------------------------

    def place(self) -> Snapshot:
        """Bind pinned pods where the file says, then let the scheduler place the rest, so a
        plan that overfills a node shows Pending pods exactly as a cluster would."""
        d = self.draft
        bound: list[Pod] = []
        loose: list[Pod] = []
        for pod in d.pods:
            target = d.pinned.get(pod.key)
            if target:
                bound.append(replace(pod, node=target[0], phase="Running"))
            else:
                loose.append(pod)
        scheduler = Scheduler(d.nodes.values(), bound)
        result = scheduler.run(loose)
        placed = {p.key: p for p in bound}
        for pod in loose:
            node = result.placed.get(pod.key)
            placed[pod.key] = replace(pod, node=node, phase="Running" if node else "Pending")
        pods = tuple(placed[p.key] for p in d.pods)
        return Snapshot(
            hosts=tuple(d.hosts.values()),
            guests=tuple(d.guests.values()),
            nodes=tuple(d.nodes.values()),
            pods=pods,
            workloads=_with_ready(d.workloads, pods),
            pdbs=tuple(d.pdbs),
            priority_classes=tuple(d.priority.values()),
            peers=tuple(d.peers),
            backing=dict(d.backing),
            sites=dict(d.sites),
        )


def _with_ready(workloads: Iterable[Workload], pods: Iterable[Pod]) -> tuple[Workload, ...]:
    running = Counter(workload_key_of(p) for p in pods if p.node is not None)
    return tuple(replace(w, ready_replicas=running[w.key]) for w in workloads)


def _defaulted(requests: Resources, limits: Resources) -> Resources:
    """The apiserver's defaulting: a resource with a limit and no request requests its
    limit, so a plan charges such a container exactly as the cluster will."""
    return Resources(
        limits.cpu if requests.cpu is None else requests.cpu,
        limits.memory if requests.memory is None else requests.memory,
    )


def _arch(t: Table) -> str:
    arch = t.str("arch", "amd64")
    aliases = {"x86_64": "amd64", "aarch64": "arm64"}
    arch = aliases.get(arch, arch)
    if arch not in ("amd64", "arm64", "arm", "riscv64"):
        raise t.error("arch", f"expected amd64 or arm64 (or arm, riscv64), got {arch!r}")
    return arch


def _parse_at(t: Table, path: tuple, value: Any, parse: Callable[[Any], int], what: str) -> int:
    try:
        return parse(value)
    except (ValueError, TypeError) as exc:
        raise t.ctx.error((*t.path, *path), f"expected {what}: {exc}") from None


_TAINT = re.compile(
    r"^([A-Za-z0-9./_-]+)(?:=([A-Za-z0-9._-]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$"
)


def _parse_taint(t: Table, index: int, text: str) -> Taint:
    m = _TAINT.match(text)
    if not m:
        raise t.ctx.error(
            (*t.path, "taints", index),
            f"expected KEY[=VALUE]:EFFECT (effect NoSchedule, PreferNoSchedule or "
            f"NoExecute), got {text!r}",
        )
    return Taint(m.group(1), m.group(3), m.group(2) or "")  # type: ignore[arg-type]


def _int_or_percent(t: Table, key: str) -> int | str | None:
    value = t.raw(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,3}%", value):
        return value
    raise t.error(key, f'expected a whole number or a percentage like "50%", got {value!r}')


_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated names


def _suffix(seed: str, length: int = 5) -> str:
    """A stable generated-name suffix, so the same lab always has the same pod names."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])
