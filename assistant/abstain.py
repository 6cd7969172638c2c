"""Abstain when retrieval finds nothing relevant, instead of answering from noise.

Raw BM25 scores depend on the corpus (its size, its lengths, its vocabulary), so the
threshold is set on a normalised signal, :func:`relevance`:

- **coverage**: the IDF-weighted share of the question's content words that the best
  passage (with its title and heading) contains. IDF comes from the index itself, so a
  word the corpus never uses ("sourdough", "iPhone") weighs the most and is missing; a
  question the corpus covers finds most of its weight in one passage. Question words
  ("哪几个", "多长", "which") carry no topic and are left out.
- plus, for Latin-script questions with an embedder calibrated here, the cosine of the
  question and the best passage, centred on a typical value for that embedder
  (``DENSE``). An English-only embedder says nothing about Chinese (see
  ``search.dense_weight``), and an uncalibrated embedder's cosines live on another scale,
  so both get coverage alone.

Calibration (all-MiniLM-L6-v2 index, default search, top passage). Unanswerable
questions: the 2 of ``seeds_dev.jsonl``; 128 CMRC 2018 questions whose passage was left
out of the corpus (90 passages held out, ``tests/data/answer/heldout.json``); 131 SQuAD
questions of 3 articles left out. Answerable: the 28 dev questions, the first 300 CMRC
and 300 SQuAD questions (passages kept). Share that abstains at ``THRESHOLD`` = 0.40
(``bench/answers.py``):

    set         answerable abstain   unanswerable abstain
    dev          1/28   (3.6%)        2/2     (100%)
    CMRC 2018    10/300 (3.3%)        78/128  (60.9%)
    SQuAD        9/300  (3.0%)        111/131 (84.7%)

The highest threshold keeping each set within 5% of answerable questions was 0.41 (dev),
0.50 (CMRC) and 0.45 (SQuAD): one constant for any corpus has to take the lowest. The
unanswerable questions that still pass are near misses: another passage names the same
thing ("北土城站" in a list of stations, "单斑笛鲷" among fishes) without the answer.
Word statistics cannot tell those apart (the best combination of six such signals
caught 72-83% of the CMRC ones at the same cost); a model that reads the sources can, so
the prompt asks it to say when they do not answer (see ``prompt.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.lexical import query_tokens, tokenize

THRESHOLD = 0.40
MAX_WORDS = 64  # content words of a question that are weighed
# Embedder -> (weight, centre) of the dense term, measured on SQuAD and the dev set's
# English questions: answerable questions' best cosine has a median of 0.58, held-out
# ones 0.24; centring at 0.45 leaves the threshold on the coverage scale.
DENSE: dict[str, tuple[float, float]] = {
    "sentence-transformers/all-MiniLM-L6-v2": (1.0, 0.45),
}

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Question words jieba keeps as content ("哪几个", "多长", "几种") and words too common to
# name a topic. They match nothing in an answer, so they would only add noise.
QUESTION_WORD = re.compile(
    r"哪|什么|怎|^几(?!何|乎)|^多[长大高重远久宽深厚少]$|^(?:一年|由|做|里|该|其)$"
)
_FILLER_WORDS = """his her him she he you your we our us me my i s t doesn don isn aren wasn
    didn won so much many two most some any such one other only also very"""
EN_FILLER = frozenset(_FILLER_WORDS.split())

DocFreq = Callable[[str], int]


@dataclass(frozen=True)
class Relevance:
    """How well the best passage covers the question; ``relevant`` decides abstaining."""

    coverage: float
    dense: float | None
    score: float
    missing: tuple[str, ...] = ()  # content words the best passage lacks, heaviest first
    coverages: tuple[float, ...] = ()  # the coverage of every hit, in rank order

    @property
    def relevant(self) -> bool:
        return self.score >= THRESHOLD


def content_weights(question: str, doc_freq: DocFreq, n_chunks: int) -> dict[str, float]:
    """The question's content words, each with its BM25 IDF in the index."""
    toks = [t for t in query_tokens(question) if not QUESTION_WORD.search(t)]
    toks = [t for t in toks if t not in EN_FILLER] or list(query_tokens(question))
    weights = {}
    # A "question" of hundreds of words is a pasted document: its first words say enough,
    # and each word costs an index lookup.
    toks = toks[:MAX_WORDS]
    for t in toks:
        df = doc_freq(t)
        weights[t] = math.log(1 + (n_chunks - df + 0.5) / (df + 0.5))
    return weights


def coverage(weights: dict[str, float], text: str) -> tuple[float, tuple[str, ...]]:
    """(IDF-weighted share of ``weights``' words found in ``text``, the missing words)."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0, ()
    low = text.lower()
    words = set(tokenize(low))
    missing = [t for t in weights if not _contains(t, low, words)]
    found = total - sum(weights[t] for t in missing)
    return found / total, tuple(sorted(missing, key=lambda t: -weights[t]))


def _contains(token: str, low: str, words: set[str]) -> bool:
    if _CJK.search(token):
        # jieba may cut the passage differently from the question: compare as text.
        return token in low
    if token in words:
        return True
    # A light stem: "experimented" meets "experiment", "relations" meets "relationship".
    if len(token) > 5:
        stem = token[: max(4, len(token) - 3)]
        return re.search(r"\b" + re.escape(stem), low) is not None
    return False


def relevance(question: str, hits: Sequence[Any], searcher: Any) -> Relevance:
    """The relevance signal of ``hits`` (ranked search hits) for ``question``.

    ``searcher`` is a :class:`assistant.search.Searcher`: its index gives the word
    frequencies and, where calibrated, the passage vectors.
    """
    if not hits:
        return Relevance(0.0, None, 0.0)
    doc_freq, n_chunks = _index_stats(searcher)
    weights = content_weights(question, doc_freq, n_chunks)
    covered = [coverage(weights, f"{h.title}\n{h.heading}\n{h.text}") for h in hits]
    cov, missing = covered[0]
    dense = _dense(question, hits[0], searcher)
    score = cov
    calib = DENSE.get(getattr(getattr(searcher, "embedder", None), "name", ""))
    if dense is not None and calib is not None:
        weight, centre = calib
        score += weight * (dense - centre)
    return Relevance(
        round(cov, 4), dense, round(score, 4), missing, tuple(round(c, 4) for c, _ in covered)
    )


def _index_stats(searcher: Any) -> tuple[DocFreq, int]:
    conn = searcher.db.get()
    n_chunks = int(conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def doc_freq(token: str) -> int:
        phrase = '"' + token.replace('"', '""') + '"'
        try:
            row = conn.execute(
                "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (phrase,)
            ).fetchone()
        except Exception:  # a token FTS5 cannot parse counts as unseen
            return 0
        return int(row[0])

    return doc_freq, n_chunks


def _dense(question: str, hit: Any, searcher: Any) -> float | None:
    """Cosine of the question and the hit's chunk, for Latin-script questions only."""
    from assistant.search import dense_weight

    embedder = getattr(searcher, "embedder", None)
    vectors = getattr(searcher, "_vectors", None)
    if embedder is None or vectors is None or embedder.name not in DENSE:
        return None
    if dense_weight(embedder.name, question) == 0.0:
        return None
    try:
        vec = vectors.index.reconstruct(int(hit.chunk_id))
    except Exception:  # removed by an index run since the search
        return None
    return float(vec @ embedder.embed_query(question))
