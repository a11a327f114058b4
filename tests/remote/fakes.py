"""A loopback HTTP server that speaks each API as documented, and fails on request in each way a real one can.

- llama-server (tools/server/README.md): ``GET /props`` (``default_generation_settings``, ``total_slots``,
  ``model_path``), ``POST /infill`` and ``/completion`` streaming ``data: {"content", "stop", "stop_type",
  "completion_probabilities"}`` events.
- OpenAI-compatible: ``GET /v1/models`` (``{"data": [{"id"}]}``), ``POST /v1/completions`` streaming
  ``data: {"choices": [{"text", "logprobs": {"token_logprobs"}, "finish_reason"}]}`` then ``data: [DONE]``.
- Ollama (docs/api.md): ``GET /api/version``, ``GET /api/tags`` (``{"models": [{"name"}]}``), ``POST
  /api/generate`` with ``prompt``, ``suffix``, ``raw``, ``options``, answering NDJSON lines ``{"model",
  "response", "done": false}`` and a last ``{"done": true, "done_reason", "prompt_eval_count",
  "eval_count"}``; a ``suffix`` for a model whose template has none gives 400 "... does not support insert".

``fault`` makes the next answers fail: "refuse" (500), "unauthorized" (401), "malformed-json",
"malformed-sse", "stall" (stops mid-answer without closing), "die" (closes the socket mid-answer), "huge"
(megabytes of one endless answer), "endless" (``value = 1`` lines until the client hangs up).
``whole_file_prompt`` builds the small prompts the tests send through them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from completion.fim import FimTemplate
from completion.prompt import Prompt, build_prompt


def whole_file_prompt(
    text: str, offset: int, template: FimTemplate | None, path: str | None = "calc.py"
) -> Prompt:
    """The prompt for a small file with no context: all of it before the cursor, all of it after."""
    return build_prompt(
        text=text,
        offset=offset,
        path=path,
        line_comment="#",
        template=template,
        context=None,
        snippets=[],
        window_start=0,
        suffix_end=len(text),
    )


# Each fault, and what the backend's message says about it (a regular expression).
FAULTS = {
    "refuse": "answered 500",
    "unauthorized": "401",
    "malformed-json": "malformed JSON",
    "malformed-sse": "malformed (server-sent event|JSON)",  # Ollama's NDJSON has no SSE framing
    "die": "closed the connection|mid-answer",
    "huge": "exceeded 1 KB",
    "stall": "stopped sending mid-answer",
}


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeServer:
    api: str  # "llama-server" | "openai" | "ollama"
    answer: list[str] = field(default_factory=lambda: ["    return a", " + b", "\n"])
    model: str = "qwen2.5-coder-1.5b-instruct-q8_0.gguf"
    fim: bool = True  # llama-server: /infill works; Ollama: the template has a suffix
    fault: str | None = None
    token_delay_s: float = 0.0
    port: int = 0  # 0: any free port
    scripts: list[tuple[list[str], float]] = field(
        default_factory=list
    )  # per streamed answer: pieces, logprob
    streamed: int = 0
    requests: list[Recorded] = field(default_factory=list)
    disconnects: int = 0  # streams the client closed before they ended
    streams_open: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def posts(self, path: str) -> list[Recorded]:
        return [request for request in self.requests if request.path == path]

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._record(self, {})
                fake._get(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake._record(self, body)
                fake._post(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- answers ----------------------------------------------------------------------------------------------

    def _record(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        self.requests.append(Recorded(handler.path, body, dict(handler.headers.items())))

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        if self.api == "llama-server" and path == "/props":
            props = {
                "default_generation_settings": {"n_ctx": 4096},
                "total_slots": 4,
                "model_path": f"/models/{self.model}",
            }
            return _json(handler, 200, props)
        if self.api == "ollama" and path == "/api/version":
            return _json(handler, 200, {"version": "0.12.3"})
        if self.api == "ollama" and path == "/api/tags":
            return _json(handler, 200, {"models": [{"name": self.model}]})
        if self.api in ("openai", "llama-server") and path == "/v1/models":
            return _json(handler, 200, {"object": "list", "data": [{"id": self.model, "object": "model"}]})
        return _json(handler, 404, {"error": {"code": 404, "message": "File Not Found"}})

    def _post(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        path = handler.path
        if self.fault == "refuse":
            return _json(handler, 500, {"error": {"code": 500, "message": "model crashed"}})
        if self.fault == "unauthorized":
            return _json(handler, 401, {"error": {"message": "invalid api key"}})
        if self.api == "llama-server" and path in ("/infill", "/completion"):
            if path == "/infill" and not self.fim:
                return _json(handler, 501, {"error": {"code": 501, "message": "Infill is not supported"}})
            if body.get("n_predict") == 0 or not body.get("stream"):
                return _json(handler, 200, {"content": "", "stop": True})
            return self._stream(handler, "sse", self._llama_events())
        if self.api in ("openai", "llama-server") and path == "/v1/completions":
            return self._stream(handler, "sse", self._openai_events())
        if self.api == "ollama" and path == "/api/generate":
            if "suffix" in body and not self.fim:
                message = f"registry.ollama.ai/library/{self.model} does not support insert"
                return _json(handler, 400, {"error": message})
            if not body.get("stream", True):
                return _json(handler, 200, {"model": self.model, "response": "x", "done": True})
            return self._stream(handler, "ndjson", self._ollama_events())
        return _json(handler, 404, {"error": "not found"})

    def _script(self) -> tuple[list[str], float]:
        """The next answer's pieces and each piece's log-probability."""
        self.streamed += 1
        if self.scripts:
            return self.scripts[(self.streamed - 1) % len(self.scripts)]
        return self.answer, -0.5

    def _pieces(self, pieces: list[str]) -> Iterator[str]:
        while self.fault in ("huge", "endless"):
            yield "x" * 65536 if self.fault == "huge" else "value = 1\n"
        yield from pieces

    def _llama_events(self) -> Iterator[bytes]:
        pieces, logprob = self._script()
        for piece in self._pieces(pieces):
            event = {"content": piece, "stop": False, "completion_probabilities": [{"logprob": logprob}]}
            yield b"data: " + json.dumps(event).encode() + b"\n\n"
        final = {"content": "", "stop": True, "stop_type": "eos", "tokens_evaluated": 40, "timings": {}}
        yield b"data: " + json.dumps(final).encode() + b"\n\n"

    def _openai_events(self) -> Iterator[bytes]:
        pieces, logprob = self._script()
        for piece in self._pieces(pieces):
            choice = {
                "text": piece,
                "index": 0,
                "logprobs": {"token_logprobs": [logprob]},
                "finish_reason": None,
            }
            yield b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"
        last = {"text": "", "index": 0, "finish_reason": "stop"}
        yield b"data: " + json.dumps({"choices": [last]}).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    def _ollama_events(self) -> Iterator[bytes]:
        pieces, _ = self._script()
        for piece in self._pieces(pieces):
            yield json.dumps({"model": self.model, "response": piece, "done": False}).encode() + b"\n"
        final = {"model": self.model, "response": "", "done": True, "done_reason": "stop", "eval_count": 3}
        yield json.dumps(final).encode() + b"\n"

    def _stream(self, handler: BaseHTTPRequestHandler, kind: str, events: Iterator[bytes]) -> None:
        handler.send_response(200)
        content_type = "text/event-stream" if kind == "sse" else "application/x-ndjson"
        handler.send_header("Content-Type", content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        self.streams_open += 1
        try:
            for index, event in enumerate(events):
                if index == 1 and self.fault == "malformed-json":
                    event = b"data: {not json\n\n" if kind == "sse" else b"{not json\n"
                if index == 1 and self.fault == "malformed-sse":
                    event = b"garbage line without a field\n\n"
                if index == 1 and self.fault == "stall":
                    time.sleep(60)
                if index == 1 and self.fault == "die":
                    handler.connection.shutdown(socket.SHUT_RDWR)
                    return
                _chunk(handler, event)
                if self.token_delay_s:
                    time.sleep(self.token_delay_s)
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.disconnects += 1
        finally:
            self.streams_open -= 1


def _chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


def _json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
