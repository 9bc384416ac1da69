"""tg build-llama: which instruction sets a build for this CPU adds, and how its wheel is kept and installed.

The compile itself took 8-14 minutes on two cores here; bench/llama_build.py
runs the built wheel against the PyPI one. Here pip, venvs and the cache are
real; the package they install is a small stand-in named xllamacpp, so that
no test replaces the 100 MB llama.cpp the other tests load.
"""

import base64
import hashlib
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tg_core.cli import main
from tg_core.engines import native_llama
from tg_core.errors import EngineConfigError

WHEEL_FLAGS = "fpu sse sse2 avx avx2 fma f16c bmi2"
AVX512_FLAGS = WHEEL_FLAGS + " avx512f avx512cd avx512vl avx512dq avx512bw avx512vbmi avx512_vnni avx512_bf16 avx_vnni"
PORTABLE_INFO = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | OPENMP = 1 | REPACK = 1 | "
NATIVE_INFO = ("CPU : SSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | AVX512 = 1 "
               "| AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | OPENMP = 1 | REPACK = 1 | ")
THIS_CPU_HAS_AVX512 = {"avx512f", "avx512bw", "avx512_vnni"} <= native_llama.cpu_flags()


def test_cpu_flags_come_from_the_first_processor():
    text = f"processor\t: 0\nflags\t\t: {AVX512_FLAGS}\n\nprocessor\t: 1\nflags\t\t: fpu\n"
    assert native_llama.cpu_flags(text) == frozenset(AVX512_FLAGS.split())
    assert native_llama.cpu_flags("processor\t: 0\n") == frozenset()
    assert "avx2" in native_llama.cpu_flags()  # every machine that runs the wheel has it


def test_a_cpu_with_only_the_wheels_instructions_has_nothing_to_build():
    build = native_llama.plan(WHEEL_FLAGS.split(), "1.0")
    assert not build.worth_building and build.extra == ()
    assert "-DGGML_AVX2=ON" in build.cmake_args and "-DGGML_AVX512=OFF" in build.cmake_args


def test_an_avx512_cpu_gets_each_extension_and_never_the_native_switch():
    build = native_llama.plan(AVX512_FLAGS.split() + ["amx_tile", "amx_int8"], "2026.10.11549")
    assert build.extra == ("GGML_AVX512", "GGML_AVX512_VBMI", "GGML_AVX512_VNNI", "GGML_AVX512_BF16", "GGML_AVX_VNNI")
    args = build.cmake_args.split()
    assert "-DGGML_NATIVE=OFF" in args and not any("AMX" in a for a in args)
    assert "-DLLAMA_BUILD_BORINGSSL=OFF" in args and "-DLLAMA_LLGUIDANCE=OFF" in args
    assert build.tag == "xllamacpp-2026.10.11549-avx512-avx512_vbmi-avx512_vnni-avx512_bf16-avx_vnni"


def test_an_extension_without_the_whole_avx512_foundation_is_left_out():
    build = native_llama.plan(WHEEL_FLAGS.split() + ["avx512f", "avx512_vnni"], "1.0")
    assert build.extra == ()


def test_a_cpu_without_avx2_is_refused_by_name():
    with pytest.raises(EngineConfigError, match="GGML_AVX2"):
        native_llama.plan(["fpu", "sse", "sse2", "avx"], "1.0")


def test_built_instructions_read_llama_cpps_system_info():
    assert native_llama.built_instructions(PORTABLE_INFO) == frozenset()
    assert native_llama.build_names(PORTABLE_INFO) == [native_llama.PORTABLE]
    assert native_llama.built_instructions(NATIVE_INFO) == {
        "AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AVX_VNNI"}


def test_cached_wheel_finds_a_kept_build(tmp_path):
    assert native_llama.cached_wheel(tmp_path / "missing") is None
    assert native_llama.cached_wheel(tmp_path) is None
    wheel = tmp_path / "xllamacpp-1.0-cp310-abi3-linux_x86_64.whl"
    wheel.write_bytes(b"")
    assert native_llama.cached_wheel(tmp_path) == wheel


def test_a_failed_build_says_so_keeps_its_log_and_installs_nothing(tmp_path, monkeypatch):
    # No index and no wheels to find: pip fails the way it does when PyPI cannot be reached.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-wheels"))
    build = native_llama.plan(WHEEL_FLAGS.split() + ["avx_vnni"], "2026.10.11549")
    before = native_llama.installed_version()
    with pytest.raises(EngineConfigError, match="failed .*unchanged") as failed:
        native_llama.build_wheel(build, tmp_path / "build")
    log = tmp_path / "build" / "build.log"
    assert str(log) in str(failed.value) and "xllamacpp" in log.read_text()
    assert native_llama.installed_version() == before


def _stand_in_wheel(folder: Path, system_info: str) -> Path:
    """A real wheel of a tiny package named xllamacpp whose get_system_info() answers ``system_info``."""
    version = native_llama.installed_version()
    files = {
        "xllamacpp/__init__.py": f"def get_system_info():\n    return {system_info!r}\n",
        f"xllamacpp-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: xllamacpp\nVersion: {version}\n",
        f"xllamacpp-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(text.encode())}" for name, text in files.items()]
    record.append(f"xllamacpp-{version}.dist-info/RECORD,,")
    files[f"xllamacpp-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"xllamacpp-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


@pytest.fixture
def other_env(tmp_path):
    """A venv with the stand-in xllamacpp that still imports this tg-core (through a .pth after its own packages)."""
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=300)
    python = env / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "zz-tg-core.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    native_llama.install_wheel(_stand_in_wheel(tmp_path / "portable", PORTABLE_INFO), python=str(python))
    return python


def _system_info(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import xllamacpp; print(xllamacpp.get_system_info())"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_install_wheel_replaces_the_package_and_a_corrupt_wheel_is_refused(other_env, tmp_path):
    assert "AVX512" not in _system_info(other_env)
    native_llama.install_wheel(_stand_in_wheel(tmp_path / "native", NATIVE_INFO), python=str(other_env))
    assert "AVX512_VNNI = 1" in _system_info(other_env)
    corrupt = _stand_in_wheel(tmp_path / "corrupt", PORTABLE_INFO)
    corrupt.write_bytes(corrupt.read_bytes()[:100])
    with pytest.raises(EngineConfigError, match="installing .* failed"):
        native_llama.install_wheel(corrupt, python=str(other_env))
    assert "AVX512_VNNI = 1" in _system_info(other_env)


@pytest.mark.skipif(not THIS_CPU_HAS_AVX512, reason="the build adds nothing on a CPU without AVX-512")
def test_tg_build_llama_installs_the_kept_wheel_without_compiling(other_env, tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "TG_CACHE_DIR": str(cache)}
    tg = [str(other_env), "-m", "tg_core.cli", "build-llama"]
    check = subprocess.run([*tg, "--check"], capture_output=True, text=True, env=env, timeout=300)
    assert check.returncode == 0, check.stderr
    assert f"installed with: {native_llama.PORTABLE}" in check.stdout and "would compile it with" in check.stdout
    assert not cache.exists()
    build = native_llama.plan_for_this_cpu()
    _stand_in_wheel(cache / "llama-builds" / build.tag, NATIVE_INFO)
    done = subprocess.run(tg, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "installing the wheel built before" in done.stderr and "compiling" not in done.stderr
    assert "AVX512_VNNI = 1" in _system_info(other_env)
    again = subprocess.run(tg, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and "already built for this CPU" in again.stdout


def test_tg_build_llama_check_reports_this_environment(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TG_CACHE_DIR", str(tmp_path))
    assert main(["build-llama", "--check"]) == 0
    out = capsys.readouterr().out
    assert f"xllamacpp {native_llama.installed_version()} installed with:" in out
    assert "this CPU can add:" in out
    assert list(tmp_path.iterdir()) == []


def test_tg_build_llama_rejects_an_unknown_option(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["build-llama", "--fast"])
    assert exited.value.code == 2 and "unrecognized arguments: --fast" in capsys.readouterr().err
