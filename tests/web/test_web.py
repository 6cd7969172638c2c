"""The web layer's parts on plain data: escaping and marking, citation links, the
sources panel, uploads, the corpus guard, index status, the re-index job, ``serve``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "web"))
pytest_plugins = ["webfixtures"]

from assistant.app.cli.common import NOTICES_FILE  # noqa: E402
from assistant.app.server import ReindexJob, Service  # noqa: E402
from assistant.app.uploads import corpus_file, safe_upload_name, save_upload  # noqa: E402
from assistant.app.web import controls, examples, render  # noqa: E402
from assistant.app.web.status_line import render_status  # noqa: E402
from assistant.errors import AssistantError  # noqa: E402

EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def source(n=1, **kw):
    base = {"n": n, "doc": "notes.md", "title": "Notes", "heading": "推理 > vLLM",
            "lines": [3, 5], "text": "vLLM 是 UC Berkeley 开发的。", "score": 1.5}
    return {**base, **kw}


def turn(tid=1, **kw):
    base = {"id": tid, "q": "vLLM 是谁开发的？", "answer": "UC Berkeley 开发的 [1]。",
            "sources": [source()], "cited": [1], "state": "done"}
    return {**base, **kw}


# ------------------------------------------------------------------------------- marking


def test_highlight_escapes_before_marking():
    out = render.highlight(EVIL + " vLLM", ["vllm", "script"])
    assert "<script" not in out and "<img" not in out
    assert out.startswith("&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt;")
    assert "&quot;alert(2)&quot;" in out
    assert out.endswith("<mark>vLLM</mark>")


def test_highlight_never_splits_a_character_reference():
    out = render.highlight("a < b & c > d", ["lt", "amp", "gt", "quot"])
    assert out == "a &lt; b &amp; c &gt; d"


def test_highlight_words_and_chinese():
    assert render.highlight("said AI aid", ["ai"]) == "said <mark>AI</mark> aid"
    assert render.highlight("it freezes", ["freeze"]) == "it <mark>freezes</mark>"
    marked = render.highlight("推理框架很快", ["推理", "框架"])
    assert marked == "<mark>推理框架</mark>很快"


def test_question_terms_drop_question_words():
    terms = render.terms("vLLM 是哪个机构开发的？")
    assert "vllm" in terms and "机构" in terms
    assert "哪个" not in terms and "的" not in terms


# ------------------------------------------------------------------------------- answers


def test_escape_prose_links_valid_markers_outside_code():
    def link(n):
        return f"<L{n}>" if n <= 2 else None

    out = render.escape_prose("a<b [1] [7] `x[2]<y` [2]\n```\n<p>[1]\n```\n", link)
    assert out.startswith("a&lt;b <L1> [7] `x[2]<y` <L2>")
    assert "```\n<p>[1]\n```" in out


def test_a_quoted_line_stays_a_block_quote_and_nothing_else_is_unescaped():
    out = render.escape_prose("秋晴[1]\n\n> 日野秋晴 <b>x</b> a > b[1]\n>x", lambda n: f"<L{n}>")
    assert out == "秋晴<L1>\n\n> 日野秋晴 &lt;b&gt;x&lt;/b&gt; a &gt; b<L1>\n&gt;x"


def test_render_answer_links_and_lists_citations():
    out = render.render_answer(turn(), "en")
    assert '<a class="cite" href="#src-1-1" title="notes.md · 推理 &gt; vLLM">[1]</a>' in out
    assert 'class="cited"' in out and "notes.md:3–5" in out


def test_render_answer_escapes_everything_from_documents():
    t = turn(answer=f"{EVIL} [1]", sources=[source(doc='a"><script>.md', heading=EVIL)])
    out = render.render_answer(t)
    assert "<script" not in out and "<img" not in out
    assert 'title="a&quot;&gt;&lt;script&gt;.md · ' in out


def test_render_answer_states():
    assert "searching" in render.render_answer(turn(answer="", state="pending",
                                                    status="searching"), "en")
    assert "正在检索资料" in render.render_answer(turn(answer="", state="pending",
                                                       status="searching"), "zh")
    assert "(stopped)" in render.render_answer(turn(state="stopped"), "en")
    assert "（已停止）" in render.render_answer(turn(state="stopped"), "zh")
    err = render.render_answer(turn(state="error", error="<b>No index</b>"))
    assert "&lt;b&gt;No index" in err


def test_chat_messages_escape_the_question():
    msgs = render.chat_messages([turn(q=EVIL)])
    assert msgs[0]["role"] == "user" and "<script" not in msgs[0]["content"]


def test_copy_text_is_plain():
    text = render.copy_text([turn()], "en")
    assert text == "UC Berkeley 开发的 [1]。\n\n[1] notes.md, 推理 > vLLM, lines 3–5"
    zh = render.copy_text([turn()], "zh")
    assert zh == "UC Berkeley 开发的 [1]。\n\n[1] notes.md, 推理 > vLLM, 第 3–5 行"
    assert render.copy_text([]) == ""


def test_history_keeps_finished_turns_only():
    hist = render.history_of([turn(1), turn(2, state="error", error="x"), turn(3, state="stopped")])
    assert hist == [{"role": "user", "content": "vLLM 是谁开发的？"},
                    {"role": "assistant", "content": "UC Berkeley 开发的 [1]。"}]


# ------------------------------------------------------------------------------- sources


def test_sources_panel_cards():
    html = render.render_sources([turn(1), turn(2, q="What is LoRA?", sources=[
        source(1, doc="lora.md", text="LoRA freezes weights."),
        source(2, doc="qlora.md", lines=[7, 7], page=3)], cited=[2])], "en")
    assert html.count('class="turn shown"') == 1
    assert 'id="turn-2"' in html and 'id="src-2-1"' in html and 'id="src-1-1"' in html
    newest = html[html.index('id="turn-2"'):]
    assert "2 passages for <b>What is LoRA?</b>" in newest
    assert "<mark>LoRA</mark> freezes" in newest
    assert "page 3 · line 7" in newest
    assert newest.count('<span class="badge">cited</span>') == 1
    assert 'href="/source/lora.md?from=3&amp;to=5#L3"' in newest
    assert 'href="/source/qlora.md?from=7&amp;to=7#L7"' in newest
    from assistant.app.api import source_url

    pdf = source_url("a b/报告.pdf", [4, 9], page=3)
    assert pdf == "/source/a%20b/%E6%8A%A5%E5%91%8A.pdf#page=3"
    assert source_url("x.docx", [2, 5]) == "/source/x.docx"
    assert render.render_sources([]) == render.empty_sources("zh")


def test_sources_panel_escapes_every_field():
    evil = source(doc=EVIL, title=EVIL, heading=EVIL, text=EVIL)
    html = render.render_sources([turn(q=EVIL, sources=[evil])])
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


# -------------------------------------------------------------------------------- examples


def test_example_questions_from_headings(web_index):
    qs = examples.example_questions(web_index.index, limit=4)
    assert len(qs) == 4
    assert all(q.endswith("?") for q in qs)  # the test corpus's headings are English words
    assert "What is vLLM?" in qs or "What is LoRA?" in qs


def test_example_question_wording():
    assert examples._question("MoE", chinese=True) == "什么是 MoE？"
    assert examples._question("推理框架汇总", chinese=True) == "有哪些推理框架？"
    assert examples._question("模型压缩和量化", chinese=True) == "什么是模型压缩和量化？"
    assert examples._question("LoRA", chinese=False) == "What is LoRA?"
    assert examples._NUMBERING.sub("", "2.1.1 大模型汇总") == "大模型汇总"
    assert examples.example_questions(Path("/nonexistent")) == []


# ---------------------------------------------------------------------------------- uploads


@pytest.mark.parametrize("name", ["笔记.md", "Report 2024.pdf", "a.b.TXT", "页面.html"])
def test_safe_names(name):
    assert safe_upload_name(name) == name


@pytest.mark.parametrize(
    ("name", "status"),
    [("", 400), ("  ", 400), (".", 400), ("..", 400), ("../x.md", 400), ("a/b.md", 400),
     ("a\\b.md", 400), (".env.md", 400), ("x\x00.md", 400), ("x\n.md", 400),
     ("\u202ecod.md", 400), ("a" * 200 + ".md", 400), ("run.sh", 415), ("x.md.exe", 415),
     ("README", 415)],
)
def test_unsafe_names(name, status):
    with pytest.raises(AssistantError) as e:
        safe_upload_name(name)
    assert e.value.status == status


def test_save_upload_never_overwrites(tmp_path):
    a = save_upload(tmp_path, "notes.md", b"one")
    b = save_upload(tmp_path, "notes.md", b"two")
    c = save_upload(tmp_path, "notes.md", b"three")
    assert [p.name for p in (a, b, c)] == ["notes.md", "notes (2).md", "notes (3).md"]
    assert save_upload(tmp_path, "notes.md", b"two") == b  # same content: kept once
    assert a.read_bytes() == b"one"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes (2).md", "notes (3).md", "notes.md"]  # no temporary file left behind


def test_save_upload_limits(tmp_path):
    with pytest.raises(AssistantError) as e:
        save_upload(tmp_path, "big.md", b"x" * 11, max_bytes=10)
    assert e.value.status == 413
    with pytest.raises(AssistantError):
        save_upload(tmp_path, "empty.md", b"")
    assert not list(tmp_path.iterdir())


def test_concurrent_uploads_of_one_name_keep_every_file(tmp_path):
    results = []

    def put(i):
        results.append(save_upload(tmp_path, "same.md", f"content {i}".encode()))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in results}) == 8
    assert sorted(p.read_text() for p in results) == [f"content {i}" for i in range(8)]


# ----------------------------------------------------------------------------- corpus guard


def test_corpus_file_stays_inside(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "a.md").write_text("a")
    (corpus / ".hidden").mkdir()
    (corpus / ".hidden" / "h.md").write_text("h")
    (corpus / "run.sh").write_text("x")
    (tmp_path / "outside.md").write_text("secret")
    (corpus / "link.md").symlink_to(tmp_path / "outside.md")
    (corpus / "dirlink").symlink_to(tmp_path)
    assert corpus_file(corpus, "sub/a.md") == (corpus / "sub" / "a.md").resolve()
    assert corpus_file(corpus, "sub/../sub/a.md") is not None
    for rel in ("../outside.md", "sub/../../outside.md", "/etc/passwd",
                str(tmp_path / "outside.md"), "link.md", "dirlink/outside.md", ".hidden/h.md",
                "run.sh", "sub", "", "missing.md", "a\x00.md"):
        assert corpus_file(corpus, rel) is None, rel


# ------------------------------------------------------------------------------ index status


@pytest.fixture
def small_index(tmp_path):
    from webfixtures import web_settings

    from assistant.ingest.indexer import run_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nApples are red.\n", encoding="utf-8")
    (corpus / "b.md").write_text("# B\n\nBananas are yellow.\n", encoding="utf-8")
    settings = web_settings(corpus, tmp_path / "index")
    run_index(settings)
    return settings


def test_status_counts_changed_files(small_index):
    from webfixtures import FakeAssistant

    service = Service(small_index, FakeAssistant)
    st = service.index_status(fresh=True)
    assert (st.documents, st.current, st.summary()) == (2, True, "index current")
    corpus = Path(small_index.corpus)
    os.utime(corpus / "a.md", (time.time() + 5, time.time() + 5))  # touched, same content
    assert service.index_status(fresh=True).current
    (corpus / "a.md").write_text("# A\n\nApples are green.\n", encoding="utf-8")
    (corpus / "c.txt").write_text("Cherries.\n", encoding="utf-8")
    (corpus / ".draft.md").write_text("hidden\n", encoding="utf-8")
    (corpus / "image.png").write_bytes(b"\x89PNG")
    st = service.index_status(fresh=True)
    assert (st.changed, st.added, st.removed) == (["a.md"], ["c.txt"], [])
    assert st.summary() == "2 files changed since the last index"
    (corpus / "b.md").unlink()
    st = service.index_status(fresh=True)
    assert st.removed == ["b.md"] and st.pending == 3
    assert "3 files changed since the last index" in render_status(service, "en", fresh=True)

    service.start_reindex()
    assert service.reindex.wait(60)
    assert service.reindex.state.error is None
    st = service.index_status()
    assert st.current and st.documents == 2
    assert "re-indexed: 1 added, 1 changed, 1 removed" in render_status(service, "en")


def test_an_index_kept_inside_the_corpus_is_not_a_change(tmp_path):
    """The status line, the indexer and doctor walk the corpus alike: an index folder
    inside the corpus (with its README.md) is neither indexed nor "changed"."""
    from webfixtures import FakeAssistant, web_settings

    from assistant.app.doctor import check_index
    from assistant.ingest.indexer import run_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nApples are red.\n", encoding="utf-8")
    settings = web_settings(corpus, corpus / "index")
    run_index(settings)
    (corpus / "index" / "README.md").write_text("# The index\n", encoding="utf-8")
    assert run_index(settings).summary()["added"] == 0
    st = Service(settings, FakeAssistant).index_status(fresh=True)
    assert (st.documents, st.added, st.current) == (1, [], True)
    corpus_check = [c for c in check_index(settings) if c.name == "corpus"]
    assert corpus_check and corpus_check[0].status == "ok", corpus_check


def test_unreadable_file_is_not_pending_forever(small_index):
    from webfixtures import FakeAssistant

    from assistant.ingest.indexer import run_index

    service = Service(small_index, FakeAssistant)
    (Path(small_index.corpus) / "broken.pdf").write_bytes(b"not a pdf")
    assert service.index_status(fresh=True).added == ["broken.pdf"]
    service.start_reindex()
    assert service.reindex.wait(60)
    assert service.reindex.state.summary["skipped"]
    assert service.index_status().current
    # ... nor after a restart: the index remembers what it could not load.
    assert Service(small_index, FakeAssistant).index_status(fresh=True).current
    # ... nor when `assistant index` in another process skipped it.
    (Path(small_index.corpus) / "broken2.docx").write_bytes(b"PK not a docx")
    assert service.index_status(fresh=True).added == ["broken2.docx"]
    run_index(small_index)
    assert service.index_status(fresh=True).current


def test_reindex_job_queues_one_more_run(monkeypatch, tmp_path):
    import assistant.ingest.jobs

    calls, gate = [], threading.Event()

    class Report:
        def summary(self):
            return {"added": 0, "changed": 0, "removed": 0, "skipped": [],
                    "chunks_embedded": 0, "seconds": 0.0}

    def fake_run(settings, progress=None, embedder=None):
        calls.append(time.time())
        progress("embedding", 1, 2)
        gate.wait(5)
        return Report()

    monkeypatch.setattr(assistant.ingest.jobs, "run_index", fake_run)
    job = ReindexJob(settings=None)
    assert job.start() is True
    assert job.start() is False and job.start() is False  # coalesced into one more run
    deadline = time.monotonic() + 10
    while job.state.stage != "embedding" and time.monotonic() < deadline:
        time.sleep(0.01)  # the run's thread reports its first progress
    assert job.state.running and job.state.describe() == "re-indexing: embedding 1/2"
    gate.set()
    assert job.wait(10)
    assert len(calls) == 2 and job.state.runs == 2 and not job.state.running


def test_reindex_job_survives_a_failure(monkeypatch):
    import assistant.ingest.jobs

    def boom(settings, progress=None, embedder=None):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(assistant.ingest.jobs, "run_index", boom)
    job = ReindexJob(settings=None)
    job.start()
    assert job.wait(10)
    assert "disk on fire" in job.state.error
    assert "failed" in job.state.describe()


# ------------------------------------------------------------------------------- the service


def fake_assistant(replies=(), seen=None):
    """A factory of real Assistants whose model is the shared fake (tests/fakes.py)."""
    from fakes import FakeGenerator

    from assistant.answer.pipeline import Assistant

    def factory(settings, **shared):
        made = Assistant(settings, generator=FakeGenerator(*replies), **shared)
        if seen is not None:
            seen.append(made)
        return made

    return factory


def test_overrides_and_variants(web_index):
    made = []
    service = Service(web_index, fake_assistant(["UC Berkeley [1]"] * 3, made))
    assert service.overrides(model="extractive", llm_url="  ", context_tokens=500,
                             temperature=0.2) == {}
    over = service.overrides(temperature=0.7, context_tokens=1200)
    assert over == {"temperature": 0.7, "context_tokens": 1200}
    assistant, kw = service.models.assistant_for(over)
    assert assistant is service.assistant and kw == over  # stream takes them per call
    service.ask("vLLM 是哪个机构开发的？", [], over)
    assert service.assistant.generator.calls  # the shared assistant answered
    assistant, kw = service.models.assistant_for({"model": "phi-2", "temperature": 0.7})
    assert assistant is not service.assistant and kw == {"temperature": 0.7}
    assert made[-1].settings.model == "phi-2" and made[-1].settings.corpus == web_index.corpus
    assert service.models.assistant_for({"model": "phi-2"})[0] is assistant  # kept
    # The variant reuses the loaded searcher: one index in memory, whatever the model.
    assert assistant.searcher is service.assistant.searcher
    with pytest.raises(AssistantError):
        service.models.assistant_for({"model": "x", "context_tokens": 10})  # below its bound


def test_watch_flag_reindexes_on_changes(small_index):
    from webfixtures import FakeAssistant

    from assistant.app.cli.serve import watch_corpus

    service = Service(small_index, FakeAssistant)
    watcher = watch_corpus(service)
    try:
        (Path(small_index.corpus) / "c.md").write_text("# C\n\nCherries.\n", "utf-8")
        deadline = time.time() + 30
        while time.time() < deadline:
            st = service.index_status(fresh=True)
            if st.documents == 3 and st.current:
                break
            time.sleep(0.2)
        assert (st.documents, st.current) == (3, True)
    finally:
        watcher.stop(10)


def test_authorization_header():
    import base64

    service = Service.__new__(Service)
    service.auth = ("ann", "pa:ss")
    basic = "Basic " + base64.b64encode(b"ann:pa:ss").decode()
    assert service.authorized(basic)
    assert service.authorized("Bearer ann:pa:ss")
    for bad in (None, "", "Basic !!!", "Bearer ann:pass", "Token ann:pa:ss",
                "Basic " + base64.b64encode(b"ann:nope").decode()):
        assert not service.authorized(bad), bad
    service.auth = None
    assert service.authorized(None)


def test_start_embeds_nothing(web_index, monkeypatch):
    """Serving over a current index loads the models but embeds no text."""
    from webfixtures import make_assistant

    from assistant import store
    from assistant.app.http import create_app
    from assistant.embed.onnx_int8 import OnnxEmbedder
    from assistant.embed.torch_st import TorchEmbedder

    embedded = []
    # Both backends: the web settings run the int8 ONNX one, a separate class.
    for cls in (TorchEmbedder, OnnxEmbedder):
        monkeypatch.setattr(cls, "embed_passages",
                            lambda self, texts, **kw: embedded.append(texts))
        monkeypatch.setattr(cls, "embed_query", lambda self, text: embedded.append(text))
    gen = store.generation(store.connect(web_index.index))
    create_app(web_index, assistant_factory=make_assistant)
    assert embedded == []
    assert store.generation(store.connect(web_index.index)) == gen


# ------------------------------------------------------------------------------------ serve


def test_auth_and_host_parsing():
    from assistant.app.cli.serve import is_loopback, parse_auth

    assert parse_auth("ann:pa:ss") == ("ann", "pa:ss")
    assert parse_auth(None) is None
    for bad in ("ann", ":x", "ann:"):
        with pytest.raises(AssistantError):
            parse_auth(bad)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_serve_warns_when_exposed_without_auth(monkeypatch, capsys, tmp_path):
    from assistant.app.cli import main, serve

    class Stop(Exception):
        pass

    def stop(settings):
        raise Stop

    monkeypatch.setattr(serve, "ensure_index", stop)
    with pytest.raises(Stop):
        main(["serve", "--host", "0.0.0.0", "--port", "0", "--index", str(tmp_path)])
    assert "without --auth" in capsys.readouterr().err
    with pytest.raises(Stop):
        main(["serve", "--host", "0.0.0.0", "--port", "0", "--auth", "a:b",
              "--index", str(tmp_path)])
    with pytest.raises(Stop):
        main(["serve", "--port", "0", "--index", str(tmp_path)])
    assert "without --auth" not in capsys.readouterr().err


def test_serve_stops_on_a_broken_model_file_before_listening(capsys, small_index, tmp_path,
                                                              monkeypatch):
    import uvicorn

    from assistant.app.cli import main

    def listen(self):
        raise AssertionError("serve listened with a broken model file")

    monkeypatch.setattr(uvicorn.Server, "run", listen)

    broken = tmp_path / "cut-short.gguf"
    broken.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 64)  # a header, no data
    args = ["serve", "--port", "0", "--corpus", str(small_index.corpus),
            "--index", str(small_index.index), "--embedder", small_index.embedder]
    assert main([*args, "--model", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "incomplete or damaged" in err and "Traceback" not in err
    (tmp_path / "not-a-model.gguf").write_text("hello", encoding="utf-8")
    assert main([*args, "--model", str(tmp_path / "not-a-model.gguf")]) == 1
    assert "not a GGUF file" in capsys.readouterr().err


def test_a_model_that_fails_to_load_in_the_background_is_reported(small_index):
    from assistant.errors import AssistantError

    class Unloadable:
        loaded = False

        def __init__(self, settings):
            self.settings = settings

        @property
        def searcher(self):
            raise AssistantError("could not load the model file x.gguf: it is damaged")

    service = Service(small_index, Unloadable, warm=False)
    assert service.loading and service.backend.endswith("(loading)")
    service.warm_in_background().join(10)
    health = service.health()
    assert health["loading"] is False and "damaged" in health["load_error"]
    assert health["backend"].endswith("(failed to load)")


def test_a_load_that_fails_then_succeeds_is_not_reported_failed(small_index):
    from assistant.errors import AssistantError

    class Flaky:
        def __init__(self, settings):
            self.settings, self.tries, self.loaded = settings, 0, False

        @property
        def searcher(self):
            self.tries += 1
            if self.tries == 1:
                raise AssistantError("could not load: out of memory")
            self.loaded = True
            return None

    service = Service(small_index, Flaky, warm=False)
    service.warm_in_background().join(10)
    assert "out of memory" in service.health()["load_error"]
    assert service.assistant.searcher is None  # a question retries the load: it works now
    health = service.health()
    assert health["load_error"] is None and health["loading"] is False
    assert not health["backend"].endswith(")")


def test_the_embedder_is_not_loaded_by_asking_for_it_while_models_load(small_index):
    """`serve --watch` asks for the embedder before listening: that must not load it."""
    from assistant.answer.pipeline import Assistant

    service = Service(small_index, warm=False)
    assert isinstance(service.assistant, Assistant)
    assert service.embedder() is None and service.assistant.built_searcher is None
    service.warm_in_background().join(60)
    assert service.embedder() is not None


def test_serve_refuses_a_busy_port(capsys, tmp_path):
    from assistant.app.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "--port", str(port), "--index", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"Cannot listen on 127.0.0.1:{port}" in err and "--port" in err


@pytest.mark.slow
def test_serve_over_a_current_index_embeds_nothing_and_answers(web_index):
    """The real command: "Ready" is printed once it listens, /health answers at once, the
    models load in the background, a question gets a cited answer, and the index files are
    left untouched. (How fast it is ready is measured in bench/serve_ready.py.)"""
    import httpx
    from webfixtures import free_port

    index = Path(web_index.index)
    before = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in index.iterdir()
              if p.is_file() and not p.name.endswith(("-wal", "-shm"))}
    port = free_port()
    cmd = [sys.executable, "-m", "assistant", "serve", "--port", str(port),
           "--corpus", str(web_index.corpus), "--index", str(web_index.index),
           "--embedder", web_index.embedder, "--model", "extractive"]
    import queue

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    output = []
    try:
        while not output or "Ready" not in output[-1]:
            try:
                output.append(lines.get(timeout=120))
            except queue.Empty:
                raise AssertionError(f"serve printed no 'Ready': {''.join(output)}") from None
        url = f"http://127.0.0.1:{port}"
        assert url in output[-1]
        health = httpx.get(f"{url}/health", timeout=30).json()
        assert health["status"] == "ok" and health["index_current"] is True
        r = httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
            "messages": [{"role": "user", "content": "What is PagedAttention?"}]})
        assert r.status_code == 200 and r.json()["citations"], r.text
        assert httpx.get(f"{url}/health", timeout=30).json()["loading"] is False
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
    # The CLI's record of the notices it printed (one per index and model state, e.g. the
    # missing tiktoken file on a clone with no ../shared) is no part of the index.
    after = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in index.iterdir()
             if p.is_file() and not p.name.endswith(("-wal", "-shm"))
             and p.name != NOTICES_FILE}
    before.pop(NOTICES_FILE, None)
    assert after == before, "serving a current index changed its files"
    assert "embedding" not in "".join(output)


def test_the_model_list_says_which_presets_are_not_downloaded(tmp_path, monkeypatch):
    import assistant.hub.files
    from assistant.hub.presets import PRESETS

    monkeypatch.setattr(assistant.hub.files, "_from_hf_cache", lambda preset: None)
    default = PRESETS["qwen2.5-1.5b-instruct"]
    (tmp_path / default.filename).write_bytes(b"GGUF")  # "on disk" is all that is asked
    labels = dict((v, k) for k, v in controls.model_choices("qwen2.5-1.5b-instruct", tmp_path,
                                                               "en"))
    assert labels["qwen2.5-1.5b-instruct"] == default.label
    assert labels["gemma-2-2b-it"].endswith("(not downloaded)")
    assert not labels["extractive"].endswith(")")
    custom = dict((v, k) for k, v in controls.model_choices("/nowhere/m.gguf", tmp_path, "en"))
    assert custom["/nowhere/m.gguf"] == "/nowhere/m.gguf (not found)"
    # Other spellings of a choice are that choice, not an extra "not found" entry.
    for spelling, value in (("none", "extractive"), ("Phi-2", "phi-2"), ("", "extractive")):
        assert controls.model_value(spelling) == value
        assert len(controls.model_choices(spelling, tmp_path)) == 1 + len(PRESETS)


def test_a_source_card_names_its_section_when_closed_and_its_path_with_one_separator():
    card = render.render_card(1, {"n": 1, "doc": "notes.md", "title": "AI", "lines": [3, 4],
                               "heading": "4 推理框架 > 4.1 推理框架汇总", "text": "vLLM…",
                               "score": 0.5}, [], cited=True, lang="en")
    summary = card[card.index("<summary>"):card.index("</summary>")]
    assert "4.1 推理框架汇总" in summary and "lines 3–4" in summary
    assert '<div class="where">AI › 4 推理框架 › 4.1 推理框架汇总</div>' in card
