"""A short answer shown with the sentence that backs it.

A 1.5B model often answers with the bare phrase: "秋晴", "26 届", "演员", "Lenin". Cited,
such an answer is right as far as it goes, yet the reader has to open the source to see
what it rests on, and a phrase cut short loses what the source says beside it: the full
name (日野秋晴), the ordinal (第 26 届), the other two professions (歌手，演员和电视主持人).
So an answer that does not restate its question is followed by the one sentence of the source it
cites first that holds the most of it, quoted, with that source's marker. Only the
source's own text is added: nothing is claimed that the cited passage does not say.

"Does not restate the question" is the test because a model that states its answer
restates the question around it ("推官在明代各府主要负责…", "The school was renamed as
Harvard College in 1639."); an answer holding fewer than half of the question's content
words is a phrase. Measured on the saved answers of Qwen2.5-Coder-1.5B-Instruct
(bench/backing_rescore.py, BENCHMARKS.md, session 16).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.text.language import language
from assistant.text.sentences import text_sentences
from assistant.text.tokens import query_tokens, squash

_MARK = re.compile(r"\s*\[\d{1,4}\]")

def is_brief(answer: str, question: str) -> bool:
    """One line that holds fewer than half of the question's content words."""
    prose = _MARK.sub("", answer).strip()
    if not prose or "\n" in prose:
        return False
    asked = set(query_tokens(question))
    return len(asked & set(query_tokens(prose))) < len(asked) / 2


def is_echo(answer: str, sentence: str) -> bool:
    """The answer holds every content word of the sentence: quoting it would say the same
    twice ("Old Briton ignored the warning." over "Old Briton" ignored the warning.)."""
    return set(query_tokens(sentence)) <= set(query_tokens(_MARK.sub("", answer)))


def backing_sentence(answer: str, question: str, source: str) -> str | None:
    """The sentence of ``source`` that holds the most of what ``answer`` adds to the
    question (its words the question lacks), then of all its words, then of the
    question's; the earlier one on a tie. None when it holds none of the answer."""
    mine = query_tokens(_MARK.sub("", answer))
    asked = query_tokens(question)
    new = [w for w in mine if w not in asked] or list(mine)
    best, best_key = None, (0.0, 0.0, 0.0)
    for sentence in text_sentences(source):
        flat = squash(sentence)
        key = tuple(sum(squash(w) in flat for w in words) / max(1, len(words))
                    for words in (new, mine, asked))
        if key > best_key:
            best, best_key = sentence.strip(), key
    return best if best_key[0] > 0 else None


def with_backing(answer: str, question: str, sources: Sequence[str], cited: Sequence[int]) -> str:
    """``answer`` as it is, or, when it is brief and cites, followed by the quoted sentence
    of its first cited source (1-based ``cited``) that backs it."""
    if not cited or not is_brief(answer, question):
        return answer
    n = cited[0]
    sentence = backing_sentence(answer, question, sources[n - 1])
    if not sentence or is_echo(answer, sentence):
        return answer
    gap = "" if language(sentence) == "zh" else " "
    return f"{answer.rstrip()}\n\n> {sentence}{gap}[{n}]"
