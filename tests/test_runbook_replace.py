"""The node-replacement runbook: its preflight and plan against the running lab over real
sockets, and the join instructions it hands the person."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_lab import action_context, live_lab, with_template

from cockpit.actions.base import Context
from cockpit.actions.journal import Journal
from cockpit.runbooks.join import join_instructions, over_tailnet, server_url
from cockpit.runbooks.replace import ReplaceNode, next_name


@pytest.fixture(scope="module")
def n100(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    tmp = tmp_path_factory.mktemp("n100")
    with live_lab(with_template("n100", tmp), 20, tmp / "lab") as (_, inventory):
        yield action_context(inventory, Journal(tmp / "journal.jsonl"))


@pytest.fixture(scope="module")
def tailnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    tmp = tmp_path_factory.mktemp("tailnet")
    with live_lab("tailnet", 20, tmp / "lab") as (_, inventory):
        yield action_context(inventory, Journal(tmp / "journal.jsonl"))


def test_preflight_refuses_when_the_rest_cannot_hold_the_pods(n100: Context):
    # Seed 000's scenario 3: worker-2 cannot hold worker-1's pods.
    plan = ReplaceNode(n100, "worker-1").plan()
    outage = [b for b in plan.blockers if "outage" in b]
    assert outage and "logging/statefulset/elasticsearch" in outage[0]
    assert plan.detail["mode"] == "proxmox"
    assert plan.confirm_word == "worker-1"
    # --force turns the prediction into a warning; what cannot be done stays a blocker.
    forced = ReplaceNode(n100, "worker-1", force=True).plan()
    assert not [b for b in forced.blockers if "outage" in b]
    assert [w for w in forced.warnings if "outage" in w and "--force" in w]
    assert [b for b in forced.blockers if "--delete-emptydir-data" in b]
    assert forced.detail["clone"]["template"] == 9000  # the lab's one k3s-agent template
    ready = ReplaceNode(n100, "worker-1", force=True, delete_emptydir_data=True).plan()
    assert ready.blockers == []


def test_the_only_control_plane_node_is_refused_even_with_force(n100: Context):
    plan = ReplaceNode(n100, "k3s-master", force=True).plan()
    assert any("only control-plane node" in b for b in plan.blockers)


def test_an_unknown_node_is_a_blocker_that_names_the_known_ones(n100: Context):
    plan = ReplaceNode(n100, "worker-9").plan()
    assert plan.blockers == [
        "no node 'worker-9' in the cluster (nodes: k3s-master, worker-1, worker-2)"
    ]


def test_a_pi_server_on_the_tailnet_keeps_etcd_quorum_and_joins_over_tailscale(tailnet: Context):
    plan = ReplaceNode(tailnet, "rpi5-kr1", new_name="rpi5-kr3", force=True).plan()
    assert plan.detail["mode"] == "bare-metal"
    assert plan.detail["etcd_remove"] is True
    assert not [b for b in plan.blockers if "quorum" in b]
    join = plan.detail["join"]
    assert " server --server " in join["command"]
    assert "--flannel-iface tailscale0" in join["command"]
    assert "--node-name rpi5-kr3" in join["command"]
    assert plan.detail["tailnet"] is True


def test_a_vm_node_of_the_tailnet_lab_needs_a_template(tailnet: Context):
    plan = ReplaceNode(tailnet, "x86-vm-1", force=True).plan()
    assert plan.detail["mode"] == "proxmox"
    assert plan.detail["new_name"] == "x86-vm-3"
    assert any("template" in b for b in plan.blockers)


def test_join_instructions_fill_what_is_known_and_mark_what_is_not():
    k3s = join_instructions("k3s", "https://192.168.1.10:6443", "worker-3", tailnet=False)
    assert k3s.mint == "sudo k3s token create --ttl 2h"
    assert "K3S_URL=https://192.168.1.10:6443 K3S_TOKEN=<token>" in k3s.command
    assert k3s.command.endswith("agent --node-name worker-3")
    loop = join_instructions("k3s", "http://127.0.0.1:39000", "w", tailnet=True)
    assert "<server-address>" in loop.command and "tailscale ip -4" in loop.command
    assert any("loopback" in n for n in loop.notes)
    kubeadm = join_instructions("kubeadm", "https://10.0.0.2:6443", "node-3", tailnet=False)
    assert kubeadm.mint.endswith("--print-join-command")
    assert "--node-name node-3" in kubeadm.command


def test_names_and_addresses():
    assert next_name("worker-1", {"worker-1", "worker-2"}) == "worker-3"
    assert next_name("pi", {"pi"}) == "pi-2"
    assert over_tailnet((("InternalIP", "100.101.12.34"),))
    assert not over_tailnet((("InternalIP", "192.168.1.12"), ("Hostname", "100.64.0.1")))
    assert server_url("https://k3s.lan:6443") == ("https://k3s.lan:6443", True)
    assert server_url("https://[::1]:6443")[1] is False


def test_replace_is_a_command_with_a_plan(tmp_path: Path):
    import subprocess
    import sys

    help_text = subprocess.run(
        [sys.executable, "-m", "cockpit", "replace", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in ("--template", "--bare-metal", "--resume", "--plan", "--json", "--force"):
        assert flag in help_text
