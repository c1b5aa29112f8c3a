"""`cockpit serve`: the same screen in a browser, through textual-serve, safely.

textual-serve runs one cockpit process per browser tab and has no authentication of its
own, so this puts a small gate in front of it:
- it listens on 127.0.0.1 unless asked for another address, and only a loopback or a
  tailnet address (100.64.0.0/10, fd7a:115c:a1e0::/48) is accepted: the tailnet already
  decides who can reach the machine, the LAN or the internet do not;
- every request needs the random access token printed at start, as `?token=` once (the
  answer sets an HttpOnly, SameSite=Strict cookie and sends the browser on to the bare
  URL, so the token leaves the address bar) or as that cookie; anything else gets 401;
- a websocket from another site's page (a foreign Origin) gets 403;
- the served cockpit is read-only unless --allow-actions;
- the access log is off, so the token is never written to a log.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import secrets
import shlex
import sys
from typing import Any
from urllib.parse import urlsplit

from cockpit.cli.common import CliError

COOKIE = "cockpit_token"
TAILNET_NETWORKS = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("fd7a:115c:a1e0::/48"),
)
REFUSED = "401: this cockpit needs its access token: open the URL `cockpit serve` printed"


def add_command(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="the cockpit in a browser (127.0.0.1, token required, read-only by default)",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on: 127.0.0.1 (default), ::1 or this machine's tailnet "
        "address (100.x.y.z); nothing else",
    )
    serve.add_argument("--port", type=int, default=8765, help="the port (default 8765)")
    serve.add_argument(
        "--allow-actions",
        action="store_true",
        help="let the browser drain, restart, scale and power guests (default: read-only)",
    )
    serve.add_argument(
        "--demo",
        metavar="LAB",
        help="serve `cockpit demo LAB` (a built-in lab per browser tab) instead of the "
        "configured sources",
    )
    serve.set_defaults(run=cmd_serve)


def check_host(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise CliError(
            f"--host {host!r} is not an IP address; give 127.0.0.1 or this machine's "
            "tailnet address (see `tailscale ip -4`)"
        ) from None
    if address.is_loopback or any(address in net for net in TAILNET_NETWORKS):
        return host
    raise CliError(
        f"--host {host} is neither loopback nor a tailnet address: the browser cockpit is "
        "only served where the tailnet (or this machine) decides who may connect; use "
        "127.0.0.1 and an SSH tunnel, or this machine's 100.x.y.z address"
    )


def child_command(args: argparse.Namespace) -> str:
    """The cockpit each browser tab runs: this Python, the same options, read-only unless
    actions were allowed."""
    argv = [sys.executable, "-m", "cockpit"]
    if args.config:
        argv += ["--config", args.config]
    if args.context:
        argv += ["--context", args.context]
    if args.theme:
        argv += ["--theme", args.theme]
    if not args.allow_actions or getattr(args, "readonly", False):
        argv.append("--readonly")
    if args.demo:
        argv += ["demo", args.demo]
    return shlex.join(argv)


def token_ok(given: str | None, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def make_gate(token: str) -> Any:
    """An aiohttp middleware: the token (query once, then cookie) or 401; a websocket
    opened by another site's page: 403."""
    from aiohttp import web

    @web.middleware
    async def gate(request: web.Request, handler: Any) -> web.StreamResponse:
        if token_ok(request.query.get("token"), token):
            if request.path == "/" and request.method == "GET":
                # Keep the token out of the address bar, history and Referer from now on.
                response = web.HTTPSeeOther("/")
                response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
                return response
        elif not token_ok(request.cookies.get(COOKIE), token):
            return web.Response(status=401, text=REFUSED + "\n")
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            return web.Response(status=403, text="403: a page from another site may not "
                                "drive this cockpit\n")  # fmt: skip
        return await handler(request)

    return gate


def cmd_serve(args: argparse.Namespace) -> int:
    host = check_host(args.host)
    if not 0 < args.port < 65536:
        raise CliError(f"--port must be between 1 and 65535, got {args.port}")
    try:
        from aiohttp import web
        from textual_serve.server import Server
    except ImportError as exc:
        raise CliError(f"textual-serve is not installed ({exc}); reinstall the cockpit") from None

    token = secrets.token_urlsafe(24)
    where = f"[{host}]" if ":" in host else host
    public_url = f"http://{where}:{args.port}"

    class GatedServer(Server):  # type: ignore[misc]
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(make_gate(token))
            return app

        async def on_startup(self, app: web.Application) -> None:
            mode = "actions allowed" if args.allow_actions else "read-only"
            print(f"cockpit: serving on {public_url}/ ({mode})", flush=True)
            print(f"cockpit: open {public_url}/?token={token}", flush=True)
            print("cockpit: Ctrl-C stops it", flush=True)

        def serve(self, debug: bool = False) -> None:
            import asyncio
            import signal

            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_exit)
            # access_log=None: the first request's URL carries the token.
            web.run_app(
                self._make_app(),
                host=host,
                port=args.port,
                handle_signals=False,
                loop=loop,
                access_log=None,
                print=lambda *a: None,
            )

    server = GatedServer(
        child_command(args), host=host, port=args.port, title="Homelab Cockpit",
        public_url=public_url,
    )  # fmt: skip
    try:
        server.serve()
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{args.port}: {exc.strerror or exc}") from None
    return 0
