"""Question phrases a passage holds in the question's own order ("term proximity").

BM25 scores each word of a question on its own: a passage that says "光荣和ω-force开发"
and one that mentions 光荣 and 开发 three paragraphs apart weigh the same. Pairs of
neighbouring content words, as the question writes them (with at most one stopword
between: "capital of France"; never across a question word, whose place the answer
takes in the passage), are the cheapest order signal: a passage that holds more
of them, verbatim, is more likely the one the question was asked about. This is the
"ordered window" feature of the sequential dependence model (Metzler and Croft, 2005),
matched on the raw text, so it needs no positional index.

The share of the question's pairs a passage holds is added to the fused score with
``search.PROXIMITY_WEIGHT``; measured with ``bench/fusion_sweep.py`` on every set
(BENCHMARKS.md).
"""

from __future__ import annotations

import re
from functools import lru_cache

from assistant.text.tokens import QUERY_STOPWORDS, QUESTION_WORDS, get_jieba

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w")
MAX_GAP_WORDS = 1  # stopwords allowed between the two words of a pair


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text.casefold())


@lru_cache(maxsize=4096)
def pairs(question: str) -> tuple[str, ...]:
    """The question's neighbouring content-word pairs, each as the question spells it
    (lower-cased, with what stands between them), in order, without repeats."""
    pieces = get_jieba().lcut(_norm(question))
    out: list[str] = []
    last: int | None = None  # piece index of the previous content word
    gap_words = 0
    for i, piece in enumerate(pieces):
        if not _WORD.search(piece):
            if piece.strip():  # punctuation ends a phrase
                last = None
            continue
        if piece in QUESTION_WORDS:  # the passage has the answer there, not this word
            last = None
            continue
        if piece in QUERY_STOPWORDS:
            gap_words += 1
            if gap_words > MAX_GAP_WORDS:
                last = None
            continue
        if last is not None:
            out.append("".join(pieces[last : i + 1]).strip())
        last, gap_words = i, 0
    return tuple(dict.fromkeys(out))


def share_held(phrases: tuple[str, ...], text: str) -> float:
    """The share of ``phrases`` that ``text`` holds verbatim (case and spacing folded)."""
    if not phrases:
        return 0.0
    low = _norm(text)
    return sum(p in low for p in phrases) / len(phrases)
