"""Build llama-cpp-python for the instructions this CPU really runs, and check a build.

llama-cpp-python compiles llama.cpp from source, by default with ``GGML_NATIVE=ON``
(``-march=native``): everything the compiler sees in CPUID. In a VM that is more than the
OS enables (AMX on recent Xeons, where the kernel or the hypervisor never grants the tile
state), and the first token of a quantized model then dies with SIGILL. Here the
instruction sets are chosen from what the OS enables instead (Linux: the flags of
/proc/cpuinfo, which the kernel clears for any feature whose register state it does not
manage), one ggml option each.

pip also reuses a wheel it built earlier, whatever CMAKE_ARGS say now, so the build is
checked after the install: ``llama_cpp.llama_print_system_info()`` names the instruction
sets it was compiled with.

Standard library only: ``install.sh`` runs this file before the package is installed::

    python3 assistant/generate/cpu.py --cmake-args   # CMAKE_ARGS for building llama-cpp-python here
    python3 assistant/generate/cpu.py --check        # does the installed build fit this CPU?

``--check`` exits 0 when the build fits, 1 when it uses instructions this CPU lacks (or
dies on import), 2 when it leaves out fast paths the CPU has, 3 when llama_cpp cannot be
imported at all.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

PROC_CPUINFO = Path("/proc/cpuinfo")
X86 = ("x86_64", "amd64", "i386", "i686", "x86")

# ggml's x86 options (vendor/llama.cpp/ggml/CMakeLists.txt of llama-cpp-python 0.3.x), each
# with the /proc/cpuinfo flags it compiles in (ggml-cpu/CMakeLists.txt: GGML_AVX512 adds
# -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw) and the name
# llama_print_system_info() gives it (None: not reported). Every one is set explicitly:
# with GGML_NATIVE=OFF, SSE42/AVX/AVX2/BMI2/FMA/F16C default to ON, which a CPU without
# AVX2 cannot run.
X86_OPTIONS: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("GGML_SSE42", ("sse4_2",), None),
    ("GGML_AVX", ("avx",), "AVX"),
    ("GGML_AVX2", ("avx2",), "AVX2"),
    ("GGML_BMI2", ("bmi2",), "BMI2"),
    ("GGML_FMA", ("fma",), "FMA"),
    ("GGML_F16C", ("f16c",), "F16C"),
    ("GGML_AVX_VNNI", ("avx_vnni",), "AVX_VNNI"),
    ("GGML_AVX512", ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"), "AVX512"),
    ("GGML_AVX512_VBMI", ("avx512vbmi",), "AVX512_VBMI"),
    ("GGML_AVX512_VNNI", ("avx512_vnni",), "AVX512_VNNI"),
    ("GGML_AVX512_BF16", ("avx512_bf16",), "AVX512_BF16"),
)
# ggml's AVX512 extension kernels sit inside its AVX512F code: on only with GGML_AVX512.
_NEEDS_AVX512 = ("GGML_AVX512_VBMI", "GGML_AVX512_VNNI", "GGML_AVX512_BF16")

# AMX always off. Its tiles need the kernel's permission (arch_prctl ARCH_REQ_XCOMP_PERM)
# and register state that a VM may not enable even where CPUID and /proc/cpuinfo show the
# flags: that is the SIGILL (`tilezero` in ggml_backend_amx_mul_mat) this module exists
# for. Only Xeon server chips have AMX, and there it speeds up prompt reading of some
# quantizations; the AVX512/AVX2 kernels still run everything.
AMX_OFF = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")

# What each name in llama_print_system_info() needs from /proc/cpuinfo to run: x86 "flags"
# and aarch64 "Features". Names not here (LLAMAFILE, OPENMP, REPACK, SVE_CNT, ...) are not
# instruction sets.
RUNS_WITH: dict[str, tuple[str, ...]] = {
    "SSE3": ("pni",),
    "SSSE3": ("ssse3",),
    "AVX": ("avx",),
    "AVX_VNNI": ("avx_vnni",),
    "AVX2": ("avx2",),
    "F16C": ("f16c",),
    "FMA": ("fma",),
    "BMI2": ("bmi2",),
    "AVX512": ("avx512f",),  # reported from __AVX512F__ alone
    "AVX512_VBMI": ("avx512vbmi",),
    "AVX512_VNNI": ("avx512_vnni",),
    "AVX512_BF16": ("avx512_bf16",),
    "AMX_INT8": ("amx_tile", "amx_int8"),
    "NEON": ("asimd",),
    "ARM_FMA": ("asimd",),
    "FP16_VA": ("asimdhp",),
    "DOTPROD": ("asimddp",),
    "MATMUL_INT8": ("i8mm",),
    "SVE": ("sve",),
    "SME": ("sme",),
    "SME2": ("sme2",),
}
# Never accepted in a build, whatever the CPU shows (see AMX_OFF).
NEVER = ("AMX_INT8",)

OK, UNSUPPORTED, SLOWER, NOT_IMPORTABLE = 0, 1, 2, 3


def cpu_flags(cpuinfo: str | Path = PROC_CPUINFO) -> set[str] | None:
    """The CPU's feature flags as the OS enables them (Linux), or None when unknown."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.partition(":")[2].split())
    except OSError:
        return None
    return None


def is_x86(machine: str | None = None) -> bool:
    return (machine if machine is not None else platform.machine()).lower() in X86


def chosen_options(flags: set[str] | None, machine: str | None = None) -> dict[str, bool]:
    """ggml option -> ON/OFF for this CPU; empty where llama.cpp's defaults are kept
    (not x86, or the features are unknown: GGML_NATIVE then asks the compiler)."""
    if flags is None or not is_x86(machine):
        return {}
    out = {"GGML_NATIVE": False}
    for option, needs, _ in X86_OPTIONS:
        out[option] = all(f in flags for f in needs)
    for option in _NEEDS_AVX512:
        out[option] = out[option] and out["GGML_AVX512"]
    out.update(dict.fromkeys(AMX_OFF, False))
    return out


def cmake_args(flags: set[str] | None, machine: str | None = None) -> str:
    """CMAKE_ARGS for building llama-cpp-python on this CPU ("" keeps the defaults)."""
    return " ".join(f"-D{k}={'ON' if v else 'OFF'}"
                    for k, v in chosen_options(flags, machine).items())


def build_features(info: str | bytes) -> set[str]:
    """The CPU instruction sets named in llama_print_system_info()'s text.

    0.3.x prints ``CPU : SSE3 = 1 | AVX = 1 | ... | `` (one ``NAME : `` section per
    backend, only features the build has); 0.2.x printed ``AVX = 1 | AVX512 = 0 | ...``
    with no section. Only CPU sections count (a GPU backend's features are not CPU code).
    """
    if isinstance(info, bytes):
        info = info.decode("utf-8", "replace")
    out: set[str] = set()
    section = "CPU"
    for piece in info.split("|"):
        piece = piece.strip()
        if " : " in piece:
            section, _, piece = piece.partition(" : ")
            section = section.strip()
        name, eq, value = (s.strip() for s in piece.partition("="))
        if eq and section.upper().startswith("CPU") and value not in ("0", ""):
            out.add(name)
    return out


@dataclass
class Probe:
    """What a child process found importing llama_cpp."""

    returncode: int | None  # None: it did not finish in time
    info: str = ""
    error: str = ""


# In a child: this CPU may not run the library's code at all, and a SIGILL must not take
# the caller down. sys.path[0] (the current folder) is dropped so that nothing beside the
# caller shadows a module llama_cpp imports.
_PROBE = (
    "import sys; sys.path = [p for p in sys.path if p not in ('', '.')]\n"
    "import llama_cpp\n"
    "sys.stdout.write(llama_cpp.llama_print_system_info().decode('utf-8', 'replace'))\n"
)


def probe_build(python: str | None = None, timeout: float = 120) -> Probe:
    """Import llama_cpp in a child process and return its system info."""
    try:
        done = subprocess.run([python or sys.executable, "-c", _PROBE], capture_output=True,
                              text=True, timeout=timeout, errors="replace")
    except subprocess.TimeoutExpired:
        return Probe(None, error=f"importing llama_cpp took over {timeout:.0f} s")
    return Probe(done.returncode, done.stdout, done.stderr.strip())


def signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


@dataclass
class Report:
    code: int  # OK, UNSUPPORTED, SLOWER, NOT_IMPORTABLE
    message: str
    unsupported: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    build: set[str] = field(default_factory=set)


def compare(build: set[str], flags: set[str] | None,
            machine: str | None = None) -> tuple[list[str], list[str]]:
    """(instruction sets the build uses that this CPU lacks, fast paths this CPU has that
    the build leaves out). The second is judged on x86 only: elsewhere the build is left
    to GGML_NATIVE."""
    if flags is None:
        return [], []
    unsupported = sorted(n for n in build if n in NEVER
                         or (n in RUNS_WITH and not all(f in flags for f in RUNS_WITH[n])))
    chosen = chosen_options(flags, machine)
    missing = [name for option, _, name in X86_OPTIONS
               if name and chosen.get(option) and name not in build]
    return unsupported, missing


def check(cpuinfo: str | Path = PROC_CPUINFO, probe: Probe | None = None,
          machine: str | None = None) -> Report:
    """Does the installed llama-cpp-python fit this CPU?"""
    probe = probe if probe is not None else probe_build()
    if probe.returncode is not None and probe.returncode < 0:
        return Report(UNSUPPORTED, f"importing llama_cpp died with {signal_name(probe.returncode)}"
                      ": it was built for another CPU")
    if probe.returncode != 0:
        last = probe.error.splitlines()[-1] if probe.error else "no output"
        return Report(NOT_IMPORTABLE, f"llama_cpp cannot be imported ({last[:200]})")
    build = build_features(probe.info)
    flags = cpu_flags(cpuinfo)
    used = ", ".join(sorted(n for n in build if n in RUNS_WITH)) or "no optional instruction sets"
    if flags is None:
        return Report(OK, f"llama.cpp build uses {used}; this CPU's features are unknown "
                      "here, not compared", build=build)
    unsupported, missing = compare(build, flags, machine)
    if unsupported:
        lacking = [n for n in unsupported if n not in NEVER]
        never = [n for n in unsupported if n in NEVER]
        parts = []
        if lacking:
            parts.append(f"{', '.join(lacking)}, which this CPU (as the OS enables it) lacks")
        if never:
            parts.append(f"{', '.join(never)}, which needs the kernel's permission that a VM "
                         "may not grant (never used here)")
        return Report(UNSUPPORTED, f"llama.cpp build uses {'; and '.join(parts)}: a model can "
                      "die with SIGILL (illegal instruction) on its first token",
                      unsupported, missing, build)
    if missing:
        return Report(SLOWER, f"llama.cpp build leaves out {', '.join(missing)}, which this CPU "
                      "has: it runs, but slower", unsupported, missing, build)
    return Report(OK, f"llama.cpp build uses {used}: all run on this CPU", build=build)


def rebuild_command(python: str | None = None, cpuinfo: str | Path = PROC_CPUINFO) -> str:
    """The pip command that rebuilds llama-cpp-python for this CPU, as a shell line.

    --no-cache-dir: pip would otherwise reuse the wheel it built with other flags;
    --no-binary: a wheel from an index would ignore CMAKE_ARGS; --no-deps keeps the
    installed dependencies (the [server] extra's too) as they are.
    """
    try:
        pin = "==" + importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        pin = ">=0.3"
    args = cmake_args(cpu_flags(cpuinfo))
    env = f'CMAKE_ARGS="{args}" ' if args else ""
    return (f"{env}{python or sys.executable} -m pip install --no-cache-dir --force-reinstall "
            f"--no-deps --no-binary llama-cpp-python 'llama-cpp-python{pin}'")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cpu.py", description="llama-cpp-python build flags for this CPU, and a check "
        "of the installed build")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--cmake-args", action="store_true",
                      help="print CMAKE_ARGS for building llama-cpp-python on this CPU")
    what.add_argument("--check", action="store_true",
                      help="exit 0 if the installed build fits this CPU; 1: it uses "
                      "instructions the CPU lacks; 2: it leaves out some it has; "
                      "3: llama_cpp cannot be imported")
    what.add_argument("--rebuild-command", action="store_true",
                      help="print the pip command that rebuilds llama-cpp-python for this CPU")
    parser.add_argument("--cpuinfo", default=str(PROC_CPUINFO), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cmake_args:
        print(cmake_args(cpu_flags(args.cpuinfo)))
        return 0
    if args.rebuild_command:
        print(rebuild_command(cpuinfo=args.cpuinfo))
        return 0
    report = check(args.cpuinfo)
    print(report.message)
    return report.code


if __name__ == "__main__":
    sys.exit(main())
