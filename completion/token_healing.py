"""Token healing: complete a word the cursor sits in without showing the model an unnatural token split.

With the cursor in ``pri|`` the prompt ends in the middle of what the tokenizer would normally emit as one
token (``" print"``), and the model, conditioned on an odd split, completes poorly. :func:`heal_split` backs
the prompt off to the start of the partial word; the processor from :meth:`VocabPieces.healing_processor`
then lets the first generated tokens be only ones consistent with the removed bytes, so the model re-types
them with its natural tokenization (``" print"``) and continues. The caller removes the re-typed text
from the suggestion with :func:`strip_healed`.
"""

from __future__ import annotations

import bisect
import ctypes
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

LogitsProcessor = Callable[[npt.NDArray[np.intc], npt.NDArray[np.single]], npt.NDArray[np.single]]
"""llama-cpp-python's logits processor signature: (all token ids so far, scores of the next token)."""


def _prefix_upper_bound(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix`` (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class VocabPieces:
    """A model's token pieces, sorted once so each healing step is a few binary searches.

    Built once per model (0.35 s for Gemma 3's 262k vocabulary; one step then costs ~10 us of searching plus
    the masking, 50-90 us for a partial word); special tokens and tokens with empty pieces never take part.
    """

    def __init__(self, pieces: Sequence[bytes], special: Sequence[bool]) -> None:
        if len(pieces) != len(special):
            raise ValueError(f"{len(pieces)} pieces but {len(special)} special flags")
        self.pieces: tuple[bytes, ...] = tuple(pieces)
        usable = [token for token, piece in enumerate(self.pieces) if piece and not special[token]]
        usable.sort(key=self.pieces.__getitem__)
        self._sorted_pieces: list[bytes] = [self.pieces[token] for token in usable]
        self._sorted_ids: npt.NDArray[np.intc] = np.asarray(usable, dtype=np.intc)

    @classmethod
    def from_pieces(cls, pieces: Sequence[bytes], special: Sequence[bool]) -> VocabPieces:
        """``pieces[id]``: the bytes token ``id`` detokenizes to; ``special[id]``: control/special token."""
        return cls(pieces, special)

    def __len__(self) -> int:
        return len(self.pieces)

    def allowed_ids(self, remaining: bytes) -> npt.NDArray[np.intc]:
        """Tokens whose piece is a non-empty prefix of ``remaining`` or starts with all of it."""
        if not remaining:
            return self._sorted_ids
        low, high = self._starting_with(remaining)
        return np.concatenate([self.prefix_ids(remaining[:-1]), self._sorted_ids[low:high]])

    def prefix_ids(self, remaining: bytes) -> npt.NDArray[np.intc]:
        """Tokens whose piece is a non-empty prefix of ``remaining`` (``remaining`` itself included)."""
        pieces = self._sorted_pieces
        ranges: list[tuple[int, int]] = []
        for end in range(1, len(remaining) + 1):
            head = remaining[:end]
            low = bisect.bisect_left(pieces, head)
            high = bisect.bisect_right(pieces, head, lo=low)
            if high > low:
                ranges.append((low, high))
        if not ranges:
            return np.empty(0, dtype=np.intc)
        return np.concatenate([self._sorted_ids[low:high] for low, high in ranges])

    def extending(self, start: bytes) -> tuple[npt.NDArray[np.intc], npt.NDArray[np.uint8]]:
        """Tokens whose piece starts with ``start`` and goes on, with the byte right after ``start``."""
        low, high = self._starting_with(start)
        pieces = self._sorted_pieces
        while low < high and pieces[low] == start:
            low += 1
        following = np.fromiter(
            (pieces[index][len(start)] for index in range(low, high)), dtype=np.uint8, count=high - low
        )
        return self._sorted_ids[low:high], following

    def _starting_with(self, start: bytes) -> tuple[int, int]:
        """The range of sorted pieces that start with ``start``."""
        pieces = self._sorted_pieces
        low = bisect.bisect_left(pieces, start)
        upper = _prefix_upper_bound(start)
        return low, len(pieces) if upper is None else bisect.bisect_left(pieces, upper, lo=low)

    @functools.cached_property
    def first_bytes(self) -> npt.NDArray[np.int16]:
        """Each token's first byte, -1 for tokens that spell nothing (special ones included)."""
        return np.fromiter(
            (piece[0] if piece else -1 for piece in self.pieces), dtype=np.int16, count=len(self.pieces)
        )

    def produced_bytes(self, tokens: Sequence[int] | npt.NDArray[np.intc]) -> bytes:
        """The bytes a run of generated tokens spells (special tokens spell nothing)."""
        size = len(self.pieces)
        return b"".join(self.pieces[int(token)] for token in tokens if 0 <= int(token) < size)

    def healing_processor(self, removed: bytes) -> HealingProcessor:
        """A fresh, single-use logits processor that makes generation start by re-typing ``removed``."""
        return HealingProcessor(self, removed)


class HealingProcessor:
    """Masks every token inconsistent with the removed bytes until they are fully produced.

    Stateful: it remembers how long the prompt was at its first call, so use one per generation. It fails
    open (returns the scores unchanged) once the removed bytes are produced, when generation diverged, or
    when no token of the vocabulary fits.
    """

    def __init__(self, vocab: VocabPieces, removed: bytes) -> None:
        self.vocab = vocab
        self.removed = removed
        self._prompt_length: int | None = None

    def remaining(self, input_ids: Sequence[int] | npt.NDArray[np.intc]) -> bytes:
        """Removed bytes not yet produced (empty when done or when generation went another way)."""
        if self._prompt_length is None:
            self._prompt_length = len(input_ids)
        produced = self.vocab.produced_bytes(input_ids[self._prompt_length :])
        if len(produced) >= len(self.removed) or not self.removed.startswith(produced):
            return b""
        return self.removed[len(produced) :]

    def __call__(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        remaining = self.remaining(input_ids)
        if not remaining:
            return scores
        allowed = self.vocab.allowed_ids(remaining)
        allowed = allowed[allowed < scores.shape[-1]]
        if allowed.size == 0:
            return scores
        masked = np.full_like(scores, -np.inf)
        masked[allowed] = scores[allowed]
        return masked


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _subword_start(word: str, max_chars: int) -> int | None:
    """Index in ``word`` of the earliest subword boundary leaving at most ``max_chars`` characters."""
    for index in range(len(word) - max_chars, len(word)):
        if index <= 0:
            continue
        before, char = word[index - 1], word[index]
        if char == "_":
            continue
        if before == "_" or (before.islower() and char.isupper()) or (before.isdigit() != char.isdigit()):
            return index
    return None


def heal_split(prompt_text: str, max_chars: int = 16) -> tuple[str, str]:
    """``(prompt without the partial word, removed text)``; ``removed`` is ``""`` when nothing needs healing.

    The partial word is the trailing run of identifier characters, together with one space right before it
    (tokenizers glue a leading space to the word: ``" print"``). A prompt ending in a single space after
    text removes just that space. Words longer than ``max_chars`` are cut at their last subword boundary
    (``_``, camelCase, letter/digit) within reach, or not healed.
    """
    if max_chars <= 0 or not prompt_text:
        return prompt_text, ""
    start = len(prompt_text)
    while start > 0 and _is_word_char(prompt_text[start - 1]):
        start -= 1
    word = prompt_text[start:]
    if not word:
        if prompt_text.endswith(" ") and len(prompt_text) > 1 and not prompt_text[-2].isspace():
            return prompt_text[:-1], " "
        return prompt_text, ""
    if len(word) > max_chars:
        boundary = _subword_start(word, max_chars)
        if boundary is None:
            return prompt_text, ""
        return prompt_text[: start + boundary], word[boundary:]
    if start > 0 and prompt_text[start - 1] == " " and len(word) < max_chars:
        start -= 1
    return prompt_text[:start], prompt_text[start:]


def strip_healed(generated: str, removed: str) -> str | None:
    """The suggestion after the re-typed ``removed`` text; ``None`` when generation did not re-type it."""
    if not generated.startswith(removed):
        return None
    return generated[len(removed) :]


def llama_piece(vocab: Any, token: int, special: bool = False) -> bytes:
    """The bytes of one token via llama.cpp, however long (llama-cpp-python's own helper truncates pieces
    over 32 bytes to nothing: Qwen/StarCoder vocabularies have such tokens, e.g. long ``=====`` rulers)."""
    import llama_cpp

    size = 64
    while True:
        buffer = ctypes.create_string_buffer(size)
        written = int(llama_cpp.llama_token_to_piece(vocab, token, buffer, size, 0, special))
        if written >= 0:
            return buffer.raw[:written]
        if -written <= size:
            return b""
        size = -written


def llama_vocabulary(model: Any) -> tuple[list[bytes], list[bool]]:
    """Every token's piece and whether it is special (control, unknown, unused or end-of-generation), for
    :meth:`VocabPieces.from_pieces`; ``model`` is a loaded ``llama_cpp.Llama`` (0.7 s for 262k tokens)."""
    import llama_cpp

    vocab = model._model.vocab
    special_attrs = (
        llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
        | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
        | llama_cpp.LLAMA_TOKEN_ATTR_UNUSED
    )
    pieces: list[bytes] = []
    special: list[bool] = []
    for token in range(int(model.n_vocab())):
        pieces.append(llama_piece(vocab, token))
        attrs = int(llama_cpp.llama_vocab_get_attr(vocab, token))
        special.append(bool(attrs & special_attrs) or bool(llama_cpp.llama_vocab_is_eog(vocab, token)))
    return pieces, special
