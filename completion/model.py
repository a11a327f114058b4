"""One loaded GGUF model behind one lock: load, tokenize, generate with KV-prefix reuse, close.

We drive llama.cpp token by token ourselves instead of `Llama.create_completion` because we need: our own FIM
prompts (its `suffix=` path is broken), special tokens that can never leak into text, cancellation and a time
budget checked between tokens, and an exact count of the prompt tokens that had to be evaluated.
"""

from __future__ import annotations

import codecs
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from completion.backend import (
    CancelFlag,
    Generation,
    GenerationSpec,
    ModelInfo,
    ModelLoadError,
    ModelUnavailable,
)
from completion.fim import (
    FimTemplate,
    PromptPiece,
    detect_template,
    injectable_texts,
    llama_token_lookup,
    missing_tokens,
    stop_token_ids,
    template_from_override,
    tokenize_pieces,
)
from completion.llama_build import llama_cpp_version
from completion.name_constraint import NameChoiceProcessor
from completion.token_healing import LogitsProcessor, VocabPieces, llama_piece, llama_vocabulary
from syntax.options import option

GGUF_MAGIC = b"GGUF"
_PROMPT_CHUNK = 128  # prompt tokens evaluated between checks of cancel and deadline


@dataclass
class ModelOptions:
    path: str = option(
        "", "Path to a GGUF model file. Empty: the embedded default model (Gemma 3 270M).", restricted=True
    )
    context_size: int = option(4096, "Context window in tokens.", minimum=256, maximum=131072)
    threads: int = option(0, "CPU threads for generation; 0 = all cores.", minimum=0)
    gpu_layers: int = option(0, "Layers to offload to a GPU (llama.cpp builds with GPU support).", minimum=-1)
    fim_template: str = option(
        "auto",
        "FIM template: 'auto' (detect from the model's vocabulary), 'none' (prefix-only), a "
        "family name (qwen2.5-coder, starcoder, deepseek-coder, codellama, codegemma, codestral) or "
        "'PREFIX,SUFFIX,MIDDLE[,STOP...]' token texts.",
    )
    idle_unload_minutes: int = option(
        0,
        "Stop the model worker after this many minutes without requests, giving its memory "
        "back; it starts again on the next request. 0: never.",
        minimum=0,
    )


def check_gguf_file(path: Path) -> None:
    """Fail early, in words, on a path that is missing, unreadable or not a GGUF file."""
    if not path.exists():
        raise ModelLoadError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelLoadError(f"model path is not a file: {path}")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise ModelLoadError(f"model file is not readable: {path}: {error.strerror}") from error
    if magic != GGUF_MAGIC:
        raise ModelLoadError(f"not a GGUF model (bad magic {magic!r}): {path}")


class ModelSession:
    """A llama.cpp model and context, used by one generation at a time (`lock`); it lives in the worker.

    Every method raises :class:`ModelUnavailable` once the session is closed, so a request that still holds
    a reference can never touch freed llama.cpp memory.
    """

    def __init__(self, llama: Any, options: ModelOptions, model_path: Path, threads: int) -> None:
        self._llama = llama
        self._vocab = llama._model.vocab
        self._closed = False
        self.lock = threading.Lock()
        self.special_token_id = llama_token_lookup(llama)
        metadata: dict[str, str] = dict(getattr(llama, "metadata", {}) or {})
        choice = options.fim_template.strip()
        warnings: list[str] = []
        if choice.lower() in ("", "auto"):
            fim = detect_template(self.special_token_id, metadata, self._token_text)
        elif choice.lower() == "none":
            fim = None
        else:
            fim = template_from_override(choice)
            if missing := missing_tokens(fim, self.special_token_id):
                raise ValueError(
                    f"FIM template {choice!r} names tokens this model does not have: {', '.join(missing)}"
                )
        if fim is not None and (injectable := injectable_texts(llama, fim)):
            warnings.append(
                "document text spelling "
                + ", ".join(injectable)
                + " would be read as control tokens by this "
                "model's tokenizer; such text reaches the prompt as plain text only where it is not typed"
            )
        self._stop_ids = stop_token_ids(fim, self.special_token_id) if fim else frozenset()
        self.info = ModelInfo(
            path=str(model_path),
            size_bytes=model_path.stat().st_size,
            name=metadata.get("general.name", model_path.stem),
            architecture=metadata.get("general.architecture", "unknown"),
            family=fim.family if fim else "prefix-only",
            fim=fim,
            context_size=llama.n_ctx(),
            threads=threads,
            n_vocab=llama.n_vocab(),
            end_of_middle=self._end_of_middle_token(fim),
            warnings=tuple(warnings),
        )
        self._healing = VocabPieces.from_pieces(*llama_vocabulary(llama))
        self._last_scored: tuple[list[int], list[int], list[float]] | None = None

    @classmethod
    def load(cls, options: ModelOptions, model_path: Path) -> ModelSession:
        check_gguf_file(model_path)
        try:
            import llama_cpp
        except ImportError as error:
            raise ModelLoadError(f"llama-cpp-python is not installed: {error}") from error
        threads = options.threads or os.cpu_count() or 1
        try:
            llama = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=options.context_size,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=options.gpu_layers,
                swa_full=True,  # sliding-window models (Gemma 3) keep a full cache so prefix reuse works
                verbose=False,
            )
        except Exception as error:  # llama.cpp reports load failures as ValueError/RuntimeError
            raise ModelLoadError(f"llama.cpp could not load {model_path}: {error}") from error
        try:
            return cls(llama, options, model_path, threads)
        except ValueError as error:  # a malformed fim_template override, or one naming foreign tokens
            llama.close()
            raise ModelLoadError(str(error)) from error

    def close(self) -> None:
        with self.lock:
            self._closed = True
            close = getattr(self._llama, "close", None)
            if close is not None:
                close()

    def _check_open(self) -> None:
        if self._closed:
            raise ModelUnavailable("the model was closed")

    # --- vocabulary -------------------------------------------------------------------------------------------

    def _token_text(self, token: int) -> str | None:
        return str(self._llama._model.token_get_text(token))

    def piece(self, token: int, special: bool = False) -> bytes:
        return llama_piece(self._vocab, token, special)

    def _end_of_middle_token(self, fim: FimTemplate | None) -> int | None:
        """The token a FIM model writes after a middle (the template's first stop token), else end of text."""
        for text in fim.stop if fim else ():
            token = self.special_token_id(text)
            if token is not None:
                return token
        eos = int(self._llama.token_eos())
        return eos if eos >= 0 else None

    def tokenize(self, pieces: Sequence[PromptPiece], add_bos: bool) -> list[int]:
        """Special pieces become their control ids; document text is tokenized with special=False."""
        self._check_open()
        bos = int(self._llama.token_bos()) if add_bos and self._llama._model.add_bos_token() else None
        return tokenize_pieces(self._llama, pieces, bos)

    def cached_prefix_length(self, tokens: Sequence[int]) -> int:
        cached = self._llama.input_ids[: self._llama.n_tokens]
        limit = min(len(cached), len(tokens))
        if limit == 0:
            return 0
        mismatch = np.flatnonzero(
            np.asarray(cached[:limit]) != np.asarray(tokens[:limit], dtype=cached.dtype)
        )
        return int(mismatch[0]) if mismatch.size else limit

    def forget_prompt(self) -> None:
        """Drop the KV cache so the next prompt is evaluated whole (the no-reuse baseline)."""
        self._check_open()
        self._llama.reset()
        self._llama._ctx.kv_cache_clear()

    def _evaluate_prompt(
        self, tokens: list[int], deadline: float | None = None, cancel: CancelFlag | None = None
    ) -> tuple[int, str | None]:
        """Bring the KV cache to `tokens`, reusing the longest cached prefix.

        Returns the tokens evaluated and why it stopped early ("cancelled"/"deadline"), checked between chunks
        of the prompt: a superseded request on a cold document stops within a chunk, and the chunks it did
        evaluate stay cached for the request that replaces it.
        """
        llama = self._llama
        reuse = min(
            self.cached_prefix_length(tokens), len(tokens) - 1
        )  # re-evaluate >= 1 token for fresh logits
        if reuse < llama.n_tokens and not llama._ctx.kv_cache_seq_rm(-1, reuse, -1):
            llama.reset()
            llama._ctx.kv_cache_clear()
            reuse = 0
        llama.n_tokens = reuse
        for start in range(reuse, len(tokens), _PROMPT_CHUNK):
            if start > reuse and (reason := _interrupted(deadline, cancel)):
                return start - reuse, reason
            llama.eval(tokens[start : start + _PROMPT_CHUNK])
        return len(tokens) - reuse, None

    def _last_logits(self) -> npt.NDArray[np.single]:
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self._llama._ctx.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.info.n_vocab,)).copy()

    def generate(
        self, tokens: list[int], spec: GenerationSpec, cancel: CancelFlag | None = None
    ) -> Generation:
        """Generate after `tokens`, checking cancel, the time limit and the stop rule between tokens.

        The caller must hold `lock`.
        """
        self._check_open()
        deadline = None if spec.time_limit_s is None else time.monotonic() + spec.time_limit_s
        llama = self._llama
        room = llama.n_ctx() - 1
        if len(tokens) >= room:
            tokens = tokens[-(room - spec.max_tokens) :]
        evaluated, interrupted = self._evaluate_prompt(tokens, deadline, cancel)
        if interrupted:
            return Generation("", 0.0, len(tokens), evaluated, 0, interrupted)
        processor: LogitsProcessor | None = None
        if spec.names:
            processor = NameChoiceProcessor(self._healing, spec.names)
        elif spec.healed:
            processor = self._healing.healing_processor(spec.healed)
        rng = np.random.default_rng(spec.seed) if spec.temperature > 0 else None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""
        logprob = 0.0
        generated = 0
        reason = "max_tokens"
        history = np.asarray(tokens, dtype=np.intc)
        while generated < spec.max_tokens:
            if interrupted := _interrupted(deadline, cancel):
                reason = interrupted
                break
            if llama.n_tokens >= room:
                reason = "context"
                break
            logits = self._last_logits()
            if processor is not None:
                logits = processor(history, logits)
            token, token_logprob = _choose(logits, spec.temperature, rng)
            if token in self._stop_ids or self._is_eog(token):
                reason = "eog"
                break
            piece = self.piece(token)
            if not piece and self.piece(token, special=True):
                reason = "special"  # a control token renders only with special=True: never show it
                break
            logprob += token_logprob
            generated += 1
            text += decoder.decode(piece)
            history = np.append(history, np.intc(token))
            if spec.stop is not None and spec.stop(text):
                reason = "stop"
                break
            llama.eval([token])
        text += decoder.decode(b"", final=True)
        return Generation(text, logprob, len(tokens), evaluated, generated, reason)

    def continuation_logprobs(self, context: list[int], continuation: Sequence[int]) -> list[float]:
        """log P(token | context, tokens before it) for each continuation token, reusing the KV cache.

        Ranks candidate suggestions by how likely the document is with each of them (the suggestion and the
        code after it), which a prefix-only model cannot otherwise take into account. Candidates that share a
        start with the one scored before (shorter cuts of one suggestion) only pay for where they differ.
        The caller holds ``lock``.
        """
        self._check_open()
        llama = self._llama
        room = llama.n_ctx() - 1
        continuation = list(continuation)[: max(0, room - 1)]
        if not continuation:
            return []
        if len(context) + len(continuation) > room:
            context = context[-(room - len(continuation)) :]
        known = self._known_logprobs(context, continuation)
        found = known + self._score_tokens(context + continuation[: len(known)], continuation[len(known) :])
        self._last_scored = (list(context), continuation, found)
        return found

    def _known_logprobs(self, context: list[int], continuation: list[int]) -> list[float]:
        """The leading log-probabilities shared with the last scored continuation of the same context."""
        if self._last_scored is None:
            return []
        last_context, last_continuation, last_found = self._last_scored
        if last_context != context:
            return []
        shared = 0
        for old, new in zip(last_continuation, continuation, strict=False):
            if old != new:
                break
            shared += 1
        return last_found[: min(shared, len(continuation) - 1)]

    def _score_tokens(self, context: list[int], tokens: list[int]) -> list[float]:
        """Log-probabilities of ``tokens`` after ``context``: one batch with logits at every position."""
        import llama_cpp

        llama = self._llama
        self._evaluate_prompt(context)  # no deadline: a score needs the whole context
        found = [_token_logprob(self._last_logits(), tokens[0])]
        feed = tokens[:-1]
        for start in range(0, len(feed), llama.n_batch):
            batch = feed[start : start + llama.n_batch]
            n_past = llama.n_tokens
            llama._batch.set_batch(batch=batch, n_past=n_past, logits_all=True)
            llama._ctx.decode(llama._batch)
            llama.input_ids[n_past : n_past + len(batch)] = batch
            llama.n_tokens = n_past + len(batch)
            for row in range(len(batch)):
                pointer = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, row)
                logits = np.ctypeslib.as_array(pointer, shape=(self.info.n_vocab,))
                found.append(_token_logprob(logits, tokens[start + row + 1]))
        return found

    def _is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    # --- self-checks and measurements (the worker runs them before it reports ready) ---------------------------

    def self_check(self) -> list[str]:
        """A one-token decode, then a check that prefix reuse works; returns warnings (never silently slow).

        Evaluating a prompt and then the same prompt plus one token must evaluate at most 2 tokens the second
        time; a llama-cpp-python whose cache removal fails (0.3.16 returns None) re-evaluates everything.
        """
        with self.lock:
            self._check_open()
            probe = self.tokenize([PromptPiece("def add(a, b):\n    return a + b\n", special=False)], True)
            self.forget_prompt()
            self.generate(probe, GenerationSpec(max_tokens=1))
            if not np.isfinite(self._last_logits()).all():
                raise ModelLoadError(
                    "llama.cpp's first decode gave non-finite scores (a broken build or model)"
                )
            extended = [*probe, *self.tokenize([PromptPiece("\n", special=False)], False)]
            self._evaluate_prompt(probe)
            again, _ = self._evaluate_prompt(extended)
            self.forget_prompt()
        warning = reuse_warning(again, len(extended))
        return [warning] if warning else []

    def measure_speed(self, prompt_tokens: int = 256, generated_tokens: int = 32) -> tuple[float, float]:
        """Prompt and generation tokens per second on this model (for `infill-ls doctor`)."""
        with self.lock:
            self._check_open()
            line = self.tokenize([PromptPiece("value = compute(value, 3) + 1\n", special=False)], False)
            prompt = (line * (prompt_tokens // max(1, len(line)) + 1))[:prompt_tokens]
            self.forget_prompt()
            started = time.perf_counter()
            self._evaluate_prompt(prompt)
            prompt_seconds = time.perf_counter() - started
            started = time.perf_counter()
            generation = self.generate(prompt, GenerationSpec(max_tokens=generated_tokens))
            generation_seconds = time.perf_counter() - started
            self.forget_prompt()
        return len(prompt) / prompt_seconds, max(1, generation.tokens_generated) / generation_seconds


def reuse_warning(evaluated_again: int, total: int) -> str | None:
    """The prefix-reuse self-check's verdict: a prompt extended by one token must cost at most 2 tokens."""
    if evaluated_again <= 2:
        return None
    return (
        f"prefix reuse does not work with llama-cpp-python {llama_cpp_version()}: every request re-evaluates "
        f"its whole prompt ({evaluated_again} of {total} tokens in the self-check); install the pinned version "
        "with .ci/install"
    )


def _interrupted(deadline: float | None, cancel: CancelFlag | None) -> str | None:
    if cancel is not None and cancel.is_set():
        return "cancelled"
    if deadline is not None and time.monotonic() > deadline:
        return "deadline"
    return None


def _token_logprob(logits: npt.NDArray[np.single], token: int) -> float:
    top = float(np.max(logits))
    return float(logits[token]) - top - math.log(float(np.sum(np.exp(logits - top), dtype=np.float64)))


def _choose(
    logits: npt.NDArray[np.single], temperature: float, rng: np.random.Generator | None
) -> tuple[int, float]:
    """Greedy (temperature 0) or top-k sampled token, with its log-probability under the model."""
    finite_max = float(np.max(logits))
    shifted = logits.astype(np.float64) - finite_max
    log_norm = math.log(float(np.sum(np.exp(shifted))))
    if temperature <= 0 or rng is None:
        token = int(np.argmax(logits))
    else:
        top = np.argpartition(logits, -40)[-40:]
        weights = np.exp((logits[top].astype(np.float64) - finite_max) / temperature)
        token = int(top[rng.choice(len(top), p=weights / weights.sum())])
    return token, float(shifted[token] - log_norm)


def model_path_for(options: ModelOptions) -> Path:
    """The configured model file, or the embedded default model (assembled on first use)."""
    if options.path.strip():
        return Path(os.path.expandvars(options.path.strip())).expanduser()
    from completion.default_model import DefaultModelError, default_model_path

    try:
        return default_model_path()
    except DefaultModelError as error:
        raise ModelLoadError(str(error)) from error


def llama_cpp_problem() -> str | None:
    """Why llama-cpp-python cannot be used here, or None."""
    try:
        import llama_cpp  # noqa: F401
    except Exception as error:  # ImportError, or OSError from a broken shared library
        return f"llama-cpp-python cannot be imported: {error}"
    return None
