"""The Tailscale adapter against real captures, the lab's LocalAPI over a real unix socket,
and the ways reaching tailscaled goes wrong."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tailscale_helpers import (
    FIXTURES,
    LAB_TOML,
    fake_cli,
    fetch_as_nobody,
    fixed_answer,
    short_dir,
    silent_socket,
    stale_socket,
)

from cockpit import labfile
from cockpit.lab.tailscale_face import TailscaleFace, node_key
from cockpit.lab.world import World
from cockpit.sources.health import SourceError
from cockpit.sources.tailscale import (
    DARWIN_SOCKET,
    Endpoint,
    TailscaleSource,
    default_socket_paths,
    discover,
    find_gui_endpoint,
    parse_status,
    parse_status_json,
)

NOT_RUNNING = "is tailscaled running? set [tailscale] socket in the config"
OPERATOR = "run as root or `sudo tailscale set --operator=$USER`"
NODEKEY = re.compile(r"^nodekey:[0-9a-f]{64}$")

# --- real captures -------------------------------------------------------------------------

# Facts read by hand from each capture: (self hostname, peer count, online hostnames, and a
# few per-peer details). Captures added later are still parsed, with the generic checks.
EXPECTED = {
    "dgx-control-status.json": {
        "self": "dgx-spark-01",
        "peers": 3,
        "online": {"peer-3"},
        "backend": "Running",
        "suffix": "",
        "details": {
            "peer-1": {"os": "iOS", "node_key": "nodekey:scrubbed1", "relay": "", "last_seen": ""},
            "peer-2": {"os": "windows", "ips": ("100.64.0.11", "fd7a:115c:a1e0::1001:1")},
        },
    },
    "jq-exporter-status.json": {
        "self": None,
        "peers": 2,
        "online": {"testhostname", "localhost"},
        "backend": "Running",
        "suffix": "",
        "details": {
            # No HostName in this hand-edited capture: the DNS name's first label stands in.
            "testhostname": {"os": "macOS", "relay": "tok", "key_expiry": "2125-01-08T02:03:11Z"},
            "localhost": {"os": "android", "dns_name": "testhostname2.tailc2865.ts.net."},
        },
    },
    "yclaw-status.json": {
        "self": "yclaw-host",
        "peers": 9,
        "online": {"redacted-1", "metal", "redacted-6"},
        "backend": "Running",
        "suffix": "tail71af5d.ts.net",
        "details": {
            "metal": {"cur_addr": "192.168.1.64:41814", "last_seen": "", "relay": "sfo"},
            "hermes": {"last_seen": "2025-11-25T18:41:35.1Z", "key_expiry": "2025-11-23T17:41:07Z"},
            "bluebubbles": {"relay": "lax", "key_expiry": ""},
        },
    },
}


def _capture_files() -> list[Path]:
    if not FIXTURES.is_dir():
        return [FIXTURES / "<missing>"]  # one failing case rather than a silent skip
    return sorted(FIXTURES.glob("*.json"))


def test_the_known_captures_are_present():
    assert FIXTURES.is_dir(), (
        f"fixture folder {FIXTURES} is missing: clone the shared fixtures next to the repo "
        "(the tests read ../shared/fixtures/tailscale)"
    )
    missing = sorted(set(EXPECTED) - {p.name for p in FIXTURES.glob("*.json")})
    assert not missing, f"captures missing from {FIXTURES}: {missing}"


@pytest.mark.parametrize("path", _capture_files(), ids=lambda p: p.name)
def test_every_capture_parses(path: Path):
    assert path.is_file(), f"fixture folder {FIXTURES} is missing or has no captures"
    status = parse_status(json.loads(path.read_text()))
    assert status.peers, "a capture with peers parses to peers"
    for peer in status.peers:
        assert peer.hostname and peer.ips and not peer.is_self
        assert not peer.last_seen.startswith("0001-"), "Go's zero time reads as empty"
    facts = EXPECTED.get(path.name)
    if facts is None:
        return
    assert status.backend_state == facts["backend"]
    assert status.magic_dns_suffix == facts["suffix"]
    assert len(status.peers) == facts["peers"]
    assert {p.hostname for p in status.peers if p.online} == facts["online"]
    if facts["self"] is None:
        assert status.self_peer is None
    else:
        assert status.self_peer is not None and status.self_peer.is_self
        assert status.self_peer.hostname == facts["self"]
    by_name = {p.hostname: p for p in status.peers}
    for hostname, details in facts["details"].items():
        for field, value in details.items():
            assert getattr(by_name[hostname], field) == value, (hostname, field)


def test_yclaw_capture_details():
    status = parse_status(json.loads((FIXTURES / "yclaw-status.json").read_text()))
    assert status.tailnet == "user@example.com"
    assert status.version == "1.98.5-ERR-BuildInfo"
    me = status.self_peer
    assert me is not None and me.exit_node, "ExitNodeOption makes the self an exit node"
    assert me.node_key == "nodekey:redactedself" and me.relay == "sfo"
    metal = next(p for p in status.peers if p.hostname == "metal")
    assert NODEKEY.match(metal.node_key)
    # ipnstate.SortPeers order: by DNS name.
    assert [p.dns_name for p in status.peers] == sorted(p.dns_name for p in status.peers)


def test_missing_fields_are_tolerated():
    assert parse_status({}).peers == ()
    status = parse_status({"Peer": {"nodekey:abc": {}}, "Self": {}, "Health": None})
    (peer,) = status.peers
    assert peer.node_key == "nodekey:abc" and peer.ips == () and not peer.online
    assert status.self_peer is not None and status.self_peer.is_self


@pytest.mark.parametrize(
    "doc, detail",
    [
        ([], "expected a JSON object"),
        ("Running", "expected a JSON object"),
        ({"Peer": []}, "Status.Peer is list"),
        ({"Peer": {"nodekey:a": "x"}}, "Peer[nodekey:a] is str"),
        ({"Peer": {"nodekey:a": {"TailscaleIPs": "100.64.0.1"}}}, "TailscaleIPs is str"),
        ({"Peer": {"nodekey:a": {"TailscaleIPs": [1]}}}, "list of strings"),
        ({"Peer": {"nodekey:a": {"Online": "yes"}}}, "Online is str"),
        ({"Self": 3}, "Self is int"),
    ],
)
def test_malformed_status_is_a_source_error(doc, detail):
    with pytest.raises(SourceError) as caught:
        parse_status(doc)
    assert caught.value.reason.startswith("unexpected shape of tailscale status")
    assert detail in caught.value.reason and caught.value.hint


def test_garbage_text_is_not_json():
    with pytest.raises(SourceError) as caught:
        parse_status_json(b"<html>Bad Gateway</html>", "/run/x.sock")
    assert "not valid JSON" in caught.value.reason and "<html>" in caught.value.reason
    assert "/run/x.sock" in caught.value.hint


# --- the lab's LocalAPI -----------------------------------------------------------------------


@pytest.fixture
def world() -> World:
    return World(labfile.loads(LAB_TOML, "tailnet-test.toml"))


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    with short_dir() as path:
        yield path


@pytest.fixture
def face(world: World, sock_dir: Path) -> Iterator[TailscaleFace]:
    with TailscaleFace(world, sock_dir / "tailscaled.sock") as running:
        yield running


def _raw(face: TailscaleFace) -> httpx.Client:
    assert face.socket_path is not None
    return httpx.Client(
        transport=httpx.HTTPTransport(uds=face.socket_path),
        base_url="http://local-tailscaled.sock",
        trust_env=False,
    )


def test_fetch_reads_self_and_peers(face: TailscaleFace):
    status = TailscaleSource(socket_path=face.socket_path).fetch()
    assert status.backend_state == "Running"
    assert status.magic_dns_suffix == "tailnet.ts.net"
    me = status.self_peer
    assert me is not None and me.hostname == "laptop" and me.is_self and me.os == "macOS"
    assert me.ips[0] == "100.64.0.2"
    names = {p.hostname for p in status.peers}
    assert names == {"k3s-server", "worker-1", "worker-2", "worker-3", "pve1"}
    assert all(p.online and p.last_seen == "" for p in status.peers)
    by_name = {p.hostname: p for p in status.peers}
    server = by_name["k3s-server"]
    assert server.cur_addr == "192.168.1.11:41641"
    assert server.dns_name == "k3s-server.tailnet.ts.net."
    assert server.node_key == node_key("k3s-server") and NODEKEY.match(server.node_key)
    v4, v6 = (ipaddress.ip_address(a) for a in server.ips)
    assert str(v4) == "100.64.0.11" and v6 in ipaddress.ip_network("fd7a:115c:a1e0::/48")
    assert by_name["worker-2"].relay == "ams" and by_name["worker-2"].cur_addr == ""
    assert by_name["pve1"].exit_node


def test_fetch_goes_through_parse_status(face: TailscaleFace):
    with _raw(face) as client:
        raw = client.get("/localapi/v0/status")
    assert raw.status_code == 200
    fetched = TailscaleSource(socket_path=face.socket_path).fetch()
    assert fetched == parse_status(raw.json())


def test_status_is_shaped_like_tailscaled(face: TailscaleFace):
    with _raw(face) as client:
        answer = client.get("/localapi/v0/status")
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["tailscale-version"] and "server" not in answer.headers
    assert answer.text.startswith('{\n\t"Version": ') and answer.text.endswith("}\n")
    doc = answer.json()
    assert doc["TUN"] is True and doc["AuthURL"] == "" and doc["Health"] == []
    assert doc["CurrentTailnet"]["MagicDNSEnabled"] is True
    assert doc["TailscaleIPs"] == doc["Self"]["TailscaleIPs"]
    assert doc["Self"]["PublicKey"] not in doc["Peer"], "Self is not among the peers"
    fields = set(doc["Self"])
    for key, peer in doc["Peer"].items():
        assert NODEKEY.match(key) and peer["PublicKey"] == key
        assert set(peer) == fields
        assert peer["LastSeen"] == "0001-01-01T00:00:00Z", "online peers have no LastSeen"
        assert re.match(r"^n\w{9}11CNTRL$", peer["ID"])
    (user_id,) = doc["User"]
    assert doc["User"][user_id]["LoginName"] and int(user_id) == doc["Self"]["UserID"]


def test_power_off_takes_the_hosts_peers_offline(world: World, face: TailscaleFace):
    source = TailscaleSource(socket_path=face.socket_path)
    world.set_host_power("pve2", False)
    status = source.fetch()
    by_name = {p.hostname: p for p in status.peers}
    for name in ("worker-2", "worker-3"):
        peer = by_name[name]
        assert not peer.online and peer.last_seen, name
        went = datetime.strptime(peer.last_seen, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert abs(went.timestamp() - world.clock.now()) < 5
    assert all(by_name[n].online for n in ("k3s-server", "worker-1", "pve1"))

    world.set_host_power("pve1", False)  # the host peer follows its host, the nodes theirs
    assert not any(p.online for p in source.fetch().peers)

    world.set_host_power("pve2", True)
    back = {p.hostname: p for p in source.fetch().peers}
    assert back["worker-2"].online and back["worker-2"].last_seen == ""
    assert not back["pve1"].online


def test_whois_online_and_offline(world: World, face: TailscaleFace):
    source = TailscaleSource(socket_path=face.socket_path)
    who = source.whois("100.64.0.11")
    assert who is not None
    assert who.peer.hostname == "k3s-server" and who.peer.online and who.peer.last_seen == ""
    assert who.peer.node_key == node_key("k3s-server") and who.login_name
    world.set_host_power("pve2", False)
    gone = source.whois("100.64.0.13:22")
    assert gone is not None and gone.peer.hostname == "worker-2"
    assert not gone.peer.online and gone.peer.last_seen and gone.peer.relay == "ams"
    assert source.whois("100.100.1.1") is None
    with _raw(face) as client:
        missing = client.get("/localapi/v0/whois")
        unknown = client.get("/localapi/v0/whois", params={"addr": "100.100.1.1"})
        by_key = client.get("/localapi/v0/whois", params={"addr": node_key("worker-1")})
    assert (missing.status_code, missing.text) == (400, "missing 'addr' parameter\n")
    assert (unknown.status_code, unknown.text) == (404, "no match for IP:port\n")
    assert by_key.json()["Node"]["ComputedName"] == "worker-1"
    assert set(by_key.json()) == {"Node", "UserProfile", "CapMap"}


def test_ping_direct_and_relayed(face: TailscaleFace):
    source = TailscaleSource(socket_path=face.socket_path)
    direct = source.ping("100.64.0.11")
    assert direct.ok and direct.node_name == "k3s-server"
    assert direct.endpoint == "192.168.1.11:41641" == direct.via
    assert direct.latency is not None and 0.005 <= direct.latency <= 0.035
    relayed = source.ping("100.64.0.13")
    assert relayed.ok and relayed.derp_region == "ams" and relayed.via == "DERP(ams)"
    assert relayed.latency is not None and 0.1 <= relayed.latency <= 0.15
    tsmp = source.ping("100.64.0.12", "TSMP")
    assert tsmp.ok and tsmp.endpoint == "" and tsmp.derp_region == ""
    me = source.ping("100.64.0.2")
    assert me.is_local and me.err == "100.64.0.2 is local Tailscale IP"
    assert source.ping("100.64.9.9").err == "no matching peer"


def test_ping_to_an_offline_peer_times_out_quickly(world: World, face: TailscaleFace):
    world.set_host_power("pve2", False)
    started = time.monotonic()
    reply = TailscaleSource(socket_path=face.socket_path).ping("100.64.0.13")
    elapsed = time.monotonic() - started
    assert reply.err == 'ping "100.64.0.13" timed out' and reply.latency is None
    assert reply.node_name == "worker-2"
    # A lab-scaled wait, not tailscale ping's 5 s; the upper bound leaves room for a loaded
    # machine while still telling the two apart.
    assert 0.2 <= elapsed < 2.5, "a lab-scaled wait, not tailscale ping's 5 s"


def test_ping_wants_post(face: TailscaleFace):
    with _raw(face) as client:
        answer = client.get("/localapi/v0/ping", params={"ip": "100.64.0.11", "type": "disco"})
        no_ip = client.post("/localapi/v0/ping", params={"type": "disco"})
    # tailscaled's servePing answers a GET with http.Error(w, "want POST", 400).
    assert (answer.status_code, answer.text) == (400, "want POST\n")
    assert (no_ip.status_code, no_ip.text) == (400, "missing 'ip' parameter\n")


@pytest.mark.parametrize(
    "headers",
    [{"Host": "example.com"}, {"Origin": "http://evil.example"}, {"Referer": "http://x/"}],
    ids=["host", "origin", "referer"],
)
def test_localapi_refuses_browsers_and_other_hosts(face: TailscaleFace, headers):
    with _raw(face) as client:
        refused = client.get("/localapi/v0/status", headers=headers)
        allowed = client.get("/localapi/v0/status")
    assert (refused.status_code, refused.text) == (403, "invalid localapi request\n")
    assert allowed.status_code == 200


def test_unknown_paths_get_gos_404(face: TailscaleFace):
    with _raw(face) as client:
        unknown = client.get("/localapi/v0/no-such-thing")
        outside = client.get("/metrics")
        root = client.get("/")
    assert (unknown.status_code, unknown.text) == (404, "404 page not found\n")
    assert outside.status_code == 404
    assert (root.status_code, root.text) == (200, "tailscaled\n")


def test_face_stops_cleanly(world: World, sock_dir: Path):
    path = sock_dir / "once.sock"
    with TailscaleFace(world, path):
        assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o666"
    assert not path.exists()


# --- finding tailscaled -----------------------------------------------------------------------


def test_default_socket_paths_follow_tailscale():
    linux = default_socket_paths("linux")
    assert linux[:2] == ("/var/run/tailscale/tailscaled.sock", "/run/tailscale/tailscaled.sock")
    assert default_socket_paths("darwin") == (DARWIN_SOCKET,) == ("/var/run/tailscaled.socket",)
    assert default_socket_paths("win32") == ()


def test_discover_prefers_the_configured_path(sock_dir: Path):
    present = stale_socket(sock_dir / "b.sock")
    assert discover("/etc/explicit.sock") == Endpoint("unix", "/etc/explicit.sock")
    found = discover(search_paths=[str(sock_dir / "a.sock"), str(present)])
    assert found == Endpoint("unix", str(present))
    assert discover(search_paths=[str(sock_dir / "a.sock")]) is None


def test_macos_app_over_tcp_with_token(world: World, tmp_path: Path):
    with TailscaleFace(world) as app:  # no socket: loopback TCP with a token, as the app
        port, token = app.port, app.token
        macsys = tmp_path / "Library-Tailscale"
        macsys.mkdir()
        (macsys / "ipnport").symlink_to(str(port))
        (macsys / f"sameuserproof-{port}").write_text(token + "\n")
        home = tmp_path / "home"
        home.mkdir()
        found = find_gui_endpoint(home=home, macsys_dir=macsys)
        assert found == Endpoint("tcp", f"127.0.0.1:{port}", token)
        assert discover(platform="darwin", home=home, macsys_dir=macsys) == found
        status = TailscaleSource(endpoint=found).fetch()
        assert status.self_peer is not None and status.self_peer.hostname == "laptop"

        container = home / "Library" / "Group Containers" / "W5364U7YZB.io.tailscale.ipn.macos"
        container.mkdir(parents=True)
        (container / f"sameuserproof-{port}-{token}").touch()
        appstore = find_gui_endpoint(home=home, macsys_dir=tmp_path / "absent")
        assert appstore == Endpoint("tcp", f"127.0.0.1:{port}", token)

        wrong = Endpoint("tcp", f"127.0.0.1:{port}", "0" * 20)
        with pytest.raises(SourceError) as caught:
            TailscaleSource(endpoint=wrong).fetch()
        assert "403" in caught.value.reason and "bad password" in caught.value.reason
    # The files outlive the app; a port nobody listens on is not an endpoint.
    assert find_gui_endpoint(home=home, macsys_dir=macsys) is None


# --- faults -----------------------------------------------------------------------------------


@pytest.fixture
def no_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


def test_missing_socket_without_cli_names_the_path(no_cli: Path, sock_dir: Path):
    missing = sock_dir / "tailscaled.sock"
    with pytest.raises(SourceError) as caught:
        TailscaleSource(socket_path=str(missing)).fetch()
    assert str(caught.value) == f"tailscaled socket not found at {missing}; {NOT_RUNNING}"
    searched = [str(sock_dir / "a.sock"), str(sock_dir / "b.sock")]
    with pytest.raises(SourceError) as caught:
        TailscaleSource(search_paths=searched).fetch()
    assert all(path in caught.value.reason for path in searched)


def test_stale_socket_file(no_cli: Path, sock_dir: Path):
    stale = stale_socket(sock_dir / "tailscaled.sock")
    with pytest.raises(SourceError) as caught:
        TailscaleSource(socket_path=str(stale)).fetch()
    assert caught.value.reason == f"nothing is listening on {stale} (stale socket file?)"
    assert caught.value.hint == NOT_RUNNING


def test_a_server_answering_garbage(sock_dir: Path):
    path = sock_dir / "not-tailscaled.sock"
    garbage = fixed_answer(path, 200, b"<html>hello</html>", "text/html")
    with garbage, pytest.raises(SourceError) as caught:
        TailscaleSource(socket_path=str(path)).fetch()
    assert "not valid JSON" in caught.value.reason and str(path) in caught.value.hint


@pytest.mark.parametrize(
    "status, body, quoted, hint",
    [
        (403, b"status access denied\n", "status access denied", OPERATOR),
        (500, b'{"error":"no netmap"}\n', "no netmap", ""),
    ],
)
def test_non_200_answers_are_quoted(sock_dir: Path, status, body, quoted, hint):
    path = sock_dir / "tailscaled.sock"
    server = fixed_answer(path, status, body, "text/plain; charset=utf-8")
    with server, pytest.raises(SourceError) as caught:
        TailscaleSource(socket_path=str(path)).fetch()
    assert f"answered {status}" in caught.value.reason and quoted in caught.value.reason
    assert caught.value.hint == hint


def test_a_daemon_that_never_answers(sock_dir: Path):
    with silent_socket(sock_dir / "hung.sock") as path:
        source = TailscaleSource(socket_path=str(path), timeout=0.3)
        with pytest.raises(SourceError) as caught:
            source.fetch()
        assert caught.value.reason == f"tailscaled at {path} did not answer within 0.3 s"
        # A ping tailscaled keeps open reads as `tailscale ping` reports it.
        assert source.ping("100.64.0.11").err == 'ping "100.64.0.11" timed out'


def test_an_unusable_socket_path_is_still_a_source_error(no_cli: Path):
    too_long = "/tmp/" + "x" * 200 + ".sock"  # beyond AF_UNIX's limit: an OSError inside httpx
    with pytest.raises(SourceError) as caught:
        TailscaleSource(socket_path=too_long).fetch()
    assert "cannot talk to tailscaled" in caught.value.reason or "not found" in caught.value.reason


def test_permission_denied(world: World, sock_dir: Path, no_cli: Path):
    with TailscaleFace(world, sock_dir / "tailscaled.sock") as face:
        path = Path(face.socket_path or "")
        if os.geteuid() == 0:
            # Root ignores file modes, so the fetch runs as uid 65534 in a child process.
            open_result = fetch_as_nobody(path, no_cli)  # 0666, as tailscaled leaves it
            assert json.loads(open_result.stdout or "{}") == {"uid": 65534, "peers": 5}, (
                open_result.stderr
            )
            path.chmod(0o600)
            denied = fetch_as_nobody(path, no_cli)
            answer = json.loads(denied.stdout or "{}")
            assert answer.get("reason") == f"cannot connect to {path}: permission denied", (
                denied.stderr
            )
            assert answer.get("hint") == OPERATOR
        else:
            path.chmod(0o000)
            with pytest.raises(SourceError) as caught:
                TailscaleSource(socket_path=str(path)).fetch()
            assert caught.value.reason.endswith("permission denied")
            assert caught.value.hint == OPERATOR


# --- the CLI fallback --------------------------------------------------------------------------


def test_cli_fallback_prints_the_real_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sock_dir: Path
):
    capture = FIXTURES / "yclaw-status.json"
    bin_dir = tmp_path / "bin"
    fake_cli(
        bin_dir,
        f'if [ "$1 $2" = "status --json" ]; then cat "{capture}"; exit 0; fi\n'
        'echo "unexpected arguments: $*" >&2; exit 2\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")  # for cat
    source = TailscaleSource(socket_path=str(sock_dir / "missing.sock"))
    status = source.fetch()
    assert status == parse_status(json.loads(capture.read_text()))
    assert len(status.peers) == 9 and "status --json" in source.last_via
    stale = stale_socket(sock_dir / "stale.sock")  # nothing listening: the CLI is asked too
    assert TailscaleSource(socket_path=str(stale)).fetch() == status


def test_a_failing_cli_is_quoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sock_dir: Path):
    bin_dir = tmp_path / "bin"
    message = "failed to connect to local tailscaled; it doesn't appear to be running"
    fake_cli(bin_dir, f'echo "{message}" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", str(bin_dir))
    missing = sock_dir / "missing.sock"
    with pytest.raises(SourceError) as caught:
        TailscaleSource(socket_path=str(missing)).fetch()
    reason = caught.value.reason
    assert "`tailscale status --json` failed (exit 1)" in reason and message in reason
    assert str(missing) in reason and caught.value.hint == NOT_RUNNING
