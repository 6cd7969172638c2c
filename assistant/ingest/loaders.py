"""Loaders: turn a file into text blocks that keep their structure.

Each :class:`Block` is a run of text under one heading path, with the line range it
came from (and the page, for PDF). Tables become blocks of rows with their header kept
separately so the chunker can repeat it.

Line numbers are what an editor shows for the original file (1-based, after CRLF/CR are
read as one line break), so a citation can point at the exact lines. Every line of a
block's ``text`` maps to one source line through ``Block.lines``; cleaning (HTML tags,
decoration) never merges or splits lines, and lines that clean to nothing are dropped
from the block together with their numbers.

Titles, per format:
- Markdown: front matter ``title:``, else the first level-1 heading, else the file stem.
- Plain text: the first non-blank line when it looks like a title (short, no sentence
  punctuation at its end, followed by a blank line; web "skip to content" furniture is
  passed over first), else the file stem. That line is then not repeated as content.
- HTML: ``<title>``, else the first ``<h1>``, else the stem.
- PDF: the document's metadata title (unless empty or "untitled"), else the stem.
- DOCX: core properties title, else the first Title/Heading paragraph, else the stem.
"""

from __future__ import annotations

import codecs
import html
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from assistant.text.markup import is_table_separator


@dataclass
class Block:
    text: str
    heading: tuple[str, ...] = ()
    line_start: int = 1  # 1-based, inclusive, in the source file (in the page for PDF)
    line_end: int = 1
    page: int | None = None
    table_header: str | None = None  # set when ``text`` holds table rows
    # Source line of each line of ``text`` (same count as ``text.split("\n")``); empty
    # means consecutive lines from ``line_start``. For DOCX these are paragraph indexes.
    lines: tuple[int, ...] = ()

    def line_numbers(self) -> list[int]:
        """The source line of every line of ``text``."""
        n = self.text.count("\n") + 1
        if len(self.lines) == n:
            return list(self.lines)
        return [self.line_start + i for i in range(n)]


@dataclass
class Document:
    path: str  # relative to the corpus folder, POSIX separators
    title: str
    blocks: list[Block] = field(default_factory=list)


class LoadError(Exception):
    """A file that cannot be indexed; ``str(e)`` is the reason shown to the user."""


MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
TEXT_SUFFIXES = frozenset({".txt", ".text"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = frozenset(
    MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx"}
)


def load_document(path: Path, rel: str) -> Document:
    """Load one file. Bad input only ever raises :class:`LoadError` with a short reason."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"unsupported file type {suffix or '(no extension)'}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LoadError("file disappeared") from None
    except IsADirectoryError:
        raise LoadError("not a file") from None
    except PermissionError:
        raise LoadError("permission denied") from None
    except OSError as e:
        raise LoadError(f"cannot read file ({e.strerror or e})") from None
    if not data.strip():
        raise LoadError("empty file")

    stem = path.stem
    try:
        if suffix == ".pdf":
            title, blocks = _parse_pdf(data, stem)
        elif suffix == ".docx":
            title, blocks = _parse_docx(data, stem)
        else:
            text = decode_text(data)
            if suffix in HTML_SUFFIXES:
                title, blocks = parse_html(text, stem)
            elif suffix in MARKDOWN_SUFFIXES:
                title, blocks = parse_markdown(text, stem)
            else:
                title, blocks = parse_plain_text(text, stem)
    except LoadError:
        raise
    except Exception as e:  # a parser library choking on odd input is still bad input
        raise LoadError(f"could not parse the file ({type(e).__name__}: {e})"[:200]) from e
    if not blocks:
        raise LoadError("no text found" + (" (scanned PDF?)" if suffix == ".pdf" else ""))
    return Document(path=rel, title=title or stem, blocks=blocks)


# ---------------------------------------------------------------------------- text


_CONTROL_OK = frozenset("\t\n\r\f\v\x1b")


def decode_text(data: bytes) -> str:
    """Bytes of a text file -> str with LF line ends.

    UTF-8 (a BOM is dropped), UTF-16 with a BOM, else GB18030 (a superset of GBK and
    GB2312, what Chinese Windows tools write). Anything else is treated as binary.
    """
    text: str | None = None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            text = None
    elif b"\x00" not in data:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    if text is None:
        raise LoadError("binary content, not text")
    # GB18030 decodes many byte soups; real text has almost no control characters.
    controls = sum(1 for ch in text if ch < " " and ch not in _CONTROL_OK)
    if controls > max(2, len(text) // 100):
        raise LoadError("binary content, not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _split_lines(text: str) -> list[str]:
    # Not str.splitlines(): it also breaks at \f, \x1c.., \u2028, which editors do not,
    # and line numbers must match what the user sees.
    return text.split("\n")


def _is_blank(line: str) -> bool:
    return not line.strip()  # str.strip() also removes NBSP and full-width spaces


# ------------------------------------------------------------------------ cleaning

# Only real HTML tag names, so that text such as "<T>" or "<0x00>" survives.
_HTML_TAGS = (
    "a|abbr|address|article|aside|audio|b|big|blockquote|body|br|button|caption|center|"
    "cite|code|col|colgroup|dd|del|details|dfn|div|dl|dt|em|embed|figcaption|figure|font|"
    "footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|kbd|label|li|link|main|"
    "mark|meta|nav|object|ol|p|picture|pre|q|s|samp|section|small|source|span|strike|"
    "strong|sub|summary|sup|table|tbody|td|tfoot|th|thead|tr|tt|u|ul|var|video|wbr"
)
_TAG_RE = re.compile(rf"</?(?:{_HTML_TAGS})(?:\s[^<>]*|\"[^<>]*)?/?>", re.IGNORECASE)
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_RAW_BLOCK_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
# Decorative rules such as "**-*-*-*-*-*" or "=====" inside a line carry no text.
_DECORATION_RE = re.compile(r"[-*=_~]{4,}")
_SPACES_RE = re.compile(r"(?<=\S)[ \t]{2,}")
_ENTITY_RE = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]{2,8});")


def _blank_out(match: re.Match[str]) -> str:
    """Replace a multi-line match with as many newlines, so line numbers stay put."""
    return "\n" * match.group(0).count("\n")


def _clean_inline(line: str) -> str:
    """One Markdown/text line without HTML tags, entities and decoration."""
    cleaned = line
    if "<" in cleaned:
        cleaned = _TAG_RE.sub(" ", cleaned)
    if "&" in cleaned and _ENTITY_RE.search(cleaned):
        cleaned = html.unescape(cleaned)
    cleaned = _DECORATION_RE.sub(" ", cleaned)
    if cleaned != line:
        cleaned = cleaned.strip()  # what the removed markup left is not indentation
    return _SPACES_RE.sub(" ", cleaned).rstrip()


_EMPHASIS_RE = re.compile(r"(\*{1,3}|_{2,3}|`+)")
_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _clean_heading(text: str) -> str:
    text = _clean_inline(text)
    text = _LINK_RE.sub(r"\1", text)
    text = _EMPHASIS_RE.sub("", text)
    return " ".join(text.split())


def has_text(text: str) -> bool:
    """Whether ``text`` holds a letter or digit (not only punctuation and space)."""
    return any(ch.isalnum() for ch in text)


# ------------------------------------------------------------------------ builders


class _BlockBuilder:
    """Collects (line number, text) pairs and turns runs of them into blocks."""

    def __init__(self, page: int | None = None) -> None:
        self.blocks: list[Block] = []
        self.heading: tuple[str, ...] = ()
        self.page = page
        self._levels: list[int] = []
        self._para: list[tuple[int, str]] = []

    def set_heading(self, level: int, text: str) -> None:
        self.flush()
        names = list(self.heading)
        while self._levels and self._levels[-1] >= level:
            self._levels.pop()
            names.pop()
        if text:
            self._levels.append(level)
            names.append(text)
        self.heading = tuple(names)

    def add_line(self, lineno: int, text: str) -> None:
        if not _is_blank(text):
            self._para.append((lineno, text))

    def flush(self) -> None:
        para, self._para = self._para, []
        if para and any(has_text(t) for _, t in para):
            self._emit([n for n, _ in para], [t for _, t in para], None)

    def add_table(self, header: str, rows: list[tuple[int, str]]) -> None:
        self.flush()
        rows = [(n, r) for n, r in rows if has_text(r)]
        if rows:
            self._emit([n for n, _ in rows], [r for _, r in rows], header or None)

    def _emit(self, numbers: list[int], texts: list[str], header: str | None) -> None:
        self.blocks.append(
            Block(
                text="\n".join(texts),
                heading=self.heading,
                line_start=min(numbers),
                line_end=max(numbers),
                page=self.page,
                table_header=header,
                lines=tuple(numbers),
            )
        )


# ------------------------------------------------------------------------ markdown

_ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_THEMATIC_RE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_RE = re.compile(r"^\s*(?:[-+*]|\d+[.)])\s")


def _split_pipe_row(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.replace("\\|", "|").strip() for c in re.split(r"(?<!\\)\|", s)]


def _pipe_row_text(line: str) -> str:
    cells = [_clean_inline(c).strip() for c in _split_pipe_row(line)]
    while cells and not cells[-1]:
        cells.pop()
    return " | ".join(cells)


def _front_matter(lines: list[str]) -> tuple[str | None, int]:
    """(title, index of the first content line) for YAML front matter, if any."""
    if not lines or lines[0].strip() != "---":
        return None, 0
    for j in range(1, min(len(lines), 300)):
        if lines[j].strip() in ("---", "..."):
            body = lines[1:j]
            if not any(re.match(r"^[A-Za-z_][\w-]*\s*:", b) for b in body):
                return None, 0  # a thematic break, not front matter
            title = None
            for b in body:
                m = re.match(r"^title\s*:\s*(.*?)\s*$", b)
                if m:
                    title = m.group(1).strip().strip("'\"").strip() or None
                    break
            return title, j + 1
    return None, 0


def parse_markdown(text: str, stem: str) -> tuple[str, list[Block]]:
    """Markdown -> (title, blocks). See the module docstring for the title rule."""
    text = _COMMENT_RE.sub(_blank_out, text)
    text = _RAW_BLOCK_RE.sub(_blank_out, text)
    lines = _split_lines(text)
    fm_title, start = _front_matter(lines)
    first_h1: str | None = None
    out = _BlockBuilder()
    fence: str | None = None
    after_atx = False  # these files underline ATX headings with a stray "-------"
    i = start
    while i < len(lines):
        raw = lines[i]
        lineno = i + 1
        i += 1
        if fence is not None:
            if raw.strip().startswith(fence):
                fence = None
                out.flush()
            else:
                out.add_line(lineno, raw.rstrip())  # code is content, kept verbatim
            continue
        m = _FENCE_RE.match(raw)
        if m:
            out.flush()
            fence = m.group(1)
            after_atx = False
            continue
        if _is_blank(raw):
            out.flush()
            continue
        m = _ATX_RE.match(raw)
        if m:
            level, heading = len(m.group(1)), _clean_heading(m.group(2) or "")
            if level == 1 and first_h1 is None and heading:
                first_h1 = heading
            out.set_heading(level, heading)
            after_atx = True
            continue
        m = _SETEXT_RE.match(raw)
        if m and (after_atx or not out._para):
            after_atx = False
            out.flush()  # stray underline or thematic break: markup, not content
            continue
        if m and not _LIST_RE.match(out._para[-1][1]):
            level = 1 if m.group(1).startswith("=") else 2
            heading = _clean_heading(" ".join(t for _, t in out._para))
            out._para = []
            if level == 1 and first_h1 is None and heading:
                first_h1 = heading
            out.set_heading(level, heading)
            after_atx = True
            continue
        after_atx = False
        if _THEMATIC_RE.match(raw):
            out.flush()
            continue
        if "|" in raw and i < len(lines) and is_table_separator(lines[i]):
            header = _pipe_row_text(raw)
            i += 1  # the separator row
            rows: list[tuple[int, str]] = []
            while i < len(lines) and "|" in lines[i] and not _is_blank(lines[i]):
                if _ATX_RE.match(lines[i]):
                    break
                rows.append((i + 1, _pipe_row_text(lines[i])))
                i += 1
            if rows:
                out.add_table(header, rows)
            else:
                out.add_line(lineno, header)
            continue
        cleaned = _clean_inline(raw)
        if has_text(cleaned):
            out.add_line(lineno, cleaned)
    out.flush()
    return fm_title or first_h1 or stem, out.blocks


# ---------------------------------------------------------------------- plain text

_FURNITURE = frozenset(
    {
        "skip to content",
        "skip to main content",
        "jump to content",
        "jump to navigation",
        "skip to navigation",
        "toggle navigation",
        "menu",
    }
)
_SENTENCE_END = tuple("。！？；：，,.!?;:")


def looks_like_markdown(text: str) -> bool:
    """ATX headings or a pipe table with its separator row."""
    lines = _split_lines(text)
    for k, line in enumerate(lines):
        if re.match(r"^ {0,3}#{1,6}[ \t]+\S", line):
            return True
        if k and is_table_separator(line) and "|" in lines[k - 1]:
            return True
    return False


def _leading_furniture(lines: list[str]) -> int:
    """Index of the first line that is neither blank nor web-page navigation text."""
    k = 0
    while k < len(lines) and (_is_blank(lines[k]) or lines[k].strip().lower() in _FURNITURE):
        k += 1
    return k


def _plain_title(lines: list[str]) -> tuple[str | None, int | None]:
    """(title, its 0-based line index) when the first real line looks like a title."""
    k = _leading_furniture(lines)
    if k >= len(lines):
        return None, None
    cand = " ".join(lines[k].split())
    followed_by_blank = k + 1 < len(lines) and _is_blank(lines[k + 1])
    has_more = any(not _is_blank(x) for x in lines[k + 1 :])
    if (
        has_more
        and 0 < len(cand) <= 60
        and followed_by_blank
        and not cand.endswith(_SENTENCE_END)
        and "\t" not in lines[k]
        and has_text(cand)
    ):
        return cand, k
    return None, None


def _tab_cells(line: str) -> int:
    return len(line.split("\t")) if "\t" in line else 0


def _tab_row_text(line: str) -> str:
    cells = [c.strip() for c in line.split("\t")]
    while cells and not cells[-1]:
        cells.pop()
    return " | ".join(cells).strip()


def parse_plain_text(text: str, stem: str) -> tuple[str, list[Block]]:
    """Plain text -> (title, blocks); Markdown-looking text goes to the Markdown parser."""
    if looks_like_markdown(text):
        return parse_markdown(text, stem)
    lines = _split_lines(text)
    title, title_idx = _plain_title(lines)
    out = _BlockBuilder()
    i = _leading_furniture(lines)
    while i < len(lines):
        line = lines[i]
        if i == title_idx or _is_blank(line):
            out.flush()
            i += 1
            continue
        cells = _tab_cells(line)
        if cells >= 2:
            j = i + 1
            while j < len(lines) and _tab_cells(lines[j]) == cells:
                j += 1
            if j - i >= 2:
                rows = [(k + 1, _tab_row_text(lines[k])) for k in range(i + 1, j)]
                out.add_table(_tab_row_text(line), rows)
                i = j
                continue
        out.add_line(i + 1, line.rstrip())
        i += 1
    out.flush()
    return title or stem, out.blocks


# ---------------------------------------------------------------------------- HTML

_HTML_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "iframe"})
_HTML_BREAK = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "aside",
        "main",
        "blockquote",
        "pre",
        "hr",
        "figure",
        "figcaption",
        "address",
        "form",
        "fieldset",
        "details",
        "summary",
        "body",
        "html",
        "caption",
    }
)
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr", "source", "col"})


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _BlockBuilder()
        self.title = ""
        self.first_h1 = ""
        self._skip = 0
        self._in_title = False
        self._pre = 0
        self._heading: tuple[int, list[str]] | None = None
        self._para: dict[int, list[str]] = {}
        self._table_depth = 0
        self._rows: list[tuple[int, list[str], bool]] = []  # (line, cells, has <th>)
        self._cell: list[str] | None = None

    # -- text collection
    def _flush(self) -> None:
        para, self._para = self._para, {}
        for n in sorted(para):
            text = "".join(para[n])
            text = text.rstrip() if self._pre else " ".join(text.split())
            self.out.add_line(n, text)
        self.out.flush()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_SKIP:
            if tag not in _VOID:
                self._skip += 1
            return
        if tag == "title":
            self._in_title = not self.title
            return
        if self._skip:
            return
        if re.fullmatch(r"h[1-6]", tag) and not self._table_depth:
            self._flush()
            self._heading = (int(tag[1]), [])
        elif tag == "table":
            if self._table_depth == 0:
                self._flush()
                self._rows = []
            self._table_depth += 1
        elif self._table_depth == 1 and tag == "tr":
            self._close_cell()  # </td> and </tr> are optional in HTML
            self._rows.append((self.getpos()[0], [], False))
        elif self._table_depth == 1 and tag in ("td", "th"):
            self._close_cell()
            if not self._rows:
                self._rows.append((self.getpos()[0], [], False))
            line, cells, has_th = self._rows[-1]
            self._cell = []
            cells.append("")
            self._rows[-1] = (line, cells, has_th or tag == "th")
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag in _HTML_BREAK:
            if self._table_depth and self._cell is not None:
                self._cell.append(" ")
            elif not self._table_depth:
                self._flush()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if tag == "title":
            self._in_title = False
            return
        if self._skip:
            return
        if self._heading is not None and re.fullmatch(r"h[1-6]", tag):
            level, parts = self._heading
            self._heading = None
            text = " ".join("".join(parts).split())
            if level == 1 and not self.first_h1:
                self.first_h1 = text
            self.out.set_heading(level, text)
        elif tag == "table" and self._table_depth:
            self._table_depth -= 1
            if self._table_depth == 0:
                self._end_table()
        elif self._table_depth == 1 and tag in ("td", "th"):
            self._close_cell()
        elif tag == "pre":
            self._flush()
            self._pre = max(0, self._pre - 1)
        elif tag in _HTML_BREAK and not self._table_depth:
            self._flush()

    def _close_cell(self) -> None:
        if self._cell is not None and self._rows:
            cells = self._rows[-1][1]
            cells[-1] = " ".join("".join(self._cell).split())
            self._cell = None

    def _end_table(self) -> None:
        self._close_cell()
        rows = [(n, cells, th) for n, cells, th in self._rows if any(c for c in cells)]
        self._rows = []
        if not rows:
            return
        texts = [(n, " | ".join(cells).strip()) for n, cells, _ in rows]
        if len(texts) == 1:
            self.out.add_line(*texts[0])
            self.out.flush()
        else:
            self.out.add_table(texts[0][1], texts[1:])

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip:
            return
        if self._heading is not None:
            self._heading[1].append(data)
            return
        if self._table_depth:
            if self._cell is not None:
                self._cell.append(data)
            return
        lineno = self.getpos()[0]
        for k, part in enumerate(data.split("\n")):
            self._para.setdefault(lineno + k, []).append(part)

    def close(self) -> None:
        super().close()
        if self._table_depth:
            self._end_table()
        self._flush()


def parse_html(text: str, stem: str) -> tuple[str, list[Block]]:
    """HTML -> (title, blocks) with the stdlib parser; line numbers are best effort."""
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    title = " ".join(parser.title.split()) or parser.first_h1
    return title or stem, parser.out.blocks


# ----------------------------------------------------------------------------- PDF


# pypdf logs what it repairs or gives up on ("invalid pdf header: b'3U\x97Z'", "EOF marker
# not found") in its own words, above the indexer's skip line, which says what failed. Its
# notes on PDFs it repairs and loads are not shown either: the text is what counts.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)


def _parse_pdf(data: bytes, stem: str) -> tuple[str, list[Block]]:
    try:
        from pypdf import PdfReader
    except ImportError:  # pragma: no cover - a dependency, but say so plainly
        raise LoadError("PDF support needs the 'pypdf' package") from None
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception:
                raise LoadError("encrypted PDF") from None
        pages = list(reader.pages)
    except LoadError:
        raise
    except Exception as e:
        raise LoadError(f"corrupt or unreadable PDF ({type(e).__name__})") from None
    title = ""
    try:
        meta = reader.metadata
        title = " ".join(str(meta.title or "").split()) if meta else ""
    except Exception:
        title = ""
    if title.lower() in ("untitled", "none"):
        title = ""
    blocks: list[Block] = []
    failed = 0
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception:
            failed += 1
            continue
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        out = _BlockBuilder(page=number)
        for k, line in enumerate(_split_lines(text), start=1):
            if _is_blank(line):
                out.flush()
            else:
                out.add_line(k, " ".join(line.split()))
        out.flush()
        blocks.extend(out.blocks)
    if pages and failed == len(pages):
        raise LoadError("corrupt PDF: no page could be read")
    return title or stem, blocks


# ---------------------------------------------------------------------------- DOCX

_DOCX_HEADING_RE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


def _docx_items(doc) -> Iterable[object]:
    """Paragraphs and tables of the body, in document order."""
    if hasattr(doc, "iter_inner_content"):
        yield from doc.iter_inner_content()
        return
    from docx.table import Table  # older python-docx
    from docx.text.paragraph import Paragraph

    for child in doc.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield Paragraph(child, doc)
        elif tag == "tbl":
            yield Table(child, doc)


def _docx_style(paragraph) -> str:
    try:
        return (paragraph.style.name or "") if paragraph.style is not None else ""
    except Exception:
        return ""


def _docx_row_cells(row) -> list[str]:
    cells: list[str] = []
    seen: set[int] = set()
    for cell in row.cells:
        key = id(cell._tc)  # merged cells repeat the same element; keep it once
        if key in seen:
            continue
        seen.add(key)
        cells.append(" ".join(cell.text.split()))
    return cells


def _parse_docx(data: bytes, stem: str) -> tuple[str, list[Block]]:
    """DOCX -> blocks; "lines" are paragraph indexes (each table row counts as one)."""
    try:
        import docx
        from docx.table import Table
    except ImportError:  # pragma: no cover
        raise LoadError("DOCX support needs the 'python-docx' package") from None
    try:
        doc = docx.Document(io.BytesIO(data))
        items = list(_docx_items(doc))
    except Exception as e:
        raise LoadError(f"corrupt or unreadable DOCX ({type(e).__name__})") from None
    title = ""
    try:
        title = " ".join((doc.core_properties.title or "").split())
    except Exception:
        title = ""
    first_heading = ""
    out = _BlockBuilder()
    index = 0
    for item in items:
        if isinstance(item, Table):
            out.flush()
            rows: list[tuple[int, str]] = []
            for row in item.rows:
                index += 1
                rows.append((index, " | ".join(_docx_row_cells(row)).strip()))
            rows = [r for r in rows if has_text(r[1])]
            if len(rows) == 1:
                out.add_line(*rows[0])
                out.flush()
            elif rows:
                out.add_table(rows[0][1], rows[1:])
            continue
        index += 1
        text = (item.text or "").replace("\r", "\n")
        style = _docx_style(item)
        m = _DOCX_HEADING_RE.match(style.strip())
        if m or style.strip().lower() == "title":
            heading = " ".join(text.split())
            if heading and not first_heading:
                first_heading = heading
            if m:
                out.set_heading(min(max(int(m.group(1)), 1), 6), heading)
            continue  # a Title paragraph names the document; it is not body text
        for part in text.split("\n"):
            out.add_line(index, part.rstrip())
        out.flush()  # one block per paragraph; the chunker packs small ones together
    out.flush()
    return title or first_heading or stem, out.blocks
