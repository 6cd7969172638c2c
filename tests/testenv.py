"""What tests import about their environment (not fixtures: those are in conftest.py,
which a test module must never import: with several conftest.py files, which one
``import conftest`` finds depends on the order of collection)."""

from __future__ import annotations

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def has_cl100k() -> bool:
    """Whether tiktoken's cl100k_base file is on this machine (a fresh clone may not have
    it: token counts then fall back, announced, and tests that need the file say so)."""
    from assistant.text.counting import cl100k

    return cl100k()[0] is not None
