"""Constrained decoding of the next name: after ``billing.`` the model may only write a member ``billing`` has.

A small model invents plausible names (``get_book_by_name``) where a language server knows the real ones. When
the engine knows what can follow the cursor (the members of a workspace module, of the enclosing class), it
passes them as *choices*: byte strings generation must start with, each followed by a byte that cannot
continue a name (or by the end of the suggestion). :class:`NameChoiceProcessor` masks, token by token, every
token that would leave all choices, so the model's own scores still rank the allowed names (greedy decoding
picks the most likely one) and, once a whole name is written, generation continues freely. Each choice
starts with the token-healing bytes, so one processor does both jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from completion.token_healing import VocabPieces


def is_name_byte(byte: int) -> bool:
    """A byte that can continue an identifier: ASCII letters, digits, ``_``, and any non-ASCII byte (a
    letter in UTF-8, as far as a byte-level check can tell)."""
    return (
        byte >= 0x80 or byte == 0x5F or 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A
    )


@dataclass(frozen=True)
class KnownMembers:
    """The names that can follow ``receiver.`` at a cursor, all of them, and the word typed after the dot."""

    receiver: str
    partial: str
    names: tuple[str, ...]  # in the order their source gives (a class's own members first)
    kind: str = "name"  # "self" (the enclosing class's), "name" (a module bound to the receiver), "module"


_NAME_BYTES = np.array([is_name_byte(byte) for byte in range(256)] + [False], dtype=np.bool_)
"""``_NAME_BYTES[b]``: byte ``b`` continues a name; index -1 (a token that spells nothing) does not."""


def name_choices(names: Iterable[str], partial: str, healed: str) -> tuple[bytes, ...]:
    """What generation may start with: ``healed`` (the re-typed end of the prompt) and then the rest of each
    name that starts with the ``partial`` word the user typed. Empty when no name fits what was typed: the
    user is writing a name nobody knows yet, and generation is left alone."""
    return tuple(
        sorted(
            {(healed + name[len(partial) :]).encode("utf-8") for name in names if name.startswith(partial)}
        )
    )


class NameChoiceProcessor:
    """A single-use logits processor: the first bytes generated must spell one of ``choices`` and then a
    byte that cannot continue a name (or nothing more).

    It fails open (scores unchanged) once a choice is complete and followed by such a byte, when generation
    left every choice (it cannot under this mask, but a caller may feed other tokens), and when no token of
    the vocabulary fits.
    """

    def __init__(self, vocab: VocabPieces, choices: Sequence[bytes]) -> None:
        self.vocab = vocab
        self.choices = tuple(choices)
        self._prompt_length: int | None = None
        self._done = not self.choices

    def allowed(self, produced: bytes) -> npt.NDArray[np.bool_] | None:
        """The mask of tokens that may come after ``produced`` (None: no constraint any more)."""
        live: list[bytes] = []
        complete = False
        for choice in self.choices:
            if produced.startswith(choice) and len(produced) > len(choice):
                if not is_name_byte(produced[len(choice)]):
                    return None  # a whole name and a byte after it: the constraint is met
            elif choice.startswith(produced):
                live.append(choice[len(produced) :])
                complete = complete or len(choice) == len(produced)
        if not live:
            return None
        vocab = self.vocab
        mask = np.zeros(len(vocab), dtype=np.bool_)
        for remaining in live:
            if remaining:
                mask[vocab.prefix_ids(remaining)] = True
                ids, following = vocab.extending(remaining)
                mask[ids[~_NAME_BYTES[following]]] = True  # the rest of the name and then, say, "("
        if complete:  # the name may end here: a token starting with a byte no name has, or the end itself
            mask |= ~_NAME_BYTES[vocab.first_bytes]
        return mask if mask.any() else None

    def __call__(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        if self._prompt_length is None:
            self._prompt_length = len(input_ids)
        if self._done:
            return scores
        mask = self.allowed(self.vocab.produced_bytes(input_ids[self._prompt_length :]))
        if mask is None:
            self._done = True
            return scores
        size = min(len(mask), scores.shape[-1])
        masked = np.full_like(scores, -np.inf)
        keep = np.flatnonzero(mask[:size])
        masked[keep] = scores[keep]
        return masked
