"""Ranking within the time budget: later candidates get a token cap and a share of the time that leaves room
for the scores, only the scores that fit run, and without time for a ranking the greedy candidate comes at once.

A paced stand-in for the model moves a fake clock by a scripted cost per generated and per scored token (one
character is one token), so the budget rules are checked without sleeping or timing anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from completion import engine as engine_module
from completion.backend import Generation, GenerationSpec, PromptCost
from completion.engine import CompletionEngine, CompletionOptions, CompletionRequest, RankingLimits, _Pace
from completion.fim import PromptPiece
from completion.model import ModelSession

END_OF_MIDDLE = 0x10FFFF + 1


@dataclass
class Clock:
    now: float = 0.0

    def monotonic(self) -> float:
        return self.now


@dataclass
class PacedModel:
    """Writes ``outputs[attempt]`` at ``token_seconds`` a token (as far as ``max_tokens`` and the time limit
    let it) and scores a continuation with ``likelihood(text)`` at ``score_seconds`` a token."""

    outputs: list[str]
    clock: Clock
    likelihood: Callable[[str], float] = lambda text: 0.0
    token_seconds: float = 0.01
    score_seconds: float = 0.0035
    logprob: float = -1.0  # per generated token
    lock: threading.Lock = field(default_factory=threading.Lock)
    specs: list[GenerationSpec] = field(default_factory=list)
    scored: list[str] = field(default_factory=list)

    @property
    def info(self) -> SimpleNamespace:
        return SimpleNamespace(
            fim=None, end_of_middle=END_OF_MIDDLE, heals=True, scores=True, logprobs=True, api="local"
        )

    def tokenize(self, pieces: Sequence[PromptPiece], add_bos: bool) -> list[int]:
        return [ord(char) for piece in pieces for char in piece.text]

    def forget_prompt(self) -> None:
        pass

    def prompt_cost(self, tokens: list[int]) -> PromptCost:
        return PromptCost(0, None)  # warm

    def generate(self, tokens: list[int], spec: GenerationSpec, cancel: object = None) -> Generation:
        text = spec.healed.decode() + self.outputs[min(len(self.specs), len(self.outputs) - 1)]
        self.specs.append(spec)
        count, reason = min(len(text), spec.max_tokens), "eog"
        if count < len(text):
            reason = "max_tokens"
        stop = next((n for n in range(1, count + 1) if spec.stop is not None and spec.stop(text[:n])), None)
        if stop is not None:
            count, reason = stop, "stop"
        if spec.time_limit_s is not None and count * self.token_seconds > spec.time_limit_s:
            count, reason = int(spec.time_limit_s / self.token_seconds), "deadline"
        self.clock.now += count * self.token_seconds
        return Generation(text[:count], self.logprob * count, len(tokens), 1, count, reason)

    def continuation_logprobs(self, context: list[int], continuation: Sequence[int]) -> list[float]:
        self.clock.now += len(continuation) * self.score_seconds
        text = "".join("<END>" if token == END_OF_MIDDLE else chr(token) for token in continuation)
        self.scored.append(text)
        return [self.likelihood(text)]


SITE = "def area(width, height):\n    |\n    return width\n"  # a block body, no name to start with


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(engine_module, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


def limits(monkeypatch: pytest.MonkeyPatch, value: RankingLimits) -> None:
    monkeypatch.setattr(engine_module, "RANKING_LIMITS", value)


def complete(model: PacedModel, text: str = SITE, budget_ms: int = 1000, **options: object) -> str | None:
    settings: dict[str, object] = {"parse_context": False, "time_budget_ms": budget_ms, **options}
    engine = CompletionEngine(CompletionOptions(**settings))  # type: ignore[arg-type]
    engine.model = model  # type: ignore[assignment]
    offset = text.index("|")
    completion = engine.complete(
        CompletionRequest(text.replace("|", "", 1), offset, language_id="python", path="m.py")
    )
    return None if completion is None else completion.text


GREEDY = "total = width\n"  # 14 tokens: 0.14 s
RESULT = "result = width * height\n"


def test_later_candidates_write_at_most_about_the_greedy_ones_length(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = PacedModel([GREEDY, RESULT * 9], clock)
    complete(model, budget_ms=60_000)
    assert [spec.max_tokens for spec in model.specs] == [96, 14 * 1.5 + 8, 14 * 1.5 + 8]
    long_greedy = PacedModel(["total = width * height * width * height * width\n", RESULT * 9], clock)
    complete(long_greedy, budget_ms=60_000)
    assert [spec.max_tokens for spec in long_greedy.specs] == [96, 32, 32]  # the ceiling
    uncapped = PacedModel([GREEDY, RESULT * 9], clock)
    limits(monkeypatch, RankingLimits(token_factor=None, token_ceiling=None))
    complete(uncapped, budget_ms=60_000)
    assert [spec.max_tokens for spec in uncapped.specs] == [96, 96, 96]


def test_the_greedy_generation_is_asked_as_ever(clock: Clock) -> None:
    model = PacedModel([GREEDY, RESULT], clock)
    complete(model, budget_ms=1000)
    greedy = model.specs[0]
    assert (greedy.max_tokens, greedy.temperature, greedy.seed) == (96, 0.0, 0)
    assert greedy.time_limit_s == pytest.approx(1.0)  # the whole budget: the greedy candidate is the floor


def test_the_greedy_generation_does_not_wait_for_the_name_starts(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = engine_module._name_starts

    def slow(*args: object) -> object:  # a large file: a parse and a query of what is defined nowhere
        clock.now += 0.3
        return found(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_module, "_name_starts", slow)
    model = PacedModel([GREEDY, RESULT], clock)
    complete(model, budget_ms=1000)
    assert model.specs[0].time_limit_s == pytest.approx(1.0)
    assert len(model.specs) > 1  # worked out for the later ones


def test_while_nothing_can_be_shown_the_next_generation_has_what_the_greedy_one_had(clock: Clock) -> None:
    echo = "# Path: other.py\n"  # the greedy one writes a prompt header again: nothing of it is shown
    model = PacedModel([echo, RESULT, "w = width\n"], clock)
    assert complete(model, budget_ms=1000) == "result = width * height"
    after_greedy = 1.0 - len(echo) * 0.01
    assert model.specs[1].max_tokens == 96
    assert model.specs[1].time_limit_s == pytest.approx(after_greedy)  # no time held back for scores


def test_a_later_generation_leaves_time_for_the_scores(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    # the second generation would write 12 lines (3.3 s): it gets the time left less what scoring needs
    model = PacedModel([GREEDY, LONG], clock, likelihood=likely_if)
    limits(monkeypatch, RankingLimits(token_factor=None, token_ceiling=None))
    shown = complete(model, budget_ms=1000)
    started = 0.14  # after the greedy generation
    assert model.specs[1].time_limit_s is not None
    assert model.specs[1].time_limit_s < 1.0 - started - 0.1  # held back
    assert len(model.specs) == 2  # no time for a third
    assert len(model.scored) >= 2 and clock.now <= 1.0
    assert shown is not None and shown.startswith("if width > height:\n        width = width - 0")
    # before these rules: the generation ran to the deadline, one score ran past it, the greedy one shown
    clock.now = 0.0
    before = PacedModel([GREEDY, LONG], clock, likelihood=likely_if)
    limits(monkeypatch, RankingLimits().off())
    assert complete(before, budget_ms=1000) == "total = width"
    assert len(before.scored) <= 1 and clock.now > 1.0


LONG = "if width > height:\n" + "".join(f"        width = width - {n}\n" for n in range(20))


def likely_if(text: str) -> float:
    return 0.0 if text.startswith("if width") else -5.0


def test_without_time_for_a_ranking_the_greedy_candidate_comes_at_once(clock: Clock) -> None:
    line = "total = width * height + width * height + width * height\n"
    model = PacedModel([line, RESULT], clock, token_seconds=0.015)  # the greedy line takes 0.86 s of the 1 s
    assert complete(model, budget_ms=1000) == line.strip()
    assert len(model.specs) == 1 and model.scored == []
    assert clock.now == pytest.approx(len(line) * 0.015)  # not a moment later


def test_a_score_slower_than_its_guess_stops_the_next_and_teaches_the_next_request(clock: Clock) -> None:
    # a scored token costs 5 generated ones here (the guess: a third of one)
    model = PacedModel([GREEDY, RESULT, "w = width\n"], clock, score_seconds=0.05)
    model.likelihood = lambda text: 0.0 if text.startswith("result") else -5.0
    engine = CompletionEngine(CompletionOptions(parse_context=False, time_budget_ms=3000))
    engine.model = model  # type: ignore[assignment]
    offset = SITE.index("|")
    request = CompletionRequest(SITE.replace("|", "", 1), offset, language_id="python", path="m.py")
    first = engine.complete(request)
    assert first is not None and first.text == "total = width"
    assert len(model.scored) == 1  # the first score showed the others would not fit
    assert clock.now <= 3.0
    model.specs.clear()
    model.scored.clear()
    engine.clear_cache()
    clock.now = 10.0
    engine.complete(request)
    assert model.scored == []  # planned with what scores cost here: none fits, so none starts
    assert clock.now - 10.0 < 1.0


def test_with_time_for_all_every_candidate_is_scored(clock: Clock) -> None:
    model = PacedModel([GREEDY, RESULT, "w = width\n"], clock)
    model.likelihood = lambda text: 0.0 if text.startswith("w =") else -5.0
    assert complete(model, budget_ms=60_000) == "w = width"  # the likeliest wins
    assert len(model.scored) == 3


def test_a_score_that_no_longer_fits_is_skipped_and_its_candidate_follows_unscored(clock: Clock) -> None:
    # scores cost 3 times their guess: once the first is timed, the second (the longest) no longer fits in
    # the 1.2 s, the third still does
    model = PacedModel(
        ["total = width\n", "result = width * height * 2\n", "w = 1\n"], clock, score_seconds=0.01
    )
    model.likelihood = lambda text: 0.0 if text.startswith("w =") else -5.0
    settings = CompletionOptions(parse_context=False, time_budget_ms=1200)
    engine = CompletionEngine(settings)
    engine.model = model  # type: ignore[assignment]
    request = CompletionRequest(SITE.replace("|", "", 1), SITE.index("|"), language_id="python", path="m.py")
    shown = engine.complete(request)
    assert [text.split("\n")[0] for text in model.scored] == ["total = width", "w = 1"]
    assert shown is not None and clock.now <= 1.2
    assert [shown.text, *(item.text for item in shown.alternatives)] == [
        "w = 1",
        "total = width",
        "result = width * height * 2",  # unscored: after the ranked ones
    ]


def test_early_stop_only_when_the_greedy_candidate_is_sure(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits(monkeypatch, RankingLimits(confident=-0.3))
    sure = PacedModel([GREEDY, RESULT, RESULT], clock, logprob=-0.1)
    assert complete(sure, budget_ms=60_000) == "total = width"
    assert len(sure.specs) == 1 and sure.scored == []
    unsure = PacedModel([GREEDY, RESULT, RESULT], clock, logprob=-1.0)
    complete(unsure, budget_ms=60_000)
    assert len(unsure.specs) == 3
    limits(monkeypatch, RankingLimits(confident=None))
    never = PacedModel([GREEDY, RESULT, RESULT], clock, logprob=-0.01)
    complete(never, budget_ms=60_000)
    assert len(never.specs) == 3


def test_one_candidate_is_never_planned_around(clock: Clock) -> None:
    model = PacedModel([GREEDY], clock)
    assert complete(model, budget_ms=1000, candidates=1) == "total = width"
    assert len(model.specs) == 1 and model.specs[0].max_tokens == 96


# --- the pace's estimates ----------------------------------------------------------------------------------------


def paced(token_seconds: float, chars_per_token: float = 1.0) -> _Pace:
    pace = _Pace()
    text = "x" * 10
    pace.generated(Generation(text, 0.0, 100, 0, int(len(text) / chars_per_token), "eog"), token_seconds * 10)
    return pace


def test_scoring_estimates_pay_only_past_a_shared_start() -> None:
    pace = paced(0.01)
    alone = pace.scoring_seconds(["a" * 100])
    assert alone == pytest.approx(0.01 + 100 * 0.01 * 0.35)
    shared = pace.scoring_seconds(["a" * 100, "a" * 90 + "b" * 10])
    assert shared == pytest.approx(alone + 0.01 + 10 * 0.01 * 0.35)


def test_a_timed_score_replaces_the_guess() -> None:
    pace = paced(0.01)
    pace.scored(100, 0.01 + 100 * 0.001)  # a scored character costs a tenth of a generated token here
    assert pace.scoring_seconds(["a" * 100]) == pytest.approx(0.01 + 100 * 0.001)


def test_fitting_scores_need_the_first_and_a_second() -> None:
    pace = paced(0.01)  # a 100-character score: 0.36 s
    texts = ["a" * 100, "b" * 100, "c" * 10, "d" * 100]
    # the second long one does not fit after the first; a short one does
    assert pace.fitting(texts, 0.5) == [0, 2]
    assert pace.fitting(texts, 0.3) == []  # not even the first
    assert pace.fitting(texts[:2], 0.5) == []  # one score ranks nothing
    assert pace.fitting(texts, 10.0) == [0, 1, 2, 3]


def test_a_prompt_evaluated_with_the_greedy_generation_is_not_counted_as_its_tokens() -> None:
    pace = _Pace()
    pace.generated(Generation("x" * 20, 0.0, 800, 800, 10, "eog"), 0.01 * 10 + 800 * 0.01 * 0.13)
    assert pace.generation_seconds(10) == pytest.approx(0.1)


def test_each_generations_longest_form_is_scored_before_the_shorter_cuts(clock: Clock) -> None:
    two_lines = "total = width\n    total = total * height\n"
    model = PacedModel([two_lines, RESULT, "w = width\n"], clock)
    complete(model, budget_ms=60_000)
    firsts = [text.split("\n")[0] for text in model.scored]
    assert firsts[:3] == ["total = width", "result = width * height", "w = width"]
    assert model.scored[0].startswith("total = width\n    total = total * height\n")
    assert model.scored[3].startswith("total = width\n    return width")  # the cut, last


@pytest.mark.default_model
def test_a_cut_scored_after_other_candidates_reuses_its_longer_forms_scores(
    default_model: ModelSession,
) -> None:
    def tokens(text: str, bos: bool = False) -> list[int]:
        return default_model.tokenize([PromptPiece(text, special=False)], add_bos=bos)

    context = tokens("def add(a, b):\n", bos=True)
    longer = tokens("    total = a + b\n    print(total)\n    return total\n")
    shorter = tokens("    total = a + b\n    return total\n")
    unrelated = tokens("    pass\n")
    with default_model.lock:
        default_model.continuation_logprobs(context, longer)
        default_model.continuation_logprobs(context, unrelated)  # the cache now holds another continuation
        shared = next(i for i, (a, b) in enumerate(zip(longer, shorter, strict=False)) if a != b)
        assert len(default_model._known_logprobs(context, shorter)) == shared  # from the longer form
        reused = default_model.continuation_logprobs(context, shorter)
        default_model._scored = ()  # nothing known: every token of it scored
        fresh = default_model.continuation_logprobs(context, shorter)
    assert reused == pytest.approx(fresh, abs=0.3)  # batch shapes round differently (test_ranking.py)
