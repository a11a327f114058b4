"""Streaming JSON events over HTTP (server-sent events or NDJSON), with every way a server can fail contained.

A pump thread reads the response; the caller takes events from a queue while it watches the cancel flag, the
request's deadline and stalls. Giving up (cancelled, past the deadline, a stop rule satisfied, a stall) shuts
the socket down at once, in whatever phase the request is — while the server still evaluates the prompt, too —
so the caller never waits on the network and llama-server, seeing its client gone, stops generating. Answers
are capped in bytes; a malformed line is an error, not a crash.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Generator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import httpx

from completion.backend import CancelFlag

_ERROR_BODY_BYTES = 2048  # of a 4xx/5xx answer, quoted (shortened) in the message


class RemoteError(RuntimeError):
    """The server failed this request (unreachable, refused, malformed, stalled, too large): one failure.
    ``status``: the HTTP status of a 4xx/5xx answer, None for other failures."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Interrupted(Exception):
    """The request ended early on purpose: ``reason`` is "cancelled" or "deadline"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StreamLimits:
    deadline: float  # time.monotonic() by which the request must be over
    connect_s: float
    stall_s: float  # silence mid-answer that counts as a failure
    max_bytes: int


@dataclass
class _Pump:
    """The reader thread's side: it feeds ``events`` until the answer ends or ``abandoned`` is set."""

    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)
    abandoned: threading.Event = field(default_factory=threading.Event)
    response: httpx.Response | None = None

    def abandon(self) -> None:
        self.abandoned.set()
        response = self.response
        if response is None:
            return  # still connecting or waiting for headers: the pump closes when they come
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pump's blocked read at once


def stream_events(
    client: httpx.Client,
    path: str,
    body: Mapping[str, Any],
    *,
    ndjson: bool,
    limits: StreamLimits,
    cancel: CancelFlag | None,
) -> Generator[dict[str, Any], None, None]:
    """POST ``body`` and yield the answer's JSON events; raises RemoteError or Interrupted.

    Closing the iterator early (the caller's stop rule was met) abandons the request the same way."""
    pump = _Pump()
    thread = threading.Thread(
        target=_read, args=(client, path, body, limits, pump), name="infill-remote", daemon=True
    )
    thread.start()
    last_data: float | None = None
    try:
        while True:
            now = time.monotonic()
            if cancel is not None and cancel.is_set():
                raise Interrupted("cancelled")
            if now >= limits.deadline:
                raise Interrupted("deadline")
            if last_data is not None and now - last_data > limits.stall_s:
                raise RemoteError(f"the server stopped sending mid-answer for {limits.stall_s:.1f} s")
            try:
                kind, value = pump.events.get(timeout=min(0.01, max(0.0, limits.deadline - now)))
            except queue.Empty:
                continue
            if kind == "line":
                last_data = time.monotonic()
                event = _parse_line(value, ndjson)
                if event is None:
                    continue
                if event is _END:
                    return
                yield event
            elif kind == "end":
                return
            else:  # "error"
                raise value
    finally:
        pump.abandon()


_END: dict[str, Any] = {}


def _parse_line(line: bytes, ndjson: bool) -> dict[str, Any] | None:
    """One event from one line; None for lines that carry none (blank, SSE comments and fields)."""
    text = line.strip()
    if not text:
        return None
    if not ndjson:
        if text.startswith(b":") or text.startswith((b"event:", b"id:", b"retry:")):
            return None
        if text.startswith(b"error:"):
            raise RemoteError(f"the server reported an error: {_excerpt(text[6:])}")
        if not text.startswith(b"data:"):
            raise RemoteError(f"malformed server-sent event from the server: {_excerpt(text)}")
        text = text[5:].strip()
        if text == b"[DONE]":
            return _END
    try:
        event = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise RemoteError(f"malformed JSON from the server: {_excerpt(text)}") from None
    if not isinstance(event, dict):
        raise RemoteError(f"unexpected JSON from the server: {_excerpt(text)}")
    if "error" in event:
        raise RemoteError(f"the server reported an error: {_excerpt(json.dumps(event['error']).encode())}")
    return event


def _read(
    client: httpx.Client,
    path: str,
    body: Mapping[str, Any],
    limits: StreamLimits,
    pump: _Pump,
) -> None:
    """The pump: send the request, put each line of the answer (or what went wrong) on the queue."""
    budget = max(0.05, limits.deadline - time.monotonic())
    timeout = httpx.Timeout(budget + 1.0, connect=min(limits.connect_s, budget + 0.05))
    try:
        with client.stream("POST", path, json=dict(body), timeout=timeout) as response:
            pump.response = response
            if pump.abandoned.is_set():
                return
            if response.status_code >= 400:
                pump.events.put(("error", rejection(response, _read_some(response))))
                return
            received = 0
            pending = b""
            for chunk in response.iter_raw():
                received += len(chunk)
                if received > limits.max_bytes:
                    message = f"the answer exceeded {limits.max_bytes // 1024} KB"
                    pump.events.put(("error", RemoteError(message)))
                    return
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    pump.events.put(("line", line))
                if pump.abandoned.is_set():
                    return
            if pending.strip():
                pump.events.put(("line", pending))
            pump.events.put(("end", None))
    except Exception as error:  # any failure of the transport becomes one RemoteError for the caller
        if not pump.abandoned.is_set():
            pump.events.put(("error", RemoteError(describe_transport_error(error))))


def _read_some(response: httpx.Response) -> bytes:
    data = b""
    for chunk in response.iter_raw():
        data += chunk
        if len(data) >= _ERROR_BODY_BYTES:
            break
    return data[:_ERROR_BODY_BYTES]


def rejection(response: httpx.Response, body: bytes) -> RemoteError:
    """A 4xx/5xx answer in words (the server's own message where it gives one)."""
    said = _excerpt(body)
    try:
        parsed = json.loads(body)
        error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
        if isinstance(error, dict):
            error = error.get("message", error)
        said = _excerpt(str(error).encode())
    except (ValueError, UnicodeDecodeError, AttributeError):
        pass
    status = response.status_code
    hint = " (check the API key's environment variable)" if status in (401, 403) else ""
    message = f"the server answered {status}{hint}" + (f": {said}" if said else "")
    return RemoteError(message, status)


def describe_transport_error(error: Exception) -> str:
    """A connection-level failure in words (refused, name not found, timed out, reset)."""
    if isinstance(error, httpx.ConnectTimeout):
        return "the server did not accept a connection in time"
    if isinstance(error, httpx.ConnectError):
        cause = str(error) or type(error).__name__
        if "Name or service not known" in cause or "nodename nor servname" in cause:
            return f"the server's host name could not be resolved ({cause})"
        if "refused" in cause.lower():
            return "the server refused the connection (is it running?)"
        return f"could not connect to the server ({cause})"
    if isinstance(error, httpx.ReadTimeout):
        return "the server did not answer in time"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"the server closed the connection mid-answer ({error})"
    if isinstance(error, httpx.HTTPError):
        return f"{type(error).__name__}: {error}"
    return f"{type(error).__name__}: {error}"


def _excerpt(data: bytes, limit: int = 160) -> str:
    text = data.decode("utf-8", "replace").strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def get_json(client: httpx.Client, path: str, timeout_s: float) -> Any:
    """A small GET for probing (``/props``, ``/v1/models``, ``/api/version``); raises RemoteError."""
    try:
        response = client.get(path, timeout=timeout_s)
    except httpx.HTTPError as error:
        raise RemoteError(describe_transport_error(error)) from None
    if response.status_code >= 400:
        raise rejection(response, response.content[:_ERROR_BODY_BYTES])
    try:
        return response.json()
    except ValueError:
        raise RemoteError(f"malformed JSON from the server at {path}: {_excerpt(response.content)}") from None
