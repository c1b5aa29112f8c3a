"""The action journal: append-only JSON lines under $XDG_STATE_HOME/cockpit/, written ahead.

Every line is flushed and fsynced before the call returns, and a step's "begin" line is
durable before its request is sent, so after a crash or a lost SSH session the journal
says exactly which steps were done, which one was in flight, and which never started.
If the journal cannot be written the action does not run: a mutation nobody can trace
afterwards is worse than no mutation.

One file holds every action; lines of one action share its id. Readers skip lines they
cannot parse (a crash can leave half a line) and say how many they skipped.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.secret import Secret
from cockpit.statedir import private_dir

VERSION = 1
FILE_NAME = "journal.jsonl"
REDACTED = "***"


class JournalError(Exception):
    """The journal cannot be written: the action must not run."""


def default_path(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cockpit" / FILE_NAME


def who() -> dict[str, str]:
    """The local user and machine, recorded with every action."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        user = str(os.getuid())
    return {"user": user, "host": socket.gethostname()}


def new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:8]


class Journal:
    """Appends entries durably; `secrets` are scrubbed from every value before writing."""

    def __init__(self, path: Path | str | None = None, secrets: Iterable[Secret] = ()) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._secrets = [s.reveal() for s in secrets if s]
        self._lock = threading.Lock()

    def write(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Append one entry and make it durable; raises JournalError if it is not."""
        line = {"v": VERSION, "at": time.time(), **entry}
        text = json.dumps(self._scrub(line), separators=(",", ":"), default=str) + "\n"
        with self._lock:
            try:
                private_dir(self.path.parent)  # 0700: the journal names hosts and users
                created = not self.path.exists()
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    data = text.encode()
                    if not created and _ends_torn(fd):
                        data = b"\n" + data  # a crash left half a line: do not glue onto it
                    while data:  # a write may take only part of it without an error
                        data = data[os.write(fd, data) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if created:  # the new name must survive a crash too
                    _fsync_dir(self.path.parent)
            except OSError as exc:
                raise JournalError(
                    f"cannot write the action journal {self.path}: {exc.strerror or exc}; "
                    "free some space or fix the directory's permissions (or set "
                    "XDG_STATE_HOME) and try again"
                ) from None
        return line

    def check_writable(self) -> None:
        """Fail early (before a plan is even confirmed) if nothing can be written."""
        self.write({"event": "open", **who()})

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, Secret):
            return REDACTED
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, Mapping):
            return {str(k): self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        return value

    # --- reading --------------------------------------------------------------------------

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every readable entry, oldest first; torn or foreign lines are skipped."""
        try:
            handle = self.path.open(encoding="utf-8", errors="replace")
        except OSError:  # missing, or a path through a regular file: no journal to read
            return
        with handle:
            for raw in handle:
                try:
                    entry = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict) and entry.get("v") == VERSION:
                    yield entry

    def records(self) -> list[ActionRecord]:
        """Each action's lines gathered, in the order the actions started."""
        by_id: dict[str, ActionRecord] = {}
        for entry in self.entries():
            action_id = entry.get("id")
            if not isinstance(action_id, str):
                continue
            record = by_id.get(action_id)
            if record is None:
                if entry.get("event") != "start":
                    continue  # lines of an action whose start was lost: nothing to resume
                record = by_id[action_id] = ActionRecord(action_id, entry)
            record.add(entry)
        return list(by_id.values())

    def unfinished(self) -> list[ActionRecord]:
        """Actions that started and never ended: what a crash or a lost session left."""
        return [r for r in self.records() if r.end is None]


@dataclass
class ActionRecord:
    """One action as the journal tells it."""

    id: str
    start: dict[str, Any]
    entries: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] = field(default_factory=dict)  # step key -> its recorded result
    in_flight: set[str] = field(default_factory=set)  # begun, never done nor failed
    end: dict[str, Any] | None = None

    def add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        event, step = entry.get("event"), entry.get("step")
        if event == "begin" and isinstance(step, str):
            self.in_flight.add(step)
        elif event in ("done", "failed") and isinstance(step, str):
            self.in_flight.discard(step)
            if event == "done":
                self.done[step] = entry.get("result")
        elif event == "end":
            self.end = entry
        elif event == "resume":
            self.end = None  # a resumed action is open again until it ends

    @property
    def action(self) -> str:
        return str(self.start.get("action", "?"))

    @property
    def target(self) -> str:
        return str(self.start.get("target", "?"))

    @property
    def args(self) -> dict[str, Any]:
        args = self.start.get("args")
        return args if isinstance(args, dict) else {}

    @property
    def status(self) -> str:
        return "unfinished" if self.end is None else str(self.end.get("status", "?"))

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.start.get("at", 0)))
        steps = f"{len(self.done)} step(s) done"
        if self.in_flight:
            steps += f", {len(self.in_flight)} in flight"
        return f"{self.action} {self.target} ({started}, {self.status}, {steps})"


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the file itself is synced
    finally:
        os.close(fd)
