"""A table that draws only the rows on screen (Textual's line API), kept in step with a
mapping of row key -> cells by diffing.

DataTable measures every cell of every row through rich when rows are added; at 10,000
pods that alone takes seconds. Here a column's width is the longest cell's length (a plain
len, capped), computed once per sync, and render_line builds just the visible lines, so
the cost of a frame does not grow with the number of pods. Rows keep their keys, so the
cursor stays on the same object while rows come and go around it.

Section rows (a Section instead of cells) are titles between groups; the cursor skips them.

Flexible columns (a long pod name) give up width when the pane is too narrow for every
column, down to a minimum, and are shortened in the middle, where a generated name has
nothing unique; the columns after them stay in view.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click, Resize
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from cockpit.ui.rows import Cell, Cells

MAX_WIDTH = 48  # a very long cell (an IP list) is cut, not allowed to push columns away
GAP = 2


@dataclass(frozen=True, slots=True)
class Section:
    """A group title in place of a row (pods grouped by node or namespace)."""

    title: str


Row = Cells | Section


def _face(cell: Cell) -> object:
    """What a cell looks like: rich's Text equality ignores the style, a theme switch
    changes nothing but the style."""
    return (cell.plain, str(cell.style), tuple(cell.spans)) if isinstance(cell, Text) else cell


def same_cells(a: Cells, b: Cells) -> bool:
    return len(a) == len(b) and all(_face(x) == _face(y) for x, y in zip(a, b, strict=True))


def cell_width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(cell)


def shorten_middle(text: Text, width: int) -> Text:
    """`kube-system/coredns-…-6z5gb`: the start and the end kept, the middle elided."""
    if text.cell_len <= width:
        return text
    if width <= 1:
        return Text("…"[:width])
    head = (width - 1) // 2
    tail = width - 1 - head
    short = text[:head]
    short.append("…")
    if tail:
        short.append_text(text[len(text) - tail :])
    return short


class VirtualTable(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    VirtualTable { background: $surface; }
    VirtualTable > .virtual-table--header { text-style: bold; color: $text-accent; }
    VirtualTable > .virtual-table--cursor { background: $block-cursor-blurred-background; }
    VirtualTable:focus > .virtual-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    VirtualTable > .virtual-table--even { background: $surface-lighten-1 20%; }
    VirtualTable > .virtual-table--section { text-style: bold; color: $text-accent; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--even",
        "virtual-table--section",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "Top", show=False),
        Binding("end,G", "jump(-1)", "Bottom", show=False),
    ]

    class CursorMoved(Message):
        """The row under the cursor changed (to `key`, None when the table is empty)."""

        def __init__(self, table: VirtualTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        kind: str,
        columns: Sequence[tuple[str, str]],
        title: str,
        flexible: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(id=kind)
        self.kind = kind
        self.column_spec = tuple(columns)
        # Column index -> the narrowest it may get, in the order they give up width.
        keys = [key for key, _ in self.column_spec]
        self.flexible = {keys.index(k): w for k, w in (flexible or {}).items() if k in keys}
        self.natural: list[int] = []  # each column's width before fitting to the pane
        self.title = title
        self.border_title = title
        self.shown: dict[str, Cells] = {}  # the data rows it holds, to diff against
        self.order: list[str] = []  # row keys (and section keys) in display order
        self.sections: dict[str, Section] = {}
        self.widths = [len(label) for _, label in self.column_spec]
        self.writes = 0  # rows added/removed plus cells changed, for tests and debugging
        self.cursor_row = 0
        self._index: dict[str, int] = {}
        self._widths: list[Counter[int]] = [Counter() for _ in self.column_spec]

    # --- data --------------------------------------------------------------------------

    def sync(self, rows: Mapping[str, Row], changed: Collection[str] | None = None) -> int:
        """Show `rows` in their order; returns how many rows/cells changed. Nothing is
        repainted when nothing changed.

        `changed`, when given, promises that every other data row is as shown now: only those
        keys are compared and measured, and when the order and the column widths stay put
        only their lines are repainted, so a change costs what it touches."""
        if changed is not None and self.shown:
            return self._sync_keys(rows, changed)
        before = self.cursor_key
        touched = sum(1 for key in self.shown if key not in rows)
        shown: dict[str, Cells] = {}
        sections: dict[str, Section] = {}
        repaint: list[str] = []
        for key, row in rows.items():
            if isinstance(row, Section):
                sections[key] = row
                if self.sections.get(key) != row:
                    repaint.append(key)
                continue
            old = self.shown.get(key)
            if old is None:
                touched += 1
            elif not same_cells(old, row):
                touched += sum(1 for a, b in zip(old, row, strict=True) if _face(a) != _face(b))
                repaint.append(key)
            shown[key] = row
        order = list(rows)
        moved = order != self.order
        if not touched and not moved and sections == self.sections:
            return 0
        self.shown, self.sections, self.order = shown, sections, order
        self._index = {key: i for i, key in enumerate(order)}
        self.writes += touched
        widths = self.widths
        self._measure()
        if moved or widths != self.widths:
            self._moved(before)
            self.refresh()
        else:  # the same rows in the same places: repaint the lines that changed
            for key in repaint:
                self._refresh_row(self._index[key])
        return touched

    def _sync_keys(self, rows: Mapping[str, Row], changed: Collection[str]) -> int:
        before = self.cursor_key
        touched = 0
        repaint: list[str] = []
        for key in changed:
            old = self.shown.get(key)
            row = rows.get(key)
            if isinstance(row, Section):
                continue
            if row is None:
                if old is not None:
                    del self.shown[key]
                    self._count(old, -1)
                    touched += 1
                continue
            if old is None:
                touched += 1
            elif same_cells(old, row):
                continue
            else:
                touched += sum(1 for a, b in zip(old, row, strict=True) if _face(a) != _face(b))
                self._count(old, -1)
            self.shown[key] = row
            self._count(row, 1)
            repaint.append(key)
        sections = {key: row for key, row in rows.items() if isinstance(row, Section)}
        order = list(rows)
        moved = order != self.order
        if not touched and not moved and sections == self.sections:
            return 0
        repaint += [k for k, s in sections.items() if self.sections.get(k) != s]
        self.sections, self.writes = sections, self.writes + touched
        if moved:
            self.order = order
            self._index = {key: i for i, key in enumerate(order)}
        natural = self._widths_now()
        if moved or natural != self.natural:
            self.natural = natural
            self._fit()
            self._moved(before)
            self.refresh()
        else:
            for key in repaint:
                self._refresh_row(self._index[key])
        return touched

    def _moved(self, before: str | None) -> None:
        """The cursor follows its row; if the row went away it stays at the same height."""
        if before is not None and before in self._index:
            self.cursor_row = self._index[before]
        self.cursor_row = self._settle(min(self.cursor_row, max(len(self.order) - 1, 0)), 1)
        if self.cursor_key != before:
            self.post_message(self.CursorMoved(self, self.cursor_key))

    def _measure(self) -> None:
        """Every column's width from scratch: per column, how many cells have each width."""
        self._widths = [Counter() for _ in self.column_spec]
        for cells in self.shown.values():
            self._count(cells, 1)
        self.natural = self._widths_now()
        self._fit()

    def _count(self, cells: Cells, step: int) -> None:
        for counts, cell in zip(self._widths, cells, strict=False):
            w = cell_width(cell)
            counts[w] += step
            if not counts[w]:
                del counts[w]

    def _widths_now(self) -> list[int]:
        """Each column's natural width: its widest cell (or its header), capped."""
        return [
            min(max(len(label), max(counts, default=0)), MAX_WIDTH)
            for (_, label), counts in zip(self.column_spec, self._widths, strict=True)
        ]

    def _fit(self) -> None:
        """Column widths for the pane's width: flexible columns shrink (not below their
        minimum) until every column fits, if it can."""
        widths = list(self.natural) or [len(label) for _, label in self.column_spec]
        # The room with a vertical scrollbar, whether one shows or not: a width that
        # depended on the bars would bring a bar in, shrink, take it away, grow, …
        room = self.content_region.width - self.styles.scrollbar_size_vertical
        # The columns up to the last flexible one must fit; those after may scroll away.
        shown = max(self.flexible, default=len(widths) - 1) + 1
        excess = sum(widths[:shown]) + GAP * shown - room
        if room > 0:
            for i, least in self.flexible.items():
                if excess <= 0:
                    break
                give = min(excess, max(widths[i] - least, 0))
                widths[i] -= give
                excess -= give
        self.widths = widths
        width = sum(self.widths) + GAP * len(self.widths)
        size = Size(width, len(self.order) + 1)  # +1: the header line
        if size != self.virtual_size:
            self.virtual_size = size

    def on_resize(self, event: Resize) -> None:
        before = self.widths
        self._fit()
        if self.widths != before:
            self.refresh()

    def _arrange_scrollbars(self, region: Region) -> Iterable[tuple[Widget, Region]]:
        """The vertical scrollbar starts below the header line: the header is not
        scrolled, and the bar must not cover its last column."""
        for widget, at in super()._arrange_scrollbars(region):
            if widget is self.vertical_scrollbar and at.height > 1:
                # Only the place moves: changing the bar's sizes here would schedule
                # another layout, and this runs on every layout.
                at = Region(at.x, at.y + 1, at.width, at.height - 1)
            yield widget, at

    # --- what tests and the app read ---------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.order)

    @property
    def cursor_key(self) -> str | None:
        if not self.order:
            return None
        key = self.order[self.cursor_row]
        return None if key in self.sections else key

    def get_row_index(self, key: str) -> int:
        return self._index[key]

    def move_cursor(self, row: int) -> None:
        self._set_cursor(row)

    # --- cursor ------------------------------------------------------------------------

    def _settle(self, row: int, step: int) -> int:
        """The nearest data row from `row` going `step` (then the other way)."""
        for direction in (step, -step):
            at = row
            while 0 <= at < len(self.order):
                if self.order[at] not in self.sections:
                    return at
                at += direction
        return 0

    def _set_cursor(self, row: int, step: int = 1) -> None:
        if not self.order:
            return
        row = self._settle(max(0, min(row, len(self.order) - 1)), step)
        if row == self.cursor_row and self.cursor_key is not None:
            return
        old = self.cursor_row
        self.cursor_row = row
        self._refresh_row(old)
        self._refresh_row(row)
        self.scroll_to_region(
            Region(0, row + 1, 1, 1), spacing=None, animate=False, force=True, immediate=True
        )
        # The header line is never scrolled away, so keep the row below it.
        if row < self.scroll_y:
            self.scroll_to(y=row, animate=False, immediate=True)
        self.post_message(self.CursorMoved(self, self.cursor_key))

    def _refresh_row(self, row: int) -> None:
        y = row + 1 - round(self.scroll_y)
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def action_cursor(self, step: int) -> None:
        self._set_cursor(self.cursor_row + step, 1 if step > 0 else -1)

    def action_page(self, step: int) -> None:
        page = max(self.size.height - 2, 1)
        self._set_cursor(self.cursor_row + step * page, 1 if step > 0 else -1)

    def action_jump(self, row: int) -> None:
        if row < 0:
            self._set_cursor(len(self.order) - 1, -1)
        else:
            self._set_cursor(0)

    def on_click(self, event: Click) -> None:
        if event.y >= 1:  # the header line is not a row
            self._set_cursor(round(self.scroll_y) + event.y - 1)

    # --- drawing -----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = round(self.scroll_x)
        if y == 0:
            header = [label for _, label in self.column_spec]
            style = self.get_component_rich_style("virtual-table--header")
            return self._strip(header, style, scroll_x, width)
        row = round(self.scroll_y) + y - 1
        if row >= len(self.order):
            return Strip.blank(width, self.rich_style)
        key = self.order[row]
        section = self.sections.get(key)
        if section is not None:
            style = self.get_component_rich_style("virtual-table--section")
            title = Segment(f"── {section.title} ", style)
            return Strip([title]).crop_extend(scroll_x, scroll_x + width, self.rich_style)
        if row == self.cursor_row:
            style = self.get_component_rich_style("virtual-table--cursor")
        elif row % 2:
            style = self.get_component_rich_style("virtual-table--even")
        else:
            style = self.rich_style
        return self._strip(self.shown[key], style, scroll_x, width, plain=row == self.cursor_row)

    def _strip(
        self, cells: Sequence[Cell], base: Style, scroll_x: int, width: int, plain: bool = False
    ) -> Strip:
        """One line of cells; `plain` (the cursor row) draws every cell in the base style,
        so a green verdict does not vanish into the cursor's own colour."""
        segments: list[Segment] = []
        console = self.app.console
        for i, (cell, w) in enumerate(zip(cells, self.widths, strict=False)):
            if plain:
                own, text = base, Text(cell.plain if isinstance(cell, Text) else cell)
            elif isinstance(cell, Text):
                # Text.render yields only the spans' styles; the Text's own style is ours
                # to apply (rich does it in __rich_console__).
                own = base + console.get_style(cell.style) if cell.style else base
                text = cell.copy()
            else:
                own, text = base, Text(cell)
            if i in self.flexible:
                text = shorten_middle(text, w)
            text.truncate(w, overflow="ellipsis", pad=True)
            for seg in text.render(console, end=""):
                segments.append(Segment(seg.text, own + seg.style if seg.style else own))
            segments.append(Segment(" " * GAP, base))
        total = sum(self.widths) + GAP * len(self.widths)
        return Strip(segments, total).crop_extend(scroll_x, scroll_x + width, base)
