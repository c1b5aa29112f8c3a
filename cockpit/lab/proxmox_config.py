"""Editing a lab VM's config the way PVE does: PUT (synchronous) or POST (a task) on
/nodes/{node}/qemu/{vmid}/config, and PUT .../resize to grow a disk.

What a node-replacement needs from a clone: cores, memory and balloon, name and tags,
onboot, the cloud-init settings (ciuser, cipassword, sshkeys, ipconfigN, nameserver,
searchdomain) and `delete`. As on PVE: the digest must match when given, a locked VM is
refused, cipassword reads back as stars, and cores/memory changed on a running VM without
hotplug wait in `pending` until its next start. Disks only grow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from cockpit.model import Disk, Guest
from cockpit.units import parse_pve_size

if TYPE_CHECKING:
    from cockpit.lab.world import World

MiB = 2**20
CLOUD_INIT = ("ciuser", "cipassword", "sshkeys", "nameserver", "searchdomain", "citype",
              "description", "agent")  # fmt: skip
HARDWARE = ("cores", "memory", "balloon", "name", "tags", "onboot")
ALLOWED = frozenset((*CLOUD_INIT, *HARDWARE, "delete", "digest", "skiplock", "node", "vmid"))
IPCONFIG = re.compile(r"ipconfig\d")
STARS = "**********"


class ConfigError(Exception):
    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or {}


class ConfigEdits:
    """The options PVE keeps in a VM's config that the lab's Guest record does not, and the
    pending hardware changes of running VMs."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.extra: dict[int, dict[str, str]] = {}
        self.pending: dict[int, dict[str, int]] = {}
        world.on_start.append(self._apply_pending)

    def shown(self, vmid: int) -> dict[str, Any]:
        """What GET config adds for this VM."""
        out: dict[str, Any] = dict(self.extra.get(vmid, {}))
        if "cipassword" in out:
            out["cipassword"] = STARS
        return out

    def edit(self, g: Guest, values: dict[str, str], digest_now: Callable[[], str]) -> None:
        unknown = sorted(k for k in values if k not in ALLOWED and not IPCONFIG.fullmatch(k))
        if unknown:
            raise ConfigError(
                400,
                "Parameter verification failed.",
                {k: "property is not defined in schema and the schema does not allow "
                 "additional properties" for k in unknown},
            )  # fmt: skip
        if values.get("digest") and values["digest"] != digest_now():
            raise ConfigError(
                500, "detected modified configuration - file changed by other user? Try again."
            )
        errors: dict[str, str] = {}
        hardware: dict[str, int] = {}
        for key in ("cores", "balloon"):
            if key in values:
                if not values[key].isdigit() or (key == "cores" and int(values[key]) < 1):
                    errors[key] = f"type check ('integer') failed - got '{values[key]}'"
                else:
                    hardware[key] = int(values[key])
        if "memory" in values:
            raw = values["memory"].removeprefix("current=")
            if not raw.isdigit() or int(raw) < 16:
                errors["memory"] = f"value does not match the regex pattern - got '{raw}'"
            else:
                hardware["memory"] = int(raw)
        if errors:
            raise ConfigError(400, "Parameter verification failed.", errors)
        with self.world.lock:
            current = self.world.guests[g.vmid]
            if "name" in values:
                current = replace(current, name=values["name"])
            if "tags" in values:
                current = replace(
                    current, tags=tuple(t for t in re.split(r"[;, ]+", values["tags"]) if t)
                )
            if current.running and {"cores", "memory"} & hardware.keys():
                # No CPU/memory hotplug by default: applied at the next start.
                self.pending.setdefault(g.vmid, {}).update(
                    {k: v for k, v in hardware.items() if k in ("cores", "memory")}
                )
                hardware = {k: v for k, v in hardware.items() if k == "balloon"}
            current = _with_hardware(current, hardware)
            self.world.guests[g.vmid] = current
            extra = self.extra.setdefault(g.vmid, {})
            for key, value in values.items():
                if key in CLOUD_INIT or IPCONFIG.fullmatch(key) or key == "onboot":
                    extra[key] = value
            for key in filter(None, re.split(r"[,; ]+", values.get("delete", ""))):
                extra.pop(key, None)
        self.world.notify()

    def resize(self, g: Guest, disk: str, size: str, keys: list[str]) -> None:
        if disk not in keys:
            raise ConfigError(400, "Parameter verification failed.",
                              {"disk": f"value '{disk}' does not have a value in the "
                               "enumeration"})  # fmt: skip
        index = keys.index(disk)
        old = g.disks[index].size
        grow = size.startswith("+")
        try:
            amount = parse_pve_size(size.lstrip("+"))
        except ValueError:
            raise ConfigError(
                400, "Parameter verification failed.", {"size": f"invalid size '{size}'"}
            ) from None
        new = old + amount if grow else amount
        if new < old:
            raise ConfigError(500, "shrinking disks is not supported")
        with self.world.lock:
            disks = list(self.world.guests[g.vmid].disks)
            disks[index] = Disk(disks[index].name, new, disks[index].storage)
            self.world.guests[g.vmid] = replace(self.world.guests[g.vmid], disks=tuple(disks))

    def _apply_pending(self, guest: Guest) -> None:
        change = self.pending.pop(guest.vmid, None)
        if change:
            self.world.guests[guest.vmid] = _with_hardware(self.world.guests[guest.vmid], change)

    def pending_of(self, vmid: int) -> dict[str, int]:
        return dict(self.pending.get(vmid, {}))


def _with_hardware(g: Guest, change: dict[str, int]) -> Guest:
    if "cores" in change:
        g = replace(g, vcpus=change["cores"])
    if "memory" in change:
        g = replace(g, memory=change["memory"] * MiB)
    if "balloon" in change:
        g = replace(g, balloon_min=change["balloon"] * MiB if change["balloon"] else None)
    return g
