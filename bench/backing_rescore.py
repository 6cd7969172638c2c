"""A brief answer's backing sentence (``answer/backing.py``) re-scored on saved answers.

``bench/answers.py --model PATH --json OUT`` keeps each model answer's raw text and the
sources it was given. Finishing an answer (restoring the source's words, attribution,
the backing sentence) is deterministic given those, so each answer is finished with and
without the backing sentence, on the same words: per set, the answers it changed, those
holding a gold string (the answer's own words alone, and with the quote under them),
citations holding the evidence, and every answer changed, for reading.

    python bench/backing_rescore.py bench/out/qwen-s13-lead.json bench/out/qwen-s14-cs.json
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


def main(argv: list[str] | None = None) -> int:
    import answers  # bench/answers.py
    from attribution_rescore import model_written

    from assistant.answer.attribution import attribute
    from assistant.answer.backing import with_backing
    from assistant.answer.citations import parse_citations
    from assistant.answer.verbatim import restore
    from assistant.app.evaluate import holds_evidence, holds_gold
    from assistant.retrieve.search import Searcher
    from assistant.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--index", type=Path, default=ROOT / "bench/out/sweep-seeds_dev-default",
                   help="any index built with the configured embedder (its embedder is used)")
    args = p.parse_args(argv)
    searcher = Searcher(answers.index_settings(ROOT / "corpus", args.index, Settings().embedder))

    print("| set (run) | model answers (answerable) | given a backing sentence | holding a gold "
          "string, without -> with | citations holding the evidence, without -> with |")
    print("|---|---|---|---|---|")
    shown: list[str] = []
    for path in args.results:
        for result in json.loads(path.read_text(encoding="utf-8")):
            name = result["set"]
            todo, _ = model_written(result, searcher)
            answerable = backed = gold0 = gold1 = 0
            cites0 = cites1 = ok0 = ok1 = 0
            for q, o, sources, sim in todo:
                texts = [s.text for s in sources]
                text = parse_citations(o["raw"], len(sources)).text
                att = attribute(restore(text, texts), texts, similarity=sim)
                backed_text = with_backing(att.text, q["question"], texts, att.cited)
                after = parse_citations(backed_text, len(sources)).cited
                if backed_text != att.text:
                    backed += 1
                    mark = "gold" if holds_gold(q, backed_text) else "no gold"
                    was = "gold" if holds_gold(q, att.text) else "no gold"
                    shown.append(f"- {name} {q['question']} ({was} -> {mark})\n"
                                 f"  {backed_text.replace(chr(10), ' / ')}")
                if q["answerable"]:
                    answerable += 1
                    gold0 += holds_gold(q, att.text)
                    gold1 += holds_gold(q, backed_text)
                    cites0 += len(att.cited)
                    cites1 += len(after)
                    ok0 += sum(holds_evidence(q, sources[n - 1]) for n in att.cited)
                    ok1 += sum(holds_evidence(q, sources[n - 1]) for n in after)
            print(f"| {name} ({path.stem}) | {len(todo)} ({answerable}) | {backed} | "
                  f"{gold0} -> {gold1} | {ok0} of {cites0} -> {ok1} of {cites1} |", flush=True)
    print("\nAnswers given a backing sentence:\n" + ("\n".join(shown) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
