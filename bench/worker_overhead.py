"""What the process boundary costs: the model in a supervised worker process vs the same model in-process.

Loads the embedded default model (``ModelOptions()``) twice: once in this process (``ModelSession``) and once
in a worker (``ModelSupervisor``, as the server and the CLI run it). Both use all cores; calls to the two are
interleaved (alternating which goes first), so a change in machine load hits both alike.

(a) Per call, ``--calls`` times each (medians and p95 in ms):

- ``tokenize 1 char``: next to no model work, so the worker column is mostly the bare round trip (pickle,
  socket, the worker's reader thread and queue, the reply thread, the waiting caller);
- ``tokenize ~N chars``: a ~3000-character prompt (the default prefix window), a list of ~1000 ids back;
- ``generate 1 token``: ``max_tokens=1`` on a prompt already in the KV cache (one token re-evaluated for
  fresh logits, one sampled and fed back: two one-token decodes);
- ``score K tokens``: ``continuation_logprobs`` of a few tokens after the cached prompt, alternating two
  continuations that differ from their first token (so each call scores all of them, as ranking does).

(b) Whole engine requests: ``CompletionEngine.complete`` on the typing replay's target lines (stdlib files,
same seed rule): one request at the blank line (as after Enter: several candidates and their ranking), then one
per character typed. Reuse on, parse context on, a 30 s budget (no deadline cuts); each arm has its own engine,
model and incrementally edited ``SyntaxDocument``. Rows: all requests, model runs (neither arm served it from
its typed-ahead cache) split into "while typing" (one candidate) and "at a blank line", and cached ones. Columns:
p50/p95 per arm, the differences of those, the p50 of the per-request paired difference (worker - in-process)
and the p50 of model calls per request (each one a round trip to the worker; multiply by (a)'s bare round trip
for the floor of the boundary's cost). The goal for the worker: at most 2 ms more per request at p50. ``same
text`` counts requests where both arms suggested the same thing (the worker must not change answers).

Read the "diff" columns: positive = the worker is slower by that much. Numbers only, nothing is asserted; on a
busy machine (see the load average printed first) p95 is noise, medians less so.

    .venv/bin/python bench/worker_overhead.py [--calls 200] [--files 2] [--lines 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typing_replay import (  # the replay's lines (bench/ is on sys.path)
    DEFAULT_FILES,
    percentile,
    pick_targets,
)

from completion.backend import GenerationSpec, TokenModel
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.fim import PromptPiece
from completion.model import ModelOptions, ModelSession, model_path_for
from completion.supervisor import ModelSupervisor
from syntax.document import SyntaxDocument


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def timed_pair(
    calls: int, local: Callable[[], Any], remote: Callable[[], Any]
) -> tuple[list[float], list[float]]:
    """``calls`` timings (ms) of each, interleaved, alternating which runs first."""
    local_ms: list[float] = []
    remote_ms: list[float] = []
    for index in range(calls):
        order = [(local, local_ms), (remote, remote_ms)]
        for call, into in order if index % 2 == 0 else reversed(order):
            started = time.perf_counter()
            call()
            into.append((time.perf_counter() - started) * 1000)
    return local_ms, remote_ms


def print_row(label: str, local: list[float], remote: list[float], width: int = 30, end: str = "") -> None:
    local_p50, local_p95 = percentile(local, 0.5), percentile(local, 0.95)
    remote_p50, remote_p95 = percentile(remote, 0.5), percentile(remote, 0.95)
    print(
        f"{label:<{width}} {local_p50:>8.3f} {local_p95:>8.3f} {remote_p50:>9.3f} {remote_p95:>8.3f} "
        f"{remote_p50 - local_p50:>+9.3f} {remote_p95 - local_p95:>+9.3f}{end}"
    )


def per_call(session: ModelSession, supervisor: ModelSupervisor, prompt_text: str, calls: int) -> None:
    pieces = [PromptPiece(prompt_text, special=False)]
    tiny = [PromptPiece("x", special=False)]
    tokens = session.tokenize(pieces, add_bos=True)
    if tokens != supervisor.tokenize(pieces, add_bos=True):
        print("!! the worker tokenized the prompt differently from the in-process session")
    first = session.tokenize([PromptPiece("    return value\n", special=False)], add_bos=False)
    second = session.tokenize([PromptPiece("    yield result\n", special=False)], add_bos=False)
    one_token = GenerationSpec(max_tokens=1)
    rows: list[tuple[str, list[float], list[float]]] = []
    print(f"\n(a) per call, {calls} calls each, ms")
    print(
        f"{'call':<30} {'in-proc':>8} {'':>8} {'worker':>9} {'':>8} {'diff':>9} {'diff':>9}\n"
        f"{'':<30} {'p50':>8} {'p95':>8} {'p50':>9} {'p95':>8} {'p50':>9} {'p95':>9}"
    )
    with session.lock, supervisor.lock:
        for backend in (session, supervisor):  # warm: the prompt into both KV caches
            backend.generate(tokens, one_token)
        local, remote = timed_pair(
            calls, lambda: session.tokenize(tiny, add_bos=False), lambda: supervisor.tokenize(tiny, False)
        )
        rows.append(("tokenize 1 char", local, remote))
        print_row(*rows[-1])
        local, remote = timed_pair(
            calls, lambda: session.tokenize(pieces, add_bos=True), lambda: supervisor.tokenize(pieces, True)
        )
        rows.append((f"tokenize {len(prompt_text)} chars", local, remote))
        print_row(*rows[-1])
        local, remote = timed_pair(
            calls,
            lambda: session.generate(tokens, one_token),
            lambda: supervisor.generate(tokens, one_token),
        )
        rows.append((f"generate 1 token ({len(tokens)} cached)", local, remote))
        print_row(*rows[-1])
        turn = {"local": 0, "remote": 0}

        def score(backend: TokenModel, side: str) -> list[float]:
            turn[side] += 1
            return backend.continuation_logprobs(tokens, first if turn[side] % 2 else second)

        local, remote = timed_pair(
            calls, lambda: score(session, "local"), lambda: score(supervisor, "remote")
        )
        rows.append((f"score {len(first)}/{len(second)} tokens", local, remote))
        print_row(*rows[-1])
    print(f"prompt: {len(prompt_text)} characters = {len(tokens)} tokens; load average now {load_average()}")


class CallCounter:
    """Counts the model calls an engine makes (each one a round trip for the worker), per backend."""

    METHODS = ("tokenize", "generate", "continuation_logprobs", "forget_prompt")

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.count = 0
        for name in self.METHODS:
            method = getattr(backend, name)

            def counted(*args: Any, _method: Callable[..., Any] = method, **kwargs: Any) -> Any:
                self.count += 1
                return _method(*args, **kwargs)

            setattr(backend, name, counted)  # an instance attribute shadowing the method

    def remove(self) -> None:
        for name in self.METHODS:
            delattr(self.backend, name)


def engine_requests(
    session: ModelSession, supervisor: ModelSupervisor, targets: list[tuple[Path, int]]
) -> None:
    # reuse on, parse context on (the defaults); whole prompts, as both arms must evaluate the same
    options = CompletionOptions(time_budget_ms=30_000, cold_prompt_ms=0)
    engines = {"in-proc": CompletionEngine(options), "worker": CompletionEngine(options)}
    engines["in-proc"].set_model(session)
    engines["worker"].set_model(supervisor)
    counters = {"in-proc": CallCounter(session), "worker": CallCounter(supervisor)}
    elapsed: dict[str, list[float]] = {name: [] for name in engines}
    cached: dict[str, list[bool]] = {name: [] for name in engines}
    texts: dict[str, list[str | None]] = {name: [] for name in engines}
    calls: list[int] = []  # model calls the worker arm made per request
    line_starts: list[int] = []  # request indexes at a blank line (several candidates, ranking)
    index = 0

    def request_both(
        text: str, offset: int, uri: str, path: Path, documents: dict[str, SyntaxDocument]
    ) -> None:
        nonlocal index
        names = list(engines) if index % 2 == 0 else list(reversed(engines))
        index += 1
        for name in names:
            request = CompletionRequest(text, offset, uri, "python", path.name, documents[name])
            before = counters[name].count
            started = time.perf_counter()
            completion = engines[name].complete(request)
            elapsed[name].append((time.perf_counter() - started) * 1000)
            cached[name].append(bool(completion and completion.cached))
            texts[name].append(completion.text if completion else None)
            if name == "worker":
                calls.append(counters[name].count - before)

    for number, (path, line_index) in enumerate(targets):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        target = lines[line_index].rstrip("\n")
        indent = target[: len(target) - len(target.lstrip())]
        lines[line_index] = indent + "\n"
        text = "".join(lines)
        offset = sum(len(line) for line in lines[:line_index]) + len(indent)
        documents = {name: SyntaxDocument(text, "python") for name in engines}
        uri = f"file:///overhead/{number}/{path.name}"
        line_starts.append(index)
        request_both(text, offset, uri, path, documents)  # the blank line, as after Enter
        for char in target[len(indent) :]:
            text = text[:offset] + char + text[offset:]
            for document in documents.values():
                document.edit(offset, offset, char)
            offset += 1
            request_both(text, offset, uri, path, documents)
    for counter in counters.values():
        counter.remove()
    local, remote = elapsed["in-proc"], elapsed["worker"]
    everything = range(len(local))
    runs = [i for i in everything if not cached["in-proc"][i] and not cached["worker"][i]]
    typing_runs = [i for i in runs if i not in line_starts]
    starts = [i for i in runs if i in line_starts]
    cached_only = [i for i in everything if cached["in-proc"][i] and cached["worker"][i]]
    print(
        f"\n(b) CompletionEngine.complete, {len(targets)} lines: a request at the blank line, then one per typed "
        f"char; {len(local)} requests, ms"
    )
    print(
        f"{'requests':<30} {'in-proc':>8} {'':>8} {'worker':>9} {'':>8} {'diff':>9} {'diff':>9} {'paired':>9} "
        f"{'calls':>6}\n"
        f"{'':<30} {'p50':>8} {'p95':>8} {'p50':>9} {'p95':>8} {'p50':>9} {'p95':>9} {'diff p50':>9} {'p50':>6}"
    )
    groups = [
        ("all", list(everything)),
        ("model runs", runs),
        ("  while typing", typing_runs),
        ("  at a blank line", starts),
        ("cached", cached_only),
    ]
    for label, chosen in groups:
        mine, theirs = [local[i] for i in chosen], [remote[i] for i in chosen]
        paired = [remote[i] - local[i] for i in chosen]
        calls_p50 = percentile([float(calls[i]) for i in chosen], 0.5)
        print_row(
            f"{label} ({len(chosen)})",
            mine,
            theirs,
            end=f" {percentile(paired, 0.5):>+9.3f} {calls_p50:>6.0f}",
        )
    paired_all = [remote[i] - local[i] for i in everything]
    print(
        f"paired difference worker - in-proc: mean {statistics.fmean(paired_all):+.3f} ms over all requests; "
        f"model calls per model run: max {max((calls[i] for i in runs), default=0)}, "
        f"total {sum(calls)} (goal: p50 difference <= 2 ms)"
    )
    same = sum(a == b for a, b in zip(texts["in-proc"], texts["worker"], strict=True))
    print(f"same text: {same}/{len(local)}; load average now {load_average()}")
    for engine in engines.values():
        engine.model = None  # the models are closed by the caller


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="calls per kind in (a)")
    parser.add_argument("--prompt-chars", type=int, default=3000, help="prompt size in (a)")
    parser.add_argument("--files", type=int, default=2, help="how many of the default stdlib files in (b)")
    parser.add_argument("--paths", nargs="*", type=Path, help="source files to type in instead")
    parser.add_argument("--lines", type=int, default=2, help="target lines per file in (b)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", choices=["a", "b"], help="leave out one part")
    args = parser.parse_args()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paths = args.paths or [stdlib / name for name in DEFAULT_FILES[: args.files]]
    options = ModelOptions()
    path = model_path_for(options)
    print(f"model {path.name}, {os.cpu_count()} cores, load average {load_average()}")
    started = time.perf_counter()
    session = ModelSession.load(options, path)
    session.self_check()  # the worker runs it before it reports ready: the same warm-up here
    local_load = time.perf_counter() - started
    started = time.perf_counter()
    supervisor = ModelSupervisor(options, path)
    supervisor.start()
    remote_load = time.perf_counter() - started
    print(
        f"load + self-check: in-process {local_load:.2f} s, worker {remote_load:.2f} s (pid {supervisor.pid})"
    )
    try:
        if args.skip != "a":
            source = (stdlib / "textwrap.py").read_text(encoding="utf-8")
            per_call(session, supervisor, source[: args.prompt_chars], args.calls)
        if args.skip != "b":
            engine_requests(session, supervisor, pick_targets(paths, args.lines, args.seed))
    finally:
        supervisor.close()
        session.close()


if __name__ == "__main__":
    main()
