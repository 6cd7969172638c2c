"""The default model, fetched in the background on a first start with a network.

``assistant serve`` with the configured preset not on disk starts :class:`ModelFetch`:
the same resumable, checksummed transfer as ``assistant pull --model`` (the hub client in
:mod:`assistant.hub.pull`), its progress shown as a bar in the status line. Answers quote
the sources meanwhile, and say so; once the file verified, the server loads it. With
``HF_HUB_OFFLINE=1`` nothing is tried, and the status line says how to bring it in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError

log = logging.getLogger(__name__)


@dataclass
class FetchState:
    state: str = "idle"  # idle, fetching, done, failed
    name: str = ""  # the file
    done: int = 0  # bytes so far
    total: int | None = None
    error: str | None = None
    hint: str | None = None
    offline: bool = False  # no network (or HF_HUB_OFFLINE): the file has to be copied in
    started: float | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


def missing_preset(settings: Any):
    """The configured preset when it is to be fetched: a preset name (not a path, not a
    model server, not extractive) whose file is nowhere on disk. Else None."""
    from assistant.hub.files import find_model_file
    from assistant.hub.presets import get_preset

    if getattr(settings, "llm_url", None):
        return None
    preset = get_preset((settings.model or "").strip())
    if preset is None or find_model_file(preset, settings.models_dir) is not None:
        return None
    return preset


class ModelFetch:
    """One background download of ``preset`` into ``models_dir``; ``on_done(path)`` runs
    in the download's thread once the file is verified and in place."""

    def __init__(self, preset: Any, models_dir: Path, on_done: Callable[[Path], None]):
        self.preset = preset
        self.models_dir = Path(models_dir)
        self._on_done = on_done
        self.state = FetchState(name=preset.filename, total=preset.download_mb * 10**6)
        self.thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        from assistant.hub.files import is_offline

        if is_offline():  # nothing connects: say how to bring the file in
            self.state.state, self.state.offline = "failed", True
            self.state.error = "HF_HUB_OFFLINE=1"
            return threading.Thread(target=lambda: None)
        self.state.state, self.state.started = "fetching", time.time()
        self.thread = threading.Thread(target=self._run, name="model-fetch", daemon=True)
        self.thread.start()
        return self.thread

    def _progress(self, done: int, total: int | None) -> None:
        self.state.done, self.state.total = done, total or self.state.total

    def _run(self) -> None:
        from assistant.hub import files as hub
        from assistant.hub.pull import pull_lock, pull_model

        try:
            with pull_lock(self.models_dir):
                result = pull_model(self.preset, self.models_dir, progress=False,
                                    on_progress=self._progress)
        except hub.HubUnreachable as e:
            self._failed(e, offline=True)
            return
        except AssistantError as e:
            self._failed(e)
            return
        except Exception as e:  # the server must outlive a failed download
            log.exception("fetching the model failed")
            self._failed(AssistantError(f"{type(e).__name__}: {e}"))
            return
        self.state.state = "done"
        self.state.done = self.state.total = result.path.stat().st_size
        try:
            self._on_done(result.path)
        except Exception:
            log.exception("loading the fetched model failed")

    def _failed(self, e: AssistantError, offline: bool = False) -> None:
        log.warning("fetching %s failed: %s", self.preset.filename, e.message)
        self.state.state, self.state.error, self.state.hint = "failed", e.message, e.hint
        self.state.offline = offline
