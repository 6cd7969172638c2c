"""Hybrid search: BM25 over Chinese-aware tokens and dense vectors, fused by score.

Plain reciprocal-rank fusion lets a weak embedder outvote a strong lexical ranking
(DESIGN.md §3: top-1 on CMRC 2018 fell from 0.65 to 0.09). Here both parts are scored
on the same candidate set, each min-max normalised, and mixed with a weight that depends
on how well the embedder covers the question's script (see ``dense_weight``). The
weights were chosen on CMRC 2018, SQuAD 2.0 and the dev questions together; see
BENCHMARKS.md.

Search runs on small chunks (precise matches); each hit is then widened with its
neighbours under the same heading into a passage of about ``passage_tokens`` tokens,
so the model and the reader get the surrounding sentences ("small-to-big").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from assistant import store
from assistant.embed.base import describe_identity, embedder_identity, profile
from assistant.embed.load import load_embedder
from assistant.errors import AssistantError
from assistant.retrieve import definitions, proximity
from assistant.settings import Settings
from assistant.text.counting import make_token_counter
from assistant.text.language import language
from assistant.text.tokens import fts_query, query_tokens

QUERY_VECTORS_KEPT = 16  # questions whose embedding is kept (concurrent users)
# What holding all of the question's word pairs in order adds to the fused score (which
# runs 0..2): bench/fusion_sweep.py, 0 -> 0.2 -> 0.5, r1/cr500 on CMRC 0.910/0.974 ->
# 0.914/0.974 -> 0.915/0.973 (0.3), SQuAD 0.859/0.951 -> 0.862/0.951, seeds_dev 0.893/0.964
# at 0.2 and 0.893/0.929 at 0.5; paraphrased and request-worded questions unchanged.
PROXIMITY_WEIGHT = 0.2

# Embedders trained on many languages; any other is treated as English-only.
@dataclass
class Hit:
    chunk_id: int
    doc: str
    title: str
    heading: str
    text: str
    line_start: int
    line_end: int
    page: int | None
    score: float

    def to_json(self) -> dict:
        out = {
            "text": self.text,
            "doc": self.doc,
            "title": self.title,
            "heading": self.heading,
            "lines": [self.line_start, self.line_end],
            "score": round(float(self.score), 4),
        }
        if self.page is not None:
            out["page"] = self.page
        return out


def dense_weight(embedder_name: str, query: str) -> float:
    """How much the dense score counts next to BM25 (which counts 1).

    An English-only embedder (the packaged MiniLM) maps Chinese text to near-noise
    vectors (dense alone: r1 0.03 on CMRC 2018), so for Chinese questions its vote is
    switched off; for Latin-script questions it adds what BM25 misses (paraphrases):
    on SQuAD 2.0, weights 0.3/0.5/0.8/1.2 gave r1 0.822/0.833/0.834/0.830 and cr500
    0.939/0.946/0.952/0.950 against BM25's 0.807/0.916 (BENCHMARKS.md).
    multilingual-e5-small (the bundled weights, int8 ONNX; bench/fusion_sweep.py) reads
    Chinese: alone it scores r1 0.844 on CMRC 2018 (BM25 0.878), and fused they do better
    than either at every weight from 0.3 up: r1/cr500 0.892/0.973 at 0.3, 0.903/0.974 at
    0.6, 0.905/0.975 at 1.0, 0.911/0.978 at 1.7; on seeds_dev r1 0.857 up to 0.6 and 0.893
    from 0.8; on SQuAD 2.0 r1 stays 0.854-0.858 from 0.45 up while cr500 climbs from 0.948
    (0.6) to 0.953 (1.0), against BM25's 0.833/0.928 and dense's 0.758/0.903. So 1.0 for
    both scripts, the middle of that plateau: both parts on an equal footing.
    """
    if profile(embedder_name).multilingual:
        return 1.0
    return 0.0 if language(query) == "zh" else 0.8


class Searcher:
    """Searches one index folder; reloads by itself when an index run commits."""

    def __init__(self, settings: Settings, embedder=None, passage_tokens: int = 250):
        self.settings = settings
        self.db = store.ThreadLocalDB(settings.index)
        if not (settings.index / store.DB_NAME).exists():
            raise AssistantError(
                f"No index in {settings.index}.",
                f"Build it with: assistant index --corpus {settings.corpus} "
                f"--index {settings.index}",
            )
        self.manifest = store.manifest(self.db.get())
        if not self.manifest:
            raise AssistantError(
                f"The index in {settings.index} is empty or unfinished.",
                "Run: assistant index",
            )
        self.embedder = embedder or load_embedder(
            settings.embedder, settings.models_dir, settings.threads, settings.embed_backend
        )
        now = embedder_identity(self.embedder)
        built = embedder_identity(self.manifest)
        if now != built:
            raise AssistantError(
                f"The index was built with {describe_identity(built)} but the embedder now "
                f"is {describe_identity(now)}.",
                "Run `assistant index` to re-embed, or set the embedder back.",
            )
        self.count_tokens, _ = make_token_counter(fallback=self.embedder.count_tokens)
        self.passage_tokens = passage_tokens
        self._lock = threading.Lock()
        self._gen = -1
        self._vectors: store.VectorIndex | None = None
        # One question's vector serves search, the abstain check and extractive answers.
        self._qvecs: OrderedDict[str, np.ndarray] = OrderedDict()
        self._qlock = threading.Lock()
        self.refresh()

    # -- index state ----------------------------------------------------------------
    def refresh(self) -> bool:
        """Load the vectors of the latest committed generation. True when it changed."""
        conn = self.db.get()
        gen = store.generation(conn)
        if gen == self._gen and self._vectors is not None:
            return False
        with self._lock:
            if gen != self._gen or self._vectors is None:
                # A reader never rewrites the file (an index run may be writing it): a
                # stale file is replaced by vectors built in memory from SQLite.
                dim = int(self.manifest["dim"])
                self._vectors, _ = store.current_vectors(conn, self.settings.index, dim)
                self._gen = gen
                self.manifest = store.manifest(conn)
        return True

    # -- the two parts ------------------------------------------------------------------
    def lexical(self, query: str, k: int) -> list[tuple[int, float]]:
        """BM25 over jieba tokens: (chunk id, score), best first; score > 0."""
        toks = query_tokens(query)
        if not toks:
            return []
        return store.bm25(self.db.get(), fts_query(toks), k)

    def chunk_vectors(self, chunk_ids: list[int]) -> np.ndarray | None:
        """The vectors of ``chunk_ids`` in the index searched last (None: not at hand)."""
        return self._vectors.vectors(chunk_ids) if self._vectors is not None else None

    def query_vector(self, query: str) -> np.ndarray:
        """The embedding of ``query``, kept for the last few questions: one answer reads it
        three times (search, abstaining, extractive sentence choice)."""
        with self._qlock:
            vec = self._qvecs.get(query)
            if vec is not None:
                self._qvecs.move_to_end(query)
                return vec
        vec = self.embedder.embed_query(query)
        with self._qlock:
            self._qvecs[query] = vec
            while len(self._qvecs) > QUERY_VECTORS_KEPT:
                self._qvecs.popitem(last=False)
        return vec

    def dense(self, query: str, k: int, qvec: np.ndarray | None = None) -> list[tuple[int, float]]:
        if self._vectors is None or len(self._vectors) == 0:
            return []
        qvec = self.query_vector(query) if qvec is None else qvec
        return self._vectors.search(qvec, k)

    # -- fusion ---------------------------------------------------------------------------
    def ranked_chunks(self, query: str, k: int, mode: str = "hybrid") -> list[tuple[int, float]]:
        """Chunk ids with fused scores, best first. ``mode``: hybrid, lexical or dense."""
        self.refresh()
        pool = max(50, 5 * k)
        if mode == "lexical":
            return self.lexical(query, k)
        if mode == "dense":
            return self.dense(query, k)
        w = dense_weight(self.embedder.name, query)
        lex = dict(self.lexical(query, pool))
        if w == 0.0:  # no need to embed the query (the costly part under load)
            return sorted(lex.items(), key=lambda x: -x[1])[:k] or self.dense(query, k)
        qvec = self.query_vector(query)
        den = dict(self.dense(query, pool, qvec))
        cands = list(lex.keys() | den.keys())
        if not cands:  # an empty index, or a question that matches nothing
            return []
        # Score every candidate on both parts, so a passage found by one part alone
        # is not ranked as if the other part had scored it zero.
        missing = [c for c in cands if c not in den]
        vecs = self.chunk_vectors(missing) if missing else None
        if vecs is not None:
            den.update(zip(missing, (vecs @ qvec).tolist(), strict=True))
        lx = np.array([lex.get(c, 0.0) for c in cands])
        dn = np.array([den[c] for c in cands])
        lx = lx / lx.max() if lx.max() > 0 else lx
        span = dn.max() - dn.min()
        dn = (dn - dn.min()) / span if span > 0 else np.zeros_like(dn)
        fused = lx + w * dn
        if PROXIMITY_WEIGHT and (phrases := proximity.pairs(query)):
            # Only a candidate within the weight of the k-th best can enter the top k: the
            # others' texts are not read (half the candidates or more).
            kth = np.partition(fused, -k)[-k] if len(fused) > k else fused.min()
            near = np.flatnonzero(fused >= kth - PROXIMITY_WEIGHT)
            rows = store.chunk_rows(self.db.get(), [cands[i] for i in near])
            for i in near:
                row = rows.get(cands[i])
                if row is not None:
                    fused[i] += PROXIMITY_WEIGHT * proximity.share_held(phrases, row.text)
        order = np.argsort(-fused)[:k]
        return [(cands[i], float(fused[i])) for i in order]

    def search(self, query: str, k: int | None = None, mode: str = "hybrid",
               expand: bool = True) -> list[Hit]:
        """The best passages for ``query``, each widened to its neighbours.

        >>> searcher.search("vLLM 是哪个机构开发的？", k=5)[0].doc  # doctest: +SKIP
        'ai-os-notes.md'
        """
        query = (query or "").strip()
        if not query:
            return []
        k = k or self.settings.top_k
        ranked = self.ranked_chunks(query, k * 2 if expand else k, mode)
        rows = store.chunk_rows(self.db.get(), [cid for cid, _ in ranked])
        hits = []
        for cid, score in ranked:
            r = rows.get(cid)
            if r is None:  # deleted by an index run between two reads
                continue
            hits.append(Hit(cid, r.doc, r.title, r.heading, r.text, r.line_start, r.line_end,
                            r.page, score))
        if mode != "dense":
            hits = _lift_definitions(query, hits)
        if expand:
            hits = self._expand(hits, rows)
        return hits[:k]

    # -- small-to-big -----------------------------------------------------------------------
    def _expand(self, hits: list[Hit], rows: dict[int, store.ChunkRow]) -> list[Hit]:
        """Widen each hit with neighbouring chunks under the same heading.

        Neighbours are added alternately after and before the hit until the passage
        reaches ``passage_tokens``; a later hit already inside an earlier passage is
        dropped rather than shown twice.
        """
        conn = self.db.get()
        covered: set[int] = set()
        out: list[Hit] = []
        for h in hits:
            if h.chunk_id in covered:
                continue
            r = rows[h.chunk_id]
            sibs = store.neighbours(conn, r.doc_id, r.heading, r.ord)
            pos = next((i for i, s in enumerate(sibs) if s[0] == h.chunk_id), None)
            if pos is None:  # an index run committed between two reads: keep the hit as is
                out.append(h)
                continue
            lo = hi = pos
            used = self.count_tokens(h.text)
            grow = True
            while grow:
                grow = False
                for cand in (hi + 1, lo - 1):
                    if 0 <= cand < len(sibs) and sibs[cand][0] not in covered:
                        if abs(sibs[cand][1] - sibs[hi if cand > hi else lo][1]) != 1:
                            continue
                        cost = self.count_tokens(sibs[cand][2])
                        if used + cost > self.passage_tokens:
                            continue
                        used += cost
                        lo, hi = min(lo, cand), max(hi, cand)
                        grow = True
            part = sibs[lo : hi + 1]
            covered.update(s[0] for s in part)
            out.append(Hit(h.chunk_id, h.doc, h.title, h.heading,
                           join_chunks([s[2] for s in part]), part[0][3], part[-1][4],
                           h.page, h.score))
        return out


def join_chunks(texts: list[str]) -> str:
    """Neighbouring chunks as one passage. The chunker repeats a table's header at the
    top of every chunk of the table; in the joined passage it is said once."""
    header = texts[0].split("\n", 1)[0] if texts else ""
    is_row = "|" in header or "\t" in header
    parts = [texts[0]] if texts else []
    for text in texts[1:]:
        first, sep, rest = text.partition("\n")
        parts.append(rest if is_row and sep and first == header else text)
    return "\n".join(parts)


DEFINITION_BOOST = 1.5  # score factor for a passage that defines what "What is X?" asks


def _lift_definitions(query: str, hits: list[Hit]) -> list[Hit]:
    """For a definition question, move the passages that define its term up (see
    :mod:`assistant.retrieve.definitions`); other questions keep their order."""
    term = definitions.subject(query)
    if term is None:
        return hits
    pattern = definitions.passage_pattern(term)
    last_heading = term.casefold()

    def defines(h: Hit) -> bool:
        heading = (h.heading or "").split(">")[-1].strip().casefold()
        return heading == last_heading or pattern.search(h.text) is not None

    lifted = [replace(h, score=h.score * DEFINITION_BOOST) if defines(h) else h for h in hits]
    return sorted(lifted, key=lambda h: -h.score)
