"""The small Chinese/English corpus the answer and `ask` CLI tests share, and its index."""

from __future__ import annotations

from pathlib import Path

from testenv import MINILM

from assistant.settings import Settings

DOCS = {
    "frameworks.md": (
        "# 推理框架笔记\n\n"
        "## vLLM\n\n"
        "vLLM 是 UC Berkeley 开发的大模型推理框架。\n"
        "它通过 PagedAttention 管理 KV 缓存，吞吐量比 HuggingFace Transformers 高 14 到 24 倍。\n\n"
        "## 量化\n\n"
        "量化把 float32 权重转换成 int8 或 int4 精度，用很小的精度损失换取更快的推理。\n"
        "vLLM 支持 AWQ 和 GPTQ 两种量化方法。\n\n"
        "## TGI\n\n"
        "Text Generation Inference 是 HuggingFace 推出的推理服务项目。\n"
    ),
    "finetuning.md": (
        "# Fine-tuning notes\n\n"
        "## LoRA\n\n"
        "LoRA freezes the pretrained weights and trains two small low-rank matrices per "
        "layer.\nIt cuts the number of trainable parameters by a factor of about 10,000.\n\n"
        "## QLoRA\n\n"
        "QLoRA trains LoRA adapters on top of a base model quantized to 4-bit NF4.\n"
    ),
    "hardware.txt": (
        "GPU 卡间互联技术\n\n"
        "NVLink 是 NVIDIA 的高速互联技术，带宽远高于 PCIe。\n"
        "InfiniBand 常用于多机之间的高速网络。\n"
    ),
}


def settings_for(corpus: Path, index: Path, **kw) -> Settings:
    base = {"corpus": corpus, "index": index, "embedder": MINILM, "model": "extractive",
            "models_dir": index.parent / "models",
            "embed_backend": "torch"}  # the packaged model as is: no ONNX export
    return Settings(**{**base, **kw})


def build(root: Path) -> tuple[Path, Path]:
    """Write the corpus under ``root`` and index it: (corpus, index)."""
    from assistant.ingest.indexer import run_index

    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    run_index(settings_for(corpus, root / "index"))
    return corpus, root / "index"
