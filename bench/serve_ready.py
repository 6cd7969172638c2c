"""How long ``assistant serve`` takes to be ready over a current index, beside a peer.

    .venv/bin/python bench/serve_ready.py [--runs 3] [--corpus corpus/]

The peer is the least a Gradio chat can do: a ``gr.ChatInterface`` echo bot mounted on
FastAPI and served by uvicorn, the same stack as ours. Runs alternate between the two
(the machine is shared and noisy, so the ratio of medians is the figure to read).

For each ``assistant serve`` run it measures, from the start of the process:
- ``ready``: the "Ready" line is printed and ``/health`` answers;
- ``first answer``: a cited answer to one question came back (the models load after
  "Ready", in the background, so this includes their load);
and checks that serving embedded nothing (the index files are left untouched).
Writes ``bench/out/serve_ready.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _serve import free_port, start_until_ready, stop  # bench/ is on sys.path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
QUESTION = "What is PagedAttention?"

PEER = r'''
import sys, time, threading
t0 = time.perf_counter()
import gradio as gr, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/health")
def health():
    return {"status": "ok"}
demo = gr.ChatInterface(lambda message, history: message)
app = gr.mount_gradio_app(app, demo, path="/")
server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]),
                                       log_level="warning"))
def announce():
    while not server.started:
        time.sleep(0.05)
    print(f"Ready in {time.perf_counter() - t0:.1f} s", flush=True)
threading.Thread(target=announce, daemon=True).start()
server.run()
'''


def snapshot(index: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns)
            for p in index.iterdir() if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def time_server(cmd: list[str], port: int, ask: bool) -> dict:
    t0 = time.perf_counter()
    proc, _ = start_until_ready(cmd)
    try:
        url = f"http://127.0.0.1:{port}"
        httpx.get(f"{url}/health", timeout=30).raise_for_status()
        out = {"ready_s": time.perf_counter() - t0}
        if ask:
            r = httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
                "messages": [{"role": "user", "content": QUESTION}]})
            r.raise_for_status()
            out["first_answer_s"] = time.perf_counter() - t0
            out["cited"] = bool(r.json().get("citations"))
        return out
    finally:
        stop(proc, wait=15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="serve-ready-"))
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(args.corpus, corpus)
    py = sys.executable
    subprocess.run([py, "-m", "assistant", "index", "--corpus", str(corpus), "--index",
                    str(index)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    before = snapshot(index)
    peer_file = work / "peer.py"
    peer_file.write_text(PEER)

    ours, peer = [], []
    for _ in range(args.runs):
        port = free_port()
        ours.append(time_server([py, "-m", "assistant", "serve", "--corpus", str(corpus),
                                 "--index", str(index), "--port", str(port),
                                 "--model", "extractive"], port, ask=True))
        port = free_port()
        peer.append(time_server([py, str(peer_file), str(port)], port, ask=False))
    untouched = snapshot(index) == before
    shutil.rmtree(work, ignore_errors=True)

    def med(rows, key):
        return round(statistics.median(r[key] for r in rows), 2)

    report = {
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "ready_s": med(ours, "ready_s"),
        "ready_max_s": round(max(r["ready_s"] for r in ours), 2),
        "first_answer_s": med(ours, "first_answer_s"),
        "all_cited": all(r["cited"] for r in ours),
        "peer_ready_s": med(peer, "ready_s"),
        "ratio_to_peer": round(med(ours, "ready_s") / med(peer, "ready_s"), 2),
        "index_untouched": untouched,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "serve_ready.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"assistant serve ready: median {report['ready_s']} s (max "
          f"{report['ready_max_s']} s); first cited answer at {report['first_answer_s']} s")
    print(f"peer (bare Gradio ChatInterface): median {report['peer_ready_s']} s; "
          f"ratio {report['ratio_to_peer']}x")
    print(f"index untouched by serving (nothing embedded): {untouched}; "
          f"{report['cpus']} CPUs, load {report['loadavg_1m']}")


if __name__ == "__main__":
    main()
