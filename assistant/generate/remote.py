"""Any OpenAI-compatible chat server: llama.cpp's server, vLLM, Ollama, ...

Plain HTTP with httpx (no ``openai`` package at run time): POST ``/v1/chat/completions``
with ``stream: true`` and read the server-sent events. The server's tokenizer is
unknown, so tokens are counted with tiktoken's cl100k_base as an estimate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import httpx

from assistant.errors import AssistantError

DEFAULT_TIMEOUT = 120.0  # seconds between bytes: a CPU server can think for a while
CONNECT_TIMEOUT = 5.0


class OpenAIHTTPGenerator:
    """Chat through an OpenAI-compatible server at ``base_url``.

    ``base_url`` may end in ``/v1`` or not. ``model`` None takes the first model the
    server lists (asked on first use, so constructing this never touches the network).
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        context_length: int = 4096,
    ):
        root = base_url.strip().rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        self.base_url = root
        self._model = model
        self._context_length = context_length
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT), headers=headers
        )

    def close(self) -> None:
        """Close the kept-alive connections to the server (a dropped generator otherwise
        leaves its sockets to the garbage collector)."""
        self._client.close()

    def __enter__(self) -> OpenAIHTTPGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        return f"{self.base_url} · {self._model or 'first model on the server'}"

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def model(self) -> str:
        """The model asked for: as configured, else the first one the server lists."""
        if self._model is None:
            data = self._request("GET", "/v1/models").json().get("data") or []
            if not data:
                raise AssistantError(
                    f"the model server at {self.base_url} lists no models",
                    hint="load a model into the server, or set llm_model",
                    status=502,
                )
            self._model = str(data[0]["id"])
        return self._model

    def count_tokens(self, text: str) -> int:
        """An estimate: cl100k_base tokens (the server's own tokenizer is unknown)."""
        encoding = _cl100k()
        return len(encoding.encode(text, disallowed_special=())) if encoding else len(text) // 2

    def stream(
        self,
        messages: list[dict],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield the reply piece by piece as the server streams it."""
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if stop:
            payload["stop"] = stop
        if seed is not None:  # OpenAI's, llama.cpp's and vLLM's servers all take it
            payload["seed"] = seed
        return self._stream(payload)

    def _stream(self, payload: dict[str, Any]) -> Iterator[str]:
        url = f"{self.base_url}/v1/chat/completions"
        finished = False
        try:
            with self._client.stream("POST", url, json=payload) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _http_error(url, response)
                for line in response.iter_lines():
                    piece, finished = _sse_event(line, url)
                    if piece:
                        yield piece
                    if finished:
                        break
        except httpx.HTTPError as e:
            raise _unreachable(url, e) from e
        if not finished:
            # llama.cpp's server, for one, answers 200 and then closes the stream when the
            # prompt does not fit its context: an empty answer must not pass for a real one.
            raise AssistantError(
                f"the model server at {url} stopped before finishing the answer",
                hint="check the server's log; if the prompt is longer than the server's "
                "context, lower context_tokens",
                status=502,
            )

    def _request(self, method: str, path: str) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            response = self._client.request(method, url)
        except httpx.HTTPError as e:
            raise _unreachable(url, e) from e
        if response.status_code >= 400:
            raise _http_error(url, response)
        return response


def _sse_event(line: str, url: str) -> tuple[str, bool]:
    """The text in one server-sent-events line, and whether the answer is complete."""
    if not line.startswith("data:"):
        return "", False  # blank separators, comments (": ping"), "event:" lines
    data = line[len("data:") :].strip()
    if data == "[DONE]":
        return "", True
    try:
        event = json.loads(data)
    except ValueError:
        return "", False
    if "error" in event:
        error = event["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise AssistantError(f"the model server at {url} failed: {message}", status=502)
    choice = (event.get("choices") or [{}])[0]
    text = (choice.get("delta") or {}).get("content") or ""
    return text, bool(choice.get("finish_reason"))


def _http_error(url: str, response: httpx.Response) -> AssistantError:
    try:
        detail = response.json().get("error", response.text)
        if isinstance(detail, dict):
            detail = detail.get("message", detail)
    except ValueError:
        detail = response.text
    hint = {
        401: "check llm_api_key (ASSISTANT_LLM_API_KEY)",
        403: "check llm_api_key (ASSISTANT_LLM_API_KEY)",
        404: "check llm_url (it should be the server's base URL) and llm_model",
    }.get(response.status_code, "check the server's log")
    return AssistantError(
        f"the model server at {url} answered HTTP {response.status_code}: {str(detail)[:300]}",
        hint=hint,
        status=502,
    )


def _unreachable(url: str, error: Exception) -> AssistantError:
    if isinstance(error, httpx.TimeoutException):
        return AssistantError(
            f"the model server at {url} did not answer in time ({type(error).__name__})",
            hint="the server may be overloaded or the model too slow for this machine; "
            "try a smaller model or fewer context_tokens",
            status=504,
        )
    return AssistantError(
        f"could not reach the model server at {url} ({type(error).__name__}: {error})",
        hint="check that the server is running and its URL is right (--llm-url, Server URL "
        "in the web page's settings, llm_url in assistant.toml or ASSISTANT_LLM_URL), or "
        "leave the URL empty to use the local model",
        status=502,
    )


@lru_cache(maxsize=1)
def _cl100k() -> Any:
    from assistant.text.counting import announce_no_cl100k, cl100k

    encoding, reason = cl100k()  # never downloads: that is `assistant pull`'s job
    if encoding is not None:
        return encoding
    announce_no_cl100k(reason, "tokens for the model server are estimated as characters / 2")
    return None
