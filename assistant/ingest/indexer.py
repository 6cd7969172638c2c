"""One index run: hash the corpus, embed only what is new, commit, rebuild FAISS.

The run is safe to kill at any moment:
- embeddings are committed in batches, keyed by content hash, so a killed run's work
  is reused by the next one;
- documents and chunks change in one final transaction, so readers (and a crash) see
  either the old index or the new one;
- the FAISS file is written last, atomically, tagged with the SQLite generation; a stale
  one is detected and rebuilt from SQLite.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant import notices, store
from assistant.embed.base import describe_identity, embedder_identity
from assistant.embed.load import load_embedder
from assistant.errors import AssistantError
from assistant.ingest.chunking import Chunk, chunk_document
from assistant.ingest.loaders import SUPPORTED_SUFFIXES, LoadError, load_document
from assistant.settings import Settings
from assistant.text.counting import make_token_counter
from assistant.text.tokens import LEXICAL_VERSION, tokenize

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"}
    chunks_total: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    rebuilt: list[str] = field(default_factory=list)  # why a wider re-do happened

    def summary(self) -> dict:
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "renamed": len(self.renamed),
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "chunks": self.chunks_total,
            "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 2),
            "rebuilt": self.rebuilt,
        }


@dataclass
class CorpusFile:
    rel: str
    path: Path
    size: int
    mtime: float
    hash: str


def max_file_bytes(settings: Settings | None = None) -> int:
    """Files larger than this are skipped: ``Settings.max_file_mb`` (``ASSISTANT_MAX_FILE_MB``,
    default 10) MB."""
    return int((settings or Settings()).max_file_mb * 2**20)


def corpus_files(corpus: Path, exclude: Path | None = None) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of the supported files under ``corpus``, sorted.

    Hidden files and folders are left out (``.SOURCES.md`` keeps provenance out of the
    index), and so is ``exclude``, an index folder kept inside the corpus. The indexer and
    the server's "N files changed" check both walk the corpus through this.
    """
    skip_dir = Path(exclude).resolve() if exclude else None
    for root, dirs, files in os.walk(corpus):
        dirs[:] = sorted(
            d for d in dirs
            if not d.startswith(".") and (Path(root) / d).resolve() != skip_dir
        )
        for name in sorted(files):
            if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            path = Path(root) / name
            yield path.relative_to(corpus).as_posix(), path


def scan_corpus(
    corpus: Path, max_bytes: int, skipped: list[dict], exclude: Path | None = None
) -> dict[str, CorpusFile]:
    """Supported files under ``corpus`` (see :func:`corpus_files`) by relative path, with
    their content hash. Unreadable and oversized files go to ``skipped`` with the reason.
    """
    corpus = Path(corpus)
    if not corpus.is_dir():
        raise AssistantError(
            f"The corpus folder {corpus} does not exist.",
            "Create it and put documents in it, or pass --corpus DIR.",
        )
    found: dict[str, CorpusFile] = {}
    for rel, path in corpus_files(corpus, exclude):
        try:
            st = path.stat()
            if st.st_size > max_bytes:
                skipped.append({
                    "path": rel,
                    "reason": f"larger than the {max_bytes // 2**20} MB limit "
                    "(raise ASSISTANT_MAX_FILE_MB to index it)",
                })
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            skipped.append({"path": rel, "reason": "file disappeared during the run"})
            continue
        except OSError as e:
            skipped.append({"path": rel, "reason": f"cannot be read ({e.strerror})"})
            continue
        found[rel] = CorpusFile(rel, path, st.st_size, st.st_mtime, digest)
    return found


def chunk_hash(chunk: Chunk) -> str:
    return hashlib.sha1(chunk.indexed_text().encode("utf-8")).hexdigest()


@contextlib.contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """Only one index run at a time per index folder (a second one waits)."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(index_dir) / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _bar(total: int, desc: str):
    from tqdm import tqdm

    long_work = total >= 64 and not notices.quiet
    return tqdm(total=total, desc=desc, unit="chunk", file=sys.stderr, disable=not long_work)


def run_index(settings: Settings, progress: Progress | None = None, embedder=None) -> IndexReport:
    """Bring ``settings.index`` up to date with ``settings.corpus``."""
    t0 = time.perf_counter()
    report = IndexReport()
    embedder = embedder or load_embedder(settings.embedder, settings.models_dir, settings.threads,
                                  settings.embed_backend)
    count_tokens, counter_name = make_token_counter(
        fallback=embedder.count_tokens, fallback_name=f"embedder:{embedder.name}"
    )
    wanted_manifest = {
        "schema_version": store.SCHEMA_VERSION,
        "embedder": embedder.name,
        "embedder_backend": getattr(embedder, "backend", "torch"),
        "embedder_source": getattr(embedder, "source", ""),
        "dim": embedder.dim,
        "embedder_max_tokens": embedder.max_tokens,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": 0,
        "token_counter": counter_name,
        "lexical": LEXICAL_VERSION,
    }
    with index_lock(settings.index):
        conn = store.connect(settings.index)
        try:
            _run(conn, settings, embedder, count_tokens, wanted_manifest, report, progress)
        finally:
            conn.close()
    report.seconds = time.perf_counter() - t0
    return report


def _reconcile_manifest(conn, old: dict, new: dict, report: IndexReport) -> bool:
    """Drop what a settings change made stale. Returns True when every file re-chunks."""
    if not old:
        return False
    if old.get("schema_version") != new["schema_version"]:
        store.clear_everything(conn)
        report.rebuilt.append("index format changed: rebuilt from scratch")
        return True
    # Indexes from before the ONNX backend, and from before the weights' source was kept.
    old = {"embedder_backend": "torch", "embedder_source": "", **old}
    ident = ("embedder", "embedder_backend", "embedder_source", "dim")
    if any(old.get(k) != new[k] for k in ident):
        store.clear_vectors(conn)
        was, now = describe_identity(embedder_identity(old)), describe_identity(
            embedder_identity(new))
        report.rebuilt.append(
            f"embedder changed from {was} to {now}: every chunk is embedded again"
        )
    keys = ("chunk_tokens", "chunk_overlap", "token_counter", "embedder_max_tokens", "lexical")
    if any(old.get(k) != new[k] for k in keys):
        report.rebuilt.append(
            "chunking settings changed: every document is chunked again "
            "(unchanged chunks keep their embeddings)"
        )
        return True
    return False


@dataclass
class _Plan:
    """What an index run changes, by path: the diff of the folder against the index."""

    on_disk: dict[str, CorpusFile]
    in_db: dict[str, tuple[int, str]]  # path -> (document id, content hash)
    new: dict[str, CorpusFile]
    gone: dict[str, tuple[int, str]]
    changed: list[str]
    renames: list[tuple[str, str, int]]  # (old path, new path, document id)

    @property
    def renamed(self) -> dict[str, int]:
        return {new_path: doc_id for _, new_path, doc_id in self.renames}


def _run(conn, settings, embedder, count_tokens, manifest, report, progress) -> None:
    old_manifest = store.manifest(conn)
    rechunk_all = _reconcile_manifest(conn, old_manifest, manifest, report)
    for why in report.rebuilt:
        notices.announce(f"rebuild:{why}", why)
    on_disk = scan_corpus(settings.corpus, max_file_bytes(settings), report.skipped,
                          settings.index)
    plan = _plan(on_disk, store.document_ids(conn), rechunk_all, report)
    to_write = _load_and_chunk(plan, settings, embedder, count_tokens, report, progress)
    _embed_missing(conn, embedder, to_write, report, progress)
    gen = _commit(conn, plan, to_write, report, manifest, old_manifest, settings)
    report.chunks_total = store.count(conn, "chunks")
    store.write_manifest_file(settings.index, {**manifest, "generation": gen})
    ensure_faiss(conn, settings.index, embedder.dim, embedder.name)


def _plan(on_disk: dict[str, CorpusFile], in_db: dict[str, tuple[int, str]],
          rechunk_all: bool, report: IndexReport) -> _Plan:
    """Diff by path, then pair vanished paths with new paths of the same content: renames."""
    gone = {p: v for p, v in in_db.items() if p not in on_disk}
    new = {p: f for p, f in on_disk.items() if p not in in_db}
    by_hash: dict[str, list[tuple[str, int]]] = {}
    for p, (doc_id, digest) in gone.items():
        by_hash.setdefault(digest, []).append((p, doc_id))
    renames: list[tuple[str, str, int]] = []
    for p, f in list(new.items()):
        if by_hash.get(f.hash):
            old_path, doc_id = by_hash[f.hash].pop()
            renames.append((old_path, p, doc_id))
            del gone[old_path]
            del new[p]
    changed = [p for p, f in on_disk.items() if p in in_db and in_db[p][1] != f.hash]
    if rechunk_all:
        changed = [p for p in on_disk if p in in_db] + [new_path for _, new_path, _ in renames]
    report.unchanged = len(on_disk) - len(new) - len(changed) - (
        0 if rechunk_all else len(renames)
    )
    return _Plan(on_disk, in_db, new, gone, changed, renames)


def _load_and_chunk(plan: _Plan, settings, embedder, count_tokens, report: IndexReport,
                    progress) -> dict[str, tuple[CorpusFile, str, list[Chunk]]]:
    """Load and chunk what is new or changed; a bad file is reported and left out."""
    to_write: dict[str, tuple[CorpusFile, str, list[Chunk]]] = {}
    work = [*plan.new, *plan.changed]
    for i, rel in enumerate(work):
        f = plan.on_disk[rel]
        if progress:
            progress("reading", i, len(work))
        try:
            doc = load_document(f.path, rel)
            # The embedder's own limit as is: chunking keeps its own margin below it.
            chunks = chunk_document(doc, count_tokens, settings.chunk_tokens,
                                    embedder.count_tokens, embedder.max_tokens)
        except LoadError as e:
            report.skipped.append({"path": rel, "reason": str(e)})
            continue
        if not chunks:
            report.skipped.append({"path": rel, "reason": "no text found"})
            continue
        to_write[rel] = (f, doc.title, chunks)
    return to_write


def _embed_missing(conn, embedder, to_write, report: IndexReport, progress) -> None:
    """Embed every chunk text not embedded before (content-addressed: no duplicates),
    and the chunks indexed without a vector: nothing else is embedded again."""
    need: dict[str, str] = {}
    for _, _, chunks in to_write.values():
        for c in chunks:
            need.setdefault(chunk_hash(c), c.indexed_text())
    for digest, title, heading, text in store.chunks_without_vectors(conn):
        need.setdefault(digest, Chunk("", title, heading, text, 0, 0).indexed_text())
    have = store.hashes_with_vectors(conn, list(need))
    _embed(conn, embedder, [(h, t) for h, t in need.items() if h not in have], report,
           progress)


def _commit(conn, plan: _Plan, to_write, report: IndexReport, manifest: dict,
            old_manifest: dict, settings) -> int:
    """Apply every document change in one transaction; return the new generation."""
    now = time.time()
    with conn:
        for old_path, new_path, doc_id in plan.renames:
            store.rename_document(conn, doc_id, new_path, plan.on_disk[new_path].mtime)
            report.renamed.append((old_path, new_path))
        failed = {s["path"] for s in report.skipped}
        for rel in [*plan.gone, *(p for p in plan.changed if p in failed)]:
            if rel in plan.in_db:
                store.delete_document(conn, plan.in_db[rel][0])
                report.removed.append(rel)
        renamed = plan.renamed
        for rel, (f, title, chunks) in to_write.items():
            if rel in plan.in_db:
                store.delete_document(conn, plan.in_db[rel][0])
                report.changed.append(rel)
            elif rel in renamed:  # re-chunked under its new name (moved above)
                store.delete_document(conn, renamed[rel])
            else:
                report.added.append(rel)
            store.insert_document(conn, f.rel, f.hash, f.size, f.mtime, title,
                                  [_new_chunk(c) for c in chunks], now)
        store.drop_unused_vectors(conn)
        touched = (report.added or report.changed or report.removed or report.renamed
                   or report.chunks_embedded or report.rebuilt)
        gen = store.generation(conn) + (1 if touched or not old_manifest else 0)
        unloadable = _unloadable(settings.corpus, plan.on_disk, report.skipped)
        store.set_meta(conn, generation=gen, manifest=json.dumps(manifest),
                       skipped=json.dumps(unloadable, ensure_ascii=False))
    return gen


def _new_chunk(c: Chunk) -> store.NewChunk:
    return store.NewChunk(c.ord, c.title, c.heading, c.text, c.line_start, c.line_end, c.page,
                          chunk_hash(c), " ".join(tokenize(c.indexed_text())))


def _unloadable(corpus: Path, on_disk: dict[str, CorpusFile], skipped: list[dict]) -> dict:
    """The files this run could not load, as they are now (content hash when it could be
    read, size and mtime), so that `assistant doctor` and the server's status, which
    compare the folder with the index, do not take them for new files."""
    out = {}
    for s in skipped:
        rel, f = s["path"], on_disk.get(s["path"])
        if f is not None:
            out[rel] = {"hash": f.hash, "size": f.size, "mtime": f.mtime, "reason": s["reason"]}
            continue
        try:  # unreadable, or too big: no hash, but its size and time say if it changes
            st = (Path(corpus) / rel).stat()
        except OSError:
            continue
        out[rel] = {"hash": None, "size": st.st_size, "mtime": st.st_mtime,
                    "reason": s["reason"]}
    return out


def _embed(conn, embedder, items: list[tuple[str, str]], report, progress) -> None:
    """Embed ``(hash, text)`` pairs, committing every batch so a kill loses little."""
    if not items:
        return
    # Similar lengths in a batch waste less padding; sentence-transformers sorts within
    # a call, so we hand it large calls and commit after each.
    step = 128
    bar = _bar(len(items), "embedding")
    for s in range(0, len(items), step):
        part = items[s : s + step]
        vecs = embedder.embed_passages([t for _, t in part])
        store.put_vectors(conn, [(h, v) for (h, _), v in zip(part, vecs, strict=True)])
        report.chunks_embedded += len(part)
        bar.update(len(part))
        if progress:
            progress("embedding", report.chunks_embedded, len(items))
    bar.close()


def ensure_faiss(conn, index_dir: Path, dim: int, embedder_name: str) -> store.VectorIndex:
    """The FAISS index, rebuilt from SQLite and saved when missing or out of step."""
    vi, from_file = store.current_vectors(conn, index_dir, dim)
    if not from_file:
        vi.save(index_dir, store.generation(conn), embedder_name)
    return vi
