"""Building llama.cpp (xllamacpp) for this CPU, where the PyPI wheel leaves speed unused.

xllamacpp's Linux wheel is compiled for AVX2, so that it runs on any x86-64
machine of the last decade. On a CPU with AVX-512 the same source compiled
with those instructions evaluates prompts faster; generation, bound by
memory, does not change (``bench/llama_build.py`` measures both builds side by
side). Prompt evaluation is most of an optimization run's time on a CPU (a
gradient's prompt holds the variable, its context and the feedback), so one
long run pays for the build.

The build is the pinned xllamacpp's own source from PyPI with the CPU's
instruction sets named one by one. Never ``-march=native``: that also turns
on AMX, whose ggml kernels crash on Q4_K matrices (llama.cpp issue #20824).
The parts that would fetch code from outside PyPI (BoringSSL from GitHub,
llguidance's Rust crates) are left out; tg-core uses neither (its server is
plain HTTP on the loopback, its grammars are GBNF). The wheel is kept under
the tg-core cache, named by version and options, so another environment on
the same machine installs it in seconds.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import EngineConfigError
from ..paths import cache_dir

log = logging.getLogger(__name__)

PACKAGE = "xllamacpp"
PORTABLE = "none beyond the portable wheel (AVX2 on x86)"
# ggml's CMake options the PyPI wheel is built with, and the CPU flags each needs.
WHEEL_OPTIONS = {"GGML_AVX": ("avx",), "GGML_AVX2": ("avx2",), "GGML_FMA": ("fma",),
                 "GGML_F16C": ("f16c",), "GGML_BMI2": ("bmi2",)}
# What a build for this CPU may add, in the order ggml checks them; each extension of
# AVX-512 needs its foundation (ggml compiles GGML_AVX512 as F, CD, VL, DQ and BW).
_AVX512 = ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")
EXTRA_OPTIONS = {
    "GGML_AVX512": _AVX512,
    "GGML_AVX512_VBMI": (*_AVX512, "avx512vbmi"),
    "GGML_AVX512_VNNI": (*_AVX512, "avx512_vnni"),
    "GGML_AVX512_BF16": (*_AVX512, "avx512_bf16"),
    "GGML_AVX_VNNI": ("avx_vnni",),
}
# Off whatever the CPU: code fetched from outside PyPI, and the native switch (see above).
FIXED_OPTIONS = {"GGML_NATIVE": False, "LLAMA_BUILD_BORINGSSL": False, "LLAMA_LLGUIDANCE": False}
# llama.cpp's system info names an instruction set "AVX512 = 1" when its kernels use it.
_BUILT_RE = re.compile(r"\b(AVX512(?:_[A-Z0-9]+)?|AVX_VNNI)\s*=\s*1")


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The instruction-set flags of this CPU, from ``/proc/cpuinfo`` (or the text given)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


@dataclass(frozen=True)
class Plan:
    """What a build for this CPU would switch on, beyond the wheel."""

    version: str
    options: dict[str, bool]
    extra: tuple[str, ...]

    @property
    def worth_building(self) -> bool:
        return bool(self.extra)

    @property
    def cmake_args(self) -> str:
        return " ".join(f"-D{name}={'ON' if on else 'OFF'}" for name, on in self.options.items())

    @property
    def tag(self) -> str:
        """The cache folder's name: the version and the extra instruction sets."""
        extra = "-".join(name.removeprefix("GGML_").lower() for name in self.extra)
        return f"{PACKAGE}-{self.version}-{extra or 'wheel'}"


def extra_options(flags: Iterable[str]) -> tuple[str, ...]:
    """The options beyond the wheel's that a CPU with ``flags`` can run (none on a CPU that is not x86)."""
    have = set(flags)
    return tuple(name for name, needs in EXTRA_OPTIONS.items() if set(needs) <= have)


def plan(flags: Iterable[str], version: str) -> Plan:
    """The build for a CPU with ``flags``: the wheel's options it can run, plus every extra one it has."""
    have = set(flags)
    missing = [name for name, needs in WHEEL_OPTIONS.items() if not set(needs) <= have]
    if missing:
        raise EngineConfigError(
            f"this CPU lacks what llama.cpp's wheel is built for ({', '.join(missing)}); "
            "a build for it would have to turn those off, which tg-core does not do"
        )
    extra = extra_options(have)
    options = {**dict.fromkeys(WHEEL_OPTIONS, True), **{name: name in extra for name in EXTRA_OPTIONS},
               **FIXED_OPTIONS}
    return Plan(version, options, extra)


def plan_for_this_cpu() -> Plan:
    """:func:`plan` for this machine's CPU and the installed xllamacpp."""
    return plan(cpu_flags(), installed_version())


def installed_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        raise EngineConfigError(
            f"{PACKAGE} is not installed: run pip install 'tg-core[local]' first; the build replaces it"
        ) from None


def built_instructions(system_info: str) -> frozenset[str]:
    """The AVX-512 family sets a llama.cpp was compiled with, from its ``get_system_info()``."""
    return frozenset(_BUILT_RE.findall(system_info))


def build_names(system_info: str) -> list[str]:
    """What a record says of the build: its AVX-512 family sets, or that it is the portable wheel."""
    return sorted(built_instructions(system_info)) or [PORTABLE]


def builds_folder() -> Path:
    return cache_dir("llama-builds")


def cached_wheel(folder: Path) -> Path | None:
    """The wheel a previous build left in ``folder``, if any."""
    wheels = sorted(folder.glob(f"{PACKAGE}-*.whl")) if folder.is_dir() else []
    return wheels[-1] if wheels else None


def build_wheel(build: Plan, folder: Path, python: str = sys.executable) -> Path:
    """Compile xllamacpp ``build.version`` from its PyPI source into ``folder``; its log is beside it.

    Took 8 minutes on two cores here (14 with tests running beside it). pip's own wheel cache is left out, so a
    later ``pip install xllamacpp`` elsewhere still gets the portable wheel.
    """
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "build.log"
    command = [python, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--no-binary", PACKAGE,
               "--wheel-dir", str(folder), f"{PACKAGE}=={build.version}"]
    env = {**os.environ, "CMAKE_ARGS": build.cmake_args}
    log.info("building %s %s with %s (log: %s)", PACKAGE, build.version, build.cmake_args, log_path)
    with open(log_path, "w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    wheel = cached_wheel(folder)
    if done.returncode != 0 or wheel is None:
        raise EngineConfigError(
            f"building {PACKAGE} {build.version} failed (pip exited with {done.returncode}); "
            f"the installed {PACKAGE} is unchanged; see {log_path}"
        )
    return wheel


def install_wheel(wheel: Path, python: str = sys.executable) -> None:
    """Put ``wheel`` in place of the installed xllamacpp of ``python``'s environment."""
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
                           str(wheel)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise EngineConfigError(f"installing {wheel} failed: {done.stderr.strip()[-2000:]}")
