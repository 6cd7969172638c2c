"""The index: incremental runs, renames, bad input, crash safety, FAISS repair."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from testenv import has_cl100k

from assistant import store
from assistant.ingest.indexer import run_index
from assistant.retrieve.search import Searcher
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

DOCS = {
    "vllm.md": "# 推理框架\n\n## vLLM\n\nvLLM 是 UC Berkeley 开发的推理框架。"
    "它使用 PagedAttention。\n",
    "lora.md": "# 微调\n\n## LoRA\n\nLoRA 的核心思想是低秩分解。它冻结原有权重。\n",
    "notes.txt": "Quantization maps float32 weights to int8.\n\nIt saves memory on laptops.\n",
}


def make_corpus(root: Path, docs: dict[str, str] = DOCS) -> Path:
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return corpus


def settings_for(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(corpus=corpus, index=tmp_path / "index", models_dir=tmp_path / "models")


def docs_in_results(settings, embedder, query: str) -> set[str]:
    return {h.doc for h in Searcher(settings, embedder=embedder).search(query, k=10)}


def test_first_run_indexes_everything_then_nothing(tmp_path, fake_embedder):
    s = settings_for(tmp_path, make_corpus(tmp_path))
    r1 = run_index(s, embedder=fake_embedder)
    assert sorted(r1.added) == sorted(DOCS)
    assert r1.chunks_embedded == r1.chunks_total > 0
    r2 = run_index(s, embedder=fake_embedder)
    assert (r2.added, r2.changed, r2.removed, r2.renamed) == ([], [], [], [])
    assert r2.unchanged == 3 and r2.chunks_embedded == 0
    manifest = store.manifest(store.connect(s.index))
    assert manifest["embedder"] == "fake-embedder" and manifest["dim"] == 64
    # cl100k_base when tiktoken's file is here, else the embedder's tokenizer (announced)
    assert manifest["token_counter"] == ("cl100k_base" if has_cl100k()
                                         else "embedder:fake-embedder")
    assert manifest["schema_version"] == store.SCHEMA_VERSION


def test_change_rename_delete(tmp_path, fake_embedder):
    corpus = make_corpus(tmp_path)
    s = settings_for(tmp_path, corpus)
    run_index(s, embedder=fake_embedder)

    (corpus / "lora.md").write_text(DOCS["lora.md"] + "\nQLoRA 把量化和 LoRA 结合。\n", "utf-8")
    r = run_index(s, embedder=fake_embedder)
    assert r.changed == ["lora.md"] and r.unchanged == 2
    assert 0 < r.chunks_embedded <= 2  # only the changed document's new text
    assert "lora.md" in docs_in_results(s, fake_embedder, "QLoRA 量化")

    (corpus / "vllm.md").rename(corpus / "serving.md")
    r = run_index(s, embedder=fake_embedder)
    assert r.renamed == [("vllm.md", "serving.md")] and r.chunks_embedded == 0
    assert "serving.md" in docs_in_results(s, fake_embedder, "vLLM PagedAttention")

    (corpus / "notes.txt").unlink()
    r = run_index(s, embedder=fake_embedder)
    assert r.removed == ["notes.txt"]
    searcher = Searcher(s, embedder=fake_embedder)
    for mode in ("lexical", "dense", "hybrid"):
        assert "notes.txt" not in {h.doc for h in searcher.search("int8 quantization", mode=mode)}


def test_identical_chunks_embedded_once(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    (corpus / "copy").mkdir(parents=True)
    (corpus / "a.md").write_text(DOCS["lora.md"], "utf-8")
    (corpus / "copy" / "a.md").write_text(DOCS["lora.md"], "utf-8")
    r = run_index(settings_for(tmp_path, corpus), embedder=fake_embedder)
    assert r.chunks_total == 2 * r.chunks_embedded


def test_settings_change_reembeds_only_what_is_needed(tmp_path, fake_embedder, monkeypatch):
    corpus = make_corpus(tmp_path)
    s = settings_for(tmp_path, corpus)
    first = run_index(s, embedder=fake_embedder)
    # Another chunk size: every document is chunked again; unchanged chunks keep vectors.
    s2 = s.model_copy(update={"chunk_tokens": 64})
    r = run_index(s2, embedder=fake_embedder)
    assert r.rebuilt and "chunking settings changed" in r.rebuilt[0]
    assert r.chunks_embedded < first.chunks_embedded + 1  # small docs: chunks coincide
    # Another embedder: everything is embedded again, announced.
    other = type(fake_embedder)()
    other.name, other.dim = "other-embedder", 64
    r = run_index(s2, embedder=other)
    assert any("embedder changed" in why for why in r.rebuilt)
    assert r.chunks_embedded == r.chunks_total


def test_bad_input_is_skipped_and_reported(tmp_path, fake_embedder, monkeypatch):
    corpus = make_corpus(tmp_path)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<>> garbage\n")
    (corpus / "gbk.txt").write_bytes("国产大模型：智谱AI发布了ChatGLM。\n".encode("gbk"))
    big = corpus / "big.txt"
    with open(big, "w", encoding="utf-8") as f:  # 20 MB
        line = "This is a line of a very large log file that nobody should embed.\n"
        for _ in range(20 * 2**20 // len(line) + 1):
            f.write(line)
    (corpus / "vanishing.md").write_text("# gone\n\nsoon gone\n", "utf-8")

    import assistant.ingest.indexer as ix

    real_load = ix.load_document

    def load_and_vanish(path, rel):
        if rel == "vanishing.md":
            path.unlink()
        return real_load(path, rel)

    monkeypatch.setattr(ix, "load_document", load_and_vanish)
    s = settings_for(tmp_path, corpus)
    r = run_index(s, embedder=fake_embedder)
    reasons = {x["path"]: x["reason"] for x in r.skipped}
    assert set(reasons) == {"empty.txt", "binary.txt", "broken.pdf", "big.txt", "vanishing.md"}
    assert len(r.skipped) == 5  # each reported once
    assert "empty" in reasons["empty.txt"].lower()
    assert "MB" in reasons["big.txt"]
    assert "disappeared" in reasons["vanishing.md"]
    assert set(r.added) == {*DOCS, "gbk.txt"}
    hits = Searcher(s, embedder=fake_embedder).search("智谱AI ChatGLM")
    assert hits and hits[0].doc == "gbk.txt" and "智谱AI" in hits[0].text


def test_stale_faiss_file_is_rebuilt_from_sqlite(tmp_path, fake_embedder):
    corpus = make_corpus(tmp_path)
    s = settings_for(tmp_path, corpus)
    run_index(s, embedder=fake_embedder)
    faiss_copy = (s.index / store.FAISS_NAME).read_bytes()
    meta_copy = (s.index / store.FAISS_META).read_text()
    (corpus / "notes.txt").unlink()
    run_index(s, embedder=fake_embedder)
    # Put back the FAISS file of the previous generation, as a crash could leave it.
    (s.index / store.FAISS_NAME).write_bytes(faiss_copy)
    (s.index / store.FAISS_META).write_text(meta_copy)
    conn = store.connect(s.index)
    loaded = store.VectorIndex.load(s.index, 64)
    assert store.faiss_agrees(conn, *loaded) is not None
    searcher = Searcher(s, embedder=fake_embedder)
    assert "notes.txt" not in {h.doc for h in searcher.search("int8 laptops", mode="dense")}
    run_index(s, embedder=fake_embedder)  # repairs the file
    assert store.faiss_agrees(conn, *store.VectorIndex.load(s.index, 64)) is None


def test_missing_corpus_is_a_clear_error(tmp_path, fake_embedder):
    from assistant.errors import AssistantError

    with pytest.raises(AssistantError, match="does not exist"):
        run_index(settings_for(tmp_path, tmp_path / "nope"), embedder=fake_embedder)


def chunk_texts(index: Path) -> set[tuple[str, str]]:
    conn = store.connect(index)
    return set(conn.execute(
        "SELECT d.path, c.text FROM chunks c JOIN documents d ON d.id = c.doc_id").fetchall())


def wait_for_output(proc: subprocess.Popen, marker: bytes, timeout: float) -> None:
    """Read ``proc``'s stderr until ``marker`` shows (a tqdm bar draws without newlines)."""
    import select

    seen, deadline = b"", time.monotonic() + timeout
    while marker not in seen:
        assert time.monotonic() < deadline, f"no {marker!r} in: {seen[-500:]!r}"
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            assert chunk, f"exited ({proc.wait()}) before {marker!r}: {seen[-500:]!r}"
            seen += chunk


@pytest.mark.slow
def test_sigkill_during_index_leaves_a_usable_index(tmp_path, minilm):
    """Kill `assistant index` at random moments; the next run completes the index and
    search never returns a passage that is not in the corpus."""
    import hashlib
    import random

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns(".*"))
    s = Settings(corpus=corpus, index=tmp_path / "index", embedder=minilm.name)
    run_index(s, embedder=minilm)
    before = chunk_texts(s.index)
    # Change every file so the next run has real work, then kill it part-way, twice.
    for p in corpus.iterdir():
        # Every chunk changes ("的" and "e" are in all of them): over 200 to embed.
        text = p.read_text(encoding="utf-8").replace("的", "之").replace("e", "é")
        p.write_text(text, encoding="utf-8")
    env = {**os.environ, "ASSISTANT_EMBEDDER": minilm.name}
    rng = random.Random(7)
    queries = ("vLLM 推理框架", "LoRA", "量化 int8", "操作系统", "What is MoE?")
    seen_mid = set()
    for _ in range(2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "index", "--corpus", str(corpus),
             "--index", str(s.index)], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Kill while it embeds (its progress bar is drawn), not at a fixed time: a fast
        # machine would otherwise finish the run first and the test would prove nothing.
        wait_for_output(proc, b"embedding", timeout=120)
        time.sleep(rng.uniform(0.05, 0.3))  # 200 chunks take seconds even on a fast CPU
        assert proc.poll() is None, "the index run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        # Whatever the kill left, search answers from one consistent index: the old one.
        searcher = Searcher(s, embedder=minilm)
        for q in queries:
            for h in searcher.search(q, k=8, expand=False):
                seen_mid.add((h.doc, h.text))
    assert seen_mid and seen_mid <= before
    r = run_index(s, embedder=minilm)
    assert not r.skipped and r.changed
    conn = store.connect(s.index)
    assert store.faiss_agrees(conn, *store.VectorIndex.load(s.index, minilm.dim)) is None
    for path, digest in conn.execute("SELECT path, hash FROM documents"):
        assert digest == hashlib.sha256((corpus / path).read_bytes()).hexdigest()
    after = chunk_texts(s.index)
    searcher = Searcher(s, embedder=minilm)
    for q in queries:
        for mode in ("lexical", "dense", "hybrid"):
            for h in searcher.search(q, k=8, mode=mode, expand=False):
                assert (h.doc, h.text) in after


def test_a_widened_passage_of_a_long_table_says_its_header_once(tmp_path, fake_embedder):
    rows = "".join(f"| {n} | 框架{n} | 团队{n} 开发的推理框架，支持批处理和量化。 |\n"
                   for n in range(1, 40))
    table = "# 推理框架\n\n| 编号 | 推理框架 | 团队 |\n|---|---|---|\n" + rows
    corpus = make_corpus(tmp_path, {"frameworks.md": table})
    settings = settings_for(tmp_path, corpus).model_copy(update={"chunk_tokens": 120})
    run_index(settings, embedder=fake_embedder)
    conn = store.connect(settings.index)
    chunks = [t for (t,) in conn.execute("SELECT text FROM chunks ORDER BY ord")]
    conn.close()
    assert len(chunks) > 2 and all(t.startswith("编号 | 推理框架 | 团队") for t in chunks)
    hit = Searcher(settings, embedder=fake_embedder).search("团队20 开发的推理框架", k=1)[0]
    assert hit.text.count("编号 | 推理框架 | 团队") == 1 and "团队20" in hit.text
    assert hit.line_end > hit.line_start  # it was widened to a neighbouring chunk


def test_an_empty_index_finds_nothing(tmp_path, fake_embedder):
    """A corpus with no documents yet (a new folder) is searched without an error: fusing
    no candidates used to fail in numpy ("zero-size array to reduction operation")."""
    s = settings_for(tmp_path, make_corpus(tmp_path, {}))
    run_index(s, embedder=fake_embedder)
    searcher = Searcher(s, embedder=fake_embedder)
    assert searcher.search("vLLM 是哪个机构开发的？") == []
    assert searcher.search("Who developed vLLM?") == []  # both parts: nothing to fuse
