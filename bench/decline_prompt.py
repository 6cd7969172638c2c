"""How often the model says the sources do not answer, per wording of the Chinese system
message, on the CMRC questions of a ``bench/answers.py --model ... --json`` run.

Three groups of that run's questions: the answerable ones the model declined there, the
first N answerable ones it answered, and every unanswerable one. Each is asked again
through the product with ``abstain_below`` 0 (every question reaches the model, so the
unanswerable ones the pre-model check stops are asked too), temperature as shipped. The
model's own "资料中没有相关内容" is counted, before any quoting in its place.

    python bench/decline_prompt.py bench/out/qwen-s10-cmrc.json --work /tmp/ab \\
        --model models/pypi/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
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

SHIPPED_RULE = "4. 如果资料不能回答这个问题，只回答：资料中没有相关内容。"
# Variants of rule 4, each measured against the shipped one in the same run.
RULES = {
    "shipped": SHIPPED_RULE,
    "answer-usually-there": "4. 先在资料里找答案，答案常常就是资料中的一句话；只有资料里确实没有"
                            "这个问题的答案时，才只回答：资料中没有相关内容。",
}


def main(argv: list[str] | None = None) -> int:
    import answers  # bench/answers.py

    from assistant.answer import prompt
    from assistant.answer.pipeline import Assistant
    from assistant.answer.prompt import declined
    from assistant.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a bench/answers.py --model JSON with a cmrc set")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"),
                   help="the run's --work (its held-out CMRC corpus and index)")
    p.add_argument("--answered", type=int, default=15,
                   help="answerable questions the model answered in the run, asked again")
    p.add_argument("--rules", default=",".join(RULES), help="which of RULES, in order")
    p.add_argument("--limit", type=int, help="at most this many questions per group "
                   "(a quick check)")
    args = p.parse_args(argv)
    if SHIPPED_RULE not in prompt.SYSTEM["zh"]:
        raise SystemExit("the shipped rule 4 changed: update SHIPPED_RULE")
    run = next(r for r in json.loads(args.run.read_text(encoding="utf-8"))
               if r["set"] == "cmrc")["answers"]

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
    settings = answers.index_settings(args.work / "cmrc_corpus", args.work / "idx_cmrc",
                                      Settings().embedder, model=str(args.model), threads=2,
                                      abstain_below=0.0)
    assistant = Assistant(settings)
    shipped = prompt.SYSTEM["zh"]
    print("| rule 4 | " + " | ".join(f"{g} ({len(v)})" for g, v in groups.items()) + " |")
    print("|---" * (len(groups) + 1) + "|")
    try:
        for name in args.rules.split(","):
            prompt.SYSTEM["zh"] = shipped.replace(SHIPPED_RULE, RULES[name])
            t = time.perf_counter()
            counts = []
            for items in groups.values():
                n = 0
                for a in items:
                    _, raw = answers._ask_keeping_raw(assistant, a["question"])
                    n += declined(raw)
                counts.append(n)
            print(f"| {name} | " + " | ".join(f"declines {n}" for n in counts)
                  + f" | ({time.perf_counter() - t:.0f} s)", flush=True)
    finally:
        prompt.SYSTEM["zh"] = shipped
    return 0


if __name__ == "__main__":  # the model's worker process is spawned: it re-imports this file
    sys.exit(main())
