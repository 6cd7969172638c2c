"""The ``assistant`` command. Thin: parse flags, call the module that does the work,
turn :class:`AssistantError` into ``Error: ...`` and exit code 1 (with ``--json``, into
one JSON object on stdout, ``{"error": ..., "hint": ...}``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant import notices
from assistant.app.cli import ask, models, serve
from assistant.app.cli.common import (
    common_flags,
    ensure_index,
    json_error,
    setting_flag,
    settings_from_args,
)
from assistant.app.i18n import error_line, from_locale, say, t
from assistant.errors import AssistantError


def cmd_index(args) -> int:
    from assistant.ingest.indexer import run_index

    settings = settings_from_args(args)
    if args.watch:
        from assistant.ingest.watch import run_watch_cli

        return run_watch_cli(settings)
    report = run_index(settings)
    if args.json:
        print(json.dumps(report.summary(), ensure_ascii=False))
        return 0
    lang = from_locale()
    for s in report.skipped:
        print(t("cli_skipped", lang, path=s["path"], reason=say(s["reason"], lang)),
              file=sys.stderr)
    s = report.summary()
    print(t("cli_indexed", lang, corpus=settings.corpus, added=s["added"],
            changed=s["changed"], removed=s["removed"], renamed=s["renamed"],
            unchanged=s["unchanged"], skipped=len(s["skipped"]),
            embedded=s["chunks_embedded"], chunks=s["chunks"], seconds=s["seconds"]))
    return 0


def cmd_search(args) -> int:
    from assistant.retrieve.search import Searcher

    settings = settings_from_args(args)
    ensure_index(settings)
    searcher = Searcher(settings)
    hits = searcher.search(args.question, k=args.k, mode=args.mode)
    if args.json:
        print(json.dumps({"query": args.question, "hits": [h.to_json() for h in hits]},
                         ensure_ascii=False))
        return 0
    lang = from_locale()
    if not hits:
        print(t("cli_no_match", lang))
    elif args.mode != "lexical" and not searcher.lexical(args.question, 1):
        # Scores rank the passages against each other: the nearest by meaning scores
        # high even when nothing is near. Say that no passage holds these words.
        print(t("cli_nearest_meaning", lang) + "\n")
    for n, h in enumerate(hits, 1):
        where = ask.doc_at(h.doc, h.line_start, h.line_end, h.page, lang)
        head = " > ".join(x for x in (h.title, h.heading) if x)
        print(f"[{n}] {where}  {t('cli_score', lang, score=h.score)}\n    {head}")
        body = h.text if len(h.text) <= 400 else h.text[:400] + " ..."
        print("    " + body.replace("\n", "\n    ") + "\n")
    return 0


def cmd_eval(args) -> int:
    from assistant.app.evaluate import run_answer_eval, run_eval

    settings = settings_from_args(args)
    if args.answers:
        ask.check_model_path(args.model, settings)  # a mistyped path is an error, not extractive
        return run_answer_eval(settings, args.questions, json_out=args.json)
    return run_eval(settings, args.questions, json_out=args.json, mode=args.mode, k=args.k)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Ask your documents: cited answers over a local folder, offline.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", help="index the corpus (only what changed)")
    common_flags(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--watch", action="store_true",
                   help="keep running: re-index when files change")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="find the passages that answer a question")
    common_flags(p)
    p.add_argument("question", help="what to look for, in any words (quote it)")
    p.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    p.add_argument("--mode", choices=("hybrid", "lexical", "dense"), default="hybrid")
    p.add_argument("--json", action="store_true", help="print the passages as one JSON object")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("eval", help="score retrieval (or, with --answers, whole answers) "
                       "on a question file (JSONL)")
    common_flags(p)
    p.add_argument("questions", type=Path)
    p.add_argument("-k", type=int, default=10, help="passages per question (default 10)")
    p.add_argument("--mode", choices=("hybrid", "lexical", "dense"), default="hybrid")
    p.add_argument("--answers", action="store_true",
                   help="answer each question as `assistant ask` does and score the answers: "
                   "gold strings, citations, abstaining, invented numbers, speed")
    setting_flag(p, "model", help="with --answers")
    setting_flag(p, "llm_url", "--llm-url", help="with --answers")
    p.add_argument("--json", action="store_true",
                   help="one line per question with its ranked passages (with --answers: "
                   "one JSON object, the figures and every answer)")
    p.set_defaults(func=cmd_eval)

    for register in (ask.register, serve.register, models.register):
        register(sub, common_flags)
    # "assistant X --help" opens with what the command list says of X, unless X has more
    # to say (pull).
    for action in sub._choices_actions:
        command = sub.choices[action.dest]
        if command.description is None and action.help:
            command.description = action.help[0].upper() + action.help[1:] + "."
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    notices.quiet = False
    try:
        return args.func(args) or 0
    except AssistantError as e:
        if not json_error(args, e.message, e.hint):  # JSON keeps the English, as raised
            print(error_line(e, from_locale()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if not json_error(args, "Interrupted."):
            print(t("cli_interrupted", from_locale()), file=sys.stderr)
        return 130
