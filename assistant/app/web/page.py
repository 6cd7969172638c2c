"""The chat page (Gradio): its layout, its words in the reader's language, its events.

Layout: a status line (:mod:`.status_line`) with the language switch and a Re-index
button; the chat with send / stop / retry / new chat / copy; beside it the sources
panel (:mod:`.render`); then "Add documents" and "Settings". The conversation and the
chosen language are kept in the browser (``gr.BrowserState``), so a reload brings them
back.
"""

from __future__ import annotations

import hashlib
import html
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.app import i18n
from assistant.app.i18n import t
from assistant.app.web import render
from assistant.app.web.examples import example_questions
from assistant.app.web.status_line import render_status
from assistant.app.web.turn import new_turn, run_turn
from assistant.errors import AssistantError
from assistant.ingest.loaders import SUPPORTED_SUFFIXES

if TYPE_CHECKING:
    from assistant.app.server import Service

ANSWER_CONCURRENCY = 4  # answers in flight; a local model still writes one at a time
SAVED_TURNS = 30  # turns kept in the browser
LANG_CHOICES = [("中文", "zh"), ("English", "en")]
PRIVATE = {"api_visibility": "private"}


def build_ui(service: Service) -> gr.Blocks:
    """The chat page over ``service``. Mount it with :func:`assistant.app.http.create_app`."""
    with gr.Blocks(title="问你的文档 · Ask your documents", analytics_enabled=False) as demo:
        ui = _layout(service)
        _wire_chat(service, ui)
        _wire_language(service, ui, demo)
        _wire_status(service, ui)
        _wire_files(service, ui)
        _api(service)
    demo.queue(default_concurrency_limit=ANSWER_CONCURRENCY, max_size=256)
    return demo


def _storage_key(service: Service) -> str:
    # One conversation per index folder: two servers over two corpora keep theirs apart.
    return hashlib.sha256(str(Path(service.settings.index).resolve()).encode()).hexdigest()[:16]


def _layout(service: Service) -> SimpleNamespace:
    lang = i18n.DEFAULT
    key = _storage_key(service)
    ui = SimpleNamespace()
    ui.turns = gr.State([])
    ui.lang = gr.State(lang)
    # The secret only keeps the stored chat unreadable to other pages' scripts; fixed per
    # index so that it survives a server restart.
    ui.saved_turns = gr.BrowserState([], storage_key=f"assistant-chat-{key}", secret=key)
    ui.saved_lang = gr.BrowserState("", storage_key="assistant-lang", secret="assistant")
    with gr.Row(equal_height=False, elem_id="title-row"):
        ui.title = gr.Markdown(f"### {t('title', lang)}", elem_id="title")
        ui.lang_switch = gr.Radio(LANG_CHOICES, value=lang, show_label=False, container=False,
                                  elem_id="lang", scale=0, min_width=180)
    with gr.Row(equal_height=False, elem_id="status-row"):
        # Filled in when a page opens (demo.load), not while the app is built: reading
        # the index and walking the corpus would delay `serve` listening.
        ui.status = gr.HTML("", elem_id="status-line", js_on_load=None, scale=8)
        ui.reindex = gr.Button(t("reindex", lang), size="sm", scale=0, min_width=100,
                               elem_id="reindex")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=380):
            _chat_column(service, ui, lang)
        with gr.Column(scale=2, min_width=320):
            ui.sources_title = gr.Markdown(f"**{t('sources', lang)}**")
            ui.sources = gr.HTML(render.empty_sources(lang), elem_id="sources-box",
                                 js_on_load=None)
    _files_and_settings(service, ui, lang)
    return ui


def _chat_column(service: Service, ui: SimpleNamespace, lang: str) -> None:
    examples = example_questions(service.settings.index)
    ui.chatbot = gr.Chatbot(
        elem_id="chat", show_label=False, height=500, resizable=True, buttons=[],
        feedback_options=None, latex_delimiters=[],
        examples=[{"text": q} for q in examples] or None,
        placeholder=_placeholder(service, lang),
    )
    with gr.Row():
        ui.question = gr.Textbox(show_label=False, placeholder=t("question", lang), lines=1,
                                 max_lines=6, scale=8, elem_id="question", autofocus=True,
                                 submit_btn=False)
        ui.send = gr.Button(t("send", lang), variant="primary", scale=1, min_width=80,
                            elem_id="send")
    with gr.Row():
        ui.stop = gr.Button(t("stop", lang), size="sm", elem_id="stop")
        ui.retry = gr.Button(t("retry", lang), size="sm", elem_id="retry")
        ui.new_chat = gr.Button(t("new_chat", lang), size="sm", elem_id="new-chat")
        ui.copy = gr.Button(t("copy", lang), size="sm", elem_id="copy")
    ui.copy_box = gr.Textbox(visible=False)
    ui.copied_word = gr.Textbox(t("copied", lang), visible=False)


def _placeholder(service: Service, lang: str) -> str:
    return t("placeholder", lang, corpus=html.escape(str(service.settings.corpus)))


def _files_and_settings(service: Service, ui: SimpleNamespace, lang: str) -> None:
    from assistant.app.web.controls import bounds, model_choices, model_value

    settings = service.settings
    with gr.Accordion(t("add_docs", lang), open=False) as ui.files_box:
        ui.files = gr.File(label=_upload_label(lang), file_count="multiple",
                           file_types=sorted(SUPPORTED_SUFFIXES), elem_id="upload")
        ui.upload_msg = gr.Markdown()
    with gr.Accordion(t("settings", lang), open=False) as ui.settings_box:
        with gr.Row():
            ui.model = gr.Dropdown(choices=model_choices(settings.model, settings.models_dir,
                                                         lang),
                                   value=model_value(settings.model), label=t("model", lang),
                                   info=t("model_info", lang), allow_custom_value=True)
            ui.llm_url = gr.Textbox(value=settings.llm_url or "", label=t("server_url", lang),
                                    info=t("server_url_info", lang),
                                    placeholder="http://127.0.0.1:8080/v1")
        with gr.Row():
            lo, hi = bounds("context_tokens")
            ui.context = gr.Slider(lo, hi, value=settings.context_tokens, step=50,
                                   label=t("context", lang), info=t("context_info", lang))
            lo, hi = bounds("temperature")
            ui.temperature = gr.Slider(lo, hi, value=settings.temperature, step=0.05,
                                       label=t("temperature", lang),
                                       info=t("temperature_info", lang))
    ui.tunables = [ui.model, ui.llm_url, ui.context, ui.temperature]


def _upload_label(lang: str) -> str:
    from assistant.ingest.indexer import max_file_bytes

    return t("upload_label", lang, types=" ".join(sorted(SUPPORTED_SUFFIXES)),
             mb=max_file_bytes() / 2**20)


# ------------------------------------------------------------------------------ the chat


def _wire_chat(service: Service, ui: SimpleNamespace) -> None:
    outputs = [ui.chatbot, ui.turns, ui.sources, ui.question, ui.copy_box, ui.saved_turns]

    def respond(q, state, lang, *tune) -> Iterator[tuple]:
        yield from answer(service, q, state, lang, tune)

    def retry(state, lang, *tune) -> Iterator[tuple]:
        state = [x for x in state or [] if x["state"] != "pending"]
        if not state:
            yield gr.skip(), state, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        last = state.pop()
        # Asked again with the next seed, so a model that samples writes another answer
        # (the same seed would give the same words).
        yield from answer(service, last["q"], state, lang, tune, tries=last.get("tries", 0) + 1)

    def ask_example(state, lang, *tune, evt: gr.SelectData):
        value = evt.value if isinstance(evt.value, dict) else {"text": evt.value}
        yield from answer(service, value.get("text", ""), state, lang, tune)

    kw = {"concurrency_id": "answer", "concurrency_limit": ANSWER_CONCURRENCY, **PRIVATE}
    ask_in = [ui.question, ui.turns, ui.lang, *ui.tunables]
    asks = [
        ui.question.submit(respond, ask_in, outputs, **kw),
        ui.send.click(respond, ask_in, outputs, **kw),
        ui.retry.click(retry, [ui.turns, ui.lang, *ui.tunables], outputs, **kw),
        ui.chatbot.retry(retry, [ui.turns, ui.lang, *ui.tunables], outputs, **kw),
        ui.chatbot.example_select(ask_example, [ui.turns, ui.lang, *ui.tunables], outputs,
                                  **kw),
    ]

    def stop(state, lang):
        state = [dict(x, state="stopped") if x["state"] == "pending" else x
                 for x in state or []]
        return render.chat_messages(state, lang), state, render.copy_text(state, lang), \
            _saved(state)

    ui.stop.click(stop, [ui.turns, ui.lang], [ui.chatbot, ui.turns, ui.copy_box,
                                              ui.saved_turns], cancels=asks, queue=False,
                  **PRIVATE)

    def new_chat(lang):
        return [], [], render.empty_sources(lang), "", []

    clear_out = [ui.chatbot, ui.turns, ui.sources, ui.copy_box, ui.saved_turns]
    ui.new_chat.click(new_chat, [ui.lang], clear_out, cancels=asks, queue=False, **PRIVATE)
    ui.chatbot.clear(new_chat, [ui.lang], clear_out, cancels=asks, queue=False, **PRIVATE)
    from assistant.app.web.assets import COPY_JS

    ui.copy.click(None, [ui.copy_box, ui.copied_word], None, js=COPY_JS, **PRIVATE)


def _saved(state: list[dict]) -> list[dict]:
    """The turns worth keeping in the browser: finished ones, the latest few."""
    return [x for x in state if x["state"] in ("done", "stopped", "error")][-SAVED_TURNS:]


def answer(service: Service, q: str, state: list[dict], lang: str,
           tune: tuple, tries: int = 0) -> Iterator[tuple]:
    """One chat turn as a stream of screen updates (chat, turns, sources, question box,
    copy text, saved turns). ``tries``: how many times Retry has asked this question."""
    skip = gr.skip
    q = (q or "").strip()
    state = [dict(x, state="stopped") if x["state"] == "pending" else x for x in state or []]
    if not q:
        yield skip(), state, skip(), skip(), skip(), skip()
        return
    history = render.history_of(state)
    turn = new_turn(state, q)
    if tries:
        turn["tries"] = tries
    state = [*state, turn]
    yield render.chat_messages(state, lang), state, skip(), "", skip(), skip()
    try:
        overrides = _overrides(service, tune, tries)
    except AssistantError as e:
        turn.update(state="error", error=str(e))
        overrides = None
    stop = threading.Event()
    changes = run_turn(service, turn, history, overrides, lang, stop) if overrides is not None \
        else iter(["done"])
    try:
        for change in changes:
            chat = render.chat_messages(state, lang)
            if change == "sources":
                yield chat, state, render.render_sources(state, lang), skip(), skip(), skip()
            elif change == "done":
                yield (chat, state, render.render_sources(state, lang), skip(),
                       render.copy_text(state, lang), _saved(state))
            else:
                yield chat, state, skip(), skip(), skip(), skip()
    finally:
        stop.set()


def _overrides(service: Service, tune: tuple, tries: int = 0) -> dict:
    model, llm_url, context, temperature = tune
    return service.overrides(
        model=model, llm_url=llm_url,
        context_tokens=int(context) if context is not None else None,
        temperature=float(temperature) if temperature is not None else None,
        seed=(service.settings.seed + tries) % 2**31 if tries else None,
    )


# -------------------------------------------------------------------------- the language


def _labelled(ui: SimpleNamespace) -> list:
    return [ui.title, ui.chatbot, ui.question, ui.send, ui.stop, ui.retry, ui.new_chat,
            ui.copy, ui.copied_word, ui.sources_title, ui.reindex, ui.files_box, ui.files,
            ui.settings_box, ui.model, ui.llm_url, ui.context, ui.temperature]


def relabel(service: Service, lang: str) -> list:
    """Every fixed word of the page in ``lang``, as updates of :func:`_labelled`."""
    from assistant.app.web.controls import model_choices

    s = service.settings
    return [
        gr.Markdown(f"### {t('title', lang)}"),
        gr.Chatbot(placeholder=_placeholder(service, lang)),
        gr.Textbox(placeholder=t("question", lang)),
        gr.Button(t("send", lang)), gr.Button(t("stop", lang)), gr.Button(t("retry", lang)),
        gr.Button(t("new_chat", lang)), gr.Button(t("copy", lang)),
        gr.Textbox(value=t("copied", lang)),
        gr.Markdown(f"**{t('sources', lang)}**"),
        gr.Button(t("reindex", lang)),
        gr.Accordion(label=t("add_docs", lang)), gr.File(label=_upload_label(lang)),
        gr.Accordion(label=t("settings", lang)),
        gr.Dropdown(choices=model_choices(s.model, s.models_dir, lang), label=t("model", lang),
                    info=t("model_info", lang)),
        gr.Textbox(label=t("server_url", lang), info=t("server_url_info", lang)),
        gr.Slider(label=t("context", lang), info=t("context_info", lang)),
        gr.Slider(label=t("temperature", lang), info=t("temperature_info", lang)),
    ]


def _wire_language(service: Service, ui: SimpleNamespace, demo: gr.Blocks) -> None:
    redraw = [ui.chatbot, ui.sources, ui.status, ui.copy_box]
    labelled = _labelled(ui)

    def open_page(saved_turns, saved_lang, request: gr.Request):
        header = request.headers.get("accept-language") if request else None
        lang = saved_lang if saved_lang in i18n.LANGS else i18n.from_accept_language(header)
        turns = [x for x in saved_turns or [] if isinstance(x, dict) and "q" in x]
        return (lang, gr.Radio(value=lang), turns, *_redraw(service, turns, lang),
                *relabel(service, lang))

    demo.load(open_page, [ui.saved_turns, ui.saved_lang],
              [ui.lang, ui.lang_switch, ui.turns, *redraw, *labelled], queue=False,
              show_progress="hidden", **PRIVATE)

    def switch(lang, turns):
        lang = i18n.normalise(lang)
        return (lang, lang, *_redraw(service, turns or [], lang), *relabel(service, lang))

    ui.lang_switch.input(switch, [ui.lang_switch, ui.turns],
                         [ui.lang, ui.saved_lang, *redraw, *labelled], queue=False,
                         show_progress="hidden", **PRIVATE)


def _redraw(service: Service, turns: list[dict], lang: str) -> tuple:
    return (render.chat_messages(turns, lang), render.render_sources(turns, lang),
            render_status(service, lang), render.copy_text(turns, lang))


# ---------------------------------------------------------------------- status and files


def _busy(service: Service) -> bool:
    fetch = service.models.fetch
    return service.loading or (fetch is not None and fetch.state.state == "fetching")


def _wire_status(service: Service, ui: SimpleNamespace) -> None:
    def do_reindex(lang) -> Iterator[str]:
        service.start_reindex()
        yield from follow_job(service, lang)

    ui.reindex.click(do_reindex, [ui.lang], ui.status, concurrency_id="reindex",
                     concurrency_limit=None, show_progress="hidden", **PRIVATE)
    timer = gr.Timer(15)
    timer.tick(lambda lang: render_status(service, lang), [ui.lang], ui.status,
               show_progress="hidden", queue=False, **PRIVATE)
    # While the models load or download (right after `assistant serve` starts), follow
    # them every second, then stop: the status line says when they are ready.
    fast = gr.Timer(1, active=True)

    def follow(lang):
        return render_status(service, lang), gr.Timer(active=_busy(service))

    fast.tick(follow, [ui.lang], [ui.status, fast], show_progress="hidden", queue=False,
              **PRIVATE)


def follow_job(service: Service, lang: str) -> Iterator[str]:
    import time

    # start_reindex and the uploads forget the status; the last read is fresh in case
    # the run ended between two reads.
    yield render_status(service, lang)
    while service.reindex.state.running:
        time.sleep(0.5)
        yield render_status(service, lang)
    yield render_status(service, lang, fresh=True)


def _wire_files(service: Service, ui: SimpleNamespace) -> None:
    def do_upload(paths, lang) -> Iterator[tuple]:
        msg = upload_message(service, paths or [], lang)
        yield msg, None, render_status(service, lang)
        if service.reindex.state.running:
            for html_status in follow_job(service, lang):
                yield gr.skip(), gr.skip(), html_status

    ui.files.upload(do_upload, [ui.files, ui.lang], [ui.upload_msg, ui.files, ui.status],
                    concurrency_id="reindex", concurrency_limit=None, **PRIVATE)


def upload_message(service: Service, paths: list[Any], lang: str = "zh") -> str:
    """Add the uploaded files (Gradio's temporary copies) through the one upload path,
    and say what came of it."""
    from assistant.app.uploads import Upload

    uploads = []
    for p in paths:
        path = Path(getattr(p, "name", p))
        try:
            uploads.append(Upload.from_path(path))
        except OSError as e:
            uploads.append(Upload(path.name, 0, _raiser(e)))
    result = service.add_documents(uploads)
    lines = []
    if result.saved:
        names = ", ".join(f"`{html.escape(p.name)}`" for p in result.saved)
        lines.append(t("upload_added", lang, names=names))
    for r in result.refused:
        why = f"{r.error.message} {r.error.hint or ''}".strip()
        lines.append(t("upload_refused", lang, what=html.escape(f"{r.name}: {why}")))
    return "\n\n".join(lines)


def _raiser(e: OSError):
    def read() -> bytes:
        raise e

    return read


def _api(service: Service) -> None:
    def ask(question: str) -> dict:
        """Answer one question from the documents: the text with [n] markers, and the
        passages it cites (file, heading, lines, text) under "citations"."""
        from assistant.app.api import answer_fields

        try:
            answer = service.ask(question, [])
        except AssistantError as e:
            raise gr.Error(str(e)) from e
        return {"answer": answer.answer, **answer_fields(answer)}

    gr.api(ask, api_name="ask", concurrency_id="answer", concurrency_limit=ANSWER_CONCURRENCY)
