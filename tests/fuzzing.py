"""Protocol fuzzing of the real server over stdio: a raw JSON-RPC client, message shapes (hypothesis strategies)
with the answer each one is owed, malformed frames, and the tracebacks in the server's log.

Shared by tests/e2e/test_protocol_fuzz.py, tests/e2e/test_document_sync.py and bench/protocol_fuzz.py.

pytest-lsp cannot send a malformed frame, a batch or an id of the wrong type, so :class:`RawServer` speaks to
``python -m lsp_server`` itself: bytes in, frames out, every reply recorded in arrival order. Nothing here
sleeps: every wait is on a condition (a reply, a status, the process' end) with a timeout.

How answers are attributed (:class:`Exchange`): each fuzzed message is followed by a *barrier*, a well-formed
``infill/stats`` request (synchronous in the server). A reply with id null can only name the message that
caused it by when it comes, so the ones that arrive between a message and its barrier's answer are that
message's; a barrier that gets no answer means the stream is stuck or desynchronised. Replies that carry an id
are matched by id, whenever they come: requests whose handler waits for the model answer after their barrier.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeAlias

from hypothesis import strategies as st
from lsprotocol.types import METHOD_TO_TYPES

REPO = Path(__file__).resolve().parents[1]
SERVER_COMMAND = [sys.executable, "-m", "lsp_server"]
OUR_PACKAGES = ("lsp_server", "completion", "syntax")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
REQUEST_CANCELLED = -32800

ANSWER_TIMEOUT_S = 10.0  # a synchronous request (the barrier) on an idle server answers in milliseconds
SETTLE_TIMEOUT_S = 30.0  # requests that wait for the model (whose time budget the fuzz sets to about 1 s)

Id: TypeAlias = int | str
IdKey: TypeAlias = tuple[str, Any]  # ("int", 5), ("str", "5"): JSON tells 5 from "5"; ("bad", ...) otherwise


def id_key(value: object) -> IdKey | None:
    """How a reply's id is filed: None for null, ("bad", json) for a type no request id can have."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return ("bad", json.dumps(value, sort_keys=True))
    return ("int" if isinstance(value, int) else "str", value)


def frame(body: bytes, headers: bytes | None = None) -> bytes:
    """``body`` framed as LSP's base protocol wants it (or after ``headers``, given whole, blank line included)."""
    return (headers if headers is not None else b"Content-Length: %d\r\n\r\n" % len(body)) + body


def request_body(method: str, params: Any, msg_id: Id) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode()


# --- the server's log --------------------------------------------------------------------------------------------

_FRAME_LINE = re.compile(r'^\s+File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.*)$')


@dataclass(frozen=True)
class Traceback:
    exception: str  # the last line: "AttributeError: 'list' object has no attribute 'get'"
    frames: tuple[tuple[str, int, str], ...]  # (file, line, function), outermost first

    @property
    def ours(self) -> bool:
        """Whether any frame runs code of lsp_server, completion or syntax."""
        return any(_our_module(file) is not None for file, _, _ in self.frames)

    @property
    def kind(self) -> str:
        """The exception's type and where it was raised: the innermost frame of ours, else the innermost."""
        name = self.exception.split(":", 1)[0].strip() or "?"
        for file, line, function in reversed(self.frames):
            module = _our_module(file)
            if module is not None:
                return f"{name} at {module}:{line} in {function}"
        real = [frame for frame in self.frames if not frame[0].startswith("<")]  # not cattrs' generated code
        if real:
            file, line, function = real[-1]
            return f"{name} at {_short(file)}:{line} in {function}"
        return name


def _our_module(file: str) -> str | None:
    """``lsp_server/server.py`` for a file of our packages (in this checkout or installed), else None."""
    path = Path(file)
    if not path.is_absolute():
        path = REPO / path
    parts = path.parts
    try:
        relative = path.relative_to(REPO).parts
    except ValueError:
        relative = ()
    if relative and relative[0] in OUR_PACKAGES:
        return "/".join(relative)
    for index, part in enumerate(parts[:-1]):
        if part in ("site-packages", "dist-packages") and parts[index + 1] in OUR_PACKAGES:
            return "/".join(parts[index + 1 :])
    return None


def _short(file: str) -> str:
    parts = Path(file).parts
    for index, part in enumerate(parts):
        if part in ("site-packages", "dist-packages"):
            return "/".join(parts[index + 1 :])
    return "/".join(parts[-2:])


_GUTTER = re.compile(r"^(?:\s*[|+](?=[ \-]|$))+ ?")  # an exception group's "  | " margins
_START = re.compile(r"^(?:Exception Group )?Traceback \(most recent call last\):$")


def _ungutter(line: str) -> str:
    """A line of a traceback without the margins an exception group's members are printed with."""
    match = _GUTTER.match(line)
    return line[match.end() :] if match else line


def tracebacks(log: str) -> list[Traceback]:
    """Every complete Python traceback in a log: each link of a chained exception and each member of an
    exception group is one."""
    found: list[Traceback] = []
    lines = [_ungutter(line) for line in log.splitlines()]
    index = 0
    while index < len(lines):
        if not _START.match(lines[index].strip()):
            index += 1
            continue
        frames: list[tuple[str, int, str]] = []
        index += 1
        while index < len(lines) and (lines[index][:1].isspace() or not lines[index]):
            match = _FRAME_LINE.match(lines[index])
            if match:
                frames.append((match["file"], int(match["line"]), match["func"]))
            index += 1
        if index < len(lines):  # the exception line; at the end of the log it is still being written
            found.append(Traceback(lines[index], tuple(frames)))
        index += 1
    return found


# --- the raw client ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    seq: int  # arrival order among all replies
    message: dict[str, Any]
    key: IdKey | None

    @property
    def code(self) -> int | None:
        error = self.message.get("error")
        return error.get("code") if isinstance(error, dict) else None

    @property
    def is_error(self) -> bool:
        return "error" in self.message


def malformed_reply(message: dict[str, Any]) -> str | None:
    """What is wrong with a response as JSON-RPC 2.0 wants one (None: nothing)."""
    if message.get("jsonrpc") != "2.0":
        return 'no "jsonrpc": "2.0"'
    if "id" not in message:
        return "no id"
    if ("result" in message) == ("error" in message):
        return "not exactly one of result and error"
    error = message.get("error")
    if "error" in message:
        if not isinstance(error, dict):
            return "error is not an object"
        code = error.get("code")
        if not isinstance(code, int) or isinstance(code, bool) or not isinstance(error.get("message"), str):
            return "error without an integer code and a string message"
    return None


class RawServer:
    """``python -m lsp_server`` on pipes; its stderr goes to ``log_path``.

    A writer thread owns stdin (so nothing here blocks on a server that stopped reading) and a reader thread
    parses stdout: replies are recorded, server -> client requests are answered with null, notifications kept.
    """

    def __init__(self, log_path: Path, args: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [*SERVER_COMMAND, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
        self._cond = threading.Condition()
        self.replies: list[Reply] = []
        self.by_id: dict[IdKey, list[Reply]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []
        self.output_errors: list[str] = []  # frames from the server that were not well-formed
        self.malformed: list[tuple[str, dict[str, Any]]] = []  # replies that are not JSON-RPC responses
        self.eof = False
        self.shut_down = False  # shutdown was sent
        self.write_failed: str | None = None
        self.peak_hwm_kb = 0
        self._ids = itertools.count(1)
        self._writes: queue.Queue[tuple[bytes, threading.Event] | None] = queue.Queue()
        threading.Thread(target=self._write_loop, name="fuzz-writer", daemon=True).start()
        self._reader = threading.Thread(target=self._read_loop, name="fuzz-reader", daemon=True)
        self._reader.start()

    # -- writing

    def _write_loop(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        while (item := self._writes.get()) is not None:
            data, done = item
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, OSError, ValueError) as error:
                self.write_failed = self.write_failed or repr(error)
            done.set()
        with contextlib.suppress(OSError, ValueError):
            stdin.close()

    def send_bytes(self, data: bytes, timeout: float = ANSWER_TIMEOUT_S) -> bool:
        """Write ``data`` as one write; False when the server did not take it in time (or its pipe is gone)."""
        done = threading.Event()
        self._writes.put((data, done))
        return done.wait(timeout) and self.write_failed is None

    def send(self, message: dict[str, Any]) -> bool:
        return self.send_bytes(frame(json.dumps(message).encode()))

    def mint(self) -> str:
        return f"client-{next(self._ids)}"

    def request(
        self, method: str, params: Any, timeout: float = ANSWER_TIMEOUT_S, msg_id: Id | None = None
    ) -> Reply | None:
        """Send a well-formed request; its (first) reply, or None when none came in time."""
        msg_id = self.mint() if msg_id is None else msg_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        if not self.send(message):
            return None
        return self.wait_reply(msg_id, timeout)

    def notify(self, method: str, params: Any = None) -> bool:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        return self.send(message)

    def shutdown(self) -> Reply | None:
        self.shut_down = True
        return self.request("shutdown", None)

    # -- reading

    def _read_loop(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        buffer = bytearray()
        while chunk := os.read(stdout.fileno(), 65536):
            buffer += chunk
            for body in self._frames(buffer):
                self._dispatch(body)
        with self._cond:
            self.eof = True
            self._cond.notify_all()

    def _frames(self, buffer: bytearray) -> Iterator[bytes]:
        """Complete frames taken off ``buffer``; whatever is not one is reported and skipped."""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end == -1:
                return
            length: int | None = None
            for line in bytes(buffer[:end]).split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    length = int(value.strip())
            if length is None:
                self.output_errors.append(f"a header without Content-Length: {bytes(buffer[:end])[:80]!r}")
                restart = buffer.find(b"Content-Length:", 1)
                del buffer[: restart if restart != -1 else end + 4]
                continue
            if len(buffer) < end + 4 + length:
                return
            body = bytes(buffer[end + 4 : end + 4 + length])
            del buffer[: end + 4 + length]
            yield body

    def _dispatch(self, body: bytes) -> None:
        try:
            message = json.loads(body)
        except ValueError as error:
            self.output_errors.append(f"a body that is not JSON ({error}): {body[:80]!r}")
            return
        if not isinstance(message, dict):
            self.output_errors.append(f"a message that is not an object: {body[:80]!r}")
            return
        if "method" in message:
            if "id" in message:  # the server asks something: say nothing useful, at once
                self.server_requests.append(message)
                done = threading.Event()
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": None}
                self._writes.put((frame(json.dumps(reply).encode()), done))
            with self._cond:
                if "id" not in message:
                    self.notifications.append(message)
                self._cond.notify_all()
            return
        problem = malformed_reply(message)
        with self._cond:
            if problem is not None:
                self.malformed.append((problem, message))
            reply_ = Reply(len(self.replies), message, id_key(message.get("id")))
            self.replies.append(reply_)
            if reply_.key is not None:
                self.by_id.setdefault(reply_.key, []).append(reply_)
            self._cond.notify_all()

    # -- waiting

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Until ``predicate`` holds (checked on every message from the server), the output ends, or timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate() or self.eof, timeout) and predicate()

    def replies_to(self, msg_id: Id) -> list[Reply]:
        key = id_key(msg_id)
        assert key is not None
        with self._cond:
            return list(self.by_id.get(key, ()))

    def wait_reply(self, msg_id: Id, timeout: float = ANSWER_TIMEOUT_S) -> Reply | None:
        key = id_key(msg_id)
        assert key is not None
        self.wait(lambda: key in self.by_id, timeout)
        with self._cond:
            found = self.by_id.get(key)
            return found[0] if found else None

    def statuses(self) -> list[dict[str, Any]]:
        with self._cond:
            found = [n.get("params") for n in self.notifications if n.get("method") == "infill/status"]
        return [params for params in found if isinstance(params, dict)]

    def wait_status(self, *states: str, timeout: float = 180.0) -> dict[str, Any] | None:
        """The latest ``infill/status`` in one of ``states``, waiting for one."""

        def latest() -> dict[str, Any] | None:
            statuses: list[dict[str, Any]] = self.statuses()
            return next((status for status in reversed(statuses) if status.get("state") in states), None)

        self.wait(lambda: latest() is not None, timeout)
        return latest()

    # -- the session

    def initialize(
        self,
        options: dict[str, Any] | None = None,
        root: Path | None = None,
        capabilities: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``initialize`` (this process as the client process) then ``initialized``; the InitializeResult."""
        params = {
            "processId": os.getpid(),
            "rootUri": root.as_uri() if root else None,
            "capabilities": capabilities if capabilities is not None else CLIENT_CAPABILITIES,
            "initializationOptions": options or {},
        }
        reply = self.request("initialize", params, timeout=60)
        assert reply is not None, f"no answer to initialize; the server log:\n{self.log_text()[-3000:]}"
        assert "result" in reply.message, reply.message
        assert self.notify("initialized", {})
        result: dict[str, Any] = reply.message["result"]
        return result

    def alive(self) -> bool:
        return self.process.poll() is None and not self.eof

    def memory_kb(self) -> dict[str, int]:
        """VmPeak, VmHWM and VmRSS of the server process (kB); empty once it is gone."""
        values: dict[str, int] = {}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                name, _, value = line.partition(":")
                if name in ("VmPeak", "VmHWM", "VmRSS"):
                    values[name] = int(value.split()[0])
        self.peak_hwm_kb = max(self.peak_hwm_kb, values.get("VmHWM", 0))
        return values

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def our_tracebacks(self) -> list[Traceback]:
        return [item for item in tracebacks(self.log_text()) if item.ours]

    def exit(self, timeout: float = 30.0) -> int | None:
        """``exit``; the exit status, or None when it did not end in time."""
        self.notify("exit")
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self, graceful: bool = True) -> None:
        """Shut down and exit if it still runs (killed when it does not end, or at once unless ``graceful``:
        a desynchronised stream would only swallow them); the log stays."""
        if self.process.poll() is None:
            self.memory_kb()
            if graceful and self.alive() and not self.shut_down:
                self.shutdown()
            if not graceful or self.exit(10) is None:
                self.process.kill()
                self.process.wait()
        self._writes.put(None)
        self._reader.join(10)  # the server is gone: its output ends
        if self.process.stdout is not None and not self._reader.is_alive():
            self.process.stdout.close()
        self._log.close()


CLIENT_CAPABILITIES: dict[str, Any] = {
    "textDocument": {
        "synchronization": {"dynamicRegistration": False},
        "inlineCompletion": {"dynamicRegistration": False},
        "publishDiagnostics": {},
    },
    "general": {"positionEncodings": ["utf-16"]},
}


def start_server(
    log_path: Path,
    options: dict[str, Any],
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    root: Path | None = None,
    wait_for: tuple[str, ...] = ("ready",),
) -> RawServer:
    """A started, initialized server; with ``wait_for``, once its model reports one of those states."""
    server = RawServer(log_path, args, env)
    try:
        server.initialize(options, root)
        if wait_for:
            status = server.wait_status(*wait_for, "error", timeout=300)
            assert status is not None and status.get("state") in wait_for, (
                f"the model did not load: {status}; the server log:\n{server.log_text()[-3000:]}"
            )
    except BaseException:
        server.close()
        raise
    return server


# --- message shapes ----------------------------------------------------------------------------------------------


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a member left out of the message

ID_FORMS = ("int", "negative", "string", "unicode")


class Mint:
    """Unique request ids, in the form a shape asks for (the session's own ids never collide with them)."""

    def __init__(self) -> None:
        self._count = itertools.count(1)

    def __call__(self, form: str = "string") -> Id:
        n = next(self._count)
        if form == "int":
            return 100_000 + n
        if form == "negative":
            return -100_000 - n
        if form == "unicode":
            return f"ïd\u2028😀-{n}"
        return f"fuzz-{n}"


@dataclass(frozen=True)
class Shape:
    """A message before its ids are minted; hypothesis prints this when a property fails."""

    kind: str
    method: Any = MISSING  # MISSING: no method member (anything else: that value, a string or not)
    params: Any = MISSING
    id_form: str | None = None  # None: a notification; else a request whose minted id looks like this
    bad_id: Any = MISSING  # a literal id of a type no request id may have (instead of a minted one)
    extra: tuple[tuple[str, Any], ...] = ()  # members set or (with MISSING) removed last
    raw: bytes | None = None  # a body that is not JSON, sent as is
    depth: int = 0  # "deep": how deeply the params nest
    items: tuple[Shape, ...] = ()  # "batch": its members
    ascii: bool = True  # JSON with non-ASCII escaped, or as UTF-8


@dataclass(frozen=True)
class Message:
    """A shape with its ids, as bytes, and the answer it is owed."""

    shape: Shape
    body: bytes
    request_id: Id | None  # the id its one reply carries (None: nothing may carry an id of its)
    result_ok: bool = True  # a result is a right answer (else only an error is)
    codes: frozenset[int] | None = None  # error codes that are right (None: any error)
    null_replies: int = 0  # errors with id null it is owed
    null_codes: frozenset[int] = frozenset()
    either: bool = False  # one reply, with its id or with id null (when parsing it may fail)
    forbidden: tuple[Id, ...] = ()  # ids that must get no reply at all (the members of a batch)


def realize(shape: Shape, mint: Mint, shut_down: bool = False) -> Message:
    """The message for ``shape`` with fresh ids, and what it is owed (after ``shutdown``: -32600 for requests)."""
    kind = shape.kind
    refused = frozenset({INVALID_REQUEST})
    if kind == "not_object":  # a JSON value that is no object: its value travels in ``params``
        return Message(shape, _dumps(shape.params, shape.ascii), None, null_replies=1, null_codes=refused)
    if shape.raw is not None:  # not JSON
        return Message(shape, shape.raw, None, null_replies=1, null_codes=frozenset({PARSE_ERROR}))
    if kind == "batch":
        members = [realize(item, mint, shut_down) for item in shape.items]
        body = b"[" + b",".join(member.body for member in members) + b"]"
        forbidden = tuple(member.request_id for member in members if member.request_id is not None)
        return Message(shape, body, None, null_replies=1, null_codes=refused, forbidden=forbidden)
    msg_id = mint(shape.id_form) if shape.id_form is not None and shape.bad_id is MISSING else None
    if kind in ("deep", "huge_number"):
        assert msg_id is not None
        head = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": shape.method})[:-1]
        if kind == "deep":
            nest = "[" * shape.depth + "]" * shape.depth
        else:
            nest = '{"line": %s, "character": 0}' % ("9" * shape.depth)
        body = f'{head}, "params": {nest}}}'.encode()
        return Message(
            shape,
            body,
            msg_id,
            result_ok=not shut_down,
            codes=refused if shut_down else None,
            null_codes=frozenset({PARSE_ERROR, INVALID_REQUEST}),
            either=True,
        )
    obj: dict[str, Any] = {"jsonrpc": "2.0"}
    if msg_id is not None:
        obj["id"] = msg_id
    elif shape.bad_id is not MISSING:
        obj["id"] = shape.bad_id
    if shape.method is not MISSING:
        obj["method"] = shape.method
    if shape.params is not MISSING:
        obj["params"] = shape.params
    for name, value in shape.extra:
        if value is MISSING:
            obj.pop(name, None)
        else:
            obj[name] = value
    body = _dumps(obj, shape.ascii)
    if kind == "bad_id":
        return Message(shape, body, None, null_replies=1, null_codes=refused)
    if kind == "no_method":  # neither a request, a notification nor a response: JSON-RPC's Invalid Request
        return Message(shape, body, None, null_replies=1, null_codes=refused)
    if kind in ("bad_jsonrpc", "method_not_string"):
        return Message(shape, body, msg_id, result_ok=False, codes=refused, null_codes=refused, either=True)
    if kind == "stray_response":  # a response to nothing: never answered
        return Message(shape, body, None, forbidden=(msg_id,) if msg_id is not None else ())
    if msg_id is None:  # a notification, whatever its params: never answered
        return Message(shape, body, None)
    if shut_down:
        return Message(shape, body, msg_id, result_ok=False, codes=refused)
    if kind == "valid":  # the right answer, or cancelled by a newer request
        return Message(shape, body, msg_id, codes=frozenset({REQUEST_CANCELLED}))
    if kind == "unknown_method":
        return Message(shape, body, msg_id, result_ok=False, codes=frozenset({METHOD_NOT_FOUND}))
    return Message(shape, body, msg_id)  # any result or error, once


def _dumps(obj: Any, ascii_only: bool) -> bytes:
    if not ascii_only:
        try:
            return json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: only its escape is valid UTF-8
            pass
    return json.dumps(obj).encode()


# --- strategies ---------------------------------------------------------------------------------------------------

OPEN_DOCUMENTS: dict[str, tuple[str, str]] = {  # uri -> (language id, text): opened before every example
    "file:///fuzz/calc.py": (
        "python",
        'def add(a, b):\n    """Return a + b."""\n    return \n\nx = add(1, 2)\n',
    ),
    "file:///fuzz/broken.py": ("python", "def f(:\n    items = [1, 2\n\x0cy = '😀'\u2028\n"),
    "file:///fuzz/notes.txt": ("plaintext", "plain\r\ntext 🇩🇪 👍🏽\rend"),
}
FUZZ_OPTIONS: dict[str, Any] = {  # the model answers quickly; nothing else is read from disk
    "completion": {
        "timeBudgetMs": 1000,
        "debounceMs": 0,
        "candidates": 1,
        "midLineCandidates": 1,
        "maxTokens": 16,
    },
    "diagnostics": {"debounceMs": 0, "fixTimeBudgetMs": 1000},
    "index": {"enabled": False},
}

# never fuzzed in the main run: `exit` ends the server, `shutdown` ends the main run (it has its own phase),
# `initialized` loads the model again
_NOT_FUZZED = {"exit", "shutdown", "initialized"}
_LSP_REQUESTS = sorted(
    m for m, (t, *_) in METHOD_TO_TYPES.items() if t.__name__.endswith("Request") and m not in _NOT_FUZZED
)
_LSP_NOTIFICATIONS = sorted(
    m
    for m, (t, *_) in METHOD_TO_TYPES.items()
    if t.__name__.endswith("Notification") and m not in _NOT_FUZZED
)
SERVER_REQUESTS = (  # what the server answers (pygls' own and ours)
    "textDocument/inlineCompletion",
    "textDocument/completion",
    "textDocument/diagnostic",
    "textDocument/codeAction",
    "infill/prompt",
    "infill/stats",
    "infill/indexStatus",
    "workspace/executeCommand",
)
SERVER_NOTIFICATIONS = (
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "textDocument/didFocus",
    "workspace/didChangeConfiguration",
    "workspace/didChangeWatchedFiles",
    "workspace/didChangeWorkspaceFolders",
    "$/cancelRequest",
    "$/setTrace",
    "window/workDoneProgress/cancel",
)
VALID_REQUESTS = tuple(m for m in SERVER_REQUESTS if m != "workspace/executeCommand")  # no command exists
KNOWN_METHODS = frozenset({*_LSP_REQUESTS, *_LSP_NOTIFICATIONS, *SERVER_REQUESTS, *SERVER_NOTIFICATIONS})
POSITION_METHODS = (
    "textDocument/inlineCompletion",
    "textDocument/completion",
    "infill/prompt",
    "textDocument/hover",
)

EXTREME_INTS = (
    2**40,
    -1,
    -(2**31),
    -(2**31) - 1,
    2**31 - 1,
    2**31,
    2**32,
    2**53 + 1,
    2**63,
    2**64,
    10**30,
    -(10**30),
)
NASTY_STRINGS = (
    "",
    " ",
    "\x00",
    "\ud800",
    "\udfff",
    "é",
    "😀",
    "🇩🇪",
    "\u2028",
    "\r\n",
    "\x85",
    "file:///dev/zero",
    "file:///dev/stdin",
    "file:///fuzz/calc.py",
    "file:///fuzz/%zz",
    "untitled:Untitled-1",
    "../../../etc/passwd",
    "type_name",
    "__class__",
    "1abc",
    "x" * 300,
)
JUNK_KEYS = (
    "",
    "uri",
    "textDocument",
    "position",
    "line",
    "character",
    "range",
    "start",
    "end",
    "text",
    "contentChanges",
    "settings",
    "id",
    "method",
    "type_name",
    "__class__",
    "1x",
    "😀",
)

ints = st.one_of(st.integers(-(2**66), 2**66), st.sampled_from(EXTREME_INTS))
strings = st.one_of(st.text(max_size=12), st.sampled_from(NASTY_STRINGS))
scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(allow_nan=False, allow_infinity=False), strings)
junk = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(JUNK_KEYS), st.text(max_size=6)), children, max_size=4),
    ),
    max_leaves=10,
)
open_uris = st.sampled_from(sorted(OPEN_DOCUMENTS))
uris = st.one_of(open_uris, st.sampled_from(NASTY_STRINGS))
small = st.integers(0, 12)
positions = st.fixed_dictionaries({"line": small, "character": st.integers(0, 40)})
ranges = st.fixed_dictionaries({"start": positions, "end": positions})


def _document(uri: Any) -> dict[str, Any]:
    return {"uri": uri}


def _ordered(first: dict[str, Any], second: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A range's ends, start first."""
    swap = (second["line"], second["character"]) < (first["line"], first["character"])
    return (second, first) if swap else (first, second)


@st.composite
def valid_params(
    draw: st.DrawFn,
    method: str,
    position: st.SearchStrategy[Any] = positions,
    uri_in: st.SearchStrategy[str] = uris,
) -> Any:
    """Params of the right shape for ``method`` (on an open document, mostly)."""
    uri = draw(uri_in)
    if method == "textDocument/inlineCompletion":
        context = {"triggerKind": draw(st.sampled_from([1, 2]))}
        return {"textDocument": _document(uri), "position": draw(position), "context": context}
    if method in ("textDocument/completion", "infill/prompt", "textDocument/hover"):
        return {"textDocument": _document(uri), "position": draw(position)}
    if method == "textDocument/diagnostic":
        return {"textDocument": _document(uri)}
    if method == "textDocument/codeAction":
        start, end = _ordered(draw(position), draw(position))
        return {
            "textDocument": _document(uri),
            "range": {"start": start, "end": end},
            "context": {"diagnostics": []},
        }
    if method == "workspace/executeCommand":
        return {"command": draw(strings), "arguments": draw(st.lists(junk, max_size=2))}
    if method == "textDocument/didChange":
        start, end = _ordered(draw(position), draw(position))
        change = {"range": {"start": start, "end": end}, "text": draw(strings)}
        return {"textDocument": {"uri": uri, "version": draw(small)}, "contentChanges": [change]}
    if method == "textDocument/didOpen":
        item = {"uri": f"file:///fuzz/opened-{draw(small)}.py", "languageId": "python", "version": 1}
        return {"textDocument": {**item, "text": draw(strings)}}
    if method in ("textDocument/didClose", "textDocument/didSave"):
        return {"textDocument": _document(uri)}
    if (
        method == "textDocument/didFocus"
    ):  # with the cursor (infill-ls's editors) or without (Copilot's clients)
        focus = {"textDocument": _document(uri)}
        return {**focus, "position": draw(position)} if draw(st.booleans()) else focus
    if method == "$/cancelRequest":
        return {"id": draw(st.one_of(st.integers(-5, 5), strings))}
    if method == "$/setTrace":
        return {"value": draw(st.sampled_from(["off", "messages", "verbose"]))}
    return {}


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every member of a params object (objects and lists included)."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _leaves(item, (*path, index))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], new)
    return copy


@st.composite
def wrong_params(draw: st.DrawFn, method: str) -> Any:
    """Params of ``method`` with one member (or all of them) of the wrong type."""
    if method == "initialize" or draw(st.integers(0, 3)) == 0:  # initialize must never succeed again
        return draw(st.one_of(scalars, st.lists(junk, max_size=3))) if method == "initialize" else draw(junk)
    params = draw(valid_params(method))
    path = draw(st.sampled_from(_leaves(params)))
    return _replaced(params, path, draw(junk))


requests_ = st.sampled_from(sorted({*SERVER_REQUESTS, *_LSP_REQUESTS}))
notifications_ = st.sampled_from(sorted({*SERVER_NOTIFICATIONS, *_LSP_NOTIFICATIONS}))
id_forms = st.sampled_from(ID_FORMS)


@st.composite
def _valid(draw: st.DrawFn) -> Shape:
    """Well-formed requests for the server's own methods ("not_open": on a document that is not open, where an
    error is a fine answer too) and notifications."""
    if draw(st.booleans()):
        method = draw(st.sampled_from(VALID_REQUESTS))
        kind = draw(st.sampled_from(["valid", "valid", "not_open"]))
        uri_in = (
            open_uris
            if kind == "valid"
            else st.sampled_from(NASTY_STRINGS).filter(lambda u: u not in OPEN_DOCUMENTS)
        )
        params = draw(valid_params(method, uri_in=uri_in))
        return Shape(kind, method, params, draw(id_forms), ascii=draw(st.booleans()))
    method = draw(
        st.sampled_from(["textDocument/didChange", "textDocument/didOpen", "textDocument/didFocus"])
    )
    return Shape("valid", method, draw(valid_params(method)), ascii=draw(st.booleans()))


@st.composite
def _wrong(draw: st.DrawFn) -> Shape:
    request = draw(st.booleans())
    method = draw(requests_ if request else notifications_)
    form = draw(id_forms) if request else None
    return Shape("wrong_params", method, draw(wrong_params(method)), form, ascii=draw(st.booleans()))


@st.composite
def _out_of_range(draw: st.DrawFn) -> Shape:
    extreme = st.one_of(st.sampled_from(EXTREME_INTS), st.integers(-(2**70), -1), st.integers(2**31, 2**70))
    position = st.one_of(
        st.fixed_dictionaries({"line": extreme, "character": st.one_of(small, extreme)}),
        st.fixed_dictionaries({"line": small, "character": extreme}),
    )
    pick = draw(st.integers(0, 4))
    if pick == 0:  # an edit with a range out of range
        return Shape(
            "out_of_range", "textDocument/didChange", draw(valid_params("textDocument/didChange", position))
        )
    if pick == 1:  # a focus with its cursor out of range
        focus = {"textDocument": _document(draw(open_uris)), "position": draw(position)}
        return Shape("out_of_range", "textDocument/didFocus", focus)
    method = draw(st.sampled_from([*POSITION_METHODS, "textDocument/codeAction"]))
    return Shape("out_of_range", method, draw(valid_params(method, position)), draw(id_forms))


@st.composite
def _missing(draw: st.DrawFn) -> Shape:
    request = draw(st.booleans())
    method = draw(requests_ if request else notifications_)
    return Shape("missing_params", method, MISSING, draw(id_forms) if request else None)


def _unknown_name(name: str) -> bool:
    return name not in KNOWN_METHODS and name not in _NOT_FUZZED


unknown_methods = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["$/unknown", "infill/nothing", "textDocument/nothing", "", " ", "INITIALIZE", "exit "]),
    st.builds(
        lambda prefix, name: prefix + name,
        st.sampled_from(["$/", "infill/", "textDocument/"]),
        st.text(max_size=8),
    ),
).filter(_unknown_name)


@st.composite
def _unknown(draw: st.DrawFn) -> Shape:
    request = draw(st.booleans())
    params = draw(
        st.one_of(
            st.just(MISSING),
            st.dictionaries(st.sampled_from(JUNK_KEYS), junk, max_size=3),
            st.lists(junk, max_size=3),
        )
    )
    return Shape("unknown_method", draw(unknown_methods), params, draw(id_forms) if request else None)


@st.composite
def _deep(draw: st.DrawFn) -> Shape:
    method = draw(
        st.sampled_from(["infill/prompt", "infill/stats", "textDocument/inlineCompletion", "nothing/at/all"])
    )
    if draw(st.booleans()):
        return Shape(
            "deep",
            method,
            id_form=draw(id_forms),
            depth=draw(st.sampled_from([64, 500, 990, 1500, 5000, 100_000])),
        )
    return Shape(
        "huge_number", method, id_form=draw(id_forms), depth=draw(st.sampled_from([20, 4000, 5000, 50_000]))
    )


@st.composite
def _batch(draw: st.DrawFn) -> Shape:
    members = draw(st.lists(st.one_of(_valid(), _wrong(), _missing()), max_size=4))
    return Shape("batch", items=tuple(members))


bad_ids = st.one_of(
    st.dictionaries(st.sampled_from(JUNK_KEYS), scalars, max_size=2),
    st.lists(scalars, max_size=2),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x)),
    st.booleans(),
)


@st.composite
def _bad_id(draw: st.DrawFn) -> Shape:
    method = draw(st.one_of(st.sampled_from(SERVER_REQUESTS), requests_))
    params = draw(st.one_of(valid_params(method), st.just(MISSING)))
    return Shape("bad_id", method, params, id_form="int", bad_id=draw(bad_ids))


def _not_parsable(body: bytes) -> bool:
    """Not JSON however it is decoded, and nothing the framing could take for a header."""
    if b"content-length" in body.lower():
        return False
    for candidate in (body, body.decode("utf-8", "replace")):
        try:
            json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        return False
    return True


@st.composite
def _truncated(draw: st.DrawFn) -> bytes:
    body = request_body("infill/stats", {}, draw(st.integers(1, 10**6)))
    return body[: draw(st.integers(1, len(body) - 1))]


not_json_bodies = st.one_of(
    st.binary(min_size=1, max_size=48),
    st.text(min_size=1, max_size=24).map(lambda text: text.encode("utf-8", "surrogatepass")),
    _truncated(),
    st.sampled_from(
        [
            b"{",
            b"}",
            b"{'jsonrpc': '2.0'}",
            b'{"jsonrpc": "2.0",}',
            b'{"jsonrpc": "2.0"} trailing',
            b'{"jsonrpc":"2.0","id":1,"method":"infill/stats","params":{"x":"\xff"}}',
            b"\xef\xbb\xbf{}",
            b"nul\x00l",
            b"[1, 2",
            b"tru",
            b"\x00\x00\x00\x00",
        ]
    ),
).filter(_not_parsable)


@st.composite
def _not_json(draw: st.DrawFn) -> Shape:
    return Shape("not_json", raw=draw(not_json_bodies))


@st.composite
def _not_object(draw: st.DrawFn) -> Shape:
    value = draw(st.one_of(scalars, st.just("a string")))
    return Shape("not_object", params=value, ascii=draw(st.booleans()))


@st.composite
def _odd_envelope(draw: st.DrawFn) -> Shape:
    """Objects that are not quite JSON-RPC: no method, a jsonrpc that is not "2.0", a method that is no string,
    a response to nothing."""
    choice = draw(st.integers(0, 3))
    method = draw(st.sampled_from(SERVER_REQUESTS))
    if choice == 0:
        return Shape("no_method", params=draw(st.one_of(st.just(MISSING), junk)))
    if choice == 1:
        version = draw(st.one_of(st.just(MISSING), st.sampled_from(["1.0", "2", "", 2.0, None])))
        return Shape(
            "bad_jsonrpc", method, draw(valid_params(method)), draw(id_forms), extra=(("jsonrpc", version),)
        )
    if choice == 2:
        return Shape(
            "method_not_string",
            draw(st.one_of(ints, st.none(), st.lists(strings, max_size=2))),
            MISSING,
            draw(id_forms),
        )
    answer = draw(st.sampled_from(["result", "error"]))
    value = (
        draw(st.one_of(junk, st.just({"code": -32000, "message": "no"}))) if answer == "error" else draw(junk)
    )
    return Shape("stray_response", id_form=draw(id_forms), extra=((answer, value),))


def messages() -> st.SearchStrategy[Shape]:
    """Every message shape the fuzz sends, mixed."""
    return st.one_of(
        _valid(),
        _wrong(),
        _out_of_range(),
        _missing(),
        _unknown(),
        _deep(),
        _batch(),
        _bad_id(),
        _not_json(),
        _not_object(),
        _odd_envelope(),
    )


_CALC = {"uri": "file:///fuzz/calc.py"}
EXAMPLES: tuple[
    tuple[Shape, ...], ...
] = (  # one of each shape, always sent first (hypothesis' explicit phase)
    (
        Shape(
            "valid",
            "textDocument/inlineCompletion",
            {"textDocument": _CALC, "position": {"line": 2, "character": 11}, "context": {"triggerKind": 1}},
            "int",
        ),
    ),
    (Shape("wrong_params", "infill/prompt", {"textDocument": 5, "position": "x"}, "string"),),
    (
        Shape(
            "out_of_range",
            "infill/prompt",
            {"textDocument": _CALC, "position": {"line": 2**40, "character": -1}},
            "int",
        ),
    ),
    (
        Shape("missing_params", "textDocument/inlineCompletion", MISSING, "int"),
        Shape("missing_params", "textDocument/didOpen"),
    ),
    (
        Shape("unknown_method", "infill/nothing", MISSING, "int"),
        Shape("unknown_method", "$/unknown", {"type_name": "1 x"}, "unicode"),
    ),
    (
        Shape("deep", "infill/stats", id_form="int", depth=100_000),
        Shape("huge_number", "infill/prompt", id_form="string", depth=5000),
    ),
    (
        Shape("batch"),
        Shape(
            "batch",
            items=(
                Shape("valid", "infill/stats", {}, "int"),
                Shape("valid", "textDocument/didFocus", {"textDocument": _CALC}),
            ),
        ),
    ),
    tuple(Shape("bad_id", "infill/stats", {}, "int", bad_id=bad) for bad in (1.5, True, {"a": 1}, [1])),
    (Shape("not_json", raw=b"{"), Shape("not_json", raw=b"\xff\xfe{}"), Shape("not_object", params=5)),
    (
        Shape("no_method", params={}),
        Shape("bad_jsonrpc", "infill/stats", {}, "int", extra=(("jsonrpc", MISSING),)),
        Shape("method_not_string", 5, MISSING, "int"),
        Shape("stray_response", id_form="int", extra=(("result", 1),)),
    ),
    (
        Shape("wrong_params", "$/cancelRequest", {"id": []}),
    ),  # an id pygls cannot look up (last: it was fatal)
)


# --- sending and checking ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # the shape's kind (or the framing case's name)
    category: str  # "unanswered", "duplicate answers", "desync", ...
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.category}: {self.detail}"


def _brief(data: bytes | dict[str, Any], limit: int = 160) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else json.dumps(data)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


@dataclass
class Exchange:
    """Sends messages one by one, each followed by a barrier, and checks the answers they get (module doc)."""

    server: RawServer
    mint: Mint = field(default_factory=Mint)
    answer_timeout: float = ANSWER_TIMEOUT_S
    settle_timeout: float = SETTLE_TIMEOUT_S
    sent: int = 0
    barriers: int = 0
    stuck: bool = False  # a barrier went unanswered: the stream is desynchronised (or the server is gone)
    _pending: list[tuple[Message, list[Reply]]] = field(default_factory=list)
    _attributed: int = 0  # replies up to here have an owner
    _seen_malformed: int = 0

    def send(self, message: Message, framed: bytes | None = None) -> list[Problem]:
        """Send ``message`` (as ``framed`` bytes if given) and a barrier; the problems seen so far."""
        problems, start = self._unattributed(message.shape.kind)
        self.sent += 1
        if not self.server.send_bytes(framed if framed is not None else frame(message.body)):
            self.stuck = True
            return [
                *problems,
                Problem(message.shape.kind, "desync", f"the server stopped reading: {_brief(message.body)}"),
            ]
        barrier = self.barrier()
        if barrier is None:
            self.stuck = True
            what = (
                "the server is gone"
                if not self.server.alive()
                else f"no answer in {self.answer_timeout:.0f} s"
            )
            return [
                *problems,
                Problem(
                    message.shape.kind,
                    "desync",
                    f"a well-formed request after it: {what}; it was {_brief(message.body)}",
                ),
            ]
        window = self.server.replies[start : barrier.seq]
        self._attributed = barrier.seq + 1
        nulls = [reply for reply in window if reply.key is None]
        for reply in window:
            if reply.key is not None and reply.key[0] == "bad":
                problems.append(
                    Problem(message.shape.kind, "reply with an invalid id", _brief(reply.message))
                )
        if not message.either:
            problems += self._check_nulls(message, nulls, message.null_replies)
        self._pending.append((message, nulls))
        return problems

    def accounted(self) -> None:
        """Every reply so far has an owner (raw bytes sent around the exchange, such as a framing case)."""
        self._attributed = len(self.server.replies)

    def barrier(self) -> Reply | None:
        self.barriers += 1
        return self.server.request(
            "infill/stats", {}, timeout=self.answer_timeout, msg_id=self.mint("string")
        )

    def _unattributed(self, kind: str) -> tuple[list[Problem], int]:
        """Replies with id null that came after the last barrier's answer (late, so nobody's), and where the
        next message's replies begin."""
        now = len(self.server.replies)
        late = [r for r in self.server.replies[self._attributed : now] if r.key is None]
        self._attributed = now
        return [Problem(kind, "late reply with id null", _brief(r.message)) for r in late], now

    def _check_nulls(self, message: Message, nulls: list[Reply], expected: int) -> list[Problem]:
        kind, problems = message.shape.kind, []
        if len(nulls) < expected:
            want = sorted(message.null_codes)
            problems.append(
                Problem(kind, "no error with id null", f"expected one ({want}) for {_brief(message.body)}")
            )
        elif len(nulls) > expected:
            got = [_brief(reply.message, 100) for reply in nulls]
            problems.append(
                Problem(kind, "unexpected replies with id null", f"{got} for {_brief(message.body)}")
            )
        for reply in nulls:
            if reply.code not in message.null_codes:
                problems.append(
                    Problem(
                        kind,
                        "wrong error code (id null)",
                        f"{_brief(reply.message)} for {_brief(message.body)}, expected {sorted(message.null_codes)}",
                    )
                )
        return problems

    def settle(self) -> list[Problem]:
        """Wait for every pending request's answer; check counts and codes (and the replies' form)."""
        problems: list[Problem] = []
        server = self.server
        keys = [  # "either" messages answered with id null are owed nothing more
            id_key(m.request_id)
            for m, nulls in self._pending
            if m.request_id is not None and not (m.either and nulls)
        ]
        if not self.stuck:  # once stuck, nothing more is coming
            server.wait(lambda: all(key in server.by_id for key in keys), self.settle_timeout)
        if self._pending and not self.stuck and self.barrier() is None:  # anything written before it is here
            self.stuck = True
        for message, nulls in self._pending:
            problems += self._check(message, nulls)
        self._pending.clear()
        for problem, reply in server.malformed[self._seen_malformed :]:
            problems.append(Problem("reply", "malformed reply", f"{problem}: {_brief(reply)}"))
        self._seen_malformed = len(server.malformed)
        return problems

    def _check(self, message: Message, nulls: list[Reply]) -> list[Problem]:
        kind, problems = message.shape.kind, []
        replies = server_replies(self.server, message.request_id)
        what = _brief(message.body)
        if message.either:
            total = len(replies) + len(nulls)
            if total == 0:
                problems.append(
                    Problem(
                        kind,
                        "unanswered",
                        f"no reply (with its id or id null) in {self.settle_timeout:.0f} s: {what}",
                    )
                )
            elif total > 1:
                got = [_brief(r.message, 100) for r in [*replies, *nulls]]
                problems.append(Problem(kind, "duplicate answers", f"{got} for {what}"))
            problems += self._check_nulls(message, nulls, len(nulls))  # codes only
        elif message.request_id is not None:
            if not replies:
                problems.append(
                    Problem(kind, "unanswered", f"no reply in {self.settle_timeout:.0f} s: {what}")
                )
            elif len(replies) > 1:
                got = [_brief(r.message, 100) for r in replies]
                problems.append(Problem(kind, "duplicate answers", f"{got} for {what}"))
        for reply in replies:
            if not reply.is_error and not message.result_ok:
                problems.append(
                    Problem(
                        kind,
                        "a result where an error is owed",
                        f"{_brief(reply.message)} for {what}, expected {sorted(message.codes or ())}",
                    )
                )
            if reply.is_error and message.codes is not None and reply.code not in message.codes:
                problems.append(
                    Problem(
                        kind,
                        "wrong error code",
                        f"{_brief(reply.message)} for {what}, expected {sorted(message.codes)}",
                    )
                )
        for member in message.forbidden:
            for reply in server_replies(self.server, member):
                problems.append(Problem(kind, "a reply to no request", f"{_brief(reply.message)} for {what}"))
        return problems


def server_replies(server: RawServer, msg_id: Id | None) -> list[Reply]:
    return server.replies_to(msg_id) if msg_id is not None else []


def open_documents(server: RawServer) -> None:
    """(Re)open the fuzz's documents with their first text: fuzzed edits and closes do not accumulate."""
    for uri, (language, text) in OPEN_DOCUMENTS.items():
        item = {"uri": uri, "languageId": language, "version": 1, "text": text}
        server.notify("textDocument/didOpen", {"textDocument": item})


def restore_settings(server: RawServer, options: dict[str, Any]) -> None:
    server.notify("workspace/didChangeConfiguration", {"settings": {"infill": options}})


def touches_settings(shapes: Sequence[Shape]) -> bool:
    return any(shape.method == "workspace/didChangeConfiguration" for shape in shapes)


def run_messages(exchange: Exchange, shapes: Sequence[Shape], shut_down: bool = False) -> list[Problem]:
    """Send ``shapes`` through ``exchange`` and settle; every problem."""
    problems: list[Problem] = []
    for shape in shapes:
        if exchange.stuck:
            break
        problems += exchange.send(realize(shape, exchange.mint, shut_down))
    problems += exchange.settle()
    return problems


# --- framing -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameCase:
    """Raw bytes around one request (``infill/stats`` with a fresh id): ``build(body)`` gives the writes.

    ``strict``: that request must be answered exactly once (the frame is one a tolerant reader takes);
    otherwise at most once. Either way the next well-formed request must be answered. ``claims``: a length
    the frame announces that must not be allocated.
    """

    name: str
    build: Callable[[bytes], list[bytes]]
    strict: bool
    claims: int = 0

    def __repr__(self) -> str:
        return f"FrameCase({self.name!r})"


def _headers(text: str) -> Callable[[bytes], list[bytes]]:
    """A case that frames the body with ``text`` (``{n}``: the body's length) as its header block."""
    return lambda body: [text.format(n=len(body)).encode() + body]


def _headers_with(length: Callable[[int], int]) -> Callable[[bytes], list[bytes]]:
    return lambda body: [b"Content-Length: %d\r\n\r\n" % length(len(body)) + body]


FRAME_CASES: tuple[FrameCase, ...] = (
    FrameCase("lowercase content-length", _headers("content-length: {n}\r\n\r\n"), strict=True),
    FrameCase("uppercase CONTENT-LENGTH", _headers("CONTENT-LENGTH: {n}\r\n\r\n"), strict=True),
    FrameCase("LF-only headers", _headers("Content-Length: {n}\n\n"), strict=True),
    FrameCase("LF header line, CRLF blank line", _headers("Content-Length: {n}\n\r\n"), strict=True),
    FrameCase("double space after the colon", _headers("Content-Length:  {n}\r\n\r\n"), strict=True),
    FrameCase("no space after the colon", _headers("Content-Length:{n}\r\n\r\n"), strict=True),
    FrameCase("tab and trailing spaces", _headers("Content-Length:\t{n}  \r\n\r\n"), strict=True),
    FrameCase(
        "Content-Type first",
        _headers("Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: {n}\r\n\r\n"),
        strict=True,
    ),
    FrameCase(
        "unknown headers around the length",
        _headers("X-Trace: 1\r\nContent-Length: {n}\r\nX-Other: two words\r\n\r\n"),
        strict=True,
    ),
    FrameCase("one byte per write", lambda body: [bytes([b]) for b in frame(body)], strict=True),
    FrameCase("garbage line before the frame", lambda body: [b"hello world\r\n" + frame(body)], strict=True),
    FrameCase("blank lines before the frame", lambda body: [b"\r\n\r\n\n" + frame(body)], strict=True),
    FrameCase("length too short", _headers_with(lambda n: n - 7), strict=False),
    FrameCase("length too long", _headers_with(lambda n: n + 40), strict=False),
    FrameCase("length zero", _headers_with(lambda n: 0), strict=False),
    FrameCase(
        "length negative", lambda body: [b"Content-Length: -%d\r\n\r\n" % len(body) + body], strict=False
    ),
    FrameCase("length not a number", lambda body: [b"Content-Length: twelve\r\n\r\n" + body], strict=False),
    FrameCase("no Content-Length", lambda body: [b"Content-Type: text/plain\r\n\r\n" + body], strict=False),
    FrameCase(
        "length 10**15",
        lambda body: [b"Content-Length: 1000000000000000\r\n\r\n" + body],
        strict=False,
        claims=10**15,
    ),
    FrameCase(
        "length 8 GiB",
        lambda body: [b"Content-Length: %d\r\n\r\n" % 2**33 + body],
        strict=False,
        claims=2**33,
    ),
    FrameCase(
        "no blank line after the header",
        lambda body: [b"Content-Length: %d\r\n" % len(body) + body],
        strict=False,
    ),
    FrameCase("garbage glued to the header", lambda body: [b"garbage" + frame(body)], strict=False),
    FrameCase(
        "a 200 kB header line",
        lambda body: [b"X-Long: " + b"a" * 200_000 + b"\r\n" + frame(body)],
        strict=False,
        claims=0,
    ),
    FrameCase(
        "body and garbage inside the length", lambda body: [frame(body + b"\x00garbage\xff")], strict=False
    ),
    FrameCase("NUL bytes between frames", lambda body: [frame(body) + b"\x00" * 64], strict=True),
)


def run_frame_case(
    server: RawServer, case: FrameCase, mint: Mint, timeout: float = ANSWER_TIMEOUT_S
) -> list[Problem]:
    """Send ``case`` then a well-formed request; the problems (recovery, answers, memory)."""
    msg_id = mint("int")
    body = request_body("infill/stats", {}, msg_id)
    before = server.memory_kb()
    for chunk in case.build(body):
        if not server.send_bytes(chunk, timeout):
            return [Problem(case.name, "desync", "the server stopped reading")]
    return check_recovery(server, case.name, [(msg_id, case.strict)], mint, before, case.claims, timeout)


def check_recovery(
    server: RawServer,
    name: str,
    embedded: Sequence[tuple[Id, bool]],
    mint: Mint,
    before: dict[str, int],
    claims: int = 0,
    timeout: float = ANSWER_TIMEOUT_S,
) -> list[Problem]:
    """After malformed bytes: the next well-formed request is answered; each embedded request (id, strict) is
    answered once (strict) or at most once; no length the bytes claimed was allocated."""
    problems: list[Problem] = []
    next_id = mint("string")
    reply = server.request("infill/stats", {}, timeout=timeout, msg_id=next_id)
    if reply is None:
        what = "the server is gone" if not server.alive() else f"no answer in {timeout:.0f} s"
        problems.append(Problem(name, "desync", f"the next well-formed request after it: {what}"))
    elif reply.is_error:
        problems.append(
            Problem(name, "wrong answer", f"the next well-formed request got {_brief(reply.message)}")
        )
    for msg_id, strict in embedded:
        count = len(server.replies_to(msg_id))
        if strict and count == 0:
            problems.append(Problem(name, "unanswered", f"its request (id {msg_id}) got no answer"))
        if count > 1:
            problems.append(Problem(name, "duplicate answers", f"its request (id {msg_id}) got {count}"))
    after = server.memory_kb()
    if claims and before and after:
        grown_rss = after["VmHWM"] - before["VmHWM"]
        grown_virtual = after["VmPeak"] - before["VmPeak"]
        if grown_rss > 64 * 1024 or grown_virtual * 1024 > claims // 2:
            problems.append(
                Problem(
                    name,
                    "memory from an untrusted length",
                    f"peak RSS +{grown_rss} kB, peak virtual +{grown_virtual} kB",
                )
            )
    return problems


garbage = st.binary(min_size=1, max_size=200).filter(lambda data: b"content-length" not in data.lower())


def run_garbage(
    server: RawServer, mint: Mint, data: bytes, terminated: bool, one_write: bool
) -> list[Problem]:
    """A frame, ``data`` (ending in a line break when ``terminated``), a frame, then a well-formed request: the
    first frame's request is answered, the second one too when the garbage ended its line, the last one always."""
    first, second = mint("int"), mint("int")
    chunks = [
        frame(request_body("infill/stats", {}, first)),
        data + (b"\r\n" if terminated else b""),
        frame(request_body("infill/stats", {}, second)),
    ]
    before = server.memory_kb()
    for chunk in [b"".join(chunks)] if one_write else chunks:
        if not server.send_bytes(chunk):
            return [Problem("garbage between frames", "desync", "the server stopped reading")]
    return check_recovery(
        server, "garbage between frames", [(first, True), (second, terminated)], mint, before
    )
