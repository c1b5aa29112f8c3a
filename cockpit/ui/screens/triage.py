"""The Triage view (`t`, `:triage`): incidents ranked, each expandable to its cause chain,
its symptoms, what it took down and its fixes; then the standing risks.

enter on a symptom (or an incident's root) jumps to the object in its pane; a digit runs
that fix of the incident under the cursor through the action framework (plan, confirm,
journal); escape comes back. The view follows the live triage: it rebuilds itself when
the app says a new result is in, keeping the cursor on the same line where it can."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static, Tree
from textual.widgets.tree import TreeNode

from cockpit.triage.finding import Finding
from cockpit.triage.incidents import Fix, Incident
from cockpit.ui.host import RunCommand, SelectObject, host_of
from cockpit.ui.incident_strip import MAX_FIXES, Triage, fix_labels, severity_style
from cockpit.ui.targets import command_line, pane_of


def _affected_words(incident: Incident) -> str:
    a = incident.affected
    parts = [
        f"{n} {word}"
        for n, word in (
            (a.hosts, "host(s)"),
            (a.guests, "guest(s)"),
            (a.nodes, "node(s)"),
            (a.pods, "pod(s) down"),
            (a.workloads_down, "workload(s) with nothing ready"),
        )
        if n
    ]
    if a.dns_pods:
        parts.append(f"{a.dns_pods} pod(s) without cluster DNS")
    if a.by_priority:
        classes = ", ".join(f"{k or 'no class'} {v}" for k, v in a.by_priority.items())
        parts.append(f"by priority class: {classes}")
    return "; ".join(parts) or "nothing down yet"


class TriageScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        *(Binding(str(n), f"fix({n})", f"Fix {n}", show=n <= 3) for n in range(1, MAX_FIXES + 1)),
        Binding("e", "expand_all", "Expand all", show=False),
    ]
    DEFAULT_CSS = """
    TriageScreen #summary { height: auto; padding: 0 1; }
    TriageScreen Tree { height: 1fr; }
    """

    def __init__(self, triage: Triage) -> None:
        super().__init__()
        self.triage = triage

    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        yield Tree("triage", id="incidents")
        yield Footer()

    def on_mount(self) -> None:
        tree = self.query_one(Tree)
        tree.show_root = False
        self.show(self.triage)
        tree.focus()

    # --- drawing ---------------------------------------------------------------------------

    def show(self, triage: Triage) -> None:
        self.triage = triage
        palette = host_of(self).palette
        counts = triage.counts()
        summary = Text("Triage: ", style="bold")
        if triage.incidents:
            summary.append(
                f"{len(triage.incidents)} incident(s): {counts['critical']} critical, "
                f"{counts['warning']} warning; "
            )
        else:
            summary.append("no incident; ", style=palette.ok)
        live = [f for f in triage.findings if not f.risk]
        summary.append(f"{len(live)} finding(s), {len(triage.risks)} standing risk(s)")
        summary.append("   enter: go to   1-9: fix   escape: back", style="dim")
        self.query_one("#summary", Static).update(summary)
        tree: Tree[Any] = self.query_one(Tree)
        cursor = tree.cursor_node.data if tree.cursor_node is not None else None
        expanded = {
            id(n.data): True for n in _walk(tree.root) if n.is_expanded and n.data is not None
        }
        tree.clear()
        for rank, incident in enumerate(triage.incidents):
            label = Text()
            label.append(
                f" {incident.severity.upper()} ", style=severity_style(incident.severity, palette)
            )
            label.append(" ")
            label.append(Text(incident.title))
            node = tree.root.add(label, data=incident, expand=rank == 0)
            for note in incident.notes:
                node.add_leaf(Text(note, style="bold"), data=None)
            node.add_leaf(Text(f"cause: {incident.root.text}"), data=incident.root)
            node.add_leaf(Text("affected: " + _affected_words(incident), style="dim"), data=None)
            if incident.fixes:
                node.add_leaf(fix_labels(incident.fixes), data=None)
            if incident.symptoms:
                symptoms = node.add(
                    Text(f"symptoms ({len(incident.symptoms)})"), data=None, expand=rank == 0
                )
                for finding in incident.symptoms:
                    symptoms.add_leaf(_finding_label(finding, palette), data=finding)
        if triage.risks:
            risks = tree.root.add(
                Text(f"standing risks ({len(triage.risks)})", style="bold"), data=None
            )
            for finding in triage.risks:
                risks.add_leaf(_finding_label(finding, palette), data=finding)
        for node in _walk(tree.root):
            if node.data is not None and expanded.get(id(node.data)):
                node.expand()
            if cursor is not None and node.data is cursor:
                tree.move_cursor(node)

    # --- keys ----------------------------------------------------------------------------

    def _incident_at_cursor(self) -> Incident | None:
        node = self.query_one(Tree).cursor_node
        while node is not None:
            if isinstance(node.data, Incident):
                return node.data
            node = node.parent
        return self.triage.top

    def on_tree_node_selected(self, event: Tree.NodeSelected[Any]) -> None:
        """enter: a finding jumps to its object; anything else opens or closes (the Tree)."""
        if isinstance(event.node.data, Finding):
            self.jump(event.node.data)

    def jump(self, data: Finding) -> None:
        target = pane_of(data.obj, host_of(self).snapshot)
        if target is None:
            self.notify(f"{data.obj.ref} has no row in the panes", severity="warning")
            return
        self.post_message(SelectObject(*target))

    def action_fix(self, number: int) -> None:
        incident = self._incident_at_cursor()
        if incident is None or number > len(incident.fixes):
            self.notify(f"no fix {number} here", severity="warning")
            return
        fix: Fix = incident.fixes[number - 1]
        line = command_line(fix)
        if line is None:
            self.notify(f"run it in a shell: {fix.command}", title=fix.title, timeout=15)
            return
        self.post_message(RunCommand(line))

    def action_expand_all(self) -> None:
        self.query_one(Tree).root.expand_all()

    def action_back(self) -> None:
        self.app.pop_screen()


def _finding_label(finding: Finding, palette: Any) -> Text:
    label = Text()
    label.append(f"{finding.severity:<8} ", style=severity_style(finding.severity, palette))
    label.append(f"{finding.code:<24} ", style="dim")
    label.append(Text(finding.text))
    return label


def _walk(node: TreeNode[Any]) -> list[TreeNode[Any]]:
    out = []
    for child in node.children:
        out.append(child)
        out.extend(_walk(child))
    return out
