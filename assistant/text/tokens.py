"""Chinese-aware words, one cut for every step that compares texts by their words:
jieba words for Chinese, lower-cased snowball-stemmed words for Latin script.

- :func:`tokenize`: documents for the full-text index (jieba's fine-grained cut);
- :func:`query_tokens`: a question's content words for BM25, the abstain check and
  attribution (precise cut, :data:`STOPWORDS` dropped, and the corpus named as where to
  look, "in the notes", "文档里", which no passage holds);
- :func:`match_tokens`: the words and single Chinese characters by which extractive
  answers match a question's words to a sentence's (lightly stemmed: see
  :func:`light_stem`).

One stop-word list (:data:`STOPWORDS`): function words and question words ("什么",
"what") that every passage would otherwise half-match; questions also drop
:data:`QUESTION_ONLY`, the words of a request ("简单说说", "tell me about").
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

from assistant.text.language import CJK_CHARS

# Recorded in the index manifest: a change re-tokenises the full-text index (no re-embedding).
LEXICAL_VERSION = "jieba-search+snowball-en/1"

_WORD = re.compile(r"\w", re.UNICODE)
_jieba_lock = threading.Lock()
_jieba_ready = False

# Function and question words: no passage is about them. Every step that compares texts
# by their words drops them.
# Question words: where a question has one, its passage has the answer instead.
QUESTION_WORDS = frozenset(
    """
    哪 什么 哪个 哪些 哪里 哪儿 哪家 哪位 哪种 哪一 哪一年 怎么 怎样 怎么样 如何 为什么 为何
    多少 几 谁 什么样 什么时候
    what which who whom whose when where why how
    """.split()  # noqa: SIM905 - a word list reads better as text
)
STOPWORDS = QUESTION_WORDS | frozenset(
    """
    的 了 是 在 和 与 及 或 有 为 被 把 对 从 中 上 下 等 也 都 就 而 之 其 这 那 以
    些 个 吗 呢 吧 啊 一个 一种 我 你 我们 他 它 们 是否 是不是
    请问 请 一下 可以 能 能够 会 要 需要 通常 主要 一般 指 叫 称为 属于 时候
    a an the is are was were be been of in on at to for from by with as and or not no
    does do did can
    this that these those it its their there than then into about
    """.split()  # noqa: SIM905
)
# Words of a question that name no topic but that sentences use with meaning: a
# request's phrasing (a chat user writes "简单说说 LoRA", "帮我总结一下 vLLM 的特点", "Tell
# me about LoRA"; searched, "简单" outweighed "LoRA" and no passage about LoRA came first;
# weighed by the abstain check, they made such questions abstain) and English words of
# time and mood. Search queries (and so the abstain check and attribution) drop them;
# extractive answers keep them, where "after" or "could" picks the sentence (SQuAD,
# bench/answers.py: gold 86.7% -> 86.0% with them dropped).
QUESTION_ONLY = frozenset(
    """
    您 想 想要 知道 了解 介绍 说 说说 讲 讲讲 谈 谈谈 聊聊 解释 告诉 帮 帮忙 帮我
    给 给我 总结 概括 概述 简单 简要 简述 详细 能否 能不能 不能 可不可以 可否 有没有 关于
    提到 提及 根据 按照 说明 介绍一下 解释一下 说明一下 说一下 讲一下 总结一下 概括一下
    me tell explain describe summarize summarise please know want overview brief briefly
    being could should would will after before also
    """.split()  # noqa: SIM905
)
QUERY_STOPWORDS = STOPWORDS | QUESTION_ONLY
# English words too common to name a topic, and the pieces of contractions: the abstain
# check leaves them out of the words it weighs. Not stopwords: as search terms they help
# (SQuAD hybrid r1 0.857 -> 0.853 with them dropped from queries).
EN_FILLER = frozenset(
    """
    his her him she he you your we our us me my i s t doesn don isn aren wasn didn won
    so much many two most some any such one other only also very
    """.split()  # noqa: SIM905
)
CHAR = "\x00"  # prefix of :func:`match_tokens`' character features (apart from 1-char words)
# "… in the notes", "根据文档…", "文档里提到…": the corpus itself, named as where to look.
# Only in these phrases: "文档加载器" and "How are notes chunked?" are about documents.
_WHERE_TO_LOOK = re.compile(
    r"(?i)\b(?:in|from|according\s+to|based\s+on)\s+(?:the|these|your|my|our)\s+"
    r"(?:notes?|documents?|docs?|sources?|files?|corpus)\b"
    r"|\b(?:the|these|your|my|our)\s+(?:notes?|documents?|docs?|sources?|files?)\s+"
    r"(?:says?|said|mentions?|tells?)\b"
    r"|(?:根据|按照)(?:文档|资料|笔记|文章|文件)|(?:文档|资料|笔记|文章|文件)(?:里面|里|中)"
)


def get_jieba():
    """jieba, initialised once per process (quietly: no "Building prefix dict")."""
    global _jieba_ready
    import jieba

    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba_ready = True
    return jieba


_LATIN = re.compile(r"[a-z]+")
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")


@lru_cache(maxsize=1)
def _stem():
    import snowballstemmer

    return lru_cache(maxsize=200_000)(snowballstemmer.stemmer("english").stemWord)


def light_stem(word: str) -> str:
    """Plural and -ing/-ed endings off a Latin word of over 4 letters ("models",
    "modelled", "modeling" meet "model"), for matching sentences: snowball's stronger
    stems ("univers" for "university" and "universe") blur which sentence of a passage
    answers (SQuAD extractive gold 86.7% -> 85.3%, bench/answers.py), while for choosing
    passages (BM25, :func:`tokenize`) they find more."""
    if not word.isascii() or len(word) <= 4 or not word.isalpha():
        return word
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def _words(text: str, precise: bool = False) -> list[str]:
    jieba = get_jieba()
    words = jieba.lcut(text.lower()) if precise else jieba.lcut_for_search(text.lower())
    return [w for w in (w.strip() for w in words) if w and _WORD.search(w)]


def _stemmed(words: list[str]) -> list[str]:
    stem = _stem()
    return [stem(w) if _LATIN.fullmatch(w) else w for w in words]


def tokenize(text: str) -> list[str]:
    """Search tokens of ``text``: jieba's fine-grained cut, lower-cased, no punctuation;
    English words are stemmed, so "frameworks" meets "framework"."""
    return _stemmed(_words(text))


@lru_cache(maxsize=4096)
def query_tokens(query: str) -> tuple[str, ...]:
    """Distinct content tokens of a question, in order; all tokens if only stopwords.

    Questions are cut in jieba's precise mode, not the search mode used for documents:
    search mode adds every dictionary word inside a long one ("核心思想" -> 核心, 思想,
    核心思想), so a common compound matched the same text three times and outweighed a
    rare exact term ("NextN"). A document's fine-grained tokens include the whole word,
    so it still matches. Measured (r1 / cr500): seeds_dev 0.821/0.929 -> 0.857/0.964,
    CMRC 2018 0.861/0.960 -> 0.864/0.963, SQuAD unchanged.
    """
    words = _words(_WHERE_TO_LOOK.sub(" ", query), precise=True)
    kept = [w for w in words if w not in QUERY_STOPWORDS]
    return tuple(dict.fromkeys(_stemmed(kept or words)))


@lru_cache(maxsize=8192)  # the same chunks come back question after question
def match_tokens(text: str) -> tuple[str, ...]:
    """The content words of ``text`` (precise cut, :func:`light_stem`, no
    :data:`STOPWORDS`), in order and repeated as often as they occur, then each Chinese
    character of it that is not a stopword, prefixed with :data:`CHAR`: jieba may cut
    "雌狸长" differently in a question and in a passage, and "多长" should still meet
    "全长" (a caller weighs these down)."""
    words = [light_stem(w) for w in _words(text, precise=True) if w not in STOPWORDS]
    words += [CHAR + c for c in "".join(_CJK_RUN.findall(text)) if c not in STOPWORDS]
    return tuple(words)


def squash(text: str) -> str:
    """Text as it is compared character for character: whitespace removed, case folded
    ("第26届" meets "第 26 届", "UC Berkeley" meets "ucberkeley")."""
    return _WHITESPACE.sub("", text or "").casefold()


_WHITESPACE = re.compile(r"\s+")


def fts_query(tokens: tuple[str, ...] | list[str]) -> str:
    """An FTS5 MATCH expression: any of the tokens, each quoted so none is an operator."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in tokens)
