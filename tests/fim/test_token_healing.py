"""Token healing: the prompt split, the allowed-token sets against brute force, the stateful processor, and
real constrained generation on a tiny llama.cpp model."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from completion.token_healing import VocabPieces, heal_split, llama_vocabulary, strip_healed

from .conftest import TinyModelLoader
from .gguf_factory import tiny_vocab

HEAL_EXTRAS = ("ghost", " ghostly")


def brute_force(pieces: list[bytes], special: list[bool], remaining: bytes) -> set[int]:
    return {
        token
        for token, piece in enumerate(pieces)
        if piece and not special[token] and (remaining.startswith(piece) or piece.startswith(remaining))
    }


SMALL = [
    b" ",
    b" p",
    b" pr",
    b" pri",
    b" print",
    b"print",
    b"p",
    b"",
    b"<s>",
    b" prix",
    b" q",
    b"\xff",
    b"\xff\xff",
]
SMALL_SPECIAL = [False] * len(SMALL)
SMALL_SPECIAL[SMALL.index(b"<s>")] = True


@pytest.mark.parametrize("remaining", [b" pri", b" p", b"print", b" pr", b"zzz", b"\xff", b" prin"])
def test_allowed_ids_match_brute_force_on_a_small_vocab(remaining: bytes) -> None:
    vocab = VocabPieces.from_pieces(SMALL, SMALL_SPECIAL)
    assert set(vocab.allowed_ids(remaining).tolist()) == brute_force(SMALL, SMALL_SPECIAL, remaining)


def test_allowed_ids_examples() -> None:
    vocab = VocabPieces.from_pieces(SMALL, SMALL_SPECIAL)
    allowed = {SMALL[token] for token in vocab.allowed_ids(b" pri").tolist()}
    assert allowed == {b" ", b" p", b" pr", b" pri", b" print", b" prix"}
    assert vocab.allowed_ids(b"zzz").size == 0
    assert set(vocab.allowed_ids(b"").tolist()) == brute_force(SMALL, SMALL_SPECIAL, b"")  # all usable tokens


def test_allowed_ids_match_brute_force_on_a_large_random_vocab() -> None:
    rng = random.Random(7)
    alphabet = b"ab _\xc3\xa9\xff"
    pieces = [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(20_000)]
    special = [rng.random() < 0.01 for _ in pieces]
    vocab = VocabPieces.from_pieces(pieces, special)
    for _ in range(30):
        remaining = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        got = vocab.allowed_ids(remaining).tolist()
        assert len(got) == len(set(got))
        assert set(got) == brute_force(pieces, special, remaining)


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError):
        VocabPieces.from_pieces([b"a"], [])


def test_processor_walks_through_the_removed_bytes() -> None:
    vocab = VocabPieces.from_pieces(SMALL, SMALL_SPECIAL)
    processor = vocab.healing_processor(b" pri")
    prompt = np.array([5, 6, 7], dtype=np.intc)
    scores = np.arange(len(SMALL), dtype=np.single)

    first = processor(prompt, scores.copy())
    allowed = {SMALL[token] for token in np.flatnonzero(np.isfinite(first))}
    assert allowed == {b" ", b" p", b" pr", b" pri", b" print", b" prix"}
    assert first[SMALL.index(b" pri")] == scores[SMALL.index(b" pri")]  # allowed scores are kept

    after_space_p = np.append(prompt, np.intc(SMALL.index(b" p")))
    second = processor(after_space_p, scores.copy())
    # remaining b"ri": nothing in this vocabulary fits, so the processor fails open
    assert np.array_equal(second, scores)

    done = np.append(prompt, np.intc(SMALL.index(b" print")))
    assert np.array_equal(processor(done, scores.copy()), scores)


def test_processor_constrains_each_step_until_done() -> None:
    pieces = [b"a", b"ab", b"b", b"bc", b"c", b"x", b"abcx"]
    vocab = VocabPieces.from_pieces(pieces, [False] * len(pieces))
    processor = vocab.healing_processor(b"abc")
    scores = np.zeros(len(pieces), dtype=np.single)
    prompt = np.array([5], dtype=np.intc)

    def allowed(ids: list[int]) -> set[bytes]:
        result = processor(np.array([*prompt.tolist(), *ids], dtype=np.intc), scores.copy())
        return {pieces[token] for token in np.flatnonzero(np.isfinite(result))}

    assert allowed([]) == {b"a", b"ab", b"abcx"}
    assert allowed([0]) == {b"b", b"bc"}  # after "a"
    assert allowed([0, 2]) == {b"c"}  # after "a", "b"
    assert allowed([1, 4]) == set(pieces)  # "ab" + "c": fully produced, no constraint
    assert allowed([5]) == set(pieces)  # diverged ("x"): fail open


def test_processor_ignores_special_and_empty_tokens() -> None:
    pieces = [b"", b"<eos>", b"p", b"pr"]
    vocab = VocabPieces.from_pieces(pieces, [False, True, False, False])
    result = vocab.healing_processor(b"pr")(np.array([0], dtype=np.intc), np.zeros(4, dtype=np.single))
    assert np.isfinite(result).tolist() == [False, False, True, True]


def test_processor_tolerates_scores_shorter_than_the_vocab() -> None:
    pieces = [b"a", b"b", b"ab"]
    vocab = VocabPieces.from_pieces(pieces, [False] * 3)
    result = vocab.healing_processor(b"ab")(np.array([1], dtype=np.intc), np.zeros(2, dtype=np.single))
    assert np.isfinite(result).tolist() == [True, False]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("x = pri", ("x =", " pri")),
        ("os.pa", ("os.", "pa")),
        ("\n    retu", ("\n   ", " retu")),
        ("return ", ("return", " ")),
        ("x = (", ("x = (", "")),
        ("line\n", ("line\n", "")),
        ("    ", ("    ", "")),
        ("", ("", "")),
        ("pri", ("", "pri")),
        (" é_ü1", ("", " é_ü1")),
        ("x = get_user_name", ("x = get_user_", "name")),
        ("x = someVeryLongCamelCaseName", ("x = someVeryLongCamel", "CaseName")),
        ("x = " + "a" * 40, ("x = " + "a" * 40, "")),
        ("v = abc123", ("v =", " abc123")),
    ],
)
def test_heal_split(prompt: str, expected: tuple[str, str]) -> None:
    assert heal_split(prompt, max_chars=8) == expected
    kept, removed = expected
    assert kept + removed == prompt


def test_heal_split_defaults_and_limits() -> None:
    assert heal_split("x = some_identifier_here") == ("x = some_", "identifier_here")
    assert heal_split("x = pri", max_chars=0) == ("x = pri", "")
    assert heal_split("x = pri", max_chars=3) == ("x = ", "pri")  # the space would exceed the budget


def test_strip_healed() -> None:
    assert strip_healed(" print(x)", " pri") == "nt(x)"
    assert strip_healed(" pr", " pri") is None
    assert strip_healed("abc", "") == "abc"


def model_vocab(model: Any) -> VocabPieces:
    return VocabPieces.from_pieces(*llama_vocabulary(model))


def test_llama_vocabulary_reads_long_pieces_and_flags_specials(tiny_llama: TinyModelLoader) -> None:
    ruler = "=" * 40
    model = tiny_llama("qwen2.5-coder", (ruler,))
    ids = tiny_vocab("qwen2.5-coder", (ruler,)).ids
    pieces, special = llama_vocabulary(model)
    assert pieces[ids[ruler]] == ruler.encode()  # over llama-cpp-python's 32-byte piece buffer
    assert model._model.token_to_piece(ids[ruler], False).strip(b"\0") == b""  # what the shortcut gives
    assert pieces[ord("x")] == b"x" and not special[ord("x")]
    assert special[ids["<|fim_prefix|>"]] and special[ids["<|endoftext|>"]]
    assert pieces[ids["<|fim_prefix|>"]] == b""  # control tokens render as nothing without special=True


@pytest.mark.parametrize(
    ("family", "tokenizer"), [("qwen2.5-coder", "bpe"), (None, "bpe"), ("codellama", "spm")]
)
def test_healed_generation_retypes_the_partial_word(
    tiny_llama: TinyModelLoader, family: str | None, tokenizer: str
) -> None:
    model = tiny_llama(family, HEAL_EXTRAS, tokenizer=tokenizer)
    vocab = model_vocab(model)
    for word in ("pri", "gho"):
        retype_partial_word(model, vocab, word)


def retype_partial_word(model: Any, vocab: VocabPieces, word: str) -> None:
    kept, removed = heal_split("x = " + word)
    assert (kept, removed) == ("x =", " " + word)
    prompt = model.tokenize(kept.encode(), add_bos=False)
    for attempt in range(3):
        processor = vocab.healing_processor(removed.encode())
        generated: list[int] = []
        model.set_seed(attempt)
        for token in model.generate(prompt, temp=0.8 if attempt else 0.0, logits_processor=[processor]):
            generated.append(token)
            if len(generated) == 6:
                break
        text = model.detokenize(generated).decode("utf-8", errors="replace")
        assert text.startswith(removed), text
        assert strip_healed(text, removed) == text[len(removed) :]
