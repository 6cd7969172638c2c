"""The service behind the server (the app itself: :mod:`assistant.app.http`).

One :class:`Service` is shared by the web UI (:mod:`assistant.app.web`) and the HTTP API
(:mod:`assistant.app.api`), made of one piece per concern: the models
(:mod:`assistant.app.warmup`, with :mod:`assistant.app.fetch` for a first start online),
the index status, the re-index job (:mod:`assistant.ingest.jobs`), the uploads
(:mod:`assistant.app.uploads`) and the status line (:mod:`assistant.app.status`).
Answers keep flowing while a re-index runs: the indexer commits the new index in one
SQLite transaction and the searcher switches to it on its next query, so a question is
answered from the old index or the new one, never from half of each.
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assistant import notices, store
from assistant.app.uploads import UploadResult, Uploads, corpus_file
from assistant.app.warmup import TUNABLE, Models
from assistant.errors import AssistantError
from assistant.ingest.diff import CorpusDiff, IndexStatus
from assistant.ingest.jobs import ReindexJob
from assistant.settings import Settings

log = logging.getLogger("assistant.app.server")

__all__ = ["TUNABLE", "Service"]
_STATUS_TTL = 2.0  # seconds a computed index status is reused (many tabs poll it)

Watcher = Callable[["Service"], Any]


# ------------------------------------------------------------------------------ service


class Service:
    """What the web UI and the HTTP API share, each part in its own piece: the models
    (:class:`~assistant.app.warmup.Models`: the assistant, its warm-up, variants and a
    model fetched in the background), the index status, the re-index job, the uploads
    (:class:`~assistant.app.uploads.Uploads`) and the status line
    (:mod:`assistant.app.status`). Thread-safe.

    ``assistant_factory(settings, **shared)`` builds the assistant (default
    :class:`assistant.answer.pipeline.Assistant`); a test passes one with a fake
    generator (``tests/fakes.py``).
    """

    def __init__(self, settings: Settings, assistant_factory: Callable | None = None,
                 auth: tuple[str, str] | None = None, warm: bool = True):
        self.settings = settings
        self.corpus = Path(settings.corpus)
        self.auth = auth
        self.models = Models(settings, assistant_factory, warm_now=warm)
        self._db = store.ThreadLocalDB(settings.index)
        self._diff = CorpusDiff()
        self._status: tuple[float, IndexStatus] | None = None
        self._status_lock = threading.Lock()
        self.reindex = ReindexJob(settings, embedder=self.models.embedder,
                                  on_finish=self.index_changed)
        self.uploads = Uploads(self.corpus, on_saved=self.start_reindex)
        self.watcher: Any = None  # set by create_app(watcher=...)
        self.started = time.time()

    # -- the models -----------------------------------------------------------------------
    @property
    def assistant(self):
        return self.models.assistant

    def warm_in_background(self, fetch: bool = True) -> threading.Thread:
        """See :meth:`Models.warm_in_background` (``assistant serve`` calls it once it
        listens)."""
        return self.models.warm_in_background(fetch=fetch)

    @property
    def loading(self) -> bool:
        return self.models.loading

    @property
    def load_error(self) -> str | None:
        return self.models.load_error

    @property
    def backend(self) -> str:
        return self.models.backend

    @property
    def model_state(self) -> dict | None:
        return self.models.model_state

    def embedder(self):
        """The assistant's loaded embedder (for index runs), or None."""
        return self.models.embedder()

    def overrides(self, **values) -> dict:
        return self.models.overrides(**values)

    def stream(self, question: str, history: list[dict] | None = None,
               overrides: dict | None = None, *, quote_first: bool = False) -> Iterator:
        """Events of one chat turn (see :class:`assistant.answer.pipeline.Event`);
        ``quote_first`` (the page) adds the quoted answer to show while a model reads.

        Not a generator itself: a question the assistant refuses up front (empty, no
        index, a model that cannot load) raises :class:`AssistantError` here, before
        any event, so the HTTP API can still answer with an error status.
        """
        assistant, kw = self.models.assistant_for(overrides)
        if quote_first:
            kw = {**kw, "quote_first": True}
        return assistant.stream(question, history or [], **kw)

    def ask(self, question: str, history: list[dict] | None = None,
            overrides: dict | None = None):
        """The whole answer of one turn."""
        answer = None
        for event in self.stream(question, history, overrides):
            if event.kind == "done":
                answer = event.answer
        if answer is None:
            raise AssistantError("The assistant ended without an answer.", "Ask again.",
                                 status=500)
        return answer

    # -- index status ---------------------------------------------------------------------
    def index_status(self, fresh: bool = False) -> IndexStatus:
        with self._status_lock:
            now = time.monotonic()
            if not fresh and self._status and now - self._status[0] < _STATUS_TTL:
                return self._status[1]
            st = IndexStatus()
            try:
                conn = self._db.get()
                st.generation = store.generation(conn)
                st.documents = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
                st.chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
                st.embedder = store.manifest(conn).get("embedder", "")
                st.added, st.changed, st.removed = self._diff.diff(
                    self.corpus, conn, exclude=self.settings.index
                )
            except Exception as e:  # a missing or locked index is shown, not raised
                log.warning("index status: %s", e)
            self._status = (now, st)
            return st

    def _forget_status(self) -> None:
        """The next status read walks the corpus again (something changed)."""
        with self._status_lock:
            self._status = None

    def index_changed(self, report: Any = None) -> None:
        """Called after every index run: ours (the re-index job) or the corpus watcher's.
        What it skipped is in the index's own record (``store.skipped_files``), read by
        the next status."""
        self._forget_status()

    @property
    def indexing(self) -> bool:
        """True while an index run (ours or the watcher's) is going."""
        return self.reindex.state.running or bool(getattr(self.watcher, "running", False))

    def start_reindex(self) -> bool:
        self._forget_status()
        return self.reindex.start()

    # -- what the status line and /health say -------------------------------------------
    def notices(self) -> list[str]:
        return notices.active()

    def notice_items(self) -> list[tuple[str, str]]:
        return notices.items()

    def status(self, lang: str = "en", fresh: bool = False) -> list:
        """The status line's items in ``lang`` (:func:`assistant.app.status.items`)."""
        from assistant.app import status

        return status.items(self, lang, fresh=fresh)

    def health(self) -> dict:
        st = self.index_status()
        fetch = self.models.fetch
        return {
            "status": "ok",
            "generation": st.generation,
            "documents": st.documents,
            "chunks": st.chunks,
            "backend": self.backend,
            "loading": self.loading,
            "load_error": self.load_error,
            "model": self.model_state,
            "fetch": fetch.state.to_json() if fetch is not None else None,
            "embedder": st.embedder,
            "index_current": st.current,
            "changed_files": st.pending,
            "reindex": self.reindex.state.to_json(),
            "notices": self.notices(),
            "uptime_s": round(time.time() - self.started, 1),
        }

    # -- files ------------------------------------------------------------------------------
    def add_documents(self, uploads) -> UploadResult:
        """Store ``uploads`` (:class:`~assistant.app.uploads.Upload`) in the corpus and
        start a re-index when any was added: the one upload path of the page and API."""
        result = self.uploads.add(uploads)
        self._forget_status()
        return result

    def corpus_file(self, rel: str) -> Path | None:
        return corpus_file(self.corpus, rel)

    # -- auth -------------------------------------------------------------------------------
    def authorized(self, header: str | None) -> bool:
        """True when no auth is set, or ``header`` carries USER:PASS (Basic or Bearer)."""
        if self.auth is None:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            try:
                value = base64.b64decode(value, validate=True).decode("utf-8")
            except Exception:
                return False
        elif scheme.lower() != "bearer":
            return False
        wanted = f"{self.auth[0]}:{self.auth[1]}"
        return secrets.compare_digest(value.encode("utf-8"), wanted.encode("utf-8"))
