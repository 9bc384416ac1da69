"""Starting llama.cpp in this process through xllamacpp: threads, slots, context, address.

Both the engine and ``tg serve`` load the model here, so they share one set
of settings and one way of choosing them. xllamacpp always starts llama.cpp's
HTTP front end next to the model: the engine binds it to a Unix socket in a
private folder so nothing else can reach it; the server binds a TCP address
on purpose.

Memory: the model file (mapped), plus one key/value cache of ``n_ctx``
tokens that all slots share (about 28 KB per token for the default 1.5B
model, 460 MB at 16384 tokens; 12 KB per token for the light model), plus
at most ``LOCAL_CACHE_RAM_MIB`` of prompts llama.cpp set aside from slots.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EngineConfigError
from ..events import emit
from . import defaults, model_files, native_llama

log = logging.getLogger(__name__)

_UNIX_PATH_MAX = 100  # sun_path holds 104-108 bytes depending on the system


def _positive_int(raw: object, what: str) -> int:
    value = raw
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            value = int(raw.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EngineConfigError(f"{what} must be a positive integer, got {raw!r}")
    return value


def idle_cores() -> float:
    """Cores not busy over the last minute: ``os.cpu_count()`` minus the 1-minute load average."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this system: assume it is busy
        return 1.0
    return max(0.0, cores - load)


def choose_threads(n_threads: int | None = None) -> tuple[int, str]:
    """The thread count and where it came from: ``n_threads``, ``$TG_LOCAL_THREADS``, else the load.

    Threads on busy cores make llama.cpp collapse (2 threads on 2 busy cores
    generated 2-11 tokens/s where 1 thread held 16-26), while a quiet machine
    runs twice as fast with both cores; so the default is the number of idle
    cores when the model loads, rounded, between 1 and ``MAX_AUTO_THREADS``.
    """
    if n_threads is not None:
        return _positive_int(n_threads, "n_threads"), "n_threads"
    raw = os.environ.get(defaults.THREADS_ENV, "").strip()
    if raw:
        return _positive_int(raw, defaults.THREADS_ENV), defaults.THREADS_ENV
    idle = idle_cores()
    threads = max(1, min(defaults.MAX_AUTO_THREADS, int(idle + 0.5)))
    return threads, f"load: {idle:.1f} of {os.cpu_count() or 1} cores idle"


def choose_slots(n_slots: int | None = None) -> int:
    """``n_slots``, else ``$TG_LOCAL_SLOTS``, else ``LOCAL_SLOTS``."""
    if n_slots is not None:
        return _positive_int(n_slots, "n_slots")
    raw = os.environ.get(defaults.SLOTS_ENV, "").strip()
    if raw:
        return _positive_int(raw, defaults.SLOTS_ENV)
    return defaults.LOCAL_SLOTS


def choose_prompt_cache(prompt_cache: bool | None = None) -> bool:
    """``prompt_cache``, else ``$TG_LOCAL_PROMPT_CACHE`` (1/on/true or 0/off/false), else on."""
    if prompt_cache is not None:
        return bool(prompt_cache)
    raw = os.environ.get(defaults.PROMPT_CACHE_ENV, "").strip().lower()
    if not raw:
        return True
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise EngineConfigError(f"{defaults.PROMPT_CACHE_ENV} must be 1/on/true or 0/off/false, got {raw!r}")


def choose_speculative(speculative: str | None = None) -> str:
    """``speculative``, else ``$TG_LOCAL_SPECULATIVE``, else ``LOCAL_SPECULATIVE``: one of ``SPECULATIVE_TYPES``."""
    what, raw = "speculative", speculative
    if raw is None:
        what, raw = defaults.SPECULATIVE_ENV, os.environ.get(defaults.SPECULATIVE_ENV, "").strip()
        if not raw:
            return defaults.LOCAL_SPECULATIVE
    value = raw.strip().lower() if isinstance(raw, str) else raw
    if value not in defaults.SPECULATIVE_TYPES:
        raise EngineConfigError(f"{what} must be one of {', '.join(defaults.SPECULATIVE_TYPES)}, got {raw!r}")
    return value


def import_xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError as exc:
        raise EngineConfigError(
            "the local engine needs xllamacpp: run pip install 'tg-core[local]' "
            "(or 'tg-core[local-light]' for the small model)"
        ) from exc
    return xllamacpp


def server_params(
    xllamacpp: Any, path: Path, alias: str, threads: int, slots: int, n_ctx: int, hostname: str, port: int,
    max_tokens: int = defaults.LOCAL_MAX_TOKENS, speculative: str = defaults.LOCAL_SPECULATIVE,
) -> Any:
    """llama.cpp's settings; the benchmark builds its direct side from the same function."""
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = {alias}
    params.n_ctx = n_ctx
    params.n_parallel = slots
    # One key/value buffer of n_ctx tokens for all slots: any slot may hold a prompt
    # up to n_ctx and memory does not grow with slots. Idle slots are copied to the
    # host prompt cache when a task starts, so no prefix is lost when a long prompt
    # needs their room (kept in place, a purged slot's prefix was evaluated again).
    params.kv_unified = True
    params.cache_prompt = True
    params.cache_idle_slots = True
    params.cache_ram_mib = defaults.LOCAL_CACHE_RAM_MIB
    # A request that does not say max_tokens (most OpenAI clients, textgrad, gepa) would
    # otherwise generate until the context is full: minutes of looping text on a CPU.
    params.n_predict = max_tokens
    if speculative != "off":
        name = "COMMON_SPECULATIVE_TYPE_" + speculative.upper().replace("-", "_")
        params.speculative.types = [getattr(xllamacpp.common_speculative_type, name)]
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = 0  # llama.cpp writes to stderr itself; keep it to errors
    params.hostnames = [hostname]
    params.port = port
    # llama.cpp echoes any Origin back by default, letting any web page drive the model.
    params.cors_origins = ""
    params.cors_credentials = False
    return params


@dataclass
class Loaded:
    """A running xllamacpp.Server with the settings it was started with, released together."""

    server: Any
    label: str
    path: Path
    digest: str
    threads: int
    threads_source: str
    slots: int
    n_ctx: int
    load_s: float
    folder: str | None = None
    instructions: tuple[str, ...] = (native_llama.PORTABLE,)
    speculative: str = defaults.LOCAL_SPECULATIVE
    _cleanup: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.folder:
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, True)

    def describe(self) -> dict[str, Any]:
        """What the ``local_engine_loaded`` event records."""
        return {
            "model": self.label,
            "path": str(self.path),
            "digest": self.digest,
            "threads": self.threads,
            "threads_source": self.threads_source,
            "slots": self.slots,
            "n_ctx": self.n_ctx,
            "load_s": round(self.load_s, 2),
            "instructions": list(self.instructions),
            "speculative": self.speculative,
        }

    def close(self) -> None:
        self.server = None  # the C++ destructor stops its threads
        if self._cleanup is not None:
            self._cleanup()


def start(
    spec: model_files.ModelSpec,
    *,
    n_threads: int | None,
    n_slots: int | None,
    n_ctx: int,
    host: str | None,
    port: int,
    api_key: str | None = None,
    ui: bool = False,
    max_tokens: int = defaults.LOCAL_MAX_TOKENS,
    speculative: str | None = None,
) -> Loaded:
    """Load the model; listen on ``host:port``, or on a private Unix socket when ``host`` is None.

    Emits ``local_engine_loaded`` (threads, slots, context, model digest,
    speculative decoding), so a run's events.jsonl says what the model ran with.
    """
    threads, threads_source = choose_threads(n_threads)
    slots = choose_slots(n_slots)
    speculative = choose_speculative(speculative)
    if isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or n_ctx < defaults.LOCAL_MIN_N_CTX:
        raise EngineConfigError(f"n_ctx must be an integer >= {defaults.LOCAL_MIN_N_CTX}, got {n_ctx!r}")
    path = model_files.locate(spec)
    digest = model_files.model_digest(spec)
    xllamacpp = import_xllamacpp()
    folder = None
    if host is None:
        folder = tempfile.mkdtemp(prefix="tg-llama-")
        socket_path = os.path.join(folder, "llama.sock")
        if os.name == "posix" and len(socket_path) <= _UNIX_PATH_MAX:
            host = socket_path
        else:  # no usable Unix socket: an ephemeral loopback port is the next best
            shutil.rmtree(folder, ignore_errors=True)
            folder, host = None, "127.0.0.1"
    params = server_params(xllamacpp, path, spec.label, threads, slots, n_ctx, host, port, min(max_tokens, n_ctx),
                           speculative)
    params.ui = ui
    if api_key:
        params.api_keys = [api_key]
    began = time.perf_counter()
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        where = "" if folder else f" listening on {host}:{port} (is the port free?)"
        raise EngineConfigError(
            f"llama.cpp could not start with {path}{where}: {exc} "
            f"(n_ctx={n_ctx}, n_threads={threads}, slots={slots}; see llama.cpp's messages above)"
        ) from exc
    system_info = xllamacpp.get_system_info()
    loaded = Loaded(server, spec.label, path, digest, threads, threads_source, slots, n_ctx,
                    time.perf_counter() - began, folder, tuple(native_llama.build_names(system_info)), speculative)
    log.info("local model %s loaded in %.1fs (%d threads [%s], %d slots, n_ctx=%d, speculative %s)",
             spec.label, loaded.load_s, threads, threads_source, slots, n_ctx, speculative)
    if not native_llama.built_instructions(system_info) and native_llama.extra_options(native_llama.cpu_flags()):
        log.info("llama.cpp here is the portable AVX2 build; this CPU has AVX-512: "
                 "`tg build-llama` compiles one that evaluates prompts faster")
    emit("local_engine_loaded", **loaded.describe())
    return loaded
