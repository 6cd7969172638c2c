"""The ``torch`` backend: a sentence-transformers model run by PyTorch, as its authors
run it. The reference the faster backends are checked against."""

from __future__ import annotations

import os
import threading

import numpy as np

from assistant.embed.base import PrefixedTokenizerMixin, quiet_transformers
from assistant.embed.resolve import ResolvedEmbedder


class TorchEmbedder(PrefixedTokenizerMixin):
    """A sentence-transformers model behind ``embed_passages`` / ``embed_query``.

    E5-family models get their ``query: `` / ``passage: `` prefixes, which they were
    trained with; vectors are L2-normalised so inner product is cosine similarity.
    """

    def __init__(self, resolved: ResolvedEmbedder, threads: int | None = None):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        quiet_transformers()

        torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
        self.name = resolved.name
        self.source = resolved.source
        self.backend = "torch"
        self.model = SentenceTransformer(str(resolved.path), device="cpu")
        # sentence-transformers 6 renamed the method; older releases only have the old name.
        get_dim = getattr(self.model, "get_embedding_dimension", None)
        self.dim = int(get_dim() if get_dim else self.model.get_sentence_embedding_dimension())
        self.max_tokens = int(self.model.max_seq_length)
        self.tokenizer = self.model.tokenizer
        self._set_prefixes()
        self._lock = threading.Lock()  # torch inference from several threads is not faster

    def embed_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self.model.encode(
                [self.passage_prefix + t for t in texts],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vecs, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            vec = self.model.encode(
                [self.query_prefix + text],
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vec[0], dtype=np.float32)
