"""The server side of the model worker: one child process kept alive behind the engine's model interface.

:class:`ModelSupervisor` is what the engine calls (a :class:`completion.backend.TokenModel`). It starts
a worker (``completion.worker``), restarts it with backoff when it dies — a native crash, an out-of-memory kill,
a hang past the watchdog — and gives up after three failures in a row with the cause in words. While the
worker is down every call raises :class:`ModelUnavailable` at once, so requests are answered (with nothing)
instead of waiting. A replaced supervisor drains: calls already queued in its worker finish, new ones are
refused, and the worker is stopped; nothing can reach a model that is gone.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from completion.backend import (
    BackendState,
    CancelFlag,
    Generation,
    GenerationSpec,
    ModelInfo,
    ModelLoadError,
    ModelUnavailable,
    PromptCost,
)
from completion.fim import PromptPiece

if TYPE_CHECKING:
    from completion.model import ModelOptions

log = logging.getLogger(__name__)

MAX_FAILURES_IN_ROW = 3
_BACKOFF_S = (0.25, 1.0, 2.0)
_STOP_GRACE_S = 5.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def describe_exit(returncode: int | None, phase: str, stderr_tail: Sequence[str], gpu: bool) -> str:
    """Why a worker died, in words a user can act on (the signal, when it happened, and what to do)."""
    last = next((line.strip() for line in reversed(stderr_tail) if line.strip()), "")
    said = f" (llama.cpp said: {last[:200]})" if last else ""
    reinstall = (
        "; llama-cpp-python was probably compiled for CPU features this machine cannot use (e.g. AMX or "
        "AVX-512 on a VM): reinstall it with `bash .ci/install`, which builds it portably without a wheel cache"
    )
    if returncode is None:
        return f"the model worker stopped {phase}"
    if returncode >= 0:
        return f"the model worker exited with status {returncode} {phase}{said}"
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    where = "in its GPU backend" if gpu else "in its CPU backend"
    if number in (signal.SIGSEGV, signal.SIGBUS):
        return f"llama.cpp crashed {where} (signal {number}, {name}) {phase}{said}{reinstall}"
    if number == signal.SIGILL:
        return (
            f"llama.cpp ran a CPU instruction this machine lacks (signal {number}, {name}) {phase}{reinstall}"
        )
    if number == signal.SIGKILL:
        return (
            f"the model worker was killed (signal {number}, {name}) {phase}: most likely the system ran out of "
            "memory; try a smaller model or a smaller infill.model.contextSize"
        )
    if number == signal.SIGABRT:
        return f"llama.cpp aborted (signal {number}, {name}) {phase}{said}"
    return f"the model worker ended on signal {number} ({name}) {phase}{said}"


_PHASES = {
    "load": "while loading the model",
    "first decode": "during the first decode",
    "generate": "during a generation",
    "score": "while scoring a suggestion",
    "tokenize": "while tokenizing",
}


class WorkerProcess:
    """One worker child: spawn and load, calls answered through futures, cancel, stop, kill."""

    def __init__(self, on_exit: Callable[[WorkerProcess], None], hang_timeout_s: float, gpu: bool) -> None:
        self._on_exit = on_exit
        self._hang_timeout_s = hang_timeout_s
        self._gpu = gpu
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, Future[Any]]] = {}
        self._pending_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._killed_because: str | None = None
        self._phase = "load"
        self.started = False
        self.stopping = False
        self.cause: str | None = None
        parent_end, child_end = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "completion.worker", "--fd", str(child_end.fileno())]
        self.process = subprocess.Popen(
            [*command, "--parent", str(os.getpid())],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        child_end.close()
        self._connection = Connection(parent_end.detach())
        self.pid = self.process.pid
        threading.Thread(target=self._read_replies, name=f"worker-{self.pid}-replies", daemon=True).start()
        threading.Thread(target=self._drain_stderr, name=f"worker-{self.pid}-stderr", daemon=True).start()

    # --- calls ------------------------------------------------------------------------------------------------

    def load(self, options: ModelOptions, path: Path, timeout_s: float) -> ModelInfo:
        info: ModelInfo = self.call("load", (options, str(path)), allowance_s=timeout_s)
        return info

    def call(
        self, method: str, args: tuple[Any, ...], cancel: CancelFlag | None = None, allowance_s: float = 0.0
    ) -> Any:
        """Send a call and wait for its answer; a cancel flag is forwarded, a hang past the watchdog kills."""
        future: Future[Any] = Future()
        call_id = next(self._ids)
        with self._pending_lock:
            if self.cause is not None:
                raise ModelUnavailable(self.cause)
            self._pending[call_id] = (method, future)
        try:
            self._send(("call", call_id, method, args))
        except OSError as error:
            self._forget(call_id)
            raise ModelUnavailable(self.cause or f"the model worker is gone: {error}") from error
        limit = allowance_s + self._hang_timeout_s
        started = time.monotonic()
        forwarded = False
        while True:
            try:
                return future.result(timeout=0.01 if cancel is not None and not forwarded else 0.05)
            except TimeoutError:
                pass
            if cancel is not None and not forwarded and cancel.is_set():
                forwarded = True
                self._send_quietly(("cancel", call_id))
            if time.monotonic() - started > limit:
                phase = _PHASES.get(method, f"during {method}")
                self.kill(
                    f"the model worker stopped answering {phase} (no reply in {limit:.0f} s) and was stopped"
                )

    def stop(self) -> None:
        """Let queued calls finish, then exit (killed if it takes longer than a few seconds); returns at once."""
        self.stopping = True
        with self._pending_lock:
            running = [call_id for call_id, (method, _) in self._pending.items() if method == "generate"]
        for call_id in running:  # nobody will show these any more
            self._send_quietly(("cancel", call_id))
        self._send_quietly(("call", next(self._ids), "stop", ()))
        threading.Thread(target=self._reap, name=f"worker-{self.pid}-stop", daemon=True).start()

    def kill(self, because: str) -> None:
        self._killed_because = because
        with contextlib.suppress(OSError):
            self.process.kill()

    def _reap(self) -> None:
        try:
            self.process.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill("the model worker did not stop in time")
            self.process.wait()

    # --- plumbing ---------------------------------------------------------------------------------------------

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            self._connection.send(message)

    def _send_quietly(self, message: tuple[Any, ...]) -> None:
        with contextlib.suppress(OSError):  # the worker is gone; its reader fails the pending calls
            self._send(message)

    def _forget(self, call_id: int) -> tuple[str, Future[Any]] | None:
        with self._pending_lock:
            return self._pending.pop(call_id, None)

    def _read_replies(self) -> None:
        try:
            while True:
                message = self._connection.recv()
                if message[0] == "phase":
                    self._phase = message[2]
                    continue
                entry = self._forget(message[1])
                if entry is None:
                    continue
                method, future = entry
                if message[0] == "ok":
                    if method == "load":
                        self.started = True
                        self._stderr.clear()  # a later crash quotes what llama.cpp said after loading
                    future.set_result(message[2])
                elif message[2] == "load":
                    future.set_exception(ModelLoadError(message[3]))
                else:
                    log.warning("model worker: %s failed: %s", method, message[3])
                    future.set_exception(ModelUnavailable(message[3]))
        except (EOFError, OSError):
            pass
        self._died()

    def _died(self) -> None:
        try:
            returncode = self.process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:  # closed its end but lives on: make sure it is gone
            self.kill(self._killed_because or "")
            returncode = self.process.wait()
        with self._pending_lock:
            pending = list(self._pending.values())
            phase = _PHASES.get(pending[0][0] if pending else "", "while idle")
            if pending and pending[0][0] == "load":
                phase = _PHASES.get(self._phase, phase)
            if self.stopping and not self._killed_because:
                self.cause = "the model worker was stopped"
            else:
                self.cause = self._killed_because or describe_exit(returncode, phase, self._stderr, self._gpu)
            self._pending.clear()
        self._connection.close()
        if not self.stopping:
            log.error("model worker %s: %s", self.pid, self.cause)
        self._on_exit(self)  # first: whoever sees a failed call below already sees the restart
        for _, future in pending:
            future.set_exception(ModelUnavailable(self.cause))

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip()
            self._stderr.append(line)
            log.debug("model worker %s: %s", self.pid, line)


class ModelSupervisor:
    """The engine's model backend: a supervised worker process holding the model."""

    def __init__(
        self,
        options: ModelOptions,
        path: Path,
        on_state: Callable[[BackendState], None] = lambda state: None,
        *,
        idle_unload_s: float = 0.0,
        hang_timeout_s: float = 60.0,
        load_timeout_s: float = 300.0,
    ) -> None:
        self.options = options
        self.path = path
        self.lock = threading.Lock()  # held by the engine for a whole request
        self._on_state = on_state
        self._idle_unload_s = idle_unload_s
        self._hang_timeout_s = hang_timeout_s
        self._load_timeout_s = load_timeout_s
        self._gpu = options.gpu_layers != 0
        self._guard = threading.RLock()
        self._worker: WorkerProcess | None = None
        self._info: ModelInfo | None = None
        self._state = BackendState("starting", "starting the model worker")
        self._failures = 0
        self._restarts = 0
        self._last_used = time.monotonic()
        self._idle_wakeup = threading.Event()

    # --- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> ModelInfo:
        """Start the first worker (retrying a crash with backoff); ModelLoadError or ModelUnavailable if not."""
        self._bring_up()
        if self._idle_unload_s > 0:
            threading.Thread(target=self._unload_when_idle, name="infill-idle-unload", daemon=True).start()
        return self.info

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            raise ModelUnavailable("the model has not loaded yet")
        return self._info

    @property
    def state(self) -> BackendState:
        return self._state

    @property
    def pid(self) -> int | None:
        worker = self._worker
        return worker.pid if worker is not None and worker.cause is None else None

    def close(self) -> None:
        """Refuse new calls and stop the worker after what it has queued; returns at once."""
        with self._guard:
            worker, self._worker = self._worker, None
            self._set_state("closed", "the model was closed")
        self._idle_wakeup.set()
        if worker is not None:
            worker.stop()

    def _bring_up(self) -> None:
        """Start workers until one loads; each crash counts as a failure, three in a row give up."""
        while True:
            with self._guard:
                if self._state.state == "closed":
                    raise ModelUnavailable("the model was closed")
            worker = WorkerProcess(self._worker_exited, self._hang_timeout_s, self._gpu)
            try:
                info = worker.load(self.options, self.path, self._load_timeout_s)
            except ModelLoadError as error:
                worker.stop()
                with self._guard:
                    self._set_state("failed", str(error))
                raise
            except ModelUnavailable as error:
                worker.stop()
                with self._guard:
                    self._failures += 1
                    if self._failures >= MAX_FAILURES_IN_ROW:
                        self._set_state("failed", _gave_up(str(error), self._failures))
                        raise ModelUnavailable(self._state.message) from error
                    self._set_state("restarting", f"{error}; restarting the model worker")
                time.sleep(_BACKOFF_S[min(self._failures, len(_BACKOFF_S)) - 1])
                continue
            with self._guard:
                if self._state.state == "closed":
                    worker.stop()
                    raise ModelUnavailable("the model was closed")
                if worker.cause is not None:  # died right after loading, before it was installed
                    self._failures += 1
                    if self._failures >= MAX_FAILURES_IN_ROW:
                        self._set_state("failed", _gave_up(worker.cause, self._failures))
                        raise ModelUnavailable(self._state.message)
                    continue
                self._worker, self._info = worker, info
                self._last_used = time.monotonic()
                self._set_state("ready", f"{info.name} ({info.family})")
            return

    def _worker_exited(self, worker: WorkerProcess) -> None:
        """A worker that had loaded died: count it, restart with backoff (in the background), or give up."""
        with self._guard:
            if worker is not self._worker or worker.stopping:
                return
            self._worker = None
            self._failures += 1
            cause = worker.cause or "the model worker stopped"
            if self._failures >= MAX_FAILURES_IN_ROW:
                self._set_state("failed", _gave_up(cause, self._failures))
                return
            self._restarts += 1
            self._set_state("restarting", f"{cause}; restarting the model worker")
            delay = _BACKOFF_S[min(self._failures, len(_BACKOFF_S)) - 1]
        threading.Thread(
            target=self._restart_after, args=(delay,), name="infill-restart", daemon=True
        ).start()

    def _restart_after(self, delay: float) -> None:
        time.sleep(delay)
        try:
            self._bring_up()
        except (ModelLoadError, ModelUnavailable) as error:
            log.error("model worker restart failed: %s", error)

    def _unload_when_idle(self) -> None:
        """Stop the worker after idle_unload_s without calls; the next call starts it again."""
        while True:
            self._idle_wakeup.wait(timeout=max(0.05, min(30.0, self._idle_unload_s / 4)))
            with self._guard:
                if self._state.state == "closed":
                    return
                idle = time.monotonic() - self._last_used
                if self._state.state != "ready" or idle < self._idle_unload_s or self.lock.locked():
                    continue
                worker, self._worker = self._worker, None
                minutes = self._idle_unload_s / 60
                self._set_state(
                    "idle",
                    f"model unloaded after {minutes:g} min without requests; it reloads on the next one",
                )
            if worker is not None:
                worker.stop()

    def _set_state(self, state: str, message: str) -> None:
        """Record and report a state change (called with the guard held)."""
        self._state = BackendState(state, message, self.pid, self._restarts)
        try:
            self._on_state(self._state)
        except Exception:
            log.exception("model state listener failed")

    # --- calls ------------------------------------------------------------------------------------------------

    def _ready_worker(self) -> WorkerProcess:
        with self._guard:
            self._last_used = time.monotonic()
            worker, state = self._worker, self._state.state
            if state == "idle":
                self._set_state("starting", "reloading the model after idle")
                threading.Thread(
                    target=self._restart_after, args=(0.0,), name="infill-reload", daemon=True
                ).start()
        if worker is None or state != "ready":
            raise ModelUnavailable(self._state.message)
        return worker

    def _call(
        self, method: str, args: tuple[Any, ...], cancel: CancelFlag | None = None, allowance_s: float = 0.0
    ) -> Any:
        worker = self._ready_worker()
        value = worker.call(method, args, cancel, allowance_s)
        with self._guard:
            self._failures = 0  # a request answered: crashes before it no longer count as "in a row"
        return value

    def tokenize(self, pieces: Sequence[PromptPiece], add_bos: bool) -> list[int]:
        tokens: list[int] = self._call("tokenize", (list(pieces), add_bos))
        return tokens

    def generate(
        self, tokens: list[int], spec: GenerationSpec, cancel: CancelFlag | None = None
    ) -> Generation:
        generation: Generation = self._call("generate", (tokens, spec), cancel, spec.time_limit_s or 0.0)
        return generation

    def continuation_logprobs(self, context: list[int], continuation: Sequence[int]) -> list[float]:
        scores: list[float] = self._call("score", (context, list(continuation)))
        return scores

    def prompt_cost(self, tokens: list[int]) -> PromptCost:
        cost: PromptCost = self._call("prompt_cost", (tokens,))
        return cost

    def forget_prompt(self) -> None:
        self._call("forget_prompt", ())

    def system_info(self) -> str:
        """llama.cpp's system info line as the worker's build reports it (the CPU features it uses)."""
        info: str = self._call("system_info", ())
        return info

    def measure_speed(self, prompt_tokens: int = 256, generated_tokens: int = 32) -> tuple[float, float]:
        speeds: tuple[float, float] = self._call(
            "measure_speed", (prompt_tokens, generated_tokens), None, 120.0
        )
        return speeds


def _gave_up(cause: str, failures: int) -> str:
    return (
        f"{cause}. The model worker failed {failures} times in a row and will not be restarted; syntax "
        "diagnostics and fixes keep working. Change a setting (or restart the server) to try again."
    )


def start_supervised(
    options: ModelOptions, on_state: Callable[[BackendState], None] = lambda state: None
) -> ModelSupervisor:
    """A started worker for ``options``; raises ModelLoadError or ModelUnavailable."""
    from completion.model import model_path_for

    supervisor = ModelSupervisor(
        options, model_path_for(options), on_state, idle_unload_s=options.idle_unload_minutes * 60.0
    )
    supervisor.start()
    return supervisor
