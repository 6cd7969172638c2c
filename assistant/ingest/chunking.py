"""Chunking: token-sized pieces that keep their title, heading path and line range.

Sizes are counted in cl100k tokens (tiktoken), the unit the context budget is measured
in. Independently, no chunk may be longer than the embedder's own max sequence length in
its own tokenizer, because a truncated chunk is a chunk whose end can never be found.

How text is cut:
- A block's text is split into sentences (。！？；!?; and "." before a space, and every
  line end); sentences are packed greedily, whole, up to the limits. There is no overlap.
- Adjacent small blocks under the same heading (and page) are packed together; a chunk
  prefers to end at a block boundary once it is half full, and a short title-like line
  (a glossary term, a slide title) moves on with the text that follows it.
- A sentence over the limit is cut at commas (，,、), and then by tokens.
- A table is cut between rows; every piece starts with the header row.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.ingest.loaders import Block, Document, has_text
from assistant.text.sentences import cut_after, split_sentences


@dataclass(frozen=True)
class Chunk:
    doc: str  # path relative to the corpus folder
    title: str
    heading: str  # heading path joined with " > "; "" at top level
    text: str  # the passage itself, as shown and cited
    line_start: int
    line_end: int
    page: int | None = None
    ord: int = 0  # position within its document

    def indexed_text(self) -> str:
        """What is embedded and searched: title and heading path carry context."""
        head = " > ".join(p for p in (self.title, self.heading) if p)
        return f"{head}\n{self.text}" if head else self.text


Counter = Callable[[str], int]

# A margin below the embedder's limit. The counts already include its special tokens and
# passage prefix; this is the one safety margin (the indexer passes the limit as is).
EMBED_HEADROOM = 2

# ------------------------------------------------------------------------ sentences

_COMMA_RE = re.compile(r"[，,、]+\s*")


def _bounded_sentences(line: str, max_chars: int) -> list[str]:
    """Sentences, with any monster (minified text, no punctuation) pre-cut to max_chars.

    Pieces of one line are joined back with nothing between them, so an extra cut costs
    nothing when both halves fit in one chunk; it only bounds the cost of cutting by tokens.
    """
    out: list[str] = []
    for s in split_sentences(line):
        while len(s) > max_chars:
            cut = s.rfind(" ", max_chars // 2, max_chars)
            cut = cut + 1 if cut > 0 else max_chars
            out.append(s[:cut])
            s = s[cut:]
        if s:
            out.append(s)
    return out


# -------------------------------------------------------------------------- packing


@dataclass(frozen=True)
class _Piece:
    text: str
    line: int
    block: int  # index of the block within its group
    first: bool = False  # first piece of its block
    label: bool = False  # starts a short title-like line ("AGI", "LLaMA2:", a slide title)


def _join(pieces: Sequence[_Piece]) -> str:
    out: list[str] = []
    prev: _Piece | None = None
    for p in pieces:
        if prev is not None and (p.line != prev.line or p.block != prev.block):
            out.append("\n")
        out.append(p.text)
        prev = p
    return "".join(out).strip()


_LABEL_MAX_TOKENS = 16
_NOT_LABEL_END = tuple("。！？；.!?;，,、")


def _is_label(line: str, count: Counter) -> bool:
    """A short line that names what follows: a term, a slide title, "LLaMA2:"."""
    text = line.strip()
    return (
        has_text(text)
        and not text.endswith(_NOT_LABEL_END)
        and not text.startswith(("- ", "* ", "+ ", "• "))
        and count(text) <= _LABEL_MAX_TOKENS
    )


def _hard_split(piece: _Piece, fits: Callable[[str], bool]) -> list[_Piece]:
    """The longest prefix that fits, and the rest (which the caller splits again)."""
    text = piece.text
    lo, hi = 1, len(text) - 1
    best = 1
    while lo <= hi:  # binary search on characters: works with any tokenizer
        mid = (lo + hi) // 2
        if fits(text[:mid].strip()):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    space = text.rfind(" ", best // 2, best)
    if space > 0:  # do not cut a word in half when a space is near
        best = space + 1
    return [
        _Piece(text[:best], piece.line, piece.block, piece.first, piece.label),
        _Piece(text[best:], piece.line, piece.block),
    ]


def _split_piece(piece: _Piece, fits: Callable[[str], bool]) -> list[_Piece]:
    """A piece too long for a chunk: cut at commas, else at the longest prefix that fits."""
    parts = cut_after(_COMMA_RE, piece.text)
    if len(parts) > 1:
        return [
            _Piece(t, piece.line, piece.block, piece.first and k == 0, piece.label and k == 0)
            for k, t in enumerate(parts)
        ]
    return _hard_split(piece, fits)


def _pack(
    pieces: list[_Piece], fits: Callable[[str], bool], count: Counter, max_tokens: int
) -> list[list[_Piece]]:
    """Greedy packing of pieces, in order, into groups whose joined text ``fits``."""
    by_block: dict[int, list[_Piece]] = {}
    for p in pieces:
        by_block.setdefault(p.block, []).append(p)
    out: list[list[_Piece]] = []
    cur: list[_Piece] = []
    queue = deque(p for p in pieces if p.text.strip())

    def emit() -> None:
        nonlocal cur
        # A label near the end belongs with the text after it: move it (and what
        # follows it) on to the next chunk, unless that leaves this one too small.
        labels = [k for k, p in enumerate(cur) if p.label and k > 0]
        if labels:
            k = labels[-1]
            if k - 1 > 0 and cur[k - 1].label:  # a term followed by its link line
                k -= 1
            if count(_join(cur[:k])) >= max_tokens // 4:
                queue.extendleft(reversed(cur[k:]))
                cur = cur[:k]
        out.append(cur)
        cur = []

    while queue:
        p = queue.popleft()
        if not cur:
            # A lone character is taken even if it does not fit: nothing smaller exists.
            if fits(_join([p])) or len(p.text.strip()) <= 1:
                cur = [p]
            else:
                queue.extendleft(reversed([q for q in _split_piece(p, fits) if q.text.strip()]))
            continue
        if p.first and p.block != cur[-1].block:
            # Rather end a half-full chunk at a paragraph break than split the paragraph.
            whole = cur + by_block[p.block]
            if not fits(_join(whole)) and count(_join(cur)) >= max_tokens // 2:
                queue.appendleft(p)
                emit()
                continue
        if fits(_join([*cur, p])):
            cur.append(p)
        elif len(p.text.strip()) > 1 and not fits(_join([p])):
            # p gets cut anyway: its first parts may as well fill this chunk.
            queue.extendleft(reversed([q for q in _split_piece(p, fits) if q.text.strip()]))
        else:
            queue.appendleft(p)
            emit()
    if cur:
        out.append(cur)
    return out


# -------------------------------------------------------------------------- chunker


def _groups(blocks: list[Block]) -> list[list[Block]]:
    """Runs of text blocks sharing heading and page; every table stands alone."""
    groups: list[list[Block]] = []
    for b in blocks:
        prev = groups[-1][-1] if groups else None
        if (
            prev is not None
            and b.table_header is None
            and prev.table_header is None
            and b.heading == prev.heading
            and b.page == prev.page
        ):
            groups[-1].append(b)
        else:
            groups.append([b])
    return groups


def chunk_document(
    doc: Document,
    count_tokens: Counter,
    max_tokens: int = 160,
    embed_count: Counter | None = None,
    embed_max: int | None = None,
) -> list[Chunk]:
    """Cut a document into chunks (see the module docstring for how)."""
    budget = None
    if embed_count is not None and embed_max is not None:
        budget = max(1, embed_max - EMBED_HEADROOM)
    max_chars = max(256, 8 * max_tokens)  # no sane sentence is longer; see _bounded_sentences
    raw: list[tuple[str, str, str, int, int, int | None]] = []

    for group in _groups(doc.blocks):
        first = group[0]
        title, heading = _fit_context(doc, first.heading, embed_count, budget)

        def fits(text: str, title: str = title, heading: str = heading) -> bool:
            if count_tokens(text) > max_tokens:
                return False
            if budget is None or embed_count is None:
                return True
            probe = Chunk(doc.path, title, heading, text, 0, 0)
            return embed_count(probe.indexed_text()) <= budget

        if first.table_header is not None:
            for text, lo, hi in _chunk_table(first, fits, count_tokens, max_tokens):
                raw.append((title, heading, text, lo, hi, first.page))
            continue

        pieces: list[_Piece] = []
        for b_idx, block in enumerate(group):
            first_piece = True
            for line, lineno in zip(block.text.split("\n"), block.line_numbers(), strict=True):
                label = _is_label(line, count_tokens)
                for k, s in enumerate(_bounded_sentences(line, max_chars)):
                    pieces.append(_Piece(s, lineno, b_idx, first_piece, label and k == 0))
                    first_piece = False
        for packed in _pack(pieces, fits, count_tokens, max_tokens):
            text = _join(packed)
            lines = [p.line for p in packed if p.text.strip()]
            raw.append((title, heading, text, min(lines), max(lines), first.page))

    chunks: list[Chunk] = []
    for title, heading, text, lo, hi, page in raw:
        if not has_text(text):
            continue
        chunks.append(Chunk(doc.path, title, heading, text, lo, hi, page, len(chunks)))
    return chunks


def _chunk_table(
    block: Block, fits: Callable[[str], bool], count: Counter, max_tokens: int
) -> list[tuple[str, int, int]]:
    header = (block.table_header or "").strip()
    rows = [
        (text.strip(), n)
        for text, n in zip(block.text.split("\n"), block.line_numbers(), strict=True)
        if has_text(text)
    ]
    if not rows:
        return []
    # A header that eats most of the budget is not repeated; it leads the first piece.
    if not header or count(header) > max_tokens // 2 or not fits(header):
        pieces = [_Piece(t, n, k, True) for k, (t, n) in enumerate(rows)]
        if header:
            pieces.insert(0, _Piece(header, rows[0][1], -1, True))
        return [
            (_join(g), min(p.line for p in g), max(p.line for p in g))
            for g in _pack(pieces, fits, count, max_tokens)
        ]

    def with_header(text: str) -> str:
        return f"{header}\n{text}"

    def row_fits(text: str) -> bool:
        return fits(with_header(text))

    out: list[tuple[str, int, int]] = []
    cur: list[tuple[str, int]] = []

    def emit() -> None:
        if cur:
            body = "\n".join(t for t, _ in cur)
            out.append((with_header(body), cur[0][1], cur[-1][1]))
            cur.clear()

    for text, n in rows:
        if cur and row_fits("\n".join([*(t for t, _ in cur), text])):
            cur.append((text, n))
            continue
        emit()
        if row_fits(text):
            cur.append((text, n))
            continue
        # One row longer than a chunk: cut it like prose, header on every piece.
        sentences = _bounded_sentences(text, max(256, 8 * max_tokens))
        pieces = [_Piece(s, n, 0, k == 0) for k, s in enumerate(sentences)]
        for g in _pack(pieces, row_fits, count, max_tokens):
            out.append((with_header(_join(g)), n, n))
    emit()
    return out


def _fit_context(
    doc: Document, path: tuple[str, ...], embed_count: Counter | None, budget: int | None
) -> tuple[str, str]:
    """(title, heading) for chunks under ``path``, shortened if it would crowd out text.

    The heading path repeats the title when the document's first H1 is its title; that
    copy is dropped. In the rare case title and heading take over half of the embedder's
    window, leading heading levels go first, then characters from the end.
    """
    title = doc.title
    parts = list(path)
    if parts and parts[0] == title:
        parts = parts[1:]
    heading = " > ".join(parts)
    if embed_count is None or budget is None:
        return title, heading

    def too_long() -> bool:
        return embed_count(Chunk(doc.path, title, heading, "", 0, 0).indexed_text()) > (budget // 2)

    while too_long() and len(parts) > 1:
        parts = parts[1:]
        heading = " > ".join(parts)
    while too_long() and heading:
        heading = heading[: len(heading) * 3 // 4].rstrip()
    while too_long() and len(title) > 1:
        title = title[: len(title) * 3 // 4].rstrip()
    return title, heading
