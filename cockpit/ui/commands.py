"""The `:` command line and the command palette: one table of commands, completed from what
is in the lab right now (node names, namespaces, themes, VMIDs).

`:pods worker-1` jumps to the pods pane filtered by worker-1, `:theme light` switches the
theme, `:drain worker-1` plans a drain. The palette (ctrl+p) offers the same commands with
their arguments filled in, so nothing is reachable from only one of the two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.suggester import Suggester

from cockpit.ui.host import Host, RunCommand, host_of

# What an argument is completed from.
Source = Callable[[Host], Iterable[str]]


def _nodes(app: Host) -> list[str]:
    return sorted(n.name for n in app.snapshot.nodes)


def _namespaces(app: Host) -> list[str]:
    return sorted({p.namespace for p in app.snapshot.pods})


def _groupings(_: Host) -> list[str]:
    return ["node", "namespace", "none"]


def _power(_: Host) -> list[str]:
    return ["start", "shutdown", "stop", "reboot"]


def _pane_words(app: Host) -> list[str]:
    return _nodes(app) + _namespaces(app)


def _pods(app: Host) -> list[str]:
    return sorted(f"{p.namespace}/{p.name}" for p in app.snapshot.pods)


def _themes(app: Host) -> list[str]:
    return list(app.theme_set.names)


def _vmids(app: Host) -> list[str]:
    return sorted(str(g.vmid) for g in app.snapshot.guests)


def _workloads(app: Host) -> list[str]:
    return sorted(f"{w.namespace}/{w.kind.lower()}/{w.name}" for w in app.snapshot.workloads)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    args: Source | None = None  # completion for the first argument
    mutating: bool = False  # hidden in read-only mode

    def usage(self) -> str:
        return f":{self.name}" + (" …" if self.args else "")


COMMANDS: tuple[Command, ...] = (
    Command("hosts", "show the hosts pane (optionally filtered)", _pane_words),
    Command("guests", "show the guests pane (optionally filtered)", _pane_words),
    Command("peers", "show the peers pane (optionally filtered)", _pane_words),
    Command("nodes", "show the nodes pane (optionally filtered)", _pane_words),
    Command("pods", "show the pods pane, filtered by a node or namespace", _pane_words),
    Command("group", "group the pods by node, namespace, or none", _groupings),
    Command("related", "show only rows related to the selection (toggle)"),
    Command("theme", "switch the colour theme", _themes),
    Command("journal", "show the action journal"),
    Command("help", "show every key and command"),
    Command("triage", "incidents ranked, causes before symptoms, with their fixes"),
    Command("timeline", "events, tasks, peers and the journal, newest first", _pane_words),
    Command("logs", "the log of a pod (NS/NAME)", _pods),
    Command("quit", "leave the cockpit"),
    Command("drain", "plan and drain a node", _nodes, mutating=True),
    Command("replace", "replace a node with a new machine (guided runbook)", _nodes, mutating=True),
    Command("cordon", "mark a node unschedulable", _nodes, mutating=True),
    Command("uncordon", "mark a node schedulable again", _nodes, mutating=True),
    Command("restart", "rollout-restart a workload (default CoreDNS)", _workloads, mutating=True),
    Command("scale-ha", "scale kube-system's deployments for HA", mutating=True),
    Command("scale", "scale a workload: NS/KIND/NAME REPLICAS", _workloads, mutating=True),
    Command("guest", "power a guest: start|shutdown|stop|reboot VMID", _power, mutating=True),
    Command("resume", "resume an interrupted action from the journal", mutating=True),
)  # fmt: skip
BY_NAME = {c.name: c for c in COMMANDS}
ALIASES = {"q": "quit", "ns": "pods", "node": "nodes", "pod": "pods", "host": "hosts"}


def available(app: Host) -> list[Command]:
    return [c for c in COMMANDS if not (c.mutating and app.readonly)]


def parse(text: str) -> tuple[str, list[str]]:
    words = text.strip().removeprefix(":").split()
    if not words:
        return "", []
    name = ALIASES.get(words[0], words[0])
    return name, words[1:]


def complete(app: Host, text: str) -> str | None:
    """The whole line completed, or None: the first word from the commands, the second
    from what the command acts on."""
    words = text.removeprefix(":").split(" ")
    if len(words) == 1:
        candidates = [c.name for c in available(app)]
        prefix = words[0]
        match = next((c for c in candidates if c.startswith(prefix) and c != prefix), None)
        return None if match is None else ":" * text.startswith(":") + match
    command = BY_NAME.get(ALIASES.get(words[0], words[0]))
    if command is None or command.args is None or len(words) != 2:
        return None
    prefix = words[1]
    match = next((a for a in command.args(app) if a.startswith(prefix) and a != prefix), None)
    if match is None:
        return None
    return text[: len(text) - len(prefix)] + match


def completions(app: Host, text: str) -> list[str]:
    """Every whole line `text` can complete to, for tab to cycle through: command names
    (with the space after them) while the first word is typed, then what that command
    acts on. An empty line lists every command."""
    colon = ":" * text.startswith(":")
    words = text.removeprefix(":").split(" ")
    if len(words) == 1:
        prefix = words[0]
        return [f"{colon}{c.name} " for c in available(app) if c.name.startswith(prefix)]
    command = BY_NAME.get(ALIASES.get(words[0], words[0]))
    if command is None or command.args is None or len(words) != 2:
        return []
    prefix = words[1]
    head = text[: len(text) - len(prefix)]
    return [head + a for a in command.args(app) if a.startswith(prefix)]


class CommandSuggester(Suggester):
    """Inline completion for the `:` box (right arrow or tab takes it)."""

    def __init__(self, app: Host) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.cockpit = app

    async def get_suggestion(self, value: str) -> str | None:
        return complete(self.cockpit, value)


class CockpitCommands(Provider):
    """The same commands in Textual's command palette, with arguments filled in."""

    def _lines(self) -> list[tuple[str, str]]:
        app = host_of(self.app)
        lines: list[tuple[str, str]] = []
        for command in available(app):
            if command.args is None or command.name in ("hosts", "guests", "peers", "nodes"):
                lines.append((command.name, command.help))
            else:
                lines.extend((f"{command.name} {arg}", command.help) for arg in command.args(app))
        return lines

    async def discover(self) -> Hits:
        for line, help_text in self._lines():
            if " " not in line:
                yield DiscoveryHit(f":{line}", partial(self._run, line), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for line, help_text in self._lines():
            score = matcher.match(f":{line}")
            if score > 0:
                yield Hit(
                    score, matcher.highlight(f":{line}"), partial(self._run, line), help=help_text
                )

    def _run(self, line: str) -> None:
        self.app.post_message(RunCommand(line))
