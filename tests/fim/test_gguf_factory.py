"""The tiny model factory keeps the token ids it documents, and rejects bad requests clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import TinyModelLoader
from .gguf_factory import MERGE_WORDS, build_tiny_model, tiny_vocab


def test_documented_id_layout_holds_in_llama_cpp(tiny_llama: TinyModelLoader) -> None:
    vocab = tiny_vocab("qwen2.5-coder", ("ghost",))
    model = tiny_llama("qwen2.5-coder", ("ghost",))
    assert model.n_vocab() == len(vocab.tokens)
    assert model.tokenize(b"x", add_bos=False) == [ord("x")]
    assert model.tokenize(b"def", add_bos=False) == [vocab.ids["def"]]
    assert vocab.ids["de"] == 256  # merges start right after the byte tokens, in MERGE_WORDS order
    assert MERGE_WORDS[0] == "def"
    merge_count = len(vocab.merges)
    assert vocab.ids["<|endoftext|>"] == 256 + merge_count  # specials follow the merges
    assert vocab.ids["ghost"] == len(vocab.tokens) - 1  # extras come last
    assert model.detokenize([vocab.ids["ghost"]]) == b"ghost"
    assert model.token_eos() == vocab.ids["<|endoftext|>"]


def test_spm_layout_puts_the_space_piece_first(tiny_llama: TinyModelLoader) -> None:
    vocab = tiny_vocab("codestral", tokenizer="spm")
    model = tiny_llama("codestral", tokenizer="spm")
    assert vocab.ids[" "] == 256 and vocab.tokens[256] == "▁"
    assert model.detokenize([vocab.ids[" print"]]) == b" print"
    assert model.token_bos() == vocab.ids["<s>"]


def test_plain_spm_family_gets_an_unknown_token() -> None:
    vocab = tiny_vocab(None, tokenizer="spm")
    assert vocab.tokens[vocab.ids["<unk>"]] == "<unk>"


@pytest.mark.parametrize(
    ("family", "options"),
    [
        ("no-such-family", {}),
        (None, {"tokenizer": "wordpiece"}),
        (None, {"extra_tokens": ("def",)}),
        (None, {"user_defined": ("<s>",)}),
    ],
)
def test_bad_requests_raise_value_error(
    tmp_path: Path, family: str | None, options: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        build_tiny_model(tmp_path / "bad.gguf", family, **options)  # type: ignore[arg-type]
    assert not (tmp_path / "bad.gguf").exists()


def test_different_seeds_give_different_weights(tmp_path: Path) -> None:
    first = build_tiny_model(tmp_path / "a.gguf", None, seed=1).read_bytes()
    second = build_tiny_model(tmp_path / "b.gguf", None, seed=2).read_bytes()
    again = build_tiny_model(tmp_path / "c.gguf", None, seed=1).read_bytes()
    assert first != second and first == again
