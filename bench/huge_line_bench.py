"""Event-loop time per keystroke on a document made of one huge line (issue: ≤ 20 ms on a 1 MB line).

The real server over stdio, with the default model unless ``--no-model`` (a missing model path). Each
keystroke is a ``didChange`` inserting one character in the middle of the line, followed at once by an
``infill/stats`` request, which the server answers on its event loop after it has handled the edit: the round
trip minus the same request's round trip on an idle server is the event-loop time the keystroke cost. Every
few keystrokes an inline completion request is sent too, as an editor would. Prints p50/p95/max and the
server's peak RSS.

    .venv/bin/python bench/huge_line_bench.py --mb 1 --keys 40
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Client:
    """A minimal stdio LSP client that reads answers in order (enough for a benchmark)."""

    def __init__(self, args: list[str], profile: str | None = None) -> None:
        launcher = ["-m", "cProfile", "-o", profile] if profile else []
        self.process = subprocess.Popen(
            [sys.executable, *launcher, "-m", "lsp_server", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def request(self, method: str, params: Any) -> int:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.next_id

    def read(self) -> dict[str, Any]:
        stream = self.process.stdout
        assert stream is not None
        length = 0
        while (line := stream.readline().strip()) != b"":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        message: dict[str, Any] = json.loads(stream.read(length))
        if length > 65536:
            print(f"  (a {length // 1024} KB message: {message.get('method') or 'response'})")
        return message

    def answer(self, msg_id: int) -> dict[str, Any]:
        while True:
            message = self.read()
            if message.get("id") == msg_id and "method" not in message:
                return message
            if "method" in message and "id" in message:  # a request from the server: answer it
                self.send({"id": message["id"], "result": None})

    def round_trip(self) -> float:
        started = time.perf_counter()
        self.answer(self.request("infill/stats", None))
        return time.perf_counter() - started


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=1.0, help="size of the line in MB")
    parser.add_argument("--keys", type=int, default=40, help="keystrokes to time")
    parser.add_argument("--no-model", action="store_true", help="run without a model (a missing path)")
    parser.add_argument("--profile", help="write the server's event-loop thread profile here (cProfile)")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="huge-line-"))
    path = folder / "huge.py"
    line = "x = [" + ", ".join("1" for _ in range(int(options.mb * 2**20 / 3))) + "]"
    path.write_text(line + "\n")
    args = ["--model", str(folder / "missing.gguf")] if options.no_model else []
    client = Client(args, options.profile)
    uri = path.as_uri()
    initialize = {"processId": os.getpid(), "rootUri": folder.as_uri(), "capabilities": {}}
    client.answer(client.request("initialize", initialize))
    client.send({"method": "initialized", "params": {}})
    idle = statistics.median(client.round_trip() for _ in range(20))
    started = time.perf_counter()
    document = {"uri": uri, "languageId": "python", "version": 1, "text": line + "\n"}
    client.send({"method": "textDocument/didOpen", "params": {"textDocument": document}})
    opened = client.round_trip()
    print(
        f"line: {len(line) / 2**20:.2f} MB; didOpen handled in {(time.perf_counter() - started) * 1000:.0f} ms"
    )
    costs: list[float] = []
    column = len(line) // 2
    for key in range(options.keys):
        change = {
            "range": {"start": {"line": 0, "character": column}, "end": {"line": 0, "character": column}},
            "text": "1",
        }
        column += 1
        client.send(
            {
                "method": "textDocument/didChange",
                "params": {"textDocument": {"uri": uri, "version": key + 2}, "contentChanges": [change]},
            }
        )
        if key % 4 == 3:
            position = {"line": 0, "character": column}
            context = {"triggerKind": 2}
            client.request(
                "textDocument/inlineCompletion",
                {"textDocument": {"uri": uri}, "position": position, "context": context},
            )
        costs.append(max(0.0, client.round_trip() - idle))
    costs_ms = sorted(cost * 1000 for cost in costs)
    p95 = costs_ms[min(len(costs_ms) - 1, int(len(costs_ms) * 0.95))]
    print(f"idle round trip {idle * 1000:.2f} ms; open then first answer {opened * 1000:.0f} ms")
    print(
        f"event-loop time per keystroke: p50 {statistics.median(costs_ms):.1f} ms, p95 {p95:.1f} ms, "
        f"max {costs_ms[-1]:.1f} ms (goal <= 20 ms) over {len(costs_ms)} keystrokes"
    )
    print(f"server peak RSS: {peak_rss_mb(client.process.pid):.0f} MB")
    client.answer(client.request("shutdown", None))
    client.send({"method": "exit"})
    client.process.wait(timeout=30)


if __name__ == "__main__":
    main()
