"""The default corpus as the loader and chunker tests see it."""

from __future__ import annotations

import re
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
DEFAULT_FILES = [
    "ai-all-in-one-glossary.txt",
    "ai-os-notes-extended.md",
    "ai-os-notes.md",
    "ai-technology-overview.md",
    "os-in-the-ai-era-slides.txt",
]
WORD = re.compile(r"[0-9A-Za-z\u4e00-\u9fff]+")  # the words whose order a test compares
