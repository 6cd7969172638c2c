"""Loaders: titles, heading paths, tables and line numbers against the real file lines."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from default_corpus import CORPUS, DEFAULT_FILES, WORD

from assistant.ingest.loaders import (
    SUPPORTED_SUFFIXES,
    Block,
    Document,
    LoadError,
    decode_text,
    load_document,
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def load(path: Path) -> Document:
    return load_document(path, path.name)


def source_lines(path: Path) -> list[str]:
    return decode_text(path.read_bytes()).split("\n")


def assert_lines_match(doc: Document, lines: list[str]) -> None:
    """Every line of every block comes from the source line it claims.

    The first word of each text line (its first few characters: markup may sit inside a
    word) must be on that source line.
    """
    for block in doc.blocks:
        numbers = block.line_numbers()
        assert block.line_start == min(numbers) and block.line_end == max(numbers)
        for text, n in zip(block.text.split("\n"), numbers, strict=True):
            words = WORD.findall(text)
            assert words, (doc.path, n, text)
            assert words[0][:4] in lines[n - 1], (doc.path, n, text, lines[n - 1])


def find(doc: Document, needle: str) -> Block:
    hits = [b for b in doc.blocks if needle in b.text]
    assert hits, f"{needle!r} not in any block"
    return hits[0]


# ---------------------------------------------------------------------- Markdown

MARKDOWN = """---

title: "Notes on LLM serving"
date: 2024-01-01
tags:
    - llm
---

<br>

本作品采用 <a rel="license"href="http://x.org/by/4.0/"> 知识共享许可协议 </a> 进行许可

<!-- a comment
that spans lines -->

Intro paragraph
-------

# 1 推理框架
-------

vLLM 是一个推理框架。它很快！

## 1.1 表格

| 编号 | 框架 | 团队 |
|:---:|:----:|:---:|
| 1 | vLLM | UC Berkeley<br>Sky |
| 2 | TGI | HuggingFace |

名称 | 说明
---|---
LoRA | 低秩适应
QLoRA | 量化 LoRA

Setext section
==============

**-*-*-*-*-*-* 正文 -*-*-*-*-*-***

### 1.2 deep &amp; deeper
Some text under the deep heading.
"""


def test_markdown_title_headings_tables_and_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.md", MARKDOWN)
    doc = load(path)
    lines = source_lines(path)
    assert doc.title == "Notes on LLM serving"
    assert doc.path == "notes.md"
    assert all("title:" not in b.text and "date:" not in b.text for b in doc.blocks)

    licence = find(doc, "知识共享许可协议")
    assert "<a" not in licence.text and "href" not in licence.text
    assert licence.line_start == 11 and licence.heading == ()
    assert all("comment" not in b.text for b in doc.blocks)

    # "Intro paragraph" + "-------" is a setext heading by the rules of Markdown
    para = find(doc, "vLLM 是一个推理框架")
    assert para.heading == ("1 推理框架",)
    assert para.line_start == para.line_end == 22
    assert all(b.text.strip("-") for b in doc.blocks)  # the stray "-------" is gone

    table = find(doc, "UC Berkeley")
    assert table.heading == ("1 推理框架", "1.1 表格")
    assert table.table_header == "编号 | 框架 | 团队"
    assert table.text == "1 | vLLM | UC Berkeley Sky\n2 | TGI | HuggingFace"
    assert (table.line_start, table.line_end) == (28, 29)

    bare = find(doc, "LoRA | 低秩适应")  # a table without leading/trailing pipes
    assert bare.table_header == "名称 | 说明"
    assert bare.text.split("\n") == ["LoRA | 低秩适应", "QLoRA | 量化 LoRA"]
    assert (bare.line_start, bare.line_end) == (33, 34)

    deco = find(doc, "正文")
    assert deco.text == "正文" and deco.heading == ("Setext section",)
    deep = find(doc, "deep heading")
    assert deep.heading == ("Setext section", "1.2 deep & deeper")
    assert deep.line_start == 42
    assert_lines_match(doc, lines)


def test_markdown_title_falls_back_to_h1_then_stem(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "a.md", "intro\n\n# 大模型 **简介**\n\ntext\n"))
    assert doc.title == "大模型 简介"
    assert find(doc, "intro").heading == ()
    assert find(doc, "text").heading == ("大模型 简介",)
    doc = load(write(tmp_path, "my-notes.markdown", "## only h2\n\nbody\n"))
    assert doc.title == "my-notes"


def test_markdown_fenced_code_is_kept_verbatim(tmp_path: Path) -> None:
    path = write(tmp_path, "c.md", "# T\n\n```python\nx = '<br>'  # not a heading\n```\n")
    block = find(load(path), "x = ")
    assert block.text == "x = '<br>'  # not a heading"
    assert block.line_start == 4


# -------------------------------------------------------------------- plain text

SLIDES = (
    " \n"
    "人工智能时代操作系统的 机遇与挑战\n"
    "\n"
    "引言\n"
    "\n"
    "操作系统是计算机系统中的核心软件。\n"
    "它是其他一切软件的基础\n"
    "\n"
    "Parameter\tDefault Value\tRange\n"
    "latency_ns\t24,000,000\t100,000~1,000,000,000\n"
    "nr_migrate\t32\t0~\n"
    "\n"
    "a\tb\n"
    "not a table: one line only\n"
)


def test_plain_text_title_paragraphs_and_tab_tables(tmp_path: Path) -> None:
    path = write(tmp_path, "slides.txt", SLIDES)
    doc = load(path)
    assert doc.title == "人工智能时代操作系统的 机遇与挑战"
    assert all("机遇与挑战" not in b.text for b in doc.blocks)  # title line is not content
    para = find(doc, "核心软件")
    assert para.text == "操作系统是计算机系统中的核心软件。\n它是其他一切软件的基础"
    assert (para.line_start, para.line_end) == (6, 7)
    table = find(doc, "latency_ns")
    assert table.table_header == "Parameter | Default Value | Range"
    assert table.text.split("\n") == [
        "latency_ns | 24,000,000 | 100,000~1,000,000,000",
        "nr_migrate | 32 | 0~",
    ]
    assert (table.line_start, table.line_end) == (10, 11)
    lone = find(doc, "a\tb")
    assert lone.table_header is None and lone.line_start == 13
    assert_lines_match(doc, source_lines(path))


def test_plain_text_title_rule(tmp_path: Path) -> None:
    scraped = "Skip to content\n\nAIAllInOne/AI_All_In_One\n\nAGI\n\n通用人工智能。\n"
    doc = load(write(tmp_path, "glossary.txt", scraped))
    assert doc.title == "AIAllInOne/AI_All_In_One"
    assert all("Skip to content" not in b.text for b in doc.blocks)
    # a sentence is not a title; nor is a line with no blank line after it
    doc = load(write(tmp_path, "overview.txt", "这是一个句子。\n\n正文\n"))
    assert doc.title == "overview"
    doc = load(write(tmp_path, "two.txt", "Short line\nnext line\n"))
    assert doc.title == "two" and find(doc, "Short line").line_start == 1
    # a file of one short line is content, not only a title
    doc = load(write(tmp_path, "one.txt", "hello\n"))
    assert doc.title == "one" and doc.blocks[0].text == "hello"


def test_plain_text_with_markdown_structure_is_parsed_as_markdown(tmp_path: Path) -> None:
    text = "# 标题\n\n缩写名 | 描述\n---|---\nLLM | 大模型\n"
    doc = load(write(tmp_path, "scraped.txt", text))
    assert doc.title == "标题"
    table = find(doc, "LLM")
    assert table.table_header == "缩写名 | 描述" and table.heading == ("标题",)
    assert table.line_start == 5


# ---------------------------------------------------------------------- encodings


def test_gbk_and_gb18030_text(tmp_path: Path) -> None:
    text = "第一段：模型量化。\n\n第二段，混合精度训练。\n"
    path = write(tmp_path, "gbk.txt", text.encode("gbk"))
    doc = load(path)
    assert [b.text for b in doc.blocks] == ["第一段：模型量化。", "第二段，混合精度训练。"]
    assert [b.line_start for b in doc.blocks] == [1, 3]
    assert decode_text("𠀀 扩展汉字".encode("gb18030")) == "𠀀 扩展汉字"


def test_utf8_bom_is_dropped_and_line_ends_normalised(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf# Title\r\n\r\nline one\rline two\r\n\r\nlast\n"
    path = write(tmp_path, "bom.md", data)
    doc = load(path)
    assert doc.title == "Title"
    assert doc.blocks[0].text == "line one\nline two"
    assert (doc.blocks[0].line_start, doc.blocks[0].line_end) == (3, 4)
    assert doc.blocks[1].line_start == 6
    assert decode_text("a\r\nb".encode("utf-16")) == "a\nb"  # with its BOM


def test_form_feed_does_not_shift_line_numbers(tmp_path: Path) -> None:
    # str.splitlines() would count \x0c and \u2028 as line breaks; editors do not
    path = write(tmp_path, "ff.txt", "one\x0c two\u2028 three\n\nfour\n")
    doc = load(path)
    assert find(doc, "four").line_start == 3


# ------------------------------------------------------------------------ failures


def _reason(path: Path) -> str:
    with pytest.raises(LoadError) as info:
        load(path)
    return str(info.value)


def test_a_corrupt_pdf_leaves_pypdf_quiet(tmp_path: Path, caplog) -> None:
    # The indexer's skip line says what failed; pypdf's own words would come above it.
    with caplog.at_level(logging.DEBUG):
        assert "PDF" in _reason(write(tmp_path, "rnd.pdf", b"3U\x97Z\xa2" + b"\x00" * 64))
        assert "PDF" in _reason(write(tmp_path, "cut.pdf", b"%PDF-1.4\n1 0 obj\n<<>>\n"))
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


def test_bad_inputs_raise_load_error_with_a_reason(tmp_path: Path) -> None:
    assert _reason(write(tmp_path, "empty.md", b"")) == "empty file"
    assert _reason(write(tmp_path, "blank.txt", b"  \n\n\t\n")) == "empty file"
    assert "binary" in _reason(write(tmp_path, "nul.txt", b"abc\x00\x01\x02def"))
    noise = bytes(range(128, 256)) * 8
    assert "binary" in _reason(write(tmp_path, "noise.txt", noise))
    assert "binary" in _reason(write(tmp_path, "ctl.md", b"\x01\x02\x03\x04\x05abc" * 20))
    assert "PDF" in _reason(write(tmp_path, "bad.pdf", b"%PDF-1.4\n garbage garbage"))
    assert "PDF" in _reason(write(tmp_path, "notpdf.pdf", b"hello, not a pdf at all"))
    assert "DOCX" in _reason(write(tmp_path, "bad.docx", b"PK\x03\x04 not really a zip"))
    assert _reason(tmp_path / "gone.md") == "file disappeared"
    (tmp_path / "dir.md").mkdir()
    assert _reason(tmp_path / "dir.md") == "not a file"
    assert "unsupported" in _reason(write(tmp_path, "x.rtf", b"{\\rtf1}"))
    assert "no text" in _reason(write(tmp_path, "only-front.md", "---\ntitle: x\n---\n"))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.txt", "text")
    path.chmod(0)
    try:
        assert _reason(path) == "permission denied"
    finally:
        path.chmod(0o600)


def test_read_errors_are_load_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "locked.md", "# x\n\ntext\n")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert _reason(path) == "permission denied"

    def io_error(self: Path) -> bytes:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Path, "read_bytes", io_error)
    assert _reason(path) == "cannot read file (Input/output error)"


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_garbage_never_raises_anything_but_load_error(tmp_path: Path, suffix: str) -> None:
    import random

    rng = random.Random(suffix)
    samples = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))) for _ in range(30)]
    samples += [b"PK\x03\x04" + bytes(50), b"%PDF-1.7\n%%EOF", b"<table><tr><td>x", b"| a |"]
    for k, data in enumerate(samples):
        path = write(tmp_path, f"g{k}{suffix}", data)
        try:
            doc = load(path)
        except LoadError as e:
            assert str(e)
        else:
            assert doc.blocks and doc.title


def test_supported_suffixes() -> None:
    assert {".md", ".markdown", ".txt", ".text", ".html", ".htm", ".pdf", ".docx"} == set(
        SUPPORTED_SUFFIXES
    )


# ---------------------------------------------------------------------------- HTML

HTML = """<!DOCTYPE html>
<html>
<head>
  <title>Serving &amp; Inference</title>
  <style>body { color: red; }</style>
  <script>var x = "<p>not text</p>";</script>
</head>
<body>
<h1>推理框架</h1>
<p>vLLM 是一个<b>开源</b>的推理框架。
它使用 PagedAttention。</p>
<h2>对比</h2>
<table>
  <tr><th>名称</th><th>团队</th></tr>
  <tr><td>vLLM</td><td>UC Berkeley</td></tr>
  <tr><td>TGI</td><td>HuggingFace</td></tr>
</table>
<ul><li>第一项</li><li>第二项</li></ul>
</body>
</html>
"""


def test_html(tmp_path: Path) -> None:
    path = write(tmp_path, "page.html", HTML)
    doc = load(path)
    assert doc.title == "Serving & Inference"
    text = "\n".join(b.text for b in doc.blocks)
    assert "color" not in text and "not text" not in text
    para = find(doc, "开源")
    assert para.text == "vLLM 是一个开源的推理框架。\n它使用 PagedAttention。"
    assert para.heading == ("推理框架",)
    assert (para.line_start, para.line_end) == (10, 11)
    table = find(doc, "UC Berkeley")
    assert table.table_header == "名称 | 团队"
    assert table.text == "vLLM | UC Berkeley\nTGI | HuggingFace"
    assert table.heading == ("推理框架", "对比")
    assert (table.line_start, table.line_end) == (15, 16)
    assert find(doc, "第二项").line_start == 18
    assert_lines_match(doc, source_lines(path))


def test_html_with_omitted_end_tags(tmp_path: Path) -> None:
    page = "<table>\n<tr><th>a<th>b\n<tr><td>1<td>2\n<tr><td>3<td>4\n</table>\n<p>one<p>two"
    doc = load(write(tmp_path, "loose.html", page))
    table = find(doc, "1 | 2")
    assert table.table_header == "a | b"
    assert table.text == "1 | 2\n3 | 4" and table.lines == (3, 4)
    assert [b.text for b in doc.blocks[1:]] == ["one", "two"]


def test_html_title_falls_back_to_h1(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "x.htm", "<h1>Only &lt;H1&gt;</h1><p>body</p>"))
    assert doc.title == "Only <H1>"
    doc = load(write(tmp_path, "plain.htm", "<p>body only</p>"))
    assert doc.title == "plain"


# ----------------------------------------------------------------------------- PDF


def _make_pdf(path: Path, pages: list[list[str]], title: str | None) -> None:
    canvas = pytest.importorskip("reportlab.pdfgen.canvas")
    c = canvas.Canvas(str(path))
    if title:
        c.setTitle(title)
    for lines in pages:
        y = 800
        for line in lines:
            c.drawString(72, y, line)
            y -= 20
        c.showPage()
    c.save()


def test_pdf_pages_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "paper.pdf"
    pages = [
        ["Efficient Memory Management", "PagedAttention splits the KV cache.", "More text."],
        ["Second page starts here.", "And ends here."],
    ]
    _make_pdf(path, pages, "Paged Attention Paper")
    doc = load(path)
    assert doc.title == "Paged Attention Paper"
    assert {b.page for b in doc.blocks} == {1, 2}
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    for block in doc.blocks:
        page_lines = reader.pages[block.page - 1].extract_text().split("\n")
        for text, n in zip(block.text.split("\n"), block.line_numbers(), strict=True):
            assert " ".join(page_lines[n - 1].split()) == text
    second = find(doc, "Second page")
    assert second.page == 2 and second.line_start == 1


def test_pdf_without_title_uses_stem_and_empty_pdf_fails(tmp_path: Path) -> None:
    path = tmp_path / "report-2024.pdf"
    _make_pdf(path, [["Hello PDF"]], None)
    assert load(path).title == "report-2024"
    blank = tmp_path / "scan.pdf"
    _make_pdf(blank, [[]], None)
    assert "no text" in _reason(blank)


# ---------------------------------------------------------------------------- DOCX


def test_docx_headings_tables_and_paragraph_numbers(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    d = docx.Document()
    d.add_heading("模型压缩", level=1)  # paragraph 1
    d.add_paragraph("量化是一种压缩技术。")  # 2
    d.add_heading("蒸馏", level=2)  # 3
    d.add_paragraph("老师教学生。")  # 4
    d.add_paragraph("")  # 5
    table = d.add_table(rows=3, cols=2)  # rows count as 6, 7, 8
    for r, (a, b) in enumerate([("技术", "描述"), ("量化", "int8"), ("剪裁", "去掉小权重")]):
        table.cell(r, 0).text = a
        table.cell(r, 1).text = b
    d.add_heading("其他", level=1)  # 9
    d.add_paragraph("最后一段。")  # 10
    path = tmp_path / "compress.docx"
    d.save(str(path))

    doc = load(path)
    assert doc.title == "模型压缩"  # no core title: the first heading
    first = find(doc, "量化是一种")
    assert first.heading == ("模型压缩",) and first.line_start == 2
    teacher = find(doc, "老师")
    assert teacher.heading == ("模型压缩", "蒸馏") and teacher.line_start == 4
    tbl = find(doc, "int8")
    assert tbl.table_header == "技术 | 描述"
    assert tbl.text == "量化 | int8\n剪裁 | 去掉小权重"
    assert (tbl.line_start, tbl.line_end) == (7, 8)
    assert tbl.heading == ("模型压缩", "蒸馏")
    last = find(doc, "最后一段")
    assert last.heading == ("其他",) and last.line_start == 10

    d.core_properties.title = "压缩综述"
    d.save(str(path))
    assert load(path).title == "压缩综述"


# ------------------------------------------------------------------ default corpus

EXPECTED_TITLES = {
    "ai-all-in-one-glossary.txt": "AIAllInOne/AI_All_In_One",
    "ai-os-notes-extended.md": "AI",
    "ai-os-notes.md": "AI",
    "ai-technology-overview.md": "ai-technology-overview",
    "os-in-the-ai-era-slides.txt": "人工智能时代操作系统的 机遇与挑战",
}


@pytest.mark.parametrize("name", DEFAULT_FILES)
def test_default_corpus_loads_with_exact_lines(name: str) -> None:
    path = CORPUS / name
    doc = load_document(path, name)
    assert doc.title == EXPECTED_TITLES[name]
    assert doc.blocks
    assert_lines_match(doc, source_lines(path))
    text = "\n".join(b.text for b in doc.blocks)
    assert "<br>" not in text and "<a " not in text and "href=" not in text
    assert "-*-*-*" not in text


def test_default_corpus_structure() -> None:
    notes = load_document(CORPUS / "ai-os-notes-extended.md", "ai-os-notes-extended.md")
    headings = {b.heading for b in notes.blocks}
    assert ("1 场景", "1.1 AI4OS") in headings
    assert ("2 模型", "2.2 稠密模型与稀疏模型", "2.2.1 MoE") in headings
    moe = find(notes, "MoE(Mixed Expert Models)")
    assert moe.heading[-1] == "2.2.1 MoE"
    overview = load_document(CORPUS / "ai-technology-overview.md", "x.md")
    table = find(overview, "Go-zero")
    assert table.table_header == "缩写名 | 描述 | 备注"
    assert (table.line_start, table.line_end) == (5, 24)
    slides = load_document(CORPUS / "os-in-the-ai-era-slides.txt", "s.txt")
    tab = find(slides, "latency_ns")
    assert tab.table_header == "Parameter | Default Value | Range"
    assert (tab.line_start, tab.line_end) == (366, 374)
