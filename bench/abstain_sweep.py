"""How abstaining works out with a model, chosen on the model's own answers.

``bench/answers.py --model PATH --abstain-below 0 --json OUT`` lets every question reach
the model and records each answer's relevance (``assistant/answer/abstain.py``). Everything else
the pipeline decides around the model is deterministic, so it can be applied afterwards
to the same answers without asking the model again:

- the pre-model check at threshold ``t``: relevance < t abstains, nothing cited;
- a model's decline on a question whose relevance passed ``abstain.THRESHOLD`` is answered
  by quoting the sources instead (``answer.py``): the extractive answer to the question,
  computed here over the same index.

Printed per set: today's threshold alone, and each threshold with the decline overruled.

    python bench/abstain_sweep.py OUT.json [--thresholds 0 0.3 0.42]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from answers import index_settings  # noqa: E402  (bench/ is on sys.path)

from assistant.answer.abstain import THRESHOLD  # noqa: E402
from assistant.app.evaluate import answer_figures, score_answer  # noqa: E402

SETS = {  # the corpora and indexes bench/answers.py --model answered over
    "dev": (ROOT / "corpus", Path("/tmp/answers-bench/idx_main"),
            ROOT.parent / "shared/eval/seeds_dev.jsonl"),
    "cmrc": (Path("/tmp/answers-bench/cmrc_corpus"), Path("/tmp/answers-bench/idx_cmrc"),
             ROOT / "bench/out/cmrc/questions.jsonl"),
    "squad": (Path("/tmp/answers-bench/squad_corpus"), Path("/tmp/answers-bench/idx_squad"),
              ROOT / "bench/out/squad/questions.jsonl"),
}


def extractive_rows(result: dict, index: Path | None) -> dict[str, dict]:
    """The extractive answer's score row for every question of one set."""
    from assistant.answer.pipeline import Assistant

    corpus, default_index, questions = SETS[result["set"]]
    with open(questions, encoding="utf-8") as f:
        by_id = {q["id"]: q for q in map(json.loads, filter(str.strip, f))}
    settings = index_settings(corpus, index or default_index, "intfloat/multilingual-e5-small")
    assistant = Assistant(settings, generator=None)
    rows = {}
    for e in result["answers"]:
        q = dict(by_id[e["id"]], answerable=e["answerable"])
        rows[e["id"]] = score_answer(q, assistant.ask(q["question"]))
    return rows


def combined(entries: list[dict], t: float, quoted: dict[str, dict] | None) -> list[dict]:
    rows = []
    for e in entries:
        row = dict(e["ours"]["score"])
        relevance = e["ours"].get("relevance") or 0.0
        if relevance < t:
            row.update(abstained=True, cited=False, invented=[], prompt_tokens=0,
                       first_token_ms=None, tokens_per_s=None)
            if row["answerable"]:
                row.update(gold=False, citations=0, citations_ok=0)
        elif quoted is not None and row["abstained"] and relevance >= THRESHOLD:
            row = dict(quoted[e["id"]])
        rows.append(row)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path)
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.3, THRESHOLD])
    p.add_argument("--dev-index", type=Path, help="the index dev was answered over")
    args = p.parse_args()
    results = json.loads(args.results.read_text(encoding="utf-8"))
    keys = ("gold", "answered_cited", "citations_ok", "abstain_unanswerable",
            "abstain_answerable", "invented")
    print("| set | pre-model threshold | decline on relevant sources | "
          + " | ".join(keys) + " |")
    print("|---|---|---|" + "---|" * len(keys))
    for r in results:
        quoted = extractive_rows(r, args.dev_index if r["set"] == "dev" else None)
        for t in args.thresholds:
            for label, q in (("stands", None), ("quoted", quoted)):
                f = answer_figures(combined(r["answers"], t, q))
                cells = ["-" if f[k] is None else f"{f[k]:.1%}" for k in keys]
                print(f"| {r['set']} | {t:g} | {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
