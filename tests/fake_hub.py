"""A fake Hugging Face hub on 127.0.0.1, for testing downloads for real.

It serves what ``assistant pull`` (and huggingface_hub) ask a hub for:

- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}``: the file list
  with sizes, git blob ids and, for LFS files, their sha256 (as ``?blobs=true`` does);
- ``GET|HEAD /{repo}/resolve/{rev}/{path}``: small files directly (``ETag`` = blob id),
  LFS files by a 302 to ``/cdn/{sha256}`` with ``X-Linked-Etag`` / ``X-Linked-Size``,
  like the real hub;
- any other path added with :meth:`FakeHub.add_raw` (tiktoken's file).

Every byte-serving route honours ``Range: bytes=a-`` / ``bytes=a-b`` (206, or 416 past
the end). Two switches make it misbehave: :meth:`FakeHub.cut_once` sends the full
``Content-Length`` but closes the connection after N bytes, once; :meth:`FakeHub.corrupt`
serves the file with a byte flipped (same length) until reset. ``requests`` records
every request with its ``Range`` header.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

LFS_PATTERNS = ("*.gguf", "*.safetensors", "*.bin", "*.onnx", "*.h5")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


@dataclass
class FakeFile:
    path: str
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def sibling(self) -> dict:
        out = {"rfilename": self.path, "size": len(self.data)}
        if self.lfs:
            pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                       f"size {len(self.data)}\n").encode()
            out["blobId"] = git_blob_id(pointer)
            out["lfs"] = {"sha256": self.sha256, "size": len(self.data),
                          "pointerSize": len(pointer)}
        else:
            out["blobId"] = git_blob_id(self.data)
        return out


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, FakeFile]
    commit: str = field(default="")

    def __post_init__(self):
        if not self.commit:
            h = hashlib.sha1(self.repo_id.encode())
            for f in sorted(self.files):
                h.update(self.files[f].data)
            self.commit = h.hexdigest()


class FakeHub:
    """Start with :meth:`start` (or as a context manager); ``url`` is the endpoint."""

    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.raw: dict[str, bytes] = {}
        self.requests: list[dict] = []
        self._cuts: dict[str, int] = {}
        self._corrupt: set[str] = set()
        self.tokens: dict[str, str] = {}  # gated repositories: repo id -> the token it wants
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- content ------------------------------------------------------------------
    def add_repo(self, repo_id: str, files: dict[str, bytes],
                 lfs: tuple[str, ...] = LFS_PATTERNS) -> FakeRepo:
        repo = FakeRepo(repo_id, {
            p: FakeFile(p, d, any(fnmatch.fnmatch(p, pat) for pat in lfs))
            for p, d in files.items()
        })
        self.repos[repo_id] = repo
        return repo

    def add_raw(self, path: str, data: bytes) -> str:
        self.raw[path] = data
        return self.url + path

    def gate(self, repo_id: str, token: str) -> None:
        """Answer 401 (``X-Error-Code: GatedRepo``) unless ``Bearer <token>`` is sent."""
        self.tokens[repo_id] = token

    # -- switches -------------------------------------------------------------------
    def cut_once(self, name: str, after: int) -> None:
        """The next response for a file called ``name`` stops after ``after`` bytes."""
        with self._lock:
            self._cuts[name] = after

    def corrupt(self, name: str) -> None:
        """Serve ``name`` with one byte flipped (same size) until :meth:`reset`."""
        with self._lock:
            self._corrupt.add(name)

    def reset(self) -> None:
        with self._lock:
            self._cuts.clear()
            self._corrupt.clear()
            self.requests.clear()

    def requests_for(self, name: str) -> list[dict]:
        """The requests that were answered with (some of) the bytes of file ``name``."""
        return [r for r in self.requests if r.get("name") == name and r.get("served")]

    # -- server -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake hub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- used by the handler -------------------------------------------------------------
    def _take_cut(self, name: str) -> int | None:
        with self._lock:
            return self._cuts.pop(name, None)

    def _is_corrupt(self, name: str) -> bool:
        with self._lock:
            return name in self._corrupt

    def _lfs_by_sha(self, sha: str) -> FakeFile | None:
        for repo in self.repos.values():
            for f in repo.files.values():
                if f.lfs and f.sha256 == sha:
                    return f
        return None


def _tree(repo: FakeRepo, under: str) -> list[dict]:
    """``/api/models/{repo}/tree/{rev}/{path}?recursive=true``: files and folders."""
    prefix = f"{under}/" if under else ""
    out: list[dict] = []
    folders: set[str] = set()
    for f in repo.files.values():
        if not f.path.startswith(prefix):
            continue
        parts = f.path.split("/")
        for k in range(1, len(parts)):
            folders.add("/".join(parts[:k]))
        s = f.sibling()
        entry = {"type": "file", "oid": s["blobId"], "size": s["size"], "path": f.path}
        if f.lfs:
            entry["lfs"] = {"oid": f.sha256, "size": len(f.data),
                            "pointerSize": s["lfs"]["pointerSize"]}
        out.append(entry)
    out += [{"type": "directory", "oid": git_blob_id(d.encode()), "size": 0, "path": d}
            for d in sorted(folders) if d.startswith(prefix)]
    return out


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet
        pass

    def do_HEAD(self):
        self._route(head=True)

    def do_GET(self):
        self._route(head=False)

    # -- routing ----------------------------------------------------------------------
    def _route(self, head: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        entry = {"method": self.command, "path": path, "range": self.headers.get("range"),
                 "auth": self.headers.get("authorization"), "name": None, "served": False}
        self._entry = entry
        self.fake.requests.append(entry)
        if path.startswith("/api/models/"):
            return self._api(path[len("/api/models/"):])
        if path.startswith("/cdn/"):
            f = self.fake._lfs_by_sha(path[len("/cdn/"):])
            if f is None:
                return self._error(404, "EntryNotFound")
            entry["name"] = f.path.rsplit("/", 1)[-1]
            return self._bytes(f.data, entry["name"], head, {"ETag": f'"{f.sha256}"'})
        if path in self.fake.raw:
            entry["name"] = path.rsplit("/", 1)[-1]
            return self._bytes(self.fake.raw[path], entry["name"], head, {})
        parts = path.lstrip("/").split("/")
        if len(parts) >= 5 and parts[2] == "resolve":
            repo = self.fake.repos.get(f"{parts[0]}/{parts[1]}")
            if repo is None:
                return self._error(404, "RepositoryNotFound")
            if self._denied(repo):
                return None
            if parts[3] not in ("main", repo.commit):
                return self._error(404, "RevisionNotFound")
            f = repo.files.get("/".join(parts[4:]))
            if f is None:
                return self._error(404, "EntryNotFound")
            entry["name"] = f.path.rsplit("/", 1)[-1]
            common = {"X-Repo-Commit": repo.commit}
            if f.lfs:
                self.send_response(302)
                # To another host name, like the hub's redirect to its CDN: huggingface_hub
                # reads the file's metadata from this answer, and clients drop the token.
                cdn = f"http://localhost:{self.server.server_address[1]}/cdn/{f.sha256}"
                for k, v in {**common, "Location": cdn,
                             "X-Linked-Etag": f'"{f.sha256}"',
                             "X-Linked-Size": str(len(f.data)),
                             "ETag": f'"{f.sha256}"', "Content-Length": "0"}.items():
                    self.send_header(k, v)
                self.end_headers()
                return None
            return self._bytes(f.data, entry["name"], head,
                               {**common, "ETag": f'"{git_blob_id(f.data)}"'})
        return self._error(404, "EntryNotFound")

    def _denied(self, repo: FakeRepo) -> bool:
        wanted = self.fake.tokens.get(repo.repo_id)
        if wanted is None or self.headers.get("authorization") == f"Bearer {wanted}":
            return False
        self._error(401, "GatedRepo")
        return True

    def _api(self, rest: str) -> None:
        parts = rest.strip("/").split("/")
        repo = self.fake.repos.get("/".join(parts[:2]))
        if repo is None:
            return self._error(404, "RepositoryNotFound")
        if self._denied(repo):
            return None
        kind, rev = (parts[2], parts[3]) if len(parts) >= 4 else ("revision", "main")
        if rev not in ("main", repo.commit) or kind not in ("revision", "tree"):
            return self._error(404, "RevisionNotFound")
        if kind == "tree":  # huggingface_hub's snapshot_download lists files this way
            data: object = _tree(repo, "/".join(parts[4:]))
        else:
            data = {
                "id": repo.repo_id, "modelId": repo.repo_id, "sha": repo.commit,
                "private": False, "gated": False, "tags": [],
                "siblings": [f.sibling() for f in repo.files.values()],
            }
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None

    def _error(self, status: int, code: str) -> None:
        body = json.dumps({"error": code}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _bytes(self, data: bytes, name: str, head: bool, headers: dict[str, str]) -> None:
        self._entry["served"] = True
        if self.fake._is_corrupt(name) and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        total = len(data)
        start, end = 0, total - 1
        status = 200
        rng = self.headers.get("range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[len("bytes="):].partition("-")
            start = int(a) if a else 0
            end = min(int(b), total - 1) if b else total - 1
            if start >= total:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{total}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:end + 1]
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
        self.end_headers()
        if head:
            return
        cut = self.fake._take_cut(name)
        if cut is not None and cut < len(body):
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)
