"""One loaded GGUF model behind one lock: load, tokenize, generate with KV-prefix reuse, close.

We drive llama.cpp token by token ourselves instead of `Llama.create_completion` because we need: our own FIM
prompts (its `suffix=` path is broken), special tokens that can never leak into text, cancellation and a time
budget checked between tokens, an exact count of the prompt tokens that had to be evaluated, and greedy
generation that verifies drafts in batches without changing a token (`completion.speculative`).
"""

from __future__ import annotations

import codecs
import ctypes
import dataclasses
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
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
    PromptCost,
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
from completion.speculative import (
    Acceptance,
    Speculation,
    SpeculationCounts,
    confident,
    lookup_draft,
    settled,
    vocabulary_mismatch,
)
from completion.state_cache import (
    MIN_LOST_TOKENS,
    SavedState,
    StateCache,
    Tokens,
    as_tokens,
    lost_tokens,
    shared_prefix,
)
from completion.token_healing import LogitsProcessor, VocabPieces, llama_piece, llama_vocabulary
from syntax.options import option

GGUF_MAGIC = b"GGUF"
_PROMPT_CHUNK = 32
"""Prompt tokens evaluated between checks of cancel and the deadline: a request that stops background work
(warm-up) waits for at most one chunk (~115 ms on the default model on 2 cores; 128 made the session replay's
open and switch wait up to ~450 ms). A 640-token prompt took 2.0-2.3 s in chunks of 32 and 64, 2.6-3.1 s in
chunks of 16 (measured on a quiet machine): 32 halves the wait for little throughput."""
_PROBE_ROWS = 4  # rows of the verify batch timed at load (ModelSession._batches_can_pay)
_PAYING_ROW_COST = 0.5  # ... which must cost under this many one-token decodes a row for drafting to pay
_RESTORE_MIN_GAIN = 16
"""A saved state is restored only where it holds more than this many prompt tokens beyond the live cache: a
restore costs ~3 ms for a 700-token state on the default model on 2 cores (about one token's evaluation) and
~1-2 ms on a GPU, where a token costs ~0.1-0.2 ms in a batch; once both are measured, the measured costs decide
above this floor."""
_SCORED_KEPT = 16  # continuations of one context whose scores are kept: a request's candidates and their cuts
_TIMED_PROMPT_MIN = 32  # evaluations of fewer tokens are too short to time the prompt throughput
_SPEED_WEIGHT = 0.3  # the weight of the newest measurement in the running throughput estimates


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
    draft_path: str = option(
        "",
        "Path to a small GGUF model with the main model's vocabulary that drafts tokens "
        "for the main model to verify in batches (speculative decoding: the same suggestions, sooner "
        "where the draft model guesses well; it turns itself off where it does not pay). Empty: none.",
        restricted=True,
    )
    idle_unload_minutes: int = option(
        0,
        "Stop the model worker after this many minutes without requests, giving its memory "
        "back; it starts again on the next request. 0: never.",
        minimum=0,
    )
    state_cache_mb: int = option(
        256,
        "Keep the evaluated prompt state of recently used documents in up to this many MB of memory, so "
        "switching back to a document evaluates only what changed. 0: off.",
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
        self.vocabulary = llama_vocabulary(llama)
        self._healing = VocabPieces.from_pieces(*self.vocabulary)
        self._scored: tuple[tuple[list[int], list[int], list[float]], ...] = ()
        """The continuations scored last (for one context: a request's candidates), the newest last: the ranking
        scores each generation's longest form before the shorter cuts, so a cut's start was scored, not last."""
        self._draft_model: ModelSession | None = None
        self.speculation: Speculation | None = Speculation(with_draft_model=False)
        """Drafting's record in this session (None: greedy generation never drafts, as after a cache that
        could not drop its end)."""
        self.state_cache: StateCache | None = (
            StateCache(options.state_cache_mb << 20)
            if options.state_cache_mb > 0 and _cache_can_drop_its_end(llama)
            else None
        )
        """Saved states of the prompts evaluated before the live one (None: off, as for a cache that cannot
        drop its end: a restored state could not be cut back to a prefix)."""
        self.state_window = _sliding_window(llama)
        """A sliding-window model's window (None: none). llama.cpp leaves the cells a sequence's window has
        passed out of its saved state, so a saved state longer than the window holds too little to be cut back
        to a shorter prefix (restored, then cut, it gave logits off by 2-7 on the default model, whose window is
        512 tokens): such a model saves the window's first tokens only, restored bit for bit."""
        self._prompt_end = 0  # the live cache's prompt tokens (input_ids beyond it were generated or scored)
        self._restored_tokens = 0  # prompt tokens a saved state supplied to the last _evaluate_prompt
        self._prompt_seconds_per_token: float | None = None  # measured prompt throughput (running estimate)
        self._restore_seconds_per_byte: float | None = None  # measured cost of restoring a saved state

    @classmethod
    def load(cls, options: ModelOptions, model_path: Path) -> ModelSession:
        """The model at ``model_path``, and the draft model of ``options.draft_path`` if one is set."""
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
            session = cls(llama, options, model_path, threads)
        except ValueError as error:  # a malformed fim_template override, or one naming foreign tokens
            llama.close()
            raise ModelLoadError(str(error)) from error
        if options.draft_path.strip():
            try:
                session._attach_draft_model(options)
            except ModelLoadError:
                session.close()
                raise
        return session

    def _attach_draft_model(self, options: ModelOptions) -> None:
        """Load the draft model (its own context, as long as this one's) and check it shares our vocabulary."""
        path = Path(os.path.expandvars(options.draft_path.strip())).expanduser()
        try:
            draft = ModelSession.load(
                dataclasses.replace(options, path=str(path), draft_path="", state_cache_mb=0), path
            )
        except ModelLoadError as error:
            raise ModelLoadError(f"draft model: {error}") from error
        if mismatch := vocabulary_mismatch(self._spelled_vocabulary(), draft._spelled_vocabulary()):
            draft.close()
            raise ModelLoadError(f"draft model {path} does not fit {self.info.path}: {mismatch}")
        draft.speculation = None  # a draft model drafts for others, never for itself
        self._draft_model = draft
        self.speculation = Speculation(with_draft_model=True)

    def _spelled_vocabulary(self) -> tuple[list[bytes], list[bool]]:
        """Every token's piece, special tokens spelled out (``<|fim_prefix|>``: their plain piece is empty)."""
        pieces, special = self.vocabulary
        spelled = [
            self.piece(token, special=True) if flag else piece
            for token, (piece, flag) in enumerate(zip(pieces, special, strict=True))
        ]
        return spelled, special

    def close(self) -> None:
        with self.lock:
            self._closed = True
            if self.state_cache is not None:
                self.state_cache.clear()
            close = getattr(self._llama, "close", None)
            if close is not None:
                close()
        if self._draft_model is not None:
            self._draft_model.close()

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
        """How many leading ``tokens`` the KV cache already holds."""
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
        self._prompt_end = 0
        if self.state_cache is not None:
            self.state_cache.clear()
        if self._draft_model is not None:
            self._draft_model.forget_prompt()

    def _evaluate_prompt(
        self, tokens: list[int], deadline: float | None = None, cancel: CancelFlag | None = None
    ) -> tuple[int, str | None]:
        """Bring the KV cache to `tokens`, reusing the longest cached prefix.

        Returns the tokens evaluated and why it stopped early ("cancelled"/"deadline"), checked between chunks
        of the prompt: a superseded request on a cold document stops within a chunk, and the chunks it did
        evaluate stay cached for the request that replaces it. With the state cache, the live cache is saved
        before another document's prompt replaces it, and a saved state that holds more of ``tokens`` than the
        live cache is restored first (``_restored_tokens``).
        """
        llama = self._llama
        self._restored_tokens = 0
        reuse = min(
            self.cached_prefix_length(tokens), len(tokens) - 1
        )  # re-evaluate >= 1 token for fresh logits
        if self.state_cache is not None:
            reuse = self._switch_state(self.state_cache, tokens, reuse)
        if reuse < llama.n_tokens and not llama._ctx.kv_cache_seq_rm(-1, reuse, -1):
            self.state_cache = None  # a cache that cannot drop its end cannot be cut back to a saved prefix
            llama.reset()
            llama._ctx.kv_cache_clear()
            reuse = 0
        llama.n_tokens = reuse
        self._prompt_end = len(tokens)
        started = time.perf_counter()
        for start in range(reuse, len(tokens), _PROMPT_CHUNK):
            if start > reuse and (reason := _interrupted(deadline, cancel)):
                self._time_prompt(start - reuse, time.perf_counter() - started)
                return start - reuse, reason
            llama.eval(tokens[start : start + _PROMPT_CHUNK])
        self._time_prompt(len(tokens) - reuse, time.perf_counter() - started)
        return len(tokens) - reuse, None

    def _time_prompt(self, evaluated: int, seconds: float) -> None:
        if evaluated >= _TIMED_PROMPT_MIN:
            self._prompt_seconds_per_token = _running(self._prompt_seconds_per_token, seconds / evaluated)

    # --- the state cache: saved states of earlier prompts (completion.state_cache) --------------------------

    def _switch_state(self, cache: StateCache, tokens: list[int], reuse: int) -> int:
        """Save the live cache if ``tokens`` would lose it, and restore the saved state that holds more of
        ``tokens`` where one pays; returns how many leading ``tokens`` the cache now holds (at most all but one).
        """
        wanted = as_tokens(tokens)
        choice = self._restore_choice(cache, wanted, reuse)
        if choice is not None:
            cache.touch(choice[0])  # the save below must not evict it
        self._save_leaving(cache, wanted)
        if choice is None:
            return reuse
        restored = self._restore(choice[0])
        if not restored:
            cache.discard(choice[0])
        held = min(self.cached_prefix_length(tokens), len(tokens) - 1)
        if restored:
            self._restored_tokens = held
        return held

    def _restore_choice(self, cache: StateCache, wanted: Tokens, reuse: int) -> tuple[SavedState, int] | None:
        """The saved state worth restoring for ``wanted`` over the live cache's ``reuse`` tokens, and how many
        leading tokens of ``wanted`` it would supply; None when restoring would not pay."""
        entry, shared = cache.best(wanted)
        shared = min(shared, len(wanted) - 1)
        gain = shared - reuse
        if entry is None or gain <= _RESTORE_MIN_GAIN:
            return None
        restore_seconds = self._restore_seconds(entry.size)
        per_token = self._prompt_seconds_per_token
        if per_token is not None and restore_seconds is not None and restore_seconds >= gain * per_token:
            return None
        return entry, shared

    def _restore_seconds(self, size: int) -> float | None:
        return None if self._restore_seconds_per_byte is None else size * self._restore_seconds_per_byte

    def _save_leaving(self, cache: StateCache, wanted: Tokens) -> None:
        """Save the live cache's prompt before ``wanted`` replaces it, where ``wanted`` would lose at least
        ``MIN_LOST_TOKENS`` of it (another document, another place; never typing at the cursor) and no saved
        state holds it already. Only the prompt is saved: the generated tokens after it were never part of a
        prompt (and batches of drafts put them in with batch rounding, ARCHITECTURE.md), and a save happens
        only where ``wanted`` drops them anyway."""
        llama = self._llama
        end = min(self._prompt_end, int(llama.n_tokens))
        if end == 0:
            return
        old = as_tokens(llama.input_ids[:end])
        if lost_tokens(old, wanted) < MIN_LOST_TOKENS:
            return
        window = self.state_window
        if window is not None and end > window:
            if shared_prefix(old, wanted) > window:
                return  # cutting the live cache back to the window would lose what ``wanted`` reuses of it
            end, old = window, old[:window]
        if (holding := cache.holding(old)) is not None:
            cache.touch(holding)
            return
        if end < llama.n_tokens:
            if not llama._ctx.kv_cache_seq_rm(-1, end, -1):
                return
            llama.n_tokens = end
        data = self._state_bytes(cache.limit_bytes)
        if data is not None:
            cache.save(old, data)

    def _state_bytes(self, limit: int) -> bytearray | None:
        """The live cache's state (sequence 0) as bytes; None when it is over ``limit`` or cannot be saved."""
        import llama_cpp

        context = self._llama._ctx.ctx
        size = int(llama_cpp.llama_state_seq_get_size(context, 0))
        if size == 0 or size > limit:
            return None
        data = bytearray(size)
        written = int(
            llama_cpp.llama_state_seq_get_data(context, (ctypes.c_uint8 * size).from_buffer(data), size, 0)
        )
        if written == 0:
            return None
        del data[written:]
        return data

    def _restore(self, entry: SavedState) -> bool:
        """Replace the live cache with ``entry``'s state (False: llama.cpp refused it; the cache is empty)."""
        import llama_cpp

        llama = self._llama
        started = time.perf_counter()
        llama.reset()
        llama._ctx.kv_cache_clear()
        buffer = (ctypes.c_uint8 * entry.size).from_buffer(entry.data)
        if not llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, entry.size, 0):
            llama._ctx.kv_cache_clear()
            return False
        count = len(entry.tokens)
        llama.input_ids[:count] = entry.tokens
        llama.n_tokens = count
        self._prompt_end = count
        self._restore_seconds_per_byte = _running(
            self._restore_seconds_per_byte, (time.perf_counter() - started) / entry.size
        )
        return True

    def prompt_cost(self, tokens: list[int]) -> PromptCost:
        """What `_evaluate_prompt` would evaluate for ``tokens`` now (the best of the live cache and the saved
        states; at least one token, for fresh scores), and its seconds at this session's measured prompt
        throughput, a restore included (None until a prompt was timed). The caller holds ``lock``."""
        self._check_open()
        room = self._llama.n_ctx() - 1
        tokens = tokens[-room:] if len(tokens) >= room else tokens
        if not tokens:
            return PromptCost(0, 0.0)
        reuse = min(self.cached_prefix_length(tokens), len(tokens) - 1)
        extra_seconds = 0.0
        if self.state_cache is not None:
            choice = self._restore_choice(self.state_cache, as_tokens(tokens), reuse)
            if choice is not None:
                reuse = choice[1]
                extra_seconds = self._restore_seconds(choice[0].size) or 0.0
        uncached = len(tokens) - reuse
        per_token = self._prompt_seconds_per_token
        return PromptCost(uncached, None if per_token is None else uncached * per_token + extra_seconds)

    def _last_logits(self) -> npt.NDArray[np.single]:
        return self._logits_at(-1)

    def _logits_at(self, row: int) -> npt.NDArray[np.single]:
        """A copy of the scores at ``row`` of the last decoded batch (-1: its last row)."""
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self._llama._ctx.ctx, row)
        return np.ctypeslib.as_array(pointer, shape=(self.info.n_vocab,)).copy()

    def _logits_processor(self, spec: GenerationSpec) -> LogitsProcessor | None:
        if spec.names:
            return NameChoiceProcessor(self._healing, spec.names)
        if spec.healed:
            return self._healing.healing_processor(spec.healed)
        return None

    def _ending(self, token: int) -> str | None:
        """Why ``token`` ends generation without being shown ("eog", "special"), or None."""
        if token in self._stop_ids or self._is_eog(token):
            return "eog"
        if not self.piece(token) and self.piece(token, special=True):
            return "special"  # a control token renders only with special=True: never show it
        return None

    def generate(
        self, tokens: list[int], spec: GenerationSpec, cancel: CancelFlag | None = None
    ) -> Generation:
        """Generate after `tokens`, checking cancel, the time limit and the stop rule between decodes.

        Greedy generation verifies drafts in batches where that pays (`completion.speculative`), with the
        plain one-token loop's output, token for token. The caller must hold `lock`.
        """
        self._check_open()
        deadline = None if spec.time_limit_s is None else time.monotonic() + spec.time_limit_s
        llama = self._llama
        room = llama.n_ctx() - 1
        if len(tokens) >= room:
            tokens = tokens[-(room - spec.max_tokens) :]
        evaluated, interrupted = self._evaluate_prompt(tokens, deadline, cancel)
        restored = self._restored_tokens
        if interrupted:
            return Generation("", 0.0, len(tokens), evaluated, 0, interrupted, restored_tokens=restored)
        decoding = _Decoding(spec, tokens, self._logits_processor(spec), self.piece, self._ending)
        greedy = spec.temperature <= 0
        counts = SpeculationCounts()
        pending: int | None = None  # the token chosen last: in the text, not yet in the KV cache
        alone = False  # a batch was unsure of the position after `pending`: decode it alone
        exact = llama.n_tokens  # the cache up to here holds what the plain loop would (no batch rounding)
        last_source: Acceptance | None = None  # the source whose batches rounded the cache after `exact`
        while decoding.reason is None and decoding.generated < spec.max_tokens:
            if interrupted := _interrupted(deadline, cancel):
                decoding.reason = interrupted
                break
            if llama.n_tokens + (pending is not None) >= room:
                decoding.reason = "context"
                break
            if pending is None:  # the first token, from the prompt's scores
                pending = decoding.take(decoding.process(self._last_logits()))
                continue
            speculation = self.speculation if greedy and not alone else None
            limit = min(spec.max_tokens - decoding.generated, room - llama.n_tokens - 1) - 1
            draft, source, drafting_seconds = self._draft(
                speculation, decoding.history, limit, deadline, cancel
            )
            started = time.perf_counter()
            if speculation is None or source is None or not draft:
                rounded = exact < llama.n_tokens  # earlier batches left rounding in the cache
                exact += not rounded
                llama.eval([pending])
                if speculation is not None:
                    speculation.timed_step(time.perf_counter() - started)
                logits = decoding.process(self._last_logits())
                if rounded and not settled(logits):  # a near tie: decode as the plain loop did, then retry
                    end, redo_started, before = llama.n_tokens, time.perf_counter(), exact
                    exact = self._redo_alone(exact, end, deadline, cancel)
                    counts.redecoded += exact - before
                    if last_source is not None and speculation is not None and speculation.step_seconds:
                        redo_seconds = time.perf_counter() - redo_started
                        last_source.charge(exact - before, redo_seconds, speculation.step_seconds)
                    if exact < end:
                        continue  # interrupted: the next check stops generation
                    logits = decoding.process(self._last_logits())
                pending, alone = decoding.take(logits), False
                continue
            before = exact
            exact, pending, accepted, alone = self._verify(decoding, pending, draft, exact, deadline, cancel)
            seconds = drafting_seconds + time.perf_counter() - started
            source.record(len(draft), accepted, seconds, speculation.step_seconds or seconds, unsure=alone)
            counts.add(len(draft), accepted)
            if alone:  # a near tie: the cache from `before` on was decoded again one by one
                counts.redecoded += exact - before
                source.totals.redecoded += exact - before
            last_source = source
        return Generation(
            decoding.finish(),
            decoding.logprob,
            len(tokens),
            evaluated,
            decoding.generated,
            decoding.reason or "max_tokens",
            verify_batches=counts.verified,
            drafted_tokens=counts.drafted,
            accepted_tokens=counts.accepted,
            redecoded_tokens=counts.redecoded,
            restored_tokens=restored,
        )

    def _draft(
        self,
        speculation: Speculation | None,
        history: npt.NDArray[np.intc],
        limit: int,
        deadline: float | None,
        cancel: CancelFlag | None,
    ) -> tuple[list[int], Acceptance | None, float]:
        """A draft of at most ``limit`` tokens after ``history``, its source and the seconds drafting took.

        Prompt lookup first (free); the draft model where lookup finds nothing. Nothing until a one-token
        decode has been timed in this session: break-even is counted in those.
        """
        if speculation is None or speculation.step_seconds is None or limit <= 0:
            return [], None, 0.0
        for source in speculation.sources():
            source.sit_out()
        started = time.perf_counter()
        lookup = speculation.lookup
        if lookup.active and (draft := lookup_draft(history, min(limit, lookup.length))):
            return draft, lookup, time.perf_counter() - started
        by_model = speculation.draft_model
        if by_model is None or self._draft_model is None or not by_model.active:
            return [], None, 0.0
        draft = self._draft_model.draft_tokens(
            history.tolist(), min(limit, by_model.length), deadline, cancel
        )
        seconds = time.perf_counter() - started
        if not draft:  # the draft model was unsure at once: its time was spent on top of a plain step
            by_model.record(0, 0, seconds + speculation.step_seconds, speculation.step_seconds)
        return draft, by_model, seconds

    def _verify(
        self,
        decoding: _Decoding,
        pending: int,
        draft: list[int],
        exact: int,
        deadline: float | None,
        cancel: CancelFlag | None,
    ) -> tuple[int, int | None, int, bool]:
        """Decode ``pending`` and ``draft`` in one batch and take tokens as far as greedy decoding agrees.

        A position whose best token does not lead by a safe margin is not taken from the batch: the cache is
        brought back to what the plain loop would hold there (the tokens since ``exact`` decoded again one by
        one, stopping early on cancel or the deadline), and the caller decodes that position alone.
        Returns the new end of the exact cache, the token now pending (None: generation ended), how many draft
        tokens were accepted, and whether the position after the pending token must be decoded alone.
        """
        llama = self._llama
        start = llama.n_tokens
        feed = [pending, *draft]
        llama._batch.set_batch(batch=feed, n_past=start, logits_all=True)
        llama._ctx.decode(llama._batch)
        llama.input_ids[start : start + len(feed)] = feed
        llama.n_tokens = start + len(feed)
        for row, fed in enumerate(feed):  # rows before `row` were all accepted
            logits = decoding.process(self._logits_at(row))
            if not settled(logits):  # a near tie that batch rounding could flip
                return self._redo_alone(exact, start + row, deadline, cancel), fed, row, True
            token = decoding.take(logits)
            if token is None or row == len(draft) or token != draft[row]:
                self._drop_from(start + row + 1)
                return exact, token, row, False
            if decoding.generated >= decoding.spec.max_tokens:
                self._drop_from(start + row + 1)
                return exact, token, row + 1, False
        raise AssertionError("the batch's last row always ends verification")

    def _redo_alone(self, exact: int, end: int, deadline: float | None, cancel: CancelFlag | None) -> int:
        """Decode the cached tokens from ``exact`` to ``end`` again one at a time (as the plain loop did);
        returns how far the cache is exact now (``end`` unless cancel or the deadline stopped it)."""
        llama = self._llama
        redo = llama.input_ids[exact:end].tolist()
        self._drop_from(exact)
        for token in redo:
            if _interrupted(deadline, cancel):
                break
            llama.eval([token])
        return int(llama.n_tokens)

    def _drop_from(self, position: int) -> None:
        """Forget the KV cache from ``position`` on (rejected draft tokens)."""
        llama = self._llama
        if position >= llama.n_tokens:
            return
        if not llama._ctx.kv_cache_seq_rm(-1, position, -1):
            # a cache that cannot drop its end (recurrent models): rebuild it, and never draft again here
            self.speculation = None
            self.state_cache = None
            kept = llama.input_ids[:position].tolist()
            llama.reset()
            llama._ctx.kv_cache_clear()
            llama.eval(kept)
            return
        llama.n_tokens = position

    def draft_tokens(
        self, history: list[int], count: int, deadline: float | None, cancel: CancelFlag | None
    ) -> list[int]:
        """As a draft model: up to ``count`` greedy tokens after ``history``, as far as this model is sure.

        The cache keeps ``history`` and the draft, so the next call evaluates only what was rejected since.
        """
        self._check_open()
        _, interrupted = self._evaluate_prompt(history, deadline, cancel)
        if interrupted:
            return []
        draft: list[int] = []
        while len(draft) < count:
            logits = self._last_logits()
            token = int(np.argmax(logits))
            if not confident(logits) or self._ending(token):
                break
            draft.append(token)
            if len(draft) < count:
                self._llama.eval([token])
        return draft

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
        kept = [entry for entry in self._scored if entry[0] == context][-(_SCORED_KEPT - 1) :]
        self._scored = (*kept, (list(context), continuation, found))
        return found

    def _known_logprobs(self, context: list[int], continuation: list[int]) -> list[float]:
        """The leading log-probabilities shared with a continuation of the same context scored before (the
        one that shares the most); the rest, and the last token, are scored."""
        best: list[float] = []
        for last_context, last_continuation, last_found in self._scored:
            if last_context != context:
                continue
            shared = 0
            for old, new in zip(last_continuation, continuation, strict=False):
                if old != new:
                    break
                shared += 1
            if shared > len(best):
                best = last_found[:shared]
        return best[: max(0, len(continuation) - 1)]

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
            if (
                self.speculation is not None
                and self._draft_model is None
                and not self._batches_can_pay(probe)
            ):
                self.speculation = None  # prompt lookup; a draft model the user chose is theirs to judge
            state_warning = self._time_prompt_and_restore(probe)
            self.forget_prompt()
        warnings = [reuse_warning(again, len(extended)), state_warning]
        return [warning for warning in warnings if warning]

    def _time_prompt_and_restore(self, probe: list[int]) -> str | None:
        """Seed the prompt throughput (`prompt_cost`) by timing a cold ~64-token prompt, and the restore cost by
        saving and restoring its state; a state llama.cpp cannot restore turns the state cache off (a warning).
        """
        line = self.tokenize([PromptPiece("total = combine(total, 2) - 1\n", special=False)], False)
        prompt = (probe + line * (64 // max(1, len(line)) + 1))[:64]
        self.forget_prompt()
        self._evaluate_prompt(prompt)
        if self.state_cache is None:
            return None
        data = self._state_bytes(self.state_cache.limit_bytes)
        if data is None:
            return None  # a bound smaller than this short prompt's state: nothing will ever be saved
        if self._restore(SavedState(as_tokens(prompt), data)):
            return None
        self.state_cache = None
        return (
            f"llama.cpp could not restore a saved model state (llama-cpp-python {llama_cpp_version()}): "
            "switching back to a document evaluates its whole prompt again"
        )

    def _batches_can_pay(self, probe: list[int]) -> bool:
        """Whether verifying drafts can pay on this machine: a batch of ``_PROBE_ROWS`` rows with logits at
        each must cost under ``_PAYING_ROW_COST`` one-token decodes a row. Where decoding is compute-bound (a
        small model on a few CPU cores: 0.65-0.8 a row here, the vocabulary's output layer runs for every
        row) no acceptance rate wins back the batches and the re-decodes near ties, so greedy generation
        never drafts; where it is memory-bound (a GPU, a large model) rows are nearly free. Best of three."""
        llama = self._llama
        rows = probe[-_PROBE_ROWS:]
        single = batch = float("inf")
        for _ in range(3):
            self._evaluate_prompt(probe)
            started = time.perf_counter()
            llama.eval(rows[:1])
            single = min(single, time.perf_counter() - started)
            self._evaluate_prompt(probe)
            start = llama.n_tokens
            started = time.perf_counter()
            llama._batch.set_batch(batch=rows, n_past=start, logits_all=True)
            llama._ctx.decode(llama._batch)
            batch = min(batch, time.perf_counter() - started)
            llama.input_ids[start : start + len(rows)] = rows
            llama.n_tokens = start + len(rows)
        return batch < _PAYING_ROW_COST * len(rows) * single

    def measure_speed(self, prompt_tokens: int = 256, generated_tokens: int = 32) -> tuple[float, float]:
        """Prompt and generation tokens per second on this model (for `infill-ls doctor`): one token per decode,
        without drafts (the repeated probe line would measure prompt lookup instead)."""
        with self.lock:
            self._check_open()
            line = self.tokenize([PromptPiece("value = compute(value, 3) + 1\n", special=False)], False)
            prompt = (line * (prompt_tokens // max(1, len(line)) + 1))[:prompt_tokens]
            self.forget_prompt()
            started = time.perf_counter()
            self._evaluate_prompt(prompt)
            prompt_seconds = time.perf_counter() - started
            speculation, self.speculation = self.speculation, None
            started = time.perf_counter()
            try:
                generation = self.generate(prompt, GenerationSpec(max_tokens=generated_tokens))
            finally:
                self.speculation = speculation
            generation_seconds = time.perf_counter() - started
            self.forget_prompt()
        return len(prompt) / prompt_seconds, max(1, generation.tokens_generated) / generation_seconds


class _Decoding:
    """What a generation has produced so far, and why it ended (``reason``; None while it goes on).

    The plain loop and verified drafts extend it alike, one chosen token at a time, so the logits processor,
    the text, the log-probability and the stop rule see the same sequence either way.
    """

    def __init__(
        self,
        spec: GenerationSpec,
        prompt: list[int],
        processor: LogitsProcessor | None,
        piece: Callable[[int], bytes],
        ending: Callable[[int], str | None],
    ) -> None:
        self.spec = spec
        self.history = np.asarray(prompt, dtype=np.intc)
        self._processor = processor
        self._piece = piece
        self._ending = ending
        self._rng = np.random.default_rng(spec.seed) if spec.temperature > 0 else None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""
        self.logprob = 0.0
        self.generated = 0
        self.reason: str | None = None

    def process(self, logits: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
        """The scores of the next token after the logits processor (token healing, the name constraint)."""
        return logits if self._processor is None else self._processor(self.history, logits)

    def take(self, logits: npt.NDArray[np.single]) -> int | None:
        """Choose the next token from processed ``logits`` and add it; None when generation ends here."""
        token, token_logprob = _choose(logits, self.spec.temperature, self._rng)
        if ending := self._ending(token):
            self.reason = ending
            return None
        self.logprob += token_logprob
        self.generated += 1
        self._text += self._decoder.decode(self._piece(token))
        self.history = np.append(self.history, np.intc(token))
        if self.spec.stop is not None and self.spec.stop(self._text):
            self.reason = "stop"
            return None
        return token

    def finish(self) -> str:
        return self._text + self._decoder.decode(b"", final=True)


def reuse_warning(evaluated_again: int, total: int) -> str | None:
    """The prefix-reuse self-check's verdict: a prompt extended by one token must cost at most 2 tokens."""
    if evaluated_again <= 2:
        return None
    return (
        f"prefix reuse does not work with llama-cpp-python {llama_cpp_version()}: every request re-evaluates "
        f"its whole prompt ({evaluated_again} of {total} tokens in the self-check); install the pinned version "
        "with .ci/install"
    )


def _running(estimate: float | None, measured: float) -> float:
    """A running estimate updated with a new measurement (the first one seeds it)."""
    return measured if estimate is None else (1 - _SPEED_WEIGHT) * estimate + _SPEED_WEIGHT * measured


def _sliding_window(llama: Any) -> int | None:
    import llama_cpp

    window = int(llama_cpp.llama_model_n_swa(llama._model.model))
    return window if window > 0 else None


def _cache_can_drop_its_end(llama: Any) -> bool:
    """False for recurrent and hybrid models, whose state cannot be cut back to a prefix."""
    import llama_cpp

    model = llama._model.model
    return not (llama_cpp.llama_model_is_recurrent(model) or llama_cpp.llama_model_is_hybrid(model))


def _interrupted(deadline: float | None, cancel: CancelFlag | None) -> str | None:
    if cancel is not None and cancel.is_set():
        return "cancelled"
    if deadline is not None and time.monotonic() > deadline:
        return "deadline"
    return None


def _log_norm(logits: npt.NDArray[np.single], top: float) -> float:
    """log(sum(exp(logits - top))): exponentials in single precision (a 262k vocabulary's row in a fraction
    of a millisecond; each term is at most 1), summed in double."""
    return math.log(float(np.sum(np.exp(logits - np.float32(top)), dtype=np.float64)))


def _token_logprob(logits: npt.NDArray[np.single], token: int) -> float:
    top = float(np.max(logits))
    return float(logits[token]) - top - _log_norm(logits, top)


def _choose(
    logits: npt.NDArray[np.single], temperature: float, rng: np.random.Generator | None
) -> tuple[int, float]:
    """Greedy (temperature 0) or top-k sampled token, with its log-probability under the model."""
    if temperature <= 0 or rng is None:
        token = int(np.argmax(logits))
        top = float(logits[token])
    else:
        top = float(np.max(logits))
        best = np.argpartition(logits, -40)[-40:]
        weights = np.exp((logits[best].astype(np.float64) - top) / temperature)
        token = int(best[rng.choice(len(best), p=weights / weights.sum())])
    return token, float(logits[token]) - top - _log_norm(logits, top)


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
