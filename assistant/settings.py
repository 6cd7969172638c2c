"""One settings object: defaults here, overridden by ``assistant.toml``, env, then flags.

Env variables are ``ASSISTANT_<FIELD>`` (e.g. ``ASSISTANT_EMBEDDER``). CLI flags and web
controls are derived from these fields rather than repeating their defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from assistant.text.counting import TIKTOKEN_URL, use_models_tiktoken

DEFAULT_EMBEDDER = "intfloat/multilingual-e5-small"
DEFAULT_MODEL = "qwen2.5-1.5b-instruct"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", toml_file="assistant.toml", extra="ignore"
    )

    corpus: Path = Field(Path("corpus"), description="Folder of documents to index")
    index: Path = Field(Path("index"), description="Folder the index is built in")
    models_dir: Path = Field(Path("models"), description="Folder of downloaded models")

    embedder: str = Field(DEFAULT_EMBEDDER, description="sentence-transformers name or path")
    embed_backend: Literal["onnx-int8", "torch"] = Field(
        "onnx-int8", description="Run the embedder as int8 ONNX (faster) or PyTorch"
    )
    max_file_mb: float = Field(
        10, gt=0, description="Files larger than this (MB) are skipped by the indexer"
    )
    chunk_tokens: int = Field(
        300, ge=32, le=1024, description="Target chunk size in cl100k tokens"
    )

    model: str = Field(
        DEFAULT_MODEL,
        description="Local model: a preset name, a .gguf path, or 'extractive' for no model",
    )
    model_in_process: bool = Field(
        False, description="Run the local model inside this process instead of a "
        "supervised worker (no crash isolation; for debugging)",
    )
    llm_url: str | None = Field(None, description="OpenAI-compatible server base URL")
    llm_model: str | None = Field(None, description="Model name to ask the server for")
    llm_api_key: str | None = Field(None, description="API key for the server, if any")
    llm_context: int = Field(
        4096, ge=512, le=1_048_576, description="Context window of the model server, tokens"
    )
    context_tokens: int = Field(
        # 500: the evidence is in the sources for 96.0% of CMRC and 97.2% of the dev,
        # paraphrase and request questions (700: 97.5%, 98.6%), and a 1.5B model on two
        # cores reads the prompt in 0.70 of the time (BENCHMARKS.md, "Answers with a model").
        500, ge=100, le=8000, description="Token budget for the sources given to the model"
    )
    max_answer_tokens: int = Field(320, ge=16, le=4096, description="Longest answer, tokens")
    temperature: float = Field(0.2, ge=0.0, le=2.0, description="Sampling temperature")
    seed: int = Field(
        # Without a seed per answer llama-cpp-python draws each one's from the last
        # answer's, so the same question got other words depending on what was asked
        # before it (and benchmark runs could not be compared question by question).
        # The local model also reuses no more than the system message from llama.cpp's
        # cache (generate/local.py), so a prompt is always read in the same batches.
        0, ge=0, le=2**31 - 1, description="Sampling seed: the same question over the same "
        "sources gets the same answer; the web page's Retry asks with the next seed",
    )
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads for the model")
    abstain_below: float | None = Field(
        None, ge=0.0, le=1.0, description="Relevance (assistant/answer/abstain.py) under which "
        "the answer abstains before any model reads the sources (None: the calibrated "
        "threshold)",
    )
    top_k: int = Field(8, ge=1, le=50, description="Passages retrieved per question")
    tiktoken_url: str = Field(
        TIKTOKEN_URL, description="Where `assistant pull` fetches tiktoken's cl100k_base "
        "(a mirror)",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        from pydantic_settings import TomlConfigSettingsSource

        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def model_post_init(self, __context) -> None:
        # tiktoken finds a pulled cl100k_base in models/tiktoken without any env setup;
        # must happen before the first token count (the loader caches its result).
        use_models_tiktoken(self.models_dir)

    @property
    def cpu_threads(self) -> int:
        return self.threads or max(1, os.cpu_count() or 1)


def load_settings(**overrides) -> Settings:
    """Settings with CLI overrides applied; ``None`` values mean "not given"."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
