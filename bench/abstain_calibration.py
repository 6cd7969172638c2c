"""The abstain check's dense term calibrated for the configured embedder, on every set.

``answer/abstain.relevance`` adds ``weight x (cosine - centre)`` to the coverage score
when the embedder's ``Profile.abstain`` is ``(weight, centre)``; the cosine is the
question's with the best passage, and the question abstains below ``THRESHOLD``. This
script reads the same questions as ``bench/answers.py`` (dev, the calibration sets, the
CMRC and SQuAD held-out splits, over the indexes ``bench/answers.py`` derived under
``--work``), records each one's coverage score and cosine once, then for every
(weight, centre) prints per set the share of answerable questions that would abstain and
of unanswerable ones caught. CMRC B is the check split: choose on the others.

    python bench/answers.py ...            # derives the held-out indexes under --work
    python bench/abstain_calibration.py --work /tmp/answers-bench

Prints Markdown; ``--json`` keeps the per-question records.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared/models/tiktoken"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
CENTRES = (0.78, 0.8, 0.81, 0.82, 0.83, 0.84, 0.86)


def records(name: str, settings, questions: list[dict]) -> list[dict]:
    """Each question's score without the dense term, and its best passage's cosine."""
    from assistant.answer import abstain
    from assistant.retrieve.search import Searcher
    from assistant.text.language import language

    searcher = Searcher(settings)
    out = []
    for q in questions:
        hits = searcher.search(q["question"], k=settings.top_k)
        rel = abstain.relevance(q["question"], hits, _Uncalibrated(searcher))
        cos = same = None
        if hits:
            vecs = searcher.chunk_vectors([hits[0].chunk_id])
            cos = float(vecs[0] @ searcher.query_vector(q["question"]))
            same = language(q["question"]) == language(hits[0].text)
        out.append({"set": name, "id": q.get("id"), "answerable": q.get("answerable", True),
                    "latin": language(q["question"]) != "zh", "same": same,
                    "score": rel.score, "cos": cos})
    print(f"  {name}: {len(out)} questions", file=sys.stderr, flush=True)
    return out


class _Uncalibrated:
    """The searcher, with an embedder whose profile has no dense term: the score as
    coverage alone gives it, so any (weight, centre) can be added afterwards."""

    def __init__(self, searcher):
        self._s = searcher
        self.embedder = None

    def __getattr__(self, name):
        return getattr(self._s, name)


def table(rows: list[dict], threshold: float, dense_if) -> None:
    """Abstaining at every (weight, centre), the dense term added where ``dense_if(row)``."""
    sets = list(dict.fromkeys(r["set"] for r in rows))
    print("| weight | centre | " + " | ".join(f"{s} ans / un" for s in sets) + " |")
    print("|---|---|" + "---|" * len(sets))
    for w in WEIGHTS:
        for c in CENTRES if w else (0.0,):
            cells = []
            for s in sets:
                mine = [r for r in rows if r["set"] == s]
                ans = [r for r in mine if r["answerable"]]
                una = [r for r in mine if not r["answerable"]]

                def abstains(r, w=w, c=c):
                    dense = r["cos"] is not None and dense_if(r)
                    return r["score"] + (w * (r["cos"] - c) if dense else 0) < threshold

                a = sum(map(abstains, ans)) / max(1, len(ans))
                u = sum(map(abstains, una)) / max(1, len(una)) if una else float("nan")
                cells.append(f"{a:.1%} / {u:.1%}")
            print(f"| {w} | {c} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    import answers  # bench/answers.py: the same sets and splits

    from assistant.answer.abstain import THRESHOLD
    from assistant.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"))
    p.add_argument("--index", type=Path, help="the dev index (default WORK/idx_main)")
    p.add_argument("--dev", type=Path, default=ROOT.parent / "shared/eval/seeds_dev.jsonl")
    p.add_argument("--cmrc-dir", type=Path, default=ROOT / "bench/out/cmrc")
    p.add_argument("--squad-dir", type=Path, default=ROOT / "bench/out/squad")
    p.add_argument("-n", type=int, default=300)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    embedder = Settings().embedder
    rows: list[dict] = []
    dev = answers.index_settings(ROOT / "corpus", args.index or args.work / "idx_main", embedder)
    for name, path in {"dev": args.dev, **answers.CALIBRATION}.items():
        rows += records(name, dev, answers.read_jsonl(path))
    held = {"cmrc", "cmrc-b", "squad", "squad-b"}
    for name, settings, ans, una in answers.derived_sets(args, held, embedder):
        rows += records(name, settings, ans + una)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    print(f"Abstaining below {THRESHOLD} (answerable abstain / unanswerable caught), "
          f"embedder {embedder}, the dense term on every Latin-script question:\n")
    table(rows, THRESHOLD, lambda r: r["latin"])
    print("\nThe dense term only where the best passage is in the question's language "
          "(an English question over a Chinese passage keeps coverage alone):\n")
    table(rows, THRESHOLD, lambda r: r["latin"] and r["same"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
