"""The engine's standing risks, kept between triage runs of a big lab.

The risk scan is the costliest part of triage at 10,000 pods (~2/3 of it) and its answer
changes with the configuration (nodes, workloads, budgets, guests), a little with pods
coming, going or moving (where replicas stand), and not with a pod's annotations or
restart count. Under a stream of pod updates it was computed again once a second, mostly
for the same answer. It is now computed again at once when anything but pods changed (or
the pods were taken whole), and otherwise at most every RISKS_EVERY seconds: a standing
risk may be that late, a live finding never is (the live rules run at every triage).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from cockpit.triage.finding import Finding

RISKS_EVERY = 10.0
# Layers whose change leaves the standing risks as they were.
NOT_RISKS = frozenset({"pods", "events", "tasks", "tailnet", "metrics_available"})


class RiskCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._risks: Sequence[Finding] | None = None
        self._made_at = 0.0
        self._drift = False  # pods changed since the risks were made
        self.epoch = 0  # moves on every change that voids the risks

    def note(self, changed: frozenset[str]) -> None:
        """A publish: what changed in it (a Changes with the pods' delta, or layer names)."""
        whole_pods = "pods" in changed and getattr(changed, "delta", {}).get("pods") is None
        if changed - NOT_RISKS or whole_pods:
            self._risks = None
            self.epoch += 1
        elif "pods" in changed:
            self._drift = True

    def get(self) -> Sequence[Finding] | None:
        """The kept risks, or None when they must be made again."""
        if self._drift and self.clock() - self._made_at >= RISKS_EVERY:
            return None
        return self._risks

    def keep(self, risks: Sequence[Finding], epoch: int) -> None:
        """Risks made from a snapshot seen at `epoch`: kept unless something voided them
        since."""
        if epoch == self.epoch:
            self._risks, self._made_at, self._drift = risks, self.clock(), False
