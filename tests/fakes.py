"""The test doubles every layer shares: a fake embedder and a fake generator with the real
interfaces (``assistant.embed`` and ``assistant.generate.Generator``), so no test needs the
code under test to inspect signatures to accept them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import numpy as np

from assistant.text.counting import cl100k_counter


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


class FakeGenerator:
    """A generator that streams queued replies and records what it was asked."""

    name = "fake"
    context_length = 4096

    def __init__(self, *replies: str | Exception):
        self.replies = list(replies)
        self.calls: list[dict] = []

    def count_tokens(self, text: str) -> int:
        return cl100k_counter()(text)

    def stream(self, messages, *, max_tokens, temperature, stop=None, seed=None) -> Iterator[str]:
        self.calls.append({"messages": messages, "max_tokens": max_tokens,
                           "temperature": temperature, "seed": seed})
        reply = self.replies.pop(0) if self.replies else "no more replies"
        if isinstance(reply, Exception):
            raise reply
        # Pieces of a few characters, as a model streams them.
        return iter([reply[i : i + 3] for i in range(0, len(reply), 3)])


class PacedGenerator(FakeGenerator):
    """A fake local model with a model's pace: it "reads the prompt" for ``read_s``
    seconds before its first piece, then sends a piece every ``piece_s``; ``read_speed``
    (prompt tokens per second) is what a measured worker reports for the wait estimate."""

    def __init__(self, *replies: str | Exception, read_s: float = 0.0, piece_s: float = 0.0,
                 read_speed: float | None = None):
        super().__init__(*replies)
        self.read_s, self.piece_s, self.read_speed = read_s, piece_s, read_speed

    def stream(self, messages, *, max_tokens, temperature, stop=None, seed=None) -> Iterator[str]:
        import time

        pieces = super().stream(messages, max_tokens=max_tokens, temperature=temperature,
                                stop=stop, seed=seed)

        def paced() -> Iterator[str]:
            time.sleep(self.read_s)
            for i, piece in enumerate(pieces):
                if i:
                    time.sleep(self.piece_s)
                yield piece

        return paced()
