"""A faster embedder: the same sentence-transformers model, run as int8 ONNX by onnxruntime.

:class:`OnnxEmbedder` is an :class:`assistant.embed.base.Embedder` (``backend = "onnx-int8"``)
with the tokenizer and prefixes of :class:`assistant.embed.torch_st.TorchEmbedder`.

The model's transformer is exported once (``torch.onnx.export``, dynamic batch and sequence
axes), its attention / layer-norm / GELU subgraphs are fused by onnxruntime's transformer
optimizer, and the weights of its MatMul / Attention ops are quantized to int8 per output
channel with 7-bit range (``quantize_dynamic``; activations are quantized on the fly, per
tensor, so a vector moves very slightly with its batch mates). The result is checked against
sentence-transformers on a few Chinese and English probes before it is kept, then cached as
``<cache_dir>/<name>-int8.onnx`` beside a JSON sidecar recording the source model, a hash of
its weights and the hash of the ONNX file: a changed model, a changed recipe or a damaged file
means a fresh export (a few seconds). Pooling and normalisation follow the model's own
``modules.json`` / ``1_Pooling/config.json``.

Anything that goes wrong raises :class:`OnnxExportError`; :func:`load_fast_embedder` turns
that into ``(None, reason)`` so the caller can keep the PyTorch :class:`Embedder`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.atomic import write_json_atomic
from assistant.embed.base import PrefixedTokenizerMixin

if TYPE_CHECKING:
    from assistant.embed.resolve import ResolvedEmbedder

log = logging.getLogger(__name__)

# Bump when the export / optimisation / quantisation recipe changes: cached files re-export.
RECIPE_VERSION = 1
OPSET = 17
# Export-time acceptance: cosine of our vectors to sentence-transformers' on the probes.
MIN_COSINE = {"onnx-int8": 0.95, "onnx-fp32": 0.999}

_PROBES = (
    "如何在本地电脑上离线搜索自己的文档？",
    "北京是中华人民共和国的首都，也是全国的政治和文化中心。",
    "量子计算利用叠加和纠缠来处理信息，某些问题上比经典计算机快得多。",
    "The Normans were the people who gave their name to Normandy, a region in France.",
    "How do I reset my password?",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "混合文本 mixed text: GPU 显存不足时可以减小 batch size。",
    "ok",
    # longer than any max_seq_length: exercises truncation
    "长文本测试。" * 120 + " and a long English tail " * 60,
)

_SUPPORTED_POOLING = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean")
_LEGACY_POOLING_KEYS = {  # sentence-transformers' order when several are on
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
# Files that define the model; other frameworks' weights (onnx/, *.h5, ...) are ignored.
_MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".bin", ".txt", ".model", ".pt")
_SKIP_FILES = {"README.md", ".gitattributes", "training_args.bin"}

_export_locks: dict[str, threading.Lock] = {}
_export_locks_guard = threading.Lock()


class OnnxExportError(RuntimeError):
    """The model could not be exported, quantized, validated or loaded as ONNX."""


# --------------------------------------------------------------------------- model folder


@dataclass(frozen=True)
class SentenceModelSpec:
    """What a sentence-transformers folder asks for, read from its config files."""

    transformer_dir: str
    max_seq_length: int
    do_lower_case: bool
    pooling: tuple[str, ...]
    normalize: bool
    module_paths: tuple[str, ...]  # folders of the modules (for hashing)


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_sentence_model(model_dir: Path) -> SentenceModelSpec:
    """Parse ``modules.json`` & co.; raise :class:`OnnxExportError` for what we cannot run."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise OnnxExportError(f"model folder {model_dir} does not exist")
    modules_file = model_dir / "modules.json"
    if modules_file.exists():
        modules = _read_json(modules_file)
    else:  # a bare Hugging Face model: sentence-transformers adds mean pooling
        modules = [{"path": "", "type": "sentence_transformers.models.Transformer"}]
    transformer_dir: str | None = None
    pooling: tuple[str, ...] = ("mean",)
    normalize = False
    paths = []
    for i, m in enumerate(modules):
        kind = str(m.get("type", "")).rsplit(".", 1)[-1]
        path = str(m.get("path", ""))
        paths.append(path)
        if kind == "Transformer":
            if i != 0:
                raise OnnxExportError("the Transformer is not the first module")
            transformer_dir = path
        elif kind == "Pooling":
            pooling = _read_pooling(model_dir / path / "config.json")
        elif kind == "Normalize":
            normalize = True
        else:
            raise OnnxExportError(f"module type {kind!r} is not supported by the ONNX path")
    if transformer_dir is None:
        raise OnnxExportError("modules.json has no Transformer module")
    tdir = model_dir / transformer_dir
    st_cfg = {}
    for fname in ("sentence_bert_config.json", "sentence_xlnet_config.json"):
        if (tdir / fname).exists():
            st_cfg = _read_json(tdir / fname)
            break
    cfg = _read_json(tdir / "config.json") if (tdir / "config.json").exists() else {}
    max_len = st_cfg.get("max_seq_length")
    if max_len is None:
        tok_cfg_file = tdir / "tokenizer_config.json"
        tok_cfg = _read_json(tok_cfg_file) if tok_cfg_file.exists() else {}
        max_len = tok_cfg.get("model_max_length") or 512
    if cfg.get("max_position_embeddings"):
        max_len = min(int(max_len), int(cfg["max_position_embeddings"]))
    ct_file = model_dir / "config_sentence_transformers.json"
    if ct_file.exists() and _read_json(ct_file).get("default_prompt_name"):
        raise OnnxExportError("models with a default prompt are not supported by the ONNX path")
    return SentenceModelSpec(
        transformer_dir=transformer_dir,
        max_seq_length=int(max_len),
        do_lower_case=bool(st_cfg.get("do_lower_case", False)),
        pooling=pooling,
        normalize=normalize,
        module_paths=tuple(dict.fromkeys(paths)),
    )


def _read_pooling(config_file: Path) -> tuple[str, ...]:
    cfg = _read_json(config_file) if config_file.exists() else {}
    if "pooling_mode" in cfg:
        mode = cfg["pooling_mode"]
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
    else:
        modes = tuple(v for k, v in _LEGACY_POOLING_KEYS.items() if cfg.get(k))
    if not modes:
        modes = ("mean",)
    bad = [m for m in modes if m not in _SUPPORTED_POOLING]
    if bad:
        raise OnnxExportError(f"pooling {bad} is not supported by the ONNX path")
    if cfg.get("include_prompt") is False:
        # Only matters with sentence-transformers prompts, which the assistant does not use.
        log.debug("include_prompt=False ignored: no prompts are passed")
    return modes


def _model_files(model_dir: Path, spec: SentenceModelSpec) -> list[Path]:
    files: list[Path] = []
    for rel in spec.module_paths or ("",):
        folder = model_dir / rel
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.is_file() and p.suffix in _MODEL_FILE_SUFFIXES and p.name not in _SKIP_FILES:
                files.append(p)
    if not any(p.suffix in (".safetensors", ".bin", ".pt") for p in files):
        raise OnnxExportError(f"no weights file found in {model_dir}")
    return files


def _file_stats(model_dir: Path, files: list[Path]) -> dict[str, list[int]]:
    out = {}
    for p in files:
        st = p.stat()
        out[p.relative_to(model_dir).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def _sha256(paths: list[Path], model_dir: Path | None = None) -> str:
    h = hashlib.sha256()
    for p in paths:
        if model_dir is not None:
            h.update(p.relative_to(model_dir).as_posix().encode() + b"\0")
        with open(p, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- pooling


def _pool(
    hidden: np.ndarray, mask: np.ndarray, modes: tuple[str, ...]
) -> np.ndarray:  # (B, T, D), (B, T) -> (B, D * len(modes)), right padding assumed
    m = mask.astype(np.float32)[..., None]
    out = []
    mean_sum = counts = None
    for mode in modes:
        if mode == "cls":
            out.append(hidden[:, 0])
        elif mode == "max":
            out.append(np.where(m > 0, hidden, -np.inf).max(axis=1))
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            if mean_sum is None:
                mean_sum = (hidden * m).sum(axis=1)
                counts = np.maximum(m.sum(axis=1), 1e-9)
            out.append(mean_sum / (counts if mode == "mean" else np.sqrt(counts)))
        elif mode == "weightedmean":
            w = m * np.arange(1, hidden.shape[1] + 1, dtype=np.float32)[None, :, None]
            out.append((hidden * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-9))
        else:  # read_sentence_model rejects these
            raise OnnxExportError(f"pooling {mode!r} is not supported")
    vecs = out[0] if len(out) == 1 else np.concatenate(out, axis=1)
    return vecs.astype(np.float32, copy=False)


def _l2_normalize(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- runtime


class _Runner:
    """Tokenize, batch by length, run the ONNX session, pool and normalise."""

    def __init__(
        self, onnx_path: Path, model_dir: Path, spec: SentenceModelSpec, threads: int | None
    ):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.spec = spec
        self.tokenizer = AutoTokenizer.from_pretrained(
            str(model_dir / spec.transformer_dir), model_max_length=spec.max_seq_length
        )
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads or max(1, os.cpu_count() or 1))
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(onnx_path), so, providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            raise OnnxExportError(f"onnxruntime cannot load {onnx_path.name}: {e}") from e
        self.input_names = [i.name for i in self.session.get_inputs()]
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else 0

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors for ``texts`` (prefixes already applied), in input order."""
        if self.spec.do_lower_case:
            texts = [t.lower() for t in texts]
        enc = self.tokenizer(
            texts,
            add_special_tokens=True,
            truncation=True,
            max_length=self.spec.max_seq_length,
            padding=False,
        )
        ids = enc["input_ids"]
        types = enc.get("token_type_ids")
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out: np.ndarray | None = None
        batch_size = max(1, int(batch_size))
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            width = max(len(ids[i]) for i in idx)
            input_ids = np.full((len(idx), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            tt = np.zeros((len(idx), width), dtype=np.int64)
            for r, i in enumerate(idx):
                n = len(ids[i])
                input_ids[r, :n] = ids[i]
                mask[r, :n] = 1
                if types is not None:
                    tt[r, :n] = types[i]
            feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": tt}
            hidden = self.session.run(None, {k: feeds[k] for k in self.input_names})[0]
            vecs = _l2_normalize(_pool(hidden, mask, self.spec.pooling))
            if out is None:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
        assert out is not None
        return out


class OnnxEmbedder(PrefixedTokenizerMixin):
    """The :class:`~assistant.embed.base.Embedder` interface over an ONNX (int8) model.

    Build with :func:`load_fast_embedder` (never raises) or directly (raises
    :class:`OnnxExportError`). ``quantize=False`` keeps fp32 weights (``backend
    "onnx-fp32"``, for benchmarks).
    """

    def __init__(
        self,
        resolved: ResolvedEmbedder,
        cache_dir: Path,
        threads: int | None = None,
        quantize: bool = True,
    ):
        self.name: str = resolved.name
        self.source = resolved.source
        self.backend = "onnx-int8" if quantize else "onnx-fp32"
        model_dir = Path(resolved.path)
        # Weights of another source are another file: both stay cached.
        cache_name = f"{resolved.name}@{resolved.source}" if resolved.source else resolved.name
        self.onnx_path, self.info = ensure_onnx_model(
            model_dir, Path(cache_dir), cache_name, quantize=quantize
        )
        spec = read_sentence_model(model_dir)  # as recorded in the sidecar (checked on load)
        try:
            self._runner = _Runner(self.onnx_path, model_dir, spec, threads)
        except OnnxExportError:
            # The file passed its hash check yet does not load: export afresh once.
            self.onnx_path, self.info = ensure_onnx_model(
                model_dir, Path(cache_dir), cache_name, quantize=quantize, force=True
            )
            self._runner = _Runner(self.onnx_path, model_dir, spec, threads)
        self.dim = int(self.info["dim"])
        self.max_tokens = int(spec.max_seq_length)
        self.tokenizer = self._runner.tokenizer
        self._set_prefixes()
        self._lock = threading.Lock()  # one run at a time uses all the session's threads

    def embed_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._runner.encode([self.passage_prefix + t for t in texts], batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return self._runner.encode([self.query_prefix + text])[0]

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self.name!r}, backend={self.backend!r}, file={self.onnx_path})"


# --------------------------------------------------------------------------- export & cache


def cache_paths(cache_dir: Path, name: str, quantize: bool = True) -> tuple[Path, Path]:
    """``(<cache_dir>/<name>-int8.onnx, <cache_dir>/<name>-int8.json)``."""
    safe = name.strip("/").replace("/", "--").replace("\\", "--").replace(":", "-") or "model"
    stem = f"{safe}-{'int8' if quantize else 'fp32'}"
    return Path(cache_dir) / f"{stem}.onnx", Path(cache_dir) / f"{stem}.json"


def _cached_info(
    onnx_path: Path, sidecar: Path, model_dir: Path, spec: SentenceModelSpec, quantize: bool
) -> tuple[dict | None, str]:
    """The sidecar if the cached file is current and intact, else ``(None, why)``."""
    if not onnx_path.exists() or not sidecar.exists():
        return None, "no cached file"
    try:
        info = _read_json(sidecar)
    except (OSError, ValueError) as e:
        return None, f"unreadable sidecar ({e})"
    if info.get("recipe") != RECIPE_VERSION or info.get("quantized") != quantize:
        return None, "export recipe changed"
    if info.get("spec") != json.loads(json.dumps(asdict(spec))):
        return None, "model configuration changed"
    files = _model_files(model_dir, spec)
    if info.get("source_stats") != _file_stats(model_dir, files):
        # Touched or replaced files: the content hash decides.
        if info.get("weights_sha256") != _sha256(files, model_dir):
            return None, "model weights changed"
        info["source_stats"] = _file_stats(model_dir, files)
        info["source_path"] = str(model_dir)
        write_json_atomic(sidecar, info)
    st = onnx_path.stat()
    if st.st_size != info.get("onnx_size") or _sha256([onnx_path]) != info.get("onnx_sha256"):
        return None, "cached ONNX file is damaged"
    return info, ""


def ensure_onnx_model(
    model_dir: Path, cache_dir: Path, name: str, *, quantize: bool = True, force: bool = False
) -> tuple[Path, dict]:
    """The cached ONNX file for the model at ``model_dir`` (exported if missing or stale).

    Returns ``(onnx_path, sidecar_info)``; raises :class:`OnnxExportError`.
    """
    model_dir = Path(model_dir)
    spec = read_sentence_model(model_dir)
    _model_files(model_dir, spec)  # no weights: fail before any work
    onnx_path, sidecar = cache_paths(cache_dir, name, quantize)
    with _export_locks_guard:
        lock = _export_locks.setdefault(str(onnx_path), threading.Lock())
    with lock:
        if not force:
            info, why = _cached_info(onnx_path, sidecar, model_dir, spec, quantize)
            if info is not None:
                return onnx_path, info
            if why != "no cached file":
                log.info("re-exporting %s to ONNX: %s", name, why)
        info = export_onnx(model_dir, onnx_path, name=name, quantize=quantize, spec=spec)
        write_json_atomic(sidecar, info)
        return onnx_path, info


def export_onnx(
    model_dir: Path,
    onnx_path: Path,
    *,
    name: str = "",
    quantize: bool = True,
    spec: SentenceModelSpec | None = None,
) -> dict:
    """Export, fuse, quantize and validate; write ``onnx_path``; return the sidecar info."""
    t0 = time.perf_counter()
    model_dir = Path(model_dir)
    spec = spec or read_sentence_model(model_dir)
    onnx_path = Path(onnx_path)
    try:
        onnx_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OnnxExportError(f"cannot create {onnx_path.parent}: {e}") from e
    tag = f".{onnx_path.stem}.{os.getpid()}.{threading.get_ident()}"
    tmp = {k: onnx_path.with_name(f"{tag}.{k}.onnx") for k in ("raw", "fused", "q", "qraw")}
    try:
        return _export(model_dir, onnx_path, name, quantize, spec, tmp, t0)
    except OnnxExportError:
        raise
    except Exception as e:  # anything from torch / onnx / onnxruntime
        raise OnnxExportError(f"ONNX export of {name or model_dir} failed: {e!r}") from e
    finally:
        for p in tmp.values():
            with contextlib.suppress(OSError):
                p.unlink()
            with contextlib.suppress(OSError):
                p.with_name(p.name + ".data").unlink()


def _export(model_dir, onnx_path, name, quantize, spec, tmp, t0) -> dict:
    try:
        import onnx  # noqa: F401  (needed by the exporter and the quantizer)
        import onnxruntime
        import torch
    except ImportError as e:
        raise OnnxExportError(f"missing package for the ONNX export: {e.name}") from e

    hf_model, tokenizer, ref = _reference(model_dir)
    input_names = _input_names(hf_model, tokenizer)
    _torch_export(hf_model, tokenizer, input_names, tmp["raw"])
    export_s = time.perf_counter() - t0
    fused = _fuse(tmp["raw"], tmp["fused"], hf_model.config)
    out, src, cos = _best_candidate(tmp, fused, quantize, model_dir, spec, ref)
    os.replace(out, onnx_path)
    files = _model_files(model_dir, spec)
    info = {
        "recipe": RECIPE_VERSION,
        "backend": "onnx-int8" if quantize else "onnx-fp32",
        "quantized": quantize,
        "quantization": (
            {
                "weights": "QInt8",
                "per_channel": True,
                "reduce_range": True,
                "activations": "dynamic uint8",
                "ops": ["MatMul", "Attention"],
            }
            if quantize
            else None
        ),
        "fused": bool(fused and src == tmp["fused"]),
        "opset": OPSET,
        "source_name": name,
        "source_path": str(model_dir),
        "weights_sha256": _sha256(files, model_dir),
        "source_stats": _file_stats(model_dir, files),
        "onnx_sha256": _sha256([onnx_path]),
        "onnx_size": onnx_path.stat().st_size,
        "inputs": input_names,
        "dim": int(ref.shape[1]),
        "spec": asdict(spec),
        "probe_cosine": {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)},
        "export_seconds": {
            "torch_export": round(export_s, 2),
            "total": round(time.perf_counter() - t0, 2),
        },
        "versions": {
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "onnx": __import__("onnx").__version__,
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    log.info("exported %s to %s in %.1fs", name or model_dir, onnx_path, time.perf_counter() - t0)
    return info


def _reference(model_dir: Path):
    """(transformer, tokenizer, reference vectors of the probes) from sentence-transformers."""
    from sentence_transformers import SentenceTransformer

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # eager attention exports to the pattern onnxruntime fuses into Attention
            st = SentenceTransformer(
                str(model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"}
            )
        except (TypeError, ValueError):
            st = SentenceTransformer(str(model_dir), device="cpu")
    st.eval()
    first = st[0]
    hf_model = getattr(first, "auto_model", None) or first.model
    hf_model.eval()
    ref = st.encode(
        list(_PROBES),
        batch_size=len(_PROBES),
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    ).astype(np.float32)
    return hf_model, first.tokenizer, ref


def _input_names(hf_model, tokenizer) -> list[str]:
    """The inputs the transformer takes, of input_ids, attention_mask, token_type_ids."""
    import inspect

    accepted = set(inspect.signature(hf_model.forward).parameters)
    probe = tokenizer(["a b", "c"], padding=True, return_tensors="pt")
    names = [
        k for k in ("input_ids", "attention_mask", "token_type_ids") if k in probe and k in accepted
    ]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise OnnxExportError(f"unexpected model inputs {sorted(probe.keys())}")
    return names


def _torch_export(hf_model, tokenizer, input_names: list[str], raw: Path) -> None:
    """The transformer's last hidden state as ONNX, batch and sequence axes dynamic."""
    import torch

    class _Hidden(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *args):
            out = self.model(**dict(zip(input_names, args, strict=True)), return_dict=True)
            return out[0]

    pad = int(tokenizer.pad_token_id or 0)
    ids = torch.full((2, 16), pad, dtype=torch.long)
    ids[:, 0] = int(tokenizer.cls_token_id or 0)
    ids[0, 1:15] = 1000 + torch.arange(14)
    ids[1, 1:9] = 1200 + torch.arange(8)
    mask = (ids != pad).long()
    mask[:, 0] = 1
    dummy = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    args = tuple(dummy[k] for k in input_names)
    axes = {k: {0: "batch", 1: "sequence"} for k in [*input_names, "last_hidden_state"]}
    wrapper = _Hidden(hf_model).eval()
    errors = []
    for dynamo in (False, True):  # the legacy exporter's graph is the one ORT fuses
        try:
            kwargs: dict[str, Any] = {"dynamo": dynamo}
            if dynamo:
                kwargs["dynamic_shapes"] = tuple({0: "batch", 1: "sequence"} for _ in args)
            else:
                kwargs["dynamic_axes"] = axes
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    wrapper,
                    args,
                    str(raw),
                    input_names=input_names,
                    output_names=["last_hidden_state"],
                    opset_version=OPSET,
                    do_constant_folding=True,
                    **kwargs,
                )
            return
        except Exception as e:
            errors.append(f"{'dynamo' if dynamo else 'legacy'} exporter: {e!r}"[:500])
    raise OnnxExportError("torch.onnx.export failed: " + " | ".join(errors))


def _best_candidate(tmp: dict[str, Path], fused: bool, quantize: bool, model_dir: Path,
                    spec: SentenceModelSpec, ref: np.ndarray):
    """(file, the graph it came from, probe cosines) of the first graph, fused first, that
    reproduces sentence-transformers on the probes."""
    candidates = ([tmp["fused"]] if fused else []) + [tmp["raw"]]
    problems = []
    for src in candidates:
        if quantize:
            out = tmp["q"] if src == tmp["fused"] else tmp["qraw"]
            _quantize(src, out)
        else:
            out = src
        cos = _validate(out, model_dir, spec, ref)
        floor = MIN_COSINE["onnx-int8" if quantize else "onnx-fp32"]
        if float(cos.min()) >= floor:
            return out, src, cos
        problems.append(
            f"{'fused' if src == tmp['fused'] else 'plain'} graph: min cosine "
            f"{cos.min():.4f} < {floor}"
        )
        log.info("ONNX candidate rejected: %s", problems[-1])
    raise OnnxExportError(
        "the ONNX model does not reproduce sentence-transformers: " + "; ".join(problems)
    )


@contextlib.contextmanager
def _quiet():
    """Silence the optimizer's and quantizer's chatter (they log on top-level loggers)."""
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def _fuse(src: Path, dst: Path, config) -> bool:
    """onnxruntime's transformer fusions (Attention, SkipLayerNorm, BiasGelu...); best effort."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        heads = int(getattr(config, "num_attention_heads", 0) or 0)
        hidden = int(getattr(config, "hidden_size", 0) or 0)
        with _quiet():
            opt = optimize_model(
                str(src), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
            )
        opt.save_model_to_file(str(dst))
        return True
    except Exception as e:
        log.info("ONNX fusion skipped: %r", e)
        return False


def _quantize(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            per_channel=True,  # per-tensor int8 loses too much here (cosine ~0.85)
            reduce_range=True,  # 7-bit weights: no u8*s8 saturation on CPUs without VNNI
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


def _validate(onnx_file: Path, model_dir: Path, spec: SentenceModelSpec, ref: np.ndarray):
    """Cosine of each probe's ONNX vector to sentence-transformers' (one padded batch)."""
    runner = _Runner(onnx_file, model_dir, spec, threads=None)
    got = runner.encode(list(_PROBES), batch_size=len(_PROBES))
    if got.shape != ref.shape:
        raise OnnxExportError(f"ONNX output shape {got.shape} != {ref.shape}")
    return (got * ref).sum(axis=1)


# --------------------------------------------------------------------------- entry point


def load_fast_embedder(
    resolved: ResolvedEmbedder, cache_dir: Path, threads: int | None = None
) -> tuple[OnnxEmbedder | None, str | None]:
    """``(OnnxEmbedder, None)``, or ``(None, reason)`` when the int8 ONNX path is unavailable.

    Never raises: a missing onnxruntime/onnx, an unsupported model or a failed export or
    validation gives the reason, so the caller can keep the PyTorch embedder.
    """
    for module in ("onnxruntime", "onnx"):
        try:
            __import__(module)
        except ImportError:
            return None, f"{module} is not installed"
    try:
        return OnnxEmbedder(resolved, Path(cache_dir), threads=threads), None
    except OnnxExportError as e:
        return None, str(e)
    except Exception as e:  # a fast path must never take the app down
        log.warning("ONNX embedder unavailable", exc_info=True)
        return None, f"ONNX embedder unavailable: {e!r}"
