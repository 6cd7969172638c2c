"""Benchmarks beside the peer pipeline, in one run. Prints Markdown for BENCHMARKS.md.

    python bench/run.py [--shared ../shared] [--quick]

Measures (each figure from this run; the machine is shared, so compare the ratios):
- indexing: wall time of a full ``assistant index`` vs the peer's ``--index-only`` on the
  default corpus and CMRC 2018 dev, alternating runs; characters per second;
- retrieval: r1/r5/cr500/cr1000 from the shared scorer for our lexical, dense and hybrid
  parts and the peer's three pipelines, on seeds_dev, CMRC 2018 (1,000 q) and SQuAD 2.0
  (1,000 answerable q);
- search latency p50/p95 on the CMRC corpus, query embedding included;
- incremental: one changed CMRC file re-indexed, as a share of the full build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _stats import percentile  # bench/ is on sys.path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PY = sys.executable


def sh(args: list[str], **kw) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, args))}\n{p.stderr[-2000:]}")
    return time.perf_counter() - t, p.stdout


def prepare(shared: Path) -> dict[str, tuple[Path, Path]]:
    sets = {"seeds_dev": (ROOT / "corpus", shared / "eval" / "seeds_dev.jsonl")}
    for name, src in (("cmrc", "cmrc2018/cmrc2018_dev.squad.json"),
                      ("squad", "squad2_cs224n_dev/dev-v2.0.json")):
        d = OUT / name
        if not (d / "questions.jsonl").exists():
            shutil.rmtree(d, ignore_errors=True)
            sh([PY, str(shared / "bench" / "squad_to_corpus.py"),
                str(shared / "bench-data" / src), str(d), "1000"])
        sets[name] = (d / "corpus", d / "questions.jsonl")
    return sets


def corpus_chars(corpus: Path) -> int:
    return sum(len(p.read_text(encoding="utf-8")) for p in corpus.iterdir() if p.is_file()
               and not p.name.startswith("."))


def assistant(*args: str) -> tuple[float, str]:
    return sh([PY, "-m", "assistant", *args])


def bench_indexing(sets, shared: Path, rounds: int) -> list[str]:
    rows = ["| corpus | chars | peer s | ours s | ours / peer | ours chars/s | chunks embedded |",
            "|---|---|---|---|---|---|---|"]
    for name in ("seeds_dev", "cmrc"):
        corpus = sets[name][0]
        chars = corpus_chars(corpus)
        peer, ours, embedded = [], [], 0
        for _ in range(rounds):  # alternate, so load on the machine hits both alike
            t, _ = sh([PY, str(shared / "bench" / "peer_baseline.py"), str(corpus), "--index-only"])
            peer.append(t)
            idx = OUT / f"idx-full-{name}"
            shutil.rmtree(idx, ignore_errors=True)
            t, out = assistant("index", "--corpus", str(corpus), "--index", str(idx), "--json")
            ours.append(t)
            embedded = json.loads(out)["chunks_embedded"]
        p, o = statistics.median(peer), statistics.median(ours)
        rows.append(f"| {name} | {chars:,} | {p:.1f} | {o:.1f} | {o / p:.2f} | "
                    f"{chars / o:,.0f} | {embedded} |")
    return rows


def score(shared: Path, qfile: Path, results: Path) -> dict:
    _, out = sh([PY, str(shared / "eval" / "score.py"), str(qfile), str(results), "--json"])
    return json.loads(out)


def bench_retrieval(sets, shared: Path) -> list[str]:
    rows = ["| set | pipeline | r1 | r5 | cr500 | cr1000 |", "|---|---|---|---|---|---|"]
    for name, (corpus, qfile) in sets.items():
        idx = OUT / f"idx-{name}"
        for mode in ("lexical", "dense", "hybrid"):
            _, out = assistant("eval", str(qfile), "--corpus", str(corpus), "--index", str(idx),
                               "--mode", mode, "--json")
            res = OUT / f"{name}.{mode}.jsonl"
            res.write_text(out, encoding="utf-8")
            s = score(shared, qfile, res)
            rows.append(f"| {name} | ours {mode} | {s['r1']} | {s['r5']} | {s['cr500']} | "
                        f"{s['cr1000']} |")
        prefix = OUT / f"peer-{name}"
        sh([PY, str(shared / "bench" / "peer_baseline.py"), str(corpus), str(qfile), str(prefix)])
        for kind in ("dense", "bm25", "hybrid"):
            s = score(shared, qfile, Path(f"{prefix}.{kind}.jsonl"))
            rows.append(f"| {name} | peer {kind} | {s['r1']} | {s['r5']} | {s['cr500']} | "
                        f"{s['cr1000']} |")
    return rows


def bench_latency(sets) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from assistant.retrieve import search
    from assistant.settings import Settings

    corpus, qfile = sets["cmrc"]
    settings = Settings(corpus=corpus, index=OUT / "idx-cmrc")
    s = search.Searcher(settings)
    qs = [json.loads(line)["question"] for line in qfile.read_text(encoding="utf-8").splitlines()]
    s.search(qs[0])  # warm up
    times = []
    for q in qs[:300]:
        t = time.perf_counter()
        s.search(q, k=10)
        times.append((time.perf_counter() - t) * 1000)
    p50, p95 = percentile(times, 50), percentile(times, 95)
    # The proximity part (retrieve/proximity.py) on its own: each question searched with it
    # and without, in turns, its embedding already kept, so only that part differs.
    shipped, off, on = search.PROXIMITY_WEIGHT, [], []
    try:
        for i, q in enumerate(qs[:300]):
            for weight in ((0.0, shipped) if i % 2 else (shipped, 0.0)):
                search.PROXIMITY_WEIGHT = weight
                t = time.perf_counter()
                s.search(q, k=10)
                (on if weight else off).append((time.perf_counter() - t) * 1000)
    finally:
        search.PROXIMITY_WEIGHT = shipped
    return [f"search latency on CMRC (848 docs), 300 questions, k=10, query embedding "
            f"included: p50 {p50:.1f} ms, p95 {p95:.1f} ms",
            f"query embedding kept: p50 {percentile(off, 50):.1f} ms without the proximity "
            f"part, {percentile(on, 50):.1f} ms with it (weight {shipped}); p95 "
            f"{percentile(off, 95):.1f} / {percentile(on, 95):.1f} ms"]


def bench_incremental(sets) -> list[str]:
    corpus = sets["cmrc"][0]
    work = OUT / "cmrc-incremental"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(corpus, work / "corpus")
    idx = work / "index"
    full, _ = assistant("index", "--corpus", str(work / "corpus"), "--index", str(idx), "--json")
    target = sorted((work / "corpus").iterdir())[0]
    target.write_text(target.read_text(encoding="utf-8") + "\n新增的一句话。\n", encoding="utf-8")
    inc, out2 = assistant("index", "--corpus", str(work / "corpus"), "--index", str(idx), "--json")
    r = json.loads(out2)
    return [f"incremental: full build {full:.1f} s; after changing one file: {inc:.1f} s "
            f"({100 * inc / full:.1f}% of full), {r['chunks_embedded']} chunks embedded, "
            f"{r['changed']} changed, {r['unchanged']} unchanged"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", choices=("indexing", "retrieval", "latency", "incremental"))
    a = ap.parse_args()
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(a.shared / "models" / "tiktoken"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    OUT.mkdir(parents=True, exist_ok=True)
    sets = prepare(a.shared)
    print(f"# bench/run.py — {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores\n")
    parts = {"retrieval": lambda: bench_retrieval(sets, a.shared),
             "indexing": lambda: bench_indexing(sets, a.shared, a.rounds),
             "latency": lambda: bench_latency(sets),
             "incremental": lambda: bench_incremental(sets)}
    for name, fn in parts.items():
        if a.only and a.only != name:
            continue
        print(f"## {name}\n")
        print("\n".join(fn()) + "\n", flush=True)


if __name__ == "__main__":
    main()
