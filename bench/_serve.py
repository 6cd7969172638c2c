"""Starting and stopping a server for the benchmarks (load.py, serve_ready.py)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_until_ready(cmd: list[str]) -> tuple[subprocess.Popen, float]:
    """Run ``cmd`` until it prints a line starting with "Ready": (process, seconds).

    Its output is read on afterwards, so a chatty server never blocks on a full pipe.
    """
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    last = ""
    for line in proc.stdout:
        if line.startswith("Ready"):
            ready = time.perf_counter() - t
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, ready
        last = line
        if line.startswith("Error"):
            break
    proc.kill()
    raise SystemExit(f"{' '.join(cmd[:4])} did not start: {last.strip()}")


def stop(proc: subprocess.Popen, wait: float = 10) -> None:
    """Ask politely, then insist."""
    proc.terminate()
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.kill()
