"""Model files on disk: find them, and (only when asked) download them.

A model is looked for, in order, as an explicit path, as ``models_dir/<file>``, and in
the Hugging Face cache. Nothing here downloads unless :func:`download_model_file` is
called, which only ``assistant pull`` and explicit setup do: an answer must never wait
on a download.
"""

from __future__ import annotations

from pathlib import Path

from .errors import AssistantError
from .presets import Preset, get_preset


def find_model_file(preset_or_path: Preset | str | Path, models_dir: str | Path) -> Path | None:
    """The GGUF file for a preset (or a preset name, or a path), if it is on disk.

    A path is taken as given (``~`` expanded), then relative to ``models_dir``. A preset
    is found as ``models_dir/<filename>`` (where ``assistant pull`` puts it) or in the
    Hugging Face cache (where other tools put it). Returns None when it is nowhere.
    """
    preset = preset_or_path if isinstance(preset_or_path, Preset) else None
    if preset is None and isinstance(preset_or_path, str):
        preset = get_preset(preset_or_path)
    models_dir = Path(models_dir).expanduser()
    if preset is None:
        path = Path(preset_or_path).expanduser()
        for candidate in (path, models_dir / path):
            if candidate.is_file():
                return candidate
        return None
    local = models_dir / preset.filename
    if local.is_file():
        return local
    return _from_hf_cache(preset)


def _from_hf_cache(preset: Preset) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    # Returns a path (str) when cached, None when unknown, or a sentinel object when the
    # hub said the file does not exist: only a str is a file we can use.
    cached = try_to_load_from_cache(preset.repo_id, preset.filename)
    if isinstance(cached, str) and Path(cached).is_file():
        return Path(cached)
    return None


def download_model_file(preset: Preset, models_dir: str | Path, progress: bool = True) -> Path:
    """Download ``preset``'s GGUF into ``models_dir`` and return its path.

    Uses ``huggingface_hub.hf_hub_download``, so ``HF_ENDPOINT`` (a mirror), ``HF_TOKEN``
    and ``HF_HUB_OFFLINE`` apply. Raises AssistantError when the file cannot be had.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    models_dir = Path(models_dir).expanduser()
    models_dir.mkdir(parents=True, exist_ok=True)
    was_disabled = are_progress_bars_disabled()
    if not progress:
        disable_progress_bars()
    try:
        path = hf_hub_download(
            repo_id=preset.repo_id, filename=preset.filename, local_dir=models_dir
        )
    except Exception as e:  # network, offline mode, 404, disk full: all end the same way
        raise AssistantError(
            f"could not download {preset.filename} (about {preset.download_mb} MB) from "
            f"{preset.repo_id}: {type(e).__name__}: {_first_line(e)}",
            hint=(
                "check the network (or HF_ENDPOINT for a mirror; HF_HUB_OFFLINE=1 forbids "
                f"downloads), or copy the file into {models_dir}/ yourself"
            ),
        ) from e
    finally:
        if not progress and not was_disabled:
            enable_progress_bars()
    return Path(path)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "no details"
