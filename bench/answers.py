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
  (to re-calibrate ``assistant/answer/abstain.py`` after retrieval changes).

Sets: ``seeds_dev.jsonl`` over the default corpus, and beside it the calibration sets
of ``tests/data/answer/`` (``paraphrases``, ``requests``) over the same index; CMRC 2018
(first N questions of ``bench/out/cmrc/questions.jsonl``, plus the questions of 90
passages left out of the corpus, ``tests/data/answer/heldout.json``); CMRC split B, a
check split (90 other passages left out, answerable questions from 301 on); optionally
SQuAD the same way. The held-out corpora and their indexes are made under ``--work``;
give ``--cmrc-index`` (an index of the full CMRC corpus) to derive them in seconds
instead of embedding again.

    python bench/answers.py --cmrc-index /tmp/idx_cmrc --squad-index /tmp/idx_squad

With ``--model PATH`` (a GGUF) the sets are answered by the product's own pipeline with
that model (``Assistant(settings)``, ``model=PATH``, 2 threads) and, interleaved question
by question, by a peer setup with the same file (``bench/peer_answers.py``:
Langchain-Chatchat's defaults). Sets: dev, and CMRC and SQuAD subsets of the same
held-out splits (``--n-answerable`` 100 and ``--n-unanswerable`` 40, every k-th question
of the split, printed); ``--limit N`` cuts every set for a quick run. Each figure is
``assistant.app.evaluate.answer_figures``' (the same as ``assistant eval --answers``); one
Markdown table per set, ours beside the peer's:

    python bench/answers.py --model models/pypi/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \\
        --cmrc-index /tmp/idx_cmrc --json bench/out/answers-model.json [--limit 5]
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
# The calibration sets over the default corpus (answered from the dev set's index):
# paraphrases of dev questions with near misses, and chat requests ("简单说说 LoRA").
CALIBRATION = {"paraphrases": ROOT / "tests/data/answer/paraphrases.jsonl",
               "requests": ROOT / "tests/data/answer/requests.jsonl"}
SPLIT_B_FROM = 300  # the B splits take their questions from here on (heldout.json, "about")


def norm(text: str) -> str:
    from assistant.app.evaluate import norm_answer_text

    return norm_answer_text(text)


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
    from assistant.settings import Settings

    manifest = index / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        kw.setdefault("chunk_tokens", m.get("chunk_tokens"))
        kw.setdefault("embed_backend", m.get("embedder_backend", "torch"))
    kw.setdefault("model", "extractive")
    kw = {k: v for k, v in kw.items() if v is not None}
    return Settings(corpus=corpus, index=index, embedder=embedder, **kw)


def settings_for(corpus: Path, index: Path, embedder: str, seed_index: Path | None, **kw):
    """Settings for ``corpus``; the index is derived from ``seed_index`` when given
    (only the removed files change) or built."""
    from assistant.ingest.indexer import run_index

    if seed_index is not None and not (index / "store.sqlite3").exists():
        shutil.copytree(seed_index, index, dirs_exist_ok=True)
        (index / ".lock").unlink(missing_ok=True)
    settings = index_settings(corpus, index, embedder, **kw)
    s = run_index(settings).summary()
    print(f"  index {index}: {s['chunks']} chunks, {s['removed']} files removed, "
          f"{s['chunks_embedded']} embedded, chunk_tokens {settings.chunk_tokens}",
          file=sys.stderr)
    return settings


def run_set(name: str, settings, questions: list[dict], prompt_sizes: bool = False) -> dict:
    from assistant.answer.pipeline import Assistant
    from assistant.answer.prompt import count_messages
    from assistant.app.evaluate import holds_evidence, score_answer
    from assistant.text.counting import cl100k_counter

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
        row = score_answer(q, answer)  # the same scoring as `assistant eval --answers`
        if not row["answerable"]:
            unanswerable += 1
            abst_un += row["abstained"]
            continue
        answerable += 1
        abst_ans += row["abstained"]
        hit = row["gold"]
        gold += hit
        ctx += row["sources_hold"]
        cites += row["citations"]
        cites_ok += row["citations_ok"]
        if hit:  # the citation right after the gold answer: does it hold the evidence?
            golds = [norm(a) for a in q.get("answer", []) if a.strip()]
            text = norm(answer.answer)
            pos = min(text.find(g) for g in golds if g in text)
            m = re.search(r"\[(\d+)\]", text[pos:])
            cited = [s for s in answer.sources if m and s.n == int(m.group(1))]
            if cited:
                key_cites += 1
                key_ok += holds_evidence(q, cited[0])
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
    # For calibrating assistant/answer/abstain.py: the highest threshold that keeps at most 5% of
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


def heldout_split(n: int, left_out: Callable[[str], bool], answerable_from: list[dict],
                  unanswerable_from: list[dict]) -> tuple[list[dict], list[dict]]:
    """The first ``n`` questions of ``answerable_from`` on the documents kept, and every
    question of ``unanswerable_from`` on those ``left_out``, which the corpus without
    them can then not answer."""
    answerable = [q for q in answerable_from if not left_out(q["doc"])][:n]
    unanswerable = [dict(q, answerable=False) for q in unanswerable_from if left_out(q["doc"])]
    return answerable, unanswerable


def heldout_settings(name: str, args, data_dir: Path, seed_index: Path | None,
                     left_out: Callable[[str], bool], **kw):
    """Settings over ``data_dir``'s corpus without the documents ``left_out`` names."""
    slug = name.replace("-", "_")
    corpus = holdout(data_dir / "corpus", args.work, slug, lambda f: not left_out(f.name))
    return settings_for(corpus, args.work / f"idx_{slug}", args.embedder, seed_index, **kw)


def run_heldout(name: str, args, data_dir: Path, seed_index: Path | None,
                left_out: Callable[[str], bool], answerable_from: list[dict],
                unanswerable_from: list[dict]) -> dict:
    """A set over ``data_dir``'s corpus without the documents ``left_out`` names
    (:func:`heldout_split`)."""
    answerable, unanswerable = heldout_split(args.n, left_out, answerable_from,
                                             unanswerable_from)
    settings = heldout_settings(name, args, data_dir, seed_index, left_out)
    result = run_set(name, settings, answerable + unanswerable)
    show(result)
    return result


def heldout_sources(args, held: dict, wanted: set[str]) -> dict[str, tuple]:
    """For each held-out set ``wanted`` and not skipped: (data dir, seed index, left_out,
    answerable_from, unanswerable_from), as :func:`run_heldout` takes them."""
    wanted = wanted - set(args.skip)
    out: dict[str, tuple] = {}
    if {"cmrc", "cmrc-b"} & wanted:
        qs = read_jsonl(args.cmrc_dir / "questions.jsonl")
        docs = set(held["cmrc_docs"])
        out["cmrc"] = (args.cmrc_dir, args.cmrc_index, lambda doc: doc in docs,
                       qs[: args.n], qs[args.n :])
        # The check split, made after the abstain rules were set: other passages left out,
        # answerable questions from the later part of the set.
        docs_b = set(held["cmrc_docs_b"])
        later = qs[SPLIT_B_FROM:]
        out["cmrc-b"] = (args.cmrc_dir, args.cmrc_index, lambda doc: doc in docs_b,
                         later, later)
    if {"squad", "squad-b"} & wanted:
        def title(f: Path) -> str:
            with open(f, encoding="utf-8") as fh:
                return fh.readline().strip()

        names = {f.name: title(f) for f in (args.squad_dir / "corpus").iterdir()}
        qs = read_jsonl(args.squad_dir / "questions.jsonl")
        titles = {f"# {t}" for t in held["squad_titles"]}
        out["squad"] = (args.squad_dir, args.squad_index,
                        lambda doc: names.get(doc) in titles, qs, qs)
        # The check split, as CMRC's: other articles left out, questions from 301 on.
        titles_b = {f"# {t}" for t in held["squad_titles_b"]}
        later = qs[SPLIT_B_FROM:]
        out["squad-b"] = (args.squad_dir, args.squad_index,
                          lambda doc: names.get(doc) in titles_b, later, later)
    return {k: v for k, v in out.items() if k in wanted}


def derived_sets(args, names: set[str], embedder: str):
    """(name, settings, answerable, unanswerable) of each held-out set in ``names``, over
    the corpora and indexes a run of this script derived under ``args.work`` (for the
    calibration scripts: ``bench/abstain_calibration.py``, ``bench/similarity_sweep.py``)."""
    held = json.loads(HELDOUT.read_text(encoding="utf-8"))
    for attr, value in (("skip", []), ("cmrc_index", None), ("squad_index", None)):
        if not hasattr(args, attr):
            setattr(args, attr, value)
    for name, (_dir, _seed, left_out, ans_from, un_from) in heldout_sources(
            args, held, names).items():
        answerable, unanswerable = heldout_split(args.n, left_out, ans_from, un_from)
        slug = name.replace("-", "_")
        settings = index_settings(args.work / f"{slug}_corpus", args.work / f"idx_{slug}",
                                  embedder)
        yield name, settings, answerable, unanswerable


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


# ------------------------------------------------------------------ --model: a real GGUF

# dev, CMRC and SQuAD are the sets; paraphrases and requests (over corpus/, like
# dev) are checks for rules set on the others, English questions over Chinese notes among
# them.
MODEL_SETS = ("dev", *CALIBRATION, "cmrc", "squad")


def every_kth(pool: list[dict], n: int | None, start: int = 0) -> tuple[list[dict], str]:
    """``n`` questions spread evenly over ``pool`` (every k-th from the ``start``-th, k =
    len(pool) // n): deterministic, and not just the head of a list that may be ordered
    by document. Another ``start`` asks other questions of the same spread (a second run
    that repeats none of the first). Returns them and a description of the choice."""
    if n is None or n >= len(pool):
        return list(pool), f"all {len(pool)}"
    k = max(1, len(pool) // max(1, n))
    start = start % k
    chosen = pool[start::k][:n]
    where = "the first" if start == 0 else f"number {start} (0-based)"
    return chosen, f"{len(chosen)}: every {k}{_suffix(k)} of {len(pool)} from {where}"


def _suffix(k: int) -> str:
    return "th" if k % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")


def limit_split(answerable: list[dict], unanswerable: list[dict],
                limit: int | None) -> tuple[int | None, int | None]:
    """How many answerable and unanswerable questions ``--limit`` leaves: the set's mix
    kept, at least one unanswerable question when the set has any (a quick run still
    shows abstaining)."""
    total = len(answerable) + len(unanswerable)
    if limit is None or limit >= total:
        return None, None
    n_un = round(limit * len(unanswerable) / total) if total else 0
    if unanswerable and limit >= 2:
        n_un = max(1, n_un)
    n_un = min(n_un, len(unanswerable))
    return min(limit - n_un, len(answerable)), n_un


def choose(name: str, answerable: list[dict], unanswerable: list[dict], n_ans: int | None,
           n_un: int | None, limit: int | None, start: int = 0) -> tuple[list[dict], str]:
    """The questions a model-mode set asks, answerable first, and what was chosen."""
    answerable, how_ans = every_kth(answerable, n_ans, start)
    unanswerable, how_un = every_kth(unanswerable, n_un, start)
    lim_ans, lim_un = limit_split(answerable, unanswerable, limit)
    if lim_ans is not None:
        answerable, cut_ans = every_kth(answerable, lim_ans)
        unanswerable, cut_un = every_kth(unanswerable, lim_un)
        how_ans += f", --limit: {cut_ans}"
        how_un += f", --limit: {cut_un}"
    ids = [q["id"] for q in answerable + unanswerable]
    shown = ", ".join(map(str, ids[:6])) + (" ..." if len(ids) > 6 else "")
    return answerable + unanswerable, (f"{name}: answerable {how_ans}; unanswerable "
                                       f"{how_un} (ids {shown})")


def run_model_set(name: str, settings, questions: list[dict], generator, peer, peer_cache,
                  selection: str, progress=None) -> dict:
    """Ours (the product's pipeline, ``Assistant(settings)``) and the peer, question by
    question on the same machine load; the scores of both (``assistant.app.evaluate``).
    ``progress(partial)`` is called after every question with the set so far."""
    from assistant.answer.pipeline import Assistant
    from assistant.app.evaluate import answer_figures, score_answer

    # The generator the product resolved for the first set, reused: one model loaded.
    assistant = Assistant(settings, generator=generator)
    assistant.searcher.search("warm up: 模型 model", k=1)  # index, embedder, jieba loaded
    peer_index = None
    if peer is not None:
        from peer_answers import PeerIndex

        peer_index = PeerIndex(settings.corpus, peer_cache)
        peer_index.search("warm up")
    ours_rows, peer_rows, answers = [], [], []
    for i, q in enumerate(questions, 1):
        ours, raw = _ask_keeping_raw(assistant, q["question"])
        row = score_answer(q, ours)
        ours_rows.append(row)
        entry = {"id": q["id"], "question": q["question"], "answerable": row["answerable"],
                 "ours": {"answer": ours.answer, "abstained": ours.abstained,
                          # the pre-model abstain signal: with --abstain-below 0 every
                          # question reaches the model, and any threshold can be
                          # applied afterwards to the same answers
                          "relevance": ours.relevance,
                          "citations": [c.n for c in ours.citations], "error": ours.error,
                          # what the model wrote, before attribution and any quoting in
                          # its place: citation rules can be re-scored on the same words
                          "raw": raw, "backend": ours.backend, "notice": ours.notice,
                          "sources": [{"doc": s.doc, "text": s.text} for s in ours.sources],
                          "timings": ours.timings, "score": row}}
        line = f"  [{name} {i}/{len(questions)}] ours: {_brief(row)}"
        if peer is not None:
            theirs = peer.answer(q["question"], peer_index)
            prow = score_answer(q, theirs)
            peer_rows.append(prow)
            entry["peer"] = {"answer": theirs.answer, "abstained": theirs.abstained,
                             "error": theirs.error, "timings": theirs.timings, "score": prow}
            line += f" | peer: {_brief(prow)}"
        answers.append(entry)
        print(line, file=sys.stderr, flush=True)
        if progress is not None:
            progress({"set": name, "selection": selection, "partial": True,
                      "answers": answers})
    result = {"set": name, "selection": selection, "backend": assistant.backend,
              "ours": answer_figures(ours_rows),
              "peer": answer_figures(peer_rows) if peer is not None else None,
              "answers": answers}
    return result


def _ask_keeping_raw(assistant, question: str):
    """``assistant.ask``, also returning the model's own tokens (empty when it was not
    asked): the answer's text is after attribution, or quotes in the model's place."""
    answer, model_tokens, state = None, [], "before"
    for event in assistant.stream(question):
        if event.kind == "status":
            if event.text == "reading the sources":
                state = "model"
            elif event.text == "quoting the sources":
                state = "after"
        elif event.kind == "token" and state == "model":
            model_tokens.append(event.text)
        elif event.kind == "done":
            answer = event.answer
    return answer, "".join(model_tokens)


def _brief(row: dict) -> str:
    if row["abstained"]:
        return "abstained"
    if not row["answerable"]:
        return "answered (unanswerable)"
    out = f"{'gold' if row['gold'] else 'no gold'}, cites {row['citations_ok']}/{row['citations']}"
    if row["invented"]:
        out += f", invented {','.join(row['invented'][:3])}"
    return out + (", ERROR" if row["error"] else "")


def show_pair(r: dict) -> None:
    """One Markdown table: ours and the peer side by side."""
    from assistant.app.evaluate import FIGURE_LABELS, format_figure

    ours, peer = r["ours"], r["peer"]
    print(f"\n### {r['set']} ({ours['answerable']} answerable + {ours['unanswerable']} "
          f"unanswerable; ours: {r['backend']})\n")
    print(f"Chosen: {r['selection']}\n")
    print("| | ours | peer |" if peer else "| | ours |")
    print("|---|---|---|" if peer else "|---|---|")
    for key, label, kind in FIGURE_LABELS:
        cells = [format_figure(ours, key, kind)]
        if peer:
            cells.append(format_figure(peer, key, kind))
        print(f"| {label} | " + " | ".join(cells) + " |")
    if ours["errors"] or (peer and peer["errors"]):
        print(f"| failed answers | {ours['errors']} |" + (f" {peer['errors']} |" if peer else ""))
    sys.stdout.flush()


def main_model(args) -> int:
    """``--model PATH``: every set answered by the product with that GGUF, and by the peer
    setup (``bench/peer_answers.py``) with the same file, interleaved per question."""
    from run import OUT, prepare  # bench/ is on sys.path: the CMRC/SQuAD corpora

    from assistant.ingest.indexer import run_index

    if not args.model.is_file():
        raise SystemExit(f"no model file {args.model}")
    default_out = {ROOT / "bench/out/cmrc", ROOT / "bench/out/squad"}
    if any(d in default_out and not (d / "questions.jsonl").exists()
           for d in (args.cmrc_dir, args.squad_dir)):
        prepare(ROOT.parent / "shared")
    held = json.loads(HELDOUT.read_text(encoding="utf-8"))
    args.work.mkdir(parents=True, exist_ok=True)
    kw = {"model": str(args.model), "threads": args.threads,
          "abstain_below": args.abstain_below, "temperature": args.temperature}
    sources = heldout_sources(args, held, {"cmrc", "squad"})
    generator = peer = None
    results = []
    for name in MODEL_SETS:
        if name in args.skip:
            continue
        if name == "dev" or name in CALIBRATION:  # over corpus/
            settings = index_settings(args.corpus, args.index, args.embedder, **kw)
            if not (args.index / "store.sqlite3").exists():
                run_index(settings)
            qs = read_jsonl(args.dev if name == "dev" else CALIBRATION[name])
            ans = [q for q in qs if q.get("answerable", True)]
            una = [q for q in qs if not q.get("answerable", True)]
            questions, selection = choose(name, ans, una, None, None, args.limit)
        else:
            data_dir, seed, left_out, ans_from, un_from = sources[name]
            ans, una = heldout_split(args.n, left_out, ans_from, un_from)
            questions, selection = choose(name, ans, una, args.n_answerable,
                                          args.n_unanswerable, args.limit, args.start)
            settings = heldout_settings(name, args, data_dir, seed, left_out, **kw)
        print(selection, file=sys.stderr, flush=True)
        if generator is None:  # resolved as the product resolves it: Assistant(settings)
            from assistant.answer.pipeline import Assistant

            generator = Assistant(settings).generator
            if generator is None:
                raise SystemExit(f"the product resolved no model for {args.model}")
            _warm(generator)
        if peer is None and args.peer:
            from peer_answers import PeerModel

            # Same file, context size, threads, temperature and answer length as ours.
            peer = PeerModel(args.model, n_ctx=generator.context_length, threads=args.threads,
                             temperature=settings.temperature,
                             max_tokens=settings.max_answer_tokens)
            peer.warm_up()
        def progress(partial: dict) -> None:
            if args.json:
                args.json.write_text(json.dumps([*results, partial], ensure_ascii=False,
                                                indent=1), encoding="utf-8")

        result = run_model_set(name, settings, questions, generator, peer,
                               OUT / "peer-cache", selection, progress)
        results.append(result)
        show_pair(result)
        if args.json:  # after every set: a long run stopped midway keeps what it measured
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1),
                                 encoding="utf-8")
    return 0


def _warm(generator) -> None:
    """One token first, so the first question does not pay for faulting the model in."""
    try:
        for _ in generator.stream([{"role": "user", "content": "你好"}], max_tokens=1,
                                  temperature=0.0):
            pass
    except Exception as e:  # a warm-up is a nicety; the questions will show any failure
        print(f"warm-up failed: {e}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    from assistant.settings import Settings

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
    p.add_argument("--skip", nargs="*", default=[],
                   choices=("dev", *CALIBRATION, "cmrc", "cmrc-b", "squad", "squad-b"),
                   help="sets to leave out (each CMRC split on its own)")
    p.add_argument("--json", type=Path, help="also write the results here")
    m = p.add_argument_group("with a model (--model): ours and the peer on a real GGUF")
    m.add_argument("--model", type=Path, help="a .gguf file: answer with it through the "
                   "product's pipeline (dev, CMRC and SQuAD subsets) instead of extractively")
    m.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True,
                   help="the peer setup beside ours, same model file (default: on)")
    m.add_argument("--n-answerable", type=int, default=100,
                   help="CMRC/SQuAD answerable questions, spread over the -n of the split (100)")
    m.add_argument("--n-unanswerable", type=int, default=40,
                   help="CMRC/SQuAD unanswerable questions, spread over the split's (40)")
    m.add_argument("--start", type=int, default=0, help="begin the spread at this question "
                   "(0): a second run with another start repeats none of the first's")
    m.add_argument("--limit", type=int, help="at most this many questions per set "
                   "(a quick run; the set's mix of answerable and unanswerable kept)")
    m.add_argument("--threads", type=int, default=2, help="CPU threads for the model (2)")
    m.add_argument("--abstain-below", type=float, default=None,
                   help="Settings.abstain_below for ours (0: every question reaches the "
                   "model, so bench/abstain_sweep.py can apply any pre-model threshold)")
    m.add_argument("--temperature", type=float, default=None,
                   help="Settings.temperature for ours and the peer (the shipped default)")
    args = p.parse_args(argv)
    if args.model is not None:
        return main_model(args)

    from assistant.ingest.indexer import run_index

    held = json.loads(HELDOUT.read_text(encoding="utf-8"))
    args.work.mkdir(parents=True, exist_ok=True)
    results = []

    corpus_sets = {"dev": args.dev, **CALIBRATION}
    if any(name not in args.skip for name in corpus_sets):
        settings = index_settings(args.corpus, args.index, args.embedder)
        if not (args.index / "store.sqlite3").exists():
            run_index(settings)
        for name, path in corpus_sets.items():
            if name not in args.skip:
                results.append(run_set(name, settings, read_jsonl(path),
                                       prompt_sizes=name == "dev"))
                show(results[-1])

    wanted = {"cmrc", "cmrc-b"} | ({"squad", "squad-b"} if args.squad_index is not None
                                   else set())
    sources = heldout_sources(args, held, wanted)
    for name in ("cmrc", "cmrc-b", "squad", "squad-b"):
        if name in sources:
            results.append(run_heldout(name, args, *sources[name]))

    for r in results:
        for m in r["examples_missed"]:
            print(f"  miss [{r['set']}] {m}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
