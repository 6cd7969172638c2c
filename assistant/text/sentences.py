"""Sentences: the one splitter that chunking, extractive quotes, attribution and the
abstain check's windows all cut text with.

A sentence ends after 。！？；!?; or after a "." followed by a space, a closing quote or
bracket, a Chinese character or the end ("github.com" and "3.5" are not ends), closing
quotes and brackets and the space after staying with it. A cut after "St.", "Dr.", "e.g."
or an initial ("J. K. Rowling") is undone.
"""

from __future__ import annotations

import re

from assistant.text.language import CJK_CHARS

CLOSERS = re.escape("\"'”’)）]」』》")  # closing quotes/brackets stay with the sentence
_END = re.compile(rf"(?:[。！？；!?;]+|\.(?=[\s{CLOSERS}]|[{CJK_CHARS}]|$))[{CLOSERS}]*\s*")
_ABBREVIATION = re.compile(
    r"(?:\b(?:St|Mt|Ft|Mr|Mrs|Ms|Dr|Prof|Sr|Jr|No|vs|e\.g|i\.e|U\.S)|(?<![\w.])[A-Z])\.\s*$"
)


def cut_after(pattern: re.Pattern[str], text: str) -> list[str]:
    """``text`` cut after each match of ``pattern``; ``"".join`` gives it back."""
    parts: list[str] = []
    start = 0
    for m in pattern.finditer(text):
        if m.end() > start:
            parts.append(text[start : m.end()])
            start = m.end()
    if start < len(text):
        parts.append(text[start:])
    return parts


def split_sentences(line: str) -> list[str]:
    """Sentences of one line, closing punctuation kept; ``"".join`` gives the line back."""
    out: list[str] = []
    for piece in cut_after(_END, line):
        if out and _ABBREVIATION.search(out[-1][-8:]):  # the tail only: joins grow it
            out[-1] += piece
        else:
            out.append(piece)
    return out


def text_sentences(text: str) -> list[str]:
    """Sentences of a text of several lines: a line end ends a sentence too."""
    return [s for line in text.splitlines(keepends=True) for s in split_sentences(line)]
