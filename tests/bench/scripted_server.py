"""The tests' chat server (tests/core/chat_server.py) plus ``GET /v1/models``, as ``tg serve`` answers it."""

from __future__ import annotations

import json

from chat_server import ChatServer

MODEL = "scripted-model"


class ScriptedServer(ChatServer):
    def _handler(self):
        base = super()._handler()

        class Handler(base):
            def do_GET(self):
                if self.path.rstrip("/").endswith("/v1/models"):
                    data = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_error(404)

        return Handler
