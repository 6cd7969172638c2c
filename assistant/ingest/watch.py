"""Follow the corpus folder: re-index when a supported file is created, changed, deleted
or renamed.

The watcher only decides *when*: events are debounced (an editor's save is several
events; a copied folder is hundreds), then it starts a :class:`~assistant.ingest.jobs.
ReindexJob`, the one re-index runner the server uses too, so runs never overlap and a
change during a run triggers one more run after it. The index run itself finds what
changed by content hash, so a burst of events costs one run, and a run after a no-op
event (a ``touch``) costs a scan of the corpus and nothing more. Searchers pick up each
committed generation by themselves.

    watcher = CorpusWatcher(settings, on_indexed=print).start()
    ...
    watcher.stop()

What ``assistant index --watch`` prints of it is ``assistant/app/cli/watch.py``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from assistant.errors import AssistantError
from assistant.ingest.jobs import JobState, ReindexJob
from assistant.ingest.loaders import SUPPORTED_SUFFIXES
from assistant.settings import Settings

OnIndexed = Callable[[object], None]  # receives the IndexReport
OnError = Callable[[BaseException], None]

# A stream of events that never pauses (a long copy) still gets indexed this often.
MAX_WAIT_FACTOR = 10
OBSERVER_STOP_S = 5.0  # longest wait for the file observer to stop


class CorpusWatcher:
    """Watch ``settings.corpus`` and keep ``settings.index`` following it.

    ``on_indexed(report)`` is called after every run (from the run's thread);
    ``on_error(exc)`` when a run fails (default: print it to stderr and keep watching).
    ``job`` is the re-index runner to start (the server passes its own, so an upload and
    a change in the folder share one queue); by default the watcher makes one.
    """

    def __init__(
        self,
        settings: Settings,
        on_indexed: OnIndexed | None = None,
        *,
        debounce: float = 1.0,
        on_error: OnError | None = None,
        embedder=None,
        job: ReindexJob | None = None,
    ):
        self.settings = settings
        self.on_indexed = on_indexed
        self.on_error = on_error or _print_error
        self.debounce = max(0.0, float(debounce))
        self._own_job = job is None
        self.job = job or ReindexJob(settings, embedder=(lambda: embedder) if embedder else None)
        self.corpus = Path(settings.corpus).resolve()
        self.index_dir = Path(settings.index).resolve()
        self.runs = 0  # successful runs this watcher started or saw
        self.last_report = None
        self.last_error: BaseException | None = None
        self._cond = threading.Condition()
        self._dirty = False
        self._first_event = self._last_event = 0.0
        self._stopping = False
        self._observer = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """An index run is in progress (for a status line)."""
        return self.job.state.running

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> CorpusWatcher:
        if not self.corpus.is_dir():
            raise AssistantError(f"The corpus folder {self.corpus} does not exist.",
                                 "Create it, or pass --corpus DIR.")
        self.job.listeners.append(self._finished)
        self._observer = _observer(self.corpus, _Handler(self))
        self._thread = threading.Thread(target=self._loop, name="corpus-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop watching; a run in progress is finished first (waits up to ``timeout``)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            # Its threads are daemons that only watch files: a stuck inotify read must not
            # keep Ctrl-C from ending the process.
            self._observer.join(OBSERVER_STOP_S if timeout is None else timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._own_job:
            self.job.wait(timeout)
        with contextlib.suppress(ValueError):
            self.job.listeners.remove(self._finished)

    def __enter__(self) -> CorpusWatcher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def request(self) -> None:
        """Ask for a run, as if a file had changed."""
        with self._cond:
            now = time.monotonic()
            if not self._dirty:
                self._first_event = now
            self._dirty = True
            self._last_event = now
            self._cond.notify_all()

    # -- events ------------------------------------------------------------------------
    def relevant(self, path: str | bytes, is_directory: bool) -> bool:
        """Does a change at ``path`` matter to the index?"""
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        p = Path(path)
        try:
            rel = p.resolve().relative_to(self.corpus) if p.is_absolute() else p
        except ValueError:  # outside the corpus (a move out of it: see the other side)
            return False
        if _inside(p, self.index_dir):
            return False
        if any(part.startswith(".") for part in rel.parts):
            return False
        # A folder moved or deleted takes its files with it; a new folder's files
        # announce themselves.
        return is_directory or p.suffix.lower() in SUPPORTED_SUFFIXES

    # -- the debounce --------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                # Quiet for ``debounce`` seconds, or waited long enough in a stream.
                while not self._stopping:
                    now = time.monotonic()
                    quiet_at = self._last_event + self.debounce
                    latest = self._first_event + self.debounce * MAX_WAIT_FACTOR
                    wait = min(quiet_at, latest) - now
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopping:
                    return
                self._dirty = False
            self.job.start()  # during a run: queued as one more run after it

    def _finished(self, state: JobState) -> None:
        """After each run of the job (from its thread)."""
        if state.error is not None:  # keep watching: the next change may fix it (a bad file)
            self.last_error = self.job.exception or AssistantError(state.error)
            self.on_error(self.last_error)
            return
        self.runs += 1
        self.last_report = self.job.report
        self.last_error = None
        if self.on_indexed is not None:
            try:
                self.on_indexed(self.job.report)
            except Exception as e:
                self.on_error(e)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
    except ValueError:
        return False
    return True


def _print_error(e: BaseException) -> None:
    """The default ``on_error``, in English; ``assistant index --watch`` passes its own, in
    the locale's language (``assistant/app/cli/watch.py``)."""
    print(f"Error while re-indexing: {e}", file=sys.stderr, flush=True)


class _Handler:
    """watchdog event handler: every relevant event marks the index dirty."""

    def __init__(self, watcher: CorpusWatcher):
        self.watcher = watcher

    def dispatch(self, event) -> None:
        kind = event.event_type
        if kind not in ("created", "modified", "deleted", "moved", "closed"):
            return  # opened, closed_no_write, attrib: nothing changed
        if kind == "modified" and event.is_directory:
            return  # a folder's mtime changes whenever a file in it does
        paths = [event.src_path]
        if kind == "moved":
            paths.append(event.dest_path)
        if any(self.watcher.relevant(p, event.is_directory) for p in paths):
            self.watcher.request()


def _observer(folder: Path, handler: _Handler):
    """A started watchdog observer; polling when the OS watcher cannot start (e.g. the
    inotify watch limit is reached, or a network file system)."""
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    from assistant import notices

    try:
        obs = Observer()
        obs.schedule(handler, str(folder), recursive=True)
        obs.start()
        return obs
    except OSError as e:
        notices.announce(
            "watch-polling",
            f"the file system cannot notify changes in {folder} ({e.strerror or e}); "
            "polling it every second instead",
        )
    obs = PollingObserver(timeout=1.0)
    obs.schedule(handler, str(folder), recursive=True)
    obs.start()
    return obs


def watch_corpus(
    settings: Settings,
    on_indexed: OnIndexed | None = None,
    debounce: float = 1.0,
    stop_event: threading.Event | None = None,
) -> None:
    """Watch until ``stop_event`` is set (or Ctrl-C), re-indexing after each change.

    Blocks. No initial run: call ``run_index`` first if the index may be stale.
    """
    watcher = CorpusWatcher(settings, on_indexed, debounce=debounce).start()
    stop_event = stop_event or threading.Event()
    try:
        while not stop_event.wait(0.5):
            pass
    finally:
        watcher.stop()
