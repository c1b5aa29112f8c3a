"""Proxmox as triage needs it: nodes online or not, the cluster's quorum, the recent tasks with
their exit status; from the captures and through fakepve over HTTPS."""

from __future__ import annotations

import pytest
from proxmox_helpers import RW_SECRET, fixture

from cockpit.model import PveCluster, PveTask
from cockpit.secret import Secret
from cockpit.sources.proxmox import (
    ProxmoxSource,
    parse_cluster_status,
    parse_cluster_tasks,
    parse_nodes,
    pve_cluster,
)


def test_a_lone_node_has_no_quorum_to_speak_of():
    status = parse_cluster_status(fixture("pvecli-cluster-status.json"))
    assert pve_cluster(status) == PveCluster(name="", quorate=None, nodes_online=1, nodes_total=1)


def test_nodes_capture_is_online():
    (node,) = parse_nodes(fixture("pvecli-nodes.json"))
    assert (node.name, node.status, node.online) == ("pve", "online", True)


def test_tasks_capture_newest_first_with_the_failed_one():
    tasks = parse_cluster_tasks(fixture("pvecli-tasks.json"))
    assert len(tasks) == 10
    assert [t.start for t in tasks] == sorted((t.start for t in tasks), reverse=True)
    assert tasks[0] == PveTask(
        upid="UPID:pve:000006FD:000043CD:6A6CAD90:vncshell::root@pam:",
        node="pve",
        type="vncshell",
        id="",
        user="root@pam",
        status="OK",
        start=1785507216.0,
        end=1785507342.0,
    )
    (failed,) = [t for t in tasks if t.failed]
    assert (failed.type, failed.status, failed.end) == (
        "aptupdate",
        "command 'apt-get update' failed: exit code 100",
        1784482458.0,
    )


def test_a_running_task_has_no_status_yet():
    upid = "UPID:pve1:00001234:00005678:6A6CAD90:qmstart:101:root@pam:"
    running = {"upid": upid, "node": "pve1", "type": "qmstart", "id": "101",
               "user": "root@pam", "starttime": 1785507216}  # fmt: skip
    (task,) = parse_cluster_tasks([running])
    assert (task.status, task.end, task.failed) == ("", None, False)


def fakepve_source(fakepve, cafile: str) -> ProxmoxSource:
    return ProxmoxSource(
        "127.0.0.1",
        fakepve.port,
        user="root@pam",
        token_name="cockpit",
        token_value=Secret(RW_SECRET),
        verify=cafile,
    )


@pytest.fixture
def pve(fakepve):
    fakepve.apitokens["root@pam!cockpit"] = RW_SECRET
    fakepve.add_node("pve2")
    fakepve.add_vm(100, "vm1", node="pve1", status="running", config={"memory": 1024})
    return fakepve


def test_fakepve_quorum_nodes_and_tasks(pve, fakepve_cafile):
    source = fakepve_source(pve, fakepve_cafile)
    state = source.fetch()
    assert state.pve_cluster == PveCluster("fakecluster", True, 2, 2)
    assert {h.name: h.online for h in state.hosts} == {"pve1": True, "pve2": True}
    assert state.tasks and all(t.upid.startswith("UPID:") and t.node for t in state.tasks)
    assert {t.status for t in state.tasks} == {"OK"}
    pve.set_node_offline("pve2")
    pve.lose_quorum()
    state = source.fetch()
    assert state.pve_cluster == PveCluster("fakecluster", False, 1, 2)
    assert {h.name: h.online for h in state.hosts} == {"pve1": True, "pve2": False}
