"""Speculative decoding with the real default model: the same tokens as the plain one-token loop (healing, the
name constraint and stop rules included), drafts accepted on repetitive code, cancel still reaching the loop."""

from __future__ import annotations

import pytest

from completion.backend import Generation, GenerationSpec, StopRule
from completion.fim import PromptPiece
from completion.model import ModelSession
from completion.name_constraint import name_choices
from completion.speculative import Speculation
from completion.token_healing import heal_split

pytestmark = pytest.mark.default_model

TABLE = "def register_all(registry):\n" + "".join(
    f'    registry.register("item_{n}", handle_item_{n}, priority={n})\n' for n in range(1, 13)
)
COLORS = "COLORS = {\n" + "".join(
    f'    "{name}": Color(name="{name}", red={r}, green={g}),\n'
    for name, r, g in [
        ("black", 0, 0),
        ("white", 255, 255),
        ("red", 255, 0),
        ("green", 0, 128),
        ("gray", 128, 128),
    ]
)
ORDINARY = "import os\nimport sys\n\n\ndef main():\n    path = os.path.join("
CLASS = "class Point:\n    def __init__(self, x, y):\n        self.x = x\n"


def _tokens(model: ModelSession, text: str) -> list[int]:
    return model.tokenize([PromptPiece(text, special=False)], add_bos=True)


def _both(model: ModelSession, text: str, spec: GenerationSpec) -> tuple[Generation, Generation]:
    """The plain loop's generation and the drafting one's, each from a cold cache and a fresh record (so
    drafting is on: the record's pause depends on this machine's timings)."""
    tokens = _tokens(model, text)
    saved = model.speculation
    try:
        with model.lock:
            model.forget_prompt()
            model.speculation = None
            plain = model.generate(tokens, spec)
            model.forget_prompt()
            model.speculation = Speculation(with_draft_model=False)
            drafted = model.generate(tokens, spec)
    finally:
        model.speculation = saved
    return plain, drafted


def _assert_same(plain: Generation, drafted: Generation) -> None:
    assert drafted.text == plain.text
    assert (drafted.tokens_generated, drafted.stop_reason) == (plain.tokens_generated, plain.stop_reason)
    # tokens taken from a batch carry its rounding in their log-probabilities (they lead by a safe margin,
    # so it stays small); every near tie is decoded as the plain loop decodes it
    assert drafted.logprob == pytest.approx(plain.logprob, abs=0.05 + 0.02 * drafted.accepted_tokens)


@pytest.mark.parametrize(
    "text", [TABLE, COLORS, ORDINARY, CLASS], ids=["table", "colors", "ordinary", "class"]
)
def test_drafting_gives_the_plain_loops_tokens(default_model: ModelSession, text: str) -> None:
    plain, drafted = _both(default_model, text, GenerationSpec(max_tokens=48))
    _assert_same(plain, drafted)
    assert plain.verify_batches == 0


@pytest.mark.parametrize("text", [TABLE, COLORS], ids=["table", "colors"])
def test_drafts_are_accepted_on_repetitive_code(default_model: ModelSession, text: str) -> None:
    _, drafted = _both(default_model, text, GenerationSpec(max_tokens=48))
    assert drafted.verify_batches > 0
    assert drafted.accepted_tokens > 0
    assert drafted.accepted_tokens <= drafted.drafted_tokens


@pytest.mark.parametrize(
    "stop",
    [StopRule(kind="line"), StopRule(kind="newline"), StopRule(kind="block", indent="    ", max_lines=2)],
    ids=["line", "newline", "block"],
)
def test_stop_rules_cut_at_the_same_token(default_model: ModelSession, stop: StopRule) -> None:
    plain, drafted = _both(default_model, TABLE, GenerationSpec(max_tokens=72, stop=stop))
    _assert_same(plain, drafted)
    assert plain.stop_reason == "stop"


def test_token_healing_is_applied_at_every_verified_position(default_model: ModelSession) -> None:
    text, removed = heal_split(TABLE + "    registry.regi")
    assert removed == "regi"
    spec = GenerationSpec(max_tokens=40, healed=removed.encode())
    plain, drafted = _both(default_model, text, spec)
    _assert_same(plain, drafted)
    assert plain.text.startswith("regi")


def test_the_name_constraint_is_applied_at_every_verified_position(default_model: ModelSession) -> None:
    text, removed = heal_split(TABLE + "    registry.re")
    names = name_choices(["register", "remove", "reset_all"], "re", removed)
    spec = GenerationSpec(max_tokens=40, healed=removed.encode(), names=names)
    plain, drafted = _both(default_model, text, spec)
    _assert_same(plain, drafted)
    assert plain.text.startswith(("register", "remove", "reset_all"))


class _CancelAfter:
    """A cancel flag that turns on after it has been read ``reads`` times."""

    def __init__(self, reads: int) -> None:
        self.left = reads

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_cancel_is_checked_between_steps(default_model: ModelSession) -> None:
    tokens = _tokens(default_model, TABLE)
    saved = default_model.speculation
    try:
        with default_model.lock:
            default_model.speculation = Speculation(with_draft_model=False)
            full = default_model.generate(tokens, GenerationSpec(max_tokens=48))
            default_model.speculation = Speculation(with_draft_model=False)
            stopped = default_model.generate(tokens, GenerationSpec(max_tokens=48), _CancelAfter(6))
    finally:
        default_model.speculation = saved
    assert stopped.stop_reason == "cancelled"
    assert 0 < stopped.tokens_generated < full.tokens_generated
    assert full.text.startswith(stopped.text)


def test_the_cache_after_drafting_serves_the_next_request(default_model: ModelSession) -> None:
    tokens = _tokens(default_model, TABLE)
    plain, drafted = _both(default_model, TABLE, GenerationSpec(max_tokens=32))
    assert drafted.accepted_tokens > 0
    with default_model.lock:
        again = default_model.generate(tokens, GenerationSpec(max_tokens=32))
    assert again.tokens_evaluated == 1  # only the last prompt token, for fresh scores
    assert again.text == plain.text
