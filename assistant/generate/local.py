"""A local GGUF model through llama-cpp-python.

The model is loaded once; one llama.cpp context is not thread-safe, so a lock lets one
answer generate at a time (the web UI queues the rest). The chat template is the one in
the GGUF's metadata, and the same template is used to count the prompt's tokens exactly,
so a prompt that does not fit is refused before the model starts reading it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.hub.presets import PRESETS, Preset

DEFAULT_CONTEXT = 4096
# One answer at a time; a second waits this long (seconds) before giving up. An answer
# abandoned by its reader releases the lock when its generator is closed.
BUSY_TIMEOUT = 600.0


class LlamaCppGenerator:
    """Chat with a ``.gguf`` file on this machine.

    ``n_ctx`` is the context to allocate: the caller's prompt budget plus the answer,
    clamped to what the model was trained with (None: ``DEFAULT_CONTEXT``; a model's full
    trained context, 32k for Qwen2.5, would cost a laptop gigabytes of KV cache).
    ``threads`` defaults to the machine's physical cores, which is what llama.cpp runs
    fastest with on a CPU. ``chat_template`` is used only when the GGUF carries none.
    """

    def __init__(
        self,
        path: str | Path,
        n_ctx: int | None = None,
        threads: int | None = None,
        *,
        label: str | None = None,
        chat_template: str | None = None,
        vocab_only: bool = False,
    ):
        self.path = Path(path).expanduser()
        self._vocab_only = vocab_only
        preset = _preset_for(self.path)
        self._label = label or (preset.label if preset else self.path.name)
        self.threads = threads or physical_cores()
        self._lock = threading.Lock()
        n_ctx = n_ctx or DEFAULT_CONTEXT
        llm = self._load(n_ctx)
        trained = llm._model.n_ctx_train()
        if 0 < trained < n_ctx:
            # Beyond the trained context a model degrades silently: reload at its limit
            # (cheap: the file is memory-mapped and already in the page cache).
            llm.close()
            llm = self._load(trained)
        self._llm = llm
        self._formatter = self._chat_formatter(
            chat_template or (preset.chat_template if preset else None)
        )
        self._extra_stop = list(preset.stop) if preset else []
        if self._formatter is not None:
            self._llm.chat_handler = self._formatter.to_chat_handler()

    @property
    def name(self) -> str:
        return f"llama.cpp · {self._label}"

    @property
    def context_length(self) -> int:
        return self._llm.n_ctx()  # what llama.cpp allocated (rounded up to 256)

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` in this model's own tokenizer."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(
        self,
        messages: list[dict],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield the reply piece by piece; refuse up front if the prompt cannot fit."""
        rendered, prompt = self._render(messages)
        tokens = None if prompt is None else self._tokens(prompt)
        used = self._prompt_length(rendered, prompt) if tokens is None else len(tokens)
        self._check_fits(used, max_tokens)
        # Without a template (llama-cpp-python's fallback format) nothing is reused.
        start = 0 if tokens is None else self._fixed_prefix(messages, prompt, tokens)
        return self._generate(rendered, max_tokens, temperature, stop, seed,
                              tokens=tokens, start=start)

    def check_fits(self, messages: list[dict], max_tokens: int) -> None:
        """Raise the overflow error :meth:`stream` would, without generating."""
        self._check_fits(self.prompt_tokens(messages), max_tokens)

    def _check_fits(self, used: int, max_tokens: int) -> None:
        if used + max_tokens > self.context_length:
            raise _overflow(used, max_tokens, self.context_length)

    def prompt_tokens(self, messages: list[dict]) -> int:
        """Tokens of ``messages`` once the chat template is applied (as :meth:`stream`
        sends them: a system message folded in where the template has none)."""
        return self._prompt_length(*self._render(messages))

    def _prompt_length(self, messages: list[dict], prompt: str | None) -> int:
        if prompt is None:  # llama-cpp-python's fallback format: estimate
            return sum(self.count_tokens(m.get("content") or "") + 8 for m in messages) + 8
        return len(self._tokens(prompt))

    def _tokens(self, prompt: str) -> list[int]:
        # As llama-cpp-python's chat handler tokenizes a Jinja template's prompt.
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def _fixed_prefix(self, messages: list[dict], prompt: str, tokens: list[int]) -> int:
        """How many leading tokens of ``tokens`` are the system message's (with the
        template's opening): the one part of a prompt read from llama.cpp's cache.

        Everything after it is read anew on every call, from the same position and so in
        the same batches. Reading a prompt's tail in another split (the whole prompt
        cached but its last token, when a question is asked twice) changes the logits in
        their last digits, and at a temperature above 0 that is enough to change a word:
        measured, the same seed gave a different first answer than its four repeats."""
        system = messages[0].get("content") if messages and messages[0].get("role") \
            == "system" else None
        end = prompt.find(system) + len(system) if system else -1
        if end <= 0:
            return 0
        # A token may join across the boundary: the prefix ends before it.
        return min(_common(self._tokens(prompt[:end]), tokens), len(tokens) - 1)

    def _generate(
        self, messages: list[dict], max_tokens: int, temperature: float,
        stop: list[str] | None, seed: int | None = None, *,
        tokens: list[int] | None = None, start: int = 0,
    ) -> Iterator[str]:
        if not self._lock.acquire(timeout=BUSY_TIMEOUT):
            raise AssistantError(
                "the local model is still busy with another answer",
                hint="wait for it to finish and ask again",
                status=503,
            )
        try:
            self._cache_only(tokens or [], start)
            chunks = self._llm.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                stop=[*(stop or []), *self._extra_stop],
                # None: llama-cpp-python draws this answer's seed from the last one's
                seed=seed,
                stream=True,
            )
            for chunk in chunks:
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece
        except ValueError as e:  # llama-cpp-python's "exceed context window" and kin
            raise AssistantError(
                f"the local model could not answer: {e}",
                hint="lower context_tokens or max_answer_tokens and ask again",
            ) from e
        finally:
            # Also reached when the reader stops early (the generator is closed).
            self._lock.release()

    def _cache_only(self, tokens: list[int], start: int) -> None:
        """Leave in llama.cpp's cache the first ``start`` tokens of this prompt and no
        more, read on their own as they always are, so that llama-cpp-python's prefix
        match reuses exactly those and reads the rest from ``start``."""
        llm = self._llm
        # Another system message is cached, or none yet: read this one on its own.
        if _common(llm.input_ids[: llm.n_tokens].tolist(), tokens[:start]) < start:
            llm.reset()
            if start:
                llm.eval(tokens[:start])
        llm.n_tokens = start  # the rest of the cache is dropped by generate()

    def _load(self, n_ctx: int) -> Any:
        if not self.path.is_file():
            raise AssistantError(f"model file {self.path} {_diagnose(self.path)}", _fix(self.path))
        try:
            import llama_cpp
        except ImportError as e:
            raise AssistantError(
                "llama-cpp-python is not installed, so local models cannot run",
                hint="pip install 'llama-cpp-python>=0.3', or set llm_url, or model=extractive",
            ) from e
        # A vocabulary-only load still makes a context, and llama.cpp warns on stderr that
        # it is longer than the (absent) trained one, whatever ``verbose`` says.
        from llama_cpp._utils import suppress_stdout_stderr

        try:
            with suppress_stdout_stderr(disable=not self._vocab_only):
                return self._llama(llama_cpp, n_ctx)
        except (ValueError, RuntimeError, OSError) as e:
            raise AssistantError(
                f"could not load the model file {self.path}: it {_diagnose(self.path)}",
                hint=_fix(self.path),
            ) from e

    def _llama(self, llama_cpp: Any, n_ctx: int) -> Any:
        return llama_cpp.Llama(
            model_path=str(self.path),
            n_ctx=n_ctx,
            n_threads=self.threads,
            n_threads_batch=self.threads,
            # Tokenizer and chat template only (ModelProcess's parent side): no weights
            # are read and no kernel runs.
            vocab_only=self._vocab_only,
            verbose=False,  # llama.cpp's load chatter would bury our own messages
        )

    def _chat_formatter(self, fallback_template: str | None) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = self._llm
        template = llm.metadata.get("tokenizer.chat_template") or fallback_template
        if not template:
            from assistant import notices

            notices.announce(
                f"no-chat-template:{self.path.name}",
                f"{self.path.name} has no chat template; using llama-cpp-python's default "
                "(Llama-2 style) prompt format, which may not suit this model.",
            )
            return None

        def text(token: int) -> str:
            return llm._model.token_get_text(token) if token != -1 else ""

        eos, bos = llm.token_eos(), llm.token_bos()
        return Jinja2ChatFormatter(
            template=template, eos_token=text(eos), bos_token=text(bos), stop_token_ids=[eos]
        )

    def _render(self, messages: list[dict]) -> tuple[list[dict], str | None]:
        """(the messages as sent, the prompt text the chat template makes of them; None
        without a template). A system message is folded into the first user turn for a
        template without one: Gemma's raises "System role not supported", and the
        instructions still matter, so they go first in the user's message instead."""
        if self._formatter is None:
            return messages, None
        try:
            return messages, self._formatter(messages=messages).prompt
        except Exception as e:  # the template's raise_exception(), or a Jinja error
            if not messages or messages[0].get("role") != "system" \
                    or "system" not in str(e).lower():
                raise AssistantError(f"the model's chat template failed: {e}") from e
        system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
        first_user = next((m for m in rest if m.get("role") == "user"), None)
        if first_user is None:
            rest = [{"role": "user", "content": system}, *rest]
        else:
            first_user["content"] = f"{system}\n\n{first_user.get('content') or ''}"
        return rest, self._formatter(messages=rest).prompt


def _common(a: list[int], b: list[int]) -> int:
    """The length of the longest common prefix of ``a`` and ``b``."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads slow llama.cpp down)."""
    available = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ) or 1
    cores: set[tuple[str, str]] = set()
    physical = core = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "physical id":
                    physical = value
                elif key == "core id":
                    core = value
                    cores.add((physical, core))
    except OSError:
        pass
    return max(1, min(len(cores) or available, available))


def _overflow(used: int, answer: int, context: int) -> AssistantError:
    need = f"question + sources are {used} tokens"
    if used < context:
        need += f", plus up to {answer} for the answer,"
    return AssistantError(
        f"{need} but the model's context is {context}",
        hint="lower context_tokens (or max_answer_tokens), or ask a shorter question",
        status=413,
    )


def _diagnose(path: Path) -> str:
    """In plain words, what is wrong with a model file that did not load."""
    problem = file_problem(path)
    if problem is not None:
        return problem
    from gguf import GGUFReader

    arch = GGUFReader(str(path)).fields["general.architecture"].contents()
    return f"uses the '{arch}' architecture, which this llama-cpp-python cannot load"


def file_problem(path: Path) -> str | None:
    """What makes ``path`` unloadable as a GGUF file (missing, empty, not GGUF, cut short),
    or None. Reads the header and tensor table only: fast even for a 2 GB model."""
    path = Path(path)
    if not path.exists():
        return "does not exist"
    if path.is_dir():
        return "is a folder, not a .gguf file"
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if size == 0:
        return "is empty (0 bytes)"
    if magic != b"GGUF":
        return "is not a GGUF file (it does not start with the GGUF signature)"
    try:
        from gguf import GGUFReader

        GGUFReader(str(path)).fields["general.architecture"].contents()
    except Exception:
        return f"is incomplete or damaged ({size / 1e6:.1f} MB; an interrupted download?)"
    return None


def check_model_file(path: Path) -> None:
    """Raise the error loading ``path`` would give, when its file is plainly unusable."""
    problem = file_problem(path)
    if problem is not None:
        raise AssistantError(f"could not load the model file {path}: it {problem}", _fix(path))


def _fix(path: Path) -> str:
    preset = _preset_for(path)
    if preset is not None:
        return f"download it again with `assistant pull --model {preset.name}`"
    return f"check the path, or use a preset model: `assistant pull --model {next(iter(PRESETS))}`"


def _preset_for(path: Path) -> Preset | None:
    return next((p for p in PRESETS.values() if p.filename == path.name), None)
