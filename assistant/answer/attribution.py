"""Citations decided after generation: each answer sentence matched to the source that
supports it.

A 1.5B model cites only when it feels like it (Qwen2.5-Coder-1.5B: 1 answer in 16 carried
any ``[n]``), and when it does, the number is not always the source the sentence came from.
So the markers are not trusted (DESIGN.md, decision 7): as RAGFlow's ``insert_citations``
does, every sentence of the answer is scored against every source by the words they share
(and, when an embedder that reads the script is given, by meaning), and

- a model's ``[n]`` stays where source n supports its sentence;
- a marker whose source does not support the sentence is replaced by the source that
  does, or dropped when none does;
- a sentence with no marker gets the best-supporting source, when that support is well
  above what an unrelated passage shares with it;
- where a marker is replaced or added, a source the answer already cites is preferred
  when it supports the sentence as well as a kept marker must (``_choose``);
- a sentence's numbers (with their units) and names are its claim: a source that holds
  fewer of them than another supports it less (``_claim_factor``);
- a one-word answer ("542", "秋晴") is held whole by a source, or not at all;
- a table row is cited as one unit, its header row never;
- sentences that state nothing a source could hold ("根据资料，", "Here is what I found:")
  and code are never cited.

Numbers and Latin-script names in the answer that no source holds are listed as
``unsupported``, for the answer to show as such. This catches an invented figure, not a
misplaced one: "BF16 has 23 mantissa bits" passes, since the same source gives FP32's 23.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.answer.citations import _CODE
from assistant.text.language import CJK_CHARS, language
from assistant.text.markup import is_table_separator, label_cells, table_cells
from assistant.text.sentences import split_sentences
from assistant.text.tokens import QUERY_STOPWORDS, query_tokens, squash, tokenize

Similarity = Callable[[list[str], list[str]], np.ndarray]

_MARK = re.compile(r"\[(\d{1,4})\]")  # a marker as parse_citations leaves it
_MARKS_LEAD = re.compile(r"^(?:[ \t]*\[\d{1,4}\])+")  # markers that open a piece
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
_BIGRAM = "\x01"  # keeps a character bigram apart from a two-character word
# Characters that are words of their own (的, 是, 由 ...: the lexical stopwords): a bigram
# across one ("发的", "是由") says nothing about the topic, and matched any passage.
_GLUE_CHARS = frozenset(w for w in QUERY_STOPWORDS if len(w) == 1 and _CJK_RUN.match(w))
BIGRAM_WEIGHT = 0.5  # a bigram backs up the words (it repeats a two-character word)
_TRAILER = re.compile(r"\s*$")

# Support is the weighted share of a sentence's words (and character bigrams) that a
# source holds, 0..1. On real answers of Qwen2.5-Coder-1.5B-Instruct (dev, CMRC 2018 and
# SQuAD questions at temperature 0): the source a fact sentence came from held 0.69-1.00
# of it; other sources on the same topic (another row of the same table, the same article)
# up to 0.60; unrelated passages under 0.25; framing ("This is stated in the source.")
# under 0.2.
KEEP = 0.35  # a model's marker stays when its source holds this share of the sentence
# ... and near what the best source holds: a marker on a neighbour that lacks the
# sentence's own fact (the table row of another framework) held 0.3-0.5 where the right
# source held 0.5-0.7.
KEEP_RELATIVE = 0.8
ADD = 0.45  # a sentence without a marker gets the best source only above this
MIN_FEATURES = 2  # fewer content words than this: a framing phrase, never cited
# The embedder's share of the support when a similarity is given (its cosines counted
# from the embedder's ``Profile.cosine_floor`` up). With MiniLM it changed no citation on
# the SQuAD answers; with e5, against 0 and 0.25 on the answers of Qwen2.5-Coder-1.5B
# (bench/attribution_rescore.py), 0.5 kept the most answers citing at the same precision.
SIM_WEIGHT = 0.5
# The share of a sentence's support that its numbers and names are (_claim_factor).
CLAIM_SHARE = 0.5


@dataclass(frozen=True)
class Attributed:
    text: str  # the answer with the [n] markers decided here
    cited: list[int] = field(default_factory=list)  # 1-based, first appearance, once each
    kept: int = 0  # model markers kept (their source supports the sentence)
    moved: int = 0  # model markers replaced by the source that does support it
    added: int = 0  # sentences that had no marker and got one
    unsupported: list[str] = field(default_factory=list)  # numbers/names no source holds


@dataclass
class _Sentence:
    start: int  # span in the answer, markers that follow it included
    end: int
    marks: list[tuple[int, int, int]]  # (start, end, n) of each model marker in it


def attribute(
    answer: str, sources: Sequence[str], *, similarity: Similarity | None = None
) -> Attributed:
    """Decide the ``[n]`` markers of ``answer``: ``sources[i]`` is the text of source i+1.

    >>> a = attribute("vLLM 由 UC Berkeley 开发。", ["TGI 是 HuggingFace 推出的。",
    ...                                         "vLLM 是 UC Berkeley 开发的推理框架。"])
    >>> a.text, a.cited, a.added
    ('vLLM 由 UC Berkeley 开发。[2]', [2], 1)
    """
    code = [(m.start(), m.end()) for m in _CODE.finditer(answer)]
    sentences = _split(answer, code)
    unsupported = unsupported_claims(answer, sources)
    if not sentences or not sources:
        return Attributed(text=answer, unsupported=unsupported)
    plain = [_MARK.sub("", answer[s.start : s.end]) for s in sentences]
    support = support_matrix(plain, sources, similarity=similarity)

    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the answer
    kept = moved = added = 0
    so_far: list[int] = []  # 0-based sources cited by the sentences before, in order
    for k, s in enumerate(sentences):
        row = support[k]
        given = [n for _, _, n in s.marks if 1 <= n <= len(sources)]
        floor = max(KEEP, KEEP_RELATIVE * row.max()) if row.size else KEEP
        best = _choose(row, floor, so_far)
        citable = best >= 0 and row.max() >= ADD
        good = [n for n in dict.fromkeys(given) if row[n - 1] >= floor]
        if s.marks:
            if good:  # the supported ones stay where the model put them, the rest go
                kept += len(good)
                texts = [f"[{n}]" if n in good else "" for *_, n in s.marks]
            else:  # the first one's place takes the source that does support it
                moved += len(set(given)) if citable else 0
                texts = [f"[{best + 1}]" if citable and i == 0 else ""
                         for i in range(len(s.marks))]
            for (a, b, _), text in zip(s.marks, texts, strict=True):
                if not text:  # "… 开发。 [1]" dropped leaves no space behind
                    a = len(answer[:a].rstrip(" \t"))
                edits.append((a, b, text))
        elif citable:
            added += 1
            edits.append((*_end_of(answer, s), _glue(answer, s) + f"[{best + 1}]"))
        chosen = [n - 1 for n in good] if s.marks and good else [best] if citable else []
        so_far += [j for j in chosen if j not in so_far]
    text = _apply(answer, edits)
    code = [(m.start(), m.end()) for m in _CODE.finditer(text)]
    cited = list(dict.fromkeys(int(m.group(1)) for m in _MARK.finditer(_mask(text, code))))
    return Attributed(text=text, cited=cited, kept=kept, moved=moved, added=added,
                      unsupported=unsupported)


def _choose(row: np.ndarray, floor: float, so_far: list[int]) -> int:
    """The source a sentence gets when the model's markers do not stand: a source the
    answer already cites, when it supports the sentence as well as a kept marker must
    (``floor``), else the best one. An answer's second sentence mostly goes on about the
    first one's source; a neighbour that shares a few more of its words is no better
    evidence, and one source to check is easier than two."""
    if not row.size:
        return -1
    return next((j for j in so_far if row[j] >= floor), int(np.argmax(row)))


# ---------------------------------------------------------------------------- support


def features(text: str, *, passage: bool = False) -> set[str]:
    """What a sentence and a source are compared by: the project's Chinese-aware words
    and, for Chinese runs, character bigrams, so that a paraphrase that reorders or
    re-cuts the words ("由 UC Berkeley 开发" / "UC Berkeley 开发的") still meets its source.

    A passage is cut as the index cuts documents (fine-grained, every dictionary word
    inside a long one), a sentence as a query is (precise, stopwords dropped), so the
    sentence's words are found in the passage's whichever way jieba cut them there."""
    words = set(tokenize(text)) if passage else set(query_tokens(text))
    # A one-character Chinese word is mostly a function word (由, 用, 把); the characters
    # that matter are in the bigrams.
    words = {w for w in words if not (len(w) == 1 and _CJK_RUN.match(w))}
    for run in _CJK_RUN.findall(text):
        words.update(_BIGRAM + run[i : i + 2] for i in range(len(run) - 1)
                     if run[i] not in _GLUE_CHARS and run[i + 1] not in _GLUE_CHARS)
    return words


def support_matrix(
    sentences: list[str], sources: Sequence[str], *, similarity: Similarity | None = None
) -> np.ndarray:
    """support[k, j]: how much of sentence k source j holds, 0..1.

    Each feature weighs by how few sources hold it (an inverse document frequency over
    the sources given): the words of the question are in every retrieved source and
    tell them apart poorly, the answer's own words are in one or two."""
    docs = [features(s, passage=True) for s in sources]
    held_in = [_Holder.of(s) for s in sources]  # each source as the claim checks read it
    factor = np.ones((len(sentences), len(docs)))  # how much of a source's support counts
    bare = np.zeros(len(sentences), dtype=bool)  # too short to weigh: held whole, or not
    langs = [language(s) for s in sources]
    n = len(docs)
    out = np.zeros((len(sentences), n))
    cross = np.zeros((len(sentences), n), dtype=bool)  # sentence and source differ in language
    for k, sentence in enumerate(sentences):
        feats = features(sentence)
        # A two-character Chinese word is also its own bigram: one word, not two.
        if len({f.removeprefix(_BIGRAM) for f in feats}) < MIN_FEATURES:
            # A framing phrase holds nothing a source could; a bare answer ("542 [1]",
            # "秋晴") is held whole by the source it came from, or by none.
            if feats and _bare_answer(sentence, feats):
                out[k] = [float(feats <= d) for d in docs]
            elif word := _bare_chinese(sentence):
                out[k] = [float(word in h.squashed) for h in held_in]
            bare[k] = True  # held or not: a cosine of one word says nothing more
            continue
        weights = {f: _idf(sum(f in d for d in docs), n)
                   * (BIGRAM_WEIGHT if f.startswith(_BIGRAM) else 1.0) for f in feats}
        total = sum(weights.values())
        for j, d in enumerate(docs):
            out[k, j] = sum(w for f, w in weights.items() if f in d) / total
        own = language(sentence)
        cross[k] = [lang != own for lang in langs]
        factor[k] = _claim_factor(sentence, held_in)
    if similarity is not None and sentences:
        cos = similarity(sentences, list(sources))
        cos = None if cos is None else np.asarray(cos, dtype=float)
        if cos is not None and cos.shape == out.shape:  # None: it cannot read this script
            cos = np.clip(cos, 0, 1)
            blend = np.where(out > 0, (1 - SIM_WEIGHT) * out + SIM_WEIGHT * cos, 0)
            # Across languages (an English answer from the Chinese notes) the sentence's
            # words are translated, not held: only names meet ("Triton", "CUDA" in
            # "Triton 是一种用于编写…的语言和编译器"), so there the meaning alone may
            # carry the support, where a word is shared at all.
            blend = np.where(cross, np.maximum(blend, np.where(out > 0, cos, 0)), blend)
            out = np.where(bare[:, None], out, blend)
    return out * factor


def _claim_factor(sentence: str, sources: list[_Holder]) -> np.ndarray | float:
    """A sentence's numbers and names are its claim: where some source holds more of
    them than another, the other's support counts only in part (``CLAIM_SHARE`` of it
    is theirs). "单线天竺鲷体长可达10公分。" shares the fish's long name with the passage
    that opens its article, and its "体长可达10公分" with the next passage, the one that
    holds the 10; "Vladimir Lenin wrote that imperialism is the highest stage of
    capitalism." shares its words with two passages on imperialism, and "Lenin" with one.
    By words and meaning alone the first won.

    A number is held with the unit that follows it ("10公", "325 miles"): the first
    passage has a "10" of its own. Where no source holds a number with its unit (the
    answer converted it, or wrote it another way), the number alone is looked for."""
    numbers, names = _claims(sentence)
    columns = []
    for number, unit in numbers:
        held = [h.holds_number(number, unit) for h in sources]
        columns.append(held if any(held) else [h.holds_number(number) for h in sources])
    columns += [[h.holds_name(name) for h in sources] for name in names]
    if not columns:
        return 1.0
    held = np.array(columns, dtype=float).mean(axis=0)
    if held.max() == held.min():
        return 1.0
    return 1 - CLAIM_SHARE * (held.max() - held) / held.max()


# The unit after a number: a Latin word ("miles") or one Chinese character ("公", "年").
_UNIT = re.compile(rf"[ \t]?([A-Za-z]+|[{CJK_CHARS}])")


def _bare_chinese(sentence: str) -> str:
    """A sentence that is one Chinese word, the whole of a short answer ("秋晴"), as a
    source would hold it; empty for anything else. The index cuts "日野秋晴" into other
    words than the answer's "秋晴", so the words do not find it there: the characters do."""
    core = squash(re.sub(rf"[^{CJK_CHARS}A-Za-z0-9]", "", sentence))
    return core if _CJK_RUN.fullmatch(core) and len(core) >= 2 else ""


def _bare_answer(sentence: str, feats: set[str]) -> bool:
    """A sentence that is only a number or a name, the whole of a short answer: each of
    its content words (``feats``) is one. A capital that opens a framing sentence ("This
    is stated in [3].") names nothing, so its one word ("stated") keeps no marker."""
    named = _NUMBER.findall(sentence) + _LATIN_NAME.findall(sentence)
    return bool(named) and feats <= set(query_tokens(" ".join(named)))


def _idf(df: int, n: int) -> float:
    # Smoothed, and never zero: a word every source holds still says the sentence is on
    # their topic, it only does not say which source it came from.
    return 1.0 + math.log((n + 1) / (df + 1))


# -------------------------------------------------------------------------- sentences


def _split(answer: str, code: list[tuple[int, int]]) -> list[_Sentence]:
    """The answer's sentences (as the chunker cuts them), outside fenced code; markers
    that open a piece ("。[1]" then the next sentence) belong to the sentence before.

    A table row is one unit, cited at its end (a marker inside a cell, after its first
    sentence, read as part of the cell), and a table's header row is none: its column
    names are in every chunk of the table, and a citation on them says nothing."""
    masked = _mask(answer, code)
    out: list[_Sentence] = []
    pos = 0
    in_table = False
    for line in masked.splitlines(keepends=True):
        cells = table_cells(line, in_table)
        if cells is not None:
            header = not in_table and label_cells(cells)
            pieces = [] if header or is_table_separator(line) else [line]
        else:
            pieces = split_sentences(line)
        in_table = cells is not None
        if not pieces:
            pos += len(line)
        for piece in pieces:
            start, end = pos, pos + len(piece)
            pos = end
            lead = _MARKS_LEAD.match(piece)
            if lead and out and lead.end() > 0:
                out[-1].end = start + lead.end()
                start += lead.end()
            if masked[start:end].strip() and not _in_fence(start, end, answer, code):
                out.append(_Sentence(start, end, []))
    for s in out:
        s.marks = [(m.start(), m.end(), int(m.group(1)))
                   for m in _MARK.finditer(masked, s.start, s.end)]
    return out


def _mask(answer: str, code: list[tuple[int, int]], fill: str = "x") -> str:
    """The answer with code replaced by ``fill`` (letters by default) of the same
    length: the splitter does not cut inside code, and a "[1]" there is not taken for a
    marker; with blanks, no word of the code is taken for a claim."""
    chars = list(answer)
    for a, b in code:
        for i in range(a, b):
            if chars[i] != "\n":
                chars[i] = fill
    return "".join(chars)


def _in_fence(start: int, end: int, answer: str, code: list[tuple[int, int]]) -> bool:
    # A sentence wholly inside a code block is code, not a claim.
    return any(a <= start and end <= b and answer[a:b].lstrip().startswith(("```", "~~~"))
               for a, b in code)


def _end_of(answer: str, s: _Sentence) -> tuple[int, int]:
    """Where a citation goes: after the sentence and its closing punctuation, before the
    whitespace that follows it."""
    body = answer[s.start : s.end]
    cut = s.start + len(_TRAILER.split(body, maxsplit=1)[0])
    if answer[s.start : cut].endswith("|") and answer[s.start : cut].count("|") > 1:
        cut = len(answer[:cut - 1].rstrip(" \t"))  # inside a row's last cell, not after it
    return cut, cut


def _glue(answer: str, s: _Sentence) -> str:
    end = _end_of(answer, s)[0]
    last = answer[end - 1] if end > s.start else ""
    return "" if re.match(f"[{CJK_CHARS}。！？；：，、）」』”]", last) else " "


def _apply(answer: str, edits: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    pos = 0
    for a, b, text in sorted(edits):
        out.append(answer[pos:a])
        out.append(text)
        pos = b
    out.append(answer[pos:])
    return "".join(out)


# ----------------------------------------------------------------------- unsupported

# A number as written: "79/80", "4.5%", "1,024", "3.5倍" (the unit is not part of it),
# also right after a Chinese character ("可达10公分"), not inside a Latin word ("A100").
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])\d+(?:[.,/:]\d+)*%?")
# A Latin-script name: a word with a capital inside or a digit ("vLLM", "GPT-2", "A100"),
# or a capitalised word in Chinese text, where every Latin word names something.
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*")
_LATIN_NAME = re.compile(r"\b[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*\b|\b[A-Z][a-z]{2,}\b")


def unsupported_claims(answer: str, sources: Sequence[str]) -> list[str]:
    """Numbers and Latin-script names in ``answer`` (outside code and markers) that none
    of ``sources`` holds, once each, in order."""
    code = [(m.start(), m.end()) for m in _CODE.finditer(answer)]
    numbers, names = _claims(_MARK.sub(" ", _mask(answer, code, " ")))
    every = _Holder.of(" ".join(sources))
    out = [n for n, _ in numbers if not every.holds_number(n)]
    out += [name for name in names if not every.holds_name(name)]
    return list(dict.fromkeys(out))


def _claims(prose: str) -> tuple[list[tuple[str, str]], list[str]]:
    """What ``prose`` claims that a source must hold: its numbers, each with the unit
    that follows it ("" for none), and its Latin-script names, in order."""
    chinese = bool(_CJK_RUN.search(prose))
    numbers = []
    for m in _NUMBER.finditer(prose):
        if not _list_number(prose, m):
            unit = _UNIT.match(prose, m.end())
            numbers.append((m.group(0), unit.group(1) if unit else ""))
    names = [m.group(0) for m in _LATIN.finditer(prose)
             if _is_name(m.group(0), prose, m.start(), chinese)]
    return numbers, names


@dataclass(frozen=True)
class _Holder:
    """A source's text in the forms its numbers and names are looked up in, made once."""

    numbers: str  # thousands separators dropped (_numbers_text)
    folded: str  # case folded
    squashed: str  # case folded, no whitespace

    @classmethod
    def of(cls, text: str) -> _Holder:
        return cls(_numbers_text(text), text.casefold(), squash(text))

    def holds_number(self, number: str, unit: str = "") -> bool:
        return _number_held(number, self.numbers, unit)

    def holds_name(self, name: str) -> bool:
        return _word_held(name, self.folded, self.squashed)


def _numbers_text(text: str) -> str:
    # Thousands separators and a space before "%" vary between a source and its restatement.
    return re.sub(r"(?<=\d)\s+%", "%", re.sub(r"(?<=\d),(?=\d{3})", "", text))


def _number_held(number: str, haystack: str, unit: str = "") -> bool:
    whole = _numbers_text(number)
    if unit:  # "10公分" is held as "10公分" or "10 公分", not as another "10"
        pattern = re.escape(whole) + r"[ \t]?" + re.escape(unit)
        return bool(re.search(rf"(?<![\d.]){pattern}", haystack, re.IGNORECASE))
    if re.search(rf"(?<![\d.]){re.escape(whole)}(?!\d|\.\d)", haystack):
        return True
    # "79/80" where the source says "79 of 80": each part must be there.
    parts = re.findall(r"\d+(?:\.\d+)?", whole)
    return len(parts) > 1 and all(
        re.search(rf"(?<![\d.]){re.escape(p)}(?!\d|\.\d)", haystack) for p in parts
    )


def _list_number(prose: str, m: re.Match[str]) -> bool:
    # "1. ", "2) " at the start of a line number the answer's own list.
    line_start = prose.rfind("\n", 0, m.start()) + 1
    return not prose[line_start : m.start()].strip() and bool(
        re.match(r"[.)、]\s", prose[m.end() : m.end() + 2])
    )


def _is_name(word: str, prose: str, at: int, chinese: bool) -> bool:
    if len(word) < 2:
        return False
    if any(c.isdigit() for c in word) or any(c.isupper() for c in word[1:]):
        return True
    if not word[0].isupper():
        return chinese and len(word) >= 3  # a lower-case term inside Chinese text
    before = prose[:at].rstrip(" \t\"'“‘(（*")
    return chinese or not (before == "" or before[-1] in ".!?\n:：")


def _word_held(word: str, text: str, squashed: str) -> bool:
    low = word.casefold()
    # A name's plural on either side ("DSLs" where the source says "其他现有 DSL", "LLM"
    # for "LLMs"): the same name, not an invented one.
    stem = re.sub(r"(?<=[a-z0-9])(?:e?s)$", "", low) if len(low) > 3 else low
    for w in dict.fromkeys((low, stem)):
        if re.search(rf"(?<![a-z0-9]){re.escape(w)}(?:e?s)?(?![a-z0-9])", text):
            return True
    # "HuggingFace" for "Hugging Face"; long enough not to be found inside any word.
    return len(low) >= 4 and squash(low) in squashed
