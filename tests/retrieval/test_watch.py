"""Watching the corpus: a created, a modified, a deleted and a renamed file each show in
search results within 5 s; hidden files, other file types and the index folder do not
trigger runs."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from testenv import MINILM

from assistant.ingest.indexer import run_index
from assistant.ingest.watch import CorpusWatcher, watch_corpus
from assistant.retrieve.search import Searcher
from assistant.settings import Settings

DEADLINE = 5.0


def _settings(tmp_path: Path, index: Path | None = None) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "alpha.md").write_text("# 甲\n\n关于检索增强生成的笔记。\n", encoding="utf-8")
    (corpus / "beta.md").write_text(
        "# Beta\n\nThe quokkasaurus lives in this file only.\n", encoding="utf-8")
    (corpus / "gamma.txt").write_text("低秩适配 LoRA 只训练少量参数。\nflumbergast\n",
                                      encoding="utf-8")
    return Settings(corpus=corpus, index=index or tmp_path / "index",
                    models_dir=tmp_path / "models", embedder=MINILM, model="extractive")


def _docs(searcher: Searcher, query: str) -> set[str]:
    """Files of the hits that hold the word (with a handful of files, the dense part
    ranks every file somewhere in the top 5)."""
    return {h.doc for h in searcher.search(query, k=5) if query in h.text.lower()}


def _renamed(docs: set[str]) -> bool:
    return docs == {"sub/lora.txt"}


def _within(deadline: float, what: str, cond) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline:
        if cond():
            took = time.monotonic() - t0
            print(f"{what}: {took:.2f} s")  # shown with -s
            return took
        time.sleep(0.05)
    raise AssertionError(f"not within {deadline} s: {what}")


def test_changes_show_in_search_within_5_seconds(tmp_path):
    settings = _settings(tmp_path)
    run_index(settings)
    searcher = Searcher(settings)
    reports = []
    corpus = settings.corpus
    with CorpusWatcher(settings, reports.append, debounce=0.3):
        assert _docs(searcher, "zorbulon") == _docs(searcher, "krakenwise") == set()
        # created
        (corpus / "delta.md").write_text("# Delta\n\nZorbulon engines are new here.\n",
                                         encoding="utf-8")
        _within(DEADLINE, "created file found",
                lambda: "delta.md" in _docs(searcher, "zorbulon"))
        # modified
        with open(corpus / "alpha.md", "a", encoding="utf-8") as f:
            f.write("\n新增内容：克拉肯算法 krakenwise 的说明。\n")
        _within(DEADLINE, "modified text found",
                lambda: "alpha.md" in _docs(searcher, "krakenwise"))
        # deleted
        assert "beta.md" in _docs(searcher, "quokkasaurus")
        (corpus / "beta.md").unlink()
        _within(DEADLINE, "deleted file gone",
                lambda: "beta.md" not in _docs(searcher, "quokkasaurus"))
        # renamed (into a new folder, too)
        assert _docs(searcher, "flumbergast") == {"gamma.txt"}
        (corpus / "sub").mkdir()
        (corpus / "gamma.txt").rename(corpus / "sub" / "lora.txt")
        _within(DEADLINE, "renamed file found under its new name",
                lambda: _renamed(_docs(searcher, "flumbergast")))
    assert sum(len(r.added) for r in reports) == 1
    assert sum(len(r.changed) for r in reports) == 1
    assert sum(len(r.removed) for r in reports) == 1
    assert [x for r in reports for x in r.renamed] == [("gamma.txt", "sub/lora.txt")]


def test_irrelevant_changes_do_not_trigger_a_run(tmp_path):
    # The index lives inside the corpus here: its own writes must not cause runs.
    settings = _settings(tmp_path, index=tmp_path / "corpus" / "idx")
    run_index(settings)
    watcher = CorpusWatcher(settings, debounce=0.1).start()
    try:
        (settings.corpus / ".hidden.md").write_text("# secret\n")
        (settings.corpus / "picture.png").write_bytes(b"\x89PNG")
        (settings.corpus / ".git").mkdir()
        (settings.corpus / ".git" / "notes.md").write_text("# not indexed\n")
        (settings.index / "scratch.md").write_text("# index folder\n")
        time.sleep(1.0)
        assert watcher.runs == 0
        (settings.index / "scratch.md").unlink()  # the indexer itself would take it
        # ... and a burst of real changes is one run (debounced), not five.
        for k in range(5):
            (settings.corpus / f"n{k}.md").write_text(f"# note {k}\n\ntext {k}\n")
        _within(DEADLINE, "a run", lambda: watcher.runs >= 1 and not watcher.running)
        time.sleep(0.5)
        assert watcher.runs == 1
        assert len(watcher.last_report.added) == 5
    finally:
        watcher.stop()


def test_a_change_during_a_run_triggers_another_run(tmp_path):
    settings = _settings(tmp_path)
    run_index(settings)
    started = threading.Event()
    release = threading.Event()
    reports = []

    def slow_first(report):
        reports.append(report)
        if len(reports) == 1:
            started.set()
            release.wait(5)

    with CorpusWatcher(settings, slow_first, debounce=0.1) as watcher:
        (settings.corpus / "one.md").write_text("# one\n\nfirst\n")
        assert started.wait(DEADLINE)
        (settings.corpus / "two.md").write_text("# two\n\nsecond\n")
        time.sleep(0.3)
        release.set()
        _within(DEADLINE, "a second run", lambda: len(reports) == 2)
        assert reports[1].added == ["two.md"]
        assert watcher.last_error is None


def test_watch_corpus_stops_on_its_event(tmp_path):
    settings = _settings(tmp_path)
    run_index(settings)
    stop = threading.Event()
    seen = []
    t = threading.Thread(target=watch_corpus, args=(settings, seen.append, 0.1, stop))
    t.start()
    try:
        time.sleep(0.5)  # the observer is scheduled
        (settings.corpus / "epsilon.md").write_text("# e\n\nepsilon\n")
        _within(DEADLINE, "a run", lambda: seen)
    finally:
        stop.set()
        t.join(5)
    assert not t.is_alive()
    assert seen[0].added == ["epsilon.md"]


def test_a_failing_run_is_reported_and_watching_goes_on(tmp_path):
    settings = _settings(tmp_path)
    run_index(settings)
    errors = []
    calls = []

    def on_indexed(report):
        calls.append(report)
        if len(calls) == 1:
            raise RuntimeError("the status line broke")

    with CorpusWatcher(settings, on_indexed, debounce=0.1, on_error=errors.append):
        (settings.corpus / "a1.md").write_text("# a1\n\nx\n")
        _within(DEADLINE, "first run", lambda: errors)
        (settings.corpus / "a2.md").write_text("# a2\n\ny\n")
        _within(DEADLINE, "second run", lambda: len(calls) == 2)
    assert "status line" in str(errors[0])


@pytest.mark.slow
def test_run_watch_cli_prints_a_line_per_run(tmp_path):
    settings = _settings(tmp_path)
    # Ctrl-C as a terminal delivers it: a pytest started in the background by a
    # non-interactive shell (nohup, `cmd &`) passes SIGINT on as ignored, and Python then
    # never raises KeyboardInterrupt. A user's terminal does not, so neither does this.
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from assistant.settings import Settings\n"
        "from assistant.app.cli.watch import run_watch_cli\n"
        f"s = Settings(corpus={str(settings.corpus)!r}, index={str(settings.index)!r}, "
        f"embedder={MINILM!r}, models_dir={str(settings.models_dir)!r})\n"
        "sys.exit(run_watch_cli(s))\n"
    )
    # faulthandler: SIGABRT prints every thread's stack, should Ctrl-C not end the process.
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    lines: queue.Queue[str] = queue.Queue()
    err: list[str] = []
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()
    try:
        first = lines.get(timeout=120)  # a cold start loads torch and the model
        assert "indexed: 3 added" in first, (first, err)  # LANG=C.UTF-8: English
        (settings.corpus / "new.md").write_text("# new\n\ntext\n")
        second = lines.get(timeout=DEADLINE)
        assert "re-indexed: 1 added" in second
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(60)  # prompt on an idle machine; a busy one takes longer
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            proc.wait(10)
            time.sleep(0.5)
            pytest.fail("Ctrl-C did not end `index --watch`:\n" + "".join(err)[-8000:])
        assert code == 0
        assert any(x.startswith("watching") for x in err)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        # The reader threads end at EOF; the pipes are closed here, not by the garbage
        # collector during a later test (a ResourceWarning is an error).
        proc.stdout.close()
        proc.stderr.close()


def test_the_watcher_starts_the_given_job(tmp_path):
    """One re-index runner: the server's job runs what the watcher asks for, so an upload
    and a change in the folder queue behind each other instead of running side by side."""
    from assistant.ingest.jobs import ReindexJob

    settings = _settings(tmp_path)
    run_index(settings)
    finished = []
    job = ReindexJob(settings, on_finish=finished.append)
    with CorpusWatcher(settings, debounce=0.1, job=job) as watcher:
        (settings.corpus / "zeta.md").write_text("# z\n\nzeta\n")
        _within(DEADLINE, "a run of the job", lambda: finished and not job.state.running)
        assert job.state.runs == 1 and job.report.added == ["zeta.md"]
        assert watcher.last_report is job.report and watcher.runs == 1
    assert job.listeners == [finished.append]  # the watcher let go of the job on stop
