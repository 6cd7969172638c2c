"""Shared fixtures for the web tests: a small corpus, its index, one running server.

Loaded as a pytest plugin by ``tests/test_api.py``, ``tests/test_web.py`` and
``tests/test_browser.py`` (``pytest_plugins = ["webfixtures"]``), so the index and the
server are built once per session however many of those modules run.

The server is the real app (:func:`assistant.app.http.create_app`) on a free 127.0.0.1
port, extractive backend, the packaged all-MiniLM-L6-v2 embedder. Its assistant is
:class:`assistant.answer.pipeline.Assistant` when that exists, else :class:`FakeAssistant`, which
speaks the same interface (events status, sources, token..., done) over the real
searcher and extractive answers.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
_shared = Path(__file__).resolve().parents[4] / "shared" / "models" / "tiktoken"
if _shared.is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_shared))

EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
XSS_SCRIPT = "<script>window.__pwned = 1</script>"
XSS_IMG = '<img src=x onerror="window.__pwned = 2">'

CORPUS = {
    "inference.md": (
        "# 推理框架\n\n"
        "## vLLM\n\n"
        "vLLM 是 UC Berkeley 开发的开源大模型推理框架。它的核心技术是 PagedAttention，"
        "借鉴了操作系统中虚拟内存和分页的思想来管理 KV 缓存。\n\n"
        "## TGI\n\n"
        "Text Generation Inference（TGI）是 HuggingFace 推出的大模型推理服务工具。\n"
    ),
    "finetuning.md": (
        "# Fine-tuning notes\n\n"
        "## LoRA\n\n"
        "LoRA (Low-Rank Adaptation) freezes the pretrained weights and trains two small "
        "low-rank matrices per layer. It cuts the number of trainable parameters by a "
        "factor of ten thousand.\n\n"
        "## QLoRA\n\n"
        "QLoRA fine-tunes a 4-bit quantized model with LoRA adapters on a single GPU.\n"
    ),
    # Markup written as character references reaches the index as real markup, and so
    # does a fenced code block: the two ways a document puts <script> into a passage.
    "evil.md": (
        "# Payloads\n\n"
        "## Markup\n\n"
        "The zyzzyva password is kept here. &lt;script&gt;window.__pwned = 1&lt;/script&gt; "
        'Then &lt;img src=x onerror="window.__pwned = 2"&gt; and the end.\n\n'
        "```html\n<script>window.__pwned = 3</script>\n"
        '<img src=x onerror="window.__pwned = 4">\n```\n'
    ),
    "notes/moe.txt": (
        "混合专家模型\n\n"
        "MoE（Mixture of Experts，混合专家）模型把前馈层换成多个专家网络，"
        "每个 token 只激活其中少数几个专家，因此参数多而计算量小。\n"
    ),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_corpus(folder: Path) -> Path:
    for rel, text in CORPUS.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


class FakeAssistant:
    """The :class:`assistant.answer.pipeline.Assistant` interface over the real searcher and
    extractive answers (used until the real one is importable)."""

    def __init__(self, settings):
        from assistant.retrieve.search import Searcher

        self.settings = settings
        self.searcher = Searcher(settings)
        self.embedder = self.searcher.embedder
        self.generator = None

    def stream(self, question: str, history: list[dict] | None = None) -> Iterator:
        from assistant.answer.citations import parse_citations
        from assistant.answer.extractive import extractive_answer
        from assistant.answer.pipeline import Answer, Event, Source

        t0 = time.perf_counter()
        yield Event("status", text="searching")
        hits = self.searcher.search(question, k=min(self.settings.top_k, 5))
        sources = [
            Source(n, h.doc, h.title, h.heading, [h.line_start, h.line_end], h.text,
                   round(h.score, 4), h.page)
            for n, h in enumerate(hits, 1)
        ]
        yield Event("sources", sources=sources)
        yield Event("status", text="reading the sources")
        raw = extractive_answer(question, hits) if hits else ""
        for piece in _pieces(raw):
            yield Event("token", text=piece)
        checked = parse_citations(raw, len(sources))
        text = checked.text or "The documents do not cover this."
        answer = Answer(
            question=question, standalone=question, answer=text,
            citations=[sources[n - 1] for n in checked.cited], sources=sources,
            abstained=not hits, backend="extractive",
            notice=None if checked.cited else "no valid citation",
            timings={"total_ms": round(1000 * (time.perf_counter() - t0), 1)},
        )
        yield Event("done", answer=answer)

    def ask(self, question: str, history: list[dict] | None = None):
        answer = None
        for ev in self.stream(question, history):
            if ev.kind == "done":
                answer = ev.answer
        return answer


def _pieces(text: str, size: int = 6) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


def make_assistant(settings):
    """The real Assistant when it exists, else the fake."""
    try:
        from assistant.answer.pipeline import Assistant
    except ImportError:
        return FakeAssistant(settings)
    return Assistant(settings)


def web_settings(corpus: Path, index: Path):
    from assistant.settings import load_settings

    return load_settings(corpus=corpus, index=index, embedder=EMBEDDER, model="extractive",
                         models_dir=index.parent / "models")


class RunningServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a daemon thread."""

    def __init__(self, app, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="uvicorn")

    def __enter__(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def web_index(tmp_path_factory):
    """(settings, corpus, index) over a fresh copy of :data:`CORPUS`, indexed once."""
    from assistant.ingest.indexer import run_index

    root = tmp_path_factory.mktemp("web")
    corpus = write_corpus(root / "corpus")
    settings = web_settings(corpus, root / "index")
    run_index(settings)
    return settings


@pytest.fixture(scope="session")
def web_service(web_index):
    from assistant.app.server import Service

    return Service(web_index, make_assistant)


@pytest.fixture(scope="session")
def web_server(web_service):
    """The running server's base URL, e.g. ``http://127.0.0.1:51234``."""
    from assistant.app.http import create_app

    app = create_app(web_service.settings, service=web_service)
    with RunningServer(app) as running:
        yield running
