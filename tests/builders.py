"""Terse constructors for hand-made snapshots in tests."""

from __future__ import annotations

from cockpit.model import (
    Backing,
    Container,
    ContainerState,
    Guest,
    Host,
    LabelSelector,
    Node,
    OwnerRef,
    Peer,
    Pod,
    Resources,
    Snapshot,
    Taint,
    Workload,
)
from cockpit.units import parse_bytes, parse_cpu

GI = 2**30


def res(cpu: str | None = None, memory: str | None = None) -> Resources:
    return Resources(parse_cpu(cpu) if cpu else None, parse_bytes(memory) if memory else None)


def node(
    name: str,
    cpu: str = "4",
    memory: str = "8Gi",
    arch: str = "amd64",
    taints: tuple[Taint, ...] = (),
    ready: bool = True,
    labels: dict | None = None,
    **kw,
) -> Node:
    alloc = res(cpu, memory)
    return Node(
        name=name,
        capacity=alloc,
        allocatable=alloc,
        conditions={"Ready": "True" if ready else "Unknown"},
        taints=taints,
        labels={"kubernetes.io/hostname": name, "kubernetes.io/arch": arch, **(labels or {})},
        **kw,
    )


def pod(
    name: str,
    node: str | None = None,
    cpu: str | None = "100m",
    memory: str | None = "128Mi",
    namespace: str = "default",
    owner: str | None = "rs",
    app: str | None = None,
    limits: Resources | None = None,
    priority: int = 0,
    phase: str | None = None,
    **kw,
) -> Pod:
    """A pod of Deployment `app` (default: the name without its last dash part)."""
    app = app or name.rsplit("-", 1)[0]
    labels = {"app": app, **kw.pop("labels", {})}
    owner_ref = None
    if owner == "rs":
        labels["pod-template-hash"] = "h"
        owner_ref = OwnerRef("ReplicaSet", f"{app}-h")
    elif owner:
        kind, _, oname = owner.partition("/")
        owner_ref = OwnerRef(kind, oname or app)
    return Pod(
        namespace=namespace,
        name=name,
        node=node,
        phase=phase or ("Running" if node else "Pending"),
        labels=labels,
        containers=(Container("main", requests=res(cpu, memory), limits=limits or Resources()),),
        owner=owner_ref,
        priority=priority,
        **kw,
    )


def deployment(name: str, replicas: int, namespace: str = "default") -> Workload:
    return Workload("Deployment", namespace, name, replicas, LabelSelector({"app": name}))


def snapshot(nodes=(), pods=(), workloads=(), **kw) -> Snapshot:
    return Snapshot(nodes=tuple(nodes), pods=tuple(pods), workloads=tuple(workloads), **kw)


def proxmox_lab(host_memory: str = "16G", vms: int = 2) -> Snapshot:
    """One Proxmox host with `vms` worker VMs of 4 vCPU / 6 GiB, each a Kubernetes node."""
    host = Host(
        "pve1",
        cores=4,
        threads=8,
        memory=parse_bytes(host_memory.replace("G", "Gi")),
        disk=500 * GI,
    )
    guests = tuple(Guest(100 + i, f"vm{i}", "pve1", vcpus=4, memory=6 * GI) for i in range(vms))
    nodes = tuple(node(f"n{i}", "4", "6Gi") for i in range(vms))
    backing = {f"n{i}": Backing("pve1", 100 + i) for i in range(vms)}
    return Snapshot(hosts=(host,), guests=guests, nodes=nodes, backing=backing)


def host(name: str, online: bool = True, memory: str = "32Gi", **kw) -> Host:
    return Host(
        name, cores=4, threads=8, memory=parse_bytes(memory), disk=500 * GI, online=online, **kw
    )


def guest(vmid: int, name: str, host: str, status: str = "running", **kw) -> Guest:
    return Guest(vmid, name, host, status=status, vcpus=4, memory=8 * GI, **kw)


def peer(hostname: str, ip: str, online: bool = True, **kw) -> Peer:
    return Peer(hostname, ips=(ip,), online=online, **kw)


def container_state(name: str = "main", **kw) -> ContainerState:
    return ContainerState(name, **kw)
