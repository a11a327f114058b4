"""A scripted model session for the real worker process (``INFILL_LS_WORKER_SESSION=tests.worker.fakes:load``).

The worker, its queue, cancel, the supervisor and the server all run for real; only llama.cpp is replaced, so
tests can make a generation take seconds, crash the worker at a chosen moment, hang it, or fail the
prefix-reuse self-check. Behaviour comes from environment variables, which the worker inherits:

- ``INFILL_FAKE_TEXT``: what a generation writes (default ``"value = 1\\n"``), one character per token;
- ``INFILL_FAKE_TOKEN_S``: seconds per generated token (default 0);
- ``INFILL_FAKE_CRASH``: ``first-decode`` (SIGSEGV in the self-check), ``generate`` (SIGSEGV when a generation
  starts) or ``load`` (exit 3 while loading);
- ``INFILL_FAKE_HANG``: ``generate`` makes generations ignore cancel and never return;
- ``INFILL_FAKE_NO_REUSE``: ``1`` makes the prefix-reuse self-check fail;
- ``INFILL_FAKE_LOAD_GATE``: a path; loading waits until that file exists (a load as slow as a test wants);
- ``INFILL_FAKE_PROMPT_TOKEN_S``: the seconds per prompt token ``prompt_cost`` reports (unset: None, untimed).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from completion.backend import CancelFlag, Generation, GenerationSpec, ModelInfo, ModelLoadError, PromptCost
from completion.fim import PromptPiece
from completion.model import reuse_warning

SESSION_ENV = {"INFILL_LS_WORKER_SESSION": "tests.worker.fakes:load"}


def _crash_if(moment: str) -> None:
    if os.environ.get("INFILL_FAKE_CRASH") == moment:
        os.kill(os.getpid(), signal.SIGSEGV)


class FakeSession:
    def __init__(self, path: Path) -> None:
        self.lock = threading.Lock()
        self.info = ModelInfo(
            path=str(path),
            size_bytes=0,
            name="Fake model",
            architecture="fake",
            family="prefix-only",
            fim=None,
            context_size=4096,
            threads=1,
            n_vocab=0x110000,
        )
        self.text = os.environ.get("INFILL_FAKE_TEXT", "value = 1\n")
        self.token_s = float(os.environ.get("INFILL_FAKE_TOKEN_S", "0"))
        self.cached: list[int] = []

    def self_check(self) -> list[str]:
        _crash_if("first-decode")
        probe = [1, 2, 3, 4]
        again = len(probe) + 1 if os.environ.get("INFILL_FAKE_NO_REUSE") == "1" else 1
        warning = reuse_warning(again, len(probe) + 1)
        return [warning] if warning else []

    def tokenize(self, pieces: Sequence[PromptPiece], add_bos: bool) -> list[int]:
        return [ord(char) for piece in pieces for char in piece.text]

    def generate(
        self, tokens: list[int], spec: GenerationSpec, cancel: CancelFlag | None = None
    ) -> Generation:
        _crash_if("generate")
        if os.environ.get("INFILL_FAKE_HANG") == "generate":
            while True:
                time.sleep(1)
        reused = self._cached_prefix(tokens)
        self.cached = list(tokens)
        text = ""
        for char in self.text[: spec.max_tokens]:
            if cancel is not None and cancel.is_set():
                return Generation(text, 0.0, len(tokens), len(tokens) - reused, len(text), "cancelled")
            time.sleep(self.token_s)
            text += char
            if spec.stop is not None and spec.stop(text):
                return Generation(text, -1.0, len(tokens), len(tokens) - reused, len(text), "stop")
        return Generation(text, -1.0, len(tokens), len(tokens) - reused, len(text), "eog")

    def _cached_prefix(self, tokens: list[int]) -> int:
        shared = next((n for n, (a, b) in enumerate(zip(self.cached, tokens, strict=False)) if a != b), None)
        return min(len(self.cached), len(tokens)) if shared is None else shared

    def continuation_logprobs(self, context: list[int], continuation: Sequence[int]) -> list[float]:
        return [-1.0 for _ in continuation]

    def prompt_cost(self, tokens: list[int]) -> PromptCost:
        uncached = len(tokens) - self._cached_prefix(tokens)
        token_s = os.environ.get("INFILL_FAKE_PROMPT_TOKEN_S")
        return PromptCost(uncached, None if token_s is None else uncached * float(token_s))

    def forget_prompt(self) -> None:
        self.cached = []

    def measure_speed(self, prompt_tokens: int, generated_tokens: int) -> tuple[float, float]:
        return 1000.0, 100.0


def load(options: Any, path: Path) -> FakeSession:
    if os.environ.get("INFILL_FAKE_CRASH") == "load":
        os._exit(3)
    if not str(path).endswith(".gguf"):
        raise ModelLoadError(f"not a GGUF model: {path}")
    gate = os.environ.get("INFILL_FAKE_LOAD_GATE")
    while gate and not os.path.exists(gate):
        time.sleep(0.01)
    return FakeSession(path)
