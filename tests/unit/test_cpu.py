"""assistant/generate/cpu.py: build flags chosen from made-up /proc/cpuinfo text, and builds
(llama_print_system_info() strings) checked against CPUs. No build needed, except the
last test, which checks the installed one."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.generate import cpu

CPU_PY = Path(cpu.__file__)

# This 2-core VM (AMD EPYC): AVX2, no AVX512, no AMX.
EPYC = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx "
        "fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good "
        "nopl pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx "
        "f16c rdrand hypervisor lahf_lm abm sse4a bmi1 avx2 smep bmi2 erms invpcid rdseed adx "
        "smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves vaes vpclmulqdq rdpid fsrm")
# A Sapphire Rapids Xeon whose kernel shows AMX.
XEON = EPYC + (" avx512f avx512dq avx512cd avx512bw avx512vl avx512vbmi avx512_vnni "
               "avx512_bf16 avx_vnni amx_tile amx_int8 amx_bf16")
# Before AVX2 (Sandy Bridge).
OLD = "fpu sse sse2 pni ssse3 sse4_1 sse4_2 popcnt avx"
ARM = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm asimddp"

# What llama-cpp-python 0.3.x prints: one "NAME : " section per backend, features it has.
EPYC_BUILD = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
              "BMI2 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")
# -march=native on the Xeon.
NATIVE_XEON = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | "
               "FMA = 1 | BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | "
               "AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")


def cpuinfo(tmp_path: Path, flags: str, key: str = "flags") -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: AuthenticAMD\n{key}\t\t: {flags}\n"
                    f"bogomips\t: 4890.81\n\nprocessor\t: 1\n{key}\t\t: {flags}\n")
    return path


def options(args: str) -> dict[str, str]:
    return dict(a.removeprefix("-D").split("=") for a in args.split())


def test_flags_come_from_the_first_flags_line(tmp_path):
    assert cpu.cpu_flags(cpuinfo(tmp_path, "sse2 avx2 fma")) == {"sse2", "avx2", "fma"}
    assert cpu.cpu_flags(cpuinfo(tmp_path, ARM, key="Features")) >= {"asimd", "asimddp"}
    (tmp_path / "none").write_text("processor\t: 0\nmodel name\t: something\n")
    assert cpu.cpu_flags(tmp_path / "none") is None
    assert cpu.cpu_flags(tmp_path / "absent") is None


def test_this_vm_gets_avx2_and_nothing_it_lacks():
    opts = options(cpu.cmake_args(set(EPYC.split()), "x86_64"))
    assert opts["GGML_NATIVE"] == "OFF"
    on = {k for k, v in opts.items() if v == "ON"}
    assert on == {"GGML_SSE42", "GGML_AVX", "GGML_AVX2", "GGML_BMI2", "GGML_FMA", "GGML_F16C"}
    # Every option is said, not left to a default (GGML_NATIVE=OFF turns AVX2 on by default).
    assert {o for o, _, _ in cpu.X86_OPTIONS} | set(cpu.AMX_OFF) <= opts.keys()


def test_a_xeon_gets_avx512_and_its_extensions_but_never_amx():
    opts = options(cpu.cmake_args(set(XEON.split()), "x86_64"))
    for o in ("GGML_AVX512", "GGML_AVX512_VBMI", "GGML_AVX512_VNNI", "GGML_AVX512_BF16",
              "GGML_AVX_VNNI", "GGML_AVX2"):
        assert opts[o] == "ON", o
    assert [opts[o] for o in ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")] == ["OFF"] * 3


def test_avx512_only_with_all_five_parts_and_extensions_only_with_it():
    # A VM that passes avx512f and avx512_vnni through but hides avx512bw.
    flags = set(EPYC.split()) | {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512_vnni"}
    opts = options(cpu.cmake_args(flags, "x86_64"))
    assert opts["GGML_AVX512"] == "OFF" and opts["GGML_AVX512_VNNI"] == "OFF"


def test_a_cpu_without_avx2_turns_the_defaults_off():
    opts = options(cpu.cmake_args(set(OLD.split()), "x86_64"))
    assert opts["GGML_AVX"] == "ON" and opts["GGML_SSE42"] == "ON"
    assert all(opts[o] == "OFF" for o in ("GGML_AVX2", "GGML_FMA", "GGML_F16C", "GGML_BMI2"))


def test_not_x86_or_unknown_keeps_llama_cpps_defaults():
    assert cpu.cmake_args(set(ARM.split()), "aarch64") == ""
    assert cpu.cmake_args(None, "x86_64") == ""


def test_build_features_parses_both_formats():
    assert cpu.build_features(EPYC_BUILD) == {"SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA",
                                              "BMI2", "LLAMAFILE", "OPENMP", "REPACK"}
    assert cpu.build_features(EPYC_BUILD.encode()) == cpu.build_features(EPYC_BUILD)
    # 0.2.x: no section, every feature with 0 or 1.
    old = "AVX = 1 | AVX_VNNI = 0 | AVX2 = 1 | AVX512 = 0 | FMA = 1 | NEON = 0 | SSE3 = 1 | "
    assert cpu.build_features(old) == {"AVX", "AVX2", "FMA", "SSE3"}
    # A GPU backend's section says nothing about the CPU code.
    two = "CUDA : ARCHS = 860 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | " + EPYC_BUILD
    assert cpu.build_features(two) == cpu.build_features(EPYC_BUILD)


def _check(tmp_path, flags: str, info: str, returncode: int = 0, machine="x86_64"):
    return cpu.check(cpuinfo(tmp_path, flags), cpu.Probe(returncode, info), machine)


def test_a_build_for_this_cpu_passes(tmp_path):
    report = _check(tmp_path, EPYC, EPYC_BUILD)
    assert report.code == cpu.OK, report
    assert "AVX2" in report.message and "LLAMAFILE" not in report.message


def test_a_native_xeon_build_on_this_vm_names_what_it_lacks(tmp_path):
    report = _check(tmp_path, EPYC, NATIVE_XEON)
    assert report.code == cpu.UNSUPPORTED
    assert report.unsupported == ["AMX_INT8", "AVX512", "AVX512_BF16", "AVX512_VBMI",
                                  "AVX512_VNNI", "AVX_VNNI"]
    assert "AVX512, AVX512_BF16" in report.message and "SIGILL" in report.message


def test_amx_in_a_build_is_refused_even_where_the_cpu_shows_it(tmp_path):
    report = _check(tmp_path, XEON, NATIVE_XEON)
    assert report.code == cpu.UNSUPPORTED and report.unsupported == ["AMX_INT8"]
    assert "kernel's permission" in report.message
    without_amx = NATIVE_XEON.replace("AMX_INT8 = 1 | ", "")
    assert _check(tmp_path, XEON, without_amx).code == cpu.OK


def test_a_build_that_leaves_out_fast_paths_is_slower(tmp_path):
    generic = "CPU : SSE3 = 1 | SSSE3 = 1 | LLAMAFILE = 1 | OPENMP = 1 | "
    report = _check(tmp_path, EPYC, generic)
    assert report.code == cpu.SLOWER
    assert report.missing == ["AVX", "AVX2", "BMI2", "FMA", "F16C"]
    # Elsewhere GGML_NATIVE decides: only what the build uses is checked.
    assert _check(tmp_path, ARM, "CPU : NEON = 1 | ARM_FMA = 1 | ", machine="aarch64").code == 0
    report = _check(tmp_path, ARM, "CPU : NEON = 1 | SVE = 1 | ", machine="aarch64")
    assert report.code == cpu.UNSUPPORTED and report.unsupported == ["SVE"]


def test_a_library_that_dies_or_does_not_import(tmp_path):
    report = _check(tmp_path, EPYC, "", returncode=-4)
    assert report.code == cpu.UNSUPPORTED and "SIGILL" in report.message
    probe = cpu.Probe(1, error="Traceback ...\nModuleNotFoundError: No module named 'llama_cpp'")
    report = cpu.check(cpuinfo(tmp_path, EPYC), probe, "x86_64")
    assert report.code == cpu.NOT_IMPORTABLE and "No module named 'llama_cpp'" in report.message
    report = cpu.check(cpuinfo(tmp_path, EPYC), cpu.Probe(None, error="took over 120 s"))
    assert report.code == cpu.NOT_IMPORTABLE
    # Features unknown (not Linux): nothing to compare, the build is taken as it is.
    assert cpu.check(tmp_path / "absent", cpu.Probe(0, NATIVE_XEON)).code == cpu.OK


def test_check_cli_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cpu, "probe_build", lambda: cpu.Probe(0, NATIVE_XEON))
    assert cpu.main(["--check", "--cpuinfo", str(cpuinfo(tmp_path, EPYC))]) == cpu.UNSUPPORTED
    assert "AVX512" in capsys.readouterr().out
    assert cpu.main(["--check", "--cpuinfo", str(cpuinfo(tmp_path, XEON))]) == cpu.UNSUPPORTED
    monkeypatch.setattr(cpu, "probe_build", lambda: cpu.Probe(0, EPYC_BUILD))
    assert cpu.main(["--check", "--cpuinfo", str(cpuinfo(tmp_path, EPYC))]) == cpu.OK


def test_rebuild_command_names_the_flags_and_skips_pips_cache(tmp_path):
    line = cpu.rebuild_command("py", cpuinfo(tmp_path, EPYC))
    assert line.startswith('CMAKE_ARGS="-DGGML_NATIVE=OFF ')
    assert ("py -m pip install --no-cache-dir --force-reinstall --no-deps --no-binary "
            "llama-cpp-python 'llama-cpp-python") in line


def test_runs_as_a_script_with_the_standard_library_alone(tmp_path):
    """install.sh runs it before the package (or anything else) is installed: -S leaves out
    site-packages, -I the script's own folder."""
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-I", "-S", str(CPU_PY), *args],
                              capture_output=True, text=True, timeout=60)

    done = run("--cmake-args", "--cpuinfo", str(cpuinfo(tmp_path, EPYC)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON")
    done = run("--rebuild-command", "--cpuinfo", str(cpuinfo(tmp_path, EPYC)))
    assert done.returncode == 0 and "--no-cache-dir" in done.stdout, done.stderr


def test_the_installed_build_fits_this_cpu():
    # Not imported here: a build for another CPU could kill the test process itself.
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    probe = cpu.probe_build()
    assert probe.returncode == 0, probe.error
    assert "CPU : " in probe.info
    report = cpu.check(probe=probe)
    assert report.code == cpu.OK, report.message
