"""Several suggestions per request: the ranked candidates after the best one come back as alternatives
(distinct texts, one per generation, best first, completion.maxItems in all), and they move with the user's
typing through the typed-ahead cache.

The model is the scripted one of test_ranking (its texts and likelihoods are chosen per test).
"""

from __future__ import annotations

from completion.engine import Alternative, Completion, CompletionEngine, CompletionOptions, CompletionRequest
from tests.engine.test_hybrid import ScriptedRemote, hybrid, request
from tests.engine.test_ranking import ScriptedModel

# a blank line in a body (three candidates), no name below it left undefined (no forced starts)
SITE = "def area(width, height):\n    |\n    return width\n"
LIKELIHOOD = {"total": -1.0, "print": -2.0, "area": -3.0, "value": -4.0}


def scripted(*outputs: str) -> ScriptedModel:
    """Outputs scored by their first word (LIKELIHOOD)."""
    return ScriptedModel(list(outputs), likelihood=lambda text: LIKELIHOOD.get(text.split(" ")[0][:5], -9.0))


def engine_for(model: ScriptedModel, **options: object) -> CompletionEngine:
    settings: dict[str, object] = {"parse_context": False, "time_budget_ms": 60_000, **options}
    engine = CompletionEngine(CompletionOptions(**settings))  # type: ignore[arg-type]
    engine.model = model  # type: ignore[assignment]
    return engine


def at(text: str) -> CompletionRequest:
    offset = text.index("|")
    return CompletionRequest(text.replace("|", "", 1), offset, "file:///m.py", "python", "m.py")


def items(completion: Completion | None) -> list[str]:
    assert completion is not None
    return [completion.text, *(alternative.text for alternative in completion.alternatives)]


def test_the_ranked_candidates_come_back_best_first() -> None:
    model = scripted("area = width * height\n", "total = width * height\n", "print(width)\n")
    completion = engine_for(model, candidates=3).complete(at(SITE))
    assert items(completion) == ["total = width * height", "print(width)", "area = width * height"]
    assert completion is not None
    offset = SITE.index("|")
    assert [alternative.end for alternative in completion.alternatives] == [offset, offset]


def test_max_items_caps_them_and_one_means_the_best_only() -> None:
    outputs = ("area = width * height\n", "total = width * height\n", "print(width)\n")
    assert items(engine_for(scripted(*outputs), max_items=2).complete(at(SITE))) == [
        "total = width * height",
        "print(width)",
    ]
    assert items(engine_for(scripted(*outputs), max_items=1).complete(at(SITE))) == ["total = width * height"]


def test_each_text_comes_once() -> None:
    model = scripted("total = width * height\n", "total = width * height\n", "print(width)\n")
    assert items(engine_for(model, candidates=3).complete(at(SITE))) == [
        "total = width * height",
        "print(width)",
    ]


def test_shorter_cuts_of_one_suggestion_are_not_alternatives_to_it() -> None:
    body = "total = width * height\n    print(total)\n    value = total\n"
    model = ScriptedModel([body], likelihood=lambda text: -float(text.count("\n")))
    completion = engine_for(model, candidates=1, max_items=3).complete(at(SITE))
    assert completion is not None and completion.alternatives == ()
    assert len(model.scored) == 3  # the cuts were ranked all the same


def test_asking_again_at_the_same_place_gives_the_same_items_without_the_model() -> None:
    model = scripted("area = width * height\n", "total = width * height\n", "print(width)\n")
    engine = engine_for(model)
    first = engine.complete(at(SITE))
    attempts = model.attempts
    again = engine.complete(at(SITE))
    assert again is not None and again.cached and model.attempts == attempts
    assert items(again) == items(first)


def test_typing_into_the_first_moves_the_alternatives_that_still_match_and_drops_the_rest() -> None:
    model = scripted("total = width\n", "total = width * height\n", "print(width)\n")
    order = ["total = width", "print(width)", "total = width * height"]
    model.likelihood = lambda text: -float(order.index(text.split("\n")[0]))
    engine = engine_for(model)
    assert items(engine.complete(at(SITE))) == ["total = width", "print(width)", "total = width * height"]
    typed = SITE.replace("|", "tot|")
    completion = engine.cached(at(typed))
    assert items(completion) == ["al = width", "al = width * height"]
    assert completion is not None and completion.start == typed.index("|")
    assert completion.alternatives == (Alternative("al = width * height", typed.index("|")),)


def test_typing_into_an_alternative_the_editor_cycled_to_serves_it_first() -> None:
    model = scripted("area = width * height\n", "total = width * height\n", "print(width)\n")
    engine = engine_for(model)
    engine.complete(at(SITE))
    completion = engine.cached(at(SITE.replace("|", "pri|")))
    assert items(completion) == ["nt(width)"]
    attempts = model.attempts
    assert engine.complete(at(SITE.replace("|", "are|"))) is not None and model.attempts == attempts
    assert engine.cached(at(SITE.replace("|", "zeb|"))) is None  # fits none: the model runs again


def test_an_alternative_typed_to_its_end_drops() -> None:
    model = scripted("total = width * height\n", "print(width)\n")
    engine = engine_for(model, candidates=2)
    engine.complete(at(SITE))
    completion = engine.cached(at(SITE.replace("|", "print(width)|")))
    assert completion is None  # nothing left to show of it, and the first does not fit


def test_hybrid_shows_the_winner_first_and_the_other_model_next() -> None:
    remote = ScriptedRemote("return width * height\n")
    remote.gate.set()
    local = ScriptedModel(
        ["return width + height\n"], likelihood=lambda text: 0.0 if "width * height" in text else -5.0
    )
    engine = hybrid(local, remote)
    # the local model is the slower one here: it finishes after the remote answer is in
    local.on_generate = lambda: engine._remote_asks["file:///m.py"].future.result(30)
    completion = engine.complete(request("def area(width, height):\n    |\n"))
    assert items(completion) == ["return width * height", "return width + height"]
    assert completion is not None and completion.source == "openai"
