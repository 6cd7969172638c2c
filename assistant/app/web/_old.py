"""The web chat (Gradio): streamed answers whose [n] open the passage they cite.

Layout: a status line (model, embedder, fallbacks in force, whether the index is
current, a Re-index button), the chat with stop / retry / clear / copy, and beside it the
sources panel: every passage given to the model, with its score, as a card holding the
file, heading, lines and the passage with the question's words marked.

Document text reaches the page only through :func:`highlight` and :func:`escape_prose`,
which HTML-escape it before adding any markup of their own: a document holding
``<script>`` or ``<img onerror=...>`` shows those characters and runs nothing. Clicking
``[n]`` is handled in the page (``HEAD``): it opens the card with id ``src-<turn>-<n>``.
"""

from __future__ import annotations

import html
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant import store
from assistant.app.api import source_url
from assistant.errors import AssistantError
from assistant.ingest.loaders import SUPPORTED_SUFFIXES
from assistant.text.tokens import CJK, CJK_CHARS

if TYPE_CHECKING:
    from assistant.app.server import Service

log = logging.getLogger("assistant.app.web")

ANSWER_CONCURRENCY = 4  # answers in flight; a local model still writes one at a time
MAX_TURNS_SHOWN = 12  # turns whose source cards stay in the page
STREAM_EVERY = 0.04  # seconds between two screen updates while tokens arrive

FONTS = [
    "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue",
    "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC", "Source Han Sans SC",
    "Microsoft YaHei", "WenQuanYi Micro Hei", "Arial", "sans-serif",
]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Noto Sans Mono CJK SC",
        "monospace"]


def theme():
    # Named local fonts only: the default theme would fetch Google Fonts, and this runs
    # offline.
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate", font=FONTS,
                             font_mono=MONO)


CSS = """
.gradio-container { max-width: 1400px !important; }
#status-line { font-size: var(--text-sm); line-height: 1.5; }
#status-line .row { display: flex; flex-wrap: wrap; gap: .25rem 1.1rem; align-items: baseline; }
#status-line .k { color: var(--body-text-color-subdued); margin-right: .3em; }
#status-line .ok { color: var(--color-green-600, #16a34a); }
#status-line .stale { color: var(--color-orange-600, #d97706); font-weight: 600; }
.dark #status-line .ok { color: #4ade80; }
.dark #status-line .stale { color: #fbbf24; }
#status-line progress { width: 10rem; height: .7rem; vertical-align: middle; }
#status-line .notices { margin: .25rem 0 0; padding: 0; list-style: none; font-size: .9em;
  color: var(--body-text-color-subdued); }
#status-line .notices li::before { content: "⚠ "; }
#status-row { align-items: center; }
#reindex { align-self: flex-start; }
#status-line .job { color: var(--body-text-color-subdued); }
#chat a.cite, .sources-panel a.cite {
  text-decoration: none; font-weight: 600; font-size: .85em; padding: 0 .15em;
  border-radius: .25em; color: var(--link-text-color, #2563eb);
  background: var(--color-accent-soft, #dbeafe); cursor: pointer; }
#chat a.cite:hover { text-decoration: underline; }
#chat .cited { display: block; margin-top: .4em; font-size: .85em;
  color: var(--body-text-color-subdued); }
#chat .note { display: block; margin-top: .3em; font-size: .85em;
  color: var(--body-text-color-subdued); }
.sources-panel { font-size: var(--text-sm); }
.sources-panel .empty { color: var(--body-text-color-subdued); padding: .5rem 0; }
.sources-panel .turn { display: none; }
.sources-panel .turn.shown { display: block; }
.sources-panel .turn-q { margin: 0 0 .5rem; color: var(--body-text-color-subdued); }
.sources-panel .turn-q b { color: var(--body-text-color); font-weight: 600; }
.sources-panel details.src { border: 1px solid var(--border-color-primary);
  border-radius: var(--radius-md, 6px); margin: 0 0 .5rem; padding: .35rem .6rem;
  background: var(--background-fill-primary); }
.sources-panel details.src[open] { background: var(--background-fill-secondary); }
.sources-panel details.src.active { border-color: var(--color-accent, #2563eb);
  box-shadow: 0 0 0 2px var(--color-accent-soft, #bfdbfe); }
.sources-panel summary { cursor: pointer; list-style-position: outside; }
.sources-panel summary .n { font-weight: 700; margin-right: .3em; }
.sources-panel summary .doc { font-weight: 600; word-break: break-all; }
.sources-panel summary .meta { color: var(--body-text-color-subdued); font-size: .9em;
  white-space: nowrap; }
.sources-panel .badge { font-size: .75em; padding: 0 .4em; border-radius: 1em;
  background: var(--color-accent-soft, #dbeafe); color: var(--body-text-color); }
.sources-panel .where { margin: .4rem 0 .3rem; color: var(--body-text-color-subdued); }
.sources-panel .passage { white-space: pre-wrap; word-break: break-word; line-height: 1.65;
  margin: 0; max-height: 24rem; overflow: auto; color: var(--body-text-color); }
.sources-panel .open { display: inline-block; margin-top: .35rem; font-size: .9em; }
.sources-panel mark, #chat mark { background: #fde68a; color: #1f2937; padding: 0 .1em;
  border-radius: 2px; }
.dark .sources-panel mark { background: #a16207; color: #fff; }
#sources-box { max-height: 72vh; overflow-y: auto; }
"""

# Opens the card of a clicked [n]. Runs in the page: the chat's own sanitizer keeps our
# links' class and href, and a capturing listener sees the click before the chat does.
HEAD = """
<script>
(() => {
  if (window.__assistantCitations) return;
  window.__assistantCitations = true;
  function openCard(id, scroll) {
    const card = document.getElementById(id);
    if (!card) return;
    const turn = card.closest('.turn');
    document.querySelectorAll('.sources-panel .turn').forEach(
      (t) => t.classList.toggle('shown', t === turn));
    document.querySelectorAll('.sources-panel details.src.active').forEach(
      (d) => d.classList.remove('active'));
    card.open = true;
    card.classList.add('active');
    if (scroll) card.scrollIntoView({block: 'nearest', behavior: 'smooth'});
    window.__assistantActiveCard = id;
  }
  // The panel is redrawn when an answer completes: keep the card the reader opened,
  // unless the redraw shows another question's sources.
  new MutationObserver(() => {
    const id = window.__assistantActiveCard;
    const card = id && document.getElementById(id);
    if (!card || card.classList.contains('active')) return;
    if (card.closest('.turn.shown')) openCard(id, false);
    else window.__assistantActiveCard = null;
  }).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener('click', (e) => {
    const a = e.target instanceof Element ? e.target.closest('a[href^="#src-"]') : null;
    if (!a) return;
    e.preventDefault();
    e.stopPropagation();
    openCard(a.getAttribute('href').slice(1), true);
  }, true);
})();
</script>
"""

COPY_JS = """
(text) => {
  const t = text || '';
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(t);
  } else {
    const ta = document.createElement('textarea');
    ta.value = t; ta.style.position = 'fixed'; ta.style.opacity = '0';
    document.body.appendChild(ta); ta.select(); document.execCommand('copy'); ta.remove();
  }
  return [];
}
"""

# ------------------------------------------------------------------------------ rendering

# Fenced code blocks and inline code spans: shown verbatim by the Markdown renderer, so
# they are neither escaped nor linked.
_CODE = re.compile(r"(^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\2[ \t]*$|\Z)|`+[^`\n]+`+)",
                   re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"\[(\d{1,4})\]")


def escape_prose(text: str, link=None) -> str:
    """``text`` with &, < and > escaped outside code; ``link(n)`` replaces each [n]."""
    out, pos = [], 0
    for m in _CODE.finditer(text or ""):
        out.append(_prose(text[pos : m.start()], link))
        out.append(m.group(0))
        pos = m.end()
    out.append(_prose((text or "")[pos:], link))
    return "".join(out)


def _prose(part: str, link) -> str:
    part = html.escape(part, quote=False)
    if link is None:
        return part
    return _MARKER.sub(lambda m: link(int(m.group(1))) or m.group(0), part)


def cite_link(tid: int, n: int, source: dict | None) -> str:
    title = ""
    if source:
        where = " · ".join(x for x in (source.get("doc"), source.get("heading")) if x)
        title = f' title="{html.escape(where, quote=True)}"'
    return f'<a class="cite" href="#src-{tid}-{n}"{title}>[{n}]</a>'


def _terms(question: str) -> list[str]:
    from assistant.text.tokens import query_tokens

    try:
        toks = query_tokens(question)
    except Exception:  # highlighting is a nicety; never fail a card over it
        return []
    # Single Latin letters and lone CJK function characters mark half the passage.
    return sorted({t for t in toks if len(t) > 1 or not t.isascii()}, key=len, reverse=True)


def highlight(text: str, terms: list[str]) -> str:
    """``text`` HTML-escaped, then each occurrence of a term wrapped in <mark>.

    Terms are matched in the escaped text (escaped the same way), and character
    references such as ``&lt;`` are skipped whole, so a mark never splits one.

    >>> highlight("<b>vLLM</b> 很快", ["vllm"])
    '&lt;b&gt;<mark>vLLM</mark>&lt;/b&gt; 很快'
    """
    safe = html.escape(text or "", quote=True)
    if not terms:
        return safe
    alts = []
    for t in terms:
        e = re.escape(html.escape(t, quote=True))
        # Latin words only from a word start ("ai" must not mark "said"); words of four
        # letters or more also take an ending ("freeze" marks "freezes").
        if t.isascii():
            tail = "[A-Za-z]{0,3}" if len(t) >= 4 else ""
            e = rf"(?<![A-Za-z0-9]){e}{tail}(?![A-Za-z0-9])"
        alts.append(e)
    pattern = re.compile(r"(&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);)|(" + "|".join(alts) + ")",
                         re.IGNORECASE)

    def mark(m: re.Match) -> str:
        return m.group(1) if m.group(1) else f"<mark>{m.group(2)}</mark>"

    # Neighbouring terms ("推理" "框架") read as one mark.
    return pattern.sub(mark, safe).replace("</mark><mark>", "")


def render_card(tid: int, s: dict, terms: list[str], cited: bool) -> str:
    e = html.escape
    lines = s.get("lines") or [0, 0]
    span = f"lines {lines[0]}–{lines[-1]}" if lines[0] != lines[-1] else f"line {lines[0]}"
    if s.get("page"):
        span = f"page {s['page']}, {span}"
    # One separator for the whole path: chunk headings join their levels with " > ".
    path = [s.get("title") or "", *(s.get("heading") or "").split(" > ")]
    where = " › ".join(x.strip() for x in path if x.strip())
    # The closed card names the section too: the file alone does not say what it is about.
    section = (s.get("heading") or "").split(" > ")[-1].strip()
    section = section if len(section) <= 40 else section[:39] + "…"
    score = f"score {float(s.get('score', 0)):.2f}"
    meta = "· " + " · ".join([e(section), span, score] if section else [span, score])
    badge = ' <span class="badge">cited</span>' if cited else ""
    url = source_url(s.get("doc", ""), lines, s.get("page"))
    return (
        f'<details class="src{" cited" if cited else ""}" id="src-{tid}-{s["n"]}">'
        f'<summary><span class="n">[{s["n"]}]</span><span class="doc">{e(s.get("doc", ""))}'
        f'</span>{badge} <span class="meta">{meta}</span></summary>'
        f'<div class="where">{e(where)}</div>'
        f'<div class="passage">{highlight(s.get("text", ""), terms)}</div>'
        f'<a class="open" href="{e(url, quote=True)}" target="_blank" rel="noopener noreferrer">'
        f"Open {e(s.get('doc', ''))} at {span}</a>"
        "</details>"
    )


EMPTY_SOURCES = (
    '<div class="sources-panel"><div class="empty">The passages given to the model appear '
    "here, with their scores. Click a <b>[n]</b> in an answer to open its card.</div></div>"
)


def render_sources(turns: list[dict]) -> str:
    """The sources panel: a section of cards per turn, the newest one shown."""
    shown = [t for t in turns if t.get("sources")][-MAX_TURNS_SHOWN:]
    if not shown:
        return EMPTY_SOURCES
    parts = ['<div class="sources-panel">']
    for i, t in enumerate(shown):
        terms = _terms(t["q"])
        cited = set(t.get("cited") or [])
        cls = "turn shown" if i == len(shown) - 1 else "turn"
        parts.append(
            f'<section class="{cls}" id="turn-{t["id"]}"><div class="turn-q">'
            f'{_plural(len(t["sources"]), "passage")} for <b>{html.escape(t["q"])}</b></div>'
        )
        parts.extend(render_card(t["id"], s, terms, s["n"] in cited) for s in t["sources"])
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


def render_answer(t: dict) -> str:
    """One assistant message: the answer with [n] linked, then the cited passages."""
    by_n = {s["n"]: s for s in t.get("sources") or []}

    def link(n: int) -> str | None:
        return cite_link(t["id"], n, by_n[n]) if n in by_n else None

    if t.get("error"):
        return f"⚠️ {html.escape(t['error'], quote=False)}"
    body = escape_prose(t.get("answer", ""), link)
    if t["state"] == "pending" and not t.get("answer"):
        return f"<em>{html.escape(t.get('status') or 'searching')}…</em>"
    if t["state"] == "stopped":
        body += ' <span class="note">(stopped)</span>'
    cited = [by_n[n] for n in t.get("cited") or [] if n in by_n]
    if cited and t["state"] == "done":
        items = []
        for s in cited:
            items.append(f"{cite_link(t['id'], s['n'], s)} {html.escape(s['doc'])}:"
                         f"{_span(s.get('lines'))}")
        body += f'\n\n<span class="cited">{" · ".join(items)}</span>'
    if t.get("notice") and t["state"] == "done":
        body += f'\n\n<span class="note">{html.escape(t["notice"])}</span>'
    return body


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _span(lines: list[int] | None) -> str:
    lo, hi = (lines or [0, 0])[0], (lines or [0, 0])[-1]
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def chat_messages(turns: list[dict]) -> list[dict]:
    msgs = []
    for t in turns:
        msgs.append({"role": "user", "content": escape_prose(t["q"])})
        msgs.append({"role": "assistant", "content": render_answer(t)})
    return msgs


def copy_text(turns: list[dict]) -> str:
    """The last answer as plain text, with its cited passages listed under it."""
    done = [t for t in turns if t.get("answer")]
    if not done:
        return ""
    t = done[-1]
    by_n = {s["n"]: s for s in t.get("sources") or []}
    lines = [t["answer"].strip()]
    cited = [by_n[n] for n in t.get("cited") or [] if n in by_n]
    if cited:
        lines.append("")
        for s in cited:
            ls = s.get("lines") or [0, 0]
            head = f", {s['heading']}" if s.get("heading") else ""
            lines.append(f"[{s['n']}] {s['doc']}{head}, lines {ls[0]}–{ls[-1]}")
    return "\n".join(lines)


def history_of(turns: list[dict]) -> list[dict]:
    """The finished turns as chat messages, for condensing a follow-up question."""
    out = []
    for t in turns:
        if t["state"] == "done" and t.get("answer"):
            out += [{"role": "user", "content": t["q"]},
                    {"role": "assistant", "content": t["answer"]}]
    return out


# ----------------------------------------------------------------------------- status line


def render_status(service: Service, fresh: bool = False) -> str:
    e = html.escape
    st = service.index_status(fresh=fresh)
    job = service.reindex.state
    idx_cls = "ok" if st.current else "stale"
    index_text = f"{st.documents} documents · {st.chunks} passages · {st.summary()}"
    parts = [
        '<div class="row">',
        f'<span><span class="k">Model</span>{e(service.backend)}</span>',
        f'<span><span class="k">Embedder</span>{e(st.embedder or "?")}</span>',
        f'<span><span class="k">Index</span><span class="{idx_cls}">{e(index_text)}</span>'
        "</span>",
    ]
    if job.running:
        bar = (f'<progress value="{job.done}" max="{job.total}"></progress> '
               if job.total else "<progress></progress> ")
        parts.append(f'<span class="job">{bar}{e(job.describe())}</span>')
    elif service.indexing:
        parts.append('<span class="job"><progress></progress> re-indexing the files that '
                     "changed</span>")
    elif job.runs and job.finished and time.time() - job.finished < 120:
        parts.append(f'<span class="job">{e(job.describe())}</span>')
    parts.append("</div>")
    notes = service.notices()
    if notes:
        parts.append('<ul class="notices">'
                     + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    return "".join(parts)


# --------------------------------------------------------------------------- examples

_NUMBERING = re.compile(
    r"^\s*(?:(?:\d+|[IVXivx]+)(?:\.\d+)*[.、)）:]?\s+|[一二三四五六七八九十]+[、.]\s*)"
)
_GENERIC = frozenset(
    """survey overview introduction intro summary conclusion references contents appendix
    abstract background notes todo faq misc 引言 概述 简介 总结 小结 参考 参考文献 目录 附录
    前言 背景 说明 其他 其它 基础理论""".split()  # noqa: SIM905 - a word list reads better as text
)


def example_questions(index_dir: Path, limit: int = 4) -> list[str]:
    """Questions built from the corpus's headings: "什么是 MoE？", "What is LoRA?".

    Headings under which the most passages sit come first, one document at a time, so
    the examples spread over the corpus. Chinese wording unless the headings are
    mostly Latin script.
    """
    try:
        conn = sqlite3.connect(f"file:{Path(index_dir) / store.DB_NAME}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT d.path, c.heading, COUNT(*) FROM chunks c JOIN documents d "
                "ON d.id = c.doc_id WHERE c.heading != '' GROUP BY d.path, c.heading "
                "ORDER BY COUNT(*) DESC, d.path"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return []
    per_doc: dict[str, list[str]] = {}
    seen: set[str] = set()
    for doc, heading, _ in rows:
        leaf = _NUMBERING.sub("", heading.split(" > ")[-1]).strip(" #*:：")
        key = leaf.lower().removesuffix("汇总")  # "推理框架汇总" asks what "推理框架" asks
        if not (2 <= len(leaf) <= 24) or key in seen or key in _GENERIC:
            continue
        if not re.search(f"[A-Za-z{CJK_CHARS}]", leaf):
            continue
        seen.add(key)
        per_doc.setdefault(doc, []).append(leaf)
    leaves = [x for group in per_doc.values() for x in group]
    chinese = sum(bool(CJK.search(x)) for x in leaves) * 2 >= len(leaves) or not leaves
    out: list[str] = []
    queues = [list(v) for v in per_doc.values()]
    while len(out) < limit and any(queues):
        for q in queues:
            if q and len(out) < limit:
                out.append(_question(q.pop(0), chinese))
    return out


def _question(term: str, chinese: bool) -> str:
    if chinese:
        if term.endswith("汇总") and len(term) > 2:
            return f"有哪些{_space(term[:-2])}？"
        return f"什么是{_space(term)}？"
    return f"What is {term}?"


def _space(term: str) -> str:
    """A space between Chinese and a Latin word that follows it: "什么是 MoE"."""
    return f" {term}" if term[:1].isascii() else term


# ----------------------------------------------------------------------------- settings


def _bounds(name: str) -> tuple[float | None, float | None]:
    """A setting's (ge, le) bounds, so the sliders follow the settings' own limits."""
    from assistant.settings import Settings

    lo = hi = None
    for m in Settings.model_fields[name].metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    return lo, hi


def _model_choices(current: str, models_dir: str | Path) -> list[tuple[str, str]]:
    """The dropdown's (label, value) pairs. A preset that is not on disk says so: choosing
    it answers by quoting, as the status line then shows, until it is pulled."""
    from assistant.generate.presets import PRESETS
    from assistant.hub.files import find_model_file

    def label(p) -> str:
        return p.label if find_model_file(p, models_dir) else f"{p.label} (not downloaded)"

    choices = [("Extractive: no model, quotes the sources", "extractive")]
    choices += [(label(p), p.name) for p in PRESETS.values()]
    if _model_value(current) == current and current not in PRESETS and current.strip():
        missing = find_model_file(current, models_dir) is None  # a .gguf path
        choices.append((f"{current} (not found)" if missing else current, current))
    return choices


def _model_value(model: str) -> str:
    """The dropdown value for a configured model: "none" is "extractive", "Phi-2" is
    "phi-2"; a path stays as it is."""
    from assistant.generate import NO_MODEL
    from assistant.generate.presets import PRESETS

    if model.strip().lower() in NO_MODEL:
        return "extractive"
    return model.lower() if model.lower() in PRESETS else model


# ---------------------------------------------------------------------------------- the UI


def build_ui(service: Service) -> gr.Blocks:
    """The chat page over ``service``. Mount it with :func:`assistant.app.server.create_app`."""
    from assistant.settings import Settings

    settings = service.settings
    fields = Settings.model_fields
    examples = example_questions(settings.index)
    suffixes = sorted(SUPPORTED_SUFFIXES)

    with gr.Blocks(title="Ask your documents", analytics_enabled=False) as demo:
        turns = gr.State([])
        gr.Markdown("### Ask your documents · 问你的文档", elem_id="title")
        with gr.Row(equal_height=False, elem_id="status-row"):
            # Filled in when a page opens (demo.load below), not while the app is built:
            # reading the index and walking the corpus would delay `serve` listening.
            status = gr.HTML("", elem_id="status-line", js_on_load=None, scale=8)
            reindex_btn = gr.Button("Re-index", size="sm", scale=0, min_width=100,
                                    elem_id="reindex")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=380):
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    label="Chat",
                    show_label=False,
                    height=500,
                    resizable=True,
                    buttons=[],
                    feedback_options=None,
                    latex_delimiters=[],
                    examples=[{"text": q} for q in examples] or None,
                    placeholder=(
                        "**Ask about the documents in** "
                        f"<code>{html.escape(str(settings.corpus))}</code>. "
                        "Answers cite their passages as [1], [2] … : click one to see it."
                        "<br>用中文或英文提问都可以。"
                    ),
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Ask a question · 输入问题，按 Enter 发送",
                        lines=1,
                        max_lines=6,
                        scale=8,
                        elem_id="question",
                        autofocus=True,
                        submit_btn=False,
                    )
                    send_btn = gr.Button("Send", variant="primary", scale=1, min_width=80,
                                         elem_id="send")
                with gr.Row():
                    stop_btn = gr.Button("Stop", size="sm", elem_id="stop")
                    retry_btn = gr.Button("Retry", size="sm", elem_id="retry")
                    clear_btn = gr.Button("Clear", size="sm", elem_id="clear")
                    copy_btn = gr.Button("Copy answer", size="sm", elem_id="copy")
                copy_box = gr.Textbox(visible=False)
            with gr.Column(scale=2, min_width=320):
                gr.Markdown("**Sources**")
                sources = gr.HTML(EMPTY_SOURCES, elem_id="sources-box", js_on_load=None)
        with gr.Accordion("Add documents", open=False):
            files = gr.File(
                label=f"Documents ({' '.join(suffixes)}; up to "
                      f"{_max_mb():g} MB each). They are copied into the corpus and indexed.",
                file_count="multiple",
                file_types=suffixes,
                elem_id="upload",
            )
            upload_msg = gr.Markdown()
        with gr.Accordion("Settings", open=False):
            with gr.Row():
                model = gr.Dropdown(
                    choices=_model_choices(settings.model, settings.models_dir),
                    value=_model_value(settings.model),
                    label="Model",
                    info=fields["model"].description,
                    allow_custom_value=True,
                )
                llm_url = gr.Textbox(
                    value=settings.llm_url or "",
                    label="Server URL",
                    info=f"{fields['llm_url'].description}; when set, it answers instead of "
                         "the model",
                    placeholder="http://127.0.0.1:8080/v1",
                )
            with gr.Row():
                lo, hi = _bounds("context_tokens")
                context = gr.Slider(lo, hi, value=settings.context_tokens, step=50,
                                    label="Context budget (tokens)",
                                    info=fields["context_tokens"].description)
                lo, hi = _bounds("temperature")
                temperature = gr.Slider(lo, hi, value=settings.temperature, step=0.05,
                                        label="Temperature",
                                        info=fields["temperature"].description)

        tunables = [model, llm_url, context, temperature]
        outputs = [chatbot, turns, sources, question, copy_box]

        def respond(q, state, model, url, context, temp) -> Iterator[tuple]:
            yield from _respond(service, q, state, (model, url, context, temp))

        def retry(state, model, url, context, temp) -> Iterator[tuple]:
            tune = (model, url, context, temp)
            state = list(state or [])
            while state and state[-1]["state"] == "pending":
                state.pop()
            if not state:
                yield gr.skip(), state, gr.skip(), gr.skip(), gr.skip()
                return
            last = state.pop()
            yield from _respond(service, last["q"], state, tune)

        def ask_example(state, model, url, context, temp, evt: gr.SelectData):
            value = evt.value if isinstance(evt.value, dict) else {"text": evt.value}
            yield from _respond(service, value.get("text", ""), state,
                                (model, url, context, temp))

        answer_kw = {"concurrency_id": "answer", "concurrency_limit": ANSWER_CONCURRENCY,
                     "api_visibility": "private"}
        asks = [
            question.submit(respond, [question, turns, *tunables], outputs, **answer_kw),
            send_btn.click(respond, [question, turns, *tunables], outputs, **answer_kw),
            retry_btn.click(retry, [turns, *tunables], outputs, **answer_kw),
            chatbot.retry(retry, [turns, *tunables], outputs, **answer_kw),
            chatbot.example_select(ask_example, [turns, *tunables], outputs, **answer_kw),
        ]

        def stop(state):
            state = [dict(t, state="stopped") if t["state"] == "pending" else t
                     for t in state or []]
            return chat_messages(state), state, copy_text(state)

        stop_btn.click(stop, [turns], [chatbot, turns, copy_box], cancels=asks,
                       api_visibility="private", queue=False)

        def clear():
            return [], [], EMPTY_SOURCES, ""

        clear_btn.click(clear, None, [chatbot, turns, sources, copy_box], cancels=asks,
                        api_visibility="private", queue=False)
        chatbot.clear(clear, None, [chatbot, turns, sources, copy_box], cancels=asks,
                      api_visibility="private", queue=False)
        copy_btn.click(None, [copy_box], None, js=COPY_JS, api_visibility="private")

        def do_reindex() -> Iterator[str]:
            service.start_reindex()
            yield from _follow_job(service)

        reindex_btn.click(do_reindex, None, status, concurrency_id="reindex",
                          concurrency_limit=None, api_visibility="private",
                          show_progress="hidden")

        def do_upload(paths) -> Iterator[tuple]:
            msg = _save_uploads(service, paths or [])
            yield msg, None, render_status(service)  # save_upload forgot the old status
            if service.reindex.state.running:
                for html_status in _follow_job(service):
                    yield gr.skip(), gr.skip(), html_status

        files.upload(do_upload, [files], [upload_msg, files, status], concurrency_id="reindex",
                     concurrency_limit=None, api_visibility="private")

        timer = gr.Timer(15)
        timer.tick(lambda: render_status(service), None, status, api_visibility="private",
                   show_progress="hidden", queue=False)
        # While the models load in the background (right after `assistant serve` starts),
        # follow them every second, then stop: the status line says when they are ready.
        loading_timer = gr.Timer(1, active=service.loading)

        def follow_loading():
            return render_status(service), gr.Timer(active=service.loading)

        loading_timer.tick(follow_loading, None, [status, loading_timer],
                           api_visibility="private", show_progress="hidden", queue=False)
        demo.load(lambda: render_status(service), None, status, api_visibility="private",
                  show_progress="hidden", queue=False)

        def ask(question: str) -> dict:
            """Answer one question from the documents: the text with [n] markers, and the
            passages it cites (file, heading, lines, text) under "citations"."""
            from assistant.app.api import answer_fields

            try:
                answer = service.ask(question, [])
            except AssistantError as e:
                raise gr.Error(str(e)) from e
            return {"answer": answer.answer, **answer_fields(answer)}

        gr.api(ask, api_name="ask", concurrency_id="answer",
               concurrency_limit=ANSWER_CONCURRENCY)

    demo.queue(default_concurrency_limit=ANSWER_CONCURRENCY, max_size=256)
    return demo


def _max_mb() -> float:
    from assistant.ingest.indexer import max_file_bytes

    return max_file_bytes() / 2**20


def _follow_job(service: Service) -> Iterator[str]:
    # start_reindex and save_upload forget the status; the last read is fresh in case
    # the run ended between two reads.
    yield render_status(service)
    while service.reindex.state.running:
        time.sleep(0.5)
        yield render_status(service)
    yield render_status(service, fresh=True)


def _save_uploads(service: Service, paths: list[Any]) -> str:
    saved, refused = [], []
    for p in paths:
        path = Path(getattr(p, "name", p))
        try:
            data = path.read_bytes()
            saved.append(service.save_upload(path.name, data).name)
        except AssistantError as e:
            refused.append(f"{path.name}: {e.message} {e.hint or ''}".strip())
        except OSError as e:
            refused.append(f"{path.name}: could not be read ({e.strerror})")
    lines = []
    if saved:
        lines.append("Added " + ", ".join(f"`{html.escape(n)}`" for n in saved)
                     + "; re-indexing now.")
        service.start_reindex()
    lines += [f"Refused {html.escape(r)}" for r in refused]
    return "\n\n".join(lines)


def _respond(service: Service, q: str, state: list[dict], tune: tuple) -> Iterator[tuple]:
    """One chat turn as a stream of screen updates (chat, state, sources, box, copy)."""
    q = (q or "").strip()
    state = [dict(t, state="stopped") if t["state"] == "pending" else t for t in state or []]
    if not q:
        yield gr.skip(), state, gr.skip(), gr.skip(), gr.skip()
        return
    history = history_of(state)
    tid = (state[-1]["id"] + 1) if state else 1
    turn: dict[str, Any] = {"id": tid, "q": q, "answer": "", "sources": [], "cited": [],
                            "state": "pending", "status": "searching"}
    state = [*state, turn]
    yield chat_messages(state), state, gr.skip(), "", gr.skip()
    model, llm_url, context, temperature = tune
    last = 0.0
    try:
        overrides = service.overrides(
            model=model, llm_url=llm_url,
            context_tokens=int(context) if context is not None else None,
            temperature=float(temperature) if temperature is not None else None,
        )
        for ev in service.stream(q, history, overrides):
            if ev.kind == "status":
                turn["status"] = ev.text
                yield chat_messages(state), state, gr.skip(), gr.skip(), gr.skip()
            elif ev.kind == "sources":
                turn["sources"] = [s.to_json() for s in ev.sources or []]
                yield (chat_messages(state), state, render_sources(state), gr.skip(),
                       gr.skip())
            elif ev.kind == "token":
                turn["answer"] += ev.text
                now = time.monotonic()
                if now - last >= STREAM_EVERY:
                    last = now
                    yield chat_messages(state), state, gr.skip(), gr.skip(), gr.skip()
            elif ev.kind == "done" and ev.answer is not None:
                a = ev.answer
                turn.update(
                    answer=a.answer,
                    cited=[s.n for s in a.citations],
                    sources=[s.to_json() for s in a.sources] or turn["sources"],
                    notice=a.notice,
                    abstained=a.abstained,
                    state="done",
                )
        if turn["state"] != "done":
            turn.update(state="error", error="The assistant stopped without an answer.")
    except AssistantError as e:
        turn.update(state="error", error=str(e))
    except Exception as e:  # one failed answer must not take the page down
        log.exception("answer failed")
        turn.update(state="error",
                    error=f"Something went wrong ({type(e).__name__}); see the server log.")
    yield (chat_messages(state), state, render_sources(state), gr.skip(), copy_text(state))
