"""The pre-model abstain threshold with a model, chosen on the model's own answers.

``bench/answers.py --model PATH --abstain-below 0 --json OUT`` lets every question reach
the model and records each answer's relevance (``assistant/abstain.py``). The pre-model
check is deterministic and runs before the model, so applying a threshold ``t`` afterwards
(relevance < t: abstained, nothing cited, no gold) gives exactly what the product answers
at ``abstain_below = t``, without asking the model again. This prints, per threshold and
set, what the combination of the check and the model's own decline does.

    python bench/abstain_sweep.py OUT.json [--thresholds 0 0.2 0.3 0.35 0.42]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.evaluate import answer_figures  # noqa: E402


def at_threshold(entries: list[dict], t: float) -> list[dict]:
    rows = []
    for e in entries:
        row = dict(e["ours"]["score"])
        if (e["ours"].get("relevance") or 0.0) < t and not row["abstained"]:
            row.update(abstained=True, cited=False, invented=[], prompt_tokens=0,
                       first_token_ms=None, tokens_per_s=None)
            if row["answerable"]:
                row.update(gold=False, citations=0, citations_ok=0)
        rows.append(row)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path)
    p.add_argument("--thresholds", type=float, nargs="+",
                   default=[0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.42])
    args = p.parse_args()
    results = json.loads(args.results.read_text(encoding="utf-8"))
    keys = ("gold", "answered_cited", "citations_ok", "abstain_unanswerable",
            "abstain_answerable")
    print("| set | threshold | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for r in results:
        for t in args.thresholds:
            f = answer_figures(at_threshold(r["answers"], t))
            cells = ["-" if f[k] is None else f"{f[k]:.1%}" for k in keys]
            print(f"| {r['set']} | {t:g} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
