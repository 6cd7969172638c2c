"""Definition questions: the term asked about, and the passages that define it."""

from __future__ import annotations

import pytest

from assistant.ingest.indexer import run_index
from assistant.retrieve import definitions
from assistant.retrieve.search import Searcher
from assistant.settings import Settings


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("What is LoRA?", "LoRA"),
        ("what are Mixture-of-Experts models?", "Mixture-of-Experts models"),
        ("Who is Geoffrey Hinton", "Geoffrey Hinton"),
        ("什么是 MoE？", "MoE"),
        ("请问什么叫量化？", "量化"),
        ("LoRA 是什么？", "LoRA"),
        ("NextN 到底指什么", "NextN"),
        ("GEMM 的定义是什么？", "GEMM"),
        ("简单说说 LoRA", "LoRA"),
        ("请详细介绍一下量化", "量化"),
        ("给我讲讲什么是 KV cache", "KV cache"),
        ("Tell me about the Transformer.", "Transformer"),
        ("vLLM 是哪个机构开发的？", None),
        ("介绍下 LoRA", "LoRA"),
        ("解释器是什么？", "解释器"),
        ("介绍人是谁？", "介绍人"),
        ("介绍", None),
        ("介绍一下", None),
        ("聊聊天", None),
        ("How do I bake sourdough bread?", None),
        ("What is the name of the very long thing that nobody ever remembers at all?", None),
    ],
)
def test_the_term_a_definition_question_asks_about(question, term):
    assert definitions.subject(question) == term


@pytest.mark.parametrize(
    ("text", "defines"),
    [
        ("缩写名 | 描述\nLoRA | Low-Rank Adaption of Large Language Models", True),
        ("MoE\n混合专家模型是一种机器学习架构。", True),
        ("| 1 | [LoRA](https://x.y/lora) | Microsoft | 一种微调方法 |", True),
        ("LoRA 是一种参数高效的微调方法。", True),
        ("LoRA is a parameter-efficient fine-tuning method.", True),
        ("Method | # Params\nLoRA _{r=8} | 1.33M | 90.65", False),  # a benchmark row
        ("MoE-Infinity: Offloading-Efficient MoE Model Serving", False),  # another name
        ("We fine-tuned with LoRA and it worked.", False),  # a mere mention
    ],
)
def test_the_places_that_define_a_term(text, defines):
    assert (definitions.passage_pattern(definitions.subject("What is LoRA?") if "LoRA" in text
                                        else "MoE").search(text) is not None) is defines


def test_search_lifts_the_definition_over_a_table_that_repeats_the_term(tmp_path,
                                                                       fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = "\n".join(f"| LoRA r={r} | {r}M | 90.{r} | 94.{r} |" for r in (1, 2, 4, 8, 16))
    (corpus / "bench.md").write_text(
        "# Results\n\n| Method | Params | MNLI | SST-2 |\n|---|---|---|---|\n" + rows + "\n",
        encoding="utf-8")
    (corpus / "glossary.md").write_text(
        "# Glossary\n\n| Term | Meaning |\n|---|---|\n"
        "| LoRA | Low-Rank Adaptation of large language models: small trainable matrices "
        "added beside frozen weights |\n| SFT | Supervised fine-tuning on instructions |\n",
        encoding="utf-8")
    s = Settings(corpus=corpus, index=tmp_path / "index", models_dir=tmp_path / "models")
    run_index(s, embedder=fake_embedder)
    searcher = Searcher(s, embedder=fake_embedder)
    plain = searcher.search("LoRA", k=2, mode="lexical")
    asked = searcher.search("What is LoRA?", k=2, mode="lexical")
    assert plain[0].doc == "bench.md"  # BM25 alone: the table that repeats the term
    assert asked[0].doc == "glossary.md" and "Low-Rank" in asked[0].text


def test_the_dense_weight_follows_the_embedder_and_the_script():
    from assistant.retrieve.search import dense_weight

    minilm, e5 = "sentence-transformers/all-MiniLM-L6-v2", "intfloat/multilingual-e5-small"
    assert dense_weight(minilm, "vLLM 是哪个机构开发的？") == 0.0  # it reads no Chinese
    assert dense_weight(minilm, "Who developed vLLM?") == 0.8
    assert dense_weight(e5, "vLLM 是哪个机构开发的？") == 1.0  # bench/fusion_sweep.py
    assert dense_weight(e5, "Who developed vLLM?") == 1.0
