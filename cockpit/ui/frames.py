"""Live data reaches the screen at most once per frame, and only what changed is redrawn.

The inventory publishes from its own thread, as often as watch events arrive (every few tens
of milliseconds under load). Handing each publish to the screen and waiting for it to be
drawn would make the publisher as slow as the screen, and drawing each one would spend the
terminal's bandwidth on frames nobody can see. So a publish is only parked here (the
changes merged with whatever is already waiting) and the UI thread takes the merged result
once per frame.

FRAME_RATE is 20 frames per second: a frame every 50 ms is below what a person notices as
lag on a status screen, and above it an SSH link from a phone (round trips of 50-150 ms)
only queues frames that are overwritten before they arrive. Keys are not held back: they
redraw the table at once, in Textual's own rhythm.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from cockpit.inventory import Changes
from cockpit.model import Snapshot

FRAME_RATE = 20
FRAME = 1.0 / FRAME_RATE


class FramePending(Message):
    """A publish is waiting to be drawn (posted from the inventory's thread)."""


class Coalescer:
    """The latest snapshot and everything that changed since the last frame took it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._pending: tuple[Snapshot, Changes] | None = None
        self._clock = clock
        self._last = float("-inf")

    def offer(self, snapshot: Snapshot, changed: frozenset[str]) -> bool:
        """Park a publish; True when nothing was waiting (the caller asks for a frame)."""
        with self._lock:
            if self._pending is None:
                self._pending = (snapshot, Changes(changed, getattr(changed, "delta", None)))
                return True
            self._pending = (snapshot, self._pending[1].merge(changed))
            return False

    def wait(self) -> float:
        """Seconds until the next frame may be drawn."""
        return max(0.0, self._last + FRAME - self._clock())

    def take(self) -> tuple[Snapshot, Changes] | None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._last = self._clock()
        return pending


def face(text: Text) -> tuple[object, ...]:
    """What a line of text looks like (rich's Text equality looks at the letters only)."""
    return (text.plain, str(text.style), tuple(text.spans))


def _height(widget: Static, text: Text) -> int:
    """How many lines the text takes in the widget as wide as it is now."""
    width = widget.content_region.width
    if width <= 0:
        return -1  # not laid out yet: always ask for a layout
    return len(text.wrap(widget.app.console, width))


def update_if_changed(widget: Static, text: Text) -> bool:
    """Rewrite a one-off line (the status bar, the gauge) only when it looks different:
    an update repaints the widget, and a repaint is bytes down the terminal. A text that
    takes as many lines as the last one is redrawn in place, without a layout pass (which
    would repaint the panes' scrollbars as well)."""
    seen = face(text)
    if getattr(widget, "_cockpit_face", None) == seen:
        return False
    height = _height(widget, text)
    same = height >= 0 and height == getattr(widget, "_cockpit_height", None)
    widget.update(text, layout=not same)
    widget._cockpit_face, widget._cockpit_height = seen, height  # type: ignore[attr-defined]
    return True
