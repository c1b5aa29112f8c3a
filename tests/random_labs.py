"""Small random labs that exercise every corner of the what-if: tight nodes (so pods go
Pending and lower priorities are preempted), taints, cordons, arch selectors, anti-affinity
on hostname and zone, topology spread, DaemonSets, mirror and bare pods, finished pods still
bound to a node, pods on nodes nobody knows, PDBs that allow no disruption, usage and
partial profiles, single-arch images and a control plane.

The same seed always gives the same lab, so a failure can be replayed.
"""

from __future__ import annotations

import random

from cockpit.alloc.risks import IMAGE_ARCHS_ANNOTATION
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
    Requirement,
    Resources,
    Snapshot,
    SpreadConstraint,
    Taint,
    Toleration,
    UsageProfile,
    Workload,
)

GI = 2**30
MI = 2**20
ZONE = "topology.kubernetes.io/zone"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


def random_lab(seed: int, nodes: int = 12, workloads: int = 40) -> Snapshot:
    rng = random.Random(seed)
    per_host = rng.choice((1, 2, 3))
    node_list: list[Node] = []
    backing: dict[str, Backing] = {}
    guests: list[Guest] = []
    for i in range(nodes):
        name = f"n{i:02d}"
        cpu = rng.choice((1000, 2000, 4000))
        memory = rng.choice((2, 4, 8)) * GI
        taints: tuple[Taint, ...] = ()
        if rng.random() < 0.15:
            taints = (Taint("dedicated", "NoSchedule", "gpu"),)
        elif rng.random() < 0.05:
            taints = (Taint("soft", "PreferNoSchedule"),)
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/arch": "arm64" if rng.random() < 0.3 else "amd64",
            ZONE: f"z{i % 3}",
        }
        if i == 0 or (i == 1 and rng.random() < 0.5):
            labels[CONTROL_PLANE] = ""
        node_list.append(
            Node(
                name,
                capacity=Resources(cpu, memory),
                allocatable=Resources(cpu, memory),
                pods_allocatable=rng.choice((8, 30, 110)),
                conditions={"Ready": rng.choice(("True",) * 9 + ("Unknown",))},
                taints=taints,
                unschedulable=rng.random() < 0.08,
                labels=labels,
            )
        )
        if rng.random() < 0.9:  # a few bare-metal nodes without a Proxmox host
            host = f"pve{i // per_host}"
            backing[name] = Backing(host, 100 + i)
            guests.append(Guest(100 + i, name, host, vcpus=4, memory=memory))
    hosts = tuple(
        Host(h, cores=8, threads=16, memory=64 * GI, disk=GI * 512)
        for h in sorted({b.host for b in backing.values()})
    )
    pods: list[Pod] = []
    workload_list: list[Workload] = []
    pdbs: list[Pdb] = []
    names = [n.name for n in node_list]

    def requests() -> Resources:
        if rng.random() < 0.05:
            return Resources()  # BestEffort
        return Resources(rng.choice((50, 100, 250, 500)), rng.choice((64, 256, 512, 1024)) * MI)

    def profile(req: Resources) -> UsageProfile | None:
        roll = rng.random()
        if roll < 0.3:
            return None
        peak_memory = None if roll < 0.4 else (req.memory or 128 * MI) * rng.choice((1, 2, 3))
        return UsageProfile(Resources(req.cpu, req.memory), Resources(None, peak_memory))

    for w in range(workloads):
        ns = f"ns{w % 4}"
        kind = rng.choice(("Deployment",) * 6 + ("StatefulSet", "DaemonSet", "Job", "bare"))
        app = f"app{w}"
        selector = LabelSelector({"app": app})
        req = requests()
        limits = Resources(
            (req.cpu or 100) * 2, None if rng.random() < 0.2 else (req.memory or MI) * 2
        )
        anti: tuple[AffinityTerm, ...] = ()
        if rng.random() < 0.2:
            anti = (AffinityTerm(selector, rng.choice(("kubernetes.io/hostname", ZONE))),)
        elif rng.random() < 0.05:
            expression = LabelSelector({}, (Requirement("app", "In", (app,)),))
            anti = (AffinityTerm(expression),)
        spread: tuple[SpreadConstraint, ...] = ()
        if rng.random() < 0.1:
            how = rng.choice(("DoNotSchedule", "ScheduleAnyway"))
            key = rng.choice(("kubernetes.io/hostname", ZONE))
            spread = (SpreadConstraint(1, key, how, selector),)
        tolerations: tuple[Toleration, ...] = ()
        if rng.random() < 0.15:
            tolerations = (Toleration("dedicated", "Equal", "gpu", "NoSchedule"),)
        elif rng.random() < 0.03:
            tolerations = (Toleration(operator="Exists"),)  # tolerates every taint
        node_selector = {"kubernetes.io/arch": "amd64"} if rng.random() < 0.15 else {}
        affinity: tuple[tuple[Requirement, ...], ...] = ()
        if rng.random() < 0.05:
            affinity = ((Requirement(ZONE, "In", ("z0", "z1")),),)
        annotations = {IMAGE_ARCHS_ANNOTATION: "amd64"} if rng.random() < 0.1 else {}
        priority = rng.choice((0, 0, 100, 1000, 100_000))
        policy = "Never" if rng.random() < 0.1 else "PreemptLowerPriority"
        if kind == "DaemonSet":
            replicas = len(names)
            owner: OwnerRef | None = OwnerRef("DaemonSet", app)
            labels = {"app": app}
        elif kind == "StatefulSet":
            replicas = rng.randint(1, 3)
            owner = OwnerRef("StatefulSet", app)
            labels = {"app": app}
        elif kind == "Job":
            replicas = 1
            owner = OwnerRef("Job", app)
            labels = {"app": app}
        elif kind == "bare":
            replicas = 1
            owner = None
            labels = {"app": app}
        else:
            replicas = rng.randint(1, 5)
            owner = OwnerRef("ReplicaSet", f"{app}-h{w}")
            labels = {"app": app, "pod-template-hash": f"h{w}"}
            if rng.random() < 0.5:
                labels["tier"] = rng.choice(("web", "db"))
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            workload_list.append(Workload(kind, ns, app, replicas, selector))
        if kind in ("Deployment", "StatefulSet") and rng.random() < 0.4:
            # Budgets select by one label mostly, sometimes by two, by an expression too,
            # or everything in the namespace (an empty selector).
            chosen = rng.choice(
                (selector,) * 6
                + (
                    LabelSelector({"app": app, "tier": "web"}),
                    LabelSelector({"app": app}, (Requirement("tier", "NotIn", ("db",)),)),
                    LabelSelector({}, (Requirement("app", "In", (app, f"app{w + 1}")),)),
                    LabelSelector(),
                )
            )
            if rng.random() < 0.5:
                pdbs.append(Pdb(ns, app, chosen, min_available=rng.randint(0, replicas)))
            else:
                pdbs.append(Pdb(ns, app, chosen, max_unavailable=rng.choice((0, 1, "50%"))))
        for r in range(replicas):
            node: str | None
            if kind == "DaemonSet":
                node = names[r]
            elif rng.random() < 0.04:
                node = None  # Pending, never scheduled
            elif rng.random() < 0.02:
                node = "gone-node"  # bound to a node the snapshot does not list
            else:
                node = rng.choice(names)
            phase = "Running" if node else "Pending"
            roll = rng.random()
            if node and roll < 0.06:
                phase = rng.choice(("Succeeded", "Failed", "Pending"))
            pod_annotations = dict(annotations)
            if kind == "bare" and rng.random() < 0.3:
                pod_annotations["kubernetes.io/config.mirror"] = "x"
            usage = None
            if rng.random() < 0.3:
                usage = Resources(rng.choice((None, 30, 300)), rng.choice((None, 100 * MI)))
            pods.append(
                Pod(
                    namespace=ns,
                    name=f"{app}-{r}",
                    node=node,
                    phase=phase,
                    labels=labels,
                    annotations=pod_annotations,
                    containers=(Container("main", requests=req, limits=limits),),
                    owner=owner,
                    priority=priority,
                    preemption_policy=policy,
                    tolerations=tolerations,
                    node_selector=node_selector,
                    node_affinity=affinity,
                    anti_affinity=anti,
                    spread=spread,
                    ready=rng.random() < 0.92,
                    created=float(len(pods)),
                    usage=usage,
                    profile=profile(req),
                )
            )
    rng.shuffle(pods)
    return Snapshot(
        hosts=hosts,
        guests=tuple(guests),
        nodes=tuple(node_list),
        pods=tuple(pods),
        workloads=tuple(workload_list),
        pdbs=tuple(pdbs),
        backing=backing,
    )


def scenarios_of(snapshot: Snapshot) -> list[tuple[str, str]]:
    """Every node drained and lost, and every host lost."""
    out = [(kind, n.name) for n in snapshot.nodes for kind in ("drain", "lose-node")]
    return out + [("lose-host", h.name) for h in snapshot.hosts]
