"""The system message's wording against what the model does with it: how often it
declines, how often its answer holds a gold string, how many of its citations hold the
evidence, on the questions of a ``bench/answers.py --model ... --json`` run.

Three groups of one set's questions from that run (CMRC: the Chinese system message;
SQuAD: the English one): the answerable ones the model declined there, the first N
answerable ones it answered, and every unanswerable one. Each is asked again through the
product with ``abstain_below`` 0 (every question reaches the model, so the unanswerable
ones the pre-model check stops are asked too), temperature as shipped. Per wording and
group: the model's own decline ("资料中没有相关内容", "The documents do not cover this")
before any quoting in its place, and for the answerable groups the product's final
answer scored as ``bench/answers.py`` scores it (gold, citations holding the evidence).

    python bench/prompt_wording.py bench/out/qwen-s10-cmrc.json --work /tmp/ab \\
        --model models/pypi/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf [--rules shipped,own-words]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared/models/tiktoken"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

LANG = {"cmrc": "zh", "squad": "en"}
# Each wording is a list of (shipped text, replacement) in the set's system message; the
# shipped texts are checked against assistant/answer/prompt.py before anything runs.
RULES = {
    "zh": {
        "shipped": [],
        # Session 10: declines less on answerable and unanswerable questions alike.
        "answer-usually-there": [(
            "4. 如果资料不能回答这个问题，只回答：资料中没有相关内容。",
            "4. 先在资料里找答案，答案常常就是资料中的一句话；只有资料里确实没有"
            "这个问题的答案时，才只回答：资料中没有相关内容。")],
        # The model's misses that are right in other words ("希腊" for 雅典, "负责刑名" for
        # 掌理刑名): asked to keep the source's own words.
        "own-words": [("2. 用中文回答，简洁准确。",
                       "2. 用中文回答，简洁准确，尽量用资料中的原话。")],
    },
    "en": {
        "shipped": [],
        "own-words": [("2. Answer in English, briefly and precisely.",
                       "2. Answer in English, briefly and precisely, in the sources' "
                       "own words.")],
        # SQuAD answers go on past the answer, and their later sentences are where the
        # model errs ("The steam turbine, which was invented during World War I") and
        # where they cite a neighbour of the passage that answers.
        "one-or-two-sentences": [("2. Answer in English, briefly and precisely.",
                                  "2. Answer in English in one or two sentences, "
                                  "precisely.")],
    },
}
QUESTIONS = {"cmrc": ROOT / "bench/out/cmrc/questions.jsonl",
             "squad": ROOT / "bench/out/squad/questions.jsonl"}


def main(argv: list[str] | None = None) -> int:
    import answers  # bench/answers.py

    from assistant.answer import prompt
    from assistant.answer.pipeline import Assistant
    from assistant.answer.prompt import declined
    from assistant.app.evaluate import score_answer
    from assistant.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a bench/answers.py --model JSON")
    p.add_argument("--set", choices=sorted(LANG), default="cmrc")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"),
                   help="the run's --work (its held-out corpora and indexes)")
    p.add_argument("--answered", type=int, default=15,
                   help="answerable questions the model answered in the run, asked again")
    p.add_argument("--rules", help="which wordings, in order (default: all of the set's)")
    p.add_argument("--limit", type=int, help="at most this many questions per group "
                   "(a quick check)")
    args = p.parse_args(argv)
    lang = LANG[args.set]
    shipped = prompt.SYSTEM[lang]
    rules = RULES[lang]
    names = args.rules.split(",") if args.rules else list(rules)
    for name in names:
        for old, _ in rules[name]:
            if old not in shipped:
                raise SystemExit(f"{name}: the shipped system message no longer says {old!r}")
    run = next(r for r in json.loads(args.run.read_text(encoding="utf-8"))
               if r["set"] == args.set)["answers"]
    questions = {q["id"]: q for q in answers.read_jsonl(QUESTIONS[args.set])}

    def quoted(a: dict) -> bool:  # the model declined, quotes stood in
        return a["ours"]["backend"] == "extractive" and bool(a["ours"].get("raw"))

    groups = {
        "answerable, declined in the run": [a for a in run if a["answerable"] and quoted(a)],
        "answerable, answered in the run": [
            a for a in run if a["answerable"] and not quoted(a) and not a["ours"]["abstained"]
        ][: args.answered],
        "unanswerable, all": [a for a in run if not a["answerable"]],
    }
    groups = {g: v[: args.limit] for g, v in groups.items()}
    corpus, index = args.work / f"{args.set}_corpus", args.work / f"idx_{args.set}"
    settings = answers.index_settings(corpus, index, Settings().embedder,
                                      model=str(args.model), threads=2, abstain_below=0.0)
    assistant = Assistant(settings)
    print("| wording | " + " | ".join(f"{g} ({len(v)})" for g, v in groups.items()) + " |")
    print("|---" * (len(groups) + 1) + "|")
    try:
        for name in names:
            system = shipped
            for old, new in rules[name]:
                system = system.replace(old, new)
            prompt.SYSTEM[lang] = system
            t = time.perf_counter()
            cells = []
            for items in groups.values():
                n = gold = cites = cites_ok = 0
                for a in items:
                    answer, raw = answers._ask_keeping_raw(assistant, a["question"])
                    n += declined(raw)
                    if a["answerable"]:
                        row = score_answer(questions[a["id"]], answer)
                        gold += row["gold"]
                        cites += row["citations"]
                        cites_ok += row["citations_ok"]
                cell = f"declines {n}"
                if items and items[0]["answerable"]:
                    cell += f", gold {gold}, citations {cites_ok}/{cites} hold the evidence"
                cells.append(cell)
            print(f"| {name} | " + " | ".join(cells)
                  + f" | ({time.perf_counter() - t:.0f} s)", flush=True)
    finally:
        prompt.SYSTEM[lang] = shipped
    return 0


if __name__ == "__main__":  # the model's worker process is spawned: it re-imports this file
    sys.exit(main())
