"""Atomic JSON writes: readers see the old file or the new one, never half of one.

The file is written under a temporary name in the same folder (hidden, with the process
id, so two writers do not share it) and moved into place with ``os.replace``, which is
atomic on one file system. An interrupted run leaves at most a stray ``.tmp`` file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` as indented UTF-8 JSON, replacing it atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
