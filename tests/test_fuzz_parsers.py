"""Every parser of outside data raises only its documented error, whatever it is fed.

Fed from the real captures in ../shared/fixtures/ (mutated: keys dropped, types swapped,
1e400 and 10**400, empty strings, nested nulls) and from random JSON. The documented errors:
kube_parse and the Proxmox parse_* functions raise ValueError (the Proxmox source turns it
into a SourceError), the Tailscale parsers SourceError, the unit parsers ValueError (and
TypeError for a value that is not a str/int/float at all), lab files LabFileError, the config
ConfigError. Anything else escaping is a crash waiting for a bad answer.

The CI profile is derandomized (fixed cases, no flakes); see tests/fuzzing.py.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from fuzzing import (
    HUGE_INT,
    NASTY,
    fuzz_settings,
    load_fixture,
    mutated,
    mutated_text,
    random_json,
    seeds_or_random,
    to_toml,
)
from hypothesis import given
from hypothesis import strategies as st

from cockpit import units
from cockpit.config import ConfigError, load_config
from cockpit.labfile import BUILTIN_LABS, LabFileError, builtin_lab_path, loads
from cockpit.sources import kube_parse, proxmox, tailscale
from cockpit.sources.health import SourceError
from cockpit.tomlread import TomlFileError, parse_toml

# --- kube ------------------------------------------------------------------------------------


def _items(relative: str) -> list[Any]:
    doc = load_fixture(relative)
    return doc.get("items", [doc])


KUBE_PODS = _items("kube/k8rs-kube-system-pods.json") + _items("kube/k8rs-crashloop.json")
KUBE_PODS += _items("kube/k8rs-oom.json")
KUBE_NODES = _items("kube/k8rs-nodes.json")
KUBE_DEPLOYMENTS = _items("kube/k8rs-deployments.json")
KUBE_PDBS = _items("kube/k8rs-poddisruptionbudgets.json")
KUBE_NODE_METRICS = _items("kube/kyverno-docs-k3d-nodemetrics.json")
KUBE_POD_METRICS = [
    {
        "metadata": {"name": "coredns-1", "namespace": "kube-system"},
        "containers": [{"name": "coredns", "usage": {"cpu": "2861292n", "memory": "14880Ki"}}],
    }
]
KUBE_PRIORITY = [
    {"metadata": {"name": "high"}, "value": 1000, "globalDefault": False, "description": "x"}
]
KUBE_LISTS = [
    load_fixture("kube/k8rs-nodes.json"),
    load_fixture("kube/k8rs-poddisruptionbudgets.json"),
    load_fixture("kube/kyverno-docs-k3d-nodemetrics.json"),
]

KUBE_CASES = [
    ("pod", kube_parse.parse_pod, KUBE_PODS),
    ("node", kube_parse.parse_node, KUBE_NODES),
    ("deployment", lambda o: kube_parse.parse_workload(o, "Deployment"), KUBE_DEPLOYMENTS),
    ("workload", kube_parse.parse_workload, KUBE_DEPLOYMENTS),
    ("pdb", kube_parse.parse_pdb, KUBE_PDBS),
    ("priority", kube_parse.parse_priority_class, KUBE_PRIORITY),
    ("node-metrics", kube_parse.parse_node_metrics, KUBE_NODE_METRICS),
    ("pod-metrics", kube_parse.parse_pod_metrics, KUBE_POD_METRICS),
    ("list", lambda d: kube_parse.parse_list(d, kube_parse.parse_node), KUBE_LISTS),
]


def only(errors: tuple[type[BaseException], ...], parse: Any, *args: Any) -> None:
    """Call the parser; anything but the documented errors fails the test with the input."""
    try:
        parse(*args)
    except errors as exc:
        assert str(exc), f"{type(exc).__name__} without a message"


@pytest.mark.parametrize(("name", "parse", "seeds"), KUBE_CASES, ids=[c[0] for c in KUBE_CASES])
def test_kube_parsers_raise_only_value_error(name: str, parse: Any, seeds: list[Any]) -> None:
    for seed in seeds:  # the captures themselves parse
        parse(seed)

    @fuzz_settings(150)
    @given(seeds_or_random(seeds))
    def run(doc: Any) -> None:
        only((ValueError,), parse, doc)

    run()


@pytest.mark.parametrize(
    "doc",
    [
        {"spec": {}},
        {"metadata": {"name": "x"}, "spec": {}},
        {"metadata": {"name": "x"}, "spec": {"replicas": HUGE_INT}},
        {"metadata": {"name": "x"}, "status": {"capacity": {"cpu": 1e400}}},
        {"metadata": {"name": "x"}, "status": {"allocatable": {"pods": "1e400"}}},
        {
            "metadata": {"name": "x"},
            "spec": {"containers": [{"resources": {"limits": {"cpu": []}}}]},
        },
    ],
)
def test_kube_parsers_on_known_escapes(doc: dict) -> None:
    for _, parse, _ in KUBE_CASES[:-1]:
        only((ValueError,), parse, doc)


def test_kube_parse_time_only_value_error() -> None:
    @fuzz_settings(100)
    @given(st.one_of(random_json, st.text(max_size=40)))
    def run(value: Any) -> None:
        only((ValueError,), kube_parse.parse_time, value)

    run()


# --- Proxmox ---------------------------------------------------------------------------------


def _pve(relative: str) -> Any:
    return load_fixture(relative)["data"]


PVE_RESOURCES = _pve("proxmox/pvecli-cluster-resources-full.json")
PVE_NODES = _pve("proxmox/pvecli-nodes.json")
PVE_GUESTS = _pve("proxmox/pvecli-qemu.json")
PVE_TASKS = _pve("proxmox/pvecli-tasks.json")
PVE_CASES = [
    ("cluster-resources", proxmox.parse_cluster_resources, [PVE_RESOURCES]),
    ("cluster-status", proxmox.parse_cluster_status, [_pve("proxmox/pvecli-cluster-status.json")]),
    ("nodes", proxmox.parse_nodes, [PVE_NODES]),
    ("node-entry", proxmox.parse_node_entry, PVE_NODES),
    ("node-status", proxmox.parse_node_status, [_pve("proxmox/pvecli-node-status.json")]),
    ("guest-list", lambda d: proxmox.parse_guest_list(d, "pve", "qemu"), [PVE_GUESTS]),
    (
        "guest-entry",
        lambda d: proxmox.parse_guest_entry(d, "qemu", "pve"),
        [
            _pve("proxmox/pvecli-qemu-status.json"),
            _pve("proxmox/pvecli-lxc-status-managed.json"),
            *[r for r in PVE_RESOURCES if r.get("type") in ("qemu", "lxc")],
        ],
    ),
    (
        "storage-entry",
        proxmox.parse_storage_entry,
        [r for r in PVE_RESOURCES if r.get("type") == "storage"],
    ),
    (
        "qemu-config",
        lambda d: proxmox.parse_guest_config(d, "qemu"),
        [_pve("proxmox/pvecli-qemu-config.json")],
    ),
    (
        "lxc-config",
        lambda d: proxmox.parse_guest_config(d, "lxc"),
        [_pve("proxmox/pvecli-qemu-config.json")],
    ),
    ("task-list", proxmox.parse_task_list, [PVE_TASKS]),
    ("task-status", proxmox.parse_task_status, PVE_TASKS),
    ("task-log", proxmox.parse_task_log, [[{"n": 1, "t": "starting"}, {"n": 2, "t": "TASK OK"}]]),
    ("version", proxmox.parse_version, [{"version": "9.0.3", "release": "9.0", "repoid": "x"}]),
    (
        "agent-interfaces",
        proxmox.parse_agent_interfaces,
        [{"result": [{"name": "eth0", "ip-addresses": [{"ip-address": "10.0.0.5"}]}]}],
    ),
    (
        "lxc-interfaces",
        proxmox.parse_lxc_interfaces,
        [[{"name": "eth0", "inet": "10.0.0.6/24", "inet6": "fe80::1/64"}]],
    ),
]


@pytest.mark.parametrize(("name", "parse", "seeds"), PVE_CASES, ids=[c[0] for c in PVE_CASES])
def test_proxmox_parsers_raise_only_value_error(name: str, parse: Any, seeds: list[Any]) -> None:
    for seed in seeds:
        parse(seed)

    @fuzz_settings(120)
    @given(seeds_or_random(seeds))
    def run(doc: Any) -> None:
        only((ValueError,), parse, doc)

    run()


@pytest.mark.parametrize(
    "value",
    [float("inf"), HUGE_INT, float("nan"), "1e400", str(HUGE_INT), -(2**63)],
    ids=["1e400", "10**400", "nan", "'1e400'", "'10**400'", "-2**63"],
)
@pytest.mark.parametrize("key", ["maxmem", "maxcpu", "mem", "cpu", "uptime", "vmid", "maxdisk"])
def test_proxmox_guest_numbers_out_of_range(key: str, value: Any) -> None:
    entry = {"vmid": 100, "type": "qemu", "node": "pve", "name": "vm", key: value}
    with pytest.raises(ValueError, match="out of range"):
        proxmox.parse_guest_entry(entry)


def test_proxmox_guest_without_vmid_is_a_value_error() -> None:
    for entry in ({"vmid": "", "type": "qemu"}, {"type": "qemu"}, {"vmid": None, "type": "lxc"}):
        with pytest.raises(ValueError, match="vmid"):
            proxmox.parse_guest_entry(entry)


@given(st.text(max_size=60), st.text(max_size=60))
@fuzz_settings(200)
def test_proxmox_property_strings(key: str, value: str) -> None:
    """Disk lines and other `key=value,...` property strings from guest configs."""
    only((ValueError,), proxmox.parse_disk, "scsi0", value)
    only((ValueError,), proxmox.parse_disk, key, value)
    only((ValueError,), proxmox.parse_upid, value)
    only((ValueError,), proxmox.parse_guest_config, {"memory": value, "scsi0": value}, "qemu")


@pytest.mark.parametrize(
    "size",
    ["local:1,size=" + "9" * 5000 + "G", "local:1,size=1e400", "local:1,size=,", "x,size=-1"],
)
def test_proxmox_disk_sizes_out_of_range(size: str) -> None:
    only((ValueError,), proxmox.parse_disk, "scsi0", size)


def test_proxmox_source_turns_parse_failures_into_source_errors() -> None:
    """What the adapter does with an unreadable answer: a SourceError, with no exception
    of another type getting through to the poller's thread."""
    from cockpit.secret import Secret

    source = proxmox.ProxmoxSource(
        "127.0.0.1",
        9,
        user="u@pam",
        token_name="t",
        token_value=Secret("not-in-any-message"),
        timeout=0.1,
    )
    for doc in ([{"type": "qemu", "vmid": ""}], [{"type": "qemu", "vmid": 1, "maxmem": HUGE_INT}]):
        with pytest.raises(SourceError, match="unexpected answer"):
            source._parse(proxmox.parse_cluster_resources, doc)


# --- Tailscale -------------------------------------------------------------------------------

TS_STATUS = [
    load_fixture("tailscale/yclaw-status.json"),
    load_fixture("tailscale/jq-exporter-status.json"),
    load_fixture("tailscale/dgx-control-status.json"),
]
# apitype.WhoIsResponse and ipnstate.PingResult, in the shape tailscaled 1.8x sends.
TS_WHOIS = [
    {
        "Node": {
            "ID": 1,
            "Name": "pi-1.tail1234.ts.net.",
            "Key": "nodekey:abc",
            "Addresses": ["100.64.0.2/32", "fd7a:115c:a1e0::2/128"],
            "AllowedIPs": ["100.64.0.2/32", "0.0.0.0/0"],
            "HomeDERP": 4,
            "DERP": "127.3.3.40:4",
            "Hostinfo": {"Hostname": "pi-1", "OS": "linux"},
            "Online": True,
            "LastSeen": "2026-08-20T22:42:54Z",
            "KeyExpiry": "0001-01-01T00:00:00Z",
            "ComputedName": "pi-1",
        },
        "UserProfile": {"ID": 2, "LoginName": "me@example.com", "DisplayName": "Me"},
        "CapMap": {},
    }
]
TS_PING = [
    {
        "IP": "100.64.0.2",
        "NodeIP": "100.64.0.2",
        "NodeName": "pi-1",
        "LatencySeconds": 0.0123,
        "Endpoint": "192.168.1.20:41641",
        "DERPRegionID": 0,
        "DERPRegionCode": "",
        "PeerAPIPort": 0,
        "IsLocalIP": False,
    },
    {"IP": "100.64.0.3", "Err": 'ping "100.64.0.3" timed out', "LatencySeconds": 0},
]
TS_CASES = [
    ("status", tailscale.parse_status, TS_STATUS),
    ("whois", tailscale.parse_whois, TS_WHOIS),
    ("ping", tailscale.parse_ping, TS_PING),
]


@pytest.mark.parametrize(("name", "parse", "seeds"), TS_CASES, ids=[c[0] for c in TS_CASES])
def test_tailscale_parsers_raise_only_source_error(name: str, parse: Any, seeds: list[Any]) -> None:
    for seed in seeds:
        parse(seed)

    @fuzz_settings(120)
    @given(seeds_or_random(seeds))
    def run(doc: Any) -> None:
        only((SourceError,), parse, doc)

    run()


@pytest.mark.parametrize(
    "value", [HUGE_INT, -HUGE_INT, float("inf"), float("nan")], ids=["big", "-big", "inf", "nan"]
)
def test_tailscale_ping_latency_out_of_range(value: Any) -> None:
    with pytest.raises(SourceError, match="LatencySeconds"):
        tailscale.parse_ping({"IP": "100.64.0.2", "LatencySeconds": value})


def test_tailscale_whois_legacy_derp_beyond_int_digits() -> None:
    doc = {"Node": {"Name": "pi-1.ts.net.", "DERP": "127.3.3.40:" + "9" * 5000}}
    assert tailscale.parse_whois(doc).peer.relay == ""


def test_tailscale_status_json_bytes() -> None:
    raw = [b"", b"{", b'{"Peer": 1e400}', b"[]", b"null", b'{"Self": {"Online": 1e400}}']

    @fuzz_settings(150)
    @given(st.one_of(st.sampled_from(raw), st.binary(max_size=60)))
    def run(body: bytes) -> None:
        only((SourceError,), tailscale.parse_status_json, body)

    run()


# --- units -----------------------------------------------------------------------------------

QUANTITY_SEEDS = ["250m", "512Mi", "1.5Gi", "2e3", "298952967n", "1", "0.1", "1E", "110"]
quantity_text = st.one_of(
    st.sampled_from(QUANTITY_SEEDS + [s for s in NASTY if isinstance(s, str)]),
    st.text(alphabet="0123456789.eE+-munkKMGTPEi ", max_size=30),
    st.text(max_size=20),
)


@pytest.mark.parametrize(
    "parse", [units.parse_quantity, units.parse_cpu, units.parse_bytes, units.parse_pve_size]
)
def test_unit_parsers_raise_only_value_error_on_text(parse: Any) -> None:
    @fuzz_settings(300)
    @given(quantity_text)
    def run(text: str) -> None:
        only((ValueError,), parse, text)

    run()


@pytest.mark.parametrize(
    "parse", [units.parse_quantity, units.parse_cpu, units.parse_bytes, units.parse_pve_size]
)
def test_unit_parsers_on_any_value(parse: Any) -> None:
    """Not a string: a ValueError for a number out of range, a TypeError for what is no
    quantity at all, both as documented."""

    @fuzz_settings(150)
    @given(random_json)
    def run(value: Any) -> None:
        only((ValueError, TypeError), parse, value)

    run()


numbers = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([HUGE_INT, -HUGE_INT, 10**5000, float("inf"), float("nan"), 2**1024]),
)


def test_unit_formatters_never_raise() -> None:
    @fuzz_settings(300)
    @given(numbers)
    def run(n: int | float) -> None:
        for fmt in (units.format_ratio, units.format_bytes, units.format_gb, units.format_cpu):
            text = fmt(n)
            assert isinstance(text, str) and text

    run()


@pytest.mark.parametrize(
    "value", [HUGE_INT, -HUGE_INT, 10**5000], ids=["1e400", "-1e400", "1e5000"]
)
def test_format_ratio_of_a_huge_int(value: int) -> None:
    assert units.format_ratio(value) == ("inf" if value > 0 else "-inf")
    assert units.format_ratio(1e400) == "inf"  # the float 1e400 already was
    assert math.isinf(1e400)


# --- TOML files ------------------------------------------------------------------------------

LAB_TEXTS = [builtin_lab_path(name).read_text(encoding="utf-8") for name in BUILTIN_LABS]
LAB_DOCS = [parse_toml(text, "lab") for text in LAB_TEXTS]


def test_lab_files_raise_only_lab_file_error_on_mutated_values() -> None:
    @fuzz_settings(120)
    @given(mutated(LAB_DOCS, max_mutations=3))
    def run(doc: Any) -> None:
        text = to_toml(doc) if isinstance(doc, dict) else "x = 1\n"
        only((LabFileError,), loads, text, "fuzz.toml")

    run()


def test_lab_files_raise_only_lab_file_error_on_damaged_text() -> None:
    @fuzz_settings(80)
    @given(mutated_text(LAB_TEXTS))
    def run(text: str) -> None:
        only((LabFileError,), loads, text, "fuzz.toml")

    run()


def test_toml_reader_raises_only_its_error() -> None:
    only((TomlFileError,), parse_toml, "x = " + "9" * 5000, "x.toml")  # int()'s digit limit

    @fuzz_settings(200)
    @given(st.text(max_size=80))
    def run(text: str) -> None:
        only((TomlFileError,), parse_toml, text, "x.toml")

    run()


CONFIG_DOCS = [
    {
        "kubernetes": {"kubeconfig": "/nonexistent/kubeconfig", "context": "home"},
        "proxmox": {
            "url": "https://pve.lan:8006",
            "token": "cockpit@pve!monitor",
            "secret": "env:PVE_SECRET",
            "ca_file": "/etc/pve/pve-root-ca.pem",
            "insecure": False,
            "timeout": 5,
        },
        "tailscale": {"socket": "/run/tailscale/tailscaled.sock", "cli": "tailscale"},
        "links": {"worker-1": {"host": "pve", "vmid": 102}},
        "thresholds": {"memory_ratio": {"balanced": 1.5}},
        "ui": {"theme": "dark", "readonly": False},
    }
]


def test_config_raises_only_config_error(tmp_path: Path) -> None:
    env = {"PVE_SECRET": "s3cret", "HOME": str(tmp_path)}

    @fuzz_settings(150)
    @given(mutated(CONFIG_DOCS, max_mutations=3))
    def run(doc: Any) -> None:
        path = tmp_path / "config.toml"
        path.write_text(to_toml(doc) if isinstance(doc, dict) else "", encoding="utf-8")
        only((ConfigError,), load_config, path, env)

    run()
