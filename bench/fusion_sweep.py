"""Fusion weights (and the definition lift) swept for the configured embedder, on every
set at once: seeds_dev over corpus/, CMRC 2018 dev (1,000 q) and SQuAD 2.0 (1,000 q).

    python bench/fusion_sweep.py [--shared ../shared] [--embedder NAME]

Each set is indexed once (bench/out/sweep-<set>-<embedder>); then for each dense weight
the hybrid ranking is scored by the shared scorer (r1, r5, cr500), beside lexical alone
and dense alone; then the definition lift and the proximity weight, each with the rest as
shipped. The weight is what ``retrieve.search.dense_weight`` returns for the
question's script, so Chinese (CMRC, most of dev) and Latin (SQuAD) are read separately.
Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "bench"))

WEIGHTS = (0.0, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3, 1.7)
BOOSTS = (1.0, 1.25, 1.5, 2.0)
PROXIMITY = (0.0, 0.1, 0.2, 0.3, 0.5)


def score(shared: Path, qfile: Path, results: dict[str, list]) -> dict:
    res = OUT / "sweep-results.jsonl"
    res.write_text("".join(json.dumps({"id": q, "hits": h}, ensure_ascii=False) + "\n"
                           for q, h in results.items()), encoding="utf-8")
    out = subprocess.run([sys.executable, str(shared / "eval" / "score.py"), str(qfile),
                          str(res), "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_set(name: str, corpus: Path, qfile: Path, shared: Path, embedder: str | None):
    from assistant.ingest.indexer import run_index
    from assistant.retrieve import search
    from assistant.settings import Settings

    tag = (embedder or "default").replace("/", "--")
    settings = Settings(corpus=corpus, index=OUT / f"sweep-{name}-{tag}",
                        models_dir=ROOT / "models", **({"embedder": embedder} if embedder else {}))
    search.QUERY_VECTORS_KEPT = 100_000  # every question embedded once for all settings
    report = run_index(settings)
    print(f"<!-- {name}: {report.chunks_total} chunks, {report.chunks_embedded} embedded in "
          f"{report.seconds:.0f} s -->", flush=True)
    searcher = search.Searcher(settings)
    questions = [json.loads(x) for x in qfile.read_text(encoding="utf-8").splitlines() if x]
    rows = []

    def ranked(mode="hybrid"):
        return {q["id"]: [h.to_json() for h in searcher.search(q["question"], k=10, mode=mode)]
                for q in questions}

    for mode in ("lexical", "dense"):
        rows.append((name, mode, "", score(shared, qfile, ranked(mode))))
    real_weight, real_boost = search.dense_weight, search.DEFINITION_BOOST
    real_proximity = search.PROXIMITY_WEIGHT
    try:
        for w in WEIGHTS:
            search.dense_weight = lambda embedder_name, query, w=w: w
            rows.append((name, "hybrid", f"w={w}", score(shared, qfile, ranked())))
        search.dense_weight = real_weight
        for b in BOOSTS:
            search.DEFINITION_BOOST = b
            rows.append((name, "hybrid", f"shipped w, lift={b}", score(shared, qfile, ranked())))
        search.DEFINITION_BOOST = real_boost
        for p in PROXIMITY:
            search.PROXIMITY_WEIGHT = p
            rows.append((name, "hybrid", f"shipped w, proximity={p}",
                         score(shared, qfile, ranked())))
    finally:
        search.dense_weight, search.DEFINITION_BOOST = real_weight, real_boost
        search.PROXIMITY_WEIGHT = real_proximity
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--embedder", help="the embedder to sweep for (default: the configured)")
    ap.add_argument("--sets", default="seeds_dev,cmrc,squad")
    a = ap.parse_args()
    from run import prepare  # bench/run.py builds the CMRC and SQuAD corpora

    sets = prepare(a.shared)
    print(f"<!-- embedder: {a.embedder or 'the configured one'} -->")
    print("| set | mode | setting | r1 | r5 | cr500 |\n|---|---|---|---|---|---|")
    for name in a.sets.split(","):
        corpus, qfile = sets[name]
        for set_name, mode, setting, s in run_set(name, corpus, qfile, a.shared, a.embedder):
            print(f"| {set_name} | {mode} | {setting} | {s['r1']} | {s['r5']} | {s['cr500']} |",
                  flush=True)


if __name__ == "__main__":
    main()
