"""The source's own words put back where the model nearly copied them.

A 1.5B model answers mostly by copying a source sentence, and copies it not quite: it
drops a comma ("艾莉森发现卡尔对她…" for 艾莉森发现，卡尔对她…), swaps 「理性」 for “理性”, adds a
character ("上海市南市区" for 上海南市区), or changes a word in the middle of a sentence it
otherwise kept. The answer is then right in substance but not the passage's text: a
reader searching the cited passage for it does not find it.

So each stretch of the answer that follows one source closely (runs of identical tokens,
a Chinese character or a Latin word each, with at most ``GAP`` differing tokens between
runs on either side) is replaced by that source's stretch. What the model wrote outside
such stretches stays its own: framing ("根据资料，"), the subject it put in front, a
paraphrase, a one-word answer. Only the source's text comes in, so this never adds a
claim no source makes; and a difference in a number, or across the end of a source
sentence, is never bridged: "可达10公分" is not made the 12 of a neighbouring passage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from assistant.text.language import CJK_CHARS, language

# The most tokens that may differ between two identical runs, on each side, for the runs
# to count as one copied stretch (measured in bench/verbatim_rescore.py).
GAP = 2
MIN_RUN = 2  # a stretch starts and ends with a run this long: one shared 的 is no copy
MIN_MATCHED = 8  # identical characters a stretch needs before it is worth restoring
# Identical characters per character of the stretch, on both sides: below this the model
# rewrote the sentence rather than copied it.
MIN_SHARE = 0.8
# Whether English is restored too (an English piece, a differing Latin word in a Chinese
# one). Not: on SQuAD answers (bench/verbatim_rescore.py) the model's differing word was
# grammar ("Cyclosporin ... prevents" where the source has "drugs ... prevent"), and
# restoring won no gold string. Latin words still anchor a Chinese copy ("vLLM 是 ...").
LATIN = False

_TOKEN = re.compile(f"[{CJK_CHARS}]|\\d+(?:[.,:]\\d+)*|[^\\W\\d_]+|\\S")
_NUMBER = re.compile(r"\d")
_SENTENCE_END = frozenset("。！？；!?;.")
_LATIN = re.compile(r"[A-Za-z]")
# Markers and line breaks are kept as they are; only the prose between them is aligned.
_KEEP = re.compile(r"((?:[ \t]*\[\d{1,4}\])+|\n)")


@dataclass(frozen=True)
class _Stretch:
    start: int  # character offsets in the answer piece
    end: int
    src: int  # which source
    src_start: int
    src_end: int
    matched: int  # identical characters
    runs: int


class _Tokens:
    def __init__(self, text: str) -> None:
        found = list(_TOKEN.finditer(text))
        self.words = [m.group(0) for m in found]
        self.spans = [m.span() for m in found]


def restore(answer: str, sources: Sequence[str]) -> str:
    """``answer`` with each nearly copied stretch replaced by the source's own words."""
    parts = _KEEP.split(answer)
    tokens = [_Tokens(s) for s in sources]
    for i in range(0, len(parts), 2):  # the prose pieces; odd ones are markers
        if len(parts[i].strip()) >= MIN_MATCHED and (LATIN or language(parts[i]) == "zh"):
            parts[i] = _restore_piece(parts[i], sources, tokens)
    return "".join(parts)


def _restore_piece(piece: str, sources: Sequence[str], tokens: list[_Tokens]) -> str:
    mine = _Tokens(piece)
    found: list[_Stretch] = []
    for n, theirs in enumerate(tokens):
        found.extend(_stretches(mine, theirs, sources[n], n))
    chosen: list[_Stretch] = []
    # The longest copy first: a sentence copied verbatim from one source (one run) keeps
    # a near copy of it in another from being taken.
    for s in sorted(found, key=lambda s: (-s.matched, s.runs)):
        if all(s.end <= c.start or s.start >= c.end for c in chosen):
            chosen.append(s)
    for s in sorted(chosen, key=lambda s: -s.start):  # from the end: offsets stay valid
        if s.runs > 1:
            piece = piece[: s.start] + sources[s.src][s.src_start : s.src_end] + piece[s.end:]
    return piece


def _stretches(mine: _Tokens, theirs: _Tokens, text: str, n: int) -> list[_Stretch]:
    """The stretches of ``mine`` that ``theirs`` holds with small differences only."""
    # A lone shared character (的, 了, a comma) anchors nothing: runs of MIN_RUN or more.
    blocks = [b for b in SequenceMatcher(None, mine.words, theirs.words, autojunk=False)
              .get_matching_blocks() if b.size >= MIN_RUN]
    out: list[_Stretch] = []
    run: list = []
    for b in [*blocks, None]:
        if b is not None and run and _bridged(run[-1], b, mine, theirs, text):
            run.append(b)
            continue
        if run:
            s = _stretch(run, mine, theirs, n)
            if s is not None:
                out.append(s)
        run = [b] if b is not None else []
    return out


def _bridged(last, b, mine: _Tokens, theirs: _Tokens, text: str) -> bool:
    """Whether the tokens between two identical runs are a small copying difference."""
    gap_a = mine.words[last.a + last.size : b.a]
    gap_b = theirs.words[last.b + last.size : b.b]
    if len(gap_a) > GAP or len(gap_b) > GAP:
        return False
    if any(_NUMBER.search(w) for w in gap_a + gap_b):
        return False  # a different figure is a different claim, not a copying slip
    if not LATIN and any(_LATIN.search(w) for w in gap_a + gap_b):
        return False
    # The model joined what the source keeps apart (two sentences, list items, table
    # cells): the source's layout would break the answer's sentence.
    between = text[theirs.spans[last.b + last.size - 1][1] : theirs.spans[b.b][0]]
    return not (any(w in _SENTENCE_END for w in gap_b) or "\n" in between or "|" in between)


def _stretch(run: list, mine: _Tokens, theirs: _Tokens, n: int) -> _Stretch | None:
    while run and run[0].size < MIN_RUN:
        run = run[1:]
    while run and run[-1].size < MIN_RUN:
        run = run[:-1]
    if not run:
        return None
    matched = sum(len(w) for b in run for w in mine.words[b.a : b.a + b.size])
    start, end = mine.spans[run[0].a][0], mine.spans[run[-1].a + run[-1].size - 1][1]
    src_start = theirs.spans[run[0].b][0]
    src_end = theirs.spans[run[-1].b + run[-1].size - 1][1]
    width = max(_chars(mine, run[0].a, run[-1].a + run[-1].size),
                _chars(theirs, run[0].b, run[-1].b + run[-1].size))
    if matched < MIN_MATCHED or matched < MIN_SHARE * width:
        return None
    return _Stretch(start, end, n, src_start, src_end, matched, len(run))


def _chars(tokens: _Tokens, i: int, j: int) -> int:
    return sum(len(w) for w in tokens.words[i:j])
