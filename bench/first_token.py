"""Time to the first model token: this code against an earlier revision, same model, same
questions, in one run.

Each revision answers in its own long-lived process (a git worktree of the revision on
``PYTHONPATH``, run by ``bench/_ask_runner.py``), and the two take turns question by
question, so machine load lands on both alike. Printed per revision: first model token
p50/p95 (from the question to the first token, as ``answer.timings`` has it), prompt
tokens p50 (the model's own tokenizer), decode tokens/s p50, whole answer p50, and the
ratio of the first-token p50s.

    python bench/first_token.py --model models/pypi/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \\
        --baseline 65e426d --limit 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _stats import percentile  # bench/ is on sys.path

ROOT = Path(__file__).resolve().parents[1]


class Runner:
    """One revision's assistant in a child process: a question in, its answer's JSON out."""

    def __init__(self, tree: Path, corpus: Path, index: Path, model: Path, extra: list[str]):
        env = dict(os.environ, PYTHONPATH=str(tree))
        env.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared/models/tiktoken"))
        env.setdefault("HF_HUB_OFFLINE", "1")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench/_ask_runner.py"), "--corpus", str(corpus),
             "--index", str(index), "--model", str(model), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=tree,
        )
        self.ready = json.loads(self.proc.stdout.readline())

    def ask(self, question: str) -> dict:
        self.proc.stdin.write(json.dumps({"question": question}, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def worktree(rev: str) -> Path:
    path = Path(f"/tmp/first-token-{rev}")
    if not path.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-f", "--detach", str(path),
                        rev], check=True, capture_output=True)
    return path


def summary(rows: list[dict]) -> dict:
    def values(key: str) -> list[float]:
        return [r["timings"][key] for r in rows if r["timings"].get(key) is not None]

    first = values("first_token_ms")
    return {
        "answers": len(rows),
        "first_token_ms_p50": percentile(first, 50),
        "first_token_ms_p95": percentile(first, 95),
        "prompt_tokens_p50": statistics.median(values("prompt_tokens") or [0]),
        "tokens_per_s_p50": statistics.median(values("tokens_per_s") or [0]),
        "total_ms_p50": percentile(values("total_ms"), 50),
        "abstained": sum(r["abstained"] for r in rows),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--baseline", default="65e426d", help="the revision to compare with")
    p.add_argument("--questions", type=Path, default=ROOT.parent / "shared/eval/seeds_dev.jsonl")
    p.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    p.add_argument("--work", type=Path, default=Path("/tmp/first-token"))
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", type=Path)
    args = p.parse_args()

    with open(args.questions, encoding="utf-8") as f:
        questions = [json.loads(line) for line in f if line.strip()]
    questions = [q for q in questions if q.get("answerable", True)][: args.limit]
    trees = {"baseline": worktree(args.baseline), "this": ROOT}
    runners = {name: Runner(tree, args.corpus.resolve(), args.work / f"idx_{name}",
                            args.model.resolve(), [])
               for name, tree in trees.items()}
    rows: dict[str, list[dict]] = {name: [] for name in runners}
    try:
        for i, q in enumerate(questions):
            order = list(runners) if i % 2 == 0 else list(reversed(runners))
            for name in order:  # alternate who goes first: neither always finds a warm cache
                rows[name].append(runners[name].ask(q["question"]))
            print(f"  {i + 1}/{len(questions)} " + "  ".join(
                f"{n} {rows[n][-1]['timings'].get('first_token_ms')} ms" for n in runners),
                file=sys.stderr)
    finally:
        for r in runners.values():
            r.close()
    out = {name: {"revision": args.baseline if name == "baseline" else "working tree",
                  **summary(rs)} for name, rs in rows.items()}
    out["ratio_first_token_p50"] = (out["this"]["first_token_ms_p50"]
                                    / out["baseline"]["first_token_ms_p50"])
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": out, "rows": rows}, ensure_ascii=False,
                                        indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
