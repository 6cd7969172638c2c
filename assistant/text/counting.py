"""Token counting in cl100k_base, the unit every budget is measured in, and where
tiktoken's cl100k_base file lives.

tiktoken looks for the file in ``TIKTOKEN_CACHE_DIR`` (under the sha1 of its URL) and
would download it, with no timeout, when it is missing; here a missing file is announced
once and tokens are counted another way instead (never a download in the middle of an
index run or an answer: fetching files is ``assistant pull``'s job).
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from assistant import notices

Counter = Callable[[str], int]

TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
TIKTOKEN_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
TIKTOKEN_SIZE = 1_681_126


def tiktoken_dir(models_dir: str | Path) -> Path:
    """Where ``assistant pull`` keeps tiktoken's files: ``models/tiktoken``."""
    return Path(models_dir).expanduser() / "tiktoken"


def tiktoken_file_name() -> str:
    """The name tiktoken's cache gives cl100k_base: the sha1 of its URL."""
    return hashlib.sha1(TIKTOKEN_URL.encode()).hexdigest()


def tiktoken_file(models_dir: str | Path) -> Path:
    """cl100k_base in ``models/tiktoken``, under the name tiktoken's cache gives it."""
    return tiktoken_dir(models_dir) / tiktoken_file_name()


def use_models_tiktoken(models_dir: str | Path) -> bool:
    """Point tiktoken at ``models/tiktoken`` when it holds cl100k_base and nothing else
    was configured (``TIKTOKEN_CACHE_DIR`` unset). True when the variable is set now.

    tiktoken reads the variable each time it loads an encoding, so calling this before
    the first ``get_encoding`` is enough.
    """
    if "TIKTOKEN_CACHE_DIR" in os.environ or "DATA_GYM_CACHE_DIR" in os.environ:
        return False
    if not tiktoken_file(models_dir).is_file():
        return False
    os.environ["TIKTOKEN_CACHE_DIR"] = str(tiktoken_dir(models_dir).resolve())
    return True


def tiktoken_cache_file() -> Path | None:
    """Where tiktoken looks for its cl100k_base file (None: caching disabled)."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = str(Path(tempfile.gettempdir()) / "data-gym-cache")
    if cache_dir == "":
        return None
    return Path(cache_dir) / tiktoken_file_name()


@lru_cache(maxsize=1)
def cl100k() -> tuple[object | None, str]:
    """(encoding, "") or (None, reason). Failures are cached too: one attempt per run."""
    cache = tiktoken_cache_file()
    # tiktoken would otherwise download the file, with no timeout; fetching models is
    # the job of `assistant pull`, never a side effect of indexing.
    if cache is not None and not cache.is_file():
        return None, f"no file at {cache}" if _cache_dir_set() else (
            "not in models/tiktoken/ nor in tiktoken's cache")
    try:
        import tiktoken

        return tiktoken.get_encoding("cl100k_base"), ""
    except Exception as e:
        return None, f"{type(e).__name__}: {e}"[:200]


def announce_no_cl100k(reason: str, instead: str) -> None:
    """Say once, whoever finds it missing first, that cl100k_base is not there, what
    runs ``instead``, and where the file goes."""
    # A cache folder set by the user is where tiktoken looks, and then only there.
    folder = _cache_dir_set() or "models/tiktoken/"
    notices.announce(
        "tiktoken",
        f"tiktoken's cl100k_base file could not be loaded ({reason}): {instead}. Fix: "
        f"`assistant pull` on a connected machine fetches it; or copy the file into "
        f"{folder} as {tiktoken_file_name()}.",
    )


def _cache_dir_set() -> str | None:
    return os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")


def rough_token_count(text: str) -> int:
    """A deliberately high estimate: one token per CJK character, one per 3 others."""
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    other = sum(1 for ch in text if ord(ch) < 0x2E80 and not ch.isspace())
    return wide + math.ceil(other / 3)


def make_token_counter(
    fallback: Counter | None = None, fallback_name: str = "embedder"
) -> tuple[Counter, str]:
    """(count_tokens, name): cl100k_base through tiktoken, else ``fallback`` (announced)."""
    encoding, reason = cl100k()
    if encoding is not None:
        encode = encoding.encode  # type: ignore[attr-defined]

        def count_cl100k(text: str) -> int:
            return len(encode(text, disallowed_special=()))

        return count_cl100k, "cl100k_base"
    kind, _, which = fallback_name.partition(":")  # e.g. "embedder:<model name>"
    if fallback is None:
        instead = "a rough character count"
    elif kind == "embedder":
        instead = "the embedder's tokenizer" + (f" ({which})" if which else "")
    else:
        instead = f"the {fallback_name} tokenizer"
    announce_no_cl100k(reason, f"tokens are counted with {instead}, so chunk sizes differ "
                               "a little")
    if fallback is not None:
        return fallback, fallback_name
    return rough_token_count, "chars"


@lru_cache(maxsize=1)
def cl100k_counter() -> Counter:
    """Tokens in cl100k_base (a rough count when tiktoken's file is missing, announced)."""
    return make_token_counter()[0]
