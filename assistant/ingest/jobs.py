"""Re-index runs in the background, one at a time: what the server starts after an upload
or on request, and the watcher after a change in the corpus folder."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from assistant.errors import AssistantError
from assistant.ingest.indexer import run_index
from assistant.settings import Settings

log = logging.getLogger("assistant.ingest.jobs")


@dataclass
class JobState:
    running: bool = False
    stage: str = ""
    done: int = 0
    total: int = 0
    started: float | None = None
    finished: float | None = None
    summary: dict | None = None
    error: str | None = None
    runs: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.running:
            if self.total:
                return f"re-indexing: {self.stage} {self.done}/{self.total}"
            return f"re-indexing: {self.stage or 'scanning the corpus'}"
        if self.error:
            return f"the last re-index failed: {self.error}"
        if self.summary:
            s = self.summary
            return (
                f"re-indexed: {s['added']} added, {s['changed']} changed, {s['removed']} "
                f"removed, {len(s['skipped'])} skipped; {s['chunks_embedded']} passages "
                f"embedded in {s['seconds']:.1f} s"
            )
        return ""


class ReindexJob:
    """One background index run at a time; a request during a run queues one more run.

    The index is committed by :func:`assistant.ingest.indexer.run_index` in one transaction, so
    answers given meanwhile come from the previous index.
    """

    def __init__(self, settings: Settings, embedder: Callable[[], Any] | None = None,
                 on_finish: Callable[[JobState], None] | None = None):
        self.settings = settings
        self._embedder = embedder
        # Called after every run, from the job's thread, while the job still counts as
        # running (a start() meanwhile queues one more run). The server's status and a
        # corpus watcher each add theirs.
        self.listeners: list[Callable[[JobState], None]] = [on_finish] if on_finish else []
        self._lock = threading.Lock()
        self._again = False
        self._idle = threading.Event()
        self._idle.set()
        self.state = JobState()
        self.report: Any = None  # the last successful run's IndexReport
        self.exception: BaseException | None = None  # why the last run failed, if it did

    def start(self) -> bool:
        """Start a run; if one is running, queue another. True when one started now."""
        with self._lock:
            if self.state.running:
                self._again = True
                return False
            self.state = JobState(running=True, started=time.time(), runs=self.state.runs)
            self._idle.clear()
            threading.Thread(target=self._run, name="reindex", daemon=True).start()
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no run is going (or queued). True when idle."""
        return self._idle.wait(timeout)

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.state.stage, self.state.done, self.state.total = stage, done, total

    def _run(self) -> None:
        while True:
            self._run_once()
            with self._lock:
                self.state.runs += 1
                self.state.finished = time.time()
                self.state.stage = "done"
            for listener in list(self.listeners):
                try:
                    listener(self.state)
                except Exception:  # a listener's failure is not the run's
                    log.exception("after a re-index")
            with self._lock:
                if not self._again:
                    self.state.running = False
                    self._idle.set()
                    return
                self._again = False
                self.state.started = time.time()

    def _run_once(self) -> None:
        try:
            embedder = self._embedder() if self._embedder else None
            report = run_index(self.settings, progress=self._progress, embedder=embedder)
        except Exception as e:  # the server (or the watcher) must outlive a failed run
            if not isinstance(e, AssistantError):
                log.exception("re-index failed")
            self.exception = e
            self.state.error = e.message if isinstance(e, AssistantError) else (
                f"{type(e).__name__}: {e}")
            return
        self.report, self.exception = report, None
        self.state.summary, self.state.error = report.summary(), None
