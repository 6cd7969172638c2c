"""Which language a text is in, as far as answering cares: Chinese or not.

A question is Chinese when a fifth of its letters are Chinese characters; answers, notices
and the extractive quotes follow the question's language, and an English-only embedder's
vote is switched off for it.
"""

from __future__ import annotations

import re

CJK_CHARS = "\u3400-\u9fff\uf900-\ufaff"  # Chinese characters, for a regex class
CJK = re.compile(f"[{CJK_CHARS}]")  # a Chinese character


def cjk_share(text: str) -> float:
    """The share of the letters and digits of ``text`` that are Chinese characters."""
    letters = [c for c in text if c.isalnum()]
    return sum(bool(CJK.match(c)) for c in letters) / max(1, len(letters))


def language(text: str) -> str:
    """"zh" when a fifth of the letters are Chinese characters, else "en"."""
    return "zh" if cjk_share(text) >= 0.2 else "en"
