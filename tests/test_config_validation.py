"""Config values that used to crash, pass silently or point at the wrong place: each is now a
ConfigError naming the file, the line, the key and what is expected, or a warning."""

from __future__ import annotations

import pytest

from cockpit.config import ConfigError, load_config
from cockpit.labfile import MAX_REPLICAS, LabFileError, loads

BASE = """\
[ui]
theme = "dark"

[proxmox]
url = "https://pve.lan:8006"
token = "cockpit@pve!monitor"
secret = "env:PVE_SECRET"
"""
URL_LINE, TOKEN_LINE, SECRET_LINE = 5, 6, 7


@pytest.fixture
def env(tmp_path):
    return {"HOME": str(tmp_path), "PVE_SECRET": "a-real-secret-value"}


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def error_for(tmp_path, env, text) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env)
    assert info.value.file == str(path), "the error must name the file, not its folder"
    return info.value


@pytest.mark.parametrize("url", ["https://pve.lan:80x", "https://pve.lan:99999", "pve.lan:0"])
def test_bad_port_is_a_clear_error(tmp_path, env, url):
    err = error_for(tmp_path, env, BASE.replace("https://pve.lan:8006", url))
    assert (err.where, err.line) == ("proxmox.url", URL_LINE)
    assert "65535" in err.message and "8006" in err.message


def test_url_credentials_are_not_echoed(tmp_path, env):
    err = error_for(tmp_path, env, BASE.replace("https://pve.lan:8006", "http://me:hunter22@pve"))
    assert "hunter22" not in str(err) and "https://" in err.message


@pytest.mark.parametrize("value", ["0", "-1", "0.1", "1e400", "inf", "nan", "1" + "0" * 30, "601"])
def test_timeout_out_of_range(tmp_path, env, value):
    err = error_for(tmp_path, env, BASE + f"timeout = {value}\n")
    assert (err.where, err.line) == ("proxmox.timeout", 8)
    assert "seconds between 0.5 and 600" in err.message


def test_timeout_in_range_is_kept(tmp_path, env):
    assert load_config(write(tmp_path, BASE + "timeout = 30\n"), env).proxmox.timeout == 30.0


def test_huge_integers_are_out_of_range_not_a_crash(tmp_path, env):
    text = BASE + '\n[links.worker-1]\nhost = "pve"\nvmid = ' + "9" * 400 + "\n"
    err = error_for(tmp_path, env, text)
    assert err.where == "links.worker-1.vmid" and "out of range" in err.message


@pytest.mark.parametrize("content", ["", "\n", "   \n"])
def test_empty_secret_file_is_refused(tmp_path, env, content):
    secret = tmp_path / "pve.secret"
    secret.write_text(content)
    secret.chmod(0o600)
    err = error_for(tmp_path, env, BASE.replace("env:PVE_SECRET", f"file:{secret}"))
    assert (err.where, err.line) == ("proxmox.secret", SECRET_LINE)
    assert "is empty" in err.message and str(secret) in err.message


def test_empty_secret_variable_is_refused(tmp_path, env):
    err = error_for(tmp_path, {**env, "PVE_SECRET": ""}, BASE)
    assert err.where == "proxmox.secret" and "PVE_SECRET is empty" in err.message


def test_secret_file_readable_by_others_is_warned_about(tmp_path, env):
    secret = tmp_path / "pve.secret"
    secret.write_text("a-real-secret-value\n")
    text = BASE.replace("env:PVE_SECRET", f"file:{secret}")
    secret.chmod(0o644)
    config = load_config(write(tmp_path, text), env)
    assert config.proxmox.token_value.reveal() == "a-real-secret-value"
    [warning] = config.warnings
    assert str(secret) in warning and f"chmod 600 {secret}" in warning
    assert "a-real-secret-value" not in warning
    secret.chmod(0o600)
    assert load_config(write(tmp_path, text), env).warnings == ()


def test_insecure_is_warned_about(tmp_path, env):
    config = load_config(write(tmp_path, BASE + "insecure = true\n"), env)
    assert config.proxmox.verify is False
    assert any("TLS verification for Proxmox is off" in w for w in config.warnings)


@pytest.mark.parametrize(
    ("drop", "where", "line", "words"),
    [
        ('url = "https://pve.lan:8006"\n', "proxmox.url", 4, "is required"),
        ('secret = "env:PVE_SECRET"\n', "proxmox.secret", 4, "is required"),
        ('token = "cockpit@pve!monitor"\n', "proxmox.token", 4, "is required"),
    ],
)
def test_proxmox_errors_name_the_file_and_line(tmp_path, env, drop, where, line, words):
    err = error_for(tmp_path, env, BASE.replace(drop, ""))
    assert (err.where, err.line) == (where, line)
    assert words in err.message
    assert str(err).startswith(f"{tmp_path / 'config.toml'}:{line}: {where}: ")


PASTED = [
    "root@pam!cockpit=0d9f3c2e-7d1a-4b7e-9a55-3f1c2b8e4d61",  # the header form
    "PVEAPIToken=root@pam!cockpit=0d9f3c2e-7d1a-4b7e-9a55-3f1c2b8e4d61",
    "0d9f3c2e-7d1a-4b7e-9a55-3f1c2b8e4d61",  # the bare secret
]


@pytest.mark.parametrize("pasted", PASTED, ids=["header-form", "with-prefix", "bare-secret"])
def test_a_pasted_token_is_never_echoed(tmp_path, env, pasted):
    for key, value in (("token", "cockpit@pve!monitor"), ("secret", "env:PVE_SECRET")):
        err = error_for(tmp_path, env, BASE.replace(f'"{value}"', f'"{pasted}"'))
        assert err.where == f"proxmox.{key}" and err.line == {"token": 6, "secret": 7}[key]
        assert "0d9f3c2e" not in str(err), str(err)
    header = error_for(tmp_path, env, BASE.replace('"cockpit@pve!monitor"', f'"{PASTED[0]}"'))
    assert "full header form" in header.message


def test_lab_replicas_are_bounded(tmp_path):
    base = """
[[hosts]]
name = "pve"
cores = 4
memory = "16G"

[[nodes]]
name = "n1"
host = "pve"

[[workloads]]
name = "web"
replicas = {replicas}
"""
    with pytest.raises(LabFileError, match=f"{MAX_REPLICAS:,}|{MAX_REPLICAS}") as info:
        loads(base.format(replicas=10**9), "big.toml")  # used to run for ever
    assert info.value.where == "workloads[0].replicas" and info.value.line == 13
    with pytest.raises(LabFileError, match="out of range"):
        loads(base.format(replicas=10**400), "huge.toml")
    assert len(loads(base.format(replicas=3), "ok.toml").snapshot.pods) >= 3
