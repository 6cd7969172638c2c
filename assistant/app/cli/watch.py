"""``assistant index --watch``: index now, then follow the corpus until Ctrl-C, a line per
run in the locale's language. The watching itself is :class:`assistant.ingest.watch.
CorpusWatcher`; this is only what the terminal shows of it."""

from __future__ import annotations

import sys
import time

from assistant.app.i18n import error_text, from_locale, say, t
from assistant.errors import AssistantError
from assistant.ingest.indexer import run_index
from assistant.ingest.watch import CorpusWatcher
from assistant.settings import Settings

CHANGES = ("added", "changed", "removed", "renamed")


def describe(report, lang: str = "en", verb: str = "re-indexed") -> str:
    """One line for a run: what changed and how long it took (``verb``: "indexed" for the
    first run, "re-indexed" for the ones a change started)."""
    s = report.summary()
    parts = [t(f"wt_{k}", lang, n=s[k]) for k in CHANGES if s[k]]
    if s["skipped"]:
        parts.append(t("wt_skipped", lang, n=len(s["skipped"])))
    what = t("wt_sep", lang).join(parts) or t("wt_no_change", lang)
    key = "wt_indexed" if verb == "indexed" else "wt_reindexed"
    return t(key, lang, time=time.strftime("%H:%M:%S"), what=what, chunks=s["chunks"],
             embedded=s["chunks_embedded"], sec=s["seconds"])


def error_printer(lang: str):
    """The watcher's ``on_error``: a failed run in ``lang``, and the watching goes on."""

    def show(e: BaseException) -> None:
        message = error_text(e, lang) if isinstance(e, AssistantError) else say(str(e), lang)
        print(t("wt_error", lang, message=message), file=sys.stderr, flush=True)

    return show


def _idle() -> None:
    """The main thread's wait between runs (Ctrl-C ends it)."""
    time.sleep(3600)


def run_watch_cli(settings: Settings, lang: str | None = None) -> int:
    """Index now, then follow the corpus until Ctrl-C, printing a line per re-index."""
    lang = lang or from_locale()
    known: set[tuple[str, str]] = set()

    def show(r, verb: str = "re-indexed") -> None:
        print(describe(r, lang, verb), flush=True)
        for s in r.skipped:  # each reason once, not again on every run
            if (s["path"], s["reason"]) not in known:
                known.add((s["path"], s["reason"]))
                print("  " + t("cli_skipped", lang, path=s["path"],
                               reason=say(s["reason"], lang)), file=sys.stderr, flush=True)

    # Watch first, then index: a file saved during the first run is not missed (it
    # triggers one more run; the index lock keeps the two apart).
    watcher = CorpusWatcher(settings, show, on_error=error_printer(lang)).start()
    try:
        show(run_index(settings), "indexed")
        print(t("wt_watching", lang, corpus=settings.corpus), file=sys.stderr, flush=True)
        while True:
            _idle()
    except KeyboardInterrupt:
        print(t("wt_stopped", lang), file=sys.stderr)
    finally:
        watcher.stop()
    return 0
