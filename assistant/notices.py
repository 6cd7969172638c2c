"""Fallbacks and warnings, each announced once in plain words.

Every fallback (a missing model, a missing tiktoken file, ...) goes through
:func:`announce`: it is printed to stderr the first time and kept, so the web status
line and ``assistant doctor`` can show what is in force.
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()
_seen: dict[str, str] = {}
quiet = False  # set by --json commands: nothing but the JSON is printed


def announce(key: str, message: str) -> None:
    """Print ``message`` once per process for ``key`` and remember it."""
    with _lock:
        if key in _seen:
            return
        _seen[key] = message
    if not quiet:
        print(f"note: {message}", file=sys.stderr, flush=True)


def active() -> list[str]:
    """The fallbacks and warnings announced so far, oldest first."""
    with _lock:
        return list(_seen.values())


def reset() -> None:
    """Forget everything, and print again (tests)."""
    global quiet
    with _lock:
        _seen.clear()
        quiet = False
