"""How each source is doing, in words an operator can act on.

Adapters raise SourceError with what is wrong and how to fix it; whoever polls them turns
that into a Health. A source that was fine and then fails is "stale" (its last data is
still shown, marked with its age) rather than blanked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "not_found": the software itself is not there (Tailscale not installed), which is a fact
# about this machine, not a failure.
State = Literal["ok", "stale", "error", "unconfigured", "not_found"]


class SourceError(Exception):
    """A source failure: `reason` says what happened, `hint` how to fix it; `status` is the
    HTTP status when there was one, and `message` the server's own words (an action retries
    a 429 and shows the PDB the API server names)."""

    def __init__(
        self, reason: str, hint: str = "", status: int | None = None, message: str = ""
    ) -> None:
        super().__init__(f"{reason}; {hint}" if hint else reason)
        self.reason = reason
        self.hint = hint
        self.status = status
        self.message = message


class NotFound(SourceError):
    """The source is not installed here (no socket, no command): "not found", not an error."""


class ReadOnlyError(SourceError):
    """A write was asked of a source opened read-only."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"refused: {what} (the cockpit is in read-only mode)",
            "drop --readonly (or [ui] readonly in the config) to allow changes",
        )


@dataclass(frozen=True, slots=True)
class Health:
    source: str  # "kube", "proxmox", "tailscale"
    state: State
    reason: str = ""
    hint: str = ""
    last_ok: float | None = None  # unix time of the last good answer
    since: float | None = None  # unix time the current state began
    # What is wrong while the source is otherwise current, e.g. "2 pods unreadable (...)":
    # the rest of its data is live, the objects it names are missing from it.
    note: str = ""

    @staticmethod
    def ok(source: str, now: float) -> Health:
        return Health(source, "ok", last_ok=now, since=now)

    @staticmethod
    def unconfigured(source: str, hint: str) -> Health:
        return Health(source, "unconfigured", "not configured", hint)

    def failed(self, error: SourceError, now: float) -> Health:
        """The health after a failed poll: stale if we have data from before, else error."""
        state: State = "stale" if self.last_ok is not None else "error"
        if state == "error" and isinstance(error, NotFound):
            state = "not_found"
        # "not fetched yet" has no `since`: the first failure is when this state began.
        since = self.since if self.state == state and self.since is not None else now
        return Health(self.source, state, error.reason, error.hint, self.last_ok, since)

    def describe(self, now: float) -> str:
        if self.state == "ok":
            return f"ok; {self.note}" if self.note else "ok"
        if self.state == "unconfigured":
            return f"not configured: {self.hint}"
        if self.state == "not_found":
            return f"not found: {self.reason} ({self.hint})"
        text = f"{self.reason}"
        if self.note:
            text = f"{text}; {self.note}"
        if self.state == "stale" and self.last_ok is not None:
            text = f"stale for {int(now - self.last_ok)} s: {text}"
        return f"{text} ({self.hint})" if self.hint else text
