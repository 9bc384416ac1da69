"""A real chat-completions HTTP server on 127.0.0.1 that can misbehave on request.

Tests queue behaviours consumed one per request; with the queue empty it
answers "ok". Faults: "429", "500", "400" (error statuses), "timeout" and
"slow" (late answers), and 200 answers that are wrong: "empty" (content ""),
"null_content" (content null), "no_choices" (choices []), "truncated" (the
JSON cut in half) and "html" (a web page, as a proxy or a wrong base_url
gives). ``cached_tokens`` set to a number reports that many prompt tokens as
served from the provider's cache, as OpenAI does; ``llama_timings`` adds
llama.cpp's ``timings`` to every answer, as ``tg serve`` does. It records every request
body, header and path, and the most requests in flight.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.behaviours: deque[str] = deque()
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.paths: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.retry_after = "1"
        self.cached_tokens: int | None = None
        self.llama_timings = False
        self.reply = lambda body: "echo: " + body["messages"][-1]["content"][:50]
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self) -> str:
        with self._lock:
            return self.behaviours.popleft() if self.behaviours else "ok"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _done(self) -> None:
                """The request leaves the in-flight count once, before its answer is written: a client that
                sends its next request on reading the answer must not find this one still counted."""
                if not getattr(self, "_counted", False):
                    return
                self._counted = False
                with server._lock:
                    server.in_flight -= 1

            def _send(self, status: int, payload: dict | bytes, headers: dict | None = None,
                      content_type: str = "application/json") -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self._done()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.paths.append(self.path)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                self._counted = True
                try:
                    self._answer(body, server._next())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (killed, or timed out): nothing to answer
                finally:
                    self._done()

            def _answer(self, body: dict, behaviour: str) -> None:
                time.sleep(server.latency_s)
                if behaviour == "429":
                    return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": server.retry_after})
                if behaviour == "500":
                    return self._send(500, {"error": {"message": "boom"}})
                if behaviour == "400":
                    return self._send(400, {"error": {"message": "bad request"}})
                if behaviour == "timeout":
                    time.sleep(3)
                elif behaviour == "slow":
                    time.sleep(0.3)
                elif behaviour == "html":
                    page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Proxy login</body></html>"
                    return self._send(200, page, content_type="text/html; charset=utf-8")
                content = None if behaviour == "null_content" else "" if behaviour == "empty" else server.reply(body)
                prompt_chars = sum(len(m["content"]) for m in body["messages"])
                usage = {"prompt_tokens": prompt_chars // 4 + 1, "completion_tokens": len(content or "") // 4 + 1,
                         "total_tokens": prompt_chars // 4 + len(content or "") // 4 + 2}
                if server.cached_tokens is not None:
                    usage["prompt_tokens_details"] = {"cached_tokens": server.cached_tokens}
                payload = {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                    "model": body["model"],
                    "choices": [] if behaviour == "no_choices" else [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                    ],
                    "usage": usage,
                }
                if server.llama_timings:  # as if at 100 prompt tokens and 40 generated tokens a second
                    payload["timings"] = {"prompt_n": usage["prompt_tokens"], "cache_n": 0,
                                          "prompt_ms": usage["prompt_tokens"] * 10.0,
                                          "predicted_n": usage["completion_tokens"],
                                          "predicted_ms": usage["completion_tokens"] * 25.0}
                if behaviour == "truncated":
                    data = json.dumps(payload).encode()
                    return self._send(200, data[: len(data) // 2])
                self._send(200, payload)

        return Handler
