"""The few colours the panes use for meaning (good, watch out, bad, note), as rich styles.

Kept free of Textual so rows.py stays importable by the core; cockpit.ui.themes derives a
Palette from the active Textual theme, so verdicts follow the theme instead of fixed names
that vanish on a light background.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Palette:
    ok: str = "green"
    warn: str = "yellow"
    bad: str = "red"
    info: str = "cyan"

    def verdict(self, word: str) -> str:
        """The style for an overcommit verdict (cockpit.alloc.thresholds words)."""
        return {
            "ample": self.ok,
            "safe": self.ok,
            "balanced": self.info,
            "tight": self.warn,
            "over": f"bold {self.bad}",
        }.get(word, "")

    def state(self, state: str) -> str:
        """The style for a source health state."""
        return {"ok": self.ok, "stale": self.warn, "error": f"bold {self.bad}"}.get(state, "dim")


DEFAULT_PALETTE = Palette()
