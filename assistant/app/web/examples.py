"""Example questions for the empty chat, made from the corpus's own headings."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from assistant import store
from assistant.text.language import CJK, CJK_CHARS

_NUMBERING = re.compile(
    r"^\s*(?:(?:\d+|[IVXivx]+)(?:\.\d+)*[.、)）:]?\s+|[一二三四五六七八九十]+[、.]\s*)"
)
_GENERIC = frozenset(
    """survey overview introduction intro summary conclusion references contents appendix
    abstract background notes todo faq misc 引言 概述 简介 总结 小结 参考 参考文献 目录 附录
    前言 背景 说明 其他 其它 基础理论""".split()  # noqa: SIM905 - a word list reads better as text
)


def example_questions(index_dir: Path, limit: int = 4) -> list[str]:
    """Questions built from the corpus's headings: "什么是 MoE？", "What is LoRA?".

    Headings under which the most passages sit come first, one document at a time, so
    the examples spread over the corpus. Chinese wording unless the headings are
    mostly Latin script.
    """
    try:
        conn = sqlite3.connect(f"file:{Path(index_dir) / store.DB_NAME}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT d.path, c.heading, COUNT(*) FROM chunks c JOIN documents d "
                "ON d.id = c.doc_id WHERE c.heading != '' GROUP BY d.path, c.heading "
                "ORDER BY COUNT(*) DESC, d.path"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return []
    per_doc: dict[str, list[str]] = {}
    seen: set[str] = set()
    for doc, heading, _ in rows:
        leaf = _NUMBERING.sub("", heading.split(" > ")[-1]).strip(" #*:：")
        key = leaf.lower().removesuffix("汇总")  # "推理框架汇总" asks what "推理框架" asks
        if not (2 <= len(leaf) <= 24) or key in seen or key in _GENERIC:
            continue
        if not re.search(f"[A-Za-z{CJK_CHARS}]", leaf):
            continue
        seen.add(key)
        per_doc.setdefault(doc, []).append(leaf)
    leaves = [x for group in per_doc.values() for x in group]
    chinese = sum(bool(CJK.search(x)) for x in leaves) * 2 >= len(leaves) or not leaves
    out: list[str] = []
    queues = [list(v) for v in per_doc.values()]
    while len(out) < limit and any(queues):
        for q in queues:
            if q and len(out) < limit:
                out.append(_question(q.pop(0), chinese))
    return out


def _question(term: str, chinese: bool) -> str:
    if chinese:
        if term.endswith("汇总") and len(term) > 2:
            return f"有哪些{_space(term[:-2])}？"
        return f"什么是{_space(term)}？"
    return f"What is {term}?"


def _space(term: str) -> str:
    """A space between Chinese and a Latin word that follows it: "什么是 MoE"."""
    return f" {term}" if term[:1].isascii() else term
