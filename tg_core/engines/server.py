"""The embedded model served over HTTP as an OpenAI-compatible server: ``tg serve``.

The model runs in this process (llama.cpp's own HTTP front end, started by
xllamacpp) with the same settings as the engine, bound to a TCP address on
purpose; any OpenAI client, or ``get_engine("openai:...", base_url=...)``,
can then use it.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable

from ..errors import EngineConfigError
from . import defaults, llama, model_files

log = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class LocalServer:
    """A running OpenAI-compatible server; ``base_url`` is what the ``openai`` client wants."""

    def __init__(self, loaded: llama.Loaded) -> None:
        self._loaded: llama.Loaded | None = loaded
        self.url = str(loaded.server.listening_address).rstrip("/")
        self.base_url = self.url + "/v1"
        self.model = loaded.label

    def stop(self) -> None:
        """Stop serving and free the model; safe to call twice."""
        if self._loaded is not None:
            self._loaded.close()
            self._loaded = None

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalServer(base_url={self.base_url!r}, model={self.model!r})"


def start_server(
    model: str = "default",
    host: str = "127.0.0.1",
    port: int = 0,
    n_threads: int | None = None,
    n_ctx: int = defaults.LOCAL_N_CTX,
    api_key: str | None = None,
    n_slots: int | None = None,
    max_tokens: int = defaults.LOCAL_MAX_TOKENS,
    speculative: str | None = None,
) -> LocalServer:
    """Serve the model over HTTP from background threads and return at once.

    Port 0 picks a free port (read it from ``base_url``). The server speaks
    /v1/chat/completions (streaming too) and /v1/models; requests may set
    ``grammar``. Without ``api_key`` anyone who can reach the address can use
    it, hence the loopback default. ``max_tokens`` is the answer length for
    requests that do not set their own (a request may ask for more).
    ``speculative`` is llama.cpp's draftless speculative decoding, as in
    ``LocalEngine``.
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 0 < max_tokens <= n_ctx:
        raise EngineConfigError(f"max_tokens must be an integer from 1 to n_ctx ({n_ctx}), got {max_tokens!r}")
    if host not in _LOOPBACK and not api_key:
        log.warning("serving on %s without an API key: anyone who can reach it can use the model", host)
    loaded = llama.start(
        model_files.model_spec(model), n_threads=n_threads, n_slots=n_slots, n_ctx=n_ctx,
        host=host, port=port, api_key=api_key, ui=True, max_tokens=max_tokens, speculative=speculative,
    )
    return LocalServer(loaded)


def serve(
    model: str = "default",
    host: str = "127.0.0.1",
    port: int = 8080,
    n_threads: int | None = None,
    n_ctx: int = defaults.LOCAL_N_CTX,
    api_key: str | None = None,
    on_ready: Callable[[LocalServer], None] | None = None,
    n_slots: int | None = None,
    max_tokens: int = defaults.LOCAL_MAX_TOKENS,
    speculative: str | None = None,
) -> None:
    """Serve the model until interrupted (Ctrl-C); what ``tg serve`` runs.

    ``on_ready`` receives the running server once the model is loaded, so a
    command line can tell the user the address without this module printing.
    """
    server = start_server(model, host, port, n_threads, n_ctx, api_key, n_slots, max_tokens, speculative)
    # llama.cpp's HTTP front end installs its own SIGINT handler when it starts, which
    # swallows Ctrl-C; take both signals back so they stop the server from here.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    log.info("serving %s at %s", server.model, server.base_url)
    try:
        if on_ready is not None:
            on_ready(server)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
