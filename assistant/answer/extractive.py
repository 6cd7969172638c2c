"""Answers with no model: quote the passages' best sentences, each with its citation.

Used when no language model is available (or wanted). The passages arrive ranked and
are numbered 1..n as in the prompt; each is split into sentences (Chinese 。！？； and
.!? and line breaks; a table row counts as one sentence and is shown under its header),
every sentence is scored against the question with BM25 over the sentences of these
passages (jieba words and characters for Chinese, lower-case words for Latin script),
with part credit for question words named elsewhere in the passage, the same credit to
every sentence for the words its title or heading names (the topic: the sentence is
chosen for the detail asked), and nudged towards higher-ranked passages, passages naming
the question's topic, definitions for "X 是什么" and numbers for "多少". Headings,
link-only lines and table headers are not quoted. The best few sentences of the passage
holding the best one are returned, best first (near-duplicates dropped), each followed by
``[n]``. Nothing is written that is not in the passages, so the answer is in their
language.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.answer.abstain import names
from assistant.retrieve import definitions
from assistant.text.language import CJK
from assistant.text.markup import is_table_separator, label_cells, plain, table_cells
from assistant.text.sentences import split_sentences
from assistant.text.tokens import CHAR, match_tokens

MIN_CHARS = 6  # shorter "sentences" are headings, labels or stray markup
MAX_CHARS = 160  # longer ones are cut at clause boundaries so a quote stays readable
CELL_CHARS = 100  # long table cells are shortened in the row (their sentences stand alone)
RELATIVE_FLOOR = 0.25  # later quotes must score at least this share of the best one
RANK_BONUS = 0.5  # passage 1 scores up to +50%, falling off as 1/rank
K1, B = 1.2, 0.5  # BM25 over sentences: short documents, so mild length normalisation
TOPIC_WEIGHT = 1.0  # credit for question words in the passage's title or heading
TOPIC_ECHO = 0.25  # extra credit for a sentence naming that topic itself
CONTEXT_WEIGHT = 0.15  # credit for question words found elsewhere in the same passage
DEFINITION_BONUS = 1.5  # "X 是什么？" prefers "X 是…" over sentences that merely name X
LABEL_BONUS = 1.5  # "有哪些技术？" prefers a "技术: …" line of notes
SIMILARITY_WEIGHT = 0.5  # the embedding cosine's say next to BM25 (see _add_similarity)
NUMBER_BONUS = 1.3  # "多少/哪一年/how many" questions prefer sentences with digits
OFF_TOPIC = 0.5  # a passage that never names the question's topic, when others do
CHAR_WEIGHT = 0.5  # weight of single-character matches against jieba words
NOVELTY_FLOOR, NOVEL_WORDS = 0.25, 3  # under 3 words of its own, a sentence scores less
log = logging.getLogger(__name__)

_CLAUSE_END = re.compile(r"(?<=[，,、：:])")

_URL = re.compile(r"https?://\S+")
# A Markdown heading, or a line that is only a link or an image (a reference's title):
# they name a topic, they do not state anything about it.
_TITLE_LINE = re.compile(
    r"^\s*(?:#{1,6}\s.*|(?:[-*+]\s+)?!?\[[^\]]*\]\([^)]*\)[\s:：,，。.;；]*)$"
)
# A link that closes a text as a sentence of its own ("…小模型. [详解模型压缩](url)"): a
# pointer to further reading, whose title would read as a claim.
_TRAILING_REFERENCE = re.compile(
    r"(?:(?<=[.。!?！？;；])|^)\s*(?:(?:参见|详见|see(?: also)?:?)\s*)?"
    r"\[[^\]]*\]\([^)]*\)[\s.。]*$",
    re.IGNORECASE,
)

# Characters of the question words (什么, 哪些, 怎么, 谁): a sentence holding "为什么" shares
# them with any "是什么" question, and that is no sign it is about what was asked.
_ASKING_CHARS = frozenset("什么哪怎谁")
_LABEL = re.compile(r"^([^:：,，。]{1,12})[:：]\s*\S")
_NUMBER_QUESTION = re.compile(
    r"多少|几|多[长大高重远久宽深厚]|哪一?年|何时|什么时[候间]|时间|日期|"
    r"when|how (many|much|long|old|far|big|large|tall)|what year"
)


@dataclass
class _Unit:
    """One quotable sentence (or table row) of one passage."""

    shown: str  # what the answer quotes
    passage: int  # 0-based rank of its passage
    order: int  # position in the passage, for stable ties
    tokens: tuple[str, ...]
    row: bool = False  # a table row, shown on its own line(s)
    _words: set[str] | None = None

    def words(self) -> set[str]:
        """Its words, without a table row's header (rows of one table share it)."""
        if self._words is None:
            self._words = {t for t in self.own_tokens() if not t.startswith(CHAR)}
        return self._words

    def own_tokens(self) -> tuple[str, ...]:
        """Its tokens, characters included, without a table row's header."""
        return match_tokens(self.shown.splitlines()[-1]) if self.row else self.tokens


Similarity = Callable[[str, list[str]], Sequence[float]]


def extractive_answer(question: str, passages: Sequence[Any], max_sentences: int = 3,
                      similarity: Similarity | None = None, topic: str | None = None) -> str:
    """Quote the sentences of ``passages`` that best answer ``question``, with citations.

    ``passages`` are ranked search hits (anything with a ``text`` attribute); passage i
    is cited as ``[i+1]``. Returns "" when there is nothing to quote. ``similarity``,
    when given, is ``f(question, sentences) -> cosines`` from an embedder that reads the
    question's language: it adds a say for sentences that answer in other words.
    ``topic``: what the question is about (``Relevance.topic``, "赵鹏" in "赵鹏的职业是什么？").

    >>> from types import SimpleNamespace as P
    >>> extractive_answer("vLLM 是谁开发的？", [P(text="vLLM 由 UC Berkeley 开发。它很快。")])
    'vLLM 由 UC Berkeley 开发。[1]'
    """
    units = [u for i, p in enumerate(passages) for u in _units(getattr(p, "text", "") or "", i)]
    if not units or max_sentences < 1:
        return ""
    query = set(match_tokens(question))
    # Title and heading path name the topic a chunk's sentences leave implicit.
    context = {
        i: set(match_tokens(f"{getattr(p, 'title', '') or ''} {getattr(p, 'heading', '') or ''}"))
        for i, p in enumerate(passages)
    }
    scores = _bm25(query, units, context)
    if similarity is not None:
        scores = _add_similarity(scores, units, question, similarity)
    wants_number = bool(_NUMBER_QUESTION.search(question.lower()))
    defines = _definition_pattern(question)
    off_topic = _off_topic(passages, topic)
    for k, u in enumerate(units):
        scores[k] *= 1 + RANK_BONUS / (u.passage + 1)
        if u.passage in off_topic:
            scores[k] *= OFF_TOPIC
        if wants_number and re.search(r"\d", u.shown):
            scores[k] *= NUMBER_BONUS
        if defines is not None and defines.search(u.shown):
            scores[k] *= DEFINITION_BONUS
        if _label_asked(u.shown, query):
            scores[k] *= LABEL_BONUS
    ranked = sorted(range(len(units)), key=lambda k: (-scores[k], units[k].passage, units[k].order))
    if scores[ranked[0]] <= 0:
        # Nothing overlaps the question: the best we can do is the top passage's opening.
        ranked = sorted(range(len(units)), key=lambda k: (units[k].passage, units[k].order))
    # All quotes come from the passage of the best sentence: a sentence from another
    # passage was more often beside the point than not, and its citation then pointed at
    # a passage that does not hold the answer (bench/answers.py: citations holding the
    # evidence rose from 64-75% to 85-89%).
    home = units[ranked[0]].passage
    best = scores[ranked[0]]
    chosen: list[_Unit] = []
    for k in ranked:
        u = units[k]
        if u.passage != home or (chosen and not _shares_words(query, u)):
            continue
        if len(chosen) == max_sentences or (chosen and (scores[k] <= 0 or
                                                         scores[k] < RELATIVE_FLOOR * best)):
            break
        if not any(_near_duplicate(u, c) for c in chosen):
            chosen.append(u)
    return _join(chosen)


def _shares_words(query: set[str], unit: _Unit) -> bool:
    """Whether a further quote shares a word with the question. One scored only for the
    words its passage holds elsewhere ("sft | Supervised Fine-Tuning…" beside the LoRA row
    asked about) says nothing about what was asked. Two shared characters count as a
    word (jieba may cut "雌狸长" apart), one does not ("理想" is not about "核心思想")."""
    shared = query.intersection(unit.own_tokens())
    return (any(not t.startswith(CHAR) for t in shared)
            or len({t for t in shared if t[1:] not in _ASKING_CHARS}) >= 2)


def _add_similarity(scores: list[float], units: list[_Unit], question: str,
                    similarity: Similarity) -> list[float]:
    """BM25 scaled to the best sentence's, plus ``SIMILARITY_WEIGHT`` x the embedding
    cosine to the question, min-max scaled over these sentences (so that any embedder's
    cosine range counts alike). Measured with all-MiniLM-L6-v2 on SQuAD (583 answered
    questions): answers holding a gold answer 85.1% -> 87.1%, citations holding the
    evidence 87.7% -> 88.9%; about 80 ms a question on a 2-core CPU."""
    try:
        cos = [float(c) for c in similarity(question, [u.shown.splitlines()[-1] for u in units])]
    except Exception as e:  # a failing embedder costs the bonus, not the answer
        log.warning("sentence similarity failed: %s", e)
        return scores
    if len(cos) != len(scores):
        return scores
    top = max(scores) or 1.0
    lo, hi = min(cos), max(cos)
    span = (hi - lo) or 1.0
    return [s / top + SIMILARITY_WEIGHT * (c - lo) / span
            for s, c in zip(scores, cos, strict=True)]


def _off_topic(passages: Sequence[Any], topic: str | None) -> set[int]:
    """Passages that never name ``topic`` while another passage does.

    "赵鹏的职业是什么？" matched "职业" in a passage about a school more strongly than the
    passage on 赵鹏, which says "足球运动员" without the word 职业. The penalty is not an
    exclusion: a later chunk of a document may speak of its subject without naming it.
    Measured on cached sources (bench/answers.py sets, citations holding the evidence):
    CMRC 90.2% -> 90.9%, CMRC B 89.9% -> 90.6%, paraphrases 93.8% -> 96.9%; dev, requests
    and SQuAD (English: no topic) unchanged. Excluding them outright gained on dev and lost
    as much on CMRC.
    """
    if not topic:
        return set()
    named = {i for i, p in enumerate(passages)
             if names(f"{getattr(p, 'title', '')}\n{getattr(p, 'heading', '')}\n"
                      f"{getattr(p, 'text', '')}", topic)}
    return set(range(len(passages))) - named if named else set()


def _label_asked(text: str, query: set[str]) -> bool:
    """A "技术: PCIe、NVLink…" line whose label is what the question asks for."""
    m = _LABEL.match(text)
    if m is None:
        return False
    words = {t for t in match_tokens(m.group(1)) if not t.startswith(CHAR)}
    return bool(words) and words <= query


def _definition_pattern(question: str) -> re.Pattern[str] | None:
    """For "X 是什么？" / "What is X?", a pattern for sentences that define X ("X 是…")."""
    term = definitions.subject(question)
    return definitions.sentence_pattern(term) if term else None


def _units(text: str, passage: int) -> list[_Unit]:
    units: list[_Unit] = []
    lines = text.splitlines()
    header: str | None = None
    titles: list[str] = []
    in_table = False  # the line before was a table line
    for n, line in enumerate(lines):
        cells = table_cells(line, in_table)
        starts_table, in_table = not in_table, cells is not None
        if cells is None:
            header = None
            if _TITLE_LINE.match(line):
                titles.append(line)
            else:
                for piece in _sentences(line):
                    _add(units, piece, passage)
            continue
        if is_table_separator(line):
            continue
        following = lines[n + 1] if n + 1 < len(lines) else ""
        # The first line of a table is its header: the chunker repeats it at the top of
        # every chunk of a long table, without the "|---|" line under it.
        if starts_table and ("\t" in line or is_table_separator(following)
                             or (table_cells(following, True) is not None and label_cells(cells))):
            header = " | ".join(plain(c) for c in cells)
            continue
        row = " | ".join(_shorten(plain(c)) for c in cells)
        if row == header:  # the header repeated inside the passage
            continue
        _add(units, f"{header}\n{row}" if header else row, passage, row=True)
        # A long cell may hold the answer past the shortened part: offer its sentences too.
        for cell in cells:
            if len(plain(cell)) > CELL_CHARS:
                for piece in _sentences(cell):
                    _add(units, piece, passage)
    if not units:  # a passage of headings and links only: they are all it has to say
        for line in titles:
            _add(units, plain(line), passage)
    return units




def _add(units: list[_Unit], shown: str, passage: int, row: bool = False) -> None:
    shown = shown.strip()
    content = _URL.sub("", shown)
    if sum(not c.isspace() for c in content) < MIN_CHARS:
        return
    tokens = match_tokens(content)
    if len(tokens) >= 2 or CJK.search(content):
        units.append(_Unit(shown, passage, len(units), tokens, row))


def _sentences(line: str) -> list[str]:
    line = plain(_TRAILING_REFERENCE.sub("", line))
    out: list[str] = []
    for sentence in split_sentences(line):
        sentence = sentence.strip()
        if len(sentence) <= MAX_CHARS:
            out.append(sentence)
            continue
        piece = ""
        for clause in _CLAUSE_END.split(sentence):
            if piece and len(piece) + len(clause) > MAX_CHARS:
                out.append(piece.strip())
                piece = ""
            piece += clause
        out.append(piece.strip())
    return [s for s in out if s]


def _shorten(cell: str) -> str:
    if len(cell) <= CELL_CHARS:
        return cell
    first = split_sentences(cell)[0].strip()
    return first if len(first) <= 1.5 * CELL_CHARS else cell[:CELL_CHARS].rstrip() + "…"


def _bm25(query: set[str], units: list[_Unit], context: dict[int, set[str]]) -> list[float]:
    """BM25 of each sentence, plus part credit for question words its passage has.

    The question's topic ("崇陵" in "崇陵墓道有多长？") is often named once, at the top of
    the passage or in its title, while the answer sentence ("墓道…全长13.23米") only names
    the detail: words found elsewhere in the same passage, or in its title and heading,
    count ``CONTEXT_WEIGHT`` of their IDF.
    """
    n = len(units)
    df: Counter[str] = Counter()
    in_passage = {p: words & query for p, words in context.items()}
    for u in units:
        found = set(u.tokens) & query
        df.update(found)
        in_passage.setdefault(u.passage, set()).update(found)
    avg = sum(len(u.tokens) for u in units) / n or 1.0
    known = set().union(*in_passage.values())
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in known}
    for t in idf:
        if t.startswith(CHAR):
            idf[t] *= CHAR_WEIGHT
    topics = {p: {t for t in words if t in idf} for p, words in context.items()}
    scores = []
    for u in units:
        # Question words in the passage's title or heading name its topic ("短齿天竺鲷" in
        # "短齿天竺鲷体长可达多少公分？"): every sentence of the passage is about it, so
        # they earn each sentence the same ``TOPIC_WEIGHT`` of their IDF, and the
        # sentence is chosen for the other words, the detail asked ("体长可达…公分"). An
        # opening sentence that only repeats the topic no longer beats the answer.
        topic = topics.get(u.passage, set())
        tf = Counter(t for t in u.tokens if t in idf and t not in topic)
        # A character already counted inside a matched word is not counted again: "缩写"
        # would otherwise weigh three times as much as "GEMM".
        covered = {CHAR + c for t in tf | dict.fromkeys(topic)
                   if not t.startswith(CHAR) for c in t}
        for t in covered & tf.keys():
            del tf[t]
        norm = K1 * (1 - B + B * len(u.tokens) / avg)
        own = sum(idf[t] * f * (K1 + 1) / (f + norm) for t, f in tf.items())
        own += TOPIC_WEIGHT * sum(idf[t] for t in topic if t not in covered)
        # ... and a sentence that names the topic itself still says a little more about it.
        own += TOPIC_ECHO * sum(idf[t] for t in topic & set(u.tokens) if t not in covered)
        inherited = sum(idf[t] for t in in_passage[u.passage] if t not in tf and t not in topic)
        # A line made only of the question's words (a heading, a title) cannot hold
        # the answer: it needs words of its own.
        novel = len({t for t in u.tokens if t not in query and not t.startswith(CHAR)})
        novelty = min(1.0, NOVELTY_FLOOR + novel / NOVEL_WORDS)
        scores.append((own + CONTEXT_WEIGHT * inherited) * novelty)
    return scores


def _near_duplicate(a: _Unit, b: _Unit) -> bool:
    sa, sb = _squash(a.shown), _squash(b.shown)
    if sa in sb or sb in sa:
        return True
    # Words only: shared characters say little. Overlap against the shorter one: a table
    # row and a sentence of one of its long cells say the same thing though the row has
    # more words.
    ta, tb = a.words(), b.words()
    return bool(ta and tb) and len(ta & tb) / min(len(ta), len(tb)) >= 0.7


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _join(units: list[_Unit]) -> str:
    """Sentences run on as prose; a table row (under its header) is a block of its own."""
    blocks: list[str] = []
    prev: _Unit | None = None
    for u in units:
        quote = f"{u.shown}{'' if _ends_cjk(u.shown) else ' '}[{u.passage + 1}]"
        if u.row or prev is None or prev.row:
            blocks.append(quote)
        else:
            glue = "" if _ends_cjk(prev.shown) and CJK.match(u.shown) else " "
            blocks[-1] += glue + quote
        prev = u
    return "\n".join(blocks)


def _ends_cjk(text: str) -> bool:
    return bool(text) and (bool(CJK.match(text[-1])) or text[-1] in "。！？；”」』）")
