"""The cockpit's configuration: `$XDG_CONFIG_HOME/cockpit/config.toml`, then environment
overrides, validated with errors that name the file, line and key.

    [kubernetes]
    kubeconfig = "~/.kube/config"      # default: $KUBECONFIG, then ~/.kube/config
    context = "home"                   # default: the kubeconfig's current context

    [proxmox]
    url = "https://pve.lan:8006"
    token = "cockpit@pve!monitor"      # USER@REALM!TOKENID
    secret = "env:PVE_TOKEN_SECRET"    # or "file:~/.config/cockpit/pve.secret"
    ca_file = "/etc/pve/pve-root-ca.pem"
    insecure = false                   # true skips TLS verification; only when you mean it

    [tailscale]
    socket = "/var/run/tailscale/tailscaled.sock"   # default: the standard paths

    [sites]                            # where each machine stands, by its name
    pve = "home"                       # a Proxmox host
    rpi5-kr1 = "friend-kr-1"           # a bare-metal machine (its node's name)

    [links.worker-1]                   # when names and IPs do not tell which guest a node is
    host = "pve"
    vmid = 102

    [thresholds.memory_ratio]          # see cockpit/alloc/thresholds.py
    balanced = 1.5

    [ui]
    theme = "dark"
    readonly = false

Environment: COCKPIT_CONFIG (the file), KUBECONFIG, COCKPIT_KUBE_CONTEXT,
COCKPIT_PROXMOX_URL, COCKPIT_PROXMOX_TOKEN ("USER@REALM!TOKENID=SECRET", the form of the
PVEAPIToken header), COCKPIT_PROXMOX_CA, COCKPIT_PROXMOX_INSECURE=1,
COCKPIT_TAILSCALE_SOCKET, COCKPIT_READONLY=1.

A source with nothing configured is "not configured", never an error. Secrets are kept as
cockpit.secret.Secret, never as str, so they cannot leak through a repr or a log line.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Thresholds, thresholds_from_table
from cockpit.model import Backing
from cockpit.secret import Secret
from cockpit.tomlread import Context, Table, TomlFileError, parse_toml

TOKEN_ID = re.compile(r"^[^@!\s]+@[^@!\s]+![A-Za-z][A-Za-z0-9._-]*$")


class ConfigError(TomlFileError):
    """A config file or environment variable that cannot be used."""


@dataclass(frozen=True)
class KubeSettings:
    kubeconfig: str | None = None  # None: $KUBECONFIG, then ~/.kube/config
    context: str | None = None


@dataclass(frozen=True)
class ProxmoxSettings:
    host: str
    port: int
    user: str  # USER@REALM
    token_name: str
    token_value: Secret
    verify: bool | str = True  # a CA file path, True (system CAs) or False (insecure)
    timeout: float = 5.0

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"


@dataclass(frozen=True)
class TailscaleSettings:
    socket: str | None = None  # None: the standard paths, then `tailscale status --json`
    cli: str = "tailscale"


@dataclass(frozen=True)
class Config:
    path: str
    kube: KubeSettings | None
    proxmox: ProxmoxSettings | None
    tailscale: TailscaleSettings
    links: Mapping[str, Backing] = field(default_factory=dict)
    sites: Mapping[str, str] = field(default_factory=dict)  # machine name -> site
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    theme: str = "dark"
    readonly: bool = False
    # Things that work but should not be left so (a secret file others can read, TLS
    # verification off): the command line prints them to stderr.
    warnings: tuple[str, ...] = ()

    def unconfigured_hint(self, source: str) -> str:
        return {
            "kube": f"set [kubernetes] kubeconfig in {self.path} or export KUBECONFIG",
            "proxmox": f"add a [proxmox] url, token and secret to {self.path}, or export "
            "COCKPIT_PROXMOX_URL and COCKPIT_PROXMOX_TOKEN",
            "tailscale": f"set [tailscale] socket in {self.path}",
        }[source]


def default_path(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("COCKPIT_CONFIG"):
        return Path(env["COCKPIT_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cockpit" / "config.toml"


def load_config(path: str | Path | None = None, env: Mapping[str, str] = os.environ) -> Config:
    """Read the config file (a missing file is an empty config) and apply the environment."""
    file = Path(path).expanduser() if path else default_path(env)
    explicit = path is not None or bool(env.get("COCKPIT_CONFIG"))
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(str(file), "", "file not found") from None
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(file), "", f"cannot read: {exc}") from None
    ctx = Context(str(file), text, ConfigError)
    root = Table(parse_toml(text, str(file), ConfigError), (), ctx)
    warnings: list[str] = []
    config = Config(
        path=str(file),
        kube=_kube(root.sub("kubernetes"), env),
        proxmox=_proxmox(root.sub("proxmox"), env, file.parent, ctx, warnings),
        tailscale=_tailscale(root.sub("tailscale"), env),
        links=_links(root.sub("links")),
        sites=_sites(root.sub("sites")),
        thresholds=_thresholds(root, ctx),
        **_ui(root.sub("ui"), env),
    )
    root.done()
    return replace(config, warnings=tuple(warnings)) if warnings else config


def _kube(t: Table | None, env: Mapping[str, str]) -> KubeSettings | None:
    kubeconfig = context = None
    if t is not None:
        kubeconfig = t.str("kubeconfig") or None
        context = t.str("context") or None
        t.done()
    context = env.get("COCKPIT_KUBE_CONTEXT") or context
    if kubeconfig is not None:
        return KubeSettings(str(Path(kubeconfig).expanduser()), context)
    candidates = [p for p in (env.get("KUBECONFIG") or "").split(os.pathsep) if p]
    candidates.append(str(Path(env.get("HOME") or Path.home()) / ".kube" / "config"))
    present = [str(Path(p).expanduser()) for p in candidates if Path(p).expanduser().exists()]
    if not present and not env.get("KUBERNETES_SERVICE_HOST"):
        return None  # nothing to connect to: not configured, not an error
    # Several files merge as kubectl merges them; none but in a pod: in-cluster config.
    return KubeSettings(os.pathsep.join(present) or None, context)


def _proxmox(
    t: Table | None, env: Mapping[str, str], base: Path, ctx: Context, warnings: list[str]
) -> ProxmoxSettings | None:
    url = token = ca_file = None
    secret: Secret | None = None
    insecure = False
    timeout = 5.0

    def error(key: str, message: str) -> ConfigError:
        # The file and line of [proxmox] (or of the key), even when the table is absent.
        return t.error(key, message) if t is not None else ctx.error(("proxmox", key), message)

    if t is not None:
        url = t.str("url") or None
        token = t.str("token") or None
        raw_secret = t.str("secret")
        if raw_secret:
            secret = _secret_ref(t, "secret", raw_secret, env, base, warnings)
        ca_file = t.str("ca_file") or None
        insecure = t.bool("insecure")
        raw_timeout = t.typed("timeout", (int, float), 5.0, "a number of seconds")
        try:
            timeout = float(raw_timeout)
        except OverflowError:  # an integer beyond any float
            timeout = math.inf
        if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:  # also refuses nan and inf
            raise t.error(
                "timeout",
                f"expected seconds between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} "
                f"(how long to wait for Proxmox to answer), got {timeout:g}",
            )
        t.done()
    url = env.get("COCKPIT_PROXMOX_URL") or url
    if env.get("COCKPIT_PROXMOX_TOKEN"):
        token, sep, value = env["COCKPIT_PROXMOX_TOKEN"].partition("=")
        if not sep or not value:
            raise ConfigError(
                "COCKPIT_PROXMOX_TOKEN",
                "",
                "expected USER@REALM!TOKENID=SECRET (the secret is not shown here)",
            )
        secret = Secret(value)
    ca_file = env.get("COCKPIT_PROXMOX_CA") or ca_file
    insecure = insecure or env.get("COCKPIT_PROXMOX_INSECURE", "") in ("1", "true", "yes")
    if url is None and token is None:
        return None
    from_env = bool(env.get("COCKPIT_PROXMOX_URL"))

    def url_error(message: str) -> ConfigError:
        if from_env:
            return ConfigError("COCKPIT_PROXMOX_URL", "", message)
        return error("url", message)

    if url is None:
        raise error("url", "is required with a token: the API address such as https://pve.lan:8006")
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        shown = _url_for_message(url)
        port = parts.port
    except ValueError:  # "pve.lan:80x", "pve.lan:99999", "https://[::1"
        raise url_error(
            "expected an https:// URL such as https://pve.lan:8006 with a port from 1 to "
            f"65535 (the API listens on 8006), got {_url_for_message(url)!r}"
        ) from None
    if parts.scheme != "https" or not parts.hostname:
        raise url_error(f"expected an https:// URL such as https://pve.lan:8006, got {shown!r}")
    if port == 0:
        raise url_error(f"expected a port from 1 to 65535 (the API listens on 8006), got {shown!r}")
    if token is None or not TOKEN_ID.match(token):
        raise (
            ConfigError("COCKPIT_PROXMOX_TOKEN", "", "expected USER@REALM!TOKENID=SECRET")
            if env.get("COCKPIT_PROXMOX_TOKEN")
            else error("token", _token_problem(token))
        )
    if secret is None:
        raise error("secret", 'is required: the token\'s secret as "env:VARIABLE" or "file:PATH"')
    if insecure:
        warnings.append(
            "TLS verification for Proxmox is off (insecure): anyone on the path can read the "
            "API token; set ca_file to a copy of /etc/pve/pve-root-ca.pem instead"
        )
    user, _, name = token.partition("!")
    verify: bool | str = (
        False if insecure else (str(Path(ca_file).expanduser()) if ca_file else True)
    )
    return ProxmoxSettings(parts.hostname, port or 8006, user, name, secret, verify, timeout)


MIN_TIMEOUT, MAX_TIMEOUT = 0.5, 600.0


def _url_for_message(url: str) -> str:
    """The URL without any user:password@ part, which is a credential."""
    scheme, sep, rest = url.rpartition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host.rpartition('@')[2]}{slash}{path}"


def _token_problem(token: str | None) -> str:
    """What is wrong with the token id, never quoting it: people paste the whole header
    value (USER@REALM!TOKENID=SECRET) or the secret alone here."""
    expected = "expected the API token id USER@REALM!TOKENID such as cockpit@pve!monitor"
    if token is None:
        return f"is required with a url: {expected}"
    if "=" in token:
        return (
            f"{expected}, without the secret: this looks like the full header form "
            "USER@REALM!TOKENID=SECRET (not shown here); keep the part before '=' and put the "
            'secret in a file or variable named by secret = "file:PATH" or "env:VARIABLE"'
        )
    return f"{expected} (the value is not shown here in case it is the secret itself)"


def _secret_ref(
    t: Table, key: str, value: str, env: Mapping[str, str], base: Path, warnings: list[str]
) -> Secret:
    """Secrets are referenced, not written into the config: env:NAME or file:PATH."""
    kind, _, ref = value.partition(":")
    if kind == "env" and ref:
        if ref not in env:
            raise t.error(key, f"environment variable {ref} is not set")
        if not env[ref].strip():
            raise t.error(key, f"environment variable {ref} is empty: it should hold the secret")
        return Secret(env[ref])
    if kind == "file" and ref:
        path = Path(ref).expanduser()
        if not path.is_absolute():
            path = base / path
        try:
            text = path.read_text(encoding="utf-8").strip()
            mode = path.stat().st_mode
        except OSError as exc:
            raise t.error(key, f"cannot read the secret file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise t.error(key, f"the secret file {path} is not text") from None
        if not text:
            raise t.error(key, f"the secret file {path} is empty: it should hold the secret")
        if mode & 0o077:
            warnings.append(
                f"the secret file {path} can be read by others (mode {mode & 0o777:o}): "
                f"chmod 600 {path}"
            )
        return Secret(text)
    raise t.error(
        key,
        'expected "env:VARIABLE" or "file:PATH" (the secret itself does not '
        "belong in the config file)",
    )


def _tailscale(t: Table | None, env: Mapping[str, str]) -> TailscaleSettings:
    socket = cli = None
    if t is not None:
        socket = t.str("socket") or None
        cli = t.str("cli") or None
        t.done()
    socket = env.get("COCKPIT_TAILSCALE_SOCKET") or socket
    return TailscaleSettings(socket, cli or "tailscale")


def _links(t: Table | None) -> dict[str, Backing]:
    links: dict[str, Backing] = {}
    if t is None:
        return links
    for node in list(t.data):
        lt = t.sub(node)
        assert lt is not None
        host = lt.str("host")
        if not host:
            raise lt.error("host", "is required: the physical host (Proxmox node) name")
        links[node] = Backing(host, lt.int("vmid"))
        lt.done()
    t.done()
    return links


def _sites(t: Table | None) -> dict[str, str]:
    """[sites]: machine name = "site". Node labels (topology.kubernetes.io/zone) say it for
    Kubernetes nodes; this says it for Proxmox hosts and bare-metal machines."""
    sites: dict[str, str] = {}
    if t is None:
        return sites
    for machine in list(t.data):
        site = t.str(machine)
        if not site.strip():
            raise t.error(machine, 'expected a site name such as "home"')
        sites[machine] = site
    t.done()
    return sites


def _thresholds(root: Table, ctx: Context) -> Thresholds:
    if not root.has("thresholds"):
        return DEFAULT_THRESHOLDS
    raw = root.raw("thresholds")
    if not isinstance(raw, dict):
        raise root.error("thresholds", "expected a table")
    try:
        return thresholds_from_table(raw)
    except ValueError as exc:
        where, _, message = str(exc).partition(": ")
        raise ctx.error(tuple(where.split(".")), message) from None


def _ui(t: Table | None, env: Mapping[str, str]) -> dict:
    theme, readonly = "dark", False
    if t is not None:
        theme = t.str("theme", "dark")
        readonly = t.bool("readonly")
        t.done()
    if env.get("COCKPIT_READONLY", "") in ("1", "true", "yes"):
        readonly = True
    return {"theme": theme, "readonly": readonly}
