"""`cockpit init` against a running lab: the lab writes a kubeconfig, serves Proxmox over
HTTPS with its own CA and tailscaled's LocalAPI on a socket, as a real homelab would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.config import load_config
from cockpit.lab.runner import RunningLab
from cockpit.labfile import load


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    running = RunningLab(load("n100"), speed=30, directory=tmp_path_factory.mktemp("lab"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def cockpit(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(home), **env},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_init_writes_a_config_from_what_it_finds_and_checks_it_live(lab, tmp_path):
    config = tmp_path / "cockpit" / "config.toml"
    secret = lab.secret.reveal()
    flags = [
        "--proxmox-url",
        lab.pve_url,
        "--proxmox-token",
        "root@pam!cockpit",
        "--proxmox-secret",
        f"file:{lab.dir / 'pve.secret'}",
        "--proxmox-ca",
        str(lab.tls.ca_file),
        "--tailscale-socket",
        str(lab.tailscale.socket_path),
    ]
    kubeconfig = str(lab.kube.kubeconfig)
    result = cockpit(tmp_path, "init", "--config", str(config), *flags, KUBECONFIG=kubeconfig)
    assert result.returncode == 0, result.stdout + result.stderr
    for source, what in (("kube", "3 nodes"), ("proxmox", "1 hosts"), ("tailscale", "peers")):
        line = next(x for x in result.stdout.splitlines() if x.strip().startswith(source))
        assert "ok" in line and what in line, result.stdout
    text = config.read_text()
    assert f'kubeconfig = "{Path(kubeconfig).resolve()}"' in text
    assert 'context = "cockpit-lab"' in text  # the kubeconfig's current context
    assert f'secret = "file:{lab.dir / "pve.secret"}"' in text
    assert secret not in text and secret not in result.stdout + result.stderr
    assert text.count("\n# ") >= 5  # commented, for a person to read and edit
    loaded = load_config(config)  # a config the cockpit itself reads
    assert loaded.kube is not None and loaded.proxmox is not None
    report = cockpit(tmp_path, "--config", str(config), "report", "--json")
    assert report.returncode == 0, report.stderr

    again = cockpit(tmp_path, "init", "--config", str(config), *flags, KUBECONFIG=kubeconfig)
    assert again.returncode == 2 and "--force" in again.stderr
    assert config.read_text() == text  # untouched
    forced = cockpit(
        tmp_path, "init", "--config", str(config), "--force", "--no-check", KUBECONFIG=kubeconfig
    )
    assert forced.returncode == 0, forced.stderr
    assert "# [proxmox]" in config.read_text()  # no Proxmox given this time: a commented stub


def test_init_refuses_a_secret_written_out(lab, tmp_path):
    config = tmp_path / "config.toml"
    result = cockpit(
        tmp_path,
        "init",
        "--config",
        str(config),
        "--proxmox-url",
        lab.pve_url,
        "--proxmox-token",
        "root@pam!cockpit",
        "--proxmox-secret",
        lab.secret.reveal(),
    )
    assert result.returncode == 2 and "env:VARIABLE or file:PATH" in result.stderr
    assert lab.secret.reveal() not in result.stderr
    assert not config.exists()


def test_init_with_nothing_to_find_says_so(tmp_path):
    config = tmp_path / "config.toml"
    result = cockpit(tmp_path, "init", "--config", str(config), "--timeout", "3", PATH="")
    assert result.returncode == 1
    text = config.read_text()
    assert "# Kubernetes: no kubeconfig at" in text and "# [kubernetes]" in text
    assert "no source answered" in result.stdout


def test_init_asks_for_proxmox_on_a_terminal(lab, tmp_path):
    import pty
    import select
    import time

    config = tmp_path / "config.toml"
    pid, fd = pty.fork()
    if pid == 0:  # the child: init on a terminal, nothing given by flags
        os.execve(
            sys.executable,
            [sys.executable, "-m", "cockpit", "init", "--config", str(config), "--no-check"],
            {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "TERM": "xterm"},
        )
    answers = [lab.pve_url, "root@pam!cockpit", "env:PVE_SECRET"]
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if seen.rstrip().endswith(b":") and answers:
                os.write(fd, (answers.pop(0) + "\n").encode())
    os.waitpid(pid, 0)
    os.close(fd)
    shown = seen.decode(errors="replace")
    assert "Proxmox API URL" in shown and "API token id" in shown, shown
    text = config.read_text()
    assert f'url = "{lab.pve_url}"' in text and 'secret = "env:PVE_SECRET"' in text
