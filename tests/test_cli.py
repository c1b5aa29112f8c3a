"""The CLI as a user runs it: a real process, its stdout, stderr and exit code."""

import json
import subprocess
import sys

import pytest


def cockpit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": ""},
    )


def test_plan_n100_shows_the_seed_table():
    result = cockpit("plan", "n100")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for figure in (
        "4 threads",
        "20 vCPU",
        "5.00x",
        "15.41 GB",
        "24.00 GB",
        "1.56x",
        "512 GB",
        "250 GB",
        "0.49x",
    ):
        assert figure in out
    lines = out.splitlines()
    assert any("CPU" in line and "5.00x" in line and "safe" in line for line in lines)
    assert any("Memory " in line and "1.56x" in line and "balanced" in line for line in lines)
    assert any("Disk" in line and "0.49x" in line and "ample" in line for line in lines)
    assert "coredns" in out  # k3s' single CoreDNS replica is a risk


def test_plan_json_follows_the_documented_schema():
    result = cockpit("plan", "n100", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "cockpit.plan/1"
    host = doc["hosts"][0]
    assert host["cpu"] == {"physical": 4, "allocated": 20, "ratio": 5.0, "verdict": "safe"}
    assert host["memory"]["ratio"] == 1.5574 and host["memory"]["verdict"] == "balanced"
    assert host["disk"]["ratio"] == 0.4883 and host["disk"]["verdict"] == "ample"
    assert doc["thresholds"]["memory_usage"] == {"caution": 75, "warning": 85, "critical": 95}
    assert {n["name"] for n in doc["nodes"]} == {"k3s-master", "worker-1", "worker-2"}
    assert doc["rollups"][0]["nodes"] == ["k3s-master", "worker-1", "worker-2"]
    codes = {r["code"] for r in doc["risks"]}
    assert "single-replica" in codes


def test_whatif_tells_seed_000_scenario_3():
    result = cockpit("whatif", "n100", "--lose", "worker-1", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "cockpit.whatif/1"
    kept = {m["priority_class"] for m in doc["moves"] if m["to"]}
    pending = {m["priority_class"] for m in doc["moves"] if not m["to"]}
    assert kept == {"system-critical", "business-critical", "monitoring"}
    assert pending == {"development", "optional"}
    text = cockpit("whatif", "n100", "--lose", "worker-1").stdout
    assert "What if node worker-1 is lost?" in text
    assert "Pending" in text and "Insufficient memory" in text


@pytest.mark.parametrize(
    "args",
    [
        ("whatif", "n100", "--drain", "worker-1"),
        ("whatif", "n100", "--lose-host", "pve"),
        ("labs",),
    ],
)
def test_other_commands_run(args):
    result = cockpit(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_errors_are_one_clear_line_and_exit_2(tmp_path):
    broken = tmp_path / "lab.toml"
    broken.write_text('[[hosts]]\nname = "pve"\ncores = 4\nmemory = "16 GB"\n')
    result = cockpit("plan", str(broken))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"cockpit: error: {broken}:4: hosts[0].memory: ")
    assert "Proxmox size like 32G" in result.stderr

    result = cockpit("whatif", "n100", "--lose", "worker-9")
    assert result.returncode == 2 and "unknown node 'worker-9'" in result.stderr
    assert "worker-1" in result.stderr  # says what the choices are

    result = cockpit("plan", str(tmp_path / "missing.toml"))
    assert result.returncode == 2 and "file not found" in result.stderr

    result = cockpit("plan", "nosuchlab")
    assert result.returncode == 2 and "built-in labs: n100" in result.stderr


def test_report_on_a_lab_goes_through_its_config():
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "report", "--lab", "n100", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "", "HOME": "/nonexistent"},
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "cockpit.report/1"
    assert {k: v["state"] for k, v in doc["health"].items()} == {
        "kube": "ok",
        "proxmox": "ok",
        "tailscale": "ok",
    }
    assert doc["counts"]["nodes"] == 3 and doc["counts"]["guests"] == 4
    assert doc["links"]["nodes"]["worker-1"] == {
        "host": "pve",
        "vmid": 102,
        "how": "by IP 192.168.1.12 (guest agent)",
    }
    host = doc["ledger"]["hosts"][0]
    assert host["cpu"]["ratio"] == 5.0 and host["memory"]["verdict"] == "balanced"


def test_lab_runs_prints_how_to_reach_it_and_stops(tmp_path):
    result = cockpit("lab", "n100", "--speed", "10", "--dir", str(tmp_path), "--for", "2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for what in ("kubeconfig", "proxmox", "tailscale", "config"):
        assert what in out
    assert (tmp_path / "kubeconfig").exists() and (tmp_path / "config.toml").exists()
    secret = (tmp_path / "pve.secret").read_text().strip()
    assert secret and secret not in out  # the token's secret is referenced, never shown


def test_report_without_anything_configured_still_answers(tmp_path):
    env = {
        "PATH": "",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "COCKPIT_TAILSCALE_SOCKET": str(tmp_path / "missing.sock"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "report", "--json", "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    # Nothing answered: the report says so and exits 2, never "No risks found" and 0.
    assert result.returncode == 2, result.stderr
    doc = json.loads(result.stdout)
    assert doc["checked"] is False
    health = doc["health"]
    assert health["kube"]["state"] == "unconfigured"
    assert health["proxmox"]["state"] == "unconfigured"
    assert health["tailscale"]["state"] == "error"  # the socket it was told of is missing

    text = subprocess.run(
        [sys.executable, "-m", "cockpit", "report", "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert text.returncode == 2
    assert "No risks found" not in text.stdout
    assert "Nothing was checked" in text.stdout and "cockpit init" in text.stdout

    # No socket where tailscaled keeps one, no `tailscale` on PATH, nothing configured:
    # Tailscale is not installed, which is "not found", not an error.
    del env["COCKPIT_TAILSCALE_SOCKET"]
    bare = subprocess.run(
        [sys.executable, "-m", "cockpit", "report", "--json", "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    tailscale = json.loads(bare.stdout)["health"]["tailscale"]
    assert tailscale["state"] == "not_found", tailscale
    assert "no `tailscale` command" in tailscale["reason"]


def test_plain_cockpit_without_a_config_says_what_to_do(tmp_path):
    env = {"PATH": "", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "TERM": "xterm"}
    result = subprocess.run(
        [sys.executable, "-m", "cockpit"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "cockpit demo" in result.stderr and "cockpit init" in result.stderr
    assert "nothing to show" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""  # no screen was opened
