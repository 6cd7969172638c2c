"""Extractive answers end to end: gold answers, citations, abstaining, speed, prompt size.

For each question set the assistant answers with the extractive backend (no model) and
this prints:
- ``gold``: share of answerable questions whose answer contains a gold ``answer`` string
  (whitespace removed, case folded; an abstention counts as a miss);
- ``cite_ok``: share of citations whose passage holds an ``evidence`` string (same
  comparison, and from the ``doc`` when the question names one);
- ``answer_cite_ok``: for answers holding a gold answer, whether the citation right after
  it points at a passage that holds the evidence;
- ``ctx``: share of answerable questions whose sources (the packed passages) hold it;
- ``abstain_ans`` / ``abstain_un``: abstain rate on answerable / unanswerable questions;
- ``first_ms``: time from the question to the "sources" event, p50/p95, models loaded;
- for the dev set, the cl100k tokens of the prompt a model WOULD get, p50/max;
- the abstain signal's 5% threshold: the highest value that keeps at most 5% of the
  answerable questions abstaining, and the share of unanswerable ones it would catch
  (to re-calibrate ``assistant/abstain.py`` after retrieval changes).

Sets: ``seeds_dev.jsonl`` over the default corpus; CMRC 2018 (first N questions of
``bench/out/cmrc/questions.jsonl``, plus the questions of 90 passages left out of the
corpus, ``tests/data/answer/heldout.json``); CMRC split B, a check split (90 other
passages left out, answerable questions from 301 on); optionally SQuAD the same way. The held-out
corpora and their indexes are made under ``--work``; give ``--cmrc-index`` (an index of
the full CMRC corpus) to derive them in seconds instead of embedding again.

    python bench/answers.py --cmrc-index /tmp/idx_cmrc --squad-index /tmp/idx_squad
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _stats import percentile  # bench/ is on sys.path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared/models/tiktoken"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
HELDOUT = ROOT / "tests/data/answer/heldout.json"
SPLIT_B_FROM = 300  # CMRC split B takes its questions from here on (heldout.json, "about")


def norm(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def holdout(src: Path, work: Path, name: str, keep) -> Path:
    """A copy of corpus ``src`` with only the files ``keep(path)`` accepts."""
    dest = work / f"{name}_corpus"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        if f.is_file() and keep(f):
            shutil.copy2(f, dest / f.name)
    return dest


def index_settings(corpus: Path, index: Path, embedder: str, **kw):
    """Settings for ``corpus`` that match what ``index`` was built with, if it exists
    (chunk size, embedder backend), so that bringing it up to date re-embeds nothing."""
    from assistant.config import Settings

    manifest = index / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        kw.setdefault("chunk_tokens", m.get("chunk_tokens"))
        kw.setdefault("embed_backend", m.get("embedder_backend", "torch"))
    kw = {k: v for k, v in kw.items() if v is not None}
    return Settings(corpus=corpus, index=index, embedder=embedder, model="extractive", **kw)


def settings_for(corpus: Path, index: Path, embedder: str, seed_index: Path | None):
    """Settings for ``corpus``; the index is derived from ``seed_index`` when given
    (only the removed files change) or built."""
    from assistant.indexer import run_index

    if seed_index is not None and not (index / "store.sqlite3").exists():
        shutil.copytree(seed_index, index, dirs_exist_ok=True)
        (index / ".lock").unlink(missing_ok=True)
    settings = index_settings(corpus, index, embedder)
    s = run_index(settings).summary()
    print(f"  index {index}: {s['chunks']} chunks, {s['removed']} files removed, "
          f"{s['chunks_embedded']} embedded, chunk_tokens {settings.chunk_tokens}",
          file=sys.stderr)
    return settings


def run_set(name: str, settings, questions: list[dict], prompt_sizes: bool = False) -> dict:
    from assistant.answer import Assistant
    from assistant.prompt import cl100k_counter, count_messages

    assistant = Assistant(settings, generator=None)
    assistant.ask("warm up: 模型 model")  # load the embedder, jieba and the index first
    gold = answerable = cites = cites_ok = ctx = key_cites = key_ok = 0
    abst_ans = abst_un = unanswerable = 0
    first_ms: list[float] = []
    tokens: list[int] = []
    scores_ans: list[float] = []
    scores_un: list[float] = []
    misses: list[dict] = []
    count = cl100k_counter()
    for q in questions:
        t0 = time.perf_counter()
        answer = None
        for event in assistant.stream(q["question"]):
            if event.kind == "sources":
                first_ms.append((time.perf_counter() - t0) * 1000)
            elif event.kind == "done":
                answer = event.answer
        assert answer is not None
        if prompt_sizes:
            tokens.append(count_messages(assistant.prompt_for(q["question"]), count))
        score = answer.relevance if answer.relevance is not None else 0.0
        (scores_ans if q.get("answerable", True) else scores_un).append(score)
        if not q.get("answerable", True):
            unanswerable += 1
            abst_un += answer.abstained
            continue
        answerable += 1
        abst_ans += answer.abstained
        golds = [norm(a) for a in q.get("answer", []) if a.strip()]
        hit = any(g in norm(answer.answer) for g in golds) and not answer.abstained
        gold += hit
        evidence = [norm(e) for e in q.get("evidence", []) if e.strip()]

        def holds(src, q=q, evidence=evidence) -> bool:
            same_doc = not q.get("doc") or src.doc == q["doc"]
            return same_doc and any(e in norm(src.text) for e in evidence)

        ctx += any(holds(s) for s in answer.sources)
        if not answer.abstained:
            cites += len(answer.citations)
            cites_ok += sum(holds(s) for s in answer.citations)
        if hit:  # the citation right after the gold answer: does it hold the evidence?
            text = norm(answer.answer)
            pos = min(text.find(g) for g in golds if g in text)
            m = re.search(r"\[(\d+)\]", text[pos:])
            cited = [s for s in answer.sources if m and s.n == int(m.group(1))]
            if cited:
                key_cites += 1
                key_ok += holds(cited[0])
        if not hit and len(misses) < 5:
            misses.append({"q": q["question"], "gold": q.get("answer", [])[:2],
                           "answer": answer.answer[:160], "abstained": answer.abstained})
    out = {
        "set": name,
        "answerable": answerable,
        "unanswerable": unanswerable,
        "gold": gold / max(1, answerable),
        "cite_ok": cites_ok / max(1, cites),
        "citations": cites,
        "answer_cite_ok": key_ok / max(1, key_cites),
        "answer_citations": key_cites,
        "ctx": ctx / max(1, answerable),
        "abstain_ans": abst_ans / max(1, answerable),
        "abstain_un": abst_un / max(1, unanswerable) if unanswerable else None,
        "first_ms_p50": percentile(first_ms, 50),
        "first_ms_p95": percentile(first_ms, 95),
    }
    # For calibrating assistant/abstain.py: the highest threshold that keeps at most 5% of
    # answerable questions abstaining, and what it would catch.
    if scores_ans:
        limit = sorted(scores_ans)[len(scores_ans) // 20]
        out["threshold_5pct"] = limit
        out["unanswerable_below_it"] = (
            sum(s < limit for s in scores_un) / len(scores_un) if scores_un else None
        )
    if tokens:
        out["prompt_tokens_p50"] = statistics.median(tokens)
        out["prompt_tokens_max"] = max(tokens)
    out["examples_missed"] = misses
    return out


def run_heldout(name: str, args, data_dir: Path, seed_index: Path | None,
                left_out: Callable[[str], bool], answerable_from: list[dict],
                unanswerable_from: list[dict]) -> dict:
    """A set over ``data_dir``'s corpus without the documents ``left_out`` names: the first
    ``args.n`` questions of ``answerable_from`` on the documents kept, and every question
    of ``unanswerable_from`` on those left out, which the corpus can then not answer."""
    answerable = [q for q in answerable_from if not left_out(q["doc"])][: args.n]
    unanswerable = [dict(q, answerable=False) for q in unanswerable_from if left_out(q["doc"])]
    slug = name.replace("-", "_")
    corpus = holdout(data_dir / "corpus", args.work, slug, lambda f: not left_out(f.name))
    settings = settings_for(corpus, args.work / f"idx_{slug}", args.embedder, seed_index)
    result = run_set(name, settings, answerable + unanswerable)
    show(result)
    return result


def show(r: dict) -> None:
    un = "-" if r["abstain_un"] is None else f"{r['abstain_un']:.1%} of {r['unanswerable']}"
    print(f"{r['set']}: answerable {r['answerable']}, gold {r['gold']:.1%}, "
          f"citations hold evidence {r['cite_ok']:.1%} ({r['citations']}), "
          f"the answer's citation {r['answer_cite_ok']:.1%} ({r['answer_citations']}), "
          f"sources hold evidence {r['ctx']:.1%}, abstain answerable {r['abstain_ans']:.1%}, "
          f"abstain unanswerable {un}, first output p50 {r['first_ms_p50']:.0f} ms "
          f"p95 {r['first_ms_p95']:.0f} ms", end="")
    if r.get("unanswerable_below_it") is not None:
        print(f", 5%-threshold {r['threshold_5pct']:.3f} "
              f"(would catch {r['unanswerable_below_it']:.1%})", end="")
    if "prompt_tokens_p50" in r:
        print(f", prompt tokens p50 {r['prompt_tokens_p50']:.0f} max {r['prompt_tokens_max']}",
              end="")
    print()


def main(argv: list[str] | None = None) -> int:
    from assistant.config import Settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dev", type=Path, default=ROOT.parent / "shared/eval/seeds_dev.jsonl")
    p.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    p.add_argument("--index", type=Path, default=Path("/tmp/answers-bench/idx_main"))
    p.add_argument("--embedder", default=Settings().embedder)
    p.add_argument("--cmrc-dir", type=Path, default=ROOT / "bench/out/cmrc")
    p.add_argument("--cmrc-index", type=Path,
                   help="an index of the full CMRC corpus to derive from")
    p.add_argument("--squad-dir", type=Path, default=ROOT / "bench/out/squad")
    p.add_argument("--squad-index", type=Path, help="an index of the full SQuAD corpus; "
                   "when given, SQuAD is run too")
    p.add_argument("-n", type=int, default=300, help="answerable CMRC/SQuAD questions (300)")
    p.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"))
    p.add_argument("--skip", nargs="*", default=[], choices=("dev", "cmrc", "cmrc-b", "squad"),
                   help="sets to leave out (each CMRC split on its own)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)

    from assistant.indexer import run_index

    held = json.loads(HELDOUT.read_text(encoding="utf-8"))
    args.work.mkdir(parents=True, exist_ok=True)
    results = []

    if "dev" not in args.skip:
        settings = index_settings(args.corpus, args.index, args.embedder)
        if not (args.index / "store.sqlite3").exists():
            run_index(settings)
        results.append(run_set("dev", settings, read_jsonl(args.dev), prompt_sizes=True))
        show(results[-1])

    if "cmrc" not in args.skip or "cmrc-b" not in args.skip:
        qs = read_jsonl(args.cmrc_dir / "questions.jsonl")
    if "cmrc" not in args.skip:
        docs = set(held["cmrc_docs"])
        results.append(run_heldout("cmrc", args, args.cmrc_dir, args.cmrc_index,
                                   lambda doc: doc in docs, qs[: args.n], qs[args.n :]))
    if "cmrc-b" not in args.skip:
        # The check split, made after the abstain rules were set: other passages left out,
        # answerable questions from the later part of the set.
        docs_b = set(held["cmrc_docs_b"])
        later = qs[SPLIT_B_FROM:]
        results.append(run_heldout("cmrc-b", args, args.cmrc_dir, args.cmrc_index,
                                   lambda doc: doc in docs_b, later, later))
    if "squad" not in args.skip and args.squad_index is not None:
        titles = {f"# {t}" for t in held["squad_titles"]}

        def title(f: Path) -> str:
            with open(f, encoding="utf-8") as fh:
                return fh.readline().strip()

        names = {f.name: title(f) for f in (args.squad_dir / "corpus").iterdir()}
        qs = read_jsonl(args.squad_dir / "questions.jsonl")
        results.append(run_heldout("squad", args, args.squad_dir, args.squad_index,
                                   lambda doc: names.get(doc) in titles, qs, qs))

    for r in results:
        for m in r["examples_missed"]:
            print(f"  miss [{r['set']}] {m}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
