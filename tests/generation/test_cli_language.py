"""The CLI in the locale's language: `ask`, `index`, `doctor` and a failure, under a
Chinese and an English locale. The words change; ``--json`` output does not."""

from __future__ import annotations

import json
import shutil

import pytest
from testenv import MINILM

from assistant.app import i18n
from assistant.app.cli import main

LOCALES = {"zh": "zh_CN.UTF-8", "en": "en_US.UTF-8"}


@pytest.fixture(autouse=True)
def torch_embedder(monkeypatch):
    monkeypatch.setenv("ASSISTANT_EMBED_BACKEND", "torch")


def speak(monkeypatch, lang: str) -> None:
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", LOCALES[lang])


@pytest.fixture(scope="module")
def args(answer_index) -> list[str]:
    corpus, index = answer_index
    return ["--corpus", str(corpus), "--index", str(index), "--embedder", MINILM,
            "--models-dir", str(index.parent / "models")]


@pytest.mark.parametrize(("lang", "sources", "nearest"), [
    ("zh", "出处：", "最接近的段落："), ("en", "Sources:", "Nearest passages:"),
])
def test_ask_labels_its_sources_in_the_locales_language(args, capsys, monkeypatch, lang,
                                                        sources, nearest):
    speak(monkeypatch, lang)
    assert main(["ask", "vLLM 是谁开发的？", *args, "--model", "extractive"]) == 0
    out = capsys.readouterr().out
    assert "UC Berkeley" in out and f"\n{sources}\n[1] frameworks.md:" in out
    other = "Sources:" if lang == "zh" else "出处："
    assert other not in out
    assert main(["ask", "火星上的第一座城市叫什么名字？", *args, "--model", "extractive"]) == 0
    assert nearest in capsys.readouterr().out  # abstained: the nearest passages


@pytest.mark.parametrize(("lang", "words"), [
    ("zh", ["已索引", "新增", "段重新向量化", "秒"]),
    ("en", ["indexed", "added", "chunks embedded", " s"]),
])
def test_index_summarises_in_the_locales_language(answer_index, tmp_path, capsys,
                                                  monkeypatch, lang, words):
    corpus, _ = answer_index
    mine = tmp_path / "corpus"
    shutil.copytree(corpus, mine)
    (mine / "empty.md").write_text("", encoding="utf-8")  # skipped: empty
    speak(monkeypatch, lang)
    argv = ["index", "--corpus", str(mine), "--index", str(tmp_path / "index"),
            "--embedder", MINILM]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert all(w in captured.out for w in words), captured.out
    skipped = "跳过 empty.md：空文件" if lang == "zh" else "skipped empty.md: empty file"
    assert skipped in captured.err
    assert main([*argv, "--json"]) == 0  # the JSON summary has the same keys either way
    summary = json.loads(capsys.readouterr().out)
    assert {"added", "changed", "removed", "chunks", "seconds"} <= summary.keys()


@pytest.mark.parametrize(("lang", "words"), [
    ("zh", ["版本", "索引", "正常", "SQLite 完整性检查通过", "没有对话模型：回答直接引用资料"]),
    ("en", ["versions", "index", "ok", "SQLite integrity check passed",
            "no chat model: answers are extractive"]),
])
def test_doctor_speaks_the_locales_language_and_its_json_does_not(
        args, capsys, monkeypatch, lang, words):
    speak(monkeypatch, lang)
    main(["doctor", *args, "--model", "extractive"])
    out = capsys.readouterr().out
    assert all(w in out for w in words), out
    assert ("个问题" in out or "一切正常" in out) if lang == "zh" else \
        ("problem" in out or "All good." in out)
    main(["doctor", *args, "--model", "extractive", "--json"])
    checks = json.loads(capsys.readouterr().out)["checks"]
    assert any(c["detail"] == "SQLite integrity check passed" for c in checks)  # unchanged


@pytest.mark.parametrize(("lang", "says"), [
    ("zh", ["错误：", "资料文件夹", "不存在", "创建它"]),
    ("en", ["Error: ", "The corpus folder", "does not exist", "Create it"]),
])
def test_an_error_reads_in_the_locales_language_and_json_keeps_it_raw(
        tmp_path, capsys, monkeypatch, lang, says):
    speak(monkeypatch, lang)
    argv = ["index", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "index")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert all(w in err for w in says) and "Traceback" not in err
    assert main([*argv, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["error"].startswith("The corpus folder")  # machine-readable, as raised


@pytest.mark.parametrize(("lang", "says"), [
    ("zh", "错误：请提一个问题：问题是空的。"), ("en", "Error: Ask a question: it is empty."),
])
def test_a_refused_question_reads_in_the_locales_language(args, capsys, monkeypatch, lang,
                                                          says):
    speak(monkeypatch, lang)
    assert main(["ask", "  ", *args, "--model", "extractive"]) == 1
    assert capsys.readouterr().err.startswith(says)


def test_a_sentence_of_a_lower_layer_is_translated_whole_or_left_as_it_is():
    assert i18n.say("No index in /x/index.", "zh") == "/x/index 里没有索引。"
    assert i18n.say("No index in /x/index.", "en") == "No index in /x/index."
    assert i18n.say("something no pattern knows", "zh") == "something no pattern knows"
    # A part that is itself a known sentence is translated too.
    assert i18n.say("test generation skipped: the model file of m is not on disk", "zh") \
        == "跳过试生成：m 的模型文件不在磁盘上"
