"""The text of each file as the index reads it: the editor's open document wins over the disk.

It has its own lock, held only for dictionary updates, never while taking the store's: the server mirrors every
edit from the event loop, which must never wait for an index update or a retrieval.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from completion.workspace.files import read_source
from syntax.text import line_at, lsp_lines

__all__ = ["RecentEdit", "Sources"]

RecentEdit = tuple[int, int, float]  # first and last edited line, when (monotonic seconds)

_CACHED_FILES = 64
_RECENT_FILES = 6


class Sources:
    """Open documents, a small cache of read and split files, and the files edited last."""

    def __init__(self, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self._lock = threading.Lock()
        self._open: dict[str, str] = {}
        self._read: OrderedDict[str, tuple[str, list[str]]] = OrderedDict()  # path -> (text, lines)
        self._recent: OrderedDict[str, RecentEdit] = OrderedDict()

    def open_text(self, path: str) -> str | None:
        """The editor's text of ``path``, None when it is not open."""
        with self._lock:
            return self._open.get(path)

    def is_open(self, path: str) -> bool:
        with self._lock:
            return path in self._open

    @property
    def open_count(self) -> int:
        with self._lock:
            return len(self._open)

    def set_open(self, path: str, text: str, edited_lines: tuple[int, int] | None) -> bool:
        """Record the editor's text of ``path`` and the lines edited; True when the text changed."""
        with self._lock:
            previous = self._open.get(path)
            self._open[path] = text
            self._read.pop(path, None)
        if edited_lines is None and previous is not None and previous != text:
            edited_lines = _edited_lines(previous, text)  # a full replacement: found by comparing
        if edited_lines is not None:
            self.note_edited_lines(path, *edited_lines)
        return previous != text

    def close(self, path: str) -> bool:
        """Forget the editor's text of ``path``; False when it was not open."""
        with self._lock:
            if self._open.pop(path, None) is None:
                return False
            self._read.pop(path, None)
            return True

    def text(self, path: str) -> str:
        """The text of ``path`` (open document, else the disk; "" when unreadable)."""
        return self._text_and_lines(path)[0]

    def lines(self, path: str) -> list[str]:
        """The lines of ``path`` as ``syntax.text.lsp_lines`` splits them."""
        return self._text_and_lines(path)[1]

    def forget(self, path: str) -> None:
        """Drop the cached copy of ``path`` (it was re-indexed or removed)."""
        with self._lock:
            self._read.pop(path, None)

    def forget_edits(self, path: str) -> None:
        with self._lock:
            self._recent.pop(path, None)

    def note_edited_lines(self, path: str, first: int, last: int) -> None:
        with self._lock:
            self._recent[path] = (first, last, time.monotonic())
            self._recent.move_to_end(path)
            while len(self._recent) > _RECENT_FILES:
                self._recent.popitem(last=False)

    def recent_edits(self, except_path: str) -> list[tuple[str, RecentEdit]]:
        """The files edited last with their edited lines, newest first, ``except_path`` left out."""
        with self._lock:
            return [(path, edit) for path, edit in reversed(self._recent.items()) if path != except_path]

    def _text_and_lines(self, path: str) -> tuple[str, list[str]]:
        with self._lock:
            cached = self._read.get(path)
            if cached is not None:
                self._read.move_to_end(path)
                return cached
            opened = text = self._open.get(path)
        if text is None:
            text = read_source(path, self.max_file_bytes) or ""
        read = (text, lsp_lines(text))
        with self._lock:
            if self._open.get(path) is not opened:
                return read  # edited meanwhile: never cache the older text
            self._read[path] = read
            while len(self._read) > _CACHED_FILES:
                self._read.popitem(last=False)
        return read


def _edited_lines(before: str, after: str) -> tuple[int, int]:
    """The lines of ``after`` that differ from ``before`` (common prefix and suffix of the two texts)."""
    start = _common_prefix(before, after)
    end = _common_prefix(before[start:][::-1], after[start:][::-1])
    return line_at(after, start), line_at(after, len(after) - end)


def _common_prefix(first: str, second: str) -> int:
    """Length of the common prefix, by bisection over slice comparisons (C speed on big documents)."""
    low, high = 0, min(len(first), len(second))
    while low < high:
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low
