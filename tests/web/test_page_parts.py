"""The parts behind the page, on plain data: the zh/en table, one card per passage, the
question's terms, the status line's items, the wait estimate, the background fetch,
notices once per index and model, the one upload path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "web"))
pytest_plugins = ["webfixtures"]

from assistant import notices  # noqa: E402
from assistant.app import i18n, status  # noqa: E402
from assistant.app.web import render  # noqa: E402
from assistant.app.web.status_line import render_status  # noqa: E402

# ------------------------------------------------------------------------- 1. languages


def test_every_string_has_both_languages_and_the_same_fields():
    import string

    for key, (zh, en) in i18n.STRINGS.items():
        assert zh.strip() and en.strip(), key
        fields = [{f for _, f, _, _ in string.Formatter().parse(x) if f} for x in (zh, en)]
        assert fields[0] == fields[1], key


@pytest.mark.parametrize(("header", "lang"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9", "en"), ("zh-TW", "zh"),
    ("fr-FR,fr;q=0.9,en;q=0.5,zh;q=0.4", "en"), ("de-DE", "zh"), ("", "zh"), (None, "zh"),
    ("en;q=0.2,zh-CN;q=0.8", "zh"),
])
def test_the_page_language_comes_from_the_browser(header, lang):
    assert i18n.from_accept_language(header) == lang


@pytest.mark.parametrize(("env", "lang"), [
    ({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LANG": "en_US.UTF-8"}, "en"), ({"LANG": "C.UTF-8"}, "en"),
    ({}, "en"), ({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
    ({"LC_ALL": "", "LC_MESSAGES": "en_GB", "LANG": "zh_CN"}, "en"),
])
def test_the_cli_language_comes_from_the_locale(env, lang):
    assert i18n.from_locale(env) == lang


def test_the_cli_labels_its_sources_in_the_locales_language(monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert i18n.t("cli_nearest", i18n.from_locale()) == "最接近的段落："


def test_a_cli_notice_speaks_the_locales_language(web_index):
    from assistant.settings import Settings

    settings = Settings(**{**web_index.model_dump(), "model": "qwen2.5-1.5b-instruct"})
    zh = i18n.notice_wording(settings, "zh")
    said = zh("llm-missing", "the model ... is not in models/")
    assert said.startswith("没有下载模型，回答直接引用资料。")
    assert said.endswith("解决办法：assistant pull --model qwen2.5-1.5b-instruct")
    assert zh("rebuild:embedder changed", "The index is rebuilt.") == "The index is rebuilt."
    assert i18n.notice_wording(settings, "en")("llm-missing", "as announced") == "as announced"


# ---------------------------------------------------------------------- 3. the sources


def src(n, doc="a.md", lines=(3, 5), score=0.5, text=None, **kw):
    return {"n": n, "doc": doc, "title": "A", "heading": "H", "lines": list(lines),
            "text": text or f"passage {n}", "score": score, **kw}


def test_one_card_per_passage_with_every_number_kept():
    cards = render.merge_sources([
        src(1, text="vLLM 是 UC Berkeley 开发的。"), src(2, doc="b.md"),
        src(3, lines=(5, 7), text="vLLM 是 UC Berkeley 开发的。它很快。"),
        src(4, lines=(3, 5), text="vLLM 是 UC Berkeley 开发的。"),
        src(5, lines=(9, 9)),  # same file, lines apart: a passage of its own
        src(6, lines=(3, 5), page=2),  # another page of a PDF
    ])
    assert [c["ns"] for c in cards] == [[1, 3, 4], [2], [5], [6]]
    merged = cards[0]
    assert merged["lines"] == [3, 7] and merged["text"] == "vLLM 是 UC Berkeley 开发的。它很快。"


def test_overlapping_texts_are_joined_with_their_shared_part_once():
    a = "第一句。第二句很长，两段都有它。"
    b = "第二句很长，两段都有它。第三句。"
    cards = render.merge_sources([src(1, lines=(1, 2), text=a), src(2, lines=(2, 3), text=b)])
    assert cards[0]["text"] == "第一句。第二句很长，两段都有它。第三句。"


def test_a_passage_of_no_relevance_is_shown_only_when_cited():
    sources = [src(1), src(2, doc="b.md", score=0.0), src(3, doc="c.md", score=0.0)]
    assert [c["ns"] for c in render.merge_sources(sources)] == [[1]]
    assert [c["ns"] for c in render.merge_sources(sources, cited={3})] == [[1], [3]]


def test_every_marker_of_a_merged_card_opens_it_and_copies_once():
    turn = {"id": 7, "q": "vLLM 是谁开发的？", "answer": "UC Berkeley [1][3]。",
            "sources": [src(1), src(2, doc="b.md"), src(3, lines=(4, 6))], "cited": [1, 3],
            "state": "done"}
    html = render.render_answer(turn, "zh")
    assert html.count('href="#src-7-1"') == 4  # [1] and [3], in the text and the list
    assert html.count("a.md:3–6") == 1  # the merged card listed once
    panel = render.render_sources([turn], "en")
    assert 'id="src-7-1"' in panel and 'id="src-7-3"' not in panel
    assert "2 passages for" in panel and "[1][3]" in panel
    assert render.copy_text([turn], "zh") == "UC Berkeley [1][3]。\n\n[1][3] a.md, H, 第 3–6 行"


@pytest.mark.parametrize(("question", "wanted", "unwanted"), [
    ("vLLM 是哪个机构开发的？", {"vllm", "机构", "开发"}, {"哪个", "的", "是"}),
    ("大模型推理框架有哪些？", {"模型", "推理", "框架"}, {"大", "哪些"}),
    ("LoRA 的核心思想是什么？", {"lora", "核心思想"}, {"什么"}),
])
def test_only_the_questions_real_terms_are_marked(question, wanted, unwanted):
    terms = set(render.terms(question))
    assert wanted <= terms and not (unwanted & terms), terms


def test_a_lone_character_is_marked_when_it_is_all_the_question_has():
    assert render.terms("什么是锁？") == ["锁"]
    assert "<mark>" not in render.highlight("组成部分", render.terms("大模型由什么组成？")[:0])


# -------------------------------------------------------------------- 2. the status line


@pytest.fixture
def offline_service(web_index, tmp_path, monkeypatch):
    """The default model missing, offline (HF_HUB_OFFLINE=1, as in all tests)."""
    import assistant.hub.files
    from assistant.answer.pipeline import Assistant
    from assistant.app.server import Service
    from assistant.settings import Settings

    monkeypatch.setattr(assistant.hub.files, "_from_hf_cache", lambda preset: None)
    notices.reset()
    settings = Settings(**{**web_index.model_dump(), "model": "qwen2.5-1.5b-instruct",
                           "models_dir": tmp_path / "models"})
    service = Service(settings, lambda s, **kw: Assistant(s, **kw), warm=False)
    service.warm_in_background().join(60)
    yield service
    notices.reset()


def test_a_missing_model_offline_is_one_warning_with_how_to_bring_it_in(offline_service):
    items = offline_service.status("zh")
    model = items[0]
    assert (model.kind, model.level) == ("model", "warn")
    assert model.text == "没有下载模型，回答直接引用资料"
    assert model.fix == "assistant pull --model qwen2.5-1.5b-instruct"
    assert "不联网" in model.detail and "qwen2.5-1.5b-instruct-q4_k_m.gguf" in model.detail
    assert offline_service.models.fetch.state.offline  # nothing tried to connect
    line = render_status(offline_service, "en")
    row, _, more = line.partition("<details")
    assert "no model on disk" in row and "assistant pull" not in row  # calm: no commands
    assert "<code>assistant pull --model qwen2.5-1.5b-instruct</code>" in more


def test_notices_are_a_few_words_with_their_fix_behind_the_click(web_service):
    notices.reset()
    notices.announce("embedder", "embedding model 'x' is not on disk; using the packaged one")
    notices.announce("something-new", "A notice without a phrase of its own.")
    try:
        zh = render_status(web_service, "zh")
        summary = zh[zh.index("<summary>"):zh.index("</summary>")]
        assert "检索用备用的英文向量模型" in summary and "A notice without" in summary
        assert f"assistant pull --embedder {web_service.settings.embedder}" in zh
        en = render_status(web_service, "en")
        assert "search uses the fallback English embedder" in en
    finally:
        notices.reset()


def test_a_stale_index_says_so_and_how_to_fix_it(web_service, monkeypatch):
    from assistant.ingest.diff import IndexStatus

    monkeypatch.setattr(web_service, "index_status", lambda fresh=False: IndexStatus(
        documents=4, chunks=6, changed=["a.md"], added=["b.md"]))
    item = status.index_item(web_service, "zh")
    assert item.level == "warn" and "2 个文件有变动" in item.text
    assert item.fix == "assistant index" and "a.md" in item.detail


def test_a_crashed_model_reads_short_with_its_reason_behind_the_click(web_service, monkeypatch):
    monkeypatch.setattr(type(web_service.models), "model_state", property(lambda self: {
        "state": "failed", "crashes": 2, "error": "killed by SIGILL", "pid": None}))
    item = status.model_item(web_service, "zh")
    assert item.text == "模型已停止，回答直接引用资料" and "SIGILL" in item.detail


# ----------------------------------------------------------------- 4. the wait estimate


def test_the_wait_counts_down_the_measured_reading_time(web_service, monkeypatch):
    from assistant.app.web.turn import Wait

    monkeypatch.setattr(web_service.models, "read_seconds", lambda texts: 8.4)
    wait = Wait(web_service, "zh")
    assert wait.text("searching") == "正在检索资料"
    wait.reading([{"text": "x"}])
    assert wait.text("reading the sources") == "正在阅读资料，约 8 秒"
    wait.started -= 6
    assert wait.text("reading the sources") == "正在阅读资料，约 2 秒"
    wait.started -= 5
    assert wait.text("reading the sources") == "正在阅读资料，比预计的久，请稍候"
    monkeypatch.setattr(web_service.models, "read_seconds", lambda texts: None)
    wait.reading([])
    assert Wait(web_service, "en").text("reading the sources") == "reading the sources"


def test_the_quote_shows_under_the_wait_until_the_first_token(web_service, monkeypatch):
    """The turn keeps the pipeline's ``quote`` event; the bubble shows the wait, a label
    and the quote as a block quote with its [n] linked, until tokens replace them."""
    from assistant.answer.pipeline import Answer, Event, Source
    from assistant.app.web.turn import new_turn, run_turn

    source = Source(1, "a.md", "A", "H", [3, 3], "vLLM 是 UC Berkeley 开发的。", 0.9)
    seen: dict = {}

    def stream(question, history=None, overrides=None, *, quote_first=False):
        seen["quote_first"] = quote_first
        yield Event("sources", sources=[source])
        yield Event("quote", text="vLLM 是 UC Berkeley 开发的。[1]\n")
        yield Event("status", text="reading the sources")
        yield Event("token", text="据资料，")
        yield Event("done", answer=Answer("q", "q", "据资料，UC Berkeley [1]", [source], [source],
                                          backend="fake"))

    monkeypatch.setattr(web_service, "stream", stream)
    monkeypatch.setattr(web_service.models, "read_seconds", lambda texts: 8.4)
    import threading

    turn = new_turn([], "vLLM 是谁开发的？")
    shown = {}
    for change in run_turn(web_service, turn, [], {}, "zh", threading.Event()):
        shown.setdefault(change, render.render_answer(turn, "zh"))
    assert seen["quote_first"] is True  # the page asks for it; the API and CLI do not
    quoted = shown["quote"]
    assert "先看资料原文的摘录" in quoted and "> vLLM 是 UC Berkeley" in quoted
    assert 'href="#src-1-1"' in quoted
    assert "约 8 秒" in shown["status"] and "摘录" in shown["status"]  # the wait stays
    assert "摘录" not in shown["token"] and shown["token"].startswith("据资料")
    assert "quote" not in turn and "摘录" not in render.render_answer(turn, "zh")
    en = render.render_answer({**turn, "state": "pending", "answer": "",
                               "quote": "UC Berkeley [1]"}, "en")
    assert "Quoted from the sources while the model writes its answer" in en


def test_retry_asks_again_with_the_next_seed(web_service, monkeypatch):
    from assistant.answer.pipeline import Answer, Event
    from assistant.app.web import page

    asked: list[dict] = []

    def stream(question, history=None, overrides=None, *, quote_first=False):
        asked.append(dict(overrides or {}))
        yield Event("done", answer=Answer(question, question, "x", [], [], backend="fake"))

    monkeypatch.setattr(web_service, "stream", stream)
    tune = (None, None, None, None)
    *_, (_, state, *_) = page.answer(web_service, "vLLM 是谁开发的？", [], "zh", tune)
    for tries in (1, 2):  # what the Retry button passes: the last turn's tries + 1
        last = state.pop()
        *_, (_, state, *_) = page.answer(web_service, last["q"], state, "zh", tune,
                                         tries=last.get("tries", 0) + 1)
        assert state[-1]["tries"] == tries
    seed = web_service.settings.seed
    assert asked == [{}, {"seed": seed + 1}, {"seed": seed + 2}]


def test_the_estimate_comes_from_the_models_measured_speed(web_index):
    from fakes import PacedGenerator

    from assistant.answer.pipeline import Assistant
    from assistant.app.warmup import PROMPT_OVERHEAD, Models

    gen = PacedGenerator("x", read_speed=50.0)
    models = Models(web_index, lambda s, **kw: Assistant(s, generator=gen, **kw),
                    warm_now=False)
    _ = models.assistant.generator
    text = "vLLM 是 UC Berkeley 开发的。"
    assert models.read_seconds([text]) == pytest.approx(
        (PROMPT_OVERHEAD + gen.count_tokens(text)) / 50.0)
    gen.read_speed = None
    assert models.read_seconds([text]) is None  # nothing measured yet: no number


def test_a_worker_measures_how_fast_it_reads(tiny_path):
    from assistant.generate.worker import ModelProcess

    proc = ModelProcess(tiny_path, n_ctx=512, threads=1)
    try:
        assert proc.read_speed is None
        messages = [{"role": "user", "content": "vLLM 是哪个机构开发的？"}]
        assert proc.first_piece_limit(500) == 900.0  # nothing measured: the fixed limit
        list(proc.stream(messages, max_tokens=4, temperature=0.0))
        assert proc.read_speed and proc.read_speed > 0
        # Measured: a stuck worker is given up on at 6x the expected time, not 900 s.
        proc.read_speed = 5.0  # tokens/s, a saturated machine
        assert proc.first_piece_limit(500) == 600.0
        proc.read_speed = 50.0
        assert proc.first_piece_limit(500) == 120.0  # the floor
    finally:
        proc.close()


# ---------------------------------------------------------- 5. the default model, fetched


@pytest.fixture
def hub_env(monkeypatch, tmp_path, tiny_path):
    """A fake hub on 127.0.0.1 serving the tiny GGUF as a preset's file."""
    from fake_hub import FakeHub

    import assistant.hub.files
    from assistant.hub.presets import PRESETS, Preset

    tiny = Preset(name="tiny-test", label="Tiny (test)", repo_id="TestOrg/Tiny-GGUF",
                  filename="tiny-q4_k_m.gguf", download_mb=1, ram_mb=10, context_length=512)
    monkeypatch.setitem(PRESETS, tiny.name, tiny)
    monkeypatch.setattr(assistant.hub.files, "_from_hf_cache", lambda preset: None)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with FakeHub() as hub:
        hub.add_repo(tiny.repo_id, {tiny.filename: tiny_path.read_bytes()})
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        yield tiny, tmp_path / "models"


def test_a_missing_preset_is_fetched_in_the_background(hub_env, tiny_path):
    from assistant.app.fetch import ModelFetch

    preset, models = hub_env
    seen, done = [], []
    fetch = ModelFetch(preset, models, done.append)
    original = fetch._progress
    fetch._progress = lambda d, t: (seen.append((d, t)), original(d, t))
    fetch.start().join(60)
    assert fetch.state.state == "done" and done == [models / preset.filename]
    assert done[0].read_bytes() == tiny_path.read_bytes()
    assert seen and seen[-1][0] == seen[-1][1] == tiny_path.stat().st_size
    assert fetch.state.fraction == 1.0


def test_an_unreachable_hub_leaves_the_copy_instructions(hub_env, monkeypatch):
    from assistant.app.fetch import ModelFetch

    preset, models = hub_env
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    fetch = ModelFetch(preset, models, lambda path: None)
    fetch.start().join(60)
    assert fetch.state.state == "failed" and fetch.state.offline


def test_the_service_loads_the_fetched_model_and_stops_quoting(hub_env, web_index):
    from assistant.answer.pipeline import Assistant
    from assistant.app.server import Service
    from assistant.settings import Settings

    preset, models = hub_env
    notices.reset()
    settings = Settings(**{**web_index.model_dump(), "model": preset.name,
                           "models_dir": models, "threads": 1})
    service = Service(settings, lambda s, **kw: Assistant(s, **kw), warm=False)
    try:
        service.warm_in_background().join(60)
        assert service.models.fetch is not None
        service.models.fetch.thread.join(120)
        assert service.health()["fetch"]["state"] == "done"
        assert "Tiny (test)" in service.backend
        assert not any(k == "llm-missing" for k, _ in notices.items())
        assert status.model_item(service, "zh").level == "ok"
    finally:
        gen = service.assistant.built_generator
        if gen is not None:
            gen.close()
        notices.reset()


# ---------------------------------------------------------- 2. CLI notices, once each


def test_a_cli_notice_is_printed_once_per_index_and_model(tmp_path, capsys):
    notices.reset()
    record = tmp_path / "notices-printed.json"
    try:
        for _ in range(2):
            notices.remember_in(record, "state-1")
            notices.announce("embedder", "the embedder is missing")
            notices._seen.clear()  # a new command: a new process
        assert capsys.readouterr().err.count("note:") == 1
        notices.remember_in(record, "state-2")  # re-indexed, or another model
        notices.announce("embedder", "the embedder is missing")
        assert capsys.readouterr().err.count("note:") == 1
        assert notices.active() == ["the embedder is missing"]  # still in force
    finally:
        notices.reset()


def test_the_cli_says_a_notice_once_not_on_every_command(tmp_path, capsys):
    from webfixtures import write_corpus

    from assistant.app.cli import main
    from assistant.app.cli.common import NOTICES_FILE

    corpus = write_corpus(tmp_path / "corpus")
    args = ["search", "vLLM", "--corpus", str(corpus), "--index", str(tmp_path / "index"),
            "--models-dir", str(tmp_path / "models"),  # empty: the embedder falls back
            "--embedder", "intfloat/multilingual-e5-small"]
    notes = []
    try:
        for _ in range(3):
            notices.reset()  # each command is a process of its own
            assert main(args) == 0
            notes.append(capsys.readouterr().err.count("note: embedding model"))
    finally:
        notices.reset()
    # Said by the first command; the index it built is new, so said once more; then quiet.
    assert notes[0] == 1 and notes[-1] == 0, notes
    assert (tmp_path / "index" / NOTICES_FILE).exists()


# -------------------------------------------------------------------- the upload path


def test_one_upload_path_checks_sizes_before_reading(tmp_path, monkeypatch):
    from assistant.app.uploads import Upload, Uploads

    monkeypatch.setenv("ASSISTANT_MAX_FILE_MB", "0.001")
    started = []
    uploads = Uploads(tmp_path, on_saved=lambda: started.append(1) or True)

    def never() -> bytes:
        raise AssertionError("read an upload that was too large")

    result = uploads.add([Upload("ok.md", 5, lambda: b"hello"), Upload("big.md", 10**6, never),
                          Upload("x.exe", 3, lambda: b"abc")])
    assert [p.name for p in result.saved] == ["ok.md"] and result.started
    assert [(r.name, r.error.status) for r in result.refused] == [("big.md", 413),
                                                                  ("x.exe", 415)]
    assert started == [1]
    assert uploads.add([Upload("x.exe", 3, lambda: b"abc")]).started is False
    assert started == [1]  # nothing added: no re-index


def test_the_page_says_what_came_of_an_upload(web_service, tmp_path, monkeypatch):
    from assistant.app.web.page import upload_message

    monkeypatch.setattr(web_service, "start_reindex", lambda: True)
    monkeypatch.setattr(web_service.uploads, "_on_saved", lambda: True)
    bad = tmp_path / "run.sh"
    bad.write_text("x")
    msg = upload_message(web_service, [str(bad), str(tmp_path / "gone.md")], "zh")
    assert msg.count("未接受") == 2 and "run.sh" in msg and "gone.md" in msg
