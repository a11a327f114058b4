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
    # speculative decoding (completion.speculative): batches that verified drafts, draft tokens in them, those
    # that became output, and tokens decoded again one by one at near ties (the text is the same as without)
    verify_batches: int = 0
    drafted_tokens: int = 0
    accepted_tokens: int = 0
    redecoded_tokens: int = 0
    restored_tokens: int = 0  # prompt tokens a saved state supplied (completion.state_cache)


@dataclass(frozen=True)
class PromptCost:
    """What evaluating a prompt would cost now: the tokens no cached model state holds (the current KV cache or
    a saved one) and the model's estimate of their seconds (None: no prompt has been timed yet)."""

    uncached_tokens: int
    seconds: float | None


@dataclass(frozen=True)
class StopRule:
    """When to stop generating, as data the worker can unpickle: ``syntax.shape.stops`` judges the text so far
    (after ``skip_chars`` re-typed healing characters) by ``kind``, ``indent``, ``max_lines``,
    ``statement_limit`` and ``below``; ``kind``: "line", "newline" or "block".
    """

    kind: str = "line"
    skip_chars: int = 0
    indent: str = ""
    max_lines: int = 12
    statement_limit: int | None = None
    below: str | None = None  # "block": the document's next non-blank line

    def __call__(self, text: str) -> bool:
        from syntax.shape import stops  # imported on first use: this module stays free of tree-sitter

        return stops(
            text[self.skip_chars :], self.kind, self.indent, self.max_lines, self.statement_limit, self.below
        )


@dataclass(frozen=True)
class GenerationSpec:
    """One generation as data: the worker builds the stop check and the token-healing mask from it."""

    max_tokens: int
    stop: StopRule | None = None
    temperature: float = 0.0
    seed: int = 0
    healed: bytes = b""  # generation must start by re-typing these bytes (token healing)
    names: tuple[bytes, ...] = ()  # generation must start with one of these, then a non-name byte
    # (completion.name_constraint: the healed bytes and a known member's name; () = unconstrained)
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

    def prompt_cost(self, prompt: Prompt) -> PromptCost:
        """What generating after ``prompt`` would first have to evaluate (the caller holds ``lock``); a remote
        backend, which cannot tell, says 0 tokens and None seconds."""
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

    def prompt_cost(self, tokens: list[int]) -> PromptCost: ...

    def forget_prompt(self) -> None: ...

    def close(self) -> None: ...
