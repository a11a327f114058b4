"""Per-document model state: the pure policy (``completion.state_cache``), then the real default model switching
between two documents and back, evaluating only what changed, with the same tokens as a fresh evaluation."""

from __future__ import annotations

import pytest

from completion.backend import Generation, GenerationSpec
from completion.fim import PromptPiece
from completion.model import ModelSession
from completion.state_cache import MIN_LOST_TOKENS, StateCache, as_tokens, lost_tokens, shared_prefix

# --- the policy -----------------------------------------------------------------------------------------------


def _run(start: int, count: int) -> list[int]:
    return list(range(start, start + count))


def test_best_is_the_entry_sharing_the_longest_prefix() -> None:
    cache = StateCache(10_000)
    short = cache.save(as_tokens([1, 2, 3, *_run(100, 80)]), bytearray(10))
    long = cache.save(as_tokens([1, 2, 3, 4, 5, *_run(300, 80)]), bytearray(10))
    assert cache.best(as_tokens([1, 2, 3, 4, 5, 6])) == (long, 5)
    assert cache.best(as_tokens([1, 2, 3, 100, 101])) == (short, 5)
    assert cache.best(as_tokens([9, 9])) == (None, 0)


def test_a_state_goes_when_a_newer_one_holds_it() -> None:
    cache = StateCache(10_000)
    document = _run(0, 200)
    cache.save(as_tokens(document[:120]), bytearray(10))
    cache.save(as_tokens(document), bytearray(10))  # its own prefix goes
    edited = [*document[:150], 999, *document[150:]]
    newest = cache.save(as_tokens(edited), bytearray(10))  # the same document after a small edit
    other = cache.save(as_tokens([0, *_run(1000, 200)]), bytearray(10))  # another document stays
    assert cache.entries == (newest, other)


def test_the_byte_bound_evicts_the_least_recently_used() -> None:
    cache = StateCache(300)
    first, second, _ = (cache.save(as_tokens(_run(n * 1000, 100)), bytearray(100)) for n in range(3))
    assert first is not None and second is not None
    cache.touch(first)
    latest = cache.save(as_tokens(_run(5000, 100)), bytearray(100))
    assert second not in cache.entries and first in cache.entries and latest in cache.entries
    assert cache.size == 300


def test_a_state_larger_than_the_bound_is_not_kept_and_keeps_the_others() -> None:
    cache = StateCache(300)
    kept = cache.save(as_tokens(_run(0, 100)), bytearray(100))
    assert cache.save(as_tokens(_run(0, 200)), bytearray(301)) is None
    assert cache.entries == (kept,)


def test_lost_tokens_tells_an_edit_in_place_from_another_document() -> None:
    head, tail = _run(0, 300), _run(1000, 300)  # a FIM prompt: prefix up to the cursor, suffix after it
    typed = as_tokens([*head, 7, *tail])
    assert lost_tokens(typed, as_tokens([*head, 7, 8, *tail])) == 0  # a keystroke at the cursor
    assert lost_tokens(typed, as_tokens([*head, 9, *tail])) == 1
    assert lost_tokens(as_tokens(head), as_tokens([*head, 5])) == 0  # a prefix-only prompt typed on
    assert lost_tokens(typed, as_tokens(head[:200])) == len(typed) - 200  # cut back
    assert lost_tokens(typed, as_tokens([0, *_run(5000, 600)])) == len(typed) - 1  # another document
    assert MIN_LOST_TOKENS > 2
    near = head[-40:]  # a cut prompt: the nearest tokens before the cursor, which the whole prompt ends with
    assert lost_tokens(as_tokens([0, *near]), as_tokens(head)) == len(near)


# --- the real default model -----------------------------------------------------------------------------------

_MODULE = '''"""Inventory records for the {name} warehouse: stock levels, reorder points and shipments."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable


@dataclasses.dataclass
class {kind}Item:
    sku: str
    description: str
    quantity: int
    reorder_point: int
    unit_cost: float
    updated: datetime.date

'''

_FUNCTION = '''
def {verb}_{noun}(items: Iterable[{kind}Item], threshold: int = {n}) -> list[str]:
    """The SKUs of items whose {noun} needs attention below {n} units."""
    found = []
    for item in items:
        if item.quantity - item.reorder_point < threshold:
            found.append(item.sku)
    return sorted(found)
'''


def _document(name: str, kind: str, verbs: list[str], nouns: list[str]) -> str:
    functions = "".join(
        _FUNCTION.format(verb=verb, noun=noun, kind=kind, n=n * 7 + 3)
        for n, (verb, noun) in enumerate(zip(verbs, nouns, strict=True))
    )
    return _MODULE.format(name=name, kind=kind) + functions + "\n\ndef total_value(items):\n    return "


DOCUMENT_A = _document(
    "Northgate", "Stock", ["check", "count", "audit", "report"], ["levels", "pallets", "bins", "racks"]
)
DOCUMENT_B = _document(
    "Riverside", "Parts", ["scan", "list", "sort", "mark"], ["orders", "boxes", "cases", "lots"]
)
EDITED_A = DOCUMENT_A.replace("def total_value(items):", "def total_value(items, rate=1.0):")
LONG_A = _document(
    "Eastport",
    "Cargo",
    ["load", "weigh", "seal", "stack", "ship", "track"],
    ["holds", "drums", "tanks", "bays", "decks", "sacks"],
)
LONG_EDITED = LONG_A.replace("def total_value(items):", "def total_value(items, rate=1.0):")
SPEC = GenerationSpec(max_tokens=8)


@pytest.fixture
def model(default_model: ModelSession) -> ModelSession:
    return default_model


def _tokens(model: ModelSession, text: str) -> list[int]:
    return model.tokenize([PromptPiece(text, special=False)], add_bos=True)


def _generate(model: ModelSession, tokens: list[int]) -> Generation:
    with model.lock:
        return model.generate(tokens, SPEC)


def _same_output(one: Generation, other: Generation) -> bool:
    return (one.text, one.logprob, one.tokens_generated) == (
        other.text,
        other.logprob,
        other.tokens_generated,
    )


@pytest.mark.default_model
def test_switching_back_evaluates_only_what_changed(model: ModelSession) -> None:
    """Within the model's window: the restored state is the one it left, so the output is the same as if the
    other document had never been evaluated in between, bit for bit."""
    a, b, edited = (_tokens(model, text) for text in (DOCUMENT_A, DOCUMENT_B, EDITED_A))
    assert min(len(a), len(b)) > 400 and len(edited) <= (model.state_window or len(edited))
    changed = len(edited) - shared_prefix(as_tokens(a), as_tokens(edited))
    model.forget_prompt()
    _generate(model, a)
    _generate(model, b)
    assert model.state_cache is not None
    assert [len(entry.tokens) for entry in model.state_cache.entries] == [len(a)]  # saved on leaving A
    assert model.prompt_cost(edited).uncached_tokens == changed < 30
    back = _generate(model, edited)
    assert back.tokens_evaluated == changed and back.restored_tokens == len(edited) - changed
    unseen = _tokens(model, "# Harbour ledger\n" + DOCUMENT_B.upper())
    assert model.prompt_cost(unseen).uncached_tokens == len(unseen) - 1  # all but the BOS every prompt shares
    model.forget_prompt()
    _generate(model, a)
    stayed = _generate(model, edited)  # the same edit without leaving A
    assert stayed.tokens_evaluated == changed and stayed.restored_tokens == 0
    assert _same_output(back, stayed)


@pytest.mark.default_model
def test_a_sliding_window_model_restores_its_window_with_a_fresh_evaluations_tokens(
    model: ModelSession,
) -> None:
    """llama.cpp saves only the cells a sliding window still sees, so a longer state is saved up to the window;
    the rest is evaluated again, in the same chunks as a fresh evaluation, with the same output."""
    window = model.state_window
    long, b, edited = (_tokens(model, text) for text in (LONG_A, DOCUMENT_B, LONG_EDITED))
    assert window is not None and len(long) > window + 100
    model.forget_prompt()
    _generate(model, long)
    _generate(model, b)
    back = _generate(model, edited)
    assert back.restored_tokens == window and back.tokens_evaluated == len(edited) - window
    model.forget_prompt()
    fresh = _generate(model, edited)
    assert fresh.tokens_evaluated == len(edited) and _same_output(back, fresh)


@pytest.mark.default_model
@pytest.mark.parametrize("bound_mb", [0, 1], ids=["off", "smaller-than-any-state"])
def test_without_room_for_a_state_switching_back_evaluates_the_whole_prompt(
    model: ModelSession, bound_mb: int
) -> None:
    """Off (``infill.model.stateCacheMB = 0``), or a bound under one state (~120 tokens: 1.7 MB): nothing is kept
    and nothing breaks."""
    a, b = _tokens(model, DOCUMENT_A[:500]), _tokens(model, DOCUMENT_B[:500])
    saved, model.state_cache = model.state_cache, StateCache(bound_mb << 20) if bound_mb else None
    try:
        model.forget_prompt()
        _generate(model, a)
        _generate(model, b)
        back = _generate(model, a)
        assert model.state_cache is None or model.state_cache.entries == ()
    finally:
        model.state_cache = saved
    assert back.tokens_evaluated == len(a) - shared_prefix(as_tokens(a), as_tokens(b)) > 100
    assert back.restored_tokens == 0


@pytest.mark.default_model
def test_typing_never_saves(model: ModelSession) -> None:
    """Typing on at the end of a prefix-only prompt, and at the cursor of a FIM-like prompt (the text after the
    cursor is evaluated again each time, but nothing of it is lost), keeps the state cache empty."""
    model.forget_prompt()
    before, after = DOCUMENT_A[:300], DOCUMENT_A[300:600]  # ~80 tokens after the cursor
    for typed in ("    q", "    qua", "    quantity = "):
        _generate(model, _tokens(model, before + typed))
    for typed in ("x", "xy"):
        cursor = before + "    quantity = " + typed
        _generate(model, _tokens(model, cursor) + _tokens(model, after)[1:])
    assert model.state_cache.entries == ()


@pytest.mark.default_model
def test_the_self_check_times_prompts_for_prompt_cost(model: ModelSession) -> None:
    assert model.self_check() == []
    cost = model.prompt_cost(_tokens(model, DOCUMENT_B))
    assert cost.seconds is not None and cost.seconds > 0 and cost.uncached_tokens > 400
