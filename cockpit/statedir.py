"""Where the cockpit keeps what it writes about you: $XDG_STATE_HOME/cockpit (by default
~/.local/state/cockpit). The action journal and crash logs name your hosts and what you did
to them, so the folder is private (0700) and so are its files (0600), whatever the umask."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cockpit"


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents, with the usual modes) as 0700; one of ours left
    readable by an older version is tightened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        info = path.stat()
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            path.chmod(DIR_MODE)
    return path


def write_private(path: Path, text: str) -> Path:
    """A new file only its owner can read, created that way (never chmod-ed after)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path
