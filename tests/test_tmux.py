"""The cockpit as a person runs it: a real process in a real terminal (tmux), keys sent with
send-keys, the screen read with capture-pane, then a clean quit."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
COCKPIT = str(Path(sys.executable).parent / "cockpit")


def tmux(*args: str) -> str:
    return subprocess.run([TMUX, *args], capture_output=True, text=True, check=True).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-t", session, "-p")


def wait_screen(session: str, *texts: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(session)
        if all(t in shown for t in texts):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"never saw {texts!r}; the screen was:\n{shown}")


@pytest.fixture
def session(tmp_path):
    if TMUX is None:
        pytest.fail("tmux is not installed: .ci/run installs it (apt-get install tmux)")
    name = f"cockpit-test-{int(time.time() * 1000)}"
    exit_file = tmp_path / "exit"
    # A shell first, sized, then the cockpit: so it starts in a 160x48 terminal for sure.
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48")
    tmux("resize-window", "-t", name, "-x", "160", "-y", "48")
    # COLUMNS/LINES exported into the shell (a tmux server started from a script passes its
    # own on) would pin Textual's size and hide the resize: the terminal's size must rule.
    tmux(
        "send-keys",
        "-t",
        name,
        f"env -u COLUMNS -u LINES {COCKPIT} demo n100 --speed 10; echo $? > {exit_file}",
        "Enter",
    )
    yield name, exit_file
    subprocess.run([TMUX, "kill-session", "-t", name], capture_output=True)


def test_demo_in_a_real_terminal(session):
    name, exit_file = session
    shown = wait_screen(name, "kube ok", "proxmox ok", "tailscale ok", "postgresql-0")
    # Wide terminal: the five panes side by side, the gauge and the host row.
    for pane in ("Hosts", "Guests", "Peers", "Nodes", "Pods"):
        assert pane in shown
    assert "15.41 GB" in shown and "1.56x balanced" in shown and "worker-1" in shown
    tmux("send-keys", "-t", name, "Tab", "Down", "Down")  # into Guests, move the selection
    # Shrink the real terminal to 80x24: the panes become tabs, live.
    tmux("resize-window", "-t", name, "-x", "80", "-y", "24")
    # Wait for the tab strip: the frame drawn for 160 columns lingers until the app redraws.
    narrow = wait_screen(name, "overcommit", "kube ok", "Hosts  Guests  Peers")
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert "postgresql-0" not in narrow  # the pods pane is a tab now, not on screen
    tmux("send-keys", "-t", name, "q")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not exit_file.exists():
        time.sleep(0.2)
    assert exit_file.exists(), f"the cockpit did not quit; the screen was:\n{screen(name)}"
    assert exit_file.read_text().strip() == "0"
    # The terminal is given back: the shell prompt, no leftover panes.
    after = screen(name)
    assert "Hosts" not in after and "overcommit" not in after


def test_over_ssh_at_256_colours_and_read_only(tmp_path):
    """ssh drops COLORTERM: the cockpit must fall back to the 256-colour palette (no 24-bit
    escapes that such a terminal would garble) and still read well; and in read-only mode
    the action keys do nothing but say so."""
    if TMUX is None:
        pytest.fail("tmux is not installed: .ci/run installs it (apt-get install tmux)")
    name = f"cockpit-256-{int(time.time() * 1000)}"
    exit_file = tmp_path / "exit"
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48")
    try:
        tmux("resize-window", "-t", name, "-x", "160", "-y", "48")
        command = (
            f"env -u COLORTERM -u COLUMNS -u LINES TERM=xterm-256color XDG_STATE_HOME={tmp_path} "
            f"{COCKPIT} --readonly demo n100 --speed 10; echo $? > {exit_file}"
        )
        tmux("send-keys", "-t", name, command, "Enter")
        wait_screen(name, "kube ok", "proxmox ok", "postgresql-0", "READ-ONLY")
        coloured = tmux("capture-pane", "-t", name, "-p", "-e")
        assert "38;5;" in coloured or "48;5;" in coloured  # the 256-colour palette is used
        assert "38;2;" not in coloured and "48;2;" not in coloured  # and never 24-bit colour
        tmux("send-keys", "-t", name, "Tab", "Tab", "Tab", "d")  # into Nodes, try a drain
        time.sleep(0.5)  # as a person types: the command box opens before the words come
        tmux("send-keys", "-t", name, ":")
        time.sleep(0.5)
        tmux("send-keys", "-t", name, "drain worker-1", "Enter")
        shown = wait_screen(name, "read-only mode")
        assert "plan: drain" not in shown
        tmux("send-keys", "-t", name, "q")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not exit_file.exists():
            time.sleep(0.2)
        assert exit_file.read_text().strip() == "0"
    finally:
        subprocess.run([TMUX, "kill-session", "-t", name], capture_output=True)


def test_the_demo_keeps_its_actions_out_of_the_real_journal(tmp_path):
    """A cordon in the demo is journaled in the demo's own folder: the operator's journal
    ($XDG_STATE_HOME/cockpit/journal.jsonl) never hears of the make-believe homelab."""
    if TMUX is None:
        pytest.fail("tmux is not installed: .ci/run installs it (apt-get install tmux)")
    name = f"cockpit-journal-{int(time.time() * 1000)}"
    exit_file = tmp_path / "exit"
    state = tmp_path / "state"
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48")
    try:
        tmux("resize-window", "-t", name, "-x", "160", "-y", "48")
        command = (
            f"XDG_STATE_HOME={state} TMPDIR={tmp_path} {COCKPIT} demo n100 --speed 10; "
            f"echo $? > {exit_file}"
        )
        tmux("send-keys", "-t", name, command, "Enter")
        wait_screen(name, "kube ok", "proxmox ok", "postgresql-0")
        tmux("send-keys", "-t", name, "Tab", "Tab", "Tab", "c")  # into Nodes, cordon
        wait_screen(name, "cordon")
        time.sleep(0.5)
        tmux("send-keys", "-t", name, "y")  # confirm
        time.sleep(3)
        tmux("send-keys", "-t", name, "Escape")
        time.sleep(0.5)
        tmux("send-keys", "-t", name, "J")
        shown = wait_screen(name, "journal /")
        assert str(state) not in shown
        lab_journals = list(tmp_path.glob("cockpit-lab-*/state/journal.jsonl"))
        assert lab_journals and "cordon" in lab_journals[0].read_text()
        tmux("send-keys", "-t", name, "Escape")
        time.sleep(0.3)
        tmux("send-keys", "-t", name, "q")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not exit_file.exists():
            time.sleep(0.2)
        assert exit_file.read_text().strip() == "0"
    finally:
        subprocess.run([TMUX, "kill-session", "-t", name], capture_output=True)
    assert not (state / "cockpit" / "journal.jsonl").exists()
