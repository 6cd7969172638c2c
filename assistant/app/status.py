"""What the status line says: one calm line of what is in use, and what is missing or
degraded, each with its details and the command that fixes it.

Built from a :class:`~assistant.app.server.Service` in the reader's language
(:mod:`assistant.app.i18n`); the web page draws it (``web/status_line.py``), and
``/health`` carries the same facts as data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from assistant.app.i18n import t

RECENT_JOB_S = 120  # a finished re-index is mentioned this long


@dataclass
class Item:
    kind: str  # model, index, job, notice
    level: str  # ok, busy, warn
    text: str  # a few words, in the reader's language
    detail: str = ""  # a sentence or two, behind a click
    fix: str = ""  # the command that fixes it
    progress: float | None = None  # 0..1 for a bar; -1: going, no measure

    @property
    def calm(self) -> bool:
        return self.level == "ok"


def items(service: Any, lang: str, fresh: bool = False) -> list[Item]:
    """The status line's items: the model, the index, a re-index job, then notices."""
    out = [model_item(service, lang), index_item(service, lang, fresh)]
    job = job_item(service, lang)
    if job is not None:
        out.append(job)
    out += notice_items(service, lang)
    return out


def model_item(service: Any, lang: str) -> Item:
    models, settings = service.models, service.settings
    fetch = models.fetch
    preset = settings.model
    if fetch is not None and fetch.state.state == "fetching":
        st = fetch.state
        return Item("model", "busy", t("st_fetching", lang, name=st.name, done=st.done / 1e6,
                                       total=(st.total or 0) / 1e6),
                    progress=st.fraction if st.fraction is not None else -1)
    if models.loading:
        return Item("model", "busy", t("st_loading", lang), progress=-1)
    if models.load_error is not None:
        return Item("model", "warn", t("st_load_failed", lang),
                    t("st_model_why", lang, why=models.load_error), "assistant doctor")
    state = models.model_state
    if state and state["state"] in ("restarting", "failed"):
        key = "st_restarting" if state["state"] == "restarting" else "st_stopped"
        return Item("model", "warn", t(key, lang), t("st_model_why", lang, why=state["error"]),
                    "assistant doctor")
    if (fetch is not None and fetch.state.state == "failed") or _missing(service):
        offline = fetch is None or fetch.state.offline
        detail = t("n:llm-missing:detail", lang, model=preset, models_dir=settings.models_dir)
        if offline:
            from assistant.hub.presets import get_preset

            file = getattr(get_preset(preset), "filename", preset)
            detail += " " + t("n:llm-offline:detail", lang, file=file,
                              models_dir=settings.models_dir)
        elif fetch is not None:
            detail = t("st_fetch_failed", lang, name=fetch.state.name, why=fetch.state.error)
        return Item("model", "warn", t("n:llm-missing", lang), detail,
                    f"assistant pull --model {preset}")
    backend = models.backend
    return Item("model", "ok", t("extractive_choice", lang) if backend == "extractive"
                else backend)


def _missing(service: Any) -> bool:
    return any(key == "llm-missing" for key, _ in service.notice_items())


def index_item(service: Any, lang: str, fresh: bool = False) -> Item:
    st = service.index_status(fresh=fresh)
    docs = t("st_docs", lang, d=st.documents, c=st.chunks)
    if st.current:
        return Item("index", "ok", f"{docs} · {t('st_current', lang)}")
    n = st.pending
    changed = t("st_changed1", lang) if n == 1 else t("st_changed", lang, n=n)
    names = [*st.added, *st.changed, *st.removed][:8]
    return Item("index", "warn", f"{docs} · {changed}", "\n".join(names), "assistant index")


def job_item(service: Any, lang: str) -> Item | None:
    job = service.reindex.state
    if job.running:
        if job.total:
            return Item("job", "busy", t("st_reindexing", lang, stage=job.stage, done=job.done,
                                         total=job.total), progress=job.done / job.total)
        return Item("job", "busy", t("st_reindexing0", lang), progress=-1)
    if service.indexing:
        return Item("job", "busy", t("st_reindexing0", lang), progress=-1)
    if job.runs and job.finished and time.time() - job.finished < RECENT_JOB_S:
        if job.error:
            return Item("job", "warn", t("st_reindex_failed", lang, why=job.error))
        s = job.summary or {}
        if s:
            return Item("job", "ok", t("st_reindexed", lang, a=s["added"], c=s["changed"],
                                       r=s["removed"], s=len(s["skipped"]),
                                       e=s["chunks_embedded"], sec=s["seconds"]))
    return None


_FIXES = {
    "embedder": lambda s: f"assistant pull --embedder {s.embedder}",
    "tiktoken": lambda s: "assistant pull",
    "onnx": lambda s: "pip install onnx onnxruntime",
}


def notice_items(service: Any, lang: str) -> list[Item]:
    """A short phrase per notice in force; its words (and the fix) behind a click."""
    out = []
    for key, message in service.notice_items():
        if key == "llm-missing":
            continue  # the model item says it
        name = key.split(":")[0]
        short = t(f"n:{name}", lang)
        if short == f"n:{name}":  # no phrase for it: the message itself
            short, detail = message, ""
        else:
            detail = t(f"n:{name}:detail", lang, embedder=service.settings.embedder)
            if detail == f"n:{name}:detail":
                detail = message
        fix = _FIXES[name](service.settings) if name in _FIXES else ""
        out.append(Item("notice", "warn", short, detail, fix))
    return out
