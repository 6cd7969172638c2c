"""One chat turn on the page: the answer's events turned into screen updates, with the
wait made visible.

The assistant's events are read in a thread of their own, so the page can speak while
none arrives: while a local model reads the prompt the bubble counts down the estimate
from the model's measured reading speed ("正在阅读资料，约 8 秒"), under the quoted answer
(labelled as quotes, the pipeline's ``quote`` event), which the model's tokens replace as
they come. A model that dies or freezes answers by quoting the sources (the answer
pipeline does it, with a notice saying why); a stop ends the turn at the next event.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from assistant.app.i18n import t
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.app.server import Service

log = logging.getLogger(__name__)

TICK = 1.0  # seconds between two updates of the wait while no event arrives
STREAM_EVERY = 0.04  # seconds between two screen updates while tokens arrive
_END = object()


def events(service: Service, question: str, history: list[dict], overrides: dict,
           stop: threading.Event) -> Iterator[Any]:
    """``service.stream``'s events, read in a thread; None every ``TICK`` seconds while
    none arrives. Refusals (``AssistantError``) raise here, before any event."""
    stream = service.stream(question, history, overrides, quote_first=True)
    inbox: queue.Queue = queue.Queue()

    def pump() -> None:
        try:
            for ev in stream:
                inbox.put(ev)
                if stop.is_set():
                    break
        except BaseException as e:  # handed to the page's thread
            inbox.put(e)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # a local model stops generating (worker.ModelProcess._cancel)
            inbox.put(_END)

    threading.Thread(target=pump, name="answer", daemon=True).start()
    try:
        while True:
            try:
                item = inbox.get(timeout=TICK)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class Wait:
    """The words of the wait in the bubble: what is being done, and while a local model
    reads, the seconds it should still take."""

    def __init__(self, service: Service, lang: str):
        self.service, self.lang = service, lang
        self.started: float | None = None
        self.seconds: float | None = None

    def reading(self, sources: list[dict]) -> None:
        self.started = time.monotonic()
        try:
            self.seconds = self.service.models.read_seconds([s["text"] for s in sources])
        except Exception:  # an estimate is a nicety
            self.seconds = None

    def text(self, status: str) -> str:
        if status != "reading the sources" or self.started is None:
            return t(f"status:{status}", self.lang)
        if self.seconds is None:
            return t("status:reading the sources", self.lang)
        left = self.seconds - (time.monotonic() - self.started)
        if left < 1:
            return t("reading_late", self.lang)
        return t("reading_eta", self.lang, s=max(1, round(left)))


def new_turn(state: list[dict], q: str) -> dict:
    tid = (state[-1]["id"] + 1) if state else 1
    return {"id": tid, "q": q, "answer": "", "sources": [], "cited": [],
            "state": "pending", "status": "searching"}


def run_turn(service: Service, turn: dict, history: list[dict], overrides: dict,
             lang: str, stop: threading.Event) -> Iterator[str]:
    """Fill ``turn`` from the answer's events; yields what changed: "status", "sources",
    "quote", "token" (at most every ``STREAM_EVERY`` s) and "done"."""
    wait = Wait(service, lang)
    last = 0.0
    try:
        for ev in events(service, turn["q"], history, overrides, stop):
            if ev is None or ev.kind == "status":
                if ev is not None:
                    turn["status"] = ev.text
                    if ev.text == "reading the sources":
                        wait.reading(turn["sources"])
                if not turn["answer"]:
                    turn["status_text"] = wait.text(turn["status"])
                    yield "status"
            elif ev.kind == "sources":
                turn["sources"] = [s.to_json() for s in ev.sources or []]
                yield "sources"
            elif ev.kind == "quote":
                turn["quote"] = ev.text  # shown until the first token
                yield "quote"
            elif ev.kind == "token":
                turn["answer"] += ev.text
                now = time.monotonic()
                if now - last >= STREAM_EVERY:
                    last = now
                    yield "token"
            elif ev.kind == "done" and ev.answer is not None:
                _finish(turn, ev.answer)
        if turn["state"] != "done":
            turn.update(state="error", error=t("no_answer", lang))
    except AssistantError as e:
        turn.update(state="error", error=str(e))
    except Exception as e:  # one failed answer must not take the page down
        log.exception("answer failed")
        turn.update(state="error", error=t("failed", lang, kind=type(e).__name__))
    turn.pop("status_text", None)
    turn.pop("quote", None)
    yield "done"


def _finish(turn: dict, a: Any) -> None:
    turn.update(
        answer=a.answer,
        cited=[s.n for s in a.citations],
        sources=[s.to_json() for s in a.sources] or turn["sources"],
        notice=a.notice,
        abstained=a.abstained,
        # Quotes standing in for a model that failed or declined: the notice says why.
        degraded=bool(a.notice) and a.backend == "extractive" and not a.abstained,
        state="done",
    )
