"""Generators: ``messages -> stream of text``, behind one small interface.

Three backends are chosen by settings: a local GGUF model (llama-cpp-python), any
OpenAI-compatible server (``llm_url``), or none at all (``model = "extractive"``), in
which case :func:`resolve_generator` returns None and answers quote the sources.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from assistant import notices
from assistant.errors import AssistantError
from assistant.hub.presets import PRESETS, get_preset

NO_MODEL = ("extractive", "none", "")
# Room in the context beyond the sources and the answer: instructions, the question
# and a little chat history.
PROMPT_OVERHEAD_TOKENS = 512
REMOTE_CONTEXT_DEFAULT = 4096


@runtime_checkable
class Generator(Protocol):
    """What the answer pipeline needs from a language model."""

    @property
    def name(self) -> str:
        """Human label, e.g. ``llama.cpp · qwen2.5-1.5b-instruct (Q4_K_M)``."""
        ...

    @property
    def context_length(self) -> int:
        """Tokens the model can attend to: prompt and answer together."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` in the model's own tokenizer (an estimate for servers)."""
        ...

    def stream(
        self,
        messages: list[dict],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield the reply to chat ``messages`` piece by piece. ``seed`` fixes the
        sampler's draws (None: the backend's own choice): a local model then gives the
        same reply to the same messages; a server's own prompt cache may not."""
        ...


# A reply is looping when its last LOOP_SPAN characters are there LOOP_ROUNDS times: a
# 1.5B model at times lists the same names until it runs out of tokens (1 SQuAD answer
# in 85: "the Warsaw Uprising Museum, the Warsaw Fotoplastikon, ..." for 320 tokens).
LOOP_SPAN = 40
LOOP_ROUNDS = 3


def loop_start(text: str) -> int | None:
    """Where the second round of a loop at the end of ``text`` begins (the text before
    it holds the first round once), or None when the text is not looping."""
    if len(text) < LOOP_SPAN * LOOP_ROUNDS:
        return None
    tail = text[-LOOP_SPAN:]
    if text.count(tail) < LOOP_ROUNDS:
        return None
    first = text.find(tail)
    return text.find(tail, first + 1)


def resolve_generator(settings: Any, *, allow_download: bool = False) -> Generator | None:
    """The generator ``settings`` ask for, or None for extractive answers.

    ``llm_url`` set -> an OpenAI-compatible server; ``model`` "extractive"/"none" ->
    None; a preset name or a ``.gguf`` path -> the local model, loaded now in a worker
    process (``generation/worker.py``; in this one with ``model_in_process``). When the
    model file is not on disk the fallback to extractive answers is announced once and
    None is returned. Only with ``allow_download=True`` (``assistant pull``, setup) is a
    missing preset downloaded; answering never waits on a download.
    """
    if settings.llm_url:
        from assistant.generate.remote import OpenAIHTTPGenerator

        return OpenAIHTTPGenerator(
            settings.llm_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            context_length=settings.llm_context,
        )
    name = (settings.model or "").strip()
    if name.lower() in NO_MODEL:
        return None
    path = _model_path(name, Path(settings.models_dir), allow_download)
    if path is None:
        return None
    preset = get_preset(name)
    wanted = settings.context_tokens + settings.max_answer_tokens + PROMPT_OVERHEAD_TOKENS
    if preset is not None:
        wanted = min(wanted, preset.context_length)
    if getattr(settings, "model_in_process", False):
        from assistant.generate.local import LlamaCppGenerator as Local
    else:  # the default: a crash in llama.cpp costs one answer, not this process
        from assistant.generate.worker import ModelProcess as Local
    return Local(
        path,
        n_ctx=wanted,
        threads=settings.cpu_threads,
        label=preset.label if preset else None,
    )


def check_generator(settings: Any) -> None:
    """Fail fast, before a server listens, on a model that cannot load: an unknown preset
    name, or a model file that is missing its data or is not GGUF. Loads nothing (the
    load itself happens later, in the background); a model that is simply not on disk is
    announced here, as answering would."""
    if settings.llm_url:
        return
    name = (settings.model or "").strip()
    if name.lower() in NO_MODEL:
        return
    path = _model_path(name, Path(settings.models_dir), allow_download=False)
    if path is not None:
        from assistant.generate.local import check_model_file

        check_model_file(path)


def names_a_file(model: str) -> bool:
    """Whether ``model`` is a path to a .gguf file, not a preset name."""
    return model.lower().endswith(".gguf") or "/" in model or "\\" in model


def _model_path(name: str, models_dir: Path, allow_download: bool) -> Path | None:
    from assistant.hub.files import find_model_file
    from assistant.hub.pull import download_model_file

    preset = get_preset(name)
    if preset is None and not names_a_file(name):
        raise AssistantError(
            f"unknown model {name!r}",
            hint=f"use a preset ({', '.join(PRESETS)}), a .gguf file path, or 'extractive'",
        )
    found = find_model_file(preset or name, models_dir)
    if found is None and preset is not None and allow_download:
        found = download_model_file(preset, models_dir)
    if found is None:
        if preset is not None:
            what = f"the model {preset.name} ({preset.filename}, about {preset.download_mb} MB)"
            where = f"not in {models_dir}/ nor in the Hugging Face cache"
            fix = f"run `assistant pull --model {preset.name}`"
        else:
            what, where = f"the model file {name}", "not found"
            fix = "check the path, or use a preset: `assistant pull --model qwen2.5-1.5b-instruct`"
        notices.announce(
            "llm-missing",
            f"{what} is {where}, so answers are extractive instead (the best sentences of "
            f"the sources, quoted with citations). To get written answers, {fix}.",
        )
    return found
