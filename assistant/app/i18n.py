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
    # --help: the commands, their flags ("h:"), the Settings fields a flag sets ("field:";
    # the English is the field's own description in assistant/settings.py, which the flag
    # reads from there), argparse's own words ("hp:")
    "h:assistant": ("问你的文档：就本地文件夹里的文档作答并标出出处，不用联网。",
                    "Ask your documents: cited answers over a local folder, offline."),
    "h:index": ("为资料建立索引（只处理有变动的文件）", "index the corpus (only what changed)"),
    "h:index:json": ("用 JSON 输出摘要", "print the summary as JSON"),
    "h:index:watch": ("持续运行：文件变动时重新索引", "keep running: re-index when files change"),
    "h:search": ("找出能回答问题的段落", "find the passages that answer a question"),
    "h:search:question": ("要找的内容，怎么说都行（加引号）",
                          "what to look for, in any words (quote it)"),
    "h:search:k": ("返回几段（默认 5）", "how many passages (default 5)"),
    "h:mode": ("检索方式：混合、只按关键词、只按意思（默认 hybrid）",
               "hybrid, lexical (words) or dense (meaning) search (default hybrid)"),
    "h:search:json": ("把段落输出为一个 JSON 对象", "print the passages as one JSON object"),
    "h:eval": ("用问题文件（JSONL）给检索打分（加 --answers 则给整个回答打分）",
               "score retrieval (or, with --answers, whole answers) on a question file "
               "(JSONL)"),
    "h:eval:questions": ("问题文件（JSONL，每行一个问题）",
                         "the question file (JSONL, one question a line)"),
    "h:eval:k": ("每个问题取几段（默认 10）", "passages per question (default 10)"),
    "h:eval:answers": (
        "像 assistant ask 一样回答每个问题并给回答打分：标准答案、引用、拒答、编造的数字、速度",
        "answer each question as `assistant ask` does and score the answers: gold strings, "
        "citations, abstaining, invented numbers, speed"),
    "h:eval:with_answers": ("配合 --answers", "with --answers"),
    "h:eval:json": ("每个问题一行，带排好序的段落（加 --answers：一个 JSON 对象，含各项指标和"
                    "每个回答）",
                    "one line per question with its ranked passages (with --answers: one JSON "
                    "object, the figures and every answer)"),
    "h:ask": ("根据文档回答问题，并标出出处",
              "answer a question from the documents, with citations"),
    "h:ask:question": ("问题，加引号；中文或英文都可以；写 - 则从标准输入读取",
                       "the question, in quotes; Chinese or English; - reads it from standard "
                       "input"),
    "h:ask:json": ("输出一个 JSON 对象", "print one JSON object"),
    "h:serve": ("在浏览器里打开对话页面（以及 HTTP API）",
                "open the chat in the browser (and the HTTP API)"),
    "h:serve:host": ("监听的地址（默认 127.0.0.1：只有本机能访问）",
                     "address to listen on (default 127.0.0.1: this machine only)"),
    "h:serve:port": ("端口（默认 7860）", "port (default 7860)"),
    "h:serve:auth": ("要求这个用户名和密码（HTTP Basic；API 客户端也可以用 Bearer token）",
                     "require this user name and password (HTTP Basic, or a Bearer token for "
                     "API clients)"),
    "h:serve:watch": ("资料文件夹里的文件变动时自动重新索引",
                      "re-index by itself when files in the corpus change"),
    "h:pull": ("把模型下载到 models/（需要联网）",
               "download models into models/ (needs a network)"),
    "h:pull:description": (
        "把对话模型（GGUF 预设）、向量模型和 tiktoken 的文件下载到模型文件夹，带进度条、断点续传"
        "和校验。不加参数时：配置的预设、配置的向量模型和 tiktoken。",
        "Download the chat model (a GGUF preset), the embedder and tiktoken's file into the "
        "models folder, with progress bars, resume and checksums. With no flags: the "
        "configured preset, the configured embedder and tiktoken."),
    "h:pull:model": ("要下载的预设（见 assistant models）",
                     "the preset to download (see `assistant models`)"),
    "h:pull:all": ("所有模型预设、向量模型和 tiktoken",
                   "every model preset, the embedder and tiktoken"),
    "h:pull:dir": ("下载到 DIR，而不是模型文件夹",
                   "download into DIR instead of the models folder"),
    "h:pull:no_progress": ("不显示进度条", "no progress bars"),
    "h:pull:json": ("用 JSON 输出下载了什么", "print what was fetched as JSON"),
    "h:models": ("磁盘上有哪些模型，每个预设需要什么",
                 "what models are on disk, what each preset needs"),
    "h:models:dir": ("要列出的模型文件夹", "the models folder to list"),
    "h:models:json": ("用 JSON 输出清单", "print the inventory as JSON"),
    "h:doctor": ("检查版本、模型、索引、磁盘和 CPU",
                 "check versions, models, the index, disk and CPU"),
    "h:doctor:model": ("要检查的对话模型", "the chat model to check"),
    "h:doctor:json": ("用 JSON 输出检查结果", "print the checks as JSON"),
    "h:doctor:strict": ("有警告也以 1 退出", "exit 1 on warnings too"),
    "h:default": ("（默认：{default}）", " (default: {default})"),
    "h:join": ("{help}；{description}", "{help}; {description}"),
    "field:corpus": ("要索引的文档所在的文件夹", "Folder of documents to index"),
    "field:index": ("建立索引的文件夹", "Folder the index is built in"),
    "field:models_dir": ("下载的模型所在的文件夹", "Folder of downloaded models"),
    "field:embedder": ("向量模型：sentence-transformers 的模型名或路径",
                       "sentence-transformers name or path"),
    "field:model": ("本地模型：预设名、.gguf 文件路径，或 'extractive'（不用模型，直接引用资料）",
                    "Local model: a preset name, a .gguf path, or 'extractive' for no model"),
    "field:llm_url": ("OpenAI 兼容服务的基础地址", "OpenAI-compatible server base URL"),
    "field:llm_model": ("向服务请求的模型名", "Model name to ask the server for"),
    "field:top_k": ("每个问题检索几段", "Passages retrieved per question"),
    "hp:usage": ("用法：", "usage: "),
    "hp:positionals": ("位置参数", "positional arguments"),
    "hp:options": ("选项", "options"),
    "hp:help": ("显示这条帮助并退出", "show this help message and exit"),
    "hp:commands": ("命令", "commands"),
    # assistant models
    "md_folder": ("模型文件夹：{dir}", "models folder: {dir}"),
    "md_presets": ("对话模型预设：", "chat model presets:"),
    "md_preset": (
        " {mark} {name:<22} 下载 {dl:>5} MB，在 {ctx} token 上下文时内存约 {ram} MB；{where}{warn}",
        " {mark} {name:<22} download {dl:>5} MB, memory ~{ram} MB at {ctx} tokens; {where}"
        "{warn}",
    ),
    "md_present": ("已在磁盘上：{path}", "present: {path}"),
    "md_absent": ("不在磁盘上（{repo}）", "not on disk ({repo})"),
    "md_too_big": ("（超过这台机器的内存）", "  (more than this machine has)"),
    "md_star": ("   （* = 当前配置；assistant pull --model NAME 下载一个）",
                "   (* = configured; `assistant pull --model NAME` downloads one)"),
    "md_other": ("其他 GGUF 文件：", "other GGUF files:"),
    "md_where:models": ("模型文件夹", "models"),
    "md_where:hf-cache": ("Hugging Face 缓存", "hf-cache"),
    "md_where:packaged": ("自带", "packaged"),
    "md_gguf": ("   {path}  {size}（{where}）", "   {path}  {size} ({where})"),
    "md_embedders": ("向量模型：", "embedders:"),
    "md_embedder": (" {mark} {name:<45} {where}：{path}{size}",
                    " {mark} {name:<45} {where}: {path}{size}"),
    "md_embedder_absent": (
        "   配置的 {name} 不在磁盘上（assistant pull --embedder {name}）",
        "   configured {name}: not on disk (`assistant pull --embedder {name}`)",
    ),
    "md_tiktoken": ("tiktoken 的 cl100k_base：", "tiktoken cl100k_base:"),
    "md_tiktoken_elsewhere": (
        "   在 {path}，但 tiktoken 找的是 {looks}（设置 TIKTOKEN_CACHE_DIR={dir}）",
        "   in {path}, but tiktoken looks at {looks} (set TIKTOKEN_CACHE_DIR={dir})",
    ),
    "md_tiktoken_absent": (
        "   不在磁盘上（assistant pull 会下载它；没有它时分段用向量模型的分词器计数）",
        "   not on disk (`assistant pull` fetches it; without it chunks are counted with the "
        "embedder's tokenizer)",
    ),
    "md_partial": ("未完成的下载（assistant pull 会接着下载）：",
                   "unfinished downloads (`assistant pull` resumes them):"),
    "md_memory": ("内存：可用 {available:,} MB（共 {total:,} MB）",
                  "memory: {available:,} MB available of {total:,} MB"),
    # assistant pull: one line per item (the English is hub/pull.py's PullResult.line)
    "pl_line": ("{kind} {name}：{what}{size} → {path}{note}",
                "{kind} {name}: {what}{size} -> {path}{note}"),
    "pl_kind:model": ("对话模型", "model"),
    "pl_kind:embedder": ("向量模型", "embedder"),
    "pl_kind:tiktoken": ("tiktoken", "tiktoken"),
    "pl_status:downloaded": ("已下载", "fetched"),
    "pl_status:present": ("已在磁盘上", "already on disk"),
    "pl_status:copied": ("已复制", "copied"),
    "pl_size": ("（{mb:.1f} MB）", " ({mb:.1f} MB)"),
    "pl_note": ("；{note}", "; {note}"),
    # assistant eval
    "ev_indexed": ("已索引 {corpus}：{n} 段重新向量化", "indexed {corpus}: {n} chunks embedded"),
    "ev_progress": ("[{n}/{total}] {id}：{verdict}", "[{n}/{total}] {id}: {verdict}"),
    "ev_abstained": ("拒答", "abstained"),
    "ev_abstained_right": ("拒答（正确）", "abstained (right)"),
    "ev_answered_unanswerable": ("回答了无法回答的问题", "answered an unanswerable question"),
    "ev_gold": ("含标准答案", "gold"),
    "ev_no_gold": ("不含标准答案", "no gold string"),
    "ev_citations_hold": ("{ok}/{n} 条引用含证据", "{ok}/{n} citations hold the evidence"),
    "ev_invented": ("编造了数字 {numbers}", "invented {numbers}"),
    "ev_sep": ("；", "; "),
    "ev_header": ("{backend} 的回答：{a} 个可回答、{u} 个无法回答的问题",
                  "answers by {backend}: {a} answerable, {u} unanswerable questions"),
    "ev_share": ("{value:.1%}（共 {of}）", "{value:.1%} of {of}"),
    "ev_failed": ("  {n} 个回答失败（原因见回答的文字）",
                  "  {n} answers failed (their text says why)"),
    "ev_fig:gold": ("回答含标准答案（可回答的）", "answer holds a gold string (answerable)"),
    "ev_fig:answered_cited": ("作答的回答带至少 1 个引用",
                              "answers that answer with >= 1 citation"),
    "ev_fig:citations_ok": ("引用的段落含证据", "citations that hold the evidence"),
    "ev_fig:sources_hold": ("给出的资料含证据（可回答的）",
                            "sources given hold the evidence (answerable)"),
    "ev_fig:abstain_unanswerable": ("无法回答的问题上拒答", "abstain on unanswerable"),
    "ev_fig:abstain_answerable": ("可回答的问题上拒答", "abstain on answerable"),
    "ev_fig:invented": ("回答里有编造的数字", "answers with an invented number"),
    "ev_fig:first_token_ms_p50": ("模型首个 token p50（毫秒）", "first model token p50 (ms)"),
    "ev_fig:first_token_ms_p95": ("模型首个 token p95（毫秒）", "first model token p95 (ms)"),
    "ev_fig:prompt_tokens_p50": ("提示词 token 数 p50", "prompt tokens p50"),
    "ev_fig:tokens_per_s_p50": ("生成速度 p50（token/秒）", "decode tokens/s p50"),
    "ev_fig:total_ms_p50": ("整个回答 p50（毫秒）", "whole answer p50 (ms)"),
    "ev_fig:total_ms_p95": ("整个回答 p95（毫秒）", "whole answer p95 (ms)"),
    # assistant index --watch
    "wt_indexed": ("{time} 已索引：{what}；索引共 {chunks} 段（{embedded} 段重新向量化），"
                   "用时 {sec:.1f} 秒",
                   "{time} indexed: {what}; {chunks} chunks in the index ({embedded} "
                   "embedded) in {sec:.1f} s"),
    "wt_reindexed": ("{time} 已重新索引：{what}；索引共 {chunks} 段（{embedded} 段重新向量化），"
                     "用时 {sec:.1f} 秒",
                     "{time} re-indexed: {what}; {chunks} chunks in the index ({embedded} "
                     "embedded) in {sec:.1f} s"),
    "wt_added": ("新增 {n}", "{n} added"),
    "wt_changed": ("修改 {n}", "{n} changed"),
    "wt_removed": ("删除 {n}", "{n} removed"),
    "wt_renamed": ("改名 {n}", "{n} renamed"),
    "wt_skipped": ("跳过 {n}", "{n} skipped"),
    "wt_sep": ("、", ", "),
    "wt_no_change": ("没有变动", "no change"),
    "wt_watching": ("正在监视 {corpus} 的变动（按 Ctrl+C 停止）",
                    "watching {corpus} for changes (Ctrl-C to stop)"),
    "wt_stopped": ("已停止监视。", "stopped watching."),
    "wt_error": ("重新索引出错：{message}", "Error while re-indexing: {message}"),
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
    (r"check that the server is running and its URL is right \(--llm-url, Server URL in "
     r"the web page's settings, llm_url in assistant\.toml or ASSISTANT_LLM_URL\), or leave "
     r"the URL empty to use the local model",
     "确认模型服务在运行、地址正确（--llm-url、网页设置里的“模型服务地址”、assistant.toml 的 "
     "llm_url 或 ASSISTANT_LLM_URL），或者把地址留空，改用本地模型"),
    # assistant pull: errors and the notes of its lines
    (r"(?P<f>\S+) failed its checksum \((?P<e>.+)\); the download was deleted",
     "{f} 校验和不对（{e}）；下载的文件已删除"),
    (r"run the same `assistant pull` again; if it fails again, the server \(or HF_ENDPOINT "
     r"mirror\) is serving a damaged file",
     "再运行一次同样的 assistant pull；如果还失败，是服务器（或 HF_ENDPOINT 镜像）给的文件坏了"),
    (r"the download of (?P<f>\S+) was interrupted \((?P<e>.+)\) after (?P<n>\d+) attempts",
     "{f} 的下载中断了（{e}），已试 {n} 次"),
    (r"run the same `assistant pull` again: it resumes from the (?P<mb>[\d.]+) MB kept in "
     r"(?P<p>.+)", "再运行一次同样的 assistant pull：会从 {p} 里已有的 {mb} MB 接着下载"),
    (r"free some space, or pull into another folder with --dir DIR \(then set "
     r"ASSISTANT_MODELS_DIR to it\)",
     "腾出一些空间，或用 --dir DIR 下载到别的文件夹（再把 ASSISTANT_MODELS_DIR 设为它）"),
    (r"another `assistant pull` is downloading into (?P<d>.+)",
     "另一个 assistant pull 正在往 {d} 下载"),
    (r"wait for it to finish \(or stop it\), then run this one again",
     "等它结束（或停掉它），再运行这一个"),
    (r"could not download (?P<f>\S+) \(about (?P<mb>\d+) MB\) from (?P<r>\S+): (?P<e>.+)",
     "没能从 {r} 下载 {f}（约 {mb} MB）：{e}"),
    (r"check the network \(or HF_ENDPOINT for a mirror\)", "检查网络（或用 HF_ENDPOINT 指定镜像）"),
    (r"HF_HUB_OFFLINE=1 forbids downloads", "HF_HUB_OFFLINE=1 禁止下载"),
    (r"no network", "没有网络"),
    (r"run it on a connected machine and copy the models folder over, or fetch these by "
     r"hand:", "在联网的机器上运行它，再把 models 文件夹复制过来；或者手动下载这些："),
    (r"every file of (?P<u>\S+) \(git clone\) -> (?P<p>.+)", "{u} 的全部文件（git clone）-> {p}"),
    (r"\(unset HF_HUB_OFFLINE to let pull connect\)", "（取消 HF_HUB_OFFLINE，pull 才能联网）"),
    (r"found in the Hugging Face cache", "在 Hugging Face 缓存里找到"),
    (r"not checked against the hub \((?P<e>.+)\)", "没有和模型仓库核对（{e}）"),
    (r"packaged with the assistant \((?P<n>.+)\)", "随助手自带（{n}）"),
    (r"a local folder", "本地文件夹"),
    (r"from (?P<p>/.+)", "复制自 {p}"),
    (r"TIKTOKEN_CACHE_DIR is (?P<a>.+), so tiktoken looks there, not here; unset it or set "
     r"it to (?P<b>.+)",
     "TIKTOKEN_CACHE_DIR 是 {a}，tiktoken 会去那里找，而不是这里；取消它，或把它设为 {b}"),
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

# doctor's rarer checks: versions, damaged files, a broken index, little disk or memory
PHRASES_ZH += [
    (r"Python (?P<v>\S+) \((?P<p>.+)\)", "Python {v}（{p}）"),
    (r"(?P<n>\S+) is not installed \(needed for (?P<w>.+)\)", "没有安装 {n}（{w}需要它）"),
    (r"(?P<n>\S+) is not installed: no (?P<w>.+)", "没有安装 {n}：不能用{w}"),
    (r"embeddings", "向量化"), (r"vector search", "向量检索"), (r"Chinese search", "中文检索"),
    (r"token counting", "token 计数"), (r"local chat models", "本地对话模型"),
    (r"the web UI", "网页界面"),
    (r"finding models in the Hugging Face cache", "在 Hugging Face 缓存里找模型"),
    (r"run \./install\.sh \(or pip install -e \.\) in this environment",
     "在这个环境里运行 ./install.sh（或 pip install -e .）"),
    (r"llama-cpp-python is installed but importing it dies with (?P<s>\S+): it was built "
     r"for another CPU", "已安装 llama-cpp-python，但导入时因 {s} 退出：它是为别的 CPU 编译的"),
    (r"llama-cpp-python is installed but does not load \((?P<e>.+)\)",
     "已安装 llama-cpp-python，但加载不了（{e}）"),
    (r"run \./install\.sh \(it rebuilds llama-cpp-python for this CPU, about 5 minutes\), "
     r"or: (?P<cmd>.+)", "运行 ./install.sh（为这台 CPU 重新编译 llama-cpp-python，约 5 分钟），"
     "或：{cmd}"),
    (r"(?P<p>.+) is not a GGUF file \(no GGUF signature\)", "{p} 不是 GGUF 文件（没有 GGUF 标记）"),
    (r"(?P<p>.+) is (?P<a>\d+) MB where (?P<b>\d+) MB are expected \(an interrupted "
     r"download\?\)", "{p} 只有 {a} MB，应为 {b} MB（下载中断了？）"),
    (r"(?P<cmd>assistant pull --model \S+)  \(downloads it again\)", "{cmd}（重新下载）"),
    (r"replace the file", "换一个完好的文件"),
    (r"(?P<n>\d+) unfinished download\(s\) in (?P<d>.+) \((?P<mb>\d+) MB\): `assistant "
     r"pull` resumes them", "{d} 里有 {n} 个未完成的下载（{mb} MB）：assistant pull 会接着下载"),
    (r"answers come from the server at (?P<u>\S+)", "回答来自模型服务 {u}"),
    (r"no local chat model is configured", "没有配置本地对话模型"),
    (r"(?P<p>.+) is damaged \(above\)", "{p} 已损坏（见上）"),
    (r"llama-cpp-python is not installed", "没有安装 llama-cpp-python"),
    (r"llama-cpp-python does not load \(above\)", "llama-cpp-python 加载不了（见上）"),
    (r"(?P<m>.+): a two-token test generation did not finish in (?P<s>\d+) s",
     "{m}：两个 token 的试生成在 {s} 秒内没有完成"),
    (r"close other programs \(is memory short\?\), or use a smaller model or --llm-url",
     "关掉别的程序（内存不够？），或换更小的模型，或用 --llm-url"),
    (r"(?P<m>.+): the test generation died with SIGILL \(illegal instruction\): "
     r"llama-cpp-python was built for instructions this CPU does not run, so the local "
     r"model cannot answer", "{m}：试生成因 SIGILL（非法指令）退出：llama-cpp-python 编译时用了"
     "这台 CPU 不支持的指令，本地模型无法回答"),
    (r"(?P<m>.+): the test generation was killed by (?P<s>\S+)(?: (?P<x>\(out of "
     r"memory\?\)))?", "{m}：试生成被 {s} 终止{x}"),
    (r"\(out of memory\?\)", "（内存不够？）"),
    (r"close other programs or use a smaller model; if it persists: (?P<fix>.+)",
     "关掉别的程序或换更小的模型；仍然不行的话：{fix}"),
    (r"(?P<m>.+): the test generation failed \((?P<e>.+)\)", "{m}：试生成失败（{e}）"),
    (r"check the model file, or use a preset", "检查模型文件，或用预设模型"),
    (r"(?P<m>.+\S) generates", "{m} 能生成"),
    (r"tiktoken's file (?P<f>.+) is damaged \(wrong sha256\); tiktoken would delete it and "
     r"try to download it again", "tiktoken 的文件 {f} 已损坏（sha256 不对）；tiktoken 会删掉它"
     "再尝试下载"),
    (r"delete it, then `assistant pull` \(or copy a good one to (?P<f>.+)\)",
     "删掉它，再运行 assistant pull（或把一个完好的复制到 {f}）"),
    (r"cl100k_base is in (?P<a>.+) but tiktoken looks in (?P<b>.+); chunk sizes are counted "
     r"with the embedder's tokenizer instead",
     "cl100k_base 在 {a}，但 tiktoken 找的是 {b}；分段改用向量模型的分词器计数"),
    (r"tiktoken's cl100k_base file is missing; chunk sizes are counted with the embedder's "
     r"tokenizer instead", "缺少 tiktoken 的 cl100k_base 文件；分段改用向量模型的分词器计数"),
    (r"assistant pull  \(fetches it into models/tiktoken\), or set TIKTOKEN_CACHE_DIR to a "
     r"folder that holds it", "assistant pull（下载到 models/tiktoken），或把 TIKTOKEN_CACHE_DIR "
     "设为存有它的文件夹"),
    (r"delete the folder (?P<i>.+) and run `assistant index` \(a full re-index\)",
     "删掉文件夹 {i}，再运行 assistant index（完整地重建索引）"),
    (r"(?P<db>.+) cannot be opened \((?P<e>.+)\)", "{db} 打不开（{e}）"),
    (r"(?P<db>.+) is not a readable index \((?P<e>.+)\)", "{db} 不是可读的索引（{e}）"),
    (r"SQLite integrity check failed: (?P<x>.+)", "SQLite 完整性检查失败：{x}"),
    (r"the index has no manifest: its first run never finished",
     "索引没有清单：第一次索引没有完成"),
    (r"(?P<m>.+) is missing or unreadable", "{m} 不存在或读不出来"),
    (r"assistant index  \(writes it again\)", "assistant index（重新写入它）"),
    (r"(?P<m>.+) is from generation (?P<a>\S+), SQLite is at (?P<b>\d+)",
     "{m} 是第 {a} 次索引的，SQLite 已是第 {b} 次"),
    (r"the index was built with (?P<a>\S+) but the embedder now is (?P<b>\S+): searches "
     r"refuse to run", "索引是用 {a} 建的，但现在的向量模型是 {b}：检索不会运行"),
    (r"assistant index  \(re-embeds every chunk with (?P<b>\S+)\), or set the embedder back",
     "assistant index（用 {b} 重新向量化每一段），或把向量模型改回去"),
    (r"(?P<m>\d+) of (?P<n>\d+) chunks have no vector \(dense search cannot find them\)",
     "{n} 段中有 {m} 段没有向量（向量检索找不到它们）"),
    (r"assistant index  \(embeds just those chunks\)", "assistant index（只向量化这些段）"),
    (r"the full-text index has (?P<f>\d+) rows for (?P<n>\d+) chunks \((?P<x>\d+) chunks "
     r"missing from it\)", "全文索引有 {f} 行，而索引共 {n} 段（其中 {x} 段不在全文索引里）"),
    (r"assistant index  \(rebuilds the FAISS file from SQLite; nothing is re-embedded\)",
     "assistant index（从 SQLite 重建 FAISS 文件，不重新向量化）"),
    (r"faiss is not installed", "没有安装 faiss"),
    (r"run \./install\.sh \(or pip install faiss-cpu\)",
     "运行 ./install.sh（或 pip install faiss-cpu）"),
    (r"the manifest records no vector size", "清单里没有记录向量维度"),
    (r"the FAISS file \((?P<a>\S+) \+ (?P<b>\S+)\) is missing or unreadable",
     "FAISS 文件（{a} + {b}）不存在或读不出来"),
    (r"the FAISS file disagrees with SQLite \((?P<why>.+)\)",
     "FAISS 文件与 SQLite 不一致（{why}）"),
    (r"the index is up to date with (?P<c>[^;]+); left out as unreadable: (?P<x>.+)",
     "索引与 {c} 一致，是最新的；读不出来而没有收录的：{x}"),
    (r"(?P<g>[\d.]+) GB free for the index folder \((?P<p>.+)\)(?P<x>: .+)",
     "索引文件夹（{p}）所在的磁盘还有 {g} GB{x}"),
    (r"(?P<g>[\d.]+) GB free for the models folder \((?P<p>.+)\)(?P<x>: .+)?",
     "模型文件夹（{p}）所在的磁盘还有 {g} GB{x}"),
    (r": index runs will fail", "：索引会失败"),
    (r": a chat model needs 1-2 GB to download", "：下载对话模型需要 1–2 GB"),
    (r"free some disk space", "腾出一些磁盘空间"),
    (r"free some disk space, or pull with --dir on another disk",
     "腾出一些磁盘空间，或用 --dir 下载到别的磁盘"),
    (r"(?P<n>\d+) CPU threads \((?P<m>[^)]+)\); features unknown on this system",
     "{n} 个 CPU 线程（{m}）；这个系统上看不出指令集"),
    (r"(?P<n>\d+) CPU threads \((?P<m>[^)]+)\)", "{n} 个 CPU 线程（{m}）"),
    (r"(?P<f>.+): llama\.cpp runs several times slower without AVX2",
     "{f}：没有 AVX2，llama.cpp 会慢好几倍"),
    (r"none of (?P<x>[a-z0-9/]+)(?: \(no [a-z0-9, ]+\))?", "{x} 都没有"),
    (r"prefer the extractive mode or a model server on a faster machine \(--llm-url\)",
     "改用直接引用资料的模式，或用更快机器上的模型服务（--llm-url）"),
    (r"(?P<a>[\d.]+) GB of (?P<b>[\d.]+) GB memory available: even (?P<m>\S+) needs about "
     r"(?P<mb>\d+) MB", "可用内存 {a} GB（共 {b} GB）：连 {m} 也需要约 {mb} MB"),
    (r"close other programs, or use the extractive mode / --llm-url",
     "关掉别的程序，或用直接引用资料的模式 / --llm-url"),
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
    if "\n" in text or text[:1].isspace():  # a hint of several lines: each, indent kept
        return "\n".join(line[:len(line) - len(line.lstrip())] + say(line.lstrip(), lang)
                         if line.strip() else line for line in text.split("\n"))
    for pattern, zh in _PHRASES:
        m = pattern.fullmatch(text)
        if m:
            # A part a pattern may leave out (``(?P<x>...)?``) is then empty.
            return zh.format(**{k: say(v, lang) or "" for k, v in m.groupdict().items()})
    return text


def ljust(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two).

    >>> ljust("出处", 6) + "|"
    '出处  |'
    """
    import unicodedata

    cols = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - cols)


def error_text(error, lang: str | None) -> str:
    """An :class:`~assistant.errors.AssistantError`'s message and the hint under it, in
    ``lang``: the Chinese its raiser gave (``error.words``), else the sentences
    :func:`say` knows, else as raised."""
    message, hint = error.words(normalise(lang))
    message, hint = say(message, lang), say(hint, lang)
    return f"{message}\n  {hint}" if hint else message


def error_line(error, lang: str | None) -> str:
    """"Error: ..." (or "错误：...") and the hint under it, as the CLI prints a failure."""
    return t("cli_error", lang, message=error_text(error, lang))


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
