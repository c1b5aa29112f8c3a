"""A DataTable kept in step with a mapping of row key -> cells by diffing, never by
clearing and refilling, so the cursor, scroll position and unchanged rows stay put."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.widgets import DataTable

from cockpit.ui.rows import Cells


class SyncedTable(DataTable):
    def __init__(self, kind: str, columns: Sequence[tuple[str, str]], title: str) -> None:
        super().__init__(id=kind, cursor_type="row", zebra_stripes=True)
        self.kind = kind
        self.column_spec = tuple(columns)
        self.border_title = title
        self.shown: dict[str, Cells] = {}  # what the table holds, to diff against
        self.writes = 0  # rows added/removed plus cells updated, for tests and debugging

    def sync(self, rows: Mapping[str, Cells]) -> int:
        """Make the table show `rows`; returns how many rows/cells it had to touch."""
        if not self.columns:  # lazily: the first sync may come before on_mount
            for key, label in self.column_spec:
                self.add_column(label, key=key)
        keys = [key for key, _ in self.column_spec]
        touched = 0
        for gone in [k for k in self.shown if k not in rows]:
            self.remove_row(gone)
            del self.shown[gone]
            touched += 1
        for key, cells in rows.items():
            old = self.shown.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                touched += 1
            elif old != cells:
                for column, before, after in zip(keys, old, cells, strict=True):
                    if before != after:
                        self.update_cell(key, column, after, update_width=True)
                        touched += 1
            self.shown[key] = cells
        self.writes += touched
        return touched

    @property
    def cursor_key(self) -> str | None:
        """The row key under the cursor, or None for an empty table."""
        if not self.row_count:
            return None
        return self.ordered_rows[self.cursor_row].key.value
