"""Reading a TOML file with errors a person can act on: every problem names the file, the
line where it can be found, the key path, and what was expected. Typos in keys are errors,
not silently ignored settings. Used by the lab format and the config file."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit import units


class TomlFileError(ValueError):
    """A file that cannot be used, located as precisely as we can."""

    def __init__(self, file: str, where: str, message: str, line: int | None = None) -> None:
        self.file, self.where, self.message, self.line = file, where, message, line
        place = f"{file}:{line}" if line else file
        super().__init__(f"{place}: {where}: {message}" if where else f"{place}: {message}")


def parse_toml(text: str, file: str, error: type[TomlFileError] = TomlFileError) -> dict:
    try:
        return tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or int()'s digit limit on a huge integer
        match = re.search(r"at line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        raise error(file, "", f"not valid TOML: {exc}", line) from None


class Table:
    """A TOML table being read: tracks its key path and which keys were used, so typos in a
    plan ("memroy") are reported instead of silently ignored."""

    def __init__(self, data: Any, path: tuple[str | int, ...], ctx: Context) -> None:
        if not isinstance(data, dict):
            raise ctx.error(path, f"expected a table, got {type(data).__name__} {data!r}")
        self.data, self.path, self.ctx = data, path, ctx
        self.used: set[str] = set()

    def error(self, key: str | None, message: str) -> TomlFileError:
        return self.ctx.error((*self.path, key) if key else self.path, message)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return self.data.get(key, default)

    def required(self, key: str) -> Any:
        if key not in self.data:
            raise self.error(key, "is required")
        return self.raw(key)

    def typed(self, key: str, kind: type | tuple[type, ...], default: Any, what: str) -> Any:
        value = self.raw(key, default)
        if value is default:
            return value
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.error(key, f"expected {what}, got {value!r}")
        if not isinstance(value, kind):
            raise self.error(key, f"expected {what}, got {value!r}")
        return value

    def str(self, key: str, default: Any = "") -> Any:
        return self.typed(key, str, default, "a string")

    def int(self, key: str, default: Any = None) -> Any:
        value = self.typed(key, int, default, "a whole number")
        if value is not default:
            _check_range(self, key, value)
        return value

    def bool(self, key: str, default: bool = False) -> bool:
        return self.typed(key, bool, default, "true or false")

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"expected a list of strings, got {value!r}")
        return tuple(value)

    def string_map(self, key: str) -> dict[str, str]:
        value = self.raw(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.error(key, f"expected a table of strings, got {value!r}")
        return dict(value)

    def parsed(self, key: str, parse: Callable[[Any], int], what: str, default: Any = None) -> Any:
        value = self.raw(key, default)
        if value is default:
            return value
        try:
            result = parse(value)
        except (ValueError, TypeError) as exc:
            raise self.error(key, f"expected {what}: {exc}") from None
        _check_range(self, key, result)
        return result

    def cpu(self, key: str, default: Any = None) -> Any:
        return self.parsed(key, units.parse_cpu, "a CPU quantity like 250m or 2", default)

    def k8s_bytes(self, key: str, default: Any = None) -> Any:
        return self.parsed(key, units.parse_bytes, "a memory quantity like 512Mi or 1.5Gi", default)

    def pve_size(self, key: str, default: Any = None) -> Any:
        return self.parsed(key, units.parse_pve_size, "a Proxmox size like 32G or 1.5T", default)

    def sub(self, key: str) -> Table | None:
        if key not in self.data:
            self.used.add(key)
            return None
        return Table(self.raw(key), (*self.path, key), self.ctx)

    def items(self, key: str) -> list[Table]:
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise self.error(key, "expected a list of tables ([[" + key + "]] sections)")
        return [Table(v, (*self.path, key, i), self.ctx) for i, v in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(
                unknown[0],
                "unknown key (check its spelling; known keys here: "
                + ", ".join(sorted(self.used))
                + ")",
            )


# TOML's integers are 64-bit (tomllib reads any length) and so are Kubernetes quantities;
# beyond that a value is a typo, and the sums and ratios built from it would overflow.
INT_LIMIT = 2**63


def _check_range(table: Table, key: str, value: Any) -> None:
    if type(value) is int and not -INT_LIMIT <= value < INT_LIMIT:
        raise table.error(key, "out of range: expected a number below 2**63 either way")


@dataclass
class Context:
    file: str
    text: str

    error_type: type[TomlFileError] = TomlFileError

    def error(self, path: tuple[str | int | None, ...], message: str) -> TomlFileError:
        clean = tuple(p for p in path if p is not None)
        return self.error_type(self.file, dotted(clean), message, locate(self.text, clean))


def dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def locate(text: str, path: tuple[str | int, ...]) -> int | None:
    """Best-effort line number for a key path such as ("workloads", 3, "requests")."""
    if not path or not text:
        return None
    lines = text.splitlines()
    name = path[0]
    start, end = 0, len(lines)
    rest = list(path[1:])
    if rest and isinstance(rest[0], int):
        index = rest.pop(0)
        header = re.compile(rf"^\s*\[\[\s*{re.escape(str(name))}\s*\]\]")
        seen = -1
        for i, line in enumerate(lines):
            if header.match(line):
                seen += 1
                if seen == index:
                    start = i
                    break
        else:
            return None
    else:
        header = re.compile(rf"^\s*\[\s*{re.escape(str(name))}\s*[\].]")
        for i, line in enumerate(lines):
            if header.match(line):
                start = i
                break
        else:
            key = re.compile(rf"^\s*\"?{re.escape(str(name))}\"?\s*=")
            return next((i + 1 for i, line in enumerate(lines) if key.match(line)), None)
    for j in range(start + 1, len(lines)):
        if lines[j].lstrip().startswith("["):
            end = j
            break
    keys = [p for p in rest if isinstance(p, str)]
    if keys:
        pattern = re.compile(rf"^\s*\"?{re.escape(keys[0])}\"?\s*[=.]")
        for j in range(start, end):
            if pattern.match(lines[j]):
                return j + 1
    return start + 1
