"""The lab's Tailscale LocalAPI: tailscaled's HTTP API on a unix socket, served from a World.

It answers the requests the cockpit (and `curl --unix-socket`) makes, shaped the way
tailscaled shapes them (checked against tailscale's ipn/localapi/localapi.go and
ipn/ipnstate/ipnstate.go):

    GET  /localapi/v0/status          ipnstate.Status, tab-indented, peers keyed by node key
    GET  /localapi/v0/whois?addr=...  apitype.WhoIsResponse {Node, UserProfile, CapMap}
    POST /localapi/v0/ping?ip=..&type=disco|TSMP|ICMP   ipnstate.PingResult
    GET  /                            "tailscaled"

and refuses what tailscaled refuses: a Host other than "local-tailscaled.sock" (or empty), or
any Origin/Referer header, gets 403 "invalid localapi request" (the DNS-rebinding and
browser-CSRF guard); unknown paths get Go's "404 page not found"; ping wants POST.

Keys, IDs, addresses and timestamps are derived from each peer's hostname by hashing, so a
lab always shows the same node keys and IPs; online state and LastSeen come from the World,
so powering a host off takes its peers offline here too.

A face started without a socket path listens on 127.0.0.1 with a basic-auth token instead,
like the macOS GUI app's sandboxed tailscaled (safesocket_darwin.go), so the adapter's TCP
path can be tested against a real server.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import random
import secrets
import socketserver
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cockpit.lab.world import World
from cockpit.model import Peer
from cockpit.sources.tailscale import DERP_REGIONS, LOCALAPI_HOST

LAB_VERSION = "1.84.3-tc0c0a1ab5-gd00d1e2f3"  # the shape of version.Long()
CAPABILITY_VERSION = 116
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
PING_TIMEOUT_LAB_SECONDS = 5.0  # `tailscale ping`'s default --timeout
PING_TIMEOUT_REAL_CAP = 0.4  # a lab must not make tests wait for a dead peer
PEERAPI_PORT_BASE = 40000
DEFAULT_RELAY = "fra"
CGNAT = ipaddress.ip_network("100.64.0.0/10")
TAILSCALE_ULA = ipaddress.ip_network("fd7a:115c:a1e0::/48")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; script-src 'none'; "
    "script-src-elem 'none'; script-src-attr 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


# --- stable identities ---------------------------------------------------------------------


def _digest(kind: str, hostname: str) -> bytes:
    return hashlib.sha256(f"cockpit-lab/{kind}/{hostname}".encode()).digest()


def node_key(hostname: str) -> str:
    """The lab's node key for a hostname: "nodekey:" and 64 hex digits, the same every run."""
    return "nodekey:" + _digest("nodekey", hostname).hex()


def _number(hostname: str, kind: str = "n") -> int:
    return int.from_bytes(_digest(kind, hostname)[:6], "big")


def _stable_id(hostname: str) -> str:
    raw = _digest("stableid", hostname)
    # The shape control uses, e.g. "nZEa96aUno11CNTRL".
    return "n" + "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in raw[:9]) + "11CNTRL"


def _v4(hostname: str) -> str:
    raw = _digest("v4", hostname)
    # 100.64.0.0/10: the first octet is fixed, the second carries 6 random bits.
    return f"100.{64 + raw[0] % 64}.{raw[1]}.{1 + raw[2] % 254}"


def _v6(hostname: str) -> str:
    raw = _digest("v6", hostname)
    return str(ipaddress.IPv6Address(TAILSCALE_ULA.network_address.packed[:12] + raw[:4]))


def rfc3339(ts: float | None) -> str:
    """A unix time as Go's time.Time marshals it (RFC 3339, trailing zeros trimmed); None is
    Go's zero time, which tailscaled emits for "never" and for an online peer's LastSeen."""
    if ts is None:
        return GO_ZERO_TIME
    moment = datetime.fromtimestamp(ts, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def _from_iso(text: str) -> float | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


# --- the tailnet as tailscaled would describe it -------------------------------------------


@dataclass(frozen=True)
class Node:
    """One lab peer with everything tailscaled knows about it, derived once per request."""

    peer: Peer
    key: str
    ips: tuple[str, ...]  # TailscaleIPs: the v4 (100.64/10) first, then the v6
    relay: str
    created: float
    key_expiry: float
    offline_since: float | None  # None while online

    @property
    def name(self) -> str:
        """The DNS name's first label, which is what ping reports as NodeName."""
        return self.peer.dns_name.split(".", 1)[0] or self.peer.hostname

    @property
    def direct(self) -> bool:
        return self.peer.online and bool(self.peer.cur_addr)

    @property
    def allowed_ips(self) -> list[str]:
        prefixes = [f"{ip}/{32 if '.' in ip else 128}" for ip in self.ips]
        if self.peer.exit_node:
            prefixes += ["0.0.0.0/0", "::/0"]
        return prefixes

    def peerapi_urls(self) -> list[str]:
        if not self.peer.online:
            return []
        port = _peerapi_port(self.peer.hostname)
        v4, v6 = self.ips[0], self.ips[-1]
        return [f"http://{v4}:{port}", f"http://[{v6}]:{port + 1}"]


def _peerapi_port(hostname: str) -> int:
    return PEERAPI_PORT_BASE + _number(hostname, "peerapi") % 20000


def _tailscale_ips(peer: Peer) -> tuple[str, ...]:
    """The peer's v4 in 100.64/10 and v6 in fd7a:115c:a1e0::/48; missing ones are derived."""
    v4 = v6 = None
    for text in peer.ips:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            continue
        if v4 is None and addr.version == 4 and addr in CGNAT:
            v4 = str(addr)
        elif v6 is None and addr.version == 6 and addr in TAILSCALE_ULA:
            v6 = str(addr)
    return (v4 or _v4(peer.hostname), v6 or _v6(peer.hostname))


def _node(peer: Peer, started: float, self_relay: str) -> Node:
    age_days = 1 + _number(peer.hostname, "created") % 150
    created = started - age_days * 86400 - _number(peer.hostname, "sec") % 86400
    offline_since = None
    if not peer.online:
        # A peer that was already down when the lab started went away some hours before.
        offline_since = _from_iso(peer.last_seen) or (
            started - 3600 * (1 + _number(peer.hostname, "away") % 72)
        )
    return Node(
        peer=peer,
        key=peer.node_key or node_key(peer.hostname),
        ips=_tailscale_ips(peer),
        relay=peer.relay or self_relay,
        created=created,
        # The default key expiry, unless the world set one (a key about to expire).
        key_expiry=_from_iso(peer.key_expiry) or created + 180 * 86400,
        offline_since=offline_since,
    )


SELF_FALLBACK = Peer(hostname="cockpit-lab", os="linux", is_self=True, relay=DEFAULT_RELAY)


class Tailnet:
    """tailscaled's view of the World: Status, WhoIs and Ping answers as plain dicts."""

    def __init__(
        self,
        world: World,
        magic_dns_suffix: str = "tailnet.ts.net",
        tailnet_name: str = "homelab@example.com",
        version: str = LAB_VERSION,
    ) -> None:
        self.world = world
        self.suffix = magic_dns_suffix
        self.tailnet_name = tailnet_name
        self.version = version
        self.started = world.clock.now()
        self.user_id = _number(tailnet_name, "user") % 10**15
        self.login = tailnet_name if "@" in tailnet_name else f"operator@{tailnet_name}"

    # -- snapshot -------------------------------------------------------------------------

    def nodes(self) -> tuple[Node, list[Node]]:
        """Self and the peers, with online state read from the World now."""
        self.world.tick()  # finish guest tasks that are due, so a shutdown shows
        peers = self.world.peers()
        me = next((p for p in peers if p.is_self), None)
        if me is None:
            me = SELF_FALLBACK
        me = self._with_dns(me)
        if not me.online:
            # The node answering LocalAPI is up by definition, whatever the lab says.
            me = replace(me, online=True, last_seen="")
        self_relay = me.relay or DEFAULT_RELAY
        me_node = _node(me, self.started, self_relay)
        others = [
            _node(self._with_dns(p), self.started, self_relay) for p in peers if not p.is_self
        ]
        return me_node, others

    def _with_dns(self, peer: Peer) -> Peer:
        if peer.dns_name:
            return peer
        return replace(peer, dns_name=f"{peer.hostname}.{self.suffix}.")

    def find(self, ip: str) -> tuple[Node | None, bool]:
        """The node owning a Tailscale IP, and whether it is this node."""
        me, others = self.nodes()
        if ip in me.ips:
            return me, True
        return next((n for n in others if ip in n.ips), None), False

    def find_key(self, key: str) -> Node | None:
        me, others = self.nodes()
        return next((n for n in (me, *others) if n.key == key), None)

    # -- status -----------------------------------------------------------------------------

    def status(self, with_peers: bool = True) -> dict[str, Any]:
        me, others = self.nodes()
        now = self.world.clock.now()
        peers = {n.key: self.peer_status(n, now, is_self=False) for n in others}
        return {
            "Version": self.version,
            "TUN": True,
            "BackendState": self.world.backend_state,
            "HaveNodeKey": True,
            "AuthURL": "",
            "TailscaleIPs": list(me.ips),
            "Self": self.peer_status(me, now, is_self=True),
            "Health": self.health(me, others, now),
            "MagicDNSSuffix": self.suffix,
            "CurrentTailnet": {
                "Name": self.tailnet_name,
                "MagicDNSSuffix": self.suffix,
                "MagicDNSEnabled": True,
            },
            "CertDomains": [me.peer.dns_name.rstrip(".")],
            # Logged out or stopped, tailscaled has no netmap: no peers to report.
            "Peer": peers if with_peers and self.world.backend_state == "Running" else None,
            "User": {str(self.user_id): self.user_profile()},
            "ClientVersion": None,
        }

    def health(self, me: Node, others: list[Node], now: float) -> list[str]:
        """tailscaled's Health warnings: the world's, and the key-expiry warning tailscaled
        raises for its own key in the last week before expiry."""
        out = list(self.world.health)
        left = me.key_expiry - now
        if 0 < left < 7 * 86400:
            out.append(
                f"This machine's node key expires in {int(left // 86400)} days. "
                "Re-authenticate to keep it on the tailnet."
            )
        elif left <= 0:
            out.append("This machine's node key has expired. Re-authenticate.")
        return out

    def user_profile(self) -> dict[str, Any]:
        return {"ID": self.user_id, "LoginName": self.login, "DisplayName": "Homelab Operator"}

    def peer_status(self, node: Node, now: float, is_self: bool) -> dict[str, Any]:
        peer = node.peer
        online = peer.online
        busy = online and not is_self
        seed = _number(peer.hostname, "traffic")
        return {
            "ID": _stable_id(peer.hostname),
            "PublicKey": node.key,
            "HostName": peer.hostname,
            "DNSName": peer.dns_name,
            "OS": peer.os or "linux",
            "UserID": self.user_id,
            "TailscaleIPs": list(node.ips),
            "AllowedIPs": node.allowed_ips,
            "Addrs": [peer.cur_addr] if node.direct and not is_self else None,
            "CurAddr": "" if is_self or not node.direct else peer.cur_addr,
            "Relay": node.relay,
            "PeerRelay": "",
            "RxBytes": seed % 50_000_000 + int(now - self.started) * 900 if busy else 0,
            "TxBytes": seed % 20_000_000 + int(now - self.started) * 400 if busy else 0,
            "Created": rfc3339(node.created),
            "LastWrite": rfc3339(now - 1 - seed % 20) if busy else GO_ZERO_TIME,
            "LastSeen": rfc3339(node.offline_since),
            "LastHandshake": rfc3339(now - 5 - seed % 110) if busy else GO_ZERO_TIME,
            "Online": online,
            "ExitNode": False,  # whether *we* route through it; the lab never does
            "ExitNodeOption": peer.exit_node,
            "Active": busy,
            "PeerAPIURL": node.peerapi_urls(),
            "TaildropTarget": 0 if is_self else (1 if online else 5),
            "NoFileSharingReason": "",
            "InNetworkMap": True,
            "InMagicSock": not is_self,
            "InEngine": busy,
            "KeyExpiry": rfc3339(node.key_expiry),
            **({"Expired": True} if node.key_expiry <= now else {}),
        }

    # -- whois --------------------------------------------------------------------------------

    def whois_node(self, node: Node) -> dict[str, Any]:
        """tailcfg.Node as whois returns it."""
        peer = node.peer
        name = node.name
        host_if_different = "" if name.lower() == peer.hostname.lower() else peer.hostname
        node_id = _number(peer.hostname, "nodeid") % 10**13
        out: dict[str, Any] = {
            "ID": node_id,
            "StableID": _stable_id(peer.hostname),
            "Name": peer.dns_name,
            "User": self.user_id,
            "Key": node.key,
            "KeyExpiry": rfc3339(node.key_expiry),
            "Machine": "mkey:" + _digest("mkey", peer.hostname).hex(),
            "DiscoKey": "discokey:" + _digest("discokey", peer.hostname).hex(),
            "Addresses": node.allowed_ips[: len(node.ips)],
            "AllowedIPs": node.allowed_ips,
        }
        if node.direct:
            out["Endpoints"] = [peer.cur_addr]
        out["HomeDERP"] = DERP_REGIONS.get(node.relay, 0)
        out["Hostinfo"] = {
            "IPNVersion": self.version,
            "OS": peer.os or "linux",
            "Hostname": peer.hostname,
        }
        out["Created"] = rfc3339(node.created)
        out["Cap"] = CAPABILITY_VERSION
        if node.offline_since is not None:
            out["LastSeen"] = rfc3339(node.offline_since)  # only sent while offline
        out["Online"] = peer.online
        out["MachineAuthorized"] = True
        out["ComputedName"] = name
        out["ComputedNameWithHost"] = f"{name} ({host_if_different})" if host_if_different else name
        return out

    # -- ping ---------------------------------------------------------------------------------

    def ping(self, ip: str, kind: str) -> tuple[dict[str, Any], float]:
        """The PingResult and how long (lab seconds) the answer takes."""
        node, is_self = self.find(ip)
        result: dict[str, Any] = {"IP": ip}
        if node is None:
            return _ping_result(result, err="no matching peer"), 0.0
        if is_self:
            return _ping_result(result, err=f"{ip} is local Tailscale IP", local=True), 0.0
        result["NodeIP"] = node.ips[0]
        result["NodeName"] = node.name
        if not node.peer.online or kind not in ("disco", "TSMP", "ICMP"):
            # tailscaled never answers; `tailscale ping` gives up after --timeout and says so.
            return _ping_result(result, err=f'ping "{ip}" timed out'), PING_TIMEOUT_LAB_SECONDS
        latency = _latency(node)
        result["LatencySeconds"] = latency
        if kind == "disco" and node.direct:
            result["Endpoint"] = node.peer.cur_addr
        elif kind == "disco":
            result["DERPRegionID"] = DERP_REGIONS.get(node.relay, 0)
            result["DERPRegionCode"] = node.relay
        result = _ping_result(result)
        if kind == "TSMP":
            # TSMP answers carry the peer's PeerAPI port instead of the path taken.
            result["PeerAPIPort"] = _peerapi_port(node.peer.hostname)
        return result, latency


def _latency(node: Node) -> float:
    """Seconds for a round trip: a direct LAN/WAN path 5-30 ms, a DERP relay about 120 ms."""
    seed = _number(node.peer.hostname, "latency")
    base = (5 + seed % 25) / 1000 if node.direct else (110 + seed % 30) / 1000
    return round(base + random.uniform(0, 0.002), 6)


def _ping_result(partial: dict[str, Any], err: str = "", local: bool = False) -> dict[str, Any]:
    """Every PingResult field in tailscaled's order, zero values where unset."""
    out = {
        "IP": partial.get("IP", ""),
        "NodeIP": partial.get("NodeIP", ""),
        "NodeName": partial.get("NodeName", ""),
        "Err": err,
        "LatencySeconds": partial.get("LatencySeconds", 0),
        "Endpoint": partial.get("Endpoint", ""),
        "DERPRegionID": partial.get("DERPRegionID", 0),
        "DERPRegionCode": partial.get("DERPRegionCode", ""),
    }
    if local:
        out["IsLocalIP"] = True
    return out


# --- HTTP semantics, independent of the socket ---------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    delay: float = 0.0  # real seconds to wait before answering
    daemon_headers: bool = True  # tailscaled adds its headers only past the Host check


def _error(status: int, text: str) -> Answer:
    """Go's http.Error: the text plus a newline, as text/plain."""
    return Answer(status, (text + "\n").encode())


def _json(doc: Any, indent: bool, status: int = 200, newline: bool = True) -> Answer:
    text = json.dumps(doc, indent="\t") if indent else json.dumps(doc, separators=(",", ":"))
    return Answer(status, (text + ("\n" if newline else "")).encode(), "application/json")


class LocalApi:
    """Routes one request the way ipn/localapi.Handler.ServeHTTP does."""

    def __init__(self, tailnet: Tailnet, password: str = "") -> None:
        self.tailnet = tailnet
        self.password = password

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Answer:
        refused = self._guard(headers)
        if refused is not None:
            return refused
        url = urlsplit(target)
        form = dict(parse_qsl(url.query))
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form.update(parse_qsl(body.decode("latin-1")))
        if url.path == "/":
            return Answer(200, b"tailscaled\n")
        route = {
            "/localapi/v0/status": self.status,
            "/localapi/v0/whois": self.whois,
            "/localapi/v0/ping": self.ping,
        }.get(url.path)
        if route is None:
            return _error(404, "404 page not found")
        return route(method, form)

    def _guard(self, headers: Mapping[str, str]) -> Answer | None:
        if headers.get("referer") or headers.get("origin") or not self._valid_host(headers):
            refused = _error(403, "invalid localapi request")
            refused.daemon_headers = False
            return refused
        if not self.password:
            return None
        password = _basic_password(headers.get("authorization", ""))
        if password is None:
            return _error(401, "auth required")
        if not secrets.compare_digest(password, self.password):
            return _error(403, "bad password")
        return None

    def _valid_host(self, headers: Mapping[str, str]) -> bool:
        host = headers.get("host", "")
        if host in ("", LOCALAPI_HOST):
            return True
        if not self.password:
            return False  # tailscaled allows loopback names only with basic auth
        name = host.rpartition(":")[0].strip("[]") if ":" in host else ""
        if name == "localhost":
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    def status(self, method: str, form: dict[str, str]) -> Answer:
        with_peers = form.get("peers", "true").lower() not in ("false", "0", "f")
        return _json(self.tailnet.status(with_peers), indent=True)

    def whois(self, method: str, form: dict[str, str]) -> Answer:
        addr = form.get("addr", "")
        if not addr:
            return _error(400, "missing 'addr' parameter")
        if addr.startswith("nodekey:"):
            node = self.tailnet.find_key(addr)
        else:
            ip = _addr_ip(addr)
            if ip is None:
                return _error(400, "invalid 'addr' parameter")
            node, _ = self.tailnet.find(ip)
        if node is None:
            return _error(404, "no match for IP:port")
        doc = {
            "Node": self.tailnet.whois_node(node),
            "UserProfile": self.tailnet.user_profile(),
            "CapMap": None,
        }
        return _json(doc, indent=True, newline=False)

    def ping(self, method: str, form: dict[str, str]) -> Answer:
        if method != "POST":
            return _error(400, "want POST")  # tailscaled answers 400, not 405
        ip_text = form.get("ip", "")
        if not ip_text:
            return _error(400, "missing 'ip' parameter")
        try:
            ip = str(ipaddress.ip_address(ip_text))
        except ValueError:
            return _error(400, "invalid IP")
        kind = form.get("type", "")
        if not kind:
            return _error(400, "missing 'type' parameter")
        result, lab_seconds = self.tailnet.ping(ip, kind)
        delay = self.tailnet.world.clock.real_delay(lab_seconds)
        answer = _json(result, indent=False)
        answer.delay = min(delay, PING_TIMEOUT_REAL_CAP)
        return answer


def _addr_ip(addr: str) -> str | None:
    """The IP of an "IP" or "IP:port" whois argument, None when it is neither."""
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        pass
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        return None
    try:
        return str(ipaddress.ip_address(host.removeprefix("[").removesuffix("]")))
    except ValueError:
        return None


def _basic_password(header: str) -> str | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except ValueError:
        return None
    return decoded.partition(":")[2]


# --- the socket server ---------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Go's server
    api: LocalApi  # set on the per-face subclass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.api.handle(self.command, self.path, headers, body)
        if answer.delay:
            time.sleep(answer.delay)
        self.send_response(answer.status)
        if answer.daemon_headers:
            self.send_header("Tailscale-Version", self.api.tailnet.version)
            self.send_header("Tailscale-Cap", str(CAPABILITY_VERSION))
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
        else:
            self.send_header("X-Content-Type-Options", "nosniff")  # what http.Error adds
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def send_response(self, code: int, message: str | None = None) -> None:
        # Go's server sends no Server header; keep the answer free of Python's banner.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def address_string(self) -> str:
        return "local"  # unix-socket peers have no address

    def date_time_string(self, timestamp: float | None = None) -> str:
        now = self.api.tailnet.world.clock.now() if timestamp is None else timestamp
        return formatdate(now, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a lab face serving tests stays quiet


class _UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-answer (a ping it gave up on) is not an error


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class TailscaleFace:
    """tailscaled's LocalAPI for a World, on a unix socket (or, without one, on loopback TCP
    with a basic-auth token like the macOS app). Use start()/stop() or `with`."""

    def __init__(
        self,
        world: World,
        socket_path: str | os.PathLike[str] | None = None,
        *,
        token: str | None = None,
        magic_dns_suffix: str = "tailnet.ts.net",
        tailnet_name: str = "homelab@example.com",
    ) -> None:
        self.tailnet = Tailnet(world, magic_dns_suffix, tailnet_name)
        self.socket_path = str(socket_path) if socket_path is not None else None
        # The TCP variant always wants a token: tailscaled's RequiredPassword.
        self.token = token if token is not None else ("" if socket_path else secrets.token_hex(10))
        self.api = LocalApi(self.tailnet, self.token)
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if not isinstance(self._server, _TcpServer):
            raise RuntimeError("this face listens on a unix socket, not TCP")
        return self._server.server_address[1]

    def start(self) -> TailscaleFace:
        handler = type("LocalApiHandler", (_Handler,), {"api": self.api})
        if self.socket_path is not None:
            path = Path(self.socket_path)
            path.unlink(missing_ok=True)  # tailscaled replaces a stale socket
            server: socketserver.BaseServer = _UnixServer(self.socket_path, handler)
            os.chmod(path, 0o666)  # safesocket's permissions where peer creds are checked
        else:
            server = _TcpServer(("127.0.0.1", 0), handler)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.socket_path is not None:
            Path(self.socket_path).unlink(missing_ok=True)

    def __enter__(self) -> TailscaleFace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
