"""``assistant doctor`` on a real small index, sound and then broken on purpose; and
``assistant index`` repairing what doctor found."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from testenv import MINILM

from assistant import store
from assistant.app import cli, doctor
from assistant.generate import cpu
from assistant.settings import Settings
from assistant.text import counting

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
    pulled = counting.tiktoken_file(models)
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


# ------------------------------------------------ a real generation, and the build check

needs_llama = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                 reason="llama-cpp-python is not installed")


def _child(code: str):
    """A stand-in for the generation child: runs ``code`` instead of loading the model."""
    return lambda path, threads: [sys.executable, "-c", code]


@needs_llama
def test_a_real_generation_of_the_configured_model(tmp_path, tiny_path):
    checks = doctor.check_generation(_settings(tmp_path, model=str(tiny_path), threads=1))
    assert [(c.area, c.name, c.status) for c in checks] == [("models", "generation", "ok")]
    assert checks[0].detail.startswith(f"{tiny_path} generates: loaded in ")


def test_a_generation_killed_by_sigill_names_the_rebuild(tmp_path, tiny_path, monkeypatch):
    monkeypatch.setattr(doctor, "_version", lambda names: "0.3")  # as if installed
    die = _child("import os, signal; os.kill(os.getpid(), signal.SIGILL)")
    [check] = doctor.check_generation(_settings(tmp_path, model=str(tiny_path)), command=die)
    assert check.status == "fail" and "died with SIGILL (illegal instruction)" in check.detail
    assert check.fix.startswith("run ./install.sh (it rebuilds llama-cpp-python for this CPU")
    assert "-m pip install --no-cache-dir --force-reinstall --no-deps" in check.fix
    if cpu.is_x86() and cpu.cpu_flags() is not None:
        assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF ' in check.fix and "AMX_INT8=OFF" in check.fix


def test_doctor_reports_a_crashing_model_as_a_problem(root, capsys, tiny_path, monkeypatch):
    """The whole command, as a user runs it: the crash is a FAIL with its fix, not a
    doctor that dies or says all is well."""
    monkeypatch.setattr(doctor, "_version", lambda names: "0.3")
    monkeypatch.setattr(doctor, "generation_command",
                        _child("import os, signal; os.kill(os.getpid(), signal.SIGILL)"))
    monkeypatch.setattr(cpu, "probe_build", lambda: cpu.Probe(0, "CPU : SSE3 = 1 | "))
    rc = cli.main(["doctor", *_flags(root), "--model", str(tiny_path)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAIL  " in out and "died with SIGILL" in out
    assert "fix: run ./install.sh" in out


def test_generation_that_fails_or_hangs(tmp_path, tiny_path, monkeypatch):
    monkeypatch.setattr(doctor, "_version", lambda names: "0.3")
    settings = _settings(tmp_path, model=str(tiny_path))
    [check] = doctor.check_generation(settings, command=_child(
        "import sys; sys.exit('ValueError: Failed to load model from file')"))
    assert check.status == "fail" and "Failed to load model from file" in check.detail
    [check] = doctor.check_generation(settings, command=_child(
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    assert check.status == "fail" and "SIGKILL (out of memory?)" in check.detail
    [check] = doctor.check_generation(settings, command=_child("import time; time.sleep(30)"),
                                      timeout=1)
    assert check.status == "warn" and "did not finish in 1 s" in check.detail


def test_generation_is_skipped_with_its_reason(tmp_path, tiny_path):
    def detail(**kw) -> str:
        [check] = doctor.check_generation(_settings(tmp_path, **kw))
        assert check.status == "info"
        return check.detail

    assert detail(model="extractive").endswith("no local chat model is configured")
    assert detail(model="qwen2.5-1.5b-instruct").endswith("is not on disk")
    assert "the server at http://127.0.0.1:9/v1" in detail(model=str(tiny_path),
                                                           llm_url="http://127.0.0.1:9/v1")
    [check] = doctor.check_generation(_settings(tmp_path, model=str(tiny_path)),
                                      probe=cpu.Probe(-4))
    assert check.status == "info" and "does not load" in check.detail


EPYC = "fpu sse sse2 pni ssse3 fma sse4_1 sse4_2 avx f16c bmi1 avx2 bmi2"
NATIVE_XEON = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
               "BMI2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | REPACK = 1 | ")


def test_build_check(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {EPYC}\n")
    [check] = doctor.check_build(cpuinfo, cpu.Probe(0, NATIVE_XEON), "x86_64")
    assert (check.area, check.name, check.status) == ("cpu", "llama.cpp build", "fail")
    assert "uses AVX512, AVX512_VNNI, which this CPU" in check.detail
    assert check.fix.startswith("run ./install.sh")
    fits = NATIVE_XEON.replace("AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | ", "")
    [check] = doctor.check_build(cpuinfo, cpu.Probe(0, fits), "x86_64")
    assert check.status == "ok" and not check.fix
    [check] = doctor.check_build(cpuinfo, cpu.Probe(0, "CPU : SSE3 = 1 | "), "x86_64")
    assert check.status == "warn" and "leaves out AVX, AVX2" in check.detail
    assert doctor.check_build(cpuinfo, cpu.Probe(-4)) == []  # said under versions


def test_a_library_that_dies_on_import_is_a_version_problem(monkeypatch):
    monkeypatch.setattr(doctor, "_version", lambda names: "0.3")
    checks = {c.name: c for c in doctor.check_versions(cpu.Probe(-4))}
    assert checks["llama_cpp"].status == "fail"
    assert "importing it dies with SIGILL" in checks["llama_cpp"].detail
    probe = cpu.Probe(1, error="Traceback\nOSError: libgomp.so.1: cannot open shared object")
    checks = {c.name: c for c in doctor.check_versions(probe)}
    assert "does not load (OSError: libgomp.so.1" in checks["llama_cpp"].detail
