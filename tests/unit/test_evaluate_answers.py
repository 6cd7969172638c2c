"""`assistant eval QUESTIONS --answers`: the answer figures (assistant/app/evaluate.py), which
bench/answers.py reports too, on synthetic answers and through the CLI (extractive answers
and the tiny random GGUF; no real model here)."""

from __future__ import annotations

import json
from types import SimpleNamespace as NS

import pytest
from testenv import MINILM

from assistant.app.cli import main
from assistant.app.evaluate import (
    answer_figures,
    invented_numbers,
    numbers_in,
    score_answer,
)


def src(n, doc, text, title="", heading=""):
    return NS(n=n, doc=doc, text=text, title=title, heading=heading)


def ans(text, sources, cited=(), abstained=False, timings=None, error=None):
    return NS(answer=text, sources=sources, citations=[sources[i - 1] for i in cited],
              abstained=abstained, timings=timings or {}, error=error)


Q_ZH = {"id": "a", "question": "FixAgent 修复了多少个缺陷？", "doc": "bugs.md",
        "evidence": ["修复了 80 个缺陷中的 79 个"], "answer": ["79"], "answerable": True}
Q_UN = {"id": "u", "question": "Claude-3 的训练数据是什么？", "answerable": False,
        "evidence": [], "answer": []}


def test_numbers_are_read_as_written():
    assert numbers_in("79 of 80, 1,000 (10.5%), ５ and v1.2.3.") == {
        "79", "80", "1000", "10.5", "5", "1.2.3"}


def test_invented_numbers_skip_markers_list_numbering_and_what_the_question_says():
    sources = [src(1, "bugs.md", "FixAgent 修复了 80 个缺陷中的 79 个。", title="Bugs 2024")]
    assert invented_numbers("修复了 79 个 [1]。", Q_ZH["question"], sources) == []
    assert invented_numbers("1. 修复了 79 个[1][2]\n2. 共 80 个", "", sources) == []
    assert invented_numbers("2024 年修复了 23 个【1】", "", sources) == ["23"]
    # The question's own number is not invented by repeating it.
    assert invented_numbers("GPT-50 没有资料", "GPT-50 是什么？", sources) == []


def test_one_answer_scored_and_a_set_aggregated():
    good = [src(1, "bugs.md", "FixAgent 修复了 80 个缺陷中的 79 个。"),
            src(2, "other.md", "修复了 80 个缺陷中的 79 个")]  # right text, wrong doc
    rows = [
        score_answer(Q_ZH, ans("修复了 79 个 [1][2]", good, cited=(1, 2),
                               timings={"first_token_ms": 900.0, "prompt_tokens": 800,
                                        "tokens_per_s": 9.5, "total_ms": 4000.0})),
        score_answer(dict(Q_ZH, id="b"), ans("修复了 23 个", good,
                                             timings={"first_token_ms": 1100.0,
                                                      "prompt_tokens": 700,
                                                      "tokens_per_s": 8.5,
                                                      "total_ms": 5000.0})),
        score_answer(Q_UN, ans("资料中没有找到", good, abstained=True,
                               timings={"first_token_ms": 5.0, "prompt_tokens": 0,
                                        "total_ms": 6.0})),
    ]
    assert rows[0]["gold"] and rows[0]["citations"] == 2 and rows[0]["citations_ok"] == 1
    assert not rows[1]["gold"] and rows[1]["invented"] == ["23"] and not rows[1]["cited"]
    f = answer_figures(rows)
    assert (f["answerable"], f["unanswerable"], f["answered"]) == (2, 1, 2)
    assert f["gold"] == 0.5 and f["answered_cited"] == 0.5 and f["citations_ok"] == 0.5
    assert f["abstain_unanswerable"] == 1.0 and f["abstain_answerable"] == 0.0
    assert f["invented"] == 0.5 and f["invented_examples"] == [{"id": "b", "numbers": ["23"]}]
    # The model's first token over the answers that reached it, not the abstention's 5 ms.
    assert f["model_answers"] == 2 and f["first_token_ms_p50"] == 1000.0
    assert f["prompt_tokens_p50"] == 750 and f["tokens_per_s_p50"] == 9.0
    assert f["total_ms_p50"] == 4000.0


def test_an_abstention_holds_no_gold_and_cites_nothing():
    sources = [src(1, "bugs.md", "修复了 80 个缺陷中的 79 个")]
    row = score_answer(Q_ZH, ans("79", sources, cited=(1,), abstained=True))
    assert not row["gold"] and row["citations"] == 0 and row["sources_hold"]
    assert answer_figures([row])["answered_cited"] is None  # nothing answered


# ----------------------------------------------------------------------------- the CLI

QUESTIONS = [
    {"id": "v", "question": "vLLM 是谁开发的？", "doc": "frameworks.md",
     "evidence": ["vLLM 是 UC Berkeley 开发的"], "answer": ["UC Berkeley"], "answerable": True},
    {"id": "l", "question": "What does LoRA train?", "doc": "finetuning.md",
     "evidence": ["trains two small low-rank matrices"], "answer": ["low-rank"],
     "answerable": True},
    {"id": "x", "question": "Kubernetes 的调度器是怎么工作的？", "evidence": [], "answer": [],
     "answerable": False},
]


@pytest.fixture
def eval_args(answer_index, tmp_path, monkeypatch) -> list[str]:
    monkeypatch.setenv("ASSISTANT_EMBED_BACKEND", "torch")  # the index's backend: no export
    corpus, index = answer_index
    q = tmp_path / "q.jsonl"
    q.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in QUESTIONS),
                 encoding="utf-8")
    return [str(q), "--answers", "--corpus", str(corpus), "--index", str(index),
            "--embedder", MINILM, "--models-dir", str(index.parent / "models")]


def test_eval_answers_extractive(eval_args, capsys):
    assert main(["eval", *eval_args, "--model", "extractive", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    f = out["figures"]
    assert f["backend"] == "extractive" and (f["answerable"], f["unanswerable"]) == (2, 1)
    assert f["gold"] == 1.0 and f["citations_ok"] == 1.0 and f["answered_cited"] == 1.0
    assert f["abstain_unanswerable"] == 1.0 and f["invented"] == 0.0
    assert [a["id"] for a in out["answers"]] == ["v", "l", "x"]
    assert out["answers"][0]["citations"][0]["doc"] == "frameworks.md"
    assert main(["eval", *eval_args, "--model", "extractive"]) == 0
    text = capsys.readouterr().out
    assert "answer holds a gold string (answerable)" in text and "100.0% of 2" in text


def test_eval_answers_with_a_tiny_gguf(eval_args, capsys, tiny_path):
    assert main(["eval", *eval_args, "--model", str(tiny_path), "--json"]) == 0
    f = json.loads(capsys.readouterr().out)["figures"]
    assert f["backend"].startswith("llama.cpp") and f["questions"] == 3
    # Random weights write nonsense, but the answers reached the model and were timed.
    assert f["model_answers"] >= 1 and f["prompt_tokens_p50"] > 0
    assert f["first_token_ms_p50"] > 0 and f["total_ms_p50"] > 0


def test_eval_answers_refuses_a_missing_model_file(eval_args, capsys, tmp_path):
    assert main(["eval", *eval_args, "--model", str(tmp_path / "nope.gguf")]) == 1
    assert "does not exist" in capsys.readouterr().err
