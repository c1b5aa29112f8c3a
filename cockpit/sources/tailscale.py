"""The Tailscale adapter: tailscaled's LocalAPI (or `tailscale status --json`) to model Peers.

Where tailscaled listens (checked against tailscale's paths/paths.go, safesocket/ and
client/local; see `discover`):

  * an explicit socket path from the config always wins;
  * macOS GUI app (App Store or standalone "macsys"): no unix socket; its sandboxed tailscaled
    serves LocalAPI on 127.0.0.1:PORT and wants HTTP basic auth with an empty user and a
    token as password. The App Store app keeps a file named sameuserproof-PORT-TOKEN in its
    group container (~/Library/Group Containers/<team>.io.tailscale.ipn.macos/; tailscale
    itself finds it with lsof); the macsys app writes /Library/Tailscale/ipnport (a symlink
    whose target is PORT) and /Library/Tailscale/sameuserproof-PORT (holding TOKEN). Like
    tailscale's client we try the App Store file first, and we only use a port something
    listens on, since both files outlive the app;
  * macOS open-source tailscaled: /var/run/tailscaled.socket;
  * Linux and the BSDs: /var/run/tailscale/tailscaled.sock (tailscaled's default) and
    /run/tailscale/tailscaled.sock (what the systemd unit passes with --socket), then the
    NAS packages' places (Synology DSM 7 and 6, QNAP, gokrazy).

Requests carry Host "local-tailscaled.sock" (apitype.LocalAPIHost): tailscaled refuses
any other Host, and any Origin or Referer, with 403 "invalid localapi request".

When no socket is found, or connecting to it finds nothing listening, `fetch` runs
`tailscale status --json` instead: the CLI knows how to reach daemons we cannot (Windows'
named pipe, the macOS app over XPC) and prints the same ipnstate.Status document, so both
paths share `parse_status`. Every failure comes out as a SourceError saying what to do.

`timeout` bounds each socket operation; each request as a whole (connect to last byte) is
bounded by DEADLINE_FACTOR times it and its answer by a size cap (cockpit.sources.deadline),
so a tailscaled that trickles its answer fails in bounded time and memory. A tailscaled that
answers but is not connected (logged out, stopped, waiting for approval) is a `problem`
the poller shows in the health, with the command that fixes it.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpcore
import httpx
import orjson

from cockpit.model import Peer
from cockpit.model import TailnetStatus as DaemonStatus
from cockpit.sources.deadline import BodyTooLarge, DeadlineBackend
from cockpit.sources.health import NotFound, SourceError

LOCALAPI_HOST = "local-tailscaled.sock"
GO_ZERO_TIME_PREFIX = "0001-01-01T00:00:00"  # Go's zero time.Time: "never" / "not known"
UNIX_SOCKETS = (
    "/var/run/tailscale/tailscaled.sock",  # paths.DefaultTailscaledSocket() on Linux/BSD
    "/run/tailscale/tailscaled.sock",  # --socket in tailscaled.service
    "/var/packages/Tailscale/var/tailscaled.sock",  # Synology DSM 7
    "/var/packages/Tailscale/etc/tailscaled.sock",  # Synology DSM 6
    "/tmp/tailscale/tailscaled.sock",  # QNAP
    "/perm/tailscaled/tailscaled.sock",  # gokrazy
)
DARWIN_SOCKET = "/var/run/tailscaled.socket"  # open-source tailscaled on macOS
MACSYS_DIR = Path("/Library/Tailscale")
APPSTORE_CONTAINERS = "Library/Group Containers/*.tailscale.ipn.macos"
# Tailscale's public DERP regions: home-region code -> region ID (HomeDERP, DERPRegionID).
DERP_REGIONS = {
    "nyc": 1, "sfo": 2, "sin": 3, "fra": 4, "syd": 5, "blr": 6, "tok": 7, "lhr": 8,
    "dfw": 9, "sea": 10, "sao": 11, "ord": 12, "den": 13, "ams": 14, "jnb": 15, "mia": 16,
    "lax": 17, "par": 18, "mad": 19, "hkg": 20, "tor": 21, "waw": 22, "dbi": 23, "hnl": 24,
    "nai": 25,
}  # fmt: skip
DERP_CODES = {number: code for code, number in DERP_REGIONS.items()}

NOT_RUNNING_HINT = "is tailscaled running? set [tailscale] socket in the config"
OPERATOR_HINT = "run as root or `sudo tailscale set --operator=$USER`"
SHAPE_HINT = "is this `tailscale status --json` output from a tailscale the cockpit supports?"
DEADLINE_FACTOR = 2.0  # a whole request may take this many times the per-read timeout
MAX_BODY = 16 * 2**20  # the status of a tailnet with thousands of peers is a few MiB
# BackendState values (ipn.State) in which tailscaled is not connected to the tailnet, with
# what it means and what fixes it. "Running" is connected; "Starting" is on its way.
NOT_CONNECTED = {
    "NeedsLogin": (
        "tailscaled is logged out (BackendState NeedsLogin): the peers shown are not live",
        "log in with `sudo tailscale up` (or `tailscale login`)",
    ),
    "NeedsMachineAuth": (
        "this machine waits for approval in the tailnet (BackendState NeedsMachineAuth)",
        "approve it in the admin console (Machines); it connects by itself afterwards",
    ),
    "Stopped": (
        "tailscaled is stopped (BackendState Stopped): the peers shown are not live",
        "start it with `sudo tailscale up`",
    ),
    "NoState": (
        "tailscaled has not started its backend yet (BackendState NoState)",
        "wait a moment; if it stays so, check `sudo systemctl status tailscaled`",
    ),
    "InUseOtherUser": (
        "tailscaled is in use by another user (BackendState InUseOtherUser)",
        "switch with `tailscale switch`, or log in as that user",
    ),
}


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TailnetStatus:
    """What one ipnstate.Status says: this node, its peers and the tailnet they are in."""

    backend_state: str = ""  # "Running", "NeedsLogin", "Stopped", ...
    self_peer: Peer | None = None
    peers: tuple[Peer, ...] = ()
    magic_dns_suffix: str = ""
    tailnet: str = ""  # CurrentTailnet.Name
    version: str = ""
    health: tuple[str, ...] = ()

    @property
    def daemon(self) -> DaemonStatus:
        """What tailscaled says of itself, as the snapshot carries it."""
        return DaemonStatus(self.backend_state, self.health, self.tailnet)


@dataclass(frozen=True, slots=True)
class WhoIs:
    """Who owns a tailnet IP: the node (as a Peer) and its user."""

    peer: Peer
    login_name: str = ""
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class PingReply:
    """ipnstate.PingResult: how (and whether) a Tailscale-level ping got an answer."""

    ip: str
    node_ip: str = ""
    node_name: str = ""
    latency: float | None = None  # seconds, None without an answer
    endpoint: str = ""  # ip:port when the path is direct
    derp_region: str = ""  # region code when relayed
    err: str = ""
    is_local: bool = False

    @property
    def ok(self) -> bool:
        return not self.err

    @property
    def via(self) -> str:
        """The path as `tailscale ping` prints it: the endpoint, or DERP(code)."""
        if self.endpoint:
            return self.endpoint
        return f"DERP({self.derp_region})" if self.derp_region else ""


# --- parsing -------------------------------------------------------------------------------------


def _shape(detail: str) -> SourceError:
    return SourceError(f"unexpected shape of tailscale status: {detail}", SHAPE_HINT)


def _field(
    doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any
) -> Any:
    """doc[key] if it has the right type; missing and null read as the default, since
    scrubbed captures and older daemons leave fields out."""
    value = doc.get(key)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        expected = " or ".join(k.__name__ for k in kinds)
        got = f"{type(value).__name__} {value!r:.60}"
        raise _shape(f"{where}.{key} is {got}, expected {expected}")
    return value


def _text(doc: Mapping[str, Any], key: str, where: str) -> str:
    return _field(doc, key, str, where, "")


def _flag(doc: Mapping[str, Any], key: str, where: str) -> bool:
    return _field(doc, key, bool, where, False)


def _texts(doc: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _field(doc, key, list, where, [])
    if not all(isinstance(v, str) for v in values):
        raise _shape(f"{where}.{key} should be a list of strings, got {values!r:.80}")
    return tuple(values)


def _table(doc: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    return _field(doc, key, dict, where, {})


def _time(text: str) -> str:
    """A Go time as text, "" for the zero time that means "never" or "not known"."""
    return "" if text.startswith(GO_ZERO_TIME_PREFIX) else text


def _peer(doc: Any, key: str, where: str, is_self: bool) -> Peer:
    """One ipnstate.PeerStatus as a model Peer."""
    if not isinstance(doc, dict):
        raise _shape(f"{where} is {type(doc).__name__}, expected an object")
    dns_name = _text(doc, "DNSName", where)
    public_key = _text(doc, "PublicKey", where)
    return Peer(
        # Hand-edited captures drop HostName; the MagicDNS name's first label stands in.
        hostname=_text(doc, "HostName", where) or dns_name.split(".", 1)[0],
        dns_name=dns_name,
        ips=_texts(doc, "TailscaleIPs", where),
        online=_flag(doc, "Online", where),
        os=_text(doc, "OS", where),
        relay=_text(doc, "Relay", where),
        cur_addr=_text(doc, "CurAddr", where),
        last_seen=_time(_text(doc, "LastSeen", where)),
        is_self=is_self,
        # The model's flag means "is or can be an exit node": selected or offered.
        exit_node=_flag(doc, "ExitNode", where) or _flag(doc, "ExitNodeOption", where),
        key_expiry=_time(_text(doc, "KeyExpiry", where)),
        node_key=public_key or (key if key.startswith("nodekey:") else ""),
        # Hostnames repeat (every iPhone calls itself "localhost"): the stable ID does not.
        id=_text(doc, "ID", where),
        active=_flag(doc, "Active", where),
        expired=_flag(doc, "Expired", where),
        peer_relay=_text(doc, "PeerRelay", where),
    )


def _sort_key(peer: Peer) -> tuple[str, str, tuple[str, ...], str]:
    return (peer.dns_name, peer.hostname, peer.ips, peer.node_key)  # ipnstate.SortPeers


def parse_status(doc: Any) -> TailnetStatus:
    """An ipnstate.Status document (LocalAPI /status or `tailscale status --json`)."""
    if not isinstance(doc, dict):
        raise _shape(f"expected a JSON object, got {type(doc).__name__}")
    self_doc = doc.get("Self")
    peers_doc = _table(doc, "Peer", "Status")
    peers = tuple(
        sorted(
            (_peer(p, str(k), f"Peer[{k}]", is_self=False) for k, p in peers_doc.items()),
            key=_sort_key,
        )
    )
    tailnet = _table(doc, "CurrentTailnet", "Status")
    health = _field(doc, "Health", list, "Status", [])
    return TailnetStatus(
        backend_state=_text(doc, "BackendState", "Status"),
        self_peer=None if self_doc is None else _peer(self_doc, "", "Self", is_self=True),
        peers=peers,
        magic_dns_suffix=_text(tailnet, "MagicDNSSuffix", "CurrentTailnet")
        or _text(doc, "MagicDNSSuffix", "Status"),
        tailnet=_text(tailnet, "Name", "CurrentTailnet"),
        version=_text(doc, "Version", "Status"),
        health=tuple(str(h) for h in health),
    )


def _loads(raw: bytes | str, where: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        snippet = raw[:80].decode(errors="replace") if isinstance(raw, bytes) else raw[:80]
        raise SourceError(
            f"tailscale status is not valid JSON ({exc}); it began {snippet!r}",
            f"is {where} really tailscaled?",
        ) from None


def parse_status_json(raw: bytes | str, where: str = "the daemon") -> TailnetStatus:
    return parse_status(_loads(raw, where))


def _prefix_ip(prefix: str) -> str:
    return prefix.partition("/")[0]


def _home_derp(node: Mapping[str, Any]) -> str:
    """The home DERP region code: HomeDERP, or the legacy "127.3.3.40:N" DERP string."""
    number = _field(node, "HomeDERP", int, "Node", 0)
    if not number:
        legacy = _text(node, "DERP", "Node")
        region = legacy.rpartition(":")[2]
        number = int(region) if region.isdigit() and len(region) < 10 else 0
    return DERP_CODES.get(number, str(number) if number else "")


def parse_whois(doc: Any) -> WhoIs:
    """An apitype.WhoIsResponse: {Node: tailcfg.Node, UserProfile, CapMap}."""
    if not isinstance(doc, dict) or not isinstance(doc.get("Node"), dict):
        raise SourceError("unexpected shape of a tailscale whois answer: no Node", SHAPE_HINT)
    node = doc["Node"]
    hostinfo = _table(node, "Hostinfo", "Node")
    name = _text(node, "Name", "Node")
    allowed = _texts(node, "AllowedIPs", "Node")
    user = _table(doc, "UserProfile", "WhoIs")
    peer = Peer(
        hostname=_text(hostinfo, "Hostname", "Node.Hostinfo")
        or _text(node, "ComputedName", "Node")
        or name.split(".", 1)[0],
        dns_name=name,
        ips=tuple(_prefix_ip(p) for p in _texts(node, "Addresses", "Node")),
        online=_flag(node, "Online", "Node"),
        os=_text(hostinfo, "OS", "Node.Hostinfo"),
        relay=_home_derp(node),
        last_seen=_time(_text(node, "LastSeen", "Node")),
        exit_node="0.0.0.0/0" in allowed or "::/0" in allowed,
        key_expiry=_time(_text(node, "KeyExpiry", "Node")),
        node_key=_text(node, "Key", "Node"),
        id=_text(node, "StableID", "Node"),
        expired=_flag(node, "Expired", "Node"),
    )
    login = _text(user, "LoginName", "UserProfile")
    return WhoIs(peer, login, _text(user, "DisplayName", "UserProfile"))


def parse_ping(doc: Any) -> PingReply:
    if not isinstance(doc, dict):
        raise SourceError("unexpected shape of a tailscale ping answer", SHAPE_HINT)
    err = _text(doc, "Err", "PingResult")
    latency = _field(doc, "LatencySeconds", (int, float), "PingResult", 0)
    if not -1e9 < latency < 1e9:  # also False for NaN; an int too large for a float
        raise _shape(f"PingResult.LatencySeconds is out of range: {latency!r:.40}")
    return PingReply(
        ip=_text(doc, "IP", "PingResult"),
        node_ip=_text(doc, "NodeIP", "PingResult"),
        node_name=_text(doc, "NodeName", "PingResult"),
        latency=None if err else float(latency),
        endpoint=_text(doc, "Endpoint", "PingResult"),
        derp_region=_text(doc, "DERPRegionCode", "PingResult"),
        err=err,
        is_local=_flag(doc, "IsLocalIP", "PingResult"),
    )


# --- where tailscaled listens ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How to reach tailscaled: a unix socket path, or loopback TCP with a token."""

    kind: Literal["unix", "tcp"]
    address: str  # the socket path, or "127.0.0.1:PORT"
    token: str = ""

    @property
    def where(self) -> str:
        if self.kind == "unix":
            return self.address
        return f"{self.address} (the Tailscale app's LocalAPI)"


def default_socket_paths(platform: str = sys.platform) -> tuple[str, ...]:
    if platform == "darwin":
        return (DARWIN_SOCKET,)
    if platform.startswith(("win", "cygwin")):
        return ()  # a named pipe; only the CLI reaches it
    return UNIX_SOCKETS


def _listening(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _appstore_endpoint(home: Path) -> Endpoint | None:
    for proof in sorted(home.glob(f"{APPSTORE_CONTAINERS}/sameuserproof-*-*")):
        _, port, token = proof.name.split("-", 2)
        if port.isdigit() and token and _listening(int(port)):
            return Endpoint("tcp", f"127.0.0.1:{port}", token)
    return None


def _macsys_endpoint(macsys_dir: Path) -> Endpoint | None:
    try:
        port = os.readlink(macsys_dir / "ipnport")
        token = (macsys_dir / f"sameuserproof-{port}").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if port.isdigit() and token and _listening(int(port)):
        return Endpoint("tcp", f"127.0.0.1:{port}", token)
    return None


def find_gui_endpoint(home: Path | None = None, macsys_dir: Path = MACSYS_DIR) -> Endpoint | None:
    """The macOS Tailscale app's LocalAPI port and token, when the app is running."""
    try:
        home = home if home is not None else Path.home()
    except RuntimeError:
        home = None
    found = _appstore_endpoint(home) if home is not None else None
    return found or _macsys_endpoint(macsys_dir)


def discover(
    explicit: str | None = None,
    *,
    platform: str = sys.platform,
    search_paths: Sequence[str] | None = None,
    home: Path | None = None,
    macsys_dir: Path = MACSYS_DIR,
) -> Endpoint | None:
    """Where to reach tailscaled, or None when nothing is there (see the module docstring)."""
    if explicit:
        return Endpoint("unix", explicit)
    if platform == "darwin" and search_paths is None:
        gui = find_gui_endpoint(home, macsys_dir)
        if gui is not None:
            return gui
    paths = default_socket_paths(platform) if search_paths is None else search_paths
    return next((Endpoint("unix", p) for p in paths if os.path.exists(p)), None)


# --- the source ---------------------------------------------------------------------------------


class _Unreachable(SourceError):
    """Nothing at the endpoint (no socket, or nobody listening): the CLI may still work."""


class _Missing(_Unreachable):
    """No socket file where tailscaled keeps it: perhaps Tailscale is not installed."""


class _NoAnswer(SourceError):
    """Connected, but tailscaled did not answer in time."""


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError under httpx's wrappers (httpx -> httpcore -> the socket's error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _not_found(paths: Iterable[str]) -> _Unreachable:
    listed = list(paths)
    if not listed:
        return _Missing("no tailscaled socket on this platform", NOT_RUNNING_HINT)
    shown = ", ".join(listed[:2])
    if len(listed) > 2:
        shown += f" (or {len(listed) - 2} other standard places)"
    return _Missing(f"tailscaled socket not found at {shown}", NOT_RUNNING_HINT)


def _size(cap: int) -> str:
    return f"{cap // 2**20} MiB" if cap >= 2**20 else f"{cap} bytes"


def _message(response: httpx.Response) -> str:
    """tailscaled's error text: {"error": ...} from WriteErrorJSON, else the plain body."""
    text = response.text.strip()
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        text = doc["error"]
    return text[:300] or "(empty body)"


T = TypeVar("T")


def _never_raw(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn any exception that is not already a SourceError into one: pollers show reasons."""

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def safe(*args: Any, **kwargs: Any) -> T:
            try:
                return fn(*args, **kwargs)
            except SourceError:
                raise
            except Exception as exc:
                raise SourceError(
                    f"{what} failed unexpectedly: {type(exc).__name__}: {exc}",
                    "this is a cockpit bug; please report it with this message",
                ) from exc

        return safe

    return wrap


class TailscaleSource:
    """Reads the tailnet from the local tailscaled (or its CLI) on each call."""

    name = "tailscale"

    def __init__(
        self,
        socket_path: str | None = None,
        cli: str = "tailscale",
        timeout: float = 3.0,
        *,
        endpoint: Endpoint | None = None,
        search_paths: Sequence[str] | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        self.socket_path = socket_path
        self.cli = cli
        self.timeout = timeout
        self.endpoint = endpoint  # fixed endpoint (tests, a found GUI app); else discovered
        self.search_paths = search_paths
        self.last_via = ""  # where the last good answer came from, for the health line
        self.deadline = DEADLINE_FACTOR * timeout
        self.max_body = max_body

    # -- public --------------------------------------------------------------------------

    @_never_raw("reading tailscale status")
    def fetch(self) -> TailnetStatus:
        endpoint = self._endpoint()
        try:
            if endpoint is None:
                raise self._missing()
            response = self._request(endpoint, "GET", "/localapi/v0/status")
        except _Unreachable as gone:
            return self._from_cli(gone)
        body = self._body(endpoint, response, "GET /localapi/v0/status")
        status = parse_status_json(body, endpoint.where)
        self.last_via = endpoint.where
        return status

    @_never_raw("tailscale whois")
    def whois(self, ip: str) -> WhoIs | None:
        """Who owns a tailnet IP (or IP:port); None when tailscaled knows no such node."""
        endpoint = self._endpoint() or self._raise_missing()
        response = self._request(endpoint, "GET", "/localapi/v0/whois", {"addr": ip})
        if response.status_code == 404:
            return None
        return parse_whois(_loads(self._body(endpoint, response, "whois"), endpoint.where))

    @_never_raw("tailscale ping")
    def ping(self, ip: str, kind: Literal["disco", "TSMP", "ICMP"] = "disco") -> PingReply:
        """One Tailscale-level ping. A peer that never answers gives a reply whose err says
        so, as `tailscale ping` prints it: tailscaled itself just keeps the request open."""
        endpoint = self._endpoint() or self._raise_missing()
        try:
            response = self._request(
                endpoint, "POST", "/localapi/v0/ping", {"ip": ip, "type": kind}
            )
        except _NoAnswer:
            return PingReply(ip=ip, err=f'ping "{ip}" timed out')
        return parse_ping(_loads(self._body(endpoint, response, "ping"), endpoint.where))

    def problem(self, status: Any) -> SourceError | None:
        """What keeps an answering tailscaled from being "ok": not connected to the tailnet."""
        state = getattr(status, "backend_state", "") or ""
        if state in NOT_CONNECTED:
            return SourceError(*NOT_CONNECTED[state])
        return None

    @staticmethod
    def note(status: Any) -> str:
        """tailscaled's own health warnings, for the health line while it is connected."""
        warnings = [str(w) for w in getattr(status, "health", ()) or () if str(w).strip()]
        if not warnings:
            return ""
        more = f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else ""
        return f"tailscaled warns: {warnings[0][:160]}{more}"

    # -- reaching tailscaled -------------------------------------------------------------

    def _endpoint(self) -> Endpoint | None:
        if self.endpoint is not None:
            return self.endpoint
        # Looked up on every call: tailscaled may start (or move) while the cockpit runs.
        return discover(self.socket_path, search_paths=self.search_paths)

    def _searched(self) -> list[str]:
        if self.socket_path:
            return [self.socket_path]
        if self.search_paths is not None:
            return list(self.search_paths)
        return list(default_socket_paths())

    def _missing(self) -> _Unreachable:
        return _not_found(self._searched())

    def _raise_missing(self) -> Endpoint:
        raise self._missing()

    def _client(self, endpoint: Endpoint, backend: DeadlineBackend) -> httpx.Client:
        # trust_env=False: a proxy from the environment must never see LocalAPI traffic.
        uds = endpoint.address if endpoint.kind == "unix" else None
        # verify=False: LocalAPI is plain HTTP (a socket, or loopback with a token), and
        # the default would load the system's CA bundle at every poll for nothing.
        transport = httpx.HTTPTransport(uds=uds, trust_env=False, verify=False)
        # httpx.HTTPTransport takes no network backend; its connection pool is httpcore's
        # public one, built here with the backend that holds the deadline and the cap.
        transport._pool = httpcore.ConnectionPool(uds=uds, network_backend=backend)
        if endpoint.kind == "unix":
            return httpx.Client(
                transport=transport,
                base_url=f"http://{LOCALAPI_HOST}",
                timeout=self.timeout,
                trust_env=False,
            )
        return httpx.Client(
            transport=transport,
            base_url=f"http://{endpoint.address}",
            headers={"Host": LOCALAPI_HOST},
            auth=httpx.BasicAuth("", endpoint.token),
            timeout=self.timeout,
            trust_env=False,
        )

    def _request(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        backend = DeadlineBackend(self.deadline, self.max_body)
        try:
            with self._client(endpoint, backend) as client:
                backend.start()
                response = client.request(method, path, params=params)
                response.read()
                return response
        except httpx.ConnectTimeout:
            raise SourceError(
                f"connecting to tailscaled at {endpoint.where} timed out", NOT_RUNNING_HINT
            ) from None
        except httpx.TimeoutException:
            if backend.expired or time.monotonic() >= backend.ends_at:
                raise _NoAnswer(
                    f"tailscaled at {endpoint.where} did not finish answering {method} {path} "
                    f"within {self.deadline:g} s",
                    "it answers a trickle at a time: tailscaled may be overloaded or hung; "
                    "check `sudo systemctl status tailscaled`",
                ) from None
            raise _NoAnswer(
                f"tailscaled at {endpoint.where} did not answer within {self.timeout:g} s",
                "tailscaled may be hung; check `sudo systemctl status tailscaled`",
            ) from None
        except BodyTooLarge as exc:
            raise SourceError(
                f"the answer of {endpoint.where} to {method} {path} is larger than "
                f"{_size(exc.cap)} ({exc.size} bytes or more); it was dropped",
                f"is {endpoint.where} really tailscaled's socket? set [tailscale] socket",
            ) from None
        except httpx.TransportError as exc:
            raise self._transport_error(endpoint, exc) from None

    def _transport_error(self, endpoint: Endpoint, exc: httpx.TransportError) -> SourceError:
        cause = _os_error(exc)
        where = endpoint.where
        if isinstance(cause, FileNotFoundError):
            return _not_found([endpoint.address])
        if isinstance(cause, ConnectionRefusedError):
            what = "stale socket file?" if endpoint.kind == "unix" else "app not running?"
            return _Unreachable(f"nothing is listening on {where} ({what})", NOT_RUNNING_HINT)
        if isinstance(cause, PermissionError):
            return SourceError(f"cannot connect to {where}: permission denied", OPERATOR_HINT)
        text = str(exc).lower()
        if isinstance(cause, ConnectionResetError | BrokenPipeError) or (
            "disconnected" in text or "reset" in text or "incomplete" in text
        ):
            return SourceError(
                f"tailscaled at {where} closed the connection before it finished answering",
                "tailscaled may be restarting or crashing: check `sudo systemctl status "
                "tailscaled` and `journalctl -u tailscaled`; retrying",
            )
        if isinstance(exc, httpx.ProtocolError):
            return SourceError(
                f"{where} does not speak HTTP like tailscaled (its answer is not valid HTTP)",
                f"is {where} really tailscaled's socket? set [tailscale] socket in the config",
            )
        detail = cause.strerror if cause is not None and cause.strerror else str(exc)
        return SourceError(f"cannot talk to tailscaled at {where}: {detail}", NOT_RUNNING_HINT)

    def _body(self, endpoint: Endpoint, response: httpx.Response, what: str) -> bytes:
        if response.status_code == 200:
            return response.content
        message = _message(response)
        hint = ""
        if response.status_code in (401, 403) and endpoint.kind == "tcp":
            hint = "the Tailscale app's token changed; restart the cockpit or the app"
        elif response.status_code == 403:
            hint = OPERATOR_HINT
        elif response.status_code == 404:
            hint = f"is {endpoint.where} really tailscaled, and recent enough?"
        raise SourceError(
            f"tailscaled at {endpoint.where} answered {response.status_code} "
            f"{response.reason_phrase} to {what}: {message}",
            hint,
        )

    # -- the CLI fallback -------------------------------------------------------------------

    def _from_cli(self, socket_error: SourceError) -> TailnetStatus:
        """`tailscale status --json`, for daemons only the CLI can reach."""
        cli = shutil.which(self.cli)
        if cli is None:
            # No socket where tailscaled keeps one and no CLI: not installed. A socket the
            # config names that is missing is another matter: an error to fix.
            if isinstance(socket_error, _Missing) and not self.socket_path:
                raise NotFound(
                    f"{socket_error.reason}, and no `{self.cli}` command on PATH",
                    "install Tailscale, or set [tailscale] socket in the config",
                ) from None
            raise SourceError(socket_error.reason, socket_error.hint) from None
        command = f"`{self.cli} status --json`"
        try:
            done = subprocess.run(
                [cli, "status", "--json"],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SourceError(
                f"{socket_error.reason}, and {command} did not finish within {self.timeout:g} s",
                socket_error.hint,
            ) from None
        except OSError as exc:
            raise SourceError(
                f"{socket_error.reason}, and {command} could not run: {exc.strerror or exc}",
                socket_error.hint,
            ) from None
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace").strip() or "(nothing on stderr)"
            raise SourceError(
                f"{socket_error.reason}, and {command} failed (exit {done.returncode}): {stderr}",
                socket_error.hint,
            )
        status = parse_status_json(done.stdout, command)
        self.last_via = command
        return status
