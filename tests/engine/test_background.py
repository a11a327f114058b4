"""Background work in idle time: the warm-up of a prompt (``CompletionEngine.warm``) and of a place (``warm_up``:
its first line, the whole prompt, the whole answer), and the next suggestion
worked out before it is asked (``CompletionEngine.prefetch_next``).

A scripted model that keeps a KV cache of the last prompt it saw (tokens evaluated = what it did not hold,
at least one, as llama.cpp re-evaluates the last token for fresh logits) tells what each call evaluated;
gates (events) hold a call inside the model while a request arrives, with no sleeps.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from completion.backend import CancelFlag, Generation, GenerationSpec
from completion.engine import Completion, CompletionEngine, CompletionOptions, CompletionRequest
from tests.engine.test_ranking import ScriptedModel

SITE = "def area(width, height):\n    |\n    return result\n"
GATE_S = 10.0  # a gate that is never opened fails the test after this long instead of hanging it


@dataclass
class CachingModel(ScriptedModel):
    """A scripted model with a one-prompt KV cache; ``hold(spec, cancel)`` runs as each call enters."""

    hold: Callable[[GenerationSpec, CancelFlag | None], None] = lambda spec, cancel: None
    cached: list[int] = field(default_factory=list)
    calls: list[tuple[int, int]] = field(default_factory=list)  # (max_tokens, tokens evaluated) per call

    def generate(
        self, tokens: list[int], spec: GenerationSpec, cancel: CancelFlag | None = None
    ) -> Generation:
        self.hold(spec, cancel)
        shared = next(
            (n for n, (a, b) in enumerate(zip(self.cached, tokens, strict=False)) if a != b),
            min(len(self.cached), len(tokens)),
        )
        evaluated = len(tokens) - min(shared, len(tokens) - 1)
        self.cached = list(tokens)
        self.calls.append((spec.max_tokens, evaluated))
        if cancel is not None and cancel.is_set():
            return Generation("", 0.0, len(tokens), evaluated, 0, "cancelled")
        if spec.max_tokens == 0:
            return Generation("", 0.0, len(tokens), evaluated, 0, "max_tokens")
        return dataclasses.replace(super().generate(tokens, spec, cancel), tokens_evaluated=evaluated)


@dataclass
class RemoteScripted(CachingModel):
    @property
    def info(self) -> SimpleNamespace:
        return SimpleNamespace(**{**vars(super().info), "api": "openai"})


def engine_for(model: ScriptedModel, **options: object) -> CompletionEngine:
    settings: dict[str, object] = {
        "parse_context": False,
        "time_budget_ms": 60_000,
        "candidates": 1,
        **options,
    }
    engine = CompletionEngine(CompletionOptions(**settings))  # type: ignore[arg-type]
    engine.model = model  # type: ignore[assignment]
    return engine


def at(text: str) -> CompletionRequest:
    """The request at ``|`` in ``text``."""
    return CompletionRequest(text.replace("|", "", 1), text.index("|"), "file:///m.py", "python", "m.py")


def model_for(*outputs: str, **fields: object) -> CachingModel:
    return CachingModel(list(outputs), likelihood=lambda text: 0.0, **fields)  # type: ignore[arg-type]


# --- warm-up ------------------------------------------------------------------------------------------------


def test_warm_up_evaluates_the_prompt_once_and_the_request_only_its_tail() -> None:
    model = model_for("result = width * height\n")
    engine = engine_for(model)
    warmed = engine.warm(at(SITE))
    assert warmed is not None and warmed.tokens_generated == 0 and warmed.stop_reason == "max_tokens"
    assert (
        model.calls == [(0, warmed.tokens_prompt)] and model.attempts == 0
    )  # evaluated whole, nothing written
    completion = engine.complete(at(SITE))
    assert completion is not None and completion.text == "result = width * height"
    assert completion.tokens_evaluated == 1 and completion.tokens_prompt == warmed.tokens_prompt
    assert engine.background_counts["warmUps"] == 1

    cold = engine_for(model_for("result = width * height\n")).complete(at(SITE))
    assert cold is not None and cold.tokens_evaluated == cold.tokens_prompt  # without it: the whole prompt


def test_a_request_arriving_during_warm_up_stops_it_and_runs_at_once() -> None:
    inside, stopped = threading.Event(), threading.Event()

    def hold(spec: GenerationSpec, cancel: CancelFlag | None) -> None:
        if spec.max_tokens == 0:  # the warm-up: wait inside the model until a request stops it
            inside.set()
            assert isinstance(cancel, threading.Event) and cancel.wait(GATE_S)
            stopped.set()

    model = model_for("result = width * height\n", hold=hold)
    engine = engine_for(model)
    warmed: list[Generation | None] = []
    warming = threading.Thread(target=lambda: warmed.append(engine.warm(at(SITE))))
    warming.start()
    assert inside.wait(GATE_S)
    assert engine.warm(at(SITE)) is None  # one at a time: a second one does not start
    completion = engine.complete(at(SITE))
    warming.join(GATE_S)
    assert stopped.is_set() and completion is not None and completion.text == "result = width * height"
    assert warmed and warmed[0] is not None and warmed[0].stop_reason == "cancelled"
    assert [max_tokens for max_tokens, _ in model.calls] == [0, engine.options.max_tokens]
    assert engine.background_counts == {"warmUps": 0, "prefetched": 0, "cancelled": 1}


def test_warm_up_never_takes_the_model_a_request_holds() -> None:
    model = model_for("result = width * height\n")
    engine = engine_for(model)
    with model.lock:  # a request (or a syntax fix) is using the model
        assert engine.warm(at(SITE)) is None
    assert model.calls == []
    cancel = threading.Event()
    cancel.set()
    assert engine.warm(at(SITE), cancel) is None and model.calls == []  # stopped before it began


def test_warm_up_is_local_only_and_can_be_turned_off() -> None:
    remote = RemoteScripted(["result = 1\n"], likelihood=lambda text: 0.0)
    assert engine_for(remote).warm(at(SITE)) is None and remote.calls == []
    local = model_for("result = 1\n")
    assert engine_for(local, warm_up=False).warm(at(SITE)) is None and local.calls == []
    hybrid = CompletionEngine(CompletionOptions(parse_context=False))
    hybrid.set_model(remote, model_for("result = 1\n"))  # type: ignore[arg-type]
    fallback = hybrid._fallback
    assert hybrid.warm(at(SITE)) is not None and remote.calls == []  # hybrid: the local model only
    assert fallback is not None and fallback.model.calls  # type: ignore[attr-defined]


# --- the next suggestion ------------------------------------------------------------------------------------


def test_the_next_suggestion_is_served_after_acceptance_with_no_model_run() -> None:
    model = model_for("result = width * height\n", "  # the area\n")
    engine = engine_for(model)
    request = at(SITE)
    shown = engine.complete(request)
    assert shown is not None and shown.text == "result = width * height"
    following = engine.prefetch_next(request, shown)
    assert following is not None and following.text == "  # the area" and model.attempts == 2
    assert engine.history[-1]["cached"] is False and len(engine.history) == 1  # the prefetch is no request
    accepted = at("def area(width, height):\n    result = width * height|\n    return result\n")
    assert engine.accepted(request, shown) == dataclasses.replace(accepted, document=None)
    served = engine.complete(accepted)
    assert served is not None and served.cached and served.text == "  # the area"
    assert model.attempts == 2 and engine.history[-1]["cached"] is True
    # typing into it is served too: the prefetched suggestion became the one shown
    typed = engine.complete(
        at("def area(width, height):\n    result = width * height |\n    return result\n")
    )
    assert typed is not None and typed.cached and typed.text == " # the area" and model.attempts == 2
    assert engine.prefetch_next(request, shown) == following and model.attempts == 2  # known: no run again


def test_partial_acceptance_is_served_by_the_suggestion_typed_into() -> None:
    body = "width = abs(width)\n    result = width * height\n"
    model = model_for(body)
    engine = engine_for(model, max_items=1)
    shown = engine.complete(at(SITE))
    assert shown is not None and shown.text == body.rstrip("\n")
    word = engine.complete(at("def area(width, height):\n    width|\n    return result\n"))
    assert word is not None and word.cached and word.text == " = abs(width)\n    result = width * height"
    line = engine.complete(at("def area(width, height):\n    width = abs(width)\n    |\n    return result\n"))
    assert line is not None and line.cached and line.text == "result = width * height"
    assert model.attempts == 1


def test_a_request_during_the_prefetch_stops_it_and_nothing_is_kept() -> None:
    inside = threading.Event()
    holding = threading.Event()

    def hold(spec: GenerationSpec, cancel: CancelFlag | None) -> None:
        if holding.is_set():
            holding.clear()
            inside.set()
            assert isinstance(cancel, threading.Event) and cancel.wait(GATE_S)

    model = model_for("result = width * height\n", "  # the area\n", hold=hold)
    engine = engine_for(model)
    request = at(SITE)
    shown = engine.complete(request)
    assert shown is not None
    holding.set()
    kept: list[Completion | None] = []
    prefetching = threading.Thread(target=lambda: kept.append(engine.prefetch_next(request, shown)))
    prefetching.start()
    assert inside.wait(GATE_S)
    other = engine.complete(at("def area(width, height):\n    |\n"))  # the user went elsewhere
    prefetching.join(GATE_S)
    assert other is not None and kept == [None]
    assert engine.cached(engine.accepted(request, shown)) is None  # a cut-short answer is not kept
    assert engine.background_counts["cancelled"] == 1


def test_the_next_suggestion_is_local_only_and_can_be_turned_off() -> None:
    model = model_for("result = width * height\n", "  # the area\n")
    engine = engine_for(model, prefetch_next=False)
    request = at(SITE)
    shown = engine.complete(request)
    assert shown is not None and engine.prefetch_next(request, shown) is None and model.attempts == 1
    remote = RemoteScripted(["result = 1\n"], likelihood=lambda text: 0.0)
    remote_engine = engine_for(remote)
    assert remote_engine.prefetch_next(request, shown) is None and remote.calls == []


def test_a_next_suggestion_begun_before_the_caches_were_cleared_is_not_kept() -> None:
    engine: CompletionEngine | None = None
    model = model_for("result = width * height\n", "  # the area\n")

    def new_settings(spec: GenerationSpec, cancel: CancelFlag | None) -> None:
        if model.attempts == 1 and engine is not None:  # the prefetch: settings change meanwhile
            engine.clear_cache()

    model.hold = new_settings
    engine = engine_for(model)
    request = at(SITE)
    shown = engine.complete(request)
    assert shown is not None
    found = engine.prefetch_next(request, shown)
    assert found is not None and model.attempts == 2  # it ran ...
    assert engine.cached(engine.accepted(request, shown)) is None  # ... for a model or settings gone


# --- the first line first -----------------------------------------------------------------------------------


@dataclass
class StoppingModel(CachingModel):
    """Writes its script only as far as the generation's stop rule lets it (a one-line generation stops at
    the end of its first line)."""

    def generate(
        self, tokens: list[int], spec: GenerationSpec, cancel: CancelFlag | None = None
    ) -> Generation:
        whole = super().generate(tokens, spec, cancel)
        text = whole.text
        stop = spec.stop
        end = next((n for n in range(1, len(text) + 1) if stop is not None and stop(text[:n])), len(text))
        return dataclasses.replace(whole, text=text[:end])


BODY = "width = abs(width)\n    result = width * height\n"


def test_a_warm_up_keeps_the_first_line_then_the_whole_answer() -> None:
    model = StoppingModel([BODY], likelihood=lambda text: 0.0)
    engine = engine_for(model)
    found = engine.warm_up(at(SITE))
    assert found is not None and found.text == BODY.rstrip("\n")
    # the first line, the whole prompt evaluated, the whole body
    assert [max_tokens for max_tokens, _ in model.calls] == [96, 0, 96] and model.attempts == 2
    served = engine.complete(at(SITE))
    assert served is not None and served.cached and served.text == BODY.rstrip("\n")
    typed = engine.complete(at(SITE.replace("|", "wi|")))  # typed into: served from what was worked out
    assert typed is not None and typed.cached and typed.text.startswith("dth = abs(width)\n")
    assert model.attempts == 2


def test_a_first_line_served_before_the_whole_answer_stays_what_is_shown() -> None:
    engine: CompletionEngine | None = None
    served: list[Completion | None] = []

    def between(spec: GenerationSpec, cancel: CancelFlag | None) -> None:
        if spec.max_tokens == 0 and engine is not None:  # after the first line: the user asks there
            served.append(engine.cached(at(SITE)))

    model = StoppingModel([BODY], likelihood=lambda text: 0.0, hold=between)
    engine = engine_for(model)
    engine.warm_up(at(SITE))
    assert served and served[0] is not None and served[0].text == "width = abs(width)"
    again = engine.cached(at(SITE))
    assert again is not None and again.text == "width = abs(width)"  # the whole answer did not replace it


def test_the_next_suggestion_tells_when_its_first_answer_is_kept() -> None:
    model = StoppingModel(["result = width * height\n", "\n    return result\n"], likelihood=lambda text: 0.0)
    engine = engine_for(model)
    request = at("def area(width, height):\n    |\n")
    shown = engine.complete(request)
    assert shown is not None
    readies: list[bool] = []
    following = engine.prefetch_next(request, shown, ready=lambda: readies.append(True))
    assert following is not None and following.text == "\n    return result" and readies == [True]


def test_a_first_line_with_nothing_to_show_still_leaves_the_whole_answer_to_work_out() -> None:
    # the greedy first line repeats the line below (nothing to show); the whole answer is worked out anyway
    model = StoppingModel(["return result\n", "result = width * height\n"], likelihood=lambda text: 0.0)
    engine = engine_for(model)
    found = engine._ahead_of_time(at(SITE), None, "prefetched")
    assert found is not None and found.text == "result = width * height" and model.attempts == 2
    served = engine.complete(at(SITE))
    assert served is not None and served.cached and model.attempts == 2


def test_a_warm_up_with_nothing_to_show_is_still_counted() -> None:
    model = StoppingModel(["return result\n"], likelihood=lambda text: 0.0)  # repeats the line below
    engine = engine_for(model)
    assert engine.warm_up(at(SITE)) is None
    assert engine.background_counts == {"warmUps": 1, "prefetched": 0, "cancelled": 0}
    assert [max_tokens for max_tokens, _ in model.calls] == [96, 0, 96]  # it evaluated the whole prompt


# --- nothing to show: known, not asked again ---------------------------------------------------------------

AFTER_RESULT = "def area(width, height):\n    result = width * height|\n    return result\n"


def test_nothing_to_show_after_acceptance_is_known_with_no_model_run() -> None:
    """The next suggestion worked out ahead repeats the line below (nothing to show): the request after
    accepting is answered at once with nothing, instead of generating the same line again."""
    model = model_for("result = width * height\n", "\n    return result\n")
    engine = engine_for(model)
    request = at(SITE)
    shown = engine.complete(request)
    assert shown is not None and shown.text == "result = width * height"
    assert engine.prefetch_next(request, shown) is None and model.attempts == 2
    assert engine.complete(at(AFTER_RESULT)) is None and model.attempts == 2  # no model run
    assert engine.history[-1]["cached"] is True
    assert engine.prefetch_next(request, shown) is None and model.attempts == 2  # known: not worked out again
    invoked = dataclasses.replace(at(AFTER_RESULT), invoked=True)
    assert engine.complete(invoked) is None and model.attempts == 3  # the user asks: the model is asked


def test_a_request_with_nothing_to_show_is_not_generated_again_at_that_place() -> None:
    model = model_for("    return result\n")  # the line below: nothing to show
    engine = engine_for(model)
    assert engine.complete(at(SITE)) is None and model.attempts == 1
    assert engine.complete(at(SITE)) is None and model.attempts == 1
    typed = engine.complete(at("def area(width, height):\n    r|\n    return result\n"))
    assert typed is None and model.attempts == 2  # elsewhere: asked


@dataclass
class CutShortModel(CachingModel):
    """Every generation ends at the time budget."""

    def generate(
        self, tokens: list[int], spec: GenerationSpec, cancel: CancelFlag | None = None
    ) -> Generation:
        return dataclasses.replace(super().generate(tokens, spec, cancel), stop_reason="deadline")


def test_nothing_shown_for_a_generation_cut_short_is_asked_again() -> None:
    """Nothing to show because the budget ran out is no answer: with the prompt cached, the next try may
    finish."""
    model = CutShortModel(["    return result\n"], likelihood=lambda text: 0.0)
    engine = engine_for(model)
    assert engine.complete(at(SITE)) is None and model.attempts == 1
    assert engine.complete(at(SITE)) is None and model.attempts == 2
