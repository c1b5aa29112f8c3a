"""Output read by scripts: a real `cockpit` process piped into real `grep` (or read from a
pipe), never told the terminal's width. Full cells, one row per line, no colour."""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.lab.runner import RunningLab
from cockpit.labfile import load

COCKPIT = f"{shlex.quote(sys.executable)} -m cockpit"


def piped(command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`command` through /bin/sh, so a pipe into grep is a pipe into grep."""
    return subprocess.run(
        ["/bin/sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), "COLUMNS": "80", **(env or {})},
        check=False,
    )


def on_terminal(args: list[str], env: dict[str, str], columns: int) -> str:
    """The output as a terminal `columns` wide shows it (a real pseudo-terminal)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdout is the terminal
        os.execve(
            sys.executable,
            [sys.executable, "-m", "cockpit", *args],
            {**env, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm"},
        )
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def test_whatif_piped_into_grep_counts_the_pod():
    result = piped(f"{COCKPIT} whatif n100 --lose worker-1 | grep -c postgresql")
    assert int(result.stdout.strip()) >= 2, result.stderr  # its move and its workload
    full = piped(f"{COCKPIT} whatif n100 --lose worker-1").stdout
    row = next(line for line in full.splitlines() if "data/postgresql-0" in line)
    assert "system-critical" in row and "worker-2" in row  # the whole row on one line
    assert "\x1b[" not in full  # no colour in a pipe
    assert "…" not in full  # nothing cut


def test_plan_piped_into_grep_finds_the_node_row():
    result = piped(f"{COCKPIT} plan n100 | grep worker-1")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    node_row = next(line for line in rows if "10/110" in line)
    assert "worker-1" in node_row and "pve" in node_row and "critical" in node_row
    assert "worke…" not in result.stdout


def test_report_keeps_bracketed_words(tmp_path):
    # Nothing configured: the hints name config tables, "[kubernetes]" and "[proxmox]".
    env = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "COCKPIT_TAILSCALE_SOCKET": str(tmp_path / "missing.sock"),
        "PATH": "",
    }
    result = piped(f"{COCKPIT} report --timeout 3", env)
    assert "set [kubernetes] kubeconfig in" in result.stdout
    assert "add a [proxmox] url, token and secret" in result.stdout
    assert "set [tailscale] socket" in result.stdout


def _journal(state: Path) -> None:
    lines = []
    for i in range(3):
        action_id = f"20261205-180000-abcdef0{i}"
        lines.append(
            {
                "v": 1,
                "id": action_id,
                "event": "start",
                "action": "drain",
                "target": "node/worker-1",
                "at": 1796000000.0 + i,
                "user": "operator",
                "host": "homelab-box.lan",
            }
        )
        lines.append(
            {
                "v": 1,
                "id": action_id,
                "event": "end",
                "status": "succeeded",
                "message": "node worker-1 is cordoned and holds only DaemonSet and mirror "
                "pods, after evicting apps/nginx, data/postgresql-0 and monitoring/prometheus-0",
                "at": 1796000100.0 + i,
            }
        )
    (state / "cockpit").mkdir(parents=True)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (state / "cockpit" / "journal.jsonl").write_text(text)


def test_journal_columns_on_a_160_column_terminal_and_in_a_pipe(tmp_path):
    _journal(tmp_path)
    env = {"PATH": os.environ.get("PATH", ""), "XDG_STATE_HOME": str(tmp_path)}
    screen = on_terminal(["journal"], env, 160)
    for header in ("ID", "Started", "Action", "Target", "Status", "Steps", "By", "Message"):
        assert header in screen, screen
    row = next(line for line in screen.splitlines() if "abcdef00" in line)
    assert "drain" in row and "node/worker-1" in row and "succeeded" in row
    assert "operator@homelab-box.lan" in row and "su…" not in screen
    assert "│ │" not in screen  # no column drawn zero columns wide

    result = piped(f"{COCKPIT} journal", {"XDG_STATE_HOME": str(tmp_path)})
    rows = [line for line in result.stdout.splitlines() if "abcdef0" in line]
    assert len(rows) == 3  # one row per line
    assert all("monitoring/prometheus-0" in r and "operator@homelab-box.lan" in r for r in rows)


@pytest.fixture(scope="module")
def running_lab(tmp_path_factory):
    lab = RunningLab(load("n100"), speed=30, directory=tmp_path_factory.mktemp("lab")).start()
    try:
        yield lab
    finally:
        lab.stop()


def test_an_actions_plan_piped_is_full_lines(running_lab, tmp_path):
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}
    config = shlex.quote(str(running_lab.config_path))
    result = piped(f"{COCKPIT} --config {config} drain worker-1 --plan | cat", env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out
    moves = [line for line in out.splitlines() if "-> likely lands on" in line]
    assert moves and all(line.rstrip().endswith(("worker-2", "k3s-master")) for line in moves)
    warning = next(line for line in out.splitlines() if "will go Pending" in line)
    assert "Insufficient" in warning  # the scheduler's reason on the same line
