"""The two one-line summaries under the panes: source health and the overcommit gauge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text

from cockpit.alloc.ledger import Ledger, Ratio, ratio_of
from cockpit.sources.health import Health
from cockpit.ui.palette import DEFAULT_PALETTE, Palette
from cockpit.ui.rows import ratio_text
from cockpit.units import format_gb

SEPARATOR = " │ "
# What the sources say while they fetch for the first time: not a failure yet.
STARTING = frozenset({"still syncing", "not fetched yet"})


def is_starting(h: Health) -> bool:
    return h.state == "error" and h.last_ok is None and h.reason in STARTING


def health_parts(
    health: Mapping[str, Health], now: float, palette: Palette = DEFAULT_PALETTE
) -> list[Text]:
    """One piece per source: `kube ok`, `kube syncing…`, `proxmox stale for 12 s: reason
    (hint)`, `tailscale not configured (? for how)`; the full hint is in the help screen."""
    parts = []
    for name, h in health.items():
        part = Text(f"{name} ", style="bold")
        if is_starting(h):
            part.append("syncing…", style=palette.info)
        elif h.state == "unconfigured":
            part.append("not configured", style="dim")
            part.append(" (? for how)", style="dim")
        else:
            text = h.describe(now)
            if h.state == "error":
                text = f"error: {text}"
            part.append(text, style=palette.state(h.state))
        parts.append(part)
    return parts


def fit_line(parts: Sequence[Text], width: int | None = None) -> Text:
    """The parts joined on one line; when they do not fit in `width`, each keeps a fair
    share (short ones whole, the rest cut with an ellipsis), so one long reason never
    hides the others."""
    cut = list(parts)
    if width is not None and parts:
        room = width - len(SEPARATOR) * (len(parts) - 1)
        if sum(p.cell_len for p in parts) > room:
            shares = [0] * len(parts)
            left = max(room, len(parts))
            order = sorted(range(len(parts)), key=lambda i: parts[i].cell_len)
            for n, i in enumerate(order):
                shares[i] = min(parts[i].cell_len, max(left // (len(parts) - n), 1))
                left -= shares[i]
            cut = []
            for part, share in zip(parts, shares, strict=True):
                part = part.copy()
                part.truncate(share, overflow="ellipsis")
                cut.append(part)
    line = Text(no_wrap=True, overflow="ellipsis")
    for i, part in enumerate(cut):
        if i:
            line.append(SEPARATOR, style="dim")
        line.append_text(part)
    return line


def health_line(
    health: Mapping[str, Health], now: float, palette: Palette = DEFAULT_PALETTE
) -> Text:
    """`kube ok │ proxmox stale for 12 s: reason (hint) │ tailscale not configured …`."""
    return fit_line(health_parts(health, now, palette))


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 12) -> str:
    """The last `width` samples as block characters, scaled to the window's own range (a
    flat line at the bottom when nothing moved)."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    span = high - low
    if span <= 0:
        return SPARKS[0] * len(tail)
    top = len(SPARKS) - 1
    return "".join(SPARKS[round((v - low) / span * top)] for v in tail)


@dataclass(frozen=True, slots=True)
class Layers:
    """One scope's physical capacity and what each layer above it allocates or uses."""

    label: str
    threads: int
    memory: int
    disk: int
    guests: tuple[Ratio, Ratio, Ratio] | None  # vCPU, memory, disk promised to guests
    requests_cpu: Ratio | None  # pod requests and limits against the physical box
    requests_memory: Ratio | None
    limits_memory: Ratio | None
    used_memory: int | None  # pods' actual use (metrics), when there are metrics


def lab_layers(ledger: Ledger) -> Layers:
    t = ledger.totals
    th = ledger.thresholds
    pods = t.pods
    carries = t.guest_vcpus > 0
    return Layers(
        "lab",
        t.threads,
        t.memory,
        t.disk,
        (t.cpu, t.memory_ratio, t.disk_ratio) if carries else None,
        ratio_of("cpu", t.threads, pods.requests_cpu / 1000, th),
        ratio_of("memory", t.memory, pods.requests_memory, th),
        ratio_of("memory", t.memory, pods.limits_memory, th),
        pods.used_memory,
    )


def host_layers(ledger: Ledger, host: str) -> Layers | None:
    h = next((h for h in ledger.hosts if h.host.name == host), None)
    if h is None:
        return None
    r = next((r for r in ledger.rollups if r.host == host), None)
    return Layers(
        host,
        h.host.threads,
        h.host.memory,
        h.host.disk,
        (h.cpu, h.memory, h.disk) if h.guests else None,
        r.requests_cpu if r else None,
        r.requests_memory if r else None,
        r.limits_memory if r else None,
        r.sums.used_memory if r else None,
    )


def gauge_line(
    layers: Layers | None,
    palette: Palette = DEFAULT_PALETTE,
    history: Sequence[float] = (),
    compact: bool = False,
) -> Text:
    """`overcommit pve 4 thr 15.41 GB │ guests cpu 5.00x safe … │ requests cpu … │ limits … │
    used …`: each layer's overcommit against the physical box, coloured by its verdict."""
    if layers is None:
        return Text("overcommit: waiting for data", style="dim")
    # One line, never wrapped: a second line would push the panes up and down.
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"overcommit {layers.label}", style="bold")
    if not compact:  # an 80-column terminal gets the ratios only, on one line
        # Threads and memory: what the ratios divide by (the disk's is in its ratio).
        if layers.threads or layers.memory:
            line.append(f" {layers.threads} thr {format_gb(layers.memory)}")
        else:  # nothing reported the hardware (a powered-off node, no Proxmox): unknown
            line.append(" hardware n/a")

    def part(title: str, pieces: Sequence[tuple[str, Ratio | None]]) -> None:
        shown = [(name, r) for name, r in pieces if r is not None]
        if not shown:
            return
        line.append(" │ " if not compact else " ", style="dim")
        line.append(title, style="bold")
        for name, r in shown:
            line.append(f" {name} " if name else " ")
            line.append_text(ratio_text(r, palette))  # type: ignore[arg-type]

    if layers.guests is not None:
        cpu, memory, disk = layers.guests
        part("guests", (("cpu", cpu), ("mem", memory), ("disk", disk)))
    part("requests", (("cpu", layers.requests_cpu), ("mem", layers.requests_memory)))
    if compact:
        return line
    part("limits", (("mem", layers.limits_memory),))
    if layers.used_memory is not None:
        line.append(" │ ", style="dim")
        line.append("used", style="bold")
        share = layers.used_memory / layers.memory if layers.memory else 0.0
        line.append(f" mem {format_gb(layers.used_memory)} ({share:.0%})")
        if len(history) > 1:
            line.append(f" {sparkline(history)}", style=palette.info)
    return line
