"""Load: concurrent clients against a running ``assistant serve``, then the same load
while a re-index runs.

    .venv/bin/python bench/load.py [--clients 8] [--questions 10] [--via api|gradio]

It copies the corpus (default ``corpus/``) to ``--workdir`` (default
``/tmp/assistant-load``), indexes the copy there, starts ``assistant serve --model
extractive`` on a free 127.0.0.1 port in a subprocess, and runs two phases:

1. ``steady``: ``--clients`` threads each ask ``--questions`` questions back to back
   (half through the OpenAI-compatible API without streaming, half streaming; or all
   through gradio_client's ``/ask`` with ``--via gradio``);
2. ``reindex``: the same, and once a tenth of the answers are in, a document of the copy
   is edited and a new one added, and a re-index is started through ``POST
   /api/reindex``. Answers must keep coming from the old index until the new one is
   committed: a "lost" answer is an error, an error event, or an empty answer.

After the re-index the new document's fact must be found (the swap happened). Prints a
table and writes ``bench/out/load.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _serve import free_port, start_until_ready, stop  # bench/ is on sys.path
from _stats import percentile

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"

QUESTIONS = [
    "vLLM 是哪个机构开发的推理框架？",
    "Text Generation Inference (TGI) 是哪家推出的？",
    "DeepSpeed-MII 是谁开发的？",
    "什么是 LoRA？",
    "What is PagedAttention?",
    "MoE 模型是什么？",
    "模型量化有什么作用？",
    "人工智能发展经历了哪几次浪潮？",
    "What is continuous batching?",
    "ChatGLM 是哪家公司发布的？",
]
NEW_DOC = (
    "# Zorblax 推理框架\n\n"
    "## 简介\n\n"
    "Zorblax 是 Qwertz 实验室在 2031 年发布的推理框架，专门在树莓派上运行大模型。\n"
)
NEW_QUESTION = "Zorblax 是哪个实验室发布的？"
APPENDIX = (
    "\n\n## 附注：负载测试\n\n"
    "这一节由负载测试在运行中加入，用来触发一次增量索引。它描述了连续批处理、"
    "分页注意力和模型量化三者如何在同一台笔记本上配合工作。\n"
)


@dataclass
class Result:
    client: int
    question: str
    seconds: float
    ok: bool
    cited: bool
    mode: str
    started: float
    error: str | None = None


@dataclass
class Phase:
    name: str
    results: list[Result] = field(default_factory=list)
    wall: float = 0.0
    reindex: dict | None = None

    def summary(self) -> dict:
        lat = [r.seconds for r in self.results if r.ok]
        failed = sum(not r.ok for r in self.results)
        return {
            "phase": self.name,
            "answers": len(self.results),
            "errors": failed,
            "lost": failed,  # an answer that failed is lost: nothing else can lose one
            "uncited": sum(r.ok and not r.cited for r in self.results),
            "p50_s": round(percentile(lat, 50), 3) if lat else None,
            "p95_s": round(percentile(lat, 95), 3) if lat else None,
            "max_s": round(max(lat), 3) if lat else None,
            "wall_s": round(self.wall, 2),
            "answers_per_s": round(len(lat) / self.wall, 2) if self.wall else None,
            "reindex": self.reindex,
            "error_samples": [r.error for r in self.results if not r.ok][:5],
        }


def assistant_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistant", *args]


def prepare(corpus: Path, workdir: Path) -> tuple[Path, Path]:
    copy, index = workdir / "corpus", workdir / "index"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(corpus, copy)
    t = time.perf_counter()
    subprocess.run(assistant_cmd("index", "--corpus", str(copy), "--index", str(index)),
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    print(f"index ready in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return copy, index


def start_server(copy: Path, index: Path, port: int) -> tuple[subprocess.Popen, float]:
    cmd = assistant_cmd("serve", "--corpus", str(copy), "--index", str(index), "--port",
                        str(port), "--model", "extractive")
    return start_until_ready(cmd)


# ------------------------------------------------------------------------------- clients


def ask_api(http, url: str, question: str, stream: bool) -> tuple[bool, bool, str | None]:
    body = {"model": "assistant", "stream": stream,
            "messages": [{"role": "user", "content": question}]}
    if not stream:
        r = http.post(f"{url}/v1/chat/completions", json=body)
        if r.status_code != 200:
            return False, False, f"HTTP {r.status_code}: {r.text[:200]}"
        data = r.json()
        text = data["choices"][0]["message"]["content"]
        if data.get("error") or not text.strip():
            return False, False, data.get("error") or "empty answer"
        return True, bool(data.get("citations")), None
    text, final, done = "", None, False
    with http.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
        if r.status_code != 200:
            return False, False, f"HTTP {r.status_code}"
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                break
            chunk = json.loads(line[6:])
            if "error" in chunk and "choices" not in chunk:
                return False, False, chunk["error"]["message"]
            text += chunk["choices"][0]["delta"].get("content") or ""
            if chunk["choices"][0]["finish_reason"]:
                final = chunk
    if not done or final is None or not text.strip() or final.get("error"):
        return False, False, (final or {}).get("error") or "stream ended without an answer"
    return True, bool(final.get("citations")), None


def run_phase(name: str, url: str, clients: int, per_client: int, via: str,
              trigger=None) -> Phase:
    import httpx

    phase = Phase(name)
    lock = threading.Lock()
    total = clients * per_client
    start = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        if via == "gradio":
            from gradio_client import Client

            gc = Client(url + "/", verbose=False)
        http = httpx.Client(timeout=300)
        start.wait()
        for k in range(per_client):
            q = QUESTIONS[(i + k) % len(QUESTIONS)]
            mode = "gradio" if via == "gradio" else ("stream" if i % 2 else "json")
            t = time.perf_counter()
            try:
                if via == "gradio":
                    res = gc.predict(q, api_name="/ask")
                    ok = bool(res.get("answer", "").strip()) and not res.get("error")
                    cited, err = bool(res.get("citations")), None if ok else "empty answer"
                else:
                    ok, cited, err = ask_api(http, url, q, stream=mode == "stream")
            except Exception as e:
                ok, cited, err = False, False, f"{type(e).__name__}: {e}"
            r = Result(i, q, time.perf_counter() - t, ok, cited, mode, t, err)
            with lock:
                phase.results.append(r)
                n = len(phase.results)
            if trigger is not None and n == max(1, total // 10):
                threading.Thread(target=trigger, daemon=True).start()
        http.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    phase.wall = time.perf_counter() - t0
    return phase


def reindex_trigger(url: str, copy: Path, phase_box: dict):
    import httpx

    def trigger() -> None:
        docs = sorted(p for p in copy.rglob("*.md") if not p.name.startswith("."))
        with open(docs[0], "a", encoding="utf-8") as fh:
            fh.write(APPENDIX)
        (copy / "zorblax.md").write_text(NEW_DOC, encoding="utf-8")
        t = time.perf_counter()
        r = httpx.post(f"{url}/api/reindex", timeout=30)
        phase_box["requested"] = {"status": r.status_code, "at": time.perf_counter()}
        while True:
            state = httpx.get(f"{url}/api/reindex", timeout=30).json()
            if not state["running"]:
                break
            time.sleep(0.1)
        phase_box["done"] = {"seconds": round(time.perf_counter() - t, 2),
                             "at": time.perf_counter(), "error": state["error"],
                             "summary": state["summary"]}

    return trigger


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--questions", type=int, default=10, help="questions per client")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/assistant-load"))
    ap.add_argument("--via", choices=("api", "gradio"), default="api")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import httpx

    args.workdir.mkdir(parents=True, exist_ok=True)
    copy, index = prepare(args.corpus, args.workdir)
    port = free_port()
    proc, ready = start_server(copy, index, port)
    url = f"http://127.0.0.1:{port}"
    try:
        health = httpx.get(f"{url}/health", timeout=30).json()
        print(f"server ready in {ready:.1f} s: {health['documents']} documents, "
              f"{health['chunks']} chunks, backend {health['backend']}", file=sys.stderr)
        # One answer first, so both phases start warm (jieba's dictionary, caches).
        httpx.post(f"{url}/v1/chat/completions", timeout=120,
                   json={"messages": [{"role": "user", "content": QUESTIONS[0]}]})

        steady = run_phase("steady", url, args.clients, args.questions, args.via)
        box: dict = {}
        during = run_phase("reindex", url, args.clients, args.questions, args.via,
                           trigger=reindex_trigger(url, copy, box))
        deadline = time.time() + 300
        while "done" not in box and time.time() < deadline:
            time.sleep(0.2)
        gen_after = httpx.get(f"{url}/health", timeout=30).json()["generation"]
        fresh = httpx.post(f"{url}/v1/chat/completions", timeout=120, json={
            "messages": [{"role": "user", "content": NEW_QUESTION}]}).json()
        swapped = any(c["doc"] == "zorblax.md" for c in fresh.get("citations", []))
        if "done" in box and "requested" in box:
            t_req, t_done = box["requested"]["at"], box["done"]["at"]
            overlap = [r for r in during.results
                       if r.started < t_done and r.started + r.seconds > t_req]
            during.reindex = {
                "seconds": box["done"]["seconds"],
                "error": box["done"]["error"],
                "answers_during_reindex": len(overlap),
                "lost_during_reindex": sum(not r.ok for r in overlap),
                "generation_before": health["generation"],
                "generation_after": gen_after,
                "new_document_cited_after": swapped,
                "summary": box["done"]["summary"],
            }
        report = {
            "clients": args.clients,
            "questions_per_client": args.questions,
            "via": args.via,
            "backend": health["backend"],
            "embedder": health["embedder"],
            "documents": health["documents"],
            "chunks": health["chunks"],
            "ready_s": round(ready, 2),
            "cpus": os.cpu_count(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "phases": [steady.summary(), during.summary()],
            "results": {p.name: [asdict(r) for r in p.results] for p in (steady, during)},
        }
    finally:
        stop(proc)

    OUT.mkdir(parents=True, exist_ok=True)
    name = "load.json" if args.via == "api" else f"load-{args.via}.json"
    (OUT / name).write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"\n{args.clients} clients x {args.questions} questions via {args.via}, "
          f"{report['backend']} backend, {report['documents']} documents "
          f"({report['cpus']} CPUs, load {report['loadavg_1m']}); server ready in "
          f"{report['ready_s']} s\n")
    print("| phase | answers | errors | lost | uncited | p50 s | p95 s | max s | answers/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in report["phases"]:
        print(f"| {s['phase']} | {s['answers']} | {s['errors']} | {s['lost']} | {s['uncited']} "
              f"| {s['p50_s']} | {s['p95_s']} | {s['max_s']} | {s['answers_per_s']} |")
    ri = report["phases"][1]["reindex"]
    if ri:
        print(f"\nre-index: {ri['seconds']} s, generation {ri['generation_before']} -> "
              f"{ri['generation_after']}, {ri['answers_during_reindex']} answers overlapped it, "
              f"{ri['lost_during_reindex']} lost; new document cited afterwards: "
              f"{ri['new_document_cited_after']}")
    else:
        print("\nre-index: did not finish", file=sys.stderr)
    for s in report["phases"]:
        for e in s["error_samples"]:
            print(f"  {s['phase']} error: {e}", file=sys.stderr)
    lost = sum(s["lost"] for s in report["phases"])
    return 0 if lost == 0 and ri and ri["new_document_cited_after"] else 1


if __name__ == "__main__":
    sys.exit(main())
