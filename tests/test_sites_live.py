"""Sites on live data, read through the lab's real faces: Proxmox says nothing of where a
host stands, so the site comes from the config's [sites] (written by the lab from its file,
as an operator writes it) or from the nodes' topology labels; the "all replicas at one site"
risk then fires on a live cluster as it does on the plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from live_lab import live_lab

from cockpit.alloc.ledger import build_ledger
from cockpit.alloc.risks import find_risks
from cockpit.config import load_config
from cockpit.inventory import from_config

TWO_SITES = """
[lab]
name = "two-houses"

[sites.home]
description = "the flat"

[sites.cabin]
description = "the cabin"

[[hosts]]
name = "pve-a"
cores = 4
memory = "16G"
site = "home"

[[hosts]]
name = "pve-b"
cores = 4
memory = "16G"
site = "home"

[[hosts]]
name = "pve-c"
cores = 4
memory = "16G"
site = "cabin"

[[guests]]
vmid = 100
name = "k-a"
host = "pve-a"
vcpus = 2
memory = "4G"

[[guests]]
vmid = 101
name = "k-b"
host = "pve-b"
vcpus = 2
memory = "4G"

[[guests]]
vmid = 102
name = "k-c"
host = "pve-c"
vcpus = 2
memory = "4G"

[[nodes]]
name = "k-a"
guest = 100
{labels_a}

[[nodes]]
name = "k-b"
guest = 101
{labels_b}

[[nodes]]
name = "k-c"
guest = 102
{labels_c}

[[workloads]]
name = "web"
replicas = 2
nodes = ["k-a", "k-b"]
requests = {{ cpu = "100m", memory = "128Mi" }}
pdb = {{ max_unavailable = 1 }}
"""


def test_sites_from_the_config_reach_hosts_and_the_one_site_risk(tmp_path: Path):
    lab_file = tmp_path / "two-houses.toml"
    lab_file.write_text(TWO_SITES.format(labels_a="", labels_b="", labels_c=""))
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "report", "--lab", str(lab_file), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    sites = {h["name"]: h["site"] for h in doc["ledger"]["hosts"]}
    assert sites == {"pve-a": "home", "pve-b": "home", "pve-c": "cabin"}
    assert {n["name"]: n["site"] for n in doc["ledger"]["nodes"]}["k-c"] == "cabin"
    one_site = [r for r in doc["risks"] if r["code"] == "replicas-one-site"]
    assert [r["subject"] for r in one_site] == ["default/deployment/web"]
    assert "all at site home" in one_site[0]["message"]


def test_sites_from_node_zone_labels_without_any_config(tmp_path: Path):
    zone = 'labels = {{ "topology.kubernetes.io/zone" = "{}" }}'
    lab_file = tmp_path / "labelled.toml"
    lab_file.write_text(
        TWO_SITES.replace('site = "home"', "")
        .replace('site = "cabin"', "")
        .format(labels_a=zone.format("home"), labels_b=zone.format("home"), labels_c="")
        .replace("{{", "{")
        .replace("}}", "}")
    )
    lab_file.write_text(
        lab_file.read_text().replace(
            'name = "k-c"\nguest = 102\n',
            'name = "k-c"\nguest = 102\nlabels = { "topology.kubernetes.io/region" = "cabin" }\n',
        )
    )
    with live_lab(str(lab_file)) as (running, _):
        config = tmp_path / "no-sites.toml"
        text = running.config_path.read_text()
        assert "[sites]" not in text  # the lab file names no site: only the labels do
        config.write_text(text)
        inventory = from_config(load_config(config))
        try:
            snapshot = inventory.refresh(timeout=30)
        finally:
            inventory.stop()
    hosts = {h.name: h.site for h in snapshot.hosts}
    assert hosts == {"pve-a": "home", "pve-b": "home", "pve-c": "cabin"}  # zone, then region
    risks = [r for r in find_risks(snapshot) if r.code == "replicas-one-site"]
    assert [r.subject for r in risks] == ["default/deployment/web"]
    assert {n.name: n.site for n in build_ledger(snapshot).nodes}["k-c"] == "cabin"
