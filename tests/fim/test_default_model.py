"""The embedded default model (Gemma 3 270M): no FIM tokens, so prefix-only; token healing completes the
word under the cursor on real generations. Slow (loads 253 MB), hence the ``default_model`` marker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from completion import fim
from completion.token_healing import VocabPieces, heal_split, llama_vocabulary, strip_healed

pytestmark = pytest.mark.default_model

# prompt ending mid-word -> the word the healed completion must finish
CASES = [
    ("import os\nimport sys\n\ndef main():\n    args = sys.ar", "argv"),
    ("for i in ran", "range"),
    ("import numpy as np\nx = np.zer", "zeros"),
    ("def add(a, b):\n    ret", "return"),
    ('print("hello wor', "world"),
]


@pytest.fixture(scope="module")
def gemma() -> Iterator[Any]:
    llama_cpp = pytest.importorskip("llama_cpp")
    from completion.default_model import default_model_path

    model = llama_cpp.Llama(model_path=str(default_model_path()), n_ctx=512, n_threads=2, verbose=False)
    yield model
    model.close()


def test_gemma3_has_no_fim_template(gemma: Any) -> None:
    assert fim.detect_template(fim.llama_token_lookup(gemma), gemma.metadata) is None
    assert gemma.metadata["general.architecture"] == "gemma3"


def greedy(model: Any, text: str, processor: Any, count: int = 6) -> str:
    import llama_cpp

    tokens: list[int] = []
    prompt = model.tokenize(text.encode(), add_bos=True)
    for token in model.generate(prompt, temp=0.0, logits_processor=[processor]):
        if llama_cpp.llama_vocab_is_eog(model._model.vocab, token):
            break
        tokens.append(token)
        if len(tokens) == count:
            break
    return str(model.detokenize(tokens).decode("utf-8", errors="replace"))


def test_token_healing_finishes_the_word_under_the_cursor(gemma: Any) -> None:
    vocab = VocabPieces.from_pieces(*llama_vocabulary(gemma))
    assert len(vocab) == 262_144
    finished = 0
    for text, word in CASES:
        kept, removed = heal_split(text)
        assert removed and text.endswith(removed)
        generated = greedy(gemma, kept, vocab.healing_processor(removed.encode()))
        suggestion = strip_healed(generated, removed)
        assert suggestion is not None, (text, generated)  # the constraint always re-types the removed text
        partial = text[len(text.rstrip("abcdefghijklmnopqrstuvwxyz_")) :]
        finished += (partial + suggestion).startswith(word)
    assert finished >= 4
