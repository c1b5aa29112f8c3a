"""The two one-line summaries under the panes: source health and the overcommit gauge."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text

from cockpit.alloc.ledger import Ledger, Ratio
from cockpit.sources.health import Health
from cockpit.ui.palette import DEFAULT_PALETTE, Palette
from cockpit.ui.rows import ratio_text


def health_line(
    health: Mapping[str, Health], now: float, palette: Palette = DEFAULT_PALETTE
) -> Text:
    """`kube ok │ proxmox stale for 12 s: reason (hint) │ tailscale not configured: hint`."""
    line = Text()
    for i, (name, h) in enumerate(health.items()):
        if i:
            line.append(" │ ", style="dim")
        line.append(f"{name} ", style="bold")
        text = h.describe(now)
        if h.state == "error":
            text = f"error: {text}"
        line.append(text, style=palette.state(h.state))
    return line


def gauge_line(
    ledger: Ledger | None, host: str | None = None, palette: Palette = DEFAULT_PALETTE
) -> Text:
    """The selected host's overcommit when one is selected and carries guests, else the
    totals over every Proxmox host."""
    if ledger is None:
        return Text("overcommit: waiting for data", style="dim")
    ratios: tuple[Ratio, Ratio, Ratio]
    h = next((h for h in ledger.hosts if h.host.name == host and h.guests), None)
    if h is not None:
        label, ratios = f"overcommit {h.host.name}", (h.cpu, h.memory, h.disk)
    else:
        t = ledger.totals
        label, ratios = "overcommit all hosts", (t.cpu, t.memory_ratio, t.disk_ratio)
    line = Text(f"{label}: ", style="bold")
    for i, (name, r) in enumerate(zip(("vCPU", "memory", "disk"), ratios, strict=True)):
        if i:
            line.append(" · ", style="dim")
        line.append(f"{name} ")
        line.append_text(ratio_text(r, palette))
    return line
