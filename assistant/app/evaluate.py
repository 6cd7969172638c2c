"""``assistant eval``: run a question file through search, or through whole answers, and
score it.

Retrieval (the default): the shared scorer's figures (``r1``, ``r5``, ``cr500``,
``cr1000``): the evidence string is in the first passage, the first five, or the first
500/1,000 cl100k tokens of the passages in rank order, exactly as they would be given to
the model.

Answers (``--answers``): every question is answered as ``assistant ask`` would, and
:func:`score_answer` / :func:`answer_figures` say how the answers did. These two are the
only implementation of the answer figures: ``bench/answers.py`` calls them too, for our
answers and for the peer's, so a user's own question file and the benchmark can never
disagree on what a figure means.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from assistant.app.i18n import ljust, t
from assistant.errors import AssistantError
from assistant.text.tokens import squash

BUDGETS = (500, 1000)


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", s).lower()


def load_questions(path: Path) -> list[dict]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise AssistantError(f"Cannot read {path}: {e.strerror}.",
                             "Pass a JSONL question file.",
                             zh=(f"读不了 {path}：{e.strerror}。",
                                 "请给一个 JSONL 格式的问题文件。")) from e
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            q["id"], q["question"]
        except (ValueError, KeyError, TypeError) as e:
            raise AssistantError(
                f"{path}:{n} is not a question line ({e}).",
                'Each line: {"id": ..., "question": ..., "evidence": [...]}',
                zh=(f"{path} 第 {n} 行不是问题行（{e}）。",
                    '每行一个：{"id": ..., "question": ..., "evidence": [...]}'),
            ) from e
        out.append(q)
    return out


def score(questions: list[dict], results: dict[str, list[dict]], count_tokens) -> dict:
    """The shared scorer's figures (same rules as ../shared/eval/score.py)."""
    rows = []
    for q in questions:
        if not q.get("answerable", True):
            continue
        hits = results.get(q["id"], [])
        ev = [_norm(e) for e in q.get("evidence", [])]

        def holds(text: str, doc: str, q=q, ev=ev) -> bool:
            if q.get("doc") is not None and os.path.basename(doc) != q["doc"]:
                return False
            t = _norm(text)
            return any(e in t for e in ev)

        row = {"r1": any(holds(h["text"], h["doc"]) for h in hits[:1]),
               "r5": any(holds(h["text"], h["doc"]) for h in hits[:5])}
        for b in BUDGETS:
            used, ok = 0, False
            for h in hits:
                take, n = count_tokens.truncate(h["text"], b - used)
                if holds(take, h["doc"]):
                    ok = True
                    break
                used += n
                if used >= b:
                    break
            row[f"cr{b}"] = ok
        rows.append(row)
    n = len(rows)
    out = {k: round(sum(r[k] for r in rows) / n, 3) for k in rows[0]} if rows else {}
    out["n"] = n
    return out


class _Cl100k:
    def __init__(self):
        from assistant.text.counting import cl100k

        self.enc, reason = cl100k()  # scores are defined in cl100k tokens: no substitute
        if self.enc is None:
            raise AssistantError(
                f"Scoring needs tiktoken's cl100k_base file ({reason}).",
                "Run `assistant pull` or set TIKTOKEN_CACHE_DIR to the folder holding it.",
                zh=(f"评分需要 tiktoken 的 cl100k_base 文件（{reason}）。",
                    "运行 assistant pull，或把 TIKTOKEN_CACHE_DIR 设为存有它的文件夹。"),
            )

    def truncate(self, text: str, budget: int) -> tuple[str, int]:
        toks = self.enc.encode(text, disallowed_special=())[: max(0, budget)]
        return self.enc.decode(toks), len(toks)


def run_eval(settings, questions_path: Path, json_out: bool = False, mode: str = "hybrid",
             k: int = 10, lang: str = "en") -> int:
    from assistant.ingest.indexer import run_index
    from assistant.retrieve.search import Searcher

    questions = load_questions(questions_path)
    report = run_index(settings)  # indexes if needed; a no-op when current
    if report.chunks_embedded:
        print(t("ev_indexed", lang, corpus=settings.corpus, n=report.chunks_embedded),
              file=sys.stderr)
    searcher = Searcher(settings)
    results = {}
    for q in questions:
        hits = searcher.search(q["question"], k=max(k, 10), mode=mode)
        results[q["id"]] = [h.to_json() for h in hits]
        if json_out:
            print(json.dumps({"id": q["id"], "hits": results[q["id"]]}, ensure_ascii=False))
    if not json_out:
        s = score(questions, results, _Cl100k())
        print(" ".join(f"{key}={val}" for key, val in s.items()))
    return 0


# ----------------------------------------------------------------------------- answers

# A citation marker ([1], [1][3], 【2】, [1, 3], [1-2]) is not a number the answer states.
_MARKER = re.compile(r"[\[【［]\s*\^?\s*\d{1,4}(?:\s*[-–—~～,，、;；]\s*\d{1,4})*\s*[\]】］]")
# A list's own numbering ("1. ", "2) ", "3、") at the start of a line is not a claim either.
_ENUMERATOR = re.compile(r"^\s*\d{1,2}\s*[.)、．]\s", re.MULTILINE)
# A number as written: digits with decimal parts; thousands separators are removed first
# so that "1,000" in the answer is the "1000" of a source.
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3}(?!\d))")


def norm_answer_text(text: str) -> str:
    """Text as answers are compared: whitespace removed, case folded (as
    ``../shared/eval/README.md`` defines it)."""
    return squash(text)


def numbers_in(text: str) -> set[str]:
    """The numbers ``text`` writes in digits (full-width digits read as ASCII), as strings:
    "79 of 80" -> {"79", "80"}; "1,000 (10.5%)" -> {"1000", "10.5"}."""
    text = _THOUSANDS.sub("", unicodedata.normalize("NFKC", text or ""))
    return {m.group(0).rstrip(".") for m in _NUMBER.finditer(text)}


def invented_numbers(answer: str, question: str, sources: Iterable[Any]) -> list[str]:
    """Numbers the answer states that neither the question nor any source it was given
    holds: a number the model made up or got wrong ("80" where the source says "79 of
    80" is not invented; "23" where it says 7 is). Citation markers and a list's own
    numbering are not stated numbers. Numbers written in words (七, seven) are not seen."""
    text = _ENUMERATOR.sub(" ", _MARKER.sub(" ", answer or ""))
    known = numbers_in(question)
    for s in sources:
        for part in (getattr(s, "text", ""), getattr(s, "title", ""), getattr(s, "heading", "")):
            known |= numbers_in(part or "")
    return sorted(numbers_in(text) - known)


def holds_evidence(q: dict, source: Any) -> bool:
    """Whether ``source`` (anything with ``text`` and ``doc``) holds one of the question's
    ``evidence`` strings, and comes from its ``doc`` when the question names one."""
    if q.get("doc") and os.path.basename(getattr(source, "doc", "") or "") != q["doc"]:
        return False
    text = norm_answer_text(getattr(source, "text", ""))
    return any(e in text for e in (norm_answer_text(x) for x in q.get("evidence", [])) if e)


def holds_gold(q: dict, text: str) -> bool:
    """Whether ``text`` holds one of the question's gold ``answer`` strings."""
    norm = norm_answer_text(text)
    return any(g in norm for g in (norm_answer_text(x) for x in q.get("answer", [])) if g)


def score_answer(q: dict, answer: Any) -> dict:
    """What one answer did, for :func:`answer_figures`.

    ``answer`` is an :class:`assistant.answer.pipeline.Answer` or anything with its fields
    (``answer``, ``abstained``, ``citations``, ``sources``, ``timings``, ``error``;
    sources with ``doc`` and ``text``): ``bench/peer_answers.py`` builds one for the peer.
    An abstention never holds a gold answer; citations are counted on answers that answer.
    """
    answerable = bool(q.get("answerable", True))
    abstained = bool(answer.abstained)
    text = answer.answer or ""
    sources = list(answer.sources or [])
    citations = [] if abstained else list(answer.citations or [])
    timings = getattr(answer, "timings", None) or {}
    row: dict[str, Any] = {
        "id": q.get("id"),
        "answerable": answerable,
        "abstained": abstained,
        "error": bool(getattr(answer, "error", None)),
        "cited": bool(citations),
        "invented": [] if abstained else invented_numbers(text, q.get("question", ""), sources),
        "first_token_ms": timings.get("first_token_ms"),
        "prompt_tokens": timings.get("prompt_tokens") or 0,
        "tokens_per_s": timings.get("tokens_per_s"),
        "total_ms": timings.get("total_ms"),
    }
    if answerable:
        row["gold"] = not abstained and holds_gold(q, text)
        row["sources_hold"] = any(holds_evidence(q, s) for s in sources)
        row["citations"] = len(citations)
        row["citations_ok"] = sum(holds_evidence(q, s) for s in citations)
    return row


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, interpolated between the two nearest
    ranks (``statistics.quantiles``' inclusive method); nan when there are none."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    if q <= 0 or q >= 100:
        return float(min(values) if q <= 0 else max(values))
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def answer_figures(rows: Sequence[dict]) -> dict:
    """The answer figures of a set, from :func:`score_answer`'s rows.

    - ``gold``: answerable questions whose answer holds a gold ``answer`` string;
    - ``answered_cited``: answers that answer (not abstained, any question) carrying at
      least one citation;
    - ``citations_ok``: citations of answered answerable questions whose passage holds
      the evidence (``citations`` of them);
    - ``sources_hold``: answerable questions whose sources (all passages given) hold it;
    - ``abstain_unanswerable`` / ``abstain_answerable``;
    - ``invented``: answers that answer stating a number that neither the question nor
      any of their sources holds (``invented_examples`` lists a few);
    - timings: first model token p50/p95 and prompt tokens p50 over the answers whose
      question reached the model (a prompt was counted; over all answers when none did,
      as with extractive answers), decode tokens/s p50, whole answer p50/p95 over all
      answers (an abstention before the model included: what the person asking waits), ms.
    """
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if not r["abstained"]]
    cites = sum(r["citations"] for r in ans)
    model = [r for r in rows if r["prompt_tokens"]]
    timed = [r["first_token_ms"] for r in (model or rows) if r["first_token_ms"] is not None]
    speeds = [r["tokens_per_s"] for r in rows if r["tokens_per_s"]]
    totals = [r["total_ms"] for r in rows if r["total_ms"] is not None]
    invented = [r for r in answered if r["invented"]]
    return {
        "questions": len(rows),
        "answerable": len(ans),
        "unanswerable": len(una),
        "gold": _share(sum(r["gold"] for r in ans), len(ans)),
        "answered": len(answered),
        "answered_cited": _share(sum(r["cited"] for r in answered), len(answered)),
        "citations": cites,
        "citations_ok": _share(sum(r["citations_ok"] for r in ans), cites),
        "sources_hold": _share(sum(r["sources_hold"] for r in ans), len(ans)),
        "abstain_unanswerable": _share(sum(r["abstained"] for r in una), len(una)),
        "abstain_answerable": _share(sum(r["abstained"] for r in ans), len(ans)),
        "invented": _share(len(invented), len(answered)),
        "invented_examples": [{"id": r["id"], "numbers": r["invented"]} for r in invented[:5]],
        "errors": sum(r["error"] for r in rows),
        "model_answers": len(model),
        "first_token_ms_p50": percentile(timed, 50),
        "first_token_ms_p95": percentile(timed, 95),
        "prompt_tokens_p50": percentile([r["prompt_tokens"] for r in model], 50),
        "tokens_per_s_p50": percentile(speeds, 50),
        "total_ms_p50": percentile(totals, 50),
        "total_ms_p95": percentile(totals, 95),
    }


FIGURE_LABELS = (
    # (key, label, kind): kind "share" prints a percentage, "ms"/"n"/"tps" a number.
    ("gold", "answer holds a gold string (answerable)", "share"),
    ("answered_cited", "answers that answer with >= 1 citation", "share"),
    ("citations_ok", "citations that hold the evidence", "share"),
    ("sources_hold", "sources given hold the evidence (answerable)", "share"),
    ("abstain_unanswerable", "abstain on unanswerable", "share"),
    ("abstain_answerable", "abstain on answerable", "share"),
    ("invented", "answers with an invented number", "share"),
    ("first_token_ms_p50", "first model token p50 (ms)", "ms"),
    ("first_token_ms_p95", "first model token p95 (ms)", "ms"),
    ("prompt_tokens_p50", "prompt tokens p50", "n"),
    ("tokens_per_s_p50", "decode tokens/s p50", "tps"),
    ("total_ms_p50", "whole answer p50 (ms)", "ms"),
    ("total_ms_p95", "whole answer p95 (ms)", "ms"),
)
# The count each share is of, shown beside it.
_OF = {"gold": "answerable", "answered_cited": "answered", "citations_ok": "citations",
       "sources_hold": "answerable", "abstain_unanswerable": "unanswerable",
       "abstain_answerable": "answerable", "invented": "answered"}


def format_figure(figures: dict, key: str, kind: str, lang: str = "en") -> str:
    """One figure as a table shows it: "92.9% of 28", "10,240", "9.4"; "-" for none."""
    value = figures.get(key)
    if value is None or value != value:  # None, or nan (no values)
        return "-"
    if kind == "share":
        return t("ev_share", lang, value=value, of=figures[_OF[key]])
    if kind == "tps":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def run_answer_eval(settings, questions_path: Path, json_out: bool = False,
                    lang: str = "en") -> int:
    """``assistant eval QUESTIONS --answers``: answer every question as ``assistant ask``
    would (the model the settings name, or extractive answers) and print the figures
    (their labels in ``lang``; the JSON is the same in either)."""
    from assistant import notices
    from assistant.answer.pipeline import Assistant
    from assistant.ingest.indexer import run_index

    questions = load_questions(questions_path)
    if json_out:
        notices.quiet = True  # stdout holds only the JSON
    report = run_index(settings)
    if report.chunks_embedded and not json_out:
        print(t("ev_indexed", lang, corpus=settings.corpus, n=report.chunks_embedded),
              file=sys.stderr)
    assistant = Assistant(settings)
    rows, answers = [], []
    for n, q in enumerate(questions, 1):
        answer = assistant.ask(q["question"])
        row = score_answer(q, answer)
        rows.append(row)
        answers.append({"id": q["id"], "question": q["question"], "answer": answer.answer,
                        "citations": [{"n": s.n, "doc": s.doc, "lines": s.lines}
                                      for s in answer.citations],
                        "score": row})
        if not json_out:
            print(t("ev_progress", lang, n=n, total=len(questions), id=q["id"],
                    verdict=_verdict(row, lang)), file=sys.stderr)
    figures = answer_figures(rows)
    figures["backend"] = assistant.backend
    if json_out:
        print(json.dumps({"figures": figures, "answers": answers}, ensure_ascii=False))
        return 0
    print(t("ev_header", lang, backend=assistant.backend, a=figures["answerable"],
            u=figures["unanswerable"]))
    for key, label, kind in FIGURE_LABELS:
        shown = t(f"ev_fig:{key}", lang) if lang == "zh" else label
        print(f"  {ljust(shown, 48)} {format_figure(figures, key, kind, lang)}")
    if figures["errors"]:
        print(t("ev_failed", lang, n=figures["errors"]))
    return 0


def _verdict(row: dict, lang: str = "en") -> str:
    if row["abstained"]:
        return t("ev_abstained" if row["answerable"] else "ev_abstained_right", lang)
    if not row["answerable"]:
        return t("ev_answered_unanswerable", lang)
    parts = [t("ev_gold" if row["gold"] else "ev_no_gold", lang),
             t("ev_citations_hold", lang, ok=row["citations_ok"], n=row["citations"])]
    if row["invented"]:
        parts.append(t("ev_invented", lang, numbers=", ".join(row["invented"])))
    return t("ev_sep", lang).join(parts)
