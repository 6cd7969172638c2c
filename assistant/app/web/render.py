"""The chat's HTML: answers with their [n] linked, source cards, the sources panel.

Document text reaches the page only through :func:`highlight` and :func:`escape_prose`,
which HTML-escape it before adding any markup of their own: a document holding
``<script>`` or ``<img onerror=...>`` shows those characters and runs nothing. Clicking
``[n]`` is handled in the page (``assets.HEAD``): it opens the card with id
``src-<turn>-<n>``; a card merging several sources carries the first of their numbers,
and every marker of the others links to it.
"""

from __future__ import annotations

import html
import re

from assistant.app.api import source_url
from assistant.app.i18n import t

MAX_TURNS_SHOWN = 12  # turns whose source cards stay in the page
MIN_SCORE = 0.005  # a passage scored below this is not shown unless the answer cites it

# Fenced code blocks and inline code spans: shown verbatim by the Markdown renderer, so
# they are neither escaped nor linked.
_CODE = re.compile(r"(^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\2[ \t]*$|\Z)|`+[^`\n]+`+)",
                   re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"\[(\d{1,4})\]")
_QUOTE_LINE = re.compile(r"^&gt;(?= )", re.MULTILINE)


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
    # A line opening with "> " stays a Markdown block quote (a brief answer's backing
    # sentence, answer/backing.py): "&gt; " would show the bracket instead.
    part = _QUOTE_LINE.sub(">", html.escape(part, quote=False))
    if link is None:
        return part
    return _MARKER.sub(lambda m: link(int(m.group(1))) or m.group(0), part)


def cite_link(tid: int, n: int, source: dict | None) -> str:
    title, card = "", n
    if source:
        where = " · ".join(x for x in (source.get("doc"), source.get("heading")) if x)
        title = f' title="{html.escape(where, quote=True)}"'
        card = (source.get("ns") or [n])[0]
    return f'<a class="cite" href="#src-{tid}-{card}"{title}>[{n}]</a>'


# ------------------------------------------------------------------------------- marking


def terms(question: str) -> list[str]:
    """The question's own terms to mark in its passages: its content words, not its
    question words, particles or lone characters (成 in a passage is not a match for
    组成 in the question)."""
    from assistant.answer.abstain import QUESTION_WORD
    from assistant.text.tokens import QUERY_STOPWORDS, query_tokens

    try:
        toks = query_tokens(question)
    except Exception:  # highlighting is a nicety; never fail a card over it
        return []
    content = [x for x in toks if x not in QUERY_STOPWORDS and not QUESTION_WORD.search(x)]
    longer = [x for x in content if len(x) > 1]
    # A lone CJK character only when the question has nothing longer ("什么是锁？").
    kept = longer or [x for x in content if not x.isascii()]
    return sorted(set(kept), key=len, reverse=True)


def highlight(text: str, words: list[str]) -> str:
    """``text`` HTML-escaped, then each occurrence of a term wrapped in <mark>.

    Terms are matched in the escaped text (escaped the same way), and character
    references such as ``&lt;`` are skipped whole, so a mark never splits one.

    >>> highlight("<b>vLLM</b> 很快", ["vllm"])
    '&lt;b&gt;<mark>vLLM</mark>&lt;/b&gt; 很快'
    """
    safe = html.escape(text or "", quote=True)
    if not words:
        return safe
    alts = []
    for w in words:
        e = re.escape(html.escape(w, quote=True))
        # Latin words only from a word start ("ai" must not mark "said"); words of four
        # letters or more also take an ending ("freeze" marks "freezes").
        if w.isascii():
            tail = "[A-Za-z]{0,3}" if len(w) >= 4 else ""
            e = rf"(?<![A-Za-z0-9]){e}{tail}(?![A-Za-z0-9])"
        alts.append(e)
    pattern = re.compile(r"(&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);)|(" + "|".join(alts) + ")",
                         re.IGNORECASE)

    def mark(m: re.Match) -> str:
        return m.group(1) if m.group(1) else f"<mark>{m.group(2)}</mark>"

    # Neighbouring terms ("推理" "框架") read as one mark.
    return pattern.sub(mark, safe).replace("</mark><mark>", "")


# ------------------------------------------------------------------------------- sources


def merge_sources(sources: list[dict], cited: set[int] | None = None) -> list[dict]:
    """One card per distinct passage: sources of the same file (and page) whose lines
    overlap become one, keeping every citation number (``ns``), the widest lines and the
    best score. A source of no relevance (score under ``MIN_SCORE``) is left out unless
    the answer cites it.

    >>> [c["ns"] for c in merge_sources([{"n": 1, "doc": "a.md", "lines": [3, 5]},
    ...                                  {"n": 2, "doc": "a.md", "lines": [5, 6]}])]
    [[1, 2]]
    """
    cited = cited or set()
    cards: list[dict] = []
    for s in sources:
        if float(s.get("score", 1) or 0) < MIN_SCORE and s["n"] not in cited:
            continue
        lo, hi = (s.get("lines") or [0, 0])[0], (s.get("lines") or [0, 0])[-1]
        home = next((c for c in cards if c["doc"] == s.get("doc")
                     and c.get("page") == s.get("page")
                     and c["lines"][0] <= hi and lo <= c["lines"][1]), None)
        if home is None:
            cards.append({**s, "lines": [lo, hi], "ns": [s["n"]]})
            continue
        home["ns"].append(s["n"])
        first = home["lines"][0] <= lo
        home["text"] = _join(home["text"], s.get("text", "")) if first else \
            _join(s.get("text", ""), home["text"])
        home["lines"] = [min(home["lines"][0], lo), max(home["lines"][1], hi)]
        home["score"] = max(float(home.get("score", 0)), float(s.get("score", 0)))
    return cards


def _join(a: str, b: str) -> str:
    """Two passages of overlapping lines as one text, the shared part once."""
    if b in a:
        return a
    if a in b:
        return b
    for k in range(min(len(a), len(b)), 9, -1):
        if a.endswith(b[:k]):
            return a + b[k:]
    return f"{a}\n…\n{b}"


def by_number(sources: list[dict], cited: set[int] | None = None) -> dict[int, dict]:
    """Each citation number's card (a merged card answers for all its numbers)."""
    return {n: c for c in merge_sources(sources, cited) for n in c["ns"]}


def span(lines: list[int] | None, lang: str, page: int | None = None) -> str:
    lo, hi = (lines or [0, 0])[0], (lines or [0, 0])[-1]
    text = t("line", lang, lo=lo) if lo == hi else t("lines", lang, lo=lo, hi=hi)
    return f"{t('page', lang, page=page)} · {text}" if page else text


def render_card(tid: int, s: dict, words: list[str], cited: bool, lang: str = "zh") -> str:
    e = html.escape
    ns = s.get("ns") or [s["n"]]
    where_lines = span(s.get("lines"), lang, s.get("page"))
    # One separator for the whole path: chunk headings join their levels with " > ".
    path = [s.get("title") or "", *(s.get("heading") or "").split(" > ")]
    where = " › ".join(x.strip() for x in path if x.strip())
    # The closed card names the section too: the file alone does not say what it is about.
    section = (s.get("heading") or "").split(" > ")[-1].strip()
    section = section if len(section) <= 40 else section[:39] + "…"
    score = t("score", lang, score=float(s.get("score", 0)))
    meta = "· " + " · ".join([e(section), where_lines, score] if section
                             else [where_lines, score])
    badge = f' <span class="badge">{t("cited_badge", lang)}</span>' if cited else ""
    url = source_url(s.get("doc", ""), s.get("lines"), s.get("page"))
    numbers = "".join(f"[{n}]" for n in ns)
    return (
        f'<details class="src{" cited" if cited else ""}" id="src-{tid}-{ns[0]}" '
        f'data-ns="{" ".join(map(str, ns))}">'
        f'<summary><span class="n">{numbers}</span><span class="doc">{e(s.get("doc", ""))}'
        f'</span>{badge} <span class="meta">{meta}</span></summary>'
        f'<div class="where">{e(where)}</div>'
        f'<div class="passage">{highlight(s.get("text", ""), words)}</div>'
        f'<a class="open" href="{e(url, quote=True)}" target="_blank" rel="noopener noreferrer">'
        f"{e(t('open_at', lang, doc=s.get('doc', ''), span=where_lines))}</a>"
        "</details>"
    )


def empty_sources(lang: str) -> str:
    return f'<div class="sources-panel"><div class="empty">{t("sources_empty", lang)}</div></div>'


def render_sources(turns: list[dict], lang: str = "zh") -> str:
    """The sources panel: a section of cards per turn, the newest one shown."""
    shown = [x for x in turns if x.get("sources")][-MAX_TURNS_SHOWN:]
    if not shown:
        return empty_sources(lang)
    parts = ['<div class="sources-panel">']
    for i, turn in enumerate(shown):
        words = terms(turn["q"])
        cited = set(turn.get("cited") or [])
        cards = merge_sources(turn["sources"], cited)
        cls = "turn shown" if i == len(shown) - 1 else "turn"
        q = html.escape(turn["q"])
        head = t("passage_for", lang, q=q) if len(cards) == 1 else \
            t("passages_for", lang, n=len(cards), q=q)
        parts.append(f'<section class="{cls}" id="turn-{turn["id"]}">'
                     f'<div class="turn-q">{head}</div>')
        parts.extend(render_card(turn["id"], c, words, bool(cited & set(c["ns"])), lang)
                     for c in cards)
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


# ------------------------------------------------------------------------------- answers


def render_answer(turn: dict, lang: str = "zh") -> str:
    """One assistant message: the answer with [n] linked, then the cited passages."""
    cards = by_number(turn.get("sources") or [], set(turn.get("cited") or []))

    def link(n: int) -> str | None:
        return cite_link(turn["id"], n, cards[n]) if n in cards else None

    if turn.get("error"):
        return f"⚠️ {html.escape(turn['error'], quote=False)}"
    body = escape_prose(turn.get("answer", ""), link)
    if turn["state"] == "pending" and not turn.get("answer"):
        status = turn.get("status_text") or t(f"status:{turn.get('status') or 'searching'}",
                                               lang)
        wait = f'<em class="wait">{html.escape(status)}…</em>'
        if not turn.get("quote"):
            return wait
        # The quoted answer while the model reads, as a block quote under the wait.
        quoted = escape_prose(turn["quote"].strip(), link).splitlines()
        block = "\n".join(f"> {line}" if line.strip() else ">" for line in quoted)
        label = f'<span class="quote-first">{t("quote_first", lang)}</span>'
        return f"{wait}\n{label}\n\n{block}"
    if turn["state"] == "stopped":
        body += f' <span class="note">{t("stopped", lang)}</span>'
    if turn["state"] == "done":
        body += _cited_line(turn, cards, lang)
        if turn.get("notice"):
            cls = "note warn" if turn.get("degraded") else "note"
            body += f'\n\n<span class="{cls}">{html.escape(turn["notice"])}</span>'
    return body


def _cited_line(turn: dict, cards: dict[int, dict], lang: str) -> str:
    items, seen = [], set()
    for n in turn.get("cited") or []:
        card = cards.get(n)
        if card is None or id(card) in seen:
            continue
        seen.add(id(card))
        nums = [m for m in card["ns"] if m in (turn.get("cited") or [])]
        links = "".join(cite_link(turn["id"], m, card) for m in nums)
        items.append(f"{links} {html.escape(card['doc'])}:{_short_span(card.get('lines'))}")
    return f'\n\n<span class="cited">{" · ".join(items)}</span>' if items else ""


def _short_span(lines: list[int] | None) -> str:
    lo, hi = (lines or [0, 0])[0], (lines or [0, 0])[-1]
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def chat_messages(turns: list[dict], lang: str = "zh") -> list[dict]:
    msgs = []
    for turn in turns:
        msgs.append({"role": "user", "content": escape_prose(turn["q"])})
        msgs.append({"role": "assistant", "content": render_answer(turn, lang)})
    return msgs


def copy_text(turns: list[dict], lang: str = "zh") -> str:
    """The last answer as plain text, with its cited passages listed under it."""
    done = [x for x in turns if x.get("answer")]
    if not done:
        return ""
    turn = done[-1]
    cards = by_number(turn.get("sources") or [], set(turn.get("cited") or []))
    lines = [turn["answer"].strip()]
    seen: set[int] = set()
    for n in turn.get("cited") or []:
        card = cards.get(n)
        if card is None or id(card) in seen:
            continue
        seen.add(id(card))
        nums = "".join(f"[{m}]" for m in card["ns"] if m in turn["cited"])
        head = f", {card['heading']}" if card.get("heading") else ""
        lines.append(f"{nums} {card['doc']}{head}, {span(card.get('lines'), lang)}")
    if len(lines) > 1:
        lines.insert(1, "")
    return "\n".join(lines)


def history_of(turns: list[dict]) -> list[dict]:
    """The finished turns as chat messages, for condensing a follow-up question."""
    out = []
    for turn in turns:
        if turn["state"] == "done" and turn.get("answer"):
            out += [{"role": "user", "content": turn["q"]},
                    {"role": "assistant", "content": turn["answer"]}]
    return out
