"""The frame reader and the one-answer-per-request gate (lsp_server.transport), without a process.

The same properties over a real server's stdio are in tests/e2e/test_protocol_fuzz.py."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lsp_server.app import create_server
from lsp_server.transport import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    Frame,
    FrameError,
    FrameParser,
    dispatch,
)


def framed(message: object, header: str = "Content-Length: {n}\r\n\r\n") -> bytes:
    body = json.dumps(message).encode()
    return header.format(n=len(body)).encode() + body


def bodies(items: list[Frame | FrameError]) -> list[Any]:
    return [json.loads(item.body) for item in items if isinstance(item, Frame)]


PING = {"jsonrpc": "2.0", "id": 7, "method": "ping"}


@pytest.mark.parametrize(
    "header",
    [
        "Content-Length: {n}\r\n\r\n",
        "content-length: {n}\r\n\r\n",  # header names are case-insensitive
        "Content-Length: {n}\n\n",  # LF only
        "Content-Length:  {n} \r\n\r\n",  # extra spaces
        "Content-Length:{n}\r\n\r\n",
        "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: {n}\r\n\r\n",
        "X-Unknown: 1\r\nCONTENT-LENGTH: {n}\r\n\r\n",
        "\r\n\r\nContent-Length: {n}\r\n\r\n",  # blank lines before a header
    ],
)
def test_tolerated_headers_give_the_message(header: str) -> None:
    items = FrameParser().feed(framed(PING, header) + framed({"after": 1}))
    assert bodies(items) == [PING, {"after": 1}]
    assert not [item for item in items if isinstance(item, FrameError)]


@pytest.mark.parametrize(
    ("broken", "framed_error"),
    [
        (b"Content-Length: -5\r\n\r\n{}", True),
        (b"Content-Length: abc\r\n\r\n{}", True),
        (b"Content-Type: x\r\n\r\n{}", True),  # no length at all
        (b"Content-Length: 1000000000000000\r\n\r\n{}", True),  # never allocated
        (b"Content-Length: 99999999999999999999999\r\n\r\n{}", True),
        (b"garbage without any header", False),
        (b'{"jsonrpc": "2.0"}', False),  # a body without its header
        (b"\x00\xff\xfe binary \x00", False),
    ],
)
def test_the_stream_resynchronises_after_a_broken_frame(broken: bytes, framed_error: bool) -> None:
    parser = FrameParser()
    items = parser.feed(broken + framed(PING))
    assert bodies(items) == [PING]
    errors = [item for item in items if isinstance(item, FrameError)]
    assert errors and errors[0].framed is framed_error
    assert bodies(parser.feed(framed({"next": 2}))) == [{"next": 2}]


def test_a_length_past_the_body_does_not_swallow_the_next_message() -> None:
    """The next header inside the announced body, after a whole JSON value: both messages come out at once
    (the client would otherwise wait for an answer while we wait for bytes)."""
    body = json.dumps(PING).encode()
    items = FrameParser().feed(b"Content-Length: 5000\r\n\r\n" + body + framed({"next": 2}))
    assert bodies(items) == [PING, {"next": 2}]


def test_a_length_short_of_the_body_gives_a_broken_body_then_the_next_message() -> None:
    body = json.dumps(PING).encode()
    items = FrameParser().feed(b"Content-Length: 4\r\n\r\n" + body + framed({"next": 2}))
    frames = [item for item in items if isinstance(item, Frame)]
    assert frames[0].body == body[:4]
    assert bodies([frames[-1]]) == [{"next": 2}]


def test_zero_length_is_an_empty_body() -> None:
    items = FrameParser().feed(b"Content-Length: 0\r\n\r\n" + framed(PING))
    assert items[0] == Frame(b"")
    assert bodies(items[1:]) == [PING]


def test_a_body_inside_the_limit_is_kept_whole_and_one_above_is_refused() -> None:
    parser = FrameParser(max_body=64)
    assert bodies(parser.feed(framed({"text": "x" * 40}))) == [{"text": "x" * 40}]
    items = parser.feed(framed({"text": "x" * 80}) + framed(PING))
    assert isinstance(items[0], FrameError) and "limit" in items[0].reason
    assert bodies(items) == [PING]


def test_a_header_cut_anywhere_waits_for_the_rest() -> None:
    stream = framed(PING, "Content-Type: x\r\ncontent-length: {n}\n\n") + framed({"next": 2})
    parser = FrameParser()
    items: list[Frame | FrameError] = []
    for byte in stream:
        items += parser.feed(bytes([byte]))
    assert items == [Frame(json.dumps(PING).encode()), Frame(json.dumps({"next": 2}).encode())]


messages = st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=20), max_size=4)


@given(st.lists(messages, min_size=1, max_size=6), st.lists(st.integers(1, 400), max_size=12))
def test_any_chunking_gives_the_same_messages(sent: list[dict[str, Any]], cuts: list[int]) -> None:
    stream = b"".join(framed(message) for message in sent)
    points = sorted({cut % len(stream) for cut in cuts} | {0, len(stream)})
    parser = FrameParser()
    items: list[Frame | FrameError] = []
    for start, end in itertools.pairwise(points):
        items += parser.feed(stream[start:end])
    assert bodies(items) == sent
    assert all(isinstance(item, Frame) for item in items)


@given(st.binary(max_size=200).filter(lambda junk: b"ength" not in junk.lower()))
def test_after_any_junk_a_header_on_a_line_of_its_own_is_found(junk: bytes) -> None:
    parser = FrameParser()
    items = parser.feed(junk + b"\r\n" + framed(PING))
    assert bodies(items)[-1:] == [PING]
    assert bodies(parser.feed(framed({"next": 2}))) == [{"next": 2}]


class RecordingWriter:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.sent.append(json.loads(data.split(b"\r\n\r\n", 1)[1]))

    def close(self) -> None:
        pass


@pytest.fixture
def gate() -> Any:
    server = create_server()
    writer = RecordingWriter()
    server.protocol.set_writer(writer)
    yield server.protocol, writer.sent
    server.shutdown()


@pytest.mark.parametrize(
    ("body", "code", "msg_id"),
    [
        (b"{not json", PARSE_ERROR, None),
        (b"", PARSE_ERROR, None),
        (b"[" * 100_000 + b"]" * 100_000, PARSE_ERROR, None),  # too deeply nested
        (b'[{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}]', INVALID_REQUEST, None),  # a batch
        (b"42", INVALID_REQUEST, None),
        (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}', INVALID_REQUEST, None),
        (b'{"jsonrpc": "2.0", "id": [1], "method": "x"}', INVALID_REQUEST, None),
        (b'{"jsonrpc": "2.0", "id": true, "method": "x"}', INVALID_REQUEST, None),
        (b'{"jsonrpc": "2.0", "id": 1.5, "method": "x"}', INVALID_REQUEST, None),
        (b'{"jsonrpc": "1.0", "id": 3, "method": "x"}', INVALID_REQUEST, 3),
        (b'{"id": 3, "method": "x"}', INVALID_REQUEST, 3),
        (b'{"jsonrpc": "2.0", "id": 4, "method": 12}', INVALID_REQUEST, 4),
        (b'{"jsonrpc": "2.0"}', INVALID_REQUEST, None),
        (b'{"jsonrpc": "2.0", "id": 6, "method": "no/suchMethod"}', METHOD_NOT_FOUND, 6),
        (
            b'{"jsonrpc": "2.0", "id": 7, "method": "no/such", "params": {"type_name": "a b"}}',
            METHOD_NOT_FOUND,
            7,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 5, "method": "textDocument/inlineCompletion", "params": "x"}',
            INVALID_PARAMS,
            5,
        ),
        (
            b'{"jsonrpc": "2.0", "id": "s", "method": "textDocument/inlineCompletion", "params": '
            b'{"textDocument": {"uri": "file:///a.py"}, "position": {"line": -1, "character": 2}, '
            b'"context": {"triggerKind": 1}}}',
            INVALID_PARAMS,
            "s",
        ),
    ],
)
def test_each_malformed_request_gets_one_error(gate: Any, body: bytes, code: int, msg_id: object) -> None:
    protocol, sent = gate
    dispatch(protocol, body)
    assert [(reply["id"], reply["error"]["code"]) for reply in sent] == [(msg_id, code)]


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc": "2.0", "method": "textDocument/didChange", "params": 5}',  # a bad notification
        b'{"jsonrpc": "1.0", "method": "x"}',
        b'{"jsonrpc": "2.0", "id": 99, "result": null}',  # a response to nothing we asked
        b'{"jsonrpc": "2.0", "id": {"x": 1}, "result": null}',
        b'{"jsonrpc": "2.0", "method": "$/unknownNotification", "params": {"a": [1, 2]}}',
        b'{"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": []}}',  # killed the server
        b'{"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {}}',
        b'{"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 12345}}',  # nothing to cancel
    ],
)
def test_notifications_and_responses_are_never_answered(gate: Any, body: bytes) -> None:
    protocol, sent = gate
    dispatch(protocol, body)
    assert sent == []


def test_requests_after_shutdown_are_refused_and_exit_is_not(gate: Any) -> None:
    protocol, sent = gate
    protocol._shutdown = True
    dispatch(protocol, b'{"jsonrpc": "2.0", "id": 11, "method": "textDocument/hover", "params": {}}')
    assert [(reply["id"], reply["error"]["code"]) for reply in sent] == [(11, INVALID_REQUEST)]
    assert "shutting down" in sent[0]["error"]["message"]


def test_a_handler_failing_at_once_is_answered(gate: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    protocol, sent = gate

    def broken(message: object) -> None:
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(protocol, "handle_message", broken)
    dispatch(protocol, b'{"jsonrpc": "2.0", "id": 13, "method": "shutdown"}')
    assert [(reply["id"], reply["error"]["code"]) for reply in sent] == [(13, INTERNAL_ERROR)]
