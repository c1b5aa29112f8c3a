"""No secret in any message, private state files, and a crash that is not success.

Real processes: the `cockpit` command against a running lab (its Proxmox face checks the API
token), with XDG_STATE_HOME pointed at a fresh folder so every file the cockpit writes there
(journal, crash logs) can be read back and searched for the secret.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit import labfile
from cockpit.actions.journal import Journal
from cockpit.cli.crash import write_crash_log
from cockpit.lab.runner import PVE_TOKEN_ID, RunningLab
from cockpit.secret import Secret

COCKPIT = str(Path(sys.executable).parent / "cockpit")


def run(args: list[str], state: Path, env: dict[str, str] | None = None, timeout: float = 120):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT_")}
    full = {**clean, "XDG_STATE_HOME": str(state), "HOME": str(state.parent), **(env or {})}
    full.pop("KUBECONFIG", None)
    return subprocess.run(
        [COCKPIT, *args], capture_output=True, text=True, env=full, timeout=timeout
    )


def written(state: Path) -> str:
    """Everything the cockpit wrote under its state folder."""
    return "\n".join(p.read_text(errors="replace") for p in state.rglob("*") if p.is_file())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    running = RunningLab(
        labfile.load("n100"), speed=30, directory=tmp_path_factory.mktemp("lab")
    ).start()
    yield running
    running.stop()


def pasted_configs(lab: RunningLab, directory: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    """The lab's own config with its token pasted where people paste it: the full header
    value or the bare secret, in each key or variable that carries a secret."""
    secret = lab.secret.reveal()
    header = f"{PVE_TOKEN_ID}={secret}"
    good = lab.config_path.read_text()
    token_line = next(line for line in good.splitlines() if line.startswith("token = "))
    secret_line = next(line for line in good.splitlines() if line.startswith("secret = "))
    variants = {
        "token=header": (good.replace(token_line, f'token = "{header}"'), {}),
        "token=bare": (good.replace(token_line, f'token = "{secret}"'), {}),
        "token=PVEAPIToken": (good.replace(token_line, f'token = "PVEAPIToken={header}"'), {}),
        "secret=header": (good.replace(secret_line, f'secret = "{header}"'), {}),
        "secret=bare": (good.replace(secret_line, f'secret = "{secret}"'), {}),
        "env=bare": (good, {"COCKPIT_PROXMOX_TOKEN": secret}),
        "env=no-id": (good, {"COCKPIT_PROXMOX_TOKEN": f"cockpit={secret}"}),
    }
    out = {}
    for name, (text, env) in variants.items():
        path = directory / f"{name}.toml"
        path.write_text(text)
        out[name] = (path, env)
    return out


def test_a_pasted_token_never_appears_anywhere(lab, tmp_path):
    secret = lab.secret.reveal()
    for name, (config, env) in pasted_configs(lab, tmp_path).items():
        state = tmp_path / f"state-{name}"
        result = run(["--config", str(config), "report"], state, env)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert "proxmox" in result.stderr.lower(), (name, result.stderr)
        for where, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            assert secret not in text, f"{name}: the secret is in {where}: {text}"
            assert secret[:8] not in text, f"{name}: part of the secret is in {where}"
        assert secret not in written(state), name


def test_a_working_session_leaks_nothing(lab, tmp_path):
    """The token used for real (from the file, and as the header form in the environment):
    report, a journaled Proxmox action and the journal listing; stdout, stderr, the journal
    and any log under the state folder are searched for it."""
    secret = lab.secret.reveal()
    state = tmp_path / "state"
    config = str(lab.config_path)
    header_env = {"COCKPIT_PROXMOX_TOKEN": f"{PVE_TOKEN_ID}={secret}"}
    vmid = str(next(g.vmid for g in lab.lab.snapshot.guests if g.status == "running"))
    runs = [
        run(["--config", config, "report", "--json"], state),
        run(["--config", config, "report"], state, header_env),
        run(["guest", "reboot", vmid, "--yes", "--config", config], state, header_env),
        run(["journal", "--json"], state),
    ]
    for result in runs:
        assert result.returncode == 0, (result.args, result.stdout, result.stderr)
        assert secret not in result.stdout and secret not in result.stderr, result.args
    journal = state / "cockpit" / "journal.jsonl"
    assert "reboot" in journal.read_text()  # the action was journaled
    assert secret not in written(state)
    assert mode(state / "cockpit") == 0o700 and mode(journal) == 0o600


def test_state_folder_is_private_whatever_the_umask(tmp_path):
    state = tmp_path / "state" / "cockpit"
    old = os.umask(0o022)
    try:
        Journal(state / "journal.jsonl").write({"event": "open"})
        assert mode(state) == 0o700 and mode(state / "journal.jsonl") == 0o600
        state.chmod(0o755)  # made by an older version
        Journal(state / "journal.jsonl").write({"event": "open"})
        assert mode(state) == 0o700
    finally:
        os.umask(old)


def test_crash_log_is_private_and_scrubbed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    token = Secret("5ad2b8a4-a-secret-held-by-the-process")
    try:
        raise RuntimeError(
            f"boom with {token.reveal()} and Authorization: PVEAPIToken=root@pam!x=other-secret"
            " and a pasted root@pam!cockpit=third-secret"
        )
    except RuntimeError as exc:
        log = write_crash_log(exc, "the command")
    assert log is not None and log.parent == tmp_path / "cockpit"
    assert mode(log) == 0o600 and mode(log.parent) == 0o700
    text = log.read_text()
    assert "RuntimeError: boom" in text and "Traceback" in text
    for secret in ("5ad2b8a4", "other-secret", "third-secret"):
        assert secret not in text


def test_a_crashed_command_exits_non_zero_with_one_line_and_a_log(tmp_path):
    state = tmp_path / "state"
    result = run(["labs"], state, {"COCKPIT_DEBUG_CRASH": "command"})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr
    assert lines[0].startswith("cockpit: internal error in the command: DeliberateCrash")
    [log] = (state / "cockpit").glob("crash-*.log")
    assert str(log) in lines[1] and mode(log) == 0o600
    assert "Traceback (most recent call last)" in log.read_text()


# --- the screen, in a real terminal ------------------------------------------------------------


def test_a_crashed_screen_exits_non_zero_in_a_real_terminal(tmp_path):
    """A crash inside the running Textual app used to end with exit code 0. Provoked with
    the documented COCKPIT_DEBUG_CRASH=screen hook once the first frame is painted."""
    from test_tmux import TMUX, screen, tmux

    if TMUX is None:
        pytest.fail("tmux is not installed: .ci/run installs it (apt-get install tmux)")
    state, exit_file = tmp_path / "state", tmp_path / "exit"
    name = f"cockpit-crash-{int(time.time() * 1000)}"
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40")
    try:
        tmux(
            "send-keys",
            "-t",
            name,
            f"COCKPIT_DEBUG_CRASH=screen XDG_STATE_HOME={state} {COCKPIT} demo n100 --speed 10;"
            f" echo $? > {exit_file}",
            "Enter",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not exit_file.exists():
            time.sleep(0.2)
        shown = screen(name)
        assert exit_file.exists(), f"the cockpit did not end; the screen was:\n{shown}"
        assert exit_file.read_text().strip() == "1"
        [log] = (state / "cockpit").glob("crash-*.log")
        assert mode(log) == 0o600 and "DeliberateCrash" in log.read_text()
        assert "cockpit: internal error in the screen: DeliberateCrash" in shown
        assert str(log.name) in shown.replace("\n", "")
        assert "locals" not in shown and "Traceback" not in shown  # no frame dump on screen
    finally:
        subprocess.run([TMUX, "kill-session", "-t", name], capture_output=True)


def test_insecure_is_a_real_option_and_visibly_warned(lab, tmp_path):
    """The certificate hint says --insecure: it exists, and using it says what it costs."""
    import json

    text = lab.config_path.read_text()
    ca_line = next(line for line in text.splitlines() if line.startswith("ca_file = "))
    config = tmp_path / "no-ca.toml"
    config.write_text(text.replace(ca_line, ""))  # the lab's CA is in no system store
    state = tmp_path / "state"
    args = ["--config", str(config), "report", "--json", "--timeout", "10"]
    refused = run(args, state)
    proxmox = json.loads(refused.stdout)["health"]["proxmox"]
    assert proxmox["state"] != "ok" and "certificate not trusted" in proxmox["reason"]
    assert "--insecure" in proxmox["hint"]
    accepted = run(["--insecure", *args], state)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["health"]["proxmox"]["state"] == "ok"
    assert "warning: TLS verification for Proxmox is off" in accepted.stderr
    assert "warning" not in refused.stderr
