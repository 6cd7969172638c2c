"""The running server, through real clients: openai, gradio_client and plain HTTP.

One server per session (see ``tests/data/web/webfixtures.py``) over a small corpus
written by the fixture: extractive answers, the packaged MiniLM embedder.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "web"))
pytest_plugins = ["webfixtures"]

QUESTION_ZH = "vLLM 是哪个机构开发的？"
QUESTION_EN = "What does LoRA freeze?"


@pytest.fixture(scope="module")
def url(web_server):
    return web_server.url


@pytest.fixture(scope="module")
def openai_client(url):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed", max_retries=0,
                         timeout=120)


def test_openai_client_gets_a_cited_answer(openai_client):
    r = openai_client.chat.completions.create(
        model="assistant", messages=[{"role": "user", "content": QUESTION_ZH}]
    )
    assert r.object == "chat.completion"
    text = r.choices[0].message.content
    assert "UC Berkeley" in text
    assert "[1]" in text
    citations = r.model_extra["citations"]
    assert citations, "the response carries its citations"
    first = citations[0]
    assert set(first) >= {"n", "doc", "title", "heading", "lines", "text"}
    assert first["doc"] == "inference.md"
    assert first["heading"].endswith("vLLM")
    assert "UC Berkeley" in first["text"]
    assert first["lines"][0] <= first["lines"][1]
    assert first["url"].startswith("/source/inference.md")


def test_openai_client_streams_a_cited_answer(openai_client):
    stream = openai_client.chat.completions.create(
        model="assistant", stream=True,
        messages=[{"role": "user", "content": QUESTION_EN}],
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "pretrained weights" in text
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    citations = final.model_extra["citations"]
    assert citations and citations[0]["doc"] == "finetuning.md"
    assert f"[{citations[0]['n']}]" in text


def test_stream_ends_with_done(url):
    body = {"model": "assistant", "stream": True,
            "messages": [{"role": "user", "content": QUESTION_ZH}]}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert '"citations"' in events[-2]


def test_history_and_content_parts(url):
    body = {
        "model": "gpt-4o",  # any name: the server answers with its own backend
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "What is QLoRA?"},
            {"role": "assistant", "content": "QLoRA fine-tunes a 4-bit model [1]."},
            {"role": "user", "content": [{"type": "text", "text": QUESTION_EN}]},
        ],
    }
    r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["citations"]
    timings = r.json()["timings"]  # the same figures as `assistant ask --json`
    assert {"retrieve_ms", "prompt_tokens", "first_token_ms", "total_ms",
            "tokens_per_s"} == timings.keys() and timings["total_ms"] > 0


def test_models(openai_client):
    models = openai_client.models.list()
    assert [m.id for m in models.data] == ["assistant"]


def test_health(url):
    h = httpx.get(f"{url}/health").json()
    assert h["status"] == "ok"
    assert h["documents"] >= 4
    assert h["chunks"] >= 4
    assert h["generation"] >= 1
    assert h["embedder"].startswith("sentence-transformers/all-MiniLM-L6-v2")
    assert "extractive" in h["backend"]


def test_a_requests_seed_reaches_the_answer(web_service):
    from assistant.app.api import ChatRequest, _request_overrides

    ask = [{"role": "user", "content": QUESTION_ZH}]
    assert _request_overrides(web_service, ChatRequest(messages=ask, seed=3)) == {"seed": 3}
    assert "seed" not in _request_overrides(web_service, ChatRequest(messages=ask))
    _, kw = web_service.models.assistant_for({"seed": 3})
    assert kw == {"seed": 3}  # per call: the same assistant, no second model loaded


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"messages": []}, 400),
        ({"model": "assistant"}, 400),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, 400),
        ({"messages": [{"role": "user", "content": "   "}]}, 400),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 9}, 400),
        ({"messages": [{"role": "user", "content": "x"}], "seed": -1}, 400),
    ],
)
def test_bad_requests_get_openai_shaped_errors(url, body, status):
    r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["message"] and err["type"] == "invalid_request_error"


def test_openai_client_raises_on_bad_request(openai_client):
    import openai

    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(
            model="assistant", messages=[{"role": "assistant", "content": "no question"}]
        )


def test_not_json_is_refused(url):
    r = httpx.post(f"{url}/v1/chat/completions", content=b"{not json",
                   headers={"content-type": "application/json"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    assert "not valid JSON" in err["message"] and "character 1" in err["message"]
    assert err["param"] is None  # a character position is no parameter


@pytest.mark.parametrize(
    ("content", "headers", "says"),
    [
        (b'{"messages": [{"role": "user", "content": "hi"}]}', {}, "no Content-Type"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', {"content-type": "text/plain"},
         "no Content-Type"),
        (b"[1, 2]", {"content-type": "application/json"}, "not an array"),
        (b"", {"content-type": "application/json"}, "no body"),
    ],
)
def test_body_that_is_not_a_json_object_says_what_to_send(url, content, headers, says):
    r = httpx.post(f"{url}/v1/chat/completions", content=content, headers=headers)
    assert r.status_code == 400
    err = r.json()["error"]
    assert says in err["message"] and "Content-Type: application/json" in err["message"]
    assert "valid dictionary" not in err["message"] and err["param"] is None


@pytest.mark.parametrize("question", ["\x00\x01\x1b", "?!"])
def test_refused_question_hint_is_for_http_clients(url, question):
    r = httpx.post(f"{url}/v1/chat/completions",
                   json={"messages": [{"role": "user", "content": question}]}, timeout=30)
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert message.startswith("Ask a question") and "last message" in message
    assert "assistant ask" not in message  # a command line means nothing to an HTTP client


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/chat/completions", 405),
        ("DELETE", "/api/reindex", 405),
        ("GET", "/v1/nope", 404),
        ("POST", "/v1/chat/completion", 404),
        ("GET", "/api/nope", 404),
        ("GET", "/v1", 404),
    ],
)
def test_wrong_api_route_gets_openai_shaped_error(url, method, path, status):
    r = httpx.request(method, url + path)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["type"] == ("not_found_error" if status == 404 else "invalid_request_error")
    if status == 405:
        allowed = {"/v1/chat/completions": "POST", "/api/reindex": "GET, POST"}[path]
        assert r.headers["allow"] == allowed
        assert method in err["message"] and allowed.replace(", ", " or ") in err["message"]
    else:
        assert "POST /v1/chat/completions" in err["message"]  # the routes there are


def test_chat_page_routes_are_left_to_gradio(url, web_service):
    assert httpx.get(url + "/").status_code == 200
    assert httpx.get(url + "/config").status_code == 200
    assert httpx.get(url + "/gradio_api/info").status_code == 200  # Gradio's own API
    # The catch-alls for wrong API paths come after every real route: one added after
    # them would never be reached.
    from fastapi.routing import APIRoute

    from assistant.app.http import create_app

    app = create_app(web_service.settings, service=web_service, warm=False)
    routes = [r for r in app.router.routes if isinstance(r, APIRoute)]
    first_catch_all = next(i for i, r in enumerate(routes) if "{rest:path}" in r.path)
    assert all(r.endpoint is routes[first_catch_all].endpoint
               for r in routes[first_catch_all:] if r.path.startswith(("/v1", "/api")))
    r = httpx.get(url + "/no-such-page")
    assert r.status_code == 404 and "error" not in r.json()  # Gradio's own answer


def test_odd_questions_never_crash(url):
    for q in ["?", "的", "<script>alert(1)</script>", "a" * 5000, "\x00\x01", "😀" * 50,
              "SELECT * FROM chunks; --", '" OR "1"="1', "NEAR(a b)", "*"]:
        r = httpx.post(f"{url}/v1/chat/completions",
                       json={"messages": [{"role": "user", "content": q}]}, timeout=120)
        # An answer, or a refusal saying why: never a server error.
        assert r.status_code in (200, 400), (q, r.text)
        if r.status_code == 400:
            assert r.json()["error"]["message"]
        else:
            assert r.json()["choices"][0]["message"]["content"]
    assert httpx.get(f"{url}/health").status_code == 200


def test_gradio_client_gets_a_cited_answer(url):
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(url + "/", verbose=False)
    result = client.predict(QUESTION_ZH, api_name="/ask")
    assert "UC Berkeley" in result["answer"]
    assert "[1]" in result["answer"]
    assert result["citations"][0]["doc"] == "inference.md"
    assert "UC Berkeley" in result["citations"][0]["text"]


# ---------------------------------------------------------------------------- source files


def test_source_page_shows_lines(url):
    r = httpx.get(f"{url}/source/inference.md", params={"from": 5, "to": 6})
    assert r.status_code == 200
    assert 'id="L5" class="hl"' in r.text
    assert "UC Berkeley" in r.text
    assert "script-src" not in r.headers["content-security-policy"]  # i.e. none allowed
    r = httpx.get(f"{url}/source/notes/moe.txt")
    assert r.status_code == 200 and "MoE" in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/source/../pyproject.toml",
        "/source/%2e%2e/%2e%2e/etc/passwd",
        "/source/..%2f..%2fetc%2fpasswd",
        "/source//etc/passwd",
        "/source/%2Fetc%2Fpasswd",
        "/source/notes/../../index/store.sqlite3",
        "/source/missing.md",
        "/source/",
    ],
)
def test_source_outside_the_corpus_is_404(url, path):
    r = httpx.get(url + path)
    assert r.status_code == 404
    assert "root:" not in r.text


def test_source_symlink_out_of_the_corpus_is_404(url, web_index, tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_text("top secret", encoding="utf-8")
    link = Path(web_index.corpus) / "link.md"
    link.symlink_to(secret)
    try:
        r = httpx.get(f"{url}/source/link.md")
        assert r.status_code == 404
        assert "top secret" not in r.text
    finally:
        link.unlink()


def test_source_page_escapes_markup(url):
    r = httpx.get(f"{url}/source/evil.md")
    assert r.status_code == 200
    assert "<script>window" not in r.text
    assert "<img src=x" not in r.text
    assert "&lt;script&gt;window.__pwned = 3" in r.text
    assert "&amp;lt;script&amp;gt;window.__pwned = 1" in r.text  # shown as written


# --------------------------------------------------------------------------------- XSS


def test_source_cards_escape_document_markup(web_service):
    from webfixtures import XSS_IMG, XSS_SCRIPT

    from assistant.app.web import render

    answer = web_service.ask("zyzzyva password")
    assert any(s.doc == "evil.md" for s in answer.sources)
    turns = [{"id": 1, "q": "zyzzyva password", "answer": answer.answer,
              "sources": [s.to_json() for s in answer.sources],
              "cited": [s.n for s in answer.citations], "state": "done"}]
    cards = render.render_sources(turns)
    evil = next(s for s in answer.sources if s.doc == "evil.md")
    assert XSS_SCRIPT in evil.text and XSS_IMG in evil.text  # real markup in the passage
    assert "<script" not in cards
    assert "<img" not in cards
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in cards
    assert "&lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt;" in cards
    assert "<mark>zyzzyva</mark>" in cards
    chat = render.render_answer(turns[0])
    assert "<script" not in chat and "<img" not in chat


# ------------------------------------------------------------------------------- uploads


def _upload(url, name, data, **kw):
    return httpx.post(f"{url}/api/documents", files={"files": (name, data)}, timeout=30, **kw)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("evil.exe", 415),
        ("notes.md.sh", 415),
        ("noext", 415),
        (".hidden.md", 400),
        ("..", 400),
        ("../../escape.md", 400),
        ("sub/dir.md", 400),
        ("back\\slash.md", 400),
    ],
)
def test_bad_uploads_are_refused(url, web_index, name, status):
    before = sorted(p.name for p in Path(web_index.corpus).rglob("*"))
    r = _upload(url, name, b"# hello\n\nsome text\n")
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]
    assert sorted(p.name for p in Path(web_index.corpus).rglob("*")) == before
    assert not (Path(web_index.corpus).parent / "escape.md").exists()


def test_too_big_upload_is_refused(url, web_index):
    from assistant.ingest.indexer import max_file_bytes

    # Refused at the door: the indexer would skip it as too large anyway.
    r = _upload(url, "big.md", b"a" * (max_file_bytes() + 1))
    assert r.status_code == 413
    assert "ASSISTANT_MAX_FILE_MB" in r.json()["error"]["message"]
    assert not (Path(web_index.corpus) / "big.md").exists()


def test_upload_is_indexed_and_never_overwrites(url, web_service):
    corpus = Path(web_service.corpus)
    first = "# 术语表\n\n## Quokka\n\n短尾矮袋鼠（quokka）是一种小型袋鼠。\n".encode()
    r = _upload(url, "术语表.md", first)
    assert r.status_code == 200, r.text
    assert r.json()["saved"] == ["术语表.md"]
    # An index run was started or queued; "reindex" is the job's state, as elsewhere.
    assert r.json()["started"] or r.json()["queued"]
    assert "running" in r.json()["reindex"]
    second = "# 术语表\n\n## Numbat\n\nThe numbat eats termites.\n".encode()
    r = _upload(url, "术语表.md", second)
    assert r.json()["saved"] == ["术语表 (2).md"]
    assert (corpus / "术语表.md").read_bytes() == first
    assert (corpus / "术语表 (2).md").read_bytes() == second
    r = _upload(url, "术语表.md", first)  # the same file again: nothing new
    assert r.json()["saved"] == ["术语表.md"]
    assert web_service.reindex.wait(120)
    answer = web_service.ask("numbat termites")
    assert answer.citations and answer.citations[0].doc == "术语表 (2).md"


def test_reindex_endpoint(url, web_service):
    r = httpx.post(f"{url}/api/reindex")
    assert r.status_code == 202
    body = r.json()
    # this request started a run (none was going), beside the job's own state
    assert body["started"] is True and body["queued"] is False
    assert isinstance(body["reindex"]["started"], float) and "running" in body["reindex"]
    assert web_service.reindex.wait(120)
    state = httpx.get(f"{url}/api/reindex").json()
    assert not state["running"] and state["error"] is None
    assert httpx.get(f"{url}/health").json()["index_current"] is True


# --------------------------------------------------------------------------------- auth


def test_auth_guards_every_route(web_service):
    from webfixtures import RunningServer

    from assistant.app.http import create_app
    from assistant.app.server import Service

    guarded = Service(web_service.settings, lambda _: web_service.assistant,
                      auth=("ann", "s3cret"))
    app = create_app(web_service.settings, service=guarded)
    with RunningServer(app) as server:
        for path in ("/health", "/v1/models", "/", "/source/inference.md", "/config"):
            r = httpx.get(server.url + path)
            assert r.status_code == 401, path
        basic = "Basic " + base64.b64encode(b"ann:s3cret").decode()
        assert httpx.get(server.url + "/health",
                         headers={"Authorization": basic}).status_code == 200
        assert httpx.get(server.url + "/v1/models",
                         headers={"Authorization": "Bearer ann:s3cret"}).status_code == 200
        assert httpx.get(server.url + "/health",
                         headers={"Authorization": "Bearer ann:wrong"}).status_code == 401
        assert httpx.get(server.url + "/", headers={"Authorization": basic}).status_code == 200
