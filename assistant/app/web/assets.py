"""The page's look and its few lines of script: fonts, CSS, the [n] click handler,
the status line's details kept open across redraws, copying to the clipboard."""

from __future__ import annotations

FONTS = [
    "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue",
    "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC", "Source Han Sans SC",
    "Microsoft YaHei", "WenQuanYi Micro Hei", "Arial", "sans-serif",
]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Noto Sans Mono CJK SC",
        "monospace"]


def theme():
    import gradio as gr

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
#status-line .warn { color: var(--color-orange-600, #b45309); }
.dark #status-line .warn { color: #fbbf24; }
#status-line .busy { color: var(--body-text-color-subdued); }
#status-line details.more { margin-top: .2rem; }
#status-line details.more summary { cursor: pointer; color: var(--body-text-color-subdued);
  font-size: .92em; }
#status-line details.more ul { margin: .3rem 0 0; padding-left: 1.2rem; font-size: .9em; }
#status-line details.more li { margin: .2rem 0; }
#status-line code { font-size: .92em; padding: 0 .3em; border-radius: .25em;
  background: var(--background-fill-secondary); user-select: all; }
#title-row { align-items: center; }
#lang { flex-grow: 0 !important; }
#lang .wrap { flex-wrap: nowrap; gap: .3rem; }
#lang label { padding: .2rem .6rem; }
#chat .placeholder-content { text-align: center; }
#chat .placeholder { margin: 0 auto; max-width: 36rem; }
#chat .note.warn { color: var(--color-orange-700, #b45309); }
.dark #chat .note.warn { color: #fbbf24; }
#chat em.wait { color: var(--body-text-color-subdued); }
#chat .quote-first { display: block; margin: .4em 0 0; font-size: .85em;
  color: var(--body-text-color-subdued); }
#chat blockquote { margin: .3em 0 0; padding-left: .7em; opacity: .85;
  border-left: 3px solid var(--border-color-primary); }
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
  // The status line is redrawn every few seconds: keep its details open if opened.
  document.addEventListener('toggle', (e) => {
    const d = e.target;
    if (d instanceof Element && d.matches('#status-line details.more'))
      window.__assistantStatusOpen = d.open;
  }, true);
  new MutationObserver(() => {
    const d = document.querySelector('#status-line details.more');
    if (d && window.__assistantStatusOpen && !d.open) d.open = true;
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

# Copies the answer and its sources, and says so on the button for a moment.
COPY_JS = """
(text, done) => {
  const t = text || '';
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(t);
  } else {
    const ta = document.createElement('textarea');
    ta.value = t; ta.style.position = 'fixed'; ta.style.opacity = '0';
    document.body.appendChild(ta); ta.select(); document.execCommand('copy'); ta.remove();
  }
  window.__assistantCopied = t;
  const b = document.querySelector('#copy');
  if (b && t) {
    const was = b.textContent;
    b.textContent = '✓ ' + done;
    setTimeout(() => { b.textContent = was; }, 1500);
  }
  return [];
}
"""
