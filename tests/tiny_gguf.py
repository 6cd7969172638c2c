"""A tiny random-weight GGUF for tests: loads in milliseconds, streams gibberish.

Llama architecture, 64 wide, 2 layers, a SentencePiece-style (``tokenizer.ggml.model =
"llama"``) vocabulary of the special tokens, the 256 byte-fallback tokens and a few
hundred plain pieces, and a ChatML chat template. The output layer is tilted towards the
plain pieces (and away from the end tokens) so that greedy decoding yields readable,
non-empty text that runs until ``max_tokens``.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
DEFAULT = CHATML_TEMPLATE

N_EMBD, N_LAYER, N_HEAD, N_HEAD_KV, N_FF = 64, 2, 4, 2, 128
N_CTX_TRAIN = 2048
SPECIAL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
_WORD_LIST = (
    "the of and to in is was for on that with as by at from it an be this are or which "
    "model models token tokens answer source sources question context search index chunk "
    "vector local server cited passage file line page llama qwen gemma phi gguf cpu "
    "hello world test data text water light river mountain city music paper stone"
)
_WORDS = _WORD_LIST.split()
_CHINESE = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过"
    "子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体"
    "制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内"
    "数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提"
)


def _vocab() -> tuple[list[str], list[float], list[int]]:
    from gguf import TokenType

    tokens = list(SPECIAL)
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
    types += [TokenType.CONTROL, TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [TokenType.BYTE] * 256
    # "▁" marks a word start in SentencePiece; the plain pieces get falling scores, which
    # SentencePiece's merge order uses.
    # Every prefix is a piece too, so SentencePiece's pairwise merges can reach the words.
    chars = "▁" + string.ascii_letters + string.digits + string.punctuation
    words = [w[:i] for w in _WORDS for i in range(2, len(w) + 1)]
    words = [f"▁{w}" for w in words] + words
    pieces = list(dict.fromkeys([*chars, *words, *_CHINESE]))
    tokens += pieces
    types += [TokenType.NORMAL] * len(pieces)
    scores = [0.0] * (len(SPECIAL) + 256) + [-float(i) for i in range(len(pieces))]
    return tokens, scores, [int(t) for t in types]


def build_tiny_gguf(path: Path, chat_template: str | None = DEFAULT, seed: int = 0) -> Path:
    """Write the tiny model to ``path`` (no chat template when ``chat_template`` is None)."""
    from gguf import GGUFWriter

    tokens, scores, types = _vocab()
    n_vocab = len(tokens)
    rng = np.random.default_rng(seed)

    def weight(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = GGUFWriter(str(path), "llama")
    w.add_name("tiny-test-llama")
    w.add_context_length(N_CTX_TRAIN)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)  # all F32
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    if chat_template is not None:
        w.add_chat_template(chat_template)

    head_dim = N_EMBD // N_HEAD
    output = weight(n_vocab, N_EMBD, scale=1.0)
    output[: len(SPECIAL)] = 0.0  # never chosen over a real piece: no early end
    output[len(SPECIAL) : len(SPECIAL) + 256] *= 0.1  # raw bytes rarely: readable text
    w.add_tensor("token_embd.weight", weight(n_vocab, N_EMBD, scale=1.0))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    w.add_tensor("output.weight", output)
    for i in range(N_LAYER):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(f"blk.{i}.attn_q.weight", weight(N_EMBD, N_EMBD))
        w.add_tensor(f"blk.{i}.attn_k.weight", weight(N_HEAD_KV * head_dim, N_EMBD))
        w.add_tensor(f"blk.{i}.attn_v.weight", weight(N_HEAD_KV * head_dim, N_EMBD))
        w.add_tensor(f"blk.{i}.attn_output.weight", weight(N_EMBD, N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", weight(N_FF, N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_up.weight", weight(N_FF, N_EMBD))
        w.add_tensor(f"blk.{i}.ffn_down.weight", weight(N_EMBD, N_FF))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def build_corrupt_gguf(src: Path, dest: Path, keep: float = 0.5) -> Path:
    """Copy the first ``keep`` fraction of ``src`` to ``dest``: an interrupted download."""
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest
