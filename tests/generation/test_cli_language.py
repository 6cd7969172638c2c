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


# -- models, pull, eval, a failed answer, the watch, the help ---------------------------

@pytest.mark.parametrize(("lang", "words"), [
    ("zh", ["模型文件夹：", "对话模型预设：", "下载  1120 MB", "不在磁盘上（", "向量模型：",
            "自带：", "tiktoken 的 cl100k_base："]),
    ("en", ["models folder: ", "chat model presets:", "download  1120 MB", "not on disk (",
            "embedders:", "packaged: ", "tiktoken cl100k_base:"]),
])
def test_models_lists_in_the_locales_language_and_its_json_does_not(
        tmp_path, capsys, monkeypatch, lang, words):
    speak(monkeypatch, lang)
    argv = ["models", "--dir", str(tmp_path / "models")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert all(w in out for w in words), out
    assert main([*argv, "--json"]) == 0
    inv = json.loads(capsys.readouterr().out)
    assert inv["embedders"][0]["where"] == "packaged"  # raw values, not translated
    assert {"models_dir", "presets", "embedders", "tiktoken"} <= inv.keys()


@pytest.mark.parametrize(("lang", "says"), [
    ("zh", [f"向量模型 {MINILM}：已在磁盘上 → ", "随助手自带", "tiktoken cl100k_base：已复制 → ",
            "复制自 "]),
    ("en", [f"embedder {MINILM}: already on disk -> ", "packaged with the assistant",
            "tiktoken cl100k_base: copied -> ", "; from "]),
])
def test_pull_reports_in_the_locales_language_and_its_json_does_not(
        tmp_path, capsys, monkeypatch, lang, says):
    import os

    if not os.environ.get("TIKTOKEN_CACHE_DIR"):
        pytest.skip("no tiktoken file to copy from (the shared models folder)")
    speak(monkeypatch, lang)
    argv = ["pull", "--embedder", MINILM, "--no-progress"]
    assert main([*argv, "--dir", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert all(w in out for w in says), out
    assert main([*argv, "--dir", str(tmp_path / "b"), "--json"]) == 0
    fetched = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["status"]) for r in fetched] == [("embedder", "present"),
                                                           ("tiktoken", "copied")]


def test_a_pull_line_in_english_is_the_hubs_own():
    from pathlib import Path

    from assistant.app.cli.models import pull_line
    from assistant.hub.pull import PullResult

    for r in (PullResult("model", "m", Path("/m/x.gguf"), "downloaded", 1_234_567),
              PullResult("embedder", "e", Path("/m/e"), "present", note="a local folder"),
              PullResult("tiktoken", "cl100k_base", Path("/m/t"), "copied", note="from /x")):
        assert pull_line(r, "en") == r.line()
    r = PullResult("model", "m", Path("/m/x.gguf"), "downloaded", 1_234_567)
    assert pull_line(r, "zh") == "对话模型 m：已下载（1.2 MB） → /m/x.gguf"


QUESTIONS = [
    {"id": "v", "question": "vLLM 是谁开发的？", "doc": "frameworks.md",
     "evidence": ["vLLM 是 UC Berkeley 开发的"], "answer": ["UC Berkeley"]},
    {"id": "x", "question": "Kubernetes 的调度器是怎么工作的？", "evidence": [], "answer": [],
     "answerable": False},
]


@pytest.mark.parametrize(("lang", "out_words", "err_words"), [
    ("zh", ["extractive 的回答：1 个可回答、1 个无法回答的问题", "回答含标准答案（可回答的）",
            "100.0%（共 1）", "无法回答的问题上拒答"],
     ["[1/2] v：含标准答案；", "条引用含证据", "[2/2] x：拒答（正确）"]),
    ("en", ["answers by extractive: 1 answerable, 1 unanswerable questions",
            "answer holds a gold string (answerable)", "100.0% of 1", "abstain on unanswerable"],
     ["[1/2] v: gold; ", "citations hold the evidence", "[2/2] x: abstained (right)"]),
])
def test_eval_reports_in_the_locales_language_and_its_json_does_not(
        args, tmp_path, capsys, monkeypatch, lang, out_words, err_words):
    q = tmp_path / "q.jsonl"
    q.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in QUESTIONS),
                 encoding="utf-8")
    speak(monkeypatch, lang)
    argv = ["eval", str(q), "--answers", *args, "--model", "extractive"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert all(w in captured.out for w in out_words), captured.out
    assert all(w in captured.err for w in err_words), captured.err
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["figures"]["gold"] == 1.0 and out["answers"][1]["score"]["abstained"]


def test_figure_labels_in_english_are_the_benchmarks():
    from assistant.app.evaluate import FIGURE_LABELS

    for key, label, _ in FIGURE_LABELS:
        assert i18n.t(f"ev_fig:{key}", "en") == label
        assert i18n.t(f"ev_fig:{key}", "zh") != label


@pytest.mark.parametrize(("lang", "says"), [
    ("zh", ["错误：连不上模型服务 http://127.0.0.1:9", "\n  确认模型服务在运行"]),
    ("en", ["Error: could not reach the model server at http://127.0.0.1:9",
            "\n  check that the server is running"]),
])
def test_a_failed_answer_reads_in_the_locales_language_and_json_keeps_it_raw(
        args, capsys, monkeypatch, lang, says):
    speak(monkeypatch, lang)
    argv = ["ask", "vLLM 是谁开发的？", *args, "--llm-url", "http://127.0.0.1:9/v1",
            "--llm-model", "m"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert all(w in err for w in says) and "Traceback" not in err, err
    assert main([*argv, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["answer"].startswith("Could not answer") and "could not reach" in out["error"]


@pytest.mark.parametrize(("lang", "first", "err_words"), [
    ("zh", "已索引：新增 3、跳过 1；索引共", ["正在监视 ", "（按 Ctrl+C 停止）", "已停止监视。",
                                "  跳过 empty.md：空文件"]),
    ("en", "indexed: 3 added, 1 skipped; ", ["watching ", "(Ctrl-C to stop)", "stopped watching.",
                                  "  skipped empty.md: empty file"]),
])
def test_index_watch_speaks_the_locales_language(answer_index, tmp_path, capsys, monkeypatch,
                                                 lang, first, err_words):
    from assistant.app.cli import watch

    corpus, _ = answer_index
    mine = tmp_path / "corpus"
    shutil.copytree(corpus, mine)
    (mine / "empty.md").write_text("", encoding="utf-8")

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(watch, "_idle", ctrl_c)  # Ctrl-C as soon as the first run is shown
    speak(monkeypatch, lang)
    assert main(["index", "--watch", "--corpus", str(mine), "--index",
                 str(tmp_path / "index"), "--embedder", MINILM]) == 0
    captured = capsys.readouterr()
    assert first in captured.out.splitlines()[0], captured.out
    assert all(w in captured.err for w in err_words), captured.err


def test_a_watch_line_and_a_failed_run_in_both_languages(capsys):
    from assistant.app.cli.watch import describe, error_printer
    from assistant.errors import AssistantError

    class Report:
        def summary(self):
            return {"added": 1, "changed": 2, "removed": 0, "renamed": 0, "skipped": [{}],
                    "chunks": 9, "chunks_embedded": 4, "seconds": 1.25}

    assert describe(Report(), "en").endswith(
        " re-indexed: 1 added, 2 changed, 1 skipped; 9 chunks in the index (4 embedded) "
        "in 1.2 s")
    assert describe(Report(), "zh").endswith(
        " 已重新索引：新增 1、修改 2、跳过 1；索引共 9 段（4 段重新向量化），用时 1.2 秒")
    error_printer("zh")(AssistantError("No index in /x.", "Run: assistant index"))
    error_printer("en")(AssistantError("No index in /x.", "Run: assistant index"))
    err = capsys.readouterr().err
    assert "重新索引出错：/x 里没有索引。\n  运行：assistant index\n" in err
    assert "Error while re-indexing: No index in /x.\n  Run: assistant index\n" in err


@pytest.mark.parametrize(("lang", "words"), [
    ("zh", ["用法：assistant index", "为资料建立索引（只处理有变动的文件）。", "选项",
            "显示这条帮助并退出", "要索引的文档所在的文件夹（默认：corpus）",
            "持续运行：文件变动时重新索引"]),
    ("en", ["usage: assistant index", "Index the corpus (only what changed).", "options",
            "show this help message and exit", "Folder of documents to index (default: corpus)",
            "keep running: re-index when files change"]),
])
def test_help_reads_in_the_locales_language(capsys, monkeypatch, lang, words):
    speak(monkeypatch, lang)
    with pytest.raises(SystemExit):
        main(["index", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert all(" ".join(w.split()) in out for w in words), out
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert ("问你的文档" in top and "找出能回答问题的段落" in top) if lang == "zh" else \
        ("Ask your documents" in top and "find the passages that answer a question" in top)


def test_every_flag_made_from_a_setting_has_its_chinese_description():
    from assistant.app.cli import build_parser
    from assistant.settings import Settings

    sub = next(a for a in build_parser("zh")._actions if a.dest == "command")
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.dest in Settings.model_fields and action.help:
                english = Settings.model_fields[action.dest].description.rstrip(".")
                assert english not in action.help, \
                    (name, action.dest, action.help)
    for key, (_zh, en) in i18n.STRINGS.items():
        if key.startswith("field:"):  # the English is the field's own description
            assert en == Settings.model_fields[key[6:]].description.rstrip("."), key


def test_doctors_rarer_sentences_read_in_chinese():
    cases = {
        "torch is not installed (needed for embeddings)": "没有安装 torch（向量化需要它）",
        "12.3 GB free for the models folder (/m)": "模型文件夹（/m）所在的磁盘还有 12.3 GB",
        "1.0 GB free for the index folder (/i): a chat model needs 1-2 GB to download":
            "索引文件夹（/i）所在的磁盘还有 1.0 GB：下载对话模型需要 1–2 GB",
        "m (f.gguf): the test generation was killed by SIGKILL (out of memory?)":
            "m (f.gguf)：试生成被 SIGKILL 终止（内存不够？）",
        "the FAISS file disagrees with SQLite (3 vectors for 4 chunks)":
            "FAISS 文件与 SQLite 不一致（3 vectors for 4 chunks）",
        "4 CPU threads; fma, f16c (no avx2, avx512f): llama.cpp runs several times slower "
        "without AVX2": "4 个 CPU 线程；fma, f16c（没有 avx2, avx512f）：没有 AVX2，llama.cpp "
                        "会慢好几倍",
        "No index in index.": "index 里没有索引。",  # a folder named "index" stays its name
    }
    for english, chinese in cases.items():
        assert i18n.say(english, "zh") == chinese
