"""A tiny OpenAI-compatible server on 127.0.0.1 that answers /v1/chat/completions from a script.

Each scripted action is one of:
    {"reply": text, "finish_reason": "stop"}          a chat completion
    {"status": 429, "headers": {...}, "error": msg}   an HTTP error
    {"sleep": seconds, "reply": text}                 answer late (the client times out first)
Requests are kept, parsed, in `requests`; an exhausted script answers 500.
With `refuse_lists = True` it answers any message content that is a list with HTTP 500 and
the message llama.cpp's server (llama-cpp-python 0.3.36, Qwen2.5 chat template) sends, as a
text-only local model does; such a request does not use up the script.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    def __init__(self, port: int = 0):
        self.script: list[dict] = []
        self.requests: list[dict] = []
        self.times: list[float] = []
        self.refuse_lists = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):  # readiness, as llama.cpp's server answers it
                if self.path != "/v1/models":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                fake.requests.append(json.loads(body))
                fake.times.append(time.monotonic())
                if fake.refuse_lists and any(isinstance(m.get("content"), list)
                                             for m in fake.requests[-1].get("messages", [])):
                    return self._send(500, {"error": {"message": 'can only concatenate str (not "list") to str',
                                                      "type": "internal_server_error"}})
                action = fake.script.pop(0) if fake.script else {"status": 500, "error": "script exhausted"}
                if "sleep" in action:
                    time.sleep(action["sleep"])
                if "status" in action:
                    return self._send(action["status"], {"error": {"message": action.get("error", "error"),
                                                                   "type": "test"}}, action.get("headers", {}))
                model = fake.requests[-1].get("model", "fake")
                self._send(200, {
                    "id": f"chatcmpl-{len(fake.requests)}", "object": "chat.completion", "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": action["reply"]},
                                 "finish_reason": action.get("finish_reason", "stop")}],
                    "usage": {"prompt_tokens": 100 + len(fake.requests), "completion_tokens": 20,
                              "total_tokens": 120 + len(fake.requests)},
                })

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
