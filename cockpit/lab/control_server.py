"""The lab control surface over HTTP on 127.0.0.1, so `cockpit labctl` (another process)
can power hosts off, reboot guests, start drills and plug in machines of a running lab.

    GET  /v1/list                         hosts, guests, nodes, peers, drills, what happened
    POST /v1/power-off   {"host"}         POST /v1/power-on {"host"}
    POST /v1/reboot      {"target"}       a guest (vmid or name), a bare-metal host or node
    POST /v1/reconnect   {"peer"}         POST /v1/free-disk {"node"}
    POST /v1/drill       {"name", "at", "target"}
    POST /v1/join        {"name", "arch", "site", "ip"}

Every request carries `Authorization: Bearer TOKEN`; the token is in the control file the
lab writes beside its config (mode 0600), never on the command line or in a log.
"""

from __future__ import annotations

import hmac
import http.server
import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from cockpit.lab.control import LabControl
from cockpit.lab.drills import run_drill
from cockpit.lab.errors import ControlError
from cockpit.lab.world import WorldError

CONTROL_FILE = "lab-control.json"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # requests carry the token in a header; nothing is logged

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            self._answer(401, {"error": "missing or wrong token (read it from the control file)"})
            return
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            self._answer(400, {"error": f"bad request body: {exc}"})
            return
        try:
            status, answer = 200, self.server.dispatch(self.command, self.path, body)
        except (ControlError, WorldError) as exc:
            status, answer = 400, {"error": str(exc)}
        except KeyError as exc:
            status, answer = 400, {"error": f"missing field {exc}"}
        self._answer(status, answer)

    def _answer(self, status: int, doc: Any) -> None:
        payload = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, control: LabControl, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.control = control
        self.token = token

    def dispatch(self, method: str, path: str, body: dict) -> Any:
        ctl = self.control
        if method == "GET" and path == "/v1/list":
            return ctl.listing()
        if method != "POST":
            raise ControlError(f"{method} {path}: not a control verb")
        verb = path.removeprefix("/v1/")
        if verb == "power-off":
            return {"message": ctl.power_off(str(body["host"]))}
        if verb == "power-on":
            return {"message": ctl.power_on(str(body["host"]))}
        if verb == "reboot":
            return {"message": ctl.reboot(str(body["target"]))}
        if verb == "reconnect":
            return {"message": ctl.reconnect(str(body["peer"]))}
        if verb == "free-disk":
            return {"message": ctl.free_disk(str(body["node"]))}
        if verb == "drill":
            at = float(body.get("at") or 0.0)
            return {"message": run_drill(ctl, str(body["name"]), at, str(body.get("target", "")))}
        if verb == "join":
            return {
                "message": ctl.join(
                    str(body["name"]),
                    str(body.get("arch", "arm64")),
                    str(body.get("site", "")),
                    str(body.get("ip", "")),
                )
            }
        raise ControlError(f"unknown verb {verb!r}")


class ControlServer:
    def __init__(self, control: LabControl) -> None:
        self.token = secrets.token_hex(16)
        self.server = _Server(control, self.token)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self) -> ControlServer:
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name="lab-control-api",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def write(self, directory: Path) -> Path:
        """The control file: where the lab listens and its token, readable by its owner."""
        path = directory / CONTROL_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"url": self.url, "token": self.token}, out)
        return path
