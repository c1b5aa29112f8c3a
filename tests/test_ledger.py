from dataclasses import replace

import pytest
from builders import GI, node, pod, proxmox_lab, res, snapshot

from cockpit import labfile
from cockpit.alloc.ledger import build_ledger, sum_pods
from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, RatioBands, Thresholds
from cockpit.model import Container, Guest, Host, Resources, UsageProfile
from cockpit.units import format_gb, format_ratio


def test_seed_000_table():
    lab = labfile.load("n100")
    host = build_ledger(lab.snapshot, lab.thresholds).host("pve")
    assert (host.cpu.physical, host.cpu.allocated) == (4, 20)
    assert format_ratio(host.cpu.ratio) == "5.00x" and host.cpu.verdict == "safe"
    assert format_gb(host.memory.physical) == "15.41 GB"
    assert format_gb(host.memory.allocated) == "24.00 GB"
    assert format_ratio(host.memory.ratio) == "1.56x" and host.memory.verdict == "balanced"
    assert format_gb(host.disk.physical, 0) == "512 GB"
    assert format_gb(host.disk.allocated, 0) == "250 GB"
    assert format_ratio(host.disk.ratio) == "0.49x" and host.disk.verdict == "ample"


def test_seed_000_alert_levels_are_the_defaults():
    t = DEFAULT_THRESHOLDS
    assert [t.usage_level("memory", p) for p in (74.9, 75, 85, 95)] == [
        "ok",
        "caution",
        "warning",
        "critical",
    ]
    assert [t.usage_level("disk", p) for p in (79.9, 80, 90, 95)] == [
        "ok",
        "caution",
        "warning",
        "critical",
    ]
    # The seed's worked example: 75 % of a 9 GB worker is 6.7 GB.
    assert t.usage_level("memory", 100 * 6.75 / 9) == "caution"


def test_the_seed_lowered_1_7x_memory_for_safety():
    assert DEFAULT_THRESHOLDS.ratio_verdict("memory", 1.7) == "tight"
    assert DEFAULT_THRESHOLDS.ratio_verdict("memory", 1.56) == "balanced"


def test_verdicts_follow_configured_bands():
    strict = Thresholds(cpu_ratio=RatioBands(1, 2, 3, 4))
    assert strict.ratio_verdict("cpu", 5.0) == "over"
    assert strict.ratio_verdict("cpu", 2.0) == "safe"
    assert strict.ratio_verdict("cpu", 0.5) == "ample"


def test_counting_follows_kubectl_view_allocations():
    pods = [
        pod("run-1", "a", "100m", "100Mi"),
        pod("bound-1", "a", "200m", "200Mi", phase="Pending"),  # scheduled, starting: counts
        pod("done-1", "a", "400m", "400Mi", phase="Succeeded"),  # finished: does not count
        pod("wait-1", None, "800m", "800Mi"),  # not scheduled: no node to count against
    ]
    snap = snapshot([node("a", "2", "1Gi")], pods)
    n = build_ledger(snap).node("a")
    assert n.sums.pods == 2
    assert n.sums.requests_cpu == 300
    assert n.requests_cpu_percent == pytest.approx(15.0)


def test_requests_use_the_largest_init_container():
    p = replace(
        pod("p-1", "a", "100m", "64Mi"),
        init_containers=(Container("init", requests=res("1", "32Mi")),),
    )
    n = build_ledger(snapshot([node("a", "2", "1Gi")], [p])).node("a")
    assert n.sums.requests_cpu == 1000 and n.sums.requests_memory == 64 * 2**20


def test_limits_and_pods_without_memory_limit():
    limited = pod("l-1", "a", "100m", "1Gi", limits=res("1", "2Gi"))
    unlimited = pod("u-1", "a", "100m", "1Gi")
    n = build_ledger(snapshot([node("a", "2", "2Gi")], [limited, unlimited])).node("a")
    assert n.sums.limits_memory == 2 * GI
    assert n.sums.unlimited_memory == 1
    assert n.limits_memory.ratio == pytest.approx(1.0)


def test_usage_normal_and_peak_fall_back_in_order():
    profiled = replace(
        pod("a-1", "a", "100m", "1Gi"),
        profile=UsageProfile(res("50m", "512Mi"), res("500m", "3Gi")),
    )
    metered = replace(pod("b-1", "a", "100m", "1Gi"), usage=res("20m", "256Mi"))
    bare = pod("c-1", "a", "100m", "1Gi")
    s = sum_pods([profiled, metered, bare])
    assert s.used_memory == 256 * 2**20  # only metrics count as "used"
    assert s.normal_memory == 512 * 2**20 + 256 * 2**20 + GI
    assert s.peak_memory == 3 * GI + 256 * 2**20 + GI
    assert sum_pods([bare]).used_memory is None


def test_cross_layer_rollup_sums_all_vms_of_one_host():
    snap = proxmox_lab(host_memory="8G", vms=2)
    pods = [pod("a-1", "n0", "2", "3Gi"), pod("b-1", "n1", "2", "3Gi")]
    snap = replace(snap, pods=tuple(pods))
    ledger = build_ledger(snap)
    # Each VM is half full for Kubernetes ...
    assert ledger.node("n0").requests_memory_percent == pytest.approx(50.0)
    # ... but the box has 8 GiB for 6 GiB of requests and 12 GiB of VMs.
    rollup = ledger.rollup("pve1")
    assert rollup.nodes == ("n0", "n1")
    assert rollup.requests_memory.ratio == pytest.approx(0.75)
    assert rollup.requests_cpu.allocated == pytest.approx(4.0)
    assert rollup.requests_cpu.ratio == pytest.approx(0.5)  # 4 cores of requests, 8 threads
    assert ledger.host("pve1").memory.ratio == pytest.approx(1.5)


def test_balloon_floor_and_running_only_views():
    host = Host("pve1", cores=2, threads=4, memory=8 * GI, disk=100 * GI)
    guests = (
        Guest(100, "a", "pve1", vcpus=2, memory=8 * GI, balloon_min=2 * GI),
        Guest(101, "b", "pve1", vcpus=2, memory=4 * GI, status="stopped"),
        Guest(102, "tpl", "pve1", vcpus=8, memory=64 * GI, template=True),
    )
    h = build_ledger(snapshot(hosts=(host,), guests=guests)).host("pve1")
    assert h.guests == 2 and h.running == 1  # templates never run
    assert h.memory.ratio == pytest.approx(1.5)
    assert h.memory_min.ratio == pytest.approx(0.75)
    assert h.running_memory.ratio == pytest.approx(1.0)


def test_host_usage_level_from_guest_metrics():
    host = Host("pve1", cores=2, threads=4, memory=10 * GI, disk=0)
    guests = (Guest(100, "a", "pve1", memory=8 * GI, usage=Resources(100, 8 * GI)),)
    h = build_ledger(snapshot(hosts=(host,), guests=guests)).host("pve1")
    assert h.used_memory_percent == pytest.approx(80.0) and h.memory_level == "caution"


def test_bare_metal_hosts_do_not_dilute_the_proxmox_overcommit():
    snap = proxmox_lab(host_memory="8G", vms=2)
    metal = Host("xeon", cores=12, threads=24, memory=32 * GI, disk=0, proxmox=False)
    snap = replace(snap, hosts=(*snap.hosts, metal))
    totals = build_ledger(snap).totals
    assert totals.memory_ratio.ratio == pytest.approx(1.5)
    assert totals.threads == 32


def test_nodes_without_a_known_host_are_listed():
    snap = snapshot([node("orphan")], [])
    assert build_ledger(snap).unbacked_nodes == ("orphan",)
