"""Every outage drill, end to end, as an operator meets it: the drill is started through
`cockpit labctl` on the built-in lab it fits, `cockpit check --json` (a real process, through
the config file the lab wrote) must put the right root first with the blast radius that
follows from the lab file and a fitting fix, and that fix, run through the cockpit's own
action (`cockpit ... --yes`) or, where it is a person's step, done through `cockpit labctl`
or the real kubectl, must clear the incident. Faults caused through the public APIs instead
(a VM rebooted through the Proxmox API, a memory limit lowered with `kubectl set resources`)
must give the same diagnosis as their drills.

Every expected number is derived here from the lab's own data: the lab file's hosts, guests,
nodes and peers, and where the pods run as the real kubectl lists them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from kubectl_cli import kubectl_ok
from test_check_cli import check_json, codes_of, run_fix, wait_for

from cockpit import labfile
from cockpit.lab.drills import DNS_NODE_DOWN
from cockpit.lab.runner import PVE_TOKEN_ID, RunningLab

SPEED = 20  # the node grace period (40 s) passes in 2 s


def labctl(lab: RunningLab, *args: str) -> str:
    """The lab's control surface, from outside the process, as a person drives it."""
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "labctl", "--config", str(lab.config_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"labctl {args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def kubectl(lab: RunningLab, *args: str) -> str:
    return kubectl_ok(lab.kube.kubeconfig, *args)


def pods_json(lab: RunningLab) -> list[dict]:
    return json.loads(kubectl(lab, "get", "pods", "-A", "-o", "json"))["items"]


def live_pods_on(lab: RunningLab, nodes: set[str]) -> int:
    return sum(
        1
        for p in pods_json(lab)
        if p["spec"].get("nodeName") in nodes
        and p["status"].get("phase") not in ("Succeeded", "Failed")
    )


def node_ready(lab: RunningLab, node: str) -> str:
    doc = json.loads(kubectl(lab, "get", "node", node, "-o", "json"))
    return next(c["status"] for c in doc["status"]["conditions"] if c["type"] == "Ready")


def workload_of(lab: RunningLab, namespace: str, pod: str) -> str:
    """The Deployment (through its ReplicaSet) or other controller a pod belongs to."""
    doc = json.loads(kubectl(lab, "-n", namespace, "get", "pod", pod, "-o", "json"))
    [owner] = doc["metadata"]["ownerReferences"]
    if owner["kind"] == "ReplicaSet":
        rs = json.loads(kubectl(lab, "-n", namespace, "get", "rs", owner["name"], "-o", "json"))
        [owner] = rs["metadata"]["ownerReferences"]
    return f"{owner['kind'].lower()}/{owner['name']}"


def commands(incident: dict) -> list[str]:
    return [f["command"] for f in incident["fixes"]]


def first_incident(lab: RunningLab, exit_code: int) -> tuple[dict, dict]:
    code, doc = check_json(lab)
    assert code == exit_code, doc["incidents"]
    assert doc["incidents"], doc["findings"]
    return doc["incidents"][0], doc


def healthy_again(lab: RunningLab, *gone: str) -> dict:
    code, doc = check_json(lab)
    assert code in (0, 1), doc["incidents"]
    assert not set(gone) & codes_of(doc), doc["incidents"]
    return doc


@pytest.fixture
def lab_of(tmp_path: Path) -> Iterator:
    """A built-in lab by name, started fresh for one drill (drills change what they hit)."""
    started: list[RunningLab] = []

    def start(name: str, speed: float = SPEED) -> RunningLab:
        lab = RunningLab(labfile.load(name), speed=speed, directory=tmp_path / name).start()
        started.append(lab)
        code, doc = check_json(lab)
        assert code == 0, doc["incidents"]  # the drill is the only thing wrong
        return lab

    try:
        yield start
    finally:
        for lab in started:
            lab.stop()


# --- the machines ---------------------------------------------------------------------------


def test_host_power_loss_on_the_tailnet(lab_of, tmp_path: Path):
    lab = lab_of("tailnet")
    data = labfile.load("tailnet").snapshot
    # The drill takes the host under most nodes: the friend's box with both x86 VMs.
    nodes_per_host = {h.name: len(data.nodes_by_host.get(h.name, ())) for h in data.hosts}
    host = max(sorted(nodes_per_host), key=lambda h: nodes_per_host[h])
    guests = sorted(g.vmid for g in data.guests_by_host[host])
    dead = {n for n, b in data.backing.items() if b.host == host}
    pods_there = live_pods_on(lab, dead)
    assert f"host {host} powered off" in labctl(lab, "drill", "host-power-loss")
    for node in dead:
        wait_for(f"{node} NotReady", lambda node=node: node_ready(lab, node) != "True")

    first, _ = first_incident(lab, 2)
    assert (first["code"], first["root"]["layer"], first["root"]["name"]) == (
        "HOST-OFF",
        "host",
        host,
    )
    a = first["affected"]
    assert (a["hosts"], a["guests"], a["nodes"]) == (1, len(guests), len(dead))
    assert a["pods"] == pods_there
    assert first["notes"] == [
        "CoreDNS had its only replica there: cluster DNS is down for every pod"
    ]
    assert commands(first)[:2] == [
        "cockpit restart kube-system/deployment/coredns",
        "cockpit scale-ha",
    ]
    starts = [f"cockpit guest start {vmid}" for vmid in guests]
    assert commands(first)[2:4] == starts

    # The cockpit's own first fix while the box is off: CoreDNS restarted elsewhere.
    run_fix(lab, commands(first)[0], tmp_path / "state", "--timeout", "5")
    _, doc = check_json(lab)
    assert "DNS-NO-ENDPOINT" not in codes_of(doc)
    assert doc["incidents"][0]["code"] == "HOST-OFF"
    # Then a person's step: power the box back on (labctl). Its guests are onboot, so
    # Proxmox starts them itself and the "guest start" fixes are not needed.
    labctl(lab, "power-on", host)
    for node in dead:
        wait_for(f"{node} Ready", lambda node=node: node_ready(lab, node) == "True", 180)
    healthy_again(lab, "HOST-OFF", "GUEST-STOPPED", "NODE-NOTREADY", "DNS-NO-ENDPOINT")


def test_rpi_thermal_a_bare_metal_pi_dies(lab_of):
    # Half the usual speed: the Pi powers itself back on after 240 lab seconds (24 s here),
    # which must not happen before the check has read the outage on a busy machine.
    lab = lab_of("tailnet", speed=SPEED / 2)
    data = labfile.load("tailnet").snapshot
    # The drill picks the last bare-metal arm64 node: a Pi.
    arm = sorted(
        n
        for n, b in data.backing.items()
        if b.vmid is None and data.host_by_name[b.host].arch == "arm64"
    )
    pi = arm[-1]
    host = data.backing[pi].host
    pods_there = live_pods_on(lab, {pi})
    assert f"{host} overheated" in labctl(lab, "drill", "rpi-thermal")
    wait_for(f"{pi} NotReady", lambda: node_ready(lab, pi) != "True")

    first, _ = first_incident(lab, 2)
    assert (first["code"], first["root"]["name"]) == ("HOST-OFF", host)
    a = first["affected"]
    assert (a["hosts"], a["guests"], a["nodes"], a["pods"]) == (1, 0, 1, pods_there)
    assert ("NODE-NOTREADY", pi) in {(s["code"], s["object"]["name"]) for s in first["symptoms"]}
    # No cockpit action powers a Pi on: what is offered is a person's own command.
    assert not [f for f in first["fixes"] if f["action"]]

    # The person's step: once it has cooled, power it back on (labctl).
    labctl(lab, "power-on", host)
    wait_for(f"{pi} Ready", lambda: node_ready(lab, pi) == "True", 180)
    healthy_again(lab, "HOST-OFF", "NODE-NOTREADY", "PEER-OFFLINE")


def coredns_node(lab: RunningLab) -> str:
    dns = json.loads(
        kubectl(lab, "-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "json")
    )["items"]
    [pod] = dns  # k3s ships one CoreDNS replica: the seed's trap
    return pod["spec"]["nodeName"]


def assert_coredns_node_down(lab: RunningLab, node: str, pods_there: int) -> dict:
    """The diagnosis of seed 004, whichever way the node went down."""
    first, _ = first_incident(lab, 2)
    assert (first["code"], first["root"]["name"]) == ("NODE-NOTREADY", node)
    assert first["affected"]["nodes"] == 1 and first["affected"]["pods"] == pods_there
    assert first["notes"] == [
        "CoreDNS had its only replica there: cluster DNS is down for every pod"
    ]
    symptoms = {(s["code"], s["object"]["name"]) for s in first["symptoms"]}
    assert ("DNS-NO-ENDPOINT", "kube-dns") in symptoms
    assert commands(first)[:2] == [
        "cockpit restart kube-system/deployment/coredns",
        "cockpit scale-ha",
    ]
    return first


def reboot_then_fix(lab: RunningLab, node: str, cause, tmp_path: Path) -> None:
    """The lab runs in real time here and its clock is moved by hand: the reboot (up to
    DNS_NODE_DOWN lab seconds for the drill) must not end by itself before the check has
    read it."""
    pods_there = live_pods_on(lab, {node})
    cause()
    lab.world.clock.advance(45)  # past the 40 s node grace period, the VM still booting
    wait_for(f"{node} NotReady", lambda: node_ready(lab, node) != "True")
    first = assert_coredns_node_down(lab, node, pods_there)
    run_fix(lab, commands(first)[0], tmp_path / "state", "--timeout", "5")
    _, doc = check_json(lab)
    assert "DNS-NO-ENDPOINT" not in codes_of(doc)  # CoreDNS runs elsewhere, the VM still down
    lab.world.clock.advance(DNS_NODE_DOWN)  # the reboot ends (the drill's is the longest)
    wait_for(f"{node} Ready", lambda: node_ready(lab, node) == "True", 180)
    healthy_again(lab, "NODE-NOTREADY", "DNS-NO-ENDPOINT", "WORKLOAD-DOWN")


def test_coredns_node_reboot_seed_004(lab_of, tmp_path: Path):
    lab = lab_of("tailnet", speed=1)
    node = coredns_node(lab)
    reboot_then_fix(lab, node, lambda: labctl(lab, "drill", "coredns-node-reboot"), tmp_path)


def test_the_coredns_vm_rebooted_through_the_proxmox_api(lab_of, tmp_path: Path):
    lab = lab_of("tailnet", speed=1)
    node = coredns_node(lab)
    vmid = labfile.load("tailnet").snapshot.backing[node].vmid
    host = labfile.load("tailnet").snapshot.backing[node].host

    def reboot() -> None:
        response = requests.post(
            f"{lab.pve_url}/api2/json/nodes/{host}/qemu/{vmid}/status/reboot",
            headers={"Authorization": f"PVEAPIToken={PVE_TOKEN_ID}={lab.secret.reveal()}"},
            verify=str(lab.tls.ca_file),
            timeout=10,
        )
        assert response.status_code == 200, response.text

    reboot_then_fix(lab, node, reboot, tmp_path)


# --- the tailnet ----------------------------------------------------------------------------


def tailnet_node_peers() -> list[str]:
    """Peers that are Kubernetes nodes, not this machine, in the lab file's order."""
    data = labfile.load("tailnet").snapshot
    nodes = {n.name for n in data.nodes}
    return [p.hostname for p in data.peers if not p.is_self and p.hostname in nodes]


def test_peer_cut_while_the_machine_runs(lab_of):
    lab = lab_of("tailnet")
    peer = tailnet_node_peers()[-1]  # the drill's pick: the last one
    assert f"tailnet peer {peer} cut off" in labctl(lab, "drill", "peer-cut")
    first, doc = first_incident(lab, 1)
    assert (first["severity"], first["code"], first["root"]["name"]) == (
        "warning",
        "PEER-OFFLINE",
        peer,
    )
    assert first["title"].startswith(f"tailnet peer {peer} (node {peer}) is offline")
    assert first["affected"]["nodes"] == 0  # the node itself still answers Kubernetes
    assert [(f["command"], f["action"]) for f in first["fixes"]] == [("tailscale up", False)]
    # The person's step on that machine: `tailscale up` (labctl reconnect).
    labctl(lab, "reconnect", peer)
    doc = healthy_again(lab, "PEER-OFFLINE")
    assert doc["exit_code"] == 0


def test_key_expiry_takes_a_node_off_the_tailnet(lab_of):
    lab = lab_of("tailnet")
    peer = tailnet_node_peers()[-1]
    assert f"tailnet peer {peer}'s node key expired" in labctl(lab, "drill", "key-expiry")
    first, _ = first_incident(lab, 2)
    assert (first["severity"], first["code"], first["root"]["name"]) == (
        "critical",
        "PEER-KEY-EXPIRED",
        peer,
    )
    assert [(s["code"], s["object"]["name"]) for s in first["symptoms"]] == [("PEER-OFFLINE", peer)]
    assert [(f["command"], f["action"]) for f in first["fixes"]] == [
        ("tailscale up --force-reauth", False)
    ]
    # The person's step: renew the key on that machine (labctl reconnect).
    labctl(lab, "reconnect", peer)
    healthy_again(lab, "PEER-KEY-EXPIRED", "PEER-OFFLINE")


def test_peer_relayed_where_it_was_direct(lab_of):
    lab = lab_of("tailnet")
    data = labfile.load("tailnet").snapshot
    direct = [p.hostname for p in data.peers if p.cur_addr and p.hostname in tailnet_node_peers()]
    peer = direct[-1]
    assert f"tailnet peer {peer} lost its direct path" in labctl(lab, "drill", "peer-relayed")
    # The check before the drill (lab_of) saw the peer direct; this one sees it relayed.
    first, _ = first_incident(lab, 1)
    assert (first["code"], first["root"]["name"]) == ("PEER-RELAYED", peer)
    assert "where it was direct" in first["title"]
    # The person's step: open the path again (a firewall or NAT fixed; labctl reconnect).
    labctl(lab, "reconnect", peer)
    code, doc = check_json(lab)
    assert code in (0, 1)
    assert not [i for i in doc["incidents"] if i["code"] == "PEER-RELAYED"], doc["incidents"]


# --- the nodes ------------------------------------------------------------------------------


def test_disk_pressure_evicts_and_the_disk_is_freed(lab_of, tmp_path: Path):
    lab = lab_of("tailnet")
    # The drill's pick: the Ready node with most pods that no DaemonSet put there.
    counts: dict[str, int] = {}
    for p in pods_json(lab):
        owners = p["metadata"].get("ownerReferences") or []
        if p["spec"].get("nodeName") and not any(o["kind"] == "DaemonSet" for o in owners):
            counts[p["spec"]["nodeName"]] = counts.get(p["spec"]["nodeName"], 0) + 1
    node = max(sorted(counts), key=lambda n: counts[n])
    assert f"node {node} under disk pressure" in labctl(lab, "drill", "disk-pressure")

    first, doc = first_incident(lab, 1)
    assert (first["severity"], first["code"], first["root"]["name"]) == (
        "warning",
        "NODE-DISK-PRESSURE",
        node,
    )
    assert [(f["command"], f["action"]) for f in first["fixes"]] == [
        ("crictl rmi --prune", False),
        (f"cockpit drain {node}", True),
    ]
    evicted = [f for f in doc["findings"] if f["code"] == "POD-EVICTED"]
    assert evicted  # the kubelet's evictions are reported, and are no incident of their own
    # The person's step: free the disk (labctl free-disk); the kubelet lifts the pressure.
    labctl(lab, "free-disk", node)
    healthy_again(lab, "NODE-DISK-PRESSURE")


# --- the workloads --------------------------------------------------------------------------


def app_deployments(name: str) -> list[tuple[str, str, int]]:
    """(namespace, name, replicas) of the lab file's own Deployments, largest first."""
    data = labfile.load(name).snapshot
    apps = [
        (w.namespace, w.name, w.replicas)
        for w in data.workloads
        if w.kind == "Deployment" and w.namespace != "kube-system"
    ]
    return sorted(apps, key=lambda a: (-a[2], a[1]))


def assert_rolled_out_badly(first: dict, lab: RunningLab, code: str, namespace: str, name: str):
    """One incident for the workload, rooted at one of its failing pods, the others beneath
    it, and the rollback offered."""
    assert (first["code"], first["root"]["kind"], first["root"]["namespace"]) == (
        code,
        "Pod",
        namespace,
    )
    assert workload_of(lab, namespace, first["root"]["name"]) == f"deployment/{name}"
    assert all(
        s["code"] == code and s["object"]["name"].startswith(name) for s in first["symptoms"]
    )
    assert first["affected"]["pods"] == 1 + len(first["symptoms"])
    assert commands(first) == [f"kubectl -n {namespace} rollout undo deployment/{name}"]
    assert first["fixes"][0]["action"] is False


def test_crashloop_on_arm_cloud(lab_of):
    lab = lab_of("arm-cloud")
    namespace, name, _ = app_deployments("arm-cloud")[0]  # the drill hits the largest app
    assert f"deployment {namespace}/{name} rolled out" in labctl(lab, "drill", "crashloop")
    wait_for(
        "a pod in CrashLoopBackOff",
        lambda: "CrashLoopBackOff" in kubectl(lab, "-n", namespace, "get", "pods"),
    )
    code, doc = check_json(lab)
    # The bad release's surge pods may preempt a lower-priority workload on these full
    # nodes, which is then down (critical) and ranked first: the crash loop must be there,
    # and first whenever it is the only incident.
    assert code in (1, 2), doc["incidents"]
    loops = [i for i in doc["incidents"] if i["code"] == "POD-CRASHLOOP"]
    if loops:  # old replicas still serve: one failing pod is the root, the rollback offered
        if len(doc["incidents"]) == 1 or code == 1:
            assert doc["incidents"][0] is loops[0]
        assert_rolled_out_badly(loops[0], lab, "POD-CRASHLOOP", namespace, name)
    else:  # every replica crash-loops already: the workload is down, its pods beneath it
        (down,) = [
            i
            for i in doc["incidents"]
            if i["code"] == "WORKLOAD-DOWN" and i["root"]["name"] == name
        ]
        assert down is doc["incidents"][0] and code == 2
        assert {s["code"] for s in down["symptoms"]} == {"POD-CRASHLOOP"}
    # The person's step: roll the bad release back with the real kubectl, as offered.
    kubectl(lab, "-n", namespace, "rollout", "undo", f"deployment/{name}")
    wait_for("the bad pods gone", lambda: check_json(lab)[0] == 0, 60)


@pytest.mark.parametrize("cause", ["drill", "kubectl"])
def test_oom_loop_on_the_tailnet(lab_of, cause: str):
    """The oom-loop drill, and the same fault made by hand with `kubectl set resources`
    (a memory limit a third of what the app normally uses): the same diagnosis."""
    lab = lab_of("tailnet")
    namespace, name, _ = app_deployments("tailnet")[0]  # the largest app with a usage profile
    if cause == "drill":
        assert f"deployment {namespace}/{name}: memory limit lowered" in labctl(
            lab, "drill", "oom-loop"
        )
    else:
        data = labfile.load("tailnet").snapshot
        pod = next(
            p
            for p in data.pods
            if data.workload_of_pod.get(p.key) == ("Deployment", namespace, name)
        )
        assert pod.profile is not None
        limit = f"{pod.profile.normal.memory // 3 // 2**20}Mi"
        kubectl(lab, "-n", namespace, "set", "resources", f"deployment/{name}",
                f"--limits=memory={limit}", f"--requests=memory={limit}")  # fmt: skip
    wait_for(
        "an OOMKilled container",
        lambda: "OOMKilled" in kubectl(lab, "-n", namespace, "get", "pods", "-o", "json"),
    )
    wait_for("the OOM finding", lambda: "POD-OOMKILLED" in codes_of(check_json(lab)[1]), 60)
    first, _ = first_incident(lab, 1)
    assert_rolled_out_badly(first, lab, "POD-OOMKILLED", namespace, name)
    kubectl(lab, "-n", namespace, "rollout", "undo", f"deployment/{name}")
    wait_for("the starved pods gone", lambda: check_json(lab)[0] == 0, 60)


def test_arch_mismatch_on_the_tailnet(lab_of):
    lab = lab_of("tailnet")
    data = labfile.load("tailnet").snapshot
    # The lab file's Deployment whose image is built for one arch only (its pods say so),
    # which the drill pins to nodes of the other arch.
    [single] = {
        data.workload_of_pod[p.key]
        for p in data.pods
        if "," not in p.annotations.get("cockpit.io/image-archs", ",")
        and data.workload_of_pod.get(p.key, ("",))[0] == "Deployment"
    }
    _, namespace, name = single
    assert f"deployment {namespace}/{name}" in labctl(lab, "drill", "arch-mismatch")
    wait_for(
        "the exec format finding", lambda: "POD-EXEC-FORMAT" in codes_of(check_json(lab)[1]), 60
    )
    first, _ = first_incident(lab, 1)
    assert_rolled_out_badly(first, lab, "POD-EXEC-FORMAT", namespace, name)
    kubectl(lab, "-n", namespace, "rollout", "undo", f"deployment/{name}")
    wait_for("the misplaced pod gone", lambda: check_json(lab)[0] == 0, 60)


def test_metrics_server_gone_blinds_the_hpas(lab_of, tmp_path: Path):
    lab = lab_of("tailnet")
    data = labfile.load("tailnet").snapshot
    hpas = len(data.hpas)
    labctl(lab, "drill", "metrics-server-gone")
    wait_for("the metrics API gone", lambda: "METRICS-MISSING" in codes_of(check_json(lab)[1]))
    first, _ = first_incident(lab, 1)
    assert (first["code"], first["root"]["name"]) == ("METRICS-MISSING", "v1beta1.metrics.k8s.io")
    assert f"but {hpas} HPA" in first["title"]
    assert commands(first) == ["cockpit scale kube-system/deployment/metrics-server 1"]
    run_fix(lab, commands(first)[0], tmp_path / "state")
    wait_for("the metrics API back", lambda: check_json(lab)[0] == 0, 60)


def test_pdb_blocks_all_is_a_standing_risk(lab_of):
    """A budget that allows no disruption takes nothing down until someone drains: `check`
    reports it as a risk (exit 0, no incident) on the right object, with its fix."""
    lab = lab_of("tailnet")
    namespace = app_deployments("tailnet")[0][0]
    out = labctl(lab, "drill", "pdb-blocks-all")
    pdb = out.split("PodDisruptionBudget ", 1)[1].split()[0].split("/")[1]
    code, doc = check_json(lab)
    assert code == 0, doc["incidents"]
    [risk] = [
        f
        for f in doc["findings"]
        if f["code"] == "PDB-NO-DISRUPTION" and f["object"]["name"] == pdb
    ]
    assert risk["risk"] and risk["object"]["namespace"] == namespace
    assert f"kubectl -n {namespace} edit pdb {pdb}" in risk["fix"]
    # The person's step the fix names, with the real kubectl: allow one pod at a time.
    kubectl(lab, "-n", namespace, "patch", "pdb", pdb, "--type=merge", "-p",
            '{"spec": {"maxUnavailable": 1}}')  # fmt: skip
    _, doc = check_json(lab)
    assert not [
        f
        for f in doc["findings"]
        if f["code"] == "PDB-NO-DISRUPTION" and f["object"]["name"] == pdb
    ]
