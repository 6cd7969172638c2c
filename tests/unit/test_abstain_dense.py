"""The abstain check's dense term: which embedders and which questions it counts for."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from assistant.answer import abstain
from assistant.embed.base import profile


class _Searcher:
    def __init__(self, name: str):
        self.embedder = SimpleNamespace(name=name)

    def chunk_vectors(self, chunk_ids):
        return np.full((len(chunk_ids), 4), 0.5, dtype=np.float32)

    def query_vector(self, question):
        return np.full(4, 0.5, dtype=np.float32)


HIT = SimpleNamespace(chunk_id=7, text="vLLM was developed at UC Berkeley.")


@pytest.mark.parametrize("name", ["intfloat/multilingual-e5-small",
                                  "sentence-transformers/all-MiniLM-L6-v2"])
def test_a_calibrated_embedder_counts_for_latin_script_questions_only(name):
    assert profile(name).abstain is not None
    assert abstain._dense("Who developed vLLM?", HIT, _Searcher(name)) == pytest.approx(1.0)
    # Chinese: MiniLM reads none, and e5's cosine told no more than coverage on CMRC.
    assert abstain._dense("vLLM 是哪个机构开发的？", HIT, _Searcher(name)) is None


def test_an_uncalibrated_embedder_leaves_coverage_alone():
    assert profile("some/other-embedder").abstain is None
    assert abstain._dense("Who developed vLLM?", HIT, _Searcher("some/other-embedder")) is None


def test_the_cosine_counts_only_over_a_passage_in_the_questions_language():
    chinese = SimpleNamespace(chunk_id=7, text="vLLM 是 UC Berkeley 开发的推理框架。")
    searcher = _Searcher("intfloat/multilingual-e5-small")
    # Across languages the cosines sit lower than the calibration's English-only pairs.
    assert abstain._dense("Who developed vLLM?", chinese, searcher) is None
    assert abstain._dense("Who developed vLLM?", HIT, searcher) == pytest.approx(1.0)
