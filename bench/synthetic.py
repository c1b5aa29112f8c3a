"""A synthetic homelab of any size, built directly as a Snapshot (no lab file, no scheduler),
so the benchmarks time the engine and nothing else."""

from __future__ import annotations

import random

from cockpit.model import (
    AffinityTerm,
    Backing,
    Container,
    Guest,
    Host,
    LabelSelector,
    Node,
    OwnerRef,
    Pdb,
    Pod,
    PriorityClass,
    Resources,
    Snapshot,
    UsageProfile,
    Workload,
)

GI = 2**30
MI = 2**20
PRIORITIES = (0, 100, 1000, 10_000, 100_000)


def synthetic_lab(
    nodes: int = 200, pods: int = 10_000, nodes_per_host: int = 4, replicas: int = 5, seed: int = 7
) -> Snapshot:
    rng = random.Random(seed)
    host_count = (nodes + nodes_per_host - 1) // nodes_per_host
    hosts = tuple(
        Host(f"pve{h}", cores=16, threads=32, memory=128 * GI, disk=4096 * GI, site=f"site{h % 3}")
        for h in range(host_count)
    )
    guests, node_list, backing = [], [], {}
    for i in range(nodes):
        host = f"pve{i // nodes_per_host}"
        vmid = 100 + i
        name = f"node-{i:03d}"
        # Named like its node, as homelab VMs usually are, so topology links them by name.
        guests.append(Guest(vmid, name, host, vcpus=8, memory=32 * GI, balloon_min=16 * GI))
        alloc = Resources(8000, 32 * GI - 100 * MI)
        node_list.append(
            Node(
                name,
                capacity=alloc,
                allocatable=alloc,
                conditions={"Ready": "True"},
                labels={
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/arch": "amd64" if i % 4 else "arm64",
                },
            )
        )
        backing[name] = Backing(host, vmid)
    workloads, pod_list, pdbs = [], [], []
    count = pods // replicas
    for w in range(count):
        name = f"app-{w}"
        ns = f"team-{w % 20}"
        selector = LabelSelector({"app": name})
        anti = (AffinityTerm(selector),) if w % 10 == 0 else ()
        priority = PRIORITIES[w % len(PRIORITIES)]
        req = Resources(rng.choice((10, 50, 100, 200)), rng.choice((32, 64, 128, 256)) * MI)
        lim = Resources(req.cpu_or_zero * 4, req.memory_or_zero * 2)
        profile = UsageProfile(
            Resources(req.cpu_or_zero // 2, req.memory_or_zero // 2),
            Resources(req.cpu_or_zero * 2, req.memory_or_zero * 3 // 2),
        )
        workloads.append(Workload("Deployment", ns, name, replicas, selector))
        if w % 4 == 0:
            pdbs.append(Pdb(ns, name, selector, min_available=replicas - 1))
        start = rng.randrange(nodes)
        for r in range(replicas):
            node = node_list[(start + r * 7) % nodes].name
            pod_list.append(
                Pod(
                    namespace=ns,
                    name=f"{name}-h{w}-{r}",
                    node=node,
                    labels={"app": name, "pod-template-hash": f"h{w}"},
                    containers=(Container("main", requests=req, limits=lim),),
                    owner=OwnerRef("ReplicaSet", f"{name}-h{w}"),
                    priority=priority,
                    anti_affinity=anti,
                    profile=profile,
                    created=float(len(pod_list)),
                )
            )
    classes = tuple(PriorityClass(f"p{p}", p) for p in PRIORITIES)
    return Snapshot(
        hosts=hosts,
        guests=tuple(guests),
        nodes=tuple(node_list),
        pods=tuple(pod_list),
        workloads=tuple(workloads),
        pdbs=tuple(pdbs),
        priority_classes=classes,
        backing=backing,
    )
