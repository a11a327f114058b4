"""Candidate ranking: several suggestions per request, the one that makes the document most likely wins.

The engine is driven by a scripted stand-in for the model (its texts and likelihoods are chosen per test), so
these tests pin the engine's choices; the real model's scoring is checked against its own token-by-token
evaluation at the end of the file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from completion import engine as engine_module
from completion.backend import Generation, GenerationSpec, PromptCost
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest
from completion.fim import TEMPLATES, PromptPiece
from completion.model import ModelSession

END_OF_MIDDLE = 0x10FFFF + 1  # a token id no character maps to


@dataclass
class ScriptedModel:
    """Writes ``outputs[attempt]`` and scores a continuation with ``likelihood(continuation text)``."""

    outputs: list[str]
    likelihood: Callable[[str], float]
    fim: object | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_generate: Callable[[], None] = lambda: None
    scored: list[str] = field(default_factory=list)
    forced: list[str] = field(default_factory=list)
    attempts: int = 0

    @property
    def info(self) -> SimpleNamespace:
        return SimpleNamespace(
            fim=self.fim, end_of_middle=END_OF_MIDDLE, heals=True, scores=True, logprobs=True, api="local"
        )

    def tokenize(self, pieces: Sequence[PromptPiece], add_bos: bool) -> list[int]:
        return [ord(char) for piece in pieces for char in piece.text]

    def forget_prompt(self) -> None:
        pass

    def generate(self, tokens: list[int], spec: GenerationSpec, cancel: object = None) -> Generation:
        """The scripted output; after a forced start (prompt text it begins with), the rest of it."""
        text = self.outputs[min(self.attempts, len(self.outputs) - 1)]
        self.attempts += 1
        self.on_generate()
        prompt = "".join(map(chr, tokens))
        forced = next((text[:n] for n in range(len(text), 0, -1) if prompt.endswith(text[:n].rstrip())), "")
        if forced.strip():
            self.forced.append(forced.rstrip())
            text = text[len(forced.rstrip()) :]
        text = spec.healed.decode() + text  # a healing model re-types what the prompt held back
        return Generation(text, -1.0, len(tokens), len(tokens), len(text), "eog")

    def continuation_logprobs(self, context: list[int], continuation: Sequence[int]) -> list[float]:
        text = "".join("<END>" if token == END_OF_MIDDLE else chr(token) for token in continuation)
        self.scored.append(text)
        return [self.likelihood(text)]

    def prompt_cost(self, tokens: list[int]) -> PromptCost:
        return PromptCost(len(tokens), None)  # nothing is cached; untimed


def complete(model: ScriptedModel, text: str, **options: object) -> str | None:
    """The suggestion shown at ``|`` in ``text``."""
    settings: dict[str, object] = {"parse_context": False, "time_budget_ms": 60_000, **options}
    engine = CompletionEngine(CompletionOptions(**settings))  # type: ignore[arg-type]
    engine.model = model  # type: ignore[assignment]
    offset = text.index("|")
    document = text.replace("|", "", 1)
    completion = engine.complete(CompletionRequest(document, offset, language_id="python", path="m.py"))
    return None if completion is None else completion.text


CALL_SITE = "def area(width, height):\n    |\n    return result\n"


def test_the_candidate_that_fits_the_code_below_wins() -> None:
    model = ScriptedModel(
        ["total = width * height\n", "result = width * height\n"],
        likelihood=lambda text: 0.0 if text.startswith("result =") else -5.0,
    )
    assert complete(model, CALL_SITE) == "result = width * height"
    # the code after the suggestion, and the end of the document right after it
    assert all(scored.endswith("\n    return result\n<END>") for scored in model.scored)


def test_only_the_first_lines_after_the_cursor_are_scored() -> None:
    site = CALL_SITE + "".join(f"\n\ndef helper_{n}():\n    pass\n" for n in range(5))
    model = ScriptedModel(
        ["total = width * height\n", "result = width * height\n"],
        likelihood=lambda text: 0.0 if text.startswith("result =") else -5.0,
    )
    assert complete(model, site) == "result = width * height"
    assert model.scored and all(text.endswith("\n    return result\n\n") for text in model.scored)


def test_one_candidate_means_greedy_only() -> None:
    model = ScriptedModel(
        ["total = width * height\n", "result = width * height\n"],
        likelihood=lambda text: 0.0 if text.startswith("result =") else -5.0,
    )
    assert complete(model, CALL_SITE, candidates=1) == "total = width * height"
    assert model.attempts == 1 and model.scored == []


def test_typing_within_a_line_runs_one_candidate_unless_asked_for_more() -> None:
    site = "def area(width, height):\n    result = |\n    return result\n"
    model = ScriptedModel(["width * height\n", "height * width\n"], likelihood=lambda text: 0.0)
    assert complete(model, site) == "width * height"
    assert model.attempts == 1
    more = ScriptedModel(["width * height\n", "height * width\n"], likelihood=lambda text: 0.0)
    complete(more, site, mid_line_candidates=2)
    assert more.attempts == 2 and len(more.scored) == 2


def test_no_time_left_shows_the_first_candidate_unscored(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    model = ScriptedModel(
        ["total = width * height\n", "result = width * height\n"],
        likelihood=lambda text: 0.0 if text.startswith("result =") else -5.0,
        on_generate=lambda: clock.__setitem__(0, clock[0] + 1.0),  # each generation takes a second
    )
    monkeypatch.setattr(engine_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    assert complete(model, CALL_SITE, time_budget_ms=1500) == "total = width * height"
    # a second generation like the first would end past the budget: it is not started (engine.RankingLimits)
    assert model.attempts == 1 and model.scored == []


def test_only_checked_text_is_ranked() -> None:
    model = ScriptedModel(
        ["result = max(width *\n", "total = width * height\n"],
        likelihood=lambda text: 0.0 if "(" in text else -5.0,
    )
    shown = complete(model, CALL_SITE)
    assert shown is not None and "(" not in shown
    assert model.scored and not any("(" in text for text in model.scored)


def test_multi_line_output_is_ranked_with_its_shorter_cuts() -> None:
    body = "width = abs(width)\n    result = width * height\n    print(result)\n"
    site = "def area(width, height):\n    |\n    return result\n"
    model = ScriptedModel([body], likelihood=lambda text: -float(abs(text.count("\n") - 3)))
    shown = complete(model, site, candidates=1)
    assert shown == "width = abs(width)\n    result = width * height"
    assert len(model.scored) == 3  # three lines, two lines, one line


def test_a_name_the_code_below_needs_gets_a_candidate_that_defines_it() -> None:
    site = "def mean(values):\n|\n    for value in values:\n        total += value\n    return total / len(values)\n"
    model = ScriptedModel(
        ["    print(values)\n", "    total = 0\n"],
        likelihood=lambda text: 0.0 if text.startswith("    total = 0") else -5.0,
    )
    assert complete(model, site, candidates=2) == "    total = 0"
    assert model.forced == ["    total ="]


def test_no_forced_start_for_a_name_a_candidate_already_defines() -> None:
    site = "def mean(values):\n|\n    for value in values:\n        total += value\n    return total\n"
    model = ScriptedModel(["    total = 0\n", "    count = 0\n"], likelihood=lambda text: 0.0)
    complete(model, site, candidates=2)
    assert model.forced == []


def test_fim_models_score_the_end_of_the_middle_instead_of_the_suffix() -> None:
    model = ScriptedModel(
        ["total = width * height\n", "result = width * height\n"],
        likelihood=lambda text: 0.0 if text.startswith("result =") else -5.0,
        fim=TEMPLATES["qwen2.5-coder"],
    )
    assert complete(model, CALL_SITE) == "result = width * height"
    assert model.scored and all(text.endswith("<END>") and "return" not in text for text in model.scored)


# --- the real model's scores -----------------------------------------------------------------------------------


def _tokens(model: ModelSession, text: str, bos: bool) -> list[int]:
    return model.tokenize([PromptPiece(text, special=False)], add_bos=bos)


@pytest.mark.default_model
def test_batch_scores_match_token_by_token_evaluation(default_model: ModelSession) -> None:
    context = _tokens(default_model, "def add(a, b):\n    return", bos=True)
    continuation = _tokens(default_model, " a + b\n\n\ndef sub(a, b):", bos=False)
    with default_model.lock:
        batched = default_model.continuation_logprobs(context, continuation)
        stepwise = []
        for index in range(len(continuation)):
            prefix = context + continuation[:index]
            stepwise.append(default_model.continuation_logprobs(prefix, continuation[index : index + 1])[0])
    assert len(batched) == len(continuation)
    assert batched == pytest.approx(stepwise, abs=0.3)  # batch shapes round differently (see below)
    assert all(value <= 0 for value in batched)


@pytest.mark.default_model
def test_likely_code_scores_higher_and_generation_is_unchanged_after_scoring(
    default_model: ModelSession,
) -> None:
    context = _tokens(default_model, "def add(a, b):\n    return a +", bos=True)
    with default_model.lock:
        before = default_model.generate(context, GenerationSpec(max_tokens=6))
        likely = sum(default_model.continuation_logprobs(context, _tokens(default_model, " b\n", bos=False)))
        unlikely = sum(
            default_model.continuation_logprobs(context, _tokens(default_model, " zebra(\n", bos=False))
        )
        after = default_model.generate(context, GenerationSpec(max_tokens=6))
    assert likely > unlikely
    assert after.text == before.text


@pytest.mark.default_model
def test_a_cut_scored_after_its_longer_form_gets_the_same_scores(default_model: ModelSession) -> None:
    context = _tokens(default_model, "def add(a, b):\n", bos=True)
    longer = _tokens(default_model, "    total = a + b\n    print(total)\n    return total\n", bos=False)
    shorter = _tokens(default_model, "    total = a + b\n    return total\n", bos=False)
    unrelated = _tokens(default_model, "    pass\n", bos=False)
    with default_model.lock:
        default_model.continuation_logprobs(context, unrelated)
        fresh = default_model.continuation_logprobs(context, shorter)
        default_model.continuation_logprobs(context, longer)
        reused = default_model.continuation_logprobs(context, shorter)
    # llama.cpp's CPU kernels round differently for different batch shapes (~0.2 nats on this Q4 model);
    # a cache bug (stale positions, a wrong prefix) moves log-probabilities by whole nats.
    assert reused == pytest.approx(fresh, abs=0.3)


class _CancelAfter:
    """A cancel flag that turns on after it has been read ``reads`` times (a keystroke mid-prompt)."""

    def __init__(self, reads: int) -> None:
        self.left = reads

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


@pytest.mark.default_model
def test_a_cancelled_cold_prompt_stops_between_chunks_and_keeps_what_it_evaluated(
    default_model: ModelSession,
) -> None:
    prompt = _tokens(default_model, "".join(f"value_{n} = {n} * 3\n" for n in range(120)), bos=True)
    assert len(prompt) > 600
    with default_model.lock:
        default_model.forget_prompt()
        stopped = default_model.generate(prompt, GenerationSpec(max_tokens=4), _CancelAfter(1))
        resumed = default_model.generate(prompt, GenerationSpec(max_tokens=4))
    assert stopped.stop_reason == "cancelled" and stopped.text == ""
    assert 0 < stopped.tokens_evaluated < len(prompt) // 2
    assert resumed.tokens_evaluated == len(prompt) - stopped.tokens_evaluated
