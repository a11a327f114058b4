"""The one interface every model call goes through, and the plain data that crosses it.

The engine talks to a :class:`ModelBackend`, at the level of prompts and texts: a local model
(:class:`completion.local_backend.LocalBackend` over a :class:`TokenModel`: the supervised worker process of
``completion.supervisor`` in the server and the CLI, or an in-process :class:`completion.model.ModelSession` in
tests and benchmarks) or a remote inference server (``completion.remote``). Everything a call needs travels as
data (stop rules, sampling, token-healing bytes, a time limit), never as callbacks, so the model can live in
another process or on another machine.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from completion.fim import FimTemplate, PromptPiece
from completion.prompt import Prompt


class ModelLoadError(RuntimeError):
    """A model file could not be used; the message says why in words a user can act on."""


class ModelUnavailable(RuntimeError):
    """The model cannot answer now (its worker is down, restarting, idle or closed): show nothing, keep going."""


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class ModelInfo:
    path: str
    size_bytes: int
    name: str
    architecture: str
    family: str  # the FIM family, or "prefix-only"
    fim: FimTemplate | None
    context_size: int
    threads: int
    n_vocab: int
    end_of_middle: int | None = None  # the token that ends a middle (FIM) or the text (prefix-only)
    warnings: tuple[str, ...] = ()  # self-check findings that do not stop the model (slow, unsafe text)
    api: str = "local"  # "local", or the remote API in use: "llama-server" | "openai" | "ollama"
    heals: bool = True  # generation can re-type held-back bytes (token healing); remote APIs cannot
    scores: bool = True  # ModelBackend.score works (likelihood ranking of candidates)
    logprobs: bool = True  # Generation.logprob is the model's own (remote APIs that return none: 0.0)


@dataclass(frozen=True)
class BackendState:
    """What a backend reports as it changes: "starting" | "ready" | "restarting" | "idle" | "failed" |
    "closed" (the local worker), "ready" | "failed" (a remote server: one "failed" per failure episode)."""

    state: str
    message: str
    pid: int | None = None
    restarts: int = 0


@dataclass(frozen=True)
class Generation:
    text: str
    logprob: float  # sum of the chosen tokens' log-probabilities
    tokens_prompt: int
    tokens_evaluated: int  # prompt tokens that were not already in the KV cache
    tokens_generated: int
    stop_reason: str  # "eog" | "special" | "stop" | "max_tokens" | "deadline" | "cancelled" | "context"


@dataclass(frozen=True)
class StopRule:
    """When to stop generating, judged on the text so far (after ``skip_chars`` re-typed healing characters).

    ``kind``: "line" stops at the end of the first non-blank line, "newline" at the first newline, "block" at a
    dedent below ``indent``, past ``max_lines`` lines, or (between existing statements, ``statement_limit``) once
    more statements start at the first line's level than could be shown.
    """

    kind: str = "line"
    skip_chars: int = 0
    indent: str = ""
    max_lines: int = 12
    statement_limit: int | None = None

    def __call__(self, text: str) -> bool:
        from completion.postprocess import continues_statement
        from syntax.checks import indentation_of

        text = text[self.skip_chars :]
        if self.kind == "newline":
            return "\n" in text
        if self.kind == "line":
            return "\n" in text.lstrip()
        complete = text.split("\n")[:-1]
        if len(complete) > self.max_lines:
            return True
        if any(line.strip() and not line.startswith(self.indent) for line in complete[1:]):
            return True
        code = [line for line in complete if line.strip()]
        if self.statement_limit is None or not code:
            return False
        level = indentation_of(code[0])
        starts = sum(indentation_of(line) == level and not continues_statement(line, None) for line in code)
        return starts > self.statement_limit


@dataclass(frozen=True)
class GenerationSpec:
    """One generation as data: the worker builds the stop check and the token-healing mask from it."""

    max_tokens: int
    stop: StopRule | None = None
    temperature: float = 0.0
    seed: int = 0
    healed: bytes = b""  # generation must start by re-typing these bytes (token healing)
    time_limit_s: float | None = None  # what is left of the request's budget when the call is made
    ranked: bool = (
        True  # candidates will be ranked by their log-probabilities (a remote API then returns them)
    )


class ModelBackend(Protocol):
    """What the engine needs of a model, local or remote. ``lock`` is held for a whole request, so its calls
    run together (and reuse each other's KV cache). Every call may raise :class:`ModelUnavailable`."""

    lock: threading.Lock

    @property
    def info(self) -> ModelInfo: ...

    def generate(
        self, prompt: Prompt, spec: GenerationSpec, cancel: CancelFlag | None = None, start: str = ""
    ) -> Generation:
        """A middle for ``prompt``; with ``start``, the continuation of that forced start (not included)."""
        ...

    def score(self, prompt: Prompt, continuation: str, ends: bool) -> float | None:
        """Log-likelihood of ``continuation`` after ``prompt`` (plus the end-of-middle token when ``ends``);
        None when this backend cannot score (``info.scores`` is false)."""
        ...

    def forget_prompt(self) -> None: ...

    def close(self) -> None: ...


class TokenModel(Protocol):
    """A local model at the level of token ids: the worker's supervisor, or an in-process session."""

    lock: threading.Lock

    @property
    def info(self) -> ModelInfo: ...

    def tokenize(self, pieces: Sequence[PromptPiece], add_bos: bool) -> list[int]: ...

    def generate(
        self, tokens: list[int], spec: GenerationSpec, cancel: CancelFlag | None = None
    ) -> Generation: ...

    def continuation_logprobs(self, context: list[int], continuation: Sequence[int]) -> list[float]: ...

    def forget_prompt(self) -> None: ...

    def close(self) -> None: ...
