import pytest

from cockpit import labfile
from cockpit.labfile import BUILTIN_LABS, LabFileError, loads

MINIMAL = """
[lab]
name = "mini"
distro = "none"

[[hosts]]
name = "pve"
cores = 4
memory = "16G"
disk = "500G"

[[guests]]
vmid = 100
host = "pve"
vcpus = 2
memory = "4G"
disks = ["32G"]

[[nodes]]
name = "n1"
guest = 100
"""


@pytest.mark.parametrize("name", BUILTIN_LABS)
def test_every_builtin_lab_loads(name):
    lab = labfile.load(name)
    snap = lab.snapshot
    assert lab.name == name and lab.description
    assert snap.hosts and snap.nodes and snap.pods
    assert all(n in snap.backing for n in snap.node_by_name), "every node has a known host"
    placed = [p for p in snap.pods if p.node]
    assert placed, "pods are placed"


def test_minimal_lab_derives_node_capacity_from_its_guest():
    lab = loads(MINIMAL, "mini.toml")
    node = lab.snapshot.nodes[0]
    assert node.capacity.cpu == 2000 and node.capacity.memory == 4 * 2**30
    # kubelet's 100Mi hard eviction threshold comes off allocatable
    assert node.allocatable.memory == 4 * 2**30 - 100 * 2**20
    assert node.labels["kubernetes.io/arch"] == "amd64"
    assert lab.snapshot.host_of_node("n1") == "pve"


def error_of(text: str) -> LabFileError:
    with pytest.raises(LabFileError) as info:
        loads(text, "lab.toml")
    return info.value


def test_toml_syntax_error_names_file_and_line():
    err = error_of(MINIMAL + "\n[[guests]\n")
    assert err.file == "lab.toml" and err.line == 23
    assert "not valid TOML" in str(err)


def test_unknown_key_is_a_typo_error_with_its_line():
    err = error_of(MINIMAL.replace('memory = "4G"', 'memroy = "4G"'))
    # the missing memory is found first; fix that and the typo is reported
    assert err.where == "guests[0].memory"
    err = error_of(MINIMAL.replace('disks = ["32G"]', 'disks = ["32G"]\nballon = "1G"'))
    assert err.where == "guests[0].ballon" and "unknown key" in err.message
    assert err.line == 18
    assert str(err).startswith("lab.toml:18: guests[0].ballon: unknown key")


def test_bad_quantities_name_the_key_and_the_expected_form():
    err = error_of(MINIMAL.replace('memory = "16G"', 'memory = "16 gigs"'))
    assert err.where == "hosts[0].memory"
    assert "Proxmox size like 32G" in err.message and "'16 gigs'" in err.message
    text = (
        MINIMAL
        + """
[[workloads]]
name = "web"
requests = { cpu = "lots" }
"""
    )
    err = error_of(text)
    assert err.where == "workloads[0].requests.cpu"
    assert "CPU quantity" in err.message


def test_references_are_checked():
    assert "expected the vmid" in error_of(MINIMAL.replace("guest = 100", "guest = 999")).message
    assert (
        "name of a [[hosts]]" in error_of(MINIMAL.replace('host = "pve"', 'host = "pve9"')).message
    )
    err = error_of(MINIMAL + '[[workloads]]\nname = "w"\npriority_class = "vip"\n')
    assert "unknown priority class 'vip'" in err.message
    err = error_of(MINIMAL + '[[workloads]]\nname = "w"\nnodes = ["n7"]\n')
    assert err.where == "workloads[0].nodes" and "unknown node 'n7'" in err.message


def test_a_lab_needs_hosts_and_unique_names():
    assert error_of("[lab]\nname='x'\n").where == "hosts"
    doubled = MINIMAL + '[[hosts]]\nname = "pve"\ncores = 1\nmemory = "1G"\n'
    assert "defined twice" in error_of(doubled).message


def test_taint_syntax():
    err = error_of(MINIMAL + 'taints = ["dedicated"]\n')
    assert err.where == "nodes[0].taints[0]" and "KEY[=VALUE]:EFFECT" in err.message
    lab = loads(MINIMAL + 'taints = ["dedicated=db:NoSchedule"]\n')
    taint = lab.snapshot.nodes[0].taints[0]
    assert (taint.key, taint.value, taint.effect) == ("dedicated", "db", "NoSchedule")


def test_pinned_pods_land_where_the_file_says_and_overflow_goes_pending():
    text = (
        MINIMAL
        + """
[[workloads]]
name = "big"
replicas = 3
requests = { memory = "1.5Gi" }
"""
    )
    snap = loads(text).snapshot
    phases = sorted(p.phase for p in snap.pods)
    # 3.9Gi allocatable holds two pods of 1.5Gi; the scheduler leaves the third Pending.
    assert phases == ["Pending", "Running", "Running"]
    workload = snap.workloads[0]
    assert workload.replicas == 3 and workload.ready_replicas == 2


def test_k3s_distro_brings_single_replica_coredns_and_daemonsets_on_every_node():
    lab = labfile.load("n100")
    snap = lab.snapshot
    coredns = snap.workload_by_key[("Deployment", "kube-system", "coredns")]
    assert coredns.replicas == 1
    svclb = [p for p in snap.pods if p.name.startswith("svclb-traefik")]
    assert sorted(p.node for p in svclb) == sorted(snap.node_by_name)


def test_kubeadm_distro_has_mirror_pods_on_control_planes():
    text = MINIMAL.replace('distro = "none"', 'distro = "kubeadm"') + 'roles = ["control-plane"]\n'
    snap = loads(text).snapshot
    mirrors = [p for p in snap.pods if p.is_mirror]
    assert {p.name for p in mirrors} == {
        "etcd-n1",
        "kube-apiserver-n1",
        "kube-controller-manager-n1",
        "kube-scheduler-n1",
    }
    assert all(p.owner and p.owner.kind == "Node" for p in mirrors)


def test_pod_names_are_stable_across_loads():
    a = [p.name for p in labfile.load("n100").snapshot.pods]
    b = [p.name for p in labfile.load("n100").snapshot.pods]
    assert a == b and len(set(a)) == len(a)


def test_thresholds_can_be_overridden_and_are_validated():
    lab = loads(MINIMAL + "[thresholds.memory_ratio]\nbalanced = 1.4\n")
    assert lab.thresholds.memory_ratio.balanced == 1.4
    err = error_of(MINIMAL + "[thresholds.memory_ratio]\nbalanced = 3.0\n")
    assert "must increase" in err.message
    err = error_of(MINIMAL + "[thresholds.ram_ratio]\nsafe = 1\n")
    assert "unknown threshold group" in err.message


def test_resolve_rejects_unknown_names():
    with pytest.raises(LabFileError, match="not a built-in lab"):
        labfile.load("no-such-lab")


WORKLOAD = """
[[workloads]]
name = "web"
replicas = 2
requests = { cpu = "250m", memory = "512Mi" }
spread = [{ max_skew = 1 }]
"""


@pytest.mark.parametrize(
    ("old", "new", "where", "expected"),
    [
        ('memory = "512Mi"', 'memory = "-512Mi"', "workloads[0].requests.memory", "-512Mi"),
        ('cpu = "250m"', 'cpu = "-250m"', "workloads[0].requests.cpu", "-250m"),
        ("vcpus = 2", "vcpus = -2", "guests[0].vcpus", "from 1 to 1,024"),
        ("vcpus = 2", "vcpus = 0", "guests[0].vcpus", "from 1 to 1,024"),
        ("guest = 100", "guest = 100\nmax_pods = -5", "nodes[0].max_pods", "from 1 to 2,500"),
        ('memory = "16G"', 'memory = "0"', "hosts[0].memory", "RAM above zero"),
        (
            'memory = "4G"',
            'memory = "4G"\nballoon_min = "8G"',
            "guests[0].balloon_min",
            "at or below",
        ),
        ("max_skew = 1", "max_skew = 0", "workloads[0].spread[0].max_skew", "from 1 to 1,000"),
        ("replicas = 2", "replicas = 1000000", "workloads[0].replicas", "from 0 to 10,000"),
        ("replicas = 2", "replicas = 1000000000", "workloads[0].replicas", "from 0 to 10,000"),
        ("cores = 4", "cores = 100000", "hosts[0].cores", "from 1 to 1,024"),
        ('disks = ["32G"]', 'disks = ["-32G"]', "guests[0].disks[0]", ""),
        ('memory = "512Mi"', 'memory = "1E"', "workloads[0].requests.memory", "1 PiB"),
    ],
)
def test_impossible_numbers_are_rejected_with_file_line_key_and_expectation(
    old, new, where, expected
):
    text = (MINIMAL + WORKLOAD).replace(old, new, 1)
    err = error_of(text)
    assert err.where == where, str(err)
    assert err.file == "lab.toml" and err.line is not None
    assert expected in err.message and "expected" in err.message


def test_no_more_pods_than_a_lab_can_simulate():
    many = "".join(f'\n[[workloads]]\nname = "w{i}"\nreplicas = 10000\n' for i in range(6))
    err = error_of(MINIMAL + many)
    assert err.where == "workloads[5].replicas" and "50,000 pods" in err.message
