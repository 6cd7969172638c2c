"""``assistant doctor`` on a real small index, sound and then broken on purpose; and
``assistant index`` repairing what doctor found."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import MINILM

from assistant import cli, doctor, hub, store
from assistant.config import Settings

DOCS = {
    "向量数据库.md": "# 向量数据库\n\nFAISS 是 Meta 开发的向量检索库，用于相似度搜索。\n\n"
    "## 索引\n\nIVF 索引把向量分到多个簇里，搜索时只看最近的几个簇。\n",
    "llm-serving.md": "# LLM serving\n\nvLLM uses PagedAttention to manage the KV cache.\n\n"
    "## Batching\n\nContinuous batching keeps the GPU busy between requests.\n",
    "notes.txt": "量化把权重从 16 位降到 4 位。\nQ4_K_M is a common GGUF quantization.\n",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A corpus and its index, built once; each test gets a copy to break."""
    root = tmp_path_factory.mktemp("doctor")
    for name, text in DOCS.items():
        (root / "corpus").mkdir(exist_ok=True)
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    rc = cli.main(["index", *_flags(root)])
    assert rc == 0
    return root


@pytest.fixture
def root(built, tmp_path) -> Path:
    shutil.copytree(built, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _flags(root: Path) -> list[str]:
    return ["--corpus", str(root / "corpus"), "--index", str(root / "index"),
            "--embedder", MINILM, "--models-dir", str(root / "models")]


def _settings(root: Path, **kw) -> Settings:
    base = dict(corpus=root / "corpus", index=root / "index", models_dir=root / "models",
                embedder=MINILM, model="extractive")
    return Settings(**{**base, **kw})


def _index_checks(root: Path, **kw) -> dict[str, doctor.Check]:
    return {c.name: c for c in doctor.check_index(_settings(root, **kw))}


def _doctor(root: Path, capsys, *extra: str) -> tuple[int, str]:
    rc = cli.main(["doctor", *_flags(root), "--model", "extractive", *extra])
    return rc, capsys.readouterr().out


def test_a_sound_index_passes(root, capsys):
    checks = _index_checks(root)
    assert {c.status for c in checks.values()} == {"ok"}, checks
    assert "3 documents" in checks["manifest"].detail
    assert "agrees with SQLite" in checks["faiss"].detail
    rc, out = _doctor(root, capsys, "--json")
    data = json.loads(out)
    assert rc == doctor.exit_code([doctor.Check(**c) for c in data["checks"]])
    areas = {c["area"] for c in data["checks"]}
    assert areas == {"versions", "models", "index", "disk", "cpu"}
    names = {c["name"] for c in data["checks"] if c["area"] == "versions"}
    assert {"python", "torch", "sentence-transformers", "llama-cpp-python", "faiss-cpu",
            "gradio"} <= names


def _break_faiss(index: Path) -> None:
    """Write a FAISS file holding a different set of vectors, tagged as current."""
    conn = sqlite3.connect(index / store.DB_NAME)
    ids, vecs = store.vectors_for_chunks(conn, 384)
    gen = store.generation(conn)
    conn.close()
    store.VectorIndex.build(ids[:-2], vecs[:-2], 384).save(index, gen, MINILM)


def test_doctor_finds_a_faiss_file_that_disagrees_and_index_repairs_it(root, capsys):
    _break_faiss(root / "index")
    rc, out = _doctor(root, capsys)
    assert rc == 1
    assert "FAIL  the FAISS file disagrees with SQLite (holds" in out
    assert "fix: assistant index  (rebuilds the FAISS file from SQLite" in out
    assert "1 problem," in out

    assert cli.main(["index", *_flags(root)]) == 0
    capsys.readouterr()
    checks = _index_checks(root)
    assert {c.status for c in checks.values()} == {"ok"}, checks
    rc, out = _doctor(root, capsys)
    assert "FAIL" not in out
    assert rc == 0


def test_faiss_from_another_generation(root):
    meta_file = root / "index" / store.FAISS_META
    meta = json.loads(meta_file.read_text())
    meta["generation"] += 5
    meta_file.write_text(json.dumps(meta))
    check = _index_checks(root)["faiss"]
    assert check.status == "fail" and "built from generation" in check.detail


def test_faiss_file_missing(root):
    (root / "index" / store.FAISS_NAME).unlink()
    check = _index_checks(root)["faiss"]
    assert check.status == "fail" and "missing or unreadable" in check.detail
    assert check.fix.startswith("assistant index")


def test_chunks_without_vectors_are_found_and_index_embeds_them(root, capsys):
    with sqlite3.connect(root / "index" / store.DB_NAME) as conn:
        conn.execute("DELETE FROM vectors WHERE hash IN (SELECT hash FROM chunks LIMIT 2)")
    checks = _index_checks(root)
    assert checks["vectors"].status == "fail"
    assert "have no vector" in checks["vectors"].detail
    assert cli.main(["index", *_flags(root)]) == 0
    assert {c.status for c in _index_checks(root).values()} == {"ok"}


def test_full_text_rows_missing(root):
    with sqlite3.connect(root / "index" / store.DB_NAME) as conn:
        conn.execute("DELETE FROM chunks_fts WHERE rowid = (SELECT MIN(id) FROM chunks)")
    check = _index_checks(root)["full-text"]
    assert check.status == "fail" and "1 chunks missing" in check.detail
    assert "delete the folder" in check.fix


def test_index_built_with_another_embedder(root):
    (root / "models" / "embedders" / "Org--other").mkdir(parents=True)
    (root / "models" / "embedders" / "Org--other" / "config.json").write_text("{}")
    check = _index_checks(root, embedder="Org/other")["embedder"]
    assert check.status == "fail" and f"built with {MINILM}" in check.detail


def test_damaged_database(root):
    db = root / "index" / store.DB_NAME
    db.write_bytes(b"this is not a database" * 200)
    check = _index_checks(root)["sqlite"]
    assert check.status == "fail" and "delete the folder" in check.fix


def test_no_index_yet(tmp_path):
    checks = doctor.check_index(_settings(tmp_path))
    assert [(c.status, c.fix.split()[:2]) for c in checks] == [("warn", ["assistant", "index"])]


def test_corpus_changed_since_indexing(root):
    (root / "corpus" / "new.md").write_text("# 新文件\n\n内容。\n", encoding="utf-8")
    (root / "corpus" / "notes.txt").unlink()
    check = _index_checks(root)["corpus"]
    assert check.status == "warn"
    assert "1 new, 0 changed, 1 removed" in check.detail


def test_a_file_the_index_could_not_load_is_not_new(root):
    (root / "corpus" / "broken.pdf").write_bytes(b"%PDF-1.4 cut short")
    assert _index_checks(root)["corpus"].status == "warn"  # not indexed yet: new
    assert cli.main(["index", *_flags(root)]) == 0  # skipped, with a warning
    check = _index_checks(root)["corpus"]
    assert check.status == "ok" and "left out as unreadable: broken.pdf (" in check.detail
    (root / "corpus" / "broken.pdf").write_bytes(b"%PDF-1.4 changed, still cut short")
    assert "1 new" in _index_checks(root)["corpus"].detail  # changed since: try again


def test_missing_and_damaged_chat_model(tmp_path):
    settings = _settings(tmp_path, model="qwen2.5-1.5b-instruct")
    checks = {c.name: c for c in doctor.check_models(settings)}
    assert checks["chat model"].status == "warn"
    assert checks["chat model"].fix == "assistant pull --model qwen2.5-1.5b-instruct"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "qwen2.5-1.5b-instruct-q4_k_m.gguf").write_bytes(b"<html>" * 100)
    checks = {c.name: c for c in doctor.check_models(settings)}
    assert checks["chat model"].status == "fail"
    assert "not a GGUF file" in checks["chat model"].detail


def test_embedder_fallback_is_a_warning(tmp_path):
    checks = {c.name: c for c in doctor.check_models(_settings(tmp_path, embedder="Org/absent"))}
    assert checks["embedder"].status == "warn"
    assert checks["embedder"].fix.startswith("assistant pull --embedder Org/absent")


def test_tiktoken_checks(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(empty))
    models = tmp_path / "models"
    check = doctor._check_tiktoken(models)
    assert check.status == "warn" and check.fix.startswith("assistant pull")
    # pulled into models/tiktoken, but tiktoken looks elsewhere
    pulled = hub.tiktoken_file(models)
    pulled.parent.mkdir(parents=True)
    pulled.write_bytes(b"x")
    check = doctor._check_tiktoken(models)
    assert check.status == "warn" and check.fix.startswith("export TIKTOKEN_CACHE_DIR=")
    # damaged where tiktoken looks: tiktoken would try to download it again
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(pulled.parent))
    check = doctor._check_tiktoken(models)
    assert check.status == "fail" and "damaged" in check.detail


def test_cpu_without_avx2(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 avx fma\n")
    checks = {c.name: c for c in doctor.check_cpu(cpuinfo)}
    feat = checks["features"]
    assert feat.status == "warn" and "no avx2, avx512f, f16c" in feat.detail
    assert "AVX2" in feat.detail and feat.fix
    cpuinfo.write_text("flags\t\t: sse2 avx2 fma f16c\n")
    assert doctor.check_cpu(cpuinfo)[0].status == "ok"
    assert doctor.cpu_flags(tmp_path / "absent") is None


def test_strict_counts_warnings():
    warn = [doctor.Check("models", "x", "warn", "d", "f")]
    assert doctor.exit_code(warn) == 0 and doctor.exit_code(warn, strict=True) == 1
    assert "fix: f" in doctor.render(warn)
