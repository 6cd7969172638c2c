"""Citations after generation re-scored on a model's saved answers, for each setting.

``bench/answers.py --model PATH --json OUT`` keeps, for every answer the model wrote, its
raw text and the sources it was given. Attribution (``answer/attribution.py``) is
deterministic given those, so its settings can be compared on the same words without
asking the model again: here the share of the embedder's cosine in a sentence's support
(``SIM_WEIGHT``), with the configured embedder (multilingual-e5-small by default, which
reads Chinese too; the weight was set when only the English MiniLM could be given).

Printed per set and setting: answers citing, citations holding the evidence, and (for
the shipped setting) how many answers came out as the run recorded them, the check that
this re-scoring is the pipeline's; then the set's whole figures at the shipped setting,
the answers quoted in the model's place counted as the run recorded them.

    python bench/attribution_rescore.py bench/out/qwen-s9-dev.json bench/out/qwen-s9-cmrc.json ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared/models/tiktoken"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The question files of bench/answers.py's sets (paraphrases and requests: its CALIBRATION).
QUESTIONS = {
    "dev": ROOT.parent / "shared/eval/seeds_dev.jsonl",
    "cmrc": ROOT / "bench/out/cmrc/questions.jsonl",
    "squad": ROOT / "bench/out/squad/questions.jsonl",
}
WEIGHTS = (0.0, 0.25, 0.5, 0.75)
# The cosine as given, or rescaled from this floor up ((cos - floor) / (1 - floor), at
# least 0): e5 puts almost any two texts of one language at 0.75-0.9, so a raw cosine
# lifts every passage that shares one word with the sentence.
FLOORS = (None, 0.7, 0.8)


class _CachedCosines:
    """The pipeline's pairwise cosines for one answer, computed once (as they are, from
    no floor) and counted from ``floor`` for each setting (None: as they are)."""

    def __init__(self, similarity):
        self._sim, self._memo = similarity, {}
        self.floor = None

    def __call__(self, sentences: list[str], passages: list[str]):
        from assistant.answer.pipeline import from_floor

        key = (tuple(sentences), tuple(passages))
        if key not in self._memo:
            self._memo[key] = None if self._sim is None else self._sim(sentences, passages)
        cos = self._memo[key]
        return cos if cos is None or self.floor is None else from_floor(cos, self.floor)


def model_written(result: dict, searcher) -> tuple[list[tuple], list[dict]]:
    """A saved set's answers the model wrote, as (question, recorded answer, its sources,
    cached cosines), and the recorded scores of the others that answer (quoted in the
    model's place, or failed; abstentions left out)."""
    import answers  # bench/answers.py

    from assistant.answer.pipeline import _sentence_similarity
    from assistant.answer.prompt import declined

    files = {**QUESTIONS, **answers.CALIBRATION}
    by_id = {q["id"]: q for q in answers.read_jsonl(files[result["set"]])}
    todo, others = [], []
    for e in result["answers"]:
        o = e["ours"]
        if not o.get("raw") or declined(o["raw"]) or o["backend"] == "extractive":
            if not o["abstained"]:
                others.append(o["score"])
            continue  # abstained, declined (then quoted) or failed: no model words
        q = dict(by_id[e["id"]], answerable=e["answerable"])
        sources = [SimpleNamespace(**s) for s in o["sources"]]
        sim = _CachedCosines(_sentence_similarity(searcher, e["question"],
                                                  pairwise=True, floor=0.0))
        todo.append((q, o, sources, sim))
    return todo, others


def main(argv: list[str] | None = None) -> int:
    import answers  # bench/answers.py

    from assistant.answer import attribution
    from assistant.answer.citations import parse_citations
    from assistant.app.evaluate import holds_evidence
    from assistant.embed.base import profile
    from assistant.retrieve.search import Searcher
    from assistant.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--index", type=Path, default=Path("/tmp/answers-bench/idx_main"),
                   help="any index built with the configured embedder (its embedder is used)")
    p.add_argument("--shipped-only", action="store_true",
                   help="only the shipped setting, not the sweep")
    p.add_argument("--changed", action="store_true",
                   help="list the answers whose citations differ from the run's, at the "
                   "shipped setting (what a change to attribution moved)")
    args = p.parse_args(argv)
    settings = answers.index_settings(ROOT / "corpus", args.index, Settings().embedder)
    searcher = Searcher(settings)
    shipped = attribution.SIM_WEIGHT
    floor = profile(searcher.embedder.name).cosine_floor
    print(f"Embedder {searcher.embedder.name}; shipped SIM_WEIGHT {shipped}, cosine floor "
          f"{floor}. 'As recorded': answers whose citations came out as the run recorded "
          "them, at the shipped setting (the check that this is the pipeline's "
          "attribution; a run made with other settings differs there).\n")
    print("| set | SIM_WEIGHT | answers citing | citations holding the evidence | "
          "as recorded |")
    print("|---|---|---|---|---|")
    changed: list[str] = []
    for path in args.results:
        for result in json.loads(path.read_text(encoding="utf-8")):
            name = result["set"]
            todo, others = model_written(result, searcher)
            settings_tried = [(w, f) for w in WEIGHTS for f in FLOORS if w or f is None]
            if args.shipped_only:
                settings_tried = [(shipped, floor)]
            for w, low in settings_tried:
                attribution.SIM_WEIGHT = w
                for *_, sim in todo:
                    sim.floor = low
                answered = citing = cites = ok = same = 0
                for q, o, sources, sim in todo:
                    text = parse_citations(o["raw"], len(sources)).text
                    att = attribution.attribute(text, [s.text for s in sources],
                                                similarity=sim)
                    answered += 1
                    citing += bool(att.cited)
                    same += att.cited == o["citations"]
                    if args.changed and (w, low) == (shipped, floor) \
                            and att.cited != o["citations"]:
                        held = [n for n in att.cited if holds_evidence(q, sources[n - 1])]
                        changed.append(f"- {name} {q['id']}: {o['citations']} -> {att.cited}"
                                       f" (holding the evidence: {held}): {att.text[:200]!r}")
                    if q["answerable"]:
                        cites += len(att.cited)
                        ok += sum(holds_evidence(q, sources[n - 1]) for n in att.cited)
                recorded = f"{same} of {answered}" if (w, low) == (shipped, floor) else ""
                label = f"{w}" if low is None else f"{w}, cosine from {low}"
                print(f"| {name} | {label} | {citing / max(1, answered):.1%} of {answered} | "
                      f"{ok / max(1, cites):.1%} of {cites} | {recorded} |")
                if (w, low) == (shipped, floor):  # the set's figures, quotes included
                    answered += len(others)
                    citing += sum(bool(r["cited"]) for r in others)
                    cites += sum(r.get("citations", 0) for r in others if r["answerable"])
                    ok += sum(r.get("citations_ok", 0) for r in others if r["answerable"])
                    print(f"| {name}, whole set (quotes as recorded) | {label} | "
                          f"{citing / max(1, answered):.1%} of {answered} | "
                          f"{ok / max(1, cites):.1%} of {cites} | |")
            attribution.SIM_WEIGHT = shipped
    if args.changed:
        print("\nChanged from the run:\n" + ("\n".join(changed) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
