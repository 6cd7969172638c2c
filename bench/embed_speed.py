"""Embedding speed: PyTorch fp32 vs ONNX fp32 vs ONNX int8, on Chinese and English passages.

    .venv/bin/python bench/embed_speed.py [--n 400] [--rounds 2] [--chars 250]

For each language it takes ``--n`` passages of about ``--chars`` characters from
``bench/out/cmrc/corpus`` (Chinese) and ``bench/out/squad/corpus`` (English), embeds them with

* ``torch``     - :class:`assistant.embed.torch_st.TorchEmbedder` (fp32, batch 32)
* ``onnx-fp32`` - :class:`assistant.embed.onnx_int8.OnnxEmbedder` without quantization
* ``onnx-int8`` - :class:`assistant.embed.onnx_int8.OnnxEmbedder` (what the assistant ships)

block by block in rotating order (64 passages torch, fp32, int8; the next 64 fp32, int8, torch;
...) so a noisy machine hurts all alike, and prints chars/s, the speed ratio to PyTorch (summed
times, and per round), the cosine of each ONNX vector to the PyTorch one, and how often int8
changes a passage's nearest neighbours.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from assistant.embed.onnx_int8 import OnnxEmbedder, cache_paths  # noqa: E402
from assistant.embed.resolve import resolve_embedder  # noqa: E402
from assistant.embed.torch_st import TorchEmbedder as Embedder  # noqa: E402

CORPORA = {"zh": ROOT / "bench/out/cmrc/corpus", "en": ROOT / "bench/out/squad/corpus"}


def passages(folder: Path, n: int, size: int, per_file: int = 2) -> list[str]:
    """Up to ``n`` consecutive ``size``-character windows, at most ``per_file`` per file."""
    out: list[str] = []
    for f in sorted(folder.glob("*.txt")):
        text = f.read_text(encoding="utf-8")
        if text.startswith("# "):  # drop the title line
            text = text.split("\n", 1)[-1]
        text = " ".join(text.split())
        for k, i in enumerate(range(0, max(0, len(text) - size // 2), size)):
            if k >= per_file:
                break
            out.append(text[i : i + size])
            if len(out) >= n:
                return out
    return out


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_language(lang: str, texts: list[str], embedders: dict, rounds: int, block: int) -> None:
    """Time each backend on the same blocks of ``block`` passages, rotating who goes first.

    Fine-grained alternation (torch, fp32, int8 | fp32, int8, torch | ...) means a burst of load
    from another process lands on all backends alike; ratios come from the summed times.
    """
    chars = sum(len(t) for t in texts)
    keys = list(embedders)
    for e in embedders.values():  # warm-up: first-call allocations, lazy init
        e.embed_passages(texts[:8])
    per_round: list[dict[str, float]] = []
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    turn = 0
    for r in range(rounds):
        spent = dict.fromkeys(keys, 0.0)
        for s in range(0, len(texts), block):
            part = texts[s : s + block]
            for key in keys[turn % len(keys) :] + keys[: turn % len(keys)]:
                t0 = time.perf_counter()
                v = embedders[key].embed_passages(part, batch_size=32)
                spent[key] += time.perf_counter() - t0
                if r == 0:
                    parts[key].append(v)
            turn += 1
        per_round.append(spent)
    vecs = {k: np.concatenate(v) for k, v in parts.items()}
    total = {k: sum(sp[k] for sp in per_round) for k in keys}
    print(
        f"\n[{lang}] {len(texts)} passages, {chars} chars "
        f"({chars / len(texts):.0f}/passage), {rounds} rounds in blocks of {block}; "
        f"load avg now {load()}"
    )
    print(f"  {'backend':10s} {'chars/s':>8s} {'x torch':>8s}  {'per round':14s} cosine to torch")
    ref = vecs["torch"]
    for key in keys:
        ratio = total["torch"] / total[key]
        rounds_txt = " ".join(f"{sp['torch'] / sp[key]:.2f}" for sp in per_round)
        cos = (vecs[key] * ref).sum(axis=1)
        cos_txt = "" if key == "torch" else f"mean {cos.mean():.4f}  min {cos.min():.4f}"
        print(
            f"  {key:10s} {chars * rounds / total[key]:8.0f} {ratio:7.2f}x  "
            f"{rounds_txt:14s} {cos_txt}"
        )
    # Does ONNX change which passages are nearest? Each passage as a query over the others.
    sims_t = ref @ ref.T
    np.fill_diagonal(sims_t, -1)
    k = min(10, len(texts) - 1)
    top_t = np.argsort(-sims_t, axis=1)[:, :k]
    for key in keys[1:]:
        sims = vecs[key] @ vecs[key].T
        np.fill_diagonal(sims, -1)
        same1 = float((sims_t.argmax(1) == sims.argmax(1)).mean())
        top = np.argsort(-sims, axis=1)[:, :k]
        overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(top_t, top, strict=True)])
        print(
            f"  {key} neighbours vs torch (each passage as a query): "
            f"same top-1 {same1:.1%}, top-{k} overlap {overlap:.1%}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=400, help="passages per language")
    ap.add_argument("--chars", type=int, default=250, help="characters per passage")
    ap.add_argument("--rounds", type=int, default=2, help="timed passes over the passages")
    ap.add_argument("--block", type=int, default=64, help="passages per alternation step")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--cache", type=Path, default=ROOT / "bench/out/onnx_cache")
    ap.add_argument("--fresh", action="store_true", help="delete the cached ONNX files first")
    ap.add_argument("--langs", default="zh,en")
    args = ap.parse_args()

    print(f"cpus {os.cpu_count()}, load avg {load()}")
    resolved = resolve_embedder("all-MiniLM-L6-v2", ROOT / "models")
    if args.fresh:
        for q in (True, False):
            for p in cache_paths(args.cache, resolved.name, q):
                p.unlink(missing_ok=True)
    embedders: dict = {}
    t0 = time.perf_counter()
    embedders["torch"] = Embedder(resolved, threads=args.threads)
    print(f"torch embedder loaded in {time.perf_counter() - t0:.1f}s")
    for key, quantize in (("onnx-fp32", False), ("onnx-int8", True)):
        t0 = time.perf_counter()
        e = OnnxEmbedder(resolved, args.cache, threads=args.threads, quantize=quantize)
        took = time.perf_counter() - t0
        exp = e.info.get("export_seconds", {}).get("total")
        print(
            f"{key} ready in {took:.1f}s (export when made: {exp}s, "
            f"{e.onnx_path.stat().st_size / 2**20:.0f} MiB, fused={e.info.get('fused')})"
        )
        embedders[key] = e

    for lang in args.langs.split(","):
        texts = passages(CORPORA[lang], args.n, args.chars)
        if not texts:
            print(f"[{lang}] no passages under {CORPORA[lang]}")
            continue
        bench_language(lang, texts, embedders, args.rounds, args.block)
    print(f"\nload avg at end {load()} (figures are unreliable when it is well above 1.5)")


if __name__ == "__main__":
    main()
