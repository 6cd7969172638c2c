"""The server's assistant and the state of its models: loading in the background, a
failed load, a variant for other settings, the wait for a local model to read.

The assistant is :class:`assistant.answer.pipeline.Assistant` (or a test's stand-in with
the same interface): ``factory(settings)`` builds the server's own, and
``factory(settings, searcher=..., generator=...)`` a variant that reuses what is loaded.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.settings import Settings

log = logging.getLogger(__name__)

# Settings a person may change per session in the web UI (and per request in the API).
TUNABLE = ("model", "llm_url", "context_tokens", "temperature", "seed")
PER_CALL = ("context_tokens", "temperature", "seed")  # to Assistant.stream as keywords
PROMPT_OVERHEAD = 150  # tokens of a prompt besides its sources: instructions, question
VARIANTS = 2  # assistants kept for other models


def default_factory(settings: Settings, **shared: Any):
    from assistant.answer.pipeline import Assistant

    return Assistant(settings, **shared)


def warm(assistant: Any) -> Any:
    """Load what an assistant loads lazily (searcher, embedder, model) now, so the first
    question does not wait for it. Loading embeds nothing."""
    _ = assistant.searcher, assistant.generator
    warm_model = getattr(assistant, "warm_model", None)
    if callable(warm_model):
        warm_model()
    return assistant


class Models:
    """Thread-safe. ``assistant`` is replaced (never mutated) when a fetched model arrives."""

    def __init__(self, settings: Settings, factory: Callable | None = None,
                 warm_now: bool = True):
        self.settings = settings
        self._factory = factory or default_factory
        self.assistant = self._factory(settings)
        self._load_error: str | None = None
        self._variants: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.fetch: Any = None  # a ModelFetch while the default model downloads
        if warm_now:
            warm(self.assistant)

    # -- loading ---------------------------------------------------------------------------
    def warm_in_background(self, fetch: bool = True) -> threading.Thread:
        """Load the embedder and model in a thread, so the server can listen meanwhile
        (``assistant serve``). A question asked before it ends waits for the load; a load
        that fails is reported by that question, as it would be without warming. With
        ``fetch``, a configured preset that is not on disk is downloaded meanwhile
        (:mod:`assistant.app.fetch`) and loaded once it is in place."""

        def run() -> None:
            try:
                warm(self.assistant)
            except Exception as e:  # each question raises it again, with its message
                self._load_error = str(e)
                log.warning("loading the models failed: %s", e)
            if fetch:
                self.start_fetch()

        thread = threading.Thread(target=run, name="warm-models", daemon=True)
        thread.start()
        return thread

    def start_fetch(self) -> Any:
        """Download the configured preset when it is missing (None when nothing to do)."""
        from assistant.app.fetch import ModelFetch, missing_preset

        preset = missing_preset(self.settings)
        if preset is None or self.fetch is not None:
            return self.fetch
        self.fetch = ModelFetch(preset, Path(self.settings.models_dir), self._fetched)
        self.fetch.start()
        return self.fetch

    def _fetched(self, path: Path) -> None:
        from assistant import notices

        old = self.assistant
        shared = {"searcher": old.built_searcher} if getattr(old, "built_searcher", None) \
            else {}
        fresh = warm(self._factory(self.settings, **shared))
        with self._lock:
            self.assistant = fresh
            self._variants.clear()
        notices.forget("llm-missing")
        log.warning("the model %s is ready", path.name)

    @property
    def loading(self) -> bool:
        """True while the models are still being loaded (see :meth:`warm_in_background`)."""
        return self.load_error is None and getattr(self.assistant, "loaded", True) is False

    @property
    def load_error(self) -> str | None:
        """Why the background load failed, while nothing has loaded the models since."""
        return None if getattr(self.assistant, "loaded", True) else self._load_error

    @property
    def model_state(self) -> dict | None:
        """The local model's worker (state, crashes, error, pid), once it is loaded; None
        for a model server, extractive answers or an in-process model."""
        gen = getattr(self.assistant, "built_generator", None)
        state = getattr(gen, "state", None)
        return state if isinstance(state, dict) else None

    @property
    def backend(self) -> str:
        """The generator in use, e.g. "extractive" or "llama.cpp · Qwen2.5-1.5B-Instruct"."""
        if self.loading or self.load_error is not None:  # asking now would (re)try the load
            state = "failed to load" if self.load_error is not None else "loading"
            return f"{self.settings.llm_url or self.settings.model} ({state})"
        value = getattr(self.assistant, "backend", None)
        if not isinstance(value, str) or not value:
            return self.settings.llm_url or self.settings.model
        model = self.model_state
        if model and model["state"] == "restarting":
            return f"{value} (restarting after a crash; answers quote the sources)"
        if model and model["state"] == "failed":
            return f"{value} (stopped: {model['error']}; answers quote the sources)"
        return value

    def embedder(self):
        """The assistant's loaded embedder (for index runs), or None. Never builds one:
        while the models load (or after that failed) an index run loads its own."""
        searcher = getattr(self.assistant, "built_searcher", None)
        emb = getattr(searcher, "embedder", None)
        return emb if emb is not None and hasattr(emb, "embed_passages") else None

    def read_seconds(self, texts: list[str]) -> float | None:
        """How long the local model will take to read a prompt holding ``texts``, from
        its measured reading speed (None: no local model, or nothing measured yet)."""
        gen = getattr(self.assistant, "built_generator", None)
        speed = getattr(gen, "read_speed", None)
        if not speed:
            return None
        tokens = PROMPT_OVERHEAD + sum(gen.count_tokens(t) for t in texts)
        return tokens / speed

    # -- variants --------------------------------------------------------------------------
    def overrides(self, **values) -> dict:
        """The given tunables that differ from the server's settings."""
        out = {}
        for key in TUNABLE:
            v = values.get(key)
            if key == "llm_url" and v is not None:
                v = v.strip() or None
                if (v or None) != (self.settings.llm_url or None):
                    out[key] = v
                continue
            if v is None or v == "":
                continue
            if v != getattr(self.settings, key):
                out[key] = v
        return out

    def assistant_for(self, overrides: dict | None = None) -> tuple[Any, dict]:
        """(assistant, keyword arguments for its ``stream``) honouring ``overrides``.

        The context budget and the temperature go to ``stream`` per call; another model
        or server needs an assistant of its own, kept for the few most recent choices.
        """
        overrides = dict(overrides or {})
        if not overrides:
            return self.assistant, {}
        try:  # init values outrank env and toml, and the field bounds are checked
            Settings(**{**self.settings.model_dump(), **overrides})
        except Exception as e:
            raise AssistantError(f"Those settings are not valid: {e}",
                                 "Pick values inside the ranges shown.") from e
        per_call = {k: v for k, v in overrides.items() if k in PER_CALL}
        rest = {k: v for k, v in overrides.items() if k not in PER_CALL}
        if not rest:
            return self.assistant, per_call
        key = tuple(sorted(rest.items()))
        with self._lock:
            if key in self._variants:
                self._variants.move_to_end(key)
                return self._variants[key], per_call
            settings = Settings(**{**self.settings.model_dump(), **rest})
            # A variant reuses the loaded searcher (a second copy of a local model would
            # double the memory; another model is what a variant is for).
            variant = warm(self._factory(settings, searcher=self.assistant.searcher))
            self._variants[key] = variant
            while len(self._variants) > VARIANTS:
                self._variants.popitem(last=False)
            return variant, per_call
