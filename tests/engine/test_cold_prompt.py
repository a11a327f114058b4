"""A cold prompt is cut to what the model can evaluate within completion.coldPromptMs, and grows back.

A scripted token model (one token per character, a KV cache that holds the last prompt it evaluated, a fixed
prompt speed) stands in for llama.cpp, so these tests pin the engine's choices; the real default model is
checked at the end of the file.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from completion.backend import Generation, GenerationSpec, PromptCost
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.fim import TEMPLATES, PromptPiece
from completion.model import ModelSession

BODY = "".join(f"def helper_{n}(value):\n    return value * {n} + {n + 1}\n\n" for n in range(60))
SITE = BODY + "def main():\n    total = "
WHOLE = 2500  # a prompt longer than this is whole (the cut ones are a few hundred characters)


@dataclass
class TimedModel:
    """Evaluates ``token_s`` seconds a token it has not cached (its cache: the last prompt it was given)."""

    token_s: float = 0.001
    fim: object | None = None
    text: str = "helper_1(2)\n"
    whole_text: str | None = None  # what it writes from a whole (uncut) prompt, where that differs
    lock: threading.Lock = field(default_factory=threading.Lock)
    cached: list[int] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    costs_asked: int = 0

    @property
    def info(self) -> SimpleNamespace:
        return SimpleNamespace(
            fim=self.fim, end_of_middle=None, heals=True, scores=True, logprobs=True, api="local"
        )

    def tokenize(self, pieces: Sequence[PromptPiece], add_bos: bool) -> list[int]:
        return [ord(char) for piece in pieces for char in piece.text]

    def _uncached(self, tokens: list[int]) -> int:
        shared = 0
        for old, new in zip(self.cached, tokens, strict=False):
            if old != new:
                break
            shared += 1
        return len(tokens) - shared

    def prompt_cost(self, tokens: list[int]) -> PromptCost:
        self.costs_asked += 1
        uncached = self._uncached(tokens)
        return PromptCost(uncached, uncached * self.token_s)

    def generate(self, tokens: list[int], spec: GenerationSpec, cancel: object = None) -> Generation:
        self.prompts.append("".join(map(chr, tokens)))
        evaluated = self._uncached(tokens)
        self.cached = list(tokens)
        written = self.whole_text if self.whole_text is not None and len(tokens) > WHOLE else self.text
        text = "" if spec.max_tokens == 0 else spec.healed.decode() + written
        return Generation(text, -1.0, len(tokens), evaluated, len(text), "eog")

    def continuation_logprobs(self, context: list[int], continuation: Sequence[int]) -> list[float]:
        return [-1.0]

    def forget_prompt(self) -> None:
        self.cached = []


def engine_for(model: TimedModel, **options: object) -> CompletionEngine:
    settings: dict[str, object] = {
        "time_budget_ms": 60_000,
        "candidates": 1,
        "token_healing": False,
        **options,
    }
    engine = CompletionEngine(CompletionOptions(**settings))  # type: ignore[arg-type]
    engine.model = model  # type: ignore[assignment]
    return engine


def request_at(text: str, **fields: object) -> CompletionRequest:
    return CompletionRequest(text, len(text), uri="file:///m.py", language_id="python", path="m.py", **fields)  # type: ignore[arg-type]


def test_a_cold_prompt_is_cut_to_the_nearest_lines_that_fit() -> None:
    model = TimedModel()
    engine = engine_for(model)
    whole = engine.build_prompt(request_at(SITE)).text()
    completion = engine.complete(request_at(SITE))
    assert completion is not None and completion.prompt_cut
    assert completion.text == "helper_1(2)"
    cut = model.prompts[-1]
    assert SITE.endswith(cut.split("\n", 1)[1])  # the lines right before the cursor, after the path line
    assert len(cut) * model.token_s <= 0.25 < len(whole) * model.token_s
    assert "def helper_59(value):\n    return value * 59 + 60\n\ndef main():\n    total = " in cut
    assert "helper_0(" not in cut  # nothing from the top of the file: no context, no far lines


def test_a_prompt_the_model_has_cached_is_not_cut() -> None:
    model = TimedModel()
    engine = engine_for(model)
    model.cached = model.tokenize(engine.build_prompt(request_at(SITE)).pieces, add_bos=True)
    completion = engine.complete(request_at(SITE))
    assert completion is not None and not completion.prompt_cut
    assert len(model.prompts[-1]) > 2500


def test_a_cold_prompt_that_fits_and_zero_leave_the_prompt_whole() -> None:
    fast = TimedModel(token_s=0.00001)
    completion = engine_for(fast).complete(request_at(SITE))
    assert completion is not None and not completion.prompt_cut
    never = TimedModel()
    completion = engine_for(never, cold_prompt_ms=0).complete(request_at(SITE))
    assert completion is not None and not completion.prompt_cut
    assert never.costs_asked == 0  # off: the model is not even asked


def test_an_invoke_may_take_half_of_the_time_budget() -> None:
    # the whole prompt costs ~0.6 s at 0.0002 s a character: over 250 ms, under half of a 2 s budget
    model = TimedModel(token_s=0.0002)
    engine = engine_for(model, time_budget_ms=2000)
    assert len(engine.build_prompt(request_at(SITE)).text()) * model.token_s < 1.0
    invoked = engine.complete(request_at(SITE, invoked=True))
    assert invoked is not None and not invoked.prompt_cut
    model.cached = []
    engine.clear_cache()
    typed = engine.complete(request_at(SITE))
    assert typed is not None and typed.prompt_cut


def test_typing_on_a_line_keeps_the_cut_prompts_start() -> None:
    model = TimedModel()
    engine = engine_for(model, reuse=True)
    starts = set()
    for typed in ("h", "he", "hel", "help"):
        engine.clear_cache()
        engine.complete(request_at(SITE + typed))
        assert len(model.prompts[-1]) < 300  # cut
        starts.add(model.prompts[-1].split("\n")[1])  # the first line of the window after the path line
    assert len(starts) == 1


def test_background_work_evaluates_the_whole_prompt_and_requests_then_use_it() -> None:
    model = TimedModel()
    engine = engine_for(model)
    first = engine.complete(request_at(SITE))
    assert first is not None and first.prompt_cut
    warmed = engine.warm(request_at(SITE), threading.Event())
    assert warmed is not None and warmed.tokens_evaluated > 2500  # the whole prompt, never cut
    engine.clear_cache()
    model.text = "elper_1(2)\n"
    again = engine.complete(request_at(SITE + "h"))
    assert again is not None and not again.prompt_cut
    assert len(model.prompts[-1]) > 2500


def test_a_fim_prompt_is_cut_on_both_sides_of_the_cursor() -> None:
    model = TimedModel(fim=TEMPLATES["qwen2.5-coder"])
    engine = engine_for(model)
    text = SITE + "\n" + BODY
    request = CompletionRequest(text, len(SITE), uri="file:///m.py", language_id="python", path="m.py")
    completion = engine.complete(request)
    assert completion is not None and completion.prompt_cut
    cut = model.prompts[-1]
    suffix = cut.split("<|fim_suffix|>", 1)[1].split("<|fim_middle|>", 1)[0]
    assert 0 < len(suffix) < len(cut) / 2 and text[len(SITE) :].startswith(suffix)


def test_the_real_model_cuts_a_cold_prompt_to_its_measured_speed_and_grows_it_back(
    default_model: ModelSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default model's own estimate sizes the cut; once warm-up has evaluated the whole prompt, the next
    request there uses it. (What the model writes from two lines of context is not the point here.)"""
    default_model.self_check()  # as the worker does before it reports ready: the prompt speed is measured
    default_model.forget_prompt()
    runs: list[Generation] = []
    generate = default_model.generate

    def recorded(tokens: list[int], spec: GenerationSpec, cancel: object = None) -> Generation:
        generation = generate(tokens, spec, cancel)  # type: ignore[arg-type]
        runs.append(generation)
        return generation

    monkeypatch.setattr(default_model, "generate", recorded)
    engine = CompletionEngine(CompletionOptions(candidates=1, cold_prompt_ms=250))
    engine.model = default_model
    request = CompletionRequest(SITE, len(SITE), uri="file:///m.py", language_id="python", path="m.py")
    whole = len(default_model.tokenize(engine.build_prompt(request).pieces, add_bos=True))
    assert whole > 600
    engine.complete(request)
    assert runs and runs[0].tokens_prompt < whole / 3  # ~250 ms of prompt at the measured speed
    assert engine.warm(request, threading.Event()) is not None
    assert runs[-1].tokens_prompt == whole and runs[-1].tokens_generated == 0  # warm-up: the whole prompt
    engine.clear_cache()
    engine.complete(request)
    assert runs[-1].tokens_prompt == whole and runs[-1].tokens_evaluated <= 1  # used whole, as it is cached


def test_a_cold_warm_up_works_out_a_first_line_on_a_cut_prompt_then_the_whole_prompt_and_answer() -> None:
    """A file just opened: within a second there is a suggestion at the cursor (from the nearest lines), then
    the whole prompt is evaluated and the suggestion worked out again with it, for the request to come."""
    model = TimedModel()
    engine = engine_for(model)
    request = request_at(SITE)
    found = engine.warm_up(request, threading.Event())
    assert found is not None and found.text == "helper_1(2)"
    first, evaluated, whole = model.prompts
    assert len(first) < 300 < len(SITE) < len(evaluated) == len(whole)  # cut; then the whole prompt twice
    assert engine.background_counts["warmUps"] == 1
    served = engine.complete(request_at(SITE + "h"))  # the user types into it: no model run
    assert served is not None and served.cached and served.text == "elper_1(2)" and len(model.prompts) == 3


def test_the_next_suggestion_from_a_cut_prompt_grows_the_prompt_back_and_is_worked_out_again() -> None:
    """The user reads a suggestion that came from a cut prompt: the next one is worked out on the same cut
    first (nothing to show there: no waiting on the rest), then the whole prompt is evaluated and the next
    suggestion worked out again with it; that is what the request after accepting gets."""
    model = TimedModel()
    engine = engine_for(model)
    request = request_at(SITE)
    shown = engine.complete(request)
    assert shown is not None and shown.prompt_cut and shown.text == "helper_1(2)"
    model.text, model.whole_text = "", "\n    return total\n"  # nothing from the nearest lines alone
    ready: list[int] = []
    following = engine.prefetch_next(request, shown, threading.Event(), ready=lambda: ready.append(1))
    assert ready == [1]  # (called after the first phase: nothing to show on this line yet)
    assert [len(prompt) > WHOLE for prompt in model.prompts] == [False, False, True, True]
    assert following is not None and following.text == "\n    return total"
    accepted = engine.accepted(request, shown)
    served = engine.complete(accepted)
    assert served is not None and served.cached and served.text == "\n    return total"
    assert len(model.prompts) == 4  # no model run
    after = engine.complete(request_at(accepted.text + "\n    r"))
    assert after is not None and not after.prompt_cut  # the whole prompt is cached now: no cut
