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
        from assistant.app.cli.watch import run_watch_cli

        return run_watch_cli(settings, from_locale())
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
        return run_answer_eval(settings, args.questions, json_out=args.json,
                               lang=from_locale())
    return run_eval(settings, args.questions, json_out=args.json, mode=args.mode, k=args.k,
                    lang=from_locale())


def build_parser(lang: str | None = None) -> argparse.ArgumentParser:
    """The command line, its help in ``lang`` (by default the locale's language)."""
    lang = lang or from_locale()

    def h(key: str) -> str:
        return t(f"h:{key}", lang)

    def common(p: argparse.ArgumentParser) -> None:
        common_flags(p, lang)

    parser = argparse.ArgumentParser(prog="assistant", description=h("assistant"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title=t("hp:commands", lang)
                                if lang == "zh" else None)

    p = sub.add_parser("index", help=h("index"))
    common(p)
    p.add_argument("--json", action="store_true", help=h("index:json"))
    p.add_argument("--watch", action="store_true", help=h("index:watch"))
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help=h("search"))
    common(p)
    p.add_argument("question", help=h("search:question"))
    p.add_argument("-k", type=int, default=5, help=h("search:k"))
    p.add_argument("--mode", choices=("hybrid", "lexical", "dense"), default="hybrid",
                   help=h("mode"))
    p.add_argument("--json", action="store_true", help=h("search:json"))
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("eval", help=h("eval"))
    common(p)
    p.add_argument("questions", type=Path, help=h("eval:questions"))
    p.add_argument("-k", type=int, default=10, help=h("eval:k"))
    p.add_argument("--mode", choices=("hybrid", "lexical", "dense"), default="hybrid",
                   help=h("mode"))
    p.add_argument("--answers", action="store_true", help=h("eval:answers"))
    setting_flag(p, "model", help=h("eval:with_answers"), lang=lang)
    setting_flag(p, "llm_url", "--llm-url", help=h("eval:with_answers"), lang=lang)
    p.add_argument("--json", action="store_true", help=h("eval:json"))
    p.set_defaults(func=cmd_eval)

    for register in (ask.register, serve.register, models.register):
        register(sub, common, lang)
    # "assistant X --help" opens with what the command list says of X, unless X has more
    # to say (pull).
    for action in sub._choices_actions:
        command = sub.choices[action.dest]
        if command.description is None and action.help:
            command.description = (action.help + "。" if lang == "zh" else
                                   action.help[0].upper() + action.help[1:] + ".")
    if lang == "zh":
        for p in (parser, *sub.choices.values()):
            _chrome_in_chinese(p)
    return parser


class _ChineseHelp(argparse.HelpFormatter):
    """argparse's "usage: " in Chinese (its other words are set on the parser)."""

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, t("hp:usage", "zh") if prefix is None
                          else prefix)


def _chrome_in_chinese(p: argparse.ArgumentParser) -> None:
    """argparse's own words in ``p``'s help in Chinese: the usage line, the section titles
    and -h's help. (Its error messages stay English.)"""
    p.formatter_class = _ChineseHelp
    p._positionals.title = t("hp:positionals", "zh")
    p._optionals.title = t("hp:options", "zh")
    for action in p._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = t("hp:help", "zh")


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
