"""``assistant pull`` and ``assistant models`` against a fake hub on 127.0.0.1: real HTTP,
real progress bars, a resume after a cut connection, checksum rejection, the manifest."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest
from fake_hub import FakeHub

from assistant.app import cli
from assistant.embed.resolve import local_dir_for, resolve_embedder
from assistant.errors import AssistantError
from assistant.hub import files as hub
from assistant.hub import pull
from assistant.hub.presets import PRESETS, Preset
from assistant.settings import Settings
from assistant.text import counting

SHARED_TIKTOKEN = Path("/work/shared/models/tiktoken") / hashlib.sha1(
    counting.TIKTOKEN_URL.encode()).hexdigest()
GGUF_REPO = "TestOrg/Tiny-GGUF"
GGUF_FILE = "tiny-q4_k_m.gguf"
EMB_REPO = "TestOrg/tiny-embedder"
GGUF_BYTES = b"GGUF" + os.urandom(600_000)
EMB_FILES = {
    "modules.json": json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
    ]).encode(),
    "config.json": b'{"model_type": "bert", "hidden_size": 8}',
    "1_Pooling/config.json": b'{"word_embedding_dimension": 8, "pooling_mode_mean_tokens": true}',
    "tokenizer.json": json.dumps({"vocab": {f"w{i}": i for i in range(2000)}}).encode(),
    "model.safetensors": os.urandom(250_000),
    "README.md": "# 一个小模型\n".encode(),
    # Not fetched: other frameworks' copies of the weights, and git metadata.
    "pytorch_model.bin": os.urandom(1000),
    "onnx/model.onnx": os.urandom(1000),
    "tf_model.h5": os.urandom(1000),
    ".gitattributes": b"*.safetensors filter=lfs\n",
}
TINY = Preset(name="tiny-test", label="Tiny (test)", repo_id=GGUF_REPO, filename=GGUF_FILE,
              download_mb=1, ram_mb=10, context_length=256)


def _tiktoken_bytes() -> bytes:
    if SHARED_TIKTOKEN.is_file():
        return SHARED_TIKTOKEN.read_bytes()
    pytest.skip("the shared cl100k_base file is not on this machine")


@pytest.fixture(scope="session")
def fake_hub():
    with FakeHub() as h:
        h.add_repo(GGUF_REPO, {GGUF_FILE: GGUF_BYTES, "README.md": b"tiny"})
        h.add_repo(EMB_REPO, EMB_FILES)
        h.add_raw("/encodings/cl100k_base.tiktoken", _tiktoken_bytes())
        yield h


@pytest.fixture
def env(fake_hub, monkeypatch, tmp_path):
    """Point everything at the fake hub; a fresh models folder and HF cache."""
    import huggingface_hub.constants as hf_constants

    fake_hub.reset()
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.setenv("ASSISTANT_TIKTOKEN_URL", fake_hub.url + "/encodings/cl100k_base.tiktoken")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    # tiktoken's own cache holds nothing to copy from: the file must be downloaded
    (tmp_path / "tiktoken-cache").mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache"))
    monkeypatch.setattr(pull, "RETRY_WAIT", 0.0)
    monkeypatch.setitem(PRESETS, TINY.name, TINY)
    return tmp_path / "models"


def _gets(fake_hub, name):
    return [r for r in fake_hub.requests_for(name) if r["method"] == "GET"]


def _no_parts(models: Path) -> list[Path]:
    return [p for p in models.rglob("*") if p.name.endswith(".part")]


def test_pull_fetches_model_embedder_and_tiktoken(env, fake_hub, capsys):
    models = env
    rc = cli.main(["pull", "--model", TINY.name, "--embedder", EMB_REPO, "--dir", str(models)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    # the files, byte for byte
    assert (models / GGUF_FILE).read_bytes() == GGUF_BYTES
    emb = local_dir_for(EMB_REPO, models)
    assert emb == models / "embedders" / "TestOrg--tiny-embedder"
    for name in ("modules.json", "config.json", "1_Pooling/config.json", "tokenizer.json",
                 "model.safetensors", "README.md"):
        assert (emb / name).read_bytes() == EMB_FILES[name], name
    for skipped in ("pytorch_model.bin", "onnx", "tf_model.h5", ".gitattributes"):
        assert not (emb / skipped).exists(), skipped
    tk = models / "tiktoken" / "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
    assert hashlib.sha256(tk.read_bytes()).hexdigest() == counting.TIKTOKEN_SHA256
    assert not _no_parts(models)
    assert not list((models / "embedders").glob(".*"))  # no staging folder left
    # progress bars on stderr, one per item, each run to 100%
    for desc in (GGUF_FILE, EMB_REPO, "cl100k_base"):
        assert desc in err
    assert err.count("100%") >= 3
    # what was done, on stdout
    assert f"model {TINY.name}: fetched" in out
    assert f"embedder {EMB_REPO}: fetched" in out
    # the token went to the hub
    assert all(r["auth"] == "Bearer hf_test_token" for r in fake_hub.requests
               if r["path"].startswith("/api/"))
    # the resolver finds the pulled embedder
    resolved = resolve_embedder(EMB_REPO, models)
    assert resolved.path == emb and resolved.fallback_from is None

    manifest = json.loads((models / "pull-manifest.json").read_text())["files"]
    rec = manifest[GGUF_FILE]
    assert rec["repo"] == GGUF_REPO and rec["file"] == GGUF_FILE
    assert rec["revision"] == "main" and len(rec["commit"]) == 40
    assert rec["sha256"] == hashlib.sha256(GGUF_BYTES).hexdigest()
    assert rec["size"] == len(GGUF_BYTES) and rec["time"]
    assert manifest["embedders/TestOrg--tiny-embedder/model.safetensors"]["sha256"] == (
        hashlib.sha256(EMB_FILES["model.safetensors"]).hexdigest())
    assert manifest["tiktoken/9b5ad71b2ce5302211f9c61530b329a4922fc6a4"]["sha256"] == (
        counting.TIKTOKEN_SHA256)

    # A second pull finds it all on disk and downloads nothing.
    fake_hub.reset()
    rc = cli.main(["pull", "--model", TINY.name, "--embedder", EMB_REPO, "--dir", str(models)])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert out.count("already on disk") == 3
    assert fake_hub.requests == []


def test_resume_after_a_cut_connection(env, fake_hub):
    fake_hub.cut_once(GGUF_FILE, after=200_000)
    result = pull.pull_model(TINY, env, progress=False)
    assert result.status == "downloaded"
    assert (env / GGUF_FILE).read_bytes() == GGUF_BYTES
    gets = _gets(fake_hub, GGUF_FILE)
    assert [g["range"] for g in gets] == [None, "bytes=200000-"]
    assert not _no_parts(env)


def test_resume_in_a_later_run(env, fake_hub, monkeypatch):
    monkeypatch.setattr(pull, "RETRIES", 0)
    fake_hub.cut_once(GGUF_FILE, after=150_000)
    with pytest.raises(AssistantError) as e:
        pull.pull_model(TINY, env, progress=False)
    assert "resumes" in str(e.value)
    assert not (env / GGUF_FILE).exists()  # nothing under the final name
    part = env / (GGUF_FILE + ".part")
    assert part.read_bytes() == GGUF_BYTES[:150_000]
    assert not (env / "pull-manifest.json").exists()

    fake_hub.reset()
    pull.pull_model(TINY, env, progress=False)
    assert [g["range"] for g in _gets(fake_hub, GGUF_FILE)] == ["bytes=150000-"]
    assert (env / GGUF_FILE).read_bytes() == GGUF_BYTES
    assert not part.exists()


def test_resume_of_the_embedder_and_tiktoken(env, fake_hub):
    fake_hub.cut_once("model.safetensors", after=100_000)
    fake_hub.cut_once("cl100k_base.tiktoken", after=500_000)
    pull.pull(pull.Plan(embedders=[EMB_REPO]), env, progress=False)
    assert [g["range"] for g in _gets(fake_hub, "model.safetensors")] == [None, "bytes=100000-"]
    assert [g["range"] for g in _gets(fake_hub, "cl100k_base.tiktoken")] == [
        None, "bytes=500000-"]
    emb = local_dir_for(EMB_REPO, env)
    assert (emb / "model.safetensors").read_bytes() == EMB_FILES["model.safetensors"]
    assert counting.tiktoken_file(env).read_bytes() == _tiktoken_bytes()


def test_checksum_mismatch_is_rejected(env, fake_hub):
    fake_hub.corrupt(GGUF_FILE)
    with pytest.raises(AssistantError) as e:
        pull.pull_model(TINY, env, progress=False)
    assert "checksum" in str(e.value) and "deleted" in str(e.value)
    assert not (env / GGUF_FILE).exists()
    assert not _no_parts(env)
    assert not (env / "pull-manifest.json").exists()


def test_checksum_mismatch_in_an_embedder_leaves_no_model_folder(env, fake_hub):
    fake_hub.corrupt("model.safetensors")
    with pytest.raises(AssistantError, match="checksum"):
        pull.pull_embedder(EMB_REPO, env, progress=False)
    assert not local_dir_for(EMB_REPO, env).exists()  # the resolver cannot find half a model
    assert not _no_parts(env)
    # A small (non-LFS) file is checked against its git blob id.
    fake_hub.reset()
    fake_hub.corrupt("README.md")  # not fetched yet: it comes after the weights
    with pytest.raises(AssistantError, match="git blob"):
        pull.pull_embedder(EMB_REPO, env, progress=False)
    assert not local_dir_for(EMB_REPO, env).exists()
    # Fixed, it completes, reusing the files already verified.
    fake_hub.reset()
    pull.pull_embedder(EMB_REPO, env, progress=False)
    assert _gets(fake_hub, "README.md") != []
    assert _gets(fake_hub, "model.safetensors") == _gets(fake_hub, "config.json") == []
    assert (local_dir_for(EMB_REPO, env) / "README.md").read_bytes() == EMB_FILES["README.md"]


def test_tiktoken_checksum_mismatch(env, fake_hub):
    fake_hub.corrupt("cl100k_base.tiktoken")
    with pytest.raises(AssistantError, match="checksum"):
        pull.pull_tiktoken(env, progress=False)
    assert not counting.tiktoken_file(env).exists()
    assert not _no_parts(env)


def test_stale_part_file_is_redone_from_scratch(env, fake_hub):
    env.mkdir(parents=True)
    (env / (GGUF_FILE + ".part")).write_bytes(b"not the same file at all" * 100)
    pull.pull_model(TINY, env, progress=False)
    assert [g["range"] for g in _gets(fake_hub, GGUF_FILE)] == ["bytes=2400-", None]
    assert (env / GGUF_FILE).read_bytes() == GGUF_BYTES


def test_a_complete_part_file_is_verified_and_kept(env, fake_hub):
    env.mkdir(parents=True)
    (env / (GGUF_FILE + ".part")).write_bytes(GGUF_BYTES)  # killed just before the rename
    assert pull.pull_model(TINY, env, progress=False).bytes_fetched == 0
    assert [g["range"] for g in _gets(fake_hub, GGUF_FILE)] == [f"bytes={len(GGUF_BYTES)}-"]
    assert (env / GGUF_FILE).read_bytes() == GGUF_BYTES


def test_a_damaged_model_file_is_replaced(env, fake_hub):
    env.mkdir(parents=True)
    (env / GGUF_FILE).write_bytes(GGUF_BYTES[:1000])  # e.g. a copy that stopped half way
    result = pull.pull_model(TINY, env, progress=False)
    assert result.status == "downloaded"
    assert (env / GGUF_FILE).read_bytes() == GGUF_BYTES


def test_a_copied_model_is_verified_not_downloaded(env, fake_hub):
    env.mkdir(parents=True)
    (env / GGUF_FILE).write_bytes(GGUF_BYTES)  # copied by hand: no manifest record
    result = pull.pull_model(TINY, env, progress=False)
    assert result.status == "present"
    assert _gets(fake_hub, GGUF_FILE) == []
    assert json.loads((env / "pull-manifest.json").read_text())["files"][GGUF_FILE]["size"] == (
        len(GGUF_BYTES))


def test_offline_says_what_to_copy(env, fake_hub, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc = cli.main(["pull", "--model", TINY.name, "--dir", str(env)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "needs a network connection" in err and "HF_HUB_OFFLINE" in err
    assert f"{GGUF_REPO}/resolve/main/{GGUF_FILE} -> {env / GGUF_FILE}" in err
    assert "cl100k_base.tiktoken ->" in err
    assert fake_hub.requests == []


def test_offline_with_everything_on_disk_is_fine(env, fake_hub, monkeypatch, capsys):
    pull.pull(pull.Plan(presets=[TINY], embedders=[EMB_REPO]), env, progress=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake_hub.reset()
    results = pull.pull(pull.Plan(presets=[TINY], embedders=[EMB_REPO]), env, progress=False)
    assert [r.status for r in results] == ["present"] * 3
    assert fake_hub.requests == []


def test_no_network(env, monkeypatch, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ASSISTANT_TIKTOKEN_URL", f"http://127.0.0.1:{port}/cl100k_base.tiktoken")
    rc = cli.main(["pull", "--model", TINY.name, "--dir", str(env)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "needs a network connection" in err and "could not reach" in err
    assert not _no_parts(env) if env.exists() else True


def test_unknown_things(env, fake_hub, capsys):
    assert cli.main(["pull", "--model", "no-such-model", "--dir", str(env)]) == 1
    assert "unknown model preset" in capsys.readouterr().err
    with pytest.raises(AssistantError, match="not found"):
        pull.pull_embedder("TestOrg/missing", env, progress=False)


def test_download_model_file_uses_the_same_transfer(env, fake_hub):
    path = pull.download_model_file(TINY, env, progress=False)
    assert path == env / GGUF_FILE and path.read_bytes() == GGUF_BYTES
    assert hub.find_model_file(TINY.name, env) == path


def test_download_model_file_failure_is_a_clear_error(env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AssistantError) as e:
        pull.download_model_file(TINY, env, progress=False)
    assert GGUF_FILE in e.value.message and GGUF_REPO in e.value.message
    assert "HF_HUB_OFFLINE" in e.value.message
    assert "HF_ENDPOINT" in e.value.hint


def test_resolve_generator_downloads_only_when_allowed(env, fake_hub, tmp_path, monkeypatch):
    from tiny_gguf import build_tiny_gguf

    from assistant.generate import resolve_generator
    from assistant.generate.local import LlamaCppGenerator

    preset = PRESETS["qwen2-1.5b-instruct"]
    data = build_tiny_gguf(tmp_path / "tiny.gguf").read_bytes()
    fake_hub.add_repo(preset.repo_id, {preset.filename: data})
    settings = Settings(models_dir=env, model=preset.name, threads=1, model_in_process=True)
    assert resolve_generator(settings) is None  # answering never downloads
    assert fake_hub.requests == []
    gen = resolve_generator(settings, allow_download=True)
    assert isinstance(gen, LlamaCppGenerator)
    assert (env / preset.filename).read_bytes() == data
    assert _gets(fake_hub, preset.filename)


def test_one_failure_does_not_stop_the_rest(env, fake_hub, capsys):
    rc = cli.main(["pull", "--model", TINY.name, "--embedder", "TestOrg/missing",
                   "--dir", str(env), "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "Error: the repository TestOrg/missing was not found" in err
    assert f"model {TINY.name}: fetched" in out and "tiktoken cl100k_base: fetched" in out
    assert (env / GGUF_FILE).is_file() and counting.tiktoken_file(env).is_file()


def test_gated_repository_needs_a_token(env, fake_hub, monkeypatch, tmp_path):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    repo = fake_hub.add_repo("Gated/emb", EMB_FILES)
    fake_hub.gate(repo.repo_id, "hf_right")
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(AssistantError) as e:
        pull.pull_embedder(repo.repo_id, env, progress=False)
    assert "needs permission (401" in e.value.message and "HF_TOKEN" in e.value.hint
    monkeypatch.setenv("HF_TOKEN", "hf_right")
    assert pull.pull_embedder(repo.repo_id, env, progress=False).status == "downloaded"
    # The token goes to the hub, never to the CDN host the LFS files are redirected to.
    assert all(r["auth"] is None for r in fake_hub.requests if r["path"].startswith("/cdn/"))
    assert any(r["auth"] == "Bearer hf_right" for r in fake_hub.requests)


def test_one_pull_at_a_time(env, fake_hub):
    with pull.pull_lock(env), pytest.raises(AssistantError, match="another `assistant pull`"):
        pull.pull(pull.Plan(presets=[TINY]), env, progress=False)


def test_tiktoken_is_copied_from_tiktokens_own_cache(env, fake_hub, monkeypatch, capsys):
    _tiktoken_bytes()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(SHARED_TIKTOKEN.parent))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no network needed for that
    result = pull.pull_tiktoken(env, progress=False)
    assert result.status == "copied" and str(SHARED_TIKTOKEN) in result.note
    assert counting.tiktoken_file(env).read_bytes() == SHARED_TIKTOKEN.read_bytes()
    assert fake_hub.requests == []


def test_models_tiktoken_is_used_when_nothing_else_is_configured(env, monkeypatch):
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR")
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    assert not counting.use_models_tiktoken(env)  # nothing pulled yet
    pull.pull_tiktoken(env, progress=False)
    assert counting.use_models_tiktoken(env)
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(counting.tiktoken_dir(env).resolve())
    import tiktoken

    from assistant.text.counting import tiktoken_cache_file

    assert tiktoken_cache_file() == counting.tiktoken_file(env).resolve()
    assert tiktoken.get_encoding("cl100k_base").encode("离线 offline")


def test_plan_defaults():
    p = pull.plan()
    assert [x.name for x in p.presets] == ["qwen2.5-1.5b-instruct"]
    assert p.embedders == ["intfloat/multilingual-e5-small"] and p.tiktoken
    p = pull.plan(embedder="BAAI/bge-small-zh-v1.5")
    assert p.presets == [] and p.embedders == ["BAAI/bge-small-zh-v1.5"]
    assert len(pull.plan(everything=True).presets) == len(
        [n for n in PRESETS if n != TINY.name])
    assert pull.plan(default_model="").presets == []


def test_models_lists_what_is_on_disk(env, fake_hub, capsys):
    pull.pull(pull.Plan(presets=[TINY], embedders=[EMB_REPO]), env, progress=False)
    (env / "stray.gguf.part").write_bytes(b"GGUF")
    rc = cli.main(["models", "--dir", str(env), "--json"])
    inv = json.loads(capsys.readouterr().out)
    assert rc == 0
    tiny = next(p for p in inv["presets"] if p["name"] == TINY.name)
    assert tiny["path"] == str(env / GGUF_FILE) and tiny["download_mb"] == 1
    qwen = next(p for p in inv["presets"] if p["name"] == "qwen2.5-1.5b-instruct")
    assert qwen["path"] is None and qwen["ram_mb"] > 0
    assert {e["name"] for e in inv["embedders"]} >= {EMB_REPO,
                                                      "sentence-transformers/all-MiniLM-L6-v2"}
    assert inv["tiktoken"]["present"]
    assert inv["partial_downloads"] == [str(env / "stray.gguf.part")]
    rc = cli.main(["models", "--dir", str(env)])
    out = capsys.readouterr().out
    assert "tiny-test" in out and "present:" in out and "download  1120 MB" in out
    assert "unfinished downloads" in out


def test_huggingface_hub_itself_works_against_the_fake_hub(env, fake_hub, monkeypatch):
    """The fake hub is realistic enough for huggingface_hub (which reads HF_ENDPOINT once,
    at import: hence the patched constants), and what it caches is found offline."""
    import huggingface_hub.constants as hf_constants
    from huggingface_hub import snapshot_download

    monkeypatch.setattr(hf_constants, "ENDPOINT", fake_hub.url)
    monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        fake_hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    snapshot_download(GGUF_REPO, allow_patterns=[GGUF_FILE])
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    found = hub.find_model_file(TINY, env)
    assert found is not None and found.read_bytes() == GGUF_BYTES
    inv = hub.inventory(env)
    assert any(g["where"] == "hf-cache" and g["repo"] == GGUF_REPO for g in inv["gguf"])
    assert pull.pull_model(TINY, env, progress=False).status == "present"
