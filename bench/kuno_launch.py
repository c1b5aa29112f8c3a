"""Starts kuno 0.2.2 as its own `kuno` command does, with one fault of its splash screen set
right, so that it can be measured against a lab on loopback.

kuno's splash stays up at least 0.5 s: when its first pod list arrives sooner (as it does
from a cluster on this machine), `SplashScreen.mark_ready` hands `self.dismiss` to a timer;
Textual's timer awaits what its callback returns, from the splash's own message pump, and
awaiting `dismiss()` there raises `ScreenError: Can't await screen.dismiss() from the
screen's message handler`, which ends the app. kuno 0.2.2 requires textual>=8.2.8, and
8.2.8 is the Textual it runs on: no other Textual release is within its requirement.
Here the timer calls `dismiss()` without awaiting it (what Textual's docs ask for); the
splash still stays up its 0.5 s. Nothing else of kuno is changed.

    bench/.peers/kuno/bin/python bench/kuno_launch.py -n default
"""

from __future__ import annotations

import sys
import time

from kuno import app as kuno_app  # the peer's own venv, never the project's
from kuno import cli


def mark_ready(self: kuno_app.SplashScreen) -> None:
    self._ready = True
    remaining = max(0.0, 0.5 - (time.monotonic() - self._shown_at))

    def dismiss() -> None:
        self.dismiss()  # not awaited: the pop happens all the same

    if remaining > 0:
        self.set_timer(remaining, dismiss)
    else:
        self.dismiss()


kuno_app.SplashScreen.mark_ready = mark_ready

if __name__ == "__main__":
    sys.exit(cli.main())
