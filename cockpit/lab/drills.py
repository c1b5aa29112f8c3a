"""Outage drills: faults a homelab really has, caused in a running lab so a person can
rehearse finding and fixing them.

A drill only causes the fault, through the world (power, tailnet) or the lab's Kubernetes
API (a bad image, a lower limit, a stricter PDB), the way it happens in life. It never
writes what is wrong anywhere: the cockpit must find it from the data.

Each drill picks its target from the lab (the node under the only CoreDNS pod, a direct
peer, an app Deployment ...) unless one is given, and says in one line what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cockpit.lab.errors import ControlError
from cockpit.lab.kube.containers import APP_LABEL, ImageFault
from cockpit.lab.kube.meta import NODES, PODS, key_of, now_iso, set_condition

if TYPE_CHECKING:
    from cockpit.lab.control import LabControl

THERMAL_OFF_SECONDS = 240.0
# The CoreDNS node's reboot hangs (an update, a file-system check) for ten lab minutes:
# long enough for the pod's 300 s unreachable toleration to run out, as in seed 004, and
# for a person rehearsing to see the outage and fix it before it heals by itself.
DNS_NODE_DOWN = 600.0  # a Pi that overheated is back once it has cooled down
DISK_PRESSURE_TAINT = "node.kubernetes.io/disk-pressure"


@dataclass(frozen=True)
class Drill:
    name: str
    summary: str  # one line for `cockpit drills`
    run: Callable[[LabControl, str], str]  # (control, target or "") -> what it did


# --- helpers --------------------------------------------------------------------------------


def _dns_pods(ctl: LabControl) -> list[dict]:
    return ctl.pods(
        lambda p: (
            p["metadata"].get("namespace") == "kube-system"
            and (p["metadata"].get("labels") or {}).get("k8s-app") == "kube-dns"
            and not p["metadata"].get("deletionTimestamp")
        )
    )


def _app_deployments(ctl: LabControl) -> list[dict]:
    """Deployments of the lab's own apps (not kube-system), largest first."""
    deployments = ctl.lab.kube.store.items("deployments.apps")
    apps = [d for d in deployments if d["metadata"]["namespace"] != "kube-system"]
    return sorted(apps, key=lambda d: (-d["spec"].get("replicas", 1), d["metadata"]["name"]))


def _deployment(ctl: LabControl, target: str) -> dict:
    apps = _app_deployments(ctl)
    if target:
        ns, _, name = target.rpartition("/")
        found = [
            d
            for d in apps
            if d["metadata"]["name"] == name and (not ns or d["metadata"]["namespace"] == ns)
        ]
        if not found:
            raise ControlError(f"no app Deployment {target!r} (try NAMESPACE/NAME)")
        return found[0]
    if not apps:
        raise ControlError("this lab has no app Deployment outside kube-system")
    return apps[0]


def _path(d: dict) -> str:
    ns, name = key_of(d)
    return f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"


def _peer_for_drill(ctl: LabControl, target: str, want_direct: bool = False) -> str:
    """A tailnet peer that is a Kubernetes node and not this machine."""
    peers = ctl.world.peers()
    if target:
        if not any(p.hostname == target for p in peers):
            raise ControlError(f"no tailnet peer {target!r}")
        return target
    nodes = {n["metadata"]["name"] for n in ctl.nodes()}
    candidates = [
        p
        for p in peers
        if not p.is_self and p.online and p.hostname in nodes and (p.cur_addr or not want_direct)
    ]
    if not candidates:
        raise ControlError("no online peer that is also a node (and direct, where needed)")
    return candidates[-1].hostname


# --- the drills -------------------------------------------------------------------------------


def host_power_loss(ctl: LabControl, target: str) -> str:
    if not target:
        by_nodes = sorted(
            ctl.world.hosts.values(),
            key=lambda h: (
                -sum(1 for b in ctl.world.backing.values() if b.host == h.name),
                not h.proxmox,
                h.name,
            ),
        )
        target = next((h.name for h in by_nodes if h.online), "")
    return ctl.power_off(target)


def coredns_node_reboot(ctl: LabControl, target: str) -> str:
    pods = [p for p in _dns_pods(ctl) if p["spec"].get("nodeName")]
    if not pods and not target:
        raise ControlError("no scheduled CoreDNS pod (k8s-app=kube-dns) to take down")
    node = target or pods[0]["spec"]["nodeName"]
    if node not in ctl.world.backing:
        raise ControlError(f"node {node!r} has no machine under it in this lab")
    return f"node {node} (CoreDNS) rebooting: " + ctl.reboot(node, DNS_NODE_DOWN)


def rpi_thermal(ctl: LabControl, target: str) -> str:
    if not target:
        bare = [
            node
            for node, b in sorted(ctl.world.backing.items())
            if b.vmid is None and ctl.world.hosts[b.host].online
        ]
        arm = [n for n in bare if ctl.world.hosts[ctl.world.backing[n].host].arch == "arm64"]
        if not (arm or bare):
            raise ControlError("no bare-metal node in this lab")
        target = (arm or bare)[-1]
    host = ctl._host_of(target)
    if host is None:
        raise ControlError(f"{target!r} is not a bare-metal node or host")
    return f"{host} overheated: " + ctl.power_cycle(host, THERMAL_OFF_SECONDS)


def peer_cut(ctl: LabControl, target: str) -> str:
    peer = _peer_for_drill(ctl, target)
    ctl.world.set_peer_fault(peer, cut=True)
    return f"tailnet peer {peer} cut off (its machine keeps running)"


def peer_relayed(ctl: LabControl, target: str) -> str:
    peer = _peer_for_drill(ctl, target, want_direct=True)
    ctl.world.set_peer_fault(peer, relayed=True)
    return f"tailnet peer {peer} lost its direct path: traffic goes through DERP"


def key_expiry(ctl: LabControl, target: str) -> str:
    peer = _peer_for_drill(ctl, target)
    ctl.world.set_peer_fault(peer, key_expiry=ctl.clock.now() - 1.0)
    return f"tailnet peer {peer}'s node key expired"


def tailscaled_logged_out(ctl: LabControl, target: str) -> str:
    """The cockpit machine's own tailscaled loses its login (a key expired, an admin
    removed it): NeedsLogin, a Health warning, and no peers at all."""
    with ctl.world.lock:
        ctl.world.backend_state = "NeedsLogin"
        ctl.world.health.append(
            "You are logged out. The last login error was: node key expired; "
            "run `tailscale up` to log in again"
        )
    ctl.world.notify()
    return "tailscaled on this machine is logged out (NeedsLogin)"


def disk_pressure(ctl: LabControl, target: str) -> str:
    """The kubelet on one node sees its disk nearly full: DiskPressure, the NoSchedule
    taint, and its eviction manager evicts pods, lowest priority first."""
    controllers = ctl.lab.kube.controllers
    store = ctl.lab.kube.store
    with controllers.lock:
        nodes = {n["metadata"]["name"]: n for n in ctl.nodes()}
        if not target:
            counts = {name: 0 for name in nodes if is_ready_node(nodes[name])}
            for p in ctl.pods():
                node = p.get("spec", {}).get("nodeName")
                if node in counts and not _daemon(p):
                    counts[node] += 1
            if not counts:
                raise ControlError("no Ready node")
            target = max(sorted(counts), key=lambda n: counts[n])
        if target not in nodes:
            raise ControlError(f"no node {target!r}")
        now = ctl.clock.now()
        node = store.get(NODES, ("", target))
        set_condition(
            node, "DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure", now
        )
        taints = node["spec"].setdefault("taints", [])
        if not any(t["key"] == DISK_PRESSURE_TAINT for t in taints):
            taints.append(
                {"key": DISK_PRESSURE_TAINT, "effect": "NoSchedule", "timeAdded": now_iso(now)}
            )
        node = store.update(NODES, node)
        controllers.event(
            node,
            "Normal",
            "NodeHasDiskPressure",
            f"Node {target} status is now: NodeHasDiskPressure",
            now,
            host=target,
        )
        controllers.event(
            node,
            "Warning",
            "EvictionThresholdMet",
            "Attempting to reclaim ephemeral-storage",
            now,
            host=target,
        )
        victims = sorted(
            (
                p
                for p in ctl.pods()
                if p.get("spec", {}).get("nodeName") == target
                and not _daemon(p)
                and not p["metadata"].get("deletionTimestamp")
                and p.get("status", {}).get("phase") == "Running"
            ),
            key=lambda p: (p["spec"].get("priority", 0), p["metadata"]["name"]),
        )[:2]
        for victim in victims:
            pod = store.get(PODS, key_of(victim))
            container = pod["spec"]["containers"][0]["name"]
            message = (
                "The node was low on resource: ephemeral-storage. Threshold quantity: "
                "6438554291, available: 3215112Ki. Container "
                f"{container} was using 4Gi, request is 0, has larger consumption of "
                "ephemeral storage. "
            )
            status = pod["status"]
            status.update(phase="Failed", reason="Evicted", message=message)
            for cs in status.get("containerStatuses") or []:
                started = (cs.get("state", {}).get("running") or {}).get("startedAt")
                cs.update(
                    ready=False,
                    started=False,
                    state={
                        "terminated": {
                            "exitCode": 137,
                            "reason": "ContainerStatusUnknown",
                            "message": "The container could not be located when the pod "
                            "was terminated",
                            "startedAt": started,
                            "finishedAt": now_iso(now),
                        }
                    },
                )
            set_condition(pod, "Ready", "False", "PodFailed", "", now)
            set_condition(pod, "DisruptionTarget", "True", "TerminationByKubelet", message, now)
            pod = store.update(PODS, pod)
            controllers.event(pod, "Warning", "Evicted", message, now, host=target)
    names = ", ".join(v["metadata"]["name"] for v in victims) or "none"
    return f"node {target} under disk pressure; evicted: {names}"


def oom_loop(ctl: LabControl, target: str) -> str:
    """A limit set below what the app uses: the kernel OOM-kills it on every start."""
    candidates = [
        d
        for d in _app_deployments(ctl)
        if (
            d["metadata"]["namespace"],
            d["spec"]["template"]["metadata"]["labels"].get(APP_LABEL, ""),
        )
        in ctl.lab.kube.controllers.profiles
    ]
    d = _deployment(ctl, target) if target else (candidates or [None])[0]
    if d is None:
        raise ControlError("no app Deployment with a usage profile to starve")
    app = d["spec"]["template"]["metadata"]["labels"].get(APP_LABEL, "")
    profile = ctl.lab.kube.controllers.profiles.get((d["metadata"]["namespace"], app))
    normal = profile.normal.memory if profile is not None and profile.normal.memory else 2**28
    limit_mi = max(8, normal // 2**20 // 3)
    container = d["spec"]["template"]["spec"]["containers"][0]["name"]
    ctl.kube(
        "PATCH",
        _path(d),
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": container,
                                "resources": {
                                    "limits": {"memory": f"{limit_mi}Mi"},
                                    "requests": {"memory": f"{limit_mi}Mi"},
                                },
                            }
                        ]
                    }
                }
            }
        },
    )
    ns, name = key_of(d)
    uses = normal // 2**20
    return f"deployment {ns}/{name}: memory limit lowered to {limit_mi}Mi (it uses ~{uses}Mi)"


def crashloop(ctl: LabControl, target: str) -> str:
    """A bad release: the new image exits on start (its database URL is wrong)."""
    d = _deployment(ctl, target)
    container = d["spec"]["template"]["spec"]["containers"][0]
    image = container.get("image", "app")
    repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    bad = f"{repo}:broken-release"
    ctl.lab.kube.controllers.image_faults[bad] = ImageFault(
        exit_code=1,
        run_for=4.0,
        log_tail=(
            "Error: connect ECONNREFUSED 10.43.81.20:5432",
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)",
            "FATAL: cannot reach the database at DATABASE_URL; exiting",
        ),
    )
    ctl.kube(
        "PATCH",
        _path(d),
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": container["name"], "image": bad}]}}
            }
        },
    )
    ns, name = key_of(d)
    return f"deployment {ns}/{name} rolled out {bad}, which exits on start"


def image_pull(ctl: LabControl, target: str) -> str:
    """A mistyped tag: the registry has no such image, so the new pods never start."""
    d = _deployment(ctl, target)
    container = d["spec"]["template"]["spec"]["containers"][0]
    image = container.get("image", "app")
    tail = image.rsplit("/", 1)[-1]
    repo, _, tag = image.rpartition(":") if ":" in tail else (image, "", "latest")
    bad = f"{repo}:{tag}x"  # one stray key
    ctl.lab.kube.controllers.image_faults[bad] = ImageFault(missing=True)
    ctl.kube(
        "PATCH",
        _path(d),
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": container["name"], "image": bad}]}}
            }
        },
    )
    ns, name = key_of(d)
    return f"deployment {ns}/{name} set to {bad}, which the registry does not have"


def arch_mismatch(ctl: LabControl, target: str) -> str:
    """An image built for one CPU pinned to a node of the other: exec format error."""
    archs = {(n["metadata"].get("labels") or {}).get("kubernetes.io/arch", "") for n in ctl.nodes()}
    for d in _app_deployments(ctl):
        tpl = d["spec"]["template"]
        only = (tpl["metadata"].get("annotations") or {}).get("cockpit.io/image-archs", "")
        others = [a for a in sorted(archs) if a and only and a not in only.split(",")]
        if only and "," not in only and others and (not target or d["metadata"]["name"] == target):
            ctl.kube(
                "PATCH",
                _path(d),
                {
                    "spec": {
                        "template": {"spec": {"nodeSelector": {"kubernetes.io/arch": others[0]}}}
                    }
                },
            )
            ns, name = key_of(d)
            return f"deployment {ns}/{name} ({only}-only image) pinned to {others[0]} nodes"
    arch = sorted(a for a in archs if a)[0] if archs else "amd64"
    other = "arm64" if arch == "amd64" else "amd64"
    name = target or "image-resizer"
    ctl.kube(
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": {APP_LABEL: name}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {APP_LABEL: name}},
                "template": {
                    "metadata": {
                        "labels": {APP_LABEL: name},
                        "annotations": {"cockpit.io/image-archs": other},
                    },
                    "spec": {
                        "nodeSelector": {"kubernetes.io/arch": arch},
                        "containers": [
                            {
                                "name": name,
                                "image": f"example/{name}:1.0-{other}",
                                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                            }
                        ],
                    },
                },
            },
        },
    )
    return f"deployment default/{name} ({other}-only image) created on {arch} nodes"


def metrics_server_gone(ctl: LabControl, target: str) -> str:
    path = "/apis/apps/v1/namespaces/kube-system/deployments/metrics-server/scale"
    if ctl.lab.kube.store.find("deployments.apps", ("kube-system", "metrics-server")) is None:
        raise ControlError("this lab has no kube-system/metrics-server Deployment")
    ctl.kube("PATCH", path, {"spec": {"replicas": 0}}, patch="merge")
    return "kube-system/metrics-server scaled to 0: the metrics API stops answering"


def pdb_blocks_all(ctl: LabControl, target: str) -> str:
    """A budget that allows no disruption: every drain waits on it for ever."""
    d = _deployment(ctl, target)
    ns, name = key_of(d)
    selector = d["spec"]["selector"]
    existing = [
        p
        for p in ctl.lab.kube.store.items("poddisruptionbudgets.policy")
        if p["metadata"]["namespace"] == ns and p["spec"].get("selector") == selector
    ]
    if existing:
        pdb = existing[0]["metadata"]["name"]
        ctl.kube(
            "PATCH",
            f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{pdb}",
            {"spec": {"minAvailable": None, "maxUnavailable": 0}},
            patch="merge",
        )
    else:
        pdb = f"{name}-pdb"
        ctl.kube(
            "POST",
            f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": pdb, "namespace": ns},
                "spec": {"maxUnavailable": 0, "selector": selector},
            },
        )
    return (
        f"PodDisruptionBudget {ns}/{pdb} set to maxUnavailable 0: no pod of {name} may be evicted"
    )


def is_ready_node(node: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in node.get("status", {}).get("conditions", [])
    )


def _daemon(pod: dict) -> bool:
    return any(
        r.get("kind") in ("DaemonSet", "Node") for r in pod["metadata"].get("ownerReferences") or []
    )


DRILLS: dict[str, Drill] = {
    d.name: d
    for d in (
        Drill(
            "host-power-loss",
            "a physical host loses power: its guests stop, their nodes go NotReady",
            host_power_loss,
        ),
        Drill(
            "coredns-node-reboot",
            "the CoreDNS node reboots and stays down 10 min (seed 004): DNS has no endpoint",
            coredns_node_reboot,
        ),
        Drill(
            "rpi-thermal",
            "a bare-metal node overheats, dies, and comes back minutes later",
            rpi_thermal,
        ),
        Drill("peer-cut", "a tailnet peer goes offline while its machine keeps running", peer_cut),
        Drill(
            "peer-relayed",
            "a direct tailnet peer loses its direct path and goes through DERP",
            peer_relayed,
        ),
        Drill(
            "key-expiry",
            "a tailnet peer's node key expires and it drops off the tailnet",
            key_expiry,
        ),
        Drill(
            "tailscaled-logged-out",
            "this machine's tailscaled is logged out: NeedsLogin, a Health warning, no peers",
            tailscaled_logged_out,
        ),
        Drill(
            "disk-pressure",
            "a node's disk fills up: DiskPressure, taint, pods Evicted",
            disk_pressure,
        ),
        Drill(
            "oom-loop",
            "an app's memory limit is set below its use: OOMKilled on every start",
            oom_loop,
        ),
        Drill(
            "crashloop",
            "a bad release: the app's new image exits on start (CrashLoopBackOff)",
            crashloop,
        ),
        Drill(
            "image-pull",
            "a mistyped image tag: ErrImagePull, then ImagePullBackOff, the rollout stalls",
            image_pull,
        ),
        Drill(
            "arch-mismatch",
            "a single-arch image lands on a node of the other arch: exec format error",
            arch_mismatch,
        ),
        Drill(
            "metrics-server-gone",
            "metrics-server is scaled to 0: the metrics API and HPAs go blind",
            metrics_server_gone,
        ),
        Drill(
            "pdb-blocks-all",
            "an app's PodDisruptionBudget allows no disruption: drains hang",
            pdb_blocks_all,
        ),
    )
}


def run_drill(ctl: LabControl, name: str, at: float = 0.0, target: str = "") -> str:
    """Start a drill now or `at` lab seconds from now; returns what was (or will be) done."""
    drill = DRILLS.get(name)
    if drill is None:
        raise ControlError(f"no drill named {name!r} (drills: {', '.join(DRILLS)})")
    if at > 0:
        ctl.at(at, f"drill {name}", lambda: f"drill {name}: " + drill.run(ctl, target))
        return f"drill {name} in {at:g} lab seconds"
    what = f"drill {name}: " + drill.run(ctl, target)
    ctl._record(what)
    return what
