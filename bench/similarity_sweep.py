"""Extractive answers' sentence-cosine weight (``extractive.SIMILARITY_WEIGHT``) swept
with the configured embedder, on the held-out splits of ``bench/answers.py``.

    python bench/answers.py ...        # derives the held-out corpora and indexes under --work
    python bench/similarity_sweep.py --work /tmp/answers-bench --sets cmrc,cmrc-b,squad

For each set, one assistant answers the answerable questions at each weight (same
index, same hits); prints gold and citations holding the evidence per weight.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared/models/tiktoken"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    import answers  # bench/answers.py: the same splits

    from assistant.answer import extractive
    from assistant.answer.pipeline import Assistant
    from assistant.app.evaluate import score_answer
    from assistant.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/answers-bench"))
    p.add_argument("--sets", default="cmrc,cmrc-b,squad")
    p.add_argument("--weights", default="0,0.5,1.0")
    p.add_argument("--cmrc-dir", type=Path, default=ROOT / "bench/out/cmrc")
    p.add_argument("--squad-dir", type=Path, default=ROOT / "bench/out/squad")
    p.add_argument("-n", type=int, default=300)
    args = p.parse_args()
    print("| set | weight | gold | citations holding the evidence |\n|---|---|---|---|")
    for name, settings, answerable, _ in answers.derived_sets(
            args, set(args.sets.split(",")), Settings().embedder):
        assistant = Assistant(settings, generator=None)
        assistant.ask("warm up")
        for w in (float(x) for x in args.weights.split(",")):
            extractive.SIMILARITY_WEIGHT = w
            gold = cites = ok = 0
            for q in answerable:
                row = score_answer(q, assistant.ask(q["question"]))
                gold += bool(row["gold"])
                cites, ok = cites + row["citations"], ok + row["citations_ok"]
            print(f"| {name} | {w} | {gold / len(answerable):.1%} | {ok / max(1, cites):.1%} |",
                  flush=True)


if __name__ == "__main__":
    main()
