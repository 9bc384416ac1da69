"""The one door every arm of the quality benchmark goes through to the model.

A small HTTP proxy in front of one OpenAI-compatible server (``tg serve`` in
a real run, a scripted server in tests). Each arm gets its own address,
``http://127.0.0.1:PORT/ACCOUNT/v1``, so the calls and the prompt and
completion tokens the server reports in its responses are counted per arm on
the server side, whatever client the framework uses and whatever cache it
would keep. llama.cpp also says how long each answer took (``timings``);
those are summed too, so a result file says how much of an arm's time the
model took. The proxy also fixes the sampling seed (``tg serve`` has no seed
option, and llama.cpp picks a random one when a request gives none): every
request's seed becomes ``its own seed (0 if none) + SEED_STRIDE * bench seed``.

``GET /usage/ACCOUNT`` tells a side how much it has spent (GEPA's budget).
The same server answers ``POST /eval/ACCOUNT/NAME``: the benchmark's own
evaluators (simulators, sandboxes, judges) run here, in the tg-core process,
and the textgrad and GEPA sides call them over HTTP, so every framework is
scored by the same code and the LLM calls an evaluation makes are counted
for the arm that asked for it.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("bench.quality")

SEED_STRIDE = 10_007
UPSTREAM_TIMEOUT_S = 3600.0
COUNTERS = ("calls", "prompt_tokens", "cached_prompt_tokens", "completion_tokens", "failed_calls")
# llama.cpp's own timings of each answer: the prompt tokens it evaluated and the
# tokens it generated, with the milliseconds each took (0 from servers without them)
TIMINGS = ("prompt_n", "prompt_ms", "predicted_n", "predicted_ms")
# and, when it drafted (speculative decoding), the tokens it drafted and how many it kept
DRAFTS = ("draft_n", "draft_n_accepted")
TIMING_COUNTERS = tuple(f"timings_{name}" for name in TIMINGS + DRAFTS)

Evaluator = Callable[[str, str, dict[str, Any]], dict[str, Any]]


class BenchServer:
    """Proxy with per-account usage, a fixed seed, and the evaluation endpoint.

    ``upstream`` is the real server's base URL (ending in ``/v1``).
    ``evaluator(account, name, payload) -> dict`` answers ``/eval`` requests.
    """

    def __init__(self, upstream: str, seed: int = 0, evaluator: Evaluator | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.seed = seed
        self.evaluator = evaluator
        self._usage: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS + TIMING_COUNTERS, 0))
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def base_url(self, account: str) -> str:
        """What an OpenAI client of ``account`` uses as ``base_url``."""
        _check_account(account)
        return f"{self.url}/{account}/v1"

    def eval_url(self, account: str) -> str:
        """Prefix of the evaluation endpoint for ``account``: POST ``{eval_url}/NAME``."""
        _check_account(account)
        return f"{self.url}/eval/{account}"

    def usage(self, account: str) -> dict[str, int]:
        with self._lock:
            return dict(self._usage[account])

    def __enter__(self) -> BenchServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -------------------------------------------------------------- handling

    def _count(self, account: str, reply: dict[str, Any] | None) -> None:
        usage = (reply or {}).get("usage") or {}
        with self._lock:
            counters = self._usage[account]
            if reply is None:
                counters["failed_calls"] += 1
                return
            counters["calls"] += 1
            counters["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
            counters["cached_prompt_tokens"] += cached_prompt_tokens(reply)
            counters["completion_tokens"] += int(usage.get("completion_tokens") or 0)
            for name, value in model_timings(reply).items():
                counters[f"timings_{name}"] += value

    def seeded(self, body: dict[str, Any]) -> dict[str, Any]:
        """The request with the bench seed folded into its own."""
        return {**body, "seed": int(body.get("seed") or 0) + SEED_STRIDE * self.seed}

    def forward(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        """The upstream server's status and body for one request, uncounted and unseeded (a failure is a 502)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.upstream + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=UPSTREAM_TIMEOUT_S) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            message = f"bench proxy: the model server at {self.upstream} failed: {exc}"
            return 502, json.dumps({"error": {"message": message}}).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout); counted anyway
                    log.info("bench proxy: the client left before its answer for %s", self.path)

            def _error(self, status: int, message: str) -> None:
                self._send(status, json.dumps({"error": {"message": message}}).encode())

            def _body(self) -> dict[str, Any]:
                return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/", 2)
                if len(parts) == 2 and parts[0] == "usage":
                    return self._send(200, json.dumps(server.usage(parts[1])).encode())
                if len(parts) == 3 and parts[1] == "v1":
                    status, payload = server.forward("GET", "/" + parts[2], None)
                    return self._send(status, payload)
                return self._error(404, f"bench proxy: no route {self.path}")

            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                try:
                    body = self._body()
                except (ValueError, json.JSONDecodeError):
                    return self._error(400, "bench proxy: the body is not JSON")
                if len(parts) == 3 and parts[0] == "eval":
                    return self._evaluate(parts[1], parts[2], body)
                if len(parts) == 4 and parts[1:] == ["v1", "chat", "completions"]:
                    return self._chat(parts[0], body)
                return self._error(404, f"bench proxy: no route {self.path}")

            def _chat(self, account: str, body: dict[str, Any]) -> None:
                if body.get("stream"):
                    return self._error(400, "bench proxy: streaming is not supported (usage is read per response)")
                status, payload = server.forward("POST", "/chat/completions", server.seeded(body))
                try:
                    reply = json.loads(payload) if status == 200 else None
                except json.JSONDecodeError:
                    reply = None
                server._count(account, reply)
                self._send(status, payload)

            def _evaluate(self, account: str, name: str, body: dict[str, Any]) -> None:
                if server.evaluator is None:
                    return self._error(404, "bench proxy: no evaluator is set")
                try:
                    result = server.evaluator(account, name, body)
                except Exception as exc:  # the side reports it; the bench goes on with other arms
                    log.exception("evaluation %s for %s failed", name, account)
                    return self._error(500, f"evaluation {name} failed: {type(exc).__name__}: {exc}")
                self._send(200, json.dumps(result, default=str).encode())

        return Handler


def cached_prompt_tokens(reply: dict[str, Any]) -> int:
    """Prompt tokens the server reused from a prefix cache rather than evaluated.

    llama.cpp says how many it evaluated (``timings.prompt_n``); OpenAI says
    how many were cached (``usage.prompt_tokens_details.cached_tokens``).
    """
    usage = reply.get("usage") or {}
    total = int(usage.get("prompt_tokens") or 0)
    evaluated = (reply.get("timings") or {}).get("prompt_n")
    if isinstance(evaluated, int):
        return max(0, total - evaluated)
    details = usage.get("prompt_tokens_details") or {}
    return min(total, int(details.get("cached_tokens") or 0))


def model_timings(reply: dict[str, Any]) -> dict[str, int]:
    """llama.cpp's ``timings`` of one answer, milliseconds rounded, with its draft counts (0 when it drafted
    nothing: llama.cpp then leaves them out); empty when the server gives no whole timings."""
    timings = reply.get("timings") or {}

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0

    if not all(number(timings.get(name)) for name in TIMINGS):
        return {}
    return {name: round(timings[name]) if number(timings.get(name)) else 0 for name in TIMINGS + DRAFTS}


def _check_account(account: str) -> None:
    if not account or "/" in account or account in ("eval", "v1"):
        raise ValueError(f"account names are one path segment, not 'eval' or 'v1': {account!r}")
