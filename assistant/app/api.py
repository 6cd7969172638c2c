"""HTTP routes: the OpenAI-compatible chat API, health, re-index, uploads, source viewer.

``POST /v1/chat/completions`` takes the last user message as the question and the
earlier user/assistant messages as the conversation. Each response carries the answer's
sources in a structured field: ``citations`` (the passages the answer cites, each
``{n, doc, title, heading, lines, text, score, url}``) at the top level of the
``chat.completion`` object, or of the final ``chat.completion.chunk`` when streaming.

    >>> from openai import OpenAI                                   # doctest: +SKIP
    >>> client = OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="-")
    >>> r = client.chat.completions.create(model="assistant",
    ...     messages=[{"role": "user", "content": "vLLM 是哪个机构开发的？"}])
    >>> r.choices[0].message.content, r.citations[0]["doc"]
    ('vLLM 是 UC Berkeley 开发的 ... [1]', 'ai-os-notes.md')

Errors are OpenAI-shaped: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.app.server import Service

log = logging.getLogger("assistant.app.api")

MODEL_ID = "assistant"
# Paths under these belong to the API: a wrong one gets an OpenAI-shaped 404/405 (the
# chat page's app, mounted at /, would answer {"detail": "Not Found"}).
API_PREFIXES = ("/v1", "/api")
_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
SEND_JSON = ('Send a JSON object with Content-Type: application/json, e.g. {"messages": '
             '[{"role": "user", "content": "What is LoRA?"}]}.')
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
}


def error_body(message: str, status: int, param: str | None = None) -> dict:
    etype = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": etype, "param": param, "code": None}}


def error_response(message: str, status: int, param: str | None = None,
                   headers: dict | None = None) -> JSONResponse:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Basic realm="assistant"'}
    return JSONResponse(error_body(message, status, param), status_code=status, headers=headers)


_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true or false"}


def validation_message(error: dict) -> tuple[str, str | None]:
    """(message, param) for one of FastAPI's validation errors, in words a client can act
    on: the body as a whole (not JSON, not an object) is no parameter."""
    loc = [x for x in error.get("loc", ()) if x != "body"]
    if error.get("type") == "json_invalid":
        # loc holds the character position of the error here, not a field
        why = (error.get("ctx") or {}).get("error") or "decode error"
        at = f" at character {loc[0]}" if loc else ""
        return f"The request body is not valid JSON ({why}{at}). {SEND_JSON}", None
    if not loc:  # the body as a whole
        body = error.get("input")
        if body is None:
            what = "The request has no body."
        elif isinstance(body, bytes):  # FastAPI reads JSON only when the header says so
            what = "The request body was not read as JSON: no Content-Type: application/json."
        else:
            kind = _JSON_KINDS.get(type(body), "a JSON value")
            what = f"The request body must be a JSON object, not {kind}."
        return f"{what} {SEND_JSON}", None
    where = ".".join(str(x) for x in loc)
    return f"Invalid request: {where}: {error.get('msg', 'bad input')}", where


# -------------------------------------------------------------------------- request types


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # [{"type": "text", "text": ...}, ...]
            return "".join(
                str(p.get("text", "")) for p in self.content if p.get("type") == "text"
            )
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)  # as OpenAI's API: same seed, same reply


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[dict]]:
    """(question, history): the last user message and the user/assistant turns before it."""
    if messages[-1].role != "user":
        raise AssistantError(
            "The last message must be the user's question (role 'user').",
            "Put the question last in 'messages'.",
        )
    question = messages[-1].text().strip()
    if not question:
        raise AssistantError("The question is empty.", "Send a question in the last message.")
    check_question(question)
    history = [
        {"role": m.role, "content": m.text()}
        for m in messages[:-1]
        if m.role in ("user", "assistant") and m.text().strip()
    ]
    return question, history


def check_question(question: str) -> None:
    """Refuse here what the assistant would refuse (e.g. only control characters), with a
    next step for an HTTP client: the assistant's own hints are command lines."""
    from assistant.answer.pipeline import clean_question

    try:
        clean_question(question)
    except AssistantError as e:
        raise AssistantError(e.message, "Send a question in words in the last message.",
                             e.status) from None


def source_url(doc: str, lines: list[int] | None = None, page: int | None = None) -> str:
    """The source viewer's link to ``doc`` at ``lines`` (a PDF opens at its page)."""
    url = "/source/" + quote(doc)
    if doc.lower().endswith(".pdf"):
        return url + (f"#page={page}" if page else "")
    if lines and not doc.lower().endswith(".docx"):
        url += f"?from={lines[0]}&to={lines[-1]}#L{lines[0]}"
    return url


def citation_json(source) -> dict:
    d = source.to_json()
    d["url"] = source_url(source.doc, source.lines, source.page)
    return d


def _request_overrides(service: Service, req: ChatRequest) -> dict:
    from assistant.generate import NO_MODEL
    from assistant.hub.presets import PRESETS

    values: dict[str, Any] = {"temperature": req.temperature, "seed": req.seed}
    # Clients send a model name; a preset or "extractive" picks that backend, anything
    # else ("assistant", "gpt-4o", ...) means the server's own choice.
    name = (req.model or "").strip().lower()
    if name in PRESETS or (name in NO_MODEL and name):
        values["model"] = name
    return service.overrides(**values)


# ------------------------------------------------------------------------------- routes


def install(app: FastAPI, service: Service) -> None:
    """Add the routes, the error handlers and the auth check to ``app``."""
    _error_handlers(app)
    if service.auth is not None:
        app.add_middleware(BasicAuthMiddleware, service=service)
    _chat_routes(app, service)
    _index_and_file_routes(app, service)
    # Last, after every API route: what they did not take under the API's prefixes.
    no_route = _no_route(app)
    for prefix in API_PREFIXES:
        for path in (prefix, prefix + "/{rest:path}"):
            app.add_api_route(path, no_route, methods=_ANY_METHOD, include_in_schema=False)


def _error_handlers(app: FastAPI) -> None:
    """Every error OpenAI-shaped, whatever raised it."""

    @app.exception_handler(AssistantError)
    async def _assistant_error(_: Request, e: AssistantError):
        return error_response(str(e), e.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, e: RequestValidationError):
        errs = e.errors()
        msg, param = validation_message(errs[0] if errs else {})
        return error_response(msg, 400, param)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, e: StarletteHTTPException):
        return error_response(str(e.detail), e.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, e: Exception):
        log.exception("unexpected error")
        return error_response(f"Internal error ({type(e).__name__}); see the server log.", 500)


def _chat_routes(app: FastAPI, service: Service) -> None:
    """/health, /v1/models and /v1/chat/completions."""

    @app.get("/health")
    def health() -> dict:
        return service.health()

    @app.get("/v1/models")
    def models() -> dict:
        return {
            "object": "list",
            "data": [{"id": MODEL_ID, "object": "model", "created": int(service.started),
                      "owned_by": "assistant", "backend": service.backend}],
        }

    @app.post("/v1/chat/completions")
    def chat_completions(req: ChatRequest):
        question, history = split_messages(req.messages)
        overrides = _request_overrides(service, req)
        cid = "chatcmpl-" + secrets.token_hex(12)
        if req.stream:
            events = service.stream(question, history, overrides)  # refusals raise here
            return StreamingResponse(
                _sse(events, cid),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        answer = service.ask(question, history, overrides)
        return {
            "id": cid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL_ID,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer.answer},
                "finish_reason": "stop",
            }],
            "usage": _usage(answer),
            **answer_fields(answer),
        }


def _index_and_file_routes(app: FastAPI, service: Service) -> None:
    """Re-index, uploads (the one upload path: ``Service.add_documents``), the source page."""

    @app.get("/api/reindex")
    def reindex_state() -> dict:
        return service.reindex.state.to_json()

    @app.post("/api/reindex", status_code=202)
    def reindex_start() -> dict:
        started = service.start_reindex()
        # False: a run was going, and one more run is queued after it. The job state
        # (as GET /api/reindex gives it) has its own "started", a timestamp.
        return {"started": started, "queued": not started,
                "reindex": service.reindex.state.to_json()}

    @app.post("/api/documents")
    async def upload(request: Request) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        from assistant.app.uploads import MAX_FILES, Upload
        from assistant.ingest.indexer import max_file_bytes

        limit = MAX_FILES * max_file_bytes()  # each file is checked by add_documents
        if int(request.headers.get("content-length") or 0) > limit:
            return error_response(f"Too much at once: upload at most {limit / 2**20:g} MB.", 413)
        async with request.form(max_files=MAX_FILES) as form:  # closes its temp files
            items = [Upload(f.filename or "", f.size or 0, f.file.read)
                     for _, f in form.multi_items() if hasattr(f, "filename")]
            result = await run_in_threadpool(service.add_documents, items)
        refused = [r.to_json() for r in result.refused]
        if not result.saved and refused:
            status = refused[0]["status"]
            return JSONResponse(
                {**error_body("; ".join(r["error"] for r in refused), status),
                 "refused": refused}, status_code=status)
        # The same shape as POST /api/reindex: "reindex" is the job's state everywhere.
        return JSONResponse({"saved": [p.name for p in result.saved], "refused": refused,
                             "started": result.started,
                             "queued": bool(result.saved) and not result.started,
                             "reindex": service.reindex.state.to_json()})

    @app.get("/source/{rel:path}")
    def source(rel: str, request: Request):
        path = service.corpus_file(rel)
        if path is None:
            return error_response(f"No document {rel!r} in the corpus.", 404)
        suffix = path.suffix.lower()
        if suffix == ".pdf":
            return FileResponse(path, media_type="application/pdf",
                                content_disposition_type="inline", filename=path.name)
        if suffix == ".docx":
            return FileResponse(path, filename=path.name)
        from assistant.app.i18n import from_accept_language

        lo = _int(request.query_params.get("from"))
        hi = _int(request.query_params.get("to")) or lo
        lang = from_accept_language(request.headers.get("accept-language"))
        return HTMLResponse(
            source_page(rel, path, lo, hi, lang),
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                     "X-Content-Type-Options": "nosniff"},
        )

def _no_route(app: FastAPI):
    """An endpoint answering 405 (with Allow) when another method has a route at the
    request's path, else 404 listing the routes there are."""

    async def no_route(request: Request) -> JSONResponse:
        path = request.url.path
        routes = [r for r in app.router.routes
                  if isinstance(r, APIRoute) and r.endpoint is not no_route]
        allowed = sorted({m for r in routes if r.path_regex.match(path) for m in r.methods})
        if allowed:
            return error_response(
                f"{request.method} is not allowed on {path}: use {' or '.join(allowed)}.",
                405, headers={"Allow": ", ".join(allowed)})
        known = ", ".join(f"{m} {r.path}" for r in routes for m in sorted(r.methods)
                          if r.path.startswith(API_PREFIXES))
        return error_response(f"No API route {request.method} {path}. The routes: {known}.",
                              404)

    return no_route


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def answer_fields(answer) -> dict:
    """The structured part of an answer that every endpoint returns beside its text."""
    return {
        "citations": [citation_json(s) for s in answer.citations],
        "sources": [citation_json(s) for s in answer.sources],
        "abstained": answer.abstained,
        "backend": answer.backend,
        "notice": answer.notice,
        "error": getattr(answer, "error", None),
        "timings": answer.timings,  # as `assistant ask --json` gives them
    }


def _usage(answer) -> dict | None:
    t = answer.timings or {}
    prompt = int(t.get("prompt_tokens") or 0)
    completion = int(t.get("completion_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _sse(events, cid: str):
    created = int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    answer = None
    try:
        for event in events:
            if event.kind == "token" and event.text:
                yield chunk({"content": event.text})
            elif event.kind == "done":
                answer = event.answer
        if answer is None:
            raise AssistantError("The assistant ended without an answer.", "Ask again.", 500)
    except Exception as e:
        # The status line has gone out already: the error travels as an event, which the
        # openai client raises as an APIError.
        if isinstance(e, AssistantError):
            message, status = str(e), e.status
        else:
            log.exception("answer failed")
            message, status = f"Internal error ({type(e).__name__}); see the server log.", 500
        yield f"data: {json.dumps(error_body(message, status), ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"
        return
    yield chunk({}, "stop", usage=_usage(answer), answer=answer.answer, **answer_fields(answer))
    yield "data: [DONE]\n\n"


# ---------------------------------------------------------------------------- source page

_PAGE_CSS = """
:root { color-scheme: light dark; --hl: #fff3b0; --muted: #667; }
@media (prefers-color-scheme: dark) { :root { --hl: #4a3f00; --muted: #99a; } }
body { margin: 0; font: 14px/1.6 ui-sans-serif, system-ui, -apple-system, "Segoe UI",
  "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC", "Source Han Sans SC",
  "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; }
header { position: sticky; top: 0; padding: .6em 1em; border-bottom: 1px solid #8884;
  background: Canvas; }
header small { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
td { vertical-align: top; padding: 0 .8em; }
td.n { text-align: right; color: var(--muted); user-select: none; width: 1%;
  white-space: nowrap; font-family: ui-monospace, monospace; }
td.t { white-space: pre-wrap; word-break: break-word; }
tr.hl td { background: var(--hl); }
tr:target td { outline: none; }
/* The cited line opens below the sticky header, with a line of context above it. */
tr { scroll-margin-top: 4.5em; }
"""


def source_page(rel: str, path: Path, lo: int | None, hi: int | None,
                lang: str = "en") -> str:
    """One corpus text file as an HTML page with numbered lines, ``lo..hi`` highlighted.

    Every character of the document is HTML-escaped: an HTML document is shown as its
    source text, never rendered.
    """
    from assistant.ingest.loaders import LoadError, decode_text

    try:
        text = decode_text(path.read_bytes())
    except (LoadError, OSError) as e:
        text = f"(cannot show this file: {e})"
    rows = []
    for i, line in enumerate(text.split("\n"), 1):
        cls = ' class="hl"' if lo is not None and hi is not None and lo <= i <= hi else ""
        rows.append(f'<tr id="L{i}"{cls}><td class="n">{i}</td>'
                    f'<td class="t">{html.escape(line)}</td></tr>')
    from assistant.app.i18n import t

    where = ""
    if lo:
        where = " · " + (t("line", lang, lo=lo) if lo == hi else t("lines", lang, lo=lo, hi=hi))
    title = html.escape(rel)
    return (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{title}</title>"
        f"<style>{_PAGE_CSS}</style></head><body>"
        f"<header><b>{title}</b> <small>{html.escape(where)}</small></header>"
        f"<table>{''.join(rows)}</table></body></html>"
    )


# ------------------------------------------------------------------------------- auth


class BasicAuthMiddleware:
    """Every route needs USER:PASS: HTTP Basic (browsers ask for it) or a Bearer token.

    The OpenAI client sends its ``api_key`` as a Bearer token, so ``api_key="USER:PASS"``
    works there.
    """

    def __init__(self, app, service: Service):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        header = None
        for k, v in scope.get("headers") or []:
            if k == b"authorization":
                header = v.decode("latin-1")
                break
        if self.service.authorized(header):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return None
        response = error_response("Authentication required: USER:PASS as HTTP Basic auth "
                                  "or as a Bearer token.", 401)
        return await response(scope, receive, send)
