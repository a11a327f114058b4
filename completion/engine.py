"""The completion engine: cache, prompt, generation, post-processing and syntax checks, for one request.

Everything here is synchronous and LSP-free; the server calls it from its model pool. The model is a
``completion.backend.ModelBackend`` (in the server, the supervised worker process) with one lock per request:
a request waits for the lock while checking its cancel event, so a superseded request never runs the model,
and a model that dies or is replaced meanwhile makes the request return nothing (``ModelUnavailable``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from completion.audit import AuditOptions, NameLookup, first_unknown
from completion.backend import (
    Generation,
    GenerationSpec,
    ModelBackend,
    ModelUnavailable,
    StopRule,
    TokenModel,
)
from completion.local_backend import as_backend
from completion.name_constraint import KnownMembers, name_choices
from completion.postprocess import Suggestion, postprocess
from completion.privacy import PrivacyPolicy
from completion.prompt import (
    Prompt,
    Retriever,
    SnippetLike,
    build_prompt,
    member_hint,
    prefix_window_start,
    suffix_window_end,
)
from completion.routing import RemoteAsk, RoutingOptions, position_key, wants_remote
from completion.token_healing import heal_split, strip_healed
from syntax.context import CursorOutline, context_blocks, cursor_outline
from syntax.languages import LanguageSpec, spec_for
from syntax.options import option
from syntax.shape import CompletionShape, completion_shape, statement_limit
from syntax.text import indentation_of, is_header_line, next_nonblank_line, previous_nonblank_line

if TYPE_CHECKING:
    from syntax.document import ParsedText, SyntaxDocument

log = logging.getLogger(__name__)
_MAX_CUTS = 3  # shorter cuts of one multi-line suggestion offered to the ranking
_SUFFIX_HEAD_LINES = 2  # lines of code after a suggestion scored with it (prefix-only models)
_SUFFIX_HEAD_CHARS = 240
_MAX_NAME_STARTS = 2  # candidates that start by defining a name the code below needs
_FIT_STRIDE_LINES = 2  # a cut prompt's window starts on every second line: typing on a line keeps its cache
_FIT_CHARS_PER_TOKEN = 3.0  # a first guess of code's characters per token, corrected by the model's count
_FIT_MIN_CHARS = 100  # the shortest cut prompt: a line or two before the cursor
_FIT_TRIES = 3  # prompt_cost calls (each tokenizes the cut prompt) before taking the last cut
_WARM_LIMIT_S = 30.0  # most a warm-up evaluates (a cold prompt on 2 cores: ~4 s); a request stops it at once
_SETTLED = frozenset({"eog", "special", "stop"})  # a generation that ended on its own (not cut short)


@dataclass
class CompletionOptions:
    enabled: bool = option(True, "Offer inline completions.")
    max_tokens: int = option(96, "Most tokens generated per suggestion.", minimum=1, maximum=1024)
    max_lines: int = option(12, "Most lines in a multi-line suggestion.", minimum=1)
    multiline: str = option(
        "auto",
        "'auto': a whole body where the syntax wants one, else the rest of the line; "
        "'never': always single-line; 'always': allow several lines everywhere.",
        enum=["auto", "never", "always"],
    )
    time_budget_ms: int = option(2000, "Time budget per suggestion, model wait included.", minimum=50)
    debounce_ms: int = option(
        30,
        "Wait this long for a newer keystroke before running the model (automatic requests; an "
        "explicit invoke never waits). With debounceMaxMs above it, the wait adapts to the typing rhythm "
        "and the model's latency, up to debounceMaxMs.",
        minimum=0,
    )
    debounce_max_ms: int = option(
        0,
        "Most an automatic request waits for a newer keystroke when the wait adapts: the typing "
        "rhythm (the median gap between keystrokes) times 1.5 to 3 (less after a space or bracket at the "
        "end of a line), less the model's recent latency, never below debounceMs. At or below debounceMs "
        "(the default): always debounceMs. Raise it (e.g. 300) for fewer model runs, as for a remote "
        "server shared with others; with the local model, waiting on the rhythm showed suggestions later "
        "and less often (the session benchmark: 41% of requests against 66%).",
        minimum=0,
    )
    prefix_chars: int = option(3000, "Characters of text before the cursor in the prompt.", minimum=100)
    suffix_chars: int = option(1200, "Characters after the cursor (FIM models).", minimum=0)
    window_stride_lines: int = option(
        16, "The prefix window starts on a multiple of this many lines (KV reuse).", minimum=1
    )
    parse_context: bool = option(
        True, "Add enclosing scopes, imports and referenced definitions above the window."
    )
    context_budget_chars: int = option(1000, "Characters of parse context in the prompt.", minimum=0)
    candidates: int = option(
        3,
        "Suggestions generated within the time budget on a line with no code before the "
        "cursor (greedy first, then sampled); the one that makes the document most likely, with the code "
        "after the cursor, is shown. 1: greedy only.",
        minimum=1,
    )
    mid_line_candidates: int = option(
        1,
        "Suggestions generated while typing within a line (after code on it); 1 keeps typing fast.",
        minimum=1,
    )
    token_healing: bool = option(True, "Complete a half-typed word from the start of its token.")
    constrain_names: bool = option(
        True,
        "After `module.`, `self.` or `this.` where the members are known (a workspace "
        "module, the enclosing class), the local model may only start with one of their names; the "
        "most likely one wins. Off where nothing is known.",
    )
    reuse: bool = option(
        True,
        "Reuse the model's cached prompt prefix and suggestions the user types into. Off: "
        "re-evaluate the whole prompt on every request (a baseline for benchmarks).",
    )
    max_items: int = option(
        3,
        "Most suggestions returned per request, the most likely first, for editors that "
        "cycle them (VS Code: Alt+] / Alt+[, Neovim: <M-]> / <M-[>): the best of each other candidate "
        "generated (see candidates), distinct texts only. 1: only the most likely.",
        minimum=1,
    )
    warm_up: bool = option(
        True,
        "When a document is opened or focused, and when edits pause with no suggestion asked for, work "
        "out in the background the suggestion at the cursor (where the editor's didFocus puts it, else "
        "the last edited position, else the end of the document): its first line first (from the nearest "
        "lines while the whole prompt is not cached), then the whole prompt and the whole answer. The "
        "first suggestion there, or typed into it, then needs no model run, or finds its prompt cached. "
        "Local model only; a request stops it at once.",
    )
    prefetch_next: bool = option(
        True,
        "After a suggestion is shown, work out in the background the suggestion that follows it once "
        "accepted, so accepting shows the next one at once: its first line first where the whole answer "
        "takes longer (a block, or candidates to rank). Local model only; a request stops it at once.",
    )
    cold_prompt_ms: int = option(
        250,
        "Most time a suggestion spends evaluating prompt text the local model has not cached (a file "
        "just opened or a jump elsewhere: a whole prompt takes seconds on a few CPU cores). A prompt that "
        "would take longer is cut to the nearest lines before the cursor that fit, without the parse context "
        "and other files, and the whole prompt is evaluated in idle time, so the context grows back while the "
        "user types. An invoke may take half of the time budget. 0: never cut.",
        minimum=0,
    )


@dataclass(frozen=True)
class CompletionRequest:
    text: str
    offset: int
    uri: str = "untitled"
    language_id: str | None = None
    path: str | None = None  # path shown to the model (relative to the workspace where possible)
    document: SyntaxDocument | None = None  # an up-to-date parsed document, if the caller keeps one
    invoked: bool = False  # the user asked (LSP triggerKind Invoked), rather than typed


@dataclass(frozen=True)
class Alternative:
    """Another ranked suggestion for the same cursor: ``text`` replaces ``[Completion.start, end)``."""

    text: str
    end: int


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
    source: str = "local"  # which model wrote it: "local", or the remote API ("openai", "llama-server", ...)
    # the next most likely suggestions, best first, each text distinct (completion.maxItems - 1 at most)
    alternatives: tuple[Alternative, ...] = ()
    prompt_cut: bool = False  # the prompt was cut to fit completion.coldPromptMs (CompletionEngine._fitted)


@dataclass(frozen=True)
class DocumentRoute:
    """Where a document's content goes with the models installed now (what the editors' status shows)."""

    target: str  # "local": only the local model sees it; "remote": the remote one may; "none": no model does
    reason: str  # why it stays local ("matches .env*", "secret detected at line 3 (Private Key)"), else ""
    text: str  # one line for a status bar


def document_route(
    privacy: PrivacyPolicy, path: str | None, text: str, remote: str | None, has_local: bool
) -> DocumentRoute:
    """The privacy policy applied to a document, given the remote model (described) and whether a local one
    runs: the one wording of a route, for the status and for ``doctor FILE``."""
    if remote is None:
        return (
            DocumentRoute("local", "", "local model") if has_local else DocumentRoute("none", "", "no model")
        )
    allowed = privacy.route(path, text)
    if allowed.remote:
        return DocumentRoute(
            "remote", "", f"remote: {remote}" + (" and the local model" if has_local else "")
        )
    if has_local:
        return DocumentRoute("local", allowed.reason, f"local only: {allowed.reason}")
    return DocumentRoute(
        "none", allowed.reason, f"local only: {allowed.reason}; no local model, no suggestions"
    )


@dataclass
class _Shown:
    """The last suggestion shown for a document, for serving it while the user types into it."""

    before: str
    after: str
    completion: Completion


class CompletionEngine:
    def __init__(self, options: CompletionOptions | None = None) -> None:
        self.options = options or CompletionOptions()
        self._model: ModelBackend | None = None
        self._fallback: ModelBackend | None = None  # asked when the model cannot answer (hybrid: local)
        self.privacy = PrivacyPolicy()  # what a remote model may be sent
        self.retriever: Retriever | None = None
        self._shown: dict[str, _Shown] = {}
        self._exact: OrderedDict[tuple[str, int, int], Completion] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.history: deque[dict[str, Any]] = deque(maxlen=1000)  # recent completions, for infill/stats
        self.routing = RoutingOptions()
        self.audit = AuditOptions()
        self._remote_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="infill-remote")
        self._remote_asks: dict[str, RemoteAsk[list[_Candidate]]] = {}  # hybrid: per document, the latest ask
        self._asks_lock = threading.Lock()
        # background work (warm-up, the next suggestion): at most one at a time, never beside a request
        # keys of _exact that background work wrote and no request was served yet; True: its first line only
        # (the first phase of the next suggestion: the whole, ranked one is being worked out)
        self._prefetched: dict[tuple[str, int, int], bool] = {}
        self._ahead: dict[str, _Shown] = {}  # per document: the latest suggestion background work kept
        self._epoch = 0  # clear_cache() calls so far (new models or settings)
        self._background_lock = threading.Lock()
        self._background_flag: threading.Event | None = None  # the cancel flag of the background work running
        self._requests = 0  # requests in complete() past the caches (waiting for or holding the model)
        self.background_counts = {"warmUps": 0, "prefetched": 0, "cancelled": 0}  # for infill/stats
        self._score_costs: dict[int, float] = {}  # per installed model (by id): a scored token's cost
        self._cut_starts: dict[str, int] = {}  # per document: where its last cut prompt starts (_fitted)

    # --- model lifecycle --------------------------------------------------------------------------------------

    @property
    def model(self) -> ModelBackend | None:
        return self._model

    @model.setter
    def model(self, model: ModelBackend | TokenModel | None) -> None:
        """A local token model is installed behind a LocalBackend (its tokenization shared within a request)."""
        self._model = as_backend(model)

    @property
    def model_ready(self) -> bool:
        return self._model is not None

    def set_model(
        self, model: ModelBackend | TokenModel | None, fallback: ModelBackend | TokenModel | None = None
    ) -> None:
        """Install a loaded model (or None), and the one to ask while it cannot answer, closing the previous
        ones: requests still holding them get ModelUnavailable, never a freed model."""
        previous = (self._model, self._fallback)
        self.model = model
        self._fallback = as_backend(fallback)
        self.clear_cache()
        self._score_costs.clear()
        with self._asks_lock:  # remote answers still coming are for models no longer used
            for ask in self._remote_asks.values():
                ask.cancel.set()
            self._remote_asks.clear()
        for old in previous:
            if old is not None and old is not self._model and old is not self._fallback:
                old.close()

    def _models(self) -> list[ModelBackend]:
        return [model for model in (self._model, self._fallback) if model is not None]

    def route(self, path: str | None, text: str) -> DocumentRoute:
        """Where the document at ``path`` goes with the models installed now (scans the text for secrets the
        first time: call it off the event loop)."""
        models = self._models()
        remote = next((model for model in models if _is_remote(model)), None)
        has_local = any(not _is_remote(model) for model in models)
        return document_route(self.privacy, path, text, _describe(remote) if remote else None, has_local)

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._shown.clear()
            self._exact.clear()
            self._prefetched.clear()
            self._ahead.clear()
            self._epoch += 1  # background work begun before this keeps nothing

    def forget(self, uri: str) -> None:
        with self._cache_lock:
            self._shown.pop(uri, None)
            self._ahead.pop(uri, None)
        self._cut_starts.pop(uri, None)

    # --- prompts ----------------------------------------------------------------------------------------------

    def build_prompt(
        self,
        request: CompletionRequest,
        heal: bool | None = None,
        model: ModelBackend | None = None,
        fit_chars: int | None = None,
    ) -> Prompt:
        """The prompt for ``model`` (default: the installed one), laid out for its template; with
        ``fit_chars``, a cut prompt (``_fitted``): that many characters before the cursor (a third of it
        after), on a short line stride, without the parse context and other files."""
        options = self.options
        spec = spec_for(request.language_id, request.path)
        model = model or self.model
        template = model.info.fim if model is not None else None
        whole = fit_chars is None
        prefix_chars, suffix_chars = options.prefix_chars, options.suffix_chars
        stride = options.window_stride_lines
        if fit_chars is not None:
            prefix_chars, suffix_chars = min(prefix_chars, fit_chars), min(suffix_chars, fit_chars // 3)
            stride = _FIT_STRIDE_LINES
        window_start = prefix_window_start(request.text, request.offset, prefix_chars, stride)
        suffix_end = suffix_window_end(request.text, request.offset, suffix_chars)
        document = _matching_snapshot(request)
        outline = self._cursor_outline(request, spec.name, document) if spec is not None and whole else None
        context = None
        if options.parse_context and outline is not None and options.context_budget_chars > 0:
            context = context_blocks(outline, window_start, options.context_budget_chars)
        snippets: Sequence[SnippetLike] = ()
        if whole and self.retriever is not None and request.path:  # the index's own budget (budgetChars)
            snippets = self.retriever.retrieve(
                request.path, request.text, request.offset, document=document, outline=outline
            )
            if _is_remote(model):
                retriever = self.retriever
                snippets = [
                    item
                    for item in snippets
                    if self.privacy.allows_snippet(item.path, item.text, retriever.file_text(item.path))
                ]
        healed = ""
        if (options.token_healing if heal is None else heal) and model is not None and model.info.heals:
            healed = heal_split(request.text[window_start : request.offset])[1]
        known = self.members_at(request, spec.name, document) if spec is not None else None
        hint = ""
        names: tuple[bytes, ...] = ()
        if known is not None:
            if known.kind == "self":  # a workspace module's members are in the snippets already
                hint = member_hint(known.receiver, known.names, request.text[window_start : request.offset])
            if options.constrain_names and model is not None and model.info.heals:
                names = name_choices(known.names, known.partial, healed)
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
            hint=hint,
            names=names,
        )

    def _cursor_outline(
        self, request: CompletionRequest, language: str, document: ParsedText | None
    ) -> CursorOutline | None:
        """Scopes, imports and the names referenced near the cursor, worked out once for the parse context
        and retrieval (syntax.context.cursor_outline, cached on the open document while the user types on
        one line): from the tree of the request's own text, the open document's snapshot (None when an edit
        moved it on: a newer request is on its way); else a parse of the text when the parse context wants
        it (retrieval parses only when its own cache misses). None when neither wants it, or on a failure
        (the prompt goes without the context, as retrieval without its outline)."""
        from syntax.document import parse_text

        options = self.options
        wants_context = options.parse_context and options.context_budget_chars > 0
        if request.document is None:
            if not wants_context:
                return None
            document = parse_text(request.text, language)
        elif document is None or not (wants_context or (self.retriever is not None and request.path)):
            return None
        try:
            return cursor_outline(document, request.offset, owner=request.document)
        except Exception:
            log.exception("the outline around the cursor failed")
            return None

    # --- completion -------------------------------------------------------------------------------------------

    def cached(self, request: CompletionRequest) -> Completion | None:
        """A suggestion the user is typing into (or asked for before), without running the model; one
        with no text where the model was asked here before and had nothing to show (not for an invoke)."""
        if not self.options.reuse or not self.options.enabled:
            return None
        hit = self._lookup(request)
        if hit is not None:
            self._record(hit)
        return hit

    def _lookup(self, request: CompletionRequest) -> Completion | None:
        before, after = request.text[: request.offset], request.text[request.offset :]
        key = (request.uri, hash(before), hash(after))
        with self._cache_lock:
            exact = self._exact.get(key)
            if exact is not None and not exact.text and request.invoked:
                exact = None  # nothing to show here before, and now the user asks: the model is asked again
            if exact is not None:
                worked_out_ahead = self._prefetched.pop(key, None) is not None
                if worked_out_ahead and exact.text:  # now it is the one shown
                    self._shown[request.uri] = _Shown(before, after, exact)
                return _moved(exact, request.offset, "")
            for shown in (self._shown.get(request.uri), self._ahead.get(request.uri)):
                typed = _typed_into(shown, before, after)
                if shown is None or not typed:
                    continue
                moved = _moved(shown.completion, request.offset, typed)
                if moved is not None:  # (one worked out ahead and typed into: now it is the one shown)
                    self._shown[request.uri] = shown
                    return moved
        return None

    def complete(
        self, request: CompletionRequest, cancel: threading.Event | None = None
    ) -> Completion | None:
        """The suggestion to show at the request's cursor, or None."""
        started = time.monotonic()
        if not self.options.enabled or not 0 <= request.offset <= len(request.text):
            return None
        kept = self._kept_remote_answer(request)
        hit = self.cached(request) if not kept else None
        if hit is not None:
            return hit if hit.text else None  # (worked out before: nothing to show here)
        with self._foreground():
            return self._run(request, cancel, started, kept)

    def _run(
        self,
        request: CompletionRequest,
        cancel: threading.Event | None,
        started: float,
        kept: list[_Candidate],
        background: bool = False,
        first_line: bool = False,
    ) -> Completion | None:
        """complete() past its caches; ``background``: the local model only, taken only when idle, the
        answer kept for the request to come (``_keep_next``), not counted in the history; ``first_line``
        (background): the greedy first line alone, on a prompt cut to fit the cold-prompt time where the
        whole one is not cached, kept until the whole answer replaces it."""
        epoch = self._epoch
        cut = False  # the local prompt was cut to fit the cold-prompt time
        settled = False  # the local model's greedy generation ended on its own
        spec = spec_for(request.language_id, request.path)
        language = spec.name if spec else None
        if cancel is not None and cancel.is_set():
            return None  # superseded before it began: spare the reparse
        document = _matching_snapshot(request)
        shape = self._shape(request, language, document)
        deadline = started + self.options.time_budget_ms / 1000
        ranked = kept
        hybrid = self._hybrid() and not background
        models = self._models() if not (hybrid or kept) else []
        if background:  # the local model alone
            models = [model for model in models if not _is_remote(model)][:1]
        if not ranked and hybrid:
            ranked, cut = self._hybrid_best(request, spec, shape, document, deadline, cancel)
        for model in models:  # the fallback only when the model cannot answer at all
            prompt = self.build_prompt(request, model=model)
            if not self._may_send(model, request.path, request.text, prompt):
                continue
            if background:
                if cancel is None or not self._acquire_idle(model, cancel):
                    return None
            elif not _acquire(model.lock, cancel, deadline):
                return None
            try:
                if first_line or not background:
                    fitted = self._fitted(model, request, prompt, deadline)
                    cut, prompt = fitted is not prompt, fitted
                ranked, settled = self._ranked_candidates(
                    model, request, spec, prompt, shape, document, deadline, cancel, first_line
                )
                break
            except ModelUnavailable as error:  # down, restarting, unreachable or replaced: show nothing
                log.info("no completion from %s: %s", _describe(model), error)
            finally:
                model.lock.release()
        cancelled = cancel is not None and cancel.is_set()
        if background and cancelled:
            return None  # cut short by a request, the ranking unfinished: not kept
        if not ranked:
            if settled and not cancelled and (background or not cut):  # the same prompt would give the same
                self._keep_nothing(request, epoch, background, shape, cut, first_line)
            return None
        best = ranked[0]
        suggestion, generation = best.suggestion, best.generation
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
            source=best.source,
            alternatives=_alternatives(ranked, best, self.options.max_items - 1),
            prompt_cut=cut,
        )
        if background:
            whole = not (cut or self._more_than_a_line(request, shape))
            self._keep_next(request, completion, epoch, first_line and not whole)
            return completion
        self._remember(request, completion)
        self._record(completion)
        return completion

    # --- background work: warm-up and the next suggestion, in idle time, on the local model only ---------------

    def warm(self, request: CompletionRequest, cancel: threading.Event | None = None) -> Generation | None:
        """Evaluate the prompt ``complete`` would build for ``request`` and generate nothing, so that a
        request there (or one that shares the start of its prompt) finds it in the model's cache.

        Local model only (a remote one is never sent anything for it); it runs only while no request waits
        for or holds the model, and one at a time. A request that arrives sets ``cancel`` (``complete``
        does it too), which the model looks at between prompt chunks. None when it did not run.
        """
        model = self._warming_model(request)
        if model is None:
            return None
        flag = self._begin_background(cancel)
        if flag is None:
            return None
        try:
            generation = self._evaluate(model, request, flag)
            if generation is not None:
                self._count("cancelled" if generation.stop_reason == "cancelled" else "warmUps")
            return generation
        finally:
            self._end_background(flag)

    def warm_up(self, request: CompletionRequest, cancel: threading.Event | None = None) -> Completion | None:
        """The warm-up of a place the user is about to type at (a document opened, focused, or its edits
        paused): its greedy first line first (on a prompt cut to fit the cold-prompt time where the whole
        one is not cached: it is in within a second or so), then the whole prompt (:meth:`warm`), then the
        whole answer. Each is kept for the request to come, and served as the user types into it. The same
        rules as :meth:`warm`; the suggestion worked out, or None."""
        if self._warming_model(request) is None:
            return None
        return self._ahead_of_time(request, cancel, "warmUps", whole_prompt=True)

    def _warming_model(self, request: CompletionRequest) -> ModelBackend | None:
        """The local model, where warm-up may run for ``request`` (it is on, and the offset is in the text)."""
        options = self.options
        if not (options.enabled and options.warm_up and options.reuse):
            return None
        if not 0 <= request.offset <= len(request.text):
            return None
        return self._local_model()

    def _evaluate(
        self, model: ModelBackend, request: CompletionRequest, flag: threading.Event
    ) -> Generation | None:
        """The whole prompt at ``request`` evaluated, nothing generated (None: the model was busy or down)."""
        prompt = self.build_prompt(request, model=model)
        if not self._acquire_idle(model, flag):
            return None
        try:
            return model.generate(prompt, GenerationSpec(max_tokens=0, time_limit_s=_WARM_LIMIT_S), flag)
        except ModelUnavailable as error:
            log.info("no warm-up: %s", error)
            return None
        finally:
            model.lock.release()

    def accepted(self, request: CompletionRequest, completion: Completion) -> CompletionRequest:
        """The request that follows accepting ``completion`` (shown for ``request``): its text in place, the
        cursor at its end."""
        text = request.text[: completion.start] + completion.text + request.text[completion.end :]
        offset = completion.start + len(completion.text)
        return dataclasses.replace(request, text=text, offset=offset, document=None, invoked=False)

    def prefetch_next(
        self,
        request: CompletionRequest,
        completion: Completion,
        cancel: threading.Event | None = None,
        ready: Callable[[], None] | None = None,
    ) -> Completion | None:
        """Work out the suggestion that follows accepting ``completion`` (shown for ``request``) and keep it
        in the exact cache, so the request after acceptance is answered with no model run (llama.vim's
        next suggestion). Partial acceptance (a word, a line) needs nothing: the rest of ``completion`` is
        served from the cache as the user types into it. The same rules as :meth:`warm`; the suggestion,
        or None (nothing to show, or it did not run).

        Where the whole answer takes longer than its first line (a block, or several candidates ranked),
        the greedy first line is kept first and ``ready`` called: a user who accepts sooner gets that at
        once (the request joins this work, ``lsp_server``), and the whole answer replaces it if it comes
        before they do."""
        options = self.options
        if not (options.enabled and options.prefetch_next and options.reuse) or not completion.text:
            return None
        target = self.accepted(request, completion)
        known = self._worked_out(target)
        if known is not None or self._local_model() is None:
            return known if known is not None and known.text else None
        return self._ahead_of_time(target, cancel, "prefetched", ready)

    def _ahead_of_time(
        self,
        request: CompletionRequest,
        cancel: threading.Event | None,
        counted: str,
        ready: Callable[[], None] | None = None,
        whole_prompt: bool = False,
    ) -> Completion | None:
        """Background work on the suggestion at ``request``, kept for the request to come: its first line
        where the whole answer takes longer (then ``ready()``), then the whole answer. Where the first line
        came from a prompt cut to fit the cold-prompt time, the whole prompt is evaluated between the two (a
        cut prompt grows back while the user reads), as it always is for ``whole_prompt`` (a warm-up)."""
        flag = self._begin_background(cancel)
        if flag is None:
            return None
        epoch = self._epoch
        try:
            found, rest, kept = None, True, None  # rest: the whole answer is still to be worked out
            if self._exact_entry(request) is None:  # (else a first line kept before: on to the whole)
                found = self._run(request, flag, time.monotonic(), [], background=True, first_line=True)
                kept = self._exact_entry(request)  # found, or nothing to show (None: not kept)
                more = found is None and self._more_than_a_line(request)  # (a shape: only where nothing came)
                if ready is not None and kept is not None and (kept.text or not more):
                    ready()  # (nothing to show on this line: a request need not wait for the prompt to grow)
                rest = self._provisional(request) or (found is None and (whole_prompt or more))
            model = self._local_model()
            grow = kept is not None and kept.prompt_cut  # (from a cut prompt: the whole one, then the answer)
            if (whole_prompt or grow) and model is not None and not flag.is_set():
                self._evaluate(model, request, flag)
            if rest and epoch == self._epoch and not flag.is_set() and self._worked_out(request) is None:
                found = self._run(request, flag, time.monotonic(), [], background=True) or found
            if flag.is_set() or found is not None or whole_prompt:  # (a warm-up evaluated its prompt)
                self._count("cancelled" if flag.is_set() else counted)
            return found
        finally:
            self._end_background(flag)

    def interrupt_background(self) -> None:
        """Stop the background work running (a request is coming)."""
        with self._background_lock:
            if self._background_flag is not None:
                self._background_flag.set()

    def _local_model(self) -> ModelBackend | None:
        return next((model for model in self._models() if not _is_remote(model)), None)

    @contextlib.contextmanager
    def _foreground(self) -> Iterator[None]:
        """A request past the caches: background work stops and none starts until it is done."""
        with self._background_lock:
            self._requests += 1
            if self._background_flag is not None:
                self._background_flag.set()
        try:
            yield
        finally:
            with self._background_lock:
                self._requests -= 1

    def _begin_background(self, cancel: threading.Event | None) -> threading.Event | None:
        """The flag background work runs under, or None while a request or other background work runs."""
        flag = cancel if cancel is not None else threading.Event()
        with self._background_lock:
            if self._requests or self._background_flag is not None or flag.is_set():
                return None
            self._background_flag = flag
        return flag

    def _end_background(self, flag: threading.Event) -> None:
        with self._background_lock:
            if self._background_flag is flag:
                self._background_flag = None

    def _acquire_idle(self, model: ModelBackend, flag: threading.Event) -> bool:
        """The model lock for background work: only if free, and no request came meanwhile (one that comes
        after this sets ``flag``)."""
        if not model.lock.acquire(blocking=False):
            return False
        with self._background_lock:
            busy = self._requests > 0 or flag.is_set()
        if busy:
            model.lock.release()
        return not busy

    def _count(self, what: str) -> None:
        with self._background_lock:
            self.background_counts[what] += 1

    def _exact_entry(self, request: CompletionRequest) -> Completion | None:
        with self._cache_lock:
            return self._exact.get(_cache_key(request))

    def _keep_next(
        self, request: CompletionRequest, completion: Completion, epoch: int, first_line: bool
    ) -> None:
        """A suggestion worked out ahead: in the exact cache, and served as the user types into it at that
        place, unless the caches were cleared since it began (another model, other settings) or a request
        there was answered meanwhile (what it showed stays). ``first_line``: the first phase, replaced by the
        whole answer when that comes before a request."""
        before, after = request.text[: request.offset], request.text[request.offset :]
        key = (request.uri, hash(before), hash(after))
        with self._cache_lock:
            if epoch != self._epoch or (key in self._exact and key not in self._prefetched):
                return
            self._exact[key] = completion
            self._prefetched[key] = first_line
            if completion.text:
                self._ahead[request.uri] = _Shown(before, after, completion)
            self._trim_exact()

    def _keep_nothing(
        self,
        request: CompletionRequest,
        epoch: int,
        background: bool,
        shape: CompletionShape,
        cut: bool,
        first_line: bool,
    ) -> None:
        """The model had nothing to show here (its greedy generation ended on its own): an entry with no
        text, so that a request here (after accepting, or asked again) is answered at once instead of
        generating the same again. Background work keeps it provisionally where it came from a ``cut``
        prompt or is the ``first_line`` of a longer answer: the whole answer is still to be worked out."""
        nothing = Completion(
            text="",
            start=request.offset,
            end=request.offset,
            multiline=shape.multiline,
            cached=False,
            stop_reason="nothing",
            prompt_cut=cut,
        )
        if background:
            more = cut or (first_line and self._more_than_a_line(request, shape))
            self._keep_next(request, nothing, epoch, first_line=more)
        elif epoch == self._epoch:
            self._remember(request, nothing)

    def _more_than_a_line(self, request: CompletionRequest, shape: CompletionShape | None = None) -> bool:
        """Whether the whole answer at ``request`` is more than its greedy first line: a block, or several
        candidates ranked."""
        if self._candidate_count(request) > 1:
            return True
        if shape is None:
            spec = spec_for(request.language_id, request.path)
            shape = self._shape(request, spec.name if spec else None, _matching_snapshot(request))
        return shape.multiline

    def _provisional(self, request: CompletionRequest) -> bool:
        """Whether only the first line of the suggestion at this very place is kept (not yet requested)."""
        with self._cache_lock:
            return self._prefetched.get(_cache_key(request), False)

    def _worked_out(self, request: CompletionRequest) -> Completion | None:
        """The whole suggestion background work kept (or a request showed) for this very place; None also
        while only its first line is in."""
        key = _cache_key(request)
        with self._cache_lock:
            return None if self._prefetched.get(key, False) else self._exact.get(key)

    def _ranked_candidates(
        self,
        model: ModelBackend,
        request: CompletionRequest,
        spec: LanguageSpec | None,
        prompt: Prompt,
        shape: CompletionShape,
        document: ParsedText | None,
        deadline: float,
        cancel: threading.Event | None,
        first_line: bool = False,
    ) -> tuple[list[_Candidate], bool]:
        """Generate the candidates (greedy, forced name starts, sampled), check them, rank them (the most
        likely first; empty: none, or cancelled), and whether the greedy generation ended on its own (not
        cut short by the budget, its token cap or the context). ``first_line``: the greedy first line only."""
        language = spec.name if spec else None
        if not self.options.reuse:
            model.forget_prompt()
        found: list[_Candidate] = []
        count = 1 if first_line else self._candidate_count(request)
        wants_starts = model.info.fim is None and count > 1
        starts: list[_Start] | None = None  # worked out after the greedy generation, which never waits for it
        limits, pace = RANKING_LIMITS, _Pace(self._score_costs.get(id(model), _SCORED_TOKEN_COST))
        greedy: Generation | None = None
        following = next_nonblank_line(request.text, request.offset)
        below = following[1] if following else None
        for attempt in range(count):
            if attempt and time.monotonic() > deadline:
                break
            start = ""
            if attempt:
                if starts is None:
                    starts = _name_starts(request, language, document, prompt) if wants_starts else []
                start = _next_start(starts, found)
            max_tokens, until = self.options.max_tokens, deadline
            if greedy is not None and found:  # a later candidate: only where it and the scores after it fit
                # (while nothing can be shown, it has what the greedy one had: a lone candidate is not scored)
                if limits.stops_after(greedy):
                    break
                max_tokens = limits.token_cap(greedy, max_tokens)
                if limits.plan:  # as many tokens as leave time to score them and what is checked so far
                    prefix_only = model.info.fim is None
                    head = _suffix_head(request.text, request.offset) if prefix_only else ""
                    ordered = [found[index] for index in _scoring_order(found)]
                    scores = _to_score(prompt, request.text, ordered, prefix_only)
                    room = deadline - time.monotonic()
                    tokens = pace.tokens_fitting(scores, len(prompt.healed) + len(head), room)
                    if tokens < min(max_tokens, _expected_tokens(greedy, bool(start))):
                        break  # it could not write what the greedy one did: it would rarely be whole
                    until = time.monotonic() + pace.generation_seconds(tokens)
            began = time.monotonic()
            generation = self._generate(
                model, prompt, shape, until, cancel, attempt, start, count > 1, max_tokens, first_line, below
            )
            if generation.stop_reason == "cancelled":
                return [], False
            if greedy is None:
                greedy = generation
                pace.generated(generation, time.monotonic() - began)
            raw = start + generation.text if start else strip_healed(generation.text, prompt.healed)
            raw = _complete_part(raw, generation, shape)
            raw = _cut_header_echo(raw, spec.line_comment if spec else "#")
            for suggestion in _shaped_candidates(raw, request, shape, language, document):
                if all(suggestion != known.suggestion for known in found) and self._may_show(
                    model, suggestion
                ):
                    found.append(_Candidate(suggestion, generation, model.info.api))
        found = self._audit_names(model, request, shape, language, document, found)
        ranked = self._ranked(model, prompt, request.text, found, deadline, cancel, pace)
        if pace.score_cost is not None:
            self._score_costs[id(model)] = pace.score_cost  # the next request's guess
        return ranked, greedy is not None and greedy.stop_reason in _SETTLED

    def _audit_names(
        self,
        model: ModelBackend,
        request: CompletionRequest,
        shape: CompletionShape,
        language: str | None,
        document: ParsedText | None,
        found: list[_Candidate],
    ) -> list[_Candidate]:
        """Candidates that use a name defined nowhere (``completion.audit``): a remote one is cut before the
        line of that name or dropped; a local one loses to any candidate without such a name, and is cut when there is
        none."""
        mode = self.audit.unknown_names
        if mode == "allow" or not found or language is None:
            return found
        lookup = self._name_lookup(request)
        unknown = [
            first_unknown(request.text, request.offset, c.suggestion, language, lookup, document)
            for c in found
        ]
        clean = [candidate for candidate, name in zip(found, unknown, strict=True) if name is None]
        remote = _is_remote(model)
        if (remote and mode == "drop") or (not remote and clean):
            return clean
        kept = list(clean)
        for candidate, name in zip(found, unknown, strict=True):
            if name is None:
                continue
            log.info("a suggestion using %s, defined nowhere, is cut before its line", name.name)
            before = candidate.suggestion.text[: max(0, name.offset - request.offset)]
            head = before[: before.rfind("\n") + 1]  # whole lines only: never a half statement
            for cut in _shaped_candidates(head, request, shape, language, document)[:1]:
                if cut.text.strip() and all(cut != known.suggestion for known in kept):
                    kept.append(_Candidate(cut, candidate.generation, candidate.source))
        return kept

    def members_at(
        self, request: CompletionRequest, language: str, document: ParsedText | None = None
    ) -> KnownMembers | None:
        """The names that can follow the member access at the cursor, when something knows them all."""
        from syntax.members import member_access, offered

        access = member_access(request.text, language, request.offset, document)
        if access is None:
            return None
        retriever = self.retriever
        found: Sequence[str] | None
        if access.members is not None:  # in the class's order, its own members first
            found = [member.name for member in access.members]
        elif retriever is None or not request.path:
            return None
        elif access.kind == "module":
            found = sorted(retriever.module_members(access.receiver, request.path) or ())
        else:
            found = sorted(
                retriever.member_names(request.path, request.text, access.receiver, document) or ()
            )
        names = tuple(name for name in found if offered(name, access.partial))
        return KnownMembers(access.receiver, access.partial, names, access.kind) if names else None

    def _name_lookup(self, request: CompletionRequest) -> NameLookup:
        """What the workspace index says is defined, for the request's file."""
        retriever = self.retriever
        if retriever is None:
            return NameLookup(None)
        return NameLookup(retriever.defines, lambda module: retriever.module_members(module, request.path))

    # --- hybrid: local first, the remote model where it helps (completion.routing) ---------------------------

    def _hybrid(self) -> bool:
        return _is_remote(self._model) and self._fallback is not None and not _is_remote(self._fallback)

    def _hybrid_best(
        self,
        request: CompletionRequest,
        spec: LanguageSpec | None,
        shape: CompletionShape,
        document: ParsedText | None,
        deadline: float,
        cancel: threading.Event | None,
    ) -> tuple[list[_Candidate], bool]:
        """The local answer, or the remote one when it is in by then (the local model ranks the two, the
        other follows it, then each model's own next candidates); never a wait for the remote model beyond
        the local one, unless the local model cannot answer at all. With it, whether the local prompt was
        cut to fit the cold-prompt time."""
        remote, local = self._model, self._fallback
        assert remote is not None and local is not None
        key = position_key(request.uri, request.text, request.offset)
        ask = self._current_ask(request.uri, key)
        if ask is None and wants_remote(request.text, request.offset, shape.multiline, request.invoked):
            ask = self._ask_remote(remote, request, spec, shape, document, key)
        whole_prompt = self.build_prompt(request, model=local)
        local_ranked, local_prompt = self._answer(
            local, request, spec, whole_prompt, shape, document, deadline, cancel
        )
        cut = local_prompt is not whole_prompt
        if ask is None and local_ranked and _confidence(local_ranked[0]) < self.routing.min_local_confidence:
            ask = self._ask_remote(remote, request, spec, shape, document, key)  # kept for the next request
        if ask is None:
            return local_ranked, cut
        if not local_ranked:  # the local model could not answer: the remote one may, within the budget
            try:
                ask.future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:  # a timeout (it goes on, kept), or cancelled
                return [], cut
        remote_ranked = ask.result_if_done() or []
        if not remote_ranked:
            return local_ranked, cut
        remote_best = remote_ranked[0]
        if not local_ranked or remote_best.suggestion == local_ranked[0].suggestion:
            return [*remote_ranked, *local_ranked], cut
        local_best = local_ranked[0]
        ranked = self._most_likely(
            local, local_prompt, request.text, [local_best, remote_best], deadline, cancel
        )
        log.info("hybrid: %s suggestion shown", "remote" if ranked is remote_best else "local")
        first, second = (remote_best, local_best) if ranked is remote_best else (local_best, remote_best)
        return [first, second, *local_ranked[1:], *remote_ranked[1:]], cut

    def _kept_remote_answer(self, request: CompletionRequest) -> list[_Candidate]:
        """hybrid: the remote answer asked for earlier at this very position and now in (shown at once, in
        place of the local one shown then); empty when there is none."""
        if not self._hybrid():
            return []
        ask = self._current_ask(request.uri, position_key(request.uri, request.text, request.offset))
        return (ask.result_if_done() or []) if ask is not None else []

    def _current_ask(self, uri: str, key: tuple[str, int, int]) -> RemoteAsk[list[_Candidate]] | None:
        """The remote ask for this position, if one runs or ran; an ask for another position is cancelled
        (the user moved on)."""
        with self._asks_lock:
            ask = self._remote_asks.get(uri)
            if ask is not None and ask.key != key:
                ask.cancel.set()
                del self._remote_asks[uri]
                return None
            return ask

    def _ask_remote(
        self,
        remote: ModelBackend,
        request: CompletionRequest,
        spec: LanguageSpec | None,
        shape: CompletionShape,
        document: ParsedText | None,
        key: tuple[str, int, int],
    ) -> RemoteAsk[list[_Candidate]] | None:
        """Start the remote model on this request in the background (when the document may go there and the
        server is not in a failure episode); it has the whole time budget, whatever the local model does."""
        if getattr(remote, "failing", None) is not None:
            return None  # down: local only (the status said so once)
        prompt = self.build_prompt(request, model=remote)
        if not self._may_send(remote, request.path, request.text, prompt):
            return None
        deadline = time.monotonic() + self.options.time_budget_ms / 1000
        cancel = threading.Event()

        def run() -> list[_Candidate]:
            return self._answer(remote, request, spec, prompt, shape, document, deadline, cancel)[0]

        ask = RemoteAsk(key, self._remote_pool.submit(run), cancel)
        with self._asks_lock:
            previous = self._remote_asks.get(request.uri)
            if previous is not None and previous is not ask:
                previous.cancel.set()
            self._remote_asks[request.uri] = ask
        return ask

    def _answer(
        self,
        model: ModelBackend,
        request: CompletionRequest,
        spec: LanguageSpec | None,
        prompt: Prompt,
        shape: CompletionShape,
        document: ParsedText | None,
        deadline: float,
        cancel: threading.Event | None,
    ) -> tuple[list[_Candidate], Prompt]:
        """One model's checked candidates, ranked, holding its lock (empty when it cannot answer), and the
        prompt they were generated for (cut to fit the cold-prompt time, or ``prompt``)."""
        if not _acquire(model.lock, cancel, deadline):
            return [], prompt
        try:
            prompt = self._fitted(model, request, prompt, deadline)
            found, _ = self._ranked_candidates(
                model, request, spec, prompt, shape, document, deadline, cancel
            )
            return found, prompt
        except ModelUnavailable as error:
            log.info("no completion from %s: %s", _describe(model), error)
            return [], prompt
        finally:
            model.lock.release()

    def _fitted(
        self, model: ModelBackend, request: CompletionRequest, prompt: Prompt, deadline: float
    ) -> Prompt:
        """``prompt``, or where the model would spend longer than ``completion.coldPromptMs`` evaluating
        what it has not cached (an invoke: half the time left), a cut prompt that fits: the nearest lines
        before the cursor (``build_prompt(fit_chars=...)``), sized by the model's own estimate of its prompt
        speed. The caller holds the model's lock. The whole prompt is not lost: background work (the next
        suggestion, warm-up when edits pause) evaluates it in idle time, and once the model has it cached
        (the state cache keeps what a request interrupted) requests use it again."""
        if self.options.cold_prompt_ms <= 0 or _is_remote(model) or not self.options.reuse:
            return prompt
        left = max(0.0, deadline - time.monotonic())
        limit = self.options.cold_prompt_ms / 1000
        limit = min(max(limit, left / 2) if request.invoked else limit, left)
        cost = model.prompt_cost(prompt)
        if cost.seconds is None or cost.seconds <= limit or cost.uncached_tokens <= 0:
            return prompt
        known = self._cut_starts.get(request.uri)
        if known is not None and 0 <= known < request.offset:  # the document's last cut's start, while it
            # fits: the model holds that prompt (a size estimated again would move the start on typing)
            cut = self.build_prompt(request, model=model, fit_chars=request.offset - known + 1)
            fits = model.prompt_cost(cut).seconds
            if cut.window_start == known and fits is not None and fits <= limit:
                return cut
        token_seconds = cost.seconds / cost.uncached_tokens
        chars = max(_FIT_MIN_CHARS, int(limit / token_seconds * _FIT_CHARS_PER_TOKEN))
        cut, used = prompt, chars
        for _ in range(_FIT_TRIES):
            cut, used = self.build_prompt(request, model=model, fit_chars=chars), chars
            cost = model.prompt_cost(cut)
            if cost.seconds is None or cost.seconds <= limit or chars <= _FIT_MIN_CHARS:
                break
            chars = max(_FIT_MIN_CHARS, int(chars * limit / cost.seconds * 0.9))
        log.info("prompt cut to %d characters before the cursor to fit %.0f ms", used, limit * 1000)
        self._cut_starts[request.uri] = cut.window_start
        return cut

    def _may_show(self, model: ModelBackend, suggestion: Suggestion) -> bool:
        """A remote model's suggestion that holds a secret-looking string is dropped (it came from
        elsewhere: a key in someone's training data or another user's prompt)."""
        if not _is_remote(model) or not self.privacy.options.detect_secrets:
            return True
        if self.privacy.scanner.first_secret(suggestion.text.split("\n")) is None:
            return True
        log.info("a remote suggestion holding a secret was dropped")
        return False

    def _may_send(self, model: ModelBackend, path: str | None, text: str, prompt: Prompt) -> bool:
        """A local model may see anything; a remote one only a document the privacy policy allows, and only
        a prompt with no secret in it (the snippets were filtered when it was built)."""
        if not _is_remote(model):
            return True
        route = self.privacy.route(path, text)
        if not route.remote:
            log.info("not sent to the remote model: %s is %s", path or "the document", route.describe())
            return False
        if not self.privacy.prompt_is_clean([piece.text for piece in prompt.pieces if not piece.special]):
            log.info("not sent to the remote model: the prompt for %s holds a secret", path or "the document")
            return False
        return True

    def _candidate_count(self, request: CompletionRequest) -> int:
        """Several candidates where the next statement is open; the greedy one while typing a line."""
        line_start = request.text.rfind("\n", 0, request.offset) + 1
        if request.text[line_start : request.offset].strip():
            return self.options.mid_line_candidates
        return self.options.candidates

    def _most_likely(
        self,
        model: ModelBackend,
        prompt: Prompt,
        text: str,
        found: list[_Candidate],
        deadline: float,
        cancel: threading.Event | None,
    ) -> _Candidate | None:
        """The candidate under which the model finds the document most likely; the first one without time."""
        ranked = self._ranked(model, prompt, text, found, deadline, cancel)
        return ranked[0] if ranked else None

    def _ranked(
        self,
        model: ModelBackend,
        prompt: Prompt,
        text: str,
        found: list[_Candidate],
        deadline: float,
        cancel: threading.Event | None,
        pace: _Pace | None = None,
    ) -> list[_Candidate]:
        """The candidates, those under which the model finds the document most likely first (ties: the
        earlier); those left unscored follow in their order (without time: as found).

        A prefix-only model never saw the code after the cursor, so each candidate is scored with the start of
        that code after it (the suggestion that fits what follows wins), and with the end-of-text token where
        the document ends there; a FIM model saw the code in the prompt, so the suggestion is scored with the
        token that ends a middle (the suggestion that ends where it should). A backend that cannot score
        (a remote API) ranks by the log-probabilities its generations came with, where it returns them.

        Each generation's longest form is scored before the shorter cuts (which rarely change the winner,
        and whose shared start costs little once it was scored). With ``pace`` (what this request's
        generations cost), only the candidates whose estimated scores fit in the time left are scored
        (``_Pace.fitting``), and none when that is under two: a score past the budget makes the answer late.
        """
        if len(found) <= 1:
            return list(found)
        if not model.info.scores:
            # the generations the model found most likely per token first (ties: the earlier one)
            return sorted(found, key=lambda c: -_confidence(c)) if model.info.logprobs else list(found)
        prefix_only = model.info.fim is None
        order = _scoring_order(found) if RANKING_LIMITS.plan else list(range(len(found)))
        if pace is not None and RANKING_LIMITS.plan:
            texts = _to_score(prompt, text, [found[index] for index in order], prefix_only)
            order = [order[k] for k in pace.fitting(texts, deadline - time.monotonic())]
        scores: dict[int, float] = {}
        scored: list[str] = []
        for index in order:
            if time.monotonic() > deadline or (cancel is not None and cancel.is_set()):
                break
            continuation, ends = _continuation(prompt, text, found[index].suggestion, prefix_only)
            late = pace is not None and time.monotonic() + pace.score_seconds(scored, continuation) > deadline
            if late and scores and RANKING_LIMITS.plan:  # timed by now: this one no longer fits
                continue
            began = time.monotonic()
            score = model.score(prompt, continuation, ends)
            if score is None:
                break
            if pace is not None:
                pace.scored(_new_chars(scored, continuation)[0], time.monotonic() - began)
            scores[index] = score
            scored.append(continuation)
        order = sorted(scores, key=lambda index: (-scores[index], index))  # ties keep their order
        return [found[index] for index in order] + [c for i, c in enumerate(found) if i not in scores]

    def _record(self, completion: Completion) -> None:
        self.history.append(
            {
                "cached": completion.cached,
                "elapsedMs": round(completion.elapsed_ms, 1),
                "tokensPrompt": completion.tokens_prompt,
                "tokensEvaluated": completion.tokens_evaluated,
                "tokensGenerated": completion.tokens_generated,
                "source": completion.source,
                "promptCut": completion.prompt_cut,
            }
        )

    def _shape(
        self, request: CompletionRequest, language: str | None, document: ParsedText | None
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
        model: ModelBackend,
        prompt: Prompt,
        shape: CompletionShape,
        deadline: float,
        cancel: threading.Event | None,
        attempt: int,
        start: str = "",
        ranked: bool = True,
        max_tokens: int | None = None,
        first_line: bool = False,
        below: str | None = None,
    ) -> Generation:
        """Greedy on the first attempt, sampled after; with ``start``, the greedy rest of that line; where
        the prompt knows the names that can come first, one of them (``completion.name_constraint``).
        ``max_tokens``: fewer than ``completion.maxTokens`` (a later candidate's cap, ``RankingLimits``);
        ``first_line``: up to the end of the first line with code, whatever the shape; ``below``: the
        document's next non-blank line (a block stops where it meets it)."""
        healed = "" if start else prompt.healed
        if start:
            stop = StopRule("newline")
        elif first_line:
            stop = StopRule("line", skip_chars=len(healed))
        else:
            stop = _stop_rule(shape, len(healed), self.options.max_lines, below)
        spec = GenerationSpec(
            max_tokens=self.options.max_tokens if max_tokens is None else max_tokens,
            stop=stop,
            temperature=0.0 if attempt == 0 or start else 0.7,
            seed=attempt,
            healed=healed.encode("utf-8"),
            names=() if start else prompt.names,
            time_limit_s=max(0.0, deadline - time.monotonic()),
            ranked=ranked,
        )
        return model.generate(prompt, spec, cancel, start=start)

    def _remember(self, request: CompletionRequest, completion: Completion) -> None:
        before, after = request.text[: request.offset], request.text[request.offset :]
        with self._cache_lock:
            if completion.text:
                self._shown[request.uri] = _Shown(before, after, completion)
            key = (request.uri, hash(before), hash(after))
            self._exact[key] = completion
            self._prefetched.pop(key, None)
            self._trim_exact()

    def _trim_exact(self) -> None:
        while len(self._exact) > 256:  # the caller holds _cache_lock
            self._prefetched.pop(self._exact.popitem(last=False)[0], None)

    # --- candidates for syntax fixes ----------------------------------------------------------------------------

    def infill_candidates(
        self,
        prefix: str,
        suffix: str,
        n: int,
        max_tokens: int,
        time_budget_s: float,
        language: str | None = None,
        path: str | None = None,
    ) -> list[str]:
        """Up to n distinct model-written middles between prefix and suffix (greedy first, then sampled).
        ``path``: the document's, for the privacy policy of a remote model."""
        deadline = time.monotonic() + time_budget_s
        request = CompletionRequest(
            prefix + suffix, len(prefix), uri="infill-candidates", language_id=language, path=path
        )
        with self._foreground():  # background work yields to the fixes too
            for model in self._models() if n > 0 else []:
                found = self._infill_candidates(model, request, n, max_tokens, deadline)
                if found:
                    return found
        return []

    def _infill_candidates(
        self, model: ModelBackend, request: CompletionRequest, n: int, max_tokens: int, deadline: float
    ) -> list[str]:
        prompt = self.build_prompt(request, heal=False, model=model)
        found: list[str] = []
        if not self._may_send(model, request.path, request.text, prompt):
            return []
        if not _acquire(model.lock, None, deadline):
            return []
        try:
            for attempt in range(n * 2):
                if len(found) >= n or time.monotonic() > deadline:
                    break
                spec = GenerationSpec(
                    max_tokens=max_tokens,
                    temperature=0.0 if attempt == 0 else 0.8,
                    seed=attempt,
                    time_limit_s=max(0.0, deadline - time.monotonic()),
                    ranked=False,
                )
                generation = model.generate(prompt, spec)
                if generation.text not in found:
                    found.append(generation.text)
        except ModelUnavailable as error:  # keep what was found; rule-based fixes go on without the model
            log.info("model fixes stopped: %s", error)
        finally:
            model.lock.release()
        return found


@dataclass(frozen=True)
class _Candidate:
    suggestion: Suggestion
    generation: Generation
    source: str = "local"  # the model's API: "local", or the remote one ("openai", ...)


def _confidence(candidate: _Candidate) -> float:
    """Mean log-probability per generated token: how sure the model was of what it wrote."""
    return candidate.generation.logprob / max(1, candidate.generation.tokens_generated)


def _is_remote(model: ModelBackend | None) -> bool:
    return model is not None and model.info.api != "local"


def _describe(model: ModelBackend) -> str:
    try:
        return f"{model.info.api} model {model.info.name}"
    except ModelUnavailable:
        return "the model"


def _shaped_candidates(
    raw: str | None,
    request: CompletionRequest,
    shape: CompletionShape,
    language: str | None,
    document: ParsedText | None,
) -> list[Suggestion]:
    """The post-processed suggestion for a raw output, then (multi-line) the same cut after fewer lines.

    Where a body ends is the hardest call for a multi-line suggestion; the shorter cuts let the ranking make
    it with the code below the cursor in view.
    """
    if raw is None:
        return []
    shaped: list[Suggestion] = []
    lines = raw.split("\n")
    cuts = [len(lines)] if not shape.multiline else [len(lines), *range(len(lines) - 1, 0, -1)]
    for cut in cuts:
        if len(shaped) > _MAX_CUTS:
            break
        part = "\n".join(lines[:cut])
        suggestion = postprocess(part, request.text, request.offset, shape, language, document=document)
        # each cut kept is shorter than the one before, so a repeat of any of them is never kept
        if suggestion is not None and (not shaped or len(suggestion.text) < len(shaped[-1].text)):
            shaped.append(suggestion)
    return shaped


@dataclass(frozen=True)
class _Start:
    """A forced start for one candidate: a line that binds a name the code below uses but nothing defines."""

    name: str
    text: str


def _name_starts(
    request: CompletionRequest, language: str | None, document: ParsedText | None, prompt: Prompt
) -> list[_Start]:
    """Starts that define the names used below the cursor and bound nowhere before it (blank lines only).

    A prefix-only model cannot see that the code below uses ``total``; a candidate that starts with
    ``total =`` lets the ranking, which does see that code, weigh that possibility.
    """
    text, offset = request.text, request.offset
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    if language is None or prompt.healed or text[line_start:offset].strip():
        return []
    if text[offset : len(text) if line_end < 0 else line_end].strip():
        return []
    from syntax.document import parse_text
    from syntax.names import undefined_names

    parsed = document if document is not None else parse_text(text, language)
    wanted = sorted(undefined_names(parsed, offset, limit=_MAX_NAME_STARTS), key=lambda name: not name.called)
    above = previous_nonblank_line(text, line_start) or ""
    following = next_nonblank_line(text, offset)
    below = following[1] if following else ""
    starts = []
    for name in wanted[:_MAX_NAME_STARTS]:
        indent = "" if offset > line_start else _hole_indent(above, below, name.called, language)
        line = f"def {name.name}(" if name.called and language == "python" else f"{name.name} ="
        starts.append(_Start(name.name, indent + line))
    return starts


def _hole_indent(above: str, below: str, opens_block: bool, language: str) -> str:
    """Indentation of a new line between ``above`` and ``below`` (a block header's body, or beside them)."""
    upper, lower = indentation_of(above), indentation_of(below)
    deeper_below = len(lower.expandtabs(4)) > len(upper.expandtabs(4))
    if is_header_line(above, language):
        return lower if deeper_below else upper + ("\t" if upper.startswith("\t") else "    ")
    return upper if opens_block or deeper_below else lower


def _next_start(starts: list[_Start], found: list[_Candidate]) -> str:
    """The next forced start whose name no candidate found so far defines ("" when none is left)."""
    while starts:
        start = starts.pop(0)
        binds = re.compile(rf"^\s*(?:def\s+)?{re.escape(start.name)}\b", re.MULTILINE)
        if not any(binds.search(candidate.suggestion.text) for candidate in found):
            return start.text
    return ""


def _suffix_head(text: str, start: int) -> str:
    """The code right after a suggestion that its score includes: the rest of the line and the next lines."""
    end = start
    for _ in range(_SUFFIX_HEAD_LINES + 1):
        found = text.find("\n", end)
        if found < 0:
            end = len(text)
            break
        end = found + 1
    return text[start : min(end, start + _SUFFIX_HEAD_CHARS)]


def _continuation(prompt: Prompt, text: str, suggestion: Suggestion, prefix_only: bool) -> tuple[str, bool]:
    """What a candidate is scored on, and whether the end-of-text (end-of-middle) token follows it."""
    continuation = prompt.healed + suggestion.text
    if not prefix_only:
        return continuation, True
    head = _suffix_head(text, suggestion.replace_end)
    return continuation + head, not text[suggestion.replace_end + len(head) :].strip()  # the document ends


def _expected_tokens(greedy: Generation, one_line: bool) -> int:
    """About what a later candidate writes: as much as the greedy one, or for a forced start (one line) as
    much as the greedy one's first line."""
    tokens = max(1, greedy.tokens_generated)
    if not one_line or not greedy.text.strip():
        return tokens
    first = greedy.text.lstrip("\n").split("\n", 1)[0]
    return max(1, math.ceil(tokens * len(first) / len(greedy.text)))


def _scoring_order(found: Sequence[_Candidate]) -> list[int]:
    """Indices into ``found``: the first (longest) candidate of each generation, then the rest, as found."""
    firsts = [
        index
        for index, candidate in enumerate(found)
        if all(candidate.generation is not other.generation for other in found[:index])
    ]
    return firsts + [index for index in range(len(found)) if index not in firsts]


def _to_score(prompt: Prompt, text: str, found: Sequence[_Candidate], prefix_only: bool) -> list[str]:
    """The continuations ``_ranked`` would score for ``found`` (for estimating what scoring them costs)."""
    return [_continuation(prompt, text, candidate.suggestion, prefix_only)[0] for candidate in found]


@dataclass(frozen=True)
class RankingLimits:
    """How the candidates after the greedy one share the time budget (issue 13: three full candidates cost
    7-9 s at p50 on 2 cores, and at the editor's 2 s most of the budget went on generations never scored).

    ``plan``: a later generation starts only where it and the scores of everything found, it included, fit in
    the time left, with the scores' time held back from it; only the scores that fit run (none below two).
    ``token_factor``/``token_extra``/``token_ceiling``: a later generation writes at most the greedy one's
    tokens times this plus that, and never more than the ceiling: what a later candidate adds is another
    start (on 40 blank lines of the stdlib, ranked with later candidates cut to their first 20-30 tokens,
    the shown first lines were as close to the real ones as with whole candidates, 0.386 against 0.385 edit
    similarity; greedy alone 0.355), and a long one costs its length twice, to write and to score.
    ``confident``: a greedy generation at or above this mean log-probability per token is shown alone
    (None: never; on those lines the others still won 2 of the 11 rankings where it was -0.15 or more).
    ``off()``: the ranking as it was before.
    """

    plan: bool = True
    token_factor: float | None = 1.5
    token_extra: int = 8
    token_ceiling: int | None = 32
    confident: float | None = None

    def off(self) -> RankingLimits:
        return RankingLimits(plan=False, token_factor=None, token_ceiling=None, confident=None)

    def token_cap(self, greedy: Generation, max_tokens: int) -> int:
        cap = max_tokens
        if self.token_factor is not None:
            cap = min(cap, math.ceil(greedy.tokens_generated * self.token_factor) + self.token_extra)
        if self.token_ceiling is not None:
            cap = min(cap, self.token_ceiling)
        return max(1, cap)

    def stops_after(self, greedy: Generation) -> bool:
        """The greedy generation is sure enough that no other candidate is worth its time."""
        if self.confident is None or greedy.tokens_generated == 0:
            return False
        return greedy.logprob / greedy.tokens_generated >= self.confident


RANKING_LIMITS = RankingLimits()
_SCORED_TOKEN_COST = 0.35
"""A scored token's time in generated tokens, until a score is timed: a row with logits costs ~8 ms and its
log-probability ~1 ms on the default model on 2 cores, a generated token ~25-30 ms (its decode, sampling and
the stop check). Where rows are cheap (a GPU) or dear, the measured cost replaces it
(``CompletionEngine._score_costs``)."""
_SCORE_CALL_COST = 1.0  # each score's fixed time in generated tokens (the context's last token decoded alone)
_PROMPT_TOKEN_COST = 0.13  # an evaluated prompt token's time in generated tokens (~280 against ~35 a second)
_CHARS_PER_TOKEN = 3.5  # code's characters per token, until a generation says
_UNTIMED_TOKENS = 1 << 20  # what fits where calls take no time (a clock that did not move)


class _Pace:
    """What this request's model calls cost so far, to tell whether the next ones fit (seconds): the greedy
    generation's time per token, and what a scored token costs against a generated one (``score_cost``: a
    guess, then measured; the load on the machine moves both kinds of token alike)."""

    def __init__(self, score_cost: float = _SCORED_TOKEN_COST) -> None:
        self.token_seconds: float | None = None
        self.chars_per_token = _CHARS_PER_TOKEN
        self._guess = score_cost
        self.score_cost: float | None = None  # measured in this request

    def generated(self, generation: Generation, seconds: float) -> None:
        work = generation.tokens_generated + generation.tokens_evaluated * _PROMPT_TOKEN_COST
        self.token_seconds = seconds / max(1.0, work)
        if generation.tokens_generated and generation.text:
            self.chars_per_token = max(1.0, len(generation.text) / generation.tokens_generated)

    def generation_seconds(self, tokens: int) -> float:
        return (self.token_seconds or 0.0) * tokens

    def _char_seconds(self) -> float:
        cost = self._guess if self.score_cost is None else self.score_cost
        return (self.token_seconds or 0.0) * cost / self.chars_per_token

    def score_seconds(self, scored: Sequence[str], continuation: str) -> float:
        """One score's time after ``scored`` (in turn): ``ModelSession.continuation_logprobs`` knows the
        log-probabilities of the start it shares with any of them; the model's cache holds the start it shares
        with the last, and evaluates the rest of the shared start without scoring it (a prompt's pace)."""
        new, evaluated = _new_chars(scored, continuation)
        token = self.token_seconds or 0.0
        prompt = token * _PROMPT_TOKEN_COST / self.chars_per_token
        return token * _SCORE_CALL_COST + new * self._char_seconds() + evaluated * prompt

    def scored(self, chars: int, seconds: float) -> None:
        """A score's time, for ``chars`` new characters: what a scored token costs here."""
        if not self.token_seconds:
            return
        call = self.token_seconds * _SCORE_CALL_COST
        cost = max(0.0, seconds - call) / max(1, chars) * self.chars_per_token / self.token_seconds
        self.score_cost = cost if self.score_cost is None else (self.score_cost + cost) / 2

    def scoring_seconds(self, continuations: Sequence[str]) -> float:
        """The time to score these in turn."""
        return sum(self.score_seconds(continuations[:k], text) for k, text in enumerate(continuations))

    def tokens_fitting(self, continuations: Sequence[str], head_chars: int, seconds: float) -> int:
        """How many tokens a generation can write within ``seconds`` and leave the time to score
        ``continuations`` and itself (its text and ``head_chars`` more, sharing no start with them)."""
        left = seconds - self.scoring_seconds(continuations) - self.score_seconds((), "\0" * head_chars)
        per_token = self.generation_seconds(1) + self.chars_per_token * self._char_seconds()
        if per_token <= 0:
            return _UNTIMED_TOKENS if left >= 0 else 0
        return max(0, math.floor(left / per_token))

    def fitting(self, continuations: Sequence[str], seconds: float) -> list[int]:
        """The continuations to score within ``seconds``, in order: each that fits after the ones before it
        (the first must fit, or none is scored), or none when fewer than two fit: one score ranks nothing."""
        chosen: list[int] = []
        spent = 0.0
        for index, continuation in enumerate(continuations):
            cost = self.score_seconds([continuations[k] for k in chosen], continuation)
            if spent + cost > seconds:
                if not chosen:
                    return []
                continue
            chosen.append(index)
            spent += cost
        return chosen if len(chosen) > 1 else []


def _new_chars(scored: Sequence[str], continuation: str) -> tuple[int, int]:
    """The characters of ``continuation`` past the longest start it shares with one of ``scored``, and
    those of that start past what it shares with the last of them (evaluated again, not scored)."""
    known = max((_shared_start(before, continuation) for before in scored), default=0)
    cached = _shared_start(scored[-1], continuation) if scored else 0
    return len(continuation) - known, known - cached


def _shared_start(first: str, second: str) -> int:
    shared = 0
    for old, new in zip(first, second, strict=False):
        if old != new:
            break
        shared += 1
    return shared


def _matching_snapshot(request: CompletionRequest) -> ParsedText | None:
    """The request's parsed document frozen at the request's text; None if an edit has moved it on since.
    Pending edits are reparsed in the live document, once for every reader (a 1 MB reparse takes 0.5 s)."""
    if request.document is None:
        return None
    snapshot = request.document.snapshot()
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


def _cache_key(request: CompletionRequest) -> tuple[str, int, int]:
    """The exact cache's key of a place: the document, the text before the cursor and after it."""
    return request.uri, hash(request.text[: request.offset]), hash(request.text[request.offset :])


def _typed_into(shown: _Shown | None, before: str, after: str) -> str:
    """What the user typed at the place ``shown`` was worked out for, to reach ``before``|``after`` ("": not
    typed into it)."""
    if shown is None or after != shown.after or not before.startswith(shown.before):
        return ""
    return before[len(shown.before) :]


def _moved(completion: Completion, offset: int, typed: str) -> Completion | None:
    """A shown completion after the user typed ``typed`` into it: each of its suggestions that starts with
    what was typed and has more to show, minus that, in their order (the first that still fits comes first:
    typing into an alternative the editor cycled to keeps it); None when none fits."""
    shift = offset - completion.start
    items = (Alternative(completion.text, completion.end), *completion.alternatives)
    kept = [
        Alternative(item.text[len(typed) :], item.end + shift)
        for item in items
        if item.text.startswith(typed) and (not typed or item.text[len(typed) :].strip())
    ]
    if not kept:
        return None
    first, *others = kept
    return Completion(
        text=first.text,
        start=offset,
        end=first.end,
        multiline=completion.multiline,
        cached=True,
        raw=completion.raw,
        alternatives=tuple(others),
    )


def _alternatives(ranked: Sequence[_Candidate], best: _Candidate, limit: int) -> tuple[Alternative, ...]:
    """The next suggestions after ``best``, in ranked order: the best of each other generation (a shorter
    cut of a suggestion already offered is no alternative to it), each text new and not blank."""
    found: list[Alternative] = []
    texts = {best.suggestion.text}
    generations = [best.generation]
    for candidate in ranked:
        if len(found) >= limit:
            break
        text = candidate.suggestion.text
        if text in texts or not text.strip() or any(candidate.generation is g for g in generations):
            continue
        texts.add(text)
        generations.append(candidate.generation)
        found.append(Alternative(text, candidate.suggestion.replace_end))
    return tuple(found)


def _stop_rule(shape: CompletionShape, healed_chars: int, max_lines: int, below: str | None) -> StopRule:
    """When to stop generating (``syntax.shape.stops`` decides, in the worker): the end of the line for
    single-line shapes; for blocks a dedent, too many lines, a line that meets ``below`` (the document's next
    non-blank line) or repeats, or more statements than the shape allows."""
    if not shape.multiline:
        return StopRule("line", skip_chars=healed_chars)
    return StopRule("block", healed_chars, shape.indent, max_lines, statement_limit(shape), below)
