"""A local model (token level) as the engine's prompt-level :class:`completion.backend.ModelBackend`.

The engine speaks prompts and texts so that remote servers, which tokenize for themselves, fit the same seam;
a local model needs the prompt as token ids. This adapter tokenizes each prompt once per request (all of a
request's candidates and scores share it) and leaves everything else to the token model.
"""

from __future__ import annotations

import threading
from typing import cast

from completion.backend import (
    CancelFlag,
    Generation,
    GenerationSpec,
    ModelBackend,
    ModelInfo,
    PromptCost,
    TokenModel,
)
from completion.fim import PromptPiece
from completion.prompt import Prompt


class LocalBackend:
    def __init__(self, model: TokenModel) -> None:
        self.model = model
        self.lock: threading.Lock = model.lock
        self._tokenized: tuple[tuple[PromptPiece, ...], list[int]] | None = None

    @property
    def info(self) -> ModelInfo:
        return self.model.info

    def _tokens(self, prompt: Prompt) -> list[int]:
        """The prompt's ids; the caller holds ``lock``, so the one-entry memo needs no lock of its own."""
        if self._tokenized is None or self._tokenized[0] != prompt.pieces:
            self._tokenized = (prompt.pieces, self.model.tokenize(prompt.pieces, add_bos=True))
        return self._tokenized[1]

    def generate(
        self, prompt: Prompt, spec: GenerationSpec, cancel: CancelFlag | None = None, start: str = ""
    ) -> Generation:
        tokens = self._tokens(prompt)
        if start:
            tokens = tokens + self.model.tokenize([PromptPiece(start, special=False)], add_bos=False)
        return self.model.generate(tokens, spec, cancel)

    def score(self, prompt: Prompt, continuation: str, ends: bool) -> float | None:
        ids = self.model.tokenize([PromptPiece(continuation, special=False)], add_bos=False)
        end_token = self.model.info.end_of_middle
        if ends and end_token is not None:
            ids.append(end_token)
        return sum(self.model.continuation_logprobs(self._tokens(prompt), ids))

    def prompt_cost(self, prompt: Prompt) -> PromptCost:
        return self.model.prompt_cost(self._tokens(prompt))

    def forget_prompt(self) -> None:
        self.model.forget_prompt()

    def close(self) -> None:
        self._tokenized = None
        self.model.close()


def as_backend(model: ModelBackend | TokenModel | None) -> ModelBackend | None:
    """A backend for the engine: prompt-level backends as they are, token models behind a LocalBackend."""
    if model is None or hasattr(model, "score"):
        return cast("ModelBackend | None", model)
    return LocalBackend(model)
