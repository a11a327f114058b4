"""Saved model states of recently used prompts, so switching back to a document evaluates only what changed.

Keyed by content, not by document: a prompt's leading tokens are its document's identity, so nothing about
documents has to cross into the worker, and a prompt evaluated only in part (a warm-up cut short by a request)
can be saved and resumed like any other. The states are opaque bytes here (llama.cpp's sequence state in
``completion.model``); this module decides which to keep, within a byte bound, least recently used first out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_LOST_TOKENS = 16
"""A state is worth its memory only where it holds at least this many prompt tokens that the state replacing
it does not: typing on a line (1-2 tokens change at the cursor, the FIM suffix after it stays) never saves,
and a document's newer state replaces its older one. Low enough that a prompt cut to fit the cold-prompt
time (30-40 tokens, ``completion.engine``) is kept when the whole prompt replaces it in idle time: the next
request that must cut finds it."""

Tokens = npt.NDArray[np.intc]


def as_tokens(tokens: Sequence[int] | Tokens) -> Tokens:
    return np.asarray(tokens, dtype=np.intc)


def shared_prefix(a: Tokens, b: Tokens) -> int:
    """How many leading tokens ``a`` and ``b`` have in common."""
    limit = min(len(a), len(b))
    mismatch = np.flatnonzero(a[:limit] != b[:limit])
    return int(mismatch[0]) if mismatch.size else limit


def lost_tokens(old: Tokens, new: Tokens) -> int:
    """The tokens of ``old`` that ``new`` does not hold at the same distance from either end.

    An edit in place (typing at the cursor of a FIM prompt: the prefix before it and the suffix after it stay)
    loses only the edited tokens, although the cache must evaluate everything after the cursor again; another
    document loses nearly all of ``old``. A token kept only at a shifted position still counts as kept: what
    matters is whether the newer prompt is the same text. That holds only for prompts of about the same
    length: a short prompt whose end the longer one shares (the nearest lines of a cut prompt, at the end of
    the whole one) is another prompt, lost after the shared head.
    """
    head = shared_prefix(old, new)
    room = min(len(old), len(new)) - head
    if room <= 0 or abs(len(old) - len(new)) >= MIN_LOST_TOKENS:  # one holds the other whole; or not in place
        return len(old) - head
    tail = shared_prefix(old[::-1][:room], new[::-1][:room])
    return len(old) - head - tail


@dataclass(eq=False)  # compared by identity: a token array has no single truth value
class SavedState:
    """The model state after evaluating ``tokens`` (``data``: opaque bytes the model restores)."""

    tokens: Tokens
    data: bytearray

    @property
    def size(self) -> int:
        return len(self.data)


class StateCache:
    """Saved states, at most ``limit_bytes`` together; the least recently used goes first."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._entries: list[SavedState] = []  # least recently used first

    @property
    def entries(self) -> tuple[SavedState, ...]:
        """Least recently used first."""
        return tuple(self._entries)

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self._entries)

    def best(self, tokens: Tokens) -> tuple[SavedState | None, int]:
        """The saved state sharing the longest prefix with ``tokens`` (the most recent on a tie), and that
        length; (None, 0) when nothing shares a token."""
        found: SavedState | None = None
        longest = 0
        for entry in self._entries:
            shared = shared_prefix(entry.tokens, tokens)
            if shared >= longest and shared > 0:
                found, longest = entry, shared
        return found, longest

    def holding(self, tokens: Tokens) -> SavedState | None:
        """A saved state that holds all of ``tokens`` (the same prompt, or one that extends it)."""
        for entry in reversed(self._entries):
            if len(entry.tokens) >= len(tokens) and shared_prefix(entry.tokens, tokens) == len(tokens):
                return entry
        return None

    def touch(self, entry: SavedState) -> None:
        """Mark ``entry`` as just used."""
        self._entries.remove(entry)
        self._entries.append(entry)

    def save(self, tokens: Sequence[int] | Tokens, data: bytearray) -> SavedState | None:
        """Keep ``data`` as the state after ``tokens``; None when it is larger than the whole bound.

        States it supersedes go (those it holds all but fewer than ``MIN_LOST_TOKENS`` tokens of: its own
        prefixes, and the same document before a small edit), then the least recently used until it fits.
        """
        entry = SavedState(np.array(tokens, dtype=np.intc), data)  # a copy: a view of the live cache changes
        if entry.size > self.limit_bytes:
            return None
        self._entries = [
            old for old in self._entries if lost_tokens(old.tokens, entry.tokens) >= MIN_LOST_TOKENS
        ]
        self._entries.append(entry)
        while self.size > self.limit_bytes:
            self._entries.pop(0)
        return entry

    def discard(self, entry: SavedState) -> None:
        """Forget ``entry`` (a state the model could not restore)."""
        if entry in self._entries:
            self._entries.remove(entry)

    def clear(self) -> None:
        self._entries.clear()
