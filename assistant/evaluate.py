"""``assistant eval``: run a question file through search and score it.

The scores are the shared scorer's (``r1``, ``r5``, ``cr500``, ``cr1000``): the evidence
string is in the first passage, the first five, or the first 500/1,000 cl100k tokens of
the passages in rank order, exactly as they would be given to the model.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from assistant.errors import AssistantError

BUDGETS = (500, 1000)


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", s).lower()


def load_questions(path: Path) -> list[dict]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise AssistantError(f"Cannot read {path}: {e.strerror}.",
                             "Pass a JSONL question file.") from e
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
        from assistant.chunking import cl100k

        self.enc, reason = cl100k()  # scores are defined in cl100k tokens: no substitute
        if self.enc is None:
            raise AssistantError(
                f"Scoring needs tiktoken's cl100k_base file ({reason}).",
                "Run `assistant pull` or set TIKTOKEN_CACHE_DIR to the folder holding it.",
            )

    def truncate(self, text: str, budget: int) -> tuple[str, int]:
        toks = self.enc.encode(text, disallowed_special=())[: max(0, budget)]
        return self.enc.decode(toks), len(toks)


def run_eval(settings, questions_path: Path, json_out: bool = False, mode: str = "hybrid",
             k: int = 10) -> int:
    from assistant.indexer import run_index
    from assistant.search import Searcher

    questions = load_questions(questions_path)
    report = run_index(settings)  # indexes if needed; a no-op when current
    if report.chunks_embedded:
        print(f"indexed {settings.corpus}: {report.chunks_embedded} chunks embedded",
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
