"""The completion engine: cache, prompt, generation, post-processing and syntax checks, for one request.

Everything here is synchronous and LSP-free; the server calls it from worker threads. One model, one lock:
a request waits for the lock while checking its cancel event, so a superseded request never runs the model.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from completion.model import Generation, ModelSession
from completion.postprocess import Suggestion, postprocess
from completion.prompt import (
    ContextLike,
    Prompt,
    SnippetLike,
    build_prompt,
    prefix_window_start,
    suffix_window_end,
)
from completion.token_healing import VocabPieces, heal_split, strip_healed
from completion.workspace_index import Retriever
from syntax.checks import CompletionShape, completion_shape
from syntax.languages import spec_for

if TYPE_CHECKING:
    from syntax.document import SyntaxDocument


@dataclass
class CompletionOptions:
    enabled: bool = field(default=True, metadata={"description": "Offer inline completions."})
    max_tokens: int = field(
        default=96,
        metadata={"description": "Most tokens generated per suggestion.", "minimum": 1, "maximum": 1024},
    )
    max_lines: int = field(
        default=12, metadata={"description": "Most lines in a multi-line suggestion.", "minimum": 1}
    )
    multiline: str = field(
        default="auto",
        metadata={
            "description": "'auto': a whole body where the syntax wants one, else the rest of the line; "
            "'never': always single-line; 'always': allow several lines everywhere.",
            "enum": ["auto", "never", "always"],
        },
    )
    time_budget_ms: int = field(
        default=2000,
        metadata={"description": "Time budget per suggestion, model wait included.", "minimum": 50},
    )
    debounce_ms: int = field(
        default=30,
        metadata={
            "description": "Wait this long for a newer keystroke before running the model.",
            "minimum": 0,
        },
    )
    prefix_chars: int = field(
        default=3000,
        metadata={"description": "Characters of text before the cursor in the prompt.", "minimum": 100},
    )
    suffix_chars: int = field(
        default=1200, metadata={"description": "Characters after the cursor (FIM models).", "minimum": 0}
    )
    window_stride_lines: int = field(
        default=16,
        metadata={
            "description": "The prefix window starts on a multiple of this many lines (KV reuse).",
            "minimum": 1,
        },
    )
    parse_context: bool = field(
        default=True,
        metadata={
            "description": "Add enclosing scopes, imports and referenced definitions above the window."
        },
    )
    context_budget_chars: int = field(
        default=1000, metadata={"description": "Characters of parse context in the prompt.", "minimum": 0}
    )
    candidates: int = field(
        default=3,
        metadata={
            "description": "Candidates tried when the first one fails the syntax checks.",
            "minimum": 1,
        },
    )
    token_healing: bool = field(
        default=True, metadata={"description": "Complete a half-typed word from the start of its token."}
    )
    reuse: bool = field(
        default=True,
        metadata={
            "description": "Reuse the model's cached prompt prefix and suggestions the user types into. Off: "
            "re-evaluate the whole prompt on every request (a baseline for benchmarks)."
        },
    )


@dataclass(frozen=True)
class CompletionRequest:
    text: str
    offset: int
    uri: str = "untitled"
    language_id: str | None = None
    path: str | None = None  # path shown to the model (relative to the workspace where possible)
    document: SyntaxDocument | None = None  # an up-to-date parsed document, if the caller keeps one


@dataclass(frozen=True)
class Completion:
    text: str
    start: int  # == request offset
    end: int  # end of the replaced range (>= start), e.g. over auto-inserted closing brackets
    multiline: bool
    cached: bool
    raw: str = ""
    tokens_prompt: int = 0
    tokens_evaluated: int = 0
    tokens_generated: int = 0
    elapsed_ms: float = 0.0
    stop_reason: str = ""


@dataclass
class _Shown:
    """The last suggestion shown for a document, for serving it while the user types into it."""

    before: str
    after: str
    completion: Completion


class CompletionEngine:
    def __init__(self, options: CompletionOptions | None = None) -> None:
        self.options = options or CompletionOptions()
        self.model: ModelSession | None = None
        self.retriever: Retriever | None = None
        self._vocab: VocabPieces | None = None
        self._shown: dict[str, _Shown] = {}
        self._exact: OrderedDict[tuple[str, int, int], Completion] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.history: deque[dict[str, Any]] = deque(maxlen=1000)  # recent completions, for infill/stats

    # --- model lifecycle --------------------------------------------------------------------------------------

    @property
    def model_ready(self) -> bool:
        return self.model is not None

    def set_model(self, model: ModelSession | None) -> None:
        """Install a loaded model (or None); builds the token-healing vocabulary once."""
        previous, self.model = self.model, None
        if previous is not None:
            previous.close()
        self._vocab = VocabPieces.from_pieces(*model.vocabulary()) if model is not None else None
        self.clear_cache()
        self.model = model

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._shown.clear()
            self._exact.clear()

    def forget(self, uri: str) -> None:
        with self._cache_lock:
            self._shown.pop(uri, None)

    # --- prompts ----------------------------------------------------------------------------------------------

    def build_prompt(self, request: CompletionRequest, heal: bool | None = None) -> Prompt:
        options = self.options
        spec = spec_for(request.language_id, request.path)
        template = self.model.info.fim if self.model else None
        window_start = prefix_window_start(
            request.text, request.offset, options.prefix_chars, options.window_stride_lines
        )
        suffix_end = suffix_window_end(request.text, request.offset, options.suffix_chars)
        context = None
        if options.parse_context and spec is not None and options.context_budget_chars > 0:
            context = self._parse_context(request, spec.name, window_start)
        snippets: Sequence[SnippetLike] = ()
        if self.retriever is not None and request.path:  # the index's own budget (index.budgetChars)
            snippets = self.retriever.retrieve(request.path, request.text, request.offset)
        healed = ""
        if (options.token_healing if heal is None else heal) and self._vocab is not None:
            healed = heal_split(request.text[window_start : request.offset])[1]
        return build_prompt(
            text=request.text,
            offset=request.offset,
            path=request.path,
            line_comment=spec.line_comment if spec else "#",
            template=template,
            context=context,
            snippets=snippets,
            window_start=window_start,
            suffix_end=suffix_end,
            healed=healed,
        )

    def _parse_context(self, request: CompletionRequest, language: str, window_start: int) -> ContextLike:
        from syntax.context import parse_context
        from syntax.document import SyntaxDocument

        document = request.document or SyntaxDocument(request.text, language)
        return parse_context(document, request.offset, window_start, self.options.context_budget_chars)

    # --- completion -------------------------------------------------------------------------------------------

    def cached(self, request: CompletionRequest) -> Completion | None:
        """A suggestion the user is typing into (or asked for before), without running the model."""
        if not self.options.reuse or not self.options.enabled:
            return None
        hit = self._lookup(request)
        if hit is not None:
            self._record(hit)
        return hit

    def _lookup(self, request: CompletionRequest) -> Completion | None:
        before, after = request.text[: request.offset], request.text[request.offset :]
        with self._cache_lock:
            exact = self._exact.get((request.uri, hash(before), hash(after)))
            if exact is not None:
                return _moved(exact, request.offset, "")
            shown = self._shown.get(request.uri)
        if shown is None or after != shown.after or not before.startswith(shown.before):
            return None
        typed = before[len(shown.before) :]
        rest = shown.completion.text
        if not typed or not rest.startswith(typed) or not rest[len(typed) :].strip():
            return None
        return _moved(shown.completion, request.offset, typed)

    def complete(
        self, request: CompletionRequest, cancel: threading.Event | None = None
    ) -> Completion | None:
        """The suggestion to show at the request's cursor, or None."""
        started = time.monotonic()
        if not self.options.enabled or not 0 <= request.offset <= len(request.text):
            return None
        hit = self.cached(request)
        if hit is not None:
            return hit
        model = self.model
        if model is None:
            return None
        spec = spec_for(request.language_id, request.path)
        language = spec.name if spec else None
        document = _matching_snapshot(request)
        shape = self._shape(request, language, document)
        deadline = started + self.options.time_budget_ms / 1000
        prompt = self.build_prompt(request)
        if not _acquire(model.lock, cancel, deadline):
            return None
        try:
            tokens = model.tokenize(prompt.pieces, add_bos=True)
            if not self.options.reuse:
                model.forget_prompt()
            best: tuple[float, Suggestion, Generation] | None = None
            for attempt in range(self.options.candidates):
                if attempt and time.monotonic() > deadline:
                    break
                generation = self._generate(model, tokens, prompt, shape, deadline, cancel, attempt)
                if generation.stop_reason == "cancelled":
                    return None
                raw = _complete_part(strip_healed(generation.text, prompt.healed), generation, shape)
                raw = _cut_header_echo(raw, spec.line_comment if spec else "#")
                suggestion = (
                    None
                    if raw is None
                    else postprocess(raw, request.text, request.offset, shape, language, document=document)
                )
                if suggestion is not None:
                    best = (generation.mean_logprob, suggestion, generation)
                    break
        finally:
            model.lock.release()
        if best is None:
            return None
        _, suggestion, generation = best
        completion = Completion(
            text=suggestion.text,
            start=request.offset,
            end=suggestion.replace_end,
            multiline=shape.multiline,
            cached=False,
            raw=generation.text,
            tokens_prompt=generation.tokens_prompt,
            tokens_evaluated=generation.tokens_evaluated,
            tokens_generated=generation.tokens_generated,
            elapsed_ms=(time.monotonic() - started) * 1000,
            stop_reason=generation.stop_reason,
        )
        self._remember(request, completion)
        self._record(completion)
        return completion

    def _record(self, completion: Completion) -> None:
        self.history.append(
            {
                "cached": completion.cached,
                "elapsedMs": round(completion.elapsed_ms, 1),
                "tokensPrompt": completion.tokens_prompt,
                "tokensEvaluated": completion.tokens_evaluated,
                "tokensGenerated": completion.tokens_generated,
            }
        )

    def _shape(
        self, request: CompletionRequest, language: str | None, document: SyntaxDocument | None
    ) -> CompletionShape:
        shape = completion_shape(request.text, request.offset, language, document=document)
        mode = self.options.multiline
        if mode == "never" and shape.multiline:
            return CompletionShape(False, "", shape.block_end, "multiline-disabled")
        if mode == "always" and not shape.multiline:
            return CompletionShape(True, shape.indent, shape.block_end, "multiline-always")
        return shape

    def _generate(
        self,
        model: ModelSession,
        tokens: list[int],
        prompt: Prompt,
        shape: CompletionShape,
        deadline: float,
        cancel: threading.Event | None,
        attempt: int,
    ) -> Generation:
        healed = prompt.healed
        processor = self._vocab.healing_processor(healed.encode("utf-8")) if healed and self._vocab else None
        return model.generate(
            tokens,
            max_tokens=self.options.max_tokens,
            deadline=deadline,
            cancel=cancel,
            should_stop=_stop_rule(shape, len(healed), self.options.max_lines),
            temperature=0.0 if attempt == 0 else 0.7,
            rng=np.random.default_rng(attempt),
            logits_processor=processor,
        )

    def _remember(self, request: CompletionRequest, completion: Completion) -> None:
        before, after = request.text[: request.offset], request.text[request.offset :]
        with self._cache_lock:
            self._shown[request.uri] = _Shown(before, after, completion)
            self._exact[(request.uri, hash(before), hash(after))] = completion
            while len(self._exact) > 256:
                self._exact.popitem(last=False)

    # --- candidates for syntax fixes ----------------------------------------------------------------------------

    def infill_candidates(
        self,
        prefix: str,
        suffix: str,
        n: int,
        max_tokens: int,
        time_budget_s: float,
        language: str | None = None,
    ) -> list[str]:
        """Up to n distinct model-written middles between prefix and suffix (greedy first, then sampled)."""
        model = self.model
        if model is None or n <= 0:
            return []
        deadline = time.monotonic() + time_budget_s
        request = CompletionRequest(
            prefix + suffix, len(prefix), uri="infill-candidates", language_id=language
        )
        prompt = self.build_prompt(request, heal=False)
        found: list[str] = []
        if not _acquire(model.lock, None, deadline):
            return []
        try:
            tokens = model.tokenize(prompt.pieces, add_bos=True)
            for attempt in range(n * 2):
                if len(found) >= n or time.monotonic() > deadline:
                    break
                generation = model.generate(
                    tokens,
                    max_tokens=max_tokens,
                    deadline=deadline,
                    temperature=0.0 if attempt == 0 else 0.8,
                    rng=np.random.default_rng(attempt),
                )
                if generation.text not in found:
                    found.append(generation.text)
        finally:
            model.lock.release()
        return found


def _matching_snapshot(request: CompletionRequest) -> SyntaxDocument | None:
    """The request's parsed document frozen at the request's text; None if an edit has moved it on since."""
    if request.document is None:
        return None
    snapshot = request.document.snapshot(parse=False)
    return snapshot if snapshot.text == request.text else None


def _acquire(lock: threading.Lock, cancel: threading.Event | None, deadline: float) -> bool:
    """Wait for the model lock, giving up when cancelled or past the deadline."""
    while not lock.acquire(timeout=0.01):
        if (cancel is not None and cancel.is_set()) or time.monotonic() > deadline:
            return False
    if cancel is not None and cancel.is_set():
        lock.release()
        return False
    return True


def _complete_part(text: str | None, generation: Generation, shape: CompletionShape) -> str | None:
    """What can be shown of a generation cut short by the budget: only its finished lines."""
    if text is None or generation.stop_reason not in ("deadline", "max_tokens", "context"):
        return text
    if not shape.multiline:
        return None  # half a line is worse than nothing
    cut = text.rstrip("\n").rfind("\n")
    return text[:cut] if cut > 0 else None


def _cut_header_echo(text: str | None, line_comment: str) -> str | None:
    """Drop a prompt header the model starts to write again (a new `# Path: ...` file) and all after it."""
    if text is None:
        return None
    marker = f"{line_comment} Path: "
    if text.lstrip().startswith(marker):
        return None
    cut = text.find("\n" + marker)
    return text if cut == -1 else text[:cut]


def _moved(completion: Completion, offset: int, typed: str) -> Completion:
    shift = offset - completion.start
    return Completion(
        text=completion.text[len(typed) :],
        start=offset,
        end=completion.end + shift,
        multiline=completion.multiline,
        cached=True,
        raw=completion.raw,
    )


def _stop_rule(shape: CompletionShape, healed_chars: int, max_lines: int) -> Callable[[str], bool]:
    """When to stop generating: the end of the line for single-line shapes, a dedent or too many lines else."""
    if not shape.multiline:

        def end_of_line(text: str) -> bool:
            return "\n" in text[healed_chars:].lstrip()

        return end_of_line

    def end_of_block(text: str) -> bool:
        lines = text[healed_chars:].split("\n")
        complete = lines[:-1]
        if len(complete) > max_lines:
            return True
        return any(
            line.strip() and not line.startswith(shape.indent) and index > 0
            for index, line in enumerate(complete)
        )

    return end_of_block
