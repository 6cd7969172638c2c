"""Documents added through the page or the API: checked, stored in the corpus, indexed.

One path for both: :meth:`Uploads.add` takes named files (read only once their size
passed), stores what is acceptable with :func:`save_upload`, and starts a re-index when
anything was added. The page and ``POST /api/documents`` only say what came of it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import AssistantError
from assistant.ingest.indexer import max_file_bytes
from assistant.ingest.loaders import SUPPORTED_SUFFIXES

MAX_NAME_BYTES = 180  # leaves room for a " (2)" suffix under the usual 255-byte limit
MAX_FILES = 50  # in one request


@dataclass
class Upload:
    """One file offered: its name, its size, and how to read it (called only when the
    name and the size pass)."""

    name: str
    size: int
    read: Callable[[], bytes]

    @classmethod
    def from_path(cls, path: str | Path, name: str | None = None) -> Upload:
        path = Path(path)
        return cls(name or path.name, path.stat().st_size, path.read_bytes)


@dataclass
class Refusal:
    name: str
    error: AssistantError

    def to_json(self) -> dict:
        return {"name": self.name, "error": str(self.error), "status": self.error.status}


@dataclass
class UploadResult:
    saved: list[Path] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    started: bool = False  # a re-index started now (False with saved files: one is queued)


class Uploads:
    """Stores uploads in ``corpus`` and calls ``on_saved()`` (start a re-index) after a
    batch that added anything; ``on_saved`` returns whether a run started now."""

    def __init__(self, corpus: Path, on_saved: Callable[[], bool]):
        self.corpus = Path(corpus)
        self._on_saved = on_saved

    def add(self, uploads: Iterable[Upload]) -> UploadResult:
        result = UploadResult()
        each = max_file_bytes()  # what the indexer takes
        for up in uploads:
            try:
                check_upload_size(up.name, up.size, each)  # before reading it
                data = up.read()
                result.saved.append(save_upload(self.corpus, up.name, data, each))
            except AssistantError as e:
                result.refused.append(Refusal(up.name, e))
            except OSError as e:
                result.refused.append(Refusal(up.name, AssistantError(
                    f"{up.name!r} could not be read ({e.strerror}).", "Upload it again.")))
        if result.saved:
            result.started = self._on_saved()
        return result


def safe_upload_name(name: str) -> str:
    """The file name to store an upload under, or :class:`AssistantError` (status 400).

    Only a bare file name is accepted: no folder part, nothing hidden, no control
    characters, a supported suffix.

    >>> safe_upload_name("笔记.md")
    '笔记.md'
    >>> safe_upload_name("../etc/passwd.md")  # doctest: +SKIP
    AssistantError: The file name '../etc/passwd.md' is not allowed: it names a folder.
    """
    clean = unicodedata.normalize("NFC", name or "").strip()

    def refuse(why: str) -> AssistantError:
        return AssistantError(
            f"The file name {name!r} is not allowed: {why}.",
            "Rename the file (letters, digits, spaces, - and _) and upload it again.",
            status=400,
        )

    if not clean:
        raise refuse("it is empty")
    if "/" in clean or "\\" in clean or clean in (".", ".."):
        raise refuse("it names a folder")
    if clean.startswith("."):
        raise refuse("hidden files are not indexed")
    if any(unicodedata.category(c)[0] == "C" for c in clean):
        raise refuse("it holds control characters")
    if len(clean.encode("utf-8")) > MAX_NAME_BYTES:
        raise refuse(f"it is longer than {MAX_NAME_BYTES} bytes")
    suffix = Path(clean).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = " ".join(sorted(SUPPORTED_SUFFIXES))
        raise AssistantError(
            f"{name!r} is not a supported document type ({suffix or 'no extension'}).",
            f"Upload one of: {allowed}",
            status=415,
        )
    return clean


def check_upload_size(name: str, size: int, max_bytes: int | None = None) -> None:
    # The limit is what the indexer takes (ASSISTANT_MAX_FILE_MB): no accepted upload is
    # then skipped as too large.
    max_bytes = max_file_bytes() if max_bytes is None else max_bytes
    if size > max_bytes:
        raise AssistantError(
            f"{name!r} is {size / 2**20:.1f} MB; the index takes files up to "
            f"{max_bytes / 2**20:g} MB.",
            "Split the document, or start the server with a higher ASSISTANT_MAX_FILE_MB.",
            status=413,
        )


def save_upload(corpus: Path, name: str, data: bytes, max_bytes: int | None = None) -> Path:
    """Store ``data`` in the corpus folder as ``name`` and return the path written.

    Never overwrites: when the name is taken by a different file, " (2)", " (3)", ...
    is added before the suffix; when it is taken by the same content, nothing is written
    and the existing path is returned.
    """
    clean = safe_upload_name(name)
    check_upload_size(name, len(data), max_bytes)
    if not data:
        raise AssistantError(f"{name!r} is empty.", "Upload a file with some text in it.")
    corpus = Path(corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    # Written under a hidden name (the indexer ignores hidden files), then linked into
    # place: os.link fails if the target exists, so two uploads cannot overwrite.
    tmp = corpus / f".upload-{secrets.token_hex(8)}.tmp"
    tmp.write_bytes(data)
    try:
        stem, suffix = Path(clean).stem, Path(clean).suffix
        for i in range(1, 1000):
            target = corpus / (clean if i == 1 else f"{stem} ({i}){suffix}")
            if target.exists():
                with contextlib.suppress(OSError):
                    if target.is_file() and target.read_bytes() == data:
                        return target
                continue
            try:
                os.link(tmp, target)
            except FileExistsError:
                continue
            return target
        raise AssistantError(f"Too many files named like {clean!r}.", "Rename the file.")
    finally:
        tmp.unlink(missing_ok=True)


def corpus_file(corpus: Path, rel: str) -> Path | None:
    """The corpus file ``rel`` names, or None when it is outside the corpus or missing.

    The path is resolved (symlinks and ``..`` followed) before the check, so no
    spelling of a path can reach a file outside the corpus folder.
    """
    if not rel or "\x00" in rel:
        return None
    root = Path(corpus).resolve()
    try:
        target = (root / rel).resolve()
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(root) or target == root or not target.is_file():
        return None
    parts = target.relative_to(root).parts
    if any(p.startswith(".") for p in parts):
        return None
    if target.suffix.lower() not in SUPPORTED_SUFFIXES:
        return None
    return target
