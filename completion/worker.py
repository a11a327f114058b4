"""The model worker: a child process that owns the model and runs one call at a time from its own queue.

A native crash, an out-of-memory kill or a stuck decode takes only this process down; the server's
supervisor (``completion.supervisor``) answers its pending requests and starts a new one. Started as
``python -m completion.worker --fd N``: N is this end of a socket pair carrying pickled messages
(``multiprocessing.connection`` framing). The first message is the load request; then

- ``("call", id, method, args)``: queued, run in order, answered with ``("ok", id, value)`` or
  ``("error", id, kind, message)``;
- ``("cancel", id)``: a queued call is answered as cancelled, a running generation stops at its next token or
  prompt chunk.

The worker exits when the server goes away (end of the pipe, or a new parent process id), never outliving it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

from completion.backend import Generation, ModelInfo, ModelLoadError, ModelUnavailable

SESSION_FACTORY_ENV = "INFILL_LS_WORKER_SESSION"
"""``module:callable`` loading a session instead of llama.cpp (tests script crashes and slow models with it)."""
_PARENT_POLL_S = 0.25


@dataclass
class _Job:
    call_id: int
    method: str
    args: tuple[Any, ...]
    cancel: threading.Event = field(default_factory=threading.Event)


def _session_factory() -> Callable[[Any, Path], Any]:
    spec = os.environ.get(SESSION_FACTORY_ENV, "").strip()
    if not spec:
        from completion.model import ModelSession

        return ModelSession.load
    module, _, name = spec.partition(":")
    factory: Callable[[Any, Path], Any] = getattr(importlib.import_module(module), name)
    return factory


class Worker:
    """Reads messages on one thread, runs calls on the main thread; cancel reaches a running call at once."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.jobs: queue.Queue[_Job] = queue.Queue()
        self.queued: dict[int, _Job] = {}
        self.running: _Job | None = None
        self.state = threading.Lock()
        self.send_lock = threading.Lock()
        self.session: Any = None

    def send(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            self.connection.send(message)

    def read_messages(self) -> None:
        """Queue calls and apply cancels until the server closes the pipe; then exit at once."""
        try:
            while True:
                message = self.connection.recv()
                if message[0] == "call":
                    job = _Job(message[1], message[2], tuple(message[3]))
                    with self.state:
                        self.queued[job.call_id] = job
                    self.jobs.put(job)
                elif message[0] == "cancel":
                    with self.state:
                        target = self.queued.get(message[1])
                        if self.running is not None and self.running.call_id == message[1]:
                            target = self.running
                    if target is not None:
                        target.cancel.set()
        except (EOFError, OSError):
            pass
        os._exit(0)  # the server is gone: never outlive it, even mid-decode

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            with self.state:
                self.queued.pop(job.call_id, None)
                self.running = job
            try:
                if job.method == "stop":
                    self.send(("ok", job.call_id, None))
                    return
                self.send(("ok", job.call_id, self.execute(job)))
            except ModelLoadError as error:
                self.send(("error", job.call_id, "load", str(error)))
            except ModelUnavailable as error:
                self.send(("error", job.call_id, "unavailable", str(error)))
            except Exception as error:  # a bad call must not take the worker down
                self.send(("error", job.call_id, "failed", f"{type(error).__name__}: {error}"))
            finally:
                with self.state:
                    self.running = None

    def execute(self, job: _Job) -> Any:
        if job.method == "load":
            options, path = job.args
            self.session = _session_factory()(options, Path(path))
            self.send(("phase", job.call_id, "first decode"))
            warnings = self.session.self_check()  # the first decode happens here, before "ready"
            info: ModelInfo = self.session.info
            return dataclasses.replace(info, warnings=(*info.warnings, *warnings))
        session = self.session
        if session is None:
            raise ModelUnavailable("no model is loaded in this worker")
        if job.method == "generate":
            tokens, spec = job.args
            if job.cancel.is_set():
                return Generation("", 0.0, len(tokens), 0, 0, "cancelled")
            return session.generate(tokens, spec, job.cancel)
        if job.method == "tokenize":
            return session.tokenize(*job.args)
        if job.method == "score":
            return session.continuation_logprobs(*job.args)
        if job.method == "prompt_cost":
            return session.prompt_cost(*job.args)
        if job.method == "forget_prompt":
            return session.forget_prompt()
        if job.method == "measure_speed":
            return session.measure_speed(*job.args)
        if job.method == "system_info":
            from completion.llama_build import system_info

            return system_info()
        raise ValueError(f"unknown worker method {job.method!r}")


def _watch_parent(parent: int) -> None:
    """Exit when the server is gone even if the pipe somehow stays open (a backstop to end-of-pipe)."""
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent:
            os._exit(0)


def main(argv: list[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="python -m completion.worker")
    parser.add_argument("--fd", type=int, required=True, help="this end of the socket pair to the server")
    parser.add_argument("--parent", type=int, required=True, help="the server's process id")
    args = parser.parse_args(argv)
    os.dup2(2, 1)  # llama.cpp prints to fd 1: keep it off anything the server might read
    sys.stdout = sys.stderr
    worker = Worker(Connection(args.fd))
    threading.Thread(target=_watch_parent, args=(args.parent,), name="parent-watch", daemon=True).start()
    threading.Thread(target=worker.read_messages, name="worker-reader", daemon=True).start()
    worker.run()
    sys.stderr.flush()
    os._exit(0)  # stopped: skip interpreter teardown, which would free the model under the reader thread


if __name__ == "__main__":
    main()
