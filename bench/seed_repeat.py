"""Does a seed give the same words whatever was asked before? For each of 5 seeds, one
question is asked, then asked again in turn with others that share most of its prompt
(temperature 1, 40 tokens); printed: how many repeats differ from its first answer, for
each policy of reusing llama.cpp's cache:

- ``system``: reuse the system message only (the shipped one, generate/local.py);
- ``all``: reuse the longest cached prefix (llama-cpp-python's own, the code before);
- ``all-but-N``: reuse the longest prefix but read at least the last N tokens anew.

    python bench/seed_repeat.py models/pypi/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
"""

from __future__ import annotations

import sys

from assistant.generate.local import LlamaCppGenerator, _common

SYSTEM = {"role": "system", "content": "你是一个根据资料回答问题的助手。只根据资料回答。"}
BODY = ("资料：LoRA 冻结预训练权重，每层训练两个小的低秩矩阵，可训练参数减少约一万倍。QLoRA 在 "
        "4-bit NF4 量化的基座模型上训练 LoRA 适配器。vLLM 是 UC Berkeley 开发的推理框架，通过 "
        "PagedAttention 管理 KV 缓存。\n\n问题：")
ASKED = [("简单说说 LoRA", True), ("简单说说 QLoRA", False), ("简单说说 LoRA", True),
         ("简单说说 vLLM 吧", False), ("简单说说 LoRA", True), ("简单说说 LoRA", True)]


def reuse_longest(keep_last: int):
    def cache_only(self, tokens, start):
        llm = self._llm
        held = _common(llm.input_ids[: llm.n_tokens].tolist(), tokens)
        held = min(held, len(tokens) - max(keep_last, 0))
        if held < start:
            llm.reset()
            if start:
                llm.eval(tokens[:start])
            held = start
        llm.n_tokens = held
    return cache_only


def main() -> None:
    shipped = LlamaCppGenerator._cache_only
    gen = LlamaCppGenerator(sys.argv[1], n_ctx=2048, threads=2)
    for label, policy in [("system", shipped), ("all", reuse_longest(0)),
                          ("all-but-16", reuse_longest(16)), ("all-but-64", reuse_longest(64))]:
        LlamaCppGenerator._cache_only = policy
        differ = total = 0
        for seed in range(1, 6):
            def ask(q, seed=seed):
                messages = [SYSTEM, {"role": "user", "content": BODY + q}]
                return "".join(gen.stream(messages, max_tokens=40, temperature=1.0, seed=seed))
            first = ask("简单说说 LoRA")
            for q, repeat in ASKED:
                answer = ask(q)
                if repeat:
                    total += 1
                    differ += answer != first
        print(f"{label}: {differ} of {total} repeats differ from the first answer", flush=True)
    LlamaCppGenerator._cache_only = shipped


if __name__ == "__main__":
    main()
