"""Protocol fuzz of the real server over stdio (issue 16): whatever comes in, every request gets exactly one
answer, the server stays up, and nothing of ours raises.

Messages (tests/fuzzing.py has the shapes and what each one is owed): LSP methods with params of the wrong
type, positions outside the integer range, missing params, unknown methods, notifications with junk, deeply
nested JSON and numbers too long to parse, batches, ids that are objects, arrays, floats or booleans (an error
with id null), bodies that are not JSON (-32700 with id null), envelopes that are not quite JSON-RPC, responses
to nothing; after ``shutdown`` every request is refused with -32600 until ``exit``. The main run has the
embedded default model loaded (it waits for ``infill/status`` ready), so completions really run.

Framing, as raw bytes: header variants a tolerant reader takes (each frame's request is answered), broken
frames (wrong, zero, negative or absurd lengths, no length, garbage) after which the stream recovers on the
next valid header, and no memory is allocated from an announced length.

One example of each shape (tests.fuzzing.EXAMPLES, the cases that once failed among them) goes first, then
random ones. Shrinking is off: every replay talks to a live server (a request that is never answered costs the
whole settle timeout), and each failure names the message and what it got instead. bench/protocol_fuzz.py is
the same fuzz at nightly size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.fuzzing import (
    EXAMPLES,
    FRAME_CASES,
    FUZZ_OPTIONS,
    INVALID_REQUEST,
    Exchange,
    FrameCase,
    Mint,
    Problem,
    RawServer,
    Shape,
    garbage,
    messages,
    open_documents,
    restore_settings,
    run_frame_case,
    run_garbage,
    run_messages,
    start_server,
    touches_settings,
)
from tests.worker.fakes import SESSION_ENV

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


def with_examples(test: Callable[[list[Shape]], None]) -> Callable[[list[Shape]], None]:
    """``test`` with one example of each shape (tests.fuzzing.EXAMPLES), sent before the random ones."""
    for shapes in reversed(EXAMPLES):
        test = example(list(shapes))(test)
    return test


def report(problems: list[Problem], server: RawServer) -> str:
    lines = [str(problem) for problem in problems[:20]]
    if len(problems) > 20:
        lines.append(f"... and {len(problems) - 20} more")
    return "\n".join(lines) + "\n--- the end of the server log:\n" + server.log_text()[-2000:]


def assert_no_traceback_of_ours(server: RawServer, since: int = 0) -> None:
    """No traceback of lsp_server, completion or syntax in the log (after the first ``since`` of them)."""
    ours = server.our_tracebacks()[since:]
    assert not ours, "tracebacks from our packages in the server log:\n" + "\n".join(
        f"{item.kind}: {item.exception}" for item in ours
    )


def assert_answers_well_formed_requests(server: RawServer) -> None:
    assert server.alive(), "the server is gone"
    reply = server.request("infill/stats", {})
    assert reply is not None, "a well-formed request after the fuzz got no answer"
    assert "worker" in reply.message.get("result", {}), reply.message


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    """The server with the embedded default model loaded, the fuzz's documents open."""
    server = start_server(tmp_path_factory.mktemp("fuzz") / "server.log", FUZZ_OPTIONS)
    yield server
    server.close()


@pytest.mark.default_model
def test_every_message_gets_the_answer_it_is_owed(loaded: RawServer) -> None:
    exchange = Exchange(loaded)

    @settings(FUZZ, max_examples=100)
    @given(st.lists(messages(), min_size=1, max_size=16))
    @with_examples
    def fuzz(shapes: list[Shape]) -> None:
        assert not exchange.stuck, "an earlier example left the stream stuck"
        before = len(loaded.our_tracebacks())
        open_documents(loaded)
        problems = run_messages(exchange, shapes)
        if touches_settings(shapes):
            restore_settings(loaded, FUZZ_OPTIONS)
        assert not problems, report(problems, loaded)
        assert_no_traceback_of_ours(loaded, since=before)

    assert loaded.statuses()[-1]["state"] == "ready"
    fuzz()
    assert exchange.sent >= 300, exchange.sent  # a few hundred, each with its barrier
    assert_answers_well_formed_requests(loaded)
    statuses = loaded.statuses()
    since_ready = statuses[[status["state"] for status in statuses].index("ready") :]
    assert all(status["state"] == "ready" for status in since_ready), since_ready  # no worker restart
    assert_no_traceback_of_ours(loaded)
    assert not loaded.output_errors, loaded.output_errors


def test_requests_after_shutdown_are_refused_until_exit(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "server.log",
        FUZZ_OPTIONS,
        args=["--model", str(tmp_path / "fake.gguf")],
        env=SESSION_ENV,
    )
    try:
        reply = server.shutdown()
        assert reply is not None and reply.message.get("result", "missing") is None, reply
        exchange = Exchange(server)

        @FUZZ
        @given(st.lists(messages(), min_size=1, max_size=8))
        @with_examples
        def fuzz(shapes: list[Shape]) -> None:
            assert not exchange.stuck, "an earlier example left the stream stuck"
            problems = run_messages(exchange, shapes, shut_down=True)
            assert not problems, report(problems, server)

        fuzz()
        assert server.alive(), "the server exited before exit"
        refused = server.request("infill/stats", {})
        assert refused is not None, "a well-formed request after shutdown got no answer"
        assert refused.code == INVALID_REQUEST, refused.message
        assert_no_traceback_of_ours(server)
        assert server.exit() == 0, "exit after shutdown: status 0"
    finally:
        server.close(graceful=False)


class FramingServer:
    """A server for raw-bytes cases (the fake model: nothing to load), replaced when a case left it stuck."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        self.mint = Mint()
        self.server = self._start()

    def _start(self) -> RawServer:
        self.count += 1
        log = self.directory / f"server-{self.count}.log"
        args = ["--model", str(self.directory / "fake.gguf")]
        return start_server(log, FUZZ_OPTIONS, args=args, env=SESSION_ENV, wait_for=())

    def healthy(self) -> RawServer:
        if not self.server.alive() or self.server.request("infill/stats", {}) is None:
            self.server.close(graceful=False)
            self.server = self._start()
        return self.server

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def framing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FramingServer]:
    holder = FramingServer(tmp_path_factory.mktemp("framing"))
    yield holder
    holder.close()


@pytest.mark.parametrize("case", FRAME_CASES, ids=[case.name for case in FRAME_CASES])
def test_a_malformed_frame_does_not_desynchronise_the_stream(framing: FramingServer, case: FrameCase) -> None:
    server = framing.healthy()
    before = len(server.our_tracebacks())
    problems = run_frame_case(server, case, framing.mint)
    assert not problems, report(problems, server)
    assert_no_traceback_of_ours(server, since=before)


def test_garbage_between_frames_is_skipped(framing: FramingServer) -> None:
    @FUZZ
    @given(garbage, st.booleans(), st.booleans())
    def fuzz(data: bytes, terminated: bool, one_write: bool) -> None:
        server = framing.healthy()
        before = len(server.our_tracebacks())
        problems = run_garbage(server, framing.mint, data, terminated, one_write)
        assert not problems, report(problems, server)
        assert_no_traceback_of_ours(server, since=before)

    fuzz()
