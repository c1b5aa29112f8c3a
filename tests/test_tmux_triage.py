"""Triage and the runbook as a person meets them: the real `cockpit` in a real terminal
(tmux), keys with send-keys, the screen read with capture-pane."""

from __future__ import annotations

import subprocess
import time

import pytest
from live_lab import with_template
from test_tmux import COCKPIT, TMUX, screen, tmux, wait_screen


@pytest.fixture
def terminal(tmp_path):
    if TMUX is None:
        pytest.fail("tmux is not installed: .ci/run installs it (apt-get install tmux)")
    name = f"cockpit-triage-{int(time.time() * 1000)}"
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48")
    tmux("resize-window", "-t", name, "-x", "160", "-y", "48")
    yield name
    subprocess.run([TMUX, "kill-session", "-t", name], capture_output=True)


def type_slowly(name: str, *keys: str) -> None:
    """One send-keys per key group, with a pause: a box opened by ":" must have the focus
    before the letters arrive, as it does for a person typing."""
    for key in keys:
        tmux("send-keys", "-t", name, key)
        time.sleep(0.5)


def _run(name: str, command: str, tmp_path) -> None:
    state = tmp_path / "state"
    tmux("send-keys", "-t", name, f"XDG_STATE_HOME={state} {command}", "Enter")


def test_the_coredns_drill_shows_its_root_cause_on_the_real_screen(terminal, tmp_path):
    # Seed 004: the node running the only CoreDNS reboots.
    _run(terminal, f"{COCKPIT} demo tailnet --speed 20 --drill coredns-node-reboot", tmp_path)
    shown = wait_screen(terminal, "CRITICAL", "cluster DNS", timeout=120)
    first = next(line for line in shown.splitlines() if "CRITICAL" in line)
    assert "node" in first or "DNS" in first
    assert "[1]" in shown  # the first fix, on a digit
    assert "critical" in shown.splitlines()[-2] or "critical" in shown  # the status bar count
    tmux("send-keys", "-t", terminal, "t")
    view = wait_screen(terminal, "Triage:", "symptoms", timeout=30)
    assert "DNS-NO-ENDPOINT" in view or "cluster DNS" in view
    tmux("send-keys", "-t", terminal, "Escape", "q")
    time.sleep(1)


def test_the_runbook_screen_follows_a_replacement_in_a_real_terminal(terminal, tmp_path):
    lab = with_template("n100", tmp_path)
    _run(terminal, f"{COCKPIT} demo {lab} --speed 30", tmp_path)
    wait_screen(terminal, "kube ok", "worker-1", timeout=120)
    type_slowly(terminal, ":", "replace worker-1", "Enter")
    plan = wait_screen(terminal, "plan: replace node/worker-1", timeout=60)
    assert "Plan again with --force --delete-emptydir-data" in plan
    type_slowly(terminal, "BTab", "Enter")  # from Cancel back to the replan button
    wait_screen(terminal, "type worker-1", timeout=60)
    type_slowly(terminal, "worker-1", "Enter")
    wait_screen(terminal, "Retire the old machine", "Join the cluster", timeout=60)
    done = wait_screen(terminal, "succeeded:", "worker-1 replaced by worker-3", timeout=240)
    assert "✓ 7. Clean up" in done
    type_slowly(terminal, "Escape")
    after = wait_screen(terminal, "Hosts", "worker-3", timeout=60)
    assert "running: replace" not in after
    type_slowly(terminal, "q")
    deadline = time.monotonic() + 30  # the demo stops its lab on the way out
    while time.monotonic() < deadline and "Homelab Cockpit" in screen(terminal):
        time.sleep(0.2)
    assert "Homelab Cockpit" not in screen(terminal)
