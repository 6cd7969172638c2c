"""How often the first passage alone would do: ``answer/prompt.py``'s ``LEAD_RATIO``.

    python bench/lead_share.py [--n 600] [--start 0] [--ratios 0.5,0.6,0.7,0.8,0.9]

Over N answerable questions of CMRC 2018 and SQuAD 2.0 (from --start) (the corpora and the
indexes of ``bench/fusion_sweep.py``, default embedder), each question is searched as the
pipeline searches it; for each ratio it prints the share of questions whose second hit
scores under that share of the first (the model would read the first alone), and among
them how often the first passage holds the evidence, and how many lose it (the first
does not hold it, one of the next two does). No model is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--start", type=int, default=0, help="skip this many answerable first "
                    "(--start 600: questions the shipped ratio was not read from)")
    ap.add_argument("--ratios", default="0.5,0.6,0.7,0.8,0.9")
    a = ap.parse_args()
    from assistant.retrieve.search import Searcher
    from assistant.settings import Settings

    ratios = [float(r) for r in a.ratios.split(",")]
    print("| set | ratio | first alone | it holds the evidence | lost |\n|---|---|---|---|---|")
    for name in ("cmrc", "squad"):
        index = OUT / f"sweep-{name}-default"
        if not (index / "store.sqlite3").exists():
            sys.exit(f"no index at {index}: run bench/fusion_sweep.py first")
        searcher = Searcher(Settings(corpus=OUT / name / "corpus", index=index,
                                     models_dir=ROOT / "models"))
        lines = (OUT / name / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        questions = [q for q in map(json.loads, lines) if q.get("answerable", True)
                     and q.get("evidence")][a.start : a.start + a.n]
        rows = []  # (second / first, the first holds it, one of the first three holds it)
        for q in questions:
            hits = searcher.search(q["question"], k=5)
            if len(hits) < 2 or hits[0].score <= 0:
                continue
            held = [any(_norm(e) in _norm(h.text) for e in q["evidence"]) for h in hits[:3]]
            rows.append((hits[1].score / hits[0].score, held[0], any(held)))
        for r in ratios:
            alone = [x for x in rows if x[0] < r]
            holds = sum(x[1] for x in alone) / len(alone) if alone else float("nan")
            lost = sum(x[2] and not x[1] for x in alone)
            print(f"| {name} ({len(rows)}) | {r} | {len(alone) / len(rows):.0%} | {holds:.3f} "
                  f"| {lost} |", flush=True)


if __name__ == "__main__":
    main()
