import pytest

from cockpit.config import ConfigError, load_config
from cockpit.model import Backing

FULL = """
[kubernetes]
kubeconfig = "{kubeconfig}"
context = "home"

[proxmox]
url = "https://pve.lan:8006"
token = "cockpit@pve!monitor"
secret = "env:PVE_SECRET"
ca_file = "/etc/pve/pve-root-ca.pem"

[tailscale]
socket = "/tmp/ts.sock"

[links.worker-1]
host = "pve"
vmid = 102

[thresholds.memory_ratio]
balanced = 1.5

[ui]
theme = "light"
"""


@pytest.fixture
def home(tmp_path):
    return {"HOME": str(tmp_path)}


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_missing_file_means_nothing_configured(tmp_path, home):
    config = load_config(env={**home, "XDG_CONFIG_HOME": str(tmp_path)})
    assert config.kube is None and config.proxmox is None
    assert config.tailscale.socket is None  # auto-discovery
    assert "KUBECONFIG" in config.unconfigured_hint("kube")


def test_full_file(tmp_path, home):
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("{}")
    config = load_config(
        write(tmp_path, FULL.format(kubeconfig=kubeconfig)),
        env={**home, "PVE_SECRET": "s3cr3t-value"},
    )
    assert config.kube.kubeconfig == str(kubeconfig) and config.kube.context == "home"
    pve = config.proxmox
    assert (pve.host, pve.port, pve.user, pve.token_name) == (
        "pve.lan",
        8006,
        "cockpit@pve",
        "monitor",
    )
    assert pve.token_value.reveal() == "s3cr3t-value"
    assert pve.verify == "/etc/pve/pve-root-ca.pem"
    assert "s3cr3t" not in repr(config) and "s3cr3t" not in str(config)
    assert config.tailscale.socket == "/tmp/ts.sock"
    assert config.links == {"worker-1": Backing("pve", 102)}
    assert config.thresholds.memory_ratio.balanced == 1.5
    assert config.theme == "light"


def test_environment_overrides(tmp_path, home):
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("{}")
    env = {
        **home,
        "XDG_CONFIG_HOME": str(tmp_path),
        "KUBECONFIG": str(kubeconfig),
        "COCKPIT_KUBE_CONTEXT": "lab",
        "COCKPIT_PROXMOX_URL": "https://10.0.0.2:8006",
        "COCKPIT_PROXMOX_TOKEN": "root@pam!cockpit=abc-123",
        "COCKPIT_PROXMOX_INSECURE": "1",
        "COCKPIT_TAILSCALE_SOCKET": "/run/ts.sock",
        "COCKPIT_READONLY": "1",
    }
    config = load_config(env=env)
    assert config.kube.kubeconfig == str(kubeconfig) and config.kube.context == "lab"
    assert config.proxmox.host == "10.0.0.2" and config.proxmox.verify is False
    assert config.proxmox.token_value.reveal() == "abc-123"
    assert config.tailscale.socket == "/run/ts.sock" and config.readonly


def test_secret_from_file_relative_to_the_config(tmp_path, home):
    (tmp_path / "pve.secret").write_text("from-file\n")
    text = FULL.format(kubeconfig="x").replace('"env:PVE_SECRET"', '"file:pve.secret"')
    config = load_config(write(tmp_path, text), env=home)
    assert config.proxmox.token_value.reveal() == "from-file"


@pytest.mark.parametrize(
    "change, where, words",
    [
        (('secret = "env:PVE_SECRET"', 'secret = "plain-text"'), "proxmox.secret", "env:VARIABLE"),
        (('token = "cockpit@pve!monitor"', 'token = "cockpit"'), "proxmox.token", "USER@REALM!"),
        (('url = "https://pve.lan:8006"', 'url = "http://pve.lan:8006"'), "", "https:// URL"),
        (('theme = "light"', 'theme = "light"\nthem = "x"'), "ui.them", "unknown key"),
        (("vmid = 102", 'vmid = "102"'), "links.worker-1.vmid", "whole number"),
        (("balanced = 1.5", "balanced = 9"), "thresholds.memory_ratio", "must increase"),
    ],
)
def test_errors_name_the_key_and_what_is_expected(tmp_path, home, change, where, words):
    path = write(tmp_path, FULL.format(kubeconfig="x").replace(*change))
    with pytest.raises(ConfigError) as info:
        load_config(path, env={**home, "PVE_SECRET": "s"})
    assert info.value.where == where or where in str(info.value)
    assert words in str(info.value)
    assert "plain-text" not in str(info.value) or "secret" not in where


def test_missing_secret_variable(tmp_path, home):
    with pytest.raises(ConfigError, match="environment variable PVE_SECRET is not set") as info:
        load_config(write(tmp_path, FULL.format(kubeconfig="x")), env=home)
    assert info.value.line == 9


def test_broken_toml_and_explicit_missing_file(tmp_path, home):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[proxmox\n"), env=home)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", env=home)


def test_bad_token_env_does_not_echo_the_secret(home, tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(
            env={
                **home,
                "XDG_CONFIG_HOME": str(tmp_path),
                "COCKPIT_PROXMOX_TOKEN": "no-equals-sign-secretish",
            }
        )
    assert "secretish" not in str(info.value)
