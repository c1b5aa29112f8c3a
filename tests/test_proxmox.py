"""The Proxmox adapter against captured PVE answers, the lab's PVE face over real HTTPS
sockets, and fakepve: parsing, power tasks on the lab clock, offline nodes, permissions,
TLS, faults, and that the API token never shows anywhere."""

from __future__ import annotations

import itertools
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from proxmox_helpers import (
    DUO_LAB,
    FIXTURES,
    RO_SECRET,
    RW_SECRET,
    SECRETS,
    LabPve,
    fixture,
    schema_problems,
    start_lab,
)

from cockpit import labfile
from cockpit.lab.tls import LabTls, make_lab_tls
from cockpit.model import Disk, Resources
from cockpit.secret import Secret
from cockpit.sources.health import SourceError
from cockpit.sources.proxmox import (
    BOOTING,
    ClusterStatus,
    NodeEntry,
    ProxmoxSource,
    build_guest,
    build_host,
    parse_cluster_resources,
    parse_cluster_status,
    parse_disk,
    parse_guest_config,
    parse_guest_entry,
    parse_guest_list,
    parse_node_status,
    parse_nodes,
    parse_task_list,
    parse_upid,
)
from cockpit.units import parse_pve_size

GiB = 2**30


# --- captured answers ------------------------------------------------------------------------


def check_cluster_resources(data: Any) -> None:
    inv = parse_cluster_resources(data)
    (node,) = inv.nodes
    assert (node.name, node.online, node.maxcpu, node.maxmem) == ("pve", True, 16, 33041162240)
    assert [(g.kind, g.vmid) for g in inv.guests] == [
        ("lxc", 120), ("qemu", 210), ("qemu", 211), ("qemu", 212), ("qemu", 9000), ("qemu", 9001)
    ]  # fmt: skip
    web = inv.guests[0]
    assert (web.name, web.status, web.tags, web.maxmem) == (
        "web", "stopped", ("lab", "lxc", "pvectl"), GiB
    )  # fmt: skip
    assert [g.vmid for g in inv.guests if g.template] == [9000, 9001]
    app = build_guest(inv.guests[1], None)
    assert (app.name, app.vcpus, app.memory, app.disk_total) == ("lab-app-01", 2, 2 * GiB, 20 * GiB)
    assert app.usage == Resources(30, 780070912)  # 0.01483 of 2 CPUs
    assert {(s.storage, s.plugintype, s.maxdisk) for s in inv.storage} == {
        ("local", "dir", 100861726720), ("local-lvm", "lvmthin", 852878163968)
    }  # fmt: skip
    host = build_host(node, None, inv.storage)
    assert (host.threads, host.memory) == (16, 33041162240)
    assert host.disk == 100861726720 + 852878163968  # root fs + the thin pool, not "local" twice
    assert host.usage == Resources(98, 3965440000)


def check_cluster_status(data: Any) -> None:
    assert parse_cluster_status(data) == ClusterStatus("", None, (("pve", True),))


def check_lxc_status(data: Any) -> None:
    ct = parse_guest_entry(data, "lxc", "pve")
    assert (ct.vmid, ct.kind, ct.node, ct.name, ct.status) == (121, "lxc", "pve", "web2", "stopped")
    assert (ct.maxcpu, ct.maxmem, ct.maxdisk) == (1, GiB, 8 * GiB)
    assert ct.tags == ("lab", "managed", "terraform")
    assert ct.usage == Resources(0, 0)


def check_node_status(data: Any) -> None:
    st = parse_node_status(data)
    assert st.cpu_model == "AMD Ryzen 7 5800H with Radeon Graphics"
    assert (st.cores, st.threads, st.sockets) == (8, 16, 1)
    assert (st.memory_total, st.memory_used) == (33041162240, 2405330944)
    assert (st.rootfs_total, st.rootfs_used, st.uptime) == (100861726720, 4446085120, 8749)
    assert st.pveversion == "pve-manager/9.2.2/b9984c6d90a4bd80"
    assert st.loadavg == (0.02, 0.02, 0.0)
    host = build_host(NodeEntry("pve", "online"), st)
    assert (host.cores, host.threads, host.memory, host.disk) == (8, 16, 33041162240, 100861726720)
    assert host.online and host.cpu_model.startswith("AMD Ryzen 7")


def check_nodes(data: Any) -> None:
    (node,) = parse_nodes(data)
    assert (node.name, node.status, node.maxcpu, node.mem, node.uptime) == (
        "pve", "online", 16, 2150776832, 9473
    )  # fmt: skip
    assert node.cpu == pytest.approx(0.00117581533510737)


def check_qemu_config(data: Any) -> None:
    cfg = parse_guest_config(data, "qemu")
    assert (cfg.name, cfg.vcpus, cfg.memory, cfg.balloon_min) == ("lab-app-01", 2, 2 * GiB, None)
    # ide2 is the cloud-init drive (media=cdrom): not a disk.
    assert cfg.disks == (Disk("scsi0", 3 * GiB, "local-lvm"),)
    assert (cfg.tags, cfg.agent, cfg.template) == (("lab",), True, False)
    assert cfg.digest == "143646922b511c2d10221fdbcadc7117f5402310"


def check_qemu_status(data: Any) -> None:
    vm = parse_guest_entry(data, "qemu", "pve")
    assert (vm.vmid, vm.status, vm.qmpstatus, vm.pid, vm.uptime) == (
        211, "running", "running", 32749, 55
    )  # fmt: skip
    assert (vm.maxcpu, vm.maxmem) == (2, 2 * GiB)
    assert vm.usage == Resources(6, 409604096)


def check_qemu_list(data: Any) -> None:
    (vm,) = parse_guest_list(data, "pve", "qemu")
    assert (vm.vmid, vm.kind, vm.node, vm.name) == (211, "qemu", "pve", "lab-app-01")
    assert (vm.maxcpu, vm.mem, vm.maxdisk) == (2, 562384896, 3 * GiB)


def check_tasks(data: Any) -> None:
    tasks = parse_task_list(data)
    assert len(tasks) == 10 and all(not t.running for t in tasks)
    first, last = tasks[0], tasks[-1]
    assert (first.type, first.exitstatus, first.ok, first.endtime) == (
        "vncshell", "OK", True, 1785507342
    )  # fmt: skip
    assert last.type == "aptupdate" and not last.ok
    assert last.exitstatus == "command 'apt-get update' failed: exit code 100"
    for raw, task in zip(data, tasks, strict=True):  # the UPID encodes what the list repeats
        upid = parse_upid(task.upid)
        assert (upid.node, upid.pid, upid.pstart, upid.starttime, upid.type) == (
            raw["node"], raw["pid"], raw["pstart"], raw["starttime"], raw["type"]
        )  # fmt: skip


LVM = "local-lvm"
DISK_CASES = [
    ("scsi0", "local-lvm:vm-101-disk-0,iothread=1,size=32G", Disk("scsi0", 32 * GiB, LVM)),
    ("virtio1", "tank:vm-101-disk-1,size=1.5T", Disk("virtio1", 3 * 2**39, "tank")),
    ("efidisk0", "local-lvm:vm-101-disk-2,efitype=4m,size=528K", Disk("efidisk0", 528 << 10, LVM)),
    ("sata2", "/dev/disk/by-id/ata-WDC_WD40,size=3907018584K", Disk("sata2", 3907018584 << 10)),
    ("mp0", "volume=local-lvm:vm-200-disk-1,mp=/data,size=20G", Disk("mp0", 20 * GiB, LVM)),
    ("ide2", "local:iso/debian-13.iso,media=cdrom,size=631M", None),  # an ISO has a size
    ("ide0", "local-lvm:vm-211-cloudinit,media=cdrom", None),
    ("mp1", "/srv/media,mp=/media", None),  # a bind mount: no volume of ours
    ("unused0", "local-lvm:vm-101-disk-3,size=8G", None),
    ("net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0", None),
]


@pytest.mark.parametrize(("key", "value", "disk"), DISK_CASES)
def test_parse_disk(key, value, disk):
    assert parse_disk(key, value) == disk


FIXTURE_CASES: dict[str, tuple[str, Callable[[Any], None]]] = {
    "pvecli-cluster-resources-full.json": ("/cluster/resources", check_cluster_resources),
    "pvecli-cluster-status.json": ("/cluster/status", check_cluster_status),
    "pvecli-lxc-status-managed.json": ("/nodes/pve/lxc/121/status/current", check_lxc_status),
    "pvecli-node-status.json": ("/nodes/pve/status", check_node_status),
    "pvecli-nodes.json": ("/nodes", check_nodes),
    "pvecli-qemu-config.json": ("/nodes/pve/qemu/211/config", check_qemu_config),
    "pvecli-qemu-status.json": ("/nodes/pve/qemu/211/status/current", check_qemu_status),
    "pvecli-qemu.json": ("/nodes/pve/qemu", check_qemu_list),
    "pvecli-tasks.json": ("/nodes/pve/tasks", check_tasks),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_captured_answer_parses(name):
    path, check = FIXTURE_CASES[name]
    data = fixture(name)
    check(data)
    # The same strict schema check the face's answers get; on real data it must hold too.
    assert schema_problems(path, data, required=False) == []


def test_every_captured_answer_has_a_case():
    if not FIXTURES.is_dir():
        pytest.fail(f"captured PVE fixtures missing: {FIXTURES}")
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(FIXTURE_CASES)


# --- the lab face ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> LabTls:
    return make_lab_tls(tmp_path_factory.mktemp("pve-tls"))


@pytest.fixture
def n100(tls) -> Iterator[LabPve]:
    lab = start_lab(labfile.load("n100"), tls)
    yield lab
    lab.face.stop()


@pytest.fixture
def duo(tls) -> Iterator[LabPve]:
    lab = start_lab(labfile.loads(DUO_LAB, "duo.toml"), tls)
    yield lab
    lab.face.stop()


def test_fetch_gives_the_n100_host_and_its_four_guests(n100):
    state = n100.source().fetch()
    planned = n100.world.lab.snapshot
    (host,) = state.hosts
    (plan,) = planned.hosts
    assert (host.name, host.cores, host.threads) == ("pve", 4, 4)
    assert host.memory == plan.memory == parse_pve_size("15.41G")
    assert host.disk == plan.disk == 512 * GiB  # root fs + local-lvm
    assert host.cpu_model == "Intel N100" and host.online
    assert host.usage is not None and 0 < host.usage.memory < host.memory
    assert (state.cluster, state.version) == ("", "9.0.10")
    got = {g.vmid: g for g in state.guests}
    assert sorted(got) == [100, 101, 102, 103]
    for want in planned.guests:
        g = got[want.vmid]
        assert (g.name, g.host, g.kind, g.status) == (want.name, "pve", "qemu", "running")
        assert (g.vcpus, g.memory, g.tags) == (want.vcpus, want.memory, want.tags)
        assert [d.size for d in g.disks] == [d.size for d in want.disks]
        assert g.usage is not None and g.usage.cpu > 0
    assert (got[100].vcpus, got[102].memory, got[103].disk_total) == (2, 9 * GiB, 100 * GiB)
    assert got[101].ips == ("192.168.1.11",)  # from the guest agent


def test_configs_are_fetched_only_when_new_or_changed(n100):
    src = n100.source()
    src.fetch()
    assert len(n100.face.paths("GET", "/config")) == 4
    src.fetch()
    assert len(n100.face.paths("GET", "/config")) == 4  # nothing changed: nothing refetched
    with n100.world.lock:  # an operator gives worker-2 more memory
        g = n100.world.guests[103]
        n100.world.guests[103] = replace(g, memory=12 * GiB)
    r = n100.api("POST", "/nodes/pve/qemu/101/clone", newid=150, name="k3s-spare")
    assert r.status_code == 200, r.reason
    assert src.wait_task("pve", r.json()["data"], timeout=10, poll=0.02).ok
    state = src.fetch()
    assert n100.face.paths("GET", "/config")[4:] == [
        "/nodes/pve/qemu/103/config",
        "/nodes/pve/qemu/150/config",
    ]
    got = {g.vmid: g for g in state.guests}
    assert got[103].memory == 12 * GiB
    spare, master = got[150], got[101]
    assert (spare.name, spare.status, spare.vcpus, spare.memory) == (
        "k3s-spare", "stopped", master.vcpus, master.memory
    )  # fmt: skip
    assert [d.size for d in spare.disks] == [d.size for d in master.disks]


def test_shutdown_runs_to_ok_on_the_lab_clock(n100):
    src = n100.source()
    started = time.monotonic()
    upid = src.power("pve", 102, "shutdown")
    task = parse_upid(upid)
    assert (task.node, task.type, task.id, task.user) == (
        "pve", "qmshutdown", "102", "root@pam!cockpit"
    )  # fmt: skip
    status = src.wait_task("pve", upid, timeout=10, poll=0.02)
    # 12 lab seconds at speed 50 cannot be over in less than 0.24 real seconds.
    assert time.monotonic() - started >= 0.2
    assert (status.status, status.exitstatus, status.ok) == ("stopped", "OK", True)
    assert src.task_log("pve", upid)[-1] == "TASK OK"
    assert [t.upid for t in src.tasks("pve", vmid=102)] == [upid]
    guests = {g.vmid: g for g in src.fetch().guests}
    assert guests[102].status == "stopped" and guests[102].usage == Resources(0, 0)
    assert guests[101].status == "running"


def test_shutdown_past_its_timeout_without_force_ends_in_task_error(n100):
    src = n100.source()
    upid = src.power("pve", 103, "shutdown", timeout=1)
    status = src.wait_task("pve", upid, timeout=10, poll=0.02)
    assert not status.ok
    assert status.exitstatus == "VM quit/powerdown failed - got timeout"
    assert src.task_log("pve", upid)[-1] == "TASK ERROR: VM quit/powerdown failed - got timeout"
    assert {g.vmid: g.status for g in src.fetch().guests}[103] == "running"
    forced = src.power("pve", 103, "shutdown", timeout=1, force_stop=True)
    assert src.wait_task("pve", forced, timeout=10, poll=0.02).ok
    assert {g.vmid: g.status for g in src.fetch().guests}[103] == "stopped"


def test_a_powered_off_host_shows_offline_without_an_error(n100):
    src = n100.source()
    src.fetch()
    n100.world.set_host_power("pve", False)
    state = src.fetch()
    (host,) = state.hosts
    assert not host.online and host.usage is None
    assert (host.cores, host.threads) == (4, 4)  # as last seen
    assert {g.status for g in state.guests} == {"unknown"}
    assert {g.vmid: g.vcpus for g in state.guests} == {100: 2, 101: 6, 102: 6, 103: 6}
    assert all(g.usage is None for g in state.guests)
    fresh = n100.source().fetch()  # never saw the node up: still no exception
    assert [(h.name, h.online) for h in fresh.hosts] == [("pve", False)]
    assert {g.status for g in fresh.guests} == {"unknown"}
    with pytest.raises(SourceError) as err:
        src.power("pve", 101, "start")
    assert "unreachable" in err.value.reason and "595" in err.value.reason
    assert "powered on" in err.value.hint
    n100.world.set_host_power("pve", True)
    again = src.fetch()
    assert again.hosts[0].online and {g.status for g in again.guests} == {"running"}


def test_a_read_only_token_reads_but_cannot_power(n100):
    ro = n100.source("ro")
    state = ro.fetch()
    assert len(state.hosts) == 1 and len(state.guests) == 4
    with pytest.raises(SourceError) as err:
        ro.power("pve", 101, "shutdown")
    assert "403" in err.value.reason
    assert "Permission check failed (/vms/101, VM.PowerMgmt)" in err.value.reason
    assert "VM.PowerMgmt on /vms/101" in err.value.hint and "pveum acl modify" in err.value.hint
    assert n100.world.tasks == {} and n100.world.guests[101].running


def test_a_wrong_token_is_refused_with_401(n100):
    with pytest.raises(SourceError) as err:
        n100.source("wrong").fetch()
    assert "401" in err.value.reason and "authentication failed" in err.value.reason
    assert "root@pam!cockpit" in err.value.hint


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_is_verified(n100, tmp_path):
    with pytest.raises(SourceError) as err:
        n100.source(verify=True).fetch()  # the system's CAs do not know the lab CA
    assert "certificate not trusted" in err.value.reason
    assert "ca_file" in err.value.hint and "--insecure" in err.value.hint
    other = make_lab_tls(tmp_path / "other")  # a CA, but not the one that signed the face
    with pytest.raises(SourceError, match="certificate not trusted"):
        n100.source(verify=str(other.ca_file)).fetch()
    assert n100.source(verify=False).fetch().hosts[0].name == "pve"


def test_connection_refused_says_so():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once it is closed
    src = ProxmoxSource(
        "127.0.0.1", port, user="root@pam", token_name="cockpit", token_value=Secret(RW_SECRET)
    )
    with pytest.raises(SourceError) as err:
        src.fetch()
    assert "connection refused" in err.value.reason and "pveproxy" in err.value.hint


@pytest.mark.parametrize(
    ("fault", "words"),
    [("garbage", "garbled answer"), ("unreachable", "node unreachable"), ("hang", "timed out")],
)
def test_faults_become_readable_source_errors(n100, fault, words):
    src = n100.source(timeout=0.5)
    getattr(n100.face.faults, fault)(times=2)
    started = time.monotonic()
    for _ in range(2):
        with pytest.raises(SourceError) as err:
            src.fetch()
        assert words in err.value.reason and err.value.hint
    assert time.monotonic() - started < 5  # a hang costs the client its timeout, no more
    assert n100.face.faults.pending == 0
    assert len(src.fetch().guests) == 4  # and the next request is answered again


def test_the_token_never_shows(n100, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    for name in ("proxmoxer", "urllib3", "cockpit"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    errors: list[BaseException] = []

    def provoke(action: Callable[[], object]) -> None:
        with pytest.raises(SourceError) as err:
            action()
        errors.append(err.value)

    rw, ro = n100.source(timeout=0.5), n100.source("ro")
    rw.fetch()
    provoke(lambda: n100.source("wrong").fetch())
    provoke(lambda: ro.power("pve", 101, "stop"))
    for fault in ("garbage", "unreachable", "hang"):
        getattr(n100.face.faults, fault)()
        provoke(rw.fetch)
    provoke(lambda: n100.source(verify=True).fetch())
    provoke(lambda: n100.source(verify=str(tmp_path / "missing.pem")).fetch())
    provoke(lambda: rw.wait_task("pve", rw.power("pve", 102, "shutdown"), timeout=0, poll=0))
    with pytest.raises(TypeError) as bad:
        ProxmoxSource("127.0.0.1", user="u@pam", token_name="t", token_value=RW_SECRET)  # type: ignore[arg-type]
    shown = [repr(rw), repr(ro), str(bad.value), caplog.text, *capsys.readouterr()]
    for e in errors:
        shown += [str(e), repr(e), e.reason, e.hint, repr(e.args)]  # type: ignore[attr-defined]
        assert e.__cause__ is None and e.__context__ is None  # no request object hangs off it
    assert len(errors) == 8 and "Secret('***')" in repr(rw)
    for text in shown:
        for secret in SECRETS:
            assert secret not in text


# --- the face's own behaviour ----------------------------------------------------------------


def test_clone_and_migrate_are_world_tasks(duo):
    src = duo.source()
    state = src.fetch()
    assert state.cluster == "duo"
    assert [(h.name, h.cores, h.threads, h.disk) for h in state.hosts] == [
        ("alpha", 8, 16, 1024 * GiB), ("beta", 4, 4, 256 * GiB)
    ]  # fmt: skip
    db = {g.vmid: g for g in state.guests}[300]
    assert (db.balloon_min, db.disk_total) == (4 * GiB, 64 * GiB + 4 * 2**20)
    refusals = [
        (duo.api("POST", "/nodes/alpha/qemu/300/clone", newid=200), 500,
         "unable to create VM 200: config file already exists"),
        (duo.api("POST", "/nodes/alpha/qemu/300/clone", newid=301, target="beta"), 500,
         "can't clone VM to node 'beta' (VM uses local storage)"),
        (duo.api("POST", "/nodes/alpha/qemu/300/clone", token=RO_SECRET, newid=301), 403,
         "Permission check failed (/vms/300, VM.Clone)"),
        (duo.api("POST", "/nodes/alpha/qemu/300/migrate", target="beta"), 500,
         "can't migrate running VM without --online"),
        (duo.api("POST", "/nodes/alpha/qemu/300/migrate", target="alpha"), 400,
         "Parameter verification failed."),
    ]  # fmt: skip
    for reply, status, reason in refusals:
        assert (reply.status_code, reply.reason) == (status, reason)
    clone = duo.api("POST", "/nodes/alpha/qemu/300/clone", newid=301, name="db-copy", full=1)
    assert src.wait_task("alpha", clone.json()["data"], timeout=10, poll=0.02).ok
    move = duo.api("POST", "/nodes/alpha/qemu/300/migrate", target="beta", online=1)
    upid = move.json()["data"]
    assert parse_upid(upid).type == "qmigrate"
    assert src.wait_task("alpha", upid, timeout=10, poll=0.02).ok
    got = {g.vmid: g for g in src.fetch().guests}
    assert (got[300].host, got[300].status, got[300].balloon_min) == ("beta", "running", 4 * GiB)
    assert (got[301].host, got[301].name, got[301].disk_total) == (
        "alpha",
        "db-copy",
        db.disk_total,
    )
    assert duo.face.locks == {}


def test_containers_parse_from_the_face(duo):
    src = duo.source()
    web = {g.vmid: g for g in src.fetch().guests}[200]
    assert (web.kind, web.vcpus, web.memory, web.tags, web.ips) == (
        "lxc", 2, GiB, ("web",), ("10.0.0.20",)
    )  # fmt: skip
    assert [(d.name, d.size) for d in web.disks] == [("mp0", 20 * GiB), ("rootfs", 8 * GiB)]
    upid = src.power("alpha", 200, "shutdown")
    assert parse_upid(upid).type == "vzshutdown"
    assert src.wait_task("alpha", upid, timeout=10, poll=0.02).ok
    assert src.guest_status("alpha", 200).status == "stopped"


def test_a_cluster_with_one_node_down(duo):
    src = duo.source()
    src.fetch()
    duo.world.set_host_power("beta", False)
    state = src.fetch()
    assert [(h.name, h.online) for h in state.hosts] == [("alpha", True), ("beta", False)]
    assert {g.status for g in state.guests} == {"running"}  # every guest lives on alpha
    status = duo.api("GET", "/cluster/status").json()["data"]
    assert status[0] == {
        "type": "cluster", "id": "cluster", "name": "duo", "nodes": 2, "quorate": 0, "version": 2
    }  # fmt: skip
    assert duo.api("GET", "/nodes/beta/status").status_code == 595


def test_unknown_nodes_and_guests_get_pves_errors(duo):
    src = duo.source()
    with pytest.raises(SourceError, match="hostname lookup 'gamma' failed"):
        src.guest_status("gamma", 300, "qemu")
    with pytest.raises(SourceError, match=r"'nodes/beta/qemu-server/300.conf' does not exist"):
        src.guest_status("beta", 300, "qemu")
    with pytest.raises(SourceError, match="no guest 999"):
        src.power("alpha", 999, "start")
    r = duo.api("GET", "/nodes/alpha/rrddata")
    assert r.status_code == 400
    assert r.json()["errors"] == {"timeframe": "property is missing and it is not optional"}
    assert duo.api("GET", "/nodes/alpha/qemu/300/snapshot").status_code == 501


def test_rrddata_is_a_plausible_hour(duo):
    rows = duo.api("GET", "/nodes/alpha/rrddata", timeframe="hour").json()["data"]
    assert len(rows) == 70
    assert all(b["time"] - a["time"] == 60 for a, b in itertools.pairwise(rows))
    assert all(0 <= r["cpu"] <= 1 and 0 < r["memused"] <= r["memtotal"] == 64 * GiB for r in rows)


def test_face_answers_have_pve9_field_names_and_types(duo):
    src = duo.source()
    upid = src.power("alpha", 300, "reboot", timeout=60)
    src.wait_task("alpha", upid, timeout=10, poll=0.02)
    paths = [
        "/version", "/cluster/status", "/cluster/resources", "/nodes", "/nodes/alpha/status",
        "/nodes/alpha/storage", "/nodes/alpha/qemu", "/nodes/alpha/lxc",
        "/nodes/alpha/qemu/300/config", "/nodes/alpha/lxc/200/config",
        "/nodes/alpha/qemu/300/status/current", "/nodes/alpha/lxc/200/status/current",
        "/nodes/alpha/tasks", f"/nodes/alpha/tasks/{upid}/status", f"/nodes/alpha/tasks/{upid}/log",
    ]  # fmt: skip
    for path in paths:
        reply = duo.api("GET", path)
        assert reply.status_code == 200, (path, reply.reason)
        assert schema_problems(path, reply.json()["data"]) == [], path


# --- fakepve ---------------------------------------------------------------------------------


def fakepve_source(fakepve, cafile: str, user: str = "root@pam", name: str = "cockpit",
                   secret: str = RW_SECRET) -> ProxmoxSource:  # fmt: skip
    return ProxmoxSource(
        "127.0.0.1", fakepve.port, user=user, token_name=name, token_value=Secret(secret),
        verify=cafile,
    )  # fmt: skip


@pytest.fixture
def pve(fakepve):
    fakepve.apitokens["root@pam!cockpit"] = RW_SECRET
    fakepve.apitokens["auditor@pve!ro"] = RO_SECRET
    vm = fakepve.add_vm(100, "vm1", node="pve1", status="running", config={
        "cores": 2, "sockets": 2, "memory": 4096, "balloon": 1024, "tags": "k3s;worker",
        "agent": "1", "scsi0": "local-lvm:vm-100-disk-0,size=32G",
        "efidisk0": "local-lvm:vm-100-disk-1,efitype=4m,size=4M",
        "ide2": "local:iso/debian-13.iso,media=cdrom,size=631M",
    })  # fmt: skip
    vm.agent = {}  # a guest agent that answers
    slow = fakepve.add_vm(101, "slow", node="pve1", status="running", config={"memory": 1024})
    slow.shutdown_secs = 90  # ignores ACPI for longer than the shutdown timeout
    return fakepve


def test_fakepve_fetch_and_power(pve, fakepve_cafile):
    src = fakepve_source(pve, fakepve_cafile)
    state = src.fetch()
    assert (state.cluster, state.version) == ("fakecluster", "9.0.10")
    (host,) = state.hosts
    assert (host.name, host.online, host.threads) == ("pve1", True, 4)
    vm = {g.vmid: g for g in state.guests}[100]
    assert (vm.vcpus, vm.memory, vm.balloon_min) == (4, 4 * GiB, GiB)
    assert vm.disks == (
        Disk("efidisk0", 4 * 2**20, "local-lvm"),
        Disk("scsi0", 32 * GiB, "local-lvm"),
    )
    assert (vm.tags, vm.ips, vm.status) == (("k3s", "worker"), ("192.0.2.10",), "running")
    upid = src.power("pve1", 100, "shutdown")
    assert parse_upid(upid).user == "root@pam!cockpit"
    assert src.wait_task("pve1", upid, timeout=5, poll=0.02).ok
    assert src.task_log("pve1", upid)[-1] == "TASK OK"
    assert {g.vmid: g.status for g in src.fetch().guests} == {100: "stopped", 101: "running"}
    late = src.power("pve1", 101, "shutdown", timeout=5)
    status = src.wait_task("pve1", late, timeout=5, poll=0.02)
    # The same words the lab face uses for the same failure.
    assert status.exitstatus == "VM quit/powerdown failed - got timeout"
    assert src.task_log("pve1", late)[-1] == "TASK ERROR: VM quit/powerdown failed - got timeout"


def test_fakepve_refusals_read_like_the_face(pve, fakepve_cafile, n100):
    pve.grant("auditor@pve!ro", "/", "VM.Audit", "Sys.Audit")
    ro = fakepve_source(pve, fakepve_cafile, "auditor@pve", "ro", RO_SECRET)
    assert len(ro.fetch().guests) == 2
    errors: dict[str, list[SourceError]] = {"403": [], "401": [], "595": []}
    for source, node, vmid in ((ro, "pve1", 100), (n100.source("ro"), "pve", 101)):
        with pytest.raises(SourceError) as err:
            source.power(node, vmid, "stop")
        errors["403"].append(err.value)
    for source in (fakepve_source(pve, fakepve_cafile, secret="bad"), n100.source("wrong")):
        with pytest.raises(SourceError) as err:
            source.fetch()
        errors["401"].append(err.value)
    pve.set_node_offline("pve1")
    n100.world.set_host_power("pve", False)
    rw_fake, rw_lab = fakepve_source(pve, fakepve_cafile), n100.source()
    for source, node, vmid in ((rw_fake, "pve1", 100), (rw_lab, "pve", 101)):
        state = source.fetch()
        assert not state.hosts[0].online and {g.status for g in state.guests} == {"unknown"}
        with pytest.raises(SourceError) as err:
            source.power(node, vmid, "start")
        errors["595"].append(err.value)
    fake403, lab403 = errors["403"]
    assert "Permission check failed (/vms/100, VM.PowerMgmt)" in fake403.reason
    assert "Permission check failed (/vms/101, VM.PowerMgmt)" in lab403.reason
    for fake, lab in errors.values():
        normal = fake.reason.replace("pve1", "pve").replace("/100", "/101")
        normal = normal.replace(f":{pve.port}", f":{n100.face.port}")
        assert normal == lab.reason


def test_guest_addresses_are_asked_again_only_when_old_or_the_guest_restarted(n100):
    """Asking every agent at every poll was most of an idle cockpit's work at 200 guests:
    an answer is kept for addresses_ttl, and forgotten when the guest stops. VM 100 has no
    address an agent reports; past its boot that is an answer too."""
    n100.world.clock.advance(BOOTING + 60)
    src = n100.source(addresses_ttl=3600)

    def asked(vmid: int | None = None) -> int:
        tail = "/agent/network-get-interfaces"
        return sum(
            1 for _, path in n100.face.requests
            if path.endswith(tail) and (vmid is None or f"/qemu/{vmid}/" in path)
        )  # fmt: skip

    before, before_101 = asked(), asked(101)
    first = src.fetch()
    assert asked() - before == 4
    assert [g.vmid for g in first.guests if g.ips] == [101, 102, 103]
    again = src.fetch()
    assert asked() - before == 4, "a second poll asked the agents again"
    assert [g.ips for g in again.guests] == [g.ips for g in first.guests]
    for action in ("stop", "start"):
        assert src.wait_task("pve", src.power("pve", 101, action), timeout=10, poll=0.02).ok
        restarted = src.fetch()
    assert asked(101) - before_101 == 2 and asked() - before == 5, "only 101 asked again"
    assert [g.ips for g in restarted.guests] == [g.ips for g in first.guests]
    short = n100.source(addresses_ttl=0)
    short.fetch()
    short.fetch()
    assert asked() - before == 5 + 2 * 4


def test_a_host_status_is_asked_again_only_when_old_or_the_host_rebooted(n100):
    """/nodes/{node}/status adds what does not move while a node runs (CPU model, totals);
    its usage comes from /cluster/resources, read at every poll."""
    src = n100.source()

    def asked() -> int:
        return sum(1 for _, path in n100.face.requests if path == "/nodes/pve/status")

    before = asked()
    first = src.fetch().hosts[0]
    n100.world.clock.advance(30)
    second = src.fetch().hosts[0]
    assert asked() - before == 1
    assert (second.cpu_model, second.threads, second.memory) == (
        first.cpu_model, first.threads, first.memory,
    )  # fmt: skip
    assert second.usage is not None and 0 < second.usage.memory < second.memory
    n100.world.set_host_power("pve", False)
    assert not src.fetch().hosts[0].online
    n100.world.set_host_power("pve", True)
    assert src.fetch().hosts[0].online and asked() - before == 2
    n100.source(meta_ttl=0).fetch()
    assert asked() - before == 3
