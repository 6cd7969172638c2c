"""Generators on a tiny random-weight GGUF: the local backend directly, the HTTP backend
through llama-cpp-python's own OpenAI-compatible server, and how settings pick one."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import httpx
import pytest
from llama_server import free_port, llama_server
from tiny_gguf import N_CTX_TRAIN, build_corrupt_gguf, build_tiny_gguf

from assistant import notices
from assistant.errors import AssistantError
from assistant.generate import Generator, resolve_generator
from assistant.generate.local import DEFAULT_CONTEXT, LlamaCppGenerator, physical_cores
from assistant.generate.remote import OpenAIHTTPGenerator, _sse_event
from assistant.hub.presets import PRESETS
from assistant.settings import Settings

QUESTION = [
    {"role": "system", "content": "Answer from the sources and cite them."},
    {"role": "user", "content": "What is the model?"},
]
# One thread: the tiny model computes in microseconds, so on a busy 2-core machine the
# sync between two threads would cost more than the work.
THREADS = 1


@pytest.fixture(scope="session")
def local(tiny_path) -> LlamaCppGenerator:
    return LlamaCppGenerator(tiny_path, n_ctx=512, threads=THREADS)


def _settings(tmp_path: Path, **kw) -> Settings:
    # Real Settings, not a namespace: a namespace once hid a read of a field that did not
    # exist (llm_context), which silently took every server's context as 4096.
    base = dict(
        model="qwen2.5-1.5b-instruct",
        models_dir=tmp_path / "models",
        context_tokens=700,
        max_answer_tokens=320,
        threads=THREADS,
    )
    return Settings(**{**base, **kw})


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def no_download(monkeypatch):
    import assistant.hub.pull

    def fail(*a, **kw):
        raise AssertionError("resolve_generator must not download by default")

    monkeypatch.setattr(assistant.hub.pull, "fetch", fail)


# --- the local backend -----------------------------------------------------------------


def test_local_loads_and_describes_itself(local, tiny_path):
    assert isinstance(local, Generator)
    assert local.name == "llama.cpp · tiny.gguf"
    assert local.context_length == 512
    assert local.threads == THREADS
    tokens = local._llm.tokenize(b"the model answer", add_bos=False, special=False)
    assert local.count_tokens("the model answer") == len(tokens) > 0
    assert local.count_tokens("") == 0


def test_chat_template_comes_from_the_gguf(local):
    prompt = local._formatter(messages=QUESTION).prompt
    assert prompt.startswith("<|im_start|>system\nAnswer from the sources")
    assert "<|im_start|>user\nWhat is the model?<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    # The special tokens are single tokens of the vocabulary, so counting is exact.
    assert local.prompt_tokens(QUESTION) < len(prompt) // 2


def test_stream_yields_text(local):
    pieces = list(local.stream(QUESTION, max_tokens=12, temperature=0.0))
    assert pieces and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces).strip()


def test_max_tokens_is_respected(local):
    pieces = list(local.stream(QUESTION, max_tokens=5, temperature=0.7))
    assert 1 <= len(pieces) <= 5


def test_stop_strings_end_the_answer(local):
    text = "".join(local.stream(QUESTION, max_tokens=30, temperature=0.0))
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    assert len(stop) == 3 and text.find(stop) > 0
    stopped = "".join(local.stream(QUESTION, max_tokens=30, temperature=0.0, stop=[stop]))
    assert stopped == text[: text.find(stop)]


def test_prompt_too_long_is_refused_before_the_model_runs(local):
    long = [{"role": "user", "content": "the model answer " * 400}]
    with pytest.raises(AssistantError) as e:
        local.stream(long, max_tokens=16, temperature=0.0)  # raises on the call itself
    msg = str(e.value)
    assert "tokens but the model's context is 512" in msg
    assert "context_tokens" in msg


def test_prompt_plus_answer_too_long_is_refused(local):
    used = local.prompt_tokens(QUESTION)
    with pytest.raises(AssistantError, match=r"plus up to \d+ for the answer"):
        local.stream(QUESTION, max_tokens=512 - used + 1, temperature=0.0)
    assert list(local.stream(QUESTION, max_tokens=4, temperature=0.0))


def test_the_lock_serialises_concurrent_answers(local):
    expected = "".join(local.stream(QUESTION, max_tokens=10, temperature=0.0))
    results: list[str] = []

    def ask() -> None:
        results.append("".join(local.stream(QUESTION, max_tokens=10, temperature=0.0)))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [expected] * 3


def test_context_is_clamped_to_the_trained_length(tiny_path):
    gen = LlamaCppGenerator(tiny_path, n_ctx=100_000, threads=THREADS)
    assert gen.context_length == N_CTX_TRAIN


def test_system_role_is_folded_for_templates_without_one(tmp_path):
    gemma_like = (
        "{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}"
        "<end_of_turn>\n{% endfor %}<start_of_turn>model\n"
    )
    gen = LlamaCppGenerator(
        build_tiny_gguf(tmp_path / "g.gguf", chat_template=gemma_like), n_ctx=256, threads=1
    )
    folded, _ = gen._render(QUESTION)
    assert folded == [
        {"role": "user", "content": "Answer from the sources and cite them.\n\nWhat is the model?"}
    ]
    assert list(gen.stream(QUESTION, max_tokens=3, temperature=0.0))
    # Counted as sent, not refused (the answer's prompt_tokens timing fell back to a guess).
    assert gen.prompt_tokens(QUESTION) == gen.prompt_tokens(folded) > 0
    # The cached part is still the instructions, now at the head of the user's turn.
    _, prompt = gen._render(QUESTION)
    tokens = gen._tokens(prompt)
    head = len(gen._tokens(prompt[: prompt.index("them.") + len("them.")]))
    # (one token may join across the boundary, and is then read anew)
    assert head - 1 <= gen._fixed_prefix(QUESTION, prompt, tokens) <= head < len(tokens)


def test_gguf_without_template_uses_the_preset_one_or_says_so(tmp_path, tiny_path):
    bare = build_tiny_gguf(tmp_path / "phi-2.Q4_K_M.gguf", chat_template=None)
    gen = LlamaCppGenerator(bare, n_ctx=256, threads=1)  # named like the phi-2 preset
    prompt = gen._formatter(messages=QUESTION).prompt
    assert prompt.endswith("Instruct: What is the model?\nOutput:")
    assert gen.name == f"llama.cpp · {PRESETS['phi-2'].label}"

    other = build_tiny_gguf(tmp_path / "mystery.gguf", chat_template=None)
    LlamaCppGenerator(other, n_ctx=256, threads=1)
    assert any("mystery.gguf has no chat template" in n for n in notices.active())
    notices.reset()


def test_corrupt_gguf_is_a_clear_error(tmp_path, tiny_path):
    broken = build_corrupt_gguf(tiny_path, tmp_path / "qwen2.5-1.5b-instruct-q4_k_m.gguf")
    with pytest.raises(AssistantError) as e:
        LlamaCppGenerator(broken, threads=1)
    assert str(broken) in e.value.message
    assert "incomplete or damaged" in e.value.message
    assert e.value.hint == "download it again with `assistant pull --model qwen2.5-1.5b-instruct`"


def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_text("<html>404 Not Found</html>")
    with pytest.raises(AssistantError, match="not a GGUF file") as e:
        LlamaCppGenerator(fake, threads=1)
    assert "check the path" in e.value.hint


def test_missing_gguf_is_a_clear_error(tmp_path):
    with pytest.raises(AssistantError, match="does not exist") as e:
        LlamaCppGenerator(tmp_path / "nowhere.gguf", threads=1)
    assert "assistant pull --model" in e.value.hint


def test_physical_cores_is_sane():
    assert 1 <= physical_cores() <= (os.cpu_count() or 1)


# --- choosing a generator from settings ----------------------------------------------


@pytest.mark.parametrize("model", ["extractive", "none", "NONE", ""])
def test_no_model_means_extractive(tmp_path, model):
    assert resolve_generator(_settings(tmp_path, model=model)) is None


def test_llm_url_means_the_http_backend(tmp_path):
    gen = resolve_generator(_settings(tmp_path, llm_url="http://127.0.0.1:9/v1/", llm_model="m"))
    assert isinstance(gen, OpenAIHTTPGenerator)
    assert gen.base_url == "http://127.0.0.1:9"
    assert gen.model == "m" and gen.context_length == 4096


def test_the_servers_context_window_is_a_setting(tmp_path):
    settings = _settings(tmp_path, llm_url="http://127.0.0.1:9/v1/", llm_context=32768)
    assert resolve_generator(settings).context_length == 32768


def test_missing_model_falls_back_to_extractive_once(tmp_path, empty_hf_cache, no_download, capsys):
    settings = _settings(tmp_path)
    assert resolve_generator(settings) is None
    assert resolve_generator(settings) is None
    err = capsys.readouterr().err
    assert err.count("note:") == 1
    (message,) = notices.active()
    assert "qwen2.5-1.5b-instruct" in message
    assert "extractive" in message
    assert "assistant pull --model qwen2.5-1.5b-instruct" in message
    notices.reset()


def test_missing_gguf_path_falls_back_with_advice(tmp_path, no_download):
    assert resolve_generator(_settings(tmp_path, model=str(tmp_path / "x.gguf"))) is None
    (message,) = notices.active()
    assert "x.gguf" in message and "check the path" in message
    notices.reset()


def test_unknown_model_name_is_an_error(tmp_path):
    with pytest.raises(AssistantError, match="unknown model 'qwen9'") as e:
        resolve_generator(_settings(tmp_path, model="qwen9"))
    assert "qwen2.5-1.5b-instruct" in e.value.hint


def test_preset_in_models_dir_is_loaded(tmp_path, tiny_path, no_download):
    preset = PRESETS["qwen2.5-1.5b-instruct"]
    (tmp_path / "models").mkdir()
    shutil.copy(tiny_path, tmp_path / "models" / preset.filename)
    gen = resolve_generator(_settings(tmp_path, model_in_process=True))
    assert isinstance(gen, LlamaCppGenerator)
    assert gen.name == f"llama.cpp · {preset.label}"
    # sources + answer + instructions; llama.cpp pads the context to a multiple of 256
    assert 700 + 320 + 512 <= gen.context_length < 700 + 320 + 512 + 256


def test_gguf_path_is_loaded_in_a_worker_process(tmp_path, tiny_path):
    from assistant.generate.worker import ModelProcess

    gen = resolve_generator(_settings(tmp_path, model=str(tiny_path)))
    try:
        assert isinstance(gen, ModelProcess) and gen.path == tiny_path
        assert gen.pid not in (None, os.getpid())
    finally:
        gen.close()
    inline = resolve_generator(_settings(tmp_path, model=str(tiny_path), model_in_process=True))
    assert isinstance(inline, LlamaCppGenerator)


def test_preset_in_the_hf_cache_is_found(tmp_path, tiny_path, empty_hf_cache, no_download):
    from assistant.hub.files import find_model_file

    preset = PRESETS["gemma-2-2b-it"]
    repo = empty_hf_cache / ("models--" + preset.repo_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    shutil.copy(tiny_path, snapshot / preset.filename)
    assert find_model_file("gemma-2-2b-it", tmp_path / "models") == snapshot / preset.filename
    gen = resolve_generator(_settings(tmp_path, model="gemma-2-2b-it", model_in_process=True))
    assert isinstance(gen, LlamaCppGenerator)


# --- the hub ----------------------------------------------------------------------------


def test_find_model_file_takes_paths(tmp_path, tiny_path):
    from assistant.hub.files import find_model_file

    assert find_model_file(tiny_path, tmp_path) == tiny_path
    assert find_model_file(tiny_path.name, tiny_path.parent) == tiny_path.parent / tiny_path.name
    assert find_model_file(tmp_path / "none.gguf", tmp_path) is None


# --- the HTTP backend -------------------------------------------------------------------


@pytest.fixture(scope="session")
def server_url(tiny_path, tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server, serving the tiny model."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with llama_server(tiny_path, "tiny", log) as url:
        yield url


@pytest.fixture
def http_gen():
    """``OpenAIHTTPGenerator``, closed after the test: an unclosed client's socket,
    collected during a later test, fails that one (warnings are errors)."""
    made: list[OpenAIHTTPGenerator] = []

    def make(*args, **kwargs) -> OpenAIHTTPGenerator:
        made.append(OpenAIHTTPGenerator(*args, **kwargs))
        return made[-1]

    yield make
    for gen in made:
        gen.close()


@pytest.mark.slow
def test_http_backend_asks_the_server_for_its_model(server_url, http_gen):
    gen = http_gen(server_url)
    assert gen.model == "tiny"
    assert gen.name == f"{server_url} · tiny"
    assert isinstance(gen, Generator)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_http_backend_streams(server_url, suffix, http_gen):
    gen = http_gen(server_url + suffix, model="tiny")
    pieces = list(gen.stream(QUESTION, max_tokens=6, temperature=0.0))
    assert 1 <= len(pieces) <= 6
    assert "".join(pieces).strip()


@pytest.mark.slow
def test_http_backend_passes_stop_strings(server_url, http_gen):
    gen = http_gen(server_url, model="tiny")
    text = "".join(gen.stream(QUESTION, max_tokens=30, temperature=0.0))
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    stopped = "".join(gen.stream(QUESTION, max_tokens=30, temperature=0.0, stop=[stop]))
    assert stopped == text[: text.find(stop)]


@pytest.mark.slow
def test_http_backend_reports_server_errors(server_url, http_gen):
    gen = http_gen(server_url, model="tiny")
    too_long = [{"role": "user", "content": "the model answer " * 400}]
    # llama.cpp's server answers 200 and closes the stream: not an empty "answer".
    with pytest.raises(AssistantError, match="stopped before finishing") as e:
        list(gen.stream(too_long, max_tokens=8, temperature=0.0))
    assert "context_tokens" in e.value.hint


@pytest.mark.slow
def test_http_backend_wrong_path_says_what_to_check(server_url, http_gen):
    gen = http_gen(server_url + "/not-the-api", model="tiny")
    with pytest.raises(AssistantError, match="HTTP 404") as e:
        list(gen.stream(QUESTION, max_tokens=4, temperature=0.0))
    assert "llm_url" in e.value.hint


def test_unreachable_server_is_a_clear_error(http_gen):
    url = f"http://127.0.0.1:{free_port()}"
    gen = http_gen(url, model="m")
    with pytest.raises(AssistantError, match="could not reach the model server") as e:
        list(gen.stream(QUESTION, max_tokens=4, temperature=0.0))
    assert url in e.value.message
    assert "running" in e.value.hint and "--llm-url" in e.value.hint  # not a field name
    with pytest.raises(AssistantError, match="could not reach"):
        _ = http_gen(url).model  # the property asks the server


def test_http_backend_with_a_mock_transport():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer sekrit"
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "m1"}, {"id": "m2"}]})
        body = (
            ": ping\n\n"
            'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n'
            'data: {"choices":[{"delta":{"content":"你好"}}]}\n\n'
            'data: {"choices":[{"delta":{"content":" world"}}]}\n\n'
            'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n'
            "data: [DONE]\n\n"
        )
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    gen = OpenAIHTTPGenerator("http://server.test/v1", api_key="sekrit")
    gen._client = httpx.Client(transport=httpx.MockTransport(handler), headers=gen._client.headers)
    assert list(gen.stream(QUESTION, max_tokens=8, temperature=0.2)) == ["你好", " world"]
    assert gen.model == "m1"


def test_http_backend_unauthorised_names_the_key():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "bad key"}})

    gen = OpenAIHTTPGenerator("http://server.test", model="m")
    gen._client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(AssistantError, match="HTTP 401: bad key") as e:
        list(gen.stream(QUESTION, max_tokens=8, temperature=0.2))
    assert "llm_api_key" in e.value.hint


def test_sse_lines():
    assert _sse_event("data: [DONE]", "u") == ("", True)
    assert _sse_event("", "u") == ("", False)
    assert _sse_event(": keep-alive", "u") == ("", False)
    assert _sse_event('data: {"choices":[{"delta":{"content":"x"}}]}', "u") == ("x", False)
    assert _sse_event('data: {"choices":[{"delta":{"content":null}}]}', "u") == ("", False)
    assert _sse_event('data:{"choices":[]}', "u") == ("", False)
    end = 'data: {"choices":[{"delta":{"content":"."},"finish_reason":"length"}]}'
    assert _sse_event(end, "u") == (".", True)
    with pytest.raises(AssistantError, match="overloaded"):
        _sse_event('data: {"error":{"message":"overloaded"}}', "u")


def test_a_stream_cut_short_is_an_error():
    def handler(request: httpx.Request) -> httpx.Response:
        body = 'data: {"choices":[{"delta":{"content":"half an ans"}}]}\n\n'
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    gen = OpenAIHTTPGenerator("http://server.test", model="m")
    gen._client = httpx.Client(transport=httpx.MockTransport(handler))
    pieces = []
    with pytest.raises(AssistantError, match="stopped before finishing"):
        for piece in gen.stream(QUESTION, max_tokens=8, temperature=0.2):
            pieces.append(piece)
    assert pieces == ["half an ans"]


def test_http_token_count_uses_cl100k(monkeypatch, http_gen):
    from assistant.generate import remote

    if not os.environ.get("TIKTOKEN_CACHE_DIR"):
        pytest.skip("TIKTOKEN_CACHE_DIR is not set")
    gen = http_gen("http://server.test", model="m")
    assert gen.count_tokens("hello world") == 2
    notices.reset()
    remote._cl100k.cache_clear()
    from assistant.text import counting

    monkeypatch.setattr(counting, "cl100k", lambda: (None, "no file"))
    try:
        assert gen.count_tokens("一二三四五六") == 3
        (message,) = notices.active()
        assert "characters / 2" in message and "copy the file into" in message
        # Said once, whoever finds the file missing first: token counting for the index
        # adds no second notice in other words.
        counting.make_token_counter(fallback=len)
        assert notices.active() == [message]
    finally:
        remote._cl100k.cache_clear()
        notices.reset()


def test_an_abandoned_answer_frees_the_model(local):
    first = local.stream(QUESTION, max_tokens=20, temperature=0.0)
    next(first)
    first.close()  # the reader went away mid-answer
    assert list(local.stream(QUESTION, max_tokens=3, temperature=0.0))


def test_default_context_is_modest(tiny_path):
    gen = LlamaCppGenerator(tiny_path, threads=THREADS)
    assert gen.context_length == min(DEFAULT_CONTEXT, N_CTX_TRAIN)
