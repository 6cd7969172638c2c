"""Shared test setup: offline, tiktoken from the shared folder, one real embedder."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tiktoken_dir() -> Path | None:
    shared = os.environ.get("ASSISTANT_SHARED")
    for cand in ((Path(shared) / "models" / "tiktoken") if shared else None,
                 ROOT.parent / "shared" / "models" / "tiktoken",
                 ROOT / "models" / "tiktoken"):
        if cand is not None and cand.is_dir():
            return cand
    return None


# Set before any test module imports tiktoken: tests never reach a network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if "TIKTOKEN_CACHE_DIR" not in os.environ and _tiktoken_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_tiktoken_dir())

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


class FakeEmbedder:
    """A deterministic embedder with the real interface: a bag of hashed tokens.

    Texts sharing words get similar vectors, so dense search behaves plausibly in tests
    that do not need the real model (which costs seconds per corpus on 2 cores).
    """

    name = "fake-embedder"
    dim = 64
    max_tokens = 256
    query_prefix = passage_prefix = ""

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text)) + 2

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in re.findall(r"[a-z0-9]+|[\u4e00-\u9fff]", text.lower()):
            h = int(hashlib.md5(tok.encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v + (1.0 / np.sqrt(self.dim))

    def embed_passages(self, texts, batch_size: int = 32) -> np.ndarray:
        self.calls = getattr(self, "calls", 0) + len(texts)
        return np.vstack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2, loaded once per session from the packaged copy."""
    from assistant.embed.loading import load_embedder

    return load_embedder(MINILM, ROOT / "models")


@pytest.fixture(scope="session")
def answer_index(tmp_path_factory) -> tuple[Path, Path]:
    """The corpus of tests/answer_corpus.py and its index (real MiniLM), built once."""
    from answer_corpus import build

    return build(tmp_path_factory.mktemp("answer"))


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory) -> Path:
    """A tiny random GGUF that llama.cpp loads and runs (tests/tiny_gguf.py)."""
    from tiny_gguf import build_tiny_gguf

    return build_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
