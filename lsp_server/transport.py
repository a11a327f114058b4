"""LSP's base protocol read defensively: every frame parsed or skipped, every request answered once.

pygls' own reader matches ``Content-Length: N\\r\\n`` exactly, so a lowercase name, LF-only headers or a double
space left it waiting forever for a header it would never accept; a huge length made it allocate that much; and
it parsed bodies with a JSON hook that raised before any reply could be sent. Here:

- :class:`FrameParser` is a byte-level state machine: header names are case-insensitive, values are stripped,
  lines may end in LF or CRLF; a header block without a valid length (missing, negative, not a number, above
  :data:`MAX_BODY_BYTES`) is reported and skipped, and so are bytes that are not a header, up to the next
  ``Content-Length``. A body is only ever as large as the bytes that arrived. A length larger than the body
  (the next message's header shows up inside it after a complete JSON value) is recovered from at once rather
  than waiting for bytes that will never come.
- :func:`dispatch` turns a body into at most one pygls message and answers what pygls would drop: -32700 for
  a body that is not JSON (too deeply nested included), -32600 with id null for batches, non-objects and ids
  that are neither integers nor strings, -32602 with the request's id for params that do not fit the method,
  -32600 for requests after ``shutdown``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCProtocol,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 128 * 2**20  # a 5 MB document is about 10 MB of JSON; nothing legitimate comes near this
MAX_HEADER_BYTES = 8 * 1024
READ_CHUNK = 64 * 1024

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

_TOKEN = rb"[A-Za-z0-9!#$%&'*+.^_`|~-]"  # a header name's characters (RFC 9110 token)
_HEADER_LINE = rb"%s+[ \t]*:[^\r\n]*\r?\n" % _TOKEN
_HEADER_BLOCK = re.compile(rb"((?:%s)+)\r?\n" % _HEADER_LINE)
_HEADER_ARRIVING = re.compile(rb"(?:%s)*(?:%s+[ \t]*(?::[^\r\n]*)?\r?|\r)?" % (_HEADER_LINE, _TOKEN))
_LENGTH_NAME = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)
_NEXT_HEADER = re.compile(rb"\r?\n?content-length[ \t]*:[ \t]*\d+[ \t]*\r?\n", re.IGNORECASE)
_DIGITS = re.compile(rb"\d{1,20}")
_WHITESPACE = b" \t\r\n"


@dataclass(frozen=True)
class Frame:
    body: bytes


@dataclass(frozen=True)
class FrameError:
    """A header block or a run of bytes that was skipped; ``framed`` when a message was announced (its
    sender may be waiting for an answer)."""

    reason: str
    framed: bool


class FrameParser:
    """Bytes in, frames and errors out (:meth:`feed`); holds at most one partial frame."""

    def __init__(self, max_body: int = MAX_BODY_BYTES) -> None:
        self._buffer = bytearray()
        self._max_body = max_body
        self._body_length: int | None = None  # reading a body of this length
        self._scanned = 0  # in a body: bytes already searched for a stray header
        self._skipping = False  # inside a run of bytes that are not a header

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        self._buffer += data
        out: list[Frame | FrameError] = []
        while self._step(out):
            pass
        return out

    def _step(self, out: list[Frame | FrameError]) -> bool:
        """One frame, header block or skipped run taken from the buffer; False when more bytes are needed."""
        buffer = self._buffer
        if self._body_length is not None:
            return self._body(out)
        start = 0
        while start < len(buffer) and buffer[start] in _WHITESPACE:
            start += 1
        del buffer[:start]
        if not buffer:
            return False
        match = _HEADER_BLOCK.match(buffer)
        if match is not None and match.end() <= MAX_HEADER_BYTES:
            self._skipping = False
            headers = bytes(match.group(1))
            del buffer[: match.end()]
            length, problem = self._length(headers)
            if problem:
                out.append(FrameError(problem, framed=True))
            else:
                self._body_length, self._scanned = length, 0
            return True
        if len(buffer) < MAX_HEADER_BYTES and _HEADER_ARRIVING.fullmatch(buffer):
            return False  # a header still arriving
        found = _LENGTH_NAME.search(buffer, 1)
        if not self._skipping:
            self._skipping = True
            out.append(FrameError("bytes outside a frame skipped", framed=False))
        if found is None:
            del buffer[: max(0, len(buffer) - len(b"content-length:"))]  # keep a name cut in two
            return False
        del buffer[: found.start()]
        return True

    def _length(self, headers: bytes) -> tuple[int, str]:
        length: int | None = None
        for line in headers.splitlines():
            name, _, value = line.partition(b":")
            if name.strip().lower() != b"content-length":
                continue
            value = value.strip()
            if not _DIGITS.fullmatch(value):
                return 0, f"invalid Content-Length {value[:40]!r}"
            length = int(value)
        if length is None:
            return 0, "a header without Content-Length"
        if length > self._max_body:
            return 0, f"Content-Length {length} is above the limit of {self._max_body} bytes"
        return length, ""

    def _body(self, out: list[Frame | FrameError]) -> bool:
        buffer, length = self._buffer, self._body_length
        assert length is not None
        stray = _NEXT_HEADER.search(buffer, max(0, self._scanned - 64), min(len(buffer), length + 64))
        if stray is not None and 0 < stray.start() < length and _is_json(bytes(buffer[: stray.start()])):
            # the announced length ran past this message into the next one's header
            body = bytes(buffer[: stray.start()])
            del buffer[: stray.start()]
            self._body_length = None
            out.append(Frame(body))
            return True
        if len(buffer) < length:
            self._scanned = len(buffer)
            return False
        body = bytes(buffer[:length])
        del buffer[:length]
        self._body_length = None
        out.append(Frame(body))
        return True


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


def _error(code: int, message: str, msg_id: int | str | None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def _valid_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def dispatch(protocol: JsonRPCProtocol, body: bytes) -> None:
    """Hand ``body`` to pygls as one message, or answer it with the error pygls would not send."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        reason = "too deeply nested" if isinstance(error, RecursionError) else str(error)
        protocol._send_data(_error(PARSE_ERROR, f"parse error: {reason}", None))
        return
    if not isinstance(data, dict):
        kind = "batch messages are not supported" if isinstance(data, list) else "a message must be an object"
        protocol._send_data(_error(INVALID_REQUEST, kind, None))
        return
    is_request = "method" in data and "id" in data
    problem = _problem(protocol, data)
    if problem is not None:
        _REJECTED.note(f"message rejected: {problem}")
        if is_request or ("method" not in data and "id" not in data):
            msg_id = data["id"] if is_request and _valid_id(data["id"]) else None
            protocol._send_data(_error(INVALID_REQUEST, problem, msg_id))
        return  # a notification or a response is never answered
    method = data.get("method")
    if method is not None and method != types.CANCEL_REQUEST and not _handled(protocol, method):
        if is_request:  # an unknown notification is ignored, as the spec says of "$/" ones
            protocol._send_data(_error(METHOD_NOT_FOUND, f"unknown method {method!r}", data["id"]))
        return
    try:
        message = _structured(protocol, data)
    except Exception as error:  # params that do not fit the method (or nest too deeply)
        _REJECTED.note(f"invalid params for {method!r}: {str(error.__cause__ or error).splitlines()[0]}")
        if is_request:
            protocol._send_data(_error(INVALID_PARAMS, f"invalid params for {method!r}", data["id"]))
        return
    try:
        protocol.handle_message(message)
    except Exception:  # a handler that fails at once (pygls answers those that fail later)
        log.exception("handling %r failed", method)
        if is_request:
            protocol._send_data(_error(INTERNAL_ERROR, f"internal error in {method!r}", data["id"]))


def _handled(protocol: JsonRPCProtocol, method: str) -> bool:
    return method in protocol.fm.builtin_features or method in protocol.fm.features


def _structured(protocol: JsonRPCProtocol, data: dict[str, Any]) -> Any:
    """pygls' message types for ``data`` (as its ``structure_message``, which logs a full traceback for every
    malformed message: a flood when a client misbehaves). A cancel must name a request id."""
    if "method" in data:
        method = data["method"]
        if method == types.CANCEL_REQUEST and not (
            isinstance(data.get("params"), dict) and _valid_id(data["params"].get("id"))
        ):
            raise ValueError("$/cancelRequest needs the id of a request")
        fallback = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
        message_type = protocol.get_message_type(method) or fallback
        if message_type in (JsonRPCRequestMessage, JsonRPCNotification):
            data = {"params": None, **data}
    elif "error" in data:
        message_type = types.ResponseErrorMessage
    else:
        message_type = protocol._result_types.pop(data["id"], None) or JsonRPCResponseMessage
    return protocol._converter.structure(data, message_type)


class _RateLimitedLog:
    """One warning line per rejected message for the first few, then one per hundred (a misbehaving
    client must not fill the disk)."""

    def __init__(self, first: int = 20, every: int = 100) -> None:
        self.count = 0
        self.first, self.every = first, every

    def note(self, message: str) -> None:
        self.count += 1
        if self.count <= self.first or self.count % self.every == 0:
            log.warning("%s (%d rejected so far)", message, self.count)


_REJECTED = _RateLimitedLog()


def _problem(protocol: JsonRPCProtocol, data: dict[str, Any]) -> str | None:
    """Why ``data`` is not a JSON-RPC message pygls may take, or None."""
    if "id" in data and not _valid_id(data["id"]) and ("method" in data or data["id"] is not None):
        return "an id must be an integer or a string"
    if data.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "method" in data and not isinstance(data["method"], str):
        return "method must be a string"
    if "method" not in data and "id" not in data:
        return "neither a request, a notification nor a response"
    shutting_down = getattr(protocol, "_shutdown", False)
    if "method" in data and "id" in data and shutting_down and data["method"] != types.EXIT:
        return "the server is shutting down"
    return None


async def serve(stop: threading.Event, stdin: BinaryIO, protocol: JsonRPCProtocol, reader: Executor) -> None:
    """Read frames from ``stdin`` (in ``reader``, a thread of its own) until end of input or ``stop``, and
    dispatch them on this event loop."""
    loop = asyncio.get_running_loop()
    parser = FrameParser()
    while not stop.is_set():
        data = await loop.run_in_executor(reader, _read_some, stdin)
        if not data:
            break
        for item in parser.feed(data):
            if isinstance(item, Frame):
                dispatch(protocol, item.body)
            else:
                log.warning("malformed input: %s", item.reason)
                if item.framed:
                    protocol._send_data(_error(INVALID_REQUEST, f"malformed header: {item.reason}", None))


def _read_some(stdin: BinaryIO) -> bytes:
    """What is there (up to a chunk), waiting only for the first byte."""
    read1 = getattr(stdin, "read1", None)
    return bytes(read1(READ_CHUNK)) if read1 is not None else stdin.read(1)
