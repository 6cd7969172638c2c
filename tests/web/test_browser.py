"""The chat in a real browser: headless Chromium (Debian's) driven by Selenium, in both
languages.

Each test drives the page as a reader would: the first screen in the browser's
language (and the switch), the calm status line and its details, an answer whose
sources are merged into one card per passage, the wait while a model reads, a model
process that dies, a conversation that survives a reload, the default model fetched
from a (fake) hub. Screenshots go to the test's tmp dir and to
``bench/out/screenshots/`` for people to look at.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "web"))
pytest_plugins = ["webfixtures"]

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
OUT = Path(__file__).resolve().parents[2] / "bench" / "out" / "screenshots"
ANSWER = "vLLM 是 UC Berkeley 开发的开源大模型推理框架 [1]。"


# ------------------------------------------------------------------------------ servers


@contextlib.contextmanager
def serving(settings, factory, warm=True):
    """The real app over ``settings`` on a free port; yields (url, service)."""
    from webfixtures import RunningServer

    from assistant.app.http import create_app
    from assistant.app.server import Service

    service = Service(settings, factory, warm=warm)
    with RunningServer(create_app(settings, service=service)) as server:
        yield server.url, service


def assistants(searcher, make_generator):
    """A factory of real Assistants over the session's searcher, each with the
    generator ``make_generator()`` returns (None: quotes)."""
    from assistant.answer.pipeline import Assistant

    def factory(settings, **shared):
        return Assistant(settings, **{"searcher": searcher, "generator": make_generator(),
                                      **shared})

    return factory


@pytest.fixture(scope="module")
def searcher(web_service):
    return web_service.assistant.searcher


@pytest.fixture(scope="module")
def paced_url(web_index, searcher):
    """Answers by a fake model with a model's pace, so streaming can be seen."""
    from fakes import PacedGenerator

    def model():
        return PacedGenerator(*[ANSWER] * 50, piece_s=0.03)

    with serving(web_index, assistants(searcher, model)) as (url, _):
        yield url


# ------------------------------------------------------------------------------ browsers


def _chrome(profile: Path, lang: str):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                f"--lang={lang}", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
    opts.binary_location = str(CHROMIUM)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    drv.set_page_load_timeout(60)
    return drv


@pytest.fixture(scope="module")
def browsers(tmp_path_factory):
    """``browsers("zh-CN")``: a Chromium whose language is that, one per language."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip("needs Debian's chromium and chromium-driver (./install.sh --dev)")
    made: dict[str, object] = {}

    def get(lang: str):
        if lang not in made:
            made[lang] = _chrome(tmp_path_factory.mktemp(f"chromium-{lang}"), lang)
        return made[lang]

    yield get
    for drv in made.values():
        drv.quit()


def wait(drv, check, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(drv, timeout, poll_frequency=0.05).until(lambda d: check(d))


def by_css(drv, css):
    from selenium.webdriver.common.by import By

    return drv.find_elements(By.CSS_SELECTOR, css)


def open_page(drv, url, theme="light", fresh=True):
    """The page, its status line filled in; ``fresh``: no chat or language kept from
    an earlier test."""
    drv.get(f"{url}/?__theme={theme}")
    if fresh:
        drv.execute_script("localStorage.clear()")
        drv.get(f"{url}/?__theme={theme}")
    wait(drv, lambda d: by_css(d, "#question textarea"))
    wait(drv, lambda d: by_css(d, "#status-line .row"))


# Records every text the newest answer shows, so a test can see it grow.
WATCH_ANSWER = """
window.__seen = [];
const chat = document.querySelector('#chat');
new MutationObserver(() => {
  const bots = chat.querySelectorAll('.bot .message-content, [data-testid="bot"]');
  const last = bots[bots.length - 1];
  if (last) window.__seen.push(last.innerText);
}).observe(chat, {childList: true, subtree: true, characterData: true});
"""


def send(drv, question):
    from selenium.webdriver.common.keys import Keys

    drv.execute_script(WATCH_ANSWER)
    box = by_css(drv, "#question textarea")[0]
    box.send_keys(question)
    box.send_keys(Keys.ENTER)


def answered(drv) -> bool:
    """The newest answer is complete: its cited sources or its note are under it."""
    bots = last_answer(drv)
    return bool(bots) and bool(bots.find_elements("css selector", ".cited, .note"))


def last_answer(drv):
    bots = by_css(drv, "#chat .bot, #chat [data-testid='bot']")
    return bots[-1] if bots else None


def ask(drv, question, timeout=90):
    send(drv, question)
    wait(drv, answered, timeout)
    return last_answer(drv)


def screenshot(drv, tmp_path, name):
    path = tmp_path / name
    drv.save_screenshot(str(path))
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, OUT / name)
    assert path.stat().st_size > 10_000
    return path


def severe_errors(drv):
    return [e for e in drv.get_log("browser")
            if e["level"] == "SEVERE" and "favicon" not in e["message"]]


# ----------------------------------------------------------------- 1. the user's language


def test_first_screen_in_the_browsers_language_with_a_switch(browsers, paced_url, tmp_path):
    zh, en = browsers("zh-CN"), browsers("en-US")
    open_page(zh, paced_url)
    assert "问你的文档" in by_css(zh, "#title")[0].text
    assert by_css(zh, "#send")[0].text == "发送" and by_css(zh, "#new-chat")[0].text == "新对话"
    assert "索引" in by_css(zh, "#status-line")[0].text
    assert "就" in by_css(zh, "#chat")[0].text  # the placeholder, in Chinese
    screenshot(zh, tmp_path, "first-screen-zh.png")

    open_page(en, paced_url)
    assert "Ask your documents" in by_css(en, "#title")[0].text
    assert by_css(en, "#send")[0].text == "Send" and by_css(en, "#copy")[0].text == "Copy answer"
    assert "Index" in by_css(en, "#status-line")[0].text
    screenshot(en, tmp_path, "first-screen-en.png")

    # The switch: the Chinese browser reads English, and keeps it over a reload.
    next(x for x in by_css(zh, "#lang label") if "English" in x.text).click()
    wait(zh, lambda d: by_css(d, "#send")[0].text == "Send")
    open_page(zh, paced_url, fresh=False)
    wait(zh, lambda d: by_css(d, "#send")[0].text == "Send")
    assert "Index" in by_css(zh, "#status-line")[0].text
    next(x for x in by_css(zh, "#lang label") if "中文" in x.text).click()
    wait(zh, lambda d: by_css(d, "#send")[0].text == "发送")
    assert not severe_errors(zh) and not severe_errors(en)


# ------------------------------------------------------------------ 2. one calm status line


def test_the_status_line_is_one_line_with_the_fix_behind_a_click(
        browsers, web_index, searcher, tmp_path, monkeypatch):
    """Offline, with the default model missing: one short warning in the line; the
    details say how to bring the file in, with the command."""
    import assistant.hub.files
    from assistant import notices
    from assistant.settings import Settings

    monkeypatch.setattr(assistant.hub.files, "_from_hf_cache", lambda preset: None)
    notices.reset()
    settings = Settings(**{**web_index.model_dump(), "model": "qwen2.5-1.5b-instruct",
                           "models_dir": tmp_path / "models"})

    def with_resolved_model(settings, **shared):  # the real lookup: not on disk, announced
        from assistant.answer.pipeline import Assistant

        return Assistant(settings, **{"searcher": searcher, **shared})

    try:
        with serving(settings, with_resolved_model, warm=False) as (url, service):
            service.warm_in_background().join(60)
            for lang, drv in (("zh", browsers("zh-CN")), ("en", browsers("en-US"))):
                open_page(drv, url)
                line = by_css(drv, "#status-line")[0]
                wait(drv, lambda d, line=line: "pull" not in line.text)  # closed: no commands
                words = "没有下载模型" if lang == "zh" else "no model on disk"
                assert words in line.text
                more = by_css(drv, "#status-line details.more summary")[0]
                more.click()
                wait(drv, lambda d: "assistant pull --model qwen2.5-1.5b-instruct"
                     in by_css(d, "#status-line")[0].text)
                copy_in = "复制过来" if lang == "zh" else "copy the models/ folder"
                assert copy_in in by_css(drv, "#status-line")[0].text  # offline: how to
                time.sleep(16)  # the line is redrawn every 15 s: the details stay open
                assert by_css(drv, "#status-line details.more[open]")
                screenshot(drv, tmp_path, f"status-details-{lang}.png")
    finally:
        notices.reset()


# ----------------------------------------------------------- 3. sources trusted at a glance


class Scripted:
    """The Assistant interface answering from fixed sources: two of the same passage
    (inference.md, overlapping lines), one elsewhere, and one of no relevance."""

    def __init__(self, settings, searcher=None, generator=None):
        self.settings, self.searcher, self.generator = settings, searcher, generator

    def stream(self, question, history=None, **kw):
        from assistant.answer.pipeline import Answer, Event, Source

        vllm = ("vLLM 是 UC Berkeley 开发的开源大模型推理框架。它的核心技术是 PagedAttention，"
                "借鉴了操作系统中虚拟内存和分页的思想来管理 KV 缓存。")
        sources = [
            Source(1, "inference.md", "推理框架", "vLLM", [5, 5], vllm, 0.92),
            Source(2, "finetuning.md", "Fine-tuning notes", "LoRA", [5, 5],
                   "LoRA (Low-Rank Adaptation) freezes the pretrained weights.", 0.31),
            Source(3, "inference.md", "推理框架", "vLLM", [5, 9],
                   vllm + "\n\n## TGI\n\nText Generation Inference（TGI）是 HuggingFace "
                   "推出的大模型推理服务工具。", 0.85),
            Source(4, "notes/moe.txt", "混合专家模型", "", [3, 3],
                   "MoE 模型把前馈层换成多个专家网络。", 0.0),
        ]
        text = ("vLLM 是 UC Berkeley 开发的开源大模型推理框架 [1][3]。" if "vLLM 是" in question
                else "vLLM was developed at UC Berkeley [1][3].")
        yield Event("status", text="searching")
        yield Event("sources", sources=sources)
        for piece in (text[:10], text[10:]):
            time.sleep(0.05)
            yield Event("token", text=piece)
        yield Event("done", answer=Answer(question, question, text, [sources[0], sources[2]],
                                          sources, backend="extractive"))


@pytest.fixture(scope="module")
def scripted_url(web_index, searcher):
    with serving(web_index, lambda s, **kw: Scripted(s, searcher)) as (url, _):
        yield url


@pytest.mark.parametrize(("lang", "question"), [("zh-CN", "vLLM 是哪个机构开发的？"),
                                                ("en-US", "Who developed vLLM?")])
def test_one_card_per_passage_and_the_source_page_at_its_line(
        browsers, scripted_url, tmp_path, lang, question):
    drv = browsers(lang)
    open_page(drv, scripted_url)
    answer = ask(drv, question)
    assert "UC Berkeley" in answer.text
    panel = by_css(drv, ".sources-panel .turn.shown")[0]
    cards = panel.find_elements("css selector", "details.src")
    assert len(cards) == 2, [c.text for c in cards]  # [1] and [3] are one; [4] scored 0
    merged = cards[0]
    assert merged.find_element("css selector", ".n").text == "[1][3]"
    assert "moe.txt" not in panel.get_attribute("innerHTML")
    # [3] in the answer opens the merged card, whose text holds both passages once.
    link = next(a for a in answer.find_elements("css selector", "a.cite") if a.text == "[3]")
    link.click()
    wait(drv, lambda d: merged.get_attribute("open") is not None and merged.is_displayed())
    passage = merged.find_element("css selector", ".passage")
    assert passage.text.count("UC Berkeley") == 1 and "TGI" in passage.text
    marks = {m.text.lower() for m in passage.find_elements("css selector", "mark")}
    assert "vllm" in marks and all(len(m) > 1 for m in marks), marks
    short = lang[:2]
    screenshot(drv, tmp_path, f"answer-merged-cards-{short}.png")

    # The card's link opens the file with the cited lines below the sticky header.
    href = merged.find_element("css selector", "a.open").get_attribute("href")
    assert href.endswith("?from=5&to=9#L5")
    drv.get(href)
    rows = by_css(drv, "tr.hl")
    assert rows and "UC Berkeley" in rows[0].text


def test_the_source_page_opens_with_the_cited_line_below_its_header(
        browsers, web_index, tmp_path):
    """A long document opened at line 150: the page scrolls there, and the line shows
    below the sticky header (it used to sit under it)."""
    from assistant.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = [f"第 {i} 行：普通的一行。" for i in range(1, 301)]
    lines[149] = "vLLM 是 UC Berkeley 开发的开源大模型推理框架。"
    (corpus / "long.md").write_text("\n".join(lines), encoding="utf-8")
    settings = Settings(**{**web_index.model_dump(), "corpus": corpus,
                           "index": tmp_path / "index"})
    with serving(settings, lambda s, **kw: Scripted(s), warm=False) as (url, _):
        for lang in ("zh-CN", "en-US"):
            drv = browsers(lang)
            drv.get(f"{url}/source/long.md?from=150&to=151#L150")
            rows = wait(drv, lambda d: by_css(d, "tr.hl"))
            assert "UC Berkeley" in rows[0].text
            top, header, height = drv.execute_script(
                "return [arguments[0].getBoundingClientRect().top,"
                " document.querySelector('header').getBoundingClientRect().bottom,"
                " window.innerHeight]", rows[0])
            assert header <= top < height / 2, (top, header)  # scrolled to, not hidden
            says = "第 150–151 行" if lang == "zh-CN" else "lines 150–151"
            assert says in by_css(drv, "header")[0].text
            screenshot(drv, tmp_path, f"source-page-at-line-{lang[:2]}.png")


def test_document_markup_runs_nothing(browsers, paced_url, tmp_path):
    drv = browsers("zh-CN")
    open_page(drv, paced_url)
    ask(drv, "zyzzyva password")
    cards = by_css(drv, ".sources-panel .turn.shown details.src")
    card = next(c for c in cards if "evil.md" in c.get_attribute("innerHTML"))
    card.find_element("css selector", "summary").click()
    text = card.find_element("css selector", ".passage").text
    assert "<script>window.__pwned = 1</script>" in text
    assert not card.find_elements("tag name", "img")
    assert not card.find_elements("tag name", "script")
    time.sleep(0.5)
    assert drv.execute_script("return window.__pwned") is None


def test_dark_theme_is_readable(browsers, paced_url, tmp_path):
    drv = browsers("en-US")
    open_page(drv, paced_url, theme="dark")
    ask(drv, "What does LoRA freeze?")
    assert drv.execute_script("return document.body.classList.contains('dark')")
    card = by_css(drv, ".sources-panel .turn.shown details.src")[0]
    card.find_element("css selector", "summary").click()
    fg, bg = drv.execute_script(
        "const p = arguments[0].querySelector('.passage');"
        "return [getComputedStyle(p).color, getComputedStyle(arguments[0]).backgroundColor]",
        card,
    )
    assert _luminance(fg) > 0.5 > _luminance(bg), (fg, bg)
    screenshot(drv, tmp_path, "answer-dark-en.png")


# -------------------------------------------------------------------- 4. the wait, visible


@pytest.mark.parametrize(("lang", "question", "says"), [
    ("zh-CN", "vLLM 是哪个机构开发的？", "正在阅读资料，约"),
    ("en-US", "Who developed vLLM?", "reading the sources, about"),
])
def test_the_wait_shows_an_estimate_then_the_tokens(browsers, web_index, searcher, tmp_path,
                                                    lang, question, says):
    from fakes import PacedGenerator

    def model():  # reads for 5 s at a measured 40 tokens/s, then streams
        return PacedGenerator(*[ANSWER] * 5, read_s=5.0, piece_s=0.05, read_speed=40.0)

    with serving(web_index, assistants(searcher, model)) as (url, _):
        drv = browsers(lang)
        open_page(drv, url)
        send(drv, question)
        wait(drv, lambda d: says in (last_answer(d).text if last_answer(d) else ""), 30)
        first = last_answer(drv).text
        screenshot(drv, tmp_path, f"wait-estimate-{lang[:2]}.png")
        wait(drv, answered, 60)
        final = last_answer(drv).text
        assert "UC Berkeley" in final
        seen = [s for s in drv.execute_script("return window.__seen") if s.strip()]
        counts = [s for s in seen if says in s]
        partial = [s for s in seen if says not in s and 0 < len(s.strip()) < len(final.strip())]
        assert counts and partial, seen[:8]  # the estimate, then the answer growing
        assert any(ch.isdigit() for ch in first)


# ----------------------------------------------------------------- 4. a model that dies


def test_a_dead_model_gives_a_message_and_the_quote_answer(browsers, web_index, searcher,
                                                           tiny_path, tmp_path):
    """A real worker process killed by SIGILL on its first piece (as on a CPU the build
    does not fit): the answer quotes the sources and says why; the status line says the
    model is restarting, then stopped."""
    from assistant.generate.worker import ModelProcess

    proc = ModelProcess(tiny_path, n_ctx=2048, threads=1, _fault_after=0)
    try:
        with serving(web_index, assistants(searcher, lambda: proc), warm=False) as (url, _):
            for lang, question, why in (
                    ("zh-CN", "vLLM 是哪个机构开发的？", "本地模型这次没能回答"),
                    ("en-US", "Who developed vLLM?", "The local model could not answer")):
                drv = browsers(lang)
                open_page(drv, url)
                answer = ask(drv, question, timeout=60)
                assert why in answer.text and "UC Berkeley" in answer.text
                assert answer.find_elements("css selector", ".note.warn")
                assert answer.find_elements("css selector", ".cited a.cite")
                if lang == "en-US":  # died again before any answer: stopped, and it says so
                    open_page(drv, url, fresh=False)
                    wait(drv, lambda d: "stopped" in " ".join(
                        x.text for x in by_css(d, "#status-line .warn")))
                    wait(drv, lambda d: last_answer(d) is not None)
                screenshot(drv, tmp_path, f"model-failure-{lang[:2]}.png")
    finally:
        proc.close()


# ------------------------------------------------- 4. the quote first, then the model


# The model's answer opens with words no quote of the corpus holds.
MODEL_WORDS = {"zh-CN": ("据资料", "据资料，vLLM 由 UC Berkeley 开发，是开源的推理框架 [1]。"),
               "en-US": ("According to", "According to the notes, vLLM was developed at "
                         "UC Berkeley [1].")}


@pytest.mark.parametrize(("lang", "question", "says", "label"), [
    ("zh-CN", "vLLM 是哪个机构开发的？", "正在阅读资料，约", "先看资料原文的摘录"),
    ("en-US", "Who developed vLLM?", "reading the sources, about", "Quoted from the sources"),
])
def test_the_quote_shows_while_the_model_reads_and_its_tokens_replace_it(
        browsers, web_index, searcher, tmp_path, lang, question, says, label):
    """While the model reads (6 s here), the bubble holds the wait estimate and, under
    it, the quoted answer labelled as quotes; the model's tokens then replace both."""
    from fakes import PacedGenerator

    marker, words = MODEL_WORDS[lang]

    def model():
        return PacedGenerator(words, read_s=6.0, piece_s=0.08, read_speed=40.0)

    with serving(web_index, assistants(searcher, model)) as (url, _):
        drv = browsers(lang)
        open_page(drv, url)
        send(drv, question)
        bubble = lambda d: last_answer(d).text if last_answer(d) else ""  # noqa: E731
        wait(drv, lambda d: label in bubble(d) and says in bubble(d), 30)
        shown = last_answer(drv)
        assert "UC Berkeley" in shown.text and marker not in shown.text
        assert shown.find_elements("css selector", "blockquote a.cite")  # [n] link the cards
        screenshot(drv, tmp_path, f"quote-first-{lang[:2]}.png")
        wait(drv, answered, 60)
        final = last_answer(drv).text
        assert marker in final and label not in final and says not in final
        seen = [x for x in drv.execute_script("return window.__seen") if x.strip()]
        # The model's words grew in place of the quote, which never showed beside them.
        assert any(marker in x and x != seen[-1] for x in seen), seen[-5:]
        assert not any(marker in x and label in x for x in seen)
        screenshot(drv, tmp_path, f"quote-replaced-{lang[:2]}.png")


@pytest.mark.parametrize(("lang", "question", "why"), [
    ("zh-CN", "vLLM 是哪个机构开发的？", "没有响应"),
    ("en-US", "Who developed vLLM?", "stopped responding"),
])
def test_a_stuck_model_gives_a_message_and_the_quote_answer_within_seconds(
        browsers, web_index, searcher, tiny_path, tmp_path, lang, question, why):
    """A real worker process frozen by SIGSTOP (alive, silent): the quote shows at
    once, and within seconds (its heartbeat stops) the answer is the quote with a
    message in the question's language; never an endless spinner."""
    import os
    import signal

    from assistant.generate.worker import BEAT_TIMEOUT, ModelProcess

    proc = ModelProcess(tiny_path, n_ctx=2048, threads=1)
    try:
        with serving(web_index, assistants(searcher, lambda: proc), warm=False) as (url, _):
            drv = browsers(lang)
            open_page(drv, url)
            os.kill(proc.pid, signal.SIGSTOP)
            t0 = time.monotonic()
            send(drv, question)
            wait(drv, lambda d: last_answer(d) is not None
                 and "UC Berkeley" in last_answer(d).text, 30)
            quoted = time.monotonic() - t0
            screenshot(drv, tmp_path, f"model-stuck-waiting-{lang[:2]}.png")
            wait(drv, answered, 60)
            done = time.monotonic() - t0
            answer = last_answer(drv)
            assert why in answer.text and "UC Berkeley" in answer.text
            assert answer.find_elements("css selector", ".note.warn")
            assert answer.find_elements("css selector", ".cited a.cite")
            screenshot(drv, tmp_path, f"model-stuck-{lang[:2]}.png")
            print(f"\n{lang}: quote shown {quoted:.1f} s, answer with the message "
                  f"{done:.1f} s after SIGSTOP")
            # A deadline for this test of the timeout: a few seconds past the beat's.
            assert done < BEAT_TIMEOUT + 20, done
    finally:
        proc.close()


# ---------------------------------------------------------------------- 6. conversation


def test_the_chat_survives_a_reload_starts_anew_and_copies_with_citations(
        browsers, paced_url, tmp_path):
    drv = browsers("zh-CN")
    open_page(drv, paced_url)
    ask(drv, "vLLM 是哪个机构开发的？")
    by_css(drv, "#copy")[0].click()
    copied = wait(drv, lambda d: d.execute_script("return window.__assistantCopied"))
    answer_line, _, cites = copied.partition("\n\n")
    assert "UC Berkeley" in answer_line and "[1]" in answer_line
    assert cites.startswith("[1] inference.md") and "第 5 行" in cites

    open_page(drv, paced_url, fresh=False)  # a reload: the conversation is back
    wait(drv, lambda d: last_answer(d) is not None and "UC Berkeley" in last_answer(d).text)
    assert "vLLM 是哪个机构开发的？" in by_css(drv, "#chat")[0].text
    assert by_css(drv, ".sources-panel .turn.shown details.src")
    screenshot(drv, tmp_path, "chat-after-reload-zh.png")

    by_css(drv, "#new-chat")[0].click()
    wait(drv, lambda d: last_answer(d) is None)
    open_page(drv, paced_url, fresh=False)
    time.sleep(1)
    assert last_answer(drv) is None and not by_css(drv, ".sources-panel .turn")


# ------------------------------------------------------------ 5. the first start, online


def test_the_first_start_fetches_the_default_model_with_a_progress_bar(
        browsers, web_index, searcher, tiny_path, tmp_path, monkeypatch):
    """The configured preset is not on disk and a hub answers (the fake one on
    127.0.0.1, serving the tiny GGUF): the status line shows the download's progress,
    answers quote meanwhile and say so, then the model is loaded and answers."""
    from fake_hub import FakeHub

    import assistant.app.fetch
    import assistant.hub.files
    from assistant import notices
    from assistant.answer.pipeline import Assistant
    from assistant.hub.presets import PRESETS, Preset
    from assistant.settings import Settings

    tiny = Preset(name="tiny-test", label="Tiny (test)", repo_id="TestOrg/Tiny-GGUF",
                  filename="tiny-q4_k_m.gguf", download_mb=1, ram_mb=10, context_length=2048)
    monkeypatch.setitem(PRESETS, tiny.name, tiny)
    monkeypatch.setattr(assistant.hub.files, "_from_hf_cache", lambda preset: None)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    slow = assistant.app.fetch.ModelFetch._progress

    def paced(self, done, total):  # a fast local hub, slowed to a person's eye
        slow(self, done, total)
        time.sleep(0.25)

    monkeypatch.setattr(assistant.app.fetch.ModelFetch, "_progress", paced)
    notices.reset()
    settings = Settings(**{**web_index.model_dump(), "model": tiny.name,
                           "models_dir": tmp_path / "models", "threads": 1})
    with FakeHub() as hub:
        hub.add_repo(tiny.repo_id, {tiny.filename: tiny_path.read_bytes()})
        monkeypatch.setenv("HF_ENDPOINT", hub.url)

        def factory(settings, **shared):
            return Assistant(settings, **{"searcher": searcher, **shared})

        try:
            with serving(settings, factory, warm=False) as (url, service):
                drv = browsers("zh-CN")
                open_page(drv, url)
                service.warm_in_background()
                line = lambda d: by_css(d, "#status-line")[0].text  # noqa: E731
                wait(drv, lambda d: "正在下载" in line(d) and by_css(d, "#status-line progress"))
                assert "直接引用" in line(drv)  # answers quote meanwhile, and it says so
                bar = by_css(drv, "#status-line progress")[0]
                assert 0 <= float(bar.get_attribute("value") or 0) < 1
                screenshot(drv, tmp_path, "model-download-progress-zh.png")
                wait(drv, lambda d: "Tiny (test)" in line(d), 120)  # loaded: its name
                assert "没有下载模型" not in line(drv) and not by_css(drv, "#status-line .warn")
                screenshot(drv, tmp_path, "model-ready-zh.png")
                assert service.health()["fetch"]["state"] == "done"
                assert (tmp_path / "models" / tiny.filename).is_file()
        finally:
            gen = service.assistant.built_generator
            if gen is not None:
                gen.close()
            notices.reset()


def _luminance(css: str) -> float:
    parts = [float(x) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    return sum(w * c / 255 for w, c in zip((0.2126, 0.7152, 0.0722), parts, strict=True))
