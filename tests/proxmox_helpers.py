"""Shared pieces of the Proxmox tests: the captured fixtures, a strict checker of answers
against the PVE 9 API schema, a two-node lab, and a running lab face with its tokens.

fakepve (AGPL) is imported here and in the tests only, never by the cockpit itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from fakepve import schema as pve_schema

from cockpit import labfile
from cockpit.lab.clock import LabClock
from cockpit.lab.proxmox_face import ApiToken, ProxmoxFace
from cockpit.lab.tls import LabTls
from cockpit.lab.world import World
from cockpit.secret import Secret
from cockpit.sources.proxmox import ProxmoxSource

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "proxmox"

# Distinctive secrets, so a leak is found by plain substring search in any output.
RW_SECRET = "5e1f0c2a-rw-9d4b-cockpit-0a7e3c18b6d2"
RO_SECRET = "7b3e9a41-ro-2c6f-cockpit-e85d1f0b4a97"
WRONG_SECRET = "c0ffee00-wrong-4bad-cockpit-5eed1e55d00d"
SECRETS = (RW_SECRET, RO_SECRET, WRONG_SECRET)
TOKENS = {
    "root@pam!cockpit": ApiToken(Secret(RW_SECRET), may_modify=True),
    "auditor@pve!ro": ApiToken(Secret(RO_SECRET), may_modify=False),
}

# Two nodes, a container with a mount point and a VM with a balloon floor and an EFI disk.
DUO_LAB = """
[lab]
name = "duo"

[[hosts]]
name = "alpha"
cpu_model = "AMD Ryzen 7 5800H with Radeon Graphics"
cores = 8
threads = 16
memory = "64G"
disk = "1T"

[[hosts]]
name = "beta"
cpu_model = "Intel N100"
cores = 4
threads = 4
memory = "16G"
disk = "256G"

[[guests]]
vmid = 200
name = "web"
host = "alpha"
kind = "lxc"
vcpus = 2
memory = "1G"
disks = ["8G", { name = "mp0", size = "20G" }]
tags = ["web"]
ips = ["10.0.0.20"]

[[guests]]
vmid = 300
name = "db"
host = "alpha"
vcpus = 4
memory = "8G"
balloon_min = "4G"
disks = [{ name = "scsi0", size = "64G" }, { name = "efidisk0", size = "4M" }]
tags = ["db", "prod"]
"""


def fixture(name: str) -> Any:
    """The `data` of a captured PVE answer; fails (not skips) when the files are missing."""
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(
            f"captured PVE fixture {path} is missing: the Proxmox tests need ../shared/fixtures "
            "beside the repository (see shared/fixtures/SOURCES.md)"
        )
    return json.loads(path.read_text(encoding="utf-8"))["data"]


# --- the PVE 9 schema, strictly ------------------------------------------------------------


def schema_problems(path: str, data: Any, method: str = "GET", required: bool = True) -> list[str]:
    """Where `data` breaks what the PVE 9 schema says `method path` returns: types exactly
    (integers are ints, booleans 0/1, numbers not strings), enums, and (with `required`)
    properties the schema does not mark optional."""
    match = pve_schema.load().match(path)
    assert match is not None, f"{path} is not in the PVE schema"
    problems: list[str] = []
    _check(match.methods[method]["returns"], data, "data", problems, required)
    return problems


def _check(sch: dict, value: Any, where: str, out: list[str], required: bool) -> None:
    kind = sch.get("type")
    if value is None:
        if not sch.get("optional") and kind not in (None, "null", "any"):
            out.append(f"{where}: null where the schema has a {kind}")
        return
    if not _type_ok(kind, value):
        out.append(f"{where}: {type(value).__name__} {value!r:.60} is not a {kind}")
        return
    if "enum" in sch and value not in sch["enum"]:
        out.append(f"{where}: {value!r} not one of {sch['enum']}")
    if kind == "array":
        for i, item in enumerate(value):
            _check(sch.get("items") or {}, item, f"{where}[{i}]", out, required)
    elif kind == "object":
        _check_object(sch, value, where, out, required)


def _type_ok(kind: str | None, value: Any) -> bool:
    if isinstance(value, bool):
        return False  # JSON from PVE never has true/false where the schema has a type
    checks = {
        "integer": lambda v: isinstance(v, int),
        "number": lambda v: isinstance(v, int | float),
        "boolean": lambda v: v in (0, 1) and isinstance(v, int),
        "string": lambda v: isinstance(v, str),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    return checks.get(kind or "", lambda v: True)(value)


def _check_object(sch: dict, value: dict, where: str, out: list[str], required: bool) -> None:
    props: dict[str, dict] = sch.get("properties") or {}
    patterns = {
        re.compile(re.escape(name[:-3]) + r"\d+"): sub
        for name, sub in props.items()
        if name.endswith("[n]")
    }
    for key, item in value.items():
        sub = props.get(key) or next((s for p, s in patterns.items() if p.fullmatch(key)), None)
        if sub is not None:
            _check(sub, item, f"{where}.{key}", out, required)
    if required:
        for name, sub in props.items():
            if not sub.get("optional") and not name.endswith("[n]") and name not in value:
                out.append(f"{where}.{name}: missing, and the schema does not mark it optional")


# --- a running lab face --------------------------------------------------------------------


@dataclass
class LabPve:
    """A World served by the face, and sources for it with each token."""

    world: World
    face: ProxmoxFace
    tls: LabTls

    def source(
        self, token: str = "rw", verify: str | bool | None = None, **kw: Any
    ) -> ProxmoxSource:
        user, name, secret = {
            "rw": ("root@pam", "cockpit", RW_SECRET),
            "ro": ("auditor@pve", "ro", RO_SECRET),
            "wrong": ("root@pam", "cockpit", WRONG_SECRET),
        }[token]
        return ProxmoxSource(
            "127.0.0.1",
            self.face.port,
            user=user,
            token_name=name,
            token_value=Secret(secret),
            verify=str(self.tls.ca_file) if verify is None else verify,
            **kw,
        )

    def api(self, method: str, path: str, token: str = RW_SECRET, **data: Any) -> requests.Response:
        """A raw request with the right header, for what the adapter does not do itself."""
        user = "root@pam!cockpit" if token != RO_SECRET else "auditor@pve!ro"
        return requests.request(
            method,
            f"{self.face.url}/api2/json{path}",
            headers={"Authorization": f"PVEAPIToken={user}={token}"},
            data=data if method != "GET" else None,
            params=data if method == "GET" else None,
            verify=str(self.tls.ca_file),
            timeout=5,
        )


def start_lab(lab: labfile.Lab, tls: LabTls, speed: float = 50.0) -> LabPve:
    world = World(lab, LabClock(speed=speed))
    face = ProxmoxFace(world, TOKENS, tls=tls).start()
    return LabPve(world, face, tls)
