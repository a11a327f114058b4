"""Replay realistic typing through the stdio server and measure completion latency.

For each target line of real source files (Python's own standard library by default), the document starts with
that line blanked to its indentation; the line is then typed character by character with pauses between
keystrokes, each keystroke sending an incremental didChange and an inlineCompletion request, as editors do.
Two arms run in the same process, on the same keystrokes and model: `infill-ls` as configured, and a naive
baseline that re-evaluates the whole prompt and reuses nothing (`completion.reuse = false`).

Reports per arm: latency p50/p95 over all requests, p50 of model runs, share served from the typed-ahead cache,
prompt tokens evaluated per model run, peak memory (VmHWM) of the server process and of its model worker
process (pid from `infill/stats`; a server without a worker shows "-") and their sum; then the naive/infill-ls
ratio. The sum counts pages the two processes share twice and adds two peaks that may not coincide: an upper
bound of what both held at once. The line before the table names the `lsp_server` package the server imports
(the server runs `python -m lsp_server` in this directory, with this environment).

    python bench/typing_replay.py --files 3 --lines 4 --pause-ms 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

DEFAULT_FILES = ["textwrap.py", "shlex.py", "fractions.py", "json/encoder.py", "ipaddress.py", "calendar.py"]


@dataclass
class ArmResult:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    model_latencies_ms: list[float] = field(default_factory=list)
    evaluated: list[int] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    cached: int = 0
    shown: int = 0
    blank_latencies_ms: list[float] = field(default_factory=list)  # at the blank line, before typing
    blank_shown: int = 0
    blank_remote: int = 0  # ... of which the remote model wrote (hybrid)
    server_rss_mb: float = 0.0
    worker_rss_mb: float = float("nan")  # nan: no worker process (the model runs in the server)
    worker_restarts: int = 0

    def absorb(self, completions: list[Any]) -> None:
        """The completions ``infill/stats`` reported (it reports each once)."""
        for entry in completions:
            if entry.cached:
                self.cached += 1
            else:
                self.model_latencies_ms.append(entry.elapsedMs)
                self.evaluated.append(entry.tokensEvaluated)
                self.prompt_tokens.append(entry.tokensPrompt)

    @property
    def peak_rss_mb(self) -> float:
        """Server plus worker (the server alone when there is no worker)."""
        return self.server_rss_mb + (0.0 if self.worker_rss_mb != self.worker_rss_mb else self.worker_rss_mb)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def pick_targets(paths: list[Path], lines_per_file: int, seed: int) -> list[tuple[Path, int]]:
    """Non-trivial code lines (not comments/blank), at least 20 lines into the file."""
    rng = random.Random(seed)
    targets = []
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        good = [
            i
            for i, line in enumerate(lines)
            if i > 20 and 12 <= len(line.strip()) <= 60 and not line.strip().startswith(("#", '"', "'"))
        ]
        targets += [(path, i) for i in sorted(rng.sample(good, min(lines_per_file, len(good))))]
    return targets


def vm_hwm_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # the process is gone
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_package() -> str:
    """Where `python -m lsp_server`, started here with this environment, imports the server from."""
    found = subprocess.run(
        [sys.executable, "-c", "import lsp_server; print(lsp_server.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or found.stderr.strip()[-200:]


async def ask_at(client: LanguageClient, uri: str, line: int, column: int) -> Any:
    """An inline completion request as an editor sends one while the user types."""
    return await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri),
            position=types.Position(line, column),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        )
    )


async def run_arm(
    name: str, options: dict[str, Any], targets: list[tuple[Path, int]], pause_s: float
) -> ArmResult:
    result = ArmResult(name)
    client = LanguageClient("typing-replay", "1")
    ready = asyncio.Event()

    @client.feature("infill/status")
    def on_status(ls: LanguageClient, params: Any) -> None:
        if params.state in ("ready", "error"):
            ready.set()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(ls: LanguageClient, params: Any) -> None:
        """Diagnostics stay on, as in an editor; this replay does not look at them."""

    await client.start_io(sys.executable, "-m", "lsp_server")
    caps = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities()
        )
    )
    await client.initialize_async(types.InitializeParams(capabilities=caps, initialization_options=options))
    client.initialized(types.InitializedParams())
    await asyncio.wait_for(ready.wait(), 300)
    for number, (path, line_index) in enumerate(targets):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        target = lines[line_index].rstrip("\n")
        indent = target[: len(target) - len(target.lstrip())]
        lines[line_index] = indent + "\n"
        uri = f"file:///replay/{number}/{path.name}"
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, "".join(lines)))
        )
        column = len(indent)
        started = time.perf_counter()
        answer = await ask_at(client, uri, line_index, column)
        result.blank_latencies_ms.append((time.perf_counter() - started) * 1000)
        result.blank_shown += bool(answer and answer.items)
        blank_stats = await client.protocol.send_request_async(
            "infill/stats", {}
        )  # (it forgets what it gave)
        result.absorb(blank_stats.completions)
        result.blank_remote += any(
            getattr(entry, "source", "local") != "local" for entry in blank_stats.completions
        )
        await asyncio.sleep(pause_s)
        for version, char in enumerate(target[len(indent) :], start=2):
            position = types.Position(line_index, column)
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    types.VersionedTextDocumentIdentifier(version=version, uri=uri),
                    [
                        types.TextDocumentContentChangePartial(
                            range=types.Range(position, position), text=char
                        )
                    ],
                )
            )
            column += 1
            started = time.perf_counter()
            answer = await ask_at(client, uri, line_index, column)
            elapsed = (time.perf_counter() - started) * 1000
            result.latencies_ms.append(elapsed)
            result.shown += bool(answer and answer.items)
            await asyncio.sleep(max(0.0, pause_s - elapsed / 1000))
        client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    stats = await client.protocol.send_request_async("infill/stats", {})
    result.absorb(stats.completions)
    result.server_rss_mb = vm_hwm_mb(client._server.pid)
    worker = getattr(stats, "worker", None)  # absent before the model moved into a worker process
    if worker is not None:
        result.worker_restarts = getattr(worker, "restarts", 0) or 0
        if getattr(worker, "pid", None):
            result.worker_rss_mb = vm_hwm_mb(worker.pid)  # read before shutdown: the worker exits with it
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return result


def report(results: list[ArmResult]) -> dict[str, Any]:
    rows = {}
    header = f"{'arm':<10} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'model p50':>9} {'cached':>7} "
    header += f"{'eval/run':>9} {'prompt':>7} {'shown':>6} {'server MB':>9} {'worker MB':>9} {'peak MB':>8}"
    print(header)
    for arm in results:
        row = {
            "requests": len(arm.latencies_ms),
            "p50_ms": percentile(arm.latencies_ms, 0.5),
            "p95_ms": percentile(arm.latencies_ms, 0.95),
            "model_p50_ms": percentile(arm.model_latencies_ms, 0.5),
            "cached_share": arm.cached / max(1, len(arm.latencies_ms)),
            "evaluated_mean": statistics.fmean(arm.evaluated) if arm.evaluated else float("nan"),
            "prompt_mean": statistics.fmean(arm.prompt_tokens) if arm.prompt_tokens else float("nan"),
            "shown_share": arm.shown / max(1, len(arm.latencies_ms)),
            "server_rss_mb": arm.server_rss_mb,
            "worker_rss_mb": None if arm.worker_rss_mb != arm.worker_rss_mb else arm.worker_rss_mb,
            "peak_rss_mb": arm.peak_rss_mb,
            "worker_restarts": arm.worker_restarts,
            "blank_p50_ms": percentile(arm.blank_latencies_ms, 0.5),
            "blank_shown_share": arm.blank_shown / max(1, len(arm.blank_latencies_ms)),
            "blank_remote_share": arm.blank_remote / max(1, arm.blank_shown),
        }
        worker_mb = "-" if row["worker_rss_mb"] is None else f"{arm.worker_rss_mb:.0f}"
        rows[arm.name] = row
        print(
            f"{arm.name:<10} {row['requests']:>8} {row['p50_ms']:>8.0f} {row['p95_ms']:>8.0f} "
            f"{row['model_p50_ms']:>9.0f} {row['cached_share']:>7.0%} {row['evaluated_mean']:>9.1f} "
            f"{row['prompt_mean']:>7.0f} {row['shown_share']:>6.0%} {arm.server_rss_mb:>9.0f} {worker_mb:>9} "
            f"{row['peak_rss_mb']:>8.0f}"
            + (f"  ({arm.worker_restarts} worker restarts)" if arm.worker_restarts else "")
        )
    for arm in results:
        row = rows[arm.name]
        print(
            f"{arm.name:<10} blank lines: {len(arm.blank_latencies_ms)}, p50 {row['blank_p50_ms']:.0f} ms, "
            f"shown {row['blank_shown_share']:.0%}, written by the remote model {row['blank_remote_share']:.0%}"
        )
    if "hybrid" in rows and "infill-ls" in rows:
        local, hybrid = rows["infill-ls"], rows["hybrid"]
        print(
            f"hybrid/local: p50 x{hybrid['p50_ms'] / local['p50_ms']:.2f}, "
            f"p95 x{hybrid['p95_ms'] / local['p95_ms']:.2f} (goal: p50 within 10%)"
        )
    if "naive" in rows and "infill-ls" in rows:
        fast, naive = rows["infill-ls"], rows["naive"]
        print(
            f"naive/infill-ls: p50 x{naive['p50_ms'] / fast['p50_ms']:.1f}, p95 x{naive['p95_ms'] / fast['p95_ms']:.1f}"
        )
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=3, help="how many of the default stdlib files to use")
    parser.add_argument("--paths", nargs="*", type=Path, help="source files to replay instead")
    parser.add_argument("--lines", type=int, default=4, help="target lines per file")
    parser.add_argument("--pause-ms", type=float, default=60, help="pause between keystrokes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arms", default="infill-ls,naive")
    parser.add_argument("--model", help="GGUF model (default: the embedded Gemma 3 270M)")
    parser.add_argument(
        "--remote",
        help="an inference server URL: adds the 'hybrid' arm (local model + this server); "
        "'llama-server' starts one on the default model (the binary .ci/llama-server built; it shares this "
        "machine's cores with the local model); 'fake' a loopback OpenAI-compatible server answering one line "
        "at 20 ms a token (a remote GPU that takes no CPU here: for latency, not quality)",
    )
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paths = args.paths or [stdlib / name for name in DEFAULT_FILES[: args.files]]
    targets = pick_targets(paths, args.lines, args.seed)
    print(f"{len(targets)} lines from {len(paths)} files, pause {args.pause_ms:.0f} ms")
    print(
        f"server code: {server_package()} (cwd {os.getcwd()}, PYTHONPATH={os.environ.get('PYTHONPATH', '')!r})"
    )
    base: dict[str, Any] = {"completion": {"timeBudgetMs": 30_000}, "index": {"enabled": False}}
    if args.model:
        base["model"] = {"path": args.model}
    arms = {
        "infill-ls": base,
        "naive": {**base, "completion": {**base["completion"], "reuse": False}},
    }
    names = args.arms.split(",")
    server = None
    fake = None
    if args.remote == "fake":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.remote.fakes import FakeServer

        fake = FakeServer("openai", model="qwen2.5-coder-7b", answer=["pass\n"], token_delay_s=0.02).start()
        args.remote = fake.url
    if args.remote == "llama-server":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from completion.default_model import default_model_path
        from tests.llama_servers import start_llama_server

        server = start_llama_server(default_model_path(), Path("/tmp/typing-replay-llama-server.log"))
        args.remote = server.url
    if args.remote:
        arms["hybrid"] = {**base, "backend": "hybrid", "remote": {"url": args.remote}}
        names = [name for name in names if name != "naive"] + ["hybrid"]
    try:
        results = [await run_arm(name, arms[name], targets, args.pause_ms / 1000) for name in names]
    finally:
        if server is not None:
            server.stop()
        if fake is not None:
            fake.stop()
    rows = report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
