"""What every runbook shares: stages over one journaled action.

A runbook is an Action (cockpit.actions.base) whose `execute` walks a fixed list of
stages. Each stage is one journaled step: its "done" line is written only after the stage
verified its result, so a resumed runbook skips every verified stage and re-enters the one
that was cut off, whose own inner steps (a cordon, an eviction, a clone) are journaled
too and are not sent twice. Other actions are composed by running their `execute` on a
Run that shares this one's journal id and done-steps, so a drain inside a node
replacement is the same drain, with the same journal lines, as `cockpit drain`.

Where a person has to act (power off a Raspberry Pi, run the join command), the stage says
exactly what to do and waits while watching for the result; it never asks to be told.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from cockpit.actions.base import Action, ActionFailed, Plan, Run
from cockpit.sources.health import SourceError

StageState = Literal["pending", "running", "waiting", "done", "failed"]
T = TypeVar("T")
REMIND_EVERY = 30.0  # seconds between "still waiting" lines


@dataclass
class Stage:
    key: str
    title: str
    why: str
    state: StageState = "pending"
    detail: str = ""  # what it is doing or waiting for, in the operator's words
    started: float | None = None
    ended: float | None = None

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "why": self.why,
            "state": self.state,
            "detail": self.detail,
            "seconds": self.seconds,
        }


class Runbook(Action):
    """An action made of stages. Subclasses list STAGES as (key, title, why) and define
    `stage_<key>(run)` for each (dashes in keys become underscores); a stage returns a
    JSON-able dict that the journal keeps as its result."""

    STAGES: ClassVar[tuple[tuple[str, str, str], ...]] = ()

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.stages = [Stage(key, title, why) for key, title, why in self.STAGES]
        self._changed = threading.Event()  # set on every stage change, for a screen to poll

    def stage(self, key: str) -> Stage:
        return next(s for s in self.stages if s.key == key)

    def run_stages(self, run: Run) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for number, stage in enumerate(self.stages, 1):
            handler = getattr(self, "stage_" + stage.key.replace("-", "_"))
            header = f"[{number}/{len(self.stages)}] {stage.title}"
            self._set(stage, "running", "", started=time.time())
            try:
                result = run.step(
                    f"stage {stage.key}", header, lambda h=handler: self._timed(h, run)
                )
            except BaseException:
                self._set(stage, "failed", stage.detail, ended=time.time())
                raise
            if isinstance(result, dict):
                stage.started = result.get("started", stage.started)
                stage.ended = result.get("ended", time.time())
                stage.detail = str(result.get("said", stage.detail))
            self._set(stage, "done", stage.detail, ended=stage.ended or time.time())
            results[stage.key] = result
        return results

    def _timed(self, handler: Callable[[Run], dict[str, Any]], run: Run) -> dict[str, Any]:
        started = time.time()
        result = dict(handler(run) or {})
        return {**result, "started": started, "ended": time.time()}

    def _set(self, stage: Stage, state: StageState, detail: str, **times: float) -> None:
        stage.state, stage.detail = state, detail
        for name, value in times.items():
            setattr(stage, name, value)
        self._changed.set()

    def waiting_for(
        self,
        run: Run,
        stage: str,
        what: str,
        check: Callable[[], T | None],
        timeout: float,
        hint: str,
        every: float | None = None,
    ) -> T:
        """Poll `check` until it returns something, saying what we wait for and since
        when; a SourceError while polling is noted and polling goes on (the API may be
        restarting); after `timeout` seconds the runbook stops with `hint`, resumable."""
        every = every or run.plan.detail.get("poll_every") or self.ctx.poll_every
        since = time.time()
        when = time.strftime("%H:%M:%S", time.localtime(since))
        self._set(self.stage(stage), "waiting", f"waiting for {what} (since {when})")
        run.note(f"waiting for {what} (since {when})")
        reminded = since
        while True:
            try:
                found = check()
            except SourceError as exc:
                found = None
                if time.time() - reminded >= REMIND_EVERY:
                    run.note(f"still waiting for {what}: {exc.reason}")
                    reminded = time.time()
            if found is not None:
                self._set(self.stage(stage), "running", f"{what}: seen")
                return found
            waited = time.time() - since
            if waited >= timeout:
                raise ActionFailed(
                    f"gave up waiting for {what} after {waited:.0f} s; {hint} "
                    "(`cockpit resume` carries on from here)"
                )
            if time.time() - reminded >= REMIND_EVERY:
                run.note(f"still waiting for {what} (since {when}, {waited:.0f} s)")
                reminded = time.time()
            run.wait(every)


def sub_run(run: Run, plan: Plan) -> Run:
    """A Run for a composed action: same journal id, same done and in-flight steps (shared,
    not copied, so what the inner action does is what a resume of the runbook skips)."""
    inner = Run(run.id, run.journal, plan, run.progress, run.cancel)
    inner.done = run.done
    inner.in_flight = run.in_flight
    return inner
