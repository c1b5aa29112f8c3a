"""The lab clock: wall time that can run faster than real time.

A lab at speed 60 plays one lab minute per real second, so a node's 40 s grace period or a
pod's 300 s unreachable toleration can be watched (and tested) in a few real seconds while
every timestamp the faces report stays a plausible wall-clock time.
"""

from __future__ import annotations

import threading
import time


class LabClock:
    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"lab speed must be positive, got {speed!r}")
        self.speed = speed
        self._origin_real = time.monotonic()
        self._origin_lab = time.time() if start is None else start
        self._skipped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Lab time in unix seconds."""
        with self._lock:
            elapsed = time.monotonic() - self._origin_real
            return self._origin_lab + elapsed * self.speed + self._skipped

    def advance(self, seconds: float) -> None:
        """Jump the lab forward, as a test does to skip a grace period."""
        with self._lock:
            self._skipped += seconds

    def real_delay(self, lab_seconds: float) -> float:
        """How long to really wait for `lab_seconds` to pass on this clock."""
        return max(0.0, lab_seconds / self.speed)
