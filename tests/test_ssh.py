"""The cockpit over a real SSH session: OpenSSH's sshd on a loopback port with a throwaway
host key, a throwaway user key, and the current user logging in (for root, allowed by this
instance's own config only). tmux is the terminal; ssh runs in it; the cockpit runs in the
remote shell with TERM=xterm-256color and no COLORTERM (sshd does not pass it on).

Then the case the journal exists for: the connection drops in the middle of a drain, and a
new session is offered the unfinished drain at start-up, resumes it and finishes it."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cockpit.actions.journal import Journal

TMUX = shutil.which("tmux")
SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
COCKPIT = str(Path(sys.executable).parent / "cockpit")


def tmux(*args: str) -> str:
    return subprocess.run([TMUX, *args], capture_output=True, text=True, check=True).stdout


def screen(session: str, escapes: bool = False) -> str:
    return tmux("capture-pane", "-t", session, "-p", *(["-e"] if escapes else []))


def wait_screen(session: str, *texts: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(session)
        if all(t in shown for t in texts):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"never saw {texts!r}; the screen was:\n{shown}")


def wait_prompt(session: str, timeout: float = 30) -> None:
    """Until the cockpit has left the screen and the remote shell prompts again."""
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(session)
        lines = [line for line in shown.splitlines() if line.strip()]
        if "kube " not in shown and lines and lines[-1].rstrip().endswith(("#", "$")):
            return
        time.sleep(0.2)
    raise AssertionError(f"the shell never came back; the screen was:\n{shown}")


def type_slowly(session: str, *keys: str) -> None:
    """As a person types over SSH: one key at a time, a little apart."""
    for key in keys:
        tmux("send-keys", "-t", session, key)
        time.sleep(0.3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    """(port, ssh command) for an sshd on loopback that lets this user in with a new key."""
    if TMUX is None:
        pytest.fail("tmux is not installed: .ci/run installs it (apt-get install tmux)")
    if SSHD is None:
        pytest.fail("sshd is not installed: .ci/run installs it (apt-get install openssh-server)")
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    for name in ("host_key", "user_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True
        )
    (keys / "authorized_keys").write_text((keys / "user_key.pub").read_text())
    (keys / "authorized_keys").chmod(0o600)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
    port = _free_port()
    config = keys / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host_key'}\n"
        f"PidFile {keys / 'sshd.pid'}\nAuthorizedKeysFile {keys / 'authorized_keys'}\n"
        # Root may log in here, with a key only: this instance, on loopback, for this test.
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPrintMotd no\n"
        "PrintLastLog no\nAcceptEnv none\nLogLevel ERROR\n"
    )
    log = keys / "sshd.log"
    with log.open("wb") as out:
        server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=out)
    try:
        deadline = time.monotonic() + 10
        while True:
            if server.poll() is not None:
                pytest.skip(f"sshd cannot run here: {log.read_text().strip()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                pytest.skip(f"sshd did not listen within 10 s: {log.read_text().strip()}")
            time.sleep(0.1)
        ssh = (
            f"ssh -tt -p {port} -i {keys / 'user_key'} -o BatchMode=yes "
            f"-o StrictHostKeyChecking=no -o UserKnownHostsFile={keys / 'known_hosts'} "
            f"-o LogLevel=ERROR {getpass.getuser()}@127.0.0.1"
        )
        yield ssh
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def lab_dir(tmp_path):
    """A lab that outlives the SSH sessions, as a real homelab does."""
    directory = tmp_path / "lab"
    process = subprocess.Popen(
        [COCKPIT, "lab", "n100", "--speed", "3", "--dir", str(directory), "--for", "400"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (directory / "config.toml").exists():
            assert process.poll() is None, "the lab did not start"
            assert time.monotonic() < deadline, "the lab wrote no config within 30 s"
            time.sleep(0.1)
        yield directory
    finally:
        process.terminate()
        process.wait(20)


class Terminal:
    """A tmux window with ssh in it, logged in to the loopback sshd."""

    def __init__(self, ssh: str, name: str, state: Path) -> None:
        self.name = name
        try:
            tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48", ssh)
        except subprocess.CalledProcessError:
            # The tmux server may be on its way out (the last session just closed): a
            # second try starts a new one.
            time.sleep(1)
            tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48", ssh)
        tmux("resize-window", "-t", name, "-x", "160", "-y", "48")
        self.run(f"export TERM=xterm-256color XDG_STATE_HOME={state}")
        self.run('echo "colorterm=[${COLORTERM-unset}] logged-in"')
        wait_screen(name, "colorterm=[unset] logged-in", timeout=30)

    def run(self, line: str) -> None:
        tmux("send-keys", "-t", self.name, line, "Enter")

    def drop(self) -> None:
        """The connection goes away under the session: ssh is killed outright."""
        pid = int(tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").strip())
        os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        subprocess.run([TMUX, "kill-session", "-t", self.name], capture_output=True)


def _cockpits_on(config: Path) -> list[int]:
    """Pids of cockpit processes using this config (the remote ones, here on loopback)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if str(config).encode() in argv and any(a.endswith(b"cockpit") for a in argv):
                    found.append(int(entry.name))
    return found


def _node(lab_dir: Path, name: str) -> dict:
    server = json.loads((lab_dir / "kubeconfig").read_text())["clusters"][0]["cluster"]["server"]
    request = urllib.request.Request(
        f"{server}/api/v1/nodes/{name}", headers={"Authorization": "Bearer lab-admin"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_over_ssh_256_colours_keys_resize_and_a_drain_resumed_after_a_drop(
    sshd, lab_dir, tmp_path, monkeypatch
):
    state = tmp_path / "state"
    stamp = int(time.time() * 1000)
    first = Terminal(sshd, f"cockpit-ssh-{stamp}", state)
    second = None
    try:
        # The demo, as someone who just logged in would start it.
        first.run(f"{COCKPIT} demo n100 --speed 10")
        wait_screen(first.name, "kube ok", "proxmox ok", "tailscale ok", "postgresql-0")
        coloured = screen(first.name, escapes=True)
        assert "38;5;" in coloured or "48;5;" in coloured  # the 256-colour palette
        assert "38;2;" not in coloured and "48;2;" not in coloured  # never 24-bit colour
        type_slowly(first.name, "Tab", "Down", "?")
        wait_screen(first.name, "Next pane")  # the keys screen: keys get through
        type_slowly(first.name, "Escape")  # the keys screen closes
        # The terminal shrinks: ssh passes the new size on, the panes become tabs.
        tmux("resize-window", "-t", first.name, "-x", "100", "-y", "30")
        narrow = wait_screen(first.name, "overcommit", "kube ok")
        assert max(len(line) for line in narrow.splitlines()) <= 100
        type_slowly(first.name, "q")
        wait_prompt(first.name)
        first.run("echo demo-done")
        wait_screen(first.name, "demo-done", timeout=30)
        tmux("resize-window", "-t", first.name, "-x", "160", "-y", "48")

        # The same session on a lab that outlives it: a drain, and the line drops mid-way.
        config = lab_dir / "config.toml"
        first.run(f"{COCKPIT} --config {config}")
        wait_screen(first.name, "kube ok", "proxmox ok", "worker-1")
        type_slowly(first.name, ":")
        type_slowly(first.name, "drain worker-1", "Enter")
        plan = wait_screen(first.name, "plan: drain")
        if "Plan again with" in plan:  # pods with emptyDir data: kubectl's flag is offered
            type_slowly(first.name, "BTab", "Enter")
            time.sleep(1)
            plan = wait_screen(first.name, "plan: drain", "Run it")
        if "type worker-1" in plan:  # a dangerous plan wants the node's name typed
            type_slowly(first.name, "worker-1", "Enter")
        else:
            type_slowly(first.name, "y")
        wait_screen(first.name, "running: drain", timeout=30)
        monkeypatch.setenv("XDG_STATE_HOME", str(state))
        deadline = time.monotonic() + 30
        while not any(r.action == "drain" for r in Journal().unfinished()):
            assert time.monotonic() < deadline, "the drain never reached the journal"
            time.sleep(0.1)
        first.drop()
        deadline = time.monotonic() + 20
        while _cockpits_on(config):
            assert time.monotonic() < deadline, "the cockpit outlived its SSH session"
            time.sleep(0.2)
        (left,) = [r for r in Journal().unfinished() if r.action == "drain"]
        assert left.target.endswith("worker-1")

        # A new session: the unfinished drain is offered, resumed and finished.
        second = Terminal(sshd, f"cockpit-ssh2-{stamp}", state)
        second.run(f"{COCKPIT} --config {config}")
        wait_screen(second.name, "unfinished actions", "drain", timeout=60)
        type_slowly(second.name, "r")
        wait_screen(second.name, "resuming: drain", timeout=30)
        wait_screen(second.name, "succeeded", timeout=180)
        type_slowly(second.name, "escape", "q")
        wait_prompt(second.name)
        second.run("echo resumed-done")
        wait_screen(second.name, "resumed-done", timeout=30)
    finally:
        first.close()
        if second is not None:
            second.close()
    assert Journal().unfinished() == []
    (record,) = [r for r in Journal().records() if r.id == left.id]
    assert record.status == "succeeded"
    assert _node(lab_dir, "worker-1")["spec"].get("unschedulable") is True
