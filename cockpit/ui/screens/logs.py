"""A pod's log (`l` on a pod): the last lines of a container, followed while the view is open.

f follows (on by default: new lines every 2 s), P shows the container that ran before the
last restart (what a CrashLoopBackOff pod said before it died), c cycles the containers,
/ keeps only the lines that contain a text, escape clears the search, then comes back.
Lines go to a Log widget as plain text: a log line is never read as markup."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input, Log, Static

from cockpit.model import Pod
from cockpit.ui.host import FetchLog
from cockpit.ui.screens.text_filter import TextFilter

FOLLOW_EVERY = 2.0


class LogsScreen(TextFilter, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("f", "follow", "Follow"),
        Binding("P", "previous", "Previous container"),
        Binding("c", "container", "Next container"),
        Binding("slash", "filter", "Search"),
    ]
    DEFAULT_CSS = """
    LogsScreen #title { height: 1; padding: 0 1; }
    LogsScreen Log { height: 1fr; }
    LogsScreen #filter { display: none; }
    LogsScreen #filter.shown { display: block; }
    """

    def __init__(self, pod: Pod) -> None:
        super().__init__()
        self.pod = pod
        self.containers = [c.name for c in pod.containers] or [""]
        self.container = 0
        self.previous = False
        self.following = True
        self.text = ""
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Input(placeholder="show only lines with…; escape clears", id="filter")
        yield Log(id="log", highlight=False)
        yield Footer()

    def on_mount(self) -> None:
        self.fetch()
        self.set_interval(FOLLOW_EVERY, self._tick)
        self.query_one(Log).focus()

    def _tick(self) -> None:
        if self.following and not self.previous:
            self.fetch()

    def fetch(self) -> None:
        container = self.containers[self.container] or None
        self.post_message(
            FetchLog(self.pod.namespace, self.pod.name, container, self.previous, self._got)
        )

    def _got(self, text: str, ok: bool) -> None:
        if not ok:
            self.error = text
            self._title()
            return
        self.error = ""
        if text != self.text:
            self.text = text
            self.draw()
        self._title()

    def lines(self) -> list[str]:
        lines = self.text.splitlines()
        if self.needle:
            lines = [line for line in lines if self.needle.lower() in line.lower()]
        return lines

    def draw(self) -> None:
        log = self.query_one(Log)
        at_end = log.is_vertical_scroll_end
        log.clear()
        log.write_lines(self.lines(), scroll_end=at_end or self.following)

    def _title(self) -> None:
        container = self.containers[self.container]
        words = [f"logs of {self.pod.namespace}/{self.pod.name}"]
        if container:
            words.append(f"container {container}")
        if self.previous:
            words.append("PREVIOUS (before the last restart)")
        words.append("following" if self.following and not self.previous else "paused")
        if self.needle:
            words.append(f"lines with {self.needle!r}: {len(self.lines())}")
        if self.error:
            words.append(f"cannot read it: {self.error}")
        self.query_one("#title", Static).update(" · ".join(words))

    # --- keys ------------------------------------------------------------------------------

    def action_follow(self) -> None:
        self.following = not self.following
        self._title()

    def action_previous(self) -> None:
        self.previous = not self.previous
        self.text = ""
        self.fetch()

    def action_container(self) -> None:
        self.container = (self.container + 1) % len(self.containers)
        self.text = ""
        self.fetch()

    def filtered_widget(self) -> Log:
        return self.query_one(Log)

    def refilter(self) -> None:
        self.draw()
        self._title()

    def action_back(self) -> None:
        if not self.clear_filter():
            self.app.pop_screen()
