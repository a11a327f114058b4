"""Constrained decoding of the next name: the allowed-token masks against brute force, the processor's
states, and real generation on tiny llama.cpp models that can only write a known name."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from completion.name_constraint import NameChoiceProcessor, is_name_byte, name_choices
from completion.token_healing import VocabPieces, llama_vocabulary

from .conftest import TinyModelLoader

PIECES = [
    b"",
    b"<eos>",
    b"g",
    b"ge",
    b"get",
    b"get_",
    b"get_total",
    b"get_total(",
    b"get_totals",
    b"_total",
    b"total",
    b"(",
    b"()",
    b" ",
    b"\n",
    b"tax",
    b"ta",
    b"x(",
    b"xy",
    b"\xc3",
    b"e",
]
SPECIAL = [piece == b"<eos>" for piece in PIECES]


def brute_force(
    choices: tuple[bytes, ...], produced: bytes, pieces: list[bytes] = PIECES, special: list[bool] = SPECIAL
) -> set[bytes] | None:
    """Every token a choice allows after ``produced``, by definition; None when no constraint is left."""
    for choice in choices:
        if (
            produced.startswith(choice)
            and len(produced) > len(choice)
            and not is_name_byte(produced[len(choice)])
        ):
            return None
    allowed: set[bytes] = set()
    for token, piece in enumerate(pieces):
        if special[token] or not piece:
            continue
        after = produced + piece
        for choice in choices:
            if choice.startswith(after) or (
                after.startswith(choice) and not is_name_byte(after[len(choice)])
            ):
                allowed.add(piece)
    return allowed


def allowed_pieces(processor: NameChoiceProcessor, produced: bytes) -> set[bytes] | None:
    mask = processor.allowed(produced)
    if mask is None:
        return None
    return {PIECES[token] for token in np.flatnonzero(mask).tolist()}


@pytest.mark.parametrize("produced", [b"", b"g", b"get", b"get_", b"get_t", b"t", b"ta", b"tax"])
def test_masks_match_brute_force(produced: bytes) -> None:
    choices = (b"get_total", b"get_totals", b"tax")
    processor = NameChoiceProcessor(VocabPieces.from_pieces(PIECES, SPECIAL), choices)
    found = allowed_pieces(processor, produced)
    expected = brute_force(choices, produced)
    if produced == b"tax":  # complete: any token that does not continue the name, the end included
        assert found is not None and {b"(", b"()", b" ", b"\n", b"<eos>", b""} <= found
        assert b"xy" not in found and b"e" not in found and b"\xc3" not in found
        return
    if not expected:  # nothing fits: the processor lets go rather than mask everything
        assert found is None
        return
    assert found == expected, produced


def test_examples_at_the_start() -> None:
    processor = NameChoiceProcessor(VocabPieces.from_pieces(PIECES, SPECIAL), (b"total", b"tax"))
    assert allowed_pieces(processor, b"") == {b"total", b"ta", b"tax"}
    assert allowed_pieces(processor, b"ta") == {b"x("}  # "tax" then "(": never "taxy", no name here


def test_a_complete_name_followed_by_a_non_name_byte_ends_the_constraint() -> None:
    processor = NameChoiceProcessor(VocabPieces.from_pieces(PIECES, SPECIAL), (b"get_total",))
    assert processor.allowed(b"get_total(") is None
    assert processor.allowed(b"get_totalx") is None  # left every choice (only a foreign caller gets here)
    assert allowed_pieces(processor, b"get_total") == {
        piece for piece in PIECES if not piece or not is_name_byte(piece[0])
    }


def test_the_processor_masks_then_lets_go() -> None:
    vocab = VocabPieces.from_pieces(PIECES, SPECIAL)
    processor = NameChoiceProcessor(vocab, (b"get_total",))
    prompt = [13, 13]
    scores = np.zeros(len(PIECES), dtype=np.single)
    first = processor(np.array(prompt, dtype=np.intc), scores.copy())
    assert {PIECES[t] for t in np.flatnonzero(np.isfinite(first))} == {
        b"g",
        b"ge",
        b"get",
        b"get_",
        b"get_total",
        b"get_total(",
    }
    done = processor(np.array([*prompt, PIECES.index(b"get_total(")], dtype=np.intc), scores.copy())
    assert np.isfinite(done).all()
    later = processor(
        np.array([*prompt, PIECES.index(b"get_total("), PIECES.index(b"xy")], dtype=np.intc), scores.copy()
    )
    assert np.isfinite(later).all()  # free for good, even where a mask would now forbid


def test_no_choices_means_no_constraint() -> None:
    processor = NameChoiceProcessor(VocabPieces.from_pieces(PIECES, SPECIAL), ())
    scores = np.zeros(len(PIECES), dtype=np.single)
    assert np.isfinite(processor(np.array([1], dtype=np.intc), scores)).all()


def test_name_choices_follow_the_typed_word_and_the_healed_bytes() -> None:
    names = ["get_total", "get_tax", "refund", "Total"]
    assert name_choices(names, "", "") == (b"Total", b"get_tax", b"get_total", b"refund")
    assert name_choices(names, "get_t", "get_t") == (b"get_tax", b"get_total")
    assert name_choices(names, "get_t", "t") == (b"tax", b"total")  # healing took only a subword
    assert name_choices(names, "", " ") == (b" Total", b" get_tax", b" get_total", b" refund")
    assert name_choices(names, "nothing", "nothing") == ()  # a name nobody knows yet: no constraint
    assert name_choices(["ünïcode"], "ü", "ü") == ("ünïcode".encode(),)


def test_random_vocabularies_agree_with_brute_force() -> None:
    rng = random.Random(7)
    alphabet = [b"a", b"b", b"_", b"(", b" ", b"ab", b"ba", b"a(", b"b_", b"abb"]
    for _ in range(200):
        pieces = sorted({rng.choice(alphabet) + rng.choice(alphabet)[: rng.randint(0, 2)] for _ in range(12)})
        special = [False] * len(pieces)
        choices = tuple({rng.choice([b"ab", b"abba", b"b_a", b"a"]) for _ in range(2)})
        produced = rng.choice([b"", b"a", b"ab", b"b"])
        vocab = VocabPieces.from_pieces(pieces, special)
        mask = NameChoiceProcessor(vocab, choices).allowed(produced)
        expected = brute_force(choices, produced, pieces, special)
        if expected is not None and produced in choices:
            expected |= {piece for piece in pieces if not piece or not is_name_byte(piece[0])}
        if not expected:  # met, or nothing fits: the processor lets go rather than mask everything
            assert mask is None, (pieces, choices, produced)
            continue
        assert mask is not None
        found = {pieces[t] for t in np.flatnonzero(mask).tolist()}
        assert found == expected, (pieces, choices, produced)


def generate_with(
    model: Any, vocab: VocabPieces, prompt_text: str, choices: tuple[bytes, ...], attempt: int
) -> str:
    prompt = model.tokenize(prompt_text.encode(), add_bos=False)
    processor = NameChoiceProcessor(vocab, choices)
    generated: list[int] = []
    model.set_seed(attempt)
    for token in model.generate(prompt, temp=0.9 if attempt else 0.0, logits_processor=[processor]):
        generated.append(token)
        if len(generated) == 16:
            break
    return str(model.detokenize(generated).decode("utf-8", errors="replace"))


@pytest.mark.parametrize(("family", "tokenizer"), [("qwen2.5-coder", "bpe"), ("codellama", "spm")])
def test_tiny_models_can_only_write_a_known_name(
    tiny_llama: TinyModelLoader, family: str, tokenizer: str
) -> None:
    model = tiny_llama(family, ("get_total", "get_tax", " refund"), tokenizer=tokenizer)
    vocab = VocabPieces.from_pieces(*llama_vocabulary(model))
    names = ("get_total", "get_tax", "refund")
    for attempt in range(6):
        text = generate_with(model, vocab, "x = billing.", name_choices(names, "", ""), attempt)
        written = next((name for name in names if text.startswith(name)), None)
        assert written is not None, text
        assert not is_name_byte(text.encode()[len(written)]) if len(text) > len(written) else True, text
        healed = generate_with(model, vocab, "x = billing.", name_choices(names, "get_t", "get_t"), attempt)
        assert healed.startswith(("get_total", "get_tax")), healed
