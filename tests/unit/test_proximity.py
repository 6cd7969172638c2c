"""Question phrases held in order: the pairs a question gives, and what they do to a ranking."""

from __future__ import annotations

import pytest

from assistant import store
from assistant.ingest.indexer import run_index
from assistant.retrieve import proximity, search
from assistant.retrieve.search import Searcher
from assistant.settings import Settings


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # one stopword may stand between the two words ("of"), as the question spells it
        ("What is the capital of France?", ("capital of france",)),
        ("Who developed vLLM at Berkeley?", ("developed vllm", "vllm at berkeley")),
        # two stopwords between end the phrase
        ("capital of the France", ()),
        # the question word's place holds the answer in the passage: no pair across it
        ("vLLM 是哪个机构开发的推理框架？", ("机构开发", "开发的推理", "推理框架")),
        ("LoRA 是谁提出的？", ()),
        # punctuation ends a phrase; a repeat is given once
        ("KV cache, KV cache", ("kv cache",)),
        ("", ()),
    ],
)
def test_the_pairs_a_question_gives(question, expected):
    assert proximity.pairs(question) == expected


def test_the_share_of_phrases_a_text_holds():
    phrases = ("机构开发", "推理框架")
    assert proximity.share_held(phrases, "vLLM 由 UC Berkeley 机构开发，是一个推理框架。") == 1.0
    assert proximity.share_held(phrases, "开发它的机构是 UC Berkeley，用于推理的框架。") == 0.0
    assert proximity.share_held(("capital of france",), "The Capital  of\nFrance") == 1.0
    assert proximity.share_held(phrases, "机构开发的") == 0.5
    assert proximity.share_held((), "anything") == 0.0


def test_a_passage_holding_the_question_phrase_ranks_above_the_same_words_apart(
        tmp_path, fake_embedder, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # The same words, the same length: BM25 and the bag-of-words fake embedder tie them.
    (corpus / "apart.md").write_text(
        "# Notes\n\nFrance lies on a river, and the capital of it is old.\n", encoding="utf-8")
    (corpus / "phrase.md").write_text(
        "# Notes\n\nThe capital of France lies on a river, and it is old.\n", encoding="utf-8")
    s = Settings(corpus=corpus, index=tmp_path / "index", models_dir=tmp_path / "models")
    run_index(s, embedder=fake_embedder)
    searcher = Searcher(s, embedder=fake_embedder)
    question = "What is the capital of France?"
    shipped = search.PROXIMITY_WEIGHT
    assert shipped > 0

    def ranking(weight):
        monkeypatch.setattr(search, "PROXIMITY_WEIGHT", weight)
        ranked = searcher.ranked_chunks(question, 2)
        rows = store.chunk_rows(searcher.db.get(), [c for c, _ in ranked])
        return [(rows[c].doc, score) for c, score in ranked]

    off = ranking(0.0)
    assert len(off) == 2 and off[0][1] == pytest.approx(off[1][1])  # a tie without it
    on = ranking(shipped)
    assert on[0][0] == "phrase.md" and on[0][1] > on[1][1] + 0.1
