"""The exact command that joins a new machine to the cluster, for its flavour.

Real values are filled in where the cockpit knows them (the API server, the node name,
whether the cluster runs over the tailnet); what it cannot know is a placeholder in angle
brackets with the command that mints it (a join token is a secret the cockpit never holds).

k3s: an agent joins with K3S_URL and K3S_TOKEN; `k3s token create --ttl` on a server mints a
short-lived bootstrap token (k3s 1.26+). A cluster whose nodes talk over Tailscale (seed
004: node IPs in 100.64.0.0/10) needs `--node-ip` on the tailnet address and flannel on
`tailscale0`, or k3s' own `--vpn-auth` integration. A k3s server joining an embedded-etcd
cluster uses `server --server URL` with the cluster token instead.
kubeadm: `kubeadm token create --print-join-command` on a control-plane node prints the
whole `kubeadm join` line (token and CA hash included).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

TAILNET = ipaddress.ip_network("100.64.0.0/10")  # Tailscale's CGNAT range
K3S_INSTALL = "curl -sfL https://get.k3s.io"


@dataclass(frozen=True)
class JoinInstructions:
    flavour: str
    mint: str  # run on a server / control-plane node first, to get the token
    command: str  # run on the new machine
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        out = [f"on a server: {self.mint}", f"on the new machine: {self.command}"]
        return out + list(self.notes)

    def to_json(self) -> dict[str, object]:
        return {
            "flavour": self.flavour,
            "mint": self.mint,
            "command": self.command,
            "notes": list(self.notes),
        }


def over_tailnet(addresses: tuple[tuple[str, str], ...]) -> bool:
    """Whether a node's InternalIP is a tailnet address (the cluster runs over Tailscale)."""
    for kind, address in addresses:
        if kind != "InternalIP":
            continue
        try:
            if ipaddress.ip_address(address) in TAILNET:
                return True
        except ValueError:
            continue
    return False


def server_url(endpoint: str) -> tuple[str, bool]:
    """The API server URL a new machine should use, and whether it is a real address (a
    kubeconfig pointing at loopback or a tunnel is useless on another machine)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host in ("localhost", "")
    if loopback:
        return "https://<server-address>:6443", False
    port = parts.port or 6443
    return f"https://{host}:{port}", True


def join_instructions(
    flavour: str,
    endpoint: str,
    node_name: str,
    tailnet: bool,
    control_plane: bool = False,
    ttl: str = "2h",
) -> JoinInstructions:
    url, known = server_url(endpoint)
    notes: list[str] = []
    if not known:
        notes.append(
            "the kubeconfig reaches the API server through loopback: put the server's "
            "address (as the new machine reaches it) in place of <server-address>"
        )
    if flavour == "kubeadm":
        role = " --control-plane --certificate-key <key>" if control_plane else ""
        if control_plane:
            notes.append(
                "the certificate key comes from `kubeadm init phase upload-certs "
                "--upload-certs` on a control-plane node"
            )
        return JoinInstructions(
            "kubeadm",
            "kubeadm token create --ttl " + ttl + " --print-join-command",
            f"sudo <the printed kubeadm join command>{role} --node-name {node_name}",
            tuple(notes),
        )
    extra = ""
    if tailnet:
        extra = ' --node-ip "$(tailscale ip -4)" --flannel-iface tailscale0'
        notes.append(
            "the cluster runs over the tailnet: bring Tailscale up on the new machine first "
            "(`tailscale up`), or use k3s' --vpn-auth=name=tailscale,joinKey=<auth key>"
        )
    if flavour != "k3s":
        notes.append(f"the cluster's flavour is {flavour}: the k3s command is shown as a guide")
    if control_plane:
        return JoinInstructions(
            "k3s",
            "sudo cat /var/lib/rancher/k3s/server/token",
            f"{K3S_INSTALL} | K3S_TOKEN=<token> sh -s - server --server {url} "
            f"--node-name {node_name}{extra}",
            tuple(notes),
        )
    return JoinInstructions(
        "k3s",
        f"sudo k3s token create --ttl {ttl}",
        f"{K3S_INSTALL} | K3S_URL={url} K3S_TOKEN=<token> sh -s - agent "
        f"--node-name {node_name}{extra}",
        tuple(notes),
    )
