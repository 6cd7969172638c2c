"""`assistant index`, `search` and `eval` from the command line, on a small corpus."""

from __future__ import annotations

import json

import pytest
from testenv import MINILM, has_cl100k

from assistant.app.cli import main

DOCS = {
    "frameworks.md": "# 推理框架\n\n## vLLM\n\nvLLM 是 UC Berkeley 开发的推理框架。\n\n"
                     "## TGI\n\nText Generation Inference 是 HuggingFace 推出的项目。\n",
    "english.txt": "LoRA freezes the pretrained weights and trains low-rank matrices.\n",
}


@pytest.fixture(scope="module")
def paths(tmp_path_factory, minilm):
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    args = ["--corpus", str(corpus), "--index", str(root / "index"), "--embedder", MINILM]
    assert main(["index", *args, "--json"]) == 0
    return root, args


def test_index_json_summary(paths, capsys):
    _, args = paths
    assert main(["index", *args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["unchanged"] == 2 and summary["chunks_embedded"] == 0
    assert {"added", "changed", "removed", "renamed", "seconds", "skipped"} <= summary.keys()


def test_search_json_finds_chinese_and_english(paths, capsys):
    _, args = paths
    assert main(["search", "vLLM 是哪个机构开发的？", *args, "--json", "-k", "3"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits[0]["doc"] == "frameworks.md" and "UC Berkeley" in hits[0]["text"]
    assert hits[0]["heading"] == "vLLM" and hits[0]["lines"][0] >= 1
    assert main(["search", "Which weights does LoRA freeze?", *args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["doc"] == "english.txt"


def test_search_text_output_cites_file_and_lines(paths, capsys):
    _, args = paths
    assert main(["search", "HuggingFace 推出了什么？", *args]) == 0
    out = capsys.readouterr().out
    assert "[1] frameworks.md:" in out and "Text Generation Inference" in out
    assert "No passage holds these words" not in out
    assert main(["search", "xyzzyq", *args]) == 0  # the nearest by meaning, said as such
    assert capsys.readouterr().out.startswith("No passage holds these words")


@pytest.mark.skipif(not has_cl100k(), reason="retrieval scores are defined in cl100k tokens: "
                    "needs tiktoken's cl100k_base file (`assistant pull` fetches it)")
def test_eval_json_and_scores(paths, capsys, tmp_path):
    _, args = paths
    q = tmp_path / "q.jsonl"
    q.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"id": "a", "question": "vLLM 是谁开发的？", "evidence": ["UC Berkeley"],
         "answer": ["UC Berkeley"], "answerable": True},
        {"id": "b", "question": "What does LoRA train?", "evidence": ["low-rank matrices"],
         "answer": ["low-rank"], "answerable": True},
    ]), encoding="utf-8")
    assert main(["eval", str(q), *args, "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["id"] for x in lines] == ["a", "b"]
    assert set(lines[0]["hits"][0]) >= {"text", "doc", "title", "heading", "lines", "score"}
    assert main(["eval", str(q), *args]) == 0
    assert "r1=1.0" in capsys.readouterr().out


def test_bad_question_file_is_a_clear_error(paths, capsys, tmp_path):
    _, args = paths
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n", encoding="utf-8")
    assert main(["eval", str(bad), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error:") and "bad.jsonl:1" in err


def test_missing_index_for_search_is_built_first(tmp_path, capsys):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nFAISS 是向量检索库。\n", encoding="utf-8")
    assert main(["search", "FAISS", "--corpus", str(corpus), "--index", str(tmp_path / "i"),
                 "--embedder", MINILM, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["doc"] == "a.md"


def test_every_command_describes_itself_in_its_help():
    from assistant.app.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert command.description and command.description[0].isupper(), name
