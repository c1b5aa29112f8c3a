"""What happens when the cockpit dies of a bug: the full traceback goes to a private crash log
($XDG_STATE_HOME/cockpit/crash-<time>.log, 0600, secrets scrubbed) and the terminal gets one
line saying what broke and where the rest is, and the exit code says it failed.

COCKPIT_DEBUG_CRASH=command or =screen is a debug hook: it raises a deliberate error inside
the command or inside the running screen, to check this path end to end (the tests do).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

from cockpit.secret import scrub
from cockpit.statedir import state_dir, write_private

EXIT_CRASH = 1
DEBUG_CRASH = "COCKPIT_DEBUG_CRASH"


class DeliberateCrash(RuntimeError):
    """Raised on purpose by the COCKPIT_DEBUG_CRASH hook."""


def debug_crash() -> str:
    """Where the debug hook asks for a crash: "command", "screen" or ""."""
    return os.environ.get(DEBUG_CRASH, "")


def deliberate_crash() -> None:
    raise DeliberateCrash(f"deliberate crash asked for by {DEBUG_CRASH}={debug_crash()}")


def write_crash_log(error: BaseException | None, where: str) -> Path | None:
    """The crash log for `error` (raised in `where`: "the command", "the screen"), or None
    when nothing could be written; a crash report must not crash."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if error is not None:
        trace = "".join(traceback.format_exception(error))
    else:
        trace = "(no exception was recorded)\n"
    text = scrub(
        f"cockpit crashed in {where} at {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n"
        f"command: {' '.join(sys.argv)}\n"
        f"python: {sys.version.split()[0]}\n\n{trace}"
    )
    for attempt in range(100):
        suffix = f"-{attempt}" if attempt else ""
        try:
            return write_private(state_dir() / f"crash-{stamp}{suffix}.log", text)
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def report_crash(error: BaseException | None, where: str) -> int:
    """Write the log, tell the user in one line where it is; returns the exit code."""
    log = write_crash_log(error, where)
    what = "unknown error" if error is None else type(error).__name__
    detail = "" if error is None else scrub(str(error)).strip().splitlines()[:1]
    reason = f"{what}: {detail[0][:200]}" if detail else what
    hint = (
        f"the full traceback is in {log}; please report it"
        if log is not None
        else "no crash log could be written; run again with COCKPIT_DEBUG=1 for the traceback"
    )
    print(f"cockpit: internal error in {where}: {reason}\n{hint}", file=sys.stderr)
    return EXIT_CRASH
