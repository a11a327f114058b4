"""The supervised worker process: calls, cancel, crashes and restarts, hangs, drain, idle unload, no orphans.

Each test runs the real worker process (``python -m completion.worker``) with a scripted session
(``tests.worker.fakes``) in place of llama.cpp, and waits on conditions, never on fixed sleeps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from completion.backend import (
    BackendState,
    GenerationSpec,
    ModelLoadError,
    ModelUnavailable,
    PromptCost,
    StopRule,
)
from completion.fim import PromptPiece
from completion.model import ModelOptions
from completion.supervisor import MAX_FAILURES_IN_ROW, ModelSupervisor

from .fakes import SESSION_ENV

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fake_session(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SESSION_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def states() -> list[BackendState]:
    return []


@pytest.fixture
def supervisor(states: list[BackendState]) -> Iterator[ModelSupervisor]:
    started = ModelSupervisor(ModelOptions(), Path("fake.gguf"), states.append, hang_timeout_s=30)
    yield started
    started.close()


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll a condition (the worker is another process: there is nothing to wait on directly)."""
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting to be reaped is gone for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_calls_cross_the_process_boundary(supervisor: ModelSupervisor, states: list[BackendState]) -> None:
    info = supervisor.start()
    assert info.name == "Fake model" and states[-1].state == "ready"
    assert supervisor.pid is not None and supervisor.pid != os.getpid()
    assert supervisor.tokenize([PromptPiece("ab", special=False)], add_bos=True) == [97, 98]
    generation = supervisor.generate([1, 2], GenerationSpec(max_tokens=40, stop=StopRule("line")))
    assert generation.text == "value = 1\n" and generation.stop_reason == "stop"
    assert supervisor.continuation_logprobs([1], [2, 3]) == [-1.0, -1.0]
    assert supervisor.prompt_cost([1, 2, 5]) == PromptCost(1, None)  # [1, 2] is cached; nothing was timed


def test_cancel_reaches_a_running_generation(
    supervisor: ModelSupervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFILL_FAKE_TOKEN_S", "0.2")  # 10 characters: 2 s uncancelled
    supervisor.start()
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    generation = supervisor.generate([1], GenerationSpec(max_tokens=40), cancel)
    assert generation.stop_reason == "cancelled"
    assert len(generation.text) < 5


def test_a_crash_during_generation_answers_the_call_and_the_worker_comes_back(
    supervisor: ModelSupervisor, states: list[BackendState], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFILL_FAKE_TOKEN_S", "0.5")
    supervisor.start()
    first = supervisor.pid
    assert first is not None
    threading.Timer(0.3, os.kill, (first, signal.SIGSEGV)).start()
    with pytest.raises(ModelUnavailable, match=r"signal 11.*during a generation"):
        supervisor.generate([1], GenerationSpec(max_tokens=40))
    wait_until(lambda: supervisor.state.state == "ready")
    assert [state.state for state in states][-2:] == ["restarting", "ready"]
    assert supervisor.pid not in (None, first) and not alive(first)
    monkeypatch.setenv("INFILL_FAKE_TOKEN_S", "0")
    assert supervisor.generate([1], GenerationSpec(max_tokens=5)).text == "value"


def test_three_crashes_in_a_row_give_up_with_the_cause(
    supervisor: ModelSupervisor, states: list[BackendState]
) -> None:
    supervisor.start()
    supervisor.generate([1], GenerationSpec(max_tokens=5))  # answered: the count starts from here
    for _ in range(MAX_FAILURES_IN_ROW):
        wait_until(lambda: supervisor.state.state == "ready")
        pid = supervisor.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: supervisor.state.state in ("restarting", "failed"))
    assert supervisor.state.state == "failed"
    assert "killed (signal 9" in supervisor.state.message and "3 times in a row" in supervisor.state.message
    with pytest.raises(ModelUnavailable):
        supervisor.tokenize([PromptPiece("x", special=False)], add_bos=False)
    assert [state.state for state in states].count("restarting") == MAX_FAILURES_IN_ROW - 1


def test_an_answered_request_resets_the_count(supervisor: ModelSupervisor) -> None:
    supervisor.start()
    for _ in range(MAX_FAILURES_IN_ROW + 1):
        wait_until(lambda: supervisor.state.state == "ready")
        supervisor.tokenize([PromptPiece("x", special=False)], add_bos=False)
        pid = supervisor.pid
        assert pid is not None
        os.kill(pid, signal.SIGSEGV)
        wait_until(lambda: supervisor.state.state != "ready")
    wait_until(lambda: supervisor.state.state == "ready")


def test_a_crash_on_the_first_decode_is_reported_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFILL_FAKE_CRASH", "first-decode")
    states: list[BackendState] = []
    supervisor = ModelSupervisor(ModelOptions(), Path("fake.gguf"), states.append)
    with pytest.raises(ModelUnavailable) as raised:
        supervisor.start()
    message = str(raised.value)
    assert "llama.cpp crashed in its CPU backend (signal 11, SIGSEGV) during the first decode" in message
    assert ".ci/install" in message and "3 times in a row" in message
    assert [state.state for state in states] == ["restarting", "restarting", "failed"]


def test_a_model_that_cannot_load_fails_at_once_without_retries() -> None:
    states: list[BackendState] = []
    supervisor = ModelSupervisor(ModelOptions(), Path("model.bin"), states.append)
    with pytest.raises(ModelLoadError, match="not a GGUF model"):
        supervisor.start()
    assert [state.state for state in states] == ["failed"]


def test_a_hung_worker_is_killed_by_the_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFILL_FAKE_HANG", "generate")
    supervisor = ModelSupervisor(ModelOptions(), Path("fake.gguf"), hang_timeout_s=0.5)
    supervisor.start()
    pid = supervisor.pid
    assert pid is not None
    with pytest.raises(ModelUnavailable, match="stopped answering during a generation"):
        supervisor.generate([1], GenerationSpec(max_tokens=5, time_limit_s=0.1))
    wait_until(lambda: not alive(pid))
    supervisor.close()


def test_close_drains_refuses_new_calls_and_stops_the_worker(
    supervisor: ModelSupervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFILL_FAKE_TOKEN_S", "0.05")
    supervisor.start()
    pid = supervisor.pid
    assert pid is not None
    results: list[object] = []

    def call() -> None:
        try:
            results.append(supervisor.generate([1], GenerationSpec(max_tokens=40)))
        except ModelUnavailable as error:
            results.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    supervisor.close()
    thread.join(10)
    assert len(results) == 1  # answered: finished, cancelled or refused, never left hanging
    with pytest.raises(ModelUnavailable, match="closed"):
        supervisor.tokenize([PromptPiece("x", special=False)], add_bos=False)
    wait_until(lambda: not alive(pid), timeout=10)


def test_idle_unload_gives_the_memory_back_and_the_next_call_reloads(
    states: list[BackendState],
) -> None:
    supervisor = ModelSupervisor(ModelOptions(), Path("fake.gguf"), states.append, idle_unload_s=0.3)
    supervisor.start()
    pid = supervisor.pid
    assert pid is not None
    wait_until(lambda: supervisor.state.state == "idle")
    wait_until(lambda: not alive(pid))
    with pytest.raises(ModelUnavailable):  # the call that wakes it is not kept waiting for the load
        supervisor.tokenize([PromptPiece("x", special=False)], add_bos=False)
    wait_until(lambda: supervisor.state.state == "ready")
    assert supervisor.tokenize([PromptPiece("x", special=False)], add_bos=False) == [120]
    assert supervisor.pid != pid
    supervisor.close()


_ORPHAN_SCRIPT = """
import sys
from pathlib import Path
from completion.model import ModelOptions
from completion.supervisor import ModelSupervisor
supervisor = ModelSupervisor(ModelOptions(), Path("fake.gguf"))
supervisor.start()
print(supervisor.pid, flush=True)
sys.stdin.read()
"""


def test_no_worker_outlives_a_killed_parent() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        text=True,
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert alive(worker)
    parent.kill()  # SIGKILL: no atexit, no cleanup code runs in the parent
    parent.wait()
    killed = time.monotonic()
    wait_until(lambda: not alive(worker), timeout=5)
    assert time.monotonic() - killed < 2.0
