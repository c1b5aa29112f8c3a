"""The screens an action goes through: its plan (confirm or not), its progress (cancel with
x), the journal, and the offer to resume what a lost session left unfinished.

All the work happens in cockpit.actions; these screens only show plans, ask, and follow.
Planning and executing talk to the APIs, so they run in worker threads and report back with
call_from_thread; the UI never blocks on a request.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Log, OptionList, Static
from textual.widgets.option_list import Option

from cockpit.actions.base import Action, Outcome, Plan, perform, resume
from cockpit.actions.journal import ActionRecord, Journal
from cockpit.detail import age


def plan_text(plan: Plan) -> Text:
    """The plan as the operator reads it before saying yes: what stops it first (beside
    the button that fixes it), then the warnings, then what it will do."""
    text = Text()
    text.append(f"{plan.action} {plan.target}\n", style="bold")
    if plan.endpoint:
        text.append(f"on {plan.endpoint}\n", style="dim")
    for line in plan.blockers:
        text.append(f"✖ {line}\n", style="bold red")
    for line in plan.warnings:
        text.append(f"⚠ {line}\n", style="yellow")
    for line in plan.summary:
        text.append(f"• {line}\n")
    if plan.confirm_word:
        text.append(f"\n{plan.danger}\n", style="bold red")
        text.append(f"type {plan.confirm_word!r} to confirm\n", style="bold")
    return text


def flag_args(plan: Plan) -> dict[str, Any]:
    """The plan's args with the flags it says it needs turned on (`--delete-emptydir-data`
    -> delete_emptydir_data=True), for the "plan again with …" choice."""
    flags = plan.detail.get("flags_needed") or []
    extra = {str(f).removeprefix("--").replace("-", "_"): True for f in flags}
    return {**plan.args, **extra} if extra else {}


class PlanScreen(ModalScreen[str]):
    """The plan, then "run", "cancel", or "replan" (with the flags a blocker asks for).
    A dangerous plan wants its confirm word typed."""

    CSS = """
    PlanScreen { align: center middle; }
    PlanScreen > Vertical { width: 90%; max-width: 120; height: 80%; border: thick $warning;
                            background: $surface; padding: 0 1; }
    PlanScreen #plan-body { height: 1fr; }
    PlanScreen #buttons { height: 3; align: right middle; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer('cancel')", "Cancel"),
        Binding("y", "confirm", "Confirm", show=False),
    ]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical():
            if self.plan.blockers:  # the way out goes on top, beside what blocks
                yield from self._buttons()
            with VerticalScroll(id="plan-body"):
                yield Static(plan_text(self.plan), id="plan-text")
            if self.plan.confirm_word and not self.plan.blockers:
                yield Input(placeholder=f"type {self.plan.confirm_word}", id="confirm-word")
            if not self.plan.blockers:
                yield from self._buttons()

    def _buttons(self) -> ComposeResult:
        with Horizontal(id="buttons"):
            if not self.plan.blockers:
                yield Button("Run it", variant="error", id="run")
            elif flag_args(self.plan):
                flags = " ".join(self.plan.detail["flags_needed"])
                yield Button(Text(f"Plan again with {flags}"), variant="warning", id="replan")
            yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Vertical).border_title = Text(f"plan: {self.plan.action} {self.plan.target}")
        if self.plan.confirm_word and not self.plan.blockers:
            self.query_one("#confirm-word", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()  # the safe choice under the cursor

    def _word_ok(self) -> bool:
        if not self.plan.confirm_word:
            return True
        return self.query_one("#confirm-word", Input).value.strip() == self.plan.confirm_word

    def action_confirm(self) -> None:
        if self.plan.blockers:
            return
        if not self._word_ok():
            self.app.notify(f"type {self.plan.confirm_word!r} exactly", severity="warning")
            return
        self.dismiss("run")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self.action_confirm()
        else:
            self.dismiss(event.button.id or "cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_confirm()


class RunScreen(ModalScreen[Outcome | None]):
    """Follows an action as it runs; x cancels (the action says what that leaves)."""

    CSS = """
    RunScreen { align: center middle; }
    RunScreen > Vertical { width: 90%; max-width: 120; height: 80%; border: thick $accent;
                           background: $surface; }
    RunScreen Log { height: 1fr; }
    RunScreen #outcome { height: auto; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "cancel_action", "Cancel the action"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, action: Action, plan: Plan, record: ActionRecord | None = None) -> None:
        super().__init__()
        self.action = action
        self.plan = plan
        self.record = record
        self.cancel = threading.Event()
        self.outcome: Outcome | None = None
        self.started = time.time()
        self.last_line = ""
        # When each kind of line was first said: a retry repeats its line (with another
        # attempt number), and "since" is when the waiting began, not the last retry.
        self.first_said: dict[str, float] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Log(id="progress", auto_scroll=True)
            yield Static(Text("running… (x cancels)", style="dim"), id="outcome")
        yield Footer()

    def on_mount(self) -> None:
        verb = "resuming" if self.record is not None else "running"
        self.query_one(Vertical).border_title = Text(
            f"{verb}: {self.plan.action} {self.plan.target}"
        )
        self.run_worker(self._work, thread=True, exit_on_error=False)
        self.set_interval(1.0, self._show_running)

    def _work(self) -> None:
        say = self._from_thread(self._line)
        try:
            if self.record is None:
                outcome = perform(self.action, self.plan, say, self.cancel)
            else:
                outcome = resume(self.record, self.action.ctx, say, self.cancel)
        except Exception as exc:  # the journal could not be written: nothing was sent
            outcome = Outcome("", "failed", str(exc))
        self._from_thread(self._done)(outcome)

    def _from_thread(self, fn: Any) -> Any:
        def call(*args: Any) -> None:
            # The app may be closing; the journal has it all.
            with contextlib.suppress(RuntimeError):
                self.app.call_from_thread(fn, *args)

        return call

    def _line(self, line: str) -> None:
        self.query_one("#progress", Log).write_line(line)
        self.last_line = line
        self.first_said.setdefault(re.sub(r"\d+", "#", line), time.time())
        self._show_running()

    def running_text(self, now: float | None = None) -> Text:
        """`running 2m10s · waiting since 18:05:10 (1m30s): <what the action last said>`."""
        now = time.time() if now is None else now
        text = Text(f"running {age(now - self.started)}", style="bold")
        if self.last_line:
            since = self.first_said.get(re.sub(r"\d+", "#", self.last_line), now)
            clock = time.strftime("%H:%M:%S", time.localtime(since))
            text.append(f" · since {clock} ({age(now - since)}): ", style="dim")
            text.append(self.last_line)
        text.append("   (x cancels)", style="dim")
        return text

    def _show_running(self) -> None:
        if self.outcome is None:
            self.query_one("#outcome", Static).update(self.running_text())

    def _done(self, outcome: Outcome) -> None:
        self.outcome = outcome
        style = {"succeeded": "bold green", "cancelled": "bold yellow"}.get(
            outcome.status, "bold red"
        )
        text = Text(f"{outcome.status}: ", style=style)
        text.append(outcome.message)
        text.append("   (escape closes)", style="dim")
        self.query_one("#outcome", Static).update(text)
        box = self.query_one(Vertical)
        box.border_title = f"{outcome.status}: {self.plan.action} {self.plan.target}"

    def action_cancel_action(self) -> None:
        if self.outcome is None:
            self.cancel.set()
            self._line("cancelling…")

    def action_close(self) -> None:
        if self.outcome is None:
            self.app.notify("the action is still running: x cancels it", severity="warning")
            return
        self.dismiss(self.outcome)


class PowerMenu(ModalScreen[str | None]):
    """Which power action for a guest."""

    CSS = """
    PowerMenu { align: center middle; }
    PowerMenu OptionList { width: 40; height: auto; border: thick $accent; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, guest: str) -> None:
        super().__init__()
        self.guest = guest

    def compose(self) -> ComposeResult:
        yield OptionList(*(Option(p, id=p) for p in ("start", "shutdown", "reboot", "stop")))

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.border_title = Text(f"power {self.guest}")
        options.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ResumeScreen(ModalScreen[tuple[str, ActionRecord] | None]):
    """What the last session left unfinished: resume it, abandon it, or decide later."""

    CSS = """
    ResumeScreen { align: center middle; }
    ResumeScreen > Vertical { width: 90%; max-width: 110; height: auto; max-height: 80%;
                              border: thick $warning; background: $surface; }
    ResumeScreen OptionList { height: auto; max-height: 16; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r,enter", "choose('resume')", "Resume"),
        Binding("a", "choose('abandon')", "Abandon"),
        Binding("escape", "dismiss(None)", "Later"),
    ]

    def __init__(self, records: list[ActionRecord]) -> None:
        super().__init__()
        self.records = records

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "These actions were interrupted (a lost session or a crash). Resuming skips "
                "the steps already done.",
            )
            yield OptionList(*(Option(Text(r.describe()), id=r.id) for r in self.records))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Vertical).border_title = "unfinished actions"
        options = self.query_one(OptionList)
        if self.records:
            options.highlighted = 0
        options.focus()

    def action_choose(self, what: str) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return
        self.dismiss((what, self.records[options.highlighted]))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_choose("resume")


class JournalScreen(Screen[None]):
    """Recent actions, newest first; enter shows one action's lines."""

    CSS = """
    JournalScreen OptionList { height: 1fr; border: round $panel; }
    JournalScreen #entries { height: 1fr; border: round $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal
        self.records = list(reversed(journal.records()))

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield OptionList(*(Option(Text(r.describe()), id=r.id) for r in self.records))
            with VerticalScroll(id="entries"):
                yield Static(id="lines")
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.border_title = Text(f"journal {self.journal.path}")
        if not self.records:
            self.query_one("#lines", Static).update("no actions yet")
        else:
            options.highlighted = 0  # the cursor shows, and the newest action's lines
        options.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        record = self.records[event.option_index]
        text = Text()
        for entry in record.entries:
            event_name = str(entry.get("event", ""))
            detail = entry.get("what") or entry.get("text") or entry.get("message") or ""
            if event_name == "failed":
                detail = entry.get("error", "")
            text.append(f"{event_name:<7}", style="bold")
            text.append(f"{entry.get('step', '')} {detail}\n")
        self.query_one("#lines", Static).update(text)
