"""The whole simulated homelab running: one world, its Kubernetes, Proxmox and Tailscale
faces on loopback, and a cockpit config file that reaches them through the same path a real
homelab uses (config -> adapters), not through a shortcut."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

from cockpit.lab.clock import LabClock
from cockpit.lab.control import LabControl
from cockpit.lab.control_server import ControlServer
from cockpit.lab.kube.lab import KubeLab
from cockpit.lab.proxmox_face import ApiToken, ProxmoxFace
from cockpit.lab.tailscale_face import TailscaleFace
from cockpit.lab.tls import make_lab_tls
from cockpit.lab.world import World
from cockpit.labfile import Lab
from cockpit.secret import Secret

PVE_TOKEN_ID = "root@pam!cockpit"
PVE_READONLY_TOKEN_ID = "cockpit@pve!monitor"


class RunningLab:
    def __init__(
        self, lab: Lab, speed: float = 1.0, directory: Path | None = None, metrics: bool = True
    ) -> None:
        self.lab = lab
        self.world = World(lab, LabClock(speed))
        self._own_dir = directory is None
        self.dir = Path(directory or tempfile.mkdtemp(prefix="cockpit-lab-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.secret = Secret(secrets.token_hex(16))
        self.readonly_secret = Secret(secrets.token_hex(16))
        self.kube = KubeLab(self.world, metrics=metrics)
        self.tls = make_lab_tls(self.dir)
        self.proxmox = ProxmoxFace(
            self.world,
            {
                PVE_TOKEN_ID: ApiToken(self.secret, may_modify=True),
                PVE_READONLY_TOKEN_ID: ApiToken(self.readonly_secret, may_modify=False),
            },
            self.tls,
        )
        self.tailscale = TailscaleFace(self.world, self.dir / "tailscaled.sock")
        self.config_path = self.dir / "config.toml"
        self.control = LabControl(self)
        self.control_server = ControlServer(self.control)
        self.control_file = self.dir / "lab-control.json"

    def start(self) -> RunningLab:
        self.kube.start(self.dir / "kubeconfig")
        self.proxmox.start()
        self.tailscale.start()
        self.control.start()
        self.control_server.start()
        self.control_file = self.control_server.write(self.dir)
        self._write_config()
        return self

    def stop(self) -> None:
        self.control_server.stop()
        self.control.stop()
        self.tailscale.stop()
        self.proxmox.stop()
        self.kube.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RunningLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pve_url(self) -> str:
        return f"https://127.0.0.1:{self.proxmox.port}"

    def _write_config(self) -> None:
        secret_file = self.dir / "pve.secret"
        secret_file.write_text(self.secret.reveal() + "\n")
        secret_file.chmod(0o600)
        self.config_path.write_text(
            "# Written by `cockpit lab`: a cockpit config that reaches the running lab.\n"
            f"# Lab control (cockpit labctl --config THIS_FILE): {self.control_file.name} "
            "beside it.\n"
            "[kubernetes]\n"
            f'kubeconfig = "{self.kube.kubeconfig}"\n\n'
            "[proxmox]\n"
            f'url = "{self.pve_url}"\n'
            f'token = "{PVE_TOKEN_ID}"\n'
            f'secret = "file:{secret_file}"\n'
            f'ca_file = "{self.tls.ca_file}"\n\n'
            "[tailscale]\n"
            f'socket = "{self.tailscale.socket_path}"\n' + self._sites_table()
        )

    def _sites_table(self) -> str:
        """Where each machine of the lab file stands, as an operator writes it in [sites]:
        Proxmox reports no site and bare-metal machines have no Proxmox at all."""
        placed = [(h.name, h.site) for h in self.lab.snapshot.hosts if h.site]
        if not placed:
            return ""
        lines = "".join(f'"{name}" = "{site}"\n' for name, site in placed)
        return "\n[sites]\n" + lines

    def describe(self) -> list[str]:
        """How to reach the lab; the token's secret is referenced by file, never shown."""
        return [
            f"lab        {self.lab.name}: {self.lab.description}",
            f"speed      {self.world.clock.speed:g}x real time",
            f"kubeconfig {self.kube.kubeconfig}   (kubectl --kubeconfig {self.kube.kubeconfig} "
            "get nodes)",
            f"proxmox    {self.pve_url}/api2/json   token {PVE_TOKEN_ID}, secret in "
            f"{self.dir / 'pve.secret'}, CA {self.tls.ca_file}",
            f"tailscale  {self.tailscale.socket_path}   (LocalAPI; Host: local-tailscaled.sock)",
            f"config     {self.config_path}   (cockpit --config {self.config_path} report)",
            f"control    {self.control_server.url}   (cockpit labctl --config "
            f"{self.config_path} list; token in {self.control_file})",
        ]
