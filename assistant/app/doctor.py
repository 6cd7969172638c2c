"""``assistant doctor``: is this machine ready, and is the index sound? Each problem
comes with its fix.

Checks, in order: library versions; models on disk (embedder, chat model, tiktoken's
file) and a real generation of the local chat model; the index (SQLite integrity,
manifest, the FAISS file against SQLite, chunks without vectors, the full-text rows,
whether the corpus changed since); free disk space; CPU features and memory, and whether
llama-cpp-python was built for this CPU. A ``fail`` makes the exit code 1; a ``warn`` is
a fallback in force or a risk (``--strict`` counts those too). Nothing here connects to
a network or writes to the index. llama_cpp is only loaded in child processes: a build
for another CPU dies with SIGILL, and must not take doctor down with it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant import notices
from assistant.generate import cpu
from assistant.generate.cpu import cpu_flags
from assistant.text import counting

OK, INFO, WARN, FAIL = "ok", "info", "warn", "fail"
CPU_FLAGS = ("avx2", "avx512f", "fma", "f16c")


@dataclass
class Check:
    area: str  # versions, models, index, disk, cpu
    name: str
    status: str  # ok, info, warn, fail
    detail: str
    fix: str = ""


def run_checks(settings) -> list[Check]:
    """Every check, for the folders and models ``settings`` name."""
    checks: list[Check] = []
    # One child imports llama_cpp for the version check and the build check.
    probe = cpu.probe_build() if _version(("llama-cpp-python",)) is not None else None
    with _quiet():
        checks += check_versions(probe)
        checks += check_models(settings)
        checks += check_generation(settings, probe)
        checks += check_index(settings)
    checks += check_disk(settings)
    checks += check_cpu()
    if probe is not None:
        checks += check_build(probe=probe)
    return checks


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Fallbacks are reported as checks here, not also as notes on stderr."""
    was = notices.quiet
    notices.quiet = True
    try:
        yield
    finally:
        notices.quiet = was


# ---------------------------------------------------------------------------- versions

# (distribution names, what it is for, needed?)
_PACKAGES = (
    (("torch",), "embeddings", True),
    (("sentence-transformers",), "embeddings", True),
    (("faiss-cpu", "faiss"), "vector search", True),
    (("jieba",), "Chinese search", True),
    (("tiktoken",), "token counting", True),
    (("llama-cpp-python",), "local chat models", False),
    (("gradio",), "the web UI", False),
    (("huggingface-hub",), "finding models in the Hugging Face cache", True),
    (("watchdog",), "`--watch`", False),
)


def _version(names: tuple[str, ...]) -> str | None:
    for n in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(n)
    return None


def _rebuild_fix() -> str:
    return ("run ./install.sh (it rebuilds llama-cpp-python for this CPU, about 5 minutes), "
            f"or: {cpu.rebuild_command()}")


def check_versions(probe: cpu.Probe | None = None) -> list[Check]:
    out = []
    py = platform.python_version()
    out.append(Check("versions", "python", OK, f"Python {py} ({sys.executable})"))
    for names, purpose, needed in _PACKAGES:
        v = _version(names)
        if v is not None:
            out.append(Check("versions", names[0], OK, f"{names[0]} {v}"))
        elif needed:
            out.append(Check("versions", names[0], FAIL,
                             f"{names[0]} is not installed (needed for {purpose})",
                             "run ./install.sh (or pip install -e .) in this environment"))
        else:
            out.append(Check("versions", names[0], WARN,
                             f"{names[0]} is not installed: no {purpose}",
                             f"pip install {names[0]}"))
    if _version(("llama-cpp-python",)) is not None:
        probe = probe or cpu.probe_build()  # the compiled library loads on import
        if probe.returncode is not None and probe.returncode < 0:
            out.append(Check("versions", "llama_cpp", FAIL,
                             "llama-cpp-python is installed but importing it dies with "
                             f"{cpu.signal_name(probe.returncode)}: it was built for another "
                             "CPU", _rebuild_fix()))
        elif probe.returncode != 0:
            last = probe.error.splitlines()[-1] if probe.error else "no output"
            out.append(Check("versions", "llama_cpp", FAIL,
                             f"llama-cpp-python is installed but does not load ({last[:160]})",
                             _rebuild_fix()))
    return out


# ------------------------------------------------------------------------------ models


def check_models(settings) -> list[Check]:
    from assistant.embed.resolve import resolve_embedder
    from assistant.generate import NO_MODEL
    from assistant.hub import files as hub
    from assistant.hub.presets import get_preset

    out = []
    models_dir = Path(settings.models_dir)
    resolved = resolve_embedder(settings.embedder, models_dir)
    if resolved.fallback_from:
        out.append(Check(
            "models", "embedder", WARN,
            f"embedder {settings.embedder} is not on disk: the packaged all-MiniLM-L6-v2 is "
            "used instead (English-centred; Chinese search leans on BM25)",
            f"assistant pull --embedder {settings.embedder}  (on a connected machine)"))
    else:
        out.append(Check("models", "embedder", OK, f"embedder {resolved.name} at {resolved.path}"))

    name = (settings.model or "").strip()
    if getattr(settings, "llm_url", None):
        out.append(Check("models", "chat model", INFO,
                         f"answers come from the server at {settings.llm_url} (not contacted)"))
    elif name.lower() in NO_MODEL:
        out.append(Check("models", "chat model", INFO, "no chat model: answers are extractive"))
    else:
        preset = get_preset(name)
        path = hub.find_model_file(preset or name, models_dir)
        if path is None and preset is not None:
            out.append(Check(
                "models", "chat model", WARN,
                f"{preset.name} ({preset.filename}, {preset.download_mb} MB) is not on disk: "
                "answers are extractive (quoted sentences with citations)",
                f"assistant pull --model {preset.name}"))
        elif path is None:
            out.append(Check("models", "chat model", FAIL, f"model file {name} not found",
                             "check the path, or use a preset: assistant pull --model "
                             "qwen2.5-1.5b-instruct"))
        else:
            damaged = _gguf_problem(path, preset)
            if damaged:
                fix = (f"assistant pull --model {preset.name}  (downloads it again)"
                       if preset else "replace the file")
                out.append(Check("models", "chat model", FAIL, f"{path} {damaged}", fix))
            else:
                out.append(Check("models", "chat model", OK,
                                 f"{name} at {path} ({path.stat().st_size / 1e6:.0f} MB)"))
    out.append(_check_tiktoken(models_dir))
    if models_dir.is_dir():
        parts = [p for p in models_dir.rglob("*.part") if p.is_file()]
        if parts:
            size = sum(p.stat().st_size for p in parts)
            out.append(Check("models", "downloads", INFO,
                             f"{len(parts)} unfinished download(s) in {models_dir} "
                             f"({size / 1e6:.0f} MB): `assistant pull` resumes them"))
    return out


def _gguf_problem(path: Path, preset) -> str | None:
    """Why a GGUF file cannot be right, judged cheaply (signature and size)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        return "is not a GGUF file (no GGUF signature)"
    if preset is not None and size < preset.download_mb * 1e6 * 0.8:
        return (f"is {size / 1e6:.0f} MB where {preset.download_mb} MB are expected "
                "(an interrupted download?)")
    return None


# A few prompt tokens and two generated ones: llama.cpp reads the prompt with its batch
# kernels and the generated token with its single-row ones, and either can hold the
# instruction this CPU lacks (the AMX crash came on the first token).
_GENERATE = """\
import json, sys, time
sys.path = [p for p in sys.path if p not in ('', '.')]
start = time.perf_counter()
import llama_cpp
threads = int(sys.argv[2])
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=128, n_threads=threads,
                      n_threads_batch=threads, verbose=False)
loaded = time.perf_counter()
out = llm.create_completion("The capital of France is Paris. The capital of Italy is",
                            max_tokens=2, temperature=0)
print(json.dumps({"load_s": loaded - start, "generate_s": time.perf_counter() - loaded,
                  "text": out["choices"][0]["text"]}))
"""
GENERATE_TIMEOUT = 180.0  # loading 1-2 GB from a slow disk, on 2 cores


def generation_command(path: Path, threads: int) -> list[str]:
    """The child process that loads the model and generates with it."""
    return [sys.executable, "-c", _GENERATE, str(path), str(threads)]


def check_generation(settings, probe: cpu.Probe | None = None,
                     command: Callable[[Path, int], list[str]] | None = None,
                     timeout: float = GENERATE_TIMEOUT) -> list[Check]:
    """Load the configured local model and generate with it, in a child process.

    The tiny test models never reach the kernels a real quantized model runs, so only a
    real generation shows that this build runs on this CPU. A child killed by a signal
    (SIGILL: an instruction this CPU does not run) is a problem with its fix.
    """
    from assistant.generate import NO_MODEL
    from assistant.hub import files as hub
    from assistant.hub.presets import get_preset

    def skipped(why: str) -> list[Check]:
        return [Check("models", "generation", INFO, f"test generation skipped: {why}")]

    name = (settings.model or "").strip()
    if getattr(settings, "llm_url", None):
        return skipped(f"answers come from the server at {settings.llm_url}")
    if name.lower() in NO_MODEL:
        return skipped("no local chat model is configured")
    preset = get_preset(name)
    path = hub.find_model_file(preset or name, Path(settings.models_dir))
    if path is None:
        return skipped(f"the model file of {name} is not on disk")
    if _gguf_problem(path, preset):
        return skipped(f"{path} is damaged (above)")
    if _version(("llama-cpp-python",)) is None:
        return skipped("llama-cpp-python is not installed")
    if probe is not None and probe.returncode != 0:
        return skipped("llama-cpp-python does not load (above)")

    label = f"{name} ({path.name})" if preset else str(path)
    try:
        argv = (command or generation_command)(path, settings.cpu_threads)
        done = subprocess.run(argv, capture_output=True,
                              text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return [Check("models", "generation", WARN,
                      f"{label}: a two-token test generation did not finish in {timeout:.0f} s",
                      "close other programs (is memory short?), or use a smaller model "
                      "or --llm-url")]
    if done.returncode < 0:
        sig = cpu.signal_name(done.returncode)
        if sig == "SIGILL":
            return [Check("models", "generation", FAIL,
                          f"{label}: the test generation died with SIGILL (illegal "
                          "instruction): llama-cpp-python was built for instructions this "
                          "CPU does not run, so the local model cannot answer", _rebuild_fix())]
        why = " (out of memory?)" if sig == "SIGKILL" else ""
        return [Check("models", "generation", FAIL,
                      f"{label}: the test generation was killed by {sig}{why}",
                      "close other programs or use a smaller model; if it persists: "
                      + _rebuild_fix())]
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
        fix = (f"assistant pull --model {preset.name}  (downloads it again)" if preset
               else "check the model file, or use a preset")
        return [Check("models", "generation", FAIL,
                      f"{label}: the test generation failed ({last[:200]})", fix)]
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
        timing = (f": loaded in {result['load_s']:.1f} s, 2 tokens in "
                  f"{result['generate_s']:.1f} s")
    except (ValueError, IndexError, KeyError, TypeError):
        timing = ""
    return [Check("models", "generation", OK, f"{label} generates{timing}")]


def _check_tiktoken(models_dir: Path) -> Check:
    from assistant.hub.pull import sha256_file
    from assistant.text.counting import tiktoken_cache_file

    looked_at = tiktoken_cache_file()
    pulled = counting.tiktoken_file(models_dir)
    if looked_at is not None and looked_at.is_file():
        if sha256_file(looked_at) != counting.TIKTOKEN_SHA256:
            return Check("models", "tiktoken", FAIL,
                         f"tiktoken's file {looked_at} is damaged (wrong sha256); tiktoken "
                         "would delete it and try to download it again",
                         f"delete it, then `assistant pull` (or copy a good one to {looked_at})")
        return Check("models", "tiktoken", OK, f"cl100k_base at {looked_at}")
    fallback = "chunk sizes are counted with the embedder's tokenizer instead"
    if pulled.is_file():
        return Check("models", "tiktoken", WARN,
                     f"cl100k_base is in {pulled.parent} but tiktoken looks in "
                     f"{looked_at.parent if looked_at else '(nowhere: caching disabled)'}; "
                     f"{fallback}",
                     f"export TIKTOKEN_CACHE_DIR={pulled.parent.resolve()}")
    return Check("models", "tiktoken", WARN, f"tiktoken's cl100k_base file is missing; {fallback}",
                 "assistant pull  (fetches it into models/tiktoken), or set TIKTOKEN_CACHE_DIR "
                 "to a folder that holds it")


# ------------------------------------------------------------------------------- index


def check_index(settings) -> list[Check]:
    from assistant import store

    index = Path(settings.index)
    db = index / store.DB_NAME
    if not db.is_file():
        return [Check("index", "index", WARN, f"no index in {index} yet",
                      f"assistant index --corpus {settings.corpus} --index {index}")]
    rebuild = f"delete the folder {index} and run `assistant index` (a full re-index)"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as e:
        return [Check("index", "sqlite", FAIL, f"{db} cannot be opened ({e})", rebuild)]
    try:
        return _index_checks(conn, settings, index, rebuild)
    except sqlite3.DatabaseError as e:
        return [Check("index", "sqlite", FAIL, f"{db} is not a readable index ({e})", rebuild)]
    finally:
        conn.close()


def _index_checks(conn, settings, index: Path, rebuild: str) -> list[Check]:
    from assistant import store

    out = []
    result = store.integrity(conn)
    if result != ["ok"]:
        out.append(Check("index", "sqlite", FAIL,
                         "SQLite integrity check failed: " + "; ".join(result[:3]), rebuild))
        return out
    out.append(Check("index", "sqlite", OK, "SQLite integrity check passed"))

    manifest = store.manifest(conn)
    gen = store.generation(conn)
    if not manifest:
        out.append(Check("index", "manifest", FAIL,
                         "the index has no manifest: its first run never finished",
                         "assistant index"))
        return out
    n_docs, n_chunks = store.count(conn, "documents"), store.count(conn, "chunks")
    out.append(Check("index", "manifest", OK,
                     f"{n_docs} documents, {n_chunks} chunks, generation {gen}, embedder "
                     f"{manifest.get('embedder')}, tokens counted with "
                     f"{manifest.get('token_counter')}"))
    mfile = index / "manifest.json"
    try:
        on_disk = json.loads(mfile.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        on_disk = None
    if on_disk is None:
        out.append(Check("index", "manifest.json", WARN, f"{mfile} is missing or unreadable",
                         "assistant index  (writes it again)"))
    elif on_disk.get("generation") != gen:
        out.append(Check("index", "manifest.json", WARN,
                         f"{mfile} is from generation {on_disk.get('generation')}, SQLite is "
                         f"at {gen}", "assistant index  (writes it again)"))

    from assistant.embed.resolve import resolve_embedder

    wanted = resolve_embedder(settings.embedder, Path(settings.models_dir)).name
    if wanted != manifest.get("embedder"):
        out.append(Check("index", "embedder", FAIL,
                         f"the index was built with {manifest.get('embedder')} but the "
                         f"embedder now is {wanted}: searches refuse to run",
                         f"assistant index  (re-embeds every chunk with {wanted}), or set the "
                         "embedder back"))

    missing = store.chunks_missing_vectors(conn)
    if missing:
        out.append(Check("index", "vectors", FAIL,
                         f"{missing} of {n_chunks} chunks have no vector (dense search cannot "
                         "find them)", "assistant index  (embeds just those chunks)"))
    fts, no_fts = store.count(conn, "chunks_fts"), store.chunks_missing_fts(conn)
    if fts != n_chunks or no_fts:
        out.append(Check("index", "full-text", FAIL,
                         f"the full-text index has {fts} rows for {n_chunks} chunks "
                         f"({no_fts} chunks missing from it)", rebuild))
    elif not missing:
        out.append(Check("index", "rows", OK,
                         "every chunk has its vector and its full-text row"))

    out.append(_check_faiss(conn, index, manifest))
    out += _check_fresh(conn, settings)
    return out


def _check_faiss(conn, index: Path, manifest: dict) -> Check:
    from assistant import store

    fix = "assistant index  (rebuilds the FAISS file from SQLite; nothing is re-embedded)"
    try:
        dim = int(manifest["dim"])
        loaded = store.VectorIndex.load(index, dim)
    except ImportError:
        return Check("index", "faiss", FAIL, "faiss is not installed",
                     "run ./install.sh (or pip install faiss-cpu)")
    except (KeyError, ValueError, TypeError):
        return Check("index", "faiss", FAIL, "the manifest records no vector size",
                     "assistant index")
    if loaded is None:
        return Check("index", "faiss", FAIL,
                     f"the FAISS file ({store.FAISS_NAME} + {store.FAISS_META}) is missing or "
                     f"unreadable", fix)
    why = store.faiss_agrees(conn, *loaded)
    if why is not None:
        return Check("index", "faiss", FAIL, f"the FAISS file disagrees with SQLite ({why})",
                     fix)
    return Check("index", "faiss", OK,
                 f"the FAISS file agrees with SQLite ({len(loaded[0])} vectors)")


def _check_fresh(conn, settings) -> list[Check]:
    """Has the corpus changed since the last run? (By content hash, like the indexer.)"""
    from assistant import store
    from assistant.ingest.indexer import max_file_bytes, scan_corpus

    corpus = Path(settings.corpus)
    if not corpus.is_dir():
        return [Check("index", "corpus", WARN, f"the corpus folder {corpus} does not exist",
                      "create it, or pass --corpus DIR")]
    files = scan_corpus(corpus, max_file_bytes(settings), [], exclude=settings.index)
    on_disk = {rel: f.hash for rel, f in files.items()}
    in_db = {path: digest for path, (_, digest) in store.document_ids(conn).items()}
    # A file the last run could not load, unchanged since, is neither new nor changed.
    unloadable = {p: v for p, v in store.skipped_files(conn).items()
                  if on_disk.get(p) == v.get("hash") and p not in in_db}
    new = len(on_disk.keys() - in_db.keys() - unloadable.keys())
    gone = len(in_db.keys() - on_disk.keys())
    changed = sum(1 for p, h in on_disk.items() if p in in_db and in_db[p] != h)
    if new or gone or changed:
        return [Check("index", "corpus", WARN,
                      f"the corpus changed since the last index run ({new} new, "
                      f"{changed} changed, {gone} removed files)",
                      "assistant index  (or run it with --watch to follow changes)")]
    detail = f"the index is up to date with {corpus}"
    if unloadable:
        names = "; ".join(f"{p} ({v.get('reason', 'unreadable')})"
                          for p, v in sorted(unloadable.items())[:3])
        more = f" and {len(unloadable) - 3} more" if len(unloadable) > 3 else ""
        detail += f"; left out as unreadable: {names}{more}"
    return [Check("index", "corpus", OK, detail)]


# -------------------------------------------------------------------------- disk, cpu


def _existing(path: Path) -> Path:
    path = Path(path).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(settings) -> list[Check]:
    out = []
    seen = set()
    for label, folder in (("index", settings.index), ("models", settings.models_dir)):
        where = _existing(Path(folder))
        try:
            usage = shutil.disk_usage(where)
        except OSError:
            continue
        if usage.free in seen:  # the same filesystem: say it once
            continue
        seen.add(usage.free)
        free_gb = usage.free / 1e9
        detail = f"{free_gb:.1f} GB free for the {label} folder ({where})"
        if usage.free < 100e6:
            out.append(Check("disk", label, FAIL, detail + ": index runs will fail",
                             "free some disk space"))
        elif usage.free < 2e9:
            out.append(Check("disk", label, WARN,
                             detail + ": a chat model needs 1-2 GB to download",
                             "free some disk space, or pull with --dir on another disk"))
        else:
            out.append(Check("disk", label, OK, detail))
    return out


def check_cpu(cpuinfo: str | Path = "/proc/cpuinfo") -> list[Check]:
    from assistant.hub.files import memory_mb
    from assistant.hub.presets import PRESETS

    out = []
    cores = os.cpu_count() or 1
    flags = cpu_flags(cpuinfo)
    machine = platform.machine()
    if flags is None:
        out.append(Check("cpu", "features", INFO,
                         f"{cores} CPU threads ({machine}); features unknown on this system"))
    elif machine in ("x86_64", "AMD64", "i686") or "sse2" in flags:
        have = [f for f in CPU_FLAGS if f in flags]
        lacking = [f for f in CPU_FLAGS if f not in flags]
        detail = (f"{cores} CPU threads; " + (", ".join(have) or "none of " + "/".join(CPU_FLAGS))
                  + (f" (no {', '.join(lacking)})" if lacking else ""))
        if "avx2" not in flags:
            out.append(Check("cpu", "features", WARN,
                             detail + ": llama.cpp runs several times slower without AVX2",
                             "prefer the extractive mode or a model server on a faster "
                             "machine (--llm-url)"))
        else:
            out.append(Check("cpu", "features", OK, detail))
    else:
        out.append(Check("cpu", "features", OK, f"{cores} CPU threads ({machine})"))
    total, available = memory_mb()
    if available is not None:
        fits = [p.name for p in PRESETS.values() if p.ram_mb <= available]
        detail = f"{available / 1024:.1f} GB of {total / 1024:.1f} GB memory available"
        if not fits:
            smallest = min(PRESETS.values(), key=lambda p: p.ram_mb)
            out.append(Check("cpu", "memory", WARN,
                             f"{detail}: even {smallest.name} needs about {smallest.ram_mb} MB",
                             "close other programs, or use the extractive mode / --llm-url"))
        else:
            out.append(Check("cpu", "memory", OK, f"{detail}; fits {', '.join(fits)}"))
    return out


def check_build(cpuinfo: str | Path = cpu.PROC_CPUINFO, probe: cpu.Probe | None = None,
                machine: str | None = None) -> list[Check]:
    """Was llama-cpp-python built for the instruction sets this CPU runs?"""
    if probe is None:
        if _version(("llama-cpp-python",)) is None:
            return []
        probe = cpu.probe_build()
    if probe.returncode != 0:  # check_versions says why it does not load
        return []
    report = cpu.check(cpuinfo, probe, machine)
    status = {cpu.OK: OK, cpu.SLOWER: WARN}.get(report.code, FAIL)
    return [Check("cpu", "llama.cpp build", status, report.message,
                  "" if status == OK else _rebuild_fix())]


# ------------------------------------------------------------------------------ output


def exit_code(checks: list[Check], strict: bool = False) -> int:
    bad = (FAIL, WARN) if strict else (FAIL,)
    return 1 if any(c.status in bad for c in checks) else 0


def render(checks: list[Check], lang: str = "en") -> str:
    """The checks as text, in ``lang`` ("zh": the areas, marks and the sentences
    ``i18n.say`` knows in Chinese; the rest, and ``--json``, as they are)."""
    from assistant.app.i18n import say, t

    lines = []
    area = None
    for c in checks:
        if c.area != area:
            area = c.area
            lines.append(t(f"dr_area:{area}", lang))
        lines.append(f"  {t(f'dr_mark:{c.status}', lang)}  {say(c.detail, lang)}")
        if c.fix and c.status in (WARN, FAIL):
            lines.append(f"        {t('dr_fix', lang, fix=say(c.fix, lang))}")
    fails = sum(c.status == FAIL for c in checks)
    warns = sum(c.status == WARN for c in checks)
    if fails or warns:
        lines.append(t("dr_summary", lang, fails=fails, warns=warns,
                       ps="s" * (fails != 1), ws="s" * (warns != 1)))
    else:
        lines.append(t("dr_all_good", lang))
    return "\n".join(lines)


def run_doctor_cli(settings, json_out: bool = False, strict: bool = False,
                   lang: str = "en") -> int:
    """Print the checks (text in ``lang``, or JSON) and return the exit code."""
    checks = run_checks(settings)
    code = exit_code(checks, strict)
    if json_out:
        print(json.dumps({"ok": code == 0, "checks": [asdict(c) for c in checks]},
                         ensure_ascii=False, indent=2))
    else:
        print(render(checks, lang))
    return code
