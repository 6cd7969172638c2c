"""``pipeline.MARK_BEST`` off and on, each question asked both ways in turn in one process
at temperature 0 (so neither the sampler nor the machine's load differs): per set, gold,
citations holding the evidence, abstaining, and the model's declines that quotes stood
in for. CMRC and SQuAD take the questions of a ``bench/answers.py --model ... --json``
run (its ``--work`` held-out indexes, /tmp/ab); dev, paraphrases and requests are over
corpus/ (bench/out/sweep-seeds_dev-default, as ``bench/fusion_sweep.py`` builds it).

    python bench/mark_best_ab.py bench/out/qwen-s14-t0-cs.json \
        dev,paraphrases,requests,cmrc,squad bench/out/mark-ab.json
"""
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared/models/tiktoken"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

def main():
    import answers

    import assistant.answer.pipeline as pl
    from assistant.answer.pipeline import Assistant
    from assistant.app.evaluate import score_answer
    from assistant.settings import Settings
    run, sets, out = Path(sys.argv[1]), sys.argv[2].split(","), Path(sys.argv[3])
    model = str(ROOT / "models/pypi/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    results = {}
    gen = None
    for name in sets:
        if name in ("cmrc", "squad"):
            runs = json.loads(run.read_text(encoding="utf-8"))
            prev = next(r for r in runs if r["set"] == name)["answers"]
            asked = answers.read_jsonl(ROOT / f"bench/out/{name}/questions.jsonl")
            qs = {q["id"]: q for q in asked}
            items = [qs[a["id"]] | {"answerable": a["answerable"]} for a in prev]
            corpus, index = Path(f"/tmp/ab/{name}_corpus"), Path(f"/tmp/ab/idx_{name}")
        else:
            paths = {"dev": ROOT.parent / "shared/eval/seeds_dev.jsonl", **answers.CALIBRATION}
            items = answers.read_jsonl(Path(paths[name]))
            corpus, index = ROOT / "corpus", ROOT / "bench/out/sweep-seeds_dev-default"
        st = answers.index_settings(corpus, index, Settings().embedder, model=model, threads=2,
                                    temperature=0.0)
        a = Assistant(st) if gen is None else Assistant(st, generator=gen)
        if gen is None:
            gen = a.generator
            assert gen is not None
        rows = []
        for i, q in enumerate(items):
            row = {"id": q["id"], "question": q["question"],
                   "answerable": q.get("answerable", True)}
            for flag in (False, True):
                pl.MARK_BEST = flag
                ans, raw = answers._ask_keeping_raw(a, q["question"])
                sc = score_answer(q, ans)
                row["mark" if flag else "ship"] = {
                    "answer": ans.answer, "raw": raw, "backend": ans.backend, "score": sc,
                    "ft": ans.timings.get("first_token_ms"),
                    "pt": ans.timings.get("prompt_tokens")}
            rows.append(row)
            print(name, i, row["ship"]["score"].get("gold"), row["mark"]["score"].get("gold"),
                  file=sys.stderr, flush=True)
        results[name] = rows
        out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
        A = [r for r in rows if r["answerable"]]
        U = [r for r in rows if not r["answerable"]]
        for k in ("ship", "mark"):
            g = sum(bool(r[k]["score"]["gold"]) for r in A)
            c = sum(r[k]["score"]["citations"] for r in A)
            ok = sum(r[k]["score"]["citations_ok"] for r in A)
            ab = sum(bool(r[k]["score"]["abstained"]) for r in U)
            aa = sum(bool(r[k]["score"]["abstained"]) for r in A)
            q = sum(r[k]["backend"] == "extractive" and bool(r[k]["raw"]) for r in A)
            print(f"{name} {k}: gold {g}/{len(A)}, citations ok {ok}/{c}, unanswerable "
                  f"abstain {ab}/{len(U)}, answerable abstain {aa}, model declined -> quotes "
                  f"{q}", flush=True)

if __name__ == "__main__":
    main()
