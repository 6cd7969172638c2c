"""A local GGUF model in a child process, so a crash in native code costs one answer.

llama.cpp is C++: an instruction the CPU does not run (SIGILL), a segfault in a kernel or
the kernel's OOM killer ends whatever process it runs in. Run in the server's process,
that is the web chat, the API and every other conversation gone without a word. As Ollama
and LM Studio do, the model runs in a worker process instead, and this class (the same
:class:`~assistant.generate.Generator` interface as the in-process model) supervises it:

- the worker loads :class:`~assistant.generate.local.LlamaCppGenerator` and streams the
  pieces of one answer at a time over a pipe; the parent keeps only the model's
  vocabulary (``vocab_only``: no weights, no kernels) to count tokens and apply the chat
  template, so packing a prompt never waits for another answer's generation;
- a worker that dies mid-answer raises :class:`ModelCrashed` for that answer (the answer
  pipeline then quotes the sources) and is started again once in the background; a
  second death with no answer in between leaves it stopped (:class:`ModelUnavailable`),
  shown in ``/health`` and the status line, until the server restarts;
- a worker that is alive but silent is caught two ways: a thread in the worker beats
  (bumps a shared counter) every ``BEAT_EVERY`` s, also while llama.cpp computes (ctypes
  releases the GIL), so a frozen worker (stopped, or a native call that holds the GIL)
  misses its beats and is killed after ``BEAT_TIMEOUT`` s; a worker that beats but sends
  no piece is killed once its first piece is ``STUCK_FACTOR`` times later than its
  measured reading speed predicts. Either is then handled as a crash;
- questions queue for the one worker, as they do for an in-process model.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError, ModelUnavailable
from assistant.generate.local import BUSY_TIMEOUT, LlamaCppGenerator

log = logging.getLogger(__name__)

LOAD_TIMEOUT = 300.0  # seconds for the worker to load the model (a slow disk, a big file)
# Seconds without a piece from a live worker before it is taken as hung and killed. The
# first piece waits for the whole prompt to be read: 600 tokens took 120 s on a 2-core
# machine shared with three other models (a 120 s limit killed healthy workers there).
FIRST_PIECE_TIMEOUT = 900.0
STALL_TIMEOUT = 300.0
ALIVE_EVERY = 0.5  # seconds between two checks that the worker still runs, while waiting
# Once a reading speed is measured, a first piece later than STUCK_FACTOR times the
# expected reading time (never under FIRST_PIECE_FLOOR s) means a stuck worker: the
# speed is measured on this machine under its present load, so a busy machine waits
# longer, and a hang is not waited out for the full FIRST_PIECE_TIMEOUT.
STUCK_FACTOR = 6.0
FIRST_PIECE_FLOOR = 120.0
# The worker's heartbeat: a beat every BEAT_EVERY s; none for BEAT_TIMEOUT s means it is
# frozen (SIGSTOP, a deadlock in native code holding the GIL, a machine swapping hard).
# The beat thread sleeps between beats, so only a frozen process misses 20 in a row: a
# model computing on every core still beats (its kernels run without the GIL).
BEAT_EVERY = 0.25
BEAT_TIMEOUT = 5.0


class ModelCrashed(ModelUnavailable):
    """The model's worker process died while it answered."""


def _beat(counter: Any) -> None:
    """The worker's heartbeat thread: bump ``counter`` every ``BEAT_EVERY`` seconds."""
    while True:
        counter.value += 1
        time.sleep(BEAT_EVERY)


def _inject(fault: str) -> None:
    """Tests only: how a worker fails at its ``fault_after``-th piece."""
    if fault == "sigill":  # a CPU that lacks an instruction of the build
        os.kill(os.getpid(), signal.SIGILL)
    elif fault == "hang":  # alive and beating, but no piece ever comes
        while True:
            time.sleep(60)
    elif fault == "gil":  # frozen in native code that holds the GIL: no beat either
        import ctypes

        ctypes.PyDLL(None).sleep(3600)  # PyDLL keeps the GIL through the call


def _worker_main(conn: Any, spec: dict, fault_after: int | None = None,
                 beat: Any = None, fault: str = "sigill") -> None:
    """The child: load the model, then answer one request at a time until told to stop.
    ``beat`` is the shared counter its heartbeat thread bumps. ``fault_after`` (tests
    only) makes it fail after that many pieces as ``fault`` says (:func:`_inject`)."""
    from assistant import notices

    if beat is not None:
        threading.Thread(target=_beat, args=(beat,), name="heartbeat", daemon=True).start()
    notices.quiet = True  # the parent, which loaded the vocabulary, has said it all once
    try:
        gen = LlamaCppGenerator(**spec)
    except AssistantError as e:
        conn.send(("error", e.message, e.hint, e.status))
        return
    except Exception as e:  # anything else loading: reported, not a traceback on stderr
        conn.send(("error", f"{type(e).__name__}: {e}", None, 500))
        return
    conn.send(("ready", gen.name, gen.context_length))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the parent went away
            return
        if request[0] == "close":
            return
        if request[0] != "stream":
            continue  # a stale "cancel" for an answer that had finished already
        _, messages, kwargs = request
        try:
            pieces = gen.stream(messages, **kwargs)
            for sent, piece in enumerate(pieces):
                if fault_after is not None and sent >= fault_after:
                    _inject(fault)
                if conn.poll() and conn.recv()[0] == "cancel":
                    pieces.close()  # releases the model's lock
                    break
                conn.send(("piece", piece))
            conn.send(("end",))
        except AssistantError as e:
            conn.send(("error", e.message, e.hint, e.status))
        except Exception as e:
            conn.send(("error", f"{type(e).__name__}: {e}", None, 500))


class ModelProcess:
    """Chat with a ``.gguf`` file through a supervised worker process.

    Takes :class:`LlamaCppGenerator`'s arguments. Construction starts the worker and
    waits until the model is loaded, so a file that cannot load fails here, as it would
    in process.
    """

    def __init__(self, path: str | Path, n_ctx: int | None = None,
                 threads: int | None = None, *, label: str | None = None,
                 chat_template: str | None = None, _fault_after: int | None = None,
                 _fault: str = "sigill"):
        self.path = Path(path).expanduser()
        self._fault_after, self._fault = _fault_after, _fault
        self._spec = {"path": str(self.path), "n_ctx": n_ctx, "threads": threads,
                      "label": label, "chat_template": chat_template}
        # The vocabulary alone, here: token counts and the chat template without weights.
        self._vocab = LlamaCppGenerator(self.path, n_ctx, threads, label=label,
                                        chat_template=chat_template, vocab_only=True)
        self._lock = threading.Lock()  # one answer at a time, as with one llama.cpp context
        self._state_lock = threading.Lock()
        self._proc: Any = None
        self._conn: Any = None
        self._name = self._vocab.name
        self._context = self._vocab.context_length
        self.crashes = 0
        self.last_error: str | None = None
        self._last_zh: str | None = None  # last_error in Chinese, when known
        self._restarted_since_answer = False
        self._state = "starting"
        self._beat: Any = None  # the worker's heartbeat counter (shared memory)
        self._beat_seen = (0, 0.0)  # (its value, when it last changed)
        self._stuck: tuple[str, str] | None = None  # why the supervisor killed it (en, zh)
        self._restarting: threading.Thread | None = None
        # Prompt tokens read per second, measured on each answer (the web page's wait
        # estimate): the prompt's tokens over the time to its first piece.
        self.read_speed: float | None = None
        self._start()

    # -- the Generator interface ----------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def context_length(self) -> int:
        return self._context

    def count_tokens(self, text: str) -> int:
        return self._vocab.count_tokens(text)

    def prompt_tokens(self, messages: list[dict]) -> int:
        return self._vocab.prompt_tokens(messages)

    def stream(self, messages: list[dict], *, max_tokens: int, temperature: float,
               stop: list[str] | None = None, seed: int | None = None) -> Iterator[str]:
        """Yield the reply piece by piece. Refuses up front (as the in-process model does)
        a prompt that cannot fit, and raises :class:`ModelUnavailable` when the worker is
        stopped for good."""
        used = self._vocab.prompt_tokens(messages)
        self._vocab._check_fits(used, max_tokens)
        if self._state == "failed":
            raise self._unavailable()
        kwargs = {"max_tokens": max_tokens, "temperature": temperature, "stop": stop,
                  "seed": seed}
        return self._generate(messages, kwargs, used)

    # -- supervision ------------------------------------------------------------------------
    @property
    def state(self) -> dict:
        """For ``/health`` and the status line: ``state`` is starting, ready, restarting or
        failed; ``crashes`` counts worker deaths since the server started."""
        return {"state": self._state, "crashes": self.crashes, "error": self.last_error,
                "pid": self._proc.pid if self._proc is not None else None}

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def close(self) -> None:
        """Stop the worker (also at interpreter exit: it is a daemon process), after a
        restart under way has finished, so the restarted worker is not left running."""
        restart = self._restarting
        if restart is not None:
            restart.join(LOAD_TIMEOUT)
        with self._state_lock:
            conn, proc = self._conn, self._proc
            self._conn = self._proc = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("close",))
            conn.close()
        if proc is not None:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)

    def _start(self) -> None:
        """Start a worker and wait for its model to load; raise what loading raised."""
        ctx = mp.get_context("spawn")  # a fork of a threaded server is not safe
        parent, child = ctx.Pipe()
        beat = ctx.RawValue("Q", 0)
        proc = ctx.Process(target=_worker_main,
                           args=(child, self._spec, self._fault_after, beat, self._fault),
                           name="assistant-model", daemon=True)
        proc.start()
        child.close()
        if not parent.poll(LOAD_TIMEOUT):
            proc.kill()
            raise self._fail("the local model did not load in time "
                             f"({LOAD_TIMEOUT:.0f} s)", "check the machine's memory and disk")
        try:
            message = parent.recv()
        except (EOFError, OSError):
            proc.join(timeout=5)
            raise self._fail(f"the local model process stopped while loading "
                             f"({_exit_reason(proc.exitcode)})", _crash_hint(proc.exitcode)) \
                from None
        if message[0] == "error":
            proc.join(timeout=5)
            self._state = "failed"
            self.last_error = message[1]
            raise AssistantError(message[1], hint=message[2], status=message[3])
        with self._state_lock:
            self._proc, self._conn = proc, parent
            self._beat, self._beat_seen, self._stuck = beat, (beat.value, time.monotonic()), None
            self._name, self._context = message[1], message[2]  # as the worker loaded it
            self._state = "ready"

    def _fail(self, message: str, hint: str) -> ModelUnavailable:
        self._state = "failed"
        self.last_error, self._last_zh = message, None
        return ModelUnavailable(message, hint=hint, status=503)

    def _unavailable(self) -> ModelUnavailable:
        return ModelUnavailable(
            f"the local model is stopped: {self.last_error}",
            hint="restart `assistant serve`; `assistant doctor` checks the model",
            status=503,
            zh=(f"本地模型已停止：{self._last_zh or self.last_error}",
                "重启 assistant serve；assistant doctor 会检查模型"),
        )

    def _generate(self, messages: list[dict], kwargs: dict, used: int = 0) -> Iterator[str]:
        if not self._lock.acquire(timeout=BUSY_TIMEOUT):
            raise AssistantError("the local model is still busy with another answer",
                                 hint="wait for it to finish and ask again", status=503,
                                 zh=("本地模型还在回答另一个问题", "等它答完再问"))
        finished = False
        conn = None
        try:
            if self._state != "ready":  # a restart in the background: wait for it
                self._wait_ready()
            conn = self._conn
            conn.send(("stream", messages, kwargs))
            sent, first = time.monotonic(), True
            wait = self.first_piece_limit(used)
            while True:
                if not self._poll(conn, wait):
                    self._kill(f"the local model sent nothing for {wait:.0f} s",
                               f"本地模型 {wait:.0f} 秒没有输出")  # hung: a crash below
                wait = STALL_TIMEOUT
                message = conn.recv()
                if message[0] == "piece":
                    if first:
                        first = False
                        self._measured(used, time.monotonic() - sent)
                    yield message[1]
                elif message[0] == "end":
                    finished = True
                    self._restarted_since_answer = False
                    return
                else:
                    finished = True  # the worker is fine; the request was refused
                    raise AssistantError(message[1], hint=message[2], status=message[3])
        except (EOFError, OSError, BrokenPipeError):
            finished = True
            raise self._crashed() from None
        finally:
            if not finished and conn is not None:
                # The reader stopped early: tell the worker to stop generating, and
                # drain what it sent meanwhile so the next answer starts clean.
                self._cancel(conn)
            self._lock.release()

    def _poll(self, conn: Any, timeout: float) -> bool:
        """``conn.poll(timeout)``, in slices that check the worker is alive: a worker
        killed outright is noticed within ``ALIVE_EVERY`` seconds, whatever its pipe
        does (True then: the read that follows fails, as for a crash)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if conn.poll(min(ALIVE_EVERY, left)):
                return True
            proc = self._proc
            if proc is None or not proc.is_alive():
                conn.close()
                return True
            silent = self.silent_for()
            if silent > BEAT_TIMEOUT:  # frozen: its heartbeat stopped
                self._kill(f"the local model stopped responding (no heartbeat for "
                           f"{silent:.0f} s)", f"本地模型 {silent:.0f} 秒没有响应")
                proc.join(timeout=5)
                conn.close()
                return True

    def silent_for(self) -> float:
        """Seconds since the worker's heartbeat last moved (as seen by these checks)."""
        beat = self._beat
        if beat is None:
            return 0.0
        value, since = self._beat_seen
        now = time.monotonic()
        if beat.value != value:
            self._beat_seen = (beat.value, now)
            return 0.0
        return now - since

    def _kill(self, why: str, why_zh: str) -> None:
        """Kill a worker taken as stuck; the read that follows fails, as for a crash,
        whose message then says ``why``."""
        log.warning("%s: stopping it", why)
        self._stuck = (why, why_zh)
        proc = self._proc
        if proc is not None:
            proc.kill()  # SIGKILL ends a stopped (SIGSTOP) process too

    def first_piece_limit(self, tokens: int) -> float:
        """Seconds to wait for the first piece of a prompt of ``tokens`` tokens before
        the worker is taken as stuck (and killed: the answer then quotes the sources)."""
        if not self.read_speed or tokens <= 0:
            return FIRST_PIECE_TIMEOUT
        expected = tokens / self.read_speed
        return min(FIRST_PIECE_TIMEOUT, max(FIRST_PIECE_FLOOR, STUCK_FACTOR * expected))

    def _measured(self, tokens: int, seconds: float) -> None:
        if tokens > 0 and seconds > 0:
            speed = tokens / seconds
            # Smoothed: one answer read on a busy machine should not halve the estimate.
            self.read_speed = speed if self.read_speed is None else \
                0.5 * self.read_speed + 0.5 * speed

    def _cancel(self, conn: Any) -> None:
        try:
            conn.send(("cancel",))
            while self._poll(conn, STALL_TIMEOUT):
                if conn.recv()[0] in ("end", "error"):
                    return
        except (EOFError, OSError):  # it died, or froze, while stopping: as a crash
            self._crashed()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + LOAD_TIMEOUT
        while self._state in ("restarting", "starting") and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._state != "ready":
            raise self._unavailable()

    def _crashed(self) -> ModelCrashed:
        proc = self._proc
        if proc is not None:
            proc.join(timeout=5)
        code = proc.exitcode if proc is not None else None
        self.crashes += 1
        if self._stuck is not None:  # killed by the supervisor: say why, not "SIGKILL"
            (self.last_error, zh), self._stuck = self._stuck, None
            hint = "it is started again; `assistant doctor` checks the model"
            zh_hint = "它会自动重启；assistant doctor 会检查模型"
        else:
            self.last_error = f"the local model process stopped ({_exit_reason(code)})"
            zh = f"本地模型进程停止了（{_exit_reason(code, 'zh')}）"
            hint, zh_hint = _crash_hint(code), _crash_hint(code, "zh")
        log.warning("%s; %s", self.last_error,
                    "not restarting it again" if self._restarted_since_answer else "restarting")
        if self._restarted_since_answer:  # died again before answering anything
            self._state = "failed"
        else:
            self._restarted_since_answer = True
            self._state = "restarting"
            self._restarting = threading.Thread(target=self._restart, name="model-restart",
                                                daemon=True)
            self._restarting.start()
        self._last_zh = zh
        return ModelCrashed(self.last_error, hint=hint, status=503, zh=(zh, zh_hint))

    def _restart(self) -> None:
        try:
            self._start()
            log.warning("the local model process is running again (pid %s)", self.pid)
        except AssistantError as e:
            self._state = "failed"
            self.last_error = e.message
            log.warning("restarting the local model failed: %s", e.message)


def _exit_reason(code: int | None, lang: str = "en") -> str:
    zh = lang == "zh"
    if code is None:
        return "没有退出码" if zh else "no exit code"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"被 {name} 信号终止" if zh else f"killed by {name}"
    return f"退出码 {code}" if zh else f"exit code {code}"


def _crash_hint(code: int | None, lang: str = "en") -> str:
    zh = lang == "zh"
    if code == -signal.SIGILL:
        if zh:
            return ("llama-cpp-python 的编译用到了这台 CPU 不支持的指令：./install.sh 会为"
                    "这台 CPU 重新编译（assistant doctor 会检查编译）")
        return ("llama-cpp-python was built for instructions this CPU does not run: "
                "./install.sh rebuilds it for this CPU (`assistant doctor` checks the build)")
    if code == -signal.SIGKILL:
        if zh:
            return "它被终止了（内存不足，或被手动终止）：换小一点的模型或减少 context_tokens"
        return ("it was killed (out of memory, or by hand): a smaller model or fewer "
                "context_tokens needs less memory")
    if zh:
        return "assistant doctor 会检查模型；详情见服务器日志"
    return "`assistant doctor` checks the model; the server log has the details"
