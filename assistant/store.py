"""The index on disk: SQLite is the source of truth, FAISS a derived copy of the vectors.

SQLite holds documents, chunks, content hashes, the BM25 full-text index, every chunk's
embedding (keyed by the hash of the text embedded, so a chunk that reappears is never
embedded twice) and the manifest. ``vectors.faiss`` holds the same vectors keyed by chunk
id; it carries the SQLite generation it was built from and is rebuilt, without any
re-embedding, whenever the two disagree (after a crash, or a hand-edited file).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.atomic import write_json_atomic

SCHEMA_VERSION = 1
DB_NAME = "store.sqlite3"
FAISS_NAME = "vectors.faiss"
FAISS_META = "vectors.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    title TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    title TEXT NOT NULL,
    heading TEXT NOT NULL,
    text TEXT NOT NULL,
    line_start INTEGER NOT NULL,
    line_end INTEGER NOT NULL,
    page INTEGER,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ord);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(hash);
CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vec BLOB NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    tokens, tokenize = 'unicode61 remove_diacritics 2'
);
"""


@dataclass
class ChunkRow:
    id: int
    doc: str
    title: str
    heading: str
    text: str
    line_start: int
    line_end: int
    page: int | None
    ord: int
    doc_id: int


def connect(index_dir: Path) -> sqlite3.Connection:
    """Open (creating if needed) the index database in WAL mode.

    WAL lets searches read the last committed index while an index run writes the
    next one; readers switch only when the run commits, all at once.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(index_dir / DB_NAME, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(_SCHEMA)
    return conn


def get_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def set_meta(conn: sqlite3.Connection, **values: object) -> None:
    conn.executemany(
        "INSERT INTO meta(key, value) VALUES(?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(k, str(v)) for k, v in values.items()],
    )


def generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def manifest(conn: sqlite3.Connection) -> dict:
    """The manifest as recorded in SQLite (also mirrored to ``manifest.json``)."""
    raw = get_meta(conn).get("manifest")
    return json.loads(raw) if raw else {}


def skipped_files(conn: sqlite3.Connection) -> dict[str, dict]:
    """Corpus files the last index run could not load: path -> {"hash", "size", "mtime",
    "reason"}. They are on disk but not in the index, and are not new."""
    raw = get_meta(conn).get("skipped")
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {p: v for p, v in data.items() if isinstance(v, dict)}


def documents_on_record(conn: sqlite3.Connection) -> dict[str, tuple[int, float, str]]:
    """Each indexed document's path -> (size, mtime, content hash) when it was indexed."""
    return {r[0]: (r[1], r[2], r[3])
            for r in conn.execute("SELECT path, size, mtime, hash FROM documents")}


# ------------------------------------------------------------------ what the indexer writes


def clear_everything(conn: sqlite3.Connection) -> None:
    """Forget every document, chunk and vector (an index format change)."""
    conn.executescript("DELETE FROM chunks; DELETE FROM documents; DELETE FROM vectors; "
                       "DELETE FROM chunks_fts;")


def clear_vectors(conn: sqlite3.Connection) -> None:
    """Forget every vector (another embedder: all are embedded again)."""
    conn.execute("DELETE FROM vectors")


def document_ids(conn: sqlite3.Connection) -> dict[str, tuple[int, str]]:
    """Each indexed document's path -> (id, content hash)."""
    return {path: (doc_id, digest)
            for doc_id, path, digest in conn.execute("SELECT id, path, hash FROM documents")}


def chunks_without_vectors(conn: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    """(hash, title, heading, text) of the chunks that have no vector (after an embedder
    change, or a database restored from a copy)."""
    return conn.execute(
        "SELECT c.hash, c.title, c.heading, c.text FROM chunks c "
        "LEFT JOIN vectors v ON v.hash = c.hash WHERE v.hash IS NULL"
    ).fetchall()


def hashes_with_vectors(conn: sqlite3.Connection, hashes: list[str]) -> set[str]:
    """The ones of ``hashes`` that have a vector already."""
    have: set[str] = set()
    for s in range(0, len(hashes), 500):  # SQLite's limit on bound parameters
        part = hashes[s : s + 500]
        marks = ",".join("?" * len(part))
        have.update(r[0] for r in conn.execute(
            f"SELECT hash FROM vectors WHERE hash IN ({marks})", part))
    return have


def put_vectors(conn: sqlite3.Connection, rows: list[tuple[str, np.ndarray]]) -> None:
    """Store each (hash, vector), committed: a kill loses only the batch in hand."""
    with conn:
        conn.executemany("INSERT OR REPLACE INTO vectors(hash, vec) VALUES(?, ?)",
                         [(h, v.astype("float32").tobytes()) for h, v in rows])


def rename_document(conn: sqlite3.Connection, doc_id: int, path: str, mtime: float) -> None:
    conn.execute("UPDATE documents SET path = ?, mtime = ? WHERE id = ?", (path, mtime, doc_id))


def delete_document(conn: sqlite3.Connection, doc_id: int) -> None:
    conn.execute(
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,)
    )
    conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
    conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))


@dataclass
class NewChunk:
    ord: int
    title: str
    heading: str
    text: str
    line_start: int
    line_end: int
    page: int | None
    hash: str  # of the text embedded
    tokens: str  # the full-text index's tokens, space-separated


def insert_document(conn: sqlite3.Connection, path: str, digest: str, size: int,
                    mtime: float, title: str, chunks: list[NewChunk], now: float) -> None:
    cur = conn.execute(
        "INSERT INTO documents(path, hash, size, mtime, title, n_chunks, indexed_at) "
        "VALUES(?, ?, ?, ?, ?, ?, ?)",
        (path, digest, size, mtime, title, len(chunks), now),
    )
    doc_id = cur.lastrowid
    for c in chunks:
        cur = conn.execute(
            "INSERT INTO chunks(doc_id, ord, title, heading, text, line_start, line_end, page, "
            "hash) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc_id, c.ord, c.title, c.heading, c.text, c.line_start, c.line_end, c.page,
             c.hash),
        )
        conn.execute("INSERT INTO chunks_fts(rowid, tokens) VALUES(?, ?)",
                     (cur.lastrowid, c.tokens))


def drop_unused_vectors(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM vectors WHERE hash NOT IN (SELECT hash FROM chunks)")


def count(conn: sqlite3.Connection, table: str) -> int:
    """Rows in ``table`` (documents, chunks, vectors or chunks_fts)."""
    if table not in ("documents", "chunks", "vectors", "chunks_fts"):
        raise ValueError(table)
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


# ------------------------------------------------------------------ what search reads


def bm25(conn: sqlite3.Connection, match: str, k: int) -> list[tuple[int, float]]:
    """(chunk id, BM25 score) of the ``k`` best chunks for an FTS5 ``match``, best first."""
    rows = conn.execute(
        "SELECT rowid, -bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? "
        "ORDER BY s DESC LIMIT ?", (match, k),
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def chunks_with_phrase(conn: sqlite3.Connection, token: str) -> int:
    """How many chunks hold ``token`` (0 when FTS5 cannot parse it)."""
    phrase = '"' + token.replace('"', '""') + '"'
    try:
        row = conn.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                           (phrase,)).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


def neighbours(conn: sqlite3.Connection, doc_id: int, heading: str, ord_: int,
               reach: int = 4) -> list[tuple[int, int, str, int, int]]:
    """(id, ord, text, line_start, line_end) of the chunks within ``reach`` of chunk
    ``ord_`` under the same heading of the same document, in order."""
    return conn.execute(
        "SELECT id, ord, text, line_start, line_end FROM chunks "
        "WHERE doc_id = ? AND heading = ? AND ord BETWEEN ? AND ? ORDER BY ord",
        (doc_id, heading, ord_ - reach, ord_ + reach),
    ).fetchall()


# ------------------------------------------------------------------ what doctor checks


def integrity(conn: sqlite3.Connection) -> list[str]:
    """SQLite's own check: ``["ok"]`` when the file is sound."""
    return [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]


def chunks_missing_vectors(conn: sqlite3.Connection) -> int:
    return int(conn.execute(
        "SELECT COUNT(*) FROM chunks c LEFT JOIN vectors v ON v.hash = c.hash "
        "WHERE v.hash IS NULL").fetchone()[0])


def chunks_missing_fts(conn: sqlite3.Connection) -> int:
    return int(conn.execute(
        "SELECT COUNT(*) FROM chunks c WHERE NOT EXISTS "
        "(SELECT 1 FROM chunks_fts f WHERE f.rowid = c.id)").fetchone()[0])


def write_manifest_file(index_dir: Path, data: dict) -> None:
    write_json_atomic(Path(index_dir) / "manifest.json", data)


def chunk_rows(conn: sqlite3.Connection, ids: list[int]) -> dict[int, ChunkRow]:
    """Chunks by id, with their document path."""
    if not ids:
        return {}
    out: dict[int, ChunkRow] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ",".join("?" * len(part))
        for r in conn.execute(
            "SELECT c.id, d.path, c.title, c.heading, c.text, c.line_start, c.line_end, "
            f"c.page, c.ord, c.doc_id FROM chunks c JOIN documents d ON d.id = c.doc_id "
            f"WHERE c.id IN ({marks})",
            part,
        ):
            out[r[0]] = ChunkRow(*r)
    return out


def vectors_for_chunks(conn: sqlite3.Connection, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(chunk ids, vectors) of every chunk, from SQLite."""
    rows = conn.execute(
        "SELECT c.id, v.vec FROM chunks c JOIN vectors v ON v.hash = c.hash ORDER BY c.id"
    ).fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vecs = np.zeros((len(rows), dim), dtype=np.float32)
    for i, r in enumerate(rows):
        vecs[i] = np.frombuffer(r[1], dtype=np.float32)
    return ids, vecs


class VectorIndex:
    """FAISS inner-product index over unit vectors, keyed by chunk id.

    A flat (exact) index: at the sizes a personal folder reaches (up to ~10^5 chunks)
    an exact search of 384-dim vectors takes a few milliseconds, and it needs no
    training, so adding or removing documents never degrades it.
    """

    def __init__(self, dim: int):
        import faiss

        self.dim = dim
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def build(cls, ids: np.ndarray, vecs: np.ndarray, dim: int) -> VectorIndex:
        vi = cls(dim)
        if len(ids):
            vi.index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
        return vi

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def vectors(self, ids: list[int]) -> np.ndarray | None:
        """The stored vectors of chunks ``ids`` (rows in that order); None when one of
        them is gone (removed by an index run since the caller's search)."""
        try:
            return np.vstack([self.index.reconstruct(int(i)) for i in ids])
        except RuntimeError:
            return None

    def search(self, vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        if len(self) == 0:
            return []
        scores, ids = self.index.search(vec.reshape(1, -1).astype(np.float32), min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self, index_dir: Path, gen: int, embedder: str) -> None:
        """Write atomically: a reader sees the old file or the new one, never half."""
        import faiss

        index_dir = Path(index_dir)
        tmp = index_dir / (FAISS_NAME + ".tmp")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, index_dir / FAISS_NAME)
        meta = {"generation": gen, "count": len(self), "dim": self.dim, "embedder": embedder}
        write_json_atomic(index_dir / FAISS_META, meta)

    @classmethod
    def load(cls, index_dir: Path, dim: int, meta: dict | None = None
             ) -> tuple[VectorIndex, dict] | None:
        """The saved index and its metadata (``meta``, if the caller read it already),
        or None when missing or unreadable."""
        import faiss

        index_dir = Path(index_dir)
        meta = faiss_meta(index_dir) if meta is None else meta
        if not meta:
            return None
        try:
            raw = faiss.read_index(str(index_dir / FAISS_NAME))
        except Exception:
            return None
        if raw.d != dim:
            return None
        vi = cls(dim)
        vi.index = faiss.downcast_index(raw) if not isinstance(raw, faiss.IndexIDMap2) else raw
        if not hasattr(vi.index, "id_map"):
            return None
        return vi, meta


def faiss_meta(index_dir: Path) -> dict:
    """The FAISS file's metadata (its generation), or {} when missing or unreadable."""
    try:
        meta = json.loads((Path(index_dir) / FAISS_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def current_vectors(
    conn: sqlite3.Connection, index_dir: Path, dim: int
) -> tuple[VectorIndex, bool]:
    """The vectors of SQLite's current generation, and whether they came from the FAISS
    file: it is used when it agrees with SQLite, else they are built from SQLite (the
    source of truth). The file's small metadata is checked first, so a file left behind
    by an earlier generation is not read only to be thrown away."""
    meta = faiss_meta(index_dir)
    if int(meta.get("generation", -1)) == generation(conn):
        loaded = VectorIndex.load(index_dir, dim, meta)
        if loaded is not None and faiss_agrees(conn, *loaded) is None:
            return loaded[0], True
    ids, vecs = vectors_for_chunks(conn, dim)
    return VectorIndex.build(ids, vecs, dim), False


def faiss_agrees(conn: sqlite3.Connection, vi: VectorIndex, meta: dict) -> str | None:
    """Why the FAISS file disagrees with SQLite, or None when they agree."""
    gen = generation(conn)
    if int(meta.get("generation", -1)) != gen:
        return f"built from generation {meta.get('generation')} but SQLite is at {gen}"
    n = conn.execute(
        "SELECT COUNT(*) FROM chunks c JOIN vectors v ON v.hash = c.hash"
    ).fetchone()[0]
    if len(vi) != n:
        return f"holds {len(vi)} vectors but SQLite has {n} embedded chunks"
    db_ids = {r[0] for r in conn.execute("SELECT id FROM chunks")}
    if set(vi.ids().tolist()) != db_ids:
        return "its chunk ids differ from SQLite's"
    return None


class ThreadLocalDB:
    """One read connection per thread: sqlite3 connections must not be shared."""

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.index_dir / DB_NAME, timeout=30, check_same_thread=False
            )
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
        return conn
