"""Answer questions read from stdin (JSON lines) with whatever ``assistant`` package is on
``PYTHONPATH``: the child process of ``bench/first_token.py``, one per revision. Uses only
the API every revision since timings were added has: Settings, run_index, Assistant."""

from __future__ import annotations

import argparse
import json
import sys

try:  # the package layout since session 7
    from assistant.answer.pipeline import Assistant
    from assistant.ingest.indexer import run_index
    from assistant.settings import Settings
except ImportError:  # the flat layout before it (65e426d, the main before issue 11)
    from assistant.config import Settings
    from assistant.indexer import run_index

    from assistant.answer import Assistant


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", required=True)
    p.add_argument("--index", required=True)
    p.add_argument("--model", required=True)
    args = p.parse_args()
    settings = Settings(corpus=args.corpus, index=args.index, model=args.model, threads=2,
                        temperature=0.0)
    run_index(settings)
    assistant = Assistant(settings)
    assistant.ask("warm up: 模型 model")  # load the embedder, index and model first
    warm_model = getattr(assistant, "warm_model", None)  # as `assistant serve` does, if it can
    if warm_model is not None:
        warm_model()
    print(json.dumps({"ready": True, "backend": assistant.backend}), flush=True)
    for line in sys.stdin:
        q = json.loads(line)["question"]
        a = assistant.ask(q)
        print(json.dumps({"question": q, "answer": a.answer, "timings": a.timings,
                          "abstained": a.abstained, "cited": [s.n for s in a.citations]},
                         ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
