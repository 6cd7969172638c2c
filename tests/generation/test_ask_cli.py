"""`assistant ask` from the command line: JSON shape, terminal output, bad input and
bad model files (exit 1 with `Error: ...`, or with --json one JSON object; never a
traceback)."""

from __future__ import annotations

import json

import pytest
from testenv import MINILM
from tiny_gguf import build_corrupt_gguf

from assistant.app.cli import main

SOURCE_KEYS = {"n", "doc", "title", "heading", "lines", "text"}
TIMING_KEYS = {"retrieve_ms", "prompt_tokens", "first_token_ms", "total_ms", "tokens_per_s"}


@pytest.fixture(scope="module")
def args(answer_index) -> list[str]:
    corpus, index = answer_index
    return ["--corpus", str(corpus), "--index", str(index), "--embedder", MINILM,
            "--models-dir", str(index.parent / "models")]


@pytest.fixture(autouse=True)
def torch_embedder(monkeypatch):
    # The index is built with the packaged PyTorch model; no ONNX export in tests.
    monkeypatch.setenv("ASSISTANT_EMBED_BACKEND", "torch")


def ask_json(capsys, *argv) -> tuple[int, dict, str]:
    code = main(["ask", *argv, "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else {}), captured.err


def test_ask_json_shape(args, capsys):
    code, out, _ = ask_json(capsys, "vLLM 是谁开发的？", *args, "--model", "extractive")
    assert code == 0
    assert {"answer", "citations", "sources", "abstained", "backend", "timings"} <= out.keys()
    assert "UC Berkeley" in out["answer"] and out["backend"] == "extractive"
    assert out["abstained"] is False and set(out["timings"]) == TIMING_KEYS
    assert out["citations"] and out["sources"]
    for s in out["citations"] + out["sources"]:
        assert s.keys() >= SOURCE_KEYS and len(s["lines"]) == 2
    assert out["citations"][0]["doc"] == "frameworks.md"
    assert {c["n"] for c in out["citations"]} <= {s["n"] for s in out["sources"]}


def test_ask_json_is_one_object_on_stdout(args, capsys):
    code = main(["ask", "What does LoRA freeze?", *args, "--model", "extractive", "--json"])
    out = capsys.readouterr().out
    assert code == 0 and out.count("\n") == 1 and json.loads(out)["citations"]


def test_the_question_can_come_from_standard_input(args, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("vLLM 是谁开发的？\n"))
    code, out, _ = ask_json(capsys, "-", *args, "--model", "extractive")
    assert code == 0 and "UC Berkeley" in out["answer"]


def test_a_question_on_standard_input_in_another_encoding_is_a_clear_error(args, capsys,
                                                                          monkeypatch):
    import io

    gbk = io.TextIOWrapper(io.BytesIO("模型是什么？".encode("gbk")), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", gbk)
    code, out, _ = ask_json(capsys, "-", *args, "--model", "extractive")
    assert code == 1 and "not text" in out["error"] and "iconv" in out["hint"]


def test_ask_json_abstains(args, capsys):
    code, out, _ = ask_json(capsys, "How do I bake sourdough bread?", *args,
                            "--model", "extractive")
    assert code == 0 and out["abstained"] is True and out["citations"] == []
    assert out["sources"] and "do not cover" in out["answer"]


def test_ask_k_limits_sources(args, capsys):
    code, out, _ = ask_json(capsys, "vLLM 是谁开发的？", *args, "--model", "extractive",
                            "-k", "1")
    assert code == 0 and len(out["sources"]) == 1


def test_ask_prints_answer_then_sources(args, capsys):
    assert main(["ask", "vLLM 是谁开发的？", *args, "--model", "extractive"]) == 0
    out = capsys.readouterr().out
    answer, _, sources = out.partition("Sources:")
    assert "UC Berkeley" in answer and "[1]" in answer
    assert "[1] frameworks.md:" in sources and "推理框架笔记 > vLLM" in sources


def test_ask_builds_a_missing_index_first(answer_index, tmp_path_factory, capsys):
    corpus, _ = answer_index
    index = tmp_path_factory.mktemp("fresh") / "index"
    code, out, _ = ask_json(capsys, "What does LoRA freeze?", "--corpus", str(corpus),
                              "--index", str(index), "--embedder", MINILM,
                              "--model", "extractive")
    assert code == 0 and (index / "store.sqlite3").exists()
    assert out["citations"][0]["doc"] == "finetuning.md"


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "Ask a question"), ("   ", "Ask a question"), ("\x00\x01\x1b", "control characters")],
)
def test_ask_refuses_bad_questions(args, capsys, question, message):
    code = main(["ask", question, *args, "--model", "extractive"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("Error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("question", "extra", "message"),
    [
        ("", [], "it is empty"),
        ("\x00\x01\x1b", [], "control characters"),
        ("vLLM 是谁开发的？", ["--model", "/nonexistent/nope.gguf"], "does not exist"),
    ],
)
def test_ask_json_refusals_are_one_json_object(args, capsys, question, extra, message):
    code = main(["ask", question, *args, *extra, "--json"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out.count("\n") == 1  # one object, then nothing else
    out = json.loads(captured.out)
    assert message in out["error"] and out["hint"]
    assert "Error:" not in captured.err and "Traceback" not in captured.err


def test_ask_json_refusal_without_a_hint_has_no_hint_key(args, capsys):
    code, out, _ = ask_json(capsys, "vLLM 是谁开发的？", *args, "-k", "0")
    assert code == 1 and "-k must be at least 1" in out["error"] and "hint" not in out


def test_ask_cuts_a_100000_character_question(args, capsys):
    question = "vLLM 是谁开发的？" + "x" * 100_000
    code, out, _ = ask_json(capsys, question, *args, "--model", "extractive")
    assert code == 0 and "2,000" in out["notice"]


def test_ask_with_a_tiny_gguf(args, capsys, tiny_path):
    code, out, _ = ask_json(capsys, "vLLM 是谁开发的？", *args, "--model", str(tiny_path),
                            "-k", "2")
    assert code == 0 and out["backend"].startswith("llama.cpp")
    assert out["timings"]["prompt_tokens"] > 0 and out["sources"]


def test_ask_with_a_corrupt_gguf_fails_clearly(args, capsys, tiny_path, tmp_path):
    broken = build_corrupt_gguf(tiny_path, tmp_path / "broken.gguf")
    code = main(["ask", "vLLM 是谁开发的？", *args, "--model", str(broken)])
    captured = capsys.readouterr()
    # A notice may come first (tiktoken's file missing on a clone with no ../shared).
    errors = [line for line in captured.err.splitlines() if line.startswith("Error: ")]
    assert code == 1 and errors and "broken.gguf" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_ask_with_a_missing_gguf_fails_clearly(args, capsys, tmp_path):
    code = main(["ask", "vLLM 是谁开发的？", *args, "--model", str(tmp_path / "nope.gguf")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("Error: ") and "does not exist" in err
    assert "Traceback" not in err


def test_ask_with_a_server_that_is_down_explains(args, capsys):
    code, out, err = ask_json(capsys, "vLLM 是谁开发的？", *args,
                              "--llm-url", "http://127.0.0.1:9/v1", "--llm-model", "m")
    assert code == 1 and out["error"] and "Could not answer" in out["answer"]
    assert out["sources"] and "Traceback" not in err


def test_a_source_is_placed_by_file_and_lines():
    from assistant.app.cli.ask import doc_at

    assert doc_at("notes.md", 14, 15) == "notes.md:14-15"
    assert doc_at("notes.md", 172, 172) == "notes.md:172"  # as the web says "line 172"
    assert doc_at("paper.pdf", 3, 9, page=2) == "paper.pdf:3-9 (page 2)"


def test_a_model_answer_is_shown_again_as_cited(args, capsys, monkeypatch):
    # The terminal streams the model's own words; the citations are decided after them
    # (attribution.py), so the cited answer follows the stream.
    class Plain:
        name = "plain"
        context_length = 4096

        def count_tokens(self, text):
            return len(text)

        def stream(self, messages, *, max_tokens, temperature, stop=None, seed=None):
            return iter(["vLLM 由 UC Berkeley ", "开发。"])

    monkeypatch.setattr("assistant.answer.pipeline.resolve_generator", lambda settings: Plain())
    assert main(["ask", "vLLM 是谁开发的？", *args]) == 0
    out = capsys.readouterr().out
    streamed, _, rest = out.partition("With citations:")  # the locale's words, as Sources:
    assert streamed.strip() == "vLLM 由 UC Berkeley 开发。"
    assert "vLLM 由 UC Berkeley 开发。[1]" in rest.partition("Sources:")[0]
