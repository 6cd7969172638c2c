"""The interface's words in Chinese and English: one table for the web page, the CLI and
the status line's notices.

The page picks its language from the browser (``Accept-Language``, then the reader's
switch, kept in the browser); the CLI from the locale (``LC_ALL``, ``LC_MESSAGES``,
``LANG``). Answers follow the question's language on their own (``answer/prompt.py``).

    >>> t("send", "zh"), t("send", "en")
    ('发送', 'Send')
    >>> t("lines", "zh", lo=3, hi=5)
    '第 3–5 行'
"""

from __future__ import annotations

import os
import re

LANGS = ("zh", "en")
DEFAULT = "zh"  # the default corpus is Chinese, and so are most of its readers

STRINGS: dict[str, tuple[str, str]] = {
    # -- the page: (zh, en) ------------------------------------------------------------
    "title": ("问你的文档", "Ask your documents"),
    "language": ("语言", "Language"),
    "placeholder": (
        "**就 <code>{corpus}</code> 里的文档提问。** 回答用 [1]、[2] … 标出出处，"
        "点一下就能看到原文。<br>用中文或英文提问都可以。",
        "**Ask about the documents in** <code>{corpus}</code>. Answers cite their passages "
        "as [1], [2] … : click one to see it.<br>Ask in English or Chinese.",
    ),
    "question": ("输入问题，按 Enter 发送", "Ask a question, press Enter"),
    "send": ("发送", "Send"),
    "stop": ("停止", "Stop"),
    "retry": ("重试", "Retry"),
    "new_chat": ("新对话", "New chat"),
    "copy": ("复制回答", "Copy answer"),
    "copied": ("已复制回答和出处", "Answer and sources copied"),
    "sources": ("资料来源", "Sources"),
    "sources_empty": (
        "回答用到的段落会列在这里。点回答里的 <b>[n]</b> 打开对应的段落。",
        "The passages given to the model appear here. Click a <b>[n]</b> in an answer to "
        "open its card.",
    ),
    "passages_for": ("{n} 段资料，问题：<b>{q}</b>", "{n} passages for <b>{q}</b>"),
    "passage_for": ("1 段资料，问题：<b>{q}</b>", "1 passage for <b>{q}</b>"),
    "add_docs": ("添加文档", "Add documents"),
    "upload_label": (
        "文档（{types}；每个不超过 {mb:g} MB），会复制到资料文件夹并建立索引。",
        "Documents ({types}; up to {mb:g} MB each). They are copied into the corpus and "
        "indexed.",
    ),
    "upload_added": ("已添加 {names}，正在重新索引。", "Added {names}; re-indexing now."),
    "upload_refused": ("未接受 {what}", "Refused {what}"),
    "upload_unreadable": ("读不出来（{why}）", "could not be read ({why})"),
    "settings": ("设置", "Settings"),
    "model": ("模型", "Model"),
    "model_info": (
        "预设模型、.gguf 文件路径，或不用模型（直接引用资料）",
        "A preset, a .gguf path, or no model (answers quote the sources)",
    ),
    "extractive_choice": ("不用模型：直接引用资料", "Extractive: no model, quotes the sources"),
    "not_downloaded": ("{label}（未下载）", "{label} (not downloaded)"),
    "not_found": ("{label}（找不到文件）", "{label} (not found)"),
    "server_url": ("模型服务地址", "Server URL"),
    "server_url_info": (
        "OpenAI 兼容服务的地址；填写后由它回答，不用本地模型",
        "An OpenAI-compatible server's base URL; when set, it answers instead of the model",
    ),
    "context": ("资料预算（token）", "Context budget (tokens)"),
    "context_info": (
        "每次交给模型的资料长度上限",
        "Token budget for the sources given to the model",
    ),
    "temperature": ("温度", "Temperature"),
    "temperature_info": ("越高回答越多样，越低越稳定", "Sampling temperature"),
    "reindex": ("重新索引", "Re-index"),
    # -- a turn ------------------------------------------------------------------------
    "status:searching": ("正在检索资料", "searching the documents"),
    "status:rewriting the follow-up": ("正在理解追问", "rewriting the follow-up"),
    "status:reading the sources": ("正在阅读资料", "reading the sources"),
    "status:quoting the sources": ("正在引用资料", "quoting the sources"),
    "reading_eta": ("正在阅读资料，约 {s} 秒", "reading the sources, about {s} s"),
    "reading_late": (
        "正在阅读资料，比预计的久，请稍候",
        "reading the sources, longer than expected",
    ),
    "quote_first": (
        "先看资料原文的摘录，模型写好回答后会替换它：",
        "Quoted from the sources while the model writes its answer:",
    ),
    "waiting_model": ("模型正在回答上一个问题，稍等", "the model is finishing another answer"),
    "model_loading": ("模型还在加载，稍等", "the model is still loading"),
    "stopped": ("（已停止）", "(stopped)"),
    "no_answer": ("助手没有给出回答就停止了。", "The assistant stopped without an answer."),
    "failed": (
        "出错了（{kind}），详见服务器日志。",
        "Something went wrong ({kind}); see the server log.",
    ),
    "model_silent": (
        "本地模型 {s} 秒没有回应，先给出直接引用资料的回答。",
        "The local model gave nothing for {s} s; here is an answer quoting the sources.",
    ),
    "cited_badge": ("已引用", "cited"),
    "line": ("第 {lo} 行", "line {lo}"),
    "lines": ("第 {lo}–{hi} 行", "lines {lo}–{hi}"),
    "page": ("第 {page} 页", "page {page}"),
    "score": ("相关度 {score:.2f}", "score {score:.2f}"),
    "open_at": ("打开 {doc}，{span}", "Open {doc} at {span}"),
    "also_cited": ("同一段落", "same passage"),
    # -- the status line ---------------------------------------------------------------
    "st_model": ("模型", "Model"),
    "st_index": ("索引", "Index"),
    "st_details": ("详情", "details"),
    "st_ready": ("一切就绪", "ready"),
    "st_docs": ("{d} 个文档 · {c} 段", "{d} documents · {c} passages"),
    "st_current": ("最新", "current"),
    "st_changed": ("{n} 个文件有变动，需要重新索引", "{n} files changed since the last index"),
    "st_changed1": ("1 个文件有变动，需要重新索引", "1 file changed since the last index"),
    "st_loading": ("正在加载模型…", "loading the model…"),
    "st_load_failed": ("模型没能加载，回答直接引用资料", "the model did not load: answers quote"),
    "st_restarting": ("模型进程崩溃，正在重启", "the model crashed and is restarting"),
    "st_stopped": ("模型已停止，回答直接引用资料", "the model stopped: answers quote the sources"),
    "st_model_why": (
        "原因：{why}。重启 assistant serve 再试；assistant doctor 会检查模型：",
        "Why: {why}. Restart assistant serve to try again; assistant doctor checks the model:",
    ),
    "st_fetching": ("正在下载 {name}：{done:.1f}/{total:.1f} MB，回答暂时直接引用资料",
                    "downloading {name}: {done:.1f}/{total:.1f} MB; answers quote until it "
                    "is ready"),
    "st_fetch_failed": ("下载 {name} 失败：{why}", "downloading {name} failed: {why}"),
    "st_reindexing": (
        "正在重新索引：{stage} {done}/{total}",
        "re-indexing: {stage} {done}/{total}",
    ),
    "st_reindexing0": ("正在重新索引", "re-indexing"),
    "st_reindexed": (
        "已重新索引：新增 {a}、修改 {c}、删除 {r}、跳过 {s}；{e} 段用时 {sec:.1f} 秒",
        "re-indexed: {a} added, {c} changed, {r} removed, {s} skipped; {e} passages embedded "
        "in {sec:.1f} s",
    ),
    "st_reindex_failed": ("上次重新索引失败：{why}", "the last re-index failed: {why}"),
    "st_fix": ("解决办法：", "To fix: "),
    # One short phrase per notice (assistant/notices.py keys), the details behind a click.
    "n:llm-missing": (
        "没有下载模型，回答直接引用资料",
        "no model on disk: answers quote the sources",
    ),
    "n:llm-missing:detail": (
        "模型 {model} 不在 {models_dir}/ 里，回答直接引用资料中最相关的句子（带出处）。",
        "The model {model} is not in {models_dir}/, so answers quote the best sentences of "
        "the sources, with citations.",
    ),
    "n:llm-offline:detail": (
        "这台机器不联网：在联网的机器上运行下面的命令，再把 models/ 文件夹复制过来"
        "（或只复制 {file} 到 {models_dir}/），然后重启。",
        "This machine is offline: run the command below on a connected machine and copy "
        "the models/ folder over (or just {file} into {models_dir}/), then restart.",
    ),
    "n:embedder": ("检索用备用的英文向量模型", "search uses the fallback English embedder"),
    "n:embedder:detail": (
        "向量模型 {embedder} 不在磁盘上，暂用自带的 al"
        "l-MiniLM-L6-v2（偏英文，中文检索主要靠关键词）。"
        "在联网的机器上运行：",
        "The embedder {embedder} is not on disk; the packaged all-MiniLM-L6-v2 is used "
        "instead (English-centred: Chinese search leans on keywords). On a connected "
        "machine run:",
    ),
    "n:tiktoken": ("分段用近似的 token 计数", "chunking counts tokens approximately"),
    "n:tiktoken:detail": (
        "tiktoken 的 cl100k_base 文件不在磁盘上，分段时用近似计数。运行：",
        "tiktoken's cl100k_base file is not on disk, so chunks are sized by an estimate. "
        "Run:",
    ),
    "n:onnx": ("向量模型用 PyTorch 运行（较慢）", "the embedder runs on PyTorch (slower)"),
    "n:other": ("{n} 条提示", "{n} notices"),
    # -- the CLI -----------------------------------------------------------------------
    "cli_sources": ("出处：", "Sources:"),
    "cli_nearest": ("最接近的段落：", "Nearest passages:"),
    "cli_with_citations": ("引用后的回答：", "With citations:"),
    "cli_error": ("错误：{message}", "Error: {message}"),
    "cli_interrupted": ("已中断。", "Interrupted."),
    "cli_skipped": ("跳过 {path}：{reason}", "skipped {path}: {reason}"),
    "cli_indexed": (
        "已索引 {corpus}：新增 {added}、修改 {changed}、删除 {removed}、改名 {renamed}、"
        "未变 {unchanged}、跳过 {skipped}；{embedded} 段重新向量化（索引共 {chunks} 段），"
        "用时 {seconds:.1f} 秒",
        "indexed {corpus}: {added} added, {changed} changed, {removed} removed, {renamed} "
        "renamed, {unchanged} unchanged, {skipped} skipped; {embedded} chunks embedded "
        "({chunks} in the index) in {seconds:.1f} s",
    ),
    "cli_no_index_yet": ("{index} 里还没有索引：先为 {corpus} 建立索引……",
                         "No index yet in {index}: indexing {corpus} first ..."),
    "cli_no_match": ("没有匹配的段落。", "No passage matches."),
    "cli_nearest_meaning": ("没有段落包含这些词；按意思最接近的是：",
                            "No passage holds these words; the nearest by meaning:"),
    "cli_score": ("相关度 {score:.3f}", "score {score:.3f}"),
    "cli_page": ("（第 {page} 页）", " (page {page})"),
    "cli_ready": ("{sec:.1f} 秒后就绪：{url}（OpenAI 兼容 API：{url}/v1；按 Ctrl+C 停止）",
                  "Ready in {sec:.1f} s: {url}  (OpenAI-compatible API at {url}/v1; Ctrl+C "
                  "to stop)"),
    "cli_open_host": (
        "警告：在 {host} 上提供服务却没有 --auth：能连到这台机器的人都能读你的文档、用你的"
        "模型。加上 --auth USER:PASS。",
        "warning: serving on {host} without --auth: anyone who can reach this machine can "
        "read your documents and use the model. Add --auth USER:PASS.",
    ),
    # assistant doctor
    "dr_area:versions": ("版本", "versions"),
    "dr_area:models": ("模型", "models"),
    "dr_area:index": ("索引", "index"),
    "dr_area:disk": ("磁盘", "disk"),
    "dr_area:cpu": ("CPU", "cpu"),
    "dr_mark:ok": ("正常", "ok  "),
    "dr_mark:info": ("提示", "info"),
    "dr_mark:warn": ("警告", "warn"),
    "dr_mark:fail": ("失败", "FAIL"),
    "dr_fix": ("解决：{fix}", "fix: {fix}"),
    "dr_all_good": ("一切正常。", "All good."),
    # ps, ws: the English plural endings ("s" or "")
    "dr_summary": ("{fails} 个问题，{warns} 个警告。{ps:.0}{ws:.0}",
                   "{fails} problem{ps}, {warns} warning{ws}."),
}

# Sentences the layers below print or raise in English (errors from the index, the
# search, the models and the hub; the indexer's reasons to skip a file; doctor's
# checks), in Chinese for the CLI: the whole sentence must match its pattern, and each
# named part is kept (itself translated when it is one of these sentences). Text no
# pattern matches stays as it is. ``--json`` output never goes through here.
PHRASES_ZH: list[tuple[str, str]] = [
    # errors
    (r"No index in (?P<i>.+)\.", "{i} 里没有索引。"),
    (r"Build it with: (?P<cmd>.+)", "先建立索引：{cmd}"),
    (r"The index in (?P<i>.+) is empty or unfinished\.", "{i} 里的索引是空的，或没有建完。"),
    (r"Run: (?P<cmd>assistant .+)", "运行：{cmd}"),
    (r"The index was built with (?P<a>.+) but the embedder now is (?P<b>.+)\.",
     "索引是用 {a} 建的，但现在的向量模型是 {b}。"),
    (r"Run `assistant index` to re-embed, or set the embedder back\.",
     "运行 assistant index 重新向量化，或把向量模型改回去。"),
    (r"The corpus folder (?P<c>.+) does not exist\.", "资料文件夹 {c} 不存在。"),
    (r"Create it and put documents in it, or pass --corpus DIR\.",
     "创建它并放入文档，或用 --corpus DIR 指定别的文件夹。"),
    (r"Create it, or pass --corpus DIR\.", "创建它，或用 --corpus DIR 指定别的文件夹。"),
    (r"unknown model (?P<m>'.+')", "未知的模型 {m}"),
    (r"use a preset \((?P<p>.+)\), a \.gguf file path, or 'extractive'",
     "用预设模型（{p}）、.gguf 文件的路径，或 'extractive'（不用模型）"),
    (r"unknown model preset (?P<m>'.+')", "未知的模型预设 {m}"),
    (r"pull knows the presets (?P<p>.+); a \.gguf file of your own needs no pull: pass its "
     r"path with --model",
     "pull 认识的预设有 {p}；自己的 .gguf 文件不用 pull：用 --model 传入路径"),
    (r"`assistant pull` needs a network connection \((?P<why>.+)\); missing: (?P<m>.+)",
     "assistant pull 需要联网（{why}）；缺少：{m}"),
    (r"could not reach the model server at (?P<u>\S+) \((?P<e>.+)\)",
     "连不上模型服务 {u}（{e}）"),
    (r"the model server at (?P<u>\S+) did not answer in time \((?P<e>.+)\)",
     "模型服务 {u} 没有及时回应（{e}）"),
    (r"not enough disk space for (?P<w>.+): it needs (?P<n>\d+) MB, (?P<f>\d+) MB are "
     r"free in (?P<d>.+)", "{w} 的磁盘空间不够：需要 {n} MB，{d} 只剩 {f} MB"),
    # the indexer's reasons to skip a file
    (r"larger than the (?P<n>\d+) MB limit \(raise ASSISTANT_MAX_FILE_MB to index it\)",
     "超过 {n} MB 的上限（调大 ASSISTANT_MAX_FILE_MB 才会索引它）"),
    (r"file disappeared during the run", "运行中文件不见了"),
    (r"cannot be read \((?P<e>.+)\)", "读不出来（{e}）"),
    (r"no text found", "没有找到文字"),
    (r"no text found \(scanned PDF\?\)", "没有找到文字（扫描的 PDF？）"),
    (r"empty file", "空文件"),
    (r"file disappeared", "文件不见了"),
    (r"not a file", "不是文件"),
    (r"permission denied", "没有读取权限"),
    (r"cannot read file \((?P<e>.+)\)", "读不出文件（{e}）"),
    (r"unsupported file type (?P<t>.+)", "不支持的文件类型 {t}"),
    (r"could not parse the file \((?P<e>.+)\)", "无法解析文件（{e}）"),
    (r"binary content, not text", "二进制内容，不是文字"),
    (r"encrypted PDF", "加密的 PDF"),
    (r"corrupt or unreadable (?P<k>PDF|DOCX) \((?P<e>.+)\)", "{k} 已损坏或读不出来（{e}）"),
    (r"corrupt PDF: no page could be read", "PDF 已损坏：一页也读不出来"),
    (r"(?P<k>PDF|DOCX) support needs the '(?P<p>.+)' package", "读 {k} 需要安装 {p} 包"),
    # assistant doctor
    (r"embedder (?P<n>\S+) at (?P<p>.+)", "向量模型 {n}，位于 {p}"),
    (r"embedder (?P<n>\S+) is not on disk: the packaged all-MiniLM-L6-v2 is used instead "
     r"\(English-centred; Chinese search leans on BM25\)",
     "向量模型 {n} 不在磁盘上：暂用自带的 all-MiniLM-L6-v2（偏英文，中文检索主要靠关键词）"),
    (r"(?P<cmd>assistant pull .+)  \(on a connected machine\)", "{cmd}（在联网的机器上）"),
    (r"(?P<m>\S+) \((?P<f>\S+), (?P<mb>\d+) MB\) is not on disk: answers are extractive "
     r"\(quoted sentences with citations\)",
     "{m}（{f}，{mb} MB）不在磁盘上：回答直接引用资料中的句子（带出处）"),
    (r"no chat model: answers are extractive", "没有对话模型：回答直接引用资料"),
    (r"answers come from the server at (?P<u>\S+) \(not contacted\)",
     "回答来自模型服务 {u}（未连接检查）"),
    (r"model file (?P<m>.+) not found", "找不到模型文件 {m}"),
    (r"check the path, or use a preset: (?P<cmd>.+)", "检查路径，或用预设模型：{cmd}"),
    (r"(?P<m>\S+) at (?P<p>\S+) \((?P<mb>\d+) MB\)", "{m}，位于 {p}（{mb} MB）"),
    (r"cl100k_base at (?P<p>.+)", "cl100k_base 位于 {p}"),
    (r"test generation skipped: (?P<why>.+)", "跳过试生成：{why}"),
    (r"the model file of (?P<m>\S+) is not on disk", "{m} 的模型文件不在磁盘上"),
    (r"(?P<label>.+) generates: loaded in (?P<a>[\d.]+) s, 2 tokens in (?P<b>[\d.]+) s",
     "{label} 能生成：加载 {a} 秒，2 个 token 用时 {b} 秒"),
    (r"no index in (?P<i>.+) yet", "{i} 里还没有索引"),
    (r"SQLite integrity check passed", "SQLite 完整性检查通过"),
    (r"(?P<d>\d+) documents, (?P<c>\d+) chunks, generation (?P<g>\d+), embedder (?P<e>\S+), "
     r"tokens counted with (?P<t>.+)", "{d} 个文档，{c} 段，第 {g} 次索引，向量模型 {e}，"
     "token 计数用 {t}"),
    (r"every chunk has its vector and its full-text row", "每段都有向量和全文索引"),
    (r"the FAISS file agrees with SQLite \((?P<n>\d+) vectors\)",
     "FAISS 文件与 SQLite 一致（{n} 个向量）"),
    (r"the index is up to date with (?P<c>[^;]+)", "索引与 {c} 一致，是最新的"),
    (r"the corpus changed since the last index run \((?P<a>\d+) new, (?P<c>\d+) changed, "
     r"(?P<r>\d+) removed files\)", "上次索引后资料有变动（新增 {a}、修改 {c}、删除 {r} 个文件）"),
    (r"assistant index  \(or run it with --watch to follow changes\)",
     "assistant index（加 --watch 会自动跟进变动）"),
    (r"the corpus folder (?P<c>.+) does not exist", "资料文件夹 {c} 不存在"),
    (r"create it, or pass --corpus DIR", "创建它，或用 --corpus DIR 指定别的文件夹"),
    (r"(?P<g>[\d.]+) GB free for the index folder \((?P<p>.+)\)",
     "索引文件夹（{p}）所在的磁盘还有 {g} GB"),
    (r"(?P<n>\d+) CPU threads; (?P<f>.+)", "{n} 个 CPU 线程；{f}"),
    (r"(?P<f>[a-z0-9, ]+) \(no (?P<x>[a-z0-9, ]+)\)", "{f}（没有 {x}）"),
    (r"(?P<a>[\d.]+) GB of (?P<b>[\d.]+) GB memory available; fits (?P<m>.+)",
     "可用内存 {a} GB（共 {b} GB）；放得下 {m}"),
    (r"llama\.cpp build uses (?P<f>.+): all run on this CPU",
     "llama.cpp 的编译用到 {f}：这台 CPU 都支持"),
]
_PHRASES = [(re.compile(p), zh) for p, zh in PHRASES_ZH]


def say(text: str | None, lang: str | None) -> str | None:
    """``text`` (an English sentence of a layer below) in ``lang``: in Chinese when a
    pattern of :data:`PHRASES_ZH` matches it whole, else as it is.

    >>> say("No index in index/.", "zh")
    'index/ 里没有索引。'
    """
    if not text or normalise(lang) != "zh":
        return text
    for pattern, zh in _PHRASES:
        m = pattern.fullmatch(text)
        if m:
            return zh.format(**{k: say(v, lang) for k, v in m.groupdict().items()})
    return text


def error_words(error, lang: str | None) -> tuple[str, str | None]:
    """(message, hint) of an :class:`~assistant.errors.AssistantError` in ``lang``: the
    Chinese its raiser gave, else the sentences :func:`say` knows, else as raised."""
    if normalise(lang) == "zh" and getattr(error, "zh", None):
        return error.zh
    return say(error.message, lang), say(error.hint, lang)


def error_line(error, lang: str | None) -> str:
    """"Error: ..." (or "错误：...") and the hint under it, as the CLI prints a failure."""
    message, hint = error_words(error, lang)
    line = t("cli_error", lang, message=message)
    return f"{line}\n  {hint}" if hint else line


def t(key: str, lang: str | None = None, **values) -> str:
    """The string ``key`` in ``lang`` ("zh" or "en"), formatted with ``values``.

    An unknown key is returned as it is, so a missing entry shows, not fails.
    """
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[0] if normalise(lang) == "zh" else pair[1]
    return text.format(**values) if values else text


def normalise(lang: str | None) -> str:
    """"zh-CN", "zh_TW.UTF-8", "zh" -> "zh"; "en-GB" -> "en"; anything else: the default."""
    value = (lang or "").strip().lower().replace("_", "-")
    if value.startswith("zh"):
        return "zh"
    if value.startswith("en"):
        return "en"
    return DEFAULT


def from_accept_language(header: str | None) -> str:
    """The language of a browser's ``Accept-Language`` header: the first of zh / en in
    its order of preference (weights honoured), else the default.

    >>> from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8")
    'en'
    """
    ranked = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith(("zh", "en")):
            return normalise(tag)
    return DEFAULT


def from_locale(environ: dict | None = None) -> str:
    """The CLI's language: Chinese when the first of LC_ALL, LC_MESSAGES, LANG that is
    set is a Chinese locale (``zh_CN.UTF-8``), else English (also for C and POSIX)."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = (env.get(name) or "").strip()
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def notice_wording(settings, lang: str):
    """``notices.wording`` for the CLI: a known notice in ``lang`` (its phrase, details
    and the fixing command), an unknown one, or any in English, as it was announced."""

    def word(key: str, message: str) -> str:
        name = key.split(":")[0]
        if lang == "en" or f"n:{name}:detail" not in STRINGS:
            return message
        from assistant.hub.presets import get_preset

        preset = get_preset(settings.model or "")
        detail = t(f"n:{name}:detail", lang, model=settings.model, embedder=settings.embedder,
                   models_dir=settings.models_dir,
                   file=getattr(preset, "filename", settings.model))
        fixes = {"llm-missing": f"assistant pull --model {settings.model}",
                 "embedder": f"assistant pull --embedder {settings.embedder}",
                 "tiktoken": "assistant pull"}
        fix = fixes.get(name)
        if fix and not detail.endswith(("：", ":")):
            fix = t("st_fix", lang) + fix
        return f"{t(f'n:{name}', lang)}。{detail}" + (f" {fix}" if fix else "")

    return word
