"""Definition questions ("What is LoRA?", "什么是 MoE？", "LoRA 是什么？") and the places
that define their subject.

A question that only names a term (or asks for an overview: "介绍一下 MoE") matches
every passage that mentions it, and BM25 favours the one that repeats it most: a
benchmark table with five "LoRA" rows beat the glossary line "LoRA | Low-Rank Adaption
of Large Language Models, …". Search lifts the passages that define the term, and
extractive answers prefer the defining sentence.
"""

from __future__ import annotations

import re
from functools import lru_cache

from assistant.text.language import CJK_CHARS

_QUESTION = (
    re.compile(r"(?i)^(?:what|who)\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?(.+)$"),
    re.compile(r"(?i)^(?:define|explain|describe|tell\s+me\s+about|what\s+do\s+you\s+know"
               r"\s+about)\s+(?:an?\s+|the\s+)?(.+)$"),
    re.compile(r"^(?:请问)?什么(?:是|叫)(?:做)?(.+)$"),
    re.compile(r"^(.+?)\s*的(?:定义|含义|意思)是(?:什么|啥)"),
    re.compile(r"^(.+?)(?:到底|究竟)?(?:是|指)(?:什么|谁|啥|指什么|的是什么|[做干]什么的)"),
    # A request for an overview is a definition question too: "简单说说 LoRA", "介绍一下
    # MoE". Last, so that "解释器是什么？" asks about 解释器.
    re.compile(r"^(?:请|请你|给我|帮我|你能)?(?:简单|简要|详细)?地?"
               r"(?:介绍|说说|讲讲|谈谈|聊聊|解释)(?:一下|下)?(?:什么是)?\s*(.+)$"),
)
# What is left of a request that names nothing: "介绍一下", "聊聊天", "说说看".
_NO_TERM = re.compile(f"一?下|[{CJK_CHARS}]")
MAX_SUBJECT_CHARS = 40  # longer "subjects" are whole questions ("what is the name of…")


@lru_cache(maxsize=256)  # asked by search, the answer and the quote for the same question
def subject(question: str) -> str | None:
    """The term a definition question asks about, or None for other questions."""
    q = question.strip().rstrip("?？。.！! ")
    for pattern in _QUESTION:
        m = pattern.match(q)
        if m:
            term = m.group(1).strip().strip("\"'“”「」《》")
            if term and len(term) <= MAX_SUBJECT_CHARS and not _NO_TERM.fullmatch(term):
                return term
            return None
    return None


def _sentence(t: str) -> str:
    return rf"{t}\W{{0,3}}(?:通常|一般|主要|就)?(?:是|指|为|:|：|is\b|are\b|was\b|refers\b)"


def _place(t: str) -> str:
    lead = rf"(?:^|\n|\|)[ \t#*>-]*\[?{t}(?:\]\([^)\n]*\))?"
    return (rf"(?:{lead}[ \t]*(?:\||:|：|\n|\(|（|,|，|是|is\b|are\b|refers\b))"
            rf"|(?:{t}\W{{0,3}}(?:是一|是指|指的是|is an?\b|are\b|refers to\b))")


@lru_cache(maxsize=256)
def passage_pattern(term: str) -> re.Pattern[str]:
    """A place in a passage that defines ``term``: a line or table cell that starts with
    it (a glossary entry "LoRA | Low-Rank …", a heading "MoE" over its description, a link
    "[vLLM](url) | …"), or "X 是一…/X is a …"."""
    return re.compile(f"(?i){_place(re.escape(term))}")


@lru_cache(maxsize=256)
def sentence_pattern(term: str) -> re.Pattern[str]:
    """A sentence or table row that defines ``term``: "X 是…", "X is …", "X: …", or a
    row or line that opens with it."""
    t = re.escape(term)
    return re.compile(f"(?i){_sentence(t)}|{_place(t)}")
