"""``assistant ask``: one question, answered in the terminal with its sources.

The answer streams to stdout; while the model reads the prompt (many seconds on a CPU)
a spinner turns on stderr, only when stderr is a terminal. ``--json`` prints exactly one
JSON object, :meth:`assistant.answer.pipeline.Answer.to_json` (with ``error`` set and exit code 1
when answering failed), or ``{"error", "hint"}`` when the question is refused before any
answer (see :func:`assistant.app.cli.main`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading

from assistant.app.cli.common import ensure_index, model_flags, setting_flag, settings_from_args
from assistant.app.i18n import from_locale, say, t
from assistant.errors import AssistantError

PASSAGE_CHARS = 240  # of each source shown under the answer


def register(sub, common, lang: str = "en") -> None:
    p = sub.add_parser("ask", help=t("h:ask", lang))
    common(p)
    p.add_argument("question", help=t("h:ask:question", lang))
    model_flags(p, lang=lang)
    setting_flag(p, "top_k", "-k", lang=lang)
    p.add_argument("--json", action="store_true", help=t("h:ask:json", lang))
    p.set_defaults(func=cmd_ask)


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant import notices
    from assistant.answer.pipeline import Assistant, clean_question

    if args.question == "-":  # a question too long for the command line, or piped
        try:
            args.question = sys.stdin.read()
        except UnicodeDecodeError as e:
            raise AssistantError(
                f"The question on standard input is not text in this terminal's encoding "
                f"({sys.stdin.encoding}: {e.reason}).",
                "Convert it to UTF-8 first, e.g. iconv -f GBK -t UTF-8",
                zh=(f"标准输入里的问题不是这个终端编码的文字（{sys.stdin.encoding}：{e.reason}）。",
                    "先转成 UTF-8，例如 iconv -f GBK -t UTF-8")) from None
    clean_question(args.question)  # bad input fails before any model or index work
    if args.top_k is not None and args.top_k < 1:
        raise AssistantError("-k must be at least 1.", zh=("-k 至少是 1。", None))
    settings = settings_from_args(args)
    check_model_path(args.model, settings)
    if args.json:
        notices.quiet = True  # stdout holds only the JSON; stderr stays quiet too
    ensure_index(settings)
    assistant = Assistant(settings)
    if args.json:
        answer = assistant.ask(args.question)
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 1 if answer.error else 0
    return _stream_to_terminal(assistant, args.question)


def check_model_path(model: str | None, settings) -> None:
    """A model file named on the command line must exist: falling back to extractive
    answers is right for a preset not yet pulled, not for a mistyped path."""
    from assistant.generate import names_a_file
    from assistant.hub.files import find_model_file

    if not model or not names_a_file(model):
        return
    if find_model_file(model, settings.models_dir) is None:
        raise AssistantError(
            f"the model file {model} does not exist",
            hint="check the path, or use a preset: `assistant pull --model qwen2.5-1.5b-instruct`",
            zh=(f"模型文件 {model} 不存在",
                "检查路径，或用预设模型：assistant pull --model qwen2.5-1.5b-instruct"),
        )


def _stream_to_terminal(assistant, question: str) -> int:
    out = sys.stdout
    lang = from_locale()  # the labels; the answer and its notes follow the question
    spinner = _Spinner(t("status:searching", lang)) if sys.stderr.isatty() else None
    answer = None
    printed = False
    streamed: list[str] = []
    try:
        for event in assistant.stream(question):
            if event.kind == "status" and spinner:
                spinner.label = t(f"status:{event.text}", lang)
            elif event.kind == "token":
                if spinner:
                    spinner.stop()
                    spinner = None
                out.write(event.text)
                out.flush()
                streamed.append(event.text)
                printed = True
            elif event.kind == "done":
                answer = event.answer
    finally:
        if spinner:
            spinner.stop()
    assert answer is not None
    if answer.error:
        if printed:
            out.write("\n")
        said = say(answer.error, lang)  # "message\n  hint": line by line
        print(t("cli_error", lang, message=said), file=sys.stderr)
        return 1
    if printed and answer.answer.strip() != "".join(streamed).strip():
        # What streamed is the model's own text; its citations were decided after it
        # (attribution.py), or quotes replaced it: the answer as it stands follows.
        out.write(f"\n\n{t('cli_with_citations', lang)}\n{answer.answer}\n")
    else:
        out.write("\n" if printed else answer.answer + "\n")
    if answer.notice:
        print(f"\n{answer.notice}")
    if answer.sources:
        label = t("cli_nearest" if answer.abstained else "cli_sources", lang)
        print(f"\n{label}")
        for s in answer.sources:
            print(_source_line(s, lang))
    return 0


def doc_at(doc: str, start: int, end: int, page: int | None = None, lang: str = "en") -> str:
    """"notes.md:14-15", "notes.md:172" for one line, "+ (page 3)" in a PDF."""
    where = f"{doc}:{start}" if start == end else f"{doc}:{start}-{end}"
    return where + (t("cli_page", lang, page=page) if page else "")


def _source_line(s, lang: str = "en") -> str:
    where = doc_at(s.doc, s.lines[0], s.lines[1], s.page, lang)
    head = " > ".join(x for x in (s.title, s.heading) if x)
    text = " ".join(s.text.split())
    if len(text) > PASSAGE_CHARS:
        text = text[:PASSAGE_CHARS] + " ..."
    return f"[{s.n}] {where}  {head}\n    {text}"


class _Spinner:
    """A line on stderr that turns until :meth:`stop`, saying what is being waited for."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, label: str):
        self.label = label
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for frame in itertools.cycle(self.FRAMES):
            if self._stop.wait(0.1):
                break
            sys.stderr.write(f"\r{frame} {self.label} ...\033[K")
            sys.stderr.flush()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
