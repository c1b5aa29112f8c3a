"""A runbook as it runs (node replacement): every stage with its state, the one in progress
and what it waits for, beside the progress lines the action writes.

c copies the join command to the clipboard with OSC 52, which reaches the terminal the
person sits at, also over SSH; x cancels (what was done stays done, and `cockpit resume`
carries on from the last verified stage); escape closes once it has ended."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Log, Static

from cockpit.runbooks.base import Runbook, Stage
from cockpit.ui.screens.actions import RunScreen

MARKS = {
    "pending": ("·", "dim"),
    "running": ("▶", "bold"),
    "waiting": ("…", "bold yellow"),
    "done": ("✓", "green"),
    "failed": ("✗", "bold red"),
}
REDRAW_EVERY = 0.5  # seconds: "waiting since" and durations move with the clock


def stage_lines(stages: list[Stage]) -> Text:
    text = Text()
    for number, stage in enumerate(stages, 1):
        mark, style = MARKS.get(stage.state, ("?", ""))
        text.append(f"{mark} {number}. ", style=style)
        text.append(stage.title, style=style)
        if stage.seconds is not None:
            text.append(f"  {stage.seconds:.0f} s", style="dim")
        text.append("\n")
        if stage.state in ("running", "waiting", "failed") and stage.detail:
            text.append(
                f"     {stage.detail}\n", style="yellow" if stage.state == "waiting" else ""
            )
        elif stage.state == "pending":
            text.append(f"     {stage.why}\n", style="dim")
    return text


class RunbookScreen(RunScreen):
    CSS = """
    RunbookScreen { align: center middle; }
    RunbookScreen > Vertical { width: 96%; height: 90%; border: thick $accent;
                               background: $surface; }
    RunbookScreen #stages { width: 44; padding: 0 1; border-right: solid $panel; }
    RunbookScreen Log { height: 1fr; }
    RunbookScreen #outcome { height: auto; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "cancel_action", "Cancel the runbook"),
        Binding("c", "copy_join", "Copy the join command"),
        Binding("escape", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            with Horizontal():
                yield Static(id="stages")
                yield Log(id="progress", auto_scroll=True)
            yield Static(Text("running… (x cancels, c copies the join command)", "dim"),
                         id="outcome")  # fmt: skip
        yield Footer()

    def on_mount(self) -> None:
        # Textual runs RunScreen.on_mount too (handlers are called along the MRO): calling
        # it here as well would start the runbook twice.
        self.draw_stages()
        self.set_interval(REDRAW_EVERY, self.draw_stages)

    @property
    def runbook(self) -> Runbook:
        assert isinstance(self.action, Runbook)
        return self.action

    def draw_stages(self) -> None:
        self.query_one("#stages", Static).update(stage_lines(self.runbook.stages))

    def _line(self, line: str) -> None:
        super()._line(line)
        self.draw_stages()

    def join_command(self) -> str:
        return str(self.plan.detail.get("join", {}).get("command", ""))

    def action_copy_join(self) -> None:
        command = self.join_command()
        if not command:
            self.app.notify("this runbook has no join command", severity="warning")
            return
        self.app.copy_to_clipboard(command)
        self.app.notify("join command copied (OSC 52: your terminal's clipboard)", timeout=4)
