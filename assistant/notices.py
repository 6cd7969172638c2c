"""Fallbacks and warnings, each announced once in plain words.

Every fallback (a missing model, a missing tiktoken file, ...) goes through
:func:`announce`: it is printed to stderr the first time and kept, so the web status
line and ``assistant doctor`` can show what is in force.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path

_lock = threading.Lock()
_seen: dict[str, str] = {}
quiet = False  # set by --json commands: nothing but the JSON is printed
# Set by the CLI (remember_in): notices printed before for the same index and model.
_record: tuple[Path, str] | None = None
# Set by the CLI: ``wording(key, message)`` is what is printed (the locale's language).
wording: Callable[[str, str], str] | None = None


def announce(key: str, message: str) -> None:
    """Print ``message`` once per process for ``key`` and remember it."""
    with _lock:
        if key in _seen:
            return
        _seen[key] = message
    if not quiet and not _printed_before(key, message):
        text = wording(key, message) if wording is not None else message
        print(f"note: {text}", file=sys.stderr, flush=True)


def remember_in(path: Path, state: str) -> None:
    """Print each notice once per ``state`` (the CLI: the index and the models in use),
    not on every command: what was printed is kept in ``path``; a new ``state`` (a
    re-index, another model) prints them again. ``assistant doctor`` lists them all."""
    global _record
    _record = (Path(path), state)


def _printed_before(key: str, message: str) -> bool:
    if _record is None:
        return False
    path, state = _record
    data: dict = {}
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text(encoding="utf-8"))
    printed = data.get("printed", {}) if data.get("state") == state else {}
    if printed.get(key) == message:
        return True
    printed[key] = message
    with contextlib.suppress(OSError):  # no index folder yet, or read-only: print again
        path.write_text(json.dumps({"state": state, "printed": printed}, ensure_ascii=False),
                        encoding="utf-8")
    return False


def active() -> list[str]:
    """The fallbacks and warnings announced so far, oldest first."""
    with _lock:
        return list(_seen.values())


def items() -> list[tuple[str, str]]:
    """(key, message) of each notice in force, oldest first: the status line words each
    known key its own way."""
    with _lock:
        return list(_seen.items())


def forget(key: str) -> None:
    """The fallback ``key`` is over (e.g. the missing model has arrived)."""
    with _lock:
        _seen.pop(key, None)


def reset() -> None:
    """Forget everything, and print again (tests)."""
    global quiet, _record, wording
    with _lock:
        _seen.clear()
        quiet = False
        _record = None
        wording = None
