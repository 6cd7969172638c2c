"""The embedder for a model name and a backend, loaded once per process and reused.

A backend is one module (``torch_st``, ``onnx_int8``, ...) and one line in ``BACKENDS``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from assistant import notices
from assistant.embed.base import Embedder, quiet_transformers
from assistant.embed.onnx_int8 import load_fast_embedder
from assistant.embed.resolve import resolve_embedder
from assistant.embed.torch_st import TorchEmbedder

BACKENDS = ("onnx-int8", "torch")

_cache: dict[tuple, Embedder] = {}
_cache_lock = threading.Lock()


def load_embedder(name: str, models_dir: Path, threads: int | None = None,
                  backend: str = "onnx-int8") -> Embedder:
    """The embedder for ``name``, loaded once per process and reused.

    ``backend="onnx-int8"`` runs the same model as int8 ONNX (exported once into
    ``models/onnx/``): about 1.4-1.9x faster on a laptop CPU with retrieval unchanged
    (BENCHMARKS.md). When that cannot be had, PyTorch runs instead, announced once.
    """
    resolved = resolve_embedder(name, models_dir)
    quiet_transformers()
    # The same model from another models folder, or with other threads, is another object.
    key = (resolved.name, str(resolved.path), backend, str(Path(models_dir).resolve()), threads)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        emb = None
        if backend == "onnx-int8":
            emb, why = load_fast_embedder(resolved, Path(models_dir) / "onnx", threads)
            if emb is None:
                notices.announce(
                    "onnx",
                    f"the int8 ONNX embedder is unavailable ({why}); embedding with PyTorch "
                    "instead (slower, same results). Fix: pip install onnx onnxruntime",
                )
        if emb is None:
            emb = TorchEmbedder(resolved, threads)
        _cache[key] = emb
        return emb
