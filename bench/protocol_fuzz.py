"""Protocol fuzz, nightly size: thousands of fuzzed messages and malformed frames through the real stdio server.

The same message shapes, raw client and checks as tests/e2e/test_protocol_fuzz.py (tests/fuzzing.py), driven by
hypothesis with a fixed seed, so a run can be repeated. The server loads the embedded default model first (as
the test does) unless ``--fake-model``. Every ``--framing-every`` messages a malformed frame (the test's cases,
in turn) or garbage between frames goes in. When the stream gets stuck (a well-formed request after a message
gets no answer), that counts as a desync and a fresh server takes over. After the main run, ``shutdown`` and
``--after-shutdown`` more messages, which must all be refused with -32600, then ``exit`` (status 0).

Prints: messages sent, requests, answers owed and how they went (unanswered, duplicate answers, wrong codes,
errors with id null missing or extra), desyncs, tracebacks in the server logs by kind (ours: lsp_server,
completion, syntax), peak RSS of the server process, and the first example of each problem.

    python bench/protocol_fuzz.py --messages 10000 --seed 1
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import (
    FRAME_CASES,
    FUZZ_OPTIONS,
    INVALID_REQUEST,
    Exchange,
    Mint,
    Problem,
    RawServer,
    Shape,
    garbage,
    messages,
    open_documents,
    realize,
    restore_settings,
    run_frame_case,
    run_garbage,
    start_server,
    touches_settings,
    tracebacks,
)

PER_EXAMPLE = 10  # messages per hypothesis example (each example opens the documents again)


@dataclass
class Tally:
    sent: int = 0
    barriers: int = 0
    requests: int = 0  # messages owed an answer with their id
    owed_null: int = 0  # messages owed an error with id null
    notifications: int = 0  # messages owed nothing
    framing: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    problems: Counter[tuple[str, str]] = field(default_factory=Counter)  # (category, kind)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)
    desyncs: int = 0
    servers: int = 0
    peak_rss_kb: int = 0
    logs: list[Path] = field(default_factory=list)

    def add(self, problems: list[Problem]) -> None:
        for problem in problems:
            key = (problem.category, problem.kind)
            self.problems[key] += 1
            self.examples.setdefault(key, problem.detail)
            if problem.category == "desync":
                self.desyncs += 1


class Session:
    """The server under fuzz, replaced by a fresh one when the stream gets stuck."""

    def __init__(self, args: argparse.Namespace, directory: Path, tally: Tally) -> None:
        self.args, self.directory, self.tally = args, directory, tally
        self.mint = Mint()
        self.server = self._start()
        self.exchange = Exchange(self.server, self.mint, settle_timeout=args.settle_timeout)

    def _start(self) -> RawServer:
        self.tally.servers += 1
        log = self.directory / f"server-{self.tally.servers}.log"
        self.tally.logs.append(log)
        model_args, env, wait_for = [], None, ("ready",)
        if self.args.fake_model:
            model_args = ["--model", str(self.directory / "fake.gguf")]
            env = {"INFILL_LS_WORKER_SESSION": "tests.worker.fakes:load"}
        started = time.monotonic()
        server = start_server(log, FUZZ_OPTIONS, args=model_args, env=env, wait_for=wait_for)
        print(f"server {self.tally.servers}: ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
        return server

    def replace(self) -> None:
        self._retire()
        self.server = self._start()
        self.exchange = Exchange(self.server, self.mint, settle_timeout=self.args.settle_timeout)

    def _retire(self) -> None:
        self.server.memory_kb()
        self.tally.peak_rss_kb = max(self.tally.peak_rss_kb, self.server.peak_hwm_kb)
        self.tally.barriers += self.exchange.barriers
        self.server.close(graceful=False)

    def send_all(self, shapes: list[Shape], shut_down: bool = False) -> None:
        tally = self.tally
        if not shut_down:
            open_documents(self.server)
        for shape in shapes:
            message = realize(shape, self.mint, shut_down)
            tally.sent += 1
            tally.by_kind[shape.kind] += 1
            if message.request_id is not None:
                tally.requests += 1
            elif message.null_replies:
                tally.owed_null += 1
            else:
                tally.notifications += 1
            tally.add(self.exchange.send(message))
            if self.exchange.stuck:
                break
        tally.add(self.exchange.settle())
        if touches_settings(shapes) and not shut_down:
            restore_settings(self.server, FUZZ_OPTIONS)
        self.server.memory_kb()
        if self.exchange.stuck and not shut_down:
            self.replace()

    def framing(self, index: int, data: bytes, terminated: bool, one_write: bool) -> None:
        """One malformed frame (the cases in turn; every third time garbage between frames)."""
        self.tally.framing += 1
        if index % 3 == 2:
            problems = run_garbage(self.server, self.mint, data, terminated, one_write)
            self.tally.by_kind["framing: garbage between frames"] += 1
        else:
            case = FRAME_CASES[(index - index // 3) % len(FRAME_CASES)]
            problems = run_frame_case(self.server, case, self.mint)
            self.tally.by_kind[f"framing: {case.name}"] += 1
        self.exchange.accounted()  # its errors with id null are the frame's
        self.tally.add([Problem(f"framing: {p.kind}", p.category, p.detail) for p in problems])
        if any(problem.category == "desync" for problem in problems):
            self.replace()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000, help="fuzzed messages in the main run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--framing-every", type=int, default=40, help="a malformed frame every N messages (0: none)"
    )
    parser.add_argument("--after-shutdown", type=int, default=300, help="messages after shutdown")
    parser.add_argument(
        "--fake-model", action="store_true", help="the tests' scripted model, not the default one"
    )
    parser.add_argument("--settle-timeout", type=float, default=30.0, help="seconds a request may take")
    parser.add_argument("--log-dir", type=Path, help="keep the server logs here")
    args = parser.parse_args()
    directory = args.log_dir or Path(tempfile.mkdtemp(prefix="protocol-fuzz-"))
    directory.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    started = time.monotonic()
    session = Session(args, directory, tally)
    framing_index = itertools.count()
    extras = st.tuples(garbage, st.booleans(), st.booleans())

    def run(total: int, shut_down: bool, seed_value: int) -> None:
        goal = tally.sent + total
        while tally.sent < goal:  # hypothesis may stop early; a new seed goes on
            left = goal - tally.sent

            @seed(seed_value)
            @settings(
                max_examples=math.ceil(left / PER_EXAMPLE),
                deadline=None,
                database=None,
                phases=(Phase.generate,),
                suppress_health_check=list(HealthCheck),
            )
            @given(st.lists(messages(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE), extras)
            def example(shapes: list[Shape], extra: tuple[bytes, bool, bool]) -> None:
                if tally.sent >= goal or session.exchange.stuck:  # stuck after shutdown: nothing to replace
                    return
                before = tally.sent
                session.send_all(shapes[: goal - tally.sent], shut_down)
                every = args.framing_every
                if not shut_down and every and tally.sent // every > before // every:
                    session.framing(next(framing_index), *extra)
                if tally.sent // 1000 > before // 1000:
                    print(f"{tally.sent} messages, {time.monotonic() - started:.0f} s", file=sys.stderr)

            example()
            seed_value += 1
            if session.exchange.stuck:
                return

    run(args.messages, False, args.seed)
    server = session.server
    alive_after = server.alive() and server.request("infill/stats", {}) is not None
    shutdown_reply = server.shutdown()
    run(args.after_shutdown, True, args.seed + 10_000)
    refused = server.request("infill/stats", {})
    exit_status = server.exit() if server.alive() else None
    session._retire()
    elapsed = time.monotonic() - started

    found = [
        item for log in tally.logs if log.exists() for item in tracebacks(log.read_text("utf-8", "replace"))
    ]
    ours = Counter(item.kind for item in found if item.ours)
    others = Counter(item.kind for item in found if not item.ours)
    problems = Counter[str]()
    for (category, _), count in tally.problems.items():
        problems[category] += count

    print(f"seed {args.seed}, {elapsed:.0f} s, logs in {directory}")
    rows = [
        ("messages sent", tally.sent),
        ("  owed an answer with their id (requests)", tally.requests),
        ("  owed an error with id null", tally.owed_null),
        ("  owed nothing (notifications, responses)", tally.notifications),
        ("malformed frames", tally.framing),
        ("barrier requests", tally.barriers),
        ("unanswered", problems["unanswered"]),
        ("duplicate answers", problems["duplicate answers"]),
        ("wrong error codes", problems["wrong error code"] + problems["wrong error code (id null)"]),
        ("a result where an error is owed", problems["a result where an error is owed"]),
        ("missing errors with id null", problems["no error with id null"]),
        (
            "unexpected replies with id null",
            problems["unexpected replies with id null"] + problems["late reply with id null"],
        ),
        ("replies to no request", problems["a reply to no request"] + problems["reply with an invalid id"]),
        ("malformed replies", problems["malformed reply"]),
        ("memory from an untrusted length", problems["memory from an untrusted length"]),
        ("desyncs (stream stuck; server replaced)", tally.desyncs),
        ("servers started", tally.servers),
        ("tracebacks of ours in the logs", sum(ours.values())),
        ("other tracebacks in the logs", sum(others.values())),
        ("peak RSS of the server (MB)", round(tally.peak_rss_kb / 1024, 1)),
        ("alive and answering after the main run", alive_after),
        ("shutdown answered", shutdown_reply is not None),
        (
            "a request after shutdown refused with -32600",
            refused is not None and refused.code == INVALID_REQUEST,
        ),
        ("exit status after shutdown + exit", exit_status),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for title, counts in (("tracebacks of ours, by kind", ours), ("other tracebacks, by kind", others)):
        if counts:
            print(f"\n{title}:")
            for kind, count in counts.most_common():
                print(f"  {count:6d}  {kind}")
    if tally.problems:
        print("\nproblems by category and message kind (first example):")
        for (category, kind), count in sorted(tally.problems.items(), key=lambda item: -item[1]):
            print(f"  {count:6d}  {category} [{kind}]: {tally.examples[(category, kind)][:300]}")
    print("\nmessages by kind:")
    for kind, count in sorted(tally.by_kind.items()):
        print(f"  {count:6d}  {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
