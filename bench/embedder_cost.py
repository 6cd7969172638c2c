"""What the default embedder costs beside the packaged MiniLM, in one run.

    python bench/embedder_cost.py [--docs 200] [--rounds 2]

Indexes the first ``--docs`` documents of the CMRC 2018 corpus (bench/out/cmrc, made by
bench/run.py) from empty with the default embedder (multilingual-e5-small, int8 ONNX)
and with all-MiniLM-L6-v2 (int8 ONNX), alternating, each an ``assistant index`` process
with its models loaded from disk; then searches each index with the first 300 CMRC
questions (k=10, the query embedded every time: a new question per search). Prints
wall times, their ratio, and search p50/p95. The machine is shared: read the ratio.
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
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def index(corpus: Path, idx: Path, embedder: str | None) -> tuple[float, int]:
    shutil.rmtree(idx, ignore_errors=True)
    args = [sys.executable, "-m", "assistant", "index", "--corpus", str(corpus),
            "--index", str(idx), "--json", *(["--embedder", embedder] if embedder else [])]
    t = time.perf_counter()
    p = subprocess.run(args, capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "ASSISTANT_EMBED_BACKEND": "onnx-int8"})
    if p.returncode != 0:
        raise SystemExit(p.stderr[-2000:])
    return time.perf_counter() - t, json.loads(p.stdout)["chunks_embedded"]


def latency(corpus: Path, idx: Path, embedder: str | None, questions: list[str]) -> list[float]:
    from assistant.retrieve import search
    from assistant.settings import Settings

    kw = {"embedder": embedder} if embedder else {}
    s = search.Searcher(Settings(corpus=corpus, index=idx, embed_backend="onnx-int8", **kw))
    s.search(questions[0])
    times = []
    for q in questions:
        s._qvecs.clear()  # a new question: its embedding is part of the time
        t = time.perf_counter()
        s.search(q, k=10)
        times.append((time.perf_counter() - t) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    src = OUT / "cmrc" / "corpus"
    if not src.is_dir():
        raise SystemExit("no bench/out/cmrc: run bench/run.py once (it builds the corpora)")
    corpus = OUT / f"cmrc-first-{a.docs}"
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir(parents=True)
    for f in sorted(src.iterdir())[: a.docs]:
        shutil.copy(f, corpus / f.name)
    times: dict[str, list[float]] = {"default": [], "minilm": []}
    chunks = 0
    for _ in range(a.rounds):  # alternate, so load on the machine hits both alike
        for tag, name in (("default", None), ("minilm", MINILM)):
            t, chunks = index(corpus, OUT / f"idx-cost-{tag}", name)
            times[tag].append(t)
    d, m = statistics.median(times["default"]), statistics.median(times["minilm"])
    print(f"| indexing {a.docs} CMRC documents ({chunks} chunks) from empty | default "
          f"{d:.1f} s | MiniLM {m:.1f} s | ratio {d / m:.2f} |")
    qs = [json.loads(x)["question"] for x in
          (OUT / "cmrc" / "questions.jsonl").read_text(encoding="utf-8").splitlines()][:300]
    for tag, name in (("default", None), ("minilm", MINILM)):
        ms = latency(corpus, OUT / f"idx-cost-{tag}", name, qs)
        print(f"| search, query embedded, {tag} | p50 {percentile(ms, 50):.1f} ms | "
              f"p95 {percentile(ms, 95):.1f} ms |")


if __name__ == "__main__":
    main()
