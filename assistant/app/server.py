"""The server: one FastAPI app carrying the chat page, the HTTP API and the source viewer.

One :class:`Service` is shared by the web UI (:mod:`assistant.app.web`) and the HTTP API
(:mod:`assistant.app.api`): the assistant (embedder, searcher and model, loaded once), the
index status, the re-index job and the upload check. Answers keep flowing while a
re-index runs: the indexer commits the new index in one SQLite transaction and the
searcher switches to it on its next query, so a question is answered from the old index
or the new one, never from half of each.

    >>> app = create_app(load_settings())          # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=7860)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import inspect
import logging
import os
import secrets
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant import notices, store
from assistant.errors import AssistantError
from assistant.ingest.indexer import corpus_files, max_file_bytes
from assistant.ingest.loaders import SUPPORTED_SUFFIXES
from assistant.settings import Settings

log = logging.getLogger("assistant.app.server")

MAX_NAME_BYTES = 180  # leaves room for a " (2)" suffix under the usual 255-byte limit
# Settings a person may change per session in the web UI (and per request in the API).
TUNABLE = ("model", "llm_url", "context_tokens", "temperature")
_STATUS_TTL = 2.0  # seconds a computed index status is reused (many tabs poll it)

Watcher = Callable[["Service"], Any]


# ------------------------------------------------------------------------------- status


@dataclass
class IndexStatus:
    generation: int = 0
    documents: int = 0
    chunks: int = 0
    embedder: str = ""
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)

    @property
    def current(self) -> bool:
        return self.pending == 0

    def summary(self) -> str:
        """E.g. "2 files changed since the last index" or "index current"."""
        n = self.pending
        if not n:
            return "index current"
        return f"{n} file{'s' if n != 1 else ''} changed since the last index"


class CorpusDiff:
    """Which corpus files differ from the index, by size and mtime, then content hash.

    A file whose size or mtime moved is hashed (once per size/mtime: the result is
    remembered), so a ``touch`` does not count as a change but an edit does.
    """

    def __init__(self) -> None:
        self._hashes: dict[tuple[str, int, float], str] = {}

    def _hash(self, rel: str, path: Path, size: int, mtime: float) -> str | None:
        key = (rel, size, mtime)
        if key not in self._hashes:
            try:
                self._hashes[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                return None
            if len(self._hashes) > 10_000:
                self._hashes.clear()
        return self._hashes[key]

    def diff(self, corpus: Path, conn,
             exclude: Path | None = None) -> tuple[list[str], list[str], list[str]]:
        # Files the last index run could not load (recorded by the indexer): unchanged
        # since, they are neither new nor changed.
        skipped = {p: (v.get("size"), v.get("mtime"))
                   for p, v in store.skipped_files(conn).items()}
        indexed = {
            r[0]: (r[1], r[2], r[3])
            for r in conn.execute("SELECT path, size, mtime, hash FROM documents")
        }
        max_bytes = max_file_bytes()
        added, changed, seen = [], [], set()
        if Path(corpus).is_dir():
            for rel, path in corpus_files(Path(corpus), exclude):
                try:
                    st = path.stat()
                except OSError:
                    continue
                seen.add(rel)
                if st.st_size > max_bytes or skipped.get(rel) == (st.st_size, st.st_mtime):
                    continue  # the indexer skips it too (and said why)
                if rel not in indexed:
                    added.append(rel)
                    continue
                size, mtime, digest = indexed[rel]
                if st.st_size != size:
                    changed.append(rel)
                elif abs(st.st_mtime - mtime) > 1e-6:
                    h = self._hash(rel, path, st.st_size, st.st_mtime)
                    if h is not None and h != digest:
                        changed.append(rel)
        removed = sorted(p for p in indexed if p not in seen)
        return added, changed, removed


# ------------------------------------------------------------------------------ re-index


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
        self._on_finish = on_finish
        self._lock = threading.Lock()
        self._again = False
        self._idle = threading.Event()
        self._idle.set()
        self.state = JobState()

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
        from assistant.ingest.indexer import run_index

        while True:
            try:
                embedder = self._embedder() if self._embedder else None
                report = run_index(self.settings, progress=self._progress, embedder=embedder)
                self.state.summary, self.state.error = report.summary(), None
            except AssistantError as e:
                self.state.error = e.message
            except Exception as e:  # the server must outlive a failed run
                log.exception("re-index failed")
                self.state.error = f"{type(e).__name__}: {e}"
            with self._lock:
                self.state.runs += 1
                self.state.finished = time.time()
                self.state.stage = "done"
                again, self._again = self._again, False
                if not again:
                    self.state.running = False
            if self._on_finish:
                with contextlib.suppress(Exception):
                    self._on_finish(self.state)
            if not again:
                self._idle.set()
                return
            self.state.started = time.time()


# ------------------------------------------------------------------------------- uploads


def safe_upload_name(name: str) -> str:
    """The file name to store an upload under, or :class:`AssistantError` (status 400).

    Only a bare file name is accepted: no folder part, nothing hidden, no control
    characters, a supported suffix.

    >>> safe_upload_name("笔记.md")
    '笔记.md'
    >>> safe_upload_name("../etc/passwd.md")  # doctest: +SKIP
    AssistantError: The file name '../etc/passwd.md' is not allowed: it names a folder.
    """
    clean = unicodedata.normalize("NFC", name or "").strip()

    def refuse(why: str) -> AssistantError:
        return AssistantError(
            f"The file name {name!r} is not allowed: {why}.",
            "Rename the file (letters, digits, spaces, - and _) and upload it again.",
            status=400,
        )

    if not clean:
        raise refuse("it is empty")
    if "/" in clean or "\\" in clean or clean in (".", ".."):
        raise refuse("it names a folder")
    if clean.startswith("."):
        raise refuse("hidden files are not indexed")
    if any(unicodedata.category(c)[0] == "C" for c in clean):
        raise refuse("it holds control characters")
    if len(clean.encode("utf-8")) > MAX_NAME_BYTES:
        raise refuse(f"it is longer than {MAX_NAME_BYTES} bytes")
    suffix = Path(clean).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = " ".join(sorted(SUPPORTED_SUFFIXES))
        raise AssistantError(
            f"{name!r} is not a supported document type ({suffix or 'no extension'}).",
            f"Upload one of: {allowed}",
            status=415,
        )
    return clean


def check_upload_size(name: str, size: int, max_bytes: int | None = None) -> None:
    # The limit is what the indexer takes (ASSISTANT_MAX_FILE_MB): no accepted upload is
    # then skipped as too large.
    max_bytes = max_file_bytes() if max_bytes is None else max_bytes
    if size > max_bytes:
        raise AssistantError(
            f"{name!r} is {size / 2**20:.1f} MB; the index takes files up to "
            f"{max_bytes / 2**20:g} MB.",
            "Split the document, or start the server with a higher ASSISTANT_MAX_FILE_MB.",
            status=413,
        )


def save_upload(corpus: Path, name: str, data: bytes, max_bytes: int | None = None) -> Path:
    """Store ``data`` in the corpus folder as ``name`` and return the path written.

    Never overwrites: when the name is taken by a different file, " (2)", " (3)", ...
    is added before the suffix; when it is taken by the same content, nothing is written
    and the existing path is returned.
    """
    clean = safe_upload_name(name)
    check_upload_size(name, len(data), max_bytes)
    if not data:
        raise AssistantError(f"{name!r} is empty.", "Upload a file with some text in it.")
    corpus = Path(corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    # Written under a hidden name (the indexer ignores hidden files), then linked into
    # place: os.link fails if the target exists, so two uploads cannot overwrite.
    tmp = corpus / f".upload-{secrets.token_hex(8)}.tmp"
    tmp.write_bytes(data)
    try:
        stem, suffix = Path(clean).stem, Path(clean).suffix
        for i in range(1, 1000):
            target = corpus / (clean if i == 1 else f"{stem} ({i}){suffix}")
            if target.exists():
                with contextlib.suppress(OSError):
                    if target.is_file() and target.read_bytes() == data:
                        return target
                continue
            try:
                os.link(tmp, target)
            except FileExistsError:
                continue
            return target
        raise AssistantError(f"Too many files named like {clean!r}.", "Rename the file.")
    finally:
        tmp.unlink(missing_ok=True)


def corpus_file(corpus: Path, rel: str) -> Path | None:
    """The corpus file ``rel`` names, or None when it is outside the corpus or missing.

    The path is resolved (symlinks and ``..`` followed) before the check, so no
    spelling of a path can reach a file outside the corpus folder.
    """
    if not rel or "\x00" in rel:
        return None
    root = Path(corpus).resolve()
    try:
        target = (root / rel).resolve()
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(root) or target == root or not target.is_file():
        return None
    parts = target.relative_to(root).parts
    if any(p.startswith(".") for p in parts):
        return None
    if target.suffix.lower() not in SUPPORTED_SUFFIXES:
        return None
    return target


# ------------------------------------------------------------------------------ service


def _default_factory(settings: Settings, **shared):
    from assistant.answer.pipeline import Assistant

    return Assistant(settings, **shared)


def _accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD
                                 for p in params.values())


def _warm(assistant):
    """Load what an assistant loads lazily (searcher, embedder, model) now, so the first
    question does not wait for it. Loading embeds nothing."""
    for attr in ("searcher", "generator"):
        getattr(assistant, attr, None)
    warm_model = getattr(assistant, "warm_model", None)
    if callable(warm_model):
        warm_model()
    return assistant


def _stream_params(assistant) -> set[str] | None:
    """The keyword arguments ``assistant.stream`` takes (None: any)."""
    try:
        params = inspect.signature(assistant.stream).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY}


class Service:
    """What the web UI and the HTTP API share. Thread-safe."""

    def __init__(self, settings: Settings, assistant_factory: Callable | None = None,
                 auth: tuple[str, str] | None = None, warm: bool = True):
        self.settings = settings
        self.corpus = Path(settings.corpus)
        self.auth = auth
        self._factory = assistant_factory or _default_factory
        self.assistant = self._factory(settings)
        self._load_error: str | None = None  # the last background load's failure
        if warm:
            _warm(self.assistant)
        self._variants: OrderedDict[tuple, Any] = OrderedDict()
        self._variants_lock = threading.Lock()
        self._db = store.ThreadLocalDB(settings.index)
        self._diff = CorpusDiff()
        self._status: tuple[float, IndexStatus] | None = None
        self._status_lock = threading.Lock()
        self.last_backend: str | None = None
        self.reindex = ReindexJob(settings, embedder=self._embedder, on_finish=self.index_changed)
        self.watcher: Any = None  # set by create_app(watcher=...)
        self.started = time.time()

    # -- the assistant ------------------------------------------------------------------
    def warm_in_background(self) -> threading.Thread:
        """Load the embedder and model in a thread, so the server can listen meanwhile
        (``assistant serve``). A question asked before it ends waits for the load; a load
        that fails is reported by that question, as it would be without warming."""

        def warm() -> None:
            try:
                _warm(self.assistant)
            except Exception as e:  # each question raises it again, with its message
                self._load_error = str(e)
                log.warning("loading the models failed: %s", e)

        thread = threading.Thread(target=warm, name="warm-models", daemon=True)
        thread.start()
        return thread

    @property
    def loading(self) -> bool:
        """True while the models are still being loaded (see :meth:`warm_in_background`)."""
        return self.load_error is None and getattr(self.assistant, "loaded", True) is False

    @property
    def load_error(self) -> str | None:
        """Why the background load failed, while nothing has loaded the models since."""
        return None if getattr(self.assistant, "loaded", True) else self._load_error

    def embedder(self):
        """The assistant's loaded embedder (for index runs), or None."""
        return self._embedder()

    def _embedder(self):
        # Never builds anything: while the models load in the background (or after that
        # load failed) an index run loads its own embedder (load_embedder caches it).
        if hasattr(self.assistant, "built_searcher"):  # the lazy Assistant: only if built
            searcher = self.assistant.built_searcher
        else:
            try:
                searcher = getattr(self.assistant, "searcher", None)
            except Exception:
                searcher = None
        for owner in (self.assistant, searcher):
            emb = getattr(owner, "embedder", None)
            if emb is not None and hasattr(emb, "embed_passages"):
                return emb
        return None

    @property
    def backend(self) -> str:
        """The generator in use, e.g. "extractive" or "llama.cpp · Qwen2.5-1.5B-Instruct"."""
        if self.loading or self.load_error is not None:  # asking now would (re)try the load
            state = "failed to load" if self.load_error is not None else "loading"
            return f"{self.settings.llm_url or self.settings.model} ({state})"
        value = getattr(self.assistant, "backend", None)
        if isinstance(value, str) and value:
            model = self.model_state
            if model and model["state"] == "restarting":
                return f"{value} (restarting after a crash; answers quote the sources)"
            if model and model["state"] == "failed":
                return f"{value} (stopped: {model['error']}; answers quote the sources)"
            return value
        if hasattr(self.assistant, "generator"):
            gen = self.assistant.generator
            return "extractive" if gen is None else str(getattr(gen, "name", gen))
        if self.last_backend:
            return self.last_backend
        if self.settings.llm_url:
            return f"server {self.settings.llm_url}"
        return self.settings.model

    @property
    def model_state(self) -> dict | None:
        """The local model's worker (state, crashes, error, pid), once it is loaded; None
        for a model server, extractive answers or an in-process model."""
        gen = getattr(self.assistant, "built_generator", None)
        state = getattr(gen, "state", None)
        return state if isinstance(state, dict) else None

    def overrides(self, **values) -> dict:
        """The given tunables that differ from the server's settings."""
        out = {}
        for key in TUNABLE:
            v = values.get(key)
            if key == "llm_url" and v is not None:
                v = v.strip() or None
                if (v or None) != (self.settings.llm_url or None):
                    out[key] = v
                continue
            if v is None or v == "":
                continue
            if v != getattr(self.settings, key):
                out[key] = v
        return out

    def assistant_for(self, overrides: dict | None = None) -> tuple[Any, dict]:
        """(assistant, keyword arguments for its ``stream``) honouring ``overrides``.

        Overrides ``stream`` accepts are passed per call on the shared assistant; the
        rest (another model or server) need an assistant of their own, kept for the
        few most recent choices.
        """
        overrides = dict(overrides or {})
        if not overrides:
            return self.assistant, {}
        accepted = _stream_params(self.assistant)
        per_call = {k: v for k, v in overrides.items() if accepted is None or k in accepted}
        rest = {k: v for k, v in overrides.items() if k not in per_call}
        if not rest:
            return self.assistant, per_call
        key = tuple(sorted(overrides.items()))
        with self._variants_lock:
            if key in self._variants:
                self._variants.move_to_end(key)
                return self._variants[key], {}
            try:  # init values outrank env and toml, and the field bounds are checked
                settings = Settings(**{**self.settings.model_dump(), **overrides})
            except Exception as e:
                raise AssistantError(f"Those settings are not valid: {e}",
                                     "Pick values inside the ranges shown.") from e
            # The variant reuses what is loaded: always the searcher, and the model too
            # unless another one is asked for (a second copy of a local model would
            # double the memory for a change of temperature).
            shared = {}
            if _accepts(self._factory, "searcher") and hasattr(self.assistant, "searcher"):
                shared["searcher"] = self.assistant.searcher
            same_model = not ({"model", "llm_url"} & overrides.keys())
            if (same_model and _accepts(self._factory, "generator")
                    and hasattr(self.assistant, "generator")):
                shared["generator"] = self.assistant.generator
            variant = _warm(self._factory(settings, **shared))
            self._variants[key] = variant
            while len(self._variants) > 2:
                self._variants.popitem(last=False)
            return variant, {}

    def stream(self, question: str, history: list[dict] | None = None,
               overrides: dict | None = None) -> Iterator:
        """Events of one chat turn (see :class:`assistant.answer.pipeline.Event`).

        Not a generator itself: a question the assistant refuses up front (empty, no
        index, a model that cannot load) raises :class:`AssistantError` here, before
        any event, so the HTTP API can still answer with an error status.
        """
        assistant, kw = self.assistant_for(overrides)
        events = assistant.stream(question, history or [], **kw)

        def watch() -> Iterator:
            for event in events:
                if event.kind == "done" and event.answer is not None:
                    self.last_backend = event.answer.backend or self.last_backend
                yield event

        return watch()

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

    def notices(self) -> list[str]:
        return notices.active()

    def health(self) -> dict:
        st = self.index_status()
        return {
            "status": "ok",
            "generation": st.generation,
            "documents": st.documents,
            "chunks": st.chunks,
            "backend": self.backend,
            "loading": self.loading,
            "load_error": self.load_error,
            "model": self.model_state,
            "embedder": st.embedder,
            "index_current": st.current,
            "changed_files": st.pending,
            "reindex": self.reindex.state.to_json(),
            "notices": self.notices(),
            "uptime_s": round(time.time() - self.started, 1),
        }

    # -- files ------------------------------------------------------------------------------
    def save_upload(self, name: str, data: bytes) -> Path:
        path = save_upload(self.corpus, name, data)
        self._forget_status()
        return path

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


# ------------------------------------------------------------------------------ the app


def create_app(settings: Settings, *, auth: tuple[str, str] | None = None,
               assistant_factory: Callable | None = None, watcher: Watcher | None = None,
               service: Service | None = None, warm: bool = True):
    """The FastAPI app: HTTP API routes first, the Gradio chat mounted at ``/``.

    ``watcher``, when given, is called once as ``watcher(service)`` and may return an
    object with a ``running`` attribute (shown in the status line); it should call
    ``service.index_changed(report)`` after each index run it makes, or
    ``service.start_reindex()`` to have the server make one. ``warm=False`` leaves the
    models to :meth:`Service.warm_in_background` (or to the first question).
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr
    from fastapi import FastAPI

    from assistant.app import api, web

    service = service or Service(settings, assistant_factory, auth=auth, warm=warm)
    app = FastAPI(title="assistant", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    api.install(app, service)
    demo = web.build_ui(service)
    gr.mount_gradio_app(
        app,
        demo,
        path="/",
        footer_links=["api"],
        run_history=False,
        max_file_size=max_file_bytes(),  # what the indexer takes
        show_error=True,
        theme=web.theme(),
        css=web.CSS,
        head=web.HEAD,
        allowed_paths=[],
    )
    if watcher is not None:
        service.watcher = watcher(service)
    return app
