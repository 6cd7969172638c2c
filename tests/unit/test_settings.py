"""Settings: one object, read from defaults, ``assistant.toml``, ``ASSISTANT_*`` variables
and flags, in that order; every reader of a setting goes through it."""

from __future__ import annotations

import pytest

from assistant.ingest.indexer import max_file_bytes, run_index
from assistant.settings import Settings, load_settings


@pytest.fixture
def in_folder_with_toml(tmp_path, monkeypatch):
    """The working folder holds an assistant.toml (the autouse fixture hides the real
    one; this test wants the file read)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(Settings.model_config, "toml_file", "assistant.toml")
    return tmp_path / "assistant.toml"


def test_toml_then_env_then_flags(in_folder_with_toml, monkeypatch):
    in_folder_with_toml.write_text('top_k = 3\nchunk_tokens = 200\nmodel = "extractive"\n')
    assert (Settings().top_k, Settings().chunk_tokens) == (3, 200)
    monkeypatch.setenv("ASSISTANT_TOP_K", "5")
    assert Settings().top_k == 5 and Settings().chunk_tokens == 200
    assert load_settings(top_k=7, chunk_tokens=None).top_k == 7  # None: flag not given


def test_the_file_size_limit_is_a_setting_the_indexer_honours(in_folder_with_toml,
                                                               fake_embedder):
    # It used to be read from the environment alone: an assistant.toml could not set it.
    in_folder_with_toml.write_text("max_file_mb = 0.001\n")  # about 1 KB
    corpus = in_folder_with_toml.parent / "corpus"
    corpus.mkdir()
    (corpus / "small.md").write_text("# Small\n\nA short note.\n")
    (corpus / "big.md").write_text("# Big\n\n" + "A longer note. " * 200)
    settings = Settings(corpus=corpus, index=corpus.parent / "index")
    assert max_file_bytes(settings) == int(0.001 * 2**20)
    report = run_index(settings, embedder=fake_embedder)
    assert report.added == ["small.md"]
    assert [s["path"] for s in report.skipped] == ["big.md"]


def test_no_variable_of_the_shell_running_the_tests_leaks_in(monkeypatch):
    # The autouse fixture removed any ASSISTANT_* the shell had; a test sets its own.
    assert Settings().top_k == Settings.model_fields["top_k"].default
    monkeypatch.setenv("ASSISTANT_TOP_K", "9")
    assert Settings().top_k == 9


def test_the_cpu_threads_default_to_the_machines_cores():
    import os

    assert Settings(threads=3).cpu_threads == 3
    assert Settings().cpu_threads == max(1, os.cpu_count() or 1)
