"""A built-in lab plus the VM template a homelab keeps for its next worker, for rehearsing a
node replacement: the lab's cloud-init brings Tailscale up and joins k3s as an agent when a
clone of a template tagged `k3s-agent` boots (cockpit.lab.control)."""

from __future__ import annotations

from pathlib import Path

from cockpit.labfile import builtin_lab_path

AGENT_TEMPLATE = """
[[guests]]
vmid = 9000
name = "k3s-agent-template"
host = "pve"
vcpus = 2
memory = "2G"
disks = ["32G"]
tags = ["k3s-agent"]
template = true
"""


def with_agent_template(name: str, directory: Path) -> Path:
    """The built-in lab `name` (its Proxmox host must be called pve) with the template
    appended, written into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-with-template.toml"
    path.write_text(builtin_lab_path(name).read_text() + AGENT_TEMPLATE)
    return path
