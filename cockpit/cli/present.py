"""Rich tables for the plan and what-if reports, as printed by the CLI.

The layout of the host table follows seed 000's own table (resource, physical, allocated,
ratio, verdict) because that is how homelab operators already reason about overcommit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cockpit.alloc.ledger import Ledger, Ratio
from cockpit.alloc.risks import Risk
from cockpit.alloc.whatif import WhatIfReport
from cockpit.cli.common import plain_row
from cockpit.labfile import Lab
from cockpit.units import format_cpu, format_gb, format_ratio

VERDICT_STYLE = {
    "ample": "green",
    "safe": "green",
    "balanced": "cyan",
    "tight": "yellow",
    "over": "bold red",
}
LEVEL_STYLE = {"ok": "green", "caution": "yellow", "warning": "dark_orange", "critical": "bold red"}
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def verdict(word: str | None) -> Text:
    return Text(word or "n/a", style=VERDICT_STYLE.get(word or "", "dim"))


def level(word: str | None) -> Text:
    return Text(word or "-", style=LEVEL_STYLE.get(word or "", "dim"))


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _ratio_cells(r: Ratio, physical: str, allocated: str) -> list[RenderableType]:
    return [physical, allocated, format_ratio(r.ratio), verdict(r.verdict)]


def host_table(ledger: Ledger) -> Table:
    table = Table(
        title="Physical hosts: hardware vs what the guests are given", title_justify="left"
    )
    for name in ("Host", "Resource", "Physical", "Allocated", "Ratio", "Verdict"):
        table.add_column(
            name, justify="right" if name in ("Physical", "Allocated", "Ratio") else "left"
        )
    for h in ledger.hosts:
        if not h.guests:
            continue
        rows = [
            ("CPU", _ratio_cells(h.cpu, f"{h.host.threads} threads", f"{h.cpu.allocated} vCPU")),
            (
                "Memory",
                _ratio_cells(h.memory, format_gb(h.memory.physical), format_gb(h.memory.allocated)),
            ),
            (
                "Memory (balloon min)",
                _ratio_cells(
                    h.memory_min,
                    format_gb(h.memory_min.physical),
                    format_gb(h.memory_min.allocated),
                ),
            ),
            (
                "Disk",
                _ratio_cells(h.disk, format_gb(h.disk.physical, 0), format_gb(h.disk.allocated, 0)),
            ),
        ]
        if h.memory_min.allocated == h.memory.allocated:
            del rows[2]  # no guest balloons: the floor row would repeat the memory row
        for i, (resource, cells) in enumerate(rows):
            label = f"{h.host.name} ({h.running}/{h.guests} running)" if i == 0 else ""
            plain_row(table, label, resource, *cells, end_section=i == len(rows) - 1)
    return table


def node_table(ledger: Ledger) -> Table:
    table = Table(title="Kubernetes nodes: pods vs allocatable", title_justify="left")
    for name in (
        "Node",
        "Host",
        "Pods",
        "CPU requests",
        "Mem requests",
        "Mem limits",
        "Normal",
        "Peak (all at once)",
        "Level",
    ):
        table.add_column(name, justify="left" if name in ("Node", "Host", "Level") else "right")
    for n in ledger.nodes:
        s = n.sums
        name = Text(n.name)
        if not n.ready:
            name.append(" NotReady", style="red")
        if n.unschedulable:
            name.append(" cordoned", style="yellow")
        plain_row(
            table,
            name,
            n.host or "?",
            f"{s.pods}/{n.allocatable_pods}",
            f"{format_cpu(s.requests_cpu)}/{format_cpu(n.allocatable_cpu)} "
            f"({pct(n.requests_cpu_percent)})",
            f"{format_gb(s.requests_memory)}/{format_gb(n.allocatable_memory)} "
            f"({pct(n.requests_memory_percent)})",
            f"{format_gb(s.limits_memory)} ({format_ratio(n.limits_memory.ratio)})",
            format_gb(s.normal_memory),
            f"{format_gb(s.peak_memory)} ({pct(n.peak_memory_percent)})",
            level(n.peak_memory_level),
        )
    return table


def rollup_table(ledger: Ledger) -> Table:
    table = Table(
        title="Per physical host, all layers: pods on its VMs vs the real box", title_justify="left"
    )
    for name in (
        "Host",
        "Nodes",
        "CPU requests",
        "Mem requests",
        "Mem limits",
        "Peak memory",
        "Level",
    ):
        table.add_column(name, justify="left" if name in ("Host", "Nodes", "Level") else "right")
    for r in ledger.rollups:
        plain_row(
            table,
            r.host,
            ", ".join(r.nodes),
            f"{r.requests_cpu.allocated:.1f} of {r.threads} threads "
            f"({format_ratio(r.requests_cpu.ratio)})",
            f"{format_gb(r.sums.requests_memory)} of {format_gb(r.memory)} "
            f"({format_ratio(r.requests_memory.ratio)})",
            f"{format_gb(r.sums.limits_memory)} ({format_ratio(r.limits_memory.ratio)})",
            f"{format_gb(r.sums.peak_memory)} ({format_ratio(r.peak_memory.ratio)})",
            level(r.peak_memory_level),
        )
    return table


def risk_table(risks: list[Risk]) -> RenderableType:
    if not risks:
        return Text("No risks found.", style="green")
    table = Table(title=f"Risks ({len(risks)})", title_justify="left")
    for name in ("Severity", "Subject", "Risk", "Fix"):
        table.add_column(name, overflow="fold")
    for r in risks:
        plain_row(
            table,
            Text(r.severity, style=SEVERITY_STYLE[r.severity]),
            r.subject,
            r.message,
            Text(r.fix, style="dim"),
        )
    return table


def plan_view(lab: Lab, ledger: Ledger, risks: list[Risk]) -> Group:
    parts: list[RenderableType] = [
        Text.assemble((lab.name, "bold"), "  ", (lab.description, "dim")),
        host_table(ledger),
        node_table(ledger),
    ]
    if ledger.rollups:
        parts.append(rollup_table(ledger))
    if ledger.unbacked_nodes:
        parts.append(
            Text(
                f"Nodes with no known physical host: {', '.join(ledger.unbacked_nodes)}",
                style="yellow",
            )
        )
    parts.append(risk_table(risks))
    return Group(*parts)


def _move_rows(report: WhatIfReport) -> Iterator[list[RenderableType]]:
    for m in sorted(report.moves, key=lambda m: (-m.pod.priority, m.target is None, m.pod.name)):
        where = Text(m.target, style="green") if m.target else Text("Pending", style="bold red")
        why = m.reason or ""
        if m.note:
            why = f"{why} ({m.note})" if why else m.note
        yield [
            f"{m.pod.namespace}/{m.pod.name}",
            m.pod.priority_class or str(m.pod.priority),
            format_gb(m.pod.requests.memory or 0),
            m.source,
            where,
            Text(why, style="dim"),
        ]


def whatif_view(lab: Lab, report: WhatIfReport) -> Group:
    parts: list[RenderableType] = [
        Text.assemble(
            ("What if ", "bold"), (report.scenario.describe(), "bold"), (f"?  ({lab.name})", "dim")
        )
    ]
    affected = ", ".join(report.affected_nodes) or "none"
    parts.append(Text(f"Affected nodes: {affected}"))
    for note in report.notes:
        loud = report.control_plane_down and "control-plane" in note
        parts.append(Text(f"note: {note}", style="bold red" if loud else "dim"))

    moves = Table(title="Displaced pods", title_justify="left")
    for name in ("Pod", "Priority", "Mem request", "From", "To", "Why"):
        moves.add_column(name, overflow="fold")
    for row in _move_rows(report):
        plain_row(moves, *row)
    parts.append(moves if report.moves else Text("No pod needs a new home."))

    if report.preempted:
        pre = Table(title="Preempted to make room", title_justify="left")
        for name in ("Pod", "Priority", "On node", "For"):
            pre.add_column(name)
        for p in report.preempted:
            plain_row(
                pre,
                f"{p.victim.namespace}/{p.victim.name}",
                p.victim.priority_class,
                p.node,
                f"{p.by.namespace}/{p.by.name}",
            )
        parts.append(pre)
    if report.blocked:
        blocked = Table(
            title="Blocked: a PodDisruptionBudget allows no disruption, the drain never ends",
            title_justify="left",
            title_style="bold red",
        )
        blocked.add_column("Pod")
        blocked.add_column("PDB")
        for pod, ref in report.blocked:
            plain_row(blocked, f"{pod.namespace}/{pod.name}", ref)
        parts.append(blocked)
    for title, rows in (("Not moved", report.stays), ("Not recreated elsewhere", report.lost)):
        if rows:
            parts.append(_pod_reason_table(title, rows))

    nodes = Table(title="Nodes after", title_justify="left")
    for name in ("Node", "CPU requests", "Mem requests", "Peak memory", "Level"):
        nodes.add_column(name, justify="left" if name in ("Node", "Level") else "right")
    for n in report.nodes:
        if n.lost:
            gone = "cordoned" if report.scenario.kind == "drain" else "gone"
            plain_row(nodes, Text(f"{n.name} ({gone})", style="dim"), "-", "-", "-", level(None))
            continue
        plain_row(
            nodes,
            n.name,
            f"{format_cpu(n.requests_cpu_before)} -> {format_cpu(n.requests_cpu_after)}"
            f" of {format_cpu(n.allocatable_cpu)}",
            f"{format_gb(n.requests_memory_before)} -> {format_gb(n.requests_memory_after)}"
            f" of {format_gb(n.allocatable_memory)} ({pct(n.requests_memory_percent)})",
            f"{format_gb(n.peak_memory_after)} ({pct(n.peak_memory_percent)})",
            level(n.peak_memory_level),
        )
    parts.append(nodes)

    broken = [p for p in report.pdbs if p.disrupted or p.violated]
    if broken:
        pdbs = Table(title="PodDisruptionBudgets", title_justify="left")
        for name in ("PDB", "Desired healthy", "Before", "During", "After", "Verdict"):
            pdbs.add_column(name)
        for p in broken:
            word = ("violated", "bold red") if p.violated else ("waits for replacements", "yellow")
            plain_row(
                pdbs,
                f"{p.namespace}/{p.name}",
                str(p.desired_healthy),
                str(p.healthy_before),
                str(p.healthy_during),
                str(p.healthy_after),
                Text(*word),
            )
        parts.append(pdbs)

    down = [w for w in report.workloads if w.outage or w.stays_down]
    if down:
        out = Table(title="Workloads that lose every ready replica", title_justify="left")
        for name in ("Workload", "Ready before", "During", "After", "Outcome"):
            out.add_column(name)
        for w in sorted(down, key=lambda w: (not w.stays_down, w.ref)):
            outcome = (
                Text("down until capacity returns", style="bold red")
                if w.stays_down
                else Text("down until recreated", style="yellow")
            )
            plain_row(
                out, w.ref, str(w.ready_before), str(w.ready_during), str(w.ready_after), outcome
            )
        parts.append(out)
    parts.append(Text(summary(report), style="bold"))
    return Group(*parts)


def _pod_reason_table(title: str, rows: Iterable[tuple]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("Pod")
    table.add_column("Why")
    for pod, why in rows:
        plain_row(table, f"{pod.namespace}/{pod.name}", why)
    return table


def summary(report: WhatIfReport) -> str:
    placed, pending = len(report.placed), len(report.pending)
    text = f"{placed} pod(s) re-placed, {pending} Pending, {len(report.preempted)} preempted"
    stays_down = [w.ref for w in report.workloads if w.stays_down]
    if stays_down:
        text += f"; stays down: {', '.join(stays_down)}"
    violated = [f"{p.namespace}/{p.name}" for p in report.violated_pdbs]
    if violated:
        text += f"; PDBs violated: {', '.join(violated)}"
    crashes = [m for m in report.placed if "exec format error" in m.note]
    if crashes:
        text += f"; {len(crashes)} will crash on a node of the wrong arch (exec format error)"
    if report.control_plane_down:
        text += "; the control plane is down: nothing is rescheduled until it returns"
    if report.blocked:
        refs = sorted({ref for _, ref in report.blocked})
        text += (
            f"; the drain blocks: {len(report.blocked)} pod(s) stay, held by "
            f"PodDisruptionBudget {', '.join(refs)}"
        )
    return text + "."
