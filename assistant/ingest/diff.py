"""What differs between the corpus folder and the index: the files added, changed and
removed since the last index run, as the status line and ``/health`` show them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from assistant import store
from assistant.ingest.indexer import corpus_files, max_file_bytes


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
        indexed = store.documents_on_record(conn)
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
