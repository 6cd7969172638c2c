"""Markdown as a reader sees it: markup stripped to its words, and table rows as cells.

The extractive answers quote sentences and table rows of the passages; attribution
splits a model's answer the same way, so a row it copies is matched as a row. Both read
tables through these functions, and the loaders find a table's ``|---|`` line with
:func:`is_table_separator`.
"""

from __future__ import annotations

import re

HEADER_CELL_CHARS = 24  # a table's first line is its header when its cells are this short

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HTML = re.compile(r"<[^>\n]{1,200}>")
_MARKER = re.compile(r"\s*[\[【［]\^?\d{1,4}[\]】］]")  # the source's own footnote marks
_LINE_LEAD = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+•]\s+|\d{1,3}[.)、]\s+)+")
_EMPHASIS = re.compile(r"\*\*|__|~~")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_SENTENCE_CELL = re.compile(r"[。！？]$|\s\S*[.!?]$")  # "No." is a label, "It is fast." is not


def plain(text: str) -> str:
    """Markdown and HTML reduced to the words a reader sees."""
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML.sub("", text)
    text = _MARKER.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _LINE_LEAD.sub("", text)
    return re.sub(r"[ \t\u3000]+", " ", text).strip()


def is_table_separator(line: str) -> bool:
    """A Markdown table's ``|---|:---:|`` line."""
    return "|" in line and "-" in line and bool(_TABLE_SEP.match(line))


def table_cells(line: str, in_table: bool = False) -> list[str] | None:
    """The cells of a Markdown (``| a | b |``) or tab-separated row, else None.

    A row without outer pipes needs two " | " to count, unless it follows a table line:
    "sft | Supervised Fine-Tuning…" under "缩写名 | 描述 | 备注" is a row whose last
    cell is empty, not a sentence that happens to hold a bar."""
    if "\t" in line.strip():
        cells = [c for c in line.strip().split("\t") if c.strip()]
        return cells if len(cells) >= 2 else None
    stripped = line.strip()
    if stripped.startswith("|") or stripped.count(" | ") >= (1 if in_table else 2):
        cells = [c for c in stripped.strip("|").split("|") if c.strip()]
        return cells if len(cells) >= 2 or is_table_separator(line) else None
    return None


def label_cells(cells: list[str]) -> bool:
    """Cells that read as column names: short, with no sentence in them."""
    return all(len(plain(c)) <= HEADER_CELL_CHARS and not _SENTENCE_CELL.search(c.strip())
               for c in cells)
