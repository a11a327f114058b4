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

`--session` (issue 13) plays a user's session instead, one server per arm, the arms one after another on the
same seeded script: open each file (`didOpen`, then `textDocument/didFocus` with the cursor where the user will
type, as infill-ls's editors send it) at a region of `--lines` code lines
(its first line stays, blanked to its indentation; the rest are typed as new), wait 1 s, type the region key by
key (gaps log-normal around `--gap-ms`; Enter brings the next line's indentation) with an inlineCompletion
request after each key, now and then a pause of 1-2 s (at a line end, after a word); accept the shown
suggestion (the first item) whenever it is the real text ahead of the cursor or a prefix of it, after a
reading time (one didChange inserting it, then a request at its end); after the last file, switch back to
each earlier one in turn (didFocus with the cursor where the user left it, then the rest of its region from
there, mid-line).
The requests' moments: "open" (the first key after opening), "pause" (the key after a pause), "accept" (the
request after accepting), "switch" (the first key after switching back) and "typing" (every other key).
Keys keep the user's rhythm, not the server's: a request still unanswered at the user's next action is stale,
cancelled (`$/cancelRequest`) and its answer ignored, as editors do; it has no latency (the "stale" share)
and shows nothing. After a moment's request the user looks: it is always awaited. Latency is from the
request to its answer, the server's debounce included. Arms: `infill-ls` (the defaults, the index off) and
`raw` (the same server with warm-up, the next suggestion, per-document model state and cold-prompt cuts off
and a fixed debounce: llama.cpp's own prefix reuse alone; a setting the server does not know yet is said and
ignored); on request, `adaptive-debounce` (the defaults, the wait adapting to the typing rhythm up to 300 ms).
Reports per arm and moment: requests, answered, p50/p95 ms, shown, stale, served from the caches, model runs
and prompt tokens evaluated per run (`infill/stats`); per arm the characters of the real text the user took by
accepting (what the suggestions were worth: the same script, so the arms compare); then each goal of the issue
(on 2 cores with the default model: overall p95 <= 600 ms, switch p50 <= 100, accept p50 <= 30, open p50 <=
300), met or not by infill-ls, raw beside it. `--fake-model` runs the tests' scripted model
(tests/worker/fakes.py) instead.

    python bench/typing_replay.py --session --files 3 --json /tmp/session.json

A script has 1-4 requests per moment other than typing, too few for a p50: `--seeds 0,1,2,3` plays several
scripts (each arm on a fresh server per script), reports each, and judges the goals on their requests pooled.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
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


async def _drain(stream: asyncio.StreamReader | None, log: Path | None) -> None:
    """Read the server's stderr (pygls pipes it and never reads it: a chatty server would block on a full
    pipe), into ``log`` when given."""
    if stream is None:
        return
    sink = log.open("wb") if log is not None else None
    try:
        while chunk := await stream.read(65536):
            if sink is not None:
                sink.write(chunk)
                sink.flush()
    finally:
        if sink is not None:
            sink.close()


async def start_server(
    options: dict[str, Any],
    env: dict[str, str] | None = None,
    log: Path | None = None,
    messages: list[str] | None = None,
) -> LanguageClient:
    """`python -m lsp_server` over stdio, initialized with ``options`` (initializationOptions) and its model
    ready. ``env``: added to this environment (the fake model); ``messages``: gets what the server shows the
    user (window/showMessage: settings it does not know, among others)."""
    client = LanguageClient("typing-replay", "1")
    ready = asyncio.Event()

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def on_message(ls: LanguageClient, params: types.ShowMessageParams) -> None:
        if messages is not None:
            messages.append(params.message)

    @client.feature("infill/status")
    def on_status(ls: LanguageClient, params: Any) -> None:
        if params.state in ("ready", "error"):
            ready.set()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(ls: LanguageClient, params: Any) -> None:
        """Diagnostics stay on, as in an editor; this replay does not look at them."""

    await client.start_io(sys.executable, "-m", "lsp_server", env={**os.environ, **(env or {})})
    assert client._server is not None
    client._async_tasks.append(asyncio.create_task(_drain(client._server.stderr, log)))
    caps = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities()
        )
    )
    await client.initialize_async(types.InitializeParams(capabilities=caps, initialization_options=options))
    client.initialized(types.InitializedParams())
    await asyncio.wait_for(ready.wait(), 300)
    return client


@dataclass
class ServerEnd:
    """What a server said and held when its arm ended."""

    completions: list[Any]  # infill/stats' completions not absorbed yet
    server_rss_mb: float
    worker_rss_mb: float = float("nan")  # nan: no worker process (the model runs in the server)
    worker_restarts: int = 0
    background: dict[str, int] = field(default_factory=dict)  # warm-ups, next suggestions, cancelled


async def stop_server(client: LanguageClient) -> ServerEnd:
    """The last ``infill/stats`` and peak memory (read before shutdown: the worker exits with the server)."""
    stats = await client.protocol.send_request_async("infill/stats", {})
    assert client._server is not None
    end = ServerEnd(list(stats.completions), vm_hwm_mb(client._server.pid))
    worker = getattr(stats, "worker", None)  # absent before the model moved into a worker process
    if worker is not None:
        end.worker_restarts = getattr(worker, "restarts", 0) or 0
        if getattr(worker, "pid", None):
            end.worker_rss_mb = vm_hwm_mb(worker.pid)
    background = getattr(stats, "background", None)
    if background is not None:  # a namedtuple, as pygls gives custom answers
        end.background = {key: int(value) for key, value in background._asdict().items()}
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return end


async def run_arm(
    name: str, options: dict[str, Any], targets: list[tuple[Path, int]], pause_s: float
) -> ArmResult:
    result = ArmResult(name)
    client = await start_server(options, log=Path(f"/tmp/typing-replay-{name}.log"))
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
    end = await stop_server(client)
    result.absorb(end.completions)
    result.server_rss_mb = end.server_rss_mb
    result.worker_rss_mb = end.worker_rss_mb
    result.worker_restarts = end.worker_restarts
    return result


def report(results: list[ArmResult]) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
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


# --- the session: open, pause, accept, switch (--session) -------------------------------------------------------

MOMENTS = ("open", "pause", "accept", "switch", "typing")
OPEN_SETTLE_S = 1.0  # didOpen and didFocus, then this long before the first keystroke (the "open" moment)
GAP_SIGMA = 0.35  # spread of the log-normal human timings around their median
GAP_BOUNDS_S = (0.04, 0.5)  # a keystroke gap, around --gap-ms
PAUSE_S = (1.0, 2.0)  # a longer pause, uniform
PAUSE_AT_LINE_END = 0.5  # chance of a pause before the Enter that ends a line...
PAUSE_AT_WORD = 0.06  # ... and before a keystroke after a space, bracket, dot or comma
WORD_ENDS = " ([.,"
READ_S, READ_BOUNDS_S = 0.35, (0.15, 1.0)  # a suggestion appears; the user reads it and presses Tab
SWITCH_S, SWITCH_BOUNDS_S = 0.6, (0.3, 1.5)  # didFocus of a file switched back to, then the first keystroke
MOVE_S = (0.5, 1.0)  # from the last keystroke in a file to opening or switching to the next, uniform
MAX_CHAINED_ACCEPTS = 20
ANSWER_TIMEOUT_S = 60.0  # the user waits this long at most for an answer after a moment
GOALS = (("overall", "p95", 600.0), ("switch", "p50", 100.0), ("accept", "p50", 30.0), ("open", "p50", 300.0))


@dataclass(frozen=True)
class SessionDoc:
    """A file as the session opens it: the user types ``region`` (the target line from its indentation, and
    the lines after it that belong to the region, joined by newlines), which the opened text leaves out; the
    target line stays, blanked to its indentation."""

    uri: str
    head: str  # the text before the target line
    indent: str
    region: str
    tail: str  # after the region: its final newline and the rest of the file
    split: int  # region offset where the first visit stops (typed after switching back); len(region): never

    def text(self, typed: int) -> str:
        """The document once the user has typed ``typed`` characters of the region."""
        return self.head + self.indent + self.region[:typed] + self.tail

    def cursor(self, typed: int) -> int:
        return len(self.head) + len(self.indent) + typed

    def visit_end(self, revisited: bool) -> int:
        """Where the visit the user is in stops typing: accepted text never runs past it (the first visit's
        end holds even once the user has typed up to it: what follows is typed after switching back)."""
        return len(self.region) if revisited else self.split


@dataclass(frozen=True)
class Step:
    """One thing the user does. ``kind``: ``open`` (didOpen, didFocus), ``key`` (a keystroke, then a request),
    ``pause`` (a longer pause before the key at ``at``), ``accept`` (after a key: accept the shown suggestion
    if it is the real text ahead, then a request) or ``switch`` (didFocus on a file opened before)."""

    kind: str
    doc: int
    at: int = 0  # key, pause: the region offset the key types at; accept: after its key
    text: str = ""  # key: what it inserts (a character, or Enter with the next line's indentation)
    wait_s: float = 0.0  # open, switch, key: after the user's last action; pause: added; accept: reading time
    moment: str = ""  # key: its request's moment (open, pause, switch or typing)


@dataclass(frozen=True)
class Session:
    """The script every arm plays: the files as opened, and the user's steps in order."""

    docs: tuple[SessionDoc, ...]
    steps: tuple[Step, ...]


def _human(rng: random.Random, median_s: float, bounds: tuple[float, float]) -> float:
    """A human timing: log-normal around ``median_s``, within ``bounds``."""
    return min(bounds[1], max(bounds[0], median_s * math.exp(rng.gauss(0.0, GAP_SIGMA))))


def _in_strings(lines: list[str]) -> list[bool]:
    """Per line, whether it starts inside a triple-quoted string (a docstring's prose is not code to type)."""
    inside, quote, flags = False, "", []
    for line in lines:
        flags.append(inside)
        at = 0
        while True:
            spots = [(line.find(mark, at), mark) for mark in ((quote,) if inside else ('"""', "'''"))]
            found = min(((spot, mark) for spot, mark in spots if spot >= 0), default=None)
            if found is None:
                break
            inside, quote, at = not inside, found[1], found[0] + 3
    return flags


def pick_region(lines: list[str], count: int, rng: random.Random) -> tuple[int, int]:
    """The first line and size of ``count`` (else fewer) code lines to type, with text after them: the first
    is a target line as :func:`pick_targets` takes one, none is a comment or in a string, the last is not
    blank."""
    strings = _in_strings(lines)

    def code(i: int) -> bool:
        stripped = lines[i].strip()  # (a blank line is code here: it may sit inside the region)
        return not strings[i] and len(stripped) <= 80 and not stripped.startswith(("#", '"', "'"))

    for size in range(count, 0, -1):
        good = [
            i
            for i in range(21, len(lines) - size)
            if 12 <= len(lines[i].strip()) <= 60
            and all(code(j) and not strings[j + 1] for j in range(i, i + size))
            and lines[i + size - 1].strip()
        ]
        if good:
            return rng.choice(good), size
    raise ValueError("no line to type in this text")


def _split(region: str, rng: random.Random) -> int:
    """Where the user leaves a file they come back to: after a word in the middle of the region's last line."""
    line_start = region.rfind("\n") + 1
    code = line_start + len(region[line_start:]) - len(region[line_start:].lstrip())
    length = len(region) - code
    spots = [
        at
        for at in range(code + max(1, int(0.3 * length)), code + int(0.7 * length) + 1)
        if region[at - 1] in WORD_ENDS and at < len(region)
    ]
    return rng.choice(spots) if spots else max(1, code + length // 2)


def session_doc(
    number: int, name: str, text: str, count: int, rng: random.Random, revisit: bool
) -> SessionDoc:
    """``text`` opened with a region of ``count`` lines to type (``revisit``: split for a second visit)."""
    lines = text.split("\n")  # only "\n" breaks a line here: read files in text mode
    start, size = pick_region(lines, count, rng)
    first = lines[start]
    indent = first[: len(first) - len(first.lstrip())]
    region = "\n".join([first[len(indent) :], *lines[start + 1 : start + size]])
    return SessionDoc(
        uri=f"file:///session/{number}/{Path(name).name}",
        head="".join(line + "\n" for line in lines[:start]),
        indent=indent,
        region=region,
        tail="\n" + "\n".join(lines[start + size :]),
        split=_split(region, rng) if revisit else len(region),
    )


def keystrokes(region: str, start: int, end: int) -> list[tuple[int, str]]:
    """(offset, text) per keystroke typing ``region[start:end]``: a character, or Enter with the next line's
    indentation (the editor indents the new line)."""
    keys = []
    at = start
    while at < end:
        stop = at + 1
        if region[at] == "\n":
            while stop < end and region[stop] in " \t":
                stop += 1
        keys.append((at, region[at:stop]))
        at = stop
    return keys


def typing_steps(
    doc: int,
    region: str,
    span: tuple[int, int],
    first: tuple[str, float],
    rng: random.Random,
    gap_s: float,
    force_pause: bool,
) -> list[Step]:
    """Typing ``region[span[0]:span[1]]``: its first key is moment ``first[0]`` after ``first[1]`` seconds,
    each key is followed by an accept step, and now and then a pause (``force_pause``: at least one)."""
    keys = keystrokes(region, *span)
    forced = rng.randrange(1, len(keys)) if force_pause and len(keys) > 1 else -1
    steps = []
    for number, (at, text) in enumerate(keys):
        moment, wait = first if number == 0 else ("typing", _human(rng, gap_s, GAP_BOUNDS_S))
        if number > 0:
            chance = (
                PAUSE_AT_LINE_END if text[0] == "\n" else PAUSE_AT_WORD if region[at - 1] in WORD_ENDS else 0
            )
            if number == forced or rng.random() < chance:
                steps.append(Step("pause", doc, at=at, wait_s=rng.uniform(*PAUSE_S)))
                moment = "pause"
        steps.append(Step("key", doc, at=at, text=text, wait_s=wait, moment=moment))
        steps.append(Step("accept", doc, at=at + len(text), wait_s=_human(rng, READ_S, READ_BOUNDS_S)))
    return steps


def build_session(texts: list[tuple[str, str]], seed: int, lines: int = 3, gap_s: float = 0.12) -> Session:
    """The session's script from (name, text) pairs, the same for every arm: open each file and type its
    region's first visit; then switch back to every file but the last, in order, and type the rest there."""
    rng = random.Random(seed)
    revisit = range(len(texts) - 1)
    docs = tuple(
        session_doc(number, name, text, lines, rng, number in revisit)
        for number, (name, text) in enumerate(texts)
    )
    steps: list[Step] = []
    for number, doc in enumerate(docs):
        steps.append(Step("open", number, wait_s=rng.uniform(*MOVE_S) if number else 0.0))
        span = (0, doc.split)
        steps += typing_steps(number, doc.region, span, ("open", OPEN_SETTLE_S), rng, gap_s, force_pause=True)
    for number in revisit:
        doc = docs[number]
        steps.append(Step("switch", number, wait_s=rng.uniform(*MOVE_S)))
        first = ("switch", _human(rng, SWITCH_S, SWITCH_BOUNDS_S))
        span = (doc.split, len(doc.region))
        steps += typing_steps(number, doc.region, span, first, rng, gap_s, force_pause=False)
    return Session(docs, tuple(steps))


def position_of(text: str, offset: int) -> types.Position:
    """The LSP position (UTF-16 columns) of a ``str`` offset."""
    start = text.rfind("\n", 0, offset) + 1
    return types.Position(text.count("\n", 0, offset), len(text[start:offset].encode("utf-16-le")) // 2)


def offset_of(text: str, position: types.Position) -> int:
    """The ``str`` offset of an LSP position (UTF-16 columns), clamped to its line."""
    start = 0
    for _ in range(position.line):
        found = text.find("\n", start)
        if found < 0:
            return len(text)
        start = found + 1
    end = text.find("\n", start)
    line = text[start : len(text) if end < 0 else end]
    return start + len(
        line.encode("utf-16-le")[: 2 * position.character].decode("utf-16-le", errors="ignore")
    )


def accepted(
    doc: SessionDoc, typed: int, start: int, stop: int, insert: str, revisited: bool = False
) -> int | None:
    """How much of the region is typed once a suggestion (``insert`` replacing document offsets
    ``start``-``stop``) is accepted; None when it is not the real text ahead of the cursor (the rest of the
    visit, ``revisited``: the one after switching back: the line's rest and the region's lines after it), a
    prefix of it, or adds nothing."""
    cursor = doc.cursor(typed)
    if stop != cursor or start > cursor:
        return None
    result = doc.text(typed)[:start] + insert
    real = doc.head + doc.indent + doc.region[: doc.visit_end(revisited)]
    if len(result) <= cursor or not real.startswith(result):
        return None
    return len(result) - len(doc.head) - len(doc.indent)


@dataclass
class Ask:
    """One request of the session and what came of it."""

    moment: str
    doc: int
    msg_id: str
    sent: float
    answered: float | None = None
    answer: Any = None
    stale: bool = False  # the user moved on before the answer: no latency, nothing shown
    done: asyncio.Event = field(default_factory=asyncio.Event)
    evaluated: list[int] = field(default_factory=list)  # prompt tokens evaluated per model run (infill/stats)
    cached: int = 0  # answers infill/stats says came from the caches
    seed: int = 0  # the script's
    line: str = ""  # the cursor's line, the cursor marked "|" (to see why a request is slow or shows nothing)
    accepted: int = 0  # characters of the real text the user took by accepting its suggestion

    @property
    def latency_ms(self) -> float | None:
        return None if self.stale or self.answered is None else (self.answered - self.sent) * 1000

    @property
    def item(self) -> Any:
        """The shown suggestion: the first item of an answer that came in time, else None."""
        if self.stale or self.answer is None:
            return None
        items = self.answer if isinstance(self.answer, list) else getattr(self.answer, "items", None)
        return items[0] if items else None

    def absorb(self, completions: list[Any]) -> None:
        for entry in completions:
            if entry.cached:
                self.cached += 1
            else:
                self.evaluated.append(entry.tokensEvaluated)


class SessionPlayer:
    """Plays a session's steps against one server on the user's clock: keystrokes do not wait for answers;
    a request still unanswered at the user's next action is stale (cancelled, its answer ignored), as editors
    do, except after a moment (open, pause, accept, switch), where the user looks at what comes."""

    def __init__(self, client: LanguageClient, session: Session) -> None:
        self.client, self.session = client, session
        self.typed = [0] * len(session.docs)
        self.revisited: set[int] = set()  # the documents switched back to
        self.version = [0] * len(session.docs)
        self.asks: list[Ask] = []
        self.current: Ask | None = None  # the latest request: what the editor shows once it is answered
        self.last = time.perf_counter()  # the user's last action, or the answer they waited for
        self._tasks: list[asyncio.Task[None]] = []
        self._ids = itertools.count()

    async def play(self) -> list[Ask]:
        steps = self.session.steps
        to_check: Ask | None = None  # the request of the key just typed (its accept step looks at it)
        pauses = 0.0
        for index, step in enumerate(steps):
            if step.kind in ("key", "pause") and step.at < self.typed[step.doc]:
                continue  # an accepted suggestion typed it
            if step.kind == "accept":
                if to_check is not None:
                    await self.accept_if_matching(to_check, step, self.time_ahead(index))
                to_check = None
                continue
            if step.kind == "pause":
                pauses += step.wait_s
                continue
            await _sleep_until(self.last + pauses + step.wait_s)
            pauses = 0.0
            self.supersede()
            doc = self.session.docs[step.doc]
            if step.kind == "open":
                self.version[step.doc] = 1
                item = types.TextDocumentItem(doc.uri, "python", 1, doc.text(0))
                self.client.text_document_did_open(types.DidOpenTextDocumentParams(item))
            if step.kind == "switch":
                self.revisited.add(step.doc)
            if step.kind in (
                "open",
                "switch",
            ):  # with the cursor where the user types, as the editors send it
                where = position_of(doc.text(self.typed[step.doc]), doc.cursor(self.typed[step.doc]))
                focus = {
                    "textDocument": {"uri": doc.uri},
                    "position": {"line": where.line, "character": where.character},
                }
                self.client.protocol.notify("textDocument/didFocus", focus)
                self.last = time.perf_counter()
            if step.kind == "key":
                cursor = doc.cursor(self.typed[step.doc])
                self.change(step.doc, cursor, cursor, step.text)
                self.typed[step.doc] += len(step.text)
                to_check = self.ask(step.doc, step.moment)
                self.last = to_check.sent
        if self.current is not None:  # the user is done typing: the last answer is awaited
            await _answered(self.current, ANSWER_TIMEOUT_S)
        await asyncio.gather(*self._tasks)
        return self.asks

    def time_ahead(self, index: int) -> float:
        """Seconds from the user's last action to their next one, as the script stands (pauses included)."""
        ahead = 0.0
        for step in self.session.steps[index + 1 :]:
            if step.kind == "accept" or (step.kind in ("key", "pause") and step.at < self.typed[step.doc]):
                continue
            ahead += step.wait_s
            if step.kind != "pause":
                break
        return ahead

    async def accept_if_matching(self, ask: Ask, step: Step, ahead_s: float) -> None:
        """Accept the shown suggestion while it is the real text ahead (then ask again there: "accept")."""
        if ask.moment == "typing":
            if not await _answered(ask, self.last + ahead_s - time.perf_counter()):
                return  # the user types on first
        elif await _answered(ask, ANSWER_TIMEOUT_S):
            assert ask.answered is not None
            self.last = ask.answered  # the user waited for it
        for _ in range(MAX_CHAINED_ACCEPTS):
            doc = self.session.docs[ask.doc]
            typed = self.typed[ask.doc]
            item = ask.item
            if item is None or ask.answered is None:
                return
            insert = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
            text, cursor = doc.text(typed), doc.cursor(typed)
            start, stop = (
                (cursor, cursor)
                if item.range is None
                else (offset_of(text, item.range.start), offset_of(text, item.range.end))
            )
            now_typed = accepted(doc, typed, start, stop, insert, ask.doc in self.revisited)
            if now_typed is None:
                return
            await _sleep_until(ask.answered + step.wait_s)
            self.supersede()
            self.change(ask.doc, start, stop, insert)
            ask.accepted = now_typed - typed
            self.typed[ask.doc] = now_typed
            ask = self.ask(ask.doc, "accept")
            self.last = ask.sent
            if not await _answered(ask, ANSWER_TIMEOUT_S):
                return
            assert ask.answered is not None
            self.last = ask.answered

    def change(self, number: int, start: int, stop: int, text: str) -> None:
        """One didChange: ``text`` in place of the document's offsets ``start``-``stop``."""
        doc = self.session.docs[number]
        current = doc.text(self.typed[number])
        self.version[number] += 1
        where = types.Range(position_of(current, start), position_of(current, stop))
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=self.version[number], uri=doc.uri),
                [types.TextDocumentContentChangePartial(range=where, text=text)],
            )
        )

    def ask(self, number: int, moment: str) -> Ask:
        """An inlineCompletion request at the cursor, answered in the background."""
        doc = self.session.docs[number]
        text, cursor = doc.text(self.typed[number]), doc.cursor(self.typed[number])
        position = position_of(text, cursor)
        start, end = text.rfind("\n", 0, cursor) + 1, text.find("\n", cursor)
        line = text[start:cursor] + "|" + text[cursor : len(text) if end < 0 else end]
        msg_id = f"session-{next(self._ids)}"
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(doc.uri),
            position=position,
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        )
        future = self.client.protocol.send_request(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
        )
        ask = Ask(moment, number, msg_id, time.perf_counter(), line=line)
        self.asks.append(ask)
        self.current = ask
        self._tasks.append(asyncio.create_task(self._settle(ask, asyncio.wrap_future(future))))
        return ask

    async def _settle(self, ask: Ask, answer: asyncio.Future[Any]) -> None:
        try:
            ask.answer = await answer
        except Exception:  # cancelled, or an error answer: nothing shown
            ask.answer = None
        ask.answered = time.perf_counter()
        ask.done.set()
        stats = await self.client.protocol.send_request_async("infill/stats", {})  # (it forgets what it gave)
        ask.absorb(stats.completions)

    def supersede(self) -> None:
        """The user acts: an unanswered request is stale now; the editor cancels it."""
        ask = self.current
        if ask is not None and not ask.done.is_set():
            ask.stale = True
            self.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=ask.msg_id))
        self.current = None


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.perf_counter()))


async def _answered(ask: Ask, timeout_s: float) -> bool:
    """Whether ``ask`` is answered within ``timeout_s``."""
    if ask.done.is_set():
        return True
    if timeout_s <= 0:
        return False
    try:
        await asyncio.wait_for(ask.done.wait(), timeout_s)
    except TimeoutError:
        return False
    return True


@dataclass
class SessionResult:
    name: str
    asks: list[Ask]
    end: ServerEnd


async def run_session(
    name: str, options: dict[str, Any], session: Session, env: dict[str, str] | None = None
) -> SessionResult:
    """One arm: its own server, the session's script on it."""
    messages: list[str] = []
    client = await start_server(options, env, Path(f"/tmp/typing-replay-session-{name}.log"), messages)
    for message in messages:
        print(f"{name}: the server says: {message}")  # e.g. a setting of the arm it does not know (yet)
    asks = await SessionPlayer(client, session).play()
    return SessionResult(name, asks, await stop_server(client))


def _number(value: float) -> float | None:
    """NaN as JSON null."""
    return None if value != value else value


def moment_row(asks: list[Ask]) -> dict[str, Any]:
    latencies = [ask.latency_ms for ask in asks if ask.latency_ms is not None]
    evaluated = [tokens for ask in asks for tokens in ask.evaluated]
    return {
        "requests": len(asks),
        "answered": len(latencies),
        "p50_ms": _number(percentile(latencies, 0.5)),
        "p95_ms": _number(percentile(latencies, 0.95)),
        "shown_share": sum(ask.item is not None for ask in asks) / max(1, len(asks)),
        "stale_share": sum(ask.stale for ask in asks) / max(1, len(asks)),
        "cached_share": sum(bool(ask.cached and not ask.evaluated) for ask in asks) / max(1, len(latencies)),
        "model_runs": len(evaluated),
        "evaluated_mean": _number(statistics.fmean(evaluated)) if evaluated else None,
        "accepted_chars": sum(ask.accepted for ask in asks),
    }


def ask_row(ask: Ask) -> dict[str, Any]:
    item = ask.item
    shown = (
        None
        if item is None
        else item.insert_text
        if isinstance(item.insert_text, str)
        else item.insert_text.value
    )
    return {
        "moment": ask.moment,
        "seed": ask.seed,
        "doc": ask.doc,
        "line": ask.line,
        "latency_ms": ask.latency_ms,
        "stale": ask.stale,
        "cached": ask.cached,
        "evaluated": ask.evaluated,
        "shown": shown,
        "accepted": ask.accepted,
    }


def session_report(results: list[SessionResult]) -> dict[str, Any]:
    """Per arm and moment: latency p50/p95 over answered requests, shown and stale shares, prompt tokens
    evaluated per model run; then the goals, met or not for infill-ls, with the other arms beside it."""
    rows: dict[str, Any] = {}
    header = f"{'arm':<10} {'moment':<8} {'requests':>8} {'answered':>8} {'p50 ms':>7} {'p95 ms':>7} "
    print(header + f"{'shown':>6} {'stale':>6} {'cached':>7} {'runs':>5} {'eval/run':>8}")

    def cell(value: float | None, width: int, spec: str = ".0f") -> str:
        return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"

    for arm in results:
        moments = {
            moment: moment_row([ask for ask in arm.asks if ask.moment == moment]) for moment in MOMENTS
        }
        moments["overall"] = moment_row(arm.asks)
        end = arm.end
        rows[arm.name] = {
            "moments": moments,
            "server_rss_mb": _number(end.server_rss_mb),
            "worker_rss_mb": _number(end.worker_rss_mb),
            "worker_restarts": end.worker_restarts,
            "background": end.background,
            "asks": [
                ask_row(ask) for ask in arm.asks
            ],  # each request, in order (to see why a moment is slow)
        }
        for moment, row in moments.items():
            print(
                f"{arm.name:<10} {moment:<8} {row['requests']:>8} {row['answered']:>8} {cell(row['p50_ms'], 7)} "
                f"{cell(row['p95_ms'], 7)} {row['shown_share']:>6.0%} {row['stale_share']:>6.0%} "
                f"{row['cached_share']:>7.0%} {row['model_runs']:>5} {cell(row['evaluated_mean'], 8, '.1f')}"
            )
        worker = "-" if end.worker_rss_mb != end.worker_rss_mb else f"{end.worker_rss_mb:.0f}"
        background = ", ".join(f"{key} {value}" for key, value in end.background.items()) or "-"
        print(
            f"{arm.name:<10} peak MB: server {end.server_rss_mb:.0f}, worker {worker}; background: {background}"
            + (f"; {end.worker_restarts} worker restarts" if end.worker_restarts else "")
        )
        accepts = sum(ask.accepted > 0 for ask in arm.asks)
        print(
            f"{arm.name:<10} accepted: {moments['overall']['accepted_chars']} characters of the real text "
            f"in {accepts} suggestions (what the user did not type)"
        )
    goals = []
    others = [name for name in rows if name != "infill-ls"]
    for moment, stat, limit in GOALS:
        values = {name: rows[name]["moments"][moment][f"{stat}_ms"] for name in rows}
        ours = values.get("infill-ls")
        met = None if ours is None else ours <= limit
        goals.append({"moment": moment, "stat": stat, "limit_ms": limit, "met": met, **values})
        verdict = "no data" if met is None else "met" if met else "NOT met"
        beside = "".join(f", {name} {cell(values[name], 0)} ms" for name in others)
        print(f"goal {moment} {stat} <= {limit:.0f} ms: infill-ls {cell(ours, 0)} ms, {verdict}{beside}")
    rows["goals"] = goals
    return rows


SESSION_RAW = {  # llama.cpp's own prefix reuse and nothing else this server adds on top
    "completion": {"warmUp": False, "prefetchNext": False, "coldPromptMs": 0, "debounceMaxMs": 0},
    "model": {"stateCacheMB": 0},
}  # debounceMaxMs at or below debounceMs: always debounceMs (a fixed debounce)


def pooled(results: list[SessionResult]) -> SessionResult:
    """One arm's runs on several seeds as one: their requests together, the highest peaks, the counts
    summed (each seed's script runs on a server of its own)."""
    background: dict[str, int] = {}
    for result in results:
        for key, value in result.end.background.items():
            background[key] = background.get(key, 0) + value
    end = ServerEnd(
        [],
        max(result.end.server_rss_mb for result in results),
        max((result.end.worker_rss_mb for result in results), key=lambda mb: -1.0 if mb != mb else mb),
        sum(result.end.worker_restarts for result in results),
        background,
    )
    return SessionResult(results[0].name, [ask for result in results for ask in result.asks], end)


async def session_main(args: argparse.Namespace, paths: list[Path]) -> None:
    texts = [(str(path), path.read_text(encoding="utf-8")) for path in paths]
    print(
        f"server code: {server_package()} (cwd {os.getcwd()}, PYTHONPATH={os.environ.get('PYTHONPATH', '')!r})"
    )
    model: dict[str, Any] = {}
    env = None
    if args.fake_model:  # the tests' scripted model (tests/worker/fakes.py): the machinery without llama.cpp
        fake = Path("/tmp/typing-replay-fake.gguf")
        fake.touch()
        model["path"] = str(fake)
        root = str(Path(__file__).resolve().parents[1])
        paths_now = os.environ.get("PYTHONPATH")
        env = {
            "INFILL_LS_WORKER_SESSION": "tests.worker.fakes:load",
            "PYTHONPATH": root + (os.pathsep + paths_now if paths_now else ""),
        }
    elif args.model:
        model["path"] = args.model
    base: dict[str, Any] = {"index": {"enabled": False}, "model": model}  # otherwise the defaults
    arms = {
        "infill-ls": base,
        "raw": {**base, "completion": SESSION_RAW["completion"], "model": {**model, **SESSION_RAW["model"]}},
        "adaptive-debounce": {**base, "completion": {"debounceMaxMs": 300}},  # waits on the typing rhythm
    }
    names = args.arms.split(",")
    runs: dict[str, list[SessionResult]] = {name: [] for name in names}
    scripts = []
    for seed in args.seeds:
        session = build_session(texts, seed, args.lines, args.gap_ms / 1000)
        keys = sum(step.kind == "key" for step in session.steps)
        where = [
            (name, doc.head.count("\n") + 1, doc.region)
            for (name, _), doc in zip(texts, session.docs, strict=True)
        ]
        print(
            f"session: {len(session.docs)} files, {keys} keystrokes, gap ~{args.gap_ms:.0f} ms, seed {seed}: "
            + ", ".join(f"{Path(name).name}:{line}" for name, line, _ in where)
        )
        scripts.append(
            {"seed": seed, "keystrokes": keys, "files": where}
        )  # (path, first line, what is typed)
        for name in names:
            result = await run_session(name, arms[name], session, env)
            for ask in result.asks:
                ask.seed = seed
            runs[name].append(result)
    if len(args.seeds) > 1:
        for seed, *results in zip(args.seeds, *runs.values(), strict=True):
            print(f"--- seed {seed}")
            session_report(list(results))
        print(f"--- seeds {', '.join(map(str, args.seeds))} pooled")
    rows = session_report([pooled(runs[name]) for name in names])
    for name in names:
        rows[name]["settings"] = arms[name]
    rows["script"] = {"gap_ms": args.gap_ms, "seeds": scripts}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=3, help="how many of the default stdlib files to use")
    parser.add_argument("--paths", nargs="*", type=Path, help="source files to replay instead")
    parser.add_argument(
        "--lines",
        type=int,
        help="target lines per file (default 4); --session: lines typed per file (default 3)",
    )
    parser.add_argument("--pause-ms", type=float, default=60, help="pause between keystrokes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seeds",
        type=lambda text: [int(seed) for seed in text.split(",")],
        help="--session: several seeds' scripts (comma-separated), each on fresh servers; the goals are "
        "judged on their requests pooled (a moment has 1-4 requests per script)",
    )
    parser.add_argument("--arms", help="default: infill-ls,naive; --session: infill-ls,raw")
    parser.add_argument("--model", help="GGUF model (default: the embedded Gemma 3 270M)")
    parser.add_argument(
        "--remote",
        help="an inference server URL: adds the 'hybrid' arm (local model + this server); "
        "'llama-server' starts one on the default model (the binary .ci/llama-server built; it shares this "
        "machine's cores with the local model); 'fake' a loopback OpenAI-compatible server answering one line "
        "at 20 ms a token (a remote GPU that takes no CPU here: for latency, not quality)",
    )
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument(
        "--session", action="store_true", help="a session: open, pause, accept, switch (see above)"
    )
    parser.add_argument("--gap-ms", type=float, default=120, help="--session: median gap between keystrokes")
    parser.add_argument(
        "--fake-model", action="store_true", help="--session: the tests' scripted model (develop the bench)"
    )
    args = parser.parse_args()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paths = args.paths or [stdlib / name for name in DEFAULT_FILES[: args.files]]
    if args.session:
        if args.remote:
            parser.error("--session runs the local model only")
        args.lines = 3 if args.lines is None else args.lines
        args.arms = args.arms or "infill-ls,raw"
        args.seeds = args.seeds or [args.seed]
        await session_main(args, paths)
        return
    args.lines = 4 if args.lines is None else args.lines
    args.arms = args.arms or "infill-ls,naive"
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
