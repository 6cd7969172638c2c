"""The local model in a supervised worker process (assistant/generation/worker.py), on the
tiny random GGUF: it answers as the in-process model does, and a worker that dies costs
one answer (quoted instead), is restarted once, and is then reported as stopped."""

from __future__ import annotations

import os
import signal

import pytest

from assistant.errors import AssistantError, ModelUnavailable
from assistant.generate.local import LlamaCppGenerator
from assistant.generate.worker import ModelCrashed, ModelProcess

QUESTION = [
    {"role": "system", "content": "Answer from the sources and cite them."},
    {"role": "user", "content": "What is the model?"},
]


def _wait(proc: ModelProcess, state: str, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while proc.state["state"] != state and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.state["state"] == state, proc.state


@pytest.fixture
def worker(tiny_path):
    proc = ModelProcess(tiny_path, n_ctx=512, threads=1)
    yield proc
    proc.close()


def test_worker_answers_like_the_model_in_process(worker, tiny_path):
    inline = LlamaCppGenerator(tiny_path, n_ctx=512, threads=1)
    assert worker.name == inline.name and worker.context_length == inline.context_length
    assert worker.count_tokens("vLLM 是什么？") == inline.count_tokens("vLLM 是什么？")
    assert worker.prompt_tokens(QUESTION) == inline.prompt_tokens(QUESTION)
    kw = {"max_tokens": 12, "temperature": 0.0}
    assert "".join(worker.stream(QUESTION, **kw)) == "".join(inline.stream(QUESTION, **kw))
    assert worker.state["state"] == "ready" and worker.pid not in (None, os.getpid())


def test_an_answer_left_early_does_not_disturb_the_next(worker):
    kw = {"max_tokens": 40, "temperature": 0.0}
    whole = "".join(worker.stream(QUESTION, **kw))
    pieces = worker.stream(QUESTION, **kw)
    next(pieces)
    pieces.close()  # the reader went away after one piece
    assert "".join(worker.stream(QUESTION, **kw)) == whole


def test_a_prompt_that_cannot_fit_is_refused_before_the_worker_sees_it(worker):
    long = [{"role": "user", "content": "模型 " * 2000}]
    with pytest.raises(AssistantError, match="context"):
        worker.stream(long, max_tokens=16, temperature=0.0)
    assert worker.state["state"] == "ready"


def test_a_killed_worker_costs_one_answer_and_is_restarted(worker):
    kw = {"max_tokens": 8, "temperature": 0.0}
    first = worker.pid
    os.kill(first, signal.SIGKILL)
    with pytest.raises(ModelCrashed) as e:
        "".join(worker.stream(QUESTION, **kw))
    assert "SIGKILL" in e.value.message and e.value.hint
    assert worker.state["crashes"] == 1
    assert "".join(worker.stream(QUESTION, **kw))  # waits for the restart, then answers
    assert worker.pid not in (None, first) and worker.state["state"] == "ready"


def test_a_worker_that_dies_again_before_answering_stays_stopped(tiny_path):
    proc = ModelProcess(tiny_path, n_ctx=512, threads=1, _fault_after=1)
    try:
        kw = {"max_tokens": 8, "temperature": 0.0}
        with pytest.raises(ModelCrashed) as e:
            "".join(proc.stream(QUESTION, **kw))
        assert "SIGILL" in e.value.message and "install.sh" in e.value.hint
        with pytest.raises(ModelCrashed):  # the restarted worker dies the same way
            "".join(proc.stream(QUESTION, **kw))
        assert proc.state["state"] == "failed" and proc.state["crashes"] == 2
        with pytest.raises(ModelUnavailable, match="stopped"):
            proc.stream(QUESTION, **kw)
    finally:
        proc.close()


def test_a_file_that_cannot_load_fails_at_construction(tiny_path, tmp_path):
    from tiny_gguf import build_corrupt_gguf

    broken = build_corrupt_gguf(tiny_path, tmp_path / "broken.gguf")
    with pytest.raises(AssistantError, match="damaged"):
        ModelProcess(broken, threads=1)


def test_an_answer_whose_model_dies_quotes_the_sources_and_says_why(
        answer_index, tiny_path):
    from answer_corpus import settings_for

    from assistant.answer.pipeline import Assistant
    from assistant.retrieve.search import Searcher

    settings = settings_for(*answer_index)
    proc = ModelProcess(tiny_path, n_ctx=2048, threads=1, _fault_after=0)
    try:
        assistant = Assistant(settings, searcher=Searcher(settings), generator=proc)
        answer = assistant.ask("vLLM 是哪个机构开发的？")
        assert answer.error is None and answer.backend == "extractive"
        assert answer.citations and "SIGILL" in (answer.notice or "")
        assert "本地模型" in answer.notice  # in the question's language
    finally:
        proc.close()


def test_health_and_the_status_line_say_when_the_model_process_is_down(
        answer_index, tiny_path):
    from answer_corpus import settings_for

    from assistant.answer.pipeline import Assistant
    from assistant.app.server import Service
    from assistant.retrieve.search import Searcher

    settings = settings_for(*answer_index)
    proc = ModelProcess(tiny_path, n_ctx=2048, threads=1, _fault_after=0)
    try:
        assistant = Assistant(settings, searcher=Searcher(settings), generator=proc)
        service = Service(settings, lambda _: assistant, warm=False)
        assert service.health()["model"]["state"] == "ready"
        service.ask("vLLM 是哪个机构开发的？")  # dies: restarting
        service.ask("vLLM 是哪个机构开发的？")  # dies again before any answer: stopped
        health = service.health()
        assert health["status"] == "ok"  # the server itself is fine
        assert health["model"]["state"] == "failed" and health["model"]["crashes"] == 2
        assert "SIGILL" in health["model"]["error"]
        assert "stopped" in service.backend and "quote" in service.backend
        answer = service.ask("vLLM 是哪个机构开发的？")  # still answered, by quoting
        assert answer.error is None and answer.citations and "已停止" in answer.notice
    finally:
        proc.close()


# ------------------------------------------------------------- alive but silent: stuck


def test_a_stopped_worker_misses_its_heartbeat_and_is_killed_within_seconds(worker):
    """SIGSTOP: the process is alive but does nothing (as one frozen in the kernel or
    swapped out). Its heartbeat stops, and the answer fails in about BEAT_TIMEOUT s, not
    after the reading-speed bound (>= 120 s); the worker is restarted as after a crash."""
    import time

    from assistant.generate import worker as worker_module

    kw = {"max_tokens": 8, "temperature": 0.0}
    assert "".join(worker.stream(QUESTION, **kw))  # a healthy answer first
    frozen = worker.pid
    os.kill(frozen, signal.SIGSTOP)
    t0 = time.monotonic()
    with pytest.raises(ModelCrashed) as e:
        "".join(worker.stream(QUESTION, **kw))
    took = time.monotonic() - t0
    assert "heartbeat" in e.value.message and e.value.words("zh")[0].startswith("本地模型")
    # A deadline for this test of the timeout, generous for a loaded 2-core machine.
    assert worker_module.BEAT_TIMEOUT <= took < worker_module.BEAT_TIMEOUT + 15, took
    assert worker.state["crashes"] == 1
    assert "".join(worker.stream(QUESTION, **kw))  # restarted, answers again
    assert worker.pid not in (None, frozen)


def test_a_worker_frozen_in_native_code_holding_the_gil_is_killed(tiny_path):
    """A native call that never returns and keeps the GIL (a deadlock in C): the
    heartbeat thread cannot run either, so the supervisor notices."""
    proc = ModelProcess(tiny_path, n_ctx=512, threads=1, _fault_after=0, _fault="gil")
    try:
        with pytest.raises(ModelCrashed, match="heartbeat"):
            "".join(proc.stream(QUESTION, max_tokens=8, temperature=0.0))
        assert proc.state["state"] in ("restarting", "ready")
    finally:
        proc.close()


def test_a_worker_that_beats_but_sends_nothing_is_bounded_by_its_reading_speed(
        tiny_path, monkeypatch):
    """Alive and beating, but no piece: the reading-speed bound (STUCK_FACTOR x the
    expected reading time, at least FIRST_PIECE_FLOOR) still ends the wait; the floor
    is lowered here so the test takes seconds."""
    from assistant.generate import worker as worker_module

    monkeypatch.setattr(worker_module, "FIRST_PIECE_FLOOR", 2.0)
    proc = ModelProcess(tiny_path, n_ctx=512, threads=1, _fault_after=0, _fault="hang")
    try:
        proc.read_speed = 1e6  # as measured: this prompt should take no time at all
        assert proc.first_piece_limit(proc.prompt_tokens(QUESTION)) == 2.0
        with pytest.raises(ModelCrashed, match="sent nothing for 2 s") as e:
            "".join(proc.stream(QUESTION, max_tokens=8, temperature=0.0))
        assert "heartbeat" not in e.value.message  # it beat all along
    finally:
        proc.close()


def test_an_answer_whose_model_freezes_quotes_the_sources_in_the_questions_language(
        answer_index, tiny_path):
    from answer_corpus import settings_for

    from assistant.answer.pipeline import Assistant
    from assistant.retrieve.search import Searcher

    settings = settings_for(*answer_index)
    proc = ModelProcess(tiny_path, n_ctx=2048, threads=1)
    try:
        assistant = Assistant(settings, searcher=Searcher(settings), generator=proc)
        os.kill(proc.pid, signal.SIGSTOP)
        events = list(assistant.stream("vLLM 是哪个机构开发的？", quote_first=True))
        kinds = [e.kind for e in events]
        # The quote comes before the model is asked, and the final answer is the quote.
        assert kinds.index("quote") < kinds.index("token")
        answer = events[-1].answer
        assert answer.error is None and answer.backend == "extractive" and answer.citations
        assert "本地模型" in answer.notice and "没有响应" in answer.notice
        quote = next(e.text for e in events if e.kind == "quote")
        assert "UC Berkeley" in quote and "UC Berkeley" in answer.answer
    finally:
        proc.close()
