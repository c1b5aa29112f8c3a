"""Clients nobody here wrote, pointed at a RunningLab: kubectl (JSON and printed), proxmoxer
with the lab's token and CA, and httpx on the Tailscale LocalAPI socket."""

from __future__ import annotations

import json
from typing import Any

import httpx
from kubectl_cli import kubectl_ok
from proxmoxer import ProxmoxAPI

from cockpit.lab.runner import PVE_TOKEN_ID, RunningLab


def kubectl(lab: RunningLab, *args: str, timeout: float = 30) -> str:
    return kubectl_ok(lab.kube.kubeconfig, *args, timeout=timeout)


def kubectl_json(lab: RunningLab, *args: str) -> Any:
    return json.loads(kubectl(lab, *args, "-o", "json"))


def proxmox(lab: RunningLab) -> ProxmoxAPI:
    user, token = PVE_TOKEN_ID.split("!")
    return ProxmoxAPI(
        "127.0.0.1",
        port=lab.proxmox.port,
        user=user,
        token_name=token,
        token_value=lab.secret.reveal(),
        verify_ssl=str(lab.tls.ca_file),
        service="PVE",
    )


def tailscale_status(lab: RunningLab) -> dict[str, Any]:
    with httpx.Client(
        transport=httpx.HTTPTransport(uds=str(lab.tailscale.socket_path)), timeout=5
    ) as client:
        resp = client.get("http://local-tailscaled.sock/localapi/v0/status")
        resp.raise_for_status()
        return resp.json()


def peer(lab: RunningLab, hostname: str) -> dict[str, Any]:
    status = tailscale_status(lab)
    return next(p for p in status["Peer"].values() if p["HostName"] == hostname)


def dns_endpoints(lab: RunningLab) -> list[dict[str, Any]]:
    """The kube-dns EndpointSlices' endpoints, as kubectl reads them."""
    slices = kubectl_json(
        lab, "get", "endpointslices", "-n", "kube-system", "-l",
        "kubernetes.io/service-name=kube-dns",
    )  # fmt: skip
    return [e for s in slices["items"] for e in s.get("endpoints") or []]


def ready_dns(lab: RunningLab) -> int:
    return sum(1 for e in dns_endpoints(lab) if e["conditions"].get("ready"))
