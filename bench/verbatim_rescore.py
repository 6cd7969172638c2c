"""The source's words restored (``answer/verbatim.py``) re-scored on a model's saved answers.

``bench/answers.py --model PATH --json OUT`` keeps each model answer's raw text and the
sources it was given. Restoring and attribution are deterministic given those, so the
answers can be finished both ways, without and with ``verbatim.restore`` (and at each
``GAP`` tried), on the same words: per set, answers holding a gold string, citations
holding the evidence, and every answer the restoring changed, for reading.

    python bench/verbatim_rescore.py bench/out/qwen-s13-lead.json bench/out/qwen-s14-cs.json
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

# (GAP, LATIN) tried; GAP 0: not restored (the code before).
CONFIGS = ((0, False), (1, False), (2, False), (3, False), (2, True))


def main(argv: list[str] | None = None) -> int:
    import answers  # bench/answers.py
    from attribution_rescore import model_written

    from assistant.answer import verbatim
    from assistant.answer.attribution import attribute
    from assistant.answer.citations import parse_citations
    from assistant.app.evaluate import holds_evidence, holds_gold
    from assistant.retrieve.search import Searcher
    from assistant.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--index", type=Path, default=ROOT / "bench/out/sweep-seeds_dev-default",
                   help="any index built with the configured embedder (its embedder is used)")
    p.add_argument("--show", type=int, default=verbatim.GAP,
                   help="list the answers this GAP changed (at the shipped LATIN)")
    args = p.parse_args(argv)
    searcher = Searcher(answers.index_settings(ROOT / "corpus", args.index, Settings().embedder))
    shipped, shipped_latin = verbatim.GAP, verbatim.LATIN
    print("| set | GAP | model answers | holding a gold string | citations holding the "
          "evidence | answers changed |")
    print("|---|---|---|---|---|---|")
    shown: list[str] = []
    for path in args.results:
        for result in json.loads(path.read_text(encoding="utf-8")):
            name = result["set"]
            todo, _ = model_written(result, searcher)
            for gap, latin in CONFIGS:
                gold = answerable = cites = ok = changed = 0
                for q, o, sources, sim in todo:
                    texts = [s.text for s in sources]
                    text = parse_citations(o["raw"], len(sources)).text
                    if gap:
                        verbatim.GAP, verbatim.LATIN = gap, latin
                        restored = verbatim.restore(text, texts)
                    else:
                        restored = text
                    changed += restored != text
                    att = attribute(restored, texts, similarity=sim)
                    if (gap, latin) == (args.show, shipped_latin) and restored != text:
                        before = attribute(text, texts, similarity=sim).text
                        shown.append(f"- {name} {q['id']} {q['question']}\n"
                                     f"  before: {before}\n  after:  {att.text}")
                    if q["answerable"]:
                        answerable += 1
                        gold += holds_gold(q, att.text)
                        cites += len(att.cited)
                        ok += sum(holds_evidence(q, sources[n - 1]) for n in att.cited)
                label = f"{gap or 'off'}{' (Latin too)' if latin else ''}"
                print(f"| {name} ({path.stem}) | {label} | {answerable} answerable | "
                      f"{gold} | {ok} of {cites} | {changed} of {len(todo)} |", flush=True)
    verbatim.GAP, verbatim.LATIN = shipped, shipped_latin
    print(f"\nAnswers changed at GAP {args.show}:\n" + ("\n".join(shown) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
