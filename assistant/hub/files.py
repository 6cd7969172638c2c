"""Model files on disk: find them, and (only when asked) talk to the model hub.

A GGUF is looked for, in order, as an explicit path, as ``models_dir/<file>``, and in
the Hugging Face cache. Nothing here downloads or connects unless a function that says
so is called (``assistant pull``, ``hub.pull.download_model_file``): an answer must
never wait on a download.

The hub is spoken to directly over HTTP (``{HF_ENDPOINT}/api/models/...`` and
``{HF_ENDPOINT}/{repo}/resolve/{revision}/{file}``), so that ``assistant pull`` controls
resuming and checksums itself. ``HF_ENDPOINT`` (a mirror), ``HF_TOKEN`` and
``HF_HUB_OFFLINE`` are read when each call is made, not when this module is imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from assistant.errors import AssistantError
from assistant.hub.presets import Preset, get_preset

DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "on", "yes", "true"}


# --------------------------------------------------------------------- files on disk


def find_model_file(preset_or_path: Preset | str | Path, models_dir: str | Path) -> Path | None:
    """The GGUF file for a preset (or a preset name, or a path), if it is on disk.

    A path is taken as given (``~`` expanded), then relative to ``models_dir``. A preset
    is found as ``models_dir/<filename>`` (where ``assistant pull`` puts it) or in the
    Hugging Face cache (where other tools put it). Returns None when it is nowhere.
    """
    preset = preset_or_path if isinstance(preset_or_path, Preset) else None
    if preset is None and isinstance(preset_or_path, str):
        preset = get_preset(preset_or_path)
    models_dir = Path(models_dir).expanduser()
    if preset is None:
        path = Path(preset_or_path).expanduser()
        for candidate in (path, models_dir / path):
            if candidate.is_file():
                return candidate
        return None
    local = models_dir / preset.filename
    if local.is_file():
        return local
    return _from_hf_cache(preset)


def _from_hf_cache(preset: Preset) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    # Returns a path (str) when cached, None when unknown, or a sentinel object when the
    # hub said the file does not exist: only a str is a file we can use.
    cached = try_to_load_from_cache(preset.repo_id, preset.filename)
    if isinstance(cached, str) and Path(cached).is_file():
        return Path(cached)
    return None


# ---------------------------------------------------------------------- the hub API


def hub_endpoint() -> str:
    """``HF_ENDPOINT`` (a mirror) or huggingface.co, read now."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set to a true value, now."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in _TRUE


def hub_headers() -> dict[str, str]:
    """Headers for requests to the hub: a user agent and the token, if there is one."""
    from assistant import __version__ as version

    headers = {"user-agent": f"assistant/{version}"}
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if not token:
        try:
            from huggingface_hub import get_token

            token = get_token()
        except Exception:
            token = None
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


def resolve_url(repo_id: str, filename: str, revision: str = "main") -> str:
    """The download URL of one file of a model repository."""
    return (
        f"{hub_endpoint()}/{repo_id}/resolve/{quote(revision, safe='')}/"
        f"{quote(filename, safe='/')}"
    )


@dataclass(frozen=True)
class RemoteFile:
    path: str  # inside the repository, "/"-separated
    size: int | None
    sha256: str | None  # LFS files: the sha256 of the content
    blob_id: str | None  # any file: its git blob id (sha1 of "blob <size>\\0" + content)


@dataclass(frozen=True)
class RepoInfo:
    repo_id: str
    revision: str  # what was asked for, e.g. "main"
    commit: str | None  # what it resolved to
    files: tuple[RemoteFile, ...]

    def file(self, path: str) -> RemoteFile | None:
        return next((f for f in self.files if f.path == path), None)


class HubUnreachable(AssistantError):
    """The hub (or a download site) could not be reached at all: no network, DNS, proxy."""


def repo_info(repo_id: str, revision: str = "main", client=None) -> RepoInfo:
    """List a model repository's files with sizes and checksums (one API call).

    Raises :class:`HubUnreachable` without a connection, AssistantError for a missing,
    private or gated repository.
    """
    import httpx

    url = f"{hub_endpoint()}/api/models/{repo_id}/revision/{quote(revision, safe='')}"
    own = client is None
    client = client or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0),
                                    follow_redirects=True)
    try:
        r = client.get(url, params={"blobs": "true"}, headers=hub_headers())
    except httpx.TransportError as e:
        raise unreachable(hub_endpoint(), e) from e
    finally:
        if own:
            client.close()
    check_status(r, f"the repository {repo_id}")
    try:
        data = r.json()
        files = tuple(
            RemoteFile(
                path=s["rfilename"],
                size=s.get("size") if s.get("size") is not None else (s.get("lfs") or {}).get(
                    "size"),
                sha256=(s.get("lfs") or {}).get("sha256"),
                blob_id=s.get("blobId"),
            )
            for s in data.get("siblings") or []
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise AssistantError(
            f"{hub_endpoint()} answered the file list of {repo_id} with something that is "
            f"not a model listing ({type(e).__name__})",
            hint="check HF_ENDPOINT: it must be the Hugging Face hub or a mirror of it",
        ) from e
    return RepoInfo(repo_id, revision, data.get("sha"), files)


def check_status(r, what: str) -> None:
    """Turn an HTTP error answer into an AssistantError that says what to do."""
    if r.status_code < 400:
        return
    code = r.headers.get("x-error-code", "")
    if r.status_code in (401, 403) or code == "GatedRepo":
        raise AssistantError(
            f"{what} needs permission ({r.status_code} from {r.request.url.host})",
            hint="accept the model's licence on its hub page and set HF_TOKEN to an access "
            "token of that account",
        )
    if r.status_code == 404:
        raise AssistantError(
            f"{what} was not found at {r.request.url.host} (404 {code})".replace(" )", ")"),
            hint="check the name (and HF_ENDPOINT, if you use a mirror)",
        )
    raise AssistantError(
        f"{what}: the server answered {r.status_code} {r.reason_phrase}",
        hint="try again later (a download resumes where it stopped)",
        status=502,
    )


def unreachable(where: str, error: BaseException) -> HubUnreachable:
    return HubUnreachable(
        f"could not reach {where} ({type(error).__name__}: {first_line(error)})",
        hint="`assistant pull` needs a network connection (HF_ENDPOINT selects a mirror)",
        status=503,
    )


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "no details"


# ------------------------------------------------------------------ what is on disk


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def memory_mb() -> tuple[int | None, int | None]:
    """(total, available) memory in MB from /proc/meminfo; None where unknown."""
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                values[key] = int(rest.split()[0]) // 1024
    except (OSError, ValueError, IndexError):
        return None, None
    return values.get("MemTotal"), values.get("MemAvailable")


def inventory(models_dir: str | Path) -> dict:
    """What is on disk for ``assistant models``: GGUFs (``models/`` and the Hugging Face
    cache), embedders, tiktoken's file, unfinished downloads, and every preset with what
    it needs. Reads the disk only: nothing connects.
    """
    from assistant.embed.resolve import FALLBACK_NAME, is_model_folder, packaged_minilm_path
    from assistant.hub.presets import DEFAULT_PRESET, PRESETS

    models_dir = Path(models_dir).expanduser()
    ggufs: list[dict] = []
    embedders: list[dict] = []
    partial: list[str] = []
    if models_dir.is_dir():
        for p in sorted(models_dir.rglob("*.gguf")):
            if not any(part.startswith(".") for part in p.relative_to(models_dir).parts):
                ggufs.append({"path": str(p), "size": p.stat().st_size, "where": "models"})
        emb_root = models_dir / "embedders"
        if emb_root.is_dir():
            for d in sorted(emb_root.iterdir()):
                if d.is_dir() and not d.name.startswith(".") and is_model_folder(d):
                    embedders.append({"name": d.name.replace("--", "/", 1), "path": str(d),
                                      "size": _size(d), "where": "models"})
        partial = sorted(
            str(p) for p in models_dir.rglob("*")
            if p.name.endswith((".part", ".partial"))
        )
    for repo_id, files, repo_path, size in _hf_cache_models():
        for f in files:
            if f.endswith(".gguf"):
                ggufs.append({"path": f, "size": Path(f).stat().st_size, "where": "hf-cache",
                              "repo": repo_id})
        if any(Path(f).name == "modules.json" for f in files):
            embedders.append({"name": repo_id, "path": repo_path, "size": size,
                              "where": "hf-cache"})
    with_minilm = [*embedders, {"name": FALLBACK_NAME, "path": str(packaged_minilm_path()),
                                "size": None, "where": "packaged"}]
    from assistant.text.counting import tiktoken_cache_file, tiktoken_file

    tk = tiktoken_file(models_dir)

    looked_at = tiktoken_cache_file()
    presets = []
    for p in PRESETS.values():
        found = find_model_file(p, models_dir)
        presets.append({
            "name": p.name, "label": p.label, "repo": p.repo_id, "file": p.filename,
            "download_mb": p.download_mb, "ram_mb": p.ram_mb, "context": p.context_length,
            "default": p.name == DEFAULT_PRESET, "path": str(found) if found else None,
        })
    total, available = memory_mb()
    return {
        "models_dir": str(models_dir),
        "gguf": ggufs,
        "embedders": with_minilm,
        "tiktoken": {
            "path": str(tk), "present": tk.is_file(),
            "tiktoken_looks_at": str(looked_at) if looked_at else None,
            "found_by_tiktoken": bool(looked_at and looked_at.is_file()),
        },
        "partial_downloads": partial,
        "presets": presets,
        "memory_mb": {"total": total, "available": available},
    }


def _hf_cache_models() -> list[tuple[str, list[str], str, int]]:
    """(repo id, file paths, snapshot folder, size) of the models in the HF cache."""
    try:
        from huggingface_hub import constants, scan_cache_dir

        # The folder try_to_load_from_cache uses (scan_cache_dir's default is frozen at
        # import time).
        info = scan_cache_dir(constants.HF_HUB_CACHE)
    except Exception:  # no cache yet, or an unreadable one: nothing there for us
        return []
    out = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        for rev in repo.revisions:
            files = [str(f.file_path) for f in rev.files]
            out.append((repo.repo_id, files, str(rev.snapshot_path), rev.size_on_disk))
    return out
