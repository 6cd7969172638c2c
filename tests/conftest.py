"""Shared test setup: offline, tiktoken from the shared folder, one real embedder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from testenv import MINILM

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

# What a test may leave behind in the process that the next one would see.
_OUTSIDE_SETTINGS = ("ASSISTANT_SHARED",)  # test-only variables, not settings


@pytest.fixture(autouse=True)
def _isolated(request, monkeypatch, tmp_path_factory):
    """Each test starts from the defaults: no ASSISTANT_* variable of the shell running
    pytest, no assistant.toml of the folder it runs in, no notice announced before, an
    English locale (the CLI speaks the locale's language; tests/generation/
    test_cli_language.py sets zh_CN itself), and
    the default embedder is not found unless the test asks for the bundled weights
    (``@pytest.mark.bundled_e5``): converting and exporting them costs a minute and half
    a gigabyte per models folder, and fakes stay fakes."""
    from assistant import notices
    from assistant.embed import resolve
    from assistant.settings import Settings

    if request.node.get_closest_marker("bundled_e5") is None:
        monkeypatch.setattr(resolve, "bundled_e5_folder", lambda models_dir: None)

    for name in list(os.environ):
        if name.startswith("ASSISTANT_") and name not in _OUTSIDE_SETTINGS:
            monkeypatch.delenv(name)
    monkeypatch.setenv("LANG", "C.UTF-8")
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    no_toml = tmp_path_factory.getbasetemp() / "no-assistant.toml"
    monkeypatch.setitem(Settings.model_config, "toml_file", no_toml)
    notices.reset()
    yield
    notices.reset()


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2, loaded once per session from the packaged copy."""
    from assistant.embed.load import load_embedder

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
