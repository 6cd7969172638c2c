"""With every outbound socket blocked (loopback aside), index, search, ask and serve all
work from models on disk: the packaged embedder, a GGUF file and tiktoken's file."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "web"))

from testenv import MINILM

from assistant.app.cli import main

LOOPBACK = ("127.", "::1", "localhost")


@pytest.fixture
def no_network(monkeypatch):
    """Refuse any connection or DNS look-up that is not loopback, and record attempts."""
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        if self.family == socket.AF_UNIX or host.startswith(LOOPBACK):
            return real_connect(self, address)
        attempts.append(host)
        raise OSError(f"network blocked by the test: {host}")

    def getaddrinfo(host, *a, **kw):
        if host is None or str(host).startswith(LOOPBACK):
            return real_getaddrinfo(host, *a, **kw)
        attempts.append(str(host))
        raise socket.gaierror(f"network blocked by the test: {host}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # nothing may rely on it
    return attempts


@pytest.mark.slow
def test_everything_runs_with_the_network_blocked(tmp_path, tiny_path, no_network, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "vllm.md").write_text(
        "# 推理框架\n\n## vLLM\n\nvLLM 是 UC Berkeley 开发的推理框架。\n", encoding="utf-8")
    models = tmp_path / "models"
    models.mkdir()
    common = ["--corpus", str(corpus), "--index", str(tmp_path / "index"),
              "--embedder", MINILM, "--models-dir", str(models)]

    assert main(["index", *common, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 1
    assert main(["search", "vLLM 是谁开发的？", *common, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["doc"] == "vllm.md"
    assert main(["ask", "vLLM 是谁开发的？", *common, "--model", str(tiny_path), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["backend"].startswith("llama.cpp") and answer["sources"]

    from webfixtures import RunningServer

    from assistant.app.http import create_app
    from assistant.settings import load_settings

    settings = load_settings(corpus=corpus, index=tmp_path / "index", embedder=MINILM,
                             models_dir=models, model="extractive")
    with RunningServer(create_app(settings)) as server:
        health = httpx.get(server.url + "/health", timeout=30).json()
        assert health["status"] == "ok" and health["documents"] == 1
        r = httpx.post(server.url + "/v1/chat/completions", timeout=60, json={
            "model": "assistant",
            "messages": [{"role": "user", "content": "vLLM 是谁开发的？"}]})
        assert r.status_code == 200 and r.json()["citations"][0]["doc"] == "vllm.md"
    assert no_network == []
