"""The app as its screens see it: what they may read (Host) and what they may ask for
(messages the app handles).

Screens never import cockpit.ui.app. They read through the Host protocol and post one of
the messages below; the message bubbles from the screen to the app, which acts on it. So a
new screen needs nothing from the app's module, and the app stays the one place that knows
every screen (as in Harlequin and Toolong).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

from textual.dom import DOMNode
from textual.message import Message

from cockpit.model import Snapshot
from cockpit.relations import Kind, Relations, Selection
from cockpit.topology import Links
from cockpit.triage.timeline import Entry
from cockpit.ui.palette import Palette
from cockpit.ui.themes import ThemeSet

# (where it came from, the document), as cockpit.detail.raw returns it.
RawObject = tuple[str, Any]


class Host(Protocol):
    """What a screen reads from the app."""

    @property
    def snapshot(self) -> Snapshot: ...
    @property
    def relations(self) -> Relations | None: ...
    @property
    def links(self) -> Links: ...
    @property
    def readonly(self) -> bool: ...
    @property
    def theme_set(self) -> ThemeSet: ...
    @property
    def palette(self) -> Palette: ...
    def now(self) -> float: ...
    def timeline(self) -> list[Entry]: ...

    def relatives(self, selection: Selection) -> dict[str, set[str]]:
        """Per pane, the row keys related to (kind, key), as the panes mark them."""
        ...

    def clock(self) -> float:
        """The sources' clock (unix seconds) that ages are measured against."""
        ...


def host_of(node: DOMNode) -> Host:
    """The app behind a screen or widget, seen through Host."""
    return cast(Host, node.app)


class SelectObject(Message):
    """Put the pane cursor on this object (leaving any detail view)."""

    def __init__(self, kind: Kind, key: str) -> None:
        super().__init__()
        self.kind = kind
        self.key = key


class RunCommand(Message):
    """Run one `:` command line, as if typed."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class StartAction(Message):
    """Plan an action (then confirm and run it), e.g. ("drain", {"node": "worker-1"})."""

    def __init__(self, name: str, args: dict[str, Any]) -> None:
        super().__init__()
        self.name = name
        self.args = args


class FetchRaw(Message):
    """Fetch an object as its source has it (off the UI thread); `reply` is called on the
    UI thread with the result."""

    def __init__(self, kind: Kind, key: str, reply: Callable[[RawObject], None]) -> None:
        super().__init__()
        self.kind = kind
        self.key = key
        self.reply = reply


class FetchLog(Message):
    """Fetch a container's log (off the UI thread); `reply` is called on the UI thread with
    the text, or with an error message and ok=False."""

    def __init__(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        previous: bool,
        reply: Callable[[str, bool], None],
    ) -> None:
        super().__init__()
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.previous = previous
        self.reply = reply
