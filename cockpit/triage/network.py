"""Findings about the tailnet: tailscaled itself, and each peer's reachability, key and
path (direct or through a DERP relay)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from cockpit.model import Peer
from cockpit.triage.finding import Facts, Finding, ObjectRef, Severity, peer_ref

KEY_WARNING = 7 * 86400


def parse_time(text: str) -> float | None:
    """Tailscale's RFC 3339 times; its zero time (year 1) means "never" or "no expiry"."""
    if not text or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _machine_of(f: Facts, peer: Peer) -> str:
    """What the peer is to the lab: "node x86-vm-2", "host pve", "" when nothing. The links
    name peers by key (node ID): hostnames repeat."""
    for node, key in f.links.node_peer.items():
        if key == peer.key:
            return f"node {node}"
    for host, key in f.links.host_peer.items():
        if key == peer.key:
            return f"host {host}"
    for vmid, key in f.links.guest_peer.items():
        if key == peer.key:
            return f"guest {vmid}"
    return ""


def tailscaled(f: Facts) -> Iterator[Finding]:
    t = f.snapshot.tailnet
    if t is None:
        return
    ref = ObjectRef("network", "Tailscale", t.tailnet or "tailscaled")
    if t.backend_state and not t.running:
        yield Finding(
            "TAILSCALE-NOT-RUNNING",
            "critical",
            ref,
            f"tailscaled on this machine is {t.backend_state}, not Running: no tailnet peer "
            "is reachable from here",
            (f"BackendState={t.backend_state!r}",),
            "tailscale up (NeedsLogin: log in again; Stopped: tailscale up)",
        )
    for message in t.health:
        yield Finding(
            "TAILSCALE-HEALTH",
            "warning",
            ref,
            f"tailscaled reports: {message}",
            (f"Health[]={message!r}",),
            "tailscale status and tailscale netcheck say more",
        )


def peers(f: Facts) -> Iterator[Finding]:
    before = {p.id or p.hostname: p for p in f.previous.peers} if f.previous else {}
    for peer in f.snapshot.peers:
        if peer.is_self:
            continue
        machine = _machine_of(f, peer)
        role = f" ({machine})" if machine else ""
        if peer.expired:
            yield Finding(
                "PEER-KEY-EXPIRED",
                "critical" if machine.startswith("node") else "warning",
                peer_ref(peer),
                f"tailnet peer {peer.hostname}{role}: its node key has expired, it can no "
                "longer talk to the tailnet",
                (f"Peer.Expired=True, KeyExpiry={peer.key_expiry or '?'}",),
                f"Re-authenticate it (tailscale up --force-reauth on {peer.hostname}) and "
                "disable key expiry for servers in the admin console",
            )
        else:
            expiry = parse_time(peer.key_expiry)
            if expiry is not None and f.now and 0 <= expiry - f.now <= KEY_WARNING:
                days = (expiry - f.now) / 86400
                yield Finding(
                    "PEER-KEY-EXPIRING",
                    "warning",
                    peer_ref(peer),
                    f"tailnet peer {peer.hostname}{role}: its node key expires in {days:.1f} days",
                    (f"Peer.KeyExpiry={peer.key_expiry}",),
                    f"Re-authenticate {peer.hostname} before then, or disable key expiry "
                    "for it in the admin console",
                )
        if not peer.online:
            seen = f", last seen {peer.last_seen}" if parse_time(peer.last_seen) else ""
            severity: Severity = "warning" if machine else "info"
            yield Finding(
                "PEER-OFFLINE",
                severity,
                peer_ref(peer),
                f"tailnet peer {peer.hostname}{role} is offline{seen}",
                (f"Peer.Online=False, LastSeen={peer.last_seen or '?'}",),
                f"Is {peer.hostname} powered and on the network? `tailscale ping "
                f"{peer.hostname}` tells a dead machine from a blocked path",
            )
            continue
        if peer.direct or peer.peer_relay:
            continue
        old = before.get(peer.id or peer.hostname)
        was_direct = old is not None and old.direct
        relay = peer.relay or "?"
        yield Finding(
            "PEER-RELAYED",
            "warning" if was_direct and machine else "info",
            peer_ref(peer),
            f"traffic to tailnet peer {peer.hostname}{role} goes through DERP relay {relay}"
            + (f" where it was direct ({old.cur_addr})" if was_direct and old else ""),
            (f"Peer.CurAddr='' Relay={relay!r}",)
            + ((f"previously CurAddr={old.cur_addr}",) if was_direct and old else ()),
            "Usually a NAT or firewall change: `tailscale netcheck` on both ends; open UDP "
            "41641 or allow UPnP/NAT-PMP",
        )


RULES = (tailscaled, peers)
