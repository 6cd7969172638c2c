"""One chat turn: condense the follow-up, search, pack, prompt, stream, cite.

Used by the CLI (``assistant ask``), the web chat and the HTTP API alike.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.answer.abstain import QUESTION_WORD, relevance
from assistant.answer.attribution import attribute
from assistant.answer.backing import with_backing
from assistant.answer.citations import parse_citations
from assistant.answer.extractive import extractive_answer
from assistant.answer.prompt import (
    answer_messages,
    condense_messages,
    count_messages,
    declined,
    mark_best,
    pack,
)
from assistant.answer.verbatim import restore
from assistant.embed.base import profile
from assistant.errors import AssistantError, ModelUnavailable
from assistant.generate import Generator, loop_start, resolve_generator
from assistant.retrieve import definitions
from assistant.text.counting import cl100k_counter
from assistant.text.language import language
from assistant.text.tokens import EN_FILLER, QUERY_STOPWORDS, query_tokens


@dataclass
class Source:
    n: int  # 1-based number as shown in the prompt and the answer ([n])
    doc: str
    title: str
    heading: str
    lines: list[int]  # [start, end]
    text: str
    score: float = 0.0
    page: int | None = None

    def to_json(self) -> dict:
        d = asdict(self)
        if d["page"] is None:
            del d["page"]
        return d


@dataclass
class Answer:
    question: str  # as asked
    standalone: str  # after condensing the follow-up with the history
    answer: str  # with valid [n] markers only
    citations: list[Source] = field(default_factory=list)  # the sources the answer cites
    sources: list[Source] = field(default_factory=list)  # all passages given to the model
    abstained: bool = False
    backend: str = "extractive"
    notice: str | None = None  # e.g. "no valid citation", "extractive: no model on disk"
    timings: dict = field(default_factory=dict)
    # retrieve_ms, prompt_tokens, first_token_ms, completion_tokens, total_ms, tokens_per_s
    error: str | None = None  # set when the turn failed; ``answer`` then explains it
    relevance: float | None = None  # the abstain signal (assistant/answer/abstain.py), if searched

    def to_json(self) -> dict:
        return {
            "answer": self.answer,
            "citations": [s.to_json() for s in self.citations],
            "sources": [s.to_json() for s in self.sources],
            "abstained": self.abstained,
            "backend": self.backend,
            "notice": self.notice,
            "timings": self.timings,
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class Event:
    """What a streaming turn yields, in this order:
    ``status`` (e.g. "searching", "reading the sources"), ``sources`` (once, after
    retrieval, ``sources`` set), ``quote`` (only when asked for with ``quote_first`` and
    a model is to answer: ``text`` is the quoted answer to show while the model reads;
    its tokens replace it), ``token`` (many, ``text`` is the new piece), ``done`` (once,
    ``answer`` set; its ``answer.answer`` is the final cleaned text)."""

    kind: str
    text: str = ""
    sources: list[Source] | None = None
    answer: Answer | None = None



# ----------------------------------------------------------------------------- one turn

MAX_QUESTION_CHARS = 2000
NO_CITATION_NOTICE = {
    "zh": "回答没有引用任何资料；相关的段落如下：",
    "en": "The answer cites no source; related passages:",
}
# Said beside an answer quoted because the configured model is not on disk (the fix, with
# the command, is in the status line's notice: notices.py).
QUOTING_NOTICE = {
    "zh": "没有可用的语言模型：回答直接引用资料中的句子。",
    "en": "No language model on disk: the answer quotes the sources.",
}
ABSTAIN_TEXT = {
    # No "below": the page shows the passages beside the answer, the CLI under it.
    "zh": "资料中没有找到能回答这个问题的内容；最接近的几段资料已列出，供参考。",
    "en": "The documents do not cover this question; the nearest passages are listed for "
          "reference.",
}
# Beside an answer quoted because the local model failed (the worker restarts by itself).
MODEL_DOWN_NOTICE = {
    "zh": "本地模型这次没能回答，回答直接引用资料中的句子。原因：{why}",
    "en": "The local model could not answer, so this answer quotes the sources. Why: {why}",
}
# Beside the quotes that replace a model's "the sources do not answer this" on a question
# the relevance check found the sources relevant to.
DECLINED_NOTICE = {
    "zh": "模型认为资料不能回答这个问题；下面直接引用资料中最相关的句子。",
    "en": "The model found no answer in the sources; here are their most relevant sentences.",
}
# Beside an answer that names numbers no source holds (attribution.unsupported_claims).
UNSUPPORTED_NOTICE = {
    "zh": "回答中的这些数字或名称在资料里找不到，请核对：",
    "en": "Numbers or names no source holds, check them: ",
}
# The extractive answer's first sentence is emphasised (**...**) in the model's sources
# (prompt.mark_best): where the model answered, the quote held a gold string more often
# than its own words did (CMRC 61 against 52 of 67, SQuAD 73 against 69 of 85), and the
# model, pointed at that sentence, keeps its words ("1525年5月15日" for "5月15日", the
# source's "波扎那" for the model's own "博茨瓦纳"). Each question asked both ways at
# temperature 0: gold CMRC 79 -> 82, SQuAD 78 -> 82 of 100, dev and paraphrases the same,
# requests 11 -> 10 of 12; 2 more prompt tokens (BENCHMARKS.md, session 14).
MARK_BEST = True
CONDENSE_MAX_TOKENS = 64
# Quotes cost no model time, so extractive answers choose from at least the passages they
# were calibrated with: at 500 tokens instead of 700 CMRC's gold answers fell from 88.0%
# to 86.7% (bench/answers.py, same run).
EXTRACTIVE_BUDGET = 700

_RESOLVE: Any = object()  # "resolve the generator from settings"
log = logging.getLogger(__name__)

# Control and invisible formatting characters (and lone surrogates, which cannot even be
# encoded); line breaks and tabs become spaces.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_ANAPHORA_ZH = re.compile(r"它们|它|这个|那个|这些|那些|这种|那种|该")
_ANAPHORA_EN = re.compile(r"\b(?:it|its|this|that|these|those|they|them|their)\b", re.IGNORECASE)
_FOLLOW_UP = re.compile(r"^(?:还有|那么?|另外|and\b|also\b|what about\b|how about\b)", re.I)
_SUBJECT_ZH = re.compile(
    r"^\s*(.{1,30}?)\s*(?:是|有|的|在|能|可以|会|怎么|如何|为什么|为何|什么|哪|多少|几|支持|用|由|和)"
)
_LATIN_TERM = re.compile(r"[A-Za-z0-9][\w.+#-]*")
_STOP_EN = frozenset(w for w in QUERY_STOPWORDS if w.isascii()) | EN_FILLER
_ANAPHORA_WORDS = frozenset(
    {"it", "its", "this", "that", "these", "those", "they", "them", "their"}
)


def clean_question(question: Any) -> tuple[str, list[str]]:
    """The question without control characters, cut to ``MAX_QUESTION_CHARS``.

    Returns (text, notices); raises :class:`AssistantError` when nothing is left to ask.

    >>> clean_question("  vLLM\\x00 是什么？\\n")
    ('vLLM 是什么？', [])
    """
    if not isinstance(question, str):
        raise AssistantError("Ask a question: the question must be text.",
                             zh=("请提一个问题：问题必须是文字。", None))
    notes: list[str] = []
    raw_len = len(question)
    # Cleaning a megabyte to keep 2,000 characters is wasted work: look at a margin only.
    text = question[: MAX_QUESTION_CHARS * 4]
    had_text = bool(text.strip())
    text = re.sub(r"\s+", " ", _CONTROL.sub("", text)).strip()
    if not text:
        why = "it holds only control characters" if had_text else "it is empty"
        why_zh = "问题里只有控制字符" if had_text else "问题是空的"
        example = 'e.g. assistant ask "vLLM 是哪个机构开发的？"'
        raise AssistantError(f"Ask a question: {why}.", hint=example,
                             zh=(f"请提一个问题：{why_zh}。", "例如" + example[4:]))
    if not any(c.isalnum() for c in text):
        raise AssistantError(
            "Ask a question in words: this one has no letters or digits.",
            hint='e.g. assistant ask "What is LoRA?"',
            zh=("请用文字提问：这个问题里没有字母、汉字或数字。",
                '例如 assistant ask "LoRA 是什么？"'),
        )
    if len(text) > MAX_QUESTION_CHARS or raw_len > len(question[: MAX_QUESTION_CHARS * 4]):
        cut = text[:MAX_QUESTION_CHARS]
        space = cut.rfind(" ", MAX_QUESTION_CHARS - 200)
        text = cut[:space] if space > 0 and len(text) > MAX_QUESTION_CHARS else cut
        notes.append(
            f"The question was {raw_len:,} characters long; only its first "
            f"{MAX_QUESTION_CHARS:,} were used."
        )
    return text, notes


def normalise_history(history: Any, question: str = "") -> list[dict]:
    """``{"role", "content"}`` user/assistant turns, cleaned; other entries are ignored."""
    out: list[dict] = []
    for m in history or []:
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            continue
        content = m.get("content")
        if isinstance(content, list):  # OpenAI-style parts
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            continue
        content = re.sub(r"\s+", " ", _CONTROL.sub("", content[:8000])).strip()
        if content:
            out.append({"role": m["role"], "content": content})
    # Callers may pass the conversation including the question being asked.
    if out and out[-1]["role"] == "user" and out[-1]["content"] == question:
        out.pop()
    return out


def needs_context(question: str) -> bool:
    """Whether a follow-up leans on the conversation: a pronoun, or almost no topic."""
    if _ANAPHORA_ZH.search(question) or _ANAPHORA_EN.search(question):
        return True
    if _FOLLOW_UP.search(question.strip()):
        return True
    if definitions.subject(question):  # "介绍一下 MoE", "What is LoRA?": names its topic
        return False
    return len(_content_terms(question)) <= 1


def _content_terms(text: str) -> list[str]:
    toks = [t for t in query_tokens(text) if t not in QUERY_STOPWORDS]
    toks = [t for t in toks if not QUESTION_WORD.search(t) and t not in EN_FILLER]
    # A word inside another of the question's words ("模型" beside "大模型"): keep the longest.
    return [t for t in toks if not any(t != o and t in o for o in toks)]


def subject_of(question: str) -> str:
    """What a question is about, for a follow-up to refer to: "vLLM" in "vLLM 是谁开发的？"."""
    if language(question) == "zh":
        m = _SUBJECT_ZH.match(question)
        if m:
            subject = m.group(1).strip(" ，,：:")
            if subject and not re.search(r"什么|哪|怎|谁", subject):
                return subject
        return " ".join(_content_terms(question)[:3])
    words = [
        (i, w) for i, w in enumerate(_LATIN_TERM.findall(question))
        if w.lower() not in _STOP_EN and w.lower() not in _ANAPHORA_WORDS
    ]
    # Names first: "LoRA", "Auto-Split", "GPT-2", a capitalised word inside the sentence.
    names = [w for i, w in words if any(c.isupper() or c.isdigit() for c in w[1:])
             or (i > 0 and w[0].isupper())]
    return " ".join(names[:3] or [w for _, w in words[:3]])




def condense_by_rule(question: str, history: list[dict]) -> str:
    """A follow-up made standalone without a model: the previous question's subject
    takes the place of the pronoun ("它支持量化吗？" -> "vLLM支持量化吗？"), or is added."""
    previous = next((m["content"] for m in reversed(history) if m["role"] == "user"), None)
    if not previous or not needs_context(question):
        return question
    subject = subject_of(previous)
    if not subject or subject.lower() in question.lower():
        return question
    if language(question) == "zh":
        if _ANAPHORA_ZH.search(question):
            return _ANAPHORA_ZH.sub(subject, question, count=1)
        return f"{subject} {question}"
    m = _ANAPHORA_EN.search(question)
    if m:
        owner = m.group(0).lower() in ("its", "their")
        return question[: m.start()] + subject + ("'s" if owner else "") + question[m.end() :]
    return f"{question} ({subject})"


@dataclass(frozen=True)
class _Options:
    """The settings of one turn (the assistant's, with the caller's overrides)."""

    top_k: int
    context_tokens: int
    temperature: float
    max_answer_tokens: int
    seed: int = 0
    quote_first: bool = False


def _to_source(n: int, hit: Any) -> Source:
    return Source(
        n=n,
        doc=hit.doc,
        title=hit.title,
        heading=hit.heading,
        lines=[int(hit.line_start), int(hit.line_end)],
        text=hit.text,
        score=round(float(hit.score), 4),
        page=hit.page,
    )


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


class Assistant:
    """One chat turn over an index: condense, search, abstain or pack, generate, cite.

    ``searcher`` and ``generator`` are built from ``settings`` on first use unless given;
    ``generator=None`` means extractive answers. Safe to share between threads: retrieval
    runs concurrently, and a local model serialises its own generation.

    >>> assistant = Assistant(settings)  # doctest: +SKIP
    >>> assistant.ask("vLLM 是哪个机构开发的？").citations[0].doc  # doctest: +SKIP
    'ai-os-notes.md'
    """

    def __init__(self, settings: Any, searcher: Any = None, generator: Any = _RESOLVE):
        self.settings = settings
        self._searcher = searcher
        self._generator = generator
        self._from_settings = generator is _RESOLVE  # None then means "no model found"
        self._lock = threading.Lock()

    @property
    def searcher(self) -> Any:
        if self._searcher is None:
            with self._lock:
                if self._searcher is None:
                    from assistant.retrieve.search import Searcher

                    self._searcher = Searcher(self.settings)
        return self._searcher

    @property
    def built_searcher(self) -> Any:
        """The searcher if it is built already, else None (never builds it)."""
        return self._searcher

    @property
    def generator(self) -> Generator | None:
        if self._generator is _RESOLVE:
            with self._lock:
                if self._generator is _RESOLVE:
                    self._generator = resolve_generator(self.settings)
        return self._generator

    @property
    def built_generator(self) -> Generator | None:
        """The generator if it is resolved already, else None (never loads it)."""
        return None if self._generator is _RESOLVE else self._generator

    @property
    def backend(self) -> str:
        gen = self.generator
        return gen.name if gen is not None else "extractive"

    @property
    def loaded(self) -> bool:
        """Whether the searcher and generator are built (asking now waits for no load)."""
        return self._searcher is not None and self._generator is not _RESOLVE

    def warm_model(self, lang: str = "zh") -> None:
        """Have a local model read the fixed start of every prompt now (the instructions
        and the sources' heading): llama.cpp keeps it and reuses the longest common
        prefix, so the first question pays only for its own sources and words. A model
        server keeps its own cache, and extractive answers need none."""
        gen = self.generator
        if gen is None or not hasattr(gen, "prompt_tokens"):
            return
        try:
            for _ in gen.stream(answer_messages("", [], lang), max_tokens=1, temperature=0.0):
                pass
        except Exception as e:  # a nicety: the first question will say what is wrong
            log.warning("warming the model failed: %s", e)

    # -- the public calls ---------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None) -> Answer:
        """The whole answer at once (consumes :meth:`stream`)."""
        answer = None
        for event in self.stream(question, history):
            if event.kind == "done":
                answer = event.answer
        assert answer is not None  # stream always ends with "done"
        return answer

    def stream(
        self,
        question: str,
        history: list[dict] | None = None,
        *,
        top_k: int | None = None,
        context_tokens: int | None = None,
        temperature: float | None = None,
        max_answer_tokens: int | None = None,
        seed: int | None = None,
        quote_first: bool = False,
    ) -> Iterator[Event]:
        """Events of one turn: status, sources (before any generation), tokens, done.
        ``quote_first`` (the web page): a ``quote`` event with the extractive answer
        before a model starts reading, to show while it does.

        Bad input, a missing index or a model file that cannot load raise
        :class:`AssistantError` here, before anything is yielded. Once streaming, every
        failure becomes the final answer's text and the stream still ends with ``done``.
        The keyword arguments override the settings for this turn only.
        """
        t0 = time.perf_counter()
        text, notes = clean_question(question)
        opts = _Options(
            top_k=max(1, int(top_k or self.settings.top_k)),
            context_tokens=max(1, int(context_tokens or self.settings.context_tokens)),
            temperature=float(
                self.settings.temperature if temperature is None else temperature
            ),
            max_answer_tokens=max(1, int(max_answer_tokens or self.settings.max_answer_tokens)),
            seed=int(self.settings.seed if seed is None else seed),
            quote_first=bool(quote_first),
        )
        searcher = self.searcher
        generator = self.generator
        turns = normalise_history(history, text)
        return self._turn(t0, text, notes, turns, searcher, generator, opts)

    def prompt_for(self, question: str, history: list[dict] | None = None) -> list[dict]:
        """The chat messages a model would get for ``question`` (for tests and benches)."""
        text, _ = clean_question(question)
        standalone = condense_by_rule(text, normalise_history(history, text))
        hits = self.searcher.search(standalone, k=self.settings.top_k)
        count = self.generator.count_tokens if self.generator else cl100k_counter()
        packed = pack(hits, self.settings.context_tokens, count)
        return answer_messages(standalone, packed.blocks)

    # -- the turn -------------------------------------------------------------------------
    def _turn(
        self,
        t0: float,
        text: str,
        notes: list[str],
        history: list[dict],
        searcher: Any,
        generator: Generator | None,
        opts: _Options,
    ) -> Iterator[Event]:
        lang = language(text)
        timings: dict[str, Any] = {
            "retrieve_ms": 0.0,
            "prompt_tokens": 0,
            "first_token_ms": None,
            "total_ms": 0.0,
            "tokens_per_s": None,
        }
        answer = Answer(
            question=text,
            standalone=text,
            answer="",
            backend=generator.name if generator is not None else "extractive",
            timings=timings,
        )
        pieces: list[str] = []
        try:
            yield from self._steps(
                t0, answer, lang, history, searcher, generator, opts, notes, pieces
            )
        except AssistantError as e:
            answer.error = str(e)
            answer.answer = _failure_text(e, pieces)
        except Exception as e:  # the person asking gets a sentence, the log the traceback
            log.exception("answering %r failed", text[:200])
            answer.error = f"{type(e).__name__}: {e}"
            answer.answer = _failure_text(e, pieces)
        timings["total_ms"] = _ms(t0)
        quoted = bool(answer.citations) and not answer.error
        if quoted and generator is None and self._from_settings and _model_wanted(self.settings):
            notes.insert(0, QUOTING_NOTICE[lang])
        answer.notice = "\n".join(notes) or None
        yield Event("done", answer=answer)

    def _steps(
        self,
        t0: float,
        answer: Answer,
        lang: str,
        history: list[dict],
        searcher: Any,
        generator: Generator | None,
        opts: _Options,
        notes: list[str],
        pieces: list[str],
    ) -> Iterator[Event]:
        timings = answer.timings
        if history:
            yield Event("status", text="rewriting the follow-up")
            answer.standalone = self._condense(answer.question, history, generator, lang)
        yield Event("status", text="searching")
        t = time.perf_counter()
        hits = searcher.search(answer.standalone, k=opts.top_k)
        timings["retrieve_ms"] = _ms(t)
        count = generator.count_tokens if generator is not None else cl100k_counter()
        budget = opts.context_tokens if generator is not None else max(
            opts.context_tokens, EXTRACTIVE_BUDGET)
        packed = pack(hits, budget, count)
        answer.sources = [_to_source(i, h) for i, h in enumerate(packed.hits, 1)]
        yield Event("sources", sources=answer.sources)  # the first thing a reader sees
        rel = relevance(answer.standalone, hits, searcher)
        answer.relevance = rel.score

        threshold = getattr(self.settings, "abstain_below", None)
        if not (rel.relevant if threshold is None else rel.score >= threshold):
            # Nothing relevant: say so, show the nearest passages, and spend no model time.
            answer.abstained = True
            answer.answer = ABSTAIN_TEXT[lang]
            timings["first_token_ms"] = _ms(t0)
            pieces.append(answer.answer)
            yield Event("token", text=answer.answer)
            return

        quoted: list[str] = []  # the extractive answer, made once

        def quote_text() -> str:
            if not quoted:
                # Numbered as in the prompt: passage i of the packed list is [i+1].
                quoted.append(extractive_answer(
                    answer.standalone, packed.hits, topic=rel.topic,
                    similarity=_sentence_similarity(searcher, answer.standalone)))
            return quoted[0]

        def quote() -> Iterator[Event]:
            raw = quote_text()
            timings["first_token_ms"] = _ms(t0)
            for line in raw.splitlines(keepends=True):
                pieces.append(line)
                yield Event("token", text=line)

        if generator is None:
            yield from quote()
        else:
            if opts.quote_first:
                # The page shows the quotes while the model reads the prompt (10-30 s on a
                # CPU); the model's tokens replace them, and they stay if it fails.
                yield Event("quote", text=quote_text())
            # A decline is overruled (quotes instead) where the check found the sources
            # relevant, unless their best passage lacks the question's topic: then the
            # model and the check agree that the passage is about a neighbour.
            overrule = rel.relevant and not rel.topic_missing
            yield from self._model_answer(answer, lang, generator, packed, overrule,
                                          opts, t0, count, notes, pieces, quote, quote_text)
        self._finish(answer, "".join(pieces), lang, notes,
                     _sentence_similarity(searcher, answer.standalone, pairwise=True))

    def _model_answer(self, answer: Answer, lang: str, generator: Generator, packed: Any,
                      overrule: bool, opts: _Options, t0: float, count: Any,
                      notes: list[str], pieces: list[str], quote: Any,
                      quote_text: Any) -> Iterator[Event]:
        """The model writes the answer; quotes (``quote()``) stand in when it declines
        and ``overrule`` says the sources are relevant, or when it cannot answer."""
        timings = answer.timings
        blocks = mark_best(packed.blocks, quote_text()) if MARK_BEST else packed.blocks
        messages = answer_messages(answer.standalone, blocks, lang)
        timings["prompt_tokens"] = _prompt_tokens(generator, messages)
        yield Event("status", text="reading the sources")
        try:
            yield from self._generate(generator, messages, opts, timings, t0, count, pieces)
            if declined("".join(pieces)) and overrule:
                # The relevance check (calibrated on the unanswerable sets) passed, and
                # a 1.5B model's "not in the sources" is not to be trusted over it: it
                # declined 9 of 16 answerable CMRC questions whose sources held the
                # answer (32 of 100 in session 10, and 2 of the 5 unanswerable ones
                # that reached it). Quoting instead: CMRC gold 37.5% -> 87.5%,
                # unanswerable questions abstaining unchanged (BENCHMARKS.md).
                pieces.clear()
                answer.backend = "extractive"
                notes.append(DECLINED_NOTICE[lang])
                yield Event("status", text="quoting the sources")
                yield from quote()
        except ModelUnavailable as e:
            # The model process died, froze or is stopped: this answer quotes the
            # sources (the worker restarts on its own), and says why.
            log.warning("answering with quotes: %s", e.message)
            pieces.clear()
            answer.backend = "extractive"
            notes.append(MODEL_DOWN_NOTICE[lang].format(why=e.words(lang)[0]))
            yield Event("status", text="quoting the sources")
            yield from quote()

    @staticmethod
    def _generate(generator: Generator, messages: list[dict], opts: _Options,
                  timings: dict, t0: float, count: Any, pieces: list[str]) -> Iterator[Event]:
        t_first = None
        stream = generator.stream(
            messages, max_tokens=opts.max_answer_tokens, temperature=opts.temperature,
            seed=opts.seed,
        )
        written = ""
        for piece in stream:
            if not piece:
                continue
            if t_first is None:
                t_first = time.perf_counter()
                timings["first_token_ms"] = _ms(t0)
            pieces.append(piece)
            yield Event("token", text=piece)
            written += piece
            cut = loop_start(written)
            if cut is not None:
                # The model is going round in a loop (it would write the same list until
                # max_answer_tokens): stop it, and keep the loop's first round.
                getattr(stream, "close", lambda: None)()
                pieces[:] = [written[:cut]]
                break
        if t_first is not None:
            spent = time.perf_counter() - t_first
            n = count(written)
            timings["completion_tokens"] = n
            timings["tokens_per_s"] = round(n / spent, 1) if spent > 0 and n > 1 else None

    def _finish(self, answer: Answer, raw: str, lang: str, notes: list[str],
                similarity: Any = None) -> None:
        cites = parse_citations(raw, len(answer.sources))
        cited = cites.cited
        text = cites.text
        if answer.backend != "extractive" and not declined(raw):
            # A small model cites when it likes (1 answer in 16 measured): each sentence
            # is matched to the sources that support it, and a model's own marker is
            # kept only where its source does (attribution.py).
            # Where it nearly copied a source ("上海市南市区" for 上海南市区), the source's
            # own words go back in first (verbatim.py), so the cited passage holds them.
            passages = [s.text for s in answer.sources]
            att = attribute(restore(text, passages), passages, similarity=similarity)
            # A bare phrase ("秋晴") gets the sentence of its source that backs it, quoted.
            text = with_backing(att.text, answer.standalone, passages, att.cited)
            cited = att.cited
            if att.unsupported:
                sep = "、" if lang == "zh" else ", "
                notes.append(UNSUPPORTED_NOTICE[lang] + sep.join(att.unsupported))
        answer.answer = text.strip()
        answer.citations = [answer.sources[n - 1] for n in cited]
        if declined(raw):
            answer.abstained = True
            answer.citations = []
            return
        if not answer.answer:
            answer.answer = "(no answer)" if lang == "en" else "（没有生成回答）"
        if not answer.citations:
            notes.append(NO_CITATION_NOTICE[lang])
        elif cites.dropped:
            notes.append(
                "Dropped citation markers that point at no source: " + " ".join(cites.dropped)
            )

    def _condense(
        self, question: str, history: list[dict], generator: Generator | None, lang: str
    ) -> str:
        if generator is None or not needs_context(question):
            return condense_by_rule(question, history)
        try:
            reply = "".join(
                generator.stream(
                    condense_messages(question, history, lang),
                    max_tokens=CONDENSE_MAX_TOKENS,
                    temperature=0.0,
                )
            )
        except Exception as e:  # a rewrite is a nicety: fall back to the rule
            log.warning("condensing with the model failed: %s", e)
            return condense_by_rule(question, history)
        rewritten = _first_line(reply)
        if not rewritten or len(rewritten) > max(200, 3 * len(question)):
            return condense_by_rule(question, history)
        return rewritten


def from_floor(cos: Any, floor: float) -> Any:
    """Cosines counted from ``floor`` up (``Profile.cosine_floor``): ``floor`` is 0, 1 is
    1; attribution clips what falls below."""
    return (cos - floor) / (1.0 - floor) if floor else cos


def _sentence_similarity(searcher: Any, question: str, pairwise: bool = False,
                         floor: float | None = None):
    """Cosines of the question and candidate sentences, for extractive answers (or with
    ``pairwise``, of answer sentences and source passages, for attribution, counted from
    ``floor``, by default the embedder's ``Profile.cosine_floor``): only with an embedder
    that reads the question's script (``search.dense_weight``), so not with the
    English-only MiniLM on a Chinese question."""
    from assistant.retrieve.search import dense_weight

    embedder = getattr(searcher, "embedder", None)
    if embedder is None or not hasattr(embedder, "embed_passages"):
        return None
    if dense_weight(getattr(embedder, "name", ""), question) == 0.0:
        return None
    if pairwise:
        if floor is None:
            floor = profile(getattr(embedder, "name", "")).cosine_floor

        def cosines(sentences: list[str], passages: list[str]):
            cos = embedder.embed_passages(sentences) @ embedder.embed_passages(passages).T
            return from_floor(cos, floor)

        return cosines

    query_vector = getattr(searcher, "query_vector", embedder.embed_query)

    def similarity(q: str, sentences: list[str]):
        return embedder.embed_passages(sentences) @ query_vector(q)

    return similarity


def _first_line(reply: str) -> str:
    for line in reply.splitlines():
        line = re.sub(r"^(?:standalone question|question|问题|改写后的问题)\s*[:：]\s*", "",
                      line.strip(), flags=re.IGNORECASE)
        line = line.strip(" \"'“”「」")
        if any(c.isalnum() for c in line):
            return line
    return ""


def _model_wanted(settings: Any) -> bool:
    from assistant.generate import NO_MODEL

    return bool(getattr(settings, "llm_url", None)) or (
        (getattr(settings, "model", "") or "").strip().lower() not in NO_MODEL
    )


def _prompt_tokens(generator: Generator, messages: list[dict]) -> int:
    exact = getattr(generator, "prompt_tokens", None)
    if callable(exact):
        try:
            return int(exact(messages))
        except Exception:  # a template quirk: the estimate will do for a timing
            pass
    return count_messages(messages, generator.count_tokens)


def _failure_text(error: Exception, pieces: list[str]) -> str:
    if isinstance(error, AssistantError):
        what = error.message
    else:
        what = f"{type(error).__name__}: {error}"
    text = f"Could not answer: {what.rstrip('.')}."
    hint = getattr(error, "hint", None)
    if hint:
        text += f" {hint[0].upper()}{hint[1:]}."
    partial = "".join(pieces).strip()
    return f"{partial}\n\n{text}" if partial else text
